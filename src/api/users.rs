//! `/api/users/…`: the signed-in user.

use std::sync::Arc;

use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::CurrentUser;
use crate::db::users::User;
use crate::error::AuthErrors;

/// The seed's response body, field for field.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClerkTest<'a> {
    message: &'static str,
    user: ClerkTestUser<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClerkTestUser<'a> {
    id: i64,
    username: &'a str,
    email: &'a str,
    clerk_id: &'a str,
}

/// [`ClerkTest`] of a user row, serialised straight from the row (this is the hot route: no
/// copies of its strings).
pub struct ClerkTestAnswer(Arc<User>);

impl<'r> Responder<'r, 'static> for ClerkTestAnswer {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let user = &self.0;
        Json(ClerkTest {
            message: "Clerk authentication successful!",
            user: ClerkTestUser {
                id: user.id,
                username: &user.username,
                email: &user.email,
                clerk_id: &user.clerk_id,
            },
        })
        .respond_to(request)
    }
}

/// The seed's test endpoint: who the session token says you are (the final slash is optional).
#[utoipa::path(get, path = "/api/users/clerk-test/", tag = "users",
    responses((status = 200, body = ClerkTest), AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/users/clerk-test")]
pub fn clerk_test(current: CurrentUser) -> ClerkTestAnswer {
    ClerkTestAnswer(current.user)
}

/// The signed-in user's whole record.
#[utoipa::path(get, path = "/api/users/me", tag = "users",
    responses((status = 200, body = User), AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/users/me")]
pub fn me(current: CurrentUser) -> Json<User> {
    // The role this request is served with; a token's role claim is never stored.
    let role = current.role().map(str::to_owned);
    Json(User {
        role,
        ..User::clone(&current.user)
    })
}

pub fn routes() -> Vec<Route> {
    rocket::routes![clerk_test, me]
}
