-- Emission orders and the codes table (SQLite). Same columns as the
-- PostgreSQL migration; UUIDs and signatures are BLOBs here. SQLite does not
-- partition; a WITHOUT ROWID table keyed by the code keeps rows compact.

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    participant     TEXT NOT NULL,
    gtin            TEXT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 2000000),
    release_method  TEXT NOT NULL,
    status          TEXT NOT NULL,
    generated       BIGINT NOT NULL DEFAULT 0,
    decline_reason  TEXT,
    created_at      BIGINT NOT NULL,
    ready_at        BIGINT
);
CREATE INDEX orders_by_status ON orders (status, created_at);
CREATE INDEX orders_by_participant ON orders (participant, created_at);

CREATE TABLE codes (
    gtin        BIGINT   NOT NULL,
    serial      TEXT     NOT NULL,
    key_id      TEXT     NOT NULL,
    signature   BLOB     NOT NULL,
    status      SMALLINT NOT NULL,
    reason      SMALLINT,
    blocked     BOOLEAN  NOT NULL DEFAULT FALSE,
    owner       BLOB     NOT NULL,
    order_id    BLOB     NOT NULL,
    emitted_at  BIGINT   NOT NULL,
    PRIMARY KEY (gtin, serial)
) WITHOUT ROWID;

CREATE INDEX codes_by_order ON codes (order_id, serial);

CREATE TABLE idempotency_keys (
    actor         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);
