//! The `tanba` command: a thin entry point; everything lives in the library.

/// mimalloc rather than the system allocator: glibc kept what a
/// million-code document freed, so each later document started from the
/// memory of the one before (see BENCHMARKS.md, the owner change).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tanba_api::cli::main()
}
