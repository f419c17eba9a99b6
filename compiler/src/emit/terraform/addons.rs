//! `addons.tf`: the cluster add-ons of [`crate::emit::addons`] as pinned Helm releases, each
//! installed from the values file the Helm target writes for it, and awaited by the platform
//! chart's release so that their CustomResourceDefinitions exist before the chart applies
//! objects of those kinds. An add-on whose service account assumes an IAM role gets the role
//! here (IRSA) and its ARN through `set`, the one value only Terraform knows. The closure
//! proof (issue 19) checks the same from the generated files.

use hcl::expr::Expression;
use hcl::Block;

use super::aws::irsa;
use super::{a, block, call, obj, r, s, template, Item, Part};
use crate::emit::addons::{self, After, Role};
use crate::ir::{self, naming, Environment};

/// What the add-ons contribute to an environment's root module.
#[derive(Default)]
pub(super) struct Addons {
    /// IRSA modules and `helm_release` blocks, in install order.
    pub blocks: Vec<Block>,
    /// `helm_release.x` of every add-on the platform chart's release waits for
    /// ([`addons::Addon::awaited_by_platform`]).
    pub before_platform: Vec<Expression>,
    /// What the cluster must already provide, for the build summary.
    pub notes: Vec<String>,
}

/// The add-ons of one environment. `name` is `<platform>-<env>`, the prefix of cloud
/// resource names.
pub(super) fn lower(platform: &ir::Platform, env: &Environment, name: &str) -> Addons {
    let mut out = Addons {
        notes: addons::notes(env),
        ..Addons::default()
    };
    let from_here = |path: String| {
        template([
            Part::Expr(r("path.module")),
            Part::Lit(format!("/{}", naming::from_terraform_dir(&path))),
        ])
    };
    for addon in addons::plan(platform, env) {
        let id = addon.id;
        let mut body = vec![
            a("name", s(addon.release)),
            a("repository", s(addon.repository)),
            a("chart", s(addon.chart)),
            a("version", s(addon.version)),
            a("namespace", s(&addon.namespace)),
        ];
        if addon.namespace != "kube-system" {
            body.push(a("create_namespace", true));
        }
        if addon.values.is_some() {
            body.push(a(
                "values",
                Expression::Array(vec![call(
                    "file",
                    [from_here(naming::helm_upstream_values_file(
                        addon.chart,
                        &env.name,
                    ))],
                )]),
            ));
        }
        if let Some(role) = addon.role {
            let module = role_module(role);
            body.push(a(
                "set",
                Expression::Array(vec![obj([
                    ("name", s(role.value_path())),
                    ("value", r(&format!("module.{module}.arn"))),
                ])]),
            ));
        }
        if addon.reads_platform_secret() {
            body.push(a("wait", false));
        }
        let mut deps = vec![r("module.eks")];
        deps.extend(addon.after.iter().map(|after| match after {
            After::Addon(other) => r(&format!("helm_release.{other}")),
            After::Prometheus => r("helm_release.kube_prometheus_stack"),
        }));
        body.push(a("depends_on", Expression::Array(deps)));
        if let Some(role) = addon.role {
            out.blocks.push(role_block(platform, env, name, role));
        }
        out.blocks
            .push(block("resource", ["helm_release", id], body));
        if addon.awaited_by_platform() {
            out.before_platform.push(r(&format!("helm_release.{id}")));
        }
    }
    out
}

/// The Terraform label of an add-on role's module.
fn role_module(role: Role) -> &'static str {
    match role {
        Role::ExternalSecrets => "external_secrets_irsa",
        Role::ExternalDns => "external_dns_irsa",
        Role::CertManager => "cert_manager_irsa",
    }
}

/// The IAM role of an add-on (IRSA).
///
/// External Secrets may read only the environment's own secrets, `<platform>/<env>/*` in
/// AWS Secrets Manager, and decrypt with the environment's key: one environment's operator
/// cannot read another's secrets. external-dns and cert-manager may change only the
/// environment's zone.
fn role_block(platform: &ir::Platform, env: &Environment, name: &str, role: Role) -> Block {
    let (namespace, service_account) = role.service_account();
    let policy: Vec<Item> = match role {
        Role::ExternalSecrets => {
            let arn = template([
                Part::Lit("arn:aws:secretsmanager:".into()),
                Part::Expr(r("var.region")),
                Part::Lit(":".into()),
                Part::Expr(r("data.aws_caller_identity.current.account_id")),
                Part::Lit(format!(
                    ":secret:{}*",
                    naming::cloud_secret_prefix(&platform.name, &env.name)
                )),
            ]);
            vec![
                a("attach_external_secrets_policy", true),
                a(
                    "external_secrets_secrets_manager_arns",
                    Expression::Array(vec![arn]),
                ),
                a(
                    "external_secrets_kms_key_arns",
                    Expression::Array(vec![r("aws_kms_key.main.arn")]),
                ),
            ]
        }
        // Only the environment's own zone (dns.tf looks it up): external-dns cannot touch
        // another zone of the account.
        Role::ExternalDns => vec![
            a("attach_external_dns_policy", true),
            a(
                "external_dns_hosted_zone_arns",
                Expression::Array(vec![r(&format!(
                    "data.aws_route53_zone.{}.arn",
                    super::dns::ZONE
                ))]),
            ),
        ],
        // The same zone, for the TXT records of DNS-01 challenges.
        Role::CertManager => vec![
            a("attach_cert_manager_policy", true),
            a(
                "cert_manager_hosted_zone_arns",
                Expression::Array(vec![r(&format!(
                    "data.aws_route53_zone.{}.arn",
                    super::dns::ZONE
                ))]),
            ),
        ],
    };
    let suffix = match role {
        Role::ExternalSecrets => "external-secrets",
        Role::ExternalDns => "external-dns",
        Role::CertManager => "cert-manager",
    };
    irsa(
        role_module(role),
        &format!("{name}-{suffix}"),
        policy,
        namespace,
        service_account,
    )
}
