//! The `clerk-rocket` command: serve (the default), migrate, check the configuration, or mint a
//! local-mode token.

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
        Command::Check { token } => check(&config, &figment, token).await,
        Command::Token {
            email,
            sub,
            admin,
            ttl,
        } => token(&config, &figment, email, sub, admin, ttl),
    }
}

async fn migrate(figment: &rocket::figment::Figment) -> ExitCode {
    let db: rocket_db_pools::Config = match figment.extract_inner("databases.app") {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: databases.app: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match clerk_rocket::db::AnyPool::connect(&db).await {
        Ok(pool) => clerk_rocket::db::migrate(&pool)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => {
            println!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: migrations failed: {e}");
            ExitCode::FAILURE
        }
    }
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
