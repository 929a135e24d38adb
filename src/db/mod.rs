//! The database: the pool, the migrations of each backend (same versions, two dialects), and one
//! module per table holding its model and every SQL statement that touches it.

pub mod activity;
pub mod pagination;
mod pool;
pub mod revoked_sessions;
pub mod stats;
pub mod users;
pub mod webhook_events;

use rocket::fairing::{self, AdHoc};
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use sqlx::migrate::Migrator;

pub use pool::{is_sqlite, AnyPool};

#[derive(Database)]
#[database("app")]
pub struct Db(AnyPool);

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database settings used where neither Rocket.toml nor the environment gives one.
pub const DEFAULTS: DefaultSettings = DefaultSettings {
    url: "sqlite://data/app.db?mode=rwc",
    max_connections: 8,
    connect_timeout: 5,
};

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct DefaultSettings {
    pub url: &'static str,
    pub max_connections: usize,
    pub connect_timeout: u64,
}

/// Why the configured database URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("DATABASE_URL: no database configured ({0})")]
    Missing(Box<figment::Error>),
    #[error(
        "DATABASE_URL: expected sqlite://… or postgres://… (the URL's scheme is not one of them)"
    )]
    UnknownScheme,
}

/// The database URL of `figment`, if it names a backend this binary speaks.
pub fn url(figment: &figment::Figment) -> Result<String, UrlError> {
    let url: String = figment
        .extract_inner("databases.app.url")
        .map_err(|e| UrlError::Missing(Box::new(e)))?;
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(url)
    } else {
        Err(UrlError::UnknownScheme)
    }
}

/// Opens a transaction that will write: the one policy for every multi-statement write.
///
/// NOTE: on SQLite this takes the write lock first (`BEGIN IMMEDIATE`). A deferred transaction
/// that reads, then writes, fails with `SQLITE_BUSY` at once, without waiting for the busy
/// timeout, when another writer commits in between.
pub async fn write_transaction(
    pool: &sqlx::AnyPool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if is_sqlite(pool) {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// The migrations embedded for the pool's backend.
pub fn migrator(pool: &AnyPool) -> &'static Migrator {
    if pool.is_sqlite() {
        &SQLITE
    } else {
        &POSTGRES
    }
}

/// Applies the pending migrations of the pool's backend.
pub async fn migrate(pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    migrator(pool).run(&**pool).await
}

/// How the migrations recorded in a database compare with the ones embedded in this binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationState {
    /// How many migrations this binary embeds for the backend.
    pub embedded: usize,
    /// Embedded but not applied: version and description.
    pub pending: Vec<(i64, String)>,
    /// Applied, but the embedded file has changed since: `serve` and `migrate` refuse to run.
    pub modified: Vec<i64>,
    /// Applied, but unknown to this binary (a newer version migrated the database).
    pub unknown: Vec<i64>,
    /// A migration that failed part-way (`success = false`): `serve` and `migrate` refuse to run.
    pub dirty: Option<i64>,
}

/// Reads `_sqlx_migrations` (without creating it) and compares it with [`migrator`].
pub async fn migration_state(pool: &AnyPool) -> Result<MigrationState, sqlx::Error> {
    use sqlx::migrate::Migrate as _;

    let migrator = migrator(pool);
    let embedded: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let mut conn = pool.acquire().await?;
    let exists_sql = if pool.is_sqlite() {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
    } else {
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
    };
    let exists: i64 = sqlx::query_scalar(exists_sql).fetch_one(&mut *conn).await?;
    let (applied, dirty) = if exists > 0 {
        let to_sqlx = |e: sqlx::migrate::MigrateError| match e {
            sqlx::migrate::MigrateError::Execute(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        };
        let dirty = conn.dirty_version().await.map_err(to_sqlx)?;
        let applied = conn.list_applied_migrations().await.map_err(to_sqlx)?;
        (applied, dirty)
    } else {
        (Vec::new(), None)
    };
    let mut state = MigrationState {
        embedded: embedded.len(),
        dirty,
        ..MigrationState::default()
    };
    for migration in &embedded {
        match applied.iter().find(|a| a.version == migration.version) {
            None => state
                .pending
                .push((migration.version, migration.description.to_string())),
            Some(a) if a.checksum != migration.checksum => state.modified.push(migration.version),
            Some(_) => {}
        }
    }
    state.unknown = applied
        .iter()
        .map(|a| a.version)
        .filter(|v| !embedded.iter().any(|m| m.version == *v))
        .collect();
    Ok(state)
}

/// Attaches the pool and applies pending migrations before the server starts.
#[must_use]
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Database", |rocket| async {
        rocket
            .manage(webhook_events::PruneClock::default())
            .attach(Db::init())
            .attach(AdHoc::try_on_ignite("Migrations", run_migrations))
    })
}

async fn run_migrations(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = Db::fetch(&rocket) else {
        return Err(rocket);
    };
    match migrate(db).await {
        Ok(()) => Ok(rocket),
        Err(e) => {
            rocket::error!("database migrations failed: {e}");
            Err(rocket)
        }
    }
}
