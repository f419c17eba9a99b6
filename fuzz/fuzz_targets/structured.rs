//! Structurally valid but random specs (`plinth::synth::random`) through the whole pipeline.
//! The generator only writes valid specs, so besides "no panic" every input must compile
//! without errors: an error here is a false positive of the checker (or a generator bug).
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(text) = plinth::synth::random(&mut u) else {
        return;
    };
    let c = plinth::compile("fuzz.toml", &text, &plinth::Options::default());
    if c.diagnostics.has_errors() {
        let shown = plinth::cli::render::human(&c.sources, &c.diagnostics.0, false, 100);
        panic!("a generated spec does not compile:\n{text}\n{shown}");
    }
    assert!(!c.files.is_empty());
});
