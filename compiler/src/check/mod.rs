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

/// The span of `key` written in the definition whose name is at `name` (a service's key in
/// `[services.api]` or `api = { … }`), or `name` itself when the key is not written there.
///
/// The spec types keep spans on values, not on tables, so a rule about a whole table
/// (`storage`, `autoscaling`, `ingress`) finds its key in the text: the first `key` followed
/// by `=`, `.` or `]` after the name and before the next table header that is not one of the
/// definition's own sub-tables. A key the definition gets from an environment's override is
/// written elsewhere; the name is then the narrowest place that shows the problem.
pub(crate) fn key_span(
    sources: &Sources,
    name: &crate::source::Span,
    key: &str,
) -> crate::source::Span {
    let text = &sources.get(name.source).text;
    let start = name.range.end.min(text.len());
    // The header the name is written in (`services.api` of `[services.api]`), whose
    // sub-tables (`[services.api.storage]`) still belong to the definition.
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let own_header = text[line_start..]
        .trim_start()
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .map(|h| h.trim_start_matches('[').trim().to_owned());
    let mut offset = start;
    let mut first = true;
    for line in text[start..].split_inclusive('\n') {
        let line_offset = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        if !first && trimmed.starts_with('[') {
            let header = trimmed.trim_start_matches('[');
            let own = own_header
                .as_deref()
                .is_some_and(|h| header.starts_with(&format!("{h}.")));
            if !own {
                break;
            }
        }
        first = false;
        let bytes = line.as_bytes();
        let mut from = 0;
        while let Some(i) = line[from..].find(key).map(|i| i + from) {
            from = i + key.len();
            let before = line[..i].chars().next_back();
            let after = line[i + key.len()..].trim_start().chars().next();
            let bounded_before =
                before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '.' | '['));
            let bounded_after = matches!(after, Some('=' | '.' | ']'));
            // A key, not a value or a longer key that ends the same way.
            if bounded_before
                && bounded_after
                && bytes
                    .get(i + key.len())
                    .is_some_and(|b| !b.is_ascii_alphanumeric() && *b != b'_')
            {
                let at = line_offset + i;
                return crate::source::Span::new(name.source, at..at + key.len());
            }
        }
    }
    name.clone()
}
