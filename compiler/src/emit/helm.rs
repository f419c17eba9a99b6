//! Helm: the platform as one chart plus values per environment, equivalent to the raw
//! manifests of the `k8s` target.
//!
//! Layout, all under `helm/`:
//!
//! - `<platform>/Chart.yaml`: generated (name = platform, fixed version `0.1.0`);
//! - `<platform>/templates/*`: the generic application chart of the stdlib, copied as is;
//! - `<platform>/values.schema.json`: generated from the typed values ([`values::Values`]), so
//!   Helm rejects unknown keys and wrong types;
//! - `<platform>/values.yaml`: what every environment shares (the chart's defaults);
//! - `<platform>/values-<env>.yaml`: what differs, including `environment`, which the chart
//!   needs to render anything;
//! - `values-<chart>-<env>.yaml`: values for upstream charts the spec asks for (Loki, Alloy,
//!   kube-prometheus-stack), see [`upstream`].
//!
//! Rendering the chart with `-f values-<env>.yaml` (the chart's `values.yaml` always applies
//! first) gives the objects of `k8s/<env>/` except the Namespace, which must exist before a
//! release is installed into it; `compiler/tests/helm.rs` renders every example and compares.
//!
//! Values are the IR rendered as data. Shared and per-environment files are split from the
//! full values of every environment: a key goes to `values.yaml` when all environments agree
//! on it (maps recursively, lists and scalars whole), and Helm's merge of the two files gives
//! back exactly the environment's values.

pub mod upstream;
pub mod values;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::{hash_banner, to_yaml, EmitError, Emitted, OutputFile, Shared};
use crate::ir::{self, naming, Environment, Kind, ProbeAction, Replicas, Workload};
use crate::stdlib;
use crate::units::{format_bytes, format_cpu, format_duration, IntOrPercent};
use values::*;

/// Version of every generated chart. Fixed so output never depends on when or by which
/// plinth it was built; the chart is versioned with the spec that produced it.
pub const CHART_VERSION: &str = "0.1.0";

/// The keys only an environment's own file may hold, even when every environment agrees.
const ENVIRONMENT_ONLY: &[&str] = &["environment"];

/// Emits the chart, the shared values and the values of every environment in `envs`.
///
/// The shared `values.yaml` is computed over all environments of the platform, not only the
/// selected ones, so building one environment never rewrites the chart's defaults.
pub fn emit(build: &Shared, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let platform = build.platform();
    let mut out = Emitted::default();
    if envs.is_empty() {
        return Ok(out);
    }
    let banner = hash_banner(platform);
    let file = |path: String, contents: String| OutputFile { path, contents };

    out.files.push(file(
        naming::helm_chart_file(&platform.name, "Chart.yaml"),
        format!("{banner}{}", to_yaml(&[chart_file(platform)])?),
    ));
    // Templates are Go templates: the banner goes in a template comment, which renders to
    // nothing, so it never becomes an empty manifest.
    for (rel, text) in stdlib::HELM_APP_CHART {
        out.files.push(file(
            naming::helm_chart_file(&platform.name, rel),
            format!(
                "{{{{- /* {} */ -}}}}\n{text}",
                naming::banner(&platform.spec_path)
            ),
        ));
    }
    out.files.push(file(
        naming::helm_chart_file(&platform.name, "values.schema.json"),
        values_schema(platform)?,
    ));

    let full: Vec<(&Environment, Json)> = platform
        .environments
        .iter()
        .map(|e| Ok((e, to_json(&values_with(build, e)?)?)))
        .collect::<Result<_, EmitError>>()?;
    let trees: Vec<&Json> = full.iter().map(|(_, v)| v).collect();
    let mut shared = common(&trees).unwrap_or_else(|| Json::Object(Map::new()));
    if let Json::Object(m) = &mut shared {
        for k in ENVIRONMENT_ONLY {
            m.remove(*k);
        }
    }
    let release = naming::helm_release(&platform.name);
    let chart = naming::helm_chart_dir(&platform.name);
    out.files.push(file(
        naming::helm_chart_file(&platform.name, "values.yaml"),
        format!(
            "{banner}# Shared by every environment; renders nothing by itself. Deploy one with\n\
             #   helm upgrade --install {release} {chart} --namespace NAMESPACE -f {chart}/values-ENV.yaml\n{}",
            to_yaml(&[&shared])?
        ),
    ));
    for (env, tree) in &full {
        if !envs.iter().any(|e| e.name == env.name) {
            continue;
        }
        let own = difference(tree, &shared).unwrap_or_else(|| Json::Object(Map::new()));
        out.files.push(file(
            naming::helm_values_file(&platform.name, &env.name),
            format!(
                "{banner}# Environment `{env_name}`, over the chart's values.yaml. The namespace must exist first\n\
                 # (the Namespace of k8s/{env_name}/namespace.yaml, with its Pod Security label):\n\
                 #   helm upgrade --install {release} {chart} --namespace {ns} -f {file}\n{}",
                to_yaml(&[&own])?,
                env_name = env.name,
                ns = env.namespace,
                file = naming::helm_values_file(&platform.name, &env.name),
            ),
        ));
    }

    for env in envs {
        out.files.extend(upstream::emit(
            platform,
            env,
            &prometheus_extras(build, env)?,
        )?);
    }
    Ok(out)
}

/// What the Prometheus and Alertmanager targets give kube-prometheus-stack: the rule groups
/// of `prometheus/<env>/rules.yaml` and the configuration of
/// `alertmanager/<env>/alertmanager.yaml`, with the Secrets it reads credentials from.
fn prometheus_extras(
    build: &Shared,
    env: &Environment,
) -> Result<upstream::PrometheusExtras, EmitError> {
    let rules = build.rules(env);
    let (alertmanager_config, alertmanager_secrets) = match super::alertmanager::config_value(env)?
    {
        Some((config, secrets)) => (Some(config), secrets),
        None => (None, Vec::new()),
    };
    Ok(upstream::PrometheusExtras {
        rule_files: if rules.is_empty() {
            Vec::new()
        } else {
            vec![(
                naming::prometheus_rule(&build.platform().name),
                Arc::clone(rules.yaml()?),
            )]
        },
        alertmanager_config,
        alertmanager_secrets,
    })
}

/// `Chart.yaml` (Helm chart API v2).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChartFile {
    api_version: &'static str,
    name: String,
    description: String,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'static str,
}

fn chart_file(platform: &ir::Platform) -> ChartFile {
    ChartFile {
        api_version: "v2",
        name: platform.name.clone(),
        description: format!(
            "The {} platform: its services and in-cluster data stores, one environment per values file",
            platform.name
        ),
        kind: "application",
        version: CHART_VERSION,
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Json, EmitError> {
    serde_json::to_value(v).map_err(|e| EmitError(format!("values serialization failed: {e}")))
}

/// What all `trees` agree on: objects key by key (recursively), anything else whole. `None`
/// when they agree on nothing.
fn common(trees: &[&Json]) -> Option<Json> {
    let first = trees.first()?;
    if let Json::Object(m) = first {
        let objects: Vec<&Map<String, Json>> = trees.iter().filter_map(|t| t.as_object()).collect();
        if objects.len() != trees.len() {
            return None;
        }
        let mut out = Map::new();
        for key in m.keys() {
            let values: Option<Vec<&Json>> = objects.iter().map(|o| o.get(key)).collect();
            if let Some(c) = values.and_then(|v| common(&v)) {
                out.insert(key.clone(), c);
            }
        }
        return (!out.is_empty()).then_some(Json::Object(out));
    }
    trees.iter().all(|t| t == first).then(|| (*first).clone())
}

/// What `tree` holds beyond `shared`, such that Helm's merge of `shared` (the chart's
/// defaults) with the result gives `tree` back. `shared` must come from [`common`] over trees
/// that include `tree`, so it never holds a key `tree` lacks.
fn difference(tree: &Json, shared: &Json) -> Option<Json> {
    match (tree, shared) {
        (Json::Object(t), Json::Object(s)) => {
            let mut out = Map::new();
            for (k, v) in t {
                let d = match s.get(k) {
                    Some(sv) => difference(v, sv),
                    None => Some(v.clone()),
                };
                if let Some(d) = d {
                    out.insert(k.clone(), d);
                }
            }
            (!out.is_empty()).then_some(Json::Object(out))
        }
        _ => (tree != shared).then(|| tree.clone()),
    }
}

/// The map of a JSON object built as one (a spec plinth decided), empty for anything else.
fn object(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// The full values of one environment.
pub fn values(platform: &ir::Platform, env: &Environment) -> Result<Values, EmitError> {
    values_with(&Shared::new(platform), env)
}

/// The values of `env`, with its dashboards from the alert rules `shared` holds: the same
/// ConfigMaps as the k8s target's `dashboards.yaml`.
fn values_with(shared: &Shared, env: &Environment) -> Result<Values, EmitError> {
    let mut out = values_without_dashboards(shared, env);
    let dashboards = shared.dashboards(env)?;
    for cm in super::dashboards::config_maps(shared.platform(), env, &dashboards) {
        let (Some(name), Some((file, json))) =
            (cm.metadata.name, cm.data.and_then(|d| d.into_iter().next()))
        else {
            continue;
        };
        out.dashboards.insert(
            name,
            DashboardValues {
                labels: cm.metadata.labels.unwrap_or_default(),
                file,
                json,
            },
        );
    }
    Ok(out)
}

/// The values of `env` but its dashboards.
fn values_without_dashboards(shared: &Shared, env: &Environment) -> Values {
    let platform = shared.platform();
    let mut out = Values {
        environment: Some(env.name.clone()),
        platform: platform.name.clone(),
        common_labels: naming::common_labels(&platform.name, env),
        cluster: ClusterValues {
            ingress_class: env.cluster.ingress_class.clone(),
            ingress_namespace: env.cluster.ingress_namespace.clone(),
            ingress_pods: env.cluster.edge_pods.clone(),
            tls_issuer: env.cluster.tls_issuer.clone(),
            tls_renew_before: super::gateway::renew_before(env),
            ingress_annotations: super::gateway::origin_annotations(env, true)
                .filter(|_| env.cluster.edge == ir::Edge::Ingress)
                .unwrap_or_default(),
            monitoring_namespace: env.cluster.monitoring_namespace.clone(),
        },
        managed_stores: BTreeMap::new(),
        services: BTreeMap::new(),
        datastores: BTreeMap::new(),
        postgres_clusters: BTreeMap::new(),
        quota: env.quota.as_ref().map(|q| QuotaValues {
            hard: super::k8s::quota_hard(q),
            default_limits: super::k8s::default_amounts(ir::CPU_LIMIT, ir::MEMORY_LIMIT),
            default_requests: super::k8s::default_amounts(ir::CPU_REQUEST, ir::MEMORY_REQUEST),
        }),
        external_secrets: external_secrets(platform, env),
        cluster_issuer: super::cluster::issuer(platform, env).map(|i| ClusterIssuerValues {
            server: ir::ACME_SERVER.to_owned(),
            email: i.email,
            account_key_secret: naming::acme_account_key(&i.name),
            solvers: i.solvers,
        }),
        gateway: super::gateway::edge(platform, env).map(|e| GatewayValues {
            name: e.name.clone(),
            class_name: e.class.clone(),
            class_spec: e.class_spec.clone().map(object),
            annotations: super::gateway::annotations(&e).unwrap_or_default(),
            spec: object(super::gateway::gateway_spec(&e)),
            routes: env
                .workloads
                .iter()
                .filter_map(|w| {
                    let i = w.ingress.as_ref()?;
                    Some((w.name.clone(), object(super::gateway::route_spec(&e, w, i))))
                })
                .collect(),
            route_annotations: super::gateway::origin_annotations(env, false).unwrap_or_default(),
            redirects: super::gateway::redirects(&e)
                .into_iter()
                .map(|(name, spec)| (name, object(spec)))
                .collect(),
            proxy_policy: super::k8s::gateway_policy_spec(platform, env, &e).map(|(name, spec)| {
                NamedSpecValues {
                    name,
                    spec: object(spec),
                }
            }),
            certificate: super::gateway::wildcard_certificate(&e).map(|(name, spec)| {
                NamedSpecValues {
                    name,
                    spec: object(spec),
                }
            }),
        }),
        mesh: super::mesh::peer_authentication(env).map(|pa| {
            let specs = |list: Vec<(String, Json)>| -> BTreeMap<String, Map<String, Json>> {
                list.into_iter().map(|(n, s)| (n, object(s))).collect()
            };
            MeshValues {
                peer_authentication: object(pa),
                authorization_policies: specs(super::mesh::authorization_policies(platform, env)),
                destination_rules: specs(super::mesh::destination_rules(env)),
                virtual_services: specs(super::mesh::virtual_services(env)),
            }
        }),
        dashboards: BTreeMap::new(),
    };
    // A managed store's endpoints live in the VPC; without a cloud section plinth cannot know
    // where, so its clients may reach any address on its ports.
    let cidr = env
        .cloud
        .as_ref()
        .map_or("0.0.0.0/0", |c| c.network.cidr.as_str());
    for m in &env.managed_stores {
        // S3's endpoints are public addresses of the region, outside the VPC.
        let cidr = if m.engine == "object-storage" {
            "0.0.0.0/0"
        } else {
            cidr
        };
        // S3 answers on HTTPS whatever ports the store's preset declares for MinIO.
        let ports = if m.ports.is_empty() || m.engine == "object-storage" {
            vec![NetworkPortValues {
                port: 443,
                protocol: Protocol::Tcp,
            }]
        } else {
            m.ports
                .iter()
                .map(|p| NetworkPortValues {
                    port: p.port,
                    protocol: protocol(p),
                })
                .collect()
        };
        out.managed_stores.insert(
            m.name.clone(),
            ManagedStoreValues {
                cidr: cidr.to_owned(),
                ports,
            },
        );
    }
    for w in &env.workloads {
        if super::cnpg::operated(env, w) {
            out.postgres_clusters
                .insert(w.name.clone(), postgres_cluster(platform, env, w));
            continue;
        }
        let set = if w.is_store() {
            &mut out.datastores
        } else {
            &mut out.services
        };
        set.insert(w.name.clone(), workload(shared, env, w));
    }
    out
}

/// The values of store `w`, which the CloudNativePG operator runs: the specs the k8s target
/// serializes, so both render the same objects.
fn postgres_cluster(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> PostgresClusterValues {
    let resources =
        serde_json::to_value(super::k8s::resource_requirements(&w.resources)).unwrap_or_default();
    let clients: Vec<_> = env
        .workloads
        .iter()
        .filter(|c| c.depends_on.iter().any(|d| d == &w.name))
        .map(|c| k8s_openapi::api::networking::v1::NetworkPolicyPeer {
            pod_selector: Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some(naming::selector_labels(&platform.name, c)),
                    ..Default::default()
                },
            ),
            ..Default::default()
        })
        .collect();
    let json = |v: Result<Json, serde_json::Error>| object(v.unwrap_or_default());
    PostgresClusterValues {
        team: w.team.clone(),
        port: super::cnpg::POSTGRES_PORT,
        spec: object(super::cnpg::cluster_spec(
            platform,
            env,
            w,
            resources.clone(),
        )),
        network_policy: json(serde_json::to_value(super::cnpg::policy_spec(
            env, w, &clients,
        ))),
        pooler: super::cnpg::pooling(w).map(|p| PoolerValues {
            name: naming::cnpg_pooler(&w.name),
            spec: object(super::cnpg::pooler_spec(w, p)),
            service: json(serde_json::to_value(super::cnpg::pooler_service_spec(w))),
            network_policy: json(serde_json::to_value(super::cnpg::pooler_policy_spec(
                env, w, &clients,
            ))),
        }),
        pod_monitor: super::cnpg::scraped(env).then(|| object(super::cnpg::pod_monitor_spec(w))),
        object_store: super::cnpg::backup(w).map(|b| NamedSpecValues {
            name: naming::cnpg_object_store(&w.name),
            spec: object(super::cnpg::object_store_spec(platform, env, w, b)),
        }),
        scheduled_backup: super::cnpg::backup(w)
            .and_then(|b| b.schedule.as_ref())
            .map(|schedule| object(super::cnpg::scheduled_backup_spec(w, schedule))),
        restore_drill: super::restore_drill::schedule(env, w).map(|_| {
            use super::restore_drill as drill;
            RestoreDrillValues {
                manifest: drill::manifest(platform, env, w, resources.clone()),
                rules: drill::role_rules()
                    .iter()
                    .filter_map(|r| serde_json::to_value(r).ok())
                    .collect(),
                cron_job: json(serde_json::to_value(drill::cron_job_spec(platform, env, w))),
                network_policy: json(serde_json::to_value(drill::job_policy_spec(
                    platform, env, w,
                ))),
                cluster_network_policy: json(serde_json::to_value(drill::cluster_policy_spec(
                    env, w,
                ))),
            }
        }),
    }
}

/// The environment's ExternalSecrets and their store, from the plan the k8s target
/// serializes; a Secret in the platform's namespace leaves its namespace to the release.
fn external_secrets(platform: &ir::Platform, env: &Environment) -> Option<ExternalSecretsValues> {
    let plan = super::cluster::secret_plan(platform, env);
    let store = plan.store?;
    Some(ExternalSecretsValues {
        store: store.name,
        region: store.region,
        prefix: store.prefix,
        refresh_interval: ir::SECRET_REFRESH.to_owned(),
        secrets: plan
            .secrets
            .into_iter()
            .map(|u| ExternalSecretValues {
                namespace: (u.namespace != env.namespace).then_some(u.namespace),
                name: u.name,
                keys: u.keys.into_iter().collect(),
                docker_config: u.docker_config,
            })
            .collect(),
    })
}

fn protocol(p: &ir::Port) -> Protocol {
    match p.protocol {
        ir::Protocol::Tcp => Protocol::Tcp,
        ir::Protocol::Udp => Protocol::Udp,
    }
}

fn int_or_string(v: IntOrPercent) -> IntOrString {
    match v {
        IntOrPercent::Int(n) => IntOrString::Int(n),
        IntOrPercent::Percent(p) => IntOrString::String(format!("{p}%")),
    }
}

/// The values of a Redis replicated with Sentinel: the k8s target's pod template and objects
/// taken apart, so the chart renders the same; and the store's own container's command and
/// arguments, which start Redis from the generated configuration.
fn redis_failover(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> Option<(RedisFailoverValues, Vec<String>, Vec<String>)> {
    super::redis_ha::sentinel(w)?;
    let labels = naming::workload_labels(&platform.name, env, w);
    let mut template = super::k8s::spread_pod_template(platform, w, &labels);
    super::redis_ha::pod(&mut template, env, w);
    let proxy = super::redis_ha::proxy_deployment_spec(platform, env, w, &template);
    let spec = template.spec.unwrap_or_default();
    let own = spec.containers.first()?;
    let clients: Vec<&Workload> = env
        .workloads
        .iter()
        .filter(|c| c.depends_on.iter().any(|d| d == &w.name))
        .collect();
    let (ingress, egress) = super::redis_ha::own_rules(platform, w);
    let objects = super::k8s::replicated_redis_json(platform, env, &clients, w, proxy)
        .into_iter()
        .map(|mut o| {
            if let Some(m) = o.get_mut("metadata").and_then(Json::as_object_mut) {
                m.remove("namespace");
            }
            o
        })
        .collect();
    let values = RedisFailoverValues {
        nodes_service: naming::redis_nodes_service(&w.name),
        init_containers: spec
            .init_containers
            .iter()
            .flatten()
            .take(1)
            .map(plain_json)
            .collect(),
        containers: spec
            .containers
            .iter()
            .skip(1)
            .take(1)
            .map(plain_json)
            .collect(),
        volume: spec
            .volumes
            .iter()
            .flatten()
            .last()
            .map(plain_json)
            .unwrap_or_default(),
        mount: own
            .volume_mounts
            .iter()
            .flatten()
            .last()
            .map(plain_json)
            .unwrap_or_default(),
        ingress: ingress.iter().map(plain_json).collect(),
        egress: egress.iter().map(plain_json).collect(),
        proxy_peer: plain_json(&super::redis_ha::proxy_peer(platform, w)),
        objects,
    };
    Some((
        values,
        own.command.clone().unwrap_or_default(),
        own.args.clone().unwrap_or_default(),
    ))
}

/// `v` as JSON; `null` should serializing fail, which plain data does not.
fn plain_json<T: Serialize>(v: &T) -> Json {
    serde_json::to_value(v).unwrap_or_default()
}

fn workload(shared: &Shared, env: &Environment, w: &Workload) -> WorkloadValues {
    let platform = shared.platform();
    let analysis = super::rollouts::analysis_template(shared, env, w);
    let rollout =
        super::rollouts::strategy(env, w, analysis.is_some()).map(|strategy| RolloutValues {
            strategy: object(strategy),
            second_service: super::rollouts::second_service(w),
            analysis: analysis.map(object),
        });
    let failover = redis_failover(platform, env, w);
    let (replica_count, autoscaling) = match &w.replicas {
        Replicas::Fixed(n) => (Some(*n), None),
        Replicas::Auto(a) => (None, Some(autoscaler(a))),
    };
    let r = &w.resources;
    WorkloadValues {
        kind: match w.kind {
            Kind::Web => WorkloadKind::Web,
            Kind::Worker => WorkloadKind::Worker,
            Kind::Stateful => WorkloadKind::Stateful,
            Kind::Cron => WorkloadKind::Cron,
            Kind::Job => WorkloadKind::Job,
        },
        schedule: w.schedule.clone().filter(|_| w.kind == Kind::Cron),
        job_name: (w.kind == Kind::Job).then(|| super::k8s::job_name(platform, env, w)),
        image: w.image.clone(),
        command: failover
            .as_ref()
            .map_or_else(|| w.command.clone(), |f| f.1.clone()),
        args: failover
            .as_ref()
            .map_or_else(|| w.args.clone(), |f| f.2.clone()),
        ports: w.ports.iter().map(port_values).collect(),
        replica_count,
        autoscaling,
        vertical_autoscaling: w.vpa.map(|m| VerticalAutoscalingValues {
            update_mode: match m {
                ir::VpaMode::Off => UpdateMode::Off,
                ir::VpaMode::Initial => UpdateMode::Initial,
                ir::VpaMode::Recreate => UpdateMode::Recreate,
                ir::VpaMode::Auto => UpdateMode::Auto,
            },
        }),
        resources: resources_values(r),
        liveness_probe: w.probes.liveness.as_ref().map(probe),
        readiness_probe: w.probes.readiness.as_ref().map(probe),
        startup_probe: w.probes.startup.as_ref().map(probe),
        // Only a Deployment has rolling-update limits; a StatefulSet updates one pod at a time,
        // and a Rollout's strategy carries its own.
        rolling_update: (matches!(w.kind, Kind::Web | Kind::Worker) && rollout.is_none()).then(
            || RollingUpdateValues {
                max_surge: int_or_string(w.rollout.max_surge),
                max_unavailable: int_or_string(w.rollout.max_unavailable),
            },
        ),
        rollout,
        pod_disruption_budget: w.disruption_budget.map(|b| match b {
            ir::Budget::MinAvailable(v) => DisruptionBudgetValues {
                min_available: Some(int_or_string(v)),
                ..Default::default()
            },
            ir::Budget::MaxUnavailable(v) => DisruptionBudgetValues {
                max_unavailable: Some(int_or_string(v)),
                ..Default::default()
            },
        }),
        env: w.env.clone(),
        secrets: w
            .secrets
            .iter()
            .map(|(k, s)| (k.clone(), secret_ref(s)))
            .collect(),
        config_files: w
            .config_files
            .iter()
            .map(|f| ConfigFileValues {
                path: f.path.clone(),
                content: f.content.clone(),
            })
            .collect(),
        volumes: w
            .volumes
            .iter()
            .map(|v| VolumeValues {
                name: v.name.clone(),
                path: v.path.clone(),
                size_limit: v.size.map(format_bytes),
            })
            .collect(),
        // Storage means a volume per replica, which only a StatefulSet has.
        persistence: w
            .storage
            .as_ref()
            .filter(|_| w.kind == Kind::Stateful)
            .map(|s| PersistenceValues {
                size: format_bytes(s.size),
                mount_path: s.path.clone(),
                storage_class: s.class.clone(),
            }),
        backup: super::k8s::backup_plan(env, w).map(|plan| BackupValues {
            schedule: plan.schedule,
            script: plan.script,
            env: plan.env,
            secrets: plan
                .secrets
                .iter()
                .map(|(k, s)| (k.clone(), secret_ref(s)))
                .collect(),
            size: format_bytes(w.storage.as_ref().map_or(ir::STORAGE, |s| s.size)),
            storage_class: w.storage.as_ref().and_then(|s| s.class.clone()),
        }),
        offsite_backup: super::backups::offsite(env, w).then(|| {
            let object = |v: Result<Json, serde_json::Error>| match v {
                Ok(Json::Object(m)) => m,
                _ => Map::new(),
            };
            OffsiteBackupValues {
                cron_job: object(serde_json::to_value(super::backups::cron_job_spec(
                    platform, env, w,
                ))),
                network_policy: object(serde_json::to_value(super::backups::policy_spec(
                    platform, w,
                ))),
            }
        }),
        depends_on: w.depends_on.clone(),
        ingress: w.ingress.as_ref().map(|i| IngressValues {
            host: i.host.clone(),
            path: i.path.clone(),
            port: i.port.name.clone(),
            tls: i.tls.then(|| TlsValues {
                secret_name: naming::tls_secret(&i.host),
            }),
        }),
        egress: w
            .egress
            .iter()
            .map(|e| EgressValues {
                cidr: e.cidr.clone(),
                ports: e.ports.clone(),
            })
            .collect(),
        metrics: w.metrics.as_ref().map(|m| MetricsValues {
            path: m.path.clone(),
            port: m.port.name.clone(),
            interval: format_duration(m.interval_ms),
            bearer: m.bearer.as_ref().map(secret_ref),
        }),
        team: w.team.clone(),
        security: SecurityValues {
            run_as_user: w.security.run_as_user,
            read_only_root_filesystem: w.security.read_only_root_filesystem,
            allow_root: w.security.allow_root,
            service_account_token: w.security.service_account_token,
            add_capabilities: w.security.add_capabilities.clone(),
        },
        node_group: w.placement.as_ref().map(|p| NodeGroupValues {
            name: p.group.clone(),
            dedicated: p.dedicated,
        }),
        termination_grace_period_seconds: w.shutdown.grace_s,
        pre_stop_sleep_seconds: w.shutdown.drain_s,
        pod_annotations: {
            let mut a = w.annotations.clone();
            a.extend(super::mesh::sidecar_annotations(env, w));
            a
        },
        image_pull_secrets: w.image_pull_secrets.clone(),
        peer_port: w.peer_port.as_ref().map(|p| p.name.clone()),
        mesh: env.meshed(w),
        init_containers: w
            .init
            .iter()
            .map(|c| InitContainerValues {
                name: c.name.clone(),
                image: c.image.clone(),
                command: c.command.clone(),
            })
            .collect(),
        sidecars: w
            .sidecars
            .iter()
            .map(|c| SidecarValues {
                name: c.name.clone(),
                image: c.image.clone(),
                port: port_values(&c.port),
                env: c.env.clone(),
                secrets: c
                    .secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), secret_ref(v)))
                    .collect(),
                resources: resources_values(&c.resources),
                health_path: c.health_path.clone(),
            })
            .collect(),
        redis_failover: failover.map(|f| f.0),
        cloud_service_account: !w.buckets.is_empty(),
    }
}

/// A port as values.
fn port_values(p: &ir::Port) -> PortValues {
    PortValues {
        name: p.name.clone(),
        port: p.port,
        protocol: protocol(p),
    }
}

/// Requests and limits as values.
fn resources_values(r: &ir::Resources) -> ResourcesValues {
    ResourcesValues {
        requests: ComputeValues {
            cpu: Quantity::Text(format_cpu(r.cpu_request)),
            memory: Quantity::Text(format_bytes(r.memory_request)),
        },
        limits: ComputeValues {
            cpu: Quantity::Text(format_cpu(r.cpu_limit)),
            memory: Quantity::Text(format_bytes(r.memory_limit)),
        },
    }
}

fn secret_ref(s: &ir::SecretRef) -> SecretRefValues {
    SecretRefValues {
        secret: s.secret.clone(),
        key: s.key.clone(),
    }
}

fn autoscaler(a: &ir::Autoscaler) -> AutoscalingValues {
    let rules = |b: &ir::Behavior| ScalingRulesValues {
        stabilization_window_seconds: b.stabilization_seconds,
        select_policy: match b.select {
            ir::SelectPolicy::Max => SelectPolicy::Max,
            ir::SelectPolicy::Min => SelectPolicy::Min,
            ir::SelectPolicy::Disabled => SelectPolicy::Disabled,
        },
        policies: b
            .policies
            .iter()
            .map(|p| ScalingPolicyValues {
                kind: match p.kind {
                    ir::PolicyKind::Percent => PolicyType::Percent,
                    ir::PolicyKind::Pods => PolicyType::Pods,
                },
                value: p.value,
                period_seconds: p.period_seconds,
            })
            .collect(),
    };
    AutoscalingValues {
        min_replicas: a.min,
        max_replicas: a.max,
        target_cpu: a.cpu,
        target_memory: a.memory,
        pod_metrics: a
            .pod_metrics
            .iter()
            .map(|(name, value)| PodMetricValues {
                name: name.clone(),
                average_value: value.clone(),
            })
            .collect(),
        behavior: (a.scale_up.is_some() || a.scale_down.is_some()).then(|| BehaviorValues {
            scale_up: a.scale_up.as_ref().map(rules),
            scale_down: a.scale_down.as_ref().map(rules),
        }),
    }
}

fn probe(p: &ir::Probe) -> ProbeValues {
    let mut out = ProbeValues {
        initial_delay_seconds: (p.initial_delay > 0).then_some(p.initial_delay),
        period_seconds: p.period,
        timeout_seconds: p.timeout,
        failure_threshold: p.failure_threshold,
        ..Default::default()
    };
    match &p.action {
        ProbeAction::Http { path, port } => {
            out.http_get = Some(HttpGetValues {
                path: path.clone(),
                port: IntOrString::String(port.name.clone()),
            });
        }
        ProbeAction::Exec(cmd) => {
            out.exec = Some(ExecValues {
                command: cmd.clone(),
            });
        }
        ProbeAction::Tcp(port) => {
            out.tcp_socket = Some(TcpSocketValues {
                port: IntOrString::String(port.name.clone()),
            });
        }
    }
    out
}

/// `values.schema.json`: the JSON Schema (draft 7, which every Helm 3 and 4 accepts) of
/// [`Values`]. JSON has no comments, so the banner is the schema's `$comment`, a keyword
/// validators ignore.
///
/// The shared `values.yaml` holds only part of a workload, so nothing is required in
/// general; once `environment` is set, the values must be complete, which the schema states
/// as an `if`/`then` carrying every `required` list of the types.
pub fn values_schema(platform: &ir::Platform) -> Result<String, EmitError> {
    let schema = schemars::generate::SchemaSettings::draft07()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Values>();
    let mut schema = to_json(&schema)?;
    let definitions = schema
        .get("definitions")
        .cloned()
        .unwrap_or_else(|| Json::Object(Map::new()));
    let complete = completeness(&schema, &definitions, 0);
    strip_required(&mut schema);
    if let Json::Object(root) = &mut schema {
        let mut ordered = Map::new();
        ordered.insert(
            "$comment".to_owned(),
            Json::String(naming::banner(&platform.spec_path)),
        );
        ordered.extend(std::mem::take(root));
        if let Some(then) = complete {
            ordered.insert(
                "if".to_owned(),
                serde_json::json!({ "required": ["environment"] }),
            );
            ordered.insert("then".to_owned(), then);
        }
        *root = ordered;
    }
    let mut text = serde_json::to_string_pretty(&schema)
        .map_err(|e| EmitError(format!("schema serialization failed: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// The `required` lists of `schema` and of everything below it, as a schema of their own.
fn completeness(schema: &Json, definitions: &Json, depth: usize) -> Option<Json> {
    // The values types are not recursive; the bound only guards against a future type that is.
    if depth > 16 {
        return None;
    }
    let schema = match schema.get("$ref").and_then(Json::as_str) {
        Some(r) => definitions.get(r.strip_prefix("#/definitions/")?)?,
        None => schema,
    };
    // schemars wraps a described reference in `allOf` and an optional one in `anyOf` with
    // `null`; either way one branch is the object whose requirements count.
    for key in ["allOf", "anyOf"] {
        if let Some(branches) = schema.get(key).and_then(Json::as_array) {
            return branches
                .iter()
                .find_map(|b| completeness(b, definitions, depth + 1));
        }
    }
    let mut out = Map::new();
    if let Some(req) = schema.get("required") {
        out.insert("required".to_owned(), req.clone());
    }
    if let Some(props) = schema.get("properties").and_then(Json::as_object) {
        let nested: Map<String, Json> = props
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), completeness(v, definitions, depth + 1)?)))
            .collect();
        if !nested.is_empty() {
            out.insert("properties".to_owned(), Json::Object(nested));
        }
    }
    for key in ["additionalProperties", "items"] {
        if let Some(sub) = schema.get(key).filter(|s| s.is_object()) {
            if let Some(c) = completeness(sub, definitions, depth + 1) {
                out.insert(key.to_owned(), c);
            }
        }
    }
    (!out.is_empty()).then_some(Json::Object(out))
}

fn strip_required(schema: &mut Json) {
    match schema {
        Json::Object(m) => {
            m.remove("required");
            m.values_mut().for_each(strip_required);
        }
        Json::Array(items) => items.iter_mut().for_each(strip_required),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn common_keeps_what_every_tree_agrees_on() {
        let a = json!({ "x": 1, "m": { "a": 1, "b": [1, 2] }, "only": true });
        let b = json!({ "x": 1, "m": { "a": 2, "b": [1, 2] } });
        assert_eq!(
            common(&[&a, &b]),
            Some(json!({ "x": 1, "m": { "b": [1, 2] } }))
        );
        assert_eq!(common(&[&json!([1]), &json!([2])]), None);
    }

    #[test]
    fn difference_is_what_the_merge_needs() {
        let a = json!({ "x": 1, "m": { "a": 1, "b": [1, 2] }, "only": true });
        let b = json!({ "x": 1, "m": { "a": 2, "b": [1, 2] } });
        let shared = common(&[&a, &b]).unwrap();
        assert_eq!(
            difference(&a, &shared),
            Some(json!({ "m": { "a": 1 }, "only": true }))
        );
        assert_eq!(difference(&b, &shared), Some(json!({ "m": { "a": 2 } })));
    }
}
