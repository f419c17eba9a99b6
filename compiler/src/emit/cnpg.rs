//! CloudNativePG: how an in-cluster PostgreSQL store runs in an environment with a cloud.
//!
//! There the operator (installed by the environment's Terraform) runs the store: a `Cluster`
//! (`postgresql.cnpg.io/v1`, operator 1.30) with a primary and `read_replicas` streaming
//! replicas, automatic failover by promoting a replica, and the Services `<name>-rw`,
//! `<name>-ro` and `<name>-r`. It also creates the Secret `<name>-app` with the application
//! user's connection details, which clients reference like any other Secret and which no
//! ExternalSecret may create. An environment without a cloud keeps the single StatefulSet:
//! nothing installs the operator there.
//!
//! The k8s target serializes the decisions made here and the Helm chart renders the same
//! specs from its values, so both give the same objects.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec, Toleration, TopologySpreadConstraint};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{json, Value as Json};

use crate::ir::{self, naming, Environment, Workload};
use crate::units::format_bytes;

/// API version of the operator's `Cluster`.
pub(crate) const API_VERSION: &str = "postgresql.cnpg.io/v1";

/// Namespace the operator runs in (the chart's conventional namespace).
pub(crate) const OPERATOR_NAMESPACE: &str = "cnpg-system";

/// Label the operator puts on every pod of a cluster, with the cluster's name.
pub(crate) const CLUSTER_LABEL: &str = "cnpg.io/cluster";

/// Label the operator puts on every PgBouncer pod of a `Pooler`, with the pooler's name.
pub(crate) const POOLER_LABEL: &str = "cnpg.io/poolerName";

/// PostgreSQL's port on every instance.
pub(crate) const POSTGRES_PORT: u16 = 5432;

/// Port of the instance manager's HTTP API, which the operator and the other instances call.
pub(crate) const INSTANCE_MANAGER_PORT: u16 = 8000;

/// Port of each instance's metrics exporter (container port `metrics`).
pub(crate) const METRICS_PORT: u16 = 9187;

/// Port of the Kubernetes API server behind EKS's endpoints in the VPC, and of S3 and STS.
const API_SERVER_PORT: u16 = 443;

/// The barman-cloud plugin, which archives WAL and takes base backups into object storage.
pub(crate) const BARMAN_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

/// API version of the plugin's `ObjectStore`.
pub(crate) const OBJECT_STORE_API_VERSION: &str = "barmancloud.cnpg.io/v1";

/// Operand images: the operator's PostgreSQL images, tagged by PostgreSQL version.
const IMAGE: &str = "ghcr.io/cloudnative-pg/postgresql";

/// Whether the operator runs `w` in `env`: an in-cluster PostgreSQL store in an environment
/// with a cloud, whose Terraform installs the operator.
pub(crate) fn operated(env: &Environment, w: &Workload) -> bool {
    env.cloud.is_some() && matches!(&w.role, ir::Role::DataStore(info) if info.engine == "postgres")
}

/// Whether the Secret `name` is one the operator creates in `env`: the application
/// connection Secret of an operated cluster.
pub(crate) fn creates_secret(env: &Environment, name: &str) -> bool {
    env.workloads
        .iter()
        .any(|w| operated(env, w) && naming::cnpg_app_secret(&w.name) == name)
}

/// The pods of cluster `name`: every instance, and the jobs that initialise or join one.
fn pods(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            CLUSTER_LABEL.to_owned(),
            name.to_owned(),
        )])),
        ..Default::default()
    }
}

/// A network policy peer of the pods of cluster `name`.
pub(crate) fn peer(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(pods(name)),
        ..Default::default()
    }
}

/// The PgBouncer pods of store `name`'s pooler.
fn pooler_pods(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            POOLER_LABEL.to_owned(),
            naming::cnpg_pooler(name),
        )])),
        ..Default::default()
    }
}

/// What a client of store `w` may connect to: its instances (the `<store>-app` Secret's
/// `uri` names the primary's Service), and its PgBouncer pods when it has a pooler.
pub(crate) fn client_peers(w: &Workload) -> Vec<NetworkPolicyPeer> {
    let mut peers = vec![peer(&w.name)];
    if pooling(w).is_some() {
        peers.push(NetworkPolicyPeer {
            pod_selector: Some(pooler_pods(&w.name)),
            ..Default::default()
        });
    }
    peers
}

/// The backups the spec asks for on `w`.
pub(crate) fn backup(w: &Workload) -> Option<&ir::Backup> {
    match &w.role {
        ir::Role::DataStore(info) => info.backup.as_ref(),
        ir::Role::Service => None,
    }
}

/// The pooling the spec asks for on `w`.
pub(crate) fn pooling(w: &Workload) -> Option<&ir::Pooling> {
    match &w.role {
        ir::Role::DataStore(info) => info.pooling.as_ref(),
        ir::Role::Service => None,
    }
}

fn tcp(port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

/// Instances: the primary and its read replicas.
fn instances(w: &Workload) -> u32 {
    match &w.role {
        ir::Role::DataStore(info) => 1 + info.read_replicas,
        ir::Role::Service => 1,
    }
}

/// Labels the operator sets on its own objects (pods, Services, volume claims) under the
/// Kubernetes recommended `app.kubernetes.io/` keys; plinth's values would contend for them.
const OPERATOR_LABELS: &[&str] = &[
    "app.kubernetes.io/component",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/name",
    "app.kubernetes.io/version",
];

/// The labels of `w`'s objects that the operator's objects inherit: the platform's,
/// environment's and team's, not the ones the operator sets itself.
fn inherited_labels(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> BTreeMap<String, String> {
    let mut labels = naming::workload_labels(&platform.name, env, w);
    labels.retain(|k, _| !OPERATOR_LABELS.contains(&k.as_str()));
    labels
}

/// The `Cluster`'s spec for store `w`.
///
/// Why each field: `imageName` follows the spec's version (the operator's images carry
/// what it needs, unlike the Docker library image); `bootstrap.initdb` creates the database
/// and owner the preset's `POSTGRES_DB` and `POSTGRES_USER` name, so clients written for the
/// StatefulSet connect unchanged; an additional operator-managed Service of the store's own
/// name follows the primary, so the host name they use keeps working; anti-affinity and a
/// zone spread put replicas where one node or zone failure cannot take them all; the PDB
/// keeps a drain from evicting the primary and the last replica at once, and a single
/// instance gets none (its budget would block every drain); the operator's own pod security
/// (non-root UID 26, read-only root, no privilege escalation) is kept, with seccomp stated.
pub(crate) fn cluster_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    resources: Json,
) -> Json {
    let version = match &w.role {
        ir::Role::DataStore(info) => info.version.as_str(),
        ir::Role::Service => "",
    };
    let n = instances(w);
    let mut affinity = json!({
        "enablePodAntiAffinity": true,
        "podAntiAffinityType": "preferred",
        "topologyKey": "kubernetes.io/hostname",
    });
    if let Some(p) = &w.placement {
        affinity["nodeSelector"] = json!({ naming::NODE_GROUP_LABEL: p.group });
        if p.dedicated {
            affinity["tolerations"] = json!([Toleration {
                key: Some(naming::NODE_GROUP_LABEL.to_owned()),
                operator: Some("Equal".to_owned()),
                value: Some(p.group.clone()),
                effect: Some("NoSchedule".to_owned()),
                ..Default::default()
            }]);
        }
    }
    let storage = w.storage.as_ref();
    let mut spec = json!({
        "instances": n,
        "imageName": format!("{IMAGE}:{version}"),
        "inheritedMetadata": { "labels": inherited_labels(platform, env, w) },
        "bootstrap": { "initdb": {
            "database": w.env.get("POSTGRES_DB").map_or("app", String::as_str),
            "owner": w.env.get("POSTGRES_USER").map_or("app", String::as_str),
        } },
        "storage": { "size": format_bytes(storage.map_or(ir::STORAGE, |s| s.size)) },
        "resources": resources,
        "affinity": affinity,
        "enablePDB": n > 1,
        "seccompProfile": { "type": "RuntimeDefault" },
    });
    // With a pooler, the Service of the store's name leads to PgBouncer instead
    // (`pooler_service_spec`).
    if pooling(w).is_none() {
        spec["managed"] = json!({ "services": { "additional": [{
            "selectorType": "rw",
            "serviceTemplate": { "metadata": { "name": w.name } },
        }] } });
    }
    if backup(w).is_some() {
        // WAL goes to the store's ObjectStore as it is written, and base backups too: the
        // instances run as the ServiceAccount whose IAM role may write the bucket.
        spec["serviceAccountName"] = json!(naming::cnpg_service_account(&w.name));
        spec["plugins"] = json!([{
            "name": BARMAN_PLUGIN,
            "isWALArchiver": true,
            "parameters": { "barmanObjectName": naming::cnpg_object_store(&w.name) },
        }]);
    }
    if let ir::Role::DataStore(info) = &w.role {
        if !info.parameters.is_empty() {
            // The spec's server settings; `check` (E013) refuses those the operator fixes.
            spec["postgresql"] = json!({ "parameters": info.parameters });
        }
    }
    if let Some(class) = storage.and_then(|s| s.class.as_ref()) {
        spec["storage"]["storageClass"] = json!(class);
    }
    if n > 1 {
        spec["topologySpreadConstraints"] = json!([TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "topology.kubernetes.io/zone".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(pods(&w.name)),
            ..Default::default()
        }]);
    }
    spec
}

/// The policy of the cluster's pods under the namespace's default deny.
///
/// Why: clients reach PostgreSQL; the instances stream WAL from the primary and call each
/// other's instance manager; the operator, from its own namespace, calls every instance
/// manager and connects to PostgreSQL (its networking guide asks for both ports); and the
/// instance manager reports to the Kubernetes API, whose EKS endpoints are network
/// interfaces in the VPC. Without these, the cluster never becomes ready.
pub(crate) fn policy_spec(
    env: &Environment,
    w: &Workload,
    clients: &[NetworkPolicyPeer],
) -> NetworkPolicySpec {
    let both = || vec![tcp(POSTGRES_PORT), tcp(INSTANCE_MANAGER_PORT)];
    let mut ingress = Vec::new();
    let mut from = clients.to_vec();
    if pooling(w).is_some() {
        from.push(NetworkPolicyPeer {
            pod_selector: Some(pooler_pods(&w.name)),
            ..Default::default()
        });
    }
    if !from.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(from),
            ports: Some(vec![tcp(POSTGRES_PORT)]),
        });
    }
    ingress.push(NetworkPolicyIngressRule {
        from: Some(vec![peer(&w.name)]),
        ports: Some(both()),
    });
    if scraped(env) {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![namespace_peer(&env.cluster.monitoring_namespace)]),
            ports: Some(vec![tcp(METRICS_PORT)]),
        });
    }
    ingress.push(NetworkPolicyIngressRule {
        from: Some(vec![namespace_peer(OPERATOR_NAMESPACE)]),
        ports: Some(both()),
    });
    let mut egress = vec![
        NetworkPolicyEgressRule {
            to: Some(vec![peer(&w.name)]),
            ports: Some(both()),
        },
        api_server(env),
    ];
    if backup(w).is_some() {
        // S3 and STS (the IRSA token exchange) answer on public addresses AWS does not
        // keep stable, so HTTPS is open to any address for the instances that back up.
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: "0.0.0.0/0".to_owned(),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: Some(vec![tcp(API_SERVER_PORT)]),
        });
    }
    NetworkPolicySpec {
        pod_selector: Some(pods(&w.name)),
        policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
        ingress: Some(ingress),
        egress: Some(egress),
    }
}

/// The egress rule to the Kubernetes API, whose EKS endpoints are network interfaces in the
/// VPC: the instance manager and PgBouncer's manager both watch their objects there.
pub(crate) fn api_server(env: &Environment) -> NetworkPolicyEgressRule {
    let cidr = env
        .cloud
        .as_ref()
        .map_or(ir::NETWORK_CIDR, |c| c.network.cidr.as_str());
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: cidr.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ports: Some(vec![tcp(API_SERVER_PORT)]),
    }
}

/// The `Pooler`'s spec: PgBouncer in front of the primary (`type: rw`), with the spec's
/// pool mode and connection limits, as many pods as asked, preferably on different nodes.
pub(crate) fn pooler_spec(w: &Workload, p: &ir::Pooling) -> Json {
    let mut parameters = BTreeMap::new();
    if let Some(n) = p.max_client_conn {
        parameters.insert("max_client_conn", n.to_string());
    }
    if let Some(n) = p.default_pool_size {
        parameters.insert("default_pool_size", n.to_string());
    }
    let mode = match p.mode {
        ir::PoolMode::Session => "session",
        ir::PoolMode::Transaction => "transaction",
    };
    let mut pgbouncer = json!({ "poolMode": mode });
    if !parameters.is_empty() {
        pgbouncer["parameters"] = json!(parameters);
    }
    let mut spec = json!({
        "cluster": { "name": w.name },
        "type": "rw",
        "instances": p.instances,
        "pgbouncer": pgbouncer,
    });
    if p.instances > 1 {
        // One node's loss must not take every PgBouncer with it. The operator fills in the
        // container; the template only adds the scheduling rule.
        spec["template"] = json!({ "spec": {
            "containers": [],
            "affinity": { "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": pooler_pods(&w.name),
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }],
            } },
        } });
    }
    spec
}

/// The Service of the store's own name when it has a pooler: it leads to PgBouncer, so
/// clients that connect to host `<store>` go through the pool.
pub(crate) fn pooler_service_spec(w: &Workload) -> ServiceSpec {
    ServiceSpec {
        type_: Some("ClusterIP".to_owned()),
        selector: pooler_pods(&w.name).match_labels,
        ports: Some(vec![ServicePort {
            name: Some("pgbouncer".to_owned()),
            port: i32::from(POSTGRES_PORT),
            target_port: Some(IntOrString::Int(i32::from(POSTGRES_PORT))),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// The policy of the PgBouncer pods: clients in on 5432, out to the instances on 5432 and to
/// the Kubernetes API.
pub(crate) fn pooler_policy_spec(
    env: &Environment,
    w: &Workload,
    clients: &[NetworkPolicyPeer],
) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(pooler_pods(&w.name)),
        policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
        ingress: (!clients.is_empty()).then(|| {
            vec![NetworkPolicyIngressRule {
                from: Some(clients.to_vec()),
                ports: Some(vec![tcp(POSTGRES_PORT)]),
            }]
        }),
        egress: Some(vec![
            NetworkPolicyEgressRule {
                to: Some(vec![peer(&w.name)]),
                ports: Some(vec![tcp(POSTGRES_PORT)]),
            },
            api_server(env),
        ]),
    }
}

/// The `ObjectStore`'s spec: the store's bucket, credentials from the instances' IAM role,
/// WAL and base backups compressed, and the spec's retention, which the plugin enforces by
/// deleting older backups and the WAL only they needed.
pub(crate) fn object_store_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    b: &ir::Backup,
) -> Json {
    let days = b.retention_ms.div_ceil(86_400_000).max(1);
    json!({
        "configuration": {
            "destinationPath": format!(
                "s3://{}/",
                naming::backup_bucket(&platform.name, &env.name, &w.name)
            ),
            "s3Credentials": { "inheritFromIAMRole": true },
            "wal": { "compression": "gzip" },
            "data": { "compression": "gzip" },
        },
        "retentionPolicy": format!("{days}d"),
    })
}

/// The `ScheduledBackup`'s spec: a base backup through the plugin on the spec's schedule.
/// The operator reads six-field cron expressions, seconds first, so the spec's five-field
/// schedule runs at second 0.
pub(crate) fn scheduled_backup_spec(w: &Workload, schedule: &str) -> Json {
    json!({
        "cluster": { "name": w.name },
        "schedule": format!("0 {schedule}"),
        "method": "plugin",
        "pluginConfiguration": { "name": BARMAN_PLUGIN },
        "backupOwnerReference": "self",
    })
}

/// Every pod of namespace `ns`.
fn namespace_peer(ns: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                ns.to_owned(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Whether the environment's Prometheus (kube-prometheus-stack, with the prometheus-operator
/// CRDs) is installed to scrape the instances.
pub(crate) fn scraped(env: &Environment) -> bool {
    crate::emit::helm::upstream::wants_prometheus(env)
}

/// The `PodMonitor`'s spec: every instance's exporter, with the cluster's name as the
/// `service` label the alert catalogue selects stores by. A PodMonitor rather than the
/// operator's `enablePodMonitor`, which 1.30 deprecates.
pub(crate) fn pod_monitor_spec(w: &Workload) -> Json {
    json!({
        "selector": { "matchLabels": {
            CLUSTER_LABEL: w.name,
            "cnpg.io/podRole": "instance",
        } },
        "podMetricsEndpoints": [{
            "port": "metrics",
            "relabelings": [{
                "sourceLabels": ["__meta_kubernetes_pod_label_cnpg_io_cluster"],
                "targetLabel": "service",
            }],
        }],
    })
}
