-- The tables that take a million rows in one statement (sqlite; see
-- migrations/postgres/0015_bulk_children.sql). PostgreSQL checks
-- `document_items`, `document_errors` and `package_codes` against their
-- parent once per statement instead of with a foreign key per row. SQLite
-- keeps its foreign keys: its check is a lookup in the same file, not a
-- trigger and a share lock per row, and its documents are not the
-- million-code scale. Both refuse the same rows.
SELECT 1;
