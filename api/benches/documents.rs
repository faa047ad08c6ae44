//! An owner change of a million codes on PostgreSQL, next to its limit, in
//! the same run (issue 5, the decree's "3 minutes"):
//!
//! 1. The limit: a bare `UPDATE codes SET owner = … WHERE order_id = …` of
//!    the same 1,000,000 rows (through the order's index; no check, no
//!    history, no document).
//! 2. The whole path through the real `tanba` binary (release build): a
//!    signed shipment of 1,000,000 codes uploaded over HTTP as NDJSON
//!    (`POST /v1/documents`, answered 202), the worker's checks and apply (until
//!    the document says `WAIT_ACCEPTANCE`: every code's owner, hold and
//!    lifecycle step checked, and the `ship` step recorded once for the
//!    document, which every code's history reads through the document's
//!    items), and the buyer's acceptance (`POST /v1/documents/{id}/accept`:
//!    a new owner for each code, by one guarded update per 10,000, and the
//!    `accept` step recorded once), wall time.
//! 3. The same for 1,000,000 codes packed in 1,000 transport packages: the
//!    shipment lists the 1,000 SSCCs. A packed code's owner is its
//!    package's, so the shipment and the acceptance write a `ship` and an
//!    `accept` event per code, set-based from the packages' contents, and
//!    no code row. The seller packs them first through the service: an
//!    aggregation of 1,000,000 `package,code` rows as CSV (an `aggregate`
//!    event each), timed until `CHECKED_OK`. After the
//!    acceptance the buyer unpacks the 1,000 packages (a disaggregation, a
//!    `disaggregate` event each, and the package's owner written into each
//!    code's row), timed the same way.
//! 4. The service's peak memory (`VmHWM` of the process), in each phase
//!    (the kernel's peak is reset between phases through `clear_refs`).
//! 5. Killed mid-way: the buyer ships the 1,000,000 loose codes back, and
//!    the service is killed (SIGKILL) a second after its worker started
//!    applying it (PostgreSQL shows the worker's statement that locks
//!    codes). Nothing may be applied then (no event, still
//!    `IN_PROGRESS`); after a restart all of it is, one `ship` per code.
//! 6. The limit again, with the service stopped, on the table as the runs
//!    left it: the same bare update, back to the seller. The machine's
//!    speed moves from run to run (the first limit has taken 6 to 21 s on
//!    the same machine), so the loose path is also given against this one.
//!
//! The database holds `DOCUMENTS_STORED` codes (default 10,000,000): the two
//! million moved and the rest of another participant's. The moved codes are
//! real emitted codes (signed, stored by the emission path) made
//! `INTRODUCED` by one SQL update, with an `introduce` event each; the rest
//! are filler rows of the same shape made by `generate_series`.
//!
//! Run: `cargo bench -p tanba-api --bench documents` (PostgreSQL from
//! `TANBA_TEST_POSTGRES_URL`, default the local server; `scripts/services`
//! starts it), or `bench/documents.sh`. `DOCUMENTS_N` sets how many codes
//! move (default 1,000,000).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// The tests' harness: a test CA, EDS sign-in, participants.
#[path = "../tests/common/mod.rs"]
mod common;

use common::eds::{self, KeyKind};
use serde_json::{Value, json};
use sqlx::Connection as _;
use tanba_api::ids::{DocumentId, OrderId, ParticipantId};
use tanba_api::settings::Settings;
use tanba_api::store::Store;
use tanba_core::MarkingCode;
use tanba_core::document::DocumentStatus;
use tanba_core::lifecycle::Status;

const LOOSE_GTIN: &str = "04870001234010";
const PACKED_GTIN: &str = "04621827345578";
const FILLER_GTIN: i64 = 4_652_352_262_009;
const PACKAGES: usize = 1_000;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// An SSCC: extension digit 0, a company prefix and `n`, with its GS1
/// check digit.
fn sscc(n: usize) -> String {
    let body = format!("04870001{n:09}");
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// `n` real codes of `gtin` emitted to `owner` under one order and made
/// `INTRODUCED`, each with its `introduce` event, as the documents that
/// introduce codes leave them.
async fn seed(
    store: &Store,
    settings: &Settings,
    owner: ParticipantId,
    gtin: &str,
    n: usize,
) -> anyhow::Result<(Vec<MarkingCode>, OrderId)> {
    let key = tanba_api::keys::load_or_generate(&settings.emission_key_file, false)?;
    let product = common::reports::milk(gtin);
    let codes = tanba_api::emission::sign_new(&key, &product.gtin, n);
    let order = OrderId::new();
    let mut tx = store.begin().await?;
    tx.create_product(owner, &product)
        .await?
        .map_err(|e| anyhow::anyhow!("product: {e:?}"))?;
    for chunk in codes.chunks(50_000) {
        tx.insert_emitted(chunk, owner, order, 1_764_000_000)
            .await?;
    }
    tx.commit().await?;
    let (status, _) = tanba_api::store::status_columns(Status::Introduced);
    let mut c = sqlx::PgConnection::connect(&settings.database_url).await?;
    sqlx::query("UPDATE codes SET status = $1 WHERE order_id = $2")
        .bind(status)
        .bind(order.as_uuid())
        .execute(&mut c)
        .await?;
    sqlx::query(
        "INSERT INTO code_events (gtin, serial, at, operation, status, reason, blocked, \
           actor, source_kind, source_id) \
         SELECT gtin, serial, 1764000000000, 'introduce', status, reason, blocked, NULL, 'demo', NULL \
         FROM codes WHERE order_id = $1 ORDER BY gtin, serial",
    )
    .bind(order.as_uuid())
    .execute(&mut c)
    .await?;
    Ok((codes, order))
}

/// `tanba serve` (this build's binary) on `port`, on the bench database,
/// trusting the test CA.
/// A running `tanba serve`, killed when dropped, so a bench that fails
/// leaves no service behind.
struct Server(Child);

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &common::Db, settings: &Settings, port: u16) -> anyhow::Result<Server> {
    let roots: Vec<String> = settings
        .eds_trust_roots
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    std::fs::write(
        db.path("tanba.toml"),
        format!("eds_trust_roots = [{}]\n", roots.join(", ")),
    )?;
    Ok(Server(
        Command::new(env!("CARGO_BIN_EXE_tanba"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(db.dir.path())
            .env("TANBA_DATABASE_URL", &db.url)
            .env("TANBA_EMISSION_KEY_FILE", &settings.emission_key_file)
            .env("TANBA_DOCUMENT_MAX_BYTES", (512usize << 20).to_string())
            .env("TANBA_LOG_FILTER", "warn,tanba_api::routes::documents=info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?,
    ))
}

/// Waits until the service answers `/health`.
async fn up(client: &reqwest::Client, base: &str, server: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        anyhow::ensure!(server.try_wait()?.is_none(), "tanba serve exited");
        anyhow::ensure!(Instant::now() < deadline, "tanba serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The process's peak resident memory, in MiB.
fn peak_rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM"))?;
    Ok(kib / 1024.0)
}

/// Starts a new peak: the kernel resets `VmHWM` to the current size.
fn reset_peak(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")?;
    Ok(())
}

struct Timings {
    upload: Duration,
    checked: Duration,
    accepted: Duration,
    /// The service's peak memory in each phase, in MiB.
    peaks: [f64; 3],
}

/// A shipment of `codes` (codes or SSCCs) to `buyer_bin`, streamed as
/// NDJSON: the document's fields, then one code a line.
fn shipment_body(buyer_bin: &str, codes: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut body = serde_json::to_vec(&json!({"kind": "shipment", "receiver": buyer_bin}))?;
    for c in codes {
        body.push(b'\n');
        serde_json::to_writer(&mut body, &json!({"code": c, "price": 650}))?;
    }
    Ok(body)
}

const NDJSON: &str = "application/x-ndjson";
const CSV: &str = "text/csv";

/// An aggregation of `codes` into `ssccs`, as many in each, as CSV: the
/// document's fields in two rows, then a `package,code` row per code.
fn aggregation_body(ssccs: &[String], codes: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::with_capacity(codes.len() * 64));
    out.write_record(["kind"])?;
    out.write_record(["aggregation"])?;
    out.write_record(["package", "code"])?;
    let per = codes.len().div_ceil(ssccs.len());
    for (sscc, chunk) in ssccs.iter().zip(codes.chunks(per)) {
        for code in chunk {
            out.write_record([sscc, code])?;
        }
    }
    out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// A disaggregation of `ssccs`, as NDJSON.
fn disaggregation_body(ssccs: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut body = serde_json::to_vec(&json!({"kind": "disaggregation"}))?;
    for c in ssccs {
        body.push(b'\n');
        serde_json::to_writer(&mut body, &json!({"code": c}))?;
    }
    Ok(body)
}

/// Uploads a document (until 202) and waits for the worker to apply it:
/// its id, the time to each, and the service's peak memory in each.
#[allow(clippy::too_many_arguments)]
async fn apply(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    who: &eds::Identity,
    token: &str,
    body: (Vec<u8>, &str),
    label: &str,
    pid: u32,
) -> anyhow::Result<(DocumentId, Timings)> {
    eprintln!("{label}: body {} MB", body.0.len() / 1_000_000);
    reset_peak(pid)?;
    let started = Instant::now();
    let id = upload(client, base, who, token, body, label).await?;
    let upload = started.elapsed();
    let mut peaks = [peak_rss_mib(pid)?, 0.0, 0.0];
    reset_peak(pid)?;
    settled(store, id, label).await?;
    let checked = started.elapsed();
    peaks[1] = peak_rss_mib(pid)?;
    Ok((
        id,
        Timings {
            upload,
            checked,
            accepted: checked,
            peaks,
        },
    ))
}

/// `POST /v1/documents` of `body` signed by `who`, until its 202.
async fn upload(
    client: &reqwest::Client,
    base: &str,
    who: &eds::Identity,
    token: &str,
    (body, content_type): (Vec<u8>, &str),
    label: &str,
) -> anyhow::Result<DocumentId> {
    let signature = eds::sign_detached(who, &body);
    let resp = client
        .post(format!("{base}/v1/documents"))
        .bearer_auth(token)
        .header("Idempotency-Key", format!("bench-{label}"))
        .header("Content-Type", content_type)
        .header("X-Signature", signature)
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().as_u16() == 202,
        "{label}: {}",
        resp.text().await?
    );
    let answer: Value = resp.json().await?;
    Ok(answer["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no id"))?
        .parse()?)
}

/// Waits until the document is no longer `IN_PROGRESS`; fails unless it is
/// then `WAIT_ACCEPTANCE` (a shipment) or `CHECKED_OK`.
async fn settled(store: &Store, id: DocumentId, label: &str) -> anyhow::Result<DocumentStatus> {
    loop {
        let doc = store
            .document(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("gone"))?;
        match doc.status {
            DocumentStatus::InProgress => tokio::time::sleep(Duration::from_millis(50)).await,
            DocumentStatus::WaitAcceptance | DocumentStatus::CheckedOk => return Ok(doc.status),
            other => {
                let errors = store.document_errors(id).await?;
                anyhow::bail!(
                    "{label}: {other:?}, first errors {:?}",
                    &errors[..errors.len().min(3)]
                );
            }
        }
    }
}

/// Sends a signed shipment of `codes` (codes or SSCCs) from the seller to
/// the buyer, waits for the worker, and accepts it.
#[allow(clippy::too_many_arguments)]
async fn ship_and_accept(
    client: &reqwest::Client,
    base: &str,
    store: &Store,
    seller: &eds::Identity,
    seller_token: &str,
    buyer_bin: &str,
    buyer_token: &str,
    codes: &[String],
    label: &str,
    pid: u32,
) -> anyhow::Result<Timings> {
    let body = shipment_body(buyer_bin, codes)?;
    let (id, mut timings) = apply(
        client,
        base,
        store,
        seller,
        seller_token,
        (body, NDJSON),
        label,
        pid,
    )
    .await?;
    reset_peak(pid)?;
    let accepting = Instant::now();
    let resp = client
        .post(format!("{base}/v1/documents/{id}/accept"))
        .bearer_auth(buyer_token)
        .header("Idempotency-Key", format!("bench-accept-{label}"))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "{label} accept: {}",
        resp.text().await?
    );
    timings.accepted = timings.checked + accepting.elapsed();
    timings.peaks[2] = peak_rss_mib(pid)?;
    Ok(timings)
}

/// The limit: the bare update of an order's `n` codes to `owner`, timed.
async fn bare_update(
    c: &mut sqlx::PgConnection,
    owner: ParticipantId,
    order: OrderId,
    n: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let moved = sqlx::query("UPDATE codes SET owner = $1 WHERE order_id = $2")
        .bind(owner.as_uuid())
        .bind(order.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    let took = started.elapsed();
    anyhow::ensure!(moved == n as u64, "bare update moved {moved} of {n}");
    Ok(took)
}

async fn run() -> anyhow::Result<()> {
    let admin = std::env::var("TANBA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let n = env_or("DOCUMENTS_N", 1_000_000);
    let stored = env_or("DOCUMENTS_STORED", 10_000_000).max(2 * n);
    let db = common::Db {
        url: common::create_database(&admin, "tanba_bench").await?,
        dir: tempfile::tempdir()?,
        label: "postgres",
    };
    let result = bench(&db, n, stored).await;
    if std::env::var("DOCUMENTS_KEEP").is_err() {
        common::drop_database(&admin, &db.url).await?;
    }
    result
}

async fn bench(db: &common::Db, n: usize, stored: usize) -> anyhow::Result<()> {
    let (app, ca, settings, admin_token) = eds::spawn_with_admin(db).await;
    let seller = ca.issue_legal_entity(
        &eds::test_bin(41),
        &eds::test_iin(41),
        "Сатушы",
        "ЖШС «Сатушы»",
        KeyKind::EcP256,
    );
    let buyer = ca.issue_legal_entity(
        &eds::test_bin(42),
        &eds::test_iin(42),
        "Сатып алушы",
        "ЖШС «Сатып алушы»",
        KeyKind::EcP256,
    );
    eds::register_and_approve_participant(&app, &admin_token, &seller, &["manufacturer"]).await;
    eds::register_and_approve_participant(&app, &admin_token, &buyer, &["wholesaler"]).await;
    let seller_token = eds::sign_in(&app, &seller).await;
    let buyer_token = eds::sign_in(&app, &buyer).await;
    app.stop().await;

    let store = Store::connect(&settings).await?;
    let id_of = async |who: &eds::Identity| -> anyhow::Result<ParticipantId> {
        Ok(store
            .participant_by_taxpayer_id(&who.taxpayer_id())
            .await?
            .ok_or_else(|| anyhow::anyhow!("not stored"))?
            .id)
    };
    let (seller_id, buyer_id) = (id_of(&seller).await?, id_of(&buyer).await?);

    let seeding = Instant::now();
    let (loose, loose_order) = seed(&store, &settings, seller_id, LOOSE_GTIN, n).await?;
    let (packed, packed_order) = seed(&store, &settings, seller_id, PACKED_GTIN, n).await?;
    let mut c = sqlx::PgConnection::connect(&db.url).await?;
    // The packed codes are packed by the service, below.
    let ssccs: Vec<String> = (0..PACKAGES).map(sscc).collect();
    let packed_codes: Vec<String> = packed.iter().map(MarkingCode::identity).collect();
    drop(packed);
    // Someone else's codes, so the moved ones are a tenth of the table.
    let filler = stored - 2 * n;
    let other = ParticipantId::new();
    for from in (0..filler).step_by(1_000_000) {
        let to = (from + 1_000_000).min(filler);
        sqlx::query(
            "INSERT INTO codes (gtin, serial, key_id, signature, status, reason, blocked, owner, order_id, emitted_at) \
             SELECT $1, 'F' || lpad(i::text, 12, '0'), 'filler', '\\x00'::bytea, 2, NULL, FALSE, $2, $3, 1764000000 \
             FROM generate_series($4::int8, $5::int8) AS i",
        )
        .bind(FILLER_GTIN)
        .bind(other.as_uuid())
        .bind(uuid::Uuid::new_v4())
        .bind(i64::try_from(from)?)
        .bind(i64::try_from(to)? - 1)
        .execute(&mut c)
        .await?;
    }
    sqlx::query("VACUUM ANALYZE").execute(&mut c).await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM codes")
        .fetch_one(&mut c)
        .await?;
    eprintln!("seeded {total} codes in {:.0?}", seeding.elapsed());

    // 1. The limit: the bare update of the same rows, then put back.
    let bare = bare_update(&mut c, buyer_id, loose_order, n).await?;
    bare_update(&mut c, seller_id, loose_order, n).await?;
    sqlx::query("VACUUM ANALYZE codes").execute(&mut c).await?;

    // 2. and 3. The whole path, through the service.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(db, &settings, port)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    up(&client, &base, &mut server).await?;
    // The seller packs the second million into 1,000 transport packages:
    // an aggregation of a million rows, as CSV.
    let body = aggregation_body(&ssccs, &packed_codes)?;
    drop(packed_codes);
    let (_, packing) = apply(
        &client,
        &base,
        &store,
        &seller,
        &seller_token,
        (body, CSV),
        "aggregation",
        server.id(),
    )
    .await?;
    let packed_count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM package_codes")
        .fetch_one(&mut c)
        .await?;
    anyhow::ensure!(
        packed_count == n as i64,
        "{packed_count} of {n} codes packed"
    );

    let loose_codes: Vec<String> = loose.iter().map(MarkingCode::identity).collect();
    drop(loose);
    let units = ship_and_accept(
        &client,
        &base,
        &store,
        &seller,
        &seller_token,
        &buyer.taxpayer_id(),
        &buyer_token,
        &loose_codes,
        "units",
        server.id(),
    )
    .await?;
    let now_buyers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM codes WHERE order_id = $1 AND owner = $2")
            .bind(loose_order.as_uuid())
            .bind(buyer_id.as_uuid())
            .fetch_one(&mut c)
            .await?;
    anyhow::ensure!(now_buyers == n as i64, "{now_buyers} of {n} codes moved");
    // Each code's history has both steps, read through the document.
    for at in [0, n / 2, n - 1] {
        let code = MarkingCode::parse(&loose_codes[at])?;
        let story: Vec<String> = store
            .code_events(code.gtin(), code.serial())
            .await?
            .into_iter()
            .map(|e| e.operation)
            .collect();
        anyhow::ensure!(
            story.ends_with(&["ship".to_owned(), "accept".to_owned()]),
            "code {at}'s history: {story:?}"
        );
    }
    let packages = ship_and_accept(
        &client,
        &base,
        &store,
        &seller,
        &seller_token,
        &buyer.taxpayer_id(),
        &buyer_token,
        &ssccs,
        "packages",
        server.id(),
    )
    .await?;
    // A packed code's owner is its package's: the packages changed hands,
    // the codes' rows did not.
    let packed_buyers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM codes c JOIN package_codes pc ON pc.gtin = c.gtin AND pc.serial = c.serial \
         JOIN packages p ON p.sscc = pc.package WHERE p.owner = $1 AND c.owner <> $1",
    )
    .bind(buyer_id.as_uuid())
    .fetch_one(&mut c)
    .await?;
    anyhow::ensure!(
        packed_buyers == n as i64,
        "{packed_buyers} of {n} packed codes moved"
    );
    // The buyer unpacks the 1,000 packages: a million codes stand alone.
    let (_, unpacking) = apply(
        &client,
        &base,
        &store,
        &buyer,
        &buyer_token,
        (disaggregation_body(&ssccs)?, NDJSON),
        "disaggregation",
        server.id(),
    )
    .await?;
    let still_packed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM package_codes")
        .fetch_one(&mut c)
        .await?;
    anyhow::ensure!(still_packed == 0, "{still_packed} codes still packed");
    // Unpacked, each code is the buyer's by its own row.
    let unpacked_buyers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM codes WHERE order_id = $1 AND owner = $2")
            .bind(packed_order.as_uuid())
            .bind(buyer_id.as_uuid())
            .fetch_one(&mut c)
            .await?;
    anyhow::ensure!(
        unpacked_buyers == n as i64,
        "{unpacked_buyers} of {n} unpacked codes are the buyer's"
    );

    // 4. Killed mid-way: the buyer ships the loose codes back, and the
    // service is killed (SIGKILL) while its worker applies the shipment:
    // nothing may be applied; after a restart all of it is, each code once.
    let body = shipment_body(&seller.taxpayer_id(), &loose_codes)?;
    drop(loose_codes);
    let id = upload(
        &client,
        &base,
        &buyer,
        &buyer_token,
        (body, NDJSON),
        "killed",
    )
    .await?;
    // Killed once the worker is applying it: its transaction reads and
    // locks codes (PostgreSQL shows its statement: the places of the codes
    // listed, or their locks by key), and a second more.
    let waiting = Instant::now();
    loop {
        let applying: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() \
             AND (query LIKE '%listed_rows%' OR query LIKE '%FOR UPDATE OF c%')",
        )
        .fetch_one(&mut c)
        .await?;
        if applying > 0 {
            break;
        }
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(120),
            "the worker did not start applying the shipment in 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kill_after = waiting.elapsed();
    server.kill()?;
    server.wait()?;
    // The codes' own events and the steps the document recorded once for
    // each code it lists alone.
    const EVENTS: &str = "SELECT COUNT(*), COUNT(DISTINCT (gtin, serial)) FROM ( \
          SELECT gtin, serial FROM code_events WHERE source_kind = 'document' AND source_id = $1 \
          UNION ALL \
          SELECT i.gtin, i.serial FROM document_steps s \
          JOIN document_items i ON i.document = s.document AND i.gtin IS NOT NULL \
          WHERE s.document = $1) e";
    let (events, _): (i64, i64) = sqlx::query_as(EVENTS)
        .bind(id.to_string())
        .fetch_one(&mut c)
        .await?;
    let status = store.document(id).await?.map(|d| d.status);
    anyhow::ensure!(
        status == Some(DocumentStatus::InProgress) && events == 0,
        "killed: {status:?} with {events} events (too late a kill, or half applied)"
    );
    let restarted = Instant::now();
    let mut server = serve(db, &settings, port)?;
    up(&client, &base, &mut server).await?;
    settled(&store, id, "killed").await?;
    let recovered = restarted.elapsed();
    let (events, codes): (i64, i64) = sqlx::query_as(EVENTS)
        .bind(id.to_string())
        .fetch_one(&mut c)
        .await?;
    anyhow::ensure!(
        events == n as i64 && codes == n as i64,
        "after the restart: {events} events over {codes} codes of {n}"
    );
    server.kill()?;
    server.wait()?;

    // 6. The limit once more, with the service stopped, on the table as the
    // runs left it: how far the machine's own speed moved during the run.
    let bare_after = bare_update(&mut c, seller_id, loose_order, n).await?;

    let s = |d: Duration| d.as_secs_f64();
    println!("codes stored: {total}; moved per document: {n}");
    println!(
        "limit: bare UPDATE of the same {n} rows ............ {:7.1} s",
        s(bare)
    );
    println!(
        "limit again at the end, service stopped ........... {:7.1} s (the loose path: {:.1}× that)",
        s(bare_after),
        s(units.accepted) / s(bare_after)
    );
    for (label, t) in [
        ("units", &units),
        (&format!("{PACKAGES} packages"), &packages),
    ] {
        println!(
            "{label:>13}: upload {:6.1} s · checked and shipped {:6.1} s · accepted {:6.1} s  = {:.1}× the limit",
            s(t.upload),
            s(t.checked),
            s(t.accepted),
            s(t.accepted) / s(bare)
        );
    }
    println!(
        "{PACKAGES} packages against {n} loose codes: {:.1}× the time, whole path",
        s(packages.accepted) / s(units.accepted)
    );
    for (label, t) in [
        (
            format!("aggregation of {n} codes into {PACKAGES} packages"),
            &packing,
        ),
        (
            format!("disaggregation of the {PACKAGES} packages"),
            &unpacking,
        ),
    ] {
        let [a, b, _] = t.peaks;
        println!(
            "{label}: upload {:.1} s · applied {:.1} s = {:.1}× the limit; peak memory {a:.0} MiB, {b:.0} MiB",
            s(t.upload),
            s(t.checked),
            s(t.checked) / s(bare)
        );
    }
    let peak = [&units, &packages, &packing, &unpacking]
        .iter()
        .flat_map(|t| t.peaks)
        .fold(0.0, f64::max);
    for (label, t) in [("units", &units), ("packages", &packages)] {
        let [a, b, c] = t.peaks;
        println!(
            "{label:>13}: peak memory: upload {a:.0} MiB · checked and shipped {b:.0} MiB · accepted {c:.0} MiB"
        );
    }
    println!("service peak memory (VmHWM): {peak:.0} MiB");
    println!(
        "killed {:.1} s after the upload of {n} codes, a second into applying them: nothing applied; restarted, applied whole in {:.1} s",
        s(kill_after),
        s(recovered)
    );
    Ok(())
}
