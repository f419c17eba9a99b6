//! Issue 21 through the binary, the PostgreSQL part: in an environment with a cloud an
//! in-cluster `postgres` store is a CloudNativePG `Cluster` run by the operator (instances,
//! image, storage, resources, bootstrap database and owner, spread over nodes), its clients
//! read the connection Secret the operator creates (never an ExternalSecret), and the
//! namespace's default-deny policy lets clients, the instances themselves and the operator
//! through; the local environment without a cloud keeps its single StatefulSet.

mod support;

use std::path::{Path, PathBuf};

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
depends_on = ["postgres"]
secrets = { DATABASE_URL = { secret = "postgres-app", key = "uri" } }

[datastores.postgres]
preset = "postgres"
read_replicas = 2
storage = { size = "20Gi", path = "/var/lib/postgresql/data" }

[environments.dev]
local = true

[environments.prod]

[cloud]
provider = "aws"
region = "eu-west-1"
state = { bucket = "shop-tf-state", key = "{env}/terraform.tfstate", lock_table = "shop-tf-locks" }

[cloud.cluster]
version = "1.33"

[cloud.cluster.node_groups.general]
instance_types = ["m6i.large"]
min = 3
max = 6
"#;

/// Builds `spec.toml` in `dir` with the k8s target, asserting success; returns stderr.
fn build(dir: &Path) -> String {
    let out = plinth_run(
        dir,
        &["build", "spec.toml", "--target", "k8s", "--out", "out"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every object of `k8s/<env>/`.
fn objects(out: &Path, env: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("k8s").join(env))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            serde_saphyr::from_multiple::<Value>(&std::fs::read_to_string(f).unwrap()).unwrap()
        })
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

/// The NetworkPolicy whose pod selector matches exactly `labels`.
fn policy_for<'a>(objs: &'a [Value], key: &str, value: &str) -> &'a Value {
    objs.iter()
        .find(|o| {
            o["kind"] == "NetworkPolicy"
                && o["spec"]["podSelector"]["matchLabels"]
                    .as_object()
                    .is_some_and(|m| m.len() == 1 && m.get(key).is_some_and(|v| v == value))
        })
        .unwrap_or_else(|| panic!("no NetworkPolicy selecting {key}={value}"))
}

/// The ports (as numbers) of the rules of `rules` that admit `peer` (a JSON subset).
fn ports_for(rules: &Value, side: &str, peer: &Value) -> Vec<i64> {
    let mut ports: Vec<i64> = rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r[side].as_array().is_some_and(|ps| ps.contains(peer)))
        .flat_map(|r| r["ports"].as_array().cloned().unwrap_or_default())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    ports.sort_unstable();
    ports
}

fn setup(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("spec.toml"), SPEC).unwrap();
    dir
}

#[test]
fn a_cloud_environment_runs_postgres_as_a_cloudnativepg_cluster() {
    let dir = setup("cnpg-cluster");
    build(&dir.0);
    let objs = objects(&dir.join("out"), "prod");
    assert!(
        find(&objs, "StatefulSet", "postgres").is_none(),
        "the operator runs the instances, not a StatefulSet"
    );
    let cluster = find(&objs, "Cluster", "postgres").expect("a CloudNativePG Cluster");
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    assert_eq!(cluster["metadata"]["namespace"], "shop");
    let spec = &cluster["spec"];
    assert_eq!(spec["instances"], 3, "a primary and two read replicas");
    // The preset's release: a current minor of 16 (CloudNativePG's image catalogue builds
    // 16.15 since August 2026), past the fix of CVE-2025-1094 in 16.7.
    assert_eq!(spec["imageName"], "ghcr.io/cloudnative-pg/postgresql:16.15");
    assert_eq!(spec["storage"]["size"], "20Gi");
    assert_eq!(spec["resources"]["requests"]["cpu"], "250m");
    assert_eq!(spec["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(spec["bootstrap"]["initdb"]["database"], "app");
    assert_eq!(spec["bootstrap"]["initdb"]["owner"], "app");
    assert_eq!(spec["enablePDB"], true);
    assert_eq!(spec["affinity"]["enablePodAntiAffinity"], true);
    assert_eq!(spec["affinity"]["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["cnpg.io/cluster"],
        "postgres"
    );
    assert_eq!(spec["seccompProfile"]["type"], "RuntimeDefault");
    // Clients written for the StatefulSet's Service keep their host name: an operator-managed
    // Service of the store's name follows the primary.
    let extra = &spec["managed"]["services"]["additional"][0];
    assert_eq!(extra["selectorType"], "rw");
    assert_eq!(extra["serviceTemplate"]["metadata"]["name"], "postgres");
    // Nothing of the StatefulSet's pod (its password Secret, its dump job) remains.
    assert!(find(&objs, "CronJob", "postgres-backup").is_none());
}

#[test]
fn clients_read_the_operators_secret_and_nothing_else_creates_it() {
    let dir = setup("cnpg-secret");
    build(&dir.0);
    let objs = objects(&dir.join("out"), "prod");
    let api = find(&objs, "Deployment", "api").unwrap();
    let env = &api["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(env
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["valueFrom"]["secretKeyRef"]["name"] == "postgres-app"
            && e["valueFrom"]["secretKeyRef"]["key"] == "uri"));
    for name in ["postgres-app", "postgres-credentials"] {
        assert!(
            find(&objs, "ExternalSecret", name).is_none(),
            "{name}: the operator creates the Secret, or nothing reads it"
        );
    }
    // The other secrets still come from the store.
    assert!(find(&objs, "ExternalSecret", "ops").is_some());
}

#[test]
fn network_policies_admit_clients_instances_and_the_operator() {
    let dir = setup("cnpg-policy");
    build(&dir.0);
    let objs = objects(&dir.join("out"), "prod");
    let cluster_pods =
        serde_json::json!({ "podSelector": { "matchLabels": { "cnpg.io/cluster": "postgres" } } });

    let api = find(&objs, "NetworkPolicy", "api").unwrap();
    assert_eq!(
        ports_for(&api["spec"]["egress"], "to", &cluster_pods),
        [5432],
        "the client reaches the instances"
    );

    let p = policy_for(&objs, "cnpg.io/cluster", "postgres");
    let ingress = &p["spec"]["ingress"];
    let api_pods = serde_json::json!({ "podSelector": { "matchLabels": {
        "app.kubernetes.io/instance": "shop-api", "app.kubernetes.io/name": "api" } } });
    assert_eq!(ports_for(ingress, "from", &api_pods), [5432]);
    assert_eq!(
        ports_for(ingress, "from", &cluster_pods),
        [5432, 8000],
        "replication and the instance managers"
    );
    let operator = serde_json::json!({ "namespaceSelector": { "matchLabels": {
        "kubernetes.io/metadata.name": "cnpg-system" } } });
    assert_eq!(ports_for(ingress, "from", &operator), [5432, 8000]);
    let egress = &p["spec"]["egress"];
    assert_eq!(ports_for(egress, "to", &cluster_pods), [5432, 8000]);
    // The instance manager talks to the Kubernetes API (EKS's endpoints are in the VPC).
    let api_server = serde_json::json!({ "ipBlock": { "cidr": "10.0.0.0/16" } });
    assert_eq!(ports_for(egress, "to", &api_server), [443]);
}

#[test]
fn the_local_environment_keeps_a_single_statefulset() {
    let dir = setup("cnpg-local");
    let summary = build(&dir.0);
    let objs = objects(&dir.join("out"), "dev");
    assert!(find(&objs, "StatefulSet", "postgres").is_some());
    assert!(find(&objs, "Cluster", "postgres").is_none());
    assert!(
        summary.contains(
            "dev: in-cluster `postgres` runs 1 instance(s) without streaming read replicas"
        ),
        "{summary}"
    );
    assert!(
        !summary.contains("prod: in-cluster `postgres` runs"),
        "the operator replicates in prod: {summary}"
    );
}

#[test]
fn a_key_the_operators_secret_does_not_have_is_an_error_with_a_suggestion() {
    let dir = TempDir::new("cnpg-key");
    std::fs::write(
        dir.join("spec.toml"),
        SPEC.replace(r#"key = "uri""#, r#"key = "url""#),
    )
    .unwrap();
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 1);
    let diags = json_diagnostics(&out);
    let d = diags
        .iter()
        .find(|d| d["code"] == "E009")
        .unwrap_or_else(|| panic!("no E009 in {diags:?}"));
    assert!(d["help"].as_str().unwrap().contains("`uri`"), "{d}");
    // Without a cloud nothing runs the operator: the same Secret is the user's to provide.
    let local = SPEC
        .replace(r#"key = "uri""#, r#"key = "url""#)
        .split("\n[cloud]")
        .next()
        .unwrap()
        .replace("[environments.prod]\n", "");
    std::fs::write(dir.join("local.toml"), local).unwrap();
    let out = plinth_run(&dir.0, &["check", "local.toml", "--format", "json"]);
    assert!(
        !codes(&out).contains(&"E009".to_owned()),
        "{:?}",
        codes(&out)
    );
}

/// The `helm_release` blocks of `terraform/<env>/<file>`, by label.
fn releases(out: &Path, env: &str, file: &str) -> Vec<hcl::Block> {
    let text = std::fs::read_to_string(out.join("terraform").join(env).join(file)).unwrap();
    hcl::parse(&text)
        .unwrap()
        .into_blocks()
        .filter(|b| b.identifier() == "resource" && b.labels()[0].as_str() == "helm_release")
        .collect()
}

/// Attribute `key` of `block` as one line of HCL.
fn attr(block: &hcl::Block, key: &str) -> String {
    let e = block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .unwrap_or_else(|| panic!("no `{key}`"))
        .expr();
    hcl::format::to_string(e)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn terraform_installs_the_operator_before_the_platform() {
    let dir = setup("cnpg-operator");
    let out = plinth_run(
        &dir.0,
        &[
            "build",
            "spec.toml",
            "--target",
            "terraform",
            "--out",
            "out",
        ],
    );
    assert_exit(&out, 0);
    let out = dir.join("out");
    let addons = releases(&out, "prod", "addons.tf");
    let op = addons
        .iter()
        .find(|b| b.labels()[1].as_str() == "cloudnative_pg")
        .expect("a release of the CloudNativePG operator");
    assert_eq!(attr(op, "chart"), r#""cloudnative-pg""#);
    assert_eq!(attr(op, "version"), r#""0.29.0""#);
    assert_eq!(attr(op, "namespace"), r#""cnpg-system""#);
    assert_eq!(
        attr(op, "repository"),
        r#""https://cloudnative-pg.github.io/charts""#
    );
    let platform = releases(&out, "prod", "helm.tf")
        .into_iter()
        .find(|b| b.labels()[1].as_str() == "platform")
        .unwrap();
    assert!(
        attr(&platform, "depends_on").contains("helm_release.cloudnative_pg"),
        "the Cluster's CRD exists before the chart applies it"
    );
    assert!(!out.join("terraform/dev").exists(), "no cloud, no operator");
}

#[test]
fn pooling_puts_pgbouncer_behind_the_stores_own_service() {
    let dir = TempDir::new("cnpg-pooler");
    let spec = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\npooling = { max_client_conn = 1000, default_pool_size = 25, mode = \"transaction\" }\n",
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    build(&dir.0);
    let objs = objects(&dir.join("out"), "prod");
    let pooler = find(&objs, "Pooler", "postgres-pooler").expect("a CloudNativePG Pooler");
    assert_eq!(pooler["apiVersion"], "postgresql.cnpg.io/v1");
    let p = &pooler["spec"];
    assert_eq!(p["cluster"]["name"], "postgres");
    assert_eq!(p["type"], "rw");
    assert_eq!(p["instances"], 2);
    assert_eq!(p["pgbouncer"]["poolMode"], "transaction");
    assert_eq!(p["pgbouncer"]["parameters"]["max_client_conn"], "1000");
    assert_eq!(p["pgbouncer"]["parameters"]["default_pool_size"], "25");
    let spread = &p["template"]["spec"]["affinity"]["podAntiAffinity"]
        ["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        spread["labelSelector"]["matchLabels"]["cnpg.io/poolerName"],
        "postgres-pooler"
    );
    // Host `postgres` now leads to PgBouncer, not straight to the primary.
    let service = find(&objs, "Service", "postgres").expect("the store's Service");
    assert_eq!(
        service["spec"]["selector"],
        serde_json::json!({ "cnpg.io/poolerName": "postgres-pooler" })
    );
    let cluster = find(&objs, "Cluster", "postgres").unwrap();
    assert!(
        cluster["spec"].get("managed").is_none(),
        "one Service of that name"
    );

    let pooler_pods = serde_json::json!({ "podSelector": { "matchLabels": { "cnpg.io/poolerName": "postgres-pooler" } } });
    let cluster_pods =
        serde_json::json!({ "podSelector": { "matchLabels": { "cnpg.io/cluster": "postgres" } } });
    let api = find(&objs, "NetworkPolicy", "api").unwrap();
    assert_eq!(
        ports_for(&api["spec"]["egress"], "to", &pooler_pods),
        [5432]
    );
    let pp = policy_for(&objs, "cnpg.io/poolerName", "postgres-pooler");
    let api_pods = serde_json::json!({ "podSelector": { "matchLabels": {
        "app.kubernetes.io/instance": "shop-api", "app.kubernetes.io/name": "api" } } });
    assert_eq!(ports_for(&pp["spec"]["ingress"], "from", &api_pods), [5432]);
    assert_eq!(
        ports_for(&pp["spec"]["egress"], "to", &cluster_pods),
        [5432]
    );
    let cp = policy_for(&objs, "cnpg.io/cluster", "postgres");
    assert_eq!(
        ports_for(&cp["spec"]["ingress"], "from", &pooler_pods),
        [5432],
        "PgBouncer reaches the primary"
    );
}

#[test]
fn pooling_where_no_pooler_is_generated_is_reported() {
    let dir = TempDir::new("cnpg-pooling-modes");
    let redis = SPEC.replace(
        "[datastores.postgres]",
        "[datastores.cache]\npreset = \"redis\"\npooling = { mode = \"session\" }\n\n[datastores.postgres]",
    );
    std::fs::write(dir.join("redis.toml"), redis).unwrap();
    let out = plinth_run(&dir.0, &["check", "redis.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert!(
        codes(&out).contains(&"E010".to_owned()),
        "{:?}",
        codes(&out)
    );

    let managed = SPEC.replace(
        "[environments.prod]\n",
        "[environments.prod]\n[environments.prod.datastores.postgres]\nmode = \"managed\"\npooling = { max_client_conn = 500 }\n",
    );
    std::fs::write(dir.join("managed.toml"), managed).unwrap();
    let out = plinth_run(&dir.0, &["check", "managed.toml", "--format", "json"]);
    assert!(
        codes(&out).contains(&"W010".to_owned()),
        "{:?}",
        codes(&out)
    );
    assert!(!codes(&out).contains(&"E010".to_owned()));
}

/// The `openAPIV3Schema` of version `v1` of the stored CRD `file`, with every object that
/// lists its properties closed to others: the API server prunes unknown fields without a
/// word, so a misspelt field must fail here instead.
fn crd_schema(file: &str) -> Value {
    let path = root().join("compiler/tests/data/cloudnative-pg").join(file);
    let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .unwrap();
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    fn close(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if m.contains_key("properties")
                    && !m.contains_key("additionalProperties")
                    && !m.contains_key("x-kubernetes-preserve-unknown-fields")
                {
                    m.insert("additionalProperties".to_owned(), Value::Bool(false));
                }
                m.values_mut().for_each(close);
            }
            Value::Array(a) => a.iter_mut().for_each(close),
            _ => {}
        }
    }
    close(&mut schema);
    schema
}

#[test]
fn generated_objects_match_the_operators_crd_schemas() {
    let dir = TempDir::new("cnpg-crd");
    let pooled = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\npooling = { max_client_conn = 1000, default_pool_size = 25, mode = \"session\", instances = 3 }\nbackup = { schedule = \"0 3 * * *\", retention = \"14d\", continuous = true }\n",
    );
    std::fs::write(dir.join("spec.toml"), pooled).unwrap();
    let mut specs = vec![dir.join("spec.toml")];
    specs.extend(
        std::fs::read_dir(root().join("examples"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    let validators: Vec<(&str, &str, jsonschema::Validator)> = [
        (
            "Cluster",
            "postgresql.cnpg.io/v1",
            "postgresql.cnpg.io_clusters.yaml",
        ),
        (
            "Pooler",
            "postgresql.cnpg.io/v1",
            "postgresql.cnpg.io_poolers.yaml",
        ),
        (
            "ScheduledBackup",
            "postgresql.cnpg.io/v1",
            "postgresql.cnpg.io_scheduledbackups.yaml",
        ),
        (
            "ObjectStore",
            "barmancloud.cnpg.io/v1",
            "barmancloud.cnpg.io_objectstores.yaml",
        ),
    ]
    .into_iter()
    .map(|(kind, api, file)| {
        (
            kind,
            api,
            jsonschema::validator_for(&crd_schema(file)).unwrap(),
        )
    })
    .collect();
    // The schemas refuse what the API server would prune or reject.
    let cluster = &validators[0].2;
    let good = serde_json::json!({ "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": { "name": "db" }, "spec": { "instances": 1, "storage": { "size": "1Gi" } } });
    assert!(cluster.is_valid(&good));
    let mut misspelt = good.clone();
    misspelt["spec"]["enablePdb"] = Value::Bool(true);
    assert!(!cluster.is_valid(&misspelt), "an unknown field is refused");
    let mut wrong = good.clone();
    wrong["spec"]["instances"] = Value::String("1".to_owned());
    assert!(!cluster.is_valid(&wrong), "a wrong type is refused");
    let mut checked = std::collections::BTreeMap::<&str, usize>::new();
    for (i, spec) in specs.iter().enumerate() {
        let out = format!("out{i}");
        let run = plinth_run(
            &dir.0,
            &[
                "build",
                spec.to_str().unwrap(),
                "--target",
                "k8s",
                "--out",
                &out,
            ],
        );
        assert_exit(&run, 0);
        for env in std::fs::read_dir(dir.join(&out).join("k8s")).unwrap() {
            let env = env.unwrap().file_name().into_string().unwrap();
            for o in objects(&dir.join(&out), &env) {
                for (kind, api, v) in &validators {
                    if o["kind"] == *kind && o["apiVersion"] == *api {
                        let errors: Vec<String> = v
                            .iter_errors(&o)
                            .map(|e| format!("{e} at {}", e.instance_path()))
                            .collect();
                        assert!(
                            errors.is_empty(),
                            "{}: {kind} in {env}: {errors:#?}",
                            spec.display()
                        );
                        *checked.entry(kind).or_default() += 1;
                    }
                }
            }
        }
    }
    assert!(
        checked.get("Cluster").is_some_and(|n| *n >= 3),
        "{checked:?}"
    );
    assert!(
        checked.get("Pooler").is_some_and(|n| *n >= 2),
        "{checked:?}"
    );
}

#[test]
fn backups_archive_wal_and_take_scheduled_base_backups_into_the_environments_bucket() {
    let dir = TempDir::new("cnpg-backups");
    let spec = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\nbackup = { schedule = \"0 3 * * *\", retention = \"30d\", continuous = true }\n",
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let run = plinth_run(
        &dir.0,
        &[
            "build",
            "spec.toml",
            "--target",
            "k8s",
            "--target",
            "terraform",
            "--out",
            "out",
        ],
    );
    assert_exit(&run, 0);
    let out = dir.join("out");
    let objs = objects(&out, "prod");
    let cluster = &find(&objs, "Cluster", "postgres").unwrap()["spec"];
    assert_eq!(cluster["serviceAccountName"], "postgres-cnpg");
    assert_eq!(
        cluster["plugins"],
        serde_json::json!([{ "name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true,
            "parameters": { "barmanObjectName": "postgres-backups" } }])
    );
    assert!(
        cluster.get("backup").is_none(),
        "no deprecated in-tree barmanObjectStore"
    );
    let store = find(&objs, "ObjectStore", "postgres-backups").expect("an ObjectStore");
    assert_eq!(store["apiVersion"], "barmancloud.cnpg.io/v1");
    assert_eq!(
        store["spec"]["configuration"]["destinationPath"],
        "s3://shop-prod-postgres-backups/"
    );
    assert_eq!(
        store["spec"]["configuration"]["s3Credentials"]["inheritFromIAMRole"],
        true
    );
    assert_eq!(store["spec"]["retentionPolicy"], "30d");
    let scheduled = find(&objs, "ScheduledBackup", "postgres").expect("a ScheduledBackup");
    assert_eq!(
        scheduled["spec"]["schedule"], "0 0 3 * * *",
        "six fields, seconds first"
    );
    assert_eq!(scheduled["spec"]["method"], "plugin");
    assert_eq!(
        scheduled["spec"]["pluginConfiguration"]["name"],
        "barman-cloud.cloudnative-pg.io"
    );
    assert!(find(&objs, "CronJob", "postgres-backup").is_none());
    // The instances reach S3 and STS over HTTPS.
    let p = policy_for(&objs, "cnpg.io/cluster", "postgres");
    let anywhere = serde_json::json!({ "ipBlock": { "cidr": "0.0.0.0/0" } });
    assert_eq!(ports_for(&p["spec"]["egress"], "to", &anywhere), [443]);

    // Terraform: the encrypted bucket, the role only for it, the ServiceAccount with it.
    let text = std::fs::read_to_string(out.join("terraform/prod/backups.tf")).unwrap();
    let body = hcl::parse(&text).unwrap();
    let blocks: Vec<&hcl::Block> = body.blocks().collect();
    let labelled = |kind: &str, label: &str| {
        blocks
            .iter()
            .find(|b| b.labels().iter().map(|l| l.as_str()).eq([kind, label]))
            .copied()
            .unwrap_or_else(|| panic!("no {kind}.{label}"))
    };
    assert_eq!(
        attr(labelled("aws_s3_bucket", "postgres_backups"), "bucket"),
        r#""shop-prod-postgres-backups""#
    );
    labelled(
        "aws_s3_bucket_server_side_encryption_configuration",
        "postgres_backups",
    );
    labelled("aws_s3_bucket_public_access_block", "postgres_backups");
    let irsa = blocks
        .iter()
        .find(|b| b.identifier() == "module" && b.labels()[0].as_str() == "postgres_backups_irsa")
        .expect("an IRSA role");
    assert!(attr(irsa, "oidc_providers").contains("shop:postgres-cnpg"));
    assert!(attr(irsa, "inline_policy_permissions").contains("aws_s3_bucket.postgres_backups.arn"));
    let sa = labelled("kubernetes_service_account_v1", "postgres_cnpg");
    let sa_text = hcl::format::to_string(sa).unwrap();
    assert!(
        sa_text.contains("module.postgres_backups_irsa.arn"),
        "{sa_text}"
    );
    let addons: Vec<String> = releases(&out, "prod", "addons.tf")
        .iter()
        .map(|b| b.labels()[1].as_str().to_owned())
        .collect();
    assert!(addons.contains(&"barman_cloud".to_owned()), "{addons:?}");
    assert!(
        addons.contains(&"cert_manager".to_owned()),
        "the plugin needs it: {addons:?}"
    );
    let platform = releases(&out, "prod", "helm.tf")
        .into_iter()
        .find(|b| b.labels()[1].as_str() == "platform")
        .unwrap();
    let deps = attr(&platform, "depends_on");
    assert!(deps.contains("helm_release.barman_cloud"), "{deps}");
    assert!(
        deps.contains("kubernetes_service_account_v1.postgres_cnpg"),
        "{deps}"
    );
}

#[test]
fn the_instances_are_scraped_and_the_postgres_alerts_read_the_operators_series() {
    let dir = setup("cnpg-metrics");
    let run = plinth_run(
        &dir.0,
        &[
            "build",
            "spec.toml",
            "--target",
            "k8s",
            "--target",
            "prometheus",
            "--out",
            "out",
        ],
    );
    assert_exit(&run, 0);
    let out = dir.join("out");
    let objs = objects(&out, "prod");
    let pm = find(&objs, "PodMonitor", "postgres").expect("a PodMonitor");
    assert_eq!(pm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(
        pm["spec"]["selector"]["matchLabels"],
        serde_json::json!({ "cnpg.io/cluster": "postgres", "cnpg.io/podRole": "instance" })
    );
    let endpoint = &pm["spec"]["podMetricsEndpoints"][0];
    assert_eq!(endpoint["port"], "metrics");
    assert_eq!(endpoint["relabelings"][0]["targetLabel"], "service");
    let p = policy_for(&objs, "cnpg.io/cluster", "postgres");
    let monitoring = serde_json::json!({ "namespaceSelector": { "matchLabels": {
        "kubernetes.io/metadata.name": "monitoring" } } });
    assert_eq!(
        ports_for(&p["spec"]["ingress"], "from", &monitoring),
        [9187]
    );

    let rules = std::fs::read_to_string(out.join("prometheus/prod/rules.yaml")).unwrap();
    for series in [
        "cnpg_backends_total",
        "cnpg_pg_settings_setting",
        "cnpg_pg_replication_lag",
    ] {
        assert!(rules.contains(series), "prod reads {series}");
    }
    assert!(
        !rules.contains("pg_stat_database_numbackends"),
        "no postgres_exporter in prod"
    );
    assert!(
        rules.contains(r#"persistentvolumeclaim=~"postgres-[0-9]+""#),
        "the operator's claims"
    );
    // The StatefulSet of the local environment has no exporter: its database alerts are left
    // out (a build note says what to add), and none reads the operator's series.
    let dev = std::fs::read_to_string(out.join("prometheus/dev/rules.yaml")).unwrap();
    assert!(!dev.contains("cnpg_") && !dev.contains("DBConnectionsHigh"));
}

#[test]
fn compose_keeps_one_postgres_container_and_says_what_it_leaves_out() {
    let dir = TempDir::new("cnpg-compose");
    let spec = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\npooling = { max_client_conn = 1000 }\n",
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let run = plinth_run(
        &dir.0,
        &["build", "spec.toml", "--target", "compose", "--out", "out"],
    );
    assert_exit(&run, 0);
    let summary = String::from_utf8_lossy(&run.stderr);
    let compose: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("out/compose/compose.yaml")).unwrap(),
    )
    .unwrap();
    assert!(compose["services"]["postgres"]["image"]
        .as_str()
        .unwrap()
        .starts_with("docker.io/library/postgres:"));
    for said in [
        "read replicas are not run by Compose; only the primary runs: postgres (2)",
        "backups are not run by Compose: postgres",
        "connection pooling (PgBouncer) is not run by Compose",
        "`postgres-app` (api)",
    ] {
        assert!(summary.contains(said), "{said}: {summary}");
    }
}
