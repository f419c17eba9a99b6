//! An environment's public DNS (`[environments.NAME.dns]`): its zone, and the records the
//! spec lists besides the route hosts. Route 53 rejects a malformed record only when
//! Terraform applies it, after the plan was reviewed; a record for a route host would fight
//! with external-dns, which owns those; so both are caught here.

use std::collections::BTreeMap;

use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::ir::naming;
use crate::spec::{Dns, DnsRecord, HealthChecks, RecordType, Sp};
use crate::units;

/// Longest TTL accepted: a week. Route 53 takes more, but a record that resolvers may cache
/// for longer cannot be moved in any reasonable time.
const MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// An environment asking for DNSSEC: its name and its `dnssec = true`.
type Signer<'a> = (&'a Sp<String>, &'a Sp<bool>);

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    // Each zone's DNSSEC requests, by the environments that make them.
    let mut signed: BTreeMap<String, Vec<Signer>> = BTreeMap::new();
    // Each Cloudflare zone's proxy rules, by the environments that set them.
    let mut proxied: BTreeMap<String, Vec<(&Sp<String>, crate::source::Span)>> = BTreeMap::new();
    for view in ctx.views {
        let rules = view
            .cloud
            .as_ref()
            .and_then(|c| c.cdn.as_ref())
            .and_then(|c| c.cache.as_ref());
        for rule in rules.into_iter().flatten() {
            super::cdn::cdn_cache_rule(rule, &mut found);
        }
    }
    for view in ctx.views {
        let Some(env_name) = &view.env else { continue };
        let Some(env) = ctx.spec.environments.get(env_name.value.as_str()) else {
            continue;
        };
        let Some(dns) = &env.dns else { continue };
        let cloudflare = dns
            .provider
            .as_ref()
            .is_some_and(|p| p.value == crate::spec::DnsProvider::Cloudflare);
        // Without a cloud only a Cloudflare zone is changed (by a Terraform of its own), and
        // only its zone-level parts: nothing in the cluster is plinth's to install.
        let clusterless = view.cloud.is_none();
        let local = crate::spec::is_local(ctx.spec, Some(env_name));
        if clusterless {
            // The local environment is Docker Compose on a workstation: no zone is its.
            if !cloudflare || local {
                dns_without_cloud(env_name, dns, &mut found);
                continue;
            }
            needs_a_cloud(env_name, dns, &mut found);
        }
        let Some(zone) = &dns.zone else {
            dns_without_zone(env_name, dns, &mut found);
            continue;
        };
        let zone_name = zone.value.trim_end_matches('.').to_ascii_lowercase();
        if !is_host_name(&zone_name) || !zone_name.contains('.') {
            found.push(
                Diagnostic::new(
                    Code::InvalidDnsRecord,
                    format!("`{}` is not a DNS zone name", zone.value),
                    zone.span.clone(),
                    "not a domain name",
                )
                .help("name the hosted zone's domain, e.g. `zone = \"codepal.com\"`"),
            );
            continue;
        }
        let domain = env
            .domain
            .as_ref()
            .or(ctx.spec.platform.domain.as_ref())
            .map(|d| d.value.clone());
        // Route hosts and redirect hosts: external-dns keeps the records of both.
        let hosts: Vec<(String, &Sp<String>)> = view
            .services
            .values()
            .filter_map(|s| s.ingress.as_ref())
            .flat_map(|i| i.host.iter().chain(i.redirect_from.iter().flatten()))
            .filter_map(|h| route_host(h, domain.as_deref()).map(|host| (host, h)))
            .collect();
        // The CDN fronts the route hosts from this zone (`Environment::cdn_origin`).
        let cdn = view
            .cloud
            .as_ref()
            .and_then(|c| c.cdn.as_ref())
            .and_then(|c| c.enabled.as_ref())
            .filter(|e| e.value && !cloudflare && !hosts.is_empty());
        let origin = cdn.map(|_| naming::cdn_origin_host(&env_name.value, &zone_name));
        for (host, written) in &hosts {
            match cdn {
                Some(enabled) => super::cdn::cdn_host_outside_zone(
                    host, written, &zone_name, enabled, &mut found,
                ),
                // Without a cloud no external-dns keeps records: nothing to warn of.
                None if clusterless => {}
                None => route_host_outside_zone(host, written, &zone_name, &mut found),
            }
            if origin.as_deref() == Some(host.as_str()) {
                super::cdn::cdn_origin_taken(host, &written.span, &mut found);
            }
        }
        // What fronts the route hosts over HTTPS: CloudFront, or Cloudflare's proxy, which
        // reaches the origin in Full (strict) mode.
        let front = match (cdn, dns.proxy.as_ref().filter(|_| cloudflare)) {
            (Some(enabled), _) => Some((enabled.span.clone(), "the CDN fronts every route host")),
            (None, Some(_)) => Some((
                zone.span.clone(),
                "Cloudflare's proxy fronts the zone's hosts",
            )),
            _ => None,
        };
        if let Some(front) = &front {
            let plain = view
                .services
                .values()
                .filter_map(|s| s.ingress.as_ref())
                .filter(|i| i.tls.as_ref().is_some_and(|t| !t.value));
            for ingress in plain {
                super::cdn::cdn_host_without_tls(ingress, front, &mut found);
            }
        }
        if let Some(enabled) = cdn {
            let names: std::collections::BTreeSet<&str> =
                hosts.iter().map(|(h, _)| h.as_str()).collect();
            if names.len() > super::cdn::ACM_NAMES {
                super::cdn::cdn_certificate_quota(names.len(), enabled, &mut found);
            }
            if !names.is_empty() && names.iter().all(|h| h.len() > 64) {
                super::cdn::cdn_no_common_name(enabled, &mut found);
            }
        }
        if let Some(checks) = &dns.health_checks {
            invalid_health_check(checks, &mut found);
            let routed = view
                .services
                .values()
                .any(|s| s.ingress.as_ref().is_some_and(|i| i.host.is_some()));
            if !routed {
                health_checks_without_routes(env_name, checks, &mut found);
            }
        }
        if cloudflare {
            if dns.api_token.is_none() && !clusterless {
                cloudflare_without_token(dns.provider.as_ref().unwrap(), &mut found);
            }
            if let Some(proxy) = &dns.proxy {
                let span = proxy
                    .waf
                    .as_ref()
                    .map(|w| w.span.clone())
                    .or_else(|| proxy.cache.first().map(|c| c.path.span.clone()))
                    .unwrap_or_else(|| zone.span.clone());
                proxied
                    .entry(zone_name.clone())
                    .or_default()
                    .push((env_name, span));
            }
            // The names Cloudflare's proxy serves in this environment: the route and
            // redirect hosts, the listed records and the assets bucket's host.
            let served: Vec<String> = hosts
                .iter()
                .map(|(h, _)| h.clone())
                .chain(
                    dns.records
                        .iter()
                        .map(|r| full_record_name(&r.name.value, &zone_name)),
                )
                .chain(
                    dns.proxy
                        .iter()
                        .filter_map(|p| p.assets.as_ref())
                        .filter_map(|a| route_host(&a.host, domain.as_deref())),
                )
                .collect();
            for rule in dns.proxy.iter().flat_map(|p| &p.cache) {
                invalid_cache_rule(rule, &zone_name, domain.as_deref(), &mut found);
                cache_rule_unserved(
                    rule,
                    env_name,
                    &zone_name,
                    domain.as_deref(),
                    &served,
                    &mut found,
                );
            }
            if let Some(assets) = dns.proxy.as_ref().and_then(|p| p.assets.as_ref()) {
                let bucket = naming::assets_bucket(&units::cloud_name(
                    &ctx.spec.platform.name.value,
                    &env_name.value,
                ));
                let listed: Vec<String> = dns
                    .records
                    .iter()
                    .map(|r| full_record_name(&r.name.value, &zone_name))
                    .collect();
                let taken: Vec<&str> = hosts
                    .iter()
                    .map(|(h, _)| h.as_str())
                    .chain(listed.iter().map(String::as_str))
                    .collect();
                invalid_assets(
                    assets,
                    &zone_name,
                    domain.as_deref(),
                    &taken,
                    &bucket,
                    &mut found,
                );
            }
        } else {
            cloudflare_only(dns, &mut found);
        }
        if let Some(certificates) = &dns.certificates {
            if let Some(r) = &certificates.renew_before {
                invalid_renew_before(r, &mut found);
            }
            if let Some(wildcard) = certificates.wildcard.as_ref().filter(|w| w.value) {
                // The edge is Ingresses when `gateway = "ingress"`, or implicitly when an
                // ingress class or namespace is named without a gateway.
                if !ctx.spec.platform.gateway_api(view.cloud.is_some()) {
                    wildcard_without_gateway(wildcard, &mut found);
                }
                let tls_hosts = view
                    .services
                    .values()
                    .filter_map(|s| s.ingress.as_ref())
                    .filter(|i| i.tls.as_ref().is_none_or(|t| t.value))
                    .flat_map(|i| i.host.iter().chain(i.redirect_from.iter().flatten()))
                    .filter_map(|h| route_host(h, domain.as_deref()).map(|host| (host, h)));
                for (host, written) in tls_hosts {
                    wildcard_not_covering(&host, written, &zone_name, wildcard, &mut found);
                }
            }
        }
        if let Some(on) = dns.dnssec.as_ref().filter(|d| d.value) {
            signed
                .entry(zone_name.clone())
                .or_default()
                .push((env_name, on));
        }
        let mut names: BTreeMap<String, Vec<(RecordType, &DnsRecord)>> = BTreeMap::new();
        for record in &dns.records {
            let Some(name) = record_name(record, &zone_name, &mut found) else {
                continue;
            };
            record_values(record, &name, &zone_name, &mut found);
            record_ttl(record, cloudflare, &mut found);
            if let Some(p) = record.proxied.as_ref().filter(|p| p.value) {
                unproxiable_record(record, p, cloudflare, &mut found);
            }
            // Without a cloud, a listed record is how a route host reaches the cluster.
            if let Some((_, route)) = hosts.iter().find(|(h, _)| *h == name && !clusterless) {
                record_on_route_host(record, &name, route, &mut found);
            }
            if origin.as_deref() == Some(name.as_str()) {
                super::cdn::cdn_origin_taken(&name, &record.name.span, &mut found);
            }
            names
                .entry(name)
                .or_default()
                .push((record.kind.value, record));
        }
        for (name, records) in &names {
            clashing_records(name, records, &mut found);
        }
    }
    for (zone, envs) in &signed {
        zone_signed_twice(zone, envs, &mut found);
    }
    for (zone, envs) in &proxied {
        zone_rules_twice(zone, envs, &mut found);
    }
    for d in found {
        ctx.report(d);
    }
}

/// A route host as the lowering writes it: `{domain}` replaced; `None` for one that still
/// holds another placeholder (reported by the placeholder rules).
pub(super) fn route_host(written: &Sp<String>, domain: Option<&str>) -> Option<String> {
    let host = match domain {
        Some(d) => written.value.replace("{domain}", d),
        None => written.value.clone(),
    };
    (!host.contains('{')).then(|| host.to_ascii_lowercase())
}

/// E204 `dns-without-cloud` for the parts of a Cloudflare zone's `dns` that an environment
/// without a cloud cannot carry out: health checks (Route 53's, in an AWS account), DNS-01
/// certificates and `cluster_token` (cert-manager and external-dns, which plinth installs only
/// on a cluster it builds), and `api_token` (a reference into AWS Secrets Manager; its
/// Terraform takes the token as `TF_VAR_cloudflare_api_token` instead).
///
/// Example: `health_checks = { path = "/health" }` in an environment without a cloud.
fn needs_a_cloud(env: &Sp<String>, dns: &Dns, out: &mut Vec<Diagnostic>) {
    // An empty table has no span of its own: the zone's (or the environment's) stands in.
    let fallback = dns.zone.as_ref().map_or(&env.span, |z| &z.span);
    let parts = [
        dns.health_checks.as_ref().map(|h| {
            let span = h.path.as_ref().map(|p| &p.span);
            let span = span.or(h.interval.as_ref().map(|i| &i.span));
            let span = span.or(h.failure_threshold.as_ref().map(|t| &t.span));
            (span.unwrap_or(fallback).clone(), "health_checks")
        }),
        dns.certificates.as_ref().map(|c| {
            let span = c.wildcard.as_ref().map(|w| &w.span);
            let span = span.or(c.renew_before.as_ref().map(|r| &r.span));
            (span.unwrap_or(fallback).clone(), "certificates")
        }),
        dns.cluster_token
            .as_ref()
            .map(|t| (t.secret.span.clone(), "cluster_token")),
        dns.api_token
            .as_ref()
            .map(|t| (t.secret.span.clone(), "api_token")),
    ];
    for (span, key) in parts.into_iter().flatten() {
        out.push(
            Diagnostic::new(
                Code::DnsWithoutCloud,
                format!("`{key}` needs a cloud, and environment `{}` has none", env.value),
                span,
                "needs a cloud",
            )
            .help(if key == "api_token" {
                "remove it: without a cloud the zone's Terraform takes the token as `TF_VAR_cloudflare_api_token`"
            } else {
                "remove it, or give the environment a `[cloud]`"
            }),
        );
    }
}

/// E204 `dns-without-cloud`: `dns` on an environment without a cloud.
///
/// Why: the records are made by the environment's Terraform and the route hosts' records by
/// external-dns, which plinth installs only in a cluster it creates; elsewhere the section
/// would do nothing, silently.
///
/// Example: `[environments.dev.dns]` on the local (Compose) environment.
fn dns_without_cloud(env: &Sp<String>, dns: &Dns, out: &mut Vec<Diagnostic>) {
    let span = dns.zone.as_ref().map_or(&env.span, |z| &z.span);
    out.push(
        Diagnostic::new(
            Code::DnsWithoutCloud,
            format!(
                "environment `{}` has `dns` but no cloud, so nothing would create its records",
                env.value
            ),
            span.clone(),
            "no cloud in this environment",
        )
        .help("remove `dns` from this environment, or give it a `[cloud]` (its DNS is then kept by its Terraform and external-dns)"),
    );
}

/// E242 `dns-without-zone`: a `dns` section that lists records, signs, checks or asks for
/// certificates without naming its `zone`.
///
/// Why: everything in the section happens in the zone, which Terraform looks up by name;
/// without it nothing would be generated, silently.
///
/// Example: `[environments.production.dns]` with `dnssec = true` and no `zone`.
fn dns_without_zone(env: &Sp<String>, dns: &Dns, out: &mut Vec<Diagnostic>) {
    let span = if let Some(d) = &dns.dnssec {
        &d.span
    } else if let Some(p) = dns.health_checks.as_ref().and_then(|h| h.path.as_ref()) {
        &p.span
    } else if let Some(r) = dns.records.first() {
        &r.name.span
    } else if let Some(w) = dns.certificates.as_ref().and_then(|c| c.wildcard.as_ref()) {
        &w.span
    } else {
        &env.span
    };
    out.push(
        Diagnostic::new(
            Code::DnsWithoutZone,
            format!(
                "the DNS of environment `{}` names no `zone`, so none of it is generated",
                env.value
            ),
            span.clone(),
            "in which zone?",
        )
        .help("name the public hosted zone, e.g. `zone = \"codepal.com\"`"),
    );
}

/// E243 `wildcard-not-covering`: with `certificates.wildcard`, a TLS route or redirect host
/// that is neither the zone nor a name directly under it (outside the zone included).
///
/// Why: the wildcard certificate names the zone and `*.<zone>`, and a wildcard covers one
/// label only; every HTTPS listener serves it, so a host it does not cover would present a
/// certificate for another name and every client would refuse the connection.
///
/// Example: `host = "api.eu.codepal.com"` with the zone `codepal.com`.
fn wildcard_not_covering(
    host: &str,
    written: &Sp<String>,
    zone: &str,
    wildcard: &Sp<bool>,
    out: &mut Vec<Diagnostic>,
) {
    let covered = host == zone
        || host
            .strip_suffix(zone)
            .and_then(|h| h.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.'));
    // A host outside the zone is only a warning without a wildcard (W018); with one, its
    // listener would serve the wildcard's certificate for another name.
    if covered {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::WildcardNotCovering,
            format!("the wildcard certificate of `{zone}` does not cover `{host}`: a wildcard stands for one label"),
            written.span.clone(),
            format!("not `{zone}` or `*.{zone}`"),
        )
        .related(wildcard.span.clone(), "one certificate for every HTTPS listener")
        .help(format!("move the host directly under `{zone}`, or turn `wildcard` off so that every host gets a certificate of its own")),
    );
}

/// E244 `invalid-renew-before`: a `renew_before` that is not a duration, shorter than an
/// hour, or not shorter than the 90 days a Let's Encrypt certificate lasts.
///
/// Why: cert-manager refuses a window as long as the certificate (it would renew at once,
/// forever), and a window under an hour leaves no time to retry a failed renewal before the
/// certificate expires.
///
/// Example: `renew_before = "90d"`.
fn invalid_renew_before(r: &Sp<String>, out: &mut Vec<Diagnostic>) {
    const HOUR_MS: u64 = 3_600_000;
    const LIFETIME_MS: u64 = 90 * 24 * HOUR_MS;
    let (label, help) = match crate::units::parse_duration(&r.value) {
        Err(_) => ("not a duration", "write it like `30d` or `720h`".to_owned()),
        Ok(ms) if ms < HOUR_MS => ("under an hour", "renew at least an hour before expiry; `30d` is usual".to_owned()),
        Ok(ms) if ms >= LIFETIME_MS => (
            "as long as the certificate",
            "Let's Encrypt certificates last 90 days (64 from February 2027): renew well inside that, e.g. `30d`".to_owned(),
        ),
        Ok(_) => return,
    };
    out.push(
        Diagnostic::new(
            Code::InvalidRenewBefore,
            format!(
                "`renew_before = \"{}\"` is not a renewal window cert-manager can use",
                r.value
            ),
            r.span.clone(),
            label,
        )
        .help(help),
    );
}

/// E245 `wildcard-without-gateway`: `certificates.wildcard` where the edge is Ingresses
/// (`platform.gateway = "ingress"`).
///
/// Why: plinth serves the wildcard certificate from the Gateway's HTTPS listeners; with
/// Ingresses each host keeps a certificate of its own, so the setting would do nothing.
///
/// Example: `gateway = "ingress"` with `certificates = { wildcard = true }`.
fn wildcard_without_gateway(wildcard: &Sp<bool>, out: &mut Vec<Diagnostic>) {
    out.push(
        Diagnostic::new(
            Code::WildcardWithoutGateway,
            "a wildcard certificate is served through the Gateway API edge, and this environment's edge is Ingresses",
            wildcard.span.clone(),
            "not served by Ingresses",
        )
        .help("use the Gateway API edge (`platform.gateway = \"envoy\"` or `\"istio\"`), or turn `wildcard` off"),
    );
}

/// E240 `invalid-dns-health-check`: a health-check interval Route 53 does not offer (only
/// 10 or 30 seconds), a failure threshold outside 1 to 10, or a path that is not an absolute
/// path of at most 255 characters.
///
/// Why: Route 53 rejects them when Terraform applies the check, after the plan was reviewed.
///
/// Example: `health_checks = { interval = "60s" }`.
fn invalid_health_check(checks: &HealthChecks, out: &mut Vec<Diagnostic>) {
    if let Some(interval) = &checks.interval {
        let ok =
            units::parse_duration(&interval.value).is_ok_and(|ms| ms == 10_000 || ms == 30_000);
        if !ok {
            out.push(
                Diagnostic::new(
                    Code::InvalidDnsHealthCheck,
                    format!(
                        "health-check interval `{}` is not one Route 53 offers",
                        interval.value
                    ),
                    interval.span.clone(),
                    "not 10s or 30s",
                )
                .help(
                    "write `interval = \"30s\"` (standard) or `\"10s\"` (fast, at a higher price)",
                ),
            );
        }
    }
    if let Some(t) = checks
        .failure_threshold
        .as_ref()
        .filter(|t| !(1..=10).contains(&t.value))
    {
        out.push(
            Diagnostic::new(
                Code::InvalidDnsHealthCheck,
                format!(
                    "health-check failure threshold {} is outside 1 to 10",
                    t.value
                ),
                t.span.clone(),
                "out of range",
            )
            .help("Route 53 counts 1 to 10 consecutive failures; 3 is its default"),
        );
    }
    if let Some(p) = checks.path.as_ref().filter(|p| {
        !p.value.starts_with('/')
            || p.value.len() > 255
            || p.value.chars().any(|c| c.is_whitespace() || c.is_control())
    }) {
        out.push(
            Diagnostic::new(
                Code::InvalidDnsHealthCheck,
                format!(
                    "health-check path `{}` is not an absolute URL path of at most 255 characters",
                    p.value
                ),
                p.span.clone(),
                "not a path",
            )
            .help("write the path the checkers request, e.g. `path = \"/api/health\"`"),
        );
    }
}

/// W040 `health-checks-without-routes`: `health_checks` in an environment where no service
/// has a route host.
///
/// Why: Route 53 checks the public route hosts; without one nothing is checked, which the
/// section suggests is.
///
/// Example: `health_checks = {}` in an environment whose services have no `ingress`.
fn health_checks_without_routes(
    env: &Sp<String>,
    checks: &HealthChecks,
    out: &mut Vec<Diagnostic>,
) {
    let span = checks.path.as_ref().map_or(&env.span, |p| &p.span);
    out.push(
        Diagnostic::new(
            Code::HealthChecksWithoutRoutes,
            format!("environment `{}` asks for DNS health checks, but no service has a route host to check", env.value),
            span.clone(),
            "nothing to check",
        )
        .help("give a service an `ingress` host, or remove `health_checks`"),
    );
}

/// E241 `zone-signed-twice`: two environments ask for DNSSEC on the same zone.
///
/// Why: a zone has one signing state; each environment's Terraform would make its own
/// key-signing key and enable or disable signing on its own, and destroying one
/// environment would stop signing while the registrar still holds the DS record, which
/// makes the whole domain fail to resolve for validating resolvers.
///
/// Example: staging and production both with `zone = "codepal.com"` and `dnssec = true`.
/// E249 `zone-rules-twice`: two environments set `proxy` on the same Cloudflare zone.
///
/// Why: a zone holds one entrypoint ruleset per phase, so the second environment's apply
/// fails, or, once its ruleset is imported, each environment's apply replaces the other's
/// cache and WAF rules (and a rule without `host` applies to the other's hosts too).
///
/// Example: staging and production both on `codepal.com`, each with `proxy = { waf = true }`.
fn zone_rules_twice(
    zone: &str,
    envs: &[(&Sp<String>, crate::source::Span)],
    out: &mut Vec<Diagnostic>,
) {
    let Some(((first_env, first), rest)) = envs.split_first() else {
        return;
    };
    for (env, span) in rest {
        out.push(
            Diagnostic::new(
                Code::ZoneRulesTwice,
                format!(
                    "environments `{}` and `{}` both set Cloudflare's proxy rules on the zone `{zone}`, which holds one set",
                    first_env.value, env.value
                ),
                span.clone(),
                "set again here",
            )
            .related(first.clone(), "first set here")
            .help("set `proxy` in one environment of the zone, with a `host` on each cache rule for the hosts it is meant for"),
        );
    }
}

fn zone_signed_twice(zone: &str, envs: &[Signer], out: &mut Vec<Diagnostic>) {
    let Some(((first_env, first), rest)) = envs.split_first() else {
        return;
    };
    for (env, on) in rest {
        out.push(
            Diagnostic::new(
                Code::ZoneSignedTwice,
                format!(
                    "environments `{}` and `{}` both sign the zone `{zone}` with DNSSEC",
                    first_env.value, env.value
                ),
                on.span.clone(),
                "signed again here",
            )
            .related(first.span.clone(), "first signed here")
            .help("sign the zone in one environment only (the one that owns the domain, usually production)"),
        );
    }
}

/// W018 `route-host-outside-zone`: a route host that is not the zone's apex nor under it.
///
/// Why: external-dns is limited to the zone (`domainFilters`), so it makes no record for
/// the host, and the route answers on a name that resolves nowhere (or somewhere else).
///
/// Example: `host = "www.example.org"` with `zone = "codepal.com"`.
fn route_host_outside_zone(
    host: &str,
    written: &Sp<String>,
    zone: &str,
    out: &mut Vec<Diagnostic>,
) {
    if in_zone(host, zone) {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::RouteHostOutsideZone,
            format!("route host `{host}` is outside the DNS zone `{zone}`, so external-dns makes no record for it"),
            written.span.clone(),
            "outside the zone",
        )
        .help("use a host under the zone (e.g. `api.{domain}` with the zone as domain), or point its name here by hand and allow W018"),
    );
}

/// Whether `host` is `zone` or a name under it.
pub(super) fn in_zone(host: &str, zone: &str) -> bool {
    host == zone || host.ends_with(&format!(".{zone}"))
}

/// Whether `name` is a host name: dot-separated labels of letters, digits, `-` and `_`
/// (service labels such as `_dmarc`), a `*` allowed as the whole first label.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').enumerate().all(|(i, label)| {
            (i == 0 && label == "*")
                || (!label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && !label.starts_with('-')
                    && !label.ends_with('-'))
        })
}

/// E208 `invalid-dns-record` for a record name that is neither `@`, a name relative to the
/// zone, nor a full name inside it. Returns the full name, lowercased, when it is valid.
///
/// Why: Route 53 takes a name outside the zone as relative and makes `mail.other.org.codepal.com`.
///
/// Example: `name = "mail.other.org."` in zone `codepal.com`.
fn record_name(record: &DnsRecord, zone: &str, out: &mut Vec<Diagnostic>) -> Option<String> {
    let full = full_record_name(&record.name.value, zone);
    if is_host_name(&full) && in_zone(&full, zone) {
        return Some(full);
    }
    out.push(
        Diagnostic::new(
            Code::InvalidDnsRecord,
            format!("record name `{}` is not a name inside the zone `{zone}`", record.name.value),
            record.name.span.clone(),
            "not inside the zone",
        )
        .help("write `@` for the apex, a name relative to the zone (`www`, `_dmarc`), or a full name ending in the zone"),
    );
    None
}

/// E208 `invalid-dns-record` for values the record's type does not accept: an A record
/// that is no IPv4 address, an MX without its priority, a CNAME with several targets or at
/// the apex, a TXT value with a double quote (plinth quotes it), no value at all.
///
/// Why: Route 53 rejects them at apply time, when the rest of the change may already be
/// applied; a CNAME at the apex would shadow the zone's SOA and NS records.
///
/// Example: `{ name = "@", type = "MX", values = ["mail.codepal.com"] }` (no priority).
fn record_values(record: &DnsRecord, name: &str, zone: &str, out: &mut Vec<Diagnostic>) {
    let kind = record.kind.value;
    let bad = |span: &crate::source::Span, message: String, help: &str| {
        Diagnostic::new(
            Code::InvalidDnsRecord,
            message,
            span.clone(),
            "not accepted for this type",
        )
        .help(help.to_owned())
    };
    if record.values.is_empty() {
        out.push(
            Diagnostic::new(
                Code::InvalidDnsRecord,
                format!("{} record `{name}` has no value", kind.as_str()),
                record.kind.span.clone(),
                "no values",
            )
            .help("list at least one value, e.g. `values = [\"10 mail.codepal.com\"]`"),
        );
        return;
    }
    if kind == RecordType::Cname {
        if name == zone {
            out.push(
                Diagnostic::new(
                    Code::InvalidDnsRecord,
                    format!("a CNAME record cannot be at the zone's apex `{zone}`"),
                    record.name.span.clone(),
                    "the apex",
                )
                .help("the apex holds the zone's SOA and NS records; point a subdomain (`www`) at it instead, or give the apex an A record"),
            );
        }
        if record.values.len() > 1 {
            out.push(
                Diagnostic::new(
                    Code::InvalidDnsRecord,
                    format!("CNAME record `{name}` has {} targets", record.values.len()),
                    record.values[1].span.clone(),
                    "a second target",
                )
                .help("a CNAME names exactly one target"),
            );
        }
    }
    for v in &record.values {
        let text = v.value.trim();
        let fields: Vec<&str> = text.split_whitespace().collect();
        let host = |h: &str| is_host_name(h.trim_end_matches('.'));
        let number = |f: &str, max: u32| f.parse::<u32>().is_ok_and(|n| n <= max);
        let ok = match kind {
            RecordType::A => text.parse::<std::net::Ipv4Addr>().is_ok(),
            RecordType::Aaaa => text.parse::<std::net::Ipv6Addr>().is_ok(),
            RecordType::Cname => fields.len() == 1 && host(fields[0]),
            RecordType::Mx => fields.len() == 2 && number(fields[0], 65535) && host(fields[1]),
            RecordType::Srv => {
                fields.len() == 4 && fields[..3].iter().all(|f| number(f, 65535)) && host(fields[3])
            }
            RecordType::Caa => {
                fields.len() >= 3
                    && number(fields[0], 255)
                    && matches!(fields[1], "issue" | "issuewild" | "iodef")
                    && text.ends_with('"')
                    && fields[2].starts_with('"')
            }
            RecordType::Txt => {
                !text.is_empty()
                    && !v.value.contains('"')
                    && v.value.chars().all(|c| c == ' ' || c.is_ascii_graphic())
            }
        };
        if ok {
            continue;
        }
        let help = match kind {
            RecordType::A => "an IPv4 address, e.g. `203.0.113.10`",
            RecordType::Aaaa => "an IPv6 address, e.g. `2001:db8::10`",
            RecordType::Cname => "one host name, e.g. `codepal.com`",
            RecordType::Mx => "a priority and a mail host, e.g. `10 mail.codepal.com`",
            RecordType::Srv => "priority, weight, port and host, e.g. `10 5 5060 sip.codepal.com`",
            RecordType::Caa => "flags, tag and quoted value, e.g. `0 issue \"letsencrypt.org\"`",
            RecordType::Txt => "printable ASCII text without double quotes (plinth adds them), e.g. `v=spf1 include:_spf.google.com ~all`",
        };
        out.push(bad(
            &v.span,
            format!(
                "`{}` is not a valid {} record value",
                v.value,
                kind.as_str()
            ),
            help,
        ));
    }
}

/// E208 `invalid-dns-record` for a TTL that is not a duration between one second and a week.
///
/// Why: resolvers cache a record for its TTL; a mistyped `30d` makes a record impossible to
/// move for a month.
///
/// Example: `ttl = "30d"`.
fn record_ttl(record: &DnsRecord, cloudflare: bool, out: &mut Vec<Diagnostic>) {
    let Some(ttl) = &record.ttl else { return };
    // Cloudflare takes 60 s to a day (1 is its "automatic").
    let (low, high, range) = if cloudflare {
        (60, 86_400, "60s and 1d (Cloudflare's range)")
    } else {
        (1, MAX_TTL_SECONDS, "1s and 7d")
    };
    match units::parse_duration(&ttl.value) {
        Ok(ms) if (low * 1000..=high * 1000).contains(&ms) && ms % 1000 == 0 => {}
        _ => out.push(
            Diagnostic::new(
                Code::InvalidDnsRecord,
                format!(
                    "TTL `{}` is not a whole number of seconds between {range}",
                    ttl.value
                ),
                ttl.span.clone(),
                "not a usable TTL",
            )
            .help("write a duration such as `5m` or `1h`"),
        ),
    }
}

/// E246 `cloudflare-without-token`: `provider = "cloudflare"` without `api_token`.
///
/// Why: Terraform (the listed records, the proxy's rules), external-dns (the route hosts'
/// records) and cert-manager (DNS-01) all change the zone through Cloudflare's API, with a
/// token; without one nothing could be made, and the zone would be looked up in Route 53.
///
/// Example: `[environments.production.dns]` with `provider = "cloudflare"` only.
fn cloudflare_without_token(provider: &Sp<crate::spec::DnsProvider>, out: &mut Vec<Diagnostic>) {
    out.push(
        Diagnostic::new(
            Code::CloudflareWithoutToken,
            "a Cloudflare zone needs an API token to change it",
            provider.span.clone(),
            "no `api_token`",
        )
        .help("add `api_token = { secret = \"cloudflare-api-token\", key = \"token\" }`, a token for the zone (Zone Read and DNS Edit; with `proxy`, Cache Rules Edit and Zone WAF Edit too) kept in AWS Secrets Manager under the environment's prefix"),
    );
}

/// E247 `cloudflare-only`: `proxy` or `api_token` where the zone is in Route 53.
///
/// Why: both are Cloudflare's; with Route 53 nothing would read them, silently.
///
/// Example: `proxy = { waf = true }` without `provider = "cloudflare"`.
fn cloudflare_only(dns: &Dns, out: &mut Vec<Diagnostic>) {
    let spans = dns
        .api_token
        .iter()
        .map(|t| (t.secret.span.clone(), "api_token"))
        .chain(
            dns.cluster_token
                .iter()
                .map(|t| (t.secret.span.clone(), "cluster_token")),
        )
        .chain(dns.proxy.iter().filter_map(|p| {
            p.waf
                .as_ref()
                .map(|w| w.span.clone())
                .or_else(|| p.cache.first().map(|c| c.path.span.clone()))
                .or_else(|| p.assets.as_ref().map(|a| a.host.span.clone()))
                .map(|s| (s, "proxy"))
        }));
    for (span, key) in spans {
        out.push(
            Diagnostic::new(
                Code::CloudflareOnly,
                format!("`{key}` is Cloudflare's, and this zone is served by Route 53"),
                span,
                "Cloudflare only",
            )
            .help("set `provider = \"cloudflare\"`, or remove it"),
        );
    }
}

/// E248 `invalid-cache-rule`: a cache rule whose host is not a name of the zone, whose path
/// does not start with `/` or holds a quote or backslash, or whose TTL is not a whole number
/// of seconds from 1 s to a year.
///
/// Why: the path becomes a Cloudflare rules-language string, which a quote would end; a TTL
/// Cloudflare refuses fails the apply after the plan was reviewed.
///
/// Example: `{ path = "static/*", edge_ttl = "5" }`.
fn invalid_cache_rule(
    rule: &crate::spec::CacheRule,
    zone: &str,
    domain: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(written) = &rule.host {
        let host = route_host(written, domain);
        let inside = host
            .as_deref()
            .is_some_and(|h| is_host_name(h) && (h == zone || h.ends_with(&format!(".{zone}"))));
        if !inside {
            out.push(
                Diagnostic::new(
                    Code::InvalidCacheRule,
                    format!("cache rule host `{}` is not a name of the zone `{zone}`", written.value),
                    written.span.clone(),
                    "not in the zone",
                )
                .help("name a host of the zone, e.g. `{domain}` or `www.{domain}`, or leave `host` out for every host"),
            );
        }
    }
    invalid_path_or_ttl(rule, out);
}

/// W045 `cache-rule-unserved`: a Cloudflare cache rule whose host (a name of the zone) is
/// none of the names the environment serves through the proxy: no route or redirect host,
/// no listed record, not the assets bucket's host.
///
/// Why: the rule matches requests by host, so one for a name nothing serves never caches
/// anything, and the traffic it was written for (usually the same path on the host the app
/// is really served at) reaches the origin every time. Terraform applies it without a word.
///
/// Example: `cache = [{ host = "{domain}", path = "/_next/static/*" }]` where the UI's route
/// host is `app.{domain}`.
fn cache_rule_unserved(
    rule: &crate::spec::CacheRule,
    env: &Sp<String>,
    zone: &str,
    domain: Option<&str>,
    served: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let Some(written) = &rule.host else {
        return;
    };
    let Some(host) = route_host(written, domain).filter(|h| in_zone(h, zone)) else {
        // Outside the zone is E248's.
        return;
    };
    if served.contains(&host) {
        return;
    }
    let help = match crate::diag::did_you_mean(&host, served.iter().map(String::as_str)) {
        Some(near) => format!(
            "did you mean `{near}`? The proxy serves {}",
            hosts_list(served)
        ),
        None if served.is_empty() => {
            "nothing in this environment is served through the proxy; give a service a route host"
                .to_owned()
        }
        None => format!("the proxy serves {}", hosts_list(served)),
    };
    out.push(
        Diagnostic::new(
            Code::CacheRuleUnserved,
            format!(
                "cache rule for `{host}` in `{}` caches nothing: nothing is served at `{host}`",
                env.value
            ),
            written.span.clone(),
            "no route, record or bucket here",
        )
        .help(help),
    );
}

/// Up to five names in backquotes, then how many more.
fn hosts_list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    match names.len().saturating_sub(5) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The path and TTL parts of E248 `invalid-cache-rule`, shared by Cloudflare's and
/// CloudFront's rules.
pub(super) fn invalid_path_or_ttl(rule: &crate::spec::CacheRule, out: &mut Vec<Diagnostic>) {
    let path = &rule.path.value;
    if !path.starts_with('/') || path.contains(['"', '\\']) || path.chars().any(char::is_control) {
        out.push(
            Diagnostic::new(
                Code::InvalidCacheRule,
                format!("`{path}` is not a path pattern"),
                rule.path.span.clone(),
                "not a path",
            )
            .help("start it with `/` and use `*` for any characters, e.g. `/static/*`"),
        );
    }
    const YEAR_S: u64 = 365 * 86_400;
    for ttl in [&rule.edge_ttl, &rule.browser_ttl].into_iter().flatten() {
        match units::parse_duration(&ttl.value) {
            Ok(ms) if ms % 1000 == 0 && (1..=YEAR_S).contains(&(ms / 1000)) => {}
            _ => out.push(
                Diagnostic::new(
                    Code::InvalidCacheRule,
                    format!("`{}` is not a cache TTL from 1s to 365d", ttl.value),
                    ttl.span.clone(),
                    "not a usable TTL",
                )
                .help("write a duration such as `5m` or `365d`"),
            ),
        }
    }
}

/// E253 `invalid-assets-bucket`: the R2 assets bucket's `host` is not a host name of the
/// zone, is already a route host or a listed record's name, or its bucket name
/// (`<platform>-<env>-assets`) is longer than R2's 63 characters.
///
/// Why: Cloudflare makes the custom domain's record itself, and refuses one that exists;
/// a host outside the zone cannot be attached; and a long bucket name fails the apply after
/// the plan was reviewed.
///
/// Example: `assets = { host = "app.{domain}" }` where `app.{domain}` is a route host.
fn invalid_assets(
    assets: &crate::spec::AssetsBucket,
    zone: &str,
    domain: Option<&str>,
    taken: &[&str],
    bucket: &str,
    out: &mut Vec<Diagnostic>,
) {
    let written = &assets.host;
    let problem = match route_host(written, domain) {
        Some(h) if !is_host_name(&h) || !in_zone(&h, zone) || h.starts_with("*.") => {
            Some(format!("`{h}` is not a host name of the zone `{zone}`"))
        }
        Some(h) if taken.contains(&h.as_str()) => Some(format!(
            "`{h}` is already a route host or a listed record, and Cloudflare makes the assets host's record itself"
        )),
        Some(_) if bucket.len() > 63 => Some(format!(
            "the assets bucket `{bucket}` has {} characters, R2 allows 63",
            bucket.len()
        )),
        Some(_) => None,
        // A placeholder the lowering cannot fill (`{domain}` without a domain) would make a
        // host such as `assets.`.
        None => Some(format!(
            "`{}` is not a host name of the zone `{zone}`",
            written.value
        )),
    };
    if let Some(message) = problem {
        out.push(
            Diagnostic::new(Code::InvalidAssetsBucket, message, written.span.clone(), "assets host")
                .help("use a name of the zone that nothing else serves, e.g. `assets.{domain}` (or shorten the platform or environment name)"),
        );
    }
}

/// A listed record's full name as [`record_name`] reads it, without reporting anything.
fn full_record_name(written: &str, zone: &str) -> String {
    let written = written.to_ascii_lowercase();
    if written == "@" {
        zone.to_owned()
    } else if let Some(absolute) = written.strip_suffix('.') {
        absolute.to_owned()
    } else if in_zone(&written, zone) {
        written
    } else {
        format!("{written}.{zone}")
    }
}

/// E208 `invalid-dns-record` for `proxied = true` on a record Cloudflare cannot proxy: in a
/// Route 53 zone, of a type other than `A`, `AAAA` or `CNAME`, or with a `ttl` (a proxied
/// record's TTL is Cloudflare's).
///
/// Why: Route 53 has no proxy, and Cloudflare refuses the others or keeps changing the TTL
/// back, which Terraform then shows as a change on every plan.
///
/// Example: `{ name = "@", type = "MX", values = ["10 mail.shop.example.com"], proxied = true }`.
fn unproxiable_record(
    record: &DnsRecord,
    proxied: &Sp<bool>,
    cloudflare: bool,
    out: &mut Vec<Diagnostic>,
) {
    let kind = record.kind.value;
    let why = if !cloudflare {
        Some("only Cloudflare proxies records, and Route 53 serves this zone".to_owned())
    } else if !matches!(kind, RecordType::A | RecordType::Aaaa | RecordType::Cname) {
        Some(format!(
            "Cloudflare proxies A, AAAA and CNAME records, not {}",
            kind.as_str()
        ))
    } else if record.ttl.is_some() {
        Some("a proxied record's TTL is Cloudflare's: leave `ttl` out".to_owned())
    } else {
        None
    };
    if let Some(why) = why {
        out.push(
            Diagnostic::new(Code::InvalidDnsRecord, why, proxied.span.clone(), "proxied")
                .help("remove `proxied`, or what it cannot go with"),
        );
    }
}

/// E209 `dns-record-on-route-host`: a listed record for a name that a route serves.
///
/// Why: external-dns keeps the route hosts' records pointing at the load balancer; a second
/// record for the same name from Terraform would be overwritten, or block external-dns, on
/// every sync. One owner per name: routes' names belong to external-dns.
///
/// Example: `{ name = "app", type = "A", values = ["203.0.113.10"] }` where a service has
/// `ingress = { host = "app.{domain}" }`.
fn record_on_route_host(
    record: &DnsRecord,
    name: &str,
    route: &Sp<String>,
    out: &mut Vec<Diagnostic>,
) {
    out.push(
        Diagnostic::new(
            Code::DnsRecordOnRouteHost,
            format!("`{name}` is a route host, whose records external-dns keeps; a listed {} record would fight it", record.kind.value.as_str()),
            record.name.span.clone(),
            "a route host",
        )
        .related(route.span.clone(), "routed here")
        .help("remove the record: the route's host gets its record from external-dns, pointing at the load balancer"),
    );
}

/// E208 `invalid-dns-record` for two records of one name and type (their values belong in
/// one record), or a CNAME beside any other record of its name.
///
/// Why: Route 53 holds one record set per name and type, so Terraform would fail on the
/// second; and DNS forbids a CNAME to share its name with anything else.
///
/// Example: two `{ name = "@", type = "TXT" }` entries, one for SPF and one for verification.
fn clashing_records(name: &str, records: &[(RecordType, &DnsRecord)], out: &mut Vec<Diagnostic>) {
    for (i, (kind, record)) in records.iter().enumerate() {
        let earlier = &records[..i];
        if let Some((_, first)) = earlier.iter().find(|(k, _)| k == kind) {
            out.push(
                Diagnostic::new(
                    Code::InvalidDnsRecord,
                    format!("a second {} record for `{name}`", kind.as_str()),
                    record.kind.span.clone(),
                    "same name and type again",
                )
                .related(first.kind.span.clone(), "first here")
                .help("list every value of one name and type in one record's `values`"),
            );
        } else if let Some((other, first)) = earlier
            .iter()
            .find(|(k, _)| (*k == RecordType::Cname) != (*kind == RecordType::Cname))
        {
            out.push(
                Diagnostic::new(
                    Code::InvalidDnsRecord,
                    format!(
                        "`{name}` has both a CNAME record and {} records",
                        if *kind == RecordType::Cname {
                            other.as_str()
                        } else {
                            kind.as_str()
                        }
                    ),
                    record.kind.span.clone(),
                    "beside a CNAME",
                )
                .related(first.kind.span.clone(), "the other record")
                .help("a CNAME must be the only record of its name"),
            );
        }
    }
}
