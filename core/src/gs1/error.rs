//! Why a scanned code was rejected: a stable machine code, the AI and position
//! concerned, an English message, and the named arguments a localized message uses.

use std::fmt;

use super::{MAX_INPUT_CHARS, ai};

/// The kind of a [`ParseError`]. Each kind has a stable machine code
/// ([`code`](Self::code)) that HTTP responses and localized messages key on:
/// never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// Nothing was handed over (or only a line ending, a GS or a symbology identifier).
    Empty,
    /// Longer than a GS1 DataMatrix can hold.
    TooLong,
    /// A symbology identifier (`]d1`, `]X0`, …) that does not announce GS1 data.
    UnsupportedSymbology,
    /// Where an Application Identifier should start there is no digit.
    ExpectedAi,
    /// Digits that are not an Application Identifier we know.
    UnknownAi,
    /// The data of an AI is too short or too long by GS1 rules.
    BadLength,
    /// A character the AI does not allow (a letter in a GTIN, `#` in a serial).
    BadCharacter,
    /// The GS1 check digit of a GTIN or SSCC does not match.
    BadCheckDigit,
    /// A `YYMMDD` that is not a date.
    BadDate,
    /// A serial (AI 21) that is not exactly 13 characters: a Tanba rule.
    BadSerialLength,
    /// A key id (AI 91) that is not exactly 4 characters: a Tanba rule.
    BadKeyIdLength,
    /// No GTIN (AI 01), and no SSCC (AI 00) either.
    MissingGtin,
    /// A GTIN without a serial (AI 21).
    MissingSerial,
    /// The same AI twice.
    DuplicateAi,
    /// Two AIs that GS1 forbids in one code (00 with 01, 01 with 02 or 37).
    ConflictingAi,
    /// A human-readable form `(01)…` that is not well formed.
    BadHumanReadable,
    /// A GS1 Digital Link URI that is not well formed.
    BadDigitalLink,
    /// An SSCC where the code of a unit was expected.
    NotAUnitCode,
}

impl ParseErrorKind {
    /// Every kind, for exhaustive checks (one localized message per kind).
    pub const ALL: [ParseErrorKind; 18] = [
        Self::Empty,
        Self::TooLong,
        Self::UnsupportedSymbology,
        Self::ExpectedAi,
        Self::UnknownAi,
        Self::BadLength,
        Self::BadCharacter,
        Self::BadCheckDigit,
        Self::BadDate,
        Self::BadSerialLength,
        Self::BadKeyIdLength,
        Self::MissingGtin,
        Self::MissingSerial,
        Self::DuplicateAi,
        Self::ConflictingAi,
        Self::BadHumanReadable,
        Self::BadDigitalLink,
        Self::NotAUnitCode,
    ];

    /// The stable snake_case machine code, e.g. `bad_check_digit`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::UnsupportedSymbology => "unsupported_symbology",
            Self::ExpectedAi => "expected_ai",
            Self::UnknownAi => "unknown_ai",
            Self::BadLength => "bad_length",
            Self::BadCharacter => "bad_character",
            Self::BadCheckDigit => "bad_check_digit",
            Self::BadDate => "bad_date",
            Self::BadSerialLength => "bad_serial_length",
            Self::BadKeyIdLength => "bad_key_id_length",
            Self::MissingGtin => "missing_gtin",
            Self::MissingSerial => "missing_serial",
            Self::DuplicateAi => "duplicate_ai",
            Self::ConflictingAi => "conflicting_ai",
            Self::BadHumanReadable => "bad_human_readable",
            Self::BadDigitalLink => "bad_digital_link",
            Self::NotAUnitCode => "not_a_unit_code",
        }
    }

    /// The Fluent message id in `locales/*/codes.ftl`: `code-error-` followed by
    /// the machine code with `_` replaced by `-`, e.g. `code-error-bad-check-digit`.
    pub fn message_key(&self) -> String {
        format!("code-error-{}", self.code().replace('_', "-"))
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Which characters an AI allows; also the `charset` argument of
/// `code-error-bad-character` (`digits` or `set82`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    Digits,
    Set82,
}

impl Charset {
    fn token(self) -> &'static str {
        match self {
            Charset::Digits => "digits",
            Charset::Set82 => "set82",
        }
    }
}

/// What is wrong with a Digital Link URI; the `reason` argument of
/// `code-error-bad-digital-link`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkProblem {
    /// The URL parser refused it.
    NotAUrl,
    /// The path has no `/01/<gtin>…` or `/00/<sscc>` in GS1's order.
    Path,
    /// A primary key or key qualifier (00, 01, 10, 21, 22) in the query string.
    KeyInQuery,
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8.
    Encoding,
}

impl LinkProblem {
    fn token(self) -> &'static str {
        match self {
            LinkProblem::NotAUrl => "not_a_url",
            LinkProblem::Path => "path",
            LinkProblem::KeyInQuery => "key_in_query",
            LinkProblem::Encoding => "encoding",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            LinkProblem::NotAUrl => "not a valid URL",
            LinkProblem::Path => {
                "the path does not end in /01/<GTIN>[/22/…][/10/…]/21/<serial> or /00/<SSCC>"
            }
            LinkProblem::KeyInQuery => {
                "a primary key or key qualifier belongs in the path, not in the query string"
            }
            LinkProblem::Encoding => "bad percent-encoding (or it does not decode to UTF-8)",
        }
    }
}

/// The kind-specific facts behind a message. Private so that only the
/// constructors below, which keep kind and detail consistent, can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Detail {
    None,
    TooLong {
        length: usize,
    },
    Symbology {
        found: String,
    },
    Found {
        ch: char,
    },
    Character {
        field_position: usize,
        ch: char,
        charset: Charset,
    },
    Length {
        length: usize,
        expected: String,
    },
    CheckDigit {
        expected: u8,
        found: u8,
    },
    Date {
        value: String,
    },
    Duplicate {
        first_position: usize,
    },
    Conflict {
        other: String,
    },
    Link(LinkProblem),
}

/// A rejected code: which kind of problem, which AI, which position, and why.
///
/// `position` counts characters (not bytes) from 0 in the string given to
/// [`parse`](super::parse), including any symbology identifier or leading GS.
/// For a Digital Link it points at the path segment or query value concerned
/// (at the character itself when it was not percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// The Application Identifier concerned, e.g. `"21"`.
    pub ai: Option<String>,
    /// Character position of the offending character, or else of the field.
    pub position: Option<usize>,
    detail: Detail,
}

impl ParseError {
    fn new(
        kind: ParseErrorKind,
        ai: Option<&str>,
        position: Option<usize>,
        detail: Detail,
    ) -> Self {
        ParseError {
            kind,
            ai: ai.map(str::to_owned),
            position,
            detail,
        }
    }

    pub(crate) fn empty() -> Self {
        Self::new(ParseErrorKind::Empty, None, None, Detail::None)
    }

    pub(crate) fn too_long(length: usize) -> Self {
        Self::new(
            ParseErrorKind::TooLong,
            None,
            None,
            Detail::TooLong { length },
        )
    }

    pub(crate) fn unsupported_symbology(found: &str) -> Self {
        let detail = Detail::Symbology {
            found: found.to_owned(),
        };
        Self::new(ParseErrorKind::UnsupportedSymbology, None, Some(0), detail)
    }

    pub(crate) fn expected_ai(position: usize, ch: char) -> Self {
        Self::new(
            ParseErrorKind::ExpectedAi,
            None,
            Some(position),
            Detail::Found { ch },
        )
    }

    pub(crate) fn unknown_ai(ai: &str, position: usize) -> Self {
        Self::new(
            ParseErrorKind::UnknownAi,
            Some(ai),
            Some(position),
            Detail::None,
        )
    }

    pub(crate) fn bad_length(ai: &str, position: usize, length: usize, expected: String) -> Self {
        let detail = Detail::Length { length, expected };
        Self::new(ParseErrorKind::BadLength, Some(ai), Some(position), detail)
    }

    pub(crate) fn bad_character(
        ai: &str,
        field_position: usize,
        position: usize,
        ch: char,
        charset: Charset,
    ) -> Self {
        let detail = Detail::Character {
            field_position,
            ch,
            charset,
        };
        Self::new(
            ParseErrorKind::BadCharacter,
            Some(ai),
            Some(position),
            detail,
        )
    }

    pub(crate) fn bad_check_digit(ai: &str, position: usize, expected: u8, found: u8) -> Self {
        let detail = Detail::CheckDigit { expected, found };
        Self::new(
            ParseErrorKind::BadCheckDigit,
            Some(ai),
            Some(position),
            detail,
        )
    }

    pub(crate) fn bad_date(ai: &str, position: usize, value: &str) -> Self {
        let detail = Detail::Date {
            value: value.to_owned(),
        };
        Self::new(ParseErrorKind::BadDate, Some(ai), Some(position), detail)
    }

    pub(crate) fn bad_serial_length(position: usize, length: usize) -> Self {
        let detail = Detail::Length {
            length,
            expected: crate::code::Serial::LEN.to_string(),
        };
        Self::new(
            ParseErrorKind::BadSerialLength,
            Some("21"),
            Some(position),
            detail,
        )
    }

    pub(crate) fn bad_key_id_length(position: usize, length: usize) -> Self {
        let detail = Detail::Length {
            length,
            expected: crate::code::KeyId::LEN.to_string(),
        };
        Self::new(
            ParseErrorKind::BadKeyIdLength,
            Some("91"),
            Some(position),
            detail,
        )
    }

    pub(crate) fn missing_gtin() -> Self {
        Self::new(ParseErrorKind::MissingGtin, Some("01"), None, Detail::None)
    }

    pub(crate) fn missing_serial() -> Self {
        Self::new(
            ParseErrorKind::MissingSerial,
            Some("21"),
            None,
            Detail::None,
        )
    }

    pub(crate) fn duplicate_ai(ai: &str, position: usize, first_position: usize) -> Self {
        let detail = Detail::Duplicate { first_position };
        Self::new(
            ParseErrorKind::DuplicateAi,
            Some(ai),
            Some(position),
            detail,
        )
    }

    pub(crate) fn conflicting_ai(ai: &str, position: usize, other: &str) -> Self {
        let detail = Detail::Conflict {
            other: other.to_owned(),
        };
        Self::new(
            ParseErrorKind::ConflictingAi,
            Some(ai),
            Some(position),
            detail,
        )
    }

    pub(crate) fn bad_human_readable(position: usize) -> Self {
        Self::new(
            ParseErrorKind::BadHumanReadable,
            None,
            Some(position),
            Detail::None,
        )
    }

    pub(crate) fn bad_digital_link(
        problem: LinkProblem,
        ai: Option<&str>,
        position: usize,
    ) -> Self {
        Self::new(
            ParseErrorKind::BadDigitalLink,
            ai,
            Some(position),
            Detail::Link(problem),
        )
    }

    pub(crate) fn not_a_unit_code() -> Self {
        Self::new(ParseErrorKind::NotAUnitCode, Some("00"), None, Detail::None)
    }

    /// The named arguments of the localized message `kind.message_key()`, as
    /// Fluent variables: `ai` and `position` when known, then per kind
    /// `length`, `max`, `expected`, `found`, `char`, `charset`,
    /// `field_position`, `date`, `first_position`, `other_ai`, `symbology` or
    /// `reason`. A character is given as it appears in [`Display`](fmt::Display)
    /// (`'#'`, `<GS>`, `U+0007`).
    pub fn args(&self) -> Vec<(&'static str, String)> {
        let mut args = Vec::new();
        if let Some(ai) = &self.ai {
            args.push(("ai", ai.clone()));
        }
        if let Some(position) = self.position {
            args.push(("position", position.to_string()));
        }
        match &self.detail {
            Detail::None => {}
            Detail::TooLong { length } => {
                args.push(("length", length.to_string()));
                args.push(("max", MAX_INPUT_CHARS.to_string()));
            }
            Detail::Symbology { found } => args.push(("symbology", found.clone())),
            Detail::Found { ch } => args.push(("char", show_char(*ch))),
            Detail::Character {
                field_position,
                ch,
                charset,
            } => {
                args.push(("field_position", field_position.to_string()));
                args.push(("char", show_char(*ch)));
                args.push(("charset", charset.token().to_owned()));
            }
            Detail::Length { length, expected } => {
                args.push(("length", length.to_string()));
                args.push(("expected", expected.clone()));
            }
            Detail::CheckDigit { expected, found } => {
                args.push(("expected", expected.to_string()));
                args.push(("found", found.to_string()));
            }
            Detail::Date { value } => args.push(("date", value.clone())),
            Detail::Duplicate { first_position } => {
                args.push(("first_position", first_position.to_string()));
            }
            Detail::Conflict { other } => args.push(("other_ai", other.clone())),
            Detail::Link(problem) => args.push(("reason", problem.token().to_owned())),
        }
        args
    }

    /// "AI 21 (serial) at position 18" or the parts of it that are known.
    fn subject(&self, position: Option<usize>) -> String {
        let mut s = String::new();
        if let Some(ai) = &self.ai {
            s.push_str("AI ");
            s.push_str(ai);
            if let Some(title) = ai::title(ai) {
                s.push_str(" (");
                s.push_str(title);
                s.push(')');
            }
        }
        if let Some(position) = position {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("at position {position}"));
        }
        s
    }

    fn message(&self) -> String {
        let subject = self.subject(self.position);
        let why = match (&self.kind, &self.detail) {
            (ParseErrorKind::Empty, _) => "the input is empty".to_owned(),
            (_, Detail::TooLong { length }) => format!(
                "the input has {length} characters, more than a GS1 DataMatrix holds ({MAX_INPUT_CHARS})"
            ),
            (_, Detail::Symbology { found }) => format!(
                "symbology identifier {found} does not announce GS1 data \
                 (expected ]d2, ]C1, ]Q3, ]e0 or ]J1, or a Digital Link URI after ]d1 or ]Q1)"
            ),
            (_, Detail::Found { ch }) => format!(
                "expected an Application Identifier (digits), found {}",
                show_char(*ch)
            ),
            (ParseErrorKind::UnknownAi, _) => {
                "not a GS1 Application Identifier Tanba knows".to_owned()
            }
            (ParseErrorKind::BadSerialLength, Detail::Length { length, expected }) => {
                format!("a Tanba serial has exactly {expected} characters, this one has {length}")
            }
            (ParseErrorKind::BadKeyIdLength, Detail::Length { length, expected }) => {
                format!("a Tanba key id has exactly {expected} characters, this one has {length}")
            }
            (_, Detail::Length { length, expected }) => {
                format!("the data has {length} characters, expected {expected}")
            }
            (
                _,
                Detail::Character {
                    field_position,
                    ch,
                    charset,
                },
            ) => {
                // The subject names the field; the character has its own position.
                let field = self.subject(Some(*field_position));
                let rule = match charset {
                    Charset::Digits => "is not a digit",
                    Charset::Set82 => "is outside GS1 character set 82",
                };
                let position = self.position.unwrap_or(*field_position);
                return write_parts(
                    &field,
                    &format!("character {} at position {position} {rule}", show_char(*ch)),
                );
            }
            (_, Detail::CheckDigit { expected, found }) => {
                format!("check digit is {found}, expected {expected}")
            }
            (_, Detail::Date { value }) => format!("'{value}' is not a valid YYMMDD date"),
            (ParseErrorKind::MissingGtin, _) => {
                return format!(
                    "{subject} is missing: a unit code needs a GTIN (01) and a serial (21), \
                     a transport package an SSCC (00)"
                );
            }
            (ParseErrorKind::MissingSerial, _) => {
                return format!("{subject} is missing: a unit code needs a serial after its GTIN");
            }
            (_, Detail::Duplicate { first_position }) => {
                format!("appears a second time (first at position {first_position})")
            }
            (_, Detail::Conflict { other }) => {
                format!("cannot appear in the same code as AI {other}")
            }
            (ParseErrorKind::BadHumanReadable, _) => {
                "expected '(' followed by 2 to 4 digits of an Application Identifier and ')'"
                    .to_owned()
            }
            (_, Detail::Link(problem)) => {
                format!("bad GS1 Digital Link URI: {}", problem.describe())
            }
            (ParseErrorKind::NotAUnitCode, _) => {
                "this is the SSCC of a transport package, not the code of a unit".to_owned()
            }
            (kind, Detail::None) => kind.code().to_owned(),
        };
        write_parts(&subject, &why)
    }
}

fn write_parts(subject: &str, why: &str) -> String {
    if subject.is_empty() {
        why.to_owned()
    } else {
        format!("{subject}: {why}")
    }
}

/// A character as a message shows it: quoted if printable, `<GS>` for the
/// separator (the one control character a person is likely to meet), `U+XXXX`
/// for other invisible ones.
fn show_char(c: char) -> String {
    if c == super::GS {
        "<GS>".to_owned()
    } else if c.is_control() || c.is_whitespace() && c != ' ' {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
}
