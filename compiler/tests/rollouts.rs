//! Issue 22, progressive delivery, through the public `compile` API (the closure proof
//! included): `rollout.strategy = "canary" | "blue-green"` makes an Argo Rollouts `Rollout`
//! in place of the Deployment, with its steps, its canary or preview Service, the HTTPRoute's
//! weighted backends when the Gateway API shifts the traffic, an `AnalysisTemplate` whose
//! queries are the service's own alert expressions (parsed with promql-parser) over the new
//! version's Service, autoscalers aimed at the Rollout, and the controller with the Gateway
//! API plugin installed by Terraform; E220, E221, E222, W025; `plinth diff` flags a change
//! of strategy as a restart.

use std::collections::BTreeMap;

use plinth::diff::{self, RiskLevel};
use serde_json::Value;

/// A cloud environment `production` and a local one `dev`, with a web service `api`
/// (exposed, metrics, error-rate and latency thresholds, autoscaled) whose `rollout` is
/// `rollout`, and a worker `jobs`; `edge` is appended to `[platform]`.
fn spec(rollout: &str, edge: &str) -> String {
    format!(
        r#"version = 1
[platform]
name = "shop"
domain = "shop.example.com"
owner = "ops@shop.example.com"
{edge}

[services.api]
image = "ghcr.io/shop/api:2.0.0"
ports = [{{ name = "http", port = 8080 }}]
autoscaling = {{ min = 2, max = 6, cpu = 70 }}
vertical_autoscaling = "off"
probes.readiness = {{ path = "/ready", port = "http" }}
probes.liveness = {{ path = "/health", port = "http" }}
ingress = {{ host = "api.{{domain}}" }}
metrics = {{ path = "/metrics", port = "http" }}
thresholds.error_rate = {{ warning = 2, critical = 5 }}
thresholds.latency_p95 = {{ warning = "300ms", critical = "1s" }}
rollout = {rollout}

[services.jobs]
kind = "worker"
image = "ghcr.io/shop/jobs:2.0.0"
replicas = 2

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

[alerting]
default_receiver = "oncall"

[alerting.receivers.oncall]
type = "webhook"
url = {{ secret = "alert-webhook", key = "url" }}
"#
    )
}

/// Compiles `text`, asserting it has no errors (the proof's findings are errors).
fn compile(text: &str) -> plinth::Compilation {
    let c = plinth::compile("platform.toml", text, &plinth::Options::default());
    assert!(
        !c.diagnostics.has_errors(),
        "{}",
        plinth::cli::render::human(&c.sources, &c.diagnostics.0, false, 100)
    );
    c
}

/// The codes of every diagnostic of `text`.
fn codes(text: &str) -> Vec<String> {
    let c = plinth::compile("platform.toml", text, &plinth::Options::default());
    c.diagnostics
        .0
        .iter()
        .map(|d| d.code.id().to_owned())
        .collect()
}

fn text<'a>(c: &'a plinth::Compilation, path: &str) -> &'a str {
    &c.files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no file {path}"))
        .contents
}

fn objects(c: &plinth::Compilation, path: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text(c, path)).unwrap()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

const CANARY: &str = r#"{ strategy = "canary", steps = [{ weight = 10, pause = "5m" }, { weight = 40, pause = "manual" }, { weight = 70 }] }"#;
const BLUE_GREEN: &str = r#"{ strategy = "blue-green" }"#;

#[test]
fn canary_on_the_gateway_api_shifts_the_routes_weights_step_by_step() {
    let c = compile(&spec(CANARY, ""));
    let objs = objects(&c, "k8s/production/api.yaml");
    assert!(
        objs.iter().all(|o| o["kind"] != "Deployment"),
        "the Rollout replaces the Deployment"
    );
    let rollout = named(&objs, "Rollout", "api");
    assert_eq!(rollout["apiVersion"], "argoproj.io/v1alpha1");
    // Under an autoscaler the Rollout has no replica count, as a Deployment would not.
    assert!(rollout["spec"].get("replicas").is_none());
    let canary = &rollout["spec"]["strategy"]["canary"];
    assert_eq!(
        canary["steps"],
        serde_json::json!([
            { "setWeight": 10 }, { "pause": { "duration": "5m" } },
            { "setWeight": 40 }, { "pause": {} },
            { "setWeight": 70 },
        ])
    );
    assert_eq!(canary["stableService"], "api");
    assert_eq!(canary["canaryService"], "api-canary");
    assert_eq!(
        canary["trafficRouting"]["plugins"]["argoproj-labs/gatewayAPI"]["httpRoute"],
        "api"
    );
    assert_eq!(canary["analysis"]["templates"][0]["templateName"], "api");
    // Both Services select the Rollout's pods; Argo Rollouts narrows them during an update.
    let selector = &rollout["spec"]["selector"]["matchLabels"];
    for name in ["api", "api-canary"] {
        assert_eq!(&named(&objs, "Service", name)["spec"]["selector"], selector);
    }
    let route = named(&objs, "HTTPRoute", "api");
    assert_eq!(
        route["spec"]["rules"][0]["backendRefs"],
        serde_json::json!([
            { "name": "api", "port": 8080, "weight": 100 },
            { "name": "api-canary", "port": 8080, "weight": 0 },
        ])
    );
    for kind in ["HorizontalPodAutoscaler", "VerticalPodAutoscaler"] {
        let o = named(&objs, kind, "api");
        let target = o["spec"]
            .get("scaleTargetRef")
            .unwrap_or(&o["spec"]["targetRef"]);
        assert_eq!(target["kind"], "Rollout", "{kind}");
        assert_eq!(target["apiVersion"], "argoproj.io/v1alpha1", "{kind}");
    }
    // The worker keeps its Deployment.
    assert!(objects(&c, "k8s/production/jobs.yaml")
        .iter()
        .any(|o| o["kind"] == "Deployment"));
}

#[test]
fn analysis_reads_the_alerts_expressions_over_the_new_versions_service() {
    for (rollout, service) in [(CANARY, "api-canary"), (BLUE_GREEN, "api-preview")] {
        let c = compile(&spec(rollout, ""));
        let objs = objects(&c, "k8s/production/api.yaml");
        let template = named(&objs, "AnalysisTemplate", "api");
        let metrics = template["spec"]["metrics"].as_array().unwrap();
        let by_name: BTreeMap<&str, &Value> = metrics
            .iter()
            .map(|m| (m["name"].as_str().unwrap(), m))
            .collect();
        assert_eq!(
            by_name.keys().copied().collect::<Vec<_>>(),
            ["error-rate", "latency-p95"]
        );
        // The alerts' own expressions, for the workload's Service.
        let rules = text(&c, "prometheus/production/rules.yaml");
        for (metric, level) in [("error-rate", "2"), ("latency-p95", "0.3")] {
            let m = by_name[metric];
            assert_eq!(
                m["successCondition"],
                format!("isNaN(result[0]) || result[0] <= {level}"),
                "{metric}: the warning level"
            );
            let prom = &m["provider"]["prometheus"];
            assert_eq!(
                prom["address"],
                "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
            );
            let query = prom["query"].as_str().unwrap();
            let parsed = promql_parser::parser::parse(query)
                .unwrap_or_else(|e| panic!("{metric}: {e}\n{query}"));
            let shown = parsed.to_string();
            assert!(
                shown.contains(&format!("service=\"{service}\"")),
                "{metric} reads {service}: {shown}"
            );
            assert!(!shown.contains("service=\"api\""), "{shown}");
            // With the workload's own Service, the query is an alert's expression.
            let inner = query
                .strip_prefix("(\n")
                .and_then(|q| q.strip_suffix("\n) or vector(0)"))
                .unwrap()
                .replace(&format!("service=\"{service}\""), "service=\"api\"");
            let alert = format!("{inner}\n> {level}");
            assert!(
                rules_exprs(rules).contains(&alert),
                "{metric}: no alert of rules.yaml is {alert}"
            );
        }
        if rollout == BLUE_GREEN {
            assert!(
                metrics.iter().all(|m| m["count"] == 5),
                "pre-promotion ends"
            );
        } else {
            assert!(
                metrics.iter().all(|m| m.get("count").is_none()),
                "background"
            );
        }
    }
}

/// Every `expr` of a rules file.
fn rules_exprs(rules: &str) -> Vec<String> {
    let v: Value = serde_saphyr::from_str(rules).unwrap();
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .filter_map(|r| r["expr"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn blue_green_waits_behind_the_preview_for_promotion() {
    let c = compile(&spec(BLUE_GREEN, ""));
    let objs = objects(&c, "k8s/production/api.yaml");
    let bg = &named(&objs, "Rollout", "api")["spec"]["strategy"]["blueGreen"];
    assert_eq!(bg["activeService"], "api");
    assert_eq!(bg["previewService"], "api-preview");
    assert_eq!(
        bg["autoPromotionEnabled"], false,
        "a promotion gate by default"
    );
    assert_eq!(bg["scaleDownDelaySeconds"], 30);
    assert_eq!(
        bg["prePromotionAnalysis"]["templates"][0]["templateName"],
        "api"
    );
    named(&objs, "Service", "api-preview");
    // The route keeps its one backend: the active Service.
    assert_eq!(
        named(&objs, "HTTPRoute", "api")["spec"]["rules"][0]["backendRefs"],
        serde_json::json!([{ "name": "api", "port": 8080 }])
    );
    let c = compile(&spec(
        r#"{ strategy = "blue-green", auto_promote = true, scale_down_delay = "2m" }"#,
        "",
    ));
    let objs = objects(&c, "k8s/production/api.yaml");
    let bg = &named(&objs, "Rollout", "api")["spec"]["strategy"]["blueGreen"];
    assert_eq!(bg["autoPromotionEnabled"], true);
    assert_eq!(bg["scaleDownDelaySeconds"], 120);
}

#[test]
fn canary_on_classic_ingress_is_replica_weighted_and_says_so() {
    let c = compile(&spec(
        r#"{ strategy = "canary" }"#,
        r#"gateway = "ingress""#,
    ));
    let objs = objects(&c, "k8s/production/api.yaml");
    let canary = &named(&objs, "Rollout", "api")["spec"]["strategy"]["canary"];
    assert!(canary.get("trafficRouting").is_none());
    assert!(
        canary.get("stableService").is_none(),
        "the Service keeps every pod"
    );
    assert_eq!(canary["canaryService"], "api-canary");
    // The default steps.
    assert_eq!(
        canary["steps"],
        serde_json::json!([
            { "setWeight": 10 }, { "pause": { "duration": "5m" } },
            { "setWeight": 50 }, { "pause": { "duration": "5m" } },
        ])
    );
    assert!(c.notes.iter().any(|n| n
        .message
        .contains("the canary of `api` has no traffic routing")));
}

#[test]
fn the_controller_and_plugin_are_installed_where_a_rollout_needs_them() {
    let c = compile(&spec(CANARY, ""));
    let tf = text(&c, "terraform/production/addons.tf");
    assert!(
        tf.contains("resource \"helm_release\" \"argo_rollouts\""),
        "{tf}"
    );
    assert!(tf.contains("version          = \"2.41.0\""));
    let values: Value =
        serde_saphyr::from_str(text(&c, "helm/values-argo-rollouts-production.yaml")).unwrap();
    assert_eq!(values["installCRDs"], true);
    let plugin = &values["controller"]["trafficRouterPlugins"][0];
    assert_eq!(plugin["name"], "argoproj-labs/gatewayAPI");
    assert_eq!(
        plugin["location"],
        "file:///plugins/rollouts-plugin-trafficrouter-gatewayapi"
    );
    assert_eq!(
        values["controller"]["initContainers"][0]["image"],
        "ghcr.io/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi:v0.15.0"
    );
    assert_eq!(values["providerRBAC"]["providers"]["gatewayAPI"], true);
    assert_eq!(values["providerRBAC"]["providers"]["istio"], false);
    assert_eq!(
        values["providerRBAC"]["additionalRules"][0]["resources"][0],
        "httproutes"
    );
    // Without a progressive workload, no controller.
    let c = compile(&spec(r#"{ max_surge = 1 }"#, ""));
    assert!(!text(&c, "terraform/production/addons.tf").contains("argo_rollouts"));
    assert!(c
        .files
        .iter()
        .all(|f| f.path != "helm/values-argo-rollouts-production.yaml"));
}

#[test]
fn helm_values_carry_the_same_strategy_and_analysis() {
    let c = compile(&spec(CANARY, ""));
    let objs = objects(&c, "k8s/production/api.yaml");
    // The environment's values file over the chart's shared one, as Helm merges them.
    let api: Value = ["helm/shop/values-production.yaml", "helm/shop/values.yaml"]
        .iter()
        .map(|p| serde_saphyr::from_str::<Value>(text(&c, p)).unwrap())
        .find_map(|v| {
            let api = &v["services"]["api"];
            api.get("rollout").is_some().then(|| api.clone())
        })
        .expect("the values carry the rollout");
    assert_eq!(
        api["rollout"]["strategy"],
        named(&objs, "Rollout", "api")["spec"]["strategy"]
    );
    assert_eq!(
        api["rollout"]["analysis"],
        named(&objs, "AnalysisTemplate", "api")["spec"]
    );
    assert_eq!(api["rollout"]["secondService"], "api-canary");
    assert!(api.get("rollingUpdate").is_none());
}

#[test]
fn check_reports_strategies_and_steps_that_cannot_work() {
    // E220: a strategy on a cron job.
    let cron = spec(CANARY, "").replace(
        "kind = \"worker\"",
        "kind = \"cron\"\nschedule = \"0 2 * * *\"\nrollout = { strategy = \"blue-green\" }",
    );
    let cron = cron.replace("replicas = 2\n\n[environments", "\n[environments");
    assert!(
        codes(&cron).contains(&"E220".to_owned()),
        "{:?}",
        codes(&cron)
    );
    // E221: steps with blue-green, auto_promote with canary.
    let c = codes(&spec(
        r#"{ strategy = "blue-green", steps = [{ weight = 10 }], max_surge = 2 }"#,
        "",
    ));
    assert_eq!(c.iter().filter(|c| *c == "E221").count(), 2, "{c:?}");
    let c = codes(&spec(r#"{ strategy = "canary", auto_promote = true }"#, ""));
    assert!(c.contains(&"E221".to_owned()), "{c:?}");
    // E222: weights not increasing, above 100.
    let c = codes(&spec(
        r#"{ strategy = "canary", steps = [{ weight = 50 }, { weight = 20 }, { weight = 120 }] }"#,
        "",
    ));
    assert_eq!(c.iter().filter(|c| *c == "E222").count(), 2, "{c:?}");
    // E132: a pause that is neither a duration nor `manual`.
    let c = codes(&spec(
        r#"{ strategy = "canary", steps = [{ weight = 10, pause = "manuel" }] }"#,
        "",
    ));
    assert!(c.contains(&"E132".to_owned()), "{c:?}");
    // W025: a strategy in the local environment, which Compose runs.
    let local = spec(CANARY, "").replace(
        "[environments.production]",
        "[environments.dev]\nlocal = true\ndomain = \"localhost\"\n\n[environments.production]",
    );
    let c = codes(&local);
    assert!(c.contains(&"W025".to_owned()), "{c:?}");
    assert!(!c.iter().any(|c| c.starts_with('E')), "{c:?}");
}

#[test]
fn diff_flags_a_change_of_strategy_as_a_restart() {
    let files = |rollout: &str| -> diff::FileSet {
        compile(&spec(rollout, ""))
            .files
            .into_iter()
            .filter(|f| f.path.starts_with("k8s/"))
            .map(|f| (f.path, f.contents))
            .collect()
    };
    let rolling = files(r#"{ max_surge = 1 }"#);
    let canary = files(CANARY);
    let blue_green = files(BLUE_GREEN);
    let restarts = |old: &diff::FileSet, new: &diff::FileSet| -> Vec<(String, String)> {
        diff::compare(old, new)
            .resources
            .iter()
            .flat_map(|r| {
                r.risks
                    .iter()
                    .filter(|k| k.level == RiskLevel::Restart)
                    .map(|k| (r.kind.clone(), k.reason.clone()))
            })
            .collect()
    };
    let r = restarts(&rolling, &canary);
    assert!(
        r.iter().any(|(kind, why)| kind == "Deployment"
            && why.contains("from a rolling update (Deployment) to progressive delivery")),
        "{r:?}"
    );
    assert!(r.iter().any(|(kind, _)| kind == "Rollout"), "{r:?}");
    let r = restarts(&canary, &blue_green);
    assert!(
        r.iter()
            .any(|(kind, why)| kind == "Rollout" && why.contains("from canary to blue-green")),
        "{r:?}"
    );
    // Steps alone are no restart.
    let other_steps = files(r#"{ strategy = "canary", steps = [{ weight = 30 }] }"#);
    assert!(restarts(&canary, &other_steps).is_empty());
}
