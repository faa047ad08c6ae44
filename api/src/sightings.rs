//! Where a code was seen lately: the clue for the first clone rule ("the
//! same code scanned from places far apart within a short time").
//!
//! A *sighting* is a scan that carried a place. Per code, the last
//! [`KEEP`] sightings within `clone_window_secs` are kept, so that a scan
//! knows synchronously, without a database read, whether the code was seen
//! further than `clone_distance_km` from here within the window.
//!
//! One interface, [`Sightings`], two places to keep them, as for the cards:
//!
//! - in process (moka), the default;
//! - Redis, when `redis_url` is set, so several instances see each other's
//!   sightings: one round trip per located scan (a `MULTI` pipeline that
//!   reads the list, pushes the new sighting, trims and refreshes the
//!   expiry). When Redis fails or is not connected, the in-process store
//!   answers instead (a clone seen only by another instance is missed for
//!   the outage; the scan is answered).
//!
//! Scans without a place never come here, nor do codes that cannot become
//! `suspected_clone` (see `routes::codes::verdict`). The scans table
//! (`crate::scans`) keeps every scan for statistics and after-the-fact
//! analysis; this is only the short memory the verdict needs.
//!
//! Places are coarse: rounded to 0.01° (about 1 km) before anything is
//! stored or compared, and held as whole hundredths so that comparison is
//! exact.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::redis_link::RedisLink;
use crate::settings::Settings;

/// Sightings kept per code: enough for the last few places, few enough that
/// a much-scanned code costs little.
pub const KEEP: usize = 8;

/// A coarse place: latitude and longitude rounded to 0.01°.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Hundredths of a degree.
    lat: i32,
    lon: i32,
}

impl Place {
    /// A place from degrees, rounded to 0.01°; `None` unless both are finite
    /// and within −90…90 (latitude) and −180…180 (longitude).
    pub fn new(lat: f64, lon: f64) -> Option<Place> {
        // NaN and the infinities are in no range either.
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
            return None;
        }
        // In range, so the hundredths fit an i32 and the cast is exact.
        Some(Place {
            lat: (lat * 100.0).round() as i32,
            lon: (lon * 100.0).round() as i32,
        })
    }

    /// Latitude in degrees, as rounded.
    pub fn lat(self) -> f64 {
        f64::from(self.lat) / 100.0
    }

    /// Longitude in degrees, as rounded.
    pub fn lon(self) -> f64 {
        f64::from(self.lon) / 100.0
    }

    /// Great-circle distance in kilometres (haversine, mean Earth radius):
    /// at 1 km of rounding, a sphere is exact enough.
    pub fn km_to(self, other: Place) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (la1, la2) = (self.lat().to_radians(), other.lat().to_radians());
        let dlat = la2 - la1;
        let dlon = (other.lon() - self.lon()).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// A located scan of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// Unix milliseconds.
    pub at: i64,
    pub place: Place,
}

impl Sighting {
    /// As kept in Redis: `<at> <lat> <lon>` (hundredths of a degree).
    fn encode(self) -> String {
        format!("{} {} {}", self.at, self.place.lat, self.place.lon)
    }

    fn decode(text: &str) -> Option<Sighting> {
        let mut parts = text.split(' ');
        let at = parts.next()?.parse().ok()?;
        let lat: i32 = parts.next()?.parse().ok()?;
        let lon: i32 = parts.next()?.parse().ok()?;
        let place = Place::new(f64::from(lat) / 100.0, f64::from(lon) / 100.0)?;
        Some(Sighting { at, place })
    }
}

fn window_ms(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

/// The rule: was the code seen further than `distance_km` from `now`'s
/// place within `window` before it? Pure, so the backends share it.
fn seen_far_apart(
    earlier: impl IntoIterator<Item = Sighting>,
    now: Sighting,
    window: Duration,
    distance_km: f64,
) -> bool {
    let window_ms = window_ms(window);
    earlier.into_iter().any(|s| {
        // Instances' clocks differ a little: a sighting "from the future"
        // counts as recent too.
        (now.at - s.at).abs() <= window_ms && s.place.km_to(now.place) > distance_km
    })
}

/// The recent sightings of codes; cheap to share (`Arc`), one per process.
pub struct Sightings {
    window: Duration,
    distance_km: f64,
    memory: MemorySightings,
    redis: Option<Arc<RedisLink>>,
}

impl std::fmt::Debug for Sightings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sightings")
            .field("window", &self.window)
            .field("distance_km", &self.distance_km)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

type Recent = Arc<Mutex<VecDeque<Sighting>>>;

/// In process: the recent sightings per code identity; an entry untouched
/// for a whole window holds nothing recent, so it expires then.
struct MemorySightings {
    codes: moka::future::Cache<String, Recent>,
}

impl MemorySightings {
    async fn observe(&self, identity: &str, now: Sighting, window: Duration) -> Vec<Sighting> {
        let recent = self
            .codes
            .get_with(identity.to_owned(), async { Recent::default() })
            .await;
        let mut recent = recent.lock().unwrap_or_else(|e| e.into_inner());
        // What fell out of the window is of no further use.
        recent.retain(|s| (now.at - s.at).abs() <= window_ms(window));
        let earlier: Vec<Sighting> = recent.iter().copied().collect();
        recent.push_front(now);
        recent.truncate(KEEP);
        earlier
    }
}

/// Key kind in Redis: `<prefix>seen:<identity>`, a list, newest first.
const SEEN_KEY: &str = "seen:";

impl Sightings {
    /// The sightings the settings ask for: shared through Redis when
    /// `redis` is given, in process only otherwise.
    pub fn from_settings(settings: &Settings, redis: Option<Arc<RedisLink>>) -> Sightings {
        Self::new(
            Duration::from_secs(settings.clone_window_secs),
            f64::from(settings.clone_distance_km),
            settings.cache_capacity,
            redis,
        )
    }

    /// Sightings within `window` are compared; further apart than
    /// `distance_km` is a clone. At most `capacity` codes in process.
    pub fn new(
        window: Duration,
        distance_km: f64,
        capacity: u64,
        redis: Option<Arc<RedisLink>>,
    ) -> Sightings {
        Sightings {
            window,
            distance_km,
            memory: MemorySightings {
                codes: moka::future::Cache::builder()
                    .max_capacity(capacity)
                    .time_to_idle(window)
                    .build(),
            },
            redis,
        }
    }

    /// Remembers that the code `identity` was seen at `now`, and answers
    /// whether it was seen further than `clone_distance_km` from there
    /// within `clone_window_secs` before.
    pub async fn seen_far_apart(&self, identity: &str, now: Sighting) -> bool {
        let earlier = match &self.redis {
            Some(link) => match self.observe_in_redis(link, identity, now).await {
                Some(earlier) => earlier,
                None => self.memory.observe(identity, now, self.window).await,
            },
            None => self.memory.observe(identity, now, self.window).await,
        };
        seen_far_apart(earlier, now, self.window, self.distance_km)
    }

    /// `None` when Redis is not there to answer.
    async fn observe_in_redis(
        &self,
        link: &RedisLink,
        identity: &str,
        now: Sighting,
    ) -> Option<Vec<Sighting>> {
        let key = link.key(SEEN_KEY, identity);
        let keep = KEEP as isize;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .lrange(&key, 0, keep - 1)
            .lpush(&key, now.encode())
            .ignore()
            .ltrim(&key, 0, keep - 1)
            .ignore()
            .pexpire(&key, window_ms(self.window))
            .ignore();
        let (earlier,): (Vec<String>,) = link
            .run("sightings pipeline", |mut c| async move {
                pipe.query_async(&mut c).await
            })
            .await?;
        Some(
            earlier
                .iter()
                .filter_map(|text| Sighting::decode(text))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(lat: f64, lon: f64) -> Place {
        Place::new(lat, lon).expect("a place")
    }

    #[test]
    fn places_are_rounded_to_a_hundredth_of_a_degree() {
        let p = place(43.23871, 76.94559);
        assert_eq!((p.lat(), p.lon()), (43.24, 76.95));
        assert_eq!(place(-0.004, 179.999).lon(), 180.0);
        assert_eq!(place(43.235, 76.9).lat(), 43.24);
    }

    #[test]
    fn a_place_out_of_range_or_not_a_number_is_refused() {
        for (lat, lon) in [
            (90.01, 0.0),
            (-90.5, 0.0),
            (0.0, 180.5),
            (0.0, -181.0),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
        ] {
            assert_eq!(Place::new(lat, lon), None, "{lat} {lon}");
        }
        assert!(Place::new(90.0, -180.0).is_some());
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        // Almaty to Astana: about 970 km.
        let d = place(43.24, 76.95).km_to(place(51.17, 71.45));
        assert!((950.0..990.0).contains(&d), "{d}");
        assert_eq!(place(43.24, 76.95).km_to(place(43.24, 76.95)), 0.0);
        // Across the antimeridian: close, not half the world.
        assert!(place(0.0, 179.99).km_to(place(0.0, -179.99)) < 3.0);
    }

    #[test]
    fn a_sighting_survives_its_redis_form() {
        let s = Sighting {
            at: 1_764_000_000_123,
            place: place(-33.87, 151.21),
        };
        assert_eq!(Sighting::decode(&s.encode()), Some(s));
        assert_eq!(Sighting::decode("1 2"), None);
        assert_eq!(Sighting::decode("x 1 2"), None);
    }

    #[test]
    fn only_far_sightings_within_the_window_count() {
        let window = Duration::from_secs(3600);
        let almaty = place(43.24, 76.95);
        let astana = place(51.17, 71.45);
        let now = Sighting {
            at: 10_000_000,
            place: astana,
        };
        let at = |at, place| Sighting { at, place };
        assert!(seen_far_apart([at(9_000_000, almaty)], now, window, 300.0));
        // Too long ago.
        assert!(!seen_far_apart([at(6_000_000, almaty)], now, window, 300.0));
        // Near.
        assert!(!seen_far_apart([at(9_000_000, astana)], now, window, 300.0));
        // Far, but not further than the threshold.
        assert!(!seen_far_apart(
            [at(9_000_000, almaty)],
            now,
            window,
            1000.0
        ));
        assert!(!seen_far_apart([], now, window, 300.0));
    }
}
