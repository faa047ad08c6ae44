//! What a scan reads from the codes table, and the one way storage changes a
//! code's status: [`Tx::apply_operations`], which runs every step through
//! `tanba_core::lifecycle::transition` and appends each step to the code's
//! history (`code_events`) in the same transaction, with what caused it.
//!
//! The scan reads one row by its primary key (GTIN, serial): on PostgreSQL
//! that is one partition and one index probe. It reads no owner and no order:
//! a citizen's answer never carries a participant's private data, so the
//! query does not even fetch it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tanba_core::lifecycle::{CodeState, Operation, TransitionError, transition};
use tanba_core::{CryptoTail, Gtin, KeyId, MarkingCode, Serial};
use time::OffsetDateTime;

use super::codes::{
    OWNER, OWNER_JOINS, gtin_number, state_from_columns, status_columns, status_from_columns,
};
use super::{Pool, Store, Tx};
use crate::ids::ParticipantId;

/// A code as stored, without its owner or order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// The code with the key id and crypto tail it was issued with.
    pub code: MarkingCode,
    pub state: CodeState,
    /// Unix seconds.
    pub emitted_at: i64,
}

/// [`Tx::apply_operations`] was asked about a code that is not stored.
#[derive(Debug, Clone, thiserror::Error)]
#[error("code {0} is not stored")]
pub struct CodeNotFound(pub String);

/// What kind of thing caused a change of a code's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A participant's document (issue 5).
    Document,
    /// An inspector's decision on a citizen's report.
    Report,
    /// `tanba serve --demo` seeding (and test fixtures that seed the same way).
    Demo,
}

impl SourceKind {
    /// As stored in `code_events.source_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Document => "document",
            SourceKind::Report => "report",
            SourceKind::Demo => "demo",
        }
    }
}

/// What caused a change: its kind and, where it has one, its id (a document
/// id, a report number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    pub kind: SourceKind,
    pub id: Option<String>,
}

impl EventSource {
    pub fn demo() -> Self {
        Self {
            kind: SourceKind::Demo,
            id: None,
        }
    }

    pub fn report(number: impl Into<String>) -> Self {
        Self {
            kind: SourceKind::Report,
            id: Some(number.into()),
        }
    }

    pub fn document(id: impl Into<String>) -> Self {
        Self {
            kind: SourceKind::Document,
            id: Some(id.into()),
        }
    }
}

/// One step of a code's history, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEvent {
    /// Unix milliseconds.
    pub at: i64,
    /// The operation, snake_case (`introduce`, `block`, …).
    pub operation: String,
    /// The state after the step.
    pub state: CodeState,
    /// A participant or staff id; `None` for the system.
    pub actor: Option<String>,
    /// `document`, `report` or `demo`.
    pub source_kind: String,
    pub source_id: Option<String>,
}

/// The operation's name in `code_events.operation`: the same snake_case
/// word its serde form carries, without the reason (the reason is in the
/// state after it).
pub fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Apply => "apply",
        Operation::Introduce => "introduce",
        Operation::Ship => "ship",
        Operation::Accept => "accept",
        Operation::CancelShipment => "cancel_shipment",
        Operation::Aggregate => "aggregate",
        Operation::Disaggregate => "disaggregate",
        Operation::Withdraw(_) => "withdraw",
        Operation::Return => "return",
        Operation::WriteOff(_) => "write_off",
        Operation::Block => "block",
        Operation::Unblock => "unblock",
    }
}

type Row = (i64, String, String, Vec<u8>, i16, Option<i16>, bool, i64);

/// Over `codes c`.
const COLUMNS: &str =
    "c.gtin, c.serial, c.key_id, c.signature, c.status, c.reason, c.blocked, c.emitted_at";

fn from_row(
    (gtin, serial, key_id, signature, status, reason, blocked, emitted_at): Row,
) -> anyhow::Result<StoredCode> {
    let code = MarkingCode::new(
        Gtin::parse(&format!("{gtin:014}"))
            .map_err(|e| anyhow::anyhow!("stored GTIN {gtin}: {e}"))?,
        Serial::parse(&serial).map_err(|e| anyhow::anyhow!("stored serial {serial:?}: {e}"))?,
    )
    .with_crypto(
        KeyId::parse(&key_id).map_err(|e| anyhow::anyhow!("stored key id: {e}"))?,
        CryptoTail::parse(&URL_SAFE_NO_PAD.encode(signature))
            .map_err(|e| anyhow::anyhow!("stored signature: {e}"))?,
    );
    Ok(StoredCode {
        code,
        state: state_from_columns(status, reason, blocked)?,
        emitted_at,
    })
}

impl Store {
    /// The stored code with this GTIN and serial, for a scan.
    #[tracing::instrument(skip(self), fields(gtin = %gtin, serial = %serial))]
    pub async fn code_for_scan(
        &self,
        gtin: &Gtin,
        serial: &Serial,
    ) -> anyhow::Result<Option<StoredCode>> {
        let sql = format!("SELECT {COLUMNS} FROM codes c WHERE c.gtin = $1 AND c.serial = $2");
        let sql = sqlx::AssertSqlSafe(sql);
        let row: Option<Row> = with_pool!(self, p => {
            sqlx::query_as(sql)
                .bind(gtin_number(gtin)?)
                .bind(serial.as_str())
                .fetch_optional(p)
                .await?
        });
        row.map(from_row).transpose()
    }

    /// Up to `limit` codes of one owner (a packed code's is its package's),
    /// in key order (for the demo, which lists the codes it seeded).
    pub async fn codes_of_owner(
        &self,
        owner: ParticipantId,
        limit: i64,
    ) -> anyhow::Result<Vec<StoredCode>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM codes c {OWNER_JOINS} WHERE {OWNER} = $1 ORDER BY c.gtin, c.serial LIMIT $2"
        );
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<Row> = with_pool!(self, p => {
            sqlx::query_as(sql)
                .bind(owner.as_uuid())
                .bind(limit)
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(from_row).collect()
    }

    /// When the code last entered circulation and, if it is sold now, when
    /// it was sold (Unix milliseconds), from its history: the public card's
    /// life line. A retail return makes the sale date `None` again, and an
    /// introduction date stays.
    #[tracing::instrument(skip(self), fields(gtin = %gtin, serial = %serial))]
    pub async fn life_dates(
        &self,
        gtin: &Gtin,
        serial: &Serial,
    ) -> anyhow::Result<(Option<i64>, Option<i64>)> {
        const SQL: &str = "SELECT operation, status, reason, at FROM code_events \
            WHERE gtin = $1 AND serial = $2 AND operation IN ('introduce', 'withdraw', 'return') \
            ORDER BY id";
        let rows: Vec<(String, i16, Option<i16>, i64)> = with_pool!(self, p => {
            sqlx::query_as(SQL)
                .bind(gtin_number(gtin)?)
                .bind(serial.as_str())
                .fetch_all(p)
                .await?
        });
        let (mut introduced, mut sold) = (None, None);
        for (operation, status, reason, at) in rows {
            match operation.as_str() {
                "introduce" => introduced = Some(at),
                "withdraw" => {
                    sold = match status_from_columns(status, reason)? {
                        tanba_core::lifecycle::Status::Retired(r) if r.is_sale() => Some(at),
                        _ => None,
                    }
                }
                _ => sold = None,
            }
        }
        Ok((introduced, sold))
    }

    /// A code's history, oldest first: its own events (`code_events`) and
    /// the steps of the documents that list it alone (`document_steps`),
    /// each placed after the last event written before it. A document's
    /// step keeps the code's state, so it carries the state of the entry
    /// before it (with none, the state the code was emitted in: emission
    /// writes no event).
    #[tracing::instrument(skip(self), fields(gtin = %gtin, serial = %serial))]
    pub async fn code_events(
        &self,
        gtin: &Gtin,
        serial: &Serial,
    ) -> anyhow::Result<Vec<CodeEvent>> {
        const SQL: &str = "SELECT id AS seq, 0 AS step, at, operation, status, reason, blocked, \
              actor, source_kind, source_id \
            FROM code_events WHERE gtin = $1 AND serial = $2 \
            UNION ALL \
            SELECT s.after_event, s.n + 1, s.at, s.operation, NULL, NULL, NULL, \
              s.actor, 'document', s.document \
            FROM document_items i JOIN document_steps s ON s.document = i.document \
            WHERE i.gtin = $1 AND i.serial = $2 \
            ORDER BY 1, 2, 3";
        type EventRow = (
            i64,
            i64,
            i64,
            String,
            Option<i16>,
            Option<i16>,
            Option<bool>,
            Option<String>,
            String,
            Option<String>,
        );
        let rows: Vec<EventRow> = with_pool!(self, p => {
            sqlx::query_as(SQL)
                .bind(gtin_number(gtin)?)
                .bind(serial.as_str())
                .fetch_all(p)
                .await?
        });
        let mut events: Vec<CodeEvent> = Vec::with_capacity(rows.len());
        for (_, _, at, operation, status, reason, blocked, actor, source_kind, source_id) in rows {
            let state = match (status, blocked) {
                (Some(status), Some(blocked)) => state_from_columns(status, reason, blocked)?,
                _ => events.last().map_or(CodeState::EMITTED, |e| e.state),
            };
            events.push(CodeEvent {
                at,
                operation,
                state,
                actor,
                source_kind,
                source_id,
            });
        }
        Ok(events)
    }
}

impl Tx {
    /// Reads the code's state (locking its row on PostgreSQL; SQLite's write
    /// transaction holds the database), applies each operation in turn
    /// through [`transition`], and writes the result together with one
    /// `code_events` row per step (the state after it, the operation, the
    /// time, `actor` and `source`). The first refused step refuses the
    /// whole: nothing is written and its [`TransitionError`] is returned.
    /// `Err(CodeNotFound)` (inside `anyhow`) when there is no such code.
    ///
    /// Used by the demo seeding, which needs codes in every status before
    /// the document flow exists, by an inspector's decision on a report
    /// (block), and by the documents later. The caller commits, then
    /// invalidates the cached card ([`crate::cache::CardCache::invalidate`]).
    #[tracing::instrument(skip(self), fields(gtin = %gtin, serial = %serial))]
    pub async fn apply_operations(
        &mut self,
        gtin: &Gtin,
        serial: &Serial,
        operations: &[Operation],
        source: &EventSource,
        actor: Option<&str>,
    ) -> anyhow::Result<Result<CodeState, TransitionError>> {
        const SELECT: &str =
            "SELECT status, reason, blocked FROM codes WHERE gtin = $1 AND serial = $2";
        const SELECT_FOR_UPDATE: &str =
            "SELECT status, reason, blocked FROM codes WHERE gtin = $1 AND serial = $2 FOR UPDATE";
        const UPDATE: &str = "UPDATE codes SET status = $3, reason = $4, blocked = $5 WHERE gtin = $1 AND serial = $2";
        const EVENT: &str = "INSERT INTO code_events \
            (gtin, serial, at, operation, status, reason, blocked, actor, source_kind, source_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let number = gtin_number(gtin)?;
        let select = match self {
            Tx::Postgres(_) => SELECT_FOR_UPDATE,
            Tx::Sqlite(_) => SELECT,
        };
        let row: Option<(i16, Option<i16>, bool)> = with_tx!(self, c => {
            sqlx::query_as(select)
                .bind(number)
                .bind(serial.as_str())
                .fetch_optional(&mut *c)
                .await?
        });
        let Some((status, reason, blocked)) = row else {
            return Err(CodeNotFound(format!("01{gtin}21{serial}")).into());
        };
        let mut state = state_from_columns(status, reason, blocked)?;
        let mut steps = Vec::with_capacity(operations.len());
        for &operation in operations {
            state = match transition(state, operation) {
                Ok(next) => next,
                Err(refused) => return Ok(Err(refused)),
            };
            steps.push((operation, state));
        }
        let at = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let at = i64::try_from(at)?;
        for (operation, after) in steps {
            let (status, reason) = status_columns(after.status);
            with_tx!(self, c => {
                sqlx::query(EVENT)
                    .bind(number)
                    .bind(serial.as_str())
                    .bind(at)
                    .bind(operation_name(operation))
                    .bind(status)
                    .bind(reason)
                    .bind(after.blocked)
                    .bind(actor)
                    .bind(source.kind.as_str())
                    .bind(source.id.as_deref())
                    .execute(&mut *c)
                    .await
                    .map(|_| ())?
            });
        }
        let (status, reason) = status_columns(state.status);
        with_tx!(self, c => {
            sqlx::query(UPDATE)
                .bind(number)
                .bind(serial.as_str())
                .bind(status)
                .bind(reason)
                .bind(state.blocked)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(Ok(state))
    }
}
