-- Bearer-token sessions (SQLite); same columns as the PostgreSQL migration.
-- Times are Unix seconds, comparable as numbers in both engines.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    actor_kind  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
