//! Synthetic specs of any size, for benchmarks and large-input tests.
//!
//! Benchmarks need specs with hundreds or thousands of services that exercise every part of
//! the pipeline, and a checked-in 10 MB file would be unreviewable. [`spec`] writes one from a
//! service count instead, deterministically: the same `n` always gives the same bytes, so two
//! benchmark runs (or two machines) measure the same input.
//!
//! Every service has ports, resources, autoscaling, probes, environment variables, secret
//! references, a dependency, an ingress (under one of 32 shared hosts, on its own path), a threshold override and an SLO; every tenth service
//! brings a data store (PostgreSQL and Redis in turn); there are two environments, a local
//! `dev` (for Compose) and `production`, and an AWS cloud section (for Terraform), so every
//! target has work. The result checks clean: no errors and no warnings.

use std::fmt::Write;

/// The hosts the synthetic services share, each service under its own path: as many TLS
/// hosts as one Gateway holds at most would be (E210), and enough to exercise the per-host
/// work.
const HOSTS: usize = 32;

/// The name of synthetic service `i`.
fn service(i: usize) -> String {
    format!("svc-{i:05}")
}

/// The name of the data store shared by the group of ten services that `i` belongs to.
fn store(i: usize) -> String {
    format!("store-{:04}", i / 10)
}

/// Writes a valid spec with `n` services (at least one).
pub fn spec(n: usize) -> String {
    let n = n.max(1);
    let mut s = String::with_capacity(2048 * n);
    s.push_str(
        "# Synthetic spec written by `plinth synth`, for benchmarks.\n\
         version = 1\n\n\
         [platform]\n\
         name = \"synthetic\"\n\
         domain = \"synthetic.example.com\"\n\
         team = \"platform\"\n\
         owner = \"platform@example.com\"\n\n",
    );
    for i in 0..n {
        let name = service(i);
        let dep = if i % 10 == 0 {
            store(i)
        } else {
            service(i - 1)
        };
        let engine = if (i / 10) % 2 == 0 {
            "postgres"
        } else {
            "redis"
        };
        // `write!` into a String cannot fail.
        let _ = write!(
            s,
            r#"[services.{name}]
image = "ghcr.io/synthetic/{name}:1.{minor}.0"
ports = [{{ name = "http", port = 8080 }}, {{ name = "grpc", port = 9090 }}]
autoscaling = {{ min = 2, max = {max}, cpu = 70, memory = 80 }}
resources = {{ requests = {{ cpu = "{cpu}m", memory = "256Mi" }}, limits = {{ cpu = "1", memory = "512Mi" }} }}
depends_on = ["{dep}"]
ingress = {{ host = "api-{host}.{{domain}}", path = "/{name}" }}
metrics = {{ path = "/metrics", port = "http" }}
env = {{ LOG_LEVEL = "info", UPSTREAM = "http://{dep}", WORKERS = "{workers}" }}
secrets = {{ DATABASE_URL = {{ secret = "{name}-{engine}", key = "url" }}, API_TOKEN = {{ secret = "{name}-api", key = "token" }} }}
probes.liveness = {{ path = "/healthz", port = "http", initial_delay = "10s", period = "10s" }}
probes.readiness = {{ path = "/ready", port = "http", initial_delay = "5s", period = "5s" }}
thresholds.error_rate = {{ warning = 2, critical = 10 }}

"#,
            minor = i % 17,
            host = i % HOSTS,
            max = 4 + i % 7,
            cpu = 100 + 50 * (i % 5),
            workers = 2 + i % 3,
        );
    }
    for g in 0..n.div_ceil(10) {
        let name = store(g * 10);
        let engine = if g % 2 == 0 { "postgres" } else { "redis" };
        let _ = write!(
            s,
            "[datastores.{name}]\npreset = \"{engine}\"\nstorage = {{ size = \"{size}Gi\" }}\n\n",
            size = 10 + g % 5 * 10,
        );
    }
    s.push_str(
        "[environments.dev]\n\
         local = true\n\
         domain = \"localhost\"\n\
         replica_scale = 0.5\n\
         resource_scale = 0.5\n\n\
         [environments.production]\n\
         domain = \"synthetic.example.com\"\n\n\
         [cloud]\n\
         provider = \"aws\"\n\
         region = \"eu-west-1\"\n\
         state = { bucket = \"synthetic-tfstate\" }\n\
         network = { cidr = \"10.20.0.0/16\", azs = 3 }\n\n\
         [cloud.cluster]\n\
         version = \"1.35\"\n\n\
         [cloud.cluster.node_groups.main]\n\
         instance_types = [\"m7g.large\"]\n\
         min = 3\n\
         max = 30\n\n\
         [observability.thresholds]\n\
         error_rate = { warning = 1, critical = 5 }\n\
         latency_p95 = { warning = \"500ms\", critical = \"2s\" }\n\
         cpu = { warning = 70, critical = 90 }\n\
         memory = { warning = 80, critical = 95 }\n\n",
    );
    for i in 0..n {
        let name = service(i);
        let _ = write!(
            s,
            r#"[observability.slos.{name}-availability]
service = "{name}"
objective = 99.9
good = 'sum(rate(http_requests_total{{service="{name}",code!~"5.."}}[{{window}}]))'
total = 'sum(rate(http_requests_total{{service="{name}"}}[{{window}}]))'

"#
        );
    }
    s.push_str(
        "[alerting]\n\
         default_receiver = \"slack\"\n\n\
         [[alerting.routes]]\n\
         match = { severity = \"critical\" }\n\
         receiver = \"pagerduty\"\n\n\
         [alerting.receivers.pagerduty]\n\
         type = \"pagerduty\"\n\
         routing_key = { secret = \"alertmanager-pagerduty\", key = \"routing-key\" }\n\n\
         [alerting.receivers.slack]\n\
         type = \"slack\"\n\
         channel = \"#alerts\"\n\
         webhook_url = { secret = \"alertmanager-slack\", key = \"webhook-url\" }\n",
    );
    s
}

/// Quotes `s` as a TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The [`AWKWARD_VALUES`] that are also Kubernetes label values (at most 63 alphanumerics,
/// `-`, `_`, `.`): YAML would still read each as a boolean, a number or null unless quoted,
/// and `check` rejects the other awkward values as labels (E190).
const AWKWARD_LABEL_VALUES: &[&str] = &[
    "on", "yes", "No", "off", "y", "true", "0x1F", "1e3", "017", "null", "",
];

/// Plain environment values chosen to stress YAML, HCL and Compose quoting: YAML 1.1
/// booleans and sexagesimals, numbers, nulls, comment and anchor characters, quotes,
/// backslashes, interpolation syntax and non-ASCII text.
const AWKWARD_VALUES: &[&str] = &[
    "on",
    "yes",
    "No",
    "off",
    "y",
    "true",
    "22:22",
    "0x1F",
    "1e3",
    "017",
    "~",
    "null",
    "",
    " ",
    "a: b",
    "- item",
    "#not-a-comment",
    "&anchor",
    "*alias",
    "!tag",
    "%percent",
    "@at",
    "`tick`",
    "'single'",
    "\"double\"",
    "back\\slash",
    "${HOME}",
    "$$",
    "{{ .Values.x }}",
    "%{ if }",
    "line\nbreak",
    "tab\there",
    "caf\u{e9}",
    "\u{65e5}\u{672c}",
    "\u{1F680}",
    "a,b;c|d>e<f",
];

/// A random but valid spec, driven by fuzzer or property-test bytes.
///
/// Every spec it writes is meant to check without errors (warnings are allowed), so a test can
/// demand that it compiles; the choices cover every service kind, data store preset, probe
/// shape, environment overlay, threshold, SLO and receiver, and plain values that are hard to
/// quote.
pub fn random(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<String> {
    const SERVICES: &[&str] = &["api", "web", "worker", "jobs", "auth", "search", "billing"];
    const STORES: &[(&str, &str)] = &[
        ("postgres", "postgres"),
        ("cache", "redis"),
        ("vectors", "qdrant"),
        ("objects", "minio"),
    ];
    let mut s = String::new();
    let domain = u.ratio(3, 4)?;
    let _ = writeln!(
        s,
        "version = 1\n\n[platform]\nname = {}",
        toml_str(u.choose(&["shop", "acme-platform", "p"])?)
    );
    if domain {
        let _ = writeln!(s, "domain = \"example.com\"");
    }
    if u.arbitrary()? {
        let _ = writeln!(
            s,
            "namespace = \"apps\"\nteam = \"core\"\nowner = \"core@example.com\""
        );
    }
    if u.arbitrary()? {
        let _ = writeln!(
            s,
            "labels = {{ cost-center = {} }}",
            toml_str(u.choose(AWKWARD_LABEL_VALUES)?)
        );
    }
    s.push('\n');

    // Data stores first, so services can depend on them.
    let mut stores = Vec::new();
    for (name, preset) in STORES {
        if !u.ratio(1, 3)? {
            continue;
        }
        stores.push(*name);
        let _ = writeln!(s, "[datastores.{name}]\npreset = \"{preset}\"");
        if u.arbitrary()? {
            let _ = writeln!(
                s,
                "storage = {{ size = \"{}Gi\" }}",
                u.int_in_range(1..=500)?
            );
        }
        if matches!(*preset, "postgres" | "redis") && u.arbitrary()? {
            let _ = writeln!(
                s,
                "backup = {{ schedule = \"0 {} * * *\", retention = \"{}d\" }}",
                u.int_in_range(0..=23)?,
                u.int_in_range(1..=90)?
            );
        }
        if u.ratio(1, 4)? {
            let _ = writeln!(s, "thresholds.disk = {{ warning = 70, critical = 85 }}");
        }
        // A replicated Redis (Sentinel, its proxy and their policies) now and then.
        if *preset == "redis" && u.ratio(1, 3)? {
            let _ = writeln!(s, "replicas = 3");
        }
        s.push('\n');
    }

    let count = u.int_in_range(1..=SERVICES.len())?;
    let mut services: Vec<&str> = Vec::new();
    // The services with a metrics endpoint: only their request series exist, so only they
    // can have an SLO (one over another's series would be a proof finding, P013).
    let mut scraped: Vec<&str> = Vec::new();
    for name in SERVICES.iter().take(count) {
        services.push(name);
        let kind = *u.choose(&["web", "web", "worker", "stateful", "cron"])?;
        let _ = writeln!(s, "[services.{name}]");
        if kind != "web" || u.arbitrary()? {
            let _ = writeln!(s, "kind = \"{kind}\"");
        }
        let tag = format!(
            "{}.{}.{}",
            u.int_in_range(0..=9)?,
            u.int_in_range(0..=20)?,
            u.int_in_range(0..=9)?
        );
        let _ = writeln!(s, "image = \"registry.example.com/team/{name}:{tag}\"");
        if kind == "cron" {
            let _ = writeln!(s, "schedule = \"*/{} * * * *\"", u.int_in_range(1..=59)?);
            let _ = writeln!(s, "command = [\"/bin/{name}\", \"--once\"]");
        }
        let has_port =
            kind == "web" || kind == "stateful" || (kind == "worker" && u.arbitrary()?);
        if has_port {
            let port = u.int_in_range(1024..=9000)?;
            if u.arbitrary()? {
                let _ = writeln!(s, "ports = [{{ name = \"http\", port = {port} }}, {{ name = \"admin\", port = {} }}]", port + 1);
            } else {
                let _ = writeln!(s, "ports = [{{ name = \"http\", port = {port} }}]");
            }
        }
        if kind != "cron" {
            if kind != "stateful" && u.arbitrary()? {
                let min = u.int_in_range(1..=5)?;
                let max = min + u.int_in_range(0..=20)?;
                let _ = writeln!(
                    s,
                    "autoscaling = {{ min = {min}, max = {max}, cpu = {} }}",
                    u.int_in_range(10..=95)?
                );
            } else if u.arbitrary()? {
                let _ = writeln!(s, "replicas = {}", u.int_in_range(1..=9)?);
            }
        }
        if u.ratio(3, 4)? {
            let req = u.int_in_range(10..=1000)?;
            let mem = u.int_in_range(16..=2048)?;
            let _ = writeln!(
                s,
                "resources = {{ requests = {{ cpu = \"{req}m\", memory = \"{mem}Mi\" }}, limits = {{ cpu = \"{}m\", memory = \"{}Mi\" }} }}",
                req + u.int_in_range(0..=1000)?,
                mem + u.int_in_range(0..=2048)?
            );
        }
        if has_port && kind != "cron" {
            match u.int_in_range(0..=2)? {
                0 => {
                    let _ = writeln!(
                        s,
                        "probes.readiness = {{ path = \"/ready\", port = \"http\" }}"
                    );
                    let _ = writeln!(s, "probes.liveness = {{ path = \"/live\", port = \"http\", initial_delay = \"{}s\" }}", u.int_in_range(0..=60)?);
                }
                1 => {
                    let _ = writeln!(s, "probes.readiness = {{ port = \"http\" }}");
                }
                _ => {
                    let _ = writeln!(s, "probes.readiness = {{ command = [\"/bin/{name}\", \"health\"], period = \"{}s\" }}", u.int_in_range(1..=60)?);
                }
            }
            if kind == "web" && u.arbitrary()? {
                if domain && u.arbitrary()? {
                    let _ = writeln!(s, "ingress = {{ host = \"{name}.{{domain}}\" }}");
                } else {
                    let _ = writeln!(
                        s,
                        "ingress = {{ host = \"{name}.example.org\", path = \"/{name}\" }}"
                    );
                }
            }
            if u.arbitrary()? {
                let _ = writeln!(s, "metrics = {{ path = \"/metrics\", port = \"http\" }}");
                scraped.push(name);
            }
        }
        // Dependencies on earlier services only, so there is never a cycle.
        let mut deps = Vec::new();
        for other in services
            .iter()
            .take(services.len() - 1)
            .chain(stores.iter())
        {
            if u.ratio(1, 3)? {
                deps.push(toml_str(other));
            }
        }
        if !deps.is_empty() {
            let _ = writeln!(s, "depends_on = [{}]", deps.join(", "));
        }
        let vars = u.int_in_range(0..=3)?;
        if vars > 0 {
            let mut env = Vec::new();
            for (i, key) in ["LOG_LEVEL", "MODE", "GREETING"]
                .iter()
                .take(vars)
                .enumerate()
            {
                let value = if i == 2 {
                    // A free-form string as well: arbitrary Unicode, quoted for TOML.
                    let raw: String = u.arbitrary()?;
                    raw.chars().take(40).collect()
                } else {
                    (*u.choose(AWKWARD_VALUES)?).to_owned()
                };
                env.push(format!("{key} = {}", toml_str(&value)));
            }
            let _ = writeln!(s, "env = {{ {} }}", env.join(", "));
        }
        if u.arbitrary()? {
            let _ = writeln!(
                s,
                "secrets.API_KEY = {{ secret = \"{name}-credentials\", key = \"api-key\" }}"
            );
        }
        if kind == "stateful" || (kind == "web" && u.ratio(1, 4)?) {
            let _ = writeln!(
                s,
                "volumes = [{{ name = \"scratch\", path = \"/var/tmp/{name}\", size = \"{}Mi\" }}]",
                u.int_in_range(1..=512)?
            );
        }
        if u.ratio(1, 4)? {
            let _ = writeln!(
                s,
                "thresholds.error_rate = {{ warning = {}, critical = 50 }}",
                u.int_in_range(1..=49)?
            );
        }
        s.push('\n');
    }

    let envs: Vec<&str> = ["dev", "staging", "production"]
        .into_iter()
        .filter(|_| u.arbitrary().unwrap_or(false))
        .collect();
    for env in &envs {
        let _ = writeln!(s, "[environments.{env}]");
        if *env == "dev" {
            let _ = writeln!(s, "local = true");
        }
        if u.arbitrary()? {
            let _ = writeln!(
                s,
                "replica_scale = {}",
                u.choose(&["0.5", "1", "2", "0.25"])?
            );
        }
        if u.arbitrary()? {
            let _ = writeln!(s, "resource_scale = {}", u.choose(&["0.5", "1", "1.5"])?);
        }
        if domain && u.arbitrary()? {
            let _ = writeln!(s, "domain = \"{env}.example.com\"");
        }
        s.push('\n');
        if u.arbitrary()? {
            let name = u.choose(&services)?;
            let _ = writeln!(
                s,
                "[environments.{env}.services.{name}]\nenv = {{ REGION = {} }}\n",
                toml_str(u.choose(AWKWARD_VALUES)?)
            );
        }
    }

    s.push_str("[observability]\n");
    if u.arbitrary()? {
        let _ = writeln!(s, "scrape_interval = \"{}s\"", u.int_in_range(5..=60)?);
    }
    if u.arbitrary()? {
        let _ = writeln!(
            s,
            "thresholds.cpu = {{ warning = {}, critical = 95 }}",
            u.int_in_range(10..=94)?
        );
        let _ = writeln!(
            s,
            "thresholds.latency_p95 = {{ warning = \"{}ms\", critical = \"3s\" }}",
            u.int_in_range(1..=2999)?
        );
    }
    s.push('\n');
    if !scraped.is_empty() && u.arbitrary()? {
        let service = u.choose(&scraped)?;
        let _ = writeln!(
            s,
            "[observability.slos.{service}-availability]\nservice = \"{service}\"\nobjective = {}\ngood = 'sum(rate(http_requests_total{{service=\"{service}\",code!~\"5..\"}}[{{window}}]))'\ntotal = 'sum(rate(http_requests_total{{service=\"{service}\"}}[{{window}}]))'\n",
            u.choose(&["99", "99.5", "99.9", "95"])?
        );
    }
    // A platform-wide rule over an application series, which only a scraped service can
    // export.
    if !scraped.is_empty() && u.arbitrary()? {
        let _ = writeln!(
            s,
            "[[observability.rules]]\nname = \"QueueBacklog\"\nexpr = 'sum(queue_depth) > {}'\nfor = \"{}m\"\nseverity = \"{}\"\nsummary = {}\n",
            u.int_in_range(1..=10000)?,
            u.int_in_range(1..=30)?,
            u.choose(&["critical", "warning", "info"])?,
            toml_str(u.choose(AWKWARD_VALUES)?)
        );
    }

    match u.int_in_range(0..=2)? {
        0 => {}
        1 => s.push_str(
            "[alerting]\ndefault_receiver = \"team\"\n\n[alerting.receivers.team]\ntype = \"slack\"\nchannel = \"#alerts\"\nwebhook_url = { secret = \"alertmanager-slack\", key = \"url\" }\n",
        ),
        _ => s.push_str(
            "[alerting]\ndefault_receiver = \"mail\"\n\n[[alerting.routes]]\nmatch = { severity = \"critical\" }\nreceiver = \"pager\"\n\n[alerting.receivers.pager]\ntype = \"pagerduty\"\nrouting_key = { secret = \"alertmanager-pagerduty\", key = \"routing-key\" }\n\n[alerting.receivers.mail]\ntype = \"email\"\nto = \"oncall@example.com\"\nfrom = \"alerts@example.com\"\nsmarthost = \"smtp.example.com:587\"\npassword = { secret = \"alertmanager-smtp\", key = \"password\" }\n",
        ),
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_specs_check_clean_and_have_the_promised_shape() {
        for n in [1, 10, 23] {
            let text = spec(n);
            let analysis = crate::analyze("synthetic.toml", &text);
            assert!(
                analysis.diagnostics.0.is_empty(),
                "n = {n}: {:?}",
                analysis.diagnostics.0
            );
            let platform = analysis.platform.expect("lowered");
            assert_eq!(platform.environments.len(), 2);
            for env in &platform.environments {
                // Services and in-cluster data stores are both workloads.
                assert_eq!(env.workloads.len(), n + n.div_ceil(10));
            }
        }
    }

    #[test]
    fn the_same_count_gives_the_same_bytes() {
        assert_eq!(spec(37), spec(37));
        assert_ne!(spec(37), spec(38));
    }
}
