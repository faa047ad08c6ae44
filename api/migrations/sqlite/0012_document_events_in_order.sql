-- A document's events are read in the order they were written, a page at a
-- time (the EPCIS export of a document of a million codes): the index
-- carries the event id, so a page is a range of it, not a sort of them all.
DROP INDEX code_events_by_source;
CREATE INDEX code_events_by_source ON code_events (source_kind, source_id, id);
