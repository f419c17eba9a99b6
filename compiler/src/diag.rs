//! Diagnostics as data: a stable code, a severity, a primary label on the narrowest span,
//! related labels and help. Rendering (human, JSON, GitHub annotations) lives in `cli/`.
//!
//! Every code plinth can emit is listed once in [`Code`]; codes are never renumbered or
//! reused, so CI configurations and documentation can refer to them.

use crate::source::Span;

/// How bad a diagnostic is. Warnings never fail `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The spec is valid but probably not what was meant.
    Warning,
    /// The spec cannot be compiled.
    Error,
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $name:literal, $summary:literal;)*) => {
        /// Every diagnostic code, with its stable identifier and kebab-case name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// All codes, in numeric order, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable identifier, e.g. `E120`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The rule's name, e.g. `autoscale-min-above-max`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// One sentence saying what the rule catches.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }

            /// Warnings start with `W`; everything else is an error, the proof's findings
            /// (`P`) included, since an output with one would not come up (`--lenient`
            /// lowers those to warnings, see [`Diagnostic::relaxed`]).
            pub fn severity(self) -> Severity {
                if self.id().starts_with('W') { Severity::Warning } else { Severity::Error }
            }

            /// Whether the code is a finding of the closure proof over generated files.
            pub fn is_proof(self) -> bool {
                self.id().starts_with('P')
            }
        }
    };
}

codes! {
    Io = "E001", "io", "the spec file could not be read";
    Internal = "E000", "internal", "a bug in plinth: an emitter failed";
    TomlSyntax = "E002", "toml-syntax", "the file is not valid TOML";
    WrongType = "E003", "wrong-type", "a value has the wrong type";
    UnknownKey = "E004", "unknown-key", "a key that the spec format does not define";
    MissingKey = "E005", "missing-key", "a required key is missing";
    InvalidValue = "E006", "invalid-value", "a value is outside what the key accepts";
    UnsupportedVersion = "E007", "unsupported-version", "the spec's format version is not supported";
    InputLimit = "E008", "input-limit", "the input exceeds a limit plinth enforces";
    UnknownStoreKey = "E009", "unknown-store-key", "a reference to the connection Secret the PostgreSQL operator creates, with a key that Secret does not have";
    PoolingNotPostgres = "E010", "pooling-not-postgres", "`pooling` on a data store that is not PostgreSQL";
    VerifyUnsupported = "E014", "verify-unsupported", "`backup.verify` on a data store whose backups plinth cannot restore into a scratch instance";
    MalformedVerify = "E019", "malformed-verify", "`backup.verify` is neither `daily`, `weekly`, `monthly` nor a cron schedule";
    UnknownBindingStore = "E011", "unknown-binding-store", "a binding from a data store that does not exist or that the service does not depend on";
    UnknownBindingKey = "E012", "unknown-binding-key", "a binding of a connection detail the data store does not offer in that environment";
    FixedPostgresParameter = "E013", "fixed-postgres-parameter", "a PostgreSQL parameter plinth cannot set: one the operator or plinth manages, a malformed name, or a store that is not PostgreSQL";
    InvalidName = "E101", "invalid-name", "a name that Kubernetes and DNS would reject";
    UnknownReference = "E102", "unknown-reference", "a reference to a service, data store, receiver, preset or environment that does not exist";
    DependencyCycle = "E103", "dependency-cycle", "services depend on each other in a cycle";
    DuplicatePortName = "E104", "duplicate-port-name", "two ports of one workload share a name";
    DuplicatePort = "E105", "duplicate-port", "two ports of one workload share a number";
    UndeclaredPort = "E106", "undeclared-port", "a probe, ingress or metrics endpoint names a port the workload does not declare";
    DuplicateName = "E107", "duplicate-name", "a service and a data store share a name";
    AutoscaleMinAboveMax = "E120", "autoscale-min-above-max", "autoscaling minimum is above its maximum";
    ReplicasWithAutoscaler = "E121", "replicas-with-autoscaler", "a fixed replica count fights an autoscaler";
    VpaWithHpa = "E123", "vpa-with-hpa", "a vertical autoscaler that acts on the same CPU or memory a horizontal autoscaler scales on";
    AutoscaleNoMetric = "E122", "autoscale-no-metric", "autoscaling has no metric to scale on";
    RequestAboveLimit = "E130", "request-above-limit", "a resource request is above its limit";
    MalformedQuantity = "E131", "malformed-quantity", "a CPU, memory or storage quantity is malformed";
    MalformedDuration = "E132", "malformed-duration", "a duration is malformed";
    MalformedCron = "E133", "malformed-cron", "a cron schedule is malformed";
    MalformedImage = "E140", "malformed-image", "an image reference is malformed";
    UnpinnedImage = "E141", "unpinned-image", "an image uses `latest` or no tag at all";
    MissingImage = "E142", "missing-image", "a service has no image";
    ScheduleMismatch = "E143", "schedule-mismatch", "a cron job without a schedule, or a schedule on a workload that is not a cron job";
    ProbeShape = "E144", "probe-shape", "a probe must have exactly one of path (HTTP), command (exec) or only a port (TCP)";
    IngressWithoutPort = "E145", "ingress-without-port", "an ingress on a workload with no port to route to";
    InvalidScale = "E146", "invalid-scale", "an environment scale factor outside (0, 10]";
    ManagedWithoutCloud = "E147", "managed-without-cloud", "a managed data store in a spec without a cloud section";
    InvalidPercent = "E148", "invalid-percent", "a percentage outside its valid range";
    UnknownPlaceholder = "E149", "unknown-placeholder", "a `{placeholder}` plinth does not know";
    ThresholdOrder = "E150", "threshold-order", "a warning threshold is not below its critical threshold";
    UnroutedSeverity = "E151", "unrouted-severity", "alerts of a severity that no receiver route catches";
    InvalidPromql = "E152", "invalid-promql", "a PromQL expression does not parse";
    ReceiverConfig = "E153", "receiver-config", "a receiver lacks a field its type needs, or has one it does not use";
    UnknownThreshold = "E154", "unknown-threshold", "a threshold that is neither built in nor given an expression";
    InvalidSlo = "E155", "invalid-slo", "an SLO objective outside (0, 100)";
    PlaintextSecret = "E160", "plaintext-secret", "a value that looks like a secret is written in plain text";
    MalformedSecretRef = "E161", "malformed-secret-ref", "a secret reference names an invalid secret or key";
    MultipleLocalEnvironments = "E170", "multiple-local-environments", "more than one environment sets `local = true`";
    InvalidAllow = "E172", "invalid-allow", "an `allow` entry names no warning, or gives no reason";
    ConfigFileCollision = "E180", "config-file-collision", "two config files that map to one ConfigMap key or one Compose config name";
    SharedNamespace = "E181", "shared-namespace", "two environments deploy into one namespace";
    SharedStateKey = "E182", "shared-state-key", "two environments write one Terraform state";
    GeneratedNameCollision = "E183", "generated-name-collision", "a workload named like an object plinth generates for another (a backup job, a replicated Redis's Service or proxy, a canary or preview Service), sharing its name";
    BucketCollision = "E184", "bucket-collision", "two S3 buckets with the same generated name";
    TlsSecretCollision = "E185", "tls-secret-collision", "two ingress hosts whose TLS secrets have the same generated name";
    SystemNamespace = "E186", "system-namespace", "the platform deploys into a namespace Kubernetes itself uses";
    AddOnNamespace = "E187", "add-on-namespace", "the platform deploys into the namespace of the ingress controller, Prometheus or the log stack";
    SystemNamespacePeer = "E188", "system-namespace-peer", "the ingress or monitoring namespace is one every workload of the cluster may run in";
    InvalidLabel = "E190", "invalid-label", "a label key or value Kubernetes rejects, or a key plinth sets itself";
    InvalidEnvName = "E191", "invalid-env-name", "an environment variable name Kubernetes rejects";
    InvalidConfigKey = "E192", "invalid-config-key", "a config file path whose ConfigMap key Kubernetes rejects";
    InvalidVolumeName = "E193", "invalid-volume-name", "a volume name Kubernetes rejects, reserved by plinth, or used twice";
    InvalidMountPath = "E194", "invalid-mount-path", "a mount path that is not a plain absolute path, or that two mounts share";
    InvalidHttpPath = "E195", "invalid-http-path", "a probe, ingress or metrics path that is not a plain absolute URL path";
    InvalidLabelName = "E197", "invalid-label-name", "an alert label name in `group_by` or a route matcher that Prometheus rejects";
    InvalidSmarthost = "E198", "invalid-smarthost", "an SMTP smarthost that is not `host:port`";
    InvalidCloudName = "E199", "invalid-cloud-name", "a generated AWS name (cluster, database, cache, bucket) longer than AWS allows, or not starting with a letter or with `--` where AWS forbids it";
    MalformedRegion = "E200", "malformed-region", "a cloud region that is not shaped like an AWS region code";
    TooFewAvailabilityZones = "E201", "too-few-availability-zones", "`network.azs` below two: EKS and RDS need subnets in at least two Availability Zones";
    MeshNeedsIstioGateway = "E212", "mesh-needs-istio-gateway", "`platform.mesh` with an edge other than Istio's gateway, whose proxies could not reach services that require mutual TLS";
    TrafficWithoutMesh = "E213", "traffic-without-mesh", "a service's `traffic` policy on a platform without `mesh`, where nothing would apply it";
    GeneratedNameTooLong = "E215", "generated-name-too-long", "a label value or object name plinth derives from the platform's and a workload's names (`<platform>-<name>`, `-backup`, `-proxy`, `-canary`, `-preview`) that is longer than the 63 characters Kubernetes accepts";
    InvalidTraffic = "E214", "invalid-traffic", "a `traffic` value out of range: a count below one, a percentage above 100, a malformed duration, or a per-try timeout longer than the timeout";
    TrafficNotInCompose = "W020", "traffic-not-in-compose", "a service's `traffic` policy or the mesh in an environment that Compose runs, which has no mesh";
    IngressKeyWithGateway = "E203", "ingress-key-with-gateway", "`platform.ingress_class` or `ingress_namespace` set while `platform.gateway` chooses the Gateway API, which does not read them";
    UnknownSecretDeclaration = "E205", "unknown-secret-declaration", "a `[secrets.NAME]` declaration that names no secret the spec references";
    NoAcmeEmail = "E206", "no-acme-email", "the generated Let's Encrypt ClusterIssuer has no account e-mail: `platform.tls_email` is unset and `platform.owner` is not an address";
    InvalidEmail = "E207", "invalid-email", "a `platform.tls_email` that is not an e-mail address";
    DnsWithoutCloud = "E204", "dns-without-cloud", "`dns` on an environment without a cloud that nothing would carry out: a Route 53 zone, or a Cloudflare zone's health checks, certificates or tokens";
    InvalidDnsRecord = "E208", "invalid-dns-record", "a DNS record whose name is outside the zone, whose value its type does not accept, or that clashes with another";
    RedirectHostTaken = "E211", "redirect-host-taken", "a host of an ingress's `redirect_from` that is already a route host or another redirect's host";
    RedirectNotGenerated = "W019", "redirect-not-generated", "`redirect_from` in an environment whose edge is classic Ingress or Compose, where no redirect is generated";
    TooManyTlsHosts = "E210", "too-many-tls-hosts", "more hosts terminating TLS in one environment than the Gateway's listeners can hold (63, one HTTPS listener each)";
    RolloutStrategyKind = "E220", "rollout-strategy-kind", "`rollout.strategy` canary or blue-green on a `cron`, `job` or `stateful` workload, which an Argo Rollouts `Rollout` cannot replace";
    RolloutKeyForStrategy = "E221", "rollout-key-for-strategy", "a `rollout` key the chosen strategy does not read (`steps` without canary, `auto_promote` or `scale_down_delay` without blue-green, `max_surge` or `max_unavailable` with blue-green)";
    CanaryWeights = "E222", "canary-weights", "a canary step weight outside 1 to 100, or not above the step before it";
    RolloutNotModelled = "W025", "rollout-not-modelled", "`rollout.strategy` canary or blue-green in the local environment, which Docker Compose runs without a second version";
    InvalidDnsHealthCheck = "E240", "invalid-dns-health-check", "a Route 53 health check whose interval is not 10 or 30 seconds, whose failure threshold is outside 1 to 10, or whose path is not an absolute path";
    ZoneSignedTwice = "E241", "zone-signed-twice", "two environments sign the same DNS zone with DNSSEC, each with its own key-signing key";
    DnsWithoutZone = "E242", "dns-without-zone", "a `dns` section with records, DNSSEC, health checks or certificates but no `zone`, so none of it is generated";
    WildcardNotCovering = "E243", "wildcard-not-covering", "a TLS route host that the environment's wildcard certificate (the zone and `*.<zone>`) does not cover";
    InvalidRenewBefore = "E244", "invalid-renew-before", "a certificate renewal window that is not a duration from one hour to less than the certificates' 90-day lifetime";
    CloudflareWithoutToken = "E246", "cloudflare-without-token", "a Cloudflare DNS zone without the `api_token` secret reference that Terraform, external-dns and cert-manager need to change it";
    CloudflareOnly = "E247", "cloudflare-only", "`proxy` or `api_token` in a `dns` section whose provider is not Cloudflare";
    InvalidCacheRule = "E248", "invalid-cache-rule", "a cache rule (Cloudflare's or the CDN's) whose path is not a path pattern, whose TTL is not a duration from 1s to 365d, or (CloudFront) that names a host";
    ZoneRulesTwice = "E249", "zone-rules-twice", "two environments set Cloudflare's `proxy` rules on the same zone, which holds one cache and one WAF ruleset";
    ReservedSecretName = "E250", "reserved-secret-name", "a secret reference to a Secret that the environment's Terraform writes for a managed data store (`<store>-connection`, `<store>-password`)";
    CdnHostUnservable = "E251", "cdn-host-unservable", "a route host that an environment's CDN (fronting its hosts from a Route 53 zone) or Cloudflare proxy cannot serve: outside the zone, without TLS, or (CDN) no host short enough for the certificate's common name";
    InvalidAssetsBucket = "E253", "invalid-assets-bucket", "an R2 assets bucket whose host is not a free name of the Cloudflare zone, or whose bucket name is longer than 63 characters";
    CdnOriginTaken = "E252", "cdn-origin-taken", "a route host or DNS record named `origin-<env>.<zone>`, the name the CDN reaches the cluster at";
    ReservedReceiver = "E254", "reserved-receiver", "an alert receiver named like one plinth adds to the Alertmanager configuration (`null`, `unrouted`)";
    WildcardWithoutGateway = "E245", "wildcard-without-gateway", "a wildcard certificate in an environment whose edge is Ingresses, which plinth serves it through only with the Gateway API";
    CdnCertificateQuota = "W041", "cdn-certificate-quota", "a CDN fronting more hosts than an ACM certificate names by default (10)";
    HealthChecksWithoutRoutes = "W040", "health-checks-without-routes", "DNS health checks in an environment where no service has a route host to check";
    UnreachableCdnOrigin = "P020", "unreachable-cdn-origin", "a CloudFront distribution whose origin no route of the output has external-dns publish, or whose certificate leaves one of its host names uncovered";
    UnissuedCertificate = "P019", "unissued-certificate", "a TLS Secret of a Gateway listener or Ingress that no issuer of the output (or the spec's external `tls_issuer`) issues";
    DnsRecordOnRouteHost = "E209", "dns-record-on-route-host", "a DNS record listed for a route host, whose record external-dns owns";
    NoReadinessProbe = "W001", "no-readiness-probe", "a web service has no readiness probe, so it receives traffic before it is ready";
    SecurityOptOut = "W002", "security-opt-out", "a workload opts out of a secure default";
    NoRoutes = "W003", "no-alert-routes", "alerts are generated but no receiver is configured";
    UnusedAllow = "W004", "unused-allow", "an `allow` entry silences no warning of the spec";
    UnknownAwsName = "W005", "unknown-aws-name", "an AWS region or EC2 instance type that this plinth's lists (from botocore) do not have";
    HostOutsideDomain = "W006", "host-outside-domain", "an ingress host that is not under its environment's domain";
    EksVersionUnsupported = "W007", "eks-version-unsupported", "an EKS Kubernetes version out of standard support on this plinth's dated EKS calendar";
    TooManyAvailabilityZones = "W008", "too-many-availability-zones", "`network.azs` asks for more Availability Zones than a new AWS account gets in the region";
    UnusedSecretDeclaration = "W009", "unused-secret-declaration", "a `[secrets.NAME]` declaration for a secret read only in environments without a cloud, where nothing would create it anyway";
    DanglingPort = "P001", "dangling-port", "a generated probe, Service, Ingress or monitor names a port its target does not have";
    SelectsNothing = "P002", "selects-nothing", "a generated Service, monitor or disruption budget selects no pod or Service of the output";
    MissingBackend = "P003", "missing-backend", "a generated Ingress routes to a Service the output does not create";
    MissingScaleTarget = "P004", "missing-scale-target", "a generated autoscaler targets a workload the output does not create";
    UnproducedSecret = "P005", "unproduced-secret", "a Secret that a pod or upstream chart reads and nothing in the output creates";
    UninstalledCrd = "P006", "uninstalled-crd", "a custom resource whose CRDs no release of the environment's Terraform installs";
    CrdInstalledLate = "P007", "crd-installed-late", "a custom resource applied by a release not ordered after the release that installs its CRDs";
    NoStorageClass = "P008", "no-storage-class", "a volume claim names no StorageClass the output creates, and the output makes none the default";
    NoEbsCsiDriver = "P009", "no-ebs-csi-driver", "volume claims on an EKS cluster without the EBS CSI driver add-on";
    NoMetricsServer = "P010", "no-metrics-server", "an autoscaler on resource metrics in a cluster without metrics-server";
    NoMetricsAdapter = "P011", "no-metrics-adapter", "an autoscaler on pod, object or external metrics in a cluster without an adapter or KEDA";
    UnenforcedNetworkPolicy = "P012", "unenforced-network-policy", "NetworkPolicies for a cluster whose network plug-in does not enforce them";
    UnproducedSeries = "P013", "unproduced-series", "an alerting or recording rule reads a series nothing in the environment produces";
    DependencyBlocked = "P014", "dependency-blocked", "the generated NetworkPolicies block a declared dependency on one of its ports";
    UndeclaredPath = "P015", "undeclared-path", "the generated NetworkPolicies open a path between workloads that no dependency declares";
    AuthorizationMismatch = "P018", "authorization-mismatch", "a meshed workload whose AuthorizationPolicies admit other callers than its NetworkPolicies, or that has none";
    DetachedRoute = "P017", "detached-route", "a generated HTTPRoute attaches to a Gateway or listener the output does not create, or to a listener of another host";
    UnroutedAlert = "P016", "unrouted-alert", "a generated alert that the generated Alertmanager routes to no receiver that notifies";
    SloBeyondRetention = "E015", "slo-beyond-retention", "an SLO window longer than Prometheus keeps its metrics";
    GrafanaPortTaken = "E017", "grafana-port-taken", "the Compose Grafana's host port is 0 or a port another tool of the Compose output publishes";
    InvalidMetricName = "E016", "invalid-metric-name", "a metric or label name of the metric conventions that Prometheus would reject";
    RouteHostOutsideZone = "W018", "route-host-outside-zone", "a route host outside the environment's DNS zone, for which external-dns makes no record";
    SloQueryNames = "W014", "slo-query-names", "an SLO query reads a status label or latency histogram other than its service's metric conventions name";
    LatencyBetweenBuckets = "W013", "latency-between-buckets", "a latency threshold between two bounds of the latency histogram's declared buckets, where the quantile is only interpolated";
    ZeroMonitoringReplicas = "E018", "zero-monitoring-replicas", "Prometheus or Alertmanager sized at zero replicas, which would evaluate or deliver no alert";
    RepeatBeyondRetention = "W016", "repeat-beyond-retention", "an Alertmanager repeat interval longer than Alertmanager keeps its notification log, so notifications repeat sooner";
    IgnoredByOperator = "W011", "ignored-by-operator", "a data store setting that has no effect where the CloudNativePG operator runs the store";
    RedisWithoutQuorum = "W030", "redis-without-quorum", "an in-cluster Redis of two nodes, whose two Sentinels cannot fail over when a node is lost";
    IgnoredByManagedStore = "W042", "ignored-by-managed-store", "a setting of the in-cluster workload on a data store the cloud runs (`mode = \"managed\"`), which the managed service does not read";
    RouteMatchesNothing = "W043", "route-matches-nothing", "an alert route matching a `severity`, `environment` or `team` value that no alert carries";
    UnusedReceiver = "W044", "unused-receiver", "a receiver that no route and no `default_receiver` names";
    InvalidThresholdName = "E256", "invalid-threshold-name", "a threshold name that is not an ASCII letter followed by letters, digits, `_` and `-`";
    ThresholdNameCollision = "E257", "threshold-name-collision", "two thresholds of one workload whose names make one alert name or one recorded series (`a-b` and `a_b`)";
    RouteTaken = "E258", "route-taken", "two services whose ingress routes the same host and path in an environment";
    CacheRuleUnserved = "W045", "cache-rule-unserved", "a Cloudflare cache rule for a host of the zone that the environment serves nothing at";
    PoolingManaged = "W010", "pooling-managed", "`pooling` on a managed (RDS) PostgreSQL store, where plinth generates no pooler";
}

/// A label: a span and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What, short and lowercase.
    pub message: String,
}

/// One problem found in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Headline, lowercase, no trailing period.
    pub message: String,
    /// The narrowest span that shows the problem; `None` only for problems with no location
    /// (an unreadable file).
    pub primary: Option<Label>,
    /// Other places that explain it ("first defined here").
    pub related: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// An error lowered to a warning: `--lenient` does this to the proof's findings, for an
    /// output its user completes by hand before applying it.
    pub relaxed: bool,
}

impl Diagnostic {
    /// A diagnostic with a primary label.
    pub fn new(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            primary: Some(Label {
                span,
                message: label.into(),
            }),
            related: Vec::new(),
            help: None,
            relaxed: false,
        }
    }

    /// A diagnostic with no location.
    pub fn global(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            primary: None,
            related: Vec::new(),
            help: None,
            relaxed: false,
        }
    }

    /// Adds help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a related label.
    pub fn related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// The severity, derived from the code, unless the diagnostic was relaxed.
    pub fn severity(&self) -> Severity {
        if self.relaxed {
            Severity::Warning
        } else {
            self.code.severity()
        }
    }
}

/// The diagnostics of one run, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Records one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// True when at least one error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity() == Severity::Error)
    }

    /// Sorts by source position so output reads top to bottom, keeping discovery order for ties.
    pub fn sort(&mut self) {
        self.0.sort_by_key(|d| {
            d.primary
                .as_ref()
                .map(|l| (l.span.source, l.span.range.start, l.span.range.end))
        });
    }
}

/// The "did you mean" suggestion for `word` among `candidates`, if one is close enough.
///
/// Jaro-Winkler ranks the candidates, but it rewards a shared prefix so much that `image`
/// scores 0.86 against `image_pull_secrets`; a candidate must also be a few edits away
/// (a third of the longer word, at least one), which is what a typo is.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // An abbreviation (`prod` for `production`) is near too; a longer word is not near its
    // own prefix, which names something else.
    let near = |c: &str| {
        let longer = word.chars().count().max(c.chars().count());
        strsim::damerau_levenshtein(word, c) <= (longer / 3).max(1)
            || (word.len() >= 3 && c.starts_with(word))
    };
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, c)| *score > 0.8 && near(c))
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_typos_not_prefixes() {
        let keys = ["image", "image_pull_secrets", "ports", "receiver"];
        assert_eq!(did_you_mean("imag", keys), Some("image"));
        assert_eq!(did_you_mean("recevier", keys), Some("receiver"));
        assert_eq!(did_you_mean("image_pull", keys), Some("image_pull_secrets"));
        assert_eq!(did_you_mean("image_pull_secret", ["image", "ports"]), None);
        assert_eq!(did_you_mean("image_secrets", ["image"]), None);
        assert_eq!(did_you_mean("prod", ["production"]), Some("production"));
    }
}
