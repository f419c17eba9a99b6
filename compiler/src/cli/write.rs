//! Safe writes of an output folder, and reading back what plinth generated there.
//!
//! A build replaces the generated files as one unit, so a reader (or a build killed halfway)
//! never sees a mix of old and new files. Where the platform allows it (Linux and macOS, the
//! output folder an ordinary directory on the same filesystem as its parent), the new folder
//! is staged beside the old one as `.<name>.plinth-staging`: unchanged and hand-written files
//! are hard-linked into it, new files written, and then the two folders are exchanged with one
//! `renameat2(RENAME_EXCHANGE)`. A kill before the exchange leaves the old folder untouched, a
//! kill after it the new one; either way the next build removes the leftover staging folder.
//!
//! Elsewhere (the output folder is a mount point, a symlink, the working directory, holds a
//! Git checkout, or the filesystem cannot exchange) the files are replaced one by one as a
//! transaction: every new file is first written to a temporary file beside its target, then
//! the targets are swapped in by renames, keeping each replaced or removed file as a backup
//! until all renames succeeded. On any error the renames are undone, so the folder is left as
//! it was; only a kill in the middle of the renames can leave a mix there.
//!
//! `.plinth-manifest` lists the files plinth generated, with a content hash. A later build
//! removes the listed files it no longer produces, and never overwrites or removes a file that
//! plinth did not generate (not in the manifest and without the banner) unless forced.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
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
    let head = &bytes[..bytes.len().min(HEAD_BYTES)];
    String::from_utf8_lossy(head).contains(crate::ir::naming::BANNER_PREFIX)
}

/// The content hash the manifest records: 128-bit XXH3 in hex, stable across machines and
/// releases, enough to tell whether a file was edited since plinth wrote it.
fn hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Whether `bytes` is what a manifest entry's hash `recorded` describes. Manifests written by
/// earlier versions of plinth hold 64-bit FNV-1a hashes (16 hex digits); they still count, so
/// a file such a build generated is still recognised as unedited. (FNV-1a goes byte by byte
/// and took a twentieth of a 1,000-service build, so new manifests use XXH3.)
fn hash_matches(recorded: &str, bytes: &[u8]) -> bool {
    if recorded.len() == 16 {
        let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        return recorded == format!("{h:016x}");
    }
    recorded == hash(bytes)
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
    fn contains(&self, path: &str, produced: &BTreeSet<&str>) -> bool {
        let mut parts = path.split('/');
        let in_target = parts.next().is_some_and(|t| self.targets.contains(&t));
        in_target
            && (self.envs.is_empty()
                || produced.contains(path)
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

/// How a file on disk compares with the contents plinth would write there.
enum OnDisk {
    /// There is no such file.
    Missing,
    /// Byte for byte the same.
    Same,
    /// Different; with its first kilobyte, where the banner would be.
    Differs(Vec<u8>),
}

/// The bytes of a file [`has_banner`] looks at.
const HEAD_BYTES: usize = 1024;

/// Compares the file at `path` with `expected`, reading it in small pieces: a rebuild or a
/// drift check compares every generated file, and reading each whole (190 MB for the largest
/// at 10,000 services) into a buffer of its own cost fresh memory for each, most of which the
/// kernel had to zero first. A file of another length is read no further than its head.
fn compare(path: &Path, expected: &[u8]) -> Result<OnDisk, String> {
    use std::io::Read;
    let err = |e: std::io::Error| format!("cannot read `{}`: {e}", path.display());
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(OnDisk::Missing),
        Err(e) => return Err(err(e)),
    };
    let mut same = file.metadata().map_err(err)?.len() == expected.len() as u64;
    let mut buf = vec![0; 64 * 1024];
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let mut at = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        let chunk = &buf[..n];
        let room = HEAD_BYTES.saturating_sub(head.len());
        head.extend_from_slice(&chunk[..n.min(room)]);
        same = same && expected.get(at..at + n) == Some(chunk);
        at += n;
        if !same && head.len() >= HEAD_BYTES {
            break;
        }
    }
    // A file that changed length while it was read compares by what was read.
    Ok(if same && at == expected.len() {
        OnDisk::Same
    } else {
        OnDisk::Differs(head)
    })
}

/// The first kilobyte of the file at `path`, where the banner would be; empty for an empty
/// or missing file.
fn read_head(path: &Path) -> Result<Vec<u8>, String> {
    Ok(match compare(path, &[])? {
        OnDisk::Differs(head) => head,
        OnDisk::Same | OnDisk::Missing => Vec::new(),
    })
}

/// What `plinth diff` compares for drift: the generated files in `out` within `scope`
/// (those in the manifest and those with the banner; hand-written files beside them are not
/// part of the output) against `new`, both narrowed to the artifacts (target folders) where
/// anything differs.
///
/// The report only ever shows artifacts with a change (resources are compared over every file
/// of such an artifact), so the files of the others can be left out of both sets without
/// changing it. That is what lets the common case, a CI check of an output folder that is up
/// to date, hold one old file at a time instead of the whole previous output beside the new
/// one (1.35 GB each at 10,000 services). The files of an artifact seen before its first
/// difference are read a second time.
pub(crate) fn read_drift(
    out: &Path,
    scope: &Scope,
    mut new: FileSet,
) -> Result<(FileSet, FileSet), String> {
    use crate::diff::Artifact;
    let manifest = read_manifest(out)?;
    let produced: BTreeSet<&str> = new.keys().map(String::as_str).collect();
    let in_scope = |p: &str| scope.contains(p, &produced);
    let lossy = |b: Vec<u8>| {
        String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    };
    let mut touched = BTreeSet::new();
    let mut old = FileSet::new();
    let mut seen = BTreeSet::new();
    visit_generated(out, &manifest, scope, in_scope, |path, file| {
        let artifact = Artifact::of(&path);
        let differs = touched.contains(&artifact)
            || match new.get(&path) {
                Some(n) => !matches!(compare(file, n.as_bytes())?, OnDisk::Same),
                None => true,
            };
        if differs {
            touched.insert(artifact);
            match read_lossy(file)? {
                Some(bytes) => old.insert(path.clone(), lossy(bytes)),
                // Removed since it was listed: as if it had never been there.
                None => return Ok(()),
            };
        }
        seen.insert(path);
        Ok(())
    })?;
    touched.extend(
        new.keys()
            .filter(|p| !seen.contains(*p))
            .map(|p| Artifact::of(p)),
    );
    // Files of a changed artifact seen before its first difference.
    let missing = |p: &str| touched.contains(&Artifact::of(p)) && !old.contains_key(p);
    let mut again = FileSet::new();
    visit_generated(
        out,
        &manifest,
        scope,
        |p| in_scope(p) && missing(p),
        |path, file| {
            if let Some(bytes) = read_lossy(file)? {
                again.insert(path, lossy(bytes));
            }
            Ok(())
        },
    )?;
    old.extend(again);
    new.retain(|p, _| touched.contains(&Artifact::of(p)));
    Ok((old, new))
}

/// The generated files in `out` within `scope` that the build no longer produces, which it
/// may remove, with their bytes. Only those: the build compares each file it produces with
/// the one on disk by itself, one at a time, and reading them all here too held the whole
/// previous output in memory (as much again as the new output, at peak) and read every file
/// twice.
fn stale(
    out: &Path,
    manifest: &BTreeMap<String, String>,
    scope: &Scope,
    produced: &BTreeSet<&str>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    visit_generated(
        out,
        manifest,
        scope,
        |p| scope.contains(p, produced) && !produced.contains(p),
        |path, file| {
            if let Some(bytes) = read_lossy(file)? {
                files.insert(path, bytes);
            }
            Ok(())
        },
    )?;
    Ok(files)
}

/// Hands `visit` each generated file in `out` for which `wanted` holds, as its path relative
/// to `out` and on disk, for it to read as much of it as it needs: the manifest's entries
/// that exist, then the files with the banner under the scope's target folders (left by a
/// build before the manifest existed). Temporary files of an interrupted write are skipped.
fn visit_generated(
    out: &Path,
    manifest: &BTreeMap<String, String>,
    scope: &Scope,
    wanted: impl Fn(&str) -> bool,
    mut visit: impl FnMut(String, &Path) -> Result<(), String>,
) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for path in manifest.keys().filter(|p| wanted(p)) {
        let target = out.join(path);
        if target.is_file() {
            seen.insert(path.clone());
            visit(path.clone(), &target)?;
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
                    && !seen.contains(&shown)
                    && wanted(&shown)
                {
                    let file = entry.path();
                    if has_banner(&read_head(&file)?) {
                        visit(shown, &file)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// What a build will do to the output folder.
#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// Files to write (new or changed), the manifest last. Generated contents are borrowed:
    /// copying every file would double the peak memory of a large build.
    writes: Vec<(String, Cow<'a, str>)>,
    /// Generated files no longer produced, to remove.
    pub removes: Vec<String>,
    /// Files plinth did not generate that the build would overwrite.
    pub foreign: Vec<String>,
    /// Stale files in the manifest that were edited by hand since, so left in place.
    pub kept: Vec<String>,
    /// Generated files already up to date.
    pub unchanged: usize,
}

impl Plan<'_> {
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
pub(crate) fn plan<'a>(
    out: &Path,
    files: &'a [OutputFile],
    scope: &Scope,
    force: bool,
) -> Result<Plan<'a>, String> {
    let manifest = read_manifest(out)?;
    let produced: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut plan = Plan::default();
    for f in files {
        let target = out.join(&f.path);
        if target.is_dir() {
            return Err(format!(
                "`{}` is a directory where plinth writes a file",
                target.display()
            ));
        }
        match compare(&target, f.contents.as_bytes())? {
            OnDisk::Same => plan.unchanged += 1,
            OnDisk::Differs(head) => {
                if !manifest.contains_key(&f.path) && !has_banner(&head) && !force {
                    plan.foreign.push(f.path.clone());
                }
                plan.writes
                    .push((f.path.clone(), Cow::Borrowed(&f.contents)));
            }
            OnDisk::Missing => plan
                .writes
                .push((f.path.clone(), Cow::Borrowed(&f.contents))),
        }
    }
    // Manifest entries outside the scope (another environment or target) stay listed.
    let mut entries: BTreeMap<String, String> = manifest
        .iter()
        .filter(|(p, _)| !scope.contains(p, &produced))
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    for (path, bytes) in stale(out, &manifest, scope, &produced)? {
        let listed = manifest.get(&path).is_some_and(|h| hash_matches(h, &bytes));
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
        plan.writes.push((MANIFEST.to_owned(), Cow::Owned(text)));
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
        std::fs::write(&tmp, contents.as_bytes())
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
            // The temporary file is gone now; removing it again on rollback is a harmless
            // no-op, which keeps this loop linear in the number of files.
            tx.placed.push(target);
        }
    }
    Ok(())
}

/// Carries out `plan`: all of it, or on failure nothing.
pub(crate) fn apply(out: &Path, plan: &Plan) -> Result<(), String> {
    swap::clear_stale(out);
    if plan.writes.is_empty() && plan.removes.is_empty() {
        return Ok(());
    }
    match swap::apply(out, plan) {
        swap::Outcome::Done => return Ok(()),
        swap::Outcome::Failed(e) => {
            return Err(format!("{e}; the output folder was left as it was"))
        }
        swap::Outcome::Unsupported => {}
    }
    let mut tx = Transaction::default();
    if let Err(e) = run(out, plan, &mut tx) {
        tx.rollback();
        return Err(format!("{e}; the output folder was left as it was"));
    }
    for (_, backup) in &tx.backups {
        let _ = std::fs::remove_file(backup);
    }
    remove_emptied_dirs(out, &plan.removes);
    Ok(())
}

/// Removes the folders under `root` that the removal of `removes` left empty, up to (not
/// including) `root` itself.
fn remove_emptied_dirs(root: &Path, removes: &[String]) {
    for path in removes {
        let mut dir = root.join(path).parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == root || std::fs::remove_dir(&d).is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
}

/// The staged, atomic exchange of the whole output folder (see the module documentation).
mod swap {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::Plan;

    /// More entries than this in the output folder (hand-written files included) and mirroring
    /// it would cost more than the per-file transaction saves: a sign `--out` points at a
    /// source tree rather than an output folder.
    const MAX_MIRRORED: usize = 100_000;

    /// How the staged exchange went.
    pub(super) enum Outcome {
        /// The new folder is in place.
        Done,
        /// It failed before the exchange; the output folder is untouched.
        Failed(String),
        /// This folder cannot be exchanged; use the per-file transaction.
        Unsupported,
    }

    /// `parent/.name.plinth-staging`, or `None` for paths without a final name (`.`, `/`).
    fn staging_path(out: &Path) -> Option<PathBuf> {
        let name = out.file_name()?.to_string_lossy().into_owned();
        Some(out.with_file_name(format!(".{name}.plinth-staging")))
    }

    /// Removes the leftover of a killed build: its half-staged new folder, or the old folder
    /// it had just exchanged out.
    pub(super) fn clear_stale(out: &Path) {
        if let Some(staging) = staging_path(out).filter(|s| s.exists()) {
            let _ = std::fs::remove_dir_all(staging);
        }
    }

    pub(super) fn apply(out: &Path, plan: &Plan) -> Outcome {
        let Some(staging) = staging_path(out) else {
            return Outcome::Unsupported;
        };
        if staging.exists() {
            return Outcome::Unsupported;
        }
        let exists = match std::fs::symlink_metadata(out) {
            Ok(m) if m.is_dir() => true,
            Ok(_) => return Outcome::Unsupported,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(_) => return Outcome::Unsupported,
        };
        if exists && !exchangeable(out) {
            return Outcome::Unsupported;
        }
        match stage(out, &staging, plan, exists) {
            Ok(true) => {}
            Ok(false) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Outcome::Unsupported;
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Outcome::Failed(e);
            }
        }
        let swapped = if exists {
            exchange(&staging, out)
        } else {
            std::fs::rename(&staging, out)
        };
        match swapped {
            Ok(()) => {
                // The staging path now holds the old folder; a kill before this removal only
                // leaves it for the next build to remove.
                if exists {
                    let _ = std::fs::remove_dir_all(&staging);
                }
                Outcome::Done
            }
            // The filesystem cannot exchange (EINVAL), or the folder appeared meanwhile:
            // nothing was touched, so the per-file transaction gets its turn.
            Err(_) => {
                let _ = std::fs::remove_dir_all(&staging);
                Outcome::Unsupported
            }
        }
    }

    /// Whether `out` (an existing directory) may be exchanged: writable, on the same
    /// filesystem as its parent (not a mount point), not the working directory or one of its
    /// ancestors, and not a Git checkout.
    #[cfg(unix)]
    fn exchangeable(out: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let parent = match out.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => return false,
        };
        let (Ok(o), Ok(p)) = (std::fs::metadata(out), std::fs::metadata(parent)) else {
            return false;
        };
        // A read-only folder is the user's "do not touch": the per-file path reports it.
        if o.dev() != p.dev() || o.permissions().readonly() || out.join(".git").exists() {
            return false;
        }
        match (std::env::current_dir(), std::fs::canonicalize(out)) {
            (Ok(cwd), Ok(abs)) => !cwd.starts_with(abs),
            _ => false,
        }
    }

    #[cfg(not(unix))]
    fn exchangeable(_out: &Path) -> bool {
        false
    }

    #[cfg(any(target_os = "linux", target_os = "macos"))]
    fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    /// Builds the new folder at `staging`: the old folder's entries that the plan neither
    /// rewrites nor removes, hard-linked, then the plan's writes. `Ok(false)` when the old
    /// folder cannot be mirrored (too large, or links are not possible).
    fn stage(out: &Path, staging: &Path, plan: &Plan, exists: bool) -> Result<bool, String> {
        std::fs::create_dir(staging).map_err(|e| cannot(staging, e))?;
        if exists {
            let skip: BTreeSet<&str> = plan
                .writes
                .iter()
                .map(|(p, _)| p.as_str())
                .chain(plan.removes.iter().map(String::as_str))
                .collect();
            let mut budget = MAX_MIRRORED;
            if !mirror(out, staging, "", &skip, &mut budget) {
                return Ok(false);
            }
            super::remove_emptied_dirs(staging, &plan.removes);
        }
        // Folders first, each once, so that the files can then be written in any order.
        let dirs: BTreeSet<PathBuf> = plan
            .writes
            .iter()
            .filter_map(|(path, _)| staging.join(path).parent().map(Path::to_path_buf))
            .collect();
        for dir in &dirs {
            std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
        }
        write_files(staging, &plan.writes)?;
        if exists {
            if let Ok(m) = std::fs::metadata(out) {
                let _ = std::fs::set_permissions(staging, m.permissions());
            }
        }
        Ok(true)
    }

    /// The error of a failed write or folder creation at `p`.
    fn cannot(p: &Path, e: std::io::Error) -> String {
        format!("cannot write `{}`: {e}", p.display())
    }

    /// Writes `writes` below `root`, whose folders exist, on up to two threads.
    ///
    /// The staged folder is new and private until it is exchanged in, so the order of writes
    /// does not matter. Copying the bytes into the page cache is most of a build's write
    /// (1.35 GB at 10,000 services); split between two cores, by bytes rather than by
    /// count, it takes about half as long.
    fn write_files(
        root: &Path,
        writes: &[(String, std::borrow::Cow<'_, str>)],
    ) -> Result<(), String> {
        let write = |part: &[(String, std::borrow::Cow<'_, str>)]| -> Result<(), String> {
            for (path, contents) in part {
                let target = root.join(path);
                std::fs::write(&target, contents.as_bytes()).map_err(|e| cannot(&target, e))?;
            }
            Ok(())
        };
        let total: usize = writes.iter().map(|(_, c)| c.len()).sum();
        let threads = crate::threads();
        if threads < 2 || writes.len() < 2 {
            return write(writes);
        }
        // The first index past half of the bytes.
        let mut seen = 0;
        let half = writes
            .iter()
            .position(|(_, c)| {
                seen += c.len();
                seen * 2 > total
            })
            .map_or(writes.len(), |i| i + 1)
            .min(writes.len() - 1);
        let (first, second) = writes.split_at(half);
        std::thread::scope(|scope| {
            let helper = scope.spawn(|| write(second));
            let mine = write(first);
            let theirs = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            mine.and(theirs)
        })
    }

    /// Recreates `from`'s tree under `to`, files as hard links, leaving out `skip` (paths
    /// relative to the output folder). False when it cannot (or should not) be done.
    fn mirror(
        from: &Path,
        to: &Path,
        rel: &str,
        skip: &BTreeSet<&str>,
        budget: &mut usize,
    ) -> bool {
        let Ok(entries) = std::fs::read_dir(from) else {
            return false;
        };
        for entry in entries {
            let Ok(entry) = entry else { return false };
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if skip.contains(child_rel.as_str()) {
                continue;
            }
            let (src, dst) = (entry.path(), to.join(&name));
            let Ok(kind) = entry.file_type() else {
                return false;
            };
            let ok = if kind.is_dir() {
                std::fs::create_dir(&dst).is_ok()
                    && mirror(&src, &dst, &child_rel, skip, budget)
                    && std::fs::metadata(&src)
                        .and_then(|m| std::fs::set_permissions(&dst, m.permissions()))
                        .is_ok()
            } else if kind.is_symlink() {
                copy_symlink(&src, &dst)
            } else {
                std::fs::hard_link(&src, &dst).is_ok()
            };
            if !ok {
                return false;
            }
        }
        true
    }

    #[cfg(unix)]
    fn copy_symlink(src: &Path, dst: &Path) -> bool {
        std::fs::read_link(src)
            .and_then(|t| std::os::unix::fs::symlink(t, dst))
            .is_ok()
    }

    #[cfg(not(unix))]
    fn copy_symlink(_src: &Path, _dst: &Path) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_hashes_are_the_published_algorithms() {
        // Published test vectors: a change of algorithm would orphan every existing manifest.
        assert_eq!(hash(b""), "99aa06d3014798d86001c324468d497f");
        assert!(hash_matches("99aa06d3014798d86001c324468d497f", b""));
        // FNV-1a 64 of "a", as manifests of earlier versions recorded it.
        assert!(hash_matches("af63dc4c8601ec8c", b"a"));
        assert!(!hash_matches("af63dc4c8601ec8c", b"b"));
        assert!(!hash_matches(&hash(b"a"), b"b"));
    }

    /// `compare` reads in pieces: a difference in any piece, or in length, is found, and the
    /// head handed back is the file's first kilobyte whatever the difference.
    #[test]
    fn compare_finds_every_difference_piece_by_piece() {
        let dir = std::env::temp_dir().join(format!("plinth-compare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        // Three and a half pieces of 64 KiB.
        let text: Vec<u8> = (0..224 * 1024).map(|i| b"plinth\n"[i % 7]).collect();
        std::fs::write(&file, &text).unwrap();
        assert!(matches!(compare(&file, &text).unwrap(), OnDisk::Same));
        for at in [0, 1023, 1024, 64 * 1024, 200 * 1024, text.len() - 1] {
            let mut other = text.clone();
            other[at] = b'#';
            match compare(&file, &other).unwrap() {
                OnDisk::Differs(head) => assert_eq!(head, text[..HEAD_BYTES], "at {at}"),
                _ => panic!("a difference at byte {at} was not found"),
            }
        }
        assert!(matches!(
            compare(&file, &text[..text.len() - 1]).unwrap(),
            OnDisk::Differs(_)
        ));
        assert!(matches!(
            compare(&file, &[text.as_slice(), b"x"].concat()).unwrap(),
            OnDisk::Differs(_)
        ));
        std::fs::write(&file, b"short").unwrap();
        match compare(&file, &text).unwrap() {
            OnDisk::Differs(head) => assert_eq!(head, b"short"),
            _ => panic!("a shorter file compared equal"),
        }
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(compare(&file, b"").unwrap(), OnDisk::Same));
        assert!(matches!(
            compare(&dir.join("missing"), b"").unwrap(),
            OnDisk::Missing
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

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
                ("k8s/a.yaml".to_owned(), "new a\n".into()),
                ("k8s/new/b.yaml".to_owned(), "b\n".into()),
                ("blocker/c.yaml".to_owned(), "c\n".into()),
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
        // The staging folder beside it is gone too.
        let staging = out.with_file_name(format!(
            ".{}.plinth-staging",
            out.file_name().unwrap().to_string_lossy()
        ));
        assert!(!staging.exists());
        let _ = std::fs::remove_dir_all(&out);
    }
}
