//! The emit phase: one pure function per target, IR in, files out.
//!
//! Backends are a closed enum; each serializes typed structs (k8s-openapi objects, YAML and
//! HCL documents), never string templates. Nothing here touches the filesystem: files are data
//! that `cli` writes or `diff` compares.

pub(crate) mod addons;
pub mod alertmanager;
pub(crate) mod backups;
pub(crate) mod cluster;
pub(crate) mod cnpg;
pub mod compose;
pub(crate) mod dashboards;
pub mod docs;
pub(crate) mod gateway;
pub mod gotmpl;
pub mod helm;
pub mod k8s;
pub(crate) mod mesh;
pub mod prometheus;
pub(crate) mod redis_ha;
pub(crate) mod restore_drill;
pub(crate) mod rollouts;
pub mod terraform;
mod yaml;

pub use yaml::{to_yaml, to_yaml_after};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::ir;
use prometheus::catalogue::Runtime;

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutputFile {
    /// Path relative to the output folder, `/`-separated.
    pub path: String,
    /// Full contents, banner included.
    pub contents: String,
}

/// A notice for the build summary: something a target cannot express, or chose not to emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The target that reports it.
    pub target: Target,
    /// What happened.
    pub message: String,
}

/// An output target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Target {
    /// Raw Kubernetes manifests, a folder per environment.
    K8s,
    /// A Helm chart of the platform with values per environment, plus upstream chart values.
    Helm,
    /// Terraform for the cloud side, a root module per environment with a cloud section.
    Terraform,
    /// Docker Compose for the local environment.
    Compose,
    /// Prometheus rules, their unit tests, a `PrometheusRule` and a Compose `prometheus.yml`.
    Prometheus,
    /// Alertmanager configuration and its route tests.
    Alertmanager,
    /// `docs/<env>.md`: the platform drawn in Mermaid, with tables of resources, scaling,
    /// hosts, alert thresholds and backups.
    Docs,
}

impl Target {
    /// All targets, in output order.
    pub const ALL: &'static [Target] = &[
        Target::K8s,
        Target::Helm,
        Target::Terraform,
        Target::Compose,
        Target::Prometheus,
        Target::Alertmanager,
        Target::Docs,
    ];

    /// Where the target goes in the queue of a build's threads: the costliest first, from
    /// the per-phase benchmarks (bench/README.md). Order only, not a measure. K8s comes
    /// before Alertmanager since it writes the dashboards (at 1,000 services about 390 ms
    /// against 100): last in the queue, it ran alone while the other thread idled.
    pub fn cost_rank(self) -> u8 {
        match self {
            Target::Prometheus => 0,
            Target::Helm => 1,
            Target::K8s => 2,
            Target::Alertmanager => 3,
            Target::Compose => 4,
            Target::Terraform => 5,
            Target::Docs => 6,
        }
    }

    /// The target's folder and name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::K8s => "k8s",
            Target::Helm => "helm",
            Target::Terraform => "terraform",
            Target::Compose => "compose",
            Target::Prometheus => "prometheus",
            Target::Alertmanager => "alertmanager",
            Target::Docs => "docs",
        }
    }
}

/// The result of one emitter.
#[derive(Debug, Default)]
pub struct Emitted {
    /// Files written.
    pub files: Vec<OutputFile>,
    /// Notes for the summary.
    pub notes: Vec<Note>,
}

/// A failure inside an emitter: a serializer rejected a value. It means a bug in plinth, so
/// it is reported as an internal error rather than a spec diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitError(pub String);

/// Runs one target over the environments in `envs` (all when empty).
pub fn emit(
    target: Target,
    platform: &ir::Platform,
    envs: &[String],
) -> Result<Emitted, EmitError> {
    emit_with(target, &Shared::new(platform), envs)
}

/// Runs one target over the environments in `envs` (all when empty), reusing what earlier
/// targets of the same build put in `shared`.
pub fn emit_with(target: Target, shared: &Shared, envs: &[String]) -> Result<Emitted, EmitError> {
    let platform = shared.platform;
    let selected: Vec<&ir::Environment> = platform
        .environments
        .iter()
        .filter(|e| envs.is_empty() || envs.contains(&e.name))
        .collect();
    let mut emitted = match target {
        Target::K8s => k8s::emit(shared, &selected),
        Target::Helm => helm::emit(shared, &selected),
        Target::Terraform => terraform::emit(platform, &selected),
        Target::Compose => compose::emit(shared, &selected),
        Target::Prometheus => prometheus::emit(shared, &selected),
        Target::Alertmanager => alertmanager::emit(shared, &selected),
        Target::Docs => docs::emit(shared, &selected),
    }?;
    // Contents grown by appending keep up to twice their length in capacity, and every file is
    // held until the last target is done, so the slack would count twice in peak memory.
    for f in &mut emitted.files {
        f.contents.shrink_to_fit();
    }
    Ok(emitted)
}

/// What several targets of one build derive from the same environment, made once.
///
/// The alert rules of an environment are written three times (Prometheus's `rules.yaml`, its
/// `PrometheusRule`, kube-prometheus-stack's values) and routed once more by the Alertmanager
/// target. Building the catalogue and its YAML once per environment, not per use, removes
/// that repetition (bench/README.md has the figures). Targets run on several threads
/// ([`crate::compile`]), so a target that asks for rules another is making waits for them
/// rather than making them a second time.
pub struct Shared<'p> {
    platform: &'p ir::Platform,
    rules: Mutex<BTreeMap<(String, Runtime), RuleSlot>>,
    dashboards: Mutex<BTreeMap<(String, Runtime), DashboardSlot>>,
}

/// The dashboards of one environment and runtime, made by the first target to ask.
type DashboardSlot = Arc<OnceLock<Dashboards>>;

/// The alert rules of one environment and runtime, made by the first target to ask.
type RuleSlot = Arc<OnceLock<Arc<prometheus::RuleSet>>>;

/// The dashboards of an environment, or why they could not be made.
type Dashboards = Result<Arc<Vec<dashboards::Dashboard>>, EmitError>;

impl<'p> Shared<'p> {
    /// Nothing made yet, for the targets of `platform`.
    pub fn new(platform: &'p ir::Platform) -> Self {
        Shared {
            platform,
            rules: Mutex::default(),
            dashboards: Mutex::default(),
        }
    }

    /// The platform being emitted.
    pub fn platform(&self) -> &'p ir::Platform {
        self.platform
    }

    /// Hands over the alert rules made so far, leaving none; a later use makes them again.
    ///
    /// A build keeps them to the end rather than freeing them when the last target reading
    /// them is done: its peak memory is reached while those targets run, and freeing a
    /// catalogue of a million small allocations took 90 ms at 1,000 services, as long as the
    /// Compose and Terraform targets together. The CLI, which exits right after writing,
    /// never frees them ([`crate::Compilation::leak`]).
    pub(crate) fn take_rules(&self) -> Vec<Arc<prometheus::RuleSet>> {
        std::mem::take(&mut *self.slots())
            .into_values()
            .filter_map(|slot| slot.get().cloned())
            .collect()
    }

    /// The alert rules of `env` in a cluster, made on first use.
    pub(crate) fn rules(&self, env: &ir::Environment) -> Arc<prometheus::RuleSet> {
        self.rules_for(env, Runtime::Cluster)
    }

    /// The alert rules of `env` that Docker Compose's Prometheus evaluates, made on first use
    /// (only the environment Compose runs with its monitoring stack has them).
    pub(crate) fn compose_rules(&self, env: &ir::Environment) -> Arc<prometheus::RuleSet> {
        self.rules_for(env, Runtime::Compose)
    }

    /// The alert rules of `env` for `runtime`, made on first use.
    fn rules_for(&self, env: &ir::Environment, runtime: Runtime) -> Arc<prometheus::RuleSet> {
        // The map's lock is held only to find the environment's slot; the rules are made
        // outside it, so targets reading different environments do not wait for each other.
        let slot = Arc::clone(self.slots().entry((env.name.clone(), runtime)).or_default());
        Arc::clone(
            slot.get_or_init(|| Arc::new(prometheus::RuleSet::build(self.platform, env, runtime))),
        )
    }

    /// The dashboards of `env` in a cluster, made on first use: the k8s and Helm targets each
    /// deliver them, from the same alert rules.
    pub(crate) fn dashboards(
        &self,
        env: &ir::Environment,
    ) -> Result<Arc<Vec<dashboards::Dashboard>>, EmitError> {
        self.dashboards_for(env, Runtime::Cluster)
    }

    /// The dashboards the Compose Grafana of `env` provisions, from the Compose rules.
    pub(crate) fn compose_dashboards(
        &self,
        env: &ir::Environment,
    ) -> Result<Arc<Vec<dashboards::Dashboard>>, EmitError> {
        self.dashboards_for(env, Runtime::Compose)
    }

    /// The dashboards of `env` for `runtime`, made on first use.
    fn dashboards_for(
        &self,
        env: &ir::Environment,
        runtime: Runtime,
    ) -> Result<Arc<Vec<dashboards::Dashboard>>, EmitError> {
        let slot = Arc::clone(
            self.dashboards
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((env.name.clone(), runtime))
                .or_default(),
        );
        slot.get_or_init(|| dashboards::of(self, env, runtime).map(Arc::new))
            .clone()
    }

    /// The rule slots. A panic elsewhere cannot leave the map half-updated (every change is
    /// one call), so a poisoned lock is still safe to use.
    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, Runtime), RuleSlot>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `yaml`, a block-style YAML document, indented by `by` spaces to sit under a key.
///
/// Shifting every line by the same amount keeps each node's meaning: block scalars are
/// indented relative to their key, and continuation lines of quoted and plain scalars are
/// folded regardless of indentation. Empty lines stay empty, so block scalars gain no
/// trailing spaces.
pub(crate) fn indent(yaml: &str, by: usize, out: &mut String) {
    out.reserve(yaml.len() + yaml.len() / 16 * by);
    for line in yaml.split_inclusive('\n') {
        if line != "\n" {
            out.extend(std::iter::repeat_n(' ', by));
        }
        out.push_str(line);
    }
}

/// The banner as a `#` comment line.
pub fn hash_banner(platform: &ir::Platform) -> String {
    format!("# {}\n", ir::naming::banner(&platform.spec_path))
}
