//! `/api/orgs/…`: the signed-in user's organizations, as their session token names them and the
//! stored memberships confirm.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::{Auth, Authorized, ReadMemberships};
use crate::db::memberships::{self, Membership};
use crate::db::{pagination, Db};
use crate::directory::ListParams;
use crate::error::{ApiError, ApiResult, AuthErrors, BadRequest};

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

/// A page of the active organization's live members, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    /// The active organization (`org_…`).
    pub organization_id: String,
    pub slug: Option<String>,
    /// The organization's name, when it is stored here.
    pub name: Option<String>,
    /// Live memberships in all.
    pub members_count: i64,
    pub members: Vec<Membership>,
    /// The next page: pass it as `cursor`.
    pub next_cursor: Option<String>,
}

/// The members of the session's active organization, from the memberships kept from Clerk's
/// webhooks and `sync`. Needs `org:sys_memberships:read`: a system permission, which session
/// tokens never carry, so it is read from the caller's stored membership (Clerk's default roles
/// `org:admin` and `org:member` both hold it); without a stored membership, 403.
#[utoipa::path(get, path = "/api/orgs/current/members", tag = "organizations",
    params(
        ("limit" = Option<u32>, Query, description = "Members per page, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = MemberList),
        (status = 403, description = "No active organization, or its stored membership does not grant `org:sys_memberships:read` (`missing-permission`)", body = crate::error::ErrorBody),
        BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/orgs/current/members?<limit>&<cursor>")]
pub async fn members(
    authorized: Authorized<ReadMemberships>,
    db: &Db,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> ApiResult<Json<MemberList>> {
    let params = ListParams::parse(None, limit, cursor)?;
    let auth = &authorized.auth;
    // The requirement passed: the session has an active organization.
    let org = auth.object.org().ok_or(ApiError::NoActiveOrganization)?;
    let page = memberships::members(db, &org.id, params.start, params.limit).await?;
    Ok(Json(MemberList {
        organization_id: org.id.clone(),
        slug: org.slug.clone(),
        name: auth.org_name.clone(),
        members_count: memberships::count_members(db, &org.id).await?,
        next_cursor: page.next().and_then(pagination::encode),
        members: page.rows,
    }))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![current, members]
}
