//! Latency of `GET /api/admin/users` with a million users, on SQLite and PostgreSQL.
//!
//! `cargo bench --bench admin_users` (see bench/README.md). Seeds N users (default 1,000,000;
//! `BENCH_USERS`) into a fresh SQLite file and, when `BENCH_POSTGRES_URL` is set, a fresh
//! PostgreSQL schema; serves the app on 127.0.0.1 and times sequential requests over one
//! keep-alive connection: `/health` (the baseline, a bare route of the same binary), the first
//! page, a page deep in the list through a cursor, a search matching a few users, one matching
//! none, and one matching every user; then the admin dashboard (`/api/admin/stats` and the `/admin`
//! page). Prints p50 and p95 per scenario and their ratio to the baseline's p50. Last, it exports
//! every user as CSV (`/admin/users.csv`) once and prints the process's peak RSS meanwhile.

// Seeding goes straight to the server through a pool of its own (src/db/statement.rs is for
// the app's pool).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use clerk_rocket::clerk::local::{LocalIssuer, LocalUser};
use clerk_rocket::db::pagination::PageStart;
use rocket::fairing::AdHoc;
use rocket_db_pools::Database as _;
use serde_json::json;

const WARMUP: usize = 30;
const SAMPLES: usize = 300;
const BATCH: u64 = 100_000;

fn main() {
    let users: u64 = std::env::var("BENCH_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut backends = vec![(
            "SQLite",
            format!("sqlite://{}/bench.db?mode=rwc", dir.display()),
        )];
        match std::env::var("BENCH_POSTGRES_URL") {
            Ok(url) => backends.push(("PostgreSQL", fresh_schema(&url).await)),
            Err(_) => eprintln!("note: BENCH_POSTGRES_URL is not set: PostgreSQL is not measured"),
        }
        println!("| backend | scenario | p50 ms | p95 ms | p50 / baseline p50 |");
        println!("| --- | --- | ---: | ---: | ---: |");
        for (name, url) in backends {
            run(name, &url, users, &dir).await;
        }
    });
}

async fn fresh_schema(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(base)
        .await
        .unwrap();
    for sql in [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
        "DROP SCHEMA IF EXISTS clerk_rocket_bench CASCADE",
        "CREATE SCHEMA clerk_rocket_bench",
    ] {
        sqlx::Executor::execute(&mut conn, sql).await.unwrap();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3Dclerk_rocket_bench")
}

async fn run(backend: &str, url: &str, users: u64, dir: &std::path::Path) {
    let key_file = dir.join("local.pem");
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("port", 0))
        .merge(("address", "127.0.0.1"))
        .merge((
            "databases.app",
            json!({ "url": url, "max_connections": 8, "connect_timeout": 5 }),
        ))
        .merge((
            "clerk",
            json!({ "local_mode": "true", "local_key_file": key_file.to_str().unwrap() }),
        ));
    let (tx, rx) = rocket::tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let rocket = clerk_rocket::build(figment).attach(AdHoc::on_liftoff("port", move |rocket| {
        Box::pin(async move {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(rocket.config().port);
            }
        })
    }));
    let rocket = rocket
        .ignite()
        .await
        .expect("the app starts (migrations applied)");
    let pool = clerk_rocket::db::Db::fetch(&rocket)
        .map(|db| (***db).clone())
        .expect("the pool");
    seed(&pool, backend, users).await;
    rocket::tokio::spawn(async move { rocket.launch().await });
    let port = rx.await.unwrap();
    let base = format!("http://127.0.0.1:{port}");

    let issuer = LocalIssuer::load_or_create(&key_file).unwrap();
    let admin = LocalUser {
        email: "bench-admin@example.test".into(),
        admin: true,
        ..Default::default()
    };
    let token = issuer.mint(&admin, &format!("http://localhost:{port}"), 3600);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();

    let deep = clerk_rocket::db::pagination::encode(PageStart::After(users.cast_signed() * 3 / 4))
        .unwrap();
    let scenarios = [
        ("baseline: GET /health", "/health".to_owned()),
        ("first page", "/api/admin/users".to_owned()),
        (
            "deep page (cursor at 3/4 of the list)",
            format!("/api/admin/users?cursor={deep}"),
        ),
        (
            "search matching 3 users",
            "/api/admin/users?q=zyxwv".to_owned(),
        ),
        (
            "search matching none",
            "/api/admin/users?q=qqqzzzj".to_owned(),
        ),
        (
            "search matching every user",
            "/api/admin/users?q=%40mail".to_owned(),
        ),
        (
            "dashboard figures: GET /api/admin/stats",
            "/api/admin/stats".to_owned(),
        ),
        ("dashboard page: GET /admin", "/admin".to_owned()),
    ];
    let mut baseline = None;
    for (scenario, path) in scenarios {
        let (p50, p95, count) = measure(&http, &format!("{base}{path}"), &token).await;
        let base_p50 = *baseline.get_or_insert(p50);
        println!(
            "| {backend} | {scenario} ({count} users) | {:.2} | {:.2} | {:.1} |",
            ms(p50),
            ms(p95),
            p50.as_secs_f64() / base_p50.as_secs_f64()
        );
    }
    export_csv(&http, &base, &token, backend).await;
}

/// `VmRSS` and `VmHWM` of this process (server and client), in MB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Exports every user once, reading the body as it streams, and prints the peak RSS meanwhile.
async fn export_csv(http: &reqwest::Client, base: &str, token: &str, backend: &str) {
    // Resets VmHWM to the current RSS (Linux 4.0+), so the peak is the export's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (before, _) = rss_mb();
    let start = Instant::now();
    let mut response = http
        .get(format!("{base}/admin/users.csv"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        // The seeded users have no line break in a field: every LF ends a record.
        #[allow(clippy::naive_bytecount)]
        let records = chunk.iter().filter(|b| **b == b'\n').count();
        lines += records;
    }
    let (after, peak) = rss_mb();
    eprintln!(
        "| {backend} | CSV export of every user | {} rows | {:.0} MB | {:.1} s | RSS before {before:.1} MB, peak {peak:.1} MB, after {after:.1} MB |",
        lines - 1,
        f64::from(u32::try_from(bytes / 1000).unwrap_or(u32::MAX)) / 1000.0,
        start.elapsed().as_secs_f64()
    );
}

/// Sequential requests over one connection; p50 and p95, and how many users the last answer held.
async fn measure(http: &reqwest::Client, url: &str, token: &str) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(SAMPLES);
    let mut count = 0;
    for i in 0..WARMUP + SAMPLES {
        let start = Instant::now();
        let response = http.get(url).bearer_auth(token).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let text = response.text().await.unwrap();
        if i >= WARMUP {
            times.push(start.elapsed());
        }
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        count = body["users"]
            .as_array()
            .or_else(|| body["newest"].as_array())
            .map_or(0, Vec::len);
    }
    times.sort();
    (times[SAMPLES / 2], times[SAMPLES * 95 / 100], count)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Inserts `users` users in set-based batches, then three with a rare name. They signed up over
/// the last three years (the newest now), were last seen evenly over the last 90 days (a third of
/// them in the last 30), one in 1,000 is banned and one in 2,000 deleted.
async fn seed(pool: &sqlx::AnyPool, backend: &str, users: u64) {
    let started = Instant::now();
    let sqlite = clerk_rocket::db::is_sqlite(pool);
    let now = clerk_rocket::clerk::token::now();
    let span = 3 * 365 * 86_400 / users.max(1);
    if !sqlite {
        // Row triggers keep the dashboard's counters; a bulk insert recomputes them once instead
        // (as migrations/postgres/0006 advises), below.
        sqlx::query("ALTER TABLE users DISABLE TRIGGER USER")
            .execute(pool)
            .await
            .unwrap();
    }
    let mut from = 1;
    while from <= users {
        let to = (from + BATCH - 1).min(users);
        let numbers = if sqlite {
            format!("WITH RECURSIVE seq(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM seq WHERE n < {to}) ")
        } else {
            String::new()
        };
        let source = if sqlite {
            "seq".to_owned()
        } else {
            format!("generate_series({from}::bigint, {to}::bigint) AS seq(n)")
        };
        let sql = format!(
            "{numbers}INSERT INTO users (clerk_id, email, username, first_name, last_name, role, created_at, updated_at, last_seen_at, banned, deleted_at) \
             SELECT 'user_2bench' || n, 'person' || n || '@mail' || (n % 1000) || '.test', 'person' || n || '@mail' || (n % 1000) || '.test', \
                    'First' || (n % 500), 'Last' || (n % 977), NULL, {now} - ({users} - n) * {span}, {now} - ({users} - n) * {span}, \
                    {now} - (n * 7919) % (90 * 86400), CASE WHEN n % 1000 = 0 THEN 1 ELSE 0 END, \
                    CASE WHEN n % 2000 = 1 THEN {now} - 86400 END \
             FROM {source}"
        );
        sqlx::query(&sql).execute(pool).await.unwrap();
        eprintln!(
            "{backend}: {to} users seeded ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    if !sqlite {
        for sql in [
            "ALTER TABLE users ENABLE TRIGGER USER",
            "DELETE FROM users_by_last_seen_day",
            "INSERT INTO users_by_last_seen_day (day, users) \
             SELECT COALESCE(last_seen_at / 86400, -1), COUNT(*) FROM users GROUP BY COALESCE(last_seen_at / 86400, -1)",
            "DELETE FROM daily_active_users",
            "INSERT INTO daily_active_users (day, users) SELECT last_seen_at / 86400, COUNT(*) FROM users \
             WHERE last_seen_at IS NOT NULL GROUP BY last_seen_at / 86400",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
    for i in 0..3 {
        sqlx::query("INSERT INTO users (clerk_id, email, username, first_name, last_name, created_at, updated_at) VALUES ($1, $2, $2, 'Needle', 'Zyxwvut', 1, 1)")
            .bind(format!("user_2needle{i}"))
            .bind(format!("needle{i}@example.test"))
            .execute(pool)
            .await
            .unwrap();
    }
    if !sqlite {
        sqlx::query("ANALYZE users").execute(pool).await.unwrap();
    }
    eprintln!(
        "{backend}: seeding took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
