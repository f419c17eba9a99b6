//! What each threshold measures: its PromQL, and the input series that make that PromQL
//! return a chosen value.
//!
//! The two live side by side on purpose. The unit tests feed a threshold alert the series
//! that yield a value just above or just below its level; that only proves something if the
//! expression and the series that drive it are designed together, so every expression here
//! aggregates to a single series without labels (plinth's own labels are then the alert's
//! whole label set) and is exact for the series `inputs` writes.
//!
//! Series and label names are those of the exporters named in the README: cAdvisor and
//! kube-state-metrics (as shipped with kube-prometheus-stack), the kubelet's volume stats,
//! postgres_exporter (a StatefulSet store) or CloudNativePG's instance exporter with its
//! default queries at 1.30 (`config/manager/default-monitoring.yaml`: `cnpg_backends_total`,
//! `cnpg_pg_settings_setting`, `cnpg_pg_replication_lag`; the generated PodMonitor adds the
//! `service` label), redis_exporter, and an application's own `http_requests_total` and
//! `http_request_duration_seconds` with `namespace` and `service` labels.

use std::collections::BTreeMap;

use crate::ir::SeverityLevel;

/// Where the series an expression reads come from. A rule is generated only where every
/// source it reads exists, or it would stay silent whatever happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// The Kubernetes monitoring stack: kube-state-metrics, cAdvisor and the kubelet's
    /// volume stats, as kube-prometheus-stack installs them.
    Kubernetes,
    /// The workload's own metrics endpoint: `http_requests_total` and
    /// `http_request_duration_seconds` of an application.
    Application,
    /// An exporter scraped at the data store's metrics endpoint (postgres_exporter,
    /// redis_exporter).
    Exporter,
}

/// How a level and a value are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A percentage, 0 to 100.
    Percent,
    /// Seconds.
    Seconds,
    /// A plain number (custom thresholds).
    Number,
}

/// The measurement behind a threshold alert, for one workload.
#[derive(Clone, Debug)]
pub(crate) enum Signal {
    /// CPU use in percent of the CPU limit, averaged over the workload's pods.
    Cpu {
        /// Namespace.
        namespace: String,
        /// Container name (the workload's name).
        container: String,
        /// CPU limit per pod, in cores.
        limit_cores: f64,
    },
    /// Memory working set in percent of the memory limit, of the fullest pod.
    Memory {
        /// Namespace.
        namespace: String,
        /// Container name.
        container: String,
        /// Memory limit per pod, in bytes.
        limit_bytes: f64,
    },
    /// Share of requests answered with a 5xx status, in percent.
    ErrorRate {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
        /// The request counter.
        requests: String,
        /// Its label holding the status code.
        status_label: String,
    },
    /// 95th percentile of request duration, in seconds whatever the histogram's unit.
    LatencyP95 {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
        /// The histogram's bucket series (`<histogram>_bucket`).
        buckets: String,
        /// The histogram's units per second (1, or 1000 for milliseconds).
        per_second: f64,
    },
    /// Used space of the fullest persistent volume claim, in percent.
    Disk {
        /// Namespace.
        namespace: String,
        /// Regular expression matching the workload's claims.
        claims: String,
        /// One claim name the pattern matches, for the test series.
        claim: String,
        /// Claim size in bytes.
        capacity_bytes: f64,
    },
    /// Connections of the busiest PostgreSQL instance, in percent of `max_connections`.
    DbConnections {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
        /// Whether CloudNativePG runs the store: its instances export `cnpg_*` series.
        operated: bool,
    },
    /// Replication lag of the furthest-behind PostgreSQL replica, in seconds.
    ReplicationLag {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
        /// Whether CloudNativePG runs the store.
        operated: bool,
    },
    /// Redis dataset size in percent of the container's memory limit.
    RedisMemory {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label and container name.
        service: String,
        /// Memory limit per pod, in bytes.
        limit_bytes: f64,
    },
    /// A custom threshold's value (the highest of its series), recorded by a recording rule
    /// beside the alert.
    Recorded {
        /// Recorded series name.
        metric: String,
        /// Labels the recording rule sets.
        labels: BTreeMap<String, String>,
    },
}

/// One input series of a promtool test, in its own notation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Input {
    /// `metric{label="value",…}`.
    pub series: String,
    /// Expanding notation, e.g. `0+60x20` (a counter) or `42x20` (a constant).
    pub values: String,
}

/// Requests per one-minute test interval fed to request counters and histograms.
const REQUESTS_PER_INTERVAL: f64 = 100.0;
/// `max_connections` of the test PostgreSQL instance.
const MAX_CONNECTIONS: f64 = 100.0;

/// `metric{k="v",…}` with label values escaped as PromQL string literals.
pub(crate) fn selector(metric: &str, labels: &[(&str, &str)]) -> String {
    // One buffer for the whole selector: at 1,000 services there are some 100,000 of them,
    // and a string per matcher was a twentieth of building every target.
    let size: usize = labels.iter().map(|(k, v)| k.len() + v.len() + 5).sum();
    let mut out = String::with_capacity(metric.len() + 2 + size);
    out.push_str(metric);
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A `=~` prefix on the name marks a regular-expression matcher.
        let (k, op) = match k.strip_prefix('~') {
            Some(k) => (k, "=~"),
            None => (*k, "="),
        };
        out.push_str(k);
        out.push_str(op);
        quote_into(&mut out, v);
    }
    out.push('}');
    out
}

/// Appends `v` to `out` as a PromQL double-quoted string literal.
fn quote_into(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// A number as PromQL and promtool read it: at most nine decimals, no exponent, no trailing
/// zeros (`0.5`, `70`, `0.001`).
pub(crate) fn num(v: f64) -> String {
    // Whole numbers, most levels and sample values, skip the exact decimal expansion.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return (v as i64).to_string();
    }
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

impl Signal {
    /// Where the series this signal reads come from; a recorded (custom) signal reads what
    /// its author wrote, which plinth cannot know.
    pub fn sources(&self) -> &'static [Source] {
        match self {
            Signal::Cpu { .. } | Signal::Memory { .. } | Signal::Disk { .. } => {
                &[Source::Kubernetes]
            }
            Signal::ErrorRate { .. } | Signal::LatencyP95 { .. } => &[Source::Application],
            Signal::DbConnections { .. } | Signal::ReplicationLag { .. } => &[Source::Exporter],
            Signal::RedisMemory { .. } => &[Source::Exporter, Source::Kubernetes],
            Signal::Recorded { .. } => &[],
        }
    }

    /// The unit of levels and values.
    pub fn unit(&self) -> Unit {
        match self {
            Signal::LatencyP95 { .. } | Signal::ReplicationLag { .. } => Unit::Seconds,
            Signal::Recorded { .. } => Unit::Number,
            _ => Unit::Percent,
        }
    }

    /// Whether the expression takes a `rate()` over `window`, so that it reaches its steady
    /// value only once the window is full of samples.
    pub fn uses_rate(&self) -> bool {
        matches!(
            self,
            Signal::Cpu { .. } | Signal::ErrorRate { .. } | Signal::LatencyP95 { .. }
        )
    }

    /// The values the signal can take: none is negative, and an error rate cannot exceed 100%.
    pub fn bounds(&self) -> (Option<f64>, Option<f64>) {
        match self {
            Signal::Recorded { .. } => (None, None),
            Signal::ErrorRate { .. } => (Some(0.0), Some(100.0)),
            _ => (Some(0.0), None),
        }
    }

    /// The PromQL whose value is compared with the levels, over the rate window `window`.
    pub fn expr(&self, window: &str) -> String {
        match self {
            Signal::Cpu {
                namespace,
                container,
                ..
            } => {
                let sel = [("namespace", namespace.as_str()), ("container", container)];
                format!(
                    "100 * sum(rate({}[{window}]))\n  / sum({})",
                    selector("container_cpu_usage_seconds_total", &sel),
                    selector(
                        "kube_pod_container_resource_limits",
                        &[sel[0], sel[1], ("resource", "cpu")]
                    ),
                )
            }
            Signal::Memory {
                namespace,
                container,
                ..
            } => {
                let sel = [("namespace", namespace.as_str()), ("container", container)];
                format!(
                    "100 * max(\n  max by (pod) ({})\n    / max by (pod) ({})\n)",
                    selector("container_memory_working_set_bytes", &sel),
                    selector(
                        "kube_pod_container_resource_limits",
                        &[sel[0], sel[1], ("resource", "memory")]
                    ),
                )
            }
            Signal::ErrorRate {
                namespace,
                service,
                requests,
                status_label,
            } => {
                let sel = [("namespace", namespace.as_str()), ("service", service)];
                let status = format!("~{status_label}");
                format!(
                    "100 * sum(rate({}[{window}]))\n  / sum(rate({}[{window}]))",
                    selector(requests, &[sel[0], sel[1], (&status, "5..")]),
                    selector(requests, &sel),
                )
            }
            Signal::LatencyP95 {
                namespace,
                service,
                buckets,
                per_second,
            } => {
                let quantile = format!(
                    "histogram_quantile(0.95,\n  sum by (le) (rate({}[{window}]))\n)",
                    selector(buckets, &[("namespace", namespace), ("service", service)]),
                );
                // A histogram in another unit is brought to seconds, the unit of the levels.
                if *per_second == 1.0 {
                    quantile
                } else {
                    format!("{quantile}\n/ {}", num(*per_second))
                }
            }
            Signal::Disk {
                namespace, claims, ..
            } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("~persistentvolumeclaim", claims),
                ];
                format!(
                    "100 * max(\n  {}\n    / {}\n)",
                    selector("kubelet_volume_stats_used_bytes", &sel),
                    selector("kubelet_volume_stats_capacity_bytes", &sel),
                )
            }
            Signal::DbConnections {
                namespace,
                service,
                operated: true,
            } => {
                // The operator's default queries: `backends` per database, user and state,
                // and `pg_settings` per setting name, per instance pod.
                let sel = [("namespace", namespace.as_str()), ("service", service)];
                format!(
                    "100 * max(\n  sum by (pod) ({})\n    / max by (pod) ({})\n)",
                    selector("cnpg_backends_total", &sel),
                    selector(
                        "cnpg_pg_settings_setting",
                        &[sel[0], sel[1], ("name", "max_connections")]
                    ),
                )
            }
            Signal::ReplicationLag {
                namespace,
                service,
                operated: true,
            } => format!(
                "max({})",
                selector(
                    "cnpg_pg_replication_lag",
                    &[("namespace", namespace), ("service", service)]
                ),
            ),
            Signal::DbConnections {
                namespace, service, ..
            } => {
                let sel = [("namespace", namespace.as_str()), ("service", service)];
                format!(
                    "100 * max(\n  sum by (instance) ({})\n    / max by (instance) ({})\n)",
                    selector("pg_stat_database_numbackends", &sel),
                    selector("pg_settings_max_connections", &sel),
                )
            }
            Signal::ReplicationLag {
                namespace, service, ..
            } => format!(
                "max({})",
                selector(
                    "pg_replication_lag_seconds",
                    &[("namespace", namespace), ("service", service)]
                ),
            ),
            Signal::RedisMemory {
                namespace, service, ..
            } => format!(
                "100 * max({})\n  / max({})",
                selector(
                    "redis_memory_used_bytes",
                    &[("namespace", namespace), ("service", service)]
                ),
                selector(
                    "kube_pod_container_resource_limits",
                    &[
                        ("namespace", namespace),
                        ("container", service),
                        ("resource", "memory")
                    ]
                ),
            ),
            Signal::Recorded { metric, labels } => {
                let sel: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                // The highest series, so that the alert has plinth's labels only.
                format!("max({})", selector(metric, &sel))
            }
        }
    }

    /// Input series, one sample per minute for `samples` samples, on which `expr` evaluates
    /// to `value` once a rate window of samples exists. Byte counts are rounded to whole
    /// bytes, which moves a percentage by far less than the two decimals the tests compare.
    pub fn inputs(&self, value: f64, samples: u64) -> Vec<Input> {
        let n = samples.saturating_sub(1);
        let constant = |series: String, v: f64| Input {
            series,
            values: format!("{}x{n}", num(v)),
        };
        // A counter growing by `step` per one-minute interval.
        let counter = |series: String, step: f64| Input {
            series,
            values: format!("0+{}x{n}", num(step)),
        };
        match self {
            Signal::Cpu {
                namespace,
                container,
                limit_cores,
            } => {
                let pod = format!("{container}-0");
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("pod", pod.as_str()),
                    ("container", container),
                ];
                vec![
                    counter(
                        selector("container_cpu_usage_seconds_total", &sel),
                        value / 100.0 * limit_cores * 60.0,
                    ),
                    constant(
                        selector(
                            "kube_pod_container_resource_limits",
                            &[
                                sel[0],
                                sel[1],
                                sel[2],
                                ("resource", "cpu"),
                                ("unit", "core"),
                            ],
                        ),
                        *limit_cores,
                    ),
                ]
            }
            Signal::Memory {
                namespace,
                container,
                limit_bytes,
            } => {
                let pod = format!("{container}-0");
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("pod", pod.as_str()),
                    ("container", container),
                ];
                vec![
                    constant(
                        selector("container_memory_working_set_bytes", &sel),
                        (value / 100.0 * limit_bytes).round(),
                    ),
                    memory_limit(namespace, container, *limit_bytes, n),
                ]
            }
            Signal::ErrorRate {
                namespace,
                service,
                requests,
                status_label,
            } => {
                let failed = value / 100.0 * REQUESTS_PER_INTERVAL;
                let with_code = |code: &str| {
                    selector(
                        requests,
                        &[
                            ("namespace", namespace),
                            ("service", service),
                            (status_label, code),
                        ],
                    )
                };
                vec![
                    counter(with_code("500"), failed),
                    counter(with_code("200"), REQUESTS_PER_INTERVAL - failed),
                ]
            }
            Signal::LatencyP95 {
                namespace,
                service,
                buckets,
                per_second,
            } => {
                // Every request lands in one finite bucket starting at 0, so
                // histogram_quantile interpolates to 0.95 of its upper bound, written in the
                // histogram's unit.
                let bucket = |le: &str| {
                    selector(
                        buckets,
                        &[("namespace", namespace), ("service", service), ("le", le)],
                    )
                };
                vec![
                    counter(
                        bucket(&num(value * per_second / 0.95)),
                        REQUESTS_PER_INTERVAL,
                    ),
                    counter(bucket("+Inf"), REQUESTS_PER_INTERVAL),
                ]
            }
            Signal::Disk {
                namespace,
                claim,
                capacity_bytes,
                ..
            } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("persistentvolumeclaim", claim),
                ];
                vec![
                    constant(
                        selector("kubelet_volume_stats_used_bytes", &sel),
                        (value / 100.0 * capacity_bytes).round(),
                    ),
                    constant(
                        selector("kubelet_volume_stats_capacity_bytes", &sel),
                        *capacity_bytes,
                    ),
                ]
            }
            Signal::DbConnections {
                namespace,
                service,
                operated: true,
            } => {
                let pod = format!("{service}-1");
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("service", service),
                    ("pod", pod.as_str()),
                ];
                vec![
                    constant(
                        selector(
                            "cnpg_backends_total",
                            &[
                                sel[0],
                                sel[1],
                                sel[2],
                                ("datname", "app"),
                                ("state", "active"),
                            ],
                        ),
                        value / 100.0 * MAX_CONNECTIONS,
                    ),
                    constant(
                        selector(
                            "cnpg_pg_settings_setting",
                            &[sel[0], sel[1], sel[2], ("name", "max_connections")],
                        ),
                        MAX_CONNECTIONS,
                    ),
                ]
            }
            Signal::ReplicationLag {
                namespace,
                service,
                operated: true,
            } => {
                let pod = format!("{service}-2");
                vec![constant(
                    selector(
                        "cnpg_pg_replication_lag",
                        &[
                            ("namespace", namespace),
                            ("service", service),
                            ("pod", &pod),
                        ],
                    ),
                    value,
                )]
            }
            Signal::DbConnections {
                namespace, service, ..
            } => {
                let instance = format!("{service}-0");
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("service", service),
                    ("instance", instance.as_str()),
                ];
                vec![
                    constant(
                        selector(
                            "pg_stat_database_numbackends",
                            &[sel[0], sel[1], sel[2], ("datname", "app")],
                        ),
                        value / 100.0 * MAX_CONNECTIONS,
                    ),
                    constant(
                        selector("pg_settings_max_connections", &sel),
                        MAX_CONNECTIONS,
                    ),
                ]
            }
            Signal::ReplicationLag {
                namespace, service, ..
            } => {
                let instance = format!("{service}-1");
                vec![constant(
                    selector(
                        "pg_replication_lag_seconds",
                        &[
                            ("namespace", namespace),
                            ("service", service),
                            ("instance", &instance),
                        ],
                    ),
                    value,
                )]
            }
            Signal::RedisMemory {
                namespace,
                service,
                limit_bytes,
            } => {
                let instance = format!("{service}-0");
                vec![
                    constant(
                        selector(
                            "redis_memory_used_bytes",
                            &[
                                ("namespace", namespace),
                                ("service", service),
                                ("instance", &instance),
                            ],
                        ),
                        (value / 100.0 * limit_bytes).round(),
                    ),
                    memory_limit(namespace, service, *limit_bytes, n),
                ]
            }
            Signal::Recorded { metric, labels } => {
                let sel: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                vec![constant(selector(metric, &sel), value)]
            }
        }
    }
}

/// The condition behind a built-in alert of one workload.
#[derive(Clone, Debug)]
pub(crate) enum Condition {
    /// Scrape targets down: some (warning) or all (critical).
    TargetDown {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
    },
    /// A container waiting in `CrashLoopBackOff`.
    CrashLooping {
        /// Namespace.
        namespace: String,
        /// Container name.
        container: String,
    },
    /// The autoscaler at its maximum.
    AtMaxReplicas {
        /// Namespace.
        namespace: String,
        /// HorizontalPodAutoscaler name.
        autoscaler: String,
        /// Its maximum, for the test series.
        max: u32,
    },
    /// A volume with less than 15% left that, at the rate of the last six hours, fills up
    /// within four days.
    VolumeFillingUp {
        /// Namespace.
        namespace: String,
        /// Regular expression matching the workload's claims.
        claims: String,
        /// One claim name the pattern matches, for the test series.
        claim: String,
        /// Claim size in bytes.
        capacity_bytes: f64,
    },
    /// The latest Job of a backup CronJob failed (kube-state-metrics): the newest start
    /// time among the Jobs that failed is the newest start time of all its Jobs, so an
    /// older failure that a later run made good does not fire.
    BackupJobFailed {
        /// Namespace.
        namespace: String,
        /// CronJob name; its Jobs are named `<cronjob>-<minutes since the epoch>`.
        cronjob: String,
    },
    /// A backup CronJob's next run is more than an hour past its time (kube-state-metrics'
    /// `kube_cronjob_next_schedule_time`): the controller skipped it, the CronJob is
    /// suspended, or a previous run still holds it (`concurrencyPolicy: Forbid`).
    BackupJobLate {
        /// Namespace.
        namespace: String,
        /// CronJob name.
        cronjob: String,
    },
    /// CloudNativePG's latest base backup through the barman-cloud plugin failed: the
    /// plugin's timestamp of the last failed backup is newer than that of the last
    /// available one (the operator's own `cnpg_collector_*` backup series stay 0 with a
    /// plugin).
    BaseBackupFailed {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label (the cluster's name).
        service: String,
    },
    /// PostgreSQL failed to archive WAL in the last ten minutes
    /// (`cnpg_pg_stat_archiver_failed_count`, from `pg_stat_archiver`): point-in-time
    /// recovery loses what is not archived, and unarchived WAL fills the volume.
    WalArchivingFailing {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
    },
    /// Fewer replicas follow a replicated Redis's primary than the store runs
    /// (redis_exporter's `redis_connected_slaves`, which the primary reports and a replica
    /// reports as 0): a node is down or cannot sync, and one more loss leaves Sentinel no
    /// replica to promote.
    RedisReplicasDetached {
        /// Namespace.
        namespace: String,
        /// Value of the `service` label.
        service: String,
        /// The replicas the primary should have.
        replicas: u32,
    },
}

/// Start time of the older of the two backup Jobs of the tests, in seconds.
const OLDER_JOB_START: f64 = 100.0;

/// Start time of the newer of the two backup Jobs of the tests, in seconds.
const NEWER_JOB_START: f64 = 200.0;

/// How the unit tests drive a built-in alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drive {
    /// The condition holds fully (every target down).
    Full,
    /// The condition holds in part (one of two targets down); the same as `Full` for
    /// conditions without parts.
    Partial,
    /// The condition does not hold.
    Healthy,
}

impl Condition {
    /// Where the series this condition reads come from. `up` is written by Prometheus itself
    /// for every target it scrapes, so a scrape target alert needs only the endpoint.
    pub fn sources(&self) -> &'static [Source] {
        match self {
            Condition::TargetDown { .. } => &[],
            Condition::CrashLooping { .. }
            | Condition::AtMaxReplicas { .. }
            | Condition::VolumeFillingUp { .. }
            | Condition::BackupJobFailed { .. }
            | Condition::BackupJobLate { .. } => &[Source::Kubernetes],
            Condition::BaseBackupFailed { .. }
            | Condition::WalArchivingFailing { .. }
            | Condition::RedisReplicasDetached { .. } => &[Source::Exporter],
        }
    }

    /// The alert expression at `severity`.
    pub fn expr(&self, severity: SeverityLevel) -> String {
        match self {
            Condition::TargetDown { namespace, service } => {
                let up = selector("up", &[("namespace", namespace), ("service", service)]);
                if severity == SeverityLevel::Critical {
                    format!("max({up}) == 0")
                } else {
                    format!("sum(1 - {up}) > 0")
                }
            }
            Condition::CrashLooping {
                namespace,
                container,
            } => format!(
                "max(max_over_time({}[5m])) >= 1",
                selector(
                    "kube_pod_container_status_waiting_reason",
                    &[
                        ("namespace", namespace),
                        ("container", container),
                        ("reason", "CrashLoopBackOff")
                    ],
                )
            ),
            Condition::AtMaxReplicas {
                namespace,
                autoscaler,
                ..
            } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("horizontalpodautoscaler", autoscaler),
                ];
                format!(
                    "max({})\n>= max({})",
                    selector("kube_horizontalpodautoscaler_status_current_replicas", &sel),
                    selector("kube_horizontalpodautoscaler_spec_max_replicas", &sel),
                )
            }
            Condition::VolumeFillingUp {
                namespace, claims, ..
            } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("~persistentvolumeclaim", claims),
                ];
                let available = selector("kubelet_volume_stats_available_bytes", &sel);
                format!(
                    "min(\n  {available}\n    / {}\n    < 0.15\n  and\n  predict_linear({available}[6h], 4 * 24 * 3600) < 0\n)",
                    selector("kubelet_volume_stats_capacity_bytes", &sel),
                )
            }
            Condition::BackupJobFailed { namespace, cronjob } => {
                let jobs = format!("{cronjob}-[0-9]+");
                let sel = [("namespace", namespace.as_str()), ("~job_name", &jobs)];
                let started = selector("kube_job_status_start_time", &sel);
                format!(
                    "max(\n  {started}\n  * on(namespace, job_name) {}\n)\n>= max({started})",
                    selector(
                        "kube_job_failed",
                        &[
                            ("namespace", namespace),
                            ("~job_name", &jobs),
                            ("condition", "true")
                        ]
                    ),
                )
            }
            Condition::BackupJobLate { namespace, cronjob } => format!(
                "time() - max({}) > 3600",
                selector(
                    "kube_cronjob_next_schedule_time",
                    &[("namespace", namespace), ("cronjob", cronjob)]
                )
            ),
            Condition::BaseBackupFailed { namespace, service } => {
                let sel = [("namespace", namespace.as_str()), ("service", service)];
                format!(
                    "max({})\n> max({})",
                    selector(
                        "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
                        &sel
                    ),
                    selector(
                        "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
                        &sel
                    ),
                )
            }
            Condition::WalArchivingFailing { namespace, service } => format!(
                "max(increase({}[10m])) > 0",
                selector(
                    "cnpg_pg_stat_archiver_failed_count",
                    &[("namespace", namespace), ("service", service)]
                )
            ),
            Condition::RedisReplicasDetached {
                namespace,
                service,
                replicas,
            } => format!(
                "max({}) < {replicas}",
                selector(
                    "redis_connected_slaves",
                    &[("namespace", namespace), ("service", service)]
                )
            ),
        }
    }

    /// When the expression first holds while the condition does, in milliseconds from the
    /// first sample: `predict_linear` needs two samples, the others one.
    pub fn active_from(&self) -> u64 {
        match self {
            Condition::VolumeFillingUp { .. } | Condition::WalArchivingFailing { .. } => 60_000,
            _ => 0,
        }
    }

    /// The value of the warning alert under `drive`, for `{{ $value }}` in its annotations.
    pub fn value(&self, drive: Drive) -> f64 {
        match (self, drive) {
            (Condition::TargetDown { .. }, Drive::Full) => 2.0,
            (Condition::BackupJobFailed { .. }, _) => NEWER_JOB_START,
            (Condition::BaseBackupFailed { .. }, _) => NEWER_JOB_START,
            _ => 1.0,
        }
    }

    /// Which of the alerts fire under `drive`: (warning, critical).
    pub fn fires(&self, drive: Drive) -> (bool, bool) {
        match (self, drive) {
            (_, Drive::Healthy) => (false, false),
            (Condition::TargetDown { .. }, Drive::Partial) => (true, false),
            _ => (true, true),
        }
    }

    /// Input series with one sample per minute for `samples` samples.
    pub fn inputs(&self, drive: Drive, samples: u64) -> Vec<Input> {
        let n = samples.saturating_sub(1);
        let constant = |series: String, v: f64| Input {
            series,
            values: format!("{}x{n}", num(v)),
        };
        let bad = drive != Drive::Healthy;
        match self {
            Condition::TargetDown { namespace, service } => (0..2)
                .map(|i| {
                    let instance = format!("{service}-{i}");
                    let down = match drive {
                        Drive::Full => true,
                        Drive::Partial => i == 0,
                        Drive::Healthy => false,
                    };
                    constant(
                        selector(
                            "up",
                            &[
                                ("namespace", namespace),
                                ("service", service),
                                ("instance", &instance),
                            ],
                        ),
                        if down { 0.0 } else { 1.0 },
                    )
                })
                .collect(),
            Condition::CrashLooping {
                namespace,
                container,
            } => {
                let pod = format!("{container}-0");
                vec![constant(
                    selector(
                        "kube_pod_container_status_waiting_reason",
                        &[
                            ("namespace", namespace),
                            ("pod", &pod),
                            ("container", container),
                            ("reason", "CrashLoopBackOff"),
                        ],
                    ),
                    if bad { 1.0 } else { 0.0 },
                )]
            }
            Condition::AtMaxReplicas {
                namespace,
                autoscaler,
                max,
            } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("horizontalpodautoscaler", autoscaler),
                ];
                let max = f64::from(*max);
                vec![
                    constant(
                        selector("kube_horizontalpodautoscaler_status_current_replicas", &sel),
                        if bad { max } else { max - 1.0 },
                    ),
                    constant(
                        selector("kube_horizontalpodautoscaler_spec_max_replicas", &sel),
                        max,
                    ),
                ]
            }
            Condition::VolumeFillingUp {
                namespace,
                claim,
                capacity_bytes,
                ..
            } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("persistentvolumeclaim", claim),
                ];
                // Filling: 14% left, a thousandth of the volume more used every minute.
                // Healthy: half full and steady.
                let available = if bad {
                    Input {
                        series: selector("kubelet_volume_stats_available_bytes", &sel),
                        values: format!(
                            "{}-{}x{n}",
                            num((capacity_bytes * 0.14).round()),
                            num((capacity_bytes * 0.001).round())
                        ),
                    }
                } else {
                    constant(
                        selector("kubelet_volume_stats_available_bytes", &sel),
                        (capacity_bytes * 0.5).round(),
                    )
                };
                vec![
                    available,
                    constant(
                        selector("kubelet_volume_stats_capacity_bytes", &sel),
                        *capacity_bytes,
                    ),
                ]
            }
            Condition::BackupJobFailed { namespace, cronjob } => {
                // Two Jobs: the older failed (and must not fire), the newer failed or
                // succeeded (no `kube_job_failed{condition="true"}` of 1).
                let mut inputs = Vec::new();
                for (start, failed) in [(OLDER_JOB_START, true), (NEWER_JOB_START, bad)] {
                    let job = format!("{cronjob}-{}", num(start));
                    let sel = [("namespace", namespace.as_str()), ("job_name", &job)];
                    inputs.push(constant(
                        selector("kube_job_status_start_time", &sel),
                        start,
                    ));
                    inputs.push(constant(
                        selector(
                            "kube_job_failed",
                            &[
                                ("namespace", namespace),
                                ("job_name", &job),
                                ("condition", "true"),
                            ],
                        ),
                        if failed { 1.0 } else { 0.0 },
                    ));
                }
                inputs
            }
            Condition::BackupJobLate { namespace, cronjob } => vec![constant(
                selector(
                    "kube_cronjob_next_schedule_time",
                    &[("namespace", namespace), ("cronjob", cronjob)],
                ),
                // Two hours before the tests start, or a day after.
                if bad { -7200.0 } else { 86_400.0 },
            )],
            Condition::BaseBackupFailed { namespace, service } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("service", service.as_str()),
                ];
                let (failed, available) = if bad {
                    (NEWER_JOB_START, OLDER_JOB_START)
                } else {
                    (OLDER_JOB_START, NEWER_JOB_START)
                };
                vec![
                    constant(
                        selector(
                            "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
                            &sel,
                        ),
                        failed,
                    ),
                    constant(
                        selector(
                            "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
                            &sel,
                        ),
                        available,
                    ),
                ]
            }
            Condition::RedisReplicasDetached {
                namespace,
                service,
                replicas,
            } => {
                // The primary (pod 0) reports its followers, one short of all of them when
                // the condition holds; each replica reports none.
                let all = f64::from(*replicas);
                (0..=*replicas)
                    .map(|i| {
                        let pod = format!("{service}-{i}");
                        let followers = match (i, bad) {
                            (0, true) => all - 1.0,
                            (0, false) => all,
                            _ => 0.0,
                        };
                        constant(
                            selector(
                                "redis_connected_slaves",
                                &[
                                    ("namespace", namespace),
                                    ("service", service),
                                    ("pod", &pod),
                                ],
                            ),
                            followers,
                        )
                    })
                    .collect()
            }
            Condition::WalArchivingFailing { namespace, service } => {
                let sel = [
                    ("namespace", namespace.as_str()),
                    ("service", service.as_str()),
                ];
                vec![Input {
                    series: selector("cnpg_pg_stat_archiver_failed_count", &sel),
                    // One more failure every minute, or none.
                    values: if bad {
                        format!("0+1x{n}")
                    } else {
                        format!("3x{n}")
                    },
                }]
            }
        }
    }
}

/// kube-state-metrics' memory limit of a workload's first pod. The memory and Redis signals
/// both read it, with the same labels and value, so the tests write it once.
fn memory_limit(namespace: &str, container: &str, limit_bytes: f64, n: u64) -> Input {
    let pod = format!("{container}-0");
    Input {
        series: selector(
            "kube_pod_container_resource_limits",
            &[
                ("namespace", namespace),
                ("pod", &pod),
                ("container", container),
                ("resource", "memory"),
                ("unit", "byte"),
            ],
        ),
        values: format!("{}x{n}", num(limit_bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_no_exponent_or_trailing_zeros() {
        assert_eq!(num(70.0), "70");
        assert_eq!(num(0.001), "0.001");
        assert_eq!(num(0.5 / 0.95), "0.526315789");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(17_179_869_184.0), "17179869184");
        assert_eq!(num(-3.0), "-3");
        assert_eq!(num(1e20), "100000000000000000000");
        assert_eq!(num(-0.0000000001), "0");
    }

    #[test]
    fn selectors_escape_values() {
        assert_eq!(
            selector("m", &[("a", "x\"y"), ("~b", "5..")]),
            r#"m{a="x\"y",b=~"5.."}"#
        );
        assert_eq!(selector("m", &[("a", r"a\b")]), r#"m{a="a\\b"}"#);
    }
}
