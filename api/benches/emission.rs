//! Emission throughput on PostgreSQL, next to its limit, in the same run:
//!
//! 1. Tanba's emission path — fresh CSPRNG serials, Ed25519 signatures, chunked
//!    `INSERT … SELECT FROM UNNEST … ON CONFLICT DO NOTHING` with the order's
//!    counter in the same transaction — for an order of `N` codes.
//! 2. The limit: a bare `COPY` of `N` ready-made rows of the same shape into
//!    the same table (nothing generated, nothing signed, no conflict check).
//! 3. An order of 1,000,000 codes through HTTP, from `POST /v1/orders` to the
//!    moment `GET /v1/orders/{id}` says `READY`, wall time (a service in this
//!    process on a fresh database, a manufacturer signed in with an EDS from the
//!    tests' own CA, as in the test suites).
//! 4. Bytes per code in PostgreSQL, table and indexes, extrapolated to the
//!    decree's 10 billion codes.
//!
//! Run: `cargo bench -p tanba-api --bench emission` (PostgreSQL from
//! `TANBA_TEST_POSTGRES_URL`, default the local server; `scripts/services`
//! starts it). `EMISSION_N` sets N (default 200,000).

use std::sync::Arc;
use std::time::Instant;

// The tests' harness: fresh databases, the service on a random port, a test
// CA and EDS sign-in.
#[path = "../tests/common/mod.rs"]
mod common;

use base64::Engine as _;
use sqlx::Connection as _;
use tanba_api::ids::ParticipantId;
use tanba_api::settings::Settings;
use tanba_api::store::Store;
use tanba_core::{Gtin, KeyId};

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn million_over_http(admin: &str) -> anyhow::Result<std::time::Duration> {
    use common::eds::{self, KeyKind};
    use serde_json::json;
    let db = common::Db {
        url: common::create_database(admin, "tanba_bench").await?,
        dir: tempfile::tempdir()?,
        label: "postgres",
    };
    let (app, ca, _, admin_token) = eds::spawn_with_admin(&db).await;
    let who = ca.issue_legal_entity(
        &eds::test_bin(1),
        &eds::test_iin(1),
        "Өндіруші",
        "ЖШС «Өндіруші»",
        KeyKind::Rsa,
    );
    eds::register_and_approve_participant(&app, &admin_token, &who, &["manufacturer"]).await;
    let token = eds::sign_in(&app, &who).await;
    let product = json!({
        "gtin": "04652352262009",
        "name_kk": "Сүт 3,2 %, 1 л",
        "name_ru": "Молоко 3,2 %, 1 л",
        "product_group": "dairy",
        "tnved": "0401201100",
        "manufacturer_name": "ЖШС «Өндіруші»",
        "manufacturer_country": "KZ",
        "conformity": {"kind": "declaration", "number": "ЕАЭС N KZ Д-1", "date": "2024-03-15"},
        "recommended_price": 650
    });
    let (status, body) =
        eds::call(&app, "POST", "/v1/products", Some(&token), Some(&product)).await;
    anyhow::ensure!(status == 201, "product: {body}");

    let started = Instant::now();
    let resp = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "bench-million")
        .json(&json!({"gtin": "04652352262009", "quantity": 1_000_000, "release_method": "production"}))
        .send()
        .await?;
    anyhow::ensure!(resp.status().as_u16() == 202, "order refused");
    let order: serde_json::Value = resp.json().await?;
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let (_, o) = eds::call(&app, "GET", &format!("/v1/orders/{id}"), Some(&token), None).await;
        if o["status"] == "READY" {
            break;
        }
        anyhow::ensure!(
            started.elapsed().as_secs() < 600,
            "not ready after 10 minutes: {o}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    app.stop().await;
    common::drop_database(admin, &db.url).await?;
    Ok(elapsed)
}

async fn run() -> anyhow::Result<()> {
    let admin = std::env::var("TANBA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let n: usize = std::env::var("EMISSION_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let url = common::create_database(&admin, "tanba_bench").await?;
    let settings = Settings {
        database_url: url.clone(),
        ..Settings::default()
    };
    let store = Store::connect(&settings).await?;
    let key = Arc::new(tanba_api::keys::generate(KeyId::parse("BN01")?));
    let gtin = Gtin::parse("04652352262009").map_err(|e| anyhow::anyhow!("{e}"))?;
    let owner = ParticipantId::new();

    // 1. Tanba's path.
    let mut tx = store.begin().await?;
    let order = tx
        .create_order(owner, &gtin, i64::try_from(n)?, "production")
        .await?;
    tx.commit().await?;
    let started = Instant::now();
    tanba_api::emission::fill(&store, &key, order.id).await?;
    let tanba = started.elapsed();
    let stored = store
        .order(order.id)
        .await?
        .map(|o| o.generated)
        .unwrap_or(0);
    assert_eq!(stored, i64::try_from(n)?, "the order holds exactly N codes");

    // 2. The limit: bare COPY of N rows of the same shape, made beforehand.
    let rows = {
        let codes = tanba_api::emission::sign_new(&key, &gtin, n);
        let order_id = uuid::Uuid::new_v4();
        let mut text = String::with_capacity(n * 220);
        for c in &codes {
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c.crypto_tail().map(|t| t.as_str()).unwrap_or_default())?;
            let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
            // COPY text format: tab-separated, bytea as \\x hex.
            text.push_str(&format!(
                "{}\t{}\tBN01\t\\\\x{hex}\t0\t\\N\tf\t{}\t{order_id}\t0\n",
                c.gtin().as_str().trim_start_matches('0'),
                c.serial().as_str().replace('\\', "\\\\"),
                owner.as_uuid(),
            ));
        }
        text
    };
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(
            "COPY codes (gtin, serial, key_id, signature, status, reason, blocked, owner, order_id, emitted_at) FROM STDIN",
        )
        .await?;
    copy.send(rows.as_bytes()).await?;
    let copied = copy.finish().await?;
    let bare = started.elapsed();
    assert_eq!(copied, u64::try_from(n)?);

    // 3. A million-code order through HTTP, request to READY.
    let million = million_over_http(&admin).await?;

    // 4. Bytes per code, table and indexes, after VACUUM so dead space is not counted.
    sqlx::query("VACUUM ANALYZE codes")
        .execute(&mut conn)
        .await?;
    let (bytes, count): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT SUM(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits \
                 WHERE inhparent = 'codes'::regclass), \
                (SELECT COUNT(*) FROM codes)",
    )
    .fetch_one(&mut conn)
    .await?;
    let per_code = bytes as f64 / count as f64;

    let rate = |d: std::time::Duration, n: usize| n as f64 / d.as_secs_f64();
    println!("emission on PostgreSQL, N = {n}");
    println!(
        "  tanba emission (generate + sign + insert): {:>8.2} s  {:>9.0} codes/s",
        tanba.as_secs_f64(),
        rate(tanba, n)
    );
    println!(
        "  limit: bare COPY of the same rows:         {:>8.2} s  {:>9.0} codes/s",
        bare.as_secs_f64(),
        rate(bare, n)
    );
    println!(
        "  tanba / limit: {:.0} %",
        100.0 * rate(tanba, n) / rate(bare, n)
    );
    println!(
        "order of 1,000,000 codes over HTTP, POST to READY: {:.2} s ({:.0} codes/s)",
        million.as_secs_f64(),
        rate(million, 1_000_000)
    );
    println!(
        "storage: {count} codes in {bytes} bytes = {per_code:.0} bytes per code (table + indexes); \
         10 billion codes = {:.2} TB",
        per_code * 1e10 / 1e12
    );
    println!(
        "decree: 50,000,000 codes a day = {:.0} codes/s on average",
        50_000_000.0 / 86_400.0
    );

    store.close().await;
    drop(conn);
    common::drop_database(&admin, &url).await?;
    Ok(())
}
