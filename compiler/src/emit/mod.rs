//! The emit phase: one pure function per target, IR in, files out.
//!
//! Backends are a closed enum; each serializes typed structs (k8s-openapi objects, YAML and
//! HCL documents), never string templates. Nothing here touches the filesystem: files are data
//! that `cli` writes or `diff` compares.

pub mod alertmanager;
pub mod compose;
pub mod helm;
pub mod k8s;
pub mod prometheus;
pub mod terraform;
mod yaml;

pub use yaml::to_yaml;

use crate::ir;

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
    ];

    /// The target's folder and name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::K8s => "k8s",
            Target::Helm => "helm",
            Target::Terraform => "terraform",
            Target::Compose => "compose",
            Target::Prometheus => "prometheus",
            Target::Alertmanager => "alertmanager",
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
    let selected: Vec<&ir::Environment> = platform
        .environments
        .iter()
        .filter(|e| envs.is_empty() || envs.contains(&e.name))
        .collect();
    let mut emitted = match target {
        Target::K8s => k8s::emit(platform, &selected),
        Target::Helm => helm::emit(platform, &selected),
        Target::Terraform => terraform::emit(platform, &selected),
        Target::Compose => compose::emit(platform, &selected),
        Target::Prometheus => prometheus::emit(platform, &selected),
        Target::Alertmanager => alertmanager::emit(platform, &selected),
    }?;
    // Contents grown by appending keep up to twice their length in capacity, and every file is
    // held until the last target is done, so the slack would count twice in peak memory.
    for f in &mut emitted.files {
        f.contents.shrink_to_fit();
    }
    Ok(emitted)
}

/// The banner as a `#` comment line.
pub fn hash_banner(platform: &ir::Platform) -> String {
    format!("# {}\n", ir::naming::banner(&platform.spec_path))
}
