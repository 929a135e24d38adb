//! Turning a session token string into verified [`SessionClaims`], or a precise [`AuthError`].
//!
//! The order follows Clerk's backend SDK (`clerk-auth-spec.md` §2): decode, header checks, key,
//! signature, then claims, so that no claim check runs on an unverified token. Where the SDK is
//! lax we are strict: RS256 only, an exact `iss`, `sid` required, `sts: pending` refused.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::keys::{KeyError, KeyStore};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a request is not signed in. The codes are Clerk's reason names where Clerk has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    SessionTokenMissing,
    TokenInvalid,
    TokenInvalidAlgorithm,
    TokenInvalidSignature,
    TokenExpired,
    TokenNotActiveYet,
    TokenIatInTheFuture,
    TokenInvalidAuthorizedParties,
    /// Our addition: Clerk's SDK does not check `iss`.
    TokenInvalidIssuer,
    TokenVerificationFailed,
    TokenTypeMismatch,
    /// Our addition: `sts: pending` (Clerk's SDK treats it as signed out).
    SessionPending,
    JwkKidMismatch,
    JwkRemoteFailedToLoad,
    /// Our addition: the token is valid but carries no `email` and none could be found.
    EmailClaimMissing,
    /// Our addition: the Backend API does not know the token's user.
    UserNotFound,
    /// Our addition: Clerk deleted the user (a `user.deleted` webhook or `clerk-rocket sync`).
    UserDeleted,
    /// Our addition: Clerk banned the user. Answered with 403: the token is fine, the user is not.
    UserBanned,
    /// Our addition: Clerk ended, removed or revoked the token's session.
    SessionRevoked,
    /// Our addition: signed in, but not an administrator (403).
    NotAdmin,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::SessionTokenMissing => "session-token-missing",
            Reason::TokenInvalid => "token-invalid",
            Reason::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Reason::TokenInvalidSignature => "token-invalid-signature",
            Reason::TokenExpired => "token-expired",
            Reason::TokenNotActiveYet => "token-not-active-yet",
            Reason::TokenIatInTheFuture => "token-iat-in-the-future",
            Reason::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Reason::TokenInvalidIssuer => "token-invalid-issuer",
            Reason::TokenVerificationFailed => "token-verification-failed",
            Reason::TokenTypeMismatch => "token-type-mismatch",
            Reason::SessionPending => "session-pending",
            Reason::JwkKidMismatch => "jwk-kid-mismatch",
            Reason::JwkRemoteFailedToLoad => "jwk-remote-failed-to-load",
            Reason::EmailClaimMissing => "email-claim-missing",
            Reason::UserNotFound => "user-not-found",
            Reason::UserDeleted => "user-deleted",
            Reason::UserBanned => "user-banned",
            Reason::SessionRevoked => "session-revoked",
            Reason::NotAdmin => "forbidden",
        }
    }

    /// Every reason, for documentation and tests.
    pub const ALL: [Reason; 20] = [
        Reason::SessionTokenMissing,
        Reason::TokenInvalid,
        Reason::TokenInvalidAlgorithm,
        Reason::TokenInvalidSignature,
        Reason::TokenExpired,
        Reason::TokenNotActiveYet,
        Reason::TokenIatInTheFuture,
        Reason::TokenInvalidAuthorizedParties,
        Reason::TokenInvalidIssuer,
        Reason::TokenVerificationFailed,
        Reason::TokenTypeMismatch,
        Reason::SessionPending,
        Reason::JwkKidMismatch,
        Reason::JwkRemoteFailedToLoad,
        Reason::EmailClaimMissing,
        Reason::UserNotFound,
        Reason::UserDeleted,
        Reason::UserBanned,
        Reason::SessionRevoked,
        Reason::NotAdmin,
    ];
}

/// A refused token: the reason, a message safe to show the client, and for key outages how long
/// to wait before retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({message})", reason.code())]
pub struct AuthError {
    pub reason: Reason,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AuthError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        AuthError {
            reason,
            message: message.into(),
            retry_after: None,
        }
    }
}

fn fail<T>(reason: Reason, message: impl Into<String>) -> Result<T, AuthError> {
    Err(AuthError::new(reason, message))
}

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
    /// The `email` custom claim, when the session token was customised to carry it.
    pub email: Option<String>,
    /// `metadata.role` (public metadata through session token customisation) or a top-level `role`.
    pub role: Option<String>,
    /// Every claim, for features that need more.
    pub claims: Map<String, Value>,
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct Rules {
    pub issuer: String,
    pub audience: Option<String>,
    pub authorized_parties: Vec<String>,
    pub clock_skew_secs: u64,
}

/// Verifies session tokens against a key store and [`Rules`].
pub struct Verifier {
    keys: Arc<KeyStore>,
    rules: Rules,
    validation: Validation,
}

const SESSION_CATEGORIES: [&str; 2] = ["cl_B7d4PD111AAA", "cl_I7d4PD111III"];

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
        }
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub async fn verify(&self, token: &str) -> Result<SessionClaims, AuthError> {
        self.verify_at(token, now()).await
    }

    /// Verifies `token` as of the unix time `now`.
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<SessionClaims, AuthError> {
        let claims = self.verify_signature(token).await?;
        check_claims(claims, &self.rules, now)
    }

    /// The header checks, the key and the signature, in that order: the token's claims once its
    /// signature is verified, before any claim is checked (see [`explain_claims`]).
    pub async fn verify_signature(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let header = inspect_header(token)?;
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

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The header fields that decide how a token is verified.
#[derive(Debug)]
pub struct TokenHeader {
    pub kid: Option<String>,
}

/// Shape, size, `typ`, `cat` and `alg` checks, before any key is looked up.
pub fn inspect_header(token: &str) -> Result<TokenHeader, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return fail(Reason::TokenInvalid, "the token is longer than 8 KiB");
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts[0].is_empty() || parts[1].is_empty() {
        return fail(
            Reason::TokenInvalid,
            "the token is not a JWT (expected three dot-separated parts)",
        );
    }
    let header: Map<String, Value> = decode_segment(parts[0]).ok_or_else(|| {
        AuthError::new(
            Reason::TokenInvalid,
            "the token's header is not base64url JSON",
        )
    })?;
    match header.get("typ") {
        None => {}
        Some(Value::String(t)) if t == "JWT" => {}
        Some(Value::String(t)) if t == "at+jwt" || t == "application/at+jwt" => {
            return fail(
                Reason::TokenTypeMismatch,
                "OAuth access tokens are not session tokens",
            );
        }
        Some(_) => return fail(Reason::TokenInvalid, "the token's typ header must be JWT"),
    }
    if let Some(cat) = header.get("cat") {
        if !cat
            .as_str()
            .is_some_and(|c| SESSION_CATEGORIES.contains(&c))
        {
            return fail(
                Reason::TokenTypeMismatch,
                "this is not a session token (JWT template or machine token); send the session token",
            );
        }
    }
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => {}
        _ => {
            return fail(
                Reason::TokenInvalidAlgorithm,
                "only RS256 tokens are accepted",
            )
        }
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return fail(
                Reason::TokenInvalid,
                "the token's kid header must be a string",
            )
        }
    };
    Ok(TokenHeader { kid })
}

/// Decodes the payload without verifying it: only for choosing between cookies, never to trust.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    parts.next()?;
    decode_segment(parts.next()?)
}

fn decode_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One claim rule applied to a token: what the rule wants, what the token carries, and the
/// refusal when it fails. [`explain_claims`] lists them in the order the verifier applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck {
    /// The claim's name: `sub`, `iss`, `aud`, `azp`, `exp`, `nbf`, `iat`, `sid` or `sts`.
    pub claim: &'static str,
    /// What the rules want, in words.
    pub expected: String,
    /// What the token carries, in words (`absent` when it has no such claim).
    pub found: String,
    /// The refusal this claim causes, exactly as the verifier reports it; `None` when it passes.
    pub failure: Option<AuthError>,
}

/// Every claim rule applied to the (signature-verified) `claims` as of the unix time `now`, in the
/// verifier's order. The verifier refuses a token with the first failure of this list, so the
/// explanation and the verdict cannot disagree.
pub fn explain_claims(claims: &Map<String, Value>, rules: &Rules, now: i64) -> Vec<ClaimCheck> {
    apply_rules(claims, rules, now, true)
}

/// A claim as non-empty text.
fn claim_text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The claim rules; `explain` says whether to put `expected` and `found` in words. The verifier
/// passes `false`: on its hot path it needs only the failures, not the formatting.
fn apply_rules(
    claims: &Map<String, Value>,
    rules: &Rules,
    now: i64,
    explain: bool,
) -> Vec<ClaimCheck> {
    let text = |name: &str| claim_text(claims, name);
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let check = |claim: &'static str, expected: &dyn Fn() -> String, failure: Option<AuthError>| {
        ClaimCheck {
            claim,
            expected: if explain { expected() } else { String::new() },
            found: if explain {
                describe(claims.get(claim), now)
            } else {
                String::new()
            },
            failure,
        }
    };
    let skew = rules.clock_skew_secs as f64;
    let now_f = now as f64;
    let mut checks = Vec::with_capacity(9);

    checks.push(check(
        "sub",
        &|| "a Clerk user id (user_…)".into(),
        match text("sub") {
            Some(sub) if sub.starts_with("mch_") => Some(AuthError::new(
                Reason::TokenTypeMismatch,
                "machine tokens are not session tokens",
            )),
            Some(sub) if sub.starts_with("user_") => None,
            Some(_) => Some(AuthError::new(
                Reason::TokenVerificationFailed,
                "the sub claim is not a Clerk user id",
            )),
            None => Some(AuthError::new(
                Reason::TokenVerificationFailed,
                "the token has no sub claim",
            )),
        },
    ));

    let issuer = text("iss").unwrap_or_default();
    checks.push(check(
        "iss",
        &|| format!("{:?}", rules.issuer),
        (issuer != rules.issuer).then(|| {
            AuthError::new(
                Reason::TokenInvalidIssuer,
                format!(
                    "the token was issued by {:?}, not by this server's Clerk instance",
                    truncate(issuer)
                ),
            )
        }),
    ));

    checks.push(match &rules.audience {
        None => check(
            "aud",
            &|| "anything (no audience is configured)".into(),
            None,
        ),
        Some(expected) => {
            let matches = match claims.get("aud") {
                Some(Value::String(aud)) => aud == expected,
                Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected)),
                _ => false,
            };
            check(
                "aud",
                &|| format!("{expected:?}, or a list holding it"),
                (!matches).then(|| {
                    AuthError::new(
                        Reason::TokenVerificationFailed,
                        "the token's aud does not include this API's audience",
                    )
                }),
            )
        }
    });

    checks.push(if rules.authorized_parties.is_empty() {
        check(
            "azp",
            &|| "anything (no authorized parties are configured)".into(),
            None,
        )
    } else {
        check(
            "azp",
            &|| format!("one of {:?}", rules.authorized_parties),
            match text("azp") {
                Some(azp) if rules.authorized_parties.iter().any(|p| p == azp) => None,
                Some(azp) => Some(AuthError::new(
                    Reason::TokenInvalidAuthorizedParties,
                    format!(
                        "the token's azp {:?} is not an authorized party",
                        truncate(azp)
                    ),
                )),
                None => Some(AuthError::new(
                    Reason::TokenInvalidAuthorizedParties,
                    "the token has no azp claim and authorized parties are configured",
                )),
            },
        )
    });

    checks.push(check(
        "exp",
        &|| {
            format!(
                "a time later than now less the {} s skew ({})",
                rules.clock_skew_secs,
                rfc3339(now_f - skew)
            )
        },
        match number("exp") {
            None => Some(AuthError::new(
                Reason::TokenVerificationFailed,
                "the token has no numeric exp claim",
            )),
            Some(exp) if exp <= now_f - skew => Some(AuthError::new(
                Reason::TokenExpired,
                "the token has expired; get a fresh one from Clerk",
            )),
            Some(_) => None,
        },
    ));

    let not_after_now = || {
        format!(
            "absent, or a time not later than now plus the {} s skew ({})",
            rules.clock_skew_secs,
            rfc3339(now_f + skew)
        )
    };
    checks.push(check(
        "nbf",
        &not_after_now,
        number("nbf").filter(|nbf| *nbf > now_f + skew).map(|_| {
            AuthError::new(
                Reason::TokenNotActiveYet,
                "the token is not valid yet (check this server's clock)",
            )
        }),
    ));
    checks.push(check(
        "iat",
        &not_after_now,
        number("iat").filter(|iat| *iat > now_f + skew).map(|_| {
            AuthError::new(
                Reason::TokenIatInTheFuture,
                "the token was issued in the future (check this server's clock)",
            )
        }),
    ));

    checks.push(check(
        "sid",
        &|| "a session id".into(),
        text("sid").is_none().then(|| {
            AuthError::new(
                Reason::TokenVerificationFailed,
                "the token has no sid claim",
            )
        }),
    ));
    checks.push(check(
        "sts",
        &|| "absent, or not \"pending\"".into(),
        (text("sts") == Some("pending")).then(|| {
            AuthError::new(
                Reason::SessionPending,
                "the session is pending: finish the sign-in tasks first",
            )
        }),
    ));
    checks
}

fn check_claims(
    claims: Map<String, Value>,
    rules: &Rules,
    now: i64,
) -> Result<SessionClaims, AuthError> {
    if let Some(failure) = apply_rules(&claims, rules, now, false)
        .into_iter()
        .find_map(|check| check.failure)
    {
        return Err(failure);
    }
    // Every rule passed, so `sub`, `iss`, `exp` and `sid` are present and well-formed.
    let text = |name: &str| claim_text(&claims, name);
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let email = text("email").map(str::to_owned);
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
        issued_at: number("iat").map(|i| i as i64),
        expires_at: number("exp").unwrap_or_default() as i64,
        email,
        role,
        claims,
    })
}

/// A claim's value in words, for [`ClaimCheck::found`]: text quoted and shortened, times also as
/// dates relative to `now`.
fn describe(value: Option<&Value>, now: i64) -> String {
    match value {
        None | Some(Value::Null) => "absent".into(),
        Some(Value::String(s)) if s.is_empty() => "empty".into(),
        Some(Value::String(s)) => format!("{:?}", truncate(s)),
        Some(Value::Number(n)) => match n.as_f64() {
            // Plausible unix times (after 2001) are shown as dates too.
            Some(secs) if secs > 1e9 => describe_time(secs, now),
            _ => n.to_string(),
        },
        Some(other) => truncate(&other.to_string()),
    }
}

/// A unix time as `2026-11-26T07:00:00Z`, or as the number when it is out of range.
fn rfc3339(secs: f64) -> String {
    let whole = secs as i64;
    time::OffsetDateTime::from_unix_timestamp(whole)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| whole.to_string())
}

/// A unix time as `1764140000 (2026-11-26T07:00:00Z, 75 s ago)`.
fn describe_time(secs: f64, now: i64) -> String {
    let whole = secs as i64;
    let date = time::OffsetDateTime::from_unix_timestamp(whole)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    let delta = whole.saturating_sub(now);
    let relative = match delta {
        0 => "now".to_owned(),
        d if d > 0 => format!("in {d} s"),
        d => format!("{} s ago", d.unsigned_abs()),
    };
    match date {
        Some(date) => format!("{whole} ({date}, {relative})"),
        None => whole.to_string(),
    }
}

/// Keeps client-supplied text in messages short.
fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn every_reason_is_listed_once_with_a_kebab_case_code() {
        // Exhaustive: a new variant stops this from compiling, a reminder to add it to ALL.
        let listed = |reason: Reason| match reason {
            Reason::SessionTokenMissing
            | Reason::TokenInvalid
            | Reason::TokenInvalidAlgorithm
            | Reason::TokenInvalidSignature
            | Reason::TokenExpired
            | Reason::TokenNotActiveYet
            | Reason::TokenIatInTheFuture
            | Reason::TokenInvalidAuthorizedParties
            | Reason::TokenInvalidIssuer
            | Reason::TokenVerificationFailed
            | Reason::TokenTypeMismatch
            | Reason::SessionPending
            | Reason::JwkKidMismatch
            | Reason::JwkRemoteFailedToLoad
            | Reason::EmailClaimMissing
            | Reason::UserNotFound
            | Reason::UserDeleted
            | Reason::UserBanned
            | Reason::SessionRevoked
            | Reason::NotAdmin => Reason::ALL.contains(&reason),
        };
        let mut codes = std::collections::BTreeSet::new();
        for reason in Reason::ALL {
            assert!(listed(reason));
            let code = reason.code();
            assert!(
                code.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                "{code}"
            );
            assert!(codes.insert(code), "{code} twice");
        }
        for code in ["user-deleted", "user-banned", "session-revoked"] {
            assert!(codes.contains(code), "{code}");
        }
    }
}
