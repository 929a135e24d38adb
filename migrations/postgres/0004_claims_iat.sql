-- The `iat` of the newest session token whose profile claims were written to the row. A token
-- fills the row only when it is newer than this and than Clerk's own last change
-- (`clerk_updated_at`), so a replayed older token cannot roll a profile back.
ALTER TABLE users ADD COLUMN claims_iat BIGINT;
