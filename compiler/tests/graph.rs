//! `plinth graph` and the docs target: the drawing shows exactly the declared dependencies
//! and the alert routing Alertmanager performs, is deterministic, and every diagram parses
//! with Mermaid itself.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use common::*;
use plinth::emit::Target;
use serde_json::Value;

fn plinth(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `plinth graph <spec> --env <env> --format json`, parsed.
fn graph_json(spec: &str, env: &str) -> Value {
    let out = plinth(&["graph", spec, "--env", env, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The graph's edges of `kind` as (from name, to name, label).
fn edges(g: &Value, kind: &str) -> BTreeSet<(String, String, String)> {
    let names: BTreeMap<&str, &str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["name"].as_str().unwrap()))
        .collect();
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| {
            (
                names[e["from"].as_str().unwrap()].to_owned(),
                names[e["to"].as_str().unwrap()].to_owned(),
                e["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn dependency_edges_are_exactly_the_declared_dependencies_with_their_ports() {
    let spec = "examples/devmentor.toml";
    let g = graph_json(spec, "production");
    let text = std::fs::read_to_string(root().join(spec)).unwrap();
    let a = plinth::analyze(spec, &text);
    let platform = a.platform.expect("the example compiles");
    let env = platform
        .environments
        .iter()
        .find(|e| e.name == "production")
        .unwrap();
    let want: BTreeSet<(String, String)> = env
        .workloads
        .iter()
        .flat_map(|w| w.depends_on.iter().map(|d| (w.name.clone(), d.clone())))
        .collect();
    let got = edges(&g, "depends-on");
    let pairs: BTreeSet<(String, String)> =
        got.iter().map(|(f, t, _)| (f.clone(), t.clone())).collect();
    assert_eq!(pairs, want);
    assert!(got.contains(&(
        "memory-service".into(),
        "qdrant".into(),
        "6333, 6334".into()
    )));
    let routes = edges(&g, "route");
    assert!(routes.contains(&(
        "api.devmentor.io".into(),
        "api-gateway".into(),
        "/ → 8080".into()
    )));
}

#[test]
fn alert_families_reach_the_receivers_the_route_tests_predict() {
    let spec = "examples/devmentor.toml";
    let text = std::fs::read_to_string(root().join(spec)).unwrap();
    let options = plinth::Options {
        targets: vec![Target::Alertmanager],
        envs: vec!["production".into()],
        lenient: false,
    };
    let c = plinth::compile(spec, &text, &options);
    let tests = c
        .files
        .iter()
        .find(|f| f.path == "alertmanager/production/route-tests.yaml")
        .unwrap();
    let doc: Value = serde_saphyr::from_str(&tests.contents).unwrap();
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for case in doc["tests"].as_array().unwrap() {
        // The monitoring stack's own alerts (Watchdog, InfoInhibitor) have route tests but
        // are no alert family of the platform's.
        if case["labels"]["severity"] == "none" {
            continue;
        }
        let name = case["labels"]["alertname"].as_str().unwrap().to_owned();
        let receivers = case["receivers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned());
        want.entry(name).or_default().extend(receivers);
    }
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (family, receiver, _) in edges(&graph_json(spec, "production"), "notifies") {
        got.entry(family).or_default().insert(receiver);
    }
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn graph_asks_for_an_environment_when_there_are_several() {
    let out = plinth(&["graph", "examples/devmentor.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("choose an environment with --env: dev, production, staging"),
        "{err}"
    );
    let out = plinth(&["graph", "examples/devmentor.toml", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `production`"), "{err}");
}

#[test]
fn mermaid_and_dot_are_deterministic() {
    for format in ["mermaid", "dot"] {
        let run = || {
            plinth(&[
                "graph",
                "examples/codepal.toml",
                "--env",
                "production",
                "--format",
                format,
            ])
        };
        let (a, b) = (run(), run());
        assert_eq!(a.status.code(), Some(0));
        assert!(!a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout, "{format} differs between runs");
    }
    let out = plinth(&["graph", "examples/codepal.toml", "--env", "production"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("flowchart LR\n"), "{text}");
}

#[test]
fn every_environment_gets_a_document_with_its_drawing_and_tables() {
    let spec = "examples/codepal.toml";
    let text = std::fs::read_to_string(root().join(spec)).unwrap();
    let c = plinth::compile(spec, &text, &plinth::Options::default());
    let envs: Vec<&str> = c
        .platform
        .as_ref()
        .unwrap()
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    for env in envs {
        let path = format!("docs/{env}.md");
        let doc = &c.files.iter().find(|f| f.path == path).unwrap().contents;
        assert!(plinth::ir::naming::is_banner_line(
            doc.lines().next().unwrap()
        ));
        for section in [
            "```mermaid\nflowchart LR\n",
            "## Components",
            "## Scaling",
            "## Ingress",
            "## Alert thresholds",
            "## Backups",
        ] {
            assert!(doc.contains(section), "{path} lacks {section:?}");
        }
    }
}

/// The tools folder's node modules, when scripts/install-tools made them; `None` (a notice)
/// without them, a failure under `CI=true`.
fn mermaid_tools() -> Option<PathBuf> {
    let tools = std::env::var_os("PLINTH_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools"));
    let ready = tools.join("npm/node_modules/mermaid").exists()
        && tools.join("npm/node_modules/jsdom").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if ready {
        return Some(tools);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "mermaid and jsdom not found under {}: CI=true needs them (run scripts/install-tools)",
        tools.display()
    );
    eprintln!(
        "notice: mermaid not installed, so the diagrams are not parsed; run scripts/install-tools"
    );
    None
}

#[test]
fn every_diagram_of_every_example_parses_with_mermaid() {
    let Some(tools) = mermaid_tools() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("plinth-graph-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for spec in toml_files("examples") {
        let text = std::fs::read_to_string(&spec).unwrap();
        let options = plinth::Options {
            targets: vec![Target::Docs],
            envs: vec![],
            lenient: false,
        };
        let c = plinth::compile(&shown(&spec), &text, &options);
        for f in &c.files {
            let path = dir.join(format!("{}-{}", stem(&spec), f.path.replace('/', "-")));
            std::fs::write(&path, &f.contents).unwrap();
            files.push(path);
        }
    }
    // A broken diagram must fail, or the check proves nothing.
    let broken = dir.join("broken.md");
    std::fs::write(&broken, "```mermaid\nflowchart LR\n  a[\"x\" --> b\n```\n").unwrap();
    let run = |paths: &[PathBuf]| {
        Command::new("node")
            .arg(root().join("scripts/mermaid-check.mjs"))
            .args(paths)
            .env("PLINTH_TOOLS", &tools)
            .output()
            .unwrap()
    };
    let out = run(&files);
    let broken_out = run(std::slice::from_ref(&broken));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!files.is_empty());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        broken_out.status.code(),
        Some(1),
        "a broken diagram must fail"
    );
}
