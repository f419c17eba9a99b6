//! Namespaces the platform does not own: Kubernetes' own, and those of the add-ons the
//! platform relies on (ingress controller, Prometheus, the log stack).
//!
//! The k8s target writes a `Namespace` with the `restricted` Pod Security profile and a
//! default-deny NetworkPolicy into the platform's namespace. In a namespace something else
//! runs in, that breaks it: kube-dns and kube-proxy in `kube-system`, the ingress
//! controller, Prometheus. So the platform's namespace must be its own; the add-on namespace
//! settings only ever appear as NetworkPolicy peers, which these rules keep narrow.

use super::collisions::namespace_of;
use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::spec::Sp;
use crate::units;

/// Namespaces Kubernetes creates and uses itself.
const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease", "default"];

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let ns = namespace_of(ctx, view);
        system_namespace(ctx, ns, &mut found);
        add_on_namespace(ctx, ns, &mut found);
    }
    system_namespace_peer(ctx, &mut found);
    for d in found {
        ctx.report(d);
    }
}

/// The label of a namespace span: it may be the platform name the namespace defaults to.
fn namespace_label(ctx: &Ctx, ns: &Sp<String>) -> &'static str {
    if std::ptr::eq(ns, &ctx.spec.platform.name) {
        "the namespace defaults to the platform name"
    } else {
        "platform namespace"
    }
}

/// E186 `system-namespace`: the platform deploys into `kube-system`, `kube-public`,
/// `kube-node-lease`, `default`, or any other `kube-` namespace.
///
/// Why: plinth gives its namespace the `restricted` Pod Security profile and a default-deny
/// NetworkPolicy. In `kube-system` that cuts every pod there off, DNS first, and blocks the
/// privileged pods the cluster needs; `default` is where every unqualified `kubectl` and
/// every tenant's stray pod lands, so the platform's policies would cover (and its
/// allowances select) pods it does not own. The `kube-` prefix is reserved by Kubernetes.
///
/// Example: `[platform] namespace = "kube-system"`, or a platform named `default`.
fn system_namespace(ctx: &Ctx, ns: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if SYSTEM_NAMESPACES.contains(&ns.value.as_str()) || ns.value.starts_with("kube-") {
        out.push(
            Diagnostic::new(
                Code::SystemNamespace,
                format!(
                    "the platform would deploy into the system namespace `{}`",
                    ns.value
                ),
                ns.span.clone(),
                namespace_label(ctx, ns),
            )
            .help(
                "set `namespace` to a namespace of the platform's own, such as the platform name",
            ),
        );
    }
}

/// E187 `add-on-namespace`: the platform deploys into the ingress controller's namespace
/// (`platform.ingress_namespace`, default `traefik`), Prometheus's
/// (`platform.monitoring_namespace`, default `monitoring`) or the log stack's
/// (`observability`, when `observability.logs` is set).
///
/// Why: the platform's default-deny policy and Pod Security labels would apply to the
/// add-on's pods, cutting the ingress controller or Prometheus off, and the policies that
/// admit "every pod of the ingress namespace" would admit every pod of the platform too.
///
/// Example: `[platform] namespace = "monitoring"`.
fn add_on_namespace(ctx: &Ctx, ns: &Sp<String>, out: &mut Vec<Diagnostic>) {
    let platform = &ctx.spec.platform;
    let logs = ctx.spec.observability.logs.as_ref();
    let add_ons: [(&str, Option<&Sp<String>>, &str, bool); 3] = [
        (
            "the ingress controller",
            platform.ingress_namespace.as_ref(),
            units::INGRESS_NAMESPACE,
            true,
        ),
        (
            "Prometheus",
            platform.monitoring_namespace.as_ref(),
            units::MONITORING_NAMESPACE,
            true,
        ),
        ("the log stack", None, units::LOGS_NAMESPACE, logs.is_some()),
    ];
    for (what, setting, default, used) in add_ons {
        let name = setting.map_or(default, |s| s.value.as_str());
        if !used || name != ns.value {
            continue;
        }
        let mut d = Diagnostic::new(
            Code::AddOnNamespace,
            format!("the platform would deploy into `{}`, the namespace of {what}", ns.value),
            ns.span.clone(),
            namespace_label(ctx, ns),
        )
        .help("give the platform a namespace of its own: its default-deny policy and Pod Security labels would apply to the add-on");
        if let Some(s) = setting {
            d = d.related(s.span.clone(), format!("namespace of {what}"));
        }
        out.push(d);
    }
}

/// E188 `system-namespace-peer`: `platform.ingress_namespace` or
/// `platform.monitoring_namespace` is `default`, `kube-public` or `kube-node-lease`.
///
/// Why: these settings become NetworkPolicy peers that admit every pod of the namespace to
/// the platform's ingress and metrics ports. No ingress controller or Prometheus belongs in
/// these namespaces, and any user of the cluster can start a pod in `default`, so the
/// allowance would let anyone reach the ports. `kube-system` stays allowed: some
/// distributions run their ingress controller there (k3s's Traefik), and only cluster
/// administrators can start pods in it; plinth never writes into it.
///
/// Example: `[platform] monitoring_namespace = "default"`.
fn system_namespace_peer(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let platform = &ctx.spec.platform;
    for (field, setting) in [
        ("ingress_namespace", &platform.ingress_namespace),
        ("monitoring_namespace", &platform.monitoring_namespace),
    ] {
        let Some(s) = setting else { continue };
        if s.value != "kube-system" && SYSTEM_NAMESPACES.contains(&s.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::SystemNamespacePeer,
                    format!("`{field}` is the system namespace `{}`", s.value),
                    s.span.clone(),
                    "every pod here could reach the platform's ports",
                )
                .help(format!(
                    "set `{field}` to the namespace the add-on actually runs in"
                )),
            );
        }
    }
}
