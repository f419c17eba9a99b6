//! `plinth explain`: the resolved model of one environment, and where a value came from.

use std::path::PathBuf;

use super::render::Format;
use super::{
    chosen_env, display_path, print_diagnostics, read_spec, spec_path, EXIT_ERROR, EXIT_OK,
};
use crate::diag::{did_you_mean, Diagnostics};
use crate::source::Sources;

/// Show the resolved spec of an environment as JSON, or one field and the layer (default,
/// preset, spec, environment) that set it.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  plinth explain --env production\n  plinth explain examples/codepal.toml --env staging services.codepal-app.resources.limits.cpu"
)]
pub struct Args {
    /// `[SPEC] [PATH]`: the spec file (default `platform.toml`) and a dotted field path such as
    /// `services.api.replicas`. A single argument is the spec when it ends in `.toml` or names
    /// an existing file, and the path otherwise.
    #[arg(num_args = 0..=2, value_name = "SPEC|PATH")]
    args: Vec<String>,
    /// The environment; required when the spec has more than one.
    #[arg(long)]
    env: Option<String>,
}

pub fn run(args: Args) -> u8 {
    let (spec, field) = match args.args.as_slice() {
        [] => (None, None),
        [one] if one.ends_with(".toml") || std::path::Path::new(one).is_file() => {
            (Some(PathBuf::from(one)), None)
        }
        [one] => (None, Some(one.clone())),
        [spec, field, ..] => (Some(PathBuf::from(spec)), Some(field.clone())),
    };
    let path = spec_path(spec);
    let shown = display_path(&path);
    let text = match read_spec(&path) {
        Ok(t) => t,
        Err(d) => {
            print_diagnostics(Format::Human, &Sources::new(), &Diagnostics(vec![*d]));
            return EXIT_ERROR;
        }
    };
    let analysis = crate::analyze_explained(&shown, &text);
    let Some(platform) = analysis.platform else {
        print_diagnostics(Format::Human, &analysis.sources, &analysis.diagnostics);
        return EXIT_ERROR;
    };
    let Some(env) = chosen_env(&platform, args.env.as_deref()) else {
        return EXIT_ERROR;
    };
    match field {
        None => {
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::ir::explain(env)).unwrap_or_default()
            );
            EXIT_OK
        }
        Some(p) => match crate::ir::explain_path(env, &p) {
            Ok((value, layer)) => {
                println!("{p} = {value}");
                println!("  set by: {layer}");
                EXIT_OK
            }
            Err(u) => {
                let place = if u.parent.is_empty() {
                    "at the top".to_owned()
                } else {
                    format!("under `{}`", u.parent)
                };
                eprintln!(
                    "error: `{p}` is not a field of environment `{}`: no `{}` {place}",
                    env.name, u.segment
                );
                if let Some(near) = did_you_mean(&u.segment, u.known.iter().map(String::as_str)) {
                    eprintln!("  help: did you mean `{near}`?");
                }
                if !u.known.is_empty() {
                    eprintln!("  keys there: {}", u.known.join(", "));
                }
                EXIT_ERROR
            }
        },
    }
}
