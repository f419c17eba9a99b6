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
    let shown = args.path.display();
    // `symlink_metadata`: a link, even a dangling one, is something that exists.
    let existing = std::fs::symlink_metadata(&args.path).ok();
    if existing
        .as_ref()
        .is_some_and(|m| m.file_type().is_symlink())
    {
        eprintln!(
            "error: `{shown}` is a symbolic link, and plinth does not write through links; \
             remove it or pass another path"
        );
        return EXIT_ERROR;
    }
    if existing.is_some() && !args.force {
        eprintln!("error: `{shown}` already exists; pass --force to overwrite it");
        return EXIT_ERROR;
    }
    match write(&args.path, args.force) {
        Ok(()) => {
            eprintln!("wrote {shown}; next: plinth check {shown}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot write `{shown}`: {e}");
            EXIT_ERROR
        }
    }
}

/// Writes the template to `path`, never through a link: a new file is created with `O_EXCL`,
/// which fails on a link (dangling or not) in its place, and an existing one, with --force,
/// is opened with `O_NOFOLLOW`, which does the same. The check in `run` says it plainly; these
/// flags keep it true if the path changes in between.
fn write(path: &std::path::Path, force: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // A small positive bit; the cast cannot wrap.
            options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
    } else {
        options.create_new(true);
    }
    options.open(path)?.write_all(TEMPLATE.as_bytes())
}
