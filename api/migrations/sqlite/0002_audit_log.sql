-- The audit log (SQLite). Same columns as migrations/postgres/0002_audit_log.sql.
-- seq is assigned by the writer (previous + 1) under the write lock, so the
-- hash chain has no gaps; `at` is RFC 3339 UTC text in both engines because it
-- is hashed as written.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT,
    role       TEXT,
    action     TEXT NOT NULL,
    object     TEXT,
    ip         TEXT,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_object ON audit_log (object, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
