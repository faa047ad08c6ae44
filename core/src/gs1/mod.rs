//! Parsing every form in which a scanner or a person hands over a code into one
//! canonical [`ScannedCode`], with precise errors.
//!
//! Accepted forms (design.md §3):
//!
//! - The raw GS1 element string, with GS (ASCII 29) after each variable-length
//!   field, as a DataMatrix carries it. It may start with a symbology identifier
//!   announcing GS1 data (`]d2` DataMatrix, `]C1` GS1-128, `]Q3` QR, `]e0`
//!   DataBar, `]J1` DotCode), and/or with a GS (FNC1 in first position, sent as
//!   GS by many scanners), and end with one GS and/or a line ending (`\n`,
//!   `\r\n`, `\r`) from a keyboard-wedge scanner. A GS right after a
//!   fixed-length field is superfluous but tolerated.
//! - The human-readable form `(01)…(21)…(91)…(92)…`.
//! - A GS1 Digital Link URI, `http(s)://<any host>[/prefix]/01/<gtin>/21/<serial>?91=…&92=…`
//!   or `…/00/<sscc>`, also after the symbology identifiers `]d1` or `]Q1` of a
//!   symbol that holds a plain URL.
//!
//! Some scanners drop GS or replace it with another character. In general that
//! cannot be undone, and a parser that guesses makes errors unexplainable; but
//! a Tanba unit code has a fixed shape in which the separators can stand in
//! only two places, so an input with no GS that fails the strict parse and
//! fits that shape is repaired and parsed again (see `separators`). Every
//! other input gets the strict parser's own error.
//!
//! The result is a [`ScannedCode`]: the code of a unit (GTIN 01 and serial 21
//! required) or the SSCC (00) of a transport package. A transport label may
//! carry more AIs next to its SSCC (content 02, count 37, batch, dates); they
//! are checked like any other AI but not kept, because Tanba knows what a
//! package holds from its aggregation, not from its label: the SSCC is the
//! whole identity of a package, and its canonical form is `00<sscc>`.
//!
//! Rejected: inputs longer than 3116 characters (what a DataMatrix holds),
//! unknown AIs, data that breaks the AI's format, a GTIN without serial or a
//! serial without GTIN, the same AI twice, AIs GS1 forbids together (00 with
//! 01, 01 with 02 or 37), and Tanba's narrower rules: a serial of exactly 13
//! characters, a key id of exactly 4. Key id (91) and crypto tail (92) are
//! each optional, as GS1 has them: a code with neither, or with only one,
//! parses, and the crypto module says its signature is missing. A crypto tail
//! that does not verify is **not** a parse error either; the crypto module
//! judges it.
//!
//! `parse` never panics, whatever the input; the property tests and the fuzz
//! target in `core/fuzz` hold it to that.

// keys: the localized message of a `ParseError` is the Fluent message
// `code-error-` + `kind.code()` with `_` replaced by `-` (for example
// `code-error-bad-check-digit`), in `locales/{kk,ru}/codes.ftl`, with the
// variables of `ParseError::args()`; `ParseErrorKind::message_key` builds it.
// A unit test (gs1/tests.rs) checks both files have one message per kind and
// use no variable `args()` does not give.

pub(crate) mod ai;
mod digital_link;
mod element;
mod error;
mod separators;

pub use error::{ParseError, ParseErrorKind};

use crate::code::{CheckedParts, CryptoTail, Gtin, KeyId, MarkingCode, ScannedCode, Serial, Sscc};

/// The group separator (ASCII 29) that ends a variable-length field.
pub const GS: char = '\u{1d}';

/// The most characters a GS1 DataMatrix holds (144×144, numeric data); any
/// longer input cannot have come from a symbol and is refused before any work.
pub const MAX_INPUT_CHARS: usize = 3116;

/// Symbology identifiers (ISO/IEC 15424) whose data is a GS1 element string.
const GS1_SYMBOLOGIES: [&str; 5] = ["]d2", "]C1", "]Q3", "]e0", "]J1"];

/// Symbology identifiers of symbols holding plain data, where a Digital Link
/// URI (and nothing else) is accepted.
const PLAIN_SYMBOLOGIES: [&str; 2] = ["]d1", "]Q1"];

/// The GS1 mod-10 check digit of `digits`, the digits before the check digit
/// (weights 3, 1, 3, … from the right). `None` if `digits` is empty or holds
/// anything but ASCII digits.
pub fn check_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    // `sum % 10` is below 10, so the result fits in a u8.
    Some(((10 - sum % 10) % 10) as u8)
}

/// One AI and its data, already checked against the AI's format.
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) ai: String,
    pub(crate) value: String,
    /// Character position of the AI in the input.
    pub(crate) position: usize,
}

/// Parses a code in any accepted form (see the module documentation).
pub fn parse(input: &str) -> Result<ScannedCode, ParseError> {
    // Bytes bound characters from above, so most inputs skip the count.
    if input.len() > MAX_INPUT_CHARS {
        let length = input.chars().count();
        if length > MAX_INPUT_CHARS {
            return Err(ParseError::too_long(length));
        }
    }
    let body = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .or_else(|| input.strip_suffix('\r'))
        .unwrap_or(input);
    let body = body.strip_suffix(GS).unwrap_or(body);

    let (symbology, body) = split_symbology(body)?;
    if body.is_empty() {
        return Err(ParseError::empty());
    }
    // A symbology identifier is three ASCII characters.
    let offset = if symbology.is_some() { 3 } else { 0 };
    let gs1_symbology = symbology.is_some_and(|s| GS1_SYMBOLOGIES.contains(&s));

    let fields = if !gs1_symbology && digital_link::looks_like(body) {
        digital_link::fields(body, offset)?
    } else if let Some(s) = symbology.filter(|_| !gs1_symbology) {
        return Err(ParseError::unsupported_symbology(s));
    } else if symbology.is_none() && body.starts_with('(') {
        element::human_readable_fields(body, offset)?
    } else {
        let (body, offset) = match body.strip_prefix(GS) {
            Some(rest) => (rest, offset + 1),
            None => (body, offset),
        };
        if body.is_empty() {
            return Err(ParseError::empty());
        }
        // The repair is tried only after the strict parse failed, so a
        // well-formed scan pays nothing for it.
        return element::raw_fields(body, offset)
            .and_then(assemble)
            .or_else(|e| match separators::restore(body) {
                Some(repaired) => element::raw_fields(&repaired, offset)
                    .and_then(assemble)
                    .map_err(|_| e),
                None => Err(e),
            });
    };
    assemble(fields)
}

/// Splits off a leading symbology identifier (`]` + letter + digit).
fn split_symbology(body: &str) -> Result<(Option<&str>, &str), ParseError> {
    if body.is_empty() {
        return Err(ParseError::empty());
    }
    if !body.starts_with(']') {
        return Ok((None, body));
    }
    match body.get(..3) {
        Some(id) if GS1_SYMBOLOGIES.contains(&id) || PLAIN_SYMBOLOGIES.contains(&id) => {
            Ok((Some(id), &body[3..]))
        }
        _ => {
            let shown: String = body.chars().take(3).collect();
            Err(ParseError::unsupported_symbology(&shown))
        }
    }
}

/// GS1 invalid AI pairs that can occur with the AIs we know (General
/// Specifications 4.14.1): an SSCC is not a trade item, and a trade item is not
/// the content of a logistic unit.
const CONFLICTS: [(&str, &str); 3] = [("00", "01"), ("01", "02"), ("01", "37")];

/// Checks the fields together and builds the typed value.
fn assemble(fields: Vec<Field>) -> Result<ScannedCode, ParseError> {
    for (i, field) in fields.iter().enumerate() {
        for earlier in &fields[..i] {
            if earlier.ai == field.ai {
                return Err(ParseError::duplicate_ai(
                    &field.ai,
                    field.position,
                    earlier.position,
                ));
            }
            let conflict = CONFLICTS.iter().any(|&(a, b)| {
                (a == earlier.ai && b == field.ai) || (b == earlier.ai && a == field.ai)
            });
            if conflict {
                return Err(ParseError::conflicting_ai(
                    &field.ai,
                    field.position,
                    &earlier.ai,
                ));
            }
        }
    }
    let has = |ai: &str| fields.iter().any(|f| f.ai == ai);
    if has("21") && !has("01") {
        return Err(ParseError::missing_gtin());
    }
    let mut sscc = None;
    let mut gtin = None;
    let mut serial = None;
    let mut key_id = None;
    let mut crypto_tail = None;
    let mut expiry = None;
    let mut batch = None;
    let mut others = Vec::new();
    for Field { ai, value, .. } in fields {
        match ai.as_str() {
            "00" => sscc = Some(Sscc::from_checked(value)),
            "01" => gtin = Some(Gtin::from_checked(value)),
            "21" => serial = Some(Serial::from_checked(value)),
            "91" => key_id = Some(KeyId::from_checked(value)),
            "92" => crypto_tail = Some(CryptoTail::from_checked(value)),
            // The date was checked with this same function.
            "17" => expiry = ai::parse_yymmdd(&value),
            "10" => batch = Some(value),
            _ => others.push((ai, value)),
        }
    }
    if let Some(sscc) = sscc {
        return Ok(ScannedCode::Sscc(sscc));
    }
    let Some(gtin) = gtin else {
        return Err(ParseError::missing_gtin());
    };
    let Some(serial) = serial else {
        return Err(ParseError::missing_serial());
    };
    Ok(ScannedCode::Unit(MarkingCode::from_checked(CheckedParts {
        gtin,
        serial,
        key_id,
        crypto_tail,
        expiry,
        batch,
        others,
    })))
}

#[cfg(test)]
mod tests;
