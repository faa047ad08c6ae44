//! Both languages say everything: every message key exists in `kk/` and in
//! `ru/`, every message resolves, and every key the code builds from a
//! machine code exists.

use std::collections::BTreeSet;
use std::path::Path;

use tanba_locales::{Lang, has, text_with};

/// Every `$variable` named anywhere in the texts.
fn variables() -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for lang in ["kk", "ru"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(lang);
        for entry in std::fs::read_dir(&dir).expect("language folder") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("file");
            for part in text.split('$').skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                if !name.is_empty() {
                    vars.insert(name);
                }
            }
        }
    }
    vars
}

/// A message rendered with a value for every variable, as the code would.
fn text(lang: Lang, key: &str) -> String {
    let vars = variables();
    text_with(lang, key, vars.iter().map(|v| (v.as_str(), "7")))
}

/// Message ids of every `.ftl` file in one language folder.
fn keys(lang: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(lang);
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("language folder") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("ftl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("ftl file");
        for line in text.lines() {
            let Some((id, _)) = line.split_once('=') else {
                continue;
            };
            let id = id.trim_end();
            let is_id = id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if is_id && !line.starts_with(char::is_whitespace) {
                keys.insert(id.to_owned());
            }
        }
    }
    keys
}

#[test]
fn every_key_exists_in_kazakh_and_in_russian() {
    let kk = keys("kk");
    let ru = keys("ru");
    assert!(kk.len() > 10, "read only {} keys", kk.len());
    let only_kk: Vec<_> = kk.difference(&ru).collect();
    let only_ru: Vec<_> = ru.difference(&kk).collect();
    assert!(
        only_kk.is_empty() && only_ru.is_empty(),
        "only in kk: {only_kk:?}; only in ru: {only_ru:?}"
    );
}

#[test]
fn every_message_resolves_in_its_own_language() {
    for (lang, folder) in [(Lang::Kk, "kk"), (Lang::Ru, "ru")] {
        for key in keys(folder) {
            assert!(has(lang, &key), "{key} does not resolve in {lang}");
            assert_ne!(text(lang, &key), key, "{key} in {lang}");
        }
    }
}

#[test]
fn russian_and_kazakh_texts_differ_where_they_should() {
    // A copy-pasted file would pass the key check; the words must be translated.
    let kk = keys("kk");
    let same: Vec<_> = kk
        .iter()
        .filter(|k| !k.starts_with("app-"))
        .filter(|k| text(Lang::Kk, k) == text(Lang::Ru, k))
        .collect();
    assert!(same.is_empty(), "identical in both languages: {same:?}");
}

#[test]
fn every_lifecycle_refusal_has_a_message() {
    use tanba_core::lifecycle::{
        CodeState, Operation, Status, WithdrawalReason, WriteOffReason, transition,
    };
    let mut statuses = vec![Status::Emitted, Status::Applied, Status::Introduced];
    statuses.extend(WithdrawalReason::ALL.map(Status::Retired));
    statuses.extend(WriteOffReason::ALL.map(Status::WrittenOff));
    let mut codes = BTreeSet::new();
    for status in statuses {
        for blocked in [false, true] {
            for op in Operation::all() {
                if let Err(e) = transition(CodeState { status, blocked }, op) {
                    codes.insert(e.code());
                }
            }
        }
    }
    assert!(codes.len() >= 10, "{codes:?}");
    for code in codes {
        let key = format!("lifecycle-{}", code.replace('_', "-"));
        for lang in Lang::ALL {
            assert!(has(lang, &key), "{key} missing in {lang}");
        }
    }
}

#[test]
fn every_code_parse_error_has_a_message() {
    for kind in tanba_core::ParseErrorKind::ALL {
        let key = kind.message_key();
        for lang in Lang::ALL {
            assert!(has(lang, &key), "{key} missing in {lang}");
        }
    }
}
