//! Certificates: every TLS Secret a Gateway listener or an Ingress names through
//! cert-manager's annotation is issued by an issuer that exists, and every Certificate the
//! output writes itself names an issuer that exists and covers the hosts its Secret serves.
//!
//! [`super::operators`] already turns the annotation into the `Certificate`s cert-manager
//! creates, so P005 sees the Secrets produced; what it cannot see is whether cert-manager
//! can issue them. A Certificate whose issuer does not exist stays pending forever and the
//! proxy serves no certificate. A DNS-01 solver's zone must be one the Terraform looks up,
//! which cert-manager may change (its IAM role on Route 53). Whether a TLS host lies inside
//! the environment's DNS zone is not proven here: a host outside it is legal (its DNS kept
//! by hand, proven through HTTP-01) and `check` warns of it (W018), which an error here
//! would overrule.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Block, Finding, Object};
use crate::diag::Code;

/// The annotation naming a ClusterIssuer, and the one naming an Issuer of the object's
/// namespace.
const CLUSTER_ISSUER: &str = "cert-manager.io/cluster-issuer";
const ISSUER: &str = "cert-manager.io/issuer";

/// P019 `unissued-certificate`: a Gateway or Ingress whose TLS Secrets cert-manager is asked
/// to issue through an issuer the output does not create (nor the spec's external
/// `platform.tls_issuer`, a prerequisite by design, like an external Secret).
///
/// Why: cert-manager accepts the Certificate and never issues it, and the listener serves
/// no certificate; nothing fails at apply time, only the first HTTPS request.
///
/// Example: the Gateway annotated `cert-manager.io/cluster-issuer: letsencrypt` in an output
/// whose ClusterIssuer is named `lets-encrypt`.
pub(super) fn unissued_certificates(
    objects: &[Object],
    external_issuer: Option<&str>,
    out: &mut Vec<Finding>,
) {
    let cluster_issuers: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.kind == "ClusterIssuer" && o.group() == "cert-manager.io")
        .map(|o| o.name.as_str())
        .collect();
    let issuers: BTreeSet<(&str, &str)> = objects
        .iter()
        .filter(|o| o.kind == "Issuer" && o.group() == "cert-manager.io")
        .map(|o| (o.namespace.as_str(), o.name.as_str()))
        .collect();
    for o in objects {
        let tls = tls_hosts(o);
        if tls.is_empty() {
            continue;
        }
        let annotation = |k: &str| {
            o.doc
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        // Without the annotation the Secrets are not cert-manager's; P005 proves they exist.
        let issuer = match (annotation(CLUSTER_ISSUER), annotation(ISSUER)) {
            (Some(name), _) => Some((
                name,
                cluster_issuers.contains(name) || external_issuer == Some(name),
                "ClusterIssuer",
            )),
            (None, Some(name)) => Some((
                name,
                issuers.contains(&(o.namespace.as_str(), name)),
                "Issuer",
            )),
            (None, None) => None,
        };
        let Some((name, exists, kind)) = issuer else {
            continue;
        };
        if !exists {
            let secrets: Vec<&str> = tls.iter().map(|(s, _)| s.as_str()).collect();
            out.push(Finding::on(
                Code::UnissuedCertificate,
                o.owner(),
                format!(
                    "{} `{}` asks {kind} `{name}` for its TLS Secrets ({}), and the output creates no such issuer",
                    o.kind,
                    o.name,
                    secrets.join(", ")
                ),
                "this is a bug in plinth if `platform.tls_issuer` is unset or `letsencrypt`; another issuer must be named in `platform.tls_issuer`, which then is a prerequisite of the cluster",
            ));
        }
    }
}

/// P019 `unissued-certificate`, for the `Certificate`s the output writes itself (the
/// wildcard certificate of a zone): each must name an issuer that exists, and every TLS host
/// whose listener or Ingress serves its Secret must be one of its DNS names or lie directly
/// under one of its wildcards.
///
/// Why: a Certificate of a missing issuer stays pending forever; one whose names miss a host
/// is issued, and every client of that host refuses it as a certificate for another name.
///
/// Example: a Gateway listener for `api.eu.codepal.com` serving the Secret of the
/// Certificate for `codepal.com` and `*.codepal.com`.
pub(super) fn uncovered_hosts(
    objects: &[Object],
    external_issuer: Option<&str>,
    out: &mut Vec<Finding>,
) {
    let exists = |kind: &str, namespace: &str, name: &str| {
        objects.iter().any(|o| {
            o.group() == "cert-manager.io"
                && o.kind == kind
                && o.name == name
                && (kind == "ClusterIssuer" || o.namespace == namespace)
        }) || (kind == "ClusterIssuer" && external_issuer == Some(name))
    };
    // The DNS names of each generated Certificate, by its Secret.
    let mut names: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for c in objects
        .iter()
        .filter(|o| o.kind == "Certificate" && o.group() == "cert-manager.io")
    {
        let Some(issuer) = c.doc.pointer("/spec/issuerRef") else {
            continue;
        };
        let text = |k: &str| issuer.get(k).and_then(Value::as_str);
        let kind = text("kind").unwrap_or("Issuer");
        let name = text("name").unwrap_or_default();
        if !exists(kind, &c.namespace, name) {
            out.push(Finding::on(
                Code::UnissuedCertificate,
                c.owner(),
                format!(
                    "Certificate `{}` asks {kind} `{name}` for its certificate, and the output creates no such issuer",
                    c.name
                ),
                "this is a bug in plinth if `platform.tls_issuer` is unset or `letsencrypt`; another issuer must be named in `platform.tls_issuer`, which then is a prerequisite of the cluster",
            ));
        }
        if let Some(secret) = c.doc.pointer("/spec/secretName").and_then(Value::as_str) {
            names
                .entry((c.namespace.as_str(), secret))
                .or_default()
                .extend(
                    c.doc
                        .pointer("/spec/dnsNames")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                );
        }
    }
    for o in objects {
        for (secret, host) in tls_hosts(o) {
            let Some(dns) = names.get(&(o.namespace.as_str(), secret.as_str())) else {
                continue;
            };
            if !dns.iter().any(|n| covers(n, &host)) {
                out.push(Finding::on(
                    Code::UnissuedCertificate,
                    o.owner(),
                    format!(
                        "{} `{}` serves `{host}` the Secret `{secret}`, whose Certificate is for {} only",
                        o.kind,
                        o.name,
                        dns.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ),
                    "give the host a certificate of its own, or move it directly under the wildcard's zone",
                ));
            }
        }
    }
}

/// P019 `unissued-certificate` for an issuer's DNS-01 solver whose zone cannot be changed:
/// a Route 53 zone the environment's Terraform does not look up, or whose cert-manager has
/// no IAM role to change it with; a Cloudflare zone the Terraform does not look up.
///
/// Why: cert-manager takes the solver for every host under the zone and then fails to write
/// the `_acme-challenge` record, so the certificates stay pending; with a wildcard, which
/// only DNS-01 can prove, every HTTPS listener serves none.
///
/// Example: `selector.dnsZones: [codepal.com]` with `dns01.route53` in an output whose
/// cert-manager release lost its `eks.amazonaws.com/role-arn` annotation.
pub(super) fn unreachable_solver_zones(objects: &[Object], tf: &[Block], out: &mut Vec<Finding>) {
    let looked_up = |kind: &str, zone: &str| {
        tf.iter().any(|b| {
            b.ident == "data"
                && b.labels.first().is_some_and(|l| l == kind)
                && (b.body.get("name").and_then(Value::as_str) == Some(zone)
                    || b.body.pointer("/filter/name").and_then(Value::as_str) == Some(zone))
        })
    };
    let cert_manager_role = tf.iter().any(|b| {
        b.ident == "resource"
            && b.labels.first().is_some_and(|l| l == "helm_release")
            && b.body.get("chart").and_then(Value::as_str) == Some("cert-manager")
            && b.body
                .get("set")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|s| {
                    s.get("name").and_then(Value::as_str)
                        == Some("serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn")
                })
    });
    let issuers = objects.iter().filter(|o| {
        matches!(o.kind.as_str(), "ClusterIssuer" | "Issuer") && o.group() == "cert-manager.io"
    });
    for o in issuers {
        let solvers = o
            .doc
            .pointer("/spec/acme/solvers")
            .and_then(Value::as_array);
        for solver in solvers.into_iter().flatten() {
            let Some(dns01) = solver.get("dns01") else {
                continue;
            };
            let zones = solver
                .pointer("/selector/dnsZones")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            for zone in zones {
                let why = if dns01.get("route53").is_some() {
                    if !looked_up("aws_route53_zone", zone) {
                        Some("the Terraform looks up no such Route 53 zone")
                    } else if !cert_manager_role {
                        Some("cert-manager has no IAM role to change it with")
                    } else {
                        None
                    }
                } else if dns01.get("cloudflare").is_some() && !looked_up("cloudflare_zone", zone) {
                    Some("the Terraform looks up no such Cloudflare zone")
                } else {
                    None
                };
                if let Some(why) = why {
                    out.push(Finding::env(
                        Code::UnissuedCertificate,
                        format!(
                            "{} `{}` proves hosts of `{zone}` through DNS-01, but {why}",
                            o.kind, o.name
                        ),
                        "declare the zone in the environment's `dns` (this is a bug in plinth, which looks it up and gives cert-manager its role)",
                    ));
                }
            }
        }
    }
}

/// Whether certificate name `name` (a host, or `*.` and a domain) covers `host`: the same
/// name, or one label directly under a wildcard's domain.
fn covers(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .and_then(|h| h.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => name.eq_ignore_ascii_case(host),
    }
}

/// The TLS Secrets an object names, each with a host it is for: a Gateway's HTTPS
/// listeners (with a hostname, a Secret of the Gateway's namespace), an Ingress's `spec.tls`
/// entries (each host).
fn tls_hosts(o: &Object) -> Vec<(String, String)> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    match (o.group(), o.kind.as_str()) {
        ("gateway.networking.k8s.io", "Gateway") => o
            .doc
            .pointer("/spec/listeners")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| {
                let host = text(l, "hostname")?;
                let refs = l
                    .pointer("/tls/certificateRefs")
                    .and_then(Value::as_array)?;
                Some(
                    refs.iter()
                        .filter(|r| r.get("kind").is_none_or(|k| k == "Secret"))
                        .filter(|r| r.get("namespace").is_none_or(|n| n == o.namespace.as_str()))
                        .filter_map(|r| text(r, "name"))
                        .map(|s| (s, host.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect(),
        ("networking.k8s.io", "Ingress") => o
            .doc
            .pointer("/spec/tls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let secret = text(t, "secretName")?;
                let hosts = t.get("hosts").and_then(Value::as_array)?;
                Some(
                    hosts
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|h| (secret.clone(), h.to_owned()))
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect(),
        _ => Vec::new(),
    }
}
