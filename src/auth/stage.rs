//! The authentication stage: builds [`Clerk`] from the settings at ignite, warms the signing keys
//! up at liftoff, and manages the state the guards read.

use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket_db_pools::Database as _;

use super::csrf::CsrfKey;
use super::known_users::{KnownUsers, FLUSH_SECS};
use super::org_standing::OrgStandings;
use crate::clerk::Clerk;
use crate::config::ClerkConfig;
use crate::db::revoked_sessions::Revocations;
use crate::db::Db;
use crate::fapi_proxy::FapiProxy;
use crate::observability;

/// Attaches Clerk (refusing to start on unusable settings), the JWKS warm-up and the revocation
/// cache.
#[must_use]
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Authentication", |rocket| async {
        rocket
            .manage(Revocations::default())
            .manage(KnownUsers::default())
            .manage(OrgStandings::default())
            .attach(AdHoc::on_liftoff("Last-seen writer", |rocket| {
                Box::pin(async move {
                    let (Some(db), Some(known)) = (Db::fetch(rocket), rocket.state::<KnownUsers>())
                    else {
                        return;
                    };
                    let pool = (**db).clone();
                    let known = known.clone();
                    let mut shutdown = rocket.shutdown();
                    rocket::tokio::spawn(async move {
                        let mut tick =
                            rocket::tokio::time::interval(Duration::from_secs(FLUSH_SECS));
                        loop {
                            let stopping = rocket::tokio::select! {
                                _ = tick.tick() => false,
                                () = &mut shutdown => true,
                            };
                            if let Err(e) = known.flush(&pool).await {
                                rocket::warn!(
                                    "writing last-seen times failed (kept for the next try): {e}"
                                );
                            }
                            if stopping {
                                return;
                            }
                        }
                    });
                })
            }))
            .attach(AdHoc::try_on_ignite("Clerk", |rocket| async {
                let clerk = ClerkConfig::from_figment(rocket.figment())
                    .map_err(|e| e.to_string())
                    .and_then(|config| Clerk::new(config).map_err(|e| e.to_string()));
                match clerk {
                    Ok(clerk) => {
                        log_mode(&clerk);
                        let csrf = CsrfKey::new(&clerk.config);
                        let proxy = match (&clerk.config.proxy, &clerk.config.secret_key) {
                            (Some(settings), Some(secret)) => Some((
                                settings.path.clone(),
                                FapiProxy::new(
                                    settings.clone(),
                                    secret.clone(),
                                    clerk.config.instance.production,
                                    clerk.config.trusted_proxies.clone(),
                                ),
                            )),
                            _ => None,
                        };
                        let rocket = rocket.manage(clerk).manage(csrf);
                        Ok(match proxy {
                            Some((path, proxy)) => rocket.mount(path, proxy.routes()),
                            None => rocket,
                        })
                    }
                    Err(e) => {
                        rocket::error!("{e}");
                        Err(rocket)
                    }
                }
            }))
            .attach(organizations_known())
            .attach(AdHoc::on_liftoff("JWKS warm-up", |rocket| {
                Box::pin(async move {
                    let config = rocket.config();
                    let mode = match rocket.state::<Clerk>() {
                        Some(clerk) if clerk.config.local_mode() => " (local mode)",
                        _ => "",
                    };
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
    })
}

/// Whether this database knows an organization (`Clerk::offers_organizations`), read at start.
fn organizations_known() -> AdHoc {
    AdHoc::on_liftoff("Organizations known", |rocket| {
        Box::pin(async move {
            let (Some(db), Some(clerk)) = (Db::fetch(rocket), rocket.state::<Clerk>()) else {
                return;
            };
            match crate::db::organizations::any_live(db).await {
                Ok(true) => clerk.note_organizations(),
                Ok(false) => {}
                Err(e) => rocket::warn!("reading whether organizations are stored: {e}"),
            }
        })
    })
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
