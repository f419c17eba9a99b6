//! The spec phase: the serde types that mirror the TOML file, and loading them with spans.
//!
//! `load` turns text into a [`Spec`] in three steps, each of which reports every problem it
//! finds: TOML syntax (with recovery), structure against the JSON Schema generated from these
//! types (types, unknown keys with did-you-mean, missing keys, enum values), and finally
//! typed deserialization, which cannot fail once the schema accepted the document.

mod load;
mod overlay;
mod span;
mod types;

pub use load::{
    load, load_preset, schema, schema_text, PresetFile, FORMAT_VERSION, MAX_SPEC_BYTES,
};
pub use overlay::{resolve, Layer, Origins, Overlay, Resolved};
pub use span::Sp;
pub use types::*;
