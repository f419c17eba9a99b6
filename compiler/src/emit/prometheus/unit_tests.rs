//! promtool unit tests for the threshold alerts.
//!
//! For each level (warning, then critical) two test groups feed every threshold of the
//! environment at once: one with input series that put each threshold's value just above
//! that level, one just below it. The expected alerts are computed, not assumed: a value just
//! above the warning level may also be above the critical one, and then both fire. For each
//! alert name the tests check the evaluation just before an alert starts firing (it must
//! still be pending: this is what proves `for:`), the one at which it starts, and the one by
//! which every rate window and `for:` has passed; each with the full labels and annotations
//! of exactly the alerts that fire then.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Serialize;
use serde_saphyr::SingleQuoted;

use super::catalogue::{value_template, value_text, Alert, Catalogue, Family, Pack};
use super::signals::{num, Drive, Input, Signal};
use crate::emit::gotmpl;
use crate::ir::{naming, SeverityLevel};
use crate::units::format_duration;

/// Spacing of input samples and of rule evaluations in the tests.
const STEP_MS: u64 = 60_000;

/// A promtool test file.
#[derive(Serialize)]
pub(super) struct TestFile<'a> {
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestGroup<'a>>,
}

#[derive(Serialize)]
struct TestGroup<'a> {
    name: String,
    interval: String,
    input_series: Vec<Series>,
    alert_rule_test: Vec<AlertTest<'a>>,
}

/// An input series, quoted the way promtool's documentation writes them.
#[derive(Serialize)]
struct Series {
    series: SingleQuoted<String>,
    values: SingleQuoted<String>,
}

#[derive(Serialize)]
struct AlertTest<'a> {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<Shared<ExpAlert<'a>>>,
}

#[derive(Serialize)]
struct ExpAlert<'a> {
    /// The alert's own labels, borrowed from the catalogue.
    exp_labels: &'a BTreeMap<String, String>,
    exp_annotations: BTreeMap<&'a str, String>,
}

/// A value written in several places of the file, built and held once: an expected alert
/// appears in every check from the time it fires on (two or three per group), and at 1,000
/// services the copies were most of the test file's memory.
struct Shared<T>(Rc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Rc::clone(&self.0))
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// An alert that fires: the earliest and latest evaluation at which it starts, and how it
/// looks then.
type Firing<'a> = ((u64, u64), Shared<ExpAlert<'a>>);

/// Rounds up to two decimals, ignoring floating-point noise below them.
fn ceil2(x: f64) -> f64 {
    (x * 100.0 - 1e-6).ceil() / 100.0
}

/// Rounds down to two decimals, ignoring floating-point noise below them.
fn floor2(x: f64) -> f64 {
    (x * 100.0 + 1e-6).floor() / 100.0
}

/// A value just above (`above`) or just below a level, with at most two decimals so that the
/// annotation prints it exactly, or `None` when the signal cannot take such a value (an error
/// rate above 100%).
fn near(f: &Family, level: f64, above: bool) -> Option<f64> {
    let delta = (level.abs() * 0.05).max(0.01);
    let (lo, hi) = f.signal.bounds();
    if above {
        let v = ceil2(level + delta);
        (hi.is_none_or(|h| v <= h)).then_some(v)
    } else {
        let v = floor2(level - delta);
        match lo {
            // At the lower bound "just below" is the bound itself, still not above the level.
            Some(lo) if v < lo => (level >= lo).then_some(lo),
            _ => Some(v),
        }
    }
}

/// When an alert whose expression is true from evaluation `active` on (and stays true) fires:
/// at the first evaluation at least `for:` later.
fn fire_time(active: u64, for_ms: u64) -> u64 {
    active + for_ms.div_ceil(STEP_MS) * STEP_MS
}

/// When a family's alert with `level` fires when fed `value`: `None` if never, else the
/// earliest and latest evaluation at which it may first fire (equal unless floating-point
/// noise makes one evaluation of a ramp too close to the level to call).
///
/// A gauge holds its value from the first sample. A ratio of two rates over the same samples
/// holds it from the second sample. A rate divided by a gauge (CPU) ramps up: with counters
/// starting at zero, `rate()` over a window of `W` minutes that holds `t` minutes of samples
/// returns `t / W` of the steady rate, so the value is `value * t / W` until the window is full.
fn fires(f: &Family, value: f64, level: f64) -> Option<(u64, u64)> {
    if value <= level {
        return None;
    }
    let active = match &f.signal {
        Signal::Cpu { .. } => {
            let window = f.window_ms.div_ceil(STEP_MS).max(1);
            let tolerance = 1e-9 * level.abs().max(1.0);
            let mut exact = true;
            let mut found = window;
            for t in 1..=window {
                let v = value * t as f64 / window as f64;
                if (v - level).abs() <= tolerance {
                    exact = false;
                }
                if v > level + tolerance {
                    found = t;
                    break;
                }
            }
            if !exact {
                return Some((
                    fire_time(STEP_MS, f.for_ms),
                    fire_time(window * STEP_MS, f.for_ms),
                ));
            }
            found * STEP_MS
        }
        s if s.uses_rate() => STEP_MS,
        _ => 0,
    };
    let t = fire_time(active, f.for_ms);
    Some((t, t))
}

/// When every alert of a family has fired, if its value is above the level.
fn settled_at(f: &Family) -> u64 {
    let settle = if f.signal.uses_rate() { f.window_ms } else { 0 };
    fire_time(settle, f.for_ms)
}

/// The checks of one test group, per alert name: just before and at each time an alert
/// starts firing, and once all have settled (`end_of`), each expecting exactly the alerts
/// that fire by then.
fn checks<'a>(
    names: BTreeMap<&str, Vec<Firing<'a>>>,
    end_of: &BTreeMap<&str, u64>,
) -> Vec<AlertTest<'a>> {
    let mut checks = Vec::new();
    for (name, firing) in names {
        let mut times: Vec<u64> = firing
            .iter()
            .filter(|((early, late), _)| early == late)
            .flat_map(|((t, _), _)| [t.checked_sub(STEP_MS), Some(*t)])
            .flatten()
            .collect();
        times.push(end_of.get(name).copied().unwrap_or(0));
        times.sort_unstable();
        times.dedup();
        for t in times {
            // A time at which an alert may or may not have started firing proves nothing.
            if firing
                .iter()
                .any(|((early, late), _)| *early <= t && t < *late)
            {
                continue;
            }
            checks.push(AlertTest {
                eval_time: format_duration(t),
                alertname: name.to_owned(),
                exp_alerts: firing
                    .iter()
                    .filter(|((_, late), _)| *late <= t)
                    .map(|(_, e)| e.clone())
                    .collect(),
            });
        }
    }
    checks
}

/// Expected alerts: the alert's labels, and its annotations with `{{ … $value }}` (as
/// `template` writes it) replaced by `value`.
fn expect<'a>(alert: &'a Alert, template: &str, value: &str) -> Shared<ExpAlert<'a>> {
    Shared(Rc::new(ExpAlert {
        exp_labels: &alert.labels,
        exp_annotations: alert
            .annotations
            .iter()
            .map(|(k, a)| {
                let text = a.replace(template, value);
                (k.as_str(), gotmpl::render_literals(&text).into_owned())
            })
            .collect(),
    }))
}

/// The test groups of the built-in alerts: every condition in full, in part (one of two
/// targets down) and healthy.
fn pack_groups(packs: &[Pack]) -> Vec<TestGroup<'_>> {
    let mut out = Vec::new();
    for (drive, what) in [
        (
            Drive::Full,
            "every built-in condition in full (all targets down)",
        ),
        (
            Drive::Partial,
            "every built-in condition in part (one of two targets down)",
        ),
        (Drive::Healthy, "every built-in condition healthy"),
    ] {
        let mut names: BTreeMap<&str, Vec<Firing<'_>>> = BTreeMap::new();
        let mut end_of: BTreeMap<&str, u64> = BTreeMap::new();
        for p in packs {
            let (warning, critical) = p.condition.fires(drive);
            for a in &p.alerts {
                let fire = fire_time(p.condition.active_from(), a.for_ms);
                let end = end_of.entry(a.name.as_str()).or_default();
                *end = (*end).max(fire);
                let firing = names.entry(a.name.as_str()).or_default();
                let critical_alert = a
                    .labels
                    .get(naming::alert_label::SEVERITY)
                    .map(String::as_str)
                    == Some(naming::severity(SeverityLevel::Critical));
                if (critical_alert && critical) || (!critical_alert && warning) {
                    let value = num(p.condition.value(drive));
                    firing.push(((fire, fire), expect(a, "{{ $value }}", &value)));
                }
            }
        }
        let end = end_of.values().copied().max().unwrap_or(0);
        let mut inputs: Vec<Input> = packs
            .iter()
            .flat_map(|p| p.condition.inputs(drive, end / STEP_MS + 1))
            .collect();
        inputs.sort();
        inputs.dedup();
        out.push(TestGroup {
            name: what.to_owned(),
            interval: format_duration(STEP_MS),
            input_series: series(inputs),
            alert_rule_test: checks(names, &end_of),
        });
    }
    out
}

fn series(inputs: Vec<Input>) -> Vec<Series> {
    inputs
        .into_iter()
        .map(|i| Series {
            series: SingleQuoted(i.series),
            values: SingleQuoted(i.values),
        })
        .collect()
}

/// The test file for a catalogue, or `None` when it has no threshold alerts.
pub(super) fn build<'c>(c: &'c Catalogue, rules_file: &str) -> Option<TestFile<'c>> {
    if c.families.is_empty() && c.packs.is_empty() {
        return None;
    }
    let mut tests = Vec::new();
    for severity in [SeverityLevel::Warning, SeverityLevel::Critical] {
        for above in [true, false] {
            let fed: Vec<(&Family, f64)> = c
                .families
                .iter()
                .filter_map(|f| {
                    let (level, _) = f.levels.iter().find(|(_, a)| {
                        a.labels
                            .get(naming::alert_label::SEVERITY)
                            .map(String::as_str)
                            == Some(naming::severity(severity))
                    })?;
                    Some((f, near(f, *level, above)?))
                })
                .collect();
            if fed.is_empty() {
                continue;
            }
            tests.push(group(severity, above, &fed));
        }
    }
    tests.extend(pack_groups(&c.packs));
    Some(TestFile {
        rule_files: vec![rules_file.to_owned()],
        evaluation_interval: format_duration(STEP_MS),
        tests,
    })
}

/// One test group: every family fed its value, every alert name checked.
fn group<'a>(severity: SeverityLevel, above: bool, fed: &[(&'a Family, f64)]) -> TestGroup<'a> {
    let end = fed.iter().map(|(f, _)| settled_at(f)).max().unwrap_or(0);
    let samples = end / STEP_MS + 1;
    let mut inputs: Vec<Input> = fed
        .iter()
        .flat_map(|(f, v)| f.signal.inputs(*v, samples))
        .collect();
    // Two signals of one workload may read the same series (the memory limit); once is enough.
    inputs.sort();
    inputs.dedup();
    // Per alert name, each alert that fires: when (earliest, latest), and what it looks like.
    let mut names: BTreeMap<&str, Vec<Firing<'a>>> = BTreeMap::new();
    let mut end_of: BTreeMap<&str, u64> = BTreeMap::new();
    for (f, v) in fed {
        let unit = f.signal.unit();
        for (level, alert) in &f.levels {
            let name = alert.name.as_str();
            let entry = end_of.entry(name).or_default();
            *entry = (*entry).max(settled_at(f));
            let firing = names.entry(name).or_default();
            let Some(when) = fires(f, *v, *level) else {
                continue;
            };
            let value = value_text(unit, *v);
            firing.push((when, expect(alert, value_template(unit), &value)));
        }
    }
    let checks = checks(names, &end_of);
    TestGroup {
        name: format!(
            "every threshold just {} its {} level",
            if above { "above" } else { "below" },
            naming::severity(severity)
        ),
        interval: format_duration(STEP_MS),
        input_series: series(inputs),
        alert_rule_test: checks,
    }
}
