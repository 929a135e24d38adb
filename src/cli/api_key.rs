//! `clerk-rocket api-key`: local mode's API keys, which the server verifies itself, so that API
//! key clients can be tried without a Clerk account.

use std::process::ExitCode;

use figment::Figment;

use crate::clerk::local::{random_secret, user_id_for};
use crate::config::ClerkConfig;
use crate::db::api_keys::{self, ApiKey};

#[derive(clap::Subcommand, Debug)]
pub(super) enum Action {
    /// Make a key and print its secret (shown once: only its SHA-256 is stored).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// The user the key acts for: a Clerk user id (`user_…`) or an email (local mode's user
        /// of that email).
        #[arg(long)]
        user: Option<String>,
        /// Lifetime in seconds (default: no expiry).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Revoke a key by its id (`ak_local_…`).
    Revoke {
        #[arg(long)]
        id: String,
    },
}

pub(super) async fn run(config: &ClerkConfig, figment: &Figment, action: Action) -> ExitCode {
    if !config.local_mode() {
        eprintln!("error: `api-key` works in local mode only (Clerk issues the API keys of a Clerk instance)");
        return ExitCode::from(2);
    }
    let pool = match super::migrate::migrated_pool(figment).await {
        Ok(pool) => pool,
        Err((code, e)) => {
            eprintln!("error: {e}");
            return code;
        }
    };
    let now = crate::clerk::token::now();
    match action {
        Action::Create { name, user, ttl } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 200 {
                eprintln!("error: --name: expected 1 to 200 characters");
                return ExitCode::from(2);
            }
            let subject = match user.as_deref().map(str::trim) {
                None => None,
                Some(id) if id.starts_with("user_") => Some(id.to_owned()),
                Some(email) if email.contains('@') => Some(user_id_for(email)),
                Some(_) => {
                    eprintln!("error: --user: expected a Clerk user id (user_…) or an email");
                    return ExitCode::from(2);
                }
            };
            let key = ApiKey {
                key_id: format!("ak_local_{}", random_secret(8)),
                name,
                subject,
                created_at: now,
                expires_at: ttl.map(|t| now.saturating_add(i64::try_from(t).unwrap_or(i64::MAX))),
                revoked_at: None,
            };
            let secret = format!("ak_{}", random_secret(24));
            if let Err(e) = api_keys::create(&pool, &key, &secret).await {
                eprintln!("error: storing the key: {e}");
                return ExitCode::FAILURE;
            }
            eprintln!(
                "API key {} ({}) created; its secret is shown once:",
                key.key_id, key.name
            );
            println!("{secret}");
            ExitCode::SUCCESS
        }
        Action::Revoke { id } => match api_keys::revoke(&pool, &id, now).await {
            Ok(true) => {
                println!("revoked {id}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("error: no active API key {id}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
