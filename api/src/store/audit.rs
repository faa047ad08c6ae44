//! The audit log: every state change and every sign-in, with who, role,
//! action, object, time, client address and outcome (decree, functional
//! requirement 23).
//!
//! Append-only: both engines refuse `UPDATE` and `DELETE` on the table with a
//! trigger (see the migrations). Tamper-evident: each entry carries the
//! SHA-256 of the previous entry's hash and its own fields, so an edit made
//! by someone who got past the trigger (a superuser can drop it) breaks the
//! chain from that entry on, and `tanba audit verify` names the first broken
//! entry.
//!
//! Entries are written inside the transaction of the change they record, so a
//! change is never committed without its entry, nor an entry without its
//! change. The chain needs one writer at a time: PostgreSQL takes a
//! transaction-scoped advisory lock, SQLite's `BEGIN IMMEDIATE` already
//! serializes writers. Audited actions are documents, orders and sign-ins,
//! not single codes, so this one lock is not on any per-code path.

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Pool, Store, Tx};

/// Key of the advisory lock that serializes appends on PostgreSQL.
const CHAIN_LOCK: i64 = 0x7461_6e62_6161_7564; // "tanbaaud"

/// The hash the first entry chains to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "code")]
pub enum Outcome {
    Ok,
    /// Refused, with the machine code of the reason.
    Refused(String),
}

impl Outcome {
    fn as_text(&self) -> String {
        match self {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Refused(code) => format!("refused:{code}"),
        }
    }
}

/// What is recorded about one action.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Who: a participant or staff id, a device, or `None` before sign-in.
    pub actor: Option<String>,
    /// The role the actor acted in.
    pub role: Option<String>,
    /// What was done, e.g. `auth.sign_in`, `order.create`.
    pub action: String,
    /// What it was done to, e.g. an order id.
    pub object: Option<String>,
    /// The client's IP address.
    pub ip: Option<String>,
    pub outcome: Outcome,
    /// Anything else worth keeping, as JSON.
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            actor: None,
            role: None,
            action: action.into(),
            object: None,
            ip: None,
            outcome: Outcome::Ok,
            detail: serde_json::Value::Null,
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub action: String,
    pub object: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Where the chain stops holding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit log entry {seq} does not match its hash chain: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// The hash of an entry: SHA-256 over its fields, each length-prefixed so
/// that no two different entries serialize alike, and the previous hash.
fn entry_hash(r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let fields: [&str; 10] = [
        &r.seq.to_string(),
        &r.at,
        r.actor.as_deref().unwrap_or("\u{0}"),
        r.role.as_deref().unwrap_or("\u{0}"),
        &r.action,
        r.object.as_deref().unwrap_or("\u{0}"),
        r.ip.as_deref().unwrap_or("\u{0}"),
        &r.outcome,
        &r.detail,
        &r.prev_hash,
    ];
    for f in fields {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    format!("{:x}", h.finalize())
}

const LAST: &str = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
const INSERT: &str = "INSERT INTO audit_log \
    (seq, at, actor, role, action, object, ip, outcome, detail, prev_hash, hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const ALL: &str = "SELECT seq, at, actor, role, action, object, ip, outcome, detail, prev_hash, hash \
    FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";

impl Tx {
    /// Appends an entry inside this transaction.
    pub async fn audit(&mut self, entry: AuditEntry) -> anyhow::Result<AuditRecord> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CHAIN_LOCK)
                .execute(&mut **t)
                .await?;
        }
        let last: Option<(i64, String)> = with_tx!(self, c => {
            sqlx::query(LAST)
                .fetch_optional(&mut *c)
                .await?
                .map(|r| -> Result<(i64, String), sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?)) })
                .transpose()?
        });
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.to_owned()),
        };
        let mut record = AuditRecord {
            seq,
            at: OffsetDateTime::now_utc().format(&Rfc3339)?,
            actor: entry.actor,
            role: entry.role,
            action: entry.action,
            object: entry.object,
            ip: entry.ip,
            outcome: entry.outcome.as_text(),
            detail: entry.detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        record.hash = entry_hash(&record);
        with_tx!(self, c => {
            sqlx::query(INSERT)
                .bind(record.seq)
                .bind(&record.at)
                .bind(&record.actor)
                .bind(&record.role)
                .bind(&record.action)
                .bind(&record.object)
                .bind(&record.ip)
                .bind(&record.outcome)
                .bind(&record.detail)
                .bind(&record.prev_hash)
                .bind(&record.hash)
                .execute(&mut *c)
                .await
                .map(|_| ())?
        });
        Ok(record)
    }
}

impl Store {
    /// Appends an entry in a transaction of its own (for actions that change
    /// nothing else, such as a refused sign-in).
    pub async fn audit(&self, entry: AuditEntry) -> anyhow::Result<AuditRecord> {
        let mut tx = self.begin().await?;
        let record = tx.audit(entry).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Entries after `after_seq`, oldest first, at most `limit`.
    pub async fn audit_entries(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditRecord>> {
        let rows = with_pool!(self, p => {
            sqlx::query(ALL)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| -> Result<AuditRecord, sqlx::Error> {
                    Ok(AuditRecord {
                        seq: r.try_get("seq")?,
                        at: r.try_get("at")?,
                        actor: r.try_get("actor")?,
                        role: r.try_get("role")?,
                        action: r.try_get("action")?,
                        object: r.try_get("object")?,
                        ip: r.try_get("ip")?,
                        outcome: r.try_get("outcome")?,
                        detail: r.try_get("detail")?,
                        prev_hash: r.try_get("prev_hash")?,
                        hash: r.try_get("hash")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Walks the whole chain; `Ok(n)` is the number of entries checked.
    pub async fn verify_audit_chain(&self) -> anyhow::Result<Result<i64, ChainBreak>> {
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 1;
        let mut after = 0;
        loop {
            let page = self.audit_entries(after, 10_000).await?;
            if page.is_empty() {
                return Ok(Ok(expected_seq - 1));
            }
            for r in page {
                let broken = |reason: &str| {
                    Ok(Err(ChainBreak {
                        seq: r.seq,
                        reason: reason.to_owned(),
                    }))
                };
                if r.seq != expected_seq {
                    return broken(&format!(
                        "expected entry {expected_seq}: entries are missing"
                    ));
                }
                if r.prev_hash != prev {
                    return broken("it does not point at the previous entry");
                }
                if entry_hash(&r) != r.hash {
                    return broken("its content was changed after it was written");
                }
                prev = r.hash.clone();
                expected_seq += 1;
                after = r.seq;
            }
        }
    }
}
