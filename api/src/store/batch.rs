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
use tanba_core::{MarkingCode, Sscc};
use time::OffsetDateTime;

use super::Tx;
use super::codes::{gtin_number, state_from_columns, status_columns};
use super::documents::{DocumentItem, code_of};
use super::scan::{EventSource, operation_name};
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
    /// Its steps go into its own history; `false` when the document
    /// records them once for all the codes it lists alone
    /// ([`Tx::record_steps`]).
    pub events: bool,
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

/// SSCCs as their 18 digits, as `packages.sscc` and `package_codes.package`
/// store them.
fn ssccs(packages: &[Sscc]) -> Vec<&str> {
    packages.iter().map(Sscc::as_str).collect()
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

/// Each of `states` as one number, which [`STATE`] computes from a row's
/// columns: a guard on a state is then a filter on the probed row, not a
/// join. As a semi-join with the states' `unnest`, PostgreSQL estimated one
/// matching row and, with 100,000 codes stored, scanned all of them with the
/// 10,000 keys inside the loop (over 3 minutes a chunk; 0.3 s as a filter).
fn state_numbers(states: &[CodeState]) -> Vec<i32> {
    states
        .iter()
        .map(|k| {
            let (status, reason) = status_columns(k.status);
            (i32::from(status) * 1000 + reason.map_or(0, |r| i32::from(r) + 1)) * 2
                + i32::from(k.blocked)
        })
        .collect()
}

/// Positions of a document moved by one statement on SQLite
/// ([`Tx::move_listed`]).
const LISTED_CHUNK: usize = 10_000;

/// The number [`state_numbers`] gives a state, from the columns of `codes c`.
const STATE: &str =
    "((c.status * 1000 + COALESCE(c.reason + 1, 0)) * 2 + CAST(c.blocked AS INTEGER))";

/// The partitions of `codes` on PostgreSQL: each one's `oid` and its name
/// as the catalog prints it, checked to be a plain identifier, since it is
/// written into statements.
async fn partitions(
    t: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> anyhow::Result<Vec<(i64, String)>> {
    let parts: Vec<(i64, String)> = sqlx::query_as(
        "SELECT CAST(inhrelid AS int8) AS part, \
           CAST(CAST(inhrelid AS regclass) AS text) AS name \
         FROM pg_inherits WHERE inhparent = CAST('codes' AS regclass) \
         ORDER BY part",
    )
    .fetch_all(&mut **t)
    .await?;
    for (_, name) in &parts {
        anyhow::ensure!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
            "unexpected partition name {name:?}"
        );
    }
    Ok(parts)
}

/// `CREATE TEMP TABLE listed_rows` of the places (partition and `ctid`) of
/// the codes `document` lists by key that pass `filter` (over `codes c`
/// and `document_items i`), for a statement per partition that reaches
/// the rows in the order they lie (see [`Tx::move_listed`]). `CREATE TABLE
/// AS` may run in parallel workers, which `INSERT … SELECT` may not, and
/// takes no parameters: the document's id is written in, a UUID, which
/// prints as hex and hyphens; so must be everything in `filter`.
async fn listed_places(
    t: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    document: DocumentId,
    filter: &str,
) -> anyhow::Result<()> {
    let sql = format!(
        "CREATE TEMP TABLE listed_rows ON COMMIT DROP AS \
         SELECT c.tableoid AS part, c.ctid AS place FROM document_items i \
         JOIN codes c ON c.gtin = i.gtin AND c.serial = i.serial \
         WHERE i.document = '{}' AND i.gtin IS NOT NULL{filter}",
        document.as_uuid().hyphenated()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut **t)
        .await?;
    Ok(())
}

/// A list of UUIDs as SQL literals, for a statement that takes no
/// parameters.
fn uuid_literals(ids: impl IntoIterator<Item = uuid::Uuid>) -> String {
    ids.into_iter()
        .map(|id| format!("'{}'", id.hyphenated()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tx {
    /// The shipments of `sender` other than `doc` that wait for their
    /// buyers: the only documents whose codes `doc` may not move while they
    /// wait (see [`Tx::lock_codes`]).
    async fn holders(
        &mut self,
        sender: ParticipantId,
        doc: DocumentId,
    ) -> anyhow::Result<Vec<DocumentId>> {
        const HOLDERS: &str = "SELECT id FROM documents \
            WHERE status = 'WAIT_ACCEPTANCE' AND sender = $1 AND id <> $2";
        let holders: Vec<String> = with_tx!(self, c => {
            sqlx::query_scalar(HOLDERS)
                .bind(sender.to_string())
                .bind(doc.to_string())
                .fetch_all(&mut *c)
                .await?
        });
        holders
            .iter()
            .map(|h| {
                h.parse()
                    .map_err(|e| anyhow::anyhow!("document id {h:?}: {e}"))
            })
            .collect()
    }

    /// The rows of `keys` (GTIN as a number, serial), in one statement,
    /// locked until the transaction ends (on PostgreSQL; SQLite's write
    /// transaction holds the database). The answer is aligned with `keys`:
    /// `None` where a code is not stored. Pass the keys in key order, so two
    /// transactions over the same codes wait for each other rather than
    /// deadlock. `doc`: the document being checked, whose own listing is
    /// not a hold.
    ///
    /// A code a shipment holds is its sender's until the buyer accepts, so
    /// only `doc`'s sender's shipments waiting for a buyer can hold a code
    /// `doc` may move (a code of someone else is refused as not owned
    /// first). They are found first, usually none, and each code is looked
    /// up among their items only when there are some: looking it up among
    /// every document's items cost two index probes a code.
    pub async fn lock_codes(
        &mut self,
        keys: &[(i64, String)],
        doc: DocumentId,
        sender: ParticipantId,
    ) -> anyhow::Result<Vec<Option<CodeRow>>> {
        let holders: Vec<String> = self
            .holders(sender, doc)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        use super::codes::OWNER;
        let rows: Vec<RowTuple> = match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                let pending = match holders.is_empty() {
                    true => "CAST(NULL AS TEXT)",
                    false => {
                        "(SELECT di.document FROM document_items di WHERE di.gtin = c.gtin \
                         AND di.serial = c.serial AND di.document = ANY($3::text[]) LIMIT 1)"
                    }
                };
                let sql = format!(
                    "SELECT u.i - 1, {OWNER}, c.status, c.reason, c.blocked, pc.package, {pending} \
                     FROM unnest($1::int8[], $2::text[]) WITH ORDINALITY AS u(gtin, serial, i) \
                     JOIN codes c ON c.gtin = u.gtin AND c.serial = u.serial \
                     LEFT JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
                     LEFT JOIN packages p ON p.sscc = pc.package \
                     ORDER BY u.i FOR UPDATE OF c"
                );
                let gtins: Vec<i64> = keys.iter().map(|(g, _)| *g).collect();
                let serials: Vec<&str> = keys.iter().map(|(_, s)| s.as_str()).collect();
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(gtins)
                    .bind(serials);
                if !holders.is_empty() {
                    query = query.bind(&holders);
                }
                query.fetch_all(&mut **t).await?
            }
            Tx::Sqlite(t) => {
                let pending = match holders.is_empty() {
                    true => "CAST(NULL AS TEXT)",
                    false => {
                        "(SELECT di.document FROM document_items di WHERE di.gtin = c.gtin \
                         AND di.serial = c.serial \
                         AND di.document IN (SELECT value FROM json_each($2)) LIMIT 1)"
                    }
                };
                let sql = format!(
                    "SELECT j.key, {OWNER}, c.status, c.reason, c.blocked, pc.package, {pending} \
                     FROM json_each($1) j \
                     JOIN codes c ON c.gtin = json_extract(j.value, '$[0]') \
                        AND c.serial = json_extract(j.value, '$[1]') \
                     LEFT JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
                     LEFT JOIN packages p ON p.sscc = pc.package"
                );
                let list: Vec<serde_json::Value> =
                    keys.iter().map(|(g, s)| json!([g, s])).collect();
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(serde_json::Value::Array(list).to_string());
                if !holders.is_empty() {
                    query = query.bind(json!(holders).to_string());
                }
                query.fetch_all(&mut **t).await?
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
            .filter(|m| m.events)
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
    /// `lifecycle::kept_by`), and, with `events`, appends an event to each
    /// code's history (without, the document records the step once:
    /// [`Tx::record_steps`]).
    /// One guarded write, with no read before it: a code that is not
    /// stored, not `owner`'s or in another state is left alone. Returns how
    /// many codes moved; when that is fewer than `keys`, the caller rolls
    /// the transaction back and looks at each code to say why.
    pub async fn move_kept(
        &mut self,
        keys: &[(i64, String)],
        owner: ParticipantId,
        new_owner: ParticipantId,
        kept: &[CodeState],
        operation: Operation,
        events: Option<(&EventSource, Option<&str>)>,
    ) -> anyhow::Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        let at = now_ms()?;
        let op = operation_name(operation);
        let kept = state_numbers(kept);
        match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                let update = format!(
                    "UPDATE codes c SET owner = $4 \
                    FROM unnest($1::int8[], $2::text[]) AS u(gtin, serial) \
                    WHERE c.gtin = u.gtin AND c.serial = u.serial AND c.owner = $5 \
                      AND {STATE} = ANY($3::int4[])"
                );
                // With events, the update and the events in one statement:
                // the rows it moved are the events' rows.
                let sql = match events {
                    None => update,
                    Some(_) => format!(
                        "WITH moved AS ({update} \
                          RETURNING c.gtin, c.serial, c.status, c.reason, c.blocked) \
                        INSERT INTO code_events \
                        (gtin, serial, at, operation, status, reason, blocked, actor, source_kind, source_id) \
                        SELECT gtin, serial, $6, $7, status, reason, blocked, $8, $9, $10 FROM moved"
                    ),
                };
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
                    .bind(keys.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
                    .bind(&kept)
                    .bind(new_owner.as_uuid())
                    .bind(owner.as_uuid());
                if let Some((source, actor)) = events {
                    query = query
                        .bind(at)
                        .bind(op)
                        .bind(actor)
                        .bind(source.kind.as_str())
                        .bind(source.id.as_deref());
                }
                let moved = query.execute(&mut **t).await?;
                Ok(usize::try_from(moved.rows_affected())?)
            }
            Tx::Sqlite(t) => {
                // SQLite has no writes in a `WITH`: with events, the moved
                // rows come back and go into the history in a second
                // statement.
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
                if let Some((source, actor)) = events {
                    let events: Vec<EventRow> = moved
                        .iter()
                        .map(|(g, s, status, reason, blocked)| {
                            (*g, s.as_str(), op, *status, *reason, *blocked)
                        })
                        .collect();
                    self.insert_events(&events, at, actor, source).await?;
                }
                Ok(moved.len())
            }
        }
    }

    /// Moves the unit codes `document` lists (at positions `0..span`), by
    /// the keys stored with its items, from `owner` to `new_owner`, as
    /// [`Tx::move_kept`] does without events: a guarded write in which the
    /// keys never leave the database. Items with no key (an SSCC) are not
    /// moved here. Returns how many codes moved; fewer than the unit codes
    /// listed means one was not as expected, and the caller rolls back.
    pub async fn move_listed(
        &mut self,
        document: DocumentId,
        span: i64,
        owner: ParticipantId,
        new_owner: ParticipantId,
        kept: &[CodeState],
    ) -> anyhow::Result<usize> {
        let kept = state_numbers(kept);
        let moved = match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                // Found by key, the rows lie in the order the codes were
                // written, not in key order; updated in key order, a
                // million rows dirty their pages at random, far more pages
                // than the buffer cache holds (1.8x the bare update of the
                // same rows, BENCHMARKS.md). So the rows are found first,
                // by a read that keeps their places (partition and `ctid`)
                // in a table of the transaction (`CREATE TABLE AS` may run
                // in parallel workers, which `INSERT … SELECT` may not),
                // and are then written partition by partition in the order
                // they lie: a TID scan sorts its list. The guard is in the
                // write: PostgreSQL follows a row changed in between to its
                // newest version and checks owner and state there; one that
                // no longer passes is not written, and the count comes up
                // short. Rows are locked in this order, not in key order as
                // `lock_codes` locks; a transaction locking the same codes
                // by key at the same time (a second shipment of codes this
                // one holds) may deadlock with it; PostgreSQL then aborts
                // one, which is run again (`store::is_transient`).
                listed_places(t, document, "").await?;
                let mut moved = 0;
                for (part, name) in partitions(t).await? {
                    let sql = format!(
                        "UPDATE {name} c SET owner = $1 \
                         WHERE c.ctid = ANY(ARRAY(SELECT l.place FROM listed_rows l \
                           WHERE l.part = CAST($2 AS oid))) \
                           AND c.owner = $3 AND {STATE} = ANY($4::int4[])"
                    );
                    moved += sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(new_owner.as_uuid())
                        .bind(part)
                        .bind(owner.as_uuid())
                        .bind(&kept)
                        .execute(&mut **t)
                        .await?
                        .rows_affected();
                }
                sqlx::query("DROP TABLE listed_rows")
                    .execute(&mut **t)
                    .await?;
                moved
            }
            Tx::Sqlite(t) => {
                // Small databases: by key, 10,000 positions a statement.
                let sql = format!(
                    "UPDATE codes AS c SET owner = $4 FROM (SELECT gtin, serial \
                     FROM document_items WHERE document = $1 AND n >= $2 AND n < $3 \
                       AND gtin IS NOT NULL) AS u \
                     WHERE c.gtin = u.gtin AND c.serial = u.serial AND c.owner = $5 \
                       AND {STATE} IN (SELECT value FROM json_each($6))"
                );
                let kept = serde_json::Value::from(kept).to_string();
                let step = i64::try_from(LISTED_CHUNK)?;
                let mut moved = 0;
                for from in (0..span).step_by(LISTED_CHUNK) {
                    moved += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(document.to_string())
                        .bind(from)
                        .bind(from + step)
                        .bind(new_owner.as_uuid())
                        .bind(owner.as_uuid())
                        .bind(&kept)
                        .execute(&mut **t)
                        .await?
                        .rows_affected();
                }
                moved
            }
        };
        Ok(usize::try_from(moved)?)
    }

    /// Reads and locks, until the transaction ends, the unit codes
    /// `document` lists (by the keys stored with its items) that pass a
    /// shipment's check: stored, `owner`'s, in one of the `kept` states,
    /// in no package, and held by none of `owner`'s other shipments
    /// waiting for a buyer. Returns how many rows it
    /// locked: as many as the unit codes listed means every one passed and
    /// none is listed twice (two items of one code lock one row); fewer,
    /// that the caller must look at each code to list the refusals.
    ///
    /// On PostgreSQL the rows are found by key first and then locked in the
    /// order they lie, as [`Tx::move_listed`] writes them: read and locked
    /// by key in chunks ([`Tx::lock_codes`]), a million rows took 22.5 s,
    /// this way 12.4 s. The lock re-reads each row and checks its owner
    /// and state again: one changed in between to another is not counted
    /// (PostgreSQL follows a row's update to its newest version). Its
    /// package and holders are not read again: no code row changes when a
    /// code is packed, and a sender's documents are checked one at a time
    /// (`Tx::hold_sender`). SQLite's write
    /// transaction holds the whole database: one count, nothing to lock.
    pub async fn lock_listed(
        &mut self,
        document: DocumentId,
        owner: ParticipantId,
        kept: &[CodeState],
    ) -> anyhow::Result<usize> {
        if kept.is_empty() {
            return Ok(0);
        }
        let holders = self.holders(owner, document).await?;
        let kept = state_numbers(kept);
        let locked = match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                let numbers = kept
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut filter = format!(
                    " AND c.owner = '{}' AND {STATE} IN ({numbers}) \
                     AND NOT EXISTS (SELECT 1 FROM package_codes pc \
                       WHERE pc.gtin = c.gtin AND pc.serial = c.serial)",
                    owner.as_uuid().hyphenated()
                );
                if !holders.is_empty() {
                    filter += &format!(
                        " AND NOT EXISTS (SELECT 1 FROM document_items h \
                           WHERE h.gtin = c.gtin AND h.serial = c.serial \
                           AND h.document IN ({}))",
                        uuid_literals(holders.iter().map(DocumentId::as_uuid))
                    );
                }
                listed_places(t, document, &filter).await?;
                let mut locked: i64 = 0;
                for (part, name) in partitions(t).await? {
                    let sql = format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM {name} c \
                         WHERE c.ctid = ANY(ARRAY(SELECT l.place FROM listed_rows l \
                           WHERE l.part = CAST($1 AS oid))) \
                           AND c.owner = $2 AND {STATE} = ANY($3::int4[]) \
                         FOR UPDATE) AS locked"
                    );
                    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(part)
                        .bind(owner.as_uuid())
                        .bind(&kept)
                        .fetch_one(&mut **t)
                        .await?;
                    locked += count;
                }
                sqlx::query("DROP TABLE listed_rows")
                    .execute(&mut **t)
                    .await?;
                locked
            }
            Tx::Sqlite(t) => {
                let sql = format!(
                    "SELECT COUNT(*) FROM (SELECT DISTINCT c.gtin, c.serial \
                     FROM document_items i JOIN codes c \
                       ON c.gtin = i.gtin AND c.serial = i.serial \
                     WHERE i.document = $1 AND i.gtin IS NOT NULL AND c.owner = $2 \
                       AND {STATE} IN (SELECT value FROM json_each($3)) \
                       AND NOT EXISTS (SELECT 1 FROM package_codes pc \
                         WHERE pc.gtin = c.gtin AND pc.serial = c.serial) \
                       AND NOT EXISTS (SELECT 1 FROM document_items h \
                         WHERE h.gtin = c.gtin AND h.serial = c.serial \
                         AND h.document IN (SELECT value FROM json_each($4))))"
                );
                let holders: Vec<String> = holders.iter().map(ToString::to_string).collect();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(document.to_string())
                    .bind(owner.as_uuid())
                    .bind(serde_json::Value::from(kept).to_string())
                    .bind(json!(holders).to_string())
                    .fetch_one(&mut **t)
                    .await?
            }
        };
        Ok(usize::try_from(locked)?)
    }

    /// The state of a code in `packages` that is not blocked; `None` when
    /// they hold none. Every code in a package that is not blocked shares
    /// one state: an aggregation packs codes of one status that are not
    /// blocked, and from then on a packed code changes only with its whole
    /// package (a code listed alone must be in no package), every code by
    /// the same step; an inspector's block is the only exception
    /// ([`Tx::packed_blocked`]).
    pub async fn packed_state(&mut self, packages: &[Sscc]) -> anyhow::Result<Option<CodeState>> {
        let row: Option<(i16, Option<i16>)> = match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                // The members first, fenced off, then their rows: left to
                // itself the planner may scan `codes` (or launch parallel
                // workers) for one row, 5 ms a package where this takes
                // 0.3 ms (BENCHMARKS.md).
                const SQL: &str = "WITH members AS MATERIALIZED \
                    (SELECT gtin, serial FROM package_codes WHERE package = ANY($1)) \
                    SELECT c.status, c.reason FROM members m \
                    JOIN codes c ON c.gtin = m.gtin AND c.serial = m.serial \
                    WHERE NOT c.blocked LIMIT 1";
                sqlx::query_as(SQL)
                    .bind(ssccs(packages))
                    .fetch_optional(&mut **t)
                    .await?
            }
            Tx::Sqlite(t) => {
                const SQL: &str = "SELECT c.status, c.reason FROM package_codes pc \
                    JOIN codes c ON c.gtin = pc.gtin AND c.serial = pc.serial \
                    WHERE pc.package IN (SELECT value FROM json_each($1)) AND NOT c.blocked LIMIT 1";
                sqlx::query_as(SQL)
                    .bind(json!(ssccs(packages)).to_string())
                    .fetch_optional(&mut **t)
                    .await?
            }
        };
        row.map(|(status, reason)| state_from_columns(status, reason, false))
            .transpose()
    }

    /// The codes in `packages` that an inspector blocked, in key order,
    /// found through the index of blocked codes rather than by reading
    /// every code inside.
    pub async fn packed_blocked(&mut self, packages: &[Sscc]) -> anyhow::Result<Vec<MarkingCode>> {
        let keys: Vec<(i64, String)> = match self {
            Tx::Postgres(t) => {
                probe_by_key(t).await?;
                const SQL: &str = "SELECT c.gtin, c.serial FROM codes c \
                    JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
                    WHERE c.blocked AND pc.package = ANY($1) ORDER BY c.gtin, c.serial";
                sqlx::query_as(SQL)
                    .bind(ssccs(packages))
                    .fetch_all(&mut **t)
                    .await?
            }
            Tx::Sqlite(t) => {
                const SQL: &str = "SELECT c.gtin, c.serial FROM codes c \
                    JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
                    WHERE c.blocked AND pc.package IN (SELECT value FROM json_each($1)) \
                    ORDER BY c.gtin, c.serial";
                sqlx::query_as(SQL)
                    .bind(json!(ssccs(packages)).to_string())
                    .fetch_all(&mut **t)
                    .await?
            }
        };
        keys.iter().map(|(g, s)| code_of(*g, s)).collect()
    }

    /// Appends `steps` to the history of every code in `packages` but those
    /// of `except`, each step in one statement over the packages' codes,
    /// with no read or write of the codes themselves: for a step that keeps
    /// every code's state (see [`Tx::packed_state`]) and moves the packages
    /// as a whole. Returns how many codes it recorded.
    pub async fn record_packed(
        &mut self,
        packages: &[Sscc],
        steps: &[(Operation, CodeState)],
        except: &[MarkingCode],
        source: &EventSource,
        actor: Option<&str>,
    ) -> anyhow::Result<usize> {
        let at = now_ms()?;
        let except: Vec<(i64, &str)> = except
            .iter()
            .map(|c| Ok((gtin_number(c.gtin())?, c.serial().as_str())))
            .collect::<anyhow::Result<_>>()?;
        let mut codes = 0;
        for (operation, after) in steps {
            let (status, reason) = status_columns(after.status);
            let written = match self {
                Tx::Postgres(t) => {
                    probe_by_key(t).await?;
                    const SQL: &str = "INSERT INTO code_events \
                        (gtin, serial, at, operation, status, reason, blocked, actor, source_kind, source_id) \
                        SELECT pc.gtin, pc.serial, $2, $3, $4, $5, $6, $7, $8, $9 FROM package_codes pc \
                        WHERE pc.package = ANY($1) AND NOT EXISTS (SELECT 1 \
                          FROM unnest($10::int8[], $11::text[]) AS x(gtin, serial) \
                          WHERE x.gtin = pc.gtin AND x.serial = pc.serial) \
                        ORDER BY pc.gtin, pc.serial";
                    sqlx::query(SQL)
                        .bind(ssccs(packages))
                        .bind(at)
                        .bind(operation_name(*operation))
                        .bind(status)
                        .bind(reason)
                        .bind(after.blocked)
                        .bind(actor)
                        .bind(source.kind.as_str())
                        .bind(source.id.as_deref())
                        .bind(except.iter().map(|k| k.0).collect::<Vec<_>>())
                        .bind(except.iter().map(|k| k.1).collect::<Vec<_>>())
                        .execute(&mut **t)
                        .await?
                        .rows_affected()
                }
                Tx::Sqlite(t) => {
                    const SQL: &str = "INSERT INTO code_events \
                        (gtin, serial, at, operation, status, reason, blocked, actor, source_kind, source_id) \
                        SELECT pc.gtin, pc.serial, $2, $3, $4, $5, $6, $7, $8, $9 FROM package_codes pc \
                        WHERE pc.package IN (SELECT value FROM json_each($1)) AND NOT EXISTS (SELECT 1 \
                          FROM json_each($10) x WHERE json_extract(x.value, '$[0]') = pc.gtin \
                            AND json_extract(x.value, '$[1]') = pc.serial) \
                        ORDER BY pc.gtin, pc.serial";
                    let except: Vec<serde_json::Value> =
                        except.iter().map(|(g, s)| json!([g, s])).collect();
                    sqlx::query(SQL)
                        .bind(json!(ssccs(packages)).to_string())
                        .bind(at)
                        .bind(operation_name(*operation))
                        .bind(status)
                        .bind(reason)
                        .bind(after.blocked)
                        .bind(actor)
                        .bind(source.kind.as_str())
                        .bind(source.id.as_deref())
                        .bind(serde_json::Value::Array(except).to_string())
                        .execute(&mut **t)
                        .await?
                        .rows_affected()
                }
            };
            codes = usize::try_from(written)?;
        }
        Ok(codes)
    }

    /// Records that `document` took `operations`, in order, for every unit
    /// code it lists alone: one row a step in `document_steps`, placed after
    /// the last event written so far, instead of an event per code. Only
    /// for steps every such code took (a document applied whole) and that
    /// keep each code's state, which a code's history carries over from
    /// the event before ([`super::Store::code_events`]).
    pub async fn record_steps(
        &mut self,
        document: DocumentId,
        operations: &[Operation],
        actor: Option<&str>,
    ) -> anyhow::Result<()> {
        // Each step is numbered after those the document took before.
        const SQL: &str = "INSERT INTO document_steps (document, n, after_event, at, operation, actor) \
            SELECT $1, (SELECT COUNT(*) FROM document_steps WHERE document = $1), \
              (SELECT COALESCE(MAX(id), 0) FROM code_events), $2, $3, $4";
        let at = now_ms()?;
        for operation in operations {
            with_tx!(self, c => {
                sqlx::query(SQL)
                    .bind(document.to_string())
                    .bind(at)
                    .bind(operation_name(*operation))
                    .bind(actor)
                    .execute(c)
                    .await?;
            });
        }
        Ok(())
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
