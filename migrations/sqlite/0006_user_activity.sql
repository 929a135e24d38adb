-- The admin dashboard (/admin, /api/admin/stats): who was active on which UTC day, and how many.
-- `last_seen_at` keeps only each user's latest sighting, so the history of active users per day
-- is recorded as it happens: the batched last-seen writer (src/auth/known_users.rs) adds a user's
-- first sighting of a day to `user_activity_days` (the primary key makes a repeat, from this or
-- another instance, a no-op) and, in the same transaction, adds the rows it really inserted to
-- that day's counter in `daily_active_users`. The chart reads 30 counter rows, whatever the number
-- of users. Days are unix days: `unix seconds / 86400`, in UTC.
CREATE TABLE user_activity_days (
    day     BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (day, user_id)
);
CREATE TABLE daily_active_users (
    day   BIGINT NOT NULL PRIMARY KEY,
    users BIGINT NOT NULL
);
-- The history there is before this migration: each user's last day seen.
INSERT INTO user_activity_days (day, user_id)
    SELECT last_seen_at / 86400, id FROM users WHERE last_seen_at IS NOT NULL;
INSERT INTO daily_active_users (day, users)
    SELECT day, COUNT(*) FROM user_activity_days GROUP BY day;

-- The dashboard's totals and sign-ups per day as index range counts (no table scan at a million
-- users): sign-ups by creation time, active users by last sighting, and the few banned or
-- deleted users through partial indexes (their WHERE is the very one of the queries in
-- src/db/stats.rs).
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_last_seen_at ON users (last_seen_at);
CREATE INDEX users_deleted ON users (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_banned ON users (id) WHERE banned <> 0 AND deleted_at IS NULL;
