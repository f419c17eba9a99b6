//! The `plinth` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    plinth::cli::main()
}
