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
/// A `.env` file has every value replaced. Any other file that YAML could declare a Secret in
/// is parsed, and every object whose parsed `kind` is `Secret` has the values of its `data` and
/// `stringData` (and its annotations, where `kubectl apply` keeps a copy of the whole object)
/// replaced, and the file is re-serialized. The decision is made on the parsed documents, not
/// on the text, since YAML spells one value many ways (`kind:` and `Secret` on two lines, an
/// anchor, a tag, an escape). A file that might declare one but cannot be parsed (a Helm
/// template, broken YAML) has its whole text withheld behind one fingerprint, since no line of
/// it can be shown safely.
fn file(path: &str, text: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        let redacted = dotenv(text);
        return (redacted != text).then_some(redacted);
    }
    if !might_declare_secret(name, text) {
        return None;
    }
    let parsed = if text.contains("{{") {
        // A template is text, not YAML, until Helm renders it: it is withheld when it names a
        // Secret anywhere or holds an escape (a Go string literal spells `\x53ecret` too), and
        // otherwise shown, because plinth's own chart templates (which hold neither) must stay
        // readable in a review.
        if !names_secret(text) && !text.contains('\\') {
            return None;
        }
        None
    } else {
        serde_saphyr::from_multiple::<Value>(text).ok()
    };
    if let Some(mut docs) = parsed {
        let replaced: usize = docs.iter_mut().map(redact_secrets).sum();
        if replaced == 0 {
            return None;
        }
        if let Some(yaml) = to_yaml(text, &docs) {
            return Some(yaml);
        }
    }
    Some(format!(
        "# the text of this file is withheld: it may declare a Kubernetes Secret (fingerprint {:08x})\n",
        fnv(text)
    ))
}

/// Whether a file could hold a YAML document whose `kind` is `Secret`, decided cheaply so that
/// most generated files are not parsed twice.
///
/// Terraform and Markdown are never read as YAML by a cluster tool. In any other file, a YAML
/// scalar can only equal `Secret` if the text holds the word, or writes it with an escape
/// (`"\x53ecret"`), which needs a backslash: plain and quoted scalars that are folded over
/// lines gain a space, and anchors, aliases, tags and JSON spelling all keep the word.
fn might_declare_secret(name: &str, text: &str) -> bool {
    let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
    if matches!(extension, "tf" | "md") {
        return false;
    }
    text.contains("Secret") || text.contains('\\')
}

/// Whether `Secret` occurs as a word of its own (not inside `ExternalSecret` or `SecretStore`).
fn names_secret(text: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices("Secret")
        .any(|(i, m)| !text[..i].ends_with(word) && !text[i + m.len()..].starts_with(word))
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

/// Replaces the values of every Secret object in `doc` (at any depth, so the items of a
/// `List` too), returning how many values were replaced.
fn redact_secrets(doc: &mut Value) -> usize {
    match doc {
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("Secret") {
                let mut replaced = 0;
                for field in ["data", "stringData"] {
                    if let Some(values) = map.get_mut(field) {
                        replaced += redact_values(values);
                    }
                }
                if let Some(annotations) = map
                    .get_mut("metadata")
                    .and_then(|m| m.get_mut("annotations"))
                {
                    replaced += redact_values(annotations);
                }
                return replaced;
            }
            map.values_mut().map(redact_secrets).sum()
        }
        Value::Array(items) => items.iter_mut().map(redact_secrets).sum(),
        _ => 0,
    }
}

/// Replaces each value of a map (or the value itself, when it is not a map) by its
/// fingerprint, returning how many were replaced.
fn redact_values(values: &mut Value) -> usize {
    match values {
        Value::Object(map) => {
            for v in map.values_mut() {
                *v = Value::String(redacted(&v.to_string()));
            }
            map.len()
        }
        other => {
            *other = Value::String(redacted(&other.to_string()));
            1
        }
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
