//! The scan cache (`CardCache`) on its own: hits, brief "not found", invalidation,
//! single flight, in process and in Redis (when `TANBA_TEST_REDIS_URL` is
//! set), and Redis that is down, stops mid-run or comes back, which must
//! never turn a scan into an error.
//!
//! Hits and loads are read from the cache's counters, not from timing.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tanba_api::cache::{CacheStats, Card, CardCache};
use tanba_api::redis_link::RedisLink;
use tanba_core::lifecycle::CodeState;

fn card(n: i64) -> Card {
    Card {
        key_id: "TK01".to_owned(),
        crypto_tail: "t".repeat(86),
        state: CodeState::EMITTED,
        emitted_at: n,
        product: None,
    }
}

const TTL: Duration = Duration::from_secs(300);
const NOT_FOUND_TTL: Duration = Duration::from_secs(1);
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

async fn link(url: &str) -> Arc<RedisLink> {
    RedisLink::connect(url, &prefix(), REDIS_TIMEOUT)
        .await
        .expect("a Redis URL")
}

/// The caches to test: in process, and Redis when configured (a prefix of
/// its own per call, so parallel tests do not meet).
async fn caches() -> Vec<(&'static str, CardCache)> {
    let mut caches = vec![("memory", CardCache::in_memory(1000, TTL, NOT_FOUND_TTL))];
    match std::env::var("TANBA_TEST_REDIS_URL") {
        Ok(url) => caches.push((
            "redis",
            CardCache::redis(link(&url).await, TTL, NOT_FOUND_TTL),
        )),
        Err(_) => eprintln!("redis part skipped: TANBA_TEST_REDIS_URL is not set"),
    }
    caches
}

/// Looks `identity` up, loading `answer` on a miss and counting loads.
async fn lookup(cache: &CardCache, identity: &str, answer: Option<Card>) -> Option<Card> {
    (*cache
        .get_or_load(identity, || async move { Ok(answer) })
        .await
        .expect("lookup"))
    .clone()
}

#[tokio::test]
async fn a_second_scan_is_served_from_the_cache() {
    for (name, cache) in caches().await {
        assert_eq!(lookup(&cache, "01A21x", Some(card(1))).await, Some(card(1)));
        // A different answer from the loader would show if it ran.
        assert_eq!(lookup(&cache, "01A21x", Some(card(2))).await, Some(card(1)));
        assert_eq!(cache.stats(), CacheStats { hits: 1, loads: 1 }, "{name}");
    }
}

#[tokio::test]
async fn not_found_is_cached_briefly() {
    for (name, cache) in caches().await {
        assert_eq!(lookup(&cache, "01B21x", None).await, None);
        assert_eq!(lookup(&cache, "01B21x", Some(card(1))).await, None);
        assert_eq!(cache.stats().loads, 1, "{name}");
        // After cache_not_found_secs the code is looked up again (and found).
        tokio::time::sleep(NOT_FOUND_TTL + Duration::from_millis(1200)).await;
        assert_eq!(
            lookup(&cache, "01B21x", Some(card(1))).await,
            Some(card(1)),
            "{name}"
        );
        assert_eq!(cache.stats().loads, 2, "{name}");
    }
}

#[tokio::test]
async fn invalidate_forgets_a_card() {
    for (name, cache) in caches().await {
        lookup(&cache, "01C21x", Some(card(1))).await;
        lookup(&cache, "01D21x", Some(card(5))).await;
        cache.invalidate("01C21x").await;
        assert_eq!(
            lookup(&cache, "01C21x", Some(card(2))).await,
            Some(card(2)),
            "{name}"
        );
        // Other cards stay.
        assert_eq!(
            lookup(&cache, "01D21x", Some(card(6))).await,
            Some(card(5)),
            "{name}"
        );
        assert_eq!(cache.stats(), CacheStats { hits: 1, loads: 3 }, "{name}");
    }
}

#[tokio::test]
async fn concurrent_scans_of_a_cold_code_load_it_once() {
    for (name, cache) in caches().await {
        let cache = Arc::new(cache);
        let loads = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let cache = cache.clone();
            let loads = loads.clone();
            tasks.spawn(async move {
                cache
                    .get_or_load("01E21x", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(Some(card(7)))
                    })
                    .await
                    .expect("lookup")
            });
        }
        while let Some(answer) = tasks.join_next().await {
            assert_eq!(*answer.expect("task"), Some(card(7)));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(cache.stats(), CacheStats { hits: 31, loads: 1 }, "{name}");
    }
}

#[tokio::test]
async fn a_failed_load_is_not_cached() {
    for (name, cache) in caches().await {
        let failed = cache
            .get_or_load("01F21x", || async { anyhow::bail!("database down") })
            .await;
        assert!(failed.is_err(), "{name}");
        assert_eq!(
            lookup(&cache, "01F21x", Some(card(1))).await,
            Some(card(1)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn with_redis_down_every_scan_is_answered_from_the_loader() {
    // Nothing listens on port 1.
    let cache = CardCache::redis(link("redis://127.0.0.1:1").await, TTL, NOT_FOUND_TTL);
    for n in 0..3 {
        assert_eq!(lookup(&cache, "01G21x", Some(card(n))).await, Some(card(n)));
    }
    cache.invalidate("01G21x").await;
    assert_eq!(cache.stats(), CacheStats { hits: 0, loads: 3 });
}

/// A Redis server of our own, stopped when dropped.
struct OwnRedis {
    port: u16,
    stopped: bool,
}

impl OwnRedis {
    /// On a free port.
    fn start() -> Option<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Option<OwnRedis> {
        let started = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "yes", "--bind", "127.0.0.1"])
            .stdout(Stdio::null())
            .status()
            .ok()?;
        if !started.success() {
            return None;
        }
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(OwnRedis {
                    port,
                    stopped: false,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_stopping_mid_run_never_fails_a_scan_and_is_used_again_when_back() {
    if std::env::var("TANBA_TEST_REDIS_URL").is_err() {
        eprintln!("skipped: TANBA_TEST_REDIS_URL is not set (redis-server is needed)");
        return;
    }
    let Some(mut redis) = OwnRedis::start() else {
        panic!("redis-server could not be started");
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let link = link(&url).await;
    assert!(link.is_connected());
    let cache = CardCache::redis(link.clone(), TTL, NOT_FOUND_TTL);
    assert_eq!(lookup(&cache, "01H21x", Some(card(1))).await, Some(card(1)));
    assert_eq!(lookup(&cache, "01H21x", Some(card(2))).await, Some(card(1)));
    assert_eq!(cache.stats(), CacheStats { hits: 1, loads: 1 });

    redis.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Now every scan goes to the loader (the database), and none fails.
    for n in 3..6 {
        assert_eq!(lookup(&cache, "01H21x", Some(card(n))).await, Some(card(n)));
    }
    cache.invalidate("01H21x").await;
    assert_eq!(cache.stats().loads, 4);

    // Redis comes back on the same port: the link reconnects by itself,
    // in the background, and the cache is used again.
    let Some(_back) = OwnRedis::start_on(redis.port) else {
        panic!("redis-server could not be restarted");
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !link.is_connected() {
        assert!(Instant::now() < deadline, "the link did not reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lookup(&cache, "01H21x", Some(card(7))).await;
    let loads = cache.stats().loads;
    assert_eq!(
        lookup(&cache, "01H21x", Some(card(8))).await,
        Some(card(7)),
        "served from Redis again"
    );
    assert_eq!(cache.stats().loads, loads);
}
