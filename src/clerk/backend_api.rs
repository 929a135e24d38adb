//! The few Backend API calls this app makes, with the secret key.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::budget::{parse_retry_after, BackendBudget, Caller, Refused};

/// The Backend API version this code was written against (spec: `SUPPORTED_BAPI_VERSION`).
pub const CLERK_API_VERSION: &str = "2026-05-12";

/// Answers larger than this are refused (a user object is a few KiB).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// A page of up to 500 users (Clerk's largest `limit`).
pub(super) const MAX_LIST_BYTES: usize = 64 * 1024 * 1024;
/// Clerk's rate limit window; budgets are counted per this period.
pub const BUDGET_PERIOD: Duration = Duration::from_secs(10);
/// How long a handshake nonce that failed to resolve is not looked up again.
const FAILED_NONCE_SECS: u64 = 300;
/// A client (an address, see `auth::client`) has at most one handshake nonce resolved in this
/// time: a browser comes back from one handshake at a time, a flood from one address costs one
/// call per window.
pub const NONCE_WINDOW: Duration = Duration::from_secs(5);
/// Clients whose window is remembered; past this many, the oldest are forgotten early.
const NONCE_CLIENTS: u64 = 100_000;
/// How many 429s in a row batch work (`sync`) waits through before giving up.
const RATE_LIMITED_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendApiError {
    #[error("the Backend API has no user {0}")]
    UserNotFound(String),
    #[error("the Backend API refused the secret key (CLERK_SECRET_KEY belongs to no instance, or was revoked)")]
    SecretKeyInvalid,
    #[error("the Backend API could not be used: {0}")]
    Unavailable(String),
    /// This server's own budget of Backend API calls (or the caller's share of it) is spent.
    #[error("the Backend API budget of this server is spent; try again in {retry_after} s")]
    BudgetSpent { retry_after: u64 },
    /// Clerk answered 429 for the secret key (lately: every call waits out its `Retry-After`).
    #[error(
        "Clerk's Backend API is rate limiting this secret key (429); try again in {retry_after} s"
    )]
    RateLimited { retry_after: u64 },
}

impl BackendApiError {
    /// Whether a rate limit refused the call, this server's own or Clerk's: `Retry-After` says
    /// when to come back, and nothing is wrong with Clerk.
    pub fn rate_limited(&self) -> Option<u64> {
        match self {
            BackendApiError::BudgetSpent { retry_after }
            | BackendApiError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<Refused> for BackendApiError {
    fn from(refused: Refused) -> Self {
        let retry_after = refused.retry_after();
        match refused {
            Refused::Spent { .. } => BackendApiError::BudgetSpent { retry_after },
            Refused::RateLimited { .. } => BackendApiError::RateLimited { retry_after },
        }
    }
}

/// A Clerk user as the Backend API returns it and as `user.created`/`user.updated` webhooks carry
/// it (Clerk's `UserJSON`); only the fields this app reads. Times are Clerk's, in milliseconds.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BackendUser {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_addresses: Vec<EmailAddress>,
    #[serde(default)]
    pub public_metadata: Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub banned: bool,
    /// When Clerk last changed the user, in milliseconds: orders webhook events and syncs.
    #[serde(default)]
    pub updated_at: Option<i64>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// `null` reads as the type's default (Clerk sends `null` for some empty fields).
pub(super) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct EmailAddress {
    pub id: String,
    pub email_address: String,
}

impl BackendUser {
    /// The primary email address, else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        let primary = self
            .primary_email_address_id
            .as_deref()
            .and_then(|id| self.email_addresses.iter().find(|e| e.id == id));
        primary
            .or(self.email_addresses.first())
            .map(|e| e.email_address.as_str())
    }

    /// `public_metadata.role`, when it is a non-empty string.
    pub fn role(&self) -> Option<&str> {
        self.public_metadata
            .get("role")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
    }
}

/// A Backend API client: a base URL and a secret key, with a short cache of user lookups so that
/// concurrent first requests of one user make one call, single-flight handshake nonce look-ups
/// (failures remembered, one per client per [`NONCE_WINDOW`]), and one rate budget for every
/// call, in shares ([`BackendBudget`]).
pub struct BackendApi {
    http: reqwest::Client,
    api_url: String,
    secret_key: String,
    users: moka::future::Cache<String, BackendUser>,
    /// In-flight nonce look-ups, and failed ones for [`FAILED_NONCE_SECS`]; a resolved nonce is
    /// dropped at once (a payload is single-use, and holds session tokens).
    nonces: moka::future::Cache<String, Result<Vec<String>, BackendApiError>>,
    /// The clients that had a nonce looked up in the last [`NONCE_WINDOW`].
    nonce_clients: moka::sync::Cache<IpAddr, ()>,
    budget: Arc<BackendBudget>,
}

impl BackendApi {
    /// A client with a budget of its own: Clerk's limit for the secret key's kind of instance.
    pub fn new(http: reqwest::Client, api_url: &str, secret_key: &str) -> Self {
        let requests = if secret_key.starts_with("sk_live_") {
            1000
        } else {
            100
        };
        let budget = Arc::new(BackendBudget::new(requests, BUDGET_PERIOD));
        BackendApi::with_budget(http, api_url, secret_key, budget)
    }

    /// A client spending `budget`, which other callers of the same key may share.
    pub fn with_budget(
        http: reqwest::Client,
        api_url: &str,
        secret_key: &str,
        budget: Arc<BackendBudget>,
    ) -> Self {
        BackendApi {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            secret_key: secret_key.to_owned(),
            users: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            nonces: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(FAILED_NONCE_SECS))
                .build(),
            nonce_clients: moka::sync::Cache::builder()
                .max_capacity(NONCE_CLIENTS)
                .time_to_live(NONCE_WINDOW)
                .build(),
            budget,
        }
    }

    /// `GET /v1/users/{id}`, cached for a minute.
    pub async fn user(&self, user_id: &str) -> Result<BackendUser, BackendApiError> {
        self.users
            .try_get_with(user_id.to_owned(), self.fetch_user(user_id, Budget::Refuse))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn fetch_user(
        &self,
        user_id: &str,
        budget: Budget,
    ) -> Result<BackendUser, BackendApiError> {
        // Clerk user ids are `user_` + base62; anything else cannot be a path segment we send.
        if !user_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(BackendApiError::UserNotFound(user_id.to_owned()));
        }
        let url = format!("{}/v1/users/{user_id}", self.api_url);
        let (status, body) = self.get(url, MAX_RESPONSE_BYTES, budget).await?;
        match status.as_u16() {
            200..=299 => super::json::parse(&body)
                .map_err(|e| BackendApiError::Unavailable(format!("unexpected user object: {e}"))),
            404 => Err(BackendApiError::UserNotFound(user_id.to_owned())),
            401 | 403 => Err(BackendApiError::SecretKeyInvalid),
            _ => Err(BackendApiError::Unavailable(format!("answered {status}"))),
        }
    }
}

/// The answer of `GET /v1/clients/handshake_payload`.
#[derive(Debug, Clone, Deserialize)]
struct HandshakePayload {
    #[serde(default)]
    directives: Vec<String>,
}

impl BackendApi {
    /// Resolves a handshake nonce into the Set-Cookie directives it stands for, for `client`
    /// (its address, as `auth::client` tells it). A nonce that failed is not looked up again for
    /// [`FAILED_NONCE_SECS`] (a spent budget or a rate limit is not a failure of the nonce); a
    /// client has at most one look-up per [`NONCE_WINDOW`] (`None`: this one was refused); the
    /// calls spend the browsers' share of the budget.
    pub async fn handshake_payload(
        &self,
        nonce: &str,
        client: IpAddr,
    ) -> Option<Result<Vec<String>, BackendApiError>> {
        if let Some(failed) = self.nonces.get(nonce).await {
            return Some(failed);
        }
        if !self.nonce_clients.entry(client).or_insert(()).is_fresh() {
            return None;
        }
        let result = self
            .nonces
            .get_with(nonce.to_owned(), self.fetch_handshake_payload(nonce))
            .await;
        if result
            .as_ref()
            .map_or_else(|e| e.rate_limited().is_some(), |_| true)
        {
            self.nonces.invalidate(nonce).await;
        }
        Some(result)
    }

    async fn fetch_handshake_payload(&self, nonce: &str) -> Result<Vec<String>, BackendApiError> {
        let mut url =
            reqwest::Url::parse(&format!("{}/v1/clients/handshake_payload", self.api_url))
                .map_err(|e| BackendApiError::Unavailable(e.to_string()))?;
        url.query_pairs_mut().append_pair("nonce", nonce);
        let (status, body) = self
            .get(url.into(), MAX_RESPONSE_BYTES, Budget::Browser)
            .await?;
        match status.as_u16() {
            200..=299 => serde_json::from_slice::<HandshakePayload>(&body)
                .map(|p| p.directives)
                .map_err(|e| {
                    BackendApiError::Unavailable(format!("unexpected handshake payload: {e}"))
                }),
            401 | 403 => Err(BackendApiError::SecretKeyInvalid),
            _ => Err(BackendApiError::Unavailable(format!("answered {status}"))),
        }
    }

    /// `GET /v1/users?limit=&offset=`: one page of the instance's users, newest first. An empty
    /// or short page is the last one. Not cached.
    pub async fn list_users(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<BackendUser>, BackendApiError> {
        let url = format!("{}/v1/users?limit={limit}&offset={offset}", self.api_url);
        let (status, body) = self.get(url, MAX_LIST_BYTES, Budget::Wait).await?;
        match status.as_u16() {
            200..=299 => parse_user_list(&body),
            401 | 403 => Err(BackendApiError::SecretKeyInvalid),
            _ => Err(BackendApiError::Unavailable(format!("answered {status}"))),
        }
    }

    /// `GET /v1/users/{id}` without the cache: whether Clerk has the user right now. Batch
    /// work (`sync`): waits for the budget rather than failing.
    pub async fn user_uncached(&self, user_id: &str) -> Result<BackendUser, BackendApiError> {
        self.fetch_user(user_id, Budget::Wait).await
    }
}

/// Which part of the budget a call spends, and what it does when that is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Budget {
    /// A trusted call that fails at once with [`BackendApiError::BudgetSpent`] or
    /// [`BackendApiError::RateLimited`] (a request is waiting on it).
    Refuse,
    /// A trusted call that waits for the refill, and through Clerk's 429s (batch work).
    Wait,
    /// A call for a browser that has no verified session yet (a handshake nonce, a session
    /// refresh): the browsers' share, failing at once.
    Browser,
}

impl Budget {
    fn caller(self) -> Caller {
        match self {
            Budget::Refuse | Budget::Wait => Caller::Trusted,
            Budget::Browser => Caller::Browser,
        }
    }
}

impl BackendApi {
    /// `GET url` with the secret key and Clerk's API version; the status and at most `max_bytes`
    /// of the body.
    async fn get(
        &self,
        url: String,
        max_bytes: usize,
        budget: Budget,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), BackendApiError> {
        let mut attempt = 1;
        loop {
            if budget == Budget::Wait {
                self.budget.take().await;
            } else {
                self.budget.try_take(budget.caller())?;
            }
            let request = self
                .http
                .get(&url)
                .bearer_auth(&self.secret_key)
                .header("Clerk-API-Version", CLERK_API_VERSION);
            match self.answer(request, max_bytes).await {
                // Batch work waits out Clerk's pause (in `take`) and asks again.
                Err(BackendApiError::RateLimited { .. })
                    if budget == Budget::Wait && attempt < RATE_LIMITED_ATTEMPTS =>
                {
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }

    /// Sends `request`; the status and at most `max_bytes` of the body. A 429 pauses every
    /// call for its `Retry-After` and is answered as [`BackendApiError::RateLimited`].
    async fn answer(
        &self,
        request: reqwest::RequestBuilder,
        max_bytes: usize,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), BackendApiError> {
        let response = request
            .send()
            .await
            .map_err(|e| BackendApiError::Unavailable(format!("request failed: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
            let pause = self.budget.rate_limited(retry_after);
            return Err(BackendApiError::RateLimited {
                retry_after: super::budget::whole_secs(pause),
            });
        }
        self.budget.answered();
        Ok((status, read_up_to(response, max_bytes).await?))
    }

    /// [`Self::get`] of a path under the API URL (`/v1/…`), built from checked ids only.
    pub(super) async fn get_path(
        &self,
        path: &str,
        max_bytes: usize,
        budget: Budget,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), BackendApiError> {
        self.get(format!("{}{path}", self.api_url), max_bytes, budget)
            .await
    }
}

/// The list endpoint answers a bare array; the paginated form `{data, total_count}` is read too.
fn parse_user_list(body: &[u8]) -> Result<Vec<BackendUser>, BackendApiError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Bare(Vec<BackendUser>),
        Paginated { data: Vec<BackendUser> },
    }
    match super::json::parse(body) {
        Ok(List::Bare(users) | List::Paginated { data: users }) => Ok(users),
        Err(e) => Err(BackendApiError::Unavailable(format!(
            "unexpected user list: {e}"
        ))),
    }
}

async fn read_up_to(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, BackendApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BackendApiError::Unavailable(format!("reading failed: {e}")))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > max_bytes {
            return Err(BackendApiError::Unavailable("response too large".into()));
        }
    }
    Ok(body)
}

/// A write to the Backend API (an administrator's action, a session refresh): refused at once
/// when its part of the budget is spent, since a person is waiting on it; never repeated.
pub(super) struct Write<'a> {
    pub method: reqwest::Method,
    /// The path under the API URL, `/v1/…`, built from checked ids only.
    pub path: String,
    pub body: Option<&'a Value>,
    /// [`Budget::Refuse`] or [`Budget::Browser`].
    pub budget: Budget,
}

impl BackendApi {
    /// Sends `write` with the secret key and Clerk's API version; the status and at most 1 MiB
    /// of the body.
    pub(super) async fn send(
        &self,
        write: Write<'_>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), BackendApiError> {
        self.budget.try_take(write.budget.caller())?;
        let mut request = self
            .http
            .request(write.method, format!("{}{}", self.api_url, write.path))
            .bearer_auth(&self.secret_key)
            .header("Clerk-API-Version", CLERK_API_VERSION);
        if let Some(body) = write.body {
            request = request.json(body);
        }
        self.answer(request, MAX_RESPONSE_BYTES).await
    }

    /// Drops the cached look-up of `user_id` (after a change made through this client).
    pub(super) async fn forget_user(&self, user_id: &str) {
        self.users.invalidate(user_id).await;
    }
}
