//! Issue 24 through the binary: every alert the Prometheus target generates reads series that
//! something in its environment produces, proved from the generated files alone (scrape
//! configurations, ServiceMonitors, the kube-prometheus-stack values), and an alert left out
//! is named in the build summary with what to add; the spec's metric conventions (request
//! counter, status label, latency histogram and unit) name the series the alerts read.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// Builds `spec` (relative to `dir`) with every target into `dir/out`, asserting success;
/// returns stderr (the summary).
fn build(dir: &Path, spec: &str) -> String {
    let out = plinth_run(dir, &["build", spec, "--out", "out"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-obs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every YAML document of `path`.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The metric names an expression selects: every name written before a `{`.
fn metrics(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b'{' {
            continue;
        }
        let start = bytes[..i]
            .iter()
            .rposition(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b':'))
            .map_or(0, |p| p + 1);
        if start < i {
            out.insert(expr[start..i].to_owned());
        }
    }
    out
}

/// Whether Docker Compose runs the Prometheus that evaluates the rules of `env`: the Compose
/// file mounts that environment's rules into a Prometheus service.
fn compose_prometheus(out: &Path, env: &str) -> bool {
    let compose = out.join("compose").join("compose.yaml");
    compose.exists()
        && documents(&compose)[0]["services"]["prometheus"]["volumes"]
            .as_array()
            .is_some_and(|v| {
                v.iter().any(|m| {
                    m["source"].as_str() == Some(&format!("../prometheus/{env}/rules.yaml"))
                })
            })
}

/// The workloads whose metrics endpoint is scraped in `env` of the build in `out`: the
/// `service` label of the Compose scrape configurations where Compose runs Prometheus, or
/// the ServiceMonitors of the Kubernetes manifests.
fn scraped(out: &Path, env: &str) -> BTreeSet<String> {
    if compose_prometheus(out, env) {
        let config = out.join("prometheus").join(env).join("prometheus.yml");
        return documents(&config)[0]["scrape_configs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|j| j["relabel_configs"].as_array().unwrap().iter())
            .filter(|r| r["target_label"] == "service")
            .filter_map(|r| r["replacement"].as_str().map(str::to_owned))
            .collect();
    }
    let mut names = BTreeSet::new();
    for f in std::fs::read_dir(out.join("k8s").join(env)).unwrap() {
        for d in documents(&f.unwrap().path()) {
            if d["kind"] == "ServiceMonitor" {
                let name = &d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"];
                names.insert(name.as_str().unwrap().to_owned());
            }
            // CloudNativePG's instances, whose `cnpg.io/cluster` label becomes `service`.
            if d["kind"] == "PodMonitor" {
                if let Some(name) = d["spec"]["selector"]["matchLabels"]["cnpg.io/cluster"].as_str()
                {
                    names.insert(name.to_owned());
                }
                // A replicated Redis's pods, whose `service` a relabeling sets to the store.
                let endpoints = d["spec"]["podMetricsEndpoints"].as_array();
                for r in endpoints
                    .into_iter()
                    .flatten()
                    .flat_map(|e| e["relabelings"].as_array().into_iter().flatten())
                    .filter(|r| r["targetLabel"] == "service")
                {
                    if let Some(name) = r["replacement"].as_str() {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
    }
    names
}

/// Whether the cluster of `env` runs kube-prometheus-stack (kube-state-metrics, cAdvisor,
/// the kubelet's volume stats): not where Compose runs the environment's Prometheus, and
/// only where the Helm target wrote its values.
fn kube_stack(out: &Path, env: &str) -> bool {
    !compose_prometheus(out, env)
        && out
            .join("helm")
            .join(format!("values-kube-prometheus-stack-{env}.yaml"))
            .exists()
}

/// Every example.
fn examples() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    all.sort();
    all
}

#[test]
fn every_generated_alert_reads_series_its_environment_produces() {
    for spec in examples() {
        let dir = scratch("producers");
        std::fs::copy(&spec, dir.join("spec.toml")).unwrap();
        build(&dir, "spec.toml");
        let out = dir.join("out");
        for env in std::fs::read_dir(out.join("prometheus")).unwrap() {
            let env = env.unwrap().file_name().into_string().unwrap();
            let scraped = scraped(&out, &env);
            let kube = kube_stack(&out, &env);
            let rules = &documents(&out.join("prometheus").join(&env).join("rules.yaml"))[0];
            let recorded: BTreeSet<&str> = rules["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["rules"].as_array().unwrap())
                .filter_map(|r| r["record"].as_str())
                .collect();
            for group in rules["groups"].as_array().unwrap() {
                for rule in group["rules"].as_array().unwrap() {
                    let (Some(alert), Some(service)) =
                        (rule["alert"].as_str(), rule["labels"]["service"].as_str())
                    else {
                        continue;
                    };
                    // SLO alerts read their recordings, whose queries the spec writes.
                    if rule["labels"]["slo"].is_string() {
                        continue;
                    }
                    let what = format!("{}: {env}: {alert} of {service}", spec.display());
                    for m in metrics(rule["expr"].as_str().unwrap()) {
                        if recorded.contains(m.as_str()) {
                            continue;
                        }
                        let from_kube = ["kube_", "container_", "kubelet_"]
                            .iter()
                            .any(|p| m.starts_with(p));
                        if from_kube {
                            assert!(kube, "{what} reads {m}, which nothing produces there");
                        } else {
                            assert!(
                                scraped.contains(service),
                                "{what} reads {m}, but {service} is not scraped there"
                            );
                        }
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_left_out_alert_is_named_with_what_to_add() {
    let dir = scratch("notes");
    std::fs::write(
        dir.join("spec.toml"),
        r#"version = 1

[platform]
name = "shop"

[services.web]
image = "ghcr.io/acme/web:1.0.0"
ports = [{ name = "http", port = 8080 }]

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
metrics = { path = "/metrics", port = "http" }

[datastores.db]
preset = "postgres"

[environments.dev]
local = true
compose = { monitoring = true }

[environments.production]

[observability.thresholds]
cpu = { warning = 70, critical = 85 }
error_rate = { warning = 1, critical = 5 }

[datastores.db.thresholds]
replication_lag = { warning = "10s", critical = "30s" }
"#,
    )
    .unwrap();
    let summary = build(&dir, "spec.toml");
    for note in [
        "alert `ErrorRateHigh` of `web` is not generated: it reads the application's request metrics",
        "alert `DBConnectionsHigh` of `db` is not generated: it reads postgres_exporter series and `db` declares no `metrics` endpoint",
        "alert `ReplicationLagHigh` of `db` is not generated: `db` has no read replicas",
        "alert `CPUUsageHigh` is not generated for `api`, `db`, `web` in `dev` by Docker Compose's Prometheus: it reads kube-state-metrics, cAdvisor or kubelet series, which Docker Compose does not produce; the cluster's rules keep it",
        "alert `PodCrashLooping` is not generated for `api`, `db`, `web` in `dev` by Docker Compose's Prometheus",
    ] {
        assert!(summary.contains(note), "no note {note:?} in:\n{summary}");
    }
    let alerts_of = |env: &str, file: &str| -> BTreeSet<(String, String)> {
        let rules = &documents(&dir.join("out/prometheus").join(env).join(file))[0];
        rules["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .filter_map(|r| {
                Some((
                    r["alert"].as_str()?.to_owned(),
                    r["labels"]["service"].as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    let alerts = |env: &str| alerts_of(env, "rules.yaml");
    let has = |env: &str, alert: &str, service: &str| {
        alerts(env).contains(&(alert.to_owned(), service.to_owned()))
    };
    let in_compose = |alert: &str, service: &str| {
        alerts_of("dev", "local-rules.yaml").contains(&(alert.to_owned(), service.to_owned()))
    };
    // The cluster measures what Compose cannot; neither has what nothing produces.
    assert!(has("production", "CPUUsageHigh", "web"));
    assert!(has("production", "PodCrashLooping", "db"));
    assert!(has("production", "ErrorRateHigh", "api"));
    assert!(has("dev", "ErrorRateHigh", "api"));
    assert!(has("dev", "ScrapeTargetDown", "api"));
    for env in ["dev", "production"] {
        assert!(!has(env, "ErrorRateHigh", "web"), "{env}");
        assert!(!has(env, "DBConnectionsHigh", "db"), "{env}");
        assert!(!has(env, "ReplicationLagHigh", "db"), "{env}");
    }
    // Compose's Prometheus has no cAdvisor or kube-state-metrics; a cluster running `dev`
    // does, and its rules keep those alerts: turning Compose's monitoring on takes nothing
    // from it.
    assert!(!in_compose("CPUUsageHigh", "api"));
    assert!(!in_compose("PodCrashLooping", "api"));
    assert!(in_compose("ErrorRateHigh", "api"));
    assert!(has("dev", "CPUUsageHigh", "api"));
    assert!(has("dev", "PodCrashLooping", "api"));
    let compose = &documents(&dir.join("out/compose/compose.yaml"))[0];
    let mounts = compose["services"]["prometheus"]["volumes"].to_string();
    assert!(
        mounts.contains("../prometheus/dev/local-rules.yaml"),
        "{mounts}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every alert expression of `env`'s rules in the build in `out`, by alert name and service.
fn alert_exprs(out: &Path, env: &str) -> Vec<(String, String, String)> {
    let rules = &documents(&out.join("prometheus").join(env).join("rules.yaml"))[0];
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter_map(|r| {
            Some((
                r["alert"].as_str()?.to_owned(),
                r["labels"]["service"].as_str()?.to_owned(),
                r["expr"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

#[test]
fn codepal_error_rate_reads_its_status_label() {
    let dir = scratch("codepal");
    std::fs::copy(
        root().join("examples/codepal.toml"),
        dir.join("codepal.toml"),
    )
    .unwrap();
    build(&dir, "codepal.toml");
    let exprs = alert_exprs(&dir.join("out"), "production");
    let error_rates: Vec<&String> = exprs
        .iter()
        .filter(|(a, _, _)| a == "ErrorRateHigh")
        .map(|(_, _, e)| e)
        .collect();
    assert!(!error_rates.is_empty());
    for e in error_rates {
        assert!(e.contains(r#",status=~"5..""#), "{e}");
        assert!(!e.contains("code="), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A spec whose platform counts requests as `requests_total{status}` in a milliseconds
/// histogram, and whose `legacy` service keeps the defaults; `extra` is appended.
fn conventions_spec(extra: &str) -> String {
    format!(
        r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{{ name = "http", port = 8080 }}]
metrics = {{ path = "/metrics", port = "http" }}

[services.legacy]
image = "ghcr.io/acme/legacy:1.0.0"
ports = [{{ name = "http", port = 8080 }}]
metrics = {{ path = "/metrics", port = "http", requests = "http_requests_total", status_label = "code", latency_unit = "seconds", buckets = [0.1, 0.5, 1] }}

[environments.production]

[observability.metrics]
requests = "requests_total"
status_label = "status"
latency_unit = "milliseconds"
buckets = [100, 250, 500, 1000]

[observability.thresholds]
error_rate = {{ warning = 1, critical = 5 }}
latency_p95 = {{ warning = "500ms", critical = "1s" }}
{extra}"#
    )
}

#[test]
fn metric_conventions_name_the_series_and_convert_latency_units() {
    let dir = scratch("conventions");
    std::fs::write(dir.join("spec.toml"), conventions_spec("")).unwrap();
    build(&dir, "spec.toml");
    let out = dir.join("out");
    let exprs = alert_exprs(&out, "production");
    let expr = |alert: &str, service: &str| -> &str {
        &exprs
            .iter()
            .find(|(a, s, _)| a == alert && s == service)
            .unwrap_or_else(|| panic!("no {alert} of {service}"))
            .2
    };
    let api_errors = expr("ErrorRateHigh", "api");
    assert!(
        api_errors.contains(r#"requests_total{namespace="shop",service="api",status=~"5.."}"#),
        "{api_errors}"
    );
    let api_latency = expr("LatencyP95High", "api");
    assert!(
        api_latency.contains("http_request_duration_milliseconds_bucket{"),
        "{api_latency}"
    );
    assert!(api_latency.contains("\n/ 1000\n> 0.5"), "{api_latency}");
    let legacy_errors = expr("ErrorRateHigh", "legacy");
    assert!(
        legacy_errors
            .contains(r#"http_requests_total{namespace="shop",service="legacy",code=~"5.."}"#),
        "{legacy_errors}"
    );
    let legacy_latency = expr("LatencyP95High", "legacy");
    assert!(
        legacy_latency.contains("http_request_duration_seconds_bucket{"),
        "{legacy_latency}"
    );
    assert!(!legacy_latency.contains("/ 1000"), "{legacy_latency}");
    // The generated unit tests drive the converted expressions: promtool proves them.
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok()
    {
        let run = std::process::Command::new("promtool")
            .args(["test", "rules", "rules.test.yaml"])
            .current_dir(out.join("prometheus/production"))
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    } else {
        eprintln!("promtool not installed; the unit tests were not run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_latency_level_between_declared_buckets_is_a_warning() {
    let dir = scratch("buckets");
    // The platform's levels are bounds of both services' buckets (500 and 1000 ms; 0.5 and
    // 1 s); `legacy` moves its warning to 300ms, between two of its own.
    std::fs::write(
        dir.join("spec.toml"),
        conventions_spec("\n[services.legacy.thresholds.latency_p95]\nwarning = \"300ms\"\n"),
    )
    .unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    let diags = json_diagnostics(&out);
    let w013: Vec<&Value> = diags.iter().filter(|d| d["code"] == "W013").collect();
    assert_eq!(w013.len(), 1, "{diags:?}");
    let message = w013[0]["message"].as_str().unwrap();
    assert!(
        message.contains("`300ms` of `legacy` falls between the buckets 0.1 and 0.5"),
        "{message}"
    );
    // On bucket bounds, nothing to say.
    std::fs::write(dir.join("spec.toml"), conventions_spec("")).unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(!codes(&out).contains(&"W013".to_owned()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn prometheus_is_sized_as_the_spec_says() {
    let dir = scratch("sizing");
    std::fs::copy(
        root().join("examples/codepal.toml"),
        dir.join("codepal.toml"),
    )
    .unwrap();
    build(&dir, "codepal.toml");
    let values = &documents(&dir.join("out/helm/values-kube-prometheus-stack-production.yaml"))[0]
        ["prometheus"]["prometheusSpec"];
    // 003: 15 s scrape, 30 days, a 100 GB volume, 3 replicas.
    assert_eq!(values["scrapeInterval"], "15s");
    assert_eq!(values["retention"], "30d");
    assert_eq!(values["replicas"], 3);
    assert_eq!(values["retentionSize"], "90GB");
    let claim = &values["storageSpec"]["volumeClaimTemplate"]["spec"];
    assert_eq!(claim["resources"]["requests"]["storage"], "100Gi");
    assert_eq!(claim["accessModes"][0], "ReadWriteOnce");
    assert!(claim.get("storageClassName").is_none(), "{claim}");
    let helm_tf = std::fs::read_to_string(dir.join("out/terraform/production/helm.tf")).unwrap();
    let release = &helm_tf[helm_tf.find("\"kube_prometheus_stack\"").unwrap()..];
    let release = &release[..release.find("\n}").unwrap()];
    assert!(
        release.contains("kubernetes_storage_class_v1.gp3"),
        "the release must wait for the default StorageClass:\n{release}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // The Compose Prometheus keeps the same retention, by time and by size.
    let dir = scratch("compose-sizing");
    std::fs::write(
        dir.join("spec.toml"),
        r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
metrics = { path = "/metrics", port = "http" }

[environments.dev]
local = true
compose = { monitoring = true }

[observability]
retention = "45d"
retention_size = "20Gi"
"#,
    )
    .unwrap();
    build(&dir, "spec.toml");
    let compose = &documents(&dir.join("out/compose/compose.yaml"))[0];
    let command: Vec<&str> = compose["services"]["prometheus"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        command.contains(&"--storage.tsdb.retention.time=45d"),
        "{command:?}"
    );
    assert!(
        command.contains(&"--storage.tsdb.retention.size=20GB"),
        "{command:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A spec with one service, a cloud environment and a local one with monitoring; `extra` is
/// appended (an `[observability.alertmanager]` table, an `[alerting]` table).
fn alertmanager_spec(extra: &str) -> String {
    format!(
        r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{{ name = "http", port = 8080 }}]
metrics = {{ path = "/metrics", port = "http" }}

[environments.dev]
local = true
compose = {{ monitoring = true }}

[environments.production]

[cloud]
provider = "aws"
region = "eu-west-1"
{extra}
"#
    )
}

/// The command of a Compose service, as strings.
fn compose_command(compose: &Value, service: &str) -> Vec<String> {
    compose["services"][service]["command"]
        .as_array()
        .unwrap_or_else(|| panic!("no command for {service}: {compose}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn alertmanager_is_sized_as_the_spec_says() {
    let dir = scratch("am-sizing");
    std::fs::write(
        dir.join("spec.toml"),
        alertmanager_spec(
            r#"
[observability.alertmanager]
replicas = 3
retention = "10d"
storage = "2Gi"
"#,
        ),
    )
    .unwrap();
    build(&dir, "spec.toml");
    let values = &documents(&dir.join("out/helm/values-kube-prometheus-stack-production.yaml"))[0]
        ["alertmanager"]["alertmanagerSpec"];
    assert_eq!(values["replicas"], 3, "{values}");
    // The operator takes Go durations in one unit, without days.
    assert_eq!(values["retention"], "240h", "{values}");
    let claim = &values["storage"]["volumeClaimTemplate"]["spec"];
    assert_eq!(claim["resources"]["requests"]["storage"], "2Gi", "{values}");
    assert_eq!(claim["accessModes"][0], "ReadWriteOnce");
    assert!(claim.get("storageClassName").is_none(), "{claim}");
    let helm_tf = std::fs::read_to_string(dir.join("out/terraform/production/helm.tf")).unwrap();
    let release = &helm_tf[helm_tf.find("\"kube_prometheus_stack\"").unwrap()..];
    let release = &release[..release.find("\n}").unwrap()];
    assert!(
        release.contains("kubernetes_storage_class_v1.gp3"),
        "the release must wait for the default StorageClass for Alertmanager's volumes:\n{release}"
    );
    // The Compose Alertmanager keeps the same retention, on a named volume.
    let compose = &documents(&dir.join("out/compose/compose.yaml"))[0];
    let command = compose_command(compose, "alertmanager");
    assert!(
        command.contains(&"--data.retention=240h".to_owned()),
        "{command:?}"
    );
    let volumes = compose["services"]["alertmanager"]["volumes"]
        .as_array()
        .unwrap();
    assert!(
        volumes.iter().any(|v| v["type"] == "volume"
            && v["source"] == "alertmanager-data"
            && v["target"] == "/alertmanager"),
        "{volumes:?}"
    );
    assert!(
        compose["volumes"].get("alertmanager-data").is_some(),
        "{}",
        compose["volumes"]
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // Unsized, Alertmanager runs as kube-prometheus-stack's and Alertmanager's defaults say:
    // one replica keeping 120 hours, written out so that the values say what runs.
    let dir = scratch("am-default");
    std::fs::write(dir.join("spec.toml"), alertmanager_spec("")).unwrap();
    build(&dir, "spec.toml");
    let values = &documents(&dir.join("out/helm/values-kube-prometheus-stack-production.yaml"))[0]
        ["alertmanager"]["alertmanagerSpec"];
    assert_eq!(values["replicas"], 1, "{values}");
    assert_eq!(values["retention"], "120h", "{values}");
    assert!(values.get("storage").is_none(), "{values}");
    let compose = &documents(&dir.join("out/compose/compose.yaml"))[0];
    assert!(compose_command(compose, "alertmanager").contains(&"--data.retention=120h".to_owned()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zero_monitoring_replicas_are_rejected() {
    let dir = scratch("zero-replicas");
    for (table, key) in [
        ("[observability]\nreplicas = 0", "observability.replicas"),
        (
            "[observability.alertmanager]\nreplicas = 0",
            "observability.alertmanager.replicas",
        ),
    ] {
        std::fs::write(dir.join("spec.toml"), alertmanager_spec(table)).unwrap();
        let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
        assert_exit(&out, 1);
        let diags = json_diagnostics(&out);
        let e018: Vec<&Value> = diags.iter().filter(|d| d["code"] == "E018").collect();
        assert_eq!(e018.len(), 1, "{key}: {diags:?}");
        let message = e018[0]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{key}` is 0")), "{message}");
        // Nothing is built from it: the spec asked for no Prometheus or Alertmanager, and
        // plinth does not silently run one.
        let out = plinth_run(&dir, &["build", "spec.toml", "--out", "out"]);
        assert_exit(&out, 1);
        assert!(!dir.join("out").exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_repeat_interval_beyond_alertmanager_retention_is_a_warning() {
    let dir = scratch("am-repeat");
    let alerting = |repeat: &str, retention: &str| {
        alertmanager_spec(&format!(
            r##"
[observability.alertmanager]
{retention}

[alerting]
default_receiver = "ops"
repeat_interval = "{repeat}"

[alerting.receivers.ops]
type = "slack"
channel = "#ops"
webhook_url = {{ secret = "slack", key = "url" }}
"##
        ))
    };
    std::fs::write(
        dir.join("spec.toml"),
        alerting("7d", r#"retention = "72h""#),
    )
    .unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    let diags = json_diagnostics(&out);
    let w016: Vec<&Value> = diags.iter().filter(|d| d["code"] == "W016").collect();
    assert_eq!(w016.len(), 1, "{diags:?}");
    let message = w016[0]["message"].as_str().unwrap();
    assert!(
        message.contains("repeat interval 7d is longer than Alertmanager's retention 72h"),
        "{message}"
    );
    // Alertmanager's default retention (120h) is longer than a day's repeat interval, and an
    // explicit longer retention answers a week's.
    for (repeat, retention) in [("1d", ""), ("7d", r#"retention = "8d""#)] {
        std::fs::write(dir.join("spec.toml"), alerting(repeat, retention)).unwrap();
        let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
        assert_exit(&out, 0);
        assert!(
            !codes(&out).contains(&"W016".to_owned()),
            "{repeat} {retention}"
        );
    }
    // The default retention is judged too: 7d repeats after 120h.
    std::fs::write(dir.join("spec.toml"), alerting("7d", "")).unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert!(
        codes(&out).contains(&"W016".to_owned()),
        "{:?}",
        codes(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A spec with a 30-day SLO; `observability` is the body of its `[observability]` table.
fn slo_spec(observability: &str) -> String {
    format!(
        r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{{ name = "http", port = 8080 }}]
metrics = {{ path = "/metrics", port = "http" }}

[environments.production]

[observability]
{observability}

[observability.slos.availability]
service = "api"
objective = 99.9
window = "30d"
good = 'sum(rate(http_requests_total{{service="api",code!~"5.."}}[{{window}}]))'
total = 'sum(rate(http_requests_total{{service="api"}}[{{window}}]))'
"#
    )
}

#[test]
fn an_slo_window_longer_than_retention_is_rejected() {
    let dir = scratch("slo-retention");
    std::fs::write(dir.join("spec.toml"), slo_spec(r#"retention = "15d""#)).unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert!(
        codes(&out).contains(&"E015".to_owned()),
        "{:?}",
        codes(&out)
    );
    // Without a retention of its own, Prometheus keeps the SLO's window.
    std::fs::write(dir.join("spec.toml"), slo_spec("")).unwrap();
    build(&dir, "spec.toml");
    let values = &documents(&dir.join("out/helm/values-kube-prometheus-stack-production.yaml"))[0]
        ["prometheus"]["prometheusSpec"];
    assert_eq!(values["retention"], "30d");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compose_prometheus_scrapes_every_replica() {
    let dir = scratch("replicas");
    std::fs::write(
        dir.join("spec.toml"),
        r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
replicas = 3
metrics = { path = "/metrics", port = "http" }

[environments.dev]
local = true
compose = { monitoring = true }
"#,
    )
    .unwrap();
    build(&dir, "spec.toml");
    let compose = &documents(&dir.join("out/compose/compose.yaml"))[0];
    assert_eq!(compose["services"]["api"]["deploy"]["replicas"], 3);
    let config = &documents(&dir.join("out/prometheus/dev/prometheus.yml"))[0];
    let job = &config["scrape_configs"][0];
    assert_eq!(job["job_name"], "api");
    // One name resolved to the address of every replica, not one target that Docker's DNS
    // answers with a replica at random.
    assert!(job.get("static_configs").is_none(), "{job}");
    let dns = &job["dns_sd_configs"][0];
    assert_eq!(dns["names"], serde_json::json!(["api"]));
    assert_eq!(dns["type"], "A");
    assert_eq!(dns["port"], 8080);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_slo_query_on_other_metric_names_is_a_warning() {
    let dir = scratch("slo-names");
    let spec = |status_label: &str| {
        format!(
            r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{{ name = "http", port = 8080 }}]
metrics = {{ path = "/metrics", port = "http", status_label = "{status_label}" }}
probes.readiness = {{ path = "/ready", port = "http" }}

[observability.slos.availability]
service = "api"
objective = 99.9
good = 'sum(rate(http_requests_total{{service="api",code!~"5.."}}[{{window}}]))'
total = 'sum(rate(http_requests_total{{service="api"}}[{{window}}]))'

[observability.slos.latency]
service = "api"
objective = 99
good = 'sum(rate(http_request_duration_seconds_bucket{{service="api",le="0.5"}}[{{window}}]))'
total = 'sum(rate(http_request_duration_seconds_count{{service="api"}}[{{window}}]))'
"#
        )
    };
    // The counter is labelled `status`: `code!~"5.."` matches every request.
    std::fs::write(dir.join("spec.toml"), spec("status")).unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    let diags = json_diagnostics(&out);
    let w014: Vec<&str> = diags
        .iter()
        .filter(|d| d["code"] == "W014")
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        w014,
        ["SLO `api` filters `http_requests_total` by `code`, but `api` labels its status `status`"]
    );
    // The same names as the service's conventions: nothing to say.
    std::fs::write(dir.join("spec.toml"), spec("code")).unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(!codes(&out).contains(&"W014".to_owned()));
    // A milliseconds histogram: the SLO's `_seconds` series does not exist.
    let ms = spec("code").replace(
        "status_label = \"code\"",
        "status_label = \"code\", latency_unit = \"milliseconds\"",
    );
    std::fs::write(dir.join("spec.toml"), ms).unwrap();
    let out = plinth_run(&dir, &["check", "spec.toml", "--format", "json"]);
    let diags = json_diagnostics(&out);
    assert!(
        diags.iter().any(|d| d["code"] == "W014"
            && d["message"]
                .as_str()
                .unwrap()
                .contains("reads `http_request_duration_seconds_bucket`, but its latency histogram is `http_request_duration_milliseconds`")),
        "{diags:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
