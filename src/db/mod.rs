//! The database: the pool, and the migrations of each backend (same versions, two dialects).

mod pool;

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

/// The database URL of `figment`, if it names a backend this binary speaks.
pub fn url(figment: &rocket::figment::Figment) -> Result<String, String> {
    let url: String = figment
        .extract_inner("databases.app.url")
        .map_err(|e| format!("DATABASE_URL: no database configured ({e})"))?;
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(url)
    } else {
        Err("DATABASE_URL: expected sqlite://… or postgres://… (the URL's scheme is not one of them)".into())
    }
}

/// Applies the pending migrations of the pool's backend.
pub async fn migrate(pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    let migrator = if pool.is_sqlite() { &SQLITE } else { &POSTGRES };
    migrator.run(&**pool).await
}

/// Attaches the pool and applies pending migrations before the server starts.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Database", |rocket| async {
        rocket
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
