//! The spec's serde types: a one-to-one mirror of the TOML file, format version 1.
//!
//! Every field that a diagnostic may point at is an [`Sp`]. Fields are optional wherever a
//! preset or an environment overlay may supply them: the same [`Service`] and [`DataStore`]
//! types describe a base definition, a preset and an environment override, and the checker
//! reports what a fully merged definition still lacks. Doc comments here become the JSON
//! Schema's descriptions, so editors show them on hover.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use super::span::Sp;

/// A named map whose keys keep their spans.
pub type Named<T> = BTreeMap<Sp<String>, T>;

/// A whole spec file.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "plinth platform spec",
    description = "One typed description of a platform: services, data stores, environments, cloud, observability and alerting. See https://github.com/plinth-iac/plinth."
)]
pub struct Spec {
    /// Format version of this file. Only `1` exists.
    pub version: Sp<i64>,
    /// Who and what this platform is.
    pub platform: Platform,
    /// Application workloads, by name (a DNS label such as `api-gateway`).
    #[serde(default)]
    pub services: Named<Service>,
    /// Data stores built from stdlib presets (`postgres`, `redis`, `qdrant`, `minio`), by name.
    #[serde(default)]
    pub datastores: Named<DataStore>,
    /// Environments (`dev`, `staging`, `production`…): overlays on the base definitions.
    #[serde(default)]
    pub environments: Named<Environment>,
    /// The cloud side: provider, Terraform state, cluster, network. Omit it for a spec that
    /// deploys onto an existing cluster; then no Terraform is generated.
    pub cloud: Option<Cloud>,
    /// Metrics, alert thresholds, custom rules and SLOs.
    #[serde(default)]
    pub observability: Observability,
    /// Where alerts go.
    #[serde(default)]
    pub alerting: Alerting,
    /// Warnings this spec accepts, each with the reason: `check` no longer prints them.
    #[serde(default)]
    pub allow: Vec<Allow>,
}

/// A warning the spec accepts.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// The warning's code, e.g. `W001`. Errors cannot be allowed.
    pub code: Sp<String>,
    /// Why it does not apply here; required, so the next reader knows.
    pub reason: Sp<String>,
}

/// Who and what this platform is.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Platform name, a DNS label; used for the namespace, chart and resource names.
    pub name: Sp<String>,
    /// Kubernetes namespace; defaults to the platform name.
    pub namespace: Option<Sp<String>>,
    /// Base domain that ingress hosts may use as `{domain}`.
    pub domain: Option<Sp<String>>,
    /// Owning team; becomes the `team` label of every resource and alert.
    pub team: Option<Sp<String>>,
    /// Owner contact (an address or a handle).
    pub owner: Option<Sp<String>>,
    /// Extra labels on every resource.
    #[serde(default)]
    pub labels: BTreeMap<Sp<String>, Sp<String>>,
    /// Environment variables of every service (not data stores), below each service's own
    /// `env`. Values may use `{env}`, `{namespace}`, `{domain}` and `{platform}`, e.g.
    /// `SENTRY_ENV = "{env}"`.
    pub env: Option<BTreeMap<Sp<String>, Sp<String>>>,
    /// Ingress class of generated Ingresses; defaults to `nginx`.
    pub ingress_class: Option<Sp<String>>,
    /// Namespace the ingress controller runs in (allowed through network policies); defaults
    /// to `ingress-nginx`.
    pub ingress_namespace: Option<Sp<String>>,
    /// cert-manager ClusterIssuer that provisions TLS certificates; defaults to `letsencrypt`.
    pub tls_issuer: Option<Sp<String>>,
    /// Namespace Prometheus runs in (allowed to scrape metrics ports); defaults to
    /// `monitoring`.
    pub monitoring_namespace: Option<Sp<String>>,
    /// Outbound traffic every service may send beyond its dependencies (e.g. an error tracker
    /// at `0.0.0.0/0` port 443). Everything else is denied.
    pub egress: Option<Vec<Egress>>,
}

/// An allowed outbound destination.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    /// Destination network in CIDR notation, e.g. `"0.0.0.0/0"` for anywhere.
    pub cidr: Sp<String>,
    /// Destination ports (TCP).
    pub ports: Vec<Sp<i64>>,
}

/// What kind of workload a service is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    /// A stateless server behind a Service (a Deployment).
    Web,
    /// A stateless background worker (a Deployment; a Service only if it declares ports).
    Worker,
    /// A workload with stable identity and storage per replica (a StatefulSet).
    Stateful,
    /// A scheduled job (a CronJob); needs `schedule`.
    Cron,
    /// A task run to completion on every deploy, such as database migrations: a Job, which
    /// the Helm chart runs before each upgrade rolls out (and after the first install), and
    /// Compose before the services that depend on it start.
    Job,
}

/// An application workload, or an environment's override of one.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Workload kind; defaults to `web`.
    pub kind: Option<Sp<ServiceKind>>,
    /// Image reference `registry/name:tag` or `registry/name@sha256:…`; `latest` and untagged
    /// images are rejected.
    pub image: Option<Sp<String>>,
    /// Overrides the image's entrypoint.
    pub command: Option<Vec<Sp<String>>>,
    /// Arguments to the entrypoint.
    pub args: Option<Vec<Sp<String>>>,
    /// Cron schedule (five fields), for `kind = "cron"`.
    pub schedule: Option<Sp<String>>,
    /// Ports the workload listens on.
    pub ports: Option<Vec<Port>>,
    /// Fixed replica count; leave it out when `autoscaling` is set.
    pub replicas: Option<Sp<i64>>,
    /// CPU and memory requests and limits (Kubernetes quantities).
    pub resources: Option<Resources>,
    /// Horizontal autoscaling.
    pub autoscaling: Option<Autoscaling>,
    /// Vertical autoscaling mode (creates a VerticalPodAutoscaler).
    pub vertical_autoscaling: Option<Sp<VpaMode>>,
    /// Liveness, readiness and startup probes.
    pub probes: Option<Probes>,
    /// Rolling-update strategy.
    pub rollout: Option<Rollout>,
    /// Pod disruption budget; by default one is created for workloads with more than one
    /// replica, allowing one pod to be unavailable.
    pub disruption_budget: Option<DisruptionBudget>,
    /// The node group to run on, a `cloud.cluster.node_groups` name: pods select its nodes by
    /// their `plinth/node-group` label, and tolerate its taint when the group is `dedicated`.
    pub node_group: Option<Sp<String>>,
    /// Graceful shutdown: how long the pod may take to stop, and how long it keeps serving
    /// while it is taken out of its Service.
    pub shutdown: Option<Shutdown>,
    /// Pod annotations (for agents that read them, e.g. a log shipper).
    pub annotations: Option<BTreeMap<Sp<String>, Sp<String>>>,
    /// Names of `kubernetes.io/dockerconfigjson` Secrets to pull the image with. plinth does
    /// not create them: they are prerequisites, listed in the build summary.
    pub image_pull_secrets: Option<Vec<Sp<String>>>,
    /// Containers run to completion, in order, before the workload's own container starts in
    /// every pod (init containers), with its environment, secrets and security settings.
    pub init: Option<Vec<InitContainer>>,
    /// Plain environment variables. Values that look like secrets are rejected: use `secrets`.
    pub env: Option<BTreeMap<Sp<String>, Sp<String>>>,
    /// Environment variables read from an external secret store, by variable name.
    pub secrets: Option<BTreeMap<Sp<String>, SecretRef>>,
    /// Files mounted read-only from a generated ConfigMap.
    pub config_files: Option<Vec<ConfigFile>>,
    /// Scratch volumes (emptyDir).
    pub volumes: Option<Vec<Volume>>,
    /// Persistent storage: one volume per replica for `stateful` workloads.
    pub storage: Option<Storage>,
    /// Services and data stores this one needs; drives network policies, start order and
    /// Compose health conditions.
    pub depends_on: Option<Vec<Sp<String>>>,
    /// Exposure through the ingress controller.
    pub ingress: Option<Ingress>,
    /// Outbound traffic this service may send beyond its dependencies and `platform.egress`,
    /// e.g. `[{ cidr = "0.0.0.0/0", ports = [443] }]` for an external API.
    pub egress: Option<Vec<Egress>>,
    /// Prometheus metrics endpoint.
    pub metrics: Option<Metrics>,
    /// Per-service alert thresholds, overriding `observability.thresholds`.
    pub thresholds: Option<BTreeMap<Sp<String>, Threshold>>,
    /// Owning team, for labels and alert routing; defaults to the platform's team.
    pub team: Option<Sp<String>>,
    /// Opt-outs from the secure pod defaults. Each one is reported as a warning.
    pub security: Option<Security>,
    /// Settings only the Docker Compose output reads.
    pub compose: Option<WorkloadCompose>,
}

/// A port a workload listens on.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Port name (IANA service name syntax, e.g. `http`, `grpc`, `metrics`).
    pub name: Sp<String>,
    /// Port number.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Sp<i64>,
    /// Transport protocol; defaults to `tcp`.
    pub protocol: Option<Sp<Protocol>>,
}

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A Kubernetes quantity written as a string (`"250m"`, `"1Gi"`) or a plain number (`2`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[schemars(transparent)]
pub struct Quantity(#[schemars(with = "QuantitySchema")] pub String);

/// Schema stand-in for [`Quantity`]: a string or a number.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum QuantitySchema {
    Text(String),
    Number(f64),
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Quantity(StrOrNum::deserialize(d)?.0))
    }
}

/// Accepts a string or a number and keeps its text.
struct StrOrNum(String);

impl<'de> Deserialize<'de> for StrOrNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = StrOrNum;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StrOrNum, E> {
                Ok(StrOrNum(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StrOrNum, E> {
                Ok(StrOrNum(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StrOrNum, E> {
                Ok(StrOrNum(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<StrOrNum, E> {
                Ok(StrOrNum(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A threshold level: a number (percent, count) or a string with a unit (`"500ms"`).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct Level(#[schemars(with = "QuantitySchema")] pub String);

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Level(StrOrNum::deserialize(d)?.0))
    }
}

/// An integer or a percentage string such as `"25%"` (rolling updates, disruption budgets).
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(transparent)]
pub struct IntOrPercent(#[schemars(with = "QuantitySchema")] pub String);

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(IntOrPercent(StrOrNum::deserialize(d)?.0))
    }
}

/// CPU and memory requests and limits.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves.
    pub requests: Option<ResourceAmounts>,
    /// The most the container may use.
    pub limits: Option<ResourceAmounts>,
}

/// One set of CPU and memory amounts.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    /// CPU, e.g. `"250m"` or `2`.
    pub cpu: Option<Sp<Quantity>>,
    /// Memory, e.g. `"512Mi"`.
    pub memory: Option<Sp<Quantity>>,
}

/// Horizontal autoscaling (HorizontalPodAutoscaler `autoscaling/v2`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    /// Fewest replicas.
    pub min: Option<Sp<i64>>,
    /// Most replicas.
    pub max: Option<Sp<i64>>,
    /// Target average CPU utilisation, percent of requests.
    pub cpu: Option<Sp<i64>>,
    /// Target average memory utilisation, percent of requests.
    pub memory: Option<Sp<i64>>,
    /// Custom per-pod metrics, e.g. `http_requests_per_second`.
    pub metrics: Option<Vec<PodMetric>>,
    /// How fast to add replicas.
    pub scale_up: Option<ScalingBehavior>,
    /// How fast to remove replicas.
    pub scale_down: Option<ScalingBehavior>,
}

/// A custom per-pod metric target.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodMetric {
    /// Metric name as served by the custom metrics API.
    pub name: Sp<String>,
    /// Target average value per pod (a quantity, e.g. `100` or `"500m"`).
    pub target: Sp<Quantity>,
}

/// Scale-up or scale-down behaviour.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingBehavior {
    /// Stabilization window, e.g. `"60s"`.
    pub stabilization: Option<Sp<String>>,
    /// Which policy wins when several allow a change; defaults to `max`.
    pub select: Option<Sp<SelectPolicy>>,
    /// Rate limits on change.
    pub policies: Option<Vec<ScalingPolicy>>,
}

/// Which scaling policy wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// One scaling rate limit.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingPolicy {
    /// `percent` of current replicas or a number of `pods`.
    #[serde(rename = "type")]
    pub kind: Sp<PolicyKind>,
    /// How many percent or pods.
    pub value: Sp<i64>,
    /// Over what period, e.g. `"15s"`.
    pub period: Sp<String>,
}

/// Unit of a scaling policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Percent of the current replica count.
    Percent,
    /// Absolute number of pods.
    Pods,
}

/// VerticalPodAutoscaler update mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VpaMode {
    /// Only recommend.
    Off,
    /// Apply at pod creation.
    Initial,
    /// Apply by evicting pods.
    Recreate,
    /// Let the VPA choose.
    Auto,
}

/// The three probe kinds.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    /// Restarts the container when it fails.
    pub liveness: Option<Probe>,
    /// Removes the pod from load balancing when it fails.
    pub readiness: Option<Probe>,
    /// Holds the other probes until the container has started.
    pub startup: Option<Probe>,
}

/// One probe: HTTP (`path`), exec (`command`) or TCP (only `port`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// HTTP path, for an HTTP GET probe.
    pub path: Option<Sp<String>>,
    /// Port name or number; defaults to the first port.
    pub port: Option<Sp<PortRef>>,
    /// Command to run, for an exec probe.
    pub command: Option<Vec<Sp<String>>>,
    /// Delay before the first probe, e.g. `"30s"`.
    pub initial_delay: Option<Sp<String>>,
    /// Time between probes.
    pub period: Option<Sp<String>>,
    /// Time a probe may take.
    pub timeout: Option<Sp<String>>,
    /// Consecutive failures before acting.
    pub failure_threshold: Option<Sp<i64>>,
}

/// A port by name or by number.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum PortRef {
    /// By name.
    Name(String),
    /// By number.
    Number(i64),
}

impl<'de> Deserialize<'de> for PortRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = StrOrNum::deserialize(d)?.0;
        Ok(match text.parse::<i64>() {
            Ok(n) => PortRef::Number(n),
            Err(_) => PortRef::Name(text),
        })
    }
}

/// Rolling-update strategy.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Pods above the desired count during an update (number or `"25%"`).
    pub max_surge: Option<Sp<IntOrPercent>>,
    /// Pods below the desired count during an update (number or `"25%"`).
    pub max_unavailable: Option<Sp<IntOrPercent>>,
}

/// Pod disruption budget; set one of the two, or `enabled = false`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisruptionBudget {
    /// Whether to create one at all.
    pub enabled: Option<Sp<bool>>,
    /// Pods that must stay available.
    pub min_available: Option<Sp<IntOrPercent>>,
    /// Pods that may be down at once.
    pub max_unavailable: Option<Sp<IntOrPercent>>,
}

/// A reference to a value in the external secret store. Never a value.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the secret in the store (synced to a Kubernetes Secret of the same name).
    pub secret: Sp<String>,
    /// Key within the secret.
    pub key: Sp<String>,
}

/// A configuration file mounted read-only.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Absolute path in the container.
    pub path: Sp<String>,
    /// File content.
    pub content: Sp<String>,
}

/// A scratch volume (emptyDir).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Volume name.
    pub name: Sp<String>,
    /// Mount path.
    pub path: Sp<String>,
    /// Size limit, e.g. `"1Gi"`.
    pub size: Option<Sp<Quantity>>,
}

/// Persistent storage.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Size per replica, e.g. `"100Gi"`.
    pub size: Option<Sp<Quantity>>,
    /// Mount path in the container.
    pub path: Option<Sp<String>>,
    /// Storage class; the cluster default when absent.
    pub class: Option<Sp<String>>,
}

/// Exposure through the ingress controller.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    /// Host name; may use `{domain}` for the environment's domain, e.g. `"api.{domain}"`.
    pub host: Option<Sp<String>>,
    /// Path prefix; defaults to `/`.
    pub path: Option<Sp<String>>,
    /// Port name or number to route to; defaults to the first port.
    pub port: Option<Sp<PortRef>>,
    /// Terminate TLS with a certificate for the host; defaults to true.
    pub tls: Option<Sp<bool>>,
}

/// Prometheus metrics endpoint.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// HTTP path; defaults to `/metrics`.
    pub path: Option<Sp<String>>,
    /// Port name or number; defaults to the first port.
    pub port: Option<Sp<PortRef>>,
    /// Scrape interval; defaults to `observability.scrape_interval`.
    pub interval: Option<Sp<String>>,
}

/// Opt-outs from the secure pod defaults.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// User id to run as; must be at least 10000 unless `allow_root` is set.
    pub run_as_user: Option<Sp<i64>>,
    /// Keep the root filesystem read-only (default true).
    pub read_only_root_filesystem: Option<Sp<bool>>,
    /// Allow running as root (default false).
    pub allow_root: Option<Sp<bool>>,
    /// Mount the service account token (default false).
    pub service_account_token: Option<Sp<bool>>,
    /// Capabilities to add back after dropping all.
    pub add_capabilities: Option<Vec<Sp<String>>>,
}

/// Settings of a service or data store that only the Docker Compose output reads.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadCompose {
    /// How Compose checks that the container is healthy, which is what dependents wait for.
    /// `"wget"` or `"curl"` runs the HTTP readiness probe with that client, which the image
    /// must contain; a command such as `["mc", "ready", "local"]` runs that command. Without
    /// it, Compose runs the exec readiness probe if there is one; an HTTP or TCP probe needs
    /// a client that slim and distroless images lack, so dependents then only wait for the
    /// container to start.
    pub healthcheck: Option<Sp<ComposeHealthcheck>>,
}

/// A Compose health check: an HTTP client inside the image, or a command.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum ComposeHealthcheck {
    /// Run the HTTP readiness probe with this client.
    Client(HttpClient),
    /// Run this command in the container; exit code 0 means healthy.
    Command(Vec<String>),
}

impl<'de> Deserialize<'de> for ComposeHealthcheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ComposeHealthcheck;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`wget`, `curl` or a command")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ComposeHealthcheck, E> {
                match v {
                    "wget" => Ok(ComposeHealthcheck::Client(HttpClient::Wget)),
                    "curl" => Ok(ComposeHealthcheck::Client(HttpClient::Curl)),
                    _ => Err(E::unknown_variant(v, &["wget", "curl"])),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ComposeHealthcheck, A::Error> {
                let mut cmd = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    cmd.push(arg);
                }
                Ok(ComposeHealthcheck::Command(cmd))
            }
        }
        d.deserialize_any(V)
    }
}

/// An HTTP client that Compose runs inside the container for a health check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HttpClient {
    /// `wget -q --spider URL` (BusyBox and GNU wget; Alpine-based images have it).
    Wget,
    /// `curl -fsS -o /dev/null URL`.
    Curl,
}

/// What the Docker Compose output runs beside the platform. Each is off unless set.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentCompose {
    /// Run Prometheus with the generated rules (on 127.0.0.1:9090) and Alertmanager with the
    /// generated configuration (on 127.0.0.1:9093). They mount the files of the `prometheus`
    /// and `alertmanager` targets, so build those too.
    pub monitoring: Option<Sp<bool>>,
    /// Run Dozzle, a web viewer of every container's logs, on 127.0.0.1:8890.
    pub log_viewer: Option<Sp<bool>>,
}

/// Whether a data store is run by the cloud provider or inside the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StoreMode {
    /// A managed cloud service, created by Terraform.
    Managed,
    /// A StatefulSet in the cluster.
    InCluster,
}

/// A data store from a stdlib preset, or an environment's override of one. Any field set here
/// overrides the preset.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataStore {
    /// Stdlib preset: `postgres`, `redis`, `qdrant` or `minio`.
    pub preset: Option<Sp<String>>,
    /// Engine family, set by the preset.
    pub engine: Option<Sp<String>>,
    /// Engine version; also the image tag.
    pub version: Option<Sp<String>>,
    /// `managed` (cloud service) or `in-cluster` (StatefulSet); defaults to `in-cluster`.
    pub mode: Option<Sp<StoreMode>>,
    /// Image repository without tag; the tag is `version`.
    pub image: Option<Sp<String>>,
    /// Overrides the image's entrypoint.
    pub command: Option<Vec<Sp<String>>>,
    /// Arguments to the entrypoint.
    pub args: Option<Vec<Sp<String>>>,
    /// Ports the store listens on.
    pub ports: Option<Vec<Port>>,
    /// Instances (cluster nodes or primary count).
    pub replicas: Option<Sp<i64>>,
    /// Read replicas beside the primary.
    pub read_replicas: Option<Sp<i64>>,
    /// CPU and memory.
    pub resources: Option<Resources>,
    /// Vertical autoscaling mode.
    pub vertical_autoscaling: Option<Sp<VpaMode>>,
    /// Probes; presets supply engine-specific ones.
    pub probes: Option<Probes>,
    /// Plain environment variables.
    pub env: Option<BTreeMap<Sp<String>, Sp<String>>>,
    /// Secret environment variables (passwords), by variable name.
    pub secrets: Option<BTreeMap<Sp<String>, SecretRef>>,
    /// Persistent storage per instance.
    pub storage: Option<Storage>,
    /// Scratch volumes (emptyDir), e.g. a socket directory under a read-only root.
    pub volumes: Option<Vec<Volume>>,
    /// Backups.
    pub backup: Option<Backup>,
    /// Prometheus metrics endpoint (an exporter port).
    pub metrics: Option<Metrics>,
    /// Settings of the managed cloud service.
    pub managed: Option<ManagedSettings>,
    /// Per-store alert thresholds.
    pub thresholds: Option<BTreeMap<Sp<String>, Threshold>>,
    /// Opt-outs from the secure pod defaults.
    pub security: Option<Security>,
    /// Settings only the Docker Compose output reads.
    pub compose: Option<WorkloadCompose>,
}

/// Backup schedule and retention.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Cron schedule of full backups.
    pub schedule: Option<Sp<String>>,
    /// How long backups are kept, e.g. `"30d"`.
    pub retention: Option<Sp<String>>,
    /// Continuous WAL/point-in-time archiving.
    pub continuous: Option<Sp<bool>>,
}

/// Settings of a managed cloud data store.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedSettings {
    /// Instance class, e.g. `db.r6g.large` or `cache.r6g.large`.
    pub instance_class: Option<Sp<String>>,
    /// Spread across availability zones.
    pub multi_az: Option<Sp<bool>>,
    /// Refuse to delete the store.
    pub deletion_protection: Option<Sp<bool>>,
}

/// An environment: an overlay on the base definitions.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Domain for `{domain}` in ingress hosts.
    pub domain: Option<Sp<String>>,
    /// Kubernetes namespace; defaults to the platform's namespace (environments usually live
    /// in separate clusters).
    pub namespace: Option<Sp<String>>,
    /// Multiplies replica counts and autoscaling bounds (rounded up, at least 1), e.g. `0.5`.
    pub replica_scale: Option<Sp<f64>>,
    /// Multiplies CPU and memory requests and limits, e.g. `0.5` for "50% of production".
    pub resource_scale: Option<Sp<f64>>,
    /// The environment Docker Compose is generated for (at most one). When no environment
    /// sets it, the environment named `dev` is used, if there is one.
    pub local: Option<Sp<bool>>,
    /// What the Docker Compose output runs beside the platform; read only for the Compose
    /// environment.
    pub compose: Option<EnvironmentCompose>,
    /// Environment variables of every service in this environment: over `platform.env` and
    /// each service's own `env`, under the environment's override of one service.
    pub env: Option<BTreeMap<Sp<String>, Sp<String>>>,
    /// A ResourceQuota on the environment's namespace, with a LimitRange giving plinth's
    /// default requests and limits to any container that sets none (a quota on limits
    /// rejects those otherwise).
    pub quota: Option<Quota>,
    /// Alerting of this environment over the spec's `[alerting]` (so staging need not page):
    /// receivers merge by name, a receiver of the same name replacing the base one; `routes`,
    /// when given, replace the base routes; the other keys replace the base values.
    pub alerting: Option<Alerting>,
    /// Per-service overrides; any service field.
    #[serde(default)]
    pub services: Named<Service>,
    /// Per-data-store overrides; any data store field.
    #[serde(default)]
    pub datastores: Named<DataStore>,
    /// Cloud overrides (e.g. smaller node groups).
    pub cloud: Option<Cloud>,
}

/// Cloud provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Amazon Web Services.
    Aws,
}

/// The cloud side of the platform.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cloud {
    /// Set `false` for an environment that gets no cloud side (no Terraform): it deploys onto
    /// a cluster that exists already. The local (Compose) environment has none unless it has
    /// a `cloud` section of its own.
    pub enabled: Option<Sp<bool>>,
    /// Provider; only `aws` today.
    pub provider: Option<Sp<Provider>>,
    /// Region, e.g. `us-east-1`.
    pub region: Option<Sp<String>>,
    /// Terraform state backend.
    pub state: Option<StateBackend>,
    /// The Kubernetes cluster.
    pub cluster: Option<Cluster>,
    /// The network.
    pub network: Option<Network>,
    /// CDN in front of the ingress.
    pub cdn: Option<Cdn>,
}

/// Terraform state backend (S3 with DynamoDB locking).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateBackend {
    /// Bucket name.
    pub bucket: Option<Sp<String>>,
    /// Object key; may use `{env}`. Defaults to `{env}/terraform.tfstate`.
    pub key: Option<Sp<String>>,
    /// DynamoDB lock table.
    pub lock_table: Option<Sp<String>>,
}

/// A managed Kubernetes cluster.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Kubernetes version, e.g. `"1.35"` (the default: the newest on plinth's EKS calendar).
    pub version: Option<Sp<String>>,
    /// Node groups by name.
    #[serde(default)]
    pub node_groups: Named<NodeGroup>,
}

/// A group of worker nodes.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeGroup {
    /// Instance types, e.g. `["m6i.large"]`.
    pub instance_types: Option<Vec<Sp<String>>>,
    /// Fewest nodes.
    pub min: Option<Sp<i64>>,
    /// Most nodes.
    pub max: Option<Sp<i64>>,
    /// Nodes at creation.
    pub desired: Option<Sp<i64>>,
    /// Use spot capacity.
    pub spot: Option<Sp<bool>>,
    /// Reserve the group for the workloads that name it in `node_group` (its nodes get a
    /// `NoSchedule` taint they tolerate), e.g. spot capacity for non-critical workloads.
    pub dedicated: Option<Sp<bool>>,
}

/// The most a namespace may use, summed over its pods.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// CPU limits of all containers together, e.g. `"16"`.
    pub cpu: Option<Sp<Quantity>>,
    /// Memory limits of all containers together, e.g. `"32Gi"`.
    pub memory: Option<Sp<Quantity>>,
    /// Pods.
    pub pods: Option<Sp<i64>>,
    /// Storage requested by all volume claims together, e.g. `"500Gi"`.
    pub storage: Option<Sp<Quantity>>,
}

/// A container run before the workload's own.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InitContainer {
    /// Name, a DNS label unique among the pod's containers.
    pub name: Sp<String>,
    /// Image; defaults to the workload's.
    pub image: Option<Sp<String>>,
    /// The command to run, e.g. `["/app/wait-for-db"]`.
    pub command: Vec<Sp<String>>,
}

/// How a workload stops.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    /// Time between the stop signal and the kill, e.g. `"60s"`
    /// (`terminationGracePeriodSeconds`; Kubernetes' default is 30 s).
    pub grace: Option<Sp<String>>,
    /// Time the pod keeps running after it is taken out of its Service, before the stop
    /// signal, so that requests already routed to it complete (a `preStop` sleep), e.g.
    /// `"5s"`. Counts against `grace`.
    pub drain: Option<Sp<String>>,
}

/// The network.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// VPC CIDR block.
    pub cidr: Option<Sp<String>>,
    /// Number of availability zones.
    pub azs: Option<Sp<i64>>,
}

/// CDN in front of the platform.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cdn {
    /// Whether to create one.
    pub enabled: Option<Sp<bool>>,
}

/// Metrics collection and alert definitions.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    /// Default scrape interval; defaults to `"30s"`.
    pub scrape_interval: Option<Sp<String>>,
    /// Metrics retention, e.g. `"30d"`.
    pub retention: Option<Sp<String>>,
    /// Link prefix for alert runbooks; the alert name is appended.
    pub runbook_url: Option<Sp<String>>,
    /// Log stack to install: `loki`.
    pub logs: Option<Sp<String>>,
    /// Threshold alerts applied to every service (and overridable per service), by name.
    /// Built in: `cpu`, `memory`, `error_rate`, `latency_p95`, `disk`, `db_connections`,
    /// `replication_lag`, `redis_memory`; any other name needs `expr`.
    #[serde(default)]
    pub thresholds: BTreeMap<Sp<String>, Threshold>,
    /// Custom alert rules.
    #[serde(default)]
    pub rules: Vec<AlertRule>,
    /// Service level objectives, by name.
    #[serde(default)]
    pub slos: Named<Slo>,
}

/// A threshold alert with a warning and a critical level.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// PromQL for a custom threshold; `{service}` and `{namespace}` are substituted.
    pub expr: Option<Sp<String>>,
    /// Warning level (a number, or a duration for latency).
    pub warning: Option<Sp<Level>>,
    /// Critical level.
    pub critical: Option<Sp<Level>>,
    /// How long the condition must hold, e.g. `"5m"`.
    #[serde(rename = "for")]
    pub for_: Option<Sp<String>>,
    /// Set to false to turn a built-in threshold off for a service.
    pub enabled: Option<Sp<bool>>,
    /// What the alert means, for its summary annotation.
    pub summary: Option<Sp<String>>,
}

/// Alert severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeverityLevel {
    /// Needs a human now.
    Critical,
    /// Needs a look soon.
    Warning,
    /// For information.
    Info,
}

/// A custom alert rule.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Alert name, UpperCamelCase by convention.
    pub name: Sp<String>,
    /// PromQL expression; the alert fires while it returns series.
    pub expr: Sp<String>,
    /// How long the expression must hold.
    #[serde(rename = "for")]
    pub for_: Option<Sp<String>>,
    /// Severity.
    pub severity: Sp<SeverityLevel>,
    /// Summary annotation.
    pub summary: Option<Sp<String>>,
    /// Description annotation.
    pub description: Option<Sp<String>>,
    /// Owning team, for routing.
    pub team: Option<Sp<String>>,
}

/// A service level objective.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The service it is about.
    pub service: Sp<String>,
    /// Objective in percent, e.g. `99.9`.
    pub objective: Sp<f64>,
    /// Compliance window; defaults to `"30d"`.
    pub window: Option<Sp<String>>,
    /// PromQL of good events per second; `{window}` is replaced by each evaluation window.
    pub good: Sp<String>,
    /// PromQL of all events per second; `{window}` is replaced by each evaluation window.
    pub total: Sp<String>,
    /// What the SLO promises.
    pub description: Option<Sp<String>>,
}

/// Alert routing.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    /// Notification receivers, by name.
    #[serde(default)]
    pub receivers: Named<Receiver>,
    /// Routes, first match wins.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Receiver for alerts no route matches.
    pub default_receiver: Option<Sp<String>>,
    /// Labels to group alerts by; defaults to alertname, service, environment.
    pub group_by: Option<Vec<Sp<String>>>,
    /// Wait before the first notification of a group.
    pub group_wait: Option<Sp<String>>,
    /// Wait before notifying about new alerts in a group.
    pub group_interval: Option<Sp<String>>,
    /// Wait before repeating a notification.
    pub repeat_interval: Option<Sp<String>>,
}

/// Receiver type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    /// PagerDuty Events API v2; needs `routing_key`.
    Pagerduty,
    /// Slack incoming webhook; needs `webhook_url` and `channel`.
    Slack,
    /// Email; needs `to`, `from` and `smarthost`.
    Email,
    /// Generic webhook; needs `url`.
    Webhook,
}

/// A notification receiver. Credentials are secret references, mounted as files.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Receiver type.
    #[serde(rename = "type")]
    pub kind: Sp<ReceiverKind>,
    /// PagerDuty routing key.
    pub routing_key: Option<SecretRef>,
    /// Slack webhook URL.
    pub webhook_url: Option<SecretRef>,
    /// Slack channel, e.g. `#alerts`.
    pub channel: Option<Sp<String>>,
    /// Email recipient.
    pub to: Option<Sp<String>>,
    /// Email sender.
    pub from: Option<Sp<String>>,
    /// SMTP server `host:port`.
    pub smarthost: Option<Sp<String>>,
    /// SMTP password.
    pub password: Option<SecretRef>,
    /// Webhook URL (a secret, as it often embeds a token).
    pub url: Option<SecretRef>,
    /// Also notify when alerts resolve; defaults to true.
    pub send_resolved: Option<Sp<bool>>,
}

/// A route: alerts whose labels match go to the receiver.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Label equality matchers, e.g. `{ severity = "critical" }`.
    #[serde(rename = "match")]
    pub matchers: BTreeMap<Sp<String>, Sp<String>>,
    /// Receiver name.
    pub receiver: Sp<String>,
    /// Keep looking for further matching routes.
    #[serde(rename = "continue")]
    pub continue_: Option<Sp<bool>>,
}
