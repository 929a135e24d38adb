//! clerk-rocket: Clerk authentication in front of a Rocket JSON API and server-rendered pages,
//! with a local table of users kept in step with Clerk.
//!
//! [`rocket`] builds the app from the environment; [`build`] builds it from any figment, which is
//! how tests configure it.

// The layers, bottom up: `config` and `db`; `clerk` (Clerk's protocol, no Rocket); `sync` and
// `directory` (policies over both); `auth` (guards); `api` and `pages` (routes); this file, which
// mounts them; `cli` and `main.rs`. A module imports only from its own floor or below.
pub mod api;
pub mod auth;
pub mod clerk;
pub mod cli;
pub mod config;
pub mod db;
pub mod directory;
pub mod error;
pub(crate) mod headers;
pub mod observability;
pub mod pages;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

/// Rocket's own figment (`Rocket.toml`, `ROCKET_*`) with the `CLERK_*` variables over the `clerk`
/// table, and `DATABASE_URL`, `CLERK_DATABASE_POOLER` and `CLERK_DATABASE_MIGRATION_URL` over
/// `databases.app`'s `url`, `pooler` and `migration_url`.
pub fn figment() -> Figment {
    // The SQLite default holds even where no Rocket.toml is found.
    let mut figment =
        rocket::Config::figment().join(Serialized::default("databases.app", db::DEFAULTS));
    for (variable, key) in config::VARIABLES {
        if let Ok(value) = std::env::var(variable) {
            // Global: the environment wins over every profile of Rocket.toml.
            figment = figment.merge(Serialized::global(&format!("clerk.{key}"), value));
        }
    }
    for (variable, key) in [
        ("DATABASE_URL", "databases.app.url"),
        ("CLERK_DATABASE_POOLER", "databases.app.pooler"),
        (
            "CLERK_DATABASE_MIGRATION_URL",
            "databases.app.migration_url",
        ),
    ] {
        if let Ok(value) = std::env::var(variable) {
            if !value.trim().is_empty() {
                figment = figment.merge(Serialized::global(key, value.trim()));
            }
        }
    }
    figment
}

/// The app as configured by the environment.
#[must_use]
pub fn rocket() -> Rocket<Build> {
    build(figment())
}

/// The app as configured by `figment`: its stages, then its routes and catchers.
#[must_use]
pub fn build(figment: Figment) -> Rocket<Build> {
    init_logging(&figment);
    rocket::custom(figment)
        .attach(observability::stage())
        .attach(db::stage())
        .attach(auth::stage())
        .attach(Template::fairing())
        .manage(pages::RenderedPages::default())
        .attach(headers::SecurityHeaders::default())
        .mount("/", api::root_routes())
        .mount("/", observability::routes())
        .mount("/", pages::routes())
        .mount("/static", FileServer::from("static"))
        .mount("/api", api::routes())
        .register("/", pages::html_catchers())
        .register("/api", error::json_catchers())
}

/// Routes this process's log lines through one writer, in `CLERK_LOG_FORMAT`, at Rocket's
/// `log_level`. (A malformed format is refused by the settings check at ignite.)
fn init_logging(figment: &Figment) {
    let level = figment
        .extract_inner::<rocket::config::LogLevel>("log_level")
        .unwrap_or(rocket::config::LogLevel::Critical);
    let format = figment
        .extract_inner::<String>("clerk.log_format")
        .ok()
        .and_then(|f| config::LogFormat::parse(&f))
        .unwrap_or_default();
    observability::init_logging(format, level.into());
}
