//! The offline test kit (cargo feature `testing`): test Clerk without a Clerk account.
//!
//! - [`TestKey`]: RSA instance keys made on the spot ([`key_a`], [`key_b`]), signing session
//!   tokens with any claims ([`claims`], [`with`]): expired, another party, another key, admin.
//! - [`FakeClerk`]: a real HTTP server on 127.0.0.1 standing in for the frontend API (JWKS) and the
//!   Backend API (users, handshake payloads, anything else through its `server`).
//! - [`sign_webhook`], [`clerk_event`], [`clerk_user`]: Svix-signed Clerk webhook deliveries.
//! - [`Settings`] → [`TestApp`]: the app configured against the fake, on a fresh `SQLite` file or
//!   a fresh `PostgreSQL` schema ([`Backend`]), with a Rocket client, helpers that reduce responses
//!   to an [`Answer`], and named helpers on its database. [`TestApp`] is `Clone`, for concurrent
//!   requests.
//! - [`org_claims_v1`], [`org_claims_v2`], [`m2m_claims`], [`oauth_claims`], [`opaque_token`]:
//!   organizations and machine tokens; [`FakeClerk::serve_machine_token`] fakes the Backend
//!   API's verify endpoints and [`FakeClerk::verify_calls`] counts what reached them.
//! - [`Settings::mount`]: routes only a test mounts (under `/api/test`), for guards no product
//!   route uses.
//! - [`backend_tests!`](crate::backend_tests): one test on `SQLite` and, when `TEST_POSTGRES_URL`
//!   is set, on `PostgreSQL`.
//!
//! This crate's own integration tests use it, so it stays true. See the README for an example.

// The kit reads and seeds the app's database through pools of its own, straight to the server:
// statements as sqlx makes them are right there (src/db/statement.rs is for the app's pool).
#![allow(clippy::disallowed_methods)]

mod answer;
mod app;
mod backend;
mod fake_clerk;
mod keys;
mod machines;
mod settings;
mod webhooks;

pub use crate::backend_tests;
pub use answer::Answer;
pub use app::{browser_cookies, TestApp, ACCEPT_HTML};
pub use backend::{backends, postgres_or_skip, scratch_dir, Backend};
pub use fake_clerk::{http_date, FakeClerk};
pub use keys::{
    b64, claims, key_a, key_b, now, publishable_key, unique, user_id, with, TestKey, ISSUER_HOST,
    ORIGIN,
};
pub use machines::{
    m2m_claims, oauth_claims, opaque_token, org_claims_v1, org_claims_v2, verified_json,
    verify_path,
};
pub use settings::{clerk_app, clerk_app_with, local_app, Settings};
pub use webhooks::{
    clerk_event, clerk_membership, clerk_organization, clerk_user, sign_webhook, WEBHOOK_SECRET,
};
