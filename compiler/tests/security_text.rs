//! Untrusted text never becomes code in an output language (issue "Security", class 1).
//!
//! A spec and its file name come from pull requests, and plinth's output is applied by tools
//! that execute parts of it: Terraform evaluates `${…}` and `%{…}` in strings, Compose
//! interpolates `$VAR`, Prometheus and Alertmanager run labels, annotations and receiver
//! fields as Go templates, Traefik parses its rules. Each test here builds a spec holding
//! such text through the real binary and proves, by parsing the output back (and with the
//! upstream tool where it is installed), that the text arrives as text.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use support::*;

/// A valid spec with a cloud, a local environment, an ingress and alerting: every target
/// writes files. `{extra_service}` lines go into the `web` service, `{extra}` at the end.
fn spec(extra_service: &str, extra: &str) -> String {
    format!(
        r##"version = 1

[platform]
name = "shop"
domain = "shop.example.com"
team = "commerce"
owner = "ops@shop.example.com"

[services.web]
image = "ghcr.io/shop/web:2.0.0"
ports = [{{ name = "http", port = 8080 }}]
replicas = 2
probes.readiness = {{ path = "/ready", port = "http" }}
{extra_service}

[environments.dev]
local = true

[environments.production]

[cloud]
provider = "aws"
region = "eu-west-1"
network = {{ cidr = "10.20.0.0/16", azs = 2 }}

[cloud.cluster]
version = "1.31"

[cloud.cluster.node_groups.main]
instance_types = ["m7g.large"]
min = 2
max = 2

[alerting]
default_receiver = "team"

[alerting.receivers.team]
type = "slack"
channel = "#shop"
webhook_url = {{ secret = "slack", key = "url" }}

{extra}
"##
    )
}

/// Builds `text` saved as `name` into `out/` and returns every generated file by path.
fn build(dir: &TempDir, name: &str, text: &str) -> BTreeMap<String, String> {
    std::fs::write(dir.join(name), text).expect("write the spec");
    let out = plinth_run(&dir.0, &["build", name, "--out", &dir.arg("out")]);
    assert_exit(&out, 0);
    let mut files = BTreeMap::new();
    collect(&dir.join("out"), &dir.join("out"), &mut files);
    files
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("read the output") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

/// Whether `tool` runs here (the upstream validators are optional outside CI).
fn installed(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A file name that, written raw into the banner, would end the comment and add a Terraform
/// resource, a YAML document and a Helm template action to every generated file.
#[test]
fn a_hostile_spec_file_name_stays_inside_the_banner() {
    let dir = TempDir::new("banner-name");
    let name =
        "x\nresource \"null_resource\" \"pwn\" {}\n---\nkind: Secret\n* -}}{{ fail \"x\" }}.toml";
    let files = build(&dir, name, &spec("", ""));
    assert!(!files.is_empty());
    let banner = plinth::ir::naming::banner(name);
    for (path, text) in &files {
        if path == ".plinth-manifest" {
            continue;
        }
        let first = if path.ends_with(".json") {
            // JSON has no comments; a dashboard carries the banner in its description.
            ""
        } else {
            text.lines().next().unwrap_or_default()
        };
        assert!(
            path.ends_with(".json") || plinth::ir::naming::is_banner_line(first),
            "{path}: first line is not a banner: {first:?}"
        );
        // The name shows in the banner, percent-encoded, and nowhere else: the first line of
        // each file, and the description of a dashboard, which carries the same banner (its
        // encoding leaves no quote, line break or brace, so it stays inside a JSON string and
        // the YAML that holds it).
        let rest = text[first.len()..].replace(&banner, "");
        assert!(
            !rest.contains("null_resource"),
            "{path} holds the injected resource"
        );
        assert!(
            !rest.contains("kind: Secret"),
            "{path} holds the injected document"
        );
        assert!(
            !text.contains("fail \"x\""),
            "{path} holds the injected action"
        );
    }
    // The banner is the same however the path is typed.
    let a = build(&dir, "platform.toml", &spec("", ""));
    let out = plinth_run(
        &dir.0,
        &["diff", "./platform.toml", "--out", &dir.arg("out")],
    );
    assert_exit(&out, 0);
    assert!(!a.is_empty());
}

/// Terraform: text from the spec with `${…}` and `%{…}` is a literal string to Terraform, and
/// the file is byte-identical to `terraform fmt` even when an escaped opener is unbalanced.
#[test]
fn terraform_strings_from_the_spec_never_interpolate() {
    let dir = TempDir::new("hcl-literal");
    let key = "state/{env}/${aws_caller}/%{ if true }x%{ endif }/$${ = y";
    let text = spec("", "").replace(
        "region = \"eu-west-1\"\n",
        &format!(
            "region = \"eu-west-1\"\nstate = {{ bucket = \"shop-tfstate\", key = \"{key}\" }}\n"
        ),
    );
    let files = build(&dir, "platform.toml", &text);
    let versions = &files["terraform/production/versions.tf"];
    let body: hcl::Body = hcl::from_str(versions).expect("versions.tf parses");
    let found = format!("{body:?}");
    // hcl-rs reads an escaped literal back as the text itself, a template with an
    // interpolation as a template: the key must be the former.
    let key = key.replace("{env}", "production");
    assert!(
        found.contains(&format!("{key:?}")),
        "the state key is not the literal text: {versions}"
    );
    if installed("terraform", "version") {
        let check = Command::new("terraform")
            .args(["fmt", "-check", "-diff", "-recursive"])
            .arg(dir.join("out/terraform"))
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .output()
            .expect("run terraform fmt");
        assert!(
            check.status.success(),
            "terraform fmt would change the output:\n{}",
            String::from_utf8_lossy(&check.stdout)
        );
    } else {
        eprintln!("terraform not installed: the fmt comparison is skipped");
    }
}

/// Prometheus runs alert annotations as templates. Prose with `{{` reaches Prometheus as
/// text: `promtool check rules` accepts the rules and `promtool test rules` proves the
/// annotations expand to the prose itself.
#[test]
fn prose_in_alerts_is_text_to_prometheus() {
    let dir = TempDir::new("prom-literal");
    let extra = r#"[observability]
runbook_url = "https://runbooks.example.com/{{ .Labels.alertname }}/"

[[observability.rules]]
name = "Weird"
expr = "up == 0"
severity = "critical"
summary = "sum {{ $labels.instance }} }} {"
description = "desc {{ template \"x\" }} {{ fail \"boom\" }} $x ${y}"
"#;
    // The service serves metrics, so the custom threshold's `x_total` has a producer.
    let service = r#"metrics = { port = "http" }
thresholds.custom_x = { expr = "sum(rate(x_total[5m]))", warning = 1, critical = 2, summary = "too many {{ $value }}" }"#;
    let files = build(&dir, "platform.toml", &spec(service, extra));
    let rules = &files["prometheus/production/rules.yaml"];
    let doc: serde_json::Value = serde_saphyr::from_str(rules).expect("rules parse");
    let mut summaries = Vec::new();
    for group in doc["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            if let Some(s) = rule["annotations"]["summary"].as_str() {
                summaries.push(s.to_owned());
            }
        }
    }
    assert!(summaries
        .iter()
        .any(|s| s.contains("{{ \"{\" }}{{ \"{\" }} $labels.instance }}")));
    if !installed("promtool", "--version") {
        eprintln!("promtool not installed: the upstream proof is skipped");
        return;
    }
    for env in ["dev", "production"] {
        let folder = dir.join(format!("out/prometheus/{env}"));
        for args in [
            &["check", "rules", "rules.yaml"][..],
            &["test", "rules", "rules.test.yaml"][..],
        ] {
            let out = Command::new("promtool")
                .args(args)
                .current_dir(&folder)
                .output()
                .expect("run promtool");
            assert!(
                out.status.success(),
                "promtool {args:?} in {env}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Alertmanager runs receiver fields as templates at notification time, after `amtool
/// check-config` has passed: a channel name with `{{` must be escaped in the file.
#[test]
fn receiver_fields_are_text_to_alertmanager() {
    let dir = TempDir::new("am-literal");
    let text = spec("", "").replace("channel = \"#shop\"", "channel = \"#shop{{ .Nope }}\"");
    let files = build(&dir, "platform.toml", &text);
    let config = &files["alertmanager/production/alertmanager.yaml"];
    let doc: serde_json::Value = serde_saphyr::from_str(config).expect("config parses");
    let channel = doc["receivers"][0]["slack_configs"][0]["channel"]
        .as_str()
        .expect("a channel");
    assert_eq!(channel, "#shop{{ \"{\" }}{{ \"{\" }} .Nope }}");
    assert_eq!(
        plinth::emit::gotmpl::render_literals(channel),
        "#shop{{ .Nope }}"
    );
    if installed("amtool", "--version") {
        let out = Command::new("amtool")
            .args(["check-config", "alertmanager.yaml"])
            .current_dir(dir.join("out/alertmanager/production"))
            .output()
            .expect("run amtool");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Compose interpolates `$` in every string value. Text from the spec (environment values,
/// commands, config files) is escaped; the only interpolations left
/// are plinth's own `${VAR:?…}` for secrets.
#[test]
fn compose_interpolates_only_plinths_own_variables() {
    let dir = TempDir::new("compose-literal");
    let service = r#"command = ["sh", "-c", "echo $HOME ${PATH}"]
env = { GREETING = "hi $USER ${HOME:-x}" }
secrets = { TOKEN = { secret = "api", key = "token" } }
ingress = { host = "www.{domain}", path = "/shop" }
config_files = [{ path = "/etc/app/app.conf", content = "x = ${y}\n$HOME\n" }]"#;
    let files = build(&dir, "platform.toml", &spec(service, ""));
    let compose = &files["compose/compose.yaml"];
    let doc: serde_json::Value = serde_saphyr::from_str(compose).expect("compose parses");
    let mut interpolations = Vec::new();
    strings(&doc, &mut |s: &str| {
        // What Compose sees after `$$` is read as a literal `$`.
        let unescaped = s.replace("$$", "");
        if unescaped.contains('$') {
            interpolations.push(s.to_owned());
        }
    });
    assert_eq!(
        interpolations,
        ["${API_TOKEN:?set it in .env}"],
        "only the secret may be interpolated:\n{compose}"
    );
    let web = &doc["services"]["web"];
    assert_eq!(web["environment"]["GREETING"], "hi $$USER $${HOME:-x}");
    assert_eq!(
        web["labels"]["traefik.http.routers.web.rule"],
        "Host(`www.shop.example.com`) && PathPrefix(`/shop`)"
    );
}

fn strings(v: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match v {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, f)),
        serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, f)),
        _ => {}
    }
}

/// Alertmanager matchers: a route key that is not a label name is a check error, never a
/// configuration Alertmanager refuses to load.
#[test]
fn route_keys_must_be_label_names() {
    let dir = TempDir::new("matcher-keys");
    let text = spec("", "").replace(
        "default_receiver = \"team\"",
        "default_receiver = \"team\"\nroutes = [{ match = { \"bad key\" = \"x\" }, receiver = \"team\" }]",
    );
    std::fs::write(dir.join("platform.toml"), text).unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert!(codes(&out).contains(&"E197".to_owned()));
}
