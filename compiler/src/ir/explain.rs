//! `plinth explain`: the resolved IR of one environment as JSON, and for one field the layer
//! that set it.
//!
//! The JSON mirrors the spec's paths (`services.api.resources.limits.cpu`) so that a path a
//! user writes in the spec finds its resolved value here. It is built by hand because the IR
//! deliberately has no serde derives.

use serde_json::{json, Map, Value};

use super::*;
use crate::units::{format_bytes, format_cpu, format_duration};

fn iop(v: IntOrPercent) -> Value {
    match v {
        IntOrPercent::Int(n) => json!(n),
        IntOrPercent::Percent(p) => json!(format!("{p}%")),
    }
}

fn port(p: &Port) -> Value {
    json!({ "name": p.name, "port": p.port, "protocol": match p.protocol { Protocol::Tcp => "tcp", Protocol::Udp => "udp" } })
}

fn probe(p: &Option<Probe>) -> Value {
    let Some(p) = p else { return Value::Null };
    let mut m = match &p.action {
        ProbeAction::Http { path, port } => json!({ "path": path, "port": port.name }),
        ProbeAction::Exec(cmd) => json!({ "command": cmd }),
        ProbeAction::Tcp(port) => json!({ "port": port.name }),
    };
    if let Value::Object(o) = &mut m {
        o.insert(
            "initial_delay".into(),
            json!(format!("{}s", p.initial_delay)),
        );
        o.insert("period".into(), json!(format!("{}s", p.period)));
        o.insert("timeout".into(), json!(format!("{}s", p.timeout)));
        o.insert("failure_threshold".into(), json!(p.failure_threshold));
    }
    m
}

fn workload(w: &Workload) -> Value {
    let mut m = Map::new();
    m.insert(
        "kind".into(),
        json!(match w.kind {
            Kind::Web => "web",
            Kind::Worker => "worker",
            Kind::Stateful => "stateful",
            Kind::Cron => "cron",
            Kind::Job => "job",
        }),
    );
    if let Role::DataStore(s) = &w.role {
        m.insert("engine".into(), json!(s.engine));
        m.insert("version".into(), json!(s.version));
        m.insert("read_replicas".into(), json!(s.read_replicas));
        if let Some(b) = &s.backup {
            m.insert(
                "backup".into(),
                json!({ "schedule": b.schedule, "retention": format_duration(b.retention_ms), "continuous": b.continuous, "verify": b.verify }),
            );
        }
    }
    m.insert("image".into(), json!(w.image));
    if let Some(s) = &w.schedule {
        m.insert("schedule".into(), json!(s));
    }
    if !w.command.is_empty() {
        m.insert("command".into(), json!(w.command));
    }
    if !w.args.is_empty() {
        m.insert("args".into(), json!(w.args));
    }
    m.insert(
        "ports".into(),
        Value::Array(w.ports.iter().map(port).collect()),
    );
    match &w.replicas {
        Replicas::Fixed(n) => {
            m.insert("replicas".into(), json!(n));
        }
        Replicas::Auto(a) => {
            m.insert(
                "autoscaling".into(),
                json!({
                    "min": a.min, "max": a.max, "cpu": a.cpu, "memory": a.memory,
                    "metrics": a.pod_metrics.iter().map(|(n, t)| json!({ "name": n, "target": t })).collect::<Vec<_>>(),
                }),
            );
        }
    }
    let r = &w.resources;
    m.insert(
        "resources".into(),
        json!({
            "requests": { "cpu": format_cpu(r.cpu_request), "memory": format_bytes(r.memory_request) },
            "limits": { "cpu": format_cpu(r.cpu_limit), "memory": format_bytes(r.memory_limit) },
        }),
    );
    m.insert(
        "probes".into(),
        json!({ "liveness": probe(&w.probes.liveness), "readiness": probe(&w.probes.readiness), "startup": probe(&w.probes.startup) }),
    );
    m.insert("rollout".into(), json!({ "strategy": strategy(&w.rollout.strategy), "max_surge": iop(w.rollout.max_surge), "max_unavailable": iop(w.rollout.max_unavailable) }));
    m.insert(
        "disruption_budget".into(),
        match w.disruption_budget {
            None => json!({ "enabled": false }),
            Some(Budget::MinAvailable(v)) => json!({ "min_available": iop(v) }),
            Some(Budget::MaxUnavailable(v)) => json!({ "max_unavailable": iop(v) }),
        },
    );
    m.insert("env".into(), json!(w.env));
    m.insert(
        "secrets".into(),
        Value::Object(
            w.secrets
                .iter()
                .map(|(k, s)| (k.clone(), json!({ "secret": s.secret, "key": s.key })))
                .collect(),
        ),
    );
    if let Some(s) = &w.storage {
        m.insert(
            "storage".into(),
            json!({ "size": format_bytes(s.size), "path": s.path, "class": s.class }),
        );
    }
    m.insert("depends_on".into(), json!(w.depends_on));
    if let Some(i) = &w.ingress {
        m.insert(
            "ingress".into(),
            json!({ "host": i.host, "path": i.path, "port": i.port.name, "tls": i.tls }),
        );
    }
    if let Some(x) = &w.metrics {
        let n = &x.names;
        m.insert(
            "metrics".into(),
            json!({
                "path": x.path,
                "port": x.port.name,
                "interval": format_duration(x.interval_ms),
                "requests": n.requests,
                "status_label": n.status_label,
                "latency": n.latency,
                "latency_unit": if n.latency_per_second == 1.0 { "seconds" } else { "milliseconds" },
                "buckets": n.buckets,
            }),
        );
    }
    m.insert(
        "thresholds".into(),
        Value::Object(
            w.thresholds
                .iter()
                .map(|t| (t.name.clone(), json!({ "warning": t.warning, "critical": t.critical, "for": format_duration(t.for_ms), "expr": t.expr })))
                .collect(),
        ),
    );
    m.insert("team".into(), json!(w.team));
    let s = &w.security;
    m.insert(
        "security".into(),
        json!({
            "run_as_user": s.run_as_user, "read_only_root_filesystem": s.read_only_root_filesystem,
            "allow_root": s.allow_root, "service_account_token": s.service_account_token,
            "add_capabilities": s.add_capabilities,
        }),
    );
    if let Some(h) = &w.compose_healthcheck {
        let h = match h {
            ComposeHealthcheck::Http(HttpClient::Wget) => json!("wget"),
            ComposeHealthcheck::Http(HttpClient::Curl) => json!("curl"),
            ComposeHealthcheck::Command(cmd) => json!(cmd),
        };
        m.insert("compose".into(), json!({ "healthcheck": h }));
    }
    Value::Object(m)
}

/// The resolved environment as JSON.
pub fn explain(env: &Environment) -> Value {
    let services: Map<String, Value> = env
        .workloads
        .iter()
        .filter(|w| !w.is_store())
        .map(|w| (w.name.clone(), workload(w)))
        .collect();
    let mut stores: Map<String, Value> = env
        .workloads
        .iter()
        .filter(|w| w.is_store())
        .map(|w| (w.name.clone(), workload(w)))
        .collect();
    for m in &env.managed_stores {
        // The managed settings appear where the spec writes them (`managed.instance_class`)
        // and, as before, directly under the store.
        stores.insert(
            m.name.clone(),
            json!({
                "mode": "managed", "engine": m.engine, "version": m.version, "instance_class": m.instance_class,
                "multi_az": m.multi_az, "deletion_protection": m.deletion_protection,
                "managed": {
                    "instance_class": m.instance_class, "multi_az": m.multi_az,
                    "deletion_protection": m.deletion_protection,
                },
                "storage": { "size": format_bytes(m.storage) }, "read_replicas": m.read_replicas,
            }),
        );
    }
    let cloud = env.cloud.as_ref().map(|c| {
        json!({
            "provider": c.provider, "region": c.region,
            "state": { "bucket": c.state.bucket, "key": c.state.key, "lock_table": c.state.lock_table },
            "cluster": {
                "version": c.cluster.version,
                "node_groups": c.cluster.node_groups.iter().map(|g| (g.name.clone(), json!({
                    "instance_types": g.instance_types, "min": g.min, "max": g.max, "desired": g.desired, "spot": g.spot,
                }))).collect::<Map<String, Value>>(),
            },
            "network": { "cidr": c.network.cidr, "azs": c.network.azs },
            "cdn": {
                "enabled": c.cdn,
                "cache": c.cdn_cache.iter().map(|r| json!({
                    "path": r.path, "edge_ttl_seconds": r.edge_ttl_seconds, "browser_ttl_seconds": r.browser_ttl_seconds,
                })).collect::<Vec<_>>(),
            },
        })
    });
    json!({
        "environment": env.name,
        "namespace": env.namespace,
        "domain": env.domain,
        "local": env.local,
        "compose": { "monitoring": env.compose.monitoring, "log_viewer": env.compose.log_viewer },
        "services": services,
        "datastores": stores,
        "cloud": cloud,
    })
}

/// A path that `plinth explain` cannot follow: where it stops and what was there instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPath {
    /// The part of the path that exists (empty at the top).
    pub parent: String,
    /// The segment that does not.
    pub segment: String,
    /// The keys (or, in a list, the indexes) that exist under `parent`.
    pub known: Vec<String>,
}

/// The value at a dotted spec path and the layer that set it, or where the path stops.
pub fn explain_path(env: &Environment, path: &str) -> Result<(Value, String), UnknownPath> {
    let root = explain(env);
    let mut node = &root;
    let mut parent: Vec<&str> = Vec::new();
    for seg in path.split('.') {
        let next = match node {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        let Some(next) = next else {
            let known = match node {
                Value::Object(m) => m.keys().cloned().collect(),
                Value::Array(a) => (0..a.len()).map(|i| i.to_string()).collect(),
                _ => Vec::new(),
            };
            return Err(UnknownPath {
                parent: parent.join("."),
                segment: seg.to_owned(),
                known,
            });
        };
        node = next;
        parent.push(seg);
    }
    let layer = env
        .origins
        .get(&origin_path(env, path))
        .unwrap_or_else(|| Layer::Default.to_string());
    Ok((node.clone(), layer))
}

/// The path under which the merge recorded who set the value at `path`. They differ where
/// the resolved model shows a value elsewhere than the spec writes it: a managed store's
/// settings, which the spec writes under `managed`, also show directly under the store.
fn origin_path(env: &Environment, path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    if let ["datastores", store, field] = parts.as_slice() {
        let managed = env.managed_stores.iter().any(|m| m.name == *store);
        if managed
            && matches!(
                *field,
                "instance_class" | "multi_az" | "deletion_protection"
            )
        {
            return format!("datastores.{store}.managed.{field}");
        }
    }
    path.to_owned()
}

/// The update strategy as `plinth explain` shows it.
fn strategy(s: &crate::ir::Strategy) -> serde_json::Value {
    use crate::ir::{Pause, Strategy};
    match s {
        Strategy::Rolling => json!("rolling"),
        Strategy::Canary { steps } => json!({ "canary": steps.iter().map(|s| json!({
            "weight": s.weight,
            "pause": match s.pause {
                Pause::None => json!(null),
                Pause::Seconds(n) => json!(format!("{n}s")),
                Pause::Manual => json!("manual"),
            },
        })).collect::<Vec<_>>() }),
        Strategy::BlueGreen {
            auto_promote,
            scale_down_delay_seconds,
        } => json!({ "blue-green": {
            "auto_promote": auto_promote,
            "scale_down_delay": format!("{scale_down_delay_seconds}s"),
        } }),
    }
}
