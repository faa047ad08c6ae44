-- Foundation schema (SQLite). Kept column for column identical to
-- migrations/postgres/0001_foundation.sql; types differ only where the
-- engines do (TEXT timestamps here, timestamptz there).

-- Public halves of the operator's emission keys, served at /v1/keys. Old keys
-- stay forever: codes they signed are checked against them for years.
CREATE TABLE emission_keys (
    id          TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    public_key  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
