//! `/api/admin/users`: browsing and searching every user, for administrators.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::Admin;
use crate::db::pagination;
use crate::db::users::{self, User};
use crate::db::Db;
use crate::directory::{find, ListParams};
use crate::error::{ApiResult, AuthErrors, BadRequest};

/// A page of users, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<User>,
    next_cursor: Option<String>,
}

/// Users newest first, by pages, optionally searched.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin",
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive substring of the email, names or Clerk id (at most 200 characters)"),
        ("limit" = Option<u32>, Query, description = "Users per page, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses((status = 200, body = UserList), BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/admin/users?<q>&<limit>&<cursor>")]
pub async fn list(
    _admin: Admin,
    db: &Db,
    q: Option<&str>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> ApiResult<Json<UserList>> {
    let params = ListParams::parse(q, limit, cursor)?;
    let page = users::search(db, params.query, params.start, params.limit).await?;
    let next_cursor = page.next().and_then(pagination::encode);
    Ok(Json(UserList {
        users: page.rows,
        next_cursor,
    }))
}

/// One user. `<id>`: the local id, or the Clerk user id (`user_…`).
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "The local id (a positive number) or the Clerk user id (`user_…`)")),
    responses((status = 200, body = User), (status = 404, description = "No such user", body = crate::error::ErrorBody), BadRequest, AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/admin/users/<id>")]
pub async fn show(_admin: Admin, db: &Db, id: &str) -> ApiResult<Json<User>> {
    let user = find(db, id).await?;
    Ok(Json(user))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show]
}
