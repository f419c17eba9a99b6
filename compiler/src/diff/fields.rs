//! Field-level comparison of two parsed resources.
//!
//! Paths read like the objects they point into: `spec.replicas`,
//! `metadata.labels["app.kubernetes.io/name"]`, and list items keyed by their name when every
//! item has one (`spec.template.spec.containers[api].image`), so a reordered or inserted
//! container does not show as every later index changing.

use serde_json::Value;

/// One field that differs. `None` means the field is absent on that side.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    /// Dotted path from the resource's root.
    pub path: String,
    /// The old value.
    pub old: Option<Value>,
    /// The new value.
    pub new: Option<Value>,
}

/// The fields that differ between `old` and `new`, in document order.
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", Some(old), Some(new), &mut out);
    out
}

/// List items are keyed by the first of these fields (JSON pointers) that every item of both
/// lists has, with unique values.
const ITEM_KEYS: &[&str] = &[
    "/name",
    "/metadata/name",
    "/alert",
    "/record",
    "/job_name",
    "/mountPath",
    "/containerPort",
    "/port",
];

fn walk(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (k, va) in a {
                walk(&join(path, k), Some(va), b.get(k), out);
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    walk(&join(path, k), None, Some(vb), out);
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            if let Some(key) = item_key(a, b) {
                let id = |v: &Value| v.pointer(key).map(display_value).unwrap_or_default();
                for va in a {
                    let vb = b.iter().find(|vb| vb.pointer(key) == va.pointer(key));
                    walk(&format!("{path}[{}]", id(va)), Some(va), vb, out);
                }
                for vb in b {
                    if !a.iter().any(|va| va.pointer(key) == vb.pointer(key)) {
                        walk(&format!("{path}[{}]", id(vb)), None, Some(vb), out);
                    }
                }
            } else if a.len() == b.len() || a.iter().chain(b).all(is_container) {
                for i in 0..a.len().max(b.len()) {
                    walk(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
                }
            } else if a != b {
                // Scalar lists (access modes, commands) read best as a whole.
                push(path, old, new, out);
            }
        }
        (a, b) if a != b => push(path, a, b, out),
        _ => {}
    }
}

fn is_container(v: &Value) -> bool {
    v.is_object() || v.is_array()
}

fn push(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    out.push(FieldChange {
        path: path.to_owned(),
        old: old.cloned(),
        new: new.cloned(),
    });
}

fn item_key(a: &[Value], b: &[Value]) -> Option<&'static str> {
    ITEM_KEYS.iter().copied().find(|key| {
        [a, b].iter().all(|list| {
            let ids: Vec<&Value> = list.iter().filter_map(|v| v.pointer(key)).collect();
            ids.len() == list.len()
                && ids.iter().all(|v| v.is_string() || v.is_number())
                && (1..ids.len()).all(|i| !ids[..i].contains(&ids[i]))
        }) && !(a.is_empty() && b.is_empty())
    })
}

/// Appends a key to a path, quoting keys that contain separators (label names).
fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

/// A value as one short line: strings bare, everything else as compact JSON, cut at 120
/// characters, with control characters escaped ([`printable`]).
pub fn display_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) if !s.is_empty() && !s.contains('\n') => printable(s).into_owned(),
        other => printable(&other.to_string()).into_owned(),
    };
    const MAX: usize = 120;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `text` with every character that could act on a terminal, a CI log or a Markdown renderer
/// instead of showing written as an escape (`\r`, `\u{1b}`): C0 controls but the tab, DEL,
/// C1 controls, and the invisible format characters that reorder or hide text (bidirectional
/// overrides and isolates, zero-width characters, the byte order mark).
///
/// The values, names and paths in a report come from files a pull request can commit, and the
/// report is printed to CI logs and posted as a comment: a raw carriage return or escape
/// sequence would let them rewrite a log line or forge a CI command, a line break would let
/// them leave a Markdown table cell.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether [`printable`] escapes `c`.
pub(crate) fn hidden(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}
