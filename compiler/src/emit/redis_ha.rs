//! Redis replication with automatic failover: an in-cluster Redis of more than one replica
//! (`ir::Sentinel`) runs as a primary and replicas in its StatefulSet, one Redis Sentinel
//! beside each Redis in the same pod, and a small HAProxy Deployment behind the store's own
//! Service that always forwards to the current primary.
//!
//! Why Sentinel and a proxy: Sentinel is Redis's own failover and ships in the Redis image
//! (no operator to install, upgrade and trust), it keeps one keyspace and every command (Redis
//! Cluster shards keys and needs cluster-aware clients), and three Sentinels with quorum 2
//! survive the loss of any one node. Most clients are not Sentinel-aware, and the bindings'
//! `uri`/`host` name `<store>`, so that Service leads to HAProxy, which health-checks every
//! Redis for `role:master` and sends connections only to the one that is (the pattern of the
//! well-known redis-ha chart); connections to a demoted primary are closed, so clients
//! reconnect to the new one.
//!
//! At start an init container asks the other pods' Sentinels for the current primary (the
//! first pod is the primary of a new store), and writes `redis.conf` and `sentinel.conf`
//! into an emptyDir, where Sentinel and `CONFIG REWRITE` may rewrite them under the read-only
//! root filesystem. The password (the store's password Secret, `REDISCLI_AUTH`) goes into
//! those files at run time only: `requirepass` and `masterauth` for Redis, `requirepass` and
//! `sentinel auth-pass` for Sentinel, and HAProxy's `AUTH` from the same variable.
//!
//! The k8s target serializes these objects and the Helm chart renders the same specs from its
//! values (`redisFailover`). Compose runs one Redis and says so.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, ExecAction,
    HTTPGetAction, PodSpec, PodTemplateSpec, Probe, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{json, Value as Json};

use crate::ir::{self, naming, Environment, Role, Workload};

/// The port every Sentinel listens on.
pub(crate) const SENTINEL_PORT: u16 = 26379;

/// HAProxy, pinned (the current LTS branch): the proxy that follows the primary.
pub(crate) const HAPROXY_IMAGE: &str = "docker.io/library/haproxy:3.4.3";

/// The port HAProxy answers its health checks on (`monitor-uri`).
const PROXY_HEALTH_PORT: u16 = 8404;

/// HAProxy pods: two, so one can be rescheduled while the other forwards.
const PROXY_REPLICAS: i32 = 2;

/// The cluster's DNS domain, which HAProxy's resolver needs whole (it applies no search
/// list): Kubernetes' and EKS's default.
const CLUSTER_DOMAIN: &str = "cluster.local";

/// Where the init container writes the configuration Redis and Sentinel run with, an emptyDir.
const CONF: &str = "/conf";

/// Milliseconds without an answer after which a Sentinel holds the primary down.
const DOWN_AFTER_MS: u32 = 5_000;

/// The variable that holds the store's password in every container (`redis-cli` reads it).
const PASSWORD: &str = "REDISCLI_AUTH";

/// The failover of `w`, when it is a Redis store run with Sentinel.
pub(crate) fn sentinel(w: &Workload) -> Option<ir::Sentinel> {
    match &w.role {
        Role::DataStore(info) => info.sentinel,
        Role::Service => None,
    }
}

/// The port Redis serves clients on.
fn redis_port(w: &Workload) -> u16 {
    w.client_ports().next().map_or(6379, |p| p.port)
}

/// The name of Redis's port, which Services and probes refer to.
fn redis_port_name(w: &Workload) -> String {
    w.client_ports()
        .next()
        .map_or_else(|| "redis".to_owned(), |p| p.name.clone())
}

/// The stable DNS name of pod `i` of `w` in `env`, through its headless Service.
fn pod_host(env: &Environment, w: &Workload, i: u32) -> String {
    format!(
        "{}-{i}.{}.{}.svc.{CLUSTER_DOMAIN}",
        w.name,
        naming::redis_nodes_service(&w.name),
        env.namespace
    )
}

/// The name of the StatefulSet's governing Service: the headless `<store>-nodes` with
/// Sentinel (the store's own name leads to the proxy), else the store's.
pub(crate) fn governing_service(w: &Workload) -> String {
    match sentinel(w) {
        Some(_) => naming::redis_nodes_service(&w.name),
        None => w.name.clone(),
    }
}

/// The shell script of the init container: finds the current primary through the other
/// pods' Sentinels (none answers for a new store, whose first pod is then the primary) and
/// writes `redis.conf` and `sentinel.conf`. Hostnames, not pod addresses, are announced and
/// monitored (`resolve-hostnames`, `announce-hostnames`), since a pod's address changes when
/// it restarts and its name does not.
fn init_script(env: &Environment, w: &Workload, s: ir::Sentinel) -> String {
    let port = redis_port(w);
    let master = &w.name;
    let peers: Vec<String> = (0..s.nodes).map(|i| pod_host(env, w, i)).collect();
    let suffix = format!(
        "{}.{}.svc.{CLUSTER_DOMAIN}",
        naming::redis_nodes_service(&w.name),
        env.namespace
    );
    format!(
        r#"set -eu
self="$HOSTNAME.{suffix}"
primary=""
for peer in {peers}; do
  [ "$peer" = "$self" ] && continue
  found=$(timeout 5 redis-cli --no-auth-warning -h "$peer" -p {SENTINEL_PORT} sentinel get-master-addr-by-name {master} 2>/dev/null | head -n 1) || true
  case "$found" in *".{suffix}") primary="$found"; break ;; esac
done
[ -n "$primary" ] || primary="{first}"
quoted() {{ printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"; }}
umask 077
{{
  echo "port {port}"
  echo "replica-announce-ip $self"
  if [ -n "${{{PASSWORD}:-}}" ]; then
    echo "requirepass $(quoted "${PASSWORD}")"
    echo "masterauth $(quoted "${PASSWORD}")"
  fi
  [ "$primary" = "$self" ] || echo "replicaof $primary {port}"
}} > {CONF}/redis.conf
{{
  echo "port {SENTINEL_PORT}"
  echo "sentinel resolve-hostnames yes"
  echo "sentinel announce-hostnames yes"
  echo "sentinel announce-ip $self"
  echo "sentinel monitor {master} $primary {port} {quorum}"
  echo "sentinel down-after-milliseconds {master} {DOWN_AFTER_MS}"
  echo "sentinel failover-timeout {master} 60000"
  echo "sentinel parallel-syncs {master} 1"
  if [ -n "${{{PASSWORD}:-}}" ]; then
    echo "requirepass $(quoted "${PASSWORD}")"
    echo "sentinel auth-pass {master} $(quoted "${PASSWORD}")"
  fi
}} > {CONF}/sentinel.conf
"#,
        peers = peers.join(" "),
        first = peers.first().cloned().unwrap_or_default(),
        quorum = s.quorum,
    )
}

/// A probe that runs `redis-cli ping` against `port` (the password from `REDISCLI_AUTH`).
fn ping(port: u16, initial_delay: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec![
                "redis-cli".to_owned(),
                "-p".to_owned(),
                port.to_string(),
                "ping".to_owned(),
            ]),
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        ..Default::default()
    }
}

/// Turns the pod template of store `w` (as `k8s::pod_template` made it, Redis first) into a
/// replicated Redis's: Redis starts from the generated `redis.conf`, an init container
/// writes that file and Sentinel's into the emptyDir `conf`, and Sentinel runs beside Redis
/// with Redis's hardening, the password variable and small limits of its own.
pub(crate) fn pod(template: &mut PodTemplateSpec, env: &Environment, w: &Workload) {
    let Some(s) = sentinel(w) else { return };
    let Some(spec) = template.spec.as_mut() else {
        return;
    };
    let conf_mount = VolumeMount {
        name: "conf".to_owned(),
        mount_path: CONF.to_owned(),
        ..Default::default()
    };
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: "conf".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity("1Mi".to_owned())),
            ..Default::default()
        }),
        ..Default::default()
    });
    let Some(redis) = spec.containers.first_mut() else {
        return;
    };
    redis.command = Some(vec![
        "redis-server".to_owned(),
        format!("{CONF}/redis.conf"),
    ]);
    let args: Vec<String> = w
        .args
        .iter()
        .skip_while(|a| a.as_str() == "redis-server")
        .cloned()
        .collect();
    redis.args = (!args.is_empty()).then_some(args);
    redis
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(conf_mount.clone());
    // Only the password reaches the other containers: the init container and Sentinel read
    // nothing else of the store's environment.
    let password: Option<Vec<_>> = redis.env.as_ref().map(|vars| {
        vars.iter()
            .filter(|v| v.name == PASSWORD)
            .cloned()
            .collect()
    });
    let password = password.filter(|v| !v.is_empty());
    let small = k8s_resources(10, 100, 16 << 20, 64 << 20);
    let init = Container {
        name: "config".to_owned(),
        image: redis.image.clone(),
        image_pull_policy: redis.image_pull_policy.clone(),
        command: Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            init_script(env, w, s),
        ]),
        env: password.clone(),
        resources: Some(small.clone()),
        security_context: redis.security_context.clone(),
        volume_mounts: Some(vec![conf_mount.clone()]),
        ..Default::default()
    };
    let sentinel = Container {
        name: "sentinel".to_owned(),
        image: redis.image.clone(),
        image_pull_policy: redis.image_pull_policy.clone(),
        command: Some(vec![
            "redis-server".to_owned(),
            format!("{CONF}/sentinel.conf"),
            "--sentinel".to_owned(),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("sentinel".to_owned()),
            container_port: i32::from(SENTINEL_PORT),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        env: password,
        resources: Some(small),
        liveness_probe: Some(ping(SENTINEL_PORT, 15)),
        readiness_probe: Some(ping(SENTINEL_PORT, 5)),
        security_context: redis.security_context.clone(),
        volume_mounts: Some(vec![conf_mount]),
        ..Default::default()
    };
    spec.containers.insert(1, sentinel);
    spec.init_containers
        .get_or_insert_with(Vec::new)
        .insert(0, init);
}

/// Requests and limits in millicores and bytes.
fn k8s_resources(
    cpu_request: i64,
    cpu_limit: i64,
    memory_request: i128,
    memory_limit: i128,
) -> k8s_openapi::api::core::v1::ResourceRequirements {
    super::k8s::resource_requirements(&ir::Resources {
        cpu_request,
        cpu_limit,
        memory_request,
        memory_limit,
    })
}

/// The headless Service `<store>-nodes` that governs the StatefulSet: each pod's stable name
/// (`<store>-<n>.<store>-nodes`), published before the pod is ready so that a starting pod
/// finds the others' Sentinels; clients may reach every Redis on it (a replica answers reads
/// and refuses writes).
pub(crate) fn nodes_service_spec(platform: &ir::Platform, w: &Workload) -> ServiceSpec {
    ServiceSpec {
        type_: Some("ClusterIP".to_owned()),
        cluster_ip: Some("None".to_owned()),
        publish_not_ready_addresses: Some(true),
        selector: Some(naming::selector_labels(&platform.name, w)),
        ports: Some(vec![ServicePort {
            name: Some(redis_port_name(w)),
            port: i32::from(redis_port(w)),
            target_port: Some(IntOrString::String(redis_port_name(w))),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// The store's own Service `<store>`, which the bindings' `uri` and `host` name: HAProxy's
/// pods, which forward to the primary.
pub(crate) fn service_spec(platform: &ir::Platform, w: &Workload) -> ServiceSpec {
    ServiceSpec {
        type_: Some("ClusterIP".to_owned()),
        selector: Some(naming::redis_proxy_selector_labels(&platform.name, &w.name)),
        ports: Some(vec![ServicePort {
            name: Some(redis_port_name(w)),
            port: i32::from(redis_port(w)),
            target_port: Some(IntOrString::String("redis".to_owned())),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// The labels of the proxy's objects and pods: the store's, with the proxy's instance (its
/// selector) and component.
pub(crate) fn proxy_labels(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> BTreeMap<String, String> {
    let mut labels = naming::workload_labels(&platform.name, env, w);
    labels.extend(naming::redis_proxy_selector_labels(&platform.name, &w.name));
    labels.insert("app.kubernetes.io/component".to_owned(), "proxy".to_owned());
    labels
}

/// HAProxy's configuration: a TCP frontend on Redis's port whose one backend holds every
/// Redis pod by its stable name (resolved again while running, as a restarted pod gets a new
/// address), checked each second for `role:master` after `AUTH` with the password from the
/// environment (a password with spaces would not survive the inline command, as it would
/// not survive a URL); a server that stops being primary is marked down at once and its
/// connections are closed, so clients reconnect through the proxy to the new primary.
pub(crate) fn proxy_config(env: &Environment, w: &Workload) -> String {
    let nodes = sentinel(w).map_or(1, |s| s.nodes);
    let port = redis_port(w);
    let auth = if w.secrets.contains_key(PASSWORD) {
        format!("  tcp-check send \"AUTH ${{{PASSWORD}}}\"\\r\\n\n  tcp-check expect string +OK\n")
    } else {
        String::new()
    };
    let servers: String = (0..nodes)
        .map(|i| format!("  server {}-{i} {}:{port}\n", w.name, pod_host(env, w, i)))
        .collect();
    format!(
        "global
  maxconn 4096

defaults
  mode tcp
  timeout connect 4s
  timeout check 2s
  timeout client 1h
  timeout server 1h
  option clitcpka
  option srvtcpka

resolvers cluster
  parse-resolv-conf
  hold valid 5s
  hold obsolete 5s

frontend health
  mode http
  bind :{PROXY_HEALTH_PORT}
  monitor-uri /healthz

frontend redis
  bind :{port}
  default_backend primary

backend primary
  option tcp-check
  tcp-check connect
{auth}  tcp-check send PING\\r\\n
  tcp-check expect string +PONG
  tcp-check send info\\ replication\\r\\n
  tcp-check expect string role:master
  tcp-check send QUIT\\r\\n
  tcp-check expect string +OK
  default-server check inter 1s fall 1 rise 1 resolvers cluster init-addr none on-marked-down shutdown-sessions
{servers}"
    )
}

/// The Deployment of HAProxy: two pods spread over nodes, the store's hardening (non-root,
/// read-only root filesystem: HAProxy writes nothing), its configuration from the ConfigMap
/// `<store>-proxy`, the password variable for the checks' `AUTH`, probes on its health URI.
pub(crate) fn proxy_deployment_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    template: &PodTemplateSpec,
) -> DeploymentSpec {
    let labels = proxy_labels(platform, env, w);
    let redis = template.spec.as_ref().and_then(|s| s.containers.first());
    let password: Option<Vec<_>> = redis.and_then(|c| c.env.as_ref()).map(|vars| {
        vars.iter()
            .filter(|v| v.name == PASSWORD)
            .cloned()
            .collect()
    });
    let health = |delay: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".to_owned()),
            port: IntOrString::String("health".to_owned()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(delay),
        period_seconds: Some(10),
        ..Default::default()
    };
    let pod = template.spec.clone().unwrap_or_default();
    let container = Container {
        name: "haproxy".to_owned(),
        image: Some(HAPROXY_IMAGE.to_owned()),
        image_pull_policy: Some("Always".to_owned()),
        ports: Some(vec![
            ContainerPort {
                name: Some("redis".to_owned()),
                container_port: i32::from(redis_port(w)),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            },
            ContainerPort {
                name: Some("health".to_owned()),
                container_port: i32::from(PROXY_HEALTH_PORT),
                protocol: Some("TCP".to_owned()),
                ..Default::default()
            },
        ]),
        env: password.filter(|v| !v.is_empty()),
        resources: Some(k8s_resources(50, 250, 32 << 20, 128 << 20)),
        liveness_probe: Some(health(10)),
        readiness_probe: Some(health(2)),
        security_context: redis.and_then(|c| c.security_context.clone()),
        volume_mounts: Some(vec![VolumeMount {
            name: "config".to_owned(),
            mount_path: "/usr/local/etc/haproxy".to_owned(),
            read_only: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let selector = naming::redis_proxy_selector_labels(&platform.name, &w.name);
    let spread = pod.topology_spread_constraints.map(|cs| {
        cs.into_iter()
            .map(|mut c| {
                c.label_selector = Some(LabelSelector {
                    match_labels: Some(selector.clone()),
                    ..Default::default()
                });
                c
            })
            .collect()
    });
    DeploymentSpec {
        replicas: Some(PROXY_REPLICAS),
        selector: LabelSelector {
            match_labels: Some(selector.clone()),
            ..Default::default()
        },
        strategy: Some(DeploymentStrategy {
            type_: Some("RollingUpdate".to_owned()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(1)),
                max_unavailable: Some(IntOrString::Int(0)),
            }),
        }),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                service_account_name: pod.service_account_name,
                automount_service_account_token: pod.automount_service_account_token,
                security_context: pod.security_context,
                containers: vec![container],
                volumes: Some(vec![Volume {
                    name: "config".to_owned(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: naming::redis_proxy(&w.name),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                node_selector: pod.node_selector,
                tolerations: pod.tolerations,
                image_pull_secrets: None,
                topology_spread_constraints: spread,
                ..Default::default()
            }),
        },
        ..Default::default()
    }
}

/// The proxy's disruption budget: one of its two pods always forwards.
pub(crate) fn proxy_budget_spec(platform: &ir::Platform, w: &Workload) -> PodDisruptionBudgetSpec {
    PodDisruptionBudgetSpec {
        selector: Some(LabelSelector {
            match_labels: Some(naming::redis_proxy_selector_labels(&platform.name, &w.name)),
            ..Default::default()
        }),
        min_available: Some(IntOrString::Int(1)),
        ..Default::default()
    }
}

/// A peer of the proxy's pods, which the store's clients (and its backup job) reach besides
/// the Redis pods.
pub(crate) fn proxy_peer(platform: &ir::Platform, w: &Workload) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(naming::redis_proxy_selector_labels(&platform.name, &w.name)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A TCP port of a policy rule.
fn tcp(port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

/// The paths a replicated Redis's pods need beyond its clients': from and to each other on
/// Redis's port (replication) and Sentinel's (the Sentinels' gossip, and the init
/// container's question for the primary), and from the proxy's pods on Redis's port (its
/// checks and the forwarded connections). Nothing else is opened: Sentinel is not published
/// to clients.
pub(crate) fn own_rules(
    platform: &ir::Platform,
    w: &Workload,
) -> (Vec<NetworkPolicyIngressRule>, Vec<NetworkPolicyEgressRule>) {
    if sentinel(w).is_none() {
        return (Vec::new(), Vec::new());
    }
    let own = || {
        vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(naming::selector_labels(&platform.name, w)),
                ..Default::default()
            }),
            ..Default::default()
        }]
    };
    let ports = || vec![tcp(redis_port(w)), tcp(SENTINEL_PORT)];
    (
        vec![
            NetworkPolicyIngressRule {
                from: Some(own()),
                ports: Some(ports()),
            },
            NetworkPolicyIngressRule {
                from: Some(vec![proxy_peer(platform, w)]),
                ports: Some(vec![tcp(redis_port(w))]),
            },
        ],
        vec![NetworkPolicyEgressRule {
            to: Some(own()),
            ports: Some(ports()),
        }],
    )
}

/// The NetworkPolicy of the proxy's pods: the store's clients and its backup job in, on
/// Redis's port; out, only to the Redis pods on that port.
pub(crate) fn proxy_policy_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    clients: &[NetworkPolicyPeer],
) -> NetworkPolicySpec {
    let mut from = clients.to_vec();
    if super::k8s::backup_plan(env, w).is_some() || super::backups::offsite(env, w) {
        from.push(NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(naming::backup_selector_labels(&platform.name, &w.name)),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let ingress = (!from.is_empty()).then(|| {
        vec![NetworkPolicyIngressRule {
            from: Some(from),
            ports: Some(vec![tcp(redis_port(w))]),
        }]
    });
    let mut types = Vec::new();
    if ingress.is_some() {
        types.push("Ingress".to_owned());
    }
    types.push("Egress".to_owned());
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector {
            match_labels: Some(naming::redis_proxy_selector_labels(&platform.name, &w.name)),
            ..Default::default()
        }),
        policy_types: Some(types),
        ingress,
        egress: Some(vec![NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(LabelSelector {
                    match_labels: Some(naming::selector_labels(&platform.name, w)),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: Some(vec![tcp(redis_port(w))]),
        }]),
    }
}

/// The PodMonitor that scrapes every Redis pod's exporter, each series labelled with the
/// store's name as `service`, the label the Redis alerts select. A ServiceMonitor would
/// label them with the Service's name, and the store's name is the proxy's Service now.
pub(crate) fn pod_monitor_spec(platform: &ir::Platform, w: &Workload) -> Option<Json> {
    let m = w.metrics.as_ref()?;
    Some(json!({
        "selector": { "matchLabels": naming::selector_labels(&platform.name, w) },
        "podMetricsEndpoints": [{
            "port": m.port.name,
            "path": m.path,
            "interval": crate::units::format_duration(m.interval_ms),
            "relabelings": [{
                "action": "replace",
                "targetLabel": "service",
                "replacement": w.name,
            }],
        }],
    }))
}
