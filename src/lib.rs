//! clerk-rocket: Clerk authentication in front of a Rocket JSON API and server-rendered pages,
//! with a local table of users kept in step with Clerk.
//!
//! [`rocket`] builds the app from the environment; [`build`] builds it from any figment, which is
//! how tests configure it.

pub mod api;
pub mod auth;
pub mod check;
pub mod clerk;
pub mod config;
pub mod cursor;
pub mod db;
pub mod error;
pub mod headers;
pub mod local;
pub mod observability;
pub mod pages;
pub mod sessions;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;
pub mod webhook_log;

use rocket::fairing::AdHoc;
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

use crate::clerk::Clerk;
use crate::config::ClerkConfig;

/// Rocket's own figment (`Rocket.toml`, `ROCKET_*`) with the `CLERK_*` variables over the `clerk`
/// table and `DATABASE_URL` over `databases.app.url`.
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
    if let Ok(url) = std::env::var("DATABASE_URL") {
        if !url.trim().is_empty() {
            figment = figment.merge(Serialized::global("databases.app.url", url.trim()));
        }
    }
    figment
}

/// The app as configured by the environment.
pub fn rocket() -> Rocket<Build> {
    build(figment())
}

/// The app as configured by `figment`.
pub fn build(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .manage(observability::Metrics::new())
        .attach(observability::RequestLog)
        .attach(db::stage())
        .attach(AdHoc::try_on_ignite("Clerk", |rocket| async {
            let clerk = ClerkConfig::from_figment(rocket.figment())
                .map_err(|e| e.to_string())
                .and_then(Clerk::new);
            match clerk {
                Ok(clerk) => {
                    log_mode(&clerk);
                    Ok(rocket.manage(clerk))
                }
                Err(e) => {
                    rocket::error!("{e}");
                    Err(rocket)
                }
            }
        }))
        .attach(AdHoc::on_liftoff("JWKS warm-up", |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                let mode = rocket.state::<Clerk>().map_or("", |c| {
                    if c.config.local_mode() {
                        " (local mode)"
                    } else {
                        ""
                    }
                });
                let scheme = if config.tls_enabled() {
                    "https"
                } else {
                    "http"
                };
                observability::log_line(
                    config,
                    &format!(
                        "clerk-rocket listening on {scheme}://{}:{}{mode}",
                        config.address, config.port
                    ),
                );
                if let Some(clerk) = rocket.state::<Clerk>() {
                    let keys = clerk.verifier.keys().clone();
                    // Not awaited: a slow or absent Clerk must not hold the start.
                    rocket::tokio::spawn(async move { keys.warm_up().await });
                }
            })
        }))
        .manage(sessions::Revocations::default())
        .manage(webhook_log::PruneClock::default())
        .attach(Template::fairing())
        .attach(headers::SecurityHeaders::default())
        .mount("/", api::root_routes())
        .mount("/", observability::routes())
        .mount("/", pages::routes())
        .mount("/", local::routes())
        .mount("/static", FileServer::from("static"))
        .mount("/api", api::routes())
        .register("/", error::html_catchers())
        .register("/api", error::json_catchers())
}

fn log_mode(clerk: &Clerk) {
    let config = &clerk.config;
    if config.local_mode() {
        rocket::warn!(
            "LOCAL MODE: tokens are signed by this app's development key ({}); \
             get one with `clerk-rocket token --email you@example.com`",
            config.local_key_file.display()
        );
    } else {
        rocket::info!("Clerk issuer: {}", config.instance.issuer);
        if config.authorized_parties.is_empty() && !cfg!(debug_assertions) {
            rocket::warn!(
                "CLERK_AUTHORIZED_PARTIES is not set: the azp claim of tokens is not checked"
            );
        }
    }
}
