//! Latency of `GET /api/admin/users` with a million users, on SQLite and PostgreSQL.
//!
//! `cargo bench --bench admin_users` (see bench/README.md). Seeds N users (default 1,000,000;
//! `BENCH_USERS`) into a fresh SQLite file and, when `BENCH_POSTGRES_URL` is set, a fresh
//! PostgreSQL schema; serves the app on 127.0.0.1 and times sequential requests over one
//! keep-alive connection: `/health` (the baseline, a bare route of the same binary), the first
//! page, a page deep in the list through a cursor, a search matching a few users, one matching
//! none, and one matching every user. Prints p50 and p95 per scenario and their ratio to the baseline's p50.

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
        let body: serde_json::Value = response.json().await.unwrap();
        if i >= WARMUP {
            times.push(start.elapsed());
        }
        count = body["users"].as_array().map_or(0, Vec::len);
    }
    times.sort();
    (times[SAMPLES / 2], times[SAMPLES * 95 / 100], count)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Inserts `users` users in set-based batches, then three with a rare name.
async fn seed(pool: &sqlx::AnyPool, backend: &str, users: u64) {
    let started = Instant::now();
    let sqlite = clerk_rocket::db::is_sqlite(pool);
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
            format!("generate_series({from}, {to}) AS seq(n)")
        };
        let sql = format!(
            "{numbers}INSERT INTO users (clerk_id, email, username, first_name, last_name, role, created_at, updated_at, last_seen_at) \
             SELECT 'user_2bench' || n, 'person' || n || '@mail' || (n % 1000) || '.test', 'person' || n || '@mail' || (n % 1000) || '.test', \
                    'First' || (n % 500), 'Last' || (n % 977), NULL, 1700000000 + n, 1700000000 + n, 1700000000 + n \
             FROM {source}"
        );
        sqlx::query(&sql).execute(pool).await.unwrap();
        eprintln!(
            "{backend}: {to} users seeded ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
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
