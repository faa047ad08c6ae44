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
