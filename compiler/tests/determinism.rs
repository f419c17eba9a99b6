//! Determinism across environments: the same spec gives byte-identical output trees whatever
//! the working directory, the output path, the time zone, the locale, and the process.
//!
//! Generated files are committed and compared in CI (`plinth diff`), so a byte that depends
//! on where or when plinth ran shows up as drift on every machine but the author's. The
//! banner names the spec path as given, so every build here passes the same relative name,
//! `platform.toml`, from a folder of its own.
//!
//! The locales may not be installed on the machine running the tests; the variables are set
//! all the same, since that is what a user's shell does, and libc falls back to `C`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// The specs compared: an example that produces every target, and a synthetic spec.
fn specs() -> Vec<(&'static str, String)> {
    let example = std::fs::read_to_string(root().join("examples/tutoring-marketplace.toml"))
        .expect("the example spec");
    vec![("example", example), ("synth", plinth::synth::spec(30))]
}

/// Writes `text` as `platform.toml` in a new folder `sub` below a scratch folder, and returns
/// the scratch folder and the spec's folder.
fn spec_folder(name: &str, sub: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    let at = dir.join(sub);
    std::fs::create_dir_all(&at).expect("create the spec's folder");
    std::fs::write(at.join("platform.toml"), text).expect("write the spec");
    (dir, at)
}

/// Builds `platform.toml` in `cwd` into `out` with extra environment variables, and returns
/// the output tree.
fn build_in(cwd: &Path, out: &str, env: &[(&str, &str)]) -> BTreeMap<PathBuf, Entry> {
    let mut cmd = plinth(cwd);
    cmd.args(["build", "platform.toml", "--out", out]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let result = run(&mut cmd, GUARD);
    assert_exit(&result, 0);
    let t = tree(&cwd.join(out));
    assert!(t.len() > 10, "the build wrote almost nothing");
    t
}

/// The same spec in two different folders, one nested deeper, built with the same relative
/// name: identical trees. An absolute output path gives the same tree as a relative one.
#[test]
fn working_directory_and_output_path_do_not_matter() {
    for (name, text) in specs() {
        let (_a, here) = spec_folder(&format!("det-cwd-a-{name}"), "a", &text);
        let (_b, there) = spec_folder(&format!("det-cwd-b-{name}"), "somewhere/much/deeper", &text);
        let first = build_in(&here, "out", &[]);
        assert_same_tree(&first, &build_in(&there, "out", &[]), name);
        let absolute = there.join("absolute-out");
        let absolute = absolute.to_str().expect("a UTF-8 path");
        assert_same_tree(&first, &build_in(&there, absolute, &[]), name);
    }
}

/// Time zones, including half-hour offsets: identical trees.
#[test]
fn time_zone_does_not_matter() {
    for (name, text) in specs() {
        let mut trees = Vec::new();
        for tz in ["UTC", "Asia/Kolkata", "America/St_Johns"] {
            let (_dir, at) = spec_folder(&format!("det-tz-{name}"), "spec", &text);
            trees.push((tz, build_in(&at, "out", &[("TZ", tz)])));
        }
        for (tz, t) in &trees[1..] {
            assert_same_tree(&trees[0].1, t, &format!("{name}: TZ=UTC vs TZ={tz}"));
        }
    }
}

/// Locales with a different case mapping (Turkish dotless i) and decimal comma (German):
/// identical trees.
#[test]
fn locale_does_not_matter() {
    for (name, text) in specs() {
        let mut trees = Vec::new();
        for locale in ["C", "tr_TR.UTF-8", "de_DE.UTF-8"] {
            let (_dir, at) = spec_folder(&format!("det-locale-{name}"), "spec", &text);
            let env = [("LANG", locale), ("LC_ALL", locale)];
            trees.push((locale, build_in(&at, "out", &env)));
        }
        for (locale, t) in &trees[1..] {
            assert_same_tree(&trees[0].1, t, &format!("{name}: C vs {locale}"));
        }
    }
}

/// Two processes running at the same time into separate folders write the same bytes, and a
/// second build into the same folder finds nothing to change.
#[test]
fn separate_processes_write_the_same_bytes() {
    for (name, text) in specs() {
        let (_a, one) = spec_folder(&format!("det-proc-a-{name}"), "spec", &text);
        let (_b, two) = spec_folder(&format!("det-proc-b-{name}"), "spec", &text);
        let spawn = |cwd: &Path| {
            let cwd = cwd.to_path_buf();
            std::thread::spawn(move || {
                run(
                    plinth(&cwd).args(["build", "platform.toml", "--out", "out"]),
                    GUARD,
                )
            })
        };
        let (x, y) = (spawn(&one), spawn(&two));
        assert_exit(&x.join().expect("first build"), 0);
        assert_exit(&y.join().expect("second build"), 0);
        let first = tree(&one.join("out"));
        assert_same_tree(&first, &tree(&two.join("out")), name);

        let again = run(
            plinth(&one).args(["build", "platform.toml", "--out", "out"]),
            GUARD,
        );
        assert_exit(&again, 0);
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(
            stderr
                .lines()
                .all(|l| !l.contains(" written,") || l.contains("(0 written,")),
            "{name}: a rebuild rewrote files: {stderr}"
        );
        assert_same_tree(&first, &tree(&one.join("out")), name);
    }
}

/// Diagnostics are output too (CI annotations, snapshots): every invalid fixture gives the
/// same JSON in separate processes under different time zones and locales.
#[test]
fn diagnostics_are_the_same_in_every_environment() {
    let root = root();
    let mut fixtures: Vec<PathBuf> =
        std::fs::read_dir(root.join("compiler/tests/fixtures/invalid"))
            .expect("the invalid fixtures")
            .map(|e| e.expect("a fixture").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
    fixtures.sort();
    assert!(fixtures.len() > 10);
    let check = |spec: &Path, env: &[(&str, &str)]| {
        let mut cmd: Command = plinth(&root);
        cmd.args(["check", "--format", "json"]).arg(spec);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run(&mut cmd, GUARD);
        assert_exit(&out, 1);
        out.stdout
    };
    for f in &fixtures {
        let base = check(f, &[("TZ", "UTC"), ("LC_ALL", "C")]);
        for env in [
            [("TZ", "Asia/Kolkata"), ("LC_ALL", "tr_TR.UTF-8")],
            [("TZ", "America/St_Johns"), ("LC_ALL", "de_DE.UTF-8")],
        ] {
            assert_eq!(
                base,
                check(f, &env),
                "{}: diagnostics differ under {env:?}",
                f.display()
            );
        }
    }
}

/// The targets of a build run on two threads sharing the alert rules (`emit::Shared`); what a
/// build writes must not depend on which thread made the rules or finished first. Each target
/// compiled alone runs on one thread, so the union of those is the reference, and a whole
/// build is compared with it several times, since a schedule that leaks into output would
/// show in only some runs.
#[test]
fn targets_built_together_write_what_each_writes_alone() {
    for (name, text) in specs() {
        let alone = |t: plinth::emit::Target| {
            let options = plinth::Options {
                targets: vec![t],
                envs: Vec::new(),
                lenient: false,
            };
            let c = plinth::compile("platform.toml", &text, &options);
            assert!(!c.diagnostics.has_errors(), "{name}: {}", t.name());
            c.files
        };
        let mut expected: Vec<_> = plinth::emit::Target::ALL
            .iter()
            .flat_map(|&t| alone(t))
            .collect();
        expected.sort();
        for run in 0..4 {
            let c = plinth::compile("platform.toml", &text, &plinth::Options::default());
            assert!(!c.diagnostics.has_errors(), "{name}");
            assert_eq!(
                c.files.len(),
                expected.len(),
                "{name}, run {run}: file count"
            );
            for (got, want) in c.files.iter().zip(&expected) {
                assert!(
                    got == want,
                    "{name}, run {run}: {} differs from the target built alone",
                    got.path
                );
            }
        }
    }
}
