//! Arbitrary bytes through the whole pipeline: decode, load, check, lower, every emitter, and
//! the rendering of every diagnostic in every format. Any panic or hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth::cli::render;

fuzz_target!(|data: &[u8]| {
    let text = match plinth::spec::decode("fuzz.toml", data.to_vec()) {
        Ok(t) => t,
        Err(_) => return,
    };
    let c = plinth::compile("fuzz.toml", &text, &plinth::Options::default());
    // Rendering reads every span back out of the source: a span past the end or inside a
    // UTF-8 sequence would panic here.
    let _ = render::human(&c.sources, &c.diagnostics.0, false, 100);
    let _ = render::json(&c.sources, &c.diagnostics.0);
    let _ = render::github(&c.sources, &c.diagnostics.0);
    // An invalid spec never produces output.
    assert!(!c.diagnostics.has_errors() || c.files.is_empty());
});
