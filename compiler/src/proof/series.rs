//! The series alert rules and dashboard panels read: each must be produced by something in
//! the environment.

use std::collections::{BTreeMap, BTreeSet};

use super::cluster;
use super::index::Index;
use super::refs;
use super::{Artifacts, Finding, Object, Rule};
use crate::diag::Code;
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, VectorSelector};

/// Prefixes of the series the monitoring stack produces by itself when it is installed:
/// kube-state-metrics, cAdvisor, the kubelet, node-exporter, the API server, CoreDNS, and
/// Prometheus and Alertmanager about themselves. `up` and `ALERTS` are Prometheus's own.
const STACK_PREFIXES: &[&str] = &[
    "kube_",
    "container_",
    "kubelet_",
    "node_",
    "machine_",
    "scrape_",
    "prometheus_",
    "alertmanager_",
    "apiserver_",
    "process_",
    "go_",
    "coredns_",
    "etcd_",
    "rest_client_",
    "workqueue_",
    "storage_operation_",
    "volume_manager_",
    "kubeproxy_",
    "kubernetes_",
];

/// Series names the stack produces whole.
const STACK_SERIES: &[&str] = &["up", "ALERTS", "ALERTS_FOR_STATE"];

/// Every vector selector of an expression: its metric name and its equality matchers.
fn selectors(e: &Expr, out: &mut Vec<(String, BTreeMap<String, String>)>) {
    let mut add = |vs: &VectorSelector| {
        let eq: BTreeMap<String, String> = vs
            .matchers
            .matchers
            .iter()
            .filter(|m| matches!(m.op, MatchOp::Equal))
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect();
        if let Some(name) = vs.name.clone().or_else(|| eq.get("__name__").cloned()) {
            out.push((name, eq));
        }
    };
    match e {
        Expr::VectorSelector(vs) => add(vs),
        Expr::MatrixSelector(m) => add(&m.vs),
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The selectors of one expression: metric name and equality matchers.
type Selectors = Vec<(String, BTreeMap<String, String>)>;

/// Prefix of the placeholder that stands for the `N`th string literal of an expression.
const PLACEHOLDER: &str = "__plinth_literal_";

/// An expression with each string literal replaced by a numbered placeholder, and the
/// literals. The rules of a platform differ mostly in their strings (namespace, service,
/// container), so parsing each shape once, not each rule, is what keeps promql-parser (which
/// compiles a regular expression for every `=~` matcher) from being most of the proof.
fn shape(expr: &str) -> (String, Vec<String>) {
    let mut shape = String::with_capacity(expr.len());
    let mut literals = Vec::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        if c != '"' && c != '\'' && c != '`' {
            shape.push(c);
            continue;
        }
        let mut literal = String::new();
        let mut escaped = false;
        for d in chars.by_ref() {
            if escaped {
                literal.push('\\');
                literal.push(d);
                escaped = false;
            } else if d == '\\' && c != '`' {
                escaped = true;
            } else if d == c {
                break;
            } else {
                literal.push(d);
            }
        }
        shape.push_str(&format!("\"{PLACEHOLDER}{}\"", literals.len()));
        literals.push(literal);
    }
    (shape, literals)
}

/// The selectors of `expr`, from the parse of its shape in `cache` (parsed on first use):
/// `None` when it does not parse.
fn selectors_of<'c>(
    expr: &str,
    cache: &'c mut BTreeMap<String, Option<Selectors>>,
) -> Option<(&'c Selectors, Vec<String>)> {
    let (shape, literals) = shape(expr);
    let parsed = cache.entry(shape).or_insert_with_key(|shape| {
        let expr = parser::parse(shape).ok()?;
        let mut found = Vec::new();
        selectors(&expr, &mut found);
        Some(found)
    });
    parsed.as_ref().map(|p| (p, literals))
}

/// A value of a parsed shape with its placeholder replaced by the literal it stands for.
/// An escaped literal keeps its escapes, which the names and labels plinth generates have
/// none of.
fn literal(value: &str, literals: &[String]) -> String {
    value
        .strip_prefix(PLACEHOLDER)
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| literals.get(n))
        .cloned()
        .unwrap_or_else(|| value.to_owned())
}

/// The names under which Prometheus scrapes the output's targets: the Services a
/// ServiceMonitor selects (their `service` and `job` labels) and the workloads whose pods a
/// PodMonitor selects.
fn scraped(objects: &[Object], index: &Index) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for m in objects.iter().filter(|o| o.kind == "ServiceMonitor") {
        names.extend(
            refs::monitored_services(m, index)
                .into_iter()
                .map(|s| s.name.clone()),
        );
    }
    for m in objects.iter().filter(|o| o.kind == "PodMonitor") {
        let pods = index.pods_selected(&m.namespace, m.doc.pointer("/spec/selector"));
        names.extend(
            pods.into_iter()
                .map(|i| index.pods[i].object.owner().to_owned()),
        );
    }
    names
}

/// Whether the monitoring stack's own series are there: kube-prometheus-stack is a release
/// of the environment's Terraform, or the environment has no cloud (no Terraform, or one of its
/// Cloudflare zone only), so its cluster's stack
/// is not the output's to prove (the proof's note says so).
fn stack_installed(a: &Artifacts) -> bool {
    match &a.terraform {
        Some(tf) if super::builds_cluster(tf) => {
            cluster::installs_chart(tf, "kube-prometheus-stack")
        }
        _ => true,
    }
}

/// P013 `unproduced-series`: a rule reads a series that nothing in the environment produces.
/// A selector naming a `service` or `job` needs that target scraped (a ServiceMonitor or
/// PodMonitor of the output selects it); otherwise the series must be recorded by another
/// rule, be the monitoring stack's own (kube-state-metrics `kube_*`, cAdvisor `container_*`,
/// the kubelet, node-exporter `node_*`, `up`, Prometheus and Alertmanager) with the stack
/// installed, or come from some scraped target.
///
/// Why: a rule over a series that does not exist evaluates to nothing and never fires, so
/// the alert it promises is silently absent: `pg_*` without a postgres exporter, `http_*` of
/// a service with no metrics endpoint.
pub(super) fn unproduced_series(
    a: &Artifacts,
    index: &Index,
    rules: &[Rule],
    out: &mut Vec<Finding>,
) {
    let reads = rules.iter().map(|r| {
        let what = r.alert.as_deref().or(r.record.as_deref()).unwrap_or("rule");
        Read {
            subject: Subject::Rule(what),
            workload: r.labels.get("service").map(String::as_str),
            expr: r.expr.as_str(),
        }
    });
    unproduced(a, index, rules, reads, out);
}

/// P013 `unproduced-series`, for dashboards: a panel of a generated Grafana dashboard (a
/// ConfigMap labelled for kube-prometheus-stack's Grafana sidecar) reads a series nothing
/// in the environment produces, judged as the rules are (see [`unproduced_series`]).
///
/// Why: a panel over a series that does not exist is drawn empty, and an empty panel reads
/// as "all is well"; dashboards are meant to leave out what the environment cannot show.
pub(super) fn unproduced_panel_series(
    a: &Artifacts,
    index: &Index,
    rules: &[Rule],
    out: &mut Vec<Finding>,
) {
    let objects = a.objects.as_deref().unwrap_or_default();
    let (key, value) = crate::ir::naming::GRAFANA_DASHBOARD_LABEL;
    let mut boards = Vec::new();
    for cm in objects.iter().filter(|o| {
        o.kind == "ConfigMap"
            && o.doc
                .pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(serde_json::Value::as_str)
                == Some(value)
    }) {
        for text in cm
            .doc
            .get("data")
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flat_map(|data| data.values())
            .filter_map(serde_json::Value::as_str)
        {
            // Typed, which skips the layout; a board with a field of an unexpected type is
            // read again as values, so one odd field costs its own read, not the board's.
            match serde_json::from_str::<Board>(text) {
                Ok(board) => boards.push(board),
                Err(_) => {
                    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
                        boards.push(Board::from_value(&value));
                    }
                }
            }
        }
    }
    let reads = boards.iter().flat_map(|board| {
        board.panels.iter().flat_map(move |panel| {
            panel.targets.iter().filter_map(move |t| {
                Some(Read {
                    subject: Subject::Panel {
                        panel: panel.title.as_deref().unwrap_or_default(),
                        dashboard: board.title.as_deref().unwrap_or_default(),
                    },
                    workload: None,
                    expr: t.expr.as_deref()?,
                })
            })
        })
    });
    unproduced(a, index, rules, reads, out);
}

/// What the proof reads of a Grafana dashboard: its title and its panels' queries. Typed, so
/// that the rest of the JSON (layout, field configuration: most of it) is skipped rather
/// than built into values.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Board {
    title: Option<String>,
    panels: Vec<BoardPanel>,
}

impl Board {
    /// The board of a dashboard's JSON read as values, each field taken where it has the
    /// expected type and left out where not.
    fn from_value(board: &serde_json::Value) -> Self {
        use serde_json::Value;
        fn text(v: &Value, key: &str) -> Option<String> {
            v.get(key).and_then(Value::as_str).map(str::to_owned)
        }
        fn list<'v>(v: &'v Value, key: &str) -> &'v [Value] {
            v.get(key)
                .and_then(Value::as_array)
                .map_or(&[], Vec::as_slice)
        }
        Board {
            title: text(board, "title"),
            panels: list(board, "panels")
                .iter()
                .map(|p| BoardPanel {
                    title: text(p, "title"),
                    targets: list(p, "targets")
                        .iter()
                        .map(|t| BoardTarget {
                            expr: text(t, "expr"),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A panel of [`Board`].
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct BoardPanel {
    title: Option<String>,
    targets: Vec<BoardTarget>,
}

/// A query of [`BoardPanel`].
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct BoardTarget {
    expr: Option<String>,
}

/// What a finding about a read calls it.
enum Subject<'a> {
    /// An alerting or recording rule, by name.
    Rule(&'a str),
    /// A dashboard panel, by its title and its dashboard's.
    Panel { panel: &'a str, dashboard: &'a str },
}

impl std::fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Rule(name) => write!(f, "rule `{name}`"),
            Subject::Panel { panel, dashboard } => {
                write!(f, "panel `{panel}` of dashboard `{dashboard}`")
            }
        }
    }
}

/// One expression the output evaluates, and what to call it in a finding.
struct Read<'a> {
    /// What the finding calls it: a rule or a dashboard panel, by name.
    subject: Subject<'a>,
    /// The workload it is about, when known.
    workload: Option<&'a str>,
    /// The PromQL.
    expr: &'a str,
}

/// The findings of P013 over `reads`, with the series `rules` record counted as produced.
fn unproduced<'a>(
    a: &Artifacts,
    index: &Index,
    rules: &[Rule],
    reads: impl Iterator<Item = Read<'a>>,
    out: &mut Vec<Finding>,
) {
    let objects = a.objects.as_deref().unwrap_or_default();
    let recorded: BTreeSet<&str> = rules.iter().filter_map(|r| r.record.as_deref()).collect();
    let scraped = scraped(objects, index);
    let stack = stack_installed(a);
    let mut cache = BTreeMap::new();
    for r in reads {
        let Some((shape, literals)) = selectors_of(r.expr, &mut cache) else {
            continue;
        };
        let found = shape.iter().map(|(name, eq)| {
            let eq: BTreeMap<String, String> = eq
                .iter()
                .map(|(k, v)| (k.clone(), literal(v, &literals)))
                .collect();
            (literal(name, &literals), eq)
        });
        let what = &r.subject;
        for (name, eq) in found {
            if recorded.contains(name.as_str()) {
                continue;
            }
            let target = eq.get("service").or_else(|| eq.get("job"));
            // A panel belongs to no workload; its finding points at the one it selects.
            let workload = r.workload.or(eq
                .get("service")
                .filter(|_| matches!(r.subject, Subject::Panel { .. }))
                .map(String::as_str));
            let own = STACK_SERIES.contains(&name.as_str())
                || STACK_PREFIXES.iter().any(|p| name.starts_with(p))
                || name.contains(':');
            // Which producer the series needs, and whether the environment has it.
            let (ok, needs) = match target {
                Some(t) if !own || name == "up" => (scraped.contains(t), Some(t)),
                _ if own => (stack, None),
                _ => (!scraped.is_empty(), None),
            };
            if ok {
                continue;
            }
            let (why, help) = match needs {
                Some(t) => (
                    format!("nothing scrapes `{t}`"),
                    format!("give `{t}` a metrics endpoint (or an exporter) so a ServiceMonitor scrapes it"),
                ),
                None if own => (
                    "the monitoring stack is not installed".to_owned(),
                    "install kube-prometheus-stack in the environment's Terraform".to_owned(),
                ),
                None => (
                    "nothing in the environment is scraped".to_owned(),
                    "give the service that produces it a metrics endpoint".to_owned(),
                ),
            };
            let message = format!("{what} reads `{name}`, and {why}");
            out.push(match workload {
                Some(w) => Finding::on(Code::UnproducedSeries, w, message, help),
                None => Finding::env(Code::UnproducedSeries, message, help),
            });
        }
    }
}
