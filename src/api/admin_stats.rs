//! `/api/admin/stats`: the user base at a glance, for administrators (the figures of `/admin`).

use rocket::serde::json::Json;
use rocket::Route;

use crate::auth::Admin;
use crate::clerk::token::now;
use crate::db::stats::{user_stats, UserStats};
use crate::db::Db;
use crate::error::{ApiResult, AuthErrors};

/// Totals, sign-ups and active users per UTC day for the last 30 days (oldest first, today
/// last), and the newest users.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin",
    responses((status = 200, body = UserStats), AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/admin/stats")]
pub async fn stats(_admin: Admin, db: &Db) -> ApiResult<Json<UserStats>> {
    Ok(Json(user_stats(db, now()).await?))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![stats]
}
