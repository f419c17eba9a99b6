//! Faults while writing, through the real binary: a read-only output folder, an output path
//! that is a file, a disk that fills up.
//!
//! In every case `plinth build` must exit 1 with an error message, without panicking, and
//! leave the output folder byte-identical to before: every file, folder and hidden file
//! (`.plinth-manifest`, temporary files) compared. The read-only and disk-full cases need a
//! filesystem that refuses writes; as root (CI runs so) permission bits do not, so the tests
//! mount a small tmpfs, and skip with a notice when they cannot. A process killed in the
//! middle of a build is tested with `cli/write.rs`, not here.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

/// A spec whose complete output (every target, two environments) is about 400 KiB.
fn small_spec() -> String {
    plinth::synth::spec(1)
}

/// A spec whose output (about 15 MiB) does not fit on the small tmpfs.
fn large_spec() -> String {
    plinth::synth::spec(100)
}

/// Writes the small and the large spec into `dir` as `small.toml` and `large.toml`.
fn write_specs(dir: &TempDir) {
    std::fs::write(dir.join("small.toml"), small_spec()).expect("write a spec");
    std::fs::write(dir.join("large.toml"), large_spec()).expect("write a spec");
}

/// `plinth build SPEC --out OUT`, run in `dir`.
fn build(dir: &TempDir, spec: &str, out: &Path) -> Output {
    plinth_run(
        &dir.0,
        &["build", spec, "--out", out.to_str().expect("a UTF-8 path")],
    )
}

/// Asserts a failed build: exit 1 (not a panic, not a signal) and an `error:` line on stderr
/// that contains `reason`.
fn assert_failed(out: &Output, reason: &str) {
    assert_exit(out, 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error:") && l.contains(reason)),
        "expected an error naming `{reason}`, got: {stderr}"
    );
}

/// A tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Mount(PathBuf);

impl Mount {
    /// Mounts a tmpfs with `options` at `dir`, or `None` when not root or mounting fails
    /// (a container without the capability).
    fn tmpfs(dir: &Path, options: &str) -> Option<Mount> {
        if !is_root() {
            return None;
        }
        std::fs::create_dir_all(dir).expect("create the mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Mount(dir.to_path_buf()))
    }

    /// Remounts with new options, e.g. `remount,ro`.
    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", options])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot remount {} with {options}", self.0.display());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy (a failing test may still hold a file): detach it lazily.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

fn skip(what: &str) {
    println!("skipped: {what}: needs root and a tmpfs mount, which are not available here");
}

/// A read-only output folder: the build fails and changes nothing, whether the folder is
/// empty or holds a previous build; rebuilding the spec it already holds needs no write and
/// succeeds. As root this needs a read-only mount; otherwise `chmod a-w` does the job.
#[test]
fn read_only_output_folder() {
    let dir = TempDir::new("faults-read-only");
    write_specs(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("create the output folder");
    let mount = Mount::tmpfs(&out, "size=4m");
    if mount.is_none() && is_root() {
        return skip("read-only output folder");
    }

    // An empty read-only folder.
    match &mount {
        Some(m) => m.remount("remount,ro"),
        None => chmod("a-w", &out),
    }
    let failed = build(&dir, "small.toml", &out);
    assert_failed(&failed, "left as it was");
    assert_same_tree(&tree(&out), &Default::default(), "empty read-only folder");

    // A read-only folder that holds a complete build of the small spec.
    match &mount {
        Some(m) => m.remount("remount,rw"),
        None => chmod("u+w", &out),
    }
    assert_exit(&build(&dir, "small.toml", &out), 0);
    let before = tree(&out);
    assert!(before.contains_key(Path::new(".plinth-manifest")));
    match &mount {
        Some(m) => m.remount("remount,ro"),
        None => chmod("a-w", &out),
    }
    assert_failed(&build(&dir, "large.toml", &out), "left as it was");
    assert_same_tree(
        &before,
        &tree(&out),
        "read-only folder after a failed build",
    );
    // Nothing to change, so nothing to write: the read-only folder is no obstacle.
    assert_exit(&build(&dir, "small.toml", &out), 0);
    assert_same_tree(
        &before,
        &tree(&out),
        "read-only folder after an unchanged build",
    );
    if mount.is_none() {
        chmod("u+w", &out);
    }
}

/// `chmod -R MODE PATH`, for the non-root variant of the read-only test.
fn chmod(mode: &str, path: &Path) {
    let ok = Command::new("chmod")
        .args(["-R", mode])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chmod -R {mode} {}", path.display());
}

/// The output path is an existing regular file: the build fails before writing, and the file
/// and its folder are unchanged.
#[test]
fn output_path_is_a_file() {
    let dir = TempDir::new("faults-out-is-file");
    write_specs(&dir);
    std::fs::write(dir.join("out"), "not a folder\n").expect("write a file");
    let before = tree(&dir.0);
    let failed = build(&dir, "small.toml", &dir.join("out"));
    assert_failed(&failed, "is a file");
    assert_same_tree(&before, &tree(&dir.0), "the folder around an output file");
}

/// Inside the output folder, a file where plinth needs a folder (`k8s`), or a folder where it
/// writes a file: the build fails, and a previous build beside them is untouched.
#[test]
fn output_folder_with_files_and_folders_in_the_way() {
    let dir = TempDir::new("faults-in-the-way");
    write_specs(&dir);
    let out = dir.join("out");
    assert_exit(
        &plinth_run(
            &dir.0,
            &[
                "build",
                "small.toml",
                "--target",
                "prometheus",
                "--out",
                "out",
            ],
        ),
        0,
    );
    std::fs::write(out.join("k8s"), "a file where a folder goes\n").expect("write a file");
    let before = tree(&out);
    assert_failed(&build(&dir, "small.toml", &out), "k8s");
    assert_same_tree(&before, &tree(&out), "a file in the way");

    std::fs::remove_file(out.join("k8s")).expect("remove the file");
    std::fs::create_dir_all(out.join("k8s/production/namespace.yaml")).expect("create a folder");
    let before = tree(&out);
    assert_failed(&build(&dir, "small.toml", &out), "namespace.yaml");
    assert_same_tree(&before, &tree(&out), "a folder in the way");
}

/// The disk fills up during a build into an empty folder: exit 1 naming the cause, and the
/// folder is still empty (no temporary files, no half-written manifest).
#[test]
fn disk_full_on_an_empty_folder() {
    let dir = TempDir::new("faults-full-empty");
    write_specs(&dir);
    let out = dir.join("out");
    let Some(_mount) = Mount::tmpfs(&out, "size=1m") else {
        return skip("disk full");
    };
    let failed = build(&dir, "large.toml", &out);
    assert_failed(&failed, "No space left on device");
    assert_failed(&failed, "left as it was");
    assert_same_tree(
        &tree(&out),
        &Default::default(),
        "a full disk, empty before",
    );
}

/// The disk fills up during a build over a previous complete build of a smaller spec: the
/// previous files are intact, byte for byte, and still match their spec.
#[test]
fn disk_full_keeps_the_previous_build() {
    let dir = TempDir::new("faults-full-previous");
    write_specs(&dir);
    let out = dir.join("out");
    let Some(_mount) = Mount::tmpfs(&out, "size=1m") else {
        return skip("disk full over a previous build");
    };
    assert_exit(&build(&dir, "small.toml", &out), 0);
    let before = tree(&out);
    assert!(
        before.len() > 30,
        "the small build wrote {} entries",
        before.len()
    );
    let failed = build(&dir, "large.toml", &out);
    assert_failed(&failed, "No space left on device");
    assert_same_tree(&before, &tree(&out), "a full disk over a previous build");
    // The folder still holds exactly what the small spec generates.
    let drift = plinth_run(&dir.0, &["diff", "small.toml", "--out", "out"]);
    assert_exit(&drift, 0);
}
