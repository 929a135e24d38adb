//! The key store: a fixed PEM key, or the instance's JWKS fetched, cached and refreshed.
//!
//! Refresh policy, beyond Clerk's SDK (spec §9.4): the set is fetched at launch and then when it
//! is older than the cache time (in the background, while the old set keeps serving); a failed
//! refresh keeps the last good set; only one fetch runs at a time; a token with an unknown `kid`
//! triggers at most one refetch per cooldown; with no keys at all, attempts are spaced by
//! [`RETRY_WITHOUT_KEYS`] and requests get 503 with `Retry-After` meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::budget::{BackendBudget, Caller};

/// The most a JWKS response may weigh; Clerk's holds one or two keys (about 1 KiB).
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The least time between two fetch attempts while no key is known.
pub const RETRY_WITHOUT_KEYS: Duration = Duration::from_secs(1);
/// The longest a request waits for a JWKS fetch it started (an unknown `kid`, or no key yet):
/// the fetch itself may take two sources' timeouts (10 s); it goes on in the background, and the
/// request is answered (`jwk-kid-mismatch`, or 503) without it.
pub const REQUEST_FETCH_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// No key can be had right now (the JWKS never loaded).
    Unavailable { message: String, retry_after: u64 },
    /// Keys are loaded but none has the token's `kid`.
    UnknownKid(String),
}

/// Where a JWKS can be fetched: the frontend API's public URL, or the Backend API with the secret key.
#[derive(Debug, Clone)]
pub struct JwksSource {
    pub url: String,
    pub bearer: Option<String>,
}

pub struct KeyStore {
    inner: Inner,
}

enum Inner {
    /// `CLERK_JWT_KEY` or the local-mode key: the token's `kid` is not matched (as Clerk's SDK).
    Fixed(Arc<DecodingKey>),
    Remote(Box<Remote>),
}

struct Remote {
    sources: Vec<JwksSource>,
    http: reqwest::Client,
    cache_for: Duration,
    cooldown: Duration,
    state: RwLock<Cache>,
    fetch_lock: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    /// The Backend API budget, spent by sources fetched with the secret key.
    budget: Option<Arc<BackendBudget>>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_kid_refetch: Option<Instant>,
    last_error: Option<String>,
    /// Counts fetch attempts, so that a waiter can tell that one finished while it waited.
    attempts: u64,
    failures: u64,
}

/// What the store holds, for `/ready` and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub key_ids: Vec<String>,
    pub age: Option<Duration>,
    pub last_error: Option<String>,
    /// JWKS fetch attempts since start, and how many of them failed.
    pub fetches: u64,
    pub failures: u64,
}

impl KeyStore {
    pub fn fixed(key: DecodingKey) -> Self {
        KeyStore {
            inner: Inner::Fixed(Arc::new(key)),
        }
    }

    pub fn remote(
        sources: Vec<JwksSource>,
        http: reqwest::Client,
        cache_for: Duration,
        cooldown: Duration,
    ) -> Self {
        KeyStore {
            inner: Inner::Remote(Box::new(Remote {
                sources,
                http,
                cache_for,
                cooldown,
                state: RwLock::new(Cache::default()),
                fetch_lock: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
                budget: None,
            })),
        }
    }

    /// Fetches from sources with a bearer (the Backend API) spend `budget`; a spent budget skips
    /// them like an unreachable source.
    #[must_use]
    pub fn with_budget(mut self, budget: Arc<BackendBudget>) -> Self {
        if let Inner::Remote(remote) = &mut self.inner {
            remote.budget = Some(budget);
        }
        self
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.inner, Inner::Remote(_))
    }

    /// The key for a token's `kid`.
    pub async fn key_for(
        self: &Arc<Self>,
        kid: Option<&str>,
    ) -> Result<Arc<DecodingKey>, KeyError> {
        let remote = match &self.inner {
            Inner::Fixed(key) => return Ok(key.clone()),
            Inner::Remote(remote) => remote,
        };
        let Some(kid) = kid else {
            return Err(KeyError::UnknownKid("the token has no kid header".into()));
        };
        let (found, stale, empty, attempts) = {
            let cache = remote.read();
            let stale = remote.is_stale(&cache);
            (
                cache.keys.get(kid).cloned(),
                stale,
                cache.keys.is_empty(),
                cache.attempts,
            )
        };
        if let Some(key) = found {
            if stale {
                self.refresh_in_background();
            }
            return Ok(key);
        }
        if empty {
            // Nothing loaded yet: try now, but never more often than RETRY_WITHOUT_KEYS.
            let wait = remote
                .read()
                .last_attempt
                .map(|at| RETRY_WITHOUT_KEYS.saturating_sub(at.elapsed()));
            if wait.is_none_or(|w| w.is_zero()) {
                self.refresh_for_request(attempts).await;
            }
        } else {
            // An unknown kid may mean a rotation: refetch, at most once per cooldown.
            let may_refetch = {
                let mut cache = remote.write();
                let allowed = cache
                    .last_kid_refetch
                    .is_none_or(|at| at.elapsed() >= remote.cooldown);
                if allowed {
                    cache.last_kid_refetch = Some(Instant::now());
                }
                allowed
            };
            if may_refetch {
                self.refresh_for_request(attempts).await;
            }
        }
        let cache = remote.read();
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        if cache.keys.is_empty() {
            let retry_after = cache.last_attempt.map_or(1, |at| {
                RETRY_WITHOUT_KEYS
                    .saturating_sub(at.elapsed())
                    .as_secs()
                    .max(1)
            });
            return Err(KeyError::Unavailable {
                message:
                    "the signing keys of the Clerk instance could not be loaded; try again shortly"
                        .into(),
                retry_after,
            });
        }
        // Deliberately not listing the known kids (as Clerk's SDK).
        Err(KeyError::UnknownKid(
            "no signing key of this instance has the token's kid (a token from another Clerk instance?)".into(),
        ))
    }

    /// Fetches the JWKS at launch, and keeps trying (1 s, 2 s, 4 s … up to a minute apart) until
    /// a set loads, so that `/ready` turns green without waiting for a request. Failures are
    /// logged and kept for `/ready`.
    pub async fn warm_up(&self) {
        let Inner::Remote(remote) = &self.inner else {
            return;
        };
        let mut pause = RETRY_WITHOUT_KEYS;
        loop {
            let attempts = remote.read().attempts;
            remote.refresh(attempts).await;
            if !remote.read().keys.is_empty() {
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(60));
        }
    }

    /// A fetch on a request's behalf, waited for at most [`REQUEST_FETCH_WAIT`]: a slow JWKS
    /// must not hold every request that names an unknown `kid` for the fetch's whole timeout.
    async fn refresh_for_request(self: &Arc<Self>, attempts: u64) {
        let store = Arc::clone(self);
        let fetch = tokio::spawn(async move {
            if let Inner::Remote(remote) = &store.inner {
                remote.refresh(attempts).await;
            }
        });
        let _ = tokio::time::timeout(REQUEST_FETCH_WAIT, fetch).await;
    }

    fn refresh_in_background(self: &Arc<Self>) {
        let Inner::Remote(remote) = &self.inner else {
            return;
        };
        if remote.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = Arc::clone(self);
        tokio::spawn(async move {
            if let Inner::Remote(remote) = &store.inner {
                let attempts = remote.read().attempts;
                remote.refresh(attempts).await;
                remote.refreshing.store(false, Ordering::Release);
            }
        });
    }

    /// Whether the key a cached verdict used (by `kid`) is still in the set; a stale set is
    /// refreshed in the background, so that a key's removal is noticed without any verification.
    pub fn still_has(self: &Arc<Self>, kid: Option<&str>) -> bool {
        let Inner::Remote(remote) = &self.inner else {
            return true;
        };
        let (present, stale) = {
            let cache = remote.read();
            let stale = remote.is_stale(&cache);
            (kid.is_some_and(|kid| cache.keys.contains_key(kid)), stale)
        };
        if stale {
            self.refresh_in_background();
        }
        present
    }

    pub fn status(&self) -> KeyStatus {
        match &self.inner {
            Inner::Fixed(_) => KeyStatus {
                key_ids: vec!["pem".into()],
                age: None,
                last_error: None,
                fetches: 0,
                failures: 0,
            },
            Inner::Remote(remote) => {
                let cache = remote.read();
                let mut key_ids: Vec<String> = cache.keys.keys().cloned().collect();
                key_ids.sort();
                KeyStatus {
                    key_ids,
                    age: cache.fetched_at.map(|at| at.elapsed()),
                    last_error: cache.last_error.clone(),
                    fetches: cache.attempts,
                    failures: cache.failures,
                }
            }
        }
    }

    pub fn has_keys(&self) -> bool {
        !self.status().key_ids.is_empty()
    }
}

impl Remote {
    /// Stale, and not just tried: a failing refresh is retried at most every
    /// RETRY_WITHOUT_KEYS, not on every request.
    fn is_stale(&self, cache: &Cache) -> bool {
        cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.cache_for)
            && cache
                .last_attempt
                .is_none_or(|at| at.elapsed() >= RETRY_WITHOUT_KEYS)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fetches once, unless another caller finished a fetch since `seen_attempts` was read.
    async fn refresh(&self, seen_attempts: u64) {
        let _only_one = self.fetch_lock.lock().await;
        if self.read().attempts != seen_attempts {
            return;
        }
        let result = self.fetch().await;
        let mut cache = self.write();
        cache.attempts += 1;
        cache.last_attempt = Some(Instant::now());
        match result {
            // An empty set is an odd answer, not a rotation: keep the last good keys.
            Ok(keys) if keys.is_empty() && !cache.keys.is_empty() => {
                log::warn!(
                    "JWKS refresh answered no usable key (keeping {} cached keys)",
                    cache.keys.len()
                );
                cache.last_error = Some("the JWKS holds no usable key".into());
                cache.failures += 1;
            }
            Ok(keys) => {
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                cache.last_error = None;
            }
            Err(error) => {
                log::warn!(
                    "JWKS refresh failed (keeping {} cached keys): {error}",
                    cache.keys.len()
                );
                cache.last_error = Some(error);
                cache.failures += 1;
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let mut errors = Vec::new();
        for source in &self.sources {
            let budget = self.budget.as_ref().filter(|_| source.bearer.is_some());
            // Trusted: an unknown `kid` refetches at most once per cooldown, whoever sends it.
            if budget.is_some_and(|budget| budget.try_take(Caller::Trusted).is_err()) {
                errors.push(format!("{}: the Backend API budget is spent", source.url));
                continue;
            }
            match fetch_jwks(&self.http, source).await {
                Ok(jwks) => return Ok(jwks.keys),
                Err(e) => errors.push(format!("{}: {e}", source.url)),
            }
        }
        Err(errors.join("; "))
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// A JWKS fetched from one source.
#[derive(Clone)]
pub struct FetchedJwks {
    /// The usable signing keys, by `kid`.
    pub keys: HashMap<String, Arc<DecodingKey>>,
    /// The response's `Date` header as sent (for measuring clock offset), if any.
    pub date: Option<String>,
}

impl FetchedJwks {
    /// The key ids, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.keys.keys().cloned().collect();
        ids.sort();
        ids
    }
}

/// Why one JWKS source gave no keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No answer: DNS, connection, TLS or timeout.
    #[error("request failed: {0}")]
    Request(String),
    /// An answer that is not a success (401 from the Backend API: the secret key is refused).
    #[error("answered {0}")]
    Status(reqwest::StatusCode),
    /// A success whose body is too large, unreadable or not a usable JWKS.
    #[error("{0}")]
    Body(String),
}

/// Fetches and parses one JWKS (at most [`MAX_JWKS_BYTES`]); the key store and `clerk-rocket
/// check` both fetch through here.
pub async fn fetch_jwks(
    http: &reqwest::Client,
    source: &JwksSource,
) -> Result<FetchedJwks, FetchError> {
    let mut request = http.get(&source.url).header("accept", "application/json");
    if let Some(token) = &source.bearer {
        request = request
            .bearer_auth(token)
            .header("Clerk-API-Version", super::backend_api::CLERK_API_VERSION);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| FetchError::Request(e.to_string()))?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    let too_large = || FetchError::Body(format!("response larger than {MAX_JWKS_BYTES} bytes"));
    if response
        .content_length()
        .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
    {
        return Err(too_large());
    }
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Body(format!("reading failed: {e}")))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            return Err(too_large());
        }
    }
    let keys = parse_jwks(&body).map_err(FetchError::Body)?;
    Ok(FetchedJwks { keys, date })
}

/// Parses a JWKS document, each entry on its own: one odd key does not discard the rest.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let document: JwksDocument =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for entry in document.keys {
        match usable_key(entry) {
            Ok((kid, key)) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(why) => log::debug!("skipping a JWKS entry: {why}"),
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no usable RS256 signing key".into());
    }
    Ok(keys)
}

fn usable_key(entry: serde_json::Value) -> Result<(String, DecodingKey), String> {
    let jwk: Jwk = serde_json::from_value(entry).map_err(|e| e.to_string())?;
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
        return Err(format!("{kid}: not an RSA key"));
    }
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err(format!("{kid}: not a signing key"));
    }
    if matches!(jwk.common.key_algorithm, Some(alg) if alg != KeyAlgorithm::RS256) {
        return Err(format!("{kid}: not an RS256 key"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("{kid}: {e}"))?;
    Ok((kid, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_odd_entry_does_not_discard_the_rest() {
        let body = br#"{"keys":[
            {"kty":"EC","kid":"ec","crv":"P-256","x":"AAAA","y":"AAAA"},
            {"kty":"RSA","kid":"bad","n":"!!!","e":"AQAB"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},
            {"kty":"RSA","kid":"good","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);
        assert!(parse_jwks(br#"{"keys":[]}"#).is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
