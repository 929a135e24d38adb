//! `rocket_db_pools::Pool` for a newtype around sqlx's `AnyPool`: one binary, SQLite or
//! PostgreSQL chosen by the URL (STACK.md §2, option D).

use std::ops::Deref;
use std::time::Duration;

use rocket::figment::Figment;
use sqlx::any::AnyPoolOptions;
use sqlx::{Connection as _, Executor as _};

use super::statement::{use_unnamed_statements, Pooler};
use super::Settings;

pub struct AnyPool {
    pool: sqlx::AnyPool,
    migration_url: Option<String>,
}

impl Deref for AnyPool {
    type Target = sqlx::AnyPool;

    fn deref(&self) -> &sqlx::AnyPool {
        &self.pool
    }
}

impl AnyPool {
    /// Connects with the `databases.app` settings (also used by `clerk-rocket migrate`): Rocket's
    /// pool settings in `config`, ours in `settings`.
    pub async fn connect(
        config: &rocket_db_pools::Config,
        settings: &Settings,
    ) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        create_sqlite_parent_dir(&config.url)?;
        let mut url = config.url.clone();
        if settings.pooler == Pooler::Transaction {
            use_unnamed_statements();
            // A safety net: a statement built with sqlx's own `query` (named) is then never
            // reused from a cache on a server that may hold another client's statement of that
            // name; it fails loudly ("already exists") instead.
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}statement-cache-capacity=0");
        }
        let pool = AnyPoolOptions::new()
            .max_connections(u32::try_from(config.max_connections).unwrap_or(u32::MAX))
            .min_connections(config.min_connections.unwrap_or_default())
            .acquire_timeout(Duration::from_secs(config.connect_timeout))
            .idle_timeout(config.idle_timeout.map(Duration::from_secs))
            // A SQLite connection is a file handle: there is no server to lose, and the ping
            // before each use was a round trip through the driver's worker thread (`perf`).
            .test_before_acquire(!url.starts_with("sqlite:"))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        // WAL lets readers run beside the writer; the busy timeout makes
                        // concurrent writers wait instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        Ok(AnyPool {
            pool,
            migration_url: settings.migration_url.clone(),
        })
    }

    /// One connection straight to the server at `url`, for migrations.
    pub(super) async fn direct(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(AnyPool {
            pool,
            migration_url: None,
        })
    }

    /// Where migrations run instead of this pool's own URL.
    pub fn migration_url(&self) -> Option<&str> {
        self.migration_url.as_deref()
    }

    pub fn is_sqlite(&self) -> bool {
        is_sqlite(&self.pool)
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        match self.pool.acquire().await {
            Ok(mut conn) => conn.ping().await.is_ok(),
            Err(_) => false,
        }
    }
}

/// Whether `pool` is on SQLite (else PostgreSQL), for the few statements whose dialects differ.
pub fn is_sqlite(pool: &sqlx::AnyPool) -> bool {
    pool.connect_options().database_url.scheme() == "sqlite"
}

/// `sqlite://data/app.db?mode=rwc` creates the file but not its folder: create the folder.
fn create_sqlite_parent_dir(url: &str) -> Result<(), sqlx::Error> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)
        }
        _ => Ok(()),
    }
}

#[rocket::async_trait]
impl rocket_db_pools::Pool for AnyPool {
    type Connection = sqlx::pool::PoolConnection<sqlx::Any>;
    type Error = rocket_db_pools::Error<sqlx::Error>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: rocket_db_pools::Config = figment.extract()?;
        let settings = super::settings_of(figment)
            .map_err(|e| rocket_db_pools::Error::Init(sqlx::Error::Configuration(e.into())))?;
        AnyPool::connect(&config, &settings)
            .await
            .map_err(rocket_db_pools::Error::Init)
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        self.pool
            .acquire()
            .await
            .map_err(rocket_db_pools::Error::Get)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
