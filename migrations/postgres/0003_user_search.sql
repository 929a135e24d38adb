-- Admin search: case-insensitive substring match on email, names and Clerk id, served by a
-- pg_trgm GIN index on one lower-cased expression (queries must spell it exactly the same way).
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE INDEX users_search_trgm ON users USING gin (
    (lower(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || clerk_id))
    public.gin_trgm_ops
);
