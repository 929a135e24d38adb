//! The `clerk-rocket` command: serve (the default), migrate, sync with Clerk, check the
//! configuration, or mint a local-mode token.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clerk_rocket::config::ClerkConfig;
use clerk_rocket::local::{LocalIssuer, LocalUser};

#[derive(Parser)]
#[command(
    name = "clerk-rocket",
    version,
    about = "Clerk authentication in front of a Rocket JSON API and pages"
)]
struct Cli {
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
        #[arg(long, default_value_t = clerk_rocket::sync::DEFAULT_PAGE_SIZE,
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
    /// Local mode only: print a session token signed by the local development key.
    Token {
        /// The user's email (one email is always the same user).
        #[arg(long)]
        email: String,
        /// The Clerk user id to use instead of the one derived from the email.
        #[arg(long)]
        sub: Option<String>,
        /// Give the token `metadata.role = "admin"`.
        #[arg(long)]
        admin: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

#[rocket::main]
async fn main() -> ExitCode {
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("error: .env: {e}");
            return ExitCode::from(2);
        }
    }
    let cli = Cli::parse();
    let figment = clerk_rocket::figment();
    let config = match ClerkConfig::from_figment(&figment) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = clerk_rocket::db::url(&figment) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match clerk_rocket::build(figment).launch().await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Migrate => migrate(&figment).await,
        Command::Sync { dry_run, page_size } => sync(&config, &figment, dry_run, page_size).await,
        Command::Check { token } => check(&config, &figment, token).await,
        Command::Token {
            email,
            sub,
            admin,
            ttl,
        } => token(&config, &figment, email, sub, admin, ttl),
    }
}

/// Connects to the configured database and applies pending migrations.
async fn migrated_pool(
    figment: &rocket::figment::Figment,
) -> Result<clerk_rocket::db::AnyPool, (ExitCode, String)> {
    let db: rocket_db_pools::Config = figment
        .extract_inner("databases.app")
        .map_err(|e| (ExitCode::from(2), format!("databases.app: {e}")))?;
    let pool = clerk_rocket::db::AnyPool::connect(&db)
        .await
        .map_err(|e| (ExitCode::FAILURE, format!("migrations failed: {e}")))?;
    clerk_rocket::db::migrate(&pool)
        .await
        .map_err(|e| (ExitCode::FAILURE, format!("migrations failed: {e}")))?;
    Ok(pool)
}

async fn migrate(figment: &rocket::figment::Figment) -> ExitCode {
    match migrated_pool(figment).await {
        Ok(_) => {
            println!("migrations applied");
            ExitCode::SUCCESS
        }
        Err((code, e)) => {
            eprintln!("error: {e}");
            code
        }
    }
}

async fn sync(
    config: &ClerkConfig,
    figment: &rocket::figment::Figment,
    dry_run: bool,
    page_size: u32,
) -> ExitCode {
    use clerk_rocket::sync::{Progress, SyncOptions};

    if config.local_mode() {
        eprintln!(
            "error: `sync` needs a Clerk instance (local mode has no Clerk users to sync with)"
        );
        return ExitCode::from(2);
    }
    let Some(secret_key) = &config.secret_key else {
        eprintln!("error: CLERK_SECRET_KEY: `sync` reads the users list from the Backend API, which needs the secret key");
        return ExitCode::from(2);
    };
    let pool = match migrated_pool(figment).await {
        Ok(pool) => pool,
        Err((code, e)) => {
            eprintln!("error: {e}");
            return code;
        }
    };
    let api = clerk_rocket::clerk::backend_api::BackendApi::new(
        clerk_rocket::clerk::http_client(),
        &config.api_url,
        secret_key,
    );
    // Progress only where a person watches: stderr on a terminal.
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |p: Progress| {
        if terminal {
            let line = match p {
                Progress::Listing { listed } => format!("listing Clerk users: {listed}"),
                Progress::Checking { done, total } => {
                    format!("checking users missing from the list: {done}/{total}")
                }
            };
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K{line}");
        }
    };
    let options = SyncOptions { dry_run, page_size };
    let result = clerk_rocket::sync::run(&api, &pool, options, &mut progress).await;
    if terminal {
        // Clear the progress line; the summary takes its place.
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!(
                "error: sync stopped: {e} (pages already read stay applied; nobody is \
                 tombstoned unless the whole list was read)"
            );
            return ExitCode::FAILURE;
        }
    };
    let verb = if dry_run { "would be " } else { "" };
    println!(
        "{} users in Clerk; drift: {} {verb}created, {} {verb}updated, {} {verb}tombstoned; \
         {} unchanged, {} kept deleted, {} newer here",
        summary.listed,
        summary.created,
        summary.updated,
        summary.tombstoned,
        summary.unchanged,
        summary.kept_deleted,
        summary.stale,
    );
    if dry_run {
        println!("dry run: nothing was changed");
    }
    ExitCode::SUCCESS
}

async fn check(
    config: &ClerkConfig,
    figment: &rocket::figment::Figment,
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
    let findings = clerk_rocket::check::run(
        config,
        &clerk_rocket::clerk::http_client(),
        clerk_rocket::check::database_config(figment),
        token.as_deref(),
    )
    .await;
    for finding in &findings {
        println!("{finding}");
    }
    if clerk_rocket::check::has_errors(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn token(
    config: &ClerkConfig,
    figment: &rocket::figment::Figment,
    email: String,
    sub: Option<String>,
    admin: bool,
    ttl: u64,
) -> ExitCode {
    if !config.local_mode() {
        eprintln!("error: `token` works in local mode only (a Clerk instance is configured; Clerk issues its tokens)");
        return ExitCode::from(2);
    }
    if !email.contains('@') {
        eprintln!("error: --email: expected an email address, found {email:?}");
        return ExitCode::from(2);
    }
    if sub.as_deref().is_some_and(|s| !s.starts_with("user_")) {
        eprintln!("error: --sub: a Clerk user id starts with user_");
        return ExitCode::from(2);
    }
    let issuer = match LocalIssuer::load_or_create(&config.local_key_file) {
        Ok(issuer) => issuer,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port: u16 = figment.extract_inner("port").unwrap_or(8000);
    let party = config
        .authorized_parties
        .first()
        .cloned()
        .unwrap_or_else(|| format!("http://localhost:{port}"));
    let user = LocalUser {
        email,
        user_id: sub,
        admin,
        ..LocalUser::default()
    };
    println!("{}", issuer.mint(&user, &party, ttl));
    ExitCode::SUCCESS
}
