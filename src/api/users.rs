//! `/api/users/…`: the signed-in user.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::CurrentUser;
use crate::db::users::User;
use crate::error::AuthErrors;

/// The seed's response body, field for field.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClerkTest {
    message: &'static str,
    user: ClerkTestUser,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClerkTestUser {
    id: i64,
    username: String,
    email: String,
    clerk_id: String,
}

fn clerk_test_body(user: &User) -> Json<ClerkTest> {
    Json(ClerkTest {
        message: "Clerk authentication successful!",
        user: ClerkTestUser {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            clerk_id: user.clerk_id.clone(),
        },
    })
}

/// The seed's test endpoint: who the session token says you are (the final slash is optional).
#[utoipa::path(get, path = "/api/users/clerk-test/", tag = "users",
    responses((status = 200, body = ClerkTest), AuthErrors),
    security(("bearer" = []), ("session_cookie" = [])))]
#[rocket::get("/users/clerk-test")]
pub fn clerk_test(current: CurrentUser) -> Json<ClerkTest> {
    clerk_test_body(&current.user)
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
