//! Set-based reads and writes of many codes at once, for documents that
//! list up to a million of them: one statement per chunk of codes instead
//! of several per code.
//!
//! Each engine gets the chunk as one parameter: PostgreSQL as arrays through
//! `unnest`, SQLite as a JSON array through `json_each` (it has no arrays).
//! The lifecycle is not run here: the caller reads the rows
//! ([`Tx::lock_codes`]), runs every step through
//! `tanba_core::lifecycle::transition`, and writes the outcome
//! ([`Tx::write_moves`]) in the same transaction.

use serde_json::json;
use tanba_core::lifecycle::{CodeState, Operation};
use time::OffsetDateTime;

use super::codes::{state_from_columns, status_columns};
use super::scan::{EventSource, operation_name};
use super::{Tx, documents::DocumentItem};
use crate::ids::{DocumentId, ParticipantId};

/// A code's row as a document's check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRow {
    pub owner: ParticipantId,
    pub state: CodeState,
    /// The SSCC of the package it sits in.
    pub package: Option<String>,
    /// Another shipment that holds it while waiting for its buyer.
    pub pending: Option<DocumentId>,
}

/// One code's steps, to be written: the state after each operation. The
/// row is updated to the last state when `changed` (a shipment's `ship`
/// changes nothing but the history).
#[derive(Debug, Clone)]
pub struct Move {
    pub gtin: i64,
    pub serial: String,
    pub steps: Vec<(Operation, CodeState)>,
    pub changed: bool,
}

type RowTuple = (
    i64,
    uuid::Uuid,
    i16,
    Option<i16>,
    bool,
    Option<String>,
    Option<String>,
);

/// An event to insert: GTIN, serial, operation, status, reason, blocked.
type EventRow<'a> = (i64, &'a str, &'a str, i16, Option<i16>, bool);

/// Rows for a PostgreSQL `COPY … WITH (FORMAT csv)`: no header, `None`
/// as an empty field (which CSV COPY reads as NULL). Every text written
/// this way is non-empty, so an empty field is never a lost empty string.
fn copy_rows(capacity: usize) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(capacity))
}

/// Runs `statement` (a `COPY … FROM STDIN`) with `rows` as its data.
async fn copy_in(
    t: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    statement: &str,
    rows: csv::Writer<Vec<u8>>,
) -> anyhow::Result<()> {
    let data = rows.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut copy = t.copy_in_raw(statement).await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

fn now_ms() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000,
    )?)
}

/// Set-based statements over a chunk of keys must probe the primary key
/// per key. PostgreSQL estimates an `unnest` of a parameter at a handful of
/// rows and, on a large table, chose to hash all of `codes` instead (8.6 s
/// a chunk with 10 million codes, against 0.15 s probing) and to JIT-compile
/// it. Its `Memoize` in front of each probe never hits (every key is new)
/// and cost 15–20 % of a chunk's read. Given `owner = $1`, which it
/// estimates at a few rows, it scanned all of `codes` once and joined each
/// row to the 10,000 keys (over 9 minutes a chunk). For the rest of this
/// transaction: no hash or merge joins, no memoize, no sequential scans
/// where an index serves, no JIT.
async fn probe_by_key(t: &mut sqlx::Transaction<'static, sqlx::Postgres>) -> anyhow::Result<()> {
    sqlx::query(
        "SELECT set_config('enable_hashjoin', 'off', true), \
         set_config('enable_mergejoin', 'off', true), set_config('enable_memoize', 'off', true), \
         set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)",
    )
    .execute(&mut **t)
    .await?;
    Ok(())
}

impl Tx {
    /// The rows of `keys` (GTIN as a number, serial), in one statement,
    /// locked until the transaction ends (on PostgreSQL; SQLite's write
    /// transaction holds the database). The answer is aligned with `keys`:
    /// `None` where a code is not stored. Pass the keys in key order, so two
    /// transactions over the same codes wait for each other rather than
    /// deadlock. `except`: the document being checked, whose own listing
    /// is not a hold.
    pub async fn lock_codes(
        &mut self,
        keys: &[(i64, String)],
        except: DocumentId,
    ) -> anyhow::Result<Vec<Option<CodeRow>>> {
        const PENDING: &str = "(SELECT d.id FROM document_items di JOIN documents d ON d.id = di.document \
            WHERE di.gtin = c.gtin AND di.serial = c.serial AND d.status = 'WAIT_ACCEPTANCE' \
            AND d.id <> $2 LIMIT 1)";
        let rows: Vec<RowTuple> = match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                let sql = format!(
                    "SELECT u.i - 1, c.owner, c.status, c.reason, c.blocked, pc.package, {PENDING} \
                     FROM unnest($1::int8[], $3::text[]) WITH ORDINALITY AS u(gtin, serial, i) \
                     JOIN codes c ON c.gtin = u.gtin AND c.serial = u.serial \
                     LEFT JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
                     ORDER BY u.i FOR UPDATE OF c"
                );
                let gtins: Vec<i64> = keys.iter().map(|(g, _)| *g).collect();
                let serials: Vec<&str> = keys.iter().map(|(_, s)| s.as_str()).collect();
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(gtins)
                    .bind(except.to_string())
                    .bind(serials)
                    .fetch_all(&mut **t)
                    .await?
            }
            Tx::Sqlite(t) => {
                let sql = format!(
                    "SELECT j.key, c.owner, c.status, c.reason, c.blocked, pc.package, {PENDING} \
                     FROM json_each($1) j \
                     JOIN codes c ON c.gtin = json_extract(j.value, '$[0]') \
                        AND c.serial = json_extract(j.value, '$[1]') \
                     LEFT JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial"
                );
                let list: Vec<serde_json::Value> =
                    keys.iter().map(|(g, s)| json!([g, s])).collect();
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(serde_json::Value::Array(list).to_string())
                    .bind(except.to_string())
                    .fetch_all(&mut **t)
                    .await?
            }
        };
        let mut out: Vec<Option<CodeRow>> = vec![None; keys.len()];
        for (i, owner, status, reason, blocked, package, pending) in rows {
            let slot = out
                .get_mut(usize::try_from(i)?)
                .ok_or_else(|| anyhow::anyhow!("row {i} of {} keys", keys.len()))?;
            *slot = Some(CodeRow {
                owner: owner.to_string().parse()?,
                state: state_from_columns(status, reason, blocked)?,
                package,
                pending: pending.map(|p| p.parse()).transpose()?,
            });
        }
        Ok(out)
    }

    /// Writes `moves` in two statements: each changed row gets its last
    /// state (and `new_owner`, when given, for every move), and every step
    /// becomes an event in the code's history, caused by `source`.
    pub async fn write_moves(
        &mut self,
        moves: &[Move],
        new_owner: Option<ParticipantId>,
        source: &EventSource,
        actor: Option<&str>,
    ) -> anyhow::Result<()> {
        if moves.is_empty() {
            return Ok(());
        }
        let at = now_ms()?;
        let owner = new_owner.map(|o| o.as_uuid());
        // Rows: (gtin, serial, status, reason, blocked) of those to update.
        let rows: Vec<(i64, &str, i16, Option<i16>, bool)> = moves
            .iter()
            .filter(|m| m.changed || new_owner.is_some())
            .filter_map(|m| {
                let (_, last) = m.steps.last()?;
                let (status, reason) = status_columns(last.status);
                Some((m.gtin, m.serial.as_str(), status, reason, last.blocked))
            })
            .collect();
        // Events: (gtin, serial, operation, status, reason, blocked).
        let events: Vec<EventRow> = moves
            .iter()
            .flat_map(|m| {
                m.steps.iter().map(|(op, after)| {
                    let (status, reason) = status_columns(after.status);
                    (
                        m.gtin,
                        m.serial.as_str(),
                        operation_name(*op),
                        status,
                        reason,
                        after.blocked,
                    )
                })
            })
            .collect();
        match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                if !rows.is_empty() {
                    const UPDATE: &str = "UPDATE codes c SET status = u.status, reason = u.reason, \
                        blocked = u.blocked, owner = COALESCE($6::uuid, c.owner) \
                        FROM unnest($1::int8[], $2::text[], $3::int2[], $4::int2[], $5::bool[]) \
                          AS u(gtin, serial, status, reason, blocked) \
                        WHERE c.gtin = u.gtin AND c.serial = u.serial";
                    sqlx::query(UPDATE)
                        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
                        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
                        .bind(rows.iter().map(|r| r.2).collect::<Vec<_>>())
                        .bind(rows.iter().map(|r| r.3).collect::<Vec<_>>())
                        .bind(rows.iter().map(|r| r.4).collect::<Vec<_>>())
                        .bind(owner)
                        .execute(&mut **t)
                        .await?;
                }
            }
            Tx::Sqlite(t) => {
                if !rows.is_empty() {
                    const UPDATE: &str = "UPDATE codes SET status = json_extract(j.value, '$[2]'), \
                        reason = json_extract(j.value, '$[3]'), blocked = json_extract(j.value, '$[4]'), \
                        owner = COALESCE($2, owner) \
                        FROM json_each($1) j \
                        WHERE codes.gtin = json_extract(j.value, '$[0]') \
                          AND codes.serial = json_extract(j.value, '$[1]')";
                    let list: Vec<serde_json::Value> = rows
                        .iter()
                        .map(|(g, s, st, r, b)| json!([g, s, st, r, b]))
                        .collect();
                    sqlx::query(UPDATE)
                        .bind(serde_json::Value::Array(list).to_string())
                        .bind(owner)
                        .execute(&mut **t)
                        .await?;
                }
            }
        }
        self.insert_events(&events, at, actor, source).await
    }

    /// Appends `events` to the codes' histories, all at `at`, caused by
    /// `source`, in one statement.
    async fn insert_events(
        &mut self,
        events: &[EventRow<'_>],
        at: i64,
        actor: Option<&str>,
        source: &EventSource,
    ) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        match self {
            Tx::Postgres(t) => {
                // COPY rather than an INSERT of arrays: no arrays to build
                // and unpack, one row a line.
                let mut rows = copy_rows(events.len() * 96);
                for (gtin, serial, operation, status, reason, blocked) in events {
                    rows.serialize((
                        gtin,
                        serial,
                        at,
                        operation,
                        status,
                        reason,
                        blocked,
                        actor,
                        source.kind.as_str(),
                        source.id.as_deref(),
                    ))?;
                }
                copy_in(
                    t,
                    "COPY code_events (gtin, serial, at, operation, status, reason, blocked, \
                     actor, source_kind, source_id) FROM STDIN WITH (FORMAT csv)",
                    rows,
                )
                .await?;
            }
            Tx::Sqlite(t) => {
                const EVENTS: &str = "INSERT INTO code_events \
                    (gtin, serial, at, operation, status, reason, blocked, actor, source_kind, source_id) \
                    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), $2, \
                      json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), \
                      json_extract(value, '$[5]'), $3, $4, $5 \
                    FROM json_each($1) ORDER BY key";
                let list: Vec<serde_json::Value> = events
                    .iter()
                    .map(|(g, s, op, st, r, b)| json!([g, s, op, st, r, b]))
                    .collect();
                sqlx::query(EVENTS)
                    .bind(serde_json::Value::Array(list).to_string())
                    .bind(at)
                    .bind(actor)
                    .bind(source.kind.as_str())
                    .bind(source.id.as_deref())
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }

    /// Moves the codes of `keys` from `owner` to `new_owner` by `operation`,
    /// which leaves their state as it is when it is one of `kept` (see
    /// `lifecycle::kept_by`), and appends an event to each code's history.
    /// One guarded write, with no read before it: a code that is not
    /// stored, not `owner`'s or in another state is left alone. Returns how
    /// many codes moved; when that is fewer than `keys`, the caller rolls
    /// the transaction back and looks at each code to say why.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_kept(
        &mut self,
        keys: &[(i64, String)],
        owner: ParticipantId,
        new_owner: ParticipantId,
        kept: &[CodeState],
        operation: Operation,
        source: &EventSource,
        actor: Option<&str>,
    ) -> anyhow::Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        let at = now_ms()?;
        let op = operation_name(operation);
        // Each kept state as one number (see `STATE`), so the guard is a
        // filter on the probed row, not a join: as a semi-join with the
        // states' `unnest`, PostgreSQL estimated one matching row and, with
        // 100,000 codes stored, scanned all of them with the 10,000 keys
        // inside the loop (over 3 minutes a chunk; 0.3 s as a filter).
        let kept: Vec<i32> = kept
            .iter()
            .map(|k| {
                let (status, reason) = status_columns(k.status);
                (i32::from(status) * 1000 + reason.map_or(0, |r| i32::from(r) + 1)) * 2
                    + i32::from(k.blocked)
            })
            .collect();
        // The same number from a row's columns.
        const STATE: &str =
            "((c.status * 1000 + COALESCE(c.reason + 1, 0)) * 2 + CAST(c.blocked AS INTEGER))";
        match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                // The update and the events in one statement: the rows it
                // moved are the events' rows.
                let sql = format!(
                    "WITH moved AS ( \
                      UPDATE codes c SET owner = $4 \
                      FROM unnest($1::int8[], $2::text[]) AS u(gtin, serial) \
                      WHERE c.gtin = u.gtin AND c.serial = u.serial AND c.owner = $5 \
                        AND {STATE} = ANY($3::int4[]) \
                      RETURNING c.gtin, c.serial, c.status, c.reason, c.blocked) \
                    INSERT INTO code_events \
                    (gtin, serial, at, operation, status, reason, blocked, actor, source_kind, source_id) \
                    SELECT gtin, serial, $6, $7, status, reason, blocked, $8, $9, $10 FROM moved"
                );
                let moved = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
                    .bind(keys.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
                    .bind(&kept)
                    .bind(new_owner.as_uuid())
                    .bind(owner.as_uuid())
                    .bind(at)
                    .bind(op)
                    .bind(actor)
                    .bind(source.kind.as_str())
                    .bind(source.id.as_deref())
                    .execute(&mut **t)
                    .await?;
                Ok(usize::try_from(moved.rows_affected())?)
            }
            Tx::Sqlite(t) => {
                // SQLite has no writes in a `WITH`: the moved rows come back
                // and go into the history in a second statement.
                let sql = format!(
                    "UPDATE codes AS c SET owner = $1 FROM json_each($2) j \
                    WHERE c.gtin = json_extract(j.value, '$[0]') \
                      AND c.serial = json_extract(j.value, '$[1]') AND c.owner = $3 \
                      AND {STATE} IN (SELECT value FROM json_each($4)) \
                    RETURNING gtin, serial, status, reason, blocked"
                );
                let list: Vec<serde_json::Value> =
                    keys.iter().map(|(g, s)| json!([g, s])).collect();
                let moved: Vec<(i64, String, i16, Option<i16>, bool)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(new_owner.as_uuid())
                        .bind(serde_json::Value::Array(list).to_string())
                        .bind(owner.as_uuid())
                        .bind(serde_json::Value::from(kept).to_string())
                        .fetch_all(&mut **t)
                        .await?;
                let events: Vec<EventRow> = moved
                    .iter()
                    .map(|(g, s, status, reason, blocked)| {
                        (*g, s.as_str(), op, *status, *reason, *blocked)
                    })
                    .collect();
                self.insert_events(&events, at, actor, source).await?;
                Ok(moved.len())
            }
        }
    }

    /// Stores a document's codes, each at its position, in one statement.
    pub(super) async fn insert_items(
        &mut self,
        document: &str,
        items: &[(usize, &DocumentItem, Option<String>)],
    ) -> anyhow::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut n = Vec::with_capacity(items.len());
        let mut gtin = Vec::with_capacity(items.len());
        let mut serial = Vec::with_capacity(items.len());
        for (at, item, _) in items {
            n.push(i64::try_from(*at)?);
            match &item.key {
                Some((g, s)) => {
                    gtin.push(Some(super::codes::gtin_number(g)?));
                    serial.push(Some(s.as_str()));
                }
                None => {
                    gtin.push(None);
                    serial.push(None);
                }
            }
        }
        match self {
            Tx::Postgres(t) => {
                let mut rows = copy_rows(items.len() * 128);
                for (i, (_, item, sscc)) in items.iter().enumerate() {
                    rows.serialize((
                        document,
                        n[i],
                        item.code.as_str(),
                        gtin[i],
                        serial[i],
                        item.price,
                        sscc.as_deref(),
                    ))?;
                }
                copy_in(
                    t,
                    "COPY document_items (document, n, code, gtin, serial, price, sscc) \
                     FROM STDIN WITH (FORMAT csv)",
                    rows,
                )
                .await?;
            }
            Tx::Sqlite(t) => {
                const SQL: &str = "INSERT INTO document_items (document, n, code, gtin, serial, price, sscc) \
                    SELECT $1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                      json_extract(value, '$[2]'), json_extract(value, '$[3]'), \
                      json_extract(value, '$[4]'), json_extract(value, '$[5]') \
                    FROM json_each($2)";
                let list: Vec<serde_json::Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, (_, item, sscc))| {
                        json!([n[i], item.code, gtin[i], serial[i], item.price, sscc])
                    })
                    .collect();
                sqlx::query(SQL)
                    .bind(document)
                    .bind(serde_json::Value::Array(list).to_string())
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }
}
