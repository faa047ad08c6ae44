//! Splitting a GS1 Digital Link URI into checked fields.
//!
//! The `url` crate decides what the path segments and the query are (host
//! syntax, dot segments, `\` as `/` and the rest of the WHATWG rules are its
//! business). We then read GS1's structure on top: an optional path prefix,
//! the primary key (`/01/<gtin>` or `/00/<sscc>`), the key qualifiers of a GTIN
//! in GS1's order (`/22/…`, `/10/…`, `/21/…`), and data attributes as
//! numeric query keys (`?17=…&91=…`). Non-numeric query keys (`linkType`,
//! tracking parameters) and the fragment are not GS1 data and are ignored.
//!
//! Values are percent-decoded strictly: a `%` must start a `%XX` escape (set 82
//! has `%`, so a literal one is `%25`), and `+` is a plus, not a space, since
//! space is not in set 82 and `+` is.

use url::Url;

use super::ai::{self, CharPos};
use super::error::LinkProblem;
use super::{Field, ParseError};

/// Key qualifiers of a GTIN, in the order GS1 Digital Link requires them.
const GTIN_QUALIFIERS: [&str; 3] = ["22", "10", "21"];

/// AIs that may only appear in the path.
const PATH_ONLY: [&str; 5] = ["00", "01", "10", "21", "22"];

pub(super) fn looks_like(s: &str) -> bool {
    let starts = |prefix: &str| {
        s.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    starts("http://") || starts("https://")
}

/// Fields of a Digital Link URI; `offset` is the character position of `s`
/// in the original input.
pub(super) fn fields(s: &str, offset: usize) -> Result<Vec<Field>, ParseError> {
    let url = Url::parse(s)
        .map_err(|_| ParseError::bad_digital_link(LinkProblem::NotAUrl, None, offset))?;
    let mut locator = Locator::new(s, offset);
    let path_position = locator.position(locator.cursor);

    let mut segments = Vec::new();
    for raw in url.path_segments().into_iter().flatten() {
        let at = locator.find(&['/'], raw, &['/', '?', '#']);
        segments.push(decode(raw, at)?);
    }
    if segments.last().is_some_and(|s| s.text.is_empty()) {
        segments.pop();
    }
    let texts: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
    let Some(key) = find_key(&texts) else {
        return Err(ParseError::bad_digital_link(
            LinkProblem::Path,
            None,
            path_position,
        ));
    };

    let mut fields = Vec::new();
    let mut pairs = segments.into_iter().skip(key);
    while let (Some(ai_part), Some(value)) = (pairs.next(), pairs.next()) {
        fields.push(field(ai_part.text, ai_part.position, value)?);
    }

    for pair in url.query().unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let at = locator.find(&['?', '&'], raw_key, &['=', '&', '#']);
        let key = decode(raw_key, at)?;
        if key.text.is_empty() || !key.text.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if PATH_ONLY.contains(&key.text.as_str()) {
            let problem = LinkProblem::KeyInQuery;
            return Err(ParseError::bad_digital_link(
                problem,
                Some(&key.text),
                key.position,
            ));
        }
        let at = if pair.contains('=') {
            locator.find(&['='], raw_value, &['&', '#'])
        } else {
            Located {
                position: key.position + key.text.len(),
                verbatim: false,
            }
        };
        let value = decode(raw_value, at)?;
        fields.push(field(key.text, key.position, value)?);
    }
    Ok(fields)
}

/// Index of the primary key segment: the first `00` or `01` after which the
/// rest of the path is exactly its value and, for a GTIN, qualifier pairs in
/// GS1's order. What comes before it is a path prefix of the resolver's own.
fn find_key(segments: &[&str]) -> Option<usize> {
    (0..segments.len()).find(|&i| {
        let rest = &segments[i..];
        if rest.len() < 2 || !rest.len().is_multiple_of(2) {
            return false;
        }
        match rest[0] {
            "00" => rest.len() == 2,
            "01" => {
                let mut next = 0;
                rest[2..].iter().step_by(2).all(|qualifier| {
                    match GTIN_QUALIFIERS[next..].iter().position(|q| q == qualifier) {
                        Some(k) => {
                            next += k + 1;
                            true
                        }
                        None => false,
                    }
                })
            }
            _ => false,
        }
    })
}

fn field(ai: String, position: usize, value: Part) -> Result<Field, ParseError> {
    let Some(spec) = ai::lookup(&ai) else {
        return Err(ParseError::unknown_ai(&ai, position));
    };
    let chars = match &value.offsets {
        Some(offsets) => CharPos::Mapped(offsets),
        None => CharPos::Start,
    };
    ai::check_value(&ai, spec, &value.text, value.position, chars)?;
    Ok(Field {
        ai,
        value: value.text,
        position,
    })
}

/// A decoded path segment, query key or query value.
struct Part {
    text: String,
    /// Character position in the input of its (encoded) start.
    position: usize,
    /// For each character of `text`, its offset from `position`, when the
    /// encoded form was found verbatim in the input.
    offsets: Option<Vec<usize>>,
}

/// Strict percent-decoding that remembers where each character came from.
fn decode(raw: &str, at: Located) -> Result<Part, ParseError> {
    let encoding_error = |offset: usize| {
        let position = if at.verbatim {
            at.position + offset
        } else {
            at.position
        };
        ParseError::bad_digital_link(LinkProblem::Encoding, None, position)
    };
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut from = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            // `from_str_radix` accepts a leading `+`, which is not a hex digit.
            let Some(byte) = hex.filter(|_| bytes[i + 1] != b'+') else {
                return Err(encoding_error(i));
            };
            decoded.push(byte);
            from.push(i);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            from.push(i);
            i += 1;
        }
    }
    let text = String::from_utf8(decoded).map_err(|e| {
        encoding_error(from.get(e.utf8_error().valid_up_to()).copied().unwrap_or(0))
    })?;
    let offsets = at
        .verbatim
        .then(|| text.char_indices().map(|(b, _)| from[b]).collect());
    Ok(Part {
        text,
        position: at.position,
        offsets,
    })
}

/// Where a piece of the URI sits in the input.
#[derive(Debug, Clone, Copy)]
struct Located {
    position: usize,
    /// Whether the piece appears in the input exactly as the URL parser gave
    /// it; if not (it re-encoded something), only an approximate start is known.
    verbatim: bool,
}

/// Finds the pieces the URL parser returns in the input, in order, for error
/// positions. The URL parser normalizes (it percent-encodes `<`, `"`, spaces
/// and non-ASCII), so a piece is not always found verbatim.
struct Locator<'a> {
    s: &'a str,
    offset: usize,
    /// Byte index in `s` where the next search starts (always a char boundary).
    cursor: usize,
}

impl<'a> Locator<'a> {
    fn new(s: &'a str, offset: usize) -> Self {
        let authority = s.find("://").map_or(0, |i| i + 3);
        let cursor = s[authority..]
            .find(['/', '?', '#'])
            .map_or(s.len(), |i| authority + i);
        Locator { s, offset, cursor }
    }

    /// Character position in the input of byte `index` of `s`.
    fn position(&self, index: usize) -> usize {
        self.offset + self.s.get(..index).map_or(0, |p| p.chars().count())
    }

    /// The next occurrence of `raw` preceded by one of `before` and followed by
    /// one of `after` or the end.
    fn find(&mut self, before: &[char], raw: &str, after: &[char]) -> Located {
        let rest = &self.s[self.cursor..];
        for (i, _) in rest.match_indices(raw) {
            let start = self.cursor + i;
            let end = start + raw.len();
            let before_ok = self.s[..start]
                .chars()
                .next_back()
                .is_some_and(|c| before.contains(&c));
            let after_ok = self.s[end..]
                .chars()
                .next()
                .is_none_or(|c| after.contains(&c));
            if before_ok && after_ok {
                self.cursor = end;
                return Located {
                    position: self.position(start),
                    verbatim: true,
                };
            }
        }
        Located {
            position: self.position(self.cursor) + 1,
            verbatim: false,
        }
    }
}
