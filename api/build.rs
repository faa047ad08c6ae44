//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!`
//! embeds `migrations/` at compile time, and cargo does not know the macro
//! read those files, so without this an incremental build keeps the old set.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
