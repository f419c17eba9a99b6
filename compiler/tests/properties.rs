//! Property tests: random valid specs (`plinth::synth::random`, driven by proptest's bytes)
//! compile without errors, compile to the same bytes twice, and every generated file parses
//! back with a real YAML, HCL or JSON parser, carrying the awkward plain values through
//! unchanged.
//!
//! The same generator feeds the `structured` fuzz target; proptest adds shrinking and runs on
//! every `cargo test`. Set `PROPTEST_CASES` for a longer run.

use std::collections::BTreeSet;

use arbitrary::Unstructured;
use plinth::emit::OutputFile;
use proptest::prelude::*;
use serde_json::Value;

/// Compiles `text` (all targets, all environments) or fails with the rendered diagnostics.
fn compile(text: &str) -> Result<Vec<OutputFile>, TestCaseError> {
    let c = plinth::compile("random.toml", text, &plinth::Options::default());
    if c.diagnostics.has_errors() {
        let shown = plinth::cli::render::human(&c.sources, &c.diagnostics.0, false, 100);
        return Err(TestCaseError::fail(format!(
            "a valid spec does not compile:\n{text}\n{shown}"
        )));
    }
    Ok(c.files)
}

/// Every string scalar in a parsed document.
fn strings(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.insert(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

/// Parses one generated file with the parser its consumer uses, returning its documents.
/// Helm templates are Go templates, not YAML, until Helm renders them: they are skipped.
fn parse(f: &OutputFile) -> Result<Vec<Value>, String> {
    let path = f.path.as_str();
    if path.contains("/templates/") {
        return Ok(Vec::new());
    }
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        serde_saphyr::from_multiple::<Value>(&f.contents).map_err(|e| e.to_string())
    } else if path.ends_with(".json") {
        serde_json::from_str(&f.contents)
            .map(|v| vec![v])
            .map_err(|e| e.to_string())
    } else if path.ends_with(".tf") || path.ends_with(".tfvars") {
        hcl::parse(&f.contents)
            .map(|_| Vec::new())
            .map_err(|e| e.to_string())
    } else {
        Ok(Vec::new())
    }
}

/// The plain `env` values of the spec, base and environment overrides.
fn env_values(text: &str) -> Vec<String> {
    let doc: toml::Table = text.parse().expect("the generator writes valid TOML");
    let mut out = Vec::new();
    let mut tables = vec![&doc];
    while let Some(t) = tables.pop() {
        for (k, v) in t {
            match v {
                toml::Value::Table(inner) if k == "env" => {
                    out.extend(inner.values().filter_map(|x| x.as_str().map(str::to_owned)))
                }
                toml::Value::Table(inner) => tables.push(inner),
                _ => {}
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_specs_compile_deterministically_to_parseable_files(
        bytes in proptest::collection::vec(any::<u8>(), 16..2048)
    ) {
        let text = plinth::synth::random(&mut Unstructured::new(&bytes))
            .map_err(|e| TestCaseError::reject(e.to_string()))?;
        let first = compile(&text)?;
        let second = compile(&text)?;
        prop_assert!(first == second, "two compilations of one spec differ");

        let mut seen = BTreeSet::new();
        for f in &first {
            let docs = parse(f).map_err(|e| {
                TestCaseError::fail(format!("{} does not parse: {e}\n{}", f.path, f.contents))
            })?;
            if f.path.starts_with("k8s/") {
                docs.iter().for_each(|d| strings(d, &mut seen));
            }
        }
        // Every plain value reaches the Kubernetes manifests exactly as written: quoting of
        // YAML 1.1 booleans, numbers, `#`, quotes and control characters round-trips.
        for value in env_values(&text) {
            prop_assert!(
                seen.contains(&value),
                "env value {value:?} is not in the parsed manifests"
            );
        }
    }
}
