//! Money on the wire and in storage: amounts are kept as whole tiyn (1/100
//! of a tenge) in integers, and written and read as decimal tenge text, so
//! that no price ever passes through a float.

/// `"1250"`, `"1250.5"`, `"1250.50"`, `"-3"` → tiyn; anything else → `None`.
pub fn parse_tiyn(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    // A trailing ".0" from a float's text is fine; more than two significant
    // fraction digits is a fraction of a tiyn.
    let fraction = fraction.trim_end_matches('0');
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 15 || !all_digits(whole) {
        return None;
    }
    if fraction.len() > 2 || !all_digits(fraction) || digits.ends_with('.') {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    let tiyn = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -tiyn } else { tiyn })
}

/// Tiyn as a tenge amount with two decimals: `125050` → `"1250.50"`.
pub fn format_tenge(tiyn: i64) -> String {
    format!("{}.{:02}", tiyn / 100, tiyn % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_as_exact_tiyn() {
        let cases = [
            ("1250", Some(125_000)),
            ("1250.5", Some(125_050)),
            ("1250.50", Some(125_050)),
            ("19.99", Some(1_999)),
            ("1000.0", Some(100_000)),
            ("0.01", Some(1)),
            ("0", Some(0)),
            ("-3", Some(-300)),
            ("1.999", None),
            ("1.", None),
            (".5", None),
            ("1e3", None),
            ("12,50", None),
            ("", None),
            ("abc", None),
            ("9999999999999999999", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_tiyn(text), expected, "{text:?}");
        }
        assert_eq!(format_tenge(125_050), "1250.50");
        assert_eq!(format_tenge(1), "0.01");
    }
}
