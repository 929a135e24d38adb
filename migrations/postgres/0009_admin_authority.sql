-- When the stored role was last set by an authoritative source: a `user.*` webhook,
-- `clerk-rocket sync`, or this app's own action as Clerk's answer confirmed it. Clerk's time in
-- milliseconds, like clerk_updated_at (this app's own clock in local mode). A session token's
-- role claim counts only when the token was issued after it, so a demotion is not undone by the
-- tokens minted before it.
ALTER TABLE users ADD COLUMN role_changed_at BIGINT;
-- Not filled from clerk_updated_at for existing rows: that rewrote every row (6 s under lock at a
-- million users on PostgreSQL) for tokens that no longer exist (Clerk's live a minute); each
-- row gets it from its next webhook, sync or admin action.
-- The administrators, for the last-admin rule (counted inside the write that demotes or bans
-- one): a few rows, where counting them in the whole table took 60 to 80 ms at a million users.
CREATE INDEX users_admins ON users (clerk_id) WHERE role = 'admin' AND deleted_at IS NULL AND banned = 0;

-- What an administrator's action did at Clerk and here, as two facts beside the answer's code
-- (`result`): `clerk_outcome` is not-asked, done, failed, partial, reverted or revert-failed;
-- `local_outcome` is written, not-written, superseded or failed. NULL on older rows.
ALTER TABLE audit_events ADD COLUMN clerk_outcome TEXT;
ALTER TABLE audit_events ADD COLUMN local_outcome TEXT;
