//! Progressive delivery by Argo Rollouts (`rollout.strategy = "canary" | "blue-green"`),
//! shared by the k8s and Helm targets: what replaces the Deployment of such a workload (the
//! `Rollout`'s strategy), the second Service Argo Rollouts steers (the canary's or the
//! preview's), and the `AnalysisTemplate` whose Prometheus queries are the workload's own
//! error-rate and latency alerts, so an update that breaches an alert level is aborted.
//!
//! The workload's own Service keeps its name and stays what its clients and its
//! ServiceMonitor use: it is the canary's stable Service (when the Gateway API shifts the
//! traffic) or the blue-green active Service. The second Service carries the workload's
//! labels, so the same ServiceMonitor scrapes the new pods through it, and their series carry
//! its name in the `service` label: the analysis reads exactly the new version.

use serde_json::{json, Value};

use super::prometheus::signals::Signal;
use super::Shared;
use crate::ir::{self, naming, Environment, Pause, Strategy, Workload};
use crate::units::format_duration;

/// API version of Argo Rollouts' objects.
pub(crate) const API_VERSION: &str = "argoproj.io/v1alpha1";

/// Name under which the Gateway API traffic router plugin is configured in the controller
/// (`controller.trafficRouterPlugins`) and referenced by a Rollout's `trafficRouting`.
pub(crate) const GATEWAY_PLUGIN: &str = "argoproj-labs/gatewayAPI";

/// How often an analysis measures: each measurement reads the alert's own rate window.
const INTERVAL: &str = "1m";

/// Measurements above the level that are tolerated: one more aborts the update. A single
/// bad minute (a cold cache, one slow dependency) does not roll back a release; two do.
const FAILURE_LIMIT: u32 = 1;

/// Measurements of a blue-green pre-promotion analysis before it passes (background
/// analyses of a canary run until the canary is promoted).
const PRE_PROMOTION_COUNT: u32 = 5;

/// Whether the canary of `w` has its traffic shifted by the Gateway API: it is exposed on
/// an environment whose edge is the Gateway API (Envoy Gateway or Istio's gateway, which
/// both honour an HTTPRoute's backend weights). Otherwise (not exposed, classic Ingress) the
/// canary's share is its share of the pods, which all sit behind the workload's Service.
pub(crate) fn routed(env: &Environment, w: &Workload) -> bool {
    matches!(w.rollout.strategy, Strategy::Canary { .. })
        && w.ingress.is_some()
        && env.cluster.edge.gateway_api()
}

/// Whether any workload of `env` is an Argo Rollouts `Rollout`, so the controller must run.
pub(crate) fn any(env: &Environment) -> bool {
    env.workloads.iter().any(|w| w.rollout.progressive())
}

/// Whether any canary of `env` has its traffic shifted by the Gateway API plugin.
pub(crate) fn any_routed(env: &Environment) -> bool {
    env.workloads.iter().any(|w| routed(env, w))
}

/// What the build summary says of `env`'s progressive workloads: the controller a cluster
/// without a cloud must already run, and each canary whose traffic no router shifts.
pub(crate) fn notes(env: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    if env.cloud.is_none() && any(env) {
        let plugin = if any_routed(env) {
            ", the Gateway API traffic router plugin `argoproj-labs/gatewayAPI` and its permission to patch HTTPRoutes"
        } else {
            ""
        };
        out.push(format!(
            "{}: prerequisite: Argo Rollouts (its controller and CRDs{plugin}) must already run in the cluster for the `Rollout`s; plinth installs it only where the environment has a cloud",
            env.name
        ));
    }
    for w in &env.workloads {
        if matches!(w.rollout.strategy, Strategy::Canary { .. }) && !routed(env, w) {
            let why = if w.ingress.is_some() {
                "classic Ingress cannot split traffic"
            } else {
                "it is not exposed"
            };
            out.push(format!(
                "{}: the canary of `{}` has no traffic routing ({why}): each step's weight is reached by scaling the new version's pods beside the old ones behind the one Service",
                env.name, w.name
            ));
        }
    }
    out
}

/// The second Service of a progressive workload with ports: the canary's, or the
/// blue-green preview's.
pub(crate) fn second_service(w: &Workload) -> Option<String> {
    if w.ports.is_empty() {
        return None;
    }
    match w.rollout.strategy {
        Strategy::Rolling => None,
        Strategy::Canary { .. } => Some(naming::canary_service(w)),
        Strategy::BlueGreen { .. } => Some(naming::preview_service(w)),
    }
}

/// The `Rollout`'s `spec.strategy`, or `None` for a rolling update (a Deployment).
///
/// A canary sets its steps' weights and pauses in order and runs its analysis in the
/// background from the first step; with the Gateway API the plugin sets the two
/// `backendRefs` weights of the workload's HTTPRoute (stable: the workload's Service,
/// canary: the second Service), else the weights are reached by scaling the two versions'
/// pods. A blue-green update brings the new version up behind the preview Service, runs the
/// analysis before promotion, and waits for `kubectl argo rollouts promote` unless
/// `auto_promote` is set; the old version stays up `scale_down_delay` after the switch.
pub(crate) fn strategy(env: &Environment, w: &Workload, analysed: bool) -> Option<Value> {
    let analysis = || json!({ "templates": [{ "templateName": naming::analysis_template(w) }] });
    match &w.rollout.strategy {
        Strategy::Rolling => None,
        Strategy::Canary { steps } => {
            let mut canary = json!({
                "maxSurge": iop(w.rollout.max_surge),
                "maxUnavailable": iop(w.rollout.max_unavailable),
                "steps": steps.iter().flat_map(step).collect::<Vec<_>>(),
            });
            if let Some(service) = second_service(w) {
                canary["canaryService"] = json!(service);
            }
            if routed(env, w) {
                canary["stableService"] = json!(w.name);
                // The route is the workload's own, in the Rollout's namespace (the plugin's
                // default), so the Helm release's namespace needs no value.
                canary["trafficRouting"] = json!({ "plugins": { GATEWAY_PLUGIN: {
                    "httpRoute": w.name,
                } } });
            }
            if analysed {
                canary["analysis"] = analysis();
            }
            Some(json!({ "canary": canary }))
        }
        Strategy::BlueGreen {
            auto_promote,
            scale_down_delay_seconds,
        } => {
            let mut blue_green = json!({
                "activeService": w.name,
                "autoPromotionEnabled": auto_promote,
                "scaleDownDelaySeconds": scale_down_delay_seconds,
            });
            if let Some(service) = second_service(w) {
                blue_green["previewService"] = json!(service);
            }
            if analysed {
                blue_green["prePromotionAnalysis"] = analysis();
            }
            Some(json!({ "blueGreen": blue_green }))
        }
    }
}

/// A canary step as Argo Rollouts' steps: the weight, then the pause if any (`{}` waits
/// for a promotion).
fn step(s: &ir::CanaryStep) -> Vec<Value> {
    let mut out = vec![json!({ "setWeight": s.weight })];
    match s.pause {
        Pause::None => {}
        Pause::Seconds(n) => {
            out.push(json!({ "pause": { "duration": format_duration(n * 1000) } }));
        }
        Pause::Manual => out.push(json!({ "pause": {} })),
    }
    out
}

fn iop(v: crate::units::IntOrPercent) -> Value {
    match v {
        crate::units::IntOrPercent::Int(n) => json!(n),
        crate::units::IntOrPercent::Percent(p) => json!(format!("{p}%")),
    }
}

/// The spec of `w`'s `AnalysisTemplate`: one metric per error-rate or latency threshold of
/// the workload that the environment's alerts measure, its query the alert's own expression
/// over the second Service (the new version's pods), its success condition the alert's
/// lowest level. `None` when the workload has no such alert (no Prometheus, no metrics, no
/// Service), and then the `Rollout` runs without analysis.
///
/// Why the same expression: an analysis written apart from the alerts drifts from them, and
/// a release would pass the gate and then page. A query that finds no series (no request
/// reached the new version yet, no 5xx ever counted) is `0` rather than empty, which Argo
/// Rollouts would count as an error; a rate of nothing (`NaN`) passes for the same reason.
pub(crate) fn analysis_template(shared: &Shared, env: &Environment, w: &Workload) -> Option<Value> {
    let service = second_service(w)?;
    if !w.rollout.progressive() || !super::helm::upstream::wants_prometheus(env) {
        return None;
    }
    let rules = shared.rules(env);
    let address = format!(
        "http://kube-prometheus-stack-prometheus.{}.svc:9090",
        env.cluster.monitoring_namespace
    );
    let blue_green = matches!(w.rollout.strategy, Strategy::BlueGreen { .. });
    let metrics: Vec<Value> = rules
        .catalogue
        .families
        .iter()
        .filter_map(|f| {
            let (name, signal) = match &f.signal {
                Signal::ErrorRate {
                    namespace,
                    service: s,
                    requests,
                    status_label,
                } if *s == w.name && *namespace == env.namespace => (
                    "error-rate",
                    Signal::ErrorRate {
                        namespace: namespace.clone(),
                        service: service.clone(),
                        requests: requests.clone(),
                        status_label: status_label.clone(),
                    },
                ),
                Signal::LatencyP95 {
                    namespace,
                    service: s,
                    buckets,
                    per_second,
                } if *s == w.name && *namespace == env.namespace => (
                    "latency-p95",
                    Signal::LatencyP95 {
                        namespace: namespace.clone(),
                        service: service.clone(),
                        buckets: buckets.clone(),
                        per_second: *per_second,
                    },
                ),
                _ => return None,
            };
            let level = f.levels.iter().map(|(l, _)| *l).reduce(f64::min)?;
            let level = super::prometheus::signals::num(level);
            let query = format!(
                "(\n{}\n) or vector(0)",
                signal.expr(&format_duration(f.window_ms))
            );
            let mut metric = json!({
                "name": name,
                "interval": INTERVAL,
                "failureLimit": FAILURE_LIMIT,
                "successCondition": format!("isNaN(result[0]) || result[0] <= {level}"),
                "provider": { "prometheus": { "address": address, "query": query } },
            });
            if blue_green {
                metric["count"] = json!(PRE_PROMOTION_COUNT);
            }
            Some(metric)
        })
        .collect();
    (!metrics.is_empty()).then(|| json!({ "metrics": metrics }))
}

/// The API version and kind of `w`'s pod controller, as autoscalers name it in their target
/// reference: a `Rollout` has the scale subresource a Deployment has.
pub(crate) fn controller(w: &Workload) -> (&'static str, &'static str) {
    match w.kind {
        ir::Kind::Stateful => ("apps/v1", "StatefulSet"),
        ir::Kind::Cron => ("batch/v1", "CronJob"),
        ir::Kind::Job => ("batch/v1", "Job"),
        ir::Kind::Web | ir::Kind::Worker if w.rollout.progressive() => (API_VERSION, "Rollout"),
        ir::Kind::Web | ir::Kind::Worker => ("apps/v1", "Deployment"),
    }
}
