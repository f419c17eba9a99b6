//! Issue 26 through the real binary: every error of a file in one run, syntax errors once
//! at their cause, causes without their consequences, and help on every error.
//!
//! Each test breaks a copy of a reference example the way a person editing it would, runs
//! `plinth check --format json` under the hang guard, and reads the diagnostics back.

mod support;

use support::*;

/// The CodePal example, the largest reference spec.
fn codepal() -> String {
    std::fs::read_to_string(root().join("examples/codepal.toml")).expect("the example")
}

/// `text` with the first `from` replaced by `to`; the edit must apply.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example no longer has {from:?}");
    text.replacen(from, to, 1)
}

/// Runs `check` on `text` and returns the JSON diagnostics.
fn check(name: &str, text: &str) -> Vec<serde_json::Value> {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("platform.toml"), text).expect("write the spec");
    let out = plinth_run(&dir.0, &["check", "platform.toml", "--format", "json"]);
    assert_exit(&out, 1);
    json_diagnostics(&out)
}

/// The 1-based line of `needle`'s first occurrence in `text`.
fn line_of(text: &str, needle: &str) -> u64 {
    let at = text.find(needle).expect("needle in text");
    text[..at].matches('\n').count() as u64 + 1
}

fn summary(diags: &[serde_json::Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            format!(
                "{} {} (line {})",
                d["code"], d["message"], d["location"]["line"]
            )
        })
        .collect()
}

/// One missing `]` used to print 131 errors, starting on the line after the bracket, in the
/// parser's words. It is one error, on the bracket, with where it was noticed as a related
/// label and the TOML version in the help.
#[test]
fn a_missing_bracket_is_one_error_at_the_bracket() {
    let good = r#"ports = [{ name = "http", port = 3000 }]"#;
    let text = edit(&codepal(), good, good.trim_end_matches(']'));
    let diags = check("diag-bracket", &text);
    assert_eq!(diags.len(), 1, "{:#?}", summary(&diags));
    let d = &diags[0];
    assert_eq!(d["code"], "E002");
    assert_eq!(d["message"], "unclosed array");
    assert_eq!(
        d["location"]["line"],
        line_of(&text, good.trim_end_matches(']'))
    );
    assert_eq!(d["location"]["column"], 9, "the label is on the `[`");
    assert!(
        d["related"][0]["line"].as_u64() > d["location"]["line"].as_u64(),
        "{d:#}"
    );
    assert!(d["help"].as_str().unwrap().contains("TOML 1.1.0"), "{d:#}");
}

/// Two independent syntax problems: both are reported, each once, at its cause; nothing
/// between or after them.
#[test]
fn independent_syntax_problems_are_each_reported_once() {
    let text = edit(
        &codepal(),
        r#"image = "ghcr.io/codepal/api-gateway:1.0.0""#,
        r#"image = "ghcr.io/codepal/api-gateway:1.0.0"#,
    );
    let text = edit(
        &text,
        r#"vertical_autoscaling = "off""#,
        "vertical_autoscaling = off",
    );
    let diags = check("diag-two-syntax", &text);
    let messages: Vec<&str> = diags
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["text `off` is not quoted", "unclosed string"],
        "{:#?}",
        summary(&diags)
    );
    assert_eq!(
        diags[0]["help"].as_str().unwrap(),
        "write `vertical_autoscaling = \"off\"` (TOML 1.1.0, https://toml.io/en/v1.1.0)"
    );
}

/// A wrong type and an unknown key in nested tables used to skip every semantic check of
/// the file. Now the bad values are dropped and the rest is checked: the semantic errors
/// elsewhere are reported in the same run, and the consequences of the dropping are not.
#[test]
fn structural_errors_do_not_hide_semantic_ones() {
    let text = edit(
        &codepal(),
        r#"ports = [{ name = "http", port = 3000 }]"#,
        r#"ports = [{ name = "http", port = "3000" }]"#,
    );
    let text = edit(
        &text,
        "disruption_budget = { min_available = 2 }",
        "disruption_budget = { min_availabel = 2 }",
    );
    let text = edit(&text, r#"memory = "512Mi" }"#, r#"memory = "512 MB" }"#);
    let text = edit(
        &text,
        r#"depends_on = ["api-gateway","#,
        r#"depends_on = ["api-gateway", "auth","#,
    );
    let diags = check("diag-recovery", &text);
    let codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        ["E003", "E131", "E004", "E102"],
        "{:#?}",
        summary(&diags)
    );
    assert_eq!(diags[0]["help"], "write `port = 3000`");
    assert_eq!(diags[1]["help"], "write `\"512Mi\"`");
    assert_eq!(diags[2]["help"], "did you mean `min_available`?");
    // The probes and ingress that name the dropped port are its consequences.
    assert!(!codes.contains(&"E106"), "{:#?}", summary(&diags));
}

/// A misspelt `domain` leaves every `{domain}` host undefined: the typo is reported, the
/// hosts are not.
#[test]
fn a_misspelt_key_is_reported_without_its_consequences() {
    let path = root().join("compiler/tests/fixtures/invalid/E004-misspelt-domain.toml");
    let text = std::fs::read_to_string(path).expect("the fixture");
    let diags = check("diag-domain", &text);
    let codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E004"], "{:#?}", summary(&diags));
    assert_eq!(diags[0]["help"], "did you mean `domain`?");
}

/// Did-you-mean suggests near names only: `image` is not near `image_pull_secret`.
#[test]
fn did_you_mean_skips_mere_prefixes() {
    let text = edit(
        &codepal(),
        r#"image = "ghcr.io/codepal/api-gateway:1.0.0""#,
        "image = \"ghcr.io/codepal/api-gateway:1.0.0\"\nimage_pull_secret = \"x\"",
    );
    let diags = check("diag-prefix", &text);
    assert_eq!(diags.len(), 1, "{:#?}", summary(&diags));
    let help = diags[0]["help"].as_str().unwrap();
    assert!(!help.contains("did you mean `image`"), "{help}");
}

/// Tracing a syntax error back through text with multi-byte characters must not split one:
/// an unclosed string after `é` once panicked (exit 101) instead of reporting E002.
#[test]
fn syntax_errors_after_multi_byte_text_are_reported() {
    let text = edit(
        &codepal(),
        r#"owner = "devops@codepal.com""#,
        "owner = \"équipe devops@codepal.com",
    );
    let diags = check("diag-utf8", &text);
    assert_eq!(diags.len(), 1, "{:#?}", summary(&diags));
    assert_eq!(diags[0]["message"], "unclosed string");
}

/// Deleting one bracket, brace, quote, comma or `=` from a reference spec is one syntax
/// problem, and must print as one: never a cascade from the line after it, never the same
/// problem twice. Every occurrence of each character in every example is tried.
#[test]
fn one_deleted_character_is_at_most_one_syntax_error() {
    let mut cascades = Vec::new();
    for path in common_examples() {
        let text = std::fs::read_to_string(&path).expect("an example");
        for ch in ['[', ']', '{', '}', '"', ',', '='] {
            for (i, _) in text.match_indices(ch) {
                let broken = format!("{}{}", &text[..i], &text[i + 1..]);
                let a = plinth::check_only("platform.toml", &broken);
                let syntax: Vec<&str> = a
                    .diagnostics
                    .0
                    .iter()
                    .filter(|d| d.code.id() == "E002")
                    .map(|d| d.message.as_str())
                    .collect();
                if syntax.len() > 1 {
                    cascades.push(format!(
                        "{} without `{ch}` at {i}: {syntax:?}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(cascades.is_empty(), "{}", cascades.join("\n"));
}

/// The examples, sorted.
fn common_examples() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("examples"))
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// Giving one value of a reference spec the wrong type, or misspelling its key, is one
/// error: the value is dropped, the rest is checked, and nothing the dropping causes (a port
/// no longer declared, a receiver missing the field, a budget for replicas that are now the
/// default) is reported. Every `key = value` line of every example is tried: a string
/// becomes `1`, anything else `"x"`; the key gets its first two letters swapped.
#[test]
fn one_wrong_value_or_misspelt_key_is_one_error() {
    let mut leaks = Vec::new();
    for path in common_examples() {
        let text = std::fs::read_to_string(&path).expect("an example");
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let Some((key, rest)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let value = rest.split(" #").next().unwrap_or_default().trim();
            let simple_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let whole = (value.starts_with('[') && value.ends_with(']'))
                || (value.starts_with('{') && value.ends_with('}'))
                || (value.starts_with('"') && value.ends_with('"') && value.len() > 1)
                || value.parse::<f64>().is_ok()
                || matches!(value, "true" | "false");
            if !simple_key || !whole || key == "version" || line.starts_with([' ', '\t']) {
                continue;
            }
            let at = start + line.find(value).expect("the value is on its line");
            let wrong = if value.starts_with('"') { "1" } else { "\"x\"" };
            // The key misspelt: its first two letters swapped.
            let mut typo: Vec<char> = key.chars().collect();
            typo.swap(0, 1);
            let typo: String = typo.into_iter().collect();
            let key_at = start + line.find(key).expect("the key is on its line");
            for (what, broken) in [
                (
                    format!("`{key}` = {wrong}"),
                    format!("{}{wrong}{}", &text[..at], &text[at + value.len()..]),
                ),
                (
                    format!("`{typo}` for `{key}`"),
                    format!("{}{typo}{}", &text[..key_at], &text[key_at + key.len()..]),
                ),
            ] {
                let a = plinth::check_only("platform.toml", &broken);
                let errors: Vec<String> = a
                    .diagnostics
                    .0
                    .iter()
                    .filter(|d| d.severity() == plinth::diag::Severity::Error)
                    .map(|d| format!("{} {}", d.code.id(), d.message))
                    .collect();
                if errors.len() != 1 {
                    leaks.push(format!("{}: {what}: {errors:?}", path.display()));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// A key given twice points at both: where it is given again, and where it was first given.
#[test]
fn a_duplicate_key_points_at_its_first_occurrence() {
    let first = r#"image = "ghcr.io/codepal/api-gateway:1.0.0""#;
    let text = edit(
        &codepal(),
        first,
        &format!("{first}\nimage = \"ghcr.io/codepal/api-gateway:1.0.1\""),
    );
    let diags = check("diag-duplicate", &text);
    assert_eq!(diags.len(), 1, "{:#?}", summary(&diags));
    assert_eq!(diags[0]["message"], "duplicate key `image`");
    assert_eq!(diags[0]["location"]["line"], line_of(&text, first) + 1);
    assert_eq!(diags[0]["related"][0]["line"], line_of(&text, first));
    assert_eq!(diags[0]["related"][0]["message"], "first given here");
}
