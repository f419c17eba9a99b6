//! `plinth build`: compile and write the generated files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::render::Format;
use super::{counts, display_path, print_diagnostics, read_spec, spec_path, EXIT_ERROR, EXIT_OK};
use crate::diag::Diagnostics;
use crate::emit::{OutputFile, Target};
use crate::source::Sources;

/// Compile a spec and write the generated files. Nothing is written when the spec has errors.
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
}

pub fn run(args: Args) -> u8 {
    let path = spec_path(args.spec);
    let shown = display_path(&path);
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
    if let Err(e) = write_all(&args.out, &c.files) {
        eprintln!("error: {e}");
        return EXIT_ERROR;
    }
    let mut per_target: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &c.files {
        *per_target
            .entry(f.path.split('/').next().unwrap_or_default())
            .or_default() += 1;
    }
    for (target, n) in per_target {
        eprintln!(
            "{target}: wrote {n} file{} to {}/{target}",
            if n == 1 { "" } else { "s" },
            display_path(&args.out)
        );
    }
    for n in &c.notes {
        eprintln!("note ({}): {}", n.target.name(), n.message);
    }
    EXIT_OK
}

/// Writes every file through a temporary file and a rename, so a reader never sees a half
/// written file.
fn write_all(out: &Path, files: &[OutputFile]) -> Result<(), String> {
    for f in files {
        let target = out.join(&f.path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        let tmp = target.with_extension("plinth-tmp");
        std::fs::write(&tmp, &f.contents)
            .map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &target)
            .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
    }
    Ok(())
}
