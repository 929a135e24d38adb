//! `user_activity_days` and `daily_active_users`: which users were active on which UTC day, and
//! how many (migrations/*/0006). Written only by the batched last-seen writer
//! (`auth::known_users`), never on a request.
//!
//! A sighting marked `first_of_day` inserts `(day, user)` when it is not there yet (the primary
//! key settles races between instances and retries of a failed batch) and adds exactly the rows
//! it inserted to that day's counter, in the same transaction as the `last_seen_at` writes, so
//! that the counter and the rows never disagree.

use std::collections::BTreeMap;

use sqlx::AnyPool;

use super::write_transaction;

pub const DAY_SECS: i64 = 86_400;

/// The UTC day of unix seconds `secs`, as a number of days since 1970-01-01.
#[must_use]
pub fn day_of(secs: i64) -> i64 {
    secs.div_euclid(DAY_SECS)
}

/// A user seen at `at`, as the last-seen writer batches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub clerk_id: String,
    pub at: i64,
    /// Whether this may be the user's first sighting of `at`'s day: its activity is then
    /// recorded. `false` when the writer knows the day is recorded already.
    pub first_of_day: bool,
}

/// Writes when users were last seen (a time never moves backwards) and records the first
/// sightings of each day, in one transaction.
pub async fn record(pool: &AnyPool, seen: &[Sighting]) -> Result<(), sqlx::Error> {
    let mut tx = write_transaction(pool).await?;
    let mut added: BTreeMap<i64, i64> = BTreeMap::new();
    for sighting in seen {
        sqlx::query(
            "UPDATE users SET last_seen_at = $1 \
             WHERE clerk_id = $2 AND (last_seen_at IS NULL OR last_seen_at < $1)",
        )
        .bind(sighting.at)
        .bind(&sighting.clerk_id)
        .execute(&mut *tx)
        .await?;
        if !sighting.first_of_day {
            continue;
        }
        let day = day_of(sighting.at);
        // A tombstone is not a user anyone saw (its token is refused).
        let inserted = sqlx::query(
            "INSERT INTO user_activity_days (day, user_id) \
             SELECT $1, id FROM users WHERE clerk_id = $2 AND deleted_at IS NULL \
             ON CONFLICT (day, user_id) DO NOTHING",
        )
        .bind(day)
        .bind(&sighting.clerk_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted > 0 {
            *added.entry(day).or_default() += i64::try_from(inserted).unwrap_or(0);
        }
    }
    for (day, users) in added {
        sqlx::query(
            "INSERT INTO daily_active_users (day, users) VALUES ($1, $2) \
             ON CONFLICT (day) DO UPDATE SET users = daily_active_users.users + excluded.users",
        )
        .bind(day)
        .bind(users)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Days of `user_activity_days` kept: the rows only stop a second count of a day, and a sighting
/// arrives within seconds (a batch that fails is retried); the counters keep the history.
pub const KEEP_DAYS: i64 = 7;

/// Forgets who was active more than [`KEEP_DAYS`] before `today` (the counters stay), so that the
/// table holds about a week of daily active users rather than growing for ever.
pub async fn prune(pool: &AnyPool, today: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM user_activity_days WHERE day < $1")
        .bind(today - KEEP_DAYS)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_floor_before_1970() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(-1), -1);
        // 2026-12-01T00:00:00Z
        assert_eq!(day_of(1_796_083_200), 20_788);
    }
}
