//! The `clerk-rocket` command: serve (the default), migrate, sync with Clerk, check the
//! configuration, or mint a local-mode token. One module per command; [`run`] dispatches.

mod api_key;
pub mod check;
mod migrate;
mod sync;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ClerkConfig;

#[derive(Parser)]
#[command(
    name = "clerk-rocket",
    version,
    about = "Clerk authentication in front of a Rocket JSON API and pages"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Reconcile the users table with Clerk's Backend API (needs CLERK_SECRET_KEY) and print the drift.
    Sync {
        /// Only report the drift: change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Users per Backend API page (1 to 500).
        #[arg(long, default_value_t = crate::sync::DEFAULT_PAGE_SIZE,
              value_parser = clap::value_parser!(u32).range(1..=500))]
        page_size: u32,
    },
    /// Check the configuration against Clerk, the clock and the database; one line per finding.
    /// Exits non-zero when any finding is an error.
    Check {
        /// Explain, claim by claim, whether this server would accept this session token
        /// (`-` reads it from standard input, which keeps it out of the shell history).
        #[arg(long)]
        token: Option<String>,
    },
    /// Local mode only: print a session token signed by the local development key (or, with
    /// --machine, a JWT M2M token).
    Token {
        /// The user's email (one email is always the same user).
        #[arg(long, required_unless_present = "machine")]
        email: Option<String>,
        /// The Clerk user id to use instead of the one derived from the email.
        #[arg(long)]
        sub: Option<String>,
        /// Give the token `metadata.role = "admin"`.
        #[arg(long)]
        admin: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        #[command(flatten)]
        extra: token::Extra,
    },
    /// Local mode only: API keys that this server verifies itself.
    ApiKey {
        #[command(subcommand)]
        action: api_key::Action,
    },
}

/// Runs the command line `cli` on the settings of the environment (and `.env`, already loaded).
pub async fn run(cli: Cli) -> ExitCode {
    let figment = crate::figment();
    let config = match ClerkConfig::from_figment(&figment) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::db::settings(&figment) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let launched = crate::build(figment).launch().await;
            crate::observability::flush_logs();
            match launched {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate => migrate::run(&figment).await,
        Command::Sync { dry_run, page_size } => {
            sync::run(&config, &figment, dry_run, page_size).await
        }
        Command::Check { token } => check::command(&config, &figment, token).await,
        Command::Token {
            email,
            sub,
            admin,
            ttl,
            extra,
        } => token::run(&config, &figment, email, sub, admin, ttl, &extra),
        Command::ApiKey { action } => api_key::run(&config, &figment, action).await,
    }
}
