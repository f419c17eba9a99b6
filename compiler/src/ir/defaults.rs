//! Every default plinth applies, in one place, so the documentation and `explain` agree
//! with the code.

use crate::units::IntOrPercent;

/// CPU request when none is given: 100m.
pub const CPU_REQUEST: i64 = 100;
/// CPU limit when none is given: 500m.
pub const CPU_LIMIT: i64 = 500;
/// Memory request when none is given: 128Mi.
pub const MEMORY_REQUEST: i128 = 128 << 20;
/// Memory limit when none is given: 512Mi.
pub const MEMORY_LIMIT: i128 = 512 << 20;
/// Replicas of a service without `replicas` or `autoscaling`.
pub const REPLICAS: u32 = 1;
/// Autoscaling minimum when only `max` is given.
pub const AUTOSCALE_MIN: u32 = 1;
/// Probe period in seconds.
pub const PROBE_PERIOD: u32 = 10;
/// Probe timeout in seconds.
pub const PROBE_TIMEOUT: u32 = 1;
/// Probe failures before acting.
pub const PROBE_FAILURES: u32 = 3;
/// Surge during rolling updates: one extra pod, so capacity never drops.
pub const MAX_SURGE: IntOrPercent = IntOrPercent::Int(1);
/// A canary without `steps`: 10% of traffic for five minutes, then 50% for five minutes,
/// then promotion; each pause gives the background analysis time to see the canary.
pub const CANARY_STEPS: [(u8, u64); 2] = [(10, 300), (50, 300)];
/// How long a blue-green update keeps the old version after promotion (Argo Rollouts'
/// own default), so clients that resolved its pods finish.
pub const SCALE_DOWN_DELAY_SECONDS: u64 = 30;
/// Unavailability during rolling updates: none.
pub const MAX_UNAVAILABLE: IntOrPercent = IntOrPercent::Int(0);
/// Disruption budget of workloads that can run more than one replica.
pub const BUDGET_MAX_UNAVAILABLE: IntOrPercent = IntOrPercent::Int(1);
/// User and group id of every container; above the range of host system users.
pub const RUN_AS_USER: i64 = 10001;
/// Host port of the Compose Grafana: Grafana's own port.
pub const GRAFANA_PORT: u16 = 3000;
/// Ingress class.
pub const INGRESS_CLASS: &str = crate::units::INGRESS_CLASS;
/// Namespace of the ingress controller.
pub const INGRESS_NAMESPACE: &str = crate::units::INGRESS_NAMESPACE;
/// Namespace of Envoy Gateway and its proxies.
pub const ENVOY_GATEWAY_NAMESPACE: &str = crate::units::ENVOY_GATEWAY_NAMESPACE;
/// cert-manager ClusterIssuer; plinth generates it (see [`ACME_SERVER`]).
pub const TLS_ISSUER: &str = "letsencrypt";
/// ACME directory of the generated ClusterIssuer: Let's Encrypt production, whose
/// certificates browsers trust (staging certificates are not).
pub const ACME_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// How often an ExternalSecret copies its secret from the store again, so a rotated value
/// reaches the cluster within the hour.
pub const SECRET_REFRESH: &str = "1h";
/// Namespace of Prometheus.
pub const MONITORING_NAMESPACE: &str = crate::units::MONITORING_NAMESPACE;
/// Ingress path.
pub const INGRESS_PATH: &str = "/";
/// Metrics path.
pub const METRICS_PATH: &str = "/metrics";
/// Request counter of an application, as the Prometheus client libraries name it.
pub const REQUESTS_METRIC: &str = "http_requests_total";
/// Label of the request counter holding the HTTP status code.
pub const STATUS_LABEL: &str = "code";
/// Latency histogram in seconds, without `_bucket`.
pub const LATENCY_METRIC_SECONDS: &str = "http_request_duration_seconds";
/// Latency histogram in milliseconds, without `_bucket`.
pub const LATENCY_METRIC_MILLISECONDS: &str = "http_request_duration_milliseconds";
/// Scrape interval: 30 seconds.
pub const SCRAPE_INTERVAL_MS: u64 = 30_000;
/// Metrics retention: 15 days, Prometheus's own default.
pub const RETENTION_MS: u64 = 15 * 86_400_000;
/// How long Alertmanager keeps its notification log and silences: its own default (120h).
pub const ALERTMANAGER_RETENTION_MS: u64 = crate::units::ALERTMANAGER_RETENTION_MS;
/// Share of Prometheus's volume its stored metrics may use by default, in percent: the rest
/// is room for the write-ahead log and compaction, without which a full volume stops it.
pub const RETENTION_SIZE_PERCENT: i128 = 90;
/// Threshold hold duration: 5 minutes.
pub const THRESHOLD_FOR_MS: u64 = 300_000;
/// Levels (warning, critical) of `db_connections`, in percent of `max_connections`, for a
/// PostgreSQL store whose spec sets none (002's alert table).
pub const PACK_DB_CONNECTIONS: (f64, f64) = (80.0, 95.0);
/// Levels of `replication_lag`, in seconds, for a PostgreSQL store with read replicas.
pub const PACK_REPLICATION_LAG: (f64, f64) = (30.0, 120.0);
/// Levels of `redis_memory`, in percent of the container's memory limit, for a Redis store.
pub const PACK_REDIS_MEMORY: (f64, f64) = (80.0, 90.0);
/// SLO window: 30 days.
pub const SLO_WINDOW_MS: u64 = crate::units::SLO_WINDOW_MS;
/// Storage of a data store without a size: 10Gi.
pub const STORAGE: i128 = 10 << 30;
/// Alert grouping labels.
pub const GROUP_BY: &[&str] = &["alertname", "service", "environment"];
/// Alertmanager group wait: 30 seconds.
pub const GROUP_WAIT_MS: u64 = 30_000;
/// Alertmanager group interval: 5 minutes.
pub const GROUP_INTERVAL_MS: u64 = 300_000;
/// Alertmanager repeat interval: 4 hours.
pub const REPEAT_INTERVAL_MS: u64 = 4 * 3_600_000;
/// Name of the only environment of a spec without environments.
pub const DEFAULT_ENVIRONMENT: &str = crate::units::DEFAULT_ENVIRONMENT;
/// The environment Docker Compose runs when no environment is marked `local`.
pub const COMPOSE_ENVIRONMENT: &str = crate::units::COMPOSE_ENVIRONMENT;
/// Kubernetes version of a cluster without one: the newest EKS minor on the calendar of
/// `stdlib/aws/eks-versions.txt` (a test keeps it in standard support there), which the
/// pinned cluster-autoscaler (1.35) matches.
pub const CLUSTER_VERSION: &str = "1.35";
/// VPC CIDR of a network without one.
pub const NETWORK_CIDR: &str = "10.0.0.0/16";
/// Availability zones of a network without a count.
pub const NETWORK_AZS: u32 = 3;
/// Backup retention of a managed data store without a backup setting: 7 days.
pub const MANAGED_BACKUP_RETENTION_DAYS: u32 = 7;
/// RDS instance class of a managed PostgreSQL without `managed.instance_class`.
pub const RDS_INSTANCE_CLASS: &str = "db.t4g.medium";
/// ElastiCache node type of a managed Redis without `managed.instance_class`.
pub const CACHE_NODE_TYPE: &str = "cache.t4g.medium";
/// Key in a secret of a managed store's password when the store declares no secret.
pub const CREDENTIALS_KEY: &str = "password";
