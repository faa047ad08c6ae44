-- A document's steps over the unit codes it lists alone (sqlite; the same
-- table as migrations/postgres/0014_document_steps.sql).
--
-- A shipment and its acceptance leave every code's state as it was, and
-- either every code they list takes the step or none does. So rather than
-- an event per code in `code_events` (two million rows for a million codes
-- shipped and accepted), the step is one row here, and each unit code the
-- document lists alone (`document_items`, found by its key) has it in its
-- history. Codes inside a listed package, and the steps of a document that
-- may pass some codes and not others (a cancelled shipment's record), stay
-- one event per code in `code_events`.
CREATE TABLE document_steps (
    document     TEXT     NOT NULL REFERENCES documents (id),
    -- 0-based, in the order the document took its steps.
    n            INTEGER  NOT NULL,
    -- The last `code_events.id` written before this step: the step comes
    -- after that event and before the next one in every code's history.
    after_event  INTEGER  NOT NULL,
    -- Unix milliseconds.
    at           BIGINT   NOT NULL,
    -- tanba_core::lifecycle::Operation, snake_case (ship, accept).
    operation    TEXT     NOT NULL,
    -- Who: the participant who sent or accepted the document.
    actor        TEXT,
    PRIMARY KEY (document, n)
);
