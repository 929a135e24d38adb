//! Turning a session token string into verified [`SessionClaims`], or a precise [`AuthError`].
//!
//! The order follows Clerk's backend SDK (`clerk-auth-spec.md` §2): decode, header checks, key,
//! signature, then claims, so that no claim check runs on an unverified token. Where the SDK is
//! lax we are strict: RS256 only, no header parameter we do not understand, an exact `iss`, no
//! `aud` unless one is configured, claims of their registered types, a bounded lifetime, `sid`
//! required. A pending session (`sts: "pending"`) verifies, with [`SessionStatus::Pending`]: the
//! request's decision signs it out unless the route accepts pending sessions.

mod cache;
mod describe;
mod has;
mod header;
mod memo;
pub mod org;
mod reason;
mod rules;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::keys::{KeyError, KeyStore};
pub use cache::{Expiring, VerdictCache};
pub use has::{evaluate, has, Check, Missing};
pub use header::{
    decode_loosely, inspect, inspect_header, is_at_jwt, is_other_class, unverified_claims,
    unverified_header, Expect, TokenHeader, MAX_TOKEN_BYTES, OPAQUE_PREFIXES,
};
pub use memo::Memo;
pub use org::{ActiveOrg, Authorization, Scoped};
use reason::fail;
pub use reason::{AuthError, Reason, RefreshError};
pub use rules::{explain_claims, is_clerk_id, ClaimCheck, Rules};

/// The verified contents of a Clerk session token that this app uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionClaims {
    /// `sub`: the Clerk user id (`user_…`).
    pub user_id: String,
    /// `sid`: the Clerk session id (`sess_…`).
    pub session_id: String,
    pub issuer: String,
    pub authorized_party: Option<String>,
    pub issued_at: Option<i64>,
    pub expires_at: i64,
    /// `sts`: whether the session is active or waits for the user to finish a session task.
    pub status: SessionStatus,
    /// The `email` custom claim, when the session token was customised to carry it.
    pub email: Option<String>,
    /// `metadata.role` (public metadata through session token customisation) or a top-level `role`.
    pub role: Option<String>,
    /// Every claim, for features that need more.
    pub claims: Map<String, Value>,
    /// The organization, features, plan and factor ages the token carries (v1 or v2 claims).
    pub authorization: Authorization,
    /// What the app derived from these claims last (see [`Memo`]); not a claim.
    pub memo: Memo,
}

/// A session's `sts`: Clerk's session status as the token states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionStatus {
    /// No `sts`, `"active"`, or any status other than `"pending"` (Clerk's SDK looks for
    /// `"pending"` only).
    #[default]
    Active,
    /// `"pending"`: the user must still finish a session task (choose an organization, set up
    /// MFA, reset their password) before the session is active.
    Pending,
}

impl SessionStatus {
    /// Clerk's word for it (`sessionStatus` of Clerk's auth object).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Pending => "pending",
        }
    }
}

/// Verifies session tokens against a key store and [`Rules`].
pub struct Verifier {
    keys: Arc<KeyStore>,
    rules: Rules,
    validation: Validation,
    verdicts: cache::VerdictCache<SessionClaims>,
}

impl Verifier {
    pub fn new(keys: Arc<KeyStore>, rules: Rules) -> Self {
        // jsonwebtoken checks the signature only; every claim is checked below with Clerk's
        // exact inequalities and our skew (its own default leeway is 60 s).
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        Verifier {
            keys,
            rules,
            validation,
            verdicts: cache::VerdictCache::default(),
        }
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Verifies `token` now. A token seen before is answered from memory (see [`cache`]) while
    /// its verdict holds: until its `exp`, and while its key is still published.
    pub async fn verify(&self, token: &str) -> Result<Arc<SessionClaims>, AuthError> {
        let now = now();
        let digest = cache::digest(token);
        if let Some(kept) = self.verdicts.recall(&digest, now, &self.keys) {
            return kept;
        }
        let kid = inspect_header(token).ok().and_then(|h| h.kid);
        let result = self.verify_at(token, now).await.map(Arc::new);
        self.verdicts
            .remember(digest, &result, kid, token.len(), now);
        result
    }

    /// The kept verdict on `token`, exactly as [`Self::verify`] would answer it from memory;
    /// `None` when it would verify. (A page reads a token's `iat` before verifying it, for
    /// Clerk's cookie rules: one look-up serves both.)
    pub fn recall(&self, token: &str) -> Option<Result<Arc<SessionClaims>, AuthError>> {
        self.verdicts
            .recall(&cache::digest(token), now(), &self.keys)
    }

    /// The token's `iat`, read without verifying (for Clerk's cookie rules, which compare it with
    /// `__client_uat` before verification, when no verdict is kept).
    pub fn unverified_issued_at(token: &str) -> Option<i64> {
        unverified_claims(token).and_then(|c| c.get("iat").and_then(Value::as_i64))
    }

    /// Verifies `token` as of the unix time `now`.
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<SessionClaims, AuthError> {
        let claims = self.verify_signature(token).await?;
        check_claims(claims, &self.rules, now)
    }

    /// The header checks, the key and the signature, in that order: the token's claims once its
    /// signature is verified, before any claim is checked (see [`explain_claims`]).
    pub async fn verify_signature(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        self.verify_signature_as(token, Expect::Session).await
    }

    /// Verifies a JWT M2M or OAuth token (`expect`) with the session rules they share: header,
    /// key, signature, then issuer, times and lifetime; and, for OAuth tokens, the configured
    /// audience. `map` makes the claims a `T` (or refuses them). The answer is kept in `verdicts`
    /// exactly as a session token's is: an acceptance until `exp` and while its key is published.
    pub async fn verify_machine_jwt<T: Expiring + Send + Sync + 'static>(
        &self,
        verdicts: &VerdictCache<T>,
        token: &str,
        expect: Expect,
        now: i64,
        map: impl FnOnce(Map<String, Value>) -> Result<T, AuthError>,
    ) -> Result<Arc<T>, AuthError> {
        let digest = cache::digest(token);
        if let Some(kept) = verdicts.recall(&digest, now, &self.keys) {
            return kept;
        }
        let kid = inspect_header(token).ok().and_then(|h| h.kid);
        let result = self
            .machine_claims(token, expect, now)
            .await
            .and_then(map)
            .map(Arc::new);
        verdicts.remember(digest, &result, kid, token.len(), now);
        result
    }

    async fn machine_claims(
        &self,
        token: &str,
        expect: Expect,
        now: i64,
    ) -> Result<Map<String, Value>, AuthError> {
        let claims = self.verify_signature_as(token, expect).await?;
        if let Some(failure) = rules::first_common_failure(&claims, &self.rules, now) {
            return Err(failure);
        }
        if let (Expect::OAuth, Some(audience)) = (expect, &self.rules.audience) {
            let named = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            if !named {
                return fail(
                    Reason::TokenVerificationFailed,
                    "the OAuth access token's aud does not include this API's audience",
                );
            }
        }
        Ok(claims)
    }

    async fn verify_signature_as(
        &self,
        token: &str,
        expect: Expect,
    ) -> Result<Map<String, Value>, AuthError> {
        let header = inspect(token, expect)?;
        let key = self
            .keys
            .key_for(header.kid.as_deref())
            .await
            .map_err(|e| match e {
                KeyError::Unavailable {
                    message,
                    retry_after,
                } => AuthError {
                    reason: Reason::JwkRemoteFailedToLoad,
                    message,
                    retry_after: Some(retry_after),
                },
                KeyError::UnknownKid(message) => AuthError::new(Reason::JwkKidMismatch, message),
            })?;
        let data = jsonwebtoken::decode::<Value>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => AuthError::new(
                    Reason::TokenInvalidSignature,
                    "the token's signature does not match the instance's signing key",
                ),
                ErrorKind::InvalidAlgorithm => AuthError::new(
                    Reason::TokenInvalidAlgorithm,
                    "only RS256 tokens are accepted",
                ),
                ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_)
                | ErrorKind::InvalidToken => AuthError::new(
                    Reason::TokenInvalid,
                    "the token's payload or signature is not base64url JSON",
                ),
                _ => AuthError::new(
                    Reason::TokenVerificationFailed,
                    "the token could not be verified with the instance's key",
                ),
            }
        })?;
        match data.claims {
            Value::Object(claims) => Ok(claims),
            _ => fail(
                Reason::TokenInvalid,
                "the token's payload is not a JSON object",
            ),
        }
    }
}

/// Unix seconds now.
#[must_use]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Builds the claims of a token that passed every rule.
fn check_claims(
    claims: Map<String, Value>,
    rules: &Rules,
    now: i64,
) -> Result<SessionClaims, AuthError> {
    if let Some(failure) = rules::first_failure(&claims, rules, now) {
        return Err(failure);
    }
    // Every rule passed, so `sub`, `iss`, `sid` are strings and `exp`, `iat` valid times.
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    #[allow(clippy::cast_possible_truncation)] // rules::time keeps times within year 9999
    let seconds = |name: &str| {
        rules::time(&claims, name)
            .ok()
            .flatten()
            .map(|t| t.floor() as i64)
    };
    let role = claims
        .get("metadata")
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        .or_else(|| text("role"))
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    Ok(SessionClaims {
        user_id: text("sub").unwrap_or_default().to_owned(),
        session_id: text("sid").unwrap_or_default().to_owned(),
        issuer: text("iss").unwrap_or_default().to_owned(),
        authorized_party: text("azp").map(str::to_owned),
        issued_at: seconds("iat"),
        expires_at: seconds("exp").unwrap_or_default(),
        status: if text("sts") == Some("pending") {
            SessionStatus::Pending
        } else {
            SessionStatus::Active
        },
        email: text("email").map(str::to_owned),
        role,
        authorization: Authorization::decode(&claims),
        claims,
        memo: Memo::default(),
    })
}
