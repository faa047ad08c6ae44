//! Shared test harness: a fresh database per test (a SQLite file in a temp
//! directory, or a new PostgreSQL database), and the service started on it.
//!
//! PostgreSQL suites run when `TANBA_TEST_POSTGRES_URL` names a server
//! (`scripts/test` sets it to the local one); without it they say so and pass
//! nothing off as tested: `Db::postgres()` returns `None` and the test prints
//! that it was skipped.

#![allow(dead_code)]

pub mod eds;
pub mod reports;
pub mod trade;

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tanba_api::settings::Settings;
use tanba_api::startup::Application;

/// A fresh database that lives as long as the value (the PostgreSQL database
/// is left behind for inspection; `scripts/test` drops old test databases).
#[derive(Debug)]
pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub label: &'static str,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tanba.db").display());
        Db {
            url,
            dir,
            label: "sqlite",
        }
    }

    /// A new, empty PostgreSQL database, or `None` when no server is configured.
    pub async fn postgres() -> Option<Db> {
        let Ok(admin) = std::env::var("TANBA_TEST_POSTGRES_URL") else {
            eprintln!("skipped: TANBA_TEST_POSTGRES_URL is not set (scripts/test sets it)");
            return None;
        };
        let url = create_database(&admin, "tanba_test")
            .await
            .expect("creating a test database on TANBA_TEST_POSTGRES_URL");
        Some(Db {
            url,
            dir: tempfile::tempdir().expect("temp dir"),
            label: "postgres",
        })
    }

    /// Settings for a service on this database, with its key in the temp dir.
    pub fn settings(&self) -> Settings {
        Settings {
            listen: "127.0.0.1:0".to_owned(),
            database_url: self.url.clone(),
            database_max_connections: 4,
            emission_key_file: self.dir.path().join("emission.key"),
            ..Settings::default()
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A new, empty database `{prefix}_` and 16 hex digits on the PostgreSQL
/// server of `admin` (a URL with a database to connect to): its URL.
pub async fn create_database(admin: &str, prefix: &str) -> anyhow::Result<String> {
    use sqlx::Connection as _;
    let name = format!("{prefix}_{}", uuid_like());
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    // The name is ours: the prefix and hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    Ok(format!("{base}/{name}"))
}

/// Drops the database of `url` (made by [`create_database`]), even while
/// connections are open.
pub async fn drop_database(admin: &str, url: &str) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let name = url.rsplit_once('/').map(|(_, n)| n).unwrap_or_default();
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

fn uuid_like() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect()
}

/// A service running in this process on a random port.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The scan cache, for its counters.
    pub cards: Arc<tanba_api::cache::CardCache>,
    /// The scan recorder, for its counters.
    pub scans: Arc<tanba_api::scans::ScanRecorder>,
    server: actix_web::dev::ServerHandle,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn(settings: Settings) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a random port");
        let app = Application::build_on(settings, listener)
            .await
            .expect("building the application");
        let base = format!("http://{}", app.addr());
        let server = app.handle();
        let cards = app.cards();
        let scans = app.scans();
        let handle = tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            // Idle connections dropped well before the server's keep-alive
            // (actix: 5 s) closes them: a request sent on a connection the
            // server is closing fails to send.
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("http client"),
            cards,
            scans,
            server,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("a JSON body"))
    }

    /// Stops the server gracefully (as SIGTERM would) and waits for it.
    pub async fn stop(self) {
        self.server.stop(true).await;
        self.handle
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }
}

/// Polls `probe` until it returns `Some`, for what happens behind an answer
/// (the scan recorder writes within a fraction of a second). Panics with
/// `what` after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The count a `SELECT COUNT(*) …` over the test's database answers, read
/// straight from the tables rather than through the service: for what no
/// endpoint shows (which rows a document wrote).
pub async fn raw_count(db: &Db, sql: &str) -> i64 {
    use sqlx::Connection as _;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.label == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url)
            .await
            .expect("postgres");
        sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .expect("count")
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("sqlite");
        sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .expect("count")
    }
}

/// Runs one SQL statement straight on the test's database, the way an
/// intruder or a careless operator with database access would: for what the
/// schema itself must refuse.
pub async fn raw(db: &Db, sql: &str) -> Result<(), String> {
    use sqlx::Connection as _;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.label == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sql)
            .execute(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sql)
            .execute(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Runs a test body against SQLite and, when configured, PostgreSQL.
#[macro_export]
macro_rules! on_every_database {
    ($(#[$meta:meta])* $name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = common::Db::sqlite();
                ($body)(db).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = common::Db::postgres().await {
                    ($body)(db).await;
                }
            }
        }
    };
}

/// The (field, code) of each problem in a 400 answer's `error.details`, in
/// order.
pub fn field_errors(body: &serde_json::Value) -> Vec<(&str, &str)> {
    body["error"]["details"]
        .as_array()
        .expect("error.details")
        .iter()
        .map(|d| {
            (
                d["field"].as_str().expect("field"),
                d["code"].as_str().expect("code"),
            )
        })
        .collect()
}
