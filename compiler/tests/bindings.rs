//! Issue 21 through the binary, the client side of data stores: `bind.VAR = { from, key }`
//! gives a service a store's connection details from whatever runs the store in each
//! environment (the CloudNativePG operator's Secret, the store's own password Secret and
//! Service, the Compose container), with no connection secret written by hand; bindings to
//! stores, keys or modes that offer nothing are errors at the binding. Also PostgreSQL
//! `parameters` in every mode, and store settings the operator would drop (W011).

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
depends_on = ["postgres", "redis", "files"]
bind.DATABASE_URL = { from = "postgres", key = "uri" }
bind.DATABASE_READ_URL = { from = "postgres", key = "read-uri" }
bind.DB_HOST = { from = "postgres", key = "host" }
bind.DB_PORT = { from = "postgres", key = "port" }
bind.REDIS_URL = { from = "redis", key = "uri" }
bind.S3_ENDPOINT = { from = "files", key = "endpoint" }
bind.S3_ACCESS_KEY = { from = "files", key = "access-key" }

[datastores.postgres]
preset = "postgres"
read_replicas = 2
parameters = { max_connections = 200, work_mem = "16MB" }

[datastores.redis]
preset = "redis"

[datastores.files]
preset = "minio"

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

fn setup(name: &str, spec: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    dir
}

/// Builds `spec.toml` in `dir` with `targets`, asserting success; returns stderr.
fn build(dir: &Path, targets: &str) -> String {
    let mut args = vec!["build", "spec.toml", "--out", "out"];
    for t in targets.split(',') {
        args.extend(["--target", t]);
    }
    let out = plinth_run(dir, &args);
    assert_exit(&out, 0);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The documents of one generated YAML file.
fn docs(path: &Path) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `env` list of the first container of workload `name` in `k8s/<env>/<name>.yaml`.
fn container_env(out: &Path, env: &str, name: &str) -> Vec<Value> {
    let docs = docs(&out.join(format!("k8s/{env}/{name}.yaml")));
    let workload = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet")
        .unwrap_or_else(|| panic!("no workload in {name}.yaml"));
    workload["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The variable `name` of an env list, with its position.
fn var<'a>(env: &'a [Value], name: &str) -> (usize, &'a Value) {
    env.iter()
        .enumerate()
        .find(|(_, v)| v["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name} in {env:?}"))
}

/// The secret reference of a variable, as `secret/key`.
fn secret_of(v: &Value) -> String {
    let r = &v["valueFrom"]["secretKeyRef"];
    format!(
        "{}/{}",
        r["name"].as_str().unwrap_or("-"),
        r["key"].as_str().unwrap_or("-")
    )
}

/// For a value `…$(VAR)…`, the variable it reads, which must come earlier in the list
/// (Kubernetes expands only those), and that variable's secret reference.
fn composed_from(env: &[Value], name: &str) -> (String, String) {
    let (at, v) = var(env, name);
    let value = v["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no value: {v}"));
    let start = value
        .find("$(")
        .unwrap_or_else(|| panic!("{name} = {value} reads no variable"));
    let inner = &value[start + 2..start + value[start..].find(')').unwrap()];
    let (helper_at, helper) = var(env, inner);
    assert!(helper_at < at, "{inner} must come before {name}: {env:?}");
    (
        value.replace(&format!("$({inner})"), "PASSWORD"),
        secret_of(helper),
    )
}

#[test]
fn a_cloud_environment_binds_the_operators_secret_and_services() {
    let dir = setup("bind-cloud", SPEC);
    build(&dir.0, "k8s");
    let env = container_env(&dir.join("out"), "prod", "api");
    assert_eq!(secret_of(var(&env, "DATABASE_URL").1), "postgres-app/uri");
    assert_eq!(var(&env, "DB_HOST").1["value"], "postgres-rw");
    assert_eq!(var(&env, "DB_PORT").1["value"], "5432");
    let (read, password) = composed_from(&env, "DATABASE_READ_URL");
    assert_eq!(read, "postgresql://app:PASSWORD@postgres-ro:5432/app");
    assert_eq!(password, "postgres-app/password");
    let (redis, password) = composed_from(&env, "REDIS_URL");
    assert_eq!(redis, "redis://:PASSWORD@redis:6379");
    assert_eq!(password, "redis-credentials/password");
    assert_eq!(var(&env, "S3_ENDPOINT").1["value"], "http://files:9000");
    assert_eq!(
        secret_of(var(&env, "S3_ACCESS_KEY").1),
        "files-credentials/user"
    );
    // The Redis the URL carries a password for requires it.
    let redis = container_env(&dir.join("out"), "prod", "redis");
    assert_eq!(
        secret_of(var(&redis, "REDISCLI_AUTH").1),
        "redis-credentials/password"
    );
}

#[test]
fn without_a_cloud_bindings_read_the_stores_own_password_and_service() {
    let dir = setup("bind-local", SPEC);
    build(&dir.0, "k8s");
    let env = container_env(&dir.join("out"), "dev", "api");
    let (uri, password) = composed_from(&env, "DATABASE_URL");
    assert_eq!(uri, "postgresql://app:PASSWORD@postgres:5432/app");
    assert_eq!(password, "postgres-credentials/password");
    // No replica runs without the operator: reads go to the primary.
    let (read, _) = composed_from(&env, "DATABASE_READ_URL");
    assert_eq!(read, "postgresql://app:PASSWORD@postgres:5432/app");
    assert_eq!(var(&env, "DB_HOST").1["value"], "postgres");
}

#[test]
fn compose_interpolates_the_password_into_the_url() {
    let dir = setup("bind-compose", SPEC);
    build(&dir.0, "compose");
    let text = std::fs::read_to_string(dir.join("out/compose/compose.yaml")).unwrap();
    let compose: Value = serde_saphyr::from_str(&text).unwrap();
    let env = &compose["services"]["api"]["environment"];
    let url = env["DATABASE_URL"].as_str().unwrap();
    assert!(
        url.starts_with("postgresql://app:${")
            && url.ends_with(":?set it in .env}@postgres:5432/app"),
        "{url}"
    );
    let var = &url["postgresql://app:${".len()..url.find(":?").unwrap()];
    let example = std::fs::read_to_string(dir.join("out/compose/.env.example")).unwrap();
    assert!(
        example.contains(&format!("{var}=")),
        "{var} not in {example}"
    );
    // The same variable is the PostgreSQL container's password.
    assert_eq!(
        compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"],
        format!("${{{var}:?set it in .env}}")
    );
}

/// The diagnostics of `check` on `spec`, as (code, message, help).
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

fn has(diags: &[(String, String, String)], code: &str, message: &str, help: &str) {
    assert!(
        diags
            .iter()
            .any(|(c, m, h)| c == code && m.contains(message) && h.contains(help)),
        "no {code} `{message}` / `{help}` in {diags:#?}"
    );
}

#[test]
fn bindings_to_unknown_stores_keys_or_undeclared_dependencies_are_errors() {
    let spec = SPEC
        .replace(
            r#"{ from = "postgres", key = "uri" }"#,
            r#"{ from = "postgress", key = "uri" }"#,
        )
        .replace(
            r#"{ from = "postgres", key = "host" }"#,
            r#"{ from = "postgres", key = "hots" }"#,
        )
        .replace("bind.DB_PORT", "bind.\"1DB_PORT\"")
        .replace(
            r#"depends_on = ["postgres", "redis", "files"]"#,
            r#"depends_on = ["postgres", "files"]"#,
        );
    let diags = check("bind-errors", &spec);
    has(
        &diags,
        "E011",
        "unknown data store `postgress`",
        "did you mean `postgres`?",
    );
    has(
        &diags,
        "E011",
        "`api` binds `redis`, which it does not depend on",
        "depends_on",
    );
    has(
        &diags,
        "E012",
        "no connection detail `hots`",
        "did you mean `host`?",
    );
    // The variables plinth adds for bindings have a prefix of their own.
    let spec = SPEC.replace(
        "bind.DB_PORT",
        "env.PLINTH_POSTGRES_PASSWORD = \"x\"\nbind.DB_PORT",
    );
    has(
        &check("bind-reserved", &spec),
        "E006",
        "`PLINTH_POSTGRES_PASSWORD` uses the prefix `PLINTH_`",
        "rename",
    );
    // A bound variable's name is checked like any other.
    has(
        &diags,
        "E191",
        "invalid environment variable name `1DB_PORT`",
        "",
    );
}

/// SPEC with PostgreSQL and Redis managed in `prod`, the service binding what they offer.
fn managed_spec() -> String {
    format!("{SPEC}\n[environments.prod.datastores.postgres]\nmode = \"managed\"\n\n[environments.prod.datastores.redis]\nmode = \"managed\"\n")
        .replace("bind.DATABASE_URL = { from = \"postgres\", key = \"uri\" }\n", "bind.DB_NAME = { from = \"postgres\", key = \"database\" }\n")
        .replace("bind.DATABASE_READ_URL = { from = \"postgres\", key = \"read-uri\" }\n", "bind.DB_READ_HOST = { from = \"postgres\", key = \"read-host\" }\nbind.REDIS_PASSWORD = { from = \"redis\", key = \"password\" }\n")
        .replace("parameters = { max_connections = 200, work_mem = \"16MB\" }\n", "")
}

#[test]
fn a_managed_store_binds_what_terraform_writes() {
    let dir = setup("bind-managed", &managed_spec());
    build(&dir.0, "k8s,terraform");
    let out = dir.join("out");
    let env = container_env(&out, "prod", "api");
    assert_eq!(
        secret_of(var(&env, "DB_HOST").1),
        "postgres-connection/host"
    );
    assert_eq!(
        secret_of(var(&env, "DB_READ_HOST").1),
        "postgres-connection/read-host"
    );
    assert_eq!(var(&env, "DB_PORT").1["value"], "5432");
    assert_eq!(var(&env, "DB_NAME").1["value"], "app");
    assert_eq!(secret_of(var(&env, "REDIS_URL").1), "redis-connection/uri");
    assert_eq!(
        secret_of(var(&env, "REDIS_PASSWORD").1),
        "redis-credentials/password"
    );
    // The External Secrets operator copies them from the secrets Terraform writes (its
    // store adds the `shop/prod/` prefix).
    let es = docs(&out.join("k8s/prod/external-secrets.yaml"));
    for name in ["postgres-connection", "redis-connection"] {
        let e = es
            .iter()
            .find(|d| d["kind"] == "ExternalSecret" && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no ExternalSecret {name}"));
        assert_eq!(e["spec"]["data"][0]["remoteRef"]["key"], name, "{e}");
    }
    let tf = std::fs::read_to_string(out.join("terraform/prod/datastores.tf")).unwrap();
    for want in [
        "resource \"aws_secretsmanager_secret\" \"postgres_connection\"",
        "\"shop/prod/postgres-connection\"",
        "aws_db_instance.postgres.address",
        "resource \"aws_secretsmanager_secret_version\" \"redis_connection\"",
        "aws_elasticache_replication_group.redis.primary_endpoint_address",
        "rediss://:",
        // Nobody binds the password: RDS keeps and rotates it.
        "manage_master_user_password",
    ] {
        assert!(tf.contains(want), "{want} not in {tf}");
    }
    assert!(!tf.contains("random_password"), "{tf}");
    let versions = std::fs::read_to_string(out.join("terraform/prod/versions.tf")).unwrap();
    assert!(!versions.contains("hashicorp/random"), "{versions}");
}

/// The variable a `$(VAR)` of `value` reads at `at` (0: the first), which must be defined
/// earlier in `env` than `name` (Kubernetes expands only those), and its secret reference.
fn reads(env: &[Value], name: &str, nth: usize) -> (String, String) {
    let (at, v) = var(env, name);
    let value = v["value"].as_str().unwrap_or_default();
    let inner = value
        .split("$(")
        .nth(nth + 1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("{name} = {value} reads no variable {nth}"));
    let (helper_at, helper) = var(env, inner);
    assert!(helper_at < at, "{inner} must come before {name}: {env:?}");
    (inner.to_owned(), secret_of(helper))
}

#[test]
fn a_managed_postgres_binds_the_password_terraform_generates() {
    // SPEC's `api` binds `uri` and `read-uri`; here it binds the password too, and the
    // store (with SPEC's two read replicas) runs on RDS in `prod`.
    let spec = format!("{SPEC}\n[environments.prod.datastores.postgres]\nmode = \"managed\"\n")
        .replace(
            "bind.DB_HOST = { from = \"postgres\", key = \"host\" }\n",
            "bind.DB_HOST = { from = \"postgres\", key = \"host\" }\nbind.DB_PASSWORD = { from = \"postgres\", key = \"password\" }\n",
        )
        .replace("parameters = { max_connections = 200, work_mem = \"16MB\" }\n", "");
    let dir = setup("bind-managed-password", &spec);
    build(&dir.0, "k8s,terraform");
    let out = dir.join("out");
    let env = container_env(&out, "prod", "api");
    assert_eq!(
        secret_of(var(&env, "DB_PASSWORD").1),
        "postgres-password/password"
    );
    // The URLs read the host and the password from the Secrets Terraform writes, through
    // variables defined before them; neither value is in the manifest.
    assert_eq!(
        var(&env, "DATABASE_URL").1["value"],
        "postgresql://app:$(PLINTH_POSTGRES_PASSWORD)@$(PLINTH_POSTGRES_HOST):5432/app?sslmode=require"
    );
    assert_eq!(
        reads(&env, "DATABASE_URL", 0),
        (
            "PLINTH_POSTGRES_PASSWORD".to_owned(),
            "postgres-password/password".to_owned()
        )
    );
    assert_eq!(
        reads(&env, "DATABASE_URL", 1),
        (
            "PLINTH_POSTGRES_HOST".to_owned(),
            "postgres-connection/host".to_owned()
        )
    );
    assert_eq!(
        reads(&env, "DATABASE_READ_URL", 1),
        (
            "PLINTH_POSTGRES_READ_HOST".to_owned(),
            "postgres-connection/read-host".to_owned()
        )
    );
    // The External Secrets operator copies the password from the secret Terraform writes.
    let es = docs(&out.join("k8s/prod/external-secrets.yaml"));
    let e = es
        .iter()
        .find(|d| d["kind"] == "ExternalSecret" && d["metadata"]["name"] == "postgres-password")
        .expect("no ExternalSecret postgres-password");
    assert_eq!(
        e["spec"]["data"][0]["remoteRef"]["key"],
        "postgres-password"
    );
    assert_eq!(e["spec"]["data"][0]["remoteRef"]["property"], "password");
    // Terraform generates it without keeping it: an ephemeral password, written and set
    // through write-only arguments, read back from the secret for the instance.
    let tf = std::fs::read_to_string(out.join("terraform/prod/datastores.tf")).unwrap();
    for want in [
        "ephemeral \"random_password\" \"postgres_password\"",
        "\"shop/prod/postgres-password\"",
        "secret_string_wo         = jsonencode({ password = ephemeral.random_password.postgres_password.result })",
        "secret_string_wo_version = var.postgres_password_version",
        "ephemeral \"aws_secretsmanager_secret_version\" \"postgres_password\"",
        "password_wo                           = jsondecode(ephemeral.aws_secretsmanager_secret_version.postgres_password.secret_string)[\"password\"]",
        "password_wo_version                   = aws_secretsmanager_secret_version.postgres_password.secret_string_wo_version",
    ] {
        assert!(tf.contains(want), "{want} not in {tf}");
    }
    assert!(!tf.contains("manage_master_user_password"), "{tf}");
    // Every use of the password is a write-only argument, which Terraform keeps out of
    // plan and state.
    for line in tf.lines().filter(|l| {
        l.contains("random_password.postgres_password")
            || l.contains("version.postgres_password.secret_string)")
    }) {
        assert!(
            line.trim_start().contains("_wo "),
            "a password in state: {line}"
        );
    }
    let variables = std::fs::read_to_string(out.join("terraform/prod/variables.tf")).unwrap();
    assert!(
        variables.contains("variable \"postgres_password_version\""),
        "{variables}"
    );
    let versions = std::fs::read_to_string(out.join("terraform/prod/versions.tf")).unwrap();
    assert!(versions.contains("hashicorp/random"), "{versions}");
    assert!(
        versions.contains("required_version = \">= 1.11\""),
        "{versions}"
    );
    let outputs = std::fs::read_to_string(out.join("terraform/prod/outputs.tf")).unwrap();
    assert!(
        outputs.contains("aws_secretsmanager_secret.postgres_password.arn"),
        "{outputs}"
    );
    // The closure proof finds a producer for every Secret the pods read.
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(
        codes(&out).iter().all(|c| !c.starts_with('P')),
        "{:?}",
        codes(&out)
    );
}

#[test]
fn an_unbound_placeholder_in_a_value_is_an_error_not_text() {
    let spec = SPEC.replace(
        "bind.DB_PORT",
        "env.DB_DSN = \"host={postgres.host}\"\nbind.DB_PORT",
    );
    let diags = check("bind-placeholder", &spec);
    has(
        &diags,
        "E149",
        "unknown placeholder `{postgres.host}`",
        "bind",
    );
}

#[test]
fn parameters_reach_the_cluster_the_statefulset_compose_and_rds() {
    let dir = setup("bind-params", SPEC);
    build(&dir.0, "k8s,compose");
    let cluster = docs(&dir.join("out/k8s/prod/postgres.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "Cluster")
        .unwrap();
    let params = &cluster["spec"]["postgresql"]["parameters"];
    assert_eq!(params["max_connections"], "200", "{params}");
    assert_eq!(params["work_mem"], "16MB", "{params}");
    let set = docs(&dir.join("out/k8s/dev/postgres.yaml"))
        .into_iter()
        .find(|d| d["kind"] == "StatefulSet")
        .unwrap();
    let args: Vec<&str> = set["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["-c", "max_connections=200"]),
        "{args:?}"
    );
    let compose: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("out/compose/compose.yaml")).unwrap(),
    )
    .unwrap();
    let command = compose["services"]["postgres"]["command"].to_string();
    assert!(command.contains("work_mem=16MB"), "{command}");

    // RDS takes plain numbers in each parameter's own unit (work_mem in kB).
    let managed = format!("{SPEC}\n[environments.prod.datastores.postgres]\nmode = \"managed\"\n")
        .replace("bind.", "# bind.")
        .replace("work_mem = \"16MB\"", "work_mem = 16384");
    let dir = setup("bind-params-rds", &managed);
    build(&dir.0, "terraform");
    let tf = std::fs::read_to_string(dir.join("out/terraform/prod/datastores.tf")).unwrap();
    let group = &tf[tf.find("resource \"aws_db_parameter_group\"").unwrap()..];
    let group = &group[..group.find("\n}\n").unwrap()];
    for (name, value) in [
        ("max_connections", "200"),
        ("work_mem", "16384"),
        ("rds.force_ssl", "1"),
    ] {
        let at = group
            .find(&format!("\"{name}\""))
            .unwrap_or_else(|| panic!("{name} not in {group}"));
        let value_line = group[at..].lines().nth(1).unwrap();
        assert!(
            value_line.contains(&format!("\"{value}\"")),
            "{name}: {value_line}"
        );
    }
}

#[test]
fn parameters_plinth_or_the_operator_manage_are_refused() {
    let spec = SPEC.replace(
        "parameters = { max_connections = 200, work_mem = \"16MB\" }",
        "parameters = { port = 5433, Max_Connections = 10 }",
    );
    let diags = check("bind-fixed", &spec);
    has(&diags, "E013", "`port` is set by plinth", "`ports`");
    has(
        &diags,
        "E013",
        "`Max_Connections` is not a PostgreSQL parameter name",
        "lowercase",
    );
    let managed = format!("{SPEC}\n[environments.prod.datastores.postgres]\nmode = \"managed\"\n")
        .replace("bind.", "# bind.");
    has(&check("bind-fixed-rds", &managed), "E013", "`16MB`", "kB");
    let spec = SPEC.replace(
        "preset = \"redis\"\n",
        "preset = \"redis\"\nparameters = { maxmemory = \"1gb\" }\n",
    );
    has(
        &check("bind-fixed-redis", &spec),
        "E013",
        "`parameters` on a `redis` store",
        "PostgreSQL",
    );
}

#[test]
fn store_settings_the_operator_would_drop_are_warnings() {
    let spec = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\nargs = [\"-c\", \"max_connections=300\"]\nreplicas = 2\nenv = { TZ = \"UTC\" }\nimage = \"docker.io/library/postgres\"\nsecrets = { POSTGRES_PASSWORD = { secret = \"pg\", key = \"password\" } }\nstorage = { size = \"20Gi\", path = \"/pg\" }\nbackup = { schedule = \"0 3 * * *\", continuous = false }\nmanaged = { multi_az = true }\n",
    );
    let diags = check("bind-w011", &spec);
    for key in [
        "args",
        "replicas",
        "env",
        "image",
        "secrets",
        "storage.path",
        "backup.continuous",
        "managed",
    ] {
        has(
            &diags,
            "W011",
            &format!("`{key}` of `postgres` has no effect in `prod`"),
            "",
        );
    }
    // Nothing the preset sets is reported, and nothing without a cloud.
    assert_eq!(
        diags.iter().filter(|(c, _, _)| c == "W011").count(),
        8,
        "{diags:#?}"
    );
    assert!(check("bind-w011-clean", SPEC)
        .iter()
        .all(|(c, _, _)| c != "W011"));
}

#[test]
fn the_proof_finds_a_producer_for_every_bound_secret() {
    // Proof findings are errors by default: an unproduced Secret (P005) would fail.
    let dir = setup("bind-proof", SPEC);
    let out = plinth_run(&dir.0, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(
        codes(&out).iter().all(|c| !c.starts_with('P')),
        "{:?}",
        codes(&out)
    );
}

#[test]
fn with_a_pooler_the_url_leads_through_pgbouncer() {
    let spec = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\npooling = { max_client_conn = 1000 }\n",
    );
    let dir = setup("bind-pooler", &spec);
    build(&dir.0, "k8s");
    let env = container_env(&dir.join("out"), "prod", "api");
    let (uri, password) = composed_from(&env, "DATABASE_URL");
    assert_eq!(uri, "postgresql://app:PASSWORD@postgres:5432/app");
    assert_eq!(password, "postgres-app/password");
    assert_eq!(var(&env, "DB_HOST").1["value"], "postgres");
}

#[test]
fn names_from_the_spec_are_percent_encoded_in_a_url() {
    let spec = SPEC.replace(
        "read_replicas = 2\n",
        "read_replicas = 2\nenv = { POSTGRES_USER = \"app@eu\", POSTGRES_DB = \"shop/main\" }\n",
    );
    let dir = setup("bind-encoded", &spec);
    build(&dir.0, "k8s");
    let env = container_env(&dir.join("out"), "dev", "api");
    let (uri, _) = composed_from(&env, "DATABASE_URL");
    assert_eq!(
        uri,
        "postgresql://app%40eu:PASSWORD@postgres:5432/shop%2Fmain"
    );
}

#[test]
fn qdrant_binds_its_api_key_when_it_has_one() {
    let spec = SPEC
        .replace(
            r#"depends_on = ["postgres", "redis", "files"]"#,
            r#"depends_on = ["postgres", "redis", "files", "vectors", "plain"]"#,
        )
        .replace(
            "bind.DB_PORT",
            "bind.QDRANT_URL = { from = \"vectors\", key = \"uri\" }\nbind.QDRANT_API_KEY = { from = \"vectors\", key = \"api-key\" }\nbind.DB_PORT",
        )
        .replace(
            "[datastores.files]",
            "[datastores.vectors]\npreset = \"qdrant\"\nsecrets = { QDRANT__SERVICE__API_KEY = { secret = \"vectors-key\", key = \"api-key\" } }\n\n[datastores.plain]\npreset = \"qdrant\"\n\n[datastores.files]",
        );
    let dir = setup("bind-qdrant", &spec);
    build(&dir.0, "k8s");
    let env = container_env(&dir.join("out"), "dev", "api");
    assert_eq!(var(&env, "QDRANT_URL").1["value"], "http://vectors:6333");
    assert_eq!(
        secret_of(var(&env, "QDRANT_API_KEY").1),
        "vectors-key/api-key"
    );
    let spec = spec.replace(
        "bind.QDRANT_API_KEY = { from = \"vectors\"",
        "bind.QDRANT_API_KEY = { from = \"plain\"",
    );
    has(
        &check("bind-qdrant-nokey", &spec),
        "E012",
        "`plain` has no API key to bind",
        "QDRANT__SERVICE__API_KEY",
    );
}
