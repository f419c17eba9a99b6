//! Points a finding at the spec: the proof reads generated files, whose objects carry the
//! name of the workload they were generated for (`app.kubernetes.io/name`), so the spec line
//! that caused a finding is found by looking that name up among the spec's parsed tables.

use crate::source::Span;
use crate::spec::Spec;

/// Spans of the spec's names: services, data stores, environments and the platform.
pub struct Locate {
    /// `services.NAME` and `datastores.NAME` keys, by name.
    workloads: Vec<(String, Span)>,
    /// `environments.NAME` keys, by name.
    environments: Vec<(String, Span)>,
    /// `platform.name`, for findings of a spec without environments.
    platform: Span,
}

impl Locate {
    /// Indexes the names of `spec`.
    pub fn new(spec: &Spec) -> Self {
        Self {
            workloads: spec
                .services
                .keys()
                .chain(spec.datastores.keys())
                .map(|k| (k.value.clone(), k.span.clone()))
                .collect(),
            environments: spec
                .environments
                .keys()
                .map(|k| (k.value.clone(), k.span.clone()))
                .collect(),
            platform: spec.platform.name.span.clone(),
        }
    }

    /// The span a finding points at: the workload's definition, or the environment's, or the
    /// platform's name.
    pub(crate) fn span(&self, workload: Option<&str>, env: &str) -> (Span, &'static str) {
        let find = |list: &[(String, Span)], name: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone())
        };
        if let Some(s) = workload.and_then(|w| find(&self.workloads, w)) {
            return (s, "generated from this definition");
        }
        match find(&self.environments, env) {
            Some(s) => (s, "in this environment"),
            None => (self.platform.clone(), "in this platform"),
        }
    }
}
