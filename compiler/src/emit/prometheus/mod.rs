//! Prometheus: alerting and recording rules, their promtool unit tests, the same rules as a
//! kube-prometheus-stack `PrometheusRule`, and a `prometheus.yml` for the Compose side.
//!
//! Per environment, in `prometheus/<env>/`:
//!
//! - `rules.yaml`: a group per workload (its threshold alerts and the built-in packs), a
//!   group per SLO (SLI recordings and burn-rate alerts) and one for the spec's custom rules;
//! - `rules.test.yaml`: `promtool test rules` cases proving that each threshold alert fires
//!   just above its level, after its `for:`, and stays silent just below it;
//! - `prometheus-rule.yaml`: the same groups in a `PrometheusRule` object;
//! - `prometheus.yml`, for environments run with Compose: scrape configs for every workload
//!   with a metrics endpoint, labelled like the Kubernetes side so the same rules apply;
//! - `local-rules.yaml` and `local-rules.test.yaml`, for the environment Compose runs with
//!   its monitoring stack: the rules its Prometheus evaluates, without those reading series
//!   only a cluster produces ([`catalogue::Runtime`]). The cluster's files keep every rule.

pub(crate) mod catalogue;
mod config;
pub(crate) mod signals;
pub(crate) mod slo;
mod unit_tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::{
    hash_banner, indent, to_yaml, to_yaml_after, EmitError, Emitted, Note, OutputFile, Shared,
    Target,
};
use crate::emit::gotmpl;
use crate::ir::{self, naming, Environment};
use crate::units::format_duration;
pub(crate) use catalogue::Catalogue;
use catalogue::{Rule, Runtime};

/// The alert and recording rules of one environment: as data, for the unit tests and the
/// Alertmanager target's routing proof, and as the YAML of `rules.yaml`, which the
/// `PrometheusRule` and kube-prometheus-stack's values embed.
pub(crate) struct RuleSet {
    /// The rules as data.
    pub catalogue: Catalogue,
    /// The rules file as YAML, made on first use: the Alertmanager target alone never needs it.
    /// The Prometheus and Helm targets may ask for it at the same time from two threads; the
    /// second waits for the first instead of making it again.
    yaml: OnceLock<Result<Arc<String>, EmitError>>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("groups", &self.catalogue.groups.len())
            .finish_non_exhaustive()
    }
}

impl RuleSet {
    /// The rules of `env`, for the Prometheus of `runtime`.
    pub fn build(platform: &ir::Platform, env: &Environment, runtime: Runtime) -> Self {
        RuleSet {
            catalogue: catalogue::build(platform, env, runtime),
            yaml: OnceLock::new(),
        }
    }

    /// The rules file (`groups: ...`) as YAML, without banner.
    pub fn yaml(&self) -> Result<&Arc<String>, EmitError> {
        self.yaml
            .get_or_init(|| to_yaml(&[rules_file(&self.catalogue)]).map(Arc::new))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether there is any rule group.
    pub fn is_empty(&self) -> bool {
        self.catalogue.groups.is_empty()
    }
}

/// Emits the Prometheus files of every environment in `envs`.
pub fn emit(shared: &Shared, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let platform = shared.platform();
    let mut out = Emitted::default();
    for env in envs {
        let set = shared.rules(env);
        let c = &set.catalogue;
        let banner = hash_banner(platform);
        let file = |path: String, body: &str| {
            let mut contents = String::with_capacity(banner.len() + body.len());
            contents.push_str(&banner);
            contents.push_str(body);
            OutputFile { path, contents }
        };
        out.files
            .push(file(naming::prometheus_rules_file(&env.name), set.yaml()?));
        if let Some(tests) = unit_tests::build(c, naming::RULES_FILE) {
            out.files.push(OutputFile {
                path: naming::prometheus_tests_file(&env.name),
                contents: to_yaml_after(banner.clone(), &[tests])?,
            });
        }
        // The object's `spec` is the rules file: its YAML is reused, indented under `spec`,
        // rather than serialized a second time.
        let head = PrometheusRuleHead {
            api_version: "monitoring.coreos.com/v1",
            kind: "PrometheusRule",
            metadata: ObjectMeta {
                name: Some(naming::prometheus_rule(&platform.name)),
                namespace: Some(env.namespace.clone()),
                labels: Some({
                    let mut l = naming::common_labels(&platform.name, env);
                    l.extend(naming::prometheus_rule_selector());
                    l
                }),
                ..Default::default()
            },
        };
        let mut object = to_yaml_after(banner.clone(), &[head])?;
        object.push_str("spec:\n");
        indent(set.yaml()?, 2, &mut object);
        out.files.push(OutputFile {
            path: naming::prometheus_rule_file(&env.name),
            contents: object,
        });
        out.notes
            .extend(missing_notes(env, &c.missing, Runtime::Cluster));
        if catalogue::is_compose(platform, env) {
            let set = shared.compose_rules(env);
            let c = &set.catalogue;
            out.files.push(file(
                naming::prometheus_compose_rules_file(&env.name),
                set.yaml()?,
            ));
            if let Some(tests) = unit_tests::build(c, naming::COMPOSE_RULES_FILE) {
                out.files.push(OutputFile {
                    path: naming::prometheus_compose_tests_file(&env.name),
                    contents: to_yaml_after(banner.clone(), &[tests])?,
                });
            }
            out.notes
                .extend(missing_notes(env, &c.missing, Runtime::Compose));
        }
        out.notes.extend(managed_notes(env));
        if env.local {
            out.notes.extend(config::unscraped_notes(env));
            out.files.push(OutputFile {
                path: naming::prometheus_config_file(&env.name),
                contents: to_yaml_after(banner.clone(), &[config::build(env)])?,
            });
        }
    }
    // The same store lacks its exporter in every environment; say so once.
    let mut seen = std::collections::BTreeSet::new();
    out.notes.retain(|n| seen.insert(n.message.clone()));
    Ok(out)
}

/// The build notes for the alerts left out of `env`: which alert, for which workloads, and
/// what would make it fire. Alerts that lack the Kubernetes monitoring stack are listed once
/// per alert, with the workloads they would have watched; the others once per workload,
/// in words that do not name the environment, so that the same gap in every environment is
/// said once.
fn missing_notes(env: &Environment, missing: &[catalogue::Missing], runtime: Runtime) -> Vec<Note> {
    use catalogue::Reason;
    let note = |message: String| Note {
        target: Target::Prometheus,
        message,
    };
    let mut notes = Vec::new();
    let mut unwatched: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let workloads = env.workloads_by_name();
    for m in missing {
        let (a, w) = (&m.alert, &m.workload);
        let message = match m.reason {
            Reason::Kubernetes => {
                unwatched.entry(a).or_default().push(w);
                continue;
            }
            Reason::Volume => format!(
                "threshold `{}` of `{w}` is not generated: `{w}` has no persistent volume",
                m.threshold.as_deref().unwrap_or_default()
            ),
            Reason::Replicas => {
                format!("alert `{a}` of `{w}` is not generated: `{w}` has no read replicas")
            }
            Reason::SingleNode => format!(
                "alert `{a}` of `{w}` is not generated: Docker Compose runs one node of `{w}`, with no replicas to follow it"
            ),
            Reason::Endpoint(signals::Source::Exporter) => {
                let exporter = workloads
                    .get(w.as_str())
                    .and_then(|w| match &w.role {
                        ir::Role::DataStore(s) => Some(format!("{}_exporter", s.engine)),
                        ir::Role::Service => None,
                    })
                    .unwrap_or_else(|| "exporter".to_owned());
                format!(
                    "alert `{a}` of `{w}` is not generated: it reads {exporter} series and `{w}` declares no `metrics` endpoint; run the exporter beside `{w}` and declare its port as `metrics` (scraped with labels namespace and service=\"{w}\")"
                )
            }
            Reason::Endpoint(_) => format!(
                "alert `{a}` of `{w}` is not generated: it reads the application's request metrics (its request counter and latency histogram, as `observability.metrics` names them) and `{w}` declares no `metrics` endpoint to scrape them from"
            ),
        };
        notes.push(note(message));
    }
    let (r#where, why) = match runtime {
        Runtime::Compose => (
            " by Docker Compose's Prometheus",
            "it reads kube-state-metrics, cAdvisor or kubelet series, which Docker Compose does not produce; the cluster's rules keep it",
        ),
        Runtime::Cluster => (
            "",
            "no kube-prometheus-stack is installed there, as nothing asks for Prometheus (a metrics endpoint, threshold, rule, SLO or receiver)",
        ),
    };
    for (alert, names) in unwatched {
        notes.push(note(format!(
            "alert `{alert}` is not generated for {} in `{}`{where}: {why}",
            name_list(&names),
            env.name
        )));
    }
    notes
}

/// The build notes for the data stores the cloud runs in `env`: no generated alert watches
/// them. RDS and ElastiCache publish their metrics to CloudWatch, which no generated
/// Prometheus scrapes, so the thresholds that watch an in-cluster store (connections,
/// replication lag, memory, disk, CPU) have nothing to read there; the spec cannot express
/// CloudWatch alarms yet, and the README says so.
fn managed_notes(env: &Environment) -> Vec<Note> {
    env.managed_stores
        .iter()
        .filter_map(|st| {
            let service = match st.engine.as_str() {
                "postgres" => "RDS",
                "redis" => "ElastiCache",
                _ => return None,
            };
            Some(Note {
                target: Target::Prometheus,
                message: format!(
                    "no alert watches `{}` in `{}`, which {service} runs: its metrics are in CloudWatch, which no generated Prometheus scrapes, so its thresholds are not generated there; alarm on them in CloudWatch",
                    st.name, env.name
                ),
            })
        })
        .collect()
}

/// Up to three names in backquotes, then how many more.
fn name_list(names: &[&str]) -> String {
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    match names.len().saturating_sub(3) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// A `PrometheusRule` of prometheus-operator up to its `spec`, the rules file, which
/// follows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRuleHead {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
}

/// A Prometheus rules file.
#[derive(Serialize)]
struct RulesFile<'a> {
    groups: Vec<GroupOut<'a>>,
}

#[derive(Serialize)]
struct GroupOut<'a> {
    name: &'a str,
    rules: Vec<RuleOut<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RuleOut<'a> {
    Record {
        record: &'a str,
        expr: Expr,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        labels: &'a BTreeMap<String, String>,
    },
    Alert {
        alert: &'a str,
        expr: Expr,
        #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
        for_: Option<String>,
        /// Prometheus expands an alerting rule's labels as templates: the values are text.
        labels: Cow<'a, BTreeMap<String, String>>,
        annotations: &'a BTreeMap<String, String>,
    },
}

/// PromQL: short one-liners as plain scalars, anything longer as a literal block, so that it
/// reads as written, never folded or escaped.
#[derive(Serialize)]
#[serde(untagged)]
enum Expr {
    Line(String),
    Block(serde_saphyr::LitString),
}

fn expr(text: &str) -> Expr {
    if text.contains('\n') || text.len() > 60 {
        Expr::Block(serde_saphyr::LitString(text.to_owned()))
    } else {
        Expr::Line(text.to_owned())
    }
}

/// An alerting rule's labels as Prometheus must read them: each value a template that
/// prints the value itself ([`gotmpl::literal`]). Borrowed unless a value holds a `{`.
fn literal_labels(labels: &BTreeMap<String, String>) -> Cow<'_, BTreeMap<String, String>> {
    if labels.values().any(|v| v.contains('{')) {
        Cow::Owned(
            labels
                .iter()
                .map(|(k, v)| (k.clone(), gotmpl::literal(v).into_owned()))
                .collect(),
        )
    } else {
        Cow::Borrowed(labels)
    }
}

fn rules_file(c: &Catalogue) -> RulesFile<'_> {
    RulesFile {
        groups: c
            .groups
            .iter()
            .map(|g| GroupOut {
                name: &g.name,
                rules: g
                    .rules
                    .iter()
                    .map(|r| match r {
                        Rule::Record(r) => RuleOut::Record {
                            record: &r.record,
                            expr: expr(&r.expr),
                            labels: &r.labels,
                        },
                        Rule::Alert(a) => RuleOut::Alert {
                            alert: &a.name,
                            expr: expr(&a.expr),
                            for_: (a.for_ms > 0).then(|| format_duration(a.for_ms)),
                            labels: literal_labels(&a.labels),
                            annotations: &a.annotations,
                        },
                    })
                    .collect(),
            })
            .collect(),
    }
}
