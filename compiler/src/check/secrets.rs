//! Secrets: values that look like credentials must be references, never plain text.

use super::workload::placeholders;
use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::spec::{SecretRef, Sp};
use crate::units::is_dns_label;

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        for s in view.services.values() {
            plaintext_secret(s.env.iter().flatten(), &mut found);
            env_and_secret_clash(s.env.as_ref(), s.secrets.as_ref(), &mut found);
            for r in s.secrets.iter().flatten().map(|(_, r)| r) {
                malformed_secret_ref(r, false, &mut found);
            }
        }
        for d in view.datastores.values() {
            plaintext_secret(d.env.iter().flatten(), &mut found);
            env_and_secret_clash(d.env.as_ref(), d.secrets.as_ref(), &mut found);
            for r in d.secrets.iter().flatten().map(|(_, r)| r) {
                malformed_secret_ref(r, true, &mut found);
            }
        }
    }
    for r in ctx.spec.alerting.receivers.values() {
        for s in [&r.routing_key, &r.webhook_url, &r.password, &r.url]
            .into_iter()
            .flatten()
        {
            malformed_secret_ref(s, false, &mut found);
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// Suffixes of variable names that conventionally hold credentials.
const SECRET_SUFFIXES: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIALS",
    "PRIVATE_KEY",
    "API_KEY",
    "DSN",
];

/// Whether a variable name suggests a credential (`DB_PASSWORD`, `API_KEY`, `JWT_SECRET`).
fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    // Identifiers of keys are not keys themselves.
    if upper.ends_with("_KEY_ID") || upper.ends_with("PUBLIC_KEY") || upper.ends_with("_KEY_NAME") {
        return false;
    }
    SECRET_SUFFIXES.iter().any(|s| {
        upper
            .strip_suffix(s)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('_'))
    })
}

/// Whether a value embeds credentials: `scheme://user:password@host`.
fn credential_url(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| !userinfo.is_empty())
}

/// E160 `plaintext-secret`: a credential written into `env`.
///
/// Why: `env` values are copied into manifests, Compose files and Helm values, which end up
/// in Git, CI logs and `kubectl describe`. Secrets must come from the secret store, by
/// reference, so that no generated file ever contains one.
fn plaintext_secret<'a>(
    env: impl Iterator<Item = (&'a Sp<String>, &'a Sp<String>)>,
    out: &mut Vec<Diagnostic>,
) {
    for (k, v) in env {
        let by_name = secret_name(&k.value) && !v.value.trim().is_empty();
        let by_value = credential_url(&v.value);
        if by_name || by_value {
            out.push(
                Diagnostic::new(
                    Code::PlaintextSecret,
                    format!("`{}` looks like a secret written in plain text", k.value),
                    v.span.clone(),
                    if by_value { "a URL with embedded credentials" } else { "plain-text value" },
                )
                .help(format!(
                    "move it to `secrets.{} = {{ secret = \"…\", key = \"…\" }}` so only a reference to the secret store is generated",
                    k.value
                )),
            );
        }
    }
}

/// E006: the same variable in `env` and in `secrets`.
fn env_and_secret_clash(
    env: Option<&std::collections::BTreeMap<Sp<String>, Sp<String>>>,
    secrets: Option<&std::collections::BTreeMap<Sp<String>, SecretRef>>,
    out: &mut Vec<Diagnostic>,
) {
    let (Some(env), Some(secrets)) = (env, secrets) else {
        return;
    };
    for k in secrets.keys() {
        if let Some((first, _)) = env.get_key_value(k.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` is set in both `env` and `secrets`", k.value),
                    k.span.clone(),
                    "secret reference",
                )
                .related(first.span.clone(), "plain value")
                .help("keep only the secret reference"),
            );
        }
    }
}

/// E161 `malformed-secret-ref`: secret names must be DNS subdomains and keys valid Secret
/// keys (letters, digits, `-._`, not `.`, `..` or starting with `..`); in data stores the
/// secret name may use `{name}`.
///
/// Why: the reference becomes a Kubernetes `secretKeyRef` and an ExternalSecret target, both
/// of which reject other names.
fn malformed_secret_ref(r: &SecretRef, allow_name: bool, out: &mut Vec<Diagnostic>) {
    let name = r.secret.value.replace("{name}", "x");
    let bad_placeholder = placeholders(&r.secret.value)
        .iter()
        .any(|p| p != "name" || !allow_name);
    if bad_placeholder || name.len() > 253 || !name.split('.').all(is_dns_label) {
        out.push(
            Diagnostic::new(
                Code::MalformedSecretRef,
                format!("invalid secret name `{}`", r.secret.value),
                r.secret.span.clone(),
                "not a valid secret name",
            )
            .help("use lowercase letters, digits, `-` and `.`"),
        );
    }
    let key_ok = !r.key.value.is_empty()
        && r.key.value.len() <= 253
        && r.key
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        // `.` and `..` are valid characters but not valid keys: Kubernetes rejects them, and
        // Alertmanager reads a receiver credential from a file named after the key, where
        // `..` would leave the secret's folder.
        && r.key.value != "."
        && !r.key.value.starts_with("..");
    if !key_ok {
        out.push(
            Diagnostic::new(
                Code::MalformedSecretRef,
                format!("invalid secret key `{}`", r.key.value),
                r.key.span.clone(),
                "not a valid key",
            )
            .help("keys use letters, digits, `-`, `_` and `.`, and are not `.` or `..`"),
        );
    }
}
