//! `/api/admin/users`: browsing and searching every user, for administrators.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use super::openapi::{AuthErrors, BadRequest};
use crate::auth::Admin;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::users::{self, PageStart, User};
use crate::{cursor, users::UserPage};

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;
/// Longer searches are refused rather than run.
pub const MAX_QUERY_CHARS: usize = 200;

/// A page of users, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<User>,
    next_cursor: Option<String>,
}

/// The parameters of a user list request, checked.
pub struct ListParams<'a> {
    pub query: &'a str,
    pub start: PageStart,
    pub limit: u32,
}

impl<'a> ListParams<'a> {
    pub fn parse(
        q: Option<&'a str>,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, String> {
        let query = q.unwrap_or("").trim();
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(format!("q is longer than {MAX_QUERY_CHARS} characters"));
        }
        if query.chars().any(char::is_control) {
            return Err("q contains control characters".into());
        }
        let limit = match limit.map(str::trim).filter(|l| !l.is_empty()) {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT}, found {:?}",
                        truncate(text)
                    ))
                }
            },
        };
        let start = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => PageStart::First,
            Some(c) => cursor::decode(c)?,
        };
        Ok(ListParams {
            query,
            start,
            limit,
        })
    }
}

/// The page after `page`, if there is one.
pub fn next_start(page: &UserPage) -> Option<PageStart> {
    page.users
        .last()
        .filter(|_| page.has_older)
        .map(|u| PageStart::After(u.id))
}

/// The page before `page`, if there is one.
pub fn previous_start(page: &UserPage) -> Option<PageStart> {
    page.users
        .first()
        .filter(|_| page.has_newer)
        .map(|u| PageStart::Before(u.id))
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
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
    let params = ListParams::parse(q, limit, cursor).map_err(ApiError::BadRequest)?;
    let page = users::search(db, params.query, params.start, params.limit).await?;
    let next_cursor = next_start(&page).and_then(cursor::encode);
    Ok(Json(UserList {
        users: page.users,
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

/// One user by local id or Clerk id, as both the JSON API and the admin page accept them.
pub async fn find(db: &Db, id: &str) -> ApiResult<User> {
    let found = if id.starts_with("user_") && id.len() <= 64 {
        users::find_by_clerk_id(&***db, id).await?
    } else {
        match id.parse::<i64>() {
            Ok(n) if n > 0 => users::find_by_id(db, n).await?,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "id must be a positive whole number or a Clerk user id (user_…), found {:?}",
                    truncate(id)
                )))
            }
        }
    };
    found.ok_or(ApiError::NotFound)
}

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show]
}
