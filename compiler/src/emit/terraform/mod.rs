//! Terraform: the cloud side of the platform, a root module per environment.
//!
//! Each environment with a `[cloud]` section gets `terraform/<env>/`: `versions.tf` (the
//! `terraform` block: versions, pinned providers, state backend), `providers.tf`,
//! `main.tf` (network, cluster, encryption key), `datastores.tf` (managed data stores, when
//! there are any), `cdn.tf` (when a CDN is asked for), `helm.tf` (the releases installed into
//! the cluster), `variables.tf` and `outputs.tf`.
//!
//! This module is provider-independent: it picks the lowering for the environment's cloud
//! provider (only [`aws`] today; another provider is another lowering returning the same
//! [`Module`]), renders each file with hcl-rs and then runs [`fmt::align`], so the output is
//! byte-identical to `terraform fmt`. Documents are built from hcl-rs's typed blocks,
//! attributes and expressions; the helpers below only shorten their construction.

mod aws;
pub mod fmt;

use hcl::expr::{
    BinaryOp, BinaryOperator, Expression, FuncCall, Object, ObjectKey, Traversal, Variable,
};
use hcl::template::Template;
use hcl::{Block, Body, Identifier};

use super::{EmitError, Emitted, Note, OutputFile, Target};
use crate::ir::{self, naming, Environment};

/// The files of one environment's root module, each a document, in output order.
#[derive(Debug, Default)]
pub struct Module {
    /// File name (`main.tf`) and document.
    pub files: Vec<(&'static str, Body)>,
    /// Things the lowering could not express, for the build summary.
    pub notes: Vec<String>,
    /// checkov checks that do not apply to one resource, written into it as annotations.
    pub skips: Vec<Skip>,
}

/// A checkov check that does not apply to one generated resource, and why. It becomes a
/// `#checkov:skip=ID:reason` line at the top of the resource, where a reviewer sees it next
/// to the configuration it excuses. Checks that do not apply to any generated output are
/// listed in `scripts/checkov-skips.txt` instead.
#[derive(Debug, Clone)]
pub struct Skip {
    /// Resource type and name, `aws_s3_bucket.logs`.
    pub resource: String,
    /// Check id, `CKV_AWS_145`.
    pub check: &'static str,
    /// Why it does not apply.
    pub reason: &'static str,
}

/// Emits a root module for every environment in `envs` that has a cloud section.
pub fn emit(platform: &ir::Platform, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let mut out = Emitted::default();
    let note = |message: String| Note {
        target: Target::Terraform,
        message,
    };
    let without: Vec<&str> = envs
        .iter()
        .filter(|e| e.cloud.is_none())
        .map(|e| e.name.as_str())
        .collect();
    if !without.is_empty() {
        let which = if without.len() == envs.len() {
            "the spec has no `[cloud]` section".to_owned()
        } else {
            format!("no `[cloud]` section for {}", without.join(", "))
        };
        out.notes
            .push(note(format!("{which}: no Terraform generated")));
    }
    for env in envs {
        let Some(cloud) = &env.cloud else {
            continue;
        };
        let module = match cloud.provider.as_str() {
            "aws" => aws::lower(platform, env, cloud),
            other => {
                out.notes.push(note(format!(
                    "environment `{}`: cloud provider `{other}` has no Terraform lowering",
                    env.name
                )));
                continue;
            }
        };
        for message in module.notes {
            out.notes
                .push(note(format!("environment `{}`: {message}", env.name)));
        }
        for (name, body) in module.files {
            let text = annotate(&render(platform, &body)?, &module.skips);
            out.files.push(OutputFile {
                path: naming::terraform_file(&env.name, name),
                contents: text,
            });
        }
    }
    Ok(out)
}

/// Renders a document as `terraform fmt` would write it, banner first.
fn render(platform: &ir::Platform, body: &Body) -> Result<String, EmitError> {
    let mut formatter = hcl::format::Formatter::builder()
        .compact_arrays(true)
        .prefer_ident_keys(true)
        .build_vec();
    let text = hcl::format::Format::format_string(body, &mut formatter)
        .map_err(|e| EmitError(format!("cannot format HCL: {e}")))?;
    Ok(format!(
        "{}\n{}",
        super::hash_banner(platform),
        fmt::align(&text)
    ))
}

/// Writes each skip as the first line inside its resource's block.
fn annotate(text: &str, skips: &[Skip]) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        let Some(header) = line
            .strip_prefix("resource \"")
            .and_then(|rest| rest.strip_suffix("\" {\n"))
        else {
            continue;
        };
        let resource = header.replacen("\" \"", ".", 1);
        for skip in skips.iter().filter(|s| s.resource == resource) {
            out.push_str(&format!("  #checkov:skip={}:{}\n", skip.check, skip.reason));
        }
    }
    out
}

// Expression helpers. Each builds a typed hcl-rs value.

/// A reference such as `module.vpc.vpc_id` or `aws_db_instance.x.endpoint`; a numeric
/// segment becomes an index (`data.x.names.0` is `data.x.names[0]`).
fn r(path: &str) -> Expression {
    let mut parts = path.split('.');
    let root = Variable::unchecked(parts.next().unwrap_or_default());
    let mut t = Traversal::builder(root);
    for p in parts {
        t = match p.parse::<u64>() {
            Ok(n) => t.index(n),
            Err(_) => t.attr(p),
        };
    }
    Expression::from(t.build())
}

/// A function call.
fn call(name: &str, args: impl IntoIterator<Item = Expression>) -> Expression {
    let mut b = FuncCall::builder(name);
    for a in args {
        b = b.arg(a);
    }
    Expression::from(b.build())
}

/// A string literal.
fn s(v: impl Into<String>) -> Expression {
    Expression::String(v.into())
}

/// A list of string literals.
fn strings<S: AsRef<str>>(v: impl IntoIterator<Item = S>) -> Expression {
    Expression::Array(v.into_iter().map(|x| s(x.as_ref())).collect())
}

/// A part of a string template.
enum Part {
    Lit(String),
    Expr(Expression),
}

/// A quoted string template: `"${path.module}/x"`. A string literal among the parts is
/// written as text, and a template without interpolations is a plain string.
fn template(parts: impl IntoIterator<Item = Part>) -> Expression {
    let parts: Vec<Part> = parts
        .into_iter()
        .map(|p| match p {
            Part::Expr(Expression::String(l)) => Part::Lit(l),
            p => p,
        })
        .collect();
    if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
        return s(parts
            .into_iter()
            .map(|p| match p {
                Part::Lit(l) => l,
                Part::Expr(_) => String::new(),
            })
            .collect::<String>());
    }
    let mut t = Template::new();
    for p in parts {
        t = match p {
            Part::Lit(l) => t.add_literal(l.replace('\\', "\\\\").replace('"', "\\\"")),
            Part::Expr(e) => t.add_interpolation(e),
        };
    }
    Expression::from(hcl::expr::TemplateExpr::QuotedString(t.to_string()))
}

/// An object; keys that are identifiers stay bare, others are quoted.
fn obj<K: AsRef<str>>(items: impl IntoIterator<Item = (K, Expression)>) -> Expression {
    let mut o: Object<ObjectKey, Expression> = Object::new();
    for (k, v) in items {
        o.insert(key(k.as_ref()), v);
    }
    Expression::Object(o)
}

fn key(k: &str) -> ObjectKey {
    match Identifier::new(k) {
        Ok(id) => ObjectKey::Identifier(id),
        Err(_) => ObjectKey::Expression(s(k)),
    }
}

/// `lhs op rhs`.
fn op(lhs: Expression, operator: BinaryOperator, rhs: Expression) -> Expression {
    Expression::from(BinaryOp::new(lhs, operator, rhs))
}

/// A block with labels and a body.
fn block<'a>(
    ident: &str,
    labels: impl IntoIterator<Item = &'a str>,
    body: impl IntoIterator<Item = Item>,
) -> Block {
    let mut b = Block::builder(ident);
    for l in labels {
        b = b.add_label(l);
    }
    for item in body {
        b = match item {
            Item::Attr(k, v) => b.add_attribute((k, v)),
            Item::Block(x) => b.add_block(x),
        };
    }
    b.build()
}

/// An item of a block body.
enum Item {
    Attr(String, Expression),
    Block(Block),
}

/// `key = value`.
fn a(k: impl Into<String>, v: impl Into<Expression>) -> Item {
    Item::Attr(k.into(), v.into())
}

/// A nested block.
fn b(x: Block) -> Item {
    Item::Block(x)
}

/// A document: a `locals` block first when there are locals, then the blocks.
fn doc_with_locals(locals: Vec<Item>, blocks: impl IntoIterator<Item = Block>) -> Body {
    let first = (!locals.is_empty()).then(|| block("locals", [], locals));
    doc(first.into_iter().chain(blocks))
}

/// A document from top-level blocks.
fn doc(blocks: impl IntoIterator<Item = Block>) -> Body {
    let mut body = Body::builder();
    for x in blocks {
        body = body.add_block(x);
    }
    body.build()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// A function running `terraform fmt -` on a text, when terraform is on PATH.
    #[allow(clippy::type_complexity)]
    pub(crate) fn terraform_fmt() -> Option<Box<dyn Fn(&str) -> Result<String, String>>> {
        let ok = Command::new("terraform")
            .arg("version")
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            return None;
        }
        Some(Box::new(|text: &str| {
            let mut child = Command::new("terraform")
                .args(["fmt", "-"])
                .env("TF_CLI_CONFIG_FILE", "/dev/null")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            child
                .stdin
                .take()
                .ok_or("no stdin")?
                .write_all(text.as_bytes())
                .map_err(|e| e.to_string())?;
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            if out.status.success() {
                String::from_utf8(out.stdout).map_err(|e| e.to_string())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        }))
    }

    #[test]
    fn skips_go_inside_their_resource() {
        let skip = super::Skip {
            resource: "aws_s3_bucket.logs".into(),
            check: "CKV_AWS_18",
            reason: "why",
        };
        let text = "resource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"x\"\n}\n\nresource \"aws_s3_bucket\" \"data\" {\n  bucket = \"y\"\n}\n";
        assert_eq!(
            super::annotate(text, &[skip]),
            "resource \"aws_s3_bucket\" \"logs\" {\n  #checkov:skip=CKV_AWS_18:why\n  bucket = \"x\"\n}\n\nresource \"aws_s3_bucket\" \"data\" {\n  bucket = \"y\"\n}\n"
        );
    }

    #[test]
    fn literal_parts_of_templates_are_text() {
        use super::{r, s, template, Part};
        let t = template([
            Part::Lit("logs.".into()),
            Part::Expr(s("us-east-1")),
            Part::Lit(":".into()),
            Part::Expr(r("var.x")),
        ]);
        assert_eq!(
            hcl::format::to_string(&t).unwrap(),
            "\"logs.us-east-1:${var.x}\""
        );
        let plain = template([Part::Lit("a".into()), Part::Expr(s("b"))]);
        assert_eq!(plain, s("ab"));
    }

    #[test]
    fn references_become_traversals() {
        let text = hcl::format::to_string(&super::r("data.x.names.0")).unwrap();
        assert_eq!(text, "data.x.names[0]");
    }
}
