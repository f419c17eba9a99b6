//! Hostile input through the real binary: huge, deep, malformed and unreadable specs.
//!
//! plinth runs in pre-commit hooks and CI, where a panic, a stack overflow or a hang is worse
//! than a wrong answer. Every input here must end in bounded time with exit 1 and the
//! expected diagnostic code, or with exit 0 where the input is valid. Each run sits under a
//! hang guard (`support::run`), which kills the child and fails the test; the guard is far
//! above normal run times and is not a performance assertion. A stack overflow aborts with a
//! signal and a panic exits 101, so asserting the exit code catches both.
//!
//! Inputs that are rejected go through both `check` and `build`; a rejected build must not
//! create its output folder.

mod support;

use std::path::Path;

use support::*;

/// A spec of two services, small and valid, to mutate.
fn small_spec() -> String {
    plinth::synth::spec(2)
}

/// Writes `bytes` as `name` in `dir` and returns the file name, for use as a relative argument.
fn write(dir: &TempDir, name: &str, bytes: impl AsRef<[u8]>) -> String {
    std::fs::write(dir.join(name), bytes).expect("write a spec");
    name.to_owned()
}

/// Asserts that `check` and `build` both reject `spec` (relative to `dir`) with exit 1 and a
/// diagnostic with `code`, and that the build wrote nothing. Returns `check`'s diagnostics.
fn assert_rejected(dir: &TempDir, spec: &str, code: &str) -> Vec<serde_json::Value> {
    let check = plinth_run(&dir.0, &["check", spec, "--format", "json"]);
    assert_exit(&check, 1);
    let diags = json_diagnostics(&check);
    assert!(
        diags.iter().any(|d| d["code"] == code),
        "check of {spec}: expected {code}, got {:?}",
        codes(&check)
    );
    let build = plinth_run(&dir.0, &["build", spec, "--out", "out", "--format", "json"]);
    assert_exit(&build, 1);
    assert!(
        codes(&build).iter().any(|c| c == code),
        "build of {spec}: expected {code}, got {:?}",
        codes(&build)
    );
    assert!(
        !dir.join("out").exists(),
        "a rejected build of {spec} created its output folder"
    );
    diags
}

/// The message of the first diagnostic with `code`.
fn message(diags: &[serde_json::Value], code: &str) -> String {
    diags
        .iter()
        .find(|d| d["code"] == code)
        .and_then(|d| d["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The 1-based line of the first diagnostic with `code`.
fn line(diags: &[serde_json::Value], code: &str) -> Option<u64> {
    diags
        .iter()
        .find(|d| d["code"] == code)
        .and_then(|d| d["location"]["line"].as_u64())
}

/// Counts regular files under `dir`.
fn file_count(dir: &Path) -> usize {
    tree(dir)
        .values()
        .filter(|e| matches!(e, Entry::File(_)))
        .count()
}

/// An 11 MB spec of 10,000 services (and 1,000 data stores) is valid: `check` accepts it with
/// no diagnostic but the proof's P013 warnings, and proves it (every generated file parses).
/// This covers both "a 10 MB spec" and "10,000 services".
#[test]
fn ten_thousand_services_check() {
    let dir = TempDir::new("hostile-10k-check");
    let text = plinth::synth::spec(10_000);
    assert!(
        text.len() > 10_000_000,
        "the synth spec is {} bytes",
        text.len()
    );
    let spec = write(&dir, "platform.toml", &text);
    let out = run(
        plinth(&dir.0).args(["check", &spec, "--format", "json"]),
        BIG_GUARD,
    );
    assert_exit(&out, 0);
    // The proof's findings aside: the synthetic data stores have no exporter, so their alert
    // rules read series nothing produces (P013), a warning. Every file must still parse: a
    // generated file the proof cannot read is an internal error.
    let others: Vec<serde_json::Value> = json_diagnostics(&out)
        .into_iter()
        .filter(|d| !(d["code"] == "P013" && d["severity"] == "warning"))
        .collect();
    assert_eq!(others, Vec::<serde_json::Value>::new());
}

/// The 10,000-service spec also builds: every workload of the environment gets its manifest.
/// One environment and one target keep the run short; the other targets and environments
/// share the same front end. (Emitting network policies and Compose host ports used to be
/// quadratic in the number of workloads and took minutes here.)
#[test]
fn ten_thousand_services_build() {
    let dir = TempDir::new("hostile-10k-build");
    let spec = write(&dir, "platform.toml", plinth::synth::spec(10_000));
    let out = run(
        plinth(&dir.0).args([
            "build",
            &spec,
            "--env",
            "production",
            "--target",
            "k8s",
            "--out",
            "out",
        ]),
        BIG_GUARD,
    );
    assert_exit(&out, 0);
    // One file per workload (10,000 services, 1,000 data stores), the namespace file, its
    // Grafana dashboards, and, the environment having a cloud, its ExternalSecrets, its
    // ClusterIssuer and its Gateway.
    assert_eq!(file_count(&dir.join("out/k8s/production")), 11_005);
    assert!(dir.join("out/k8s/production/gateway.yaml").is_file());
    let api = std::fs::read_to_string(dir.join("out/k8s/production/svc-09999.yaml"))
        .expect("the last service's manifest");
    assert!(api.contains("kind: Deployment") && api.contains("svc-09998"));
}

/// A spec over the 32 MiB limit is rejected from its size alone, before parsing: the file is
/// not TOML past its first line, yet the only diagnostic is E008, not a syntax error.
#[test]
fn spec_over_the_size_limit_is_rejected_before_parsing() {
    let dir = TempDir::new("hostile-33mib");
    let mut text = String::from("version = 1\n");
    let line = "= this is not TOML, and a parser would say so =\n";
    while text.len() <= 33 * 1024 * 1024 {
        text.push_str(line);
    }
    let spec = write(&dir, "huge.toml", &text);
    let diags = assert_rejected(&dir, &spec, "E008");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(message(&diags, "E008").contains("33554432"), "{diags:?}");
}

/// The size limit also holds where the metadata says nothing about the size: a device that
/// never ends (`/dev/zero`, 0 bytes by its metadata) used to be read until memory ran out.
#[test]
fn endless_device_is_cut_off_at_the_size_limit() {
    if !Path::new("/dev/zero").exists() {
        println!("skipped: no /dev/zero on this system");
        return;
    }
    let dir = TempDir::new("hostile-dev-zero");
    let out = plinth_run(&dir.0, &["check", "/dev/zero", "--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(codes(&out), ["E008"]);
}

/// 100,000 levels of inline tables: the TOML parser's own recursion limit stops it, reported
/// as the nesting limit (E008), never a stack overflow.
#[test]
fn deeply_nested_inline_tables() {
    let dir = TempDir::new("hostile-deep-tables");
    let n = 100_000;
    let text = format!("version = 1\na = {}1{}\n", "{a = ".repeat(n), "}".repeat(n));
    let spec = write(&dir, "deep.toml", text);
    let diags = assert_rejected(&dir, &spec, "E008");
    assert_eq!(line(&diags, "E008"), Some(2));
}

/// 100,000 levels of arrays, likewise.
#[test]
fn deeply_nested_arrays() {
    let dir = TempDir::new("hostile-deep-arrays");
    let n = 100_000;
    let text = format!("version = 1\na = {}1{}\n", "[".repeat(n), "]".repeat(n));
    let spec = write(&dir, "deep.toml", text);
    let diags = assert_rejected(&dir, &spec, "E008");
    assert_eq!(line(&diags, "E008"), Some(2));
}

/// Nesting just past plinth's own limit of 64, but within the TOML parser's, is caught by
/// plinth's check with the same code and message.
#[test]
fn nesting_past_the_depth_limit() {
    let dir = TempDir::new("hostile-depth-70");
    let text = format!("version = 1\na = {}1{}\n", "[".repeat(70), "]".repeat(70));
    let spec = write(&dir, "deep.toml", text);
    let diags = assert_rejected(&dir, &spec, "E008");
    assert!(message(&diags, "E008").contains("64"), "{diags:?}");
}

/// Deep dotted keys and table headers hit the parser's limit too, which gives no position;
/// the diagnostic still points at the offending line rather than at the top of the file.
#[test]
fn deep_dotted_keys_and_headers() {
    let dir = TempDir::new("hostile-dotted");
    let path = vec!["a"; 100_000].join(".");
    for (name, text) in [
        ("dotted.toml", format!("version = 1\n{path} = 1\n")),
        ("header.toml", format!("version = 1\n[{path}]\n")),
    ] {
        let spec = write(&dir, name, text);
        let diags = assert_rejected(&dir, &spec, "E008");
        assert_eq!(line(&diags, "E008"), Some(2), "{name}: {diags:?}");
    }
}

/// A 1 MiB string value (an environment variable) is valid: plinth sets no limit on string
/// length, and the build carries the value intact into the manifest.
#[test]
fn one_megabyte_string_value() {
    let dir = TempDir::new("hostile-1mib-string");
    let big = "0123456789abcdef".repeat(65_536);
    let text = small_spec().replacen("LOG_LEVEL = \"info\"", &format!("LOG_LEVEL = \"{big}\""), 1);
    assert!(text.contains(&big));
    let spec = write(&dir, "platform.toml", text);
    assert_exit(&plinth_run(&dir.0, &["check", &spec]), 0);
    let out = plinth_run(&dir.0, &["build", &spec, "--target", "k8s", "--out", "out"]);
    assert_exit(&out, 0);
    let manifest = std::fs::read_to_string(dir.join("out/k8s/production/svc-00000.yaml"))
        .expect("the service's manifest");
    assert!(
        manifest.contains(&big),
        "the 1 MiB value is not in the manifest intact"
    );
}

/// Invalid UTF-8 is E001, naming the line of the first bad byte.
#[test]
fn invalid_utf8_names_the_line() {
    let dir = TempDir::new("hostile-utf8");
    let mut bytes = small_spec().into_bytes();
    // Line 5 is `name = "synthetic"`; a lone continuation byte and 0xFF follow it.
    let at = nth_line_end(&bytes, 5);
    bytes.splice(at..at, *b" # \x80\xff");
    let spec = write(&dir, "bad.toml", &bytes);
    let diags = assert_rejected(&dir, &spec, "E001");
    let msg = message(&diags, "E001");
    assert!(msg.contains("UTF-8") && msg.contains("line 5"), "{msg}");
}

/// The byte offset of the end of 1-based line `n`.
fn nth_line_end(bytes: &[u8], n: usize) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 1)
        .map(|(i, _)| i)
        .expect("enough lines")
}

/// Builds `platform.toml` with `bytes` in a fresh folder, from inside it (so the banner names
/// the same relative path), and returns the output tree.
fn build_tree(name: &str, bytes: &[u8]) -> std::collections::BTreeMap<std::path::PathBuf, Entry> {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("platform.toml"), bytes).expect("write the spec");
    let out = plinth_run(&dir.0, &["build", "platform.toml", "--out", "out"]);
    assert_exit(&out, 0);
    let t = tree(&dir.join("out"));
    assert!(t.len() > 10, "{name}: the build wrote almost nothing");
    t
}

/// An example with every target, and a synthetic spec with a multi-line string (a config
/// file), where line endings could leak into the output.
fn line_ending_specs() -> Vec<(&'static str, Vec<u8>)> {
    let example =
        std::fs::read(root().join("examples/tutoring-marketplace.toml")).expect("the example spec");
    let multiline = small_spec().replacen(
        "thresholds.error_rate",
        "config_files = [{ path = \"/etc/app/app.conf\", content = \"\"\"\nworkers = 4\nmode = fast\n\"\"\" }]\nthresholds.error_rate",
        1,
    );
    assert!(multiline.contains("config_files"));
    vec![("example", example), ("multiline", multiline.into_bytes())]
}

/// A UTF-8 byte-order mark is dropped: the output is byte-identical to the same spec without.
#[test]
fn byte_order_mark_gives_the_same_output() {
    for (name, plain) in line_ending_specs() {
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(&plain);
        assert_same_tree(
            &build_tree(&format!("hostile-nobom-{name}"), &plain),
            &build_tree(&format!("hostile-bom-{name}"), &bom),
            &format!("{name}: with and without a byte-order mark"),
        );
    }
}

/// CRLF line endings (a Windows checkout) give byte-identical output to LF, multi-line strings
/// included: they used to keep their `\r\n` and change the generated config files.
#[test]
fn crlf_line_endings_give_the_same_output() {
    for (name, lf) in line_ending_specs() {
        let text = String::from_utf8(lf.clone()).expect("UTF-8");
        assert!(!text.contains('\r'));
        let crlf = text.replace('\n', "\r\n").into_bytes();
        assert_same_tree(
            &build_tree(&format!("hostile-lf-{name}"), &lf),
            &build_tree(&format!("hostile-crlf-{name}"), &crlf),
            &format!("{name}: LF and CRLF"),
        );
    }
}

/// NUL bytes are TOML syntax errors (E002), and the message names the invisible character.
#[test]
fn nul_bytes() {
    let dir = TempDir::new("hostile-nul");
    let base = small_spec();
    for (name, text) in [
        (
            "value.toml",
            base.replacen("version = 1", "version = 1\0", 1),
        ),
        (
            "comment.toml",
            base.replacen("version = 1", "version = 1\n# a \0 in a comment", 1),
        ),
        (
            "string.toml",
            base.replacen("\"synthetic\"", "\"synth\0etic\"", 1),
        ),
    ] {
        assert!(text.contains('\0'));
        let spec = write(&dir, name, text);
        let diags = assert_rejected(&dir, &spec, "E002");
        assert!(
            message(&diags, "E002").contains("U+0000"),
            "{name}: {diags:?}"
        );
    }
}

/// A key given twice is E002, naming the key and pointing at the second one.
#[test]
fn duplicate_keys() {
    let dir = TempDir::new("hostile-dup-key");
    let text = small_spec().replacen("version = 1\n", "version = 1\nversion = 1\n", 1);
    let spec = write(&dir, "dup.toml", text);
    let diags = assert_rejected(&dir, &spec, "E002");
    assert_eq!(message(&diags, "E002"), "duplicate key `version`");
}

/// A table header given twice is E002, naming the table.
#[test]
fn duplicate_tables() {
    let dir = TempDir::new("hostile-dup-table");
    let text = format!("{}\n[platform]\nteam = \"again\"\n", small_spec());
    let spec = write(&dir, "dup.toml", text);
    let diags = assert_rejected(&dir, &spec, "E002");
    assert_eq!(message(&diags, "E002"), "duplicate table `[platform]`");
}

/// A spec path that is a folder is E001.
#[test]
fn spec_path_is_a_directory() {
    let dir = TempDir::new("hostile-dir");
    std::fs::create_dir(dir.join("platform.toml")).expect("create a folder");
    let diags = assert_rejected(&dir, "platform.toml", "E001");
    assert!(
        message(&diags, "E001").contains("is a directory"),
        "{diags:?}"
    );
}

/// A spec that cannot be read is E001. Permission bits do not stop root, so as root (CI runs
/// so) the test cannot produce the condition and says so.
#[test]
fn unreadable_spec() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("hostile-unreadable");
    let spec = write(&dir, "platform.toml", small_spec());
    std::fs::set_permissions(dir.join(&spec), std::fs::Permissions::from_mode(0o000))
        .expect("chmod 000");
    if std::fs::read(dir.join(&spec)).is_ok() {
        println!("skipped: running as root, permission bits do not apply");
        return;
    }
    let diags = assert_rejected(&dir, &spec, "E001");
    assert!(
        message(&diags, "E001").contains("permission denied"),
        "{diags:?}"
    );
}

/// A missing spec is E001; so are paths that fail in other ways (through a file, a symlink
/// loop), which root cannot get around either.
#[test]
fn missing_spec() {
    let dir = TempDir::new("hostile-missing");
    let diags = assert_rejected(&dir, "platform.toml", "E001");
    assert!(message(&diags, "E001").contains("not found"), "{diags:?}");
    write(&dir, "file.toml", small_spec());
    assert_rejected(&dir, "file.toml/platform.toml", "E001");
    std::os::unix::fs::symlink("loop.toml", dir.join("loop.toml")).expect("a symlink loop");
    assert_rejected(&dir, "loop.toml", "E001");
}

/// A custom alert's PromQL is parsed recursively; 100,000 nesting levels overflowed the
/// stack and aborted plinth. Over-long expressions are now E008, while an expression just
/// under the limit, nested as deep as its length allows, still parses.
#[test]
fn deep_promql_expressions() {
    let dir = TempDir::new("hostile-promql");
    let rule = |expr: &str| {
        format!(
            "{}\n[[observability.rules]]\nname = \"Deep\"\nexpr = \"{expr}\"\nseverity = \"warning\"\n",
            small_spec()
        )
    };
    let n = 100_000;
    for (name, expr) in [
        ("unary.toml", format!("{}up", "-".repeat(n))),
        (
            "sum.toml",
            format!("{}up{}", "sum(".repeat(n), ")".repeat(n)),
        ),
        ("power.toml", vec!["up"; n].join(" ^ ")),
    ] {
        let spec = write(&dir, name, rule(&expr));
        let diags = assert_rejected(&dir, &spec, "E008");
        assert!(
            message(&diags, "E008").contains("PromQL"),
            "{name}: {diags:?}"
        );
    }
    // 1,600 nested aggregations are 8,002 bytes, just under the limit.
    let deep = format!("{}up{}", "sum(".repeat(1_600), ")".repeat(1_600));
    let spec = write(&dir, "within.toml", rule(&deep));
    assert_exit(&plinth_run(&dir.0, &["check", &spec]), 0);
}

/// Every environment is a full view of every workload, so a 10 KB spec of 200 services in
/// 200 environments asked for 40,000 views and gigabytes of memory. It is E008 at once.
#[test]
fn environments_times_workloads_limit() {
    let dir = TempDir::new("hostile-views");
    let mut text = String::from(
        "version = 1\n[platform]\nname = \"x\"\ndomain = \"x.example.com\"\nteam = \"t\"\n",
    );
    for i in 0..200 {
        text.push_str(&format!("[services.s{i}]\nimage = \"ghcr.io/x/y:1.0\"\n"));
    }
    for i in 0..200 {
        text.push_str(&format!("[environments.e{i}]\n"));
    }
    let spec = write(&dir, "views.toml", text);
    let diags = assert_rejected(&dir, &spec, "E008");
    assert!(message(&diags, "E008").contains("40000"), "{diags:?}");
}

/// Environments without any workload were free under the view limit, yet each is lowered and
/// emitted: a 32 MiB spec holds 1.5 million of them, and 200,000 took 430 MB just to check.
/// An environment counts as at least one view.
#[test]
fn environments_without_workloads_count_as_views() {
    let dir = TempDir::new("hostile-empty-envs");
    let mut text = String::from(
        "version = 1\n[platform]\nname = \"x\"\ndomain = \"x.example.com\"\nteam = \"t\"\n",
    );
    for i in 0..30_000 {
        text.push_str(&format!("[environments.e{i}]\n"));
    }
    let spec = write(&dir, "empty-envs.toml", text);
    let diags = assert_rejected(&dir, &spec, "E008");
    assert!(
        message(&diags, "E008").contains("30000 environments"),
        "{diags:?}"
    );
}

/// 300,000 unknown keys give 300,000 diagnostics. Rendering each one scanned the whole file,
/// and locating each one scanned the whole table, so this never finished; now every format
/// prints the first 100 and says how many were left out.
#[test]
fn hundreds_of_thousands_of_errors() {
    let dir = TempDir::new("hostile-many-errors");
    let mut text = String::from("version = 1\n");
    for i in 0..300_000 {
        text.push_str(&format!("k{i} = 1\n"));
    }
    let spec = write(&dir, "keys.toml", text);
    let json = plinth_run(&dir.0, &["check", &spec, "--format", "json"]);
    assert_exit(&json, 1);
    let diags = json_diagnostics(&json);
    assert_eq!(diags.len(), 100);
    assert!(diags
        .iter()
        .all(|d| d["code"] == "E004" || d["code"] == "E005"));
    assert!(String::from_utf8_lossy(&json.stderr).contains("more diagnostics not shown"));
    let human = plinth_run(&dir.0, &["check", &spec]);
    assert_exit(&human, 1);
    let stderr = String::from_utf8_lossy(&human.stderr);
    assert!(
        stderr.contains("unknown key `k0`"),
        "{}",
        head(&human.stderr)
    );
    assert!(
        stderr.contains("errors, 0 warnings"),
        "{}",
        head(&human.stderr)
    );
}

/// 100,000 services with a wrong type each: one schema error per service, each located in a
/// table of 100,000 entries, which used to be a scan per error.
#[test]
fn an_error_in_each_of_100_000_services() {
    let dir = TempDir::new("hostile-many-services");
    let mut text = String::from(
        "version = 1\n[platform]\nname = \"x\"\ndomain = \"x.example.com\"\nteam = \"t\"\n",
    );
    for i in 0..100_000 {
        text.push_str(&format!("[services.s{i}]\nimage = 1\n"));
    }
    let spec = write(&dir, "types.toml", text);
    let out = plinth_run(&dir.0, &["check", &spec, "--format", "json"]);
    assert_exit(&out, 1);
    assert!(codes(&out).iter().all(|c| c == "E003"), "{:?}", codes(&out));
}

/// The most address space a run below may take: far above what a spec within the limits
/// needs (a debug build checks the in-limit spec below in about 100 MB), far below the
/// gigabytes the hostile spec asked for. Past it an allocation fails, which aborts plinth and
/// fails the exit-code assertion.
const ADDRESS_SPACE_KIB: u64 = 1536 * 1024;

/// Runs plinth with `args` in `dir` with its address space capped at [`ADDRESS_SPACE_KIB`]
/// (`ulimit -v` in a shell that then `exec`s plinth, so the cap binds plinth itself).
fn plinth_capped(dir: &TempDir, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(&dir.0)
        .env("NO_COLOR", "1")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_plinth"))
        .args(args);
    run(&mut cmd, GUARD)
}

/// A spec of one service whose config file holds `file_bytes`, in `envs` environments.
fn config_file_spec(file_bytes: usize, envs: usize) -> String {
    let line = "setting_000000 = some value here\n";
    let mut text = String::from(
        "version = 1\n[platform]\nname = \"x\"\ndomain = \"x.example.com\"\nteam = \"t\"\n\
         [services.api]\nimage = \"ghcr.io/x/y:1.0\"\nconfig_files = [{ path = \"/etc/app/big.conf\", content = \"\"\"\n",
    );
    text.push_str(&line.repeat(file_bytes / line.len()));
    text.push_str("\"\"\" }]\n");
    for i in 0..envs {
        text.push_str(&format!("[environments.e{i}]\n"));
    }
    text
}

/// A 1.2 MB spec — one 1.1 MB config file in 2,000 environments — is far inside the size and
/// view limits, yet each environment copied the file into its view, model and outputs: more
/// than 2 GB, an allocation failure under a memory cap. The text environments copy is bounded
/// now: E008 on the config file, before anything is copied, for `check` and `build`, under the
/// cap; the same file in 40 environments still checks and builds under it.
#[test]
fn config_bytes_times_environments_limit() {
    let dir = TempDir::new("hostile-expanded");
    let spec = write(&dir, "copies.toml", config_file_spec(1_150_000, 2_000));
    for args in [
        vec!["check", &spec, "--format", "json"],
        vec!["build", &spec, "--out", "out", "--format", "json"],
    ] {
        let cmd = args[0];
        let out = plinth_capped(&dir, &args);
        assert_exit(&out, 1);
        let diags = json_diagnostics(&out);
        let e008 = diags
            .iter()
            .find(|d| d["code"] == "E008")
            .unwrap_or_else(|| panic!("{cmd}: no E008 in {diags:?}"));
        assert!(
            e008["message"]
                .as_str()
                .unwrap_or_default()
                .contains("2000 environments"),
            "{e008}"
        );
        assert_eq!(e008["location"]["line"], 8, "on the config file: {e008}");
        assert!(!dir.join("out").exists(), "a rejected build wrote files");
    }
    let within = write(&dir, "within.toml", config_file_spec(1_150_000, 40));
    assert_exit(&plinth_capped(&dir, &["check", &within]), 0);
    assert_exit(&plinth_capped(&dir, &["build", &within, "--out", "out"]), 0);
}
