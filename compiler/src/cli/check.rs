//! `plinth check`: validate a spec without writing anything: its rules, then the proof over
//! the files it would generate, compiled in memory.

use std::path::PathBuf;

use super::render::Format;
use super::{
    counts, display_path, print_diagnostics, read_spec, say, spec_path, EXIT_ERROR, EXIT_OK,
};
use crate::diag::Diagnostics;
use crate::source::Sources;

/// Validate a spec: TOML syntax, structure, semantic rules, and the proof that the files it
/// generates resolve every reference. Writes nothing.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  plinth check\n  plinth check examples/codepal.toml --format github\n  plinth check --strict    the proof's findings are errors (CI, pre-commit)\n\nExit codes: 0 valid (warnings allowed), 1 invalid."
)]
pub struct Args {
    /// The spec file [default: platform.toml]
    spec: Option<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Make the proof's findings (P codes) errors: what CI and pre-commit should use.
    #[arg(long)]
    strict: bool,
}

pub fn run(args: Args) -> u8 {
    crate::check::prepare_promql();
    let path = spec_path(args.spec);
    let shown = display_path(&path);
    let text = match read_spec(&path) {
        Ok(t) => t,
        Err(d) => {
            print_diagnostics(args.format, &Sources::new(), &Diagnostics(vec![*d]));
            return EXIT_ERROR;
        }
    };
    let analysis = crate::check_proven(&shown, &text, args.strict);
    print_diagnostics(args.format, &analysis.sources, &analysis.diagnostics);
    let failed = analysis.diagnostics.has_errors();
    if args.format == Format::Human {
        let verdict = if failed { "invalid" } else { "ok" };
        say(&format!(
            "{shown}: {verdict} ({})\n",
            counts(&analysis.diagnostics)
        ));
    }
    analysis.leak();
    if failed {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}
