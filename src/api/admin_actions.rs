//! `/api/admin/users/<id>/ban`, `/unban`, `/revoke-sessions` and `PATCH /api/admin/users/<id>`:
//! administrators' actions on a user, through Clerk's Backend API, applied here at once, audited.
//! Each takes [`AdminWriter`]: the stored or configured admin role, never a token's claim alone.

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::Value;

use crate::auth::{AdminWriter, Caches};
use crate::clerk::Clerk;
use crate::db::users::User;
use crate::db::Db;
use crate::error::{ActionErrors, ApiError, ApiResult, AuthErrors, BadRequest};
use crate::moderation::{self, Action, Actor};
use crate::observability::RequestId;

/// The body of `PATCH /api/admin/users/<id>`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // read by hand (`null` and absent differ); this describes it
pub struct RoleChange {
    /// The new `public_metadata.role` (`"admin"`, or another short lower-case name), or `null`
    /// to remove it. Other keys of the metadata are kept.
    role: Option<String>,
}

async fn act(
    admin: &AdminWriter,
    clerk: &Clerk,
    db: &Db,
    caches: &Caches<'_>,
    request_id: &RequestId,
    id: &str,
    action: Action,
) -> ApiResult<Json<User>> {
    let actor = Actor {
        clerk_id: &admin.0.user.clerk_id,
        request_id: &request_id.0,
        session: &admin.0.session,
    };
    let result = moderation::perform(db, clerk, actor, id, &action).await;
    if let Some((clerk_id, sessions)) = moderation::changed(&result) {
        caches.forget_changed(clerk_id, sessions).await;
    }
    Ok(Json(result?.user))
}

/// Bans the user at Clerk (which ends their sessions) and here: refused from their next request.
#[utoipa::path(post, path = "/api/admin/users/{id}/ban", tag = "admin",
    params(("id" = String, Path, description = "The local id or the Clerk user id (`user_…`)")),
    responses((status = 200, description = "The user as now stored", body = User), BadRequest, AuthErrors, ActionErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::post("/admin/users/<id>/ban")]
pub async fn ban(
    admin: AdminWriter,
    clerk: &State<Clerk>,
    db: &Db,
    caches: Caches<'_>,
    request_id: RequestId,
    id: &str,
) -> ApiResult<Json<User>> {
    act(&admin, clerk, db, &caches, &request_id, id, Action::Ban).await
}

/// Lifts a ban at Clerk and here.
#[utoipa::path(post, path = "/api/admin/users/{id}/unban", tag = "admin",
    params(("id" = String, Path, description = "The local id or the Clerk user id (`user_…`)")),
    responses((status = 200, description = "The user as now stored", body = User), BadRequest, AuthErrors, ActionErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::post("/admin/users/<id>/unban")]
pub async fn unban(
    admin: AdminWriter,
    clerk: &State<Clerk>,
    db: &Db,
    caches: Caches<'_>,
    request_id: RequestId,
    id: &str,
) -> ApiResult<Json<User>> {
    act(&admin, clerk, db, &caches, &request_id, id, Action::Unban).await
}

/// Ends every active session of the user at Clerk; here, every token issued so far is refused.
#[utoipa::path(post, path = "/api/admin/users/{id}/revoke-sessions", tag = "admin",
    params(("id" = String, Path, description = "The local id or the Clerk user id (`user_…`)")),
    responses((status = 200, description = "The user as now stored", body = User), BadRequest, AuthErrors, ActionErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::post("/admin/users/<id>/revoke-sessions")]
pub async fn revoke_sessions(
    admin: AdminWriter,
    clerk: &State<Clerk>,
    db: &Db,
    caches: Caches<'_>,
    request_id: RequestId,
    id: &str,
) -> ApiResult<Json<User>> {
    act(
        &admin,
        clerk,
        db,
        &caches,
        &request_id,
        id,
        Action::RevokeSessions,
    )
    .await
}

/// Sets or removes the user's role (`public_metadata.role`, merged by Clerk: other keys stay).
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "The local id or the Clerk user id (`user_…`)")),
    request_body = RoleChange,
    responses((status = 200, description = "The user as now stored", body = User), BadRequest, AuthErrors, ActionErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::patch("/admin/users/<id>", data = "<body>")]
pub async fn update(
    admin: AdminWriter,
    clerk: &State<Clerk>,
    db: &Db,
    caches: Caches<'_>,
    request_id: RequestId,
    id: &str,
    body: Json<Value>,
) -> ApiResult<Json<User>> {
    let role = match body.get("role") {
        Some(Value::Null) => None,
        Some(Value::String(role)) => Some(role.clone()),
        _ => {
            return Err(ApiError::BadRequest(
                "send {\"role\": \"admin\"} or {\"role\": null}".into(),
            ))
        }
    };
    if body.as_object().is_some_and(|fields| fields.len() > 1) {
        return Err(ApiError::BadRequest(
            "only \"role\" can be changed here".into(),
        ));
    }
    let action = Action::SetRole(role);
    act(&admin, clerk, db, &caches, &request_id, id, action).await
}

pub fn routes() -> Vec<Route> {
    rocket::routes![ban, unban, revoke_sessions, update]
}
