-- The admin dashboard (/admin, /api/admin/stats) at any number of users: counters kept as users
-- come and are seen, so the page reads a few hundred small rows instead of counting the table.
-- Days are unix days (`unix seconds / 86400`, UTC).
--
-- users_by_last_seen_day: how many users were last seen on each day (day -1: never seen). The sum
-- is every row of `users`; the sum from a day on is the users active since. Rows enter and leave
-- through the triggers below; a user's last sighting moves to a later day only in the batched
-- last-seen writer (src/db/activity.rs), which moves the count in the same transaction.
-- daily_active_users: distinct users seen on each day. A user counts once a day: when their last
-- sighting moves into the day (last_seen_at never moves back).
CREATE TABLE users_by_last_seen_day (
    day   BIGINT NOT NULL PRIMARY KEY,
    users BIGINT NOT NULL
);
CREATE TABLE daily_active_users (
    day   BIGINT NOT NULL PRIMARY KEY,
    users BIGINT NOT NULL
);
INSERT INTO users_by_last_seen_day (day, users)
    SELECT COALESCE(last_seen_at / 86400, -1), COUNT(*) FROM users
    GROUP BY COALESCE(last_seen_at / 86400, -1);
-- The history there is before this migration: each user's last day seen.
INSERT INTO daily_active_users (day, users)
    SELECT last_seen_at / 86400, COUNT(*) FROM users WHERE last_seen_at IS NOT NULL
    GROUP BY last_seen_at / 86400;

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO users_by_last_seen_day (day, users)
        VALUES (COALESCE(new.last_seen_at / 86400, -1), 0);
    UPDATE users_by_last_seen_day SET users = users + 1
        WHERE day = COALESCE(new.last_seen_at / 86400, -1);
    INSERT OR IGNORE INTO daily_active_users (day, users)
        SELECT new.last_seen_at / 86400, 0 WHERE new.last_seen_at IS NOT NULL;
    UPDATE daily_active_users SET users = users + 1
        WHERE new.last_seen_at IS NOT NULL AND day = new.last_seen_at / 86400;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE users_by_last_seen_day SET users = users - 1
        WHERE day = COALESCE(old.last_seen_at / 86400, -1);
END;

-- Sign-ups per day as an index range count, and the few banned or deleted users through partial
-- indexes (their WHERE is the very one of the queries in src/db/stats.rs).
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_deleted ON users (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_banned ON users (id) WHERE banned <> 0 AND deleted_at IS NULL;
