//! The alerts and recording rules of one environment, as data.
//!
//! The Prometheus target writes them (as a rules file, a `PrometheusRule` and unit tests); the
//! Alertmanager target reads their label sets to prove that each alert reaches a receiver.
//! Both therefore see exactly the same alerts.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::signals::{num, Condition, Signal, Source, Unit};
use super::slo;
use crate::emit::gotmpl;
use crate::ir::{self, naming, Environment, Replicas, SeverityLevel, Workload};
use crate::units::format_duration;

/// Every rule of an environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Catalogue {
    /// Rule groups in output order.
    pub groups: Vec<Group>,
    /// Threshold alerts with the signal behind them, for the unit tests.
    pub families: Vec<Family>,
    /// Built-in alerts with the condition behind them, for the unit tests.
    pub packs: Vec<Pack>,
    /// Alerts left out because nothing in the environment produces what they read, for the
    /// build notes.
    pub missing: Vec<Missing>,
}

/// An alert left out of one workload's rules, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Missing {
    /// Alert name.
    pub alert: String,
    /// Threshold name, when the alert is a threshold's.
    pub threshold: Option<String>,
    /// Workload name.
    pub workload: String,
    /// What is missing.
    pub reason: Reason,
}

/// Why an alert cannot fire in an environment: what it lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reason {
    /// Disk use needs the volume claims of a stateful workload.
    Volume,
    /// Replication lag needs replicas.
    Replicas,
    /// The series come from a metrics endpoint the workload does not declare.
    Endpoint(Source),
    /// The series come from the Kubernetes monitoring stack, which the environment lacks.
    Kubernetes,
    /// Docker Compose runs one node of a replicated store, which has no replicas to watch.
    SingleNode,
}

/// What produces series in an environment. A workload's own endpoint (application or
/// exporter) is scraped wherever it is declared: by a ServiceMonitor on Kubernetes, by the
/// Compose `prometheus.yml` locally.
#[derive(Clone, Debug)]
pub(crate) struct Producers {
    /// kube-state-metrics, cAdvisor and the kubelet are scraped: a cluster environment in
    /// which kube-prometheus-stack is installed. Docker Compose runs none of them, so an
    /// environment whose rules the Compose Prometheus evaluates has none of their series.
    pub kubernetes: bool,
    /// Stores run by an operator that exports their metrics itself (CloudNativePG's
    /// instances, scraped by a generated PodMonitor), by name.
    pub operated: std::collections::BTreeSet<String>,
}

impl Producers {
    /// The producers of `env` where `runtime` evaluates its rules.
    pub fn of(env: &Environment, runtime: Runtime) -> Self {
        Producers {
            kubernetes: runtime == Runtime::Cluster
                && crate::emit::helm::upstream::wants_prometheus(env),
            operated: env
                .workloads
                .iter()
                .filter(|w| crate::emit::cnpg::operated(env, w))
                .map(|w| w.name.clone())
                .collect(),
        }
    }

    /// The first source among `sources` that nothing produces for workload `w`.
    pub fn lack(&self, w: &Workload, sources: &[Source]) -> Option<Reason> {
        sources.iter().find_map(|s| match s {
            Source::Kubernetes => (!self.kubernetes).then_some(Reason::Kubernetes),
            Source::Exporter if self.operated.contains(&w.name) => None,
            Source::Application | Source::Exporter => {
                w.metrics.is_none().then_some(Reason::Endpoint(*s))
            }
        })
    }
}

/// Where a set of rules is evaluated: by the kube-prometheus-stack of a cluster running the
/// environment, or by the Prometheus of Docker Compose. The two produce different series
/// (Compose has no kube-state-metrics, cAdvisor or kubelet), so the environment Compose runs
/// with its monitoring stack has a set of each: turning Compose's monitoring on must not
/// take an alert away from the same environment's cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Runtime {
    /// kube-prometheus-stack in a cluster.
    Cluster,
    /// The Compose Prometheus ([`is_compose`]).
    Compose,
}

/// Whether Docker Compose runs a Prometheus for `env`: it is the environment Compose runs,
/// with the monitoring stack. Only then do its rules have a [`Runtime::Compose`] set.
pub(crate) fn is_compose(platform: &ir::Platform, env: &Environment) -> bool {
    env.compose.monitoring
        && platform
            .compose_environment()
            .is_some_and(|c| c.name == env.name)
}

/// One built-in alert of one workload, at each of its severities, and what drives it.
#[derive(Clone, Debug)]
pub(crate) struct Pack {
    /// The condition.
    pub condition: Condition,
    /// Its alerts (as in `groups`).
    pub alerts: Vec<Arc<Alert>>,
}

/// A rule group.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// Group name.
    pub name: String,
    /// Rules, evaluated in order (recordings before the alerts that read them).
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Clone, Debug)]
pub(crate) enum Rule {
    /// A recording rule.
    Record(Record),
    /// An alerting rule; shared with the family or pack that tests it, which at 1,000
    /// services halves the catalogue.
    Alert(Arc<Alert>),
}

/// A recording rule.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// Series name.
    pub record: String,
    /// PromQL.
    pub expr: String,
    /// Labels set on the result.
    pub labels: BTreeMap<String, String>,
}

/// An alerting rule.
#[derive(Clone, Debug)]
pub(crate) struct Alert {
    /// Alert name.
    pub name: String,
    /// PromQL.
    pub expr: String,
    /// Hold duration in milliseconds.
    pub for_ms: u64,
    /// Labels plinth sets; with `alertname`, the alert's whole label set for every alert
    /// whose expression aggregates its series away.
    pub labels: BTreeMap<String, String>,
    /// Annotations; `{{ … $value }}` templates are expanded by Prometheus.
    pub annotations: BTreeMap<String, String>,
}

impl Alert {
    /// The labels Alertmanager sees: plinth's labels plus `alertname`.
    pub fn routing_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert(naming::alert_label::ALERTNAME.to_owned(), self.name.clone());
        l
    }
}

/// One threshold of one workload: its alert at each level, and what drives it.
#[derive(Clone, Debug)]
pub(crate) struct Family {
    /// What is measured.
    pub signal: Signal,
    /// Rate window in milliseconds.
    pub window_ms: u64,
    /// Hold duration in milliseconds.
    pub for_ms: u64,
    /// Each level with its alert (as in `groups`).
    pub levels: Vec<(f64, Arc<Alert>)>,
}

impl Catalogue {
    /// Every alerting rule, in output order.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.groups.iter().flat_map(|g| {
            g.rules.iter().filter_map(|r| match r {
                Rule::Alert(a) => Some(&**a),
                Rule::Record(_) => None,
            })
        })
    }
}

/// The template that prints an alert's value in annotations, for values in `unit`.
pub(crate) fn value_template(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => "{{ printf \"%.3f\" $value }}",
        Unit::Percent | Unit::Number => "{{ printf \"%.2f\" $value }}",
    }
}

/// The value as `value_template` prints it, for the unit tests' expected annotations.
pub(crate) fn value_text(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Seconds => format!("{v:.3}"),
        Unit::Percent | Unit::Number => format!("{v:.2}"),
    }
}

/// Shortest window a `rate()` may use: five minutes, or four scrapes when those are slower,
/// so that a window always holds enough samples. Whole minutes keep the rules readable.
pub(crate) fn rate_window(scrape_interval_ms: u64) -> u64 {
    (4 * scrape_interval_ms).max(300_000).div_ceil(60_000) * 60_000
}

/// Builds the catalogue of one environment, for the Prometheus of `runtime`.
pub(crate) fn build(platform: &ir::Platform, env: &Environment, runtime: Runtime) -> Catalogue {
    let mut c = Catalogue::default();
    let producers = Producers::of(env, runtime);
    for w in &env.workloads {
        let mut rules = Vec::new();
        for t in &w.thresholds {
            let signal = signal(env, w, t, &mut rules);
            if let Some(reason) = threshold_gap(&producers, w, t, &signal) {
                c.missing.push(Missing {
                    alert: naming::threshold_alert(&t.name),
                    threshold: Some(t.name.clone()),
                    workload: w.name.clone(),
                    reason,
                });
                continue;
            }
            if let Some(f) = threshold(env, w, t, signal, &mut rules) {
                c.families.push(f);
            }
        }
        let compose = runtime == Runtime::Compose;
        for p in packs(env, w) {
            let single = compose && matches!(p.condition, Condition::RedisReplicasDetached { .. });
            let lack = || producers.lack(w, p.condition.sources());
            if let Some(reason) = single.then_some(Reason::SingleNode).or_else(lack) {
                c.missing.extend(p.alerts.first().map(|a| Missing {
                    alert: a.name.clone(),
                    threshold: None,
                    workload: w.name.clone(),
                    reason,
                }));
                continue;
            }
            rules.extend(p.alerts.iter().map(|a| Rule::Alert(Arc::clone(a))));
            c.packs.push(p);
        }
        if !rules.is_empty() {
            c.groups.push(Group {
                name: naming::workload_rule_group(&platform.name, w),
                rules,
            });
        }
    }
    let workloads = env.workloads_by_name();
    for s in &env.observability.slos {
        let team = workloads
            .get(s.service.as_str())
            .and_then(|w| w.team.as_deref());
        c.groups.push(slo::group(platform, env, s, team));
    }
    if !env.observability.rules.is_empty() {
        c.groups.push(Group {
            name: naming::custom_rule_group(&platform.name),
            rules: env
                .observability
                .rules
                .iter()
                .map(|r| Rule::Alert(Arc::new(custom_rule(env, r))))
                .collect(),
        });
    }
    c
}

/// Why threshold `t` of workload `w`, measured by `signal`, could never fire, if it could
/// not: disk use is measured on the volume claims of a stateful workload, replication lag
/// between replicas, and every built-in signal on series something must produce. A custom
/// threshold reads what its author wrote, and is kept.
fn threshold_gap(
    producers: &Producers,
    w: &Workload,
    t: &ir::Threshold,
    signal: &Signal,
) -> Option<Reason> {
    if t.expr.is_some() {
        return None;
    }
    match signal {
        Signal::Disk { .. } if !has_claims(w) => return Some(Reason::Volume),
        Signal::ReplicationLag { .. } if read_replicas(w) == 0 => return Some(Reason::Replicas),
        _ => {}
    }
    producers.lack(w, signal.sources())
}

/// The read replicas of a data store; none for a service.
fn read_replicas(w: &Workload) -> u32 {
    match &w.role {
        ir::Role::DataStore(s) => s.read_replicas,
        ir::Role::Service => 0,
    }
}

/// Whether a workload has persistent volume claims (a stateful workload with storage).
fn has_claims(w: &Workload) -> bool {
    w.storage.is_some() && w.kind == ir::Kind::Stateful
}

/// Annotations shared by every alert: the summary, description and runbook link.
pub(crate) fn annotations(
    env: &Environment,
    alert: &str,
    summary: String,
    description: String,
) -> BTreeMap<String, String> {
    let mut a = BTreeMap::from([
        ("summary".to_owned(), summary),
        ("description".to_owned(), description),
    ]);
    if let Some(prefix) = &env.observability.runbook_url {
        a.insert(
            "runbook_url".to_owned(),
            format!("{}{alert}", gotmpl::literal(prefix)),
        );
    }
    a
}

/// A level as people read it: `70%`, `500ms`, `2s`, `42`.
fn level_text(unit: Unit, level: f64) -> String {
    match unit {
        Unit::Percent => format!("{}%", num(level)),
        Unit::Seconds => {
            let ms = level * 1000.0;
            if ms >= 1.0 && ms.fract() == 0.0 {
                format_duration(ms as u64)
            } else {
                format!("{}s", num(level))
            }
        }
        Unit::Number => num(level),
    }
}

/// The pattern matching the data volume claims of `w`, and one claim it matches (for the
/// test series): a StatefulSet's `data-<name>-<ordinal>`, or, where the CloudNativePG
/// operator runs the store, its `<cluster>-<instance number>` from 1.
fn data_claims(env: &Environment, w: &Workload) -> (String, String) {
    if crate::emit::cnpg::operated(env, w) {
        (format!("{}-[0-9]+", w.name), format!("{}-1", w.name))
    } else {
        (
            naming::data_claim_pattern(w),
            format!("{}-{}-0", naming::DATA_CLAIM, w.name),
        )
    }
}

/// The signal behind a threshold of workload `w`; custom thresholds add their recording rule
/// to `rules`.
fn signal(env: &Environment, w: &Workload, t: &ir::Threshold, rules: &mut Vec<Rule>) -> Signal {
    let namespace = env.namespace.clone();
    let service = w.name.clone();
    if let Some(expr) = &t.expr {
        let labels = BTreeMap::from([
            ("namespace".to_owned(), namespace),
            (naming::alert_label::SERVICE.to_owned(), service),
        ]);
        let metric = naming::threshold_record(&t.name);
        rules.push(Rule::Record(Record {
            record: metric.clone(),
            expr: expr.clone(),
            labels: labels.clone(),
        }));
        return Signal::Recorded { metric, labels };
    }
    let r = &w.resources;
    match t.name.as_str() {
        "cpu" => Signal::Cpu {
            namespace,
            container: service,
            limit_cores: r.cpu_limit as f64 / 1000.0,
        },
        "memory" => Signal::Memory {
            namespace,
            container: service,
            limit_bytes: r.memory_limit as f64,
        },
        "error_rate" => {
            let names = metric_names(w);
            Signal::ErrorRate {
                namespace,
                service,
                requests: names.requests,
                status_label: names.status_label,
            }
        }
        "latency_p95" => {
            let names = metric_names(w);
            Signal::LatencyP95 {
                namespace,
                service,
                buckets: format!("{}_bucket", names.latency),
                per_second: names.latency_per_second,
            }
        }
        "disk" => Signal::Disk {
            namespace,
            claims: data_claims(env, w).0,
            claim: data_claims(env, w).1,
            capacity_bytes: w.storage.as_ref().map_or(0.0, |s| s.size as f64),
        },
        "db_connections" => Signal::DbConnections {
            namespace,
            service,
            operated: crate::emit::cnpg::operated(env, w),
        },
        "replication_lag" => Signal::ReplicationLag {
            namespace,
            service,
            operated: crate::emit::cnpg::operated(env, w),
        },
        "redis_memory" => Signal::RedisMemory {
            namespace,
            service,
            limit_bytes: r.memory_limit as f64,
        },
        // The checker rejects any other name without an expression.
        other => Signal::Recorded {
            metric: naming::threshold_record(other),
            labels: BTreeMap::new(),
        },
    }
}

/// What the request metrics of `w` are called: as its endpoint declares, else the
/// defaults (a workload without an endpoint gets no alert on them anyway).
fn metric_names(w: &Workload) -> ir::MetricNames {
    w.metrics.as_ref().map_or_else(
        || ir::MetricNames {
            requests: ir::REQUESTS_METRIC.to_owned(),
            status_label: ir::STATUS_LABEL.to_owned(),
            latency: ir::LATENCY_METRIC_SECONDS.to_owned(),
            latency_per_second: 1.0,
            buckets: Vec::new(),
        },
        |m| m.names.clone(),
    )
}

/// What a threshold measures, for its annotations: (summary stem, description).
fn wording(t: &ir::Threshold, w: &str, value: &str, window: &str) -> (String, String) {
    match t.name.as_str() {
        "cpu" if t.expr.is_none() => (
            format!("CPU use of {w} is above"),
            format!("The pods of {w} use {value}% of their CPU limit on average over {window}."),
        ),
        "memory" if t.expr.is_none() => (
            format!("Memory use of {w} is above"),
            format!(
                "The fullest pod of {w} uses {value}% of its memory limit; at 100% it is OOM-killed."
            ),
        ),
        "error_rate" if t.expr.is_none() => (
            format!("Error rate of {w} is above"),
            format!("{value}% of the requests to {w} failed with a 5xx status over {window}."),
        ),
        "latency_p95" if t.expr.is_none() => (
            format!("p95 latency of {w} is above"),
            format!("95% of the requests to {w} took up to {value}s over {window}."),
        ),
        "disk" if t.expr.is_none() => (
            format!("Disk use of {w} is above"),
            format!("The fullest volume of {w} is {value}% full."),
        ),
        "db_connections" if t.expr.is_none() => (
            format!("Connections to {w} are above"),
            format!("The busiest instance of {w} uses {value}% of its max_connections."),
        ),
        "replication_lag" if t.expr.is_none() => (
            format!("Replication lag of {w} is above"),
            format!("The furthest replica of {w} is {value}s behind the primary."),
        ),
        "redis_memory" if t.expr.is_none() => (
            format!("Redis memory of {w} is above"),
            format!(
                "{w} holds data worth {value}% of its container memory limit; at 100% it is OOM-killed."
            ),
        ),
        name => {
            let name = gotmpl::literal(name);
            (
                format!("{name} of {w} is above"),
                format!("{name} of {w} is {value}."),
            )
        }
    }
}

/// The alerts of one threshold of workload `w`, measured by `signal`, and the family that
/// tests them.
fn threshold(
    env: &Environment,
    w: &Workload,
    t: &ir::Threshold,
    signal: Signal,
    rules: &mut Vec<Rule>,
) -> Option<Family> {
    let interval = w
        .metrics
        .as_ref()
        .map_or(env.observability.scrape_interval_ms, |m| m.interval_ms);
    let window_ms = rate_window(interval);
    let window = format_duration(window_ms);
    let unit = signal.unit();
    let value = signal.expr(&window);
    let name = naming::threshold_alert(&t.name);
    let mut levels = Vec::new();
    for (severity, level) in [
        (SeverityLevel::Warning, t.warning),
        (SeverityLevel::Critical, t.critical),
    ] {
        let Some(level) = level else { continue };
        let (stem, description) = wording(t, &w.name, value_template(unit), &window);
        let level_text = level_text(unit, level);
        let summary = t.summary.as_deref().map_or_else(
            || format!("{stem} {level_text}"),
            |s| gotmpl::literal(s).into_owned(),
        );
        let description = format!(
            "{description} The {} level is {level_text}.",
            naming::severity(severity)
        );
        let alert = Arc::new(Alert {
            expr: format!("{value}\n> {}", num(level)),
            for_ms: t.for_ms,
            labels: naming::alert_labels(env, Some(&w.name), w.team.as_deref(), severity),
            annotations: annotations(env, &name, summary, description),
            name: name.clone(),
        });
        rules.push(Rule::Alert(Arc::clone(&alert)));
        levels.push((level, alert));
    }
    (!levels.is_empty()).then_some(Family {
        signal,
        window_ms,
        for_ms: t.for_ms,
        levels,
    })
}

/// The built-in alerts every workload gets, whatever the spec's thresholds: scrape targets
/// down, crash-looping containers, an autoscaler stuck at its maximum, a volume about to
/// fill up, and a data store's backups failing or late.
fn packs(env: &Environment, w: &Workload) -> Vec<Pack> {
    let namespace = env.namespace.clone();
    let name = w.name.as_str();
    let team = w.team.as_deref();
    let alert = |alert: &str,
                 severity: SeverityLevel,
                 expr: String,
                 for_ms: u64,
                 summary: String,
                 description: String| {
        Arc::new(Alert {
            name: alert.to_owned(),
            expr,
            for_ms,
            labels: naming::alert_labels(env, Some(name), team, severity),
            annotations: annotations(env, alert, summary, description),
        })
    };
    let mut out = Vec::new();
    if w.metrics.is_some() {
        let condition = Condition::TargetDown {
            namespace: namespace.clone(),
            service: name.to_owned(),
        };
        out.push(Pack {
            alerts: vec![
                alert(
                    naming::ALERT_TARGET_DOWN,
                    SeverityLevel::Warning,
                    condition.expr(SeverityLevel::Warning),
                    300_000,
                    format!("Some metrics endpoints of {name} are down"),
                    format!(
                        "Prometheus cannot scrape {{{{ $value }}}} target(s) of {name}: pods are failing or unreachable."
                    ),
                ),
                alert(
                    naming::ALERT_TARGET_DOWN,
                    SeverityLevel::Critical,
                    condition.expr(SeverityLevel::Critical),
                    60_000,
                    format!("{name} is down"),
                    format!("No metrics endpoint of {name} has answered Prometheus for a minute."),
                ),
            ],
            condition,
        });
    }
    let condition = Condition::CrashLooping {
        namespace: namespace.clone(),
        container: name.to_owned(),
    };
    out.push(Pack {
        alerts: vec![alert(
            naming::ALERT_CRASH_LOOPING,
            SeverityLevel::Warning,
            condition.expr(SeverityLevel::Warning),
            900_000,
            format!("A container of {name} is crash-looping"),
            format!(
                "A pod of {name} has been restarting in CrashLoopBackOff for 15 minutes; see `kubectl logs --previous`."
            ),
        )],
        condition,
    });
    // An autoscaler whose minimum is its maximum is always at it; that is no news.
    if let Some(a) = match &w.replicas {
        Replicas::Auto(a) if a.max > a.min => Some(a),
        _ => None,
    } {
        let condition = Condition::AtMaxReplicas {
            namespace: namespace.clone(),
            autoscaler: name.to_owned(),
            max: a.max,
        };
        out.push(Pack {
            alerts: vec![alert(
                naming::ALERT_HPA_AT_MAX,
                SeverityLevel::Warning,
                condition.expr(SeverityLevel::Warning),
                900_000,
                format!(
                    "{name} has run at its maximum of {} replica{} for 15 minutes",
                    a.max,
                    if a.max == 1 { "" } else { "s" }
                ),
                format!(
                    "The autoscaler of {name} cannot add replicas; raise `autoscaling.max` or find what drives the load."
                ),
            )],
            condition,
        });
    }
    if let (Some(storage), true) = (&w.storage, has_claims(w)) {
        let (claims, claim) = data_claims(env, w);
        let condition = Condition::VolumeFillingUp {
            namespace,
            claims,
            claim,
            capacity_bytes: storage.size as f64,
        };
        out.push(Pack {
            alerts: vec![alert(
                naming::ALERT_VOLUME_FILLING_UP,
                SeverityLevel::Warning,
                condition.expr(SeverityLevel::Warning),
                3_600_000,
                format!("A volume of {name} will be full within four days"),
                format!(
                    "A volume of {name} has less than 15% space left and, at the rate of the last six hours, fills up within four days."
                ),
            )],
            condition,
        });
    }
    if let Some(s) = crate::emit::redis_ha::sentinel(w) {
        let condition = Condition::RedisReplicasDetached {
            namespace: env.namespace.clone(),
            service: name.to_owned(),
            replicas: s.nodes - 1,
        };
        out.push(Pack {
            alerts: vec![alert(
                naming::ALERT_REDIS_REPLICAS_DETACHED,
                SeverityLevel::Warning,
                condition.expr(SeverityLevel::Warning),
                300_000,
                format!("Fewer replicas follow the primary of {name} than it runs"),
                format!(
                    "For 5 minutes the primary of {name} has had fewer than {} replicas in sync: a node is down or cannot replicate, and Sentinel has one replica fewer to promote if the primary is lost. See `redis-cli info replication` on each pod.",
                    s.nodes - 1
                ),
            )],
            condition,
        });
    }
    out.extend(backup_packs(env, w, &alert));
    out
}

/// Makes one alert of a workload: name, severity, expression, `for` in milliseconds,
/// summary and description.
type MakeAlert<'a> = dyn Fn(&str, SeverityLevel, String, u64, String, String) -> Arc<Alert> + 'a;

/// The backup alerts of data store `w`: its backup CronJob's latest run failed, or a run did
/// not start within an hour of its time (kube-state-metrics); for a store CloudNativePG runs,
/// its latest base backup failed (the barman-cloud plugin's series), its latest restore drill
/// failed, and WAL archiving fails (`pg_stat_archiver`). A backup nobody hears of failing is no backup.
fn backup_packs(env: &Environment, w: &Workload, alert: &MakeAlert<'_>) -> Vec<Pack> {
    let namespace = env.namespace.clone();
    let name = w.name.as_str();
    let mut out = Vec::new();
    if crate::emit::backups::offsite(env, w) || crate::emit::k8s::backup_plan(env, w).is_some() {
        let cronjob = naming::backup_job(name);
        let condition = Condition::BackupJobFailed {
            namespace: namespace.clone(),
            cronjob: cronjob.clone(),
        };
        out.push(Pack {
            alerts: vec![alert(
                naming::ALERT_BACKUP_FAILED,
                SeverityLevel::Critical,
                condition.expr(SeverityLevel::Critical),
                0,
                format!("The latest backup of {name} failed"),
                format!(
                    "The latest Job of the CronJob {cronjob} failed; until a run succeeds, {name} has no new backup. See `kubectl logs job/<job> --all-containers`."
                ),
            )],
            condition,
        });
        let condition = Condition::BackupJobLate {
            namespace: namespace.clone(),
            cronjob: cronjob.clone(),
        };
        out.push(Pack {
            alerts: vec![alert(
                naming::ALERT_BACKUP_LATE,
                SeverityLevel::Warning,
                condition.expr(SeverityLevel::Warning),
                0,
                format!("A backup of {name} did not start on time"),
                format!(
                    "The CronJob {cronjob} is more than an hour past its scheduled run: it is suspended, was skipped, or an earlier run still holds it."
                ),
            )],
            condition,
        });
    }
    if let (true, Some(b)) = (
        crate::emit::cnpg::operated(env, w),
        crate::emit::cnpg::backup(w),
    ) {
        if b.schedule.is_some() {
            let condition = Condition::BaseBackupFailed {
                namespace: namespace.clone(),
                service: name.to_owned(),
            };
            out.push(Pack {
                alerts: vec![alert(
                    naming::ALERT_BACKUP_FAILED,
                    SeverityLevel::Critical,
                    condition.expr(SeverityLevel::Critical),
                    0,
                    format!("The latest base backup of {name} failed"),
                    format!(
                        "The barman-cloud plugin's last failed backup of {name} is newer than its last available one; see the Backup objects of the cluster."
                    ),
                )],
                condition,
            });
        }
        if crate::emit::restore_drill::schedule(env, w).is_some() {
            let cronjob = naming::restore_drill(name);
            let condition = Condition::BackupJobFailed {
                namespace: namespace.clone(),
                cronjob: cronjob.clone(),
            };
            out.push(Pack {
                alerts: vec![alert(
                    naming::ALERT_RESTORE_DRILL_FAILED,
                    SeverityLevel::Critical,
                    condition.expr(SeverityLevel::Critical),
                    0,
                    format!("The latest restore drill of {name} failed"),
                    format!(
                        "The CronJob {cronjob} could not restore a scratch cluster from the backups of {name} into a ready database; the backups may not be restorable. See `kubectl logs job/<job>` and the operator's events of cluster {cronjob}."
                    ),
                )],
                condition,
            });
        }
        let condition = Condition::WalArchivingFailing {
            namespace,
            service: name.to_owned(),
        };
        out.push(Pack {
            alerts: vec![alert(
                naming::ALERT_WAL_ARCHIVING_FAILING,
                SeverityLevel::Critical,
                condition.expr(SeverityLevel::Critical),
                0,
                format!("{name} fails to archive its WAL"),
                format!(
                    "PostgreSQL of {name} failed to archive WAL in the last ten minutes: point-in-time recovery lacks what is not archived, and the WAL fills the volume."
                ),
            )],
            condition,
        });
    }
    out
}

/// A custom rule of the spec.
fn custom_rule(env: &Environment, r: &ir::AlertRule) -> Alert {
    Alert {
        name: r.name.clone(),
        expr: r.expr.clone(),
        for_ms: r.for_ms,
        labels: naming::alert_labels(env, None, r.team.as_deref(), r.severity),
        annotations: annotations(
            env,
            &r.name,
            r.summary
                .as_deref()
                .map_or_else(|| r.name.clone(), |s| gotmpl::literal(s).into_owned()),
            r.description.as_deref().map_or_else(
                || format!("{} fired in {}.", r.name, env.name),
                |d| gotmpl::literal(d).into_owned(),
            ),
        ),
    }
}
