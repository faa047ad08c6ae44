-- Emission orders and the codes table (PostgreSQL). Same columns as the
-- SQLite migration; types differ only where the engines do (UUID and BYTEA
-- here, BLOB there).

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

-- One row per code ever issued: the largest table (10 billion rows at
-- national scale), so every column is as narrow as it can be: the GTIN as a
-- number, the signature as its 64 raw bytes, status and reason as small
-- integers. Keyed by the code itself and partitioned by its hash, which maps
-- one to one onto Citus shards when one machine is no longer enough.
CREATE TABLE codes (
    gtin        BIGINT   NOT NULL,
    serial      TEXT     NOT NULL,
    key_id      TEXT     NOT NULL,
    signature   BYTEA    NOT NULL,
    status      SMALLINT NOT NULL,
    reason      SMALLINT,
    blocked     BOOLEAN  NOT NULL DEFAULT FALSE,
    owner       UUID     NOT NULL,
    order_id    UUID     NOT NULL,
    emitted_at  BIGINT   NOT NULL,
    PRIMARY KEY (gtin, serial)
) PARTITION BY HASH (gtin, serial);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE codes_p%s PARTITION OF codes FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            lpad(i::text, 2, '0'), i);
    END LOOP;
END
$$;

-- A participant and its printers fetch an order's codes page by page.
CREATE INDEX codes_by_order ON codes (order_id, serial);

-- Answers to state-changing requests by Idempotency-Key, so a retry returns
-- the first answer and changes nothing.
CREATE TABLE idempotency_keys (
    actor         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);
