//! Rules over one workload (a service or an in-cluster data store) as merged for an
//! environment: image, ports, probes, scaling, resources, storage, ingress and security.

use std::collections::BTreeMap;

use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::source::Sources;
use crate::spec::*;
use crate::units::{self, IntOrPercent};

/// The fields rules look at, shared by services and data stores.
struct W<'a> {
    vpa: Option<&'a Sp<VpaMode>>,
    name: &'a Sp<String>,
    store: Option<&'a DataStore>,
    kind: ServiceKind,
    kind_span: Option<&'a Sp<ServiceKind>>,
    image: Option<&'a Sp<String>>,
    schedule: Option<&'a Sp<String>>,
    ports: &'a [Port],
    replicas: Option<&'a Sp<i64>>,
    resources: Option<&'a Resources>,
    autoscaling: Option<&'a Autoscaling>,
    probes: Option<&'a Probes>,
    rollout: Option<&'a Rollout>,
    pdb: Option<&'a DisruptionBudget>,
    storage: Option<&'a Storage>,
    volumes: &'a [Volume],
    ingress: Option<&'a Ingress>,
    metrics: Option<&'a Metrics>,
    security: Option<&'a Security>,
    compose: Option<&'a WorkloadCompose>,
}

fn service_view<'a>(name: &'a Sp<String>, s: &'a Service) -> W<'a> {
    W {
        name,
        vpa: s.vertical_autoscaling.as_ref(),
        store: None,
        kind: s.kind.as_ref().map_or(ServiceKind::Web, |k| k.value),
        kind_span: s.kind.as_ref(),
        image: s.image.as_ref(),
        schedule: s.schedule.as_ref(),
        ports: s.ports.as_deref().unwrap_or_default(),
        replicas: s.replicas.as_ref(),
        resources: s.resources.as_ref(),
        autoscaling: s.autoscaling.as_ref(),
        probes: s.probes.as_ref(),
        rollout: s.rollout.as_ref(),
        pdb: s.disruption_budget.as_ref(),
        storage: s.storage.as_ref(),
        volumes: s.volumes.as_deref().unwrap_or_default(),
        ingress: s.ingress.as_ref(),
        metrics: s.metrics.as_ref(),
        security: s.security.as_ref(),
        compose: s.compose.as_ref(),
    }
}

fn store_view<'a>(name: &'a Sp<String>, d: &'a DataStore) -> W<'a> {
    W {
        name,
        vpa: d.vertical_autoscaling.as_ref(),
        store: Some(d),
        kind: ServiceKind::Stateful,
        kind_span: None,
        image: d.image.as_ref(),
        schedule: None,
        ports: d.ports.as_deref().unwrap_or_default(),
        replicas: d.replicas.as_ref(),
        resources: d.resources.as_ref(),
        autoscaling: None,
        probes: d.probes.as_ref(),
        rollout: None,
        pdb: None,
        storage: d.storage.as_ref(),
        volumes: d.volumes.as_deref().unwrap_or_default(),
        ingress: None,
        metrics: d.metrics.as_ref(),
        security: d.security.as_ref(),
        compose: d.compose.as_ref(),
    }
}

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let domain = view
            .env
            .as_ref()
            .and_then(|e| ctx.spec.environments.get(e.value.as_str()))
            .and_then(|e| e.domain.as_ref())
            .or(ctx.spec.platform.domain.as_ref());
        for (name, s) in &view.services {
            let w = service_view(name, s);
            check_workload(&w, ctx.sources, domain.is_some(), &mut found);
            env_placeholder(s.env.as_ref(), domain.is_some(), &mut found);
            if let (Some(i), Some(domain)) = (&s.ingress, domain) {
                for host in i.host.iter().chain(i.redirect_from.iter().flatten()) {
                    host_outside_domain(host, domain, &mut found);
                }
            }
        }
        for (name, d) in &view.datastores {
            // A managed store is not a workload; only its backup settings matter here.
            if d.mode
                .as_ref()
                .is_none_or(|m| m.value == StoreMode::InCluster)
            {
                let w = store_view(name, d);
                check_workload(&w, ctx.sources, domain.is_some(), &mut found);
            }
            env_placeholder(d.env.as_ref(), domain.is_some(), &mut found);
            backup_settings(d, &mut found);
            verify_unsupported(name, d, &mut found);
            pooling_unsupported(name, d, &mut found);
        }
    }
    let traefik = ctx
        .views
        .iter()
        .any(|v| v.services.values().any(|s| s.ingress.is_some()));
    for env in ctx.spec.environments.values() {
        invalid_scale(env, &mut found);
        if let Some(c) = &env.compose {
            grafana_port_taken(c, traefik, &mut found);
        }
        if let Some(q) = &env.quota {
            quota(q, &mut found);
        }
    }
    egress(
        ctx.spec.platform.egress.as_deref().unwrap_or_default(),
        &mut found,
    );
    for view in ctx.views {
        for s in view.services.values() {
            egress(s.egress.as_deref().unwrap_or_default(), &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

fn check_workload(w: &W, sources: &Sources, has_domain: bool, out: &mut Vec<Diagnostic>) {
    image(w, out);
    ports(w, out);
    port_references(w, out);
    probe_shape(w, out);
    schedule(w, out);
    job_shape(w, sources, out);
    replicas_with_autoscaler(w, out);
    vpa_with_hpa(w, out);
    autoscale(w, out);
    resources(w, out);
    rollout_and_budget(w, out);
    storage(w, out);
    storage_not_stateful(w, sources, out);
    ingress(w, has_domain, out);
    security_opt_out(w, out);
    no_readiness_probe(w, out);
    empty_compose_healthcheck(w, out);
}

/// E006 `invalid-value` for an empty `compose.healthcheck` command.
///
/// Why: Compose would run nothing and report the container unhealthy forever, so every
/// dependent waiting for it would never start.
fn empty_compose_healthcheck(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(h) = w.compose.and_then(|c| c.healthcheck.as_ref()) else {
        return;
    };
    if matches!(&h.value, ComposeHealthcheck::Command(c) if c.iter().all(|a| a.trim().is_empty())) {
        out.push(
            Diagnostic::new(
                Code::InvalidValue,
                format!("empty Compose health check command for `{}`", w.name.value),
                h.span.clone(),
                "no command",
            )
            .help("give a command such as `[\"pg_isready\"]`, or `\"wget\"`/`\"curl\"` to run the HTTP readiness probe"),
        );
    }
}

/// E142 `missing-image`, E140 `malformed-image`, E141 `unpinned-image`.
///
/// Why: an untagged or `latest` image makes a deployment depend on when it was pulled, so
/// two rollouts of the same spec can run different code; a digest or an explicit tag pins it.
fn image(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(image) = w.image else {
        if w.store.is_none() {
            out.push(
                Diagnostic::new(
                    Code::MissingImage,
                    format!("service `{}` has no image", w.name.value),
                    w.name.span.clone(),
                    "no `image`",
                )
                .help("add `image = \"registry/name:tag\"`"),
            );
        }
        return;
    };
    if let Some(store) = w.store {
        // Data stores name a repository; the version is the tag.
        match units::parse_image(&image.value) {
            Ok(r) if r.tag.is_some() || r.digest.is_some() => out.push(
                Diagnostic::new(
                    Code::MalformedImage,
                    "data store image has a tag",
                    image.span.clone(),
                    "a repository without tag",
                )
                .help("set the tag through `version`"),
            ),
            Ok(_) => {
                if let Some(v) = &store.version {
                    if units::parse_image(&format!("{}:{}", image.value, v.value)).is_err()
                        || v.value == "latest"
                    {
                        out.push(
                            Diagnostic::new(
                                Code::UnpinnedImage,
                                "invalid data store version",
                                v.span.clone(),
                                "not usable as an image tag",
                            )
                            .help("use a release version such as `\"16.15\"`"),
                        );
                    }
                }
            }
            Err(e) => out.push(
                Diagnostic::new(
                    Code::MalformedImage,
                    "malformed image reference",
                    image.span.clone(),
                    e,
                )
                .help(
                    "write `registry/name:tag` or `name@sha256:…`, e.g. `ghcr.io/acme/api:1.4.2`",
                ),
            ),
        }
        return;
    }
    pinned_image(image, out);
}

/// E140 `malformed-image` and E141 `unpinned-image` for an image reference that names a
/// release: well formed, and pinned by a tag other than `latest` or by a digest. Shared by
/// workloads and their init containers.
pub(super) fn pinned_image(image: &Sp<String>, out: &mut Vec<Diagnostic>) {
    match units::parse_image(&image.value) {
        Err(e) => out.push(
            Diagnostic::new(
                Code::MalformedImage,
                "malformed image reference",
                image.span.clone(),
                e,
            )
            .help("write `registry/name:tag` or `registry/name@sha256:<digest>`"),
        ),
        Ok(r) if r.digest.is_none() && r.tag.as_deref().is_none_or(|t| t == "latest") => out.push(
            Diagnostic::new(
                Code::UnpinnedImage,
                "image is not pinned",
                image.span.clone(),
                if r.tag.is_some() {
                    "`latest` moves with every push"
                } else {
                    "no tag means `latest`"
                },
            )
            .help("pin a release tag (`:1.4.2`) or a digest (`@sha256:…`)"),
        ),
        Ok(_) => {}
    }
}

/// E104 `duplicate-port-name`, E105 `duplicate-port`, E101 `invalid-name` for port names.
///
/// Why: Kubernetes rejects a pod with two ports of the same name or number, and port names
/// must be IANA service names.
fn ports(w: &W, out: &mut Vec<Diagnostic>) {
    let mut names: BTreeMap<&str, &Sp<String>> = BTreeMap::new();
    let mut numbers: BTreeMap<(i64, bool), &Sp<i64>> = BTreeMap::new();
    for p in w.ports {
        if !units::is_port_name(&p.name.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidName,
                    format!("invalid port name `{}`", p.name.value),
                    p.name.span.clone(),
                    "not an IANA service name",
                )
                .help("use at most 15 lowercase letters, digits and `-`, with at least one letter"),
            );
        }
        if let Some(first) = names.insert(&p.name.value, &p.name) {
            out.push(
                Diagnostic::new(
                    Code::DuplicatePortName,
                    format!("duplicate port name `{}`", p.name.value),
                    p.name.span.clone(),
                    "declared again here",
                )
                .related(first.span.clone(), "first declared here")
                .help("give each port its own name"),
            );
        }
        let udp = p
            .protocol
            .as_ref()
            .is_some_and(|x| x.value == Protocol::Udp);
        if let Some(first) = numbers.insert((p.port.value, udp), &p.port) {
            out.push(
                Diagnostic::new(
                    Code::DuplicatePort,
                    format!("port {} is declared twice", p.port.value),
                    p.port.span.clone(),
                    "declared again here",
                )
                .related(first.span.clone(), "first declared here")
                .help("remove one of the two ports"),
            );
        }
    }
}

/// Whether a port reference resolves against the declared ports.
fn resolve_port(w: &W, r: &Sp<PortRef>) -> bool {
    match &r.value {
        PortRef::Name(n) => w.ports.iter().any(|p| &p.name.value == n),
        PortRef::Number(n) => w.ports.iter().any(|p| p.port.value == *n),
    }
}

/// E106 `undeclared-port`: probes, ingress and metrics must name a declared port.
///
/// Why: a probe on a port the container does not declare fails forever and restarts the pod
/// in a loop; an ingress to an undeclared port routes nowhere.
fn port_references(w: &W, out: &mut Vec<Diagnostic>) {
    let declared: Vec<String> = w
        .ports
        .iter()
        .map(|p| format!("{} ({})", p.name.value, p.port.value))
        .collect();
    let mut refs: Vec<(&str, &Sp<PortRef>)> = Vec::new();
    if let Some(p) = w.probes {
        for (what, probe) in [
            ("liveness probe", &p.liveness),
            ("readiness probe", &p.readiness),
            ("startup probe", &p.startup),
        ] {
            if let Some(r) = probe.as_ref().and_then(|x| x.port.as_ref()) {
                refs.push((what, r));
            }
        }
    }
    if let Some(r) = w.ingress.and_then(|i| i.port.as_ref()) {
        refs.push(("ingress", r));
    }
    if let Some(r) = w.metrics.and_then(|m| m.port.as_ref()) {
        refs.push(("metrics endpoint", r));
    }
    metrics_without_any_port(w, out);
    for (what, r) in refs {
        if !resolve_port(w, r) {
            let shown = match &r.value {
                PortRef::Name(n) => format!("`{n}`"),
                PortRef::Number(n) => n.to_string(),
            };
            out.push(
                Diagnostic::new(
                    Code::UndeclaredPort,
                    format!("{what} of `{}` uses undeclared port {shown}", w.name.value),
                    r.span.clone(),
                    "not in `ports`",
                )
                .help(if declared.is_empty() {
                    "declare the port in `ports = [{ name = \"http\", port = 8080 }]`".to_owned()
                } else {
                    format!("declared ports: {}", declared.join(", "))
                }),
            );
        }
    }
    // An HTTP or TCP probe without a port uses the first port, so there must be one.
    if w.ports.is_empty() {
        if let Some(p) = w.probes {
            for probe in [&p.liveness, &p.readiness, &p.startup]
                .into_iter()
                .flatten()
            {
                if probe.command.is_none() && probe.port.is_none() {
                    let span = probe
                        .path
                        .as_ref()
                        .map(|x| x.span.clone())
                        .unwrap_or(w.name.span.clone());
                    out.push(
                        Diagnostic::new(
                            Code::UndeclaredPort,
                            format!(
                                "probe of `{}` needs a port, but none is declared",
                                w.name.value
                            ),
                            span,
                            "no port to probe",
                        )
                        .help("declare a port, or use an exec probe with `command`"),
                    );
                }
            }
        }
    }
}

/// E106 `undeclared-port`, for a metrics endpoint that names no port on a workload that
/// declares none: the endpoint defaults to the first port, and there is none.
///
/// Why: with no port there is no Service and no ServiceMonitor, so nothing scrapes the
/// endpoint, yet its alerts would be generated and could never fire.
fn metrics_without_any_port(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(m) = w.metrics else { return };
    if m.port.is_some() || !w.ports.is_empty() {
        return;
    }
    let span = m.path.as_ref().map_or(&w.name.span, |p| &p.span);
    out.push(
        Diagnostic::new(
            Code::UndeclaredPort,
            format!(
                "the metrics endpoint of `{}` has no port, and `{}` declares none",
                w.name.value, w.name.value
            ),
            span.clone(),
            "served on no port",
        )
        .help("declare the port it is served on, `ports = [{ name = \"metrics\", port = 9100 }]`, and name it in `metrics = { port = \"metrics\" }`"),
    );
}

/// E144 `probe-shape`, E132 `malformed-duration` for probe timings.
///
/// Why: a probe is exactly one of HTTP GET, exec or TCP; Kubernetes rejects a probe with two
/// handlers.
fn probe_shape(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(p) = w.probes else { return };
    for probe in [&p.liveness, &p.readiness, &p.startup]
        .into_iter()
        .flatten()
    {
        if let (Some(path), Some(_)) = (&probe.path, &probe.command) {
            out.push(
                Diagnostic::new(
                    Code::ProbeShape,
                    "probe has both `path` and `command`",
                    path.span.clone(),
                    "an HTTP probe",
                )
                .help("keep `path` for an HTTP probe or `command` for an exec probe, not both"),
            );
        }
        if let Some(path) = &probe.path {
            if !path.value.starts_with('/') {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "probe path must start with `/`",
                        path.span.clone(),
                        "relative path",
                    )
                    .help(format!("write `\"/{}\"`", path.value)),
                );
            }
        }
        if let Some(cmd) = &probe.command {
            if cmd.is_empty() {
                if let Some(path) = &probe.path {
                    out.push(Diagnostic::new(
                        Code::ProbeShape,
                        "empty probe command",
                        path.span.clone(),
                        "no command",
                    ).help("give the command to run, e.g. `command = [\"pg_isready\"]`, or remove `command`"));
                }
            }
        }
        for d in [&probe.initial_delay, &probe.period, &probe.timeout]
            .into_iter()
            .flatten()
        {
            duration(d, out);
        }
        if let Some(t) = &probe.failure_threshold {
            if t.value < 1 {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "failure threshold must be at least 1",
                        t.span.clone(),
                        "too small",
                    )
                    .help("a probe fails after this many failed checks; write `1` or more"),
                );
            }
        }
    }
}

/// E132 `malformed-duration` for a duration that does not parse, and E006 `invalid-value`
/// for one longer than [`units::MAX_DURATION_MS`].
///
/// Why: every duration of the spec reaches a Go program (Prometheus, Alertmanager, the
/// Kubernetes API server or a controller) that holds it in nanoseconds; one that overflows
/// is rejected when the output is applied, long after `check` said it was fine.
///
/// Example: `window = "99999999999d"`.
pub(super) fn duration(d: &Sp<String>, out: &mut Vec<Diagnostic>) -> Option<u64> {
    match units::parse_duration(&d.value) {
        Ok(ms) if ms > units::MAX_DURATION_MS => {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "duration out of range",
                    d.span.clone(),
                    "longer than about 292 years",
                )
                .help("Prometheus, Alertmanager and Kubernetes hold durations up to `106751d`; write a shorter one"),
            );
            None
        }
        Ok(ms) => Some(ms),
        Err(e) => {
            out.push(
                Diagnostic::new(
                    Code::MalformedDuration,
                    "malformed duration",
                    d.span.clone(),
                    e,
                )
                .help(match units::suggest_duration(&d.value) {
                    Some(fixed) => format!("write `\"{fixed}\"`"),
                    None => "write a number and a unit: `ms`, `s`, `m`, `h`, `d`, `w`, `y`".into(),
                }),
            );
            None
        }
    }
}

/// E006 `invalid-value`: a zero duration where its consumer needs a positive one
/// (Alertmanager's `group_interval` and `repeat_interval`, an SLO's window, Prometheus's
/// retention and scrape interval, Alertmanager's retention); otherwise as [`duration`].
///
/// Why: amtool rejects a zero `group_interval` or `repeat_interval` ("cannot be zero"),
/// promtool a zero range (`[0s]`, "must be greater than 0"), and a zero retention or scrape
/// interval makes the server fall back to its own default or keep nothing, so the output
/// would fail to load, or do other than the spec says, after `check` accepted it.
///
/// Example: `[alerting] repeat_interval = "0s"`.
pub(super) fn positive_duration(
    d: &Sp<String>,
    what: &str,
    example: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<u64> {
    let ms = duration(d, out)?;
    if ms == 0 {
        out.push(
            Diagnostic::new(
                Code::InvalidValue,
                format!("{what} must be longer than zero"),
                d.span.clone(),
                "zero",
            )
            .help(format!("write a positive duration, e.g. `\"{example}\"`")),
        );
    }
    Some(ms)
}

/// E143 `schedule-mismatch`, E133 `malformed-cron`.
///
/// Why: a cron job without a schedule never runs; a schedule on a web service is ignored and
/// shows a misunderstanding worth pointing out.
fn schedule(w: &W, out: &mut Vec<Diagnostic>) {
    match (w.kind, w.schedule) {
        (ServiceKind::Cron, None) => {
            let span = w.kind_span.map_or(w.name.span.clone(), |k| k.span.clone());
            out.push(
                Diagnostic::new(
                    Code::ScheduleMismatch,
                    format!("cron job `{}` has no schedule", w.name.value),
                    span,
                    "a cron job",
                )
                .help("add `schedule = \"0 3 * * *\"` (minute hour day month weekday)"),
            );
        }
        (ServiceKind::Cron, Some(s)) => cron(s, out),
        (_, Some(s)) => out.push(
            Diagnostic::new(
                Code::ScheduleMismatch,
                format!("`{}` has a schedule but is not a cron job", w.name.value),
                s.span.clone(),
                "ignored",
            )
            .help("set `kind = \"cron\"` or remove `schedule`"),
        ),
        (_, None) => {}
    }
}

/// E006 `invalid-value`: a `job` runs once to completion, and a `cron` job to completion on
/// its schedule, so the keys of a long-running workload do not apply to them.
///
/// Why: a Job or CronJob has no replicas to scale or keep available, no rollout, and (a job)
/// no Service to route to; plinth would have to drop those keys silently, or generate objects
/// (an HPA targeting a CronJob, a Service and Ingress for pods that exist a few minutes a
/// day, a PDB) that never work. A cron job keeps its `ports`: it may serve metrics while it
/// runs. Each error points at the key.
///
/// Example: `kind = "cron"` with `autoscaling = { min = 1, max = 3, cpu = 70 }`.
fn job_shape(w: &W, sources: &Sources, out: &mut Vec<Diagnostic>) {
    let (what, runs) = match w.kind {
        ServiceKind::Job => ("a job", "a job runs once to completion on every deploy"),
        ServiceKind::Cron => (
            "a cron job",
            "a cron job runs to completion on its schedule",
        ),
        _ => return,
    };
    let key = |k: &str| super::key_span(sources, &w.name.span, k);
    let mut not_for_jobs = |k: &str, span: Option<crate::source::Span>| {
        if let Some(span) = span {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("{what} has no `{k}`"),
                    span,
                    format!("not for {what}"),
                )
                .help(format!(
                    "remove `{k}`: {runs}; use `kind = \"worker\"` for a long-running workload"
                )),
            );
        }
    };
    not_for_jobs("replicas", w.replicas.map(|r| r.span.clone()));
    not_for_jobs("autoscaling", w.autoscaling.map(|_| key("autoscaling")));
    not_for_jobs(
        "vertical_autoscaling",
        w.vpa.map(|_| key("vertical_autoscaling")),
    );
    not_for_jobs("ingress", w.ingress.map(|_| key("ingress")));
    if w.kind == ServiceKind::Job {
        not_for_jobs("ports", w.ports.first().map(|p| p.name.span.clone()));
    }
    // A progressive strategy is E220's, which names the strategy.
    not_for_jobs(
        "rollout",
        w.rollout
            .filter(|r| {
                r.strategy
                    .as_ref()
                    .is_none_or(|s| s.value == RolloutStrategy::Rolling)
            })
            .map(|_| key("rollout")),
    );
    not_for_jobs("disruption_budget", w.pdb.map(|_| key("disruption_budget")));
}

/// Reports a malformed cron schedule (E133).
fn cron(s: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if let Err(e) = units::check_cron(&s.value) {
        out.push(
            Diagnostic::new(
                Code::MalformedCron,
                "malformed cron schedule",
                s.span.clone(),
                e,
            )
            .help("five fields: minute hour day-of-month month day-of-week, e.g. `0 2 * * *`"),
        );
    }
}

/// E121 `replicas-with-autoscaler`: a fixed replica count next to autoscaling.
///
/// Why: when both set the count, every `kubectl apply` resets the autoscaler's choice and the
/// workload flaps; the autoscaler must own the count.
fn replicas_with_autoscaler(w: &W, out: &mut Vec<Diagnostic>) {
    if let (Some(r), Some(a)) = (w.replicas, w.autoscaling) {
        let mut d = Diagnostic::new(
            Code::ReplicasWithAutoscaler,
            format!("`{}` sets both `replicas` and `autoscaling`", w.name.value),
            r.span.clone(),
            "fixed count",
        )
        .help("remove `replicas`; use `autoscaling.min` for the lower bound");
        if let Some(min) = &a.min {
            d = d.related(min.span.clone(), "autoscaler lower bound");
        }
        out.push(d);
    }
    if let Some(r) = w.replicas {
        if r.value < 0 || r.value > 1000 {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "replicas must be between 0 and 1000",
                    r.span.clone(),
                    "out of range",
                )
                .help("write the target as a percentage of the requests, e.g. `cpu = 70`"),
            );
        }
    }
}

/// E120 `autoscale-min-above-max`, E122 `autoscale-no-metric`, E148 `invalid-percent`,
/// E016 `invalid-metric-name` for a custom metric's name.
///
/// Why: Kubernetes rejects an autoscaler whose minimum is above its maximum, and one with no
/// metric never scales; a custom metric's name lands in prometheus-adapter's series query and
/// regular expression, where any character outside a Prometheus metric name breaks or changes
/// the query.
///
/// Example: `metrics = [{ name = "http-requests", target = 100 }]`.
fn autoscale(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(a) = w.autoscaling else { return };
    if let (Some(min), Some(max)) = (&a.min, &a.max) {
        if min.value > max.value {
            out.push(
                Diagnostic::new(
                    Code::AutoscaleMinAboveMax,
                    format!(
                        "autoscaling minimum {} is above maximum {}",
                        min.value, max.value
                    ),
                    min.span.clone(),
                    "minimum",
                )
                .related(max.span.clone(), "maximum")
                .help("make `min` at most `max`"),
            );
        }
    }
    if let Some(min) = &a.min {
        if min.value < 1 {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "autoscaling minimum must be at least 1",
                    min.span.clone(),
                    "too small",
                )
                .help("write `min = 1` or more; to stop a service, remove it from the environment"),
            );
        }
    }
    match &a.max {
        None => out.push(
            Diagnostic::new(
                Code::MissingKey,
                format!("autoscaling of `{}` has no maximum", w.name.value),
                w.name.span.clone(),
                "no `autoscaling.max`",
            )
            .help("add `max = …` to `autoscaling`"),
        ),
        Some(max) if max.value < 1 || max.value > 1000 => out.push(
            Diagnostic::new(
                Code::InvalidValue,
                "autoscaling maximum must be between 1 and 1000",
                max.span.clone(),
                "out of range",
            )
            .help("write a maximum between 1 and 1000 replicas"),
        ),
        Some(_) => {}
    }
    if a.cpu.is_none() && a.memory.is_none() && a.metrics.as_ref().is_none_or(Vec::is_empty) {
        let span = a
            .max
            .as_ref()
            .or(a.min.as_ref())
            .map_or(w.name.span.clone(), |s| s.span.clone());
        out.push(
            Diagnostic::new(
                Code::AutoscaleNoMetric,
                format!("autoscaling of `{}` has no metric", w.name.value),
                span,
                "nothing to scale on",
            )
            .help("add `cpu = 70` (percent), `memory = 80` or a custom `metrics` entry"),
        );
    }
    for p in [&a.cpu, &a.memory].into_iter().flatten() {
        if !(1..=100).contains(&p.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidPercent,
                    "utilisation target must be between 1 and 100 percent",
                    p.span.clone(),
                    "out of range",
                )
                .help("the target is a percentage of the request, e.g. `cpu = 70`"),
            );
        }
    }
    for m in a.metrics.iter().flatten() {
        // The name is written into the HPA and into prometheus-adapter's series query and
        // regular expression as it is, so it must be a metric name Prometheus has.
        super::alerts::invalid_metric_name(&m.name, out);
        quantity(&m.target, Unit::Plain, out);
    }
    for b in [&a.scale_up, &a.scale_down].into_iter().flatten() {
        if let Some(s) = &b.stabilization {
            if duration(s, out).is_some_and(|ms| ms > 3_600_000) {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "stabilization window is at most one hour",
                        s.span.clone(),
                        "too long",
                    )
                    .help("Kubernetes accepts up to `1h`"),
                );
            }
        }
        for p in b.policies.iter().flatten() {
            if duration(&p.period, out)
                .is_some_and(|ms| ms == 0 || ms > 1_800_000 || ms % 1000 != 0)
            {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "policy period must be whole seconds from 1s to 30m",
                        p.period.span.clone(),
                        "out of range",
                    )
                    .help("write whole seconds between `1s` and `30m`, e.g. `60s`"),
                );
            }
            if p.value.value < 1 {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "policy value must be at least 1",
                        p.value.span.clone(),
                        "too small",
                    )
                    .help("write how many pods or percent a step may change, `1` or more"),
                );
            }
        }
    }
}

/// What a quantity measures.
#[derive(Clone, Copy)]
pub(super) enum Unit {
    Cpu,
    Bytes,
    Plain,
}

/// Reports a malformed quantity (E131) and returns its value in millicores or bytes.
pub(super) fn quantity(q: &Sp<Quantity>, unit: Unit, out: &mut Vec<Diagnostic>) -> Option<i128> {
    let parsed = match unit {
        Unit::Cpu => units::parse_cpu(&q.value.0).map(i128::from),
        Unit::Bytes => units::parse_bytes(&q.value.0),
        Unit::Plain => units::parse_cpu(&q.value.0)
            .map(i128::from)
            .or_else(|_| units::parse_bytes(&q.value.0)),
    };
    match parsed {
        Ok(v) => Some(v),
        Err(e) => {
            out.push(
                Diagnostic::new(
                    Code::MalformedQuantity,
                    "malformed quantity",
                    q.span.clone(),
                    e,
                )
                .help(
                    match unit {
                        Unit::Cpu => units::suggest_cpu(&q.value.0).map(|v| format!("write `{v}`")),
                        Unit::Bytes => {
                            units::suggest_bytes(&q.value.0).map(|v| format!("write `\"{v}\"`"))
                        }
                        Unit::Plain => None,
                    }
                    .unwrap_or_else(|| {
                        "CPU: `250m`, `0.5`, `2`; memory and storage: `512Mi`, `1Gi`".into()
                    }),
                ),
            );
            None
        }
    }
}

/// E130 `request-above-limit`, E131 `malformed-quantity`.
///
/// Why: Kubernetes rejects a container whose request exceeds its limit.
fn resources(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(r) = w.resources else { return };
    let empty = ResourceAmounts::default();
    let req = r.requests.as_ref().unwrap_or(&empty);
    let lim = r.limits.as_ref().unwrap_or(&empty);
    for (what, unit, rq, lm) in [
        ("CPU", Unit::Cpu, &req.cpu, &lim.cpu),
        ("memory", Unit::Bytes, &req.memory, &lim.memory),
    ] {
        let rv = rq.as_ref().and_then(|q| quantity(q, unit, out));
        let lv = lm.as_ref().and_then(|q| quantity(q, unit, out));
        if let (Some(rv), Some(lv), Some(rq), Some(lm)) = (rv, lv, rq, lm) {
            if rv > lv {
                out.push(
                    Diagnostic::new(
                        Code::RequestAboveLimit,
                        format!(
                            "{what} request {} is above its limit {}",
                            rq.value.0, lm.value.0
                        ),
                        rq.span.clone(),
                        "request",
                    )
                    .related(lm.span.clone(), "limit")
                    .help("lower the request or raise the limit"),
                );
            }
        }
    }
}

/// Rolling update and disruption budget values.
///
/// Why: Kubernetes rejects `max_surge = 0` together with `max_unavailable = 0` (the rollout
/// could never make progress) and a budget with both fields.
fn rollout_and_budget(w: &W, out: &mut Vec<Diagnostic>) {
    let parse =
        |v: &Sp<IntOrPercentSpec>, out: &mut Vec<Diagnostic>| match units::parse_int_or_percent(
            &v.value.0,
        ) {
            Ok(x) => Some(x),
            Err(e) => {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "invalid count or percentage",
                        v.span.clone(),
                        e,
                    )
                    .help("write a count (`1`) or a percentage (`\"25%\"`)"),
                );
                None
            }
        };
    if let Some(r) = w.rollout {
        let surge = r.max_surge.as_ref().and_then(|v| parse(v, out));
        let unavailable = r.max_unavailable.as_ref().and_then(|v| parse(v, out));
        let zero = |x: Option<IntOrPercent>| {
            matches!(x, Some(IntOrPercent::Int(0) | IntOrPercent::Percent(0)))
        };
        if zero(surge) && zero(unavailable) {
            if let Some(s) = &r.max_surge {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "rollout can never progress",
                        s.span.clone(),
                        "no surge and no unavailability",
                    )
                    .help("allow `max_surge = 1` or `max_unavailable = 1`"),
                );
            }
        }
    }
    if let Some(b) = w.pdb {
        let min = b.min_available.as_ref().and_then(|v| parse(v, out));
        // A budget that keeps every replica available blocks every node drain forever.
        let fewest = match (w.autoscaling.and_then(|a| a.min.as_ref()), w.replicas) {
            (Some(m), _) => m.value,
            (None, Some(r)) => r.value,
            (None, None) => 1,
        };
        if let (Some(IntOrPercent::Int(n)), Some(m)) = (min, &b.min_available) {
            if i64::from(n) >= fewest {
                out.push(
                    Diagnostic::new(Code::InvalidValue, format!("disruption budget keeps all {fewest} replica(s) of `{}` available", w.name.value), m.span.clone(), "no pod may ever be evicted")
                        .help("allow at least one pod to be evicted: lower `min_available` or use `max_unavailable = 1`"),
                );
            }
        }
        let max = b.max_unavailable.as_ref().and_then(|v| parse(v, out));
        if let (Some(_), Some(_), Some(m)) = (min, max, &b.max_unavailable) {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "disruption budget sets both `min_available` and `max_unavailable`",
                    m.span.clone(),
                    "choose one",
                )
                .help("keep one of the two fields"),
            );
        }
    }
}

type IntOrPercentSpec = crate::spec::IntOrPercent;

/// E006 `invalid-value`: `storage` on a workload whose kind is not `stateful`.
///
/// Why: persistent storage is one volume claim per replica of a StatefulSet; a web service,
/// worker, job or cron job is a Deployment, Job or CronJob, which plinth gives no claim, so
/// every target would drop the key and the data written to its path would be lost on the
/// next restart. Scratch space that may be lost is `volumes`.
///
/// Example: `kind = "worker"` with `storage = { size = "1Gi" }`.
fn storage_not_stateful(w: &W, sources: &Sources, out: &mut Vec<Diagnostic>) {
    if w.storage.is_none() || w.kind == ServiceKind::Stateful {
        return;
    }
    let kind = match w.kind {
        ServiceKind::Web => "web service",
        ServiceKind::Worker => "worker",
        ServiceKind::Job => "job",
        ServiceKind::Cron => "cron job",
        ServiceKind::Stateful => "stateful workload",
    };
    let mut d = Diagnostic::new(
        Code::InvalidValue,
        format!("`storage` of `{}` needs `kind = \"stateful\"`", w.name.value),
        super::key_span(sources, &w.name.span, "storage"),
        format!("not kept for a {kind}"),
    )
    .help("set `kind = \"stateful\"` for a volume per replica, or use `volumes = [{ name = \"scratch\", path = \"/tmp/scratch\" }]` for scratch space");
    if let Some(k) = w.kind_span {
        d = d.related(k.span.clone(), "the kind");
    }
    out.push(d);
}

/// Storage and volume sizes, and the metrics interval.
fn storage(w: &W, out: &mut Vec<Diagnostic>) {
    if let Some(size) = w.storage.and_then(|s| s.size.as_ref()) {
        quantity(size, Unit::Bytes, out);
    }
    for v in w.volumes {
        if let Some(size) = &v.size {
            quantity(size, Unit::Bytes, out);
        }
    }
    // Mount paths are E194, in `fields.rs`, with every other mount of the workload.
    if let Some(m) = w.metrics.and_then(|m| m.interval.as_ref()) {
        duration(m, out);
    }
}

/// E145 `ingress-without-port`, E149 `unknown-placeholder`.
///
/// Why: an ingress needs a Service port to route to, and a host with an unknown placeholder
/// would be published verbatim.
fn ingress(w: &W, has_domain: bool, out: &mut Vec<Diagnostic>) {
    let Some(i) = w.ingress else { return };
    if w.ports.is_empty() {
        let span = i
            .host
            .as_ref()
            .map_or(w.name.span.clone(), |h| h.span.clone());
        out.push(
            Diagnostic::new(
                Code::IngressWithoutPort,
                format!(
                    "`{}` is exposed by ingress but declares no port",
                    w.name.value
                ),
                span,
                "nothing to route to",
            )
            .help("declare the port the service listens on in `ports`"),
        );
    }
    match &i.host {
        None => out.push(
            Diagnostic::new(
                Code::MissingKey,
                format!("ingress of `{}` has no host", w.name.value),
                w.name.span.clone(),
                "no `ingress.host`",
            )
            .help("add `host = \"api.{domain}\"` or a full host name"),
        ),
        Some(h) => host(h, has_domain, out),
    }
    for h in i.redirect_from.iter().flatten() {
        host(h, has_domain, out);
    }
    if let Some(p) = &i.path {
        if !p.value.starts_with('/') {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "ingress path must start with `/`",
                    p.span.clone(),
                    "relative path",
                )
                .help(format!("write `/{}`", p.value.trim_start_matches("./"))),
            );
        }
    }
}

/// E149 `unknown-placeholder`, E101 `invalid-name`: an ingress host (or a host of its
/// `redirect_from`) with a placeholder other than `{domain}`, `{domain}` without a domain,
/// or a name DNS would reject.
fn host(h: &Sp<String>, has_domain: bool, out: &mut Vec<Diagnostic>) {
    for placeholder in placeholders(&h.value) {
        if placeholder != "domain" {
            out.push(
                Diagnostic::new(
                    Code::UnknownPlaceholder,
                    format!("unknown placeholder `{{{placeholder}}}`"),
                    h.span.clone(),
                    "in this host",
                )
                .help("hosts may use `{domain}`"),
            );
        } else if !has_domain {
            out.push(
                Diagnostic::new(
                    Code::UnknownPlaceholder,
                    "`{domain}` is used but no domain is set",
                    h.span.clone(),
                    "needs a domain",
                )
                .help("set `platform.domain` or the environment's `domain`"),
            );
        }
    }
    let host = h.value.replace("{domain}", "example.com");
    let valid = host
        .split('.')
        .all(|l| units::is_dns_label(l) || (l == "*" && host.starts_with("*.")))
        && host.len() <= 253;
    if !valid && placeholders(&h.value).iter().all(|p| p == "domain") {
        out.push(
            Diagnostic::new(
                Code::InvalidName,
                format!("invalid host `{}`", h.value),
                h.span.clone(),
                "not a DNS name",
            )
            .help("use lowercase DNS labels separated by dots, e.g. `api.{domain}`"),
        );
    }
}

/// W006 `host-outside-domain`: an ingress host written out in full that is neither the
/// environment's domain nor a name under it.
///
/// Why: an environment's hosts usually live in its own zone (`api.staging.example.com`);
/// a full production name left in a staging override, or a staging name in production,
/// routes one environment's traffic to the other's certificate and DNS. Hosts written with
/// `{domain}` are under it by construction.
///
/// Example: staging with `domain = "staging.shop.com"` and `host = "api.shop.com"`.
fn host_outside_domain(host: &Sp<String>, domain: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if host.value.contains('{') {
        return;
    }
    let h = host.value.trim_end_matches('.').to_ascii_lowercase();
    let d = domain.value.trim_end_matches('.').to_ascii_lowercase();
    if h == d || h.ends_with(&format!(".{d}")) {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::HostOutsideDomain,
            format!("host `{}` is outside the domain `{}`", host.value, domain.value),
            host.span.clone(),
            "not under the environment's domain",
        )
        .related(domain.span.clone(), "the domain")
        .help("write the host with `{domain}` (e.g. `api.{domain}`), or allow W006 if it really lives elsewhere"),
    );
}

/// E149 `unknown-placeholder` in an environment variable's value.
///
/// Why: values may use `{env}`, `{namespace}`, `{domain}` and `{platform}` (so one
/// `platform.env = { SENTRY_ENV = "{env}" }` serves every environment). Any other `{name}` is
/// almost certainly a misspelling of one of them, and would otherwise reach the application
/// as literal text; `{domain}` needs a domain. JSON (`{"a": 1}`) and double-brace templates
/// (`{{name}}`) are not placeholders and stay text. A dotted `{postgres.host}` is refused
/// too: it reads like a data store's connection detail, which only `bind` provides.
///
/// Example: `env = { SENTRY_ENV = "{environment}" }`.
fn env_placeholder(
    env: Option<&BTreeMap<Sp<String>, Sp<String>>>,
    has_domain: bool,
    out: &mut Vec<Diagnostic>,
) {
    for value in env.into_iter().flat_map(|e| e.values()) {
        for name in units::dotted_placeholders(&value.value) {
            out.push(
                Diagnostic::new(
                    Code::UnknownPlaceholder,
                    format!("unknown placeholder `{{{name}}}`"),
                    value.span.clone(),
                    "in this value",
                )
                .help("a value cannot read a data store's connection details; bind the variable instead, e.g. `bind.DATABASE_URL = { from = \"postgres\", key = \"uri\" }`"),
            );
        }
        for (_, name) in units::env_placeholders(&value.value) {
            if !units::ENV_PLACEHOLDERS.contains(&name) {
                let near = crate::diag::did_you_mean(name, units::ENV_PLACEHOLDERS.iter().copied());
                out.push(
                    Diagnostic::new(
                        Code::UnknownPlaceholder,
                        format!("unknown placeholder `{{{name}}}`"),
                        value.span.clone(),
                        "in this value",
                    )
                    .help(match near {
                        Some(n) => format!("did you mean `{{{n}}}`? values may use `{{env}}`, `{{namespace}}`, `{{domain}}` and `{{platform}}`"),
                        None => "values may use `{env}`, `{namespace}`, `{domain}` and `{platform}`".to_owned(),
                    }),
                );
            } else if name == "domain" && !has_domain {
                out.push(
                    Diagnostic::new(
                        Code::UnknownPlaceholder,
                        "`{domain}` is used but no domain is set",
                        value.span.clone(),
                        "needs a domain",
                    )
                    .help("set `platform.domain` or the environment's `domain`"),
                );
            }
        }
    }
}

/// The `{names}` in a template string.
pub(super) fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        match rest[start..].find('}') {
            Some(end) => {
                let inner = &rest[start + 1..start + end];
                // Only `{identifier}` is a placeholder; PromQL label matchers such as
                // `{job="api"}` contain other characters and are left alone.
                if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    found.push(inner.to_owned());
                    rest = &rest[start + end + 1..];
                } else {
                    rest = &rest[start + 1..];
                }
            }
            None => break,
        }
    }
    found
}

/// W002 `security-opt-out`, and E006 for a non-root user id below 10000.
///
/// Why: every opt-out weakens the pod's isolation; it is allowed, but it should be visible in
/// every `check` run. Low user ids collide with system users of the host.
fn security_opt_out(w: &W, out: &mut Vec<Diagnostic>) {
    let Some(s) = w.security else { return };
    let allow_root = s.allow_root.as_ref().is_some_and(|v| v.value);
    for (flag, bad, what) in [
        (&s.allow_root, true, "runs as root"),
        (
            &s.read_only_root_filesystem,
            false,
            "has a writable root filesystem",
        ),
        (
            &s.service_account_token,
            true,
            "mounts its service account token",
        ),
    ] {
        if let Some(v) = flag {
            if v.value == bad {
                out.push(Diagnostic::new(
                    Code::SecurityOptOut,
                    format!("`{}` {what}", w.name.value),
                    v.span.clone(),
                    "secure default turned off",
                ));
            }
        }
    }
    if let Some(caps) = &s.add_capabilities {
        if let Some(first) = caps.first() {
            out.push(Diagnostic::new(
                Code::SecurityOptOut,
                format!("`{}` adds Linux capabilities", w.name.value),
                first.span.clone(),
                "secure default turned off",
            ));
        }
    }
    if let Some(uid) = &s.run_as_user {
        if uid.value < 10000 && !allow_root {
            out.push(
                Diagnostic::new(Code::InvalidValue, "user id below 10000", uid.span.clone(), "may collide with host users")
                    .help("use a user id of 10000 or more, or set `allow_root = true` to opt out explicitly"),
            );
        }
    }
}

/// W001 `no-readiness-probe`: a web service or worker without a readiness probe.
///
/// Why: without one, Kubernetes sends traffic to a pod as soon as its process starts, and a
/// rolling update replaces old pods before the new ones work.
fn no_readiness_probe(w: &W, out: &mut Vec<Diagnostic>) {
    if w.store.is_none()
        && matches!(w.kind, ServiceKind::Web | ServiceKind::Worker)
        && w.probes.is_none_or(|p| p.readiness.is_none())
    {
        out.push(
            Diagnostic::new(
                Code::NoReadinessProbe,
                format!("`{}` has no readiness probe", w.name.value),
                w.name.span.clone(),
                "rollouts cannot tell when a new pod works",
            )
            .help("add `[services.NAME.probes.readiness]` with `path` and `port`, or `command` for a worker"),
        );
    }
}

/// Backup schedule and retention of a data store.
fn backup_settings(d: &DataStore, out: &mut Vec<Diagnostic>) {
    if let Some(b) = &d.backup {
        if let Some(s) = &b.schedule {
            cron(s, out);
        }
        if let Some(r) = &b.retention {
            duration(r, out);
        }
    }
    if let Some(r) = &d.read_replicas {
        if !(0..=15).contains(&r.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "read replicas must be between 0 and 15",
                    r.span.clone(),
                    "out of range",
                )
                .help("RDS allows at most 15 read replicas"),
            );
        }
    }
}

/// E131 `malformed-quantity` and E006 `invalid-value` for an environment's `quota`.
///
/// Why: the API server rejects a ResourceQuota with a malformed amount, and a quota of no
/// pods or no CPU admits nothing, so the whole environment would stay empty.
///
/// Example: `quota = { cpu = "16 cores", pods = 0 }`.
fn quota(q: &Quota, out: &mut Vec<Diagnostic>) {
    for (amount, unit) in [
        (&q.cpu, Unit::Cpu),
        (&q.memory, Unit::Bytes),
        (&q.storage, Unit::Bytes),
    ] {
        if let Some(a) = amount {
            if quantity(a, unit, out) == Some(0) {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "a quota of nothing admits no pod",
                        a.span.clone(),
                        "zero",
                    )
                    .help("give the most the environment may use, or leave the key out"),
                );
            }
        }
    }
    if let Some(p) = q.pods.as_ref().filter(|p| p.value < 1) {
        out.push(
            Diagnostic::new(
                Code::InvalidValue,
                "a quota of no pods admits no pod",
                p.span.clone(),
                "less than 1",
            )
            .help("give the most pods the environment may run, or leave the key out"),
        );
    }
}

/// E146 `invalid-scale`: environment scale factors must be in (0, 10].
///
/// Why: a zero or negative factor would scale workloads away; a huge one is a typo.
/// E017 `grafana-port-taken`: the Compose Grafana's host port (`compose.grafana.port`) is
/// 0, or a port another tool of the Compose output publishes on 127.0.0.1: Prometheus
/// (9090) and Alertmanager (9093), which Grafana needs, Dozzle (8890) with `log_viewer`,
/// Traefik (80) when anything has an ingress.
///
/// Why: workloads move out of the tools' way to the next free port, but two tools cannot;
/// `docker compose up` would fail to bind the second.
///
/// Example: `compose = { monitoring = true, grafana = { port = 9090 } }`.
fn grafana_port_taken(c: &EnvironmentCompose, traefik: bool, out: &mut Vec<Diagnostic>) {
    let Some(port) = c.grafana.as_ref().and_then(|g| g.value.port.as_ref()) else {
        return;
    };
    let on = |v: &Option<Sp<bool>>| v.as_ref().is_some_and(|b| b.value);
    let tools = [
        (true, units::COMPOSE_PROMETHEUS_PORT, "Prometheus"),
        (true, units::COMPOSE_ALERTMANAGER_PORT, "Alertmanager"),
        (
            on(&c.log_viewer),
            units::COMPOSE_LOG_VIEWER_PORT,
            "the log viewer",
        ),
        (traefik, units::COMPOSE_TRAEFIK_PORT, "Traefik"),
    ];
    let taken = tools
        .iter()
        .find(|(runs, p, _)| *runs && *p == port.value)
        .map(|(_, _, tool)| format!("{tool} publishes port {}", port.value));
    let why = if port.value == 0 {
        Some("port 0 is no port".to_owned())
    } else {
        taken
    };
    if let Some(why) = why {
        out.push(
            Diagnostic::new(
                Code::GrafanaPortTaken,
                format!(
                    "the Compose Grafana cannot publish port {}: {why}",
                    port.value
                ),
                port.span.clone(),
                "Grafana's host port",
            )
            .help("pick a free port, e.g. 3000 (Grafana's own) or 3001"),
        );
    }
}

fn invalid_scale(env: &Environment, out: &mut Vec<Diagnostic>) {
    for f in [&env.replica_scale, &env.resource_scale]
        .into_iter()
        .flatten()
    {
        if !(f.value > 0.0 && f.value <= 10.0) {
            out.push(
                Diagnostic::new(
                    Code::InvalidScale,
                    format!("scale factor {} is out of range", f.value),
                    f.span.clone(),
                    "must be above 0 and at most 10",
                )
                .help("for \"50% of production\" write `0.5`"),
            );
        }
    }
}

/// E006 for egress destinations: a CIDR and ports that a NetworkPolicy accepts.
///
/// Why: an invalid `ipBlock` makes the API server reject the whole policy, which leaves the
/// workload with no allowed egress at all.
fn egress(rules: &[Egress], out: &mut Vec<Diagnostic>) {
    for e in rules {
        let valid = e.cidr.value.split_once('/').is_some_and(|(ip, bits)| {
            match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
                (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
                (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
                _ => false,
            }
        });
        if !valid {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` is not a CIDR block", e.cidr.value),
                    e.cidr.span.clone(),
                    "expected an address and a prefix length",
                )
                .help("write e.g. `\"0.0.0.0/0\"` for anywhere or `\"10.0.0.0/16\"` for a network"),
            );
        }
        for p in &e.ports {
            if !(1..=65535).contains(&p.value) {
                out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "port must be between 1 and 65535",
                        p.span.clone(),
                        "out of range",
                    )
                    .help("write a TCP port number between 1 and 65535"),
                );
            }
        }
    }
}

/// E123 `vpa-with-hpa`: a vertical autoscaler that changes requests while a horizontal one
/// scales on CPU or memory utilisation.
///
/// Why: utilisation is measured against the requests, so each autoscaler's change moves the
/// other's signal and the two oscillate. Recommendation-only mode (`"off"`) is safe.
fn vpa_with_hpa(w: &W, out: &mut Vec<Diagnostic>) {
    let (Some(v), Some(a)) = (w.vpa, w.autoscaling) else {
        return;
    };
    if v.value != VpaMode::Off && (a.cpu.is_some() || a.memory.is_some()) {
        out.push(
            Diagnostic::new(Code::VpaWithHpa, format!("`{}` has a vertical and a horizontal autoscaler on CPU or memory", w.name.value), v.span.clone(), "changes the requests the HPA measures against")
                .help("use `vertical_autoscaling = \"off\"` for recommendations only, or scale horizontally on a custom metric"),
        );
    }
}

/// E019 `malformed-verify`: `backup.verify` names a restore drill's schedule, as `daily`,
/// `weekly`, `monthly` or a five-field cron schedule.
///
/// Why: a drill that never runs is a false promise; a misspelt keyword must not become a
/// cron expression the API server rejects at apply time.
///
/// Example: `backup = { schedule = "0 3 * * *", verify = "montly" }`.
fn malformed_verify(v: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if units::verify_schedule(&v.value).is_some() {
        return;
    }
    // Something with spaces is meant as a cron schedule: say what is wrong with it.
    let why = match units::check_cron(&v.value) {
        Ok(()) => return,
        Err(e) if v.value.contains(' ') => e,
        Err(_) => format!(
            "`{}` is not `daily`, `weekly` or `monthly`{}",
            v.value,
            crate::diag::did_you_mean(&v.value, ["daily", "weekly", "monthly"].into_iter())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default()
        ),
    };
    out.push(
        Diagnostic::new(
            Code::MalformedVerify,
            "malformed restore drill schedule",
            v.span.clone(),
            why,
        )
        .help("`daily`, `weekly`, `monthly` (05:00 UTC; Sundays; the 1st) or a cron schedule such as `0 5 1 * *`"),
    );
}

/// E014 `verify-unsupported`: `backup.verify` asks for a scheduled restore drill, which
/// plinth generates for PostgreSQL only: CloudNativePG restores a scratch cluster from the
/// store's backups (base backup and WAL) and reports whether it became ready. Redis, Qdrant
/// and MinIO have no operator that restores from their dumps, and a store with `backup` but
/// neither `schedule` nor `continuous` has nothing to restore.
///
/// Why: nothing the spec says is silently dropped; a drill nobody runs is worse than none.
///
/// Example: `[datastores.cache] preset = "redis"`, `backup = { schedule = "0 3 * * *",
/// verify = "monthly" }`.
fn verify_unsupported(name: &Sp<String>, d: &DataStore, out: &mut Vec<Diagnostic>) {
    let Some(b) = &d.backup else { return };
    let Some(v) = &b.verify else { return };
    malformed_verify(v, out);
    // Without an engine (a preset that failed to load) another error already says why.
    let engine = d.engine.as_ref().map(|e| e.value.as_str());
    let why = if engine.is_some_and(|e| e != "postgres") {
        format!(
            "`{}` is {}, whose backups plinth cannot restore into a scratch instance",
            name.value,
            engine.unwrap_or_default()
        )
    } else if b.schedule.is_none() && !b.continuous.as_ref().is_some_and(|c| c.value) {
        format!(
            "`{}` takes no backups to restore: `backup` has neither `schedule` nor `continuous = true`",
            name.value
        )
    } else {
        return;
    };
    out.push(
        Diagnostic::new(Code::VerifyUnsupported, why, v.span.clone(), "restore drill")
            .help("remove `verify`; restore drills are generated for PostgreSQL stores with backups (CloudNativePG)"),
    );
}

/// E010 `pooling-not-postgres` and W010 `pooling-managed`: `pooling` is PgBouncer in front
/// of a PostgreSQL primary run by the CloudNativePG operator. On another engine it means
/// nothing (an error); on a managed (RDS) store plinth generates no RDS Proxy, so the
/// setting has no effect there (a warning, so that an environment may switch modes).
///
/// Why: nothing the spec says is silently dropped.
fn pooling_unsupported(name: &Sp<String>, d: &DataStore, out: &mut Vec<Diagnostic>) {
    let Some(p) = &d.pooling else {
        return;
    };
    let span = [&p.max_client_conn, &p.default_pool_size, &p.instances]
        .into_iter()
        .flatten()
        .map(|v| v.span.clone())
        .chain(p.mode.as_ref().map(|m| m.span.clone()))
        .next()
        .unwrap_or_else(|| name.span.clone());
    // Without an engine (a preset that failed to load) another error already says why.
    if d.engine.as_ref().is_some_and(|e| e.value != "postgres") {
        out.push(
            Diagnostic::new(
                Code::PoolingNotPostgres,
                format!(
                    "`{}` is not PostgreSQL, so it cannot have `pooling`",
                    name.value
                ),
                span,
                "PgBouncer pooling",
            )
            .help("remove `pooling`; it configures PgBouncer for a PostgreSQL store"),
        );
    } else if d
        .mode
        .as_ref()
        .is_some_and(|m| m.value == StoreMode::Managed)
    {
        out.push(
            Diagnostic::new(
                Code::PoolingManaged,
                format!(
                    "`pooling` of managed `{}` has no effect: plinth generates no RDS Proxy",
                    name.value
                ),
                span,
                "ignored for a managed store",
            )
            .help("remove `pooling` from the managed environment, or run the store in-cluster"),
        );
    }
}
