//! The offline test kit (cargo feature `testing`): test Clerk without a Clerk account.
//!
//! - [`TestKey`]: RSA instance keys made on the spot ([`key_a`], [`key_b`]), signing session
//!   tokens with any claims ([`claims`], [`with`]): expired, another party, another key, admin.
//! - [`FakeClerk`]: a real HTTP server on 127.0.0.1 standing in for the frontend API (JWKS) and the
//!   Backend API (users, handshake payloads, anything else through its `server`).
//! - [`sign_webhook`], [`clerk_event`], [`clerk_user`]: Svix-signed Clerk webhook deliveries.
//! - [`Settings`] → [`TestApp`]: the app configured against the fake, on a fresh SQLite file or a
//!   fresh PostgreSQL schema ([`backends`]: PostgreSQL when `TEST_POSTGRES_URL` is set), with a
//!   Rocket client and helpers that reduce responses to an [`Answer`].
//!
//! This crate's own integration tests use it, so it stays true. See the README for an example.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use aws_lc_rs::encoding::AsDer;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::figment::Figment;
use rocket::local::asynchronous::Client;
use serde_json::{json, Map, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ISSUER_HOST: &str = "clerk.example.test";
pub const ORIGIN: &str = "https://app.example.test";

/// An RSA signing key with its key id, as Clerk's instance keys are.
pub struct TestKey {
    pub kid: String,
    pub private_pem: String,
    pub public_pem: String,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    fn generate(kid: &str) -> TestKey {
        let private_pem = crate::clerk::local::generate_rsa_pem().unwrap();
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap(),
        )
        .unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        let der = pem_body(&private_pem);
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
        let spki = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_der()
            .unwrap();
        let public_pem = pem("PUBLIC KEY", spki.as_ref());
        TestKey {
            kid: kid.to_owned(),
            private_pem,
            public_pem,
            encoding,
            jwk,
        }
    }

    /// Signs `claims` with this key, RS256, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with extra header fields (`typ`, `cat`, …).
    pub fn sign_with_header(&self, header_extra: &Value, claims: &Value) -> String {
        let mut header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        for (k, v) in header_extra.as_object().unwrap() {
            header[k] = v.clone();
        }
        let signing_input = format!("{}.{}", b64(&header), b64(claims));
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pem_body(&self.private_pem)).unwrap();
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!(
            "{signing_input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        )
    }
}

pub fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Two instance keys, made once per test run (RSA key generation is slow in debug builds).
pub fn key_a() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("ins_test_a"))
}

pub fn key_b() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("ins_test_b"))
}

pub fn now() -> i64 {
    crate::clerk::token::now()
}

/// The claims of a valid Clerk v2 session token for `user`; tests change what they test.
pub fn claims(user: &str) -> Value {
    let now = now();
    json!({
        "iss": format!("https://{ISSUER_HOST}"),
        "sub": user,
        "sid": format!("sess_{user}"),
        "azp": ORIGIN,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 60,
        "v": 2,
        "email": format!("{user}@example.test"),
    })
}

pub fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test of this run (or of an earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

pub fn user_id() -> String {
    unique("user").replace("user_", "user_t")
}

/// A scratch folder of its own under `CLERK_ROCKET_TEST_DIR` (default: the system's temporary
/// folder), left in place: small, and useful after a failure.
pub fn scratch_dir() -> PathBuf {
    let base = std::env::var_os("CLERK_ROCKET_TEST_DIR").map_or_else(
        || std::env::temp_dir().join("clerk-rocket-tests"),
        PathBuf::from,
    );
    let dir = base.join(unique("t"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// Databases

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A URL of a database of its own: a new SQLite file, or a new schema of the PostgreSQL database.
    pub async fn fresh_url(&self) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}/app.db?mode=rwc", scratch_dir().display()),
            Backend::Postgres(base) => {
                let schema = unique("t").to_lowercase();
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(base)
                    .await
                    .unwrap();
                // Extensions are per database: create pg_trgm once, before parallel tests race
                // to create it from their migrations.
                static EXTENSION: rocket::tokio::sync::OnceCell<()> =
                    rocket::tokio::sync::OnceCell::const_new();
                EXTENSION
                    .get_or_init(|| async {
                        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(base)
                            .await
                            .unwrap();
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

/// SQLite always; PostgreSQL when `TEST_POSTGRES_URL` is set (else a visible note, once).
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => list.push(Backend::Postgres(url)),
        _ => {
            static ONCE: OnceLock<()> = OnceLock::new();
            ONCE.get_or_init(|| {
                // Written past the test harness's capture so that it shows in every run.
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "note: TEST_POSTGRES_URL is not set: skipping the PostgreSQL runs of the database tests"
                );
            });
        }
    }
    list
}

// ---------------------------------------------------------------------------------------------
// The fake Clerk

/// A real HTTP server on 127.0.0.1 standing in for the frontend and Backend APIs.
pub struct FakeClerk {
    pub server: MockServer,
    /// wiremock answers with the matching mock of the lowest priority number: each new JWKS
    /// gets a lower one, so that it replaces the one served before.
    next_priority: std::sync::atomic::AtomicU8,
}

impl FakeClerk {
    pub async fn start() -> FakeClerk {
        FakeClerk {
            server: MockServer::start().await,
            next_priority: std::sync::atomic::AtomicU8::new(200),
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.server.uri())
    }

    pub fn api_url(&self) -> String {
        self.server.uri()
    }

    /// Serves a JWKS holding `keys` (replacing what was served).
    pub async fn serve_jwks(&self, keys: &[&TestKey]) {
        let body = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        self.serve_jwks_body(body).await;
    }

    pub async fn serve_jwks_body(&self, body: Value) {
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .with_priority(self.next_priority.fetch_sub(1, Ordering::Relaxed))
            .mount(&self.server)
            .await;
    }

    /// Serves the Backend API's `GET /v1/users/{id}` for one user.
    pub async fn serve_user(&self, user_id: &str, email: &str) {
        let body = json!({
            "id": user_id, "object": "user", "first_name": "Ada", "last_name": "Lovelace",
            "primary_email_address_id": "idn_2",
            "email_addresses": [
                { "id": "idn_1", "email_address": format!("secondary.{email}") },
                { "id": "idn_2", "email_address": email }
            ]
        });
        Mock::given(method("GET"))
            .and(path(format!("/v1/users/{user_id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    /// How many requests reached `path`.
    pub async fn hits(&self, wanted: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == wanted)
            .count()
    }
}

// ---------------------------------------------------------------------------------------------
// The app

/// The app under test, built from Rocket.toml plus `settings`.
pub struct TestApp {
    pub client: Arc<Client>,
    pub database_url: String,
}

pub struct Settings {
    pub backend: Backend,
    pub clerk: Map<String, Value>,
}

impl Settings {
    /// A local-mode app (its own issuer) whose key is, or will be made, at `key_file`.
    pub fn local(key_file: &std::path::Path) -> Settings {
        Settings {
            backend: Backend::Sqlite,
            clerk: Map::new(),
        }
        .set("local_mode", "true")
        .set("local_key_file", &key_file.to_string_lossy())
    }

    /// A Clerk-mode app trusting `https://clerk.example.test` with keys from `fake`.
    pub fn clerk(fake: &FakeClerk) -> Settings {
        let mut clerk = Map::new();
        clerk.insert("local_mode".into(), json!("false"));
        clerk.insert("jwt_issuer".into(), json!(format!("https://{ISSUER_HOST}")));
        clerk.insert("jwks_url".into(), json!(fake.jwks_url()));
        clerk.insert("api_url".into(), json!(fake.api_url()));
        Settings {
            backend: Backend::Sqlite,
            clerk,
        }
    }

    pub fn set(mut self, key: &str, value: &str) -> Settings {
        self.clerk.insert(key.into(), json!(value));
        self
    }

    pub fn unset(mut self, key: &str) -> Settings {
        self.clerk.remove(key);
        self
    }

    pub fn on(mut self, backend: &Backend) -> Settings {
        self.backend = backend.clone();
        self
    }

    pub async fn figment(&self) -> (Figment, String) {
        let url = self.backend.fresh_url().await;
        let figment = rocket::Config::figment()
            .merge(("log_level", "off"))
            .merge((
                "databases.app",
                json!({ "url": url, "max_connections": 8, "connect_timeout": 5 }),
            ))
            .merge(("clerk", Value::Object(self.clerk.clone())));
        (figment, url)
    }

    pub async fn start(self) -> TestApp {
        let (figment, database_url) = self.figment().await;
        let client = Client::untracked(crate::build(figment))
            .await
            .expect("the app starts");
        TestApp {
            client: Arc::new(client),
            database_url,
        }
    }
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    async fn read(response: rocket::local::asynchronous::LocalResponse<'_>) -> Answer {
        let status = response.status().code;
        let headers = response
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect();
        let text = response.into_string().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// Waits until `/ready` says the database answers and keys are loaded (the launch warm-up).
    pub async fn ready(&self) {
        for _ in 0..200 {
            if self.get("/ready", &[]).await.status == 200 {
                return;
            }
            rocket::tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the app did not become ready");
    }

    pub async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        Answer::read(
            with_headers(self.client.get(uri.to_owned()), headers)
                .dispatch()
                .await,
        )
        .await
    }

    /// `GET uri` with `Authorization: Bearer <token>`.
    pub async fn get_as(&self, uri: &str, token: &str) -> Answer {
        self.get(uri, &[("Authorization", &format!("Bearer {token}"))])
            .await
    }

    /// `GET /api/users/clerk-test/` with `Authorization: Bearer <token>`.
    pub async fn bearer(&self, token: &str) -> Answer {
        self.get(
            "/api/users/clerk-test/",
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await
    }

    pub async fn cookie(&self, token: &str) -> Answer {
        self.get(
            "/api/users/clerk-test/",
            &[("Cookie", &format!("__session={token}"))],
        )
        .await
    }

    /// A pool on the app's database, for looking at rows.
    pub async fn pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url)
            .await
            .unwrap()
    }

    pub async fn count_users(&self, clerk_id: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE clerk_id = $1")
            .bind(clerk_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}

/// A fake Clerk serving `key_a`, and an app trusting it, on SQLite.
pub async fn clerk_app() -> (FakeClerk, TestApp) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = Settings::clerk(&fake).start().await;
    (fake, app)
}

impl Answer {
    /// Every value of a header that may repeat (`Set-Cookie`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value a `Set-Cookie` header gives `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.all("Set-Cookie").into_iter().find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
    }

    pub fn text(&self) -> String {
        match &self.body {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl TestApp {
    /// `POST uri` with a form body.
    pub async fn post_form(&self, uri: &str, form: &str, headers: &[(&str, &str)]) -> Answer {
        let request = self
            .client
            .post(uri.to_owned())
            .header(rocket::http::ContentType::Form)
            .body(form);
        Answer::read(with_headers(request, headers).dispatch().await).await
    }
}

/// Adds `headers` to a local request; a `Cookie` header goes to the cookie jar, which the local
/// client fills from `.cookie()`, not from a raw header.
fn with_headers<'c>(
    mut request: rocket::local::asynchronous::LocalRequest<'c>,
    headers: &[(&str, &str)],
) -> rocket::local::asynchronous::LocalRequest<'c> {
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("cookie") {
            for pair in value.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    request = request.cookie(rocket::http::Cookie::new(k.to_owned(), v.to_owned()));
                }
            }
        } else {
            request = request.header(rocket::http::Header::new(
                name.to_string(),
                value.to_string(),
            ));
        }
    }
    request
}

/// `pk_test_…`/`pk_live_…` for a frontend API host.
pub fn publishable_key(host: &str, live: bool) -> String {
    let prefix = if live { "pk_live_" } else { "pk_test_" };
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{host}$"))
    )
}

/// A local-mode app on a fresh SQLite file, with a key of its own.
pub async fn local_app() -> TestApp {
    Settings::local(&scratch_dir().join("local.pem"))
        .start()
        .await
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// A webhook signing secret for tests (`whsec_` + base64 of 32 bytes).
pub const WEBHOOK_SECRET: &str = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0zMi1ieXRlcy1sb25nIQ==";

/// `v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`, computed here independently of the app.
pub fn sign_webhook(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = aws_lc_rs::hmac::sign(&key, &signed);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

/// A Clerk event envelope around `data`, as Svix delivers it.
pub fn clerk_event(kind: &str, data: Value) -> Vec<u8> {
    json!({
        "data": data,
        "object": "event",
        "type": kind,
        "timestamp": now() * 1000,
        "instance_id": "ins_test",
        "event_attributes": { "http_request": { "client_ip": "", "user_agent": "" } },
    })
    .to_string()
    .into_bytes()
}

/// A Clerk user object (`UserJSON`) as `user.created`/`user.updated` carry it.
pub fn clerk_user(id: &str, email: &str, updated_at_ms: i64) -> Value {
    json!({
        "id": id,
        "object": "user",
        "username": null,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "image_url": "https://img.clerk.com/ada",
        "has_image": true,
        "primary_email_address_id": "idn_primary",
        "email_addresses": [
            { "id": "idn_other", "email_address": format!("other.{email}"), "object": "email_address",
              "verification": { "status": "verified", "strategy": "email_code" }, "linked_to": [] },
            { "id": "idn_primary", "email_address": email, "object": "email_address",
              "verification": { "status": "verified", "strategy": "email_code" }, "linked_to": [] }
        ],
        "phone_numbers": [],
        "external_accounts": [],
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "banned": false,
        "locked": false,
        "created_at": 1_700_000_000_000i64,
        "updated_at": updated_at_ms,
        "last_sign_in_at": null,
    })
}

impl TestApp {
    /// `POST uri` with `headers` and exactly `body`.
    pub async fn post(&self, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let request = self.client.post(uri.to_owned()).body(body);
        Answer::read(with_headers(request, headers).dispatch().await).await
    }

    /// Delivers `body` to `/api/webhooks/clerk` as Svix would: message `id`, signed now with
    /// [`WEBHOOK_SECRET`].
    pub async fn deliver(&self, id: &str, body: &[u8]) -> Answer {
        let ts = now();
        let signature = sign_webhook(WEBHOOK_SECRET, id, ts, body);
        self.post(
            "/api/webhooks/clerk",
            &[
                ("svix-id", id),
                ("svix-timestamp", &ts.to_string()),
                ("svix-signature", &signature),
                ("Content-Type", "application/json"),
            ],
            body.to_vec(),
        )
        .await
    }

    /// The stored row of `clerk_id`, as a JSON object of its columns (tombstones included).
    pub async fn user_row(&self, clerk_id: &str) -> Option<Value> {
        use sqlx::Row as _;
        let pool = self.pool().await;
        let row = sqlx::query(
            "SELECT id, email, username, first_name, role, deleted_at, banned, clerk_updated_at, \
             updated_at FROM users WHERE clerk_id = $1",
        )
        .bind(clerk_id)
        .fetch_optional(&pool)
        .await
        .unwrap();
        pool.close().await;
        let row = row?;
        let int = |name: &str| row.try_get::<Option<i64>, _>(name).unwrap();
        let text = |name: &str| row.try_get::<Option<String>, _>(name).unwrap();
        Some(json!({
            "id": int("id"), "email": text("email"), "username": text("username"),
            "first_name": text("first_name"), "role": text("role"), "deleted_at": int("deleted_at"),
            "banned": int("banned") != Some(0), "clerk_updated_at": int("clerk_updated_at"),
            "updated_at": int("updated_at"),
        }))
    }

    /// Runs one statement on the app's database through a side connection.
    pub async fn execute(&self, sql: &str) {
        let pool = self.pool().await;
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }

    /// One number from the app's database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

// ---------------------------------------------------------------------------------------------
// The fake Clerk's Backend API JWKS and Date header (for `clerk-rocket check`)

/// An HTTP date (`Thu, 26 Nov 2026 07:00:00 GMT`) for `Date` headers.
pub fn http_date(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap()
}

impl FakeClerk {
    /// Serves a JWKS holding `keys` whose `Date` header is `offset_secs` away from now.
    pub async fn serve_jwks_dated(&self, keys: &[&TestKey], offset_secs: i64) {
        let body = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        let date = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs);
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Date", http_date(date).as_str())
                    .set_body_json(body),
            )
            .with_priority(self.next_priority.fetch_sub(1, Ordering::Relaxed))
            .mount(&self.server)
            .await;
    }

    /// Serves the Backend API's `GET /v1/jwks` holding `keys` to requests bearing `secret_key`.
    pub async fn serve_backend_jwks(&self, secret_key: &str, keys: &[&TestKey]) {
        let body = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        Mock::given(method("GET"))
            .and(path("/v1/jwks"))
            .and(wiremock::matchers::header(
                "authorization",
                format!("Bearer {secret_key}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.server)
            .await;
    }

    /// The Backend API refuses every secret key, as Clerk does an unknown or rolled one.
    pub async fn refuse_backend_jwks(&self) {
        let body = json!({ "errors": [{
            "code": "clerk_key_invalid",
            "message": "Secret Key is invalid",
            "long_message": "The provided Secret Key is invalid."
        }] });
        Mock::given(method("GET"))
            .and(path("/v1/jwks"))
            .respond_with(ResponseTemplate::new(401).set_body_json(body))
            .mount(&self.server)
            .await;
    }
}
