-- What administrators did to users, attempt by attempt (refusals included). Times are unix
-- seconds. The app only inserts here: rows are never updated or deleted by it.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    parameters  TEXT    NOT NULL DEFAULT '{}',
    result      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    request_id  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_target ON audit_events (target, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- When an administrator revoked every session of the user: tokens issued at or before it are
-- refused, whether or not their session id is known here (local mode has no session list).
ALTER TABLE users ADD COLUMN sessions_revoked_at BIGINT;
