//! JSON routes. Handlers take guards and return data; they never parse tokens or write SQL.

mod admin;
mod admin_stats;
mod health;
pub(crate) mod openapi;
mod users;
mod webhooks;
mod well_known;

use rocket::Route;

/// Routes mounted under `/api`.
pub fn routes() -> Vec<Route> {
    let mut routes = users::routes();
    routes.extend(admin::routes());
    routes.extend(admin_stats::routes());
    routes.extend(openapi::routes());
    routes.extend(webhooks::routes());
    routes
}

/// JSON routes mounted at the root (`/health`, `/ready`, `/.well-known/jwks.json`).
pub fn root_routes() -> Vec<Route> {
    let mut routes = health::routes();
    routes.extend(well_known::routes());
    routes
}
