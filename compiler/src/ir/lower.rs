//! Lowering: merged spec views to the IR, one environment at a time.
//!
//! The checker has accepted the spec before this runs, so parse failures here cannot happen
//! for checked input; they fall back to defaults rather than panicking, which keeps the
//! pipeline total even when called on unchecked input (the fuzz targets do).

use std::collections::BTreeMap;

use super::*;
use crate::check::{parse_level, LevelKind, BUILTIN_THRESHOLDS};
use crate::spec::{self, Resolved, Sp, StoreMode};
use crate::units;

/// Lowers a checked spec. `presets` are the loaded presets by name.
pub fn lower(spec: &spec::Spec, views: Vec<spec::Resolved>, spec_path: &str) -> Platform {
    let environments = views.into_iter().map(|v| lower_env(spec, v)).collect();
    Platform {
        name: spec.platform.name.value.clone(),
        spec_path: spec_path.to_owned(),
        environments,
    }
}

fn text(s: &Option<Sp<String>>) -> Option<String> {
    s.as_ref().map(|v| v.value.clone())
}

fn ms(s: &Option<Sp<String>>, default: u64) -> u64 {
    s.as_ref()
        .and_then(|d| units::parse_duration(&d.value).ok())
        .unwrap_or(default)
}

/// An environment's quota in millicores, bytes and pods.
fn quota(q: &spec::Quota) -> Quota {
    Quota {
        cpu: q
            .cpu
            .as_ref()
            .and_then(|c| units::parse_cpu(&c.value.0).ok()),
        memory: q
            .memory
            .as_ref()
            .and_then(|m| units::parse_bytes(&m.value.0).ok()),
        pods: q.pods.as_ref().and_then(|p| u32::try_from(p.value).ok()),
        storage: q
            .storage
            .as_ref()
            .and_then(|s| units::parse_bytes(&s.value.0).ok()),
    }
}

/// A workload's shutdown settings, in whole seconds (rounded up).
fn shutdown(s: Option<&spec::Shutdown>) -> ShutdownPolicy {
    let seconds = |d: &Option<Sp<String>>| d.as_ref().map(|_| secs(d, 0));
    ShutdownPolicy {
        grace_s: s.and_then(|s| seconds(&s.grace)),
        drain_s: s.and_then(|s| seconds(&s.drain)),
    }
}

fn secs(s: &Option<Sp<String>>, default: u32) -> u32 {
    s.as_ref()
        .and_then(|d| units::parse_duration(&d.value).ok())
        .map_or(default, |ms| {
            u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
        })
}

fn count(v: &Option<Sp<i64>>, default: u32) -> u32 {
    v.as_ref()
        .map_or(default, |x| u32::try_from(x.value).unwrap_or(default))
}

/// Scales a count, rounding up and never below one.
fn scale_count(n: u32, f: f64) -> u32 {
    units::scale_count(n, f)
}

/// The edge of an environment ([`spec::Platform::gateway_api`] and
/// [`spec::Platform::gateway_implementation`]).
fn edge(platform: &spec::Platform, cloud: bool) -> Edge {
    if !platform.gateway_api(cloud) {
        return Edge::Ingress;
    }
    match platform.gateway_implementation() {
        spec::Gateway::Istio => Edge::Istio,
        spec::Gateway::Envoy | spec::Gateway::Ingress => Edge::Envoy,
    }
}

fn lower_env(spec: &spec::Spec, mut view: Resolved) -> Environment {
    let edge = edge(&spec.platform, view.cloud.is_some());
    let env_name = view
        .env
        .as_ref()
        .map_or(DEFAULT_ENVIRONMENT.to_owned(), |e| e.value.clone());
    let env_spec = view
        .env
        .as_ref()
        .and_then(|e| spec.environments.get(e.value.as_str()));
    let mut origins = std::mem::take(&mut view.origins);
    let platform = &spec.platform;
    let namespace = env_spec
        .and_then(|e| text(&e.namespace))
        .or_else(|| text(&platform.namespace))
        .unwrap_or_else(|| platform.name.value.clone());
    let domain = env_spec
        .and_then(|e| text(&e.domain))
        .or_else(|| text(&platform.domain));
    let replica_scale = env_spec
        .and_then(|e| e.replica_scale.as_ref())
        .map_or(1.0, |f| f.value);
    let resource_scale = env_spec
        .and_then(|e| e.resource_scale.as_ref())
        .map_or(1.0, |f| f.value);
    let scaled = Layer::Scaled(env_name.clone());
    let scrape_interval_ms = ms(&spec.observability.scrape_interval, SCRAPE_INTERVAL_MS);
    let ctx = Lower {
        platform_egress: egress(platform.egress.as_deref()),
        domain: domain.clone(),
        env_spec,
        replica_scale,
        resource_scale,
        scrape_interval_ms,
        global_thresholds: &spec.observability.thresholds,
        metric_names: spec.observability.metrics.as_ref(),
        platform_team: text(&platform.team),
        namespace: namespace.clone(),
        env_name: env_name.clone(),
        platform_name: platform.name.value.clone(),
        dedicated: view
            .cloud
            .iter()
            .filter_map(|c| c.cluster.as_ref())
            .flat_map(|c| c.node_groups.iter())
            .filter(|(_, g)| g.dedicated.as_ref().is_some_and(|d| d.value))
            .map(|(n, _)| n.value.clone())
            .collect(),
        operator: view.cloud.is_some(),
        region: view
            .cloud
            .as_ref()
            .map(|c| text(&c.region).unwrap_or_else(|| "us-east-1".to_owned())),
    };

    let mut workloads = Vec::new();
    let mut managed_stores = Vec::new();
    for (name, s) in &view.services {
        let w = ctx.service(name, s);
        let written = spec::Written::service(env_spec, &name.value);
        record_scaled(
            &mut origins,
            "services",
            &name.value,
            &ctx,
            &scaled,
            written,
        );
        workloads.push(w);
    }
    for (name, d) in &view.datastores {
        if d.mode
            .as_ref()
            .is_some_and(|m| m.value == StoreMode::Managed)
        {
            managed_stores.push(ctx.managed(name, d));
        } else {
            let w = ctx.store(name, d);
            let written = spec::Written::store(env_spec, &name.value);
            record_scaled(
                &mut origins,
                "datastores",
                &name.value,
                &ctx,
                &scaled,
                written,
            );
            workloads.push(w);
        }
    }
    workloads.sort_by(|a, b| a.name.cmp(&b.name));
    bind_stores(
        &view.services,
        &mut workloads,
        &managed_stores,
        view.cloud.is_some(),
    );
    replicate_redis(&mut workloads);
    require_redis_password(&mut workloads);
    scrape_qdrant_with_its_key(&mut workloads);
    cluster_qdrant(&mut workloads);
    export_redis_metrics(&mut workloads, scrape_interval_ms);

    let dns = env_spec
        .and_then(|e| e.dns.as_ref())
        .and_then(|d| lower_dns(d, domain.as_deref()));
    Environment {
        name: env_name.clone(),
        namespace: namespace.clone(),
        domain,
        local: env_spec
            .and_then(|e| e.local.as_ref())
            .is_some_and(|l| l.value),
        compose: env_spec.and_then(|e| e.compose.as_ref()).map_or_else(
            ComposeSettings::default,
            |c| ComposeSettings {
                monitoring: c.monitoring.as_ref().is_some_and(|v| v.value),
                log_viewer: c.log_viewer.as_ref().is_some_and(|v| v.value),
                grafana: c
                    .grafana
                    .as_ref()
                    .map(|g| g.value.port.as_ref().map_or(GRAFANA_PORT, |p| p.value)),
            },
        ),
        team: text(&platform.team),
        owner: text(&platform.owner),
        cluster: ClusterAddons {
            edge,
            ingress_class: text(&platform.ingress_class)
                .unwrap_or_else(|| INGRESS_CLASS.to_owned()),
            ingress_namespace: match edge {
                Edge::Envoy => ENVOY_GATEWAY_NAMESPACE.to_owned(),
                Edge::Istio => namespace.clone(),
                Edge::Ingress => text(&platform.ingress_namespace)
                    .unwrap_or_else(|| INGRESS_NAMESPACE.to_owned()),
            },
            edge_pods: (edge == Edge::Istio).then(|| {
                BTreeMap::from([(
                    naming::GATEWAY_NAME_LABEL.to_owned(),
                    naming::gateway(&platform.name.value),
                )])
            }),
            mesh: platform.mesh.is_some(),
            tls_issuer: text(&platform.tls_issuer).unwrap_or_else(|| TLS_ISSUER.to_owned()),
            tls_email: text(&platform.tls_email)
                .or_else(|| text(&platform.owner).filter(|o| units::is_email(o))),
            monitoring_namespace: text(&platform.monitoring_namespace)
                .unwrap_or_else(|| MONITORING_NAMESPACE.to_owned()),
        },
        labels: platform
            .labels
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect(),
        workloads,
        managed_stores,
        zone: dns
            .clone()
            .filter(|d| view.cloud.is_none() && d.provider.cloudflare())
            .filter(|_| !crate::spec::is_local(spec, view.env.as_ref())),
        cloud: view.cloud.as_ref().map(|c| Cloud {
            dns,
            ..lower_cloud(c, &env_name, &platform.name.value)
        }),
        observability: lower_observability(spec, scrape_interval_ms),
        alerting: lower_alerting(&view.alerting),
        quota: env_spec.and_then(|e| e.quota.as_ref()).map(quota),
        external_secrets: spec
            .secrets
            .iter()
            .filter(|(_, d)| d.source.value == spec::SecretSource::External)
            .map(|(n, _)| n.value.clone())
            .collect(),
        origins,
    }
}

/// Marks the replica and resource fields of `section.name` as scaled when the environment
/// scales them, but for those the environment writes itself ([`spec::Written`]), which keep
/// the environment as their layer.
fn record_scaled(
    origins: &mut Origins,
    section: &str,
    name: &str,
    ctx: &Lower,
    layer: &Layer,
    written: spec::Written,
) {
    if !origins.is_recording() {
        return;
    }
    let path = format!("{section}.{name}");
    if ctx.replica_scale != 1.0 {
        for (f, own) in [
            ("replicas", written.replicas),
            ("autoscaling.min", written.autoscale_min),
            ("autoscaling.max", written.autoscale_max),
        ] {
            if !own {
                origins.set(&path, f, layer);
            }
        }
    }
    if ctx.resource_scale != 1.0 {
        for (f, own) in [
            ("resources.requests.cpu", written.cpu_request),
            ("resources.requests.memory", written.memory_request),
            ("resources.limits.cpu", written.cpu_limit),
            ("resources.limits.memory", written.memory_limit),
        ] {
            if !own {
                origins.set(&path, f, layer);
            }
        }
    }
}

/// A bound connection detail, before it is put in a service's variables.
enum Bound {
    /// A plain value (a host, a port).
    Plain(String),
    /// A key of a Secret (the operator's `uri`, a MinIO access key).
    Secret(SecretRef),
    /// Text with the store's password at [`PASSWORD_MARK`], read from this Secret.
    WithPassword(String, SecretRef),
    /// Text that reads variables (`$(VAR)`) which the binding defines from these Secrets: a
    /// managed store's URL, whose host and password only Terraform knows.
    Reading(String, Vec<(String, SecretRef)>),
}

/// Where a connection string of [`Bound::WithPassword`] holds the password.
const PASSWORD_MARK: &str = "\u{0}";

/// Gives every service the connection details it binds (`bind.VAR = { from, key }`) from the
/// in-cluster data stores of the environment, as plain values and secret references like
/// any other.
///
/// Why: what runs a store decides where its details are: where CloudNativePG runs a
/// PostgreSQL store (an environment with a cloud), the operator's `<store>-app` Secret and
/// its `-rw`/`-ro` Services; elsewhere the store's own password Secret and its Service. A
/// connection string that holds a password reads it through a variable of its own
/// ([`naming::bound_password_variable`]) defined before it, which Kubernetes expands in
/// `$(VAR)` and Compose interpolates, so the password is only ever in its Secret. Where the
/// operator runs a PgBouncer `Pooler` for the store, `uri` and `host` lead through it (the
/// Service of the store's name), since that is what the pool is for. Bindings
/// to a managed or unknown store, or an unknown key, are check errors and bind nothing here.
fn bind_stores(
    services: &crate::spec::Named<spec::Service>,
    workloads: &mut [Workload],
    managed: &[ManagedStore],
    operator: bool,
) {
    let mut bound: Vec<(usize, String, String, Bound)> = Vec::new();
    // A service binding a managed bucket reaches it with an IAM role of its own.
    let mut buckets: Vec<(usize, String)> = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        let Some(binds) = services.get(w.name.as_str()).and_then(|s| s.bind.as_ref()) else {
            continue;
        };
        for (var, b) in binds {
            let store = workloads
                .iter()
                .find(|s| s.name == b.from.value && s.engine().is_some());
            let value = match store {
                Some(store) => connection_detail(store, &b.key.value, operator),
                None => managed
                    .iter()
                    .find(|m| m.name == b.from.value)
                    .and_then(|m| managed_detail(m, &b.key.value)),
            };
            if let Some(value) = value {
                bound.push((i, var.value.clone(), b.from.value.clone(), value));
            }
            if managed
                .iter()
                .any(|m| m.name == b.from.value && m.engine == "object-storage")
            {
                buckets.push((i, b.from.value.clone()));
            }
        }
    }
    for (i, bucket) in buckets {
        let w = &mut workloads[i];
        if !w.buckets.contains(&bucket) {
            w.buckets.push(bucket);
            w.buckets.sort();
        }
    }
    for (i, var, store, value) in bound {
        let w = &mut workloads[i];
        match value {
            Bound::Plain(v) => {
                w.env.insert(var, v);
            }
            Bound::Secret(r) => {
                w.secrets.insert(var, r);
            }
            Bound::WithPassword(text, r) => {
                let helper = naming::bound_password_variable(&store);
                w.env
                    .insert(var, text.replace(PASSWORD_MARK, &format!("$({helper})")));
                w.secrets.insert(helper, r);
            }
            Bound::Reading(text, reads) => {
                w.env.insert(var, text);
                w.secrets.extend(reads);
            }
        }
    }
}

/// Connection detail `key` of in-cluster store `store`; `operator` says whether the
/// environment has a cloud, where CloudNativePG runs its PostgreSQL stores.
fn connection_detail(store: &Workload, key: &str, operator: bool) -> Option<Bound> {
    let Role::DataStore(info) = &store.role else {
        return None;
    };
    let name = store.name.as_str();
    let port = store.ports.first().map_or(0, |p| p.port);
    let secret = |var: &str, key: &str| {
        store
            .secrets
            .get(var)
            .cloned()
            .unwrap_or_else(|| SecretRef {
                secret: naming::store_credentials(name),
                key: key.to_owned(),
            })
    };
    let own_password = || {
        store
            .secrets
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| SecretRef {
                secret: naming::store_credentials(name),
                key: CREDENTIALS_KEY.to_owned(),
            })
    };
    let plain = |v: String| Some(Bound::Plain(v));
    match info.engine.as_str() {
        "postgres" => {
            let operated = operator;
            // The operator's bootstrap uses the preset's names, `app` by default; the image
            // without them uses `postgres` for both.
            let fallback = if operated { "app" } else { "postgres" };
            let user = store
                .env
                .get("POSTGRES_USER")
                .map_or(fallback, String::as_str);
            let database = store.env.get("POSTGRES_DB").map_or(user, String::as_str);
            // With pooling, the Service of the store's name leads to PgBouncer, which the
            // application user may log in to: clients go through the pool.
            let pooled = operated && info.pooling.is_some();
            let (host, port, password) = if operated {
                let app = naming::cnpg_app_secret(name);
                (
                    if pooled {
                        name.to_owned()
                    } else {
                        format!("{name}-rw")
                    },
                    5432,
                    SecretRef {
                        secret: app,
                        key: "password".to_owned(),
                    },
                )
            } else {
                (
                    name.to_owned(),
                    if port == 0 { 5432 } else { port },
                    store
                        .secrets
                        .get("POSTGRES_PASSWORD")
                        .cloned()
                        .unwrap_or_else(own_password),
                )
            };
            let read_host = if operated && info.read_replicas > 0 {
                format!("{name}-ro")
            } else {
                host.clone()
            };
            let url = |host: &str| {
                Bound::WithPassword(
                    format!(
                        "postgresql://{}:{PASSWORD_MARK}@{host}:{port}/{}",
                        url_encoded(user),
                        url_encoded(database)
                    ),
                    password.clone(),
                )
            };
            match key {
                "uri" if operated && !pooled => Some(Bound::Secret(SecretRef {
                    secret: naming::cnpg_app_secret(name),
                    key: "uri".to_owned(),
                })),
                "uri" => Some(url(&host)),
                "read-uri" => Some(url(&read_host)),
                "host" => plain(host),
                "read-host" => plain(read_host),
                "port" => plain(port.to_string()),
                "database" => plain(database.to_owned()),
                "user" => plain(user.to_owned()),
                "password" => Some(Bound::Secret(password.clone())),
                _ => None,
            }
        }
        "redis" => {
            let port = if port == 0 { 6379 } else { port };
            match key {
                "uri" => Some(Bound::WithPassword(
                    format!("redis://:{PASSWORD_MARK}@{name}:{port}"),
                    own_password(),
                )),
                "host" => plain(name.to_owned()),
                "port" => plain(port.to_string()),
                "password" => Some(Bound::Secret(own_password())),
                _ => None,
            }
        }
        "qdrant" => {
            let port = if port == 0 { 6333 } else { port };
            match key {
                "uri" => plain(format!("http://{name}:{port}")),
                "host" => plain(name.to_owned()),
                "port" => plain(port.to_string()),
                "api-key" => store
                    .secrets
                    .get(QDRANT_API_KEY_VARIABLE)
                    .cloned()
                    .map(Bound::Secret),
                _ => None,
            }
        }
        "object-storage" => match key {
            "endpoint" => plain(format!(
                "http://{name}:{}",
                if port == 0 { 9000 } else { port }
            )),
            "access-key" => Some(Bound::Secret(secret("MINIO_ROOT_USER", "user"))),
            "secret-key" => Some(Bound::Secret(secret(
                "MINIO_ROOT_PASSWORD",
                CREDENTIALS_KEY,
            ))),
            _ => None,
        },
        _ => None,
    }
}

/// Connection detail `key` of managed store `st`: the addresses and Redis's URL from the
/// secret `<store>-connection` that the environment's Terraform writes (an ExternalSecret
/// brings it into the namespace), the port, database and user as the Terraform creates
/// them, and Redis's auth token from the spec's own secret, which Terraform reads too. An S3
/// bucket offers its regional endpoint, its name and its region, and no keys: its clients
/// reach it with the IAM role Terraform gives their ServiceAccount (IRSA), which the AWS
/// SDKs' default credentials find.
fn managed_detail(st: &ManagedStore, key: &str) -> Option<Bound> {
    let connection = |key: &str| {
        Some(Bound::Secret(SecretRef {
            secret: naming::store_connection_secret(&st.name),
            key: key.to_owned(),
        }))
    };
    let default_port = if st.engine == "redis" { 6379 } else { 5432 };
    let port = st.ports.first().map_or(default_port, |p| p.port);
    match (st.engine.as_str(), key) {
        ("postgres" | "redis", "host") => connection("host"),
        ("postgres", "read-host") => connection("read-host"),
        ("postgres", "password") => Some(Bound::Secret(managed_password(st))),
        ("postgres", "uri") => Some(rds_url(st, port, false)),
        ("postgres", "read-uri") => Some(rds_url(st, port, true)),
        ("redis", "uri") => connection("uri"),
        ("postgres" | "redis", "port") => Some(Bound::Plain(port.to_string())),
        ("postgres", "database") => Some(Bound::Plain(naming::sql_ident(&st.database))),
        ("postgres", "user") => Some(Bound::Plain(naming::sql_ident(&st.username))),
        ("redis", "password") => Some(Bound::Secret(st.auth.clone())),
        ("object-storage", "endpoint") => Some(Bound::Plain(format!(
            "https://s3.{}.amazonaws.com",
            st.region
        ))),
        ("object-storage", "bucket") => Some(Bound::Plain(st.cloud_name.clone())),
        ("object-storage", "region") => Some(Bound::Plain(st.region.clone())),
        _ => None,
    }
}

/// The master password Terraform generates for managed PostgreSQL store `st` and writes
/// into the cloud secret `<store>-password`.
fn managed_password(st: &ManagedStore) -> SecretRef {
    SecretRef {
        secret: naming::managed_password_secret(&st.name),
        key: "password".to_owned(),
    }
}

/// The URL of managed PostgreSQL store `st` (`read`: of its first read replica, or its
/// primary without one), `postgresql://USER:$(PASSWORD)@$(HOST):PORT/DB?sslmode=require`.
///
/// Why variables: the host is the instance's address and the password the one Terraform
/// generates, both known only after `terraform apply` and both in Secrets; Kubernetes
/// expands `$(VAR)` from the variables the binding defines before the URL, so neither is
/// ever in a generated file. Terraform generates the password from letters and digits
/// only, so it needs no escaping inside the URL. `sslmode=require`: the instance accepts
/// TLS connections only (`rds.force_ssl`), and libpq's default `prefer` would fall back to
/// a plain connection that it refuses, with a confusing error.
fn rds_url(st: &ManagedStore, port: u16, read: bool) -> Bound {
    let password = naming::bound_password_variable(&st.name);
    let host = naming::bound_host_variable(&st.name, read);
    Bound::Reading(
        format!(
            "postgresql://{}:$({password})@$({host}):{port}/{}?sslmode=require",
            url_encoded(&naming::sql_ident(&st.username)),
            url_encoded(&naming::sql_ident(&st.database))
        ),
        vec![
            (password, managed_password(st)),
            (
                host,
                SecretRef {
                    secret: naming::store_connection_secret(&st.name),
                    key: if read { "read-host" } else { "host" }.to_owned(),
                },
            ),
        ],
    )
}

/// `text` percent-encoded for a URL's user or path: every byte but the unreserved
/// characters of RFC 3986, so a user or database name from the spec cannot change the URL's
/// structure.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An in-cluster Redis of more than one replica is a primary with replicas, watched by one
/// Sentinel per pod (quorum: a majority), which `emit::redis_ha` generates.
///
/// Why Sentinel: it is Redis's own failover, shipped in the same image, and it keeps the
/// data model clients expect (one keyspace, every command), unlike Redis Cluster, which shards
/// keys and needs cluster-aware clients. An operator would add a controller to install,
/// upgrade and trust with the namespace for what three small containers per store do. A
/// store with a `command` of its own is left as written: plinth cannot know how it starts;
/// so is one without ports, which no client reaches.
fn replicate_redis(workloads: &mut [Workload]) {
    for w in workloads.iter_mut() {
        if w.engine() != Some("redis") || !w.command.is_empty() || w.ports.is_empty() {
            continue;
        }
        let nodes = w.max_replicas();
        if let (Role::DataStore(info), true) = (&mut w.role, nodes > 1) {
            info.sentinel = Some(Sentinel {
                nodes,
                quorum: nodes / 2 + 1,
            });
        }
    }
}

/// The variable through which an in-cluster Redis gets its password: `redis-cli` (the
/// probes) reads it, and the server's start command passes it to `--requirepass`.
const REDIS_PASSWORD_VARIABLE: &str = "REDISCLI_AUTH";

/// An in-cluster Redis whose password secret is referenced — by the store itself (its first
/// secret reference) or by a workload reading `<store>-credentials` key `password`, the
/// secret plinth names for it — runs with that password required.
///
/// Why: a client that sends a password to a Redis without one is refused (`AUTH` fails), and
/// a Redis reachable without a password its clients were given is an open door; the server
/// must enforce what the spec says. The official image has no variable for the password, so
/// the server starts through `sh`, which puts it on the command line from the variable at
/// start (no value is ever written into the output); `redis-cli` in the probes reads the same
/// variable. A store with a `command` of its own is left as written.
fn require_redis_password(workloads: &mut [Workload]) {
    let referenced: std::collections::BTreeSet<(String, String)> = workloads
        .iter()
        .flat_map(|w| w.secrets.values())
        .map(|r| (r.secret.clone(), r.key.clone()))
        .collect();
    for w in workloads.iter_mut() {
        if w.engine() != Some("redis") || !w.command.is_empty() {
            continue;
        }
        let named = SecretRef {
            secret: naming::store_credentials(&w.name),
            key: CREDENTIALS_KEY.to_owned(),
        };
        let auth = match w.secrets.values().next() {
            Some(own) => own.clone(),
            None if referenced.contains(&(named.secret.clone(), named.key.clone())) => named,
            None => continue,
        };
        w.secrets.insert(REDIS_PASSWORD_VARIABLE.to_owned(), auth);
        if w.args.first().is_some_and(|a| a == "redis-server") {
            w.args.remove(0);
        }
        w.command = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!(
                "exec docker-entrypoint.sh redis-server \"$@\" --requirepass \"${REDIS_PASSWORD_VARIABLE}\""
            ),
            "redis-server".to_owned(),
        ];
    }
}

/// The variable that gives Qdrant its API key.
const QDRANT_API_KEY_VARIABLE: &str = units::QDRANT_API_KEY_VARIABLE;

/// Prometheus scrapes a Qdrant that has an API key with that key as a bearer token.
///
/// Why: with `QDRANT__SERVICE__API_KEY` set, Qdrant refuses every request without the key,
/// `/metrics` included, so the scrape fails (401/403), `up` is 0 and the target-down alert
/// fires for a healthy database. Qdrant accepts the key as `Authorization: Bearer`, which a
/// ServiceMonitor sends from the same Secret.
fn scrape_qdrant_with_its_key(workloads: &mut [Workload]) {
    for w in workloads.iter_mut() {
        if w.engine() != Some("qdrant") {
            continue;
        }
        let Some(key) = w.secrets.get(QDRANT_API_KEY_VARIABLE).cloned() else {
            continue;
        };
        if let Some(m) = &mut w.metrics {
            m.bearer = Some(key);
        }
    }
}

/// Qdrant's peer-to-peer port in distributed mode.
const QDRANT_PEER_PORT: u16 = 6335;

/// A Qdrant of more than one replica runs as one distributed cluster.
///
/// Why: without distributed mode each replica is an independent database behind one
/// Service, so writes land on one copy at random and reads see diverging data. With
/// `QDRANT__CLUSTER__ENABLED`, the first pod (`<name>-0`, a StatefulSet name) starts the
/// cluster on its stable DNS name and every other pod joins it through that one
/// (`--bootstrap`), each announcing its own stable name (`--uri`), as Qdrant's own chart
/// does; the peers talk on port 6335, which the network policies open between the store's
/// own pods. A container not named like one of the StatefulSet's pods (Compose, which runs
/// one replica of it) starts as a single node, with distributed mode off. A store with a `command` of its own is left as written.
fn cluster_qdrant(workloads: &mut [Workload]) {
    for w in workloads.iter_mut() {
        if w.engine() != Some("qdrant") || w.max_replicas() < 2 || !w.command.is_empty() {
            continue;
        }
        let peer = Port {
            name: "p2p".to_owned(),
            port: QDRANT_PEER_PORT,
            protocol: Protocol::Tcp,
        };
        if !w.ports.iter().any(|p| p.port == peer.port) {
            w.ports.push(peer.clone());
        }
        w.env
            .insert("QDRANT__CLUSTER__ENABLED".to_owned(), "true".to_owned());
        w.env.insert(
            "QDRANT__CLUSTER__P2P__PORT".to_owned(),
            QDRANT_PEER_PORT.to_string(),
        );
        // `<name>` is also the StatefulSet's governing (headless) Service, so `<pod>.<name>`
        // resolves to each pod from inside the namespace.
        let svc = &w.name;
        let first = format!("http://{svc}-0.{svc}:{QDRANT_PEER_PORT}");
        let own = format!("http://${{HOSTNAME}}.{svc}:{QDRANT_PEER_PORT}");
        w.command = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!(
                "case \"$HOSTNAME\" in {svc}-0) exec ./entrypoint.sh --uri \"{own}\" ;; {svc}-[0-9]*) exec ./entrypoint.sh --bootstrap \"{first}\" --uri \"{own}\" ;; *) export QDRANT__CLUSTER__ENABLED=false; exec ./entrypoint.sh ;; esac"
            ),
        ];
        w.peer_port = Some(peer);
    }
}

/// redis_exporter, pinned: the exporter whose series (`redis_memory_used_bytes`, …) the
/// Redis alerts read.
const REDIS_EXPORTER_IMAGE: &str = "docker.io/oliver006/redis_exporter:v1.88.0";
/// The port redis_exporter serves its metrics on.
const REDIS_EXPORTER_PORT: u16 = 9121;

/// An in-cluster Redis without a metrics endpoint of its own gets redis_exporter beside it,
/// and its metrics endpoint is the exporter's.
///
/// Why: Redis serves no Prometheus metrics itself, so the Redis alerts (memory use) read
/// series nothing would produce and could never fire. The exporter runs in the store's pod
/// (it reaches Redis on `localhost`, with the password Redis requires), so its series carry
/// the store's own `service` label, the one the alerts select.
fn export_redis_metrics(workloads: &mut [Workload], scrape_interval_ms: u64) {
    for w in workloads.iter_mut() {
        if w.engine() != Some("redis") || w.metrics.is_some() {
            continue;
        }
        let redis_port = w.ports.first().map_or(6379, |p| p.port);
        let port = Port {
            name: "metrics".to_owned(),
            port: REDIS_EXPORTER_PORT,
            protocol: Protocol::Tcp,
        };
        let mut secrets = BTreeMap::new();
        if let Some(auth) = w.secrets.get(REDIS_PASSWORD_VARIABLE) {
            secrets.insert("REDIS_PASSWORD".to_owned(), auth.clone());
        }
        w.sidecars.push(Sidecar {
            name: "exporter".to_owned(),
            image: REDIS_EXPORTER_IMAGE.to_owned(),
            port: port.clone(),
            env: BTreeMap::from([(
                "REDIS_ADDR".to_owned(),
                format!("redis://localhost:{redis_port}"),
            )]),
            secrets,
            resources: Resources {
                cpu_request: 10,
                cpu_limit: 100,
                memory_request: 32 << 20,
                memory_limit: 64 << 20,
            },
            health_path: "/health".to_owned(),
        });
        w.metrics = Some(Metrics {
            path: METRICS_PATH.to_owned(),
            port,
            interval_ms: scrape_interval_ms,
            bearer: None,
            // An exporter serves no request metrics; the names are the defaults, unused.
            names: metric_names(&spec::Metrics::default(), None),
        });
    }
}

/// What lowering one environment's workloads needs to know.
struct Lower<'a> {
    platform_egress: Vec<Egress>,
    domain: Option<String>,
    /// The environment's own definition, whose overrides its scale factors leave as written.
    env_spec: Option<&'a spec::Environment>,
    replica_scale: f64,
    resource_scale: f64,
    scrape_interval_ms: u64,
    global_thresholds: &'a BTreeMap<Sp<String>, spec::Threshold>,
    /// The platform's names of request metrics, which a workload's `metrics` overrides.
    metric_names: Option<&'a spec::MetricNames>,
    platform_team: Option<String>,
    namespace: String,
    /// The environment's name and the platform's, for `{env}` and `{platform}` in values.
    env_name: String,
    platform_name: String,
    /// The node groups of the environment's cluster whose nodes are tainted.
    dedicated: std::collections::BTreeSet<String>,
    /// Whether the environment has a cloud, where CloudNativePG runs PostgreSQL stores.
    operator: bool,
    /// The cloud's region, where the environment has a cloud.
    region: Option<String>,
}

impl Lower<'_> {
    /// Environment variables with their placeholders (`{env}`, `{namespace}`, `{domain}`,
    /// `{platform}`) replaced by this environment's values.
    fn env(&self, e: Option<&BTreeMap<Sp<String>, Sp<String>>>) -> BTreeMap<String, String> {
        let value = |name: &str| match name {
            "env" => Some(self.env_name.clone()),
            "namespace" => Some(self.namespace.clone()),
            "domain" => self.domain.clone(),
            "platform" => Some(self.platform_name.clone()),
            _ => None,
        };
        e.into_iter()
            .flatten()
            .map(|(k, v)| {
                (
                    k.value.clone(),
                    crate::units::substitute_env(&v.value, value),
                )
            })
            .collect()
    }

    fn service(&self, name: &Sp<String>, s: &spec::Service) -> Workload {
        let kind = match s.kind.as_ref().map(|k| k.value) {
            None | Some(spec::ServiceKind::Web) => Kind::Web,
            Some(spec::ServiceKind::Worker) => Kind::Worker,
            Some(spec::ServiceKind::Stateful) => Kind::Stateful,
            Some(spec::ServiceKind::Cron) => Kind::Cron,
            Some(spec::ServiceKind::Job) => Kind::Job,
        };
        let ports = ports(s.ports.as_deref());
        let written = spec::Written::service(self.env_spec, &name.value);
        let replicas = match &s.autoscaling {
            Some(a) => Replicas::Auto(self.autoscaler(a, written)),
            None => Replicas::Fixed(scale_count(
                count(&s.replicas, REPLICAS),
                self.replica_factor(written.replicas),
            )),
        };
        let budget = budget(s.disruption_budget.as_ref(), &replicas, kind);
        Workload {
            name: name.value.clone(),
            role: Role::Service,
            kind,
            schedule: text(&s.schedule),
            image: text(&s.image).unwrap_or_default(),
            command: strings(s.command.as_deref()),
            args: strings(s.args.as_deref()),
            replicas,
            vpa: s.vertical_autoscaling.as_ref().map(|v| v.value),
            resources: self.resources(s.resources.as_ref(), written),
            probes: probes(s.probes.as_ref(), &ports),
            rollout: rollout(s.rollout.as_ref(), kind),
            traffic: s.traffic.as_ref().map(traffic),
            disruption_budget: budget,
            env: self.env(s.env.as_ref()),
            secrets: secrets(s.secrets.as_ref(), &name.value),
            config_files: s
                .config_files
                .iter()
                .flatten()
                .map(|c| ConfigFile {
                    path: c.path.value.clone(),
                    content: c.content.value.clone(),
                })
                .collect(),
            volumes: s
                .volumes
                .iter()
                .flatten()
                .map(|v| Volume {
                    name: v.name.value.clone(),
                    path: v.path.value.clone(),
                    size: v
                        .size
                        .as_ref()
                        .and_then(|q| units::parse_bytes(&q.value.0).ok()),
                })
                .collect(),
            storage: s.storage.as_ref().map(|st| storage(st, "/data")),
            depends_on: strings(s.depends_on.as_deref()),
            egress: {
                let mut e = self.platform_egress.clone();
                e.extend(egress(s.egress.as_deref()));
                e
            },
            ingress: s.ingress.as_ref().map(|i| self.ingress(i, &ports)),
            metrics: s.metrics.as_ref().map(|m| self.metrics(m, &ports)),
            thresholds: self.thresholds(
                s.thresholds.as_ref(),
                &name.value,
                Scope {
                    store_engine: None,
                    serves_http: kind == Kind::Web && !ports.is_empty(),
                    has_storage: s.storage.is_some() && kind == Kind::Stateful,
                    has_replicas: false,
                },
            ),
            team: text(&s.team).or_else(|| self.platform_team.clone()),
            security: security(s.security.as_ref()),
            compose_healthcheck: compose_healthcheck(s.compose.as_ref()),
            placement: s.node_group.as_ref().map(|g| Placement {
                group: g.value.clone(),
                dedicated: self.dedicated.contains(&g.value),
            }),
            shutdown: shutdown(s.shutdown.as_ref()),
            annotations: s
                .annotations
                .iter()
                .flatten()
                .map(|(k, v)| (k.value.clone(), v.value.clone()))
                .collect(),
            image_pull_secrets: strings(s.image_pull_secrets.as_deref()),
            peer_port: None,
            sidecars: Vec::new(),
            buckets: Vec::new(),
            init: s
                .init
                .iter()
                .flatten()
                .map(|c| InitContainer {
                    name: c.name.value.clone(),
                    image: text(&c.image).unwrap_or_else(|| text(&s.image).unwrap_or_default()),
                    command: strings(Some(&c.command)),
                })
                .collect(),
            ports,
        }
    }

    fn store(&self, name: &Sp<String>, d: &spec::DataStore) -> Workload {
        let ports = ports(d.ports.as_deref());
        let version = text(&d.version).unwrap_or_default();
        let image = match text(&d.image) {
            Some(repo) => format!("{repo}:{version}"),
            None => String::new(),
        };
        let written = spec::Written::store(self.env_spec, &name.value);
        let replicas = Replicas::Fixed(scale_count(
            count(&d.replicas, REPLICAS),
            self.replica_factor(written.replicas),
        ));
        let budget = budget(None, &replicas, Kind::Stateful);
        Workload {
            name: name.value.clone(),
            role: Role::DataStore(StoreInfo {
                engine: text(&d.engine).unwrap_or_default(),
                version,
                read_replicas: count(&d.read_replicas, 0),
                backup: backup(d.backup.as_ref()),
                pooling: d.pooling.as_ref().map(pooling),
                parameters: parameters(d),
                sentinel: None,
            }),
            kind: Kind::Stateful,
            schedule: None,
            image,
            command: strings(d.command.as_deref()),
            args: self.store_args(d),
            replicas,
            vpa: d.vertical_autoscaling.as_ref().map(|v| v.value),
            resources: self.resources(d.resources.as_ref(), written),
            probes: probes(d.probes.as_ref(), &ports),
            rollout: rollout(None, Kind::Stateful),
            traffic: None,
            disruption_budget: budget,
            env: self.env(d.env.as_ref()),
            secrets: secrets(d.secrets.as_ref(), &name.value),
            config_files: Vec::new(),
            volumes: volumes(d.volumes.as_deref()),
            storage: Some(d.storage.as_ref().map_or(
                Storage {
                    size: STORAGE,
                    path: "/data".to_owned(),
                    class: None,
                },
                |st| storage(st, "/data"),
            )),
            depends_on: Vec::new(),
            egress: Vec::new(),
            ingress: None,
            metrics: d.metrics.as_ref().map(|m| self.metrics(m, &ports)),
            thresholds: self.thresholds(
                d.thresholds.as_ref(),
                &name.value,
                Scope {
                    store_engine: d.engine.as_ref().map(|e| e.value.clone()),
                    serves_http: false,
                    has_storage: true,
                    has_replicas: count(&d.read_replicas, 0) > 0,
                },
            ),
            team: self.platform_team.clone(),
            security: security(d.security.as_ref()),
            compose_healthcheck: compose_healthcheck(d.compose.as_ref()),
            placement: None,
            shutdown: ShutdownPolicy::default(),
            annotations: BTreeMap::new(),
            image_pull_secrets: Vec::new(),
            peer_port: None,
            sidecars: Vec::new(),
            buckets: Vec::new(),
            init: Vec::new(),
            ports,
        }
    }

    /// A store's arguments: as written, and for a PostgreSQL store that runs as a
    /// StatefulSet (no operator here) its `parameters` as `-c name=value`, which the
    /// official image passes to the server. The operator's `Cluster` carries them itself.
    fn store_args(&self, d: &spec::DataStore) -> Vec<String> {
        let mut args = strings(d.args.as_deref());
        if !self.operator && d.engine.as_ref().is_some_and(|e| e.value == "postgres") {
            for (k, v) in parameters(d) {
                args.push("-c".to_owned());
                args.push(format!("{k}={v}"));
            }
        }
        args
    }

    fn managed(&self, name: &Sp<String>, d: &spec::DataStore) -> ManagedStore {
        let m = d.managed.clone().unwrap_or_default();
        let secrets = secrets(d.secrets.as_ref(), &name.value);
        let environment = self.env(d.env.as_ref());
        let store_env = |k: &str| environment.get(k).cloned();
        ManagedStore {
            name: name.value.clone(),
            engine: text(&d.engine).unwrap_or_default(),
            version: text(&d.version).unwrap_or_default(),
            instance_class: text(&m.instance_class),
            multi_az: m.multi_az.as_ref().is_some_and(|v| v.value),
            deletion_protection: m.deletion_protection.as_ref().is_none_or(|v| v.value),
            storage: d
                .storage
                .as_ref()
                .and_then(|s| s.size.as_ref())
                .and_then(|q| units::parse_bytes(&q.value.0).ok())
                .unwrap_or(STORAGE),
            read_replicas: count(&d.read_replicas, 0),
            replicas: count(&d.replicas, REPLICAS),
            backup: backup(d.backup.as_ref()),
            ports: ports(d.ports.as_deref()),
            auth: secrets
                .values()
                .next()
                .cloned()
                .unwrap_or_else(|| SecretRef {
                    secret: naming::store_credentials(&name.value),
                    key: CREDENTIALS_KEY.to_owned(),
                }),
            parameters: parameters(d),
            database: store_env("POSTGRES_DB").unwrap_or_else(|| name.value.clone()),
            username: store_env("POSTGRES_USER").unwrap_or_else(|| name.value.clone()),
            secrets,
            cloud_name: naming::cloud_store_name(&self.platform_name, &self.env_name, &name.value),
            region: self.region.clone().unwrap_or_default(),
        }
    }

    /// The factor a replica count is scaled by: the environment's `replica_scale`, or 1 for a
    /// count the environment writes itself ([`spec::Written`]).
    fn replica_factor(&self, written: bool) -> f64 {
        if written {
            1.0
        } else {
            self.replica_scale
        }
    }

    fn autoscaler(&self, a: &spec::Autoscaling, written: spec::Written) -> Autoscaler {
        let min = scale_count(
            count(&a.min, AUTOSCALE_MIN),
            self.replica_factor(written.autoscale_min),
        );
        // Without a maximum the bound is the (already scaled) minimum, not scaled again.
        let max = match &a.max {
            Some(_) => scale_count(
                count(&a.max, min),
                self.replica_factor(written.autoscale_max),
            ),
            None => min,
        }
        .max(min);
        Autoscaler {
            min,
            max,
            cpu: a.cpu.as_ref().and_then(|v| u32::try_from(v.value).ok()),
            memory: a.memory.as_ref().and_then(|v| u32::try_from(v.value).ok()),
            pod_metrics: a
                .metrics
                .iter()
                .flatten()
                .map(|m| (m.name.value.clone(), m.target.value.0.clone()))
                .collect(),
            scale_up: a.scale_up.as_ref().map(behavior),
            scale_down: a.scale_down.as_ref().map(behavior),
        }
    }

    fn resources(&self, r: Option<&spec::Resources>, written: spec::Written) -> Resources {
        let get = |f: fn(&spec::Resources) -> Option<&spec::ResourceAmounts>, cpu: bool| {
            r.and_then(f).and_then(|a| {
                if cpu {
                    a.cpu.as_ref()
                } else {
                    a.memory.as_ref()
                }
            })
        };
        let cpu = |q: Option<&Sp<spec::Quantity>>, d: i64| {
            q.and_then(|q| units::parse_cpu(&q.value.0).ok())
                .unwrap_or(d)
        };
        let mem = |q: Option<&Sp<spec::Quantity>>, d: i128| {
            q.and_then(|q| units::parse_bytes(&q.value.0).ok())
                .unwrap_or(d)
        };
        let mut cpu_request = cpu(get(|r| r.requests.as_ref(), true), CPU_REQUEST);
        let mut cpu_limit = cpu(get(|r| r.limits.as_ref(), true), CPU_LIMIT);
        let mut memory_request = mem(get(|r| r.requests.as_ref(), false), MEMORY_REQUEST);
        let mut memory_limit = mem(get(|r| r.limits.as_ref(), false), MEMORY_LIMIT);
        // A request given without a limit above it would otherwise exceed the default limit.
        cpu_limit = cpu_limit.max(cpu_request);
        memory_limit = memory_limit.max(memory_request);
        if self.resource_scale != 1.0 {
            let f = self.resource_scale;
            // An amount the environment writes itself is taken as written.
            let scale_cpu = |m: i64, written: bool| {
                if written {
                    m
                } else {
                    ((m as f64 * f).ceil() as i64).max(1)
                }
            };
            // Memory scales to whole mebibytes, rounded up, so quantities stay readable.
            let scale_mem = |b: i128, written: bool| {
                if written {
                    b
                } else {
                    (((b as f64 * f) / (1 << 20) as f64).ceil() as i128).max(1) << 20
                }
            };
            cpu_request = scale_cpu(cpu_request, written.cpu_request);
            cpu_limit = scale_cpu(cpu_limit, written.cpu_limit);
            memory_request = scale_mem(memory_request, written.memory_request);
            memory_limit = scale_mem(memory_limit, written.memory_limit);
        }
        Resources {
            cpu_request,
            cpu_limit,
            memory_request,
            memory_limit,
        }
    }

    fn ingress(&self, i: &spec::Ingress, ports: &[Port]) -> Ingress {
        let substitute = |host: String| match &self.domain {
            Some(d) => host.replace("{domain}", d),
            None => host,
        };
        Ingress {
            host: substitute(text(&i.host).unwrap_or_default()),
            path: text(&i.path).unwrap_or_else(|| INGRESS_PATH.to_owned()),
            port: port_ref(i.port.as_ref(), ports),
            tls: i.tls.as_ref().is_none_or(|t| t.value),
            redirect_from: i
                .redirect_from
                .iter()
                .flatten()
                .map(|h| substitute(h.value.clone()))
                .collect(),
        }
    }

    fn metrics(&self, m: &spec::Metrics, ports: &[Port]) -> Metrics {
        Metrics {
            path: text(&m.path).unwrap_or_else(|| METRICS_PATH.to_owned()),
            port: port_ref(m.port.as_ref(), ports),
            interval_ms: ms(&m.interval, self.scrape_interval_ms),
            bearer: None,
            names: metric_names(m, self.metric_names),
        }
    }

    /// Global thresholds with the workload's own merged over them, in name order.
    fn thresholds(
        &self,
        own: Option<&BTreeMap<Sp<String>, spec::Threshold>>,
        service: &str,
        scope: Scope,
    ) -> Vec<Threshold> {
        use crate::spec::Overlay;
        let mut merged: BTreeMap<String, spec::Threshold> = BTreeMap::new();
        let mut scratch = Origins::ignoring();
        // Platform-wide thresholds apply only where they mean something (no error rate for a
        // database, no disk alert without a disk); a workload's own thresholds always apply.
        let global = self
            .global_thresholds
            .iter()
            .filter(|(k, t)| scope.applies(&k.value, t.expr.is_some()));
        for (k, t) in global.chain(own.into_iter().flatten()) {
            merged
                .entry(k.value.clone())
                .or_default()
                .overlay(t, &Layer::Spec, "", &mut scratch);
        }
        // A data store's pack thresholds apply unless the spec mentions them (to change the
        // levels, or to turn them off with `enabled = false`).
        let pack: Vec<Threshold> = scope
            .pack()
            .iter()
            .filter(|(name, _)| !merged.contains_key(*name))
            .map(|(name, (warning, critical))| Threshold {
                name: (*name).to_owned(),
                expr: None,
                warning: Some(*warning),
                critical: Some(*critical),
                for_ms: THRESHOLD_FOR_MS,
                summary: None,
            })
            .collect();
        let mut out: Vec<Threshold> = merged
            .into_iter()
            .filter(|(_, t)| t.enabled.as_ref().is_none_or(|e| e.value))
            .map(|(name, t)| {
                let kind = BUILTIN_THRESHOLDS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(LevelKind::Number, |(_, k)| *k);
                let level = |l: &Option<Sp<spec::Level>>| {
                    l.as_ref().and_then(|l| parse_level(&l.value.0, kind).ok())
                };
                Threshold {
                    expr: t.expr.as_ref().map(|e| {
                        e.value
                            .replace("{service}", service)
                            .replace("{namespace}", &self.namespace)
                    }),
                    warning: level(&t.warning),
                    critical: level(&t.critical),
                    for_ms: ms(&t.for_, THRESHOLD_FOR_MS),
                    summary: text(&t.summary),
                    name,
                }
            })
            .collect();
        out.extend(pack);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// What a workload is, for deciding which platform-wide thresholds apply to it.
struct Scope {
    store_engine: Option<String>,
    serves_http: bool,
    has_storage: bool,
    has_replicas: bool,
}

impl Scope {
    fn applies(&self, threshold: &str, custom: bool) -> bool {
        let engine = self.store_engine.as_deref();
        match threshold {
            "cpu" | "memory" => true,
            "error_rate" | "latency_p95" => self.serves_http,
            "disk" => self.has_storage,
            "db_connections" => engine == Some("postgres"),
            "replication_lag" => engine == Some("postgres") && self.has_replicas,
            "redis_memory" => engine == Some("redis"),
            _ => custom && self.store_engine.is_none(),
        }
    }

    /// Thresholds a data store gets by default, with their (warning, critical) levels.
    fn pack(&self) -> Vec<(&'static str, (f64, f64))> {
        let mut pack = Vec::new();
        match self.store_engine.as_deref() {
            Some("postgres") => {
                pack.push(("db_connections", PACK_DB_CONNECTIONS));
                if self.has_replicas {
                    pack.push(("replication_lag", PACK_REPLICATION_LAG));
                }
            }
            Some("redis") => pack.push(("redis_memory", PACK_REDIS_MEMORY)),
            _ => {}
        }
        pack
    }
}

fn egress(e: Option<&[spec::Egress]>) -> Vec<Egress> {
    e.unwrap_or_default()
        .iter()
        .map(|e| Egress {
            cidr: e.cidr.value.clone(),
            ports: e
                .ports
                .iter()
                .filter_map(|p| u16::try_from(p.value).ok())
                .collect(),
        })
        .collect()
}

fn volumes(v: Option<&[spec::Volume]>) -> Vec<Volume> {
    v.unwrap_or_default()
        .iter()
        .map(|v| Volume {
            name: v.name.value.clone(),
            path: v.path.value.clone(),
            size: v
                .size
                .as_ref()
                .and_then(|q| units::parse_bytes(&q.value.0).ok()),
        })
        .collect()
}

fn strings(v: Option<&[Sp<String>]>) -> Vec<String> {
    v.unwrap_or_default()
        .iter()
        .map(|s| s.value.clone())
        .collect()
}

fn ports(p: Option<&[spec::Port]>) -> Vec<Port> {
    p.unwrap_or_default()
        .iter()
        .map(|p| Port {
            name: p.name.value.clone(),
            port: u16::try_from(p.port.value).unwrap_or(0),
            protocol: p.protocol.as_ref().map_or(Protocol::Tcp, |x| x.value),
        })
        .collect()
}

/// Resolves a port reference; the first port when none is given.
fn port_ref(r: Option<&Sp<spec::PortRef>>, ports: &[Port]) -> Port {
    let found = match r.map(|r| &r.value) {
        Some(spec::PortRef::Name(n)) => ports.iter().find(|p| &p.name == n),
        Some(spec::PortRef::Number(n)) => ports.iter().find(|p| i64::from(p.port) == *n),
        None => ports.first(),
    };
    found.cloned().unwrap_or(Port {
        name: "http".to_owned(),
        port: 80,
        protocol: Protocol::Tcp,
    })
}

fn probes(p: Option<&spec::Probes>, ports: &[Port]) -> Probes {
    let one = |p: &Option<spec::Probe>| {
        p.as_ref().map(|p| Probe {
            action: match (&p.path, &p.command) {
                (_, Some(cmd)) => ProbeAction::Exec(cmd.iter().map(|c| c.value.clone()).collect()),
                (Some(path), None) => ProbeAction::Http {
                    path: path.value.clone(),
                    port: port_ref(p.port.as_ref(), ports),
                },
                (None, None) => ProbeAction::Tcp(port_ref(p.port.as_ref(), ports)),
            },
            initial_delay: secs(&p.initial_delay, 0),
            period: secs(&p.period, PROBE_PERIOD),
            timeout: secs(&p.timeout, PROBE_TIMEOUT),
            failure_threshold: count(&p.failure_threshold, PROBE_FAILURES),
        })
    };
    match p {
        None => Probes::default(),
        Some(p) => Probes {
            liveness: one(&p.liveness),
            readiness: one(&p.readiness),
            startup: one(&p.startup),
        },
    }
}

fn int_or_percent(v: &Option<Sp<spec::IntOrPercent>>, default: IntOrPercent) -> IntOrPercent {
    v.as_ref()
        .and_then(|v| units::parse_int_or_percent(&v.value.0).ok())
        .unwrap_or(default)
}

/// The update strategy of a workload of `kind`: only web services and workers become
/// Argo Rollouts (`check` reports a strategy on other kinds, E220).
fn rollout(r: Option<&spec::Rollout>, kind: Kind) -> Rollout {
    let long_running = matches!(kind, Kind::Web | Kind::Worker);
    Rollout {
        max_surge: r.map_or(MAX_SURGE, |r| int_or_percent(&r.max_surge, MAX_SURGE)),
        max_unavailable: r.map_or(MAX_UNAVAILABLE, |r| {
            int_or_percent(&r.max_unavailable, MAX_UNAVAILABLE)
        }),
        strategy: r
            .filter(|_| long_running)
            .map_or(Strategy::Rolling, strategy),
    }
}

/// The update strategy; steps and durations that do not parse (reported by `check`) fall
/// back to the defaults, so lowering stays total.
fn strategy(r: &spec::Rollout) -> Strategy {
    let seconds = |d: &Sp<String>| units::parse_duration(&d.value).ok().map(|ms| ms / 1000);
    match r.strategy.as_ref().map(|s| s.value) {
        None | Some(spec::RolloutStrategy::Rolling) => Strategy::Rolling,
        Some(spec::RolloutStrategy::Canary) => {
            let steps = match &r.steps {
                Some(steps) if !steps.is_empty() => steps
                    .iter()
                    .map(|s| CanaryStep {
                        weight: s.weight.value.clamp(0, 100) as u8,
                        pause: match &s.pause {
                            None => Pause::None,
                            Some(p) if p.value == "manual" => Pause::Manual,
                            Some(p) => seconds(p).map_or(Pause::Manual, Pause::Seconds),
                        },
                    })
                    .collect(),
                _ => CANARY_STEPS
                    .iter()
                    .map(|&(weight, s)| CanaryStep {
                        weight,
                        pause: Pause::Seconds(s),
                    })
                    .collect(),
            };
            Strategy::Canary { steps }
        }
        Some(spec::RolloutStrategy::BlueGreen) => Strategy::BlueGreen {
            auto_promote: r.auto_promote.as_ref().is_some_and(|a| a.value),
            scale_down_delay_seconds: r
                .scale_down_delay
                .as_ref()
                .and_then(seconds)
                .unwrap_or(SCALE_DOWN_DELAY_SECONDS),
        },
    }
}

/// Outlier detection's defaults where the spec leaves them out: Istio's own interval, and
/// no cap on the share of pods ejected (Envoy's default of 10% would eject nothing from a
/// service of fewer than ten pods).
const EJECTION_INTERVAL_MS: u64 = 10_000;
const MAX_EJECTION_PERCENT: u32 = 100;

/// A service's `traffic`; `check` has rejected values out of range.
fn traffic(t: &spec::Traffic) -> Traffic {
    let ms = |d: &Option<Sp<String>>| {
        d.as_ref()
            .and_then(|d| units::parse_duration(&d.value).ok())
    };
    let n = |v: &Option<Sp<i64>>| v.as_ref().and_then(|v| u32::try_from(v.value).ok());
    Traffic {
        circuit_breaker: t.circuit_breaker.as_ref().map(|c| CircuitBreaker {
            consecutive_errors: n(&c.consecutive_errors).unwrap_or(5),
            ejection_ms: ms(&c.ejection).unwrap_or(30_000),
            interval_ms: ms(&c.interval).unwrap_or(EJECTION_INTERVAL_MS),
            max_ejection_percent: n(&c.max_ejection_percent).unwrap_or(MAX_EJECTION_PERCENT),
        }),
        connection_pool: t.connection_pool.as_ref().map(|p| ConnectionPool {
            max_connections: n(&p.max_connections),
            max_pending_requests: n(&p.max_pending_requests),
            max_requests_per_connection: n(&p.max_requests_per_connection),
        }),
        timeout_ms: ms(&t.timeout),
        retries: t.retries.as_ref().map(|r| Retries {
            attempts: n(&r.attempts).unwrap_or(2),
            per_try_timeout_ms: ms(&r.per_try_timeout),
        }),
    }
}

/// A budget for workloads that can run more than one replica, unless turned off; cron jobs
/// have none because their pods are meant to finish.
fn budget(b: Option<&spec::DisruptionBudget>, replicas: &Replicas, kind: Kind) -> Option<Budget> {
    if matches!(kind, Kind::Cron | Kind::Job)
        || b.and_then(|b| b.enabled.as_ref()).is_some_and(|e| !e.value)
    {
        return None;
    }
    if let Some(b) = b {
        if b.min_available.is_some() {
            return Some(Budget::MinAvailable(int_or_percent(
                &b.min_available,
                IntOrPercent::Int(1),
            )));
        }
        if b.max_unavailable.is_some() {
            return Some(Budget::MaxUnavailable(int_or_percent(
                &b.max_unavailable,
                BUDGET_MAX_UNAVAILABLE,
            )));
        }
        if b.enabled.as_ref().is_some_and(|e| e.value) {
            return Some(Budget::MaxUnavailable(BUDGET_MAX_UNAVAILABLE));
        }
    }
    let max = match replicas {
        Replicas::Fixed(n) => *n,
        Replicas::Auto(a) => a.max,
    };
    (max > 1).then_some(Budget::MaxUnavailable(BUDGET_MAX_UNAVAILABLE))
}

/// A PostgreSQL store's server parameters, by name.
fn parameters(d: &spec::DataStore) -> BTreeMap<String, String> {
    d.parameters
        .iter()
        .flatten()
        .map(|(k, v)| (k.value.clone(), v.value.0.clone()))
        .collect()
}

fn secrets(
    s: Option<&BTreeMap<Sp<String>, spec::SecretRef>>,
    name: &str,
) -> BTreeMap<String, SecretRef> {
    s.into_iter()
        .flatten()
        .map(|(k, r)| (k.value.clone(), secret_ref(r, name)))
        .collect()
}

fn secret_ref(r: &spec::SecretRef, name: &str) -> SecretRef {
    SecretRef {
        secret: r.secret.value.replace("{name}", name),
        key: r.key.value.clone(),
    }
}

fn storage(s: &spec::Storage, default_path: &str) -> Storage {
    Storage {
        size: s
            .size
            .as_ref()
            .and_then(|q| units::parse_bytes(&q.value.0).ok())
            .unwrap_or(STORAGE),
        path: text(&s.path).unwrap_or_else(|| default_path.to_owned()),
        class: text(&s.class),
    }
}

/// PgBouncer pods when the spec does not say: two, so one can restart while the other
/// serves.
const POOLER_INSTANCES: u32 = 2;

fn pooling(p: &spec::Pooling) -> Pooling {
    let positive = |v: &Option<Sp<i64>>| {
        v.as_ref()
            .and_then(|n| u32::try_from(n.value).ok())
            .filter(|n| *n > 0)
    };
    Pooling {
        mode: p.mode.as_ref().map_or(PoolMode::Transaction, |m| m.value),
        max_client_conn: positive(&p.max_client_conn),
        default_pool_size: positive(&p.default_pool_size),
        instances: positive(&p.instances).unwrap_or(POOLER_INSTANCES),
    }
}

fn backup(b: Option<&spec::Backup>) -> Option<Backup> {
    let b = b?;
    if b.schedule.is_none() && !b.continuous.as_ref().is_some_and(|c| c.value) {
        return None;
    }
    Some(Backup {
        schedule: text(&b.schedule),
        retention_ms: ms(&b.retention, 7 * 86_400_000),
        continuous: b.continuous.as_ref().is_some_and(|c| c.value),
        verify: b
            .verify
            .as_ref()
            .map(|v| units::verify_schedule(&v.value).unwrap_or_else(|| v.value.clone())),
    })
}

fn behavior(b: &spec::ScalingBehavior) -> Behavior {
    Behavior {
        stabilization_seconds: b
            .stabilization
            .as_ref()
            .and_then(|s| units::parse_duration(&s.value).ok())
            .map(|ms| (ms / 1000) as u32),
        select: b.select.as_ref().map_or(SelectPolicy::Max, |s| s.value),
        policies: b
            .policies
            .iter()
            .flatten()
            .map(|p| Policy {
                kind: p.kind.value,
                value: u32::try_from(p.value.value).unwrap_or(1),
                period_seconds: units::parse_duration(&p.period.value)
                    .map_or(60, |ms| (ms / 1000) as u32),
            })
            .collect(),
    }
}

fn security(s: Option<&spec::Security>) -> Security {
    let flag = |f: fn(&spec::Security) -> &Option<Sp<bool>>, d: bool| {
        s.and_then(|s| f(s).as_ref()).map_or(d, |v| v.value)
    };
    let allow_root = flag(|s| &s.allow_root, false);
    Security {
        run_as_user: s
            .and_then(|s| s.run_as_user.as_ref())
            .map_or(if allow_root { 0 } else { RUN_AS_USER }, |u| u.value),
        read_only_root_filesystem: flag(|s| &s.read_only_root_filesystem, true),
        allow_root,
        service_account_token: flag(|s| &s.service_account_token, false),
        add_capabilities: s
            .map(|s| strings(s.add_capabilities.as_deref()))
            .unwrap_or_default(),
    }
}

fn compose_healthcheck(c: Option<&spec::WorkloadCompose>) -> Option<ComposeHealthcheck> {
    c.and_then(|c| c.healthcheck.as_ref())
        .map(|h| match &h.value {
            spec::ComposeHealthcheck::Client(client) => ComposeHealthcheck::Http(*client),
            spec::ComposeHealthcheck::Command(cmd) => ComposeHealthcheck::Command(cmd.clone()),
        })
}

fn lower_cloud(c: &spec::Cloud, env: &str, platform: &str) -> Cloud {
    let state = c.state.clone().unwrap_or_default();
    let cluster = c.cluster.clone().unwrap_or_default();
    let network = c.network.clone().unwrap_or_default();
    Cloud {
        provider: "aws".to_owned(),
        region: text(&c.region).unwrap_or_else(|| "us-east-1".to_owned()),
        state: StateBackend {
            bucket: text(&state.bucket)
                .unwrap_or_else(|| crate::units::default_state_bucket(platform)),
            key: crate::units::state_key(
                &text(&state.key).unwrap_or_else(|| crate::units::DEFAULT_STATE_KEY.to_owned()),
                env,
            ),
            lock_table: text(&state.lock_table)
                .unwrap_or_else(|| format!("{platform}-terraform-locks")),
            bucket_named: state.bucket.is_some(),
        },
        cluster: Cluster {
            version: text(&cluster.version).unwrap_or_else(|| CLUSTER_VERSION.to_owned()),
            node_groups: cluster
                .node_groups
                .iter()
                .map(|(name, g)| {
                    let min = count(&g.min, 1);
                    let max = count(&g.max, min).max(min);
                    NodeGroup {
                        name: name.value.clone(),
                        instance_types: strings(g.instance_types.as_deref()),
                        min,
                        max,
                        desired: count(&g.desired, min).clamp(min, max),
                        spot: g.spot.as_ref().is_some_and(|s| s.value),
                        dedicated: g.dedicated.as_ref().is_some_and(|d| d.value),
                    }
                })
                .collect(),
        },
        network: Network {
            cidr: text(&network.cidr).unwrap_or_else(|| NETWORK_CIDR.to_owned()),
            azs: count(&network.azs, NETWORK_AZS),
        },
        cdn: c
            .cdn
            .as_ref()
            .and_then(|c| c.enabled.as_ref())
            .is_some_and(|e| e.value),
        cdn_cache: c
            .cdn
            .iter()
            .flat_map(|c| c.cache.iter().flatten())
            // CloudFront matches paths only: a `host` is refused (E248), never lowered.
            .map(|c| crate::ir::CacheRule {
                host: None,
                ..cache_rule(c, None)
            })
            .collect(),
        dns: None,
    }
}

/// A cache rule of Cloudflare's proxy or the CDN, its host's `{domain}` replaced.
fn cache_rule(c: &spec::CacheRule, domain: Option<&str>) -> crate::ir::CacheRule {
    crate::ir::CacheRule {
        host: c.host.as_ref().map(|h| zone_host(h, domain)),
        path: c.path.value.clone(),
        edge_ttl_seconds: ttl_seconds(&c.edge_ttl),
        browser_ttl_seconds: ttl_seconds(&c.browser_ttl),
    }
}

/// A host of the zone as the spec writes it, `{domain}` replaced, lowercase.
fn zone_host(h: &Sp<String>, domain: Option<&str>) -> String {
    h.value
        .replace("{domain}", domain.unwrap_or_default())
        .to_ascii_lowercase()
}

/// A cache TTL in whole seconds; `None` when unset (or invalid, which `check` reports).
fn ttl_seconds(v: &Option<crate::spec::Sp<String>>) -> Option<u64> {
    v.as_ref()
        .and_then(|t| crate::units::parse_duration(&t.value).ok())
        .map(|ms| ms / 1000)
}

/// Default TTL of a listed DNS record, in seconds: short enough to move a record within
/// minutes, long enough to keep resolvers' load low.
const DNS_TTL_SECONDS: u64 = 300;

/// An environment's DNS, names made absolute; `None` without a zone (the checker has said
/// why the section is incomplete).
fn lower_dns(d: &spec::Dns, domain: Option<&str>) -> Option<crate::ir::Dns> {
    let zone = text(&d.zone)?.trim_end_matches('.').to_ascii_lowercase();
    let records = d
        .records
        .iter()
        .map(|r| {
            let written = r.name.value.to_ascii_lowercase();
            let name = if written == "@" {
                zone.clone()
            } else if let Some(absolute) = written.strip_suffix('.') {
                absolute.to_owned()
            } else if written == zone || written.ends_with(&format!(".{zone}")) {
                written
            } else {
                format!("{written}.{zone}")
            };
            crate::ir::DnsRecord {
                name,
                kind: r.kind.value.as_str(),
                values: r.values.iter().map(|v| v.value.trim().to_owned()).collect(),
                ttl_seconds: r
                    .ttl
                    .as_ref()
                    .and_then(|t| crate::units::parse_duration(&t.value).ok())
                    .map_or(DNS_TTL_SECONDS, |ms| ms / 1000),
                proxied: r.proxied.as_ref().is_some_and(|p| p.value),
            }
        })
        .collect();
    let health_checks = d.health_checks.as_ref().map(|h| crate::ir::HealthChecks {
        path: text(&h.path),
        interval_seconds: h
            .interval
            .as_ref()
            .and_then(|i| crate::units::parse_duration(&i.value).ok())
            .and_then(|ms| u32::try_from(ms / 1000).ok())
            .unwrap_or(HEALTH_CHECK_INTERVAL_SECONDS),
        failure_threshold: h
            .failure_threshold
            .as_ref()
            .map_or(HEALTH_CHECK_FAILURE_THRESHOLD, |t| t.value),
    });
    let certificates = d.certificates.as_ref().map(|c| crate::ir::DnsCertificates {
        wildcard: c.wildcard.as_ref().is_some_and(|w| w.value),
        renew_before_seconds: c
            .renew_before
            .as_ref()
            .and_then(|r| crate::units::parse_duration(&r.value).ok())
            .map(|ms| ms / 1000),
    });
    let provider = match d.provider.as_ref().map(|p| p.value) {
        Some(crate::spec::DnsProvider::Cloudflare) => crate::ir::DnsProvider::Cloudflare {
            api_token: d.api_token.as_ref().map(|token| SecretRef {
                secret: token.secret.value.clone(),
                key: token.key.value.clone(),
            }),
            cluster_token: d.cluster_token.as_ref().map(|t| SecretRef {
                secret: t.secret.value.clone(),
                key: t.key.value.clone(),
            }),
            proxy: d.proxy.as_ref().map(|p| crate::ir::DnsProxy {
                waf: p.waf.as_ref().is_some_and(|w| w.value),
                cache: p.cache.iter().map(|c| cache_rule(c, domain)).collect(),
                assets: p.assets.as_ref().map(|a| zone_host(&a.host, domain)),
            }),
        },
        // Without a token `check` reports E246 and nothing is built.
        _ => crate::ir::DnsProvider::Route53,
    };
    Some(crate::ir::Dns {
        zone,
        records,
        dnssec: d.dnssec.as_ref().is_some_and(|s| s.value),
        health_checks,
        certificates,
        provider,
    })
}

/// Default time between two requests of a Route 53 health checker: the standard interval
/// (10 seconds costs more and is for failover within seconds, which plinth does not do).
const HEALTH_CHECK_INTERVAL_SECONDS: u32 = 30;

/// Default failures in a row before a host is unhealthy: Route 53's own default, so one
/// lost request does not raise the alarm.
const HEALTH_CHECK_FAILURE_THRESHOLD: u32 = 3;

/// The request metric names of an endpoint: its own, else the platform's, else the
/// defaults. Without a histogram name, the unit chooses the conventional one.
fn metric_names(m: &spec::Metrics, platform: Option<&spec::MetricNames>) -> MetricNames {
    let pick = |own: &Option<Sp<String>>, of: fn(&spec::MetricNames) -> &Option<Sp<String>>| {
        text(own).or_else(|| platform.and_then(|p| text(of(p))))
    };
    let unit = m
        .latency_unit
        .as_ref()
        .or_else(|| platform.and_then(|p| p.latency_unit.as_ref()))
        .map_or(spec::LatencyUnit::Seconds, |u| u.value);
    let buckets = m
        .buckets
        .as_ref()
        .or_else(|| platform.and_then(|p| p.buckets.as_ref()));
    MetricNames {
        requests: pick(&m.requests, |p| &p.requests).unwrap_or_else(|| REQUESTS_METRIC.to_owned()),
        status_label: pick(&m.status_label, |p| &p.status_label)
            .unwrap_or_else(|| STATUS_LABEL.to_owned()),
        latency: pick(&m.latency, |p| &p.latency).unwrap_or_else(|| {
            match unit {
                spec::LatencyUnit::Seconds => LATENCY_METRIC_SECONDS,
                spec::LatencyUnit::Milliseconds => LATENCY_METRIC_MILLISECONDS,
            }
            .to_owned()
        }),
        latency_per_second: match unit {
            spec::LatencyUnit::Seconds => 1.0,
            spec::LatencyUnit::Milliseconds => 1000.0,
        },
        buckets: buckets
            .map(|b| b.iter().map(|v| v.value).collect())
            .unwrap_or_default(),
    }
}

/// Alertmanager's size: the spec's, else one replica keeping Alertmanager's default 120h in
/// the pod.
fn lower_alertmanager_size(a: Option<&spec::AlertmanagerSize>) -> AlertmanagerSize {
    let a = a.cloned().unwrap_or_default();
    AlertmanagerSize {
        replicas: a.replicas.as_ref().map_or(1, |r| r.value.max(1)),
        retention_ms: ms(&a.retention, ALERTMANAGER_RETENTION_MS),
        storage_bytes: a
            .storage
            .as_ref()
            .and_then(|q| units::parse_bytes(&q.value).ok()),
    }
}

fn lower_observability(spec: &spec::Spec, scrape_interval_ms: u64) -> Observability {
    let o = &spec.observability;
    let bytes = |q: &Option<Sp<String>>| q.as_ref().and_then(|q| units::parse_bytes(&q.value).ok());
    let storage_bytes = bytes(&o.storage);
    // Without a retention of its own, Prometheus keeps the longest SLO window, so that the
    // SLO's own ratio can be computed at all.
    let longest_slo = o
        .slos
        .values()
        .map(|s| ms(&s.window, SLO_WINDOW_MS))
        .max()
        .unwrap_or(0);
    Observability {
        scrape_interval_ms,
        retention_ms: ms(&o.retention, RETENTION_MS.max(longest_slo)),
        retention_bytes: bytes(&o.retention_size)
            .or_else(|| storage_bytes.map(|s| s * RETENTION_SIZE_PERCENT / 100)),
        storage_bytes,
        replicas: o.replicas.as_ref().map_or(1, |r| r.value.max(1)),
        alertmanager: lower_alertmanager_size(o.alertmanager.as_ref()),
        runbook_url: text(&o.runbook_url),
        logs: o.logs.as_ref().map(|l| l.value.as_str().to_owned()),
        rules: o
            .rules
            .iter()
            .map(|r| AlertRule {
                name: r.name.value.clone(),
                expr: r.expr.value.clone(),
                for_ms: ms(&r.for_, 0),
                severity: r.severity.value,
                summary: text(&r.summary),
                description: text(&r.description),
                team: text(&r.team).or_else(|| text(&spec.platform.team)),
            })
            .collect(),
        slos: o
            .slos
            .iter()
            .map(|(name, s)| Slo {
                name: name.value.clone(),
                service: s.service.value.clone(),
                objective: s.objective.value / 100.0,
                window_ms: ms(&s.window, SLO_WINDOW_MS),
                good: s.good.value.clone(),
                total: s.total.value.clone(),
                description: text(&s.description),
            })
            .collect(),
    }
}

fn lower_alerting(a: &spec::Alerting) -> Alerting {
    let sref = |r: &Option<spec::SecretRef>| {
        r.as_ref().map(|r| secret_ref(r, "")).unwrap_or(SecretRef {
            secret: String::new(),
            key: String::new(),
        })
    };
    Alerting {
        receivers: a
            .receivers
            .iter()
            .map(|(name, r)| Receiver {
                name: name.value.clone(),
                kind: match r.kind.value {
                    spec::ReceiverKind::Pagerduty => ReceiverKind::Pagerduty {
                        routing_key: sref(&r.routing_key),
                    },
                    spec::ReceiverKind::Slack => ReceiverKind::Slack {
                        webhook_url: sref(&r.webhook_url),
                        channel: text(&r.channel).unwrap_or_default(),
                    },
                    spec::ReceiverKind::Email => ReceiverKind::Email {
                        to: text(&r.to).unwrap_or_default(),
                        from: text(&r.from).unwrap_or_default(),
                        smarthost: text(&r.smarthost).unwrap_or_default(),
                        password: r.password.as_ref().map(|p| secret_ref(p, "")),
                    },
                    spec::ReceiverKind::Webhook => ReceiverKind::Webhook { url: sref(&r.url) },
                },
                send_resolved: r.send_resolved.as_ref().is_none_or(|s| s.value),
            })
            .collect(),
        routes: a
            .routes
            .iter()
            .map(|r| Route {
                matchers: r
                    .matchers
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.clone()))
                    .collect(),
                receiver: r.receiver.value.clone(),
                continue_: r.continue_.as_ref().is_some_and(|c| c.value),
            })
            .collect(),
        default_receiver: text(&a.default_receiver),
        group_by: a
            .group_by
            .as_ref()
            .map(|g| strings(Some(g)))
            .unwrap_or_else(|| GROUP_BY.iter().map(|s| (*s).to_owned()).collect()),
        group_wait_ms: ms(&a.group_wait, GROUP_WAIT_MS),
        group_interval_ms: ms(&a.group_interval, GROUP_INTERVAL_MS),
        repeat_interval_ms: ms(&a.repeat_interval, REPEAT_INTERVAL_MS),
    }
}
