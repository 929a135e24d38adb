-- When the stored role was last set by an authoritative source: a `user.*` webhook,
-- `clerk-rocket sync`, or this app's own action as Clerk's answer confirmed it. Clerk's time in
-- milliseconds, like clerk_updated_at (this app's own clock in local mode). A session token's
-- role claim counts only when the token was issued after it, so a demotion is not undone by the
-- tokens minted before it.
ALTER TABLE users ADD COLUMN role_changed_at BIGINT;
-- A row already written by a webhook or a sync holds Clerk's word on the role as of then.
UPDATE users SET role_changed_at = clerk_updated_at WHERE clerk_updated_at IS NOT NULL;

-- What an administrator's action did at Clerk and here, as two facts beside the answer's code
-- (`result`): `clerk_outcome` is not-asked, done, failed, partial, reverted or revert-failed;
-- `local_outcome` is written, not-written, superseded or failed. NULL on older rows.
ALTER TABLE audit_events ADD COLUMN clerk_outcome TEXT;
ALTER TABLE audit_events ADD COLUMN local_outcome TEXT;
