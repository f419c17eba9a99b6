//! The root module of an environment without a cloud whose zone Cloudflare serves
//! ([`crate::ir::Environment::zone`]): the Cloudflare provider alone, and the zone's parts of
//! `dns.tf` ([`super::cloudflare`]): listed records, DNSSEC, the proxy's cache rules, managed
//! WAF, settings and assets bucket.
//!
//! Such an environment runs on a cluster plinth does not build, so nothing of the cluster's
//! side is here: no external-dns keeps the route hosts' records (the spec lists them, or the
//! operator keeps them), no cert-manager proves DNS-01. With no AWS account there is no
//! Secrets Manager either: the provider's token is an ephemeral input variable, given as
//! `TF_VAR_cloudflare_api_token` at plan and apply, and kept in no file, plan or state. The
//! state is Terraform's local one unless the operator adds a backend; the build says so.

use hcl::Body;

use super::{a, b, block, doc, obj, r, s, Module};
use crate::ir::{naming, Dns, Environment, Platform};

/// The input variable of the provider's token.
const TOKEN: &str = "cloudflare_api_token";

/// The files of the zone's root module.
pub(super) fn lower(platform: &Platform, env: &Environment, dns: &Dns) -> Module {
    let name = naming::cloud_name(&platform.name, &env.name);
    let mut files = vec![
        ("versions.tf", versions()),
        ("providers.tf", providers()),
        ("variables.tf", variables()),
        ("dns.tf", super::dns::lower(dns, &name, &[])),
    ];
    let outputs = super::dns::outputs(dns);
    if !outputs.is_empty() {
        files.push(("outputs.tf", doc(outputs)));
    }
    Module {
        files,
        notes: vec![format!(
            "no cloud: the Terraform changes only the Cloudflare zone `{}`; give the token as `TF_VAR_{TOKEN}`, add a backend for its state (it is local otherwise), and keep the route hosts' records pointing at the cluster's load balancer (listed records may do it)",
            dns.zone
        )],
        skips: Vec::new(),
    }
}

/// `versions.tf`: Terraform and the Cloudflare provider, without a backend.
fn versions() -> Body {
    doc([block(
        "terraform",
        [],
        [
            a("required_version", s(super::aws::TERRAFORM_VERSION)),
            b(block(
                "required_providers",
                [],
                [a(
                    "cloudflare",
                    obj([
                        ("source", s("cloudflare/cloudflare")),
                        ("version", s(super::cloudflare::CLOUDFLARE_PROVIDER)),
                    ]),
                )],
            )),
        ],
    )])
}

/// `providers.tf`: the Cloudflare provider with the token variable.
fn providers() -> Body {
    doc([block(
        "provider",
        ["cloudflare"],
        [a("api_token", r(&format!("var.{TOKEN}")))],
    )])
}

/// `variables.tf`: the token, sensitive and ephemeral (Terraform 1.10 and later keep an
/// ephemeral variable out of the plan and the state).
fn variables() -> Body {
    doc([block(
        "variable",
        [TOKEN],
        [
            a("type", r("string")),
            a(
                "description",
                s("Cloudflare API token for the zone (Zone Read, DNS Edit, and with the proxy Cache Rules Edit, Zone WAF Edit, Zone Settings Write, Workers R2 Storage Write)"),
            ),
            a("sensitive", true),
            a("ephemeral", true),
        ],
    )])
}
