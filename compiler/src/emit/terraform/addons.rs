//! Cluster add-ons: the operators and controllers an environment's generated objects need,
//! as pinned Helm releases in `addons.tf`, each installed only when something uses it.
//!
//! A generated object that names an API nobody serves never becomes ready: an HPA without
//! the metrics API, a VerticalPodAutoscaler without its controller, an `ExternalSecret`
//! without External Secrets, an Ingress whose class no controller watches, a TLS host whose
//! `ClusterIssuer` nobody reconciles. Each rule below decides from the environment's model
//! whether the add-on is needed and returns its release; the platform chart's release then
//! `depends_on` every one of them, so their CustomResourceDefinitions exist before the chart
//! applies objects of those kinds. The closure proof (issue 19) checks the same from the
//! generated files.
//!
//! Chart versions and value names were read from each chart's `values.yaml` at the pinned
//! tag (docs/design/foundation-pins.md names the sources).

use hcl::expr::Expression;
use hcl::Block;

use super::aws::irsa;
use super::{a, block, call, obj, r, s, template, Item, Part};
use crate::ir::{self, naming, Environment, Replicas, VpaMode};
use crate::units;

/// `kubernetes-sigs/metrics-server` chart (app 0.8.1).
const METRICS_SERVER: &str = "3.13.1";
/// `fairwinds-stable/vpa` chart (VPA 1.7.1). The upstream chart calls itself not ready for
/// production; Fairwinds' is the one platform teams run.
const VPA: &str = "5.0.0";
/// `prometheus-community/prometheus-adapter` chart (app 0.12.0): serves the custom metrics
/// API that HPA `Pods` metrics read, from Prometheus.
const PROMETHEUS_ADAPTER: &str = "5.3.0";
/// `jetstack/cert-manager` chart, from its OCI registry (chart version = app version).
const CERT_MANAGER: &str = "v1.21.1";
/// `external-secrets/external-secrets` chart (app v2.9.0).
const EXTERNAL_SECRETS: &str = "2.9.0";
/// `cloudnative-pg/cloudnative-pg` chart (operator 1.30.0).
const CLOUDNATIVE_PG: &str = "0.29.0";
/// `cloudnative-pg/plugin-barman-cloud` chart (its appVersion: plugin v0.13.0).
const BARMAN_CLOUD: &str = "0.7.0";
/// `traefik/traefik` chart (Traefik v3.7.11): the ingress controller plinth installs for its
/// default ingress class, now that ingress-nginx is retired (March 2026).
const TRAEFIK: &str = "41.3.0";

/// Namespace, release and service account of External Secrets (fixed: the IRSA trust names
/// them, and the k8s and Helm targets' `ClusterSecretStore` relies on the controller's
/// identity).
pub const EXTERNAL_SECRETS_NAMESPACE: &str = "external-secrets";
/// Service account of the External Secrets controller, which the IRSA role trusts.
pub const EXTERNAL_SECRETS_SERVICE_ACCOUNT: &str = "external-secrets";
/// Namespace and release of cert-manager.
pub const CERT_MANAGER_NAMESPACE: &str = "cert-manager";
/// Namespace of the Vertical Pod Autoscaler.
pub const VPA_NAMESPACE: &str = "vpa";

/// What the add-ons contribute to an environment's root module.
#[derive(Default)]
pub(super) struct Addons {
    /// Locals (the releases' values), IRSA modules and `helm_release` blocks, in order.
    pub locals: Vec<Item>,
    /// Module and resource blocks.
    pub blocks: Vec<Block>,
    /// `helm_release.x` of every add-on the platform chart's objects need first.
    pub before_platform: Vec<Expression>,
    /// What the cluster must already provide, for the build summary.
    pub notes: Vec<String>,
}

impl Addons {
    /// Adds a release; `values` becomes a local of the same name with `_values` appended.
    fn release(&mut self, rel: Release, values: Option<Expression>) {
        let id = rel.id;
        let mut body = vec![
            a("name", s(rel.name)),
            a("repository", s(rel.repository)),
            a("chart", s(rel.chart)),
            a("version", s(rel.version)),
            a("namespace", s(&rel.namespace)),
        ];
        if rel.namespace != "kube-system" {
            body.push(a("create_namespace", true));
        }
        if let Some(v) = values {
            let local = format!("{id}_values");
            self.locals.push(a(local.clone(), v));
            body.push(a(
                "values",
                Expression::Array(vec![call("yamlencode", [r(&format!("local.{local}"))])]),
            ));
        }
        body.push(a("depends_on", Expression::Array(rel.depends_on)));
        self.blocks
            .push(block("resource", ["helm_release", id], body));
        self.before_platform.push(r(&format!("helm_release.{id}")));
    }
}

/// One chart release.
struct Release {
    /// Terraform label.
    id: &'static str,
    /// Release name.
    name: &'static str,
    /// Chart repository (HTTP or `oci://`).
    repository: &'static str,
    /// Chart name.
    chart: &'static str,
    /// Pinned chart version.
    version: &'static str,
    /// Namespace.
    namespace: String,
    /// What must exist first.
    depends_on: Vec<Expression>,
}

/// The add-ons of one environment. `name` is `<platform>-<env>`, the prefix of cloud
/// resource names.
pub(super) fn lower(platform: &ir::Platform, env: &Environment, name: &str) -> Addons {
    let mut out = Addons::default();
    metrics_server(env, &mut out);
    vertical_pod_autoscaler(env, &mut out);
    prometheus_adapter(env, &mut out);
    cert_manager(env, &mut out);
    external_secrets(platform, env, name, &mut out);
    ingress_controller(env, &mut out);
    postgres_operator(env, &mut out);
    out
}

/// The cluster first: every release needs the API server and its nodes.
fn after_cluster() -> Vec<Expression> {
    vec![r("module.eks")]
}

/// metrics-server, when any workload has a HorizontalPodAutoscaler or a
/// VerticalPodAutoscaler.
///
/// Why: the HPA's CPU and memory targets and the VPA recommender read `metrics.k8s.io`,
/// which EKS does not serve by itself; without it an HPA reports `FailedGetResourceMetric`
/// and never scales. The chart's defaults already suit EKS (kubelet on its node status
/// port, internal addresses first), so no values are set.
fn metrics_server(env: &Environment, out: &mut Addons) {
    let used = env
        .workloads
        .iter()
        .any(|w| matches!(w.replicas, Replicas::Auto(_)) || w.vpa.is_some());
    if !used {
        return;
    }
    out.release(
        Release {
            id: "metrics_server",
            name: "metrics-server",
            repository: "https://kubernetes-sigs.github.io/metrics-server/",
            chart: "metrics-server",
            version: METRICS_SERVER,
            namespace: "kube-system".to_owned(),
            depends_on: after_cluster(),
        },
        None,
    );
}

/// The Vertical Pod Autoscaler (recommender, and updater and admission controller when a
/// VPA applies its recommendations), when any workload has one.
///
/// Why: `VerticalPodAutoscaler` is a custom resource; without its CRDs the chart that
/// contains one fails to install, and without the recommender it never recommends. A VPA
/// in mode `Off` only recommends, so the components that evict and mutate pods are left
/// out unless some VPA uses another mode. The chart's own metrics-server subchart stays
/// off: metrics-server is its own release.
fn vertical_pod_autoscaler(env: &Environment, out: &mut Addons) {
    let modes: Vec<VpaMode> = env.workloads.iter().filter_map(|w| w.vpa).collect();
    if modes.is_empty() {
        return;
    }
    let applies = modes.iter().any(|m| *m != VpaMode::Off);
    let mut deps = after_cluster();
    deps.push(r("helm_release.metrics_server"));
    out.release(
        Release {
            id: "vpa",
            name: "vpa",
            repository: "https://charts.fairwinds.com/stable",
            chart: "vpa",
            version: VPA,
            namespace: VPA_NAMESPACE.to_owned(),
            depends_on: deps,
        },
        Some(obj([
            ("recommender", obj([("enabled", Expression::from(true))])),
            ("updater", obj([("enabled", Expression::from(applies))])),
            (
                "admissionController",
                obj([("enabled", Expression::from(applies))]),
            ),
            (
                "metrics-server",
                obj([("enabled", Expression::from(false))]),
            ),
        ])),
    );
}

/// prometheus-adapter, when an HPA scales on a custom per-pod metric.
///
/// Why: a `Pods` metric is read from `custom.metrics.k8s.io`, which only an adapter serves.
/// One rule per metric the spec names: a name ending in `_per_second` is the per-second
/// rate of the counter `<base>_total` the application exports (the Prometheus naming
/// convention), any other name a gauge of that name. The adapter's default rules are off,
/// so the API serves exactly the metrics the HPAs read.
fn prometheus_adapter(env: &Environment, out: &mut Addons) {
    let mut metrics: Vec<&str> = env
        .workloads
        .iter()
        .filter_map(|w| match &w.replicas {
            Replicas::Auto(a) => Some(a.pod_metrics.iter().map(|(n, _)| n.as_str())),
            Replicas::Fixed(_) => None,
        })
        .flatten()
        .collect();
    if metrics.is_empty() {
        return;
    }
    metrics.sort_unstable();
    metrics.dedup();
    let monitoring = env.cluster.monitoring_namespace.as_str();
    let rules = metrics.iter().map(|m| adapter_rule(m)).collect();
    let mut deps = after_cluster();
    if crate::emit::helm::upstream::wants_prometheus(env) {
        deps.push(r("helm_release.kube_prometheus_stack"));
    }
    out.release(
        Release {
            id: "prometheus_adapter",
            name: "prometheus-adapter",
            repository: "https://prometheus-community.github.io/helm-charts",
            chart: "prometheus-adapter",
            version: PROMETHEUS_ADAPTER,
            namespace: monitoring.to_owned(),
            depends_on: deps,
        },
        Some(obj([
            (
                "prometheus",
                obj([
                    (
                        "url",
                        s(format!(
                            "http://kube-prometheus-stack-prometheus.{monitoring}.svc"
                        )),
                    ),
                    ("port", Expression::from(9090)),
                ]),
            ),
            (
                "rules",
                obj([
                    ("default", Expression::from(false)),
                    ("custom", Expression::Array(rules)),
                ]),
            ),
        ])),
    );
}

/// The adapter rule that serves `metric` per pod.
fn adapter_rule(metric: &str) -> Expression {
    let resources = obj([(
        "overrides",
        obj([
            ("namespace", obj([("resource", s("namespace"))])),
            ("pod", obj([("resource", s("pod"))])),
        ]),
    )]);
    let (series, query) = match metric.strip_suffix("_per_second") {
        Some(base) => (
            format!("{base}_total"),
            "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
        ),
        None => (
            metric.to_owned(),
            "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        ),
    };
    obj([
        (
            "seriesQuery",
            s(format!("{series}{{namespace!=\"\",pod!=\"\"}}")),
        ),
        ("resources", resources),
        (
            "name",
            obj([("matches", s(format!("^{series}$"))), ("as", s(metric))]),
        ),
        ("metricsQuery", s(query)),
    ])
}

/// cert-manager, with its CRDs, when any ingress terminates TLS or the barman-cloud plugin
/// is installed.
///
/// Why: a TLS ingress carries the `cert-manager.io/cluster-issuer` annotation; without
/// cert-manager nothing issues the certificate and the host serves the controller's
/// self-signed default. The `ClusterIssuer` itself is a custom resource, generated with the
/// platform's objects, so cert-manager (and its CRDs) must be installed first. The
/// barman-cloud plugin's chart issues the certificates of its gRPC connection to the
/// operator with cert-manager, and does not install without it.
fn cert_manager(env: &Environment, out: &mut Addons) {
    let tls = env
        .workloads
        .iter()
        .any(|w| w.ingress.as_ref().is_some_and(|i| i.tls));
    if !tls && !needs_barman_cloud(env) {
        return;
    }
    out.release(
        Release {
            id: "cert_manager",
            name: "cert-manager",
            repository: "oci://quay.io/jetstack/charts",
            chart: "cert-manager",
            version: CERT_MANAGER,
            namespace: CERT_MANAGER_NAMESPACE.to_owned(),
            depends_on: after_cluster(),
        },
        Some(obj([(
            "crds",
            obj([
                ("enabled", Expression::from(true)),
                ("keep", Expression::from(true)),
            ]),
        )])),
    );
}

/// External Secrets, with an IAM role (IRSA) that may read only the environment's own
/// secrets, `<platform>/<env>/*` in AWS Secrets Manager, when the k8s and Helm targets
/// generate an `ExternalSecret` (the plan of [`crate::emit::cluster`]: something reads a
/// Secret that the spec does not declare external).
///
/// Why: pods and Alertmanager read Kubernetes Secrets that nothing else creates; the
/// generated `ExternalSecret`s copy them from Secrets Manager, where the Terraform's own
/// secrets already live under the same prefix. The role is scoped to that prefix, so one
/// environment's operator cannot read another's secrets, and may decrypt with the
/// environment's key.
fn external_secrets(platform: &ir::Platform, env: &Environment, name: &str, out: &mut Addons) {
    if crate::emit::cluster::secret_plan(platform, env)
        .store
        .is_none()
    {
        return;
    }
    let arn = template([
        Part::Lit("arn:aws:secretsmanager:".into()),
        Part::Expr(r("var.region")),
        Part::Lit(":".into()),
        Part::Expr(r("data.aws_caller_identity.current.account_id")),
        Part::Lit(format!(
            ":secret:{}*",
            naming::cloud_secret_prefix(&platform.name, &env.name)
        )),
    ]);
    out.blocks.push(irsa(
        "external_secrets_irsa",
        &format!("{name}-external-secrets"),
        [
            a("attach_external_secrets_policy", true),
            a(
                "external_secrets_secrets_manager_arns",
                Expression::Array(vec![arn]),
            ),
            a(
                "external_secrets_kms_key_arns",
                Expression::Array(vec![r("aws_kms_key.main.arn")]),
            ),
        ],
        EXTERNAL_SECRETS_NAMESPACE,
        EXTERNAL_SECRETS_SERVICE_ACCOUNT,
    ));
    out.release(
        Release {
            id: "external_secrets",
            name: "external-secrets",
            repository: "https://charts.external-secrets.io",
            chart: "external-secrets",
            version: EXTERNAL_SECRETS,
            namespace: EXTERNAL_SECRETS_NAMESPACE.to_owned(),
            depends_on: after_cluster(),
        },
        Some(obj([
            ("installCRDs", Expression::from(true)),
            (
                "serviceAccount",
                obj([
                    ("create", Expression::from(true)),
                    ("name", s(EXTERNAL_SECRETS_SERVICE_ACCOUNT)),
                    (
                        "annotations",
                        obj([(
                            "eks.amazonaws.com/role-arn",
                            r("module.external_secrets_irsa.arn"),
                        )]),
                    ),
                ]),
            ),
        ])),
    );
}

/// Traefik as the ingress controller, when any workload has an ingress and the spec keeps
/// plinth's default ingress class.
///
/// Why: an Ingress is served only by a controller that watches its class. ingress-nginx,
/// the long-time default, was retired in March 2026; Traefik reads standard Ingresses, is
/// what the Compose output already routes with, and its chart runs non-root with a
/// read-only root filesystem by default. It gets an IngressClass named as plinth's default
/// (not the cluster default, so other tenants' classless Ingresses are not captured) and a
/// Network Load Balancer. A class the spec names is the cluster's own controller: nothing
/// is installed, and the build notes it as a prerequisite.
fn ingress_controller(env: &Environment, out: &mut Addons) {
    if !env.workloads.iter().any(|w| w.ingress.is_some()) {
        return;
    }
    if env.cluster.ingress_class != units::INGRESS_CLASS {
        out.notes.push(format!(
            "prerequisite: the Ingresses name the class `{}`, so its controller must already run in the cluster, in namespace `{}`; plinth installs Traefik only for its default class `{}`",
            env.cluster.ingress_class,
            env.cluster.ingress_namespace,
            units::INGRESS_CLASS
        ));
        return;
    }
    out.release(
        Release {
            id: "ingress_controller",
            name: "traefik",
            repository: "https://traefik.github.io/charts",
            chart: "traefik",
            version: TRAEFIK,
            namespace: env.cluster.ingress_namespace.clone(),
            depends_on: after_cluster(),
        },
        Some(obj([
            (
                "ingressClass",
                obj([
                    ("enabled", Expression::from(true)),
                    ("isDefaultClass", Expression::from(false)),
                    ("name", s(units::INGRESS_CLASS)),
                ]),
            ),
            (
                "service",
                obj([(
                    "annotations",
                    obj([(
                        "service.beta.kubernetes.io/aws-load-balancer-type",
                        s("nlb"),
                    )]),
                )]),
            ),
        ])),
    );
}

/// The CloudNativePG operator, with its CRDs, when the environment has an in-cluster
/// PostgreSQL store (which [`crate::emit::cnpg`] then generates as its `Cluster`).
///
/// Why: a `Cluster` is a custom resource; without the CRDs the platform chart fails to
/// install, and without the operator no instance is ever created, replicated or failed
/// over. It watches every namespace (`config.clusterWide`, the chart's default), and runs in
/// `cnpg-system`, the namespace the generated NetworkPolicies admit to the instances.
fn postgres_operator(env: &Environment, out: &mut Addons) {
    if !env
        .workloads
        .iter()
        .any(|w| crate::emit::cnpg::operated(env, w))
    {
        return;
    }
    out.release(
        Release {
            id: "cloudnative_pg",
            name: "cnpg",
            repository: "https://cloudnative-pg.github.io/charts",
            chart: "cloudnative-pg",
            version: CLOUDNATIVE_PG,
            namespace: crate::emit::cnpg::OPERATOR_NAMESPACE.to_owned(),
            depends_on: after_cluster(),
        },
        Some(obj([
            ("crds", obj([("create", Expression::from(true))])),
            ("config", obj([("clusterWide", Expression::from(true))])),
        ])),
    );
    if !needs_barman_cloud(env) {
        return;
    }
    let mut deps = after_cluster();
    deps.push(r("helm_release.cert_manager"));
    deps.push(r("helm_release.cloudnative_pg"));
    out.release(
        Release {
            id: "barman_cloud",
            name: "barman-cloud",
            repository: "https://cloudnative-pg.github.io/charts",
            chart: "plugin-barman-cloud",
            version: BARMAN_CLOUD,
            namespace: crate::emit::cnpg::OPERATOR_NAMESPACE.to_owned(),
            depends_on: deps,
        },
        Some(obj([("crds", obj([("create", Expression::from(true))]))])),
    );
}

/// Whether an operated PostgreSQL store backs up, through the barman-cloud plugin.
///
/// Why a plugin: the operator's in-tree `barmanObjectStore` is deprecated since 1.26 and
/// removed in 1.31; the plugin, installed in the operator's namespace, archives the WAL and
/// takes base backups into the `ObjectStore` the platform chart generates.
fn needs_barman_cloud(env: &Environment) -> bool {
    env.workloads
        .iter()
        .any(|w| crate::emit::cnpg::operated(env, w) && crate::emit::cnpg::backup(w).is_some())
}
