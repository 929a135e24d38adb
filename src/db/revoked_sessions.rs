//! Revoked sessions: every SQL statement that touches the `revoked_sessions` table, and the short
//! cache in front of the check that guards run on every request.
//!
//! A Clerk session that ended (signed out), was removed or was revoked can still have a session
//! token that verifies for up to a minute. Its id is stored here (in the database, so that every
//! instance sees it) and refused until `expires_at`, after which no token of it can be valid.

use std::time::Duration;

use sqlx::{AnyConnection, AnyPool};

use super::{query, query_scalar, unit};
use crate::generation::{Mark, Striped};

/// How long a revoked session id is kept: far beyond the life of any session token of it.
pub const RETENTION_SECS: i64 = 7 * 24 * 60 * 60;

/// How long an instance may keep answering "not revoked" from memory. This is the most that a
/// revocation made through another instance can be late by.
pub const CACHE_SECS: u64 = 5;

/// Records that `session_id` may no longer be used, until `expires_at` (unix seconds). Recording
/// it again keeps the later expiry.
pub async fn revoke(
    conn: &mut AnyConnection,
    session_id: &str,
    user_id: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    query(
        "INSERT INTO revoked_sessions (session_id, user_id, revoked_at, expires_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_id) DO UPDATE SET expires_at = \
             CASE WHEN excluded.expires_at > revoked_sessions.expires_at \
                  THEN excluded.expires_at ELSE revoked_sessions.expires_at END",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether `session_id` is revoked as of `now`: one primary-key lookup.
pub async fn is_revoked(pool: &AnyPool, session_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let found: Option<i64> = query_scalar(
        "SELECT revoked_at FROM revoked_sessions WHERE session_id = $1 AND expires_at > $2",
    )
    .bind(session_id)
    .bind(now)
    .fetch_optional(&mut *unit)
    .await?;
    unit.finish().await?;
    Ok(found.is_some())
}

/// Deletes the rows whose expiry has passed; returns how many.
pub async fn prune(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let result = query("DELETE FROM revoked_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok(result.rows_affected())
}

/// The per-instance cache in front of [`is_revoked`]: answers are kept at most [`CACHE_SECS`].
/// A revocation received by this instance clears its entry at once ([`Revocations::forget`]).
pub struct Revocations {
    cache: moka::future::Cache<String, Answer, foldhash::fast::RandomState>,
    /// Moves on every forget: an answer read before one is not kept.
    generations: Striped,
}

/// Whether a session was revoked, and when the database said so (noted before the query): a
/// memo built on the answer holds while no revocation came since, and at most [`CACHE_SECS`].
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub revoked: bool,
    pub read: Mark,
}

/// Answers kept at most (each about 200 bytes with the cache's own bookkeeping).
const MAX_ANSWERS: u64 = 20_000;

impl Default for Revocations {
    fn default() -> Self {
        Revocations {
            cache: moka::future::Cache::builder()
                // A warm request reads its token's memo (`auth::user`), not this: the answers
                // serve the first request of a token and the requests of one instant (single
                // flight), so fewer are kept than sessions are active (memory, `bench/run --memory`).
                .max_capacity(MAX_ANSWERS)
                .time_to_live(Duration::from_secs(CACHE_SECS))
                .build_with_hasher(foldhash::fast::RandomState::default()),
            generations: Striped::default(),
        }
    }
}

impl Revocations {
    /// Whether `session_id` is revoked, from the cache or the database.
    pub async fn check(
        &self,
        pool: &AnyPool,
        session_id: &str,
        now: i64,
    ) -> Result<Answer, sqlx::Error> {
        // A warm request stops here: the single-flight path below costs more even on a hit.
        if let Some(known) = self.cache.get(session_id).await {
            return Ok(known);
        }
        let generation = self.generations.of(session_id);
        let read_at = generation.read();
        // Noted inside the read: a request that joins another's read gets that read's mark.
        let read = async {
            let mark = generation.mark();
            is_revoked(pool, session_id, now)
                .await
                .map(|revoked| Answer {
                    revoked,
                    read: mark,
                })
        };
        let answer = self.cache.try_get_with_by_ref(session_id, read).await;
        if generation.moved_since(read_at) {
            self.cache.invalidate(session_id).await;
        }
        answer.map_err(|e| match &*e {
            // The pool's own errors keep their kind (a timeout is a 503, not a 500).
            sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
            sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
            other => sqlx::Error::Protocol(other.to_string()),
        })
    }

    /// Where the forgets of `session_id` are: a memo made of an answer read at one generation is
    /// stale once it moved.
    pub fn generation(&self, session_id: &str) -> u64 {
        self.generations.of(session_id).read()
    }

    /// Drops what this instance remembers about `session_id`.
    pub async fn forget(&self, session_id: &str) {
        self.generations.of(session_id).advance();
        self.cache.invalidate(session_id).await;
    }
}
