//! The Gateway API edge of an environment (`platform.gateway`, Envoy Gateway by default
//! with a cloud): what its one `Gateway` can hold.

use std::collections::BTreeMap;

use super::{dns::route_host, Ctx};
use crate::diag::{Code, Diagnostic};
use crate::spec::Sp;

/// The HTTPS listeners one `Gateway` can hold: the Gateway API caps `spec.listeners` at 64,
/// and one is the HTTP listener every host shares.
pub(crate) const MAX_TLS_HOSTS: usize = 63;

/// A service's name and the host it routes, as written.
type Routed<'a> = (&'a Sp<String>, &'a Sp<String>);

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let env = view
            .env
            .as_ref()
            .and_then(|e| ctx.spec.environments.get(e.value.as_str()));
        let domain = env
            .and_then(|e| e.domain.as_ref())
            .or(ctx.spec.platform.domain.as_ref())
            .map(|d| d.value.clone());
        let gateway_api = ctx.spec.platform.gateway_api(view.cloud.is_some());
        let local = env.and_then(|e| e.local.as_ref()).is_some_and(|l| l.value);
        // Route hosts first, then redirect hosts, each with the span that wrote it.
        let mut routes: BTreeMap<String, &Sp<String>> = BTreeMap::new();
        let mut tls_hosts: BTreeMap<String, &Sp<String>> = BTreeMap::new();
        let mut paths: BTreeMap<(String, String), Routed> = BTreeMap::new();
        for (name, s) in &view.services {
            let Some(i) = &s.ingress else { continue };
            let tls = i.tls.as_ref().is_none_or(|t| t.value);
            if let Some(written) = &i.host {
                if let Some(host) = route_host(written, domain.as_deref()) {
                    let path = route_path(i.path.as_ref().map(|p| p.value.as_str()));
                    let key = (host.clone(), path);
                    match paths.get(&key) {
                        Some(first) => route_taken(&key, (name, written), *first, &mut found),
                        None => {
                            paths.insert(key, (name, written));
                        }
                    }
                    routes.entry(host.clone()).or_insert(written);
                    if tls {
                        tls_hosts.entry(host).or_insert(written);
                    }
                }
            }
        }
        let mut redirects: BTreeMap<String, &Sp<String>> = BTreeMap::new();
        for s in view.services.values() {
            let Some(i) = &s.ingress else { continue };
            let tls = i.tls.as_ref().is_none_or(|t| t.value);
            for written in i.redirect_from.iter().flatten() {
                if !gateway_api || local {
                    redirect_not_generated(written, view.env.as_ref(), local, &mut found);
                }
                let Some(host) = route_host(written, domain.as_deref()) else {
                    continue;
                };
                if let Some(taken) = routes.get(&host).or(redirects.get(&host)) {
                    redirect_host_taken(&host, written, taken, &mut found);
                    continue;
                }
                redirects.insert(host.clone(), written);
                if tls {
                    tls_hosts.entry(host).or_insert(written);
                }
            }
        }
        if gateway_api {
            too_many_tls_hosts(&tls_hosts, view.env.as_ref(), &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// The path prefix an ingress routes, as the controllers compare it: `/` when none is
/// given, and without a trailing `/`, since a `Prefix` match is by path element (`/api` and
/// `/api/` match the same requests).
fn route_path(path: Option<&str>) -> String {
    match path.map(|p| p.trim_end_matches('/')) {
        None | Some("") => "/".to_owned(),
        Some(p) => p.to_owned(),
    }
}

/// E258 `route-taken`: two services whose ingress routes the same host and path prefix in an
/// environment, after `{domain}` is replaced by the environment's domain.
///
/// Why: the output would hold two Ingresses or HTTPRoutes (and, in Compose, two Traefik
/// routers) for one host and path; which service answers depends on the controller, on
/// creation order or on a router's priority, so half of the spec is silently not served.
///
/// Example: `ingress = { host = "app.{domain}" }` on two services.
fn route_taken(
    (host, path): &(String, String),
    (name, written): Routed,
    (first_name, first): Routed,
    out: &mut Vec<Diagnostic>,
) {
    out.push(
        Diagnostic::new(
            Code::RouteTaken,
            // The host as written, so that one pair of services is one error however many
            // environments show it; the label names the host the environment resolved.
            format!(
                "`{}` and `{}` both route `{}` at `{path}`",
                first_name.value, name.value, written.value
            ),
            written.span.clone(),
            format!("`{host}{path}` routed a second time"),
        )
        .related(first.span.clone(), "first routed here")
        .help("give one of them another host, or another `path` prefix such as `path = \"/api\"`"),
    );
}

/// E211 `redirect-host-taken`: a host of an ingress's `redirect_from` that is also a route
/// host of the environment, or another redirect's host.
///
/// Why: the Gateway would hold two routes for one host and path, one serving and one
/// redirecting, and which wins depends on their creation order; a redirect to itself would
/// loop.
///
/// Example: `host = "app.{domain}"` on one service and `redirect_from = ["app.{domain}"]` on
/// another.
fn redirect_host_taken(
    host: &str,
    written: &Sp<String>,
    taken: &Sp<String>,
    out: &mut Vec<Diagnostic>,
) {
    out.push(
        Diagnostic::new(
            Code::RedirectHostTaken,
            format!("`{host}` cannot redirect: it is already a route or redirect host"),
            written.span.clone(),
            "already routed",
        )
        .related(taken.span.clone(), "routed here")
        .help("remove it from `redirect_from`, or route it only here"),
    );
}

/// W019 `redirect-not-generated`: `redirect_from` in an environment whose edge is classic
/// Ingress or that runs on Compose, where plinth generates no redirect.
///
/// Why: an `Ingress` has no standard redirect (each controller has its own annotations or
/// custom resources), and the local Traefik routes only the services' own hosts; the hosts
/// would answer nothing rather than redirect, so the spec should know.
///
/// Example: `redirect_from = ["www.{domain}"]` with `gateway = "ingress"`.
fn redirect_not_generated(
    written: &Sp<String>,
    env: Option<&Sp<String>>,
    local: bool,
    out: &mut Vec<Diagnostic>,
) {
    let env = env.map_or(String::new(), |e| format!(" in `{}`", e.value));
    let why = if local {
        "Compose models no redirects"
    } else {
        "classic Ingress has no standard redirect"
    };
    out.push(
        Diagnostic::new(
            Code::RedirectNotGenerated,
            format!("`{}` is not redirected{env}: {why}", written.value),
            written.span.clone(),
            "no redirect generated",
        )
        .help("use the Gateway API (`gateway = \"envoy\"`) where the environment has a cloud, or allow W019 where the redirect is made elsewhere"),
    );
}

/// E210 `too-many-tls-hosts`: more than 63 distinct hosts terminating TLS in one
/// environment whose edge is the Gateway API, redirect hosts of a TLS ingress included.
///
/// Why: each TLS host needs its own HTTPS listener on the environment's `Gateway` (cert-manager
/// issues one certificate per listener hostname), and the Gateway API refuses a Gateway of
/// more than 64 listeners, one of which is the shared HTTP listener; the API server would
/// reject the Gateway at apply time and no route would be served. The error points at the
/// first host beyond the limit, in host order.
///
/// Example: 64 services, each with `ingress = { host = "<name>.{domain}" }`.
fn too_many_tls_hosts(
    hosts: &BTreeMap<String, &Sp<String>>,
    env: Option<&Sp<String>>,
    out: &mut Vec<Diagnostic>,
) {
    let Some((host, written)) = hosts.iter().nth(MAX_TLS_HOSTS) else {
        return;
    };
    let env = env.map_or(String::new(), |e| format!(" of `{}`", e.value));
    out.push(
        Diagnostic::new(
            Code::TooManyTlsHosts,
            format!(
                "{} hosts terminate TLS on the Gateway{env}, which holds at most {MAX_TLS_HOSTS}; `{host}` is the first beyond",
                hosts.len()
            ),
            written.span.clone(),
            "one host too many for the Gateway",
        )
        .help("serve several services under one host with `path` prefixes, set `tls = false` where a host is internal, or use `gateway = \"ingress\"`"),
    );
}
