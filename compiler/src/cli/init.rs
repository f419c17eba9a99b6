//! `plinth init`: write a commented starter spec.

use std::path::PathBuf;

use super::{EXIT_ERROR, EXIT_OK};

/// The starter spec; `cargo test` checks that it compiles.
pub const TEMPLATE: &str = include_str!("../../../stdlib/init/platform.toml");

/// Write a commented starter `platform.toml`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  plinth init && plinth check")]
pub struct Args {
    /// Where to write it.
    #[arg(default_value = "platform.toml")]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> u8 {
    if args.path.exists() && !args.force {
        eprintln!(
            "error: `{}` already exists; pass --force to overwrite it",
            args.path.display()
        );
        return EXIT_ERROR;
    }
    match std::fs::write(&args.path, TEMPLATE) {
        Ok(()) => {
            eprintln!(
                "wrote {}; next: plinth check {}",
                args.path.display(),
                args.path.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot write `{}`: {e}", args.path.display());
            EXIT_ERROR
        }
    }
}
