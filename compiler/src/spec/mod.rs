//! The spec phase: the serde types that mirror the TOML file, and loading them with spans.
//!
//! `load` turns text into a [`Spec`] in three steps, each of which reports every problem it
//! finds: TOML syntax (`syntax`: each problem once, at its cause), structure against the JSON
//! Schema generated from these types (types, unknown keys with did-you-mean, missing keys,
//! enum values), and finally typed deserialization of what the schema accepted: the values
//! it rejected are pruned, so the rest of the file is still checked, and [`Recovery`] says
//! what was pruned so that the consequences are not reported as errors of their own.

mod load;
mod overlay;
mod reference;
mod span;
mod syntax;
pub mod text;
mod types;

pub use load::{
    load, load_preset, load_recovering, schema, schema_text, too_many_views, too_much_text,
    PresetFile, Recovery, FORMAT_VERSION, MAX_EXPANDED_TEXT, MAX_SPEC_BYTES, MAX_WORKLOAD_VIEWS,
};
pub(crate) use overlay::is_local;
pub use overlay::{resolve, resolve_all, Layer, Origins, Overlay, Resolved, Written};
pub use reference::reference;
pub use span::Sp;
pub use types::*;

use crate::diag::{Code, Diagnostic};

/// Turns the bytes of a spec file into text: UTF-8 is required, a leading byte-order mark
/// (legal UTF-8 but not TOML, added silently by some Windows editors) is dropped, and CRLF
/// line endings become LF. `shown` is the path as the diagnostic names it.
///
/// Without the last step a multi-line string (a config file's content) kept its `\r\n`, so
/// a Windows checkout of the same spec generated different files; TOML lets a parser
/// normalize the newlines of multi-line strings, and everywhere else they are whitespace.
#[allow(clippy::result_large_err)] // One diagnostic per file read, on the cold path.
pub fn decode(shown: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        Diagnostic::global(
            Code::Io,
            format!("`{shown}` is not UTF-8 text (invalid byte on line {line})"),
        )
        .help("TOML files must be UTF-8")
    })?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok(if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text
    })
}
