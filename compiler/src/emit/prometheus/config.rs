//! `prometheus.yml` for an environment run with Docker Compose.
//!
//! Each workload with a metrics endpoint is scraped by its Compose service name. The targets
//! carry the `namespace` and `service` labels that a ServiceMonitor gives them on Kubernetes,
//! so the rules file beside this one selects the same series on both sides.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ir::{naming, Environment};
use crate::units::format_duration;

#[derive(Serialize)]
pub(super) struct Config {
    global: Global,
    rule_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerting: Option<Alerting>,
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Serialize)]
struct Global {
    scrape_interval: String,
    evaluation_interval: String,
}

#[derive(Serialize)]
struct Alerting {
    alertmanagers: Vec<Alertmanager>,
}

#[derive(Serialize)]
struct Alertmanager {
    static_configs: Vec<StaticConfig>,
}

#[derive(Serialize)]
struct ScrapeConfig {
    job_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scrape_interval: Option<String>,
    metrics_path: String,
    static_configs: Vec<StaticConfig>,
}

#[derive(Serialize)]
struct StaticConfig {
    targets: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

/// The configuration of one environment.
pub(super) fn build(env: &Environment) -> Config {
    let interval = env.observability.scrape_interval_ms;
    Config {
        global: Global {
            scrape_interval: format_duration(interval),
            evaluation_interval: format_duration(interval),
        },
        rule_files: vec![naming::RULES_FILE.to_owned()],
        // Alerts go to Alertmanager only when the spec configures receivers for it.
        alerting: (!env.alerting.receivers.is_empty()).then(|| Alerting {
            alertmanagers: vec![Alertmanager {
                static_configs: vec![StaticConfig {
                    targets: vec![naming::compose_alertmanager_target()],
                    labels: BTreeMap::new(),
                }],
            }],
        }),
        scrape_configs: env
            .workloads
            .iter()
            .filter_map(|w| {
                // An endpoint that needs a token is not scraped: the Compose Prometheus has
                // no secrets (`unscraped_notes`).
                let m = w.metrics.as_ref().filter(|m| m.bearer.is_none())?;
                Some(ScrapeConfig {
                    job_name: w.name.clone(),
                    scrape_interval: (m.interval_ms != interval)
                        .then(|| format_duration(m.interval_ms)),
                    metrics_path: m.path.clone(),
                    static_configs: vec![StaticConfig {
                        targets: vec![naming::compose_scrape_target(w, m.port.port)],
                        labels: BTreeMap::from([
                            ("namespace".to_owned(), env.namespace.clone()),
                            (naming::alert_label::SERVICE.to_owned(), w.name.clone()),
                        ]),
                    }],
                })
            })
            .collect(),
    }
}

/// Notes for the metrics endpoints the Compose Prometheus leaves out: those that need a
/// bearer token (Qdrant with an API key), since it mounts no secrets.
pub(super) fn unscraped_notes(env: &Environment) -> Vec<super::Note> {
    env.workloads
        .iter()
        .filter(|w| w.metrics.as_ref().is_some_and(|m| m.bearer.is_some()))
        .map(|w| super::Note {
            target: super::Target::Prometheus,
            message: format!(
                "`{}` requires a token for its metrics, which the Compose Prometheus does not have: it is not scraped locally",
                w.name
            ),
        })
        .collect()
}
