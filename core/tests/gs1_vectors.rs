//! The shared GS1 test vectors (`shared/testdata/gs1-codes.tsv`) against the
//! parser: every case is checked and every failure reported at once.
//!
//! The `signature_status` column is the crypto module's to check, not ours.

use std::collections::HashMap;

use tanba_core::{ScannedCode, parse};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/gs1-codes.tsv"
);

struct Case {
    id: String,
    input: String,
    columns: HashMap<String, String>,
}

impl Case {
    /// A column's value, `None` for `-`.
    fn get(&self, column: &str) -> Option<&str> {
        let value = self.columns.get(column).map(String::as_str);
        value.filter(|v| *v != "-")
    }
}

fn read_cases() -> Vec<Case> {
    let text =
        std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("reading {VECTORS}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            assert_eq!(cells.len(), header.len(), "row {line:?}");
            let columns: HashMap<String, String> = header
                .iter()
                .zip(&cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect();
            Case {
                id: columns["id"].clone(),
                input: unescape(&columns["input"]).unwrap_or_else(|e| panic!("{line}: {e}")),
                columns,
            }
        })
        .collect()
}

/// Undoes Python-style escapes: `\xHH`, `\uXXXX`, `\UXXXXXXXX`, `\n`, `\r`,
/// `\t`, `\0`, `\\`, `\'`, `\"`.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let unescaped = match chars.next() {
            Some('x') => hex(&mut chars, 2)?,
            Some('u') => hex(&mut chars, 4)?,
            Some('U') => hex(&mut chars, 8)?,
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('0') => '\0',
            Some(c @ ('\\' | '\'' | '"')) => c,
            Some(other) => return Err(format!("unknown escape \\{other}")),
            None => return Err("a lone backslash at the end".to_owned()),
        };
        out.push(unescaped);
    }
    Ok(out)
}

/// The character of the next `n` hex digits.
fn hex(chars: &mut std::str::Chars<'_>, n: usize) -> Result<char, String> {
    let digits: String = chars.take(n).collect();
    u32::from_str_radix(&digits, 16)
        .ok()
        .filter(|_| digits.len() == n)
        .and_then(char::from_u32)
        .ok_or_else(|| format!("bad escape digits {digits:?}"))
}

/// What a parsed code says for a column, in the file's notation.
fn actual(code: &ScannedCode, column: &str) -> Option<String> {
    match (code, column) {
        (ScannedCode::Unit(_), "kind") => Some("unit".to_owned()),
        (ScannedCode::Sscc(_), "kind") => Some("sscc".to_owned()),
        (ScannedCode::Unit(c), "gtin") => Some(c.gtin().to_string()),
        (ScannedCode::Unit(c), "serial") => Some(c.serial().to_string()),
        (ScannedCode::Unit(c), "key_id") => c.key_id().map(ToString::to_string),
        (ScannedCode::Unit(c), "signature") => c.crypto_tail().map(ToString::to_string),
        (ScannedCode::Unit(c), "expiry") => c.expiry().map(|d| d.to_string()),
        (ScannedCode::Sscc(s), "sscc") => Some(s.to_string()),
        _ => None,
    }
}

const COMPARED: [&str; 7] = [
    "kind",
    "gtin",
    "serial",
    "key_id",
    "signature",
    "sscc",
    "expiry",
];

#[test]
fn every_vector_parses_as_expected() {
    let cases = read_cases();
    assert!(
        cases.len() > 50,
        "only {} cases read from {VECTORS}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let note = case.get("note").unwrap_or("");
        match (case.get("expect"), parse(&case.input)) {
            (Some("ok"), Ok(code)) => {
                for column in COMPARED {
                    let expected = case.get(column).map(str::to_owned);
                    let got = actual(&code, column);
                    if got != expected {
                        failures.push(format!(
                            "{} ({note}): {column} is {got:?}, expected {expected:?}",
                            case.id
                        ));
                    }
                }
            }
            (Some("ok"), Err(e)) => failures.push(format!("{} ({note}): rejected: {e}", case.id)),
            (Some("error"), Ok(code)) => {
                failures.push(format!("{} ({note}): accepted as {code:?}", case.id));
            }
            (Some("error"), Err(_)) => {}
            (other, _) => failures.push(format!("{}: unknown expect {other:?}", case.id)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_accepted_vector_reparses_from_its_canonical_form() {
    let cases = read_cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let Ok(code) = parse(&case.input) else {
            continue;
        };
        checked += 1;
        let forms = [
            code.canonical(),
            code.human_readable(),
            code.digital_link("https://id.tanba.kz"),
        ];
        for form in forms {
            match parse(&form) {
                Ok(again) if again == code => {}
                other => failures.push(format!("{}: {form:?} gave {other:?}", case.id)),
            }
        }
        // The canonical form of the canonical form is itself.
        if parse(&code.canonical()).map(|c| c.canonical()).as_ref() != Ok(&code.canonical()) {
            failures.push(format!("{}: canonical form is not stable", case.id));
        }
    }
    assert!(checked > 50, "only {checked} accepted cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn python_escapes_are_undone() {
    assert_eq!(
        unescape(r"a\x1db\n\\\u0416").as_deref(),
        Ok("a\u{1d}b\n\\Ж")
    );
    assert!(unescape(r"\q").is_err());
}
