//! `dns.tf` for a zone served by Cloudflare (`dns.provider = "cloudflare"`): the zone, looked
//! up by name and never created; one `cloudflare_dns_record` per value of each listed record;
//! DNSSEC; and, with the proxy, its cache rules and Cloudflare's managed WAF ruleset, each a
//! zone entrypoint `cloudflare_ruleset`. The route hosts' records are external-dns's, proxied
//! when the spec asks ([`crate::emit::addons`]). The provider authenticates with the spec's
//! API token, read at apply time from AWS Secrets Manager through an ephemeral resource, so
//! the token is in no file, plan or state.
//!
//! Pinned to the `cloudflare/cloudflare` provider v5 (its `cloudflare_dns_record`,
//! `cloudflare_ruleset` with `rules` as an attribute list, the `cloudflare_zone` data source
//! with a `filter`, `cloudflare_zone_dnssec`), read at tag v5.22.0.

use std::collections::BTreeMap;

use hcl::expr::{Expression, TraversalOperator};
use hcl::Block;

use super::{a, block, call, obj, r, s, Item};
use crate::ir::{self, naming, CacheRule, Dns, DnsProxy};

/// The provider's version constraint: the v5 series.
pub(super) const CLOUDFLARE_PROVIDER: &str = "~> 5.22";

/// The Terraform label of the zone's data source.
const ZONE: &str = "main";

/// The Cloudflare Managed Ruleset's id, which a zone executes in its managed firewall phase
/// (Pro plan and higher).
const MANAGED_RULESET: &str = "efb7b8c949ac4650a09736fc376e9aee";

/// Longest character-string of a TXT record (RFC 1035).
const TXT_CHUNK: usize = 255;

/// The ephemeral read of the API token and the `cloudflare` provider it configures, for
/// `providers.tf`: the token is the spec's secret reference, `<platform>/<env>/<secret>` in
/// AWS Secrets Manager, key `<key>` of its JSON.
pub(super) fn provider(token: &ir::SecretRef, platform: &str, env: &str) -> Vec<Block> {
    let value = Expression::from(hcl::expr::Traversal::new(
        call(
            "jsondecode",
            [r(
                "ephemeral.aws_secretsmanager_secret_version.cloudflare_api_token.secret_string",
            )],
        ),
        [TraversalOperator::Index(s(&token.key))],
    ));
    vec![
        block(
            "ephemeral",
            ["aws_secretsmanager_secret_version", "cloudflare_api_token"],
            [a(
                "secret_id",
                s(naming::cloud_secret_name(platform, env, &token.secret)),
            )],
        ),
        block("provider", ["cloudflare"], [a("api_token", value)]),
    ]
}

/// The blocks of `dns.tf` for a Cloudflare zone (health checks aside, which Route 53 runs
/// whatever serves the zone).
pub(super) fn zone(dns: &Dns, proxy: Option<&DnsProxy>, name: &str) -> Vec<Block> {
    let zone_id = || r(&format!("data.cloudflare_zone.{ZONE}.zone_id"));
    let mut blocks = vec![block(
        "data",
        ["cloudflare_zone", ZONE],
        [a("filter", obj([("name", s(&dns.zone))]))],
    )];
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for record in &dns.records {
        let base = super::dns::label(&record.name, &dns.zone, record.kind);
        // Cloudflare keeps one record per value, where Route 53 keeps a set.
        for value in &record.values {
            let label = super::dns::unique(base.clone(), &mut used);
            // A proxied record's TTL is Cloudflare's own ("automatic", 1).
            let ttl = if record.proxied {
                1
            } else {
                record.ttl_seconds
            };
            let mut body: Vec<Item> = vec![
                a("zone_id", zone_id()),
                a("name", s(&record.name)),
                a("type", s(record.kind)),
                a("ttl", ttl),
            ];
            if record.proxied {
                body.push(a("proxied", true));
            }
            body.extend(content(record.kind, value));
            blocks.push(block("resource", ["cloudflare_dns_record", &label], body));
        }
    }
    if dns.dnssec {
        blocks.push(block(
            "resource",
            ["cloudflare_zone_dnssec", ZONE],
            [a("zone_id", zone_id()), a("status", s("active"))],
        ));
    }
    if let Some(proxy) = proxy {
        if !proxy.cache.is_empty() {
            blocks.push(block(
                "resource",
                ["cloudflare_ruleset", "cache"],
                [
                    a("zone_id", zone_id()),
                    a("name", s(format!("{name} cache rules"))),
                    a("kind", s("zone")),
                    a("phase", s("http_request_cache_settings")),
                    a(
                        "rules",
                        Expression::Array(proxy.cache.iter().map(cache_rule).collect()),
                    ),
                ],
            ));
        }
        blocks.extend(proxy_settings());
        if let Some(host) = &proxy.assets {
            blocks.extend(assets(host, name));
        }
        if proxy.waf {
            blocks.push(block(
                "resource",
                ["cloudflare_ruleset", "waf"],
                [
                    a("zone_id", zone_id()),
                    a("name", s(format!("{name} managed WAF"))),
                    a("kind", s("zone")),
                    a("phase", s("http_request_firewall_managed")),
                    a(
                        "rules",
                        Expression::Array(vec![obj([
                            ("description", s("Cloudflare Managed Ruleset")),
                            ("expression", s("true")),
                            ("action", s("execute")),
                            ("action_parameters", obj([("id", s(MANAGED_RULESET))])),
                        ])]),
                    ),
                ],
            ));
        }
    }
    blocks
}

/// The zone settings the proxy needs: SSL/TLS mode Full (strict), so Cloudflare reaches the
/// gateway over HTTPS and checks its certificate (on Flexible it would use plain HTTP, whose
/// redirect to HTTPS then loops), and TLS 1.2 or later from visitors.
///
/// Why not "Always Use HTTPS": it would redirect Let's Encrypt's HTTP-01 request to HTTPS,
/// which the gateway cannot answer for a host before its first certificate; the gateway
/// redirects plain HTTP itself, past the challenge path.
fn proxy_settings() -> Vec<Block> {
    let zone_id = || r(&format!("data.cloudflare_zone.{ZONE}.zone_id"));
    [("ssl", "strict"), ("min_tls_version", "1.2")]
        .into_iter()
        .map(|(setting, value)| {
            block(
                "resource",
                ["cloudflare_zone_setting", setting],
                [
                    a("zone_id", zone_id()),
                    a("setting_id", s(setting)),
                    a("value", s(value)),
                ],
            )
        })
        .collect()
}

/// The R2 bucket for static assets, `<platform>-<env>-assets` in the zone's account, and
/// its custom domain `host`, through which Cloudflare's CDN serves it (Cloudflare makes the
/// host's proxied record itself) over TLS 1.2 or later.
///
/// Why a custom domain rather than the bucket's `r2.dev` address: Cloudflare rate-limits
/// `r2.dev` and serves it without its cache, WAF or cache rules, which a custom domain of
/// the zone gets like any other host.
fn assets(host: &str, name: &str) -> Vec<Block> {
    let account = || r(&format!("data.cloudflare_zone.{ZONE}.account.id"));
    vec![
        block(
            "resource",
            ["cloudflare_r2_bucket", "assets"],
            [
                a("account_id", account()),
                a("name", s(naming::assets_bucket(name))),
            ],
        ),
        block(
            "resource",
            ["cloudflare_r2_custom_domain", "assets"],
            [
                a("account_id", account()),
                a("bucket_name", r("cloudflare_r2_bucket.assets.name")),
                a("domain", s(host)),
                a("enabled", true),
                a(
                    "zone_id",
                    r(&format!("data.cloudflare_zone.{ZONE}.zone_id")),
                ),
                a("min_tls", s("1.2")),
            ],
        ),
    ]
}

/// The outputs of the assets bucket: its name, for the build that uploads into it, and the
/// URL the application serves its assets from.
pub(super) fn assets_outputs(host: &str) -> Vec<Block> {
    vec![
        block(
            "output",
            ["assets_bucket"],
            [
                a(
                    "description",
                    s("R2 bucket the build uploads static assets into (an R2 API token of the account writes it)"),
                ),
                a("value", r("cloudflare_r2_bucket.assets.name")),
            ],
        ),
        block(
            "output",
            ["assets_url"],
            [
                a("description", s("Base URL of the static assets, behind Cloudflare's CDN")),
                a("value", s(format!("https://{host}"))),
            ],
        ),
    ]
}

/// The DS record output of a signed Cloudflare zone.
pub(super) fn ds_output(dns: &Dns) -> Block {
    block(
        "output",
        ["dnssec_ds_record"],
        [
            a(
                "description",
                s(format!(
                    "DS record of {}: add it at the domain's registrar (the parent zone); Cloudflare reports the zone's DNSSEC as pending until it is there",
                    dns.zone
                )),
            ),
            a("value", r(&format!("cloudflare_zone_dnssec.{ZONE}.ds"))),
        ],
    )
}

/// A record's data as Cloudflare takes it: `content` for most types, MX's host with its
/// `priority`, CAA's and SRV's fields in `data`, TXT quoted (split into character-strings of
/// at most 255 characters, which Cloudflare expects quoted and separated by spaces).
fn content(kind: &str, value: &str) -> Vec<Item> {
    // Cloudflare stores host names without the final dot, and the provider does not
    // normalise it, so a written dot would show as a change on every plan.
    let host = |h: &str| h.trim_end_matches('.').to_owned();
    let parts: Vec<&str> = value.split_whitespace().collect();
    let number = |i: usize| {
        parts
            .get(i)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match kind {
        "MX" => vec![
            a("priority", number(0)),
            a(
                "content",
                s(host(parts.get(1).copied().unwrap_or_default())),
            ),
        ],
        "CAA" => {
            let rest: Vec<&str> = value.trim().splitn(3, ' ').collect();
            let text = rest.get(2).copied().unwrap_or_default().trim_matches('"');
            vec![a(
                "data",
                obj([
                    ("flags", Expression::from(number(0))),
                    ("tag", s(rest.get(1).copied().unwrap_or_default())),
                    ("value", s(text)),
                ]),
            )]
        }
        "SRV" => vec![
            a("priority", number(0)),
            a(
                "data",
                obj([
                    ("priority", Expression::from(number(0))),
                    ("weight", Expression::from(number(1))),
                    ("port", Expression::from(number(2))),
                    ("target", s(host(parts.get(3).copied().unwrap_or_default()))),
                ]),
            ),
        ],
        "TXT" => vec![a("content", s(txt(value)))],
        "CNAME" | "NS" => vec![a("content", s(host(value.trim())))],
        _ => vec![a("content", s(value.trim()))],
    }
}

/// A TXT value as Cloudflare takes it: each character-string quoted, separated by spaces.
fn txt(value: &str) -> String {
    // The checker admits printable ASCII without quotes, so every character is one byte.
    value
        .as_bytes()
        .chunks(TXT_CHUNK)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One cache rule: requests whose path matches `path` (Cloudflare's `wildcard` operator,
/// where `*` is any characters) are cached, for the edge TTL whatever the origin says, and
/// with the browser TTL in what browsers receive, when the rule sets them.
fn cache_rule(rule: &CacheRule) -> Expression {
    let mut parameters = vec![("cache", Expression::from(true))];
    if let Some(ttl) = rule.edge_ttl_seconds {
        parameters.push((
            "edge_ttl",
            obj([
                ("mode", s("override_origin")),
                ("default", Expression::from(ttl)),
            ]),
        ));
    }
    if let Some(ttl) = rule.browser_ttl_seconds {
        parameters.push((
            "browser_ttl",
            obj([
                ("mode", s("override_origin")),
                ("default", Expression::from(ttl)),
            ]),
        ));
    }
    // The checker admits no quote or backslash in a path and only a host name as the host,
    // so neither can end a rules-language string.
    let path = format!("http.request.uri.path wildcard \"{}\"", rule.path);
    let (description, expression) = match &rule.host {
        Some(host) => (
            format!("cache {host}{}", rule.path),
            format!("http.host eq \"{host}\" and {path}"),
        ),
        None => (format!("cache {}", rule.path), path),
    };
    obj([
        ("description", s(description)),
        ("expression", s(expression)),
        ("action", s("set_cache_settings")),
        ("action_parameters", obj(parameters)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_data_follows_the_type() {
        // The items inside a block, as hcl-rs writes it.
        let text =
            |items: Vec<Item>| hcl::to_string(&super::super::doc([block("r", [], items)])).unwrap();
        let mx = text(content("MX", "10 mail.example.com"));
        assert!(mx.contains("priority = 10"), "{mx}");
        assert!(mx.contains("content = \"mail.example.com\""), "{mx}");
        let caa = text(content("CAA", "0 issue \"letsencrypt.org\""));
        assert!(caa.contains("tag = \"issue\""), "{caa}");
        assert!(caa.contains("value = \"letsencrypt.org\""), "{caa}");
        let cname = text(content("CNAME", "example.github.io."));
        assert!(cname.contains("content = \"example.github.io\""), "{cname}");
        let srv = text(content("SRV", "10 5 5060 sip.example.com."));
        assert!(srv.contains("port = 5060"), "{srv}");
        assert!(srv.contains("target = \"sip.example.com\""), "{srv}");
    }

    #[test]
    fn txt_values_are_quoted_character_strings() {
        assert_eq!(txt("v=spf1 -all"), "\"v=spf1 -all\"");
        let long = "k".repeat(300);
        assert_eq!(
            txt(&long),
            format!("\"{}\" \"{}\"", "k".repeat(255), "k".repeat(45))
        );
    }
}
