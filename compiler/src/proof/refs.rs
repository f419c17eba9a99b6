//! Kubernetes references inside one environment's manifests: named ports, selectors, Ingress
//! backends and autoscaler targets. Each must resolve to an object of the same output, or the
//! object that holds it is dead on arrival (a probe that never passes, a Service with no
//! endpoints, an Ingress answering 503).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::index::Index;
use super::{containers, string_map, Finding, Object};
use crate::diag::Code;

/// The port names a pod template's containers declare.
fn port_names(template: &Value) -> BTreeSet<&str> {
    containers(template)
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect()
}

/// P001 `dangling-port`: a probe naming a port its container does not declare, or a
/// Service `targetPort` naming one that a pod it selects does not declare.
///
/// Why: Kubernetes accepts both, and then the probe never passes (the pod restarts forever
/// or never becomes ready) or the Service has no endpoint on that port. A port is named in
/// one place and referenced in several, so an emitter that renames one side breaks it.
pub(super) fn named_ports(objects: &[Object], index: &Index, out: &mut Vec<Finding>) {
    for (o, t) in index.pods.iter().map(|p| (p.object, p.template)) {
        for c in containers(t) {
            let own: BTreeSet<&str> = c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect();
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                for action in ["httpGet", "tcpSocket", "grpc"] {
                    let port = c
                        .get(probe)
                        .and_then(|p| p.get(action))
                        .and_then(|a| a.get("port"));
                    if let Some(name) = port.and_then(Value::as_str) {
                        if !own.contains(name) {
                            out.push(Finding::on(
                                Code::DanglingPort,
                                o.owner(),
                                format!("the {probe} of {} `{}` names port `{name}`, which its container does not declare", o.kind, o.name),
                                "name a port the container declares",
                            ));
                        }
                    }
                }
            }
        }
    }
    for s in objects.iter().filter(|o| o.kind == "Service") {
        let selector = string_map(s.doc.pointer("/spec/selector"));
        if selector.is_empty() {
            continue;
        }
        let pods: Vec<&Value> = index
            .pods_matching(&s.namespace, &selector)
            .into_iter()
            .map(|i| index.pods[i].template)
            .collect();
        let ports = s.doc.pointer("/spec/ports").and_then(Value::as_array);
        for p in ports.into_iter().flatten() {
            let Some(target) = p.get("targetPort").and_then(Value::as_str) else {
                continue;
            };
            if pods.iter().any(|t| !port_names(t).contains(target)) {
                out.push(Finding::on(
                    Code::DanglingPort,
                    s.owner(),
                    format!("Service `{}` targets port `{target}`, which a pod it selects does not declare", s.name),
                    "target a port name every selected pod declares",
                ));
            }
        }
    }
    monitor_ports(objects, index, out);
}

/// The Services a ServiceMonitor selects, in its namespace (or those its
/// `namespaceSelector.matchNames` lists, or any with `any: true`).
pub(super) fn monitored_services<'a>(m: &Object, index: &Index<'a>) -> Vec<&'a Object> {
    let names: Vec<&str> = m
        .doc
        .pointer("/spec/namespaceSelector/matchNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let any = m
        .doc
        .pointer("/spec/namespaceSelector/any")
        .and_then(Value::as_bool)
        == Some(true);
    let namespaces: Vec<&str> = if any {
        index.namespaces().collect()
    } else if names.is_empty() {
        vec![m.namespace.as_str()]
    } else {
        names
    };
    let selector = m.doc.pointer("/spec/selector");
    namespaces
        .into_iter()
        .flat_map(|ns| index.services_selected(ns, selector))
        .map(|i| index.services[i].0)
        .collect()
}

/// The ServiceMonitor and PodMonitor half of P001 and P002: each endpoint's port must be a
/// port name of what it selects, and it must select something.
fn monitor_ports(objects: &[Object], index: &Index, out: &mut Vec<Finding>) {
    for m in objects.iter().filter(|o| o.kind == "ServiceMonitor") {
        let services = monitored_services(m, index);
        if services.is_empty() {
            out.push(Finding::on(
                Code::SelectsNothing,
                m.owner(),
                format!(
                    "ServiceMonitor `{}` selects no Service of the output",
                    m.name
                ),
                "select the labels of the Service that exposes the metrics port",
            ));
            continue;
        }
        let endpoints = m.doc.pointer("/spec/endpoints").and_then(Value::as_array);
        for port in endpoints
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("port").and_then(Value::as_str))
        {
            let has = |s: &&Object| {
                s.doc
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|p| p.get("name").and_then(Value::as_str) == Some(port))
            };
            if !services.iter().all(has) {
                out.push(Finding::on(
                    Code::DanglingPort,
                    m.owner(),
                    format!("ServiceMonitor `{}` scrapes port `{port}`, which a Service it selects does not have", m.name),
                    "name a port of the Service that serves the metrics",
                ));
            }
        }
    }
    for m in objects.iter().filter(|o| o.kind == "PodMonitor") {
        let pods: Vec<&Value> = index
            .pods_selected(&m.namespace, m.doc.pointer("/spec/selector"))
            .into_iter()
            .map(|i| index.pods[i].template)
            .collect();
        if pods.is_empty() {
            out.push(Finding::on(
                Code::SelectsNothing,
                m.owner(),
                format!("PodMonitor `{}` selects no pod of the output", m.name),
                "select the labels of the pods that serve the metrics",
            ));
            continue;
        }
        let endpoints = m
            .doc
            .pointer("/spec/podMetricsEndpoints")
            .and_then(Value::as_array);
        for port in endpoints
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("port").and_then(Value::as_str))
        {
            if pods.iter().any(|t| !port_names(t).contains(port)) {
                out.push(Finding::on(
                    Code::DanglingPort,
                    m.owner(),
                    format!("PodMonitor `{}` scrapes port `{port}`, which a pod it selects does not declare", m.name),
                    "name a port the pods declare",
                ));
            }
        }
    }
}

/// P002 `selects-nothing`: a Service or PodDisruptionBudget whose selector matches no pod
/// template of the output (ServiceMonitors and PodMonitors: see [`named_ports`]).
///
/// Why: a Service that selects nothing has no endpoints, and a budget that selects nothing
/// protects nothing; Kubernetes accepts both silently. Selectors and pod labels are written
/// by different code, so a label renamed on one side only is exactly the mistake to catch.
pub(super) fn selectors(objects: &[Object], index: &Index, out: &mut Vec<Finding>) {
    for o in objects
        .iter()
        .filter(|o| o.kind == "Service" || o.kind == "PodDisruptionBudget")
    {
        let selected = if o.kind == "Service" {
            let selector = string_map(o.doc.pointer("/spec/selector"));
            // A Service without a selector has its endpoints managed elsewhere.
            selector.is_empty() || !index.pods_matching(&o.namespace, &selector).is_empty()
        } else {
            !index
                .pods_selected(&o.namespace, o.doc.pointer("/spec/selector"))
                .is_empty()
        };
        if !selected {
            out.push(Finding::on(
                Code::SelectsNothing,
                o.owner(),
                format!("{} `{}` selects no pod of the output", o.kind, o.name),
                "select the labels of the workload's pod template",
            ));
        }
    }
}

/// P003 `missing-backend`, P001 for its port: an Ingress backend that names a Service the
/// output does not create, or a port that Service does not have.
///
/// Why: the ingress controller answers 503 for a backend it cannot find, and accepts the
/// Ingress all the same.
pub(super) fn ingress_backends(objects: &[Object], index: &Index, out: &mut Vec<Finding>) {
    for i in objects.iter().filter(|o| o.kind == "Ingress") {
        let rules = i.doc.pointer("/spec/rules").and_then(Value::as_array);
        let paths = rules
            .into_iter()
            .flatten()
            .filter_map(|r| r.pointer("/http/paths").and_then(Value::as_array))
            .flatten();
        let default = i.doc.pointer("/spec/defaultBackend");
        let backends = paths.filter_map(|p| p.get("backend")).chain(default);
        for b in backends {
            let Some(name) = b.pointer("/service/name").and_then(Value::as_str) else {
                continue;
            };
            let service = index.service(i.namespace.as_str(), name);
            let Some(service) = service else {
                out.push(Finding::on(
                    Code::MissingBackend,
                    i.owner(),
                    format!(
                        "Ingress `{}` routes to Service `{name}`, which the output does not create",
                        i.name
                    ),
                    "route to a Service of the same output",
                ));
                continue;
            };
            let ports = service.doc.pointer("/spec/ports").and_then(Value::as_array);
            let has = |key: &str, want: &Value| {
                ports
                    .into_iter()
                    .flatten()
                    .any(|p| p.get(key) == Some(want))
            };
            let port = b.pointer("/service/port");
            let found = match (
                port.and_then(|p| p.get("name")),
                port.and_then(|p| p.get("number")),
            ) {
                (Some(n), _) => has("name", n),
                (None, Some(n)) => has("port", n),
                (None, None) => true,
            };
            if !found {
                out.push(Finding::on(
                    Code::DanglingPort,
                    i.owner(),
                    format!(
                        "Ingress `{}` routes to a port Service `{name}` does not have",
                        i.name
                    ),
                    "route to a port of the Service",
                ));
            }
        }
    }
}

/// P003 `missing-backend`, P001 for its port: an `HTTPRoute` backend (`backendRefs` of the
/// core group and kind `Service`, the defaults) that names a Service the output does not
/// create in the route's namespace, or a port number that Service does not have.
///
/// Why: the Gateway answers 500 for a backend it cannot resolve (its `ResolvedRefs`
/// condition turns false), and accepts the route all the same.
pub(super) fn route_backends(objects: &[Object], index: &Index, out: &mut Vec<Finding>) {
    for r in objects.iter().filter(|o| o.kind == "HTTPRoute") {
        let rules = r.doc.pointer("/spec/rules").and_then(Value::as_array);
        let backends = rules
            .into_iter()
            .flatten()
            .filter_map(|rule| rule.get("backendRefs").and_then(Value::as_array))
            .flatten()
            .filter(|b| b.get("group").is_none_or(|g| g == ""))
            .filter(|b| b.get("kind").is_none_or(|k| k == "Service"));
        for b in backends {
            let Some(name) = b.get("name").and_then(Value::as_str) else {
                continue;
            };
            let namespace = b
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(&r.namespace);
            let Some(service) = index.service(namespace, name) else {
                out.push(Finding::on(
                    Code::MissingBackend,
                    r.owner(),
                    format!(
                        "HTTPRoute `{}` routes to Service `{name}`, which the output does not create",
                        r.name
                    ),
                    "route to a Service of the same output",
                ));
                continue;
            };
            let ports = service.doc.pointer("/spec/ports").and_then(Value::as_array);
            let found = b.get("port").is_none_or(|want| {
                ports
                    .into_iter()
                    .flatten()
                    .any(|p| p.get("port") == Some(want))
            });
            if !found {
                out.push(Finding::on(
                    Code::DanglingPort,
                    r.owner(),
                    format!(
                        "HTTPRoute `{}` routes to a port Service `{name}` does not have",
                        r.name
                    ),
                    "route to a port number of the Service",
                ));
            }
        }
    }
}

/// P017 `detached-route`: an `HTTPRoute` whose parent (`parentRefs` of kind `Gateway`, the
/// default) is no Gateway of the output in that namespace, names a listener (`sectionName`)
/// the Gateway does not have, or names a listener whose `hostname` is none of the route's
/// `hostnames`.
///
/// Why: the Gateway accepts such a route on no listener (its `Accepted` condition turns
/// false, `NoMatchingParent` or `NoMatchingListenerHostname`), so its service is not reached
/// from outside, and nothing else fails: the objects all apply.
pub(super) fn route_parents(objects: &[Object], out: &mut Vec<Finding>) {
    let gateways: BTreeMap<(&str, &str), &Object> = objects
        .iter()
        .filter(|o| o.kind == "Gateway")
        .map(|g| ((g.namespace.as_str(), g.name.as_str()), g))
        .collect();
    for r in objects.iter().filter(|o| o.kind == "HTTPRoute") {
        let hostnames: Vec<&str> = r
            .doc
            .pointer("/spec/hostnames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let parents = r.doc.pointer("/spec/parentRefs").and_then(Value::as_array);
        for p in parents.into_iter().flatten() {
            if p.get("kind").is_some_and(|k| k != "Gateway") {
                continue;
            }
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let namespace = p
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(&r.namespace);
            let problem = match gateways.get(&(namespace, name)) {
                None => Some(format!("Gateway `{name}`, which the output does not create")),
                Some(g) => p.get("sectionName").and_then(Value::as_str).and_then(|section| {
                    let listeners = g.doc.pointer("/spec/listeners").and_then(Value::as_array);
                    let listener = listeners
                        .into_iter()
                        .flatten()
                        .find(|l| l.get("name").and_then(Value::as_str) == Some(section));
                    match listener.map(|l| l.get("hostname").and_then(Value::as_str)) {
                        None => Some(format!(
                            "listener `{section}`, which Gateway `{name}` does not have"
                        )),
                        Some(Some(host)) if !hostnames.is_empty() && !hostnames.contains(&host) => {
                            Some(format!(
                                "listener `{section}` of Gateway `{name}`, which serves `{host}`, none of its hosts"
                            ))
                        }
                        Some(_) => None,
                    }
                }),
            };
            if let Some(problem) = problem {
                out.push(Finding::on(
                    Code::DetachedRoute,
                    r.owner(),
                    format!("HTTPRoute `{}` attaches to {problem}", r.name),
                    "attach routes to a listener of the environment's Gateway for their host",
                ));
            }
        }
    }
}

/// P004 `missing-scale-target`: a HorizontalPodAutoscaler's `scaleTargetRef` or a
/// VerticalPodAutoscaler's `targetRef` naming a workload the output does not create
/// (disruption budgets select pods instead: [`selectors`]).
///
/// Why: an autoscaler whose target is missing does nothing, and says so only in its status.
pub(super) fn scale_targets(objects: &[Object], out: &mut Vec<Finding>) {
    let all: BTreeSet<(&str, &str, &str)> = objects
        .iter()
        .map(|o| (o.kind.as_str(), o.namespace.as_str(), o.name.as_str()))
        .collect();
    for a in objects
        .iter()
        .filter(|o| o.kind == "HorizontalPodAutoscaler" || o.kind == "VerticalPodAutoscaler")
    {
        let pointer = if a.kind == "HorizontalPodAutoscaler" {
            "/spec/scaleTargetRef"
        } else {
            "/spec/targetRef"
        };
        let Some(target) = a.doc.pointer(pointer) else {
            continue;
        };
        let s = |k: &str| target.get(k).and_then(Value::as_str).unwrap_or_default();
        let (kind, name) = (s("kind"), s("name"));
        let exists = all.contains(&(kind, a.namespace.as_str(), name));
        if !exists {
            out.push(Finding::on(
                Code::MissingScaleTarget,
                a.owner(),
                format!(
                    "{} `{}` targets {kind} `{name}`, which the output does not create",
                    a.kind, a.name
                ),
                "target a workload of the same output",
            ));
        }
    }
}
