//! `plinth build`: compile and write the generated files, safely (see `write`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::render::Format;
use super::write;
use super::{
    counts, diagnostics_json, display_path, errors_only, print_diagnostics, read_spec, say,
    spec_path, unknown_envs, EXIT_ERROR, EXIT_OK,
};
use crate::diag::Diagnostics;
use crate::emit::Target;
use crate::source::Sources;

/// Compile a spec and write the generated files, all or none: nothing is written when the
/// spec has errors. Generated files no longer produced are removed; files plinth did not
/// generate are never overwritten or removed without --force.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  plinth build\n  plinth build examples/devmentor.toml --out out\n  plinth build --env production --target k8s\n  plinth build --quiet\n  plinth build --lenient    write the output even if the proof finds it would not come up\n  plinth build --format json    one JSON object on stdout: files per target, notes, diagnostics"
)]
pub struct Args {
    /// The spec file [default: platform.toml]
    spec: Option<PathBuf>,
    /// Only these environments (repeatable); all by default.
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,
    /// Only these targets (repeatable); all by default.
    #[arg(long = "target", value_name = "NAME", value_enum)]
    targets: Vec<Target>,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Overwrite or remove files in the output folder that plinth did not generate.
    #[arg(long)]
    force: bool,
    /// Print errors only: no warnings, notes or summary.
    #[arg(long, short)]
    quiet: bool,
    /// Report the proof's findings (P codes) as warnings and write the output anyway: for an
    /// output you complete by hand before it is applied. By default they are errors, and
    /// nothing is written while the output would not come up.
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

/// What a build did, for the summary: printed as text on stderr, or as one JSON object on
/// stdout with `--format json`.
#[derive(Default)]
struct Summary {
    /// The diagnostics, as `--format json` shows them.
    diagnostics: Value,
    /// Why the build failed, when it failed for a reason other than the diagnostics.
    error: Option<String>,
    /// Per target folder: files generated, of which written.
    targets: BTreeMap<String, [usize; 2]>,
    /// Generated files removed, no longer produced.
    removed: Vec<String>,
    /// Stale generated files kept, edited by hand.
    kept: Vec<String>,
    /// The targets' notes: target name and message.
    notes: Vec<(&'static str, String)>,
}

pub fn run(args: Args) -> u8 {
    let mut summary = Summary::default();
    let ok = build(&args, &mut summary);
    if let Some(e) = &summary.error {
        eprintln!("error: {e}");
    }
    if args.format == Format::Json {
        println!("{}", summary.json(ok, &args.out));
    } else if ok && !args.quiet {
        say(&summary.text(&args.out));
    }
    if ok {
        EXIT_OK
    } else {
        EXIT_ERROR
    }
}

/// Compiles and writes, filling in `summary`; whether it succeeded. Diagnostics are printed
/// here, except with `--format json`, where they go in the summary.
fn build(args: &Args, summary: &mut Summary) -> bool {
    let path = spec_path(args.spec.clone());
    let shown = display_path(&path);
    let mut report = |sources: &Sources, diags: &Diagnostics| {
        let diags = if args.quiet {
            &errors_only(diags)
        } else {
            diags
        };
        match args.format {
            Format::Json => summary.diagnostics = diagnostics_json(sources, diags),
            format => print_diagnostics(format, sources, diags),
        }
    };
    if let Err(e) = write::refuse_out(&args.out, &path) {
        summary.error = Some(format!("{e}; nothing written"));
        return false;
    }
    let text = match read_spec(&path) {
        Ok(t) => t,
        Err(d) => {
            report(&Sources::new(), &Diagnostics(vec![*d]));
            return false;
        }
    };
    let options = crate::Options {
        targets: args.targets.clone(),
        envs: args.envs.clone(),
        lenient: args.lenient,
    };
    let c = crate::compile(&shown, &text, &options);
    report(&c.sources, &c.diagnostics);
    if c.diagnostics.has_errors() {
        if args.format != Format::Json {
            eprintln!(
                "{shown}: invalid ({}); nothing written",
                counts(&c.diagnostics)
            );
            if let Some(hint) = super::proof_hint(&c.diagnostics) {
                eprintln!("{hint}");
            }
        }
        return false;
    }
    let unknown = unknown_envs(&c);
    if !unknown.is_empty() {
        summary.error = Some(format!("{}; nothing written", unknown.join("\nerror: ")));
        return false;
    }
    let out = &args.out;
    // Said plainly here; otherwise the first read inside it fails with "not a directory".
    if out.exists() && !out.is_dir() {
        summary.error = Some(format!(
            "the output folder `{}` is a file; nothing written",
            display_path(out)
        ));
        return false;
    }
    let scope = write::Scope::new(&options.targets, &options.envs);
    let plan = match write::plan(out, &c.files, &scope, args.force) {
        Ok(p) => p,
        Err(e) => {
            summary.error = Some(format!("{e}; nothing written"));
            return false;
        }
    };
    if !plan.foreign.is_empty() {
        let mut e = format!(
            "refusing to overwrite files plinth did not generate (no banner, not in {}):",
            write::MANIFEST
        );
        for f in &plan.foreign {
            e.push_str(&format!("\n  {}", display_path(&out.join(f))));
        }
        e.push_str("\n  help: move them away, or pass --force to overwrite them; nothing written");
        summary.error = Some(e);
        return false;
    }
    if let Err(e) = write::apply(out, &plan) {
        summary.error = Some(e);
        return false;
    }
    let folder = |path: &str| path.split('/').next().unwrap_or_default().to_owned();
    for f in &c.files {
        summary.targets.entry(folder(&f.path)).or_default()[0] += 1;
    }
    for f in plan.written() {
        if let Some(n) = summary.targets.get_mut(&folder(f)) {
            n[1] += 1;
        }
    }
    summary.removed = plan.removes.clone();
    summary.kept = plan.kept.clone();
    summary.notes = c
        .notes
        .iter()
        .map(|n| (n.target.name(), n.message.clone()))
        .collect();
    c.leak();
    true
}

impl Summary {
    /// The human summary: a line per target, removed and kept files, then the notes.
    fn text(&self, out: &std::path::Path) -> String {
        let out = display_path(out);
        let mut text = String::new();
        for (target, [n, written]) in &self.targets {
            text.push_str(&format!(
                "{target}: {n} file{} in {out}/{target} ({written} written, {} unchanged)\n",
                if *n == 1 { "" } else { "s" },
                n - written
            ));
        }
        // The names come from the committed manifest, which a pull request can write: a line
        // break or an escape in one must not start a line of its own in a CI log (where
        // `::error::` is a command) or rewrite the terminal.
        for f in &self.removed {
            let f = crate::diff::printable(f);
            text.push_str(&format!("removed {out}/{f} (no longer generated)\n"));
        }
        for f in &self.kept {
            let f = crate::diff::printable(f);
            text.push_str(&format!(
                "warning: kept {out}/{f}: no longer generated, but edited by hand since plinth wrote it\n"
            ));
        }
        for (target, message) in &self.notes {
            text.push_str(&format!("note ({target}): {message}\n"));
        }
        text
    }

    /// The summary as one JSON object: `ok`, `out`, `diagnostics`, `error` (when it failed for
    /// another reason), `targets` (per target folder: `files`, `written`, `unchanged`),
    /// `removed`, `kept` and `notes` (`target`, `message`).
    fn json(&self, ok: bool, out: &std::path::Path) -> String {
        let targets: serde_json::Map<String, Value> = self
            .targets
            .iter()
            .map(|(t, [n, written])| {
                let v = json!({ "files": n, "written": written, "unchanged": n - written });
                (t.clone(), v)
            })
            .collect();
        let v = json!({
            "ok": ok,
            "out": display_path(out),
            "diagnostics": if self.diagnostics.is_null() { json!([]) } else { self.diagnostics.clone() },
            "error": self.error,
            "targets": targets,
            "removed": self.removed,
            "kept": self.kept,
            "notes": self.notes.iter().map(|(t, m)| json!({ "target": t, "message": m })).collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}
