//! Docs: `docs/<env>.md` per environment, the platform as its reference documents describe
//! it by hand — a Mermaid drawing of workloads, data stores, dependencies, hosts and alert
//! routing ([`graph`]), and tables of resources, scaling bounds, ingress hosts, alert
//! thresholds and backups. GitHub renders Mermaid, so the repository that holds the output
//! always shows the platform as it is deployed.
//!
//! Every table cell is a code span or escaped text (see [`cell`]), and every Mermaid label is
//! escaped by the graph, so no spec text becomes Markdown, HTML or Mermaid syntax.

pub mod graph;

use std::fmt::Write as _;

use super::{EmitError, Emitted, OutputFile, Shared};
use crate::ir::{self, naming, Environment, Replicas, Role};
use crate::units::{format_bytes, format_cpu, format_duration};

/// Emits `docs/<env>.md` for every environment in `envs`.
pub fn emit(shared: &Shared, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let platform = shared.platform();
    let mut out = Emitted::default();
    for env in envs {
        out.files.push(OutputFile {
            path: naming::docs_file(&env.name),
            contents: document(shared, platform, env),
        });
    }
    Ok(out)
}

/// The document of one environment.
fn document(shared: &Shared, platform: &ir::Platform, env: &Environment) -> String {
    let mut d = format!("<!-- {} -->\n\n", naming::banner(&platform.spec_path));
    let _ = writeln!(d, "# {} — {}\n", text(&platform.name), text(&env.name));
    let _ = writeln!(
        d,
        "Namespace {}{}. Generated from the spec: edit the spec, not this file.\n",
        code(&env.namespace),
        env.domain
            .as_ref()
            .map(|dm| format!(", domain {}", code(dm)))
            .unwrap_or_default()
    );
    d.push_str("## Platform\n\n```mermaid\n");
    d.push_str(&graph::build(shared, env).mermaid());
    d.push_str("```\n\n");
    components(env, &mut d);
    scaling(env, &mut d);
    ingress(env, &mut d);
    thresholds(shared, env, &mut d);
    backups(env, &mut d);
    d
}

/// A Markdown table: header, then rows of already-escaped cells.
fn table(d: &mut String, title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let _ = writeln!(d, "## {title}\n");
    if rows.is_empty() {
        d.push_str("None.\n\n");
        return;
    }
    let _ = writeln!(d, "| {} |", header.join(" | "));
    let _ = writeln!(d, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(d, "| {} |", r.join(" | "));
    }
    d.push('\n');
}

/// Resources per component: what each workload requests and may use.
fn components(env: &Environment, d: &mut String) {
    let mut rows: Vec<Vec<String>> = env
        .workloads
        .iter()
        .map(|w| {
            let kind = match &w.role {
                Role::Service => graph::kind_name(w.kind).to_owned(),
                Role::DataStore(s) => format!("{} {}", s.engine, s.version),
            };
            let replicas = match &w.replicas {
                Replicas::Fixed(n) => n.to_string(),
                Replicas::Auto(a) => format!("{}–{}", a.min, a.max),
            };
            vec![
                code(&w.name),
                text(&kind),
                code(&w.image),
                replicas,
                format!(
                    "{} / {}",
                    format_cpu(w.resources.cpu_request),
                    format_cpu(w.resources.cpu_limit)
                ),
                format!(
                    "{} / {}",
                    format_bytes(w.resources.memory_request),
                    format_bytes(w.resources.memory_limit)
                ),
                w.storage
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |s| format_bytes(s.size)),
            ]
        })
        .collect();
    rows.extend(env.managed_stores.iter().map(|s| {
        vec![
            code(&s.name),
            match &s.instance_class {
                Some(class) => format!(
                    "{} {}",
                    text(&format!("{} {}, managed", s.engine, s.version)),
                    code(class)
                ),
                None => text(&format!("{} {}, managed", s.engine, s.version)),
            },
            "—".to_owned(),
            if s.read_replicas > 0 {
                format!("1 + {} read", s.read_replicas)
            } else {
                "1".to_owned()
            },
            "—".to_owned(),
            "—".to_owned(),
            if s.storage > 0 {
                format_bytes(s.storage)
            } else {
                "—".to_owned()
            },
        ]
    }));
    table(
        d,
        "Components",
        &[
            "component",
            "kind",
            "image",
            "replicas",
            "CPU request / limit",
            "memory request / limit",
            "storage",
        ],
        rows,
    );
}

/// Scaling bounds of every autoscaled workload.
fn scaling(env: &Environment, d: &mut String) {
    let rows = env
        .workloads
        .iter()
        .filter_map(|w| match &w.replicas {
            Replicas::Auto(a) => Some(vec![
                code(&w.name),
                a.min.to_string(),
                a.max.to_string(),
                a.cpu.map_or_else(|| "—".to_owned(), |c| format!("{c}%")),
                a.memory.map_or_else(|| "—".to_owned(), |m| format!("{m}%")),
                if a.pod_metrics.is_empty() {
                    "—".to_owned()
                } else {
                    a.pod_metrics
                        .iter()
                        .map(|(n, t)| format!("{} {}", code(n), code(t)))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ]),
            Replicas::Fixed(_) => None,
        })
        .collect();
    table(
        d,
        "Scaling",
        &[
            "component",
            "min",
            "max",
            "CPU target",
            "memory target",
            "per-pod metrics",
        ],
        rows,
    );
}

/// Public hosts and what they route to.
fn ingress(env: &Environment, d: &mut String) {
    let mut rows: Vec<Vec<String>> = env
        .workloads
        .iter()
        .filter_map(|w| {
            w.ingress.as_ref().map(|i| {
                vec![
                    code(&i.host),
                    code(&i.path),
                    code(&w.name),
                    i.port.port.to_string(),
                    if i.tls { "yes" } else { "no" }.to_owned(),
                ]
            })
        })
        .collect();
    rows.sort();
    table(
        d,
        "Ingress",
        &["host", "path", "component", "port", "TLS"],
        rows,
    );
}

/// Alert thresholds: every threshold alert of the environment's catalogue (the rules the
/// Prometheus target writes), with its levels and hold time, and the spec's own rules.
fn thresholds(shared: &Shared, env: &Environment, d: &mut String) {
    use crate::emit::prometheus::signals::{num, Unit};
    let rules = shared.rules(env);
    let label = |a: &crate::emit::prometheus::catalogue::Alert, key: &str| {
        a.labels
            .get(key)
            .map_or_else(|| "—".to_owned(), |v| code(v))
    };
    let mut rows: Vec<Vec<String>> = rules
        .catalogue
        .families
        .iter()
        .filter_map(|f| {
            let (_, first) = f.levels.first()?;
            let unit = match f.signal.unit() {
                Unit::Percent => "%",
                Unit::Seconds => " s",
                Unit::Number => "",
            };
            let levels = f
                .levels
                .iter()
                .map(|(v, a)| {
                    let severity = a
                        .labels
                        .get(naming::alert_label::SEVERITY)
                        .map_or("", String::as_str);
                    format!("{} {}{unit}", text(severity), num(*v))
                })
                .collect::<Vec<_>>()
                .join(", ");
            Some(vec![
                code(&first.name),
                label(first, naming::alert_label::SERVICE),
                levels,
                format_duration(f.for_ms),
            ])
        })
        .collect();
    rows.extend(env.observability.rules.iter().map(|r| {
        vec![
            code(&r.name),
            "—".to_owned(),
            text(&format!("{:?}", r.severity).to_lowercase()),
            format_duration(r.for_ms),
        ]
    }));
    table(
        d,
        "Alert thresholds",
        &["alert", "component", "levels", "for"],
        rows,
    );
}

/// Backup schedules of the data stores.
fn backups(env: &Environment, d: &mut String) {
    let row = |name: &str, mode: &str, b: &ir::Backup| {
        vec![
            code(name),
            mode.to_owned(),
            b.schedule.as_deref().map_or_else(|| "—".to_owned(), code),
            format_duration(b.retention_ms),
            if b.continuous { "yes" } else { "no" }.to_owned(),
        ]
    };
    let mut rows: Vec<Vec<String>> = env
        .workloads
        .iter()
        .filter_map(|w| match &w.role {
            Role::DataStore(s) => s.backup.as_ref().map(|b| row(&w.name, "in cluster", b)),
            Role::Service => None,
        })
        .collect();
    rows.extend(
        env.managed_stores
            .iter()
            .filter_map(|s| s.backup.as_ref().map(|b| row(&s.name, "managed", b))),
    );
    table(
        d,
        "Backups",
        &["data store", "mode", "schedule", "retention", "continuous"],
        rows,
    );
}

/// A value from the spec as a code span in a table cell: nothing inside is Markdown, and a
/// `|` is escaped so it does not split the cell. A value holding a backtick or a line break
/// (which would end the span) is written as escaped text instead.
fn code(s: &str) -> String {
    if s.contains(['`', '\n', '\r']) {
        return text(s);
    }
    format!("`{}`", s.replace('|', "\\|"))
}

/// A value from the spec as plain Markdown text: every character but letters, digits, space
/// and `.,:/-–` is a numeric character reference, so it can be neither Markdown nor HTML.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || " .,:/-–".contains(c) {
            out.push(c);
        } else {
            let _ = write!(out, "&#{};", u32::from(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_become_markdown_or_html() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "x&#96;y");
        assert_eq!(text("<b>*x*</b>"), "&#60;b&#62;&#42;x&#42;&#60;/b&#62;");
    }
}
