-- Reference data (НСИ) (sqlite); same columns as migrations/postgres/0005_reference.sql.
-- The dictionaries themselves ship with the binary (api/reference/*.json) and
-- are synced into these tables at start-up: a file with a higher version
-- replaces the entries and bumps the version here. Entries are never deleted:
-- one that a newer version no longer lists keeps its row with valid_to set to
-- that version, so products and documents that name it still resolve.
CREATE TABLE reference_dictionaries (
    name          TEXT PRIMARY KEY,
    version       BIGINT NOT NULL,
    -- SHA-256 of the file the version came from: the same version with other
    -- content means someone edited a file without raising its version.
    content_hash  TEXT NOT NULL,
    -- Unix seconds.
    updated_at    BIGINT NOT NULL
);

CREATE TABLE reference_entries (
    dictionary    TEXT NOT NULL REFERENCES reference_dictionaries (name),
    code          TEXT NOT NULL,
    name_kk       TEXT NOT NULL,
    name_ru       TEXT NOT NULL,
    -- The dictionary-specific fields, as a JSON object (text in both engines).
    attributes    TEXT NOT NULL,
    -- The dictionary version that first listed the entry, and the one that
    -- dropped it (NULL while it is listed).
    valid_from    BIGINT NOT NULL,
    valid_to      BIGINT,
    PRIMARY KEY (dictionary, code)
);
