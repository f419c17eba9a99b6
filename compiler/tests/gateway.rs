//! Issue 22, first step, through the real binary: an environment with a cloud exposes its
//! services through the Gateway API (a `Gateway` with listeners per host and TLS from
//! cert-manager, an `HTTPRoute` per exposed service) served by Envoy Gateway, which its
//! Terraform installs before cert-manager and the platform chart; `gateway = "ingress"` and
//! specs that configure an ingress controller keep classic Ingresses.

mod support;

use serde_json::Value;
use support::*;

/// A cloud environment with a TLS service `web` (two ports, exposed on the second) and a
/// plain-HTTP service `docs` on another host; `platform` is appended to `[platform]`.
fn spec(platform: &str) -> String {
    format!(
        r#"version = 1
[platform]
name = "shop"
domain = "shop.example.com"
owner = "ops@shop.example.com"
{platform}

[services.web]
image = "ghcr.io/shop/web:2.0.0"
replicas = 2
ports = [{{ name = "admin", port = 9000 }}, {{ name = "http", port = 8080 }}]
probes.readiness = {{ path = "/ready", port = "http" }}
probes.liveness = {{ path = "/health", port = "http" }}
ingress = {{ host = "www.{{domain}}", path = "/shop", port = "http" }}

[services.docs]
image = "ghcr.io/shop/docs:1.0.0"
replicas = 2
ports = [{{ name = "http", port = 3000 }}]
probes.readiness = {{ path = "/", port = "http" }}
probes.liveness = {{ path = "/", port = "http" }}
ingress = {{ host = "docs.{{domain}}", tls = false }}

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

/// The one object of `kind` in `out/<path>`.
fn one(dir: &TempDir, path: &str, kind: &str) -> Value {
    let mut found: Vec<Value> = objects(dir, path)
        .into_iter()
        .filter(|o| o["kind"] == kind)
        .collect();
    assert_eq!(found.len(), 1, "{kind} in {path}");
    found.remove(0)
}

/// A Gateway listener: name, hostname, port, protocol and certificate Secret.
type Listener = (String, Option<String>, i64, String, Option<String>);

/// The text of `out/<path>`.
fn text(dir: &TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.join("out").join(path)).unwrap_or_default()
}

#[test]
fn a_cloud_environment_routes_through_an_envoy_gateway_with_tls_listeners() {
    let dir = build("gateway-default", &spec(""));
    let class = one(&dir, "k8s/production/gateway.yaml", "GatewayClass");
    assert_eq!(
        class["spec"]["controllerName"],
        "gateway.envoyproxy.io/gatewayclass-controller"
    );
    let gw = one(&dir, "k8s/production/gateway.yaml", "Gateway");
    assert_eq!(gw["spec"]["gatewayClassName"], class["metadata"]["name"]);
    assert_eq!(gw["metadata"]["namespace"], "shop");
    assert_eq!(
        gw["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
    // Envoy Gateway copies these onto the proxies' Service: a Network Load Balancer.
    assert_eq!(
        gw["spec"]["infrastructure"]["annotations"]
            ["service.beta.kubernetes.io/aws-load-balancer-type"],
        "nlb"
    );
    let listeners: Vec<Listener> = gw["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_owned(),
                l["hostname"].as_str().map(str::to_owned),
                l["port"].as_i64().unwrap(),
                l["protocol"].as_str().unwrap().to_owned(),
                l["tls"]["certificateRefs"][0]["name"]
                    .as_str()
                    .map(str::to_owned),
            )
        })
        .collect();
    let l = |name: &str, host: Option<&str>, port, protocol: &str, secret: Option<&str>| {
        (
            name.to_owned(),
            host.map(str::to_owned),
            port,
            protocol.to_owned(),
            secret.map(str::to_owned),
        )
    };
    // One HTTP listener for every host (the Gateway API allows 64 listeners in all), an
    // HTTPS listener per TLS host with its certificate's Secret.
    assert_eq!(
        listeners,
        [
            l("http", None, 80, "HTTP", None),
            l(
                "https-www-shop-example-com",
                Some("www.shop.example.com"),
                443,
                "HTTPS",
                Some("www-shop-example-com-tls")
            ),
        ]
    );
    // No Ingress any more: an HTTPRoute per exposed service, to its Service's port number.
    assert!(!text(&dir, "k8s/production/web.yaml").contains("kind: Ingress\n"));
    let route = one(&dir, "k8s/production/web.yaml", "HTTPRoute");
    assert_eq!(
        route["spec"]["parentRefs"][0]["name"],
        gw["metadata"]["name"]
    );
    assert_eq!(route["spec"]["hostnames"][0], "www.shop.example.com");
    // A TLS host's route is served on its HTTPS listener; plain HTTP to the host is
    // redirected there, by a route on the HTTP listener.
    assert_eq!(
        route["spec"]["parentRefs"][0]["sectionName"],
        "https-www-shop-example-com"
    );
    let redirects: Vec<Value> = objects(&dir, "k8s/production/gateway.yaml")
        .into_iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .collect();
    assert_eq!(redirects.len(), 1, "{redirects:?}");
    let redirect = &redirects[0]["spec"];
    assert_eq!(redirect["parentRefs"][0]["sectionName"], "http");
    assert_eq!(redirect["hostnames"][0], "www.shop.example.com");
    assert_eq!(
        redirect["rules"][0]["filters"][0],
        serde_json::json!({
            "type": "RequestRedirect",
            "requestRedirect": { "scheme": "https", "statusCode": 301 }
        })
    );
    assert!(redirect["rules"][0].get("backendRefs").is_none());
    let rule = &route["spec"]["rules"][0];
    assert_eq!(rule["matches"][0]["path"]["type"], "PathPrefix");
    assert_eq!(rule["matches"][0]["path"]["value"], "/shop");
    assert_eq!(rule["backendRefs"][0]["name"], "web");
    assert_eq!(rule["backendRefs"][0]["port"], 8080);
    let docs = one(&dir, "k8s/production/docs.yaml", "HTTPRoute");
    // A plain-HTTP host is served on the shared HTTP listener, without a redirect.
    assert_eq!(docs["spec"]["parentRefs"][0]["sectionName"], "http");
    assert_eq!(docs["spec"]["rules"][0]["backendRefs"][0]["port"], 3000);
    // The workload admits Envoy Gateway's proxies to the routed port, and no longer Traefik.
    let policy = one(&dir, "k8s/production/web.yaml", "NetworkPolicy");
    let admitted = policy["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                == "envoy-gateway-system"
        })
        .expect("a rule for the gateway's namespace");
    assert_eq!(admitted["ports"][0]["port"], 8080);
    assert!(!text(&dir, "k8s/production/web.yaml").contains("traefik"));
    // cert-manager answers HTTP-01 through the Gateway.
    let issuer = one(&dir, "k8s/production/cluster-issuer.yaml", "ClusterIssuer");
    let parent =
        &issuer["spec"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0];
    assert_eq!(parent["kind"], "Gateway");
    assert_eq!(parent["name"], gw["metadata"]["name"]);
    assert_eq!(parent["namespace"], "shop");
}

#[test]
fn envoy_gateway_is_installed_before_cert_manager_and_the_platform() {
    let dir = build("gateway-release", &spec(""));
    let addons = hcl::parse(&text(&dir, "terraform/production/addons.tf")).unwrap();
    let release = |id: &str| {
        addons
            .blocks()
            .find(|b| b.labels().len() == 2 && b.labels()[1].as_str() == id)
            .unwrap_or_else(|| panic!("no helm_release.{id}"))
            .body()
            .clone()
    };
    let attr = |body: &hcl::Body, key: &str| {
        body.attributes()
            .find(|a| a.key() == key)
            .map(|a| a.expr().to_string())
            .unwrap_or_default()
    };
    let envoy = release("envoy_gateway");
    assert_eq!(attr(&envoy, "repository"), "\"oci://docker.io/envoyproxy\"");
    assert_eq!(attr(&envoy, "chart"), "\"gateway-helm\"");
    assert_eq!(attr(&envoy, "version"), "\"v1.9.0\"");
    assert_eq!(attr(&envoy, "namespace"), "\"envoy-gateway-system\"");
    assert!(attr(&release("cert_manager"), "depends_on").contains("helm_release.envoy_gateway"));
    assert!(
        !addons
            .blocks()
            .any(|b| b.labels().len() == 2 && b.labels()[1].as_str() == "ingress_controller"),
        "no Traefik with the Gateway API"
    );
    let helm = hcl::parse(&text(&dir, "terraform/production/helm.tf")).unwrap();
    let platform = helm
        .blocks()
        .find(|b| b.labels().len() == 2 && b.labels()[1].as_str() == "platform")
        .unwrap();
    assert!(attr(platform.body(), "depends_on").contains("helm_release.envoy_gateway"));
    // The values: the chart owns the Gateway API CRDs; cert-manager watches Gateways.
    let values: Value =
        serde_saphyr::from_str(&text(&dir, "helm/values-gateway-helm-production.yaml")).unwrap();
    assert_eq!(values["crds"]["enabled"], true);
    let cm: Value =
        serde_saphyr::from_str(&text(&dir, "helm/values-cert-manager-production.yaml")).unwrap();
    assert_eq!(cm["config"]["kind"], "ControllerConfiguration");
    assert_eq!(cm["config"]["gatewayAPI"]["enabled"], true);
}

#[test]
fn ingress_stays_when_chosen_or_when_the_spec_names_an_ingress_class() {
    for (name, platform) in [
        ("gateway-ingress", "gateway = \"ingress\""),
        ("gateway-class", "ingress_class = \"traefik\""),
    ] {
        let dir = build(name, &spec(platform));
        let ingress = one(&dir, "k8s/production/web.yaml", "Ingress");
        assert_eq!(ingress["spec"]["ingressClassName"], "traefik", "{name}");
        assert!(
            objects(&dir, "k8s/production/gateway.yaml").is_empty(),
            "{name}"
        );
        assert!(
            !text(&dir, "k8s/production/web.yaml").contains("HTTPRoute"),
            "{name}"
        );
        let addons = text(&dir, "terraform/production/addons.tf");
        assert!(addons.contains("\"traefik\""), "{name}");
        assert!(!addons.contains("gateway-helm"), "{name}");
    }
}

#[test]
fn istio_serves_the_gateway_without_a_mesh() {
    let dir = build("gateway-istio", &spec("gateway = \"istio\""));
    // istiod creates and serves the class `istio` itself, and deploys the proxies.
    let gw = one(&dir, "k8s/production/gateway.yaml", "Gateway");
    assert_eq!(gw["spec"]["gatewayClassName"], "istio");
    assert!(objects(&dir, "k8s/production/gateway.yaml")
        .iter()
        .all(|o| o["kind"] != "GatewayClass"));
    let addons = text(&dir, "terraform/production/addons.tf");
    for chart in ["\"gateway-crds-helm\"", "\"base\"", "\"istiod\""] {
        assert!(addons.contains(chart), "{chart}");
    }
    // istiod deploys the proxies into the Gateway's namespace, which enforces Pod Security
    // `restricted`; that profile refuses a pod without a seccomp profile, and istiod's gateway
    // template sets one only when `gateways.seccompProfile` is given.
    let namespace = one(&dir, "k8s/production/namespace.yaml", "Namespace");
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert_eq!(
        gw["metadata"]["namespace"], namespace["metadata"]["name"],
        "the proxies run in the Gateway's namespace"
    );
    let values = objects(&dir, "helm/values-istiod-production.yaml");
    assert_eq!(
        values[0]["gateways"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    // No mesh: no sidecars, no CNI agent, no mesh policies.
    assert!(!addons.contains("\"cni\""));
    assert!(!text(&dir, "k8s/production/web.yaml").contains("sidecar.istio.io/inject"));
    assert!(!text(&dir, "k8s/production/namespace.yaml").contains("PeerAuthentication"));
}

#[test]
fn ingress_keys_conflict_with_the_gateway() {
    let dir = TempDir::new("gateway-errors");
    std::fs::write(
        dir.join("platform.toml"),
        spec("gateway = \"envoy\"\ningress_class = \"nginx\""),
    )
    .unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert!(
        codes(&out).contains(&"E203".to_owned()),
        "{:?}",
        codes(&out)
    );
}

#[test]
fn compose_keeps_traefik_and_says_it_does_not_model_the_gateway() {
    let text = r#"version = 1
[platform]
name = "shop"
domain = "shop.localhost"
gateway = "envoy"

[services.web]
image = "ghcr.io/shop/web:2.0.0"
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
ingress = { host = "www.{domain}", tls = false }

[environments.dev]
local = true
"#;
    let dir = TempDir::new("gateway-compose");
    std::fs::write(dir.join("platform.toml"), text).unwrap();
    let out = plinth_run(&dir.0, &["build", "platform.toml"]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the Gateway API is not modelled locally"),
        "{stderr}"
    );
    // The cluster output of the same environment has the Gateway, chosen explicitly.
    one(&dir, "k8s/dev/gateway.yaml", "Gateway");
    one(&dir, "k8s/dev/web.yaml", "HTTPRoute");
    assert!(text_of_compose(&dir).contains("traefik.http.routers.web.rule"));
}

/// The Compose file of the build in `dir`.
fn text_of_compose(dir: &TempDir) -> String {
    let compose = std::fs::read_dir(dir.join("out/compose"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .expect("a Compose file");
    std::fs::read_to_string(compose).unwrap()
}

/// The spec of `spec("")` with `n` more TLS services `s0`, `s1`… on hosts of their own.
fn with_tls_hosts(n: usize) -> String {
    let mut text = spec("");
    for i in 0..n {
        text.push_str(&format!(
            "\n[services.s{i}]\nimage = \"ghcr.io/shop/s:1.0.0\"\nreplicas = 2\n\
             ports = [{{ name = \"http\", port = 8080 }}]\n\
             probes.readiness = {{ path = \"/\", port = \"http\" }}\n\
             probes.liveness = {{ path = \"/\", port = \"http\" }}\n\
             ingress = {{ host = \"s{i}.{{domain}}\" }}\n"
        ));
    }
    text
}

#[test]
fn a_gateway_holds_at_most_63_tls_hosts() {
    // `www` and 62 more TLS hosts fill the Gateway: 64 listeners with the HTTP one.
    let dir = build("gateway-63-hosts", &with_tls_hosts(62));
    let gw = one(&dir, "k8s/production/gateway.yaml", "Gateway");
    assert_eq!(gw["spec"]["listeners"].as_array().unwrap().len(), 64);
    // One more is E210, at the first host beyond the limit in host order.
    let dir = TempDir::new("gateway-64-hosts");
    std::fs::write(dir.join("platform.toml"), with_tls_hosts(63)).unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    let errors: Vec<String> = codes(&out)
        .into_iter()
        .filter(|c| c.starts_with('E'))
        .collect();
    assert_eq!(errors, ["E210"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("`www.shop.example.com` is the first beyond"),
        "{stdout}"
    );
    // Classic Ingresses have no such limit.
    std::fs::write(
        dir.join("platform.toml"),
        with_tls_hosts(63).replacen("[platform]\n", "[platform]\ngateway = \"ingress\"\n", 1),
    )
    .unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 0);
}

/// `spec("")` with the apex redirecting to `www` (TLS) and `documentation` to `docs`
/// (plain HTTP).
fn with_redirects(platform: &str) -> String {
    spec(platform)
        .replace(
            "port = \"http\" }\n\n[services.docs]",
            "port = \"http\", redirect_from = [\"{domain}\"] }\n\n[services.docs]",
        )
        .replace(
            "host = \"docs.{domain}\", tls = false }",
            "host = \"docs.{domain}\", tls = false, redirect_from = [\"documentation.{domain}\"] }",
        )
}

#[test]
fn redirect_hosts_lead_to_their_service_host() {
    let text = with_redirects("");
    assert!(text.contains("redirect_from = [\"{domain}\"]"), "{text}");
    assert!(text.contains("redirect_from = [\"documentation.{domain}\"]"));
    let dir = build("gateway-redirects", &text);
    let gw = one(&dir, "k8s/production/gateway.yaml", "Gateway");
    let names: Vec<&str> = gw["spec"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    // The apex redirects over HTTPS too, so it has a listener (and a certificate) of its own.
    assert_eq!(
        names,
        [
            "http",
            "https-shop-example-com",
            "https-www-shop-example-com"
        ]
    );
    let routes: Vec<Value> = objects(&dir, "k8s/production/gateway.yaml")
        .into_iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .collect();
    let route = |name: &str| {
        routes
            .iter()
            .find(|r| r["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {routes:?}"))["spec"]
            .clone()
    };
    let apex = route("shop-example-com-redirect");
    assert_eq!(apex["hostnames"], serde_json::json!(["shop.example.com"]));
    assert_eq!(
        apex["parentRefs"],
        serde_json::json!([
            { "name": "shop", "sectionName": "http" },
            { "name": "shop", "sectionName": "https-shop-example-com" }
        ])
    );
    assert_eq!(
        apex["rules"][0]["filters"][0]["requestRedirect"],
        serde_json::json!({ "hostname": "www.shop.example.com", "scheme": "https", "statusCode": 301 })
    );
    // A plain-HTTP service's redirect keeps the scheme and needs no listener of its own.
    let docs = route("documentation-shop-example-com-redirect");
    assert_eq!(
        docs["parentRefs"],
        serde_json::json!([{ "name": "shop", "sectionName": "http" }])
    );
    assert_eq!(
        docs["rules"][0]["filters"][0]["requestRedirect"],
        serde_json::json!({ "hostname": "docs.shop.example.com", "statusCode": 301 })
    );
    // `www` itself still redirects plain HTTP to HTTPS.
    let www = route("www-shop-example-com-redirect");
    assert_eq!(
        www["rules"][0]["filters"][0]["requestRedirect"],
        serde_json::json!({ "scheme": "https", "statusCode": 301 })
    );
}

#[test]
fn a_redirect_host_must_be_free_and_is_only_generated_with_the_gateway_api() {
    let dir = TempDir::new("gateway-redirect-errors");
    // Redirecting a host another service is routed on is E211, at the redirect entry.
    std::fs::write(
        dir.join("platform.toml"),
        with_redirects("").replace(
            "redirect_from = [\"{domain}\"]",
            "redirect_from = [\"docs.{domain}\"]",
        ),
    )
    .unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    assert!(
        codes(&out).contains(&"E211".to_owned()),
        "{:?}",
        codes(&out)
    );
    // With classic Ingresses no redirect is generated, which W019 says.
    std::fs::write(
        dir.join("platform.toml"),
        with_redirects("gateway = \"ingress\""),
    )
    .unwrap();
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 0);
    assert_eq!(
        codes(&out).iter().filter(|c| c.as_str() == "W019").count(),
        2,
        "{:?}",
        codes(&out)
    );
}
