//! `clerk-rocket migrate`: applies pending migrations and exits.

use std::process::ExitCode;

use figment::Figment;

/// Connects to the configured database and applies pending migrations.
pub(super) async fn migrated_pool(
    figment: &Figment,
) -> Result<crate::db::AnyPool, (ExitCode, String)> {
    let db: rocket_db_pools::Config = figment
        .extract_inner("databases.app")
        .map_err(|e| (ExitCode::from(2), format!("databases.app: {e}")))?;
    let settings = crate::db::settings(figment).map_err(|e| (ExitCode::from(2), e.to_string()))?;
    let pool = crate::db::AnyPool::connect(&db, &settings)
        .await
        .map_err(|e| (ExitCode::FAILURE, format!("migrations failed: {e}")))?;
    crate::db::migrate(&pool)
        .await
        .map_err(|e| (ExitCode::FAILURE, format!("migrations failed: {e}")))?;
    Ok(pool)
}

/// `clerk-rocket migrate`.
pub(super) async fn run(figment: &Figment) -> ExitCode {
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
