//! Loading a spec or preset file: syntax, then structure, then typed values.

use std::collections::BTreeMap;
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
    load_as(sources, source, spec_validator)
}

/// Loads a stdlib preset through the same steps as a user file.
pub fn load_preset(sources: &Sources, source: SourceId) -> (Option<PresetFile>, Diagnostics) {
    load_as(sources, source, preset_validator)
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
) -> (Option<T>, Diagnostics) {
    let mut diags = Diagnostics::default();
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
        return (None, diags);
    }

    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let range = e.span().unwrap_or(0..0);
            let snippet = text.get(range.clone()).unwrap_or_default();
            let mut message = e.message().trim().to_owned();
            if message == "duplicate key" && !snippet.is_empty() && !snippet.contains('\n') {
                message = format!("duplicate key `{snippet}`");
            }
            // At the end of a line the parser reports what it hoped to find; the user's
            // mistake is the missing value.
            let rest_of_line = text
                .get(range.start..)
                .and_then(|r| r.lines().next())
                .unwrap_or_default();
            if message.starts_with("string values must be quoted") && rest_of_line.trim().is_empty()
            {
                message = "missing value after `=`".to_owned();
            }
            // The parser has a nesting limit of its own, above ours: report it as the same
            // limit, not as a syntax error. Deep dotted keys come without a position.
            if message == "recursion limit" || message.starts_with("cannot recurse further") {
                diags.push(nesting_limit(text, source, range));
                continue;
            }
            // A NUL or other control character is invisible in the rendered snippet; name it.
            let control = |c: &char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
            let at_error = match snippet {
                "" => rest_of_line.chars().next().filter(control),
                s => s.chars().find(control),
            };
            if let Some(c) = at_error {
                message = format!(
                    "control character U+{:04X} is not allowed here ({message})",
                    u32::from(c)
                );
            }
            // Two `[name]` headers: the parser reports a duplicate key.
            let line_start = text[..range.start.min(text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let line = text[line_start..].lines().next().unwrap_or_default().trim();
            if message.starts_with("duplicate key") && line.starts_with('[') {
                message = format!("duplicate table `{line}`");
            }
            diags.push(
                Diagnostic::new(Code::TomlSyntax, message, span(range), "here")
                    .help("see https://toml.io/en/v1.0.0 for TOML syntax"),
            );
        }
        return (None, diags);
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
        return (None, diags);
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
                return (None, diags);
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
            return (None, diags);
        }
    }

    // Fast path: a valid document deserializes straight into the types. Building the schema
    // validator and converting the document to JSON cost more than everything else `check`
    // does to a small spec, so they only run when the types reject the document (or a value
    // is outside a bound only the schema states), to explain what is wrong.
    let de = toml::de::Deserializer::from(Spanned::new(root_span.clone(), table));
    if let Ok(value) = with_source(source, || T::deserialize(de)) {
        if value.within_schema_bounds() {
            return (Some(value), diags);
        }
    }
    // The fast path consumed the parsed table; parsing again is cheap next to validation,
    // and the text parsed without errors the first time.
    let (root, _) = DeTable::parse_recoverable(text);
    let table = root.into_inner();
    let json = table_to_json(&table);
    let mut table = table;
    if let Some(validator) = validator() {
        let mut structural: Vec<Diagnostic> = Vec::new();
        let mut unknown_keys: Vec<(String, String)> = Vec::new();
        let mut only_unknown_keys = true;
        for e in validator.iter_errors(&json) {
            match e.kind() {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    let at = e.instance_path().as_str().to_owned();
                    unknown_keys.extend(unexpected.iter().map(|k| (at.clone(), k.clone())));
                }
                _ => only_unknown_keys = false,
            }
            structural.extend(schema_error(&table, root_span.clone(), source, &e));
        }
        structural.dedup();
        if !structural.is_empty() {
            diags.0.extend(structural);
            diags.sort();
            if !only_unknown_keys {
                return (None, diags);
            }
            // Unknown keys cannot cause knock-on errors, so they are dropped and the rest of
            // the file is still checked: one run reports every problem.
            for (pointer, key) in &unknown_keys {
                remove_key(&mut table, pointer, key);
            }
        }
    }

    let de = toml::de::Deserializer::from(Spanned::new(root_span, table));
    match with_source(source, || T::deserialize(de)) {
        Ok(value) => (Some(value), diags),
        Err(e) => {
            // The schema mirrors the types, so this is a gap between the two; still report it
            // as an ordinary diagnostic rather than failing.
            let range = e.span().unwrap_or(0..0);
            diags.push(Diagnostic::new(
                Code::WrongType,
                e.message().trim().to_owned(),
                span(range),
                "here",
            ));
            (None, diags)
        }
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

/// Removes `key` from the table at JSON `pointer`.
fn remove_key(root: &mut DeTable<'_>, pointer: &str, key: &str) {
    let segs: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|r| r.replace("~1", "/").replace("~0", "~"))
        .collect();
    match segs.split_first() {
        None => {
            root.remove(key);
        }
        Some((first, rest)) => {
            if let Some(v) = root.get_mut(first.as_str()) {
                remove_in(v.get_mut(), rest, key);
            }
        }
    }
}

fn remove_in(v: &mut DeValue<'_>, segs: &[String], key: &str) {
    match (segs.split_first(), v) {
        (None, DeValue::Table(t)) => {
            t.remove(key);
        }
        (Some((s, rest)), DeValue::Table(t)) => {
            if let Some(c) = t.get_mut(s.as_str()) {
                remove_in(c.get_mut(), rest, key);
            }
        }
        (Some((s, rest)), DeValue::Array(a)) => {
            if let Some(c) = s.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                remove_in(c.get_mut(), rest, key);
            }
        }
        _ => {}
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
                        None => d,
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
            )]
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
        )],
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
        _ => vec![Diagnostic::new(
            Code::InvalidValue,
            format!("invalid value for {what}"),
            span(at.value),
            e.to_string(),
        )],
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
        None => d,
    }
}
