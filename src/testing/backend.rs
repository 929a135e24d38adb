//! The databases tests run on: a fresh `SQLite` file, or a fresh schema of the `PostgreSQL`
//! database named by `TEST_POSTGRES_URL`; [`backend_tests!`](crate::backend_tests) runs a test on
//! each.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::keys::unique;

/// The variable naming the `PostgreSQL` database that the `PostgreSQL` runs use.
const POSTGRES_URL_VAR: &str = "TEST_POSTGRES_URL";

/// The database engine a test app runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The URL of a database in which each app gets a schema of its own.
    Postgres(String),
}

impl Backend {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// `PostgreSQL` when `TEST_POSTGRES_URL` is set (and not blank).
    #[must_use]
    pub fn postgres() -> Option<Backend> {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url)),
            _ => None,
        }
    }

    /// A URL of a database of its own: a new `SQLite` file, or a new schema of the `PostgreSQL`
    /// database.
    pub async fn fresh_url(&self) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}/app.db?mode=rwc", scratch_dir().display()),
            Backend::Postgres(base) => {
                // Extensions are per database: create pg_trgm once, before parallel tests race
                // to create it from their migrations.
                static PREPARED: rocket::tokio::sync::OnceCell<()> =
                    rocket::tokio::sync::OnceCell::const_new();
                let schema = unique("t").to_lowercase();
                let mut conn = connect(base).await;
                PREPARED
                    .get_or_init(|| async {
                        let mut conn = connect(base).await;
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
                        )
                        .await;
                        drop_schemas_of_finished_runs(&mut conn).await;
                    })
                    .await;
                sqlx::Executor::execute(&mut conn, format!("CREATE SCHEMA {schema}").as_str())
                    .await
                    .unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-csearch_path%3D{schema}")
            }
        }
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap()
}

/// Drops the schemas that earlier test runs made (`t_<pid>_…`) whose process has ended, so that
/// the database does not fill up; a run still going (its process alive) keeps its own.
async fn drop_schemas_of_finished_runs(conn: &mut sqlx::AnyConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name LIKE 't\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        // Only where /proc tells which processes live (Linux); elsewhere nothing is dropped.
        let finished = std::path::Path::new("/proc/self").exists()
            && pid.is_some_and(|pid| {
                pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if finished && plain {
            let _ =
                sqlx::Executor::execute(&mut *conn, format!("DROP SCHEMA {name} CASCADE").as_str())
                    .await;
        }
    }
}

/// `SQLite` always; `PostgreSQL` when `TEST_POSTGRES_URL` is set (else a visible note, once).
#[must_use]
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    if let Some(postgres) = Backend::postgres() {
        list.push(postgres);
    } else {
        static ONCE: OnceLock<()> = OnceLock::new();
        ONCE.get_or_init(|| {
            say("note: TEST_POSTGRES_URL is not set: skipping the PostgreSQL runs of the database tests");
        });
    }
    list
}

/// [`Backend::postgres`], or `None` after saying that `test` is skipped: a skip must show in
/// every run, not pass silently.
#[must_use]
pub fn postgres_or_skip(test: &str) -> Option<Backend> {
    let backend = Backend::postgres();
    if backend.is_none() {
        say(&format!("{test}: skipped: {POSTGRES_URL_VAR} is not set"));
    }
    backend
}

/// Writes a line to the real standard error, past the test harness's capture (which only takes
/// `eprintln!`), so that it shows in every run.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A scratch folder of its own under `CLERK_ROCKET_TEST_DIR` (default: the system's temporary
/// folder), left in place: small, and useful after a failure.
#[must_use]
pub fn scratch_dir() -> PathBuf {
    let base = std::env::var_os("CLERK_ROCKET_TEST_DIR").map_or_else(
        || std::env::temp_dir().join("clerk-rocket-tests"),
        PathBuf::from,
    );
    let dir = base.join(unique("t"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `async fn name(backend: Backend)` as two tests, `name::sqlite` and `name::postgres`,
/// that pass or fail apart; the `PostgreSQL` one says it is skipped when `TEST_POSTGRES_URL` is
/// not set.
///
/// The function stays an ordinary one beside the macro, so that rustfmt and editors see it; a
/// module of its name holds the two tests (a declarative macro cannot join identifiers into
/// `name_sqlite`), so `cargo test name` runs both and `cargo test postgres` every `PostgreSQL`
/// run. They are `#[tokio::test]`s (the calling crate needs `tokio` with its `macros` feature);
/// `#[tokio::test(…)]` before a single name picks another runtime flavor.
///
/// ```text
/// backend_tests!(a_user_is_created, fifty_concurrent_first_requests_make_one_row);
/// backend_tests!(#[tokio::test(flavor = "multi_thread")] sync_and_webhooks_at_once);
///
/// async fn a_user_is_created(backend: Backend) {
///     let (_fake, app) = clerk_app_with(|settings| settings.on(&backend)).await;
///     // …
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    (#[tokio::test $($runtime:tt)*] $name:ident) => {
        mod $name {
            #[tokio::test $($runtime)*]
            async fn sqlite() {
                super::$name($crate::testing::Backend::Sqlite).await;
            }

            #[tokio::test $($runtime)*]
            async fn postgres() {
                if let Some(backend) = $crate::testing::postgres_or_skip(module_path!()) {
                    super::$name(backend).await;
                }
            }
        }
    };
    ($($name:ident),+ $(,)?) => {
        $($crate::backend_tests!(#[tokio::test] $name);)+
    };
}
