//! The diff phase: compare two sets of generated files. Pure, like the rest of the pipeline:
//! `cli` reads the files (from an output folder, or by compiling another version of the spec)
//! and renders the [`Report`].
//!
//! The comparison has two layers. The file layer says which files were added, removed or
//! modified, and keeps both texts for a unified diff. The resource layer parses each file back
//! according to its artifact kind (the top-level folder: `k8s/`, `terraform/`, ...) and
//! compares resources by identity — Kubernetes objects by kind/namespace/name, Terraform blocks
//! by address, alert rules by group and name — so a review reads "`spec.replicas: 2 → 3` on
//! Deployment `shop/api`" instead of a line diff. Each resource change is then checked against
//! the rules in [`risk`] that flag changes which destroy or restart state.

mod artifact;
mod fields;
pub use fields::printable;
mod redact;
pub mod render;
mod risk;

use std::collections::BTreeMap;

use serde_json::Value;

pub use artifact::Artifact;
pub use fields::{display_value, FieldChange};
pub use risk::{Risk, RiskLevel};

/// A set of files: relative `/`-separated path to contents.
pub type FileSet = BTreeMap<String, String>;

/// How a file or resource changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Only in the new set.
    Added,
    /// Only in the old set.
    Removed,
    /// In both, with different contents.
    Modified,
}

impl Change {
    /// The lowercase word used in every output format.
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Modified => "changed",
        }
    }

    /// The one-character marker of human output.
    pub fn marker(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Modified => '~',
        }
    }
}

/// One file that differs between the two sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    /// Relative path.
    pub path: String,
    /// What happened to it.
    pub change: Change,
    /// The old contents, empty when added.
    pub old: String,
    /// The new contents, empty when removed.
    pub new: String,
}

impl FileChange {
    /// The unified diff of the two texts, with `a/` and `b/` headers like git.
    pub fn unified(&self) -> String {
        let (a, b) = match self.change {
            Change::Added => ("/dev/null".to_owned(), format!("b/{}", self.path)),
            Change::Removed => (format!("a/{}", self.path), "/dev/null".to_owned()),
            Change::Modified => (format!("a/{}", self.path), format!("b/{}", self.path)),
        };
        similar::TextDiff::from_lines(&self.old, &self.new)
            .unified_diff()
            .context_radius(3)
            .header(&a, &b)
            .to_string()
    }
}

/// One resource that differs between the two sets.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceChange {
    /// The artifact kind the resource belongs to.
    pub artifact: Artifact,
    /// The file that holds it (the new one, or the old one when removed).
    pub file: String,
    /// Its kind: a Kubernetes kind, `resource`/`module` for Terraform, `alert`, `receiver`...
    pub kind: String,
    /// Its identity within the kind: `namespace/name`, a Terraform address, `group/alert`.
    pub name: String,
    /// What happened to it.
    pub change: Change,
    /// The changed fields, for a modified resource that could be parsed; empty otherwise.
    pub fields: Vec<FieldChange>,
    /// Why the change destroys or restarts state, if it does.
    pub risks: Vec<Risk>,
}

impl ResourceChange {
    /// Whether any risk is destructive.
    pub fn is_destructive(&self) -> bool {
        self.risks.iter().any(|r| r.level == RiskLevel::Destructive)
    }

    /// `Kind name`, as shown in every format.
    pub fn title(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

/// The result of a comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Files that differ, sorted by path.
    pub files: Vec<FileChange>,
    /// Resources that differ, by artifact, then file, kind and name.
    pub resources: Vec<ResourceChange>,
}

impl Report {
    /// Whether anything differs.
    pub fn has_changes(&self) -> bool {
        !self.files.is_empty()
    }

    /// The resource changes flagged destructive.
    pub fn destructive(&self) -> impl Iterator<Item = &ResourceChange> {
        self.resources.iter().filter(|r| r.is_destructive())
    }
}

/// Compares the `old` file set with the `new` one. Secret values in either are replaced by
/// fingerprints first ([`redact`]), so nothing in the report holds one.
pub fn compare(old: &FileSet, new: &FileSet) -> Report {
    let (old, new) = (redact::files(old), redact::files(new));
    let (old, new) = (old.as_ref(), new.as_ref());
    let mut files = Vec::new();
    for (path, text) in old {
        match new.get(path) {
            None => files.push(FileChange {
                path: path.clone(),
                change: Change::Removed,
                old: text.clone(),
                new: String::new(),
            }),
            Some(n) if n != text => files.push(FileChange {
                path: path.clone(),
                change: Change::Modified,
                old: text.clone(),
                new: n.clone(),
            }),
            Some(_) => {}
        }
    }
    for (path, text) in new {
        if !old.contains_key(path) {
            files.push(FileChange {
                path: path.clone(),
                change: Change::Added,
                old: String::new(),
                new: text.clone(),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));

    // Resources are compared over every file of an artifact that has any change, so an object
    // that moved from one file to another is one unchanged object, not a removal and an
    // addition.
    let mut touched: Vec<Artifact> = files.iter().map(|f| Artifact::of(&f.path)).collect();
    touched.sort();
    touched.dedup();
    let mut resources = Vec::new();
    for artifact in touched {
        let olds = artifact::resources(artifact, old);
        let news = artifact::resources(artifact, new);
        resources.extend(compare_resources(artifact, &olds, &news));
    }
    Report { files, resources }
}

/// A parsed resource: its identity and its value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Resource {
    /// The file it came from.
    pub file: String,
    /// Its kind.
    pub kind: String,
    /// Its identity within the kind.
    pub name: String,
    /// The parsed object, or the file text for a file that could not be parsed.
    pub value: Value,
    /// Whether `value` is an unparsed file text, compared by lines rather than by fields.
    pub opaque: bool,
}

/// The key resources are matched by: a scope (the environment folder for Kubernetes objects,
/// which are unique per cluster, otherwise the file or folder), the kind and the name.
pub(crate) type Key = (String, String, String);

fn compare_resources(
    artifact: Artifact,
    old: &BTreeMap<Key, Resource>,
    new: &BTreeMap<Key, Resource>,
) -> Vec<ResourceChange> {
    let mut keys: Vec<&Key> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let (before, after) = (old.get(key), new.get(key));
        let (change, fields, any) = match (before, after) {
            (Some(o), None) => (Change::Removed, Vec::new(), o),
            (None, Some(n)) => (Change::Added, Vec::new(), n),
            (Some(o), Some(n)) if o.value != n.value => {
                let fields = if o.opaque || n.opaque {
                    Vec::new()
                } else {
                    fields::diff(&o.value, &n.value)
                };
                (Change::Modified, fields, n)
            }
            _ => continue,
        };
        let mut rc = ResourceChange {
            artifact,
            file: any.file.clone(),
            kind: any.kind.clone(),
            name: any.name.clone(),
            change,
            fields,
            risks: Vec::new(),
        };
        rc.risks = risk::assess(
            artifact,
            &rc,
            before.map(|r| &r.value),
            after.map(|r| &r.value),
        );
        out.push(rc);
    }
    risk::strategy_replacements(&mut out);
    out.sort_by(|a, b| {
        (&a.file, &a.kind, &a.name, a.change).cmp(&(&b.file, &b.kind, &b.name, b.change))
    });
    out
}
