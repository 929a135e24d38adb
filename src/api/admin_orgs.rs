//! `/api/admin/orgs`: the organizations kept from Clerk's webhooks and `sync`, and their
//! members, for administrators.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::Admin;
use crate::db::memberships::{self, Membership};
use crate::db::organizations::{self, Organization};
use crate::db::pagination;
use crate::db::Db;
use crate::directory::{find_organization, ListParams};
use crate::error::{ApiResult, AuthErrors, BadRequest};

/// A page of organizations, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationList {
    organizations: Vec<Organization>,
    next_cursor: Option<String>,
}

/// One organization and a page of its live members, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationDetail {
    #[serde(flatten)]
    organization: Organization,
    /// Live memberships in all.
    members_count: i64,
    members: Vec<Membership>,
    /// The next page of members: pass it as `cursor`.
    next_cursor: Option<String>,
}

/// Organizations newest first, by pages, optionally searched.
#[utoipa::path(get, path = "/api/admin/orgs", tag = "admin",
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive substring of the name, slug or Clerk id (at most 200 characters)"),
        ("limit" = Option<u32>, Query, description = "Organizations per page, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = OrganizationList), BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/admin/orgs?<q>&<limit>&<cursor>")]
pub async fn list(
    _admin: Admin,
    db: &Db,
    q: Option<&str>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> ApiResult<Json<OrganizationList>> {
    let params = ListParams::parse(q, limit, cursor)?;
    let page = organizations::search(db, params.query, params.start, params.limit).await?;
    Ok(Json(OrganizationList {
        next_cursor: page.next().and_then(pagination::encode),
        organizations: page.rows,
    }))
}

/// One organization with its members. `<id>`: the local id, or the Clerk id (`org_…`).
#[utoipa::path(get, path = "/api/admin/orgs/{id}", tag = "admin",
    params(
        ("id" = String, Path, description = "The local id (a positive number) or the Clerk organization id (`org_…`)"),
        ("limit" = Option<u32>, Query, description = "Members per page, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page of members"),
    ),
    responses((status = 200, body = OrganizationDetail), (status = 404, description = "No such organization", body = crate::error::ErrorBody), BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/admin/orgs/<id>?<limit>&<cursor>")]
pub async fn show(
    _admin: Admin,
    db: &Db,
    id: &str,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> ApiResult<Json<OrganizationDetail>> {
    let params = ListParams::parse(None, limit, cursor)?;
    let organization = find_organization(db, id).await?;
    let page = memberships::members(db, &organization.clerk_id, params.start, params.limit).await?;
    Ok(Json(OrganizationDetail {
        members_count: memberships::count_members(db, &organization.clerk_id).await?,
        organization,
        next_cursor: page.next().and_then(pagination::encode),
        members: page.rows,
    }))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show]
}
