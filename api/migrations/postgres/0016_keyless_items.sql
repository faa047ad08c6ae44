-- A document's items stored without a code's key (an SSCC, or what did
-- not parse), found without reading the others: an acceptance moves the
-- unit codes listed alone in the database, by their stored keys, and then
-- reads only these (api/src/documents/worker.rs, `Moving::all`).
CREATE INDEX document_items_keyless ON document_items (document, n) WHERE gtin IS NULL;
