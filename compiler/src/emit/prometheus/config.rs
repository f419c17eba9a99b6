//! `prometheus.yml` for an environment run with Docker Compose.
//!
//! Each workload with a metrics endpoint is scraped at every replica: its Compose service
//! name is resolved by DNS service discovery (`dns_sd_configs`, type A), which Docker's
//! embedded DNS answers with the address of each of the service's containers. A static
//! target of the same name would reach one replica at random on each scrape. The targets
//! get the `namespace` and `service` labels that a ServiceMonitor gives them on Kubernetes,
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
    dns_sd_configs: Vec<DnsSdConfig>,
    relabel_configs: Vec<Relabel>,
}

/// DNS service discovery of one name's A records.
#[derive(Serialize)]
struct DnsSdConfig {
    names: Vec<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    port: u16,
}

/// A relabelling that sets `target_label` to `replacement` on every target.
#[derive(Serialize)]
struct Relabel {
    target_label: String,
    replacement: String,
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
                    dns_sd_configs: vec![DnsSdConfig {
                        names: vec![naming::compose_scrape_name(w)],
                        kind: "A",
                        port: m.port.port,
                    }],
                    relabel_configs: vec![
                        Relabel {
                            target_label: "namespace".to_owned(),
                            replacement: env.namespace.clone(),
                        },
                        Relabel {
                            target_label: naming::alert_label::SERVICE.to_owned(),
                            replacement: w.name.clone(),
                        },
                    ],
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
