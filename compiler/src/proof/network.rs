//! Reachability: the generated NetworkPolicies evaluated with Kubernetes semantics over the
//! generated workloads, compared with the dependencies the workloads declare.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::index::Index;
use super::operators::gateway_of;
use super::{containers, selects, string_map, Finding, Object, DEPENDS_ON};
use crate::diag::Code;

/// A long-running workload of the output, as the policies see it.
pub(super) struct Pod<'a> {
    pub object: &'a Object,
    pub labels: &'a BTreeMap<String, String>,
    /// Container ports: number, name and protocol.
    pub ports: Vec<(i64, String, String)>,
    /// The ports its Services expose, resolved to container ports; all of them without a
    /// Service.
    pub served: Vec<(i64, String, String)>,
    /// The workloads it declares it depends on.
    pub declared: BTreeSet<String>,
}

/// One NetworkPolicy: where it applies and its rules for each direction it restricts.
pub(super) struct Policy<'a> {
    object: &'a Object,
    ingress: Option<Vec<&'a Value>>,
    egress: Option<Vec<&'a Value>>,
}

/// The rules of one direction, when the policy restricts it (`policyTypes`, or by default
/// Ingress always and Egress when it has egress rules).
fn direction<'a>(p: &'a Object, key: &str, kind: &str) -> Option<Vec<&'a Value>> {
    let types: Vec<&str> = p
        .doc
        .pointer("/spec/policyTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let rules = p.doc.pointer(&format!("/spec/{key}"));
    let restricts = if types.is_empty() {
        kind == "Ingress" || rules.is_some()
    } else {
        types.contains(&kind)
    };
    restricts.then(|| {
        rules
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect()
    })
}

/// Whether a rule's peer list (`from`/`to`) admits `pod`, for a policy in namespace `ns`.
/// Namespaces carry their `kubernetes.io/metadata.name` label and the labels the output gives
/// them. An `ipBlock` admits pods only when it is all addresses with no exception.
fn peer_admits(
    peers: Option<&Value>,
    ns: &str,
    pod: &Pod,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    let Some(peers) = peers.and_then(Value::as_array) else {
        return true;
    };
    peers.iter().any(|peer| {
        if let Some(block) = peer.get("ipBlock") {
            return admits_pods(block);
        }
        let pod_ok = || match peer.get("podSelector") {
            Some(s) => selects(Some(s), pod.labels),
            None => true,
        };
        match peer.get("namespaceSelector") {
            Some(s) => {
                selects(
                    Some(s),
                    &namespace_labels(namespaces, &pod.object.namespace),
                ) && pod_ok()
            }
            None => pod.object.namespace == ns && pod_ok(),
        }
    })
}

/// Whether an `ipBlock` peer admits the cluster's pods: only all addresses with no exception
/// is taken to, since which pod addresses a narrower block covers depends on the cluster.
fn admits_pods(block: &Value) -> bool {
    block.get("cidr").and_then(Value::as_str) == Some("0.0.0.0/0")
        && block
            .get("except")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// The labels of namespace `ns`: those the output gives it (`namespaces`, which carry
/// `kubernetes.io/metadata.name` already) or, for a namespace the output does not create,
/// the name label Kubernetes sets on every namespace.
fn namespace_labels<'n>(
    namespaces: &'n BTreeMap<String, BTreeMap<String, String>>,
    ns: &str,
) -> std::borrow::Cow<'n, BTreeMap<String, String>> {
    match namespaces.get(ns) {
        Some(labels) => std::borrow::Cow::Borrowed(labels),
        None => std::borrow::Cow::Owned(BTreeMap::from([(
            "kubernetes.io/metadata.name".to_owned(),
            ns.to_owned(),
        )])),
    }
}

/// Whether a rule's `ports` admit the destination port `(number, name, protocol)`.
fn ports_admit(ports: Option<&Value>, port: &(i64, String, String)) -> bool {
    let Some(ports) = ports.and_then(Value::as_array) else {
        return true;
    };
    ports.iter().any(|p| {
        let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        let number = match p.get("port") {
            None => return protocol == port.2,
            Some(Value::String(name)) => return name == &port.1 && protocol == port.2,
            Some(n) => n.as_i64().unwrap_or(-1),
        };
        let end = p.get("endPort").and_then(Value::as_i64).unwrap_or(number);
        protocol == port.2 && (number..=end).contains(&port.0)
    })
}

/// Whether traffic from `src` to `dst` on `port` passes both sides' policies. `applying`
/// holds, per pod (by index), the policies whose `podSelector` selects it, found once rather
/// than for every pair: checking every policy for every pair made the proof cubic.
pub(super) fn allowed(
    (si, src): (usize, &Pod),
    (di, dst): (usize, &Pod),
    port: &(i64, String, String),
    policies: &[Policy],
    applying: &[Vec<usize>],
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    let side = |at: usize, peer: &Pod, egress: bool| {
        let mut restricted = false;
        for p in applying[at].iter().map(|&i| &policies[i]) {
            let (rules, key) = if egress {
                (&p.egress, "to")
            } else {
                (&p.ingress, "from")
            };
            let Some(rules) = rules else { continue };
            restricted = true;
            // The ports first: they cost no allocation and rule most pairs out.
            if rules.iter().any(|r| {
                ports_admit(r.get("ports"), port)
                    && peer_admits(r.get(key), &p.object.namespace, peer, namespaces)
            }) {
                return true;
            }
        }
        !restricted
    };
    side(si, dst, true) && side(di, src, false)
}

/// The workloads of the output that serve or call others, Deployments (and the Argo
/// Rollouts `Rollout`s that replace them), StatefulSets and CronJobs (a store's backup job
/// is a client of the store), by their index among the pod templates of `index` (`None` for other pods).
fn pods<'a>(index: &'a Index<'a>) -> Vec<Option<Pod<'a>>> {
    let mut pods: Vec<Option<Pod>> = index
        .pods
        .iter()
        .map(|p| {
            let o = p.object;
            // Operators' pods (`operators`) are workloads' pods as well.
            matches!(
                o.kind.as_str(),
                "Deployment" | "Rollout" | "StatefulSet" | "Pod" | "CronJob"
            )
            .then(|| Pod {
                object: o,
                labels: &p.labels,
                ports: containers(p.template)
                    .filter_map(|c| c.get("ports").and_then(Value::as_array))
                    .flatten()
                    .map(|p| {
                        let s = |k: &str| {
                            p.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let protocol = Some(s("protocol"))
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| "TCP".to_owned());
                        let number = p.get("containerPort").and_then(Value::as_i64);
                        (number.unwrap_or(0), s("name"), protocol)
                    })
                    .collect(),
                served: Vec::new(),
                declared: o
                    .doc
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(DEPENDS_ON))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned)
                    .collect(),
            })
        })
        .collect();
    for (s, _) in &index.services {
        let selector = string_map(s.doc.pointer("/spec/selector"));
        let ports = s.doc.pointer("/spec/ports").and_then(Value::as_array);
        for i in index.pods_matching(&s.namespace, &selector) {
            let Some(pod) = pods[i].as_mut() else {
                continue;
            };
            for sp in ports.into_iter().flatten() {
                let target = sp.get("targetPort").or_else(|| sp.get("port"));
                let found = pod.ports.iter().filter(|p| match target {
                    Some(Value::String(n)) => &p.1 == n,
                    Some(n) => n.as_i64() == Some(p.0),
                    None => false,
                });
                let found: Vec<_> = found.cloned().collect();
                pod.served.extend(found);
            }
        }
    }
    for pod in pods.iter_mut().flatten() {
        if pod.served.is_empty() {
            pod.served = pod.ports.clone();
        }
    }
    pods
}

/// The pods (indexes of `index`) a rule's peer list (`to`/`from`) may admit, for a policy in
/// namespace `ns`: a superset that [`peer_admits`] then decides exactly.
fn peer_candidates(
    peers: Option<&Value>,
    ns: &str,
    index: &Index,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    out: &mut BTreeSet<usize>,
) {
    let Some(peers) = peers.and_then(Value::as_array) else {
        out.extend(0..index.pods.len());
        return;
    };
    for peer in peers {
        if let Some(block) = peer.get("ipBlock") {
            // As [`peer_admits`] judges it: only all addresses, with no exception, admits
            // pods; a block with exceptions (all but the private ranges) adds no candidate.
            if admits_pods(block) {
                out.extend(0..index.pods.len());
                return;
            }
            continue;
        }
        let pod_selector = peer.get("podSelector");
        match peer.get("namespaceSelector") {
            Some(s) => {
                for n in index.namespaces() {
                    if selects(Some(s), &namespace_labels(namespaces, n)) {
                        out.extend(index.pods_selected(n, pod_selector));
                    }
                }
            }
            None => out.extend(index.pods_selected(ns, pod_selector)),
        }
    }
}

/// P014 `dependency-blocked`, P015 `undeclared-path`: with the generated NetworkPolicies
/// evaluated as Kubernetes does (a pod selected by a policy of a direction admits only what
/// its rules allow there; traffic needs both the caller's egress and the callee's ingress),
/// every dependency a workload declares (the [`DEPENDS_ON`] annotation) must be open on the
/// ports the dependency's Service exposes, and every other path between two workloads of
/// the output must be closed. Traffic from other namespaces (DNS, the ingress controller,
/// monitoring) is not a path between workloads and is left aside.
///
/// Why: the policies and the dependency graph are generated by different code. A policy
/// that misses an edge breaks the service at run time (connection timeouts); one that opens
/// an undeclared path undoes the isolation the default deny promises.
pub(super) fn reachability(objects: &[Object], index: &Index, out: &mut Vec<Finding>) {
    let policies: Vec<Policy> = objects
        .iter()
        .filter(|o| o.kind == "NetworkPolicy")
        .map(|o| Policy {
            object: o,
            ingress: direction(o, "ingress", "Ingress"),
            egress: direction(o, "egress", "Egress"),
        })
        .collect();
    let namespaces: BTreeMap<String, BTreeMap<String, String>> = objects
        .iter()
        .filter(|o| o.kind == "Namespace")
        .map(|o| {
            let mut labels = string_map(o.doc.pointer("/metadata/labels"));
            labels.insert("kubernetes.io/metadata.name".to_owned(), o.name.clone());
            (o.name.clone(), labels)
        })
        .collect();
    let pods = pods(index);
    // The policies that select each pod, found once from each policy's selector.
    let mut applying: Vec<Vec<usize>> = vec![Vec::new(); pods.len()];
    for (i, p) in policies.iter().enumerate() {
        let selector = p.object.doc.pointer("/spec/podSelector");
        for at in index.pods_selected(&p.object.namespace, selector) {
            applying[at].push(i);
        }
    }
    let mut by_owner: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, pod) in pods.iter().enumerate() {
        if let Some(pod) = pod {
            by_owner.entry(pod.object.owner()).or_default().push(i);
        }
    }
    let check = |si: usize, src: &Pod, di: usize, dst: &Pod, ports: &[(i64, String, String)]| {
        ports
            .iter()
            .filter(|p| allowed((si, src), (di, dst), p, &policies, &applying, &namespaces))
            .map(|p| p.0.to_string())
            .collect::<Vec<String>>()
    };
    for (si, src) in pods.iter().enumerate() {
        let Some(src) = src else { continue };
        let from = src.object.owner();
        for to in &src.declared {
            for &di in by_owner.get(to.as_str()).into_iter().flatten() {
                let Some(dst) = &pods[di] else { continue };
                let open = check(si, src, di, dst, &dst.served);
                let blocked: Vec<String> = dst
                    .served
                    .iter()
                    .map(|p| p.0.to_string())
                    .filter(|p| !open.contains(p))
                    .collect();
                if !blocked.is_empty() {
                    out.push(Finding::on(
                        Code::DependencyBlocked,
                        from,
                        format!("`{from}` depends on `{to}`, and the NetworkPolicies block it on port {}", blocked.join(", ")),
                        "let the caller's egress and the dependency's ingress admit each other on the dependency's ports",
                    ));
                }
            }
        }
        // The edge's proxies reach workloads by their routes, proven by `routes_blocked`.
        if gateway_of(src.object, src.labels).is_some() {
            continue;
        }
        // Only the pods the caller's egress may reach can be on an undeclared open path.
        let mut candidates = BTreeSet::new();
        let egress: Vec<&Policy> = applying[si]
            .iter()
            .map(|&i| &policies[i])
            .filter(|p| p.egress.is_some())
            .collect();
        if egress.is_empty() {
            candidates.extend(0..pods.len());
        }
        for p in egress {
            for r in p.egress.iter().flatten() {
                let mut peers = BTreeSet::new();
                peer_candidates(
                    r.get("to"),
                    &p.object.namespace,
                    index,
                    &namespaces,
                    &mut peers,
                );
                // Only pods with a port the rule admits: a data store's egress to all
                // addresses on 443 (its backups) admits every pod as a peer and none as a
                // destination, and pairing each store's pods with every pod for it made the
                // family quadratic.
                candidates.extend(peers.into_iter().filter(|&di| {
                    pods[di].as_ref().is_some_and(|dst| {
                        dst.ports
                            .iter()
                            .any(|port| ports_admit(r.get("ports"), port))
                    })
                }));
            }
        }
        for di in candidates {
            let Some(dst) = &pods[di] else { continue };
            let to = dst.object.owner();
            if to == from || src.declared.contains(to) || dst.ports.is_empty() {
                continue;
            }
            let open = check(si, src, di, dst, &dst.ports);
            if !open.is_empty() {
                out.push(Finding::on(
                    Code::UndeclaredPath,
                    from,
                    format!("the NetworkPolicies let `{from}` reach `{to}` on port {}, a dependency it does not declare", open.join(", ")),
                    "close the path, or declare the dependency with `depends_on`",
                ));
            }
        }
    }
    let net = Net {
        pods: &pods,
        policies: &policies,
        applying: &applying,
        namespaces: &namespaces,
    };
    routes_blocked(objects, index, &net, out);
    super::mesh::authorization(objects, index, &net, out);
}

/// The pods (indexes of `index`) whose traffic the ingress of pod `di` may admit: every pod
/// when no policy restricts its ingress, else a superset of those its rules' peers admit,
/// which [`allowed`] then decides exactly.
///
/// Why: a check of every caller against every callee is quadratic in the workloads, and the
/// policies plinth generates admit a handful of peers each.
pub(super) fn ingress_candidates(di: usize, index: &Index, net: &Net) -> BTreeSet<usize> {
    let mut candidates = BTreeSet::new();
    let ingress: Vec<&Policy> = net.applying[di]
        .iter()
        .map(|&i| &net.policies[i])
        .filter(|p| p.ingress.is_some())
        .collect();
    if ingress.is_empty() {
        candidates.extend(0..index.pods.len());
    }
    for p in ingress {
        for r in p.ingress.iter().flatten() {
            peer_candidates(
                r.get("from"),
                &p.object.namespace,
                index,
                net.namespaces,
                &mut candidates,
            );
        }
    }
    candidates
}

/// The pods and policies of an output, as [`reachability`] prepared them.
pub(super) struct Net<'n, 'a> {
    pub pods: &'n [Option<Pod<'a>>],
    pub policies: &'n [Policy<'a>],
    pub applying: &'n [Vec<usize>],
    pub namespaces: &'n BTreeMap<String, BTreeMap<String, String>>,
}

/// P014 `dependency-blocked`, for the edge: an `HTTPRoute` whose `Gateway`'s proxies (the
/// pods `operators` models for an Envoy Gateway `Gateway`) the NetworkPolicies keep from a
/// backend Service's pods on the port the route sends to.
///
/// Why: the route is accepted, the host resolves, and every request times out at the
/// proxy; the workload's policy and the route are generated by different code.
fn routes_blocked(objects: &[Object], index: &Index, net: &Net, out: &mut Vec<Finding>) {
    // The proxies of each Gateway, found once: a scan of every pod for every route made the
    // family quadratic (a route per service).
    let mut proxies_of: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, pod) in net.pods.iter().enumerate() {
        if let Some(gateway) = pod.as_ref().and_then(|p| gateway_of(p.object, p.labels)) {
            proxies_of.entry(gateway).or_default().push(i);
        }
    }
    for r in objects.iter().filter(|o| o.kind == "HTTPRoute") {
        let parents = r.doc.pointer("/spec/parentRefs").and_then(Value::as_array);
        let proxies: Vec<usize> = parents
            .into_iter()
            .flatten()
            .filter(|p| p.get("kind").is_none_or(|k| k == "Gateway"))
            .flat_map(|p| {
                let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                let ns = p
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(&r.namespace);
                proxies_of.get(&(name, ns)).into_iter().flatten().copied()
            })
            .collect();
        let rules = r.doc.pointer("/spec/rules").and_then(Value::as_array);
        let backends = rules
            .into_iter()
            .flatten()
            .filter_map(|rule| rule.get("backendRefs").and_then(Value::as_array))
            .flatten();
        for b in backends {
            let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
            let Some(service) = index.service(r.namespace.as_str(), name) else {
                continue; // `refs::route_backends` reports it.
            };
            let ports = service.doc.pointer("/spec/ports").and_then(Value::as_array);
            let Some(sp) = ports
                .into_iter()
                .flatten()
                .find(|p| p.get("port") == b.get("port"))
            else {
                continue;
            };
            let target = sp.get("targetPort").or_else(|| sp.get("port"));
            let selector = string_map(service.doc.pointer("/spec/selector"));
            for di in index.pods_matching(&service.namespace, &selector) {
                let Some(dst) = &net.pods[di] else { continue };
                let Some(port) = dst.ports.iter().find(|p| match target {
                    Some(Value::String(n)) => &p.1 == n,
                    Some(n) => n.as_i64() == Some(p.0),
                    None => false,
                }) else {
                    continue;
                };
                for &si in &proxies {
                    let Some(src) = &net.pods[si] else { continue };
                    if !allowed(
                        (si, src),
                        (di, dst),
                        port,
                        net.policies,
                        net.applying,
                        net.namespaces,
                    ) {
                        out.push(Finding::on(
                            Code::DependencyBlocked,
                            r.owner(),
                            format!(
                                "HTTPRoute `{}` sends the Gateway's traffic to `{}` on port {}, and the NetworkPolicies block it",
                                r.name,
                                dst.object.owner(),
                                port.0
                            ),
                            "admit the gateway's proxies (their namespace) to the routed port in the backend's NetworkPolicy",
                        ));
                    }
                }
            }
        }
    }
}
