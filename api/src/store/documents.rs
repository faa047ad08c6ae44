//! Documents as stored: the signed document with its status, its codes
//! (`document_items`) and, when refused, every error (`document_errors`);
//! and the few writes to the codes table a document needs besides its status
//! change (which goes through [`Tx::apply_operations`]): locking a code to
//! read its owner, and moving ownership on acceptance.
//!
//! A document row is locked (`FOR UPDATE` on PostgreSQL; SQLite's write
//! transaction holds the database) by every step that moves it, and each
//! step re-reads its status under the lock, so two workers or two clicks
//! never move one document twice.

use std::collections::BTreeMap;

use tanba_core::document::{DocumentKind, DocumentStatus};
use tanba_core::lifecycle::CodeState;
use tanba_core::{Gtin, MarkingCode, ScannedCode, Serial, Sscc};
use time::OffsetDateTime;

use super::codes::{gtin_number, state_from_columns};
use super::{Pool, Store, Tx};
use crate::ids::{DocumentId, ParticipantId};

/// A document as stored, without its body and items.
#[derive(Debug, Clone)]
pub struct Document {
    pub id: DocumentId,
    pub kind: DocumentKind,
    pub status: DocumentStatus,
    pub sender: ParticipantId,
    pub receiver: Option<ParticipantId>,
    pub body_digest: String,
    /// The signer's BIN or IIN.
    pub signer: String,
    /// The kind's own fields (JSON object).
    pub fields: serde_json::Value,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A document that passed format-logical control and whose signature was
/// checked, to be stored `IN_PROGRESS`.
#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    pub kind: DocumentKind,
    pub sender: ParticipantId,
    pub receiver: Option<ParticipantId>,
    /// The body as signed (borrowed: a large one is not copied).
    pub body: std::borrow::Cow<'a, str>,
    pub body_digest: String,
    pub signature: String,
    pub signer: String,
    pub fields: serde_json::Value,
    /// Items stored with the document; a large document's come after it
    /// through [`Tx::append_items`].
    pub items: Vec<DocumentItem>,
}

/// One code of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentItem {
    /// The code as sent.
    pub code: String,
    /// The code's key, when it parses.
    pub key: Option<(Gtin, Serial)>,
    /// The unit price in a shipment, in tiyn.
    pub price: Option<i64>,
}

/// Why a document (or one of its codes) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// The position of the code concerned, and the code as sent.
    pub item: Option<i64>,
    pub code: Option<String>,
    /// Stable machine code.
    pub error: String,
    /// The message key in `locales/*`.
    pub message: String,
    pub args: BTreeMap<String, String>,
}

/// One step of a document's codes' history, for the EPCIS export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEvent {
    pub code: MarkingCode,
    /// Unix milliseconds.
    pub at: i64,
    pub operation: String,
    pub state: CodeState,
    pub actor: Option<String>,
}

/// The place of one of a document's events in their order (see
/// [`Store::document_events_page`]): after the code event `event`, and for
/// a step the document recorded once, its number and the position of the
/// code it lists. Written as `event` or `event.step.position`, the page
/// token of the EPCIS export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventCursor {
    pub event: i64,
    pub step: Option<(i64, i64)>,
}

impl std::fmt::Display for EventCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.step {
            None => write!(f, "{}", self.event),
            Some((step, n)) => write!(f, "{}.{step}.{n}", self.event),
        }
    }
}

/// A page token that is not an [`EventCursor`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("not a place among a document's events")]
pub struct NotACursor;

impl std::str::FromStr for EventCursor {
    type Err = NotACursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let numbers: Vec<i64> = s
            .split('.')
            .map(|n| n.parse().map_err(|_| NotACursor))
            .collect::<Result<_, _>>()?;
        match numbers[..] {
            _ if numbers.iter().any(|n| *n < 0) => Err(NotACursor),
            [event] => Ok(EventCursor { event, step: None }),
            [event, step, n] => Ok(EventCursor {
                event,
                step: Some((step, n)),
            }),
            _ => Err(NotACursor),
        }
    }
}

/// How many of a document's codes are stored per statement.
pub const ITEM_CHUNK: usize = 10_000;

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

const COLUMNS: &str =
    "id, kind, status, sender, receiver, body_digest, signer, fields, created_at, updated_at";

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
);

fn from_row(r: Row) -> anyhow::Result<Document> {
    let (id, kind, status, sender, receiver, body_digest, signer, fields, created_at, updated_at) =
        r;
    Ok(Document {
        id: id.parse()?,
        kind: DocumentKind::parse(&kind)
            .ok_or_else(|| anyhow::anyhow!("unknown document kind {kind:?} in the database"))?,
        status: DocumentStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("unknown document status {status:?} in the database"))?,
        sender: sender.parse()?,
        receiver: receiver.map(|r| r.parse()).transpose()?,
        body_digest,
        signer,
        fields: serde_json::from_str(&fields)?,
        created_at,
        updated_at,
    })
}

pub(super) fn code_of(gtin: i64, serial: &str) -> anyhow::Result<MarkingCode> {
    Ok(MarkingCode::new(
        Gtin::parse(&format!("{gtin:014}"))
            .map_err(|e| anyhow::anyhow!("stored GTIN {gtin}: {e}"))?,
        Serial::parse(serial).map_err(|e| anyhow::anyhow!("stored serial {serial:?}: {e}"))?,
    ))
}

impl Tx {
    /// Stores a new document `IN_PROGRESS` with its codes.
    #[tracing::instrument(skip_all, fields(kind = new.kind.as_str()))]
    pub async fn insert_document(&mut self, new: &NewDocument<'_>) -> anyhow::Result<Document> {
        const DOC: &str = "INSERT INTO documents \
            (id, kind, status, sender, receiver, body, body_digest, signature, signer, fields, created_at, updated_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)";
        let now = now_ms();
        let doc = Document {
            id: DocumentId::new(),
            kind: new.kind,
            status: DocumentStatus::InProgress,
            sender: new.sender,
            receiver: new.receiver,
            body_digest: new.body_digest.clone(),
            signer: new.signer.clone(),
            fields: new.fields.clone(),
            created_at: now,
            updated_at: now,
        };
        let id = doc.id.to_string();
        let fields = serde_json::to_string(&new.fields)?;
        with_tx!(self, c => {
            sqlx::query(DOC)
                .bind(&id)
                .bind(new.kind.as_str())
                .bind(doc.status.as_str())
                .bind(new.sender.to_string())
                .bind(new.receiver.map(|r| r.to_string()))
                .bind(new.body.as_ref())
                .bind(&new.body_digest)
                .bind(&new.signature)
                .bind(&new.signer)
                .bind(&fields)
                .bind(now)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        self.append_items(doc.id, 0, &new.items).await?;
        Ok(doc)
    }

    /// Stores `items` as a document's codes from position `from` on: how a
    /// large document's items are stored a chunk at a time as they are read
    /// from its body. At most [`ITEM_CHUNK`] a call make one statement.
    pub async fn append_items(
        &mut self,
        document: DocumentId,
        from: usize,
        items: &[DocumentItem],
    ) -> anyhow::Result<()> {
        let placed: Vec<(usize, &DocumentItem)> = items
            .iter()
            .enumerate()
            .map(|(i, item)| (from + i, item))
            .collect();
        self.place_items(document, &placed).await
    }

    /// Stores each of `items` as a document's code at its own position: how
    /// the rows of a CSV aggregation, which need not list a package's members
    /// together, land in package order. At most [`ITEM_CHUNK`] a call make
    /// one statement.
    pub async fn place_items(
        &mut self,
        document: DocumentId,
        items: &[(usize, &DocumentItem)],
    ) -> anyhow::Result<()> {
        let id = document.to_string();
        for chunk in items.chunks(ITEM_CHUNK) {
            // An SSCC listed (a package in a shipment) is kept by its 18
            // digits, so a code inside it is found in a waiting shipment.
            let rows: Vec<(usize, &DocumentItem, Option<String>)> = chunk
                .iter()
                .map(|&(n, item)| {
                    // A unit code (with a key) is not parsed again.
                    let sscc = match &item.key {
                        Some(_) => None,
                        None => match crate::documents::scan(&item.code) {
                            Ok(ScannedCode::Sscc(s)) => Some(s.as_str().to_owned()),
                            _ => None,
                        },
                    };
                    (n, item, sscc)
                })
                .collect();
            self.insert_items(&id, &rows).await?;
        }
        Ok(())
    }

    /// The document, its row locked until the transaction ends.
    pub async fn document_for_update(
        &mut self,
        id: DocumentId,
    ) -> anyhow::Result<Option<Document>> {
        let lock = match self {
            Tx::Postgres(_) => " FOR UPDATE",
            Tx::Sqlite(_) => "",
        };
        let sql = format!("SELECT {COLUMNS} FROM documents WHERE id = $1{lock}");
        let sql = sqlx::AssertSqlSafe(sql);
        let row: Option<Row> = with_tx!(self, c => {
            sqlx::query_as(sql).bind(id.to_string()).fetch_optional(&mut *c).await?
        });
        row.map(from_row).transpose()
    }

    /// Holds `sender`'s row until the transaction ends, so that no two of
    /// a sender's documents are checked at once, by any instance of the
    /// service (see `documents::worker::process`). `FOR NO KEY UPDATE`
    /// leaves the row free for the key share a reference to it takes.
    /// SQLite's write transaction already holds the whole database.
    pub async fn hold_sender(&mut self, sender: ParticipantId) -> anyhow::Result<()> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT 1 FROM participants WHERE id = $1 FOR NO KEY UPDATE")
                .bind(sender.to_string())
                .fetch_optional(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Moves the document to `status` (the caller has checked the step with
    /// `tanba_core::document::document_step`).
    pub async fn set_document_status(
        &mut self,
        id: DocumentId,
        status: DocumentStatus,
    ) -> anyhow::Result<()> {
        const SQL: &str = "UPDATE documents SET status = $2, updated_at = $3 WHERE id = $1";
        with_tx!(self, c => {
            sqlx::query(SQL)
                .bind(id.to_string())
                .bind(status.as_str())
                .bind(now_ms())
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(())
    }

    /// Replaces the document's errors with `errors`.
    pub async fn set_document_errors(
        &mut self,
        id: DocumentId,
        errors: &[DocumentError],
    ) -> anyhow::Result<()> {
        const CLEAR: &str = "DELETE FROM document_errors WHERE document = $1";
        const INSERT: &str = "INSERT INTO document_errors \
            (document, n, item, code, error, message, args) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let id = id.to_string();
        with_tx!(self, c => {
            sqlx::query(CLEAR).bind(&id).execute(&mut *c).await.map(|_| ())?
        });
        for (n, e) in errors.iter().enumerate() {
            let args = serde_json::to_string(&e.args)?;
            with_tx!(self, c => {
                sqlx::query(INSERT)
                    .bind(&id)
                    .bind(i64::try_from(n)?)
                    .bind(e.item)
                    .bind(e.code.as_deref())
                    .bind(&e.error)
                    .bind(&e.message)
                    .bind(&args)
                    .execute(&mut *c)
                    .await
                    .map(|_| ())?
            });
        }
        Ok(())
    }
}

impl Store {
    pub async fn document(&self, id: DocumentId) -> anyhow::Result<Option<Document>> {
        let sql = format!("SELECT {COLUMNS} FROM documents WHERE id = $1");
        let sql = sqlx::AssertSqlSafe(sql);
        let row: Option<Row> = with_pool!(self, p => {
            sqlx::query_as(sql).bind(id.to_string()).fetch_optional(p).await?
        });
        row.map(from_row).transpose()
    }

    /// The document's codes in the order they were listed.
    pub async fn document_items(&self, id: DocumentId) -> anyhow::Result<Vec<DocumentItem>> {
        Ok(self
            .document_items_page(id, 0, i64::MAX, false)
            .await?
            .into_iter()
            .map(|(_, item)| item)
            .collect())
    }

    /// The first position at which a document lists a unit code, if it
    /// does: which package of an aggregation the code went into.
    pub async fn document_position(
        &self,
        id: DocumentId,
        gtin: &Gtin,
        serial: &Serial,
    ) -> anyhow::Result<Option<i64>> {
        const SQL: &str = "SELECT MIN(n) FROM document_items \
            WHERE gtin = $1 AND serial = $2 AND document = $3";
        let found: Option<i64> = with_pool!(self, p => {
            sqlx::query_scalar(SQL)
                .bind(gtin_number(gtin)?)
                .bind(serial.as_str())
                .bind(id.to_string())
                .fetch_one(p)
                .await?
        });
        Ok(found)
    }

    /// The first position at which a document lists an SSCC, if it does.
    pub async fn document_position_of_sscc(
        &self,
        id: DocumentId,
        sscc: &Sscc,
    ) -> anyhow::Result<Option<i64>> {
        const SQL: &str = "SELECT MIN(n) FROM document_items WHERE sscc = $1 AND document = $2";
        let found: Option<i64> = with_pool!(self, p => {
            sqlx::query_scalar(SQL)
                .bind(sscc.as_str())
                .bind(id.to_string())
                .fetch_one(p)
                .await?
        });
        Ok(found)
    }

    /// At most `limit` of the document's codes from position `from` on
    /// (0-based), each with its position, in order: a large document is
    /// read a page at a time instead of whole. `keyless`: only the items
    /// stored without a code's key (an SSCC, or what did not parse).
    pub async fn document_items_page(
        &self,
        id: DocumentId,
        from: i64,
        limit: i64,
        keyless: bool,
    ) -> anyhow::Result<Vec<(i64, DocumentItem)>> {
        const ALL: &str = "SELECT n, code, gtin, serial, price FROM document_items \
            WHERE document = $1 AND n >= $2 ORDER BY n LIMIT $3";
        // Through `document_items_keyless`, without reading the others.
        const KEYLESS: &str = "SELECT n, code, gtin, serial, price FROM document_items \
            WHERE document = $1 AND n >= $2 AND gtin IS NULL ORDER BY n LIMIT $3";
        type ItemRow = (i64, String, Option<i64>, Option<String>, Option<i64>);
        let sql = if keyless { KEYLESS } else { ALL };
        let rows: Vec<ItemRow> = with_pool!(self, p => {
            sqlx::query_as(sql)
                .bind(id.to_string())
                .bind(from)
                .bind(limit)
                .fetch_all(p)
                .await?
        });
        rows.into_iter()
            .map(|(n, code, gtin, serial, price)| {
                let key = match (gtin, serial) {
                    (Some(g), Some(s)) => {
                        let c = code_of(g, &s)?;
                        Some((c.gtin().clone(), c.serial().clone()))
                    }
                    _ => None,
                };
                Ok((n, DocumentItem { code, key, price }))
            })
            .collect()
    }

    /// How many positions the document's items take (the last one's plus
    /// one), and how many of its items have no code's key (SSCCs, through
    /// `document_items_keyless`): neither reads the other items.
    pub async fn document_item_span(&self, id: DocumentId) -> anyhow::Result<(i64, i64)> {
        const LAST: &str = "SELECT COALESCE(MAX(n) + 1, 0) FROM document_items WHERE document = $1";
        const KEYLESS: &str =
            "SELECT COUNT(*) FROM document_items WHERE document = $1 AND gtin IS NULL";
        Ok(with_pool!(self, p => {
            let span: i64 = sqlx::query_scalar(LAST).bind(id.to_string()).fetch_one(p).await?;
            let keyless: i64 = sqlx::query_scalar(KEYLESS).bind(id.to_string()).fetch_one(p).await?;
            (span, keyless)
        }))
    }

    /// How many codes the document lists.
    pub async fn document_item_count(&self, id: DocumentId) -> anyhow::Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM document_items WHERE document = $1";
        Ok(with_pool!(self, p => {
            sqlx::query_scalar(SQL).bind(id.to_string()).fetch_one(p).await?
        }))
    }

    /// The document's errors in the order they were found.
    pub async fn document_errors(&self, id: DocumentId) -> anyhow::Result<Vec<DocumentError>> {
        self.document_errors_page(id, 0, i64::MAX).await
    }

    /// How many errors the document has.
    pub async fn document_error_count(&self, id: DocumentId) -> anyhow::Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM document_errors WHERE document = $1";
        Ok(with_pool!(self, p => {
            sqlx::query_scalar(SQL).bind(id.to_string()).fetch_one(p).await?
        }))
    }

    /// At most `limit` of the document's errors, from the `from`-th found
    /// (0-based) on, in the order they were found.
    pub async fn document_errors_page(
        &self,
        id: DocumentId,
        from: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<DocumentError>> {
        const SQL: &str = "SELECT item, code, error, message, args FROM document_errors \
            WHERE document = $1 AND n >= $2 ORDER BY n LIMIT $3";
        type ErrorRow = (Option<i64>, Option<String>, String, String, String);
        let rows: Vec<ErrorRow> = with_pool!(self, p => {
            sqlx::query_as(SQL)
                .bind(id.to_string())
                .bind(from)
                .bind(limit)
                .fetch_all(p)
                .await?
        });
        rows.into_iter()
            .map(|(item, code, error, message, args)| {
                Ok(DocumentError {
                    item,
                    code,
                    error,
                    message,
                    args: serde_json::from_str(&args)?,
                })
            })
            .collect()
    }

    /// Documents still `IN_PROGRESS`, oldest first: what the worker does
    /// next, also after a restart.
    pub async fn documents_in_progress(&self) -> anyhow::Result<Vec<DocumentId>> {
        const SQL: &str =
            "SELECT id FROM documents WHERE status = 'IN_PROGRESS' ORDER BY created_at, id";
        let ids: Vec<String> = with_pool!(self, p => sqlx::query_scalar(SQL).fetch_all(p).await?);
        ids.iter().map(|s| Ok(s.parse()?)).collect()
    }

    /// The code's current owner (a packed code's is its package's); `None`
    /// when the code is not stored.
    pub async fn code_owner(
        &self,
        gtin: &Gtin,
        serial: &Serial,
    ) -> anyhow::Result<Option<ParticipantId>> {
        use super::codes::{OWNER, OWNER_JOINS};
        let sql = format!(
            "SELECT {OWNER} FROM codes c {OWNER_JOINS} WHERE c.gtin = $1 AND c.serial = $2"
        );
        let owner: Option<uuid::Uuid> = with_pool!(self, p => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(gtin_number(gtin)?)
                .bind(serial.as_str())
                .fetch_optional(p)
                .await?
        });
        Ok(owner.map(|u| u.to_string().parse()).transpose()?)
    }

    /// Every event a document caused, in the order they were written.
    pub async fn document_events(&self, id: DocumentId) -> anyhow::Result<Vec<DocumentEvent>> {
        Ok(self
            .document_events_page(id, EventCursor::default(), i64::MAX)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// At most `limit` of the events the document caused, each with its
    /// place, after the place `after` (the default: from the first), in
    /// the order written: its codes' own events (`code_events`) and, for
    /// each step it recorded once (`document_steps`), an event for each
    /// unit code it lists alone, with the state that code had then.
    pub async fn document_events_page(
        &self,
        id: DocumentId,
        after: EventCursor,
        limit: i64,
    ) -> anyhow::Result<Vec<(EventCursor, DocumentEvent)>> {
        const EVENTS: &str = "SELECT id, gtin, serial, at, operation, status, reason, blocked, actor \
            FROM code_events WHERE source_kind = 'document' AND source_id = $1 AND id > $2 \
            ORDER BY id LIMIT $3";
        const STEPS: &str = "SELECT n, after_event, at, operation, actor FROM document_steps \
            WHERE document = $1 ORDER BY n";
        // The state of each code when the step was taken: that of its last
        // event before it (with none, the state it was emitted in).
        const ITEMS: &str = "SELECT i.n, i.gtin, i.serial, e.status, e.reason, e.blocked \
            FROM document_items i LEFT JOIN code_events e ON e.id = (SELECT MAX(x.id) FROM code_events x \
              WHERE x.gtin = i.gtin AND x.serial = i.serial AND x.id <= $3) \
            WHERE i.document = $1 AND i.n > $2 AND i.gtin IS NOT NULL ORDER BY i.n LIMIT $4";
        type EventRow = (
            i64,
            i64,
            String,
            i64,
            String,
            i16,
            Option<i16>,
            bool,
            Option<String>,
        );
        type StepRow = (i64, i64, i64, String, Option<String>);
        type ItemRow = (i64, i64, String, Option<i16>, Option<i16>, Option<bool>);
        let (rows, steps): (Vec<EventRow>, Vec<StepRow>) = with_pool!(self, p => {
            (
                sqlx::query_as(EVENTS)
                    .bind(id.to_string())
                    .bind(after.event)
                    .bind(limit)
                    .fetch_all(p)
                    .await?,
                sqlx::query_as(STEPS).bind(id.to_string()).fetch_all(p).await?,
            )
        });
        let mut out = rows
            .into_iter()
            .map(
                |(n, gtin, serial, at, operation, status, reason, blocked, actor)| {
                    Ok((
                        EventCursor {
                            event: n,
                            step: None,
                        },
                        DocumentEvent {
                            code: code_of(gtin, &serial)?,
                            at,
                            operation,
                            state: state_from_columns(status, reason, blocked)?,
                            actor,
                        },
                    ))
                },
            )
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (step, after_event, at, operation, actor) in steps {
            let from = match (after_event, Some(step)).cmp(&(after.event, after.step.map(|s| s.0)))
            {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => after.step.map_or(-1, |s| s.1),
                std::cmp::Ordering::Greater => -1,
            };
            let items: Vec<ItemRow> = with_pool!(self, p => {
                sqlx::query_as(ITEMS)
                    .bind(id.to_string())
                    .bind(from)
                    .bind(after_event)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            });
            for (n, gtin, serial, status, reason, blocked) in items {
                out.push((
                    EventCursor {
                        event: after_event,
                        step: Some((step, n)),
                    },
                    DocumentEvent {
                        code: code_of(gtin, &serial)?,
                        at,
                        operation: operation.clone(),
                        state: match (status, blocked) {
                            (Some(status), Some(blocked)) => {
                                state_from_columns(status, reason, blocked)?
                            }
                            _ => CodeState::EMITTED,
                        },
                        actor: actor.clone(),
                    },
                ));
            }
        }
        out.sort_by_key(|(place, _)| *place);
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }
}

impl Tx {
    /// Rolls back now, rather than when the transaction is dropped: the
    /// next transaction on SQLite must not wait for this one's lock.
    pub async fn rollback(self) -> anyhow::Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}
