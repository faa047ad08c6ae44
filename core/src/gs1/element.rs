//! Splitting a raw element string (`01…21…<GS>91…`) and its human-readable
//! form (`(01)…(21)…`) into checked fields.

use super::ai::{self, AiSpec, CharPos};
use super::{Field, GS, ParseError};

/// Fields of a raw element string; `offset` is the character position of
/// `s` in the original input.
pub(super) fn raw_fields(s: &str, offset: usize) -> Result<Vec<Field>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let position = offset + i;
        let (spec, ai) = read_ai(&chars[i..], position)?;
        i += ai.len();
        let start = i;
        // Fixed-length data ends after its length, variable-length data at GS;
        // a GS inside fixed-length data ends it early and shows as a bad length.
        let limit = spec.format.fixed_len().unwrap_or(usize::MAX);
        while i < chars.len() && i - start < limit && chars[i] != GS {
            i += 1;
        }
        let value: String = chars[start..i].iter().collect();
        ai::check_value(&ai, spec, &value, offset + start, CharPos::Contiguous)?;
        if chars.get(i) == Some(&GS) {
            i += 1;
        }
        fields.push(Field {
            ai,
            value,
            position,
        });
    }
    Ok(fields)
}

/// The AI at the start of `chars`: the table entry and the AI's digits.
fn read_ai(chars: &[char], position: usize) -> Result<(&'static AiSpec, String), ParseError> {
    let digits: String = chars
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .collect();
    if digits.is_empty() {
        // `raw_fields` only calls this with characters left.
        let found = chars.first().copied().unwrap_or(GS);
        return Err(ParseError::expected_ai(position, found));
    }
    match ai::lookup_prefix(&digits) {
        Some((spec, len)) => Ok((spec, digits[..len].to_owned())),
        None => Err(ParseError::unknown_ai(&digits, position)),
    }
}

/// Fields of the human-readable form `(01)…(21)…`.
///
/// The data of a field runs to the next `(` that opens a group of 2 to 4
/// digits and `)`. Set 82 contains `(` and `)`, so data that itself holds such
/// a group (a serial `ab(10)cdefghi`) is split there: the human-readable form
/// is ambiguous by nature, which is why scanners and machines use the raw form
/// or a Digital Link. A `(` not followed by such a group is data.
pub(super) fn human_readable_fields(s: &str, offset: usize) -> Result<Vec<Field>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let Some((ai, start)) = ai_group(&chars, i) else {
            return Err(ParseError::bad_human_readable(offset + i));
        };
        let position = offset + i + 1;
        let Some(spec) = ai::lookup(&ai) else {
            return Err(ParseError::unknown_ai(&ai, position));
        };
        let mut end = start;
        while end < chars.len() && ai_group(&chars, end).is_none() {
            end += 1;
        }
        let value: String = chars[start..end].iter().collect();
        ai::check_value(&ai, spec, &value, offset + start, CharPos::Contiguous)?;
        fields.push(Field {
            ai,
            value,
            position,
        });
        i = end;
    }
    Ok(fields)
}

/// If `(`, 2 to 4 digits and `)` start at `i`: the digits and the index after `)`.
fn ai_group(chars: &[char], i: usize) -> Option<(String, usize)> {
    if chars.get(i) != Some(&'(') {
        return None;
    }
    let digits: String = chars
        .iter()
        .skip(i + 1)
        .take(5)
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let close = i + 1 + digits.len();
    ((2..=4).contains(&digits.len()) && chars.get(close) == Some(&')'))
        .then_some((digits, close + 1))
}
