//! The Compose target through the public `compile` API: the generated `compose.yaml` is
//! parsed back and checked field by field.

mod common;

use common::*;
use serde_json::Value;

/// What the Compose target produced for a spec.
struct Out {
    /// `compose.yaml`, parsed; `Null` when none was written.
    file: Value,
    /// `.env.example`, as written.
    env_example: String,
    /// The Compose target's notes.
    notes: Vec<String>,
}

impl Out {
    fn service(&self, name: &str) -> &Value {
        let s = &self.file["services"][name];
        assert!(!s.is_null(), "no service `{name}` in:\n{:#}", self.file);
        s
    }

    /// The one note starting with `prefix`; fails when there is none or more than one.
    fn note(&self, prefix: &str) -> &str {
        let found: Vec<&String> = self
            .notes
            .iter()
            .filter(|n| n.starts_with(prefix))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one note starting with {prefix:?} in {:#?}",
            self.notes
        );
        found[0]
    }
}

fn compile(text: &str) -> Out {
    let c = plinth::compile(
        "platform.toml",
        text,
        &plinth::Options {
            targets: vec![plinth::emit::Target::Compose],
            envs: Vec::new(),
            lenient: false,
        },
    );
    assert!(
        !c.diagnostics.has_errors(),
        "{}",
        plinth::cli::render::human(&c.sources, &c.diagnostics.0, false, 100)
    );
    let get = |path: &str| {
        c.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.contents.clone())
    };
    Out {
        file: get("compose/compose.yaml").map_or(Value::Null, |y| {
            serde_saphyr::from_str(&y).expect("compose.yaml parses")
        }),
        env_example: get("compose/.env.example").unwrap_or_default(),
        notes: c.notes.iter().map(|n| n.message.clone()).collect(),
    }
}

fn example(name: &str) -> Out {
    let text = std::fs::read_to_string(root().join(format!("examples/{name}.toml"))).unwrap();
    compile(&text)
}

const EXAMPLES: &[&str] = &["devmentor", "learning-assistant", "tutoring-marketplace"];

/// A small platform: an API that needs PostgreSQL, Redis and a worker.
const SHOP: &str = r#"
version = 1

[platform]
name = "shop"
domain = "shop.example.com"

[services.api]
image = "ghcr.io/acme/api:1.0.0"
ports = [{ name = "http", port = 8080 }]
resources = { limits = { cpu = "750m", memory = "768Mi" } }
depends_on = ["db", "cache", "search"]
env = { LOG_LEVEL = "info", GREETING = "costs $5" }
secrets = { DATABASE_PASSWORD = { secret = "db-credentials", key = "password" }, STRIPE_KEY = { secret = "stripe", key = "STRIPE_KEY" } }
probes.readiness = { path = "/ready", port = "http", period = "5s", timeout = "2s" }
probes.startup = { path = "/ready", port = "http", period = "5s", failure_threshold = 12 }

[services.search]
image = "ghcr.io/acme/search:2.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/health", port = "http" }

[datastores.db]
preset = "postgres"
secrets = { POSTGRES_PASSWORD = { secret = "db-credentials", key = "password" } }

[datastores.cache]
preset = "redis"

[environments.dev]
local = true
domain = "shop.localhost"

[environments.production]
"#;

#[test]
fn output_is_the_compose_file_and_the_variable_list() {
    let c = plinth::compile("platform.toml", SHOP, &plinth::Options::default());
    let paths: Vec<&str> = c
        .files
        .iter()
        .filter(|f| f.path.starts_with("compose/"))
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, ["compose/.env.example", "compose/compose.yaml"]);
    let out = compile(SHOP);
    // compose-spec: a project name, and no obsolete top-level `version`.
    assert_eq!(out.file["name"], "shop");
    assert!(out.file.get("version").is_none());
}

#[test]
fn dependencies_wait_for_health_checks_compose_can_run() {
    let out = compile(SHOP);
    let deps = &out.service("api")["depends_on"];
    // Data stores have exec probes from their presets.
    assert_eq!(deps["db"]["condition"], "service_healthy");
    assert_eq!(deps["cache"]["condition"], "service_healthy");
    // `search` has only an HTTP probe and no client for it: the dependency is kept, with the
    // weaker condition, and the summary says so.
    assert_eq!(deps["search"]["condition"], "service_started");
    let note = out.note("no health check Compose can run");
    assert!(note.contains("search (needed by api)"), "{note}");
    assert!(out.service("search").get("healthcheck").is_none());
}

#[test]
fn an_http_client_turns_the_readiness_probe_into_a_health_check() {
    let spec = SHOP.replace(
        "probes.readiness = { path = \"/health\", port = \"http\" }",
        "probes.readiness = { path = \"/health\", port = \"http\" }\ncompose = { healthcheck = \"wget\" }",
    );
    let out = compile(&spec);
    assert_eq!(
        out.service("api")["depends_on"]["search"]["condition"],
        "service_healthy"
    );
    let hc = &out.service("search")["healthcheck"];
    assert_eq!(
        hc["test"],
        serde_json::json!([
            "CMD",
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:8080/health"
        ])
    );
    assert!(out.notes.iter().all(|n| !n.starts_with("no health check")));

    let curl = compile(&spec.replace("\"wget\"", "\"curl\""));
    assert_eq!(
        curl.service("search")["healthcheck"]["test"],
        serde_json::json!([
            "CMD",
            "curl",
            "-fsS",
            "-o",
            "/dev/null",
            "http://127.0.0.1:8080/health"
        ])
    );
}

#[test]
fn a_health_check_command_replaces_the_probes() {
    let spec = SHOP.replace(
        "probes.readiness = { path = \"/health\", port = \"http\" }",
        "probes.readiness = { path = \"/health\", port = \"http\" }\ncompose = { healthcheck = [\"/bin/search\", \"health\"] }",
    );
    let out = compile(&spec);
    assert_eq!(
        out.service("search")["healthcheck"]["test"],
        serde_json::json!(["CMD", "/bin/search", "health"])
    );
}

#[test]
fn health_checks_take_the_probe_timings() {
    let out = compile(SHOP);
    let db = &out.service("db")["healthcheck"];
    assert_eq!(
        db["test"],
        serde_json::json!(["CMD", "pg_isready", "-U", "app", "-h", "127.0.0.1"])
    );
    assert_eq!(db["interval"], "10s");
    assert_eq!(db["timeout"], "1s");
    assert_eq!(db["retries"], 3);
    assert_eq!(db["start_period"], "5s");
    assert_eq!(
        out.service("cache")["healthcheck"]["test"],
        serde_json::json!(["CMD", "redis-cli", "ping"])
    );
    // The startup probe's budget (12 x 5s) becomes the start period.
    let spec = SHOP.replace(
        "probes.startup = {",
        "compose = { healthcheck = \"wget\" }\nprobes.startup = {",
    );
    let api = &compile(&spec).service("api")["healthcheck"].clone();
    assert_eq!(api["interval"], "5s");
    assert_eq!(api["timeout"], "2s");
    assert_eq!(api["start_period"], "60s");
}

#[test]
fn every_dependency_of_every_example_is_kept() {
    for name in EXAMPLES {
        let text = std::fs::read_to_string(root().join(format!("examples/{name}.toml"))).unwrap();
        let platform = plinth::analyze("x.toml", &text).platform.unwrap();
        let env = platform.compose_environment().unwrap();
        let out = example(name);
        for w in &env.workloads {
            for d in &w.depends_on {
                let cond = &out.service(&w.name)["depends_on"][d.as_str()]["condition"];
                assert!(
                    cond == "service_healthy" || cond == "service_started",
                    "{name}: {} -> {d}: {cond}",
                    w.name
                );
            }
        }
    }
}

#[test]
fn data_stores_keep_their_data_in_named_volumes() {
    let out = compile(SHOP);
    let db = out.service("db");
    assert_eq!(db["volumes"][0]["type"], "volume");
    assert_eq!(db["volumes"][0]["source"], "db-data");
    assert_eq!(db["volumes"][0]["target"], "/var/lib/postgresql/data");
    assert!(out.file["volumes"]["db-data"].is_object());
    // New volumes belong to root or the image's user: a one-shot service gives them to the
    // workloads' user first.
    assert_eq!(
        db["depends_on"]["volume-init"]["condition"],
        "service_completed_successfully"
    );
    let init = out.service("volume-init");
    assert_eq!(
        init["command"],
        serde_json::json!([
            "chown",
            "-R",
            "10001:10001",
            "/volumes/cache-data",
            "/volumes/db-data"
        ])
    );
    assert_eq!(init["restart"], "no");
    assert_eq!(init["network_mode"], "none");
    assert_eq!(init["cap_drop"], serde_json::json!(["ALL"]));
}

#[test]
fn secrets_are_variables_read_from_dotenv() {
    let out = compile(SHOP);
    let api = &out.service("api")["environment"];
    assert_eq!(
        api["DATABASE_PASSWORD"],
        "${DB_CREDENTIALS_PASSWORD:?set it in .env}"
    );
    // A key that is already a variable name is the variable.
    assert_eq!(api["STRIPE_KEY"], "${STRIPE_KEY:?set it in .env}");
    // The same reference is the same variable everywhere.
    assert_eq!(
        out.service("db")["environment"]["POSTGRES_PASSWORD"],
        "${DB_CREDENTIALS_PASSWORD:?set it in .env}"
    );
    assert_eq!(
        out.env_example
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect::<Vec<_>>(),
        ["DB_CREDENTIALS_PASSWORD=", "STRIPE_KEY="]
    );
    assert!(out
        .env_example
        .contains("# secret `db-credentials`, key `password`\nDB_CREDENTIALS_PASSWORD=\n"));
}

#[test]
fn no_secret_value_reaches_any_example() {
    for name in EXAMPLES {
        let text = std::fs::read_to_string(root().join(format!("examples/{name}.toml"))).unwrap();
        let platform = plinth::analyze("x.toml", &text).platform.unwrap();
        let env = platform.compose_environment().unwrap();
        let out = example(name);
        for w in &env.workloads {
            for var in w.secrets.keys() {
                let v = out.service(&w.name)["environment"][var.as_str()]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let inner = v
                    .strip_prefix("${")
                    .and_then(|v| v.strip_suffix(":?set it in .env}"))
                    .unwrap_or_else(|| panic!("{name}: {}: {var} = {v}", w.name));
                assert!(
                    out.env_example.contains(&format!("\n{inner}=\n")),
                    "{name}: {inner} not in .env.example"
                );
            }
        }
        // Every variable line has a name and no value.
        for line in out.env_example.lines() {
            if !line.is_empty() && !line.starts_with('#') {
                assert!(line.ends_with('='), "{name}: {line}");
            }
        }
    }
}

#[test]
fn colliding_variable_names_are_qualified() {
    let spec = SHOP.replace(
        "STRIPE_KEY = { secret = \"stripe\", key = \"STRIPE_KEY\" }",
        "STRIPE_KEY = { secret = \"stripe\", key = \"STRIPE_KEY\" }, OTHER = { secret = \"other\", key = \"STRIPE_KEY\" }",
    );
    let api = &compile(&spec).service("api")["environment"].clone();
    assert_eq!(api["STRIPE_KEY"], "${STRIPE_STRIPE_KEY:?set it in .env}");
    assert_eq!(api["OTHER"], "${OTHER_STRIPE_KEY:?set it in .env}");
}

#[test]
fn ports_are_published_on_localhost_only_and_never_twice() {
    for name in EXAMPLES {
        let out = example(name);
        let mut published = Vec::new();
        for (svc, s) in out.file["services"].as_object().unwrap() {
            for p in s["ports"].as_array().into_iter().flatten() {
                assert_eq!(p["host_ip"], "127.0.0.1", "{name}: {svc}");
                published.push(p["published"].as_str().unwrap().to_owned());
            }
        }
        let n = published.len();
        published.sort();
        published.dedup();
        assert_eq!(published.len(), n, "{name}: a host port is published twice");
    }
    // `api` and `search` both listen on 8080: the second moves to the next free port.
    let out = compile(SHOP);
    assert_eq!(out.service("api")["ports"][0]["published"], "8080");
    assert_eq!(out.service("search")["ports"][0]["published"], "8081");
    assert_eq!(out.service("search")["ports"][0]["target"], 8080);
    assert!(out.note("host ports taken").contains("search 8080 on 8081"));
}

#[test]
fn replicas_run_behind_traefik_routed_by_the_ingress() {
    let out = example("learning-assistant");
    let app = out.service("learning-assistant");
    assert_eq!(app["deploy"]["replicas"], 3);
    // Three replicas cannot share a host port: Traefik publishes one.
    assert!(app.get("ports").is_none());
    assert_eq!(app["labels"]["traefik.enable"], "true");
    assert_eq!(
        app["labels"]["traefik.http.routers.learning-assistant.rule"],
        "Host(`localhost`) && PathPrefix(`/`)"
    );
    assert_eq!(
        app["labels"]["traefik.http.services.learning-assistant.loadbalancer.server.port"],
        "3000"
    );
    let traefik = out.service("traefik");
    assert_eq!(traefik["ports"][0]["host_ip"], "127.0.0.1");
    assert_eq!(traefik["ports"][0]["published"], "80");
    assert_eq!(traefik["volumes"][0]["read_only"], true);
    assert!(out
        .note("autoscaling is not expressible")
        .contains("learning-assistant (3..20, runs 3)"));
}

#[test]
fn workloads_get_the_secure_defaults_and_their_limits() {
    let out = compile(SHOP);
    let api = out.service("api");
    assert_eq!(api["user"], "10001:10001");
    assert_eq!(api["read_only"], true);
    assert_eq!(api["tmpfs"], serde_json::json!(["/tmp"]));
    assert_eq!(api["cap_drop"], serde_json::json!(["ALL"]));
    assert_eq!(
        api["security_opt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    assert_eq!(api["restart"], "unless-stopped");
    assert_eq!(api["deploy"]["resources"]["limits"]["cpus"], "0.75");
    assert_eq!(api["deploy"]["resources"]["limits"]["memory"], "768m");
    // The memory request is Docker's soft limit; a CPU reservation is Swarm's alone.
    assert_eq!(
        api["deploy"]["resources"]["reservations"],
        serde_json::json!({ "memory": "128m" })
    );
    out.note("CPU requests are not expressible in Compose");
    assert!(api["deploy"].get("replicas").is_none());
    // A literal `$` would be interpolated by Compose.
    assert_eq!(api["environment"]["GREETING"], "costs $$5");
}

#[test]
fn pod_annotations_are_noted_not_dropped() {
    let text = SHOP.replace(
        "[services.api]\n",
        "[services.api]\nannotations = { \"example.com/owner\" = \"payments\" }\n",
    );
    assert!(compile(&text)
        .note("pod annotations are Kubernetes metadata")
        .contains("api"));
}

#[test]
fn unexpressible_features_are_noted_once_each() {
    let out = example("devmentor");
    assert!(out.note("disruption budgets").contains("qwen"));
    assert!(out.note("autoscaling").contains("api-gateway"));
    out.note("network policies are not expressible");
    out.note("liveness probes");
    assert!(out.note("backups").contains("postgres"));
    out.note("`platform.labels` are Kubernetes metadata");
    let out = example("learning-assistant");
    assert!(out.note("vertical autoscaling").contains("postgres"));
    out.note("TLS is not terminated locally");
}

#[test]
fn without_a_local_or_dev_environment_there_is_only_a_note() {
    let out = example("codepal");
    assert!(out.file.is_null());
    assert!(out
        .note("no environment has `local = true`")
        .contains("local = true"));
}

#[test]
fn dev_runs_locally_unless_another_environment_is_marked() {
    let spec = SHOP.replace("local = true\n", "");
    let out = compile(&spec);
    assert!(out.file.is_object());
    let spec = SHOP.replace("local = true\n", "").replace(
        "[environments.production]",
        "[environments.production]\nlocal = true",
    );
    let c = plinth::compile("platform.toml", &spec, &plinth::Options::default());
    let platform = c.platform.unwrap();
    assert_eq!(platform.compose_environment().unwrap().name, "production");
}

#[test]
fn only_the_selected_compose_environment_is_emitted() {
    let c = plinth::compile(
        "platform.toml",
        SHOP,
        &plinth::Options {
            targets: vec![plinth::emit::Target::Compose],
            envs: vec!["production".to_owned()],
            lenient: false,
        },
    );
    assert!(c.files.is_empty());
    assert!(c.notes[0].message.contains("`dev`, which is not selected"));
}

#[test]
fn monitoring_mounts_the_generated_rules_and_config() {
    let out = example("learning-assistant");
    let prom = out.service("prometheus");
    let mounts: Vec<(&str, &str)> = prom["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["source"].as_str().unwrap(), m["target"].as_str().unwrap()))
        .collect();
    assert!(mounts.contains(&(
        "../prometheus/dev/prometheus.yml",
        "/etc/prometheus/prometheus.yml"
    )));
    // The versions kube-prometheus-stack 88.5.3 runs in the cluster, so the same rules and
    // configuration are read by the same releases locally.
    assert_eq!(prom["image"], "docker.io/prom/prometheus:v3.14.0");
    assert_eq!(
        out.service("alertmanager")["image"],
        "docker.io/prom/alertmanager:v0.34.0"
    );
    // The rules Compose's Prometheus can evaluate: without the cluster's series.
    assert!(mounts.contains(&(
        "../prometheus/dev/local-rules.yaml",
        "/etc/prometheus/rules.yaml"
    )));
    assert_eq!(prom["ports"][0]["published"], "9090");
    assert_eq!(
        prom["depends_on"]["alertmanager"]["condition"],
        "service_healthy"
    );
    let am = out.service("alertmanager");
    assert_eq!(
        am["volumes"][0]["source"],
        "../alertmanager/dev/alertmanager.yaml"
    );
    assert_eq!(am["volumes"][0]["bind"]["create_host_path"], false);
    out.note("Prometheus and Alertmanager mount");
    // Not asked for: no log viewer.
    assert!(out.file["services"].get("dozzle").is_none());
}

#[test]
fn the_log_viewer_is_dozzle_on_8890() {
    let out = example("devmentor");
    let dozzle = out.service("dozzle");
    assert_eq!(dozzle["ports"][0]["published"], "8890");
    assert_eq!(dozzle["ports"][0]["host_ip"], "127.0.0.1");
    assert_eq!(
        dozzle["environment"]["DOZZLE_FILTER"],
        "label=com.docker.compose.project=devmentor"
    );
    assert!(out.file["services"].get("prometheus").is_none());
}

#[test]
fn cron_jobs_run_on_demand() {
    let spec = SHOP.replace(
        "[datastores.db]",
        "[services.report]\nkind = \"cron\"\nschedule = \"0 3 * * *\"\nimage = \"ghcr.io/acme/report:1.0.0\"\n\n[datastores.db]",
    );
    let out = compile(&spec);
    let job = out.service("report");
    assert_eq!(job["profiles"], serde_json::json!(["jobs"]));
    assert_eq!(job["restart"], "no");
    assert!(out
        .note("Compose has no schedules")
        .contains("report (0 3 * * *)"));
}

/// Traefik before v3.6.1 hard-codes Docker API 1.24, which Docker Engine 29 refuses ("client
/// version 1.24 is too old", traefik#12253): the proxy then sees no container and every ingress
/// host answers 404. From v3.6.1 it negotiates the version with the daemon.
#[test]
fn traefik_negotiates_the_docker_api_version() {
    let out = example("learning-assistant");
    let image = out.service("traefik")["image"].as_str().unwrap().to_owned();
    let tag = image.rsplit_once(":v").expect("a `vX.Y.Z` tag").1;
    let version: Vec<u32> = tag.split('.').map(|n| n.parse().unwrap()).collect();
    assert!(
        version.as_slice() >= [3, 6, 1].as_slice(),
        "{image} cannot talk to Docker Engine 29"
    );
}

#[test]
fn a_workload_named_like_a_tool_keeps_its_name() {
    let spec = SHOP
        .replace("[services.search]", "[services.traefik]")
        .replace(
            "depends_on = [\"db\", \"cache\", \"search\"]",
            "depends_on = [\"db\", \"cache\", \"traefik\"]\ningress = { host = \"api.{domain}\" }",
        );
    let out = compile(&spec);
    assert_eq!(out.service("traefik")["image"], "ghcr.io/acme/search:2.0.0");
    assert_eq!(
        out.service("plinth-traefik")["image"],
        plinth::emit::compose::TRAEFIK_IMAGE
    );
    out.note("tool services renamed");
}

#[test]
fn managed_data_stores_are_noted_and_their_dependents_keep_running() {
    // The local environment has a cloud only when it asks for one of its own.
    let spec = format!(
        "{SHOP}\n[environments.dev.datastores.db]\nmode = \"managed\"\n\n[environments.dev.cloud]\nregion = \"eu-west-1\"\n\n[cloud]\nprovider = \"aws\"\n"
    );
    let out = compile(&spec);
    assert!(out.file["services"].get("db").is_none());
    assert!(out.service("api")["depends_on"].get("db").is_none());
    assert!(out.note("managed data stores are not run").contains("db"));
    assert!(out
        .note("dependencies on managed data stores")
        .contains("api on db"));
}

#[test]
fn volumes_of_different_users_are_handed_over_in_one_init() {
    let spec = SHOP.replace(
        "[datastores.cache]\npreset = \"redis\"",
        "[datastores.cache]\npreset = \"redis\"\nsecurity = { run_as_user = 10002 }",
    );
    let out = compile(&spec);
    assert_eq!(
        out.service("volume-init")["command"],
        serde_json::json!([
            "sh",
            "-c",
            "chown -R 10001:10001 /volumes/db-data && chown -R 10002:10002 /volumes/cache-data"
        ])
    );
    assert_eq!(out.service("cache")["user"], "10002:10002");
}

#[test]
fn config_files_udp_ports_and_security_opt_outs() {
    let spec = SHOP.replace(
        "[services.search]",
        r#"[services.dns]
image = "ghcr.io/acme/dns:1.0.0"
ports = [{ name = "web", port = 8053 }, { name = "dns", port = 5353, protocol = "udp" }]
config_files = [{ path = "/etc/dns/zone.conf", content = "owner $USER\n" }]
security = { read_only_root_filesystem = false, allow_root = true }

[services.search]"#,
    );
    let out = compile(&spec);
    let dns = out.service("dns");
    // Ports in host port order, as dclint wants them.
    assert_eq!(dns["ports"][0]["published"], "5353");
    assert_eq!(dns["ports"][0]["protocol"], "udp");
    assert_eq!(dns["ports"][1]["published"], "8053");
    assert_eq!(dns["user"], "0:0");
    assert!(dns.get("read_only").is_none());
    assert!(dns.get("tmpfs").is_none());
    assert_eq!(dns["configs"][0]["target"], "/etc/dns/zone.conf");
    let name = dns["configs"][0]["source"].as_str().unwrap();
    assert_eq!(out.file["configs"][name]["content"], "owner $$USER\n");
}
