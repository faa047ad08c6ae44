//! The Fluent files are compiled into the crate by `static_loader!`; tell
//! cargo to rebuild when any of them changes, or an added `.ftl` file would be
//! missed by an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=kk");
    println!("cargo:rerun-if-changed=ru");
}
