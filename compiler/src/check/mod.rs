//! The check phase: semantic rules over the loaded spec, collecting every problem.
//!
//! Rules that concern one definition run on each environment's merged view (see
//! [`crate::spec::resolve`]), because an override can make a valid base invalid; the same
//! problem found in several views is reported once. Each rule is one function named after the
//! problem, documented with what it catches and why, and tagged with a [`Code`].

pub(crate) mod alerts;
mod cdn;
mod cloud;
mod collisions;
mod dns;
mod fields;
mod gateway;
mod mesh;
mod namespaces;
mod placement;
mod refs;
mod rollouts;
mod secrets;
mod stores;
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
    stores::run(&mut ctx);
    alerts::run(&mut ctx);
    collisions::run(&mut ctx);
    namespaces::run(&mut ctx);
    fields::run(&mut ctx);
    placement::run(&mut ctx);
    cloud::run(&mut ctx);
    dns::run(&mut ctx);
    gateway::run(&mut ctx);
    mesh::run(&mut ctx);
    rollouts::run(&mut ctx);
    let diags = allowed(spec, ctx.diags);
    let mut diags = Diagnostics(diags);
    diags.sort();
    diags
}

/// E172 `invalid-allow`, W004 `unused-allow`: applies the spec's `allow` list, dropping the
/// warnings it names.
///
/// Why: a warning that a team has looked at and accepted (a worker with no readiness probe,
/// a deliberate security opt-out) should not be printed on every run, or real warnings drown
/// in it; but silencing must be explicit, per code, and say why, so the next reader can
/// judge it. Errors cannot be allowed: the output would not work. An entry that silences
/// nothing is itself a warning, so stale entries do not accumulate.
///
/// Example: `allow = [{ code = "W001", reason = "the worker serves no traffic" }]`.
fn allowed(spec: &Spec, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut valid = Vec::new();
    for a in &spec.allow {
        let code = Code::ALL.iter().find(|c| c.id() == a.code.value);
        match code {
            Some(c) if c.severity() == crate::diag::Severity::Warning => valid.push((*c, a)),
            Some(c) => out.push(
                Diagnostic::new(
                    Code::InvalidAllow,
                    format!("`{}` is an error and cannot be allowed", c.id()),
                    a.code.span.clone(),
                    "an error",
                )
                .help("fix what the error names; only warnings (W…) can be allowed"),
            ),
            None => {
                let warnings = Code::ALL
                    .iter()
                    .filter(|c| c.severity() == crate::diag::Severity::Warning)
                    .map(|c| c.id());
                let d = Diagnostic::new(
                    Code::InvalidAllow,
                    format!("`{}` is not a warning code", a.code.value),
                    a.code.span.clone(),
                    "unknown code",
                );
                out.push(match crate::diag::did_you_mean(&a.code.value, warnings) {
                    Some(near) => d.help(format!("did you mean `{near}`?")),
                    None => d.help(
                        "warning codes start with `W`; `plinth check` prints each warning's code",
                    ),
                });
            }
        }
        if a.reason.value.trim().is_empty() {
            out.push(
                Diagnostic::new(
                    Code::InvalidAllow,
                    "an allowed warning needs a reason",
                    a.reason.span.clone(),
                    "empty reason",
                )
                .help("say why the warning does not apply, for the next reader"),
            );
        }
    }
    let mut used = vec![false; valid.len()];
    for d in diags {
        match valid.iter().position(|(c, _)| *c == d.code) {
            Some(i) => used[i] = true,
            None => out.push(d),
        }
    }
    for ((code, a), used) in valid.iter().zip(used) {
        if !used {
            out.push(
                Diagnostic::new(
                    Code::UnusedAllow,
                    format!("no `{}` warning to allow", code.id()),
                    a.code.span.clone(),
                    "silences nothing",
                )
                .help("remove the entry"),
            );
        }
    }
    out
}
