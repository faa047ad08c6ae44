//! `tanba-api`: the Tanba service and the `tanba` command.
//!
//! This crate alone knows HTTP (actix-web), SQL (sqlx, PostgreSQL and SQLite)
//! and, from the scan path on, the cache. The domain rules it applies all come
//! from `tanba-core`; the words it shows come from `tanba-locales`.
//!
//! - [`cli`]: the `tanba` command (`code parse`, `code verify`, `keys generate`, `serve`).
//! - [`settings`]: typed settings from defaults, file and `TANBA_…` variables.
//! - [`startup`]: builds the application on a listener and runs it until a signal.
//! - [`state`]: `AppState`, what every handler can reach.
//! - [`routes`]: the HTTP handlers, one module per resource.
//! - [`fields`]: the `Checker` that reads a JSON body's fields, every problem at once.
//! - [`error`]: every HTTP error with its status, stable machine code and localized text.
//! - [`store`]: storage through sqlx, one schema for SQLite and PostgreSQL.
//! - [`keys`]: the operator's emission key files.
//! - [`money`]: tiyn in integers, tenge as decimal text; no price as a float.
//! - [`reference`]: the reference data (НСИ) in memory, for checking input.
//! - [`cache`]: the scan cache (in process or Redis) and the keys a scan checks against.
//! - [`sightings`]: where each code was seen lately, for the clone verdict (in process or Redis).
//! - [`scans`]: the scan recorder, writing every scan behind the answer, in batches.
//! - [`redis_link`]: the one Redis connection, (re)connected in the background.
//! - [`documents`]: documents that move codes through their life: control of
//!   the body, and the worker that checks and applies them all or nothing.
//! - [`demo`]: `tanba serve --demo`, a demo manufacturer with codes in every status.
//! - [`reports`]: citizens' violation reports: statuses, numbers and secrets,
//!   control of the input, photos, abuse limits.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod demo;
pub mod documents;
pub mod emission;
pub mod error;
pub mod fields;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod lang;
pub mod money;
pub mod redis_link;
pub mod reference;
pub mod reports;
pub mod routes;
pub mod scans;
pub mod settings;
pub mod sightings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
