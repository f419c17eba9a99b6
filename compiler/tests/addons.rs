//! The cluster add-ons of the Terraform target (`addons.tf`): each operator or controller is
//! installed exactly when a generated object needs it, and the platform chart's release waits
//! for it. The generated files are parsed back with hcl-rs.

use hcl::{Block, Body, Expression};
use plinth::emit::Target;
use serde_json::Value;

/// A cloud environment with one service; `service` is appended to its table and `extra` to
/// the spec.
fn spec(service: &str, extra: &str) -> String {
    format!(
        r#"version = 1
[platform]
name = "shop"
domain = "shop.example.com"
owner = "ops@shop.example.com"

[services.web]
image = "ghcr.io/shop/web:2.0.0"
ports = [{{ name = "http", port = 8080 }}]
probes.readiness = {{ path = "/ready", port = "http" }}
probes.liveness = {{ path = "/health", port = "http" }}
{service}

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
{extra}
"#
    )
}

/// The compilation of `text` for the Terraform target; it must have no errors.
fn compile(text: &str) -> plinth::Compilation {
    let options = plinth::Options {
        targets: vec![Target::Terraform, Target::Helm],
        envs: vec![],
        lenient: false,
    };
    let c = plinth::compile("platform.toml", text, &options);
    assert!(
        !c.diagnostics.has_errors(),
        "the spec should compile: {:?}",
        c.diagnostics
    );
    c
}

/// `terraform/production/<name>` parsed, or `None` when it was not generated.
fn file(c: &plinth::Compilation, name: &str) -> Option<Body> {
    let path = format!("terraform/production/{name}");
    c.files
        .iter()
        .find(|f| f.path == path)
        .map(|f| hcl::parse(&f.contents).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// The labels of the `helm_release` resources of `addons.tf`.
fn releases(c: &plinth::Compilation) -> Vec<String> {
    let Some(body) = file(c, "addons.tf") else {
        return Vec::new();
    };
    body.blocks()
        .filter(|b| b.identifier() == "resource" && b.labels()[0].as_str() == "helm_release")
        .map(|b| b.labels()[1].as_str().to_owned())
        .collect()
}

/// The `depends_on` of the platform chart's release, as text.
fn platform_depends_on(c: &plinth::Compilation) -> Vec<String> {
    let helm = file(c, "helm.tf").expect("helm.tf");
    let platform = find(&helm, &["helm_release", "platform"]);
    match attr(platform, "depends_on") {
        Expression::Array(items) => items.iter().map(|e| e.to_string()).collect(),
        other => panic!("depends_on is not a list: {other:?}"),
    }
}

fn find<'a>(body: &'a Body, labels: &[&str]) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.labels()
                .iter()
                .map(|l| l.as_str())
                .eq(labels.iter().copied())
        })
        .unwrap_or_else(|| panic!("no block {labels:?}"))
}

fn attr<'a>(block: &'a Block, key: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("{:?} has no `{key}`", block.labels()))
}

/// The add-on values file the Helm target writes for `chart`, parsed; the add-on's release
/// must install from exactly that file.
fn values(c: &plinth::Compilation, id: &str, chart: &str) -> Value {
    let path = format!("helm/values-{chart}-production.yaml");
    let addons = file(c, "addons.tf").expect("addons.tf");
    let release = find(&addons, &["helm_release", id]);
    let from = attr(release, "values").to_string();
    assert!(
        from.contains(&format!("file(\"${{path.module}}/../../{path}\")")),
        "{id} installs from {from}"
    );
    let f = c
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no {path}"));
    serde_saphyr::from_str(&f.contents).unwrap()
}

fn notes(c: &plinth::Compilation) -> Vec<String> {
    c.notes.iter().map(|n| n.message.clone()).collect()
}

#[test]
fn a_service_without_autoscaling_ingress_or_secrets_gets_no_add_ons() {
    let c = compile(&spec("replicas = 2", ""));
    assert!(file(&c, "addons.tf").is_none(), "no add-on is needed");
    let deps = platform_depends_on(&c);
    assert!(
        !deps.iter().any(|d| d.starts_with("helm_release.")),
        "{deps:?}"
    );
}

#[test]
fn an_hpa_needs_metrics_server_before_the_platform() {
    let c = compile(&spec("autoscaling = { min = 2, max = 5, cpu = 70 }", ""));
    assert_eq!(releases(&c), ["metrics_server"]);
    let addons = file(&c, "addons.tf").unwrap();
    let ms = find(&addons, &["helm_release", "metrics_server"]);
    assert_eq!(attr(ms, "namespace").to_string(), "\"kube-system\"");
    assert!(platform_depends_on(&c).contains(&"helm_release.metrics_server".to_owned()));
}

#[test]
fn a_recommending_vpa_installs_only_the_recommender() {
    let c = compile(&spec("replicas = 2\nvertical_autoscaling = \"off\"", ""));
    assert_eq!(releases(&c), ["metrics_server", "vpa"]);
    let v = values(&c, "vpa", "vpa");
    assert_eq!(v["recommender"]["enabled"], true);
    assert_eq!(v["updater"]["enabled"], false);
    assert_eq!(v["admissionController"]["enabled"], false);
    assert_eq!(v["metrics-server"]["enabled"], false);
    let c = compile(&spec("replicas = 2\nvertical_autoscaling = \"auto\"", ""));
    assert_eq!(values(&c, "vpa", "vpa")["updater"]["enabled"], true);
}

#[test]
fn a_custom_pod_metric_is_served_by_prometheus_adapter_from_its_counter() {
    let c = compile(&spec(
        "autoscaling = { min = 2, max = 5, metrics = [{ name = \"http_requests_per_second\", target = 100 }] }",
        "",
    ));
    assert_eq!(releases(&c), ["metrics_server", "prometheus_adapter"]);
    let v = values(&c, "prometheus_adapter", "prometheus-adapter");
    assert_eq!(
        v["prometheus"]["url"],
        "http://kube-prometheus-stack-prometheus.monitoring.svc"
    );
    assert_eq!(v["rules"]["default"], false);
    let rule = &v["rules"]["custom"][0];
    assert_eq!(
        rule["seriesQuery"],
        r#"http_requests_total{namespace!="",pod!=""}"#
    );
    assert_eq!(rule["name"]["as"], "http_requests_per_second");
    assert!(rule["metricsQuery"]
        .as_str()
        .unwrap()
        .starts_with("sum(rate(<<.Series>>"));
    let addons = file(&c, "addons.tf").unwrap();
    let adapter = find(&addons, &["helm_release", "prometheus_adapter"]);
    assert!(attr(adapter, "depends_on")
        .to_string()
        .contains("helm_release.kube_prometheus_stack"));
}

#[test]
fn a_chosen_tls_ingress_installs_cert_manager_and_traefik() {
    let c = compile(
        &spec("replicas = 2\ningress = { host = \"www.{domain}\" }", "").replace(
            "domain = \"shop.example.com\"",
            "domain = \"shop.example.com\"\ngateway = \"ingress\"",
        ),
    );
    assert_eq!(releases(&c), ["cert_manager", "ingress_controller"]);
    let addons = file(&c, "addons.tf").unwrap();
    let cm = find(&addons, &["helm_release", "cert_manager"]);
    assert_eq!(
        attr(cm, "repository").to_string(),
        "\"oci://quay.io/jetstack/charts\""
    );
    let traefik = values(&c, "ingress_controller", "traefik");
    assert_eq!(traefik["ingressClass"]["name"], "traefik");
    assert_eq!(traefik["ingressClass"]["isDefaultClass"], false);
    assert_eq!(
        values(&c, "cert_manager", "cert-manager")["crds"]["enabled"],
        true
    );
    let deps = platform_depends_on(&c);
    assert!(deps.contains(&"helm_release.cert_manager".to_owned()));
    assert!(deps.contains(&"helm_release.ingress_controller".to_owned()));
}

/// With Prometheus in the environment, cert-manager's chart makes its ServiceMonitor (off by
/// default), so the `certmanager_*` series a rule on certificate expiry reads are scraped,
/// and the release waits for kube-prometheus-stack, which installs the ServiceMonitor CRD.
#[test]
fn cert_manager_is_scraped_where_prometheus_runs() {
    let tls = "replicas = 2\ningress = { host = \"www.{domain}\" }";
    let gateway = |text: String| {
        text.replace(
            "domain = \"shop.example.com\"",
            "domain = \"shop.example.com\"\ngateway = \"ingress\"",
        )
    };
    let c = compile(&gateway(spec(
        &format!("{tls}\nmetrics = {{ path = \"/metrics\", port = \"http\" }}"),
        "",
    )));
    let v = values(&c, "cert_manager", "cert-manager");
    assert_eq!(v["prometheus"]["servicemonitor"]["enabled"], true);
    assert!(
        v["prometheus"].get("podmonitor").is_none(),
        "one or the other"
    );
    let addons = file(&c, "addons.tf").unwrap();
    let cm = find(&addons, &["helm_release", "cert_manager"]);
    assert!(attr(cm, "depends_on")
        .to_string()
        .contains("helm_release.kube_prometheus_stack"));

    // Without Prometheus there is nothing to scrape it, nor the CRD.
    let c = compile(&gateway(spec(tls, "")));
    assert!(values(&c, "cert_manager", "cert-manager")
        .get("prometheus")
        .is_none());
}

#[test]
fn a_class_the_spec_names_is_a_prerequisite_not_an_install() {
    let text = spec("replicas = 2\ningress = { host = \"www.{domain}\", tls = false }", "")
        .replace(
            "domain = \"shop.example.com\"",
            "domain = \"shop.example.com\"\ningress_class = \"haproxy\"\ningress_namespace = \"haproxy\"",
        );
    let c = compile(&text);
    assert!(releases(&c).is_empty(), "{:?}", releases(&c));
    assert!(
        notes(&c)
            .iter()
            .any(|n| n.contains("prerequisite") && n.contains("`haproxy`")),
        "{:?}",
        notes(&c)
    );
}

#[test]
fn a_secret_reference_installs_external_secrets_scoped_to_the_environment() {
    let c = compile(&spec(
        "replicas = 2\nsecrets = { API_KEY = { secret = \"api\", key = \"key\" } }",
        "",
    ));
    assert_eq!(releases(&c), ["external_secrets"]);
    let addons = file(&c, "addons.tf").unwrap();
    let role = find(&addons, &["external_secrets_irsa"]);
    assert_eq!(
        attr(role, "source").to_string(),
        "\"terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts\""
    );
    let arns = attr(role, "external_secrets_secrets_manager_arns").to_string();
    assert!(arns.contains(":secret:shop/production/*\""), "{arns}");
    let trust = attr(role, "oidc_providers").to_string();
    assert!(
        trust.contains("external-secrets:external-secrets"),
        "{trust}"
    );
    let v = values(&c, "external_secrets", "external-secrets");
    assert_eq!(v["serviceAccount"]["name"], "external-secrets");
    // The role's ARN is known only to Terraform, which sets it on the release.
    let release = find(&addons, &["helm_release", "external_secrets"]);
    let set = attr(release, "set").to_string();
    assert!(set.contains("module.external_secrets_irsa.arn"), "{set}");
    assert!(
        set.contains(r#"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn"#),
        "{set}"
    );
    assert!(platform_depends_on(&c).contains(&"helm_release.external_secrets".to_owned()));
}

#[test]
fn a_receiver_credential_alone_installs_external_secrets() {
    let c = compile(&spec(
        "replicas = 2",
        "[alerting]\ndefault_receiver = \"team\"\n[alerting.receivers.team]\ntype = \"slack\"\nchannel = \"#shop\"\nwebhook_url = { secret = \"slack\", key = \"url\" }",
    ));
    assert_eq!(releases(&c), ["external_secrets"]);
}

#[test]
fn secrets_all_declared_external_need_no_external_secrets() {
    let c = compile(&spec(
        "replicas = 2\nsecrets = { API_KEY = { secret = \"api\", key = \"key\" } }",
        "[secrets.api]\nsource = \"external\"",
    ));
    assert!(releases(&c).is_empty(), "{:?}", releases(&c));
}
