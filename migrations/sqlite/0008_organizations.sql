-- Clerk Organizations and their memberships, kept from webhooks and `clerk-rocket sync` with the
-- same guarantees as users: ordered by Clerk's `updated_at` (clerk_updated_at, in milliseconds;
-- every other time is unix seconds), and a deleted row stays a tombstone that nothing written
-- afterwards brings back. Memberships name their organization and user by Clerk id, so that
-- either may arrive first.
CREATE TABLE organizations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id         TEXT   NOT NULL UNIQUE,
    name             TEXT   NOT NULL,
    slug             TEXT,
    image_url        TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    clerk_updated_at BIGINT,
    deleted_at       BIGINT
);

CREATE TABLE memberships (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id         TEXT   NOT NULL UNIQUE,
    org_clerk_id     TEXT   NOT NULL,
    user_clerk_id    TEXT   NOT NULL,
    -- Clerk's `public_user_data.identifier` (the member's email or username), for lists.
    identifier       TEXT   NOT NULL DEFAULT '',
    role             TEXT   NOT NULL,
    -- The role's permissions as Clerk sent them: a JSON array of strings.
    permissions      TEXT   NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    clerk_updated_at BIGINT,
    deleted_at       BIGINT
);
-- An organization's members by pages (newest first), and one user's standing in one organization.
CREATE INDEX memberships_org ON memberships (org_clerk_id, id);
CREATE INDEX memberships_user ON memberships (user_clerk_id, org_clerk_id);
