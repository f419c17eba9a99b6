//! The CDN: a CloudFront distribution of the Terraform reaches the cluster at a name that
//! something in the output points there, and serves its hosts with a certificate of the
//! output that covers every one of them.
//!
//! The origin's name is a literal of the Terraform; what points it at the load balancer is
//! external-dns, from the hostname annotation of a route in the Kubernetes output. So this
//! family reads both targets and models what external-dns v0.21 does with a route: with
//! `gateway-hostname-source: annotation-only` it takes only the annotation's names, and
//! keeps a name only if a listener the route is attached to allows it (a listener without a
//! host name allows any). With the Helm target built, it also reads external-dns's values:
//! only the route kinds of its `sources` and the routes its `annotationFilter` selects
//! count, and the origin must lie within its `domainFilters`. An origin or certificate that
//! the Terraform takes as an input variable is the operator's to give, and not proven.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{strings, Block, ExternalDnsValues, Finding, Object};
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
pub(super) fn unreachable_cdn_origins(
    objects: &[Object],
    tf: &[Block],
    values: Option<&ExternalDnsValues>,
    out: &mut Vec<Finding>,
) {
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
    let published = published_names(objects, values);
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
            let filtered = values.is_some_and(|v| {
                !v.domain_filters.is_empty()
                    && !v
                        .domain_filters
                        .iter()
                        .any(|f| domain == f || domain.ends_with(&format!(".{f}")))
            });
            if !external_dns || filtered || !published.contains(domain) {
                let why = if !external_dns {
                    "no external-dns release publishes it"
                } else if filtered {
                    "external-dns may not change its domain (`domainFilters`)"
                } else {
                    "no route of the output has external-dns publish it"
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
/// its attached listeners allow; for an `Ingress`, every name. With its values known, only
/// from the kinds its `sources` read and the resources its `annotationFilter` selects.
fn published_names(objects: &[Object], values: Option<&ExternalDnsValues>) -> BTreeSet<String> {
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
        let source = match o.kind.as_str() {
            "Ingress" => "ingress",
            "HTTPRoute" => "gateway-httproute",
            _ => continue,
        };
        if let Some(v) = values {
            let annotations = crate::proof::string_map(o.doc.pointer("/metadata/annotations"));
            let selected = v
                .annotation_filter
                .as_deref()
                .filter(|f| !f.trim().is_empty())
                .is_none_or(|f| selector_matches(f, &annotations));
            if !v.sources.iter().any(|s| s == source) || !selected {
                continue;
            }
        }
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

/// Whether a Kubernetes label selector (external-dns's `annotationFilter`, applied to
/// annotations) selects `labels`: comma-separated requirements `k=v`, `k==v`, `k!=v`,
/// `k in (a,b)`, `k notin (a,b)`, `k` and `!k`, all of which must hold. A requirement it
/// cannot read selects nothing, so a malformed filter is a finding rather than a pass.
fn selector_matches(selector: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let mut requirements = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                requirements.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    requirements.push(&selector[start..]);
    requirements.iter().map(|r| r.trim()).all(|r| {
        let set = |list: &str| -> Option<Vec<String>> {
            let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
            Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
        };
        if let Some((k, v)) = r.split_once("!=") {
            labels.get(k.trim()).map(String::as_str) != Some(v.trim())
        } else if let Some((k, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
            labels.get(k.trim()).map(String::as_str) == Some(v.trim())
        } else if let Some((k, list)) = r.split_once(" notin") {
            set(list).is_some_and(|vs| labels.get(k.trim()).is_none_or(|v| !vs.contains(v)))
        } else if let Some((k, list)) = r.split_once(" in") {
            set(list).is_some_and(|vs| labels.get(k.trim()).is_some_and(|v| vs.contains(v)))
        } else if let Some(k) = r.strip_prefix('!') {
            !labels.contains_key(k.trim())
        } else {
            !r.is_empty() && !r.contains(char::is_whitespace) && labels.contains_key(r)
        }
    })
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

#[cfg(test)]
mod tests {
    use super::selector_matches;
    use std::collections::BTreeMap;

    #[test]
    fn annotation_filters_read_as_label_selectors() {
        let labels = BTreeMap::from([
            ("a".to_owned(), "x".to_owned()),
            ("b".to_owned(), "y".to_owned()),
        ]);
        for (selector, want) in [
            ("a=x", true),
            ("a==x", true),
            ("a=y", false),
            ("a!=y", true),
            ("a in (x, z)", true),
            ("a notin (x)", false),
            ("c notin (x)", true),
            ("a,b=y", true),
            ("a, !c", true),
            ("!a", false),
            ("a=x,b in (z)", false),
            ("a in x", false),
            ("a in(x)", true),
            ("a notin(y)", true),
        ] {
            assert_eq!(selector_matches(selector, &labels), want, "{selector}");
        }
    }
}
