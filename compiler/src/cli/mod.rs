//! The command line: the only code that reads files, writes files or prints.
//!
//! One file per subcommand, each a clap struct and a `run` function. Exit codes, the same for
//! every subcommand: 0 success (warnings allowed), 1 invalid spec or error, 2 changes found
//! (`diff`, like `terraform plan -detailed-exitcode`). A policy failure is an error: `diff
//! --fail-on-destructive` exits 1 when a change destroys state.

mod build;
mod check;
mod diff;
mod explain;
mod graph;
mod init;
pub mod render;
mod schema;
mod synth;
mod write;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diag::{Code, Diagnostic, Diagnostics, Severity};
use crate::source::Sources;
use render::Format;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for an invalid spec or any error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code for "changes found".
pub const EXIT_CHANGES: u8 = 2;

/// plinth: one typed TOML platform spec in; Kubernetes, Helm, Compose, Terraform, Prometheus
/// and Alertmanager out.
#[derive(Parser, Debug)]
#[command(name = "plinth", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Examples:\n  plinth init\n  plinth check\n  plinth build examples/devmentor.toml --out out\n  plinth explain --env production services.api-gateway.autoscaling.max\n  plinth graph --env production\n  plinth diff --base origin/main --format markdown\n\nExit codes: 0 ok, 1 invalid spec or error, 2 changes found (diff)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Check(check::Args),
    Build(build::Args),
    Diff(diff::Args),
    Explain(explain::Args),
    Graph(graph::Args),
    Schema(schema::Args),
    Init(init::Args),
    /// Print a synthetic spec of N services (for benchmarks).
    #[command(hide = true)]
    Synth(synth::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_error(&e)),
    };
    let code = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Build(a) => build::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Schema(a) => schema::run(a),
        Command::Init(a) => init::run(a),
        Command::Synth(a) => synth::run(a),
    };
    ExitCode::from(code)
}

/// Prints a command-line parse failure as clap words it and returns its exit code: 0 for
/// `--help` and `--version`, otherwise 1. clap's own code for a usage error is 2, which plinth
/// reserves for "changes found": a mistyped `plinth diff --fromat …` in CI must fail the job,
/// not read as a diff with changes.
fn usage_error(e: &clap::Error) -> u8 {
    let _ = e.print();
    if e.use_stderr() {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

/// The environment a one-environment command (`explain`, `graph`) works on: the one `--env`
/// names, or the spec's only one. Otherwise it prints why (an unknown name with the nearest
/// one, or the list to choose from) and returns `None`.
pub(crate) fn chosen_env<'p>(
    platform: &'p crate::ir::Platform,
    name: Option<&str>,
) -> Option<&'p crate::ir::Environment> {
    let envs = platform.environments.as_slice();
    let env = match (name, envs) {
        (Some(name), envs) => envs.iter().find(|e| e.name == name),
        (None, [only]) => Some(only),
        (None, _) => None,
    };
    if env.is_none() {
        let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
        match name {
            Some(name) => eprintln!("error: {}", unknown_env(name, &names)),
            None => eprintln!(
                "error: choose an environment with --env: {}",
                names.join(", ")
            ),
        }
    }
    env
}

/// The message for an `--env NAME` the spec does not define: a command-line mistake, named
/// as such, with the nearest name and the list to choose from.
pub(crate) fn unknown_env(name: &str, known: &[&str]) -> String {
    let mut text = format!("unknown environment `{name}` given to --env");
    if let Some(near) = crate::diag::did_you_mean(name, known.iter().copied()) {
        text.push_str(&format!(": did you mean `{near}`?"));
    }
    if known.is_empty() {
        text.push_str(" (the spec defines no environments)");
    } else {
        text.push_str(&format!(" (the spec defines {})", known.join(", ")));
    }
    text
}

/// The command-line errors for the `--env` names a compilation found the spec does not
/// define ([`crate::Compilation::unknown_envs`]), one message each; empty when it knew them
/// all.
pub(crate) fn unknown_envs(c: &crate::Compilation) -> Vec<String> {
    let known: Vec<&str> = c
        .platform
        .iter()
        .flat_map(|p| p.environments.iter().map(|e| e.name.as_str()))
        .collect();
    c.unknown_envs
        .iter()
        .map(|name| unknown_env(name, &known))
        .collect()
}

/// The default spec path.
pub(crate) const DEFAULT_SPEC: &str = "platform.toml";

/// Reads a spec file, or returns the diagnostic that says why it cannot be read.
pub(crate) fn read_spec(path: &Path) -> Result<String, Box<Diagnostic>> {
    read_spec_inner(path).map_err(Box::new)
}

#[allow(clippy::result_large_err)] // Boxed by `read_spec`, its only caller.
fn read_spec_inner(path: &Path) -> Result<String, Diagnostic> {
    let io = |msg: String| Diagnostic::global(Code::Io, msg);
    if let Some(target) = link_outside_its_folder(path) {
        return Err(io(format!(
            "`{}` is a symbolic link to `{}`, outside the folder that holds it",
            path.display(),
            target.display()
        ))
        .help("a spec that is a link must point at a file in its own folder or below; pass the real path instead"));
    }
    let meta = std::fs::metadata(path).map_err(|e| {
        io(format!(
            "cannot read `{}`: {}",
            path.display(),
            e.kind().to_string().to_lowercase()
        ))
        .help(if path == Path::new(DEFAULT_SPEC) {
            "pass the spec's path, or run `plinth init` to create one"
        } else {
            "check the path"
        })
    })?;
    if meta.is_dir() {
        return Err(io(format!(
            "`{}` is a directory, not a spec file",
            path.display()
        ))
        .help("pass the path of a `.toml` spec"));
    }
    let too_big = |msg: String| {
        Diagnostic::global(Code::InputLimit, msg).help("split the platform into several specs")
    };
    if meta.len() > crate::spec::MAX_SPEC_BYTES as u64 {
        return Err(too_big(format!(
            "`{}` is {} bytes, more than the {} bytes plinth reads",
            path.display(),
            meta.len(),
            crate::spec::MAX_SPEC_BYTES
        )));
    }
    // The size check above trusts the file's metadata, which says 0 bytes for pipes and
    // devices (`<(…)`, `/dev/zero`): reading at most one byte past the limit keeps memory
    // bounded whatever the path names.
    let limit = crate::spec::MAX_SPEC_BYTES;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            io(format!(
                "cannot read `{}`: {}",
                path.display(),
                e.kind().to_string().to_lowercase()
            ))
        })?;
    if bytes.len() > limit {
        return Err(too_big(format!(
            "`{}` is more than the {limit} bytes plinth reads",
            path.display()
        )));
    }
    crate::spec::decode(&path.display().to_string(), bytes)
}

/// The target of `path` when `path` is a symbolic link to a regular file outside the folder
/// that holds the link.
///
/// Why: the spec path comes from a pull request as much as the spec does. A committed
/// `platform.toml -> ~/.aws/credentials` would otherwise be read, and a syntax error quotes
/// the lines it failed on into the CI log. Links that stay in their folder (a spec shared
/// between checkouts) still work, and so do links to pipes and devices (`<(…)`), which are
/// not regular files.
fn link_outside_its_folder(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() || !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let target = std::fs::canonicalize(path).ok()?;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = std::fs::canonicalize(folder).ok()?;
    (!target.starts_with(&folder)).then_some(target)
}

/// Whether human output may use colour: only on a terminal, and never with NO_COLOR set.
pub(crate) fn use_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Most diagnostics printed by one run. A generated or hostile spec can hold millions of
/// problems (a 32 MiB file of unknown keys), and rendering one costs time in proportion to the
/// file's size, so printing them all would not finish. The summary line still counts every
/// diagnostic, and fixing the first ones usually removes most of the rest.
pub(crate) const MAX_SHOWN: usize = 100;

/// The diagnostics to print: all of them up to [`MAX_SHOWN`], otherwise the first errors
/// (then warnings, if room is left), in their original order.
fn shown(diags: &Diagnostics) -> Diagnostics {
    if diags.0.len() <= MAX_SHOWN {
        return diags.clone();
    }
    let mut picked: Vec<usize> = (0..diags.0.len())
        .filter(|&i| diags.0[i].severity() == Severity::Error)
        .chain((0..diags.0.len()).filter(|&i| diags.0[i].severity() != Severity::Error))
        .take(MAX_SHOWN)
        .collect();
    picked.sort_unstable();
    Diagnostics(picked.into_iter().map(|i| diags.0[i].clone()).collect())
}

/// The diagnostics [`print_diagnostics`] would print, as the JSON array `--format json` prints.
pub(crate) fn diagnostics_json(sources: &Sources, all: &Diagnostics) -> serde_json::Value {
    render::json_value(sources, &shown(all).0)
}

/// Only the errors of `diags`, for `--quiet`.
pub(crate) fn errors_only(diags: &Diagnostics) -> Diagnostics {
    Diagnostics(
        diags
            .0
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .cloned()
            .collect(),
    )
}

/// Prints diagnostics in the chosen format: JSON to stdout, the others to stderr. At most
/// [`MAX_SHOWN`] are printed; a note on stderr says how many were left out.
pub(crate) fn print_diagnostics(format: Format, sources: &Sources, all: &Diagnostics) {
    let diags = &shown(all);
    match format {
        Format::Human => {
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            eprint!("{}", render::human(sources, &diags.0, use_color(), width));
        }
        Format::Json => print!("{}", render::json(sources, &diags.0)),
        Format::Github => print!("{}", render::github(sources, &diags.0)),
    }
    if diags.0.len() < all.0.len() {
        eprintln!(
            "note: {} more diagnostics not shown; plinth prints at most {MAX_SHOWN}",
            all.0.len() - diags.0.len()
        );
    }
}

/// Writes `text` to stderr in one call: `eprint!` with arguments writes each piece separately,
/// and every write is a system call.
pub(crate) fn say(text: &str) {
    use std::io::Write;
    // A closed stderr leaves nowhere to report the failure to.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// "2 errors, 1 warning".
pub(crate) fn counts(diags: &Diagnostics) -> String {
    let errors = diags
        .0
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .count();
    let warnings = diags.0.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

/// The way out when the proof's findings are among the errors of `diags`: printed after
/// the verdict, since a user who meets a P error for the first time should learn at once
/// that the spec itself is valid and how to write the output anyway.
pub(crate) fn proof_hint(diags: &Diagnostics) -> Option<&'static str> {
    diags
        .0
        .iter()
        .any(|d| d.code.is_proof() && d.severity() == Severity::Error)
        .then_some(
            "help: the spec is valid, but the closure proof found that its output would not come up as generated; fix what the P findings name, or pass --lenient to report them as warnings and write the output anyway",
        )
}

/// The spec path from an optional argument.
pub(crate) fn spec_path(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC))
}

/// Renders a path with `/` separators, so banners and diagnostics read the same everywhere.
pub(crate) fn display_path(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
