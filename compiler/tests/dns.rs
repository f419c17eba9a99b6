//! Issue 23's DNS through the real binary: `[environments.NAME.dns]` becomes a looked-up
//! Route 53 zone with the listed records in `dns.tf`, and external-dns (installed with an IAM
//! role limited to that zone) keeps the route hosts' records; the checker rejects records
//! it cannot make and any record for a route host.

mod support;

use support::*;

/// CodePal (003): production lists its mail records, staging names only the zone.
fn built(dir: &TempDir) -> std::path::PathBuf {
    let out = dir.join("out");
    let run = plinth_run(
        &root(),
        &[
            "build",
            "examples/codepal.toml",
            "--out",
            out.to_str().unwrap(),
            "--target",
            "terraform",
            "--target",
            "helm",
        ],
    );
    assert_exit(&run, 0);
    out
}

/// DevMentor (000) with `edit` applied, built with `targets` into `dir/out`.
fn devmentor(
    dir: &TempDir,
    edit: impl Fn(String) -> String,
    targets: &[&str],
) -> std::path::PathBuf {
    example(dir, "devmentor", edit, targets)
}

/// The body of module `name` in an HCL file.
fn module(text: &str, name: &str) -> serde_json::Value {
    let doc: serde_json::Value = hcl::from_str(text).expect("generated HCL parses");
    doc["module"][name].clone()
}

#[test]
fn listed_records_are_route53_record_sets_in_the_looked_up_zone() {
    let dir = TempDir::new("dns-records");
    let out = built(&dir);
    let dns = std::fs::read_to_string(out.join("terraform/production/dns.tf")).unwrap();
    // The zone exists already: a data source, never a resource Terraform could destroy.
    let zones = blocks(&dns, "data", "aws_route53_zone");
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0].1["name"], "codepal.com");
    assert!(blocks(&dns, "resource", "aws_route53_zone").is_empty());
    let records = blocks(&dns, "resource", "aws_route53_record");
    let find = |name: &str, kind: &str| {
        records
            .iter()
            .find(|(_, b)| b["name"] == name && b["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} record {name} in {dns}"))
            .1
            .clone()
    };
    let mx = find("codepal.com", "MX");
    assert_eq!(mx["records"], serde_json::json!(["10 mail.codepal.com"]));
    assert_eq!(mx["ttl"], 3600);
    let spf = find("codepal.com", "TXT");
    assert_eq!(spf["records"][0], "v=spf1 include:_spf.google.com ~all");
    assert_eq!(spf["ttl"], 300, "the default TTL is five minutes");
    let dmarc = find("_dmarc.codepal.com", "TXT");
    assert_eq!(
        dmarc["records"][0],
        "v=DMARC1; p=quarantine; rua=mailto:dmarc@codepal.com"
    );
    assert_eq!(records.len(), 3, "route hosts get no Terraform record");
    // Staging names the zone and lists nothing: only the lookup external-dns's role needs.
    let staging = std::fs::read_to_string(out.join("terraform/staging/dns.tf")).unwrap();
    assert!(blocks(&staging, "resource", "aws_route53_record").is_empty());
}

#[test]
fn external_dns_keeps_the_route_hosts_within_the_zone() {
    let dir = TempDir::new("dns-external-dns");
    let out = built(&dir);
    let addons = std::fs::read_to_string(out.join("terraform/production/addons.tf")).unwrap();
    let releases = blocks(&addons, "resource", "helm_release");
    let release = &releases
        .iter()
        .find(|(id, _)| id == "external_dns")
        .expect("an external-dns release")
        .1;
    assert_eq!(release["chart"], "external-dns");
    assert_eq!(release["version"], "1.21.1");
    assert!(
        release["set"]
            .to_string()
            .contains("module.external_dns_irsa.arn"),
        "{release}"
    );
    // Its role may change only the environment's zone.
    let role = module(&addons, "external_dns_irsa");
    assert_eq!(role["attach_external_dns_policy"], true);
    assert_eq!(
        role["external_dns_hosted_zone_arns"],
        serde_json::json!(["${data.aws_route53_zone.main.arn}"])
    );
    let values =
        std::fs::read_to_string(out.join("helm/values-external-dns-production.yaml")).unwrap();
    let values: serde_json::Value = serde_saphyr::from_str(&values).unwrap();
    assert_eq!(values["domainFilters"], serde_json::json!(["codepal.com"]));
    assert_eq!(values["policy"], "sync");
    assert_eq!(values["registry"], "txt");
    assert_eq!(values["txtOwnerId"], "codepal-production");
    // CodePal's routes are HTTPRoutes of the Gateway API (the default with a cloud), so
    // external-dns reads them, after Envoy Gateway has installed their CRDs.
    assert_eq!(values["sources"], serde_json::json!(["gateway-httproute"]));
    assert!(
        release["depends_on"]
            .to_string()
            .contains("helm_release.envoy_gateway"),
        "{release}"
    );
    // Staging's owner differs, so the two environments' external-dns never delete each
    // other's records in the shared zone.
    let staging =
        std::fs::read_to_string(out.join("helm/values-external-dns-staging.yaml")).unwrap();
    assert!(staging.contains("txtOwnerId: codepal-staging"), "{staging}");
}

/// With classic Ingresses (`gateway = "ingress"`) external-dns reads Ingresses instead.
#[test]
fn with_ingresses_external_dns_reads_ingresses() {
    let dir = TempDir::new("dns-ingress-source");
    example(
        &dir,
        "codepal",
        |s| {
            s.replacen("[platform]\n", "[platform]\ngateway = \"ingress\"\n", 1)
                // Ingresses keep a certificate per host (a wildcard here is E245).
                .replace(
                    "certificates = { wildcard = true, renew_before = \"30d\" }",
                    "certificates = { renew_before = \"30d\" }",
                )
        },
        &["helm", "k8s"],
    );
    let values =
        std::fs::read_to_string(dir.join("out/helm/values-external-dns-production.yaml")).unwrap();
    let values: serde_json::Value = serde_saphyr::from_str(&values).unwrap();
    assert_eq!(values["sources"], serde_json::json!(["ingress"]));
    // The renewal window reaches each TLS Ingress, in the manifests and the chart's values.
    let app = yaml_docs(&dir.join("out/k8s/production/codepal-app.yaml"));
    let ingress = app.iter().find(|d| d["kind"] == "Ingress").unwrap();
    assert_eq!(
        ingress["metadata"]["annotations"]["cert-manager.io/renew-before"],
        "720h"
    );
    let chart_values =
        std::fs::read_to_string(dir.join("out/helm/codepal/values-production.yaml")).unwrap();
    assert!(
        chart_values.contains("tlsRenewBefore: 720h"),
        "{chart_values}"
    );
}

#[test]
fn records_external_dns_owns_or_dns_cannot_hold_are_errors_all_in_one_run() {
    let out = plinth_run(
        &root(),
        &[
            "check",
            "compiler/tests/fixtures/invalid/E208-invalid-dns-records.toml",
            "--format",
            "json",
        ],
    );
    assert_exit(&out, 1);
    let found: Vec<String> = json_diagnostics(&out)
        .into_iter()
        .filter(|d| d["code"] == "E208")
        .map(|d| d["message"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "is not a valid MX record value",
        "cannot be at the zone's apex",
        "is not a name inside the zone",
        "is not a valid TXT record value",
        "a second TXT record",
        "is not a whole number of seconds",
    ] {
        assert!(
            found.iter().any(|m| m.contains(expected)),
            "{expected}: {found:?}"
        );
    }
    let route = plinth_run(
        &root(),
        &[
            "check",
            "compiler/tests/fixtures/invalid/E209-dns-record-on-route-host.toml",
        ],
    );
    assert_exit(&route, 1);
    assert!(String::from_utf8_lossy(&route.stderr).contains("E209"));
}

#[test]
fn a_route_host_outside_the_zone_is_a_warning() {
    let dir = TempDir::new("dns-outside");
    let text = std::fs::read_to_string(
        root().join("compiler/tests/fixtures/invalid/E209-dns-record-on-route-host.toml"),
    )
    .unwrap()
    .replace(
        "records = [{ name = \"api\", type = \"A\", values = [\"203.0.113.10\"] }]",
        "",
    )
    .replace(
        "ingress = { host = \"api.{domain}\" }",
        "ingress = { host = \"api.example.org\" }",
    );
    std::fs::write(dir.join("spec.toml"), text).unwrap();
    let out = plinth_run(&dir.0, &["check", "spec.toml"]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("W018"), "{stderr}");
    assert!(stderr.contains("api.example.org"), "{stderr}");
}

/// A redirect host is a route host too: external-dns keeps its record, so a listed record
/// of the same name is E209 (CodePal's apex holds its MX and TXT records).
#[test]
fn a_redirect_host_with_listed_records_is_an_error() {
    let dir = TempDir::new("dns-redirect-apex");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replace(
            "redirect_from = [\"www.{domain}\"]",
            "redirect_from = [\"{domain}\", \"www.{domain}\"]",
        );
    assert!(spec.contains("\"{domain}\", \"www.{domain}\""));
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let out = plinth_run(&dir.0, &["check", "codepal.toml", "--format", "json"]);
    assert_exit(&out, 1);
    let codes = codes(&out);
    assert!(codes.iter().all(|c| c == "E209"), "{codes:?}");
    assert_eq!(codes.len(), 2, "the MX and the TXT record at the apex");
}

/// CodePal's production signs its zone: an ECDSA P-256 signing key in us-east-1 whose policy
/// lets only Route 53's DNSSEC service sign, for this account and zone; the key-signing key;
/// signing enabled after it; the DS record as an output. Staging, in the same zone, signs
/// nothing (one environment per zone, E241).
#[test]
fn dnssec_signs_the_zone_with_a_us_east_1_key_and_outputs_the_ds_record() {
    let dir = TempDir::new("dns-dnssec");
    let out = built(&dir);
    let dns = std::fs::read_to_string(out.join("terraform/production/dns.tf")).unwrap();
    let doc: serde_json::Value = hcl::from_str(&dns).unwrap();
    let key = &doc["resource"]["aws_kms_key"]["dnssec"];
    assert_eq!(key["provider"], "${aws.us_east_1}");
    assert_eq!(key["customer_master_key_spec"], "ECC_NIST_P256");
    assert_eq!(key["key_usage"], "SIGN_VERIFY");
    assert!(
        key.get("enable_key_rotation").is_none(),
        "asymmetric keys cannot rotate"
    );
    assert_eq!(key["policy"], "${jsonencode(local.dnssec_key_policy)}");
    let statements = doc["locals"]["dnssec_key_policy"]["Statement"]
        .as_array()
        .unwrap()
        .clone();
    let route53: Vec<&serde_json::Value> = statements
        .iter()
        .filter(|s| s["Principal"]["Service"] == "dnssec-route53.amazonaws.com")
        .collect();
    assert_eq!(route53.len(), 2, "{statements:?}");
    let sign = route53
        .iter()
        .find(|s| s["Action"].to_string().contains("kms:Sign"))
        .unwrap();
    assert_eq!(
        sign["Action"],
        serde_json::json!(["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"])
    );
    assert_eq!(
        sign["Condition"]["ArnLike"]["aws:SourceArn"],
        "${data.aws_route53_zone.main.arn}"
    );
    let grant = route53
        .iter()
        .find(|s| s["Action"] == "kms:CreateGrant")
        .unwrap();
    assert_eq!(
        grant["Condition"]["Bool"]["kms:GrantIsForAWSResource"],
        true
    );
    let ksk = &doc["resource"]["aws_route53_key_signing_key"]["main"];
    assert_eq!(
        ksk["hosted_zone_id"],
        "${data.aws_route53_zone.main.zone_id}"
    );
    assert_eq!(
        ksk["key_management_service_arn"],
        "${aws_kms_key.dnssec.arn}"
    );
    let name = ksk["name"].as_str().unwrap();
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "{name}"
    );
    let signing = &doc["resource"]["aws_route53_hosted_zone_dnssec"]["main"];
    assert_eq!(
        signing["hosted_zone_id"],
        "${aws_route53_key_signing_key.main.hosted_zone_id}"
    );
    assert_eq!(
        signing["depends_on"],
        serde_json::json!(["${aws_route53_key_signing_key.main}"])
    );
    // The provider alias the key needs, whatever the environment's region.
    let providers = std::fs::read_to_string(out.join("terraform/production/providers.tf")).unwrap();
    let providers: serde_json::Value = hcl::from_str(&providers).unwrap();
    let aliases: Vec<&serde_json::Value> = providers["provider"]["aws"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["alias"] == "us_east_1")
        .collect();
    assert_eq!(aliases.len(), 1, "{providers}");
    assert_eq!(aliases[0]["region"], "us-east-1");
    let outputs = std::fs::read_to_string(out.join("terraform/production/outputs.tf")).unwrap();
    let outputs: serde_json::Value = hcl::from_str(&outputs).unwrap();
    assert_eq!(
        outputs["output"]["dnssec_ds_record"]["value"],
        "${aws_route53_key_signing_key.main.ds_record}"
    );
    // Staging shares the zone and does not sign it (nor output a DS record).
    let staging = std::fs::read_to_string(out.join("terraform/staging/dns.tf")).unwrap();
    assert!(
        !staging.contains("aws_route53_key_signing_key"),
        "{staging}"
    );
    let staging = std::fs::read_to_string(out.join("terraform/staging/outputs.tf")).unwrap();
    assert!(!staging.contains("dnssec_ds_record"), "{staging}");
}

/// A Route 53 health check per route host, HTTPS where the host terminates TLS, on the
/// spec's path, and a CloudWatch alarm in us-east-1 on its `HealthCheckStatus`; the build
/// says the alarms notify nobody.
#[test]
fn health_checks_watch_every_route_host_with_an_alarm() {
    let dir = TempDir::new("dns-health");
    let out = dir.join("out");
    let run = plinth_run(
        &root(),
        &[
            "build",
            "examples/codepal.toml",
            "--out",
            out.to_str().unwrap(),
            "--target",
            "terraform",
        ],
    );
    assert_exit(&run, 0);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("Route 53 health checks (us-east-1) have no action"),
        "{stderr}"
    );
    let dns = std::fs::read_to_string(out.join("terraform/production/dns.tf")).unwrap();
    let checks = blocks(&dns, "resource", "aws_route53_health_check");
    let hosts: Vec<&str> = checks
        .iter()
        .map(|(_, b)| b["fqdn"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["api.codepal.com", "app.codepal.com"]);
    for (_, check) in &checks {
        assert_eq!(check["type"], "HTTPS");
        assert_eq!(check["port"], 443);
        assert_eq!(check["resource_path"], "/api/health");
        assert_eq!(check["request_interval"], 30);
        assert_eq!(check["failure_threshold"], 3);
    }
    let alarms = blocks(&dns, "resource", "aws_cloudwatch_metric_alarm");
    assert_eq!(alarms.len(), checks.len());
    for (label, check) in &checks {
        let alarm = &alarms
            .iter()
            .find(|(l, _)| *l == format!("health_{label}"))
            .unwrap()
            .1;
        assert_eq!(alarm["provider"], "${aws.us_east_1}");
        assert_eq!(alarm["namespace"], "AWS/Route53");
        assert_eq!(alarm["metric_name"], "HealthCheckStatus");
        assert_eq!(
            alarm["dimensions"]["HealthCheckId"],
            format!("${{aws_route53_health_check.{label}.id}}")
        );
        assert_eq!(alarm["comparison_operator"], "LessThanThreshold");
        assert_eq!(alarm["threshold"], 1);
        assert_eq!(alarm["treat_missing_data"], "breaching");
        assert!(alarm.get("alarm_actions").is_none());
        assert!(check["fqdn"].is_string());
    }
    // Staging asks for none.
    let staging = std::fs::read_to_string(out.join("terraform/staging/dns.tf")).unwrap();
    assert!(blocks(&staging, "resource", "aws_route53_health_check").is_empty());
}

/// Without a given path each host is checked on its route's path, over HTTP where the host
/// does not terminate TLS.
#[test]
fn health_checks_default_to_the_route_path_and_plain_http() {
    let dir = TempDir::new("dns-health-defaults");
    let text = std::fs::read_to_string(
        root().join("compiler/tests/fixtures/invalid/E209-dns-record-on-route-host.toml"),
    )
    .unwrap()
    .replace(
        "records = [{ name = \"api\", type = \"A\", values = [\"203.0.113.10\"] }]",
        "health_checks = { interval = \"10s\" }",
    )
    .replace(
        "ingress = { host = \"api.{domain}\" }",
        "ingress = { host = \"api.{domain}\", path = \"/v1\", tls = false }",
    );
    std::fs::write(dir.join("spec.toml"), text).unwrap();
    let out = dir.join("out");
    let run = plinth_run(
        &dir.0,
        &[
            "build",
            "spec.toml",
            "--out",
            out.to_str().unwrap(),
            "--target",
            "terraform",
        ],
    );
    assert_exit(&run, 0);
    let dns = std::fs::read_to_string(out.join("terraform/production/dns.tf")).unwrap();
    let checks = blocks(&dns, "resource", "aws_route53_health_check");
    assert_eq!(checks.len(), 1, "{dns}");
    let check = &checks[0].1;
    assert_eq!(check["fqdn"], "api.shop.example.com");
    assert_eq!(check["type"], "HTTP");
    assert_eq!(check["port"], 80);
    assert_eq!(check["resource_path"], "/v1");
    assert_eq!(check["request_interval"], 10);
}

/// W040: health checks where no service has a route host check nothing.
#[test]
fn health_checks_without_route_hosts_are_a_warning() {
    let dir = TempDir::new("dns-health-nothing");
    let text = std::fs::read_to_string(
        root().join("compiler/tests/fixtures/invalid/E209-dns-record-on-route-host.toml"),
    )
    .unwrap()
    .replace(
        "records = [{ name = \"api\", type = \"A\", values = [\"203.0.113.10\"] }]",
        "health_checks = { path = \"/ready\" }",
    )
    .replace("ingress = { host = \"api.{domain}\" }", "");
    std::fs::write(dir.join("spec.toml"), text).unwrap();
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert_eq!(codes(&out), ["W040"]);
}

/// The documents of a generated YAML file.
#[test]
fn a_wildcard_certificate_is_proven_in_dns_and_served_by_every_listener() {
    // CodePal's production (003): `certificates = { wildcard = true, renew_before = "30d" }`.
    let dir = TempDir::new("dns-wildcard");
    let out = example(&dir, "codepal", |s| s, &["k8s", "terraform"]);
    let gateway = yaml_docs(&out.join("k8s/production/gateway.yaml"));
    let certificate = gateway
        .iter()
        .find(|d| d["kind"] == "Certificate")
        .expect("a wildcard Certificate");
    assert_eq!(
        certificate["spec"]["dnsNames"],
        serde_json::json!(["codepal.com", "*.codepal.com"])
    );
    assert_eq!(certificate["spec"]["renewBefore"], "720h");
    assert_eq!(certificate["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    assert_eq!(certificate["spec"]["issuerRef"]["name"], "letsencrypt");
    let secret = certificate["spec"]["secretName"].as_str().unwrap();
    // Every HTTPS listener serves it, and the Gateway asks cert-manager for nothing else.
    let gw = gateway.iter().find(|d| d["kind"] == "Gateway").unwrap();
    let https: Vec<&serde_json::Value> = gw["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["protocol"] == "HTTPS")
        .collect();
    assert_eq!(https.len(), 3, "{gw}");
    for l in https {
        assert_eq!(l["tls"]["certificateRefs"][0]["name"], secret, "{l}");
    }
    assert!(gw["metadata"]["annotations"].is_null(), "{gw}");
    // The issuer proves codepal.com through Route 53 first, HTTP-01 for anything else.
    let issuer = yaml_docs(&out.join("k8s/production/cluster-issuer.yaml"));
    let solvers = &issuer[0]["spec"]["acme"]["solvers"];
    assert_eq!(
        solvers[0]["selector"]["dnsZones"],
        serde_json::json!(["codepal.com"])
    );
    assert_eq!(solvers[0]["dns01"]["route53"]["region"], "us-east-1");
    assert!(solvers[1]["http01"].is_object(), "{solvers}");
    // cert-manager writes the challenge records with a role limited to the zone.
    let addons = std::fs::read_to_string(out.join("terraform/production/addons.tf")).unwrap();
    let role = module(&addons, "cert_manager_irsa");
    assert_eq!(role["attach_cert_manager_policy"], true);
    assert_eq!(
        role["cert_manager_hosted_zone_arns"],
        serde_json::json!(["${data.aws_route53_zone.main.arn}"])
    );
    let release = blocks(&addons, "resource", "helm_release")
        .into_iter()
        .find(|(id, _)| id == "cert_manager")
        .expect("a cert-manager release")
        .1;
    assert!(
        release["set"]
            .to_string()
            .contains("module.cert_manager_irsa.arn"),
        "{release}"
    );
    // Staging asks for no DNS-01: its issuer answers HTTP-01 only, its Gateway keeps the
    // per-host certificates, and cert-manager has no role.
    let staging = yaml_docs(&out.join("k8s/staging/cluster-issuer.yaml"));
    assert_eq!(
        staging[0]["spec"]["acme"]["solvers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let staging_addons = std::fs::read_to_string(out.join("terraform/staging/addons.tf")).unwrap();
    assert!(!staging_addons.contains("cert_manager_irsa"));
    let staging_gw = yaml_docs(&out.join("k8s/staging/gateway.yaml"));
    assert!(!staging_gw.iter().any(|d| d["kind"] == "Certificate"));
}

#[test]
fn without_a_wildcard_the_renewal_window_reaches_the_gateway_annotation() {
    let dir = TempDir::new("dns-renew-before");
    let out = example(
        &dir,
        "codepal",
        |s| {
            s.replace(
                "certificates = { wildcard = true, renew_before = \"30d\" }",
                "certificates = { renew_before = \"30d\" }",
            )
        },
        &["k8s"],
    );
    let gateway = yaml_docs(&out.join("k8s/production/gateway.yaml"));
    assert!(!gateway.iter().any(|d| d["kind"] == "Certificate"));
    let gw = gateway.iter().find(|d| d["kind"] == "Gateway").unwrap();
    assert_eq!(
        gw["metadata"]["annotations"]["cert-manager.io/renew-before"],
        "720h"
    );
    assert_eq!(
        gw["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    let listener = gw["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["hostname"] == "api.codepal.com")
        .unwrap();
    assert_eq!(
        listener["tls"]["certificateRefs"][0]["name"],
        "api-codepal-com-tls"
    );
    // DNS-01 all the same: `certificates` asks for it.
    let issuer = yaml_docs(&out.join("k8s/production/cluster-issuer.yaml"));
    assert!(issuer[0]["spec"]["acme"]["solvers"][0]["dns01"].is_object());
}

#[test]
fn a_cloudflare_zone_is_changed_with_the_token_and_proxied_with_its_rules() {
    // DevMentor's production (000): Cloudflare, proxied, the managed WAF, a cache rule.
    let dir = TempDir::new("dns-cloudflare");
    let out = devmentor(&dir, |s| s, &["k8s", "terraform", "helm"]);
    let tf = |f: &str| std::fs::read_to_string(out.join("terraform/production").join(f)).unwrap();
    let dns = tf("dns.tf");
    let zone = &blocks(&dns, "data", "cloudflare_zone")[0].1;
    assert_eq!(zone["filter"]["name"], "devmentor.io");
    assert!(blocks(&dns, "data", "aws_route53_zone").is_empty(), "{dns}");
    let rulesets = blocks(&dns, "resource", "cloudflare_ruleset");
    let cache = &rulesets.iter().find(|(id, _)| id == "cache").unwrap().1;
    assert_eq!(cache["phase"], "http_request_cache_settings");
    assert_eq!(cache["kind"], "zone");
    let rule = &cache["rules"][0];
    assert_eq!(
        rule["expression"],
        "http.host eq \"app.devmentor.io\" and http.request.uri.path wildcard \"/_next/static/*\""
    );
    assert_eq!(rule["action"], "set_cache_settings");
    assert_eq!(rule["action_parameters"]["edge_ttl"]["default"], 31_536_000);
    assert_eq!(
        rule["action_parameters"]["browser_ttl"]["mode"],
        "override_origin"
    );
    // The proxy reaches the gateway over HTTPS, checking its certificate.
    let settings = blocks(&dns, "resource", "cloudflare_zone_setting");
    let setting = |id: &str| &settings.iter().find(|(n, _)| n == id).unwrap().1;
    assert_eq!(setting("ssl")["setting_id"], "ssl");
    assert_eq!(setting("ssl")["value"], "strict");
    assert_eq!(setting("min_tls_version")["value"], "1.2");
    assert_eq!(settings.len(), 2, "{settings:?}");
    let waf = &rulesets.iter().find(|(id, _)| id == "waf").unwrap().1;
    assert_eq!(waf["phase"], "http_request_firewall_managed");
    assert_eq!(waf["rules"][0]["action"], "execute");
    assert_eq!(
        waf["rules"][0]["action_parameters"]["id"],
        "efb7b8c949ac4650a09736fc376e9aee"
    );
    // The provider's token is read at apply time and kept in no file or state.
    let providers = tf("providers.tf");
    let token = &blocks(&providers, "ephemeral", "aws_secretsmanager_secret_version")[0];
    assert_eq!(
        token.1["secret_id"],
        "devmentor/production/cloudflare-api-token"
    );
    let doc: serde_json::Value = hcl::from_str(&providers).unwrap();
    assert!(
        doc["provider"]["cloudflare"].to_string().contains(
            "ephemeral.aws_secretsmanager_secret_version.cloudflare_api_token.secret_string"
        ),
        "{providers}"
    );
    assert!(tf("versions.tf").contains("cloudflare/cloudflare"));
    // external-dns keeps the route hosts' records at Cloudflare, proxied, with the token the
    // platform chart's ExternalSecret writes into its namespace; its release goes first
    // (the namespace) without waiting for pods that need the chart's Secret.
    let values: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(out.join("helm/values-external-dns-production.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(values["provider"]["name"], "cloudflare");
    assert_eq!(values["env"][0]["name"], "CF_API_TOKEN");
    assert_eq!(
        values["env"][0]["valueFrom"]["secretKeyRef"],
        serde_json::json!({ "name": "cloudflare-api-token", "key": "token" })
    );
    assert_eq!(values["extraArgs"]["cloudflare-proxied"], true);
    let addons = tf("addons.tf");
    assert!(!addons.contains("external_dns_irsa"), "{addons}");
    let release = blocks(&addons, "resource", "helm_release")
        .into_iter()
        .find(|(id, _)| id == "external_dns")
        .unwrap()
        .1;
    assert_eq!(release["wait"], false);
    let helm = tf("helm.tf");
    let platform = blocks(&helm, "resource", "helm_release")
        .into_iter()
        .find(|(id, _)| id == "platform")
        .unwrap()
        .1;
    assert!(
        platform["depends_on"]
            .to_string()
            .contains("helm_release.external_dns"),
        "{platform}"
    );
    let es = yaml_docs(&out.join("k8s/production/external-secrets.yaml"));
    let token = es
        .iter()
        .find(|d| d["kind"] == "ExternalSecret" && d["metadata"]["namespace"] == "external-dns")
        .expect("the token's ExternalSecret in external-dns's namespace");
    assert_eq!(
        token["spec"]["data"][0]["remoteRef"]["key"],
        "cloudflare-api-token"
    );
    let store = es
        .iter()
        .find(|d| d["kind"] == "ClusterSecretStore")
        .unwrap();
    assert!(
        store["spec"]["conditions"][0]["namespaces"]
            .to_string()
            .contains("external-dns"),
        "{store}"
    );
    // Staging stays without DNS.
    assert!(!out.join("terraform/staging/dns.tf").exists());
}

#[test]
fn a_cloudflare_zone_holds_the_listed_records_and_proves_certificates_with_the_token() {
    let dir = TempDir::new("dns-cloudflare-records");
    let out = devmentor(
        &dir,
        |s| {
            s.replace(
                "proxy = { waf = true,",
                "dnssec = true\ncertificates = {}\nrecords = [\n  { name = \"@\", type = \"MX\", values = [\"10 mail.devmentor.io\", \"20 backup.devmentor.io\"], ttl = \"1h\" },\n  { name = \"@\", type = \"TXT\", values = [\"v=spf1 -all\"] },\n]\nproxy = { waf = true,",
            )
        },
        &["k8s", "terraform"],
    );
    let dns = std::fs::read_to_string(out.join("terraform/production/dns.tf")).unwrap();
    let records = blocks(&dns, "resource", "cloudflare_dns_record");
    let mx: Vec<&serde_json::Value> = records
        .iter()
        .filter(|(_, b)| b["type"] == "MX")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(mx.len(), 2, "one record per value: {dns}");
    assert_eq!(mx[0]["priority"], 10);
    assert_eq!(mx[0]["content"], "mail.devmentor.io");
    assert_eq!(mx[0]["ttl"], 3600);
    assert_eq!(mx[0]["zone_id"], "${data.cloudflare_zone.main.zone_id}");
    let txt = records.iter().find(|(_, b)| b["type"] == "TXT").unwrap();
    assert_eq!(txt.1["content"], "\"v=spf1 -all\"");
    // DNSSEC is Cloudflare's, its DS record an output.
    assert!(
        dns.contains("resource \"cloudflare_zone_dnssec\" \"main\""),
        "{dns}"
    );
    let outputs = std::fs::read_to_string(out.join("terraform/production/outputs.tf")).unwrap();
    assert!(
        outputs.contains("cloudflare_zone_dnssec.main.ds"),
        "{outputs}"
    );
    // DNS-01 through Cloudflare with the same token, brought to cert-manager's namespace.
    let issuer = yaml_docs(&out.join("k8s/production/cluster-issuer.yaml"));
    assert_eq!(
        issuer[0]["spec"]["acme"]["solvers"][0]["dns01"]["cloudflare"]["apiTokenSecretRef"],
        serde_json::json!({ "name": "cloudflare-api-token", "key": "token" })
    );
    let es = yaml_docs(&out.join("k8s/production/external-secrets.yaml"));
    assert!(es
        .iter()
        .any(|d| d["kind"] == "ExternalSecret" && d["metadata"]["namespace"] == "cert-manager"));
    let addons = std::fs::read_to_string(out.join("terraform/production/addons.tf")).unwrap();
    assert!(!addons.contains("cert_manager_irsa"), "{addons}");
}

#[test]
fn with_a_wildcard_a_host_outside_the_zone_is_an_error_not_a_warning() {
    // Its listener would serve the wildcard's certificate for another name.
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replace(
            "ingress = { redirect_from = [\"www.{domain}\"] }",
            "ingress = { redirect_from = [\"www.{domain}\", \"codepal.dev\"] }",
        );
    let dir = TempDir::new("dns-wildcard-outside");
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let out = plinth_run(&dir.0, &["check", "codepal.toml", "--format", "json"]);
    assert_exit(&out, 1);
    let codes = codes(&out);
    assert!(codes.contains(&"E243".to_owned()), "{codes:?}");
    assert!(!codes.iter().any(|c| c.starts_with('P')), "{codes:?}");
}

#[test]
fn cloudflare_dns01_without_a_tls_route_brings_no_token_to_cert_manager() {
    // Without a TLS route there is no issuer, and cert-manager is not installed: an
    // ExternalSecret in its namespace would fail the chart.
    let dir = TempDir::new("dns-cloudflare-no-tls");
    let out = devmentor(
        &dir,
        |s| {
            // Without the proxy too, which reaches the origin over HTTPS only (E251).
            s.lines()
                .map(|l| {
                    if l.starts_with("proxy = ") {
                        "certificates = {}"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                .replace(
                    "ingress = { host = \"app.{domain}\"",
                    "ingress = { tls = false, host = \"app.{domain}\"",
                )
                .replace(
                    "ingress = { host = \"api.{domain}\"",
                    "ingress = { tls = false, host = \"api.{domain}\"",
                )
        },
        &["k8s"],
    );
    let objs: Vec<serde_json::Value> = std::fs::read_dir(out.join("k8s/production"))
        .unwrap()
        .flat_map(|e| yaml_docs(&e.unwrap().path()))
        .collect();
    if objs.iter().any(|o| o["kind"] == "ClusterIssuer") {
        // The example kept a TLS route: nothing to prove here.
        panic!("devmentor still has a TLS route; adjust the test's edit");
    }
    assert!(
        !objs
            .iter()
            .any(|o| o["kind"] == "ExternalSecret" && o["metadata"]["namespace"] == "cert-manager"),
        "an ExternalSecret in cert-manager's namespace without cert-manager"
    );
    assert!(objs
        .iter()
        .any(|o| o["kind"] == "ExternalSecret" && o["metadata"]["namespace"] == "external-dns"));
}

#[test]
fn a_cloudflare_zone_serves_static_assets_from_an_r2_bucket() {
    // DevMentor's production (000): "Move static assets to ... Cloudflare R2 and expose via
    // CDN; set ASSET_BASE_URL in UI".
    let dir = TempDir::new("dns-assets");
    let out = devmentor(&dir, |s| s, &["terraform"]);
    let tf = |f: &str| std::fs::read_to_string(out.join("terraform/production").join(f)).unwrap();
    let dns = tf("dns.tf");
    let bucket = &blocks(&dns, "resource", "cloudflare_r2_bucket")[0];
    assert_eq!(bucket.0, "assets");
    assert_eq!(bucket.1["name"], "devmentor-production-assets");
    assert_eq!(
        bucket.1["account_id"],
        "${data.cloudflare_zone.main.account.id}"
    );
    let domain = &blocks(&dns, "resource", "cloudflare_r2_custom_domain")[0].1;
    assert_eq!(domain["bucket_name"], "${cloudflare_r2_bucket.assets.name}");
    assert_eq!(domain["domain"], "assets.devmentor.io");
    assert_eq!(domain["zone_id"], "${data.cloudflare_zone.main.zone_id}");
    assert_eq!(domain["enabled"], true);
    assert_eq!(domain["min_tls"], "1.2");
    let outputs = tf("outputs.tf");
    let doc: serde_json::Value = hcl::from_str(&outputs).unwrap();
    assert_eq!(
        doc["output"]["assets_url"]["value"],
        "https://assets.devmentor.io"
    );
    assert_eq!(
        doc["output"]["assets_bucket"]["value"],
        "${cloudflare_r2_bucket.assets.name}"
    );
    // Without `assets`, no bucket.
    let dir = TempDir::new("dns-no-assets");
    let out = devmentor(
        &dir,
        |s| s.replacen(", assets = { host = \"assets.{domain}\" }", "", 1),
        &["terraform"],
    );
    let dns = std::fs::read_to_string(out.join("terraform/production/dns.tf")).unwrap();
    assert!(!dns.contains("cloudflare_r2"), "{dns}");
}

#[test]
fn a_cluster_token_keeps_terraforms_token_out_of_the_cluster() {
    // `cluster_token`: external-dns and cert-manager get the narrower token; only Terraform
    // reads `api_token`.
    let dir = TempDir::new("dns-cluster-token");
    let out = devmentor(
        &dir,
        |s| {
            s.replace(
                "proxy = { waf = true,",
                "cluster_token = { secret = \"cloudflare-dns-token\", key = \"token\" }\ncertificates = {}\nproxy = { waf = true,",
            )
        },
        &["k8s", "terraform", "helm"],
    );
    let issuer = yaml_docs(&out.join("k8s/production/cluster-issuer.yaml"));
    assert_eq!(
        issuer[0]["spec"]["acme"]["solvers"][0]["dns01"]["cloudflare"]["apiTokenSecretRef"],
        serde_json::json!({ "name": "cloudflare-dns-token", "key": "token" })
    );
    let es = yaml_docs(&out.join("k8s/production/external-secrets.yaml"));
    let names = |ns: &str| -> Vec<String> {
        es.iter()
            .filter(|d| d["kind"] == "ExternalSecret" && d["metadata"]["namespace"] == ns)
            .map(|d| d["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    for ns in ["external-dns", "cert-manager"] {
        assert_eq!(names(ns), ["cloudflare-dns-token"], "{ns}");
    }
    let values =
        std::fs::read_to_string(out.join("helm/values-external-dns-production.yaml")).unwrap();
    assert!(values.contains("name: cloudflare-dns-token"), "{values}");
    assert!(!values.contains("cloudflare-api-token"), "{values}");
    let providers = std::fs::read_to_string(out.join("terraform/production/providers.tf")).unwrap();
    assert!(
        providers.contains("devmentor/production/cloudflare-api-token"),
        "{providers}"
    );
    // On Route 53 the key is Cloudflare's only.
    let dir = TempDir::new("dns-cluster-token-route53");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replacen(
            "dnssec = true\n",
            "dnssec = true\ncluster_token = { secret = \"cloudflare-dns-token\", key = \"token\" }\n",
            1,
        );
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let run = plinth_run(&dir.0, &["check", "codepal.toml", "--format", "json"]);
    assert_exit(&run, 1);
    assert_eq!(codes(&run), ["E247"]);
}

#[test]
fn without_a_cloud_a_cloudflare_zone_gets_a_terraform_of_its_own() {
    // The tutoring marketplace (002) runs on a cluster it already has; production's
    // Cloudflare zone caches its public pages 5 minutes and its assets a year.
    let dir = TempDir::new("dns-zone-only");
    let out = example(
        &dir,
        "tutoring-marketplace",
        |s| {
            s.replacen(
                "provider = \"cloudflare\"\n",
                "provider = \"cloudflare\"\nrecords = [{ name = \"@\", type = \"A\", values = [\"203.0.113.10\"], proxied = true }]\n",
                1,
            )
        },
        &["terraform", "k8s"],
    );
    let files: Vec<String> = std::fs::read_dir(out.join("terraform/production"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut files = files;
    files.sort();
    assert_eq!(
        files,
        ["dns.tf", "providers.tf", "variables.tf", "versions.tf"]
    );
    assert!(!out.join("terraform/staging").exists());
    let tf = |f: &str| std::fs::read_to_string(out.join("terraform/production").join(f)).unwrap();
    // Only the Cloudflare provider, its token an ephemeral input: no AWS anywhere.
    let versions = tf("versions.tf");
    assert!(versions.contains("cloudflare/cloudflare"), "{versions}");
    assert!(!versions.contains("hashicorp/aws"), "{versions}");
    assert!(!versions.contains("backend"), "{versions}");
    let doc: serde_json::Value = hcl::from_str(&tf("variables.tf")).unwrap();
    let token = &doc["variable"]["cloudflare_api_token"];
    assert_eq!(token["sensitive"], true);
    assert_eq!(token["ephemeral"], true);
    let doc: serde_json::Value = hcl::from_str(&tf("providers.tf")).unwrap();
    assert_eq!(
        doc["provider"]["cloudflare"]["api_token"],
        "${var.cloudflare_api_token}"
    );
    // The zone's rules: assets a year in browsers, public pages 5 minutes at the edge.
    let dns = tf("dns.tf");
    let cache = &blocks(&dns, "resource", "cloudflare_ruleset")[0].1;
    let rules = cache["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(
        rules[0]["action_parameters"]["browser_ttl"]["default"],
        31_536_000
    );
    assert_eq!(rules[1]["action_parameters"]["edge_ttl"]["default"], 300);
    // A listed record for a route host is how it reaches the cluster here: no E209.
    let record = &blocks(&dns, "resource", "cloudflare_dns_record")[0].1;
    assert_eq!(record["name"], "example.com");
    assert_eq!(record["content"], "203.0.113.10");
    assert_eq!(record["proxied"], true);
    assert_eq!(record["ttl"], 1);
    // The proof leaves the cluster's side to the cluster, as without any Terraform.
    let run = plinth_run(&dir.0, &["check", "tutoring-marketplace.toml"]);
    assert_exit(&run, 0);
}
