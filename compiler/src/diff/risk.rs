//! Rules that flag resource changes which destroy or restart state.
//!
//! A *destructive* change loses data or cannot be applied without deleting something first:
//! a removed data store or volume, an immutable field (a StatefulSet's volumeClaimTemplates,
//! a workload's selector, a Service's cluster IP), a database engine change, a volume that would shrink. A *restart*
//! change keeps the data but restarts the process that owns it: a data store's pods roll, a
//! database instance is resized. `diff --fail-on-destructive` fails on the first kind only.

use serde_json::Value;

use super::{Artifact, Change, FieldChange, ResourceChange};

/// How serious a flagged change is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    /// State is restarted but kept.
    Restart,
    /// State is lost, or the change cannot be applied in place.
    Destructive,
}

impl RiskLevel {
    /// The lowercase word used in every output format.
    pub fn word(self) -> &'static str {
        match self {
            RiskLevel::Restart => "restart",
            RiskLevel::Destructive => "destructive",
        }
    }
}

/// Why a change is flagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Risk {
    /// How serious it is.
    pub level: RiskLevel,
    /// What happens, in a sentence fragment.
    pub reason: String,
}

fn destructive(reason: impl Into<String>) -> Risk {
    Risk {
        level: RiskLevel::Destructive,
        reason: reason.into(),
    }
}

fn restart(reason: impl Into<String>) -> Risk {
    Risk {
        level: RiskLevel::Restart,
        reason: reason.into(),
    }
}

/// The risks of one resource change, given the resource before and after.
pub(crate) fn assess(
    artifact: Artifact,
    rc: &ResourceChange,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Vec<Risk> {
    let mut risks = match artifact {
        Artifact::K8s | Artifact::Helm => kubernetes(rc, before.or(after)),
        Artifact::Terraform => terraform(rc, before.or(after)),
        Artifact::Compose => compose(rc, before.or(after)),
        _ => Vec::new(),
    };
    if matches!(artifact, Artifact::K8s | Artifact::Helm) {
        risks.extend(strategy_change(rc, before, after));
    }
    risks.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.reason.cmp(&b.reason)));
    risks.dedup();
    risks
}

/// Whether a path is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn kubernetes(rc: &ResourceChange, value: Option<&Value>) -> Vec<Risk> {
    let kind = rc.kind.as_str();
    let name = &rc.name;
    let store = value.is_some_and(|v| {
        v.pointer("/metadata/labels/app.kubernetes.io~1component")
            .and_then(Value::as_str)
            == Some("datastore")
    });
    let mut risks = Vec::new();
    match rc.change {
        Change::Added => {}
        Change::Removed => match kind {
            "StatefulSet" | "Deployment" if store => risks.push(destructive(format!(
                "removes data store `{name}`: its pods are deleted and its volumes are orphaned"
            ))),
            "StatefulSet" => risks.push(destructive(
                "removing a StatefulSet deletes its pods and orphans its volumes",
            )),
            "PersistentVolumeClaim" => risks.push(destructive(
                "removing a PersistentVolumeClaim deletes its volume and the data on it",
            )),
            "Namespace" => risks.push(destructive(
                "removing a namespace deletes every object in it",
            )),
            "ExternalSecret" => risks.extend(owned_secret_deleted(name, value)),
            _ => {}
        },
        Change::Modified => {
            let workload = matches!(kind, "StatefulSet" | "Deployment" | "DaemonSet");
            for f in &rc.fields {
                let p = f.path.as_str();
                if workload && under(p, "spec.selector") {
                    risks.push(destructive(format!(
                        "`spec.selector` of a {kind} is immutable: apply fails until it is deleted and recreated"
                    )));
                }
                if kind == "StatefulSet" {
                    for immutable in [
                        "spec.volumeClaimTemplates",
                        "spec.serviceName",
                        "spec.podManagementPolicy",
                    ] {
                        if under(p, immutable) {
                            risks.push(destructive(format!(
                                "`{immutable}` of a StatefulSet is immutable: apply fails until it is deleted and recreated"
                            )));
                        }
                    }
                    if under(p, "spec.volumeClaimTemplates") && p.ends_with(".storage") {
                        risks.extend(shrink(f));
                    }
                }
                if kind == "Service" && under(p, "spec.clusterIP") {
                    // Headless (`None`) and a cluster IP cannot be swapped in place, as when a
                    // store's governing Service becomes its clients' proxy Service.
                    risks.push(destructive(
                        "`spec.clusterIP` of a Service is immutable: apply fails until it is deleted and recreated, and its clients lose it meanwhile",
                    ));
                }
                if kind == "PersistentVolumeClaim" {
                    if p == "spec.resources.requests.storage" {
                        risks.extend(shrink(f));
                    }
                    for immutable in [
                        "spec.storageClassName",
                        "spec.accessModes",
                        "spec.volumeName",
                    ] {
                        if under(p, immutable) {
                            risks.push(destructive(format!(
                                "`{immutable}` of a PersistentVolumeClaim is immutable: the claim and its data must be recreated"
                            )));
                        }
                    }
                }
                if store && workload && p.ends_with(".image") {
                    risks.extend(engine_change(f));
                }
                if store && workload && under(p, "spec.template") {
                    risks.push(restart(format!(
                        "restarts the pods of data store `{name}` one at a time"
                    )));
                }
            }
        }
    }
    risks
}

/// A removed ExternalSecret that owns its Secret (`creationPolicy: Owner`, the operator's
/// default): Kubernetes deletes the Secret with it, so pods that read the Secret keep running
/// but no new one starts until something else creates it (as when the spec declares the
/// secret `source = "external"`).
fn owned_secret_deleted(name: &str, value: Option<&Value>) -> Option<Risk> {
    let target = value.and_then(|v| v.pointer("/spec/target"));
    let owner = target
        .and_then(|t| t.get("creationPolicy"))
        .and_then(Value::as_str)
        .is_none_or(|p| p == "Owner");
    // Without a target name the Secret is named after the ExternalSecret.
    let secret = target
        .and_then(|t| t.get("name"))
        .or_else(|| value.and_then(|v| v.pointer("/metadata/name")))
        .and_then(Value::as_str)
        .unwrap_or(name);
    owner.then(|| {
        destructive(format!(
            "removes ExternalSecret `{name}`, which owns the Secret `{secret}`: the Secret is deleted with it, and pods that read it cannot start until something else creates it"
        ))
    })
}

/// A storage size that decreases.
fn shrink(f: &FieldChange) -> Option<Risk> {
    let size = |v: &Option<Value>| {
        v.as_ref()
            .and_then(Value::as_str)
            .and_then(|s| crate::units::parse_bytes(s).ok())
            .or_else(|| v.as_ref().and_then(Value::as_i64).map(i128::from))
    };
    let (old, new) = (size(&f.old)?, size(&f.new)?);
    (new < old).then(|| {
        destructive(format!(
            "storage shrinks from {} to {}: a volume cannot shrink, so it must be recreated and its data restored",
            show(&f.old),
            show(&f.new)
        ))
    })
}

fn show(v: &Option<Value>) -> String {
    v.as_ref()
        .map(super::display_value)
        .unwrap_or_else(|| "(none)".to_owned())
}

/// A data store image whose repository (the engine) or major version changes: the data on
/// its volumes is not readable by the new image without a migration.
fn engine_change(f: &FieldChange) -> Option<Risk> {
    let (old, new) = (f.old.as_ref()?.as_str()?, f.new.as_ref()?.as_str()?);
    let (old_repo, old_tag) = split_image(old);
    let (new_repo, new_tag) = split_image(new);
    let base = |r: &str| r.rsplit('/').next().unwrap_or(r).to_owned();
    if base(&old_repo) != base(&new_repo) {
        return Some(destructive(format!(
            "data store engine changes from `{old_repo}` to `{new_repo}`: the new image cannot read the data on its volumes"
        )));
    }
    let major = |t: &str| {
        t.split(|c: char| !c.is_ascii_digit())
            .next()
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
    };
    match (major(&old_tag), major(&new_tag)) {
        (Some(a), Some(b)) if a != b => Some(destructive(format!(
            "data store major version changes from {a} to {b}: the data on its volumes needs an upgrade (for PostgreSQL, pg_upgrade) before the new version starts"
        ))),
        _ => None,
    }
}

/// Repository and tag of an image reference.
fn split_image(image: &str) -> (String, String) {
    match crate::units::parse_image(image) {
        Ok(r) => (r.repository, r.tag.unwrap_or_default()),
        Err(_) => (image.to_owned(), String::new()),
    }
}

/// Terraform resource types that hold data.
const STATEFUL_TYPES: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_elasticache_cluster",
    "aws_elasticache_replication_group",
    "aws_elasticache_serverless_cache",
    "aws_s3_bucket",
    "aws_dynamodb_table",
    "aws_efs_file_system",
    "aws_ebs_volume",
    "aws_docdb_cluster",
    "aws_opensearch_domain",
];

/// Words in a module's name or source that mark it as holding data.
const STATEFUL_WORDS: &[&str] = &[
    "rds",
    "db",
    "database",
    "postgres",
    "postgresql",
    "mysql",
    "aurora",
    "redis",
    "elasticache",
    "s3",
    "bucket",
    "storage",
    "dynamodb",
    "efs",
    "state",
];

/// Arguments whose change makes Terraform replace a data-holding resource.
const REPLACING_ARGS: &[&str] = &[
    "engine",
    "identifier",
    "identifier_prefix",
    "db_name",
    "database_name",
    "cluster_identifier",
    "cluster_id",
    "replication_group_id",
    "storage_encrypted",
    "kms_key_id",
    "availability_zone",
    "snapshot_identifier",
    "bucket",
    "bucket_prefix",
    "hash_key",
    "range_key",
];

/// Arguments whose change restarts a database instance.
const RESTARTING_ARGS: &[&str] = &["instance_class", "node_type", "engine_version"];

/// Arguments holding a storage size.
const STORAGE_ARGS: &[&str] = &["allocated_storage", "storage", "size"];

fn terraform(rc: &ResourceChange, value: Option<&Value>) -> Vec<Risk> {
    let stateful = match rc.kind.as_str() {
        "resource" => {
            let ty = rc.name.split('.').next().unwrap_or_default();
            STATEFUL_TYPES.contains(&ty)
        }
        "module" => {
            let source = value
                .and_then(|v| v.get("source"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("{} {source}", rc.name)
                .to_ascii_lowercase()
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| STATEFUL_WORDS.contains(&w))
        }
        _ => false,
    };
    if !stateful {
        return Vec::new();
    }
    let addr = &rc.name;
    let mut risks = Vec::new();
    match rc.change {
        Change::Added => {}
        Change::Removed => risks.push(destructive(format!(
            "destroys `{addr}` and the data it holds"
        ))),
        Change::Modified => {
            for f in &rc.fields {
                let arg = f.path.split(['.', '[']).next().unwrap_or_default();
                if REPLACING_ARGS.contains(&arg) {
                    risks.push(destructive(format!(
                        "changing `{arg}` makes Terraform replace `{addr}`, destroying its data"
                    )));
                } else if STORAGE_ARGS.contains(&arg) {
                    risks.extend(shrink(f));
                } else if RESTARTING_ARGS.contains(&arg) {
                    risks.push(restart(format!(
                        "changing `{arg}` restarts `{addr}` while it is applied"
                    )));
                }
            }
        }
    }
    risks
}

fn compose(rc: &ResourceChange, value: Option<&Value>) -> Vec<Risk> {
    let name = &rc.name;
    let stateful = value
        .and_then(|v| v.get("volumes"))
        .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()));
    match (rc.kind.as_str(), rc.change) {
        ("volume", Change::Removed) => vec![destructive(format!(
            "removes volume `{name}`: the data in it is no longer used by any service"
        ))],
        ("service", Change::Removed) if stateful => vec![destructive(format!(
            "removes stateful service `{name}` with its volumes"
        ))],
        ("service", Change::Modified) if stateful => rc
            .fields
            .iter()
            .filter(|f| f.path == "image")
            .filter_map(engine_change)
            .collect(),
        _ => Vec::new(),
    }
}

/// The update strategy a Rollout's `spec.strategy` names: `canary` or `blueGreen`.
fn rollout_strategy(v: Option<&Value>) -> Option<&str> {
    v?.pointer("/spec/strategy")?
        .as_object()?
        .keys()
        .find(|k| matches!(k.as_str(), "canary" | "blueGreen"))
        .map(String::as_str)
}

/// A Rollout whose strategy changes between canary and blue-green: a restart.
///
/// Why: Argo Rollouts re-points the Services it steers (the canary's stable and canary
/// Services become the active and preview ones, or the reverse) and the route's weights are
/// no longer set by the plugin, so the pods behind each Service change; review it like a
/// restart, out of peak hours.
fn strategy_change(
    rc: &ResourceChange,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Option<Risk> {
    if rc.kind != "Rollout" || rc.change != Change::Modified {
        return None;
    }
    let (old, new) = (rollout_strategy(before)?, rollout_strategy(after)?);
    (old != new).then(|| {
        restart(format!(
            "the update strategy of `{}` changes from {} to {}: Argo Rollouts re-points its Services and replaces the pods behind them",
            rc.name,
            strategy_word(old),
            strategy_word(new)
        ))
    })
}

fn strategy_word(key: &str) -> &'static str {
    if key == "canary" {
        "canary"
    } else {
        "blue-green"
    }
}

/// Deployments replaced by Rollouts of the same name in the same file, or the reverse: the
/// workload's `rollout.strategy` changed between a rolling update and canary or blue-green.
/// Both sides are flagged as a restart.
///
/// Why: the Deployment and the Rollout own separate ReplicaSets; applying the change deletes
/// one's pods while the other starts its own, so every pod of the workload restarts and, for
/// a moment, fewer than the desired count serve. (Argo Rollouts' `workloadRef` migration is
/// the way to do it without the dip, by hand.)
pub(crate) fn strategy_replacements(changes: &mut [ResourceChange]) {
    let pairs: Vec<(String, String, Change)> = changes
        .iter()
        .filter(|c| matches!(c.kind.as_str(), "Deployment" | "Rollout"))
        .filter(|c| matches!(c.change, Change::Added | Change::Removed))
        .map(|c| (c.file.clone(), c.name.clone(), c.change))
        .collect();
    for c in changes.iter_mut() {
        let other = match c.kind.as_str() {
            "Deployment" => "Rollout",
            "Rollout" => "Deployment",
            _ => continue,
        };
        let (from, to) = match c.change {
            Change::Removed => (c.kind.as_str(), other),
            Change::Added => (other, c.kind.as_str()),
            Change::Modified => continue,
        };
        let opposite = match c.change {
            Change::Removed => Change::Added,
            _ => Change::Removed,
        };
        // The other object lives in the same workload file under the same namespace/name.
        let replaced = pairs
            .iter()
            .any(|(file, name, change)| *file == c.file && *name == c.name && *change == opposite);
        if replaced {
            let strategy = |kind: &str| {
                if kind == "Deployment" {
                    "a rolling update (Deployment)"
                } else {
                    "progressive delivery (Argo Rollouts `Rollout`)"
                }
            };
            c.risks.push(restart(format!(
                "the update strategy of `{}` changes from {} to {}: the old object's pods are deleted while the new one's start, so every pod restarts",
                c.name,
                strategy(from),
                strategy(to)
            )));
        }
    }
}
