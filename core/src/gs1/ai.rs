//! The GS1 Application Identifiers Tanba understands, and the checks on their data.
//!
//! The table is deliberately small: the AIs a unit code or a transport package
//! can carry on the Kazakh market, plus the common logistic ones a label next to
//! them may hold. An AI outside the table is an error rather than passed through
//! unchecked, because an unknown AI also means we cannot tell where its data ends.
//! Adding one is one line here.

use time::{Date, Month};

use super::error::{Charset, ParseError};
use crate::code::{KeyId, Serial};

/// What the data of an AI looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Exactly this many digits, the last one a GS1 mod-10 check digit.
    Key(usize),
    /// Exactly this many digits.
    Digits(usize),
    /// `YYMMDD`; `DD` may be `00` (see [`parse_yymmdd`]).
    Date,
    /// 1 up to this many digits, ended by GS.
    DigitsUpTo(usize),
    /// 1 up to this many characters of GS1 character set 82, ended by GS.
    TextUpTo(usize),
}

impl Format {
    /// The data length of a predefined-length AI; `None` for variable length.
    pub(crate) fn fixed_len(self) -> Option<usize> {
        match self {
            Format::Key(n) | Format::Digits(n) => Some(n),
            Format::Date => Some(6),
            Format::DigitsUpTo(_) | Format::TextUpTo(_) => None,
        }
    }

    fn charset(self) -> Charset {
        match self {
            Format::TextUpTo(_) => Charset::Set82,
            _ => Charset::Digits,
        }
    }
}

#[derive(Debug)]
pub(crate) struct AiSpec {
    /// The AI, or its first three digits when `decimals` is set.
    prefix: &'static str,
    /// `310n`-style AIs: the fourth digit (0 to 5) says where the decimal point
    /// goes, so one entry stands for six AIs.
    decimals: bool,
    pub(crate) title: &'static str,
    pub(crate) format: Format,
}

const fn ai(prefix: &'static str, title: &'static str, format: Format) -> AiSpec {
    AiSpec {
        prefix,
        decimals: false,
        title,
        format,
    }
}

const fn measure(prefix: &'static str, title: &'static str) -> AiSpec {
    AiSpec {
        prefix,
        decimals: true,
        title,
        format: Format::Digits(6),
    }
}

/// GS1 AIs are prefix-free (no AI is the beginning of another), which is what
/// lets a raw element string be split without separators after fixed-length
/// fields. A unit test checks this table keeps that property.
static TABLE: &[AiSpec] = &[
    ai("00", "SSCC", Format::Key(18)),
    ai("01", "GTIN", Format::Key(14)),
    ai("02", "content GTIN", Format::Key(14)),
    ai("10", "batch", Format::TextUpTo(20)),
    ai("11", "production date", Format::Date),
    ai("12", "due date", Format::Date),
    ai("13", "packaging date", Format::Date),
    ai("15", "best before date", Format::Date),
    ai("16", "sell by date", Format::Date),
    ai("17", "expiry date", Format::Date),
    ai("20", "variant", Format::Digits(2)),
    ai("21", "serial", Format::TextUpTo(20)),
    ai("22", "consumer product variant", Format::TextUpTo(20)),
    ai("240", "additional product id", Format::TextUpTo(30)),
    ai("241", "customer part number", Format::TextUpTo(30)),
    ai("30", "variable count", Format::DigitsUpTo(8)),
    measure("310", "net weight, kg"),
    measure("311", "length, m"),
    measure("312", "width, m"),
    measure("313", "depth, m"),
    measure("314", "area, m²"),
    measure("315", "net volume, l"),
    measure("316", "net volume, m³"),
    ai("37", "count of trade items", Format::DigitsUpTo(8)),
    ai("91", "key id", Format::TextUpTo(90)),
    ai("92", "crypto tail", Format::TextUpTo(90)),
    ai("93", "company internal", Format::TextUpTo(90)),
    ai("94", "company internal", Format::TextUpTo(90)),
    ai("95", "company internal", Format::TextUpTo(90)),
    ai("96", "company internal", Format::TextUpTo(90)),
    ai("97", "company internal", Format::TextUpTo(90)),
    ai("98", "company internal", Format::TextUpTo(90)),
    ai("99", "company internal", Format::TextUpTo(90)),
];

/// First two digits of the AIs with a predefined length, from GS1 General
/// Specifications Figure 7.8.4-2. Every AI starting with these is fixed-length
/// and never followed by a separator; every other AI is ended by GS (or the
/// end of the data). The formatter places separators by this list, exactly as
/// an encoder does, and a unit test checks the table above agrees with it.
const PREDEFINED_LENGTH: [&str; 23] = [
    "00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "23",
    "31", "32", "33", "34", "35", "36", "41",
];

pub(crate) fn is_predefined_length(ai: &str) -> bool {
    ai.get(..2).is_some_and(|p| PREDEFINED_LENGTH.contains(&p))
}

impl AiSpec {
    /// The length of the AI this entry matches, if `digits` starts with it.
    fn matches(&self, digits: &str) -> Option<usize> {
        let rest = digits.strip_prefix(self.prefix)?;
        if !self.decimals {
            return Some(self.prefix.len());
        }
        matches!(rest.as_bytes().first(), Some(b'0'..=b'5')).then_some(self.prefix.len() + 1)
    }
}

/// The AI at the start of `digits` (up to four ASCII digits) and its length.
pub(crate) fn lookup_prefix(digits: &str) -> Option<(&'static AiSpec, usize)> {
    TABLE
        .iter()
        .find_map(|spec| spec.matches(digits).map(|len| (spec, len)))
}

/// The entry for exactly this AI.
pub(crate) fn lookup(ai: &str) -> Option<&'static AiSpec> {
    lookup_prefix(ai).and_then(|(spec, len)| (len == ai.len()).then_some(spec))
}

/// A short English name for messages, e.g. `serial` for 21.
pub(crate) fn title(ai: &str) -> Option<&'static str> {
    lookup(ai).map(|spec| spec.title)
}

/// GS1 character set 82 (General Specifications Figure 7.11-1), the characters
/// allowed in alphanumeric AI data.
pub(crate) fn is_set82(c: char) -> bool {
    matches!(c,
        '!' | '"' | '%'..='?' | 'A'..='Z' | '_' | 'a'..='z')
}

/// Where the characters of a value sit in the input, for error positions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CharPos<'a> {
    /// Character `i` of the value is at `value_position + i`.
    Contiguous,
    /// Character `i` is at `value_position + offsets[i]` (percent-decoded data).
    Mapped(&'a [usize]),
    /// Only the start of the value is known.
    Start,
}

impl CharPos<'_> {
    fn at(self, value_position: usize, i: usize) -> usize {
        match self {
            CharPos::Contiguous => value_position + i,
            CharPos::Mapped(offsets) => value_position + offsets.get(i).copied().unwrap_or(0),
            CharPos::Start => value_position,
        }
    }
}

/// Checks the data of one field against GS1 rules and Tanba's own.
///
/// Characters are checked first, then length, then check digit or date, so an
/// error names the first thing a person would have to fix.
pub(crate) fn check_value(
    ai: &str,
    spec: &AiSpec,
    value: &str,
    value_position: usize,
    chars: CharPos<'_>,
) -> Result<(), ParseError> {
    let charset = spec.format.charset();
    for (i, c) in value.chars().enumerate() {
        let ok = match charset {
            Charset::Digits => c.is_ascii_digit(),
            Charset::Set82 => is_set82(c),
        };
        if !ok {
            let position = chars.at(value_position, i);
            return Err(ParseError::bad_character(
                ai,
                value_position,
                position,
                c,
                charset,
            ));
        }
    }
    // From here on the value is ASCII, so byte length is character length.
    let length = value.len();
    match spec.format {
        Format::Key(n) | Format::Digits(n) if length != n => {
            return Err(ParseError::bad_length(
                ai,
                value_position,
                length,
                n.to_string(),
            ));
        }
        Format::Date if length != 6 => {
            return Err(ParseError::bad_length(
                ai,
                value_position,
                length,
                "6".to_owned(),
            ));
        }
        Format::DigitsUpTo(max) | Format::TextUpTo(max) => {
            // Tanba's own rules are narrower than GS1's and give a more useful
            // message ("a serial has 13 characters"), so they come first.
            if ai == "21" && length != Serial::LEN {
                return Err(ParseError::bad_serial_length(value_position, length));
            }
            if ai == "91" && length != KeyId::LEN {
                return Err(ParseError::bad_key_id_length(value_position, length));
            }
            if length == 0 || length > max {
                return Err(ParseError::bad_length(
                    ai,
                    value_position,
                    length,
                    format!("1–{max}"),
                ));
            }
        }
        _ => {}
    }
    if let Format::Key(n) = spec.format {
        let (body, last) = value.split_at(n - 1);
        let found = last.as_bytes()[0] - b'0';
        if let Some(expected) = super::check_digit(body)
            && expected != found
        {
            return Err(ParseError::bad_check_digit(
                ai,
                value_position,
                expected,
                found,
            ));
        }
    }
    if spec.format == Format::Date && parse_yymmdd(value).is_none() {
        return Err(ParseError::bad_date(ai, value_position, value));
    }
    Ok(())
}

/// A GS1 `YYMMDD` date.
///
/// `DD = 00` is allowed, as GS1 allows it for every date AI here (11, 12, 13,
/// 15, 16, 17) when only year and month are known; for 15, 16 and 17 it means
/// the last day of the month, which is what this returns. (For 11, 12 and 13
/// the date is only checked here and kept as written.)
///
/// The year is `20YY`. GS1's rule picks the century from a window around the
/// current year, which would make parsing depend on the clock; for a system
/// started in 2026 the two agree on every year either could plausibly mean
/// (2000 to 2076), so we keep parsing a pure function of its input.
pub(crate) fn parse_yymmdd(value: &str) -> Option<Date> {
    let b = value.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    let year = 2000 + i32::from(two(0));
    let month = Month::try_from(two(2)).ok()?;
    let day = match two(4) {
        0 => time::util::days_in_month(month, year),
        d => d,
    };
    Date::from_calendar_date(year, month, day).ok()
}

/// The `YYMMDD` form of a date, if its year is one `YY` can say.
pub(crate) fn format_yymmdd(date: Date) -> Option<String> {
    let year = date.year();
    (2000..=2099).contains(&year).then(|| {
        format!(
            "{:02}{:02}{:02}",
            year - 2000,
            u8::from(date.month()),
            date.day()
        )
    })
}

/// Checks a whole string as the data of `ai`, for the `parse` of the typed
/// values (`Gtin::parse` and friends): positions count from the start of `value`.
pub(crate) fn check_standalone(ai: &str, value: &str) -> Result<(), ParseError> {
    match lookup(ai) {
        Some(spec) => check_value(ai, spec, value, 0, CharPos::Contiguous),
        None => Err(ParseError::unknown_ai(ai, 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_prefix_free() {
        for a in TABLE {
            for b in TABLE {
                if !std::ptr::eq(a, b) {
                    assert!(
                        !a.prefix.starts_with(b.prefix) && !b.prefix.starts_with(a.prefix),
                        "{} and {} overlap",
                        a.prefix,
                        b.prefix
                    );
                }
            }
        }
    }

    #[test]
    fn table_agrees_with_the_predefined_length_figure() {
        for spec in TABLE {
            assert_eq!(
                spec.format.fixed_len().is_some(),
                is_predefined_length(spec.prefix),
                "AI {}",
                spec.prefix
            );
        }
    }

    #[test]
    fn set82_has_82_characters() {
        assert_eq!((0..128u8).filter(|&b| is_set82(char::from(b))).count(), 82);
        assert!(!is_set82('#') && !is_set82(' ') && !is_set82('\u{1d}') && !is_set82('Ж'));
    }

    #[test]
    fn measure_ais_take_decimals_0_to_5() {
        assert_eq!(lookup("3103").map(|s| s.title), Some("net weight, kg"));
        assert!(lookup("3106").is_none());
        assert!(lookup("310").is_none());
    }

    #[test]
    fn day_00_is_the_last_day_of_the_month() {
        assert_eq!(
            parse_yymmdd("280200"),
            Date::from_calendar_date(2028, Month::February, 29).ok()
        );
        assert_eq!(
            parse_yymmdd("290200"),
            Date::from_calendar_date(2029, Month::February, 28).ok()
        );
        assert_eq!(parse_yymmdd("290229"), None);
        assert_eq!(parse_yymmdd("281301"), None);
        assert_eq!(parse_yymmdd("281232"), None);
    }
}
