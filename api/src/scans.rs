//! The scan recorder: every scan of a parsable unit code is written to the
//! scans table (`store/scans.rs`) behind the answer, in batches.
//!
//! A handler hands the record to [`ScanRecorder::record`], which puts it in a
//! bounded queue (`scan_record_queue`) and returns at once; it never waits
//! and never fails. One background task ([`ScanWriter`]) takes records off
//! the queue and inserts them with multi-row `INSERT`s of up to
//! [`MAX_BATCH`] rows: everything that arrived within [`BATCH_EVERY`] of the
//! first record of the batch.
//!
//! Trade-offs, chosen on purpose:
//!
//! - When the queue is full (the database is slow or down for longer than
//!   the queue lasts), the record is dropped and counted, with a warning at
//!   most every [`WARN_EVERY`]: a citizen's answer is worth more than one
//!   row of statistics, and memory stays bounded.
//! - A batch whose `INSERT` fails is logged and counted as failed, not
//!   retried: retrying would hold the queue while it fills.
//! - On a graceful stop (SIGTERM, `Application` stop) the server first
//!   finishes the requests in flight, then the writer drains the queue and
//!   writes it before the process exits ([`ScanWriter::finish`]). A crash
//!   loses what is queued: at most `scan_record_queue` rows, usually the
//!   last 200 ms.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use crate::store::Store;
pub use crate::store::{Channel, Context, MAX_BATCH, NewScan};

/// Longest a record waits in a batch that is not full.
pub const BATCH_EVERY: Duration = Duration::from_millis(200);

/// Least time between two warnings about dropped records.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderStats {
    /// Rows written.
    pub recorded: u64,
    /// Records dropped because the queue was full (or the writer stopped).
    pub dropped: u64,
    /// Rows of batches whose `INSERT` failed.
    pub failed: u64,
    /// `INSERT` statements run (successful or not).
    pub batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
}

/// The handlers' side of the recorder; cheap to share (`Arc`).
#[derive(Debug)]
pub struct ScanRecorder {
    /// `None` when recording is off (`scan_record = false`).
    queue: Option<mpsc::Sender<NewScan>>,
    counters: Arc<Counters>,
    warned_at: Mutex<Option<Instant>>,
}

/// The background task that writes the queue; owned by the application,
/// which calls [`ScanWriter::finish`] when it stops.
#[derive(Debug)]
pub struct ScanWriter {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
    counters: Arc<Counters>,
}

impl ScanRecorder {
    /// A recorder with a queue of `capacity` records, and its writer (a
    /// task on the current tokio runtime) inserting into `store`.
    pub fn start(store: Store, capacity: usize) -> (ScanRecorder, ScanWriter) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(write_batches(
            receiver,
            store,
            counters.clone(),
            stop.clone(),
        ));
        let recorder = ScanRecorder {
            queue: Some(queue),
            counters: counters.clone(),
            warned_at: Mutex::new(None),
        };
        (
            recorder,
            ScanWriter {
                stop,
                task,
                counters,
            },
        )
    }

    /// A recorder that records nothing (`scan_record = false`).
    pub fn disabled() -> ScanRecorder {
        ScanRecorder {
            queue: None,
            counters: Arc::default(),
            warned_at: Mutex::new(None),
        }
    }

    /// Queues one scan; returns at once, whatever happens to it.
    pub fn record(&self, scan: NewScan) {
        let Some(queue) = &self.queue else {
            return;
        };
        if queue.try_send(scan).is_err() {
            self.dropped();
        }
    }

    fn dropped(&self) {
        let total = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // `try_lock`: a scan never waits for another scan's warning.
        if let Ok(mut at) = self.warned_at.try_lock()
            && at.is_none_or(|t| t.elapsed() >= WARN_EVERY)
        {
            *at = Some(Instant::now());
            tracing::warn!(
                dropped_total = total,
                "scan records dropped: the record queue is full (is the database slow or down?)"
            );
        }
    }

    pub fn stats(&self) -> RecorderStats {
        stats(&self.counters)
    }
}

fn stats(c: &Counters) -> RecorderStats {
    RecorderStats {
        recorded: c.recorded.load(Ordering::Relaxed),
        dropped: c.dropped.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
        batches: c.batches.load(Ordering::Relaxed),
    }
}

impl ScanWriter {
    /// Stops taking records, writes what is queued, and waits for it, at
    /// most `timeout` (a database that does not answer must not keep the
    /// process from exiting).
    pub async fn finish(self, timeout: Duration) {
        self.stop.notify_one();
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the scan writer failed"),
            Err(_) => tracing::error!(
                ?timeout,
                "the scan writer did not finish in time; queued scan records are lost"
            ),
        }
        let s = stats(&self.counters);
        tracing::info!(
            recorded = s.recorded,
            dropped = s.dropped,
            failed = s.failed,
            "scan recorder stopped"
        );
    }
}

/// The writer's loop: a batch starts with the first record that arrives;
/// the writer then sleeps [`BATCH_EVERY`] and writes everything queued by
/// then, [`MAX_BATCH`] rows a statement. While it sleeps nobody wakes it:
/// a record sent to a queue whose receiver is not waiting costs no wake-up
/// (no `eventfd` write, no context switch), so the scan handlers pay for
/// one wake-up per batch instead of one per scan. When told to stop, it
/// closes the queue (later records are dropped and counted), writes what
/// is left, and ends.
async fn write_batches(
    mut queue: mpsc::Receiver<NewScan>,
    store: Store,
    counters: Arc<Counters>,
    stop: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let stopping = stop.notified();
    tokio::pin!(stopping);
    let mut stopped = false;
    while !stopped {
        tokio::select! {
            received = queue.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    // Every sender is gone: nothing more can come.
                    break;
                }
            }
            () = &mut stopping => {
                stopped = true;
            }
        }
        if !stopped {
            tokio::select! {
                () = tokio::time::sleep(BATCH_EVERY) => {}
                () = &mut stopping => {
                    stopped = true;
                }
            }
        }
        if stopped {
            // Closed, the queue still hands out what it holds, then nothing.
            queue.close();
        }
        write_queued(&mut queue, &store, &counters, &mut batch).await;
    }
}

/// Writes `batch` and whatever the queue holds now, without waiting for
/// more, in statements of at most [`MAX_BATCH`] rows.
async fn write_queued(
    queue: &mut mpsc::Receiver<NewScan>,
    store: &Store,
    counters: &Counters,
    batch: &mut Vec<NewScan>,
) {
    loop {
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(scan) => batch.push(scan),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            return;
        }
        write(store, counters, batch).await;
    }
}

async fn write(store: &Store, counters: &Counters, batch: &mut Vec<NewScan>) {
    if batch.is_empty() {
        return;
    }
    let rows = batch.len() as u64;
    counters.batches.fetch_add(1, Ordering::Relaxed);
    match store.insert_scans(batch).await {
        Ok(()) => {
            counters.recorded.fetch_add(rows, Ordering::Relaxed);
        }
        Err(e) => {
            counters.failed.fetch_add(rows, Ordering::Relaxed);
            tracing::error!(
                error = format!("{e:#}"),
                rows,
                "writing scan records failed; they are lost"
            );
        }
    }
    batch.clear();
}
