//! plinth compiles one typed TOML platform spec into deployment artifacts.
//!
//! The pipeline, each phase in its own module with dependencies pointing one way:
//!
//! 1. [`spec`]: load the TOML with spans (syntax, structure against the JSON Schema, types);
//! 2. [`check`]: semantic rules, collecting every diagnostic;
//! 3. [`ir`]: lower each environment to a resolved model;
//! 4. [`emit`]: one pure function per target, IR to files;
//! 5. [`proof`]: prove, over the generated files alone, that every reference they make
//!    resolves to something the same output creates or installs;
//! 6. [`diff`]: compare two sets of generated files, by file and by resource;
//!
//! with `cli` on top as the only code that touches the filesystem or the terminal. The whole
//! pipeline is [`compile`]: text in, files and diagnostics out.

pub mod check;
pub mod diag;
pub mod diff;
pub mod emit;
pub mod ir;
pub mod proof;
pub mod source;
pub mod spec;
pub mod stdlib;
pub mod synth;
pub mod units;

#[doc(hidden)]
pub mod cli;

use std::collections::BTreeMap;

use diag::{Code, Diagnostic, Diagnostics};
use emit::{Note, OutputFile, Target};
use source::Sources;

/// What to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Targets to emit; all when empty.
    pub targets: Vec<Target>,
    /// Environments to emit; all when empty.
    pub envs: Vec<String>,
    /// Lower the proof's findings to warnings (`--lenient`), so that an output that would
    /// not come up as it is is still written, for its user to complete by hand. By default
    /// they are errors and nothing is written.
    pub lenient: bool,
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
    /// The loaded spec and the merged views lowering did not consume. Nothing reads them; they
    /// are kept so that a caller about to exit can skip freeing them (see [`Analysis::leak`]).
    retained: Option<Box<(spec::Spec, Vec<spec::Resolved>)>>,
}

impl Analysis {
    fn unloaded(sources: Sources, diagnostics: Diagnostics) -> Self {
        Self {
            sources,
            diagnostics,
            platform: None,
            retained: None,
        }
    }

    /// Forgets the analysis without freeing it. For a process that exits next: freeing every
    /// node of a checked spec and its views costs about a twentieth of `plinth check`, and the
    /// operating system reclaims the memory at exit anyway.
    pub fn leak(self) {
        std::mem::forget(self);
    }
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

/// How far [`analyze_with`] goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Load and check only.
    Check,
    /// Also lower.
    Lower,
    /// Also lower, recording which layer set each field.
    Explain,
}

/// Loads, checks and lowers the spec `text` shown as `path`. The environments' origins are
/// left empty; [`analyze_explained`] records them.
pub fn analyze(path: &str, text: &str) -> Analysis {
    analyze_with(path, text, Depth::Lower)
}

/// Like [`analyze`], and records in each environment's [`ir::Environment::origins`] which
/// layer set each field: what `plinth explain` shows.
pub fn analyze_explained(path: &str, text: &str) -> Analysis {
    analyze_with(path, text, Depth::Explain)
}

/// Loads and checks the spec `text` shown as `path`, without lowering it: what `plinth check`
/// needs (`platform` is always `None`).
pub fn check_only(path: &str, text: &str) -> Analysis {
    analyze_with(path, text, Depth::Check)
}

fn analyze_with(path: &str, text: &str, depth: Depth) -> Analysis {
    let mut sources = Sources::new();
    let id = sources.add(path, text);
    let (spec, mut diagnostics, recovery) = spec::load_recovering(&sources, id);
    let Some(spec) = spec else {
        return Analysis::unloaded(sources, diagnostics);
    };
    // Checked before any environment is resolved: a small spec can multiply into more views
    // than memory holds.
    if let Some(d) = spec::too_many_views(&spec).or_else(|| spec::too_much_text(&spec)) {
        diagnostics.push(d);
        return Analysis::unloaded(sources, diagnostics);
    }
    let presets = load_presets(&spec, &mut sources, &mut diagnostics);
    let views = spec::resolve_all(&spec, &presets, depth == Depth::Explain);
    let semantic = check::run(&spec, &views, &sources).0;
    let semantic: Vec<Diagnostic> = semantic
        .into_iter()
        .filter(|d| !is_consequence(d, &diagnostics, &recovery))
        .collect();
    diagnostics.0.extend(semantic);
    diagnostics.sort();
    let (platform, views) = if depth != Depth::Check && !diagnostics.has_errors() {
        (Some(ir::lower(&spec, views, path)), Vec::new())
    } else {
        (None, views)
    };
    Analysis {
        sources,
        diagnostics,
        platform,
        retained: Some(Box::new((spec, views))),
    }
}

/// Whether the semantic finding `d` is a consequence of a structural error already reported,
/// rather than a problem of its own: causes print, consequences do not.
///
/// An unknown key is usually a misspelt known one (`imag`), and recovery drops wrongly typed
/// values, so "missing" findings (no image, no routes, no readiness probe, no ACME e-mail
/// when `owner` was misspelt or dropped) would be knock-on
/// errors of the typo or of the dropped value; they are left out until it is fixed. So are
/// references to a table recovery dropped whole (a port whose number was a string), a
/// `{domain}` placeholder left undefined by a misspelt or wrongly typed `domain` (and a
/// traffic policy left without a mesh by a misspelt `mesh`, Cloudflare's keys left on
/// Route 53 by a misspelt DNS `provider`), findings
/// about a workload that a dropped key of it decides (its ports, its replicas) and a
/// receiver "needing" the field that was dropped.
fn is_consequence(d: &Diagnostic, loaded: &Diagnostics, recovery: &spec::Recovery) -> bool {
    let typos = loaded.0.iter().any(|d| d.code == Code::UnknownKey);
    let knock_on = [
        Code::MissingKey,
        Code::MissingImage,
        Code::NoRoutes,
        Code::NoReadinessProbe,
        Code::UnroutedSeverity,
        Code::AutoscaleNoMetric,
        Code::ScheduleMismatch,
        Code::IngressWithoutPort,
        Code::NoAcmeEmail,
        // A `zone` pruned for its type or misspelt is the missing zone.
        Code::DnsWithoutZone,
    ];
    if (typos || recovery.pruned) && knock_on.contains(&d.code) {
        return true;
    }
    let names_dropped = matches!(d.code, Code::UnknownReference | Code::UndeclaredPort)
        && recovery
            .names
            .iter()
            .any(|n| d.message.contains(&format!("`{n}`")));
    let domain_dropped = d.code == Code::UnknownPlaceholder
        && d.message.contains("{domain}")
        && recovery.meant.contains("domain");
    // A misspelt or wrongly typed `mesh` leaves the services' traffic policies without one.
    let mesh_dropped = d.code == Code::TrafficWithoutMesh && recovery.meant.contains("mesh");
    // A misspelt or wrongly typed DNS `provider` leaves Cloudflare's keys on Route 53 (and,
    // without a cloud, a Route 53 zone nothing would change), and a misspelt or wrongly
    // typed `api_token` leaves a Cloudflare zone without one.
    let dns_key_dropped = (matches!(d.code, Code::CloudflareOnly | Code::DnsWithoutCloud)
        && recovery.meant.contains("provider"))
        || (d.code == Code::CloudflareWithoutToken && recovery.meant.contains("api_token"));
    // A workload whose key was dropped: the findings that key decides. A receiver whose
    // field was dropped is not reported as needing it.
    let decided_by = |key: &str| {
        recovery
            .workload_keys
            .iter()
            .any(|(w, k)| k == key && d.message.contains(&format!("`{w}`")))
    };
    let workload_key_dropped = match d.code {
        Code::UndeclaredPort | Code::IngressWithoutPort => decided_by("ports"),
        Code::UnknownBindingStore => decided_by("depends_on"),
        Code::UnknownBindingKey if d.message.contains("API key") => decided_by("secrets"),
        Code::InvalidValue if d.message.contains("disruption budget") => {
            decided_by("replicas") || decided_by("autoscaling")
        }
        // A dropped `kind` leaves the workload a web service, which keeps no `storage`.
        Code::InvalidValue if d.message.contains("needs `kind = \"stateful\"`") => {
            decided_by("kind")
        }
        Code::ReceiverConfig => recovery
            .meant
            .iter()
            .any(|k| d.message.contains(&format!("needs `{k}`"))),
        _ => false,
    };
    names_dropped || domain_dropped || mesh_dropped || dns_key_dropped || workload_key_dropped
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
    /// The environments of [`Options::envs`] that the spec does not define, in the order
    /// given. When any is, nothing is emitted (`files` and `notes` are empty). This is the
    /// caller's mistake rather than the spec's, so it is no diagnostic: the command line
    /// reports it as a usage error, naming the environments of `platform` to choose from.
    pub unknown_envs: Vec<String>,
    /// See [`Analysis`]: kept only to be leaked by an exiting caller.
    #[allow(dead_code)]
    retained: Option<Box<(spec::Spec, Vec<spec::Resolved>)>>,
    /// The alert rules the targets shared, held to be freed or leaked with the rest
    /// ([`emit::Shared::take_rules`] says why).
    #[allow(dead_code)]
    rules: Vec<std::sync::Arc<emit::prometheus::RuleSet>>,
    /// The files as the proof parsed them, held to be freed or leaked with the rest
    /// ([`proof::Read`] says why).
    #[allow(dead_code)]
    read_back: proof::Read,
}

impl Compilation {
    /// Forgets the compilation without freeing it; see [`Analysis::leak`].
    pub fn leak(self) {
        std::mem::forget(self);
    }

    /// Frees the files the proof parsed now, for a caller that compiles again before it
    /// exits (`plinth diff`), whose next compilation would otherwise hold them too.
    pub fn free_proof_reads(&mut self) {
        self.read_back = proof::Read::default();
    }
}

/// Compiles the spec `text` shown as `path` into files. Pure: reads and writes nothing.
///
/// An `--env` selection naming an environment the spec does not define emits nothing and is
/// returned in [`Compilation::unknown_envs`], not as a diagnostic: the spec is valid.
pub fn compile(path: &str, text: &str, options: &Options) -> Compilation {
    let Analysis {
        sources,
        mut diagnostics,
        platform,
        retained,
    } = analyze(path, text);
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut kept_rules = Vec::new();
    let mut read_back = proof::Read::default();
    let mut unknown_envs = Vec::new();
    if let Some(p) = &platform {
        unknown_envs = options
            .envs
            .iter()
            .filter(|e| !p.environments.iter().any(|known| &known.name == *e))
            .cloned()
            .collect();
        if !diagnostics.has_errors() && unknown_envs.is_empty() {
            let mut targets = if options.targets.is_empty() {
                Target::ALL.to_vec()
            } else {
                options.targets.clone()
            };
            targets.sort();
            targets.dedup();
            let (emissions, rules) = emit_targets(p, &targets, &options.envs);
            kept_rules = rules;
            for (t, emitted) in emissions {
                match emitted {
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
            if let (false, Some(kept)) = (diagnostics.has_errors(), &retained) {
                let proof = proof::run(&files, &targets, &kept.0);
                read_back = proof.read;
                notes.extend(proof.notes);
                for mut d in proof.diagnostics {
                    // Only findings are lowered: the proof's internal errors (a generated
                    // file it cannot read) are bugs, never waived.
                    d.relaxed = options.lenient && d.code.is_proof();
                    diagnostics.push(d);
                }
                diagnostics.sort();
            }
        }
    }
    if diagnostics.has_errors() {
        files.clear();
    }
    files.sort();
    notes.sort_by_key(|n| n.target);
    Compilation {
        sources,
        diagnostics,
        files,
        notes,
        platform,
        unknown_envs,
        retained,
        rules: kept_rules,
        read_back,
    }
}

/// The targets whose files the proof reads for `plinth check`: everything but the Helm chart
/// (which the k8s manifests equal) and Compose (which the proof does not read).
pub const PROOF_TARGETS: &[Target] = &[
    Target::K8s,
    Target::Terraform,
    Target::Prometheus,
    Target::Alertmanager,
];

/// Checks the spec `text` shown as `path` and, when it is valid, compiles it in memory over
/// [`PROOF_TARGETS`] and proves the files (what `plinth check` runs). The files are not
/// returned: a check writes nothing.
pub fn check_proven(path: &str, text: &str, lenient: bool) -> Compilation {
    let options = Options {
        targets: PROOF_TARGETS.to_vec(),
        envs: Vec::new(),
        lenient,
    };
    let mut c = compile(path, text, &options);
    c.files.clear();
    c
}

/// How many threads a build uses for work that can be split: one per available core (which
/// honours CPU affinity and cgroup quotas), at most two. Each thread's half-built files and
/// allocator arena add to peak memory, and at two the costliest target already takes about as
/// long as all the others together.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// `work` of every index of `queue`, on [`threads`] threads, returned in the order of the
/// indexes (`0..queue.len()`, whatever order `queue` takes them in), so that the schedule
/// shows in no output. Threads take the indexes in the order of `queue`: costliest first,
/// so that the last to start is a short one.
pub(crate) fn in_parallel<R: Send>(queue: &[usize], work: impl Fn(usize) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    debug_assert!(
        {
            let mut sorted = queue.to_vec();
            sorted.sort_unstable();
            sorted.into_iter().eq(0..queue.len())
        },
        "the queue must order the indexes 0..n"
    );
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        while let Some(&i) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((i, work(i)));
        }
        done
    };
    let threads = threads().min(queue.len());
    let mut results = if threads <= 1 {
        run()
    } else {
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
            let mut all = run();
            for h in helpers {
                match h.join() {
                    Ok(done) => all.extend(done),
                    // A panic is a bug; it is carried to this thread as if it had happened here.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    };
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// What [`emit_targets`] returns: each target's result, in the order given, and the alert
/// rules the targets shared, for the caller to free or leak.
type Emissions = (
    Vec<(Target, Result<emit::Emitted, emit::EmitError>)>,
    Vec<std::sync::Arc<emit::prometheus::RuleSet>>,
);

/// Runs `targets` over `envs` and returns what each emitted, in the order of `targets`.
///
/// The targets are independent but for the alert rules they share ([`emit::Shared`]), so
/// they run side by side on [`threads`] threads. Threads take the costliest targets first, so
/// that the last to start is a short one. Results are put back in the order of `targets`, so
/// the schedule shows in no output.
fn emit_targets(platform: &ir::Platform, targets: &[Target], envs: &[String]) -> Emissions {
    let mut queue: Vec<usize> = (0..targets.len()).collect();
    queue.sort_by_key(|&i| targets[i].cost_rank());
    let shared = emit::Shared::new(platform);
    let results = in_parallel(&queue, |i| emit::emit_with(targets[i], &shared, envs));
    let results = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| (targets[i], r))
        .collect();
    (results, shared.take_rules())
}
