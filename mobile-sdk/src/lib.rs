//! `tanba-mobile-sdk`: the Rust core of the citizen app, to be exposed to
//! Kotlin and Swift through UniFFI.
//!
//! It will own everything the phone does: parse any scanner output, check the
//! signature offline against cached operator keys, fetch the product card in
//! the user's language, queue violation reports while offline. It alone will
//! know FFI (UniFFI is added with the first bound function, not before, to
//! keep builds lean).
//!
//! Today it holds the offline check, the first thing the app does with a
//! scan, so that the SDK and the service agree by construction.

use serde::Serialize;
use tanba_core::crypto::{Keyring, SignatureStatus};

/// What the app shows before it reaches the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfflineCheck {
    /// The canonical element string, or `None` when the input is not a code.
    pub canonical: Option<String>,
    /// The machine code of the parse error, when the input is not a code.
    pub error: Option<&'static str>,
    /// The signature status against the cached keyring, for unit codes.
    pub signature: Option<SignatureStatus>,
}

/// Parses a scan and checks its signature against the cached keyring.
pub fn check_offline(scan: &str, keyring: &Keyring) -> OfflineCheck {
    match tanba_core::parse(scan) {
        Ok(tanba_core::ScannedCode::Unit(code)) => OfflineCheck {
            canonical: Some(code.element_string()),
            error: None,
            signature: Some(keyring.verify(&code)),
        },
        Ok(tanba_core::ScannedCode::Sscc(sscc)) => OfflineCheck {
            canonical: Some(sscc.element_string()),
            error: None,
            signature: None,
        },
        Err(e) => OfflineCheck {
            canonical: None,
            error: Some(e.kind.code()),
            signature: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYRING: &str = include_str!("../../../shared/testdata/keyring.json");

    #[test]
    fn a_genuine_scan_is_valid_offline_and_a_bad_one_says_why() {
        let ring = Keyring::from_json(KEYRING).unwrap();
        let ok = check_offline(
            "]d2010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ01\u{1d}92Pu7hmDe-P8yi3YHdpT8glKTdNXxH68fWtjKuSWcrDLvjEBW9MQmkW0seCpP_N18OOkL7OxyeaGyBYbTJ6fRxBg",
            &ring,
        );
        assert_eq!(ok.signature, Some(SignatureStatus::Valid));
        let bad = check_offline("hello world", &ring);
        assert!(bad.canonical.is_none());
        assert!(bad.error.is_some());
    }
}
