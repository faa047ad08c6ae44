//! Emission, below HTTP: an order is filled with exactly its quantity of
//! unique codes, each signed by the operator's key and stored EMITTED; and a
//! service killed in the middle of a large order finishes it after a restart
//! with exactly the ordered number of unique codes — none lost, none extra.
//!
//! The orders are created in the store directly (the HTTP path, with sign-in
//! and catalogue checks, is tested in `orders.rs`); everything after that is
//! the real worker, in process or in the real `tanba` binary.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Db;
use tanba_api::ids::ParticipantId;
use tanba_api::store::{OrderStatus, Store};
use tanba_core::crypto::{Keyring, SignatureStatus};
use tanba_core::{Gtin, KeyId};

fn gtin() -> Gtin {
    Gtin::parse("04652352262009").expect("gtin")
}

async fn new_order(store: &Store, quantity: i64) -> tanba_api::ids::OrderId {
    let mut tx = store.begin().await.expect("tx");
    let order = tx
        .create_order(ParticipantId::new(), &gtin(), quantity, "production")
        .await
        .expect("order");
    tx.commit().await.expect("commit");
    order.id
}

on_every_database!(
    an_order_gets_exactly_its_quantity_of_unique_signed_emitted_codes,
    |db: Db| async move {
        let store = Store::connect(&db.settings()).await.expect("store");
        let key = Arc::new(tanba_api::keys::generate(KeyId::parse("EM01").expect("id")));
        // More than one chunk, and not a multiple of it.
        let quantity = tanba_api::emission::CHUNK as i64 * 2 + 777;
        let id = new_order(&store, quantity).await;
        tanba_api::emission::fill(&store, &key, id)
            .await
            .expect("filled");

        let order = store.order(id).await.expect("read").expect("order");
        assert_eq!(order.status, OrderStatus::Ready);
        assert_eq!(order.generated, quantity);
        assert_eq!(
            store.count_order_codes(id).await.expect("count"),
            (quantity, quantity)
        );

        // Fetched page by page, every code verifies against the operator's key.
        let mut ring = Keyring::new();
        ring.insert(key.public());
        let mut all = Vec::new();
        let mut page = 0;
        loop {
            let codes = store
                .order_codes(id, page * 10_000, 10_000)
                .await
                .expect("page");
            if codes.is_empty() {
                break;
            }
            all.extend(codes);
            page += 1;
        }
        assert_eq!(all.len() as i64, quantity);
        let statuses = ring.verify_batch(&all);
        assert!(statuses.iter().all(|s| *s == SignatureStatus::Valid));
        assert!(all.iter().all(|c| c.gtin() == &gtin()));

        // Filling a ready order again adds nothing.
        tanba_api::emission::fill(&store, &key, id)
            .await
            .expect("no-op");
        assert_eq!(
            store.count_order_codes(id).await.expect("count").0,
            quantity
        );
    }
);

fn serve(db: &Db) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tanba"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(db.dir.path())
        .env("TANBA_DATABASE_URL", &db.url)
        .env("TANBA_EMISSION_KEY_FILE", db.path("emission.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tanba serve starts")
}

async fn wait_for(
    store: &Store,
    id: tanba_api::ids::OrderId,
    mut server: Option<&mut Child>,
    limit: Duration,
    done: impl Fn(i64, OrderStatus) -> bool,
) -> (i64, OrderStatus) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = server.as_mut().and_then(|c| c.try_wait().expect("wait")) {
            panic!("tanba serve exited with {status}");
        }
        let order = store.order(id).await.expect("read").expect("order");
        if done(order.generated, order.status) {
            return (order.generated, order.status);
        }
        assert!(
            Instant::now() < deadline,
            "waited {limit:?}: {} of {}",
            order.generated,
            order.quantity
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn killed_mid_order_finishes_after_restart(db: Db) {
    // A million codes in CI (TANBA_TEST_SLOW=1, set by scripts/test); fewer
    // for a quick local run. Either way several chunks.
    let quantity: i64 = if std::env::var("TANBA_TEST_SLOW").is_ok() {
        1_000_000
    } else {
        150_000
    };
    let store = Store::connect(&db.settings()).await.expect("store");
    let id = new_order(&store, quantity).await;

    let mut first = serve(&db);
    let (before_kill, _) = wait_for(
        &store,
        id,
        Some(&mut first),
        Duration::from_secs(300),
        |g, _| g > 0,
    )
    .await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let (at_kill, status) = wait_for(&store, id, None, Duration::from_secs(5), |_, _| true).await;
    assert!(before_kill <= at_kill);
    assert_eq!(
        status,
        OrderStatus::Created,
        "killed before the order finished"
    );
    assert!(
        at_kill < quantity,
        "killed mid-way: {at_kill} of {quantity}"
    );
    // What was committed is whole chunks, counted exactly.
    assert_eq!(store.count_order_codes(id).await.expect("count").0, at_kill);

    let mut second = serve(&db);
    let (generated, _) = wait_for(
        &store,
        id,
        Some(&mut second),
        Duration::from_secs(600),
        |_, s| s == OrderStatus::Ready,
    )
    .await;
    second.kill().expect("stopped");
    second.wait().expect("reaped");
    assert_eq!(generated, quantity);
    assert_eq!(
        store.count_order_codes(id).await.expect("count"),
        (quantity, quantity)
    );
}

#[tokio::test]
async fn a_service_killed_mid_order_finishes_it_after_restart_on_sqlite() {
    killed_mid_order_finishes_after_restart(Db::sqlite()).await;
}

#[tokio::test]
async fn a_service_killed_mid_order_finishes_it_after_restart_on_postgres() {
    if let Some(db) = Db::postgres().await {
        killed_mid_order_finishes_after_restart(db).await;
    }
}
