//! Storage: one schema for SQLite and PostgreSQL, reached through sqlx.
//!
//! PostgreSQL is the source of truth in production; SQLite is the embedded
//! default so the service starts with no server installed. Both run the same
//! SQL text wherever the engines agree (the common subset with `$1`
//! placeholders), through [`with_pool!`], which compiles one body once per
//! engine. Where an engine needs its own statement for speed (bulk loads with
//! `COPY`, partition management), a method says so and has an arm per engine.
//!
//! Migrations live in `migrations/sqlite` and `migrations/postgres`, kept
//! table for table identical, and run at start-up.
//!
//! Queries are unchecked (`sqlx::query`, not `query!`): the checked macros take
//! one database URL per crate, and the same suites run on both engines, which
//! checks them better than one engine's compile-time check would.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::Row as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tanba_core::crypto::PublicKeyEntry;
use time::OffsetDateTime;

use crate::settings::{DatabaseKind, Settings};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool the store holds. The body is
/// compiled once per engine, so the SQL text is shared and type-checked for
/// both.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

/// A write transaction on either engine. On SQLite it is opened with
/// `BEGIN IMMEDIATE`, so writers queue for the lock at the start instead of
/// failing half-way when a read lock cannot be upgraded.
#[derive(Debug)]
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same body on a transaction's connection, whichever the engine.
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

mod audit;
mod batch;
mod codes;
mod documents;
mod idempotency;
mod orders;
mod packages;
mod participants;
mod products;
mod reference;
mod reports;
mod scan;
mod scans;
mod sessions;

pub use audit::{AuditEntry, AuditRecord, ChainBreak, Outcome};
pub use batch::{CodeRow, Move};
pub use codes::{status_columns, status_from_columns};
pub use documents::{
    Document, DocumentError, DocumentEvent, DocumentItem, EventCursor, ITEM_CHUNK, NewDocument,
    NotACursor,
};
pub use orders::{ChunkOutcome, Order, OrderStatus};
pub use packages::{Package, PackageView};
pub use participants::{
    AlreadyExists, Challenge, NewParticipant, Participant, ParticipantStatus, Staff,
};
pub use products::{
    Conformity, ConformityKind, CreateRefused, NumberedDocument, Product, ProductCard,
};
pub use reference::{DictionaryVersion, SyncOutcome, VersionNotRaised};
pub use reports::{
    AssigneeFilter, HistoryEntry, NewReport, PhotoInfo, QueueFilter, Report, ReportAction,
};
pub use scan::{CodeEvent, CodeNotFound, EventSource, SourceKind, StoredCode, operation_name};
pub use scans::{Channel, Context, MAX_BATCH, NewScan, RecordedScan};
pub use sessions::Session;

impl Tx {
    pub async fn commit(self) -> anyhow::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub fn kind(&self) -> DatabaseKind {
        match self {
            Tx::Sqlite(_) => DatabaseKind::Sqlite,
            Tx::Postgres(_) => DatabaseKind::Postgres,
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

/// An emission key id already stands for another public key.
#[derive(Debug, thiserror::Error)]
#[error("emission key id {0} is already registered with another public key")]
pub struct KeyIdClash(pub String);

impl Store {
    /// Connects and brings the schema up to date.
    #[tracing::instrument(skip_all, fields(database = ?settings.database_kind()))]
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let pool = match settings.database_kind() {
            DatabaseKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(&settings.database_url)
                    .context("parsing database_url as a SQLite URL")?
                    .create_if_missing(true)
                    // WAL lets scans read while a document is being written.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.database_max_connections)
                    .connect_with(options)
                    .await
                    .context("opening the SQLite database")?;
                SQLITE_MIGRATIONS
                    .run(&pool)
                    .await
                    .context("running SQLite migrations")?;
                Pool::Sqlite(pool)
            }
            DatabaseKind::Postgres => {
                let options = PgConnectOptions::from_str(&settings.database_url)
                    .context("parsing database_url as a PostgreSQL URL")?;
                let pool = PgPoolOptions::new()
                    .max_connections(settings.database_max_connections)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .context("connecting to PostgreSQL")?;
                POSTGRES_MIGRATIONS
                    .run(&pool)
                    .await
                    .context("running PostgreSQL migrations")?;
                Pool::Postgres(pool)
            }
        };
        Ok(Self { pool })
    }

    pub fn kind(&self) -> DatabaseKind {
        match self.pool {
            Pool::Sqlite(_) => DatabaseKind::Sqlite,
            Pool::Postgres(_) => DatabaseKind::Postgres,
        }
    }

    /// Begins a write transaction (see [`Tx`]).
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A round trip to the database, for the health check.
    #[tracing::instrument(skip(self))]
    pub async fn ping(&self) -> anyhow::Result<()> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Every emission key ever registered, oldest first.
    #[tracing::instrument(skip(self))]
    pub async fn emission_keys(&self) -> anyhow::Result<Vec<PublicKeyEntry>> {
        const SQL: &str =
            "SELECT id, algorithm, public_key FROM emission_keys ORDER BY created_at, id";
        let rows = with_pool!(self, p => {
            sqlx::query(SQL)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| -> Result<PublicKeyEntry, sqlx::Error> {
                    Ok(PublicKeyEntry {
                        id: r.try_get("id")?,
                        algorithm: r.try_get("algorithm")?,
                        public_key: r.try_get("public_key")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    /// Registers a public emission key; registering the same key again is a
    /// no-op, registering another key under a used id is refused.
    #[tracing::instrument(skip(self, entry), fields(key_id = %entry.id))]
    pub async fn register_emission_key(&self, entry: &PublicKeyEntry) -> anyhow::Result<()> {
        const INSERT: &str = "INSERT INTO emission_keys (id, algorithm, public_key, created_at) \
                              VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";
        const EXISTING: &str = "SELECT public_key FROM emission_keys WHERE id = $1";
        let now = OffsetDateTime::now_utc();
        let existing: String = with_pool!(self, p => {
            sqlx::query(INSERT)
                .bind(&entry.id)
                .bind(&entry.algorithm)
                .bind(&entry.public_key)
                .bind(now)
                .execute(p)
                .await?;
            sqlx::query_scalar(EXISTING).bind(&entry.id).fetch_one(p).await?
        });
        if existing != entry.public_key {
            return Err(KeyIdClash(entry.id.clone()).into());
        }
        Ok(())
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

/// Whether `error` is a clash between concurrent transactions that running
/// the whole transaction again resolves: a deadlock (PostgreSQL `40P01`),
/// a serialization failure (`40001`), or SQLite's busy database (`5`,
/// `517`). Any other error is not retried.
pub fn is_transient(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<sqlx::Error>())
        .filter_map(|e| e.as_database_error()?.code())
        .any(|code| matches!(code.as_ref(), "40P01" | "40001" | "5" | "517"))
}

/// Runs `attempt` again while it fails with a clash between concurrent
/// transactions ([`is_transient`]), `tries` times in all at most, waiting a
/// little longer each time. Any other outcome is returned as it is.
pub async fn again_on_clash<T, F, Fut>(tries: u32, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if n < tries && is_transient(&e) => {
                tracing::warn!(error = %e, attempt = n, "running again after a clash with another transaction");
                tokio::time::sleep(Duration::from_millis(50 << n)).await;
                n += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;

    use super::again_on_clash;

    /// A database error with a given SQLSTATE, as the server sends it.
    #[derive(Debug)]
    struct Failed(&'static str);

    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl StdError for Failed {}

    impl sqlx::error::DatabaseError for Failed {
        fn message(&self) -> &str {
            "failed"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn failed(code: &'static str) -> anyhow::Error {
        anyhow::Error::from(sqlx::Error::Database(Box::new(Failed(code)))).context("settling")
    }

    #[tokio::test]
    async fn a_clash_is_run_again_and_nothing_else_is() {
        // Two deadlocks, then through.
        let mut calls = 0;
        let out = again_on_clash(4, || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(failed("40P01")) } else { Ok(n) } }
        })
        .await;
        assert_eq!(out.expect("through on the third"), 3);

        // Serialization failures every time: given up after `tries`.
        let mut calls = 0;
        let out: anyhow::Result<()> = again_on_clash(2, || {
            calls += 1;
            async { Err(failed("40001")) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls, 2);

        // A unique violation is no clash: tried once.
        let mut calls = 0;
        let out: anyhow::Result<()> = again_on_clash(4, || {
            calls += 1;
            async { Err(failed("23505")) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls, 1);
    }
}
