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
        let start = out.len();
        serde_saphyr::to_fmt_writer(&mut out, doc)
            .map_err(|e| EmitError(format!("YAML serialization failed: {e}")))?;
        // Only a value with a tab can need it; most documents have none.
        if out[start..].contains('\t') {
            let fixed = indicate_tab_led_blocks(&out[start..]);
            out.truncate(start);
            out.push_str(&fixed);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// `yaml` (serde-saphyr's output) with an explicit indentation indicator on every block
/// scalar whose first non-empty line starts with a tab.
///
/// Why: YAML lets a parser find a block scalar's indentation from its first non-empty line,
/// and a tab after that indentation is content. libyaml and its ports (go-yaml, which
/// kubectl and Helm read manifests with; PyYAML's C loader) instead stop with "found a tab
/// character where an indentation space is expected". serde-saphyr writes the indicator
/// when the first line starts with spaces, not with a tab, so a spec value such as
/// `"\tindented\n"` made a manifest kubectl could not read. The indicator is the one
/// serde-saphyr writes for spaces: its block bodies sit one indentation step (2) past their
/// parent.
fn indicate_tab_led_blocks(yaml: &str) -> String {
    let lines: Vec<&str> = yaml.split_inclusive('\n').collect();
    let mut out = String::with_capacity(yaml.len() + 8);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some((style_end, parent)) = block_header(line.trim_end_matches('\n')) else {
            out.push_str(line);
            i += 1;
            continue;
        };
        // The body: every following line that is blank or indented past the parent.
        let body_end = (i + 1..lines.len())
            .find(|&j| {
                let l = lines[j].trim_end_matches('\n');
                !l.is_empty() && indentation(l) <= parent
            })
            .unwrap_or(lines.len());
        let tab_led = lines[i + 1..body_end]
            .iter()
            .map(|l| l.trim_end_matches('\n'))
            .find(|l| !l.is_empty())
            .is_some_and(|l| l[indentation(l)..].starts_with('\t'));
        if tab_led {
            out.push_str(&line[..style_end]);
            out.push('2');
            out.push_str(&line[style_end..]);
        } else {
            out.push_str(line);
        }
        for l in &lines[i + 1..body_end] {
            out.push_str(l);
        }
        i = body_end;
    }
    out
}

/// The leading spaces of `line`.
fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether `line` opens a block scalar without an indentation indicator (`key: |`, `- |-`,
/// `- key: >`): the byte offset just past its `|` or `>`, and the column its body must be
/// indented past (the key's, or for a sequence entry the dash's).
fn block_header(line: &str) -> Option<(usize, usize)> {
    let trimmed = line.trim_end_matches(['-', '+']);
    let style = trimmed.len().checked_sub(1)?;
    if !matches!(trimmed.as_bytes()[style], b'|' | b'>') {
        return None;
    }
    let mut col = indentation(line);
    let mut rest = &line[col..style];
    let mut dashes = 0;
    while let Some(r) = rest.strip_prefix("- ") {
        rest = r;
        col += 2;
        dashes += 1;
    }
    if rest.is_empty() {
        // `- |`: the entry's body sits past its dash.
        return (dashes > 0).then(|| (style + 1, col - 2));
    }
    // `key: |`, where the key is plain or quoted and the separator is `: `.
    rest.ends_with(": ").then_some((style + 1, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What libyaml reads from `yaml`, and what serde-saphyr (which wrote it) reads.
    fn both(yaml: &str) -> (serde_json::Value, serde_json::Value) {
        (
            serde_norway::from_str(yaml).expect("libyaml reads it"),
            serde_saphyr::from_str(yaml).expect("serde-saphyr reads it"),
        )
    }

    #[test]
    fn a_block_led_by_a_tab_gets_an_indentation_indicator_libyaml_reads() {
        let doc = serde_json::json!({
            "args": ["\tt\n", "  lead\nx\n", "plain\n\tsecond\n"],
            "env": [{ "name": "B", "value": "\tt\nu" }, { "name": "C", "value": "\n\tafter a blank line\n" }],
            "m": { "k": { "y": "\tq\n", "long": format!("\t{}", "word ".repeat(30)) } },
        });
        let yaml = to_yaml(&[&doc]).unwrap();
        let (libyaml, saphyr) = both(&yaml);
        assert_eq!(libyaml, doc, "{yaml}");
        assert_eq!(saphyr, doc, "{yaml}");
        // Only the blocks led by a tab changed: the second line's tab needs nothing.
        assert!(yaml.contains("- |\n  plain\n  \tsecond"), "{yaml}");
    }

    #[test]
    fn block_headers_are_found_only_where_serde_saphyr_writes_them() {
        assert_eq!(block_header("key: |"), Some((6, 0)));
        assert_eq!(block_header("  - value: |-"), Some((12, 4)));
        assert_eq!(block_header("- |"), Some((3, 0)));
        assert_eq!(block_header("    \"y\": >+"), Some((10, 4)));
        assert_eq!(block_header("key: foo |"), None);
        assert_eq!(block_header("key: |2"), None);
        assert_eq!(block_header("|"), None);
    }
}
