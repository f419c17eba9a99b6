//! Safe writes of an output folder, and reading back what plinth generated there.
//!
//! A build replaces the generated files as one transaction: every new file is first written
//! to a temporary file beside its target, then the targets are swapped in by renames, keeping
//! each replaced or removed file as a backup until all renames succeeded. On any failure the
//! renames are undone, so the folder is left as it was.
//!
//! `.plinth-manifest` lists the files plinth generated, with a content hash. A later build
//! removes the listed files it no longer produces, and never overwrites or removes a file that
//! plinth did not generate (not in the manifest and without the banner) unless forced.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use crate::diff::FileSet;
use crate::emit::{OutputFile, Target};

/// The manifest's file name, in the output folder.
pub(crate) const MANIFEST: &str = ".plinth-manifest";

/// Suffixes of the temporary files of a write in progress.
const TMP_SUFFIX: &str = ".plinth-tmp";
const OLD_SUFFIX: &str = ".plinth-old";

/// Whether a file's first kilobyte carries the banner. Formats without comments (JSON) cannot
/// carry it; such files are recognised by the manifest.
pub(crate) fn has_banner(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    String::from_utf8_lossy(head).contains(crate::ir::naming::BANNER_PREFIX)
}

/// A 64-bit FNV-1a hash: stable across machines and releases, enough to tell whether a file
/// was edited since plinth wrote it.
fn hash(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// The part of the output folder a build or diff is about: the selected targets' folders,
/// narrowed to the selected environments' files.
pub(crate) struct Scope {
    targets: Vec<&'static str>,
    envs: Vec<String>,
}

impl Scope {
    /// The scope of a build with these `--target` and `--env` selections.
    pub(crate) fn new(targets: &[Target], envs: &[String]) -> Scope {
        let targets = if targets.is_empty() {
            Target::ALL
        } else {
            targets
        };
        Scope {
            targets: targets.iter().map(|t| t.name()).collect(),
            envs: envs.to_vec(),
        }
    }

    /// Whether `path` belongs to the scope. With an environment selection, a file belongs
    /// when a folder or file of its path is named after a selected environment, or when the
    /// build produces it; files shared by all environments are never removed by a partial
    /// build.
    fn contains(&self, path: &str, produced: &FileSet) -> bool {
        let mut parts = path.split('/');
        let in_target = parts.next().is_some_and(|t| self.targets.contains(&t));
        in_target
            && (self.envs.is_empty()
                || produced.contains_key(path)
                || parts.any(|p| {
                    let stem = p.split('.').next().unwrap_or(p);
                    self.envs.iter().any(|e| e == p || e == stem)
                }))
    }
}

/// Whether a manifest entry is a plain relative path that stays inside the output folder.
fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The manifest: relative path to content hash.
pub(crate) fn read_manifest(out: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = out.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once("  "))
        .filter(|(_, p)| safe_relative(p))
        .map(|(h, p)| (p.to_owned(), h.to_owned()))
        .collect())
}

fn manifest_text(entries: &BTreeMap<String, String>) -> String {
    let mut text = format!(
        "# {MANIFEST}: the files plinth generated in this folder, with a content hash.\n\
         # A build removes the listed files it no longer produces; do not edit.\n"
    );
    for (path, h) in entries {
        text.push_str(&format!("{h}  {path}\n"));
    }
    text
}

fn read_lossy(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read `{}`: {e}", path.display())),
    }
}

/// The generated files in `out` within `scope`: those in the manifest and those with the
/// banner. Hand-written files beside them are not part of the output, so not compared.
pub(crate) fn read_generated(
    out: &Path,
    scope: &Scope,
    produced: &FileSet,
) -> Result<FileSet, String> {
    let manifest = read_manifest(out)?;
    Ok(generated(out, &manifest, scope, produced)?
        .into_iter()
        .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
        .collect())
}

/// The bytes of every generated file in `out` within `scope`: the manifest's entries and the
/// files with the banner under the scope's target folders (left by a build before the
/// manifest existed). Temporary files of an interrupted write are skipped.
fn generated(
    out: &Path,
    manifest: &BTreeMap<String, String>,
    scope: &Scope,
    produced: &FileSet,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    for path in manifest.keys().filter(|p| scope.contains(p, produced)) {
        let target = out.join(path);
        if target.is_dir() {
            continue;
        }
        if let Some(bytes) = read_lossy(&target)? {
            files.insert(path.clone(), bytes);
        }
    }
    for target in &scope.targets {
        let mut stack = vec![PathBuf::from(target)];
        while let Some(rel) = stack.pop() {
            let dir = out.join(&rel);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
            };
            for entry in entries {
                let entry = entry.map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let child = rel.join(&name);
                let shown = super::display_path(&child);
                if entry.path().is_dir() {
                    stack.push(child);
                } else if !name.ends_with(TMP_SUFFIX)
                    && !name.ends_with(OLD_SUFFIX)
                    && !files.contains_key(&shown)
                    && scope.contains(&shown, produced)
                {
                    if let Some(bytes) = read_lossy(&entry.path())?.filter(|b| has_banner(b)) {
                        files.insert(shown, bytes);
                    }
                }
            }
        }
    }
    Ok(files)
}

/// What a build will do to the output folder.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Files to write (new or changed), the manifest last.
    writes: Vec<(String, String)>,
    /// Generated files no longer produced, to remove.
    pub removes: Vec<String>,
    /// Files plinth did not generate that the build would overwrite.
    pub foreign: Vec<String>,
    /// Stale files in the manifest that were edited by hand since, so left in place.
    pub kept: Vec<String>,
    /// Generated files already up to date.
    pub unchanged: usize,
}

impl Plan {
    /// The generated files written, the manifest left out.
    pub(crate) fn written(&self) -> impl Iterator<Item = &str> {
        self.writes
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| *p != MANIFEST)
    }
}

/// Plans writing `files` to `out`. Files plinth did not generate are listed in
/// `Plan::foreign`; with `force` they are overwritten and removed like generated ones.
pub(crate) fn plan(
    out: &Path,
    files: &[OutputFile],
    scope: &Scope,
    force: bool,
) -> Result<Plan, String> {
    let manifest = read_manifest(out)?;
    let produced: FileSet = files
        .iter()
        .map(|f| (f.path.clone(), f.contents.clone()))
        .collect();
    let mut plan = Plan::default();
    for f in files {
        let target = out.join(&f.path);
        if target.is_dir() {
            return Err(format!(
                "`{}` is a directory where plinth writes a file",
                target.display()
            ));
        }
        match read_lossy(&target)? {
            Some(existing) if existing == f.contents.as_bytes() => plan.unchanged += 1,
            Some(existing) => {
                if !manifest.contains_key(&f.path) && !has_banner(&existing) && !force {
                    plan.foreign.push(f.path.clone());
                }
                plan.writes.push((f.path.clone(), f.contents.clone()));
            }
            None => plan.writes.push((f.path.clone(), f.contents.clone())),
        }
    }
    // Manifest entries outside the scope (another environment or target) stay listed.
    let mut entries: BTreeMap<String, String> = manifest
        .iter()
        .filter(|(p, _)| !scope.contains(p, &produced))
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    for (path, bytes) in generated(out, &manifest, scope, &produced)? {
        if produced.contains_key(&path) {
            continue;
        }
        let listed = manifest.get(&path).is_some_and(|h| *h == hash(&bytes));
        if force || listed || has_banner(&bytes) {
            plan.removes.push(path);
        } else {
            plan.kept.push(path);
        }
    }
    for f in files {
        entries.insert(f.path.clone(), hash(f.contents.as_bytes()));
    }
    let text = manifest_text(&entries);
    if read_lossy(&out.join(MANIFEST))?.as_deref() != Some(text.as_bytes()) {
        plan.writes.push((MANIFEST.to_owned(), text));
    }
    Ok(plan)
}

/// A write in progress, undone on failure.
#[derive(Default)]
struct Transaction {
    /// Folders created, outermost first.
    created: Vec<PathBuf>,
    /// Temporary files not yet renamed into place.
    temps: Vec<PathBuf>,
    /// Files renamed into place.
    placed: Vec<PathBuf>,
    /// Replaced or removed files, as (original, backup).
    backups: Vec<(PathBuf, PathBuf)>,
}

impl Transaction {
    fn rollback(self) {
        for p in self.placed.iter().rev() {
            let _ = std::fs::remove_file(p);
        }
        for (orig, backup) in self.backups.iter().rev() {
            let _ = std::fs::rename(backup, orig);
        }
        for t in &self.temps {
            let _ = std::fs::remove_file(t);
        }
        for d in self.created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// `dir/.name.suffix`: hidden, beside its target so the rename stays on one filesystem.
fn sibling(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{suffix}"))
}

fn create_dirs(dir: &Path, tx: &mut Transaction) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d {
        if p.as_os_str().is_empty() || p.is_dir() {
            break;
        }
        missing.push(p.to_path_buf());
        d = p.parent();
    }
    for p in missing.into_iter().rev() {
        std::fs::create_dir(&p).map_err(|e| format!("cannot create `{}`: {e}", p.display()))?;
        tx.created.push(p);
    }
    Ok(())
}

fn run(out: &Path, plan: &Plan, tx: &mut Transaction) -> Result<(), String> {
    create_dirs(out, tx)?;
    for (path, contents) in &plan.writes {
        let target = out.join(path);
        if let Some(dir) = target.parent() {
            create_dirs(dir, tx)?;
        }
        let tmp = sibling(&target, TMP_SUFFIX);
        tx.temps.push(tmp.clone());
        std::fs::write(&tmp, contents)
            .map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
    }
    let renames = plan
        .writes
        .iter()
        .map(|(p, _)| (p, true))
        .chain(plan.removes.iter().map(|p| (p, false)));
    for (path, write) in renames {
        let target = out.join(path);
        if target.exists() {
            let backup = sibling(&target, OLD_SUFFIX);
            std::fs::rename(&target, &backup)
                .map_err(|e| format!("cannot replace `{}`: {e}", target.display()))?;
            tx.backups.push((target.clone(), backup));
        }
        if write {
            let tmp = sibling(&target, TMP_SUFFIX);
            std::fs::rename(&tmp, &target)
                .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
            tx.temps.retain(|t| *t != tmp);
            tx.placed.push(target);
        }
    }
    Ok(())
}

/// Carries out `plan`: all of it, or on failure nothing.
pub(crate) fn apply(out: &Path, plan: &Plan) -> Result<(), String> {
    let mut tx = Transaction::default();
    if let Err(e) = run(out, plan, &mut tx) {
        tx.rollback();
        return Err(format!("{e}; the output folder was left as it was"));
    }
    for (_, backup) in &tx.backups {
        let _ = std::fs::remove_file(backup);
    }
    // Folders emptied by removals go too, up to (not including) the output folder.
    for path in &plan.removes {
        let mut dir = out.join(path).parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == out || std::fs::remove_dir(&d).is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    out.push((p.clone(), Vec::new()));
                    stack.push(p);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    /// A failure in the middle of a write (here a folder that cannot be created because a
    /// file has its name) undoes everything written before it: temporary files, created
    /// folders, and files already swapped in.
    #[test]
    fn a_failed_write_is_rolled_back() {
        let out = std::env::temp_dir().join(format!("plinth-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(out.join("k8s")).unwrap();
        std::fs::write(out.join("k8s/a.yaml"), "old a\n").unwrap();
        std::fs::write(out.join("k8s/stale.yaml"), "stale\n").unwrap();
        std::fs::write(out.join("blocker"), "a file, not a folder\n").unwrap();
        let before = tree(&out);
        let plan = Plan {
            writes: vec![
                ("k8s/a.yaml".to_owned(), "new a\n".to_owned()),
                ("k8s/new/b.yaml".to_owned(), "b\n".to_owned()),
                ("blocker/c.yaml".to_owned(), "c\n".to_owned()),
            ],
            removes: vec!["k8s/stale.yaml".to_owned()],
            ..Plan::default()
        };
        let err = apply(&out, &plan).unwrap_err();
        assert!(err.contains("left as it was"), "{err}");
        assert_eq!(tree(&out), before);
        // Without the blocker the same plan goes through, and removes the stale file.
        std::fs::remove_file(out.join("blocker")).unwrap();
        apply(&out, &plan).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("k8s/a.yaml")).unwrap(),
            "new a\n"
        );
        assert!(!out.join("k8s/stale.yaml").exists());
        assert!(tree(&out)
            .iter()
            .all(|(p, _)| !p.to_string_lossy().contains(".plinth-")));
        let _ = std::fs::remove_dir_all(&out);
    }
}
