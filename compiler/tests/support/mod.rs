//! Helpers for the reliability tests (`hostile.rs`, `faults.rs`, `determinism.rs`): running
//! the real binary under a hang guard, scratch folders, and whole-tree snapshots.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The hang guard for ordinary runs. It is not a performance assertion: it only turns a hang
/// into a failure instead of a stuck CI job, so it is far above any normal run time.
pub const GUARD: Duration = Duration::from_secs(120);

/// The hang guard for runs over the 10,000-service spec, which take tens of seconds in a
/// debug build on a busy two-core machine.
pub const BIG_GUARD: Duration = Duration::from_secs(600);

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A `plinth` command without colour, run in `dir`.
pub fn plinth(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plinth"));
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

/// Runs `cmd` to completion, killing it and failing the test if it has not finished within
/// `guard`. Output is drained on threads so that a child writing a lot cannot block on a full
/// pipe while we wait for it.
pub fn run(cmd: &mut Command, guard: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for plinth") {
            break status;
        }
        if start.elapsed() > guard {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {guard:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Runs plinth with `args` in `dir` under [`GUARD`].
pub fn plinth_run(dir: &Path, args: &[&str]) -> Output {
    run(plinth(dir).args(args), GUARD)
}

/// Asserts that plinth exited normally with `code`: a signal (a stack overflow aborts) has no
/// exit code and fails here, as does a panic (exit code 101).
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}, got {:?}\nstdout: {}\nstderr: {}",
        out.status,
        head(&out.stdout),
        head(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "plinth panicked: {stderr}");
}

/// The first few kilobytes of some output, for failure messages.
pub fn head(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4000)]);
    text.into_owned()
}

/// The diagnostics printed by `check --format json` or `build --format json`.
pub fn json_diagnostics(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "--format json printed no JSON ({e}): {}\nstderr: {}",
            head(&out.stdout),
            head(&out.stderr)
        )
    });
    // `check` prints the array; `build` prints one object with the array under `diagnostics`.
    let list = v.get("diagnostics").unwrap_or(&v);
    list.as_array()
        .cloned()
        .expect("a JSON array of diagnostics")
}

/// The codes of the diagnostics printed by `--format json`.
pub fn codes(out: &Output) -> Vec<String> {
    json_diagnostics(out)
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A scratch folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty folder named after the test.
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "plinth-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch folder");
        TempDir(dir)
    }

    /// A path inside the folder.
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }

    /// The folder as a `&str` argument.
    pub fn arg(&self, p: impl AsRef<Path>) -> String {
        self.0.join(p).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A test may leave a folder without permissions behind; restore them so it can go.
        let _ = Command::new("chmod")
            .args(["-R", "u+rwx"])
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One entry of a folder tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A folder.
    Dir,
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A symbolic link and its target.
    Link(PathBuf),
}

/// Every entry under `dir`, hidden ones included, by path relative to `dir`. A missing folder
/// is an empty tree.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.expect("read a folder entry").path();
            let rel = p.strip_prefix(dir).expect("under the root").to_path_buf();
            let meta = std::fs::symlink_metadata(&p).expect("stat an entry");
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    Entry::Link(std::fs::read_link(&p).expect("read a link")),
                );
            } else if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                stack.push(p);
            } else {
                out.insert(rel, Entry::File(std::fs::read(&p).expect("read a file")));
            }
        }
    }
    out
}

/// Asserts that two trees are identical, naming the first differing paths rather than
/// dumping megabytes of contents.
pub fn assert_same_tree(a: &BTreeMap<PathBuf, Entry>, b: &BTreeMap<PathBuf, Entry>, what: &str) {
    if a == b {
        return;
    }
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).take(10).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).take(10).collect();
    let changed: Vec<_> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .take(10)
        .collect();
    panic!(
        "{what}: trees differ ({} vs {} entries)\n  only in the first: {only_a:?}\n  only in the second: {only_b:?}\n  different: {changed:?}",
        a.len(),
        b.len()
    );
}

/// Whether this process runs as root, where permission bits do not apply. Read from
/// `/proc/self/status` (Linux), falling back to `id -u`.
pub fn is_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            return line.split_whitespace().nth(2) == Some("0");
        }
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The blocks of `ident` and first label `kind` in an HCL file (`resource`,
/// `aws_route53_record`), as JSON bodies by their second label, as hcl2json shows them.
pub fn blocks(text: &str, ident: &str, kind: &str) -> Vec<(String, serde_json::Value)> {
    let doc: serde_json::Value = hcl::from_str(text).expect("generated HCL parses");
    doc[ident][kind]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, body)| (name.clone(), body.clone()))
        .collect()
}

/// Example `name` (`examples/<name>.toml`) with `edit` applied, built with `targets` into
/// `dir/out`, which it returns.
pub fn example(
    dir: &TempDir,
    name: &str,
    edit: impl Fn(String) -> String,
    targets: &[&str],
) -> PathBuf {
    let file = format!("{name}.toml");
    let spec = edit(std::fs::read_to_string(root().join("examples").join(&file)).unwrap());
    std::fs::write(dir.join(&file), spec).unwrap();
    let mut args = vec!["build", file.as_str(), "--out", "out"];
    for t in targets {
        args.extend(["--target", t]);
    }
    assert_exit(&plinth_run(&dir.0, &args), 0);
    dir.join("out")
}

/// The documents of a generated YAML file.
pub fn yaml_docs(path: &Path) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap()
}
