//! Rendering diagnostics: human (miette, colour only on a terminal and without NO_COLOR),
//! JSON (one object per diagnostic, for tools), and GitHub workflow annotations.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde_json::json;

use crate::diag::{Diagnostic, Severity};
use crate::source::Sources;

/// Output format for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Source snippets with labels, for people.
    Human,
    /// A JSON array, for tools.
    Json,
    /// `::error file=…` workflow commands, for GitHub Actions annotations.
    Github,
}

/// One diagnostic with its source, in the shape miette renders.
struct Report<'a> {
    d: &'a Diagnostic,
    src: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    notes: Vec<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}
impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}
impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!(
            "{}({})",
            self.d.code.id(),
            self.d.code.name()
        )))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let mut parts: Vec<String> = self.notes.clone();
        parts.extend(self.d.help.clone());
        (!parts.is_empty()).then(|| Box::new(parts.join("\n")) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        (!self.labels.is_empty()).then_some(&self.src as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

fn span(range: &std::ops::Range<usize>, len: usize) -> SourceSpan {
    let start = range.start.min(len);
    let end = range.end.clamp(start, len);
    SourceSpan::new(start.into(), end - start)
}

/// Renders diagnostics for people. `color` chooses the theme; `width` wraps the text.
pub fn human(sources: &Sources, diags: &[Diagnostic], color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    for d in diags {
        let (src, labels, notes) = match &d.primary {
            Some(p) => {
                let file = sources.get(p.span.source);
                let len = file.text.len();
                let mut labels = vec![LabeledSpan::new_primary_with_span(
                    Some(p.message.clone()),
                    span(&p.span.range, len),
                )];
                let mut notes = Vec::new();
                for r in &d.related {
                    if r.span.source == p.span.source {
                        labels.push(LabeledSpan::new_with_span(
                            Some(r.message.clone()),
                            span(&r.span.range, len),
                        ));
                    } else {
                        let (line, col) = sources.line_col(r.span.source, r.span.range.start);
                        notes.push(format!(
                            "{}: {}:{}:{}",
                            r.message,
                            sources.get(r.span.source).name,
                            line,
                            col
                        ));
                    }
                }
                (
                    NamedSource::new(file.name.clone(), file.text.clone()),
                    labels,
                    notes,
                )
            }
            None => (
                NamedSource::new(String::new(), String::new()),
                Vec::new(),
                Vec::new(),
            ),
        };
        let report = Report {
            d,
            src,
            labels,
            notes,
        };
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

fn location(sources: &Sources, d: &Diagnostic) -> Option<(String, usize, usize, usize, usize)> {
    let p = d.primary.as_ref()?;
    let (line, column) = sources.line_col(p.span.source, p.span.range.start);
    let (end_line, end_column) = sources.line_col(p.span.source, p.span.range.end);
    Some((
        sources.get(p.span.source).name.clone(),
        line,
        column,
        end_line,
        end_column,
    ))
}

/// Renders diagnostics as a JSON array.
pub fn json(sources: &Sources, diags: &[Diagnostic]) -> String {
    let mut s = serde_json::to_string_pretty(&json_value(sources, diags))
        .unwrap_or_else(|_| "[]".to_owned());
    s.push('\n');
    s
}

/// The diagnostics as a JSON array, one object each: what [`json`] prints, and what `build
/// --format json` puts in its report.
pub fn json_value(sources: &Sources, diags: &[Diagnostic]) -> serde_json::Value {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let loc = location(sources, d).map(|(file, line, column, end_line, end_column)| {
                json!({ "file": file, "line": line, "column": column, "end_line": end_line, "end_column": end_column })
            });
            json!({
                "code": d.code.id(),
                "name": d.code.name(),
                "severity": match d.severity() { Severity::Error => "error", Severity::Warning => "warning" },
                "message": d.message,
                "label": d.primary.as_ref().map(|l| l.message.clone()),
                "location": loc,
                "help": d.help,
                "related": d.related.iter().map(|r| {
                    let (line, column) = sources.line_col(r.span.source, r.span.range.start);
                    json!({ "file": sources.get(r.span.source).name, "line": line, "column": column, "message": r.message })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::Value::Array(items)
}

/// Escapes a workflow command's data.
fn gh_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property.
fn gh_prop(s: &str) -> String {
    gh_escape(s).replace(':', "%3A").replace(',', "%2C")
}

/// Renders diagnostics as GitHub Actions workflow commands.
pub fn github(sources: &Sources, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let level = match d.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!(
            "title={}",
            gh_prop(&format!("{} {}", d.code.id(), d.code.name()))
        )];
        if let Some((file, line, col, end_line, end_col)) = location(sources, d) {
            props.insert(0, format!("file={}", gh_prop(&file)));
            props.insert(
                1,
                format!("line={line},col={col},endLine={end_line},endColumn={end_col}"),
            );
        }
        let mut msg = d.message.clone();
        if let Some(h) = &d.help {
            msg.push_str("\nhelp: ");
            msg.push_str(h);
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            gh_escape(&msg)
        ));
    }
    out
}
