//! Issue 24 through the binary: the Grafana dashboards of every example and environment.
//! Every panel query parses (promql-parser) and reads only produced series (the build's
//! closure proof, P013, reads the dashboard ConfigMaps); threshold lines equal the levels of
//! the alerts they stand for; uids are stable and at most 40 characters; the Compose Grafana
//! provisions the same JSON files with no password in the output.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-dash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds example `name` into a scratch `out` of test `test`, asserting success; returns
/// the folder and the summary.
fn build(test: &str, name: &str) -> (PathBuf, String) {
    let dir = scratch(&format!("{test}-{name}"));
    let spec = root().join("examples").join(format!("{name}.toml"));
    let out = plinth_run(&dir, &["build", spec.to_str().unwrap(), "--out", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (dir.join("out"), stderr)
}

/// Every YAML document of `path`.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The dashboards of environment folder `env` of `out`: (file name, JSON text) of each
/// ConfigMap labelled for the Grafana sidecar.
fn dashboards(out: &Path, env: &str) -> Vec<(String, String)> {
    let path = out.join("k8s").join(env).join("dashboards.yaml");
    if !path.exists() {
        return Vec::new();
    }
    let mut found = Vec::new();
    for cm in documents(&path) {
        assert_eq!(cm["kind"], "ConfigMap");
        assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
        for (file, json) in cm["data"].as_object().unwrap() {
            found.push((file.clone(), json.as_str().unwrap().to_owned()));
        }
    }
    found
}

/// The examples' names.
fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// The environment folders of the k8s output.
fn environments(out: &Path) -> Vec<String> {
    let mut envs: Vec<String> = std::fs::read_dir(out.join("k8s"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    envs.sort();
    envs
}

/// Every panel of a dashboard with its queries and its threshold levels.
fn panels(board: &Value) -> Vec<(String, Vec<String>, Vec<f64>)> {
    board["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let exprs = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["expr"].as_str().unwrap().to_owned())
                .collect();
            let levels = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["value"].as_f64())
                .collect();
            (p["title"].as_str().unwrap().to_owned(), exprs, levels)
        })
        .collect()
}

/// The alert expressions of `prometheus/<env>/rules.yaml`.
fn alert_exprs(out: &Path, env: &str) -> Vec<String> {
    let rules = &documents(&out.join("prometheus").join(env).join("rules.yaml"))[0];
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .filter(|r| r.get("alert").is_some())
        .map(|r| r["expr"].as_str().unwrap().trim_end().to_owned())
        .collect()
}

/// Whether an alert of `alerts` fires when `expr` crosses `level`: a threshold alert is the
/// panel's expression compared with the level (`E\n> L`); a burn-rate alert compares the
/// numerator of the panel's `A / B` with the level times `B` (`A > (L * B)`).
fn alerts_at(alerts: &[String], expr: &str, level: f64) -> bool {
    alerts.iter().any(|a| {
        if let Some(rest) = a.strip_prefix(&format!("{expr}\n> ")) {
            return rest.trim().parse::<f64>().ok() == Some(level);
        }
        let Some((ratio, budget)) = expr.rsplit_once(" / ") else {
            return false;
        };
        a.match_indices(&format!("{ratio} > ("))
            .filter_map(|(i, m)| {
                let tail = &a[i + m.len()..];
                tail.split_once(&format!(" * {budget})"))
                    .and_then(|(n, _)| n.parse::<f64>().ok())
            })
            .any(|n| n == level)
    })
}

#[test]
fn every_panel_query_parses_and_reads_produced_series() {
    let mut boards = 0;
    for name in examples() {
        let (out, summary) = build("queries", &name);
        // The proof of the build reads the dashboard ConfigMaps: a panel over a series
        // nothing produces is a P013 warning.
        assert!(!summary.contains("P013"), "{name}: {summary}");
        let mut uids = BTreeSet::new();
        for env in environments(&out) {
            for (file, json) in dashboards(&out, &env) {
                boards += 1;
                let board: Value = serde_json::from_str(&json).unwrap();
                let uid = board["uid"].as_str().unwrap().to_owned();
                assert!(uid.len() <= 40, "{name}/{env}/{file}: uid {uid} too long");
                assert!(uids.insert(uid.clone()), "{name}: uid {uid} twice");
                for (title, exprs, _) in panels(&board) {
                    assert!(!exprs.is_empty(), "{name}/{env}/{file}: `{title}` is empty");
                    for e in exprs {
                        if let Err(err) = promql_parser::parser::parse(&e) {
                            panic!("{name}/{env}/{file}: `{title}`: {err}\n{e}");
                        }
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(out.parent().unwrap());
    }
    assert!(boards > 20, "only {boards} dashboards");
}

#[test]
fn threshold_lines_equal_alert_levels() {
    let mut lines = 0;
    for name in examples() {
        let (out, _) = build("lines", &name);
        for env in environments(&out) {
            let alerts = alert_exprs(&out, &env);
            for (file, json) in dashboards(&out, &env) {
                let board: Value = serde_json::from_str(&json).unwrap();
                for (title, exprs, levels) in panels(&board) {
                    for level in levels {
                        lines += 1;
                        assert!(
                            exprs.iter().any(|e| alerts_at(&alerts, e, level)),
                            "{name}/{env}/{file}: `{title}` has a line at {level} that no alert has"
                        );
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(out.parent().unwrap());
    }
    assert!(lines > 50, "only {lines} threshold lines");
}

#[test]
fn compose_grafana_provisions_the_same_dashboards_without_a_password() {
    let (out, _) = build("compose", "learning-assistant");
    let compose = &documents(&out.join("compose").join("compose.yaml"))[0];
    let grafana = &compose["services"]["grafana"];
    assert!(grafana["image"]
        .as_str()
        .unwrap()
        .starts_with("docker.io/grafana/grafana:"));
    assert_eq!(grafana["read_only"], true);
    assert_eq!(grafana["user"], "472:0");
    assert_eq!(grafana["ports"][0]["published"], "3001");
    assert_eq!(
        grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"],
        "${GRAFANA_ADMIN_PASSWORD:?set it in .env}"
    );
    let env_example = std::fs::read_to_string(out.join("compose").join(".env.example")).unwrap();
    assert!(env_example.contains("\nGRAFANA_ADMIN_PASSWORD=\n"));
    // The data source is the Compose Prometheus, under the uid the panels name.
    let datasources = compose["configs"]["grafana-datasources"]["content"]
        .as_str()
        .unwrap();
    assert!(
        datasources.contains("url: http://prometheus:9090"),
        "{datasources}"
    );
    assert!(datasources.contains("uid: prometheus"), "{datasources}");
    // The provisioned files are the dashboards of the k8s output, without the panels (and
    // the dashboards, a store's of its volume only) that read series only a cluster produces
    // (kube-state-metrics, cAdvisor).
    let k8s = dashboards(&out, "dev");
    assert!(!k8s.is_empty());
    let restarts = "kube_pod_container_status_restarts_total";
    let folder = out.join("compose/grafana/dashboards");
    let mut provisioned = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let compose = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let json = &k8s.iter().find(|(f, _)| f == name).expect(name).1;
        assert!(!compose.contains(restarts), "{path:?}");
        if !json.contains("kube_") && !json.contains("container_") {
            assert_eq!(&compose, json, "{path:?}");
        }
        provisioned += 1;
    }
    assert!(provisioned >= 3, "{provisioned}");
    let overview = &k8s.iter().find(|(f, _)| f == "overview.json").unwrap().1;
    assert!(
        overview.contains(restarts),
        "the cluster's overview keeps them"
    );
    let _ = std::fs::remove_dir_all(out.parent().unwrap());
}

#[test]
fn a_grafana_that_cannot_run_is_a_note() {
    let dir = scratch("notes");
    std::fs::write(
        dir.join("shop.toml"),
        r#"version = 1

[platform]
name = "shop"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
metrics = { path = "/metrics", port = "http" }
probes.readiness = { path = "/ready", port = "http" }

[environments.dev]
local = true
compose = { grafana = { port = 3001 } }

[environments.staging]
compose = { monitoring = true, grafana = {} }
"#,
    )
    .unwrap();
    let out = plinth_run(&dir, &["build", "shop.toml", "--out", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("`compose.grafana` of `dev` is not run: Grafana reads the Compose Prometheus, which runs only with `compose.monitoring = true`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`compose.grafana` of `staging` is not run: Docker Compose runs `dev`"),
        "{stderr}"
    );
    assert!(!dir.join("out/compose/grafana").exists());
    let compose = std::fs::read_to_string(dir.join("out/compose/compose.yaml")).unwrap();
    assert!(!compose.contains("grafana"), "{compose}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Qdrant's failed REST responses are read from `rest_responses_total` by status, which
/// every release labels: Qdrant 1.19 exports no `rest_responses_fail_total`, so a panel on
/// it would be drawn empty on a current Qdrant.
#[test]
fn qdrant_failures_are_read_by_status() {
    let (out, _) = build("qdrant", "devmentor");
    let boards = dashboards(&out, "production");
    let (_, qdrant) = boards
        .iter()
        .find(|(f, _)| f == "store-qdrant.json")
        .expect("a Qdrant dashboard");
    assert!(!qdrant.contains("rest_responses_fail_total"), "{qdrant}");
    assert!(
        qdrant.contains(r#"rest_responses_total{namespace=\"devmentor-app\",service=\"qdrant\",status=~\"5..\"}"#),
        "{qdrant}"
    );
    let _ = std::fs::remove_dir_all(out.parent().unwrap());
}
