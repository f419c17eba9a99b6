//! Every free-text string of a spec, in one walk, each tagged with how it is read.
//!
//! Two rules need every string the user wrote: the plain-text secret check (`E160`), which
//! must not miss a field where a credential could be pasted, and the input limit on the text
//! that environments multiply (`E008`). Keeping the list of fields in one place means a new
//! field is covered by both as soon as it is added here, instead of by whichever rule
//! remembered it.

use super::types::{
    Alerting, DataStore, Observability, Platform, Probes, Service, Spec, WorkloadCompose,
};
use super::{ComposeHealthcheck, Sp};
use crate::source::Span;

/// One string of the spec and how its contents are read.
#[derive(Clone, Copy, Debug)]
pub enum Text<'a> {
    /// A value under a name the user chose: an `env` variable or a label (`field` says which).
    Named {
        /// The field, e.g. `env` or `labels`.
        field: &'static str,
        /// The variable or label name.
        name: &'a Sp<String>,
        /// Its value.
        value: &'a Sp<String>,
    },
    /// A process's argument vector: `command`, `args`, an exec probe's command.
    Argv {
        /// The field, e.g. `args`.
        field: &'static str,
        /// The arguments, each with its span.
        args: &'a [Sp<String>],
    },
    /// An argument vector written as one value (a Compose health check command), whose
    /// arguments have no span of their own.
    ArgvAt {
        /// The field.
        field: &'static str,
        /// The arguments.
        args: &'a [String],
        /// Where the whole vector was written.
        span: &'a Span,
    },
    /// The contents of a file, read line by line (`config_files`).
    File {
        /// The field.
        field: &'static str,
        /// The contents.
        content: &'a Sp<String>,
    },
    /// Any other string: a URL, a host, a description, an expression.
    Plain {
        /// The field, e.g. `runbook_url`.
        field: &'static str,
        /// The string.
        value: &'a Sp<String>,
    },
}

impl Text<'_> {
    /// How many bytes of text this holds.
    pub fn len(&self) -> usize {
        match self {
            Text::Named { name, value, .. } => name.value.len() + value.value.len(),
            Text::Argv { args, .. } => args.iter().map(|a| a.value.len()).sum(),
            Text::ArgvAt { args, .. } => args.iter().map(String::len).sum(),
            Text::File { content, .. } => content.value.len(),
            Text::Plain { value, .. } => value.value.len(),
        }
    }

    /// Whether this holds no text at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where this was written: the value, the file's contents, or the first argument.
    pub fn span(&self) -> Option<&Span> {
        match self {
            Text::Named { value, .. } | Text::Plain { value, .. } => Some(&value.span),
            Text::Argv { args, .. } => args.first().map(|a| &a.span),
            Text::ArgvAt { span, .. } => Some(span),
            Text::File { content, .. } => Some(&content.span),
        }
    }
}

/// Calls `f` with every string of the spec outside `environments`: the definitions that
/// every environment copies.
pub fn base<'a>(spec: &'a Spec, f: &mut impl FnMut(Text<'a>)) {
    platform(&spec.platform, f);
    for s in spec.services.values() {
        service(s, f);
    }
    for d in spec.datastores.values() {
        datastore(d, f);
    }
    observability(&spec.observability, f);
    alerting(&spec.alerting, f);
    for a in &spec.allow {
        plain("allow.reason", Some(&a.reason), f);
    }
}

/// Calls `f` with every string of the spec's environment overrides.
pub fn overrides<'a>(spec: &'a Spec, f: &mut impl FnMut(Text<'a>)) {
    for env in spec.environments.values() {
        plain("domain", env.domain.as_ref(), f);
        named("env", env.env.as_ref(), f);
        if let Some(a) = &env.alerting {
            alerting(a, f);
        }
        for s in env.services.values() {
            service(s, f);
        }
        for d in env.datastores.values() {
            datastore(d, f);
        }
    }
}

fn plain<'a>(field: &'static str, value: Option<&'a Sp<String>>, f: &mut impl FnMut(Text<'a>)) {
    if let Some(value) = value {
        f(Text::Plain { field, value });
    }
}

fn argv<'a>(field: &'static str, args: Option<&'a Vec<Sp<String>>>, f: &mut impl FnMut(Text<'a>)) {
    if let Some(args) = args {
        f(Text::Argv { field, args });
    }
}

fn named<'a>(
    field: &'static str,
    map: Option<&'a std::collections::BTreeMap<Sp<String>, Sp<String>>>,
    f: &mut impl FnMut(Text<'a>),
) {
    for (name, value) in map.into_iter().flatten() {
        f(Text::Named { field, name, value });
    }
}

fn platform<'a>(p: &'a Platform, f: &mut impl FnMut(Text<'a>)) {
    plain("platform.domain", p.domain.as_ref(), f);
    plain("platform.owner", p.owner.as_ref(), f);
    plain("platform.team", p.team.as_ref(), f);
    plain("platform.tls_email", p.tls_email.as_ref(), f);
    named("env", p.env.as_ref(), f);
    named("labels", Some(&p.labels), f);
}

fn probes<'a>(p: Option<&'a Probes>, f: &mut impl FnMut(Text<'a>)) {
    for probe in p
        .into_iter()
        .flat_map(|p| [&p.liveness, &p.readiness, &p.startup])
        .flatten()
    {
        plain("probe path", probe.path.as_ref(), f);
        argv("probe command", probe.command.as_ref(), f);
    }
}

fn compose<'a>(c: Option<&'a WorkloadCompose>, f: &mut impl FnMut(Text<'a>)) {
    if let Some(hc) = c.and_then(|c| c.healthcheck.as_ref()) {
        if let ComposeHealthcheck::Command(args) = &hc.value {
            f(Text::ArgvAt {
                field: "compose.healthcheck",
                args,
                span: &hc.span,
            });
        }
    }
}

fn service<'a>(s: &'a Service, f: &mut impl FnMut(Text<'a>)) {
    argv("command", s.command.as_ref(), f);
    argv("args", s.args.as_ref(), f);
    for c in s.init.iter().flatten() {
        argv("init command", Some(&c.command), f);
    }
    named("annotations", s.annotations.as_ref(), f);
    named("env", s.env.as_ref(), f);
    for file in s.config_files.iter().flatten() {
        plain("config file path", Some(&file.path), f);
        f(Text::File {
            field: "config file",
            content: &file.content,
        });
    }
    probes(s.probes.as_ref(), f);
    if let Some(i) = &s.ingress {
        plain("ingress.host", i.host.as_ref(), f);
        plain("ingress.path", i.path.as_ref(), f);
    }
    plain(
        "metrics.path",
        s.metrics.as_ref().and_then(|m| m.path.as_ref()),
        f,
    );
    for t in s.thresholds.iter().flat_map(|t| t.values()) {
        plain("threshold expr", t.expr.as_ref(), f);
        plain("threshold summary", t.summary.as_ref(), f);
    }
    plain("team", s.team.as_ref(), f);
    compose(s.compose.as_ref(), f);
}

fn datastore<'a>(d: &'a DataStore, f: &mut impl FnMut(Text<'a>)) {
    argv("command", d.command.as_ref(), f);
    argv("args", d.args.as_ref(), f);
    named("env", d.env.as_ref(), f);
    probes(d.probes.as_ref(), f);
    plain(
        "metrics.path",
        d.metrics.as_ref().and_then(|m| m.path.as_ref()),
        f,
    );
    for t in d.thresholds.iter().flat_map(|t| t.values()) {
        plain("threshold expr", t.expr.as_ref(), f);
        plain("threshold summary", t.summary.as_ref(), f);
    }
    compose(d.compose.as_ref(), f);
}

fn observability<'a>(o: &'a Observability, f: &mut impl FnMut(Text<'a>)) {
    plain("runbook_url", o.runbook_url.as_ref(), f);
    for t in o.thresholds.values() {
        plain("threshold expr", t.expr.as_ref(), f);
        plain("threshold summary", t.summary.as_ref(), f);
    }
    for r in &o.rules {
        plain("rule expr", Some(&r.expr), f);
        plain("rule summary", r.summary.as_ref(), f);
        plain("rule description", r.description.as_ref(), f);
    }
    for s in o.slos.values() {
        plain("slo good", Some(&s.good), f);
        plain("slo total", Some(&s.total), f);
        plain("slo description", s.description.as_ref(), f);
    }
}

fn alerting<'a>(a: &'a Alerting, f: &mut impl FnMut(Text<'a>)) {
    for r in a.receivers.values() {
        plain("channel", r.channel.as_ref(), f);
        plain("to", r.to.as_ref(), f);
        plain("from", r.from.as_ref(), f);
        plain("smarthost", r.smarthost.as_ref(), f);
    }
    for route in &a.routes {
        for value in route.matchers.values() {
            plain("match", Some(value), f);
        }
    }
}
