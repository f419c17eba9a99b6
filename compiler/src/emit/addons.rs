//! Cluster add-ons: the operators and controllers an environment's generated objects need,
//! decided once here for the two targets that install them. The Helm target writes each
//! add-on's values as `helm/values-<chart>-<env>.yaml` (with the command that installs it by
//! hand); the Terraform target installs the same chart at the same version from that same
//! file (`addons.tf`), so a release by Terraform and one by hand are the same.
//!
//! A generated object that names an API nobody serves never becomes ready: an HPA without
//! the metrics API, a VerticalPodAutoscaler without its controller, an `ExternalSecret`
//! without External Secrets, an Ingress whose class no controller watches, a TLS host whose
//! `ClusterIssuer` nobody reconciles. Each rule below decides from the environment's model
//! whether its add-on is needed. Only an environment with a cloud gets add-ons: it is a
//! cluster plinth creates; any other cluster brings its own.
//!
//! Chart versions and value names were read from each chart's `values.yaml` at the pinned
//! tag (docs/design/foundation-pins.md names the sources).

use serde_json::{json, Value};

use crate::emit::cluster;
use crate::ir::{self, Environment, Replicas, VpaMode};
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
/// `external-dns` chart of kubernetes-sigs (app v0.21.0).
const EXTERNAL_DNS: &str = "1.21.1";
/// `traefik/traefik` chart (Traefik v3.7.11): the ingress controller plinth installs for its
/// default ingress class, now that ingress-nginx is retired (March 2026).
const TRAEFIK: &str = "41.3.0";
/// `envoyproxy/gateway` chart `gateway-helm` (Envoy Gateway v1.9.0), from its OCI registry;
/// it bundles the Gateway API CRDs (v1.6.1, standard channel) with its own.
const ENVOY_GATEWAY: &str = "v1.9.0";
/// `argoproj/argo-helm` chart `argo-rollouts` (app v1.9.0), with the CRDs.
const ARGO_ROLLOUTS: &str = "2.41.0";
/// `argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi` release whose image the
/// controller copies the plugin from.
const GATEWAY_API_PLUGIN: &str = "v0.15.0";

/// Istio's charts (`base`, `cni`, `istiod`, from its Helm repository; chart version = Istio
/// version). Istio 1.30 is supported until six weeks after 1.32; the values set below were
/// read from the charts at their 1.30 tags.
const ISTIO: &str = "1.30.5";
/// Istio's Helm repository.
const ISTIO_REPOSITORY: &str = "https://istio-release.storage.googleapis.com/charts";
/// Envoy Gateway's CRD-only chart `gateway-crds-helm`, which installs the Gateway API CRDs
/// (v1.6.1, standard channel) without Envoy Gateway's own: the same CRDs the Envoy edge
/// gets from `gateway-helm`.
const GATEWAY_API_CRDS: &str = "v1.9.0";

/// Namespace of External Secrets (fixed: the IRSA trust names it, and the generated
/// `ClusterSecretStore` relies on the controller's identity).
pub const EXTERNAL_SECRETS_NAMESPACE: &str = "external-secrets";
/// Service account of the External Secrets controller, which its IAM role trusts.
pub const EXTERNAL_SECRETS_SERVICE_ACCOUNT: &str = "external-secrets";
/// Namespace and service account of external-dns, which its IAM role trusts.
pub const EXTERNAL_DNS_NAMESPACE: &str = "external-dns";
/// Namespace of cert-manager.
pub const CERT_MANAGER_NAMESPACE: &str = "cert-manager";
/// Namespace of the Vertical Pod Autoscaler.
pub const VPA_NAMESPACE: &str = "vpa";
/// Namespace of the Argo Rollouts controller.
pub const ARGO_ROLLOUTS_NAMESPACE: &str = "argo-rollouts";

/// One add-on: a pinned chart release.
#[derive(Clone, Debug)]
pub(crate) struct Addon {
    /// Identifier, also the Terraform label of its release (`helm_release.<id>`).
    pub id: &'static str,
    /// Release name.
    pub release: &'static str,
    /// Chart repository (HTTP or `oci://`).
    pub repository: &'static str,
    /// Chart name; the values file is `helm/values-<chart>-<env>.yaml`.
    pub chart: &'static str,
    /// Pinned chart version.
    pub version: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Values, when the chart's defaults are not enough.
    pub values: Option<Value>,
    /// What must be installed first.
    pub after: Vec<After>,
    /// The IAM role its service account assumes (IRSA), set by the installer because its
    /// ARN is only known once the role exists.
    pub role: Option<Role>,
}

impl Addon {
    /// Whether the platform chart's release waits for this add-on: every add-on whose CRDs,
    /// APIs or controllers the platform's objects use does. external-dns does not: it only
    /// follows the routes once they exist, and the platform need not wait for DNS.
    pub fn awaited_by_platform(&self) -> bool {
        self.id != "external_dns" || self.reads_platform_secret()
    }

    /// Whether the add-on's pods read a Secret that an ExternalSecret of the platform chart
    /// creates in the add-on's namespace: external-dns's Cloudflare token.
    ///
    /// Why it matters: the chart needs the namespace, which the add-on's release creates, so
    /// the release goes first; and its pods cannot start before the chart, so Terraform
    /// must not wait for them (`wait = false`), or the release would time out.
    pub fn reads_platform_secret(&self) -> bool {
        self.id == "external_dns" && self.role.is_none()
    }
}

/// Something an add-on is installed after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// Another add-on, by id.
    Addon(&'static str),
    /// kube-prometheus-stack (Prometheus and the prometheus-operator CRDs).
    Prometheus,
}

/// An IAM role for an add-on's service account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// External Secrets: read the environment's secrets in AWS Secrets Manager.
    ExternalSecrets,
    /// external-dns: change the records of the environment's hosted zone.
    ExternalDns,
    /// cert-manager: write the DNS-01 challenge records of the environment's hosted zone.
    CertManager,
}

impl Role {
    /// The chart value that carries the role's ARN, in `helm --set` syntax (dots inside a
    /// key escaped).
    pub fn value_path(self) -> &'static str {
        match self {
            Role::ExternalSecrets | Role::ExternalDns | Role::CertManager => {
                "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn"
            }
        }
    }

    /// The role's namespace and service account, which its trust policy names.
    pub fn service_account(self) -> (&'static str, &'static str) {
        match self {
            Role::ExternalSecrets => (EXTERNAL_SECRETS_NAMESPACE, EXTERNAL_SECRETS_SERVICE_ACCOUNT),
            Role::ExternalDns => (EXTERNAL_DNS_NAMESPACE, EXTERNAL_DNS_NAMESPACE),
            // The chart's ServiceAccount is named after the release, `cert-manager`.
            Role::CertManager => (CERT_MANAGER_NAMESPACE, CERT_MANAGER_NAMESPACE),
        }
    }
}

/// The add-ons of `env`, in install order; none without a cloud.
pub(crate) fn plan(platform: &ir::Platform, env: &Environment) -> Vec<Addon> {
    if env.cloud.is_none() {
        return Vec::new();
    }
    [
        metrics_server(env),
        vertical_pod_autoscaler(env),
        prometheus_adapter(env),
        envoy_gateway(env),
        gateway_api_crds(env),
        istio_base(env),
        istio_cni(env),
        istiod(env),
        cert_manager(env),
        external_secrets(platform, env),
        postgres_operator(env),
        barman_cloud(env),
        argo_rollouts(env),
        ingress_controller(env),
        external_dns(platform, env),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What the cluster must already provide instead of an add-on, for the build summary.
pub(crate) fn notes(env: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    if env.cloud.is_some()
        && env.cluster.edge == ir::Edge::Ingress
        && env.workloads.iter().any(|w| w.ingress.is_some())
        && env.cluster.ingress_class != units::INGRESS_CLASS
    {
        out.push(format!(
            "prerequisite: the Ingresses name the class `{}`, so its controller must already run in the cluster, in namespace `{}`; plinth installs Traefik only for its default class `{}`",
            env.cluster.ingress_class,
            env.cluster.ingress_namespace,
            units::INGRESS_CLASS
        ));
    }
    out
}

/// What a cluster plinth does not create (an environment without a cloud) must provide for
/// the Istio objects of `env`, for the build summary.
pub(crate) fn istio_prerequisite(env: &Environment) -> Option<String> {
    (env.cloud.is_none() && runs_istio(env)).then(|| {
        format!(
            "environment `{}`: prerequisite: Istio must already run in the cluster (istiod{}, and the Gateway API CRDs); plinth installs it only on the clusters it creates",
            env.name,
            if env.cluster.mesh { " with Istio CNI" } else { "" },
        )
    })
}

/// metrics-server, when any workload has a HorizontalPodAutoscaler or a
/// VerticalPodAutoscaler.
///
/// Why: the HPA's CPU and memory targets and the VPA recommender read `metrics.k8s.io`,
/// which EKS does not serve by itself; without it an HPA reports `FailedGetResourceMetric`
/// and never scales. The chart's defaults already suit EKS (kubelet on its node status
/// port, internal addresses first), so it has no values.
fn metrics_server(env: &Environment) -> Option<Addon> {
    env.workloads
        .iter()
        .any(|w| matches!(w.replicas, Replicas::Auto(_)) || w.vpa.is_some())
        .then(|| Addon {
            id: "metrics_server",
            release: "metrics-server",
            repository: "https://kubernetes-sigs.github.io/metrics-server/",
            chart: "metrics-server",
            version: METRICS_SERVER,
            namespace: "kube-system".to_owned(),
            values: None,
            after: Vec::new(),
            role: None,
        })
}

/// The Vertical Pod Autoscaler (recommender, and updater and admission controller when a
/// VPA applies its recommendations), when any workload has one.
///
/// Why: `VerticalPodAutoscaler` is a custom resource; without its CRDs the chart that
/// contains one fails to install, and without the recommender it never recommends. A VPA
/// in mode `Off` only recommends, so the components that evict and mutate pods are left
/// out unless some VPA uses another mode. The chart's own metrics-server subchart stays
/// off: metrics-server is its own release.
fn vertical_pod_autoscaler(env: &Environment) -> Option<Addon> {
    let modes: Vec<VpaMode> = env.workloads.iter().filter_map(|w| w.vpa).collect();
    if modes.is_empty() {
        return None;
    }
    let applies = modes.iter().any(|m| *m != VpaMode::Off);
    Some(Addon {
        id: "vpa",
        release: "vpa",
        repository: "https://charts.fairwinds.com/stable",
        chart: "vpa",
        version: VPA,
        namespace: VPA_NAMESPACE.to_owned(),
        values: Some(json!({
            "recommender": { "enabled": true },
            "updater": { "enabled": applies },
            "admissionController": { "enabled": applies },
            "metrics-server": { "enabled": false },
        })),
        after: vec![After::Addon("metrics_server")],
        role: None,
    })
}

/// prometheus-adapter, when an HPA scales on a custom per-pod metric.
///
/// Why: a `Pods` metric is read from `custom.metrics.k8s.io`, which only an adapter serves.
/// One rule per metric the spec names: a name ending in `_per_second` is the per-second
/// rate of the counter `<base>_total` the application exports (the Prometheus naming
/// convention), any other name a gauge of that name. The adapter's default rules are off,
/// so the API serves exactly the metrics the HPAs read.
fn prometheus_adapter(env: &Environment) -> Option<Addon> {
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
        return None;
    }
    metrics.sort_unstable();
    metrics.dedup();
    let monitoring = env.cluster.monitoring_namespace.as_str();
    let after = if crate::emit::helm::upstream::wants_prometheus(env) {
        vec![After::Prometheus]
    } else {
        Vec::new()
    };
    Some(Addon {
        id: "prometheus_adapter",
        release: "prometheus-adapter",
        repository: "https://prometheus-community.github.io/helm-charts",
        chart: "prometheus-adapter",
        version: PROMETHEUS_ADAPTER,
        namespace: monitoring.to_owned(),
        values: Some(json!({
            "prometheus": {
                "url": format!("http://kube-prometheus-stack-prometheus.{monitoring}.svc"),
                "port": 9090,
            },
            "rules": {
                "default": false,
                "custom": metrics.iter().map(|m| adapter_rule(m)).collect::<Vec<_>>(),
            },
        })),
        after,
        role: None,
    })
}

/// The adapter rule that serves `metric` per pod.
fn adapter_rule(metric: &str) -> Value {
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
    json!({
        "seriesQuery": format!("{series}{{namespace!=\"\",pod!=\"\"}}"),
        "resources": {
            "overrides": {
                "namespace": { "resource": "namespace" },
                "pod": { "resource": "pod" },
            }
        },
        "name": { "matches": format!("^{series}$"), "as": metric },
        "metricsQuery": query,
    })
}

/// external-dns, when the environment names its DNS zone (`dns.zone`): it keeps a record
/// for every route host pointing at the load balancer that serves it. It reads the routes
/// the environment's edge has: `HTTPRoute`s (source `gateway-httproute`, the address from
/// their Gateway's status; installed after Envoy Gateway, which brings their CRDs) or
/// `Ingress`es.
///
/// Why external-dns rather than Terraform records: the load balancer's name exists only
/// once the ingress controller's Service has one, after the cluster is up; external-dns
/// reads it from the routes' status and follows it when it changes, which a Terraform
/// record would not. It may change only the environment's zone (`domainFilters`, and its
/// IAM role names only that zone), and only records it created (`sync` with a TXT registry
/// owned by `<platform>-<env>`), so the records Terraform makes from `dns.records` and
/// anyone else's are left alone; the checker rejects a listed record for a route host
/// (E209), so no name has two owners. When the CDN fronts the hosts, it reads only the routes
/// that name the CDN's origin ([`crate::emit::gateway::origin_filter`]).
fn external_dns(platform: &ir::Platform, env: &Environment) -> Option<Addon> {
    let cloud = env.cloud.as_ref()?;
    let dns = cloud.dns.as_ref()?;
    let source = if env.cluster.edge.gateway_api() {
        "gateway-httproute"
    } else {
        "ingress"
    };
    let token = dns.provider.cluster_token();
    let env_vars = match token {
        // The token the platform chart's ExternalSecret brings into external-dns's namespace.
        Some(t) => json!([{
            "name": "CF_API_TOKEN",
            "valueFrom": { "secretKeyRef": { "name": t.secret, "key": t.key } },
        }]),
        None => json!([{ "name": "AWS_DEFAULT_REGION", "value": cloud.region }]),
    };
    let mut values = json!({
        "provider": { "name": if token.is_some() { "cloudflare" } else { "aws" } },
        "sources": [source],
        "policy": "sync",
        "registry": "txt",
        "txtOwnerId": units::cloud_name(&platform.name, &env.name),
        "domainFilters": [dns.zone],
        "env": env_vars,
        "serviceAccount": { "create": true, "name": EXTERNAL_DNS_NAMESPACE },
        "resources": {
            "requests": { "cpu": "10m", "memory": "64Mi" },
            "limits": { "cpu": "100m", "memory": "128Mi" },
        },
    });
    if let Some(filter) = crate::emit::gateway::origin_filter(env, source == "ingress") {
        values["annotationFilter"] = json!(filter);
    }
    if let ir::DnsProvider::Cloudflare { proxy: Some(_), .. } = &dns.provider {
        // The route hosts' records through Cloudflare's proxy (the orange cloud): its CDN,
        // cache rules and WAF stand in front of the load balancer.
        values["extraArgs"] = json!({ "cloudflare-proxied": true });
    }
    let mut after = Vec::new();
    if envoy_gateway(env).is_some() {
        after.push(After::Addon("envoy_gateway"));
    }
    if istiod(env).is_some() && env.cluster.edge == ir::Edge::Istio {
        // The routes' addresses come from the Gateway's status, which istiod writes.
        after.push(After::Addon("istiod"));
    }
    if crate::emit::helm::upstream::wants_prometheus(env) {
        values["serviceMonitor"] = json!({ "enabled": true });
        after.push(After::Prometheus);
    }
    Some(Addon {
        id: "external_dns",
        release: "external-dns",
        repository: "https://kubernetes-sigs.github.io/external-dns",
        chart: "external-dns",
        version: EXTERNAL_DNS,
        namespace: EXTERNAL_DNS_NAMESPACE.to_owned(),
        values: Some(values),
        after,
        // Route 53 only: Cloudflare is reached with the token.
        role: token.is_none().then_some(Role::ExternalDns),
    })
}

/// cert-manager, with its CRDs, when any ingress terminates TLS or the barman-cloud plugin
/// is installed.
///
/// Why: a TLS ingress carries the `cert-manager.io/cluster-issuer` annotation; without
/// cert-manager nothing issues the certificate and the host serves the controller's
/// self-signed default. The `ClusterIssuer` itself is a custom resource, generated with the
/// platform's objects, so cert-manager (and its CRDs) must be installed first. The
/// barman-cloud plugin's chart issues the certificates of its gRPC connection to the
/// operator through cert-manager.
///
/// When the environment runs Prometheus, the chart's ServiceMonitor is switched on
/// (`prometheus.servicemonitor.enabled`, off by default in v1.21), so that cert-manager's
/// `certmanager_*` series, which a rule on certificate expiry reads, are scraped: the
/// generated values open kube-prometheus-stack's selectors to monitors without its release
/// label, and the ServiceMonitor's CRD comes with kube-prometheus-stack, which cert-manager is
/// then installed after.
fn cert_manager(env: &Environment) -> Option<Addon> {
    let tls = env
        .workloads
        .iter()
        .any(|w| w.ingress.as_ref().is_some_and(|i| i.tls));
    let crds = gateway_crds_owner(env);
    let gateway = crds.is_some();
    // DNS-01 in the zone (`dns.certificates`): the controller writes the challenge records
    // with an IAM role of its own.
    let dns01 = env
        .cloud
        .as_ref()
        .and_then(|c| c.dns.as_ref())
        .is_some_and(|d| {
            d.certificates.is_some() && matches!(d.provider, ir::DnsProvider::Route53)
        });
    let mut values = json!({ "crds": { "enabled": true, "keep": true } });
    if gateway {
        values["config"] = json!({
            "apiVersion": "controller.config.cert-manager.io/v1alpha1",
            "kind": "ControllerConfiguration",
            "gatewayAPI": { "enabled": true },
        });
    }
    let mut after: Vec<After> = crds.map(After::Addon).into_iter().collect();
    if crate::emit::helm::upstream::wants_prometheus(env) {
        values["prometheus"] = json!({ "servicemonitor": { "enabled": true } });
        after.push(After::Prometheus);
    }
    (tls || needs_barman_cloud(env)).then(|| Addon {
        id: "cert_manager",
        release: "cert-manager",
        repository: "oci://quay.io/jetstack/charts",
        chart: "cert-manager",
        version: CERT_MANAGER,
        namespace: CERT_MANAGER_NAMESPACE.to_owned(),
        values: Some(values),
        after,
        role: dns01.then_some(Role::CertManager),
    })
}

/// The add-on that installs the Gateway API CRDs in `env`, when its edge is the Gateway API
/// and a workload is exposed: Envoy Gateway's chart, or the CRD chart for Istio's gateway.
fn gateway_crds_owner(env: &Environment) -> Option<&'static str> {
    if envoy_gateway(env).is_some() {
        Some("envoy_gateway")
    } else if gateway_api_crds(env).is_some() {
        Some("gateway_api_crds")
    } else {
        None
    }
}

/// Envoy Gateway, with the Gateway API CRDs, when the environment's edge is the Gateway API
/// ([`ir::Edge::Envoy`]) and a workload is exposed.
///
/// Why: the generated `Gateway` and `HTTPRoute`s are custom resources that need the Gateway
/// API CRDs, and only a controller that watches their `GatewayClass` creates the Envoy
/// proxies (a Deployment and a LoadBalancer Service per Gateway, in `envoy-gateway-system`,
/// which the NetworkPolicies admit) that serve them. The chart bundles the standard Gateway
/// API CRDs (`crds.enabled`, its default), so it is their one owner. cert-manager is
/// installed after it: with `gatewayAPI.enabled` it watches Gateways, which needs the CRDs
/// to exist when it starts.
fn envoy_gateway(env: &Environment) -> Option<Addon> {
    (env.cluster.edge == ir::Edge::Envoy && env.workloads.iter().any(|w| w.ingress.is_some())).then(
        || Addon {
            id: "envoy_gateway",
            release: "envoy-gateway",
            repository: "oci://docker.io/envoyproxy",
            chart: "gateway-helm",
            version: ENVOY_GATEWAY,
            namespace: units::ENVOY_GATEWAY_NAMESPACE.to_owned(),
            values: Some(json!({ "crds": { "enabled": true } })),
            after: Vec::new(),
            role: None,
        },
    )
}

/// The Gateway API CRDs (standard channel), when the edge is Istio's gateway and a
/// workload is exposed.
///
/// Why a chart of their own: Istio serves the Gateway API but does not ship its CRDs, and
/// istiod only watches the Gateway kinds whose CRDs exist when it starts. Envoy Gateway's
/// CRD-only chart installs the same CRD version the Envoy edge gets, as one release
/// Terraform orders before istiod.
fn gateway_api_crds(env: &Environment) -> Option<Addon> {
    (env.cluster.edge == ir::Edge::Istio && env.workloads.iter().any(|w| w.ingress.is_some())).then(
        || Addon {
            id: "gateway_api_crds",
            release: "gateway-api-crds",
            repository: "oci://docker.io/envoyproxy",
            chart: "gateway-crds-helm",
            version: GATEWAY_API_CRDS,
            namespace: crate::emit::mesh::ISTIO_NAMESPACE.to_owned(),
            values: Some(json!({
                "crds": {
                    "gatewayAPI": { "enabled": true, "channel": "standard" },
                    "envoyGateway": { "enabled": false },
                }
            })),
            after: Vec::new(),
            role: None,
        },
    )
}

/// Whether `env` runs Istio: a mesh, or Istio's gateway at the edge.
fn runs_istio(env: &Environment) -> bool {
    env.cluster.mesh
        || (env.cluster.edge == ir::Edge::Istio
            && env.workloads.iter().any(|w| w.ingress.is_some()))
}

/// Istio's `base` chart (its CRDs and the validation of its objects), when the environment
/// runs Istio.
///
/// Why: the mesh's PeerAuthentication, AuthorizationPolicies, DestinationRules and
/// VirtualServices are custom resources; the platform chart that contains them needs their
/// CRDs first.
fn istio_base(env: &Environment) -> Option<Addon> {
    runs_istio(env).then(|| Addon {
        id: "istio_base",
        release: "istio-base",
        repository: ISTIO_REPOSITORY,
        chart: "base",
        version: ISTIO,
        namespace: crate::emit::mesh::ISTIO_NAMESPACE.to_owned(),
        values: None,
        after: Vec::new(),
        role: None,
    })
}

/// Istio CNI, when the environment has a mesh: the node agent that redirects a meshed
/// pod's traffic through its sidecar.
///
/// Why: without it every meshed pod needs an init container with `NET_ADMIN` and
/// `NET_RAW` to write its iptables rules, which the pods' restricted security context (all
/// capabilities dropped) forbids; the agent does it on the node instead. The chart's
/// defaults suit EKS (chained onto the VPC CNI's configuration in `/etc/cni/net.d`).
fn istio_cni(env: &Environment) -> Option<Addon> {
    env.cluster.mesh.then(|| Addon {
        id: "istio_cni",
        release: "istio-cni",
        repository: ISTIO_REPOSITORY,
        chart: "cni",
        version: ISTIO,
        namespace: crate::emit::mesh::ISTIO_NAMESPACE.to_owned(),
        values: None,
        after: vec![After::Addon("istio_base")],
        role: None,
    })
}

/// istiod, when the environment runs Istio: the control plane that injects the sidecars,
/// issues the workloads' certificates, serves their configuration and deploys the proxies
/// of an Istio Gateway.
///
/// Why these values: `cni.enabled` makes the injector leave out the privileged init
/// container (Istio CNI redirects the traffic); metrics merging (`enablePrometheusMerge`,
/// Istio's default, written out because the scraping depends on it) serves each pod's
/// application metrics on the sidecar agent's port, which Prometheus reaches without a mesh
/// identity. `gateways.seccompProfile` gives the pods of the Gateway's proxies the runtime's
/// seccomp profile: istiod deploys them from its `kube-gateway.yaml` template into the
/// Gateway's namespace, which enforces Pod Security `restricted`, and that template sets a
/// seccomp profile only when this value is set (the chart's default is none), so the
/// namespace would refuse every proxy pod. The rest of the template already meets
/// `restricted`: a non-root proxy (uid 1337) without privilege escalation, every capability
/// dropped, only the `net.ipv4.ip_unprivileged_port_start` sysctl that the profile allows, and
/// emptyDir, downward API, projected and ConfigMap volumes. Installed after the Gateway API
/// CRDs so it watches Gateways from the start.
fn istiod(env: &Environment) -> Option<Addon> {
    if !runs_istio(env) {
        return None;
    }
    let mut after = vec![After::Addon("istio_base")];
    if env.cluster.mesh {
        after.push(After::Addon("istio_cni"));
    }
    if gateway_api_crds(env).is_some() {
        after.push(After::Addon("gateway_api_crds"));
    }
    Some(Addon {
        id: "istiod",
        release: "istiod",
        repository: ISTIO_REPOSITORY,
        chart: "istiod",
        version: ISTIO,
        namespace: crate::emit::mesh::ISTIO_NAMESPACE.to_owned(),
        values: Some(json!({
            "cni": { "enabled": env.cluster.mesh },
            "meshConfig": { "enablePrometheusMerge": true },
            "gateways": { "seccompProfile": { "type": "RuntimeDefault" } },
        })),
        after,
        role: None,
    })
}

/// External Secrets, with an IAM role (IRSA) that may read only the environment's own
/// secrets, `<platform>/<env>/*` in AWS Secrets Manager, when the k8s and Helm targets
/// generate an `ExternalSecret` (the plan of [`cluster::secret_plan`]: something reads a
/// Secret that the spec does not declare external).
///
/// Why: pods and Alertmanager read Kubernetes Secrets that nothing else creates; the
/// generated `ExternalSecret`s copy them from Secrets Manager, where the Terraform's own
/// secrets already live under the same prefix. The role is scoped to that prefix, so one
/// environment's operator cannot read another's secrets, and may decrypt with the
/// environment's key.
fn external_secrets(platform: &ir::Platform, env: &Environment) -> Option<Addon> {
    cluster::secret_plan(platform, env).store?;
    Some(Addon {
        id: "external_secrets",
        release: "external-secrets",
        repository: "https://charts.external-secrets.io",
        chart: "external-secrets",
        version: EXTERNAL_SECRETS,
        namespace: EXTERNAL_SECRETS_NAMESPACE.to_owned(),
        values: Some(json!({
            "installCRDs": true,
            "serviceAccount": { "create": true, "name": EXTERNAL_SECRETS_SERVICE_ACCOUNT },
        })),
        after: Vec::new(),
        role: Some(Role::ExternalSecrets),
    })
}

/// The CloudNativePG operator, with its CRDs, when the environment has an in-cluster
/// PostgreSQL store (which [`crate::emit::cnpg`] then generates as its `Cluster`).
///
/// Why: a `Cluster` is a custom resource; without the CRDs the platform chart fails to
/// install, and without the operator no instance is ever created, replicated or failed
/// over. It watches every namespace (`config.clusterWide`, the chart's default), and runs in
/// `cnpg-system`, the namespace the generated NetworkPolicies admit to the instances.
fn postgres_operator(env: &Environment) -> Option<Addon> {
    env.workloads
        .iter()
        .any(|w| crate::emit::cnpg::operated(env, w))
        .then(|| Addon {
            id: "cloudnative_pg",
            release: "cnpg",
            repository: "https://cloudnative-pg.github.io/charts",
            chart: "cloudnative-pg",
            version: CLOUDNATIVE_PG,
            namespace: crate::emit::cnpg::OPERATOR_NAMESPACE.to_owned(),
            values: Some(json!({
                "crds": { "create": true },
                "config": { "clusterWide": true },
            })),
            after: Vec::new(),
            role: None,
        })
}

/// Argo Rollouts, when a workload's `rollout.strategy` is canary or blue-green (its
/// `Rollout` replaces the Deployment), with the CRDs (`installCRDs`, the chart's default,
/// kept on uninstall) and, when a canary's traffic is shifted through the Gateway API, the
/// traffic router plugin of argoproj-labs.
///
/// Why the plugin from an image: `controller.trafficRouterPlugins` names where the
/// controller loads it from; an init container copies the binary out of the plugin's
/// multi-architecture image into a shared `emptyDir`, so nodes of any architecture get the
/// right one and nothing is downloaded at start. The chart's Gateway API RBAC lets the
/// controller read and update HTTPRoutes and keep the plugin's state in a ConfigMap; the
/// plugin also patches routes (its installation guide), which an additional rule allows.
/// The other traffic providers' RBAC is turned off: plinth routes through none of them.
fn argo_rollouts(env: &Environment) -> Option<Addon> {
    if !crate::emit::rollouts::any(env) {
        return None;
    }
    let routed = crate::emit::rollouts::any_routed(env);
    let mut controller = json!({});
    if routed {
        let dir = "/plugins";
        let binary = "rollouts-plugin-trafficrouter-gatewayapi";
        controller = json!({
            "initContainers": [{
                "name": "copy-gatewayapi-plugin",
                "image": format!("ghcr.io/argoproj-labs/{binary}:{GATEWAY_API_PLUGIN}"),
                "command": ["/bin/sh", "-c"],
                "args": [format!("cp /bin/{binary} {dir}/")],
                "volumeMounts": [{ "name": "gatewayapi-plugin", "mountPath": dir }],
                "securityContext": {
                    "runAsNonRoot": true,
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": { "drop": ["ALL"] },
                    "seccompProfile": { "type": "RuntimeDefault" },
                },
            }],
            "trafficRouterPlugins": [{
                "name": crate::emit::rollouts::GATEWAY_PLUGIN,
                "location": format!("file://{dir}/{binary}"),
            }],
            "volumes": [{ "name": "gatewayapi-plugin", "emptyDir": {} }],
            "volumeMounts": [{ "name": "gatewayapi-plugin", "mountPath": dir }],
        });
    }
    let providers = [
        "istio",
        "smi",
        "ambassador",
        "awsLoadBalancerController",
        "awsAppMesh",
        "traefik",
        "apisix",
        "contour",
        "glooPlatform",
    ]
    .into_iter()
    .map(|p| (p.to_owned(), json!(false)))
    .chain([("gatewayAPI".to_owned(), json!(routed))])
    .collect::<serde_json::Map<_, _>>();
    let mut rbac = json!({ "enabled": routed, "providers": providers });
    if routed {
        rbac["additionalRules"] = json!([{
            "apiGroups": ["gateway.networking.k8s.io"],
            "resources": ["httproutes"],
            "verbs": ["patch"],
        }]);
    }
    Some(Addon {
        id: "argo_rollouts",
        release: "argo-rollouts",
        repository: "https://argoproj.github.io/argo-helm",
        chart: "argo-rollouts",
        version: ARGO_ROLLOUTS,
        namespace: ARGO_ROLLOUTS_NAMESPACE.to_owned(),
        values: Some(json!({
            "installCRDs": true,
            "controller": controller,
            "providerRBAC": rbac,
        })),
        // The plugin updates HTTPRoutes, whose CRDs the edge's chart installs (Envoy
        // Gateway's, or the CRD chart for Istio's gateway).
        after: if routed {
            gateway_crds_owner(env)
                .map(After::Addon)
                .into_iter()
                .collect()
        } else {
            Vec::new()
        },
        role: None,
    })
}

/// The barman-cloud plugin, in the operator's namespace, when an operated PostgreSQL store
/// backs up.
///
/// Why a plugin: the operator's in-tree `barmanObjectStore` is deprecated since 1.26 and
/// removed in 1.31; the plugin archives the WAL and takes base backups into the
/// `ObjectStore` the platform chart generates. It needs cert-manager and the operator first.
fn barman_cloud(env: &Environment) -> Option<Addon> {
    needs_barman_cloud(env).then(|| Addon {
        id: "barman_cloud",
        release: "barman-cloud",
        repository: "https://cloudnative-pg.github.io/charts",
        chart: "plugin-barman-cloud",
        version: BARMAN_CLOUD,
        namespace: crate::emit::cnpg::OPERATOR_NAMESPACE.to_owned(),
        values: Some(json!({ "crds": { "create": true } })),
        after: vec![After::Addon("cert_manager"), After::Addon("cloudnative_pg")],
        role: None,
    })
}

/// Whether an operated PostgreSQL store backs up, through the barman-cloud plugin.
fn needs_barman_cloud(env: &Environment) -> bool {
    env.workloads
        .iter()
        .any(|w| crate::emit::cnpg::operated(env, w) && crate::emit::cnpg::backup(w).is_some())
}

/// Traefik as the ingress controller, when the edge is classic Ingress
/// (`platform.gateway = "ingress"`), a workload is exposed and the spec keeps plinth's
/// default ingress class.
///
/// Why: an Ingress is served only by a controller that watches its class. ingress-nginx,
/// the long-time default, was retired in March 2026; Traefik reads standard Ingresses, is
/// what the Compose output already routes with, and its chart runs non-root with a
/// read-only root filesystem by default. It gets an IngressClass named as plinth's default
/// (not the cluster default, so other tenants' classless Ingresses are not captured) and a
/// Network Load Balancer. A class the spec names is the cluster's own controller: nothing
/// is installed, and the build notes it as a prerequisite ([`notes`]).
fn ingress_controller(env: &Environment) -> Option<Addon> {
    (env.cluster.edge == ir::Edge::Ingress
        && env.workloads.iter().any(|w| w.ingress.is_some())
        && env.cluster.ingress_class == units::INGRESS_CLASS)
        .then(|| Addon {
            id: "ingress_controller",
            release: "traefik",
            repository: "https://traefik.github.io/charts",
            chart: "traefik",
            version: TRAEFIK,
            namespace: env.cluster.ingress_namespace.clone(),
            values: Some(json!({
                "ingressClass": {
                    "enabled": true,
                    "isDefaultClass": false,
                    "name": units::INGRESS_CLASS,
                },
                "service": {
                    "annotations": {
                        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                    }
                },
            })),
            after: Vec::new(),
            role: None,
        })
}
