//! `tanba-printer-agent`: runs at an SME, on the PC next to its leased label
//! printers.
//!
//! It will own everything about printers and nothing else: authenticating as a
//! registered device, pulling the codes of print jobs, rendering labels
//! (DataMatrix, human-readable text, optional QR with the Digital Link URI),
//! driving printers in ZPL, TSPL or raster, keeping a local journal so a code
//! is printed once, and reporting printed codes applied exactly once.
//!
//! Today it holds the label text a printer puts under the symbol, built from
//! `tanba-core`'s formatting, so that later work has one place to grow from.

use tanba_core::MarkingCode;

/// The human-readable lines printed under a DataMatrix: GTIN and serial only.
/// The crypto tail is not printed in clear: it is long, means nothing to a
/// person, and is in the symbol anyway.
pub fn label_text(code: &MarkingCode) -> [String; 2] {
    [
        format!("(01){}", code.gtin().as_str()),
        format!("(21){}", code.serial().as_str()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_shows_gtin_and_serial_but_not_the_tail() {
        let code = tanba_core::MarkingCode::parse(
            "010465235226200921k2Fpdfbwuq6gu\u{1d}91TZ01\u{1d}92Pu7hmDe-P8yi3YHdpT8glKTdNXxH68fWtjKuSWcrDLvjEBW9MQmkW0seCpP_N18OOkL7OxyeaGyBYbTJ6fRxBg",
        )
        .unwrap();
        let lines = label_text(&code);
        assert_eq!(lines, ["(01)04652352262009", "(21)k2Fpdfbwuq6gu"]);
        assert!(!lines.concat().contains("TZ01"));
    }
}
