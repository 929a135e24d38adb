//! `GET /api/whoami`: the auth object of any token type, for machine clients to check their
//! credentials and for people to see what their session token carries. It accepts pending
//! sessions (Clerk's session tasks), and says so: an onboarding script can tell "sign in" from
//! "finish the task".

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::{AcceptPending, Any, Auth};
use crate::clerk::auth_object::AuthObject;
use crate::clerk::session_tasks::TASKS_PATH;
use crate::clerk::token::SessionStatus;
use crate::error::AuthErrors;

/// Who the request is, whatever token it sent. Fields that do not apply to the token type are
/// null, lists empty.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// `session_token`, `m2m_token`, `oauth_token` or `api_key`.
    pub token_type: &'static str,
    /// The user (sessions, OAuth tokens), the machine (M2M tokens) or the owner (API keys).
    pub subject: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    /// Sessions: Clerk's `sts`, `active` or `pending`; null for machine tokens.
    pub session_status: Option<&'static str>,
    /// Whether the session is pending: the user must still finish a session task (choose an
    /// organization, set up MFA, reset their password); every other route refuses it with
    /// `401 session-pending`.
    pub pending: bool,
    /// Where a pending session's user finishes the task (this app's task page); null otherwise.
    pub tasks_url: Option<&'static str>,
    pub org_id: Option<String>,
    pub org_slug: Option<String>,
    pub org_role: Option<String>,
    pub org_permissions: Vec<String>,
    /// The session's `fea` entries (`o:seats`, `u:beta`).
    pub features: Vec<String>,
    /// M2M tokens: the machines allowed to receive it; OAuth tokens and API keys: their scopes.
    pub scopes: Vec<String>,
    pub machine_id: Option<String>,
    pub client_id: Option<String>,
    /// An API key's name.
    pub name: Option<String>,
}

impl From<&AuthObject> for WhoAmI {
    fn from(auth: &AuthObject) -> Self {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let org = auth.org();
        let pending = auth.session_status() == Some(SessionStatus::Pending);
        WhoAmI {
            token_type: auth.token_type().name(),
            subject: auth.subject().to_owned(),
            user_id: owned(auth.user_id()),
            session_id: owned(auth.session_id()),
            session_status: auth.session_status().map(SessionStatus::as_str),
            pending,
            tasks_url: pending.then_some(TASKS_PATH),
            org_id: owned(auth.org_id()),
            org_slug: org.and_then(|o| o.slug.clone()),
            org_role: org.and_then(|o| o.role.clone()),
            org_permissions: org.map(|o| o.permissions.clone()).unwrap_or_default(),
            features: auth.features().to_vec(),
            scopes: auth.scopes().to_vec(),
            machine_id: owned(auth.machine_id()),
            client_id: owned(auth.client_id()),
            name: owned(auth.name()),
        }
    }
}

/// Who you are, for any token type: a session token, an M2M token, an OAuth access token or an
/// API key (machine tokens in the `Authorization` header only). A pending session is answered
/// too, with `pending: true` and its `tasks_url`.
#[utoipa::path(get, path = "/api/whoami", tag = "machines",
    responses((status = 200, body = WhoAmI), AuthErrors),
    security(("bearer" = []), ("session_cookie" = []), ("m2m_token" = []), ("oauth_token" = []), ("api_key" = [])))]
#[rocket::get("/whoami")]
pub fn whoami(auth: Auth<Any, AcceptPending>) -> Json<WhoAmI> {
    Json(WhoAmI::from(&auth.object))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![whoami]
}
