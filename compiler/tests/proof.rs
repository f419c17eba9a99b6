//! Issue 19 through the real binary: `check` and `build` run the proof over the generated
//! files, and its findings (P codes) are errors pointing at the spec, so that `check` fails
//! and `build` writes nothing while the output would not come up; `--lenient` makes them
//! warnings.

mod support;

use support::*;

/// CodePal with one more alert rule, over a series of a `queue` service that the platform
/// does not have, so nothing scrapes it: one finding (P013) per cloud environment. Written
/// into `dir`, whose path it returns.
fn with_unproduced_series(dir: &std::path::Path) -> String {
    let mut text = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    text.push_str(
        "\n[[observability.rules]]\nname = \"QueueBacklog\"\nexpr = 'job_queue_depth{service=\"queue\"} > 100'\nfor = \"5m\"\nseverity = \"warning\"\nsummary = \"Jobs wait in the queue\"\n",
    );
    let path = dir.join("platform.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The codes of the proof's findings among `codes`.
fn proof_codes(codes: &[String]) -> Vec<&str> {
    codes
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with('P'))
        .collect()
}

#[test]
fn check_reports_the_proof_as_errors_and_lenient_makes_them_warnings() {
    let root = root();
    let dir = TempDir::new("proof-check");
    let spec = &with_unproduced_series(&dir.0);
    // The example itself proves clean: every Secret has its ExternalSecret, CRDs come from
    // releases the chart waits for, there is a default StorageClass, metrics-server, a VPC
    // CNI that enforces NetworkPolicies, and every alert reads produced series.
    let clean = plinth_run(
        &root,
        &["check", "examples/codepal.toml", "--format", "json"],
    );
    assert_exit(&clean, 0);
    assert!(proof_codes(&codes(&clean)).is_empty());

    // By default a finding is an error: the output would not come up.
    let out = plinth_run(&root, &["check", spec, "--format", "json"]);
    assert_exit(&out, 1);
    let codes = codes(&out);
    let found = proof_codes(&codes);
    assert!(found.contains(&"P013"), "{found:?}");
    for closed in ["P005", "P006", "P007", "P008", "P009", "P010", "P012"] {
        assert!(!found.contains(&closed), "{closed} in {found:?}");
    }
    for d in json_diagnostics(&out) {
        if d["code"].as_str().is_some_and(|c| c.starts_with('P')) {
            assert_eq!(d["severity"], "error", "{d}");
            assert!(d.get("help").is_some_and(|h| !h.is_null()), "no help: {d}");
        }
    }

    // `--lenient` reports the same findings as warnings and the spec checks as valid.
    let lenient = plinth_run(&root, &["check", spec, "--lenient", "--format", "json"]);
    assert_exit(&lenient, 0);
    let warnings: Vec<serde_json::Value> = json_diagnostics(&lenient)
        .into_iter()
        .filter(|d| d["code"].as_str().is_some_and(|c| c.starts_with('P')))
        .collect();
    assert_eq!(warnings.len(), found.len(), "{warnings:?}");
    assert!(
        warnings.iter().all(|d| d["severity"] == "warning"),
        "{warnings:?}"
    );

    // `--strict`, the opt-in of the lenient days, is still accepted and is the default.
    let strict = plinth_run(&root, &["check", spec, "--strict", "--format", "json"]);
    assert_exit(&strict, 1);
    // Asking for both is a usage error, not a silent choice of one.
    let both = plinth_run(&root, &["check", spec, "--strict", "--lenient"]);
    assert_exit(&both, 1);
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn a_build_with_findings_writes_nothing_and_a_lenient_build_writes_everything() {
    let root = root();
    let dir = TempDir::new("proof-strict-build");
    let out_dir = dir.0.join("out");
    let out = out_dir.to_str().unwrap();
    let spec = &with_unproduced_series(&dir.0);
    let plain = plinth_run(&root, &["build", spec, "--out", out]);
    assert_exit(&plain, 1);
    assert!(!out_dir.exists(), "a build with findings wrote files");
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("P013"), "{stderr}");
    assert!(stderr.contains("--lenient"), "no way out named: {stderr}");

    let lenient = plinth_run(&root, &["build", spec, "--out", out, "--lenient"]);
    assert_exit(&lenient, 0);
    assert!(out_dir.join("k8s/staging/auth-service.yaml").exists());
    let stderr = String::from_utf8_lossy(&lenient.stderr);
    assert!(stderr.contains("P013"), "{stderr}");
}

#[test]
fn findings_point_at_the_spec_definition_that_caused_them() {
    let root = root();
    let dir = TempDir::new("proof-points");
    let spec = &with_unproduced_series(&dir.0);
    let out = plinth_run(&root, &["check", spec]);
    assert_exit(&out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A rule of the whole platform points at the environment it fails in.
    let at = stderr
        .split("P013(unproduced-series)")
        .find(|part| part.contains("reads `job_queue_depth`") && part.contains("`staging`"))
        .expect("a P013 finding about job_queue_depth in staging");
    assert!(at.contains("[environments.staging]"), "{at}");
}

#[test]
fn a_build_of_some_targets_says_what_the_proof_skipped() {
    let root = root();
    let dir = TempDir::new("proof-skipped");
    let out_dir = dir.0.join("out");
    let out = out_dir.to_str().unwrap();
    let run = plinth_run(
        &root,
        &[
            "build",
            "examples/codepal.toml",
            "--out",
            out,
            "--target",
            "prometheus",
        ],
    );
    assert_exit(&run, 0);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("the proof skipped")
            && stderr.contains("the alertmanager target was not built"),
        "{stderr}"
    );
}

/// A build of targets the proof does not read (the Helm chart, Compose, the docs) says that
/// nothing was proven, rather than passing in silence.
#[test]
fn a_build_the_proof_cannot_read_says_so() {
    let text = std::fs::read_to_string(root().join("examples/devmentor.toml")).unwrap();
    for target in [plinth::emit::Target::Helm, plinth::emit::Target::Compose] {
        let options = plinth::Options {
            targets: vec![target],
            ..plinth::Options::default()
        };
        let c = plinth::compile("devmentor.toml", &text, &options);
        assert!(!c.files.is_empty());
        assert!(
            c.notes
                .iter()
                .any(|n| n.message.starts_with("the proof read nothing")),
            "{target:?}: {:#?}",
            c.notes
        );
    }
}
