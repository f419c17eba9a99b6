//! Secrets through the real binary: a credential written anywhere in a spec is `E160`, and
//! `plinth diff` never prints the value of a Kubernetes Secret or a `.env` file, whatever the
//! format and wherever the file came from (a pull request can commit one into the output
//! folder, with a banner or listed in a crafted `.plinth-manifest`).
//!
//! Every run sits under the hang guard of `support::run`.

mod support;

use support::*;

/// A small valid spec with markers where each case adds its lines.
const BASE: &str = r#"version = 1

[platform]
name = "shop"
domain = "shop.example.com"
team = "platform"
#PLATFORM

[services.api]
image = "ghcr.io/shop/api:1.4.2"
ports = [{ name = "http", port = 8080 }]
replicas = 2
probes.readiness = { path = "/ready", port = "http" }
#API

[environments.production]
#PRODUCTION

[observability]
#OBSERVABILITY

[alerting]
#ALERTING
"#;

/// `BASE` with `text` after `marker`.
fn spec_with(marker: &str, text: &str) -> String {
    assert!(BASE.contains(marker), "no marker {marker}");
    BASE.replace(marker, text)
}

/// Writes `spec` and runs `plinth check --format json` on it.
fn check(dir: &TempDir, name: &str, spec: &str) -> std::process::Output {
    std::fs::write(dir.join(name), spec).expect("write a spec");
    plinth_run(&dir.0, &["check", name, "--format", "json"])
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> u64 {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in spec"));
    text[..at].matches('\n').count() as u64 + 1
}

/// Each case writes one credential into one kind of string the spec has; `check` must reject
/// each with E160 on the line of the credential itself (inside a multi-line config file, the
/// line of the file, not the line where the string starts).
#[test]
fn a_credential_in_any_string_is_e160() {
    let dir = TempDir::new("secrets-sinks");
    let cases: &[(&str, &str, &str)] = &[
        // Arguments and commands: `--flag=value`, `--flag value`, a shell assignment.
        ("#API", "args = [\"--db-password=Tr0ub4dor-eq\"]", "Tr0ub4dor-eq"),
        ("#API", "args = [\"serve\", \"--api-key\", \"Tr0ub4dor-flag\"]", "Tr0ub4dor-flag"),
        (
            "#API",
            "command = [\"sh\", \"-c\", \"PGPASSWORD=Tr0ub4dor-sh psql -h db\"]",
            "Tr0ub4dor-sh",
        ),
        (
            "#API",
            "probes.liveness = { command = [\"check\", \"--password\", \"Tr0ub4dor-probe\"] }",
            "Tr0ub4dor-probe",
        ),
        (
            "#API",
            "compose.healthcheck = [\"probe\", \"--secret-key=Tr0ub4dor-hc\"]",
            "Tr0ub4dor-hc",
        ),
        // Config file contents: a secret-like key with a literal value, on its own line.
        (
            "#API",
            "config_files = [{ path = \"/etc/app/app.yaml\", content = \"\"\"\ndatabase:\n  host: db\n  password: Tr0ub4dor-yaml\n\"\"\" }]",
            "Tr0ub4dor-yaml",
        ),
        (
            "#API",
            "config_files = [{ path = \"/etc/app/app.properties\", content = '''\nserver.port=8080\nspring.datasource.password=Tr0ub4dor-props\n''' }]",
            "Tr0ub4dor-props",
        ),
        (
            "#API",
            "config_files = [{ path = \"/etc/app/aws.conf\", content = \"\"\"\nregion = eu-west-1\nid = AKIAZ3MHQK2XTRV7BN4Q\n\"\"\" }]",
            "AKIAZ3MHQK2XTRV7BN4Q",
        ),
        (
            "#API",
            "config_files = [{ path = \"/etc/app/tls.pem\", content = \"\"\"\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n\"\"\" }]",
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
        // Variable names: run-together, numbered, camelCase, key ids.
        ("#API", "env = { APIKEY = \"Tr0ub4dor-apikey\" }", "Tr0ub4dor-apikey"),
        ("#API", "env = { PASSWORD2 = \"Tr0ub4dor-two\" }", "Tr0ub4dor-two"),
        ("#API", "env = { clientSecret = \"Tr0ub4dor-camel\" }", "Tr0ub4dor-camel"),
        (
            "#API",
            "env = { AWS_ACCESS_KEY_ID = \"Tr0ub4dor-keyid\" }",
            "Tr0ub4dor-keyid",
        ),
        // Values that are credentials whatever their name.
        (
            "#API",
            "env = { GH = \"ghp_R8nT2vWq9LmZx4Kp7YsB3dFh6JcA1eGu0NiO\" }",
            "ghp_R8nT2vWq9LmZx4Kp7YsB3dFh6JcA1eGu0NiO",
        ),
        (
            "#API",
            "env = { ALERT_HOOK = \"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\" }",
            "https://hooks.slack.com",
        ),
        (
            "#API",
            "env = { CHAT = \"https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz\" }",
            "https://discord.com",
        ),
        (
            "#API",
            "env = { SLACK_BOT = \"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\" }",
            "xoxb-123456789012",
        ),
        (
            "#API",
            "env = { BILLING = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\" }",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "#API",
            "env = { SESSION_SEED = \"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\" }",
            "eyJhbGciOiJIUzI1NiJ9",
        ),
        (
            "#API",
            "env = { DATABASE_URL = \"postgres://shop:Tr0ub4dor-dsn@db:5432/shop\" }",
            "Tr0ub4dor-dsn",
        ),
        // An environment's override is a sink too.
        (
            "#PRODUCTION",
            "[environments.production.services.api]\nargs = [\"--token=Tr0ub4dor-env\"]",
            "Tr0ub4dor-env",
        ),
        // Labels, runbook links, alert descriptions, receiver fields.
        (
            "#PLATFORM",
            "labels = { billing = \"sk_live_51HxT2vWq9LmZx4Kp7YsB3dFh\" }",
            "sk_live_51HxT2vWq9LmZx4Kp7YsB3dFh",
        ),
        (
            "#OBSERVABILITY",
            "runbook_url = \"https://wiki:Tr0ub4dor-wiki@runbooks.example.com/\"",
            "Tr0ub4dor-wiki",
        ),
        (
            "#OBSERVABILITY",
            "runbook_url = \"https://runbooks.example.com/?token=Tr0ub4dor-query&page=\"",
            "Tr0ub4dor-query",
        ),
        (
            "#OBSERVABILITY",
            "rules = [{ name = \"Down\", expr = \"up == 0\", severity = \"warning\", description = \"see https://admin:Tr0ub4dor-rule@grafana.example.com/d/1\" }]",
            "Tr0ub4dor-rule",
        ),
        (
            "#ALERTING",
            "default_receiver = \"mail\"\nreceivers.mail = { type = \"email\", to = \"ops@shop.example.com\", from = \"alerts@shop.example.com\", smarthost = \"alerts:Tr0ub4dor-smtp@smtp.example.com:587\" }",
            "Tr0ub4dor-smtp",
        ),
    ];
    let mut missed = Vec::new();
    for (i, (marker, text, secret)) in cases.iter().enumerate() {
        let spec = spec_with(marker, text);
        let out = check(&dir, &format!("case{i}.toml"), &spec);
        let diags = if out.status.code() == Some(1) {
            json_diagnostics(&out)
        } else {
            Vec::new()
        };
        let e160: Vec<_> = diags.iter().filter(|d| d["code"] == "E160").collect();
        let want = line_of(&spec, secret);
        let lines: Vec<u64> = e160
            .iter()
            .filter_map(|d| d["location"]["line"].as_u64())
            .collect();
        if !lines.contains(&want) {
            missed.push(format!(
                "case {i} ({text}): expected E160 on line {want}, got exit {:?} and {:?}",
                out.status.code(),
                diags
                    .iter()
                    .map(|d| format!("{} line {}", d["code"], d["location"]["line"]))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// Names and values that only look like credentials at a glance: key prefixes, public keys,
/// files and references to secrets, identifiers. None of them is E160.
#[test]
fn references_and_look_alikes_are_not_e160() {
    let dir = TempDir::new("secrets-lookalikes");
    let spec = spec_with(
        "#API",
        r#"env = { KEY_PREFIX = "shop:", PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", TOKEN_FILE = "/run/secrets/token", JWT_ACCESS_TTL = "15m", SECRET_NAME = "db-credentials", API_BASE_URL = "http://api:8080", DATABASE_URL = "postgres://db:5432/shop", PRIMARY_KEY = "id", DB_PASSWORD = "$(DATABASE_PASSWORD)" }
args = ["--token-file", "/run/secrets/token", "--password", "$(DATABASE_PASSWORD)", "--tls-key", "/etc/tls/tls.key", "--passes=3"]
command = ["sh", "-c", "exec api --password-file=/run/secrets/db"]
config_files = [{ path = "/etc/app/app.yaml", content = """
database:
  password: ${DATABASE_PASSWORD}
  password_file: /run/secrets/db
  api_key: ""
  primary_key: id
  token_endpoint: https://auth.example.com/oauth/token
webhook: https://hooks.example.com/notify
"""}]
"#,
    )
    .replace(
        "#OBSERVABILITY",
        "runbook_url = \"https://runbooks.example.com/alerts/\"",
    );
    let out = check(&dir, "lookalikes.toml", &spec);
    assert_exit(&out, 0);
    let e160: Vec<_> = json_diagnostics(&out)
        .into_iter()
        .filter(|d| d["code"] == "E160")
        .collect();
    assert!(e160.is_empty(), "{e160:?}");
}

/// The values a pull request commits into the output folder below; none may be printed.
const SECRET_VALUES: &[&str] = &[
    "aHVudGVyMi1kYXRh",
    "hunter2-string-data",
    "hunter2-last-applied",
    "hunter2-template",
    "hunter2-dotenv",
    "hunter2-modified",
];

/// A committed output folder holding Kubernetes Secrets with values (in a file of their own,
/// in a generated file, in a Helm template that does not parse, with the value repeated in
/// the last-applied annotation) and a `.env` file: `plinth diff` shows each value only as a
/// fingerprint, in every format, and still reports the change.
#[test]
fn drift_never_prints_a_secret_value() {
    let dir = TempDir::new("secrets-drift");
    // The Compose output is generated for the local environment only.
    let spec = spec_with("#PRODUCTION", "local = true");
    std::fs::write(dir.join("platform.toml"), &spec).unwrap();
    let build = plinth_run(&dir.0, &["build", "platform.toml", "--out", "out"]);
    assert_exit(&build, 0);
    let banner = "# generated by plinth from platform.toml, do not edit\n";
    let secret_doc = |name: &str, value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: shop\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{{\"stringData\":{{\"password\":\"hunter2-last-applied\"}}}}'\ntype: Opaque\ndata:\n  password: aHVudGVyMi1kYXRh\nstringData:\n  token: {value}\n"
        )
    };
    std::fs::write(
        dir.join("out/k8s/production/leak.yaml"),
        format!("{banner}{}", secret_doc("leak", "hunter2-string-data")),
    )
    .unwrap();
    let api = dir.join("out/k8s/production/api.yaml");
    let mut text = std::fs::read_to_string(&api).unwrap();
    text.push_str(&format!(
        "---\n{}",
        secret_doc("api-extra", "hunter2-modified")
    ));
    std::fs::write(&api, text).unwrap();
    let templates = dir.join("out/helm/shop/templates");
    std::fs::write(
        templates.join("leak.yaml"),
        "{{- /* generated by plinth from platform.toml, do not edit */ -}}\n{{- if .Values.leak }}\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tpl\nstringData:\n  token: hunter2-template\n{{- end }}\n",
    )
    .unwrap();
    let compose = dir.join("out/compose");
    std::fs::write(
        compose.join(".env"),
        format!("{banner}DATABASE_PASSWORD=hunter2-dotenv\nEMPTY=\n"),
    )
    .unwrap();
    for format in ["human", "json", "markdown"] {
        let out = plinth_run(
            &dir.0,
            &["diff", "platform.toml", "--out", "out", "--format", format],
        );
        assert_exit(&out, 2);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for value in SECRET_VALUES {
            assert!(
                !all.contains(value),
                "--format {format} printed `{value}`:\n{all}"
            );
        }
        assert!(all.contains("fingerprint"), "--format {format}:\n{all}");
        assert!(all.contains("leak.yaml"), "--format {format}:\n{all}");
        assert!(all.contains(".env"), "--format {format}:\n{all}");
    }
}

/// The fingerprint still tells two values apart: a Secret whose value changed between the
/// committed folder and the build shows as changed, with two different fingerprints.
#[test]
fn secret_value_change_shows_two_fingerprints() {
    let dir = TempDir::new("secrets-fingerprint");
    std::fs::write(dir.join("platform.toml"), spec_with("#API", "")).unwrap();
    assert_exit(
        &plinth_run(&dir.0, &["build", "platform.toml", "--out", "old"]),
        0,
    );
    assert_exit(
        &plinth_run(&dir.0, &["build", "platform.toml", "--out", "new"]),
        0,
    );
    let banner = "# generated by plinth from platform.toml, do not edit\n";
    let doc = |v: &str| {
        format!("{banner}apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: shop\nstringData:\n  token: {v}\n")
    };
    std::fs::write(dir.join("old/k8s/production/s.yaml"), doc("hunter2-old")).unwrap();
    let out = plinth_run(
        &dir.0,
        &["diff", "platform.toml", "--out", "old", "--format", "json"],
    );
    assert_exit(&out, 2);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("hunter2-old"), "{text}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Secret")
        .expect("the Secret is reported");
    assert_eq!(removed["change"], "removed", "{report}");
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    std::fs::write(&a, doc("hunter2-a")).unwrap();
    std::fs::write(&b, doc("hunter2-b")).unwrap();
    // Through the same pure comparison `plinth diff` runs, with both sides holding a Secret.
    let mut old = plinth::diff::FileSet::new();
    let mut new = plinth::diff::FileSet::new();
    old.insert(
        "k8s/production/s.yaml".into(),
        std::fs::read_to_string(&a).unwrap(),
    );
    new.insert(
        "k8s/production/s.yaml".into(),
        std::fs::read_to_string(&b).unwrap(),
    );
    let report = plinth::diff::compare(&old, &new);
    let options = plinth::diff::render::Options {
        color: false,
        patch: true,
    };
    let human = plinth::diff::render::human(&report, &options);
    assert!(
        !human.contains("hunter2-a") && !human.contains("hunter2-b"),
        "{human}"
    );
    let change = report
        .resources
        .iter()
        .find(|r| r.kind == "Secret")
        .expect("a changed Secret");
    let field = &change.fields[0];
    assert_eq!(field.path, "stringData.token");
    assert_ne!(field.old, field.new);
}

/// Every YAML spelling of `kind: Secret` is redacted, because redaction decides on the parsed
/// documents rather than on the text: the kind on its own line, behind an anchor or an alias,
/// with a tag, quoted, escaped, in JSON, through a merge key. A file that may hold a Secret
/// but does not parse (broken YAML, a template naming one) is withheld whole. Each case is the
/// only change in a drift, in every format, with the patch.
#[test]
fn every_spelling_of_a_secret_kind_is_redacted() {
    let rest =
        "metadata: {name: leaked, namespace: acme}\nstringData: {password: hunter2-SUPERSECRET}\n";
    let cases = [
        format!("apiVersion: v1\nkind:\n  Secret\n{rest}"),
        format!("apiVersion: v1\nkind: &k Secret\n{rest}"),
        format!("apiVersion: v1\nkind: !!str Secret\n{rest}"),
        format!("apiVersion: v1\nkind: !<tag:yaml.org,2002:str> Secret\n{rest}"),
        format!("apiVersion: v1\nkind: \"\\x53ecret\"\n{rest}"),
        format!("apiVersion: v1\nkind: \"\\u0053ecret\"\n{rest}"),
        format!("apiVersion: v1\nkind: \"Sec\\\n  ret\"\n{rest}"),
        format!("apiVersion: v1\nkind: 'Secret'\n{rest}"),
        "apiVersion: v1\nmetadata: {name: &n Secret, namespace: acme}\nkind: *n\nstringData: {password: hunter2-SUPERSECRET}\n".to_owned(),
        "{\"apiVersion\": \"v1\", \"kind\": \"\\u0053ecret\", \"stringData\": {\"password\": \"hunter2-SUPERSECRET\"}}\n".to_owned(),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: \"\\x53ecret\"\n  stringData: {password: hunter2-SUPERSECRET}\n".to_owned(),
        format!("base: &b {{kind: Secret}}\n---\n<<: {{kind: Secret, apiVersion: v1}}\n{rest}"),
        format!("apiVersion: v1\nkind: \"\\x53ecret\"\n{rest}  broken: [\n"),
        format!("apiVersion: v1\nkind: {{{{ \"Secret\" }}}}\n{rest}"),
        format!("apiVersion: v1\nkind: {{{{ \"\\x53ecret\" }}}}\n{rest}"),
        format!("apiVersion: v1\nkind: ConfigMap\nkind: Secret\n{rest}"),
        format!("apiVersion: v1\nkind: Secret\nkind: ConfigMap\n{rest}"),
    ];
    let render = plinth::diff::render::Options {
        color: false,
        patch: true,
    };
    for (i, doc) in cases.iter().enumerate() {
        let old = plinth::diff::FileSet::from([(
            "k8s/staging/api.yaml".to_owned(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: acme}\n".to_owned(),
        )]);
        let mut new = old.clone();
        new.get_mut("k8s/staging/api.yaml")
            .unwrap()
            .push_str(&format!("---\n{doc}"));
        new.insert("k8s/staging/leak.yaml".to_owned(), doc.clone());
        let report = plinth::diff::compare(&old, &new);
        assert!(report.has_changes(), "case {i}");
        for text in [
            plinth::diff::render::human(&report, &render),
            plinth::diff::render::json(&report, &render),
            plinth::diff::render::markdown(&report, &render),
        ] {
            assert!(
                !text.contains("SUPERSECRET"),
                "case {i} printed the value:\n{doc}\n{text}"
            );
            assert!(text.contains("leak.yaml"), "case {i}:\n{text}");
        }
    }
}
