//! The user base at a glance (`/admin`, `/api/admin/stats`): totals, sign-ups and active users per
//! UTC day, and the newest users. Every figure is a sum of per-day counters (migrations/*/0006,
//! `db::activity`) or an index range count of few rows, so the cost follows the number of days
//! and of recent sign-ups, not of users.

use serde::Serialize;
use sqlx::AnyPool;

use super::activity::{day_of, DAY_SECS};
use super::pagination::PageStart;
use super::users::{self, User};
use super::{query_as, unit};

/// Days in each series, today included.
pub const SERIES_DAYS: i64 = 30;

/// Newest users listed.
pub const NEWEST: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserStats {
    pub totals: Totals,
    /// Users first known here per UTC day (first sign-in, or Clerk's `user.created`), the last
    /// 30 days, oldest first: today is the last entry.
    pub signups: Vec<DayCount>,
    /// Distinct users seen per UTC day, the last 30 days, oldest first. Recorded since the
    /// dashboard exists; before, only each user's last day seen.
    pub active: Vec<DayCount>,
    /// The newest users, newest first.
    pub newest: Vec<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Every user known here, banned and deleted ones included (so that the active users are
    /// a part of it: they are counted whatever their state now).
    pub users: i64,
    /// Users seen on one of the last 7 UTC days, today included (by `last_seen_at`, whatever
    /// their state now).
    pub active_7d: i64,
    /// Users seen on one of the last 30 UTC days, today included.
    pub active_30d: i64,
    /// Users banned and not deleted.
    pub banned: i64,
    /// Users deleted in Clerk (their rows are kept as tombstones).
    pub deleted: i64,
}

/// A count for one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    /// The day, `YYYY-MM-DD` (UTC).
    #[schema(format = Date, example = "2026-12-01")]
    pub date: String,
    pub count: i64,
    /// The unix day (days since 1970-01-01).
    #[serde(skip)]
    pub day: i64,
}

/// The figures as of `now` (unix seconds).
pub async fn user_stats(pool: &AnyPool, now: i64) -> Result<UserStats, sqlx::Error> {
    let today = day_of(now);
    let first = today - (SERIES_DAYS - 1);
    // The WHEREs of `deleted` and `banned` are those of the partial indexes users_deleted and
    // users_banned, so the planners count those few rows from them.
    // SUM is cast back: PostgreSQL sums BIGINTs as NUMERIC, which the Any driver cannot carry.
    let mut unit = unit(pool).await?;
    let (all, deleted, banned, active_7d, active_30d): (i64, i64, i64, i64, i64) = query_as(
        "SELECT (SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT) FROM users_by_last_seen_day), \
                (SELECT COUNT(*) FROM users WHERE deleted_at IS NOT NULL), \
                (SELECT COUNT(*) FROM users WHERE banned <> 0 AND deleted_at IS NULL), \
                (SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT) FROM users_by_last_seen_day WHERE day >= $1), \
                (SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT) FROM users_by_last_seen_day WHERE day >= $2)",
    )
    .bind(today - 6)
    .bind(first)
    .fetch_one(&mut *unit)
    .await?;
    let signups: Vec<(i64, i64)> = query_as(
        "SELECT created_at / 86400, COUNT(*) FROM users WHERE created_at >= $1 \
         GROUP BY created_at / 86400",
    )
    .bind(first * DAY_SECS)
    .fetch_all(&mut *unit)
    .await?;
    let active: Vec<(i64, i64)> =
        query_as("SELECT day, users FROM daily_active_users WHERE day >= $1 AND day <= $2")
            .bind(first)
            .bind(today)
            .fetch_all(&mut *unit)
            .await?;
    unit.finish().await?;
    let newest = users::search(pool, "", PageStart::First, NEWEST)
        .await?
        .rows;
    Ok(UserStats {
        totals: Totals {
            users: all,
            active_7d,
            active_30d,
            banned,
            deleted,
        },
        signups: series(first, today, &signups),
        active: series(first, today, &active),
        newest,
    })
}

/// One entry per day from `first` to `last`, zero where `counts` has none.
fn series(first: i64, last: i64, counts: &[(i64, i64)]) -> Vec<DayCount> {
    (first..=last)
        .map(|day| DayCount {
            date: iso_date(day),
            count: counts
                .iter()
                .filter(|(d, _)| *d == day)
                .map(|(_, n)| n)
                .sum(),
            day,
        })
        .collect()
}

/// `YYYY-MM-DD` of a unix day.
#[must_use]
pub fn iso_date(day: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(DAY_SECS))
        .ok()
        .and_then(|t| t.date().format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_fill_missing_days_with_zero_and_ignore_others() {
        let days = series(20_786, 20_788, &[(20_788, 4), (20_786, 2), (20_700, 9)]);
        let got: Vec<(&str, i64)> = days.iter().map(|d| (d.date.as_str(), d.count)).collect();
        assert_eq!(
            got,
            [("2026-11-29", 2), ("2026-11-30", 0), ("2026-12-01", 4)]
        );
    }
}
