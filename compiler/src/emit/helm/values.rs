//! The values of the platform chart as typed structs.
//!
//! One type describes both what plinth writes (`values.yaml`, `values-<env>.yaml`) and what
//! Helm accepts: `values.schema.json` is generated from these structs with schemars, so the
//! chart rejects an unknown key (`additionalProperties: false`) or a wrong type the moment
//! someone edits a values file by hand. Keys are camelCase as Helm users expect
//! (`replicaCount`, `resources.requests.cpu`); workloads are keyed by their names as written
//! in the spec (`api-gateway`), which are also the names of their Kubernetes objects.
//! Doc comments become the schema's descriptions.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

/// Values of a plinth platform chart. `values.yaml` holds what every environment shares and
/// renders nothing by itself; `values-<env>.yaml` adds `environment` and what differs.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Values {
    /// The environment these values deploy. Only `values-<env>.yaml` sets it; without it the
    /// chart renders nothing, so the shared file alone never deploys a half-configured
    /// platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Platform name; part of every workload's `app.kubernetes.io/instance` label.
    pub platform: String,
    /// Labels on every object (`app.kubernetes.io/part-of`, `environment`, `team`, the spec's
    /// `platform.labels`).
    pub common_labels: BTreeMap<String, String>,
    /// Cluster add-ons the objects integrate with.
    pub cluster: ClusterValues,
    /// Data stores run by the cloud provider that workloads may depend on, by name: where
    /// network policies let their clients connect.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub managed_stores: BTreeMap<String, ManagedStoreValues>,
    /// Application workloads, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, WorkloadValues>,
    /// In-cluster data stores, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub datastores: BTreeMap<String, WorkloadValues>,
    /// In-cluster PostgreSQL stores the CloudNativePG operator runs, by name; only in an
    /// environment with a cloud.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub postgres_clusters: BTreeMap<String, PostgresClusterValues>,
    /// The namespace's ResourceQuota and the LimitRange of defaults that comes with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaValues>,
    /// The ExternalSecrets that create the Secrets the workloads and Alertmanager read, and
    /// their ClusterSecretStore; only in an environment with a cloud.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_secrets: Option<ExternalSecretsValues>,
    /// The ACME ClusterIssuer named by `cluster.tlsIssuer`, when plinth generates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<ClusterIssuerValues>,
    /// Grafana dashboards, one ConfigMap each, by ConfigMap name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dashboards: BTreeMap<String, DashboardValues>,
    /// The Gateway API edge (Envoy Gateway), when a workload is exposed through it; the
    /// workloads' `ingress` then become HTTPRoutes instead of Ingresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayValues>,
    /// The Istio mesh's objects, when the platform has a mesh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshValues>,
}

/// A dashboard's ConfigMap: its labels (the sidecar's among them) and one file.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashboardValues {
    /// Labels of the ConfigMap.
    pub labels: BTreeMap<String, String>,
    /// File name, the ConfigMap's key.
    pub file: String,
    /// The dashboard JSON.
    pub json: String,
}

/// The Gateway API edge of an environment: its GatewayClass, its Gateway and the HTTPRoute
/// of each exposed workload, as plinth decided them for the k8s target.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayValues {
    /// The Gateway's name.
    pub name: String,
    /// The GatewayClass's name.
    pub class_name: String,
    /// The GatewayClass's spec, when the chart creates the class (not Istio's, which istiod
    /// creates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_spec: Option<serde_json::Map<String, serde_json::Value>>,
    /// The Gateway's annotations (cert-manager's issuer).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The Gateway's spec.
    pub spec: serde_json::Map<String, serde_json::Value>,
    /// The HTTPRoute spec of each exposed workload, by workload.
    pub routes: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// external-dns's annotations of every HTTPRoute when the environment's CDN fronts its
    /// hosts: its records name the origin, not the hosts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub route_annotations: BTreeMap<String, String>,
    /// The redirect HTTPRoutes of the TLS hosts (plain HTTP to HTTPS), by route name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub redirects: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The NetworkPolicy of the gateway's proxy pods, when they run in the environment's
    /// namespace (Istio's gateway): its name and spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_policy: Option<NamedSpecValues>,
    /// The wildcard certificate every HTTPS listener serves, when `dns.certificates.wildcard`
    /// asks for one: the cert-manager `Certificate`'s name and spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<NamedSpecValues>,
}

/// The Istio mesh's objects: the specs plinth decided for the k8s target, rendered as they
/// are.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshValues {
    /// The namespace's PeerAuthentication spec (mutual TLS required).
    pub peer_authentication: serde_json::Map<String, serde_json::Value>,
    /// The AuthorizationPolicy spec of each meshed workload, by workload.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub authorization_policies: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The DestinationRule spec of each workload with a circuit breaker or connection pool.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub destination_rules: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The VirtualService spec of each workload with a timeout or retries.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub virtual_services: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

/// A ClusterSecretStore of AWS Secrets Manager and the ExternalSecrets that read it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretsValues {
    /// Name of the ClusterSecretStore.
    pub store: String,
    /// AWS region of the secrets.
    pub region: String,
    /// Prefix of every remote key, `<platform>/<env>/`.
    pub prefix: String,
    /// How often each secret is copied from the store again, e.g. `1h`.
    pub refresh_interval: String,
    /// One ExternalSecret per Kubernetes Secret.
    pub secrets: Vec<ExternalSecretValues>,
}

/// One ExternalSecret: the Kubernetes Secret it creates, with the keys read from the JSON
/// object stored under the prefix and the Secret's name.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretValues {
    /// Name of the Secret, and of the secret in the store below the prefix.
    pub name: String,
    /// Namespace of the Secret when it is not the release's (Alertmanager's credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Keys copied, each from the stored object's property of the same name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// An image pull secret: a `kubernetes.io/dockerconfigjson` Secret whose
    /// `.dockerconfigjson` is the stored object's `dockerconfigjson` property.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub docker_config: bool,
}

/// An ACME ClusterIssuer with an HTTP-01 solver.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterIssuerValues {
    /// ACME directory URL.
    pub server: String,
    /// E-mail address of the ACME account.
    pub email: String,
    /// Secret the ACME account's private key is kept in.
    pub account_key_secret: String,
    /// The solvers, most specific first: DNS-01 in the environment's Route 53 zone when
    /// `dns.certificates` asks for it, then HTTP-01 (through the Gateway, or Ingresses of
    /// `cluster.ingressClass`).
    pub solvers: Vec<serde_json::Value>,
}

/// A ResourceQuota and its LimitRange.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaValues {
    /// The quota's `hard` amounts (`limits.cpu`, `limits.memory`, `pods`, `requests.storage`).
    pub hard: BTreeMap<String, String>,
    /// Limits of a container that sets none.
    pub default_limits: BTreeMap<String, String>,
    /// Requests of a container that sets none.
    pub default_requests: BTreeMap<String, String>,
}

/// The cluster add-ons generated objects refer to.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterValues {
    /// Ingress class of every Ingress.
    pub ingress_class: String,
    /// Namespace of the ingress controller, allowed in to ingress ports.
    pub ingress_namespace: String,
    /// Labels of the edge's proxy pods when they run in the environment's namespace (Istio's
    /// gateway), allowed in to ingress ports instead of a namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_pods: Option<BTreeMap<String, String>>,
    /// cert-manager ClusterIssuer of TLS certificates.
    pub tls_issuer: String,
    /// How long before expiry cert-manager renews the Ingresses' certificates (a Go
    /// duration), when `dns.certificates.renew_before` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_renew_before: Option<String>,
    /// external-dns's annotations of every Ingress when the environment's CDN fronts its
    /// hosts: its records name the origin, not the hosts.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ingress_annotations: BTreeMap<String, String>,
    /// Namespace of Prometheus, allowed in to metrics ports.
    pub monitoring_namespace: String,
}

/// A PostgreSQL store the CloudNativePG operator runs. The specs are the operator's own
/// types (`Cluster` at operator 1.30, a NetworkPolicy), rendered as plinth decided them for
/// the k8s target.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresClusterValues {
    /// Owning team, for the `team` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The port clients connect to.
    pub port: u16,
    /// The `Cluster`'s spec.
    pub spec: serde_json::Map<String, serde_json::Value>,
    /// The spec of the NetworkPolicy of the cluster's pods.
    pub network_policy: serde_json::Map<String, serde_json::Value>,
    /// PgBouncer in front of the primary, when the spec asks for pooling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooler: Option<PoolerValues>,
    /// The barman-cloud `ObjectStore` the WAL and base backups go to, when the spec asks for
    /// backups: its name and spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_store: Option<NamedSpecValues>,
    /// The `PodMonitor`'s spec, when the environment's Prometheus scrapes the instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_monitor: Option<serde_json::Map<String, serde_json::Value>>,
    /// The `ScheduledBackup`'s spec, when backups have a schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_backup: Option<serde_json::Map<String, serde_json::Value>>,
    /// The restore drill, when backups have `verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_drill: Option<RestoreDrillValues>,
}

/// A CloudNativePG store's restore drill (`emit::restore_drill`): what plinth decided.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreDrillValues {
    /// The scratch `Cluster`'s manifest, as YAML, which the job applies.
    pub manifest: String,
    /// The rules of the job's Role.
    pub rules: Vec<serde_json::Value>,
    /// The CronJob's spec.
    pub cron_job: serde_json::Map<String, serde_json::Value>,
    /// The NetworkPolicy's spec of the job's pods.
    pub network_policy: serde_json::Map<String, serde_json::Value>,
    /// The NetworkPolicy's spec of the scratch cluster's pods.
    pub cluster_network_policy: serde_json::Map<String, serde_json::Value>,
}

/// An object's name and spec.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedSpecValues {
    /// Object name.
    pub name: String,
    /// Its spec.
    pub spec: serde_json::Map<String, serde_json::Value>,
}

/// A CloudNativePG `Pooler`, the Service of the store's name that leads to it, and the
/// NetworkPolicy of its pods.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolerValues {
    /// Object name of the Pooler and its policy; its pods carry it as `cnpg.io/poolerName`.
    pub name: String,
    /// The `Pooler`'s spec.
    pub spec: serde_json::Map<String, serde_json::Value>,
    /// The Service's spec.
    pub service: serde_json::Map<String, serde_json::Value>,
    /// The NetworkPolicy's spec.
    pub network_policy: serde_json::Map<String, serde_json::Value>,
}

/// Where a managed data store accepts connections.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedStoreValues {
    /// Network its endpoints live in (the VPC).
    pub cidr: String,
    /// Ports clients connect to.
    pub ports: Vec<NetworkPortValues>,
}

/// A port and protocol a network policy allows.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPortValues {
    /// Port number.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// Transport protocol.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
pub enum Protocol {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

/// What Kubernetes object runs a workload.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// A stateless server (Deployment).
    Web,
    /// A background worker (Deployment).
    Worker,
    /// Stable identity and storage per replica (StatefulSet with a headless Service).
    Stateful,
    /// A scheduled job (CronJob).
    Cron,
    /// A task run on every deploy (a Job run as a post-install/pre-upgrade hook).
    Job,
}

/// One service or in-cluster data store.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadValues {
    /// `web` or `worker` (a Deployment), `stateful` (a StatefulSet), `cron` (a CronJob).
    pub kind: WorkloadKind,
    /// Cron schedule of a `cron` workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Name of a `job` workload's Job: the workload's name and a hash of what it runs, as
    /// in the raw manifests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Full image reference, pinned by tag or digest.
    pub image: String,
    /// Entrypoint override.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Ports the container listens on; the Service exposes all of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortValues>,
    /// Replica count when there is no `autoscaling`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_count: Option<u32>,
    /// Horizontal autoscaling; when set it owns the replica count and `replicaCount` is
    /// ignored (set `autoscaling: null` to use a fixed count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingValues>,
    /// A VerticalPodAutoscaler bounded by `resources`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vertical_autoscaling: Option<VerticalAutoscalingValues>,
    /// Requests and limits of the container.
    pub resources: ResourcesValues,
    /// Liveness probe, as in a container spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<ProbeValues>,
    /// Readiness probe, as in a container spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<ProbeValues>,
    /// Startup probe, as in a container spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<ProbeValues>,
    /// Rolling-update limits of a Deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateValues>,
    /// Progressive delivery: an Argo Rollouts `Rollout` replaces the Deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutValues>,
    /// PodDisruptionBudget; none when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<DisruptionBudgetValues>,
    /// Plain environment variables.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Environment variables read from Kubernetes Secrets (`secretKeyRef`), by variable name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretRefValues>,
    /// Files mounted read-only from the workload's ConfigMap.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_files: Vec<ConfigFileValues>,
    /// Scratch volumes (emptyDir).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeValues>,
    /// Storage per replica of a `stateful` workload (a volume claim template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceValues>,
    /// Scheduled dumps of a data store into a volume of their own (a CronJob, a
    /// PersistentVolumeClaim and the network edge to the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupValues>,
    /// Scheduled dumps of a data store into its S3 bucket, in an environment with a cloud:
    /// the CronJob's and NetworkPolicy's specs, as the k8s target writes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsite_backup: Option<OffsiteBackupValues>,
    /// Workloads and managed stores this one connects to (network policy egress).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Exposure through the ingress controller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressValues>,
    /// Outbound destinations beyond dependencies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressValues>,
    /// Prometheus metrics endpoint (scrape annotations, a ServiceMonitor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsValues>,
    /// Owning team, the `team` label of the workload's objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Pod security settings.
    pub security: SecurityValues,
    /// The node group the pods run on (`nodeSelector` on its `plinth/node-group` label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_group: Option<NodeGroupValues>,
    /// Seconds between the stop signal and the kill (`terminationGracePeriodSeconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<u32>,
    /// Seconds the container keeps running after leaving its Service (a `preStop` sleep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_stop_sleep_seconds: Option<u32>,
    /// Pod annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Names of the Secrets the image is pulled with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,
    /// Name of the port a clustered store's replicas talk to each other on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_port: Option<String>,
    /// Whether it runs in the mesh: its pods ask for a sidecar, Prometheus scrapes the
    /// sidecar agent's merged metrics, and its policy lets it reach istiod.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mesh: bool,
    /// Containers run before the workload's own, with its environment, resources, mounts
    /// and security settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<InitContainerValues>,
    /// Containers beside the workload's own (a store's metrics exporter), with its security
    /// settings; the Service publishes their ports too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<SidecarValues>,
    /// Replication with Sentinel failover of a Redis store (`emit::redis_ha`): what the pod
    /// template adds and the objects beside the StatefulSet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_failover: Option<RedisFailoverValues>,
    /// Whether the ServiceAccount is the environment's Terraform's (annotated with the IAM
    /// role through which the workload reaches the managed buckets it binds), so the chart
    /// leaves it out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cloud_service_account: bool,
}

/// A replicated Redis (`emit::redis_ha`): the parts of its pods and the objects that the
/// k8s target generates, as plinth decided them.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisFailoverValues {
    /// The headless Service that governs the StatefulSet (`<store>-nodes`).
    pub nodes_service: String,
    /// The init container that writes Redis's and Sentinel's configuration, run first.
    pub init_containers: Vec<serde_json::Value>,
    /// Sentinel, run after the store's own container.
    pub containers: Vec<serde_json::Value>,
    /// The emptyDir the configuration is written to.
    pub volume: serde_json::Value,
    /// Its mount in the store's own container.
    pub mount: serde_json::Value,
    /// Rules of the store's NetworkPolicy for replication and Sentinel, and the proxy's.
    pub ingress: Vec<serde_json::Value>,
    /// Rules of the store's NetworkPolicy to the other Redis pods.
    pub egress: Vec<serde_json::Value>,
    /// The peer of the proxy's pods, which the store's clients reach.
    pub proxy_peer: serde_json::Value,
    /// The objects beside the StatefulSet, whole but for their namespace (the release's):
    /// Services, the proxy's ConfigMap, Deployment, disruption budget and NetworkPolicy, and
    /// the PodMonitor.
    pub objects: Vec<serde_json::Value>,
}

/// A container beside a workload's own.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SidecarValues {
    /// Container name.
    pub name: String,
    /// Image.
    pub image: String,
    /// The port it serves.
    pub port: PortValues,
    /// Plain environment variables.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Variables read from Secrets.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretRefValues>,
    /// Requests and limits.
    pub resources: ResourcesValues,
    /// HTTP path of its liveness and readiness probes.
    pub health_path: String,
}

/// An init container.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitContainerValues {
    /// Container name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Command.
    pub command: Vec<String>,
}

/// A node group placement.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroupValues {
    /// The group's name, the value of its nodes' `plinth/node-group` label.
    pub name: String,
    /// Whether its nodes are tainted, so the pods tolerate the taint.
    pub dedicated: bool,
}

/// A container port.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortValues {
    /// Port name, referenced by probes, the ingress and the metrics endpoint.
    pub name: String,
    /// Port number.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// Horizontal autoscaling (`autoscaling/v2`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoscalingValues {
    /// Fewest replicas.
    pub min_replicas: u32,
    /// Most replicas.
    pub max_replicas: u32,
    /// Average CPU utilisation target, percent of the request.
    #[serde(
        rename = "targetCPUUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_cpu: Option<u32>,
    /// Average memory utilisation target, percent of the request.
    #[serde(
        rename = "targetMemoryUtilizationPercentage",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_memory: Option<u32>,
    /// Custom per-pod metrics and their average value targets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pod_metrics: Vec<PodMetricValues>,
    /// Scale-up and scale-down behaviour, as in an HPA spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<BehaviorValues>,
}

/// A custom per-pod metric target.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodMetricValues {
    /// Metric name.
    pub name: String,
    /// Average value per pod (a quantity).
    pub average_value: String,
}

/// HPA scaling behaviour.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BehaviorValues {
    /// Scaling up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRulesValues>,
    /// Scaling down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRulesValues>,
}

/// HPA scaling rules in one direction.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingRulesValues {
    /// Stabilization window in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<u32>,
    /// Which policy wins.
    pub select_policy: SelectPolicy,
    /// Rate limits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<ScalingPolicyValues>,
}

/// Which scaling policy wins.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
pub enum SelectPolicy {
    /// The one allowing the largest change.
    Max,
    /// The one allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// A scaling rate limit.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalingPolicyValues {
    /// `Percent` or `Pods`.
    #[serde(rename = "type")]
    pub kind: PolicyType,
    /// How many.
    pub value: u32,
    /// Over how many seconds.
    pub period_seconds: u32,
}

/// The unit of a scaling policy.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
pub enum PolicyType {
    /// Percent of the current replicas.
    Percent,
    /// Pods.
    Pods,
}

/// Vertical autoscaling.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerticalAutoscalingValues {
    /// How recommendations are applied.
    pub update_mode: UpdateMode,
}

/// VerticalPodAutoscaler update mode.
#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
pub enum UpdateMode {
    /// Only recommend.
    Off,
    /// Apply at pod creation.
    Initial,
    /// Apply by evicting pods.
    Recreate,
    /// Let the autoscaler choose.
    Auto,
}

/// Container requests and limits.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourcesValues {
    /// What the scheduler reserves.
    pub requests: ComputeValues,
    /// The most the container may use.
    pub limits: ComputeValues,
}

/// CPU and memory quantities.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComputeValues {
    /// CPU, e.g. `250m` or `2`.
    pub cpu: Quantity,
    /// Memory, e.g. `512Mi`.
    pub memory: Quantity,
}

/// A Kubernetes quantity. plinth writes strings; a number is accepted too.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Quantity {
    /// A quantity such as `250m`, `1Gi`.
    Text(String),
    /// A plain number of units.
    Number(f64),
}

/// A probe, in the shape of a Kubernetes container probe.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeValues {
    /// HTTP GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetValues>,
    /// Command run in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecValues>,
    /// TCP connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketValues>,
    /// Delay before the first probe, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between probes.
    pub period_seconds: u32,
    /// Seconds a probe may take.
    pub timeout_seconds: u32,
    /// Failures before acting.
    pub failure_threshold: u32,
}

/// An HTTP GET probe.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpGetValues {
    /// Path.
    pub path: String,
    /// Port name or number.
    pub port: IntOrString,
}

/// An exec probe.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecValues {
    /// Command and arguments.
    pub command: Vec<String>,
}

/// A TCP probe.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSocketValues {
    /// Port name or number.
    pub port: IntOrString,
}

/// A number, or a string (a name or a percentage such as `25%`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(u32),
    /// A name or a percentage.
    String(String),
}

/// Rolling-update limits.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollingUpdateValues {
    /// Extra pods during an update.
    pub max_surge: IntOrString,
    /// Missing pods during an update.
    pub max_unavailable: IntOrString,
}

/// A PodDisruptionBudget: exactly one of the two.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudgetValues {
    /// Pods that must stay up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,
    /// Pods that may be down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

/// A reference to one key of a Kubernetes Secret; never a value.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRefValues {
    /// Secret name.
    pub secret: String,
    /// Key in the secret.
    pub key: String,
}

/// A mounted configuration file.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFileValues {
    /// Absolute path in the container.
    pub path: String,
    /// File content.
    pub content: String,
}

/// A scratch volume.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeValues {
    /// Volume name.
    pub name: String,
    /// Mount path.
    pub path: String,
    /// Size limit (a quantity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<String>,
}

/// Persistent storage per replica.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersistenceValues {
    /// Size of each replica's volume (a quantity).
    pub size: String,
    /// Mount path.
    pub mount_path: String,
    /// Storage class; the cluster default when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// The backup job of a data store. It runs the store's image, as the store's service account
/// and with its security settings and resources.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupValues {
    /// Cron schedule.
    pub schedule: String,
    /// Shell script run by `/bin/sh -c`: dump the store into `/backups`, prune old dumps.
    pub script: String,
    /// Plain environment variables of the job.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Environment variables of the job read from Kubernetes Secrets.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretRefValues>,
    /// Size of the volume dumps are written to (a quantity).
    pub size: String,
    /// Storage class of that volume; the cluster default when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// The off-cluster backup job of a data store (`emit::backups`): the specs plinth decided.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OffsiteBackupValues {
    /// The CronJob's spec: the dump, then the copy into the store's bucket.
    pub cron_job: serde_json::Map<String, serde_json::Value>,
    /// The NetworkPolicy's spec of the job's pods.
    pub network_policy: serde_json::Map<String, serde_json::Value>,
}

/// An Argo Rollouts `Rollout` in place of a Deployment, as the k8s target writes it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutValues {
    /// The Rollout's `spec.strategy` (`canary` or `blueGreen`).
    pub strategy: serde_json::Map<String, serde_json::Value>,
    /// The canary's or the preview's Service, beside the workload's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_service: Option<String>,
    /// The spec of the workload's `AnalysisTemplate`, whose queries are its alerts'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Ingress exposure.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressValues {
    /// Host name.
    pub host: String,
    /// Path prefix.
    pub path: String,
    /// Name of the port traffic goes to.
    pub port: String,
    /// TLS through cert-manager; plain HTTP when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsValues>,
}

/// TLS of an ingress host.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsValues {
    /// Secret cert-manager writes the certificate to.
    pub secret_name: String,
}

/// An allowed outbound destination.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EgressValues {
    /// Destination network.
    pub cidr: String,
    /// TCP ports; every port when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

/// A Prometheus metrics endpoint.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsValues {
    /// Path.
    pub path: String,
    /// Name of the port serving it.
    pub port: String,
    /// Scrape interval, e.g. `30s`.
    pub interval: String,
    /// The Secret key sent as a bearer token, for an endpoint that requires one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer: Option<SecretRefValues>,
}

/// Pod security settings; the secure defaults unless the spec opts out.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityValues {
    /// User, group and fsGroup id.
    pub run_as_user: i64,
    /// Read-only root filesystem (with an emptyDir at `/tmp`).
    pub read_only_root_filesystem: bool,
    /// Whether the container may run as root.
    pub allow_root: bool,
    /// Whether the service account token is mounted.
    pub service_account_token: bool,
    /// Capabilities added after dropping all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_capabilities: Vec<String>,
}
