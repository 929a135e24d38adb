//! The floor of the HTTP benchmark (`bench/run`; see bench/README.md): a bare Rocket app, with
//! nothing attached (no fairings, no database, no templates), reading the same `Rocket.toml` and
//! `ROCKET_*` variables as the app. Two routes:
//!
//! - `GET /health`, answering `{"status":"ok"}` as the app's own does: the baseline of `/health`;
//! - `GET /api/users/clerk-test`, answering what the app answers a signed-in user there, with the
//!   same headers, and authenticating nobody: what that answer costs Rocket and the kernel, so
//!   that the benchmark shows how much of the authenticated route's cost is authentication.

use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::{json, Json, Value};

/// The app's allocator (src/main.rs): the floor is built the same way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[rocket::get("/health")]
fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The app's answer to a signed-in user, with the headers the app adds to it (Rocket's Shield
/// adds the rest here as there).
struct SignedInAnswer(Value);

impl<'r> Responder<'r, 'static> for SignedInAnswer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = self.0.to_string();
        Response::build()
            .header(ContentType::JSON)
            .header(Header::new(
                "Referrer-Policy",
                "strict-origin-when-cross-origin",
            ))
            .header(Header::new("Cache-Control", "no-store"))
            .header(Header::new("Vary", "Authorization, Cookie"))
            .header(Header::new("x-request-id", "0123456789abcdef01234567"))
            .header(Header::new("x-clerk-auth-status", "signed-in"))
            .sized_body(body.len(), std::io::Cursor::new(body))
            .ok()
    }
}

#[rocket::get("/api/users/clerk-test")]
fn clerk_test() -> SignedInAnswer {
    SignedInAnswer(json!({
        "message": "Clerk authentication successful!",
        "user": {
            "id": 1,
            "username": "",
            "email": "bench1@example.test",
            "clerk_id": "user_bench_00000001",
        },
    }))
}

#[rocket::launch]
fn rocket() -> _ {
    rocket::build().mount("/", rocket::routes![health, clerk_test])
}
