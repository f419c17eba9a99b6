//! The Gateway API edge of an environment whose edge is Envoy Gateway
//! ([`ir::Edge::Envoy`]) or Istio's gateway ([`ir::Edge::Istio`]): for Envoy a
//! `GatewayClass` naming Envoy Gateway's controller (istiod creates its own class, `istio`),
//! one `Gateway` in the environment's namespace with one HTTP listener and an HTTPS
//! listener per TLS host, and an `HTTPRoute` per exposed workload. The k8s target serializes these specs and the Helm target renders the same
//! JSON from values, so both read one decision.
//!
//! TLS comes from cert-manager's Gateway support: the `Gateway` carries the
//! `cert-manager.io/cluster-issuer` annotation, and cert-manager (with
//! `config.gatewayAPI.enabled`) creates a `Certificate` for every HTTPS listener that has a
//! hostname and a `certificateRefs` Secret, writing the certificate to that Secret.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::ir::{self, naming, Environment, Workload};

/// The controller name Envoy Gateway's controller reconciles `GatewayClass`es by
/// (`gateway.envoyproxy.io/gatewayclass-controller`, its default `controllerName`).
pub(crate) const ENVOY_CONTROLLER: &str = "gateway.envoyproxy.io/gatewayclass-controller";

/// The Gateway API version of the generated objects (standard channel, GA since 1.0).
pub(crate) const API_VERSION: &str = "gateway.networking.k8s.io/v1";

/// One host of the Gateway, with its HTTPS listener when a route to it terminates TLS.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    /// The host name.
    pub hostname: String,
    /// Whether any route to it terminates TLS.
    pub tls: bool,
    /// For a host of an ingress's `redirect_from`, the host it redirects to.
    pub redirect_to: Option<String>,
}

/// The Gateway of an environment.
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    /// The Gateway's name.
    pub name: String,
    /// Its GatewayClass.
    pub class: String,
    /// The spec of the GatewayClass plinth generates; `None` for Istio's class, which
    /// istiod creates itself.
    pub class_spec: Option<Value>,
    /// Annotations of the load balancer Service the implementation deploys for the Gateway
    /// (the Gateway's `infrastructure`): on a cluster plinth creates.
    pub load_balancer: Option<BTreeMap<String, String>>,
    /// Its hosts, sorted.
    pub hosts: Vec<Host>,
    /// The cert-manager ClusterIssuer its certificates come from, when a host terminates
    /// TLS.
    pub issuer: Option<String>,
    /// The environment's wildcard certificate, when `dns.certificates.wildcard` asks for one
    /// and a host terminates TLS: every HTTPS listener serves it.
    pub wildcard: Option<Wildcard>,
    /// How long before expiry cert-manager renews (a Go duration, `720h`), when the spec says.
    pub renew_before: Option<String>,
}

/// The one certificate of an environment's zone and `*.<zone>`.
#[derive(Clone, Debug)]
pub(crate) struct Wildcard {
    /// The zone.
    pub zone: String,
    /// The Secret it is written to, also the `Certificate`'s name.
    pub secret: String,
}

/// The Gateway of `env`: when its edge is the Gateway API and a workload is exposed.
pub(crate) fn edge(platform: &ir::Platform, env: &Environment) -> Option<Edge> {
    if !env.cluster.edge.gateway_api() {
        return None;
    }
    let istio = env.cluster.edge == ir::Edge::Istio;
    let mut hosts: BTreeMap<&str, (bool, Option<&str>)> = BTreeMap::new();
    for i in env.workloads.iter().filter_map(|w| w.ingress.as_ref()) {
        hosts.entry(i.host.as_str()).or_default().0 |= i.tls;
    }
    // `check` rejects a redirect host that is also a route host or another redirect's
    // (E211), so each is entered once; the first entry stands if not.
    for i in env.workloads.iter().filter_map(|w| w.ingress.as_ref()) {
        for from in &i.redirect_from {
            hosts
                .entry(from.as_str())
                .or_insert((i.tls, Some(i.host.as_str())));
        }
    }
    if hosts.is_empty() {
        return None;
    }
    let tls = hosts.values().any(|(t, _)| *t);
    let certificates = env
        .cloud
        .as_ref()
        .and_then(|c| c.dns.as_ref())
        .and_then(|d| d.certificates.as_ref().map(|c| (d, c)));
    let wildcard = certificates
        .filter(|(_, c)| c.wildcard && tls)
        .map(|(d, _)| Wildcard {
            zone: d.zone.clone(),
            secret: naming::tls_secret(&format!("*.{}", d.zone)),
        });
    let renew_before = renew_before(env);
    Some(Edge {
        name: naming::gateway(&platform.name),
        class: if istio {
            naming::ISTIO_GATEWAY_CLASS.to_owned()
        } else {
            naming::gateway_class(&platform.name)
        },
        class_spec: (!istio).then(class_spec),
        load_balancer: env.cloud.is_some().then(network_load_balancer),
        hosts: hosts
            .into_iter()
            .map(|(h, (tls, to))| Host {
                hostname: h.to_owned(),
                tls,
                redirect_to: to.map(str::to_owned),
            })
            .collect(),
        issuer: tls.then(|| env.cluster.tls_issuer.clone()),
        wildcard,
        renew_before,
    })
}

/// How long before expiry cert-manager renews the environment's certificates, as a Go
/// duration, when `dns.certificates.renew_before` says: the Gateway's (or each Ingress's)
/// `cert-manager.io/renew-before` annotation, or the wildcard Certificate's `renewBefore`.
pub(crate) fn renew_before(env: &Environment) -> Option<String> {
    let dns = env.cloud.as_ref()?.dns.as_ref()?;
    dns.certificates
        .as_ref()?
        .renew_before_seconds
        .map(go_duration)
}

/// `seconds` as a Go duration in the largest whole unit, as cert-manager reads
/// `renewBefore` and its `renew-before` annotation: `720h`, `90m`, `45s`.
fn go_duration(seconds: u64) -> String {
    if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// The `Certificate` of the environment's wildcard certificate: the zone and `*.<zone>`,
/// from the Gateway's issuer, into the Secret every HTTPS listener names; its name is the
/// Secret's.
///
/// Why a `Certificate` of its own rather than cert-manager's Gateway support: the shim
/// makes one certificate per listener hostname, and a wildcard is one certificate for all
/// of them (which Let's Encrypt issues only through DNS-01, the solver the issuer then has).
pub(crate) fn wildcard_certificate(e: &Edge) -> Option<(String, Value)> {
    let w = e.wildcard.as_ref()?;
    let issuer = e.issuer.as_ref()?;
    let mut spec = json!({
        "secretName": w.secret,
        "dnsNames": [w.zone, format!("*.{}", w.zone)],
        "issuerRef": { "group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer },
        "privateKey": { "rotationPolicy": "Always" },
    });
    if let Some(r) = &e.renew_before {
        spec["renewBefore"] = json!(r);
    }
    Some((w.secret.clone(), spec))
}

/// The spec of the `GatewayClass`: Envoy Gateway's controller.
fn class_spec() -> Value {
    json!({ "controllerName": ENVOY_CONTROLLER })
}

/// The annotations that make EKS front Istio's gateway Service with a Network Load
/// Balancer.
///
/// Why: without them the in-tree AWS provider creates a Classic Load Balancer, which AWS
/// has deprecated. Both implementations copy the Gateway's `infrastructure.annotations`
/// onto the Service they deploy for it (istiod's deployment template; Envoy Gateway v1.9's
/// proxy metadata, `internal/infrastructure/kubernetes/proxy/resource_provider.go`), so the
/// Gateway carries them.
fn network_load_balancer() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "service.beta.kubernetes.io/aws-load-balancer-type".to_owned(),
        "nlb".to_owned(),
    )])
}

/// The external-dns annotations of a route (an `HTTPRoute`, or an `Ingress` when `ingress`)
/// of an environment whose CDN fronts its hosts ([`Environment::cdn_origin`]): external-dns
/// then takes the route's names only from the hostname annotation, which names the origin.
///
/// Why: the route hosts' records belong to Terraform there, as aliases of the CloudFront
/// distribution; external-dns would otherwise point them back at the load balancer and
/// bypass the CDN and its firewall. The origin still needs a record pointing at the load
/// balancer, whose name only the cluster knows: the routes on the Gateway's HTTP listener
/// (which has no host name) give it one; a route only on a host's HTTPS listener matches no
/// listener for the origin's name and adds nothing (external-dns v0.21,
/// `source/gateway.go`).
pub(crate) fn origin_annotations(
    env: &Environment,
    ingress: bool,
) -> Option<BTreeMap<String, String>> {
    let origin = env.cdn_origin()?;
    Some(BTreeMap::from([
        (
            hostname_source(ingress).to_owned(),
            "annotation-only".to_owned(),
        ),
        (naming::EXTERNAL_DNS_HOSTNAME.to_owned(), origin),
    ]))
}

/// external-dns's annotation choosing where the names of a route (an `Ingress` when
/// `ingress`) come from.
pub(crate) fn hostname_source(ingress: bool) -> &'static str {
    if ingress {
        "external-dns.alpha.kubernetes.io/ingress-hostname-source"
    } else {
        "external-dns.alpha.kubernetes.io/gateway-hostname-source"
    }
}

/// external-dns's `annotationFilter` when the CDN fronts the environment's hosts: only the
/// routes [`origin_annotations`] marks.
///
/// Why: cert-manager's HTTP-01 solver makes its own route for a host, without those
/// annotations; external-dns would publish the host from it, pointing at the load balancer,
/// and the Terraform alias record for the same name would then fail to be created.
pub(crate) fn origin_filter(env: &Environment, ingress: bool) -> Option<String> {
    env.cdn_origin()
        .map(|_| format!("{}=annotation-only", hostname_source(ingress)))
}

/// The annotations of the `Gateway`: the ClusterIssuer cert-manager issues its listeners'
/// certificates from, and the renewal window when the spec sets one.
///
/// None with a wildcard certificate: its own `Certificate` issues it, and the annotation
/// would make cert-manager issue a second, per-host certificate into the same Secret.
pub(crate) fn annotations(e: &Edge) -> Option<BTreeMap<String, String>> {
    if e.wildcard.is_some() {
        return None;
    }
    e.issuer.as_ref().map(|i| {
        let mut a = BTreeMap::from([("cert-manager.io/cluster-issuer".to_owned(), i.clone())]);
        if let Some(r) = &e.renew_before {
            a.insert("cert-manager.io/renew-before".to_owned(), r.clone());
        }
        a
    })
}

/// The spec of the `Gateway`: one HTTP listener on port 80 for every host (routes match
/// by their own `hostnames`; it also answers cert-manager's HTTP-01 challenges) and, per
/// host that terminates TLS, an HTTPS listener on 443 whose certificate is the Secret
/// cert-manager writes. Routes attach only from the Gateway's own namespace (the Gateway
/// API default, written out).
///
/// Why one HTTP listener rather than one per host: the Gateway API holds at most 64
/// listeners per Gateway, so per-host HTTP listeners would halve the hosts a Gateway can
/// serve; an HTTP listener needs no certificate, so it has no reason to name a host. The
/// HTTPS listeners must (cert-manager issues one certificate per listener hostname), which
/// `check` bounds (E210).
pub(crate) fn gateway_spec(e: &Edge) -> Value {
    let same = json!({ "namespaces": { "from": "Same" } });
    let mut listeners = vec![json!({
        "name": HTTP_LISTENER,
        "port": 80,
        "protocol": "HTTP",
        "allowedRoutes": same,
    })];
    for h in &e.hosts {
        if h.tls {
            listeners.push(json!({
                "name": naming::listener("https", &h.hostname),
                "hostname": h.hostname,
                "port": 443,
                "protocol": "HTTPS",
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [{
                        "kind": "Secret",
                        "name": e.wildcard.as_ref().map_or_else(
                            || naming::tls_secret(&h.hostname),
                            |w| w.secret.clone(),
                        ),
                    }],
                },
                "allowedRoutes": same,
            }));
        }
    }
    let mut spec = json!({ "gatewayClassName": e.class, "listeners": listeners });
    if let Some(a) = &e.load_balancer {
        spec["infrastructure"] = json!({ "annotations": a });
    }
    spec
}

/// The spec of workload `w`'s `HTTPRoute`: its host and path prefix, to its Service's port,
/// on the listener of its host: the host's HTTPS listener when the host terminates TLS
/// (plain HTTP to it is redirected, [`redirects`]), the shared HTTP listener otherwise.
pub(crate) fn route_spec(e: &Edge, w: &Workload, i: &ir::Ingress) -> Value {
    json!({
        "parentRefs": [{ "name": e.name, "sectionName": listener_of(e, &i.host) }],
        "hostnames": [i.host],
        "rules": [{
            "matches": [{ "path": { "type": "PathPrefix", "value": i.path } }],
            "backendRefs": backend_refs(w, i),
        }],
    })
}

/// The backends of `w`'s route: its Service; for a canary, its Service (stable) at weight
/// 100 and its canary Service at weight 0, which Argo Rollouts' Gateway API plugin moves
/// step by step during an update and sets back when it ends.
fn backend_refs(w: &Workload, i: &ir::Ingress) -> Value {
    match super::rollouts::second_service(w) {
        Some(canary) if matches!(w.rollout.strategy, ir::Strategy::Canary { .. }) => json!([
            { "name": w.name, "port": i.port.port, "weight": 100 },
            { "name": canary, "port": i.port.port, "weight": 0 },
        ]),
        _ => json!([{ "name": w.name, "port": i.port.port }]),
    }
}

/// The listener that serves `host`'s routes: its HTTPS listener when some route to it
/// terminates TLS, else the shared HTTP listener.
fn listener_of(e: &Edge, host: &str) -> String {
    if e.hosts.iter().any(|h| h.hostname == host && h.tls) {
        naming::listener("https", host)
    } else {
        HTTP_LISTENER.to_owned()
    }
}

/// The name of the Gateway's one HTTP listener.
const HTTP_LISTENER: &str = "http";

/// The redirect `HTTPRoute`s of the Gateway, by name: per host that terminates TLS, one on
/// the HTTP listener that answers every request for the host with a permanent redirect to
/// the same URL over HTTPS; per `redirect_from` host, one on its listeners (the HTTP one,
/// and its HTTPS one when TLS) that redirects permanently to the same path on its target
/// host, over HTTPS when the target terminates TLS.
///
/// Why: a TLS host should not serve its pages over plain HTTP, where a session cookie or a
/// form travels in the clear, but must still answer on port 80, where browsers and links
/// arrive first; an apex or `www` name should lead to the one canonical host rather than
/// serve a copy. cert-manager's HTTP-01 challenges keep working: its solver route matches
/// the exact challenge path, which the Gateway API ranks above these routes' `/` prefix.
pub(crate) fn redirects(e: &Edge) -> Vec<(String, Value)> {
    e.hosts
        .iter()
        .filter(|h| h.tls || h.redirect_to.is_some())
        .map(|h| {
            let mut parents = vec![json!({ "name": e.name, "sectionName": HTTP_LISTENER })];
            let mut redirect = json!({ "statusCode": 301 });
            if h.tls {
                redirect["scheme"] = json!("https");
            }
            if let Some(to) = &h.redirect_to {
                redirect["hostname"] = json!(to);
                if h.tls {
                    parents.push(json!({
                        "name": e.name,
                        "sectionName": naming::listener("https", &h.hostname),
                    }));
                }
            }
            (
                naming::host_redirect(&h.hostname),
                json!({
                    "parentRefs": parents,
                    "hostnames": [h.hostname],
                    "rules": [{
                        "filters": [{ "type": "RequestRedirect", "requestRedirect": redirect }],
                    }],
                }),
            )
        })
        .collect()
}

/// The HTTP-01 solver of the generated ClusterIssuer with a Gateway: cert-manager answers
/// each challenge through a temporary `HTTPRoute` attached to the Gateway.
pub(crate) fn solver(e: &Edge, namespace: &str) -> Value {
    json!({
        "http01": {
            "gatewayHTTPRoute": {
                "parentRefs": [{
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": e.name,
                    "namespace": namespace,
                }]
            }
        }
    })
}
