//! Opaque machine tokens (`mt_`, `oat_`, `ak_`), verified by the Backend API's unversioned verify
//! endpoints, with a short memory of the answers.
//!
//! Anyone can send a random `ak_…`, and each verification costs a Backend API call (and money:
//! Clerk bills opaque M2M verifications). So a token must have the right shape before it is sent
//! anywhere; identical concurrent look-ups make one call; every answer is kept (an acceptance
//! for at most `CLERK_MACHINE_TOKEN_CACHE_SECS` and never past the token's expiration, so that a
//! revoked key stops working within that bound; a refusal for a minute); a client (an address,
//! see `auth::client`) may have at most [`CLIENT_REFUSALS`] tokens refused or in flight per
//! [`CLIENT_WINDOW`], after which its unknown tokens are refused without a call; and the calls
//! spend the machines' share of this server's Backend API budget ([`Caller::Machine`]), never
//! the reserve, so that a flood of made-up tokens can neither exceed Clerk's rate limit nor
//! starve user look-ups, and a flood from one address cannot refuse the tokens of others.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{check_shape, digest, Digest, MachineToken, TokenType};
use crate::clerk::backend_api::CLERK_API_VERSION;
use crate::clerk::budget::{parse_retry_after, BackendBudget, Caller, Refused};
use crate::clerk::token::{AuthError, Reason};

/// How long a refusal that no later moment can change (unknown, revoked, expired) is kept.
const REFUSED_FOR: Duration = Duration::from_secs(60);
/// Verify answers are a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Most verdicts kept.
const MAX_ENTRIES: u64 = 100_000;
/// Tokens of one client that Clerk refused (or that are on their way to Clerk) allowed per
/// [`CLIENT_WINDOW`]: a service with a few keys never comes near it, a flood stops there.
pub const CLIENT_REFUSALS: u32 = 10;
/// The window of [`CLIENT_REFUSALS`], from a client's first verification in it.
pub const CLIENT_WINDOW: Duration = Duration::from_secs(60);
/// Clients whose tally is remembered.
const MAX_CLIENTS: u64 = 100_000;

/// One client's verifications in its window.
struct Tally {
    since: Instant,
    /// Refused by Clerk, or in flight.
    charged: AtomicU32,
}

#[derive(Clone)]
struct Entry {
    verdict: Result<Arc<MachineToken>, AuthError>,
    ttl: Duration,
}

struct EntryExpiry;

impl moka::Expiry<Digest, Entry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &Digest,
        entry: &Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The keys the verify endpoints are called with.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// `CLERK_SECRET_KEY`: every endpoint.
    pub secret_key: Option<String>,
    /// `CLERK_MACHINE_SECRET_KEY`: the M2M endpoint, in place of the secret key.
    pub machine_secret_key: Option<String>,
}

/// Verifies opaque machine tokens through the Backend API.
pub struct OpaqueVerifier {
    http: reqwest::Client,
    api_url: String,
    keys: Keys,
    /// The Backend API budget, shared with every other call: this verifier spends the
    /// machines' share of it.
    budget: Arc<BackendBudget>,
    cache_for: Duration,
    verdicts: moka::future::Cache<Digest, Entry>,
    clients: moka::sync::Cache<IpAddr, Arc<Tally>>,
}

/// One verify endpoint: its path, the body key of the token, and what "not found" says.
fn endpoint(kind: TokenType) -> (&'static str, &'static str, &'static str) {
    match kind {
        TokenType::M2mToken => ("/m2m_tokens/verify", "token", "Machine token not found"),
        TokenType::OAuthToken => (
            "/oauth_applications/access_tokens/verify",
            "access_token",
            "OAuth token not found",
        ),
        TokenType::ApiKey | TokenType::SessionToken => {
            ("/api_keys/verify", "secret", "API key not found")
        }
    }
}

/// The fields of Clerk's `M2MTokenJSON`, `IdPOAuthAccessTokenJSON` and `APIKeyJSON` read here.
#[derive(Debug, Deserialize)]
struct Verified {
    #[serde(default)]
    id: Option<String>,
    subject: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    claims: Option<Map<String, Value>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    expired: Option<bool>,
    /// Unix milliseconds, or null: never.
    #[serde(default)]
    expiration: Option<i64>,
}

impl OpaqueVerifier {
    /// A verifier calling `api_url` with `keys`, spending the machines' share of `budget`,
    /// keeping acceptances for at most `cache_secs`.
    pub fn new(
        http: reqwest::Client,
        api_url: &str,
        keys: Keys,
        budget: Arc<BackendBudget>,
        cache_secs: u64,
    ) -> Self {
        OpaqueVerifier {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            keys,
            budget,
            cache_for: Duration::from_secs(cache_secs),
            verdicts: moka::future::Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(EntryExpiry)
                .build(),
            clients: moka::sync::Cache::builder()
                .max_capacity(MAX_CLIENTS)
                .time_to_live(CLIENT_WINDOW)
                .build(),
        }
    }

    /// Verifies the opaque token `token` of type `kind` as of `now_ms` (unix milliseconds), sent
    /// by `client`.
    pub async fn verify(
        &self,
        token: &str,
        kind: TokenType,
        now_ms: i64,
        client: IpAddr,
    ) -> Result<Arc<MachineToken>, AuthError> {
        check_shape(token, kind)?;
        let digest = digest(token);
        // Concurrent look-ups of one token wait for the first one's call.
        let entry = self
            .verdicts
            .get_with(digest, async {
                let verdict = self.charged_call(token, kind, now_ms, client).await;
                let ttl = self.keep_for(&verdict, now_ms);
                Entry { verdict, ttl }
            })
            .await;
        if entry.ttl.is_zero() {
            self.verdicts.invalidate(&digest).await;
        }
        let token = entry.verdict?;
        if token.expires_at_ms.is_some_and(|exp| exp <= now_ms) {
            return Err(expired(kind));
        }
        Ok(token)
    }

    /// How long a verdict may be kept: an acceptance for the configured bound, never past the
    /// token's expiration; a refusal of the token itself for [`REFUSED_FOR`]; a failure of ours
    /// or of Clerk's not at all.
    fn keep_for(&self, verdict: &Result<Arc<MachineToken>, AuthError>, now_ms: i64) -> Duration {
        match verdict {
            Ok(token) => match token.expires_at_ms {
                None => self.cache_for,
                Some(exp) => {
                    let left = u64::try_from(exp.saturating_sub(now_ms)).unwrap_or(0);
                    self.cache_for.min(Duration::from_millis(left))
                }
            },
            Err(e) if e.retry_after.is_none() => REFUSED_FOR,
            Err(_) => Duration::ZERO,
        }
    }

    /// [`Self::call`], charged to `client`'s tally: refused at once past [`CLIENT_REFUSALS`];
    /// an acceptance, or a failure that is not the token's, is not charged.
    async fn charged_call(
        &self,
        token: &str,
        kind: TokenType,
        now_ms: i64,
        client: IpAddr,
    ) -> Result<Arc<MachineToken>, AuthError> {
        let tally = self.clients.get_with(client, || {
            Arc::new(Tally {
                since: Instant::now(),
                charged: AtomicU32::new(0),
            })
        });
        if tally.charged.fetch_add(1, Ordering::AcqRel) >= CLIENT_REFUSALS {
            tally.charged.fetch_sub(1, Ordering::AcqRel);
            let left = CLIENT_WINDOW.saturating_sub(tally.since.elapsed());
            return Err(unavailable(
                Reason::RateLimited,
                format!(
                    "too many unknown {}s from this client lately: not verified",
                    kind.name()
                ),
                left.as_secs().max(1),
            ));
        }
        let verdict = self.call(token, kind, now_ms).await.map(Arc::new);
        if verdict
            .as_ref()
            .map_or_else(|e| e.retry_after.is_some(), |_| true)
        {
            tally.charged.fetch_sub(1, Ordering::AcqRel);
        }
        verdict
    }

    async fn call(
        &self,
        token: &str,
        kind: TokenType,
        now_ms: i64,
    ) -> Result<MachineToken, AuthError> {
        let key = match kind {
            TokenType::M2mToken => self
                .keys
                .machine_secret_key
                .as_ref()
                .or(self.keys.secret_key.as_ref()),
            _ => self.keys.secret_key.as_ref(),
        }
        .ok_or_else(|| {
            unavailable(
                Reason::SecretKeyInvalid,
                format!(
                    "this server cannot verify a {}: it has no CLERK_SECRET_KEY",
                    kind.name()
                ),
                60,
            )
        })?;
        self.take_budget()?;
        let (path, field, not_found) = endpoint(kind);
        let response = self
            .http
            .post(format!("{}{path}", self.api_url))
            .bearer_auth(key)
            .header("Clerk-API-Version", CLERK_API_VERSION)
            .json(&json!({ field: token }))
            .send()
            .await
            .map_err(|e| {
                log::warn!("verifying a {} at the Backend API: {e}", kind.name());
                unavailable(
                    Reason::UnexpectedError,
                    "the Backend API could not be reached to verify the token",
                    5,
                )
            })?;
        let status = response.status().as_u16();
        if status == 429 {
            return Err(self.clerk_rate_limited(&response));
        }
        self.budget.answered();
        let body = read_up_to(response, MAX_RESPONSE_BYTES).await?;
        match status {
            200..=299 => {}
            404 => {
                return Err(AuthError::new(
                    Reason::TokenInvalid,
                    format!("{not_found} (code=token-invalid, status=404)"),
                ))
            }
            401 | 403 => {
                log::error!(
                    "the Backend API refused this server's key for {path} (status {status})"
                );
                return Err(unavailable(
                    Reason::SecretKeyInvalid,
                    "the Backend API refused this server's secret key",
                    30,
                ));
            }
            _ => {
                log::warn!("the Backend API answered {status} to {path}");
                return Err(unavailable(
                    Reason::UnexpectedError,
                    format!("the Backend API answered {status} (code=unexpected-error)"),
                    5,
                ));
            }
        }
        let verified: Verified = serde_json::from_slice(&body).map_err(|e| {
            log::warn!("unexpected answer of {path}: {e}");
            unavailable(
                Reason::UnexpectedError,
                "the Backend API's answer was not a verified token",
                5,
            )
        })?;
        // Clerk may answer 200 for a revoked or expired token: the body decides.
        if check_answer(kind, &verified)? {
            return Err(AuthError::new(
                Reason::TokenRevoked,
                format!("the {} was revoked", kind.name()),
            ));
        }
        if verified.expired == Some(true) || verified.expiration.is_some_and(|exp| exp <= now_ms) {
            return Err(expired(kind));
        }
        Ok(MachineToken {
            token_type: kind,
            id: verified.id,
            subject: verified.subject,
            scopes: verified.scopes.unwrap_or_default(),
            claims: verified.claims,
            name: verified.name,
            client_id: verified.client_id,
            expires_at_ms: verified.expiration,
        })
    }

    /// Clerk's 429: every caller waits out its `Retry-After`.
    fn clerk_rate_limited(&self, response: &reqwest::Response) -> AuthError {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
        let pause = self.budget.rate_limited(retry_after);
        rate_limited(Refused::RateLimited { wait: pause })
    }

    /// Takes one call from the machines' share of the budget.
    fn take_budget(&self) -> Result<(), AuthError> {
        self.budget.try_take(Caller::Machine).map_err(rate_limited)
    }
}

/// A call that a rate limit refused, this server's or Clerk's: 503 `rate-limited`, with
/// `Retry-After`.
fn rate_limited(refused: Refused) -> AuthError {
    let message = match refused {
        Refused::Spent { .. } => {
            "this server's budget of Backend API calls for machine tokens is spent"
        }
        Refused::RateLimited { .. } => {
            "Clerk's Backend API is rate limiting this server's secret key (429)"
        }
    };
    unavailable(Reason::RateLimited, message, refused.retry_after())
}

/// An answer that does not say the token is not revoked is not taken for one that does, nor one
/// whose subject is not of the kind's (a machine for an M2M token, …). `Ok(revoked)`.
fn check_answer(kind: TokenType, verified: &Verified) -> Result<bool, AuthError> {
    let Some(revoked) = verified.revoked else {
        log::warn!("a {} verification answer has no revoked field", kind.name());
        return Err(AuthError::new(
            Reason::TokenVerificationFailed,
            format!(
                "the Backend API's answer did not say whether the {} is revoked",
                kind.name()
            ),
        ));
    };
    if !subject_fits(kind, &verified.subject) {
        return Err(AuthError::new(
            Reason::TokenVerificationFailed,
            format!(
                "the Backend API verified a {} whose subject is not {}",
                kind.name(),
                expected_subject(kind)
            ),
        ));
    }
    Ok(revoked)
}

/// The subjects Clerk gives each kind: a machine (`mch_…`) for M2M tokens, a user for OAuth
/// access tokens, a user or an organization for API keys.
const M2M_SUBJECTS: [&str; 1] = ["mch_"];
const OAUTH_SUBJECTS: [&str; 1] = ["user_"];
const API_KEY_SUBJECTS: [&str; 2] = ["user_", "org_"];

fn subjects(kind: TokenType) -> &'static [&'static str] {
    match kind {
        TokenType::M2mToken => &M2M_SUBJECTS,
        TokenType::OAuthToken => &OAUTH_SUBJECTS,
        TokenType::ApiKey | TokenType::SessionToken => &API_KEY_SUBJECTS,
    }
}

fn subject_fits(kind: TokenType, subject: &str) -> bool {
    subjects(kind)
        .iter()
        .any(|prefix| crate::clerk::token::is_clerk_id(subject, prefix))
}

fn expected_subject(kind: TokenType) -> String {
    let names: Vec<String> = subjects(kind).iter().map(|p| format!("{p}…")).collect();
    names.join(" or ")
}

fn expired(kind: TokenType) -> AuthError {
    AuthError::new(
        Reason::TokenExpired,
        format!("the {} has expired", kind.name()),
    )
}

/// A failure that is not the token's fault: answered with 503 and `Retry-After`, never kept.
fn unavailable(reason: Reason, message: impl Into<String>, retry_after: u64) -> AuthError {
    AuthError {
        reason,
        message: message.into(),
        retry_after: Some(retry_after),
    }
}

async fn read_up_to(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, AuthError> {
    let failed = || {
        unavailable(
            Reason::UnexpectedError,
            "the Backend API's answer could not be read",
            5,
        )
    };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| failed())? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            return Err(failed());
        }
    }
    Ok(body)
}
