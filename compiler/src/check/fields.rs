//! Fields the target rejects at apply time: label keys and values, environment variable
//! names, domains, ConfigMap keys, volume names, mount paths, HTTP paths, alert label names, SMTP
//! smarthosts, generated AWS names and AWS region codes, validated here with the syntax Kubernetes, Compose,
//! Prometheus, Alertmanager and AWS apply, so that a spec that passes `check` does not fail in
//! `kubectl apply`, `docker compose up`, `terraform apply` or an Alertmanager reload, far from
//! the line that caused it.

use std::collections::BTreeMap;

use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::spec::{ConfigFile, Receiver, Resolved, Security, Sp, Storage, StoreMode, Volume};
use crate::units::{self, is_dns_label};

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    let platform = &ctx.spec.platform;
    acme_email_missing_or_invalid(ctx.spec, ctx.views, &mut found);
    ingress_key_with_gateway(platform, &mut found);
    invalid_label(&platform.labels, &mut found);
    let env_domains = ctx.spec.environments.values().map(|e| e.domain.as_ref());
    for domain in std::iter::once(platform.domain.as_ref())
        .chain(env_domains)
        .flatten()
    {
        invalid_domain(domain, &mut found);
    }
    if let Some(team) = &platform.team {
        invalid_team(team, &mut found);
    }
    for view in ctx.views {
        for (name, s) in &view.services {
            if let Some(team) = &s.team {
                invalid_team(team, &mut found);
            }
            let vars = s.env.iter().flatten().map(|(k, _)| k);
            invalid_env_name(
                vars.chain(s.secrets.iter().flatten().map(|(k, _)| k))
                    .chain(s.bind.iter().flatten().map(|(k, _)| k)),
                &mut found,
            );
            let files = s.config_files.as_deref().unwrap_or_default();
            invalid_config_key(files, &mut found);
            let volumes = s.volumes.as_deref().unwrap_or_default();
            invalid_volume_name(name, volumes, &mut found);
            invalid_mount_path(
                name,
                s.security.as_ref(),
                s.storage.as_ref(),
                volumes,
                files,
                &mut found,
            );
            let mut paths: Vec<&Sp<String>> = Vec::new();
            if let Some(p) = &s.probes {
                paths.extend(
                    [&p.liveness, &p.readiness, &p.startup]
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.path.as_ref()),
                );
            }
            paths.extend(s.metrics.as_ref().and_then(|m| m.path.as_ref()));
            let ingress = s.ingress.as_ref().and_then(|i| i.path.as_ref());
            invalid_http_path(&paths, ingress, &mut found);
        }
        for (name, d) in &view.datastores {
            let vars = d.env.iter().flatten().map(|(k, _)| k);
            invalid_env_name(
                vars.chain(d.secrets.iter().flatten().map(|(k, _)| k)),
                &mut found,
            );
            let volumes = d.volumes.as_deref().unwrap_or_default();
            invalid_volume_name(name, volumes, &mut found);
            invalid_mount_path(
                name,
                d.security.as_ref(),
                d.storage.as_ref(),
                volumes,
                &[],
                &mut found,
            );
            let mut paths: Vec<&Sp<String>> = Vec::new();
            if let Some(p) = &d.probes {
                paths.extend(
                    [&p.liveness, &p.readiness, &p.startup]
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.path.as_ref()),
                );
            }
            paths.extend(d.metrics.as_ref().and_then(|m| m.path.as_ref()));
            invalid_http_path(&paths, None, &mut found);
        }
    }
    for view in ctx.views {
        let alerting = &view.alerting;
        let names = alerting
            .group_by
            .iter()
            .flatten()
            .filter(|l| l.value != "...")
            .chain(alerting.routes.iter().flat_map(|r| r.matchers.keys()));
        invalid_label_name(names, &mut found);
        for r in alerting.receivers.values() {
            invalid_smarthost(r, &mut found);
        }
    }
    for view in ctx.views {
        invalid_cloud_name(ctx, view, &mut found);
        if let Some(region) = view.cloud.as_ref().and_then(|c| c.region.as_ref()) {
            malformed_region(region, &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// E101 `invalid-name`: `platform.domain` or an environment's `domain` that is not a DNS
/// name: lowercase DNS-1123 labels (letters, digits and `-`, at most 63 characters, not
/// starting or ending with `-`) separated by dots, at most 253 characters.
///
/// Why: the domain replaces `{domain}` in hosts, which reach Ingress and HTTPRoute
/// hostnames, certificates, external-dns records and Traefik's `Host(...)` rules. Hosts are
/// validated with `example.com` in its place, so a domain such as
/// `acme.com") || Host("evil` would otherwise reach every one of them unchecked.
///
/// Example: `domain = "Shop.Example.com"`.
fn invalid_domain(domain: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if is_domain(&domain.value) {
        return;
    }
    // Capitals, a scheme, a path or a trailing dot are the evident slips (a URL pasted in);
    // without them the domain may be valid, and then it is the one meant.
    let trimmed = domain.value.trim().to_ascii_lowercase();
    let bare = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(&trimmed);
    let fixed = bare.trim_end_matches('/').trim_end_matches('.');
    let help = if is_domain(fixed) {
        format!("write `\"{fixed}\"`")
    } else {
        "write lowercase DNS labels separated by dots, e.g. `\"shop.example.com\"`".to_owned()
    };
    out.push(
        Diagnostic::new(
            Code::InvalidName,
            format!("invalid domain `{}`", domain.value),
            domain.span.clone(),
            "not a DNS name",
        )
        .help(help),
    );
}

/// Whether `name` is a DNS name of lowercase DNS-1123 labels, at most 253 characters.
fn is_domain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// Labels plinth sets on every object or cloud resource; a spec label of the same key would
/// be overwritten on some objects and not others, or would override a selector.
const RESERVED_LABELS: &[&str] = &[
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "environment",
    "team",
    "platform",
    "managed-by",
];

/// Whether `s` is a label value or the name part of a label key: at most 63 characters,
/// alphanumerics, `-`, `_` and `.`, starting and ending with an alphanumeric (a value may
/// also be empty).
fn is_label_segment(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `key` is a Kubernetes label key: a name, optionally after a DNS subdomain prefix
/// and `/`.
pub(super) fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253 && prefix.split('.').all(is_dns_label) && is_label_segment(name)
        }
        None => is_label_segment(key),
    }
}

/// E190 `invalid-label` for `platform.labels`: keys must be Kubernetes label keys (an
/// optional DNS prefix and `/`, then at most 63 alphanumerics, `-`, `_`, `.`), values at most
/// 63 such characters, and no key may be one plinth sets itself.
///
/// Why: the labels go on every Kubernetes object and become AWS tags; the API server rejects
/// the whole manifest for one bad key or value (`cost center`, a 64-character value). A key
/// plinth sets (`app.kubernetes.io/name`, `environment`, `team`, …) would take the spec's
/// value on namespace-wide objects and plinth's on workloads, and the selector labels decide
/// which pods policies admit.
///
/// Example: `labels = { "cost center" = "x" }`.
fn invalid_label(labels: &BTreeMap<Sp<String>, Sp<String>>, out: &mut Vec<Diagnostic>) {
    for (k, v) in labels {
        if RESERVED_LABELS.contains(&k.value.as_str()) {
            out.push(
                Diagnostic::new(Code::InvalidLabel, format!("plinth sets the label `{}` itself", k.value), k.span.clone(), "reserved label key")
                    .help("use another key; plinth derives this one from the platform, environment, team and workload"),
            );
        } else if !is_label_key(&k.value) {
            out.push(
                Diagnostic::new(Code::InvalidLabel, format!("invalid label key `{}`", k.value), k.span.clone(), "not a Kubernetes label key")
                    .help("use at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, after an optional `example.com/` prefix"),
            );
        }
        if !v.value.is_empty() && !is_label_segment(&v.value) {
            out.push(label_value(v));
        }
    }
}

/// E190 `invalid-label` for a team, which becomes the `team` label of every object and alert.
///
/// Why: the API server rejects a label value with spaces or over 63 characters.
///
/// Example: `team = "Platform Team"`.
fn invalid_team(team: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if !is_label_segment(&team.value) {
        out.push(label_value(team));
    }
}

/// The diagnostic of an invalid label value.
fn label_value(v: &Sp<String>) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidLabel,
        format!("invalid label value `{}`", v.value),
        v.span.clone(),
        "not a Kubernetes label value",
    )
    .help("use at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit")
}

/// E191 `invalid-env-name`: names in `env` and `secrets` must be `[-._a-zA-Z][-._a-zA-Z0-9]*`.
///
/// Why: that is the name Kubernetes accepts in a container's `env` on every supported
/// version (newer ones relax it behind a feature gate); `LOG LEVEL` or `1ST` makes the
/// API server reject the whole workload.
///
/// Example: `env = { "LOG LEVEL" = "debug" }`.
fn invalid_env_name<'a>(names: impl Iterator<Item = &'a Sp<String>>, out: &mut Vec<Diagnostic>) {
    for n in names {
        let ok = n
            .value
            .starts_with(|c: char| c.is_ascii_alphabetic() || "-._".contains(c))
            && n.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !ok {
            out.push(
                Diagnostic::new(
                    Code::InvalidEnvName,
                    format!("invalid environment variable name `{}`", n.value),
                    n.span.clone(),
                    "not a valid variable name",
                )
                .help("use letters, digits, `_`, `-` and `.`, not starting with a digit"),
            );
        }
    }
}

/// E192 `invalid-config-key`: a config file's ConfigMap key (its path without the leading
/// `/`, with `/` replaced by `_`) must be a valid key: letters, digits, `-`, `_`, `.`, at
/// most 253 characters, and not `.`, `..` or starting with `..`.
///
/// Why: the API server rejects a ConfigMap whose key has a space or other character
/// (`/etc/my app.conf`), and the key is also the `subPath` the file is mounted by.
///
/// Example: `config_files = [{ path = "/etc/my app.conf", content = "…" }]`.
fn invalid_config_key(files: &[ConfigFile], out: &mut Vec<Diagnostic>) {
    for f in files {
        let key = units::config_map_key(&f.path.value);
        let ok = !key.is_empty()
            && key.len() <= 253
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && key != "."
            && !key.starts_with("..");
        if !ok {
            out.push(
                Diagnostic::new(
                    Code::InvalidConfigKey,
                    format!(
                        "config file path `{}` gives the invalid ConfigMap key `{key}`",
                        f.path.value
                    ),
                    f.path.span.clone(),
                    "not a valid ConfigMap key",
                )
                .help("use letters, digits, `-`, `_`, `.` and `/` in config file paths"),
            );
        }
    }
}

/// Volume names plinth gives its own volumes: the `/tmp` scratch volume under a read-only
/// root, the config file volume and the persistent storage claim template.
const RESERVED_VOLUMES: &[&str] = &["tmp", "config", "data"];

/// E193 `invalid-volume-name`: volume names must be DNS labels, not one plinth uses for its
/// own volumes (`tmp`, `config`, `data`), and unique within the workload.
///
/// Why: the API server rejects a pod with an invalid or repeated volume name; a volume named
/// `tmp` would be a second `tmp` volume beside plinth's `/tmp` scratch volume.
///
/// Example: `volumes = [{ name = "tmp", path = "/scratch" }]`.
fn invalid_volume_name(workload: &Sp<String>, volumes: &[Volume], out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, &Sp<String>> = BTreeMap::new();
    for v in volumes {
        let name = &v.name;
        if RESERVED_VOLUMES.contains(&name.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::InvalidVolumeName,
                    format!("volume name `{}` is reserved by plinth", name.value),
                    name.span.clone(),
                    "reserved volume name",
                )
                .help(format!(
                    "rename it; plinth names its own volumes {}",
                    RESERVED_VOLUMES.join(", ")
                )),
            );
        } else if !is_dns_label(&name.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidVolumeName,
                    format!("invalid volume name `{}`", name.value),
                    name.span.clone(),
                    "not a DNS label",
                )
                .help("use at most 63 lowercase letters, digits and `-`"),
            );
        }
        if let Some(first) = seen.insert(&name.value, name) {
            out.push(
                Diagnostic::new(
                    Code::InvalidVolumeName,
                    format!(
                        "`{}` has two volumes named `{}`",
                        workload.value, name.value
                    ),
                    name.span.clone(),
                    "second volume of this name",
                )
                .related(first.span.clone(), "first volume of this name")
                .help("give each volume its own name"),
            );
        }
    }
}

/// Why a mount path is not a plain absolute path, if it is not.
fn mount_path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("relative path");
    }
    if path == "/" {
        return Some("the root of the filesystem");
    }
    if path.chars().any(|c| c.is_control()) {
        return Some("control character");
    }
    if path[1..]
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Some("empty, `.` or `..` component");
    }
    None
}

/// E194 `invalid-mount-path`: every mount path of a workload (persistent storage, volumes,
/// config files, and the `/tmp` plinth mounts under a read-only root) must be a plain absolute
/// path — no `.`, `..` or empty component, not `/` — and no two mounts may share one.
///
/// Why: the API server rejects a pod with two mounts at one path, and a relative or
/// non-normal path is rejected or means something else in Compose. A volume at `/tmp`
/// collides with plinth's own scratch mount; a config file at a volume's path hides one of
/// them.
///
/// Example: `volumes = [{ name = "scratch", path = "/tmp" }]`.
fn invalid_mount_path(
    workload: &Sp<String>,
    security: Option<&Security>,
    storage: Option<&Storage>,
    volumes: &[Volume],
    files: &[ConfigFile],
    out: &mut Vec<Diagnostic>,
) {
    let read_only = security
        .and_then(|s| s.read_only_root_filesystem.as_ref())
        .is_none_or(|r| r.value);
    let mut seen: BTreeMap<&str, &Sp<String>> = BTreeMap::new();
    let paths = storage
        .and_then(|s| s.path.as_ref())
        .into_iter()
        .chain(volumes.iter().map(|v| &v.path))
        .chain(files.iter().map(|f| &f.path));
    for p in paths {
        if let Some(problem) = mount_path_problem(&p.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidMountPath,
                    format!("invalid mount path `{}`", p.value),
                    p.span.clone(),
                    problem,
                )
                .help("write an absolute path such as `/var/cache/app`"),
            );
            continue;
        }
        if read_only && p.value == "/tmp" {
            out.push(
                Diagnostic::new(
                    Code::InvalidMountPath,
                    format!("`{}` mounts something at `/tmp`", workload.value),
                    p.span.clone(),
                    "plinth mounts its scratch volume here",
                )
                .help("under a read-only root plinth mounts an empty `/tmp`; use another path"),
            );
            continue;
        }
        if let Some(first) = seen.insert(&p.value, p) {
            out.push(
                Diagnostic::new(
                    Code::InvalidMountPath,
                    format!(
                        "two mounts of `{}` share the path `{}`",
                        workload.value, p.value
                    ),
                    p.span.clone(),
                    "second mount here",
                )
                .related(first.span.clone(), "first mount here")
                .help("mount each volume and file at its own path"),
            );
        }
    }
}

/// Whether `c` may appear in a probe or metrics path: RFC 3986 unreserved characters, `/`,
/// percent-encoding and a query (`?`, `=`, `&`).
fn http_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/%?=&".contains(c)
}

/// Whether `c` may appear in an ingress path: what ingress-nginx accepts in a `Prefix` path
/// when it validates paths strictly (letters, digits, `-`, `.`, `_`, `~`, `/`).
fn ingress_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~/".contains(c)
}

/// E195 `invalid-http-path`: probe and metrics paths may only hold URL path characters
/// (letters, digits, `-._~/%`, and a query with `?=&`); ingress paths only letters, digits
/// and `-._~/`. (A path that does not start with `/` is E006.)
///
/// Why: a space or quote in a probe path makes an invalid HTTP request line, so the probe
/// fails forever and the pod never becomes ready; ingress-nginx rejects `Prefix` paths with
/// other characters (they would be read as regular expressions), so the Ingress is refused
/// at admission.
///
/// Example: `probes.liveness = { path = "/health z" }`.
fn invalid_http_path(
    paths: &[&Sp<String>],
    ingress: Option<&Sp<String>>,
    out: &mut Vec<Diagnostic>,
) {
    let checks = paths
        .iter()
        .map(|p| {
            (
                *p,
                http_path_char as fn(char) -> bool,
                "letters, digits, `-._~/%` and a query with `?=&`",
            )
        })
        .chain(ingress.map(|p| {
            (
                p,
                ingress_path_char as fn(char) -> bool,
                "letters, digits and `-._~/`",
            )
        }));
    for (p, allowed, what) in checks {
        if p.value.starts_with('/') && !p.value.chars().all(allowed) {
            out.push(
                Diagnostic::new(
                    Code::InvalidHttpPath,
                    format!("invalid HTTP path `{}`", p.value),
                    p.span.clone(),
                    "character not allowed in this path",
                )
                .help(format!("use {what}")),
            );
        }
    }
}

/// E197 `invalid-label-name`: alert label names in `alerting.group_by` and route matchers
/// must be Prometheus label names, `[a-zA-Z_][a-zA-Z0-9_]*` (`group_by` may also be `...`).
///
/// Why: Alertmanager refuses to load a configuration that groups or matches by another name
/// (`service-name`), so no alert of any environment is delivered until it is fixed.
///
/// Example: `group_by = ["alertname", "service-name"]`.
fn invalid_label_name<'a>(names: impl Iterator<Item = &'a Sp<String>>, out: &mut Vec<Diagnostic>) {
    for n in names {
        let ok = n
            .value
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && n.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            // The evident fix: every other character as `_`, and a leading `_` before a digit.
            let mut fixed: String = n
                .value
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            if !fixed.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                fixed.insert(0, '_');
            }
            out.push(
                Diagnostic::new(
                    Code::InvalidLabelName,
                    format!("invalid alert label name `{}`", n.value),
                    n.span.clone(),
                    "not a Prometheus label name",
                )
                .help(format!(
                    "use letters, digits and `_`, not starting with a digit, e.g. `{fixed}`"
                )),
            );
        }
    }
}

/// E198 `invalid-smarthost`: an email receiver's `smarthost` must be `host:port`, with a DNS
/// name, IPv4 address or bracketed IPv6 address and a port from 1 to 65535.
///
/// Why: Alertmanager splits the smarthost into host and port when it loads the
/// configuration and refuses the whole file without a port (`smtp.example.com`), so no
/// alert is delivered; anything else after the host would be sent to the SMTP dialer.
///
/// Example: `smarthost = "smtp.example.com"` (needs `:587`).
fn invalid_smarthost(r: &Receiver, out: &mut Vec<Diagnostic>) {
    let Some(s) = &r.smarthost else { return };
    let ok = s.value.rsplit_once(':').is_some_and(|(host, port)| {
        let port_ok = !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                host.parse::<std::net::Ipv4Addr>().is_ok()
                    || (host.len() <= 253
                        && host
                            .split('.')
                            .all(|l| is_dns_label(&l.to_ascii_lowercase())))
            }
        };
        port_ok && host_ok
    });
    if !ok {
        out.push(
            Diagnostic::new(
                Code::InvalidSmarthost,
                format!("invalid SMTP smarthost `{}`", s.value),
                s.span.clone(),
                "not `host:port`",
            )
            .help("write the server and its port, e.g. `smtp.example.com:587`"),
        );
    }
}

/// E200 `malformed-region`: `cloud.region` must be shaped like an AWS region code
/// (`us-east-1`), lowercase with a `-` before the number.
///
/// Why: the AWS provider only refuses `us-east1`, `US-EAST-1` or `Frankfurt` when
/// `terraform plan` first calls AWS, and the error names the provider block, not the spec.
/// A region AWS opens after this plinth was built is still accepted if shaped like one.
///
/// Example: `region = "eu-west1"`; the help suggests `eu-west-1` from the stdlib's list.
fn malformed_region(region: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if units::is_region_code(&region.value) {
        return;
    }
    // `EU_WEST1` → `eu-west-1`: the usual slips, undone before looking for a near region.
    let mut fixed = region
        .value
        .trim()
        .to_ascii_lowercase()
        .replace(['_', ' '], "-");
    if let Some(digit) = fixed.find(|c: char| c.is_ascii_digit()) {
        if digit > 0 && !fixed[..digit].ends_with('-') {
            fixed.insert(digit, '-');
        }
    }
    let known: Vec<&str> = crate::stdlib::aws_regions().collect();
    let near = known
        .iter()
        .find(|r| **r == fixed)
        .copied()
        .or_else(|| crate::diag::did_you_mean(&fixed, known.iter().copied()));
    out.push(
        Diagnostic::new(
            Code::MalformedRegion,
            format!("`{}` is not an AWS region code", region.value),
            region.span.clone(),
            "not shaped like `us-east-1`",
        )
        .help(match near {
            Some(r) => format!("write `{r}`"),
            None => "write a region code such as `us-east-1` or `eu-central-1`".to_owned(),
        }),
    );
}

/// E199 `invalid-cloud-name`: the names plinth generates for AWS resources must fit AWS's
/// limits: the EKS cluster (`<platform>-<env>`) at most 100 characters; a managed
/// PostgreSQL's RDS identifier (`<platform>-<env>-<store>`, and `-replica-N` after it for
/// read replicas) at most 63; a managed Redis's ElastiCache replication group at most 40
/// (both starting with a letter, without `--`); S3 buckets (an object store's, an in-cluster
/// store's backup bucket `<platform>-<env>-<store>-backups`, the access-log bucket
/// `<platform>-<env>-logs`, the Terraform state bucket) at most 63, and the backup role
/// `<platform>-<env>-<store>-backups` at most 64; the IAM roles of the
/// cluster's add-ons (`<platform>-<env>-cluster-autoscaler` is the longest) at most 64.
///
/// Why: names are DNS labels of up to 53 characters each, so their joins easily pass these
/// limits, and AWS only refuses them in the middle of `terraform apply`, with part of the
/// environment created.
///
/// Example: a platform, environment and Redis store whose names add up to 41 characters.
fn invalid_cloud_name(ctx: &Ctx, view: &Resolved, out: &mut Vec<Diagnostic>) {
    let Some(cloud) = &view.cloud else { return };
    let platform = &ctx.spec.platform.name;
    let env = view.env_name();
    let env_span = view.env.as_ref().map_or(&platform.span, |e| &e.span);
    let mut check =
        |name: String, limit: usize, strict: bool, what: &str, span: &crate::source::Span| {
            let too_long = name.len() > limit;
            let shape = strict
                && (name.contains("--") || !name.starts_with(|c: char| c.is_ascii_alphabetic()));
            if too_long || shape {
                out.push(
                    Diagnostic::new(
                        Code::InvalidCloudName,
                        format!("the {what} `{name}` is not a valid AWS name"),
                        span.clone(),
                        if too_long {
                            format!("{} characters, AWS allows {limit}", name.len())
                        } else {
                            "AWS needs a letter first and no `--` here".to_owned()
                        },
                    )
                    .help("shorten the platform, environment or data store name"),
                );
            }
        };
    let cluster = units::cloud_name(&platform.value, env);
    check(cluster.clone(), 100, false, "EKS cluster name", env_span);
    // The longest IAM role name plinth derives from the cluster name (the autoscaler's).
    check(
        format!("{cluster}-cluster-autoscaler"),
        64,
        false,
        "IAM role name",
        env_span,
    );
    let state_bucket = cloud.state.as_ref().and_then(|s| s.bucket.as_ref());
    check(
        state_bucket.map_or_else(
            || units::default_state_bucket(&platform.value),
            |b| b.value.clone(),
        ),
        63,
        false,
        "Terraform state bucket",
        state_bucket.map_or(&platform.span, |b| &b.span),
    );
    let mut buckets = cloud
        .cdn
        .as_ref()
        .and_then(|c| c.enabled.as_ref())
        .is_some_and(|e| e.value);
    for (store, d) in &view.datastores {
        if d.mode
            .as_ref()
            .is_none_or(|m| m.value != StoreMode::Managed)
        {
            // An in-cluster store's backups go to a bucket of its own, written by an IAM
            // role of its own (`backups.tf`).
            if d.backup.as_ref().is_some_and(|b| {
                b.schedule.is_some() || b.continuous.as_ref().is_some_and(|c| c.value)
            }) {
                buckets = true;
                check(
                    units::backup_bucket(&platform.value, env, &store.value),
                    63,
                    false,
                    "backup bucket",
                    &store.span,
                );
                check(
                    format!("{cluster}-{}-backups", store.value),
                    64,
                    false,
                    "IAM role name",
                    &store.span,
                );
            }
            continue;
        }
        let id = units::cloud_store_name(&platform.value, env, &store.value);
        match d.engine.as_ref().map(|e| e.value.as_str()) {
            Some("postgres") => {
                let replicas = d.read_replicas.as_ref().map_or(0, |r| r.value);
                let longest = if replicas > 0 {
                    format!("{id}-replica-{replicas}")
                } else {
                    id
                };
                check(longest, 63, true, "RDS identifier", &store.span);
            }
            Some("redis") => check(id, 40, true, "ElastiCache replication group", &store.span),
            Some("object-storage") => {
                buckets = true;
                check(id, 63, false, "S3 bucket", &store.span);
            }
            _ => {}
        }
    }
    // A service binding a managed bucket reaches it with an IAM role of its own.
    for (service, s) in &view.services {
        let binds_bucket = s.bind.iter().flatten().any(|(_, b)| {
            view.datastores.get(b.from.value.as_str()).is_some_and(|d| {
                d.mode
                    .as_ref()
                    .is_some_and(|m| m.value == StoreMode::Managed)
                    && d.engine
                        .as_ref()
                        .is_some_and(|e| e.value == "object-storage")
            })
        });
        if binds_bucket {
            check(
                units::bucket_role(&cluster, &service.value),
                64,
                false,
                "IAM role name",
                &service.span,
            );
        }
    }
    if buckets {
        check(
            units::cloud_log_bucket(&cluster),
            63,
            false,
            "access-log bucket",
            env_span,
        );
    }
}

/// E203 `ingress-key-with-gateway`: `platform.ingress_class` or `platform.ingress_namespace`
/// set while `platform.gateway` is `envoy` or `istio` (or left out with a `mesh`).
///
/// Why: with the Gateway API no Ingress is generated, so the class is never read, and the
/// proxies run in the implementation's own namespace, which the NetworkPolicies admit
/// instead. A spec that sets both means one of them by mistake.
///
/// Example: `gateway = "envoy"` and `ingress_class = "nginx"`.
fn ingress_key_with_gateway(platform: &crate::spec::Platform, out: &mut Vec<Diagnostic>) {
    // A mesh chooses Istio's gateway when `gateway` is left out.
    let gateway_api = match &platform.gateway {
        Some(g) => g.value != crate::spec::Gateway::Ingress,
        None => platform.mesh.is_some(),
    };
    if !gateway_api {
        return;
    }
    for (key, value) in [
        ("ingress_class", &platform.ingress_class),
        ("ingress_namespace", &platform.ingress_namespace),
    ] {
        if let Some(v) = value {
            out.push(
                Diagnostic::new(
                    Code::IngressKeyWithGateway,
                    format!("`{key}` has no effect with the Gateway API"),
                    v.span.clone(),
                    "only read with `gateway = \"ingress\"`",
                )
                .help("remove it, or set `gateway = \"ingress\"` to keep generating Ingresses"),
            );
        }
    }
}

/// E206 `no-acme-email`, E207 `invalid-email`: the Let's Encrypt ClusterIssuer plinth
/// generates needs an account e-mail, from `platform.tls_email` or an `owner` that is an
/// address, and `tls_email` must be one.
///
/// Why: cert-manager registers the ACME account with the address, and Let's Encrypt sends
/// its expiry and policy notices there; an address it rejects (a bare host name, a handle)
/// leaves the issuer not ready and every certificate pending. The issuer is generated only
/// where it is used: an environment with a cloud, an Ingress with TLS, the default issuer.
///
/// Example: `owner = "@platform-team"` with no `tls_email`, and an Ingress with TLS.
fn acme_email_missing_or_invalid(
    spec: &crate::spec::Spec,
    views: &[Resolved],
    out: &mut Vec<Diagnostic>,
) {
    let platform = &spec.platform;
    if let Some(email) = &platform.tls_email {
        if !units::is_email(&email.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidEmail,
                    format!("`{}` is not an e-mail address", email.value),
                    email.span.clone(),
                    "not an address",
                )
                .help("write an address such as `ops@example.com`; Let's Encrypt registers the account with it"),
            );
        }
        return;
    }
    let default_issuer = platform
        .tls_issuer
        .as_ref()
        .is_none_or(|i| i.value == crate::ir::TLS_ISSUER);
    if !default_issuer
        || platform
            .owner
            .as_ref()
            .is_some_and(|o| units::is_email(&o.value))
    {
        return;
    }
    let host = views
        .iter()
        .filter(|v| v.cloud.is_some())
        .flat_map(|v| v.services.values())
        .filter_map(|s| s.ingress.as_ref())
        .filter(|i| i.tls.as_ref().is_none_or(|t| t.value))
        .find_map(|i| i.host.as_ref());
    let Some(host) = host else {
        return;
    };
    let d = match &platform.owner {
        Some(owner) => Diagnostic::new(
            Code::NoAcmeEmail,
            "the generated Let's Encrypt issuer needs an account e-mail, and `owner` is not an address",
            owner.span.clone(),
            "not an e-mail address",
        ),
        None => Diagnostic::new(
            Code::NoAcmeEmail,
            "the generated Let's Encrypt issuer needs an account e-mail",
            host.span.clone(),
            "TLS certificate from the generated issuer",
        ),
    };
    out.push(d.help(
        "set `platform.tls_email = \"ops@example.com\"`, or name an issuer of your own with `platform.tls_issuer`",
    ));
}
