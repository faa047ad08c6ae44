-- Packages and what sits in them (sqlite). Same tables and columns as
-- migrations/postgres/0011_packages.sql.

-- A transport package or pallet, named by its SSCC (AI 00: 18 digits with
-- the GS1 check digit, checked by tanba_core::Sscc before it is stored).
-- Made by an aggregation document; removed by the disaggregation that
-- dissolves it, so its SSCC may be packed again (reaggregation).
CREATE TABLE packages (
    sscc        TEXT     PRIMARY KEY,
    -- Its owner (participants.id): the owner of everything inside it.
    owner       BLOB     NOT NULL,
    -- The package it sits in (a box on a pallet); NULL at the top.
    parent      TEXT     REFERENCES packages (sscc),
    -- The aggregation document that made it (documents.id).
    document    TEXT     NOT NULL,
    -- Unix milliseconds.
    created_at  BIGINT   NOT NULL
);
CREATE INDEX packages_by_parent ON packages (parent);

-- The package each packed unit (or group package code) sits in: one row
-- per code, so a code is in at most one package.
CREATE TABLE package_codes (
    gtin     BIGINT   NOT NULL,
    serial   TEXT     NOT NULL,
    package  TEXT     NOT NULL REFERENCES packages (sscc),
    PRIMARY KEY (gtin, serial)
);
CREATE INDEX package_codes_by_package ON package_codes (package);

-- A shipment may list SSCCs: the SSCC of such an item (18 digits), so a
-- code inside a package in a shipment waiting for its buyer is found.
ALTER TABLE document_items ADD COLUMN sscc TEXT;
CREATE INDEX document_items_by_sscc ON document_items (sscc);
