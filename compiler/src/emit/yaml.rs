//! YAML serialization shared by the YAML targets.
//!
//! serde-saphyr quotes every string a YAML 1.1 reader could take for something else (`on`,
//! `yes`, `22:22`), which is why it is used instead of the archived serde_yaml.

use serde::Serialize;

use super::EmitError;

/// Serializes documents into one multi-document YAML stream.
pub fn to_yaml<T: Serialize>(docs: &[T]) -> Result<String, EmitError> {
    to_yaml_after(String::new(), docs)
}

/// Serializes documents into one multi-document YAML stream after `head` (a banner, a
/// comment): straight into the file's contents, where a separate string copied in after the
/// banner cost a copy of every byte and, for a moment, twice the memory of the largest files.
pub fn to_yaml_after<T: Serialize>(head: String, docs: &[T]) -> Result<String, EmitError> {
    let mut out = head;
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        // Straight into `out`: a string per document, copied over, doubled the memory of the
        // largest files (rules of every service) while they were written.
        serde_saphyr::to_fmt_writer(&mut out, doc)
            .map_err(|e| EmitError(format!("YAML serialization failed: {e}")))?;
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}
