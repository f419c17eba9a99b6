//! The stdlib: data store presets written in the spec's own TOML and embedded in the binary.
//!
//! Each preset is registered under the pseudo-path `<stdlib>/NAME.toml` and goes through the
//! same loader as a user file, so a mistake in a preset renders like any other diagnostic.

/// Every preset: its name and its text.
pub const PRESETS: &[(&str, &str)] = &[
    ("minio", include_str!("../../stdlib/minio.toml")),
    ("postgres", include_str!("../../stdlib/postgres.toml")),
    ("qdrant", include_str!("../../stdlib/qdrant.toml")),
    ("redis", include_str!("../../stdlib/redis.toml")),
];

/// The text of the preset called `name`.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The pseudo-path a preset is shown under in diagnostics.
pub fn path(name: &str) -> String {
    format!("<stdlib>/{name}.toml")
}

/// The names of all presets, for did-you-mean.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(n, _)| *n)
}
