//! Loading a spec or preset file: syntax, then structure, then typed values.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value as Json;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::span::{with_source, Sp};
use super::types::{DataStore, Spec};
use crate::diag::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::source::{SourceId, Sources, Span};

/// The only spec format version this compiler reads.
pub const FORMAT_VERSION: i64 = 1;

/// Largest spec file plinth reads. Larger inputs are rejected before parsing so that memory
/// stays bounded in pre-commit hooks and CI; 32 MiB is far beyond any hand-written spec.
pub const MAX_SPEC_BYTES: usize = 32 * 1024 * 1024;

/// Deepest nesting of tables and arrays accepted; deeper documents are rejected before they
/// reach the recursive converters below.
const MAX_DEPTH: usize = 64;

/// Most workload views a spec may describe: services and data stores, counted once per
/// environment. Every environment checks and lowers every workload on its own, so time, memory
/// and output grow with this product rather than with the file's size: 400 services in 400
/// environments fit in 20 KB, yet took more than a gigabyte to check. 25,000 leaves room for
/// 10,000 services and 1,000 data stores in two environments.
pub const MAX_WORKLOAD_VIEWS: usize = 25_000;

/// Most bytes of text the environments of a spec may copy between them: the strings of the
/// base definitions (config file contents, variables, arguments, alert texts) counted once per
/// environment. Each environment's view, its lowered model and its generated files hold a copy
/// of every such string, so memory grows with this product, not with the file's size: a
/// 1.2 MB spec of one 1 MiB config file in 2,000 environments asked for more than 2 GB before
/// it was refused. 64 MiB keeps a build's peak to a few hundred megabytes, and still lets a
/// 1 MiB config file live in 64 environments, or the 10,000-service spec in two.
pub const MAX_EXPANDED_TEXT: usize = 64 * 1024 * 1024;

/// The diagnostic for a spec whose environments copy more than [`MAX_EXPANDED_TEXT`] bytes
/// of text, if it does. Its label is on the largest string that gets copied.
pub fn too_much_text(spec: &Spec) -> Option<Diagnostic> {
    let envs = spec.environments.len().max(1);
    let mut bytes = 0usize;
    let mut largest: Option<(usize, Span)> = None;
    super::text::base(spec, &mut |t| {
        let len = t.len();
        bytes = bytes.saturating_add(len);
        if largest.as_ref().is_none_or(|(l, _)| len > *l) {
            largest = t.span().map(|s| (len, s.clone()));
        }
    });
    let expanded = bytes.saturating_mul(envs);
    if expanded <= MAX_EXPANDED_TEXT {
        return None;
    }
    let message = format!(
        "{bytes} bytes of text copied into {envs} environments make {} MiB, more than the {} MiB \
         plinth compiles",
        expanded >> 20,
        MAX_EXPANDED_TEXT >> 20
    );
    let d = match largest {
        Some((len, span)) => Diagnostic::new(
            Code::InputLimit,
            message,
            span,
            format!("{len} bytes, copied into every environment"),
        ),
        None => Diagnostic::global(Code::InputLimit, message),
    };
    Some(d.help(
        "keep large files out of the spec (mount them from a ConfigMap of their own), or split \
         the platform into several specs with fewer environments each",
    ))
}

/// The diagnostic for a spec with more workload views than [`MAX_WORKLOAD_VIEWS`], if it has.
pub fn too_many_views(spec: &Spec) -> Option<Diagnostic> {
    let workloads = spec.services.len() + spec.datastores.len();
    let envs = spec.environments.len().max(1);
    // An environment without workloads still costs a namespace, alert rules and a route tree
    // in each target: counted as one view, so that 1.5 million empty environments (32 MiB)
    // are not free.
    let views = workloads.max(1).saturating_mul(envs);
    if views <= MAX_WORKLOAD_VIEWS {
        return None;
    }
    let message = format!(
        "{workloads} services and data stores in {envs} environment{} make {views} workload \
         views, more than the {MAX_WORKLOAD_VIEWS} plinth compiles",
        if envs == 1 { "" } else { "s" }
    );
    let d = match spec.environments.keys().next() {
        Some(first) => Diagnostic::new(
            Code::InputLimit,
            message,
            first.span.clone(),
            "every environment repeats every workload",
        ),
        None => Diagnostic::global(Code::InputLimit, message),
    };
    Some(d.help(
        "split the platform into several specs, or merge environments that repeat one another",
    ))
}

/// A stdlib preset file: a data store definition in the spec's own language.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetFile {
    /// Format version; `1`.
    pub version: Sp<i64>,
    /// What the preset provides.
    pub description: Sp<String>,
    /// The data store defaults.
    pub datastore: DataStore,
}

/// The JSON Schema of the spec format.
pub fn schema() -> Json {
    serde_json::to_value(schemars::schema_for!(Spec)).unwrap_or(Json::Null)
}

/// The schema exactly as committed in `schemas/platform.schema.json`: pretty JSON with a
/// trailing newline.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

fn spec_validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| jsonschema::validator_for(&schema()).ok())
        .as_ref()
}

fn preset_validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(PresetFile)).ok()?;
        jsonschema::validator_for(&schema).ok()
    })
    .as_ref()
}

/// Loads the spec in `source`. Returns `None` when the file is not structurally valid; every
/// problem found is in the diagnostics either way.
pub fn load(sources: &Sources, source: SourceId) -> (Option<Spec>, Diagnostics) {
    let (spec, diags, _) = load_recovering(sources, source);
    (spec, diags)
}

/// [`load`], also saying what recovery dropped from the document to check the rest of it,
/// so that the caller can leave out the errors that the dropping causes.
pub fn load_recovering(
    sources: &Sources,
    source: SourceId,
) -> (Option<Spec>, Diagnostics, Recovery) {
    load_as(sources, source, spec_validator)
}

/// Loads a stdlib preset through the same steps as a user file.
pub fn load_preset(sources: &Sources, source: SourceId) -> (Option<PresetFile>, Diagnostics) {
    let (preset, diags, _) = load_as(sources, source, preset_validator);
    (preset, diags)
}

/// The constraints the JSON Schema states beyond what the Rust types enforce, so that a
/// document the types accept can skip the schema validation (see `load_as`).
trait SchemaBounds {
    /// Whether every value lies within the schema's bounds.
    fn within_schema_bounds(&self) -> bool;
}

/// Port numbers are the schema's only numeric range.
fn ports_in_range(d: Option<&Vec<super::types::Port>>) -> bool {
    d.is_none_or(|ports| ports.iter().all(|p| (1..=65535).contains(&p.port.value)))
}

impl SchemaBounds for Spec {
    fn within_schema_bounds(&self) -> bool {
        let envs = self.environments.values();
        self.services
            .values()
            .chain(envs.clone().flat_map(|e| e.services.values()))
            .all(|s| ports_in_range(s.ports.as_ref()))
            && self
                .datastores
                .values()
                .chain(envs.flat_map(|e| e.datastores.values()))
                .all(|d| ports_in_range(d.ports.as_ref()))
    }
}

impl SchemaBounds for PresetFile {
    fn within_schema_bounds(&self) -> bool {
        ports_in_range(self.datastore.ports.as_ref())
    }
}

fn load_as<T: DeserializeOwned + SchemaBounds>(
    sources: &Sources,
    source: SourceId,
    // Built on first use only: valid documents never need it.
    validator: fn() -> Option<&'static jsonschema::Validator>,
) -> (Option<T>, Diagnostics, Recovery) {
    let mut diags = Diagnostics::default();
    let mut recovery = Recovery::default();
    let text = &sources.get(source).text;
    let span = |r: std::ops::Range<usize>| Span::new(source, r);

    if text.len() > MAX_SPEC_BYTES {
        diags.push(
            Diagnostic::global(
                Code::InputLimit,
                format!(
                    "spec is {} bytes, more than the {} bytes plinth reads",
                    text.len(),
                    MAX_SPEC_BYTES
                ),
            )
            .help("split the platform into several specs"),
        );
        return (None, diags, recovery);
    }

    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        diags
            .0
            .extend(super::syntax::problems(text, source, errors, nesting_limit));
        return (None, diags, recovery);
    }
    let root_span = root.span();
    let table = root.into_inner();

    if let Some(deep) = too_deep(&table, 0) {
        diags.push(
            Diagnostic::new(
                Code::InputLimit,
                format!("tables and arrays nest deeper than {MAX_DEPTH} levels"),
                span(deep),
                "too deep",
            )
            .help("no part of the spec format nests this deep"),
        );
        return (None, diags, recovery);
    }

    // The version decides which schema applies, so it is checked before anything else.
    match table.iter().find(|(k, _)| k.get_ref() == "version") {
        Some((_, v)) => match v
            .get_ref()
            .as_integer()
            .and_then(|i| i.as_str().parse::<i64>().ok())
        {
            Some(FORMAT_VERSION) => {}
            _ => {
                diags.push(
                    Diagnostic::new(
                        Code::UnsupportedVersion,
                        "unsupported spec format version",
                        span(v.span()),
                        format!("this plinth reads format version {FORMAT_VERSION}"),
                    )
                    .help(format!("set `version = {FORMAT_VERSION}`")),
                );
                return (None, diags, recovery);
            }
        },
        None => {
            diags.push(
                Diagnostic::new(
                    Code::MissingKey,
                    "missing `version`",
                    span(0..0),
                    "the file should start with the format version",
                )
                .help(format!(
                    "add `version = {FORMAT_VERSION}` at the top of the file"
                )),
            );
            return (None, diags, recovery);
        }
    }

    // Fast path: a valid document deserializes straight into the types. Building the schema
    // validator and converting the document to JSON cost more than everything else `check`
    // does to a small spec, so they only run when the types reject the document (or a value
    // is outside a bound only the schema states), to explain what is wrong.
    let de = toml::de::Deserializer::from(Spanned::new(root_span.clone(), table));
    if let Ok(value) = with_source(source, || T::deserialize(de)) {
        if value.within_schema_bounds() {
            return (Some(value), diags, recovery);
        }
    }
    // The fast path consumed the parsed table; parsing again is cheap next to validation,
    // and the text parsed without errors the first time.
    let (root, _) = DeTable::parse_recoverable(text);
    let mut table = root.into_inner();
    if let Some(validator) = validator() {
        let json = table_to_json(&table);
        let errors: Vec<_> = validator.iter_errors(&json).collect();
        let typos = typos(&errors);
        let mut structural: Vec<Diagnostic> = Vec::new();
        let mut targets = Vec::new();
        for e in &errors {
            structural.extend(
                schema_error(&table, root_span.clone(), source, e)
                    .into_iter()
                    .filter(|d| !is_typo_consequence(d, e, &typos)),
            );
            for_each_leaf(e, &mut |leaf| {
                prune_targets(leaf, &typos, &mut targets, &mut recovery)
            });
        }
        structural.dedup();
        diags.0.extend(structural);
        diags.sort();
        for (pointer, meant) in typos {
            // `services.api.prots`: the workload lost its `ports` as surely as if they had
            // been dropped.
            let segs: Vec<&str> = pointer.split('/').skip(1).collect();
            if let [.., "services" | "datastores", name] = segs.as_slice() {
                recovery
                    .workload_keys
                    .insert(((*name).to_owned(), meant.clone()));
            }
            recovery.meant.insert(meant);
        }
        // Every structural error is reported above; the values that caused them are dropped
        // so that the rest of the file is still checked, and one run reports every problem.
        if !prune_until_valid(&mut table, validator, targets, &mut recovery) {
            return (None, diags, recovery);
        }
    }

    let de = toml::de::Deserializer::from(Spanned::new(root_span, table));
    match with_source(source, || T::deserialize(de)) {
        Ok(value) => (Some(value), diags, recovery),
        Err(e) => {
            // The schema mirrors the types, so this is a gap between the two; still report it
            // as an ordinary diagnostic rather than failing, unless the structural errors
            // already explain the file.
            if !diags.has_errors() {
                let range = e.span().unwrap_or(0..0);
                diags.push(
                    Diagnostic::new(
                        Code::WrongType,
                        e.message().trim().to_owned(),
                        span(range),
                        "here",
                    )
                    .help("this value does not fit the spec format; see docs/spec.md"),
                );
            }
            (None, diags, recovery)
        }
    }
}

/// What recovery dropped from a document to check the rest of it, so that the errors its
/// absence causes are not reported as if they were the author's.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// Whether anything was dropped at all.
    pub pruned: bool,
    /// Keys the author wrote (wrongly typed) or meant (the suggestion for a misspelt key)
    /// that are absent now, e.g. `domain` after `domian = "…"` was dropped.
    pub meant: BTreeSet<String>,
    /// Names of tables dropped whole (a port, a receiver, a service given as a string):
    /// references to them are not reported as unknown.
    pub names: BTreeSet<String>,
    /// A service or data store and the key of it that was dropped, or that a dropped value
    /// was inside (`("api", "ports")` for `services.api.ports.0.port`): findings about that
    /// workload that the key decides (undeclared ports, a disruption budget without replicas)
    /// are consequences.
    pub workload_keys: BTreeSet<(String, String)>,
}

/// Calls `f` with the errors inside `e` that the diagnostics report: the errors of the
/// present branch of an optional value, or `e` itself.
fn for_each_leaf(
    e: &jsonschema::ValidationError<'_>,
    f: &mut dyn FnMut(&jsonschema::ValidationError<'_>),
) {
    use jsonschema::error::ValidationErrorKind as K;
    if let K::AnyOf { context } | K::OneOfNotValid { context } = e.kind() {
        if let Some(inner) = present_branch(context, e.instance_path().as_str()) {
            for i in inner {
                for_each_leaf(i, f);
            }
            return;
        }
    }
    f(e)
}

/// The misspelt keys of a document, as (pointer of their table, the key they were probably
/// meant to be).
fn typos(errors: &[jsonschema::ValidationError<'_>]) -> BTreeSet<(String, String)> {
    use jsonschema::error::ValidationErrorKind as K;
    let mut out = BTreeSet::new();
    for e in errors {
        for_each_leaf(e, &mut |leaf| {
            if let K::AdditionalProperties { unexpected } = leaf.kind() {
                let known = known_properties(leaf.schema_path().as_str());
                for key in unexpected {
                    if let Some(meant) = did_you_mean(key, known.iter().map(String::as_str)) {
                        out.insert((leaf.instance_path().as_str().to_owned(), meant.to_owned()));
                    }
                }
            }
        });
    }
    out
}

/// Whether `d` says a key is missing that a misspelt key of the same table meant: the typo
/// is the cause and prints with its suggestion, so the missing key is not reported twice.
fn is_typo_consequence(
    d: &Diagnostic,
    e: &jsonschema::ValidationError<'_>,
    typos: &BTreeSet<(String, String)>,
) -> bool {
    use jsonschema::error::ValidationErrorKind as K;
    if d.code != Code::MissingKey {
        return false;
    }
    let mut consequence = false;
    for_each_leaf(e, &mut |leaf| {
        if let K::Required { property } = leaf.kind() {
            let key = (
                leaf.instance_path().as_str().to_owned(),
                property.as_str().unwrap_or_default().to_owned(),
            );
            consequence |= typos.contains(&key) && d.message.contains(&format!("`{}`", key.1));
        }
    });
    consequence
}

/// The JSON pointers of the values to drop because of `e`: the unexpected keys, the value of
/// the wrong type or outside its choices, or the table a required key is missing from.
fn prune_targets(
    e: &jsonschema::ValidationError<'_>,
    typos: &BTreeSet<(String, String)>,
    targets: &mut Vec<String>,
    recovery: &mut Recovery,
) {
    use jsonschema::error::ValidationErrorKind as K;
    let pointer = e.instance_path().as_str();
    match e.kind() {
        K::AdditionalProperties { unexpected } => targets.extend(
            unexpected
                .iter()
                .map(|k| format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"))),
        ),
        K::Required { property } => {
            let meant = (
                pointer.to_owned(),
                property.as_str().unwrap_or_default().to_owned(),
            );
            // A missing key of a table is only the author's if no typo there meant it.
            if !typos.contains(&meant) {
                recovery.meant.insert(meant.1);
            }
            targets.push(pointer.to_owned());
        }
        _ => {
            if let Some(key) = pointer
                .rsplit('/')
                .next()
                .filter(|k| k.parse::<usize>().is_err())
            {
                recovery
                    .meant
                    .insert(key.replace("~1", "/").replace("~0", "~"));
            }
            targets.push(pointer.to_owned());
        }
    }
}

/// Drops the values at `targets`, then whatever the schema still rejects (a table whose
/// required key was the dropped value), until the document is valid. Returns false when
/// that would drop the whole document, or does not settle.
fn prune_until_valid(
    table: &mut DeTable<'_>,
    validator: &jsonschema::Validator,
    mut targets: Vec<String>,
    recovery: &mut Recovery,
) -> bool {
    // Each round drops at least one value and usually settles in one or two; the bound only
    // guards against a schema that keeps rejecting what is left.
    for _ in 0..16 {
        if targets.is_empty() {
            return true;
        }
        if targets.iter().any(String::is_empty) {
            return false;
        }
        recovery.pruned = true;
        prune(table, targets, recovery);
        let json = table_to_json(table);
        let mut next = Vec::new();
        let mut ignored = Recovery::default();
        for e in validator.iter_errors(&json) {
            for_each_leaf(&e, &mut |leaf| {
                prune_targets(leaf, &BTreeSet::new(), &mut next, &mut ignored)
            });
        }
        targets = next;
    }
    targets.is_empty()
}

/// One segment of a JSON pointer, with array indices ordered as numbers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Index(usize),
    Key(String),
}

/// Drops the values at the JSON `pointers`. Array elements are removed from the highest index
/// down, so that removing one does not shift the next, and a value inside one already
/// dropped is skipped.
fn prune(table: &mut DeTable<'_>, pointers: Vec<String>, recovery: &mut Recovery) {
    let mut paths: Vec<Vec<Segment>> = pointers
        .iter()
        .map(|p| {
            p.split('/')
                .skip(1)
                .map(|r| match r.parse::<usize>() {
                    Ok(i) => Segment::Index(i),
                    Err(_) => Segment::Key(r.replace("~1", "/").replace("~0", "~")),
                })
                .collect()
        })
        .collect();
    paths.sort();
    paths.dedup();
    // Sorted, a value's descendants follow it directly, so comparing with the last path kept
    // is enough: with 100,000 errors, comparing with every path kept never finished.
    let mut kept: Vec<Vec<Segment>> = Vec::new();
    for p in paths {
        if !kept.last().is_some_and(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    for path in &kept {
        let keys: Vec<&str> = path
            .iter()
            .map(|s| match s {
                Segment::Key(k) => k.as_str(),
                Segment::Index(_) => "",
            })
            .collect();
        if let Some(i) = keys
            .iter()
            .position(|k| matches!(*k, "services" | "datastores"))
        {
            if let (Some(name), Some(key)) = (keys.get(i + 1), keys.get(i + 2)) {
                recovery
                    .workload_keys
                    .insert(((*name).to_owned(), (*key).to_owned()));
            }
        }
    }
    for path in kept.iter().rev() {
        if let Some(DeValue::Table(t)) = remove_at(table, path) {
            let name = t.get("name").and_then(|n| n.get_ref().as_str());
            let key = match path.last() {
                Some(Segment::Key(k)) => Some(k.as_str()),
                _ => None,
            };
            recovery.names.extend(name.or(key).map(str::to_owned));
        }
    }
}

/// Removes and returns the value at `path` below `table`, if there is one.
fn remove_at<'i>(table: &mut DeTable<'i>, path: &[Segment]) -> Option<DeValue<'i>> {
    let key = |s: &Segment| match s {
        Segment::Key(k) => k.clone(),
        Segment::Index(i) => i.to_string(),
    };
    match path.split_first()? {
        (last, []) => table.remove(key(last).as_str()).map(Spanned::into_inner),
        (first, rest) => remove_in(table.get_mut(key(first).as_str())?.get_mut(), rest),
    }
}

/// [`remove_at`] below a value: a table or an array.
fn remove_in<'i>(value: &mut DeValue<'i>, path: &[Segment]) -> Option<DeValue<'i>> {
    match (value, path.split_first()?) {
        (DeValue::Table(t), _) => remove_at(t, path),
        (DeValue::Array(a), (Segment::Index(i), [])) if *i < a.len() => {
            // `DeArray` has no `remove`: it is rebuilt without the element.
            let mut items: Vec<_> = std::mem::replace(a, toml::de::DeArray::new())
                .into_iter()
                .collect();
            let removed = items.remove(*i);
            *a = items.into_iter().collect();
            Some(removed.into_inner())
        }
        (DeValue::Array(a), (Segment::Index(i), rest)) => remove_in(a.get_mut(*i)?.get_mut(), rest),
        _ => None,
    }
}

/// The diagnostic for nesting beyond the TOML parser's own limit. The parser gives no
/// position for a deep dotted key (`a.a.a… = 1`), so the first line with more dots than the
/// limit allows is labelled instead; failing that, the diagnostic has no label.
fn nesting_limit(text: &str, source: SourceId, range: std::ops::Range<usize>) -> Diagnostic {
    let message = format!("tables, arrays or dotted keys nest deeper than {MAX_DEPTH} levels");
    let help = "no part of the spec format nests this deep";
    let range = if range.is_empty() && range.start == 0 {
        let mut offset = 0;
        text.split_inclusive('\n').find_map(|line| {
            let start = offset;
            offset += line.len();
            (line.matches('.').count() > MAX_DEPTH).then(|| start..start + line.trim_end().len())
        })
    } else {
        Some(range)
    };
    match range {
        Some(r) => {
            Diagnostic::new(Code::InputLimit, message, Span::new(source, r), "too deep").help(help)
        }
        None => Diagnostic::global(Code::InputLimit, message).help(help),
    }
}

fn too_deep(table: &DeTable<'_>, depth: usize) -> Option<std::ops::Range<usize>> {
    if depth > MAX_DEPTH {
        return Some(0..0);
    }
    for (_, v) in table.iter() {
        if let Some(r) = value_too_deep(v, depth + 1) {
            return Some(if r == (0..0) { v.span() } else { r });
        }
    }
    None
}

fn value_too_deep(v: &Spanned<DeValue<'_>>, depth: usize) -> Option<std::ops::Range<usize>> {
    if depth > MAX_DEPTH {
        return Some(v.span());
    }
    match v.get_ref() {
        DeValue::Table(t) => too_deep(t, depth),
        DeValue::Array(a) => a.iter().find_map(|x| value_too_deep(x, depth + 1)),
        _ => None,
    }
}

fn table_to_json(table: &DeTable<'_>) -> Json {
    Json::Object(
        table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), value_to_json(v.get_ref())))
            .collect(),
    )
}

fn value_to_json(v: &DeValue<'_>) -> Json {
    match v {
        DeValue::String(s) => Json::String(s.to_string()),
        DeValue::Integer(i) => {
            let text = i.as_str().replace('_', "");
            let parsed = match i.radix() {
                10 => text.parse::<i64>().ok(),
                r => i64::from_str_radix(text.trim_start_matches(['+']), r).ok(),
            };
            parsed.map(Json::from).unwrap_or(Json::Null)
        }
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        DeValue::Boolean(b) => Json::Bool(*b),
        DeValue::Datetime(d) => Json::String(d.to_string()),
        DeValue::Array(a) => Json::Array(a.iter().map(|x| value_to_json(x.get_ref())).collect()),
        DeValue::Table(t) => table_to_json(t),
    }
}

/// What a path into the document resolves to: the value's span and, for table entries, the
/// key's span.
struct Located {
    value: std::ops::Range<usize>,
    key: Option<std::ops::Range<usize>>,
    table: Option<Vec<(String, std::ops::Range<usize>)>>,
}

fn locate(root: &DeTable<'_>, root_span: std::ops::Range<usize>, pointer: &str) -> Located {
    let mut here = Located {
        value: root_span,
        key: None,
        table: None,
    };
    let mut current: Option<&DeValue<'_>> = None;
    let mut table = Some(root);
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        // A keyed lookup, not a scan: a spec with 100,000 services and an error in each would
        // otherwise scan the whole `services` table once per error.
        let next = if let Some(t) = table {
            t.get_key_value(seg.as_str())
                .map(|(k, v)| (Some(k.span()), v))
        } else if let Some(DeValue::Array(a)) = current {
            seg.parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .map(|v| (None, v))
        } else {
            None
        };
        let Some((key, v)) = next else { break };
        here.value = v.span();
        here.key = key.or(here.key.take().filter(|_| false));
        current = Some(v.get_ref());
        table = v.get_ref().as_table();
    }
    // The keys of the table reached, listed once at the end rather than at every step.
    here.table = table.map(|t| {
        t.iter()
            .map(|(k, _)| (k.get_ref().to_string(), k.span()))
            .collect()
    });
    here
}

fn describe(v: &Json) -> &'static str {
    match v {
        Json::Null => "nothing",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a float",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "a table",
    }
}

fn schema_error(
    root: &DeTable<'_>,
    root_span: std::ops::Range<usize>,
    source: SourceId,
    e: &jsonschema::ValidationError<'_>,
) -> Vec<Diagnostic> {
    use jsonschema::error::ValidationErrorKind as K;
    let pointer = e.instance_path().as_str().to_owned();
    let at = locate(root, root_span.clone(), &pointer);
    let span = |r: std::ops::Range<usize>| Span::new(source, r);
    let dotted = pointer.trim_start_matches('/').replace('/', ".");
    let what = if dotted.is_empty() {
        "the file".to_owned()
    } else {
        format!("`{dotted}`")
    };
    if let K::AnyOf { context } | K::OneOfNotValid { context } = e.kind() {
        // An optional table or value (`anyOf [X, null]`) that is present but wrong: report
        // what is wrong inside it, at its narrowest span, rather than the whole value.
        if let Some(inner) = present_branch(context, &pointer) {
            return inner
                .iter()
                .flat_map(|inner| schema_error(root, root_span.clone(), source, inner))
                .collect();
        }
    }
    match e.kind() {
        K::AdditionalProperties { unexpected } => {
            let known = known_properties(e.schema_path().as_str());
            // Indexed once: a file of a million unknown keys would otherwise scan the whole
            // table for every key, which is quadratic and never finishes.
            let key_spans: BTreeMap<&str, &std::ops::Range<usize>> = at
                .table
                .iter()
                .flatten()
                .map(|(k, s)| (k.as_str(), s))
                .collect();
            unexpected
                .iter()
                .map(|key| {
                    let key_span = key_spans
                        .get(key.as_str())
                        .map_or(at.value.clone(), |s| (*s).clone());
                    let mut d = Diagnostic::new(
                        Code::UnknownKey,
                        format!("unknown key `{key}` in {what}"),
                        span(key_span),
                        "not a key of this table",
                    );
                    d = match did_you_mean(key, known.iter().map(String::as_str)) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None if !known.is_empty() => {
                            d.help(format!("expected one of: {}", known.join(", ")))
                        }
                        None => d.help("remove this key: this table takes no keys"),
                    };
                    d
                })
                .collect()
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            let label_span = at.key.clone().unwrap_or(at.value.clone());
            vec![Diagnostic::new(
                Code::MissingKey,
                format!("missing key `{name}` in {what}"),
                span(label_span),
                format!("`{name}` is required here"),
            )
            .help(format!("add `{name} = …` to this table"))]
        }
        K::Type { kind } => {
            let debug = format!("{kind:?}").to_lowercase();
            let names: Vec<&str> = ["boolean", "integer", "number", "string", "array", "object"]
                .into_iter()
                .filter(|n| debug.contains(n))
                .map(|n| match n {
                    "boolean" => "a boolean",
                    "integer" => "an integer",
                    "number" => "a number",
                    "string" => "a string",
                    "array" => "an array",
                    _ => "a table",
                })
                .collect();
            let expected = names.join(" or ");
            vec![Diagnostic::new(
                Code::WrongType,
                format!("wrong type for {what}"),
                span(at.value),
                format!("expected {expected}, found {}", describe(e.instance())),
            )
            .help(retyped(&names, e.instance(), &dotted))]
        }
        K::OneOfNotValid { context } | K::AnyOf { context } if enum_choices(context).is_some() => {
            let choices = enum_choices(context).unwrap_or_default();
            let given = e.instance().as_str().unwrap_or_default();
            vec![invalid_choice(&what, span(at.value), given, &choices)]
        }
        K::AnyOf { .. } | K::OneOfNotValid { .. } => vec![Diagnostic::new(
            Code::WrongType,
            format!("wrong type for {what}"),
            span(at.value),
            format!(
                "expected a string or a number, found {}",
                describe(e.instance())
            ),
        )
        .help(retyped(&["a string", "a number"], e.instance(), &dotted))],
        K::Enum { options } => {
            let choices: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let given = e.instance().as_str().unwrap_or_default();
            vec![invalid_choice(&what, span(at.value), given, &choices)]
        }
        K::Minimum { limit } | K::Maximum { limit } => {
            let bound = if matches!(e.kind(), K::Minimum { .. }) {
                "at least"
            } else {
                "at most"
            };
            vec![Diagnostic::new(
                Code::InvalidValue,
                format!("invalid value for {what}"),
                span(at.value),
                e.to_string(),
            )
            .help(format!("write a value {bound} {limit}"))]
        }
        _ => vec![Diagnostic::new(
            Code::InvalidValue,
            format!("invalid value for {what}"),
            span(at.value),
            e.to_string(),
        )
        .help(format!(
            "docs/spec.md lists the values `{}` accepts",
            dotted.rsplit('.').next().unwrap_or_default()
        ))],
    }
}

/// The help for a value of the wrong type: the value retyped when the intent is evident
/// (`"3"` → `3`, `"90%"` → `90`, `"yes"` → `true`, `8080` → `"8080"`, `"a"` → `["a"]`),
/// otherwise what to write instead.
fn retyped(expected: &[&str], found: &Json, dotted: &str) -> String {
    let key = dotted.rsplit('.').next().unwrap_or(dotted);
    let wants = |t: &str| expected.contains(&t);
    let fixed = match found {
        Json::String(s) if wants("an integer") || wants("a number") => {
            crate::units::suggest_number(s).filter(|n| wants("a number") || !n.contains('.'))
        }
        Json::String(s) if wants("a boolean") => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some("true".to_owned()),
            "false" | "no" | "off" | "0" => Some("false".to_owned()),
            _ => None,
        },
        Json::Number(n) if wants("a string") => Some(format!("\"{n}\"")),
        Json::Bool(b) if wants("a string") => Some(format!("\"{b}\"")),
        Json::String(_) | Json::Number(_) | Json::Bool(_) if wants("an array") => {
            Some(format!("[{found}]"))
        }
        _ => None,
    };
    match fixed {
        Some(v) if key.parse::<usize>().is_err() => format!("write `{key} = {v}`"),
        Some(v) => format!("write `{v}`"),
        None if wants("a table") => format!("write a table: `{key} = {{ … }}` or a `[…]` header"),
        None => format!("write {} here", expected.join(" or ")),
    }
}

/// The property names the schema allows at the object whose `additionalProperties` keyword
/// failed, for did-you-mean suggestions.
fn known_properties(schema_path: &str) -> Vec<String> {
    let schema = schema();
    let parent = schema_path.trim_end_matches("/additionalProperties");
    let mut node = &schema;
    for raw in parent.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg == "$ref" {
            match deref(&schema, node) {
                Some(target) => node = target,
                None => return Vec::new(),
            }
            continue;
        }
        node = match node {
            Json::Object(m) => match m.get(&seg) {
                Some(n) => n,
                None => return Vec::new(),
            },
            Json::Array(a) => match seg.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(n) => n,
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
    }
    if let Some(target) = deref(&schema, node) {
        node = target;
    }
    node.get("properties")
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The target of a node's local `$ref`, if it has one.
fn deref<'a>(schema: &'a Json, node: &Json) -> Option<&'a Json> {
    let r = node.get("$ref")?.as_str()?;
    schema.pointer(r.strip_prefix('#')?)
}

/// The errors of the one branch that is not `null`, when every other branch failed only
/// because the value is not `null`: the shape of an `Option<T>` field.
fn present_branch<'a>(
    context: &'a [Vec<jsonschema::ValidationError<'static>>],
    pointer: &str,
) -> Option<&'a [jsonschema::ValidationError<'static>]> {
    use jsonschema::error::ValidationErrorKind as K;
    // The `null` branch fails with one type error about the value itself.
    let is_null_branch = |branch: &Vec<jsonschema::ValidationError<'static>>| {
        matches!(branch.as_slice(), [e] if e.instance_path().as_str() == pointer
            && matches!(e.kind(), K::Type { kind } if format!("{kind:?}").to_lowercase().contains("null")))
    };
    let mut others = context.iter().filter(|b| !is_null_branch(b));
    let present = others.next()?;
    (others.next().is_none() && context.len() > 1 && !present.is_empty()).then_some(present)
}

/// The allowed values when an `anyOf`/`oneOf` failed only because the value is none of the
/// `const` branches (schemars' rendering of a documented enum, possibly inside the
/// `anyOf [$ref, null]` of an `Option`).
fn enum_choices(context: &[Vec<jsonschema::ValidationError<'static>>]) -> Option<Vec<String>> {
    use jsonschema::error::ValidationErrorKind as K;
    let mut choices = Vec::new();
    for branch in context {
        for e in branch {
            match e.kind() {
                K::Constant { expected_value } => choices.push(expected_value.as_str()?.to_owned()),
                K::Enum { options } => choices.extend(
                    options
                        .as_array()?
                        .iter()
                        .filter_map(|o| o.as_str().map(str::to_owned)),
                ),
                // The `null` branch of an optional field.
                K::Type { .. } => {}
                K::AnyOf { context } | K::OneOfNotValid { context } => {
                    choices.extend(enum_choices(context)?)
                }
                _ => return None,
            }
        }
    }
    (!choices.is_empty()).then_some(choices)
}

/// An enum value outside its choices, with a did-you-mean when one is close.
fn invalid_choice(what: &str, at: Span, given: &str, choices: &[String]) -> Diagnostic {
    let d = Diagnostic::new(
        Code::InvalidValue,
        format!("invalid value for {what}"),
        at,
        format!("expected one of: {}", choices.join(", ")),
    );
    match did_you_mean(given, choices.iter().map(String::as_str)) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!(
            "write one of the values above, e.g. `\"{}\"`",
            choices.first().map_or("", String::as_str)
        )),
    }
}
