//! Processed webhook messages: every SQL statement that touches the `webhook_events` table.
//!
//! Svix delivers at least once and retries with the same `svix-id`. The id is inserted in the
//! same transaction as the event's effect, so an event is applied exactly once: a duplicate finds
//! the id already there, and a failed attempt leaves neither the id nor the effect behind.

use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::{AnyConnection, AnyPool};

use super::{query, unit};

/// How long processed ids are kept (Svix retries for about three days; manual replays later
/// than a week are applied again, and the ordering checks keep that harmless).
pub const RETENTION_SECS: i64 = 7 * 24 * 60 * 60;

/// Records `svix_id` as processed; `false` when it already was (a duplicate delivery). Inside
/// a transaction, a concurrent delivery of the same id waits for this one to commit or roll back.
pub async fn record(
    conn: &mut AnyConnection,
    svix_id: &str,
    event_type: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let result = query(
        "INSERT INTO webhook_events (svix_id, event_type, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (svix_id) DO NOTHING",
    )
    .bind(svix_id)
    .bind(event_type)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes ids processed before `now - RETENTION_SECS`; returns how many.
pub async fn prune(pool: &AnyPool, now: i64) -> Result<u64, sqlx::Error> {
    let mut unit = unit(pool).await?;
    let result = query("DELETE FROM webhook_events WHERE received_at < $1")
        .bind(now - RETENTION_SECS)
        .execute(&mut *unit)
        .await?;
    unit.finish().await?;
    Ok(result.rows_affected())
}

/// Says when this instance last pruned, so that pruning runs at most once an hour, on a delivery.
#[derive(Default)]
pub struct PruneClock {
    last: AtomicI64,
}

impl PruneClock {
    pub const INTERVAL_SECS: i64 = 60 * 60;

    /// `true` at most once per [`Self::INTERVAL_SECS`] (the first call included).
    pub fn due(&self, now: i64) -> bool {
        let last = self.last.load(Ordering::Relaxed);
        (last == 0 || now - last >= Self::INTERVAL_SECS)
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
