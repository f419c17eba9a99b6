//! Names and references: what a name may look like, and that every name used is defined.

use std::collections::{BTreeMap, BTreeSet};

use super::Ctx;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::spec::{Sp, StoreMode};
use crate::stdlib;
use crate::units::{self, is_dns_label};

pub(super) fn run(ctx: &mut Ctx) {
    invalid_name(ctx);
    duplicate_name(ctx);
    unknown_preset(ctx);
    unknown_override_target(ctx);
    unknown_dependency(ctx);
    dependency_cycle(ctx);
    unknown_slo_service(ctx);
    unknown_receiver(ctx);
    managed_without_cloud(ctx);
    multiple_local_environments(ctx);
}

/// E170 `multiple-local-environments`: more than one environment sets `local = true`.
///
/// Why: the Compose output runs one environment on a developer's machine; with two marked
/// local, which one `docker compose up` starts would depend on their names.
fn multiple_local_environments(ctx: &mut Ctx) {
    let local: Vec<&Sp<bool>> = ctx
        .spec
        .environments
        .values()
        .filter_map(|e| e.local.as_ref())
        .filter(|l| l.value)
        .collect();
    let Some((first, rest)) = local.split_first() else {
        return;
    };
    for l in rest {
        ctx.report(
            Diagnostic::new(
                Code::MultipleLocalEnvironments,
                "more than one environment is local",
                l.span.clone(),
                "second local environment",
            )
            .related(first.span.clone(), "first local environment")
            .help("Compose runs one environment: keep `local = true` on one of them"),
        );
    }
}

/// A did-you-mean diagnostic for a name that is not among `known`.
fn unknown(what: &str, name: &Sp<String>, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::new(
        Code::UnknownReference,
        format!("unknown {what} `{}`", name.value),
        name.span.clone(),
        format!("no {what} has this name"),
    );
    match did_you_mean(&name.value, known.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None if known.is_empty() => d.help(format!("no {what} is defined")),
        None => d.help(format!("defined: {}", known.join(", "))),
    }
}

/// E101 `invalid-name`: service, data store, environment and platform names, and the
/// platform, environment, ingress and monitoring namespaces, must be DNS labels.
///
/// Why: they become Kubernetes object names, DNS names of Services and Terraform
/// identifiers; `api_gateway` or `API` would be rejected at apply time, far from the spec.
fn invalid_name(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let mut names: Vec<(&str, &Sp<String>)> = vec![("platform", &spec.platform.name)];
    names.extend(spec.platform.namespace.iter().map(|n| ("namespace", n)));
    // The add-on namespaces become NetworkPolicy peers, selected by namespace name.
    names.extend(
        spec.platform
            .ingress_namespace
            .iter()
            .map(|n| ("ingress namespace", n)),
    );
    names.extend(
        spec.platform
            .monitoring_namespace
            .iter()
            .map(|n| ("monitoring namespace", n)),
    );
    names.extend(spec.services.keys().map(|n| ("service", n)));
    names.extend(spec.datastores.keys().map(|n| ("data store", n)));
    names.extend(spec.environments.keys().map(|n| ("environment", n)));
    for env in spec.environments.values() {
        names.extend(env.namespace.iter().map(|n| ("namespace", n)));
    }
    for (what, name) in names {
        // Service names get a suffix such as `-metrics` in some objects, so keep 10 spare.
        if !is_dns_label(&name.value) || name.value.len() > 53 {
            ctx.report(
                Diagnostic::new(
                    Code::InvalidName,
                    format!("invalid {what} name `{}`", name.value),
                    name.span.clone(),
                    "not a DNS label",
                )
                .help(match units::dns_label_form(&name.value).filter(|n| n.len() <= 53) {
                    Some(fixed) => format!("write `{fixed}`: lowercase letters, digits and `-`, starting and ending with a letter or digit"),
                    None => "use lowercase letters, digits and `-`, start and end with a letter or digit, at most 53 characters".into(),
                }),
            );
        }
    }
}

/// E107 `duplicate-name`: a service and a data store with the same name.
///
/// Why: both become Kubernetes objects of the same kinds in one namespace, and dependencies
/// name either, so the name must say which one is meant.
fn duplicate_name(ctx: &mut Ctx) {
    let spec = ctx.spec;
    for name in spec.datastores.keys() {
        if let Some((first, _)) = spec.services.get_key_value(name.value.as_str()) {
            ctx.report(
                Diagnostic::new(
                    Code::DuplicateName,
                    format!("`{}` is both a service and a data store", name.value),
                    name.span.clone(),
                    "data store defined here",
                )
                .related(first.span.clone(), "service defined here")
                .help("rename one of them"),
            );
        }
    }
}

/// E102 `unknown-reference` for presets: a data store must name a stdlib preset.
fn unknown_preset(ctx: &mut Ctx) {
    let known: Vec<&str> = stdlib::names().collect();
    for (name, store) in &ctx.spec.datastores {
        match &store.preset {
            Some(p) if stdlib::preset(&p.value).is_none() => {
                let d = unknown("preset", p, &known);
                ctx.report(d);
            }
            Some(_) => {}
            None => ctx.report(
                Diagnostic::new(
                    Code::MissingKey,
                    format!("data store `{}` has no preset", name.value),
                    name.span.clone(),
                    "add `preset = …`",
                )
                .help(format!("presets: {}", known.join(", "))),
            ),
        }
    }
}

/// E102 `unknown-reference` for environment overrides of services or data stores that the
/// spec does not define.
///
/// Why: an override of a misspelt name would otherwise be silently ignored.
fn unknown_override_target(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let services: Vec<&str> = spec.services.keys().map(|k| k.value.as_str()).collect();
    let stores: Vec<&str> = spec.datastores.keys().map(|k| k.value.as_str()).collect();
    for env in spec.environments.values() {
        for name in env.services.keys() {
            if !spec.services.contains_key(name.value.as_str()) {
                ctx.report(unknown("service", name, &services));
            }
        }
        for name in env.datastores.keys() {
            if !spec.datastores.contains_key(name.value.as_str()) {
                ctx.report(unknown("data store", name, &stores));
            }
        }
    }
}

fn all_workload_names(ctx: &Ctx) -> Vec<String> {
    ctx.spec
        .services
        .keys()
        .chain(ctx.spec.datastores.keys())
        .map(|k| k.value.clone())
        .collect()
}

/// E102 `unknown-reference` for `depends_on` entries.
///
/// Why: dependencies become NetworkPolicy edges and Compose start conditions; a misspelt one
/// would leave a service unable to reach what it needs.
fn unknown_dependency(ctx: &mut Ctx) {
    let known = all_workload_names(ctx);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    // A set for membership: a scan of the list per dependency was quadratic in services.
    let members: BTreeSet<&str> = known.iter().copied().collect();
    let mut found = Vec::new();
    for view in ctx.views {
        for (name, svc) in &view.services {
            for dep in svc.depends_on.iter().flatten() {
                if !members.contains(dep.value.as_str()) {
                    found.push(unknown("service or data store", dep, &known));
                } else if dep.value == name.value {
                    found.push(
                        Diagnostic::new(
                            Code::DependencyCycle,
                            format!("`{}` depends on itself", name.value),
                            dep.span.clone(),
                            "self-dependency",
                        )
                        .help("remove it from `depends_on`"),
                    );
                }
            }
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// E103 `dependency-cycle`: services that depend on each other in a cycle.
///
/// Why: no start order satisfies a cycle; Compose refuses it and Kubernetes rollouts that
/// wait on dependencies deadlock.
fn dependency_cycle(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let graph: BTreeMap<&str, Vec<&Sp<String>>> = view
            .services
            .iter()
            .map(|(n, s)| {
                (
                    n.value.as_str(),
                    s.depends_on
                        .iter()
                        .flatten()
                        .filter(|d| d.value != n.value)
                        .collect(),
                )
            })
            .collect();
        // Depth-first search with colours; each cycle is reported at the edge that closes it.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        fn visit<'a>(
            node: &'a str,
            graph: &BTreeMap<&'a str, Vec<&'a Sp<String>>>,
            state: &mut BTreeMap<&'a str, u8>,
            stack: &mut Vec<&'a str>,
            found: &mut Vec<Diagnostic>,
        ) {
            state.insert(node, 1);
            stack.push(node);
            for dep in graph.get(node).into_iter().flatten() {
                let d = dep.value.as_str();
                match state.get(d) {
                    Some(1) => {
                        let start = stack.iter().position(|n| *n == d).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[start..].to_vec();
                        cycle.push(d);
                        found.push(
                            Diagnostic::new(
                                Code::DependencyCycle,
                                format!("dependency cycle: {}", cycle.join(" → ")),
                                dep.span.clone(),
                                "this dependency closes the cycle",
                            )
                            .help("remove one of the dependencies in the cycle"),
                        );
                    }
                    None if graph.contains_key(d) => visit(d, graph, state, stack, found),
                    _ => {}
                }
            }
            stack.pop();
            state.insert(node, 2);
        }
        for node in graph.keys() {
            if !state.contains_key(node) {
                visit(node, &graph, &mut state, &mut Vec::new(), &mut found);
            }
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// E102 `unknown-reference` for the service an SLO is about.
fn unknown_slo_service(ctx: &mut Ctx) {
    let known = all_workload_names(ctx);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let members: BTreeSet<&str> = known.iter().copied().collect();
    for slo in ctx.spec.observability.slos.values() {
        if !members.contains(slo.service.value.as_str()) {
            let d = unknown("service", &slo.service, &known);
            ctx.report(d);
        }
    }
}

/// E102 `unknown-reference` for receivers named by routes or as the default.
///
/// Why: Alertmanager refuses a config whose route names a missing receiver.
fn unknown_receiver(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let alerting = &view.alerting;
        let known: Vec<&str> = alerting
            .receivers
            .keys()
            .map(|k| k.value.as_str())
            .collect();
        let names = alerting
            .routes
            .iter()
            .map(|r| &r.receiver)
            .chain(alerting.default_receiver.iter());
        found.extend(
            names
                .filter(|n| !alerting.receivers.contains_key(n.value.as_str()))
                .map(|n| unknown("receiver", n, &known)),
        );
    }
    for d in found {
        ctx.report(d);
    }
}

/// E147 `managed-without-cloud`: a data store in `managed` mode in an environment without a
/// cloud; E006 `invalid-value`: one whose engine the cloud does not offer (the managed
/// offerings are PostgreSQL, Redis and object storage). Each is reported once at the `mode`,
/// naming the environments it applies to.
///
/// Why: managed stores are created by Terraform, which needs a provider and region; without
/// them the store would silently not exist. A spec usually has a `[cloud]` and a local
/// environment without one, so the message names the environments rather than asking for a
/// `[cloud]` the file already has.
fn managed_without_cloud(ctx: &mut Ctx) {
    /// A `mode` setting: the store, whether the engine is offered, and the environments
    /// without a cloud that run it managed.
    type Managed<'a> = (&'a Sp<StoreMode>, &'a str, bool, Vec<&'a str>);
    let mut found: BTreeMap<(u32, usize, usize), Managed> = BTreeMap::new();
    for view in ctx.views {
        for (name, store) in &view.datastores {
            let Some(mode) = &store.mode else { continue };
            if mode.value != StoreMode::Managed {
                continue;
            }
            // A store that lost its preset has no engine; that is reported where it is lost.
            let offered = store
                .engine
                .as_ref()
                .is_none_or(|e| crate::units::has_managed_offering(&e.value));
            let entry = found
                .entry((
                    mode.span.source.0,
                    mode.span.range.start,
                    mode.span.range.end,
                ))
                .or_insert((mode, name.value.as_str(), offered, Vec::new()));
            if view.cloud.is_none() {
                entry.3.push(view.env_name());
            }
        }
    }
    let has_cloud = ctx.spec.cloud.is_some();
    let mut out = Vec::new();
    for (mode, store, offered, without_cloud) in found.into_values() {
        if !offered {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("data store `{store}` has no managed offering on this provider"),
                    mode.span.clone(),
                    "not available as a managed service",
                )
                .help("the cloud runs PostgreSQL, Redis and object storage; use `mode = \"in-cluster\"`"),
            );
        } else if !without_cloud.is_empty() && !has_cloud {
            out.push(
                Diagnostic::new(
                    Code::ManagedWithoutCloud,
                    format!("managed data store `{store}` without a cloud section"),
                    mode.span.clone(),
                    "needs `[cloud]`",
                )
                .help("add a `[cloud]` section with provider and region, or use `mode = \"in-cluster\"`"),
            );
        } else if !without_cloud.is_empty() {
            let envs = without_cloud
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                Diagnostic::new(
                    Code::ManagedWithoutCloud,
                    format!("managed data store `{store}` in {envs}, which has no cloud"),
                    mode.span.clone(),
                    "managed where there is no cloud",
                )
                .help(format!(
                    "keep `{store}` in the cluster there and set `mode = \"managed\"` in the override of each environment with a cloud (`[environments.<name>.datastores.{store}]`)"
                )),
            );
        }
    }
    for d in out {
        ctx.report(d);
    }
}
