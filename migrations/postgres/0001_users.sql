-- Users known to this app, keyed by their Clerk id. Times are unix seconds (sqlx's Any driver
-- carries no time types); flags are SMALLINT 0/1 (Any cannot decode SQLite BOOLEAN).
CREATE TABLE users (
    id               BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clerk_id         TEXT     NOT NULL UNIQUE,
    email            TEXT     NOT NULL,
    username         TEXT     NOT NULL,
    first_name       TEXT,
    last_name        TEXT,
    image_url        TEXT,
    role             TEXT,
    banned           SMALLINT NOT NULL DEFAULT 0,
    created_at       BIGINT   NOT NULL,
    updated_at       BIGINT   NOT NULL,
    last_seen_at     BIGINT,
    clerk_updated_at BIGINT,
    deleted_at       BIGINT
);
