//! JSON routes. Handlers take guards and return data; they never parse tokens or write SQL.

pub mod admin;
mod health;
pub mod openapi;
mod users;
mod webhooks;

use rocket::Route;

/// Routes mounted under `/api`.
pub fn routes() -> Vec<Route> {
    let mut routes = users::routes();
    routes.extend(admin::routes());
    routes.extend(openapi::routes());
    routes.extend(webhooks::routes());
    routes
}

/// JSON routes mounted at the root (`/health`, `/ready`).
pub fn root_routes() -> Vec<Route> {
    health::routes()
}
