//! The check phase: semantic rules over the loaded spec, collecting every problem.
//!
//! Rules that concern one definition run on each environment's merged view (see
//! [`crate::spec::resolve`]), because an override can make a valid base invalid; the same
//! problem found in several views is reported once. Each rule is one function named after the
//! problem, documented with what it catches and why, and tagged with a [`Code`].

pub(crate) mod alerts;
mod collisions;
mod fields;
mod namespaces;
mod refs;
mod secrets;
mod workload;

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::source::Sources;
use crate::spec::{Resolved, Spec};
pub(crate) use alerts::{parse_level, prepare_promql, LevelKind, BUILTIN_THRESHOLDS};

/// Everything a rule may look at.
pub(crate) struct Ctx<'a> {
    /// The spec as written.
    pub spec: &'a Spec,
    /// One merged view per environment (or one for a spec without environments).
    pub views: &'a [Resolved],
    /// The spec's text and its presets', for labels narrower than a whole string.
    pub sources: &'a Sources,
    diags: Vec<Diagnostic>,
    seen: BTreeSet<(Code, u32, usize, usize, String)>,
}

impl Ctx<'_> {
    /// Reports a problem once, however many views show it.
    pub fn report(&mut self, d: Diagnostic) {
        let key = match &d.primary {
            Some(l) => (
                d.code,
                l.span.source.0,
                l.span.range.start,
                l.span.range.end,
                d.message.clone(),
            ),
            None => (d.code, u32::MAX, 0, 0, d.message.clone()),
        };
        if self.seen.insert(key) {
            self.diags.push(d);
        }
    }
}

/// Runs every rule over the spec and its merged view per environment (from
/// [`crate::spec::resolve_all`]); `sources` holds their text.
pub fn run(spec: &Spec, views: &[Resolved], sources: &Sources) -> Diagnostics {
    let mut ctx = Ctx {
        spec,
        views,
        sources,
        diags: Vec::new(),
        seen: BTreeSet::new(),
    };
    refs::run(&mut ctx);
    workload::run(&mut ctx);
    secrets::run(&mut ctx);
    alerts::run(&mut ctx);
    collisions::run(&mut ctx);
    namespaces::run(&mut ctx);
    fields::run(&mut ctx);
    let mut diags = Diagnostics(ctx.diags);
    diags.sort();
    diags
}
