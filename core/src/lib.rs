//! `tanba-core`: the domain of the Tanba marking system, with no I/O.
//!
//! Everything here is a pure function of its inputs: no async runtime, no
//! network, no database, no files. The service (`tanba-api`), the printer agent
//! and the mobile SDK all build on it, so a rule lives in exactly one place.
//!
//! - [`code`]: typed values that can only be built valid (GTIN, SSCC, serial,
//!   key id, crypto tail, the marking code itself).
//! - [`gs1`]: parsing every form a scanner hands over, and formatting.
//! - [`crypto`]: the Ed25519 crypto tail: signing with an emission key,
//!   verifying against a keyring, batch verification.
//! - [`participant`]: Kazakhstan's BIN and IIN.
//! - [`lifecycle`]: the statuses of a code and the one transition function.

pub mod code;
pub mod crypto;
pub mod document;
pub mod epcis;
pub mod gs1;
pub mod lifecycle;
pub mod participant;

pub use code::{CryptoTail, Gtin, KeyId, MarkingCode, ScannedCode, Serial, Sscc};
pub use gs1::{ParseError, ParseErrorKind, parse};
