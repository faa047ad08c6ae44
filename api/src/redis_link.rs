//! The process's one Redis connection, shared by the card cache
//! ([`crate::cache`]) and the sightings of codes ([`crate::sightings`]).
//!
//! **A scan never waits for a connect.** [`RedisLink::run`] uses the live
//! connection or answers `None` at once; it never dials. Connecting is the
//! job of one background task: it dials once at start-up (start-up waits for
//! that one attempt, at most `redis_timeout_ms`, so that the first scans
//! already share Redis with the other instances), and again after every
//! failure. While there is no live connection, callers answer without Redis
//! (the cache from the database, the sightings from memory).
//!
//! A failed command (an error or a timeout) drops the connection and wakes
//! the task, which leaves Redis alone for [`REDIS_PAUSE`] before each attempt:
//! an outage costs one failed round trip per pause, not one per scan.
//!
//! Why not redis-rs' `ConnectionManager`: it reconnects by itself, but the
//! commands issued while it does wait for the reconnection. That wait, and
//! the previous design's lock held across a connect attempt (with a retry
//! and its back-off), which every scan queued behind once a second, are the
//! likely cause of the 139 ms p99 measured with Redis unreachable
//! (BENCHMARKS.md). A plain multiplexed connection that is either live or
//! absent keeps every wait for a connect off the request path.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use anyhow::Context as _;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::Notify;

/// How long Redis is left alone after a failure, and between two failed
/// connection attempts.
pub const REDIS_PAUSE: Duration = Duration::from_secs(1);

/// A live connection and its generation: a failure reported on an older
/// generation does not drop a newer connection.
#[derive(Clone)]
struct Live {
    generation: u64,
    connection: MultiplexedConnection,
}

/// The shared Redis connection; cheap to share (`Arc`), one per process.
pub struct RedisLink {
    client: redis::Client,
    prefix: String,
    /// Longest wait for a connect or a command.
    timeout: Duration,
    live: RwLock<Option<Live>>,
    generations: AtomicU64,
    /// Wakes the connecting task after a failure.
    wake: Arc<Notify>,
    /// Whether the last connection attempt failed, so that an outage is
    /// logged once, not once a second.
    down_logged: AtomicBool,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: not shown.
        f.debug_struct("RedisLink")
            .field("prefix", &self.prefix)
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Drop for RedisLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RedisLink {
    /// A link to Redis at `url`, every key starting with `prefix`. Makes one
    /// connection attempt (at most `timeout`) before returning; when it
    /// fails, the service starts anyway and the background task keeps
    /// trying. Fails only on a URL that is not a Redis URL. Needs a tokio
    /// runtime.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url).context("redis_url is not a Redis URL")?;
        let wake = Arc::new(Notify::new());
        let link = Arc::new_cyclic(|weak: &Weak<RedisLink>| RedisLink {
            client,
            prefix: prefix.to_owned(),
            timeout,
            live: RwLock::new(None),
            generations: AtomicU64::new(0),
            wake: wake.clone(),
            down_logged: AtomicBool::new(false),
            task: tokio::spawn(reconnect_forever(weak.clone(), wake.clone())),
        });
        if !link.try_connect().await {
            link.wake.notify_one();
        }
        Ok(link)
    }

    /// `prefix` + `kind` + `rest`, e.g. `tanba:code:01…21…`.
    pub fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}{kind}{rest}", self.prefix)
    }

    pub fn is_connected(&self) -> bool {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn connection(&self) -> Option<Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs one command (or pipeline) on the live connection: `None` at once
    /// when there is none, or when the command fails or takes longer than
    /// the timeout (the connection is then dropped and re-made in the
    /// background). `what` names the command in the warning.
    pub async fn run<T, F, Fut>(&self, what: &str, command: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let live = self.connection()?;
        match tokio::time::timeout(self.timeout, command(live.connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.failed(live.generation, what, &e);
                None
            }
            Err(_) => {
                self.failed(live.generation, what, &"timed out");
                None
            }
        }
    }

    fn failed(&self, generation: u64, what: &str, error: &dyn std::fmt::Display) {
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        if live.as_ref().is_some_and(|l| l.generation == generation) {
            *live = None;
            tracing::warn!(%error, "redis {what} failed; going on without Redis until it is back");
            self.wake.notify_one();
        }
    }

    /// One connection attempt; `true` when a connection is live after it.
    async fn try_connect(&self) -> bool {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => {
                let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
                *self.live.write().unwrap_or_else(|e| e.into_inner()) = Some(Live {
                    generation,
                    connection,
                });
                if self.down_logged.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis is reachable again");
                }
                true
            }
            Err(error) => {
                if !self.down_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "redis is unreachable; retrying in the background every second");
                } else {
                    tracing::debug!(%error, "redis still unreachable");
                }
                false
            }
        }
    }
}

/// The connecting task: after each wake-up, waits [`REDIS_PAUSE`] and tries
/// to connect until it succeeds. Holds the link weakly; the link aborts it
/// when dropped.
async fn reconnect_forever(link: Weak<RedisLink>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        loop {
            tokio::time::sleep(REDIS_PAUSE).await;
            let Some(link) = link.upgrade() else {
                return;
            };
            if link.is_connected() || link.try_connect().await {
                break;
            }
        }
    }
}
