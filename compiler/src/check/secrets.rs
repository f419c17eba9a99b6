//! Secrets: values that look like credentials must be references, never plain text.

use std::collections::BTreeSet;

use super::workload::placeholders;
use super::Ctx;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::source::{Sources, Span};
use crate::spec::text::{self, Text};
use crate::spec::{SecretRef, Sp};
use crate::units::is_dns_label;

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    let mut sink = |t: Text| plaintext_secret(ctx.sources, t, &mut found);
    text::base(ctx.spec, &mut sink);
    text::overrides(ctx.spec, &mut sink);
    for view in ctx.views {
        for s in view.services.values() {
            env_and_secret_clash(s.env.as_ref(), s.secrets.as_ref(), &mut found);
            for r in s.secrets.iter().flatten().map(|(_, r)| r) {
                malformed_secret_ref(r, false, &mut found);
            }
        }
        for d in view.datastores.values() {
            env_and_secret_clash(d.env.as_ref(), d.secrets.as_ref(), &mut found);
            for r in d.secrets.iter().flatten().map(|(_, r)| r) {
                malformed_secret_ref(r, true, &mut found);
            }
        }
    }
    for r in ctx.views.iter().flat_map(|v| v.alerting.receivers.values()) {
        for s in [&r.routing_key, &r.webhook_url, &r.password, &r.url]
            .into_iter()
            .flatten()
        {
            malformed_secret_ref(s, false, &mut found);
        }
    }
    for view in ctx.views {
        unknown_operator_secret_key(view, &mut found);
    }
    // The Cloudflare tokens of each environment's zone: Secrets like any other, whose names
    // become ExternalSecrets and Secrets Manager paths.
    for dns in ctx
        .spec
        .environments
        .values()
        .filter_map(|e| e.dns.as_ref())
    {
        for r in [&dns.api_token, &dns.cluster_token].into_iter().flatten() {
            malformed_secret_ref(r, false, &mut found);
        }
    }
    declared_secret_unknown_or_unused(ctx.spec, ctx.views, &mut found);
    for d in found {
        ctx.report(d);
    }
}

/// The names of the Secrets one environment's view reads: services' and data stores'
/// variables (a data store's `{name}` substituted as the lowering does), image pull secrets,
/// receiver credentials and, from the environment's `dns`, its Cloudflare tokens.
fn referenced_secrets(
    view: &crate::spec::Resolved,
    dns: Option<&crate::spec::Dns>,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for s in view.services.values() {
        names.extend(
            s.secrets
                .iter()
                .flatten()
                .map(|(_, r)| r.secret.value.clone()),
        );
        names.extend(
            s.image_pull_secrets
                .iter()
                .flatten()
                .map(|n| n.value.clone()),
        );
    }
    for (name, d) in &view.datastores {
        names.extend(
            d.secrets
                .iter()
                .flatten()
                .map(|(_, r)| r.secret.value.replace("{name}", &name.value)),
        );
    }
    for r in view.alerting.receivers.values() {
        names.extend(
            [&r.routing_key, &r.webhook_url, &r.password, &r.url]
                .into_iter()
                .flatten()
                .map(|r| r.secret.value.clone()),
        );
    }
    if let Some(dns) = dns {
        names.extend(
            [&dns.api_token, &dns.cluster_token]
                .into_iter()
                .flatten()
                .map(|r| r.secret.value.clone()),
        );
    }
    names
}

/// E205 `unknown-secret-declaration`, W009 `unused-secret-declaration`: a `[secrets.NAME]`
/// declaration must name a secret the spec reads, and one in an environment with a cloud.
///
/// Why: the declaration stops plinth from generating the secret's ExternalSecret and makes
/// it a prerequisite. A misspelt name would silently do neither: the secret it meant still
/// gets an ExternalSecret, which fails when nothing is stored under its name. A secret read
/// only where there is no cloud (the Compose environment reads `.env`) gets no ExternalSecret
/// anyway, so the declaration changes nothing and is probably left over.
///
/// Example: `[secrets.stirpe] source = "external"` when services read `stripe`.
fn declared_secret_unknown_or_unused(
    spec: &crate::spec::Spec,
    views: &[crate::spec::Resolved],
    out: &mut Vec<Diagnostic>,
) {
    if spec.secrets.is_empty() {
        return;
    }
    let mut anywhere = BTreeSet::new();
    let mut with_cloud = BTreeSet::new();
    for view in views {
        let dns = view
            .env
            .as_ref()
            .and_then(|e| spec.environments.get(e.value.as_str()))
            .and_then(|e| e.dns.as_ref());
        let names = referenced_secrets(view, dns);
        if view.cloud.is_some() {
            with_cloud.extend(names.iter().cloned());
        }
        anywhere.extend(names);
    }
    for name in spec.secrets.keys() {
        if !anywhere.contains(&name.value) {
            let d = Diagnostic::new(
                Code::UnknownSecretDeclaration,
                format!("no secret reference reads `{}`", name.value),
                name.span.clone(),
                "unknown secret",
            );
            out.push(
                match crate::diag::did_you_mean(&name.value, anywhere.iter().map(String::as_str))
                {
                    Some(near) => d.help(format!("did you mean `{near}`?")),
                    None => d.help(
                        "declare only secrets that `secrets`, `image_pull_secrets` or a receiver reads, or remove the entry",
                    ),
                },
            );
        } else if !with_cloud.contains(&name.value)
            && spec.secrets[name].source.value == crate::spec::SecretSource::External
        {
            out.push(
                Diagnostic::new(
                    Code::UnusedSecretDeclaration,
                    format!(
                        "`{}` is read only in environments without a cloud, which get no ExternalSecret",
                        name.value
                    ),
                    name.span.clone(),
                    "declaration changes nothing",
                )
                .help("remove the entry; the Compose environment reads the secret from `.env`"),
            );
        }
    }
}

/// Words that name a credential when they end a name: `DB_PASSWORD`, `API_KEY`, `JWT_SECRET`.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "KEY",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "PRIVATEKEY",
    "SIGNATURE",
    "DSN",
];

/// Credential words that also end names written run together (`DBPASSWORD`, `APITOKEN`).
/// Short words are left out: `BYPASS` and `MONKEY` are not credentials.
const SECRET_ENDINGS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "ACCESSKEY",
    "SECRETKEY",
    "PRIVATEKEY",
    "CREDENTIALS",
];

/// Words that may follow a credential word and still name the credential itself: the key id
/// beside an access key, the Rails `SECRET_KEY_BASE`, an encoding.
const QUALIFIERS: &[&str] = &[
    "ID", "BASE", "VALUE", "DATA", "B64", "BASE64", "HEX", "PEM", "RAW", "STRING", "STR", "TEXT",
];

/// Words before `KEY` that make it a name, a position or something public, not a credential.
const NOT_CREDENTIAL_KEYS: &[&str] = &[
    "PUBLIC",
    "PUBLISHABLE",
    "PRIMARY",
    "FOREIGN",
    "SORT",
    "PARTITION",
    "CACHE",
    "SHARD",
    "HASH",
    "IDEMPOTENCY",
    "OBJECT",
    "LOOKUP",
    "INDEX",
    "GROUP",
    "QUEUE",
    "TABLE",
    "UNIQUE",
    "DEDUP",
    "DEDUPLICATION",
];

/// The words of a name, upper-cased: split at separators, at camelCase humps and between
/// letters and digits (`dbPassword2` is `DB PASSWORD 2`, `APIKey` is `API KEY`).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = name.chars().collect();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&prev) = word.chars().last().as_ref() {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let hump = prev.is_ascii_lowercase() && c.is_ascii_uppercase();
            let acronym_end = prev.is_ascii_uppercase() && c.is_ascii_uppercase() && next_lower;
            let digits = prev.is_ascii_digit() != c.is_ascii_digit();
            if hump || acronym_end || digits {
                out.push(std::mem::take(&mut word));
            }
        }
        word.push(c.to_ascii_uppercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether a name says that its value is a credential: `DB_PASSWORD`, `APIKEY`, `clientSecret`,
/// `PASSWORD2`, `AWS_ACCESS_KEY_ID`, `spring.datasource.password`, `--api-key`. Names that
/// only mention one (`TOKEN_FILE`, `PASSWORD_URL`, `KEY_PREFIX`, `PUBLIC_KEY`, `SECRET_NAME`)
/// are not: a word after the credential word must be a qualifier such as `ID` or a number.
///
/// The single rule for every name plinth reads: variables, labels, config file keys, command
/// line flags and URL query parameters.
pub(crate) fn secret_name(name: &str) -> bool {
    let words = words(name);
    let mut end = words.len();
    while end > 0 {
        let w = words[end - 1].as_str();
        let qualifier = QUALIFIERS.contains(&w) || w.bytes().all(|b| b.is_ascii_digit());
        if !qualifier {
            break;
        }
        end -= 1;
    }
    let Some(last) = end.checked_sub(1).map(|i| words[i].as_str()) else {
        return false;
    };
    let before = end.checked_sub(2).map(|i| words[i].as_str());
    // `ID` and the like only qualify a credential word; a name of nothing but them is not one.
    if end < words.len() && words[end..].iter().any(|w| w == "ID") && !last.ends_with("KEY") {
        return false;
    }
    if SECRET_WORDS.contains(&last) {
        return !(last == "KEY" && before.is_some_and(|b| NOT_CREDENTIAL_KEYS.contains(&b)));
    }
    SECRET_ENDINGS
        .iter()
        .any(|e| last.len() > e.len() && last.ends_with(e))
        && !last.starts_with("PUBLIC")
}

/// Whether a value is written out rather than referring to one kept elsewhere: an
/// interpolation (`${DB_PASSWORD}`, `$(DB_PASSWORD)`, `$DB_PASSWORD`, `{{ .password }}`) or a
/// file path (`/run/secrets/db`) is a reference, and an empty value holds nothing.
fn literal(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let whole = |open: &str, close: &str| {
        v.strip_prefix(open)
            .and_then(|r| r.strip_suffix(close))
            .is_some_and(|inner| !inner.contains(open))
    };
    let variable = v.strip_prefix('$').is_some_and(|r| {
        !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    let path = ["/", "./", "../", "~/"].iter().any(|p| v.starts_with(p));
    !(v.is_empty()
        || whole("${", "}")
        || whole("$(", ")")
        || whole("{{", "}}")
        || whole("%(", ")s")
        || variable
        || path)
}

/// Whether `host` is `domain` or one of its subdomains.
fn host_is(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// What makes a URL a credential, if anything: credentials before its host, a webhook whose
/// path is its token, or a query parameter named like a credential.
fn credential_in_url(url: &str) -> Option<&'static str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| !userinfo.is_empty())
    {
        return Some("a URL with embedded credentials");
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_ascii_lowercase();
    let path = tail.split(['?', '#']).next().unwrap_or_default();
    let webhooks: &[(&str, &str, &str)] = &[
        (
            "hooks.slack.com",
            "/services/",
            "a Slack webhook URL, whose path is its token",
        ),
        (
            "hooks.slack.com",
            "/workflows/",
            "a Slack webhook URL, whose path is its token",
        ),
        (
            "discord.com",
            "/api/webhooks/",
            "a Discord webhook URL, whose path is its token",
        ),
        (
            "discordapp.com",
            "/api/webhooks/",
            "a Discord webhook URL, whose path is its token",
        ),
        (
            "webhook.office.com",
            "/",
            "a Microsoft Teams webhook URL, whose path is its token",
        ),
        (
            "api.telegram.org",
            "/bot",
            "a Telegram bot URL, whose path is its token",
        ),
    ];
    for (domain, prefix, what) in webhooks {
        if host_is(&host, domain) && path.starts_with(prefix) && path.len() > prefix.len() {
            return Some(what);
        }
    }
    let query = tail.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let query = query.split('#').next().unwrap_or_default();
    query
        .split(['&', ';'])
        .filter_map(|p| p.split_once('='))
        .any(|(k, v)| secret_name(k) && literal(v))
        .then_some("a URL with a credential in its query")
}

/// The byte range of `needle`'s first occurrence in `hay`, where `needle` is a subslice of it.
fn range_of(hay: &str, needle: &str) -> std::ops::Range<usize> {
    let start = needle.as_ptr() as usize - hay.as_ptr() as usize;
    start..start + needle.len()
}

/// Whether a token has a well-known credential shape, and which.
fn token_shape(token: &str) -> Option<&'static str> {
    let rest_len = |prefix: &str| token.strip_prefix(prefix).map(str::len);
    let alnum = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if (token.starts_with("AKIA") || token.starts_with("ASIA"))
        && token.len() == 20
        && token
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Some("an AWS access key id");
    }
    let prefixed: &[(&str, usize, &str)] = &[
        ("ghp_", 30, "a GitHub token"),
        ("gho_", 30, "a GitHub token"),
        ("ghu_", 30, "a GitHub token"),
        ("ghs_", 30, "a GitHub token"),
        ("ghr_", 30, "a GitHub token"),
        ("github_pat_", 20, "a GitHub token"),
        ("glpat-", 20, "a GitLab token"),
        ("xoxa-", 10, "a Slack token"),
        ("xoxb-", 10, "a Slack token"),
        ("xoxp-", 10, "a Slack token"),
        ("xoxr-", 10, "a Slack token"),
        ("xoxs-", 10, "a Slack token"),
        ("sk_live_", 16, "a Stripe secret key"),
        ("rk_live_", 16, "a Stripe secret key"),
        ("sk_test_", 16, "a Stripe secret key"),
        ("rk_test_", 16, "a Stripe secret key"),
        ("sk-ant-", 20, "an Anthropic API key"),
        ("sk-proj-", 20, "an OpenAI API key"),
        ("npm_", 36, "an npm token"),
        ("AIza", 35, "a Google API key"),
    ];
    for (prefix, min, what) in prefixed {
        if rest_len(prefix).is_some_and(|n| n >= *min) && alnum(&token[prefix.len()..]) {
            return Some(what);
        }
    }
    let parts: Vec<&str> = token.split('.').collect();
    let jwt = parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts.iter().all(|p| p.len() >= 10 && alnum(p));
    jwt.then_some("a JSON web token")
}

/// Where in `text` a credential sits, if anywhere, and what it is: a URL with credentials or
/// a token in its path or query, a private key, a token of a well-known shape, or
/// `user:password@host` written without a scheme.
///
/// The single rule for every value plinth reads, whatever its name.
pub(crate) fn secret_value(text: &str) -> Option<(std::ops::Range<usize>, &'static str)> {
    let stop = |c: char| c.is_whitespace() || "\"'<>`()[]{},|\\".contains(c);
    let mut at = 0;
    while let Some(i) = text[at..].find("://") {
        let colon = at + i;
        let start = text[..colon]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
            .map_or(0, |p| p + 1);
        let end = text[colon..].find(stop).map_or(text.len(), |e| colon + e);
        if start < colon {
            if let Some(what) = credential_in_url(&text[start..end]) {
                return Some((start..end, what));
            }
        }
        at = colon + 3;
    }
    if let Some(begin) = text.find("-----BEGIN ") {
        let line_end = text[begin..].find('\n').map_or(text.len(), |e| begin + e);
        if text[begin..line_end].contains("PRIVATE KEY-----") {
            return Some((begin..line_end, "a private key"));
        }
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    for token in text
        .split(|c: char| !token_char(c))
        .filter(|t| t.len() >= 20)
    {
        let token = token.trim_matches('.');
        if let Some(what) = token_shape(token) {
            return Some((range_of(text, token), what));
        }
    }
    let single = text.trim();
    if !single.is_empty() && !single.contains(char::is_whitespace) && !single.contains("://") {
        if let Some((userinfo, host)) = single.rsplit_once('@') {
            let host_like = host.starts_with(|c: char| c.is_ascii_alphabetic())
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
            let password = userinfo
                .split_once(':')
                .is_some_and(|(u, p)| !u.is_empty() && !p.is_empty() && !u.contains('/'));
            if host_like && password {
                return Some((range_of(text, single), "credentials before `@`"));
            }
        }
    }
    None
}

/// A name and its value in one line of a file or one argument: `password: x`, `KEY=x`,
/// `"token": "x",`, `export API_KEY=x`, `--api-key=x`. The name is plain (letters, digits,
/// `_.-`); the value is unquoted, without a trailing comma or semicolon.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.starts_with(['#', ';', '!']) || line.starts_with("//") {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let line = line
        .strip_prefix("- ")
        .unwrap_or(line)
        .trim_start_matches('-');
    let sep = line.find(['=', ':'])?;
    let name = line[..sep].trim().trim_matches(|c| c == '"' || c == '\'');
    let plain = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if name.is_empty() || !name.chars().all(plain) {
        return None;
    }
    let value = line[sep + 1..]
        .trim()
        .trim_end_matches([',', ';'])
        .trim_matches(|c| c == '"' || c == '\'');
    Some((name, value))
}

/// `span` narrowed to where `needles` occur in the source, each within the last (a line,
/// then the value on it); `span` itself when the source does not hold them verbatim (an
/// escaped string).
fn narrow(sources: &Sources, span: &Span, needles: &[&str]) -> Span {
    let text = &sources.get(span.source).text;
    let mut range = span.range.clone();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let Some(hay) = text.get(range.clone()) else {
            break;
        };
        match hay.find(needle) {
            Some(i) => range = range.start + i..range.start + i + needle.len(),
            None => break,
        }
    }
    Span::new(span.source, range)
}

/// One credential found: the name it was found under, if any, where, and what it is.
struct Finding {
    name: Option<String>,
    span: Span,
    what: &'static str,
}

/// The credentials in an argument vector: `--flag=value`, `NAME=value` (also inside a
/// `sh -c` script), `--flag value`, and credential-shaped values anywhere; `args` pairs each
/// argument with its span.
fn argv_findings<'a>(
    sources: &Sources,
    args: impl Iterator<Item = (&'a str, &'a Span)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let tokens: Vec<(&str, &Span)> = args
        .flat_map(|(arg, span)| {
            arg.split_whitespace()
                .map(move |t| (t.trim_matches(|c| c == '"' || c == '\''), span))
        })
        .collect();
    for (i, &(token, span)) in tokens.iter().enumerate() {
        let at = |value: &str| narrow(sources, span, &[token, value]);
        if let Some((range, what)) = secret_value(token) {
            out.push(Finding {
                name: None,
                span: narrow(sources, span, &[&token[range]]),
                what,
            });
        } else if let Some((name, value)) = token.split_once('=') {
            let name = name.trim_start_matches('-');
            if secret_name(name) && literal(value) {
                out.push(Finding {
                    name: Some(name.to_owned()),
                    span: at(value),
                    what: "plain-text value",
                });
            }
        } else if token.starts_with('-') && secret_name(token.trim_start_matches('-')) {
            if let Some(&(next, next_span)) = tokens.get(i + 1) {
                if !next.starts_with('-') && literal(next) {
                    out.push(Finding {
                        name: Some(token.trim_start_matches('-').to_owned()),
                        span: narrow(sources, next_span, &[next]),
                        what: "plain-text value",
                    });
                }
            }
        }
    }
    out
}

/// The credentials in a file's contents: a line assigning a literal to a credential name, or
/// a credential-shaped value on any line.
fn file_findings(sources: &Sources, content: &Sp<String>) -> Vec<Finding> {
    let mut out = Vec::new();
    for line in content.value.lines() {
        if let Some((range, what)) = secret_value(line) {
            out.push(Finding {
                name: None,
                span: narrow(sources, &content.span, &[line, &line[range]]),
                what,
            });
        } else if let Some((name, value)) = assignment(line) {
            if secret_name(name) && literal(value) && !value.starts_with(['{', '[', '|', '>']) {
                out.push(Finding {
                    name: Some(name.to_owned()),
                    span: narrow(sources, &content.span, &[line, value]),
                    what: "plain-text value",
                });
            }
        }
    }
    out
}

/// E160 `plaintext-secret`: a credential written anywhere in the spec.
///
/// Why: every string of a spec is copied into manifests, Compose files, Helm values, alert
/// rules or Alertmanager configuration, which end up in Git, CI logs and `kubectl describe`.
/// Secrets must come from the secret store, by reference, so that no generated file ever
/// contains one. Two rules decide, the same for every string: a *name* that says it holds a
/// credential ([`secret_name`]: a variable, a label, a config file key, a command-line flag)
/// with a literal value, and a *value* that is one whatever its name ([`secret_value`]: a URL
/// with credentials or a webhook token, a private key, a token of a well-known shape).
/// Example: `args = ["--api-key", "abc123"]`, `password: abc123` in a config file,
/// `runbook_url = "https://user:pw@wiki.example.com/"`.
fn plaintext_secret(sources: &Sources, text: Text, out: &mut Vec<Diagnostic>) {
    let (field, findings, help) = match text {
        Text::Named { field, name, value } => {
            let what = secret_value(&value.value)
                .map(|(range, what)| {
                    let whole = range == (0..value.value.len());
                    let span = if whole {
                        value.span.clone()
                    } else {
                        narrow(sources, &value.span, &[&value.value[range]])
                    };
                    (span, what)
                })
                .or_else(|| {
                    (secret_name(&name.value) && literal(&value.value))
                        .then(|| (value.span.clone(), "plain-text value"))
                });
            let findings = what
                .map(|(span, what)| Finding {
                    name: Some(name.value.clone()),
                    span,
                    what,
                })
                .into_iter()
                .collect();
            let help = if field == "env" {
                format!(
                    "move it to `secrets.{} = {{ secret = \"…\", key = \"…\" }}` so only a reference to the secret store is generated",
                    name.value
                )
            } else {
                format!("{field} are copied onto every generated resource; keep credentials out of them")
            };
            (field, findings, help)
        }
        Text::Argv { field, args } => (
            field,
            argv_findings(sources, args.iter().map(|a| (a.value.as_str(), &a.span))),
            "pass it in an environment variable from `secrets` and write `$(NAME)` in the arguments, so only a reference to the secret store is generated".to_owned(),
        ),
        Text::ArgvAt { field, args, span } => (
            field,
            argv_findings(sources, args.iter().map(|a| (a.as_str(), span))),
            "pass it in an environment variable from `secrets` and write `$NAME` in the command, so only a reference to the secret store is generated".to_owned(),
        ),
        Text::File { field, content } => (
            field,
            file_findings(sources, content),
            "read it from an environment variable set by `secrets` (`${NAME}`) or a mounted secret file, so the generated ConfigMap holds no credential".to_owned(),
        ),
        Text::Plain { field, value } => {
            let findings = secret_value(&value.value)
                .map(|(range, what)| Finding {
                    name: None,
                    span: if range == (0..value.value.len()) {
                        value.span.clone()
                    } else {
                        narrow(sources, &value.span, &[&value.value[range]])
                    },
                    what,
                })
                .into_iter()
                .collect();
            (
                field,
                findings,
                "plinth copies this text into generated files; keep the credential in the secret store, out of the spec".to_owned(),
            )
        }
    };
    for f in findings {
        let message = match &f.name {
            Some(name) => format!("`{name}` looks like a secret written in plain text"),
            None => format!("a secret is written in plain text in `{field}`"),
        };
        out.push(
            Diagnostic::new(Code::PlaintextSecret, message, f.span, f.what).help(help.clone()),
        );
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

/// E009 `unknown-store-key`: in an environment with a cloud, where the CloudNativePG
/// operator runs an in-cluster PostgreSQL store `NAME`, a reference to its connection Secret
/// `NAME-app` must read one of the keys the operator writes (`uri`, `host`, `port`,
/// `dbname`, `user`, `password`, …).
///
/// Why: the operator owns that Secret, so no ExternalSecret fills it; a key it does not write
/// leaves the pod stuck in `CreateContainerConfigError` at deploy time.
///
/// Example: `DATABASE_URL = { secret = "postgres-app", key = "url" }` (did you mean `uri`?).
fn unknown_operator_secret_key(view: &crate::spec::Resolved, out: &mut Vec<Diagnostic>) {
    if view.cloud.is_none() {
        return;
    }
    let operated: BTreeSet<String> = view
        .datastores
        .iter()
        .filter(|(_, d)| {
            d.engine.as_ref().is_some_and(|e| e.value == "postgres")
                && d.mode
                    .as_ref()
                    .is_none_or(|m| m.value != crate::spec::StoreMode::Managed)
        })
        .map(|(name, _)| crate::units::cnpg_app_secret(&name.value))
        .collect();
    let refs = view
        .services
        .values()
        .flat_map(|s| s.secrets.iter().flatten().map(|(_, r)| r));
    for r in refs {
        let known = crate::units::CNPG_APP_SECRET_KEYS;
        if !operated.contains(&r.secret.value) || known.contains(&r.key.value.as_str()) {
            continue;
        }
        let help = match did_you_mean(&r.key.value, known.iter().copied()) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!("the operator writes {}", known.join(", ")),
        };
        out.push(
            Diagnostic::new(
                Code::UnknownStoreKey,
                format!(
                    "`{}` has no key `{}`: the PostgreSQL operator creates it",
                    r.secret.value, r.key.value
                ),
                r.key.span.clone(),
                "not a key of the operator's Secret",
            )
            .help(help),
        );
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
