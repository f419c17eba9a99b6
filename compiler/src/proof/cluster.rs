//! What the cluster must provide for the manifests to come up: the Secrets pods read, the
//! CRDs of custom resources, storage for volume claims, the metrics APIs autoscalers read and
//! a network plug-in that enforces NetworkPolicies. Each is proven against what the same
//! environment's output creates: its manifests, and its Terraform's add-ons and Helm releases.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{containers, Block, Finding, Object};
use crate::diag::Code;

/// The annotation that makes a StorageClass the cluster's default.
const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// API groups Kubernetes serves itself: objects of these need no CRD.
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

/// The API groups whose CRDs each upstream chart installs, by chart name. A chart not listed
/// installs none that the proof knows of.
const CHART_GROUPS: &[(&str, &[&str])] = &[
    ("kube-prometheus-stack", &["monitoring.coreos.com"]),
    ("prometheus-operator-crds", &["monitoring.coreos.com"]),
    (
        "external-secrets",
        &["external-secrets.io", "generators.external-secrets.io"],
    ),
    ("cert-manager", &["cert-manager.io", "acme.cert-manager.io"]),
    ("vpa", &["autoscaling.k8s.io"]),
    ("vertical-pod-autoscaler", &["autoscaling.k8s.io"]),
    ("keda", &["keda.sh", "eventing.keda.sh"]),
    ("traefik", &["traefik.io", "traefik.containo.us"]),
    (
        "gateway-helm",
        &["gateway.networking.k8s.io", "gateway.envoyproxy.io"],
    ),
    ("gateway-crds-helm", &["gateway.networking.k8s.io"]),
    // Istio's `base` chart: the mesh's CRDs.
    (
        "base",
        &[
            "security.istio.io",
            "networking.istio.io",
            "telemetry.istio.io",
            "extensions.istio.io",
        ],
    ),
    ("cloudnative-pg", &["postgresql.cnpg.io"]),
    ("plugin-barman-cloud", &["barmancloud.cnpg.io"]),
    ("argo-rollouts", &["argoproj.io"]),
];

/// Charts that serve the resource metrics API (`metrics.k8s.io`).
const METRICS_SERVERS: &[&str] = &["metrics-server"];

/// Charts that serve the custom or external metrics APIs.
const METRICS_ADAPTERS: &[&str] = &["prometheus-adapter", "keda", "kube-metrics-adapter"];

/// Charts of network plug-ins that enforce NetworkPolicies on their own.
const POLICY_ENGINES: &[&str] = &["cilium", "tigera-operator", "calico"];

/// A `helm_release` of the Terraform: its address, chart and direct `depends_on`.
struct Release {
    address: String,
    chart: String,
    depends_on: Vec<String>,
}

/// The text of a Terraform reference or string as the JSON of hcl-rs shows it, without the
/// `${…}` of an interpolation.
fn reference(v: &Value) -> Option<String> {
    let s = v.as_str()?;
    let s = s
        .strip_prefix("${")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    Some(s.to_owned())
}

/// The Helm releases of `tf`.
fn releases(tf: &[Block]) -> Vec<Release> {
    tf.iter()
        .filter(|b| b.ident == "resource" && b.labels.first().is_some_and(|l| l == "helm_release"))
        .map(|b| Release {
            address: b.address(),
            chart: b.body.get("chart").and_then(reference).unwrap_or_default(),
            depends_on: b
                .body
                .get("depends_on")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(reference)
                .collect(),
        })
        .collect()
}

/// Whether a chart reference (a name, or a path to the platform's own chart) is `name`.
fn chart_is(chart: &str, name: &str) -> bool {
    chart == name || chart.rsplit('/').next() == Some(name)
}

/// The release that applies the platform's own chart: the one whose chart is a path into
/// the output's `helm/` folder.
fn platform_release(releases: &[Release]) -> Option<&Release> {
    releases.iter().find(|r| r.chart.contains("/helm/"))
}

/// Whether release `from` depends on `on`, directly or through other releases.
fn ordered_after(releases: &[Release], from: &Release, on: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from];
    while let Some(r) = todo.pop() {
        for d in &r.depends_on {
            if d == on {
                return true;
            }
            if seen.insert(d.clone()) {
                todo.extend(releases.iter().filter(|x| &x.address == d));
            }
        }
    }
    false
}

/// The EKS module's add-ons (`addons`, or `cluster_addons` before version 21), by name:
/// `None` when the Terraform runs no EKS cluster, an empty map for one without add-ons.
fn eks_addons(tf: &[Block]) -> Option<&serde_json::Map<String, Value>> {
    let eks = tf.iter().find(|b| {
        b.ident == "module"
            && b.body
                .get("source")
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("terraform-aws-modules/eks/aws"))
    })?;
    eks.body
        .get("addons")
        .or_else(|| eks.body.get("cluster_addons"))
        .and_then(Value::as_object)
        .or(Some(&EMPTY))
}

/// An empty add-on map, for an EKS module that has none.
static EMPTY: std::sync::LazyLock<serde_json::Map<String, Value>> =
    std::sync::LazyLock::new(serde_json::Map::new);

/// Whether a release of one of `charts`, or an EKS add-on of one of those names, is installed.
fn installs(tf: &[Block], charts: &[&str]) -> bool {
    releases(tf)
        .iter()
        .any(|r| charts.iter().any(|c| chart_is(&r.chart, c)))
        || eks_addons(tf).is_some_and(|a| charts.iter().any(|c| a.contains_key(*c)))
}

/// Whether a release of the chart `name` is installed.
pub(super) fn installs_chart(tf: &[Block], name: &str) -> bool {
    installs(tf, &[name])
}

/// The Secrets the pods of `o` read: environment variables, `envFrom`, volumes (projected
/// ones too) and image pull secrets; and the certificate Secrets of a `Gateway`'s listeners
/// and of an `Ingress`'s TLS hosts, which the proxy serving them reads.
fn secrets_read(o: &Object) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    match o.kind.as_str() {
        "Gateway" => {
            let listeners = o.doc.pointer("/spec/listeners").and_then(Value::as_array);
            for l in listeners.into_iter().flatten() {
                let refs = l.pointer("/tls/certificateRefs").and_then(Value::as_array);
                names.extend(
                    refs.into_iter()
                        .flatten()
                        .filter(|r| r.get("kind").is_none_or(|k| k == "Secret"))
                        .filter_map(|r| r.get("name").and_then(Value::as_str))
                        .map(str::to_owned),
                );
            }
            return names;
        }
        "Ingress" => {
            let tls = o.doc.pointer("/spec/tls").and_then(Value::as_array);
            names.extend(
                tls.into_iter()
                    .flatten()
                    .filter_map(|t| t.get("secretName").and_then(Value::as_str))
                    .map(str::to_owned),
            );
            return names;
        }
        _ => {}
    }
    let Some(t) = o.pod_template() else {
        return names;
    };
    let mut add = |v: Option<&Value>| {
        if let Some(n) = v.and_then(Value::as_str) {
            names.insert(n.to_owned());
        }
    };
    for c in containers(t) {
        for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
            add(e.pointer("/valueFrom/secretKeyRef/name"));
        }
        for e in c
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add(e.pointer("/secretRef/name"));
        }
    }
    for v in t
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add(v.pointer("/secret/secretName"));
        let sources = v.pointer("/projected/sources").and_then(Value::as_array);
        for s in sources.into_iter().flatten() {
            add(s.pointer("/secret/name"));
        }
    }
    let pulls = t
        .pointer("/spec/imagePullSecrets")
        .and_then(Value::as_array);
    for p in pulls.into_iter().flatten() {
        add(p.get("name"));
    }
    names
}

/// The Secrets the output creates, by namespace and name: Secret objects, the targets of
/// ExternalSecrets, cert-manager Certificates' `secretName`, and Kubernetes Secrets of the
/// Terraform (the Secrets an operator creates are synthesized as Secret objects by
/// `operators.rs`).
fn secrets_made(objects: &[Object], tf: Option<&[Block]>) -> BTreeSet<(String, String)> {
    let mut made = BTreeSet::new();
    for o in objects {
        let name = match o.kind.as_str() {
            "Secret" => Some(o.name.clone()),
            "ExternalSecret" => Some(
                o.doc
                    .pointer("/spec/target/name")
                    .and_then(Value::as_str)
                    .unwrap_or(&o.name)
                    .to_owned(),
            ),
            "Certificate" => o
                .doc
                .pointer("/spec/secretName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        if let Some(n) = name {
            made.insert((o.namespace.clone(), n));
        }
    }
    for b in tf.into_iter().flatten() {
        let kind = b.labels.first().map(String::as_str);
        if b.ident == "resource"
            && matches!(kind, Some("kubernetes_secret" | "kubernetes_secret_v1"))
        {
            let meta = b.body.get("metadata");
            let meta = meta.and_then(|m| m.as_array().and_then(|a| a.first()).or(Some(m)));
            let s = |k: &str| meta.and_then(|m| m.get(k)).and_then(reference);
            if let Some(name) = s("name") {
                made.insert((s("namespace").unwrap_or_default(), name));
            }
        }
    }
    made
}

/// P005 `unproduced-secret`: in an environment with a cloud, a Secret that a pod reads
/// (variables, volumes, pull secrets) or that an upstream chart's values mount
/// (kube-prometheus-stack's `alertmanager.alertmanagerSpec.secrets`), and that nothing in
/// the environment's output creates: no Secret object, no `ExternalSecret` with that target
/// name, no Certificate, no CloudNativePG `Cluster` (`<cluster>-app`), no Terraform
/// `kubernetes_secret`, and that the spec does not declare
/// provided from outside (`secrets.NAME.source = "external"`).
///
/// Why: a pod that reads a missing Secret never starts (`CreateContainerConfigError`), and
/// nothing in the output says who is meant to make it. A secret that really comes from
/// outside is a prerequisite of the platform to declare, not to discover at deploy time.
pub(super) fn secrets(
    objects: &[Object],
    upstream: Option<&BTreeSet<String>>,
    tf: &[Block],
    external: &BTreeSet<String>,
    out: &mut Vec<Finding>,
) {
    let made = secrets_made(objects, Some(tf));
    let help = "create it in the output (an ExternalSecret from the secret store), or declare it as provided from outside the platform";
    let mut reported = BTreeSet::new();
    for o in objects {
        for name in secrets_read(o) {
            // A Secret the spec declares external is made outside the output, in whichever
            // namespace reads it.
            if !made.contains(&(o.namespace.clone(), name.clone()))
                && !external.contains(&name)
                && reported.insert((o.owner().to_owned(), name.clone()))
            {
                out.push(Finding::on(
                    Code::UnproducedSecret,
                    o.owner(),
                    format!(
                        "{} `{}` reads Secret `{name}`, which nothing in the output creates",
                        o.kind, o.name
                    ),
                    help,
                ));
            }
        }
    }
    for name in upstream.into_iter().flatten() {
        // kube-prometheus-stack runs Alertmanager in the namespace of its release.
        if !made.iter().any(|(_, n)| n == name) && !external.contains(name) {
            out.push(Finding::env(
                Code::UnproducedSecret,
                format!("Alertmanager mounts Secret `{name}` (kube-prometheus-stack values), which nothing in the output creates"),
                help,
            ));
        }
    }
}

/// P006 `uninstalled-crd`, P007 `crd-installed-late`: an object of an API group Kubernetes
/// does not serve itself (a ServiceMonitor, a VerticalPodAutoscaler, an ExternalSecret)
/// whose CRDs no `helm_release` of the environment's Terraform installs, or installs in a
/// release the platform chart's release does not depend on.
///
/// Why: the API server rejects an object of an unknown kind, and Helm fails the whole
/// release; an operator installed in parallel with the chart loses that race on a fresh
/// cluster. Which chart installs which groups is [`CHART_GROUPS`].
pub(super) fn custom_resources(objects: &[Object], tf: &[Block], out: &mut Vec<Finding>) {
    let releases = releases(tf);
    let platform = platform_release(&releases);
    let mut reported = BTreeSet::new();
    for o in objects {
        let group = o.group();
        if BUILT_IN_GROUPS.contains(&group)
            || !reported.insert((o.owner().to_owned(), group.to_owned()))
        {
            continue;
        }
        let installer = releases.iter().find(|r| {
            CHART_GROUPS
                .iter()
                .any(|(chart, groups)| chart_is(&r.chart, chart) && groups.contains(&group))
        });
        match installer {
            None => out.push(Finding::on(
                Code::UninstalledCrd,
                o.owner(),
                format!("{} `{}` is of API group `{group}`, whose CRDs no release of the Terraform installs", o.kind, o.name),
                format!("install the operator that serves `{group}` with a helm_release the platform's release depends on"),
            )),
            Some(r) => {
                if platform.is_some_and(|p| !ordered_after(&releases, p, &r.address)) {
                    out.push(Finding::on(
                        Code::CrdInstalledLate,
                        o.owner(),
                        format!("{} `{}` needs the CRDs of `{}`, which the platform's release does not depend on", o.kind, o.name, r.address),
                        format!("add `{}` to the platform release's `depends_on`", r.address),
                    ));
                }
            }
        }
    }
}

/// The StorageClasses the output creates (Kubernetes objects or Terraform resources), and
/// whether one of them is the default.
fn storage_classes(objects: &[Object], tf: &[Block]) -> (BTreeSet<String>, bool) {
    let mut names = BTreeSet::new();
    let mut default = false;
    for o in objects.iter().filter(|o| o.kind == "StorageClass") {
        names.insert(o.name.clone());
        let a = o
            .doc
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(DEFAULT_CLASS));
        default |= a.and_then(Value::as_str) == Some("true");
    }
    for b in tf.iter().filter(|b| {
        b.ident == "resource"
            && b.labels.first().is_some_and(|l| {
                l == "kubernetes_storage_class_v1" || l == "kubernetes_storage_class"
            })
    }) {
        let meta = b.body.get("metadata");
        let meta = meta.and_then(|m| m.as_array().and_then(|a| a.first()).or(Some(m)));
        if let Some(n) = meta.and_then(|m| m.get("name")).and_then(reference) {
            names.insert(n);
        }
        let a = meta
            .and_then(|m| m.pointer("/annotations"))
            .and_then(|a| a.get(DEFAULT_CLASS));
        default |= a.is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true));
    }
    (names, default)
}

/// P008 `no-storage-class`, P009 `no-ebs-csi-driver`: a PersistentVolumeClaim or a
/// StatefulSet's volume claim template that names a StorageClass the output does not create,
/// or none while the output makes no class the default; and, on EKS, claims without the EBS
/// CSI driver add-on.
///
/// Why: such a claim stays `Pending` forever and its pod never schedules. EKS clusters made
/// since 1.30 have no default class, and without the EBS CSI driver nothing provisions an EBS
/// volume at all.
pub(super) fn storage(objects: &[Object], tf: &[Block], out: &mut Vec<Finding>) {
    let (classes, default) = storage_classes(objects, tf);
    let mut claims: Vec<(&Object, String, Option<&str>)> = Vec::new();
    for o in objects {
        if o.kind == "PersistentVolumeClaim" {
            let class = o
                .doc
                .pointer("/spec/storageClassName")
                .and_then(Value::as_str);
            claims.push((o, o.name.clone(), class));
        }
        let templates = o
            .doc
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array);
        for t in templates.into_iter().flatten() {
            let name = t
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let class = t.pointer("/spec/storageClassName").and_then(Value::as_str);
            claims.push((o, format!("{name} of {} `{}`", o.kind, o.name), class));
        }
    }
    for (o, claim, class) in &claims {
        let ok = match class {
            Some(c) => classes.contains(*c),
            None => default,
        };
        if !ok {
            let why = match class {
                Some(c) => format!("names StorageClass `{c}`, which the output does not create"),
                None => "names no StorageClass, and the output makes none the default".to_owned(),
            };
            out.push(Finding::on(
                Code::NoStorageClass,
                o.owner(),
                format!("volume claim {claim} {why}"),
                "create a StorageClass (a default one, e.g. gp3 on the EBS CSI driver) in the environment's Terraform",
            ));
        }
    }
    let csi = eks_addons(tf).is_none_or(|a| a.contains_key("aws-ebs-csi-driver"));
    if let (Some((o, claim, _)), false) = (claims.first(), csi) {
        out.push(Finding::on(
            Code::NoEbsCsiDriver,
            o.owner(),
            format!("volume claim {claim} needs EBS volumes, and the EKS cluster has no `aws-ebs-csi-driver` add-on"),
            "add the `aws-ebs-csi-driver` add-on to the EKS module",
        ));
    }
}

/// P010 `no-metrics-server`, P011 `no-metrics-adapter`: a HorizontalPodAutoscaler on
/// resource metrics in a cluster without metrics-server, or on pod, object or external
/// metrics in one without an adapter (prometheus-adapter, KEDA).
///
/// Why: the autoscaler then reports `FailedGetResourceMetric` and never scales; EKS does
/// not install metrics-server by default.
pub(super) fn autoscaling_metrics(objects: &[Object], tf: &[Block], out: &mut Vec<Finding>) {
    let server = installs(tf, METRICS_SERVERS);
    let adapter = installs(tf, METRICS_ADAPTERS);
    for h in objects
        .iter()
        .filter(|o| o.kind == "HorizontalPodAutoscaler")
    {
        let metrics = h.doc.pointer("/spec/metrics").and_then(Value::as_array);
        let types: BTreeSet<&str> = metrics
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("type").and_then(Value::as_str))
            .collect();
        let resource = types.contains("Resource") || types.contains("ContainerResource");
        if resource && !server {
            out.push(Finding::on(
                Code::NoMetricsServer,
                h.owner(),
                format!("HorizontalPodAutoscaler `{}` scales on resource metrics, and the cluster has no metrics-server", h.name),
                "install metrics-server (the EKS add-on or its Helm chart) in the environment's Terraform",
            ));
        }
        let custom = types
            .iter()
            .any(|t| matches!(*t, "Pods" | "Object" | "External"));
        if custom && !adapter {
            out.push(Finding::on(
                Code::NoMetricsAdapter,
                h.owner(),
                format!("HorizontalPodAutoscaler `{}` scales on custom or external metrics, and the cluster has no metrics adapter", h.name),
                "install prometheus-adapter or KEDA in the environment's Terraform",
            ));
        }
    }
}

/// Whether a JSON value holds `enableNetworkPolicy` set to true, at any depth (the VPC CNI
/// add-on's `configuration_values` is `jsonencode({ enableNetworkPolicy = "true" })`).
fn enables_policy(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            (k == "enableNetworkPolicy"
                && (v.as_str() == Some("true") || v.as_bool() == Some(true)))
                || enables_policy(v)
        }),
        Value::Array(a) => a.iter().any(enables_policy),
        Value::String(s) => s.contains("enableNetworkPolicy") && s.contains("true"),
        _ => false,
    }
}

/// P012 `unenforced-network-policy`: NetworkPolicies for an EKS cluster whose VPC CNI
/// add-on does not set `enableNetworkPolicy`, and that runs no policy engine of its own
/// (Cilium, Calico).
///
/// Why: the API server stores NetworkPolicies whether or not anything enforces them, so the
/// default-deny the output relies on would silently allow everything.
pub(super) fn network_policy_enforcement(objects: &[Object], tf: &[Block], out: &mut Vec<Finding>) {
    if !objects.iter().any(|o| o.kind == "NetworkPolicy") {
        return;
    }
    let Some(addons) = eks_addons(tf) else {
        return;
    };
    let vpc_cni = addons.get("vpc-cni").is_some_and(enables_policy);
    if !vpc_cni && !installs(tf, POLICY_ENGINES) {
        out.push(Finding::env(
            Code::UnenforcedNetworkPolicy,
            "the output has NetworkPolicies, and the EKS cluster's VPC CNI does not enforce them"
                .to_owned(),
            "set `enableNetworkPolicy = \"true\"` in the `vpc-cni` add-on's configuration values",
        ));
    }
}
