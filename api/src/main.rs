//! The `tanba` command: a thin entry point; everything lives in the library.

fn main() -> std::process::ExitCode {
    tanba_api::cli::main()
}
