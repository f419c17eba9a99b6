//! The committed JSON Schema is current, and it accepts every example.

mod common;

use common::*;

#[test]
fn committed_schema_is_current() {
    let path = root().join("schemas/platform.schema.json");
    let fresh = plinth::spec::schema_text();
    if std::env::var_os("PLINTH_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schemas/platform.schema.json is stale: run `PLINTH_UPDATE_SCHEMA=1 cargo test --test schema` and commit it"
    );
}

/// `docs/spec.md`, the reference for people, is rendered from the same schema and is current.
#[test]
fn committed_reference_is_current() {
    let path = root().join("docs/spec.md");
    let fresh = plinth::spec::reference();
    if std::env::var_os("PLINTH_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/spec.md is stale: run `PLINTH_UPDATE_SCHEMA=1 cargo test --test schema` and commit it"
    );
}

#[test]
fn schema_accepts_every_example() {
    let schema = plinth::spec::schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let examples = toml_files("examples");
    assert!(!examples.is_empty());
    for path in examples {
        let text = std::fs::read_to_string(&path).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        let json = serde_json::to_value(value).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path().as_str()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn examples_point_editors_at_the_schema() {
    for path in toml_files("examples") {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("#:schema ../schemas/platform.schema.json"),
            "{} lacks the taplo #:schema line",
            path.display()
        );
    }
}
