//! Issue 22, the mesh, through the real binary: `platform.mesh = "istio"` puts the services
//! (not the data stores) in an Istio mesh with mutual TLS required, an AuthorizationPolicy
//! per service admitting exactly its declared dependents' identities (and the gateway's on
//! its exposed port), the callers' traffic policy from `traffic`, Istio's gateway at the
//! edge, and Istio installed by the Terraform before the platform chart.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::*;

/// A cloud platform in an Istio mesh: `web` (exposed, TLS) calls `api`, which calls the
/// Redis store `cache`; `worker` calls `api` too. `api` carries `traffic`, and `extra` is
/// appended to `[platform]`.
fn spec(extra: &str, traffic: &str) -> String {
    format!(
        r#"version = 1
[platform]
name = "shop"
domain = "shop.example.com"
owner = "ops@shop.example.com"
mesh = "istio"
{extra}

[services.web]
image = "ghcr.io/shop/web:2.0.0"
replicas = 2
ports = [{{ name = "http", port = 8080 }}]
probes.readiness = {{ path = "/ready", port = "http" }}
ingress = {{ host = "www.{{domain}}" }}
depends_on = ["api"]
metrics = {{ path = "/metrics", port = "http" }}

[services.api]
image = "ghcr.io/shop/api:2.0.0"
replicas = 2
ports = [{{ name = "http", port = 9000 }}]
probes.readiness = {{ path = "/ready", port = "http" }}
depends_on = ["cache"]
{traffic}

[services.worker]
kind = "worker"
image = "ghcr.io/shop/worker:2.0.0"
depends_on = ["api"]

[datastores.cache]
preset = "redis"

[environments.production]

[cloud]
provider = "aws"
region = "eu-west-1"
state = {{ bucket = "shop-tfstate" }}
network = {{ cidr = "10.20.0.0/16", azs = 2 }}

[cloud.cluster.node_groups.main]
instance_types = ["m7g.large"]
min = 2
max = 2
"#
    )
}

/// The `traffic` of `api` in the tests: the seeds' circuit breaker, a pool, a timeout and
/// retries.
const TRAFFIC: &str = r#"traffic.circuit_breaker = { consecutive_errors = 5, ejection = "30s" }
traffic.connection_pool = { max_connections = 100, max_pending_requests = 50 }
traffic.timeout = "10s"
traffic.retries = { attempts = 3, per_try_timeout = "3s" }"#;

/// `plinth build` of `text` into a scratch folder, which must succeed (the proof included).
fn build(name: &str, text: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("platform.toml"), text).unwrap();
    let out = plinth_run(&dir.0, &["build", "platform.toml", "--quiet"]);
    assert_exit(&out, 0);
    dir
}

/// The objects of `out/<path>`, or an empty list when it was not generated.
fn objects(dir: &TempDir, path: &str) -> Vec<Value> {
    match std::fs::read_to_string(dir.join("out").join(path)) {
        Ok(text) => serde_saphyr::from_multiple::<Value>(&text).unwrap(),
        Err(_) => Vec::new(),
    }
}

/// The objects of `kind` in `out/<path>`.
fn of_kind(dir: &TempDir, path: &str, kind: &str) -> Vec<Value> {
    objects(dir, path)
        .into_iter()
        .filter(|o| o["kind"] == kind)
        .collect()
}

/// The one object of `kind` in `out/<path>`.
fn one(dir: &TempDir, path: &str, kind: &str) -> Value {
    let mut found = of_kind(dir, path, kind);
    assert_eq!(found.len(), 1, "{kind} in {path}");
    found.remove(0)
}

/// An AuthorizationPolicy's rules as (principals, ports) pairs.
fn rules(policy: &Value) -> Vec<(BTreeSet<String>, BTreeSet<String>)> {
    let strings = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    policy["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                strings(&r["from"][0]["source"]["principals"]),
                strings(&r["to"][0]["operation"]["ports"]),
            )
        })
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn services_require_mutual_tls_and_admit_exactly_their_dependents() {
    let dir = build("mesh-graph", &spec("", ""));
    let pa = one(&dir, "k8s/production/namespace.yaml", "PeerAuthentication");
    assert_eq!(pa["metadata"]["name"], "default");
    assert_eq!(pa["spec"]["mtls"]["mode"], "STRICT");

    let principal = |sa: &str| format!("cluster.local/ns/shop/sa/{sa}");
    // `api` is called by `web` and `worker`, on its one port.
    let api = one(&dir, "k8s/production/api.yaml", "AuthorizationPolicy");
    assert_eq!(api["spec"]["action"], "ALLOW");
    assert_eq!(
        api["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "api"
    );
    assert_eq!(
        rules(&api),
        [(
            set([&principal("web"), &principal("worker")]),
            set(["9000"])
        )]
    );
    // `web` is called by nobody but the gateway, whose proxies run as `<gateway>-istio`.
    let web = one(&dir, "k8s/production/web.yaml", "AuthorizationPolicy");
    assert_eq!(
        rules(&web),
        [(set([&principal("shop-istio")]), set(["8080"]))]
    );
    // The worker serves nothing, and the store stays outside the mesh.
    assert!(of_kind(&dir, "k8s/production/worker.yaml", "AuthorizationPolicy").is_empty());
    assert!(of_kind(&dir, "k8s/production/cache.yaml", "AuthorizationPolicy").is_empty());

    // Only the services' pods ask for a sidecar.
    let inject = |path: &str, kind: &str| {
        one(&dir, path, kind)["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"]
            .clone()
    };
    assert_eq!(inject("k8s/production/api.yaml", "Deployment"), "true");
    assert_eq!(inject("k8s/production/worker.yaml", "Deployment"), "true");
    assert_eq!(
        inject("k8s/production/cache.yaml", "StatefulSet"),
        Value::Null
    );
}

#[test]
fn traffic_becomes_the_callers_destination_rule_and_virtual_service() {
    let dir = build("mesh-traffic", &spec("", TRAFFIC));
    let dr = one(&dir, "k8s/production/api.yaml", "DestinationRule");
    assert_eq!(dr["spec"]["host"], "api.shop.svc.cluster.local");
    let policy = &dr["spec"]["trafficPolicy"];
    // The seeds' numbers: five consecutive errors, thirty seconds' ejection.
    assert_eq!(policy["outlierDetection"]["consecutive5xxErrors"], 5);
    assert_eq!(policy["outlierDetection"]["baseEjectionTime"], "30s");
    assert_eq!(policy["outlierDetection"]["interval"], "10s");
    assert_eq!(policy["outlierDetection"]["maxEjectionPercent"], 100);
    assert_eq!(policy["connectionPool"]["tcp"]["maxConnections"], 100);
    assert_eq!(
        policy["connectionPool"]["http"]["http1MaxPendingRequests"],
        50
    );
    // No TLS settings: Istio's automatic mutual TLS stays in force.
    assert_eq!(policy["tls"], Value::Null);

    let vs = one(&dir, "k8s/production/api.yaml", "VirtualService");
    assert_eq!(vs["spec"]["hosts"][0], "api.shop.svc.cluster.local");
    let route = &vs["spec"]["http"][0];
    assert_eq!(
        route["route"][0]["destination"]["host"],
        "api.shop.svc.cluster.local"
    );
    assert_eq!(route["timeout"], "10s");
    assert_eq!(route["retries"]["attempts"], 3);
    assert_eq!(route["retries"]["perTryTimeout"], "3s");
    // Services without `traffic` get neither.
    assert!(of_kind(&dir, "k8s/production/web.yaml", "DestinationRule").is_empty());
    assert!(of_kind(&dir, "k8s/production/web.yaml", "VirtualService").is_empty());
}

#[test]
fn metrics_and_the_edge_keep_working_under_strict_mutual_tls() {
    let dir = build("mesh-edge", &spec("", ""));
    // Prometheus scrapes the sidecar agent's merged metrics, in plain text on 15020.
    let monitor = one(&dir, "k8s/production/web.yaml", "ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "merged-metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/stats/prometheus");
    let service = one(&dir, "k8s/production/web.yaml", "Service");
    let ports: Vec<(String, i64)> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["port"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            ("http".to_owned(), 8080),
            ("merged-metrics".to_owned(), 15020)
        ]
    );
    // The pod still names its own metrics endpoint, which the agent merges.
    let pod = &one(&dir, "k8s/production/web.yaml", "Deployment")["spec"]["template"];
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "8080");

    // The edge: Istio's gateway, in the namespace, admitted by its pods' labels.
    let gw = one(&dir, "k8s/production/gateway.yaml", "Gateway");
    assert_eq!(gw["spec"]["gatewayClassName"], "istio");
    assert_eq!(
        gw["spec"]["infrastructure"]["annotations"]
            ["service.beta.kubernetes.io/aws-load-balancer-type"],
        "nlb"
    );
    assert!(of_kind(&dir, "k8s/production/gateway.yaml", "GatewayClass").is_empty());
    let route = one(&dir, "k8s/production/web.yaml", "HTTPRoute");
    assert_eq!(route["spec"]["hostnames"][0], "www.shop.example.com");
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][0]["name"], "web");
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][0]["port"], 8080);
    let policy = one(&dir, "k8s/production/web.yaml", "NetworkPolicy");
    let from = &policy["spec"]["ingress"];
    assert!(
        from.as_array()
            .unwrap()
            .iter()
            .any(|r| r["from"][0]["podSelector"]["matchLabels"]
                ["gateway.networking.k8s.io/gateway-name"]
                == "shop"),
        "{from}"
    );
    let proxies = one(&dir, "k8s/production/gateway.yaml", "NetworkPolicy");
    assert_eq!(
        proxies["spec"]["podSelector"]["matchLabels"]["gateway.networking.k8s.io/gateway-name"],
        "shop"
    );
}

#[test]
fn terraform_installs_istio_before_the_platform() {
    let dir = build("mesh-addons", &spec("", ""));
    let addons = std::fs::read_to_string(dir.join("out/terraform/production/addons.tf")).unwrap();
    for chart in ["\"base\"", "\"cni\"", "\"istiod\"", "\"gateway-crds-helm\""] {
        assert!(addons.contains(chart), "{chart} missing:\n{addons}");
    }
    assert!(!addons.contains("\"gateway-helm\""), "{addons}");
    let at = |needle: &str| addons.find(needle).unwrap_or_else(|| panic!("{needle}"));
    // The CRDs and the CNI agent before istiod, istiod before the platform chart.
    assert!(
        at("resource \"helm_release\" \"istio_base\"") < at("resource \"helm_release\" \"istiod\"")
    );
    assert!(
        at("resource \"helm_release\" \"istio_cni\"") < at("resource \"helm_release\" \"istiod\"")
    );
    let values =
        std::fs::read_to_string(dir.join("out/helm/values-istiod-production.yaml")).unwrap();
    assert!(values.contains("cni:\n  enabled: true"), "{values}");
    assert!(values.contains("enablePrometheusMerge: true"), "{values}");
}

#[test]
fn the_mesh_needs_its_gateway_and_traffic_needs_the_mesh() {
    let dir = TempDir::new("mesh-errors");
    std::fs::write(dir.join("platform.toml"), spec("gateway = \"envoy\"", "")).unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert!(
        codes(&out).contains(&"E212".to_owned()),
        "{:?}",
        codes(&out)
    );

    let no_mesh = spec("", TRAFFIC).replace("mesh = \"istio\"\n", "");
    std::fs::write(dir.join("platform.toml"), no_mesh).unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(
        codes(&out).iter().filter(|c| c.as_str() == "E213").count(),
        1,
        "{:?}",
        codes(&out)
    );

    // A local environment runs on Compose, which has no mesh: a warning, and a note.
    let local = spec("", TRAFFIC).replace(
        "[environments.production]",
        "[environments.dev]\nlocal = true\n\n[environments.production]",
    );
    std::fs::write(dir.join("platform.toml"), &local).unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert!(
        codes(&out).contains(&"W020".to_owned()),
        "{:?}",
        codes(&out)
    );
    let out = plinth_run(
        &dir.0,
        &[
            "build",
            "platform.toml",
            "--env",
            "dev",
            "--target",
            "compose",
        ],
    );
    assert_exit(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the Istio mesh is not modelled locally"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_canary_in_the_mesh_is_routed_by_istios_gateway() {
    let text = spec("", "").replace(
        "ingress = { host = \"www.{domain}\" }",
        "ingress = { host = \"www.{domain}\" }\nrollout = { strategy = \"canary\" }",
    );
    // The build runs the proof: the Rollout's pods keep their policies (P018, P014).
    let dir = build("mesh-canary", &text);
    let route = one(&dir, "k8s/production/web.yaml", "HTTPRoute");
    let backends: Vec<(String, i64)> = route["spec"]["rules"][0]["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["weight"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        backends,
        [("web".to_owned(), 100), ("web-canary".to_owned(), 0)]
    );
    let rollout = one(&dir, "k8s/production/web.yaml", "Rollout");
    assert_eq!(
        rollout["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"],
        "true"
    );
    assert_eq!(
        one(&dir, "k8s/production/web.yaml", "AuthorizationPolicy")["spec"]["selector"]
            ["matchLabels"]["app.kubernetes.io/name"],
        "web"
    );
    // The plugin patches HTTPRoutes, whose CRDs come from the CRD chart here.
    let addons = std::fs::read_to_string(dir.join("out/terraform/production/addons.tf")).unwrap();
    let argo = &addons[addons
        .find("resource \"helm_release\" \"argo_rollouts\"")
        .unwrap()..];
    let depends = &argo[argo.find("depends_on").unwrap()..];
    let depends = &depends[..depends.find('\n').unwrap()];
    assert!(
        depends.contains("helm_release.gateway_api_crds"),
        "{depends}"
    );
}

/// Every meshed pod sizes its sidecar through the injector's annotations, and the sidecars
/// and Istio's gateway proxy count against the namespace's quota: with Istio's defaults (2
/// CPU per sidecar) a quota sized for the applications admitted a handful of pods, and the
/// build summary said nothing.
#[test]
fn sidecars_are_sized_and_count_against_the_quota() {
    let dir = build("mesh-sidecars", &spec("", ""));
    let web = one(&dir, "k8s/production/web.yaml", "Deployment");
    let annotations = &web["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["sidecar.istio.io/proxyCPU"], "100m");
    assert_eq!(annotations["sidecar.istio.io/proxyCPULimit"], "500m");
    assert_eq!(annotations["sidecar.istio.io/proxyMemory"], "128Mi");
    assert_eq!(annotations["sidecar.istio.io/proxyMemoryLimit"], "256Mi");
    let cache = one(&dir, "k8s/production/cache.yaml", "StatefulSet");
    assert!(
        cache["spec"]["template"]["metadata"]["annotations"]
            .get("sidecar.istio.io/proxyCPU")
            .is_none(),
        "data stores stay outside the mesh"
    );

    // The pods' own limits (five services' pods and the cache, at the default 0.5 CPU)
    // fit in 6 CPU; with the services' sidecars (5 x 0.5) and the gateway's proxy (2)
    // they do not.
    let text = spec("", "").replace(
        "[environments.production]\n",
        "[environments.production]\nquota = { cpu = \"6\" }\n",
    );
    let dir = TempDir::new("mesh-quota");
    std::fs::write(dir.join("platform.toml"), &text).unwrap();
    let out = plinth_run(&dir.0, &["build", "platform.toml", "--target", "k8s"]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("production: at their maximum scale the workloads need"),
        "{stderr}"
    );
}
