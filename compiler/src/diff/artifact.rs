//! Artifact kinds and how each file is parsed back into resources with an identity.
//!
//! The kind of a file is its top-level output folder. Kubernetes objects are keyed by
//! kind/namespace/name across the files of their environment's folder (one cluster), those
//! in Helm templates without template syntax within their file;
//! every other resource is keyed within its file, or its folder for Terraform, where a module
//! is a folder and a block may move between its files. A file that cannot be parsed is one
//! opaque resource compared by its text, so nothing is ever lost from a report.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{FileSet, Key, Resource};

/// An artifact kind, named after its top-level output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Artifact {
    /// `k8s/`: Kubernetes manifests.
    K8s,
    /// `helm/`: charts (Chart.yaml, values, templates).
    Helm,
    /// `compose/`: Docker Compose files.
    Compose,
    /// `terraform/`: HCL configurations.
    Terraform,
    /// `prometheus/`: rule files and scrape configuration.
    Prometheus,
    /// `alertmanager/`: routing configuration.
    Alertmanager,
    /// Anything else, compared by file.
    Other,
}

impl Artifact {
    /// The kind of the file at `path`, from its top-level folder.
    pub fn of(path: &str) -> Artifact {
        match path.split('/').next().unwrap_or_default() {
            "k8s" => Artifact::K8s,
            "helm" => Artifact::Helm,
            "compose" => Artifact::Compose,
            "terraform" => Artifact::Terraform,
            "prometheus" => Artifact::Prometheus,
            "alertmanager" => Artifact::Alertmanager,
            _ => Artifact::Other,
        }
    }

    /// The folder name, used as the artifact's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Artifact::K8s => "k8s",
            Artifact::Helm => "helm",
            Artifact::Compose => "compose",
            Artifact::Terraform => "terraform",
            Artifact::Prometheus => "prometheus",
            Artifact::Alertmanager => "alertmanager",
            Artifact::Other => "other",
        }
    }
}

/// The scope resources of `file` are keyed in: the environment folder for Kubernetes objects
/// (`k8s/production`: one cluster, within which an object's identity is unique, whichever
/// file holds it), the folder for Terraform (a module), the file for the rest.
///
/// Keying Kubernetes objects cluster-wide instead made the same Deployment of three
/// environments one identity with numbered copies, matched by position: removing one
/// environment then compared production's objects with staging's.
pub(crate) fn scope(artifact: Artifact, file: &str) -> String {
    match artifact {
        Artifact::K8s => match file.split('/').collect::<Vec<_>>().as_slice() {
            [top, env, _, ..] => format!("{top}/{env}"),
            _ => String::new(),
        },
        Artifact::Terraform => file
            .rsplit_once('/')
            .map(|(d, _)| d)
            .unwrap_or("")
            .to_owned(),
        _ => file.to_owned(),
    }
}

/// Every resource of `artifact` in `files`, keyed by identity.
pub(crate) fn resources(artifact: Artifact, files: &FileSet) -> BTreeMap<Key, Resource> {
    let mut out = BTreeMap::new();
    for (path, text) in files.iter().filter(|(p, _)| Artifact::of(p) == artifact) {
        let parsed = parse(artifact, path, text).unwrap_or_else(|| {
            vec![(
                "file".to_owned(),
                path.clone(),
                Value::String(text.clone()),
                true,
            )]
        });
        for (kind, name, value, opaque) in parsed {
            let scope = if opaque {
                path.clone()
            } else {
                scope(artifact, path)
            };
            // Two resources with one identity in one scope (a hand-edited file) stay apart:
            // the key tells them apart by their order, which only the key holds. Reports
            // show the identity itself, under the file that holds each.
            let mut key = (scope, kind.clone(), name.clone());
            let mut n = 1;
            while out.contains_key(&key) {
                n += 1;
                key.2 = format!("{name}\u{0}{n}");
            }
            out.insert(
                key,
                Resource {
                    file: path.clone(),
                    kind,
                    name,
                    value,
                    opaque,
                },
            );
        }
    }
    out
}

/// A parsed resource before keying: kind, name, value, and whether it is opaque text.
type Parsed = (String, String, Value, bool);

fn parse(artifact: Artifact, path: &str, text: &str) -> Option<Vec<Parsed>> {
    let is_yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    match artifact {
        Artifact::Terraform if path.ends_with(".tf") => terraform(text),
        Artifact::K8s if is_yaml => kubernetes(&yaml(text)?),
        Artifact::Helm if is_yaml => helm(path, text),
        Artifact::Compose if is_yaml => keyed_sections(
            &yaml(text)?,
            &[
                ("services", "service"),
                ("volumes", "volume"),
                ("networks", "network"),
                ("secrets", "secret"),
                ("configs", "config"),
            ],
        ),
        Artifact::Prometheus if is_yaml => prometheus(&yaml(text)?),
        Artifact::Alertmanager if is_yaml => alertmanager(&yaml(text)?),
        _ => None,
    }
}

/// The documents of a YAML stream, or `None` when it does not parse.
fn yaml(text: &str) -> Option<Vec<Value>> {
    serde_saphyr::from_multiple::<Value>(text).ok()
}

fn parsed(kind: &str, name: impl Into<String>, value: Value) -> Parsed {
    (kind.to_owned(), name.into(), value, false)
}

/// Kubernetes objects by kind and `namespace/name`; `None` when a document is not an object.
fn kubernetes(docs: &[Value]) -> Option<Vec<Parsed>> {
    docs.iter()
        .filter(|d| !d.is_null())
        .map(|doc| {
            let kind = doc.get("kind")?.as_str()?;
            let meta = doc.get("metadata")?;
            let name = meta.get("name")?.as_str()?;
            let id = match meta.get("namespace").and_then(Value::as_str) {
                Some(ns) => format!("{ns}/{name}"),
                None => name.to_owned(),
            };
            Some(parsed(kind, id, doc.clone()))
        })
        .collect()
}

/// Helm: `Chart.yaml` as one resource, values files by top-level key, templates without
/// template syntax as Kubernetes objects. Templated files are compared by text.
fn helm(path: &str, text: &str) -> Option<Vec<Parsed>> {
    if text.contains("{{") {
        return None;
    }
    let docs = yaml(text)?;
    let file = path.rsplit('/').next().unwrap_or(path);
    if file == "Chart.yaml" {
        let name = docs.first()?.get("name")?.as_str()?.to_owned();
        return Some(vec![parsed("chart", name, docs.first()?.clone())]);
    }
    if path.contains("/templates/") {
        return kubernetes(&docs);
    }
    let [doc] = docs.as_slice() else {
        return None;
    };
    let map = doc.as_object()?;
    Some(
        map.iter()
            .map(|(k, v)| parsed("value", k.clone(), v.clone()))
            .collect(),
    )
}

/// Named sections (`services`, `receivers`) become one resource per entry; every other
/// top-level key is a `setting`.
fn keyed_sections(docs: &[Value], sections: &[(&str, &str)]) -> Option<Vec<Parsed>> {
    let [doc] = docs else {
        return None;
    };
    let map = doc.as_object()?;
    let mut out = Vec::new();
    for (key, value) in map {
        match sections.iter().find(|(s, _)| s == key) {
            Some((_, kind)) => match value {
                Value::Object(entries) => out.extend(
                    entries
                        .iter()
                        .map(|(name, v)| parsed(kind, name.clone(), v.clone())),
                ),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let name = item
                            .get("name")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("#{}", i + 1));
                        out.push(parsed(kind, name, item.clone()));
                    }
                }
                other => out.push(parsed("setting", key.clone(), other.clone())),
            },
            None => out.push(parsed("setting", key.clone(), value.clone())),
        }
    }
    Some(out)
}

/// Prometheus: rule files give one resource per rule (`alert` or `record`, named
/// `group/name`) and one per group for its own settings; a server configuration gives one per
/// scrape job.
fn prometheus(docs: &[Value]) -> Option<Vec<Parsed>> {
    let [doc] = docs else {
        return None;
    };
    let map = doc.as_object()?;
    let mut out = Vec::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            ("groups", Value::Array(groups)) => {
                for g in groups {
                    let group = g.get("name")?.as_str()?;
                    let mut settings = g.as_object()?.clone();
                    let rules = settings.remove("rules");
                    out.push(parsed("rule group", group, Value::Object(settings)));
                    for r in rules
                        .as_ref()
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let (kind, name) = match (r.get("alert"), r.get("record")) {
                            (Some(a), _) => ("alert", a.as_str()?),
                            (None, Some(rec)) => ("record", rec.as_str()?),
                            _ => return None,
                        };
                        out.push(parsed(kind, format!("{group}/{name}"), r.clone()));
                    }
                }
            }
            ("scrape_configs", Value::Array(jobs)) => {
                for j in jobs {
                    let name = j.get("job_name")?.as_str()?;
                    out.push(parsed("scrape job", name, j.clone()));
                }
            }
            _ => out.push(parsed("setting", key.clone(), value.clone())),
        }
    }
    Some(out)
}

/// Alertmanager: receivers and time intervals by name, the route tree as one resource (its
/// field paths show which sub-route changed), inhibit rules by position.
fn alertmanager(docs: &[Value]) -> Option<Vec<Parsed>> {
    let mut out = keyed_sections(
        docs,
        &[
            ("receivers", "receiver"),
            ("time_intervals", "time interval"),
            ("mute_time_intervals", "time interval"),
            ("inhibit_rules", "inhibit rule"),
        ],
    )?;
    for p in &mut out {
        if p.0 == "setting" && p.1 == "route" {
            p.0 = "route".to_owned();
            p.1 = "root".to_owned();
        }
    }
    Some(out)
}

/// Terraform: one resource per top-level block, keyed by address (`aws_db_instance.main`,
/// `module.rds`, `data.aws_vpc.main`, `var.region`, `output.endpoint`).
fn terraform(text: &str) -> Option<Vec<Parsed>> {
    let body = hcl::parse(text).ok()?;
    let mut out = Vec::new();
    for attr in body.attributes() {
        let value = serde_json::to_value(attr.expr()).ok()?;
        out.push(parsed("attribute", attr.key(), value));
    }
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        let ident = block.identifier();
        let (kind, address) = match (ident, labels.as_slice()) {
            ("resource", [t, n]) => ("resource", format!("{t}.{n}")),
            ("data", [t, n]) => ("data", format!("data.{t}.{n}")),
            ("module", [n]) => ("module", format!("module.{n}")),
            ("variable", [n]) => ("variable", format!("var.{n}")),
            ("output", [n]) => ("output", format!("output.{n}")),
            ("provider", [n]) => ("provider", format!("provider.{n}")),
            (other, ls) => (
                other,
                [other]
                    .iter()
                    .chain(ls)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("."),
            ),
        };
        let value: Value = hcl::from_body(block.body().clone()).ok()?;
        out.push(parsed(kind, address, value));
    }
    Some(out)
}
