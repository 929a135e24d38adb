//! `/.well-known/jwks.json`: the local-mode public key, as Clerk publishes its own.

use jsonwebtoken::jwk::JwkSet;
use rocket::serde::json::Json;
use rocket::{Route, State};

use crate::clerk::Clerk;

/// 404 outside local mode.
#[rocket::get("/.well-known/jwks.json")]
fn jwks(clerk: &State<Clerk>) -> Option<Json<JwkSet>> {
    clerk.local.as_ref().map(|local| Json(local.jwks()))
}

pub fn routes() -> Vec<Route> {
    rocket::routes![jwks]
}
