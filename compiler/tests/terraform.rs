//! The Terraform target through the public `compile` API: the generated files are parsed
//! back with hcl-rs and their key blocks asserted; every file is compared byte for byte with
//! what `terraform fmt` makes of it when terraform is installed.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use hcl::{Block, Body, Expression};
use plinth::emit::Target;

fn compile(path: &str) -> plinth::Compilation {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let options = plinth::Options {
        targets: vec![Target::Terraform],
        envs: vec![],
        lenient: false,
    };
    let c = plinth::compile(path, &text, &options);
    assert!(!c.diagnostics.has_errors(), "{path} should compile");
    c
}

/// codepal's spec without Prometheus's volume: its production then keeps every byte in
/// managed stores, and claims no volume at all.
fn codepal_without_prometheus_volume() -> plinth::Compilation {
    let path = "examples/codepal.toml";
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let text = text.replacen("storage = \"100Gi\"\n", "", 1);
    let c = plinth::compile(
        path,
        &text,
        &plinth::Options {
            targets: vec![Target::Terraform],
            envs: vec![],
            lenient: false,
        },
    );
    assert!(!c.diagnostics.has_errors(), "{path} should compile");
    c
}

fn file(c: &plinth::Compilation, path: &str) -> Body {
    let f = c
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"));
    hcl::parse(&f.contents).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

/// The block `ident "labels"…`.
fn find<'a>(body: &'a Body, ident: &str, labels: &[&str]) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == ident
                && b.labels()
                    .iter()
                    .map(|l| l.as_str())
                    .eq(labels.iter().copied())
        })
        .unwrap_or_else(|| panic!("no {ident} {labels:?}"))
}

fn attr<'a>(block: &'a Block, key: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("{} {:?} has no `{key}`", block.identifier(), block.labels()))
}

fn nested<'a>(block: &'a Block, ident: &str) -> &'a Block {
    block
        .body()
        .blocks()
        .find(|b| b.identifier() == ident)
        .unwrap_or_else(|| panic!("no nested {ident}"))
}

fn string(e: &Expression) -> &str {
    match e {
        Expression::String(s) => s,
        other => panic!("expected a string, got {other}"),
    }
}

/// An expression as HCL text, for references and calls.
fn text(e: &Expression) -> String {
    let mut f = hcl::format::Formatter::builder()
        .compact(true)
        .prefer_ident_keys(true)
        .build_vec();
    hcl::format::Format::format_string(e, &mut f).unwrap()
}

fn examples_and_fixtures() -> Vec<String> {
    let mut v: Vec<String> = toml_files("examples").iter().map(|p| shown(p)).collect();
    v.extend(
        toml_files("compiler/tests/fixtures/valid")
            .iter()
            .map(|p| shown(p)),
    );
    v
}

#[test]
fn terraform_block_pins_versions_and_the_s3_backend() {
    let c = compile("examples/codepal.toml");
    let body = file(&c, "terraform/production/versions.tf");
    let tf = find(&body, "terraform", &[]);
    // 1.11: the first with write-only arguments, through which the generated database
    // password reaches RDS.
    assert_eq!(string(attr(tf, "required_version")), ">= 1.11");
    let providers = nested(tf, "required_providers");
    for (name, source) in [
        ("aws", "hashicorp/aws"),
        ("helm", "hashicorp/helm"),
        ("kubernetes", "hashicorp/kubernetes"),
        // Production's services bind the RDS password, which Terraform generates.
        ("random", "hashicorp/random"),
    ] {
        let p = text(attr(providers, name));
        assert!(p.contains(&format!("source = \"{source}\"")), "{p}");
        assert!(p.contains("version = \"~> "), "{name} is not pinned: {p}");
    }
    // Helm provider 3.x takes the connection as object attributes; the kubernetes provider
    // keeps `exec` a block. Both get a token from the AWS CLI.
    let providers = file(&c, "terraform/production/providers.tf");
    let helm = text(attr(find(&providers, "provider", &["helm"]), "kubernetes"));
    assert!(helm.contains("exec = {"), "{helm}");
    assert!(helm.contains("\"get-token\""), "{helm}");
    let kubernetes = find(&providers, "provider", &["kubernetes"]);
    assert_eq!(
        text(attr(kubernetes, "host")),
        "module.eks.cluster_endpoint"
    );
    assert!(text(attr(nested(kubernetes, "exec"), "args")).contains("\"get-token\""));
    let backend = find(tf.body(), "backend", &["s3"]);
    assert_eq!(string(attr(backend, "bucket")), "codepal-terraform-state");
    assert_eq!(string(attr(backend, "key")), "production/terraform.tfstate");
    assert_eq!(string(attr(backend, "region")), "us-east-1");
    assert_eq!(
        string(attr(backend, "dynamodb_table")),
        "codepal-terraform-locks"
    );
    assert_eq!(attr(backend, "encrypt"), &Expression::Bool(true));
}

#[test]
fn network_and_cluster_use_pinned_registry_modules() {
    let c = compile("examples/codepal.toml");
    let main = file(&c, "terraform/staging/main.tf");
    let vpc = find(&main, "module", &["vpc"]);
    assert_eq!(string(attr(vpc, "source")), "terraform-aws-modules/vpc/aws");
    assert!(string(attr(vpc, "version"))
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.'));
    for flag in [
        "enable_nat_gateway",
        "one_nat_gateway_per_az",
        "enable_flow_log",
    ] {
        assert_eq!(attr(vpc, flag), &Expression::Bool(true), "{flag}");
    }
    assert!(text(attr(vpc, "private_subnets")).contains("cidrsubnet(var.vpc_cidr, 4, k)"));
    let eks = find(&main, "module", &["eks"]);
    assert_eq!(string(attr(eks, "source")), "terraform-aws-modules/eks/aws");
    assert_eq!(
        text(attr(eks, "eks_managed_node_groups")),
        "var.node_groups"
    );
    // checkov does not download modules, so the settings its checks would look for inside
    // them are asserted on the module inputs: every control-plane log type (CKV_AWS_37),
    // encrypted Secrets (CKV_AWS_58), no public endpoint unless networks are listed
    // (CKV_AWS_38/39), KMS-encrypted log groups (CKV_AWS_158), flow logs (CKV2_AWS_11).
    assert_eq!(
        text(attr(eks, "enabled_log_types")),
        "[\"api\", \"audit\", \"authenticator\", \"controllerManager\", \"scheduler\"]"
    );
    assert_eq!(
        text(attr(eks, "encryption_config")),
        "{ resources = [\"secrets\"] }"
    );
    assert_eq!(
        text(attr(eks, "endpoint_public_access")),
        "length(var.cluster_endpoint_public_access_cidrs) > 0"
    );
    for (module, key) in [
        (eks, "cloudwatch_log_group_kms_key_id"),
        (vpc, "flow_log_cloudwatch_log_group_kms_key_id"),
    ] {
        assert_eq!(text(attr(module, key)), "aws_kms_key.main.arn");
    }
    assert_eq!(text(attr(eks, "kubernetes_version")), "var.cluster_version");
    // Node groups scale between the bounds the environment gives them; the autoscaler has
    // an IRSA role and a release.
    let vars = file(&c, "terraform/staging/variables.tf");
    let public = find(&vars, "variable", &["cluster_endpoint_public_access_cidrs"]);
    assert_eq!(text(attr(public, "default")), "[]");
    let groups = text(attr(find(&vars, "variable", &["node_groups"]), "default"));
    assert!(groups.contains("min_size = 2"), "{groups}");
    assert!(groups.contains("max_size = 4"), "{groups}");
    assert!(groups.contains("capacity_type = \"SPOT\""), "{groups}");
    find(&main, "module", &["cluster_autoscaler_irsa"]);
    let helm = file(&c, "terraform/staging/helm.tf");
    let autoscaler = find(&helm, "resource", &["helm_release", "cluster_autoscaler"]);
    // Like every release, it waits for the cluster (and is removed before it).
    assert_eq!(text(attr(autoscaler, "depends_on")), "[module.eks]");
    // Staging keeps its data stores in the cluster: no managed stores.
    assert!(!c
        .files
        .iter()
        .any(|f| f.path == "terraform/staging/datastores.tf"));
}

#[test]
fn fixed_size_node_groups_need_no_cluster_autoscaler() {
    let c = compile("compiler/tests/fixtures/valid/cloud-managed.toml");
    let main = file(&c, "terraform/production/main.tf");
    assert!(!main.blocks().any(|b| b
        .labels()
        .iter()
        .any(|l| l.as_str() == "cluster_autoscaler_irsa")));
    let vars = file(&c, "terraform/production/variables.tf");
    let zones = text(attr(
        find(&vars, "variable", &["availability_zones"]),
        "default",
    ));
    assert_eq!(zones, "[\"eu-west-1a\", \"eu-west-1b\"]");
}

#[test]
fn rds_postgres_is_multi_az_encrypted_protected_and_has_no_password() {
    let c = compile("compiler/tests/fixtures/valid/cloud-managed.toml");
    let ds = file(&c, "terraform/production/datastores.tf");
    let db = find(&ds, "resource", &["aws_db_instance", "db"]);
    for flag in [
        "multi_az",
        "storage_encrypted",
        "deletion_protection",
        "manage_master_user_password",
        "performance_insights_enabled",
    ] {
        assert_eq!(attr(db, flag), &Expression::Bool(true), "{flag}");
    }
    assert_eq!(attr(db, "publicly_accessible"), &Expression::Bool(false));
    assert_eq!(text(attr(db, "backup_retention_period")), "14");
    assert_eq!(string(attr(db, "engine_version")), "15");
    assert_eq!(string(attr(db, "instance_class")), "db.m7g.large");
    assert_eq!(string(attr(db, "db_name")), "shop");
    assert_eq!(string(attr(db, "username")), "shop_admin");
    assert!(!db.body().attributes().any(|a| a.key() == "password"));
    let replicas = find(&ds, "resource", &["aws_db_instance", "db_replica"]);
    assert_eq!(text(attr(replicas, "count")), "2");
    assert_eq!(
        text(attr(replicas, "replicate_source_db")),
        "aws_db_instance.db.identifier"
    );
    let params = find(&ds, "resource", &["aws_db_parameter_group", "db"]);
    assert_eq!(string(attr(params, "family")), "postgres15");
    assert!(params.body().blocks().any(|p| p.identifier() == "parameter"
        && string(attr(p, "name")) == "rds.force_ssl"
        && string(attr(p, "value")) == "1"));
    // A daily schedule sets the backup window (codepal: "0 3 * * *").
    let c = compile("examples/codepal.toml");
    let ds = file(&c, "terraform/production/datastores.tf");
    let db = find(&ds, "resource", &["aws_db_instance", "postgres"]);
    assert_eq!(string(attr(db, "backup_window")), "03:00-04:00");
    assert_eq!(text(attr(db, "backup_retention_period")), "30");
}

#[test]
fn elasticache_fails_over_encrypts_and_reads_its_token_from_secrets_manager() {
    let c = compile("compiler/tests/fixtures/valid/cloud-managed.toml");
    let ds = file(&c, "terraform/production/datastores.tf");
    let redis = find(
        &ds,
        "resource",
        &["aws_elasticache_replication_group", "cache"],
    );
    for flag in [
        "automatic_failover_enabled",
        "multi_az_enabled",
        "at_rest_encryption_enabled",
        "transit_encryption_enabled",
    ] {
        assert_eq!(attr(redis, flag), &Expression::Bool(true), "{flag}");
    }
    assert_eq!(text(attr(redis, "num_cache_clusters")), "3");
    assert_eq!(
        text(attr(redis, "auth_token")),
        "jsondecode(data.aws_secretsmanager_secret_version.cache_auth.secret_string)[\"token\"]"
    );
    let secret = find(
        &ds,
        "data",
        &["aws_secretsmanager_secret_version", "cache_auth"],
    );
    assert_eq!(
        string(attr(secret, "secret_id")),
        "shop/production/cache-auth"
    );
}

#[test]
fn object_storage_is_a_versioned_encrypted_private_bucket() {
    let c = compile("compiler/tests/fixtures/valid/cloud-managed.toml");
    let ds = file(&c, "terraform/production/datastores.tf");
    let bucket = find(&ds, "resource", &["aws_s3_bucket", "media"]);
    assert_eq!(string(attr(bucket, "bucket")), "shop-production-media");
    let versioning = find(&ds, "resource", &["aws_s3_bucket_versioning", "media"]);
    assert_eq!(
        string(attr(
            nested(versioning, "versioning_configuration"),
            "status"
        )),
        "Enabled"
    );
    let sse = find(
        &ds,
        "resource",
        &[
            "aws_s3_bucket_server_side_encryption_configuration",
            "media",
        ],
    );
    let default = nested(
        nested(sse, "rule"),
        "apply_server_side_encryption_by_default",
    );
    assert_eq!(string(attr(default, "sse_algorithm")), "aws:kms");
    let block = find(
        &ds,
        "resource",
        &["aws_s3_bucket_public_access_block", "media"],
    );
    for flag in [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ] {
        assert_eq!(attr(block, flag), &Expression::Bool(true), "{flag}");
    }
    // Old versions are kept for the backup retention (90 days).
    let lifecycle = find(
        &ds,
        "resource",
        &["aws_s3_bucket_lifecycle_configuration", "media"],
    );
    let expiry = nested(nested(lifecycle, "rule"), "noncurrent_version_expiration");
    assert_eq!(text(attr(expiry, "noncurrent_days")), "90");
    // Its access logs go to the log bucket, whose own checkov exceptions are annotated.
    let main = c
        .files
        .iter()
        .find(|f| f.path == "terraform/production/main.tf")
        .unwrap();
    let logs = main
        .contents
        .split("resource \"aws_s3_bucket\" \"logs\" {\n")
        .nth(1)
        .unwrap();
    let logs = &logs[..logs.find("\n}").unwrap()];
    assert!(logs.contains("  #checkov:skip=CKV_AWS_18:"), "{logs}");
    assert!(logs.contains("  #checkov:skip=CKV_AWS_145:"), "{logs}");
}

#[test]
fn helm_releases_install_the_platform_chart_and_the_observability_stack() {
    let c = compile("examples/devmentor.toml");
    let helm = file(&c, "terraform/staging/helm.tf");
    let platform = find(&helm, "resource", &["helm_release", "platform"]);
    assert_eq!(
        text(attr(platform, "chart")),
        "\"${path.module}/../../helm/devmentor\""
    );
    assert_eq!(
        text(attr(platform, "values")),
        "[file(\"${path.module}/../../helm/devmentor/values-staging.yaml\")]"
    );
    assert_eq!(string(attr(platform, "namespace")), "devmentor-app");
    // Loki from grafana-community and Alloy from grafana, each from its generated values.
    let loki = find(&helm, "resource", &["helm_release", "loki"]);
    assert_eq!(string(attr(loki, "chart")), "loki");
    assert_eq!(
        string(attr(loki, "repository")),
        "https://grafana-community.github.io/helm-charts"
    );
    assert_eq!(
        text(attr(loki, "values")),
        "[file(\"${path.module}/../../helm/values-loki-staging.yaml\")]"
    );
    // Its volume is claimed from the default StorageClass Terraform creates.
    assert!(text(attr(loki, "depends_on")).contains("kubernetes_storage_class_v1.gp3"));
    let alloy = find(&helm, "resource", &["helm_release", "alloy"]);
    assert_eq!(string(attr(alloy, "chart")), "alloy");
    assert_eq!(
        text(attr(alloy, "values")),
        "[file(\"${path.module}/../../helm/values-alloy-staging.yaml\")]"
    );
    assert_eq!(text(attr(alloy, "depends_on")), "[helm_release.loki]");
    let prom = find(
        &helm,
        "resource",
        &["helm_release", "kube_prometheus_stack"],
    );
    assert_eq!(string(attr(prom, "chart")), "kube-prometheus-stack");
    assert_eq!(string(attr(prom, "namespace")), "monitoring");
    // The chart gets the values file the Helm target writes, rules and Alertmanager
    // configuration included, not a subset of it.
    assert_eq!(
        text(attr(prom, "values")),
        "[file(\"${path.module}/../../helm/values-kube-prometheus-stack-staging.yaml\")]"
    );
    // Managed stores are created before the platform that uses them.
    let c = compile("examples/codepal.toml");
    let helm = file(&c, "terraform/production/helm.tf");
    let platform = find(&helm, "resource", &["helm_release", "platform"]);
    let deps = text(attr(platform, "depends_on"));
    assert!(deps.contains("aws_db_instance.postgres"), "{deps}");
    assert!(
        deps.contains("aws_elasticache_replication_group.redis"),
        "{deps}"
    );
    assert!(!helm
        .blocks()
        .any(|b| b.labels().iter().any(|l| l.as_str() == "loki")));
}

#[test]
fn cdn_fronts_the_ingress_hosts_behind_a_firewall() {
    let c = compile("examples/codepal.toml");
    let cdn = file(&c, "terraform/production/cdn.tf");
    let dist = find(&cdn, "resource", &["aws_cloudfront_distribution", "cdn"]);
    // Every host the routes answer on, the one that redirects (www) too: its record points
    // at CloudFront, which answers only its aliases.
    assert_eq!(
        text(attr(dist, "aliases")),
        "[\"api.codepal.com\", \"app.codepal.com\", \"www.codepal.com\"]"
    );
    assert_eq!(text(attr(dist, "web_acl_id")), "aws_wafv2_web_acl.cdn.arn");
    let cert = nested(dist, "viewer_certificate");
    assert_eq!(
        string(attr(cert, "minimum_protocol_version")),
        "TLSv1.2_2021"
    );
    let acl = find(&cdn, "resource", &["aws_wafv2_web_acl", "cdn"]);
    assert_eq!(text(attr(acl, "provider")), "aws.us_east_1");
    // With the environment's Route 53 zone, origin and certificate are not inputs
    // (`tests/cdn.rs` covers them, and the inputs without a zone).
    let vars = file(&c, "terraform/production/variables.tf");
    assert!(!vars
        .blocks()
        .any(|b| b.labels().iter().any(|l| l.as_str().starts_with("cdn_"))));
    // devmentor asks for no CDN.
    let c = compile("examples/devmentor.toml");
    assert!(!c.files.iter().any(|f| f.path.ends_with("/cdn.tf")));
}

#[test]
fn a_spec_without_a_cloud_section_produces_no_terraform_and_says_so() {
    let c = compile("examples/learning-assistant.toml");
    assert!(c.files.is_empty());
    assert!(
        c.notes
            .iter()
            .any(|n| n.target == Target::Terraform
                && n.message.contains("no environment has a cloud")),
        "{:?}",
        c.notes
    );
    // The tutoring marketplace has no cloud either, but production's Cloudflare zone gets a
    // Terraform of its own (`tests/dns.rs`); the other environments none.
    let c = compile("examples/tutoring-marketplace.toml");
    let paths: Vec<&str> = c.files.iter().map(|f| f.path.as_str()).collect();
    assert!(
        paths.iter().all(|p| p.starts_with("terraform/production/")),
        "{paths:?}"
    );
    assert!(
        c.notes
            .iter()
            .any(|n| n.target == Target::Terraform
                && n.message.contains("no cloud for dev, staging")),
        "{:?}",
        c.notes
    );
}

#[test]
fn no_secret_value_is_written() {
    for spec in examples_and_fixtures() {
        let c = compile(&spec);
        for f in &c.files {
            for line in f.contents.lines() {
                let key = line.split('=').next().unwrap_or_default().trim();
                assert!(
                    !matches!(key, "password" | "master_password"),
                    "{}: {line}",
                    f.path
                );
                // The one secret Terraform writes is a managed store's connection details:
                // references to what it creates, and a password only as read from the
                // secret that holds it.
                if key == "secret_string" {
                    let value = line.split_once('=').unwrap().1.trim();
                    assert!(value.starts_with("jsonencode({"), "{line}");
                    assert!(
                        !value.contains("://:")
                            || value.contains("data.aws_secretsmanager_secret_version"),
                        "{line}"
                    );
                }
                if key == "auth_token" {
                    assert!(line.contains("aws_secretsmanager_secret_version"), "{line}");
                }
            }
        }
    }
}

#[test]
fn every_file_parses_and_has_the_banner() {
    for spec in examples_and_fixtures() {
        let c = compile(&spec);
        for f in &c.files {
            assert!(
                f.contents
                    .starts_with(&format!("# {}\n", plinth::ir::naming::banner(&spec))),
                "{}",
                f.path
            );
            hcl::parse(&f.contents).unwrap_or_else(|e| panic!("{}: {e}", f.path));
        }
    }
}

/// Runs `terraform fmt -` on a text; `None` when terraform is not installed.
fn terraform_fmt(text: &str) -> Option<String> {
    let mut child = Command::new("terraform")
        .args(["fmt", "-"])
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "terraform fmt rejected the file:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn output_is_byte_identical_to_terraform_fmt() {
    if terraform_fmt("").is_none() {
        eprintln!("terraform is not on PATH: skipping the byte comparison with terraform fmt");
        return;
    }
    let mut checked = 0;
    for spec in examples_and_fixtures() {
        let c = compile(&spec);
        for f in &c.files {
            let formatted = terraform_fmt(&f.contents).unwrap();
            assert!(
                formatted == f.contents,
                "{spec} {}: terraform fmt changes it:\n{}",
                f.path,
                diff(&f.contents, &formatted)
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no Terraform generated at all");
}

/// The lines that differ, for a readable failure.
fn diff(ours: &str, theirs: &str) -> String {
    ours.lines()
        .zip(theirs.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .take(10)
        .map(|(n, (a, b))| format!("line {}:\n  ours:      {a}\n  terraform: {b}", n + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The cluster's own add-ons come through the eks module: the VPC CNI before the nodes and
/// enforcing the NetworkPolicies every environment has, CoreDNS, kube-proxy and, where pods
/// claim volumes, the EBS CSI driver with an IRSA role that may use the environment's key.
#[test]
fn eks_add_ons_enforce_network_policies_and_provision_volumes() {
    let c = compile("examples/devmentor.toml");
    let main = file(&c, "terraform/production/main.tf");
    let eks = find(&main, "module", &["eks"]);
    let addons = match attr(eks, "addons") {
        Expression::Object(o) => o,
        other => panic!("addons is not an object: {other}"),
    };
    let addon = |name: &str| {
        addons
            .iter()
            .find(|(k, _)| k.to_string() == name)
            .map(|(_, v)| text(v))
            .unwrap_or_else(|| panic!("no add-on {name}"))
    };
    assert_eq!(addon("coredns"), "{}");
    assert_eq!(addon("kube-proxy"), "{}");
    let cni = addon("vpc-cni");
    assert!(cni.contains("before_compute = true"), "{cni}");
    assert!(
        cni.contains("configuration_values = jsonencode({ enableNetworkPolicy = \"true\" })"),
        "{cni}"
    );
    assert_eq!(
        addon("aws-ebs-csi-driver"),
        "{ service_account_role_arn = module.ebs_csi_irsa.arn }"
    );
    let role = find(&main, "module", &["ebs_csi_irsa"]);
    assert_eq!(attr(role, "attach_ebs_csi_policy"), &Expression::Bool(true));
    assert_eq!(
        text(attr(role, "ebs_csi_kms_cmk_arns")),
        "[aws_kms_key.main.arn]"
    );
    assert_eq!(attr(role, "use_name_prefix"), &Expression::Bool(false));
    assert!(text(attr(role, "oidc_providers"))
        .contains("namespace_service_accounts = [\"kube-system:ebs-csi-controller-sa\"]"));
    // codepal's production keeps its data in managed stores: without Prometheus's volume
    // there are no volumes, and no driver.
    let c = codepal_without_prometheus_volume();
    let main = file(&c, "terraform/production/main.tf");
    let addons = text(attr(find(&main, "module", &["eks"]), "addons"));
    assert!(!addons.contains("aws-ebs-csi-driver"), "{addons}");
    assert!(addons.contains("enableNetworkPolicy"), "{addons}");
    // With it (003's 100 GB), Prometheus's claims need both.
    let c = compile("examples/codepal.toml");
    let main = file(&c, "terraform/production/main.tf");
    let addons = text(attr(find(&main, "module", &["eks"]), "addons"));
    assert!(addons.contains("aws-ebs-csi-driver"), "{addons}");
}

/// Where pods claim volumes, Terraform creates the default StorageClass they get: gp3,
/// encrypted with the environment's key, bound where the pod is scheduled, expandable.
#[test]
fn volume_claims_get_an_encrypted_default_storage_class() {
    let c = compile("examples/devmentor.toml");
    let k8s = file(&c, "terraform/staging/kubernetes.tf");
    let class = find(&k8s, "resource", &["kubernetes_storage_class_v1", "gp3"]);
    let meta = nested(class, "metadata");
    assert_eq!(string(attr(meta, "name")), "gp3");
    assert_eq!(
        text(attr(meta, "annotations")),
        "{ \"storageclass.kubernetes.io/is-default-class\" = \"true\" }"
    );
    assert_eq!(
        string(attr(class, "storage_provisioner")),
        "ebs.csi.aws.com"
    );
    assert_eq!(
        string(attr(class, "volume_binding_mode")),
        "WaitForFirstConsumer"
    );
    assert_eq!(
        attr(class, "allow_volume_expansion"),
        &Expression::Bool(true)
    );
    let parameters = text(attr(class, "parameters"));
    for p in [
        "type = \"gp3\"",
        "encrypted = \"true\"",
        "kmsKeyId = aws_kms_key.main.arn",
    ] {
        assert!(parameters.contains(p), "{parameters}");
    }
    // The platform's claims are made after the class exists, so they get it.
    let helm = file(&c, "terraform/staging/helm.tf");
    let platform = find(&helm, "resource", &["helm_release", "platform"]);
    assert!(text(attr(platform, "depends_on")).contains("kubernetes_storage_class_v1.gp3"));
    let c = codepal_without_prometheus_volume();
    let k8s = file(&c, "terraform/production/kubernetes.tf");
    assert!(!k8s.blocks().any(|b| b
        .labels()
        .iter()
        .any(|l| l.as_str() == "kubernetes_storage_class_v1")));
}

/// Terraform creates the platform's namespace with exactly the labels of the k8s target's
/// Namespace, Pod Security enforcement included, and the platform's release installs into it
/// without creating it.
#[test]
fn the_terraform_namespace_has_the_labels_of_the_k8s_namespace() {
    let path = "examples/devmentor.toml";
    let spec = std::fs::read_to_string(root().join(path)).unwrap();
    let options = plinth::Options {
        targets: vec![Target::Terraform, Target::K8s],
        envs: vec![],
        lenient: false,
    };
    let c = plinth::compile(path, &spec, &options);
    let yaml = &c
        .files
        .iter()
        .find(|f| f.path == "k8s/production/namespace.yaml")
        .expect("the k8s Namespace")
        .contents;
    let objects: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).unwrap();
    let namespace = objects
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .expect("a Namespace");
    let expected: std::collections::BTreeMap<String, String> =
        serde_json::from_value(namespace["metadata"]["labels"].clone()).unwrap();
    assert_eq!(
        expected
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    let k8s = file(&c, "terraform/production/kubernetes.tf");
    let ns = find(&k8s, "resource", &["kubernetes_namespace_v1", "platform"]);
    let meta = nested(ns, "metadata");
    assert_eq!(
        Some(string(attr(meta, "name"))),
        namespace["metadata"]["name"].as_str()
    );
    let labels: std::collections::BTreeMap<String, String> = match attr(meta, "labels") {
        Expression::Object(o) => o
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string().trim_matches('"').to_owned(),
                    string(v).to_owned(),
                )
            })
            .collect(),
        other => panic!("labels is not an object: {other}"),
    };
    assert_eq!(labels, expected);
    let helm = file(&c, "terraform/production/helm.tf");
    let platform = find(&helm, "resource", &["helm_release", "platform"]);
    assert_eq!(attr(platform, "create_namespace"), &Expression::Bool(false));
    assert!(text(attr(platform, "depends_on")).contains("kubernetes_namespace_v1.platform"));
}
