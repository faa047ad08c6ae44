-- Participants of trade, operator staff and sign-in challenges (PostgreSQL).
-- Same columns in both engines; times are Unix seconds (BIGINT), comparable
-- as numbers in both, as in 0003_sessions.sql.

-- A participant: a legal entity (BIN) or a sole proprietor (IIN), with the
-- roles it asked for. PENDING until the operator approves or refuses it.
-- The registration is kept as signed: the exact JSON bytes and the CMS
-- signature over them, so the request can be shown later as evidence.
CREATE TABLE participants (
    id                 TEXT PRIMARY KEY,
    taxpayer_id        TEXT NOT NULL UNIQUE,
    name_kk            TEXT NOT NULL,
    name_ru            TEXT NOT NULL,
    roles              TEXT NOT NULL,
    email              TEXT,
    phone              TEXT,
    status             TEXT NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REFUSED')),
    refusal_reason     TEXT,
    registration       TEXT NOT NULL,
    signature          TEXT NOT NULL,
    signer_iin         TEXT,
    created_at         BIGINT NOT NULL,
    decided_at         BIGINT,
    decided_by         TEXT
);
CREATE INDEX participants_status ON participants (status, created_at);

-- Operator staff: administrators, inspectors, analysts. They sign in with an
-- EDS certificate carrying their IIN.
CREATE TABLE staff (
    id          TEXT PRIMARY KEY,
    iin         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Sign-in challenges: random, single use, short-lived.
CREATE TABLE auth_challenges (
    challenge   TEXT PRIMARY KEY,
    ip          TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX auth_challenges_expiry ON auth_challenges (expires_at);
