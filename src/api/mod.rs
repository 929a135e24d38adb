//! JSON routes. Handlers take guards and return data; they never parse tokens or write SQL.

mod admin;
mod admin_actions;
mod admin_orgs;
mod admin_stats;
mod audit;
mod health;
pub(crate) mod openapi;
mod orgs;
mod tokens;
mod users;
mod webhooks;
mod well_known;
mod whoami;

use rocket::Route;

/// Routes mounted under `/api`.
pub fn routes() -> Vec<Route> {
    let mut routes = users::routes();
    routes.extend(admin::routes());
    routes.extend(admin_stats::routes());
    routes.extend(openapi::routes());
    routes.extend(webhooks::routes());
    // Administrators' actions on users and their audit trail.
    routes.extend(admin_actions::routes());
    routes.extend(audit::routes());
    // Machine clients and organizations.
    routes.extend(whoami::routes());
    routes.extend(orgs::routes());
    routes.extend(admin_orgs::routes());
    // Tokens of JWT templates, for calling other services.
    routes.extend(tokens::routes());
    routes
}

/// JSON routes mounted at the root (`/health`, `/ready`, `/.well-known/jwks.json`).
pub fn root_routes() -> Vec<Route> {
    let mut routes = health::routes();
    routes.extend(well_known::routes());
    routes
}
