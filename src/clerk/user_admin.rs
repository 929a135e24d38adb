//! The Backend API calls behind administrators' actions on a user: ban, unban, end every active
//! session, and set `public_metadata.role`.
//!
//! Each spends the client's rate budget, the reserve included (an administrator's action is
//! trusted), and fails at once when it is spent or Clerk rate limits the key: an administrator
//! is waiting on the answer.

use serde::Deserialize;
use serde_json::{json, Value};

use super::backend_api::{BackendApi, BackendApiError, BackendUser, Budget, Write};

/// Sessions listed per request (Clerk allows up to 500).
const SESSIONS_PAGE: usize = 100;
/// A user with more active sessions than this is not a person: stop listing.
const MAX_SESSIONS: usize = 2_000;

/// A Clerk session, as `GET /v1/sessions` lists it; only what is used.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BackendSession {
    pub id: String,
    /// When the session ends at the latest, in milliseconds.
    #[serde(default)]
    pub expire_at: Option<i64>,
}

/// Clerk ids are `user_`/`sess_` + base62: anything else is never sent as a path segment.
fn checked_id(id: &str) -> Result<&str, BackendApiError> {
    let plain = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        Ok(id)
    } else {
        Err(BackendApiError::UserNotFound(id.chars().take(64).collect()))
    }
}

fn failed(status: reqwest::StatusCode) -> BackendApiError {
    match status.as_u16() {
        401 | 403 => BackendApiError::SecretKeyInvalid,
        _ => BackendApiError::Unavailable(format!("answered {status}")),
    }
}

impl BackendApi {
    /// `POST /v1/users/{id}/ban`: Clerk also ends every session of the user.
    pub async fn ban_user(&self, user_id: &str) -> Result<BackendUser, BackendApiError> {
        self.user_write(user_id, reqwest::Method::POST, "/ban", None)
            .await
    }

    /// `POST /v1/users/{id}/unban`.
    pub async fn unban_user(&self, user_id: &str) -> Result<BackendUser, BackendApiError> {
        self.user_write(user_id, reqwest::Method::POST, "/unban", None)
            .await
    }

    /// `PATCH /v1/users/{id}/metadata` with `{"public_metadata": {"role": role}}`. Clerk merges
    /// it into the stored metadata (deeply), so other keys stay; `null` removes the role.
    pub async fn set_user_role(
        &self,
        user_id: &str,
        role: Option<&str>,
    ) -> Result<BackendUser, BackendApiError> {
        let body = json!({ "public_metadata": { "role": role } });
        self.user_write(user_id, reqwest::Method::PATCH, "/metadata", Some(&body))
            .await
    }

    async fn user_write(
        &self,
        user_id: &str,
        method: reqwest::Method,
        suffix: &str,
        body: Option<&Value>,
    ) -> Result<BackendUser, BackendApiError> {
        let id = checked_id(user_id)?;
        let (status, answer) = self
            .send(Write {
                method,
                path: format!("/v1/users/{id}{suffix}"),
                body,
                budget: Budget::Refuse,
            })
            .await?;
        self.forget_user(id).await;
        match status.as_u16() {
            200..=299 => super::json::parse(&answer)
                .map_err(|e| BackendApiError::Unavailable(format!("unexpected user object: {e}"))),
            404 => Err(BackendApiError::UserNotFound(id.to_owned())),
            _ => Err(failed(status)),
        }
    }

    /// `GET /v1/sessions?user_id=…&status=active`, page by page: every active session.
    pub async fn active_sessions(
        &self,
        user_id: &str,
    ) -> Result<Vec<BackendSession>, BackendApiError> {
        let id = checked_id(user_id)?;
        let mut sessions: Vec<BackendSession> = Vec::new();
        loop {
            let (status, answer) = self
                .send(Write {
                    method: reqwest::Method::GET,
                    path: format!(
                        "/v1/sessions?user_id={id}&status=active&limit={SESSIONS_PAGE}&offset={}",
                        sessions.len()
                    ),
                    body: None,
                    budget: Budget::Refuse,
                })
                .await?;
            if !status.is_success() {
                return Err(failed(status));
            }
            let page = parse_session_list(&answer)?;
            let count = page.len();
            for session in page {
                if !sessions.iter().any(|s| s.id == session.id) {
                    sessions.push(session);
                }
            }
            if count < SESSIONS_PAGE || sessions.len() >= MAX_SESSIONS {
                return Ok(sessions);
            }
        }
    }

    /// `POST /v1/sessions/{id}/revoke`. A session Clerk no longer has (404) is ended already.
    pub async fn revoke_session(&self, session_id: &str) -> Result<(), BackendApiError> {
        let id = checked_id(session_id)?;
        let (status, _) = self
            .send(Write {
                method: reqwest::Method::POST,
                path: format!("/v1/sessions/{id}/revoke"),
                body: None,
                budget: Budget::Refuse,
            })
            .await?;
        match status.as_u16() {
            200..=299 | 404 => Ok(()),
            _ => Err(failed(status)),
        }
    }
}

/// A bare array, or the paginated form `{data, total_count}`.
fn parse_session_list(body: &[u8]) -> Result<Vec<BackendSession>, BackendApiError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Bare(Vec<BackendSession>),
        Paginated { data: Vec<BackendSession> },
    }
    match serde_json::from_slice(body) {
        Ok(List::Bare(sessions) | List::Paginated { data: sessions }) => Ok(sessions),
        Err(e) => Err(BackendApiError::Unavailable(format!(
            "unexpected session list: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_are_not_plain_never_reach_a_path() {
        assert!(checked_id("user_2abcXYZ").is_ok());
        for bad in ["", "user_../x", "sess_1?x=1", "user_a/b", &"u".repeat(65)] {
            assert!(checked_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_lists_read_in_both_forms() {
        let bare = br#"[{"id":"sess_1","expire_at":1},{"id":"sess_2"}]"#;
        assert_eq!(parse_session_list(bare).unwrap().len(), 2);
        let paged = br#"{"data":[{"id":"sess_3"}],"total_count":1}"#;
        assert_eq!(parse_session_list(paged).unwrap()[0].id, "sess_3");
        assert!(parse_session_list(b"{}").is_err());
    }
}
