//! The Helm target. The values files are parsed back and checked field by field, merged the
//! way Helm merges them and validated against the generated schema (always). With the
//! upstream tools installed, the chart is rendered by Helm's own library for every example and
//! environment and compared, object by object and field by field, with the raw manifests of
//! the k8s target.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};

/// Compiles `text` shown as `name`, asserting it has no errors.
fn compile(name: &str, text: &str, options: &plinth::Options) -> plinth::Compilation {
    let c = plinth::compile(name, text, options);
    assert!(
        !c.diagnostics.has_errors(),
        "{}",
        plinth::cli::render::human(&c.sources, &c.diagnostics.0, false, 100)
    );
    c
}

/// Every example, valid fixture and inline spec of this file, as (name, text).
fn specs() -> Vec<(String, String)> {
    let mut paths = toml_files("examples");
    paths.extend(toml_files("compiler/tests/fixtures/valid"));
    let mut v: Vec<(String, String)> = paths
        .into_iter()
        .map(|p| (shown(&p), std::fs::read_to_string(&p).unwrap()))
        .collect();
    v.push(("kitchen-sink.toml".to_owned(), KITCHEN_SINK.to_owned()));
    v.push(("single.toml".to_owned(), SINGLE.to_owned()));
    v
}

fn file<'a>(c: &'a plinth::Compilation, path: &str) -> &'a str {
    &c.files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no file {path}"))
        .contents
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("generated YAML parses")
}

/// Helm's merge of a values file over the chart's defaults: maps merge key by key, a `null`
/// removes the key, anything else replaces.
fn coalesce(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = out.get(k).map_or_else(|| v.clone(), |bv| coalesce(bv, v));
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        _ => over.clone(),
    }
}

/// The values Helm uses for `env`: the chart's values.yaml with values-<env>.yaml over it.
fn merged_values(c: &plinth::Compilation, platform: &str, env: &str) -> Value {
    let shared = yaml(file(c, &format!("helm/{platform}/values.yaml")));
    let own = yaml(file(c, &format!("helm/{platform}/values-{env}.yaml")));
    coalesce(&shared, &own)
}

const KITCHEN_SINK: &str = r#"
version = 1
[platform]
name = "acme"
domain = "acme.dev"
team = "core"
labels = { cost-center = "42", tier = "true" }
ingress_class = "traefik"
ingress_namespace = "traefik"
tls_issuer = "internal-ca"
monitoring_namespace = "observability"
egress = [{ cidr = "10.20.0.0/16", ports = [] }]

[services.api]
image = "ghcr.io/acme/api:1.2.3"
command = ["/bin/api"]
args = ["--port", "8080", "--verbose=true"]
ports = [{ name = "http", port = 8080 }, { name = "metrics", port = 9090 }, { name = "gossip", port = 7946, protocol = "udp" }]
resources = { requests = { cpu = "200m", memory = "256Mi" }, limits = { cpu = "1.5", memory = "1Gi" } }
probes.readiness = { path = "/ready", port = "http", initial_delay = "5s", period = "5s" }
probes.liveness = { port = "http" }
probes.startup = { command = ["cat", "/tmp/started"], period = "2s", failure_threshold = 30 }
rollout = { max_surge = "25%", max_unavailable = "10%" }
disruption_budget = { min_available = "50%" }
env = { LOG_LEVEL = "info", FEATURE_FLAG = "yes", EMPTY = "", MULTI = "a: b\nc", PORT = "8080" }
secrets = { SENTRY_DSN = { secret = "sentry", key = "dsn" }, DB_PASSWORD = { secret = "api-db", key = "password" } }
config_files = [{ path = "/etc/api/config.yaml", content = "mode: strict\nlevel: 3\n" }, { path = "/etc/api/nested/extra.json", content = "{\"a\": 1}" }]
volumes = [{ name = "cache", path = "/var/cache/api", size = "2Gi" }, { name = "scratch", path = "/scratch" }]
metrics = { path = "/metrics", port = "metrics", interval = "15s" }
ingress = { host = "api.{domain}", path = "/v1" }
depends_on = ["db", "cache", "search"]
egress = [{ cidr = "0.0.0.0/0", ports = [443, 8443] }]
team = "payments"
vertical_autoscaling = "off"
autoscaling = { min = 2, max = 10, cpu = 70, memory = 80, metrics = [{ name = "http_requests_per_second", target = "100" }], scale_up = { stabilization = "60s", policies = [{ type = "percent", value = 100, period = "15s" }, { type = "pods", value = 4, period = "15s" }], select = "max" }, scale_down = { stabilization = "300s", select = "min", policies = [{ type = "pods", value = 2, period = "60s" }] } }

[services.web]
image = "ghcr.io/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
ports = [{ name = "http", port = 3000 }]
replicas = 3
ingress = { host = "www.acme.dev", tls = false }
depends_on = ["api"]
probes.readiness = { path = "/", port = 3000 }

[services.worker]
kind = "worker"
image = "ghcr.io/acme/worker:2.0.0"
replicas = 1
depends_on = ["cache"]
ports = [{ name = "metrics", port = 9100 }]
metrics = { path = "/metrics", port = "metrics" }
probes.liveness = { command = ["true"] }
security = { read_only_root_filesystem = false, add_capabilities = ["NET_BIND_SERVICE"] }
image_pull_secrets = ["regcred"]

[services.nightly]
kind = "cron"
schedule = "0 3 * * *"
image = "ghcr.io/acme/jobs:1.0.0"
args = ["report"]
depends_on = ["db"]

[services.ledger]
kind = "stateful"
image = "ghcr.io/acme/ledger:0.4.0"
ports = [{ name = "raft", port = 7000 }]
replicas = 3
storage = { size = "20Gi", path = "/var/lib/ledger", class = "gp3" }
security = { service_account_token = true, run_as_user = 20000 }
vertical_autoscaling = "initial"

[datastores.db]
preset = "postgres"
version = "16.4"
storage = { size = "100Gi", class = "gp3" }
vertical_autoscaling = "auto"
backup = { schedule = "0 2 * * *", retention = "30d" }

[datastores.cache]
preset = "redis"
version = "7.2"
backup = { schedule = "0 */6 * * *", retention = "36h" }

[datastores.search]
preset = "qdrant"
version = "1.9.0"

[environments.staging]
namespace = "acme-staging"
domain = "staging.acme.dev"
resource_scale = 0.5
replica_scale = 0.5

[environments.production]
namespace = "acme-prod"
[environments.production.datastores.db]
mode = "managed"
[environments.production.services.web]
ingress = { host = "www.acme.dev", tls = true }

[cloud]
provider = "aws"
region = "eu-west-1"
network = { cidr = "10.42.0.0/16" }

[observability]
scrape_interval = "20s"
retention = "7d"

[alerting]
default_receiver = "ops"
receivers.ops = { type = "webhook", url = { secret = "ops", key = "url" } }

[secrets.sentry]
source = "external"
"#;

/// A spec without environments: everything is shared.
const SINGLE: &str = r#"
version = 1
[platform]
name = "solo"
[services.app]
image = "ghcr.io/solo/app:1.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
[alerting]
default_receiver = "ops"
receivers.ops = { type = "webhook", url = { secret = "ops", key = "url" } }
"#;

#[test]
fn chart_layout_is_what_other_targets_refer_to() {
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let helm: Vec<&str> = c
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.starts_with("helm/"))
        .collect();
    for path in [
        "helm/acme/Chart.yaml",
        "helm/acme/values.schema.json",
        "helm/acme/values.yaml",
        "helm/acme/values-production.yaml",
        "helm/acme/values-staging.yaml",
        "helm/acme/templates/_helpers.tpl",
        "helm/acme/templates/deployment.yaml",
        "helm/values-kube-prometheus-stack-production.yaml",
    ] {
        assert!(helm.contains(&path), "missing {path} in {helm:#?}");
    }
    assert_eq!(
        plinth::ir::naming::helm_chart_dir("acme"),
        "helm/acme",
        "terraform/<env>/ refers to ../../helm/<platform>"
    );
    assert_eq!(
        plinth::ir::naming::helm_values_file("acme", "staging"),
        "helm/acme/values-staging.yaml"
    );
}

#[test]
fn chart_file_is_generated_and_deterministic() {
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let text = file(&c, "helm/acme/Chart.yaml");
    assert!(text.starts_with("# generated by plinth from spec.toml, do not edit\n"));
    let chart = yaml(text);
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "acme");
    assert_eq!(chart["type"], "application");
    assert_eq!(chart["version"], "0.1.0");
    let keys: Vec<&String> = chart.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["apiVersion", "name", "description", "type", "version"],
        "no appVersion or other field that could carry plinth's version"
    );
}

#[test]
fn templates_are_the_stdlib_chart_behind_a_banner() {
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    for (rel, text) in plinth::stdlib::HELM_APP_CHART {
        let out = file(&c, &format!("helm/acme/{rel}"));
        let (first, rest) = out.split_once('\n').unwrap();
        assert_eq!(
            first,
            "{{- /* generated by plinth from spec.toml, do not edit */ -}}"
        );
        assert_eq!(rest, *text, "{rel} is copied unchanged");
    }
}

#[test]
fn shared_values_hold_no_environment_and_each_file_names_its_own() {
    for (name, text) in specs() {
        let c = compile(&name, &text, &plinth::Options::default());
        let p = c.platform.as_ref().unwrap();
        let shared = yaml(file(&c, &format!("helm/{}/values.yaml", p.name)));
        assert!(
            shared.get("environment").is_none(),
            "{name}: values.yaml must render nothing by itself"
        );
        for env in &p.environments {
            let own = yaml(file(
                &c,
                &format!("helm/{}/values-{}.yaml", p.name, env.name),
            ));
            assert_eq!(own["environment"], env.name.as_str(), "{name}");
        }
    }
}

#[test]
fn shared_and_environment_values_merge_back_to_the_environment() {
    for (name, text) in specs() {
        let c = compile(&name, &text, &plinth::Options::default());
        let p = c.platform.as_ref().unwrap();
        for env in &p.environments {
            let want = serde_json::to_value(plinth::emit::helm::values(p, env).unwrap()).unwrap();
            assert_eq!(
                merged_values(&c, &p.name, &env.name),
                want,
                "{name}: values.yaml + values-{}.yaml",
                env.name
            );
        }
    }
}

#[test]
fn devmentor_values_carry_the_reference_document() {
    let path = root().join("examples/devmentor.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = compile(
        "examples/devmentor.toml",
        &text,
        &plinth::Options::default(),
    );
    // 000: `apiGateway.replicaCount: 2`, requests 200m/256Mi, limits 500m/512Mi, an HPA of
    // 2..10 at 70% CPU (which owns the count, so the lower bound is the autoscaler's).
    let prod = merged_values(&c, "devmentor", "production");
    let gw = &prod["services"]["api-gateway"];
    assert_eq!(gw["image"], "ghcr.io/devmentor/api-gateway:1.8.2");
    assert_eq!(gw["autoscaling"]["minReplicas"], 2);
    assert_eq!(gw["autoscaling"]["maxReplicas"], 10);
    assert_eq!(gw["autoscaling"]["targetCPUUtilizationPercentage"], 70);
    assert!(gw.get("replicaCount").is_none());
    assert_eq!(
        gw["resources"],
        json!({ "requests": { "cpu": "200m", "memory": "256Mi" }, "limits": { "cpu": "500m", "memory": "512Mi" } })
    );
    // 000: `secretKeyRef: { name: sentry, key: dsn }`: a reference, never a value.
    assert_eq!(
        gw["secrets"]["SENTRY_DSN"],
        json!({ "secret": "sentry", "key": "dsn" })
    );
    assert_eq!(gw["ingress"]["host"], "api.devmentor.io");
    assert_eq!(gw["ingress"]["tls"]["secretName"], "api-devmentor-io-tls");
    assert_eq!(gw["podDisruptionBudget"], json!({ "maxUnavailable": 1 }));
    assert_eq!(prod["services"]["auth-service"]["replicaCount"], 2);
    // 001 "PostgreSQL primary with three streaming replicas": the operator's cluster.
    let pg = &prod["postgresClusters"]["postgres"]["spec"];
    assert_eq!(pg["instances"], 4);
    assert_eq!(pg["storage"]["size"], "200Gi");
    assert!(prod["datastores"].get("postgres").is_none());
    // Staging runs on half the resources and replicas; that is all its file needs to say.
    let staging = merged_values(&c, "devmentor", "staging");
    let gw = &staging["services"]["api-gateway"];
    assert_eq!(gw["resources"]["requests"]["cpu"], "100m");
    assert_eq!(gw["autoscaling"]["maxReplicas"], 5);
    let own = yaml(file(&c, "helm/devmentor/values-staging.yaml"));
    assert!(
        own["services"]["api-gateway"].get("image").is_none(),
        "the image is shared, so it lives in values.yaml only"
    );
    assert_eq!(
        own["services"]["api-gateway"]["env"],
        json!({ "SENTRY_ENV": "staging" })
    );
}

#[test]
fn kitchen_sink_values_cover_every_workload_feature() {
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let v = merged_values(&c, "acme", "production");
    let api = &v["services"]["api"];
    assert_eq!(
        api["rollingUpdate"],
        json!({ "maxSurge": "25%", "maxUnavailable": "10%" })
    );
    assert_eq!(api["podDisruptionBudget"], json!({ "minAvailable": "50%" }));
    assert_eq!(
        api["startupProbe"]["exec"]["command"],
        json!(["cat", "/tmp/started"])
    );
    assert_eq!(api["livenessProbe"]["tcpSocket"]["port"], "http");
    assert_eq!(
        api["autoscaling"]["podMetrics"],
        json!([{ "name": "http_requests_per_second", "averageValue": "100" }])
    );
    assert_eq!(
        api["autoscaling"]["behavior"]["scaleDown"]["selectPolicy"],
        "Min"
    );
    assert_eq!(api["verticalAutoscaling"]["updateMode"], "Off");
    assert_eq!(
        api["metrics"],
        json!({ "path": "/metrics", "port": "metrics", "interval": "15s" })
    );
    assert_eq!(api["team"], "payments");
    assert_eq!(api["configFiles"][1]["path"], "/etc/api/nested/extra.json");
    assert_eq!(api["volumes"][0]["sizeLimit"], "2Gi");
    // Managed in production: its clients reach it in the VPC, not through a pod selector.
    assert_eq!(
        v["managedStores"]["db"],
        json!({ "cidr": "10.42.0.0/16", "ports": [{ "port": 5432, "protocol": "TCP" }] })
    );
    assert!(v["datastores"].get("db").is_none());
    // In-cluster in staging, which has a cloud: the CloudNativePG operator runs it.
    let staging = merged_values(&c, "acme", "staging");
    assert!(staging["datastores"].get("db").is_none());
    assert_eq!(staging["postgresClusters"]["db"]["port"], 5432);
    assert_eq!(
        staging["postgresClusters"]["db"]["spec"]["storage"]["storageClass"],
        "gp3"
    );
    assert!(staging.get("managedStores").is_none());
    // Backups: with a cloud, the k8s target's off-cluster job as data, and no dump volume.
    assert!(v["datastores"]["cache"].get("backup").is_none());
    let backup = &v["datastores"]["cache"]["offsiteBackup"]["cronJob"];
    let dump = &backup["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0];
    assert!(dump["command"][2]
        .as_str()
        .unwrap()
        .starts_with("redis-cli "));
    assert_eq!(v["services"]["nightly"]["schedule"], "0 3 * * *");
    assert!(v["services"]["nightly"].get("rollingUpdate").is_none());
    assert_eq!(
        v["services"]["ledger"]["persistence"],
        json!({ "size": "20Gi", "mountPath": "/var/lib/ledger", "storageClass": "gp3" })
    );
    assert_eq!(
        v["services"]["ledger"]["security"]["serviceAccountToken"],
        true
    );
    assert!(v["services"]["web"]["ingress"]["tls"].is_object());
    assert!(staging["services"]["web"]["ingress"].get("tls").is_none());
    assert_eq!(v["cluster"]["ingressClass"], "traefik");
}

#[test]
fn building_one_environment_keeps_the_shared_values() {
    let all = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let one = compile(
        "spec.toml",
        KITCHEN_SINK,
        &plinth::Options {
            targets: vec![plinth::emit::Target::Helm],
            envs: vec!["staging".to_owned()],
            lenient: false,
        },
    );
    assert_eq!(
        file(&one, "helm/acme/values.yaml"),
        file(&all, "helm/acme/values.yaml")
    );
    assert!(one.files.iter().all(|f| !f.path.contains("production")));
}

/// The generated schema, compiled.
fn schema_validator(c: &plinth::Compilation, platform: &str) -> jsonschema::Validator {
    let text = file(c, &format!("helm/{platform}/values.schema.json"));
    let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
    assert_eq!(
        schema["$comment"],
        plinth::ir::naming::banner(&c.platform.as_ref().unwrap().spec_path)
    );
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path().as_str()))
        .collect()
}

#[test]
fn schema_accepts_every_generated_values_file() {
    for (name, text) in specs() {
        let c = compile(&name, &text, &plinth::Options::default());
        let p = c.platform.as_ref().unwrap();
        let v = schema_validator(&c, &p.name);
        let shared = yaml(file(&c, &format!("helm/{}/values.yaml", p.name)));
        assert_eq!(
            errors(&v, &shared),
            Vec::<String>::new(),
            "{name}: values.yaml"
        );
        for env in &p.environments {
            let merged = merged_values(&c, &p.name, &env.name);
            assert_eq!(
                errors(&v, &merged),
                Vec::<String>::new(),
                "{name}: {}",
                env.name
            );
        }
    }
}

#[test]
fn schema_rejects_unknown_keys_wrong_types_and_incomplete_environments() {
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let v = schema_validator(&c, "acme");
    let good = merged_values(&c, "acme", "staging");

    // 000 writes `replicaCount`; `replicas` is a typo Helm would otherwise ignore silently.
    let typo = coalesce(&good, &json!({ "services": { "web": { "replicas": 3 } } }));
    assert!(errors(&v, &typo).iter().any(|e| e.contains("replicas")));
    let wrong = coalesce(
        &good,
        &json!({ "services": { "web": { "replicaCount": "three" } } }),
    );
    assert!(!errors(&v, &wrong).is_empty());
    let bad_enum = coalesce(
        &good,
        &json!({ "services": { "web": { "kind": "daemon" } } }),
    );
    assert!(!errors(&v, &bad_enum).is_empty());
    // A workload of an environment needs everything the templates read.
    let incomplete = coalesce(
        &good,
        &json!({ "services": { "extra": { "kind": "web", "image": "ghcr.io/acme/x:1.0.0" } } }),
    );
    let e = errors(&v, &incomplete);
    assert!(
        e.iter().any(|e| e.contains("resources")),
        "a workload without resources: {e:#?}"
    );
    let mut no_limits = good.clone();
    no_limits["services"]["web"]["resources"]
        .as_object_mut()
        .unwrap()
        .remove("limits");
    assert!(errors(&v, &no_limits).iter().any(|e| e.contains("limits")));
    // The shared file alone is partial by design and selects no environment.
    let mut partial = good.clone();
    partial.as_object_mut().unwrap().remove("environment");
    partial["services"]["extra"] = json!({ "image": "ghcr.io/acme/x:1.0.0" });
    assert_eq!(errors(&v, &partial), Vec::<String>::new());
}

#[test]
fn upstream_values_where_the_spec_asks_for_them() {
    let text = std::fs::read_to_string(root().join("examples/devmentor.toml")).unwrap();
    let c = compile(
        "examples/devmentor.toml",
        &text,
        &plinth::Options::default(),
    );
    // 000 asks for Loki: grafana-community/loki as one single-tenant binary on a volume
    // (loki-stack and Promtail are deprecated), fed by one Alloy tailing every pod's logs
    // through the Kubernetes API.
    let loki = yaml(file(&c, "helm/values-loki-production.yaml"));
    assert_eq!(loki["deploymentMode"], "Monolithic");
    assert_eq!(loki["loki"]["auth_enabled"], false);
    assert_eq!(loki["loki"]["commonConfig"]["replication_factor"], 1);
    assert_eq!(loki["loki"]["storage"]["type"], "filesystem");
    let schema = &loki["loki"]["schemaConfig"]["configs"][0];
    assert_eq!(schema["store"], "tsdb");
    assert_eq!(schema["object_store"], "filesystem");
    assert_eq!(schema["schema"], "v13");
    assert_eq!(loki["singleBinary"]["replicas"], 1);
    for scalable in ["read", "write", "backend"] {
        assert_eq!(loki[scalable]["replicas"], 0, "{scalable}");
    }
    assert_eq!(loki["gateway"]["enabled"], true);
    let alloy = yaml(file(&c, "helm/values-alloy-production.yaml"));
    assert_eq!(alloy["controller"]["type"], "deployment");
    assert_eq!(alloy["controller"]["replicas"], 1);
    let config = alloy["alloy"]["configMap"]["content"].as_str().unwrap();
    assert!(
        config.contains("loki.source.kubernetes \"pods\""),
        "{config}"
    );
    assert!(
        config.contains("url = \"http://loki-gateway.observability.svc/loki/api/v1/push\""),
        "{config}"
    );
    assert!(!c.files.iter().any(|f| f.path.contains("loki-stack")));
    let kps = yaml(file(
        &c,
        "helm/values-kube-prometheus-stack-production.yaml",
    ));
    let spec = &kps["prometheus"]["prometheusSpec"];
    assert_eq!(spec["scrapeInterval"], "30s");
    assert_eq!(spec["retention"], "30d");
    assert_eq!(spec["externalLabels"]["environment"], "production");
    // plinth's ServiceMonitors carry no `release` label; the default selector would skip them.
    assert_eq!(spec["serviceMonitorSelectorNilUsesHelmValues"], false);
    assert_eq!(spec["ruleSelectorNilUsesHelmValues"], false);
    assert_eq!(
        kps["grafana"]["additionalDataSources"][0]["url"],
        "http://loki-gateway.observability.svc"
    );
    // The generated rules and Alertmanager configuration, exactly as the Prometheus and
    // Alertmanager targets write them, with the Secrets the credential files come from.
    assert_eq!(
        kps["additionalPrometheusRulesMap"]["devmentor-rules"],
        yaml(file(&c, "prometheus/production/rules.yaml"))
    );
    assert_eq!(
        kps["alertmanager"]["config"],
        yaml(file(&c, "alertmanager/production/alertmanager.yaml"))
    );
    assert_eq!(
        kps["alertmanager"]["alertmanagerSpec"]["secrets"],
        json!(["pagerduty", "slack"])
    );
    // EKS runs the control plane out of the cluster and kube-proxy's metrics on loopback: the
    // chart's monitors of them would only page (KubeControllerManagerDown, KubeSchedulerDown,
    // critical, and KubeProxyInstanceUnreachable) for as long as the cluster lives.
    for component in [
        "kubeControllerManager",
        "kubeScheduler",
        "kubeEtcd",
        "kubeProxy",
    ] {
        assert_eq!(kps[component], json!({ "enabled": false }), "{component}");
    }

    // 003: 15s scrape interval, 30 days retention; no log stack asked for.
    let text = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    let c = compile("examples/codepal.toml", &text, &plinth::Options::default());
    assert!(!c
        .files
        .iter()
        .any(|f| f.path.contains("values-loki") || f.path.contains("values-alloy")));
    let kps = yaml(file(
        &c,
        "helm/values-kube-prometheus-stack-production.yaml",
    ));
    assert_eq!(kps["prometheus"]["prometheusSpec"]["scrapeInterval"], "15s");
    assert_eq!(kps["prometheus"]["prometheusSpec"]["retention"], "30d");
    // No Loki data source, but the dashboard sidecar that loads plinth's dashboards.
    assert!(kps["grafana"].get("additionalDataSources").is_none());
    let sidecar = &kps["grafana"]["sidecar"]["dashboards"];
    assert_eq!(sidecar["label"], "grafana_dashboard");
    assert_eq!(sidecar["labelValue"], "1");
    assert_eq!(sidecar["searchNamespace"], "ALL");
    // No values for data-store charts: in-cluster stores are StatefulSets of the chart.
    let upstream: Vec<&str> = c
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.starts_with("helm/values-"))
        .collect();
    // Beside kube-prometheus-stack, only the cluster add-ons of the environments with a cloud.
    let addons = [
        "metrics-server",
        "vpa",
        "prometheus-adapter",
        "cert-manager",
        "external-secrets",
        "traefik",
        "gateway-helm",
        "cloudnative-pg",
        "plugin-barman-cloud",
        "argo-rollouts",
        "external-dns",
    ];
    assert!(
        upstream.iter().all(|p| {
            p.starts_with("helm/values-kube-prometheus-stack-")
                || addons.iter().any(|a| {
                    ["staging", "production"]
                        .iter()
                        .any(|env| *p == format!("helm/values-{a}-{env}.yaml"))
                })
        }),
        "{upstream:?}"
    );
}

#[test]
fn kube_prometheus_stack_takes_rules_and_alertmanager_config_through_the_hook() {
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let env = &c.platform.as_ref().unwrap().environments[0];
    let rules = "groups:\n- name: acme\n  rules:\n  - alert: Down\n    expr: |-\n      up\n\n        == 0\n";
    let extras = plinth::emit::helm::upstream::PrometheusExtras {
        rule_files: vec![
            (
                "acme-thresholds".to_owned(),
                std::sync::Arc::new(rules.to_owned()),
            ),
            // A name YAML would read as a boolean must come out quoted.
            (
                "yes".to_owned(),
                std::sync::Arc::new("groups: []\n".to_owned()),
            ),
        ],
        alertmanager_config: Some(json!({ "route": { "receiver": "ops" } })),
        alertmanager_secrets: vec!["ops".to_owned()],
    };
    let text = plinth::emit::helm::upstream::kube_prometheus_stack_values(env, &extras).unwrap();
    let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let acme = &v["additionalPrometheusRulesMap"]["acme-thresholds"]["groups"][0];
    assert_eq!(acme["name"], "acme");
    // The rule file's block scalar keeps its text, blank line included, once indented.
    assert_eq!(acme["rules"][0]["expr"], "up\n\n  == 0");
    assert!(!text.contains(" \n"), "no trailing spaces:\n{text}");
    assert_eq!(
        v["additionalPrometheusRulesMap"]["yes"],
        json!({ "groups": [] })
    );
    assert_eq!(v["alertmanager"]["config"]["route"]["receiver"], "ops");
    assert_eq!(
        v["alertmanager"]["alertmanagerSpec"]["secrets"],
        json!(["ops"])
    );
    // Without extras the chart keeps its own defaults for them; Alertmanager's size is
    // always written (`observability.alertmanager`, here its defaults).
    let bare = plinth::emit::helm::upstream::kube_prometheus_stack_values(env, &Default::default())
        .unwrap();
    let bare: serde_json::Value = serde_saphyr::from_str(&bare).unwrap();
    assert!(bare.get("additionalPrometheusRulesMap").is_none());
    // On the EKS cluster plinth creates, the chart's monitors of the control plane are off
    // (see upstream_values_where_the_spec_asks_for_them); a cluster plinth did not create may
    // run its control plane in pods, so the chart's defaults stay.
    assert!(env.cloud.is_some());
    assert_eq!(bare["kubeScheduler"], json!({ "enabled": false }));
    let text = format!("{KITCHEN_SINK}\n[environments.staging.cloud]\nenabled = false\n");
    let c = compile("spec.toml", &text, &plinth::Options::default());
    let p = c.platform.as_ref().unwrap();
    let env = p.environments.iter().find(|e| e.name == "staging").unwrap();
    assert!(env.cloud.is_none());
    let bare = plinth::emit::helm::upstream::kube_prometheus_stack_values(env, &Default::default())
        .unwrap();
    let bare: serde_json::Value = serde_saphyr::from_str(&bare).unwrap();
    for component in [
        "kubeControllerManager",
        "kubeScheduler",
        "kubeEtcd",
        "kubeProxy",
    ] {
        assert!(bare.get(component).is_none(), "{component}");
    }
    assert_eq!(
        bare["alertmanager"],
        json!({ "enabled": true, "alertmanagerSpec": { "replicas": 1, "retention": "120h" } })
    );
}

// ------------------------------------------------------------------ rendering with Helm

/// The tools venv's Python when scripts/install-tools made one (`$PLINTH_TOOLS`, by default
/// `<repo>/.tools`). Its absence fails under `CI=true` and skips with a notice otherwise.
fn tools_python() -> Option<PathBuf> {
    let tools = std::env::var_os("PLINTH_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools"));
    let python = tools.join("venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} not found: CI=true needs helm-python-sdk (run scripts/install-tools)",
        python.display()
    );
    eprintln!(
        "notice: {} not found, so the chart is not rendered with Helm; run scripts/install-tools or set PLINTH_TOOLS",
        python.display()
    );
    None
}

/// A fresh scratch folder for one spec's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "plinth-helm-test-{}-{}",
        std::process::id(),
        name.replace(['/', '.'], "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn write_files(dir: &Path, c: &plinth::Compilation) {
    for f in &c.files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.contents).unwrap();
    }
}

/// Renders the chart with `values` through scripts/helm-render: Ok(objects) or Err(stderr).
fn render(
    python: &Path,
    chart: &Path,
    values: &Path,
    namespace: &str,
) -> Result<Vec<Value>, String> {
    let out = Command::new(python)
        .arg(root().join("scripts/helm-render"))
        .arg(chart)
        .arg(values)
        .arg(namespace)
        .output()
        .expect("scripts/helm-render runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("helm-render prints JSON"))
}

/// kind/namespace/name of an object.
fn key(o: &Value) -> String {
    format!(
        "{}/{}/{}",
        o["kind"].as_str().unwrap_or("?"),
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Every difference between two objects, as a path and both sides.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => differences(&p, l, r, out),
                    (l, r) => out.push(format!("{p}: {l:?} != {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), l, r, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

/// Kinds the k8s target emits that the chart deliberately does not own: the Namespace must
/// exist before a release is installed into it (and carries the Pod Security label Helm's
/// `--create-namespace` would not set).
const NOT_IN_CHART: &[&str] = &["Namespace"];

#[test]
fn chart_renders_exactly_the_raw_manifests_of_every_environment() {
    let Some(python) = tools_python() else {
        return;
    };
    let mut failures = Vec::new();
    for (name, text) in specs() {
        let c = compile(&name, &text, &plinth::Options::default());
        let p = c.platform.as_ref().unwrap();
        let dir = scratch(&name);
        write_files(&dir, &c);
        for env in &p.environments {
            let mut raw: BTreeMap<String, Value> = BTreeMap::new();
            for f in c
                .files
                .iter()
                .filter(|f| f.path.starts_with(&format!("k8s/{}/", env.name)))
            {
                for o in serde_saphyr::from_multiple::<Value>(&f.contents).unwrap() {
                    if !NOT_IN_CHART.contains(&o["kind"].as_str().unwrap_or("")) {
                        raw.insert(key(&o), o);
                    }
                }
            }
            let rendered = render(
                &python,
                &dir.join(format!("helm/{}", p.name)),
                &dir.join(format!("helm/{}/values-{}.yaml", p.name, env.name)),
                &env.namespace,
            );
            let rendered = match rendered {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{name} {}: render failed: {e}", env.name));
                    continue;
                }
            };
            let mut got: BTreeMap<String, Value> = BTreeMap::new();
            for o in rendered {
                let k = key(&o);
                assert!(
                    got.insert(k.clone(), o).is_none(),
                    "{name} {}: {k} rendered twice",
                    env.name
                );
            }
            let keys: std::collections::BTreeSet<&String> = raw.keys().chain(got.keys()).collect();
            for k in keys {
                match (raw.get(k), got.get(k)) {
                    (Some(a), Some(b)) => {
                        let mut d = Vec::new();
                        differences("", a, b, &mut d);
                        failures
                            .extend(d.into_iter().map(|d| format!("{name} {} {k}{d}", env.name)));
                    }
                    (Some(_), None) => {
                        failures.push(format!("{name} {}: {k} not rendered", env.name))
                    }
                    (None, _) => {
                        failures.push(format!("{name} {}: {k} rendered, not in k8s/", env.name))
                    }
                }
            }
            assert!(!raw.is_empty(), "{name} {}: no objects", env.name);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "render ≠ raw manifests:\n{}",
        failures.join("\n")
    );
}

#[test]
fn helm_itself_rejects_bad_values_and_renders_nothing_without_an_environment() {
    let Some(python) = tools_python() else {
        return;
    };
    let c = compile("spec.toml", KITCHEN_SINK, &plinth::Options::default());
    let dir = scratch("rejects");
    write_files(&dir, &c);
    let chart = dir.join("helm/acme");
    let typo = dir.join("typo.yaml");
    std::fs::write(
        &typo,
        "environment: staging\nservices:\n  web:\n    replicas: 3\n",
    )
    .unwrap();
    let err = render(&python, &chart, &typo, "acme").unwrap_err();
    assert!(err.contains("replicas"), "{err}");
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "{}\n").unwrap();
    assert_eq!(
        render(&python, &chart, &empty, "acme").unwrap(),
        Vec::<Value>::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
