//! The IR: the platform fully resolved for each environment.
//!
//! Presets are merged, environment overlays and scale factors applied, defaults filled in
//! and references bound (a probe knows its port number, an ingress its host). Nothing here is
//! optional when it has a default, and nothing is a serde type: emitters read plain data.

mod defaults;
mod explain;
mod lower;
pub mod naming;

pub use defaults::*;
pub use explain::{explain, explain_path, UnknownPath};
pub use lower::lower;

use std::collections::BTreeMap;

pub use crate::spec::{
    HttpClient, Layer, Origins, PolicyKind, PoolMode, Protocol, SelectPolicy, SeverityLevel,
    VpaMode,
};
pub use crate::units::IntOrPercent;

/// The whole platform.
#[derive(Clone, Debug)]
pub struct Platform {
    /// Platform name.
    pub name: String,
    /// The spec's path as given, for the generated-file banner.
    pub spec_path: String,
    /// One entry per environment, in name order; a spec without environments has one called
    /// `default`.
    pub environments: Vec<Environment>,
}

impl Platform {
    /// The environment Docker Compose runs: the one marked `local`, else the one named
    /// [`COMPOSE_ENVIRONMENT`], else none.
    pub fn compose_environment(&self) -> Option<&Environment> {
        self.environments.iter().find(|e| e.local).or_else(|| {
            self.environments
                .iter()
                .find(|e| e.name == COMPOSE_ENVIRONMENT)
        })
    }
}

/// The platform as deployed to one environment.
#[derive(Clone, Debug)]
pub struct Environment {
    /// Environment name.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Domain for ingress hosts, if any.
    pub domain: Option<String>,
    /// Whether the spec marks this environment `local`, the one Docker Compose runs (see
    /// [`Platform::compose_environment`]).
    pub local: bool,
    /// What the Compose output runs beside the platform.
    pub compose: ComposeSettings,
    /// Owning team of the platform.
    pub team: Option<String>,
    /// Owner contact.
    pub owner: Option<String>,
    /// Extra labels on every resource.
    pub labels: BTreeMap<String, String>,
    /// Cluster add-ons the generated objects integrate with.
    pub cluster: ClusterAddons,
    /// Services and in-cluster data stores, in name order.
    pub workloads: Vec<Workload>,
    /// Data stores run by the cloud provider.
    pub managed_stores: Vec<ManagedStore>,
    /// The cloud side, when the spec has one.
    pub cloud: Option<Cloud>,
    /// The Cloudflare zone of an environment without a cloud (`dns` with `provider =
    /// "cloudflare"`): its Terraform changes only the zone (records, DNSSEC, the proxy's
    /// rules, settings and assets bucket). With a cloud the zone is the cloud's
    /// ([`Cloud::dns`]) and this is `None`.
    pub zone: Option<Dns>,
    /// Metrics and alert definitions.
    pub observability: Observability,
    /// Alert routing.
    pub alerting: Alerting,
    /// The namespace's ResourceQuota, when the spec sets one.
    pub quota: Option<Quota>,
    /// Secrets the spec declares provided by other means (`source = "external"`): no
    /// ExternalSecret, a prerequisite instead.
    pub external_secrets: std::collections::BTreeSet<String>,
    /// Which layer set each field (spec paths); recorded only by
    /// [`crate::analyze_explained`].
    pub origins: Origins,
}

impl Environment {
    /// Whether `w` runs in the environment's mesh: with `platform.mesh`, every service does;
    /// data stores and the jobs plinth adds (backups, restore drills) stay outside it, so
    /// their operators and tools reach them as before.
    pub fn meshed(&self, w: &Workload) -> bool {
        self.cluster.mesh && matches!(w.role, Role::Service)
    }

    /// Every host the environment's routes answer on: route hosts and the hosts that
    /// redirect to them, sorted, each once.
    pub fn public_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .workloads
            .iter()
            .filter_map(|w| w.ingress.as_ref())
            .flat_map(|i| std::iter::once(&i.host).chain(&i.redirect_from))
            .cloned()
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    /// The name CloudFront reaches the environment's edge at ([`naming::cdn_origin_host`]),
    /// when its CDN fronts the route hosts of a Route 53 zone: CloudFront then has its
    /// certificate, its origin and the hosts' records from the same output. `None` without a
    /// CDN, routes or zone, and for a zone Cloudflare serves, where the distribution's
    /// certificate and origin stay inputs of the Terraform.
    pub fn cdn_origin(&self) -> Option<String> {
        let cloud = self.cloud.as_ref()?;
        let dns = cloud.dns.as_ref()?;
        let routed = self.workloads.iter().any(|w| w.ingress.is_some());
        (cloud.cdn && routed && matches!(dns.provider, DnsProvider::Route53))
            .then(|| naming::cdn_origin_host(&self.name, &dns.zone))
    }

    /// The workloads by name, for emitters that look workloads up per item (a scan each time
    /// is quadratic in the number of workloads). Should a name repeat, which `check` rejects
    /// but lowering does not assume, the first workload of that name is the one found.
    pub fn workloads_by_name(&self) -> BTreeMap<&str, &Workload> {
        let mut by_name = BTreeMap::new();
        for w in &self.workloads {
            by_name.entry(w.name.as_str()).or_insert(w);
        }
        by_name
    }
}

/// The cluster add-ons generated objects refer to.
#[derive(Clone, Debug)]
pub struct ClusterAddons {
    /// What routes outside traffic to the exposed workloads.
    pub edge: Edge,
    /// Ingress class (of [`Edge::Ingress`]).
    pub ingress_class: String,
    /// Namespace the edge's proxies run in, which the NetworkPolicies admit to ingress ports:
    /// the ingress controller's, or Envoy Gateway's. Istio's gateway runs in the
    /// environment's own namespace instead, and is admitted by its pods' labels
    /// ([`ClusterAddons::edge_pods`]).
    pub ingress_namespace: String,
    /// The labels of the edge's proxy pods when they run in the environment's namespace
    /// (Istio deploys a Gateway's proxies next to it): the NetworkPolicies admit these pods
    /// rather than a namespace.
    pub edge_pods: Option<BTreeMap<String, String>>,
    /// Whether the services run in an Istio mesh (`platform.mesh = "istio"`).
    pub mesh: bool,
    /// cert-manager ClusterIssuer.
    pub tls_issuer: String,
    /// Account e-mail of the generated ACME ClusterIssuer: `platform.tls_email`, else the
    /// owner when that is an address.
    pub tls_email: Option<String>,
    /// Namespace of Prometheus.
    pub monitoring_namespace: String,
}

/// What routes outside traffic to the exposed workloads of an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// A Gateway API `Gateway` and an `HTTPRoute` per exposed workload, served by Envoy
    /// Gateway.
    Envoy,
    /// A Gateway API `Gateway` and an `HTTPRoute` per exposed workload, served by the
    /// proxies istiod deploys for the Gateway (GatewayClass `istio`).
    Istio,
    /// An `Ingress` per exposed workload, of the environment's ingress class.
    Ingress,
}

impl Edge {
    /// Whether the edge is the Gateway API (a `Gateway` and `HTTPRoute`s).
    pub fn gateway_api(self) -> bool {
        matches!(self, Edge::Envoy | Edge::Istio)
    }
}

/// An allowed outbound destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Egress {
    /// CIDR.
    pub cidr: String,
    /// TCP ports.
    pub ports: Vec<u16>,
}

/// What the Compose output runs beside the platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ComposeSettings {
    /// Prometheus and Alertmanager.
    pub monitoring: bool,
    /// A log viewer (Dozzle).
    pub log_viewer: bool,
    /// Grafana with the dashboards, on this host port.
    pub grafana: Option<u16>,
}

/// How Compose checks a workload's health, when the spec says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComposeHealthcheck {
    /// Run the HTTP readiness probe with this client.
    Http(HttpClient),
    /// Run this command.
    Command(Vec<String>),
}

/// What a workload is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// An application service.
    Service,
    /// An in-cluster data store.
    DataStore(StoreInfo),
}

/// Data store specifics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// Engine family (`postgres`, `redis`, `qdrant`, `object-storage`).
    pub engine: String,
    /// Engine version.
    pub version: String,
    /// Read replicas beside the primary.
    pub read_replicas: u32,
    /// Backups, if scheduled.
    pub backup: Option<Backup>,
    /// Connection pooling, when the spec asks for it.
    pub pooling: Option<Pooling>,
    /// PostgreSQL server parameters, by name.
    pub parameters: BTreeMap<String, String>,
    /// Redis replication with Sentinel failover, for an in-cluster Redis of more than one
    /// replica (`emit::redis_ha`).
    pub sentinel: Option<Sentinel>,
}

/// Redis replicas watched by Sentinel: one Sentinel beside each Redis, which together
/// promote a replica when the primary is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sentinel {
    /// Redis pods, each with its Sentinel.
    pub nodes: u32,
    /// Sentinels that must agree that the primary is down: a majority of `nodes`, which a
    /// failover needs anyway.
    pub quorum: u32,
}

/// PgBouncer in front of a PostgreSQL primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pooling {
    /// Pool mode.
    pub mode: PoolMode,
    /// Client connections accepted, if set (PgBouncer's default otherwise).
    pub max_client_conn: Option<u32>,
    /// Server connections per database and user, if set.
    pub default_pool_size: Option<u32>,
    /// PgBouncer pods.
    pub instances: u32,
}

/// The workload kind, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A stateless server.
    Web,
    /// A background worker.
    Worker,
    /// A stateful workload.
    Stateful,
    /// A scheduled job.
    Cron,
    /// A task run to completion on every deploy.
    Job,
}

/// A service or in-cluster data store, ready to emit.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name, a DNS label.
    pub name: String,
    /// Service or data store.
    pub role: Role,
    /// Kind.
    pub kind: Kind,
    /// Cron schedule, for `Kind::Cron`.
    pub schedule: Option<String>,
    /// Full image reference.
    pub image: String,
    /// Entrypoint override.
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Declared ports.
    pub ports: Vec<Port>,
    /// Fixed count or autoscaler.
    pub replicas: Replicas,
    /// Vertical autoscaling mode, when asked for.
    pub vpa: Option<VpaMode>,
    /// Requests and limits.
    pub resources: Resources,
    /// Probes.
    pub probes: Probes,
    /// Rolling-update strategy.
    pub rollout: Rollout,
    /// How the mesh treats calls to it (a service's `traffic`), when set.
    pub traffic: Option<Traffic>,
    /// Disruption budget, when one is created.
    pub disruption_budget: Option<Budget>,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Secret environment variables.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Mounted configuration files.
    pub config_files: Vec<ConfigFile>,
    /// Scratch volumes.
    pub volumes: Vec<Volume>,
    /// Persistent storage.
    pub storage: Option<Storage>,
    /// Names of the workloads and managed stores this one needs.
    pub depends_on: Vec<String>,
    /// Ingress exposure.
    pub ingress: Option<Ingress>,
    /// Outbound destinations beyond dependencies (platform-wide ones included).
    pub egress: Vec<Egress>,
    /// Metrics endpoint.
    pub metrics: Option<Metrics>,
    /// Threshold alerts that apply to this workload.
    pub thresholds: Vec<Threshold>,
    /// Owning team.
    pub team: Option<String>,
    /// Pod security settings.
    pub security: Security,
    /// How Compose checks its health, when the spec says; otherwise derived from the probes.
    pub compose_healthcheck: Option<ComposeHealthcheck>,
    /// Where the pods run: the node group they select, and whether they tolerate its taint.
    pub placement: Option<Placement>,
    /// How the pods stop.
    pub shutdown: ShutdownPolicy,
    /// Pod annotations from the spec.
    pub annotations: BTreeMap<String, String>,
    /// Secrets the image is pulled with; they must exist in the namespace.
    pub image_pull_secrets: Vec<String>,
    /// Containers run before the workload's own, in order.
    pub init: Vec<InitContainer>,
    /// The port a clustered store's replicas talk to each other on (one of `ports`); the
    /// network policies admit the workload's own pods on it.
    pub peer_port: Option<Port>,
    /// Containers beside the workload's own in every pod (a store's metrics exporter).
    pub sidecars: Vec<Sidecar>,
    /// The managed buckets (S3) this workload binds a detail of, which it reaches with an IAM
    /// role of its own on its ServiceAccount (IRSA), in name order.
    pub buckets: Vec<String>,
}

/// A container beside a workload's own in every pod, such as a metrics exporter: it shares
/// the pod's network (it reaches the workload on `localhost`) and its hardening.
#[derive(Clone, Debug)]
pub struct Sidecar {
    /// Container name.
    pub name: String,
    /// Image, pinned.
    pub image: String,
    /// The port it serves; the workload's Service publishes it too.
    pub port: Port,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Variables read from Secrets.
    pub secrets: BTreeMap<String, SecretRef>,
    /// Requests and limits.
    pub resources: Resources,
    /// HTTP path on `port` that answers while it is healthy: its liveness and readiness
    /// probe.
    pub health_path: String,
}

/// A container run to completion before the workload's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitContainer {
    /// Container name.
    pub name: String,
    /// Image (the workload's unless the spec names another).
    pub image: String,
    /// Command.
    pub command: Vec<String>,
}

/// An environment's ResourceQuota: sums over its pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// Millicores of CPU limits.
    pub cpu: Option<i64>,
    /// Bytes of memory limits.
    pub memory: Option<i128>,
    /// Pods.
    pub pods: Option<u32>,
    /// Bytes of storage requested by volume claims.
    pub storage: Option<i128>,
}

/// The node group a workload runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The node group's name, the value of its nodes' [`naming::NODE_GROUP_LABEL`].
    pub group: String,
    /// Whether the group's nodes carry the `NoSchedule` taint the pods must tolerate.
    pub dedicated: bool,
}

/// How a workload's pods stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownPolicy {
    /// Seconds between the stop signal and the kill; `None` keeps Kubernetes' default.
    pub grace_s: Option<u32>,
    /// Seconds the pod keeps running after leaving its Service (a `preStop` sleep).
    pub drain_s: Option<u32>,
}

impl Workload {
    /// The engine of an in-cluster data store (`postgres`, `redis`…); `None` for a service.
    pub fn engine(&self) -> Option<&str> {
        match &self.role {
            Role::DataStore(s) => Some(&s.engine),
            Role::Service => None,
        }
    }

    /// The ports clients connect to: every port but the one a clustered store's replicas
    /// use among themselves.
    pub fn client_ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| {
            self.peer_port
                .as_ref()
                .is_none_or(|peer| peer.port != p.port)
        })
    }

    /// The ports the workload's Service publishes, which its dependents may reach: its
    /// client ports and its sidecars' (a clustered store's peer port needs no Service: its
    /// pods find each other by their StatefulSet names).
    pub fn service_ports(&self) -> impl Iterator<Item = &Port> {
        self.client_ports()
            .chain(self.sidecars.iter().map(|s| &s.port))
    }

    /// The largest number of replicas this workload can run.
    pub fn max_replicas(&self) -> u32 {
        match &self.replicas {
            Replicas::Fixed(n) => *n,
            Replicas::Auto(a) => a.max,
        }
    }

    /// Whether this is a data store.
    pub fn is_store(&self) -> bool {
        matches!(self.role, Role::DataStore(_))
    }
}

/// A declared port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Name.
    pub name: String,
    /// Number.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// Who decides the replica count.
#[derive(Clone, Debug)]
pub enum Replicas {
    /// A fixed count.
    Fixed(u32),
    /// A HorizontalPodAutoscaler.
    Auto(Autoscaler),
}

/// Horizontal autoscaling.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// CPU utilisation target, percent.
    pub cpu: Option<u32>,
    /// Memory utilisation target, percent.
    pub memory: Option<u32>,
    /// Custom pod metrics: name and average value target.
    pub pod_metrics: Vec<(String, String)>,
    /// Scale-up behaviour.
    pub scale_up: Option<Behavior>,
    /// Scale-down behaviour.
    pub scale_down: Option<Behavior>,
}

/// Scaling behaviour in one direction.
#[derive(Clone, Debug)]
pub struct Behavior {
    /// Stabilization window in seconds.
    pub stabilization_seconds: Option<u32>,
    /// Which policy wins.
    pub select: SelectPolicy,
    /// Rate limits.
    pub policies: Vec<Policy>,
}

/// A scaling rate limit.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Percent or pods.
    pub kind: PolicyKind,
    /// How many.
    pub value: u32,
    /// Over how many seconds.
    pub period_seconds: u32,
}

/// CPU and memory requests and limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// Requested millicores.
    pub cpu_request: i64,
    /// Millicore limit.
    pub cpu_limit: i64,
    /// Requested bytes.
    pub memory_request: i128,
    /// Byte limit.
    pub memory_limit: i128,
}

/// The three probes.
#[derive(Clone, Debug, Default)]
pub struct Probes {
    /// Liveness.
    pub liveness: Option<Probe>,
    /// Readiness.
    pub readiness: Option<Probe>,
    /// Startup.
    pub startup: Option<Probe>,
}

/// One probe with its timings in seconds.
#[derive(Clone, Debug)]
pub struct Probe {
    /// What it does.
    pub action: ProbeAction,
    /// Delay before the first probe.
    pub initial_delay: u32,
    /// Time between probes.
    pub period: u32,
    /// Time a probe may take.
    pub timeout: u32,
    /// Failures before acting.
    pub failure_threshold: u32,
}

/// A probe's handler.
#[derive(Clone, Debug)]
pub enum ProbeAction {
    /// HTTP GET.
    Http {
        /// Path.
        path: String,
        /// Port.
        port: Port,
    },
    /// Run a command.
    Exec(Vec<String>),
    /// Open a TCP connection.
    Tcp(Port),
}

/// How a new version replaces the running one.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Extra pods during an update (rolling and canary).
    pub max_surge: IntOrPercent,
    /// Missing pods during an update (rolling and canary).
    pub max_unavailable: IntOrPercent,
    /// Rolling update, or progressive delivery by Argo Rollouts.
    pub strategy: Strategy,
}

impl Rollout {
    /// Whether the workload is an Argo Rollouts `Rollout` rather than a Deployment.
    pub fn progressive(&self) -> bool {
        !matches!(self.strategy, Strategy::Rolling)
    }
}

/// The update strategy of a long-running workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A Deployment's rolling update.
    Rolling,
    /// An Argo Rollouts canary, step by step.
    Canary {
        /// The steps, weights increasing.
        steps: Vec<CanaryStep>,
    },
    /// An Argo Rollouts blue-green update.
    BlueGreen {
        /// Promote without `kubectl argo rollouts promote` once the analysis passed.
        auto_promote: bool,
        /// Seconds the old version keeps running after promotion.
        scale_down_delay_seconds: u64,
    },
}

/// One canary step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryStep {
    /// The canary's share of traffic in percent.
    pub weight: u8,
    /// How long to stay at this weight.
    pub pause: Pause,
}

/// A pause after a canary step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// Go on at once.
    None,
    /// Wait this many seconds.
    Seconds(u64),
    /// Wait for a manual promotion.
    Manual,
}

/// How the mesh treats calls to a service: what its callers' sidecars apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Outlier detection.
    pub circuit_breaker: Option<CircuitBreaker>,
    /// Connection limits per caller.
    pub connection_pool: Option<ConnectionPool>,
    /// Timeout of a call, retries included, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Retries of failed calls.
    pub retries: Option<Retries>,
}

/// Outlier detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Consecutive errors that eject a pod.
    pub consecutive_errors: u32,
    /// Base ejection time, in milliseconds.
    pub ejection_ms: u64,
    /// Interval between ejection sweeps, in milliseconds.
    pub interval_ms: u64,
    /// Largest share of pods ejected at once, in percent.
    pub max_ejection_percent: u32,
}

/// Connection limits per caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionPool {
    /// Most TCP connections.
    pub max_connections: Option<u32>,
    /// Most requests waiting for a connection.
    pub max_pending_requests: Option<u32>,
    /// Most requests per connection.
    pub max_requests_per_connection: Option<u32>,
}

/// Retries of failed calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retries {
    /// Retries after the first attempt.
    pub attempts: u32,
    /// Timeout of each attempt, in milliseconds.
    pub per_try_timeout_ms: Option<u64>,
}

/// A disruption budget.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// Pods that must stay up.
    MinAvailable(IntOrPercent),
    /// Pods that may be down.
    MaxUnavailable(IntOrPercent),
}

/// A reference into the external secret store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    /// Secret name.
    pub secret: String,
    /// Key in the secret.
    pub key: String,
}

/// A mounted configuration file.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// Absolute path.
    pub path: String,
    /// Content.
    pub content: String,
}

/// A scratch volume.
#[derive(Clone, Debug)]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Mount path.
    pub path: String,
    /// Size limit in bytes.
    pub size: Option<i128>,
}

/// Persistent storage per replica.
#[derive(Clone, Debug)]
pub struct Storage {
    /// Size in bytes.
    pub size: i128,
    /// Mount path.
    pub path: String,
    /// Storage class, or the cluster default.
    pub class: Option<String>,
}

/// Ingress exposure.
#[derive(Clone, Debug)]
pub struct Ingress {
    /// Host name, placeholders substituted.
    pub host: String,
    /// Path prefix.
    pub path: String,
    /// Target port.
    pub port: Port,
    /// Whether TLS is terminated.
    pub tls: bool,
    /// Hosts that redirect to `host` permanently, placeholders substituted, in spec order.
    pub redirect_from: Vec<String>,
}

/// Metrics endpoint.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// Path.
    pub path: String,
    /// Port.
    pub port: Port,
    /// Scrape interval in milliseconds.
    pub interval_ms: u64,
    /// A secret whose value Prometheus sends as a bearer token, for an endpoint that requires
    /// one (Qdrant with an API key).
    pub bearer: Option<SecretRef>,
    /// What the request metrics served there are called.
    pub names: MetricNames,
}

/// What an application's request metrics are called.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricNames {
    /// Request counter.
    pub requests: String,
    /// Label of the counter holding the HTTP status code.
    pub status_label: String,
    /// Latency histogram, without `_bucket`.
    pub latency: String,
    /// Units of the histogram per second: 1 for seconds, 1000 for milliseconds.
    pub latency_per_second: f64,
    /// Declared bucket bounds, in the histogram's unit; empty when not declared.
    pub buckets: Vec<f64>,
}

/// Pod security settings.
#[derive(Clone, Debug)]
pub struct Security {
    /// User and group id.
    pub run_as_user: i64,
    /// Read-only root filesystem.
    pub read_only_root_filesystem: bool,
    /// Whether running as root is allowed.
    pub allow_root: bool,
    /// Whether the service account token is mounted.
    pub service_account_token: bool,
    /// Capabilities added after dropping all.
    pub add_capabilities: Vec<String>,
}

/// A threshold alert applying to one workload.
#[derive(Clone, Debug)]
pub struct Threshold {
    /// Threshold name (`cpu`, `error_rate`, or a custom one).
    pub name: String,
    /// PromQL for a custom threshold, placeholders substituted; `None` for built-ins.
    pub expr: Option<String>,
    /// Warning level (percent, seconds, or the custom unit).
    pub warning: Option<f64>,
    /// Critical level.
    pub critical: Option<f64>,
    /// How long the condition must hold, in milliseconds.
    pub for_ms: u64,
    /// Summary text.
    pub summary: Option<String>,
}

/// Backup settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// Cron schedule of full backups, if any.
    pub schedule: Option<String>,
    /// Retention in milliseconds.
    pub retention_ms: u64,
    /// Continuous archiving.
    pub continuous: bool,
    /// Cron schedule of restore drills, if any.
    pub verify: Option<String>,
}

/// A data store run by the cloud provider.
#[derive(Clone, Debug)]
pub struct ManagedStore {
    /// Name.
    pub name: String,
    /// Engine family.
    pub engine: String,
    /// Engine version.
    pub version: String,
    /// Instance class, if set.
    pub instance_class: Option<String>,
    /// Multi-AZ.
    pub multi_az: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Allocated storage in bytes.
    pub storage: i128,
    /// Read replicas.
    pub read_replicas: u32,
    /// Nodes (cache clusters).
    pub replicas: u32,
    /// Backups.
    pub backup: Option<Backup>,
    /// Ports clients connect to.
    pub ports: Vec<Port>,
    /// Credentials.
    pub secrets: BTreeMap<String, SecretRef>,
    /// The secret holding the store's password or auth token: the store's first secret
    /// reference (by variable name), else `<name>-credentials` key `password`.
    pub auth: SecretRef,
    /// Database created in a PostgreSQL store: its `POSTGRES_DB`, else the store name.
    pub database: String,
    /// Administrator user of a PostgreSQL store: its `POSTGRES_USER`, else the store name.
    pub username: String,
    /// PostgreSQL server parameters, by name, for the RDS parameter group.
    pub parameters: BTreeMap<String, String>,
    /// The name the cloud knows the store by: the S3 bucket of an object store, the RDS
    /// identifier or ElastiCache group of the others.
    pub cloud_name: String,
    /// The environment's AWS region.
    pub region: String,
}

/// The cloud side.
#[derive(Clone, Debug)]
pub struct Cloud {
    /// Provider name (`aws`).
    pub provider: String,
    /// Region.
    pub region: String,
    /// Terraform state backend.
    pub state: StateBackend,
    /// Cluster.
    pub cluster: Cluster,
    /// Network.
    pub network: Network,
    /// Whether a CDN is created.
    pub cdn: bool,
    /// The CDN's cache rules, first match first (no `host`: CloudFront matches paths).
    pub cdn_cache: Vec<CacheRule>,
    /// The environment's public DNS zone and listed records, when the spec sets `dns`.
    pub dns: Option<Dns>,
}

/// An environment's public DNS: the hosted zone (looked up, never created) and the records
/// the spec lists; the route hosts' records are external-dns's.
#[derive(Clone, Debug)]
pub struct Dns {
    /// The zone's domain, lowercase, without the final dot.
    pub zone: String,
    /// The listed records, in the spec's order.
    pub records: Vec<DnsRecord>,
    /// Whether the zone is signed with DNSSEC.
    pub dnssec: bool,
    /// Health checks of the route hosts, when the spec asks for them.
    pub health_checks: Option<HealthChecks>,
    /// Certificates proven through DNS-01 in the zone, when the spec asks for them.
    pub certificates: Option<DnsCertificates>,
    /// Where the zone is served.
    pub provider: DnsProvider,
}

/// Where an environment's zone is served.
#[derive(Clone, Debug)]
pub enum DnsProvider {
    /// Amazon Route 53.
    Route53,
    /// Cloudflare, with the API token's secret reference and the proxy, if any.
    Cloudflare {
        /// The API token, in a Secret of this name and key; `None` for a zone of an
        /// environment without a cloud, whose Terraform takes it as an input.
        api_token: Option<SecretRef>,
        /// The cluster's narrower token (external-dns, cert-manager), when the spec gives
        /// one.
        cluster_token: Option<SecretRef>,
        /// Cloudflare's proxy in front of the route hosts.
        proxy: Option<DnsProxy>,
    },
}

impl DnsProvider {
    /// Whether Cloudflare serves the zone.
    pub fn cloudflare(&self) -> bool {
        matches!(self, DnsProvider::Cloudflare { .. })
    }

    /// Cloudflare's API token, with that provider: Terraform's.
    pub fn cloudflare_token(&self) -> Option<&SecretRef> {
        match self {
            DnsProvider::Cloudflare { api_token, .. } => api_token.as_ref(),
            DnsProvider::Route53 => None,
        }
    }

    /// The token external-dns and cert-manager change the zone with, with Cloudflare: the
    /// cluster's own when the spec gives one, Terraform's otherwise.
    pub fn cluster_token(&self) -> Option<&SecretRef> {
        match self {
            DnsProvider::Cloudflare {
                api_token,
                cluster_token,
                ..
            } => cluster_token.as_ref().or(api_token.as_ref()),
            DnsProvider::Route53 => None,
        }
    }
}

/// Cloudflare's proxy in front of the route hosts.
#[derive(Clone, Debug)]
pub struct DnsProxy {
    /// Run the Cloudflare Managed Ruleset.
    pub waf: bool,
    /// Cache rules, first match first.
    pub cache: Vec<CacheRule>,
    /// The host of the R2 bucket for static assets, placeholders substituted, when asked.
    pub assets: Option<String>,
}

/// One cache rule.
#[derive(Clone, Debug)]
pub struct CacheRule {
    /// The host it applies to; every host of the zone when `None`.
    pub host: Option<String>,
    /// Path pattern, `*` for any characters.
    pub path: String,
    /// Edge TTL in seconds.
    pub edge_ttl_seconds: Option<u64>,
    /// Browser TTL in seconds.
    pub browser_ttl_seconds: Option<u64>,
}

/// Certificates of the route hosts, proven through DNS-01 records in the zone.
#[derive(Clone, Debug)]
pub struct DnsCertificates {
    /// One certificate for the zone and `*.<zone>` instead of one per host.
    pub wildcard: bool,
    /// Renew this many seconds before expiry; `None`: cert-manager's default.
    pub renew_before_seconds: Option<u64>,
}

/// Route 53 health checks of an environment's route hosts.
#[derive(Clone, Debug)]
pub struct HealthChecks {
    /// Path requested on every host; `None`: each route's own path.
    pub path: Option<String>,
    /// Seconds between two requests of one checker (10 or 30).
    pub interval_seconds: u32,
    /// Consecutive failures that make a host unhealthy.
    pub failure_threshold: u32,
}

/// One record set.
#[derive(Clone, Debug)]
pub struct DnsRecord {
    /// Full name, lowercase, without the final dot.
    pub name: String,
    /// Type, as DNS writes it (`MX`).
    pub kind: &'static str,
    /// Values, as the zone file writes them (TXT unquoted).
    pub values: Vec<String>,
    /// Time to live in seconds.
    pub ttl_seconds: u64,
    /// Through Cloudflare's proxy.
    pub proxied: bool,
}

/// Terraform state backend.
#[derive(Clone, Debug)]
pub struct StateBackend {
    /// Bucket.
    pub bucket: String,
    /// Object key, placeholders substituted.
    pub key: String,
    /// Lock table.
    pub lock_table: String,
    /// Whether the spec named the bucket (otherwise plinth chose it, and says so).
    pub bucket_named: bool,
}

/// The Kubernetes cluster.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Kubernetes version.
    pub version: String,
    /// Node groups, in name order.
    pub node_groups: Vec<NodeGroup>,
}

/// A node group.
#[derive(Clone, Debug)]
pub struct NodeGroup {
    /// Name.
    pub name: String,
    /// Instance types.
    pub instance_types: Vec<String>,
    /// Fewest nodes.
    pub min: u32,
    /// Most nodes.
    pub max: u32,
    /// Nodes at creation.
    pub desired: u32,
    /// Spot capacity.
    pub spot: bool,
    /// Tainted, so only the workloads that name the group run there.
    pub dedicated: bool,
}

/// The network.
#[derive(Clone, Debug)]
pub struct Network {
    /// VPC CIDR.
    pub cidr: String,
    /// Availability zones.
    pub azs: u32,
}

/// Metrics and alert definitions.
#[derive(Clone, Debug)]
pub struct Observability {
    /// Default scrape interval in milliseconds.
    pub scrape_interval_ms: u64,
    /// Retention in milliseconds.
    pub retention_ms: u64,
    /// Most bytes the stored metrics may use, if limited.
    pub retention_bytes: Option<i128>,
    /// Persistent volume of each Prometheus replica in a cluster, in bytes, if any.
    pub storage_bytes: Option<i128>,
    /// Prometheus replicas in a cluster.
    pub replicas: u32,
    /// Alertmanager's size.
    pub alertmanager: AlertmanagerSize,
    /// Runbook link prefix.
    pub runbook_url: Option<String>,
    /// Log stack to install.
    pub logs: Option<String>,
    /// Custom rules.
    pub rules: Vec<AlertRule>,
    /// SLOs.
    pub slos: Vec<Slo>,
}

/// Alertmanager's replicas, retention and storage.
#[derive(Clone, Debug)]
pub struct AlertmanagerSize {
    /// Replicas in a cluster.
    pub replicas: u32,
    /// How long the notification log and silences are kept, in milliseconds.
    pub retention_ms: u64,
    /// Persistent volume of each replica in a cluster, in bytes, if any.
    pub storage_bytes: Option<i128>,
}

/// A custom alert rule.
#[derive(Clone, Debug)]
pub struct AlertRule {
    /// Alert name.
    pub name: String,
    /// PromQL.
    pub expr: String,
    /// Hold duration in milliseconds.
    pub for_ms: u64,
    /// Severity.
    pub severity: SeverityLevel,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Team.
    pub team: Option<String>,
}

/// A service level objective.
#[derive(Clone, Debug)]
pub struct Slo {
    /// Name.
    pub name: String,
    /// Service.
    pub service: String,
    /// Objective as a fraction (0.999).
    pub objective: f64,
    /// Window in milliseconds.
    pub window_ms: u64,
    /// Good events query with `{window}`.
    pub good: String,
    /// Total events query with `{window}`.
    pub total: String,
    /// Description.
    pub description: Option<String>,
}

/// Alert routing.
#[derive(Clone, Debug)]
pub struct Alerting {
    /// Receivers in name order.
    pub receivers: Vec<Receiver>,
    /// Routes in order.
    pub routes: Vec<Route>,
    /// Receiver for unmatched alerts.
    pub default_receiver: Option<String>,
    /// Grouping labels.
    pub group_by: Vec<String>,
    /// Group wait in milliseconds.
    pub group_wait_ms: u64,
    /// Group interval in milliseconds.
    pub group_interval_ms: u64,
    /// Repeat interval in milliseconds.
    pub repeat_interval_ms: u64,
}

/// A notification receiver.
#[derive(Clone, Debug)]
pub struct Receiver {
    /// Name.
    pub name: String,
    /// Type and settings.
    pub kind: ReceiverKind,
    /// Notify on resolution.
    pub send_resolved: bool,
}

/// Receiver settings by type; credentials are secret references.
#[derive(Clone, Debug)]
pub enum ReceiverKind {
    /// PagerDuty.
    Pagerduty {
        /// Routing key.
        routing_key: SecretRef,
    },
    /// Slack.
    Slack {
        /// Webhook URL.
        webhook_url: SecretRef,
        /// Channel.
        channel: String,
    },
    /// Email.
    Email {
        /// Recipient.
        to: String,
        /// Sender.
        from: String,
        /// SMTP server.
        smarthost: String,
        /// SMTP password.
        password: Option<SecretRef>,
    },
    /// Webhook.
    Webhook {
        /// URL.
        url: SecretRef,
    },
}

/// A route.
#[derive(Clone, Debug)]
pub struct Route {
    /// Label equality matchers.
    pub matchers: BTreeMap<String, String>,
    /// Receiver.
    pub receiver: String,
    /// Continue matching.
    pub continue_: bool,
}
