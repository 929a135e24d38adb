//! Liveness and readiness for load balancers and orchestrators.

use rocket::http::Header;
use rocket::serde::json::{json, Json, Value};
use rocket::{Responder, Route, State};

use crate::clerk::Clerk;
use crate::db::Db;

#[rocket::get("/health")]
fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[derive(Responder)]
enum Readiness {
    Ready(Json<Value>),
    #[response(status = 503)]
    NotReady(Json<Value>, Header<'static>),
}

/// 200 when the database answers and signing keys are loaded; else 503 naming what is missing
/// (never why: the reason names configured URLs, and is in the server log).
#[rocket::get("/ready")]
async fn ready(db: &Db, clerk: &State<Clerk>) -> Readiness {
    let mut missing = Vec::new();
    if !db.ping().await {
        missing.push("database");
    }
    if !clerk.verifier.keys().has_keys() {
        missing.push("keys");
    }
    if missing.is_empty() {
        Readiness::Ready(Json(json!({ "status": "ready" })))
    } else {
        let body = json!({ "status": "unavailable", "missing": missing });
        Readiness::NotReady(Json(body), Header::new("Retry-After", "5"))
    }
}

pub fn routes() -> Vec<Route> {
    rocket::routes![health, ready]
}
