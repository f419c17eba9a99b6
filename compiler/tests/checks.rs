//! Issue 18, classes 3 to 5, through the real binary: names that collide into one object or
//! one policy identity, system and add-on namespaces, and fields the target would reject at
//! apply time. Each spec here was accepted by `plinth check` before these rules existed, and
//! each would have produced output that Kubernetes, Compose, Terraform or Alertmanager
//! rejects, or worse, applies with a meaning nobody wrote. `check` must now exit 1 with the
//! rule's code, and `build` must refuse too and write nothing.

mod support;

use support::*;

/// The platform of every case: one web service, routed alerts. Cases add tables after it.
const BASE: &str = r#"version = 1

[platform]
name = "shop"
PLATFORM

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
API

[alerting]
default_receiver = "oncall"
ALERTING

[alerting.receivers.oncall]
type = "webhook"
url = { secret = "alert-webhook", key = "url" }
"#;

/// A spec from the base: `platform` and `api` are lines added to those tables, `alerting` to
/// `[alerting]`, and `rest` whole tables at the end.
fn spec(platform: &str, api: &str, alerting: &str, rest: &str) -> String {
    let text = BASE
        .replace("PLATFORM", platform)
        .replace("API", api)
        .replace("ALERTING", alerting);
    format!("{text}\n{rest}\n")
}

/// Why `check` or `build` did not reject `text` with `code` (and write nothing), if it did
/// not. Every case of a class runs before the test fails, so one run shows them all.
fn rejection_failure(case: &str, text: &str, code: &str) -> Option<String> {
    let dir = TempDir::new(&format!("checks-{case}"));
    std::fs::write(dir.join("platform.toml"), text).expect("write the spec");
    let check = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    if check.status.code() != Some(1) {
        return Some(format!(
            "{case}: check exited {:?}, expected 1 with {code}\nstderr: {}",
            check.status.code(),
            head(&check.stderr)
        ));
    }
    let found = codes(&check);
    if !found.iter().any(|c| c == code) {
        return Some(format!("{case}: expected {code}, got {found:?}"));
    }
    let build = plinth_run(&dir.0, &["build", "platform.toml", "--out", "out"]);
    assert_exit(&build, 1);
    if dir.join("out").exists() {
        return Some(format!(
            "{case}: a rejected build created its output folder"
        ));
    }
    None
}

/// Asserts that every case is rejected with its code.
fn assert_all_rejected(cases: &[(&str, String, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(case, text, code)| rejection_failure(case, text, code))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The base spec itself is valid, so each rejection below is caused by what the case adds.
#[test]
fn the_base_spec_is_valid() {
    let dir = TempDir::new("checks-base");
    std::fs::write(dir.join("platform.toml"), spec("", "", "", "")).expect("write the spec");
    let out = plinth_run(&dir.0, &["check", "platform.toml"]);
    assert_exit(&out, 0);
}

/// Class 3: two definitions that plinth would turn into one object, one cloud resource or one
/// policy identity.
#[test]
fn colliding_names_are_rejected() {
    let cases: &[(&str, String, &str)] = &[
        (
            "configmap-key",
            spec(
                "",
                r#"config_files = [{ path = "/etc/app/a.conf", content = "one" }, { path = "/etc/app_a.conf", content = "two" }]"#,
                "",
                "",
            ),
            "E180",
        ),
        (
            "compose-config",
            spec(
                "",
                r#"config_files = [{ path = "/b-c", content = "one" }]"#,
                "",
                r#"[services.api-b]
kind = "worker"
image = "ghcr.io/acme/worker:1.0.0"
probes.readiness = { command = ["true"] }
config_files = [{ path = "/c", content = "two" }]
"#,
            ),
            "E180",
        ),
        (
            "namespace",
            spec(
                "",
                "",
                "",
                r#"[environments.staging]
namespace = "shop-shared"

[environments.production]
namespace = "shop-shared"
"#,
            ),
            "E181",
        ),
        (
            "state-key",
            spec(
                "",
                "",
                "",
                r#"[cloud]
provider = "aws"
region = "us-east-1"
state = { bucket = "shop-state", key = "terraform.tfstate", lock_table = "shop-locks" }

[environments.staging]

[environments.production]
"#,
            ),
            "E182",
        ),
        (
            "backup-selector",
            spec(
                "",
                "",
                "",
                r#"[services.db-backup]
kind = "worker"
image = "ghcr.io/acme/worker:1.0.0"
probes.readiness = { command = ["true"] }

[datastores.db]
preset = "postgres"
backup = { schedule = "0 3 * * *" }
"#,
            ),
            "E183",
        ),
        (
            "bucket",
            spec(
                "",
                "",
                "",
                r#"[cloud]
provider = "aws"
region = "us-east-1"

[datastores.logs]
preset = "minio"
mode = "managed"
"#,
            ),
            "E184",
        ),
        (
            "tls-secret",
            spec(
                r#"domain = "example.com""#,
                r#"ingress = { host = "a-b.example.com", port = "http" }"#,
                "",
                r#"[services.web]
image = "ghcr.io/acme/web:1.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
ingress = { host = "a.b-example.com", port = "http" }
"#,
            ),
            "E185",
        ),
    ];
    assert_all_rejected(cases);
}

/// Class 4: a platform namespace that is a system namespace or one an add-on owns, and
/// add-on namespace settings that would open the platform to every pod of a system namespace.
#[test]
fn system_and_add_on_namespaces_are_rejected() {
    let cases: &[(&str, String, &str)] = &[
        (
            "kube-system",
            spec(r#"namespace = "kube-system""#, "", "", ""),
            "E186",
        ),
        (
            "default-by-name",
            spec("", "", "", "[environments.prod]\nnamespace = \"default\"\n"),
            "E186",
        ),
        (
            "monitoring",
            spec(r#"namespace = "monitoring""#, "", "", ""),
            "E187",
        ),
        (
            "ingress",
            spec(
                "namespace = \"edge\"\ningress_namespace = \"edge\"",
                "",
                "",
                "",
            ),
            "E187",
        ),
        (
            "monitoring-in-default",
            spec(r#"monitoring_namespace = "default""#, "", "", ""),
            "E188",
        ),
    ];
    assert_all_rejected(cases);
}

/// Class 5: values Kubernetes, Compose, AWS or Alertmanager reject when the output is applied.
/// (`cloud-name` was added with E199, after the others, and seen failing on its own.)
#[test]
fn fields_the_target_rejects_are_rejected() {
    let cases: &[(&str, String, &str)] = &[
        (
            "label-key",
            spec(r#"labels = { "cost center" = "x" }"#, "", "", ""),
            "E190",
        ),
        (
            "label-value",
            spec(r#"team = "Platform Team""#, "", "", ""),
            "E190",
        ),
        (
            "reserved-label",
            spec(
                r#"labels = { "app.kubernetes.io/name" = "api" }"#,
                "",
                "",
                "",
            ),
            "E190",
        ),
        (
            "env-name",
            spec("", r#"env = { "LOG LEVEL" = "debug" }"#, "", ""),
            "E191",
        ),
        (
            "configmap-key",
            spec(
                "",
                r#"config_files = [{ path = "/etc/my app.conf", content = "x" }]"#,
                "",
                "",
            ),
            "E192",
        ),
        (
            "relative-config-path",
            spec(
                "",
                r#"config_files = [{ path = "etc/app.conf", content = "x" }]"#,
                "",
                "",
            ),
            "E194",
        ),
        (
            "reserved-volume",
            spec(
                "",
                r#"volumes = [{ name = "tmp", path = "/scratch" }]"#,
                "",
                "",
            ),
            "E193",
        ),
        (
            "mount-path",
            spec(
                "",
                r#"volumes = [{ name = "scratch", path = "/tmp" }]"#,
                "",
                "",
            ),
            "E194",
        ),
        (
            "probe-path",
            spec(
                "",
                r#"probes.liveness = { path = "/health z", port = "http" }"#,
                "",
                "",
            ),
            "E195",
        ),
        (
            "secret-key",
            spec(
                "",
                r#"secrets = { TOKEN = { secret = "api", key = ".." } }"#,
                "",
                "",
            ),
            "E161",
        ),
        (
            "group-by",
            spec("", "", r#"group_by = ["alertname", "service-name"]"#, ""),
            "E197",
        ),
        (
            "smarthost",
            spec(
                "",
                "",
                "",
                r#"[alerting.receivers.mail]
type = "email"
to = "ops@example.com"
from = "plinth@example.com"
smarthost = "smtp.example.com"
"#,
            ),
            "E198",
        ),
        (
            "cloud-name",
            spec(
                "",
                "",
                "",
                r#"[datastores.sessions-cache-primary]
preset = "redis"
mode = "managed"

[cloud]
provider = "aws"
region = "us-east-1"

[environments.production-eu-west]
"#,
            ),
            "E199",
        ),
        (
            "region",
            spec(
                "",
                "",
                "",
                r#"[cloud]
provider = "aws"
region = "eu-central1"
"#,
            ),
            "E200",
        ),
    ];
    assert_all_rejected(cases);
}

/// What the rules must not reject: environments with a cluster each sharing a namespace name,
/// an ingress controller in `kube-system` (k3s), one host on two services (one certificate),
/// a config file inside plinth's `/tmp`, and a smarthost given by IPv6 address.
#[test]
fn near_misses_are_accepted() {
    let cases: &[(&str, String)] = &[
        (
            // Shaped like a region code but not in the stdlib's list: a region AWS opened
            // after this plinth was built.
            "future-region",
            spec(
                "",
                "",
                "",
                r#"[cloud]
provider = "aws"
region = "eu-southwest-9"
"#,
            ),
        ),
        (
            "namespace-per-cluster",
            spec(
                "",
                "",
                "",
                r#"[cloud]
provider = "aws"
region = "us-east-1"

[environments.staging]
namespace = "apps"

[environments.production]
namespace = "apps"
"#,
            ),
        ),
        (
            "ingress-in-kube-system",
            spec(r#"ingress_namespace = "kube-system""#, "", "", ""),
        ),
        (
            "one-host-two-services",
            spec(
                r#"domain = "example.com""#,
                r#"ingress = { host = "shop.example.com", path = "/api", port = "http" }"#,
                "",
                r#"[services.web]
image = "ghcr.io/acme/web:1.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
ingress = { host = "shop.example.com", port = "http" }
"#,
            ),
        ),
        (
            "config-file-in-tmp",
            spec(
                "",
                r#"config_files = [{ path = "/tmp/app.conf", content = "x" }]"#,
                "",
                "",
            ),
        ),
        (
            "ipv6-smarthost",
            spec(
                "",
                "",
                "",
                r#"[alerting.receivers.mail]
type = "email"
to = "ops@example.com"
from = "plinth@example.com"
smarthost = "[2001:db8::25]:587"
"#,
            ),
        ),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(case, text)| {
            let dir = TempDir::new(&format!("checks-ok-{case}"));
            std::fs::write(dir.join("platform.toml"), text).expect("write the spec");
            let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
            (out.status.code() != Some(0))
                .then(|| format!("{case}: rejected with {:?}", codes(&out)))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
