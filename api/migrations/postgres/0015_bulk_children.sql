-- The tables that take a million rows in one statement (a document's items
-- and errors, the codes packed into packages) check each statement's rows
-- against their parent once, not each row on its own (postgres; SQLite
-- keeps its foreign keys, see migrations/sqlite/0015_bulk_children.sql).
--
-- A foreign key checks every inserted row with its own lookup and a share
-- lock on the parent's row. `COPY` of a shipment's million items took
-- 14-21 s with the key against 10-12 s without it, and the same with the
-- check below (BENCHMARKS.md, "Foreign keys and a million rows"); an
-- aggregation writes a million `package_codes` the same way.
--
-- What the key guarded still holds:
-- - a row naming a document or package that does not exist is refused
--   (after each INSERT or UPDATE statement, over the rows it wrote);
-- - a document or package that rows still name cannot be deleted, nor its
--   key changed (before each such row).
-- The key's share lock also kept a concurrent DELETE of the parent from
-- passing an INSERT of its children. Nothing deletes a document (it is a
-- legal record), and a package is deleted only by the disaggregation that
-- empties it, in the transaction that deletes its codes.

ALTER TABLE document_items DROP CONSTRAINT document_items_document_fkey;
ALTER TABLE document_errors DROP CONSTRAINT document_errors_document_fkey;
ALTER TABLE package_codes DROP CONSTRAINT package_codes_package_fkey;

-- Children's side: the distinct parents the statement's rows name.
CREATE FUNCTION rows_have_their_document() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing TEXT;
BEGIN
    SELECT r.document INTO missing
    FROM (SELECT DISTINCT document FROM written) r
    WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = r.document)
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('%s names document %s, which does not exist', TG_TABLE_NAME, missing);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION rows_have_their_package() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing TEXT;
BEGIN
    SELECT r.package INTO missing
    FROM (SELECT DISTINCT package FROM written) r
    WHERE NOT EXISTS (SELECT 1 FROM packages p WHERE p.sscc = r.package)
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('%s names package %s, which does not exist', TG_TABLE_NAME, missing);
    END IF;
    RETURN NULL;
END
$$;

-- A trigger with a transition table takes one event, so INSERT and UPDATE
-- each get one.
CREATE TRIGGER document_items_inserted AFTER INSERT ON document_items
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_document();
CREATE TRIGGER document_items_updated AFTER UPDATE ON document_items
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_document();
CREATE TRIGGER document_errors_inserted AFTER INSERT ON document_errors
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_document();
CREATE TRIGGER document_errors_updated AFTER UPDATE ON document_errors
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_document();
CREATE TRIGGER package_codes_inserted AFTER INSERT ON package_codes
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_package();
CREATE TRIGGER package_codes_updated AFTER UPDATE ON package_codes
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION rows_have_their_package();

-- Parents' side: a document or package still named keeps its key.
CREATE FUNCTION document_is_not_named() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM document_items WHERE document = OLD.id)
       OR EXISTS (SELECT 1 FROM document_errors WHERE document = OLD.id) THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('document %s still has items or errors', OLD.id);
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE FUNCTION package_is_not_named() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM package_codes WHERE package = OLD.sscc) THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('package %s still holds codes', OLD.sscc);
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE TRIGGER documents_deleted BEFORE DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION document_is_not_named();
CREATE TRIGGER documents_renamed BEFORE UPDATE OF id ON documents
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION document_is_not_named();
CREATE TRIGGER packages_deleted BEFORE DELETE ON packages
    FOR EACH ROW EXECUTE FUNCTION package_is_not_named();
CREATE TRIGGER packages_renamed BEFORE UPDATE OF sscc ON packages
    FOR EACH ROW WHEN (OLD.sscc IS DISTINCT FROM NEW.sscc) EXECUTE FUNCTION package_is_not_named();
