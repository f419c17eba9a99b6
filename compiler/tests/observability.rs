//! Issue 24 through the binary: every alert the Prometheus target generates reads series that
//! something in its environment produces, proved from the generated files alone (scrape
//! configurations, ServiceMonitors, the kube-prometheus-stack values), and an alert left out
//! is named in the build summary with what to add.

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
            .flat_map(|j| j["static_configs"].as_array().unwrap().iter())
            .filter_map(|s| s["labels"]["service"].as_str().map(str::to_owned))
            .collect();
    }
    let mut names = BTreeSet::new();
    for f in std::fs::read_dir(out.join("k8s").join(env)).unwrap() {
        for d in documents(&f.unwrap().path()) {
            if d["kind"] == "ServiceMonitor" {
                let name = &d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"];
                names.insert(name.as_str().unwrap().to_owned());
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
        "alert `CPUUsageHigh` is not generated for `api`, `db`, `web` in `dev`: it reads kube-state-metrics, cAdvisor or kubelet series, which Docker Compose does not produce",
        "alert `PodCrashLooping` is not generated for `api`, `db`, `web` in `dev`",
    ] {
        assert!(summary.contains(note), "no note {note:?} in:\n{summary}");
    }
    let alerts = |env: &str| -> BTreeSet<(String, String)> {
        let rules = &documents(&dir.join("out/prometheus").join(env).join("rules.yaml"))[0];
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
    let has = |env: &str, alert: &str, service: &str| {
        alerts(env).contains(&(alert.to_owned(), service.to_owned()))
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
    assert!(!has("dev", "CPUUsageHigh", "api"));
    assert!(!has("dev", "PodCrashLooping", "api"));
    std::fs::remove_dir_all(&dir).unwrap();
}
