//! Every registry module call plinth generates passes only arguments that the pinned version
//! of the module declares, and every module output plinth reads exists at that version.
//!
//! Terraform reports an undeclared module argument only at `terraform init`/`plan`, after the
//! module was downloaded, and no validator in the repository downloads modules (checkov and
//! `terraform fmt` do not). A major version of a module renames inputs (eks 21 renamed
//! `cluster_name` to `name`), so a pin moved without its arguments must fail here instead. The
//! declared names at each pinned tag are stored as test data in
//! `compiler/tests/data/terraform-modules/<module>-<version>.{variables,outputs}`, extracted
//! from the module's `variables.tf` and `outputs.tf` at the tag (see each file's header).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use hcl::{Block, Body, Expression};
use plinth::emit::Target;

/// Module arguments that Terraform itself defines for every module call.
const META_ARGUMENTS: [&str; 6] = [
    "source",
    "version",
    "providers",
    "depends_on",
    "count",
    "for_each",
];

/// The names one module version declares: its variables (`name`, and `name.attribute` for
/// the attributes of an object-typed variable) and its outputs.
struct Declared {
    variables: BTreeSet<String>,
    outputs: BTreeSet<String>,
}

/// One environment's generated root module: each `.tf` file by its shown name, parsed and as
/// text (outputs are also read inside string templates, which the text shows plainly).
#[derive(Default)]
struct RootModule {
    files: Vec<(String, Body)>,
    texts: Vec<(String, String)>,
}

/// The stored file name of a registry module source: the submodule for
/// `terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts`, the module name for
/// `terraform-aws-modules/eks/aws`.
fn module_key(source: &str) -> String {
    match source.split_once("//modules/") {
        Some((_, sub)) => sub.to_owned(),
        None => source.split('/').nth(1).unwrap_or(source).to_owned(),
    }
}

/// The names in a stored list, comment lines left out.
fn names(path: &std::path::Path) -> Option<BTreeSet<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
    )
}

/// The stored lists for a module source at a version; a missing list fails the test, so a pin
/// cannot move without its lists.
fn declared(source: &str, version: &str) -> Declared {
    let dir = root().join("compiler/tests/data/terraform-modules");
    let stem = format!("{}-{version}", module_key(source));
    let read = |ext: &str| {
        let path = dir.join(format!("{stem}.{ext}"));
        names(&path).unwrap_or_else(|| {
            panic!(
                "module `{source}` is pinned to {version}, but {} is not stored: extract it from the module's repository at that tag (see the header of the other lists)",
                shown(&path)
            )
        })
    };
    Declared {
        variables: read("variables"),
        outputs: read("outputs"),
    }
}

fn string(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        other => panic!("expected a string literal, got {other:?}"),
    }
}

fn attr<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
}

/// `var.NAME` as NAME.
fn variable_ref(e: &Expression) -> Option<String> {
    let Expression::Traversal(t) = e else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    match (root.as_str(), t.operators.as_slice()) {
        ("var", [hcl::expr::TraversalOperator::GetAttr(name)]) => Some(name.to_string()),
        _ => None,
    }
}

/// The attribute names of each entry of a map of objects, as plinth writes `addons` and the
/// node groups: `{ coredns = { … }, vpc-cni = { before_compute = true } }`.
fn entry_keys(e: &Expression) -> Vec<(String, String)> {
    let Expression::Object(map) = e else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (entry, value) in map {
        if let Expression::Object(fields) = value {
            for key in fields.keys() {
                keys.push((entry.to_string(), key.to_string()));
            }
        }
    }
    keys
}

/// The value of a root module variable's default, for an argument passed as `var.NAME`.
fn variable_default<'a>(files: &'a [(String, Body)], name: &str) -> Option<&'a Expression> {
    files.iter().find_map(|(_, body)| {
        body.blocks()
            .find(|b| {
                b.identifier() == "variable" && b.labels().first().map(|l| l.as_str()) == Some(name)
            })
            .and_then(|b| attr(b, "default"))
    })
}

/// Every `module.NAME.OUTPUT` in a file's text, templates included.
fn module_outputs(text: &str) -> Vec<(String, String)> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("module.") {
        let before = text.len() - rest.len() + at;
        let prefixed = text[..before].chars().next_back().is_some_and(ident);
        rest = &rest[at + "module.".len()..];
        if prefixed {
            continue;
        }
        let name: String = rest.chars().take_while(|&c| ident(c)).collect();
        let after = &rest[name.len()..];
        if let Some(tail) = after.strip_prefix('.') {
            let output: String = tail.chars().take_while(|&c| ident(c)).collect();
            if !name.is_empty() && !output.is_empty() {
                found.push((name, output));
            }
        }
    }
    found
}

/// The problems of one environment's root module: arguments and attributes the pinned module
/// does not declare, and outputs it does not have.
fn undeclared(root_module: &RootModule) -> Vec<String> {
    let RootModule { files, texts } = root_module;
    let mut problems = Vec::new();
    let mut modules: BTreeMap<String, Declared> = BTreeMap::new();
    for (file, body) in files {
        for module in body.blocks().filter(|b| b.identifier() == "module") {
            let label = module.labels()[0].as_str().to_owned();
            let source = string(attr(module, "source").expect("a module has a source"));
            let version =
                string(attr(module, "version").unwrap_or_else(|| {
                    panic!("{file}: module `{label}` is not pinned to a version")
                }));
            let known = declared(&source, &version);
            for argument in module.body().attributes() {
                let key = argument.key();
                if META_ARGUMENTS.contains(&key) {
                    continue;
                }
                if !known.variables.contains(key) {
                    problems.push(format!(
                        "{file}: module `{label}` ({source} {version}) has no variable `{key}`"
                    ));
                    continue;
                }
                // An object-typed variable lists its attributes: check those plinth sets on
                // each entry, written inline or as the default of a root variable.
                let prefix = format!("{key}.");
                if !known.variables.iter().any(|v| v.starts_with(&prefix)) {
                    continue;
                }
                let value = match variable_ref(argument.expr()) {
                    Some(var) => variable_default(files, &var)
                        .unwrap_or_else(|| panic!("{file}: `var.{var}` has no default to check")),
                    None => argument.expr(),
                };
                for (entry, field) in entry_keys(value) {
                    if !known.variables.contains(&format!("{key}.{field}")) {
                        problems.push(format!(
                            "{file}: module `{label}` ({source} {version}): `{key}.{entry}` sets `{field}`, which the variable's type does not declare"
                        ));
                    }
                }
            }
            modules.insert(label, known);
        }
    }
    for (file, text) in texts {
        for (name, output) in module_outputs(text) {
            match modules.get(&name) {
                Some(known) if known.outputs.contains(&output) => {}
                Some(_) => problems.push(format!(
                    "{file}: reads `module.{name}.{output}`, which the pinned module does not output"
                )),
                None => problems.push(format!(
                    "{file}: reads `module.{name}.{output}`, but there is no module `{name}`"
                )),
            }
        }
    }
    problems
}

#[test]
fn module_calls_pass_only_what_the_pinned_versions_declare() {
    let mut specs: Vec<String> = toml_files("examples").iter().map(|p| shown(p)).collect();
    specs.extend(
        toml_files("compiler/tests/fixtures/valid")
            .iter()
            .map(|p| shown(p)),
    );
    let mut problems = Vec::new();
    let mut modules_seen = 0;
    for spec in &specs {
        let text = std::fs::read_to_string(root().join(spec)).unwrap();
        let options = plinth::Options {
            targets: vec![Target::Terraform],
            envs: vec![],
            lenient: false,
        };
        let c = plinth::compile(spec, &text, &options);
        let mut by_env: BTreeMap<String, RootModule> = BTreeMap::new();
        for f in c.files.iter().filter(|f| f.path.ends_with(".tf")) {
            let env = f
                .path
                .rsplit_once('/')
                .map_or("", |(dir, _)| dir)
                .to_owned();
            let body = hcl::parse(&f.contents)
                .unwrap_or_else(|e| panic!("{spec}: {} does not parse: {e}", f.path));
            modules_seen += body.blocks().filter(|b| b.identifier() == "module").count();
            let shown = format!("{spec}: {}", f.path);
            let entry = by_env.entry(env).or_default();
            entry.files.push((shown.clone(), body));
            entry.texts.push((shown, f.contents.clone()));
        }
        for root_module in by_env.values() {
            problems.extend(undeclared(root_module));
        }
    }
    assert!(
        modules_seen > 0,
        "no example or fixture generates a module call"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn outputs_are_found_in_references_and_templates() {
    let text =
        "a = module.eks.cluster_name\nb = \"${module.ebs_csi_irsa.arn}\"\nc = submodule.x.y\n";
    assert_eq!(
        module_outputs(text),
        [
            ("eks".to_owned(), "cluster_name".to_owned()),
            ("ebs_csi_irsa".to_owned(), "arn".to_owned())
        ]
    );
}

#[test]
fn submodules_are_keyed_by_their_folder() {
    assert_eq!(module_key("terraform-aws-modules/eks/aws"), "eks");
    assert_eq!(
        module_key("terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"),
        "iam-role-for-service-accounts"
    );
}
