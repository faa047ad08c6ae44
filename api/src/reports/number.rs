//! The report number a citizen quotes and the secret that lets only them
//! follow the report.
//!
//! **Numbers** are `YYYY-NNNNNN`: the year (Kazakhstan time) and a sequence
//! that starts at 1 each year, e.g. `2026-000123`. Short enough to read out
//! on the phone to a hotline and to write on a form, and they sort as they
//! were sent. The cost: anyone can guess numbers and learn roughly how many
//! reports a year brings — a figure the operator publishes anyway. Guessing a
//! number gains nothing else, because following a report takes its secret
//! and a wrong secret answers exactly like an unknown number. Random numbers
//! (`R-7K3M-9QXF`) would hide the count but be harder to dictate, and the
//! secret already does the protecting.
//!
//! **Secrets** are 144 random bits (OS random), base64url without padding (24
//! characters). Only their SHA-256 is stored, so a copy of the database does
//! not let anyone read reports as their reporters; a given secret is hashed
//! and compared in constant time.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// A report's number: year and sequence within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportNumber {
    year: i64,
    seq: i64,
}

impl ReportNumber {
    /// `None` outside years 2000–9999 or for a sequence below 1.
    pub fn new(year: i64, seq: i64) -> Option<ReportNumber> {
        ((2000..=9999).contains(&year) && seq >= 1).then_some(ReportNumber { year, seq })
    }

    /// Parses exactly what [`Display`](fmt::Display) writes: four digits, a
    /// hyphen, at least six digits with no extra leading zero. One number has
    /// one spelling, so `2026-0000123` is not `2026-000123`.
    pub fn parse(s: &str) -> Option<ReportNumber> {
        let (year, seq) = s.split_once('-')?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || !digits(year) || seq.len() < 6 || seq.len() > 12 || !digits(seq) {
            return None;
        }
        let n = ReportNumber::new(year.parse().ok()?, seq.parse().ok()?)?;
        (n.to_string() == s).then_some(n)
    }

    pub fn year(self) -> i64 {
        self.year
    }

    pub fn seq(self) -> i64 {
        self.seq
    }
}

impl fmt::Display for ReportNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:06}", self.year, self.seq)
    }
}

/// A new secret and the hash under which it is stored.
pub fn new_secret() -> (String, String) {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = secret_hash(&secret);
    (secret, hash)
}

/// SHA-256 of a secret, hex.
pub fn secret_hash(secret: &str) -> String {
    format!("{:x}", Sha256::digest(secret.as_bytes()))
}

/// Whether `given` is the secret whose hash is `stored_hash`, compared in
/// constant time. With no stored hash (no such report) the comparison runs
/// all the same against a hash no secret has, so an unknown number and a
/// wrong secret take the same time.
pub fn secret_matches(given: Option<&str>, stored_hash: Option<&str>) -> bool {
    // As long as a hash, so the comparison takes as long; not hex, so no
    // secret's hash is ever equal to it.
    const NONE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    let given = secret_hash(given.unwrap_or(""));
    let stored = stored_hash.unwrap_or(NONE);
    let same = given.as_bytes().ct_eq(stored.as_bytes());
    bool::from(same) && stored_hash.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_one_spelling() {
        let n = ReportNumber::new(2026, 123).expect("number");
        assert_eq!(n.to_string(), "2026-000123");
        assert_eq!(ReportNumber::parse("2026-000123"), Some(n));
        assert_eq!(
            ReportNumber::parse("2026-1234567").map(|n| n.seq()),
            Some(1_234_567)
        );
        for bad in [
            "2026-0000123",
            "2026-123",
            "26-000123",
            "2026-000000",
            "2026_000123",
            "2026-00012a",
            "",
            "-",
            "1999-000001",
            "2026-000123 ",
        ] {
            assert_eq!(ReportNumber::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_secret_matches_only_itself() {
        let (secret, hash) = new_secret();
        assert_eq!(hash.len(), 64);
        assert_eq!(secret.len(), 24);
        assert!(secret_matches(Some(&secret), Some(&hash)));
        assert!(!secret_matches(Some("x"), Some(&hash)));
        assert!(!secret_matches(None, Some(&hash)));
        assert!(!secret_matches(Some(&secret), None));
        let (other, _) = new_secret();
        assert_ne!(secret, other);
    }
}
