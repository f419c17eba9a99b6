//! Values for the upstream charts a platform installs beside its own, where the spec asks for
//! them: `grafana-community/loki` with `grafana/alloy` shipping the pods' logs
//! (`observability.logs = "loki"`), and `prometheus-community/kube-prometheus-stack` (any
//! metrics endpoint, threshold, rule, SLO or receiver). kube-prometheus-stack goes into the
//! monitoring namespace (`platform.monitoring_namespace`), the one the generated network
//! policies let scrape metrics ports; Loki and Alloy into `observability`, as 000 installs
//! its log stack. The Terraform target installs the same charts from these same files.
//!
//! Loki is not `grafana/loki-stack` with Promtail any more: both are deprecated, and Grafana's
//! own `grafana/loki` chart is kept for its enterprise product since March 2026; the
//! community fork `grafana-community/loki` is the open-source chart.
//!
//! Data-store charts (Bitnami PostgreSQL, Redis…) get no values: plinth runs in-cluster stores
//! as StatefulSets of its own, in the platform's chart, so such values would describe a second
//! copy of the same database.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;

use crate::emit::{hash_banner, indent, to_yaml, EmitError, OutputFile};
use crate::ir::{self, naming, Environment};
use crate::units::format_duration;

/// The day Loki's only schema period starts. Any past date will do for a new install; it
/// is fixed so that the values never change by themselves (a later date would hide older
/// logs).
const LOKI_SCHEMA_FROM: &str = "2024-04-01";

/// What the Prometheus and Alertmanager targets contribute to kube-prometheus-stack: the hook
/// through which generated alert rules and routing reach the chart's values (filled by
/// `helm::prometheus_extras`). Empty parts are left out of the values, so the chart keeps its
/// own defaults for them.
#[derive(Clone, Debug, Default)]
pub struct PrometheusExtras {
    /// Rule files by name, each the YAML of a Prometheus rule file (`groups: ...`); they
    /// become `additionalPrometheusRulesMap`.
    pub rule_files: Vec<(String, Arc<String>)>,
    /// The Alertmanager configuration (`route`, `receivers`…); it becomes
    /// `alertmanager.config`.
    pub alertmanager_config: Option<Json>,
    /// Kubernetes Secrets the Alertmanager configuration reads credentials from; each is
    /// mounted at `/etc/alertmanager/secrets/<name>/`.
    pub alertmanager_secrets: Vec<String>,
}

/// The upstream values files of one environment.
pub fn emit(
    platform: &ir::Platform,
    env: &Environment,
    extras: &PrometheusExtras,
) -> Result<Vec<OutputFile>, EmitError> {
    let mut files = Vec::new();
    let header = |chart: &str, repo: &str, release: &str, namespace: &str| {
        format!(
            "{}# Values of {repo}/{chart} for `{}`:\n#   helm upgrade --install {release} {repo}/{chart} --namespace {namespace} -f {}\n",
            hash_banner(platform),
            env.name,
            naming::helm_upstream_values_file(chart, &env.name),
        )
    };
    if wants_loki(env) {
        files.push(OutputFile {
            path: naming::helm_upstream_values_file("loki", &env.name),
            contents: format!(
                "{}{}",
                header(
                    "loki",
                    "grafana-community",
                    naming::LOKI_RELEASE,
                    naming::LOGS_NAMESPACE
                ),
                to_yaml(&[loki()])?
            ),
        });
        files.push(OutputFile {
            path: naming::helm_upstream_values_file("alloy", &env.name),
            contents: format!(
                "{}{}",
                header(
                    "alloy",
                    "grafana",
                    naming::ALLOY_RELEASE,
                    naming::LOGS_NAMESPACE
                ),
                to_yaml(&[alloy()])?
            ),
        });
    }
    for addon in crate::emit::addons::plan(platform, env) {
        let Some(values) = &addon.values else {
            continue;
        };
        files.push(OutputFile {
            path: naming::helm_upstream_values_file(addon.chart, &env.name),
            contents: format!(
                "{}{}",
                addon_header(platform, env, &addon),
                to_yaml(&[values])?
            ),
        });
    }
    if wants_prometheus(env) {
        let mut contents = header(
            "kube-prometheus-stack",
            "prometheus-community",
            naming::KUBE_PROMETHEUS_STACK_RELEASE,
            &env.cluster.monitoring_namespace,
        );
        contents.push_str(&kube_prometheus_stack_values(env, extras)?);
        files.push(OutputFile {
            path: naming::helm_upstream_values_file("kube-prometheus-stack", &env.name),
            contents,
        });
    }
    Ok(files)
}

/// The header of an add-on's values file: what it is and the command that installs it by
/// hand, with the role ARN an add-on's service account needs (Terraform sets it).
fn addon_header(
    platform: &ir::Platform,
    env: &Environment,
    addon: &crate::emit::addons::Addon,
) -> String {
    let chart = if addon.repository.starts_with("oci://") {
        format!("{}/{}", addon.repository, addon.chart)
    } else {
        format!("{} --repo {}", addon.chart, addon.repository)
    };
    let role = addon.role.map_or_else(String::new, |r| {
        format!(" --set {}=<role ARN>", r.value_path())
    });
    format!(
        "{}# Values of the cluster add-on {} {} for `{}`:
#   helm upgrade --install {} {chart} --version {} --namespace {} --create-namespace -f {}{role}
",
        hash_banner(platform),
        addon.chart,
        addon.version,
        env.name,
        addon.release,
        addon.version,
        addon.namespace,
        naming::helm_upstream_values_file(addon.chart, &env.name),
    )
}

/// Whether the spec asks for a log stack. The Terraform target installs Loki and Alloy on
/// the same condition.
pub(crate) fn wants_loki(env: &Environment) -> bool {
    env.observability.logs.as_deref() == Some("loki")
}

/// Whether anything of the environment needs Prometheus: a metrics endpoint (its
/// ServiceMonitor needs the operator), an alert, an SLO, somewhere to send alerts, or an HPA
/// on a custom per-pod metric (prometheus-adapter serves it from Prometheus). The
/// Terraform target installs kube-prometheus-stack, from this values file, on the same
/// condition.
pub(crate) fn wants_prometheus(env: &Environment) -> bool {
    env.workloads.iter().any(|w| {
        w.metrics.is_some()
            || !w.thresholds.is_empty()
            || matches!(&w.replicas, ir::Replicas::Auto(a) if !a.pod_metrics.is_empty())
    }) || !env.observability.rules.is_empty()
        || !env.observability.slos.is_empty()
        || !env.alerting.receivers.is_empty()
}

/// grafana-community/loki values: one Loki binary (`Monolithic`), single-tenant, keeping its
/// chunks and index on its own volume (from the cluster's default StorageClass), behind the
/// chart's gateway. The memcached caches (8 GiB of memory requested by default), the canary
/// DaemonSet and the chart test are left out: they are sized for large installs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Loki {
    deployment_mode: &'static str,
    loki: LokiConfig,
    single_binary: Replicas,
    read: Replicas,
    write: Replicas,
    backend: Replicas,
    gateway: Enabled,
    chunks_cache: Enabled,
    results_cache: Enabled,
    loki_canary: Enabled,
    test: Enabled,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LokiConfig {
    /// Loki's own key: snake case, unlike the chart's.
    #[serde(rename = "auth_enabled")]
    auth_enabled: bool,
    common_config: LokiCommon,
    storage: LokiStorage,
    schema_config: LokiSchemaConfig,
}

#[derive(Serialize)]
struct LokiCommon {
    replication_factor: u32,
}

#[derive(Serialize)]
struct LokiStorage {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct LokiSchemaConfig {
    configs: Vec<LokiSchema>,
}

/// One schema period of Loki's `schema_config`.
#[derive(Serialize)]
struct LokiSchema {
    from: &'static str,
    store: &'static str,
    object_store: &'static str,
    schema: &'static str,
    index: LokiIndex,
}

#[derive(Serialize)]
struct LokiIndex {
    prefix: &'static str,
    period: &'static str,
}

/// A component's replica count.
#[derive(Serialize)]
struct Replicas {
    replicas: u32,
}

/// A sub-chart or component switch.
#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

fn loki() -> Loki {
    let off = || Enabled { enabled: false };
    Loki {
        deployment_mode: "Monolithic",
        loki: LokiConfig {
            // One tenant: Grafana and Alloy send no tenant header.
            auth_enabled: false,
            common_config: LokiCommon {
                replication_factor: 1,
            },
            storage: LokiStorage { kind: "filesystem" },
            schema_config: LokiSchemaConfig {
                configs: vec![LokiSchema {
                    from: LOKI_SCHEMA_FROM,
                    store: "tsdb",
                    object_store: "filesystem",
                    schema: "v13",
                    index: LokiIndex {
                        prefix: "loki_index_",
                        period: "24h",
                    },
                }],
            },
        },
        single_binary: Replicas { replicas: 1 },
        // The scalable targets' defaults are three replicas each; monolithic runs none.
        read: Replicas { replicas: 0 },
        write: Replicas { replicas: 0 },
        backend: Replicas { replicas: 0 },
        gateway: Enabled { enabled: true },
        chunks_cache: off(),
        results_cache: off(),
        loki_canary: off(),
        test: off(),
    }
}

/// The URL of Loki for clients in the cluster: the chart's gateway Service,
/// `<release>-gateway`, on port 80.
fn loki_url() -> String {
    format!(
        "http://{}-gateway.{}.svc",
        naming::LOKI_RELEASE,
        naming::LOGS_NAMESPACE
    )
}

/// grafana/alloy values: one Alloy (a Deployment, not a DaemonSet) tailing every pod's logs
/// through the Kubernetes API and pushing them to Loki, labelled with namespace, pod,
/// container and app. Through the API it needs no host paths, no root and no privileged
/// container, and one instance covers the cluster.
#[derive(Serialize)]
struct Alloy {
    alloy: AlloyConfig,
    controller: AlloyController,
    crds: AlloyCrds,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlloyConfig {
    config_map: AlloyConfigMap,
}

#[derive(Serialize)]
struct AlloyConfigMap {
    content: String,
}

#[derive(Serialize)]
struct AlloyController {
    #[serde(rename = "type")]
    kind: &'static str,
    replicas: u32,
}

/// Alloy's CRDs (PodLogs) are for configurations plinth does not write.
#[derive(Serialize)]
struct AlloyCrds {
    create: bool,
}

fn alloy() -> Alloy {
    let labels = [
        ("__meta_kubernetes_namespace", "namespace"),
        ("__meta_kubernetes_pod_name", "pod"),
        ("__meta_kubernetes_pod_container_name", "container"),
        ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "app"),
    ];
    let rules: String = labels
        .iter()
        .map(|(from, to)| {
            format!(
                r#"
  rule {{
    source_labels = ["{from}"]
    target_label  = "{to}"
  }}
"#
            )
        })
        .collect();
    let url = format!("{}/loki/api/v1/push", loki_url());
    let config = format!(
        r#"discovery.kubernetes "pods" {{
  role = "pod"
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
{rules}}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{url}"
  }}
}}
"#
    );
    Alloy {
        alloy: AlloyConfig {
            config_map: AlloyConfigMap { content: config },
        },
        controller: AlloyController {
            kind: "deployment",
            replicas: 1,
        },
        crds: AlloyCrds { create: false },
    }
}

/// kube-prometheus-stack values.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubePrometheusStack {
    prometheus: PrometheusValues,
    alertmanager: AlertmanagerValues,
    grafana: GrafanaValues,
    #[serde(skip_serializing_if = "Option::is_none")]
    kube_controller_manager: Option<Enabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kube_scheduler: Option<Enabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kube_etcd: Option<Enabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kube_proxy: Option<Enabled>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusValues {
    prometheus_spec: PrometheusSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusSpec {
    scrape_interval: String,
    evaluation_interval: String,
    retention: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_size: Option<String>,
    replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_spec: Option<StorageSpec>,
    external_labels: std::collections::BTreeMap<String, String>,
    service_monitor_selector_nil_uses_helm_values: bool,
    pod_monitor_selector_nil_uses_helm_values: bool,
    probe_selector_nil_uses_helm_values: bool,
    scrape_config_selector_nil_uses_helm_values: bool,
    rule_selector_nil_uses_helm_values: bool,
}

/// Prometheus's or Alertmanager's persistent volume: a claim per replica from the cluster's
/// default StorageClass (no `storageClassName`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StorageSpec {
    volume_claim_template: VolumeClaimTemplate,
}

#[derive(Serialize)]
struct VolumeClaimTemplate {
    spec: k8s_openapi::api::core::v1::PersistentVolumeClaimSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerValues {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Json>,
    alertmanager_spec: AlertmanagerSpec,
}

/// The `Alertmanager` the chart makes: its size (`observability.alertmanager`) and the
/// Secrets its configuration reads credentials from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerSpec {
    replicas: u32,
    retention: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<StorageSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaValues {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    additional_data_sources: Vec<DataSource>,
    sidecar: GrafanaSidecar,
}

/// The sidecar of the chart's Grafana that loads dashboards from ConfigMaps. The values are
/// kube-prometheus-stack 88.5.3's defaults, written out because plinth's dashboard
/// ConfigMaps depend on them: the label and value they carry, and a search of every
/// namespace, since they live in the platform's namespace, not the chart's.
#[derive(Serialize)]
struct GrafanaSidecar {
    dashboards: GrafanaSidecarDashboards,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaSidecarDashboards {
    enabled: bool,
    label: &'static str,
    label_value: &'static str,
    search_namespace: &'static str,
}

#[derive(Serialize)]
struct DataSource {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    url: String,
    access: String,
}

/// The kube-prometheus-stack values of one environment as YAML: [`kube_prometheus_stack`],
/// then `additionalPrometheusRulesMap` with the rule files of `extras` (left out when there
/// are none, so the chart keeps its default).
///
/// The rule files are already YAML (the Prometheus target's `rules.yaml`), so they are
/// indented into place instead of being turned back into data and serialized again: at
/// 1,000 services they are 12 MB per environment.
pub fn kube_prometheus_stack_values(
    env: &Environment,
    extras: &PrometheusExtras,
) -> Result<String, EmitError> {
    let mut out = to_yaml(&[kube_prometheus_stack(env, extras)])?;
    if extras.rule_files.is_empty() {
        return Ok(out);
    }
    out.push_str("additionalPrometheusRulesMap:\n");
    for (name, yaml) in &extras.rule_files {
        // The key as a scalar from the serializer, which quotes it where YAML needs it.
        let key = to_yaml(&[name])?;
        let key = key.trim_end();
        if key.contains('\n') {
            return Err(EmitError(format!(
                "rule file name {name:?} is not one line"
            )));
        }
        out.push_str("  ");
        out.push_str(key);
        out.push_str(":\n");
        indent(yaml, 4, &mut out);
    }
    Ok(out)
}

/// A volume claim template of `bytes` on the default StorageClass, written once per replica.
fn storage_spec(bytes: i128) -> StorageSpec {
    use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    StorageSpec {
        volume_claim_template: VolumeClaimTemplate {
            spec: PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(
                        [(
                            "storage".to_owned(),
                            Quantity(crate::units::format_bytes(bytes)),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            },
        },
    }
}

/// The kube-prometheus-stack values of one environment except the rules (see
/// [`kube_prometheus_stack_values`]): scrape interval and retention from `observability`, an
/// `environment` external label on every series and alert (Alertmanager groups by it), and
/// the Alertmanager configuration from `extras`.
///
/// The chart's Prometheus normally selects only ServiceMonitors, PodMonitors, Probes,
/// ScrapeConfigs and PrometheusRules labelled with its own release; plinth's objects carry no
/// release label, so the selectors are opened to every object
/// (`*SelectorNilUsesHelmValues: false`).
///
/// On the EKS cluster of an environment with an AWS cloud, the chart's monitors of the
/// control plane's components are switched off ([`eks_control_plane_off`]).
pub fn kube_prometheus_stack(env: &Environment, extras: &PrometheusExtras) -> KubePrometheusStack {
    let interval = format_duration(env.observability.scrape_interval_ms);
    let off = || eks_control_plane_off(env).then_some(Enabled { enabled: false });
    KubePrometheusStack {
        prometheus: PrometheusValues {
            prometheus_spec: PrometheusSpec {
                scrape_interval: interval.clone(),
                evaluation_interval: interval,
                retention: format_duration(env.observability.retention_ms),
                retention_size: env
                    .observability
                    .retention_bytes
                    .map(crate::units::prometheus_bytes),
                replicas: env.observability.replicas,
                storage_spec: env.observability.storage_bytes.map(storage_spec),
                external_labels: [("environment".to_owned(), env.name.clone())].into(),
                service_monitor_selector_nil_uses_helm_values: false,
                pod_monitor_selector_nil_uses_helm_values: false,
                probe_selector_nil_uses_helm_values: false,
                scrape_config_selector_nil_uses_helm_values: false,
                rule_selector_nil_uses_helm_values: false,
            },
        },
        alertmanager: AlertmanagerValues {
            enabled: true,
            config: extras.alertmanager_config.clone(),
            alertmanager_spec: AlertmanagerSpec {
                replicas: env.observability.alertmanager.replicas,
                retention: crate::units::format_go_duration(
                    env.observability.alertmanager.retention_ms,
                ),
                storage: env
                    .observability
                    .alertmanager
                    .storage_bytes
                    .map(storage_spec),
                secrets: extras.alertmanager_secrets.clone(),
            },
        },
        grafana: GrafanaValues {
            additional_data_sources: wants_loki(env)
                .then(|| DataSource {
                    name: "Loki".to_owned(),
                    kind: "loki".to_owned(),
                    url: loki_url(),
                    access: "proxy".to_owned(),
                })
                .into_iter()
                .collect(),
            sidecar: GrafanaSidecar {
                dashboards: GrafanaSidecarDashboards {
                    enabled: true,
                    label: naming::GRAFANA_DASHBOARD_LABEL.0,
                    label_value: naming::GRAFANA_DASHBOARD_LABEL.1,
                    search_namespace: "ALL",
                },
            },
        },
        kube_controller_manager: off(),
        kube_scheduler: off(),
        kube_etcd: off(),
        kube_proxy: off(),
    }
}

/// Whether the environment's cluster is the EKS cluster its Terraform creates, where the
/// chart's monitors of the control plane must be off.
///
/// Why: kube-prometheus-stack 88.5.3 enables `kubeControllerManager`, `kubeScheduler`,
/// `kubeEtcd` and `kubeProxy` by default, scraping pods that EKS does not expose (its control
/// plane is managed, out of the cluster) or that listen on loopback only (EKS's kube-proxy
/// serves its metrics on `127.0.0.1:10249`). `KubeControllerManagerDown` and
/// `KubeSchedulerDown` (critical, `absent(up{…})`) would then fire forever, as would
/// `KubeProxyInstanceUnreachable` and `TargetDown` for every node's kube-proxy; etcd has no
/// target at all. Switching a component off removes its Service, ServiceMonitor and rules.
fn eks_control_plane_off(env: &Environment) -> bool {
    env.cloud.as_ref().is_some_and(|c| c.provider == "aws")
}
