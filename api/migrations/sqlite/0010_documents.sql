-- Documents that move codes through their life (sqlite). Same tables and
-- columns as migrations/postgres/0010_documents.sql.

-- One row per document a participant signed and sent. The signed bytes are
-- kept as received, with the signature, so the document can be shown and
-- its signature checked again at any time (non-repudiation).
CREATE TABLE documents (
    id           TEXT     PRIMARY KEY,
    -- tanba_core::document::DocumentKind, snake_case (introduction, shipment, ...).
    kind         TEXT     NOT NULL,
    -- IN_PROGRESS, CHECKED_OK, CHECKED_NOT_OK, WAIT_ACCEPTANCE, ACCEPTED, CANCELLED.
    status       TEXT     NOT NULL,
    -- The participant who signed and sent it (participants.id).
    sender       TEXT     NOT NULL,
    -- The buyer of a shipment (participants.id); NULL for other kinds.
    receiver     TEXT,
    -- The signed bytes (UTF-8 JSON), their SHA-256 (hex) and the detached
    -- CMS signature (base64), with the signer's BIN or IIN.
    body         TEXT     NOT NULL,
    body_digest  TEXT     NOT NULL,
    signature    TEXT     NOT NULL,
    signer       TEXT     NOT NULL,
    -- The kind's own fields after format-logical control (JSON object).
    fields       TEXT     NOT NULL,
    -- Unix milliseconds.
    created_at   BIGINT   NOT NULL,
    updated_at   BIGINT   NOT NULL
);
-- The worker picks up IN_PROGRESS documents, also after a restart.
CREATE INDEX documents_by_status ON documents (status, created_at);
CREATE INDEX documents_by_sender ON documents (sender, created_at);
CREATE INDEX documents_by_receiver ON documents (receiver, created_at);

-- The codes of a document, in the order they were listed.
CREATE TABLE document_items (
    document  TEXT     NOT NULL REFERENCES documents (id),
    -- 0-based position in the document's `codes`.
    n         BIGINT   NOT NULL,
    -- The code as sent (any scanner form).
    code      TEXT     NOT NULL,
    -- The code's key when it parses; NULL when it does not.
    gtin      BIGINT,
    serial    TEXT,
    -- The price of the unit in a shipment, in tiyn.
    price     BIGINT,
    PRIMARY KEY (document, n)
);
-- Is this code in a shipment waiting for its buyer?
CREATE INDEX document_items_by_code ON document_items (gtin, serial);

-- Why a document was refused: every error, each naming the code it
-- concerns (or none, for the document as a whole).
CREATE TABLE document_errors (
    document  TEXT     NOT NULL REFERENCES documents (id),
    -- 0-based, in the order the errors were found.
    n         BIGINT   NOT NULL,
    -- The position of the code concerned in the document, and the code as sent.
    item      BIGINT,
    code      TEXT,
    -- Stable machine code (already_sold, code_not_owned, ...), the message
    -- key in locales/*, and its arguments (JSON object of text).
    error     TEXT     NOT NULL,
    message   TEXT     NOT NULL,
    args      TEXT     NOT NULL,
    PRIMARY KEY (document, n)
);

-- A document's events, for its EPCIS export.
CREATE INDEX code_events_by_source ON code_events (source_kind, source_id);
