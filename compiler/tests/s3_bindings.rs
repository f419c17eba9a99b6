//! Issue 21 through the binary, bindings of a managed bucket (S3): a service binds the
//! bucket's `endpoint`, `bucket` and `region`, and reaches it with an IAM role of its own
//! (IRSA) on the ServiceAccount the environment's Terraform creates, never with access keys;
//! a key a mode cannot offer is error E012 saying why.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

const SPEC: &str = r#"
version = 1
[platform]
name = "shop"
domain = "shop.dev"
team = "core"

[alerting]
default_receiver = "ops"
receivers.ops = { type = "webhook", url = { secret = "ops", key = "url" } }

[services.api]
image = "ghcr.io/shop/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
depends_on = ["media"]
bind.S3_ENDPOINT = { from = "media", key = "endpoint" }
bind.S3_BUCKET = { from = "media", key = "bucket" }
bind.AWS_REGION = { from = "media", key = "region" }

[services.web]
image = "ghcr.io/shop/web:1.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
depends_on = ["api"]

[datastores.media]
preset = "minio"
mode = "managed"

[environments.prod]

[cloud]
provider = "aws"
region = "eu-west-1"
state = { bucket = "shop-tf-state", key = "{env}/terraform.tfstate", lock_table = "shop-tf-locks" }

[cloud.cluster]
version = "1.35"

[cloud.cluster.node_groups.general]
instance_types = ["m6i.large"]
min = 3
max = 6
"#;

fn setup(name: &str, spec: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    dir
}

/// Builds with `targets`, asserting success.
fn build(dir: &Path, targets: &[&str]) {
    let mut args = vec!["build", "spec.toml", "--out", "out"];
    for t in targets {
        args.extend(["--target", t]);
    }
    let out = plinth_run(dir, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn docs(path: &Path) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The diagnostics of `check`, as (code, message, help).
fn check(name: &str, spec: &str) -> Vec<(String, String, String)> {
    let dir = setup(name, spec);
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--format", "json"]);
    json_diagnostics(&out)
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["message"].as_str().unwrap_or_default().to_owned(),
                d["help"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_managed_bucket_binds_its_address_and_its_clients_get_an_iam_role() {
    let dir = setup("s3-bind", SPEC);
    build(&dir.0, &["k8s", "terraform", "helm"]);
    let out = dir.join("out");
    let api = docs(&out.join("k8s/prod/api.yaml"));
    let deployment = api.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["value"]
            .clone()
    };
    assert_eq!(value("S3_ENDPOINT"), "https://s3.eu-west-1.amazonaws.com");
    assert_eq!(value("S3_BUCKET"), "shop-prod-media");
    assert_eq!(value("AWS_REGION"), "eu-west-1");
    assert!(
        !env.iter().any(|e| e["valueFrom"].is_object()),
        "no key is bound: {env:?}"
    );
    // The pods run as `api`, which Terraform creates with the role's annotation; the k8s
    // output names it and leaves it out (the web service keeps its own).
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        "api"
    );
    assert!(!api.iter().any(|d| d["kind"] == "ServiceAccount"));
    let web = docs(&out.join("k8s/prod/web.yaml"));
    assert!(web.iter().any(|d| d["kind"] == "ServiceAccount"));
    let tf = std::fs::read_to_string(out.join("terraform/prod/datastores.tf")).unwrap();
    for want in [
        "module \"api_s3_irsa\"",
        "\"shop-prod-api-s3\"",
        "\"shop:api\"",
        "aws_s3_bucket.media.arn",
        "\"s3:GetObject\"",
        "aws_kms_key.main.arn",
        "resource \"kubernetes_service_account_v1\" \"api_s3\"",
        "module.api_s3_irsa.arn",
    ] {
        assert!(tf.contains(want), "{want} not in {tf}");
    }
    assert!(!tf.contains("aws_iam_access_key"), "no access keys");
    let helm = std::fs::read_to_string(out.join("terraform/prod/helm.tf")).unwrap();
    assert!(
        helm.contains("kubernetes_service_account_v1.api_s3"),
        "the release waits for the ServiceAccount"
    );
    // S3 and STS have no addresses in the VPC: the client may reach HTTPS anywhere.
    let policy = api.iter().find(|d| d["kind"] == "NetworkPolicy").unwrap();
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert!(
        egress
            .iter()
            .any(|r| r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
                && r["ports"] == serde_json::json!([{ "port": 443, "protocol": "TCP" }])),
        "{egress:?}"
    );
    // The chart leaves the ServiceAccount to Terraform too.
    let values = std::fs::read_to_string(out.join("helm/shop/values.yaml")).unwrap()
        + &std::fs::read_to_string(out.join("helm/shop/values-prod.yaml")).unwrap();
    assert_eq!(
        values.matches("cloudServiceAccount: true").count(),
        1,
        "api's only: {values}"
    );
}

#[test]
fn keys_a_mode_cannot_offer_are_errors_that_say_why() {
    let spec = SPEC.replace(
        "bind.AWS_REGION = { from = \"media\", key = \"region\" }",
        "bind.AWS_REGION = { from = \"media\", key = \"region\" }\nbind.S3_KEY = { from = \"media\", key = \"access-key\" }\nbind.S3_SECRET = { from = \"media\", key = \"secret-key\" }",
    );
    let diags = check("s3-keys", &spec);
    for key in ["access-key", "secret-key"] {
        assert!(
            diags.iter().any(|(c, m, h)| c == "E012"
                && m.contains(&format!(
                    "`media` is an S3 bucket in `prod`: it has no `{key}` to bind"
                ))
                && h.contains("IAM role")),
            "{diags:#?}"
        );
    }
    // In-cluster MinIO has keys and no bucket or region of plinth's.
    let spec = SPEC.replace("mode = \"managed\"\n", "");
    let diags = check("s3-in-cluster", &spec);
    for key in ["bucket", "region"] {
        assert!(
            diags.iter().any(|(c, m, h)| c == "E012"
                && m.contains(&format!("has no connection detail `{key}`"))
                && h.contains("`endpoint`, `access-key` and `secret-key`")),
            "{diags:#?}"
        );
    }
}
