//! Issue 24, the end-to-end alerting test: an example's generated rules run on a real
//! Prometheus and its generated configuration on a real Alertmanager, both on loopback, fed by
//! synthetic series from an exporter this test serves. The alerts the series drive must fire,
//! reach the receiver that `route-tests.yaml` predicts (each receiver stood in for by a local
//! HTTP server), and a critical alert must suppress its warning twin. Three variants break a
//! threshold, a route matcher and the inhibit rule of the test copy on purpose and show the
//! test notices.
//!
//! What the test copy changes, and why, so the rest is exactly what `plinth build` wrote:
//! - every rule's `for` becomes 2s, so that alerts held for minutes in production fire within
//!   seconds (each still passes through pending first);
//! - the route tree's `group_wait`, `group_interval` and `repeat_interval` become 1s, 1s and 1h
//!   for the same reason;
//! - each receiver's destination becomes a path of the local stand-in server: a Slack
//!   receiver's `api_url_file` names a file holding the stand-in's URL, a PagerDuty receiver
//!   keeps its `routing_key_file` (pointing at a file with a dummy key) and gains `url`, the
//!   Events API endpoint, set to the stand-in; a webhook receiver's `url_file` becomes `url`,
//!   the stand-in (Alertmanager 0.25 has no `url_file`, which came in 0.26; the examples'
//!   Slack and PagerDuty fields are all 0.25's). Other receiver types (email) have no stand-in
//!   yet and fail the test by name.
//!
//! The binaries are Debian's `prometheus` (2.42) and `prometheus-alertmanager` (0.25), which CI
//! installs (`scripts/install-tools`). Without them the tests print a notice and pass, except
//! under `CI=true`, where their absence is a failure. Set `PLINTH_PROMETHEUS` and
//! `PLINTH_ALERTMANAGER` to use other binaries.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// How long the alerts have, after both servers are ready, to fire and be delivered. A
/// healthy run needs about ten seconds; the bound turns a hang into a failure.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(40);

/// How long to keep listening once every expected notification has arrived, so that a warning
/// which should have been inhibited has had every chance to be delivered by mistake.
const GRACE: Duration = Duration::from_secs(4);

/// How long a run that is still missing an expected notification keeps listening after the
/// last new one arrived. The driven alerts all fire within a few seconds of each other, so a
/// notification missing after this long is not coming: a broken variant ends here instead of
/// at the deadline.
const QUIET: Duration = Duration::from_secs(10);

/// CodePal's production alerts fire and are routed as predicted, criticals inhibiting warnings.
#[test]
fn codepal_alerts_fire_and_reach_their_receivers() {
    let Some(tools) = Tools::find() else { return };
    let problems = run_example(&tools, "codepal", Break::Nothing);
    assert!(problems.is_empty(), "codepal:\n{}", problems.join("\n"));
}

/// DevMentor's production alerts (`code` rather than `status` for the status label) fire and
/// are routed as predicted.
#[test]
fn devmentor_alerts_fire_and_reach_their_receivers() {
    let Some(tools) = Tools::find() else { return };
    let problems = run_example(&tools, "devmentor", Break::Nothing);
    assert!(problems.is_empty(), "devmentor:\n{}", problems.join("\n"));
}

/// A critical threshold raised out of reach in the test copy: the critical alert never fires,
/// so it reaches no receiver and no longer inhibits its warning, and the test says both.
#[test]
fn a_broken_threshold_is_caught() {
    let Some(tools) = Tools::find() else { return };
    let problems = run_example(&tools, "codepal", Break::Threshold);
    let text = problems.join("\n");
    assert!(
        problems.iter().any(|p| p.contains("MemoryUsageHigh")
            && p.contains("critical")
            && p.contains("never reached")),
        "the missing critical alert went unnoticed:\n{text}"
    );
    assert!(
        problems.iter().any(|p| p.contains("MemoryUsageHigh")
            && p.contains("warning")
            && p.contains("not inhibited")),
        "the uninhibited warning went unnoticed:\n{text}"
    );
}

/// The critical route's matcher misspelt in the test copy: critical alerts fall through to the
/// default receiver, which is not where `route-tests.yaml` says they go.
#[test]
fn a_broken_route_is_caught() {
    let Some(tools) = Tools::find() else { return };
    let problems = run_example(&tools, "codepal", Break::Route);
    let text = problems.join("\n");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("critical") && p.contains("never reached `pagerduty-devops`")),
        "the misrouted critical alerts went unnoticed:\n{text}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("critical") && p.contains("unexpectedly reached `slack-devops`")),
        "the receiver that got the critical alerts went unnoticed:\n{text}"
    );
}

/// The inhibit rule left out of the test copy: every warning whose critical fires is
/// delivered too, which the test reports both from the receivers and from Alertmanager.
#[test]
fn a_missing_inhibition_is_caught() {
    let Some(tools) = Tools::find() else { return };
    let problems = run_example(&tools, "codepal", Break::Inhibition);
    let text = problems.join("\n");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("warning MemoryUsageHigh")
                && p.contains("was not inhibited by its critical twin")),
        "the delivered warning went unnoticed:\n{text}"
    );
    assert!(
        problems.iter().any(|p| p.contains("warning ErrorRateHigh")
            && p.contains("is not inhibited in Alertmanager")),
        "Alertmanager's view went unnoticed:\n{text}"
    );
}

/// What a variant of the test breaks in its copy of the generated files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Break {
    /// Nothing: the files as built.
    Nothing,
    /// The critical `MemoryUsageHigh` threshold of the first driven service, raised out of reach.
    Threshold,
    /// The `severity="critical"` route matcher, misspelt.
    Route,
    /// The inhibit rules, left out.
    Inhibition,
}

/// The Prometheus and Alertmanager binaries.
struct Tools {
    prometheus: PathBuf,
    alertmanager: PathBuf,
}

impl Tools {
    /// Finds both binaries (the variables, then `PATH`); `None` with a notice when one is
    /// missing, a panic under `CI=true`.
    fn find() -> Option<Tools> {
        let prometheus = binary("PLINTH_PROMETHEUS", &["prometheus"]);
        let alertmanager = binary(
            "PLINTH_ALERTMANAGER",
            &["prometheus-alertmanager", "alertmanager"],
        );
        match (prometheus, alertmanager) {
            (Some(prometheus), Some(alertmanager)) => Some(Tools {
                prometheus,
                alertmanager,
            }),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true needs prometheus and prometheus-alertmanager on PATH (scripts/install-tools)"
                );
                eprintln!(
                    "notice: prometheus or prometheus-alertmanager not found, so the end-to-end alerting test is skipped; run scripts/install-tools"
                );
                None
            }
        }
    }
}

/// The binary named by `var`, else the first of `names` on `PATH`.
fn binary(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// One alert rule of `rules.yaml` that the synthetic series drive.
#[derive(Clone, Debug)]
struct Driven {
    alertname: String,
    service: String,
    severity: String,
    /// The rule's labels with `alertname`: the label set Alertmanager sees.
    labels: BTreeMap<String, String>,
}

impl Driven {
    /// What a notification shows of the alert: its name, service and severity.
    fn key(&self) -> (String, String, String) {
        (
            self.alertname.clone(),
            self.service.clone(),
            self.severity.clone(),
        )
    }

    /// The alert in a failure message.
    fn describe(&self) -> String {
        format!("{} {} of `{}`", self.severity, self.alertname, self.service)
    }
}

/// Builds `example`'s production environment, runs it end to end with `broken` applied to the
/// test copy, and returns every way the outcome differs from what the generated files predict.
fn run_example(tools: &Tools, example: &str, broken: Break) -> Vec<String> {
    let dir = TempDir::new(&format!("e2e-{example}"));
    let spec = dir.join(format!("{example}.toml"));
    std::fs::copy(root().join(format!("examples/{example}.toml")), &spec)
        .expect("copy the example");
    let out = plinth_run(
        &dir.0,
        &[
            "build",
            &spec.to_string_lossy(),
            "--out",
            "out",
            "--env",
            "production",
            "--target",
            "prometheus",
            "--target",
            "alertmanager",
        ],
    );
    assert_exit(&out, 0);
    let rules = yaml(&dir.join("out/prometheus/production/rules.yaml"));
    let config = yaml(&dir.join("out/alertmanager/production/alertmanager.yaml"));
    let route_tests = yaml(&dir.join("out/alertmanager/production/route-tests.yaml"));

    let plan = Plan::choose(&rules);
    let exporter = Server::serve(Handler::Metrics(plan.series.clone()));
    let standin = Server::serve(Handler::Receiver(Arc::default()));
    let prom_port = free_port();
    let am_port = free_port();
    let dead_port = free_port();

    let mut test_rules = rules.clone();
    shorten_for(&mut test_rules);
    if broken == Break::Threshold {
        let target = &plan.expected_critical_memory;
        raise_threshold(&mut test_rules, target);
    }
    let mut test_config = config.clone();
    stand_in_receivers(&mut test_config, &dir, standin.port);
    shorten_grouping(&mut test_config);
    if broken == Break::Route {
        misspell_critical_route(&mut test_config);
    }
    if broken == Break::Inhibition {
        let config = test_config.as_object_mut().expect("a configuration");
        assert!(
            config.remove("inhibit_rules").is_some(),
            "no inhibit rules to leave out"
        );
    }
    write_json(&dir.join("rules.yaml"), &test_rules);
    write_json(&dir.join("alertmanager.yaml"), &test_config);
    write_json(
        &dir.join("prometheus.yml"),
        &json!({
            "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
            "rule_files": [dir.join("rules.yaml")],
            "scrape_configs": [
                {
                    "job_name": "e2e-exporter",
                    "honor_labels": true,
                    "static_configs": [{ "targets": [format!("127.0.0.1:{}", exporter.port)] }]
                },
                {
                    // A target nobody listens on, labelled like the second service's pods: the
                    // `up` series Prometheus itself records as 0 drives ScrapeTargetDown.
                    "job_name": "e2e-down",
                    "static_configs": [{
                        "targets": [format!("127.0.0.1:{dead_port}")],
                        "labels": { "namespace": plan.namespace, "service": plan.second }
                    }]
                }
            ],
            "alerting": {
                "alertmanagers": [{ "static_configs": [{ "targets": [format!("127.0.0.1:{am_port}")] }] }]
            }
        }),
    );
    let mut am = Daemon::start(
        &tools.alertmanager,
        &[
            format!("--config.file={}", dir.join("alertmanager.yaml").display()),
            format!("--storage.path={}", dir.join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            // An empty address turns clustering off, which would otherwise bind :9094.
            "--cluster.listen-address=".to_owned(),
        ],
        &dir.join("alertmanager.log"),
    );
    let mut prom = Daemon::start(
        &tools.prometheus,
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        &dir.join("prometheus.log"),
    );
    let logs = || {
        format!(
            "\n--- prometheus log (tail)\n{}\n--- alertmanager log (tail)\n{}",
            tail(&dir.join("prometheus.log")),
            tail(&dir.join("alertmanager.log"))
        )
    };
    for (port, name, daemon) in [
        (am_port, "alertmanager", &mut am),
        (prom_port, "prometheus", &mut prom),
    ] {
        let start = Instant::now();
        while get(port, "/-/ready").map(|(code, _)| code) != Some(200) {
            // A daemon that refused its configuration has exited: say so at once.
            if let Ok(Some(status)) = daemon.0.try_wait() {
                panic!("{name} exited ({status}){}", logs());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name} did not become ready within 30s{}",
                logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let predicted = predictions(&route_tests);
    let Handler::Receiver(received) = standin.handler.as_ref() else {
        unreachable!()
    };
    // The expected deliveries: each driven alert that no critical twin inhibits, to the
    // receivers route-tests.yaml names for its label set.
    let mut expected: BTreeSet<(String, (String, String, String))> = BTreeSet::new();
    let mut problems = Vec::new();
    for alert in &plan.alerts {
        if plan.inhibited(alert) {
            continue;
        }
        match predicted.get(&alert.labels) {
            Some(receivers) => {
                for r in receivers {
                    expected.insert((r.clone(), alert.key()));
                }
            }
            None => problems.push(format!(
                "route-tests.yaml has no case for {} ({:?})",
                alert.describe(),
                alert.labels
            )),
        }
    }
    let start = Instant::now();
    let mut done_at: Option<Instant> = None;
    let mut last_new: Option<(usize, Instant)> = None;
    loop {
        let delivered = deliveries(&received.lock().expect("deliveries"));
        if done_at.is_none() && expected.iter().all(|e| delivered.contains(e)) {
            done_at = Some(Instant::now());
        }
        if !delivered.is_empty() && last_new.is_none_or(|(n, _)| n != delivered.len()) {
            last_new = Some((delivered.len(), Instant::now()));
        }
        if done_at.is_some_and(|t| t.elapsed() > GRACE)
            || last_new.is_some_and(|(_, t)| t.elapsed() > QUIET)
            || start.elapsed() > DELIVERY_DEADLINE
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let delivered = deliveries(&received.lock().expect("deliveries"));
    let driven: BTreeSet<_> = plan.alerts.iter().map(Driven::key).collect();
    for (receiver, key) in &expected {
        if !delivered.contains(&(receiver.clone(), key.clone())) {
            problems.push(format!(
                "{} {} of `{}` never reached `{receiver}`, where route-tests.yaml sends it",
                key.2, key.0, key.1
            ));
        }
    }
    for (receiver, key) in &delivered {
        if driven.contains(key) && !expected.contains(&(receiver.clone(), key.clone())) {
            let inhibited = plan
                .alerts
                .iter()
                .any(|a| a.key() == *key && plan.inhibited(a));
            if inhibited {
                problems.push(format!(
                    "{} {} of `{}` was not inhibited by its critical twin: it reached `{receiver}`",
                    key.2, key.0, key.1
                ));
            } else {
                problems.push(format!(
                    "{} {} of `{}` unexpectedly reached `{receiver}`",
                    key.2, key.0, key.1
                ));
            }
        }
    }
    // Inhibition is proved positively too: Alertmanager holds each inhibited warning as
    // suppressed by an alert, not merely undelivered.
    let suppressed = suppressed_alerts(am_port);
    for alert in plan.alerts.iter().filter(|a| plan.inhibited(a)) {
        if !suppressed.contains(&alert.key()) {
            problems.push(format!(
                "{} {} of `{}` is not inhibited in Alertmanager",
                alert.severity, alert.alertname, alert.service
            ));
        }
    }
    if !problems.is_empty() {
        problems.push(format!(
            "delivered: {delivered:?}\nexpected: {expected:?}{}",
            logs()
        ));
    }
    problems
}

/// The alerts the synthetic series drive, and the series.
struct Plan {
    namespace: String,
    /// The second driven service, whose pods are also down.
    second: String,
    alerts: Vec<Driven>,
    series: Vec<Series>,
    /// The critical `MemoryUsageHigh` alert of the first service, which `Break::Threshold`
    /// puts out of reach.
    expected_critical_memory: Driven,
}

impl Plan {
    /// Chooses two services that have memory, error-rate and latency alerts, and series that
    /// put the first above every critical level (so warnings must be inhibited) and the second
    /// between warning and critical (so warnings must be delivered), plus a down target for the
    /// second. The values are computed from the thresholds in the rules, not written here.
    fn choose(rules: &Value) -> Plan {
        let all = alert_rules(rules);
        let families = ["MemoryUsageHigh", "ErrorRateHigh", "LatencyP95High"];
        let mut services: Vec<String> = all
            .iter()
            .filter_map(|r| label(r, "service"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|s| {
                families.iter().all(|f| {
                    ["warning", "critical"]
                        .iter()
                        .all(|sev| find_rule(&all, f, s, sev).is_some())
                })
            })
            .collect();
        assert!(
            services.len() >= 2,
            "fewer than two services have memory, error-rate and latency alerts: {services:?}"
        );
        services.truncate(2);
        let (first, second) = (services[0].clone(), services[1].clone());
        let mut alerts = Vec::new();
        let mut series = Vec::new();
        let mut namespace = String::new();
        for (service, above_critical) in [(&first, true), (&second, false)] {
            for family in families {
                let warning = find_rule(&all, family, service, "warning").expect("chosen");
                let critical = find_rule(&all, family, service, "critical").expect("chosen");
                let (w, c) = (threshold(warning), threshold(critical));
                // Above critical: halfway to a level that is safely beyond it; between: halfway.
                let level = if above_critical {
                    if family == "LatencyP95High" {
                        c * 2.0
                    } else {
                        (c + 100.0) / 2.0
                    }
                } else {
                    (w + c) / 2.0
                };
                let selectors = selectors(&expr(warning));
                namespace = selectors[0].1["namespace"].clone();
                series.extend(drive(family, &selectors, level));
                alerts.push(driven(warning));
                if above_critical {
                    alerts.push(driven(critical));
                }
            }
        }
        for severity in ["warning", "critical"] {
            let rule = find_rule(&all, "ScrapeTargetDown", &second, severity)
                .expect("the second service has ScrapeTargetDown alerts");
            alerts.push(driven(rule));
        }
        let expected_critical_memory =
            driven(find_rule(&all, "MemoryUsageHigh", &first, "critical").expect("chosen"));
        Plan {
            namespace,
            second,
            alerts,
            series,
            expected_critical_memory,
        }
    }

    /// Whether `alert` is a warning whose critical twin (same name and service) is driven too,
    /// which the generated inhibit rule must suppress.
    fn inhibited(&self, alert: &Driven) -> bool {
        alert.severity == "warning"
            && self.alerts.iter().any(|a| {
                a.severity == "critical"
                    && a.alertname == alert.alertname
                    && a.service == alert.service
            })
    }
}

/// The series that put `family`'s value at `level`, from the selectors of its warning rule.
fn drive(
    family: &str,
    selectors: &[(String, BTreeMap<String, String>)],
    level: f64,
) -> Vec<Series> {
    let pod = |labels: &BTreeMap<String, String>| {
        let mut l = labels.clone();
        l.insert("pod".into(), "e2e-0".into());
        l
    };
    match family {
        "MemoryUsageHigh" => {
            let usage = selectors
                .iter()
                .find(|(n, _)| n.contains("working_set"))
                .expect("usage");
            let limit = selectors
                .iter()
                .find(|(n, _)| n.contains("limits"))
                .expect("limit");
            vec![
                Series::gauge(&usage.0, pod(&usage.1), level * 10.0),
                Series::gauge(&limit.0, pod(&limit.1), 1000.0),
            ]
        }
        "ErrorRateHigh" => {
            // The first selector has the failed requests' status matcher (`status=~"5.."` or
            // `code=~"5.."`), which `selectors` resolved to "500"; the other status is "200".
            let (name, failed) = &selectors[0];
            let status = failed
                .iter()
                .find(|(_, v)| *v == "500")
                .map(|(k, _)| k.clone())
                .expect("a status label");
            let mut ok = failed.clone();
            ok.insert(status, "200".into());
            // `level` percent of 100 requests a second fail.
            vec![
                Series::counter(name, pod(failed), level),
                Series::counter(name, pod(&ok), 100.0 - level),
            ]
        }
        "LatencyP95High" => {
            // Every request falls in the first bucket [0, le], so histogram_quantile
            // interpolates the 95th percentile at 0.95 × le.
            let (name, labels) = &selectors[0];
            let mut first = pod(labels);
            first.insert("le".into(), format!("{}", level / 0.95));
            let mut inf = pod(labels);
            inf.insert("le".into(), "+Inf".into());
            vec![
                Series::counter(name, first, 10.0),
                Series::counter(name, inf, 10.0),
            ]
        }
        other => unreachable!("no series for {other}"),
    }
}

/// The label set an alert rule fires with.
fn driven(rule: &Value) -> Driven {
    let mut labels: BTreeMap<String, String> = rule["labels"]
        .as_object()
        .expect("labels")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let alertname = rule["alert"].as_str().expect("alert").to_owned();
    labels.insert("alertname".into(), alertname.clone());
    Driven {
        alertname,
        service: labels.get("service").cloned().unwrap_or_default(),
        severity: labels.get("severity").cloned().unwrap_or_default(),
        labels,
    }
}

/// Every alerting rule of a rules file (recording rules left out).
fn alert_rules(rules: &Value) -> Vec<&Value> {
    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .filter(|r| r.get("alert").is_some())
        .collect()
}

/// One label of a rule.
fn label(rule: &Value, name: &str) -> Option<String> {
    rule["labels"][name].as_str().map(str::to_owned)
}

/// The rule of `alert` for `service` at `severity`.
fn find_rule<'a>(
    all: &[&'a Value],
    alert: &str,
    service: &str,
    severity: &str,
) -> Option<&'a Value> {
    all.iter().copied().find(|r| {
        r["alert"] == alert
            && label(r, "service").as_deref() == Some(service)
            && label(r, "severity").as_deref() == Some(severity)
    })
}

/// A rule's expression.
fn expr(rule: &Value) -> String {
    rule["expr"].as_str().expect("expr").to_owned()
}

/// The level after the comparison that ends a threshold rule's expression (`… > 80`).
fn threshold(rule: &Value) -> f64 {
    let e = expr(rule);
    let (_, level) = e.rsplit_once('>').expect("a `>` comparison");
    level
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no level in {e}"))
}

/// Every `metric{…}` selector of an expression with its equality matchers; a `=~"5.."`
/// matcher becomes the value "500", and other matchers are left out.
fn selectors(expr: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let name: String = rest[..open]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let close = open + rest[open..].find('}').expect("a closing brace");
        let mut labels = BTreeMap::new();
        for matcher in rest[open + 1..close].split(',') {
            if let Some((k, v)) = matcher.split_once("=~") {
                if v.trim_matches('"') == "5.." {
                    labels.insert(k.trim().to_owned(), "500".to_owned());
                }
            } else if let Some((k, v)) = matcher.split_once('=') {
                if !k.ends_with('!') {
                    labels.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
                }
            }
        }
        if !name.is_empty() {
            out.push((name, labels));
        }
        rest = &rest[close + 1..];
    }
    out
}

/// Every `for` of the test copy becomes 2s, so that the alerts fire within seconds.
fn shorten_for(rules: &mut Value) {
    for group in rules["groups"].as_array_mut().expect("groups") {
        for rule in group["rules"].as_array_mut().expect("rules") {
            if rule.get("for").is_some() {
                rule["for"] = json!("2s");
            }
        }
    }
}

/// `Break::Threshold`: `alert`'s level becomes one no series reaches.
fn raise_threshold(rules: &mut Value, alert: &Driven) {
    for group in rules["groups"].as_array_mut().expect("groups") {
        for rule in group["rules"].as_array_mut().expect("rules") {
            if rule.get("alert").is_some() && driven(rule).key() == alert.key() {
                let e = expr(rule);
                let (head, _) = e.rsplit_once('>').expect("a comparison");
                rule["expr"] = json!(format!("{head}> 1000000"));
                return;
            }
        }
    }
    panic!("no rule {}", alert.describe());
}

/// The route tree's timers, shortened so that a notification leaves within a second.
fn shorten_grouping(config: &mut Value) {
    let route = &mut config["route"];
    route["group_wait"] = json!("1s");
    route["group_interval"] = json!("1s");
    route["repeat_interval"] = json!("1h");
}

/// `Break::Route`: the `severity="critical"` matcher no longer matches.
fn misspell_critical_route(config: &mut Value) {
    let mut hit = false;
    for route in config["route"]["routes"].as_array_mut().expect("routes") {
        for m in route["matchers"].as_array_mut().into_iter().flatten() {
            if m == "severity=\"critical\"" {
                *m = json!("severity=\"critcal\"");
                hit = true;
            }
        }
    }
    assert!(hit, "no critical route to break");
}

/// Points every receiver of the test copy at the stand-in server, one path per receiver.
fn stand_in_receivers(config: &mut Value, dir: &TempDir, port: u16) {
    for receiver in config["receivers"].as_array_mut().expect("receivers") {
        let name = receiver["name"].as_str().expect("a name").to_owned();
        let url = format!("http://127.0.0.1:{port}/{name}");
        for (kind, configs) in receiver.as_object_mut().expect("a receiver").iter_mut() {
            let Some(configs) = configs.as_array_mut() else {
                continue;
            };
            for c in configs {
                match kind.as_str() {
                    "slack_configs" => {
                        let file = dir.join(format!("{name}-slack-url"));
                        std::fs::write(&file, &url).expect("write the Slack URL");
                        c.as_object_mut().expect("slack").remove("api_url");
                        c["api_url_file"] = json!(file);
                    }
                    "pagerduty_configs" => {
                        let file = dir.join(format!("{name}-routing-key"));
                        std::fs::write(&file, "e2e-dummy-routing-key").expect("write a key");
                        c.as_object_mut().expect("pagerduty").remove("routing_key");
                        c["routing_key_file"] = json!(file);
                        c["url"] = json!(url);
                    }
                    "webhook_configs" => {
                        c.as_object_mut().expect("webhook").remove("url_file");
                        c["url"] = json!(url);
                    }
                    other => panic!(
                        "receiver `{name}` uses {other}, which this test has no stand-in for yet"
                    ),
                }
            }
        }
    }
}

/// route-tests.yaml as label set → receivers.
fn predictions(route_tests: &Value) -> BTreeMap<BTreeMap<String, String>, Vec<String>> {
    route_tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            let labels = t["labels"]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let receivers = t["receivers"]
                .as_array()
                .expect("receivers")
                .iter()
                .map(|r| r.as_str().expect("a receiver").to_owned())
                .collect();
            (labels, receivers)
        })
        .collect()
}

/// Every (receiver, (alertname, service, severity)) that a firing notification carried, read
/// from the payload each receiver type sends: Slack's title and text (plinth's templates),
/// PagerDuty's `firing` details (Alertmanager's default template, one ` - label = value` line
/// per label), a webhook's alerts.
fn deliveries(received: &[(String, Vec<u8>)]) -> BTreeSet<(String, (String, String, String))> {
    let mut out = BTreeSet::new();
    for (path, body) in received {
        let receiver = path.trim_start_matches('/').to_owned();
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            continue;
        };
        if let Some(alerts) = body["alerts"].as_array() {
            for a in alerts.iter().filter(|a| a["status"] == "firing") {
                let l = |k: &str| a["labels"][k].as_str().unwrap_or_default().to_owned();
                out.insert((
                    receiver.clone(),
                    (l("alertname"), l("service"), l("severity")),
                ));
            }
        } else if let Some(firing) = body["payload"]["custom_details"]["firing"].as_str() {
            // One block of labels per alert, each opened by `Labels:`.
            for block in firing.split("Labels:").skip(1) {
                let mut labels = BTreeMap::new();
                for line in block.lines() {
                    if let Some((k, v)) = line
                        .trim()
                        .strip_prefix("- ")
                        .and_then(|l| l.split_once(" = "))
                    {
                        labels.entry(k.to_owned()).or_insert_with(|| v.to_owned());
                    }
                }
                let l = |k: &str| labels.get(k).cloned().unwrap_or_default();
                out.insert((
                    receiver.clone(),
                    (l("alertname"), l("service"), l("severity")),
                ));
            }
        } else if let Some(attachment) = body["attachments"].get(0) {
            // plinth's title: `[FIRING:n] ALERTNAME SERVICE (ENV)`; its text opens one line per
            // alert with `*SEVERITY*:`.
            let title = attachment["title"].as_str().unwrap_or_default();
            if !title.starts_with("[FIRING") {
                continue;
            }
            let words: Vec<&str> = title.split_whitespace().collect();
            let (alertname, service) = match words.as_slice() {
                [_, a, s, env, ..] if env.starts_with('(') => (a.to_string(), s.to_string()),
                [_, a, ..] => (a.to_string(), String::new()),
                _ => continue,
            };
            let text = attachment["text"].as_str().unwrap_or_default();
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix('*') {
                    if let Some((severity, _)) = rest.split_once("*:") {
                        out.insert((
                            receiver.clone(),
                            (alertname.clone(), service.clone(), severity.to_owned()),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The (alertname, service, severity) of every alert Alertmanager holds as inhibited.
fn suppressed_alerts(port: u16) -> BTreeSet<(String, String, String)> {
    let (code, body) = get(port, "/api/v2/alerts").expect("Alertmanager answers");
    assert_eq!(code, 200, "GET /api/v2/alerts: {body}");
    let alerts: Value = serde_json::from_str(&body).expect("alerts JSON");
    alerts
        .as_array()
        .expect("an array")
        .iter()
        .filter(|a| {
            a["status"]["state"] == "suppressed"
                && a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty())
        })
        .map(|a| {
            let l = |k: &str| a["labels"][k].as_str().unwrap_or_default().to_owned();
            (l("alertname"), l("service"), l("severity"))
        })
        .collect()
}

/// A synthetic series: a gauge with a fixed value or a counter growing at a fixed rate.
#[derive(Clone)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    counter: bool,
}

impl Series {
    fn gauge(name: &str, labels: BTreeMap<String, String>, value: f64) -> Series {
        Series {
            name: name.to_owned(),
            labels,
            value,
            counter: false,
        }
    }

    fn counter(name: &str, labels: BTreeMap<String, String>, per_second: f64) -> Series {
        Series {
            name: name.to_owned(),
            labels,
            value: per_second,
            counter: true,
        }
    }
}

/// The exposition text of `series`, counters at their value `elapsed` after the start.
fn exposition(series: &[Series], elapsed: Duration) -> String {
    let mut out = String::new();
    for s in series {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        let value = if s.counter {
            s.value * elapsed.as_secs_f64()
        } else {
            s.value
        };
        out.push_str(&format!("{}{{{}}} {value}\n", s.name, labels.join(",")));
    }
    out
}

/// The path and body of every request the receiver stand-in got, in order.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// What a loopback server does with a request.
enum Handler {
    /// Serves the series on every GET.
    Metrics(Vec<Series>),
    /// Records every request's path and body and answers 200.
    Receiver(Received),
}

/// A loopback HTTP server on a thread, stopped when dropped.
struct Server {
    port: u16,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Starts serving on a free loopback port.
    fn serve(handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("an address").port();
        let handler = Arc::new(handler);
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (handler.clone(), stop.clone());
        let start = Instant::now();
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = answer(stream, &h, start);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Server {
            port,
            handler,
            stop,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one HTTP/1.1 request and answers it (then closes the connection).
fn answer(mut stream: TcpStream, handler: &Handler, start: Instant) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = match handler {
        Handler::Metrics(series) => exposition(series, start.elapsed()),
        Handler::Receiver(log) => {
            log.lock()
                .expect("deliveries")
                .push((path, buf[head_end..].to_vec()));
            "{}".to_owned()
        }
    };
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// GET `path` from a loopback port: the status code and body, `None` when nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((code, body))
}

/// A loopback port free at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A daemon killed (and reaped) when dropped, whatever way the test ends.
struct Daemon(Child);

impl Daemon {
    /// Starts `binary` with its output in `log`.
    fn start(binary: &Path, args: &[String], log: &Path) -> Daemon {
        let file = std::fs::File::create(log).expect("create a log");
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A generated YAML file, parsed.
fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `value` as JSON, which Prometheus and Alertmanager read as the YAML it is.
fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).expect("JSON")).expect("write");
}

/// The last lines of a log, for failure messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
