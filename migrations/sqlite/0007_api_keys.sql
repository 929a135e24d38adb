-- API keys that local mode issues (`clerk-rocket api-key create`) and verifies itself, so that
-- machine clients can be tried without a Clerk account. Only the SHA-256 of a secret is kept.
-- Times are unix seconds.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id      TEXT   NOT NULL UNIQUE,
    secret_hash TEXT   NOT NULL UNIQUE,
    name        TEXT   NOT NULL,
    subject     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
