//! Every error the service can answer with has its words in both languages:
//! the machine codes are read from the source (`ApiError::new(…, "code")`), so
//! a new error without a message fails here, not in front of a citizen.

use std::path::Path;

use tanba_locales::{Lang, has};

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).expect("source"),
            ));
        }
    }
}

/// The first string literal after each occurrence of `marker`.
fn literals_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let end = rest.find(')')?;
            let call = &rest[..end];
            let start = call.find('"')? + 1;
            let stop = call[start..].find('"')? + start;
            Some(call[start..stop].to_owned())
        })
        .collect()
}

#[test]
fn every_api_error_code_has_a_message_in_kazakh_and_russian() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut keys = Vec::new();
    for (_, text) in &files {
        let mut codes = literals_after(text, "ApiError::new(");
        codes.extend(literals_after(text, "Self::new(StatusCode"));
        for code in codes {
            keys.push(format!("error-{}", code.replace('_', "-")));
        }
        keys.extend(literals_after(text, ".with_key("));
    }
    keys.extend(
        tanba_api::error::FOREIGN_CODES
            .iter()
            .map(|c| format!("error-{}", c.replace('_', "-"))),
    );
    // error.rs builds the not-found and internal errors itself.
    assert!(keys.len() >= 5, "found only {keys:?}");
    let missing: Vec<String> = keys
        .iter()
        .flat_map(|k| Lang::ALL.into_iter().map(move |l| (k, l)))
        .filter(|(k, l)| !has(*l, k))
        .map(|(k, l)| format!("{k} ({l})"))
        .collect();
    assert!(missing.is_empty(), "messages missing: {missing:?}");
}

/// The first segment of every message id in `locales/kk` (`scan`, `error`,
/// `field`, …): a string literal in the source that starts with one of them
/// and a dash is a message key.
fn message_prefixes() -> std::collections::BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../locales/kk");
    let mut prefixes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("locales/kk") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("ftl");
        for line in text.lines() {
            let Some((id, _)) = line.split_once('=') else {
                continue;
            };
            let id = id.trim();
            if !id.is_empty()
                && !line.starts_with([' ', '#', '-', '.', '*', '['])
                && let Some((first, _)) = id.split_once('-')
            {
                prefixes.insert(first.to_owned());
            }
        }
    }
    prefixes
}

/// Every `"…"` in `text` whose inside could be a message id (lowercase
/// ASCII, digits and dashes). Looking at each pair of neighbouring quotes,
/// rather than pairing them up, keeps a `'"'` char literal from shifting
/// every later string.
fn string_literals(text: &str) -> Vec<&str> {
    let pieces: Vec<&str> = text.split('"').collect();
    let inner = if pieces.len() > 2 {
        &pieces[1..pieces.len() - 1]
    } else {
        &[][..]
    };
    inner
        .iter()
        .copied()
        .filter(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .collect()
}

#[test]
fn every_message_key_written_in_the_code_exists_in_kazakh_and_russian() {
    let prefixes = message_prefixes();
    assert!(prefixes.contains("scan"), "prefixes: {prefixes:?}");
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut checked = 0;
    let mut missing = Vec::new();
    for (path, text) in &files {
        for literal in string_literals(text) {
            let looks_like_key = literal.split_once('-').is_some_and(|(first, rest)| {
                prefixes.contains(first)
                    && !rest.is_empty()
                    && !rest.ends_with('-')
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
            if !looks_like_key {
                continue;
            }
            checked += 1;
            for lang in Lang::ALL {
                if !has(lang, literal) {
                    missing.push(format!("{literal} ({lang}) in {path}"));
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} keys found in the source");
    assert!(
        missing.is_empty(),
        "keys used in code but missing: {missing:?}"
    );
}

/// The rate-limit answer of `POST /v1/reports` names the wait with the noun
/// in the form each language asks for: Russian has one (1, 21), few (2–4,
/// 22–24) and many (5–20, …) forms; Kazakh keeps the noun unchanged.
#[test]
fn the_rate_limit_message_uses_the_plural_form_the_number_asks_for() {
    use std::time::Duration;
    use tanba_api::routes::reports::rate_limited;
    let message = |lang, secs| rate_limited(Duration::from_secs(secs)).message(lang);

    let minutes: Vec<String> = [1, 2, 5, 21]
        .into_iter()
        .map(|n| message(Lang::Ru, n * 60))
        .collect();
    for (text, words) in minutes
        .iter()
        .zip(["1 минуту.", "2 минуты.", "5 минут.", "21 минуту."])
    {
        assert!(text.ends_with(&format!("через {words}")), "{text}");
    }
    let nouns: std::collections::BTreeSet<&str> = minutes
        .iter()
        .map(|t| t.rsplit(' ').next().expect("last word"))
        .collect();
    assert_eq!(nouns.len(), 3, "one, few and many differ: {nouns:?}");

    for (secs, words) in [
        (1, "1 секунду."),
        (2, "2 секунды."),
        (5, "5 секунд."),
        (21, "21 секунду."),
    ] {
        let text = message(Lang::Ru, secs);
        assert!(text.ends_with(&format!("через {words}")), "{text}");
    }
    // Rounded up: 61 seconds is two minutes, not one.
    assert!(message(Lang::Ru, 61).ends_with("через 2 минуты."));

    for (secs, words) in [(60, "1 минуттан"), (300, "5 минуттан"), (2, "2 секундтан")]
    {
        let text = message(Lang::Kk, secs);
        assert!(text.contains(&format!("{words} кейін")), "{text}");
    }
}
