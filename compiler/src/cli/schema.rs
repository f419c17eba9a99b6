//! `plinth schema`: print the JSON Schema of the spec format.

/// Print the JSON Schema of the spec format (the committed copy is
/// `schemas/platform.schema.json`).
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  plinth schema > platform.schema.json")]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    print!("{}", schema_text());
    super::EXIT_OK
}

/// The schema as committed: pretty JSON with a trailing newline.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&crate::spec::schema()).unwrap_or_default();
    s.push('\n');
    s
}
