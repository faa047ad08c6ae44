//! Fuzz target: `parse` never panics on any input, and whatever it accepts
//! parses again from its canonical form to the same code, whose canonical form
//! is itself.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Scanners hand over text; invalid UTF-8 becomes U+FFFD, which the parser
    // must refuse as cleanly as any other character.
    let input = String::from_utf8_lossy(data);
    if let Ok(code) = tanba_core::parse(&input) {
        let canonical = code.canonical();
        let again = tanba_core::parse(&canonical);
        assert_eq!(
            again.as_ref(),
            Ok(&code),
            "canonical {canonical:?} of {input:?}"
        );
        assert_eq!(
            again.map(|c| c.canonical()).as_deref(),
            Ok(canonical.as_str())
        );
    }
});
