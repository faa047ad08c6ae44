//! Emission throughput on PostgreSQL, next to its limit, in the same run:
//!
//! 1. Tanba's emission path — fresh CSPRNG serials, Ed25519 signatures, chunked
//!    `INSERT … SELECT FROM UNNEST … ON CONFLICT DO NOTHING` with the order's
//!    counter in the same transaction — for an order of `N` codes.
//! 2. The limit: a bare `COPY` of `N` ready-made rows of the same shape into
//!    the same table (nothing generated, nothing signed, no conflict check).
//! 3. An order of 1,000,000 codes from the committed order to `READY`, wall time.
//! 4. Bytes per code in PostgreSQL, table and indexes, extrapolated to the
//!    decree's 10 billion codes.
//!
//! Run: `cargo bench -p tanba-api --bench emission` (PostgreSQL from
//! `TANBA_TEST_POSTGRES_URL`, default the local server; `scripts/services`
//! starts it). `EMISSION_N` sets N (default 200,000).

use std::sync::Arc;
use std::time::Instant;

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

async fn fresh_database(admin: &str) -> anyhow::Result<String> {
    let name = format!("tanba_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    Ok(format!("{base}/{name}"))
}

async fn drop_database(admin: &str, url: &str) -> anyhow::Result<()> {
    let name = url.rsplit_once('/').map(|(_, n)| n).unwrap_or_default();
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let admin = std::env::var("TANBA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let n: usize = std::env::var("EMISSION_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let url = fresh_database(&admin).await?;
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

    // 3. A million-code order, committed order to READY.
    let mut tx = store.begin().await?;
    let big = tx
        .create_order(owner, &gtin, 1_000_000, "production")
        .await?;
    tx.commit().await?;
    let started = Instant::now();
    tanba_api::emission::fill(&store, &key, big.id).await?;
    let million = started.elapsed();

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
        "order of 1,000,000 codes, committed to READY: {:.2} s ({:.0} codes/s)",
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
    drop_database(&admin, &url).await?;
    Ok(())
}
