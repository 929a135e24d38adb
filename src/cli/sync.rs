//! `clerk-rocket sync`: the users, organizations and memberships tables reconciled with Clerk's
//! Backend API, with progress on a terminal and the drift as one line per table.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use figment::Figment;

use crate::config::ClerkConfig;

/// `clerk-rocket sync`.
pub(super) async fn run(
    config: &ClerkConfig,
    figment: &Figment,
    dry_run: bool,
    page_size: u32,
) -> ExitCode {
    use crate::sync::{Progress, SyncOptions};

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
    let pool = match super::migrate::migrated_pool(figment).await {
        Ok(pool) => pool,
        Err((code, e)) => {
            eprintln!("error: {e}");
            return code;
        }
    };
    // The configured budget (`CLERK_BACKEND_API_BUDGET`, this server's part of Clerk's limit),
    // waited for; Clerk's 429s are waited out too.
    let budget = std::sync::Arc::new(crate::clerk::budget::BackendBudget::new(
        config.backend_api_budget,
        crate::clerk::backend_api::BUDGET_PERIOD,
    ));
    let api = crate::clerk::backend_api::BackendApi::with_budget(
        crate::clerk::http_client(),
        &config.api_url,
        secret_key,
        budget,
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
    let result = crate::sync::run(&api, &pool, options, &mut progress).await;
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
    let orgs = crate::sync::orgs::run(&api, &pool, page_size, dry_run).await;
    match orgs {
        Ok(None) => println!("organizations: turned off in this Clerk instance; nothing to sync"),
        Ok(Some(drift)) => {
            let (o, m) = (&drift.organizations, &drift.memberships);
            println!(
                "{} organizations in Clerk; drift: {} {verb}created, {} {verb}updated, {} \
                 {verb}tombstoned; {} unchanged, {} kept deleted, {} newer here",
                o.listed, o.created, o.updated, o.tombstoned, o.unchanged, o.kept_deleted, o.stale,
            );
            println!(
                "{} memberships in Clerk; drift: {} {verb}created, {} {verb}updated, {} \
                 {verb}ended; {} unchanged, {} kept deleted, {} newer here",
                m.listed, m.created, m.updated, m.tombstoned, m.unchanged, m.kept_deleted, m.stale,
            );
        }
        Err(e) => {
            eprintln!(
                "error: sync of organizations stopped: {e} (users are synced; pages already read \
                 stay applied; no organization is tombstoned unless the whole list was read)"
            );
            return ExitCode::FAILURE;
        }
    }
    if dry_run {
        println!("dry run: nothing was changed");
    }
    ExitCode::SUCCESS
}
