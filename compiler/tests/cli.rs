//! The binary's exit codes and file behaviour.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn plinth(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Asserts that a run exited 0, showing what it printed otherwise.
fn assert_ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("plinth-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_exit_codes() {
    let root = root();
    for ex in toml_files("examples") {
        let out = plinth(&["check", ex.to_str().unwrap()], &root);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            ex.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for bad in toml_files("compiler/tests/fixtures/invalid") {
        let out = plinth(&["check", bad.to_str().unwrap()], &root);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{} should exit 1",
            bad.display()
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains('╰'),
            "{}: no labelled span in output",
            bad.display()
        );
    }
    let missing = plinth(&["check", "does-not-exist.toml"], &root);
    assert_eq!(missing.status.code(), Some(1));
    let dir = plinth(&["check", "examples"], &root);
    assert_eq!(dir.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dir.stderr).contains("is a directory"));
}

#[test]
fn json_and_github_formats() {
    let bad = toml_files("compiler/tests/fixtures/invalid")
        .into_iter()
        .next()
        .unwrap();
    let out = plinth(
        &["check", bad.to_str().unwrap(), "--format", "json"],
        &root(),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output parses");
    let first = &v[0];
    assert!(first["code"].as_str().unwrap().starts_with('E'));
    assert!(first["location"]["line"].as_u64().is_some());
    let gh = plinth(
        &["check", bad.to_str().unwrap(), "--format", "github"],
        &root(),
    );
    assert!(String::from_utf8_lossy(&gh.stdout).starts_with("::error file="));
}

#[test]
fn build_writes_identical_bytes_twice_and_nothing_on_error() {
    let root = root();
    let ex = toml_files("examples").into_iter().next().unwrap();
    let (a, b) = (tempdir("a"), tempdir("b"));
    for d in [&a, &b] {
        let out = plinth(
            &["build", ex.to_str().unwrap(), "--out", d.to_str().unwrap()],
            &root,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let read = |d: &Path| {
        let mut files = Vec::new();
        let mut stack = vec![d.to_path_buf()];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap() {
                let e = e.unwrap().path();
                if e.is_dir() {
                    stack.push(e);
                } else {
                    files.push((
                        e.strip_prefix(d).unwrap().to_path_buf(),
                        std::fs::read(&e).unwrap(),
                    ));
                }
            }
        }
        files.sort();
        files
    };
    let (fa, fb) = (read(&a), read(&b));
    assert!(!fa.is_empty());
    assert_eq!(fa, fb, "two builds differ");

    let bad = toml_files("compiler/tests/fixtures/invalid")
        .into_iter()
        .next()
        .unwrap();
    let out_dir = tempdir("bad");
    let out = plinth(
        &[
            "build",
            bad.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &root,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        0,
        "a failed build wrote files"
    );
}

#[test]
fn init_writes_a_valid_spec_and_refuses_to_overwrite() {
    let d = tempdir("init");
    assert_eq!(plinth(&["init"], &d).status.code(), Some(0));
    assert_eq!(plinth(&["check"], &d).status.code(), Some(0));
    assert_eq!(
        plinth(&["init"], &d).status.code(),
        Some(1),
        "init must not overwrite"
    );
    // The `#:schema` line points at a schema that exists: the one init wrote beside it,
    // which is what `plinth schema` prints.
    let spec = std::fs::read_to_string(d.join("platform.toml")).unwrap();
    let first = spec.lines().next().unwrap();
    let target = first.strip_prefix("#:schema ").expect("a #:schema line");
    let schema = std::fs::read_to_string(d.join(target)).expect("the schema exists");
    let printed = plinth(&["schema"], &d).stdout;
    assert_eq!(schema.as_bytes(), printed.as_slice());
}

#[test]
fn explain_reports_the_layer_that_set_a_value() {
    let d = tempdir("explain");
    assert_eq!(plinth(&["init"], &d).status.code(), Some(0));
    let out = plinth(
        &[
            "explain",
            "--env",
            "production",
            "services.api.autoscaling.max",
        ],
        &d,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("= 12") && text.contains("environment `production`"),
        "{text}"
    );
    let out = plinth(
        &[
            "explain",
            "--env",
            "staging",
            "services.api.resources.limits.cpu",
        ],
        &d,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"250m\"") && text.contains("scale factor"),
        "{text}"
    );
    let out = plinth(
        &["explain", "--env", "staging", "datastores.db.storage.path"],
        &d,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("preset `postgres`"), "{text}");
    let out = plinth(
        &[
            "explain",
            "--env",
            "staging",
            "services.api.rollout.max_surge",
        ],
        &d,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("set by: default"));
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["check", "build", "explain", "schema", "init"] {
        let out = plinth(&[cmd, "--help"], &root());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("Example"),
            "{cmd} --help lacks an example"
        );
    }
}

#[test]
fn explain_of_a_table_names_the_layers_of_its_fields() {
    let d = tempdir("explain-table");
    assert_eq!(plinth(&["init"], &d).status.code(), Some(0));
    let out = plinth(
        &["explain", "--env", "production", "datastores.db.storage"],
        &d,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("preset `postgres`") && text.contains("spec"),
        "{text}"
    );
}

/// A usage error — an unknown flag, subcommand or value — exits 1 with clap's message, for
/// every subcommand: 2 means "changes found", so a mistyped `plinth diff` must not read as a
/// diff with changes in CI. Help and version still exit 0.
#[test]
fn usage_errors_exit_1_never_2() {
    let dir = tempdir("usage");
    for args in [
        &["diff", "--fromat", "markdown"][..],
        &["build", "--target", "k9s"],
        &["check", "--format", "xml"],
        &["explain", "--nope"],
        &["schema", "extra"],
        &["init", "--bogus"],
        &["nosuch"],
        &[],
    ] {
        let out = plinth(args, &dir);
        assert_eq!(out.status.code(), Some(1), "plinth {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error:") || stderr.contains("Usage:"),
            "plinth {args:?}: {stderr}"
        );
    }
    for args in [&["--help"][..], &["--version"], &["diff", "--help"]] {
        let out = plinth(args, &dir);
        assert_eq!(out.status.code(), Some(0), "plinth {args:?}");
        assert!(!out.stdout.is_empty());
    }
}

/// `plinth explain`: the top-level help's example works on a real spec; paths follow the
/// spec's own keys; provenance names the layer that set the value; an unknown path or
/// environment says which name is unknown, with did-you-mean.
#[test]
fn explain_follows_the_spec_and_says_what_is_unknown() {
    let dir = tempdir("explain");
    std::fs::copy(
        root().join("examples/devmentor.toml"),
        dir.join("platform.toml"),
    )
    .unwrap();
    let help = String::from_utf8(plinth(&["--help"], &dir).stdout).unwrap();
    let example = help
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("plinth explain"))
        .expect("the help has an explain example");
    let args: Vec<&str> = example.split_whitespace().skip(1).collect();
    let out = plinth(&args, &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "`{example}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let codepal = root().join("examples/codepal.toml");
    let codepal = codepal.to_str().unwrap();
    let explain = |path: &str, env: &str| {
        let out = plinth(&["explain", codepal, "--env", env, path], &dir);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    for path in [
        "datastores.postgres.managed.instance_class",
        "datastores.postgres.instance_class",
        "domain",
        "namespace",
    ] {
        let (code, text) = explain(path, "production");
        assert_eq!(code, Some(0), "{path}: {text}");
        assert!(
            text.contains("set by: environment `production`"),
            "{path}: {text}"
        );
    }
    let (code, text) = explain("services.codepal-app.resources.limits.cpux", "production");
    assert_eq!(code, Some(1));
    assert!(
        text.contains("no `cpux` under `services.codepal-app.resources.limits`"),
        "{text}"
    );
    assert!(text.contains("did you mean `cpu`?"), "{text}");
    assert!(text.contains("keys there: cpu, memory"), "{text}");
    let (code, text) = explain("domain", "prod");
    assert_eq!(code, Some(1));
    assert!(text.contains("unknown environment `prod`"), "{text}");
    assert!(text.contains("did you mean `production`?"), "{text}");
}

/// Platform-wide and environment-wide variables, with placeholders: the layers merge as
/// documented (platform < service < environment < the environment's override of the
/// service), `{env}`, `{namespace}`, `{domain}` and `{platform}` are replaced, JSON and
/// `{{…}}` stay text, and an unknown placeholder is E149 with did-you-mean.
#[test]
fn platform_and_environment_variables_reach_every_service() {
    let dir = tempdir("env-vars");
    let spec = r#"version = 1
[platform]
name = "shop"
domain = "shop.example.com"
env = { SENTRY_ENV = "{env}", REGION = "eu", JSON = '{"a": 1}', GREETING = "hi {{name}}", WHERE = "{platform}.{namespace}.{domain}" }

[services.api]
image = "ghcr.io/shop/api:1.0.0"
env = { REGION = "us" }

[services.web]
image = "ghcr.io/shop/web:1.0.0"

[environments.staging]
domain = "staging.shop.example.com"
env = { REGION = "staging-region" }

[environments.staging.services.web]
env = { REGION = "web-only" }

[environments.production]
"#;
    std::fs::write(dir.join("platform.toml"), spec).unwrap();
    let out = plinth(&["build", "--target", "k8s", "--out", "out"], &dir);
    assert_ok(&out);
    let env_of = |env: &str, svc: &str| {
        let text = std::fs::read_to_string(dir.join(format!("out/k8s/{env}/{svc}.yaml"))).unwrap();
        let mut vars = std::collections::BTreeMap::new();
        for doc in serde_saphyr::from_multiple::<serde_json::Value>(&text).unwrap() {
            if doc["kind"] == "Deployment" {
                for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array()
                    .unwrap()
                {
                    if let Some(v) = e["value"].as_str() {
                        vars.insert(e["name"].as_str().unwrap().to_owned(), v.to_owned());
                    }
                }
            }
        }
        vars
    };
    let prod_api = env_of("production", "api");
    assert_eq!(prod_api["SENTRY_ENV"], "production");
    assert_eq!(
        prod_api["REGION"], "us",
        "a service's own value beats the platform's"
    );
    assert_eq!(prod_api["JSON"], r#"{"a": 1}"#);
    assert_eq!(prod_api["GREETING"], "hi {{name}}");
    assert_eq!(prod_api["WHERE"], "shop.shop.shop.example.com");
    let staging_api = env_of("staging", "api");
    assert_eq!(staging_api["SENTRY_ENV"], "staging");
    assert_eq!(
        staging_api["REGION"], "staging-region",
        "the environment's beats the base"
    );
    assert_eq!(staging_api["WHERE"], "shop.shop.staging.shop.example.com");
    assert_eq!(env_of("staging", "web")["REGION"], "web-only");
    assert_eq!(env_of("production", "web")["REGION"], "eu");

    std::fs::write(
        dir.join("bad.toml"),
        spec.replace("\"{env}\"", "\"{environment}\""),
    )
    .unwrap();
    let out = plinth(&["check", "bad.toml"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("E149"), "{text}");
    assert!(
        text.contains("unknown placeholder `{environment}`"),
        "{text}"
    );
}

/// The local environment gets no Terraform unless it asks for a cloud of its own, and any
/// environment can opt out with `cloud.enabled = false`; the checks that depend on a cloud
/// (a managed store) follow the same view.
#[test]
fn local_and_opted_out_environments_get_no_terraform() {
    let dir = tempdir("cloud-opt-out");
    let devmentor = root().join("examples/devmentor.toml");
    let out = plinth(
        &[
            "build",
            devmentor.to_str().unwrap(),
            "--target",
            "terraform",
            "--out",
            "out",
        ],
        &dir,
    );
    assert_ok(&out);
    assert!(
        !dir.join("out/terraform/dev").exists(),
        "the local environment got Terraform"
    );
    assert!(dir.join("out/terraform/staging/main.tf").exists());
    assert!(dir.join("out/terraform/production/main.tf").exists());

    let spec = std::fs::read_to_string(&devmentor).unwrap()
        + "\n[environments.staging.cloud]\nenabled = false\n\n[environments.dev.cloud]\nregion = \"eu-west-1\"\n";
    std::fs::write(dir.join("platform.toml"), spec).unwrap();
    let out = plinth(&["build", "--target", "terraform", "--out", "out2"], &dir);
    assert_ok(&out);
    assert!(
        !dir.join("out2/terraform/staging").exists(),
        "staging opted out"
    );
    assert!(
        dir.join("out2/terraform/dev/main.tf").exists(),
        "dev asked for its own cloud"
    );
    assert!(dir.join("out2/terraform/production/main.tf").exists());
}

/// A spec can accept a warning, by code and with a reason: `check` stops printing it, an
/// entry that silences nothing is W004, and errors cannot be allowed (E172).
#[test]
fn allowed_warnings_are_silent_and_need_a_reason() {
    let dir = tempdir("allow");
    let base = r#"version = 1
[platform]
name = "shop"

[services.worker]
image = "ghcr.io/shop/worker:1.0.0"
ports = [{ name = "http", port = 8080 }]
"#;
    std::fs::write(dir.join("warned.toml"), base).unwrap();
    let out = plinth(&["check", "warned.toml"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("W001"));

    let allowed = format!(
        "{base}\n[[allow]]\ncode = \"W001\"\nreason = \"the worker takes no traffic\"\n\n[[allow]]\ncode = \"W003\"\nreason = \"alerting is configured elsewhere\"\n"
    );
    std::fs::write(dir.join("allowed.toml"), allowed).unwrap();
    let out = plinth(&["check", "allowed.toml"], &dir);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("W001"), "{text}");
    assert!(!text.contains("W003(no-alert-routes)"), "{text}");

    let stale = format!("{base}\nprobes.readiness = {{ path = \"/ready\", port = \"http\" }}\n\n[[allow]]\ncode = \"W001\"\nreason = \"old\"\n");
    std::fs::write(dir.join("stale.toml"), stale).unwrap();
    let out = plinth(&["check", "stale.toml"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("W004"));
}

/// An environment overrides alerting (staging should not page): its routes replace the
/// spec's, its receivers merge by name, and the routing proof and the checks run on each
/// environment's own alerting.
#[test]
fn an_environment_routes_its_alerts_itself() {
    let dir = tempdir("env-alerting");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap()
        + r##"
[environments.staging.alerting]
default_receiver = "staging-chat"
routes = [{ match = { severity = "critical" }, receiver = "staging-chat" }]

[environments.staging.alerting.receivers.staging-chat]
type = "slack"
channel = "#codepal-staging"
webhook_url = { secret = "alertmanager-slack", key = "webhook-url" }
"##;
    std::fs::write(dir.join("platform.toml"), &spec).unwrap();
    let out = plinth(&["build", "--target", "alertmanager", "--out", "out"], &dir);
    assert_ok(&out);
    let read = |env: &str| {
        std::fs::read_to_string(dir.join(format!("out/alertmanager/{env}/alertmanager.yaml")))
            .unwrap()
    };
    let staging = read("staging");
    let config: serde_json::Value = serde_saphyr::from_str(&staging).unwrap();
    assert_eq!(config["route"]["receiver"], "staging-chat");
    // Every route but those of the monitoring stack's own alerts, which notify nobody.
    for r in config["route"]["routes"].as_array().unwrap() {
        if r["receiver"] != "null" {
            assert_eq!(r["receiver"], "staging-chat", "staging pages:\n{staging}");
        }
    }
    assert!(staging.contains("#codepal-staging"));
    let tests =
        std::fs::read_to_string(dir.join("out/alertmanager/staging/route-tests.yaml")).unwrap();
    assert!(!tests.contains("pagerduty-devops"), "{tests}");
    assert!(
        read("production").contains("pagerduty_configs"),
        "production still pages"
    );

    // A route of the override that names a missing receiver is caught in that environment.
    std::fs::write(
        dir.join("bad.toml"),
        spec.replace(
            "receiver = \"staging-chat\" }]",
            "receiver = \"staging-chta\" }]",
        ),
    )
    .unwrap();
    let out = plinth(&["check", "bad.toml"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("unknown receiver `staging-chta`"), "{text}");
    assert!(text.contains("did you mean `staging-chat`?"), "{text}");
}

/// Placement and shutdown: a service on a dedicated node group selects it and tolerates its
/// taint, which the Terraform sets on the group; graceful shutdown becomes the grace period
/// and a preStop sleep; pull secrets come from the secret store; mistakes are check errors.
#[test]
fn pods_run_where_and_stop_how_the_spec_says() {
    let dir = tempdir("placement");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap().replace(
        "[services.auth-service]\n",
        "[services.auth-service]\nshutdown = { grace = \"45s\", drain = \"5s\" }\nannotations = { \"fluentbit.io/parser\" = \"json\" }\nimage_pull_secrets = [\"regcred\"]\n",
    );
    std::fs::write(dir.join("platform.toml"), &spec).unwrap();
    let out = plinth(
        &[
            "build",
            "--target",
            "k8s",
            "--target",
            "terraform",
            "--out",
            "out",
        ],
        &dir,
    );
    assert_ok(&out);
    // Both environments have a cloud: an ExternalSecret creates the pull secret, so it is
    // no prerequisite (tests/foundation.rs covers one declared external).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("prerequisite"), "{stderr}");
    let secrets =
        std::fs::read_to_string(dir.join("out/k8s/production/external-secrets.yaml")).unwrap();
    let regcred = serde_saphyr::from_multiple::<serde_json::Value>(&secrets)
        .unwrap()
        .into_iter()
        .find(|d| d["kind"] == "ExternalSecret" && d["metadata"]["name"] == "regcred")
        .unwrap();
    assert_eq!(
        regcred["spec"]["target"]["template"]["type"],
        "kubernetes.io/dockerconfigjson"
    );
    assert_eq!(
        regcred["spec"]["data"],
        serde_json::json!([{
            "secretKey": ".dockerconfigjson",
            "remoteRef": { "key": "regcred", "property": "dockerconfigjson" }
        }])
    );
    let pod = |svc: &str| {
        let text =
            std::fs::read_to_string(dir.join(format!("out/k8s/production/{svc}.yaml"))).unwrap();
        serde_saphyr::from_multiple::<serde_json::Value>(&text)
            .unwrap()
            .into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap()["spec"]["template"]
            .clone()
    };
    let ai = pod("ai-service");
    assert_eq!(ai["spec"]["nodeSelector"]["plinth/node-group"], "spot");
    assert_eq!(ai["spec"]["tolerations"][0]["value"], "spot");
    assert_eq!(ai["spec"]["tolerations"][0]["effect"], "NoSchedule");
    let auth = pod("auth-service");
    assert!(auth["spec"].get("nodeSelector").is_none());
    assert_eq!(auth["spec"]["terminationGracePeriodSeconds"], 45);
    assert_eq!(
        auth["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"],
        5
    );
    assert_eq!(
        auth["metadata"]["annotations"]["fluentbit.io/parser"],
        "json"
    );
    assert_eq!(auth["spec"]["imagePullSecrets"][0]["name"], "regcred");
    let vars = std::fs::read_to_string(dir.join("out/terraform/production/variables.tf")).unwrap();
    assert!(vars.contains("effect = \"NO_SCHEDULE\""), "{vars}");

    for (from, to, code) in [
        ("node_group = \"spot\"", "node_group = \"spto\"", "E102"),
        ("drain = \"5s\"", "drain = \"60s\"", "E006"),
        ("\"fluentbit.io/parser\"", "\"fluent bit\"", "E190"),
        ("[\"regcred\"]", "[\"Reg Cred\"]", "E101"),
    ] {
        std::fs::write(dir.join("bad.toml"), spec.replace(from, to)).unwrap();
        let out = plinth(&["check", "bad.toml"], &dir);
        assert_eq!(out.status.code(), Some(1), "{to}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(code), "{to}: {text}");
    }
}

/// A namespace quota: the ResourceQuota with its LimitRange of defaults in the namespace's
/// file, a note when the workloads at their maximum scale need more, and check errors for
/// quotas that could admit nothing.
#[test]
fn a_namespace_quota_comes_with_defaults_and_a_fit_note() {
    let dir = tempdir("quota");
    let spec = std::fs::read_to_string(root().join("examples/learning-assistant.toml")).unwrap();
    std::fs::write(dir.join("platform.toml"), &spec).unwrap();
    let out = plinth(&["build", "--target", "k8s", "--out", "out"], &dir);
    assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("more than the namespace quota"));
    let text = std::fs::read_to_string(dir.join("out/k8s/production/namespace.yaml")).unwrap();
    let docs = serde_saphyr::from_multiple::<serde_json::Value>(&text).unwrap();
    let quota = docs
        .iter()
        .find(|d| d["kind"] == "ResourceQuota")
        .expect("a quota");
    assert_eq!(quota["spec"]["hard"]["limits.cpu"], "24");
    assert_eq!(quota["spec"]["hard"]["pods"], "40");
    let limits = docs
        .iter()
        .find(|d| d["kind"] == "LimitRange")
        .expect("a limit range");
    assert_eq!(limits["spec"]["limits"][0]["default"]["memory"], "512Mi");
    let staging = std::fs::read_to_string(dir.join("out/k8s/staging/namespace.yaml")).unwrap();
    assert!(
        !staging.contains("ResourceQuota"),
        "only production sets a quota"
    );

    std::fs::write(
        dir.join("small.toml"),
        spec.replace("pods = 40", "pods = 5"),
    )
    .unwrap();
    let out = plinth(
        &["build", "small.toml", "--target", "k8s", "--out", "out2"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("pods, more than the namespace quota allows"),
        "{text}"
    );

    for (from, to, code) in [
        ("cpu = \"24\"", "cpu = \"24 cores\"", "E131"),
        ("pods = 40", "pods = 0", "E006"),
    ] {
        std::fs::write(dir.join("bad.toml"), spec.replace(from, to)).unwrap();
        let out = plinth(&["check", "bad.toml"], &dir);
        assert_eq!(out.status.code(), Some(1), "{to}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(code), "{to}");
    }
}

/// AWS names the cloud would reject after review are flagged at check time, with the
/// nearest real name: a region or instance type AWS does not have is W005 (a warning, as AWS
/// adds both after a plinth is built; it can be allowed), a region not shaped like one E200.
#[test]
fn aws_names_are_checked_against_aws_lists() {
    let dir = tempdir("aws-names");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    for (from, to, code, near) in [
        (
            "region = \"us-east-1\"",
            "region = \"us-east-7\"",
            "W005",
            "",
        ),
        (
            "[\"m6i.large\"]",
            "[\"m6i.larg\"]",
            "W005",
            "did you mean `m6i.large`?",
        ),
        (
            "region = \"us-east-1\"",
            "region = \"us-east1\"",
            "E200",
            "us-east-1",
        ),
    ] {
        std::fs::write(dir.join("platform.toml"), spec.replacen(from, to, 1)).unwrap();
        let out = plinth(&["check"], &dir);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(code), "{to}: {text}");
        assert!(text.contains(near), "{to}: {text}");
        let expected = if code.starts_with('W') { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "{to}: {text}");
    }
}

/// Facts worth knowing before apply: an ingress host outside its environment's domain is
/// W006, and the Terraform state bucket plinth chose for a spec that names none is said.
#[test]
fn hosts_outside_the_domain_and_chosen_state_buckets_are_said() {
    let dir = tempdir("host-domain");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    std::fs::write(
        dir.join("platform.toml"),
        spec.replace(
            "ingress = { host = \"{domain}\" }                # the app itself answers on staging.codepal.com",
            "ingress = { host = \"app.codepal.com\" }",
        ),
    )
    .unwrap();
    let out = plinth(&["check"], &dir);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("W006")
            && text.contains("host `app.codepal.com` is outside the domain `staging.codepal.com`"),
        "{text}"
    );

    let no_bucket =
        std::fs::read_to_string(root().join("compiler/tests/fixtures/valid/cloud-managed.toml"))
            .unwrap()
            .replace("state = { bucket = \"shop-tfstate\" }\n", "");
    std::fs::write(dir.join("nobucket.toml"), no_bucket).unwrap();
    let out = plinth(
        &[
            "build",
            "nobucket.toml",
            "--target",
            "terraform",
            "--out",
            "out",
        ],
        &dir,
    );
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(
            "no `cloud.state.bucket` is named, so the state goes to bucket `shop-terraform-state`"
        ),
        "{text}"
    );
}

/// A task run on every deploy (`kind = "job"`): a Job whose name changes exactly when what it
/// runs changes (a Job cannot be changed in place), run by Helm after install and before
/// each upgrade, waited for by its dependents in Compose; the keys of long-running
/// workloads are errors on it.
#[test]
fn jobs_run_on_every_deploy() {
    let dir = tempdir("jobs");
    let spec =
        std::fs::read_to_string(root().join("compiler/tests/fixtures/valid/jobs.toml")).unwrap();
    let job_of = |text: &str, out: &str| {
        std::fs::write(dir.join("platform.toml"), text).unwrap();
        let run = plinth(&["build", "--out", out], &dir);
        assert_ok(&run);
        let yaml = std::fs::read_to_string(dir.join(format!("{out}/k8s/production/migrate.yaml")))
            .unwrap();
        serde_saphyr::from_multiple::<serde_json::Value>(&yaml)
            .unwrap()
            .into_iter()
            .find(|d| d["kind"] == "Job")
            .expect("a Job")
    };
    let first = job_of(&spec, "a");
    let name = first["metadata"]["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("migrate-"), "{name}");
    assert_eq!(
        first["metadata"]["annotations"]["helm.sh/hook"],
        "post-install,pre-upgrade"
    );
    assert_eq!(
        job_of(&spec, "b")["metadata"]["name"],
        name.as_str(),
        "same job, same name"
    );
    let changed = spec.replacen("ghcr.io/shop/api:2.0.0", "ghcr.io/shop/api:2.1.0", 1);
    assert_ne!(
        job_of(&changed, "c")["metadata"]["name"],
        name.as_str(),
        "a changed job is a new Job"
    );
    // What the Job does not run leaves its name alone, so a migration is not run again:
    // here an alert level of the platform, which reached the old name through the model.
    let alerted = spec.replacen(
        "[alerting]\n",
        "[observability.thresholds]\ncpu = { warning = 61, critical = 93 }\n\n[alerting]\n",
        1,
    );
    assert_ne!(alerted, spec);
    assert_eq!(
        job_of(&alerted, "d")["metadata"]["name"],
        name.as_str(),
        "an alert level is not part of what the job runs"
    );
    // A config file mounted into it is.
    let configured = spec.replacen(
        "depends_on = [\"db\"]\n",
        "depends_on = [\"db\"]\nconfig_files = [{ path = \"/etc/migrate.yaml\", content = \"lock: true\\n\" }]\n",
        1,
    );
    assert_ne!(configured, spec);
    let with_config = job_of(&configured, "e")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(with_config, name, "a config file is part of what it runs");
    let reconfigured = configured.replacen("lock: true", "lock: false", 1);
    assert_ne!(
        job_of(&reconfigured, "f")["metadata"]["name"],
        with_config.as_str(),
        "so is its content"
    );
    let compose = std::fs::read_to_string(dir.join("a/compose/compose.yaml")).unwrap();
    let compose: serde_json::Value = serde_saphyr::from_str(&compose).unwrap();
    assert_eq!(
        compose["services"]["api"]["depends_on"]["migrate"]["condition"],
        "service_completed_successfully"
    );
    assert_eq!(compose["services"]["migrate"]["restart"], "no");

    std::fs::write(
        dir.join("bad.toml"),
        spec.replace(
            "command = [\"/app/migrate\", \"up\"]",
            "command = [\"/app/migrate\", \"up\"]\nreplicas = 2\nports = [{ name = \"http\", port = 8080 }]",
        ),
    )
    .unwrap();
    let out = plinth(&["check", "bad.toml"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("a job has no `replicas`") && text.contains("a job has no `ports`"),
        "{text}"
    );
}

/// Init containers run before the workload's own with its environment and hardening; a
/// name the pod already has, an empty command or an unpinned image of their own are errors.
#[test]
fn init_containers_are_checked() {
    let dir = tempdir("init-containers");
    let spec =
        std::fs::read_to_string(root().join("compiler/tests/fixtures/valid/jobs.toml")).unwrap();
    for (to, code, says) in [
        (
            r#"init = [{ name = "api", command = ["x"] }]"#,
            "E006",
            "two containers of `api` are named `api`",
        ),
        (
            r#"init = [{ name = "wait", command = [] }]"#,
            "E006",
            "an init container needs a command",
        ),
        (
            r#"init = [{ name = "wait", image = "busybox", command = ["x"] }]"#,
            "E141",
            "image is not pinned",
        ),
    ] {
        let text = spec.replace(
            r#"init = [{ name = "wait-for-db", command = ["/app/wait-for", "db:5432"] }]"#,
            to,
        );
        std::fs::write(dir.join("platform.toml"), text).unwrap();
        let out = plinth(&["check"], &dir);
        assert_eq!(out.status.code(), Some(1), "{to}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(code) && stderr.contains(says),
            "{to}: {stderr}"
        );
    }
}

/// An EKS version past its standard support is W007, with the dates from the dated list of
/// `stdlib/aws/eks-versions.txt`; the current version, the default and a version newer than
/// the list are not flagged.
#[test]
fn eks_versions_out_of_standard_support_are_warned() {
    let dir = tempdir("eks-version");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    let current = "[cloud.cluster]\nversion = \"1.35\"\n";
    assert!(spec.contains(current), "codepal.toml pins EKS 1.35");
    for (version, expected) in [
        (
            "1.30",
            Some("EKS 1.30 left standard support on 2025-07-23 and extended support on 2026-07-23"),
        ),
        (
            "1.34",
            Some("EKS 1.34 left standard support on 2026-12-02 (extended support"),
        ),
        ("1.35", None),
        ("1.36", None),
    ] {
        let changed = spec.replacen(
            current,
            &format!("[cloud.cluster]\nversion = \"{version}\"\n"),
            1,
        );
        std::fs::write(dir.join("platform.toml"), changed).unwrap();
        let out = plinth(&["check"], &dir);
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{version}: {text}");
        match expected {
            Some(message) => assert!(
                text.contains("W007") && text.contains(message),
                "{version}: {text}"
            ),
            None => assert!(!text.contains("W007"), "{version}: {text}"),
        }
    }
    // Without a version the cluster gets plinth's default, which is in standard support.
    std::fs::write(
        dir.join("platform.toml"),
        spec.replacen(current, "[cloud.cluster]\n", 1),
    )
    .unwrap();
    let out = plinth(&["check"], &dir);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("W007"), "default: {text}");
}

/// Every file a generated Terraform module reads (`file("${path.module}/…")`) is one the same
/// build wrote, and kube-prometheus-stack is installed from the values file the Helm target
/// writes, with the generated rules, the Alertmanager configuration and selectors open to
/// every ServiceMonitor, PodMonitor, Probe, ScrapeConfig and rule.
#[test]
fn terraform_reads_the_files_the_build_writes() {
    let dir = tempdir("tf-files");
    let root = root();
    let mut specs = toml_files("examples");
    specs.extend(toml_files("compiler/tests/fixtures/valid"));
    let mut kube_prometheus_stack = 0;
    for spec in specs {
        let out_dir = dir.join(stem(&spec));
        let out = plinth(
            &[
                "build",
                spec.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
            &root,
        );
        assert_ok(&out);
        let Ok(envs) = std::fs::read_dir(out_dir.join("terraform")) else {
            continue;
        };
        for env in envs {
            let env = env.unwrap().path();
            for tf in std::fs::read_dir(&env).unwrap() {
                let tf = tf.unwrap().path();
                let text = std::fs::read_to_string(&tf).unwrap();
                for (i, _) in text.match_indices("file(\"${path.module}/") {
                    let rest = &text[i + "file(\"${path.module}/".len()..];
                    let rel = &rest[..rest.find('"').unwrap()];
                    let target = env.join(rel);
                    assert!(
                        target.is_file(),
                        "{}: reads {rel}, which the build did not write",
                        tf.display()
                    );
                    if rel.contains("values-kube-prometheus-stack-") {
                        kube_prometheus_stack += 1;
                        let values = std::fs::read_to_string(&target).unwrap();
                        for key in [
                            "serviceMonitorSelectorNilUsesHelmValues: false",
                            "podMonitorSelectorNilUsesHelmValues: false",
                            "probeSelectorNilUsesHelmValues: false",
                            "scrapeConfigSelectorNilUsesHelmValues: false",
                            "ruleSelectorNilUsesHelmValues: false",
                            "additionalPrometheusRulesMap:",
                            "alertmanager:",
                        ] {
                            assert!(values.contains(key), "{}: no {key}", target.display());
                        }
                    }
                }
            }
        }
    }
    assert!(
        kube_prometheus_stack > 0,
        "no kube-prometheus-stack release reads its generated values"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Availability Zones: fewer than two is E201 (EKS refuses the cluster); more than the region
/// gives a new account is W008, from `stdlib/aws/availability-zones.txt` (three unless
/// listed); what the region has is accepted.
#[test]
fn availability_zone_counts_are_checked_against_the_region() {
    let dir = tempdir("azs");
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    let network = "network = { cidr = \"10.0.0.0/16\", azs = 3 }";
    assert!(spec.contains(network), "codepal.toml asks for 3 zones");
    assert!(
        spec.contains("region = \"us-east-1\""),
        "codepal.toml is in us-east-1"
    );
    for (region, azs, code, expected) in [
        ("us-east-1", 1, Some(1), Some("E201")),
        ("us-east-1", 6, Some(0), None),
        (
            "us-east-1",
            7,
            Some(0),
            Some("`us-east-1` has 6 Availability Zones for a new account; 7 are asked for"),
        ),
        (
            "eu-west-1",
            4,
            Some(0),
            Some("`eu-west-1` has 3 Availability Zones for a new account; 4 are asked for"),
        ),
        ("us-west-1", 3, Some(0), Some("set `azs = 2` or fewer")),
        ("us-west-1", 2, Some(0), None),
    ] {
        let text = spec
            .replace(
                network,
                &format!("network = {{ cidr = \"10.0.0.0/16\", azs = {azs} }}"),
            )
            .replace("region = \"us-east-1\"", &format!("region = \"{region}\""));
        std::fs::write(dir.join("platform.toml"), text).unwrap();
        let out = plinth(&["check"], &dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), code, "{region} {azs}: {err}");
        match expected {
            Some(m) => assert!(err.contains(m), "{region} {azs}: {err}"),
            None => assert!(
                !err.contains("W008") && !err.contains("E201"),
                "{region} {azs}: {err}"
            ),
        }
    }
}
