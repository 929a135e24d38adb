-- Admin search: case-insensitive substring match on email, names and Clerk id, served by an FTS5
-- trigram index kept in step with `users` by triggers (external content: no second copy of the text).
CREATE VIRTUAL TABLE users_search USING fts5(
    email, first_name, last_name, clerk_id,
    content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (rowid, email, first_name, last_name, clerk_id)
    SELECT id, email, first_name, last_name, clerk_id FROM users;

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, email, first_name, last_name, clerk_id)
    VALUES (new.id, new.email, new.first_name, new.last_name, new.clerk_id);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email, first_name, last_name, clerk_id)
    VALUES ('delete', old.id, old.email, old.first_name, old.last_name, old.clerk_id);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF email, first_name, last_name, clerk_id ON users
WHEN old.email IS NOT new.email OR old.first_name IS NOT new.first_name
  OR old.last_name IS NOT new.last_name OR old.clerk_id IS NOT new.clerk_id
BEGIN
    INSERT INTO users_search (users_search, rowid, email, first_name, last_name, clerk_id)
    VALUES ('delete', old.id, old.email, old.first_name, old.last_name, old.clerk_id);
    INSERT INTO users_search (rowid, email, first_name, last_name, clerk_id)
    VALUES (new.id, new.email, new.first_name, new.last_name, new.clerk_id);
END;
