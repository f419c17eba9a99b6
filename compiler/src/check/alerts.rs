//! Observability and alerting: thresholds, custom rules, SLOs, receivers and routing.

use std::collections::BTreeMap;

use super::workload::{duration, placeholders, positive_duration};
use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::spec::*;
use crate::units;

/// Built-in threshold names and the kind of level each takes.
pub(crate) const BUILTIN_THRESHOLDS: &[(&str, LevelKind)] = &[
    ("cpu", LevelKind::Percent),
    ("memory", LevelKind::Percent),
    ("error_rate", LevelKind::Percent),
    ("latency_p95", LevelKind::Seconds),
    ("disk", LevelKind::Percent),
    ("db_connections", LevelKind::Percent),
    ("replication_lag", LevelKind::Seconds),
    ("redis_memory", LevelKind::Percent),
];

/// How a threshold level is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LevelKind {
    /// A number from 0 to 100.
    Percent,
    /// A duration (`"500ms"`) or a number of seconds.
    Seconds,
    /// Any number (custom thresholds).
    Number,
}

/// Parses a level of the given kind to a number (seconds for durations).
pub(crate) fn parse_level(text: &str, kind: LevelKind) -> Result<f64, String> {
    let number = text.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    match kind {
        LevelKind::Seconds => number
            .or_else(|| {
                units::parse_duration(text)
                    .ok()
                    .map(|ms| ms as f64 / 1000.0)
            })
            .ok_or_else(|| format!("`{text}` is not a duration such as `500ms` or `1s`")),
        LevelKind::Percent => match number {
            Some(v) if (0.0..=100.0).contains(&v) => Ok(v),
            Some(_) => Err(format!("`{text}` is not a percentage from 0 to 100")),
            None => Err(format!(
                "`{text}` is not a number; write percentages as plain numbers, e.g. `70`"
            )),
        },
        LevelKind::Number => number.ok_or_else(|| format!("`{text}` is not a number")),
    }
}

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    let spec = ctx.spec;
    for (name, t) in &spec.observability.thresholds {
        threshold(name, t, &mut found);
    }
    for view in ctx.views {
        for s in view.services.values() {
            for (name, t) in s.thresholds.iter().flatten() {
                threshold(name, t, &mut found);
            }
        }
        for d in view.datastores.values() {
            for (name, t) in d.thresholds.iter().flatten() {
                threshold(name, t, &mut found);
            }
        }
    }
    for view in ctx.views {
        for (name, s) in &view.services {
            latency_between_buckets(spec, name, s, &mut found);
            if let Some(m) = &s.metrics {
                metric_names(&m.requests, &m.status_label, &m.latency, &mut found);
            }
        }
    }
    if let Some(m) = &spec.observability.metrics {
        metric_names(&m.requests, &m.status_label, &m.latency, &mut found);
    }
    for r in &spec.observability.rules {
        custom_rule(r, &mut found);
    }
    for slo in spec.observability.slos.values() {
        invalid_slo(slo, &mut found);
        slo_beyond_retention(&spec.observability, slo, &mut found);
        slo_query_names(spec, slo, &mut found);
    }
    for q in [
        &spec.observability.retention_size,
        &spec.observability.storage,
    ]
    .into_iter()
    .chain(spec.observability.alertmanager.as_ref().map(|a| &a.storage))
    .flatten()
    {
        // Sizes are strings with a unit: a bare number of bytes is never what is meant.
        let q = Sp {
            value: Quantity(q.value.clone()),
            span: q.span.clone(),
        };
        super::workload::quantity(&q, super::workload::Unit::Bytes, &mut found);
    }
    let am = spec.observability.alertmanager.as_ref();
    zero_monitoring_replicas(&spec.observability, &mut found);
    let o = &spec.observability;
    let positive = [
        (&o.scrape_interval, "`observability.scrape_interval`", "30s"),
        (&o.retention, "`observability.retention`", "15d"),
    ]
    .into_iter()
    .chain(am.map(|a| {
        (
            &a.retention,
            "`observability.alertmanager.retention`",
            "120h",
        )
    }));
    for (d, key, example) in positive {
        if let Some(d) = d {
            positive_duration(d, key, example, &mut found);
        }
    }
    // Each environment routes with its own alerting (the spec's, or its override).
    let mut unrouted = Unrouted::default();
    for view in ctx.views {
        let a = &view.alerting;
        for (name, r) in &a.receivers {
            receiver_config(name, r, &mut found);
        }
        // Alertmanager may send a group's first notification at once (`group_wait = "0s"`),
        // but refuses a zero interval between notifications.
        if let Some(d) = &a.group_wait {
            duration(d, &mut found);
        }
        for (d, key, example) in [
            (&a.group_interval, "`alerting.group_interval`", "5m"),
            (&a.repeat_interval, "`alerting.repeat_interval`", "4h"),
        ] {
            if let Some(d) = d {
                positive_duration(d, key, example, &mut found);
            }
        }
        unrouted_severity(ctx, view, &mut unrouted, &mut found);
        repeat_beyond_retention(a, am, &mut found);
    }
    found.extend(unrouted.into_diagnostics());
    route_matches_nothing(ctx, &mut found);
    unused_receivers(ctx, &mut found);
    for d in found {
        ctx.report(d);
    }
}

/// E256 `invalid-threshold-name`: a threshold's name must be an ASCII letter followed by
/// letters, digits, `_` and `-`.
///
/// Why: the name becomes part of the alert's name (`<Name>High`), of the recorded series
/// holding its value (`plinth:threshold_<name>:value`) and of labels that annotations quote;
/// other characters are replaced or dropped on the way, so two names could make one alert,
/// and template or shell syntax (`{{ … }}`, `${…}`) would reach the generated files.
///
/// Example: `[observability.thresholds."queue depth"]`.
fn invalid_threshold_name(name: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if units::is_threshold_name(&name.value) {
        return;
    }
    // Spaces, dots and colons between words are the evident slips; with them as `_` the
    // name may be valid, and then it is the one meant.
    let fixed: String = name
        .value
        .trim()
        .chars()
        .map(|c| if matches!(c, ' ' | '.' | ':') { '_' } else { c })
        .collect();
    let help = if units::is_threshold_name(&fixed) {
        format!("write `{fixed}`: a threshold name is a letter, then letters, digits, `_` and `-`")
    } else {
        "a threshold name is a letter, then letters, digits, `_` and `-`, e.g. `queue_depth`"
            .to_owned()
    };
    out.push(
        Diagnostic::new(
            Code::InvalidThresholdName,
            format!("`{}` is not a threshold name", name.value),
            name.span.clone(),
            "not allowed in a threshold name",
        )
        .help(help),
    );
}

/// E154 `unknown-threshold`, E150 `threshold-order`, E152 for a custom threshold's PromQL.
///
/// Why: a threshold needs an expression to compare against; the built-in ones bring theirs.
/// A warning at or above its critical level never warns before paging.
fn threshold(name: &Sp<String>, t: &Threshold, out: &mut Vec<Diagnostic>) {
    invalid_threshold_name(name, out);
    let builtin = BUILTIN_THRESHOLDS
        .iter()
        .find(|(n, _)| *n == name.value)
        .map(|(_, k)| *k);
    let kind = match (builtin, &t.expr) {
        (Some(k), None) => k,
        (_, Some(expr)) => {
            let substituted = expr
                .value
                .replace("{service}", "svc")
                .replace("{namespace}", "ns");
            promql(expr, &substituted, out);
            for p in placeholders(&expr.value) {
                if p != "service" && p != "namespace" {
                    out.push(
                        Diagnostic::new(
                            Code::UnknownPlaceholder,
                            format!("unknown placeholder `{{{p}}}`"),
                            expr.span.clone(),
                            "in this expression",
                        )
                        .help("expressions may use `{service}` and `{namespace}`"),
                    );
                }
            }
            builtin.unwrap_or(LevelKind::Number)
        }
        (None, None) => {
            let known: Vec<&str> = BUILTIN_THRESHOLDS.iter().map(|(n, _)| *n).collect();
            let mut d = Diagnostic::new(
                Code::UnknownThreshold,
                format!("unknown threshold `{}`", name.value),
                name.span.clone(),
                "not built in, and no `expr`",
            )
            .help(format!(
                "built-in thresholds: {}; or add `expr = \"…\"` with PromQL",
                known.join(", ")
            ));
            if let Some(s) = crate::diag::did_you_mean(&name.value, known.iter().copied()) {
                d = d.help(format!(
                    "did you mean `{s}`? Otherwise add `expr = \"…\"` with PromQL"
                ));
            }
            out.push(d);
            return;
        }
    };
    let mut level = |l: Option<&'_ Sp<Level>>| -> Option<(f64, Sp<Level>)> {
        let l = l?;
        match parse_level(&l.value.0, kind) {
            Ok(v) => Some((v, l.clone())),
            Err(e) => {
                out.push(Diagnostic::new(
                    Code::InvalidValue,
                    "invalid threshold level",
                    l.span.clone(),
                    e,
                ).help(match kind {
                    LevelKind::Seconds => units::suggest_duration(&l.value.0)
                        .map(|v| format!("write `\"{v}\"`")),
                    LevelKind::Percent | LevelKind::Number => units::suggest_number(&l.value.0)
                        .map(|v| format!("write `{v}`")),
                }
                .unwrap_or_else(|| {
                    "write the level as the threshold measures it, e.g. `90` for a percentage \
                     or `\"500ms\"` for a latency"
                        .into()
                })));
                None
            }
        }
    };
    let warning = level(t.warning.as_ref());
    let critical = level(t.critical.as_ref());
    if let (Some((w, ws)), Some((c, cs))) = (warning, critical) {
        if w >= c {
            out.push(
                Diagnostic::new(
                    Code::ThresholdOrder,
                    format!(
                        "warning level of `{}` is not below its critical level",
                        name.value
                    ),
                    ws.span.clone(),
                    "warning",
                )
                .related(cs.span.clone(), "critical")
                .help("the warning level must be lower, so that it fires first"),
            );
        }
    }
    if let Some(f) = &t.for_ {
        duration(f, out);
    }
}

/// Longest PromQL expression plinth parses. The parser recurses once per nesting level, so a
/// deep enough expression (`sum(sum(…))` or `-----…up`, 100,000 levels) overflowed the stack
/// and aborted plinth. 8 KiB bounds the depth well below what even a 1 MiB thread stack holds,
/// and is far longer than any hand-written rule.
const MAX_PROMQL_BYTES: usize = 8 * 1024;

/// Starts promql-parser's one-time set-up on another thread: on first use it decodes its
/// grammar tables and compiles its duration regex, about a sixth of checking an example spec.
/// Started before the spec is read, it runs while the TOML is parsed; the first expression
/// checked then finds it done, or waits for it to finish (both are `OnceLock`s).
pub(crate) fn prepare_promql() {
    // Without a thread (a process limit), the first expression pays the set-up as before.
    let _ = std::thread::Builder::new()
        .name("promql-setup".to_owned())
        .spawn(|| promql_parser::parser::parse("rate(m[5m])").is_ok());
}

/// Reports PromQL that does not parse (E152), or is too long to parse safely (E008).
fn promql(at: &Sp<String>, text: &str, out: &mut Vec<Diagnostic>) {
    if text.len() > MAX_PROMQL_BYTES {
        out.push(
            Diagnostic::new(
                Code::InputLimit,
                format!(
                    "PromQL expression is {} bytes, more than the {MAX_PROMQL_BYTES} plinth parses",
                    text.len()
                ),
                at.span.clone(),
                "too long",
            )
            .help("shorten the expression"),
        );
        return;
    }
    if let Err(e) = promql_parser::parser::parse(text) {
        let first = e.lines().next().unwrap_or("parse error").to_owned();
        out.push(
            Diagnostic::new(
                Code::InvalidPromql,
                "invalid PromQL",
                at.span.clone(),
                first,
            )
            .help("check the expression with the Prometheus expression browser"),
        );
    }
}

/// E152 `invalid-promql` and naming for custom rules.
///
/// Why: Prometheus refuses to load a rule file with one bad expression, which silently drops
/// every alert in it.
fn custom_rule(r: &AlertRule, out: &mut Vec<Diagnostic>) {
    promql(&r.expr, &r.expr.value, out);
    let valid_name = r
        .name
        .value
        .starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && r.name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        out.push(
            Diagnostic::new(
                Code::InvalidName,
                format!("invalid alert name `{}`", r.name.value),
                r.name.span.clone(),
                "not a metric-style name",
            )
            .help("use letters, digits and `_`, e.g. `PaymentFailuresHigh`"),
        );
    }
    if let Some(f) = &r.for_ {
        duration(f, out);
    }
}

/// E155 `invalid-slo`, E152 for SLI queries, E006 for a zero window.
///
/// Why: an objective of 100% has no error budget, so every burn-rate alert divides by zero;
/// a zero window is a zero range, which promtool rejects.
fn invalid_slo(slo: &Slo, out: &mut Vec<Diagnostic>) {
    let objective = slo.objective.value;
    if !(objective > 0.0 && objective < 100.0) {
        // The burn-rate alerts divide by the error budget, `100 - objective`: at 100 there is
        // no budget to burn, and outside (0, 100) the objective is not a percentage at all.
        let (message, label) = if objective >= 100.0 {
            (
                format!("objective {objective}% leaves no error budget"),
                "no failure allowed, so there is no budget to burn",
            )
        } else {
            (
                format!("objective {objective}% is not a percentage above 0"),
                "out of range",
            )
        };
        out.push(
            Diagnostic::new(Code::InvalidSlo, message, slo.objective.span.clone(), label).help(
                "burn-rate alerts measure how fast the error budget (100 minus the objective) \
                 is spent; write the objective as a percentage below 100, e.g. `99.9`",
            ),
        );
    }
    if let Some(w) = &slo.window {
        positive_duration(w, "an SLO's `window`", "30d", out);
    }
    for q in [&slo.good, &slo.total] {
        promql(q, &q.value.replace("{window}", "5m"), out);
        if !q.value.contains("{window}") {
            out.push(
                Diagnostic::new(
                    Code::InvalidSlo,
                    "SLI query has no `{window}`",
                    q.span.clone(),
                    "cannot be evaluated over the burn-rate windows",
                )
                .help(
                    "use `{window}` as the range, e.g. `sum(rate(http_requests_total[{window}]))`",
                ),
            );
        }
    }
}

/// W013 `latency-between-buckets`: a `latency_p95` level of a service that is not a bound
/// of its latency histogram's declared buckets (`buckets`, in the histogram's unit).
///
/// Why: `histogram_quantile` knows only how many requests fell in each bucket and
/// interpolates linearly inside one, so a level between two bounds is compared with a guess:
/// the alert fires early or late by up to the bucket's width. Example: buckets
/// `[0.25, 1]` and a warning at `"500ms"`.
fn latency_between_buckets(spec: &Spec, name: &Sp<String>, s: &Service, out: &mut Vec<Diagnostic>) {
    let Some(m) = &s.metrics else { return };
    let platform = spec.observability.metrics.as_ref();
    let Some(buckets) = m
        .buckets
        .as_ref()
        .or_else(|| platform.and_then(|p| p.buckets.as_ref()))
    else {
        return;
    };
    let per_second = match m
        .latency_unit
        .as_ref()
        .or_else(|| platform.and_then(|p| p.latency_unit.as_ref()))
        .map(|u| u.value)
    {
        Some(LatencyUnit::Milliseconds) => 1000.0,
        _ => 1.0,
    };
    let own = s.thresholds.as_ref().and_then(latency_threshold);
    let global = latency_threshold(&spec.observability.thresholds);
    let levels = [
        own.and_then(|t| t.warning.as_ref())
            .or_else(|| global.and_then(|t| t.warning.as_ref())),
        own.and_then(|t| t.critical.as_ref())
            .or_else(|| global.and_then(|t| t.critical.as_ref())),
    ];
    let bounds: Vec<f64> = buckets.iter().map(|b| b.value).collect();
    for level in levels.into_iter().flatten() {
        let Ok(seconds) = parse_level(&level.value.0, LevelKind::Seconds) else {
            continue;
        };
        let v = seconds * per_second;
        if bounds
            .iter()
            .any(|b| (b - v).abs() <= 1e-9 * b.abs().max(1.0))
        {
            continue;
        }
        let below = bounds
            .iter()
            .copied()
            .filter(|b| *b < v)
            .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b))));
        let above = bounds
            .iter()
            .copied()
            .filter(|b| *b > v)
            .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.min(b))));
        let between = match (below, above) {
            (Some(a), Some(b)) => format!("between the buckets {a} and {b}"),
            (None, Some(b)) => format!("below the first bucket, {b}"),
            (Some(a), None) => format!("above the last bucket, {a}"),
            (None, None) => "with no bucket".to_owned(),
        };
        out.push(
            Diagnostic::new(
                Code::LatencyBetweenBuckets,
                format!(
                    "latency level `{}` of `{}` falls {between} of its histogram",
                    level.value.0, name.value
                ),
                level.span.clone(),
                "the p95 here is interpolated, not measured",
            )
            .help(format!(
                "move the level to a bucket bound, or add a bucket at {v} to the histogram and to `buckets`"
            )),
        );
    }
}

/// E016 `invalid-metric-name`: the request counter and latency histogram must be Prometheus
/// metric names (`[a-zA-Z_:][a-zA-Z0-9_:]*`), the status label a label name
/// (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
///
/// Why: they are written into the generated PromQL as they are; any other character makes
/// the rules file unparsable, or changes what the expression means.
fn metric_names(
    requests: &Option<Sp<String>>,
    status_label: &Option<Sp<String>>,
    latency: &Option<Sp<String>>,
    out: &mut Vec<Diagnostic>,
) {
    for v in [requests, latency].into_iter().flatten() {
        invalid_metric_name(v, out);
    }
    let Some(v) = status_label else { return };
    if name_chars(&v.value, false) && !v.value.starts_with("__") {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::InvalidMetricName,
            format!("`{}` is not a Prometheus label name", v.value),
            v.span.clone(),
            "not allowed here",
        )
        .help("a label name is letters, digits and `_`, not starting with a digit or `__`, e.g. `status`"),
    );
}

/// Whether `text` is made of the characters of a Prometheus name: letters, digits and `_`
/// (and `:` for a metric name), not starting with a digit.
fn name_chars(text: &str, colon: bool) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// E016 `invalid-metric-name` for one name that plinth writes into PromQL or an adapter's
/// series query as it is, so it must be a Prometheus metric name
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`). Shared with the autoscalers' custom metrics.
pub(super) fn invalid_metric_name(v: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if name_chars(&v.value, true) {
        return;
    }
    // Dashes, dots and spaces are the usual slips (a name copied from another system's
    // convention); replacing them by `_` is then the name that was meant.
    let fixed: String = v
        .value
        .chars()
        .map(|c| if matches!(c, '-' | '.' | ' ') { '_' } else { c })
        .collect();
    let help = if name_chars(&fixed, true) {
        format!(
            "a metric name is letters, digits, `_` and `:`, not starting with a digit: `{fixed}`"
        )
    } else {
        "a metric name is letters, digits, `_` and `:`, not starting with a digit, e.g. `http_requests_total`".to_string()
    };
    out.push(
        Diagnostic::new(
            Code::InvalidMetricName,
            format!("`{}` is not a Prometheus metric name", v.value),
            v.span.clone(),
            "not allowed here",
        )
        .help(help),
    );
}

/// The `latency_p95` threshold among `thresholds`.
fn latency_threshold(thresholds: &BTreeMap<Sp<String>, Threshold>) -> Option<&Threshold> {
    thresholds
        .iter()
        .find(|(k, _)| k.value == "latency_p95")
        .map(|(_, t)| t)
}

/// E018 `zero-monitoring-replicas`: `observability.replicas` or
/// `observability.alertmanager.replicas` is 0.
///
/// Why: the alerts plinth generates only work with a Prometheus to evaluate them and an
/// Alertmanager to deliver them. Zero replicas would silently turn alerting off while the
/// rules and routes are still generated and proved; running one anyway would not be what the
/// spec says.
fn zero_monitoring_replicas(o: &Observability, out: &mut Vec<Diagnostic>) {
    let prometheus = o
        .replicas
        .as_ref()
        .map(|r| (r, "observability.replicas", "evaluate"));
    let alertmanager = o
        .alertmanager
        .as_ref()
        .and_then(|a| a.replicas.as_ref())
        .map(|r| (r, "observability.alertmanager.replicas", "deliver"));
    for (replicas, key, what) in prometheus.into_iter().chain(alertmanager) {
        if replicas.value != 0 {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::ZeroMonitoringReplicas,
                format!("`{key}` is 0: nothing would {what} the generated alerts"),
                replicas.span.clone(),
                "zero replicas",
            )
            .help(format!(
                "set `{key}` to 1 or more, or leave it out for one replica"
            )),
        );
    }
}

/// W016 `repeat-beyond-retention`: `alerting.repeat_interval` longer than Alertmanager's
/// retention (`observability.alertmanager.retention`, 120h by default).
///
/// Why: Alertmanager decides whether to repeat a notification from its notification log,
/// whose entries expire after the retention. Once the entry of a still-firing alert is gone,
/// the alert is notified again as if new, so a week's `repeat_interval` over the default 120h
/// repeats every five days, and the spec's interval is silently not what happens.
fn repeat_beyond_retention(a: &Alerting, am: Option<&AlertmanagerSize>, out: &mut Vec<Diagnostic>) {
    let Some(repeat) = &a.repeat_interval else {
        return;
    };
    let Ok(repeat_ms) = units::parse_duration(&repeat.value) else {
        return;
    };
    let retention = am.and_then(|a| a.retention.as_ref());
    let kept = match retention {
        Some(r) => match units::parse_duration(&r.value) {
            Ok(ms) => ms,
            Err(_) => return,
        },
        None => units::ALERTMANAGER_RETENTION_MS,
    };
    // A duration out of range is reported as such by `duration`; compared here it would
    // only add a consequence of that error.
    if repeat_ms <= kept || repeat_ms > units::MAX_DURATION_MS {
        return;
    }
    let kept_text = retention.map_or_else(|| units::format_go_duration(kept), |r| r.value.clone());
    let mut d = Diagnostic::new(
        Code::RepeatBeyondRetention,
        format!(
            "repeat interval {} is longer than Alertmanager's retention {kept_text}",
            repeat.value
        ),
        repeat.span.clone(),
        "longer than Alertmanager remembers a notification",
    )
    .help(format!(
        "set `observability.alertmanager.retention` to at least `{}`, or shorten `repeat_interval`; \
         otherwise a firing alert is notified again every {kept_text}",
        repeat.value
    ));
    if let Some(r) = retention {
        d = d.related(
            r.span.clone(),
            "Alertmanager keeps its notification log this long",
        );
    }
    out.push(d);
}

/// E015 `slo-beyond-retention`: an SLO window longer than `observability.retention`.
///
/// Why: the SLO's ratio over its window, and with it the error budget left, is averaged
/// from samples Prometheus must still hold; with a shorter retention the oldest part of the
/// window is gone, and the budget silently covers less time than the objective promises.
/// Without a retention of its own, Prometheus keeps the longest SLO window.
fn slo_beyond_retention(o: &Observability, slo: &Slo, out: &mut Vec<Diagnostic>) {
    let Some(retention) = &o.retention else {
        return;
    };
    let Ok(kept) = units::parse_duration(&retention.value) else {
        return;
    };
    let window = match &slo.window {
        Some(w) => match units::parse_duration(&w.value) {
            Ok(ms) => ms,
            Err(_) => return,
        },
        None => units::SLO_WINDOW_MS,
    };
    // A duration out of range is reported as such by `duration`; compared here it would
    // only add a consequence of that error.
    if window <= kept || window > units::MAX_DURATION_MS || kept > units::MAX_DURATION_MS {
        return;
    }
    let window_text = units::format_duration(window);
    let (span, label) = match &slo.window {
        Some(w) => (w.span.clone(), "longer than the retention"),
        None => (
            slo.objective.span.clone(),
            "over the default window of 30 days, longer than the retention",
        ),
    };
    out.push(
        Diagnostic::new(
            Code::SloBeyondRetention,
            format!(
                "SLO window {window_text} is longer than the metrics retention {}",
                retention.value
            ),
            span,
            label,
        )
        .related(retention.span.clone(), "Prometheus keeps metrics this long")
        .help(format!(
            "set `observability.retention` to at least `{window_text}`, or shorten the SLO's `window`"
        )),
    );
}

/// Status labels in use by common instrumentation libraries: a matcher on one of them in an
/// SLO query means the status, whichever the service's convention calls it.
const STATUS_LABELS: [&str; 3] = ["code", "status", "status_code"];

/// The latency histograms of the two conventions plinth knows.
const LATENCY_HISTOGRAMS: [&str; 2] = [
    "http_request_duration_seconds",
    "http_request_duration_milliseconds",
];

/// W014 `slo-query-names`: an SLO query that selects its service's request counter by a
/// status label other than the one its metric conventions name, or reads a conventional
/// latency histogram other than the service's.
///
/// Why: the threshold alerts read the names of `observability.metrics` (or the service's
/// `metrics`), but an SLO query is written by hand. `code!~"5.."` on a counter labelled
/// `status` matches every request, so the SLO reports no errors at all; a `_seconds`
/// histogram that the service does not have leaves the SLI empty. Example: CodePal labels
/// its status `status`, and an SLO filtering `code` would never burn.
fn slo_query_names(spec: &Spec, slo: &Slo, out: &mut Vec<Diagnostic>) {
    let service = spec
        .services
        .iter()
        .find(|(k, _)| k.value == slo.service.value)
        .map(|(_, s)| s);
    let own = service.and_then(|s| s.metrics.as_ref());
    let platform = spec.observability.metrics.as_ref();
    let pick = |o: Option<&Sp<String>>, p: Option<&Sp<String>>, default: &str| {
        o.or(p)
            .map_or_else(|| default.to_owned(), |v| v.value.clone())
    };
    let requests = pick(
        own.and_then(|m| m.requests.as_ref()),
        platform.and_then(|p| p.requests.as_ref()),
        "http_requests_total",
    );
    let status = pick(
        own.and_then(|m| m.status_label.as_ref()),
        platform.and_then(|p| p.status_label.as_ref()),
        "code",
    );
    let unit = own
        .and_then(|m| m.latency_unit.as_ref())
        .or_else(|| platform.and_then(|p| p.latency_unit.as_ref()))
        .map(|u| u.value);
    let latency = pick(
        own.and_then(|m| m.latency.as_ref()),
        platform.and_then(|p| p.latency.as_ref()),
        match unit {
            Some(LatencyUnit::Milliseconds) => LATENCY_HISTOGRAMS[1],
            _ => LATENCY_HISTOGRAMS[0],
        },
    );
    for q in [&slo.good, &slo.total] {
        let text = q.value.replace("{window}", "5m");
        if text.len() > MAX_PROMQL_BYTES {
            continue;
        }
        let Ok(expr) = promql_parser::parser::parse(&text) else {
            continue;
        };
        let mut selectors = Selectors(Vec::new());
        let _ = promql_parser::util::walk_expr(&mut selectors, &expr);
        for (name, labels) in selectors.0 {
            let problem = if name == requests {
                labels
                    .iter()
                    .find(|l| STATUS_LABELS.contains(&l.as_str()) && **l != status)
                    .map(|l| {
                        format!(
                            "SLO `{}` filters `{requests}` by `{l}`, but `{}` labels its status `{status}`",
                            slo.service.value, slo.service.value
                        )
                    })
            } else {
                LATENCY_HISTOGRAMS
                    .iter()
                    .find(|h| {
                        **h != latency
                            && ["_bucket", "_count", "_sum"]
                                .iter()
                                .any(|s| name.strip_suffix(s) == Some(**h))
                    })
                    .map(|_| {
                        format!(
                            "SLO on `{}` reads `{name}`, but its latency histogram is `{latency}`",
                            slo.service.value
                        )
                    })
            };
            let Some(message) = problem else { continue };
            out.push(
                Diagnostic::new(Code::SloQueryNames, message, q.span.clone(), "this query")
                    .help(format!(
                        "use the names of `observability.metrics` (or the service's `metrics`): counter `{requests}` with status label `{status}`, histogram `{latency}`; or change those to what the service exports"
                    )),
            );
            break;
        }
    }
}

/// The metric name and label names of every selector of an expression.
struct Selectors(Vec<(String, Vec<String>)>);

impl promql_parser::util::ExprVisitor for Selectors {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &promql_parser::parser::Expr) -> Result<bool, Self::Error> {
        use promql_parser::parser::Expr;
        let vs = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        let labels = vs
            .matchers
            .matchers
            .iter()
            .chain(vs.matchers.or_matchers.iter().flatten())
            .map(|m| m.name.clone())
            .collect();
        self.0.push((vs.name.clone().unwrap_or_default(), labels));
        Ok(true)
    }
}

/// E153 `receiver-config`: each receiver type needs its fields and no others.
///
/// Why: Alertmanager rejects a Slack receiver without a URL; a field for another type is a
/// sign of a copy-paste mistake and would be ignored.
fn receiver_config(name: &Sp<String>, r: &Receiver, out: &mut Vec<Diagnostic>) {
    let has: BTreeMap<&str, bool> = [
        ("routing_key", r.routing_key.is_some()),
        ("webhook_url", r.webhook_url.is_some()),
        ("channel", r.channel.is_some()),
        ("to", r.to.is_some()),
        ("from", r.from.is_some()),
        ("smarthost", r.smarthost.is_some()),
        ("password", r.password.is_some()),
        ("url", r.url.is_some()),
    ]
    .into_iter()
    .collect();
    let (needs, allows): (&[&str], &[&str]) = match r.kind.value {
        ReceiverKind::Pagerduty => (&["routing_key"], &["routing_key"]),
        ReceiverKind::Slack => (&["webhook_url", "channel"], &["webhook_url", "channel"]),
        ReceiverKind::Email => (
            &["to", "from", "smarthost"],
            &["to", "from", "smarthost", "password"],
        ),
        ReceiverKind::Webhook => (&["url"], &["url"]),
    };
    for n in needs {
        if !has[n] {
            out.push(
                Diagnostic::new(
                    Code::ReceiverConfig,
                    format!("receiver `{}` needs `{n}`", name.value),
                    r.kind.span.clone(),
                    "this receiver type",
                )
                .help(format!("add `{n}` to `alerting.receivers.{}`", name.value)),
            );
        }
    }
    for (field, set) in &has {
        if *set && !allows.contains(field) {
            out.push(
                Diagnostic::new(
                    Code::ReceiverConfig,
                    format!("receiver `{}` does not use `{field}`", name.value),
                    r.kind.span.clone(),
                    "this receiver type",
                )
                .help(format!("remove `{field}`")),
            );
        }
    }
    if let Some(c) = &r.channel {
        if !c.value.starts_with('#') && !c.value.starts_with('@') {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "Slack channel must start with `#` or `@`",
                    c.span.clone(),
                    "not a channel",
                )
                .help(format!("write `\"#{}\"`", c.value)),
            );
        }
    }
}

/// W043 `route-matches-nothing`: a route matcher on a label whose every value plinth knows,
/// with a value no alert carries: `severity` other than `critical`, `warning`, `info` (custom
/// rules) and `none` (kube-prometheus-stack's own `Watchdog`), `environment` other than an
/// environment of the spec (Prometheus's external label), `team` other than a team the spec
/// names. Reported once at the value, with the nearest known value.
///
/// Why: Alertmanager matches labels exactly, so a route on `severity = "crit"` never
/// matches: the alerts it was written for fall through to the default receiver, and the
/// pager it names stays silent. Other labels (`service`, `alertname`) are left alone:
/// kube-prometheus-stack's own alerts carry values plinth does not know.
///
/// Example: `routes = [{ match = { severity = "crit" }, receiver = "pagerduty" }]`.
fn route_matches_nothing(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let spec = ctx.spec;
    let envs: Vec<&str> = spec.environments.keys().map(|e| e.value.as_str()).collect();
    let mut teams: Vec<&str> = spec
        .platform
        .team
        .iter()
        .map(|t| t.value.as_str())
        .collect();
    for view in ctx.views {
        teams.extend(
            view.services
                .values()
                .filter_map(|s| s.team.as_ref())
                .map(|t| t.value.as_str()),
        );
    }
    let severities = ["critical", "warning", "info", "none"];
    let mut seen = std::collections::BTreeSet::new();
    for view in ctx.views {
        for route in &view.alerting.routes {
            for (label, value) in &route.matchers {
                let known: &[&str] = match label.value.as_str() {
                    "severity" => &severities,
                    // A spec without environments names its alerts' environment itself.
                    "environment" if !envs.is_empty() => &envs,
                    "team" => &teams,
                    _ => continue,
                };
                let span = &value.span;
                if known.contains(&value.value.as_str())
                    || !seen.insert((span.source.0, span.range.start, span.range.end))
                {
                    continue;
                }
                let help = match crate::diag::did_you_mean(&value.value, known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if known.is_empty() => format!("no alert carries a `{}` label: name a team with `platform.team` or a service's `team`", label.value),
                    None => format!("the alerts' `{}` values are {}", label.value, super::stores::quoted(known)),
                };
                out.push(
                    Diagnostic::new(
                        Code::RouteMatchesNothing,
                        format!(
                            "the route to `{}` matches no alert: no alert has `{} = \"{}\"`",
                            route.receiver.value, label.value, value.value
                        ),
                        span.clone(),
                        "no alert carries this value",
                    )
                    .help(help),
                );
            }
        }
    }
}

/// W044 `unused-receiver`: a receiver that neither `default_receiver` nor any route of any
/// environment names.
///
/// Why: a receiver nothing routes to never notifies; it is usually the pager a misspelt or
/// deleted route was meant for, and its credentials are still fetched and mounted for
/// nothing. Not reported while a route names a receiver that does not exist (E102): that
/// name is the cause.
///
/// Example: `receivers.pagerduty` with every route naming `slack`.
fn unused_receivers(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut used = std::collections::BTreeSet::new();
    for view in ctx.views {
        let a = &view.alerting;
        let names = a
            .default_receiver
            .iter()
            .chain(a.routes.iter().map(|r| &r.receiver));
        for name in names {
            // A name that is no receiver (E102) is most likely the unused one, misspelt:
            // the cause is reported, not this consequence.
            if !a.receivers.contains_key(name.value.as_str()) {
                return;
            }
            used.insert(name.value.as_str());
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for view in ctx.views {
        for name in view.alerting.receivers.keys() {
            let span = &name.span;
            if used.contains(name.value.as_str())
                || !seen.insert((span.source.0, span.range.start, span.range.end))
            {
                continue;
            }
            out.push(
                Diagnostic::new(
                    Code::UnusedReceiver,
                    format!("receiver `{}` receives no alert: no route and no `default_receiver` names it", name.value),
                    span.clone(),
                    "never used",
                )
                .help("route alerts to it (`routes = [{ match = { severity = \"critical\" }, receiver = \"…\" }]`) or remove it"),
            );
        }
    }
}

/// E151 `unrouted-severity`, W003 `no-alert-routes`.
///
/// Why: an alert that reaches no receiver is an outage nobody hears about. Every alert plinth
/// generates has known labels (severity, service, team, environment), so routing can be
/// proven at compile time: each must match a route or fall to a default receiver. This rule
/// over-approximates on the spec (every service may raise both severities); the Alertmanager
/// target proves it again, exactly, on the alerts it routes.
fn unrouted_severity(
    ctx: &Ctx,
    view: &crate::spec::Resolved,
    unrouted: &mut Unrouted,
    out: &mut Vec<Diagnostic>,
) {
    let spec = ctx.spec;
    let alerting = &view.alerting;
    if alerting.default_receiver.is_some() {
        return;
    }
    let platform_team = spec.platform.team.as_ref().map(|t| t.value.clone());
    // Every alert source with its labels and the span that defines its severity.
    let mut alerts: Vec<(BTreeMap<&str, String>, crate::source::Span, String)> = Vec::new();
    let mut add = |labels: BTreeMap<&'static str, String>,
                   span: crate::source::Span,
                   what: String| alerts.push((labels, span, what));
    {
        // Alerts carry their environment, so routes may match on it; a spec without
        // environments gets a default name that routes cannot know, so it is left out.
        let env = view.env.as_ref().map(|e| e.value.clone());
        let base = |mut l: BTreeMap<&'static str, String>, team: &Option<String>| {
            if let Some(t) = team {
                l.insert("team", t.clone());
            }
            if let Some(e) = &env {
                l.insert("environment", e.clone());
            }
            l
        };
        for (name, s) in &view.services {
            let team = s
                .team
                .as_ref()
                .map(|t| t.value.clone())
                .or(platform_team.clone());
            for sev in ["critical", "warning"] {
                let l = BTreeMap::from([
                    ("severity", sev.to_owned()),
                    ("service", name.value.clone()),
                ]);
                add(
                    base(l, &team),
                    name.span.clone(),
                    format!("{sev} alerts of service `{}`", name.value),
                );
            }
        }
        for name in view.datastores.keys() {
            for sev in ["critical", "warning"] {
                let l = BTreeMap::from([
                    ("severity", sev.to_owned()),
                    ("service", name.value.clone()),
                ]);
                add(
                    base(l, &platform_team),
                    name.span.clone(),
                    format!("{sev} alerts of data store `{}`", name.value),
                );
            }
        }
        for r in &spec.observability.rules {
            let sev = match r.severity.value {
                SeverityLevel::Critical => "critical",
                SeverityLevel::Warning => "warning",
                SeverityLevel::Info => "info",
            };
            let l = BTreeMap::from([
                ("severity", sev.to_owned()),
                ("alertname", r.name.value.clone()),
            ]);
            let team = r
                .team
                .as_ref()
                .map(|t| t.value.clone())
                .or(platform_team.clone());
            add(
                base(l, &team),
                r.severity.span.clone(),
                format!("the alerts of rule `{}`", r.name.value),
            );
        }
    }
    if alerts.is_empty() {
        return;
    }
    if alerting.receivers.is_empty() {
        // Said once, however many environments lack receivers.
        if !std::mem::replace(&mut unrouted.no_receivers, true) {
            out.push(
                Diagnostic::global(Code::NoRoutes, "alerts are generated but no receiver is configured")
                    .help("add `[alerting.receivers.NAME]` and `alerting.default_receiver`, or routes by severity"),
            );
        }
        return;
    }
    let env = view.env.as_ref().map(|e| e.value.as_str());
    for (labels, span, what) in alerts {
        let routed = alerting.routes.iter().any(|r| {
            r.matchers
                .iter()
                .all(|(k, v)| labels.get(k.value.as_str()) == Some(&v.value))
        });
        if !routed {
            unrouted.add(&labels["severity"], span, what, env);
        }
    }
}

/// An unrouted alert source: where it is written, what raises the alerts, and the
/// environments in which no route catches them.
type UnroutedSource = (crate::source::Span, String, Vec<String>);

/// The unrouted alert sources of every environment, each once with the environments it is
/// unrouted in: the same service is usually unrouted everywhere, and one error per
/// environment at the same name buried the others.
#[derive(Default)]
struct Unrouted {
    /// By severity and place: the place, what raises them, and the environments.
    found: BTreeMap<(String, u32, usize, usize), UnroutedSource>,
    /// Whether W003 (no receiver at all) was said.
    no_receivers: bool,
}

impl Unrouted {
    /// Records that `what`, at `span`, raises `severity` alerts no route catches in `env`.
    fn add(&mut self, severity: &str, span: crate::source::Span, what: String, env: Option<&str>) {
        let key = (
            severity.to_owned(),
            span.source.0,
            span.range.start,
            span.range.end,
        );
        let entry = self
            .found
            .entry(key)
            .or_insert_with(|| (span, what, Vec::new()));
        if let Some(e) = env.filter(|e| !entry.2.iter().any(|x| x == e)) {
            entry.2.push(e.to_owned());
        }
    }

    /// One E151 per unrouted source and severity, naming its environments.
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.found
            .into_iter()
            .map(|((sev, ..), (span, what, envs))| {
                let r#where = match envs.as_slice() {
                    [] => String::new(),
                    [one] => format!(" in environment `{one}`"),
                    many => format!(
                        " in environments {}",
                        many.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
                    ),
                };
                Diagnostic::new(
                    Code::UnroutedSeverity,
                    format!("{what}{where} reach no receiver"),
                    span,
                    format!("raises `severity = \"{sev}\"` alerts"),
                )
                .help(format!("add a route with `match = {{ severity = \"{sev}\" }}` or set `alerting.default_receiver`"))
            })
            .collect()
    }
}
