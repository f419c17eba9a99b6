//! Secret values are replaced by fingerprints before two file sets are compared.
//!
//! plinth generates secret references only, but the files `diff` reads are not all its own:
//! drift reads the committed output folder, which a pull request can fill with a Kubernetes
//! Secret holding `data`, or a `.env` file beside `compose.yaml`. The report is printed to CI
//! logs and pull-request comments, so redaction happens here, on the texts themselves, before
//! anything looks at them: the resource fields, the unified diffs of `--patch` and drift, and
//! every format render from the redacted texts, and no path around it can show a value. A
//! fingerprint (FNV-1a of the value) still tells a change apart from no change.

use std::borrow::Cow;

use serde_json::Value;

use super::FileSet;
use crate::ir::naming::is_banner_line;

/// `files` with every secret value replaced by its fingerprint; borrowed when none holds one,
/// which is every set plinth generates itself.
pub(crate) fn files(files: &FileSet) -> Cow<'_, FileSet> {
    let redacted: Vec<(&String, String)> = files
        .iter()
        .filter_map(|(path, text)| file(path, text).map(|r| (path, r)))
        .collect();
    if redacted.is_empty() {
        return Cow::Borrowed(files);
    }
    let mut out = files.clone();
    for (path, text) in redacted {
        out.insert(path.clone(), text);
    }
    Cow::Owned(out)
}

/// The text of one file with its secret values replaced, or `None` when it holds none.
///
/// A `.env` file has every value replaced. A file that declares a Kubernetes Secret has the
/// values of its `data` and `stringData` (and its annotations, where `kubectl apply` keeps a
/// copy of the whole object) replaced, and is re-serialized; when it cannot be parsed (a Helm
/// template, broken YAML), its whole text is withheld behind one fingerprint, since no line of
/// it can be shown safely.
fn file(path: &str, text: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        let redacted = dotenv(text);
        return (redacted != text).then_some(redacted);
    }
    if secret_kinds(text) == 0 {
        return None;
    }
    let parsed = if text.contains("{{") {
        None
    } else {
        serde_saphyr::from_multiple::<Value>(text).ok()
    };
    if let Some(mut docs) = parsed {
        let found: usize = docs.iter_mut().map(redact_secrets).sum();
        // Each `kind: Secret` left must be one of the objects just redacted, not a Secret
        // written inside a string (a ConfigMap holding a manifest), whose values are intact.
        if let Some(yaml) = to_yaml(text, &docs).filter(|y| found > 0 && secret_kinds(y) == found) {
            return Some(yaml);
        }
    }
    Some(format!(
        "# the text of this file is withheld: it declares a Kubernetes Secret (fingerprint {:08x})\n",
        fnv(text)
    ))
}

/// A `.env` file with each value replaced by its fingerprint; names and comments stay.
fn dotenv(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(line);
        } else if let Some((name, value)) = line.split_once('=') {
            out.push_str(name);
            out.push('=');
            if !value.trim().is_empty() {
                out.push_str(&redacted(value));
            }
        } else {
            out.push_str(&redacted(line));
        }
        out.push('\n');
    }
    out
}

/// How many times the text says `kind: Secret`, in YAML or JSON spelling, quoted or not.
fn secret_kinds(text: &str) -> usize {
    let quote_or_space = |c: char| matches!(c, ' ' | '\t' | '"' | '\'');
    text.match_indices("kind")
        .filter(|(i, _)| {
            let rest = text[i + 4..].trim_start_matches(quote_or_space);
            let Some(rest) = rest.strip_prefix(':') else {
                return false;
            };
            let rest = rest.trim_start_matches(quote_or_space);
            let rest = rest.strip_prefix("!!str").unwrap_or(rest);
            let rest = rest.trim_start_matches(quote_or_space);
            rest.strip_prefix("Secret")
                .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        })
        .count()
}

/// Replaces the values of every Secret object in `doc` (at any depth, so the items of a
/// `List` too), returning how many there were.
fn redact_secrets(doc: &mut Value) -> usize {
    match doc {
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("Secret") {
                for field in ["data", "stringData"] {
                    if let Some(values) = map.get_mut(field) {
                        redact_values(values);
                    }
                }
                if let Some(annotations) = map
                    .get_mut("metadata")
                    .and_then(|m| m.get_mut("annotations"))
                {
                    redact_values(annotations);
                }
                return 1;
            }
            map.values_mut().map(redact_secrets).sum()
        }
        Value::Array(items) => items.iter_mut().map(redact_secrets).sum(),
        _ => 0,
    }
}

/// Replaces each value of a map (or the value itself, when it is not a map) by its
/// fingerprint.
fn redact_values(values: &mut Value) {
    match values {
        Value::Object(map) => {
            for v in map.values_mut() {
                *v = Value::String(redacted(&v.to_string()));
            }
        }
        other => *other = Value::String(redacted(&other.to_string())),
    }
}

/// The documents as YAML after the file's banner, if it had one; `None` if they do not
/// serialize.
fn to_yaml(original: &str, docs: &[Value]) -> Option<String> {
    let mut out = String::new();
    if let Some(first) = original.lines().next().filter(|l| is_banner_line(l)) {
        out.push_str(first);
        out.push('\n');
    }
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        serde_saphyr::to_fmt_writer(&mut out, doc).ok()?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Some(out)
}

/// What a secret value shows as.
fn redacted(value: &str) -> String {
    format!("(redacted, fingerprint {:08x})", fnv(value))
}

/// A short non-cryptographic fingerprint (FNV-1a), enough to tell two values apart.
fn fnv(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
