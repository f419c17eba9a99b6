//! `dns.tf`: an environment's public DNS (`[environments.NAME.dns]`). The hosted zone is
//! looked up, never created: its name servers are delegated at the registrar, and a zone
//! that Terraform created (and could destroy) would take the domain's mail and verification
//! records with it. The records the spec lists are Route 53 record sets; the route hosts'
//! records are external-dns's ([`crate::emit::addons`]), which the checker keeps apart
//! (E209). A zone Cloudflare serves is [`super::cloudflare`]'s. With `dnssec`, the zone is signed by a key-signing key whose private half never
//! leaves a KMS key in us-east-1; with `health_checks`, Route 53 checks every route host
//! from several regions and a CloudWatch alarm in us-east-1 follows each check's status.

use std::collections::BTreeMap;

use hcl::expr::Expression;
use hcl::{Block, Body};

use super::{a, block, doc_with_locals, obj, r, s, strings, template, Item, Part};
use crate::ir::{Dns, DnsProvider, Ingress};

/// The Terraform label of the zone's data source, which external-dns's IAM role names too.
pub(super) const ZONE: &str = "main";

/// The aliased AWS provider for us-east-1, where Route 53 keeps what is global: the KMS key
/// of a key-signing key and the health checks' metrics.
pub(super) const US_EAST_1: &str = "aws.us_east_1";

/// Longest character-string in a TXT record (RFC 1035); a longer value, such as a DKIM key,
/// is split into several, which Route 53 takes as `"first""second"` inside the value.
const TXT_CHUNK: usize = 255;

/// Days KMS waits before deleting the signing key: the longest, since a zone whose key is
/// gone while resolvers still hold its DS record fails to resolve everywhere.
const KEY_DELETION_DAYS: u32 = 30;

/// Whether `dns` needs the us-east-1 provider alias (a DNSSEC key, or health-check alarms).
pub(super) fn needs_us_east_1(dns: &Dns) -> bool {
    let route53 = matches!(dns.provider, DnsProvider::Route53);
    (dns.dnssec && route53) || dns.health_checks.is_some()
}

/// The route hosts Route 53 checks: each host once, with the first route's path and TLS,
/// in host order.
pub(super) fn checked_hosts<'a>(routes: impl IntoIterator<Item = &'a Ingress>) -> Vec<&'a Ingress> {
    let mut by_host: BTreeMap<&str, &Ingress> = BTreeMap::new();
    for route in routes {
        by_host.entry(route.host.as_str()).or_insert(route);
    }
    by_host.into_values().collect()
}

/// `dns.tf`: the zone's data source, one record set per listed record, the zone's DNSSEC
/// signing when asked, and a health check with its alarm per route host in `routes` when
/// asked. `name` is `<platform>-<env>`, which names the key, the checks and the alarms.
pub(super) fn lower(dns: &Dns, name: &str, routes: &[&Ingress]) -> Body {
    let mut locals = Vec::new();
    let mut blocks = match &dns.provider {
        DnsProvider::Route53 => {
            let mut blocks = records(dns);
            if dns.dnssec {
                blocks.extend(dnssec(&mut locals, dns, name));
            }
            blocks
        }
        DnsProvider::Cloudflare { proxy, .. } => super::cloudflare::zone(dns, proxy.as_ref(), name),
    };
    if dns.health_checks.is_some() {
        blocks.extend(health_checks(dns, name, routes));
    }
    doc_with_locals(locals, blocks)
}

/// The outputs of `dns.tf`: the DS record to add at the registrar when the zone is signed,
/// and a Cloudflare zone's assets bucket.
pub(super) fn outputs(dns: &Dns) -> Vec<Block> {
    if let DnsProvider::Cloudflare { proxy, .. } = &dns.provider {
        let mut blocks = Vec::new();
        if dns.dnssec {
            blocks.push(super::cloudflare::ds_output(dns));
        }
        if let Some(host) = proxy.as_ref().and_then(|p| p.assets.as_ref()) {
            blocks.extend(super::cloudflare::assets_outputs(host));
        }
        return blocks;
    }
    if !dns.dnssec {
        return Vec::new();
    }
    vec![block(
        "output",
        ["dnssec_ds_record"],
        [
            a(
                "description",
                s(format!(
                    "DS record of {}'s key-signing key: add it at the domain's registrar (the parent zone) once the zone is signed, or validating resolvers will not trust the signatures",
                    dns.zone
                )),
            ),
            a("value", r("aws_route53_key_signing_key.main.ds_record")),
        ],
    )]
}

/// The zone's data source and one record set per listed record.
fn records(dns: &Dns) -> Vec<Block> {
    let mut blocks = vec![block(
        "data",
        ["aws_route53_zone", ZONE],
        [a("name", s(&dns.zone)), a("private_zone", false)],
    )];
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for record in &dns.records {
        let label = unique(label(&record.name, &dns.zone, record.kind), &mut used);
        let values: Vec<String> = record
            .values
            .iter()
            .map(|v| match record.kind {
                "TXT" => txt(v),
                _ => v.clone(),
            })
            .collect();
        let body: Vec<Item> = vec![
            a(
                "zone_id",
                r(&format!("data.aws_route53_zone.{ZONE}.zone_id")),
            ),
            a("name", s(&record.name)),
            a("type", s(record.kind)),
            a("ttl", record.ttl_seconds),
            a("records", strings(values)),
        ];
        blocks.push(block("resource", ["aws_route53_record", &label], body));
    }
    blocks
}

/// DNSSEC signing of the zone: the KMS key Route 53 signs with, the key-signing key, and
/// signing enabled once the key exists.
///
/// Why this shape: Route 53 accepts only an asymmetric `ECC_NIST_P256` key used to
/// `SIGN_VERIFY`, in us-east-1 whatever the environment's region (hence the provider alias,
/// which `providers.tf` declares whenever this is generated, since `var.region` may differ
/// at apply time). Its policy lets the account administer the key through IAM, and lets
/// Route 53's DNSSEC service read the public key, sign, and grant itself use of the key, only
/// on behalf of this account and zone (`aws:SourceAccount`, `aws:SourceArn`), so no other
/// account's zone can be signed with it. Asymmetric keys cannot be rotated (checkov reports
/// CKV_AWS_7 as not applicable to them); the key-signing key is rotated by making a second
/// one, which plinth does not do.
fn dnssec(locals: &mut Vec<Item>, dns: &Dns, name: &str) -> Vec<Block> {
    let account = r("data.aws_caller_identity.current.account_id");
    let zone_arn = r(&format!("data.aws_route53_zone.{ZONE}.arn"));
    let route53 = || obj([("Service", s("dnssec-route53.amazonaws.com"))]);
    let policy = obj([
        ("Version", s("2012-10-17")),
        (
            "Statement",
            Expression::Array(vec![
                obj([
                    ("Sid", s("AccountAdministersTheKeyThroughIam")),
                    ("Effect", s("Allow")),
                    (
                        "Principal",
                        obj([(
                            "AWS",
                            template([
                                Part::Lit("arn:aws:iam::".into()),
                                Part::Expr(account.clone()),
                                Part::Lit(":root".into()),
                            ]),
                        )]),
                    ),
                    ("Action", s("kms:*")),
                    ("Resource", s("*")),
                ]),
                obj([
                    ("Sid", s("Route53DnssecSignsThisZone")),
                    ("Effect", s("Allow")),
                    ("Principal", route53()),
                    (
                        "Action",
                        strings(["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]),
                    ),
                    ("Resource", s("*")),
                    (
                        "Condition",
                        obj([
                            (
                                "StringEquals",
                                obj([("aws:SourceAccount", account.clone())]),
                            ),
                            ("ArnLike", obj([("aws:SourceArn", zone_arn)])),
                        ]),
                    ),
                ]),
                obj([
                    ("Sid", s("Route53DnssecGrantsItselfTheKey")),
                    ("Effect", s("Allow")),
                    ("Principal", route53()),
                    ("Action", s("kms:CreateGrant")),
                    ("Resource", s("*")),
                    (
                        "Condition",
                        obj([("Bool", obj([("kms:GrantIsForAWSResource", true.into())]))]),
                    ),
                ]),
            ]),
        ),
    ]);
    locals.push(a("dnssec_key_policy", policy));
    vec![
        block(
            "resource",
            ["aws_kms_key", "dnssec"],
            [
                a("provider", r(US_EAST_1)),
                a(
                    "description",
                    s(format!("{name}: DNSSEC key-signing key of {}", dns.zone)),
                ),
                a("customer_master_key_spec", s("ECC_NIST_P256")),
                a("key_usage", s("SIGN_VERIFY")),
                a("deletion_window_in_days", KEY_DELETION_DAYS),
                a(
                    "policy",
                    super::call("jsonencode", [r("local.dnssec_key_policy")]),
                ),
            ],
        ),
        block(
            "resource",
            ["aws_kms_alias", "dnssec"],
            [
                a("provider", r(US_EAST_1)),
                a("name", s(format!("alias/{name}-dnssec"))),
                a("target_key_id", r("aws_kms_key.dnssec.key_id")),
            ],
        ),
        block(
            "resource",
            ["aws_route53_key_signing_key", "main"],
            [
                a(
                    "hosted_zone_id",
                    r(&format!("data.aws_route53_zone.{ZONE}.zone_id")),
                ),
                a("key_management_service_arn", r("aws_kms_key.dnssec.arn")),
                // Letters, digits and underscores only, unique within the zone.
                a("name", s(ksk_name(name))),
            ],
        ),
        block(
            "resource",
            ["aws_route53_hosted_zone_dnssec", "main"],
            [
                a(
                    "hosted_zone_id",
                    r("aws_route53_key_signing_key.main.hosted_zone_id"),
                ),
                // Signing starts only once the key-signing key is active.
                a(
                    "depends_on",
                    Expression::Array(vec![r("aws_route53_key_signing_key.main")]),
                ),
            ],
        ),
    ]
}

/// The key-signing key's name: Route 53 takes letters, digits and underscores, 3 to 128.
fn ksk_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(128)
        .collect();
    while out.len() < 3 {
        out.push('_');
    }
    out
}

/// A health check per route host and the CloudWatch alarm on its `HealthCheckStatus`.
///
/// Why: the cluster's own probes and alerts see a service from inside; a Route 53 check
/// requests the public name from checkers in several regions, through DNS, the load balancer,
/// the gateway and TLS, so it catches what only fails from outside (an expired certificate,
/// a deleted record, a load balancer without targets). HTTPS for a host that terminates TLS
/// (with SNI, so the gateway serves the host's certificate), HTTP otherwise. The alarm lives
/// in us-east-1, the only region Route 53 publishes health-check metrics to; it is in alarm
/// when the check reports unhealthy for a minute, or reports nothing at all.
fn health_checks(dns: &Dns, name: &str, routes: &[&Ingress]) -> Vec<Block> {
    let Some(checks) = &dns.health_checks else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for route in checked_hosts(routes.iter().copied()) {
        let label = unique(host_label(&route.host), &mut used);
        let path = checks.path.clone().unwrap_or_else(|| route.path.clone());
        let (kind, port) = if route.tls {
            ("HTTPS", 443)
        } else {
            ("HTTP", 80)
        };
        blocks.push(block(
            "resource",
            ["aws_route53_health_check", &label],
            [
                a("fqdn", s(&route.host)),
                a("type", s(kind)),
                a("port", port),
                a("resource_path", s(&path)),
                a("request_interval", checks.interval_seconds),
                a("failure_threshold", checks.failure_threshold),
                a("tags", obj([("Name", s(format!("{name} {}", route.host)))])),
            ],
        ));
        blocks.push(block(
            "resource",
            ["aws_cloudwatch_metric_alarm", &format!("health_{label}")],
            [
                a("provider", r(US_EAST_1)),
                a("alarm_name", s(format!("{name}-health-{}", route.host))),
                a(
                    "alarm_description",
                    s(format!(
                        "Route 53's checkers find {}://{}{} unhealthy from outside the cluster",
                        kind.to_ascii_lowercase(),
                        route.host,
                        path
                    )),
                ),
                a("namespace", s("AWS/Route53")),
                a("metric_name", s("HealthCheckStatus")),
                a(
                    "dimensions",
                    obj([(
                        "HealthCheckId",
                        r(&format!("aws_route53_health_check.{label}.id")),
                    )]),
                ),
                a("statistic", s("Minimum")),
                a("period", 60),
                a("evaluation_periods", 1),
                a("threshold", 1),
                a("comparison_operator", s("LessThanThreshold")),
                a("treat_missing_data", s("breaching")),
            ],
        ));
    }
    blocks
}

/// A resource label for a host: its characters outside a Terraform identifier's as `_`.
fn host_label(host: &str) -> String {
    let label: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // An identifier cannot start with a digit.
    if label.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{label}")
    } else {
        label
    }
}

/// A resource label for a record: its type and its name relative to the zone (`apex` for
/// the zone itself), in the characters a Terraform identifier allows.
pub(super) fn label(name: &str, zone: &str, kind: &str) -> String {
    let relative = name
        .strip_suffix(zone)
        .map(|n| n.trim_end_matches('.'))
        .filter(|n| !n.is_empty())
        .unwrap_or("apex");
    let safe: String = relative
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}_{}", kind.to_ascii_lowercase(), safe.trim_matches('_'))
}

/// `label`, numbered from its second use on, so that names differing only in characters an
/// identifier cannot hold (`a-b`, `a.b`) still get distinct labels, in the spec's order.
pub(super) fn unique(label: String, used: &mut BTreeMap<String, usize>) -> String {
    let n = used.entry(label.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        label
    } else {
        format!("{label}_{n}")
    }
}

/// A TXT value as Route 53 takes it: as written when it fits one character-string, else
/// split every 255 characters with `""` between the pieces.
fn txt(value: &str) -> String {
    if value.len() <= TXT_CHUNK {
        return value.to_owned();
    }
    // The checker admits printable ASCII only, so every character is one byte.
    value
        .as_bytes()
        .chunks(TXT_CHUNK)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_identifiers_and_unique() {
        let mut used = BTreeMap::new();
        assert_eq!(label("codepal.com", "codepal.com", "MX"), "mx_apex");
        assert_eq!(
            label("_dmarc.codepal.com", "codepal.com", "TXT"),
            "txt_dmarc"
        );
        assert_eq!(unique("a_b".into(), &mut used), "a_b");
        assert_eq!(unique("a_b".into(), &mut used), "a_b_2");
    }

    #[test]
    fn long_txt_values_are_split_into_character_strings() {
        let key = "k".repeat(300);
        let split = txt(&key);
        assert_eq!(split, format!("{}\"\"{}", "k".repeat(255), "k".repeat(45)));
        assert_eq!(txt("v=spf1 -all"), "v=spf1 -all");
    }
}
