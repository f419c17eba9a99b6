//! A build killed at any moment leaves the output folder holding the complete old set of files
//! or the complete new one, never a mix, and the next build recovers.
//!
//! The test kills `plinth build` with SIGKILL at points spread over a whole build (measured
//! first), so some kills land while files are staged and some after the exchange; each time
//! it compares the whole folder, hidden files included, with the two complete sets.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use support::{tree, TempDir};

fn build(spec: &Path, out: &Path) -> Command {
    let mut c = support::plinth(spec.parent().expect("the spec is in a folder"));
    c.arg("build")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn build_ok(spec: &Path, out: &Path) {
    assert!(build(spec, out).status().unwrap().success());
}

#[test]
fn a_killed_build_leaves_the_old_or_the_new_set_and_the_next_build_recovers() {
    let dir = TempDir::new("kill");
    // Two versions of one platform that differ in every service's files, with a file set
    // of a few thousand files, so a build takes long enough to be killed in the middle.
    let old_text = plinth::synth::spec(80);
    let new_text = old_text.replace("LOG_LEVEL = \"info\"", "LOG_LEVEL = \"debug\"");
    assert_ne!(old_text, new_text);
    let (old_spec, new_spec) = (dir.join("platform.toml"), dir.join("next/platform.toml"));
    std::fs::create_dir_all(dir.join("next")).unwrap();
    std::fs::write(&old_spec, &old_text).unwrap();
    std::fs::write(&new_spec, &new_text).unwrap();
    // The banner names the spec path, so both are built through the same path: the new
    // spec is copied over the old one for the "new" builds.
    let spec = dir.join("spec.toml");
    let out = dir.join("out");
    let use_spec = |text: &Path| std::fs::copy(text, &spec).map(|_| ()).unwrap();

    use_spec(&old_spec);
    build_ok(&spec, &out);
    let old = tree(&out);
    use_spec(&new_spec);
    let started = Instant::now();
    build_ok(&spec, &out);
    let full = started.elapsed();
    let new = tree(&out);
    assert_ne!(old, new);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );

    let (mut saw_old, mut saw_new) = (0, 0);
    let steps = 10;
    for step in 0..steps {
        use_spec(&old_spec);
        build_ok(&spec, &out);
        assert!(tree(&out) == old, "the old set could not be restored");
        use_spec(&new_spec);
        let mut child = build(&spec, &out).spawn().unwrap();
        // From the start to a little past the measured end, where the old folder is removed.
        std::thread::sleep(full.mul_f64(1.2 * f64::from(step) / f64::from(steps)));
        let _ = child.kill();
        let _ = child.wait();
        let now = tree(&out);
        if now == old {
            saw_old += 1;
        } else if now == new {
            saw_new += 1;
        } else {
            let mixed: Vec<_> = now
                .iter()
                .filter(|(p, b)| old.get(*p) != Some(b) && new.get(*p) != Some(b))
                .map(|(p, _)| p)
                .chain(old.keys().filter(|p| !now.contains_key(*p)))
                .take(5)
                .collect();
            panic!("step {step}: the folder holds neither complete set: {mixed:?}");
        }
        // The next build recovers: the complete new set, and no staging leftovers.
        build_ok(&spec, &out);
        assert!(
            tree(&out) == new,
            "step {step}: the next build did not recover"
        );
        let leftovers: Vec<_> = tree(&dir.0)
            .into_keys()
            .filter(|p| {
                let p = p.to_string_lossy();
                p.contains(".plinth-") && !p.ends_with(".plinth-manifest")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    println!("kills that left the old set: {saw_old}, the new set: {saw_new}");
}
