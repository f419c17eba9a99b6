//! Issue 23's CDN through the real binary: with a Route 53 zone, CloudFront's certificate,
//! origin and the hosts' records come from the output (ACM validated in the zone, alias
//! records, an origin external-dns publishes from the routes' annotations); without one they
//! stay inputs and the build says so; the spec's cache rules become ordered behaviours with
//! their own policies.

mod support;

use support::*;

/// CodePal (003) with `edit` applied, built for `targets`.
fn codepal(dir: &TempDir, edit: impl Fn(String) -> String, targets: &[&str]) -> std::path::PathBuf {
    example(dir, "codepal", edit, targets)
}

/// The only block `kind.name` of `text`, or a panic naming it.
fn one(text: &str, ident: &str, kind: &str, name: &str) -> serde_json::Value {
    blocks(text, ident, kind)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {ident} {kind}.{name}"))
        .1
}

/// The generated `cdn.tf` of `env`.
fn cdn_tf(out: &std::path::Path, env: &str) -> String {
    std::fs::read_to_string(out.join(format!("terraform/{env}/cdn.tf"))).unwrap()
}

#[test]
fn with_a_route53_zone_the_cdn_has_its_certificate_origin_and_records() {
    let dir = TempDir::new("cdn-zone");
    let out = codepal(&dir, |s| s, &["terraform", "k8s", "helm"]);
    let cdn = cdn_tf(&out, "production");
    // The certificate: us-east-1, every route and redirect host, DNS-validated in the zone.
    let cert = one(&cdn, "resource", "aws_acm_certificate", "cdn");
    assert_eq!(cert["provider"], "${aws.us_east_1}");
    assert_eq!(cert["domain_name"], "api.codepal.com");
    assert_eq!(
        cert["subject_alternative_names"],
        serde_json::json!(["app.codepal.com", "www.codepal.com"])
    );
    assert_eq!(cert["validation_method"], "DNS");
    let validation = one(&cdn, "resource", "aws_route53_record", "cdn_validation");
    assert_eq!(
        validation["zone_id"],
        "${data.aws_route53_zone.main.zone_id}"
    );
    assert!(
        cdn.contains("for_each        = { for o in aws_acm_certificate.cdn.domain_validation_options : o.domain_name => o }"),
        "{cdn}"
    );
    let distribution = one(&cdn, "resource", "aws_cloudfront_distribution", "cdn");
    assert_eq!(
        distribution["viewer_certificate"]["acm_certificate_arn"],
        "${aws_acm_certificate_validation.cdn.certificate_arn}"
    );
    // The origin is the name external-dns publishes, not an input.
    assert_eq!(
        distribution["origin"]["domain_name"],
        "origin-production.codepal.com"
    );
    let variables = std::fs::read_to_string(out.join("terraform/production/variables.tf")).unwrap();
    assert!(!variables.contains("cdn_origin_domain"), "{variables}");
    assert!(!variables.contains("cdn_certificate_arn"), "{variables}");
    // The hosts are aliases of the distribution, IPv4 and IPv6.
    for (label, kind) in [("cdn_ipv4", "A"), ("cdn_ipv6", "AAAA")] {
        let record = one(&cdn, "resource", "aws_route53_record", label);
        assert_eq!(record["type"], kind);
        assert_eq!(
            record["for_each"],
            "${toset([\"api.codepal.com\", \"app.codepal.com\", \"www.codepal.com\"])}"
        );
        assert_eq!(
            record["alias"]["name"],
            "${aws_cloudfront_distribution.cdn.domain_name}"
        );
    }
    // Production proves its certificates in DNS (a wildcard): no plain-HTTP ACME path.
    assert!(!cdn.contains("acme-challenge"), "{cdn}");
    // Every route tells external-dns to publish the origin and leave the hosts alone.
    let routes: Vec<serde_json::Value> = std::fs::read_dir(out.join("k8s/production"))
        .unwrap()
        .flat_map(|e| yaml_docs(&e.unwrap().path()))
        .filter(|d| d["kind"] == "HTTPRoute")
        .collect();
    assert!(routes.len() >= 4, "{routes:?}");
    for r in &routes {
        let a = &r["metadata"]["annotations"];
        assert_eq!(
            a["external-dns.alpha.kubernetes.io/gateway-hostname-source"], "annotation-only",
            "{r}"
        );
        assert_eq!(
            a["external-dns.alpha.kubernetes.io/hostname"], "origin-production.codepal.com",
            "{r}"
        );
    }
    // The chart gives its routes the same annotations.
    let values = std::fs::read_to_string(out.join("helm/codepal/values.yaml")).unwrap()
        + &std::fs::read_to_string(out.join("helm/codepal/values-production.yaml")).unwrap();
    assert!(values.contains("routeAnnotations:"), "{values}");
    assert!(
        values.contains("external-dns.alpha.kubernetes.io/hostname: origin-production.codepal.com"),
        "{values}"
    );
}

#[test]
fn without_dns01_challenges_pass_the_cdn_over_plain_http() {
    // Staging has a zone but no `certificates`: cert-manager answers HTTP-01 at the edge.
    let dir = TempDir::new("cdn-acme");
    let out = codepal(&dir, |s| s, &["terraform"]);
    let cdn = cdn_tf(&out, "staging");
    let distribution = one(&cdn, "resource", "aws_cloudfront_distribution", "cdn");
    let origins = distribution["origin"]
        .as_array()
        .expect("two origins")
        .clone();
    let http = origins
        .iter()
        .find(|o| o["origin_id"] == "ingress-http")
        .expect("the plain-HTTP origin");
    assert_eq!(http["domain_name"], "origin-staging.codepal.com");
    assert_eq!(
        http["custom_origin_config"]["origin_protocol_policy"],
        "http-only"
    );
    let behaviours = distribution["ordered_cache_behavior"]
        .as_array()
        .unwrap()
        .clone();
    let acme = &behaviours[0];
    assert_eq!(acme["path_pattern"], "/.well-known/acme-challenge/*");
    assert_eq!(acme["target_origin_id"], "ingress-http");
    assert_eq!(acme["viewer_protocol_policy"], "allow-all");
    assert_eq!(
        acme["cache_policy_id"],
        "${data.aws_cloudfront_cache_policy.caching_disabled.id}"
    );
    assert!(cdn.contains("#checkov:skip=CKV_AWS_34:"), "{cdn}");
    // The spec's rule comes after it.
    assert_eq!(behaviours[1]["path_pattern"], "/_next/static/*");
}

#[test]
fn cache_rules_become_ordered_behaviours_with_their_policies() {
    let dir = TempDir::new("cdn-rules");
    let out = codepal(
        &dir,
        |s| {
            s.replacen(
                r#"cache = [{ path = "/_next/static/*", edge_ttl = "365d", browser_ttl = "365d" }]"#,
                r#"cache = [{ path = "/assets/*", edge_ttl = "1h" }, { path = "/fonts/*", browser_ttl = "30d" }]"#,
                1,
            )
        },
        &["terraform"],
    );
    let cdn = cdn_tf(&out, "production");
    // The edge TTL is the whole range, so the origin cannot shorten it; no cookies in the key.
    let policy = one(
        &cdn,
        "resource",
        "aws_cloudfront_cache_policy",
        "cdn_rule_1",
    );
    assert_eq!(policy["name"], "codepal-production-rule-1");
    for k in ["min_ttl", "default_ttl", "max_ttl"] {
        assert_eq!(policy[k], 3600, "{k}");
    }
    let key = &policy["parameters_in_cache_key_and_forwarded_to_origin"];
    assert_eq!(key["cookies_config"]["cookie_behavior"], "none");
    assert_eq!(
        key["headers_config"]["headers"]["items"],
        serde_json::json!(["Host"])
    );
    // The browser TTL is a Cache-Control header over the origin's, HSTS kept.
    let headers = one(
        &cdn,
        "resource",
        "aws_cloudfront_response_headers_policy",
        "cdn_rule_2",
    );
    let item = &headers["custom_headers_config"]["items"];
    assert_eq!(item["header"], "Cache-Control");
    assert_eq!(item["value"], "public, max-age=2592000");
    assert_eq!(item["override"], true);
    assert_eq!(
        headers["security_headers_config"]["strict_transport_security"]
            ["access_control_max_age_sec"],
        31_536_000
    );
    // Rule 1 has no browser TTL and rule 2 no edge TTL: no policy for those.
    assert!(
        blocks(&cdn, "resource", "aws_cloudfront_response_headers_policy")
            .iter()
            .all(|(n, _)| n != "cdn_rule_1")
    );
    assert!(blocks(&cdn, "resource", "aws_cloudfront_cache_policy")
        .iter()
        .all(|(n, _)| n != "cdn_rule_2"));
    let distribution = one(&cdn, "resource", "aws_cloudfront_distribution", "cdn");
    let behaviours = distribution["ordered_cache_behavior"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(behaviours.len(), 2, "{behaviours:?}");
    assert_eq!(behaviours[0]["path_pattern"], "/assets/*");
    assert_eq!(
        behaviours[0]["cache_policy_id"],
        "${aws_cloudfront_cache_policy.cdn_rule_1.id}"
    );
    assert_eq!(
        behaviours[0]["response_headers_policy_id"],
        "${data.aws_cloudfront_response_headers_policy.security_headers.id}"
    );
    assert_eq!(behaviours[1]["path_pattern"], "/fonts/*");
    assert_eq!(
        behaviours[1]["cache_policy_id"],
        "${aws_cloudfront_cache_policy.cdn.id}"
    );
    assert_eq!(
        behaviours[1]["response_headers_policy_id"],
        "${aws_cloudfront_response_headers_policy.cdn_rule_2.id}"
    );
}

#[test]
fn without_a_route53_zone_the_certificate_and_origin_stay_inputs() {
    let dir = TempDir::new("cdn-no-zone");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replace("[environments.staging.dns]\nzone = \"codepal.com\"\n", "");
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let run = plinth_run(
        &dir.0,
        &[
            "build",
            "codepal.toml",
            "--out",
            "out",
            "--target",
            "terraform",
            "--target",
            "k8s",
        ],
    );
    assert_exit(&run, 0);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("the CDN of `staging` has no Route 53 zone"),
        "{stderr}"
    );
    let out = dir.join("out");
    let cdn = cdn_tf(&out, "staging");
    let distribution = one(&cdn, "resource", "aws_cloudfront_distribution", "cdn");
    assert_eq!(
        distribution["origin"]["domain_name"],
        "${var.cdn_origin_domain}"
    );
    assert!(!cdn.contains("aws_acm_certificate"), "{cdn}");
    let variables = std::fs::read_to_string(out.join("terraform/staging/variables.tf")).unwrap();
    assert!(
        variables.contains("variable \"cdn_certificate_arn\""),
        "{variables}"
    );
    // external-dns keeps the hosts: no annotation sends it elsewhere.
    let gateway = std::fs::read_to_string(out.join("k8s/staging/gateway.yaml")).unwrap();
    assert!(!gateway.contains("external-dns.alpha"), "{gateway}");
}

#[test]
fn behind_the_cdn_ingresses_publish_the_origin_too() {
    let dir = TempDir::new("cdn-ingress");
    let out = codepal(
        &dir,
        |s| {
            s.replacen("[platform]\n", "[platform]\ngateway = \"ingress\"\n", 1)
                .replacen(
                    "certificates = { wildcard = true, renew_before = \"30d\" }\n",
                    "",
                    1,
                )
        },
        &["k8s"],
    );
    let ingresses: Vec<serde_json::Value> = std::fs::read_dir(out.join("k8s/staging"))
        .unwrap()
        .flat_map(|e| yaml_docs(&e.unwrap().path()))
        .filter(|d| d["kind"] == "Ingress")
        .collect();
    assert!(!ingresses.is_empty());
    for i in &ingresses {
        let a = &i["metadata"]["annotations"];
        assert_eq!(
            a["external-dns.alpha.kubernetes.io/ingress-hostname-source"], "annotation-only",
            "{i}"
        );
        assert_eq!(
            a["external-dns.alpha.kubernetes.io/hostname"], "origin-staging.codepal.com",
            "{i}"
        );
        // The issuer annotation of a TLS Ingress is kept beside them.
        assert_eq!(a["cert-manager.io/cluster-issuer"], "letsencrypt", "{i}");
    }
}

#[test]
fn hosts_the_cdn_cannot_serve_and_rules_it_cannot_match_are_errors_in_one_run() {
    let dir = TempDir::new("cdn-errors");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replacen(
            r#"cache = [{ path = "/_next/static/*","#,
            r#"cache = [{ host = "{domain}", path = "/a b/*" }, { path = "/_next/static/*","#,
            1,
        )
        .replacen(
            "records = [\n",
            "records = [\n  { name = \"origin-production\", type = \"TXT\", values = [\"x\"] },\n",
            1,
        );
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let run = plinth_run(&dir.0, &["check", "codepal.toml", "--format", "json"]);
    assert_exit(&run, 1);
    let codes = codes(&run);
    assert_eq!(
        codes.iter().filter(|c| *c == "E248").count(),
        2,
        "the host and the space: {codes:?}"
    );
    assert!(codes.contains(&"E252".to_owned()), "{codes:?}");
}

#[test]
fn external_dns_reads_only_the_routes_that_name_the_origin() {
    // cert-manager's HTTP-01 solver routes carry no annotations: external-dns must not
    // publish the hosts from them, where Terraform's alias records live.
    let dir = TempDir::new("cdn-filter");
    let out = codepal(&dir, |s| s, &["helm"]);
    let values =
        std::fs::read_to_string(out.join("helm/values-external-dns-staging.yaml")).unwrap();
    let values: serde_json::Value = serde_saphyr::from_str(&values).unwrap();
    assert_eq!(
        values["annotationFilter"],
        "external-dns.alpha.kubernetes.io/gateway-hostname-source=annotation-only"
    );
    // DevMentor has no CDN: external-dns reads every route.
    let dir = TempDir::new("cdn-filter-none");
    let out = example(&dir, "devmentor", |s| s, &["helm"]);
    let values =
        std::fs::read_to_string(out.join("helm/values-external-dns-production.yaml")).unwrap();
    assert!(!values.contains("annotationFilter"), "{values}");
}

#[test]
fn more_hosts_than_an_acm_certificate_holds_is_a_warning() {
    let dir = TempDir::new("cdn-quota");
    let many: Vec<String> = (1..=8).map(|i| format!("\"w{i}.{{domain}}\"")).collect();
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replacen(
            "ingress = { redirect_from = [\"www.{domain}\"] }",
            &format!(
                "ingress = {{ redirect_from = [\"www.{{domain}}\", {}] }}",
                many.join(", ")
            ),
            1,
        );
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let run = plinth_run(&dir.0, &["check", "codepal.toml", "--format", "json"]);
    assert_exit(&run, 0);
    assert_eq!(codes(&run), ["W041"]);
    let message = json_diagnostics(&run)[0]["message"].clone();
    assert_eq!(
        message,
        "the CDN's certificate would name 11 hosts, and ACM allows 10 unless the account's quota is raised"
    );
}

#[test]
fn the_certificate_names_a_short_host_first() {
    // ACM's common name holds at most 64 characters: a longer first host goes to the
    // alternative names.
    let dir = TempDir::new("cdn-common-name");
    let long = format!("{}.codepal.com", "a".repeat(60));
    let out = codepal(
        &dir,
        |s| {
            s.replacen(
                "ingress = { redirect_from = [\"www.{domain}\"] }",
                &format!("ingress = {{ redirect_from = [\"www.{{domain}}\", \"{long}\"] }}"),
                1,
            )
        },
        &["terraform"],
    );
    let cert = one(
        &cdn_tf(&out, "production"),
        "resource",
        "aws_acm_certificate",
        "cdn",
    );
    assert_eq!(cert["domain_name"], "api.codepal.com");
    let sans = cert["subject_alternative_names"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(sans[0], long.as_str());
    assert_eq!(sans.len(), 3, "{sans:?}");
}

/// A Cloudflare cache rule for a host of the zone that nothing is served at caches nothing:
/// W045 at its host, naming the hosts the proxy does serve. DevMentor's rule once named the
/// zone's apex while its UI is served at `app.devmentor.io`.
#[test]
fn a_cache_rule_for_a_host_nothing_serves_is_a_warning() {
    let example = std::fs::read_to_string(root().join("examples/devmentor.toml")).unwrap();
    let warnings = |text: &str| -> Vec<(String, String)> {
        let c = plinth::compile("devmentor.toml", text, &plinth::Options::default());
        c.diagnostics
            .0
            .iter()
            .filter(|d| d.code.id() == "W045")
            .map(|d| {
                let span = &d.primary.as_ref().unwrap().span;
                (
                    text[span.range.clone()].to_owned(),
                    d.help.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    assert_eq!(warnings(&example), []);
    let apex = example.replace(
        "cache = [{ host = \"app.{domain}\"",
        "cache = [{ host = \"{domain}\"",
    );
    assert_ne!(apex, example);
    let found = warnings(&apex);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "\"{domain}\"");
    assert!(found[0].1.contains("`app.devmentor.io`"), "{found:?}");
}
