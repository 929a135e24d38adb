//! clerk-rocket: Clerk authentication in front of a Rocket JSON API and server-rendered pages,
//! with a local table of users kept in step with Clerk.
//!
//! [`rocket`] builds the app from the environment; [`build`] builds it from any figment, which is
//! how tests configure it.

// The layers, bottom up: `config` and `db`; `clerk` (Clerk's protocol, no Rocket); `sync`,
// `directory` and `moderation` (policies over both); `auth` (guards); `api` and `pages` (routes);
// this file, which mounts them; `cli` and `main.rs`. A module imports only from its own floor or
// below.
pub mod api;
pub mod auth;
pub mod clerk;
pub mod cli;
pub mod config;
pub mod db;
pub mod directory;
pub mod echo;
pub mod error;
pub mod fapi_proxy;
pub(crate) mod generation;
pub(crate) mod headers;
pub mod moderation;
pub mod observability;
pub mod pages;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;

use rocket::fairing::AdHoc;
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::fs::{FileServer, Options};
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;
use std::path::PathBuf;

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
    let static_files = FileServer::new(static_dir(&figment), Options::Index | Options::Missing);
    rocket::custom(figment)
        // Shield's headers are set by `SecurityHeaders`, with ours, in one pass.
        .attach(rocket::shield::Shield::new())
        .attach(observability::stage())
        .attach(db::stage())
        .attach(auth::stage())
        .attach(Template::fairing())
        .manage(pages::RenderedPages::default())
        .attach(headers::SecurityHeaders::default())
        // Rocket tries the routes of one rank in the order they were mounted, one by one: the
        // JSON API first, since most requests are its (`perf` showed the failed matches).
        .mount("/", api::root_routes())
        .mount("/api", api::routes())
        .mount("/", observability::routes())
        .mount("/", pages::routes())
        .attach(static_files_check())
        .mount("/static", static_files)
        .register("/", pages::html_catchers())
        .register("/api", error::json_catchers())
}

/// Where `/static` is served from: `static_dir` (`ROCKET_STATIC_DIR`), relative to the working
/// directory like Rocket's `template_dir`.
fn static_dir(figment: &Figment) -> PathBuf {
    figment
        .extract_inner::<PathBuf>("static_dir")
        .unwrap_or_else(|_| PathBuf::from("static"))
}

/// A missing static folder stops the start with one clear line, as a missing `template_dir`
/// does, instead of the panic `FileServer` gives (it is mounted with `Options::Missing`).
fn static_files_check() -> AdHoc {
    AdHoc::try_on_ignite("Static files", |rocket| async move {
        let dir = static_dir(rocket.figment());
        if dir.is_dir() {
            Ok(rocket)
        } else {
            log::error!(
                "static_dir \"{}\" is not a folder (relative to {}): run from the project root or set ROCKET_STATIC_DIR",
                dir.display(),
                std::env::current_dir().unwrap_or_default().display()
            );
            Err(rocket)
        }
    })
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
