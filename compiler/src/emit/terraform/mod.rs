//! Terraform: the cloud side of the platform, a root module per environment.
//!
//! Each environment with a `[cloud]` section gets `terraform/<env>/`: `versions.tf` (the
//! `terraform` block: versions, pinned providers, state backend), `providers.tf`,
//! `main.tf` (network, cluster, encryption key), `datastores.tf` (managed data stores, when
//! there are any), `cdn.tf` (when a CDN is asked for), `kubernetes.tf` (the core objects
//! Terraform creates in the cluster: namespace, default StorageClass), `helm.tf` (the releases
//! installed into the cluster: monitoring, logs, the platform chart), `addons.tf` (the
//! operators and controllers the generated objects need, [`addons`]), `variables.tf` and
//! `outputs.tf`.
//!
//! This module is provider-independent: it picks the lowering for the environment's cloud
//! provider (only [`aws`] today; another provider is another lowering returning the same
//! [`Module`]), renders each file with hcl-rs and then runs [`fmt::align`], so the output is
//! byte-identical to `terraform fmt`. Documents are built from hcl-rs's typed blocks,
//! attributes and expressions; the helpers below only shorten their construction.

mod addons;
mod aws;
mod cdn;
mod cloudflare;
mod dns;
pub mod fmt;
mod zone;

use hcl::expr::{
    BinaryOp, BinaryOperator, Expression, FuncCall, Object, ObjectKey, Traversal, Variable,
};
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
        .filter(|e| e.cloud.is_none() && e.zone.is_none())
        .map(|e| e.name.as_str())
        .collect();
    if !without.is_empty() {
        let which = if without.len() == envs.len() {
            "no environment has a cloud (no `[cloud]` section, `cloud.enabled = false`, or only the local environment)".to_owned()
        } else {
            format!(
                "no cloud for {} (the local environment without a `cloud` of its own, or `cloud.enabled = false`)",
                without.join(", ")
            )
        };
        out.notes
            .push(note(format!("{which}: no Terraform generated")));
    }
    for env in envs {
        let Some(cloud) = &env.cloud else {
            if let Some(zone) = &env.zone {
                let module = zone::lower(platform, env, zone);
                for message in &module.notes {
                    out.notes
                        .push(note(format!("environment `{}`: {message}", env.name)));
                }
                out.files.extend(render_module(platform, env, module)?);
            }
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
        if !cloud.state.bucket_named {
            // The bucket holds every environment's state and must exist before `terraform
            // init`; a name plinth chose should not come as a surprise there.
            out.notes.push(note(format!(
                "environment `{}`: no `cloud.state.bucket` is named, so the state goes to bucket `{}` (key `{}`, lock table `{}`), which must exist before `terraform init`",
                env.name, cloud.state.bucket, cloud.state.key, cloud.state.lock_table
            )));
        }
        for message in &module.notes {
            out.notes
                .push(note(format!("environment `{}`: {message}", env.name)));
        }
        out.files.extend(render_module(platform, env, module)?);
    }
    Ok(out)
}

/// The files of an environment's root module, rendered, with their checkov annotations.
fn render_module(
    platform: &ir::Platform,
    env: &Environment,
    module: Module,
) -> Result<Vec<OutputFile>, EmitError> {
    module
        .files
        .iter()
        .map(|(name, body)| {
            Ok(OutputFile {
                path: naming::terraform_file(&env.name, name),
                contents: annotate(&render(platform, body)?, &module.skips),
            })
        })
        .collect()
}

/// Renders a document as `terraform fmt` would write it, banner first. Every string literal
/// is written by [`template_literal`] ([`literal_strings`]) rather than by hcl-rs.
fn render(platform: &ir::Platform, body: &Body) -> Result<String, EmitError> {
    let mut formatter = hcl::format::Formatter::builder()
        .compact_arrays(true)
        .prefer_ident_keys(true)
        .build_vec();
    let mut body = body.clone();
    for structure in body.iter_mut() {
        literal_structure(structure);
    }
    let text = hcl::format::Format::format_string(&body, &mut formatter)
        .map_err(|e| EmitError(format!("cannot format HCL: {e}")))?;
    Ok(format!(
        "{}\n{}",
        super::hash_banner(platform),
        fmt::align(&text)
    ))
}

/// Turns every string literal of a structure into the quoted template [`template_literal`]
/// writes. Why: hcl-rs escapes `${` and `%{` in strings itself, but pairs characters as it
/// scans, so after an earlier marker it leaves `$${` (which Terraform reads as `${`, one `$`
/// lost) and `$%{` (a directive Terraform evaluates) as they are. Spec text reaches many
/// strings (tags, keys, names); one pass at the root means no string can be written by the
/// faulty path, whichever lowering built it.
fn literal_structure(structure: &mut hcl::Structure) {
    match structure {
        hcl::Structure::Attribute(a) => literal_strings(&mut a.expr),
        hcl::Structure::Block(b) => b.body.iter_mut().for_each(literal_structure),
    }
}

/// [`literal_structure`] for one expression and everything inside it.
fn literal_strings(e: &mut Expression) {
    match e {
        Expression::String(text) => {
            *e = Expression::from(hcl::expr::TemplateExpr::QuotedString(template_literal(
                text,
            )));
        }
        Expression::Array(items) => items.iter_mut().for_each(literal_strings),
        Expression::Object(o) => {
            // Keys cannot change in place: the object is rebuilt, in the same order.
            for (mut k, mut v) in std::mem::take(o) {
                if let ObjectKey::Expression(key) = &mut k {
                    literal_strings(key);
                }
                literal_strings(&mut v);
                o.insert(k, v);
            }
        }
        Expression::FuncCall(f) => f.args.iter_mut().for_each(literal_strings),
        Expression::Parenthesis(inner) => literal_strings(inner),
        Expression::Conditional(c) => {
            literal_strings(&mut c.cond_expr);
            literal_strings(&mut c.true_expr);
            literal_strings(&mut c.false_expr);
        }
        Expression::Operation(op) => match op.as_mut() {
            hcl::expr::Operation::Unary(u) => literal_strings(&mut u.expr),
            hcl::expr::Operation::Binary(b) => {
                literal_strings(&mut b.lhs_expr);
                literal_strings(&mut b.rhs_expr);
            }
        },
        Expression::Traversal(t) => {
            literal_strings(&mut t.expr);
            for op in &mut t.operators {
                if let hcl::expr::TraversalOperator::Index(i) = op {
                    literal_strings(i);
                }
            }
        }
        Expression::ForExpr(f) => {
            literal_strings(&mut f.collection_expr);
            if let Some(k) = &mut f.key_expr {
                literal_strings(k);
            }
            literal_strings(&mut f.value_expr);
            if let Some(c) = &mut f.cond_expr {
                literal_strings(c);
            }
        }
        _ => {}
    }
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
    // The template's source is written here, not by hcl-rs's `Template`, whose literal
    // escaping has the flaw described at [`literal_structure`].
    let mut source = String::new();
    for p in parts {
        match p {
            Part::Lit(l) => source.push_str(&template_literal(&l)),
            Part::Expr(e) => {
                source.push_str("${");
                source.push_str(&hcl::format::to_string(&e).unwrap_or_default());
                source.push('}');
            }
        }
    }
    Expression::from(hcl::expr::TemplateExpr::QuotedString(source))
}

/// `text` as the literal part of a quoted template: what `terraform` reads back is `text`
/// itself. Quotes, backslashes and line breaks are escaped, and so are the template openers
/// `${` and `%{` (as `$${` and `%%{`, so a literal `$${` is `$$${`), which would otherwise
/// turn text from the spec into an interpolation or a directive that `terraform apply`
/// evaluates.
fn template_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
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
    fn literal_parts_of_templates_never_interpolate() {
        use super::{r, template, Part};
        let hostile = "a${b}%{ if c }\"d\\\n";
        let t = template([Part::Lit(hostile.into()), Part::Expr(r("var.x"))]);
        let text = format!("v = {}\n", hcl::format::to_string(&t).unwrap());
        assert_eq!(text, "v = \"a$${b}%%{ if c }\\\"d\\\\\\n${var.x}\"\n");
        // Read back by an HCL parser, the literal part is the text itself.
        let body: hcl::Body = hcl::from_str(&text).unwrap();
        let hcl::Structure::Attribute(attr) = &body.iter().next().unwrap() else {
            panic!("an attribute");
        };
        let hcl::Expression::TemplateExpr(tpl) = &attr.expr else {
            panic!("a template: {:?}", attr.expr);
        };
        let parsed = hcl::template::Template::from_expr(tpl).unwrap();
        let literal: String = parsed
            .elements()
            .iter()
            .filter_map(|e| match e {
                hcl::template::Element::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(literal, hostile);
        assert_eq!(parsed.elements().len(), 2, "one literal, one interpolation");
    }

    /// hcl-rs's own escaping leaves `$${` and `$%{` after an earlier `${` as they are;
    /// every string of a rendered document must read back as itself.
    #[test]
    fn strings_read_back_as_written() {
        use hcl::eval::Evaluate;
        let hostile = [
            "a${x}$${y}$%{ if z }",
            "%{ for a in b }${a}%{ endfor }$${",
            "plain",
            "q\"b\\s\nnl\u{1}",
        ];
        let mut body = super::doc([super::block(
            "locals",
            [],
            hostile
                .iter()
                .enumerate()
                .map(|(i, h)| super::a(format!("v{i}"), super::s(*h)))
                .chain([super::a("o", super::obj([("k${x}$${y}", super::s("v"))]))]),
        )]);
        for structure in body.iter_mut() {
            super::literal_structure(structure);
        }
        let text = hcl::format::to_string(&body).unwrap();
        let parsed: hcl::Body = hcl::from_str(&text).unwrap();
        let hcl::Structure::Block(locals) = parsed.iter().next().unwrap() else {
            panic!("a block");
        };
        let ctx = hcl::eval::Context::new();
        for (i, h) in hostile.iter().enumerate() {
            let attr = locals
                .body
                .attributes()
                .find(|a| a.key.as_str() == format!("v{i}"))
                .unwrap();
            assert_eq!(
                attr.expr.evaluate(&ctx).unwrap(),
                hcl::Value::from(*h),
                "{text}"
            );
        }
        let o = locals
            .body
            .attributes()
            .find(|a| a.key.as_str() == "o")
            .unwrap();
        let value = o.expr.evaluate(&ctx).unwrap();
        assert!(
            value.as_object().unwrap().contains_key("k${x}$${y}"),
            "{text}"
        );
    }

    #[test]
    fn references_become_traversals() {
        let text = hcl::format::to_string(&super::r("data.x.names.0")).unwrap();
        assert_eq!(text, "data.x.names[0]");
    }
}
