//! A real HTTP server on 127.0.0.1 standing in for Clerk's frontend API (JWKS) and Backend API.

use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::keys::TestKey;

/// The fake Clerk; anything the helpers below do not serve can be mounted on its `server`.
pub struct FakeClerk {
    pub server: MockServer,
    /// wiremock answers with the matching mock of the lowest priority number: each new JWKS
    /// gets a lower one, so that it replaces the one served before.
    pub(super) next_priority: AtomicU8,
}

impl FakeClerk {
    pub async fn start() -> FakeClerk {
        FakeClerk {
            server: MockServer::start().await,
            next_priority: AtomicU8::new(200),
        }
    }

    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.server.uri())
    }

    #[must_use]
    pub fn api_url(&self) -> String {
        self.server.uri()
    }

    /// Serves a JWKS holding `keys` (replacing what was served).
    pub async fn serve_jwks(&self, keys: &[&TestKey]) {
        self.serve_jwks_body(jwks(keys)).await;
    }

    /// Serves `body` as the JWKS, however malformed (replacing what was served).
    pub async fn serve_jwks_body(&self, body: Value) {
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .with_priority(self.next_priority.fetch_sub(1, Ordering::Relaxed))
            .mount(&self.server)
            .await;
    }

    /// Serves a JWKS holding `keys` whose `Date` header is `offset_secs` away from now, for
    /// `clerk-rocket check`'s clock comparison.
    pub async fn serve_jwks_dated(&self, keys: &[&TestKey], offset_secs: i64) {
        /// Writes the `Date` when answering, not when mounted: a second boundary crossed in
        /// between would otherwise read as a 1 s offset.
        struct Dated {
            offset: time::Duration,
            body: Value,
        }
        impl wiremock::Respond for Dated {
            fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
                let date = time::OffsetDateTime::now_utc() + self.offset;
                ResponseTemplate::new(200)
                    .insert_header("Date", http_date(date).as_str())
                    .set_body_json(&self.body)
            }
        }
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(Dated {
                offset: time::Duration::seconds(offset_secs),
                body: jwks(keys),
            })
            .with_priority(self.next_priority.fetch_sub(1, Ordering::Relaxed))
            .mount(&self.server)
            .await;
    }

    /// Serves the Backend API's `GET /v1/jwks` holding `keys` to requests bearing `secret_key`.
    pub async fn serve_backend_jwks(&self, secret_key: &str, keys: &[&TestKey]) {
        Mock::given(method("GET"))
            .and(path("/v1/jwks"))
            .and(wiremock::matchers::header(
                "authorization",
                format!("Bearer {secret_key}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks(keys)))
            .mount(&self.server)
            .await;
    }

    /// The Backend API refuses every secret key, as Clerk does an unknown or rolled one.
    pub async fn refuse_backend_jwks(&self) {
        let body = json!({ "errors": [{
            "code": "clerk_key_invalid",
            "message": "Secret Key is invalid",
            "long_message": "The provided Secret Key is invalid."
        }] });
        Mock::given(method("GET"))
            .and(path("/v1/jwks"))
            .respond_with(ResponseTemplate::new(401).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    /// Serves the Backend API's `GET /v1/users/{id}` for one user, whose primary address is not
    /// the first, as Clerk may list them.
    pub async fn serve_user(&self, user_id: &str, email: &str) {
        let body = json!({
            "id": user_id, "object": "user", "first_name": "Ada", "last_name": "Lovelace",
            "primary_email_address_id": "idn_2",
            "email_addresses": [
                { "id": "idn_1", "email_address": format!("secondary.{email}") },
                { "id": "idn_2", "email_address": email }
            ]
        });
        Mock::given(method("GET"))
            .and(path(format!("/v1/users/{user_id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    /// How many requests reached `path`.
    pub async fn hits(&self, wanted: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == wanted)
            .count()
    }
}

/// The Backend API's user administration: ban, unban, metadata, sessions.
impl FakeClerk {
    /// Serves `POST /v1/users/{id}/ban` and `/unban`, `PATCH /v1/users/{id}/metadata` (each
    /// answering the user object with `updated_at` set to the time of the answer, and the role
    /// last set through `/metadata` in its `public_metadata`), `GET /v1/sessions` listing
    /// `sessions` as the user's active ones, and `POST /v1/sessions/{sid}/revoke` for each.
    pub async fn serve_user_admin(&self, user_id: &str, sessions: &[&str]) {
        self.serve_user_admin_after(user_id, sessions, std::time::Duration::ZERO)
            .await;
    }

    /// [`Self::serve_user_admin`], each answer of the user writes sent after `delay` (for
    /// actions that must overlap).
    pub async fn serve_user_admin_after(
        &self,
        user_id: &str,
        sessions: &[&str],
        delay: std::time::Duration,
    ) {
        let state = std::sync::Arc::new(UserAtClerk {
            id: user_id.to_owned(),
            state: std::sync::Mutex::new((false, Value::Null)),
            delay,
        });
        for (verb, suffix) in [("POST", "/ban"), ("POST", "/unban"), ("PATCH", "/metadata")] {
            Mock::given(method(verb))
                .and(path(format!("/v1/users/{user_id}{suffix}")))
                .respond_with(UserWrite(std::sync::Arc::clone(&state)))
                .mount(&self.server)
                .await;
        }
        let listed: Vec<Value> = sessions
            .iter()
            .map(|sid| json!({ "id": sid, "object": "session", "user_id": user_id, "status": "active" }))
            .collect();
        Mock::given(method("GET"))
            .and(path("/v1/sessions"))
            .and(wiremock::matchers::query_param("user_id", user_id))
            .and(wiremock::matchers::query_param("status", "active"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!(listed)))
            .mount(&self.server)
            .await;
        for sid in sessions {
            Mock::given(method("POST"))
                .and(path(format!("/v1/sessions/{sid}/revoke")))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(
                        json!({ "id": sid, "object": "session", "status": "revoked" }),
                    ),
                )
                .mount(&self.server)
                .await;
        }
    }

    /// `POST /v1/sessions/{sid}/revoke` answers `status` from now on (ahead of what was served).
    pub async fn fail_session_revoke(&self, sid: &str, status: u16) {
        Mock::given(method("POST"))
            .and(path(format!("/v1/sessions/{sid}/revoke")))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({ "errors": [{
                "code": "internal_error", "message": "Something went wrong"
            }] })),
            )
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Every Backend API call under `/v1/users` and `/v1/sessions` answers `status` from now on
    /// (ahead of what was served before).
    pub async fn fail_user_admin(&self, status: u16) {
        for prefix in ["^/v1/users/", "^/v1/sessions"] {
            Mock::given(wiremock::matchers::path_regex(prefix))
                .respond_with(
                    ResponseTemplate::new(status).set_body_json(json!({ "errors": [{
                    "code": "internal_error", "message": "Something went wrong"
                }] })),
                )
                .with_priority(1)
                .mount(&self.server)
                .await;
        }
    }

    /// The requests that reached a path starting with `prefix`, in order: method, path with its
    /// query, and the body as JSON (`null` when empty).
    pub async fn requests_to(&self, prefix: &str) -> Vec<(String, String, Value)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().starts_with(prefix))
            .map(|r| {
                let target = match r.url.query() {
                    Some(query) => format!("{}?{query}", r.url.path()),
                    None => r.url.path().to_owned(),
                };
                let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                (r.method.to_string(), target, body)
            })
            .collect()
    }
}

/// One user as the fake Backend API keeps it between administrators' writes.
struct UserAtClerk {
    id: String,
    /// Whether the user is banned, and its `public_metadata.role`.
    state: std::sync::Mutex<(bool, Value)>,
    delay: std::time::Duration,
}

/// Clerk's answer to a user write: the user after it, as of the moment of the answer.
struct UserWrite(std::sync::Arc<UserAtClerk>);

impl wiremock::Respond for UserWrite {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let user = &self.0;
        let mut state = user
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match request.url.path().rsplit('/').next() {
            Some("ban") => state.0 = true,
            Some("unban") => state.0 = false,
            _ => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                if let Some(role) = body["public_metadata"].get("role") {
                    state.1 = role.clone();
                }
            }
        }
        let metadata = if state.1.is_null() {
            json!({})
        } else {
            json!({ "role": state.1 })
        };
        let updated_at = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "id": user.id, "object": "user", "banned": state.0,
                "updated_at": i64::try_from(updated_at).unwrap_or(i64::MAX),
                "email_addresses": [], "public_metadata": metadata
            }))
            .set_delay(user.delay)
    }
}

/// The Backend API's organizations, for `clerk-rocket sync`.
impl FakeClerk {
    /// Serves `GET /v1/organizations` listing `orgs` (paginated, `limit`/`offset` honoured),
    /// `GET /v1/organizations/{id}` for each, and its memberships from `members` (pairs of an
    /// organization id and its membership objects) at `GET /v1/organizations/{id}/memberships`.
    pub async fn serve_organizations(&self, orgs: &[Value], members: &[(&str, Vec<Value>)]) {
        Mock::given(method("GET"))
            .and(path("/v1/organizations"))
            .respond_with(Paged(orgs.to_vec()))
            .mount(&self.server)
            .await;
        for org in orgs {
            Mock::given(method("GET"))
                .and(path(format!(
                    "/v1/organizations/{}",
                    org["id"].as_str().unwrap_or("")
                )))
                .respond_with(ResponseTemplate::new(200).set_body_json(org))
                .mount(&self.server)
                .await;
        }
        for (org_id, listed) in members {
            Mock::given(method("GET"))
                .and(path(format!("/v1/organizations/{org_id}/memberships")))
                .respond_with(Paged(listed.clone()))
                .mount(&self.server)
                .await;
        }
    }

    /// Answers every organization call as an instance with Organizations turned off does.
    pub async fn serve_organizations_turned_off(&self) {
        Mock::given(wiremock::matchers::path_regex("^/v1/organizations"))
            .respond_with(
                ResponseTemplate::new(403).set_body_json(json!({ "errors": [{
                "code": "organization_not_enabled_in_instance",
                "message": "access denied",
                "long_message": "The organizations feature is not enabled for this instance."
            }] })),
            )
            .mount(&self.server)
            .await;
    }
}

/// A list endpoint's answer, `{data, total_count}`, honouring `limit`, `offset` and (for
/// memberships) `user_id`.
struct Paged(Vec<Value>);

impl wiremock::Respond for Paged {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let text = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        let number = |name: &str| text(name).and_then(|value| value.parse::<usize>().ok());
        let listed: Vec<&Value> = match text("user_id") {
            Some(user) => self
                .0
                .iter()
                .filter(|m| m["public_user_data"]["user_id"] == user.as_str())
                .collect(),
            None => self.0.iter().collect(),
        };
        let offset = number("offset").unwrap_or(0).min(listed.len());
        let limit = number("limit").unwrap_or(10);
        let end = offset.saturating_add(limit).min(listed.len());
        ResponseTemplate::new(200)
            .set_body_json(json!({ "data": &listed[offset..end], "total_count": listed.len() }))
    }
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

/// An HTTP date (`Thu, 26 Nov 2026 07:00:00 GMT`) for `Date` headers.
#[must_use]
pub fn http_date(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap()
}
