//! SLOs: recording rules for the SLI error ratio and multi-window, multi-burn-rate alerts.
//!
//! The windows and burn rates are those of Google's SRE workbook ("Alerting on SLOs", table
//! 5-8), as Sloth and Pyrra generate them: page when 2% of a 30-day budget burns in an hour
//! (14.4×) or 5% in six hours (6×), open a ticket when 10% burns in a day (3×) or in three
//! days (1×). Each long window is paired with a short one, a twelfth of it, so that an alert
//! stops soon after the burning does.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::catalogue::{annotations, Alert, Group, Record, Rule};
use super::signals::{num, selector};
use crate::emit::gotmpl;
use crate::ir::{self, naming, Environment, SeverityLevel};
use crate::units::format_duration;

/// One burn-rate condition: the long and short windows and the burn rate both must exceed.
pub(crate) struct Burn {
    /// The long window.
    pub long: &'static str,
    /// The short window.
    pub short: &'static str,
    /// The burn rate both windows must exceed.
    pub factor: f64,
}

/// Page: a fast burn that exhausts the budget in days.
pub(crate) const PAGE: [Burn; 2] = [
    Burn {
        long: "1h",
        short: "5m",
        factor: 14.4,
    },
    Burn {
        long: "6h",
        short: "30m",
        factor: 6.0,
    },
];

/// Ticket: a slow burn that exhausts the budget before the window ends.
pub(crate) const TICKET: [Burn; 2] = [
    Burn {
        long: "1d",
        short: "2h",
        factor: 3.0,
    },
    Burn {
        long: "3d",
        short: "6h",
        factor: 1.0,
    },
];

/// Every window an SLI ratio is recorded over.
const WINDOWS: [&str; 7] = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];

/// The rule group of one SLO; `service_team` is the team of the SLO's service, if it has one.
pub(crate) fn group(
    platform: &ir::Platform,
    env: &Environment,
    slo: &ir::Slo,
    service_team: Option<&str>,
) -> Group {
    let labels = BTreeMap::from([
        (naming::alert_label::SLO.to_owned(), slo.name.clone()),
        (naming::alert_label::SERVICE.to_owned(), slo.service.clone()),
    ]);
    let sel: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let budget = num(1.0 - slo.objective);
    let record = |record: String, expr: String| {
        Rule::Record(Record {
            record,
            expr,
            labels: labels.clone(),
        })
    };
    let mut rules: Vec<Rule> = WINDOWS
        .iter()
        .map(|w| {
            record(
                naming::slo_error_ratio_record(w),
                format!(
                    "1 - (\n  {}\n)\n/ (\n  {}\n)",
                    slo.good.replace("{window}", w),
                    slo.total.replace("{window}", w)
                ),
            )
        })
        .collect();
    rules.push(record(
        naming::SLO_OBJECTIVE_RECORD.to_owned(),
        format!("vector({})", num(slo.objective)),
    ));
    rules.push(record(
        naming::SLO_ERROR_BUDGET_RECORD.to_owned(),
        format!("vector({budget})"),
    ));
    let period = format_duration(slo.window_ms);
    // The period's ratio is averaged from the 5-minute one, as Sloth does, rather than
    // evaluating the SLI over 30 days at every rule evaluation.
    let period_record = naming::slo_error_ratio_record(&period);
    if !WINDOWS.contains(&period.as_str()) {
        rules.push(record(
            period_record.clone(),
            format!(
                "avg_over_time({}[{period}])",
                selector(&naming::slo_error_ratio_record("5m"), &sel)
            ),
        ));
    }
    rules.push(record(
        naming::SLO_BUDGET_REMAINING_RECORD.to_owned(),
        format!(
            "1 - {}\n  / on (slo, service) group_left ()\n  {}",
            selector(&period_record, &sel),
            selector(naming::SLO_ERROR_BUDGET_RECORD, &sel)
        ),
    ));
    let team = service_team.or(env.team.as_deref());
    for (severity, burns, speed) in [
        (SeverityLevel::Critical, &PAGE, "fast"),
        (SeverityLevel::Warning, &TICKET, "steadily"),
    ] {
        let condition = |b: &Burn| {
            let over = |w: &str| {
                format!(
                    "max({}) > ({} * {budget})",
                    selector(&naming::slo_error_ratio_record(w), &sel),
                    num(b.factor)
                )
            };
            format!("(\n  {}\n  and\n  {}\n)", over(b.long), over(b.short))
        };
        let expr = burns
            .iter()
            .map(condition)
            .collect::<Vec<_>>()
            .join("\nor\n");
        let mut labels = naming::alert_labels(env, Some(&slo.service), team, severity);
        labels.insert(naming::alert_label::SLO.to_owned(), slo.name.clone());
        let objective = num(slo.objective * 100.0);
        let [a, b] = burns;
        // At the slower of the two rates the whole budget lasts `window / factor`.
        let exhaustion =
            format_duration((slo.window_ms as f64 / b.factor) as u64 / 60_000 * 60_000);
        let description = format!(
            "{}The error budget of the {objective}% objective over {period} burns at more than {}× the sustainable rate over {} (and {}), or {}× over {} (and {}); at {}× it is gone in {exhaustion}.",
            slo.description
                .as_ref()
                .map(|d| format!("{}. ", gotmpl::literal(d)))
                .unwrap_or_default(),
            num(a.factor),
            a.long,
            a.short,
            num(b.factor),
            b.long,
            b.short,
            num(b.factor),
        );
        rules.push(Rule::Alert(Arc::new(Alert {
            name: naming::ALERT_ERROR_BUDGET_BURN.to_owned(),
            expr,
            for_ms: 0,
            annotations: annotations(
                env,
                naming::ALERT_ERROR_BUDGET_BURN,
                format!(
                    "SLO {} of {} burns its error budget {speed}",
                    slo.name, slo.service
                ),
                description,
            ),
            labels,
        })));
    }
    Group {
        name: naming::slo_rule_group(&platform.name, &slo.name),
        rules,
    }
}
