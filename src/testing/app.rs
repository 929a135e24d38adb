//! [`TestApp`]: requests to the app under test, and named helpers that read and seed its database.

use std::sync::Arc;

use rocket::local::asynchronous::{Client, LocalRequest};
use serde_json::{json, Value};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool};

use super::answer::Answer;
use super::keys::now;
use super::webhooks::{sign_webhook, WEBHOOK_SECRET};

/// The `Accept` header of a browser asking for a page, which decides between HTML and JSON errors.
/// The cookies of a browser signed in with `token` as ClerkJS leaves them: the session token, a
/// live client (`__client_uat`, older than any token) and a development browser token (which
/// production instances ignore).
#[must_use]
pub fn browser_cookies(token: &str) -> String {
    format!("__session={token}; __client_uat=1; __clerk_db_jwt=dvb_test")
}

pub const ACCEPT_HTML: (&str, &str) = ("Accept", "text/html,application/xhtml+xml");

/// The app under test. Clones share one app, so that concurrent requests are made from clones
/// moved into tasks.
#[derive(Clone)]
pub struct TestApp {
    pub client: Arc<Client>,
    pub database_url: String,
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
        let request = self.client.get(uri.to_owned());
        Answer::read(with_headers(request, headers).dispatch().await).await
    }

    /// `GET uri` with `headers`, from the peer address `peer` (`ip:port`, or a `SocketAddr`): a
    /// client of its own for the per-client limits, a proxy in `CLERK_TRUSTED_PROXIES`, or a
    /// client that is not this machine.
    pub async fn get_from(
        &self,
        peer: impl ToString,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let request = self.client.get(uri.to_owned());
        Answer::read(
            with_peer(request, &peer.to_string(), headers)
                .dispatch()
                .await,
        )
        .await
    }

    /// `POST uri` with `headers` and exactly `body`, from the peer address `remote`.
    pub async fn post_from(
        &self,
        remote: std::net::SocketAddr,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let request = self.client.post(uri.to_owned()).body(body);
        Answer::read(
            with_peer(request, &remote.to_string(), headers)
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

    /// `GET uri` for a page, as a browser asks for one.
    pub async fn get_html(&self, uri: &str) -> Answer {
        self.get(uri, &[ACCEPT_HTML]).await
    }

    /// `GET uri` for a page, with `Authorization: Bearer <token>`.
    pub async fn get_html_as(&self, uri: &str, token: &str) -> Answer {
        let authorization = format!("Bearer {token}");
        self.get(uri, &[ACCEPT_HTML, ("Authorization", &authorization)])
            .await
    }

    /// `GET /api/users/clerk-test/` with `Authorization: Bearer <token>`.
    pub async fn bearer(&self, token: &str) -> Answer {
        self.get_as("/api/users/clerk-test/", token).await
    }

    /// `GET /api/users/clerk-test/` with the token in the `__session` cookie.
    pub async fn cookie(&self, token: &str) -> Answer {
        self.get(
            "/api/users/clerk-test/",
            &[("Cookie", &browser_cookies(token))],
        )
        .await
    }

    /// `POST uri` with `headers` and exactly `body`.
    pub async fn post(&self, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
        let request = self.client.post(uri.to_owned()).body(body);
        Answer::read(with_headers(request, headers).dispatch().await).await
    }

    /// `DELETE uri` with `headers`.
    pub async fn delete(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let request = self.client.delete(uri.to_owned());
        Answer::read(with_headers(request, headers).dispatch().await).await
    }

    /// `OPTIONS uri` with `headers` (a CORS preflight, say).
    pub async fn options(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let request = self.client.options(uri.to_owned());
        Answer::read(with_headers(request, headers).dispatch().await).await
    }

    /// `POST uri` with a form body, from the peer address `peer` (`ip:port`).
    pub async fn post_form_from(
        &self,
        peer: &str,
        uri: &str,
        form: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let request = self
            .client
            .post(uri.to_owned())
            .header(rocket::http::ContentType::Form)
            .body(form);
        Answer::read(with_peer(request, peer, headers).dispatch().await).await
    }

    /// `POST uri` with a form body.
    pub async fn post_form(&self, uri: &str, form: &str, headers: &[(&str, &str)]) -> Answer {
        let request = self
            .client
            .post(uri.to_owned())
            .header(rocket::http::ContentType::Form)
            .body(form);
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

    /// A pool on the app's database, beside the app's own, for looking at and seeding rows.
    pub async fn pool(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url)
            .await
            .unwrap()
    }

    /// Runs `query` through a pool of its own; returns the rows it affected.
    async fn run<'q>(&self, query: Query<'q, Any, AnyArguments<'q>>) -> u64 {
        let pool = self.pool().await;
        let affected = query.execute(&pool).await.unwrap().rows_affected();
        pool.close().await;
        affected
    }

    /// Runs one statement on the app's database through a side connection.
    pub async fn execute(&self, sql: &str) {
        self.run(sqlx::query(sql)).await;
    }

    /// One number from the app's database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }

    /// How many rows `table` holds.
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {}", identifier(table)))
            .await
    }

    /// How many rows `clerk_id` has (tombstones included): one at most, whatever races.
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

    /// How many migrations sqlx recorded as applied.
    pub async fn applied_migrations(&self) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = $1")
            .bind(true)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    /// The stored row of `clerk_id`, as a JSON object of its columns (tombstones included).
    pub async fn user_row(&self, clerk_id: &str) -> Option<Value> {
        use sqlx::Row as _;
        let pool = self.pool().await;
        let row = sqlx::query(
            "SELECT id, email, username, first_name, role, deleted_at, banned, clerk_updated_at, \
             updated_at, role_changed_at FROM users WHERE clerk_id = $1",
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
            "updated_at": int("updated_at"), "role_changed_at": int("role_changed_at"),
        }))
    }

    /// Inserts a user straight into the table, as a webhook or an earlier sign-in would have
    /// (the email doubles as the username).
    pub async fn seed_user(
        &self,
        clerk_id: &str,
        email: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) {
        let pool = self.pool().await;
        insert_user(&pool, clerk_id, email, first_name, last_name).await;
        pool.close().await;
    }

    /// Inserts `n` nameless users `user_{prefix}0000`… with emails `{prefix}0000@bulk.test`….
    pub async fn seed_users(&self, prefix: &str, n: usize) {
        let pool = self.pool().await;
        for i in 0..n {
            let email = format!("{prefix}{i:04}@bulk.test");
            insert_user(&pool, &format!("user_{prefix}{i:04}"), &email, None, None).await;
        }
        pool.close().await;
    }

    /// Sets the stored role of `clerk_id`, as a webhook carrying `public_metadata` would.
    pub async fn set_role(&self, clerk_id: &str, role: Option<&str>) {
        let query = sqlx::query("UPDATE users SET role = $1 WHERE clerk_id = $2")
            .bind(role)
            .bind(clerk_id);
        assert_eq!(self.run(query).await, 1, "no user {clerk_id} to change");
        self.forget_user(clerk_id);
    }

    /// From now on, every update of a `users` row that `condition` holds for (SQL on `NEW`, such
    /// as `NEW.banned = 1`) fails, as a database failing midway would: a trigger, on either
    /// backend.
    pub async fn fail_user_updates_where(&self, condition: &str) {
        if self.database_url.starts_with("sqlite") {
            self.execute(&format!(
                "CREATE TRIGGER test_fail_update BEFORE UPDATE ON users WHEN {condition} \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            ))
            .await;
        } else {
            self.execute(
                "CREATE FUNCTION test_fail_update() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            )
            .await;
            self.execute(&format!(
                "CREATE TRIGGER test_fail_update BEFORE UPDATE ON users FOR EACH ROW \
                 WHEN ({condition}) EXECUTE FUNCTION test_fail_update()"
            ))
            .await;
        }
    }

    /// Marks `clerk_id` banned, as a `user.updated` webhook would.
    pub async fn ban(&self, clerk_id: &str) {
        let query = sqlx::query("UPDATE users SET banned = 1 WHERE clerk_id = $1").bind(clerk_id);
        assert_eq!(self.run(query).await, 1, "no user {clerk_id} to ban");
        self.forget_user(clerk_id);
    }

    /// Makes `clerk_id` a tombstone, as a `user.deleted` webhook would.
    pub async fn tombstone(&self, clerk_id: &str) {
        let query = sqlx::query("UPDATE users SET deleted_at = $1 WHERE clerk_id = $2")
            .bind(now())
            .bind(clerk_id);
        assert_eq!(self.run(query).await, 1, "no user {clerk_id} to delete");
        self.forget_user(clerk_id);
    }

    /// Drops this app's in-memory copy of a user's row, as a webhook received here does (another
    /// instance would serve it for up to `auth::known_users::CACHE_SECS` more).
    pub fn forget_user(&self, clerk_id: &str) {
        if let Some(known) = self.client.rocket().state::<crate::auth::KnownUsers>() {
            known.forget(clerk_id);
        }
    }

    /// Renames a table under the app, to make its statements on it fail (and back, to recover).
    pub async fn rename_table(&self, from: &str, to: &str) {
        self.execute(&format!(
            "ALTER TABLE {} RENAME TO {}",
            identifier(from),
            identifier(to)
        ))
        .await;
    }

    /// Records a session revocation, as a webhook to this or another instance would.
    pub async fn revoke_session(
        &self,
        session_id: &str,
        user_id: Option<&str>,
        revoked_at: i64,
        expires_at: i64,
    ) {
        let query = sqlx::query(
            "INSERT INTO revoked_sessions (session_id, user_id, revoked_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(revoked_at)
        .bind(expires_at);
        self.run(query).await;
    }

    /// How long the shortest-lived recorded revocation is kept, in seconds.
    pub async fn shortest_revocation_secs(&self) -> i64 {
        self.scalar("SELECT MIN(expires_at - revoked_at) FROM revoked_sessions")
            .await
    }

    /// Records the Svix message `svix_id` as processed at `received_at`.
    pub async fn record_webhook(&self, svix_id: &str, event_type: &str, received_at: i64) {
        let query = sqlx::query(
            "INSERT INTO webhook_events (svix_id, event_type, received_at) VALUES ($1, $2, $3)",
        )
        .bind(svix_id)
        .bind(event_type)
        .bind(received_at);
        self.run(query).await;
    }

    /// How many times the Svix message `svix_id` is recorded as processed: once at most.
    pub async fn count_webhook_ids(&self, svix_id: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE svix_id = $1")
            .bind(svix_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }
}

async fn insert_user(
    pool: &AnyPool,
    clerk_id: &str,
    email: &str,
    first_name: Option<&str>,
    last_name: Option<&str>,
) {
    sqlx::query(
        "INSERT INTO users (clerk_id, email, username, first_name, last_name, created_at, \
         updated_at) VALUES ($1, $2, $2, $3, $4, $5, $5)",
    )
    .bind(clerk_id)
    .bind(email)
    .bind(first_name)
    .bind(last_name)
    .bind(now())
    .execute(pool)
    .await
    .unwrap();
}

/// `name` unchanged, once it is known to be a plain SQL identifier: table names cannot be bound.
fn identifier(name: &str) -> &str {
    assert!(
        name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "not a plain table name: {name}"
    );
    name
}

/// Adds `headers` to a local request. A `Cookie` header is kept as sent (the app reads the raw
/// header, as a browser sends it over HTTP) and also goes to the cookie jar, which is all that
/// Rocket's local client fills by itself.
fn with_headers<'c>(request: LocalRequest<'c>, headers: &[(&str, &str)]) -> LocalRequest<'c> {
    with_peer(request, LOOPBACK_PEER, headers)
}

/// The peer address of every request unless a test names another: this machine, as a real
/// client of a server listening on 127.0.0.1 is (Rocket's local client has none by itself).
pub const LOOPBACK_PEER: &str = "127.0.0.1:50000";

/// [`with_headers`] from the peer address `peer` (`ip:port`).
fn with_peer<'c>(
    request: LocalRequest<'c>,
    peer: &str,
    headers: &[(&str, &str)],
) -> LocalRequest<'c> {
    let mut request = request.remote(peer.parse().expect("a peer address ip:port"));
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("cookie") {
            for pair in value.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    request = request.cookie(rocket::http::Cookie::new(k.to_owned(), v.to_owned()));
                }
            }
            request = request.header(rocket::http::Header::new("Cookie", value.to_string()));
        } else {
            request = request.header(rocket::http::Header::new(
                name.to_string(),
                value.to_string(),
            ));
        }
    }
    request
}
