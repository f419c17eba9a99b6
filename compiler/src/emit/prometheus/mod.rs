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
//!   with a metrics endpoint, labelled like the Kubernetes side so the same rules apply.

mod catalogue;
mod config;
mod signals;
mod slo;
mod unit_tests;

pub(crate) use catalogue::build as catalogue;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::{hash_banner, to_yaml, EmitError, Emitted, Note, OutputFile, Target};
use crate::ir::{self, naming, Environment};
use crate::units::format_duration;
use catalogue::{Catalogue, Rule};

/// Emits the Prometheus files of every environment in `envs`.
pub fn emit(platform: &ir::Platform, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let mut out = Emitted::default();
    for env in envs {
        let c = catalogue(platform, env);
        let file = |path: String, body: String| OutputFile {
            path,
            contents: format!("{}{body}", hash_banner(platform)),
        };
        let rules = rules_file(&c);
        out.files.push(file(
            naming::prometheus_rules_file(&env.name),
            to_yaml(&[&rules])?,
        ));
        if let Some(tests) = unit_tests::build(&c) {
            out.files.push(file(
                naming::prometheus_tests_file(&env.name),
                to_yaml(&[tests])?,
            ));
        }
        let object = PrometheusRule {
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
            spec: rules,
        };
        out.files.push(file(
            naming::prometheus_rule_file(&env.name),
            to_yaml(&[object])?,
        ));
        out.notes.extend(exporter_notes(env));
        out.notes.extend(c.skipped.iter().map(|(w, t)| Note {
            target: Target::Prometheus,
            message: format!(
                "threshold `{t}` of `{w}` is not generated: `{w}` has no persistent volume"
            ),
        }));
        if env.local {
            out.files.push(file(
                naming::prometheus_config_file(&env.name),
                to_yaml(&[config::build(env)])?,
            ));
        }
    }
    // The same store lacks its exporter in every environment; say so once.
    let mut seen = std::collections::BTreeSet::new();
    out.notes.retain(|n| seen.insert(n.message.clone()));
    Ok(out)
}

/// Notes for data stores whose alerts read exporter series but which declare no metrics
/// endpoint: the alerts stay silent until an exporter is scraped for them.
fn exporter_notes(env: &Environment) -> Vec<Note> {
    env.workloads
        .iter()
        .filter(|w| w.is_store() && w.metrics.is_none())
        .filter_map(|w| {
            let exporter = w.thresholds.iter().find_map(|t| match t.name.as_str() {
                _ if t.expr.is_some() => None,
                "db_connections" | "replication_lag" => Some("postgres_exporter"),
                "redis_memory" => Some("redis_exporter"),
                _ => None,
            })?;
            Some(Note {
                target: Target::Prometheus,
                message: format!(
                    "data store `{}` has no `metrics` endpoint: its {exporter} alerts need that exporter scraped with labels namespace and service=\"{}\"",
                    w.name, w.name
                ),
            })
        })
        .collect()
}

/// A `PrometheusRule` of prometheus-operator.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRule<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: RulesFile<'a>,
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
        labels: &'a BTreeMap<String, String>,
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

/// The rule groups of an environment as data, the content of `rules.yaml`: the Helm target
/// carries them in kube-prometheus-stack's values.
pub(crate) fn rule_groups(
    platform: &ir::Platform,
    env: &Environment,
) -> Result<serde_json::Value, EmitError> {
    serde_json::to_value(rules_file(&catalogue(platform, env)))
        .map_err(|e| EmitError(format!("rule serialization failed: {e}")))
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
                            labels: &a.labels,
                            annotations: &a.annotations,
                        },
                    })
                    .collect(),
            })
            .collect(),
    }
}
