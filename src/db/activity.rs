//! The counters of the dashboard that follow sightings (migrations/*/0006): how many users were
//! last seen on each UTC day (`users_by_last_seen_day`, day [`NEVER`] for users never seen), and
//! how many distinct users were seen on each day (`daily_active_users`). Written by the batched
//! last-seen writer (`auth::known_users`), never on a request; rows that come and go move them
//! through triggers.
//!
//! A user's last sighting moves to a later day only here (`users::record_seen` keeps it within
//! its day), read and written under the row's lock, so each move is counted once, whichever
//! instance makes it: out of the old day, into the new one, and into that day's active users.

use std::collections::BTreeMap;

use sqlx::AnyPool;

use super::{is_sqlite, query, query_as, write_transaction};

pub const DAY_SECS: i64 = 86_400;

/// The day of `users_by_last_seen_day` that counts the users never seen.
pub const NEVER: i64 = -1;

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
    /// Whether the stored sighting may be of an earlier day, so that the counters may move.
    /// `false` when the writer knows that a sighting of `at`'s day is stored already.
    pub first_of_day: bool,
}

/// Writes when users were last seen (a time never moves backwards) and moves the day counters
/// for those whose last sighting moves to a later day, in one transaction.
pub async fn record(pool: &AnyPool, seen: &[Sighting]) -> Result<(), sqlx::Error> {
    let mut tx = write_transaction(pool).await?;
    // SQLite's write transaction excludes every other writer already; PostgreSQL locks the row.
    let lock = if is_sqlite(pool) { "" } else { " FOR UPDATE" };
    let select = format!("SELECT id, last_seen_at FROM users WHERE clerk_id = $1{lock}");
    let mut last_seen: BTreeMap<i64, i64> = BTreeMap::new();
    let mut active: BTreeMap<i64, i64> = BTreeMap::new();
    for sighting in seen {
        if !sighting.first_of_day {
            query(
                "UPDATE users SET last_seen_at = $1 \
                 WHERE clerk_id = $2 AND (last_seen_at IS NULL OR last_seen_at < $1)",
            )
            .bind(sighting.at)
            .bind(&sighting.clerk_id)
            .execute(&mut *tx)
            .await?;
            continue;
        }
        let stored: Option<(i64, Option<i64>)> = query_as(&select)
            .bind(&sighting.clerk_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((id, before)) = stored else { continue };
        if before.is_some_and(|at| at >= sighting.at) {
            continue;
        }
        query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(sighting.at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let (from, to) = (before.map_or(NEVER, day_of), day_of(sighting.at));
        if from != to {
            *last_seen.entry(from).or_default() -= 1;
            *last_seen.entry(to).or_default() += 1;
            *active.entry(to).or_default() += 1;
        }
    }
    for (table, moves) in [
        ("users_by_last_seen_day", last_seen),
        ("daily_active_users", active),
    ] {
        for (day, change) in moves.into_iter().filter(|(_, n)| *n != 0) {
            query(&format!(
                "INSERT INTO {table} (day, users) VALUES ($1, $2) \
                 ON CONFLICT (day) DO UPDATE SET users = {table}.users + excluded.users"
            ))
            .bind(day)
            .bind(change)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
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
