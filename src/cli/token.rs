//! `clerk-rocket token`: local mode's session tokens, for curl and tests.

use std::process::ExitCode;

use figment::Figment;

use crate::clerk::local::{LocalIssuer, LocalUser};
use crate::config::ClerkConfig;

/// `clerk-rocket token`: a session token signed by the local development key.
pub(super) fn run(
    config: &ClerkConfig,
    figment: &Figment,
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
