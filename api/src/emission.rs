//! The emission worker: fills `CREATED` orders with new signed codes.
//!
//! Serials come from the operating system's CSPRNG (never from the
//! participant), each code is signed with the current emission key, and the
//! codes are stored in chunks (see `Store::emit_chunk`: one transaction per
//! chunk, with the order's counter). Generating and signing run on the
//! blocking pool while the previous chunk is being written, so on a machine
//! with two cores the database and the signatures overlap.
//!
//! The worker wakes when an order is created and also every few seconds, so
//! orders left unfinished by a crash or a stop are picked up after a restart.
//! Several service instances may run workers: the order row is locked for each
//! chunk, and `generated` is re-read under the lock, so no order ever gets
//! more codes than it asked for.

use std::sync::Arc;
use std::time::Duration;

use tanba_core::crypto::EmissionKey;
use tanba_core::{Gtin, MarkingCode, Serial};
use tokio::sync::{Notify, mpsc};

use crate::ids::OrderId;
use crate::store::Store;

/// Codes per chunk: big enough that a transaction's fixed cost vanishes, small
/// enough that a crash redoes little and memory stays flat (a chunk of 20,000
/// codes is about 4 MB).
pub const CHUNK: usize = 20_000;

/// How often the worker looks for pending orders without being woken.
const POLL: Duration = Duration::from_secs(2);

/// A handle to wake the worker.
#[derive(Debug, Clone, Default)]
pub struct Emission {
    wake: Arc<Notify>,
}

impl Emission {
    /// Tells the worker there is a new order.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the worker until the task is dropped.
    pub fn spawn(&self, store: Store, key: Arc<EmissionKey>) -> tokio::task::JoinHandle<()> {
        let wake = self.wake.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = fill_pending(&store, &key).await {
                    tracing::error!(error = ?err, "emission worker: will retry");
                }
                let _ = tokio::time::timeout(POLL, wake.notified()).await;
            }
        })
    }
}

/// Fills every pending order, oldest first.
pub async fn fill_pending(store: &Store, key: &Arc<EmissionKey>) -> anyhow::Result<()> {
    for id in store.pending_orders().await? {
        fill(store, key, id).await?;
    }
    Ok(())
}

/// Fills one order to its quantity.
#[tracing::instrument(skip(store, key))]
pub async fn fill(store: &Store, key: &Arc<EmissionKey>, id: OrderId) -> anyhow::Result<()> {
    loop {
        let Some(order) = store.order(id).await? else {
            return Ok(());
        };
        let remaining = usize::try_from(order.quantity - order.generated).unwrap_or(0);
        if order.status != crate::store::OrderStatus::Created || remaining == 0 {
            return Ok(());
        }
        let gtin = Gtin::parse(&order.gtin).map_err(|e| anyhow::anyhow!("order {id}: {e}"))?;

        // Producer: signed chunks from the blocking pool, two in flight.
        let (tx, mut rx) = mpsc::channel::<Vec<MarkingCode>>(2);
        let producer = {
            let key = key.clone();
            let gtin = gtin.clone();
            tokio::spawn(async move {
                let mut left = remaining;
                while left > 0 {
                    let n = left.min(CHUNK);
                    left -= n;
                    let (key, gtin) = (key.clone(), gtin.clone());
                    let Ok(chunk) =
                        tokio::task::spawn_blocking(move || sign_new(&key, &gtin, n)).await
                    else {
                        break;
                    };
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            })
        };
        let mut ready = false;
        while let Some(chunk) = rx.recv().await {
            let outcome = store.emit_chunk(id, order.participant, &chunk).await?;
            if outcome.ready {
                ready = true;
                break;
            }
        }
        drop(rx);
        let _ = producer.await;
        if ready {
            tracing::info!(order = %id, quantity = order.quantity, "order ready");
            return Ok(());
        }
        // Serial collisions (astronomically rare) left the order short:
        // the loop makes the difference.
    }
}

/// `n` new codes for `gtin`, each with a fresh serial, signed.
///
/// The serials come from ChaCha12 (`StdRng`, a CSPRNG) seeded from the
/// operating system for each chunk: as unpredictable as the OS source, without
/// a system call for every character.
pub fn sign_new(key: &EmissionKey, gtin: &Gtin, n: usize) -> Vec<MarkingCode> {
    use rand::SeedableRng as _;
    let mut rng = rand::rngs::StdRng::from_entropy();
    (0..n)
        .map(|_| key.sign(MarkingCode::new(gtin.clone(), Serial::generate(&mut rng))))
        .collect()
}
