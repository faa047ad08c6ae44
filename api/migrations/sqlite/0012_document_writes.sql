-- Cheaper writes of large documents (sqlite). Same indexes as
-- migrations/postgres/0012_document_writes.sql (which also compresses
-- bodies with lz4; SQLite does not compress).

-- Only an item that is an SSCC is looked up by its SSCC: the million unit
-- codes of a shipment need no entry each (they were a million NULLs).
DROP INDEX document_items_by_sscc;
CREATE INDEX document_items_by_sscc ON document_items (sscc) WHERE sscc IS NOT NULL;
