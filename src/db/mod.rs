//! The database: the pool, the migrations of each backend (same versions, two dialects), and one
//! module per table holding its model and every SQL statement that touches it.

pub mod activity;
pub mod api_keys;
pub mod audit_events;
pub mod memberships;
pub mod organizations;
pub mod pagination;
mod pool;
pub mod revoked_sessions;
mod statement;
pub mod stats;
pub mod users;
pub mod webhook_events;

use rocket::fairing::{self, AdHoc};
use rocket::{Build, Rocket};
use rocket_db_pools::Database;
use sqlx::migrate::Migrator;

pub use pool::{is_sqlite, AnyPool};
pub use statement::{
    query, query_as, query_scalar, through_transaction_pooler, unit, Pooler, Unit,
};

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

/// Why the configured database settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("DATABASE_URL: no database configured ({0})")]
    Missing(Box<figment::Error>),
    #[error(
        "DATABASE_URL: expected sqlite://… or postgres://… (the URL's scheme is not one of them)"
    )]
    UnknownScheme,
    #[error("CLERK_DATABASE_POOLER: expected none or transaction, found {0:?}")]
    UnknownPooler(String),
    #[error(
        "CLERK_DATABASE_POOLER: transaction pooling is for PostgreSQL, and the database URL is SQLite"
    )]
    PoolerOnSqlite,
    #[error(
        "CLERK_DATABASE_MIGRATION_URL: required with CLERK_DATABASE_POOLER=transaction (migrations \
         hold a session lock, which a transaction pooler cannot keep): give the PostgreSQL server's \
         own postgres://… URL"
    )]
    MigrationUrlMissing,
    #[error(
        "CLERK_DATABASE_MIGRATION_URL: expected postgres://… (the PostgreSQL server itself, not a pooler)"
    )]
    MigrationUrlNotPostgres,
    #[error("CLERK_DATABASE_MIGRATION_URL: for PostgreSQL only, and the database URL is SQLite")]
    MigrationUrlOnSqlite,
}

/// The database settings beyond Rocket's own (`databases.app` of the figment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub url: String,
    /// How the app reaches the server: `pooler` in `databases.app`, or `CLERK_DATABASE_POOLER`.
    pub pooler: Pooler,
    /// Where migrations run instead of `url`: `migration_url`, or `CLERK_DATABASE_MIGRATION_URL`.
    /// Required through a transaction pooler.
    pub migration_url: Option<String>,
}

/// The database settings of `figment` (the whole configuration), validated.
pub fn settings(figment: &figment::Figment) -> Result<Settings, UrlError> {
    settings_of(&figment.focus("databases.app"))
}

/// [`settings`] of the `databases.app` table itself (what a database pool is given).
pub fn settings_of(app: &figment::Figment) -> Result<Settings, UrlError> {
    let url: String = app
        .extract_inner("url")
        .map_err(|e| UrlError::Missing(Box::new(e)))?;
    let is_postgres =
        |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !url.starts_with("sqlite:") && !is_postgres(&url) {
        return Err(UrlError::UnknownScheme);
    }
    let text = |key: &str| {
        app.extract_inner::<String>(key)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let pooler = match text("pooler") {
        None => Pooler::None,
        Some(value) => Pooler::parse(&value).ok_or(UrlError::UnknownPooler(value))?,
    };
    let migration_url = text("migration_url");
    if pooler == Pooler::Transaction && !is_postgres(&url) {
        return Err(UrlError::PoolerOnSqlite);
    }
    match &migration_url {
        Some(_) if !is_postgres(&url) => return Err(UrlError::MigrationUrlOnSqlite),
        Some(direct) if !is_postgres(direct) => return Err(UrlError::MigrationUrlNotPostgres),
        None if pooler == Pooler::Transaction => return Err(UrlError::MigrationUrlMissing),
        _ => {}
    }
    Ok(Settings {
        url,
        pooler,
        migration_url,
    })
}

/// What marking a row deleted did (users, organizations and memberships keep tombstones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstone {
    /// The row was unknown here: a tombstone row now stands in its place, so that a late
    /// `created` or `updated` event cannot bring it to life.
    New,
    /// The row is now marked deleted.
    Marked,
    /// It already was.
    Already,
}

impl Tombstone {
    /// What a marking write did, from whether the row `existed` before it and how many rows
    /// the write changed (none: it was marked already).
    fn written(existed: bool, rows_affected: u64) -> Tombstone {
        match (existed, rows_affected) {
            (_, 0) => Tombstone::Already,
            (false, _) => Tombstone::New,
            (true, _) => Tombstone::Marked,
        }
    }
}

/// A `LIKE … ESCAPE '\\'` pattern matching text that contains `query`, lower-cased (compare it
/// with a `lower(…)` expression).
pub(crate) fn substring_pattern(query: &str) -> String {
    let escaped = query
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
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

/// Applies the pending migrations of the pool's backend, over the migration URL when one is set.
pub async fn migrate(pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    match pool.migration_url() {
        None => migrator(pool).run(&**pool).await,
        Some(url) => {
            let direct = AnyPool::direct(url)
                .await
                .map_err(sqlx::migrate::MigrateError::Execute)?;
            let applied = migrator(&direct).run(&*direct).await;
            direct.close().await;
            applied
        }
    }
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

/// Reads `_sqlx_migrations` (without creating it) and compares it with [`migrator`]; over the
/// migration URL when one is set (sqlx reads it with named statements).
pub async fn migration_state(pool: &AnyPool) -> Result<MigrationState, sqlx::Error> {
    match pool.migration_url() {
        None => migration_state_of(pool).await,
        Some(url) => {
            let direct = AnyPool::direct(url).await?;
            let state = migration_state_of(&direct).await;
            direct.close().await;
            state
        }
    }
}

async fn migration_state_of(pool: &AnyPool) -> Result<MigrationState, sqlx::Error> {
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
    let exists: i64 = query_scalar(exists_sql).fetch_one(&mut *conn).await?;
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
