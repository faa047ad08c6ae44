-- Citizens' violation reports and their review by inspectors (postgres).
-- Same tables and columns as migrations/sqlite/0009_reports.sql; types
-- differ only where the engines do (BYTEA here, BLOB there).

-- The last report number handed out in each year (Kazakhstan time): numbers
-- are `YYYY-NNNNNN`, sequential per year. The row is updated inside the
-- transaction that stores the report, so a refused report gives its number
-- back.
CREATE TABLE report_counters (
    year  BIGINT  PRIMARY KEY,
    last  BIGINT  NOT NULL
);

CREATE TABLE reports (
    -- `2026-000123`: year and sequence, also kept apart to sort and page by.
    number         TEXT     PRIMARY KEY,
    year           BIGINT   NOT NULL,
    seq            BIGINT   NOT NULL,
    -- SHA-256 (hex) of the reporter's secret; the secret itself is never stored.
    secret_hash    TEXT     NOT NULL,
    -- violation_kinds reference code.
    kind           TEXT     NOT NULL,
    -- new, in_review, confirmed, rejected, inspection_scheduled, closed.
    status         TEXT     NOT NULL,
    -- The code the report is about, if the reporter gave one (stored or not).
    gtin           BIGINT,
    serial         TEXT,
    -- The product group of the code's product, when the code is stored and
    -- its GTIN is in the catalogue: inspectors filter by it.
    product_group  TEXT,
    lat            DOUBLE PRECISION,
    lon            DOUBLE PRECISION,
    address        TEXT,
    -- regions reference code (KATO).
    region         TEXT,
    shop_name      TEXT,
    shop_bin       TEXT,
    comment        TEXT     NOT NULL,
    -- How to reach the reporter; inspectors only.
    contact        TEXT,
    -- The reporter's language (kk, ru): the language of the public answer page.
    lang           TEXT     NOT NULL,
    -- Who reported, for duplicate detection: `device:<sha256 of X-Device-Id>`
    -- or `ip:<address>`; and what about: `code:01…21…` or `place:…`.
    reporter_key   TEXT     NOT NULL,
    subject_key    TEXT     NOT NULL,
    -- The inspector the report is assigned to (staff id).
    assignee       TEXT,
    -- The inspector's answer the reporter reads.
    public_answer  TEXT,
    -- Unix milliseconds.
    created_at     BIGINT   NOT NULL,
    updated_at     BIGINT   NOT NULL,
    UNIQUE (year, seq)
);
CREATE INDEX reports_by_status ON reports (status, year, seq);
CREATE INDEX reports_by_created ON reports (created_at);
CREATE INDEX reports_by_code ON reports (gtin, serial);
CREATE INDEX reports_by_assignee ON reports (assignee, year, seq);
CREATE INDEX reports_duplicates ON reports (reporter_key, kind, subject_key, created_at);

-- Photos as re-encoded JPEG (metadata stripped, at most 2560 px a side).
CREATE TABLE report_photos (
    report   TEXT     NOT NULL REFERENCES reports (number),
    -- 1-based, in the order the reporter sent them.
    n        BIGINT   NOT NULL,
    content  BYTEA    NOT NULL,
    width    BIGINT   NOT NULL,
    height   BIGINT   NOT NULL,
    size     BIGINT   NOT NULL,
    PRIMARY KEY (report, n)
);

-- A report's own history: created, assigned, status changes, comments,
-- the code blocked. Appended only, in the transaction of the change.
CREATE TABLE report_history (
    id           BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report       TEXT     NOT NULL REFERENCES reports (number),
    -- Unix milliseconds.
    at           BIGINT   NOT NULL,
    -- Staff id; NULL for the (anonymous) reporter.
    actor        TEXT,
    -- created, assigned, status, comment, code_blocked.
    action       TEXT     NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    -- For `assigned`: the new assignee (NULL: unassigned).
    assignee     TEXT,
    -- For `comment`: the inspector's internal comment; for `status`: the
    -- public answer given with it, if any.
    text         TEXT
);
CREATE INDEX report_history_by_report ON report_history (report, id);
