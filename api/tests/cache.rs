//! The scan cache (`CardCache`) on its own: hits, brief "not found" (of codes
//! and of products), invalidation of a code and of a product, single flight
//! for both, in process and in Redis (when `TANBA_TEST_REDIS_URL` is set),
//! and Redis that is down, stops mid-run or comes back, which must never
//! turn a scan into an error.
//!
//! Hits and loads are read from the cache's counters, not from timing. The
//! database is a stand-in (`Source`) whose answers the tests change, so a
//! load that should not have happened shows as a different answer.

use std::collections::HashMap;
use std::future::Future;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tanba_api::cache::{CacheStats, Card, CardCache, CardProduct, CardSource, CodeCard};
use tanba_api::redis_link::RedisLink;
use tanba_core::lifecycle::CodeState;
use tanba_core::{Gtin, MarkingCode, Serial};

const TTL: Duration = Duration::from_secs(300);
const NOT_FOUND_TTL: Duration = Duration::from_secs(1);
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

const MILK: &str = "04652352262009";
const WATER: &str = "04600000000008";

/// Code number `n` of a product.
fn code(gtin: &str, n: u32) -> MarkingCode {
    MarkingCode::new(
        Gtin::parse(gtin).expect("gtin"),
        Serial::parse(&format!("CACHETEST{n:04}")).expect("serial"),
    )
}

fn code_card(n: i64) -> CodeCard {
    CodeCard {
        key_id: "TK01".to_owned(),
        crypto_tail: "t".repeat(86),
        state: CodeState::EMITTED,
        emitted_at: n,
        introduced_at: None,
        sold_at: None,
    }
}

fn product(name: &str) -> CardProduct {
    CardProduct {
        name_kk: name.to_owned(),
        name_ru: name.to_owned(),
        product_group: "dairy".to_owned(),
        tnved: "0401201100".to_owned(),
        manufacturer_name: "ТОО Сүт".to_owned(),
        manufacturer_country: "KZ".to_owned(),
        importer_name: None,
        importer_bin: None,
        conformity_kind: "declaration".to_owned(),
        conformity_number: "1".to_owned(),
        conformity_date: "2025-01-01".to_owned(),
        test_certificate_number: None,
        test_certificate_date: None,
        recommended_price_tiyn: 100,
        photo_url: None,
    }
}

/// The database's stand-in: what it holds can be changed, a load can be
/// made slow or failing, and loads are counted here too.
#[derive(Default)]
struct Source {
    codes: Mutex<HashMap<String, CodeCard>>,
    products: Mutex<HashMap<String, CardProduct>>,
    delay: Mutex<Duration>,
    failing: AtomicBool,
    code_loads: AtomicU64,
    product_loads: AtomicU64,
}

impl Source {
    fn set_code(&self, code: &MarkingCode, card: Option<CodeCard>) {
        let mut codes = self.codes.lock().expect("lock");
        match card {
            Some(card) => codes.insert(code.identity(), card),
            None => codes.remove(&code.identity()),
        };
    }

    fn set_product(&self, gtin: &str, card: Option<CardProduct>) {
        let mut products = self.products.lock().expect("lock");
        match card {
            Some(card) => products.insert(gtin.to_owned(), card),
            None => products.remove(gtin),
        };
    }

    fn slow(&self, delay: Duration) {
        *self.delay.lock().expect("lock") = delay;
    }
}

impl CardSource for Source {
    fn code(
        &self,
        code: &MarkingCode,
    ) -> impl Future<Output = anyhow::Result<Option<CodeCard>>> + Send {
        self.code_loads.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .codes
            .lock()
            .expect("lock")
            .get(&code.identity())
            .cloned();
        let delay = *self.delay.lock().expect("lock");
        let failing = self.failing.load(Ordering::SeqCst);
        async move {
            tokio::time::sleep(delay).await;
            anyhow::ensure!(!failing, "database down");
            Ok(answer)
        }
    }

    fn product(
        &self,
        gtin: &Gtin,
    ) -> impl Future<Output = anyhow::Result<Option<CardProduct>>> + Send {
        self.product_loads.fetch_add(1, Ordering::SeqCst);
        let answer = self
            .products
            .lock()
            .expect("lock")
            .get(gtin.as_str())
            .cloned();
        let delay = *self.delay.lock().expect("lock");
        async move {
            tokio::time::sleep(delay).await;
            Ok(answer)
        }
    }
}

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

/// The card as plain values.
async fn lookup(
    cache: &CardCache,
    source: &Source,
    code: &MarkingCode,
) -> Option<(CodeCard, Option<CardProduct>)> {
    let card: Option<Card> = cache.card(code, source).await.expect("lookup");
    card.map(|c| ((*c.code).clone(), c.product.as_deref().cloned()))
}

fn stats(hits: u64, code_loads: u64, product_loads: u64) -> CacheStats {
    CacheStats {
        hits,
        code_loads,
        product_loads,
    }
}

#[tokio::test]
async fn a_second_scan_is_served_from_the_cache() {
    for (name, cache) in caches().await {
        let source = Source::default();
        let milk = code(MILK, 1);
        source.set_code(&milk, Some(code_card(1)));
        source.set_product(MILK, Some(product("Сүт")));
        let first = Some((code_card(1), Some(product("Сүт"))));
        assert_eq!(lookup(&cache, &source, &milk).await, first, "{name}");
        // Different answers from the source would show if it were asked.
        source.set_code(&milk, Some(code_card(2)));
        source.set_product(MILK, Some(product("Айран")));
        assert_eq!(lookup(&cache, &source, &milk).await, first, "{name}");
        assert_eq!(cache.stats(), stats(1, 1, 1), "{name}");
    }
}

#[tokio::test]
async fn codes_of_one_product_share_its_cached_card() {
    for (name, cache) in caches().await {
        let source = Source::default();
        source.set_product(MILK, Some(product("Сүт")));
        for n in 1..=3 {
            source.set_code(&code(MILK, n), Some(code_card(n.into())));
            let (card, product_card) = lookup(&cache, &source, &code(MILK, n))
                .await
                .expect("stored");
            assert_eq!(card, code_card(n.into()), "{name}");
            assert_eq!(product_card, Some(product("Сүт")), "{name}");
        }
        assert_eq!(cache.stats(), stats(0, 3, 1), "{name}");
    }
}

#[tokio::test]
async fn an_unknown_code_is_cached_briefly_and_needs_no_product() {
    for (name, cache) in caches().await {
        let source = Source::default();
        source.set_product(MILK, Some(product("Сүт")));
        let milk = code(MILK, 4);
        assert_eq!(lookup(&cache, &source, &milk).await, None, "{name}");
        source.set_code(&milk, Some(code_card(1)));
        assert_eq!(lookup(&cache, &source, &milk).await, None, "{name}");
        assert_eq!(cache.stats(), stats(1, 1, 0), "{name}");
        // After cache_not_found_secs the code is looked up again (and found).
        tokio::time::sleep(NOT_FOUND_TTL + Duration::from_millis(1200)).await;
        assert_eq!(
            lookup(&cache, &source, &milk).await,
            Some((code_card(1), Some(product("Сүт")))),
            "{name}"
        );
        assert_eq!(cache.stats(), stats(1, 2, 1), "{name}");
    }
}

#[tokio::test]
async fn an_unknown_product_is_cached_briefly_too() {
    for (name, cache) in caches().await {
        let source = Source::default();
        let water = code(WATER, 1);
        source.set_code(&water, Some(code_card(1)));
        assert_eq!(
            lookup(&cache, &source, &water).await,
            Some((code_card(1), None)),
            "{name}"
        );
        source.set_product(WATER, Some(product("Су")));
        assert_eq!(
            lookup(&cache, &source, &water).await,
            Some((code_card(1), None)),
            "{name}"
        );
        tokio::time::sleep(NOT_FOUND_TTL + Duration::from_millis(1200)).await;
        assert_eq!(
            lookup(&cache, &source, &water).await,
            Some((code_card(1), Some(product("Су")))),
            "{name}"
        );
        assert_eq!(cache.stats(), stats(1, 1, 2), "{name}");
    }
}

#[tokio::test]
async fn invalidate_forgets_a_code_and_invalidate_product_forgets_a_product() {
    for (name, cache) in caches().await {
        let source = Source::default();
        let (one, two) = (code(MILK, 11), code(MILK, 12));
        source.set_code(&one, Some(code_card(1)));
        source.set_code(&two, Some(code_card(5)));
        source.set_product(MILK, Some(product("Сүт")));
        lookup(&cache, &source, &one).await;
        lookup(&cache, &source, &two).await;

        // A status change: that code is read again, the other is not.
        source.set_code(&one, Some(code_card(2)));
        source.set_code(&two, Some(code_card(6)));
        cache.invalidate(&one.identity()).await;
        let (card, _) = lookup(&cache, &source, &one).await.expect("stored");
        assert_eq!(card, code_card(2), "{name}");
        let (card, _) = lookup(&cache, &source, &two).await.expect("stored");
        assert_eq!(card, code_card(5), "{name}");
        assert_eq!(cache.stats(), stats(1, 3, 1), "{name}");

        // A product change: every code of it shows the new card, and no
        // code is read again for it.
        source.set_product(MILK, Some(product("Айран")));
        cache
            .invalidate_product(&Gtin::parse(MILK).expect("gtin"))
            .await;
        for c in [&one, &two] {
            let (_, shown) = lookup(&cache, &source, c).await.expect("stored");
            assert_eq!(shown, Some(product("Айран")), "{name}");
        }
        assert_eq!(cache.stats(), stats(2, 3, 2), "{name}");
    }
}

#[tokio::test]
async fn concurrent_scans_of_a_cold_code_load_it_and_its_product_once() {
    for (name, cache) in caches().await {
        let cache = Arc::new(cache);
        let source = Arc::new(Source::default());
        let milk = code(MILK, 21);
        source.set_code(&milk, Some(code_card(7)));
        source.set_product(MILK, Some(product("Сүт")));
        source.slow(Duration::from_millis(200));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (cache, source, milk) = (cache.clone(), source.clone(), milk.clone());
            tasks.spawn(async move { cache.card(&milk, &*source).await.expect("lookup") });
        }
        while let Some(answer) = tasks.join_next().await {
            let card = answer.expect("task").expect("stored");
            assert_eq!(*card.code, code_card(7), "{name}");
        }
        assert_eq!(source.code_loads.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(source.product_loads.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(cache.stats(), stats(31, 1, 1), "{name}");
    }
}

#[tokio::test]
async fn concurrent_scans_of_cold_codes_of_one_product_load_the_product_once() {
    for (name, cache) in caches().await {
        let cache = Arc::new(cache);
        let source = Arc::new(Source::default());
        source.set_product(MILK, Some(product("Сүт")));
        source.slow(Duration::from_millis(200));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..16 {
            let milk = code(MILK, 100 + n);
            source.set_code(&milk, Some(code_card(n.into())));
            let (cache, source) = (cache.clone(), source.clone());
            tasks.spawn(async move { cache.card(&milk, &*source).await.expect("lookup") });
        }
        while let Some(answer) = tasks.join_next().await {
            let card = answer.expect("task").expect("stored");
            assert_eq!(card.product.as_deref(), Some(&product("Сүт")), "{name}");
        }
        assert_eq!(source.code_loads.load(Ordering::SeqCst), 16, "{name}");
        assert_eq!(source.product_loads.load(Ordering::SeqCst), 1, "{name}");
    }
}

#[tokio::test]
async fn a_failed_load_is_not_cached() {
    for (name, cache) in caches().await {
        let source = Source::default();
        let milk = code(MILK, 31);
        source.set_code(&milk, Some(code_card(1)));
        source.failing.store(true, Ordering::SeqCst);
        assert!(cache.card(&milk, &source).await.is_err(), "{name}");
        source.failing.store(false, Ordering::SeqCst);
        assert_eq!(
            lookup(&cache, &source, &milk).await,
            Some((code_card(1), None)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn with_redis_down_every_scan_is_answered_from_the_source() {
    // Nothing listens on port 1.
    let cache = CardCache::redis(link("redis://127.0.0.1:1").await, TTL, NOT_FOUND_TTL);
    let source = Source::default();
    let milk = code(MILK, 41);
    source.set_product(MILK, Some(product("Сүт")));
    for n in 0..3 {
        source.set_code(&milk, Some(code_card(n)));
        assert_eq!(
            lookup(&cache, &source, &milk).await,
            Some((code_card(n), Some(product("Сүт"))))
        );
    }
    cache.invalidate(&milk.identity()).await;
    cache
        .invalidate_product(&Gtin::parse(MILK).expect("gtin"))
        .await;
    assert_eq!(cache.stats(), stats(0, 3, 3));
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
    let source = Source::default();
    let milk = code(MILK, 51);
    source.set_code(&milk, Some(code_card(1)));
    source.set_product(MILK, Some(product("Сүт")));
    let cached = Some((code_card(1), Some(product("Сүт"))));
    assert_eq!(lookup(&cache, &source, &milk).await, cached);
    source.set_code(&milk, Some(code_card(2)));
    assert_eq!(lookup(&cache, &source, &milk).await, cached);
    assert_eq!(cache.stats(), stats(1, 1, 1));

    redis.stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Now every scan goes to the source (the database), and none fails.
    for n in 3..6 {
        source.set_code(&milk, Some(code_card(n)));
        assert_eq!(
            lookup(&cache, &source, &milk).await,
            Some((code_card(n), Some(product("Сүт"))))
        );
    }
    cache.invalidate(&milk.identity()).await;
    assert_eq!(cache.stats().code_loads, 4);

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
    lookup(&cache, &source, &milk).await;
    let loads = cache.stats().code_loads;
    source.set_code(&milk, Some(code_card(9)));
    assert_eq!(
        lookup(&cache, &source, &milk).await,
        Some((code_card(5), Some(product("Сүт")))),
        "served from Redis again"
    );
    assert_eq!(cache.stats().code_loads, loads);
}
