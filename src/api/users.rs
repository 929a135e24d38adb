//! `/api/users/…`: the signed-in user.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;

use crate::auth::CurrentUser;
use crate::users::User;

/// The seed's response body, field for field.
#[derive(Serialize)]
pub struct ClerkTest {
    message: &'static str,
    user: ClerkTestUser,
}

#[derive(Serialize)]
struct ClerkTestUser {
    id: i64,
    username: String,
    email: String,
    clerk_id: String,
}

fn clerk_test_body(user: User) -> Json<ClerkTest> {
    Json(ClerkTest {
        message: "Clerk authentication successful!",
        user: ClerkTestUser {
            id: user.id,
            username: user.username,
            email: user.email,
            clerk_id: user.clerk_id,
        },
    })
}

#[rocket::get("/users/clerk-test")]
fn clerk_test(current: CurrentUser) -> Json<ClerkTest> {
    clerk_test_body(current.user)
}

#[rocket::get("/users/me")]
fn me(current: CurrentUser) -> Json<User> {
    Json(current.user)
}

pub fn routes() -> Vec<Route> {
    rocket::routes![clerk_test, me]
}
