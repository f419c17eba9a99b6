//! The Istio mesh of an environment whose platform sets `mesh = "istio"`: mutual TLS
//! required between the services, an authorization policy per service that admits exactly
//! the identities its declared dependents and the edge run as, and the callers' traffic
//! policy (circuit breaking, connection limits, timeouts, retries) from each service's
//! `traffic`. The k8s target serializes these specs and the Helm target renders the same
//! JSON from values, so both read one decision.
//!
//! Why sidecars rather than ambient mode: a service's circuit breaker, connection pool,
//! timeout and retries are applied by its callers' proxies. With sidecars every caller has
//! one; in ambient mode the node's ztunnel only speaks L4, and every policy above would need
//! a waypoint proxy per namespace in the request path. Sidecars are injected only into the
//! services' pods (their `sidecar.istio.io/inject` label), with Istio CNI setting up the
//! traffic redirection, so no pod needs the `NET_ADMIN` init container and the pods keep
//! their restricted security context; Kubernetes' native sidecars let Jobs and CronJobs
//! finish. Data stores stay outside the mesh: their operators (CloudNativePG's status
//! checks, backup jobs) reach them without mesh identities, and their NetworkPolicies keep
//! guarding them.
//!
//! Probes and metrics keep working under STRICT mutual TLS: the injector rewrites HTTP and
//! TCP probes to the sidecar agent's port, which the kubelet reaches without TLS, and
//! merges the application's metrics (from its `prometheus.io/*` annotations) into the
//! agent's own endpoint on [`MERGED_METRICS_PORT`], which Prometheus scrapes in plain text.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::ir::{self, naming, Environment, Workload};
use crate::units;

/// The pod label that asks Istio's injector for a sidecar.
pub(crate) const INJECT_LABEL: &str = "sidecar.istio.io/inject";

/// The port of the sidecar agent that serves the merged metrics: the application's own
/// (read by the agent over localhost) and Envoy's. Istio excludes it from traffic capture,
/// so Prometheus scrapes it without a mesh identity.
pub(crate) const MERGED_METRICS_PORT: u16 = 15020;

/// The path of the merged metrics.
pub(crate) const MERGED_METRICS_PATH: &str = "/stats/prometheus";

/// The name of the Service port that publishes the merged metrics to the ServiceMonitor.
pub(crate) const MERGED_METRICS_PORT_NAME: &str = "merged-metrics";

/// Namespace of istiod, which every sidecar and gateway reaches for its configuration and
/// certificates.
pub(crate) const ISTIO_NAMESPACE: &str = "istio-system";

/// istiod's port for configuration (xDS) and certificate signing, over TLS.
pub(crate) const ISTIOD_PORT: u16 = 15012;

/// The API version of Istio's security objects.
pub(crate) const SECURITY_API: &str = "security.istio.io/v1";

/// The API version of Istio's networking objects.
pub(crate) const NETWORKING_API: &str = "networking.istio.io/v1";

/// The name of the namespace-wide PeerAuthentication (Istio's convention for the
/// namespace's default).
pub(crate) const PEER_AUTHENTICATION: &str = "default";

/// The spec of the namespace's `PeerAuthentication`: mutual TLS required for every sidecar
/// in it, when the environment has a mesh.
///
/// Why STRICT rather than Istio's PERMISSIVE default: PERMISSIVE also accepts plain text,
/// so a pod outside the mesh (or an attacker in the cluster network) could call a service
/// without an identity, and the authorization policies could not tell who calls.
pub(crate) fn peer_authentication(env: &Environment) -> Option<Value> {
    env.cluster
        .mesh
        .then(|| json!({ "mtls": { "mode": "STRICT" } }))
}

/// The `AuthorizationPolicy` of every meshed workload with ports, by name (the workload's):
/// ALLOW requests to its Service ports from the identities of the workloads that declare it
/// in `depends_on`, and to its exposed port from the edge's proxies. A workload nobody
/// calls gets a policy with no rules, which denies every request.
///
/// Why per workload by identity: the NetworkPolicies already admit the same pods by label,
/// but a label says nothing about who is calling once traffic is encrypted; the mesh
/// identity (the caller's ServiceAccount, proven by its certificate) does. The closure proof
/// checks that the two graphs agree (P018).
pub(crate) fn authorization_policies(
    platform: &ir::Platform,
    env: &Environment,
) -> Vec<(String, Value)> {
    if !env.cluster.mesh {
        return Vec::new();
    }
    let mut clients: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for c in env.workloads.iter().filter(|c| env.meshed(c)) {
        for dep in &c.depends_on {
            clients
                .entry(dep.as_str())
                .or_default()
                .insert(naming::mesh_principal(
                    &env.namespace,
                    &naming::service_account(c),
                ));
        }
    }
    env.workloads
        .iter()
        .filter(|w| env.meshed(w) && w.service_ports().next().is_some())
        .map(|w| {
            let mut rules = Vec::new();
            if let Some(principals) = clients.get(w.name.as_str()) {
                rules.push(rule(principals.iter().cloned(), w.service_ports()));
            }
            if let (Some(i), Some(_)) = (&w.ingress, &env.cluster.edge_pods) {
                let gateway = naming::mesh_principal(
                    &env.namespace,
                    &naming::istio_gateway_service_account(&platform.name),
                );
                rules.push(rule([gateway], std::iter::once(&i.port)));
            }
            let mut spec = json!({
                "selector": { "matchLabels": naming::selector_labels(&platform.name, w) },
                "action": "ALLOW",
            });
            if !rules.is_empty() {
                spec["rules"] = Value::Array(rules);
            }
            (w.name.clone(), spec)
        })
        .collect()
}

/// One ALLOW rule: from these principals to these ports.
fn rule<'a>(
    principals: impl IntoIterator<Item = String>,
    ports: impl Iterator<Item = &'a ir::Port>,
) -> Value {
    let mut ports: Vec<String> = ports.map(|p| p.port.to_string()).collect();
    ports.sort_unstable();
    ports.dedup();
    json!({
        "from": [{ "source": { "principals": principals.into_iter().collect::<Vec<_>>() } }],
        "to": [{ "operation": { "ports": ports } }],
    })
}

/// The `DestinationRule` of every meshed workload whose `traffic` sets a circuit breaker or
/// a connection pool, by name (the workload's): the traffic policy its callers' sidecars
/// apply.
///
/// Why `consecutive5xxErrors`: it counts what the spec calls errors, 5xx answers and
/// connections refused, reset or timed out; Istio's older `consecutiveErrors` is
/// deprecated. The rule sets no `tls`, so Istio's automatic mutual TLS stays in force.
pub(crate) fn destination_rules(env: &Environment) -> Vec<(String, Value)> {
    env.workloads
        .iter()
        .filter(|w| env.meshed(w))
        .filter_map(|w| {
            let t = w.traffic.as_ref()?;
            if t.circuit_breaker.is_none() && t.connection_pool.is_none() {
                return None;
            }
            let mut policy = serde_json::Map::new();
            if let Some(p) = &t.connection_pool {
                let mut tcp = serde_json::Map::new();
                let mut http = serde_json::Map::new();
                if let Some(n) = p.max_connections {
                    tcp.insert("maxConnections".into(), json!(n));
                }
                if let Some(n) = p.max_pending_requests {
                    http.insert("http1MaxPendingRequests".into(), json!(n));
                }
                if let Some(n) = p.max_requests_per_connection {
                    http.insert("maxRequestsPerConnection".into(), json!(n));
                }
                let mut pool = serde_json::Map::new();
                if !tcp.is_empty() {
                    pool.insert("tcp".into(), Value::Object(tcp));
                }
                if !http.is_empty() {
                    pool.insert("http".into(), Value::Object(http));
                }
                policy.insert("connectionPool".into(), Value::Object(pool));
            }
            if let Some(c) = &t.circuit_breaker {
                policy.insert(
                    "outlierDetection".into(),
                    json!({
                        "consecutive5xxErrors": c.consecutive_errors,
                        "interval": units::format_duration(c.interval_ms),
                        "baseEjectionTime": units::format_duration(c.ejection_ms),
                        "maxEjectionPercent": c.max_ejection_percent,
                    }),
                );
            }
            Some((
                w.name.clone(),
                json!({
                    "host": service_host(env, w),
                    "trafficPolicy": policy,
                }),
            ))
        })
        .collect()
}

/// The `VirtualService` of every meshed workload whose `traffic` sets a timeout or retries,
/// by name (the workload's): one route to its Service with them, applied by its callers'
/// sidecars (the mesh gateway only; the edge's routes are HTTPRoutes).
///
/// Why retries only on `5xx,reset,connect-failure,refused-stream`: those fail before or
/// without the service acting on the request (or say it failed); retrying every 4xx would
/// repeat requests the service rejected on purpose.
pub(crate) fn virtual_services(env: &Environment) -> Vec<(String, Value)> {
    env.workloads
        .iter()
        .filter(|w| env.meshed(w))
        .filter_map(|w| {
            let t = w.traffic.as_ref()?;
            if t.timeout_ms.is_none() && t.retries.is_none() {
                return None;
            }
            let host = service_host(env, w);
            let mut route = json!({ "route": [{ "destination": { "host": host } }] });
            if let Some(ms) = t.timeout_ms {
                route["timeout"] = json!(units::format_duration(ms));
            }
            if let Some(r) = &t.retries {
                let mut retries = json!({
                    "attempts": r.attempts,
                    "retryOn": "5xx,reset,connect-failure,refused-stream",
                });
                if let Some(ms) = r.per_try_timeout_ms {
                    retries["perTryTimeout"] = json!(units::format_duration(ms));
                }
                route["retries"] = retries;
            }
            Some((w.name.clone(), json!({ "hosts": [host], "http": [route] })))
        })
        .collect()
}

/// The cluster-local name of a workload's Service, as Istio's objects name hosts.
fn service_host(env: &Environment, w: &Workload) -> String {
    format!("{}.{}.svc.cluster.local", w.name, env.namespace)
}

/// The sidecar's CPU request and limit (millicores) and memory request and limit (bytes),
/// as [`sidecar_annotations`] sets them on every meshed pod.
///
/// Why set them: without them the injector gives each sidecar the mesh's defaults, a limit
/// of 2 CPU and 1 GiB, which count against the namespace's ResourceQuota like the
/// application's own: a quota sized for the application (16 CPU for 20 replicas) then
/// admitted a handful of pods. Istio's own sizing guide has a sidecar at about 0.2 CPU and
/// 60 MB at 1,000 requests per second, so half a CPU and 256 MiB leave room for bursts.
pub(crate) const SIDECAR_RESOURCES: (i64, i64, i128, i128) = (100, 500, 128 << 20, 256 << 20);

/// The CPU (millicores) and memory (bytes) limits of the proxy pod istiod deploys for an
/// Istio Gateway in the environment's namespace: the mesh's proxy defaults, which the
/// Gateway's pod takes, and which count against the namespace's ResourceQuota.
pub(crate) const ISTIO_GATEWAY_LIMITS: (i64, i128) = (2000, 1 << 30);

/// The annotations through which Istio's injector sizes a meshed workload's sidecar
/// ([`SIDECAR_RESOURCES`]); none for a pod outside the mesh.
pub(crate) fn sidecar_annotations(env: &Environment, w: &Workload) -> BTreeMap<String, String> {
    if !env.meshed(w) {
        return BTreeMap::new();
    }
    let (cpu, cpu_limit, memory, memory_limit) = SIDECAR_RESOURCES;
    BTreeMap::from([
        (
            "sidecar.istio.io/proxyCPU".to_owned(),
            units::format_cpu(cpu),
        ),
        (
            "sidecar.istio.io/proxyCPULimit".to_owned(),
            units::format_cpu(cpu_limit),
        ),
        (
            "sidecar.istio.io/proxyMemory".to_owned(),
            units::format_bytes(memory),
        ),
        (
            "sidecar.istio.io/proxyMemoryLimit".to_owned(),
            units::format_bytes(memory_limit),
        ),
    ])
}

/// The labels a meshed workload's pods carry in addition to its own: the injector's
/// opt-in.
pub(crate) fn pod_labels(env: &Environment, w: &Workload) -> Option<(String, String)> {
    env.meshed(w)
        .then(|| (INJECT_LABEL.to_owned(), "true".to_owned()))
}
