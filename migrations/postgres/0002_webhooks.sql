-- Clerk webhooks. Times are unix seconds.
-- Each Svix message id applied once: the row and the event's effect commit in one transaction.
-- Rows older than 7 days are pruned (Svix retries for about 3 days).
CREATE TABLE webhook_events (
    svix_id     TEXT   NOT NULL PRIMARY KEY,
    event_type  TEXT   NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);

-- Sessions that Clerk ended, removed or revoked: their tokens are refused until expires_at, after
-- which no token of the session can still be valid and the row is pruned.
CREATE TABLE revoked_sessions (
    session_id TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expires_at ON revoked_sessions (expires_at);
