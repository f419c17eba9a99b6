//! Secrets through the real binary: a credential written anywhere in a spec is `E160`.
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
