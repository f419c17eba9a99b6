//! plinth compiles one typed TOML platform spec into deployment artifacts.
//!
//! The pipeline, each phase in its own module with dependencies pointing one way:
//!
//! 1. [`spec`]: load the TOML with spans (syntax, structure against the JSON Schema, types);
//! 2. [`check`]: semantic rules, collecting every diagnostic;
//! 3. [`ir`]: lower each environment to a resolved model;
//! 4. [`emit`]: one pure function per target, IR to files;
//! 5. [`diff`]: compare two sets of generated files, by file and by resource;
//!
//! with `cli` on top as the only code that touches the filesystem or the terminal. The whole
//! pipeline is [`compile`]: text in, files and diagnostics out.

pub mod check;
pub mod diag;
pub mod diff;
pub mod emit;
pub mod ir;
pub mod source;
pub mod spec;
pub mod stdlib;
pub mod synth;
pub mod units;

#[doc(hidden)]
pub mod cli;

use std::collections::BTreeMap;

use diag::{did_you_mean, Code, Diagnostic, Diagnostics};
use emit::{Note, OutputFile, Target};
use source::Sources;

/// What to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Targets to emit; all when empty.
    pub targets: Vec<Target>,
    /// Environments to emit; all when empty.
    pub envs: Vec<String>,
}

/// A checked and lowered spec.
#[derive(Debug)]
pub struct Analysis {
    /// The spec and every preset it loaded.
    pub sources: Sources,
    /// Everything found, errors and warnings.
    pub diagnostics: Diagnostics,
    /// The lowered platform; `None` when there are errors.
    pub platform: Option<ir::Platform>,
}

/// Loads the stdlib presets that the spec's data stores name (unknown names are the checker's
/// to report), adding them to `sources` and their problems to `diagnostics`.
pub fn load_presets(
    spec: &spec::Spec,
    sources: &mut Sources,
    diagnostics: &mut Diagnostics,
) -> BTreeMap<String, spec::DataStore> {
    let mut presets = BTreeMap::new();
    let mut names: Vec<&str> = spec
        .datastores
        .values()
        .filter_map(|d| d.preset.as_ref())
        .map(|p| p.value.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let Some(text) = stdlib::preset(name) else {
            continue;
        };
        let pid = sources.add(stdlib::path(name), text);
        let (preset, d) = spec::load_preset(sources, pid);
        diagnostics.0.extend(d.0);
        if let Some(p) = preset {
            presets.insert(name.to_owned(), p.datastore);
        }
    }
    presets
}

/// Loads, checks and lowers the spec `text` shown as `path`.
pub fn analyze(path: &str, text: &str) -> Analysis {
    analyze_with(path, text, true)
}

/// Loads and checks the spec `text` shown as `path`, without lowering it: what `plinth check`
/// needs (`platform` is always `None`).
pub fn check_only(path: &str, text: &str) -> Analysis {
    analyze_with(path, text, false)
}

fn analyze_with(path: &str, text: &str, lower: bool) -> Analysis {
    let mut sources = Sources::new();
    let id = sources.add(path, text);
    let (spec, mut diagnostics) = spec::load(&sources, id);
    let Some(spec) = spec else {
        return Analysis {
            sources,
            diagnostics,
            platform: None,
        };
    };
    // Checked before any environment is resolved: a small spec can multiply into more views
    // than memory holds.
    if let Some(d) = spec::too_many_views(&spec) {
        diagnostics.push(d);
        return Analysis {
            sources,
            diagnostics,
            platform: None,
        };
    }
    let presets = load_presets(&spec, &mut sources, &mut diagnostics);
    let views = spec::resolve_all(&spec, &presets);
    let semantic = check::run(&spec, &views).0;
    // An unknown key is usually a misspelt known one (`imag`), so "missing" findings would be
    // knock-on errors of the typo; they are left out until it is fixed.
    let typos = diagnostics.0.iter().any(|d| d.code == Code::UnknownKey);
    let knock_on = [
        Code::MissingKey,
        Code::MissingImage,
        Code::NoRoutes,
        Code::NoReadinessProbe,
        Code::UnroutedSeverity,
        Code::AutoscaleNoMetric,
        Code::ScheduleMismatch,
    ];
    diagnostics.0.extend(
        semantic
            .into_iter()
            .filter(|d| !(typos && knock_on.contains(&d.code))),
    );
    diagnostics.sort();
    let platform = (lower && !diagnostics.has_errors()).then(|| ir::lower(&spec, views, path));
    Analysis {
        sources,
        diagnostics,
        platform,
    }
}

/// The result of a compilation.
#[derive(Debug)]
pub struct Compilation {
    /// Sources, for rendering diagnostics.
    pub sources: Sources,
    /// Diagnostics; when any is an error, `files` is empty.
    pub diagnostics: Diagnostics,
    /// Generated files, sorted by path.
    pub files: Vec<OutputFile>,
    /// Notes for the build summary.
    pub notes: Vec<Note>,
    /// The lowered platform, when compilation got that far.
    pub platform: Option<ir::Platform>,
}

/// Compiles the spec `text` shown as `path` into files. Pure: reads and writes nothing.
pub fn compile(path: &str, text: &str, options: &Options) -> Compilation {
    let Analysis {
        sources,
        mut diagnostics,
        platform,
    } = analyze(path, text);
    let mut files = Vec::new();
    let mut notes = Vec::new();
    if let Some(p) = &platform {
        let known: Vec<&str> = p.environments.iter().map(|e| e.name.as_str()).collect();
        for e in &options.envs {
            if !known.contains(&e.as_str()) {
                let mut d = Diagnostic::global(
                    Code::UnknownReference,
                    format!("unknown environment `{e}`"),
                );
                d = match did_you_mean(e, known.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("environments: {}", known.join(", "))),
                };
                diagnostics.push(d);
            }
        }
        if !diagnostics.has_errors() {
            let targets = if options.targets.is_empty() {
                Target::ALL.to_vec()
            } else {
                options.targets.clone()
            };
            for t in targets {
                match emit::emit(t, p, &options.envs) {
                    Ok(e) => {
                        files.extend(e.files);
                        notes.extend(e.notes);
                    }
                    Err(err) => diagnostics.push(
                        Diagnostic::global(
                            Code::Internal,
                            format!("internal error in the {} target: {}", t.name(), err.0),
                        )
                        .help("this is a bug in plinth; please report it with the spec"),
                    ),
                }
            }
        }
    }
    if diagnostics.has_errors() {
        files.clear();
    }
    files.sort();
    Compilation {
        sources,
        diagnostics,
        files,
        notes,
        platform,
    }
}
