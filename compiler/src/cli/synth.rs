//! `plinth synth` (hidden): print a synthetic spec of N services, for benchmarks.

/// Print a synthetic spec with the given number of services (see `bench/README.md`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of services.
    #[arg(long, default_value_t = 100)]
    services: usize,
}

pub fn run(args: Args) -> u8 {
    print!("{}", crate::synth::spec(args.services));
    super::EXIT_OK
}
