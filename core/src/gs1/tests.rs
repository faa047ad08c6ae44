//! Unit tests of the parser: one line per error case (kind, AI, position), the
//! accepted forms, and the localized messages' keys and variables.

use super::*;

const GTIN: &str = "04652352262009";
const SERIAL: &str = "k2Fpdfbwuq6gu";
const RAW: &str = "010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ01\u{1d}92sig";
const DL: &str = "https://id.tanba.kz/01/04652352262009/21/k2Fpdfbwuq6gu";

/// Parses `input` (as a unit code when the kind is `not_a_unit_code`) and
/// checks the error's machine code, AI and position, and that the English
/// message names them.
#[track_caller]
fn check(input: &str, code: &str, ai: Option<&str>, position: Option<usize>) -> ParseError {
    let result = if code == "not_a_unit_code" {
        MarkingCode::parse(input).map(ScannedCode::Unit)
    } else {
        parse(input)
    };
    let err = match result {
        Ok(ok) => panic!("{input:?} parsed as {ok:?}, expected {code}"),
        Err(err) => err,
    };
    let message = err.to_string();
    assert_eq!(
        (err.kind.code(), err.ai.as_deref(), err.position),
        (code, ai, position),
        "{message}"
    );
    if let Some(ai) = ai {
        assert!(message.contains(&format!("AI {ai}")), "{message}");
    }
    if let Some(position) = position {
        assert!(
            message.contains(&format!("position {position}")),
            "{message}"
        );
    }
    err
}

#[track_caller]
fn ok(input: &str) -> ScannedCode {
    parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

#[test]
fn error_kinds() {
    check("", "empty", None, None);
    check("\r\n", "empty", None, None);
    check("]d2", "empty", None, None);
    check(&"0".repeat(3117), "too_long", None, None);
    check(&format!("]d1{RAW}"), "unsupported_symbology", None, Some(0));
    check("]X0abc", "unsupported_symbology", None, Some(0));
    check("]", "unsupported_symbology", None, Some(0));
    check("hello world", "expected_ai", None, Some(0));
    check(
        "0104652352262009\u{1d}\u{1d}21k2Fpdfbwuq6gu",
        "expected_ai",
        None,
        Some(17),
    );
    check(" 0104652352262009", "expected_ai", None, Some(0));
    check(
        "01046523522620098006123",
        "unknown_ai",
        Some("8006"),
        Some(16),
    );
    check(
        "01046523522620093106123456",
        "unknown_ai",
        Some("3106"),
        Some(16),
    );
    check(
        "(01)04652352262009(8006)1",
        "unknown_ai",
        Some("8006"),
        Some(19),
    );
    check("0104652", "bad_length", Some("01"), Some(2));
    check(
        "0104652\u{1d}21k2Fpdfbwuq6gu",
        "bad_length",
        Some("01"),
        Some(2),
    );
    check(
        "(01)0465235226200(21)k2Fpdfbwuq6gu",
        "bad_length",
        Some("01"),
        Some(4),
    );
    check(
        "010465235226200921k2Fpdfbwuq6gu\u{1d}10",
        "bad_length",
        Some("10"),
        Some(34),
    );
    check(
        "010465235226200921k2Fpdfbwuq6gu\u{1d}10123456789012345678901",
        "bad_length",
        Some("10"),
        Some(34),
    );
    check(
        "010465235226200921K3n24#FFni6Bc",
        "bad_character",
        Some("21"),
        Some(23),
    );
    check(
        "010465235226200921K3n2 kFFni6Bc",
        "bad_character",
        Some("21"),
        Some(22),
    );
    check(
        "010465235226200921K3nЖ4kFFni6Bc",
        "bad_character",
        Some("21"),
        Some(21),
    );
    check("01046523522620A9", "bad_character", Some("01"), Some(14));
    check(
        &format!("{DL}?91=TZ01&92=a%5Cb"),
        "bad_character",
        Some("92"),
        Some(67),
    );
    check(
        "https://id.tanba.kz/01/04652352262009/21/k2F%23dfbwuq6gu",
        "bad_character",
        Some("21"),
        Some(44),
    );
    check(
        "010465235226200821k2Fpdfbwuq6gu",
        "bad_check_digit",
        Some("01"),
        Some(2),
    );
    check(
        "00948731836164410275",
        "bad_check_digit",
        Some("00"),
        Some(2),
    );
    check("010465235226200917281301", "bad_date", Some("17"), Some(18));
    check(
        "0104652352262009172902291",
        "bad_date",
        Some("17"),
        Some(18),
    );
    check(
        "010465235226200921k2Fpdfbwuq6g",
        "bad_serial_length",
        Some("21"),
        Some(18),
    );
    check(
        "010465235226200921k2Fpdfbwuq6gu91TZ01",
        "bad_serial_length",
        Some("21"),
        Some(18),
    );
    check(
        "(01)04652352262009(21)k2Fpdfbwuq6guu",
        "bad_serial_length",
        Some("21"),
        Some(22),
    );
    check(
        "010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ012\u{1d}92x",
        "bad_key_id_length",
        Some("91"),
        Some(34),
    );
    check("21k2Fpdfbwuq6gu", "missing_gtin", Some("01"), None);
    check("17281231", "missing_gtin", Some("01"), None);
    check("0104652352262009", "missing_serial", Some("21"), None);
    check(
        "https://id.tanba.kz/01/04652352262009",
        "missing_serial",
        Some("21"),
        None,
    );
    check(
        "010465235226200921k2Fpdfbwuq6gu\u{1d}21k2Fpdfbwuq6gu",
        "duplicate_ai",
        Some("21"),
        Some(32),
    );
    check(
        &format!("{DL}?17=281231&17=281231"),
        "duplicate_ai",
        Some("17"),
        Some(65),
    );
    check(
        "009487318361644102740104652352262009",
        "conflicting_ai",
        Some("01"),
        Some(20),
    );
    check(
        "0104652352262009020465235226200921k2Fpdfbwuq6gu",
        "conflicting_ai",
        Some("02"),
        Some(16),
    );
    check("(01", "bad_human_readable", None, Some(0));
    check("(1)04652352262009", "bad_human_readable", None, Some(0));
    check("https://", "bad_digital_link", None, Some(0));
    check(
        "https://id.tanba.kz/02/04652352262009",
        "bad_digital_link",
        None,
        Some(19),
    );
    check(&format!("{DL}/10/x"), "bad_digital_link", None, Some(19));
    check(
        &format!("{DL}?21=x"),
        "bad_digital_link",
        Some("21"),
        Some(55),
    );
    check(
        "https://id.tanba.kz/01/04652352262009/21/k2Fpdf%zzuq6gu",
        "bad_digital_link",
        None,
        Some(47),
    );
    check(
        &format!("{DL}?8006=1"),
        "unknown_ai",
        Some("8006"),
        Some(55),
    );
    check("00948731836164410274", "not_a_unit_code", Some("00"), None);
}

#[test]
fn bad_character_message_names_field_and_character() {
    let err = check(
        "010465235226200921K3n24#FFni6Bc",
        "bad_character",
        Some("21"),
        Some(23),
    );
    assert_eq!(
        err.to_string(),
        "AI 21 (serial) at position 18: character '#' at position 23 is outside GS1 character set 82"
    );
    assert_eq!(
        err.args(),
        [
            ("ai", "21".to_owned()),
            ("position", "23".to_owned()),
            ("field_position", "18".to_owned()),
            ("char", "'#'".to_owned()),
            ("charset", "set82".to_owned()),
        ]
    );
}

#[test]
fn every_form_gives_one_canonical_code() {
    let tail =
        "Pu7hmDe-P8yi3YHdpT8glKTdNXxH68fWtjKuSWcrDLvjEBW9MQmkW0seCpP_N18OOkL7OxyeaGyBYbTJ6fRxBg";
    let raw = format!("01{GTIN}21{SERIAL}\u{1d}91TZ01\u{1d}92{tail}");
    let expected = ok(&raw);
    let forms = [
        format!("]d2{raw}"),
        format!("]C1{raw}"),
        format!("]Q3{raw}"),
        format!("\u{1d}{raw}"),
        format!("]d2\u{1d}{raw}"),
        format!("{raw}\u{1d}"),
        format!("{raw}\n"),
        format!("{raw}\r\n"),
        format!("{raw}\u{1d}\r\n"),
        format!("01{GTIN}\u{1d}21{SERIAL}\u{1d}91TZ01\u{1d}92{tail}"),
        format!("92{tail}\u{1d}21{SERIAL}\u{1d}91TZ01\u{1d}01{GTIN}"),
        format!("(01){GTIN}(21){SERIAL}(91)TZ01(92){tail}"),
        format!("https://id.tanba.kz/01/{GTIN}/21/{SERIAL}?91=TZ01&92={tail}"),
        format!("HTTPS://ID.TANBA.KZ/01/{GTIN}/21/{SERIAL}?92={tail}&linkType=all&91=TZ01#x"),
        format!("http://example.com/some/prefix/01/{GTIN}/21/%6b2Fpdfbwuq6gu/?91=TZ01&92={tail}"),
        format!("]Q1https://id.tanba.kz/01/{GTIN}/21/{SERIAL}?91=TZ01&92={tail}"),
    ];
    for form in forms {
        assert_eq!(ok(&form), expected, "{form:?}");
    }
    assert_eq!(expected.canonical(), raw);
}

#[test]
fn serials_with_url_and_parenthesis_characters() {
    let code = ok("010462182734557821>&av;*/PSAiL0");
    let ScannedCode::Unit(unit) = &code else {
        panic!("{code:?}")
    };
    assert_eq!(unit.serial().as_str(), ">&av;*/PSAiL0");
    let link = code.digital_link("https://id.tanba.kz");
    assert_eq!(
        link,
        "https://id.tanba.kz/01/04621827345578/21/%3E%26av%3B%2A%2FPSAiL0"
    );
    assert_eq!(ok(&link), code);
    assert_eq!(
        ok("(01)04615822950127(21)79j\".)_tPPV<D"),
        ok("01046158229501272179j\".)_tPPV<D")
    );
    assert_eq!(
        ok(&ok("(01)04615822950127(21)a(bc)(1)d(2)e").human_readable()).human_readable(),
        "(01)04615822950127(21)a(bc)(1)d(2)e"
    );
}

#[test]
fn other_ais_are_kept_in_canonical_order() {
    let code = ok(
        "010465235226200921k2Fpdfbwuq6gu\u{1d}240ABC\u{1d}10LOT-7\u{1d}3102001250\u{1d}17281200",
    );
    let ScannedCode::Unit(unit) = &code else {
        panic!("{code:?}")
    };
    assert_eq!(unit.batch(), Some("LOT-7"));
    assert_eq!(
        unit.expiry().map(|d| d.to_string()).as_deref(),
        Some("2028-12-31")
    );
    assert_eq!(
        unit.other_ais().collect::<Vec<_>>(),
        [("240", "ABC"), ("3102", "001250")]
    );
    assert_eq!(
        code.canonical(),
        "010465235226200917281231310200125021k2Fpdfbwuq6gu\u{1d}10LOT-7\u{1d}240ABC"
    );
    assert_eq!(
        code.digital_link("https://id.tanba.kz"),
        "https://id.tanba.kz/01/04652352262009/10/LOT-7/21/k2Fpdfbwuq6gu?17=281231&3102=001250&240=ABC"
    );
    for form in [
        code.canonical(),
        code.human_readable(),
        code.digital_link("https://x.kz"),
    ] {
        assert_eq!(ok(&form), code, "{form:?}");
    }
}

#[test]
fn sscc_takes_other_logistic_ais_but_keeps_only_the_sscc() {
    let code = ok("]d20094873183616441027402046523522620093712\u{1d}10LOT");
    assert_eq!(
        code,
        ScannedCode::Sscc(Sscc::parse("948731836164410274").unwrap())
    );
    assert_eq!(code.canonical(), "00948731836164410274");
    assert_eq!(ok("https://id.tanba.kz/00/948731836164410274"), code);
    check(
        "00948731836164410274\u{1d}21k2Fpdfbwuq6gu",
        "missing_gtin",
        Some("01"),
        None,
    );
}

#[test]
fn check_digit_examples() {
    assert_eq!(check_digit("0465235226200"), Some(9));
    assert_eq!(check_digit("94873183616441027"), Some(4));
    assert_eq!(check_digit(""), None);
    assert_eq!(check_digit("12a"), None);
}

#[test]
fn typed_values_report_positions_from_their_own_start() {
    let err = Serial::parse("k2F#").unwrap_err();
    assert_eq!(
        (err.kind, err.ai.as_deref(), err.position),
        (ParseErrorKind::BadCharacter, Some("21"), Some(3))
    );
    assert_eq!(
        Serial::parse("abc").unwrap_err().kind,
        ParseErrorKind::BadSerialLength
    );
    assert_eq!(
        KeyId::parse("TZ012").unwrap_err().kind,
        ParseErrorKind::BadKeyIdLength
    );
    assert_eq!(
        CryptoTail::parse("").unwrap_err().kind,
        ParseErrorKind::BadLength
    );
    assert_eq!(
        CryptoTail::parse(&"a".repeat(91)).unwrap_err().kind,
        ParseErrorKind::BadLength
    );
    assert!(CryptoTail::parse(&"a".repeat(90)).is_ok());
    assert_eq!(
        Gtin::parse("04652352262008").unwrap_err().kind,
        ParseErrorKind::BadCheckDigit
    );
    assert_eq!(
        Sscc::parse("94873183616441027").unwrap_err().kind,
        ParseErrorKind::BadLength
    );
}

/// One input per error kind, for the checks on localized messages.
fn one_error_of_each_kind() -> Vec<ParseError> {
    let inputs = [
        "",
        &"0".repeat(3117),
        "]d1x",
        "x",
        "8006",
        "0104652",
        "010465235226200921K3n24#FFni6Bc",
        "010465235226200821k2Fpdfbwuq6gu",
        "010465235226200917281301",
        "010465235226200921k2Fpdfbwuq6g",
        "010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ012",
        "21k2Fpdfbwuq6gu",
        "0104652352262009",
        "010465235226200921k2Fpdfbwuq6gu\u{1d}21k2Fpdfbwuq6gu",
        "009487318361644102740104652352262009",
        "(01",
        "https://id.tanba.kz/02/x",
    ];
    let mut errors: Vec<ParseError> = inputs
        .iter()
        .filter_map(|input| parse(input).err())
        .collect();
    errors.extend(MarkingCode::parse("00948731836164410274").err());
    errors
}

fn ftl_messages(ftl: &str) -> Vec<(String, Vec<String>)> {
    let mut messages: Vec<(String, Vec<String>)> = Vec::new();
    for line in ftl.lines() {
        if let Some((key, _)) = line
            .split_once(" =")
            .filter(|_| line.starts_with("code-error-"))
        {
            messages.push((key.to_owned(), Vec::new()));
        }
        if let Some((_, vars)) = messages.last_mut() {
            for part in line.split('$').skip(1) {
                let var: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !vars.contains(&var) {
                    vars.push(var);
                }
            }
        }
    }
    messages
}

#[test]
fn localized_messages_exist_for_every_kind_with_the_variables_args_gives() {
    let errors = one_error_of_each_kind();
    let kinds: Vec<ParseErrorKind> = errors.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        ParseErrorKind::ALL,
        "one sample error per kind, in order"
    );
    let kk = ftl_messages(include_str!("../../../locales/kk/codes.ftl"));
    let ru = ftl_messages(include_str!("../../../locales/ru/codes.ftl"));
    let keys = |m: &[(String, Vec<String>)]| m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let expected: Vec<String> = ParseErrorKind::ALL
        .iter()
        .map(ParseErrorKind::message_key)
        .collect();
    assert_eq!(keys(&kk), expected);
    assert_eq!(keys(&ru), expected);
    for error in errors {
        let args: Vec<&str> = error.args().iter().map(|(name, _)| *name).collect();
        for (language, messages) in [("kk", &kk), ("ru", &ru)] {
            let (key, vars) = messages
                .iter()
                .find(|(k, _)| *k == error.kind.message_key())
                .unwrap();
            for var in vars {
                assert!(
                    args.contains(&var.as_str()),
                    "{language} {key} uses ${var}, args are {args:?}"
                );
            }
        }
    }
}

#[test]
fn message_keys() {
    assert_eq!(
        ParseErrorKind::BadCheckDigit.message_key(),
        "code-error-bad-check-digit"
    );
    assert_eq!(ParseErrorKind::BadCheckDigit.code(), "bad_check_digit");
}

#[test]
fn plus_is_a_plus_and_key_id_and_tail_are_each_optional() {
    let plus = ok(&format!("{DL}?91=TZ01&92=a+b%2Bc"));
    let ScannedCode::Unit(plus) = plus else {
        panic!("{plus:?}")
    };
    assert_eq!(plus.crypto_tail().map(CryptoTail::as_str), Some("a+b+c"));
    let only_key = ok("010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ01");
    let ScannedCode::Unit(only_key) = only_key else {
        panic!("{only_key:?}")
    };
    assert_eq!(only_key.key_id().map(KeyId::as_str), Some("TZ01"));
    assert_eq!(only_key.crypto_tail(), None);
}
