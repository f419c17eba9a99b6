//! The Gateway API edge of an environment (`platform.gateway`, Envoy Gateway by default
//! with a cloud): what its one `Gateway` can hold.

use std::collections::BTreeMap;

use super::{dns::route_host, Ctx};
use crate::diag::{Code, Diagnostic};
use crate::spec::Sp;

/// The HTTPS listeners one `Gateway` can hold: the Gateway API caps `spec.listeners` at 64,
/// and one is the HTTP listener every host shares.
pub(crate) const MAX_TLS_HOSTS: usize = 63;

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        if !ctx.spec.platform.gateway_api(view.cloud.is_some()) {
            continue;
        }
        let env = view
            .env
            .as_ref()
            .and_then(|e| ctx.spec.environments.get(e.value.as_str()));
        let domain = env
            .and_then(|e| e.domain.as_ref())
            .or(ctx.spec.platform.domain.as_ref())
            .map(|d| d.value.clone());
        let mut hosts: BTreeMap<String, &Sp<String>> = BTreeMap::new();
        for s in view.services.values() {
            let Some(i) = &s.ingress else { continue };
            if !i.tls.as_ref().is_none_or(|t| t.value) {
                continue;
            }
            if let Some(written) = &i.host {
                if let Some(host) = route_host(written, domain.as_deref()) {
                    hosts.entry(host).or_insert(written);
                }
            }
        }
        too_many_tls_hosts(&hosts, view.env.as_ref(), &mut found);
    }
    for d in found {
        ctx.report(d);
    }
}

/// E210 `too-many-tls-hosts`: more than 63 distinct hosts terminating TLS in one
/// environment whose edge is the Gateway API.
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
