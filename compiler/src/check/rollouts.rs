//! Progressive delivery (`rollout.strategy = "canary" | "blue-green"`): the keys each
//! strategy reads, the canary's steps, the workloads an Argo Rollouts `Rollout` can replace,
//! and the environments (Compose) that do not model it.

use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::spec::{Rollout, RolloutStrategy, ServiceKind, Sp};

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let local = view
            .env
            .as_ref()
            .and_then(|e| ctx.spec.environments.get(e.value.as_str()))
            .and_then(|e| e.local.as_ref())
            .is_some_and(|l| l.value);
        for s in view.services.values() {
            let Some(r) = &s.rollout else { continue };
            let kind = s.kind.as_ref().map_or(ServiceKind::Web, |k| k.value);
            let strategy = r.strategy.as_ref();
            if let Some(st) = strategy.filter(|s| s.value != RolloutStrategy::Rolling) {
                strategy_on_kind(st, kind, &mut found);
                if local {
                    strategy_not_modelled(st, view.env.as_ref(), &mut found);
                }
            }
            key_for_other_strategy(r, &mut found);
            canary_weights(r, &mut found);
            pauses(r, &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// E220 `rollout-strategy-kind`: `strategy = "canary"` or `"blue-green"` on a workload that
/// is not a web service or a worker (`cron`, `job`, `stateful`).
///
/// Why: an Argo Rollouts `Rollout` replaces a Deployment; a CronJob or Job has no running
/// version to shift traffic from, and a StatefulSet's pods own their volumes, so two
/// versions cannot run side by side. plinth would have to ignore the strategy.
///
/// Example: `kind = "cron"` with `rollout = { strategy = "canary" }`.
fn strategy_on_kind(s: &Sp<RolloutStrategy>, kind: ServiceKind, out: &mut Vec<Diagnostic>) {
    let kind = match kind {
        ServiceKind::Web | ServiceKind::Worker => return,
        ServiceKind::Cron => "cron",
        ServiceKind::Job => "job",
        ServiceKind::Stateful => "stateful",
    };
    out.push(
        Diagnostic::new(
            Code::RolloutStrategyKind,
            format!("a `{kind}` workload cannot be updated progressively"),
            s.span.clone(),
            "only web services and workers",
        )
        .help("remove `rollout.strategy`, or make the workload `kind = \"web\"` or `\"worker\"`"),
    );
}

/// E221 `rollout-key-for-strategy`: a `rollout` key the chosen strategy does not read:
/// `steps` without `strategy = "canary"`, `auto_promote` or `scale_down_delay` without
/// `"blue-green"`, `max_surge`/`max_unavailable` with `"blue-green"`.
///
/// Why: the key would be dropped without a word; a reader of the spec would believe the
/// canary pauses, or the blue-green update surges, when nothing does.
///
/// Example: `rollout = { strategy = "blue-green", steps = [{ weight = 10 }] }`.
fn key_for_other_strategy(r: &Rollout, out: &mut Vec<Diagnostic>) {
    let strategy = r
        .strategy
        .as_ref()
        .map_or(RolloutStrategy::Rolling, |s| s.value);
    let name = match strategy {
        RolloutStrategy::Rolling => "rolling",
        RolloutStrategy::Canary => "canary",
        RolloutStrategy::BlueGreen => "blue-green",
    };
    let mut unread = |key: &str, span: Option<crate::source::Span>, reads: &str| {
        if let Some(span) = span {
            out.push(
                Diagnostic::new(
                    Code::RolloutKeyForStrategy,
                    format!("a {name} update does not read `rollout.{key}`"),
                    span,
                    format!("only for {reads}"),
                )
                .help(format!(
                    "remove `{key}`, or set `strategy = \"{}\"`",
                    reads.split(' ').next().unwrap_or(reads)
                )),
            );
        }
    };
    let first_step = r
        .steps
        .as_ref()
        .and_then(|s| s.first())
        .map(|s| s.weight.span.clone());
    if strategy != RolloutStrategy::Canary {
        unread("steps", first_step, "canary updates");
    }
    if strategy != RolloutStrategy::BlueGreen {
        unread(
            "auto_promote",
            r.auto_promote.as_ref().map(|a| a.span.clone()),
            "blue-green updates",
        );
        unread(
            "scale_down_delay",
            r.scale_down_delay.as_ref().map(|a| a.span.clone()),
            "blue-green updates",
        );
    } else {
        let both = "rolling and canary updates";
        unread(
            "max_surge",
            r.max_surge.as_ref().map(|a| a.span.clone()),
            both,
        );
        unread(
            "max_unavailable",
            r.max_unavailable.as_ref().map(|a| a.span.clone()),
            both,
        );
    }
}

/// E222 `canary-weights`: a canary step whose weight is not between 1 and 100, or not
/// above the step before it.
///
/// Why: Argo Rollouts sets the weights in order; a weight that goes down sends traffic back
/// to the old version in the middle of an update, and one above 100 is refused by the
/// traffic router. A canary reaches 100% when its last step is done, so a step may stop
/// short of it.
///
/// Example: `steps = [{ weight = 50 }, { weight = 20 }]`.
fn canary_weights(r: &Rollout, out: &mut Vec<Diagnostic>) {
    let mut last: Option<(i64, &Sp<i64>)> = None;
    for step in r.steps.iter().flatten() {
        let w = &step.weight;
        if !(1..=100).contains(&w.value) {
            out.push(
                Diagnostic::new(
                    Code::CanaryWeights,
                    format!("a canary weight of {}%", w.value),
                    w.span.clone(),
                    "not between 1 and 100",
                )
                .help("a weight is the canary's share of traffic in percent, 1 to 100"),
            );
        } else if let Some((before, at)) = last.filter(|(before, _)| w.value <= *before) {
            out.push(
                Diagnostic::new(
                    Code::CanaryWeights,
                    format!("canary weights must increase: {}% after {before}%", w.value),
                    w.span.clone(),
                    "not above the step before",
                )
                .related(at.span.clone(), "the step before")
                .help(
                    "order the steps by increasing weight; the canary is promoted after the last",
                ),
            );
        }
        if (1..=100).contains(&w.value) {
            last = Some((w.value, w));
        }
    }
}

/// E132 `malformed-duration`: a canary step's `pause` that is neither a duration nor
/// `"manual"`, or a malformed `scale_down_delay`.
///
/// Why: Argo Rollouts would refuse the Rollout at apply time, or, worse, a typo in `manual`
/// would read as no pause at all.
///
/// Example: `steps = [{ weight = 10, pause = "five minutes" }]`.
fn pauses(r: &Rollout, out: &mut Vec<Diagnostic>) {
    for p in r.steps.iter().flatten().filter_map(|s| s.pause.as_ref()) {
        if p.value != "manual" && crate::units::parse_duration(&p.value).is_err() {
            out.push(
                Diagnostic::new(
                    Code::MalformedDuration,
                    "malformed pause",
                    p.span.clone(),
                    "neither a duration nor `manual`",
                )
                .help("write a duration such as `\"5m\"`, or `\"manual\"` to wait for `kubectl argo rollouts promote`"),
            );
        }
    }
    if let Some(d) = &r.scale_down_delay {
        super::workload::duration(d, out);
    }
}

/// W025 `rollout-not-modelled`: `strategy = "canary"` or `"blue-green"` in the local
/// environment, which runs on Docker Compose.
///
/// Why: Compose replaces a service's containers in place; it has no second version, no
/// traffic weights and no analysis. The local environment runs the service as usual, and
/// the spec's reader should know the strategy only applies in the clusters.
///
/// Example: `[environments.dev] local = true` with a service whose `rollout.strategy =
/// "canary"`.
fn strategy_not_modelled(
    s: &Sp<RolloutStrategy>,
    env: Option<&Sp<String>>,
    out: &mut Vec<Diagnostic>,
) {
    let env = env.map_or(String::new(), |e| format!(" in `{}`", e.value));
    out.push(
        Diagnostic::new(
            Code::RolloutNotModelled,
            format!("Compose does not model progressive delivery{env}: the service is replaced in place"),
            s.span.clone(),
            "no canary or blue-green in Compose",
        )
        .help("allow W025 if the local environment needs no canary, or set the strategy in the cluster environments only"),
    );
}
