//! `plinth init`: write a commented starter spec, and beside it the JSON Schema its
//! `#:schema` line points at, so editors with taplo complete and validate it offline.

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
    if let Err(e) = write(&args.path, TEMPLATE, args.force) {
        eprintln!("error: cannot write `{shown}`: {e}");
        return EXIT_ERROR;
    }
    // The schema the template's `#:schema` line names, from this binary, so it always
    // matches the format this plinth reads. An existing one is kept unless --force.
    let schema = args
        .path
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .join(SCHEMA_FILE);
    let schema_shown = schema.display();
    match write(&schema, &crate::spec::schema_text(), args.force) {
        Ok(()) => eprintln!("wrote {shown} and {schema_shown}; next: plinth check {shown}"),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "wrote {shown} (kept the existing {schema_shown}); next: plinth check {shown}"
            )
        }
        Err(e) => {
            eprintln!("error: cannot write `{schema_shown}`: {e}");
            return EXIT_ERROR;
        }
    }
    EXIT_OK
}

/// The schema's file name beside the starter spec, as its `#:schema` line names it.
const SCHEMA_FILE: &str = "platform.schema.json";

/// Writes `text` to `path`, never through a link: a new file is created with `O_EXCL`,
/// which fails on a link (dangling or not) in its place, and an existing one, with --force,
/// is opened with `O_NOFOLLOW`, which does the same. The check in `run` says it plainly; these
/// flags keep it true if the path changes in between.
fn write(path: &std::path::Path, text: &str, force: bool) -> std::io::Result<()> {
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
    options.open(path)?.write_all(text.as_bytes())
}
