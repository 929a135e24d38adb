//! `clerk-rocket check`: the configuration doctor.
//!
//! Most Clerk integration failures are configuration mistakes that look like auth bugs. [`run`]
//! takes the settings exactly as the server reads them (a validated [`ClerkConfig`]), checks them
//! against reality (Clerk's frontend API and Backend API, this machine's clock, the database) and,
//! given a token, explains claim by claim whether this server would accept it. Each [`Finding`] is
//! one line: `ok`, `warning` or `error`, with a fix when there is one.
//!
//! It fetches keys through [`keys::fetch_jwks`] and judges tokens with the verifier's own
//! [`Verifier::verify_signature`](crate::clerk::token::Verifier::verify_signature) and
//! [`token::explain_claims`], so it cannot disagree with the server. It never prints a token, the
//! secret key or the webhook signing secret; key ids, issuers, `azp` values and times are shown.
//!
//! Choices: authorized parties missing with a production instance (`pk_live_`) is an error (the
//! server starts, but any origin of the instance can use its tokens); missing in a release build
//! of an instance not known to be production, a warning; in development, fine. Pending migrations
//! are a warning (`serve` applies them at start); a database that `serve` would refuse to migrate
//! is an error.

mod clock;
mod database;
mod explain;
mod finding;
mod instance;
mod rules;

use std::process::ExitCode;

use figment::Figment;

use crate::config::ClerkConfig;

use clock::clock;
pub use clock::{clock_offset, parse_http_date};
use database::database_findings;
use explain::explain_token;
pub use finding::{Finding, Level};
use instance::{backend_api, frontend_jwks, instance};
use rules::{audience, authorized_parties, budget, machines, webhook_secret};

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error)
}

/// The `databases.app` settings are missing or malformed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("databases.app: {0}")]
pub struct DatabaseConfigError(String);

/// What `check` connects with: the pool's settings, and how statements reach the database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub pool: rocket_db_pools::Config,
    /// `CLERK_DATABASE_POOLER`: through PgBouncer in transaction mode, statements must be
    /// unnamed, as the app makes them (a named one collides on a shared server connection).
    pub pooler: crate::db::Pooler,
    /// `CLERK_DATABASE_MIGRATION_URL`, where migrations are read.
    pub migration_url: Option<String>,
}

/// The `databases.app` settings of `figment`, as `serve` and `migrate` read them.
pub fn database_config(figment: &Figment) -> Result<DatabaseConfig, DatabaseConfigError> {
    let pool = figment
        .extract_inner("databases.app")
        .map_err(|e| DatabaseConfigError(e.to_string()))?;
    let statements =
        crate::db::settings(figment).map_err(|e| DatabaseConfigError(e.to_string()))?;
    Ok(DatabaseConfig {
        pool,
        pooler: statements.pooler,
        migration_url: statements.migration_url,
    })
}

/// Checks `config` against reality, and explains `token` when one is given.
pub async fn run(
    config: &ClerkConfig,
    http: &reqwest::Client,
    database: Result<DatabaseConfig, DatabaseConfigError>,
    token: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if config.local_mode() {
        let message = format!(
            "local mode is on: tokens are signed by this app's development key ({}), not by \
             Clerk; the checks against Clerk are skipped",
            config.local_key_file.display()
        );
        out.push(if cfg!(debug_assertions) {
            Finding::ok("mode", message)
        } else {
            Finding::warning(
                "mode",
                message,
                "local mode is for development: set CLERK_LOCAL_MODE=false and \
                 CLERK_PUBLISHABLE_KEY of your Clerk instance",
            )
        });
    } else {
        instance(config, &mut out);
        let frontend = frontend_jwks(config, http, &mut out).await;
        let backend = backend_api(config, http, frontend.as_ref().map(|s| &s.jwks), &mut out).await;
        clock(
            config.clock_skew_secs,
            frontend.as_ref().or(backend.as_ref()),
            &mut out,
        );
        audience(config, &mut out);
        authorized_parties(config, &mut out);
        budget(config, &mut out);
    }
    machines(&config.machines, config.local_mode(), &mut out);
    webhook_secret(config, &mut out);
    database_findings(database, &mut out).await;
    if let Some(token) = token {
        explain_token(config, http, token.trim(), &mut out).await;
    }
    out
}
/// `clerk-rocket check`: one line per finding; fails when any is an error.
pub(super) async fn command(
    config: &ClerkConfig,
    figment: &Figment,
    token: Option<String>,
) -> ExitCode {
    let token = match token.as_deref() {
        Some("-") => {
            // A session token is at most 8 KiB; read a little more so that a longer one is
            // still refused by the verifier's own size check, not cut here.
            let mut text = String::new();
            let mut input = std::io::Read::take(std::io::stdin(), 64 * 1024);
            if let Err(e) = std::io::Read::read_to_string(&mut input, &mut text) {
                eprintln!("error: --token -: standard input: {e}");
                return ExitCode::from(2);
            }
            Some(text)
        }
        _ => token,
    };
    let findings = run(
        config,
        &crate::clerk::http_client(),
        database_config(figment),
        token.as_deref(),
    )
    .await;
    for finding in &findings {
        println!("{finding}");
    }
    if has_errors(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
