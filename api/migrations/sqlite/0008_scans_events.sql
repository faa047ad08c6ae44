-- Scans and code events (sqlite). Same columns on both engines.

-- Every scan of a code, written behind the answer in batches: statistics,
-- clone detection after the fact, and the code's history for inspectors.
-- No person is stored: the place is coarse (rounded to 0.01°, about 1 km)
-- and only when the client sent one.
CREATE TABLE scans (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    gtin      BIGINT   NOT NULL,
    serial    TEXT     NOT NULL,
    -- Unix milliseconds.
    at        BIGINT   NOT NULL,
    lat       REAL,
    lon       REAL,
    -- 'app' (GET /v1/codes) or 'web' (the Digital Link page).
    channel   TEXT     NOT NULL,
    -- 'check' (a citizen's look) or 'shop' (checked as offered for sale).
    context   TEXT     NOT NULL,
    -- The verdict the scan answered (genuine, sold, suspected_clone, ...).
    verdict   TEXT     NOT NULL
);
CREATE INDEX scans_by_code ON scans (gtin, serial, at);
CREATE INDEX scans_by_time ON scans (at);

-- A code's history: one row per change of its state, appended in the same
-- transaction as the change (Tx::apply_operations), with what caused it
-- (a document, an inspector's decision on a report, the demo seeding).
CREATE TABLE code_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    gtin         BIGINT   NOT NULL,
    serial       TEXT     NOT NULL,
    -- Unix milliseconds.
    at           BIGINT   NOT NULL,
    -- tanba_core::lifecycle::Operation, snake_case (introduce, block, ...).
    operation    TEXT     NOT NULL,
    -- The state after the change (same encoding as codes.status/reason).
    status       SMALLINT NOT NULL,
    reason       SMALLINT,
    blocked      BOOLEAN  NOT NULL,
    -- Who: a participant or staff id; NULL for the system.
    actor        TEXT,
    -- What: 'document', 'report', 'demo'; and its id or number.
    source_kind  TEXT     NOT NULL,
    source_id    TEXT
);
CREATE INDEX code_events_by_code ON code_events (gtin, serial, id);
