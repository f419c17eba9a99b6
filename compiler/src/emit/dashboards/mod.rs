//! Dashboards as code: per environment, Grafana dashboards for the platform, each service,
//! each data store and each SLO, as JSON that the k8s and Helm targets put in ConfigMaps for
//! kube-prometheus-stack's Grafana sidecar and the Compose target provisions from files.
//!
//! Panels read what the alert rules read, built from the same parts: a panel with threshold
//! lines shows a threshold alert's own expression ([`Signal::expr`] over the alert's rate
//! window) with a line at each of its levels, and the burn-rate panels of an SLO divide the
//! very recording the burn-rate alert compares with its factors. Metric and label names are
//! the workload's (`observability.metrics`), units those of the alerts (percent, seconds).
//!
//! A panel is drawn only where its series are produced, decided by the catalogue's
//! [`Producers`], as alerts are: no request panels for a service without a metrics
//! endpoint, no saturation panels where nothing runs kube-state-metrics and cAdvisor. A
//! dashboard left with no panel is not written.

mod model;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::emit::prometheus::catalogue::{self, Catalogue, Family, Producers, Runtime};
use crate::emit::prometheus::signals::{num, selector, Signal, Source, Unit};
use crate::emit::prometheus::slo::{PAGE, TICKET};
use crate::emit::{EmitError, Shared};
use crate::ir::{self, naming, Environment, Replicas, Workload};
use crate::units::format_duration;
pub(crate) use model::{Level, Panel};

/// One generated dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dashboard {
    /// Name: `overview`, `service-<name>`, `store-<name>`, `slo-<name>`; its ConfigMap and
    /// file are named after it.
    pub name: String,
    /// The dashboard JSON, pretty-printed, ending in a newline.
    pub json: String,
}

/// Whether `env` gets dashboards where `runtime` runs it: in a cluster wherever
/// kube-prometheus-stack, and with it Grafana, is installed for it (the condition of its
/// values file); in Docker Compose when Compose runs its Prometheus.
pub(crate) fn wanted(platform: &ir::Platform, env: &Environment, runtime: Runtime) -> bool {
    match runtime {
        Runtime::Cluster => crate::emit::helm::upstream::wants_prometheus(env),
        Runtime::Compose => catalogue::is_compose(platform, env),
    }
}

/// The dashboards of `env` that a build delivers where `runtime` runs it ([`wanted`]), from
/// the alert rules of `shared` for the same runtime.
pub(crate) fn of(
    shared: &Shared,
    env: &Environment,
    runtime: Runtime,
) -> Result<Vec<Dashboard>, EmitError> {
    if !wanted(shared.platform(), env, runtime) {
        return Ok(Vec::new());
    }
    let rules = match runtime {
        Runtime::Cluster => shared.rules(env),
        Runtime::Compose => shared.compose_rules(env),
    };
    build(shared.platform(), env, &rules.catalogue, runtime)
}

/// One ConfigMap per dashboard, in the environment's namespace, labelled for
/// kube-prometheus-stack's Grafana sidecar (`grafana.sidecar.dashboards.label` and
/// `labelValue`, set in the generated values), which loads every ConfigMap so labelled.
pub(crate) fn config_maps(
    platform: &ir::Platform,
    env: &Environment,
    dashboards: &[Dashboard],
) -> Vec<ConfigMap> {
    dashboards
        .iter()
        .map(|d| {
            let mut labels = naming::common_labels(&platform.name, env);
            let (key, value) = naming::GRAFANA_DASHBOARD_LABEL;
            labels.insert(key.to_owned(), value.to_owned());
            ConfigMap {
                metadata: ObjectMeta {
                    name: Some(naming::dashboard_config_map(&platform.name, &d.name)),
                    namespace: Some(env.namespace.clone()),
                    labels: Some(labels),
                    ..Default::default()
                },
                data: Some(BTreeMap::from([(
                    naming::dashboard_file_name(&d.name),
                    d.json.clone(),
                )])),
                ..Default::default()
            }
        })
        .collect()
}

/// Every dashboard of `env` where `runtime` runs it, in a fixed order: the overview, then
/// services, data stores and SLOs by name. None where nothing would show in them.
pub(crate) fn build(
    platform: &ir::Platform,
    env: &Environment,
    rules: &Catalogue,
    runtime: Runtime,
) -> Result<Vec<Dashboard>, EmitError> {
    let ctx = Context::new(env, rules, runtime);
    let mut boards = vec![(
        "overview".to_owned(),
        format!("{} / {}: overview", platform.name, env.name),
        "Requests, errors, scrape targets, restarts, firing alerts and error budgets of every workload".to_owned(),
        overview(&ctx),
    )];
    for w in &env.workloads {
        let (name, title, panels) = match &w.role {
            ir::Role::Service => (
                format!("service-{}", w.name),
                format!("{} / {}: service {}", platform.name, env.name, w.name),
                service(&ctx, w),
            ),
            ir::Role::DataStore(s) => (
                format!("store-{}", w.name),
                format!("{} / {}: {} {}", platform.name, env.name, s.engine, w.name),
                store(&ctx, w, s),
            ),
        };
        boards.push((name, title, format!("Workload `{}`", w.name), panels));
    }
    for s in &env.observability.slos {
        boards.push((
            format!("slo-{}", s.name),
            format!("{} / {}: SLO {}", platform.name, env.name, s.name),
            format!(
                "SLO `{}` of `{}`: {}% over {}",
                s.name,
                s.service,
                num(s.objective * 100.0),
                format_duration(s.window_ms)
            ),
            slo(s),
        ));
    }
    boards
        .into_iter()
        .filter(|(_, _, _, panels)| !panels.is_empty())
        .map(|(name, title, description, panels)| {
            let tags = vec!["plinth".to_owned(), platform.name.clone(), env.name.clone()];
            let uid = naming::dashboard_uid(&platform.name, &env.name, &name);
            // JSON has no comments: the banner every generated file carries is the end of the
            // dashboard's description, which Grafana shows.
            let description = format!("{description}; {}", naming::banner(&platform.spec_path));
            let m = model::model(uid, title, description, tags, panels);
            let mut json = serde_json::to_string_pretty(&m)
                .map_err(|e| EmitError(format!("dashboard serialization failed: {e}")))?;
            json.push('\n');
            Ok(Dashboard { name, json })
        })
        .collect()
}

/// What every dashboard builder of one environment reads.
struct Context<'a> {
    env: &'a Environment,
    producers: Producers,
    /// Whether the Compose Prometheus evaluates the environment's rules.
    compose: bool,
    /// The threshold families of each workload, by workload name.
    families: BTreeMap<&'a str, Vec<&'a Family>>,
}

impl<'a> Context<'a> {
    fn new(env: &'a Environment, rules: &'a Catalogue, runtime: Runtime) -> Self {
        let mut families: BTreeMap<&str, Vec<&Family>> = BTreeMap::new();
        for f in &rules.families {
            if let Some(w) = f
                .levels
                .first()
                .and_then(|(_, a)| a.labels.get(naming::alert_label::SERVICE))
            {
                families.entry(w.as_str()).or_default().push(f);
            }
        }
        Context {
            env,
            producers: Producers::of(env, runtime),
            compose: runtime == Runtime::Compose,
            families,
        }
    }

    /// Whether every source of `sources` is produced for `w`, and its endpoint is scraped
    /// where it is the one read: the Compose Prometheus has no token for an endpoint that
    /// wants one.
    fn has(&self, w: &Workload, sources: &[Source]) -> bool {
        let endpoint = sources
            .iter()
            .any(|s| matches!(s, Source::Application | Source::Exporter));
        let unscraped =
            endpoint && self.compose && w.metrics.as_ref().is_some_and(|m| m.bearer.is_some());
        !unscraped && self.producers.lack(w, sources).is_none()
    }

    /// The rate window of `w`'s queries: the alerts' ([`catalogue::rate_window`]).
    fn window(&self, w: &Workload) -> String {
        let interval = w
            .metrics
            .as_ref()
            .map_or(self.env.observability.scrape_interval_ms, |m| m.interval_ms);
        format_duration(catalogue::rate_window(interval))
    }

    /// The family of `w` whose signal `matches` says is the one, if its alert exists.
    fn family(&self, w: &Workload, matches: impl Fn(&Signal) -> bool) -> Option<&'a Family> {
        self.families
            .get(w.name.as_str())?
            .iter()
            .copied()
            .find(|f| matches(&f.signal))
    }
}

/// A panel of `signal`'s value, with a line at each level of `family` when the signal is a
/// threshold's: the alert's expression over the alert's window, so line and alert agree.
fn signal_panel(
    title: &str,
    what: &str,
    signal: &Signal,
    family: Option<&Family>,
    window: &str,
    legend: &str,
) -> Panel {
    let unit = match signal.unit() {
        Unit::Percent => "percent",
        Unit::Seconds => "s",
        Unit::Number => "short",
    };
    let (expr, lines, description) = match family {
        Some(f) => (
            f.signal.expr(&format_duration(f.window_ms)),
            f.levels
                .iter()
                .map(|(v, a)| {
                    let level = match a
                        .labels
                        .get(naming::alert_label::SEVERITY)
                        .map(String::as_str)
                    {
                        Some("critical") => Level::Critical,
                        _ => Level::Warning,
                    };
                    (*v, level)
                })
                .collect(),
            format!(
                "{what} The lines are the levels of alert `{}`.",
                f.levels.first().map_or("", |(_, a)| a.name.as_str())
            ),
        ),
        None => (signal.expr(window), Vec::new(), what.to_owned()),
    };
    let mut p = Panel::new(title, description, unit).target(expr, legend);
    p.lines = lines;
    p
}

/// The platform overview: per workload, requests and error rate where applications export
/// them, scrape targets up, container restarts; firing alerts; every SLO's budget left.
fn overview(ctx: &Context) -> Vec<Panel> {
    let env = ctx.env;
    let ns = env.namespace.as_str();
    let mut panels = Vec::new();
    // One query per request counter and status label, by `service`, rather than one per
    // service: the overview of a platform of hundreds of services must still fit in a
    // ConfigMap. Services that share the names share the query, over the longest of their
    // rate windows.
    let mut counters: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for w in &env.workloads {
        if let (Some(m), true) = (&w.metrics, ctx.has(w, &[Source::Application])) {
            let window = catalogue::rate_window(m.interval_ms);
            let slot = counters
                .entry((m.names.requests.as_str(), m.names.status_label.as_str()))
                .or_default();
            *slot = (*slot).max(window);
        }
    }
    if !counters.is_empty() {
        let mut requests = Panel::new(
            "Requests per second",
            "Requests served per second, per service with a metrics endpoint.",
            "reqps",
        );
        let mut errors = Panel::new(
            "Error rate",
            "Share of requests answered with a 5xx status, per service.",
            "percent",
        );
        for ((counter, status), window) in counters {
            let window = format_duration(window);
            let all = selector(counter, &[("namespace", ns)]);
            let failed = selector(
                counter,
                &[("namespace", ns), (&format!("~{status}"), "5..")],
            );
            requests = requests.target(
                format!("sum by (service) (rate({all}[{window}]))"),
                "{{service}}",
            );
            errors = errors.target(
                format!(
                    "100 * sum by (service) (rate({failed}[{window}]))\n  / sum by (service) (rate({all}[{window}]))"
                ),
                "{{service}}",
            );
        }
        panels.push(requests);
        panels.push(errors);
    }
    if env.workloads.iter().any(|w| w.metrics.is_some()) {
        panels.push(
            Panel::new(
                "Scrape targets up",
                "Metrics endpoints Prometheus reaches, per workload.",
                "short",
            )
            .target(
                format!(
                    "sum by (service) ({})",
                    selector("up", &[("namespace", ns)])
                ),
                "{{service}}",
            ),
        );
    }
    if ctx.producers.kubernetes {
        panels.push(
            Panel::new(
                "Container restarts",
                "Restarts per container over the last hour.",
                "short",
            )
            .target(
                format!(
                    "sum by (container) (increase({}[1h]))",
                    selector(
                        "kube_pod_container_status_restarts_total",
                        &[("namespace", ns)]
                    )
                ),
                "{{container}}",
            ),
        );
    }
    panels.push(
        Panel::new(
            "Firing alerts",
            "Alerts of the environment firing now, by name and severity.",
            "short",
        )
        .target(
            format!(
                "sum by (alertname, severity) ({})",
                selector(
                    "ALERTS",
                    &[
                        ("alertstate", "firing"),
                        (naming::alert_label::ENVIRONMENT, &env.name)
                    ]
                )
            ),
            "{{alertname}} ({{severity}})",
        ),
    );
    if !env.observability.slos.is_empty() {
        let mut budget = Panel::new(
            "Error budget remaining",
            "Share of each SLO's error budget left over its window.",
            "percentunit",
        );
        budget.min = None;
        for s in &env.observability.slos {
            budget = budget.target(budget_remaining(s), s.name.clone());
        }
        panels.push(budget);
    }
    panels
}

/// The error-rate signal of `w` with endpoint `m`, as the `error_rate` threshold reads it.
fn error_rate(namespace: &str, w: &Workload, m: &ir::Metrics) -> Signal {
    Signal::ErrorRate {
        namespace: namespace.to_owned(),
        service: w.name.clone(),
        requests: m.names.requests.clone(),
        status_label: m.names.status_label.clone(),
    }
}

/// A service: requests by status, error rate, latency percentiles, then saturation.
fn service(ctx: &Context, w: &Workload) -> Vec<Panel> {
    let mut panels = Vec::new();
    if let (Some(m), true) = (&w.metrics, ctx.has(w, &[Source::Application])) {
        panels.extend(requests(ctx, w, m));
    }
    panels.extend(saturation(ctx, w));
    panels
}

/// The request panels of service `w` with endpoint `m`: requests per second by status, the
/// error rate, and the 50th, 95th and 99th latency percentiles in seconds.
fn requests(ctx: &Context, w: &Workload, m: &ir::Metrics) -> Vec<Panel> {
    let ns = ctx.env.namespace.as_str();
    let window = ctx.window(w);
    let names = &m.names;
    let status = &names.status_label;
    let by_status = Panel::new(
        "Requests per second by status",
        format!("`{}` per second, by its `{status}` label.", names.requests),
        "reqps",
    )
    .target(
        format!(
            "sum by ({status}) (rate({}[{window}]))",
            selector(&names.requests, &[("namespace", ns), ("service", &w.name)])
        ),
        format!("{{{{{status}}}}}"),
    );
    let errors = signal_panel(
        "Error rate",
        "Share of requests answered with a 5xx status.",
        &error_rate(ns, w, m),
        ctx.family(w, |s| matches!(s, Signal::ErrorRate { .. })),
        &window,
        "5xx",
    );
    let p95 = Signal::LatencyP95 {
        namespace: ns.to_owned(),
        service: w.name.clone(),
        buckets: format!("{}_bucket", names.latency),
        per_second: names.latency_per_second,
    };
    let family = ctx.family(w, |s| matches!(s, Signal::LatencyP95 { .. }));
    let mut latency = signal_panel(
        "Latency percentiles",
        &format!("Request duration from `{}`, in seconds.", names.latency),
        &p95,
        family,
        &window,
        "p95",
    );
    // The other percentiles are the alert's expression at another quantile, so that they
    // differ from the line-carrying p95 in nothing else.
    let p95_expr = latency.targets[0].0.clone();
    let at = |q: &str| {
        p95_expr.replacen(
            "histogram_quantile(0.95,",
            &format!("histogram_quantile({q},"),
            1,
        )
    };
    latency.targets.insert(0, (at("0.5"), "p50".to_owned()));
    latency = latency.target(at("0.99"), "p99");
    vec![by_status, errors, latency]
}

/// Saturation of workload `w`, from the Kubernetes monitoring stack: CPU and memory against
/// requests and limits (with the `cpu` and `memory` alerts' lines), replicas against the
/// autoscaler's bounds, the data volume's use, restarts.
fn saturation(ctx: &Context, w: &Workload) -> Vec<Panel> {
    if !ctx.has(w, &[Source::Kubernetes]) {
        return Vec::new();
    }
    let ns = ctx.env.namespace.as_str();
    let window = ctx.window(w);
    let sel = [("namespace", ns), ("container", w.name.as_str())];
    let resource = |metric: &str, r: &str| {
        format!(
            "sum({})",
            selector(metric, &[sel[0], sel[1], ("resource", r)])
        )
    };
    let mut panels = vec![
        Panel::new(
            "CPU against requests and limits",
            "Cores used by every container of the workload, and what their requests and limits add up to.",
            "short",
        )
        .target(
            format!(
                "sum(rate({}[{window}]))",
                selector("container_cpu_usage_seconds_total", &sel)
            ),
            "used",
        )
        .target(resource("kube_pod_container_resource_requests", "cpu"), "requests")
        .target(resource("kube_pod_container_resource_limits", "cpu"), "limits"),
        signal_panel(
            "CPU of limit",
            "CPU use in percent of the CPU limit, averaged over the pods.",
            &Signal::Cpu {
                namespace: ns.to_owned(),
                container: w.name.clone(),
                limit_cores: w.resources.cpu_limit as f64 / 1000.0,
            },
            ctx.family(w, |s| matches!(s, Signal::Cpu { .. })),
            &window,
            "cpu",
        ),
        Panel::new(
            "Memory against requests and limits",
            "Working set of every container of the workload, and what their requests and limits add up to.",
            "bytes",
        )
        .target(
            format!(
                "sum({})",
                selector("container_memory_working_set_bytes", &sel)
            ),
            "working set",
        )
        .target(resource("kube_pod_container_resource_requests", "memory"), "requests")
        .target(resource("kube_pod_container_resource_limits", "memory"), "limits"),
        signal_panel(
            "Memory of limit",
            "Working set of the fullest pod in percent of its memory limit.",
            &Signal::Memory {
                namespace: ns.to_owned(),
                container: w.name.clone(),
                limit_bytes: w.resources.memory_limit as f64,
            },
            ctx.family(w, |s| matches!(s, Signal::Memory { .. })),
            &window,
            "memory",
        ),
    ];
    panels.push(match &w.replicas {
        Replicas::Auto(_) => {
            let hpa = [
                ("namespace", ns),
                ("horizontalpodautoscaler", w.name.as_str()),
            ];
            Panel::new(
                "Replicas against autoscaler bounds",
                "Replicas the autoscaler runs, between its minimum and maximum.",
                "short",
            )
            .target(
                format!(
                    "max({})",
                    selector("kube_horizontalpodautoscaler_status_current_replicas", &hpa)
                ),
                "current",
            )
            .target(
                format!(
                    "max({})",
                    selector("kube_horizontalpodautoscaler_spec_min_replicas", &hpa)
                ),
                "min",
            )
            .target(
                format!(
                    "max({})",
                    selector("kube_horizontalpodautoscaler_spec_max_replicas", &hpa)
                ),
                "max",
            )
        }
        Replicas::Fixed(_) => Panel::new(
            "Ready replicas",
            "Containers of the workload that pass their readiness probe.",
            "short",
        )
        .target(
            format!("sum({})", selector("kube_pod_container_status_ready", &sel)),
            "ready",
        ),
    });
    if let Some(f) = ctx.family(w, |s| matches!(s, Signal::Disk { .. })) {
        panels.push(signal_panel(
            "Disk use",
            "Used space of the fullest data volume.",
            &f.signal,
            Some(f),
            &window,
            "disk",
        ));
    }
    panels.push(
        Panel::new(
            "Container restarts",
            "Restarts over the last hour.",
            "short",
        )
        .target(
            format!(
                "sum(increase({}[1h]))",
                selector("kube_pod_container_status_restarts_total", &sel)
            ),
            "restarts",
        ),
    );
    panels
}

/// A data store: its exporter's series (connections and replication of PostgreSQL, memory,
/// clients and commands of Redis, collections and requests of Qdrant, capacity and requests
/// of MinIO), then saturation.
fn store(ctx: &Context, w: &Workload, s: &ir::StoreInfo) -> Vec<Panel> {
    let mut panels = Vec::new();
    if ctx.has(w, &[Source::Exporter]) {
        let ns = ctx.env.namespace.as_str();
        let window = ctx.window(w);
        let sel = [("namespace", ns), ("service", w.name.as_str())];
        let sum = |metric: &str| format!("sum({})", selector(metric, &sel));
        let rate = |metric: &str| format!("sum(rate({}[{window}]))", selector(metric, &sel));
        let operated = ctx.producers.operated.contains(&w.name);
        match s.engine.as_str() {
            "postgres" => {
                let backends = if operated {
                    "cnpg_backends_total"
                } else {
                    "pg_stat_database_numbackends"
                };
                panels.push(
                    Panel::new(
                        "Connections",
                        "Open connections to every instance.",
                        "short",
                    )
                    .target(sum(backends), "connections"),
                );
                panels.push(signal_panel(
                    "Connections of max_connections",
                    "Connections of the busiest instance in percent of its max_connections.",
                    &Signal::DbConnections {
                        namespace: ns.to_owned(),
                        service: w.name.clone(),
                        operated,
                    },
                    ctx.family(w, |s| matches!(s, Signal::DbConnections { .. })),
                    &window,
                    "connections",
                ));
                if s.read_replicas > 0 {
                    panels.push(signal_panel(
                        "Replication lag",
                        "How far the furthest replica is behind the primary.",
                        &Signal::ReplicationLag {
                            namespace: ns.to_owned(),
                            service: w.name.clone(),
                            operated,
                        },
                        ctx.family(w, |s| matches!(s, Signal::ReplicationLag { .. })),
                        &window,
                        "lag",
                    ));
                }
            }
            "redis" => {
                panels.push(
                    Panel::new("Memory used", "Memory Redis holds data in.", "bytes").target(
                        format!("max({})", selector("redis_memory_used_bytes", &sel)),
                        "used",
                    ),
                );
                if ctx.has(w, &[Source::Exporter, Source::Kubernetes]) {
                    panels.push(signal_panel(
                        "Memory of container limit",
                        "Redis data in percent of the container's memory limit.",
                        &Signal::RedisMemory {
                            namespace: ns.to_owned(),
                            service: w.name.clone(),
                            limit_bytes: w.resources.memory_limit as f64,
                        },
                        ctx.family(w, |s| matches!(s, Signal::RedisMemory { .. })),
                        &window,
                        "memory",
                    ));
                }
                panels.push(
                    Panel::new("Connected clients", "Client connections.", "short")
                        .target(sum("redis_connected_clients"), "clients"),
                );
                panels.push(
                    Panel::new(
                        "Commands per second",
                        "Commands processed per second.",
                        "ops",
                    )
                    .target(rate("redis_commands_processed_total"), "commands"),
                );
            }
            "qdrant" => {
                panels.push(
                    Panel::new("Collections", "Collections held.", "short")
                        .target(sum("collections_total"), "collections"),
                );
                panels.push(
                    Panel::new(
                        "REST responses per second",
                        "Responses of the REST API per second, and the failed ones.",
                        "reqps",
                    )
                    .target(rate("rest_responses_total"), "all")
                    // The responses with a 5xx status: Qdrant 1.19 exports no
                    // `rest_responses_fail_total`, and `status` labels the responses in 1.11
                    // as in 1.19.
                    .target(
                        format!(
                            "sum(rate({}[{window}]))",
                            selector(
                                "rest_responses_total",
                                &[sel[0], sel[1], ("~status", "5..")]
                            )
                        ),
                        "failed",
                    ),
                );
            }
            "object-storage" => {
                panels.push(
                    Panel::new(
                        "Capacity",
                        "Usable capacity of the cluster, and how much of it is free.",
                        "bytes",
                    )
                    .target(
                        format!(
                            "max({})",
                            selector("minio_cluster_capacity_usable_total_bytes", &sel)
                        ),
                        "usable",
                    )
                    .target(
                        format!(
                            "max({})",
                            selector("minio_cluster_capacity_usable_free_bytes", &sel)
                        ),
                        "free",
                    ),
                );
                panels.push(
                    Panel::new(
                        "S3 requests per second",
                        "S3 API requests per second, and the failed ones.",
                        "reqps",
                    )
                    .target(rate("minio_s3_requests_total"), "all")
                    .target(rate("minio_s3_requests_errors_total"), "errors"),
                );
            }
            _ => {}
        }
    }
    panels.extend(saturation(ctx, w));
    panels
}

/// The error budget left of SLO `s`, as its recording rule computes it.
fn budget_remaining(s: &ir::Slo) -> String {
    selector(
        naming::SLO_BUDGET_REMAINING_RECORD,
        &[
            (naming::alert_label::SERVICE, &s.service),
            (naming::alert_label::SLO, &s.name),
        ],
    )
}

/// An SLO: the error budget left over its window, and the burn rate over each pair of
/// windows the burn-rate alerts read, with a line at the factor each pair alerts at.
fn slo(s: &ir::Slo) -> Vec<Panel> {
    // The labels in the order the SLO's rules write them (by name), so that the panel's
    // selector is the alert's, character for character.
    let sel = [
        (naming::alert_label::SERVICE, s.service.as_str()),
        (naming::alert_label::SLO, s.name.as_str()),
    ];
    let budget = num(1.0 - s.objective);
    let mut remaining = Panel::new(
        "Error budget remaining",
        format!(
            "Share of the error budget ({}% of requests over {}) left.",
            num((1.0 - s.objective) * 100.0),
            format_duration(s.window_ms)
        ),
        "percentunit",
    )
    .target(budget_remaining(s), "remaining");
    remaining.min = None;
    let mut panels = vec![remaining];
    for (burns, level, what) in [
        (&PAGE, Level::Critical, "pages"),
        (&TICKET, Level::Warning, "opens a ticket"),
    ] {
        for b in burns {
            // The alert compares `max(ratio) > (factor * budget)`; the panel shows
            // `max(ratio) / budget`, the burn rate, against the factor.
            let burn = |w: &str| {
                format!(
                    "max({}) / {budget}",
                    selector(&naming::slo_error_ratio_record(w), &sel)
                )
            };
            let mut p = Panel::new(
                format!("Burn rate over {} and {}", b.long, b.short),
                format!(
                    "How many times faster than sustainable the budget burns; alert `{}` {what} when both windows are above {}.",
                    naming::ALERT_ERROR_BUDGET_BURN,
                    num(b.factor)
                ),
                "short",
            )
            .target(burn(b.long), b.long)
            .target(burn(b.short), b.short);
            p.lines = vec![(b.factor, level)];
            panels.push(p);
        }
    }
    panels
}
