//! [`Settings`], the one builder of test apps: Clerk or local mode, against the fake Clerk, on a
//! fresh database of either backend.

use std::path::Path;
use std::sync::Arc;

use rocket::figment::Figment;
use rocket::local::asynchronous::Client;
use serde_json::{json, Map, Value};

use super::app::TestApp;
use super::backend::{scratch_dir, Backend};
use super::fake_clerk::FakeClerk;
use super::keys::{key_a, ISSUER_HOST};
use super::webhooks::WEBHOOK_SECRET;

/// The one builder of test apps: Rocket.toml plus the `[clerk]` settings here, on `backend`.
pub struct Settings {
    pub backend: Backend,
    pub clerk: Map<String, Value>,
    /// An existing database to start on instead of a fresh one (a restart).
    database_url: Option<String>,
    /// Routes only the test mounts, under `/api/test` (see [`Settings::mount`]).
    extra_routes: Vec<rocket::Route>,
}

impl Settings {
    /// A local-mode app (its own issuer) whose key is, or will be made, at `key_file`.
    #[must_use]
    pub fn local(key_file: &Path) -> Settings {
        Settings::with_clerk(Map::new())
            .set("local_mode", "true")
            .set("local_key_file", &key_file.to_string_lossy())
    }

    /// A Clerk-mode app trusting `https://clerk.example.test` with keys from `fake`.
    #[must_use]
    pub fn clerk(fake: &FakeClerk) -> Settings {
        Settings::with_clerk(Map::new())
            .set("local_mode", "false")
            .set("jwt_issuer", &format!("https://{ISSUER_HOST}"))
            .set("jwks_url", &fake.jwks_url())
            .set("api_url", &fake.api_url())
    }

    fn with_clerk(clerk: Map<String, Value>) -> Settings {
        Settings {
            backend: Backend::Sqlite,
            clerk,
            database_url: None,
            extra_routes: Vec::new(),
        }
    }

    /// Mounts `routes` under `/api/test` (JSON errors, as every `/api` route): guards that no
    /// product route uses yet can be tried without adding routes to the product.
    #[must_use]
    pub fn mount(mut self, routes: Vec<rocket::Route>) -> Settings {
        self.extra_routes.extend(routes);
        self
    }

    /// Sets the `[clerk]` setting `key` (the name in Rocket.toml, not the environment's).
    #[must_use]
    pub fn set(mut self, key: &str, value: &str) -> Settings {
        self.clerk.insert(key.into(), json!(value));
        self
    }

    #[must_use]
    pub fn unset(mut self, key: &str) -> Settings {
        self.clerk.remove(key);
        self
    }

    /// Accepts webhooks signed with [`WEBHOOK_SECRET`].
    #[must_use]
    pub fn with_webhook_secret(self) -> Settings {
        self.set("webhook_signing_secret", WEBHOOK_SECRET)
    }

    /// On a fresh database of `backend`.
    #[must_use]
    pub fn on(mut self, backend: &Backend) -> Settings {
        self.backend = backend.clone();
        self
    }

    /// On the database at `url`, as it is: another start of an app that ran there.
    #[must_use]
    pub fn on_database(mut self, url: &str) -> Settings {
        self.database_url = Some(url.to_owned());
        self
    }

    /// The configuration and the URL of its database (made on the spot unless given).
    pub async fn figment(&self) -> (Figment, String) {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => self.backend.fresh_url().await,
        };
        let figment = rocket::Config::figment()
            .merge(("log_level", "off"))
            .merge((
                "databases.app",
                json!({ "url": url, "max_connections": 8, "connect_timeout": 5 }),
            ))
            .merge(("clerk", Value::Object(self.clerk.clone())));
        (figment, url)
    }

    /// Builds the app; a failure to start fails the test.
    pub async fn start(self) -> TestApp {
        self.try_start().await.expect("the app starts")
    }

    /// Builds the app, for tests of whether it starts.
    pub async fn try_start(self) -> Result<TestApp, Box<rocket::Error>> {
        let (figment, database_url) = self.figment().await;
        let client =
            Client::untracked(crate::build(figment).mount("/api/test", self.extra_routes)).await?;
        Ok(TestApp {
            client: Arc::new(client),
            database_url,
        })
    }
}

/// A fake Clerk serving `key_a`, and an app trusting it, on `SQLite`.
pub async fn clerk_app() -> (FakeClerk, TestApp) {
    clerk_app_with(|settings| settings).await
}

/// A fake Clerk serving `key_a`, and an app trusting it with `configure`'s changes.
pub async fn clerk_app_with(configure: impl FnOnce(Settings) -> Settings) -> (FakeClerk, TestApp) {
    let fake = FakeClerk::start().await;
    fake.serve_jwks(&[key_a()]).await;
    let app = configure(Settings::clerk(&fake)).start().await;
    (fake, app)
}

/// A local-mode app on a fresh `SQLite` file, with a key of its own.
pub async fn local_app() -> TestApp {
    Settings::local(&scratch_dir().join("local.pem"))
        .start()
        .await
}
