//! The service killed (SIGKILL, no goodbye) in the middle of applying a large
//! shipment: after the kill no code has moved and the document is still
//! `IN_PROGRESS`; after a restart every code has moved exactly once and the
//! document says `WAIT_ACCEPTANCE`. The real `tanba` binary, on both
//! databases.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::eds::{self, KeyKind};
use common::{Db, reports as r};
use serde_json::{Value, json};
use tanba_api::ids::DocumentId;
use tanba_api::settings::Settings;
use tanba_api::store::Store;
use tanba_core::document::DocumentStatus;

const GTIN: &str = "04870001234010";

/// A port nobody listens on now (a moment later someone may; the test would
/// then fail to start, not pass wrongly).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `tanba serve` on `port`, on the test's database and key, trusting the
/// test CA (through `tanba.toml` in the database's directory: a list does
/// not fit in one environment variable).
fn serve(db: &Db, settings: &Settings, port: u16) -> Child {
    let roots: Vec<String> = settings
        .eds_trust_roots
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    std::fs::write(
        db.path("tanba.toml"),
        format!("eds_trust_roots = [{}]\n", roots.join(", ")),
    )
    .expect("config");
    Command::new(env!("CARGO_BIN_EXE_tanba"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(db.dir.path())
        .env("TANBA_DATABASE_URL", &db.url)
        .env("TANBA_EMISSION_KEY_FILE", &settings.emission_key_file)
        .env("TANBA_LOG_FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tanba serve starts")
}

async fn wait_healthy(client: &reqwest::Client, base: &str, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.try_wait().expect("wait") {
            panic!("tanba serve exited with {status}");
        }
        if client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        assert!(Instant::now() < deadline, "tanba serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the service holds a write transaction open now. PostgreSQL: a
/// connection of its with a transaction started. SQLite: another writer
/// holds the database (a `BEGIN IMMEDIATE` that may not wait is refused).
async fn writing(db: &Db) -> bool {
    use sqlx::Connection as _;
    if db.label == "postgres" {
        let mut c = sqlx::PgConnection::connect(&db.url).await.expect("pg");
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND state <> 'idle'",
        )
        .fetch_one(&mut c)
        .await
        .expect("pg_stat_activity");
        return open > 0;
    }
    let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().expect("sqlite url");
    let mut c = sqlx::SqliteConnection::connect_with(&options.busy_timeout(Duration::ZERO))
        .await
        .expect("sqlite");
    match sqlx::query("BEGIN IMMEDIATE").execute(&mut c).await {
        Ok(_) => {
            sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .expect("rollback");
            false
        }
        Err(e) if e.to_string().contains("locked") || e.to_string().contains("busy") => true,
        Err(e) => panic!("probing the SQLite lock: {e}"),
    }
}

async fn killed_mid_document_moves_all_or_nothing(db: Db) {
    // Enough codes that applying them takes a while, so the kill lands in
    // the middle; on PostgreSQL more in CI (TANBA_TEST_SLOW=1, set by
    // scripts/test). A shipment's codes are checked in one statement on
    // SQLite: 20,000 were checked before the kill landed.
    let slow = std::env::var("TANBA_TEST_SLOW").is_ok();
    let n: usize = match (db.label, slow) {
        ("sqlite", _) => 100_000,
        (_, false) => 20_000,
        (_, true) => 40_000,
    };
    let (app, ca, settings, admin) = eds::spawn_with_admin(&db).await;
    let seller = ca.issue_legal_entity(
        &eds::test_bin(31),
        &eds::test_iin(31),
        "Сатушы",
        "ЖШС «Сатушы»",
        KeyKind::EcP256,
    );
    let buyer = ca.issue_legal_entity(
        &eds::test_bin(32),
        &eds::test_iin(32),
        "Сатып алушы",
        "ЖШС «Сатып алушы»",
        KeyKind::EcP256,
    );
    eds::register_and_approve_participant(&app, &admin, &seller, &["manufacturer"]).await;
    eds::register_and_approve_participant(&app, &admin, &buyer, &["wholesaler"]).await;
    // The session lives in the database: the binary honours it.
    let token = eds::sign_in(&app, &seller).await;
    app.stop().await;

    let store = Store::connect(&settings).await.expect("store");
    let seller_id = store
        .participant_by_taxpayer_id(&seller.taxpayer_id())
        .await
        .expect("read")
        .expect("seller")
        .id;
    let codes: Vec<String> = r::genuine_codes_of(&store, &settings, seller_id, &r::milk(GTIN), n)
        .await
        .iter()
        .map(|c| c.human_readable())
        .collect();
    let items: Vec<Value> = codes
        .iter()
        .map(|c| json!({"code": c, "price": 650}))
        .collect();
    let body = serde_json::to_vec(
        &json!({"kind": "shipment", "codes": items, "receiver": buyer.taxpayer_id()}),
    )
    .expect("json");
    let signature = eds::sign_detached(&seller, &body);

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", free_port());
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut first = serve(&db, &settings, port);
    wait_healthy(&client, &base, &mut first).await;
    let resp = client
        .post(format!("{base}/v1/documents"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "big-shipment")
        .header("Content-Type", "application/json")
        .header("X-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 202);
    let answer: Value = resp.json().await.expect("json");
    let id: DocumentId = answer["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("a document id");
    let sent = Instant::now();

    // Kill it once the worker is inside its transaction, a little way in.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !writing(&db).await {
        assert!(
            Instant::now() < deadline,
            "the worker never opened its transaction"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let killed_after = sent.elapsed();

    // Nothing moved: the transaction died with the process.
    let after = store.document(id).await.expect("read").expect("stored");
    assert_eq!(
        after.status,
        DocumentStatus::InProgress,
        "the transaction committed before the kill: raise n ({n}) so the kill lands mid-way"
    );
    assert!(store.document_events(id).await.expect("events").is_empty());
    let parsed: Vec<tanba_core::MarkingCode> = codes
        .iter()
        .map(|c| tanba_core::MarkingCode::parse(c).expect("code"))
        .collect();
    for code in parsed.iter().step_by(997) {
        let history = store
            .code_events(code.gtin(), code.serial())
            .await
            .expect("history");
        assert_eq!(history.len(), 2, "apply and introduce only: {history:?}");
    }

    // Restarted: the worker takes the document up again and applies it whole.
    let mut second = serve(&db, &settings, port);
    wait_healthy(&client, &base, &mut second).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    let done = loop {
        let doc = store.document(id).await.expect("read").expect("stored");
        if doc.status != DocumentStatus::InProgress {
            break doc;
        }
        if let Some(status) = second.try_wait().expect("wait") {
            panic!("tanba serve exited with {status}");
        }
        assert!(Instant::now() < deadline, "not finished after a restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second.kill().expect("stopped");
    second.wait().expect("reaped");
    eprintln!(
        "{n} codes: killed {:.2} s after sending, applied after the restart {:.1} s after sending",
        killed_after.as_secs_f64(),
        sent.elapsed().as_secs_f64()
    );
    assert_eq!(done.status, DocumentStatus::WaitAcceptance);
    let events = store.document_events(id).await.expect("events");
    assert_eq!(events.len(), n, "one event per code, none twice");
    assert!(events.iter().all(|e| e.operation == "ship"));
    let distinct: std::collections::HashSet<String> =
        events.iter().map(|e| e.code.identity()).collect();
    assert_eq!(distinct.len(), n);
    store.close().await;
}

#[tokio::test]
async fn a_service_killed_mid_document_moves_all_or_nothing_on_sqlite() {
    killed_mid_document_moves_all_or_nothing(Db::sqlite()).await;
}

#[tokio::test]
async fn a_service_killed_mid_document_moves_all_or_nothing_on_postgres() {
    if let Some(db) = Db::postgres().await {
        killed_mid_document_moves_all_or_nothing(db).await;
    }
}
