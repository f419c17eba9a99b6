//! Micro-benchmarks of each phase on synthetic specs (`cargo bench --bench phases`), to show
//! where the time of a build goes: loading (TOML parse and typed deserialization), merging
//! the environments, checking, lowering, each emitter (which includes serialization) and the
//! proof over the generated files.
//! The whole-process numbers are `bench/run`'s; see bench/README.md.

use std::collections::BTreeMap;

use divan::Bencher;
use plinth::diag::Diagnostics;
use plinth::emit::Target;
use plinth::source::Sources;
use plinth::spec::{DataStore, Spec};

fn main() {
    divan::main();
}

/// Service counts of the synthetic specs.
const SIZES: &[usize] = &[10, 100, 1000];

/// A loaded synthetic spec with its presets and sources.
fn loaded_with_sources(n: usize) -> (Spec, BTreeMap<String, DataStore>, Sources) {
    let text = plinth::synth::spec(n);
    let mut sources = Sources::new();
    let id = sources.add("synthetic.toml", &text);
    let (spec, _) = plinth::spec::load(&sources, id);
    let spec = spec.expect("the synthetic spec loads");
    let presets = plinth::load_presets(&spec, &mut sources, &mut Diagnostics::default());
    (spec, presets, sources)
}

/// A loaded synthetic spec with its presets.
fn loaded(n: usize) -> (Spec, BTreeMap<String, DataStore>) {
    let (spec, presets, _) = loaded_with_sources(n);
    (spec, presets)
}

#[divan::bench(args = SIZES)]
fn load(b: Bencher, n: usize) {
    let text = plinth::synth::spec(n);
    b.bench(|| {
        let mut sources = Sources::new();
        let id = sources.add("synthetic.toml", &text);
        plinth::spec::load(&sources, id)
    });
}

#[divan::bench(args = SIZES)]
fn resolve(b: Bencher, n: usize) {
    let (spec, presets) = loaded(n);
    b.bench(|| plinth::spec::resolve_all(&spec, &presets, false));
}

#[divan::bench(args = SIZES)]
fn check(b: Bencher, n: usize) {
    let (spec, presets, sources) = loaded_with_sources(n);
    let views = plinth::spec::resolve_all(&spec, &presets, false);
    b.bench(|| plinth::check::run(&spec, &views, &sources));
}

#[divan::bench(args = SIZES)]
fn lower(b: Bencher, n: usize) {
    let (spec, presets) = loaded(n);
    let views = plinth::spec::resolve_all(&spec, &presets, false);
    b.with_inputs(|| views.clone())
        .bench_values(|v| plinth::ir::lower(&spec, v, "synthetic.toml"));
}

/// Runs one emitter on the lowered platform, both environments.
fn emit(b: Bencher, n: usize, target: Target) {
    let (spec, presets) = loaded(n);
    let platform = plinth::ir::lower(
        &spec,
        plinth::spec::resolve_all(&spec, &presets, false),
        "synthetic.toml",
    );
    b.bench(|| plinth::emit::emit(target, &platform, &[]).expect("emits"));
}

#[divan::bench(args = SIZES)]
fn emit_k8s(b: Bencher, n: usize) {
    emit(b, n, Target::K8s);
}

#[divan::bench(args = SIZES)]
fn emit_helm(b: Bencher, n: usize) {
    emit(b, n, Target::Helm);
}

#[divan::bench(args = SIZES)]
fn emit_terraform(b: Bencher, n: usize) {
    emit(b, n, Target::Terraform);
}

#[divan::bench(args = SIZES)]
fn emit_compose(b: Bencher, n: usize) {
    emit(b, n, Target::Compose);
}

#[divan::bench(args = SIZES)]
fn emit_prometheus(b: Bencher, n: usize) {
    emit(b, n, Target::Prometheus);
}

#[divan::bench(args = SIZES)]
fn emit_alertmanager(b: Bencher, n: usize) {
    emit(b, n, Target::Alertmanager);
}

/// The whole pure pipeline, text to files, as `plinth build` runs it before writing.
#[divan::bench(args = SIZES)]
fn compile_all(b: Bencher, n: usize) {
    let text = plinth::synth::spec(n);
    b.bench(|| plinth::compile("synthetic.toml", &text, &plinth::Options::default()));
}

/// The proof alone, over the files of a build of every target (the part of `compile_all`
/// that issue 19 adds).
#[divan::bench(args = SIZES)]
fn proof(b: Bencher, n: usize) {
    let text = plinth::synth::spec(n);
    let (spec, _) = loaded(n);
    let files = plinth::compile("synthetic.toml", &text, &plinth::Options::default()).files;
    b.bench(|| plinth::proof::run(&files, Target::ALL, &spec));
}

/// What `plinth check` runs: the rules, then the proof over the targets it needs, in memory.
#[divan::bench(args = SIZES)]
fn check_proven(b: Bencher, n: usize) {
    let text = plinth::synth::spec(n);
    b.bench(|| plinth::check_proven("synthetic.toml", &text, false));
}
