//! The parts of `cdn.tf` that put CloudFront in front of a Route 53 zone's route hosts
//! ([`crate::ir::Environment::cdn_origin`]): the distribution's ACM certificate, validated
//! through records in the zone; the hosts' alias records, pointing at the distribution; and
//! the plain-HTTP path cert-manager's HTTP-01 challenges need through it. Also the
//! behaviours and policies of the spec's cache rules (`cloud.cdn.cache`), whatever serves
//! the zone.
//!
//! The origin is `origin-<env>.<zone>`, a name external-dns points at the load balancer
//! from the routes' annotations ([`crate::emit::gateway::origin_annotations`]), so nothing
//! here waits for the cluster: the distribution is created with a name that resolves once
//! the edge is up. CloudFront forwards the viewer's `Host` header (the managed AllViewer
//! policy) and then uses it as the TLS server name towards the origin, so the Gateway's
//! listener for each host, with its cert-manager certificate, answers as it does without a
//! CDN.

use hcl::expr::{Expression, ForExpr};
use hcl::{Block, Identifier};

use super::{a, b, block, call, r, s, strings, Item};
use crate::ir::CacheRule;

/// The origin id of the plain-HTTP origin that serves ACME challenges.
const ACME_ORIGIN: &str = "ingress-http";

/// The path Let's Encrypt asks HTTP-01 challenges on.
const ACME_PATH: &str = "/.well-known/acme-challenge/*";

/// The Terraform address of the zone the hosts live in ([`super::dns`]'s data source).
fn zone_id() -> Expression {
    r(&format!(
        "data.aws_route53_zone.{}.zone_id",
        super::dns::ZONE
    ))
}

/// The distribution's certificate in us-east-1 (where CloudFront reads certificates), for
/// every host it serves, validated through DNS records Terraform writes into the zone, and
/// the wait for that validation, whose ARN the distribution uses: so the distribution is
/// created only with an issued certificate.
///
/// Why `create_before_destroy`: a certificate in use cannot be deleted, and a changed host
/// list replaces it; the new one must exist before the distribution moves to it.
pub(super) fn certificate(hosts: &[String]) -> Vec<Block> {
    let east = || a("provider", r(super::dns::US_EAST_1));
    let mut cert = vec![east()];
    // The first host short enough to be the certificate's common name (ACM takes at most
    // 64 characters there, and up to 253 in the other names).
    let common = hosts.iter().position(|h| h.len() <= 64).unwrap_or(0);
    if let Some(first) = hosts.get(common) {
        cert.push(a("domain_name", s(first)));
        let rest: Vec<&String> = hosts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != common)
            .map(|(_, h)| h)
            .collect();
        if !rest.is_empty() {
            cert.push(a("subject_alternative_names", strings(rest)));
        }
    }
    cert.push(a("validation_method", s("DNS")));
    cert.push(b(block(
        "lifecycle",
        [],
        [a("create_before_destroy", true)],
    )));
    // One validation record per name ACM asks for; two names may share one record
    // (a host and its wildcard), which `allow_overwrite` tolerates.
    let options = Expression::from(
        ForExpr::new(
            Identifier::unchecked("o"),
            r("aws_acm_certificate.cdn.domain_validation_options"),
            r("o"),
        )
        .with_key_expr(r("o.domain_name")),
    );
    let fqdns = Expression::from(ForExpr::new(
        Identifier::unchecked("record"),
        r("aws_route53_record.cdn_validation"),
        r("record.fqdn"),
    ));
    vec![
        block("resource", ["aws_acm_certificate", "cdn"], cert),
        block(
            "resource",
            ["aws_route53_record", "cdn_validation"],
            [
                a("for_each", options),
                a("zone_id", zone_id()),
                a("name", r("each.value.resource_record_name")),
                a("type", r("each.value.resource_record_type")),
                a(
                    "records",
                    Expression::Array(vec![r("each.value.resource_record_value")]),
                ),
                a("ttl", 60),
                a("allow_overwrite", true),
            ],
        ),
        block(
            "resource",
            ["aws_acm_certificate_validation", "cdn"],
            [
                east(),
                a("certificate_arn", r("aws_acm_certificate.cdn.arn")),
                a("validation_record_fqdns", fqdns),
            ],
        ),
    ]
}

/// An IPv4 and an IPv6 alias record per host, pointing at the distribution. Terraform owns
/// these names; the routes' annotations keep external-dns off them.
pub(super) fn alias_records(hosts: &[String]) -> Vec<Block> {
    [("cdn_ipv4", "A"), ("cdn_ipv6", "AAAA")]
        .into_iter()
        .map(|(label, kind)| {
            block(
                "resource",
                ["aws_route53_record", label],
                [
                    a("for_each", call("toset", [strings(hosts)])),
                    a("zone_id", zone_id()),
                    a("name", r("each.value")),
                    a("type", s(kind)),
                    b(block(
                        "alias",
                        [],
                        [
                            a("name", r("aws_cloudfront_distribution.cdn.domain_name")),
                            a(
                                "zone_id",
                                r("aws_cloudfront_distribution.cdn.hosted_zone_id"),
                            ),
                            a("evaluate_target_health", false),
                        ],
                    )),
                ],
            )
        })
        .collect()
}

/// The origin of ACME challenges: the same name as the main origin, over plain HTTP, where
/// the Gateway's HTTP listener serves cert-manager's solver routes.
pub(super) fn acme_origin(domain: &str) -> Block {
    block(
        "origin",
        [],
        [
            a("origin_id", s(ACME_ORIGIN)),
            a("domain_name", s(domain)),
            b(block(
                "custom_origin_config",
                [],
                [
                    a("http_port", 80),
                    a("https_port", 443),
                    a("origin_protocol_policy", s("http-only")),
                    a("origin_ssl_protocols", strings(["TLSv1.2"])),
                ],
            )),
        ],
    )
}

/// The cache behaviour that passes HTTP-01 challenges through over plain HTTP, uncached.
///
/// Why: Let's Encrypt asks for the challenge over HTTP; the default behaviour would
/// redirect it to HTTPS and fetch it from the origin over HTTPS, where the host has no
/// certificate yet, the very thing being issued: the first issuance could never succeed.
pub(super) fn acme_behaviour() -> Block {
    block(
        "ordered_cache_behavior",
        [],
        [
            a("path_pattern", s(ACME_PATH)),
            a("target_origin_id", s(ACME_ORIGIN)),
            a("viewer_protocol_policy", s("allow-all")),
            a("allowed_methods", strings(["GET", "HEAD"])),
            a("cached_methods", strings(["GET", "HEAD"])),
            a(
                "cache_policy_id",
                r("data.aws_cloudfront_cache_policy.caching_disabled.id"),
            ),
            a(
                "origin_request_policy_id",
                r("data.aws_cloudfront_origin_request_policy.all_viewer.id"),
            ),
        ],
    )
}

/// CloudFront's managed policy that caches nothing, for [`acme_behaviour`].
pub(super) fn caching_disabled() -> Block {
    block(
        "data",
        ["aws_cloudfront_cache_policy", "caching_disabled"],
        [a("name", s("Managed-CachingDisabled"))],
    )
}

/// The label of cache rule `i`'s policies (`cdn_rule_1`…).
fn rule_label(i: usize) -> String {
    format!("cdn_rule_{}", i + 1)
}

/// The policies of the spec's cache rules (`cloud.cdn.cache`): per rule with an edge TTL, a
/// cache policy that keeps a matching response exactly that long (minimum, default and
/// maximum TTL alike, so the origin's `Cache-Control` cannot shorten it), keyed by host and
/// query string but not by cookies or `Authorization`; per rule with a browser TTL, a
/// response headers policy that sets `Cache-Control: public, max-age=<ttl>` over the
/// origin's, with the security headers of the managed policy the default behaviour uses.
/// `name` is `<platform>-<env>`, which names the policies (unique in the account) and their
/// comments (at most 128 characters, so the path is not in them).
///
/// Why not key by cookies as the default policy does: a rule says the path is the same for
/// everyone (static assets, public pages), and a key per session would never hit.
pub(super) fn rule_policies(name: &str, rules: &[CacheRule]) -> Vec<Block> {
    let mut blocks = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let label = rule_label(i);
        if let Some(ttl) = rule.edge_ttl_seconds {
            blocks.push(block(
                "resource",
                ["aws_cloudfront_cache_policy", &label],
                [
                    a("name", s(format!("{name}-rule-{}", i + 1))),
                    a("comment", s(format!("{name} cache rule {}", i + 1))),
                    a("min_ttl", ttl),
                    a("default_ttl", ttl),
                    a("max_ttl", ttl),
                    b(cache_key("none", &["Host"])),
                ],
            ));
        }
        if let Some(ttl) = rule.browser_ttl_seconds {
            blocks.push(block(
                "resource",
                ["aws_cloudfront_response_headers_policy", &label],
                [
                    a("name", s(format!("{name}-rule-{}", i + 1))),
                    a("comment", s(format!("{name} cache rule {}", i + 1))),
                    b(block(
                        "custom_headers_config",
                        [],
                        [b(block(
                            "items",
                            [],
                            [
                                a("header", s("Cache-Control")),
                                a("value", s(format!("public, max-age={ttl}"))),
                                a("override", true),
                            ],
                        ))],
                    )),
                    b(security_headers()),
                ],
            ));
        }
    }
    blocks
}

/// The security headers of CloudFront's `Managed-SecurityHeadersPolicy`, which a rule's own
/// response headers policy replaces on its paths: a behaviour has one policy.
fn security_headers() -> Block {
    block(
        "security_headers_config",
        [],
        [
            b(block("content_type_options", [], [a("override", true)])),
            b(block(
                "frame_options",
                [],
                [a("frame_option", s("SAMEORIGIN")), a("override", false)],
            )),
            b(block(
                "referrer_policy",
                [],
                [
                    a("referrer_policy", s("strict-origin-when-cross-origin")),
                    a("override", false),
                ],
            )),
            b(block(
                "strict_transport_security",
                [],
                [
                    a("access_control_max_age_sec", 31_536_000),
                    a("override", false),
                ],
            )),
            b(block(
                "xss_protection",
                [],
                [
                    a("mode_block", true),
                    a("protection", true),
                    a("override", false),
                ],
            )),
        ],
    )
}

/// The cache behaviour of each rule, in the spec's order (CloudFront applies the first
/// behaviour whose path pattern matches). A rule without an edge TTL keeps the default
/// policy, and one without a browser TTL the managed security headers.
pub(super) fn rule_behaviours(origin: &str, rules: &[CacheRule]) -> Vec<Block> {
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let label = rule_label(i);
            let cache = match rule.edge_ttl_seconds {
                Some(_) => format!("aws_cloudfront_cache_policy.{label}.id"),
                None => "aws_cloudfront_cache_policy.cdn.id".to_owned(),
            };
            let headers = match rule.browser_ttl_seconds {
                Some(_) => format!("aws_cloudfront_response_headers_policy.{label}.id"),
                None => {
                    "data.aws_cloudfront_response_headers_policy.security_headers.id".to_owned()
                }
            };
            let mut body = vec![a("path_pattern", s(&rule.path))];
            body.extend(behaviour(origin, &cache, &headers));
            block("ordered_cache_behavior", [], body)
        })
        .collect()
}

/// The body of a cache behaviour that serves every method from `origin` over HTTPS only
/// (plain HTTP redirected), compressed, with the cache policy `cache`, the managed AllViewer
/// origin request policy (the viewer's `Host` included) and the response headers policy
/// `headers` (Terraform addresses of their ids). The default behaviour and each rule's.
pub(super) fn behaviour(origin: &str, cache: &str, headers: &str) -> Vec<Item> {
    vec![
        a("target_origin_id", s(origin)),
        a("viewer_protocol_policy", s("redirect-to-https")),
        a(
            "allowed_methods",
            strings(["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]),
        ),
        a("cached_methods", strings(["GET", "HEAD"])),
        a("compress", true),
        a("cache_policy_id", r(cache)),
        a(
            "origin_request_policy_id",
            r("data.aws_cloudfront_origin_request_policy.all_viewer.id"),
        ),
        a("response_headers_policy_id", r(headers)),
    ]
}

/// A cache policy's key: compressed variants, every query string, the cookies as `cookies`
/// says (`all` or `none`) and the request headers `headers`.
pub(super) fn cache_key(cookies: &str, headers: &[&str]) -> Block {
    block(
        "parameters_in_cache_key_and_forwarded_to_origin",
        [],
        [
            a("enable_accept_encoding_brotli", true),
            a("enable_accept_encoding_gzip", true),
            b(block(
                "cookies_config",
                [],
                [a("cookie_behavior", s(cookies))],
            )),
            b(block(
                "headers_config",
                [],
                [
                    a("header_behavior", s("whitelist")),
                    b(block("headers", [], [a("items", strings(headers))])),
                ],
            )),
            b(block(
                "query_strings_config",
                [],
                [a("query_string_behavior", s("all"))],
            )),
        ],
    )
}
