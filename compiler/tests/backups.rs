//! Issue 21 through the binary, the backups part: in an environment with a cloud every
//! in-cluster store with a backup schedule that CloudNativePG does not run (Redis, Qdrant,
//! MinIO) is dumped by a CronJob into its own S3 bucket, which Terraform makes with its
//! retention and a write-only IRSA role; the job runs locked down and reaches only its store
//! and HTTPS, and the store admits it; without a cloud the output says what it does not give.

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
probes.readiness = { path = "/ready", port = "http" }
depends_on = ["redis", "qdrant", "minio"]

[datastores.redis]
preset = "redis"
secrets = { REDIS_PASSWORD = { secret = "redis-credentials", key = "password" } }
backup = { schedule = "0 3 * * *", retention = "30d" }

[datastores.qdrant]
preset = "qdrant"
replicas = 3
secrets = { QDRANT__SERVICE__API_KEY = { secret = "qdrant-credentials", key = "api-key" } }
backup = { schedule = "0 */6 * * *", retention = "7d" }

[datastores.minio]
preset = "minio"
backup = { schedule = "0 4 * * *", retention = "30d" }

[environments.dev]
local = true

[environments.prod]

[cloud]
provider = "aws"
region = "eu-west-1"
state = { bucket = "shop-tf-state", key = "{env}/terraform.tfstate", lock_table = "shop-tf-locks" }

[cloud.cluster]
version = "1.34"

[cloud.cluster.node_groups.general]
instance_types = ["m6i.large"]
min = 3
max = 6
"#;

/// Builds `spec.toml` in `dir` with `targets`, asserting success; returns stderr.
fn build(dir: &Path, targets: &[&str]) -> String {
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

fn setup(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("spec.toml"), SPEC).unwrap();
    dir
}

/// The pod spec of CronJob `job`.
fn pod<'a>(objs: &'a [Value], job: &str) -> &'a Value {
    let cron = find(objs, "CronJob", job).unwrap_or_else(|| panic!("a CronJob {job}"));
    &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
}

/// The names of the secret-referencing variables of `container`, as `NAME=secret/key`.
fn secret_vars(container: &Value) -> Vec<String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let r = &v["valueFrom"]["secretKeyRef"];
            r.is_object().then(|| {
                format!(
                    "{}={}/{}",
                    v["name"].as_str().unwrap(),
                    r["name"].as_str().unwrap(),
                    r["key"].as_str().unwrap()
                )
            })
        })
        .collect()
}

#[test]
fn every_store_with_a_schedule_is_dumped_into_its_own_bucket() {
    let dir = setup("backups-offsite");
    build(&dir.0, &["k8s"]);
    let objs = objects(&dir.join("out"), "prod");
    for (store, schedule, tool, secrets) in [
        (
            "redis",
            "0 3 * * *",
            "redis-cli -h redis -p 6379 --rdb /backup/dump.rdb",
            vec!["REDISCLI_AUTH=redis-credentials/password"],
        ),
        (
            "qdrant",
            "0 */6 * * *",
            "for host in qdrant-0.qdrant qdrant-1.qdrant qdrant-2.qdrant;",
            vec!["QDRANT_API_KEY=qdrant-credentials/api-key"],
        ),
        (
            "minio",
            "0 4 * * *",
            "mc mirror --overwrite store /backup/buckets",
            vec![
                "MINIO_ROOT_PASSWORD=minio-credentials/password",
                "MINIO_ROOT_USER=minio-credentials/user",
            ],
        ),
    ] {
        let job = format!("{store}-backup");
        assert!(
            find(&objs, "PersistentVolumeClaim", &format!("{store}-backups")).is_none(),
            "{store}: no dump volume in the namespace"
        );
        let cron = find(&objs, "CronJob", &job).unwrap();
        assert_eq!(cron["spec"]["schedule"], schedule, "{store}");
        assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
        assert_eq!(
            cron["metadata"]["annotations"]["plinth.dev/depends-on"], store,
            "{store}: the job declares the store it reaches"
        );
        let pod = pod(&objs, &job);
        assert_eq!(
            pod["serviceAccountName"],
            job.as_str(),
            "{store}: IRSA account"
        );
        let dump = &pod["initContainers"][0];
        let script = dump["command"][2].as_str().unwrap();
        assert!(script.contains(tool), "{store}: {script}");
        assert_eq!(
            secret_vars(dump),
            secrets,
            "{store}: the store's credentials"
        );
        let upload = &pod["containers"][0];
        assert_eq!(upload["image"], "docker.io/amazon/aws-cli:2.32.8");
        let copy = upload["command"][2].as_str().unwrap();
        assert!(
            copy.contains(&format!("s3://shop-prod-{store}-backups/")),
            "{store}: {copy}"
        );
        assert!(
            secret_vars(upload).is_empty(),
            "the upload holds no store secret"
        );
        for c in [dump, upload] {
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{store}");
            assert_eq!(sc["runAsNonRoot"], true, "{store}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{store}");
            assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{store}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{store}");
            assert!(c["resources"]["limits"]["memory"].is_string(), "{store}");
            let mounts: Vec<&str> = c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            assert_eq!(mounts, ["/backup", "/tmp"], "{store}");
        }
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["emptyDir"].is_object()),
            "{store}: scratch space only"
        );
    }
}

#[test]
fn the_backup_job_reaches_only_its_store_and_https_and_the_store_admits_it() {
    let dir = setup("backups-network");
    build(&dir.0, &["k8s"]);
    let objs = objects(&dir.join("out"), "prod");
    let selector = serde_json::json!({
        "app.kubernetes.io/instance": "shop-redis-backup",
        "app.kubernetes.io/name": "redis-backup",
    });
    let policy = find(&objs, "NetworkPolicy", "redis-backup").expect("the job's policy");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"], selector);
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 2, "{egress:?}");
    assert_eq!(
        egress[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "redis"
    );
    assert_eq!(egress[0]["ports"][0]["port"], 6379);
    assert_eq!(egress[1]["to"][0]["ipBlock"]["cidr"], "0.0.0.0/0");
    assert_eq!(
        egress[1]["ports"],
        serde_json::json!([{ "port": 443, "protocol": "TCP" }])
    );
    let store = find(&objs, "NetworkPolicy", "redis").expect("the store's policy");
    assert!(
        store["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["from"].as_array().is_some_and(|f| f
                .iter()
                .any(|p| p["podSelector"]["matchLabels"] == selector))),
        "the store admits its backup job: {store}"
    );
    // The closure proof evaluates the policies, the backup jobs included: nothing is
    // blocked or open that is not declared.
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--strict"]);
    assert_exit(&out, 0);
}

#[test]
fn terraform_makes_each_bucket_with_its_retention_and_a_write_only_role() {
    let dir = setup("backups-terraform");
    build(&dir.0, &["terraform"]);
    let tf = std::fs::read_to_string(dir.join("out/terraform/prod/backups.tf")).unwrap();
    let body: hcl::Body = hcl::from_str(&tf).unwrap();
    let blocks: Vec<&hcl::Block> = body.blocks().collect();
    let has = |kind: &str, name: &str| {
        blocks
            .iter()
            .find(|b| {
                b.labels.len() == 2 && b.labels[0].as_str() == kind && b.labels[1].as_str() == name
            })
            .copied()
    };
    for (store, days) in [("redis", "30"), ("qdrant", "7"), ("minio", "30")] {
        let id = format!("{store}_backups");
        let bucket = has("aws_s3_bucket", &id).unwrap_or_else(|| panic!("bucket {id}"));
        assert!(
            hcl::to_string(bucket)
                .unwrap()
                .contains(&format!("shop-prod-{store}-backups")),
            "{store}"
        );
        for kind in [
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_logging",
        ] {
            assert!(has(kind, &id).is_some(), "{store}: {kind}");
        }
        let lifecycle =
            hcl::to_string(has("aws_s3_bucket_lifecycle_configuration", &id).unwrap()).unwrap();
        let compact: String = lifecycle.split_whitespace().collect();
        assert!(
            compact.contains(&format!("expiration{{days={days}}}")),
            "{store}: dumps expire after the retention: {lifecycle}"
        );
        let account = hcl::to_string(
            has("kubernetes_service_account_v1", &format!("{store}_backup"))
                .unwrap_or_else(|| panic!("{store}: the job's ServiceAccount")),
        )
        .unwrap();
        assert!(
            account.contains(&format!("\"{store}-backup\"")),
            "{account}"
        );
        assert!(
            account.contains(&format!("module.{id}_irsa.arn")),
            "{account}"
        );
        let role = body
            .blocks()
            .find(|b| b.identifier() == "module" && b.labels[0].as_str() == format!("{id}_irsa"))
            .unwrap_or_else(|| panic!("{store}: IRSA role"));
        let role = hcl::to_string(role).unwrap();
        assert!(role.contains("s3:PutObject"), "{role}");
        assert!(
            !role.contains("s3:DeleteObject") && !role.contains("s3:GetObject"),
            "{store}: the job may only write: {role}"
        );
    }
}

#[test]
fn without_a_cloud_the_output_says_what_backups_it_does_not_give() {
    let dir = setup("backups-local");
    let stderr = build(&dir.0, &["k8s"]);
    for (store, what) in [
        ("redis", "stay in the cluster"),
        (
            "qdrant",
            "are not generated: off-cluster backups need an environment with a cloud",
        ),
        (
            "minio",
            "are not generated: off-cluster backups need an environment with a cloud",
        ),
    ] {
        assert!(
            stderr.contains(&format!("dev: backups of in-cluster `{store}` {what}")),
            "{store}: {stderr}"
        );
    }
    let objs = objects(&dir.join("out"), "dev");
    assert!(find(&objs, "CronJob", "qdrant-backup").is_none());
    assert!(find(&objs, "PersistentVolumeClaim", "redis-backups").is_some());
}

/// The alerts of `rules.yaml` of `env` as (alert, service, expr).
fn alerts(out: &Path, env: &str) -> Vec<(String, String, String)> {
    let rules: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(out.join("prometheus").join(env).join("rules.yaml")).unwrap(),
    )
    .unwrap();
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .filter(|r| r["alert"].is_string())
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_owned(),
                r["labels"]["service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["expr"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Runs promtool's unit tests of `env` when promtool is installed.
fn promtool_passes(out: &Path, env: &str) {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("promtool not installed; the unit tests were not run");
        return;
    }
    let run = std::process::Command::new("promtool")
        .args(["test", "rules", "rules.test.yaml"])
        .current_dir(out.join("prometheus").join(env))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn a_failed_or_late_backup_job_raises_an_alert_that_reaches_a_receiver() {
    let dir = setup("backups-alerts");
    build(&dir.0, &["prometheus", "alertmanager"]);
    let out = dir.join("out");
    let alerts = alerts(&out, "prod");
    for store in ["redis", "qdrant", "minio"] {
        let find = |name: &str| {
            alerts
                .iter()
                .find(|(a, s, _)| a == name && s == store)
                .unwrap_or_else(|| panic!("{store}: no {name} in {alerts:?}"))
        };
        let (_, _, failed) = find("BackupFailed");
        assert!(
            failed.contains(&format!(
                "kube_job_failed{{namespace=\"shop\",job_name=~\"{store}-backup-[0-9]+\",condition=\"true\"}}"
            )),
            "{failed}"
        );
        assert!(failed.contains("kube_job_status_start_time"), "{failed}");
        let (_, _, late) = find("BackupLate");
        assert!(
            late.contains(&format!(
                "kube_cronjob_next_schedule_time{{namespace=\"shop\",cronjob=\"{store}-backup\"}}"
            )),
            "{late}"
        );
    }
    // The generated unit tests drive each alert: the latest Job failed fires, an older
    // failure made good by a later run does not.
    let tests = std::fs::read_to_string(out.join("prometheus/prod/rules.test.yaml")).unwrap();
    assert!(tests.contains("redis-backup-100") && tests.contains("redis-backup-200"));
    promtool_passes(&out, "prod");
    let routes = std::fs::read_to_string(out.join("alertmanager/prod/route-tests.yaml")).unwrap();
    assert!(
        routes.contains("alertname: BackupFailed") && routes.contains("alertname: BackupLate"),
        "{routes}"
    );
    // Without a cloud, Redis's in-namespace dump job is alerted on like the others; Qdrant
    // has no backup job there, so no backup alert.
    let dev = alerts_of(&out, "dev");
    assert!(dev.contains("BackupFailed redis\n"), "{dev}");
    assert!(!dev.contains("BackupFailed qdrant\n"), "{dev}");
}

/// The alert names of `rules.yaml` of `env`, one per line.
fn alerts_of(out: &Path, env: &str) -> String {
    alerts(out, env)
        .into_iter()
        .map(|(a, s, _)| format!("{a} {s}\n"))
        .collect()
}

const POSTGRES: &str = r#"
version = 1
[platform]
name = "shop"
domain = "shop.dev"

[alerting]
default_receiver = "ops"
receivers.ops = { type = "webhook", url = { secret = "ops", key = "url" } }

[datastores.postgres]
preset = "postgres"
backup = { schedule = "0 3 * * *", retention = "30d" }

[environments.prod]

[cloud]
provider = "aws"
region = "eu-west-1"
state = { bucket = "shop-tf-state", key = "{env}/terraform.tfstate", lock_table = "shop-tf-locks" }

[cloud.cluster]
version = "1.34"

[cloud.cluster.node_groups.general]
instance_types = ["m6i.large"]
min = 3
max = 6
"#;

#[test]
fn cloudnativepg_base_backups_and_wal_archiving_raise_alerts_from_the_instances_series() {
    let dir = TempDir::new("backups-cnpg-alerts");
    std::fs::write(dir.join("spec.toml"), POSTGRES).unwrap();
    build(&dir.0, &["prometheus", "alertmanager"]);
    let out = dir.join("out");
    let alerts = alerts(&out, "prod");
    let expr = |name: &str| {
        alerts
            .iter()
            .find(|(a, s, _)| a == name && s == "postgres")
            .map(|(_, _, e)| e.clone())
            .unwrap_or_else(|| panic!("no {name} in {alerts:?}"))
    };
    let failed = expr("BackupFailed");
    assert!(
        failed.contains("barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp{namespace=\"shop\",service=\"postgres\"}")
            && failed.contains("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"),
        "{failed}"
    );
    let wal = expr("WalArchivingFailing");
    assert!(
        wal.contains("increase(cnpg_pg_stat_archiver_failed_count{namespace=\"shop\",service=\"postgres\"}[10m])"),
        "{wal}"
    );
    promtool_passes(&out, "prod");
    // The instances' PodMonitor produces those series: the proof finds nothing unproduced.
    let check = plinth_run(&dir.0, &["check", "spec.toml", "--strict"]);
    assert_exit(&check, 0);
}

/// The operator's CRD schema of `Cluster` (`compiler/tests/data/cloudnative-pg/`), with
/// unknown fields refused, as the API server would prune them.
fn cluster_schema() -> jsonschema::Validator {
    let path = root().join("compiler/tests/data/cloudnative-pg/postgresql.cnpg.io_clusters.yaml");
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
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn verify_restores_a_scratch_cluster_from_the_backups_on_its_schedule() {
    let dir = TempDir::new("backups-verify");
    let spec = POSTGRES.replace(
        "backup = { schedule = \"0 3 * * *\", retention = \"30d\" }",
        "backup = { schedule = \"0 3 * * *\", retention = \"30d\", verify = \"monthly\" }",
    );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    build(&dir.0, &["k8s", "prometheus", "alertmanager"]);
    let out = dir.join("out");
    let objs = objects(&out, "prod");
    let cron = find(&objs, "CronJob", "postgres-verify").expect("the drill's CronJob");
    assert_eq!(
        cron["spec"]["schedule"], "0 5 1 * *",
        "monthly: 05:00 UTC on the 1st"
    );
    let pod = pod(&objs, "postgres-verify");
    assert_eq!(pod["serviceAccountName"], "postgres-verify");
    let script = pod["containers"][0]["command"][2].as_str().unwrap();
    for step in [
        "trap 'kubectl delete cluster postgres-verify",
        "kubectl apply -f /drill/cluster.yaml",
        "kubectl wait --for=condition=Ready cluster/postgres-verify",
    ] {
        assert!(script.contains(step), "{script}");
    }
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    // kubectl gets a short-lived token mounted into its container only (checkov CKV_K8S_38).
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600));
    // The scratch cluster: recovered from the store's ObjectStore, one instance, archiving
    // nothing, as the store's backup account; valid for the operator's CRD.
    let map = find(&objs, "ConfigMap", "postgres-verify").expect("the manifest");
    let scratch: Value =
        serde_saphyr::from_str(map["data"]["cluster.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(scratch["kind"], "Cluster");
    assert_eq!(scratch["metadata"]["name"], "postgres-verify");
    let s = &scratch["spec"];
    assert_eq!(s["instances"], 1);
    assert_eq!(s["bootstrap"]["recovery"]["source"], "origin");
    assert_eq!(s["serviceAccountName"], "postgres-cnpg");
    assert_eq!(
        s["externalClusters"][0]["plugin"],
        serde_json::json!({ "name": "barman-cloud.cloudnative-pg.io",
            "parameters": { "barmanObjectName": "postgres-backups", "serverName": "postgres" } })
    );
    assert!(
        s.get("plugins").is_none(),
        "the scratch cluster archives no WAL"
    );
    let errors: Vec<String> = cluster_schema()
        .iter_errors(&scratch)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The job may manage Cluster objects and nothing else.
    let role = find(&objs, "Role", "postgres-verify").expect("a Role");
    assert_eq!(role["rules"].as_array().unwrap().len(), 1);
    assert_eq!(
        role["rules"][0]["resources"],
        serde_json::json!(["clusters"])
    );
    assert!(find(&objs, "RoleBinding", "postgres-verify").is_some());
    // The scratch cluster's pods get the policy a cluster needs from the operator.
    let policy = find(&objs, "NetworkPolicy", "postgres-verify-cluster").expect("its policy");
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["cnpg.io/cluster"],
        "postgres-verify"
    );
    // A failed drill is an alert, and the proof is clean.
    assert!(alerts_of(&out, "prod").contains("RestoreDrillFailed postgres\n"));
    promtool_passes(&out, "prod");
    let check = plinth_run(&dir.0, &["check", "spec.toml", "--strict"]);
    assert_exit(&check, 0);
}

#[test]
fn verify_where_no_drill_can_run_is_reported() {
    let dir = TempDir::new("backups-verify-local");
    let spec = POSTGRES
        .replace(
            "backup = { schedule = \"0 3 * * *\", retention = \"30d\" }",
            "backup = { schedule = \"0 3 * * *\", retention = \"30d\", verify = \"0 6 * * 0\" }",
        )
        .replace(
            "[environments.prod]",
            "[environments.dev]\nlocal = true\n\n[environments.prod]",
        );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let stderr = build(&dir.0, &["k8s"]);
    assert!(
        stderr
            .contains("dev: restore drills (`verify`) of in-cluster `postgres` are not generated"),
        "{stderr}"
    );
    let prod = objects(&dir.join("out"), "prod");
    assert_eq!(
        find(&prod, "CronJob", "postgres-verify").unwrap()["spec"]["schedule"],
        "0 6 * * 0",
        "a cron schedule is taken as written"
    );
    assert!(find(
        &objects(&dir.join("out"), "dev"),
        "CronJob",
        "postgres-verify"
    )
    .is_none());
}

#[test]
fn a_backup_bucket_name_aws_would_refuse_is_an_error() {
    let dir = TempDir::new("backups-long-bucket");
    let long = "sessions-of-the-tutoring-marketplace-cache-store";
    let spec = SPEC
        .replace("[datastores.redis]", &format!("[datastores.{long}]"))
        .replace(
            "depends_on = [\"redis\",",
            &format!("depends_on = [\"{long}\","),
        );
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 1);
    let found: Vec<String> = json_diagnostics(&out)
        .iter()
        .filter(|d| d["code"] == "E199")
        .map(|d| d["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        found
            .iter()
            .any(|m| m.contains(&format!("backup bucket `shop-prod-{long}-backups`"))),
        "{found:?}"
    );
}
