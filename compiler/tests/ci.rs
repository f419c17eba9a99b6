//! Issue 25, the CI contract, through the real binary: what a team running `plinth build` and
//! `plinth diff` in CI relies on. A mistyped `--env` is a command-line error; `--out` may name
//! folders that do not exist yet; a spec that is new in a pull request diffs against nothing;
//! a drift check compares what the build wrote; `build` can be quiet or speak JSON; and a
//! review names resources by the same identity in every environment folder.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::*;

/// The example with three environments (dev, staging, production) as `platform.toml` in a
/// fresh folder.
fn devmentor(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::copy(
        root().join("examples/devmentor.toml"),
        dir.join("platform.toml"),
    )
    .expect("copy the example");
    dir
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--env NAME` that the spec does not define is the command line's mistake, not the spec's:
/// `build` and every kind of `diff` say so with did-you-mean and the names to choose from,
/// exit 1, and write nothing. `check` takes no `--env`.
#[test]
fn an_unknown_env_is_a_command_line_error() {
    let dir = devmentor("ci-env");
    std::fs::copy(dir.join("platform.toml"), dir.join("old.toml")).unwrap();
    for args in [
        &["build", "--env", "prod"][..],
        &[
            "build", "--env", "staging", "--env", "prod", "--format", "json",
        ],
        &["diff", "--env", "prod"],
        &["diff", "old.toml", "platform.toml", "--env", "prod"],
    ] {
        let out = plinth_run(&dir.0, args);
        assert_exit(&out, 1);
        let text = stderr(&out);
        assert!(
            text.contains("error: unknown environment `prod` given to --env")
                && text.contains("did you mean `production`?")
                && text.contains("(the spec defines dev, production, staging)"),
            "plinth {args:?}: {text}"
        );
        assert!(
            !text.contains("E102") && !text.contains("invalid") && !stdout(&out).contains("E102"),
            "plinth {args:?} called the spec invalid: {text}"
        );
        assert!(!dir.join("out").exists(), "plinth {args:?} wrote files");
    }
}

/// `--out a/b/c` creates the folders it needs, for the staged exchange as for the per-file
/// transaction; a build that fails leaves no folder behind, and a file where a folder of the
/// path should be is an error, not a write elsewhere.
#[test]
fn out_creates_missing_parent_folders() {
    let dir = devmentor("ci-out");
    let out = plinth_run(&dir.0, &["build", "--out", "a/b/c", "--target", "k8s"]);
    assert_exit(&out, 0);
    assert!(
        dir.join("a/b/c/k8s/production").is_dir(),
        "{}",
        stderr(&out)
    );
    assert!(dir.join("a/b/c/.plinth-manifest").is_file());
    let drift = plinth_run(&dir.0, &["diff", "--out", "a/b/c", "--target", "k8s"]);
    assert_exit(&drift, 0);

    std::fs::write(dir.join("x"), "a file\n").unwrap();
    let blocked = plinth_run(&dir.0, &["build", "--out", "x/y/z"]);
    assert_exit(&blocked, 1);
    assert_eq!(std::fs::read(dir.join("x")).unwrap(), b"a file\n");

    std::fs::write(dir.join("bad.toml"), "version = 1\n[platform]\n").unwrap();
    let invalid = plinth_run(&dir.0, &["build", "bad.toml", "--out", "p/q/r"]);
    assert_exit(&invalid, 1);
    assert!(!dir.join("p").exists(), "a failed build created folders");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

/// The first pull request that adds plinth to a repository: the spec is not at the base
/// revision, so the old side is empty and everything is added (exit 2). A revision that does
/// not exist is still an error.
#[test]
fn a_spec_new_in_the_pull_request_diffs_against_nothing() {
    let dir = devmentor("ci-new-spec");
    std::fs::create_dir(dir.join("infra")).unwrap();
    std::fs::rename(dir.join("platform.toml"), dir.join("infra/platform.toml")).unwrap();
    git(&dir.0, &["init", "-q"]);
    std::fs::write(dir.join("README.md"), "a repository without plinth\n").unwrap();
    git(&dir.0, &["add", "README.md"]);
    git(&dir.0, &["commit", "-qm", "first"]);
    for spec in ["infra/platform.toml", "./infra/platform.toml"] {
        let out = plinth_run(
            &dir.0,
            &["diff", spec, "--base", "HEAD", "--format", "json"],
        );
        assert_exit(&out, 2);
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let files = &report["summary"]["files"];
        assert!(files["added"].as_u64().unwrap() > 50, "{files}");
        assert_eq!(files["removed"], 0, "{files}");
        assert_eq!(files["modified"], 0, "{files}");
        assert_eq!(report["summary"]["resources"]["removed"], 0);
    }
    // Staged but not committed is still "not at HEAD".
    git(&dir.0, &["add", "infra/platform.toml"]);
    assert_exit(
        &plinth_run(&dir.0, &["diff", "infra/platform.toml", "--base", "HEAD"]),
        2,
    );
    let bad = plinth_run(
        &dir.0,
        &["diff", "infra/platform.toml", "--base", "no-such-rev"],
    );
    assert_exit(&bad, 1);
    assert!(
        stderr(&bad).contains("revision `no-such-rev`"),
        "{}",
        stderr(&bad)
    );
}

/// The selection lines of a manifest.
fn selection(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join(".plinth-manifest"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("# targets:") || l.starts_with("# environments:"))
        .map(str::to_owned)
        .collect()
}

/// `.plinth-manifest` records the targets and environments built, and a drift check compares
/// that selection unless `--target` or `--env` says otherwise. Partial builds into one folder
/// add up; a manifest without the lines (an earlier plinth) still works.
#[test]
fn drift_compares_what_was_built() {
    let dir = devmentor("ci-selection");
    let build = |args: &[&str]| {
        let out = plinth_run(&dir.0, &[&["build"], args].concat());
        assert_exit(&out, 0);
    };
    build(&["--target", "k8s", "--target", "helm"]);
    assert_eq!(
        selection(&dir.join("out")),
        ["# targets: k8s helm", "# environments: all"]
    );
    let drift = plinth_run(&dir.0, &["diff"]);
    assert_exit(&drift, 0);
    assert!(stdout(&drift).contains("no changes"), "{}", stdout(&drift));
    // Asked for explicitly, a target that was not built is all added.
    assert_exit(&plinth_run(&dir.0, &["diff", "--target", "compose"]), 2);

    build(&["--target", "terraform", "--env", "staging", "--out", "tf"]);
    assert_eq!(
        selection(&dir.join("tf")),
        ["# targets: terraform", "# environments: staging"]
    );
    assert_exit(&plinth_run(&dir.0, &["diff", "--out", "tf"]), 0);
    // A second partial build into the same folder widens what it holds.
    build(&["--target", "terraform", "--env", "dev", "--out", "tf"]);
    assert_eq!(
        selection(&dir.join("tf")),
        ["# targets: terraform", "# environments: dev staging"]
    );
    let both = plinth_run(&dir.0, &["diff", "--out", "tf"]);
    assert_exit(&both, 0);
    // The same build again writes the same manifest, byte for byte.
    let before = std::fs::read(dir.join("tf/.plinth-manifest")).unwrap();
    build(&["--target", "terraform", "--env", "dev", "--out", "tf"]);
    assert_eq!(
        std::fs::read(dir.join("tf/.plinth-manifest")).unwrap(),
        before
    );

    // An earlier plinth's manifest, without the lines: the whole output is compared, as before.
    let manifest = dir.join("out/.plinth-manifest");
    let old: String = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("# targets:") && !l.starts_with("# environments:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&manifest, old).unwrap();
    assert_exit(&plinth_run(&dir.0, &["diff"]), 2);
    build(&["--target", "k8s", "--target", "helm"]);
    assert_exit(&plinth_run(&dir.0, &["diff"]), 0);
}

/// `build --quiet` prints errors only; `build --format json` prints one JSON object on stdout:
/// per target the files written and unchanged, the notes with their target, the diagnostics.
#[test]
fn build_quiet_and_json() {
    let dir = devmentor("ci-build-output");
    let quiet = plinth_run(&dir.0, &["build", "--quiet"]);
    assert_exit(&quiet, 0);
    assert_eq!(stderr(&quiet), "", "--quiet printed something");
    assert_eq!(stdout(&quiet), "");
    std::fs::write(dir.join("bad.toml"), "version = 1\n[platform]\n").unwrap();
    let failed = plinth_run(&dir.0, &["build", "bad.toml", "--quiet"]);
    assert_exit(&failed, 1);
    assert!(stderr(&failed).contains("E"), "errors are still printed");

    let files_in = |target: &str| walk(&dir.join("out").join(target)).len() as u64;
    std::fs::write(
        dir.join("platform.toml"),
        std::fs::read_to_string(dir.join("platform.toml"))
            .unwrap()
            .replacen("replicas = 2", "replicas = 3", 1),
    )
    .unwrap();
    let json = plinth_run(&dir.0, &["build", "--format", "json"]);
    assert_exit(&json, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json))
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {}", stdout(&json)));
    assert_eq!(v["ok"], true);
    assert!(v["diagnostics"].is_array());
    let k8s = &v["targets"]["k8s"];
    assert_eq!(k8s["files"], files_in("k8s"), "{v}");
    let written = k8s["written"].as_u64().unwrap();
    assert!(written > 0 && written < files_in("k8s"), "{k8s}");
    assert_eq!(
        k8s["written"].as_u64().unwrap() + k8s["unchanged"].as_u64().unwrap(),
        files_in("k8s")
    );
    let notes = v["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["target"] == "compose" && n["message"].is_string()),
        "{v}"
    );
    assert!(
        !stderr(&json).contains("note ("),
        "notes went to stderr too"
    );
    let again = plinth_run(&dir.0, &["build", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(v["targets"]["k8s"]["written"], 0);

    let invalid = plinth_run(&dir.0, &["build", "bad.toml", "--format", "json"]);
    assert_exit(&invalid, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&invalid)).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["diagnostics"][0]["code"]
        .as_str()
        .unwrap()
        .starts_with('E'));
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|(_, e)| matches!(e, Entry::File(_)))
        .map(|(p, _)| p)
        .collect()
}

/// The resource lines of a human report by marker, and the summary's resource counts.
fn counted(report: &str) -> ([usize; 3], [usize; 3]) {
    let mut lines = [0; 3];
    for l in report.lines() {
        for (i, m) in ["  + ", "  ~ ", "  - "].iter().enumerate() {
            if l.starts_with(m) {
                lines[i] += 1;
            }
        }
    }
    let summary = report.lines().last().unwrap_or_default();
    let n = |w: &str| {
        summary
            .split(&[':', ',', ';'][..])
            .map(str::trim)
            .find_map(|p| p.strip_suffix(w).and_then(|n| n.trim().parse().ok()))
            .unwrap_or(0)
    };
    (lines, [n(" added"), n(" changed"), n(" removed")])
}

/// Whether `text` has a name with a `#` and a digit glued to it, as a numbered duplicate
/// identity had (`auth-service#2`). Position-named resources (`inhibit rule #1`) are not.
fn numbered(text: &str) -> bool {
    text.match_indices('#').any(|(i, _)| {
        i > 0
            && !text[..i].ends_with(char::is_whitespace)
            && text[i + 1..].starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Kubernetes objects are identified per environment folder (one cluster each): removing the
/// dev environment removes what `k8s/dev/` held and changes nothing in staging or production;
/// no `#2` suffix shows in any format; and the summary counts the lines printed.
#[test]
fn diff_identities_are_per_environment() {
    let dir = devmentor("ci-identity");
    let spec = std::fs::read_to_string(dir.join("platform.toml")).unwrap();
    let mut skip = false;
    let without_dev: String = spec
        .lines()
        .filter(|l| {
            if l.starts_with('[') {
                skip = l.starts_with("[environments.dev]") || l.starts_with("[environments.dev.");
            }
            !skip
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("nodev.toml"), &without_dev).unwrap();
    std::fs::write(
        dir.join("more.toml"),
        spec.replace("replicas = 2", "replicas = 3"),
    )
    .unwrap();
    for new in ["nodev.toml", "more.toml"] {
        let human = plinth_run(&dir.0, &["diff", "platform.toml", new]);
        assert_exit(&human, 2);
        let text = stdout(&human);
        assert!(
            !numbered(&text),
            "{new}: a `#` suffix in the report:\n{text}"
        );
        let (lines, summary) = counted(&text);
        assert_eq!(lines, summary, "{new}: lines printed vs summary:\n{text}");
        let md = plinth_run(
            &dir.0,
            &["diff", "platform.toml", new, "--format", "markdown"],
        );
        assert!(!numbered(&stdout(&md)), "{new}: {}", stdout(&md));
        let json = plinth_run(&dir.0, &["diff", "platform.toml", new, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
        for r in v["resources"].as_array().unwrap() {
            let (file, name) = (r["file"].as_str().unwrap(), r["name"].as_str().unwrap());
            assert!(!numbered(name), "{new}: {r}");
            if new == "nodev.toml" && file.starts_with("k8s/") {
                assert!(
                    file.starts_with("k8s/dev/") && r["change"] == "removed",
                    "removing dev touched another cluster: {r}"
                );
            }
        }
    }
}
