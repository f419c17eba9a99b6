//! The pods operators create from the custom resources of the output. The proof reads
//! generated files only; a `Cluster` of CloudNativePG is not a pod template, yet its
//! instances are the pods that a Service, a PodMonitor or a client's policy must find. What
//! each operator creates is its documented behaviour, written down here once, so that the
//! families resolve selectors against those pods as they do against a Deployment's. The same
//! holds for the controllers of the edge: the Envoy proxies of a `Gateway` (Envoy Gateway's
//! or istiod's), and the certificates cert-manager issues for an annotated `Gateway` or
//! `Ingress`.

use serde_json::{json, Value};

use super::Object;

/// CloudNativePG's API group (`Cluster`, `Pooler`).
const CNPG_GROUP: &str = "postgresql.cnpg.io";

/// The pods and Services the operators of the output's custom resources create, as `Pod`
/// and `Service` objects:
///
/// - a CloudNativePG `Cluster` named `X`: its instances (one stands for all: the primary),
///   labelled `cnpg.io/cluster: X`, `cnpg.io/podRole: instance` and
///   `cnpg.io/instanceRole: primary`, serving PostgreSQL on 5432 (`postgresql`), metrics on
///   9187 (`metrics`) and the instance manager on 8000 (`status`); and the Services `X-rw`
///   (the primary) and `X-r` (any instance) on 5432, which clients connect through;
/// - a CloudNativePG `Pooler` named `P`: its PgBouncer pods, labelled
///   `cnpg.io/poolerName: P` and `cnpg.io/podRole: pooler`, serving 5432 (`pgbouncer`) and
///   metrics on 9127 (`metrics`), and the Service `P` on 5432.
///
/// Each carries the `app.kubernetes.io/name` of the object it comes from, so findings and
/// scrapes are attributed to the workload the spec named. The Secrets a `Cluster` creates
/// come with them ([`cluster_secrets`]).
pub(super) fn operator_pods(objects: &[Object]) -> Vec<Object> {
    let secrets: Vec<Object> = objects
        .iter()
        .filter(|o| o.group() == CNPG_GROUP && o.kind == "Cluster")
        .flat_map(cluster_secrets)
        .collect();
    objects
        .iter()
        .filter(|o| o.group() == CNPG_GROUP)
        .flat_map(|o| {
            let owner = o.owner().to_owned();
            let (labels, ports, services) = match o.kind.as_str() {
                "Cluster" => (
                    json!({
                        "cnpg.io/cluster": o.name,
                        "cnpg.io/podRole": "instance",
                        "cnpg.io/instanceRole": "primary",
                        "app.kubernetes.io/name": owner,
                    }),
                    json!([
                        { "name": "postgresql", "containerPort": 5432 },
                        { "name": "metrics", "containerPort": 9187 },
                        { "name": "status", "containerPort": 8000 },
                    ]),
                    vec![
                        (
                            format!("{}-rw", o.name),
                            json!({ "cnpg.io/cluster": o.name, "cnpg.io/instanceRole": "primary" }),
                        ),
                        (
                            format!("{}-r", o.name),
                            json!({ "cnpg.io/cluster": o.name }),
                        ),
                    ],
                ),
                "Pooler" => (
                    json!({
                        "cnpg.io/poolerName": o.name,
                        "cnpg.io/podRole": "pooler",
                        "app.kubernetes.io/name": owner,
                    }),
                    json!([
                        { "name": "pgbouncer", "containerPort": 5432 },
                        { "name": "metrics", "containerPort": 9127 },
                    ]),
                    vec![(o.name.clone(), json!({ "cnpg.io/poolerName": o.name }))],
                ),
                _ => return Vec::new(),
            };
            let mut made = vec![pod(o, labels, ports)];
            made.extend(
                services
                    .into_iter()
                    .map(|(name, selector)| service(o, &name, &owner, selector)),
            );
            made
        })
        .chain(secrets)
        .chain(objects.iter().flat_map(certificates))
        .chain(gateway_proxies(objects))
        .chain(istio_gateway_proxies(objects))
        .collect()
}

/// The GatewayClass istiod creates and serves.
const ISTIO_CLASS: &str = "istio";

/// The label the Gateway API (and istiod's deployment template) puts on a Gateway's proxy
/// pods: the Gateway's name.
pub(super) const GATEWAY_NAME: &str = "gateway.networking.k8s.io/gateway-name";

/// The proxy pods istiod deploys for each `Gateway` of class `istio`: one `Pod` standing
/// for the Deployment, in the Gateway's namespace, labelled with the Gateway's name and
/// running as the ServiceAccount `<gateway>-istio` (istiod's default name for the
/// Gateway's deployment), declaring no port a workload calls.
///
/// Why: the proxies run next to the routes' backends, under the namespace's default-deny
/// policy, so both their own policy and the backends' must admit the route's traffic; and
/// the backends' authorization policies admit them by that ServiceAccount's identity.
fn istio_gateway_proxies(objects: &[Object]) -> Vec<Object> {
    objects
        .iter()
        .filter(|o| o.kind == "Gateway")
        .filter(|o| {
            o.doc
                .pointer("/spec/gatewayClassName")
                .and_then(Value::as_str)
                == Some(ISTIO_CLASS)
        })
        .map(|g| {
            let name = format!("{}-{ISTIO_CLASS}", g.name);
            Object {
                api_version: "v1".to_owned(),
                kind: "Pod".to_owned(),
                name: name.clone(),
                namespace: g.namespace.clone(),
                doc: json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": g.namespace,
                        "labels": { GATEWAY_NAME: g.name },
                    },
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [{ "name": "istio-proxy", "ports": [] }],
                    },
                }),
            }
        })
        .collect()
}

/// The `Gateway` (name, namespace) whose proxy `pod` is, for the pods this module models:
/// Envoy Gateway's carry the Gateway's name and namespace in labels, istiod's the name and
/// run in the Gateway's namespace.
pub(super) fn gateway_of<'a>(
    pod: &'a Object,
    labels: &'a std::collections::BTreeMap<String, String>,
) -> Option<(&'a str, &'a str)> {
    if let (Some(name), Some(ns)) = (
        labels.get(OWNING_GATEWAY),
        labels.get(OWNING_GATEWAY_NAMESPACE),
    ) {
        return Some((name, ns));
    }
    (pod.kind == "Pod")
        .then(|| labels.get(GATEWAY_NAME))
        .flatten()
        .map(|name| (name.as_str(), pod.namespace.as_str()))
}

/// The label Envoy Gateway puts on the proxy pods of a `Gateway`: the Gateway's name (and
/// `…-namespace` its namespace).
pub(super) const OWNING_GATEWAY: &str = "gateway.envoyproxy.io/owning-gateway-name";

/// The label of the namespace of the `Gateway` a proxy pod serves.
const OWNING_GATEWAY_NAMESPACE: &str = "gateway.envoyproxy.io/owning-gateway-namespace";

/// The namespace Envoy Gateway creates its proxies in, its own (the default deploy mode).
const ENVOY_GATEWAY_NAMESPACE: &str = "envoy-gateway-system";

/// The controller name of Envoy Gateway's `GatewayClass`es.
const ENVOY_CONTROLLER: &str = "gateway.envoyproxy.io/gatewayclass-controller";

/// The Envoy proxy pods Envoy Gateway creates for each `Gateway` of a `GatewayClass` of the
/// output whose controller is Envoy Gateway's: one `Pod` standing for the Deployment, in
/// `envoy-gateway-system`, labelled with the Gateway's name and namespace, serving nothing
/// a workload calls (it receives traffic from outside only).
///
/// Why: the routes' backends must admit these pods through their NetworkPolicies, which
/// the reachability family proves against them ([`super::network::reachability`]).
fn gateway_proxies(objects: &[Object]) -> Vec<Object> {
    let envoy: Vec<&str> = objects
        .iter()
        .filter(|o| o.kind == "GatewayClass")
        .filter(|o| {
            o.doc
                .pointer("/spec/controllerName")
                .and_then(Value::as_str)
                == Some(ENVOY_CONTROLLER)
        })
        .map(|o| o.name.as_str())
        .collect();
    objects
        .iter()
        .filter(|o| o.kind == "Gateway")
        .filter(|o| {
            o.doc
                .pointer("/spec/gatewayClassName")
                .and_then(Value::as_str)
                .is_some_and(|c| envoy.contains(&c))
        })
        .map(|g| {
            let name = format!("envoy-{}-{}", g.namespace, g.name);
            Object {
                api_version: "v1".to_owned(),
                kind: "Pod".to_owned(),
                name: name.clone(),
                namespace: ENVOY_GATEWAY_NAMESPACE.to_owned(),
                doc: json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": ENVOY_GATEWAY_NAMESPACE,
                        "labels": {
                            "app.kubernetes.io/name": "envoy",
                            "app.kubernetes.io/component": "proxy",
                            "app.kubernetes.io/managed-by": "envoy-gateway",
                            OWNING_GATEWAY: g.name,
                            OWNING_GATEWAY_NAMESPACE: g.namespace,
                        },
                    },
                    "spec": { "containers": [{ "name": "envoy", "ports": [] }] },
                }),
            }
        })
        .collect()
}

/// The `Certificate`s cert-manager creates for an object annotated with
/// `cert-manager.io/cluster-issuer` (or `cert-manager.io/issuer`), one per TLS Secret it
/// names: a `Gateway`'s HTTPS listeners with a hostname and a `certificateRefs` Secret of
/// its namespace (cert-manager's gateway-shim, with `config.gatewayAPI.enabled`), an
/// `Ingress`'s `spec.tls` entries (its ingress-shim). Each writes its `secretName`.
///
/// Why: the proxy serving the listener reads that Secret, and nothing else in the output
/// creates it; without this, every TLS host would be a P005 finding.
fn certificates(o: &Object) -> Vec<Object> {
    let annotations = o.doc.pointer("/metadata/annotations");
    let issued = ["cert-manager.io/cluster-issuer", "cert-manager.io/issuer"]
        .iter()
        .any(|k| annotations.and_then(|a| a.get(*k)).is_some());
    if !issued {
        return Vec::new();
    }
    let secrets: Vec<String> = match o.kind.as_str() {
        "Gateway" => o
            .doc
            .pointer("/spec/listeners")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|l| l.get("hostname").is_some())
            .filter_map(|l| l.pointer("/tls/certificateRefs").and_then(Value::as_array))
            .flatten()
            .filter(|r| r.get("kind").is_none_or(|k| k == "Secret"))
            .filter(|r| r.get("namespace").is_none_or(|n| n == o.namespace.as_str()))
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        "Ingress" => o
            .doc
            .pointer("/spec/tls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.get("secretName").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    secrets
        .into_iter()
        .map(|secret| Object {
            api_version: "cert-manager.io/v1".to_owned(),
            kind: "Certificate".to_owned(),
            name: secret.clone(),
            namespace: o.namespace.clone(),
            doc: json!({
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {
                    "name": secret,
                    "namespace": o.namespace,
                    "labels": { "app.kubernetes.io/name": o.owner() },
                },
                "spec": { "secretName": secret },
            }),
        })
        .collect()
}

/// The Secrets a CloudNativePG `Cluster` named `X` creates in its namespace, as `Secret`
/// objects: `X-app`, the application user's credentials and connection strings, unless
/// `spec.bootstrap.initdb.secret` names a Secret of the user's for them; and
/// `X-superuser` when `spec.enableSuperuserAccess` is true. (Its certificate Secrets are
/// the operator's own business: no pod of the output mounts them.)
///
/// Why: the README tells services to read `X-app` (`DATABASE_URL = { secret = "X-app",
/// key = "uri" }`); without this, that Secret would be a P005 finding in every output.
fn cluster_secrets(cluster: &Object) -> Vec<Object> {
    let mut names = Vec::new();
    if cluster
        .doc
        .pointer("/spec/bootstrap/initdb/secret/name")
        .is_none()
    {
        names.push(format!("{}-app", cluster.name));
    }
    if cluster.doc.pointer("/spec/enableSuperuserAccess") == Some(&Value::Bool(true)) {
        names.push(format!("{}-superuser", cluster.name));
    }
    names
        .into_iter()
        .map(|name| Object {
            api_version: "v1".to_owned(),
            kind: "Secret".to_owned(),
            name: name.clone(),
            namespace: cluster.namespace.clone(),
            doc: json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": cluster.namespace,
                    "labels": { "app.kubernetes.io/name": cluster.owner() },
                },
            }),
        })
        .collect()
}

/// A Service the operator creates for `from`, on PostgreSQL's port.
fn service(from: &Object, name: &str, owner: &str, selector: Value) -> Object {
    Object {
        api_version: "v1".to_owned(),
        kind: "Service".to_owned(),
        name: name.to_owned(),
        namespace: from.namespace.clone(),
        doc: json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": from.namespace,
                "labels": { "app.kubernetes.io/name": owner },
            },
            "spec": {
                "selector": selector,
                "ports": [{ "name": "postgres", "port": 5432, "targetPort": 5432 }],
            },
        }),
    }
}

/// A `Pod` of `from`'s namespace with `labels` and one container serving `ports`.
fn pod(from: &Object, labels: Value, ports: Value) -> Object {
    let name = format!("{}-operated", from.name);
    Object {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        name: name.clone(),
        namespace: from.namespace.clone(),
        doc: json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": name, "namespace": from.namespace, "labels": labels },
            "spec": { "containers": [{ "name": "operated", "ports": ports }] },
        }),
    }
}
