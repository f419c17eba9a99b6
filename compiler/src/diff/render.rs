//! Renders a [`Report`] as text: human (optionally coloured), JSON, or Markdown for a
//! pull-request comment. Pure: the strings are printed by `cli`.
//!
//! Every format shows the same facts: resource changes with their changed fields, the risks
//! flagged on them, the files that differ and, when asked, the unified diff of each file.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::fields::{hidden, printable};
use super::{display_value, Change, FieldChange, Report, ResourceChange, RiskLevel};

/// What to include and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Whether to use ANSI colours (human format only).
    pub color: bool,
    /// Whether to include the unified diff of every file.
    pub patch: bool,
}

/// Counts of a report, shared by the summary of every format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Files added, removed, modified.
    pub files: [usize; 3],
    /// Resources added, removed, changed.
    pub resources: [usize; 3],
    /// Resource changes flagged destructive.
    pub destructive: usize,
    /// Resource changes flagged as restarting state (and not destructive).
    pub restart: usize,
}

fn index(c: Change) -> usize {
    match c {
        Change::Added => 0,
        Change::Removed => 1,
        Change::Modified => 2,
    }
}

impl Counts {
    /// Counts `report`.
    pub fn of(report: &Report) -> Counts {
        let mut c = Counts::default();
        for f in &report.files {
            c.files[index(f.change)] += 1;
        }
        for r in &report.resources {
            c.resources[index(r.change)] += 1;
            if r.is_destructive() {
                c.destructive += 1;
            } else if !r.risks.is_empty() {
                c.restart += 1;
            }
        }
        c
    }

    /// One line: "2 resources changed, 1 removed in 3 files (1 destructive)", or "no changes".
    pub fn line(&self) -> String {
        let files: usize = self.files.iter().sum();
        if files == 0 {
            return "no changes".to_owned();
        }
        let [ra, rr, rc] = self.resources;
        let mut parts = Vec::new();
        for (n, w) in [(ra, "added"), (rc, "changed"), (rr, "removed")] {
            if n > 0 {
                parts.push(format!("{n} {w}"));
            }
        }
        let resources = if parts.is_empty() {
            "no resource changes".to_owned()
        } else {
            format!("resources: {}", parts.join(", "))
        };
        let [fa, fr, fm] = self.files;
        let mut line = format!("{resources}; files: {fa} added, {fm} modified, {fr} removed");
        if self.destructive > 0 || self.restart > 0 {
            let _ = write!(
                line,
                "; {} destructive, {} restarting state",
                self.destructive, self.restart
            );
        }
        line
    }
}

fn field_line(f: &FieldChange) -> String {
    let show = |v: &Option<Value>| {
        v.as_ref()
            .map(display_value)
            .unwrap_or_else(|| "(none)".to_owned())
    };
    format!(
        "{}: {} → {}",
        printable(&f.path),
        show(&f.old),
        show(&f.new)
    )
}

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn change(&self, c: Change, text: &str) -> String {
        match c {
            Change::Added => self.code("32", text),
            Change::Removed => self.code("31", text),
            Change::Modified => self.code("33", text),
        }
    }
}

/// Human-readable text: resources grouped by file, then the patch, then the summary line.
pub fn human(report: &Report, options: &Options) -> String {
    let paint = Paint(options.color);
    let mut out = String::new();
    let mut file = None;
    for r in &report.resources {
        if file != Some(&r.file) {
            let _ = writeln!(out, "{}", paint.code("1", &printable(&r.file)));
            file = Some(&r.file);
        }
        let head = format!("  {} {}", r.change.marker(), printable(&r.title()));
        let _ = writeln!(out, "{}", paint.change(r.change, &head));
        for f in &r.fields {
            let _ = writeln!(out, "      {}", field_line(f));
        }
        if r.change == Change::Modified && r.fields.is_empty() {
            let _ = writeln!(out, "      (compared by text; see the file diff)");
        }
        for risk in &r.risks {
            let text = format!("      ! {}: {}", risk.level.word(), printable(&risk.reason));
            let _ = writeln!(
                out,
                "{}",
                match risk.level {
                    RiskLevel::Destructive => paint.code("1;31", &text),
                    RiskLevel::Restart => paint.code("35", &text),
                }
            );
        }
    }
    if options.patch {
        for f in &report.files {
            if !out.is_empty() {
                out.push('\n');
            }
            for line in f.unified().lines() {
                let line = &*printable(line);
                let colored = if line.starts_with("+++") || line.starts_with("---") {
                    paint.code("1", line)
                } else if line.starts_with('+') {
                    paint.code("32", line)
                } else if line.starts_with('-') {
                    paint.code("31", line)
                } else if line.starts_with("@@") {
                    paint.code("36", line)
                } else {
                    line.to_owned()
                };
                let _ = writeln!(out, "{colored}");
            }
        }
    } else if !report.files.is_empty() {
        out.push('\n');
        for f in &report.files {
            let text = format!("{} {}", f.change.marker(), printable(&f.path));
            let _ = writeln!(out, "{}", paint.change(f.change, &text));
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let counts = Counts::of(report);
    let _ = writeln!(out, "{}", counts.line());
    out
}

fn resource_json(r: &ResourceChange) -> Value {
    json!({
        "artifact": r.artifact.name(),
        "file": r.file,
        "kind": r.kind,
        "name": r.name,
        "change": r.change.word(),
        "fields": r.fields.iter().map(|f| json!({
            "path": f.path,
            "old": f.old,
            "new": f.new,
        })).collect::<Vec<_>>(),
        "risks": r.risks.iter().map(|k| json!({
            "level": k.level.word(),
            "reason": k.reason,
        })).collect::<Vec<_>>(),
    })
}

/// JSON: `{changes, summary, resources, files}`; `files[].patch` only with `patch`.
pub fn json(report: &Report, options: &Options) -> String {
    let c = Counts::of(report);
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            let mut v = json!({ "path": f.path, "change": f.change.word() });
            if options.patch {
                v["patch"] = Value::String(f.unified());
            }
            v
        })
        .collect();
    let v = json!({
        "changes": report.has_changes(),
        "summary": {
            "files": { "added": c.files[0], "removed": c.files[1], "modified": c.files[2] },
            "resources": { "added": c.resources[0], "removed": c.resources[1], "changed": c.resources[2] },
            "destructive": c.destructive,
            "restart": c.restart,
        },
        "resources": report.resources.iter().map(resource_json).collect::<Vec<_>>(),
        "files": files,
    });
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    // serde_json escapes the C0 controls; the rest that `printable` hides (DEL, C1, the
    // invisible format characters) can only be inside strings, where a `\uXXXX` escape keeps
    // the value the same for a JSON reader and keeps the text inert on a terminal.
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if c != '\n' && hidden(c) {
            let mut units = [0; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    out
}

/// Inline code for a Markdown table cell that nothing in `text` can break out of: control
/// characters escaped ([`printable`]), pipes escaped for the table, and a fence of one
/// backtick more than the longest run inside (CommonMark's rule), padded with a space when the
/// text starts or ends with a backtick or a space, which the renderer strips again.
fn code(text: &str) -> String {
    let clean = printable(text).replace('|', "\\|");
    let longest = clean.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if clean.starts_with(['`', ' ']) || clean.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{clean}{pad}{fence}")
}

/// Plain Markdown text that shows exactly as written: control characters escaped, and every
/// ASCII punctuation character that Markdown or HTML could read as markup backslash-escaped
/// (CommonMark allows it before any ASCII punctuation). Risk reasons quote names and images
/// from the files compared, which a pull request can choose.
fn text(text: &str) -> String {
    let mut out = String::new();
    for c in printable(text).chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text for an HTML element (the `<summary>` of a patch), which Markdown does not read.
fn html(text: &str) -> String {
    printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How many field changes a Markdown row lists before "and N more".
const MAX_FIELDS: usize = 8;

/// Markdown for a pull-request comment: a summary, destructive changes in a caution block, a
/// table of resource changes, and the patch in collapsed sections.
pub fn markdown(report: &Report, options: &Options) -> String {
    let c = Counts::of(report);
    let mut out = String::new();
    let _ = writeln!(out, "### plinth diff\n\n{}\n", c.line());
    let destructive: Vec<&ResourceChange> = report.destructive().collect();
    if !destructive.is_empty() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **{} destructive change{}**",
            destructive.len(),
            if destructive.len() == 1 { "" } else { "s" }
        );
        for r in &destructive {
            for risk in r.risks.iter().filter(|k| k.level == RiskLevel::Destructive) {
                let _ = writeln!(
                    out,
                    "> - {} in {}: {}",
                    code(&r.title()),
                    code(&r.file),
                    text(&risk.reason)
                );
            }
        }
        out.push('\n');
    }
    if !report.resources.is_empty() {
        out.push_str("| | resource | file | changes |\n|---|---|---|---|\n");
        for r in &report.resources {
            let mut cells: Vec<String> = r
                .fields
                .iter()
                .take(MAX_FIELDS)
                .map(|f| {
                    let show = |v: &Option<Value>| {
                        v.as_ref()
                            .map(|v| code(&display_value(v)))
                            .unwrap_or_else(|| "(none)".to_owned())
                    };
                    format!("{}: {} → {}", code(&f.path), show(&f.old), show(&f.new))
                })
                .collect();
            if r.fields.len() > MAX_FIELDS {
                cells.push(format!("… and {} more", r.fields.len() - MAX_FIELDS));
            }
            for risk in &r.risks {
                let icon = match risk.level {
                    RiskLevel::Destructive => "**destructive**",
                    RiskLevel::Restart => "*restart*",
                };
                cells.push(format!("{icon}: {}", text(&risk.reason)));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.change.word(),
                code(&r.title()),
                code(&r.file),
                cells.join("<br>")
            );
        }
        out.push('\n');
    }
    if options.patch {
        for f in &report.files {
            let mut patch = String::new();
            for line in f.unified().lines() {
                patch.push_str(&printable(line));
                patch.push('\n');
            }
            // A fenced block ends only at a line of at least as many backticks as opened it.
            let longest = patch.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            let fence = "`".repeat(longest.max(2) + 1);
            let _ = writeln!(
                out,
                "<details><summary>{} <code>{}</code></summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n",
                f.change.word(),
                html(&f.path),
                patch
            );
        }
    }
    out
}
