-- The product catalogue (sqlite); same columns as migrations/postgres/0006_products.sql.
-- One row per GTIN; the participant that registered it owns it. The owner is a
-- participant id (UUID text); there is deliberately no foreign key to
-- participants, whose table is another issue's, only an index.
-- Reference codes (product_group, tnved, manufacturer_country) are checked by
-- the service against the reference data, which keeps retired entries, so no
-- foreign key is needed to keep them resolvable either.
CREATE TABLE products (
    gtin                     TEXT PRIMARY KEY,
    owner                    TEXT NOT NULL,
    name_kk                  TEXT NOT NULL,
    name_ru                  TEXT NOT NULL,
    product_group            TEXT NOT NULL,
    tnved                    TEXT NOT NULL,
    manufacturer_name        TEXT NOT NULL,
    manufacturer_country     TEXT NOT NULL,
    importer_name            TEXT,
    importer_bin             TEXT,
    -- 'certificate' or 'declaration' (of conformity).
    conformity_kind          TEXT NOT NULL,
    conformity_number        TEXT NOT NULL,
    -- Dates as ISO 8601 text (YYYY-MM-DD) in both engines.
    conformity_date          TEXT NOT NULL,
    test_certificate_number  TEXT,
    test_certificate_date    TEXT,
    -- Recommended retail price in tiyn (1 tenge = 100 tiyn): exact integers.
    recommended_price_tiyn   BIGINT NOT NULL,
    photo_url                TEXT,
    -- Unix seconds.
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX products_owner ON products (owner, gtin);
CREATE INDEX products_group ON products (product_group);
