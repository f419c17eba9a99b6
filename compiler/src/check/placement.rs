//! Where and how pods run: node groups, graceful shutdown, pod annotations and image pull
//! secrets.

use super::workload::duration;
use super::Ctx;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::spec::{Resolved, Service, Sp};
use crate::units;

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        for (name, s) in &view.services {
            init_containers(name, s, &mut found);
            unknown_node_group(view, s, &mut found);
            shutdown_order(s, &mut found);
            invalid_annotation(s, &mut found);
            invalid_pull_secret(s, &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// E101 `invalid-name`, E006 `invalid-value`, E140/E141 for init containers: names are DNS
/// labels unique in the pod (the workload's own container is named after it), the command
/// is not empty, and an image of their own is well formed and pinned.
///
/// Why: Kubernetes rejects a pod whose containers share a name or have an invalid one, and
/// an init container without a command runs the image's entrypoint, which is the workload
/// itself, not the preparation meant; an unpinned image changes under the pod.
///
/// Example: `init = [{ name = "api", command = [] }]` in service `api`.
fn init_containers(workload: &Sp<String>, s: &Service, out: &mut Vec<Diagnostic>) {
    let mut seen = vec![workload.value.as_str()];
    for c in s.init.iter().flatten() {
        if !units::is_dns_label(&c.name.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidName,
                    format!("invalid container name `{}`", c.name.value),
                    c.name.span.clone(),
                    "not a DNS label",
                )
                .help("use lowercase letters, digits and `-`"),
            );
        } else if seen.contains(&c.name.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!(
                        "two containers of `{}` are named `{}`",
                        workload.value, c.name.value
                    ),
                    c.name.span.clone(),
                    "name taken in this pod",
                )
                .help("give each init container a name of its own, other than the workload's"),
            );
        } else {
            seen.push(&c.name.value);
        }
        if c.command.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    "an init container needs a command",
                    c.name.span.clone(),
                    "no `command`",
                )
                .help(
                    "give the command that prepares the pod, e.g. `command = [\"/app/migrate\"]`",
                ),
            );
        }
        if let Some(image) = &c.image {
            super::workload::pinned_image(image, out);
        }
    }
}

/// E102 `unknown-reference` for a `node_group` that the environment's cluster does not have.
///
/// Why: pods select the group's nodes by label; a name no node group has matches no node,
/// and the pods stay Pending forever. Checked where plinth creates the cluster (an
/// environment with a cloud); elsewhere the nodes are labelled by whoever runs the cluster.
///
/// Example: `node_group = "spto"` when the cluster has `spot`.
fn unknown_node_group(view: &Resolved, s: &Service, out: &mut Vec<Diagnostic>) {
    let (Some(group), Some(cloud)) = (&s.node_group, &view.cloud) else {
        return;
    };
    let known: Vec<&str> = cloud
        .cluster
        .iter()
        .flat_map(|c| c.node_groups.keys())
        .map(|k| k.value.as_str())
        .collect();
    if known.contains(&group.value.as_str()) {
        return;
    }
    let env = view
        .env
        .as_ref()
        .map_or(String::new(), |e| format!(" of environment `{}`", e.value));
    let d = Diagnostic::new(
        Code::UnknownReference,
        format!("unknown node group `{}`", group.value),
        group.span.clone(),
        format!("not a node group of the cluster{env}"),
    );
    out.push(match did_you_mean(&group.value, known.iter().copied()) {
        Some(near) => d.help(format!("did you mean `{near}`?")),
        None if known.is_empty() => d.help("add `[cloud.cluster.node_groups.NAME]`"),
        None => d.help(format!("node groups: {}", known.join(", "))),
    });
}

/// E132 `malformed-duration` for `shutdown.grace` and `shutdown.drain`, E006 `invalid-value`
/// when the drain is not shorter than the grace period.
///
/// Why: the `preStop` sleep counts against the grace period; a drain as long as the grace
/// period leaves the application no time to stop, and Kubernetes kills it mid-request.
///
/// Example: `shutdown = { grace = "10s", drain = "15s" }`.
fn shutdown_order(s: &Service, out: &mut Vec<Diagnostic>) {
    let Some(sh) = &s.shutdown else { return };
    for d in [&sh.grace, &sh.drain].into_iter().flatten() {
        duration(d, out);
    }
    let (Some(grace), Some(drain)) = (&sh.grace, &sh.drain) else {
        return;
    };
    let (Ok(g), Ok(d)) = (
        units::parse_duration(&grace.value),
        units::parse_duration(&drain.value),
    ) else {
        return;
    };
    if d >= g {
        out.push(
            Diagnostic::new(
                Code::InvalidValue,
                "the drain is not shorter than the grace period",
                drain.span.clone(),
                "counts against `grace`",
            )
            .related(grace.span.clone(), "the whole time to stop")
            .help("make `drain` a few seconds, and `grace` long enough for the drain and the application's own shutdown"),
        );
    }
}

/// E190 `invalid-label` for pod annotation keys, which follow the label key syntax.
///
/// Why: the API server rejects the pod template (and so the whole workload) for one bad key.
///
/// Example: `annotations = { "log format" = "json" }`.
fn invalid_annotation(s: &Service, out: &mut Vec<Diagnostic>) {
    for k in s.annotations.iter().flatten().map(|(k, _)| k) {
        if !super::fields::is_label_key(&k.value) {
            out.push(
                Diagnostic::new(
                    Code::InvalidLabel,
                    format!("invalid annotation key `{}`", k.value),
                    k.span.clone(),
                    "not a Kubernetes annotation key",
                )
                .help("use at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, after an optional `example.com/` prefix"),
            );
        }
    }
}

/// E101 `invalid-name` for an image pull secret that is not a Kubernetes object name.
///
/// Why: the name must match a Secret in the namespace, and the API server rejects a pod that
/// names anything else.
///
/// Example: `image_pull_secrets = ["Registry Creds"]`.
fn invalid_pull_secret(s: &Service, out: &mut Vec<Diagnostic>) {
    for n in s.image_pull_secrets.iter().flatten() {
        let valid = n.value.len() <= 253 && n.value.split('.').all(units::is_dns_label);
        if !valid {
            out.push(
                Diagnostic::new(
                    Code::InvalidName,
                    format!("invalid Secret name `{}`", n.value),
                    n.span.clone(),
                    "not a Kubernetes object name",
                )
                .help("use lowercase letters, digits, `-` and `.`"),
            );
        }
    }
}
