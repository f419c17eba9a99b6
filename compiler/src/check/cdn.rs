//! The checks of a CDN in front of an environment's hosts (`cloud.cdn`, and Cloudflare's
//! proxy where it reaches the origin the same way): the hosts it can serve, the name of its
//! origin, its certificate's limits and its cache rules. [`super::dns`] runs them with the
//! zone they need.

use crate::diag::{Code, Diagnostic};
use crate::spec::Sp;

/// E251 `cdn-host-unservable` for a route host outside the zone of an environment whose CDN
/// fronts its hosts from a Route 53 zone.
///
/// Why: the distribution's certificate is validated through records in the zone and the
/// host's record points at the distribution from the zone; for a name outside it, ACM
/// never issues the certificate and the apply waits on the validation until it times out.
///
/// Example: `host = "www.example.org"` with `zone = "codepal.com"` and `cdn = { enabled = true }`.
pub(super) fn cdn_host_outside_zone(
    host: &str,
    written: &Sp<String>,
    zone: &str,
    cdn: &Sp<bool>,
    out: &mut Vec<Diagnostic>,
) {
    if super::dns::in_zone(host, zone) {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::CdnHostUnservable,
            format!("route host `{host}` is outside the DNS zone `{zone}`, which the CDN's certificate is validated in"),
            written.span.clone(),
            "outside the zone",
        )
        .related(cdn.span.clone(), "the CDN fronts every route host")
        .help("use a host under the zone (e.g. `api.{domain}` with the zone as domain), or turn the CDN off for this environment"),
    );
}

/// E251 `cdn-host-unservable` for a route without TLS in an environment whose CDN fronts
/// its hosts from a Route 53 zone, or whose Cloudflare zone is proxied.
///
/// Why: CloudFront reaches the origin over HTTPS, naming the viewer's host, and Cloudflare's
/// proxy does for a visitor on HTTPS in the Full (strict) mode plinth sets; a host the
/// Gateway serves only over plain HTTP has no listener there, and every such request fails.
///
/// Example: `ingress = { host = "api.{domain}", tls = false }` with `cdn = { enabled = true }`.
pub(super) fn cdn_host_without_tls(
    ingress: &crate::spec::Ingress,
    (front, label): &(crate::source::Span, &'static str),
    out: &mut Vec<Diagnostic>,
) {
    let Some(tls) = &ingress.tls else { return };
    out.push(
        Diagnostic::new(
            Code::CdnHostUnservable,
            "a route without TLS in an environment whose edge reaches the origin over HTTPS".to_owned(),
            tls.span.clone(),
            "no TLS",
        )
        .related(front.clone(), *label)
        .help("remove `tls = false` (cert-manager issues the host's certificate), or take the CDN or proxy off this environment"),
    );
}

/// E251 `cdn-host-unservable` when every host behind the CDN is longer than the 64
/// characters ACM allows in a certificate's common name.
///
/// Why: the certificate needs a common name among its names, and ACM refuses the request
/// during the apply.
///
/// Example: one route host of 70 characters with `cdn = { enabled = true }`.
pub(super) fn cdn_no_common_name(cdn: &Sp<bool>, out: &mut Vec<Diagnostic>) {
    out.push(
        Diagnostic::new(
            Code::CdnHostUnservable,
            "every host behind the CDN is longer than the 64 characters of an ACM certificate's common name".to_owned(),
            cdn.span.clone(),
            "no host can be the common name",
        )
        .help("give the environment a route host of at most 64 characters"),
    );
}

/// Names an ACM certificate may hold by default (its quota can be raised on request).
pub(super) const ACM_NAMES: usize = 10;

/// W041 `cdn-certificate-quota`: a CDN fronting more route and redirect hosts than an ACM
/// certificate holds by default, where its one certificate must name them all.
///
/// Why: ACM refuses the certificate request during the apply unless the account's quota
/// ("Domain names per ACM certificate") was raised first; a warning, since it may have been.
///
/// Example: eleven route hosts in an environment with `cdn = { enabled = true }`.
pub(super) fn cdn_certificate_quota(names: usize, cdn: &Sp<bool>, out: &mut Vec<Diagnostic>) {
    out.push(
        Diagnostic::new(
            Code::CdnCertificateQuota,
            format!("the CDN's certificate would name {names} hosts, and ACM allows {ACM_NAMES} unless the account's quota is raised"),
            cdn.span.clone(),
            "one certificate for every host",
        )
        .help("raise \"Domain names per ACM certificate\" in Service Quotas before applying, or serve fewer hosts through the CDN"),
    );
}

/// E252 `cdn-origin-taken`: a route host or listed record named `origin-<env>.<zone>`, the
/// name plinth gives the CDN's origin.
///
/// Why: external-dns points that name at the load balancer for CloudFront to reach; a route
/// or record of the same name would take it over, or be taken over.
///
/// Example: `records = [{ name = "origin-production", type = "CNAME", values = ["x.example.org"] }]`.
pub(super) fn cdn_origin_taken(name: &str, span: &crate::source::Span, out: &mut Vec<Diagnostic>) {
    out.push(
        Diagnostic::new(
            Code::CdnOriginTaken,
            format!("`{name}` is the name the CDN reaches the cluster at"),
            span.clone(),
            "the CDN's origin",
        )
        .help("choose another name; plinth points `origin-<env>.<zone>` at the load balancer for CloudFront"),
    );
}

/// E248 `invalid-cache-rule` for a rule of the CloudFront CDN (`cloud.cdn.cache`): a `host`,
/// which CloudFront cannot match (its behaviours match paths, for every host of the
/// distribution), a path with characters CloudFront refuses or longer than 255, or a path
/// or TTL as [`invalid_cache_rule`] refuses them.
///
/// Example: `cdn = { enabled = true, cache = [{ host = "www.{domain}", path = "/*" }] }`.
pub(super) fn cdn_cache_rule(rule: &crate::spec::CacheRule, out: &mut Vec<Diagnostic>) {
    if let Some(host) = &rule.host {
        out.push(
            Diagnostic::new(
                Code::InvalidCacheRule,
                "CloudFront cache rules match paths, not hosts".to_owned(),
                host.span.clone(),
                "not expressible on CloudFront",
            )
            .help("remove `host`: the rule applies to every host of the distribution"),
        );
    }
    let path = &rule.path.value;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.*$/~'@:+&?".contains(c);
    if path.starts_with('/') && (path.len() > 255 || !path.chars().all(allowed)) {
        out.push(
            Diagnostic::new(
                Code::InvalidCacheRule,
                format!("`{path}` is not a CloudFront path pattern"),
                rule.path.span.clone(),
                "not a path pattern",
            )
            .help(
                "use at most 255 letters, digits and `_-.*$/~'@:+&?`, with `*` for any characters",
            ),
        );
    }
    super::dns::invalid_path_or_ttl(rule, out);
}
