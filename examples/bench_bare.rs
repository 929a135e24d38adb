//! The floor of the HTTP benchmark (`bench/run`; see bench/README.md): a bare Rocket app with one
//! JSON route, `GET /health` answering `{"status":"ok"}` as the app's own does, and nothing else
//! attached (no fairings, no database, no templates). It reads the same `Rocket.toml` and
//! `ROCKET_*` variables as the app.

use rocket::serde::json::{json, Json, Value};

/// The app's allocator (src/main.rs): the floor is built the same way.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[rocket::get("/health")]
fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[rocket::launch]
fn rocket() -> _ {
    rocket::build().mount("/", rocket::routes![health])
}
