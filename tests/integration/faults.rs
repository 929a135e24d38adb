//! Faults of the database: a locked SQLite file and a PostgreSQL that goes away and comes back.
//! Requests get 503 with `Retry-After` (never a hang or a 500), `/health` stays up, `/ready` tells,
//! the app recovers without a restart, and a webhook refused meanwhile is applied on Svix's retry.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::common::*;

/// Busy timeout (5 s) and pool acquire timeout (5 s) with a margin for a slow machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(12);

fn assert_unavailable(answer: &Answer) {
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert_eq!(answer.code(), "database-unavailable");
    assert!(answer.header("Retry-After").is_some());
}

fn user_created(user: &str) -> Vec<u8> {
    clerk_event(
        "user.created",
        clerk_user(user, &format!("{user}@example.test"), now() * 1000),
    )
}

#[tokio::test]
async fn a_locked_sqlite_file_is_a_503_then_passes() {
    let (_fake, app) = clerk_app_with(Settings::with_webhook_secret).await;
    sqlx::any::install_default_drivers();
    let mut locker = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::Executor::execute(&mut locker, "BEGIN EXCLUSIVE")
        .await
        .unwrap();

    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let started = Instant::now();
    assert_unavailable(&app.bearer(&token).await);
    assert!(
        started.elapsed() < ANSWER_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    let message = unique("msg");
    assert_unavailable(&app.deliver(&message, &user_created(&user_id())).await);
    assert_eq!(app.get("/health", &[]).await.status, 200);

    sqlx::Executor::execute(&mut locker, "ROLLBACK")
        .await
        .unwrap();
    assert_eq!(app.bearer(&token).await.status, 200);
    assert_eq!(app.count_users(&user).await, 1);
    let retried = app.deliver(&message, &user_created(&user_id())).await;
    assert_eq!(retried.status, 200, "Svix's retry is applied");
    assert_eq!(app.count_webhook_ids(&message).await, 1);
}

/// A TCP proxy in front of PostgreSQL that can be cut (every connection dropped, new ones
/// refused) and restored.
struct Proxy {
    port: u16,
    up: Arc<Mutex<bool>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: &'static str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(Mutex::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, links2) = (Arc::clone(&up), Arc::clone(&links));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !*up2.lock().unwrap() {
                    drop(client);
                    continue;
                }
                links2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { port, up, links }
    }

    fn cut(&self) {
        *self.up.lock().unwrap() = false;
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        *self.up.lock().unwrap() = true;
    }
}

#[tokio::test]
async fn postgres_going_away_is_a_503_and_coming_back_needs_no_restart() {
    let Some(backend) = postgres_or_skip("faults::postgres_going_away") else {
        return;
    };
    let direct = backend.fresh_url().await;
    assert!(direct.contains("127.0.0.1:5432"), "{direct}");
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let proxied = direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = Settings::clerk(&fake)
        .on_database(&proxied)
        .with_webhook_secret()
        .start()
        .await;
    let first = key_a().sign(&claims(&user_id()));
    assert_eq!(app.bearer(&first).await.status, 200);

    proxy.cut();
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let started = Instant::now();
    assert_unavailable(&app.bearer(&token).await);
    assert!(
        started.elapsed() < ANSWER_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/health", &[]).await.status, 200);
    let ready = app.get("/ready", &[]).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["missing"], json!(["database"]));
    let message = unique("msg");
    let created = user_id();
    assert_unavailable(&app.deliver(&message, &user_created(&created)).await);

    proxy.restore();
    let deadline = Instant::now() + ANSWER_WITHIN;
    loop {
        let answer = app.bearer(&token).await;
        if answer.status == 200 {
            break;
        }
        assert_unavailable(&answer);
        assert!(Instant::now() < deadline, "no recovery without a restart");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(app.get("/ready", &[]).await.status, 200);
    let retried = app.deliver(&message, &user_created(&created)).await;
    assert_eq!(
        retried.status, 200,
        "Svix's retry is applied: {:?}",
        retried.body
    );
    assert_eq!(app.count_webhook_ids(&message).await, 1);
    assert_eq!(app.count_users(&created).await, 1);
    assert_eq!(app.count_users(&user).await, 1);
}
