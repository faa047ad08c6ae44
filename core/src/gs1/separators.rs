//! Recovering the GS separators a scanner lost or replaced.
//!
//! Keyboard-wedge scanners cannot type ASCII 29: some drop it, some are
//! configured to send another character (`~`, `|`, `^`, `@`, …). In general
//! that is unrecoverable: a variable-length field ends where GS says. But a
//! Tanba unit code has a fixed shape — `01` GTIN, optional `17` date, `21` and
//! exactly 13 serial characters, `91` and exactly 4 key characters, `92` and
//! the tail — so the two separators can only stand in two places. When an
//! input has no GS at all, fails the strict parse, and fits that shape with
//! each separator either missing or the same single character outside GS1
//! set 82 (so it cannot be data), the separators are put back and the strict
//! parser runs again. Nothing is guessed beyond that: any other input gets the
//! strict parser's own error.

use super::GS;
use super::ai::is_set82;

/// The input with its separators restored, or `None` when it does not have
/// Tanba's shape.
pub(super) fn restore(body: &str) -> Option<String> {
    if body.contains(GS) {
        return None;
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let expect = |i: &mut usize, text: &str| -> Option<()> {
        let end = *i + text.len();
        (chars.get(*i..end)?.iter().copied().eq(text.chars())).then(|| *i = end)
    };
    let run = |i: &mut usize, n: usize, ok: fn(char) -> bool| -> Option<String> {
        let part = chars.get(*i..*i + n)?;
        part.iter().all(|c| ok(*c)).then(|| {
            *i += n;
            part.iter().collect()
        })
    };
    let digit = |c: char| c.is_ascii_digit();

    expect(&mut i, "01")?;
    let gtin = run(&mut i, 14, digit)?;
    let mut head = format!("01{gtin}");
    if chars.get(i..i + 2) == Some(&['1', '7']) {
        i += 2;
        head.push_str("17");
        head.push_str(&run(&mut i, 6, digit)?);
    }
    expect(&mut i, "21")?;
    let serial = run(&mut i, 13, is_set82)?;
    let first = separator(&chars, &mut i, "91")?;
    expect(&mut i, "91")?;
    let key = run(&mut i, 4, is_set82)?;
    let second = separator(&chars, &mut i, "92")?;
    if first != second {
        return None;
    }
    expect(&mut i, "92")?;
    let tail: String = chars.get(i..)?.iter().collect();
    if tail.is_empty() || !tail.chars().all(is_set82) {
        return None;
    }
    Some(format!("{head}21{serial}{GS}91{key}{GS}92{tail}"))
}

/// At a separator's place: nothing (the GS was dropped), or one character
/// outside set 82 followed by the next AI.
fn separator(chars: &[char], i: &mut usize, next_ai: &str) -> Option<Option<char>> {
    let starts_ai = |at: usize| {
        chars
            .get(at..at + 2)
            .is_some_and(|s| s.iter().copied().eq(next_ai.chars()))
    };
    match chars.get(*i) {
        Some(&c) if !is_set82(c) && starts_ai(*i + 1) => {
            *i += 1;
            Some(Some(c))
        }
        Some(_) if starts_ai(*i) => Some(None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIL: &str =
        "Pu7hmDe-P8yi3YHdpT8glKTdNXxH68fWtjKuSWcrDLvjEBW9MQmkW0seCpP_N18OOkL7OxyeaGyBYbTJ6fRxBg";

    fn canonical() -> String {
        format!("010465235226200921k2Fpdfbwuq6gu{GS}91TZ01{GS}92{TAIL}")
    }

    #[test]
    fn substitutes_and_dropped_separators_are_restored() {
        for sep in ["~", "|", "^", "@", "#", ""] {
            let input = format!("010465235226200921k2Fpdfbwuq6gu{sep}91TZ01{sep}92{TAIL}");
            assert_eq!(restore(&input), Some(canonical()), "separator {sep:?}");
        }
        let dated = format!("01046523522620091728123121k2Fpdfbwuq6gu~91TZ01~92{TAIL}");
        assert_eq!(
            restore(&dated),
            Some(format!(
                "01046523522620091728123121k2Fpdfbwuq6gu{GS}91TZ01{GS}92{TAIL}"
            ))
        );
    }

    #[test]
    fn anything_else_is_left_to_the_strict_parser() {
        let cases = [
            // Two different substitutes.
            format!("010465235226200921k2Fpdfbwuq6gu~91TZ01|92{TAIL}"),
            // A set-82 character cannot be a separator: it could be data.
            format!("010465235226200921k2Fpdfbwuq6gu%91TZ01%92{TAIL}"),
            // Serial of 12 characters.
            format!("010465235226200921k2Fpdfbwuq6g~91TZ01~92{TAIL}"),
            // A real GS present: the strict parser decides.
            format!("010465235226200921k2Fpdfbwuq6gu{GS}91TZ01~92{TAIL}"),
            // No tail.
            "010465235226200921k2Fpdfbwuq6gu~91TZ01~92".to_owned(),
            // Substitute inside the tail.
            format!("010465235226200921k2Fpdfbwuq6gu~91TZ01~92{TAIL}~"),
            "0104652352262009".to_owned(),
            String::new(),
        ];
        for input in cases {
            assert_eq!(restore(&input), None, "{input:?}");
        }
    }
}
