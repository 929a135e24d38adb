//! `clerk-rocket token`: local mode's session tokens (with an active organization if asked) and
//! JWT M2M tokens, for curl and tests.

use std::process::ExitCode;

use figment::Figment;

use crate::clerk::local::{LocalIssuer, LocalOrg, LocalUser};
use crate::config::ClerkConfig;

/// The organization and machine options of `clerk-rocket token`.
#[derive(clap::Args, Debug, Default)]
pub(super) struct Extra {
    /// Make this organization (its slug) active in the session token (v2 claims).
    #[arg(long, conflicts_with = "machine")]
    org: Option<String>,
    /// The user's role in --org (`admin`, `member`, or a custom one).
    #[arg(long, requires = "org", default_value = "member")]
    org_role: String,
    /// A permission held in --org, `org:<feature>:<permission>` (repeat for more).
    #[arg(long = "permission", requires = "org")]
    permissions: Vec<String>,
    /// Mint a JWT M2M token for this machine (`mch_…`) instead of a session token.
    #[arg(long)]
    machine: Option<String>,
    /// A machine (`mch_…`) allowed to receive the M2M token (repeat for more).
    #[arg(long = "scope", requires = "machine")]
    scopes: Vec<String>,
}

fn is_machine_id(id: &str) -> bool {
    crate::clerk::token::is_clerk_id(id, "mch_")
}

/// `clerk-rocket token`: a token signed by the local development key.
pub(super) fn run(
    config: &ClerkConfig,
    figment: &Figment,
    email: Option<String>,
    sub: Option<String>,
    admin: bool,
    ttl: u64,
    extra: &Extra,
) -> ExitCode {
    let usage = |message: &str| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    if !config.local_mode() {
        return usage("`token` works in local mode only (a Clerk instance is configured; Clerk issues its tokens)");
    }
    if let Some(machine) = &extra.machine {
        if !is_machine_id(machine) || !extra.scopes.iter().all(|s| is_machine_id(s)) {
            return usage("--machine, --scope: a Clerk machine id starts with mch_");
        }
    }
    let email = email.unwrap_or_default();
    if extra.machine.is_none() && !email.contains('@') {
        return usage(&format!(
            "--email: expected an email address, found {email:?}"
        ));
    }
    if sub.as_deref().is_some_and(|s| !s.starts_with("user_")) {
        return usage("--sub: a Clerk user id starts with user_");
    }
    let issuer = match LocalIssuer::load_or_create(&config.local_key_file) {
        Ok(issuer) => issuer,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(machine) = &extra.machine {
        println!("{}", issuer.mint_m2m(machine, &extra.scopes, ttl));
        return ExitCode::SUCCESS;
    }
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
    let token = match &extra.org {
        None => issuer.mint(&user, &party, ttl),
        Some(slug) => {
            let org = LocalOrg {
                slug: slug.clone(),
                role: extra.org_role.clone(),
                permissions: extra.permissions.clone(),
            };
            match issuer.mint_with_org(&user, &org, &party, ttl) {
                Ok(token) => token,
                Err(e) => return usage(&format!("--permission: {e}")),
            }
        }
    };
    println!("{token}");
    ExitCode::SUCCESS
}
