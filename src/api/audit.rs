//! `GET /api/admin/audit`: what administrators did, newest first, by pages.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::Admin;
use crate::db::audit_events::{self, AuditEvent};
use crate::db::{pagination, Db};
use crate::error::{ApiResult, AuthErrors, BadRequest};
use crate::moderation::audit::AuditParams;

/// A page of the audit trail, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    events: Vec<AuditEvent>,
    next_cursor: Option<String>,
}

/// Every attempted action on a user (refusals included), newest first, by pages.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin",
    params(
        ("actor" = Option<String>, Query, description = "Only the actions of this administrator (Clerk user id)"),
        ("target" = Option<String>, Query, description = "Only the actions on this user (Clerk user id)"),
        ("action" = Option<String>, Query, description = "Only this action: `ban`, `unban`, `revoke-sessions` or `set-role`"),
        ("limit" = Option<u32>, Query, description = "Events per page, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = AuditList), BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/admin/audit?<actor>&<target>&<action>&<limit>&<cursor>")]
pub async fn list(
    _admin: Admin,
    db: &Db,
    actor: Option<&str>,
    target: Option<&str>,
    action: Option<&str>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> ApiResult<Json<AuditList>> {
    let params = AuditParams::parse(actor, target, action, limit, cursor)?;
    let page = audit_events::list(db, params.filter, params.start, params.limit).await?;
    let next_cursor = page.next().and_then(pagination::encode);
    Ok(Json(AuditList {
        events: page.rows,
        next_cursor,
    }))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list]
}
