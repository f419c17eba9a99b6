//! Layering: a preset, the spec's base definition and an environment's override merge into
//! one definition per environment, and every field remembers which layer set it.
//!
//! Merging is field-wise: a scalar or list set by a later layer replaces the earlier one,
//! tables merge key by key. This runs on spec types, so spans survive into the checker; the
//! [`Origins`], recorded only when asked for, feed `plinth explain`.

use std::collections::BTreeMap;
use std::fmt;

use super::span::Sp;
use super::types::*;

/// The layer a value came from, lowest precedence first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// plinth's built-in default.
    Default,
    /// A stdlib preset.
    Preset(String),
    /// The spec's base definition.
    Spec,
    /// An environment's override.
    Environment(String),
    /// An environment's `replica_scale` or `resource_scale` applied to a lower layer's value.
    Scaled(String),
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Default => f.write_str("default"),
            Layer::Preset(p) => write!(f, "preset `{p}`"),
            Layer::Spec => f.write_str("spec"),
            Layer::Environment(e) => write!(f, "environment `{e}`"),
            Layer::Scaled(e) => write!(f, "environment `{e}` scale factor"),
        }
    }
}

/// The replica and resource fields an environment's override of one workload writes itself.
///
/// An environment's `replica_scale` and `resource_scale` stand for "this environment runs on
/// a fraction of what the spec defines": they scale the values of the lower layers (default,
/// preset, the spec's definition). A value the environment writes for the workload is
/// already what that environment should run, so it is taken as written; scaling it again
/// would turn `[environments.staging.services.api] autoscaling = { min = 3, max = 8 }` into
/// 2..4 under `replica_scale = 0.5`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// `replicas`.
    pub replicas: bool,
    /// `autoscaling.min`.
    pub autoscale_min: bool,
    /// `autoscaling.max`.
    pub autoscale_max: bool,
    /// `resources.requests.cpu`.
    pub cpu_request: bool,
    /// `resources.limits.cpu`.
    pub cpu_limit: bool,
    /// `resources.requests.memory`.
    pub memory_request: bool,
    /// `resources.limits.memory`.
    pub memory_limit: bool,
}

impl Written {
    /// What the override of service `name` in `env` writes; nothing without an override.
    pub fn service(env: Option<&Environment>, name: &str) -> Self {
        env.and_then(|e| e.services.get(name))
            .map_or_else(Self::default, |s| Self {
                replicas: s.replicas.is_some(),
                autoscale_min: s.autoscaling.as_ref().is_some_and(|a| a.min.is_some()),
                autoscale_max: s.autoscaling.as_ref().is_some_and(|a| a.max.is_some()),
                ..Self::resources(s.resources.as_ref())
            })
    }

    /// What the override of data store `name` in `env` writes; nothing without an override.
    pub fn store(env: Option<&Environment>, name: &str) -> Self {
        env.and_then(|e| e.datastores.get(name))
            .map_or_else(Self::default, |d| Self {
                replicas: d.replicas.is_some(),
                ..Self::resources(d.resources.as_ref())
            })
    }

    /// The resource amounts of `r` that are set.
    fn resources(r: Option<&Resources>) -> Self {
        let set = |f: fn(&Resources) -> Option<&ResourceAmounts>, cpu: bool| {
            r.and_then(f).is_some_and(|a| {
                if cpu {
                    a.cpu.is_some()
                } else {
                    a.memory.is_some()
                }
            })
        };
        Self {
            cpu_request: set(|r| r.requests.as_ref(), true),
            cpu_limit: set(|r| r.limits.as_ref(), true),
            memory_request: set(|r| r.requests.as_ref(), false),
            memory_limit: set(|r| r.limits.as_ref(), false),
            ..Self::default()
        }
    }
}

/// Which layer set each field, by dotted path (`services.api.resources.limits.cpu`).
///
/// Only `plinth explain` reads them, so they are recorded only when asked for: building a path
/// string and a map entry for every field of every service in every environment was the
/// largest part of merging, and most of the memory of a `check`.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    entries: BTreeMap<String, Layer>,
    recording: bool,
}

impl Origins {
    /// An empty record that records what it is given.
    pub fn recording() -> Self {
        Self {
            entries: BTreeMap::new(),
            recording: true,
        }
    }

    /// An empty record that ignores what it is given.
    pub fn ignoring() -> Self {
        Self::default()
    }

    /// Whether [`Origins::set`] records anything.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Records that `layer` set `path.name`.
    pub fn set(&mut self, path: &str, name: &str, layer: &Layer) {
        if self.recording {
            self.entries.insert(join(path, name), layer.clone());
        }
    }

    /// The path of the field `name` under `path`, for the nested merges: empty when not
    /// recording, since nothing will be keyed by it.
    fn child(&self, path: &str, name: &str) -> String {
        if self.recording {
            join(path, name)
        } else {
            String::new()
        }
    }

    /// The layer that set `path`: its own entry, the nearest enclosing entry (a map set as a
    /// whole), or for a table the layers of the fields inside it.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut p = path;
        loop {
            if let Some(l) = self.entries.get(p) {
                return Some(l.to_string());
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        let prefix = format!("{path}.");
        let mut layers: Vec<&Layer> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, l)| l)
            .collect();
        layers.sort();
        layers.dedup();
        match layers.as_slice() {
            [] => None,
            [one] => Some(one.to_string()),
            many => Some(format!(
                "its fields, by {}",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Field-wise merging of a higher layer onto a lower one.
pub trait Overlay {
    /// Merges `top` onto `self`, recording origins under `path`.
    fn overlay(&mut self, top: &Self, layer: &Layer, path: &str, origins: &mut Origins);
}

/// `path.name`. Paths are only built for fields a layer sets: formatting one for every
/// field of every service was most of the cost of merging large specs.
fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        return name.to_owned();
    }
    let mut p = String::with_capacity(path.len() + 1 + name.len());
    p.push_str(path);
    p.push('.');
    p.push_str(name);
    p
}

/// Replaces a leaf when the top layer sets it.
fn leaf<T: Clone>(
    base: &mut Option<T>,
    top: &Option<T>,
    layer: &Layer,
    (path, name): (&str, &str),
    o: &mut Origins,
) {
    if let Some(v) = top {
        *base = Some(v.clone());
        o.set(path, name, layer);
    }
}

/// Merges a nested table when the top layer has it.
fn nested<T: Overlay + Default>(
    base: &mut Option<T>,
    top: &Option<T>,
    layer: &Layer,
    (path, name): (&str, &str),
    o: &mut Origins,
) {
    if let Some(t) = top {
        let path = o.child(path, name);
        base.get_or_insert_with(T::default)
            .overlay(t, layer, &path, o);
    }
}

/// Merges a map of leaves key by key.
fn map_leaf<V: Clone>(
    base: &mut Option<BTreeMap<Sp<String>, V>>,
    top: &Option<BTreeMap<Sp<String>, V>>,
    layer: &Layer,
    (path, name): (&str, &str),
    o: &mut Origins,
) {
    if let Some(t) = top {
        let path = o.child(path, name);
        let b = base.get_or_insert_with(BTreeMap::new);
        for (k, v) in t {
            b.insert(k.clone(), v.clone());
            o.set(&path, &k.value, layer);
        }
    }
}

/// Merges a map of tables key by key.
fn map_nested<V: Overlay + Default>(
    base: &mut Option<BTreeMap<Sp<String>, V>>,
    top: &Option<BTreeMap<Sp<String>, V>>,
    layer: &Layer,
    (path, name): (&str, &str),
    o: &mut Origins,
) {
    if let Some(t) = top {
        let path = o.child(path, name);
        let b = base.get_or_insert_with(BTreeMap::new);
        for (k, v) in t {
            let key_path = o.child(&path, &k.value);
            b.entry(k.clone())
                .or_default()
                .overlay(v, layer, &key_path, o);
        }
    }
}

macro_rules! overlay {
    ($ty:ty { $($kind:ident $field:ident $(as $name:literal)?),* $(,)? }) => {
        impl Overlay for $ty {
            fn overlay(&mut self, top: &Self, layer: &Layer, path: &str, o: &mut Origins) {
                $(
                    let name = overlay!(@name $field $($name)?);
                    $kind(&mut self.$field, &top.$field, layer, (path, name), o);
                )*
            }
        }
    };
    (@name $field:ident $name:literal) => { $name };
    (@name $field:ident) => { stringify!($field) };
}

overlay!(Service {
    leaf kind, leaf image, leaf command, leaf args, leaf schedule, leaf ports, leaf replicas,
    nested resources, nested autoscaling, leaf vertical_autoscaling, nested probes,
    nested rollout, nested traffic, nested disruption_budget, leaf node_group, nested shutdown,
    map_leaf annotations, leaf image_pull_secrets, leaf init, map_leaf env, map_leaf secrets,
    map_leaf bind, leaf config_files, leaf volumes, nested storage, leaf depends_on, nested ingress, leaf egress,
    nested metrics, map_nested thresholds, leaf team, nested security, nested compose,
});
overlay!(Shutdown { leaf grace, leaf drain });

overlay!(DataStore {
    leaf preset, leaf engine, leaf version, leaf mode, leaf image, leaf command, leaf args,
    leaf ports, leaf replicas, leaf read_replicas, nested resources, leaf vertical_autoscaling,
    nested probes, map_leaf env, map_leaf secrets, nested storage, leaf volumes, nested backup,
    map_leaf parameters, nested pooling, nested metrics, nested managed, map_nested thresholds, nested security, nested compose,
});

overlay!(Resources { nested requests, nested limits });
overlay!(ResourceAmounts { leaf cpu, leaf memory });
overlay!(Autoscaling {
    leaf min, leaf max, leaf cpu, leaf memory, leaf metrics, nested scale_up, nested scale_down,
});
overlay!(ScalingBehavior { leaf stabilization, leaf select, leaf policies });
overlay!(Probes { nested liveness, nested readiness, nested startup });
overlay!(Probe {
    leaf path, leaf port, leaf command, leaf initial_delay, leaf period, leaf timeout,
    leaf failure_threshold,
});
overlay!(Rollout {
    leaf strategy, leaf max_surge, leaf max_unavailable, leaf steps, leaf auto_promote,
    leaf scale_down_delay,
});
overlay!(Traffic { nested circuit_breaker, nested connection_pool, leaf timeout, nested retries });
overlay!(CircuitBreaker { leaf consecutive_errors, leaf ejection, leaf interval, leaf max_ejection_percent });
overlay!(ConnectionPool { leaf max_connections, leaf max_pending_requests, leaf max_requests_per_connection });
overlay!(Retries { leaf attempts, leaf per_try_timeout });
overlay!(DisruptionBudget { leaf enabled, leaf min_available, leaf max_unavailable });
overlay!(Storage { leaf size, leaf path, leaf class });
overlay!(Ingress { leaf host, leaf path, leaf port, leaf tls, leaf redirect_from });
overlay!(Metrics { leaf path, leaf port, leaf interval, leaf requests, leaf status_label, leaf latency, leaf latency_unit, leaf buckets });
overlay!(Threshold { leaf expr, leaf warning, leaf critical, leaf for_ as "for", leaf enabled, leaf summary });
overlay!(Security {
    leaf run_as_user, leaf read_only_root_filesystem, leaf allow_root, leaf service_account_token,
    leaf add_capabilities,
});
overlay!(WorkloadCompose { leaf healthcheck });
overlay!(Backup { leaf schedule, leaf retention, leaf continuous, leaf verify });
overlay!(Pooling { leaf mode, leaf max_client_conn, leaf default_pool_size, leaf instances });
overlay!(ManagedSettings { leaf instance_class, leaf multi_az, leaf deletion_protection });
overlay!(Cloud { leaf enabled, leaf provider, leaf region, nested state, nested cluster, nested network, nested cdn });
overlay!(StateBackend { leaf bucket, leaf key, leaf lock_table });
overlay!(Network { leaf cidr, leaf azs });
overlay!(Cdn { leaf enabled, leaf cache });
overlay!(NodeGroup { leaf instance_types, leaf min, leaf max, leaf desired, leaf spot, leaf dedicated });

impl Overlay for Cluster {
    fn overlay(&mut self, top: &Self, layer: &Layer, path: &str, o: &mut Origins) {
        leaf(&mut self.version, &top.version, layer, (path, "version"), o);
        let groups = o.child(path, "node_groups");
        for (k, v) in &top.node_groups {
            let group = o.child(&groups, &k.value);
            self.node_groups
                .entry(k.clone())
                .or_default()
                .overlay(v, layer, &group, o);
        }
    }
}

/// One environment's view of the spec: every service, data store and the cloud section with
/// all layers merged.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    /// The environment, or `None` for a spec without environments.
    pub env: Option<Sp<String>>,
    /// Services, merged.
    pub services: BTreeMap<Sp<String>, Service>,
    /// Data stores, merged with their presets.
    pub datastores: BTreeMap<Sp<String>, DataStore>,
    /// The cloud section, merged.
    pub cloud: Option<Cloud>,
    /// Alerting, the environment's over the spec's.
    pub alerting: Alerting,
    /// Which layer set each field; empty unless origins were asked for.
    pub origins: Origins,
}

impl Resolved {
    /// The environment's name: `default` for the one view of a spec without environments,
    /// as the lowering names it.
    pub fn env_name(&self) -> &str {
        self.env
            .as_ref()
            .map_or(crate::units::DEFAULT_ENVIRONMENT, |e| e.value.as_str())
    }
}

/// The merged view of every environment, in name order (one view without environment for a
/// spec that has none). The checker and the lowering share them, so merging runs once.
/// `origins` says whether to record which layer set each field (for `plinth explain`).
pub fn resolve_all(
    spec: &Spec,
    presets: &BTreeMap<String, DataStore>,
    origins: bool,
) -> Vec<Resolved> {
    if spec.environments.is_empty() {
        vec![resolve(spec, presets, None, origins)]
    } else {
        spec.environments
            .keys()
            .map(|e| resolve(spec, presets, Some(e), origins))
            .collect()
    }
}

/// Merges presets, base definitions and the environment `env` (if any), recording origins
/// when `origins` is set.
///
/// `presets` maps a preset name to its data store definition; a store whose preset is not
/// there (an unknown name, already reported) merges without one.
pub fn resolve(
    spec: &Spec,
    presets: &BTreeMap<String, DataStore>,
    env: Option<&Sp<String>>,
    origins: bool,
) -> Resolved {
    let mut origins = if origins {
        Origins::recording()
    } else {
        Origins::ignoring()
    };
    let environment = env.and_then(|e| spec.environments.get(e.value.as_str()));
    let env_layer = env.map(|e| Layer::Environment(e.value.clone()));

    let mut services = BTreeMap::new();
    for (name, base) in &spec.services {
        let path = origins.child("services", &name.value);
        let mut merged = Service::default();
        // Variables for every service are layers of their own: the platform's below the
        // service's definition, the environment's above it and below the environment's
        // override of this one service.
        let everywhere = |env: &Option<BTreeMap<Sp<String>, Sp<String>>>| {
            env.as_ref().map(|e| Service {
                env: Some(e.clone()),
                ..Service::default()
            })
        };
        if let Some(all) = everywhere(&spec.platform.env) {
            merged.overlay(&all, &Layer::Spec, &path, &mut origins);
        }
        merged.overlay(base, &Layer::Spec, &path, &mut origins);
        if let (Some(e), Some(layer)) = (environment, &env_layer) {
            if let Some(all) = everywhere(&e.env) {
                merged.overlay(&all, layer, &path, &mut origins);
            }
            if let Some(over) = e.services.get(name.value.as_str()) {
                merged.overlay(over, layer, &path, &mut origins);
            }
        }
        services.insert(name.clone(), merged);
    }

    let mut datastores = BTreeMap::new();
    for (name, base) in &spec.datastores {
        let path = origins.child("datastores", &name.value);
        let mut merged = DataStore::default();
        if let Some(p) = base
            .preset
            .as_ref()
            .and_then(|p| presets.get(p.value.as_str()).map(|d| (p, d)))
        {
            merged.overlay(p.1, &Layer::Preset(p.0.value.clone()), &path, &mut origins);
        }
        merged.overlay(base, &Layer::Spec, &path, &mut origins);
        if let (Some(e), Some(layer)) = (environment, &env_layer) {
            if let Some(over) = e.datastores.get(name.value.as_str()) {
                merged.overlay(over, layer, &path, &mut origins);
            }
        }
        datastores.insert(name.clone(), merged);
    }

    // The environment's own settings: who set them, for `plinth explain`.
    if origins.is_recording() {
        let set = |origins: &mut Origins, key: &str, by_env: bool, by_spec: bool| {
            if let (true, Some(layer)) = (by_env, &env_layer) {
                origins.set("", key, layer);
            } else if by_spec {
                origins.set("", key, &Layer::Spec);
            }
        };
        let e = environment;
        set(
            &mut origins,
            "namespace",
            e.is_some_and(|e| e.namespace.is_some()),
            spec.platform.namespace.is_some(),
        );
        set(
            &mut origins,
            "domain",
            e.is_some_and(|e| e.domain.is_some()),
            spec.platform.domain.is_some(),
        );
        set(
            &mut origins,
            "local",
            e.is_some_and(|e| e.local.is_some()),
            false,
        );
        let compose = e.and_then(|e| e.compose.as_ref());
        set(
            &mut origins,
            "compose.monitoring",
            compose.is_some_and(|c| c.monitoring.is_some()),
            false,
        );
        set(
            &mut origins,
            "compose.log_viewer",
            compose.is_some_and(|c| c.log_viewer.is_some()),
            false,
        );
    }

    let mut cloud = None;
    if let Some(c) = &spec.cloud {
        let mut merged = Cloud::default();
        merged.overlay(c, &Layer::Spec, "cloud", &mut origins);
        if let (Some(over), Some(layer)) = (environment.and_then(|e| e.cloud.as_ref()), &env_layer)
        {
            merged.overlay(over, layer, "cloud", &mut origins);
        }
        // An environment may opt out, and the local one has no cloud unless it asks for one:
        // its platform runs on the developer's machine, not on a production-size cluster.
        let own = environment.and_then(|e| e.cloud.as_ref());
        let off = merged.enabled.as_ref().is_some_and(|e| !e.value);
        if !off && (own.is_some() || !is_local(spec, env)) {
            cloud = Some(merged);
        }
    }

    let alerting = match environment.and_then(|e| e.alerting.as_ref()) {
        Some(top) => merge_alerting(&spec.alerting, top),
        None => spec.alerting.clone(),
    };

    Resolved {
        env: env.cloned(),
        services,
        datastores,
        cloud,
        alerting,
        origins,
    }
}

/// An environment's alerting over the spec's: receivers by name (the environment's replaces
/// one of the same name), routes as a whole when the environment gives any, every other key
/// when the environment sets it.
fn merge_alerting(base: &Alerting, top: &Alerting) -> Alerting {
    let mut merged = base.clone();
    for (name, r) in &top.receivers {
        merged.receivers.insert(name.clone(), r.clone());
    }
    if !top.routes.is_empty() {
        merged.routes = top.routes.clone();
    }
    let keep = |b: &mut Option<Sp<String>>, t: &Option<Sp<String>>| {
        if t.is_some() {
            b.clone_from(t);
        }
    };
    keep(&mut merged.default_receiver, &top.default_receiver);
    keep(&mut merged.group_wait, &top.group_wait);
    keep(&mut merged.group_interval, &top.group_interval);
    keep(&mut merged.repeat_interval, &top.repeat_interval);
    if top.group_by.is_some() {
        merged.group_by.clone_from(&top.group_by);
    }
    merged
}

/// Whether `env` is the environment Docker Compose runs: the one with `local = true`, or,
/// when none sets it, the one named `dev` (as `ir::Platform::compose_environment` picks it).
pub(crate) fn is_local(spec: &Spec, env: Option<&Sp<String>>) -> bool {
    let Some(env) = env else { return false };
    let local = |e: &Environment| e.local.as_ref().is_some_and(|l| l.value);
    match spec.environments.iter().find(|(_, e)| local(e)) {
        Some((name, _)) => name.value == env.value,
        None => env.value == crate::units::COMPOSE_ENVIRONMENT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::source::Sources;

    #[test]
    fn recording_origins_does_not_change_the_merge() {
        let mut sources = Sources::new();
        let id = sources.add(
            "devmentor.toml",
            include_str!("../../../examples/devmentor.toml"),
        );
        let spec = super::super::load(&sources, id)
            .0
            .expect("the example loads");
        let presets = crate::load_presets(&spec, &mut sources, &mut Diagnostics::default());
        let plain = resolve_all(&spec, &presets, false);
        let recorded = resolve_all(&spec, &presets, true);
        assert_eq!(plain.len(), 3);
        for (p, r) in plain.iter().zip(&recorded) {
            assert_eq!(format!("{:?}", p.services), format!("{:?}", r.services));
            assert_eq!(format!("{:?}", p.datastores), format!("{:?}", r.datastores));
            assert_eq!(format!("{:?}", p.cloud), format!("{:?}", r.cloud));
            assert!(p.origins.entries.is_empty());
        }
        let staging = &recorded[2];
        assert_eq!(staging.env.as_ref().unwrap().value, "staging");
        let origin = |path: &str| staging.origins.get(path);
        // SENTRY_ENV comes from `platform.env`, a layer of the spec under each service.
        assert_eq!(
            origin("services.api-gateway.env.SENTRY_ENV").as_deref(),
            Some("spec")
        );
        assert_eq!(
            origin("datastores.postgres.read_replicas").as_deref(),
            Some("environment `staging`")
        );
        assert_eq!(
            origin("services.api-gateway.image").as_deref(),
            Some("spec")
        );
        assert!(origin("datastores.postgres.engine")
            .unwrap()
            .starts_with("preset"));
        // Settings of the environment itself.
        assert_eq!(origin("domain").as_deref(), Some("environment `staging`"));
    }
}
