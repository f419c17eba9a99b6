//! Rules about data stores as their clients and runners see them: bindings of connection
//! details (`bind`), PostgreSQL parameters, and the store settings that the CloudNativePG
//! operator, where it runs a store, would not apply.

use std::collections::BTreeMap;

use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::source::{Sources, Span};
use crate::spec::{Binding, DataStore, Resolved, Service, Sp, Spec, StoreMode};
use crate::units;

use super::Ctx;

/// The pseudo-folder of the stdlib presets' sources.
const STDLIB: &str = "<stdlib>/";

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        for (name, s) in &view.services {
            for (var, b) in s.bind.iter().flatten() {
                if unknown_binding_store(view, &name.value, s, b, &mut found) {
                    unknown_binding_key(view, b, &mut found);
                }
                binding_clash(s, var, &mut found);
            }
            if s.bind.as_ref().is_some_and(|b| !b.is_empty()) {
                reserved_variable(s, &mut found);
            }
            reserved_secret_name(view, s, &mut found);
        }
        for (name, d) in &view.datastores {
            fixed_postgres_parameter(d, &mut found);
            ignored_by_operator(ctx.sources, view, name, d, &mut found);
        }
    }
    redis_without_quorum(ctx.spec, ctx.views, &mut found);
    ignored_by_managed_store(ctx.spec, ctx.views, &mut found);
    for d in found {
        ctx.report(d);
    }
}

/// The environment a view is of, for messages: `` in `production` `` or nothing.
fn in_env(view: &Resolved) -> String {
    view.env
        .as_ref()
        .map(|e| format!(" in `{}`", e.value))
        .unwrap_or_default()
}

/// Whether data store `d` is run by the cloud provider.
fn managed(d: &DataStore) -> bool {
    d.mode
        .as_ref()
        .is_some_and(|m| m.value == StoreMode::Managed)
}

/// The engine of data store `d`, as its preset or the spec set it.
fn engine(d: &DataStore) -> &str {
    d.engine.as_ref().map_or("", |e| e.value.as_str())
}

/// E011 `unknown-binding-store`: a binding's `from` must name a data store of the
/// environment that the service lists in `depends_on`. Returns whether it does, so the key
/// is only judged against a store that exists.
///
/// Why: the binding's value comes from that store (its Service, its Secrets); a store that
/// does not exist has none, and one the service does not depend on is one its network policy
/// does not let it reach, nor Compose start first. Requiring the dependency keeps the one
/// place that says what a service talks to (`depends_on`) complete.
///
/// Example: `bind.DATABASE_URL = { from = "postgress", key = "uri" }` (did you mean
/// `postgres`?).
fn unknown_binding_store(
    view: &Resolved,
    service: &str,
    s: &Service,
    b: &Binding,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let from = &b.from;
    if !view.datastores.contains_key(from.value.as_str()) {
        let help = if view.services.contains_key(from.value.as_str()) {
            format!(
                "`{}` is a service; bindings read data stores (`datastores`)",
                from.value
            )
        } else {
            match did_you_mean(
                &from.value,
                view.datastores.keys().map(|k| k.value.as_str()),
            ) {
                Some(n) => format!("did you mean `{n}`?"),
                None => "name one of the spec's `datastores`".to_owned(),
            }
        };
        out.push(
            Diagnostic::new(
                Code::UnknownBindingStore,
                format!("binding from unknown data store `{}`", from.value),
                from.span.clone(),
                "no such data store",
            )
            .help(help),
        );
        return false;
    }
    let depends = s.depends_on.iter().flatten().any(|d| d.value == from.value);
    if !depends {
        out.push(
            Diagnostic::new(
                Code::UnknownBindingStore,
                format!(
                    "`{service}` binds `{}`, which it does not depend on",
                    from.value
                ),
                from.span.clone(),
                "not in `depends_on`",
            )
            .help(format!(
                "add `{}` to the service's `depends_on`, so its network policy and start order let it connect",
                from.value
            )),
        );
        return false;
    }
    true
}

/// E012 `unknown-binding-key`: a binding's `key` must be a connection detail the data store
/// offers where the environment runs it: PostgreSQL `uri`, `host`, `port`, `database`,
/// `user`, `password`, `read-uri`, `read-host`; Redis `uri`, `host`, `port`, `password`;
/// Qdrant `uri`, `host`, `port`, `api-key` (when it has one); object storage `endpoint`,
/// `access-key`, `secret-key`. A managed store offers what its Terraform writes: RDS and
/// ElastiCache everything their in-cluster engines offer; S3 `endpoint`, `bucket` and
/// `region` (plain values, no Secret).
///
/// Why: an unknown key would bind nothing, and the service would start without the variable
/// it expects. A managed bucket has no access keys at all: its clients get an IAM role
/// (IRSA) instead, which no key could be bound from, and the message says so.
///
/// Example: `bind.DATABASE_URL = { from = "postgres", key = "url" }` (did you mean `uri`?).
fn unknown_binding_key(view: &Resolved, b: &Binding, out: &mut Vec<Diagnostic>) {
    let Some(d) = view.datastores.get(b.from.value.as_str()) else {
        return;
    };
    // A store without an engine has lost its preset, which is reported where it is.
    if d.engine.is_none() {
        return;
    }
    let key = &b.key;
    let managed_keys = units::managed_binding_keys(engine(d));
    // A managed store of an engine the cloud does not offer is reported at its `mode`
    // (`check::refs`); its bindings are consequences of that, not errors of their own.
    if managed(d) && !units::has_managed_offering(engine(d)) {
        return;
    }
    if managed(d)
        && !managed_keys.contains(&key.value.as_str())
        && engine(d) == "object-storage"
        && matches!(key.value.as_str(), "access-key" | "secret-key")
    {
        out.push(
            Diagnostic::new(
                Code::UnknownBindingKey,
                format!(
                    "`{}` is an S3 bucket{}: it has no `{}` to bind",
                    b.from.value,
                    in_env(view),
                    key.value
                ),
                key.span.clone(),
                "no static keys on a managed bucket",
            )
            .help("the service reaches the bucket with the IAM role plinth gives its ServiceAccount (IRSA), which the AWS SDKs' default credentials find; bind `endpoint`, `bucket` and `region`, and set these variables per environment where the store runs in-cluster"),
        );
        return;
    }
    let keys = if managed(d) {
        managed_keys
    } else {
        units::binding_keys(engine(d))
    };
    if key.value == "api-key" && keys.contains(&"api-key") && !has_api_key(d) {
        out.push(
            Diagnostic::new(
                Code::UnknownBindingKey,
                format!("data store `{}` has no API key to bind", b.from.value),
                key.span.clone(),
                "no `QDRANT__SERVICE__API_KEY`",
            )
            .help(format!(
                "give `{}` an API key, `secrets.QDRANT__SERVICE__API_KEY = {{ secret = \"…\", key = \"api-key\" }}`, which the server then requires",
                b.from.value
            )),
        );
        return;
    }
    if keys.contains(&key.value.as_str()) {
        return;
    }
    let help = match did_you_mean(&key.value, keys.iter().copied()) {
        Some(k) => format!("did you mean `{k}`?"),
        None if keys.is_empty() => format!(
            "plinth knows no connection details of engine `{}`",
            engine(d)
        ),
        None => format!("`{}` offers {}", b.from.value, quoted(keys)),
    };
    out.push(
        Diagnostic::new(
            Code::UnknownBindingKey,
            format!(
                "data store `{}` has no connection detail `{}`",
                b.from.value, key.value
            ),
            key.span.clone(),
            "not offered by this store",
        )
        .help(help),
    );
}

/// Whether a Qdrant store has an API key (its `QDRANT__SERVICE__API_KEY` secret).
fn has_api_key(d: &DataStore) -> bool {
    d.secrets
        .iter()
        .flatten()
        .any(|(k, _)| k.value == units::QDRANT_API_KEY_VARIABLE)
}

/// `a`, `b` and `c`, each in backticks.
pub(super) fn quoted(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// E006 `invalid-value`: a variable set by `bind` must not also be set in the service's
/// `env` or `secrets`.
///
/// Why: the container gets one value per variable; which one wins would depend on the
/// order the generated list happens to have.
///
/// Example: `env.DATABASE_URL = "…"` beside `bind.DATABASE_URL = { … }`.
fn binding_clash(s: &Service, var: &Sp<String>, out: &mut Vec<Diagnostic>) {
    let plain = s
        .env
        .iter()
        .flatten()
        .map(|(k, _)| (k, "plain value"))
        .chain(
            s.secrets
                .iter()
                .flatten()
                .map(|(k, _)| (k, "secret reference")),
        );
    for (other, what) in plain {
        if other.value == var.value {
            out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` is set both by `bind` and as a {what}", var.value),
                    var.span.clone(),
                    "binding",
                )
                .related(other.span.clone(), what)
                .help("keep only one of them"),
            );
        }
    }
}

/// E006 `invalid-value`: a service that binds connection details names none of its own
/// variables `PLINTH_…`.
///
/// Why: a bound connection string reads its store's password through a variable plinth adds
/// ([`crate::ir::naming::bound_password_variable`], `PLINTH_<STORE>_PASSWORD`); a variable
/// of the spec's under that prefix could take its place and change the password the string
/// carries.
///
/// Example: `env.PLINTH_POSTGRES_PASSWORD = "…"` beside `bind.DATABASE_URL`.
fn reserved_variable(s: &Service, out: &mut Vec<Diagnostic>) {
    let names = s
        .env
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .chain(s.secrets.iter().flatten().map(|(k, _)| k))
        .chain(s.bind.iter().flatten().map(|(k, _)| k));
    for name in names.filter(|n| n.value.starts_with(RESERVED_PREFIX)) {
        out.push(
            Diagnostic::new(
                Code::InvalidValue,
                format!("`{}` uses the prefix `{RESERVED_PREFIX}`, which plinth keeps for the variables of bindings", name.value),
                name.span.clone(),
                "reserved prefix",
            )
            .help("rename the variable"),
        );
    }
}

/// E250 `reserved-secret-name`: a service's secret reference names a Secret that the
/// environment's Terraform writes for a managed data store: `<store>-connection` (its
/// endpoints) or, for PostgreSQL, `<store>-password` (the master password it generates).
///
/// Why: the ExternalSecret plinth makes for the name would ask the cloud secret for keys
/// Terraform never writes, which fails its whole sync (and every binding that reads it), and
/// a cloud secret of the spec's own under that name would collide with Terraform's.
///
/// Example: `secrets.DB_PASSWORD = { secret = "postgres-password", key = "pw" }` where
/// `postgres` is managed.
fn reserved_secret_name(view: &Resolved, s: &Service, out: &mut Vec<Diagnostic>) {
    for (_, r) in s.secrets.iter().flatten() {
        let name = r.secret.value.as_str();
        let owner = view.datastores.iter().find(|(store, d)| {
            managed(d)
                && (name == units::store_connection_secret(&store.value)
                    || (engine(d) == "postgres"
                        && name == units::managed_password_secret(&store.value)))
        });
        let Some((store, _)) = owner else { continue };
        out.push(
            Diagnostic::new(
                Code::ReservedSecretName,
                format!(
                    "Secret `{name}` is the one Terraform writes for managed store `{}`{}",
                    store.value,
                    in_env(view)
                ),
                r.secret.span.clone(),
                "Terraform's",
            )
            .help(format!(
                "bind what you need from the store instead, e.g. `bind.DATABASE_URL = {{ from = \"{}\", key = \"uri\" }}`, or name a Secret of your own",
                store.value
            )),
        );
    }
}

/// The prefix of the variables plinth adds for bindings.
const RESERVED_PREFIX: &str = "PLINTH_";

/// E013 `fixed-postgres-parameter`: `parameters` are for PostgreSQL stores only, names are
/// PostgreSQL parameter names (lowercase), and none is one that the operator or plinth sets
/// itself (`port`, `listen_addresses`, `archive_command`, `ssl`, `shared_preload_libraries`,
/// `rds.force_ssl`, …).
///
/// Why: CloudNativePG's admission webhook rejects a `Cluster` that sets a fixed parameter,
/// so the whole deploy would fail; the same settings carry plinth's wiring of a StatefulSet
/// (its port, its data directory) and of RDS (TLS only), which a user value would break.
///
/// On a managed store a value must also be a plain number or word: RDS refuses units.
///
/// Example: `parameters = { port = "5433" }` (set the store's `ports` instead).
fn fixed_postgres_parameter(d: &DataStore, out: &mut Vec<Diagnostic>) {
    let Some(params) = &d.parameters else { return };
    if engine(d) != "postgres" {
        if let Some((first, _)) = params.iter().next() {
            out.push(
                Diagnostic::new(
                    Code::FixedPostgresParameter,
                    format!("`parameters` on a `{}` store", engine(d)),
                    first.span.clone(),
                    "PostgreSQL parameters",
                )
                .help("`parameters` are PostgreSQL's; remove them from this store"),
            );
        }
        return;
    }
    for (name, value) in params {
        let n = name.value.as_str();
        if managed(d) && with_unit(&value.value.0) {
            out.push(
                Diagnostic::new(
                    Code::FixedPostgresParameter,
                    format!(
                        "`{}` has a unit, which an RDS parameter group does not take",
                        value.value.0
                    ),
                    value.span.clone(),
                    "a value with a unit",
                )
                .help(format!("write `{n}` as a plain number in the parameter's own unit (work_mem in kB, shared_buffers in 8kB pages), which PostgreSQL reads the same way in every mode")),
            );
        }
        if !units::is_postgres_parameter(n) {
            out.push(
                Diagnostic::new(
                    Code::FixedPostgresParameter,
                    format!("`{n}` is not a PostgreSQL parameter name"),
                    name.span.clone(),
                    "invalid name",
                )
                .help("parameter names are lowercase letters, digits and `_`, with at most one `.` (`pg_stat_statements.max`)"),
            );
        } else if units::FIXED_POSTGRES_PARAMETERS.contains(&n) {
            out.push(
                Diagnostic::new(
                    Code::FixedPostgresParameter,
                    format!("`{n}` is set by plinth and the PostgreSQL operator"),
                    name.span.clone(),
                    "cannot be set here",
                )
                .help(match n {
                    "port" => "set the store's `ports` instead".to_owned(),
                    "archive_mode" | "archive_command" | "restore_command" => {
                        "WAL archiving follows the store's `backup`".to_owned()
                    }
                    _ => "remove it: the operator refuses a cluster that sets it".to_owned(),
                }),
            );
        }
    }
}

/// Whether a parameter value is a number with a unit (`16MB`, `30s`), which PostgreSQL reads
/// but an RDS parameter group refuses.
fn with_unit(value: &str) -> bool {
    let digits = value.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    digits.len() < value.len()
        && [
            "B", "kB", "MB", "GB", "TB", "us", "ms", "s", "min", "h", "d",
        ]
        .contains(&digits.trim_start())
}

/// W030 `redis-without-quorum`: an in-cluster Redis that runs two nodes in some environment
/// (its `replicas`, scaled by the environment's `replica_scale`), reported once at the
/// count with the environments it applies to.
///
/// Why: a replicated Redis runs one Sentinel beside each Redis (`emit::redis_ha`), and
/// Sentinel fails over only with the votes of a majority of all Sentinels. With two, the
/// node that is lost takes its Sentinel with it, and the one left is no majority: the
/// replica keeps a copy of the data but is never promoted. Three nodes survive the loss of
/// any one; one node is honest about having no failover. It stays a warning because two
/// still replicate, and `SENTINEL FAILOVER` promotes the replica by hand.
///
/// Example: `replicas = 3` with `replica_scale = 0.5` in staging runs two nodes there.
fn redis_without_quorum(spec: &Spec, views: &[Resolved], out: &mut Vec<Diagnostic>) {
    /// Per `replicas` value: its span, the environments that run two nodes, and the
    /// scale factors that make it two.
    type Found = (Span, Vec<String>, Vec<Span>);
    let mut found: BTreeMap<(u32, usize, usize), Found> = BTreeMap::new();
    for view in views {
        let scale = view
            .env
            .as_ref()
            .and_then(|e| spec.environments.get(e.value.as_str()))
            .and_then(|e| e.replica_scale.as_ref());
        for (name, d) in &view.datastores {
            // Without ports or with a command of its own, no Sentinel is generated.
            let portless = d.ports.as_ref().is_some_and(|p| p.is_empty());
            if engine(d) != "redis" || managed(d) || d.command.is_some() || portless {
                continue;
            }
            let Some(replicas) = &d.replicas else {
                continue;
            };
            let written = u32::try_from(replicas.value).unwrap_or(1);
            // A count the environment writes itself is not scaled (`spec::Written`).
            let env = view
                .env
                .as_ref()
                .and_then(|e| spec.environments.get(e.value.as_str()));
            let own = crate::spec::Written::store(env, &name.value).replicas;
            let scale = scale.filter(|_| !own);
            if units::scale_count(written, scale.map_or(1.0, |s| s.value)) != 2 {
                continue;
            }
            let span = &replicas.span;
            let entry = found
                .entry((span.source.0, span.range.start, span.range.end))
                .or_insert_with(|| (span.clone(), Vec::new(), Vec::new()));
            entry.1.push(view.env_name().to_owned());
            if let Some(s) = scale.filter(|_| written != 2) {
                entry.2.push(s.span.clone());
            }
        }
    }
    for (span, envs, scales) in found.into_values() {
        let envs = envs
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = Diagnostic::new(
            Code::RedisWithoutQuorum,
            format!("Redis runs two nodes in {envs}, and two Sentinels cannot fail over when a node is lost"),
            span,
            "two nodes",
        )
        .help("run 3 replicas (a majority of three Sentinels outlives one node) or 1; with two, `SENTINEL FAILOVER` promotes the replica by hand");
        for s in scales {
            d = d.related(s, "the environment's replica_scale makes it two");
        }
        out.push(d);
    }
}

/// W011 `ignored-by-operator`: in an environment with a cloud, where CloudNativePG runs an
/// in-cluster PostgreSQL store, a store setting the generated `Cluster` cannot carry: an
/// `image` of its own, `ports` other than 5432, `secrets` (the password), the image's
/// `command`, `args`, `probes`, `env` other than the database and owner names, a
/// `security` setting, `volumes`, a `metrics` endpoint of its own, `storage.path`,
/// `backup.continuous = false` beside a schedule, `managed` settings, `replicas` other than 1,
/// (`vertical_autoscaling` is a note of the build summary). Settings the preset makes are
/// plinth's wiring of the StatefulSet and are not reported.
///
/// Why: the operator runs its own instance manager in its own image: it starts PostgreSQL
/// with its own arguments, probes each instance through the instance manager, runs it
/// non-root on a read-only root filesystem, exports metrics on 9187, and sizes the cluster
/// by `instances` (`1 + read_replicas`). A setting written for the StatefulSet would be
/// silently dropped; saying so lets the author move it (a `parameters` entry, `read_replicas`)
/// or accept it per environment with `allow`.
///
/// Example: `args = ["-c", "max_connections=200"]` on a store that also runs in production
/// with a cloud (use `parameters = { max_connections = "200" }`).
fn ignored_by_operator(
    sources: &Sources,
    view: &Resolved,
    name: &Sp<String>,
    d: &DataStore,
    out: &mut Vec<Diagnostic>,
) {
    if view.cloud.is_none() || managed(d) || engine(d) != "postgres" {
        return;
    }
    let mut ignored: BTreeMap<&str, (Span, &str)> = BTreeMap::new();
    // What the preset wrote is plinth's own wiring of the StatefulSet, which the operator
    // replaces on purpose; only what the spec's author wrote is reported.
    let mut note = |key: &'static str, span: Option<Span>, why: &'static str| {
        if let Some(span) = span.filter(|s| !sources.get(s.source).name.starts_with(STDLIB)) {
            ignored.insert(key, (span, why));
        }
    };
    note(
        "image",
        d.image.as_ref().map(|i| i.span.clone()),
        "the operator runs its own PostgreSQL images (ghcr.io/cloudnative-pg/postgresql), tagged by `version`",
    );
    note(
        "ports",
        d.ports
            .iter()
            .flatten()
            .find(|p| p.port.value != 5432)
            .map(|p| p.port.span.clone()),
        "the operator's instances and Services listen on 5432",
    );
    note(
        "secrets",
        // The value's span: an override of the preset's variable keeps the preset's key.
        d.secrets
            .iter()
            .flatten()
            .map(|(_, r)| r.secret.span.clone())
            .find(|s| !sources.get(s.source).name.starts_with(STDLIB)),
        "the operator generates the application user's password and writes it to the Secret `<store>-app`; bind `password` or `uri` to read it",
    );
    note(
        "command",
        d.command
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.span.clone()),
        "the operator starts its own instance manager",
    );
    note(
        "args",
        d.args
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.span.clone()),
        "the operator starts PostgreSQL with its own arguments; server settings go in `parameters`",
    );
    let probe_span = d.probes.as_ref().and_then(|p| {
        [&p.liveness, &p.readiness, &p.startup]
            .into_iter()
            .flatten()
            .find_map(probe_span)
    });
    note(
        "probes",
        probe_span,
        "the operator probes each instance through its instance manager",
    );
    note(
        "env",
        d.env.iter().flatten().find_map(|(k, _)| {
            (!OPERATOR_ENV.contains(&k.value.as_str())).then(|| k.span.clone())
        }),
        "the operator's instances take no variables of the spec; server settings go in `parameters`",
    );
    note(
        "security",
        d.security.as_ref().and_then(security_span),
        "the operator runs every instance non-root on a read-only root filesystem",
    );
    note(
        "volumes",
        d.volumes
            .as_ref()
            .and_then(|v| v.first())
            .map(|v| v.name.span.clone()),
        "the operator mounts its own scratch volumes",
    );
    note(
        "metrics",
        d.metrics.as_ref().and_then(|m| {
            m.port
                .as_ref()
                .map(|p| p.span.clone())
                .or_else(|| m.path.as_ref().map(|p| p.span.clone()))
        }),
        "each instance exports its metrics on 9187, which plinth scrapes",
    );
    note(
        "storage.path",
        // The operator's own mount point, the image's, is no change.
        d.storage
            .as_ref()
            .and_then(|s| s.path.as_ref())
            .filter(|p| p.value.trim_end_matches('/') != "/var/lib/postgresql/data")
            .map(|p| p.span.clone()),
        "the operator mounts each instance's volume where its image expects it; `size` and `class` apply",
    );
    note(
        "backup.continuous",
        d.backup
            .as_ref()
            .and_then(|b| b.continuous.as_ref())
            .filter(|c| !c.value && d.backup.as_ref().is_some_and(|b| b.schedule.is_some()))
            .map(|c| c.span.clone()),
        "base backups restore only with the WAL written since, so the operator archives WAL whenever the store has scheduled backups",
    );
    note(
        "managed",
        d.managed.as_ref().and_then(|m| {
            [&m.instance_class]
                .into_iter()
                .flatten()
                .map(|v| v.span.clone())
                .chain(m.multi_az.as_ref().map(|v| v.span.clone()))
                .chain(m.deletion_protection.as_ref().map(|v| v.span.clone()))
                .next()
        }),
        "these are settings of the cloud's service (`mode = \"managed\"`); the operator spreads instances over zones and keeps its volumes by itself",
    );
    note(
        "replicas",
        d.replicas
            .as_ref()
            .filter(|r| r.value != 1)
            .map(|r| r.span.clone()),
        "the cluster runs `1 + read_replicas` instances; set `read_replicas`",
    );
    for (key, (span, why)) in ignored {
        out.push(
            Diagnostic::new(
                Code::IgnoredByOperator,
                format!(
                    "`{key}` of `{}` has no effect{} where CloudNativePG runs it",
                    name.value,
                    in_env(view)
                ),
                span,
                "ignored by the operator",
            )
            .help(why),
        );
    }
}

/// W042 `ignored-by-managed-store`: a setting of the in-cluster workload on a data store the
/// cloud runs (`mode = "managed"`: RDS, ElastiCache, S3), written where only the managed
/// service reads it: in an environment's override of a store that is managed there, or in
/// the store's own definition when every environment runs it managed. The settings: `image`,
/// `command`, `args`, `probes`, `resources`, `vertical_autoscaling`, `volumes`, `security`,
/// `metrics`, `thresholds`, `storage.class` and `storage.path`, `env` (PostgreSQL takes
/// only `POSTGRES_DB` and `POSTGRES_USER`), `replicas` (PostgreSQL and object storage),
/// `storage.size` (Redis and object storage); `backup.verify` is a note of the build
/// summary, as it is for the operator. What the spec's
/// definition writes for the environments that run the store in the cluster is theirs, and
/// is not reported where it is managed.
///
/// Why: the managed service is sized by its instance class, probed, secured and upgraded by
/// the cloud, and publishes its metrics to CloudWatch, which no generated Prometheus scrapes,
/// so no threshold alert can read them. A setting written for it would be dropped in every
/// target without a word.
///
/// Example: `[environments.production.datastores.postgres] resources = { limits = { cpu = "2" } }`
/// with `mode = "managed"` there.
fn ignored_by_managed_store(spec: &Spec, views: &[Resolved], out: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::BTreeSet::new();
    for (name, base) in &spec.datastores {
        let managed_in: Vec<&Resolved> = views
            .iter()
            .filter(|v| v.datastores.get(name.value.as_str()).is_some_and(managed))
            .collect();
        // A managed store where there is no cloud (E147), or of an engine the cloud does not
        // offer (E006), is an error already: what it would ignore is a consequence.
        let erroneous = managed_in.iter().any(|v| {
            v.cloud.is_none()
                || !units::has_managed_offering(engine(&v.datastores[name.value.as_str()]))
        });
        if erroneous {
            continue;
        }
        let everywhere = managed_in.len() == views.len();
        for view in &managed_in {
            let store = &view.datastores[name.value.as_str()];
            let own = view
                .env
                .as_ref()
                .and_then(|e| spec.environments.get(e.value.as_str()))
                .and_then(|e| e.datastores.get(name.value.as_str()));
            let written = own.into_iter().chain(everywhere.then_some(base));
            for d in written {
                for (key, span, why) in managed_ignores(d, engine(store)) {
                    if !seen.insert((span.source.0, span.range.start, span.range.end)) {
                        continue;
                    }
                    let r#where = if everywhere {
                        String::new()
                    } else {
                        in_env(view)
                    };
                    out.push(
                        Diagnostic::new(
                            Code::IgnoredByManagedStore,
                            format!(
                                "`{key}` of `{}` has no effect{where}, where the cloud runs it (`mode = \"managed\"`)",
                                name.value
                            ),
                            span,
                            "not read by the managed service",
                        )
                        .help(why),
                    );
                }
            }
        }
    }
}

/// The settings of `d` (as written in one table of the spec) that a managed store of
/// `engine` does not read, with where each is written and why.
fn managed_ignores(d: &DataStore, engine: &str) -> Vec<(&'static str, Span, &'static str)> {
    const WORKLOAD: &str =
        "the cloud runs the managed service itself; size it with `managed.instance_class`";
    let first = |v: Option<&Vec<Sp<String>>>| v.and_then(|c| c.first()).map(|c| c.span.clone());
    let amount = d.resources.as_ref().and_then(|r| {
        [&r.requests, &r.limits]
            .into_iter()
            .flatten()
            .find_map(|a| a.cpu.as_ref().or(a.memory.as_ref()))
            .map(|q| q.span.clone())
    });
    let storage = d.storage.as_ref();
    let mut found = vec![
        ("image", d.image.as_ref().map(|i| i.span.clone()), "the cloud runs its own engine images, by `version`"),
        ("command", first(d.command.as_ref()), WORKLOAD),
        ("args", first(d.args.as_ref()), "server settings of a managed PostgreSQL go in `parameters` (its parameter group)"),
        (
            "probes",
            d.probes.as_ref().and_then(|p| {
                [&p.liveness, &p.readiness, &p.startup]
                    .into_iter()
                    .flatten()
                    .find_map(probe_span)
            }),
            "the cloud checks the health of its instances and fails over by itself",
        ),
        ("resources", amount, WORKLOAD),
        ("vertical_autoscaling", d.vertical_autoscaling.as_ref().map(|v| v.span.clone()), WORKLOAD),
        ("volumes", d.volumes.as_ref().and_then(|v| v.first()).map(|v| v.name.span.clone()), WORKLOAD),
        ("security", d.security.as_ref().and_then(security_span), "the cloud runs and isolates the instances; plinth encrypts them with the environment's KMS key"),
        (
            "metrics",
            d.metrics.as_ref().and_then(|m| {
                m.port.as_ref().map(|p| p.span.clone()).or_else(|| m.path.as_ref().map(|p| p.span.clone()))
            }),
            "the managed service publishes its metrics to CloudWatch, which no generated Prometheus scrapes",
        ),
        (
            "thresholds",
            d.thresholds.as_ref().and_then(|t| t.keys().next()).map(|k| k.span.clone()),
            "the managed service's metrics are in CloudWatch, which no generated Prometheus scrapes, so no alert can read them; alarm on them in CloudWatch",
        ),
        ("storage.class", storage.and_then(|s| s.class.as_ref()).map(|c| c.span.clone()), "the cloud chooses the managed service's storage"),
        ("storage.path", storage.and_then(|s| s.path.as_ref()).map(|p| p.span.clone()), "the cloud chooses the managed service's storage"),
    ];
    let env_span = d.env.iter().flatten().find_map(|(k, _)| {
        (engine != "postgres" || !["POSTGRES_DB", "POSTGRES_USER"].contains(&k.value.as_str()))
            .then(|| k.span.clone())
    });
    let env_why = if engine == "postgres" {
        "a managed PostgreSQL reads only `POSTGRES_DB` and `POSTGRES_USER` (its database and owner)"
    } else {
        "the managed service takes no variables"
    };
    found.push(("env", env_span, env_why));
    if engine == "postgres" || engine == "object-storage" {
        let replicas = d.replicas.as_ref().map(|r| r.span.clone());
        found.push((
            "replicas",
            replicas,
            "a managed PostgreSQL runs one primary and `read_replicas`; a bucket has no instances",
        ));
    }
    if engine == "redis" || engine == "object-storage" {
        let size = storage
            .and_then(|s| s.size.as_ref())
            .map(|q| q.span.clone());
        found.push(("storage.size", size, "ElastiCache keeps the data in the memory of its instance class, and a bucket has no size"));
    }
    found
        .into_iter()
        .filter_map(|(key, span, why)| span.map(|span| (key, span, why)))
        .collect()
}

/// The store variables the operator's `Cluster` reads: the database and its owner, and the
/// password and data folder that only the StatefulSet image uses and the operator replaces
/// with its own (the `<store>-app` Secret, its own `PGDATA`).
const OPERATOR_ENV: &[&str] = &["POSTGRES_DB", "POSTGRES_USER", "PGDATA"];

/// Where a probe is written, if it says anything.
fn probe_span(p: &crate::spec::Probe) -> Option<Span> {
    p.path
        .as_ref()
        .map(|x| x.span.clone())
        .or_else(|| {
            p.command
                .as_ref()
                .and_then(|c| c.first())
                .map(|c| c.span.clone())
        })
        .or_else(|| p.port.as_ref().map(|x| x.span.clone()))
}

/// Where a security setting is written, if the table sets one: the operator decides them
/// all for its instances.
fn security_span(s: &crate::spec::Security) -> Option<Span> {
    s.read_only_root_filesystem
        .as_ref()
        .map(|v| v.span.clone())
        .or_else(|| s.allow_root.as_ref().map(|v| v.span.clone()))
        .or_else(|| s.run_as_user.as_ref().map(|v| v.span.clone()))
        .or_else(|| s.service_account_token.as_ref().map(|v| v.span.clone()))
        .or_else(|| {
            s.add_capabilities
                .as_ref()
                .and_then(|c| c.first())
                .map(|v| v.span.clone())
        })
}
