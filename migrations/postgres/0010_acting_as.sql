-- Who really acted, when someone else acts as the session's user (Clerk's `act` claim: a member
-- impersonating the user from Clerk's dashboard, or an agent): `actor` is then that actor's id,
-- `acted_as` the Clerk id of the user acted as, and `actor_type` `impersonator` or `agent`.
-- Both NULL when the administrator acted themself, and on rows recorded before this migration.
ALTER TABLE audit_events ADD COLUMN acted_as TEXT;
ALTER TABLE audit_events ADD COLUMN actor_type TEXT;
