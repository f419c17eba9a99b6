//! Data-driven snapshot tests through the public `compile` API: every example and valid
//! fixture compiles without errors and its output is snapshotted; every invalid fixture fails
//! with diagnostics that are snapshotted as rendered for people.

mod common;

use common::*;
use plinth::cli::render;
use plinth::diag::Severity;

fn valid_specs() -> Vec<std::path::PathBuf> {
    let mut v = toml_files("examples");
    v.extend(toml_files("compiler/tests/fixtures/valid"));
    v
}

#[test]
fn valid_specs_compile_and_match_snapshots() {
    let specs = valid_specs();
    assert!(!specs.is_empty(), "no examples found");
    for path in specs {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = shown(&path);
        let c = plinth::compile(&name, &text, &plinth::Options::default());
        let errors: Vec<_> = c
            .diagnostics
            .0
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .collect();
        assert!(
            errors.is_empty(),
            "{name} should compile:\n{}",
            render::human(&c.sources, &c.diagnostics.0, false, 100)
        );
        assert!(!c.files.is_empty(), "{name} produced no files");
        for f in &c.files {
            assert!(
                f.contents.contains(&plinth::ir::naming::banner(&name)),
                "{} lacks the banner",
                f.path
            );
        }
        // One snapshot per example and target keeps each reviewable on its own. A target
        // that wrote nothing but reported notes gets one too, so the notes are reviewed.
        let mut targets: Vec<&str> = c
            .files
            .iter()
            .map(|f| f.path.split('/').next().unwrap_or_default())
            .chain(c.notes.iter().map(|n| n.target.name()))
            .collect();
        targets.sort_unstable();
        targets.dedup();
        for target in targets {
            let mut body = String::new();
            for f in c
                .files
                .iter()
                .filter(|f| f.path.starts_with(&format!("{target}/")))
            {
                body.push_str(&format!("=== {} ===\n{}", f.path, f.contents));
            }
            let notes: Vec<&str> = c
                .notes
                .iter()
                .filter(|n| n.target.name() == target)
                .map(|n| n.message.as_str())
                .collect();
            if !notes.is_empty() {
                body.push_str("=== notes ===\n");
                for n in notes {
                    body.push_str(&format!("{n}\n"));
                }
            }
            in_snapshots(|| insta::assert_snapshot!(format!("{}__{target}", stem(&path)), body));
        }
        let warnings = render::human(&c.sources, &c.diagnostics.0, false, 100);
        in_snapshots(|| insta::assert_snapshot!(format!("{}__warnings", stem(&path)), warnings));
    }
}

#[test]
fn invalid_fixtures_fail_with_labelled_diagnostics() {
    let fixtures = toml_files("compiler/tests/fixtures/invalid");
    assert!(
        fixtures.len() >= 40,
        "expected at least 40 invalid fixtures, found {}",
        fixtures.len()
    );
    for path in fixtures {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = shown(&path);
        let c = plinth::compile(&name, &text, &plinth::Options::default());
        assert!(c.diagnostics.has_errors(), "{name} should be rejected");
        assert!(
            c.files.is_empty(),
            "{name}: no files may be produced on error"
        );
        // The fixture's first line names the code it exercises; that code must be reported
        // with a label that points into the file and is narrower than the whole file.
        let expected = text
            .trim_start_matches("# ")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let hit = c.diagnostics.0.iter().find(|d| d.code.id() == expected);
        let Some(hit) = hit else {
            panic!(
                "{name}: expected {expected}, got:\n{}",
                render::human(&c.sources, &c.diagnostics.0, false, 100)
            );
        };
        if let Some(label) = &hit.primary {
            assert!(
                label.span.range.len() < text.len(),
                "{name}: the label covers the whole file"
            );
        }
        let rendered = render::human(&c.sources, &c.diagnostics.0, false, 100);
        let reported: Vec<&str> = c.diagnostics.0.iter().map(|d| d.code.id()).collect();
        // A fixture with several independent errors lists them on its second line, in the
        // order they print: every one must be reported in this one run, and nothing else
        // (no consequence of another). A syntax fixture without that line shows one problem
        // at its cause, never a cascade.
        match expected_codes(&text) {
            Some(listed) => assert_eq!(
                reported, listed,
                "{name}: expected exactly these codes, in this order:\n{rendered}"
            ),
            None if expected == "E002" => {
                assert_eq!(
                    reported,
                    ["E002"],
                    "{name}: one syntax problem:\n{rendered}"
                )
            }
            None => {}
        }
        // Every error says how to fix it.
        for d in &c.diagnostics.0 {
            assert!(
                d.help.is_some(),
                "{name}: {} `{}` has no help",
                d.code.id(),
                d.message
            );
        }
        in_snapshots(|| insta::assert_snapshot!(format!("invalid__{}", stem(&path)), rendered));
    }
}

/// The codes a fixture's second line lists after `# expect:`, if it has that line.
fn expected_codes(text: &str) -> Option<Vec<&str>> {
    let line = text.lines().nth(1)?.strip_prefix("# expect:")?;
    Some(line.split_whitespace().collect())
}

#[test]
fn compilation_is_deterministic() {
    for path in valid_specs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let a = plinth::compile("spec.toml", &text, &plinth::Options::default());
        let b = plinth::compile("spec.toml", &text, &plinth::Options::default());
        assert_eq!(
            a.files,
            b.files,
            "{} compiles differently twice",
            path.display()
        );
    }
}

/// The starter spec has no warning of its own. The proof's findings (P codes) are left out:
/// they are gaps of what the output installs (secrets from a store, exporters), which the
/// foundation and data-store work closes, not something a starter spec could say.
#[test]
fn starter_spec_from_init_is_valid_and_warning_free() {
    let text = std::fs::read_to_string(root().join("stdlib/init/platform.toml")).unwrap();
    let mut c = plinth::compile("platform.toml", &text, &plinth::Options::default());
    c.diagnostics.0.retain(|d| !d.code.is_proof());
    assert!(
        c.diagnostics.0.is_empty(),
        "{}",
        render::human(&c.sources, &c.diagnostics.0, false, 100)
    );
}

#[test]
fn every_preset_loads_cleanly() {
    for (name, text) in plinth::stdlib::PRESETS {
        let mut sources = plinth::source::Sources::new();
        let id = sources.add(plinth::stdlib::path(name), *text);
        let (preset, diags) = plinth::spec::load_preset(&sources, id);
        assert!(
            preset.is_some() && diags.0.is_empty(),
            "preset {name}: {:?}",
            diags.0
        );
    }
}
