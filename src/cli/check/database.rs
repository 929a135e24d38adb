//! The database and its migrations.

use super::finding::Finding;
use crate::db::{self, AnyPool};

/// The URL with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "the configured database URL".into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

pub(super) async fn database_findings(
    database: Result<super::DatabaseConfig, super::DatabaseConfigError>,
    out: &mut Vec<Finding>,
) {
    let super::DatabaseConfig {
        pool: mut settings,
        pooler,
        migration_url,
    } = match database {
        Ok(database) => database,
        Err(e) => {
            out.push(Finding::error(
                "database",
                format!("not configured: {e}"),
                Some("set DATABASE_URL (sqlite://data/app.db?mode=rwc or postgres://…)".into()),
            ));
            return;
        }
    };
    let shown = redact(&settings.url);
    settings.max_connections = 1;
    settings.min_connections = None;
    let unreachable = |e: String| {
        Finding::error(
            "database",
            format!("{shown} is unreachable: {e}"),
            Some(
                "check that the database server runs and that DATABASE_URL names the right \
                 host, port, user, password and database"
                    .into(),
            ),
        )
    };
    // The check's own connection of one, with statements made as the app makes them (unnamed
    // through a transaction pooler) and migrations read where the app reads them.
    let statements = db::Settings {
        url: settings.url.clone(),
        pooler,
        migration_url,
    };
    let pool = match AnyPool::connect(&settings, &statements).await {
        Ok(pool) => pool,
        Err(e) => {
            out.push(unreachable(e.to_string()));
            return;
        }
    };
    if !pool.ping().await {
        out.push(unreachable("it does not answer".into()));
        pool.close().await;
        return;
    }
    let backend = if pool.is_sqlite() {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    out.push(Finding::ok(
        "database",
        format!("{shown} is reachable ({backend})"),
    ));
    match db::migration_state(&pool).await {
        Err(e) => out.push(Finding::error(
            "migrations",
            format!("_sqlx_migrations could not be read: {e}"),
            Some("check the database user's rights".into()),
        )),
        Ok(state) => migration_findings(&state, out),
    }
    pool.close().await;
}

fn migration_findings(state: &db::MigrationState, out: &mut Vec<Finding>) {
    let versions = |vs: &[i64]| -> String {
        vs.iter()
            .map(|v| format!("{v:04}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let refuses = "serve and migrate refuse to run";
    let mut broken = false;
    if let Some(version) = state.dirty {
        broken = true;
        out.push(Finding::error(
            "migrations",
            format!("migration {version:04} failed part-way: {refuses}"),
            Some(
                "repair the database by hand (the log of the failed run says what failed), \
                 delete that row of _sqlx_migrations, then run clerk-rocket migrate"
                    .into(),
            ),
        ));
    }
    if !state.modified.is_empty() {
        broken = true;
        out.push(Finding::error(
            "migrations",
            format!(
                "applied migrations differ from the ones in this binary ({}): {refuses}",
                versions(&state.modified)
            ),
            Some("run a binary built from the migrations that were applied".into()),
        ));
    }
    if !state.unknown.is_empty() {
        broken = true;
        out.push(Finding::error(
            "migrations",
            format!(
                "the database has migrations this binary does not know ({}), applied by a newer \
                 version: {refuses}",
                versions(&state.unknown)
            ),
            Some("run the newer binary".into()),
        ));
    }
    if !state.pending.is_empty() {
        let list: Vec<String> = state
            .pending
            .iter()
            .map(|(v, d)| format!("{v:04} {d}"))
            .collect();
        out.push(Finding::warning(
            "migrations",
            format!(
                "{} of {} pending: {}",
                state.pending.len(),
                state.embedded,
                list.join(", ")
            ),
            "clerk-rocket migrate (serve also applies them at start)",
        ));
    } else if !broken {
        out.push(Finding::ok(
            "migrations",
            format!("all {} applied", state.embedded),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db.internal:5432/app"),
            "postgres://app:***@db.internal:5432/app"
        );
        assert!(!redact("postgres://db/app?user=a&password=s3cret").contains("s3cret"));
        assert_eq!(
            redact("sqlite://data/app.db?mode=rwc"),
            "sqlite://data/app.db?mode=rwc"
        );
    }
}
