//! Properties of the GS1 parser: every form of a valid code parses back to the
//! same code, and no input whatsoever makes `parse` panic.
//!
//! 256 cases per property; `PROPTEST_CASES=100000 cargo test --release --test
//! gs1_properties` for a long run.

use proptest::prelude::*;
use proptest::sample::select;
use tanba_core::gs1::check_digit;
use tanba_core::{CryptoTail, Gtin, KeyId, MarkingCode, ScannedCode, Serial, parse};
use time::{Date, Month};

/// GS1 character set 82.
const SET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn set82_string(len: impl Into<proptest::sample::SizeRange>) -> impl Strategy<Value = String> {
    let chars: Vec<char> = SET82.chars().collect();
    proptest::collection::vec(select(chars), len).prop_map(|v| v.into_iter().collect())
}

fn gtin() -> impl Strategy<Value = Gtin> {
    "[0-9]{13}".prop_map(|body| {
        let check = check_digit(&body).expect("13 digits have a check digit");
        Gtin::parse(&format!("{body}{check}")).expect("a computed check digit is valid")
    })
}

fn expiry() -> impl Strategy<Value = Date> {
    (2000i32..=2099, 1u8..=12, 1u8..=31).prop_map(|(year, month, day)| {
        let month = Month::try_from(month).expect("1 to 12 is a month");
        let day = day.min(time::util::days_in_month(month, year));
        Date::from_calendar_date(year, month, day).expect("a day within the month")
    })
}

fn marking_code() -> impl Strategy<Value = MarkingCode> {
    let crypto = (set82_string(4), set82_string(1..=90));
    (
        gtin(),
        set82_string(13),
        proptest::option::of(expiry()),
        proptest::option::of(crypto),
    )
        .prop_map(|(gtin, serial, expiry, crypto)| {
            let mut code =
                MarkingCode::new(gtin, Serial::parse(&serial).expect("13 set-82 characters"));
            if let Some(expiry) = expiry {
                code = code.with_expiry(expiry).expect("a year YYMMDD can say");
            }
            if let Some((key_id, tail)) = crypto {
                let key_id = KeyId::parse(&key_id).expect("4 set-82 characters");
                code = code.with_crypto(
                    key_id,
                    CryptoTail::parse(&tail).expect("1 to 90 characters"),
                );
            }
            code
        })
}

/// Whether `s` holds `(`, 2 to 4 digits and `)`: data that the human-readable
/// form cannot tell from the start of the next field (documented in `gs1`).
fn has_ai_group(s: &str) -> bool {
    let b = s.as_bytes();
    (0..b.len()).any(|i| {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        b[i] == b'(' && (2..=4).contains(&digits) && b.get(i + 1 + digits) == Some(&b')')
    })
}

/// Parse must not panic; whatever it accepts must re-parse from its canonical form.
fn parse_is_total_and_canonical(input: &str) -> Result<(), TestCaseError> {
    if let Ok(code) = parse(input) {
        prop_assert_eq!(parse(&code.canonical()), Ok(code));
    }
    Ok(())
}

proptest! {
    #[test]
    fn element_string_round_trips(code in marking_code()) {
        prop_assert_eq!(parse(&code.element_string()), Ok(ScannedCode::Unit(code.clone())));
        prop_assert_eq!(MarkingCode::parse(&format!("]d2{}\r\n", code.element_string())), Ok(code));
    }

    #[test]
    fn human_readable_round_trips(code in marking_code()) {
        let hri = code.human_readable();
        let data = [Some(code.serial().as_str()), code.key_id().map(KeyId::as_str), code.crypto_tail().map(CryptoTail::as_str)];
        prop_assume!(!data.into_iter().flatten().any(has_ai_group));
        prop_assert_eq!(parse(&hri), Ok(ScannedCode::Unit(code)));
    }

    #[test]
    fn digital_link_round_trips(code in marking_code()) {
        let link = code.digital_link("https://id.tanba.kz");
        prop_assert_eq!(parse(&link), Ok(ScannedCode::Unit(code)));
    }

    #[test]
    fn parse_never_panics_on_any_string(input in ".*") {
        parse_is_total_and_canonical(&input)?;
    }

    #[test]
    fn parse_never_panics_on_any_bytes(bytes in any::<Vec<u8>>()) {
        parse_is_total_and_canonical(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn parse_never_panics_on_code_like_strings(
        input in proptest::collection::vec(
            prop_oneof![
                4 => select("0123456789".chars().collect::<Vec<_>>()),
                1 => Just('\u{1d}'),
                1 => select(vec!['(', ')', ']', '%', '/', '?', '&', '=', '\n']),
                2 => select(SET82.chars().collect::<Vec<_>>()),
            ],
            0..120,
        ).prop_map(|v| v.into_iter().collect::<String>())
    ) {
        parse_is_total_and_canonical(&input)?;
        parse_is_total_and_canonical(&format!("]d2{input}"))?;
        parse_is_total_and_canonical(&format!("(01)04652352262009(21){input}"))?;
        parse_is_total_and_canonical(&format!("https://id.tanba.kz/01/04652352262009/21/{input}"))?;
    }

    #[test]
    fn parse_is_total_on_codes_followed_by_noise(code in marking_code(), noise in ".{0,20}") {
        parse_is_total_and_canonical(&format!("{}{noise}", code.element_string()))?;
    }

    #[test]
    fn lost_or_replaced_separators_are_recovered(
        gtin in gtin(),
        serial in set82_string(13),
        key in set82_string(4),
        tail in set82_string(1..=90),
        sep in prop::sample::select(vec!["", "~", "|", "^", "@", "#", "{", "}"]),
    ) {
        let code = MarkingCode::new(gtin, Serial::parse(&serial).unwrap())
            .with_crypto(KeyId::parse(&key).unwrap(), CryptoTail::parse(&tail).unwrap());
        let mangled = code.element_string().replace('\u{1d}', sep);
        let parsed = MarkingCode::parse(&mangled);
        prop_assert_eq!(parsed, Ok(code), "input {:?}", mangled);
    }
}
