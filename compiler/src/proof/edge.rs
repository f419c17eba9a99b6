//! The CDN: a CloudFront distribution of the Terraform reaches the cluster at a name that
//! something in the output points there, and serves its hosts with a certificate of the
//! output that covers every one of them.
//!
//! The origin's name is a literal of the Terraform; what points it at the load balancer is
//! external-dns, from the hostname annotation of a route in the Kubernetes output. So this
//! family reads both targets and models what external-dns v0.21 does with a route: with
//! `gateway-hostname-source: annotation-only` it takes only the annotation's names, and
//! keeps a name only if a listener the route is attached to allows it (a listener without a
//! host name allows any). An origin or certificate that the Terraform takes as an input
//! variable is the operator's to give, and not proven.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Block, Finding, Object};
use crate::diag::Code;
use crate::ir::naming::EXTERNAL_DNS_HOSTNAME;

/// external-dns's annotation choosing where a route's names come from.
const GATEWAY_SOURCE: &str = "external-dns.alpha.kubernetes.io/gateway-hostname-source";
const INGRESS_SOURCE: &str = "external-dns.alpha.kubernetes.io/ingress-hostname-source";

/// P020 `unreachable-cdn-origin`: a CloudFront distribution whose origin is a name that no
/// route of the output has external-dns point at the cluster (or that no external-dns
/// release is there to point), or whose certificate, made by the output, leaves one of its
/// host names uncovered.
///
/// Why: the distribution is created either way; CloudFront then answers every request with
/// a 502 because the origin does not resolve, or CloudFront refuses the alias the
/// certificate does not cover, and the apply fails after the plan was reviewed.
///
/// Example: the origin `origin-production.codepal.com` in an output whose routes lost their
/// external-dns annotation.
pub(super) fn unreachable_cdn_origins(objects: &[Object], tf: &[Block], out: &mut Vec<Finding>) {
    let distributions = tf.iter().filter(|b| {
        b.ident == "resource"
            && b.labels
                .first()
                .is_some_and(|l| l == "aws_cloudfront_distribution")
    });
    let external_dns = tf.iter().any(|b| {
        b.ident == "resource"
            && b.labels.first().is_some_and(|l| l == "helm_release")
            && b.body.get("chart").and_then(Value::as_str) == Some("external-dns")
    });
    let published = published_names(objects);
    for d in distributions {
        let address = d.address();
        for origin in blocks(d.body.get("origin")) {
            let Some(domain) = origin.get("domain_name").and_then(Value::as_str) else {
                continue;
            };
            if domain.contains("${") {
                // An input variable: the operator's to give.
                continue;
            }
            if !external_dns || !published.contains(domain) {
                let why = if external_dns {
                    "no route of the output has external-dns publish it"
                } else {
                    "no external-dns release publishes it"
                };
                out.push(Finding::env(
                    Code::UnreachableCdnOrigin,
                    format!("`{address}` reaches its origin at `{domain}`, but {why}"),
                    "annotate a route on the Gateway's HTTP listener with `external-dns.alpha.kubernetes.io/hostname` for the origin (this is a bug in plinth, which does so)",
                ));
            }
        }
        let aliases = strings(d.body.get("aliases"));
        let Some(names) = certificate_names(d, tf) else {
            continue;
        };
        for alias in aliases.iter().filter(|a| !covers(&names, a)) {
            out.push(Finding::env(
                Code::UnreachableCdnOrigin,
                format!("`{address}` serves `{alias}`, which its certificate does not cover"),
                "give the ACM certificate every host name of the distribution (this is a bug in plinth)",
            ));
        }
    }
}

/// The names external-dns publishes from the output's routes: for an `HTTPRoute`, the names
/// its attached listeners allow; for an `Ingress`, every name.
fn published_names(objects: &[Object]) -> BTreeSet<String> {
    let listeners = |gateway: &str,
                     namespace: &str,
                     section: Option<&str>|
     -> Vec<Option<String>> {
        objects
            .iter()
            .filter(|o| o.kind == "Gateway" && o.name == gateway && o.namespace == namespace)
            .flat_map(|o| blocks(o.doc.pointer("/spec/listeners")))
            .filter(|l| section.is_none_or(|s| l.get("name").and_then(Value::as_str) == Some(s)))
            .map(|l| l.get("hostname").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let mut names = BTreeSet::new();
    for o in objects {
        let annotation = |k: &str| {
            o.doc
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        let annotated: Vec<String> = annotation(EXTERNAL_DNS_HOSTNAME)
            .into_iter()
            .flat_map(|h| h.split(','))
            .map(|h| h.trim().trim_end_matches('.').to_owned())
            .filter(|h| !h.is_empty())
            .collect();
        match o.kind.as_str() {
            "Ingress" => {
                names.extend(annotated);
                if annotation(INGRESS_SOURCE) != Some("annotation-only") {
                    let rules = blocks(o.doc.pointer("/spec/rules"));
                    names.extend(
                        rules
                            .iter()
                            .filter_map(|r| r.get("host").and_then(Value::as_str))
                            .map(str::to_owned),
                    );
                }
            }
            "HTTPRoute" => {
                let mut hosts = annotated;
                if annotation(GATEWAY_SOURCE) != Some("annotation-only") {
                    hosts.extend(strings(o.doc.pointer("/spec/hostnames")));
                }
                for parent in blocks(o.doc.pointer("/spec/parentRefs")) {
                    let Some(gateway) = parent.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let namespace = parent
                        .get("namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(&o.namespace);
                    let section = parent.get("sectionName").and_then(Value::as_str);
                    for allowed in listeners(gateway, namespace, section) {
                        names.extend(
                            hosts
                                .iter()
                                .filter(|h| allowed.as_deref().is_none_or(|a| covers_one(a, h)))
                                .cloned(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    names
}

/// The names of the ACM certificate a distribution's viewer certificate comes from, through
/// its validation; `None` when it is an input, or not a certificate of the output.
fn certificate_names(distribution: &Block, tf: &[Block]) -> Option<Vec<String>> {
    let arn = blocks(distribution.body.get("viewer_certificate"))
        .first()
        .and_then(|v| v.get("acm_certificate_arn"))
        .and_then(Value::as_str)?
        .to_owned();
    let validation = arn
        .strip_prefix("${aws_acm_certificate_validation.")?
        .strip_suffix(".certificate_arn}")?;
    let certificate_arn = resource(tf, "aws_acm_certificate_validation", validation)?
        .get("certificate_arn")
        .and_then(Value::as_str)?;
    let certificate = certificate_arn
        .strip_prefix("${aws_acm_certificate.")?
        .strip_suffix(".arn}")?;
    let body = resource(tf, "aws_acm_certificate", certificate)?;
    let mut names = strings(
        body.get("domain_name")
            .map(|d| Value::Array(vec![d.clone()]))
            .as_ref(),
    );
    names.extend(strings(body.get("subject_alternative_names")));
    Some(names)
}

/// The body of resource `kind.name` of `tf`.
fn resource<'a>(tf: &'a [Block], kind: &str, name: &str) -> Option<&'a Value> {
    tf.iter()
        .find(|b| b.ident == "resource" && b.labels == [kind, name])
        .map(|b| &b.body)
}

/// Whether one of a certificate's `names` covers `host`.
fn covers(names: &[String], host: &str) -> bool {
    names.iter().any(|n| covers_one(n, host))
}

/// Whether a certificate or listener name covers `host`: the same name, or a wildcard one
/// label above it.
fn covers_one(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

/// Nested blocks or list items as a list: hcl-rs gives one block as an object and several
/// as an array.
fn blocks(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other @ Value::Object(_)) => vec![other],
        _ => Vec::new(),
    }
}

/// The strings of a list.
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}
