//! How statements reach the database, so that they also work through a transaction pooler
//! (PgBouncer `pool_mode = transaction`), where consecutive transactions of one client connection
//! may run on different server connections.
//!
//! sqlx prepares a statement under a name (`sqlx_s_1`, `sqlx_s_2`, … counted per client
//! connection) and caches it; behind a transaction pooler that name is missing on the next server
//! ("prepared statement sqlx_s_2 does not exist") or already taken there by another client
//! ("already exists"), or, worst, names another client's statement. And it parses (one `Sync`)
//! before it binds and executes (a second `Sync`): outside a transaction the pooler may hand the
//! second half to another server. So through a pooler ([`Pooler::Transaction`]):
//! - statements are unnamed: [`query`], [`query_as`] and [`query_scalar`] (clippy refuses sqlx's
//!   own, see `clippy.toml`);
//! - every statement runs inside a transaction: [`Unit`] for reads and single writes,
//!   [`write_transaction`](super::write_transaction) for multi-statement writes; never on the
//!   pool itself.
//!
//! On a direct connection a [`Unit`] is a plain pooled connection and statements stay named and
//! cached: one round trip per statement instead of four.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, AnyConnection, FromRow, Transaction};

/// How the app reaches PostgreSQL (`CLERK_DATABASE_POOLER`, or `pooler` in `databases.app`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pooler {
    /// Straight to the server, or through a pooler in session mode.
    #[default]
    None,
    /// Through a pooler in transaction mode (PgBouncer `pool_mode = transaction`).
    Transaction,
}

impl Pooler {
    /// The setting's value: `none` or `transaction` (any case); `None` for anything else.
    pub fn parse(value: &str) -> Option<Pooler> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Some(Pooler::None),
            "transaction" => Some(Pooler::Transaction),
            _ => None,
        }
    }
}

/// Set once this process opens a pool through a transaction pooler, and never unset. It is
/// process-wide because statements are built far from any pool; a process serves one database,
/// and unnamed statements are merely slower on another pool of the same process (a test's).
static UNNAMED: AtomicBool = AtomicBool::new(false);

pub(super) fn use_unnamed_statements() {
    UNNAMED.store(true, Ordering::Relaxed);
}

/// Whether statements go through a transaction pooler (see the module's documentation).
pub fn through_transaction_pooler() -> bool {
    UNNAMED.load(Ordering::Relaxed)
}

/// `sqlx::query`, unnamed through a transaction pooler.
#[allow(
    clippy::disallowed_methods,
    reason = "the one place sqlx's own is called"
)]
pub fn query(sql: &str) -> Query<'_, Any, AnyArguments<'_>> {
    sqlx::query(sql).persistent(!through_transaction_pooler())
}

/// `sqlx::query_as`, unnamed through a transaction pooler.
#[allow(
    clippy::disallowed_methods,
    reason = "the one place sqlx's own is called"
)]
pub fn query_as<'q, O>(sql: &'q str) -> QueryAs<'q, Any, O, AnyArguments<'q>>
where
    O: for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_as(sql).persistent(!through_transaction_pooler())
}

/// `sqlx::query_scalar`, unnamed through a transaction pooler.
#[allow(
    clippy::disallowed_methods,
    reason = "the one place sqlx's own is called"
)]
pub fn query_scalar<'q, O>(sql: &'q str) -> QueryScalar<'q, Any, O, AnyArguments<'q>>
where
    (O,): for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_scalar(sql).persistent(!through_transaction_pooler())
}

/// A connection for a few statements that need no write lock: a transaction through a
/// transaction pooler (which pins one server connection to it), a plain pooled connection
/// otherwise. Run statements on `&mut *unit`, then [`Unit::finish`].
pub enum Unit {
    Plain(PoolConnection<Any>),
    Pinned(Transaction<'static, Any>),
}

/// Opens a [`Unit`] on `pool`.
pub async fn unit(pool: &sqlx::AnyPool) -> Result<Unit, sqlx::Error> {
    if through_transaction_pooler() {
        pool.begin().await.map(Unit::Pinned)
    } else {
        pool.acquire().await.map(Unit::Plain)
    }
}

impl Unit {
    /// Commits what ran in it (a dropped unit rolls back).
    pub async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            Unit::Plain(_) => Ok(()),
            Unit::Pinned(tx) => tx.commit().await,
        }
    }
}

impl Deref for Unit {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Unit::Plain(conn) => conn,
            Unit::Pinned(tx) => tx,
        }
    }
}

impl DerefMut for Unit {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Unit::Plain(conn) => conn,
            Unit::Pinned(tx) => tx,
        }
    }
}
