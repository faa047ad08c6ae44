//! Citizens' violation reports (decree, functional requirement 7 and
//! criterion 5): the parts that are neither HTTP nor SQL.
//!
//! - [`status`]: a report's statuses and the moves an inspector may make.
//! - [`number`]: the report number a citizen quotes and the secret that lets
//!   only them follow it.
//! - [`check`]: format-logical control of a report's JSON, every problem at once.
//! - [`photos`]: photos decoded, downscaled and re-encoded as JPEG (metadata
//!   gone) on one blocking thread at a time.
//! - [`limits`]: rate limits per client address and per device, and the keys
//!   that tell a duplicate.
//!
//! The handlers are `routes::reports` (citizens) and `routes::inspections`
//! (inspectors); storage is `store::reports`.

pub mod check;
pub mod limits;
pub mod number;
pub mod photos;
pub mod status;
