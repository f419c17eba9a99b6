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
    after_help = "Examples:\n  plinth check\n  plinth check examples/codepal.toml --format github\n  plinth check --lenient    the proof's findings are warnings\n\nExit codes: 0 valid (warnings allowed), 1 invalid."
)]
pub struct Args {
    /// The spec file [default: platform.toml]
    spec: Option<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Report the proof's findings (P codes) as warnings instead of errors: for an output
    /// you complete by hand before it is applied.
    #[arg(long)]
    lenient: bool,
    /// The proof's findings are errors: the default, so this flag changes nothing. It is
    /// kept so that hooks and CI jobs written when the default was lenient keep working.
    #[arg(
        id = "strict",
        long = "strict",
        hide = true,
        conflicts_with = "lenient"
    )]
    _strict: bool,
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
    let analysis = crate::check_proven(&shown, &text, args.lenient);
    print_diagnostics(args.format, &analysis.sources, &analysis.diagnostics);
    let failed = analysis.diagnostics.has_errors();
    if args.format == Format::Human {
        let verdict = if failed { "invalid" } else { "ok" };
        say(&format!(
            "{shown}: {verdict} ({})\n",
            counts(&analysis.diagnostics)
        ));
        if let Some(hint) = super::proof_hint(&analysis.diagnostics) {
            say(&format!("{hint}\n"));
        }
    }
    analysis.leak();
    if failed {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}
