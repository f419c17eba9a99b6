//! Collisions: two definitions that plinth would turn into one generated object, one cloud
//! resource or one policy identity.
//!
//! Each rule derives the generated name through the same function the emitters use (`units`,
//! which `ir::naming` delegates to), collects every name with the span that produced it, and
//! reports the second definition of a name, with the first as a related label. A generated
//! name that is reused is never an error of one definition alone: the object would be
//! overwritten at apply time (one ConfigMap key, one Compose config, one Terraform state, one
//! bucket, one certificate), or one workload would be selected as another and inherit its
//! NetworkPolicy allowances.

use std::collections::BTreeMap;

use super::Ctx;
use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::spec::{Resolved, RolloutStrategy, Sp, StoreMode, Threshold};
use crate::units;

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        config_file_collision(view, &mut found);
        generated_name_collision(view, &mut found);
        generated_name_too_long(&ctx.spec.platform.name.value, view, &mut found);
        tls_secret_collision(view, &mut found);
        threshold_name_collision(&ctx.spec.observability.thresholds, view, &mut found);
        reserved_receiver(view, &mut found);
    }
    shared_namespace(ctx, &mut found);
    shared_state_key(ctx, &mut found);
    bucket_collision(ctx, &mut found);
    for d in found {
        ctx.report(d);
    }
}

/// The first definition of each name, to find the second.
struct Seen<'a, K: Ord> {
    first: BTreeMap<K, (&'a Span, String)>,
}

impl<'a, K: Ord> Seen<'a, K> {
    fn new() -> Self {
        Seen {
            first: BTreeMap::new(),
        }
    }

    /// Records `key` at `span`; returns the earlier definition when there is one at another
    /// span (the same definition seen twice, as in two views, is not a collision).
    fn insert(&mut self, key: K, span: &'a Span, what: String) -> Option<(&'a Span, String)> {
        match self.first.get(&key) {
            Some((first, first_what)) if *first != span => Some((*first, first_what.clone())),
            Some(_) => None,
            None => {
                self.first.insert(key, (span, what));
                None
            }
        }
    }
}

/// E257 `threshold-name-collision`: two thresholds of one workload (platform-wide or its
/// own) whose different names make one alert name or one recorded series.
///
/// Why: a threshold's name becomes its alert's name in UpperCamelCase and its recorded
/// series' name with every character other than a letter or digit as `_`, so `queue-depth`
/// and `queue_depth` record `plinth:threshold_queue_depth:value` twice (Prometheus evaluates
/// both rules into one series) and raise `QueueDepthHigh` from both, each alert reading the
/// other's value. A workload's own threshold of the same name overrides the platform's and
/// is no collision.
///
/// Example: `[observability.thresholds]` with `queue-depth = { … }` and `queue_depth = { … }`.
fn threshold_name_collision(
    global: &BTreeMap<Sp<String>, Threshold>,
    view: &Resolved,
    out: &mut Vec<Diagnostic>,
) {
    let own = view
        .services
        .values()
        .map(|s| s.thresholds.as_ref())
        .chain(view.datastores.values().map(|d| d.thresholds.as_ref()));
    // The platform's thresholds alone too, so that a collision among them is found when no
    // workload has thresholds of its own, or there is no workload at all.
    for own in std::iter::once(None).chain(own) {
        let mut records: BTreeMap<String, &Sp<String>> = BTreeMap::new();
        let mut alerts: BTreeMap<String, &Sp<String>> = BTreeMap::new();
        for name in global.keys().chain(own.into_iter().flat_map(|t| t.keys())) {
            let record = units::threshold_record(&name.value);
            let alert = units::threshold_alert(&name.value);
            let first = records
                .get(&record)
                .filter(|f| f.value != name.value)
                .map(|f| (*f, format!("recorded series `{record}`")))
                .or_else(|| {
                    alerts
                        .get(&alert)
                        .filter(|f| f.value != name.value)
                        .map(|f| (*f, format!("alert `{alert}`")))
                });
            if let Some((first, what)) = first {
                out.push(
                    Diagnostic::new(
                        Code::ThresholdNameCollision,
                        format!(
                            "thresholds `{}` and `{}` make one {what}",
                            first.value, name.value
                        ),
                        name.span.clone(),
                        "second threshold",
                    )
                    .related(first.span.clone(), "first threshold")
                    .help("rename one of them: names that differ only in `-`, `_` or where a word starts make one alert and series"),
                );
                continue;
            }
            records.entry(record).or_insert(name);
            alerts.entry(alert).or_insert(name);
        }
    }
}

/// E180 `config-file-collision`: two config files of one workload whose paths map to one
/// ConfigMap key, or two config files of any workloads whose paths map to one Compose config
/// name.
///
/// Why: a ConfigMap key is the path with `/` replaced by `_`, so `/etc/app/a.conf` and
/// `/etc/app_a.conf` are both `etc_app_a.conf`: the ConfigMap keeps one content and both
/// files are mounted with it. A Compose config name is the workload name and the path with
/// `/` replaced by `-`, and configs share one namespace per project, so `api` with `/b-c`
/// and `api-b` with `/c` are both `api-b-c`. Any environment can become the Compose one
/// (`local = true`), so the names must be unique in every environment.
///
/// Example: `config_files = [{ path = "/etc/app/a.conf", … }, { path = "/etc/app_a.conf", … }]`.
fn config_file_collision(view: &Resolved, out: &mut Vec<Diagnostic>) {
    let mut compose: Seen<String> = Seen::new();
    for (name, s) in &view.services {
        let mut keys: Seen<String> = Seen::new();
        for f in s.config_files.iter().flatten() {
            let key = units::config_map_key(&f.path.value);
            if let Some((first, first_path)) =
                keys.insert(key.clone(), &f.path.span, f.path.value.clone())
            {
                out.push(
                    Diagnostic::new(
                        Code::ConfigFileCollision,
                        format!(
                            "two config files of `{}` have the ConfigMap key `{key}`",
                            name.value
                        ),
                        f.path.span.clone(),
                        "maps to the same key",
                    )
                    .related(first.clone(), format!("`{first_path}` maps to it first"))
                    .help("rename one file: each path must stay distinct with `/` replaced by `_`"),
                );
            }
            let config = units::compose_config_name(&name.value, &f.path.value);
            let what = format!("`{}` of `{}`", f.path.value, name.value);
            if let Some((first, first_what)) = compose.insert(config.clone(), &f.path.span, what) {
                out.push(
                    Diagnostic::new(
                        Code::ConfigFileCollision,
                        format!("two config files have the Compose config name `{config}`"),
                        f.path.span.clone(),
                        "maps to the same Compose config",
                    )
                    .related(first.clone(), format!("{first_what} maps to it first"))
                    .help("rename the file or the service: the name is the service name and the path with `/` replaced by `-`"),
                );
            }
        }
    }
}

/// E183 `generated-name-collision`: a workload named like an object plinth generates for
/// another: the backup job of a data store (`<store>-backup`), the Services and proxy of an
/// in-cluster Redis (`<store>-nodes`, `<store>-proxy`, which it gets with more than one
/// replica), or the second Service of a canary or blue-green service (`<name>-canary`,
/// `<name>-preview`). (Compose tools such as `traefik` need no rule: the Compose target
/// renames a tool whose name a workload has.)
///
/// Why: a backup job's pods are selected by the same `app.kubernetes.io/name` and `instance`
/// labels as a workload of that name, so a service called `db-backup` would be selected as
/// `db`'s backup job and inherit its NetworkPolicy allowance to the database, and its CronJob
/// or Deployment would share the job's name; a workload named like a generated Service or
/// Deployment would have its own replaced by it, or replace it.
///
/// Example: `[services.db-backup]` beside `[datastores.db]`.
fn generated_name_collision(view: &Resolved, out: &mut Vec<Diagnostic>) {
    let workloads: BTreeMap<&str, &Sp<String>> = view
        .services
        .keys()
        .chain(view.datastores.keys())
        .map(|n| (n.value.as_str(), n))
        .collect();
    let mut generated: Vec<(String, &Sp<String>, &str)> = Vec::new();
    for (store, d) in &view.datastores {
        if d.mode
            .as_ref()
            .is_some_and(|m| m.value == StoreMode::Managed)
        {
            continue;
        }
        generated.push((units::backup_job(&store.value), store, "backup job"));
        if d.engine.as_ref().is_some_and(|e| e.value == "redis") {
            generated.push((format!("{}-nodes", store.value), store, "replicas' Service"));
            generated.push((format!("{}-proxy", store.value), store, "primary's proxy"));
        }
    }
    for (service, s) in &view.services {
        let strategy = s.rollout.as_ref().and_then(|r| r.strategy.as_ref());
        match strategy.map(|s| s.value) {
            Some(RolloutStrategy::Canary) => {
                generated.push((
                    format!("{}-canary", service.value),
                    service,
                    "canary Service",
                ));
            }
            Some(RolloutStrategy::BlueGreen) => {
                generated.push((
                    format!("{}-preview", service.value),
                    service,
                    "preview Service",
                ));
            }
            Some(RolloutStrategy::Rolling) | None => {}
        }
    }
    for (object, owner, what) in generated {
        let Some(name) = workloads.get(object.as_str()) else {
            continue;
        };
        let backup = what == "backup job";
        out.push(
            Diagnostic::new(
                Code::GeneratedNameCollision,
                format!("`{object}` is the name of `{}`'s {what}", owner.value),
                name.span.clone(),
                if backup {
                    "shares the backup job's name and selector".to_owned()
                } else {
                    format!("shares the {what}'s name")
                },
            )
            .related(
                owner.span.clone(),
                if backup {
                    "data store whose backup job it is".to_owned()
                } else {
                    format!("the {what} is generated for it")
                },
            )
            .help(if backup {
                format!(
                    "rename `{object}`: it would be selected as the backup job and reach `{}`",
                    owner.value
                )
            } else {
                format!(
                    "rename `{object}`: plinth generates an object of that name for `{}`",
                    owner.value
                )
            }),
        );
    }
}

/// E254 `reserved-receiver`: an alert receiver named `null` or `unrouted`, the names of the
/// receivers without integrations that plinth adds to every Alertmanager configuration (for
/// kube-prometheus-stack's `Watchdog` and `InfoInhibitor`) or to one without a default
/// receiver (its root).
///
/// Why: Alertmanager refuses a configuration in which two receivers share a name, so it
/// would not start, and no alert of the environment would notify anyone.
///
/// Example: `[alerting.receivers.null]`.
fn reserved_receiver(view: &Resolved, out: &mut Vec<Diagnostic>) {
    for name in view.alerting.receivers.keys() {
        if [units::DISCARD_RECEIVER, units::UNROUTED_RECEIVER].contains(&name.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::ReservedReceiver,
                    format!(
                        "receiver `{}` is named like one plinth generates",
                        name.value
                    ),
                    name.span.clone(),
                    "a generated receiver's name",
                )
                .help("rename the receiver (and the routes that name it)"),
            );
        }
    }
}

/// The longest label value and object name Kubernetes accepts.
const MAX_LABEL: usize = 63;

/// E215 `generated-name-too-long`: a label value or object name plinth derives from the
/// platform's and a workload's names that is longer than the 63 characters Kubernetes
/// accepts: a workload's `app.kubernetes.io/instance` label (`<platform>-<name>`), that of a
/// store's backup job (`<platform>-<store>-backup`) or of a Redis's proxy
/// (`<platform>-<store>-proxy`), and the second Service of a canary or blue-green service
/// (`<name>-canary`, `<name>-preview`).
///
/// Why: each name is valid on its own, but the API server rejects the object that carries
/// the combination, so the workload (and everything the platform chart applies with it)
/// would fail to install; upstream validators check label syntax, not this length.
///
/// Example: a platform `a-very-long-platform-name-for-tests` with a store
/// `sessions-cache-replica-one`.
fn generated_name_too_long(platform: &str, view: &Resolved, out: &mut Vec<Diagnostic>) {
    let mut derived: Vec<(String, &Sp<String>, &str)> = Vec::new();
    for (service, s) in &view.services {
        derived.push((
            format!("{platform}-{}", service.value),
            service,
            "instance label",
        ));
        match s
            .rollout
            .as_ref()
            .and_then(|r| r.strategy.as_ref())
            .map(|s| s.value)
        {
            Some(RolloutStrategy::Canary) => {
                derived.push((
                    format!("{}-canary", service.value),
                    service,
                    "canary Service",
                ));
            }
            Some(RolloutStrategy::BlueGreen) => {
                derived.push((
                    format!("{}-preview", service.value),
                    service,
                    "preview Service",
                ));
            }
            Some(RolloutStrategy::Rolling) | None => {}
        }
    }
    for (store, d) in &view.datastores {
        if d.mode
            .as_ref()
            .is_some_and(|m| m.value == StoreMode::Managed)
        {
            continue;
        }
        derived.push((
            format!("{platform}-{}", store.value),
            store,
            "instance label",
        ));
        if d.backup.is_some() {
            derived.push((
                format!("{platform}-{}-backup", store.value),
                store,
                "backup job's instance label",
            ));
        }
        if d.engine.as_ref().is_some_and(|e| e.value == "redis") {
            derived.push((
                format!("{platform}-{}-proxy", store.value),
                store,
                "proxy's instance label",
            ));
        }
    }
    for (value, name, what) in derived {
        if value.len() > MAX_LABEL {
            out.push(
                Diagnostic::new(
                    Code::GeneratedNameTooLong,
                    format!(
                        "the {what} of `{}`, `{value}`, is {} characters; Kubernetes accepts {MAX_LABEL}",
                        name.value,
                        value.len()
                    ),
                    name.span.clone(),
                    "too long with what plinth adds",
                )
                .help("shorten this name or `platform.name`"),
            );
        }
    }
}

/// E185 `tls-secret-collision`: two different ingress hosts of one environment whose TLS
/// secrets have the same generated name.
///
/// Why: the secret name is the host with `.` replaced by `-` (`a-b.example.com` and
/// `a.b-example.com` are both `a-b-example-com-tls`). cert-manager would issue both
/// certificates into one secret, each overwriting the other, so one host serves the other's
/// certificate. The same host on several services shares one certificate, which is fine.
///
/// Example: ingress hosts `a-b.example.com` and `a.b-example.com`.
fn tls_secret_collision(view: &Resolved, out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    for s in view.services.values() {
        let Some(i) = &s.ingress else { continue };
        let Some(host) = &i.host else { continue };
        if i.tls.as_ref().is_some_and(|t| !t.value) {
            continue;
        }
        let secret = units::tls_secret_name(&host.value);
        match seen.get(&secret) {
            Some(first) if first.value != host.value => out.push(
                Diagnostic::new(
                    Code::TlsSecretCollision,
                    format!(
                        "hosts `{}` and `{}` share the TLS secret `{secret}`",
                        first.value, host.value
                    ),
                    host.span.clone(),
                    "same secret name",
                )
                .related(first.span.clone(), "first host with this secret name")
                .help("use host names that differ after `.` is replaced by `-`"),
            ),
            Some(_) => {}
            None => {
                seen.insert(secret, host);
            }
        }
    }
}

/// The namespace an environment deploys into and the span that sets it: the environment's
/// `namespace`, else the platform's, else the platform name.
pub(super) fn namespace_of<'a>(ctx: &Ctx<'a>, view: &Resolved) -> &'a Sp<String> {
    let platform = &ctx.spec.platform;
    view.env
        .as_ref()
        .and_then(|e| ctx.spec.environments.get(e.value.as_str()))
        .and_then(|e| e.namespace.as_ref())
        .or(platform.namespace.as_ref())
        .unwrap_or(&platform.name)
}

/// E181 `shared-namespace`: an environment that sets `namespace` to the namespace another
/// environment deploys into.
///
/// Why: environments without their own namespace share the platform's, which is right when
/// they live in separate clusters (the default, and always so for environments with a
/// `[cloud]`, which get a cluster each). Setting one says the environments share a cluster
/// and are kept apart by namespace; if two then land in one namespace, every object of one
/// (Deployments, Services, ConfigMaps, policies) is overwritten by the other's at apply
/// time, and staging traffic may reach production pods.
///
/// Example: `[environments.staging] namespace = "shop"` and `[environments.production]
/// namespace = "shop"`.
fn shared_namespace(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    /// Where one environment deploys.
    struct Placed<'a> {
        env: &'a Sp<String>,
        ns: &'a Sp<String>,
        explicit: bool,
        cloud: bool,
    }
    let mut seen: BTreeMap<&str, Vec<Placed>> = BTreeMap::new();
    for view in ctx.views {
        let Some(env) = &view.env else { continue };
        let ns = namespace_of(ctx, view);
        let here = Placed {
            env,
            ns,
            explicit: ctx
                .spec
                .environments
                .get(env.value.as_str())
                .is_some_and(|e| e.namespace.is_some()),
            cloud: view.cloud.is_some(),
        };
        let earlier = seen.entry(ns.value.as_str()).or_default();
        // Two environments with a `[cloud]` each get a cluster each, so one namespace name
        // is two namespaces.
        let clash = earlier
            .iter()
            .find(|p| (p.explicit || here.explicit) && !(p.cloud && here.cloud));
        if let Some(p) = clash {
            let (at, other) = if here.explicit {
                (&here, p)
            } else {
                (p, &here)
            };
            out.push(
                Diagnostic::new(
                    Code::SharedNamespace,
                    format!(
                        "environments `{}` and `{}` both deploy into namespace `{}`",
                        p.env.value, env.value, ns.value
                    ),
                    at.ns.span.clone(),
                    format!("namespace of `{}`", at.env.value),
                )
                .related(
                    other.ns.span.clone(),
                    format!("namespace of `{}`", other.env.value),
                )
                .help("give each environment that shares a cluster its own `namespace`"),
            );
        }
        earlier.push(here);
    }
}

/// E182 `shared-state-key`: two environments whose Terraform state has the same bucket and
/// key, as when `cloud.state.key` has no `{env}` and there is more than one environment.
///
/// Why: each environment's Terraform root module reads and writes that one state, so
/// applying staging plans to destroy everything production created, and the lock serialises
/// unrelated environments.
///
/// Example: `state = { bucket = "shop-state", key = "terraform.tfstate" }` with `staging` and
/// `production`.
fn shared_state_key(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let platform = &ctx.spec.platform.name.value;
    let mut seen: BTreeMap<(String, String), &Sp<String>> = BTreeMap::new();
    for view in ctx.views {
        let Some(cloud) = &view.cloud else { continue };
        let env = view.env_name();
        let state = cloud.state.as_ref();
        let bucket = state.and_then(|s| s.bucket.as_ref()).map_or_else(
            || units::default_state_bucket(platform),
            |b| b.value.clone(),
        );
        // The default key has `{env}`, so only a key written in the spec can collide.
        let Some(key) = state.and_then(|s| s.key.as_ref()) else {
            continue;
        };
        let resolved = units::state_key(&key.value, env);
        match seen.get(&(bucket.clone(), resolved.clone())) {
            Some(first) => out.push(
                Diagnostic::new(
                    Code::SharedStateKey,
                    format!("several environments write the Terraform state `{resolved}` in bucket `{bucket}`"),
                    key.span.clone(),
                    if first.span == key.span { "the same key for every environment" } else { "same state as another environment" },
                )
                .help("put `{env}` in the key, e.g. `key = \"{env}/terraform.tfstate\"`"),
            ),
            None => {
                seen.insert((bucket, resolved), key);
            }
        }
    }
}

/// E184 `bucket-collision`: two S3 buckets with the same generated name, across all
/// environments: the Terraform state bucket, each environment's access-log bucket
/// (`<platform>-<env>-logs`) and each managed object store's bucket
/// (`<platform>-<env>-<store>`).
///
/// Why: S3 bucket names are global, so a managed store named `logs` is the environment's log
/// bucket (and the same Terraform address, `aws_s3_bucket.logs`), and environment `a` with
/// store `b-c` is environment `a-b`'s store `c`. Terraform fails half-way through an apply,
/// or one environment's objects land in another's bucket.
///
/// Example: `[datastores.logs] preset = "minio", mode = "managed"`.
fn bucket_collision(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let platform = &ctx.spec.platform.name;
    let mut seen: BTreeMap<String, (Span, String)> = BTreeMap::new();
    let mut add = |name: String, span: &Span, what: String, out: &mut Vec<Diagnostic>| match seen
        .get(&name)
    {
        Some((first, first_what)) if first != span || *first_what != what => out.push(
            Diagnostic::new(
                Code::BucketCollision,
                format!("two S3 buckets are named `{name}`"),
                span.clone(),
                what,
            )
            .related(first.clone(), first_what.clone())
            .help("rename the data store or the environment so the generated bucket names differ"),
        ),
        Some(_) => {}
        None => {
            seen.insert(name, (span.clone(), what));
        }
    };
    for view in ctx.views {
        let Some(cloud) = &view.cloud else { continue };
        let env = view.env_name();
        let state_bucket = cloud.state.as_ref().and_then(|s| s.bucket.as_ref());
        let state_name = state_bucket.map_or_else(
            || units::default_state_bucket(&platform.value),
            |b| b.value.clone(),
        );
        add(
            state_name,
            state_bucket.map_or(&platform.span, |b| &b.span),
            "the Terraform state bucket".to_owned(),
            out,
        );
        let stores: Vec<&Sp<String>> = view
            .datastores
            .iter()
            .filter(|(_, d)| {
                d.mode
                    .as_ref()
                    .is_some_and(|m| m.value == StoreMode::Managed)
                    && d.engine
                        .as_ref()
                        .is_some_and(|e| e.value == "object-storage")
            })
            .map(|(n, _)| n)
            .collect();
        let cdn = cloud
            .cdn
            .as_ref()
            .and_then(|c| c.enabled.as_ref())
            .is_some_and(|e| e.value);
        if cdn || !stores.is_empty() {
            let logs = units::cloud_log_bucket(&units::cloud_name(&platform.value, env));
            let span = view.env.as_ref().map_or(&platform.span, |e| &e.span);
            add(logs, span, format!("the access-log bucket of `{env}`"), out);
        }
        for store in stores {
            let bucket = units::cloud_store_name(&platform.value, env, &store.value);
            add(
                bucket,
                &store.span,
                format!("the bucket of `{}` in `{env}`", store.value),
                out,
            );
        }
    }
}
