//! `plinth schema`: print the JSON Schema of the spec format.

/// Print the JSON Schema of the spec format (the committed copy is
/// `schemas/platform.schema.json`).
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  plinth schema > platform.schema.json")]
pub struct Args {}

pub fn run(_args: Args) -> u8 {
    print!("{}", crate::spec::schema_text());
    super::EXIT_OK
}
