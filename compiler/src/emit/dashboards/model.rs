//! Grafana's dashboard JSON model, as much of it as plinth writes: time-series panels over
//! the Prometheus data source, laid out two to a row, with threshold lines.
//!
//! Only fields Grafana reads are written, in a fixed order, so that the same dashboard is
//! always the same bytes: no `id` (Grafana assigns it), no `version` history, no timestamps.

use serde::Serialize;

use crate::ir::naming;

/// Panel width in grid columns: Grafana's grid is 24 wide, so two panels share a row.
const PANEL_WIDTH: u32 = 12;
/// Panel height in grid rows.
const PANEL_HEIGHT: u32 = 8;
/// The dashboard schema version the model follows (Grafana 11 and 12 read it as is).
const SCHEMA_VERSION: u32 = 39;

/// A whole dashboard.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Model {
    uid: String,
    title: String,
    description: String,
    tags: Vec<String>,
    editable: bool,
    time: Range,
    refresh: &'static str,
    schema_version: u32,
    panels: Vec<PanelModel>,
}

#[derive(Serialize)]
struct Range {
    from: &'static str,
    to: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PanelModel {
    id: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
    description: String,
    grid_pos: GridPos,
    datasource: Datasource,
    targets: Vec<TargetModel>,
    field_config: FieldConfig,
}

#[derive(Serialize)]
struct GridPos {
    h: u32,
    w: u32,
    x: u32,
    y: u32,
}

#[derive(Serialize)]
struct Datasource {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetModel {
    ref_id: String,
    datasource: Datasource,
    expr: String,
    legend_format: String,
}

#[derive(Serialize)]
struct FieldConfig {
    defaults: FieldDefaults,
    overrides: Vec<()>,
}

#[derive(Serialize)]
struct FieldDefaults {
    unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    thresholds: Thresholds,
    custom: Custom,
}

#[derive(Serialize)]
struct Thresholds {
    mode: &'static str,
    steps: Vec<Step>,
}

#[derive(Serialize)]
struct Step {
    color: &'static str,
    /// `null` for the base step, which applies below every level.
    value: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Custom {
    thresholds_style: ThresholdsStyle,
}

#[derive(Serialize)]
struct ThresholdsStyle {
    mode: &'static str,
}

/// How a threshold line is drawn: the colour of the alert's severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// A warning alert's level.
    Warning,
    /// A critical alert's level.
    Critical,
}

/// One panel as the dashboard builders describe it.
#[derive(Clone, Debug)]
pub(crate) struct Panel {
    /// Title.
    pub title: String,
    /// What the panel shows, and the alert its lines come from.
    pub description: String,
    /// Grafana unit id: `percent` (0 to 100), `percentunit`, `s`, `bytes`, `reqps`, `short`.
    pub unit: &'static str,
    /// Queries with their legends.
    pub targets: Vec<(String, String)>,
    /// Threshold lines: alert levels, lowest first.
    pub lines: Vec<(f64, Level)>,
    /// Lowest value of the axis, when the value cannot go below it.
    pub min: Option<f64>,
}

impl Panel {
    /// A panel of `targets` in `unit`, without lines.
    pub fn new(
        title: impl Into<String>,
        description: impl Into<String>,
        unit: &'static str,
    ) -> Self {
        Panel {
            title: title.into(),
            description: description.into(),
            unit,
            targets: Vec::new(),
            lines: Vec::new(),
            min: Some(0.0),
        }
    }

    /// The panel with one more query.
    pub fn target(mut self, expr: impl Into<String>, legend: impl Into<String>) -> Self {
        self.targets.push((expr.into(), legend.into()));
        self
    }
}

/// The `refId` of a panel's `i`th query, as Grafana names them: `A` to `Z`, then `AA`, `AB`…
/// A panel of the overview has one query per service, so there may be more than 26.
fn ref_id(i: usize) -> String {
    let mut n = i + 1;
    let mut id = Vec::new();
    while n > 0 {
        n -= 1;
        id.push(b'A' + (n % 26) as u8);
        n /= 26;
    }
    id.reverse();
    String::from_utf8(id).unwrap_or_default()
}

/// The dashboard `uid` titled `title`, its panels laid out in order, two to a row.
pub(super) fn model(
    uid: String,
    title: String,
    description: String,
    tags: Vec<String>,
    panels: Vec<Panel>,
) -> Model {
    let datasource = || Datasource {
        kind: "prometheus",
        uid: naming::GRAFANA_DATASOURCE_UID,
    };
    let panels = panels
        .into_iter()
        .zip(1u32..)
        .map(|(p, id)| {
            let slot = id - 1;
            let mut steps = vec![Step {
                color: "green",
                value: None,
            }];
            steps.extend(p.lines.iter().map(|(v, level)| Step {
                color: match level {
                    Level::Warning => "orange",
                    Level::Critical => "red",
                },
                value: Some(*v),
            }));
            PanelModel {
                id,
                kind: "timeseries",
                title: p.title,
                description: p.description,
                grid_pos: GridPos {
                    h: PANEL_HEIGHT,
                    w: PANEL_WIDTH,
                    x: (slot % 2) * PANEL_WIDTH,
                    y: (slot / 2) * PANEL_HEIGHT,
                },
                datasource: datasource(),
                targets: p
                    .targets
                    .into_iter()
                    .enumerate()
                    .map(|(i, (expr, legend))| TargetModel {
                        ref_id: ref_id(i),
                        datasource: datasource(),
                        expr,
                        legend_format: legend,
                    })
                    .collect(),
                field_config: FieldConfig {
                    defaults: FieldDefaults {
                        unit: p.unit,
                        min: p.min,
                        thresholds: Thresholds {
                            mode: "absolute",
                            steps,
                        },
                        custom: Custom {
                            thresholds_style: ThresholdsStyle {
                                mode: if p.lines.is_empty() { "off" } else { "line" },
                            },
                        },
                    },
                    overrides: Vec::new(),
                },
            }
        })
        .collect();
    Model {
        uid,
        title,
        description,
        tags,
        editable: false,
        time: Range {
            from: "now-6h",
            to: "now",
        },
        refresh: "1m",
        schema_version: SCHEMA_VERSION,
        panels,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ref_ids_go_on_after_z() {
        let ids: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702]
            .into_iter()
            .map(super::ref_id)
            .collect();
        assert_eq!(ids, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }
}
