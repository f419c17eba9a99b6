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

/// The blocks of `ident` and first label `kind` in an HCL file (`resource`,
/// `aws_route53_record`), as JSON bodies by their second label, as hcl2json shows them.
fn blocks(text: &str, ident: &str, kind: &str) -> Vec<(String, serde_json::Value)> {
    let doc: serde_json::Value = hcl::from_str(text).expect("generated HCL parses");
    doc[ident][kind]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, body)| (name.clone(), body.clone()))
        .collect()
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
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replacen("[platform]\n", "[platform]\ngateway = \"ingress\"\n", 1);
    std::fs::write(dir.join("codepal.toml"), spec).unwrap();
    let run = plinth_run(&dir.0, &["build", "codepal.toml", "--target", "helm"]);
    assert_exit(&run, 0);
    let values =
        std::fs::read_to_string(dir.join("out/helm/values-external-dns-production.yaml")).unwrap();
    let values: serde_json::Value = serde_saphyr::from_str(&values).unwrap();
    assert_eq!(values["sources"], serde_json::json!(["ingress"]));
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
