//! The scan cache: what a scan needs about a code (its stored signature and
//! state, and its product's card), kept by the code's identity
//! (`MarkingCode::identity()`, `01<GTIN>21<serial>`), and the operator's
//! public keys held in memory.
//!
//! One interface, [`CardCache`], two places to keep the cards:
//!
//! - in process (moka), the default: nothing to install, one instance;
//! - Redis, when `redis_url` is set: shared by every instance behind a load
//!   balancer, so a card loaded by one is a hit for all.
//!
//! **The cache is never the source of truth.** Every path answers from the
//! database when Redis is slow or down (a warning is logged, the scan
//! succeeds): the connection is shared through [`RedisLink`], which never
//! makes a scan wait for a connect and leaves Redis alone for a second after
//! a failure, so an outage costs one failed round trip a second, not one per
//! scan. Every committed status change must call [`CardCache::invalidate`].
//!
//! "No such code" is cached too, briefly (`cache_not_found_secs`): a flood of
//! scans of a made-up code then costs one database read per interval, while a
//! code emitted just after a scan is found soon after.
//!
//! Only one request loads a missing card (single flight): moka's
//! `try_get_with` coalesces concurrent loads of one key; in front of Redis an
//! in-process map of loads in flight does the same per instance (across
//! instances, a few concurrent loads of one cold code are harmless).
//!
//! Known trade-off: a load that read the database just before a status change
//! committed can store the old card just after `invalidate` ran; it lives at
//! most `cache_ttl_secs`. Status changes arrive with the document flow; a
//! versioned entry (the event sequence number) closes this when they do.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use serde::{Deserialize, Serialize};
use tanba_core::MarkingCode;
use tanba_core::crypto::{Keyring, PublicKey, SignatureStatus};
use tanba_core::lifecycle::CodeState;

use crate::redis_link::RedisLink;
use crate::settings::Settings;
use crate::store::{ProductCard, Store, StoredCode};

/// What a scan needs to know about a stored code, in any language: the
/// language is applied when the answer is rendered. No owner, no order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The key id (AI 91) and crypto tail (AI 92) the code was issued with.
    pub key_id: String,
    pub crypto_tail: String,
    pub state: CodeState,
    /// Unix seconds.
    pub emitted_at: i64,
    /// The product's card; `None` when the GTIN is not in the catalogue.
    pub product: Option<CardProduct>,
}

/// The public fields of a product card (see [`ProductCard`]). Its own type
/// so that the cached form is fixed here, whatever the catalogue adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardProduct {
    pub name_kk: String,
    pub name_ru: String,
    pub product_group: String,
    pub tnved: String,
    pub manufacturer_name: String,
    pub manufacturer_country: String,
    pub importer_name: Option<String>,
    pub importer_bin: Option<String>,
    /// `certificate` or `declaration`.
    pub conformity_kind: String,
    pub conformity_number: String,
    pub conformity_date: String,
    pub test_certificate_number: Option<String>,
    pub test_certificate_date: Option<String>,
    pub recommended_price_tiyn: i64,
    pub photo_url: Option<String>,
}

impl From<ProductCard> for CardProduct {
    fn from(p: ProductCard) -> Self {
        let (test_certificate_number, test_certificate_date) = match p.test_certificate {
            Some(t) => (Some(t.number), Some(t.date)),
            None => (None, None),
        };
        CardProduct {
            name_kk: p.name_kk,
            name_ru: p.name_ru,
            product_group: p.product_group,
            tnved: p.tnved,
            manufacturer_name: p.manufacturer_name,
            manufacturer_country: p.manufacturer_country,
            importer_name: p.importer_name,
            importer_bin: p.importer_bin,
            conformity_kind: p.conformity.kind.as_str().to_owned(),
            conformity_number: p.conformity.number,
            conformity_date: p.conformity.date,
            test_certificate_number,
            test_certificate_date,
            recommended_price_tiyn: p.recommended_price_tiyn,
            photo_url: p.photo_url,
        }
    }
}

impl Card {
    /// The card of a stored code and its product.
    pub fn new(stored: StoredCode, product: Option<ProductCard>) -> Card {
        Card {
            key_id: stored
                .code
                .key_id()
                .map(|k| k.as_str().to_owned())
                .unwrap_or_default(),
            crypto_tail: stored
                .code
                .crypto_tail()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            state: stored.state,
            emitted_at: stored.emitted_at,
            product: product.map(CardProduct::from),
        }
    }

    /// Loads the card of a code from the store: `None` when it is not stored.
    pub async fn load(store: &Store, code: &MarkingCode) -> anyhow::Result<Option<Card>> {
        let Some(stored) = store.code_for_scan(code.gtin(), code.serial()).await? else {
            return Ok(None);
        };
        let product = store.product_card(code.gtin()).await?;
        Ok(Some(Card::new(stored, product)))
    }
}

/// A cached answer: the card, or `None` for "no such code".
pub type Cached = Arc<Option<Card>>;

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Answers served without loading from the database (including requests
    /// that waited for another request's load).
    pub hits: u64,
    /// Loads from the database.
    pub loads: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    loads: AtomicU64,
}

/// The scan cache; cheap to share (`Arc`), one per process.
pub struct CardCache {
    backend: Backend,
    counters: Counters,
}

enum Backend {
    Memory(moka::future::Cache<String, Cached>),
    // Boxed: far larger than the moka handle, and made once per process.
    Redis(Box<RedisCards>),
}

impl std::fmt::Debug for CardCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("CardCache")
            .field("backend", &kind)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Found cards live `found`, "no such code" lives `not_found`.
struct ByKind {
    found: Duration,
    not_found: Duration,
}

impl moka::Expiry<String, Cached> for ByKind {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Cached,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            self.found
        } else {
            self.not_found
        })
    }
}

impl CardCache {
    /// The cache the settings ask for: in Redis through `redis` when
    /// `redis_url` is set, else in process.
    pub fn from_settings(settings: &Settings, redis: Option<Arc<RedisLink>>) -> CardCache {
        let ttl = Duration::from_secs(settings.cache_ttl_secs);
        let not_found = Duration::from_secs(settings.cache_not_found_secs);
        match redis {
            Some(link) => Self::redis(link, ttl, not_found),
            None => Self::in_memory(settings.cache_capacity, ttl, not_found),
        }
    }

    /// An in-process cache of at most `capacity` entries.
    pub fn in_memory(capacity: u64, ttl: Duration, not_found_ttl: Duration) -> CardCache {
        let cache = moka::future::Cache::builder()
            .max_capacity(capacity)
            .expire_after(ByKind {
                found: ttl,
                not_found: not_found_ttl,
            })
            .build();
        CardCache {
            backend: Backend::Memory(cache),
            counters: Counters::default(),
        }
    }

    /// A cache in Redis, reached through `link` (whose prefix starts every key).
    pub fn redis(link: Arc<RedisLink>, ttl: Duration, not_found_ttl: Duration) -> CardCache {
        CardCache {
            backend: Backend::Redis(Box::new(RedisCards {
                link,
                ttl,
                not_found_ttl,
                in_flight: Mutex::new(HashMap::new()),
            })),
            counters: Counters::default(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            loads: self.counters.loads.load(Ordering::Relaxed),
        }
    }

    /// The cached answer for `identity`, or `load`'s, which is then cached.
    /// Concurrent calls for one missing identity run one `load`; the others
    /// wait for its answer. A failed load is not cached.
    pub async fn get_or_load<F, Fut>(&self, identity: &str, load: F) -> anyhow::Result<Cached>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<Card>>>,
    {
        let loaded_here = AtomicBool::new(false);
        let counted_load = async {
            loaded_here.store(true, Ordering::Relaxed);
            self.counters.loads.fetch_add(1, Ordering::Relaxed);
            load().await
        };
        let answer = match &self.backend {
            Backend::Memory(cache) => {
                if let Some(hit) = cache.get(identity).await {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(hit);
                }
                cache
                    .try_get_with(identity.to_owned(), async {
                        counted_load.await.map(Arc::new)
                    })
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:#}"))?
            }
            Backend::Redis(redis) => redis.get_or_load(identity, counted_load).await?,
        };
        if !loaded_here.load(Ordering::Relaxed) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(answer)
    }

    /// Forgets the card of `identity`: call after every committed change of
    /// the code's status, blocked flag or product card.
    pub async fn invalidate(&self, identity: &str) {
        match &self.backend {
            Backend::Memory(cache) => cache.invalidate(identity).await,
            Backend::Redis(redis) => redis.delete(identity).await,
        }
    }
}

type Flight = Arc<tokio::sync::OnceCell<Cached>>;

struct RedisCards {
    link: Arc<RedisLink>,
    ttl: Duration,
    not_found_ttl: Duration,
    /// Loads in flight in this process, by identity (single flight).
    in_flight: Mutex<HashMap<String, Flight>>,
}

impl RedisCards {
    fn key(&self, identity: &str) -> String {
        self.link.key("card:", identity)
    }

    async fn read(&self, identity: &str) -> Option<Option<Card>> {
        let key = self.key(identity);
        let got: Option<Option<String>> = self
            .link
            .run("GET", |mut c| async move { c.get(key).await })
            .await;
        // Redis away, or no such key.
        let text = got??;
        match serde_json::from_str(&text) {
            Ok(card) => Some(card),
            Err(e) => {
                // Written by another build, or damaged: reload it.
                tracing::warn!(error = %e, "unreadable cached card");
                None
            }
        }
    }

    async fn write(&self, identity: &str, card: &Option<Card>) {
        let ttl = if card.is_some() {
            self.ttl
        } else {
            self.not_found_ttl
        };
        let Ok(text) = serde_json::to_string(card) else {
            return;
        };
        let key = self.key(identity);
        self.link
            .run("SET", |mut c| async move {
                c.set_ex::<_, _, ()>(key, text, ttl.as_secs()).await
            })
            .await;
    }

    async fn delete(&self, identity: &str) {
        let key = self.key(identity);
        let deleted = self
            .link
            .run("DEL", |mut c| async move { c.del::<_, ()>(key).await })
            .await;
        if deleted.is_none() {
            tracing::warn!(
                identity,
                "redis is unavailable: a cached card may outlive its change for up to cache_ttl_secs"
            );
        }
    }

    /// Redis first; on a miss one load per identity in this process, whose
    /// answer is written back.
    async fn get_or_load(
        &self,
        identity: &str,
        load: impl Future<Output = anyhow::Result<Option<Card>>>,
    ) -> anyhow::Result<Cached> {
        let flight: Flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(identity.to_owned())
            .or_default()
            .clone();
        let answer = flight
            .get_or_try_init(|| async {
                if let Some(hit) = self.read(identity).await {
                    return Ok(Arc::new(hit));
                }
                let card = load.await?;
                self.write(identity, &card).await;
                Ok::<_, anyhow::Error>(Arc::new(card))
            })
            .await
            .cloned();
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(identity).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            map.remove(identity);
        }
        answer
    }
}

/// The operator's public keys, in memory, reloaded from the store when a
/// code names a key id it does not hold (a key rotated in by another
/// instance). Reloads are at most one a second, so made-up key ids cannot
/// turn scans into database reads.
#[derive(Debug)]
pub struct ScanKeys {
    ring: RwLock<Arc<Keyring>>,
    loaded_at: Mutex<Instant>,
}

/// Least time between two reloads of the keyring.
const KEYS_RELOAD_EVERY: Duration = Duration::from_secs(1);

fn keyring_of(entries: &[tanba_core::crypto::PublicKeyEntry]) -> Keyring {
    let mut ring = Keyring::new();
    for entry in entries {
        match PublicKey::from_entry(entry) {
            Ok(key) => ring.insert(key),
            Err(e) => tracing::error!(key_id = %entry.id, error = %e, "unusable emission key"),
        }
    }
    ring
}

impl ScanKeys {
    pub async fn load(store: &Store) -> anyhow::Result<ScanKeys> {
        let ring = keyring_of(&store.emission_keys().await?);
        Ok(ScanKeys {
            ring: RwLock::new(Arc::new(ring)),
            loaded_at: Mutex::new(Instant::now()),
        })
    }

    fn current(&self) -> Arc<Keyring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The code's signature status against the operator's keys.
    pub async fn verify(&self, store: &Store, code: &MarkingCode) -> SignatureStatus {
        let status = self.current().verify(code);
        if status != SignatureStatus::UnknownKey {
            return status;
        }
        {
            let mut at = self.loaded_at.lock().unwrap_or_else(|e| e.into_inner());
            if at.elapsed() < KEYS_RELOAD_EVERY {
                return status;
            }
            *at = Instant::now();
        }
        match store.emission_keys().await {
            Ok(entries) => {
                let ring = Arc::new(keyring_of(&entries));
                let status = ring.verify(code);
                *self.ring.write().unwrap_or_else(|e| e.into_inner()) = ring;
                status
            }
            Err(e) => {
                tracing::warn!(error = %e, "reloading emission keys failed");
                status
            }
        }
    }
}
