//! The `tanba` command as a user runs it: `code parse`, `code verify` and
//! `keys generate`, checked against the shared test vectors and against keys it
//! made itself.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const VECTORS: &str = include_str!("../../../shared/testdata/gs1-codes.tsv");
const KEYRING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/testdata/keyring.json"
);

fn tanba(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tanba"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tanba runs");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            pipe.write_all(text.as_bytes()).expect("stdin written");
        }
    }
    child.wait_with_output().expect("tanba finishes")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Python-style escapes of the vectors file: `\x1d`, `\n`, `\\`, `\uXXXX`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).expect("hex")));
            }
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(
                    char::from_u32(u32::from_str_radix(&hex, 16).expect("hex")).expect("char"),
                );
            }
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

struct Case {
    id: String,
    input: String,
    fields: Vec<String>,
}

fn cases() -> Vec<Case> {
    VECTORS
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Case {
                id: cols[0].to_owned(),
                input: unescape(cols[1]),
                fields: cols.iter().map(|c| (*c).to_owned()).collect(),
            }
        })
        .collect()
}

/// Compares one output object with the vector's columns; returns mismatches.
fn compare(case: &Case, got: &serde_json::Value, with_status: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let expect_ok = case.fields[2] == "ok";
    if got.get("error").is_some() == expect_ok {
        problems.push(format!(
            "{}: expected {}, got {got}",
            case.id, case.fields[2]
        ));
        return problems;
    }
    if !expect_ok {
        let code = got["error"]["code"].as_str().unwrap_or("");
        let message = got["error"]["message"].as_str().unwrap_or("");
        if code.is_empty() || message.is_empty() || message.starts_with("code-error-") {
            problems.push(format!("{}: error without code or message: {got}", case.id));
        }
        return problems;
    }
    let columns = [
        (3, "kind"),
        (4, "gtin"),
        (5, "serial"),
        (6, "key_id"),
        (7, "signature"),
        (8, "sscc"),
        (9, "expiry"),
    ];
    let mut checks: Vec<(usize, &str)> = columns.to_vec();
    if with_status {
        checks.push((10, "signature_status"));
    }
    for (col, field) in checks {
        let want = &case.fields[col];
        let have = match &got[field] {
            serde_json::Value::Null => "-".to_owned(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if *want != have {
            problems.push(format!(
                "{}: {field} expected {want:?}, got {have:?}",
                case.id
            ));
        }
    }
    problems
}

#[test]
fn code_verify_agrees_with_every_test_vector_one_input_at_a_time() {
    let cases = cases();
    assert!(cases.len() > 50, "read {} cases", cases.len());
    let mut problems = Vec::new();
    for case in &cases {
        let out = tanba(&["code", "verify", "--keyring", KEYRING, &case.input], None);
        let expect_ok = case.fields[2] == "ok";
        let want_status = if expect_ok { 0 } else { 2 };
        if out.status.code() != Some(want_status) {
            problems.push(format!("{}: exit status {:?}", case.id, out.status.code()));
        }
        let lines = json_lines(&out);
        if lines.len() != 1 {
            problems.push(format!("{}: {} output lines", case.id, lines.len()));
            continue;
        }
        problems.extend(compare(case, &lines[0], true));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn code_parse_reads_one_input_per_line_from_stdin() {
    // Inputs that hold a line break cannot travel one per line.
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| !c.input.contains('\n') && !c.input.contains('\r'))
        .collect();
    let stdin: String = cases.iter().map(|c| format!("{}\n", c.input)).collect();
    let out = tanba(&["code", "parse", "-"], Some(&stdin));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), cases.len());
    let mut problems = Vec::new();
    for (case, got) in cases.iter().zip(&lines) {
        problems.extend(compare(case, got, false));
        if got.get("signature_status").is_some() {
            problems.push(format!("{}: parse must not check signatures", case.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_rejected_code_exits_2_with_a_localized_reason() {
    let kk = tanba(&["code", "parse", "010465235226200821k2Fpdfbwuq6gu"], None);
    assert_eq!(kk.status.code(), Some(2));
    let kk = &json_lines(&kk)[0];
    let ru = tanba(
        &[
            "code",
            "parse",
            "--lang",
            "ru",
            "010465235226200821k2Fpdfbwuq6gu",
        ],
        None,
    );
    let ru = &json_lines(&ru)[0];
    assert_eq!(kk["error"]["code"], ru["error"]["code"]);
    assert_ne!(kk["error"]["message"], ru["error"]["message"]);
    let ru_text = ru["error"]["message"].as_str().expect("message");
    assert!(
        ru_text.chars().any(|c| ('а'..='я').contains(&c)),
        "Russian text: {ru_text}"
    );
    // The message names the AI it is about.
    assert!(ru_text.contains("01"), "{ru_text}");
}

#[test]
fn keys_generate_writes_a_private_file_only_its_owner_reads_and_never_prints_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("keys");
    let out = tanba(
        &[
            "keys",
            "generate",
            "--id",
            "TK42",
            "--out",
            out_dir.to_str().expect("path"),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = &json_lines(&out)[0];
    assert_eq!(report["id"], "TK42");

    let private = out_dir.join("TK42.key");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&private)
        .expect("private key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let private_text = std::fs::read_to_string(&private).expect("read");
    let secret: serde_json::Value = serde_json::from_str(&private_text).expect("json");
    let secret = secret["private_key"].as_str().expect("private_key");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));

    // A code signed with the new key verifies against the new public keyring,
    // and not against the test vectors' keyring.
    let key = tanba_core::crypto::EmissionKey::from_private_json(&private_text).expect("key");
    let code = key.sign(tanba_core::MarkingCode::new(
        tanba_core::Gtin::parse("04652352262009").expect("gtin"),
        tanba_core::Serial::generate(&mut rand::rngs::OsRng),
    ));
    let input = code.element_string();
    let public = out_dir.join("TK42.pub.json");
    let ok = tanba(
        &[
            "code",
            "verify",
            "--keyring",
            public.to_str().expect("path"),
            &input,
        ],
        None,
    );
    assert_eq!(json_lines(&ok)[0]["signature_status"], "valid");
    let other = tanba(&["code", "verify", "--keyring", KEYRING, &input], None);
    assert_eq!(json_lines(&other)[0]["signature_status"], "unknown_key");

    // Running it again never overwrites a key.
    let again = tanba(
        &[
            "keys",
            "generate",
            "--id",
            "TK42",
            "--out",
            out_dir.to_str().expect("path"),
        ],
        None,
    );
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read_to_string(&private).expect("read"),
        private_text
    );
}

#[test]
fn keys_generate_refuses_an_id_that_is_not_a_file_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tanba(
        &[
            "keys",
            "generate",
            "--id",
            "../x",
            "--out",
            dir.path().to_str().expect("path"),
        ],
        None,
    );
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn code_verify_refuses_a_broken_keyring_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("ring.json");
    std::fs::write(
        &bad,
        r#"{"keys":[{"id":"TZ01","algorithm":"rsa","public_key":"x"}]}"#,
    )
    .expect("written");
    let out = tanba(
        &[
            "code",
            "verify",
            "--keyring",
            bad.to_str().expect("path"),
            "00948731836164410274",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("algorithm"));
}
