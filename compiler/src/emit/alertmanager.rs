//! Alertmanager: the routing configuration, and the proof that every alert plinth generates
//! reaches a receiver.
//!
//! Per environment with receivers, in `alertmanager/<env>/`:
//!
//! - `alertmanager.yaml`: receivers with credentials read from files (the mounted secret
//!   references, never values), a route tree with the spec's routes under a root holding the
//!   default receiver, grouping and timings, and an inhibit rule by which a critical alert
//!   silences the warning alert of the same name, service, environment and SLO; and what
//!   kube-prometheus-stack's own configuration would have had, since its values replace the
//!   chart's lists: `Watchdog` and `InfoInhibitor` routed to a receiver that notifies nobody,
//!   and `InfoInhibitor` silencing the chart's `info` alerts of its namespace;
//! - `route-tests.yaml`: one `amtool config routes test` case per distinct label set of an
//!   alert of the Prometheus target, with the receivers it must reach.
//!
//! The proof: the Prometheus target's catalogue gives every alert with its labels. Its
//! expressions aggregate their series away, so those labels plus `alertname` are the alert's
//! whole label set, except where a custom expression keeps labels of its own; such labels can
//! only make an earlier route match, which still reaches a receiver. Each label set is routed
//! the way Alertmanager routes it; if one ends at the root and the root has no receiver
//! (`alerting.default_receiver` unset), emitting fails. `check` (E151) rejects such specs
//! first, so a failure here is a bug in plinth.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_saphyr::{FlowMap, FlowSeq};

use super::{
    gotmpl, hash_banner, to_yaml_after, EmitError, Emitted, Note, OutputFile, Shared, Target,
};
use crate::ir::{self, naming, Environment, ReceiverKind};
use crate::units::format_duration;

/// Emits the Alertmanager files of every environment in `envs`.
pub fn emit(shared: &Shared, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let platform = shared.platform();
    let mut out = Emitted::default();
    for env in envs {
        let a = &env.alerting;
        if a.receivers.is_empty() {
            out.notes.push(Note {
                target: Target::Alertmanager,
                message: format!(
                    "environment `{}` has no receivers: no Alertmanager configuration is generated",
                    env.name
                ),
            });
            continue;
        }
        let root = a
            .default_receiver
            .clone()
            .unwrap_or_else(|| naming::UNROUTED_RECEIVER.to_owned());
        let mut cases: BTreeMap<BTreeMap<String, String>, Vec<String>> = BTreeMap::new();
        for alert in shared.rules(env).catalogue.alerts() {
            let labels = alert.routing_labels();
            let receivers = route(a, &root, &labels);
            if a.default_receiver.is_none() && receivers == [naming::UNROUTED_RECEIVER] {
                return Err(EmitError(format!(
                    "alert `{}` {labels:?} of environment `{}` reaches no receiver, but `check` accepted the spec",
                    alert.name, env.name
                )));
            }
            cases.insert(labels, receivers);
        }
        // The monitoring stack's bookkeeping alerts, as the cluster's Prometheus sends them
        // (with its `environment` external label), so `amtool` proves they notify nobody.
        for m in DISCARDED {
            let mut labels: BTreeMap<String, String> = m
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            labels.insert(
                naming::alert_label::ENVIRONMENT.to_owned(),
                env.name.clone(),
            );
            let receivers = route(a, &root, &labels);
            cases.insert(labels, receivers);
        }
        for r in &a.receivers {
            if let ReceiverKind::Webhook { .. } = r.kind {
                out.notes.push(Note {
                    target: Target::Alertmanager,
                    message: format!(
                        "receiver `{}` reads its URL with `url_file`, which needs Alertmanager 0.26 or later",
                        r.name
                    ),
                });
            }
        }
        out.files.push(OutputFile {
            path: naming::alertmanager_config_file(&env.name),
            contents: to_yaml_after(hash_banner(platform), &[config(a, root)])?,
        });
        let tests = RouteTests {
            tests: cases
                .into_iter()
                .map(|(labels, receivers)| RouteTest {
                    labels: FlowMap(labels),
                    receivers: FlowSeq(receivers),
                })
                .collect(),
        };
        out.files.push(OutputFile {
            path: naming::alertmanager_route_tests_file(&env.name),
            contents: to_yaml_after(hash_banner(platform), &[tests])?,
        });
    }
    // Notes about receivers repeat for every environment; once is enough.
    let mut seen = std::collections::BTreeSet::new();
    out.notes.retain(|n| seen.insert(n.message.clone()));
    Ok(out)
}

/// The Alertmanager configuration of an environment as data, the content of
/// `alertmanager.yaml`, with the Secrets its credential files are read from (mounted at
/// `/etc/alertmanager/secrets/<secret>/`); `None` without receivers. The Helm target carries
/// both in kube-prometheus-stack's values.
pub(crate) fn config_value(
    env: &Environment,
) -> Result<Option<(serde_json::Value, Vec<String>)>, EmitError> {
    let a = &env.alerting;
    if a.receivers.is_empty() {
        return Ok(None);
    }
    let root = a
        .default_receiver
        .clone()
        .unwrap_or_else(|| naming::UNROUTED_RECEIVER.to_owned());
    let value = serde_json::to_value(config(a, root))
        .map_err(|e| EmitError(format!("alertmanager serialization failed: {e}")))?;
    let mut secrets: Vec<String> = a
        .receivers
        .iter()
        .filter_map(|r| match &r.kind {
            ReceiverKind::Pagerduty { routing_key } => Some(routing_key),
            ReceiverKind::Slack { webhook_url, .. } => Some(webhook_url),
            ReceiverKind::Email { password, .. } => password.as_ref(),
            ReceiverKind::Webhook { url } => Some(url),
        })
        .map(|r| r.secret.clone())
        .collect();
    secrets.sort();
    secrets.dedup();
    Ok(Some((value, secrets)))
}

/// The receivers Alertmanager notifies for an alert with `labels`, in routing-tree order as
/// `amtool config routes test` prints them: the spec's routes in order, each taken when all
/// its matchers hold, stopping at the first one without `continue`; the root's receiver when
/// none matches. A missing label matches only an empty value, as in Alertmanager.
pub(crate) fn route(
    a: &ir::Alerting,
    root: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<String> {
    let holds = |(k, v): &(&str, &str)| labels.get(*k).map_or("", String::as_str) == *v;
    if DISCARDED.iter().any(|m| m.iter().all(holds)) {
        return vec![naming::DISCARD_RECEIVER.to_owned()];
    }
    let mut out = Vec::new();
    for r in &a.routes {
        let matches = r
            .matchers
            .iter()
            .all(|(k, v)| labels.get(k).map_or("", String::as_str) == v);
        if matches {
            out.push(r.receiver.clone());
            if !r.continue_ {
                break;
            }
        }
    }
    if out.is_empty() {
        out.push(root.to_owned());
    }
    out
}

/// The monitoring stack's bookkeeping alerts, by their matchers, which the first routes send
/// to [`naming::DISCARD_RECEIVER`].
///
/// Why: kube-prometheus-stack's `Watchdog` fires all the time, to prove the alerting pipeline
/// works, and its `InfoInhibitor` whenever an `info` alert fires without a warning or
/// critical one in its namespace, only to inhibit it. The chart's default configuration
/// routes both nowhere, but Helm replaces lists, so plinth's `route.routes` drop that route
/// and both would reach the default receiver, Watchdog every `repeat_interval`. They carry
/// `severity="none"`, which no alert of plinth has (its severities are critical, warning and
/// info), so a spec's alert of the same name is still routed by the spec.
const DISCARDED: [[(&str, &str); 2]; 2] = {
    use naming::alert_label::{ALERTNAME, SEVERITY};
    [
        [(ALERTNAME, "Watchdog"), (SEVERITY, "none")],
        [(ALERTNAME, "InfoInhibitor"), (SEVERITY, "none")],
    ]
};

/// The label kube-prometheus-stack's alerts about Kubernetes objects carry, and its
/// `InfoInhibitor` inhibit rule compares; plinth's generated alerts aggregate it away.
const NAMESPACE: &str = "namespace";

#[derive(Serialize)]
struct RouteTests {
    tests: Vec<RouteTest>,
}

#[derive(Serialize)]
struct RouteTest {
    labels: FlowMap<BTreeMap<String, String>>,
    receivers: FlowSeq<Vec<String>>,
}

#[derive(Serialize)]
struct Config {
    route: RouteNode,
    inhibit_rules: Vec<Inhibit>,
    receivers: Vec<ReceiverOut>,
}

#[derive(Serialize, Default)]
struct RouteNode {
    receiver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matchers: Vec<String>,
    #[serde(rename = "continue", skip_serializing_if = "std::ops::Not::not")]
    continue_: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<RouteNode>,
}

#[derive(Serialize)]
struct Inhibit {
    source_matchers: Vec<String>,
    target_matchers: Vec<String>,
    equal: Vec<String>,
}

#[derive(Serialize)]
struct ReceiverOut {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pagerduty_configs: Vec<Pagerduty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    slack_configs: Vec<Slack>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    email_configs: Vec<Email>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    webhook_configs: Vec<Webhook>,
}

#[derive(Serialize)]
struct Pagerduty {
    routing_key_file: String,
    send_resolved: bool,
}

#[derive(Serialize)]
struct Slack {
    api_url_file: String,
    channel: String,
    send_resolved: bool,
    title: String,
    text: String,
}

#[derive(Serialize)]
struct Email {
    to: String,
    from: String,
    smarthost: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_password_file: Option<String>,
    send_resolved: bool,
}

#[derive(Serialize)]
struct Webhook {
    url_file: String,
    send_resolved: bool,
}

/// Slack's message title: status, alert name, service and environment.
const SLACK_TITLE: &str = "[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}{{ with .CommonLabels.service }} {{ . }}{{ end }} ({{ .CommonLabels.environment }})";

/// Slack's message text: each alert's severity, summary, description and runbook. Without it
/// Alertmanager's default Slack text is empty.
const SLACK_TEXT: &str = "{{ range .Alerts }}*{{ .Labels.severity }}*: {{ .Annotations.summary }}\n{{ .Annotations.description }}{{ if .Annotations.runbook_url }}\nRunbook: {{ .Annotations.runbook_url }}{{ end }}\n{{ end }}";

/// An Alertmanager equality matcher, `name="value"`.
fn matcher(name: &str, value: &str) -> String {
    format!(
        "{name}=\"{}\"",
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn config(a: &ir::Alerting, root: String) -> Config {
    use naming::alert_label as l;
    let silent = |name: &str| ReceiverOut {
        name: name.to_owned(),
        pagerduty_configs: Vec::new(),
        slack_configs: Vec::new(),
        email_configs: Vec::new(),
        webhook_configs: Vec::new(),
    };
    let mut receivers: Vec<ReceiverOut> = a.receivers.iter().map(receiver).collect();
    if a.default_receiver.is_none() {
        receivers.push(silent(naming::UNROUTED_RECEIVER));
    }
    receivers.push(silent(naming::DISCARD_RECEIVER));
    // First, so that no route of the spec (one on `environment`, say) takes them.
    let discarded = DISCARDED.iter().map(|m| RouteNode {
        receiver: naming::DISCARD_RECEIVER.to_owned(),
        matchers: m.iter().map(|(k, v)| matcher(k, v)).collect(),
        ..Default::default()
    });
    Config {
        route: RouteNode {
            receiver: root,
            group_by: a.group_by.clone(),
            group_wait: Some(format_duration(a.group_wait_ms)),
            group_interval: Some(format_duration(a.group_interval_ms)),
            repeat_interval: Some(format_duration(a.repeat_interval_ms)),
            routes: discarded
                .chain(a.routes.iter().map(|r| RouteNode {
                    receiver: r.receiver.clone(),
                    matchers: r.matchers.iter().map(|(k, v)| matcher(k, v)).collect(),
                    continue_: r.continue_,
                    ..Default::default()
                }))
                .collect(),
            ..Default::default()
        },
        inhibit_rules: vec![
            Inhibit {
                source_matchers: vec![matcher(l::SEVERITY, "critical")],
                target_matchers: vec![matcher(l::SEVERITY, "warning")],
                equal: [l::ALERTNAME, l::SERVICE, l::ENVIRONMENT, l::SLO]
                    .map(str::to_owned)
                    .to_vec(),
            },
            // kube-prometheus-stack's rule: its `info` alerts notify only beside a warning or
            // critical alert of their namespace (InfoInhibitor fires when there is none). The
            // chart's rule targets every `info` alert; this one only those with a namespace,
            // which plinth's generated alerts do not carry, so they notify as the spec routes
            // them (a custom rule whose expression keeps `namespace` is treated like the
            // chart's).
            Inhibit {
                source_matchers: vec![matcher(l::ALERTNAME, "InfoInhibitor")],
                target_matchers: vec![matcher(l::SEVERITY, "info"), format!("{NAMESPACE}!=\"\"")],
                equal: vec![NAMESPACE.to_owned()],
            },
        ],
        receivers,
    }
}

fn receiver(r: &ir::Receiver) -> ReceiverOut {
    let mut out = ReceiverOut {
        name: r.name.clone(),
        pagerduty_configs: Vec::new(),
        slack_configs: Vec::new(),
        email_configs: Vec::new(),
        webhook_configs: Vec::new(),
    };
    let send_resolved = r.send_resolved;
    match &r.kind {
        ReceiverKind::Pagerduty { routing_key } => out.pagerduty_configs.push(Pagerduty {
            routing_key_file: naming::alertmanager_secret_file(routing_key),
            send_resolved,
        }),
        ReceiverKind::Slack {
            webhook_url,
            channel,
        } => out.slack_configs.push(Slack {
            api_url_file: naming::alertmanager_secret_file(webhook_url),
            channel: gotmpl::literal(channel).into_owned(),
            send_resolved,
            title: SLACK_TITLE.to_owned(),
            text: SLACK_TEXT.to_owned(),
        }),
        ReceiverKind::Email {
            to,
            from,
            smarthost,
            password,
        } => out.email_configs.push(Email {
            // `to` and `from` are templates to Alertmanager; the login name is not.
            to: gotmpl::literal(to).into_owned(),
            from: gotmpl::literal(from).into_owned(),
            smarthost: smarthost.clone(),
            // SMTP servers take the sender address as the login name.
            auth_username: password.as_ref().map(|_| from.clone()),
            auth_password_file: password.as_ref().map(naming::alertmanager_secret_file),
            send_resolved,
        }),
        ReceiverKind::Webhook { url } => out.webhook_configs.push(Webhook {
            url_file: naming::alertmanager_secret_file(url),
            send_resolved,
        }),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerting(routes: Vec<ir::Route>) -> ir::Alerting {
        ir::Alerting {
            receivers: Vec::new(),
            routes,
            default_receiver: None,
            group_by: Vec::new(),
            group_wait_ms: 0,
            group_interval_ms: 0,
            repeat_interval_ms: 0,
        }
    }

    fn r(matchers: &[(&str, &str)], receiver: &str, continue_: bool) -> ir::Route {
        ir::Route {
            matchers: matchers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            receiver: receiver.to_owned(),
            continue_,
        }
    }

    fn labels(l: &[(&str, &str)]) -> BTreeMap<String, String> {
        l.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn routing_follows_alertmanager() {
        let a = alerting(vec![
            r(&[("severity", "critical")], "pager", true),
            r(&[("team", "db")], "db", false),
            r(&[("severity", "critical")], "chat", false),
        ]);
        let crit = labels(&[("severity", "critical")]);
        assert_eq!(route(&a, "root", &crit), ["pager", "chat"]);
        let db = labels(&[("severity", "critical"), ("team", "db")]);
        assert_eq!(route(&a, "root", &db), ["pager", "db"]);
        assert_eq!(
            route(&a, "root", &labels(&[("severity", "info")])),
            ["root"]
        );
        // A matcher on an empty value matches a missing label.
        let empty = alerting(vec![r(&[("team", "")], "teamless", false)]);
        assert_eq!(route(&empty, "root", &labels(&[])), ["teamless"]);
    }

    #[test]
    fn matchers_escape_values() {
        assert_eq!(matcher("a", "x\"y"), r#"a="x\"y""#);
    }
}
