//! `plinth diff`: is the committed output current (drift), and what will a spec change do
//! (change review). The comparison itself is the pure `crate::diff`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::render::Format;
use super::{display_path, print_diagnostics, read_spec, spec_path, unknown_envs, write};
use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::diag::Diagnostics;
use crate::diff::{self, render, FileSet};
use crate::emit::Target;
use crate::source::Sources;

/// Compare generated output: with the files in --out (drift), with the spec at a git revision
/// (--base), or between two specs. Exit 0 no changes, 2 changes, 1 error.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  plinth diff --out out                      is the committed output current?
  plinth diff --base origin/main             what does this branch change?
  plinth diff old.toml new.toml --format markdown

Exit codes (like `terraform plan -detailed-exitcode`): 0 no changes, 2 changes, 1 error.
With --fail-on-destructive, destructive changes exit 1.")]
pub struct Args {
    /// The spec [default: platform.toml]; with two, compare the first (old) with the second.
    #[arg(num_args = 0..=2, value_name = "SPEC")]
    specs: Vec<PathBuf>,
    /// Compare with the spec at this git revision instead of the output folder.
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// Output folder to check for drift.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Only these environments (repeatable); all by default.
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,
    /// Only these targets (repeatable); all by default.
    #[arg(long = "target", value_name = "NAME", value_enum)]
    targets: Vec<Target>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    format: DiffFormat,
    /// Include the unified diff of every file (always on for drift).
    #[arg(long)]
    patch: bool,
    /// Exit 1 when a change destroys state (a removed data store or volume, an immutable field).
    #[arg(long)]
    fail_on_destructive: bool,
}

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Text, coloured on a terminal.
    Human,
    /// One JSON object.
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
}

pub fn run(args: Args) -> u8 {
    let diag_format = match args.format {
        DiffFormat::Json => Format::Json,
        _ => Format::Human,
    };
    if args.base.is_some() && args.specs.len() == 2 {
        eprintln!("error: pass either --base REV or two specs, not both");
        return EXIT_ERROR;
    }
    let drift = args.base.is_none() && args.specs.len() < 2;
    // The diff compares what each side generates; whether that output would come up is
    // `check`'s and `build`'s verdict. So the proof's findings are warnings here: a base
    // revision written before a finding was an error, or built with `--lenient`, still
    // compiles and can be compared.
    let mut options = crate::Options {
        targets: args.targets.clone(),
        envs: args.envs.clone(),
        lenient: true,
    };
    // Where the environments came from, for the message when one is unknown.
    let mut recorded = false;
    if drift {
        if let Err(e) = write::refuse_out(&args.out, &spec_path(args.specs.last().cloned())) {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
        // A drift check compares what the builds into the folder selected, unless told
        // otherwise: a `--target k8s` build is not missing every other target.
        match write::recorded_selection(&args.out) {
            Ok(Some(selection)) => {
                if options.targets.is_empty() {
                    options.targets = selection.targets.unwrap_or_default();
                }
                if options.envs.is_empty() {
                    options.envs = selection.envs.unwrap_or_default();
                    recorded = !options.envs.is_empty();
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ERROR;
            }
        }
    }
    let (old, new) = match inputs(&args, &options, diag_format, recorded) {
        Ok(pair) => pair,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            return EXIT_ERROR;
        }
    };
    let report = diff::compare(&old, &new);
    let color = args.format == DiffFormat::Human
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let ropts = render::Options {
        color,
        patch: args.patch || drift,
    };
    let text = match args.format {
        DiffFormat::Human => render::human(&report, &ropts),
        DiffFormat::Json => render::json(&report, &ropts),
        DiffFormat::Markdown => render::markdown(&report, &ropts),
    };
    print!("{text}");
    let destructive = report.destructive().count();
    if args.fail_on_destructive && destructive > 0 {
        eprintln!("error: {destructive} destructive change(s) and --fail-on-destructive is set");
        return EXIT_ERROR;
    }
    if report.has_changes() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

/// The old and new file sets. The error is empty when diagnostics were already printed.
/// `recorded` says that `options.envs` came from the output folder's manifest.
fn inputs(
    args: &Args,
    options: &crate::Options,
    format: Format,
    recorded: bool,
) -> Result<(FileSet, FileSet), String> {
    let new_path = spec_path(args.specs.last().cloned());
    let shown = display_path(&new_path);
    let c = compile(&shown, &read(&new_path, format)?, options, format)?;
    if !c.unknown_envs.is_empty() {
        if recorded {
            return Err(format!(
                "`{}` records a build of environment `{}`, which the spec does not define; \
                 rebuild the folder, or choose environments with --env",
                display_path(&args.out.join(write::MANIFEST)),
                c.unknown_envs.join("`, `")
            ));
        }
        return Err(unknown_envs(&c).join("\nerror: "));
    }
    let new = files(c);
    let old = if let [old_path, _] = args.specs.as_slice() {
        // Both are compiled under the new spec's name so banners do not differ.
        compile_old(&shown, &read(old_path, format)?, options, format)?
    } else if let Some(rev) = &args.base {
        match git_show(&new_path, rev)? {
            Some(text) => compile_old(&shown, &text, options, format)?,
            // A spec new in this change: before it, plinth generated nothing.
            None => FileSet::new(),
        }
    } else {
        let scope = write::Scope::new(&options.targets, &options.envs);
        return write::read_drift(&args.out, &scope, new);
    };
    Ok((old, new))
}

fn read(path: &Path, format: Format) -> Result<String, String> {
    read_spec(path).map_err(|d| {
        print_diagnostics(format, &Sources::new(), &Diagnostics(vec![*d]));
        String::new()
    })
}

/// Compiles a spec, printing its diagnostics when it is invalid.
fn compile(
    shown: &str,
    text: &str,
    options: &crate::Options,
    format: Format,
) -> Result<crate::Compilation, String> {
    let c = crate::compile(shown, text, options);
    if c.diagnostics.has_errors() {
        print_diagnostics(format, &c.sources, &c.diagnostics);
        return Err(format!("{shown}: invalid; nothing compared"));
    }
    Ok(c)
}

/// The old side of a review. An environment selected with `--env` that the old spec does not
/// define is new in this change, so the old side has nothing of it: the old spec is compiled
/// again with the environments it knows, or is empty when it knows none of them. (Only this
/// case compiles twice.)
fn compile_old(
    shown: &str,
    text: &str,
    options: &crate::Options,
    format: Format,
) -> Result<FileSet, String> {
    let c = compile(shown, text, options, format)?;
    if c.unknown_envs.is_empty() {
        return Ok(files(c));
    }
    let known = crate::Options {
        targets: options.targets.clone(),
        envs: options
            .envs
            .iter()
            .filter(|e| !c.unknown_envs.contains(e))
            .cloned()
            .collect(),
        lenient: options.lenient,
    };
    if known.envs.is_empty() {
        return Ok(FileSet::new());
    }
    Ok(files(compile(shown, text, &known, format)?))
}

/// The files of a compilation, as a file set.
fn files(mut c: crate::Compilation) -> FileSet {
    let files = std::mem::take(&mut c.files);
    // The files the proof parsed are freed now: the other side's compilation comes next and
    // would otherwise hold them too (hundreds of MB at 1,000 services).
    c.free_proof_reads();
    // The process exits once the report is printed; freeing the model and the shared alert
    // rules (a million small allocations at 1,000 services) would only delay that.
    c.leak();
    files.into_iter().map(|f| (f.path, f.contents)).collect()
}

/// The spec's text at a git revision: `git show REV:./FILE` run in the spec's folder; `None`
/// when the revision exists but does not hold the file (a spec added by this change).
///
/// The revision comes from the command line of a CI job, which may take it from a pull
/// request: a revision starting with `-` is refused, and `--end-of-options` tells git that
/// nothing after it is an option, so no revision can reach git as one (`--output=FILE` would
/// make `git show` write a file).
fn git_show(spec: &Path, rev: &str) -> Result<Option<String>, String> {
    /// How many symbolic links are followed from the spec before giving up (a loop).
    const MAX_LINKS: usize = 8;
    if rev.starts_with('-') {
        return Err(format!(
            "the revision `{rev}` starts with `-`, which git would read as an option; \
             pass a branch, tag or commit"
        ));
    }
    let dir = spec
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = spec
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))
    };
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("fatal: ")
            .to_owned()
    };
    // The path of the file read, relative to the spec's folder: the spec's name, then the
    // target of each symbolic link the revision stores there.
    let mut rel = file.clone();
    let mut links = 0;
    let output = loop {
        let output = git(&["show", "--end-of-options", &format!("{rev}:./{rel}")])?;
        if !output.status.success() {
            break output;
        }
        // `git show` prints a link's target, not the file it names (mode 120000 in the tree).
        let entry = git(&[
            "ls-tree",
            "--end-of-options",
            rev,
            "--",
            &format!("./{rel}"),
        ])?;
        if !entry.stdout.starts_with(b"120000 ") {
            break output;
        }
        links += 1;
        let target = String::from_utf8_lossy(&output.stdout).into_owned();
        rel = match link_target(&rel, &target) {
            Some(next) if links <= MAX_LINKS => next,
            Some(_) => {
                return Err(format!(
                    "`{}` at revision `{rev}` is a chain of more than {MAX_LINKS} symbolic links",
                    display_path(spec)
                ))
            }
            None => {
                return Err(format!(
                    "`{}` at revision `{rev}` is a symbolic link to `{}`, outside the folder that \
                     holds it; a spec that is a link must point at a file in its own folder or below",
                    display_path(spec),
                    target.escape_debug()
                ))
            }
        };
    };
    if !output.status.success() && rel != file {
        return Err(format!(
            "`{}` at revision `{rev}` is a symbolic link to `{rel}`, which that revision does not hold",
            display_path(spec)
        ));
    }
    if !output.status.success() {
        // Why it failed decides what happens: a revision that does not exist is an error,
        // a revision without the file is a spec new in this change. git's own messages are
        // not parsed (they are translated); it is asked each question in turn.
        let exists = git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ])?;
        if !exists.status.success() {
            let why = first_line(&exists.stderr);
            return Err(if why.is_empty() {
                format!("the revision `{rev}` does not exist; pass a branch, tag or commit")
            } else {
                format!("cannot read revision `{rev}`: {why}")
            });
        }
        let listed = git(&[
            "ls-tree",
            "--name-only",
            "--end-of-options",
            rev,
            "--",
            &format!("./{file}"),
        ])?;
        if listed.status.success() && listed.stdout.is_empty() {
            return Ok(None);
        }
        return Err(format!(
            "cannot read `{}` at revision `{rev}`: {}",
            display_path(spec),
            match first_line(&output.stderr) {
                e if e.is_empty() => "git failed".to_owned(),
                e => e,
            }
        ));
    }
    // Decoded like `read_spec` (byte-order mark, CRLF), so that a revision stored with LF and
    // a working copy checked out with CRLF compare equal.
    crate::spec::decode(&display_path(spec), output.stdout)
        .map(Some)
        .map_err(|_| format!("`{}` at revision `{rev}` is not UTF-8", display_path(spec)))
}

/// Where a symbolic link stored at `link` (a `/`-separated path relative to the spec's folder)
/// with the text `target` leads, relative to the same folder; `None` when it leaves the folder
/// (an absolute target, or more `..` than there are folders), which the working copy's reader
/// refuses too.
fn link_target(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') || target.contains(['\\', '\0', '\n']) {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            name => parts.push(name),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}
