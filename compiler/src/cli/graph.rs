//! `plinth graph`: the platform of one environment as a picture — workloads and data stores,
//! dependency edges with ports, ingress hosts, and the receivers each alert family reaches —
//! in Mermaid, Graphviz DOT or JSON, on standard output.

use std::path::PathBuf;

use super::render::Format;
use super::{
    chosen_env, display_path, print_diagnostics, read_spec, spec_path, EXIT_ERROR, EXIT_OK,
};
use crate::diag::Diagnostics;
use crate::emit::docs::graph;
use crate::emit::Shared;
use crate::source::Sources;

/// Output formats of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// A Mermaid flowchart (GitHub renders it in Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
    /// Nodes and edges as JSON.
    Json,
}

/// Draw the platform of an environment: workloads, data stores, dependencies with ports,
/// ingress hosts and alert routing.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  plinth graph --env production\n  plinth graph examples/devmentor.toml --env staging --format dot | dot -Tsvg > platform.svg\n\nExit codes: 0 ok, 1 invalid spec or error."
)]
pub struct Args {
    /// The spec file [default: platform.toml]
    spec: Option<PathBuf>,
    /// The environment; required when the spec has more than one.
    #[arg(long)]
    env: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
}

pub fn run(args: Args) -> u8 {
    let path = spec_path(args.spec);
    let shown = display_path(&path);
    let text = match read_spec(&path) {
        Ok(t) => t,
        Err(d) => {
            print_diagnostics(Format::Human, &Sources::new(), &Diagnostics(vec![*d]));
            return EXIT_ERROR;
        }
    };
    let analysis = crate::analyze(&shown, &text);
    let Some(platform) = &analysis.platform else {
        print_diagnostics(Format::Human, &analysis.sources, &analysis.diagnostics);
        return EXIT_ERROR;
    };
    let Some(env) = chosen_env(platform, args.env.as_deref()) else {
        return EXIT_ERROR;
    };
    let g = graph::build(&Shared::new(platform), env);
    match args.format {
        GraphFormat::Mermaid => print!("{}", g.mermaid()),
        GraphFormat::Dot => print!("{}", g.dot()),
        GraphFormat::Json => println!("{}", serde_json::to_string_pretty(&g).unwrap_or_default()),
    }
    EXIT_OK
}
