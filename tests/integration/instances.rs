//! Several instances: two real `clerk-rocket` processes on one PostgreSQL database, straight to
//! the server and through PgBouncer in transaction pooling mode. One user is one row through
//! both; a ban, a deletion or a session revocation delivered to one is honoured by the other
//! within the 5-second bound.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// The bound DESIGN.md promises, and a margin for a slow machine (two debug builds, 2 cores).
const BOUND: Duration = Duration::from_secs(5);
const MARGIN: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_on_one_postgres_share_users_and_denials() {
    let Some(Backend::Postgres(base)) = postgres_or_skip("two_processes_on_one_postgres") else {
        return;
    };
    let database = Database::create(&base).await;
    let url = database.url.clone();
    two_processes(&database, &url, &[]).await;
    database.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_through_pgbouncer_in_transaction_mode() {
    let Some(Backend::Postgres(base)) = postgres_or_skip("two_processes_through_pgbouncer") else {
        return;
    };
    let Some(bouncer) = PgBouncer::start_or_skip(&base) else {
        return;
    };
    let database = Database::create(&base).await;
    let pooled = bouncer.url_of(&database.url);
    let through_pooler = [
        ("CLERK_DATABASE_POOLER", "transaction"),
        ("CLERK_DATABASE_MIGRATION_URL", database.url.as_str()),
    ];
    two_processes(&database, &pooled, &through_pooler).await;
    // `check` talks to the database as the app does: run after run on the pooler's shared
    // server connections, no statement name collides with one a run before it left.
    let dir = scratch_dir();
    let mut env = vec![
        ("DATABASE_URL", pooled.as_str()),
        ("CLERK_LOCAL_MODE", "false"),
        ("CLERK_JWT_ISSUER", "https://clerk.example.test"),
    ];
    env.extend_from_slice(&through_pooler);
    for run_number in 1..=3 {
        let out = run(&dir, &["check"], &env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        for topic in ["database", "migrations"] {
            let line = stdout
                .lines()
                .find(|line| line[8..].starts_with(&format!("{topic}:")))
                .unwrap_or_default();
            assert!(
                line.starts_with("ok "),
                "run {run_number}, {topic}: {stdout}"
            );
        }
    }
    drop(bouncer);
    database.drop().await;
}

/// Processes A and B on `url` (the server, or a pooler in front of it) with `extra` settings.
async fn two_processes(database: &Database, url: &str, extra: &[(&str, &str)]) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let a = Instance::start("a", &fake, url, extra).await;
    let b = Instance::start("b", &fake, url, extra).await;

    // One user, first seen through both at once: one row, the same id in both answers.
    let user = user_id();
    let token = key_a().sign(&claims(&user));
    let (through_a, through_b) = tokio::join!(a.bearer(&token), b.bearer(&token));
    assert_eq!(through_a.0, 200, "{}: {:?}", a.log(), through_a.1);
    assert_eq!(through_b.0, 200, "{}: {:?}", b.log(), through_b.1);
    assert_eq!(through_a.1["user"]["clerk_id"], json!(user));
    assert_eq!(through_a.1["user"]["id"], through_b.1["user"]["id"]);
    assert_eq!(database.count_users(&user).await, 1);
    // Many users at once through both, which makes the processes share pooler connections.
    let many: Vec<String> = (0..24i64).map(|_| user_id()).collect();
    let answers = first_sights(&a, &b, &many).await;
    for (user, (from_a, from_b)) in many.iter().zip(answers) {
        assert_eq!(
            (from_a.0, from_b.0),
            (200, 200),
            "{user}: {from_a:?} {from_b:?}"
        );
        assert_eq!(from_a.1["user"]["id"], from_b.1["user"]["id"]);
    }
    assert_eq!(
        database.count_all_users().await,
        1 + i64::try_from(many.len()).unwrap()
    );

    let [banned, deleted, revoked] = [user_id(), user_id(), user_id()];
    let tokens: Vec<String> = [&banned, &deleted, &revoked]
        .iter()
        .map(|user| key_a().sign(&claims(user)))
        .collect();
    for token in &tokens {
        assert_eq!(a.bearer(token).await.0, 200);
        assert_eq!(
            b.bearer(token).await.0,
            200,
            "B serves the user (and keeps the row)"
        );
    }

    let mut ban = clerk_user(&banned, &format!("{banned}@example.test"), now() * 1000);
    ban["banned"] = json!(true);
    let session = json!({ "id": format!("sess_{revoked}"), "object": "session",
                          "user_id": revoked, "status": "revoked",
                          "expire_at": (now() + 3600) * 1000 });
    let events = [
        clerk_event("user.updated", ban),
        clerk_event(
            "user.deleted",
            json!({ "id": deleted, "object": "user", "deleted": true }),
        ),
        clerk_event("session.revoked", session),
    ];
    let expected = [
        (403, "user-banned"),
        (401, "user-deleted"),
        (401, "session-revoked"),
    ];
    // B answered 200 for each just now, so it holds each row (and "not revoked") in memory.
    for token in &tokens {
        assert_eq!(b.bearer(token).await.0, 200);
    }
    let delivered = Instant::now();
    for event in &events {
        let answer = a.deliver(event).await;
        assert_eq!(answer.0, 200, "{}: {:?}", a.log(), answer.1);
    }
    for (token, (status, code)) in tokens.iter().zip(expected) {
        let here = a.bearer(token).await;
        assert_eq!(
            (here.0, error_code(&here.1)),
            (status, code),
            "at once on A"
        );
    }
    for (token, (status, code)) in tokens.iter().zip(expected) {
        loop {
            let there = b.bearer(token).await;
            if there.0 == status {
                assert_eq!(error_code(&there.1), code);
                eprintln!(
                    "{code}: refused by B {:?} after delivery to A",
                    delivered.elapsed()
                );
                break;
            }
            assert_eq!(there.0, 200, "{}: {:?}", b.log(), there.1);
            assert!(
                delivered.elapsed() < BOUND + MARGIN,
                "{code}: still served by B after {:?}",
                delivered.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Both processes are still healthy after all of it (no statement error left behind).
    assert_eq!(a.bearer(&token).await.0, 200, "{}", a.log());
    assert_eq!(b.bearer(&token).await.0, 200, "{}", b.log());
}

/// The first request of each of `users` through A and B at once.
async fn first_sights(
    a: &Instance,
    b: &Instance,
    users: &[String],
) -> Vec<((u16, Value), (u16, Value))> {
    let mut tasks = Vec::new();
    for user in users {
        let token = key_a().sign(&claims(user));
        let (a, b) = (a.client.clone(), b.client.clone());
        tasks.push(tokio::spawn(async move {
            tokio::join!(a.bearer(&token), b.bearer(&token))
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// A database of its own on the server of `TEST_POSTGRES_URL` (PgBouncer 1.18 cannot pass the
/// `options` startup parameter that a schema of its own would need), dropped at the end.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(base: &str) -> Database {
        let name = unique("inst").to_lowercase();
        let mut url = reqwest::Url::parse(base).unwrap();
        url.set_path(&format!("/{name}"));
        let database = Database {
            admin_url: base.to_owned(),
            name,
            url: url.to_string(),
        };
        database.drop_those_of_finished_runs().await;
        database
            .admin(&format!("CREATE DATABASE {}", database.name))
            .await;
        database
    }

    /// Drops the databases (`inst_<pid>_…`) left by runs that failed before dropping theirs and
    /// whose process has ended.
    async fn drop_those_of_finished_runs(&self) {
        let mut conn = connect(&self.admin_url).await;
        let names: Vec<String> = clerk_rocket::db::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'inst\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
        for name in names {
            let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
            let finished = pid.is_some_and(|pid| {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            });
            if finished && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::Executor::execute(&mut conn, sql.as_str()).await;
            }
        }
    }

    async fn admin(&self, sql: &str) {
        let mut conn = connect(&self.admin_url).await;
        sqlx::Executor::execute(&mut conn, sql).await.unwrap();
    }

    async fn count_users(&self, clerk_id: &str) -> i64 {
        let mut conn = connect(&self.url).await;
        clerk_rocket::db::query_scalar("SELECT COUNT(*) FROM users WHERE clerk_id = $1")
            .bind(clerk_id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }

    async fn count_all_users(&self) -> i64 {
        let mut conn = connect(&self.url).await;
        clerk_rocket::db::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }

    async fn drop(self) {
        self.admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .await;
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap()
}

/// A free port on 127.0.0.1 (free when asked: the process started on it binds it at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed when dropped (also when an assertion fails).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `clerk-rocket serve` process in a folder of its own, and a client of it.
struct Instance {
    client: Client,
    _process: Process,
}

impl std::ops::Deref for Instance {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

#[derive(Clone)]
struct Client {
    base: String,
    http: reqwest::Client,
    log_file: PathBuf,
}

impl Instance {
    async fn start(name: &str, fake: &FakeClerk, url: &str, extra: &[(&str, &str)]) -> Instance {
        let dir = scratch_dir();
        // The binary reads its templates and static files from its working folder; no Rocket.toml
        // and no .env there, so that only the settings below apply.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["templates", "static"] {
            std::os::unix::fs::symlink(root.join(folder), dir.join(folder)).unwrap();
        }
        let port = free_port();
        let log_file = dir.join(format!("{name}.log"));
        let log = File::create(&log_file).unwrap();
        let jwks_url = fake.jwks_url();
        let api_url = fake.api_url();
        let port_text = port.to_string();
        let mut env = vec![
            ("ROCKET_ADDRESS", "127.0.0.1"),
            ("ROCKET_PORT", port_text.as_str()),
            ("ROCKET_LOG_LEVEL", "critical"),
            ("DATABASE_URL", url),
            ("CLERK_LOCAL_MODE", "false"),
            ("CLERK_JWT_ISSUER", "https://clerk.example.test"),
            ("CLERK_JWKS_URL", &jwks_url),
            ("CLERK_API_URL", &api_url),
            ("CLERK_WEBHOOK_SIGNING_SECRET", WEBHOOK_SECRET),
        ];
        env.extend_from_slice(extra);
        let child = Command::new(env!("CARGO_BIN_EXE_clerk-rocket"))
            .arg("serve")
            .current_dir(&dir)
            .env_clear()
            .envs(env)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the binary starts");
        let instance = Instance {
            client: Client {
                base: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::new(),
                log_file,
            },
            _process: Process(child),
        };
        instance.wait_until_ready().await;
        instance
    }
}

impl Client {
    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(answer) = self.http.get(format!("{}/ready", self.base)).send().await {
                if answer.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} did not become ready: {}", self.base, self.log());
    }

    /// What the process wrote so far, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    async fn bearer(&self, token: &str) -> (u16, Value) {
        let answer = self
            .http
            .get(format!("{}/api/users/clerk-test/", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(answer).await
    }

    /// Delivers `body` as Svix would, signed now with [`WEBHOOK_SECRET`].
    async fn deliver(&self, body: &[u8]) -> (u16, Value) {
        let id = unique("msg");
        let ts = now();
        let answer = self
            .http
            .post(format!("{}/api/webhooks/clerk", self.base))
            .header("svix-id", &id)
            .header("svix-timestamp", ts.to_string())
            .header(
                "svix-signature",
                sign_webhook(WEBHOOK_SECRET, &id, ts, body),
            )
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        read(answer).await
    }
}

async fn read(answer: reqwest::Response) -> (u16, Value) {
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// PgBouncer in transaction pooling mode on 127.0.0.1, in front of the server of `base`, with
/// fewer server connections than the two processes have client connections, so that they share.
struct PgBouncer {
    port: u16,
    _process: Process,
}

impl PgBouncer {
    /// Started, or `None` after saying why the test is skipped (a failure when
    /// `REQUIRE_PGBOUNCER=1`, as in `.ci/run`).
    fn start_or_skip(base: &str) -> Option<PgBouncer> {
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(binary) = binary else {
            assert!(
                std::env::var("REQUIRE_PGBOUNCER").as_deref() != Ok("1"),
                "REQUIRE_PGBOUNCER=1 but pgbouncer is not installed (apt-get install pgbouncer)"
            );
            let _ = std::io::Write::write_all(
                &mut std::io::stderr().lock(),
                b"two_processes_through_pgbouncer: skipped: pgbouncer is not installed\n",
            );
            return None;
        };
        let server = reqwest::Url::parse(base).unwrap();
        let user = if server.username().is_empty() {
            "postgres"
        } else {
            server.username()
        };
        let dir = scratch_dir();
        let port = free_port();
        let ini = dir.join("pgbouncer.ini");
        let users = dir.join("userlist.txt");
        std::fs::write(
            &users,
            format!("\"{user}\" \"{}\"\n", server.password().unwrap_or("")),
        )
        .unwrap();
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 * = host={host} port={server_port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = transaction\n\
                 default_pool_size = 3\n\
                 max_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits\n",
                host = server.host_str().unwrap_or("127.0.0.1"),
                server_port = server.port().unwrap_or(5432),
                users = users.display(),
            ),
        )
        .unwrap();
        // PgBouncer refuses to run as root: then it runs as the server's own system user.
        let mut command = Command::new(binary);
        if is_root() {
            command.args(["-u", "postgres"]);
        }
        let log = File::create(dir.join("pgbouncer.log")).unwrap();
        let child = command
            .arg(&ini)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("pgbouncer starts");
        let bouncer = PgBouncer {
            port,
            _process: Process(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen: {}",
                std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(bouncer)
    }

    /// `direct` (a URL of the server) with PgBouncer's address instead.
    fn url_of(&self, direct: &str) -> String {
        let mut url = reqwest::Url::parse(direct).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn pooler_settings_are_checked_before_anything_starts() {
    let dir = scratch_dir();
    let server = "postgres://app@127.0.0.1:1/app";
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("DATABASE_URL", server),
                ("CLERK_DATABASE_POOLER", "session"),
            ],
            "CLERK_DATABASE_POOLER",
        ),
        // The default database is SQLite, which no pooler stands in front of.
        (
            &[("CLERK_DATABASE_POOLER", "transaction")],
            "CLERK_DATABASE_POOLER",
        ),
        (
            &[
                ("DATABASE_URL", server),
                ("CLERK_DATABASE_POOLER", "transaction"),
            ],
            "CLERK_DATABASE_MIGRATION_URL",
        ),
        (
            &[
                ("DATABASE_URL", server),
                ("CLERK_DATABASE_POOLER", "transaction"),
                ("CLERK_DATABASE_MIGRATION_URL", "sqlite://app.db"),
            ],
            "CLERK_DATABASE_MIGRATION_URL",
        ),
        (
            &[("CLERK_DATABASE_MIGRATION_URL", server)],
            "CLERK_DATABASE_MIGRATION_URL",
        ),
    ];
    for (settings, variable) in cases {
        let mut env = vec![("CLERK_LOCAL_MODE", "true")];
        env.extend_from_slice(settings);
        for command in ["migrate", "serve"] {
            let out = run(&dir, &[command], &env);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{settings:?}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
            assert!(
                stderr.starts_with(&format!("error: {variable}: ")),
                "{settings:?}: {stderr}"
            );
        }
    }
}
