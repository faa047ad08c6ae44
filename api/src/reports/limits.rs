//! Abuse limits on `POST /v1/reports`: how many reports a client address
//! and a device may send an hour, and what makes two reports the same.
//!
//! The rate limits are GCRA limiters (`governor`), keyed by address and by
//! device, held in this process. **Several instances behind a load balancer
//! count separately**: each lets a client send its full quota, so with N
//! instances a client may send up to N times the setting. That is accepted
//! for now (reports are cheap to refuse later as duplicates, and photo
//! decoding is bounded per instance anyway); a shared counter in Redis is
//! the step after, once reports are a measurable load.
//!
//! Duplicates are found in the database, not here (see
//! `store::reports`): the same reporter, the same kind, the same subject
//! within [`DUPLICATE_WINDOW_MS`].

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest as _, Sha256};
use tanba_core::MarkingCode;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long the same report from the same reporter counts as a duplicate.
pub const DUPLICATE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Longest `X-Device-Id` accepted, in bytes.
pub const MAX_DEVICE_ID: usize = 128;

/// Every this many checks, forget keys whose quota is full again, so the
/// maps do not grow with every address ever seen.
const CLEAN_EVERY: u64 = 1024;

/// How many report bodies are read at once. An upload is held in memory (up
/// to five photos of 10 MB) until it is decoded, and many addresses each
/// within their own rate limit could otherwise together fill the memory the
/// scan's caches live in: 16 uploads in flight is at most about 800 MB.
/// Further reports wait for a slot before their body is read; scans do not.
pub const UPLOADS_IN_FLIGHT: usize = 16;

/// The per-address and per-device limiters, and the upload slots.
pub struct ReportLimits {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_device: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
    uploads: Semaphore,
}

impl std::fmt::Debug for ReportLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportLimits")
            .field("addresses", &self.per_ip.len())
            .field("devices", &self.per_device.len())
            .field("free_upload_slots", &self.uploads.available_permits())
            .finish()
    }
}

fn per_hour(n: u32) -> Quota {
    Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl ReportLimits {
    /// Limits of `per_ip` and `per_device` reports an hour, each also the
    /// largest burst (the settings are checked to be at least 1).
    pub fn new(per_ip: u32, per_device: u32) -> ReportLimits {
        ReportLimits {
            per_ip: RateLimiter::keyed(per_hour(per_ip)),
            per_device: RateLimiter::keyed(per_hour(per_device)),
            checks: AtomicU64::new(0),
            uploads: Semaphore::new(UPLOADS_IN_FLIGHT),
        }
    }

    /// Waits for one of the [`UPLOADS_IN_FLIGHT`] slots; hold it while the
    /// body is read and decoded.
    pub async fn upload_slot(&self) -> anyhow::Result<SemaphorePermit<'_>> {
        Ok(self.uploads.acquire().await?)
    }

    /// Takes one report from the address's quota and, when the client sent
    /// one, from the device's. `Err(wait)` when either is spent: how long
    /// until one more report would pass.
    pub fn check(&self, ip: &str, device: Option<&str>) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % CLEAN_EVERY == CLEAN_EVERY - 1 {
            self.per_ip.retain_recent();
            self.per_device.retain_recent();
        }
        let now = governor::clock::Clock::now(self.per_ip.clock());
        // The device first: when a device is over its own (tighter) limit,
        // its attempts do not also use up the quota of everyone behind the
        // same address.
        if let Some(device) = device {
            self.per_device
                .check_key(&device.to_owned())
                .map_err(|not_until| not_until.wait_time_from(now))?;
        }
        self.per_ip
            .check_key(&ip.to_owned())
            .map_err(|not_until| not_until.wait_time_from(now))
    }
}

/// Who sent a report, for duplicate detection: the device when the client
/// names one (hashed: the database keeps no device id), the address
/// otherwise.
pub fn reporter_key(ip: &str, device: Option<&str>) -> String {
    match device {
        Some(d) => format!("device:{:x}", Sha256::digest(d.as_bytes())),
        None => format!("ip:{ip}"),
    }
}

/// What a report is about, for duplicate detection: the code when it names
/// one; otherwise the place, coordinates rounded to 4 decimals (about 10 m,
/// so two taps on a map at the same shop mostly agree) or the address folded
/// to lower case with spaces collapsed. A key, not a distance: two points a
/// metre apart on either side of a rounding edge count as two places, which
/// lets a rare duplicate through rather than refusing a real report.
pub fn subject_key(
    code: Option<&MarkingCode>,
    coordinates: Option<(f64, f64)>,
    address: Option<&str>,
) -> String {
    if let Some(code) = code {
        return format!("code:{}", code.identity());
    }
    if let Some((lat, lon)) = coordinates {
        return format!("geo:{lat:.4},{lon:.4}");
    }
    let folded: Vec<String> = address
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    format!("address:{}", folded.join(" "))
}

/// A device id as the app sends it: 1 to [`MAX_DEVICE_ID`] visible ASCII
/// characters.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_DEVICE_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_over_its_limit_waits_and_others_do_not() {
        let limits = ReportLimits::new(3, 2);
        assert!(limits.check("10.0.0.1", Some("phone-a")).is_ok());
        assert!(limits.check("10.0.0.1", Some("phone-a")).is_ok());
        let wait = limits
            .check("10.0.0.1", Some("phone-a"))
            .expect_err("third from the device");
        // Two an hour: the next one frees up within half an hour.
        assert!(wait > Duration::from_secs(60) && wait <= Duration::from_secs(1800));
        assert!(limits.check("10.0.0.1", Some("phone-b")).is_ok());
        // The address has now sent three.
        assert!(limits.check("10.0.0.1", Some("phone-c")).is_err());
        assert!(limits.check("10.0.0.2", None).is_ok());
    }

    #[test]
    fn the_same_place_is_the_same_subject() {
        assert_eq!(
            subject_key(None, None, Some("  Алматы,  Абая 1 ")),
            subject_key(None, None, Some("алматы, абая 1"))
        );
        assert_eq!(
            subject_key(None, Some((43.238_949, 76.889_709)), None),
            subject_key(None, Some((43.238_911, 76.889_72)), None)
        );
        assert_ne!(
            reporter_key("1.2.3.4", Some("x")),
            reporter_key("1.2.3.4", None)
        );
    }
}
