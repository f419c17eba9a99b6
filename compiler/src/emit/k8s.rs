//! Raw Kubernetes manifests: a folder per environment, one file per workload plus one for
//! the namespace and its baseline policies, so a pull request's diff shows which workload
//! changed; in an environment with a cloud, also the ExternalSecrets with their
//! ClusterSecretStore and the ClusterIssuer that [`super::cluster`] plans.
//!
//! Objects are k8s-openapi structs for Kubernetes 1.30. Every pod gets the secure defaults:
//! non-root with a high UID, read-only root filesystem (with an emptyDir for `/tmp`), no
//! privilege escalation, all capabilities dropped, seccomp `RuntimeDefault`, no service
//! account token, resource requests and limits.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior,
    HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource,
    ResourceMetricSource,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler,
    LocalObjectReference, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe as K8sProbe, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServiceAccount, ServicePort,
    ServiceSpec, SleepAction, TCPSocketAction, Toleration, Volume as K8sVolume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    ServiceBackendPort,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::{
    backups, cluster, cnpg, gateway, hash_banner, mesh, redis_ha, restore_drill, rollouts, to_yaml,
    to_yaml_after, EmitError, Emitted, Note, OutputFile, Shared, Target,
};
use crate::ir::{self, naming, Environment, Kind, ProbeAction, Replicas, Workload};
use crate::units::{format_bytes, format_cpu, IntOrPercent};

/// Emits the manifests of every environment in `envs`.
pub fn emit(shared: &Shared, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let platform = shared.platform();
    let mut out = Emitted::default();
    for env in envs {
        let mut edges = Edges::new(env);
        edges.mesh = mesh_specs(platform, env);
        out.files.push(OutputFile {
            path: naming::k8s_namespace_file(&env.name),
            contents: format!(
                "{}{}",
                hash_banner(platform),
                namespace_docs(platform, env)?
            ),
        });
        if let Some(message) = super::addons::istio_prerequisite(env) {
            out.notes.push(Note {
                target: Target::K8s,
                message,
            });
        }
        if let Some(message) = env.quota.as_ref().and_then(|q| quota_shortfall(q, env)) {
            out.notes.push(Note {
                target: Target::K8s,
                message,
            });
        }
        let secrets = cluster::secret_plan(platform, env);
        out.notes.extend(
            cluster::secret_notes(env, &secrets)
                .into_iter()
                .chain(cluster::issuer_note(env))
                .map(|message| Note {
                    target: Target::K8s,
                    message,
                }),
        );
        out.notes
            .extend(rollouts::notes(env).into_iter().map(|message| Note {
                target: Target::K8s,
                message,
            }));
        let objects = secret_objects(platform, env, &secrets);
        if !objects.is_empty() {
            out.files.push(OutputFile {
                path: naming::k8s_secrets_file(&env.name),
                contents: to_yaml_after(hash_banner(platform), &objects)?,
            });
        }
        if let Some(edge) = gateway::edge(platform, env) {
            let class = edge.class_spec.clone().map(|spec| CustomObject {
                api_version: gateway::API_VERSION,
                kind: "GatewayClass",
                metadata: cluster_meta(&edge.class, platform, env),
                spec,
            });
            let mut metadata = meta(&edge.name, env, naming::common_labels(&platform.name, env));
            metadata.annotations = gateway::annotations(&edge);
            let gw = CustomObject {
                api_version: gateway::API_VERSION,
                kind: "Gateway",
                metadata,
                spec: gateway::gateway_spec(&edge),
            };
            let mut objects: Vec<Object> = class
                .into_iter()
                .chain([gw])
                .map(|o| Object::Custom(Box::new(o)))
                .collect();
            if let Some((name, spec)) = gateway::wildcard_certificate(&edge) {
                objects.push(Object::Custom(Box::new(CustomObject {
                    api_version: "cert-manager.io/v1",
                    kind: "Certificate",
                    metadata: meta(&name, env, naming::common_labels(&platform.name, env)),
                    spec,
                })));
            }
            for (name, spec) in gateway::redirects(&edge) {
                let mut metadata = meta(&name, env, naming::common_labels(&platform.name, env));
                metadata.annotations = gateway::origin_annotations(env, false);
                objects.push(Object::Custom(Box::new(CustomObject {
                    api_version: gateway::API_VERSION,
                    kind: "HTTPRoute",
                    metadata,
                    spec,
                })));
            }
            objects.extend(
                gateway_policy(
                    platform,
                    env,
                    &edge,
                    naming::common_labels(&platform.name, env),
                )
                .map(|p| Object::NetworkPolicy(Box::new(p))),
            );
            out.files.push(OutputFile {
                path: naming::k8s_gateway_file(&env.name),
                contents: to_yaml_after(hash_banner(platform), &objects)?,
            });
        }
        if let Some(issuer) = cluster::issuer(platform, env) {
            let object = CustomObject {
                api_version: "cert-manager.io/v1",
                kind: "ClusterIssuer",
                metadata: cluster_meta(&issuer.name, platform, env),
                spec: cluster::issuer_spec(&issuer),
            };
            out.files.push(OutputFile {
                path: naming::k8s_issuer_file(&env.name),
                contents: to_yaml_after(hash_banner(platform), &[object])?,
            });
        }
        let dashboards = shared.dashboards(env)?;
        if !dashboards.is_empty() {
            out.files.push(OutputFile {
                path: naming::k8s_dashboards_file(&env.name),
                contents: to_yaml_after(
                    hash_banner(platform),
                    &super::dashboards::config_maps(platform, env, &dashboards),
                )?,
            });
        }
        for m in &env.managed_stores {
            if m.backup.as_ref().is_some_and(|b| b.verify.is_some()) {
                out.notes.push(Note {
                    target: Target::K8s,
                    message: format!(
                        "{}: restore drills (`verify`) of managed `{}` are not generated: the cloud provider's backups are restored with its own tools (AWS Backup restore testing)",
                        env.name, m.name
                    ),
                });
            }
        }
        for w in &env.workloads {
            if cnpg::operated(env, w) {
                if let Some(message) = operated_notes(env, w) {
                    out.notes.push(Note {
                        target: Target::K8s,
                        message,
                    });
                }
            } else if let ir::Role::DataStore(info) = &w.role {
                if let Some(message) = backup_note(env, w) {
                    out.notes.push(Note {
                        target: Target::K8s,
                        message,
                    });
                }
                if info.pooling.is_some() {
                    out.notes.push(Note {
                        target: Target::K8s,
                        message: format!(
                            "{}: in-cluster `{}` runs without its pooler: PgBouncer is generated where the CloudNativePG operator runs the store (an environment with a cloud)",
                            env.name, w.name
                        ),
                    });
                }
                if info.read_replicas > 0 {
                    out.notes.push(Note {
                        target: Target::K8s,
                        message: format!(
                            "{}: in-cluster `{}` runs {} instance(s) without streaming read replicas ({} asked for); use `mode = \"managed\"` or a database operator for replication",
                            env.name, w.name, w.max_replicas(), info.read_replicas
                        ),
                    });
                }
            }
            if !w.image_pull_secrets.is_empty() && env.cloud.is_none() {
                // A prerequisite, not generated: say so where the build summary lists them.
                // With a cloud, ExternalSecrets create them (or the spec declares them
                // external, which `cluster::secret_notes` reports).
                out.notes.push(Note {
                    target: Target::K8s,
                    message: format!(
                        "{}: prerequisite: `{}` pulls its image with Secret(s) {} in namespace `{}`, which plinth does not create",
                        env.name,
                        w.name,
                        w.image_pull_secrets
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        env.namespace
                    ),
                });
            }
            out.files.push(OutputFile {
                path: naming::k8s_workload_file(&env.name, &w.name),
                contents: workload_docs(hash_banner(platform), shared, env, &edges, w)?,
            });
        }
    }
    Ok(out)
}

/// The dependency edges of one environment, indexed once. Each workload's network policy
/// needs its dependencies and its clients; finding them by scanning every workload, for every
/// workload, made emitting quadratic (minutes for a spec of 10,000 services).
struct Edges<'a> {
    /// Workloads by name; the first one, should a name repeat.
    by_name: BTreeMap<&'a str, &'a Workload>,
    /// For each workload, the workloads that depend on it, in the environment's order.
    clients: BTreeMap<&'a str, Vec<&'a Workload>>,
    /// The environment's mesh objects by kind, each by workload name: decided once per
    /// environment, since a policy depends on every workload's dependencies.
    mesh: Vec<(
        &'static str,
        &'static str,
        BTreeMap<String, serde_json::Value>,
    )>,
}

impl<'a> Edges<'a> {
    fn new(env: &'a Environment) -> Edges<'a> {
        let mut edges = Edges {
            by_name: env.workloads_by_name(),
            clients: BTreeMap::new(),
            mesh: Vec::new(),
        };
        for c in &env.workloads {
            for dep in &c.depends_on {
                let list = edges.clients.entry(dep.as_str()).or_default();
                // A client that names the same dependency twice is still one client.
                if !list.last().is_some_and(|l| std::ptr::eq(*l, c)) {
                    list.push(c);
                }
            }
        }
        edges
    }
}

/// Any object of one file, so objects of different kinds serialize into one stream.
#[derive(Serialize)]
#[serde(untagged)]
enum Object {
    Namespace(Box<Namespace>),
    ServiceAccount(Box<ServiceAccount>),
    ConfigMap(Box<ConfigMap>),
    Deployment(Box<Deployment>),
    StatefulSet(Box<StatefulSet>),
    CronJob(Box<CronJob>),
    Job(Box<Job>),
    Service(Box<Service>),
    Hpa(Box<HorizontalPodAutoscaler>),
    Pdb(Box<PodDisruptionBudget>),
    Ingress(Box<Ingress>),
    NetworkPolicy(Box<NetworkPolicy>),
    Custom(Box<CustomObject>),
    Pvc(Box<PersistentVolumeClaim>),
    ResourceQuota(Box<ResourceQuota>),
    LimitRange(Box<LimitRange>),
    Role(Box<Role>),
    RoleBinding(Box<RoleBinding>),
}

/// An object of a custom resource (VerticalPodAutoscaler, ServiceMonitor, ExternalSecret,
/// ClusterSecretStore, ClusterIssuer) that k8s-openapi
/// does not model: typed envelope, spec as built JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomObject {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: serde_json::Value,
}

/// Metadata of a cluster-scoped object of an environment: a name and the common labels.
fn cluster_meta(name: &str, platform: &ir::Platform, env: &Environment) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(naming::common_labels(&platform.name, env)),
        ..Default::default()
    }
}

/// The ClusterSecretStore and the ExternalSecrets of an environment's plan; none without a
/// store.
fn secret_objects(
    platform: &ir::Platform,
    env: &Environment,
    plan: &cluster::SecretPlan,
) -> Vec<CustomObject> {
    let Some(store) = &plan.store else {
        return Vec::new();
    };
    let mut objects = vec![CustomObject {
        api_version: "external-secrets.io/v1",
        kind: "ClusterSecretStore",
        metadata: cluster_meta(&store.name, platform, env),
        spec: cluster::store_spec(store),
    }];
    for u in &plan.secrets {
        objects.push(CustomObject {
            api_version: "external-secrets.io/v1",
            kind: "ExternalSecret",
            metadata: ObjectMeta {
                namespace: Some(u.namespace.clone()),
                ..cluster_meta(&u.name, platform, env)
            },
            spec: cluster::external_secret_spec(&store.name, u),
        });
    }
    objects
}

fn meta(name: &str, env: &Environment, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(env.namespace.clone()),
        labels: Some(labels),
        ..Default::default()
    }
}

fn labelled(key: &str, value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_owned(), value.to_owned())])),
        ..Default::default()
    }
}

fn selector(platform: &ir::Platform, w: &Workload) -> LabelSelector {
    LabelSelector {
        match_labels: Some(naming::selector_labels(&platform.name, w)),
        ..Default::default()
    }
}

fn int_or_string(v: IntOrPercent) -> IntOrString {
    match v {
        IntOrPercent::Int(n) => IntOrString::Int(n as i32),
        IntOrPercent::Percent(p) => IntOrString::String(format!("{p}%")),
    }
}

fn namespace_docs(platform: &ir::Platform, env: &Environment) -> Result<String, EmitError> {
    let labels = naming::common_labels(&platform.name, env);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(env.namespace.clone()),
            labels: Some(naming::namespace_labels(&platform.name, env)),
            ..Default::default()
        },
        ..Default::default()
    };
    // Nothing may talk to or from a pod unless a policy below or a workload's own policy
    // allows it; DNS is the one edge every pod needs.
    let deny = NetworkPolicy {
        metadata: meta("default-deny", env, labels.clone()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ..Default::default()
        }),
    };
    let dns = NetworkPolicy {
        metadata: meta("allow-dns", env, labels),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".to_owned()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(labelled(
                        "kubernetes.io/metadata.name",
                        "kube-system",
                    )),
                    pod_selector: Some(labelled("k8s-app", "kube-dns")),
                    ..Default::default()
                }]),
                ports: Some(
                    ["UDP", "TCP"]
                        .iter()
                        .map(|p| NetworkPolicyPort {
                            port: Some(IntOrString::Int(53)),
                            protocol: Some((*p).to_owned()),
                            ..Default::default()
                        })
                        .collect(),
                ),
            }]),
            ..Default::default()
        }),
    };
    let mut docs = vec![
        Object::Namespace(Box::new(ns)),
        Object::NetworkPolicy(Box::new(deny)),
        Object::NetworkPolicy(Box::new(dns)),
    ];
    if cluster::issuer(platform, env).is_some() {
        docs.push(Object::NetworkPolicy(Box::new(acme_solver_policy(
            env,
            naming::common_labels(&platform.name, env),
        ))));
    }
    if let Some(spec) = mesh::peer_authentication(env) {
        docs.push(Object::Custom(Box::new(CustomObject {
            api_version: mesh::SECURITY_API,
            kind: "PeerAuthentication",
            metadata: meta(
                mesh::PEER_AUTHENTICATION,
                env,
                naming::common_labels(&platform.name, env),
            ),
            spec,
        })));
    }
    if let Some(q) = &env.quota {
        let (quota, limits) = quota_docs(q, env, &naming::common_labels(&platform.name, env));
        docs.push(Object::ResourceQuota(Box::new(quota)));
        docs.push(Object::LimitRange(Box::new(limits)));
    }
    to_yaml(&docs)
}

/// Port of the pod cert-manager starts to answer an ACME HTTP-01 challenge.
const ACME_SOLVER_PORT: i32 = 8089;

/// The policy that lets the ingress controller reach cert-manager's HTTP-01 solver pods.
///
/// Why: to prove a host to Let's Encrypt, cert-manager starts a solver pod (label
/// `acme.cert-manager.io/http01-solver: "true"`, port 8089) in the namespace of the
/// Ingress, and a temporary Ingress routing `/.well-known/acme-challenge/` to it. Under the
/// namespace's default-deny policy the ingress controller could not reach that pod, the
/// challenge would time out and no certificate would ever be issued.
fn acme_solver_policy(env: &Environment, labels: BTreeMap<String, String>) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta("allow-acme-http01-solver", env, labels),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(labelled("acme.cert-manager.io/http01-solver", "true")),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![edge_peer(env)]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(ACME_SOLVER_PORT)),
                    protocol: Some("TCP".to_owned()),
                    ..Default::default()
                }]),
            }]),
            ..Default::default()
        }),
    }
}

/// The namespace's ResourceQuota, and the LimitRange that gives plinth's default requests
/// and limits to a container that sets none: with a quota on limits, the API server rejects
/// any pod without them (a debugging pod, a job run by hand), which plinth's own pods never
/// are.
fn quota_docs(
    q: &ir::Quota,
    env: &Environment,
    labels: &BTreeMap<String, String>,
) -> (ResourceQuota, LimitRange) {
    let quantities = |m: BTreeMap<String, String>| -> BTreeMap<String, Quantity> {
        m.into_iter().map(|(k, v)| (k, Quantity(v))).collect()
    };
    let quota = ResourceQuota {
        metadata: meta(naming::QUOTA, env, labels.clone()),
        spec: Some(ResourceQuotaSpec {
            hard: Some(quantities(quota_hard(q))),
            ..Default::default()
        }),
        ..Default::default()
    };
    let limits = LimitRange {
        metadata: meta(naming::QUOTA, env, labels.clone()),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default: Some(quantities(default_amounts(ir::CPU_LIMIT, ir::MEMORY_LIMIT))),
                default_request: Some(quantities(default_amounts(
                    ir::CPU_REQUEST,
                    ir::MEMORY_REQUEST,
                ))),
                ..Default::default()
            }],
        }),
    };
    (quota, limits)
}

/// What the workloads of `env` need at their maximum scale beyond its quota, as a note for
/// the build summary: the API server refuses the pods past the quota, so an autoscaler
/// stops short of its maximum there, which is worth knowing before the load arrives.
fn quota_shortfall(q: &ir::Quota, env: &Environment) -> Option<String> {
    let (mut cpu, mut memory, mut pods) = (0_i64, 0_i128, 0_u32);
    let (_, sidecar_cpu, _, sidecar_memory) = mesh::SIDECAR_RESOURCES;
    for w in &env.workloads {
        let n = w.max_replicas();
        // A meshed pod's sidecar counts against the quota like the application.
        let (extra_cpu, extra_memory) = if env.meshed(w) {
            (sidecar_cpu, sidecar_memory)
        } else {
            (0, 0)
        };
        cpu += (w.resources.cpu_limit + extra_cpu) * i64::from(n);
        memory += (w.resources.memory_limit + extra_memory) * i128::from(n);
        pods += n;
    }
    // Istio deploys a Gateway's proxy next to it, in the same namespace and quota.
    if env.cluster.edge == ir::Edge::Istio && env.workloads.iter().any(|w| w.ingress.is_some()) {
        let (gateway_cpu, gateway_memory) = mesh::ISTIO_GATEWAY_LIMITS;
        cpu += gateway_cpu;
        memory += gateway_memory;
        pods += 1;
    }
    let mut over = Vec::new();
    if q.cpu.is_some_and(|c| cpu > c) {
        over.push(format!("{} CPU", format_cpu(cpu)));
    }
    if q.memory.is_some_and(|m| memory > m) {
        over.push(format!("{} of memory", format_bytes(memory)));
    }
    if q.pods.is_some_and(|p| pods > p) {
        over.push(format!("{pods} pods"));
    }
    (!over.is_empty()).then(|| {
        format!(
            "{}: at their maximum scale the workloads need {}, more than the namespace quota allows; pods past the quota are refused",
            env.name,
            over.join(", ")
        )
    })
}

/// The `hard` amounts of an environment's ResourceQuota, as Kubernetes quantities; shared
/// with the Helm chart's values, so both render the same object.
pub(crate) fn quota_hard(q: &ir::Quota) -> BTreeMap<String, String> {
    let mut hard = BTreeMap::new();
    if let Some(cpu) = q.cpu {
        hard.insert("limits.cpu".to_owned(), format_cpu(cpu));
    }
    if let Some(memory) = q.memory {
        hard.insert("limits.memory".to_owned(), format_bytes(memory));
    }
    if let Some(pods) = q.pods {
        hard.insert("pods".to_owned(), pods.to_string());
    }
    if let Some(storage) = q.storage {
        hard.insert("requests.storage".to_owned(), format_bytes(storage));
    }
    hard
}

/// CPU and memory as the LimitRange's defaults write them.
pub(crate) fn default_amounts(cpu: i64, memory: i128) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("cpu".to_owned(), format_cpu(cpu)),
        ("memory".to_owned(), format_bytes(memory)),
    ])
}

/// What the build summary says about store `w`, which the operator runs in `env`: what the
/// spec asks for that the generated `Cluster` does not give yet.
fn operated_notes(env: &Environment, w: &Workload) -> Option<String> {
    w.vpa.is_some().then(|| {
        format!(
            "{}: `{}` runs as a CloudNativePG cluster, which sizes its own instances; its vertical autoscaling is not generated",
            env.name, w.name
        )
    })
}

/// The objects of store `w`, which the CloudNativePG operator runs in `env`: the `Cluster`
/// and the network policy of its pods.
fn operated_docs(
    platform: &ir::Platform,
    env: &Environment,
    edges: &Edges<'_>,
    w: &Workload,
    labels: BTreeMap<String, String>,
) -> Vec<Object> {
    let resources = serde_json::to_value(resource_requirements(&w.resources))
        .expect("resource requirements serialize");
    let clients: Vec<NetworkPolicyPeer> = edges
        .clients
        .get(w.name.as_str())
        .into_iter()
        .flatten()
        .map(|c| NetworkPolicyPeer {
            pod_selector: Some(selector(platform, c)),
            ..Default::default()
        })
        .collect();
    let mut docs = vec![
        Object::Custom(Box::new(CustomObject {
            api_version: cnpg::API_VERSION,
            kind: "Cluster",
            metadata: meta(&w.name, env, labels.clone()),
            spec: cnpg::cluster_spec(platform, env, w, resources.clone()),
        })),
        Object::NetworkPolicy(Box::new(NetworkPolicy {
            metadata: meta(&w.name, env, labels.clone()),
            spec: Some(cnpg::policy_spec(env, w, &clients)),
        })),
    ];
    if cnpg::scraped(env) {
        docs.push(Object::Custom(Box::new(CustomObject {
            api_version: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: meta(&w.name, env, labels.clone()),
            spec: cnpg::pod_monitor_spec(w),
        })));
    }
    if let Some(b) = cnpg::backup(w) {
        docs.push(Object::Custom(Box::new(CustomObject {
            api_version: cnpg::OBJECT_STORE_API_VERSION,
            kind: "ObjectStore",
            metadata: meta(&naming::cnpg_object_store(&w.name), env, labels.clone()),
            spec: cnpg::object_store_spec(platform, env, w, b),
        })));
        if let Some(schedule) = &b.schedule {
            docs.push(Object::Custom(Box::new(CustomObject {
                api_version: cnpg::API_VERSION,
                kind: "ScheduledBackup",
                metadata: meta(&w.name, env, labels.clone()),
                spec: cnpg::scheduled_backup_spec(w, schedule),
            })));
        }
    }
    if restore_drill::schedule(env, w).is_some() {
        docs.extend(restore_drill_docs(platform, env, w, resources.clone()));
    }
    if let Some(p) = cnpg::pooling(w) {
        let pooler = naming::cnpg_pooler(&w.name);
        docs.push(Object::Custom(Box::new(CustomObject {
            api_version: cnpg::API_VERSION,
            kind: "Pooler",
            metadata: meta(&pooler, env, labels.clone()),
            spec: cnpg::pooler_spec(w, p),
        })));
        docs.push(Object::Service(Box::new(Service {
            metadata: meta(&w.name, env, labels.clone()),
            spec: Some(cnpg::pooler_service_spec(w)),
            ..Default::default()
        })));
        docs.push(Object::NetworkPolicy(Box::new(NetworkPolicy {
            metadata: meta(&pooler, env, labels),
            spec: Some(cnpg::pooler_policy_spec(env, w, &clients)),
        })));
    }
    docs
}

/// The restore drill of operated store `w` (`restore_drill`): the scratch cluster's manifest
/// in a ConfigMap, the job's ServiceAccount with a Role that may manage `Cluster` objects,
/// the CronJob, and the policies of the job's pods and of the scratch cluster's.
fn restore_drill_docs(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    resources: serde_json::Value,
) -> Vec<Object> {
    let name = naming::restore_drill(&w.name);
    let labels = restore_drill::labels(platform, env, w);
    let manifest = restore_drill::manifest(platform, env, w, resources);
    vec![
        Object::ConfigMap(Box::new(ConfigMap {
            metadata: meta(&name, env, labels.clone()),
            data: Some(BTreeMap::from([(
                restore_drill::MANIFEST_KEY.to_owned(),
                manifest,
            )])),
            ..Default::default()
        })),
        Object::ServiceAccount(Box::new(ServiceAccount {
            metadata: meta(&name, env, labels.clone()),
            // The job mounts its token itself, into the one container that needs it.
            automount_service_account_token: Some(false),
            ..Default::default()
        })),
        Object::Role(Box::new(Role {
            metadata: meta(&name, env, labels.clone()),
            rules: Some(restore_drill::role_rules()),
        })),
        Object::RoleBinding(Box::new(RoleBinding {
            metadata: meta(&name, env, labels.clone()),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "Role".to_owned(),
                name: name.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_owned(),
                name: name.clone(),
                namespace: Some(env.namespace.clone()),
                ..Default::default()
            }]),
        })),
        Object::CronJob(Box::new(CronJob {
            metadata: meta(&name, env, labels.clone()),
            spec: Some(restore_drill::cron_job_spec(platform, env, w)),
            ..Default::default()
        })),
        Object::NetworkPolicy(Box::new(NetworkPolicy {
            metadata: meta(&name, env, labels.clone()),
            spec: Some(restore_drill::job_policy_spec(platform, env, w)),
        })),
        Object::NetworkPolicy(Box::new(NetworkPolicy {
            metadata: meta(&naming::restore_drill_cluster_policy(&w.name), env, labels),
            spec: Some(restore_drill::cluster_policy_spec(env, w)),
        })),
    ]
}

/// The objects of workload `w`, after `head`.
fn workload_docs(
    head: String,
    shared: &Shared,
    env: &Environment,
    edges: &Edges<'_>,
    w: &Workload,
) -> Result<String, EmitError> {
    let platform = shared.platform();
    let labels = naming::workload_labels(&platform.name, env, w);
    if cnpg::operated(env, w) {
        return to_yaml_after(head, &operated_docs(platform, env, edges, w, labels));
    }
    let mut docs = Vec::new();
    // A workload binding a managed bucket runs as the ServiceAccount Terraform annotates
    // with its IAM role (the role's ARN holds the AWS account).
    if w.buckets.is_empty() {
        docs.push(Object::ServiceAccount(Box::new(ServiceAccount {
            metadata: meta(&naming::service_account(w), env, labels.clone()),
            automount_service_account_token: Some(w.security.service_account_token),
            ..Default::default()
        })));
    }
    if !w.config_files.is_empty() {
        docs.push(Object::ConfigMap(Box::new(ConfigMap {
            metadata: meta(&naming::config_map(w), env, labels.clone()),
            data: Some(
                w.config_files
                    .iter()
                    .map(|f| (naming::config_map_key(&f.path), f.content.clone()))
                    .collect(),
            ),
            ..Default::default()
        })));
    }
    let mut template = meshed(
        spread_pod_template(platform, w, &pod_labels(env, w, &labels)),
        env,
        w,
    );
    redis_ha::pod(&mut template, env, w);
    let proxy =
        redis_ha::sentinel(w).map(|_| redis_ha::proxy_deployment_spec(platform, env, w, &template));
    let analysis = rollouts::analysis_template(shared, env, w);
    match w.kind {
        Kind::Cron => docs.push(Object::CronJob(Box::new(CronJob {
            metadata: ObjectMeta {
                annotations: naming::depends_on_annotation(w),
                ..meta(&w.name, env, labels.clone())
            },
            spec: Some(CronJobSpec {
                schedule: w.schedule.clone().unwrap_or_default(),
                concurrency_policy: Some("Forbid".to_owned()),
                job_template: JobTemplateSpec {
                    spec: Some(JobSpec {
                        backoff_limit: Some(3),
                        template: run_to_completion(template),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        }))),
        Kind::Stateful => docs.push(Object::StatefulSet(Box::new(StatefulSet {
            metadata: ObjectMeta {
                annotations: naming::depends_on_annotation(w),
                ..meta(&w.name, env, labels.clone())
            },
            spec: Some(StatefulSetSpec {
                replicas: fixed_replicas(w),
                selector: selector(platform, w),
                service_name: Some(redis_ha::governing_service(w)),
                template,
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: Some("RollingUpdate".to_owned()),
                    rolling_update: Some(RollingUpdateStatefulSetStrategy {
                        partition: Some(0),
                        ..Default::default()
                    }),
                }),
                volume_claim_templates: w.storage.as_ref().map(|s| {
                    vec![PersistentVolumeClaim {
                        metadata: ObjectMeta {
                            name: Some("data".to_owned()),
                            ..Default::default()
                        },
                        spec: Some(PersistentVolumeClaimSpec {
                            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                            storage_class_name: s.class.clone(),
                            resources: Some(VolumeResourceRequirements {
                                requests: Some(BTreeMap::from([(
                                    "storage".to_owned(),
                                    Quantity(format_bytes(s.size)),
                                )])),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))),
        Kind::Job => docs.push(Object::Job(Box::new(Job {
            metadata: ObjectMeta {
                annotations: Some(naming::job_hook_annotations()),
                ..meta(&job_name(platform, env, w), env, labels.clone())
            },
            spec: Some(JobSpec {
                // Kubernetes' default: room to wait for a dependency that is still starting.
                backoff_limit: Some(6),
                ttl_seconds_after_finished: Some(naming::JOB_TTL_SECONDS),
                template: run_to_completion(template),
                ..Default::default()
            }),
            ..Default::default()
        }))),
        Kind::Web | Kind::Worker if w.rollout.progressive() => {
            let mut spec = serde_json::json!({
                "selector": selector(platform, w),
                "template": template,
                "strategy": rollouts::strategy(env, w, analysis.is_some()),
            });
            if let Some(n) = fixed_replicas(w) {
                spec["replicas"] = n.into();
            }
            docs.push(Object::Custom(Box::new(CustomObject {
                api_version: rollouts::API_VERSION,
                kind: "Rollout",
                metadata: ObjectMeta {
                    annotations: naming::depends_on_annotation(w),
                    ..meta(&w.name, env, labels.clone())
                },
                spec,
            })));
        }
        Kind::Web | Kind::Worker => docs.push(Object::Deployment(Box::new(Deployment {
            metadata: ObjectMeta {
                annotations: naming::depends_on_annotation(w),
                ..meta(&w.name, env, labels.clone())
            },
            spec: Some(DeploymentSpec {
                replicas: fixed_replicas(w),
                selector: selector(platform, w),
                template,
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".to_owned()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(int_or_string(w.rollout.max_surge)),
                        max_unavailable: Some(int_or_string(w.rollout.max_unavailable)),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))),
    }
    if let Some(proxy) = proxy {
        let clients: Vec<&Workload> = edges
            .clients
            .get(w.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .collect();
        docs.extend(replicated_redis_docs(platform, env, &clients, w, proxy));
    }
    // The workload's Service (a replicated Redis has its own, above), and a progressive
    // workload's second one (canary or preview), which selects the same pods until Argo
    // Rollouts narrows it to the new version's.
    for name in std::iter::once(w.name.clone())
        .filter(|_| !w.ports.is_empty() && redis_ha::sentinel(w).is_none())
        .chain(rollouts::second_service(w))
    {
        docs.push(Object::Service(Box::new(Service {
            metadata: meta(&name, env, labels.clone()),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                // A StatefulSet's governing Service is headless so each pod gets a stable name.
                cluster_ip: (w.kind == Kind::Stateful).then(|| "None".to_owned()),
                // A clustered store's peers find each other by those names before they are
                // Ready: a joining Qdrant node becomes Ready only once the leader reaches it
                // at `<pod>.<store>`, which would otherwise not resolve until it is Ready, so
                // the cluster could never form. Qdrant's own chart publishes its headless
                // Service's addresses the same way.
                publish_not_ready_addresses: w.peer_port.is_some().then_some(true),
                selector: Some(naming::selector_labels(&platform.name, w)),
                ports: Some(
                    w.service_ports()
                        .map(|p| ServicePort {
                            name: Some(p.name.clone()),
                            port: i32::from(p.port),
                            target_port: Some(IntOrString::String(p.name.clone())),
                            protocol: Some(protocol(p)),
                            ..Default::default()
                        })
                        .chain(merged_metrics_port(env, w))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        })));
    }
    if let Some(spec) = analysis {
        docs.push(Object::Custom(Box::new(CustomObject {
            api_version: rollouts::API_VERSION,
            kind: "AnalysisTemplate",
            metadata: meta(&naming::analysis_template(w), env, labels.clone()),
            spec,
        })));
    }
    if let Replicas::Auto(a) = &w.replicas {
        docs.push(Object::Hpa(Box::new(hpa(env, w, a, labels.clone()))));
    }
    if let Some(b) = w.disruption_budget {
        let (min_available, max_unavailable) = match b {
            ir::Budget::MinAvailable(v) => (Some(int_or_string(v)), None),
            ir::Budget::MaxUnavailable(v) => (None, Some(int_or_string(v))),
        };
        docs.push(Object::Pdb(Box::new(PodDisruptionBudget {
            metadata: meta(&w.name, env, labels.clone()),
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(selector(platform, w)),
                min_available,
                max_unavailable,
                ..Default::default()
            }),
            ..Default::default()
        })));
    }
    if let Some(i) = &w.ingress {
        match gateway::edge(platform, env) {
            Some(edge) => {
                let mut metadata = meta(&w.name, env, labels.clone());
                metadata.annotations = gateway::origin_annotations(env, false);
                docs.push(Object::Custom(Box::new(CustomObject {
                    api_version: gateway::API_VERSION,
                    kind: "HTTPRoute",
                    metadata,
                    spec: gateway::route_spec(&edge, w, i),
                })))
            }
            None => docs.push(Object::Ingress(Box::new(ingress(
                env,
                w,
                i,
                labels.clone(),
            )))),
        }
    }
    if let Some(mode) = w.vpa {
        docs.push(Object::Custom(Box::new(vpa(env, w, mode, labels.clone()))));
    }
    if let (Some(m), false, false) = (&w.metrics, w.ports.is_empty(), proxy_run(w)) {
        docs.push(Object::Custom(Box::new(service_monitor(
            platform,
            env,
            w,
            m,
            labels.clone(),
        ))));
    }
    if let Some(np) = network_policy(platform, env, edges, w, labels.clone()) {
        docs.push(Object::NetworkPolicy(Box::new(np)));
    }
    docs.extend(mesh_docs(env, edges, w, &labels));
    docs.extend(backup_docs(platform, env, w));
    to_yaml_after(head, &docs)
}

/// Whether `w` is a Redis replicated with Sentinel, whose Services, proxy and monitor are
/// `redis_ha`'s.
fn proxy_run(w: &Workload) -> bool {
    redis_ha::sentinel(w).is_some()
}

/// The objects of a replicated Redis beyond its StatefulSet, as JSON: what the Helm chart
/// renders from its values (`redisFailover.objects`), so both targets give the same.
pub(crate) fn replicated_redis_json(
    platform: &ir::Platform,
    env: &Environment,
    clients: &[&Workload],
    w: &Workload,
    proxy: DeploymentSpec,
) -> Vec<serde_json::Value> {
    replicated_redis_docs(platform, env, clients, w, proxy)
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect()
}

/// The objects of a replicated Redis beyond its StatefulSet (`redis_ha`): the headless
/// Service of its pods, the store's Service leading to the proxy, the proxy's ConfigMap,
/// Deployment, disruption budget and NetworkPolicy, and the PodMonitor of the Redis pods.
fn replicated_redis_docs(
    platform: &ir::Platform,
    env: &Environment,
    clients: &[&Workload],
    w: &Workload,
    proxy: DeploymentSpec,
) -> Vec<Object> {
    let labels = naming::workload_labels(&platform.name, env, w);
    let proxy_labels = redis_ha::proxy_labels(platform, env, w);
    let name = naming::redis_proxy(&w.name);
    let clients: Vec<NetworkPolicyPeer> = clients
        .iter()
        .map(|c| NetworkPolicyPeer {
            pod_selector: Some(selector(platform, c)),
            ..Default::default()
        })
        .collect();
    let monitor = redis_ha::pod_monitor_spec(platform, w).map(|spec| {
        Object::Custom(Box::new(CustomObject {
            api_version: "monitoring.coreos.com/v1",
            kind: "PodMonitor",
            metadata: meta(&w.name, env, labels.clone()),
            spec,
        }))
    });
    let mut docs = vec![
        Object::Service(Box::new(Service {
            metadata: meta(&naming::redis_nodes_service(&w.name), env, labels),
            spec: Some(redis_ha::nodes_service_spec(platform, w)),
            ..Default::default()
        })),
        Object::Service(Box::new(Service {
            metadata: meta(&w.name, env, proxy_labels.clone()),
            spec: Some(redis_ha::service_spec(platform, w)),
            ..Default::default()
        })),
        Object::ConfigMap(Box::new(ConfigMap {
            metadata: meta(&name, env, proxy_labels.clone()),
            data: Some(BTreeMap::from([(
                "haproxy.cfg".to_owned(),
                redis_ha::proxy_config(env, w),
            )])),
            ..Default::default()
        })),
        Object::Deployment(Box::new(Deployment {
            metadata: meta(&name, env, proxy_labels.clone()),
            spec: Some(proxy),
            ..Default::default()
        })),
        Object::Pdb(Box::new(PodDisruptionBudget {
            metadata: meta(&name, env, proxy_labels.clone()),
            spec: Some(redis_ha::proxy_budget_spec(platform, w)),
            ..Default::default()
        })),
        Object::NetworkPolicy(Box::new(NetworkPolicy {
            metadata: meta(&name, env, proxy_labels),
            spec: Some(redis_ha::proxy_policy_spec(platform, env, w, &clients)),
        })),
    ];
    docs.extend(monitor);
    docs
}

/// What the k8s and Helm outputs do not give of the backups the spec asks for on the
/// in-cluster store `w` that CloudNativePG does not run, if anything: without a cloud there
/// is no bucket, so a dump stays in a volume of the namespace (lost with it) or is not made;
/// continuous archiving needs a database operator or a managed store.
fn backup_note(env: &Environment, w: &Workload) -> Option<String> {
    let ir::Role::DataStore(info) = &w.role else {
        return None;
    };
    let backup = info.backup.as_ref()?;
    if backups::offsite(env, w) {
        return None;
    }
    if backup.verify.is_some() {
        // Said apart from the backups themselves, which may still be generated.
        return Some(format!(
            "{}: restore drills (`verify`) of in-cluster `{}` are not generated: they restore through CloudNativePG, which runs the store where there is a cloud{}",
            env.name,
            w.name,
            backup_note_rest(env, w, backup)
                .map(|m| format!("; its backups {m}"))
                .unwrap_or_default()
        ));
    }
    backup_note_rest(env, w, backup)
        .map(|why| format!("{}: backups of in-cluster `{}` {why}", env.name, w.name))
}

/// What [`backup_note`] says of the backups themselves, if anything. Continuous archiving
/// asked for beside a schedule is said too: the dumps do not stand in for it.
fn backup_note_rest(env: &Environment, w: &Workload, backup: &ir::Backup) -> Option<String> {
    let why = scheduled_backup_note(env, w, backup);
    if backup.continuous && backup.schedule.is_some() {
        return Some(format!(
            "{why}; continuous archiving (`continuous = true`) is not generated: it needs `mode = \"managed\"` or an environment with a cloud, where CloudNativePG archives the WAL to its bucket"
        ));
    }
    Some(why.to_owned())
}

/// What [`backup_note_rest`] says of the scheduled backups.
fn scheduled_backup_note(env: &Environment, w: &Workload, backup: &ir::Backup) -> &'static str {
    if backup.schedule.is_none() {
        "are not generated: continuous archiving needs `mode = \"managed\"` or a database operator"
    } else if backup_plan(env, w).is_some() {
        "stay in the cluster: they are dumps into a volume of the namespace, lost with it; off-cluster backups need an environment with a cloud, whose Terraform makes the bucket"
    } else if backups::dumpable(w) {
        "are not generated: off-cluster backups need an environment with a cloud, whose Terraform makes the bucket"
    } else {
        "are not generated: no dump tool is known for this engine; use volume snapshots"
    }
}

/// The dump command of an engine plinth can back up in-cluster, if any.
fn backup_engine(w: &Workload) -> Option<&'static str> {
    let ir::Role::DataStore(info) = &w.role else {
        return None;
    };
    info.backup.as_ref()?.schedule.as_ref()?;
    match info.engine.as_str() {
        "postgres" => Some("postgres"),
        "redis" => Some("redis"),
        _ => None,
    }
}

/// What the backup job of an in-cluster data store runs: its schedule, a shell script that
/// dumps the store into `/backups` and prunes dumps older than the retention, the plain
/// environment and the secret references the dump authenticates with. The Helm target's
/// chart runs the same job, so both read it from here.
pub(crate) struct BackupPlan {
    /// Cron schedule.
    pub schedule: String,
    /// The script, run by `/bin/sh -c`.
    pub script: String,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Environment variables from secrets.
    pub secrets: BTreeMap<String, ir::SecretRef>,
}

/// The in-namespace backup job of `w`, when it is a data store with a backup schedule and an
/// engine plinth knows how to dump, in an environment without a cloud (with one, backups
/// leave the cluster: `backups`).
pub(crate) fn backup_plan(env: &Environment, w: &Workload) -> Option<BackupPlan> {
    if env.cloud.is_some() {
        return None;
    }
    let engine = backup_engine(w)?;
    let ir::Role::DataStore(info) = &w.role else {
        return None;
    };
    let backup = info.backup.as_ref()?;
    let days = backup.retention_ms.div_ceil(86_400_000).max(1);
    let port = w.ports.first().map_or(0, |p| p.port);
    let mut env = BTreeMap::new();
    let script = match engine {
        "postgres" => {
            env.insert("PGHOST".to_owned(), w.name.clone());
            env.insert("PGPORT".to_owned(), port.to_string());
            format!(
                "pg_dump --format=custom --file=/backups/{n}-$(date +%Y%m%dT%H%M%S).dump && find /backups -name '{n}-*.dump' -mtime +{days} -delete",
                n = w.name
            )
        }
        _ => format!(
            "redis-cli -h {n} -p {port} --rdb /backups/{n}-$(date +%Y%m%dT%H%M%S).rdb && find /backups -name '{n}-*.rdb' -mtime +{days} -delete",
            n = w.name
        ),
    };
    // The dump authenticates the way the server is configured: same user, database and
    // password references.
    for (from, to) in [("POSTGRES_USER", "PGUSER"), ("POSTGRES_DB", "PGDATABASE")] {
        if let Some(v) = w.env.get(from) {
            env.insert(to.to_owned(), v.clone());
        }
    }
    let secrets = w
        .secrets
        .get("POSTGRES_PASSWORD")
        .map(|r| ("PGPASSWORD".to_owned(), r.clone()))
        .into_iter()
        .collect();
    Some(BackupPlan {
        schedule: backup.schedule.clone().unwrap_or_default(),
        script,
        env,
        secrets,
    })
}

/// A CronJob that dumps an in-cluster data store on its backup schedule into a dedicated
/// volume and prunes dumps older than the retention, with the network edges it needs. The
/// job uses the store's own image, so the client tools match the server version.
fn backup_docs(platform: &ir::Platform, env: &Environment, w: &Workload) -> Vec<Object> {
    if backups::offsite(env, w) {
        return offsite_backup_docs(platform, env, w);
    }
    let Some(plan) = backup_plan(env, w) else {
        return Vec::new();
    };
    let name = naming::backup_job(&w.name);
    let volume = naming::backup_volume(&w.name);
    let mut labels = naming::workload_labels(&platform.name, env, w);
    labels.extend(naming::backup_selector_labels(&platform.name, &w.name));
    labels.insert(
        "app.kubernetes.io/component".to_owned(),
        "backup".to_owned(),
    );
    let vars = env_vars(&plan.env, &plan.secrets);
    let s = &w.security;
    let r = &w.resources;
    let container = Container {
        name: name.clone(),
        image: Some(w.image.clone()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            plan.script.clone(),
        ]),
        env: Some(vars),
        resources: Some(resource_requirements(r)),
        security_context: Some(container_security(s)),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "backups".to_owned(),
                mount_path: "/backups".to_owned(),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let pod = PodSpec {
        service_account_name: Some(naming::service_account(w)),
        automount_service_account_token: Some(false),
        restart_policy: Some("OnFailure".to_owned()),
        security_context: Some(pod_security(s)),
        containers: vec![container],
        volumes: Some(vec![
            K8sVolume {
                name: "backups".to_owned(),
                persistent_volume_claim: Some(
                    k8s_openapi::api::core::v1::PersistentVolumeClaimVolumeSource {
                        claim_name: volume.clone(),
                        read_only: Some(false),
                    },
                ),
                ..Default::default()
            },
            K8sVolume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let pvc = PersistentVolumeClaim {
        metadata: meta(&volume, env, labels.clone()),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: w.storage.as_ref().and_then(|st| st.class.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(format_bytes(
                        w.storage.as_ref().map_or(ir::STORAGE, |st| st.size),
                    )),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let job = CronJob {
        metadata: ObjectMeta {
            annotations: Some(backups::annotations(w)),
            ..meta(&name, env, labels.clone())
        },
        spec: Some(CronJobSpec {
            schedule: plan.schedule.clone(),
            concurrency_policy: Some("Forbid".to_owned()),
            job_template: JobTemplateSpec {
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(labels.clone()),
                            ..Default::default()
                        }),
                        spec: Some(pod),
                    },
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let policy = NetworkPolicy {
        metadata: meta(&name, env, labels),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(naming::backup_selector_labels(&platform.name, &w.name)),
                ..Default::default()
            }),
            policy_types: Some(vec!["Egress".to_owned()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(
                    std::iter::once(NetworkPolicyPeer {
                        pod_selector: Some(selector(platform, w)),
                        ..Default::default()
                    })
                    .chain(proxy_run(w).then(|| redis_ha::proxy_peer(platform, w)))
                    .collect(),
                ),
                // Every port the store's Service publishes, its exporter's included: the job
                // declares that it depends on the store, and the proof checks them all.
                ports: Some(
                    w.service_ports()
                        .map(|p| NetworkPolicyPort {
                            port: Some(IntOrString::Int(i32::from(p.port))),
                            protocol: Some(protocol(p)),
                            ..Default::default()
                        })
                        .collect(),
                ),
            }]),
            ..Default::default()
        }),
    };
    vec![
        Object::Pvc(Box::new(pvc)),
        Object::CronJob(Box::new(job)),
        Object::NetworkPolicy(Box::new(policy)),
    ]
}

/// The off-cluster backup of `w` (`backups`): its CronJob, which declares that it depends
/// on the store, and its NetworkPolicy.
fn offsite_backup_docs(platform: &ir::Platform, env: &Environment, w: &Workload) -> Vec<Object> {
    let name = naming::backup_job(&w.name);
    let labels = backups::labels(platform, env, w);
    vec![
        Object::CronJob(Box::new(CronJob {
            metadata: ObjectMeta {
                annotations: Some(backups::annotations(w)),
                ..meta(&name, env, labels.clone())
            },
            spec: Some(backups::cron_job_spec(platform, env, w)),
            ..Default::default()
        })),
        Object::NetworkPolicy(Box::new(NetworkPolicy {
            metadata: meta(&name, env, labels),
            spec: Some(backups::policy_spec(platform, w)),
        })),
    ]
}

fn protocol(p: &ir::Port) -> String {
    match p.protocol {
        ir::Protocol::Tcp => "TCP".to_owned(),
        ir::Protocol::Udp => "UDP".to_owned(),
    }
}

fn fixed_replicas(w: &Workload) -> Option<i32> {
    // When an autoscaler owns the workload, `replicas` is left out so applies never reset it.
    match w.replicas {
        Replicas::Fixed(n) => Some(n as i32),
        Replicas::Auto(_) => None,
    }
}

fn pod_template(w: &Workload, labels: &BTreeMap<String, String>) -> PodTemplateSpec {
    let s = &w.security;
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if s.read_only_root_filesystem {
        volumes.push(K8sVolume {
            name: "tmp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..Default::default()
        });
    }
    for v in &w.volumes {
        volumes.push(K8sVolume {
            name: v.name.clone(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: v.size.map(|b| Quantity(format_bytes(b))),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: v.name.clone(),
            mount_path: v.path.clone(),
            ..Default::default()
        });
    }
    if !w.config_files.is_empty() {
        volumes.push(K8sVolume {
            name: "config".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: naming::config_map(w),
                ..Default::default()
            }),
            ..Default::default()
        });
        for f in &w.config_files {
            mounts.push(VolumeMount {
                name: "config".to_owned(),
                mount_path: f.path.clone(),
                sub_path: Some(naming::config_map_key(&f.path)),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }
    if let (Some(st), Kind::Stateful) = (&w.storage, w.kind) {
        mounts.push(VolumeMount {
            name: "data".to_owned(),
            mount_path: st.path.clone(),
            ..Default::default()
        });
    }
    let env = env_vars(&w.env, &w.secrets);
    let r = &w.resources;
    let container = Container {
        name: w.name.clone(),
        image: Some(w.image.clone()),
        // `Always` re-checks registry credentials on every start; a pinned tag keeps it cheap.
        image_pull_policy: Some("Always".to_owned()),
        command: (!w.command.is_empty()).then(|| w.command.clone()),
        args: (!w.args.is_empty()).then(|| w.args.clone()),
        ports: (!w.ports.is_empty()).then(|| {
            w.ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: i32::from(p.port),
                    protocol: Some(protocol(p)),
                    ..Default::default()
                })
                .collect()
        }),
        env: (!env.is_empty()).then_some(env),
        resources: Some(resource_requirements(r)),
        liveness_probe: w.probes.liveness.as_ref().map(probe),
        readiness_probe: w.probes.readiness.as_ref().map(probe),
        startup_probe: w.probes.startup.as_ref().map(probe),
        security_context: Some(container_security(s)),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        // Kept serving while the endpoints controller takes the pod out of its Service, so
        // requests already routed to it are not refused.
        lifecycle: w.shutdown.drain_s.map(|seconds| Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: i64::from(seconds),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Init containers share the workload's environment, limits, mounts and hardening: they
    // typically prepare what it needs (wait for a store, render a file), with its access.
    let init: Vec<Container> = w
        .init
        .iter()
        .map(|c| Container {
            name: c.name.clone(),
            image: Some(c.image.clone()),
            image_pull_policy: container.image_pull_policy.clone(),
            command: Some(c.command.clone()),
            env: container.env.clone(),
            resources: container.resources.clone(),
            security_context: container.security_context.clone(),
            volume_mounts: container.volume_mounts.clone(),
            ..Default::default()
        })
        .collect();
    // Sidecars run with the workload's hardening (a read-only root filesystem needs no
    // mount: an exporter writes nothing), their own limits and their own port.
    let sidecars = w.sidecars.iter().map(|c| {
        let env = env_vars(&c.env, &c.secrets);
        Container {
            name: c.name.clone(),
            image: Some(c.image.clone()),
            image_pull_policy: container.image_pull_policy.clone(),
            ports: Some(vec![ContainerPort {
                name: Some(c.port.name.clone()),
                container_port: i32::from(c.port.port),
                protocol: Some(protocol(&c.port)),
                ..Default::default()
            }]),
            env: (!env.is_empty()).then_some(env),
            resources: Some(resource_requirements(&c.resources)),
            liveness_probe: Some(sidecar_probe(c)),
            readiness_probe: Some(sidecar_probe(c)),
            security_context: container.security_context.clone(),
            ..Default::default()
        }
    });
    let containers: Vec<Container> = std::iter::once(container.clone()).chain(sidecars).collect();
    let mut annotations = w.annotations.clone();
    annotations.extend(scrape_annotations(w).into_iter().flatten());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(naming::service_account(w)),
            automount_service_account_token: Some(s.service_account_token),
            security_context: Some(pod_security(s)),
            init_containers: (!init.is_empty()).then_some(init),
            containers,
            volumes: (!volumes.is_empty()).then_some(volumes),
            node_selector: w
                .placement
                .as_ref()
                .map(|p| BTreeMap::from([(naming::NODE_GROUP_LABEL.to_owned(), p.group.clone())])),
            tolerations: w.placement.as_ref().filter(|p| p.dedicated).map(|p| {
                vec![Toleration {
                    key: Some(naming::NODE_GROUP_LABEL.to_owned()),
                    operator: Some("Equal".to_owned()),
                    value: Some(p.group.clone()),
                    effect: Some("NoSchedule".to_owned()),
                    ..Default::default()
                }]
            }),
            image_pull_secrets: (!w.image_pull_secrets.is_empty()).then(|| {
                w.image_pull_secrets
                    .iter()
                    .map(|n| LocalObjectReference { name: n.clone() })
                    .collect()
            }),
            termination_grace_period_seconds: w.shutdown.grace_s.map(i64::from),
            ..Default::default()
        }),
    }
}

/// A sidecar's probe: an HTTP GET of its health path on its port.
fn sidecar_probe(c: &ir::Sidecar) -> K8sProbe {
    K8sProbe {
        http_get: Some(HTTPGetAction {
            path: Some(c.health_path.clone()),
            port: IntOrString::String(c.port.name.clone()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    }
}

/// A pod template for a Job or CronJob: its container is restarted on failure, where a
/// long-running workload's pods always restart.
/// A workload's pod template with its spread over nodes and zones: what its Deployment,
/// StatefulSet, CronJob or Job runs.
pub(crate) fn spread_pod_template(
    platform: &ir::Platform,
    w: &Workload,
    labels: &BTreeMap<String, String>,
) -> PodTemplateSpec {
    let mut template = pod_template(w, labels);
    if let Some(spec) = template.spec.as_mut() {
        spec.topology_spread_constraints = topology_spread(platform, w);
    }
    template
}

/// `template` with the annotations that size a meshed workload's sidecar
/// ([`mesh::sidecar_annotations`]), which the Helm chart renders from its values too.
fn meshed(mut template: PodTemplateSpec, env: &Environment, w: &Workload) -> PodTemplateSpec {
    let sidecar = mesh::sidecar_annotations(env, w);
    if !sidecar.is_empty() {
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.annotations
            .get_or_insert_with(Default::default)
            .extend(sidecar);
    }
    template
}

/// The labels of a workload's pods: its own, and the mesh's injection opt-in when it runs
/// in the mesh.
fn pod_labels(
    env: &Environment,
    w: &Workload,
    labels: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = labels.clone();
    out.extend(mesh::pod_labels(env, w));
    out
}

/// Name of a `job` workload's Job in `env`: its name and a hash of what it runs, the Job's
/// pod template and the config files mounted into it. A Job's pod template cannot change
/// once created, so a changed job is a new Job (the finished one expires), while an
/// unchanged one keeps its name and is not run again.
///
/// Why the generated template and not the model: a hash of the whole workload changed with
/// anything about it (an alert threshold, a field a new plinth version adds), so a
/// migration would run again on a change that does not touch it. The Helm values name the
/// Job with this same function, so the chart renders the same name.
pub(crate) fn job_name(platform: &ir::Platform, env: &Environment, w: &Workload) -> String {
    let labels = naming::workload_labels(&platform.name, env, w);
    let template = run_to_completion(meshed(
        spread_pod_template(platform, w, &pod_labels(env, w, &labels)),
        env,
        w,
    ));
    let config: Vec<(&str, &str)> = w
        .config_files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_str()))
        .collect();
    // k8s-openapi's types serialize their maps sorted, so the bytes depend on the values
    // only. Serializing a value of owned, plain types cannot fail; the empty fallback would
    // still name the Job deterministically.
    let bytes = serde_json::to_vec(&(&template, &config)).unwrap_or_default();
    naming::job(&w.name, &bytes)
}

fn run_to_completion(template: PodTemplateSpec) -> PodTemplateSpec {
    PodTemplateSpec {
        spec: template.spec.map(|s| PodSpec {
            restart_policy: Some("OnFailure".to_owned()),
            ..s
        }),
        ..template
    }
}

/// Plain variables and secret references as one list sorted by name; secrets are
/// `secretKeyRef`s, never values. A value that reads another variable (`$(VAR)`, as a bound
/// connection string reads its store's password) comes after the others, because Kubernetes
/// expands only variables defined earlier in the list.
fn env_vars(
    plain: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, ir::SecretRef>,
) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = plain
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            ..Default::default()
        })
        .collect();
    vars.extend(secrets.iter().map(|(k, r)| EnvVar {
        name: k.clone(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: r.secret.clone(),
                key: r.key.clone(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
    vars.sort_by(|a, b| (reads_variable(a), &a.name).cmp(&(reads_variable(b), &b.name)));
    vars
}

/// Whether a variable's value reads another one (`$(VAR)`).
fn reads_variable(v: &EnvVar) -> bool {
    v.value.as_deref().is_some_and(|v| v.contains("$("))
}

/// Requests and limits as Kubernetes quantities.
pub(crate) fn resource_requirements(r: &ir::Resources) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(format_cpu(r.cpu_request))),
            (
                "memory".to_owned(),
                Quantity(format_bytes(r.memory_request)),
            ),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(format_cpu(r.cpu_limit))),
            ("memory".to_owned(), Quantity(format_bytes(r.memory_limit))),
        ])),
        ..Default::default()
    }
}

/// The container-level half of the secure defaults.
fn container_security(s: &ir::Security) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(s.read_only_root_filesystem),
        run_as_non_root: Some(!s.allow_root),
        run_as_user: Some(s.run_as_user),
        run_as_group: Some(s.run_as_user),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: (!s.add_capabilities.is_empty()).then(|| s.add_capabilities.clone()),
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pod-level half of the secure defaults.
fn pod_security(s: &ir::Security) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(!s.allow_root),
        run_as_user: Some(s.run_as_user),
        run_as_group: Some(s.run_as_user),
        fs_group: Some(s.run_as_user),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn scrape_annotations(w: &Workload) -> Option<BTreeMap<String, String>> {
    let m = w.metrics.as_ref()?;
    Some(BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/path".to_owned(), m.path.clone()),
        ("prometheus.io/port".to_owned(), m.port.port.to_string()),
    ]))
}

fn probe(p: &ir::Probe) -> K8sProbe {
    let mut out = K8sProbe {
        initial_delay_seconds: (p.initial_delay > 0).then_some(p.initial_delay as i32),
        period_seconds: Some(p.period as i32),
        timeout_seconds: Some(p.timeout as i32),
        failure_threshold: Some(p.failure_threshold as i32),
        ..Default::default()
    };
    match &p.action {
        ProbeAction::Http { path, port } => {
            out.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::String(port.name.clone()),
                ..Default::default()
            })
        }
        ProbeAction::Exec(cmd) => {
            out.exec = Some(ExecAction {
                command: Some(cmd.clone()),
            })
        }
        ProbeAction::Tcp(port) => {
            out.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::String(port.name.clone()),
                ..Default::default()
            })
        }
    }
    out
}

fn hpa(
    env: &Environment,
    w: &Workload,
    a: &ir::Autoscaler,
    labels: BTreeMap<String, String>,
) -> HorizontalPodAutoscaler {
    let mut metrics = Vec::new();
    for (name, target) in [("cpu", a.cpu), ("memory", a.memory)] {
        if let Some(t) = target {
            metrics.push(MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: name.to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(t as i32),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            });
        }
    }
    for (name, value) in &a.pod_metrics {
        metrics.push(MetricSpec {
            type_: "Pods".to_owned(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: name.clone(),
                    ..Default::default()
                },
                target: MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(Quantity(value.clone())),
                    ..Default::default()
                },
            }),
            ..Default::default()
        });
    }
    let rules = |b: &ir::Behavior| HPAScalingRules {
        stabilization_window_seconds: b.stabilization_seconds.map(|s| s as i32),
        select_policy: Some(
            match b.select {
                ir::SelectPolicy::Max => "Max",
                ir::SelectPolicy::Min => "Min",
                ir::SelectPolicy::Disabled => "Disabled",
            }
            .to_owned(),
        ),
        policies: (!b.policies.is_empty()).then(|| {
            b.policies
                .iter()
                .map(|p| HPAScalingPolicy {
                    type_: match p.kind {
                        ir::PolicyKind::Percent => "Percent",
                        ir::PolicyKind::Pods => "Pods",
                    }
                    .to_owned(),
                    value: p.value as i32,
                    period_seconds: p.period_seconds as i32,
                })
                .collect()
        }),
    };
    let behavior =
        (a.scale_up.is_some() || a.scale_down.is_some()).then(|| HorizontalPodAutoscalerBehavior {
            scale_up: a.scale_up.as_ref().map(rules),
            scale_down: a.scale_down.as_ref().map(rules),
        });
    let (api_version, kind) = rollouts::controller(w);
    HorizontalPodAutoscaler {
        metadata: meta(&w.name, env, labels),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: k8s_openapi::api::autoscaling::v2::CrossVersionObjectReference {
                api_version: Some(api_version.to_owned()),
                kind: kind.to_owned(),
                name: w.name.clone(),
            },
            min_replicas: Some(a.min as i32),
            max_replicas: a.max as i32,
            metrics: Some(metrics),
            behavior,
        }),
        ..Default::default()
    }
}

fn ingress(
    env: &Environment,
    w: &Workload,
    i: &ir::Ingress,
    labels: BTreeMap<String, String>,
) -> Ingress {
    let mut metadata = meta(&w.name, env, labels);
    if i.tls {
        let mut annotations = BTreeMap::from([(
            "cert-manager.io/cluster-issuer".to_owned(),
            env.cluster.tls_issuer.clone(),
        )]);
        if let Some(r) = gateway::renew_before(env) {
            annotations.insert("cert-manager.io/renew-before".to_owned(), r);
        }
        metadata.annotations = Some(annotations);
    }
    if let Some(origin) = gateway::origin_annotations(env, true) {
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(origin);
    }
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: Some(env.cluster.ingress_class.clone()),
            tls: i.tls.then(|| {
                vec![IngressTLS {
                    hosts: Some(vec![i.host.clone()]),
                    secret_name: Some(naming::tls_secret(&i.host)),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(i.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(i.path.clone()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: w.name.clone(),
                                port: Some(ServiceBackendPort {
                                    name: Some(i.port.name.clone()),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Allows exactly the declared edges of a workload, both ways. In: from the workloads that
/// depend on it, from the ingress controller to its ingress port, from Prometheus to its
/// metrics port. Out: to its dependencies' ports (managed stores by network, since they live
/// outside the cluster) and to the destinations its `egress` declares. Everything else stays
/// denied by the namespace's default-deny policy.
fn network_policy(
    platform: &ir::Platform,
    env: &Environment,
    edges: &Edges<'_>,
    w: &Workload,
    labels: BTreeMap<String, String>,
) -> Option<NetworkPolicy> {
    let port_rule = |p: &ir::Port| NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(p.port))),
        protocol: Some(protocol(p)),
        ..Default::default()
    };
    let tcp_port = |port: u16| NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    };
    let namespace_peer = |ns: &str| NetworkPolicyPeer {
        namespace_selector: Some(labelled("kubernetes.io/metadata.name", ns)),
        ..Default::default()
    };
    let cidr_peer = |cidr: &str| NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };

    let mut ingress = Vec::new();
    let clients: &[&Workload] = edges
        .clients
        .get(w.name.as_str())
        .map_or(&[], Vec::as_slice);
    let mut peers: Vec<NetworkPolicyPeer> = clients
        .iter()
        .map(|c| NetworkPolicyPeer {
            pod_selector: Some(selector(platform, c)),
            ..Default::default()
        })
        .collect();
    if backup_plan(env, w).is_some() || backups::offsite(env, w) {
        // The store's own backup job connects to it like a client.
        peers.push(NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(naming::backup_selector_labels(&platform.name, &w.name)),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    if !peers.is_empty() && w.service_ports().next().is_some() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(peers),
            ports: Some(w.service_ports().map(port_rule).collect()),
        });
    }
    let own_pods = || {
        Some(vec![NetworkPolicyPeer {
            pod_selector: Some(selector(platform, w)),
            ..Default::default()
        }])
    };
    if let Some(p) = &w.peer_port {
        // A clustered store's replicas reach each other on the peer port.
        ingress.push(NetworkPolicyIngressRule {
            from: own_pods(),
            ports: Some(vec![port_rule(p)]),
        });
    }
    let (own_in, own_out) = redis_ha::own_rules(platform, w);
    ingress.extend(own_in);
    if let Some(i) = &w.ingress {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![edge_peer(env)]),
            ports: Some(vec![port_rule(&i.port)]),
        });
    }
    if let Some(m) = &w.metrics {
        // In the mesh Prometheus scrapes the sidecar agent's merged metrics instead.
        let port = if env.meshed(w) {
            tcp_port(mesh::MERGED_METRICS_PORT)
        } else {
            port_rule(&m.port)
        };
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![namespace_peer(&env.cluster.monitoring_namespace)]),
            ports: Some(vec![port]),
        });
    }

    let mut egress = Vec::new();
    for dep in &w.depends_on {
        if let Some(target) = edges.by_name.get(dep.as_str()) {
            if cnpg::operated(env, target) {
                // The operator's pods carry its labels, not the workload's selector.
                egress.push(NetworkPolicyEgressRule {
                    to: Some(cnpg::client_peers(target)),
                    ports: Some(vec![tcp_port(cnpg::POSTGRES_PORT)]),
                });
            } else if target.service_ports().next().is_some() {
                let mut to = vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(platform, target)),
                    ..Default::default()
                }];
                if proxy_run(target) {
                    // A replicated Redis's Service leads to its proxy.
                    to.push(redis_ha::proxy_peer(platform, target));
                }
                egress.push(NetworkPolicyEgressRule {
                    to: Some(to),
                    ports: Some(target.service_ports().map(port_rule).collect()),
                });
            }
        } else if let Some(store) = env.managed_stores.iter().find(|m| &m.name == dep) {
            // Managed stores have no pods to select; their endpoints live in the VPC, but
            // for S3's, which are public addresses of the region.
            let cidr = match &env.cloud {
                Some(c) if store.engine != "object-storage" => c.network.cidr.as_str(),
                _ => "0.0.0.0/0",
            };
            // S3 answers on HTTPS whatever ports the store's preset declares for MinIO.
            let https = store.ports.is_empty() || store.engine == "object-storage";
            let ports: Vec<NetworkPolicyPort> = if https {
                vec![tcp_port(443)]
            } else {
                store.ports.iter().map(port_rule).collect()
            };
            egress.push(NetworkPolicyEgressRule {
                to: Some(vec![cidr_peer(cidr)]),
                ports: Some(ports),
            });
        }
    }
    egress.extend(own_out);
    if let Some(p) = &w.peer_port {
        egress.push(NetworkPolicyEgressRule {
            to: own_pods(),
            ports: Some(vec![port_rule(p)]),
        });
    }
    for e in &w.egress {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![cidr_peer(&e.cidr)]),
            ports: (!e.ports.is_empty()).then(|| e.ports.iter().map(|p| tcp_port(*p)).collect()),
        });
    }
    if env.meshed(w) {
        egress.push(istiod_egress());
    }

    if ingress.is_empty() && egress.is_empty() {
        return None;
    }
    let mut types = Vec::new();
    if !ingress.is_empty() {
        types.push("Ingress".to_owned());
    }
    if !egress.is_empty() {
        types.push("Egress".to_owned());
    }
    Some(NetworkPolicy {
        metadata: meta(&w.name, env, labels),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(platform, w)),
            policy_types: Some(types),
            ingress: (!ingress.is_empty()).then_some(ingress),
            egress: (!egress.is_empty()).then_some(egress),
        }),
    })
}

/// The peer the edge's proxies are: Istio's gateway pods in the environment's namespace,
/// by their labels, else the namespace the ingress controller or Envoy Gateway runs in.
fn edge_peer(env: &Environment) -> NetworkPolicyPeer {
    match &env.cluster.edge_pods {
        Some(labels) => NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
        None => NetworkPolicyPeer {
            namespace_selector: Some(labelled(
                "kubernetes.io/metadata.name",
                &env.cluster.ingress_namespace,
            )),
            ..Default::default()
        },
    }
}

/// The egress every Istio proxy needs: istiod, for its configuration and certificates.
fn istiod_egress() -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(labelled(
                "kubernetes.io/metadata.name",
                mesh::ISTIO_NAMESPACE,
            )),
            pod_selector: Some(labelled("app", "istiod")),
            ..Default::default()
        }]),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(mesh::ISTIOD_PORT))),
            protocol: Some("TCP".to_owned()),
            ..Default::default()
        }]),
    }
}

/// The policy of Istio's gateway proxies, which run in the environment's namespace under
/// its default-deny policy: anyone may reach their listener ports (they are the edge), and
/// they may reach the exposed workloads' ports, the ACME HTTP-01 solver pods (when the
/// environment issues certificates) and istiod.
fn gateway_policy(
    platform: &ir::Platform,
    env: &Environment,
    edge: &gateway::Edge,
    labels: BTreeMap<String, String>,
) -> Option<NetworkPolicy> {
    let pods = env.cluster.edge_pods.clone()?;
    let tcp = |port: i32| NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    };
    let mut listener_ports = vec![tcp(80)];
    if edge.hosts.iter().any(|h| h.tls) {
        listener_ports.push(tcp(443));
    }
    let mut egress: Vec<NetworkPolicyEgressRule> = env
        .workloads
        .iter()
        .filter_map(|w| {
            let i = w.ingress.as_ref()?;
            Some(NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(platform, w)),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::from(i.port.port))),
                    protocol: Some(protocol(&i.port)),
                    ..Default::default()
                }]),
            })
        })
        .collect();
    if cluster::issuer(platform, env).is_some() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(labelled("acme.cert-manager.io/http01-solver", "true")),
                ..Default::default()
            }]),
            ports: Some(vec![tcp(ACME_SOLVER_PORT)]),
        });
    }
    egress.push(istiod_egress());
    Some(NetworkPolicy {
        metadata: meta(
            &naming::istio_gateway_service_account(&platform.name),
            env,
            labels,
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(pods),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: None,
                ports: Some(listener_ports),
            }]),
            egress: Some(egress),
        }),
    })
}

/// The name and spec of the gateway proxies' policy ([`gateway_policy`]), as JSON, for the
/// Helm values.
pub(crate) fn gateway_policy_spec(
    platform: &ir::Platform,
    env: &Environment,
    edge: &gateway::Edge,
) -> Option<(String, serde_json::Value)> {
    let p = gateway_policy(platform, env, edge, BTreeMap::new())?;
    let name = p.metadata.name.clone().unwrap_or_default();
    serde_json::to_value(p.spec?).ok().map(|spec| (name, spec))
}

/// A VerticalPodAutoscaler (`autoscaling.k8s.io/v1`) for a workload that asks for one.
fn vpa(
    env: &Environment,
    w: &Workload,
    mode: ir::VpaMode,
    labels: BTreeMap<String, String>,
) -> CustomObject {
    let (api_version, kind) = rollouts::controller(w);
    let mode = match mode {
        ir::VpaMode::Off => "Off",
        ir::VpaMode::Initial => "Initial",
        ir::VpaMode::Recreate => "Recreate",
        ir::VpaMode::Auto => "Auto",
    };
    let r = &w.resources;
    CustomObject {
        api_version: "autoscaling.k8s.io/v1",
        kind: "VerticalPodAutoscaler",
        metadata: meta(&w.name, env, labels),
        spec: serde_json::json!({
            "targetRef": { "apiVersion": api_version, "kind": kind, "name": w.name },
            "updatePolicy": { "updateMode": mode },
            // The spec's requests and limits bound what the autoscaler may recommend.
            "resourcePolicy": { "containerPolicies": [{
                "containerName": w.name,
                "minAllowed": { "cpu": format_cpu(r.cpu_request), "memory": format_bytes(r.memory_request) },
                "maxAllowed": { "cpu": format_cpu(r.cpu_limit), "memory": format_bytes(r.memory_limit) },
            }]},
        }),
    }
}

/// The Service port of a meshed workload's merged metrics (the sidecar agent's, see
/// [`mesh`]), when it exports metrics.
fn merged_metrics_port(env: &Environment, w: &Workload) -> Option<ServicePort> {
    (env.meshed(w) && w.metrics.is_some()).then(|| ServicePort {
        name: Some(mesh::MERGED_METRICS_PORT_NAME.to_owned()),
        port: i32::from(mesh::MERGED_METRICS_PORT),
        target_port: Some(IntOrString::Int(i32::from(mesh::MERGED_METRICS_PORT))),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    })
}

/// The mesh objects of a workload: its AuthorizationPolicy, and the DestinationRule and
/// VirtualService of its `traffic`, as [`mesh`] decides them.
fn mesh_docs(
    env: &Environment,
    edges: &Edges<'_>,
    w: &Workload,
    labels: &BTreeMap<String, String>,
) -> Vec<Object> {
    edges
        .mesh
        .iter()
        .filter_map(|(api_version, kind, specs)| {
            let spec = specs.get(&w.name)?;
            Some(Object::Custom(Box::new(CustomObject {
                api_version,
                kind,
                metadata: meta(&w.name, env, labels.clone()),
                spec: spec.clone(),
            })))
        })
        .collect()
}

/// The mesh objects of every workload of `env`, by kind and workload name, as [`mesh`]
/// decides them.
fn mesh_specs(
    platform: &ir::Platform,
    env: &Environment,
) -> Vec<(
    &'static str,
    &'static str,
    BTreeMap<String, serde_json::Value>,
)> {
    vec![
        (
            mesh::SECURITY_API,
            "AuthorizationPolicy",
            mesh::authorization_policies(platform, env)
                .into_iter()
                .collect(),
        ),
        (
            mesh::NETWORKING_API,
            "DestinationRule",
            mesh::destination_rules(env).into_iter().collect(),
        ),
        (
            mesh::NETWORKING_API,
            "VirtualService",
            mesh::virtual_services(env).into_iter().collect(),
        ),
    ]
}

/// A ServiceMonitor (`monitoring.coreos.com/v1`) so kube-prometheus-stack scrapes the
/// workload's metrics endpoint.
fn service_monitor(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    m: &ir::Metrics,
    labels: BTreeMap<String, String>,
) -> CustomObject {
    CustomObject {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: meta(&w.name, env, labels),
        spec: serde_json::json!({
            "selector": { "matchLabels": naming::selector_labels(&platform.name, w) },
            "endpoints": [if env.meshed(w) { merged_endpoint(m) } else { endpoint(m) }],
        }),
    }
}

/// The ServiceMonitor endpoint of a meshed workload: the sidecar agent's merged metrics,
/// which include the application's from the port and path its pod annotations name.
fn merged_endpoint(m: &ir::Metrics) -> serde_json::Value {
    serde_json::json!({
        "port": mesh::MERGED_METRICS_PORT_NAME,
        "path": mesh::MERGED_METRICS_PATH,
        "interval": crate::units::format_duration(m.interval_ms),
    })
}

/// A ServiceMonitor endpoint: port, path and interval, and the bearer token an endpoint that
/// requires one is sent, from its Secret.
fn endpoint(m: &ir::Metrics) -> serde_json::Value {
    let mut e = serde_json::json!({
        "port": m.port.name,
        "path": m.path,
        "interval": crate::units::format_duration(m.interval_ms),
    });
    if let Some(b) = &m.bearer {
        e["authorization"] = serde_json::json!({
            "type": "Bearer",
            "credentials": { "name": b.secret, "key": b.key },
        });
    }
    e
}

/// Spreads replicas across zones and nodes, preferring but not requiring balance so a
/// single-zone cluster still schedules.
fn topology_spread(platform: &ir::Platform, w: &Workload) -> Option<Vec<TopologySpreadConstraint>> {
    if w.max_replicas() < 2 {
        return None;
    }
    Some(
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
            .iter()
            .map(|key| TopologySpreadConstraint {
                max_skew: 1,
                topology_key: (*key).to_owned(),
                when_unsatisfiable: "ScheduleAnyway".to_owned(),
                label_selector: Some(selector(platform, w)),
                ..Default::default()
            })
            .collect(),
    )
}
