//! Marking-code values that can only exist valid: GTIN, SSCC, serial, key id,
//! crypto tail, and the marking code that carries them.
//!
//! Every type here keeps its fields private and is built by a `parse` that
//! checks the GS1 rules and Tanba's own (a serial has exactly 13 characters, a
//! key id 4), so a function that takes a `&MarkingCode` never checks it again.
//! Parsing the many shapes a scanner hands over lives in [`crate::gs1`]; the
//! formatting back to those shapes lives here, next to the fields it reads.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Date;

use crate::gs1::{self, GS, ParseError, ai};

/// Implements the shared surface of the single-field values: `parse`,
/// `as_str`, `Display`, `FromStr`, `AsRef<str>` and serde as a plain string.
macro_rules! string_value {
    ($name:ident, $ai:literal) => {
        impl $name {
            /// Parses the data of AI
            #[doc = $ai]
            /// alone (no AI prefix). Error positions count from the start of `s`.
            pub fn parse(s: &str) -> Result<$name, ParseError> {
                ai::check_standalone($ai, s)?;
                Ok($name(s.to_owned()))
            }

            /// For data the parser has already checked against the same rules.
            pub(crate) fn from_checked(s: String) -> $name {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<$name, ParseError> {
                $name::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A GTIN-14: 14 digits ending in a valid GS1 check digit. Shorter GTINs
/// (8, 12, 13 digits) are written left-padded with zeros in a code, so only the
/// 14-digit form is accepted here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin(String);
string_value!(Gtin, "01");

/// The Serial Shipping Container Code of a transport package: 18 digits ending
/// in a valid GS1 check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sscc(String);
string_value!(Sscc, "00");

/// The serial of a unit (AI 21): exactly 13 characters of GS1 character set 82.
/// GS1 allows up to 20; 13 is Tanba's rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(String);
string_value!(Serial, "21");

/// The id of the emission key that signed a code (AI 91): exactly 4 characters
/// of set 82. GS1 allows up to 90; 4 is Tanba's rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);
string_value!(KeyId, "91");

/// The crypto tail (AI 92): 1 to 90 characters of set 82.
///
/// Tanba's own tails are 86-character base64url Ed25519 signatures, but a tail
/// of any other length still parses: whether it verifies is the crypto
/// module's question, and "this signature is invalid" is a more useful answer
/// to a scan than "this is not a code".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CryptoTail(String);
string_value!(CryptoTail, "92");

impl Serial {
    /// Characters in a serial.
    pub const LEN: usize = 13;

    /// The alphabet [`generate`](Self::generate) draws from.
    ///
    /// Only letters and digits, though set 82 has 82 characters: the others
    /// (`"`, `&`, `/`, `<`, `%`, …) need escaping in URLs, JSON, HTML and ZPL
    /// (`^` and `~` are ZPL commands, `_` its hex escape), and every escape is a
    /// chance for a label or a link to carry a different serial than the
    /// database. 62^13 ≈ 2×10^23 serials per GTIN is still so many that guessing
    /// one of even a billion issued codes succeeds with probability below 1e-14,
    /// far under the 1e-12 the design asks for.
    pub const ALPHABET: &'static [u8; 62] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// A fresh random serial, each character drawn uniformly from
    /// [`ALPHABET`](Self::ALPHABET). The `CryptoRng` bound is the point: a
    /// serial must be unguessable, so it never comes from a seeded or fast RNG.
    pub fn generate(rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> Serial {
        // `gen_range` rejects the biased tail of the random word, so every
        // character is exactly uniform.
        let s = (0..Self::LEN)
            .map(|_| char::from(Self::ALPHABET[rng.gen_range(0..Self::ALPHABET.len())]))
            .collect();
        Serial(s)
    }
}

impl KeyId {
    /// Characters in a key id.
    pub const LEN: usize = 4;
}

/// Characters written as they are in a GS1 Digital Link path segment or query
/// value: RFC 3986 "unreserved". Everything else is percent-encoded, which is
/// always allowed and spares us the per-position rules of which reserved
/// characters may appear where.
const DIGITAL_LINK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(value: &str) -> impl fmt::Display + '_ {
    utf8_percent_encode(value, DIGITAL_LINK_ENCODE)
}

fn base_url(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// The marking code of a unit (or of a group package, which has the same form).
///
/// Holds the GTIN and serial that identify it, the key id and crypto tail that
/// prove the operator issued it, the expiry and batch GS1 lets a label carry,
/// and every other AI the code had, so that formatting it again loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarkingCode {
    gtin: Gtin,
    serial: Serial,
    key_id: Option<KeyId>,
    crypto_tail: Option<CryptoTail>,
    expiry: Option<Date>,
    batch: Option<String>,
    /// Every other AI and its data, sorted by AI: two inputs that list the same
    /// AIs in a different order are the same code, compare equal and have one
    /// canonical string.
    others: Vec<(String, String)>,
}

/// The facts [`crate::gs1`] has checked, to build a [`MarkingCode`] from.
pub(crate) struct CheckedParts {
    pub(crate) gtin: Gtin,
    pub(crate) serial: Serial,
    pub(crate) key_id: Option<KeyId>,
    pub(crate) crypto_tail: Option<CryptoTail>,
    pub(crate) expiry: Option<Date>,
    pub(crate) batch: Option<String>,
    pub(crate) others: Vec<(String, String)>,
}

impl MarkingCode {
    /// A code with just its identity, as issued before signing.
    pub fn new(gtin: Gtin, serial: Serial) -> MarkingCode {
        MarkingCode {
            gtin,
            serial,
            key_id: None,
            crypto_tail: None,
            expiry: None,
            batch: None,
            others: Vec::new(),
        }
    }

    pub(crate) fn from_checked(mut parts: CheckedParts) -> MarkingCode {
        parts.others.sort();
        MarkingCode {
            gtin: parts.gtin,
            serial: parts.serial,
            key_id: parts.key_id,
            crypto_tail: parts.crypto_tail,
            expiry: parts.expiry,
            batch: parts.batch,
            others: parts.others,
        }
    }

    /// The same code carrying the signature: key id (AI 91) and crypto tail (AI 92).
    #[must_use]
    pub fn with_crypto(mut self, key_id: KeyId, crypto_tail: CryptoTail) -> MarkingCode {
        self.key_id = Some(key_id);
        self.crypto_tail = Some(crypto_tail);
        self
    }

    /// The same code carrying an expiry date (AI 17). Fails with `bad_date` for
    /// a year outside 2000–2099, which `YYMMDD` cannot say.
    pub fn with_expiry(mut self, expiry: Date) -> Result<MarkingCode, ParseError> {
        if ai::format_yymmdd(expiry).is_none() {
            return Err(ParseError::bad_date("17", 0, &expiry.to_string()));
        }
        self.expiry = Some(expiry);
        Ok(self)
    }

    /// Parses any form [`gs1::parse`] accepts, and rejects an SSCC with
    /// `not_a_unit_code`.
    pub fn parse(input: &str) -> Result<MarkingCode, ParseError> {
        match gs1::parse(input)? {
            ScannedCode::Unit(code) => Ok(code),
            ScannedCode::Sscc(_) => Err(ParseError::not_a_unit_code()),
        }
    }

    pub fn gtin(&self) -> &Gtin {
        &self.gtin
    }

    pub fn serial(&self) -> &Serial {
        &self.serial
    }

    pub fn key_id(&self) -> Option<&KeyId> {
        self.key_id.as_ref()
    }

    pub fn crypto_tail(&self) -> Option<&CryptoTail> {
        self.crypto_tail.as_ref()
    }

    /// The expiry date (AI 17). A `YYMMDD` with day `00` means the last day of
    /// that month, and is returned as that day.
    pub fn expiry(&self) -> Option<Date> {
        self.expiry
    }

    /// The batch or lot (AI 10).
    pub fn batch(&self) -> Option<&str> {
        self.batch.as_deref()
    }

    /// Every other AI the code carries, as (AI, data), sorted by AI.
    pub fn other_ais(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.others
            .iter()
            .map(|(ai, value)| (ai.as_str(), value.as_str()))
    }

    /// The bytes the Ed25519 crypto tail signs: exactly `01<GTIN>21<serial>`.
    pub fn signed_bytes(&self) -> String {
        format!("01{}21{}", self.gtin, self.serial)
    }

    /// The unique key of a code (GTIN and serial), as `01<GTIN>21<serial>`.
    /// A re-labelled or re-signed code has the same identity.
    pub fn identity(&self) -> String {
        self.signed_bytes()
    }

    /// Every AI with its data in canonical order: predefined-length AIs first
    /// (01, 17, then the others by AI), then the serial, then the other
    /// variable-length AIs by AI (batch 10 first), then 91 and 92.
    ///
    /// Fixed-length fields first means no separator after them; the crypto
    /// tail last, because the last field needs no GS and the tail is the one
    /// part scanners sometimes cut short.
    fn fields(&self) -> Vec<(&str, Cow<'_, str>)> {
        let mut fields: Vec<(&str, Cow<'_, str>)> = vec![("01", self.gtin.as_str().into())];
        if let Some(yymmdd) = self.expiry.and_then(ai::format_yymmdd) {
            fields.push(("17", yymmdd.into()));
        }
        let (fixed, variable): (Vec<_>, Vec<_>) = self
            .other_ais()
            .partition(|(ai, _)| ai::is_predefined_length(ai));
        fields.extend(fixed.into_iter().map(|(ai, value)| (ai, value.into())));
        fields.push(("21", self.serial.as_str().into()));
        if let Some(batch) = &self.batch {
            fields.push(("10", batch.as_str().into()));
        }
        fields.extend(variable.into_iter().map(|(ai, value)| (ai, value.into())));
        if let Some(key_id) = &self.key_id {
            fields.push(("91", key_id.as_str().into()));
        }
        if let Some(tail) = &self.crypto_tail {
            fields.push(("92", tail.as_str().into()));
        }
        fields
    }

    /// The canonical raw form, as encoded in a DataMatrix: no leading FNC1 (the
    /// encoder writes it), a GS after every variable-length field but the last.
    /// Every accepted input of the same code gives this same string.
    pub fn element_string(&self) -> String {
        let fields = self.fields();
        let mut out = String::new();
        for (i, (ai, value)) in fields.iter().enumerate() {
            out.push_str(ai);
            out.push_str(value);
            if i + 1 < fields.len() && !ai::is_predefined_length(ai) {
                out.push(GS);
            }
        }
        out
    }

    /// The human-readable form printed under a symbol: `(01)…(17)…(21)…(91)…(92)…`.
    pub fn human_readable(&self) -> String {
        self.fields()
            .iter()
            .map(|(ai, value)| format!("({ai}){value}"))
            .collect()
    }

    /// A GS1 Digital Link URI on `base` (e.g. `https://id.tanba.kz`): the GTIN
    /// and its key qualifiers (22, 10, 21, in GS1's order) in the path, every
    /// other AI in the query, each percent-encoded.
    pub fn digital_link(&self, base: &str) -> String {
        const PATH: [&str; 4] = ["01", "22", "10", "21"];
        let fields = self.fields();
        let mut out = base_url(base).to_owned();
        for key in PATH {
            if let Some((ai, value)) = fields.iter().find(|(ai, _)| *ai == key) {
                out.push_str(&format!("/{ai}/{}", encode(value)));
            }
        }
        let mut separator = '?';
        for (ai, value) in fields.iter().filter(|(ai, _)| !PATH.contains(ai)) {
            out.push_str(&format!("{separator}{ai}={}", encode(value)));
            separator = '&';
        }
        out
    }
}

impl fmt::Display for MarkingCode {
    /// The human-readable form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human_readable())
    }
}

impl FromStr for MarkingCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<MarkingCode, ParseError> {
        MarkingCode::parse(s)
    }
}

impl Serialize for MarkingCode {
    /// As the canonical element string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.element_string())
    }
}

impl<'de> Deserialize<'de> for MarkingCode {
    /// From any form [`gs1::parse`] accepts.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MarkingCode, D::Error> {
        let s = String::deserialize(deserializer)?;
        MarkingCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Sscc {
    /// `00<sscc>`, as encoded in a symbol.
    pub fn element_string(&self) -> String {
        format!("00{}", self.0)
    }

    /// `(00)<sscc>`.
    pub fn human_readable(&self) -> String {
        format!("(00){}", self.0)
    }

    /// `<base>/00/<sscc>`.
    pub fn digital_link(&self, base: &str) -> String {
        format!("{}/00/{}", base_url(base), self.0)
    }
}

/// Whatever a scan yields: the code of a unit (or group package), or the SSCC
/// of a transport package.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScannedCode {
    Unit(MarkingCode),
    Sscc(Sscc),
}

impl ScannedCode {
    /// The canonical element string, the same for every form of the same code.
    pub fn canonical(&self) -> String {
        self.element_string()
    }

    pub fn element_string(&self) -> String {
        match self {
            ScannedCode::Unit(code) => code.element_string(),
            ScannedCode::Sscc(sscc) => sscc.element_string(),
        }
    }

    pub fn human_readable(&self) -> String {
        match self {
            ScannedCode::Unit(code) => code.human_readable(),
            ScannedCode::Sscc(sscc) => sscc.human_readable(),
        }
    }

    pub fn digital_link(&self, base: &str) -> String {
        match self {
            ScannedCode::Unit(code) => code.digital_link(base),
            ScannedCode::Sscc(sscc) => sscc.digital_link(base),
        }
    }
}

impl fmt::Display for ScannedCode {
    /// The human-readable form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.human_readable())
    }
}

impl FromStr for ScannedCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<ScannedCode, ParseError> {
        gs1::parse(s)
    }
}

impl Serialize for ScannedCode {
    /// As the canonical element string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> Deserialize<'de> for ScannedCode {
    /// From any form [`gs1::parse`] accepts.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ScannedCode, D::Error> {
        let s = String::deserialize(deserializer)?;
        gs1::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn code() -> MarkingCode {
        let gtin = Gtin::parse("04652352262009").unwrap();
        let serial = Serial::parse("k2Fpdfbwuq6gu").unwrap();
        MarkingCode::new(gtin, serial).with_crypto(
            KeyId::parse("TZ01").unwrap(),
            CryptoTail::parse("a/b+c").unwrap(),
        )
    }

    #[test]
    fn signed_bytes_are_gtin_and_serial_only() {
        assert_eq!(code().signed_bytes(), "010465235226200921k2Fpdfbwuq6gu");
        assert_eq!(code().identity(), code().signed_bytes());
    }

    #[test]
    fn canonical_forms() {
        let code = code()
            .with_expiry(Date::from_calendar_date(2028, time::Month::December, 31).unwrap())
            .unwrap();
        assert_eq!(
            code.element_string(),
            "01046523522620091728123121k2Fpdfbwuq6gu\u{1d}91TZ01\u{1d}92a/b+c"
        );
        assert_eq!(
            code.human_readable(),
            "(01)04652352262009(17)281231(21)k2Fpdfbwuq6gu(91)TZ01(92)a/b+c"
        );
        assert_eq!(
            code.digital_link("https://id.tanba.kz/"),
            "https://id.tanba.kz/01/04652352262009/21/k2Fpdfbwuq6gu?17=281231&91=TZ01&92=a%2Fb%2Bc"
        );
        assert_eq!(code.to_string(), code.human_readable());
    }

    #[test]
    fn serde_uses_the_element_string() {
        let json = serde_json::to_string(&code()).unwrap();
        assert_eq!(
            json,
            r#""010465235226200921k2Fpdfbwuq6gu\u001d91TZ01\u001d92a/b+c""#
        );
        assert_eq!(serde_json::from_str::<MarkingCode>(&json).unwrap(), code());
        assert!(serde_json::from_str::<Gtin>(r#""04652352262008""#).is_err());
    }

    #[test]
    fn sscc_forms() {
        let sscc = Sscc::parse("948731836164410274").unwrap();
        assert_eq!(sscc.element_string(), "00948731836164410274");
        assert_eq!(sscc.human_readable(), "(00)948731836164410274");
        assert_eq!(
            sscc.digital_link("https://id.tanba.kz"),
            "https://id.tanba.kz/00/948731836164410274"
        );
    }

    #[test]
    fn generated_serials_are_valid_and_alphanumeric() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let serial = Serial::generate(&mut rng);
            assert_eq!(Serial::parse(serial.as_str()), Ok(serial.clone()));
            assert!(serial.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn expiry_outside_yymmdd_is_refused() {
        let date = Date::from_calendar_date(2100, time::Month::January, 1).unwrap();
        assert_eq!(
            code().with_expiry(date).unwrap_err().kind,
            crate::ParseErrorKind::BadDate
        );
    }
}
