//! Values for the upstream charts a platform installs beside its own, where the spec asks for
//! them: `grafana/loki-stack` (`observability.logs = "loki"`) and
//! `prometheus-community/kube-prometheus-stack` (any metrics endpoint, threshold, rule, SLO
//! or receiver). kube-prometheus-stack goes into the monitoring namespace
//! (`platform.monitoring_namespace`), the one the generated network policies let scrape
//! metrics ports; loki-stack into `observability`, as 000 installs it.
//!
//! Data-store charts (Bitnami PostgreSQL, Redis…) get no values: plinth runs in-cluster stores
//! as StatefulSets of its own, in the platform's chart, so such values would describe a second
//! copy of the same database.

use serde::Serialize;
use serde_json::Value as Json;

use crate::emit::{hash_banner, to_yaml, EmitError, OutputFile};
use crate::ir::{self, naming, Environment};
use crate::units::format_duration;

/// Port of Loki's HTTP API in loki-stack.
const LOKI_PORT: u16 = 3100;

/// What the Prometheus and Alertmanager targets contribute to kube-prometheus-stack: the hook
/// through which generated alert rules and routing reach the chart's values (filled by
/// `helm::prometheus_extras`). Empty parts are left out of the values, so the chart keeps its
/// own defaults for them.
#[derive(Clone, Debug, Default)]
pub struct PrometheusExtras {
    /// Rule files by name, each a Prometheus rule file (`{ groups: [...] }`); they become
    /// `additionalPrometheusRulesMap`.
    pub rule_files: Vec<(String, Json)>,
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
            path: naming::helm_upstream_values_file("loki-stack", &env.name),
            contents: format!(
                "{}{}",
                header(
                    "loki-stack",
                    "grafana",
                    naming::LOKI_RELEASE,
                    naming::LOGS_NAMESPACE
                ),
                to_yaml(&[loki_stack()])?
            ),
        });
    }
    if wants_prometheus(env) {
        files.push(OutputFile {
            path: naming::helm_upstream_values_file("kube-prometheus-stack", &env.name),
            contents: format!(
                "{}{}",
                header(
                    "kube-prometheus-stack",
                    "prometheus-community",
                    naming::KUBE_PROMETHEUS_STACK_RELEASE,
                    &env.cluster.monitoring_namespace
                ),
                to_yaml(&[kube_prometheus_stack(env, extras)])?
            ),
        });
    }
    Ok(files)
}

/// Whether the spec asks for a log stack.
fn wants_loki(env: &Environment) -> bool {
    env.observability.logs.as_deref() == Some("loki")
}

/// Whether anything of the environment needs Prometheus: a metrics endpoint (its
/// ServiceMonitor needs the operator), an alert, an SLO or somewhere to send alerts.
fn wants_prometheus(env: &Environment) -> bool {
    env.workloads
        .iter()
        .any(|w| w.metrics.is_some() || !w.thresholds.is_empty())
        || !env.observability.rules.is_empty()
        || !env.observability.slos.is_empty()
        || !env.alerting.receivers.is_empty()
}

/// loki-stack values.
#[derive(Serialize)]
struct LokiStack {
    loki: Enabled,
    promtail: Enabled,
    grafana: Enabled,
    prometheus: Enabled,
}

/// A sub-chart switch.
#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

/// Loki with Promtail shipping every pod's logs. Grafana and Prometheus stay off: the
/// Grafana of kube-prometheus-stack gets Loki as a data source instead.
fn loki_stack() -> LokiStack {
    LokiStack {
        loki: Enabled { enabled: true },
        promtail: Enabled { enabled: true },
        grafana: Enabled { enabled: false },
        prometheus: Enabled { enabled: false },
    }
}

/// kube-prometheus-stack values.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubePrometheusStack {
    prometheus: PrometheusValues,
    alertmanager: AlertmanagerValues,
    #[serde(skip_serializing_if = "Option::is_none")]
    grafana: Option<GrafanaValues>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    additional_prometheus_rules_map: serde_json::Map<String, Json>,
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
    external_labels: std::collections::BTreeMap<String, String>,
    service_monitor_selector_nil_uses_helm_values: bool,
    pod_monitor_selector_nil_uses_helm_values: bool,
    rule_selector_nil_uses_helm_values: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerValues {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alertmanager_spec: Option<AlertmanagerSpec>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerSpec {
    secrets: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GrafanaValues {
    additional_data_sources: Vec<DataSource>,
}

#[derive(Serialize)]
struct DataSource {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    url: String,
    access: String,
}

/// The kube-prometheus-stack values of one environment: scrape interval and retention from
/// `observability`, an `environment` external label on every series and alert (Alertmanager
/// groups by it), and the generated rules and Alertmanager configuration from `extras`.
///
/// The chart's Prometheus normally selects only ServiceMonitors and PrometheusRules labelled
/// with its own release; plinth's objects carry no release label, so the selectors are opened
/// to every object (`*SelectorNilUsesHelmValues: false`).
pub fn kube_prometheus_stack(env: &Environment, extras: &PrometheusExtras) -> KubePrometheusStack {
    let interval = format_duration(env.observability.scrape_interval_ms);
    KubePrometheusStack {
        prometheus: PrometheusValues {
            prometheus_spec: PrometheusSpec {
                scrape_interval: interval.clone(),
                evaluation_interval: interval,
                retention: format_duration(env.observability.retention_ms),
                external_labels: [("environment".to_owned(), env.name.clone())].into(),
                service_monitor_selector_nil_uses_helm_values: false,
                pod_monitor_selector_nil_uses_helm_values: false,
                rule_selector_nil_uses_helm_values: false,
            },
        },
        alertmanager: AlertmanagerValues {
            enabled: true,
            config: extras.alertmanager_config.clone(),
            alertmanager_spec: (!extras.alertmanager_secrets.is_empty()).then(|| {
                AlertmanagerSpec {
                    secrets: extras.alertmanager_secrets.clone(),
                }
            }),
        },
        grafana: wants_loki(env).then(|| GrafanaValues {
            additional_data_sources: vec![DataSource {
                name: "Loki".to_owned(),
                kind: "loki".to_owned(),
                url: format!(
                    "http://{}.{}.svc:{LOKI_PORT}",
                    naming::LOKI_RELEASE,
                    naming::LOGS_NAMESPACE
                ),
                access: "proxy".to_owned(),
            }],
        }),
        additional_prometheus_rules_map: extras
            .rule_files
            .iter()
            .map(|(name, file)| (name.clone(), file.clone()))
            .collect(),
    }
}
