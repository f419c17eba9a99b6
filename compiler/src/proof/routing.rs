//! Alert routing over the generated files: every alert of the rules file, with its labels,
//! walked through the generated Alertmanager route tree.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{string_map, Finding, Rule};
use crate::diag::Code;

/// Whether one route matcher (`name="value"`, `name!="value"`, or a `match` map entry)
/// holds for `labels`. A regular-expression matcher plinth does not generate is taken not
/// to match, so the proof never counts an alert as routed that might not be.
fn matcher_holds(m: &str, labels: &BTreeMap<String, String>) -> bool {
    let (name, op, value) = if let Some((n, v)) = m.split_once("!=") {
        (n, "!=", v)
    } else if m.contains("=~") || m.contains("!~") {
        return false;
    } else if let Some((n, v)) = m.split_once('=') {
        (n, "=", v)
    } else {
        return false;
    };
    let value = value.trim().trim_matches('"');
    let has = labels.get(name.trim()).map_or("", String::as_str);
    (op == "=") == (has == value)
}

/// Whether `route` matches `labels`: all of its `matchers` and `match` entries hold.
fn route_matches(route: &Value, labels: &BTreeMap<String, String>) -> bool {
    let matchers = route.get("matchers").and_then(Value::as_array);
    let listed = matchers
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .all(|m| matcher_holds(m, labels));
    let old = string_map(route.get("match"));
    listed && old.iter().all(|(k, v)| labels.get(k) == Some(v)) && route.get("match_re").is_none()
}

/// The receivers an alert with `labels` reaches from `route`, whose receiver is `inherited`
/// when it names none (Alertmanager's semantics: the first matching child handles it, the
/// next ones too while `continue` is set; a route no child matches handles it itself).
fn receivers(
    route: &Value,
    labels: &BTreeMap<String, String>,
    inherited: &str,
    out: &mut Vec<String>,
) {
    let own = route
        .get("receiver")
        .and_then(Value::as_str)
        .unwrap_or(inherited);
    let mut handled = false;
    for child in route
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if route_matches(child, labels) {
            receivers(child, labels, own, out);
            handled = true;
            if child.get("continue").and_then(Value::as_bool) != Some(true) {
                break;
            }
        }
    }
    if !handled {
        out.push(own.to_owned());
    }
}

/// Whether the receiver called `name` notifies anyone: it has at least one `*_configs`.
fn notifies(config: &Value, name: &str) -> bool {
    let receivers = config.get("receivers").and_then(Value::as_array);
    receivers
        .into_iter()
        .flatten()
        .filter(|r| r.get("name").and_then(Value::as_str) == Some(name))
        .any(|r| {
            r.as_object().is_some_and(|o| {
                o.iter().any(|(k, v)| {
                    k.ends_with("_configs") && v.as_array().is_some_and(|a| !a.is_empty())
                })
            })
        })
}

/// P016 `unrouted-alert`: an alert of the generated rules that the generated Alertmanager
/// configuration routes to no receiver that notifies anyone.
///
/// Why: an alert that reaches no receiver is an outage nobody hears about. Check (E151)
/// rejects specs whose routes cannot catch every severity, reasoning on the spec; this proves
/// it again on the files that are deployed, label set by label set, so an emitter that
/// writes a label or a matcher differently from the other is caught.
pub(super) fn unrouted_alerts(rules: &[Rule], alertmanager: &Value, out: &mut Vec<Finding>) {
    let Some(root) = alertmanager.get("route") else {
        return;
    };
    for r in rules {
        let Some(alert) = &r.alert else {
            continue;
        };
        let mut labels = r.labels.clone();
        labels.insert("alertname".to_owned(), alert.clone());
        let mut reached = Vec::new();
        receivers(root, &labels, "", &mut reached);
        if !reached.iter().any(|name| notifies(alertmanager, name)) {
            let severity = labels.get("severity").map_or("", String::as_str);
            let message = format!(
                "alert `{alert}` (severity `{severity}`) reaches no receiver that notifies anyone"
            );
            let help = "route its severity to a receiver, or set `alerting.default_receiver`";
            out.push(match labels.get("service") {
                Some(w) => Finding::on(Code::UnroutedAlert, w, message, help),
                None => Finding::env(Code::UnroutedAlert, message, help),
            });
        }
    }
}
