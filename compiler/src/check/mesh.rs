//! The service mesh (`platform.mesh`) and the services' `traffic` policies it applies.

use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::spec::{Gateway, Service, Sp, Traffic};
use crate::units;

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    mesh_needs_istio_gateway(ctx.spec, &mut found);
    for view in ctx.views {
        let local = view
            .env
            .as_ref()
            .and_then(|e| ctx.spec.environments.get(e.value.as_str()))
            .and_then(|e| e.local.as_ref())
            .is_some_and(|l| l.value);
        for (name, s) in &view.services {
            let Some(t) = &s.traffic else { continue };
            if ctx.spec.platform.mesh.is_none() {
                traffic_without_mesh(name, t, &mut found);
            } else if local {
                traffic_not_in_compose(name, s, view.env.as_ref(), &mut found);
            }
            invalid_traffic(t, &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// E212 `mesh-needs-istio-gateway`: `mesh = "istio"` with `gateway = "envoy"` or
/// `"ingress"`.
///
/// Why: under the mesh every service requires mutual TLS with a mesh identity. Envoy
/// Gateway's proxies and an ingress controller run outside the mesh, so every request they
/// forward would be refused; Istio's own gateway is in the mesh and presents the identity
/// the services' authorization policies admit.
///
/// Example: `mesh = "istio"` and `gateway = "envoy"` under `[platform]`.
fn mesh_needs_istio_gateway(spec: &crate::spec::Spec, out: &mut Vec<Diagnostic>) {
    let (Some(mesh), Some(g)) = (&spec.platform.mesh, &spec.platform.gateway) else {
        return;
    };
    if g.value == Gateway::Istio {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::MeshNeedsIstioGateway,
            "the mesh needs Istio's gateway at the edge",
            g.span.clone(),
            "outside the mesh",
        )
        .related(mesh.span.clone(), "mesh chosen here")
        .help("set `gateway = \"istio\"` (the default with a mesh), or remove `mesh`"),
    );
}

/// The first span written inside a `traffic` table, to point at it.
fn traffic_span(t: &Traffic) -> Option<&crate::source::Span> {
    let c = t.circuit_breaker.as_ref();
    let p = t.connection_pool.as_ref();
    let r = t.retries.as_ref();
    let counts = [
        c.and_then(|c| c.consecutive_errors.as_ref()),
        c.and_then(|c| c.max_ejection_percent.as_ref()),
        p.and_then(|p| p.max_connections.as_ref()),
        p.and_then(|p| p.max_pending_requests.as_ref()),
        p.and_then(|p| p.max_requests_per_connection.as_ref()),
        r.and_then(|r| r.attempts.as_ref()),
    ];
    let durations = [
        c.and_then(|c| c.ejection.as_ref()),
        c.and_then(|c| c.interval.as_ref()),
        t.timeout.as_ref(),
        r.and_then(|r| r.per_try_timeout.as_ref()),
    ];
    counts
        .into_iter()
        .flatten()
        .map(|v| &v.span)
        .chain(durations.into_iter().flatten().map(|v| &v.span))
        .min_by_key(|s| s.range.start)
}

/// E213 `traffic-without-mesh`: a service's `traffic` on a platform without `mesh`.
///
/// Why: circuit breaking, connection limits, timeouts and retries between services are
/// applied by the callers' sidecars; without a mesh nothing would apply them, and the spec
/// would promise a behaviour the platform does not have.
///
/// Example: `traffic = { circuit_breaker = { consecutive_errors = 5, ejection = "30s" } }`
/// with no `mesh` under `[platform]`.
fn traffic_without_mesh(name: &Sp<String>, t: &Traffic, out: &mut Vec<Diagnostic>) {
    let span = traffic_span(t).unwrap_or(&name.span).clone();
    out.push(
        Diagnostic::new(
            Code::TrafficWithoutMesh,
            format!(
                "`{}` sets a traffic policy, and the platform has no mesh to apply it",
                name.value
            ),
            span,
            "nothing applies this",
        )
        .help("set `mesh = \"istio\"` under `[platform]`, or remove `traffic`"),
    );
}

/// W020 `traffic-not-in-compose`: a service's `traffic` in an environment Compose runs.
///
/// Why: Compose has no mesh; its containers call each other directly, without mutual TLS,
/// circuit breaking, timeouts or retries, so the local environment behaves differently
/// from the cluster under failure.
///
/// Example: `traffic.timeout = "5s"` on a service, with a `local = true` environment.
fn traffic_not_in_compose(
    name: &Sp<String>,
    s: &Service,
    env: Option<&Sp<String>>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(t) = &s.traffic else { return };
    let span = traffic_span(t).unwrap_or(&name.span).clone();
    let env = env.map_or(String::new(), |e| format!(" `{}`", e.value));
    out.push(
        Diagnostic::new(
            Code::TrafficNotInCompose,
            format!("Compose has no mesh: the traffic policy of `{}` does not apply in environment{env}", name.value),
            span,
            "not applied by Compose",
        )
        .help("expect no circuit breaking, timeouts, retries or mutual TLS locally; allow W020 with a reason to silence this"),
    );
}

/// E214 `invalid-traffic`: a count below one, an ejection share above 100%, a malformed
/// duration, or a per-try timeout longer than the timeout.
///
/// Why: Istio rejects or silently clamps these (a zero `consecutive5xxErrors` turns outlier
/// detection off, a per-try timeout beyond the overall timeout never fires), so the policy
/// would not be the one the spec reads as.
///
/// Example: `circuit_breaker = { consecutive_errors = 0 }`.
fn invalid_traffic(t: &Traffic, out: &mut Vec<Diagnostic>) {
    let c = t.circuit_breaker.as_ref();
    let p = t.connection_pool.as_ref();
    let r = t.retries.as_ref();
    let mut bad = |span: &crate::source::Span, message: String, help: &str| {
        out.push(
            Diagnostic::new(Code::InvalidTraffic, message, span.clone(), "out of range")
                .help(help.to_owned()),
        );
    };
    let counts = [
        (
            "consecutive_errors",
            c.and_then(|c| c.consecutive_errors.as_ref()),
        ),
        (
            "max_connections",
            p.and_then(|p| p.max_connections.as_ref()),
        ),
        (
            "max_pending_requests",
            p.and_then(|p| p.max_pending_requests.as_ref()),
        ),
        (
            "max_requests_per_connection",
            p.and_then(|p| p.max_requests_per_connection.as_ref()),
        ),
        ("attempts", r.and_then(|r| r.attempts.as_ref())),
    ];
    for (key, v) in counts {
        if let Some(v) = v.filter(|v| v.value < 1 || v.value > i64::from(u32::MAX)) {
            bad(
                &v.span,
                format!("`{key}` must be a whole number from 1, not {}", v.value),
                "leave the key out for Istio's default",
            );
        }
    }
    if let Some(v) = c
        .and_then(|c| c.max_ejection_percent.as_ref())
        .filter(|v| !(1..=100).contains(&v.value))
    {
        bad(
            &v.span,
            format!(
                "`max_ejection_percent` must be from 1 to 100, not {}",
                v.value
            ),
            "the share of the service's pods that may be ejected at once, in percent",
        );
    }
    let durations = [
        ("ejection", c.and_then(|c| c.ejection.as_ref())),
        ("interval", c.and_then(|c| c.interval.as_ref())),
        ("timeout", t.timeout.as_ref()),
        (
            "per_try_timeout",
            r.and_then(|r| r.per_try_timeout.as_ref()),
        ),
    ];
    let mut ms = std::collections::BTreeMap::new();
    for (key, v) in durations {
        let Some(v) = v else { continue };
        match units::parse_duration(&v.value) {
            Ok(0) => bad(
                &v.span,
                format!("`{key}` must be longer than zero"),
                "write a duration such as `30s`",
            ),
            Ok(n) => {
                ms.insert(key, n);
            }
            Err(e) => bad(
                &v.span,
                format!("`{key}`: {e}"),
                "write a duration such as `30s`",
            ),
        }
    }
    if let (Some(total), Some(each), Some(v)) = (
        ms.get("timeout"),
        ms.get("per_try_timeout"),
        r.and_then(|r| r.per_try_timeout.as_ref()),
    ) {
        if each > total {
            bad(
                &v.span,
                "`per_try_timeout` is longer than `timeout`, so no attempt is ever cut short"
                    .to_owned(),
                "make each attempt's timeout shorter than the call's",
            );
        }
    }
}
