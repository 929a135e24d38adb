//! `/api/orgs/…`: the signed-in user's organizations, as their session token names them and the
//! stored memberships confirm.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, AuthErrors};

/// The session's active organization and the caller's place in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrentOrg {
    /// `org_…`.
    pub id: String,
    pub slug: Option<String>,
    /// The organization's name: not in the token; from the organizations kept from webhooks and
    /// `sync` (null when this organization is not stored here).
    pub name: Option<String>,
    /// The caller's role, `org:`-prefixed (`org:admin`).
    pub role: Option<String>,
    /// The caller's custom permissions (`org:<feature>:<permission>`); system permissions
    /// (`org:sys_*`) are never in session tokens.
    pub permissions: Vec<String>,
}

/// The active organization of the session, from its token (v1 or v2 claims), unless the stored
/// membership ended (then none) or changed role after the token was issued (then the stored one).
#[utoipa::path(get, path = "/api/orgs/current", tag = "organizations",
    responses((status = 200, body = CurrentOrg),
        (status = 404, description = "No active organization (`no-active-organization`)", body = crate::error::ErrorBody),
        AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/orgs/current")]
pub fn current(auth: Auth) -> ApiResult<Json<CurrentOrg>> {
    let org = auth.object.org().ok_or(ApiError::NoActiveOrganization)?;
    Ok(Json(CurrentOrg {
        id: org.id.clone(),
        slug: org.slug.clone(),
        name: auth.org_name.clone(),
        role: org.role.clone(),
        permissions: org.permissions.clone(),
    }))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![current]
}
