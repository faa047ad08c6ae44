//! The scan cache: what a scan needs about a code, in two parts kept apart
//! so that each is forgotten when it changes —
//!
//! - per code (by `MarkingCode::identity()`, `01<GTIN>21<serial>`): its
//!   stored signature and state ([`CodeCard`]), forgotten by
//!   [`CardCache::invalidate`] after a status change;
//! - per GTIN: its product's card ([`CardProduct`]), forgotten by
//!   [`CardCache::invalidate_product`] after the catalogue changes it —
//!
//! and the operator's public keys held in memory ([`ScanKeys`]).
//!
//! One interface, [`CardCache`], two places to keep them:
//!
//! - in process (moka), the default: nothing to install, one instance; a
//!   scan is two in-memory lookups;
//! - Redis, when `redis_url` is set: shared by every instance behind a load
//!   balancer, so an entry loaded by one is a hit for all; a scan is ONE
//!   round trip (`MGET` of the code's and the GTIN's keys: the GTIN is known
//!   from the parsed code, before anything is read).
//!
//! **The cache is never the source of truth.** Every path answers from the
//! database when Redis is slow or down: the connection is shared through
//! [`RedisLink`], which never makes a scan wait for a connect and leaves
//! Redis alone for a second after a failure. Every committed status change
//! must call [`CardCache::invalidate`], every product change
//! [`CardCache::invalidate_product`].
//!
//! "No such code" and "no such product" are cached too, briefly
//! (`cache_not_found_secs`): a flood of scans of a made-up code then costs
//! one database read per interval, while a code emitted (or a product
//! registered) just after a scan is found soon after.
//!
//! Only one request loads a missing entry (single flight), for codes and for
//! products alike: moka's `try_get_with` coalesces concurrent loads of one
//! key; in front of Redis an in-process map of loads in flight does the same
//! per instance (across instances, a few concurrent loads of one cold entry
//! are harmless).
//!
//! Known trade-off: a load that read the database just before a change
//! committed can store the old entry just after `invalidate` ran; it lives
//! at most `cache_ttl_secs`. Status changes arrive with the document flow; a
//! versioned entry (the event sequence number) closes this when they do.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::AsyncCommands as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tanba_core::crypto::{Keyring, PublicKey, SignatureStatus};
use tanba_core::lifecycle::{CodeState, Status};
use tanba_core::{Gtin, MarkingCode};

use crate::redis_link::RedisLink;
use crate::settings::Settings;
use crate::store::{ProductCard, Store, StoredCode};

/// What a scan needs to know about a stored code itself, in any language.
/// No owner, no order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCard {
    /// The key id (AI 91) and crypto tail (AI 92) the code was issued with.
    pub key_id: String,
    pub crypto_tail: String,
    pub state: CodeState,
    /// Unix seconds.
    pub emitted_at: i64,
    /// When it entered circulation and, while it is sold, when it was sold
    /// (Unix milliseconds, from its history). `default`: entries cached by
    /// an older build read as "not recorded".
    #[serde(default)]
    pub introduced_at: Option<i64>,
    #[serde(default)]
    pub sold_at: Option<i64>,
}

impl From<StoredCode> for CodeCard {
    fn from(stored: StoredCode) -> Self {
        CodeCard {
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
            introduced_at: None,
            sold_at: None,
        }
    }
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

/// What a scan gets for a stored code: the code's part and its product's
/// part, each shared with the cache (no copy per scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub code: Arc<CodeCard>,
    /// `None` when the GTIN is not in the catalogue.
    pub product: Option<Arc<CardProduct>>,
}

/// Where the cache loads what it does not hold: the store in the service,
/// a stand-in in tests.
pub trait CardSource {
    /// The stored code, or `None` when it is not stored.
    fn code(
        &self,
        code: &MarkingCode,
    ) -> impl Future<Output = anyhow::Result<Option<CodeCard>>> + Send;
    /// The GTIN's product card, or `None` when it is not in the catalogue.
    fn product(
        &self,
        gtin: &Gtin,
    ) -> impl Future<Output = anyhow::Result<Option<CardProduct>>> + Send;
}

impl CardSource for Store {
    async fn code(&self, code: &MarkingCode) -> anyhow::Result<Option<CodeCard>> {
        let Some(stored) = self.code_for_scan(code.gtin(), code.serial()).await? else {
            return Ok(None);
        };
        let mut card = CodeCard::from(stored);
        // Only a code that has been in circulation has dates to show: an
        // emitted or applied one costs no second query.
        if !matches!(
            card.state.status,
            Status::Emitted | Status::Applied | Status::WrittenOff(_)
        ) {
            (card.introduced_at, card.sold_at) =
                self.life_dates(code.gtin(), code.serial()).await?;
        }
        Ok(Some(card))
    }

    async fn product(&self, gtin: &Gtin) -> anyhow::Result<Option<CardProduct>> {
        Ok(self.product_card(gtin).await?.map(CardProduct::from))
    }
}

/// Counters, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups answered without any database read (including lookups that
    /// waited for another request's load).
    pub hits: u64,
    /// Loads of a code from the database.
    pub code_loads: u64,
    /// Loads of a product card from the database.
    pub product_loads: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    code_loads: AtomicU64,
    product_loads: AtomicU64,
}

/// The scan cache; cheap to share (`Arc`), one per process.
pub struct CardCache {
    backend: Backend,
    counters: Counters,
}

enum Backend {
    Memory(MemoryCards),
    // Boxed: far larger than the moka handles, and made once per process.
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

/// A cached code: `None` for "no such code".
type CachedCode = Option<Arc<CodeCard>>;
/// A cached product: `None` for "no such product".
type CachedProduct = Option<Arc<CardProduct>>;

/// Found entries live `found`, "no such …" lives `not_found`.
#[derive(Clone)]
struct ByKind {
    found: Duration,
    not_found: Duration,
}

impl<T> moka::Expiry<String, Option<T>> for ByKind {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Option<T>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            self.found
        } else {
            self.not_found
        })
    }
}

fn shared_error(e: Arc<anyhow::Error>) -> anyhow::Error {
    anyhow::anyhow!("{e:#}")
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

    /// An in-process cache of at most `capacity` codes (and as many products).
    pub fn in_memory(capacity: u64, ttl: Duration, not_found_ttl: Duration) -> CardCache {
        let expiry = ByKind {
            found: ttl,
            not_found: not_found_ttl,
        };
        CardCache {
            backend: Backend::Memory(MemoryCards {
                codes: moka::future::Cache::builder()
                    .max_capacity(capacity)
                    .expire_after(expiry.clone())
                    .build(),
                products: moka::future::Cache::builder()
                    .max_capacity(capacity)
                    .expire_after(expiry)
                    .build(),
            }),
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
                code_flights: Mutex::new(HashMap::new()),
                product_flights: Mutex::new(HashMap::new()),
            })),
            counters: Counters::default(),
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            code_loads: self.counters.code_loads.load(Ordering::Relaxed),
            product_loads: self.counters.product_loads.load(Ordering::Relaxed),
        }
    }

    /// The card of `code`: `None` when it is not stored. What the cache
    /// lacks is loaded from `source` (one load per missing entry, however
    /// many scans ask at once) and cached; a failed load is not cached. The
    /// product is looked up only for a stored code.
    pub async fn card(
        &self,
        code: &MarkingCode,
        source: &impl CardSource,
    ) -> anyhow::Result<Option<Card>> {
        let identity = code.identity();
        let loaded_here = AtomicBool::new(false);
        let load_code = || async {
            loaded_here.store(true, Ordering::Relaxed);
            self.counters.code_loads.fetch_add(1, Ordering::Relaxed);
            Ok(source.code(code).await?.map(Arc::new))
        };
        let load_product = || async {
            loaded_here.store(true, Ordering::Relaxed);
            self.counters.product_loads.fetch_add(1, Ordering::Relaxed);
            Ok(source.product(code.gtin()).await?.map(Arc::new))
        };
        let gtin = code.gtin().as_str();
        let card = match &self.backend {
            Backend::Memory(memory) => {
                memory
                    .card(&identity, gtin, load_code, load_product)
                    .await?
            }
            Backend::Redis(redis) => redis.card(&identity, gtin, load_code, load_product).await?,
        };
        if !loaded_here.load(Ordering::Relaxed) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(card)
    }

    /// Forgets the code part of `identity`'s card: call after every
    /// committed change of the code's status or blocked flag.
    pub async fn invalidate(&self, identity: &str) {
        match &self.backend {
            Backend::Memory(memory) => memory.codes.invalidate(identity).await,
            Backend::Redis(redis) => redis.delete(redis.link.key(CODE_KEY, identity)).await,
        }
    }

    /// [`Self::invalidate`] for many codes: on Redis, one `DEL` per
    /// thousand keys rather than a round trip per code.
    pub async fn invalidate_many(&self, identities: &Identities) {
        match &self.backend {
            Backend::Memory(memory) => {
                for identity in identities.iter() {
                    memory.codes.invalidate(identity).await;
                }
            }
            Backend::Redis(redis) => {
                let mut all = identities.iter().peekable();
                while all.peek().is_some() {
                    let keys: Vec<String> = all
                        .by_ref()
                        .take(1000)
                        .map(|identity| redis.link.key(CODE_KEY, identity))
                        .collect();
                    redis.delete_many(keys).await;
                }
            }
        }
    }

    /// Forgets the product card of `gtin`: call after every committed
    /// creation or change of a product, so the next scan shows it.
    pub async fn invalidate_product(&self, gtin: &Gtin) {
        match &self.backend {
            Backend::Memory(memory) => memory.products.invalidate(gtin.as_str()).await,
            Backend::Redis(redis) => {
                redis
                    .delete(redis.link.key(PRODUCT_KEY, gtin.as_str()))
                    .await
            }
        }
    }
}

struct MemoryCards {
    codes: moka::future::Cache<String, CachedCode>,
    products: moka::future::Cache<String, CachedProduct>,
}

impl MemoryCards {
    async fn card<LC, FC, LP, FP>(
        &self,
        identity: &str,
        gtin: &str,
        load_code: LC,
        load_product: LP,
    ) -> anyhow::Result<Option<Card>>
    where
        LC: FnOnce() -> FC,
        FC: Future<Output = anyhow::Result<CachedCode>>,
        LP: FnOnce() -> FP,
        FP: Future<Output = anyhow::Result<CachedProduct>>,
    {
        // `get` first: a hit then costs no key allocation.
        let code = match self.codes.get(identity).await {
            Some(hit) => hit,
            None => self
                .codes
                .try_get_with(identity.to_owned(), load_code())
                .await
                .map_err(shared_error)?,
        };
        let Some(code) = code else {
            return Ok(None);
        };
        let product = match self.products.get(gtin).await {
            Some(hit) => hit,
            None => self
                .products
                .try_get_with(gtin.to_owned(), load_product())
                .await
                .map_err(shared_error)?,
        };
        Ok(Some(Card { code, product }))
    }
}

/// Key kinds in Redis: `<prefix>code:<identity>`, `<prefix>product:<GTIN>`.
const CODE_KEY: &str = "code:";
const PRODUCT_KEY: &str = "product:";

type Flights<T> = Mutex<HashMap<String, Arc<tokio::sync::OnceCell<T>>>>;

struct RedisCards {
    link: Arc<RedisLink>,
    ttl: Duration,
    not_found_ttl: Duration,
    /// Lookups in flight in this process, by code identity (single flight).
    code_flights: Flights<Option<Card>>,
    /// Product loads in flight in this process, by GTIN (single flight
    /// across different codes of one product).
    product_flights: Flights<CachedProduct>,
}

/// Runs `init` once for all concurrent callers with the same `key`; they all
/// get its answer. A failed `init` is not shared: the next caller runs its own.
async fn single_flight<T: Clone>(
    flights: &Flights<T>,
    key: &str,
    init: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let flight = flights
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_owned())
        .or_default()
        .clone();
    let answer = flight.get_or_try_init(|| init).await.cloned();
    let mut map = flights.lock().unwrap_or_else(|e| e.into_inner());
    if map.get(key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
        map.remove(key);
    }
    answer
}

/// A cached value as Redis holds it (JSON; `null` for "no such …"): `None`
/// when absent or unreadable (written by another build, or damaged), which
/// makes the caller load it again.
fn decode<T: DeserializeOwned>(text: Option<String>) -> Option<Option<T>> {
    let text = text?;
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable cached entry; loading it again");
            None
        }
    }
}

impl RedisCards {
    /// One `MGET` of both keys; on a miss, one load per entry in this
    /// process, whose answer is written back.
    async fn card<LC, FC, LP, FP>(
        &self,
        identity: &str,
        gtin: &str,
        load_code: LC,
        load_product: LP,
    ) -> anyhow::Result<Option<Card>>
    where
        LC: FnOnce() -> FC,
        FC: Future<Output = anyhow::Result<CachedCode>>,
        LP: FnOnce() -> FP,
        FP: Future<Output = anyhow::Result<CachedProduct>>,
    {
        single_flight(&self.code_flights, identity, async {
            let code_key = self.link.key(CODE_KEY, identity);
            let product_key = self.link.key(PRODUCT_KEY, gtin);
            let mut mget = redis::cmd("MGET");
            mget.arg(&code_key).arg(&product_key);
            let (code_text, product_text): (Option<String>, Option<String>) = self
                .link
                .run(
                    "MGET",
                    |mut c| async move { mget.query_async(&mut c).await },
                )
                .await
                .unwrap_or_default();
            let code = match decode::<CodeCard>(code_text) {
                Some(hit) => hit.map(Arc::new),
                None => {
                    let loaded = load_code().await?;
                    self.write(code_key, loaded.as_deref()).await;
                    loaded
                }
            };
            let Some(code) = code else {
                return Ok(None);
            };
            let product = match decode::<CardProduct>(product_text) {
                Some(hit) => hit.map(Arc::new),
                None => {
                    single_flight(&self.product_flights, gtin, async {
                        let loaded = load_product().await?;
                        self.write(product_key, loaded.as_deref()).await;
                        Ok(loaded)
                    })
                    .await?
                }
            };
            Ok(Some(Card { code, product }))
        })
        .await
    }

    async fn write<T: Serialize>(&self, key: String, value: Option<&T>) {
        let ttl = if value.is_some() {
            self.ttl
        } else {
            self.not_found_ttl
        };
        let Ok(text) = serde_json::to_string(&value) else {
            return;
        };
        self.link
            .run("SET", |mut c| async move {
                c.set_ex::<_, _, ()>(key, text, ttl.as_secs()).await
            })
            .await;
    }

    async fn delete_many(&self, keys: Vec<String>) {
        let deleted = self
            .link
            .run("DEL", |mut c| async move { c.del::<_, ()>(keys).await })
            .await;
        if deleted.is_none() {
            tracing::warn!(
                "redis is unavailable: cached entries may outlive their change for up to cache_ttl_secs"
            );
        }
    }

    async fn delete(&self, key: String) {
        let deleted = self
            .link
            .run("DEL", |mut c| async move { c.del::<_, ()>(key).await })
            .await;
        if deleted.is_none() {
            tracing::warn!(
                "redis is unavailable: a cached entry may outlive its change for up to cache_ttl_secs"
            );
        }
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

/// Many codes' identities in one buffer, in the order pushed: the codes a
/// document changed, whose cards to invalidate after its commit. A million
/// take some 55 MB here, against some 80 MB as a `String` each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Identities {
    text: String,
    ends: Vec<usize>,
}

impl Identities {
    pub fn push(&mut self, identity: &str) {
        self.text.push_str(identity);
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + Send + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.text[start..end])
    }
}

impl<'a> FromIterator<&'a str> for Identities {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut out = Identities::default();
        for identity in iter {
            out.push(identity);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Identities;

    #[test]
    fn identities_come_back_as_pushed() {
        let none = Identities::default();
        assert!(none.is_empty());
        assert_eq!(none.iter().count(), 0);
        let list = ["0104650000000010215abc", "", "0104650000000027216xyz"];
        let many: Identities = list.iter().copied().collect();
        assert_eq!(many.len(), 3);
        assert_eq!(many.iter().collect::<Vec<_>>(), list);
    }
}
