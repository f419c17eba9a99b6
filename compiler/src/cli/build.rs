//! `plinth build`: compile and write the generated files, safely (see `write`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::render::Format;
use super::write;
use super::{
    counts, display_path, print_diagnostics, read_spec, say, spec_path, EXIT_ERROR, EXIT_OK,
};
use crate::diag::Diagnostics;
use crate::emit::Target;
use crate::source::Sources;

/// Compile a spec and write the generated files, all or none: nothing is written when the
/// spec has errors. Generated files no longer produced are removed; files plinth did not
/// generate are never overwritten or removed without --force.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  plinth build\n  plinth build examples/devmentor.toml --out out\n  plinth build --env production --target k8s"
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
}

pub fn run(args: Args) -> u8 {
    let path = spec_path(args.spec);
    let shown = display_path(&path);
    if let Err(e) = write::refuse_out(&args.out, &path) {
        eprintln!("error: {e}; nothing written");
        return EXIT_ERROR;
    }
    let text = match read_spec(&path) {
        Ok(t) => t,
        Err(d) => {
            print_diagnostics(args.format, &Sources::new(), &Diagnostics(vec![*d]));
            return EXIT_ERROR;
        }
    };
    let options = crate::Options {
        targets: args.targets,
        envs: args.envs,
    };
    let c = crate::compile(&shown, &text, &options);
    print_diagnostics(args.format, &c.sources, &c.diagnostics);
    if c.diagnostics.has_errors() {
        eprintln!(
            "{shown}: invalid ({}); nothing written",
            counts(&c.diagnostics)
        );
        return EXIT_ERROR;
    }
    let out = &args.out;
    // Said plainly here; otherwise the first read inside it fails with "not a directory".
    if out.exists() && !out.is_dir() {
        eprintln!(
            "error: the output folder `{}` is a file; nothing written",
            display_path(out)
        );
        return EXIT_ERROR;
    }
    let scope = write::Scope::new(&options.targets, &options.envs);
    let plan = match write::plan(out, &c.files, &scope, args.force) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}; nothing written");
            return EXIT_ERROR;
        }
    };
    if !plan.foreign.is_empty() {
        eprintln!(
            "error: refusing to overwrite files plinth did not generate (no banner, not in {}):",
            write::MANIFEST
        );
        for f in &plan.foreign {
            eprintln!("  {}", display_path(&out.join(f)));
        }
        eprintln!("  help: move them away, or pass --force to overwrite them; nothing written");
        return EXIT_ERROR;
    }
    if let Err(e) = write::apply(out, &plan) {
        eprintln!("error: {e}");
        return EXIT_ERROR;
    }
    let mut per_target: BTreeMap<&str, [usize; 2]> = BTreeMap::new();
    for f in &c.files {
        per_target
            .entry(f.path.split('/').next().unwrap_or_default())
            .or_default()[0] += 1;
    }
    for f in plan.written() {
        if let Some(n) = per_target.get_mut(f.split('/').next().unwrap_or_default()) {
            n[1] += 1;
        }
    }
    // The summary goes out in one write: stderr is unbuffered.
    let mut summary = String::new();
    for (target, [n, written]) in per_target {
        summary.push_str(&format!(
            "{target}: {n} file{} in {}/{target} ({written} written, {} unchanged)\n",
            if n == 1 { "" } else { "s" },
            display_path(out),
            n - written
        ));
    }
    for f in &plan.removes {
        summary.push_str(&format!(
            "removed {} (no longer generated)\n",
            display_path(&out.join(f))
        ));
    }
    for f in &plan.kept {
        summary.push_str(&format!(
            "warning: kept {}: no longer generated, but edited by hand since plinth wrote it\n",
            display_path(&out.join(f))
        ));
    }
    for n in &c.notes {
        summary.push_str(&format!("note ({}): {}\n", n.target.name(), n.message));
    }
    say(&summary);
    c.leak();
    EXIT_OK
}
