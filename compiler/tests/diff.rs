//! `plinth diff` and the safe writes of `plinth build`: resource-level change summaries,
//! destructive-change flags, output formats, exit codes, and an output folder that never loses
//! a file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plinth::diff::{self, render, Change, FileSet, Report, ResourceChange};

/// A small platform: two services and a PostgreSQL data store in one environment.
const BASE: &str = r#"version = 1

[platform]
name = "shop"
domain = "shop.example.com"
team = "platform"

[services.api]
image = "ghcr.io/shop/api:1.4.2"
ports = [{ name = "http", port = 8080 }]
replicas = 2
resources = { requests = { cpu = "250m", memory = "256Mi" }, limits = { cpu = "1", memory = "512Mi" } }
probes.readiness = { path = "/ready", port = "http" }
depends_on = ["db"]
secrets = { DATABASE_PASSWORD = { secret = "db-credentials", key = "password" } }

[services.worker]
image = "ghcr.io/shop/worker:1.4.2"
ports = [{ name = "http", port = 8080 }]
replicas = 1
resources = { requests = { cpu = "100m", memory = "128Mi" }, limits = { cpu = "500m", memory = "256Mi" } }
probes.readiness = { path = "/ready", port = "http" }

[datastores.db]
preset = "postgres"
version = "16.4"
storage = { size = "100Gi" }

[environments.production]
"#;

/// The worker service's section, for removing it.
fn without_worker(spec: &str) -> String {
    let start = spec.find("[services.worker]").unwrap();
    let end = spec.find("[datastores.db]").unwrap();
    format!("{}{}", &spec[..start], &spec[end..])
}

fn files(spec: &str) -> FileSet {
    // The Kubernetes manifests alone: the Helm values repeat every change below as a change
    // of their own, which would only add to each count.
    let options = plinth::Options {
        targets: vec![plinth::emit::Target::K8s],
        ..Default::default()
    };
    let c = plinth::compile("platform.toml", spec, &options);
    assert!(
        !c.diagnostics.has_errors(),
        "spec does not compile: {:?}",
        c.diagnostics
    );
    c.files.into_iter().map(|f| (f.path, f.contents)).collect()
}

fn review(old: &str, new: &str) -> Report {
    diff::compare(&files(old), &files(new))
}

fn find<'a>(report: &'a Report, kind: &str, name: &str) -> &'a ResourceChange {
    report
        .resources
        .iter()
        .find(|r| r.kind == kind && r.name.ends_with(name))
        .unwrap_or_else(|| panic!("no change to {kind} {name} in {:#?}", report.resources))
}

fn field(rc: &ResourceChange, path: &str) -> (String, String) {
    let f = rc
        .fields
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no field {path} in {:#?}", rc.fields));
    let show =
        |v: &Option<serde_json::Value>| v.as_ref().map(diff::display_value).unwrap_or_default();
    (show(&f.old), show(&f.new))
}

fn all_formats(report: &Report) -> Vec<String> {
    let o = render::Options {
        color: false,
        patch: true,
    };
    vec![
        render::human(report, &o),
        render::json(report, &o),
        render::markdown(report, &o),
    ]
}

#[test]
fn replica_change_is_one_field_of_one_deployment() {
    let report = review(BASE, &BASE.replace("replicas = 2", "replicas = 3"));
    assert_eq!(report.resources.len(), 1, "{:#?}", report.resources);
    let rc = find(&report, "Deployment", "/api");
    assert_eq!(rc.change, Change::Modified);
    assert_eq!(field(rc, "spec.replicas"), ("2".into(), "3".into()));
    assert_eq!(rc.fields.len(), 1);
    assert!(rc.risks.is_empty());
    let human = render::human(&report, &render::Options::default());
    assert!(human.contains("~ Deployment shop/api"), "{human}");
    assert!(human.contains("spec.replicas: 2 → 3"), "{human}");
}

#[test]
fn image_change_is_keyed_by_container_name() {
    let report = review(BASE, &BASE.replace("api:1.4.2", "api:1.5.0"));
    let rc = find(&report, "Deployment", "/api");
    assert_eq!(
        field(rc, "spec.template.spec.containers[api].image"),
        (
            "ghcr.io/shop/api:1.4.2".into(),
            "ghcr.io/shop/api:1.5.0".into()
        )
    );
    assert!(!rc.is_destructive());
}

#[test]
fn removed_service_lists_each_object_and_file() {
    let report = review(BASE, &without_worker(BASE));
    for kind in ["Deployment", "Service", "ServiceAccount"] {
        let rc = find(&report, kind, "/worker");
        assert_eq!(rc.change, Change::Removed, "{kind}");
        assert!(!rc.is_destructive(), "a stateless service is not state");
    }
    assert!(report
        .files
        .iter()
        .any(|f| f.path == "k8s/production/worker.yaml" && f.change == Change::Removed));
    assert_eq!(report.destructive().count(), 0);
}

#[test]
fn database_storage_change_is_destructive() {
    let report = review(BASE, &BASE.replace("\"100Gi\"", "\"50Gi\""));
    let rc = find(&report, "StatefulSet", "/db");
    assert_eq!(
        field(
            rc,
            "spec.volumeClaimTemplates[data].spec.resources.requests.storage"
        ),
        ("100Gi".into(), "50Gi".into())
    );
    assert!(rc.is_destructive());
    let reasons: Vec<&str> = rc.risks.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("volumeClaimTemplates")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("shrinks from 100Gi to 50Gi")),
        "{reasons:?}"
    );
    // Growing is still a volumeClaimTemplates change, which the API server rejects.
    let grow = review(BASE, &BASE.replace("\"100Gi\"", "\"200Gi\""));
    assert!(find(&grow, "StatefulSet", "/db").is_destructive());
    let md = render::markdown(&report, &render::Options::default());
    assert!(
        // The data volume template and the backups volume (sized like it) both shrink.
        md.contains("[!CAUTION]") && md.contains("2 destructive changes"),
        "{md}"
    );
}

#[test]
fn removed_or_replaced_data_store_is_destructive() {
    let spec = BASE.replace("depends_on = [\"db\"]\n", "");
    let start = spec.find("[datastores.db]").unwrap();
    let end = spec.find("[environments.production]").unwrap();
    let removed = format!("{}{}", &spec[..start], &spec[end..]);
    let report = review(&spec, &removed);
    let rc = find(&report, "StatefulSet", "/db");
    assert_eq!(rc.change, Change::Removed);
    assert!(
        rc.risks[0].reason.contains("removes data store"),
        "{:?}",
        rc.risks
    );
    // A major version upgrade of PostgreSQL needs pg_upgrade; it also rolls the pods.
    let upgraded = review(BASE, &BASE.replace("\"16.4\"", "\"17.2\""));
    let rc = find(&upgraded, "StatefulSet", "/db");
    assert!(rc.is_destructive(), "{:?}", rc.risks);
    assert!(rc.risks.iter().any(|r| r.reason.contains("from 16 to 17")));
}

#[test]
fn a_redis_growing_a_sentinel_flags_its_immutable_fields() {
    // One Redis node has a headless governing Service of its own name; three nodes move the
    // StatefulSet to `<store>-nodes` and make `<store>` the proxy's Service with a cluster IP.
    let one = format!("{BASE}\n[datastores.cache]\npreset = \"redis\"\n");
    let three = format!("{BASE}\n[datastores.cache]\npreset = \"redis\"\nreplicas = 3\n");
    let report = review(&one, &three);
    let service = find(&report, "Service", "/cache");
    assert_eq!(
        field(service, "spec.clusterIP"),
        ("None".to_owned(), String::new())
    );
    assert!(service.is_destructive(), "{:?}", service.risks);
    assert!(service.risks.iter().any(|r| r
        .reason
        .contains("`spec.clusterIP` of a Service is immutable")));
    let set = find(&report, "StatefulSet", "/cache");
    assert!(set.risks.iter().any(|r| r
        .reason
        .contains("`spec.serviceName` of a StatefulSet is immutable")));
}

#[test]
fn secret_reference_change_shows_only_the_reference() {
    let new = BASE.replace(
        "{ secret = \"db-credentials\", key = \"password\" }",
        "{ secret = \"db-credentials-v2\", key = \"db-password\" }",
    );
    let report = review(BASE, &new);
    let rc = find(&report, "Deployment", "/api");
    assert!(!rc.fields.is_empty());
    for f in &rc.fields {
        assert!(
            f.path.contains(".valueFrom.secretKeyRef."),
            "a secret change touches only its reference: {}",
            f.path
        );
    }
    for text in all_formats(&report) {
        assert!(text.contains("secretKeyRef"), "{text}");
        assert!(text.contains("db-credentials-v2"));
        assert!(!text.contains("stringData") && !text.contains("kind: Secret"));
    }
    // Should a Secret object with data ever be compared, its values never appear.
    let secret = |v: &str| {
        FileSet::from([(
            "k8s/production/secret.yaml".to_owned(),
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\nstringData:\n  password: {v}\n"),
        )])
    };
    let mut report = diff::compare(&secret("hunter2-old"), &secret("hunter2-new"));
    let rc = find(&report, "Secret", "ns/s");
    assert_eq!(rc.fields.len(), 1);
    assert!(rc.fields[0]
        .new
        .as_ref()
        .unwrap()
        .as_str()
        .unwrap()
        .contains("redacted"));
    report.files.clear(); // The patch is the raw file; the resource report never has values.
    for text in all_formats(&report) {
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[test]
fn json_and_markdown_formats() {
    let report = review(BASE, &BASE.replace("replicas = 2", "replicas = 3"));
    let o = render::Options::default();
    let v: serde_json::Value = serde_json::from_str(&render::json(&report, &o)).unwrap();
    assert_eq!(v["changes"], true);
    assert_eq!(v["summary"]["resources"]["changed"], 1);
    let r = &v["resources"][0];
    assert_eq!(r["kind"], "Deployment");
    assert_eq!(r["fields"][0]["path"], "spec.replicas");
    assert_eq!(r["fields"][0]["old"], 2);
    assert_eq!(r["fields"][0]["new"], 3);
    let md = render::markdown(
        &report,
        &render::Options {
            color: false,
            patch: true,
        },
    );
    assert!(md.contains("| changed | `Deployment shop/api` |"), "{md}");
    assert!(md.contains("`spec.replicas`: `2` → `3`"), "{md}");
    assert!(md.contains("<details>") && md.contains("```diff"), "{md}");
    let none = diff::compare(&files(BASE), &files(BASE));
    assert!(!none.has_changes());
    assert!(render::human(&none, &o).contains("no changes"));
}

/// Other targets' folders are parsed generically: their files are built here by hand.
fn set(files: &[(&str, &str)]) -> FileSet {
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn terraform_blocks_by_address() {
    let old = set(&[(
        "terraform/production/main.tf",
        r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
  backend "s3" {
    bucket         = "shop-terraform-state"
    dynamodb_table = "shop-terraform-locks"
  }
}
locals {
  tags = { project = "shop" }
}
data "aws_availability_zones" "available" {}
resource "aws_s3_bucket" "assets" {
  bucket = "shop-assets"
  tags   = local.tags
  lifecycle {
    prevent_destroy = true
  }
}
module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
  cidr   = "10.0.0.0/16"
}
module "rds" {
  source            = "terraform-aws-modules/rds/aws"
  engine            = "postgres"
  allocated_storage = 100
  instance_class    = "db.t3.medium"
}
resource "aws_db_instance" "main" {
  engine            = "postgres"
  allocated_storage = 100
}
"#,
    )]);
    let new = set(&[(
        "terraform/production/main.tf",
        r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
  backend "s3" {
    bucket         = "shop-terraform-state"
    dynamodb_table = "shop-terraform-locks"
  }
}
locals {
  tags = { project = "shop" }
}
data "aws_availability_zones" "available" {}
resource "aws_s3_bucket" "assets" {
  bucket = "shop-assets-v2"
  tags   = local.tags
  lifecycle {
    prevent_destroy = true
  }
}
module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
  cidr   = "10.1.0.0/16"
}
resource "aws_db_instance" "main" {
  engine            = "mysql"
  allocated_storage = 50
}
"#,
    )]);
    let report = diff::compare(&old, &new);
    assert!(
        report.resources.iter().all(|r| r.kind != "file"),
        "parsed as HCL"
    );
    let bucket = find(&report, "resource", "aws_s3_bucket.assets");
    assert_eq!(report.resources.len(), 4, "{:#?}", report.resources);
    assert!(bucket.risks[0]
        .reason
        .contains("replace `aws_s3_bucket.assets`"));
    let vpc = find(&report, "module", "module.vpc");
    assert_eq!(
        field(vpc, "cidr"),
        ("10.0.0.0/16".into(), "10.1.0.0/16".into())
    );
    assert!(vpc.risks.is_empty());
    let rds = find(&report, "module", "module.rds");
    assert_eq!(rds.change, Change::Removed);
    assert!(rds.is_destructive());
    let db = find(&report, "resource", "aws_db_instance.main");
    assert!(
        db.risks.iter().any(|r| r.reason.contains("`engine`")),
        "{:?}",
        db.risks
    );
    assert!(db
        .risks
        .iter()
        .any(|r| r.reason.contains("shrinks from 100 to 50")));
}

#[test]
fn alert_rules_receivers_routes_and_compose_services_by_name() {
    let rules = |expr: &str| {
        format!(
            "# generated by plinth from platform.toml, do not edit\ngroups:\n- name: api\n  rules:\n  - alert: HighErrorRate\n    expr: {expr}\n    for: 5m\n  - alert: ApiDown\n    expr: up == 0\n"
        )
    };
    let am = |receivers: &str| {
        format!("route:\n  receiver: slack\n  routes:\n  - receiver: pagerduty\n    matchers: ['severity=\"critical\"']\nreceivers:\n{receivers}")
    };
    let compose = |image: &str| {
        format!("services:\n  api:\n    image: ghcr.io/shop/api:1\n  db:\n    image: {image}\n    volumes: ['db-data:/var/lib/postgresql/data']\nvolumes:\n  db-data: {{}}\n")
    };
    let old = set(&[
        (
            "prometheus/production/rules.yaml",
            &rules("rate(x[5m]) > 0.05"),
        ),
        ("alertmanager/alertmanager.yaml", &am("- name: slack\n")),
        ("compose/compose.yaml", &compose("postgres:16")),
    ]);
    let new = set(&[
        (
            "prometheus/production/rules.yaml",
            &rules("rate(x[5m]) > 0.01"),
        ),
        (
            "alertmanager/alertmanager.yaml",
            &am("- name: slack\n- name: pagerduty\n"),
        ),
        ("compose/compose.yaml", &compose("mysql:8")),
    ]);
    let report = diff::compare(&old, &new);
    let alert = find(&report, "alert", "api/HighErrorRate");
    assert_eq!(
        field(alert, "expr"),
        ("rate(x[5m]) > 0.05".into(), "rate(x[5m]) > 0.01".into())
    );
    assert!(report.resources.iter().all(|r| r.name != "api/ApiDown"));
    assert_eq!(find(&report, "receiver", "pagerduty").change, Change::Added);
    let db = find(&report, "service", "db");
    assert!(
        db.is_destructive(),
        "an engine change of a stateful service: {:?}",
        db.risks
    );
}

#[test]
fn unparseable_files_fall_back_to_text() {
    let old = set(&[(
        "helm/shop/templates/api.yaml",
        "replicas: {{ .Values.replicas }}\n",
    )]);
    let new = set(&[(
        "helm/shop/templates/api.yaml",
        "replicas: {{ .Values.count }}\n",
    )]);
    let report = diff::compare(&old, &new);
    assert_eq!(report.resources.len(), 1);
    assert_eq!(report.resources[0].kind, "file");
    assert!(report.files[0]
        .unified()
        .contains("+replicas: {{ .Values.count }}"));
}

// --- the binary: exit codes and the output folder -------------------------------------------

fn plinth(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("plinth-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn show(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir` with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap().path();
            if e.is_dir() {
                files.push((e.strip_prefix(dir).unwrap().to_path_buf(), Vec::new()));
                stack.push(e);
            } else {
                files.push((
                    e.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&e).unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn drift_exit_codes() {
    let d = tempdir("drift");
    std::fs::write(d.join("platform.toml"), BASE).unwrap();
    assert_eq!(
        code(&plinth(&["diff"], &d)),
        2,
        "nothing built yet: all files added"
    );
    let build = plinth(&["build"], &d);
    assert_eq!(code(&build), 0, "{}", show(&build));
    let clean = plinth(&["diff"], &d);
    assert_eq!(code(&clean), 0, "{}", show(&clean));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("no changes"));
    // A hand-written file beside the output is not drift.
    std::fs::write(d.join("out/k8s/production/extra.yaml"), "kind: ConfigMap\n").unwrap();
    assert_eq!(code(&plinth(&["diff"], &d)), 0);
    std::fs::write(
        d.join("platform.toml"),
        BASE.replace("replicas = 2", "replicas = 3"),
    )
    .unwrap();
    let drift = plinth(&["diff", "--out", "out"], &d);
    assert_eq!(code(&drift), 2, "{}", show(&drift));
    let text = String::from_utf8_lossy(&drift.stdout);
    assert!(text.contains("spec.replicas: 2 → 3"), "{text}");
    assert!(
        text.contains("+  replicas: 3") && text.contains("-  replicas: 2"),
        "unified diff: {text}"
    );
    assert!(!text.contains('\x1b'), "no colour off a terminal");
    // A generated file deleted by hand is drift too.
    assert_eq!(code(&plinth(&["build"], &d)), 0);
    std::fs::remove_file(d.join("out/k8s/production/worker.yaml")).unwrap();
    assert_eq!(code(&plinth(&["diff"], &d)), 2);
    std::fs::write(d.join("platform.toml"), "version = 1\n[platform]\n").unwrap();
    assert_eq!(code(&plinth(&["diff"], &d)), 1, "invalid spec");
    assert_eq!(
        code(&plinth(&["diff", "missing.toml"], &d)),
        1,
        "missing spec"
    );
}

/// Drift leaves the target folders without any difference out of both sides before comparing
/// (so that an up-to-date folder is read one file at a time). The report must still be what
/// comparing every file gives, which a review of the same two specs does.
#[test]
fn drift_reports_what_comparing_every_file_reports() {
    let d = tempdir("drift-narrowed");
    std::fs::write(d.join("platform.toml"), BASE).unwrap();
    assert_eq!(code(&plinth(&["build"], &d)), 0);
    std::fs::write(d.join("old.toml"), BASE).unwrap();
    let changed = BASE.replace("replicas = 2", "replicas = 3");
    std::fs::write(d.join("platform.toml"), &changed).unwrap();
    // A hand edit late in a folder that also has a spec change: the files before it are read
    // again once the folder is known to differ.
    let last = d.join("out/k8s/production/worker.yaml");
    let edited = std::fs::read_to_string(&last).unwrap() + "# edited by hand\n";
    std::fs::write(&last, &edited).unwrap();
    let drift = plinth(&["diff", "--format", "json"], &d);
    assert_eq!(code(&drift), 2, "{}", show(&drift));
    // The review sees the hand edit too when the old side is that folder's own text, so it
    // is compared without it: both runs then differ only by that one file.
    std::fs::write(&last, edited.replace("# edited by hand\n", "")).unwrap();
    let drift_clean = plinth(&["diff", "--format", "json"], &d);
    let review = plinth(
        &[
            "diff",
            "old.toml",
            "platform.toml",
            "--format",
            "json",
            "--patch",
        ],
        &d,
    );
    assert_eq!(code(&review), 2, "{}", show(&review));
    assert_eq!(
        String::from_utf8_lossy(&drift_clean.stdout),
        String::from_utf8_lossy(&review.stdout)
    );
    let text = String::from_utf8_lossy(&drift.stdout);
    assert!(text.contains("edited by hand"), "{text}");
    assert!(text.contains("worker.yaml"), "{text}");
}

#[test]
fn review_exit_codes_and_fail_on_destructive() {
    let d = tempdir("review");
    std::fs::write(d.join("old.toml"), BASE).unwrap();
    std::fs::write(d.join("same.toml"), BASE).unwrap();
    std::fs::write(
        d.join("more.toml"),
        BASE.replace("replicas = 2", "replicas = 3"),
    )
    .unwrap();
    std::fs::write(d.join("shrink.toml"), BASE.replace("\"100Gi\"", "\"50Gi\"")).unwrap();
    assert_eq!(code(&plinth(&["diff", "old.toml", "same.toml"], &d)), 0);
    assert_eq!(code(&plinth(&["diff", "old.toml", "more.toml"], &d)), 2);
    let policy = ["--fail-on-destructive"];
    assert_eq!(
        code(&plinth(&["diff", "old.toml", "more.toml", policy[0]], &d)),
        2
    );
    let shrink = plinth(&["diff", "old.toml", "shrink.toml", policy[0]], &d);
    assert_eq!(code(&shrink), 1, "{}", show(&shrink));
    assert!(String::from_utf8_lossy(&shrink.stderr).contains("destructive"));
    let json = plinth(&["diff", "old.toml", "shrink.toml", "--format", "json"], &d);
    assert_eq!(code(&json), 2);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    // The data volume template and the backups volume (sized like it).
    assert_eq!(v["summary"]["destructive"], 2);
}

#[test]
fn base_revision_reads_the_spec_from_git() {
    let d = tempdir("git");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", show(&out));
    };
    git(&["init", "-q"]);
    std::fs::write(d.join("platform.toml"), BASE).unwrap();
    git(&["add", "platform.toml"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "spec",
    ]);
    assert_eq!(code(&plinth(&["diff", "--base", "HEAD"], &d)), 0);
    std::fs::write(d.join("platform.toml"), without_worker(BASE)).unwrap();
    let out = plinth(&["diff", "--base", "HEAD", "--format", "markdown"], &d);
    assert_eq!(code(&out), 2, "{}", show(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| removed | `Deployment shop/worker` |"),
        "{md}"
    );
    let bad = plinth(&["diff", "--base", "no-such-rev"], &d);
    assert_eq!(code(&bad), 1);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no-such-rev"));
}

/// A spec committed as a symbolic link (`platform.toml -> specs/real.toml`) is read at the base
/// revision through the link, as in the working copy; a committed link leading out of the
/// spec's folder is refused with a clear error, never followed.
#[test]
fn base_revision_follows_a_committed_link_within_the_folder() {
    let d = tempdir("git-link");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", show(&out));
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(d.join("specs")).unwrap();
    std::fs::write(d.join("specs/real.toml"), BASE).unwrap();
    std::os::unix::fs::symlink("real.toml", d.join("specs/link.toml")).unwrap();
    std::os::unix::fs::symlink("specs/link.toml", d.join("platform.toml")).unwrap();
    std::fs::write(d.join("outside.toml"), BASE).unwrap();
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::os::unix::fs::symlink("../outside.toml", d.join("sub/escape.toml")).unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "spec"]);
    let out = plinth(&["diff", "platform.toml", "--base", "HEAD"], &d);
    assert_eq!(code(&out), 0, "{}", show(&out));
    std::fs::write(d.join("specs/real.toml"), without_worker(BASE)).unwrap();
    let out = plinth(&["diff", "platform.toml", "--base", "HEAD"], &d);
    assert_eq!(code(&out), 2, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("worker"),
        "{}",
        show(&out)
    );
    // The working copy is a plain file now; the revision still holds the link.
    std::fs::remove_file(d.join("sub/escape.toml")).unwrap();
    std::fs::write(d.join("sub/escape.toml"), BASE).unwrap();
    let out = plinth(&["diff", "sub/escape.toml", "--base", "HEAD"], &d);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the folder"),
        "{}",
        show(&out)
    );
}

#[test]
fn failed_build_leaves_the_folder_byte_identical() {
    let d = tempdir("failed");
    std::fs::write(d.join("platform.toml"), BASE).unwrap();
    assert_eq!(code(&plinth(&["build"], &d)), 0);
    std::fs::write(d.join("out/notes.md"), "hand-written\n").unwrap();
    let before = snapshot(&d.join("out"));
    // An invalid spec writes nothing.
    std::fs::write(
        d.join("platform.toml"),
        BASE.replace("replicas = 2", "replicas = -2"),
    )
    .unwrap();
    assert_eq!(code(&plinth(&["build"], &d)), 1);
    assert_eq!(snapshot(&d.join("out")), before);
    // A file plinth did not generate where it would write one stops the whole build.
    std::fs::write(
        d.join("platform.toml"),
        BASE.replace("replicas = 2", "replicas = 3"),
    )
    .unwrap();
    let foreign = d.join("out/k8s/production/worker.yaml");
    let original = std::fs::read(&foreign).unwrap();
    std::fs::write(&foreign, "# my own worker\nkind: Deployment\n").unwrap();
    std::fs::write(d.join("out/.plinth-manifest"), "").unwrap();
    let before = snapshot(&d.join("out"));
    let refused = plinth(&["build"], &d);
    assert_eq!(code(&refused), 1, "{}", show(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("worker.yaml"));
    assert_eq!(snapshot(&d.join("out")), before);
    // A folder where a file goes fails before anything is written.
    std::fs::write(&foreign, original).unwrap();
    std::fs::remove_file(d.join("out/k8s/production/api.yaml")).unwrap();
    std::fs::create_dir(d.join("out/k8s/production/api.yaml")).unwrap();
    let before = snapshot(&d.join("out"));
    assert_eq!(code(&plinth(&["build"], &d)), 1);
    assert_eq!(snapshot(&d.join("out")), before);
    assert!(
        !snapshot(&d.join("out"))
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains(".plinth-")
                && !p.ends_with(".plinth-manifest"))
    );
}

#[test]
fn stale_generated_file_is_removed_and_hand_written_file_survives() {
    let d = tempdir("stale");
    std::fs::write(d.join("platform.toml"), BASE).unwrap();
    assert_eq!(code(&plinth(&["build"], &d)), 0);
    let worker = d.join("out/k8s/production/worker.yaml");
    let mine = d.join("out/k8s/production/my-job.yaml");
    assert!(worker.exists());
    std::fs::write(&mine, "# written by hand\nkind: Job\n").unwrap();
    std::fs::write(d.join("platform.toml"), without_worker(BASE)).unwrap();
    let out = plinth(&["build"], &d);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(!worker.exists(), "the stale generated file is removed");
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        "# written by hand\nkind: Job\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed"));
    let manifest = std::fs::read_to_string(d.join("out/.plinth-manifest")).unwrap();
    assert!(manifest.contains("k8s/production/api.yaml") && !manifest.contains("worker"));
    assert!(!manifest.contains("my-job"));
    // --force overwrites a file plinth did not generate.
    let api = d.join("out/k8s/production/api.yaml");
    std::fs::write(d.join("out/.plinth-manifest"), "").unwrap();
    std::fs::write(&api, "mine\n").unwrap();
    assert_eq!(code(&plinth(&["build"], &d)), 1);
    assert_eq!(std::fs::read_to_string(&api).unwrap(), "mine\n");
    assert_eq!(code(&plinth(&["build", "--force"], &d)), 0);
    assert!(std::fs::read_to_string(&api)
        .unwrap()
        .starts_with("# generated by plinth from"));
    // A generated file from a build before the manifest existed carries the banner: drift
    // reports it, and the next build removes it.
    let legacy = d.join("out/k8s/production/legacy.yaml");
    std::fs::write(
        &legacy,
        "# generated by plinth from platform.toml, do not edit\nkind: Service\n",
    )
    .unwrap();
    assert_eq!(code(&plinth(&["diff"], &d)), 2);
    assert_eq!(code(&plinth(&["build"], &d)), 0);
    assert!(!legacy.exists());
    assert_eq!(code(&plinth(&["diff"], &d)), 0);
    assert!(mine.exists());
    // A second identical build writes nothing and leaves the manifest as it was.
    let before = snapshot(&d.join("out"));
    assert_eq!(code(&plinth(&["build"], &d)), 0);
    assert_eq!(snapshot(&d.join("out")), before);
}

#[test]
fn partial_build_and_diff_leave_other_environments_alone() {
    let d = tempdir("partial");
    let spec = common::root().join("examples/codepal.toml");
    let spec = spec.to_str().unwrap();
    assert_eq!(code(&plinth(&["build", spec], &d)), 0);
    let production = d.join("out/k8s/production/codepal-app.yaml");
    assert!(production.exists());
    let out = plinth(&["build", spec, "--env", "staging"], &d);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        production.exists(),
        "a staging build keeps production's files"
    );
    let manifest = std::fs::read_to_string(d.join("out/.plinth-manifest")).unwrap();
    assert!(manifest.contains("k8s/production/codepal-app.yaml"));
    assert_eq!(code(&plinth(&["diff", spec, "--env", "staging"], &d)), 0);
    assert_eq!(code(&plinth(&["diff", spec], &d)), 0);
    let both = plinth(&["diff", spec, spec, "--base", "HEAD"], &d);
    assert_eq!(code(&both), 1);
}

/// A partial build removes the stale files of the selected environments only, read from where
/// each target writes an environment's files, never from a name that matches: a service named
/// like one environment, or a platform (the chart's folder) named like another, does not put
/// the other environment's files in scope.
#[test]
fn partial_build_keeps_files_named_like_the_selected_environment() {
    let d = tempdir("partial-names");
    let spec = BASE
        .replace("name = \"shop\"", "name = \"staging\"")
        .replace("[services.worker]", "[services.dev]")
        .replace(
            "[environments.production]",
            "[environments.dev]\n\n[environments.staging]",
        );
    std::fs::write(d.join("platform.toml"), &spec).unwrap();
    let out = plinth(&["build", "platform.toml"], &d);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let others = [
        "out/k8s/staging/dev.yaml",
        "out/helm/staging/values-dev.yaml",
        "out/helm/values-kube-prometheus-stack-dev.yaml",
        "out/docs/dev.md",
    ];
    for f in others {
        assert!(d.join(f).exists(), "{f} was not generated");
    }
    // Renaming `api` leaves its files stale in both environments.
    std::fs::write(
        d.join("platform.toml"),
        spec.replace("[services.api]", "[services.web]"),
    )
    .unwrap();
    let out = plinth(&["build", "platform.toml", "--env", "dev"], &d);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(
        !d.join("out/k8s/dev/api.yaml").exists(),
        "dev's stale file stays"
    );
    assert!(d.join("out/k8s/staging/api.yaml").exists());
    assert!(
        d.join("out/k8s/staging/dev.yaml").exists(),
        "a dev build removed staging's"
    );
    let out = plinth(&["build", "platform.toml", "--env", "staging"], &d);
    assert_eq!(code(&out), 0, "{}", show(&out));
    assert!(!d.join("out/k8s/staging/api.yaml").exists());
    for f in others {
        assert!(d.join(f).exists(), "a build of one environment removed {f}");
    }
}

#[test]
fn pre_commit_hooks_name_check_and_diff() {
    let text = std::fs::read_to_string(common::root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: Vec<serde_json::Value> = serde_saphyr::from_str(&text).unwrap();
    let ids: Vec<&str> = hooks.iter().filter_map(|h| h["id"].as_str()).collect();
    assert_eq!(ids, ["plinth-check", "plinth-diff"]);
    for h in &hooks {
        assert!(h["entry"].as_str().unwrap().starts_with("plinth "));
    }
}

/// Values, keys, names and paths in a report come from files a pull request can commit. In
/// the Markdown comment none can leave its code span or table cell (a fence longer than any
/// backtick run inside, control characters escaped), and in every format a carriage return,
/// an escape sequence, a C1 control or a bidirectional override shows as an escape instead of
/// acting on the terminal, the CI log or the renderer.
#[test]
fn untrusted_text_cannot_inject_markup_or_control_characters() {
    let injected = "x`` **INJECTED** <img src=\"https://evil.example/p.png\"> ``y";
    // `extra` is a YAML scalar as written, for the escapes YAML spells and JSON does not.
    let doc = |value: &str, cr: &str, extra: &str| {
        let value = serde_json::Value::String(value.to_owned()).to_string();
        let cr = serde_json::Value::String(cr.to_owned()).to_string();
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: \"a`b\", namespace: acme}}\ndata: {{md: {value}, cr: {cr}, c1: {extra}}}\n"
        )
    };
    let path = "k8s/staging/<img src=x>.yaml".to_owned();
    let old = FileSet::from([(path.clone(), doc("old", "old", "old"))]);
    let new = FileSet::from([(
        path,
        doc(
            injected,
            "a\r## Heading\r| x | y |\r\x1b[2K::error::forged",
            "\"\\x9b2J\\u202e\"",
        ) + "# ````\n",
    )]);
    let report = diff::compare(&old, &new);
    let o = render::Options {
        color: false,
        patch: true,
    };
    let md = render::markdown(&report, &o);
    assert!(
        md.contains("`data.md`: `old` → ```x`` **INJECTED** <img src=\"https://evil.example/p.png\"> ``y```"),
        "{md}"
    );
    assert!(
        md.contains(
            "`data.cr`: `old` → `a\\r## Heading\\r\\| x \\| y \\|\\r\\u{1b}[2K::error::forged`"
        ),
        "{md}"
    );
    assert!(md.contains("| changed | ``ConfigMap acme/a`b`` |"), "{md}");
    assert!(
        md.contains("<summary>changed <code>k8s/staging/&lt;img src=x&gt;.yaml</code></summary>"),
        "{md}"
    );
    assert!(md.contains("\n`````diff\n"), "{md}");
    let human = render::human(&report, &o);
    let json = render::json(&report, &o);
    for text in [&md, &human, &json] {
        let raw: Vec<char> = text
            .chars()
            .filter(|&c| (c.is_control() && c != '\n') || c == '\u{202e}')
            .collect();
        assert!(raw.is_empty(), "raw {raw:?} in:\n{text}");
    }
    assert!(
        human.contains("a\\r## Heading\\r| x | y |\\r\\u{1b}[2K::error::forged"),
        "{human}"
    );
    assert!(human.contains("\\u{9b}2J\\u{202e}"), "{human}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let fields = v["resources"][0]["fields"].as_array().unwrap();
    assert!(
        fields.iter().any(|f| f["new"] == "\u{9b}2J\u{202e}"),
        "JSON keeps the value: {json}"
    );
}
