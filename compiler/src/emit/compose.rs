//! Docker Compose: the Compose environment as `compose/compose.yaml` and
//! `compose/.env.example`, a local platform that starts with `docker compose up`.
//!
//! One environment runs locally: the one marked `local = true`, else the one named `dev`
//! ([`ir::Platform::compose_environment`]). Every workload becomes a Compose service with the
//! secure defaults of the Kubernetes side (non-root user, read-only root filesystem with a
//! tmpfs `/tmp`, all capabilities dropped, no new privileges, resource limits) and ports
//! published on 127.0.0.1 only. Data stores keep their data in named volumes. Dependencies
//! become `depends_on` with `condition: service_healthy` when the dependency has a health
//! check Compose can run, and `service_started` (with a note) when it has none: a dependency
//! is never dropped.
//!
//! Secret references become `${VAR:?…}` interpolations of variables read from `.env`, one
//! variable per secret reference; `.env.example` lists them without values. No value ever
//! reaches the output.
//!
//! What Compose cannot express (autoscaling, disruption budgets, network policies, …) is
//! reported once per feature as a note for the build summary.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{hash_banner, to_yaml, EmitError, Emitted, Note, OutputFile, Shared, Target};
use crate::ir::{
    self, naming, ComposeHealthcheck, Environment, HttpClient, Kind, ProbeAction, Protocol,
    Replicas, Role, SecretRef, Workload,
};
use crate::units::format_duration;

/// Traefik, the reverse proxy that serves ingress hosts locally (as in reference 004). It must
/// be v3.6.1 or later: earlier releases ask the Docker daemon for API 1.24, which Docker Engine
/// 29 refuses ("client version 1.24 is too old", traefik#12253), so the proxy would never see a
/// container. v3.7 is the line Traefik supports and the one the cluster's chart runs.
pub const TRAEFIK_IMAGE: &str = "docker.io/library/traefik:v3.7.9";
/// Prometheus, when monitoring is asked for: the release kube-prometheus-stack 88.5.3 runs in
/// the cluster (`prometheus.prometheusSpec.image.tag`, there its `-distroless` build; this
/// one keeps the image's BusyBox, whose `wget` the health check runs), so the same rules are
/// evaluated by the same Prometheus locally.
pub const PROMETHEUS_IMAGE: &str = "docker.io/prom/prometheus:v3.14.0";
/// Alertmanager, when monitoring is asked for: the release kube-prometheus-stack 88.5.3 runs
/// (`alertmanager.alertmanagerSpec.image.tag`), so one configuration is read by one version.
pub const ALERTMANAGER_IMAGE: &str = "docker.io/prom/alertmanager:v0.34.0";
/// Grafana, when the spec asks for it beside the monitoring stack: the `appVersion` of the
/// Grafana chart (12.11.1) that kube-prometheus-stack 88.5.3 installs in the cluster.
pub const GRAFANA_IMAGE: &str = "docker.io/grafana/grafana:13.2.0";
/// The user Grafana's image runs as (`grafana`, uid 472), named so the container is never
/// root whatever the image's default.
const GRAFANA_USER: &str = "472:0";
/// Dozzle, the log viewer of reference 000.
pub const LOG_VIEWER_IMAGE: &str = "docker.io/amir20/dozzle:v8.10.6";
/// BusyBox, which hands persistent volumes to the workloads' user.
pub const VOLUME_INIT_IMAGE: &str = "docker.io/library/busybox:1.36.1";

/// Host port of Traefik's HTTP entrypoint.
pub const TRAEFIK_PORT: u16 = crate::units::COMPOSE_TRAEFIK_PORT;
/// Host port of Prometheus.
pub const PROMETHEUS_PORT: u16 = crate::units::COMPOSE_PROMETHEUS_PORT;
/// Host port of Alertmanager.
pub const ALERTMANAGER_PORT: u16 = crate::units::COMPOSE_ALERTMANAGER_PORT;
/// Host port of the log viewer (reference 000: Dozzle on 8890).
pub const LOG_VIEWER_PORT: u16 = crate::units::COMPOSE_LOG_VIEWER_PORT;
/// Every published port binds to this address only, so nothing is reachable from the network.
pub const HOST_IP: &str = "127.0.0.1";
/// Profile of cron jobs: Compose has no schedules, so they run on demand only.
pub const JOBS_PROFILE: &str = "jobs";

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Emits the Compose environment if it is among `envs`.
pub fn emit(shared: &Shared, envs: &[&Environment]) -> Result<Emitted, EmitError> {
    let platform = shared.platform();
    let mut out = Emitted::default();
    let local = platform.compose_environment().map(|e| e.name.as_str());
    for e in &platform.environments {
        if e.compose.grafana.is_some() && Some(e.name.as_str()) != local {
            out.notes.push(note(format!(
                "`compose.grafana` of `{}` is not run: Docker Compose runs {}",
                e.name,
                local.map_or_else(|| "no environment".to_owned(), |l| format!("`{l}`")),
            )));
        }
    }
    let Some(env) = platform.compose_environment() else {
        out.notes.push(note(format!(
            "no environment has `local = true` and none is named `{}`, so no Compose file is \
             generated; mark the environment to run locally with `local = true`",
            ir::COMPOSE_ENVIRONMENT
        )));
        return Ok(out);
    };
    if !envs.iter().any(|e| e.name == env.name) {
        out.notes.push(note(format!(
            "Compose runs environment `{}`, which is not selected",
            env.name
        )));
        return Ok(out);
    }
    let mut b = Builder::new(platform, env);
    b.build()?;
    let file = File {
        name: naming::compose_project(&platform.name),
        services: b.services,
        volumes: b.volumes,
        configs: b.configs,
    };
    out.files.push(OutputFile {
        path: naming::compose_file(),
        contents: format!(
            "{}{}",
            hash_banner(platform),
            compose_yaml(&file, &b.required)?
        ),
    });
    let grafana = env.compose.monitoring && env.compose.grafana.is_some();
    out.files.push(OutputFile {
        path: naming::compose_env_example_file(),
        contents: env_example(platform, &b.variables, grafana),
    });
    if grafana {
        out.files
            .extend(shared.compose_dashboards(env)?.iter().map(|d| OutputFile {
                path: naming::compose_dashboard_file(&d.name),
                contents: d.json.clone(),
            }));
    } else if env.compose.grafana.is_some() {
        out.notes.push(note(format!(
            "`compose.grafana` of `{}` is not run: Grafana reads the Compose Prometheus, which runs only with `compose.monitoring = true`",
            env.name
        )));
    }
    out.notes.extend(b.notes.into_notes());
    Ok(out)
}

fn note(message: String) -> Note {
    Note {
        target: Target::Compose,
        message,
    }
}

// ------------------------------------------------------------------------ compose-spec

/// A Compose file (compose-spec; no obsolete top-level `version`). Keys are declared in the
/// order dclint's `top-level-properties-order` and `service-keys-order` rules expect.
#[derive(Serialize)]
struct File {
    name: String,
    services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, NamedVolume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    configs: BTreeMap<String, Config>,
}

/// A named volume with Compose's defaults (the local driver).
#[derive(Serialize, Default)]
struct NamedVolume {}

#[derive(Serialize)]
struct Config {
    content: String,
}

/// A service. dclint's order: image, depends_on, volumes, configs, environment, ports,
/// network_mode, command, entrypoint, restart, healthcheck, labels, user, then the rest
/// alphabetically.
#[derive(Serialize, Default)]
struct Service {
    image: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<String, Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<Mount>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    configs: Vec<ConfigMount>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<PortMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    restart: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    profiles: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    read_only: bool,
    security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tmpfs: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Serialize)]
struct Dependency {
    condition: &'static str,
    #[serde(skip_serializing_if = "is_true")]
    required: bool,
}

/// A mount in the long syntax, which says what kind it is and cannot be misparsed.
#[derive(Serialize)]
struct Mount {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    target: String,
    #[serde(skip_serializing_if = "is_false")]
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmpfs: Option<TmpfsOptions>,
}

#[derive(Serialize)]
struct BindOptions {
    /// False, so a missing file is an error rather than an empty directory in its place.
    create_host_path: bool,
}

#[derive(Serialize)]
struct TmpfsOptions {
    size: i128,
}

#[derive(Serialize)]
struct ConfigMount {
    source: String,
    target: String,
}

/// A published port in the long syntax: the host address is explicit.
#[derive(Serialize)]
struct PortMapping {
    target: u16,
    host_ip: &'static str,
    published: String,
    protocol: &'static str,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_period: Option<String>,
}

#[derive(Serialize)]
struct Deploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<u32>,
    resources: DeployResources,
}

#[derive(Serialize)]
struct DeployResources {
    limits: Limits,
    /// The memory request: Docker's soft limit (`--memory-reservation`), which it reclaims
    /// down to under memory pressure. A CPU reservation is Swarm's alone; Compose ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reservations: Option<Reservations>,
}

#[derive(Serialize)]
struct Reservations {
    memory: String,
}

#[derive(Serialize)]
struct Limits {
    cpus: String,
    memory: String,
}

// ----------------------------------------------------------------------------- build

/// Builds one Compose file, collecting the notes of what it cannot express.
struct Builder<'a> {
    platform: &'a ir::Platform,
    env: &'a Environment,
    /// The environment's workloads by name: dependencies are looked up per workload, and a
    /// scan for each was quadratic in the number of workloads.
    by_name: BTreeMap<&'a str, &'a Workload>,
    services: BTreeMap<String, Service>,
    volumes: BTreeMap<String, NamedVolume>,
    configs: BTreeMap<String, Config>,
    /// The `.env` variable of each secret reference.
    variables: BTreeMap<SecretRef, String>,
    /// Per service, the environment variables that are plinth's interpolations of `.env`
    /// variables (name to its value's pieces): the only `$` the Compose file may interpolate.
    required: BTreeMap<String, BTreeMap<String, Vec<Piece>>>,
    /// The workloads that have a health check Compose can run.
    healthy: BTreeSet<String>,
    ports: HostPorts,
    notes: Notes,
}

impl<'a> Builder<'a> {
    fn new(platform: &'a ir::Platform, env: &'a Environment) -> Self {
        Builder {
            platform,
            env,
            by_name: env.workloads_by_name(),
            services: BTreeMap::new(),
            volumes: BTreeMap::new(),
            configs: BTreeMap::new(),
            variables: variables(env),
            required: BTreeMap::new(),
            healthy: BTreeSet::new(),
            ports: HostPorts::default(),
            notes: Notes {
                mesh: env.cluster.mesh,
                labels: !env.labels.is_empty(),
                ..Notes::default()
            },
        }
    }

    fn build(&mut self) -> Result<(), EmitError> {
        let env = self.env;
        let traefik = env.workloads.iter().any(|w| w.ingress.is_some());
        // The tools' documented ports are claimed first, so workloads move out of their way
        // rather than the other way round.
        for (on, port) in [
            (traefik, TRAEFIK_PORT),
            (env.compose.log_viewer, LOG_VIEWER_PORT),
            (env.compose.monitoring, PROMETHEUS_PORT),
            (env.compose.monitoring, ALERTMANAGER_PORT),
            (
                env.compose.monitoring && env.compose.grafana.is_some(),
                env.compose.grafana.unwrap_or_default(),
            ),
        ] {
            if on {
                self.ports.claim(port);
            }
        }
        self.healthy = env
            .workloads
            .iter()
            .filter(|w| healthcheck(w).is_some())
            .map(|w| w.name.clone())
            .collect();
        let init = self.volume_init();
        let init_name = init
            .as_ref()
            .map(|_| self.tool_name(naming::COMPOSE_VOLUME_INIT));
        for w in &env.workloads {
            let s = self.workload(w, init_name.as_deref());
            self.services.insert(w.name.clone(), s);
            for c in &w.sidecars {
                let name = self.tool_name(&format!("{}-{}", w.name, c.name));
                let s = self.sidecar(&name, w, c);
                self.services.insert(name, s);
            }
        }
        if let (Some(s), Some(name)) = (init, init_name) {
            self.services.insert(name, s);
        }
        if traefik {
            let s = self.traefik();
            let name = self.tool_name(naming::COMPOSE_TRAEFIK);
            self.services.insert(name, s);
        }
        if env.compose.log_viewer {
            let s = self.log_viewer();
            let name = self.tool_name(naming::COMPOSE_LOG_VIEWER);
            self.services.insert(name, s);
        }
        if env.compose.monitoring {
            let am = self.tool_name(naming::COMPOSE_ALERTMANAGER);
            let s = self.alertmanager();
            self.services.insert(am.clone(), s);
            let s = self.prometheus(&am);
            let name = self.tool_name(naming::COMPOSE_PROMETHEUS);
            self.services.insert(name.clone(), s);
            if let Some(port) = env.compose.grafana {
                let grafana = self.tool_name(naming::COMPOSE_GRAFANA);
                let s = self.grafana(&grafana, &name, port)?;
                self.services.insert(grafana, s);
            }
        }
        self.notes.whole_platform(env);
        Ok(())
    }

    /// The service name of a tool: its usual name, unless a workload already has it.
    fn tool_name(&mut self, base: &str) -> String {
        if self.by_name.contains_key(base) {
            let name = format!("plinth-{base}");
            self.notes
                .renamed_tools
                .push(format!("{base} (a workload has that name) is `{name}`"));
            name
        } else {
            base.to_owned()
        }
    }

    fn workload(&mut self, w: &Workload, volume_init: Option<&str>) -> Service {
        let mut replicas = match &w.replicas {
            Replicas::Fixed(n) => *n,
            Replicas::Auto(a) => {
                self.notes
                    .autoscaled
                    .push(format!("{} ({}..{}, runs {})", w.name, a.min, a.max, a.min));
                a.min
            }
        };
        if w.peer_port.is_some() && replicas > 1 {
            // A clustered store's peers find each other by StatefulSet pod names, which
            // Compose does not have: one node runs, on its own volume.
            self.notes
                .single_node
                .push(format!("{} ({replicas} in Kubernetes)", w.name));
            replicas = 1;
        }
        if let Some(sentinel) = super::redis_ha::sentinel(w) {
            // Sentinel finds its peers and the primary by StatefulSet pod names, which
            // Compose does not have: one Redis runs, without a replica to fail over to.
            self.notes
                .no_failover
                .push(format!("{} ({} in Kubernetes)", w.name, sentinel.nodes));
            replicas = 1;
        }
        self.notes.per_workload(w, replicas);
        let mut s = hardened(w.image.clone());
        s.depends_on = self.dependencies(w, volume_init);
        s.volumes = self.mounts(w);
        s.configs = self.config_files(w);
        s.environment = self.environment(w);
        if replicas == 1 && w.kind != Kind::Cron {
            s.ports = self.published(w);
        } else if !w.ports.is_empty() && w.kind != Kind::Cron {
            self.notes.unpublished.push(format!(
                "{} ({replicas} replicas{})",
                w.name,
                if w.ingress.is_some() {
                    ", served by Traefik"
                } else {
                    ""
                }
            ));
        }
        s.entrypoint = w.command.clone();
        s.command = w.args.clone();
        if w.kind == Kind::Cron {
            // Compose has no schedules: a job runs when asked, with `docker compose run`.
            s.restart = "no".to_owned();
            s.profiles = vec![JOBS_PROFILE.to_owned()];
        }
        if w.kind == Kind::Job {
            // Runs once per `docker compose up`; the services that depend on it wait for it
            // to finish (`service_completed_successfully`).
            s.restart = "no".to_owned();
        }
        s.healthcheck = healthcheck(w);
        s.stop_grace_period = w.shutdown.grace_s.map(|g| format!("{g}s"));
        if let Some(i) = &w.ingress {
            s.labels = traefik_labels(w, i);
        }
        let sec = &w.security;
        s.user = Some(format!("{0}:{0}", sec.run_as_user));
        s.cap_add = sec.add_capabilities.clone();
        // As on the Kubernetes side, `/tmp` is a scratch mount only under a read-only root.
        s.read_only = sec.read_only_root_filesystem;
        if !sec.read_only_root_filesystem {
            s.tmpfs.clear();
        }
        s.deploy = Some(Deploy {
            replicas: (replicas != 1).then_some(replicas),
            resources: DeployResources {
                limits: Limits {
                    cpus: cpus(w.resources.cpu_limit),
                    memory: memory(w.resources.memory_limit),
                },
                reservations: Some(Reservations {
                    memory: memory(w.resources.memory_request),
                }),
            },
        });
        s
    }

    /// A sidecar as a service of its own in the workload's network namespace
    /// (`network_mode: service:<workload>`), so it reaches the workload on `localhost` and its
    /// port is the workload's, as in a pod; it starts after the workload, with the same
    /// hardening.
    fn sidecar(&mut self, name: &str, w: &Workload, c: &ir::Sidecar) -> Service {
        let mut s = hardened(c.image.clone());
        s.network_mode = Some(format!("service:{}", w.name));
        s.depends_on = BTreeMap::from([(
            w.name.clone(),
            Dependency {
                condition: "service_started",
                required: true,
            },
        )]);
        s.environment = self.service_environment(name, &c.env, &c.secrets);
        s.user = Some(format!("{0}:{0}", w.security.run_as_user));
        s.deploy = Some(Deploy {
            replicas: None,
            resources: DeployResources {
                limits: Limits {
                    cpus: cpus(c.resources.cpu_limit),
                    memory: memory(c.resources.memory_limit),
                },
                reservations: Some(Reservations {
                    memory: memory(c.resources.memory_request),
                }),
            },
        });
        s
    }

    /// `depends_on` with the strongest condition Compose can check for each dependency.
    fn dependencies(
        &mut self,
        w: &Workload,
        volume_init: Option<&str>,
    ) -> BTreeMap<String, Dependency> {
        let mut deps = BTreeMap::new();
        for d in &w.depends_on {
            if let Some(&target) = self.by_name.get(d.as_str()) {
                let dep = if target.kind == Kind::Job {
                    Dependency {
                        condition: "service_completed_successfully",
                        required: true,
                    }
                } else if target.kind == Kind::Cron {
                    // A job only runs on demand, so nothing can wait for it to be healthy.
                    self.notes.waits_for_job.push(format!("{} on {d}", w.name));
                    Dependency {
                        condition: "service_started",
                        required: false,
                    }
                } else if self.healthy.contains(d) {
                    Dependency {
                        condition: "service_healthy",
                        required: true,
                    }
                } else {
                    self.notes
                        .without_health
                        .entry(d.clone())
                        .or_default()
                        .push(w.name.clone());
                    Dependency {
                        condition: "service_started",
                        required: true,
                    }
                };
                deps.insert(d.clone(), dep);
            } else if self.env.managed_stores.iter().any(|m| &m.name == d) {
                self.notes
                    .managed_dependency
                    .push(format!("{} on {d}", w.name));
            }
        }
        if let (Some(init), Some(_), false) =
            (volume_init, persistent(w), w.security.run_as_user == 0)
        {
            deps.insert(
                init.to_owned(),
                Dependency {
                    condition: "service_completed_successfully",
                    required: true,
                },
            );
        }
        deps
    }

    fn mounts(&mut self, w: &Workload) -> Vec<Mount> {
        let mut mounts = Vec::new();
        if let Some(st) = persistent(w) {
            let name = naming::compose_volume(w);
            self.volumes.insert(name.clone(), NamedVolume::default());
            mounts.push(Mount {
                kind: "volume",
                source: Some(name),
                target: st.path.clone(),
                read_only: false,
                bind: None,
                tmpfs: None,
            });
        }
        for v in &w.volumes {
            mounts.push(Mount {
                kind: "tmpfs",
                source: None,
                target: v.path.clone(),
                read_only: false,
                bind: None,
                tmpfs: v.size.map(|size| TmpfsOptions { size }),
            });
        }
        mounts
    }

    fn config_files(&mut self, w: &Workload) -> Vec<ConfigMount> {
        w.config_files
            .iter()
            .map(|f| {
                let name = naming::compose_config(w, &f.path);
                self.configs.insert(
                    name.clone(),
                    Config {
                        content: f.content.clone(),
                    },
                );
                ConfigMount {
                    source: name,
                    target: f.path.clone(),
                }
            })
            .collect()
    }

    /// Plain variables as written, secret ones as interpolations of `.env` variables that
    /// stop Compose when they are missing or empty. The interpolations are recorded in
    /// `required` and written by [`compose_yaml`] after every other `$` is escaped; here they
    /// hold the variable's name, so the keys keep their order.
    fn environment(&mut self, w: &Workload) -> BTreeMap<String, String> {
        self.service_environment(&w.name, &w.env, &w.secrets)
    }

    /// The `environment` of service `service`: plain variables as written, secret ones as
    /// the `.env` variable that holds them (recorded in `required`, which `compose_yaml`
    /// turns into `${VAR:?…}`).
    ///
    /// A plain value that reads one of the service's secret variables as `$(VAR)` (a bound
    /// connection string reading its store's password), which Kubernetes expands, reads the
    /// same `.env` variable here, interpolated into the rest of the value.
    fn service_environment(
        &mut self,
        service: &str,
        plain: &BTreeMap<String, String>,
        secrets: &BTreeMap<String, ir::SecretRef>,
    ) -> BTreeMap<String, String> {
        let mut env = plain.clone();
        let mut dotenv = BTreeMap::new();
        for (k, r) in secrets {
            let var = self
                .variables
                .get(r)
                .cloned()
                .unwrap_or_else(|| naming::compose_variable(r));
            self.required
                .entry(service.to_owned())
                .or_default()
                .insert(k.clone(), vec![Piece::Var(var.clone())]);
            env.insert(k.clone(), var.clone());
            dotenv.insert(k.as_str(), var);
        }
        for (k, v) in plain {
            let pieces = reading(v, &dotenv);
            if pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
                self.required
                    .entry(service.to_owned())
                    .or_default()
                    .insert(k.clone(), pieces);
            }
        }
        env
    }

    /// Host ports for every port of `w`, in host port order (dclint's
    /// `service-ports-alphabetical-order`).
    fn published(&mut self, w: &Workload) -> Vec<PortMapping> {
        let mut ports: Vec<(u16, PortMapping)> = w
            .ports
            .iter()
            .filter_map(|p| {
                let host = self.ports.claim(p.port)?;
                if host != p.port {
                    self.notes
                        .remapped
                        .push(format!("{} {} on {host}", w.name, p.port));
                }
                Some((host, port_mapping(p.port, host, p.protocol)))
            })
            .collect();
        ports.sort_by_key(|(host, _)| *host);
        ports.into_iter().map(|(_, m)| m).collect()
    }

    /// A one-shot service that hands the persistent volumes to the user each workload runs
    /// as. New volumes belong to the image's user (or root), and Compose has no `fsGroup`.
    fn volume_init(&self) -> Option<Service> {
        let mut by_user: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut mounts = Vec::new();
        for w in &self.env.workloads {
            if persistent(w).is_none() || w.security.run_as_user == 0 {
                continue;
            }
            let volume = naming::compose_volume(w);
            let at = format!("/volumes/{volume}");
            by_user
                .entry(w.security.run_as_user)
                .or_default()
                .push(at.clone());
            mounts.push(Mount {
                kind: "volume",
                source: Some(volume),
                target: at,
                read_only: false,
                bind: None,
                tmpfs: None,
            });
        }
        if by_user.is_empty() {
            return None;
        }
        let chowns: Vec<Vec<String>> = by_user
            .iter()
            .map(|(uid, paths)| {
                let mut c = vec!["chown".to_owned(), "-R".to_owned(), format!("{uid}:{uid}")];
                c.extend(paths.iter().cloned());
                c
            })
            .collect();
        let command = if let [one] = chowns.as_slice() {
            one.clone()
        } else {
            let script: Vec<String> = chowns.iter().map(|c| c.join(" ")).collect();
            vec!["sh".to_owned(), "-c".to_owned(), script.join(" && ")]
        };
        let mut s = hardened(VOLUME_INIT_IMAGE.to_owned());
        s.volumes = mounts;
        s.network_mode = Some("none".to_owned());
        s.command = command;
        s.restart = "no".to_owned();
        // Root, but only with the capabilities to change owners and to read every folder.
        s.user = Some("0:0".to_owned());
        s.cap_add = vec!["CHOWN".to_owned(), "DAC_READ_SEARCH".to_owned()];
        Some(s)
    }

    fn traefik(&mut self) -> Service {
        let project = naming::compose_project(&self.platform.name);
        let mut s = hardened(TRAEFIK_IMAGE.to_owned());
        s.volumes = vec![docker_socket()];
        s.ports = vec![port_mapping(80, TRAEFIK_PORT, Protocol::Tcp)];
        s.command = vec![
            "--entrypoints.web.address=:80".to_owned(),
            "--ping=true".to_owned(),
            "--providers.docker=true".to_owned(),
            // Only this project's services, and only those with `traefik.enable=true`.
            format!(
                "--providers.docker.constraints=Label(`com.docker.compose.project`,`{project}`)"
            ),
            "--providers.docker.exposedbydefault=false".to_owned(),
        ];
        s.healthcheck = Some(tool_healthcheck(&["traefik", "healthcheck", "--ping"]));
        if self
            .env
            .workloads
            .iter()
            .any(|w| w.ingress.as_ref().is_some_and(|i| i.tls))
        {
            self.notes.plain_http = true;
        }
        self.notes.gateway_api = self.env.cluster.edge.gateway_api();
        s
    }

    fn log_viewer(&self) -> Service {
        let project = naming::compose_project(&self.platform.name);
        let mut s = hardened(LOG_VIEWER_IMAGE.to_owned());
        s.volumes = vec![docker_socket()];
        s.environment = BTreeMap::from([
            (
                "DOZZLE_FILTER".to_owned(),
                format!("label=com.docker.compose.project={project}"),
            ),
            ("DOZZLE_NO_ANALYTICS".to_owned(), "true".to_owned()),
        ]);
        s.ports = vec![port_mapping(8080, LOG_VIEWER_PORT, Protocol::Tcp)];
        s.healthcheck = Some(tool_healthcheck(&["/dozzle", "healthcheck"]));
        s
    }

    /// The local Alertmanager: the environment's configuration, its notification log and
    /// silences on a named volume (so that a restart neither repeats notifications early
    /// nor forgets silences) kept as long as `observability.alertmanager.retention` says.
    fn alertmanager(&mut self) -> Service {
        let volume = naming::compose_alertmanager_volume();
        self.volumes.insert(volume.clone(), NamedVolume::default());
        let mut s = hardened(ALERTMANAGER_IMAGE.to_owned());
        s.volumes = vec![
            bind_file(
                &naming::alertmanager_config_file(&self.env.name),
                "/etc/alertmanager/alertmanager.yaml",
            ),
            Mount {
                kind: "volume",
                source: Some(volume),
                target: "/alertmanager".to_owned(),
                read_only: false,
                bind: None,
                tmpfs: None,
            },
        ];
        s.ports = vec![port_mapping(9093, ALERTMANAGER_PORT, Protocol::Tcp)];
        s.command = vec![
            "--config.file=/etc/alertmanager/alertmanager.yaml".to_owned(),
            "--storage.path=/alertmanager".to_owned(),
            format!(
                "--data.retention={}",
                crate::units::format_go_duration(self.env.observability.alertmanager.retention_ms)
            ),
            // A single local instance: no gossip port for a high-availability cluster.
            "--cluster.listen-address=".to_owned(),
        ];
        s.healthcheck = Some(tool_healthcheck(&[
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:9093/-/ready",
        ]));
        if !self.env.alerting.receivers.is_empty() {
            self.notes.receivers_offline = true;
        }
        s
    }

    /// Grafana on host port `port`, service `name`: the Compose Prometheus as its one data
    /// source and the dashboards of the output folder provisioned, read-only. The admin
    /// password comes from `.env`; sign-up, analytics and update checks are off.
    fn grafana(&mut self, name: &str, prometheus: &str, port: u16) -> Result<Service, EmitError> {
        let volume = naming::compose_grafana_volume();
        self.volumes.insert(volume.clone(), NamedVolume::default());
        let datasources = format!("{name}-datasources");
        let dashboards = format!("{name}-dashboards");
        self.configs.insert(
            datasources.clone(),
            Config {
                content: grafana_datasources(prometheus)?,
            },
        );
        self.configs.insert(
            dashboards.clone(),
            Config {
                content: grafana_dashboard_provider()?,
            },
        );
        let mut s = hardened(GRAFANA_IMAGE.to_owned());
        s.depends_on = BTreeMap::from([(
            prometheus.to_owned(),
            Dependency {
                condition: "service_healthy",
                required: true,
            },
        )]);
        s.volumes = vec![
            Mount {
                kind: "bind",
                source: Some(naming::from_compose_dir(naming::COMPOSE_DASHBOARDS_DIR)),
                target: naming::GRAFANA_DASHBOARDS_MOUNT.to_owned(),
                read_only: true,
                bind: Some(BindOptions {
                    create_host_path: false,
                }),
                tmpfs: None,
            },
            Mount {
                kind: "volume",
                source: Some(volume),
                target: "/var/lib/grafana".to_owned(),
                read_only: false,
                bind: None,
                tmpfs: None,
            },
        ];
        s.configs = vec![
            ConfigMount {
                source: datasources,
                target: "/etc/grafana/provisioning/datasources/plinth.yaml".to_owned(),
            },
            ConfigMount {
                source: dashboards,
                target: "/etc/grafana/provisioning/dashboards/plinth.yaml".to_owned(),
            },
        ];
        let password = "GF_SECURITY_ADMIN_PASSWORD".to_owned();
        s.environment = BTreeMap::from([
            (password.clone(), String::new()),
            (
                "GF_ANALYTICS_CHECK_FOR_UPDATES".to_owned(),
                "false".to_owned(),
            ),
            (
                "GF_ANALYTICS_REPORTING_ENABLED".to_owned(),
                "false".to_owned(),
            ),
            ("GF_USERS_ALLOW_SIGN_UP".to_owned(), "false".to_owned()),
        ]);
        self.required.entry(name.to_owned()).or_default().insert(
            password,
            vec![Piece::Var(
                naming::GRAFANA_ADMIN_PASSWORD_VARIABLE.to_owned(),
            )],
        );
        s.ports = vec![port_mapping(3000, port, Protocol::Tcp)];
        s.healthcheck = Some(tool_healthcheck(&[
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:3000/api/health",
        ]));
        s.user = Some(GRAFANA_USER.to_owned());
        // Grafana writes its logs' folder even when it logs to the console.
        s.tmpfs.push("/var/log/grafana".to_owned());
        Ok(s)
    }

    fn prometheus(&mut self, alertmanager: &str) -> Service {
        let env = &self.env.name;
        let volume = naming::compose_prometheus_volume();
        self.volumes.insert(volume.clone(), NamedVolume::default());
        let mut s = hardened(PROMETHEUS_IMAGE.to_owned());
        s.depends_on = BTreeMap::from([(
            alertmanager.to_owned(),
            Dependency {
                condition: "service_healthy",
                required: true,
            },
        )]);
        s.volumes = vec![
            bind_file(
                &naming::prometheus_config_file(env),
                "/etc/prometheus/prometheus.yml",
            ),
            bind_file(
                &naming::prometheus_compose_rules_file(env),
                "/etc/prometheus/rules.yaml",
            ),
            Mount {
                kind: "volume",
                source: Some(volume),
                target: "/prometheus".to_owned(),
                read_only: false,
                bind: None,
                tmpfs: None,
            },
        ];
        s.ports = vec![port_mapping(9090, PROMETHEUS_PORT, Protocol::Tcp)];
        s.command = vec![
            "--config.file=/etc/prometheus/prometheus.yml".to_owned(),
            "--storage.tsdb.path=/prometheus".to_owned(),
            format!(
                "--storage.tsdb.retention.time={}",
                format_duration(self.env.observability.retention_ms)
            ),
        ];
        if let Some(bytes) = self.env.observability.retention_bytes {
            s.command.push(format!(
                "--storage.tsdb.retention.size={}",
                crate::units::prometheus_bytes(bytes)
            ));
        }
        s.healthcheck = Some(tool_healthcheck(&[
            "wget",
            "-q",
            "--spider",
            "http://127.0.0.1:9090/-/ready",
        ]));
        self.notes.monitoring = Some(env.clone());
        s
    }
}

/// A service with the secure defaults every generated container gets: restarted unless
/// stopped, a read-only root filesystem with a tmpfs `/tmp`, no capabilities and no
/// privilege escalation. Tools keep their image's user.
fn hardened(image: String) -> Service {
    Service {
        image,
        restart: "unless-stopped".to_owned(),
        cap_drop: vec!["ALL".to_owned()],
        read_only: true,
        security_opt: vec!["no-new-privileges:true".to_owned()],
        tmpfs: vec!["/tmp".to_owned()],
        ..Default::default()
    }
}

/// Grafana's data source provisioning: the Compose Prometheus, by service name, under the
/// uid every dashboard panel names.
fn grafana_datasources(prometheus: &str) -> Result<String, EmitError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct File {
        api_version: u32,
        datasources: Vec<Source>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Source {
        name: &'static str,
        uid: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        access: &'static str,
        url: String,
        is_default: bool,
        editable: bool,
    }
    to_yaml(&[File {
        api_version: 1,
        datasources: vec![Source {
            name: "Prometheus",
            uid: naming::GRAFANA_DATASOURCE_UID,
            kind: "prometheus",
            access: "proxy",
            url: format!("http://{prometheus}:9090"),
            is_default: true,
            editable: false,
        }],
    }])
}

/// Grafana's dashboard provisioning: the dashboard files of the output folder, mounted
/// read-only, which the UI cannot change.
fn grafana_dashboard_provider() -> Result<String, EmitError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct File {
        api_version: u32,
        providers: Vec<Provider>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Provider {
        name: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        disable_deletion: bool,
        allow_ui_updates: bool,
        options: Options,
    }
    #[derive(Serialize)]
    struct Options {
        path: &'static str,
    }
    to_yaml(&[File {
        api_version: 1,
        providers: vec![Provider {
            name: "plinth",
            kind: "file",
            disable_deletion: true,
            allow_ui_updates: false,
            options: Options {
                path: naming::GRAFANA_DASHBOARDS_MOUNT,
            },
        }],
    }])
}

/// Persistent storage, which the Kubernetes side mounts for stateful workloads only.
fn persistent(w: &Workload) -> Option<&ir::Storage> {
    w.storage.as_ref().filter(|_| w.kind == Kind::Stateful)
}

fn port_mapping(target: u16, host: u16, protocol: Protocol) -> PortMapping {
    PortMapping {
        target,
        host_ip: HOST_IP,
        published: host.to_string(),
        protocol: match protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        },
    }
}

fn docker_socket() -> Mount {
    Mount {
        kind: "bind",
        source: Some(DOCKER_SOCKET.to_owned()),
        target: DOCKER_SOCKET.to_owned(),
        read_only: true,
        bind: Some(BindOptions {
            create_host_path: false,
        }),
        tmpfs: None,
    }
}

/// A read-only bind mount of a file another target writes, given by its output path.
fn bind_file(output_path: &str, target: &str) -> Mount {
    Mount {
        kind: "bind",
        source: Some(naming::from_compose_dir(output_path)),
        target: target.to_owned(),
        read_only: true,
        bind: Some(BindOptions {
            create_host_path: false,
        }),
        tmpfs: None,
    }
}

fn tool_healthcheck(cmd: &[&str]) -> Healthcheck {
    let mut test = vec!["CMD".to_owned()];
    test.extend(cmd.iter().map(|s| (*s).to_owned()));
    Healthcheck {
        test,
        interval: "10s".to_owned(),
        timeout: "5s".to_owned(),
        retries: 3,
        start_period: Some("10s".to_owned()),
    }
}

/// The health check of a workload, when Compose can run one: the spec's
/// `compose.healthcheck` command; else the exec readiness probe (or liveness, without one);
/// else the HTTP probe run with the HTTP client the spec says the image has. An HTTP probe
/// without a client and a TCP probe give none: Compose can only run commands in the
/// container, and slim or distroless images have no client to run.
fn healthcheck(w: &Workload) -> Option<Healthcheck> {
    let probe = w.probes.readiness.as_ref().or(w.probes.liveness.as_ref());
    let cmd: Vec<String> = match (&w.compose_healthcheck, probe.map(|p| &p.action)) {
        (Some(ComposeHealthcheck::Command(cmd)), _) | (_, Some(ProbeAction::Exec(cmd))) => {
            cmd.clone()
        }
        (Some(ComposeHealthcheck::Http(client)), Some(ProbeAction::Http { path, port })) => {
            let url = format!("http://127.0.0.1:{}{path}", port.port);
            match client {
                HttpClient::Wget => vec!["wget".into(), "-q".into(), "--spider".into(), url],
                HttpClient::Curl => vec![
                    "curl".into(),
                    "-fsS".into(),
                    "-o".into(),
                    "/dev/null".into(),
                    url,
                ],
            }
        }
        _ => return None,
    };
    let mut test = vec!["CMD".to_owned()];
    test.extend(cmd.iter().cloned());
    let (period, timeout, retries, delay) = probe.map_or(
        (ir::PROBE_PERIOD, ir::PROBE_TIMEOUT, ir::PROBE_FAILURES, 0),
        |p| (p.period, p.timeout, p.failure_threshold, p.initial_delay),
    );
    // The startup probe's budget is how long the container may take to start; Compose's
    // `start_period` is the same grace time.
    let startup = w.probes.startup.as_ref().map_or(0, |s| {
        s.initial_delay
            .saturating_add(s.period.saturating_mul(s.failure_threshold))
    });
    let start = delay.max(startup);
    Some(Healthcheck {
        test,
        interval: format!("{period}s"),
        timeout: format!("{timeout}s"),
        retries,
        start_period: (start > 0).then(|| format!("{start}s")),
    })
}

/// Traefik routing labels from the ingress: the same host and path prefix as the
/// Kubernetes Ingress, served over HTTP on the local entrypoint.
fn traefik_labels(w: &Workload, i: &ir::Ingress) -> BTreeMap<String, String> {
    let router = format!("traefik.http.routers.{}", w.name);
    BTreeMap::from([
        ("traefik.enable".to_owned(), "true".to_owned()),
        (format!("{router}.entrypoints"), "web".to_owned()),
        (
            format!("{router}.rule"),
            format!(
                "Host({}) && PathPrefix({})",
                go_string(&i.host),
                go_string(&i.path)
            ),
        ),
        (
            format!("traefik.http.services.{}.loadbalancer.server.port", w.name),
            i.port.port.to_string(),
        ),
    ])
}

/// `text` as a Go string literal, which is how a Traefik rule reads a matcher's argument: a
/// raw string in backticks when `text` has no backtick (the usual form, read as written),
/// otherwise an interpreted string with `"`, `\` and control characters escaped. A path or
/// host from the spec thus stays one argument and can never close it and add a matcher
/// (`/a`) || Host(`evil`).
fn go_string(text: &str) -> String {
    if !text.contains('`') && !text.contains('\r') {
        return format!("`{text}`");
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Host ports already published. Several services often listen on the same port (every
/// backend on 8080), but a host port can be published once.
#[derive(Default)]
struct HostPorts {
    taken: BTreeSet<u16>,
    /// For each wanted port, the last port claimed for it. Ports are never released, so every
    /// port from the wanted one up to that one is still taken, and the next search starts
    /// there: without this, 10,000 services on 8080 probed 8080, 8081, … each time, which is
    /// quadratic (minutes).
    last: BTreeMap<u16, u16>,
}

impl HostPorts {
    /// Claims `wanted`, or the next free port above it (wrapping to 1024), `None` when every
    /// port is taken.
    fn claim(&mut self, wanted: u16) -> Option<u16> {
        let from = self.last.get(&wanted).copied().unwrap_or(wanted);
        // The search order is wanted..=MAX, then 1024..wanted; resume where the last search
        // for `wanted` ended, in that order.
        let port = if from >= wanted {
            (from..=u16::MAX)
                .chain(1024..wanted)
                .find(|p| !self.taken.contains(p))
        } else {
            (from..wanted).find(|p| !self.taken.contains(p))
        }?;
        self.taken.insert(port);
        self.last.insert(wanted, port);
        Some(port)
    }
}

/// A piece of a Compose environment value that plinth interpolates.
#[derive(Clone, Debug)]
enum Piece {
    /// Text, written with every `$` escaped.
    Text(String),
    /// A `.env` variable, interpolated (`${VAR:?…}`).
    Var(String),
}

/// `value` cut at each `$(NAME)` whose NAME is a secret variable of the service (`dotenv`
/// maps it to its `.env` variable); other text, other `$(…)` included, stays text.
fn reading(value: &str, dotenv: &BTreeMap<&str, String>) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = value;
    let mut text = String::new();
    while let Some(at) = rest.find("$(") {
        let after = &rest[at + 2..];
        match after
            .find(')')
            .and_then(|end| dotenv.get(&after[..end]).map(|var| (end, var)))
        {
            Some((end, var)) => {
                text.push_str(&rest[..at]);
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Var(var.clone()));
                rest = &after[end + 1..];
            }
            None => {
                text.push_str(&rest[..at + 2]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// The Compose file as YAML. Compose interpolates `$` in every string value of the file, so
/// text from the spec — a command, an environment value, a config file's content, a path in a
/// Traefik rule — would have `$VAR` replaced by the variable of whoever runs `docker compose
/// up`. Every string value is therefore escaped here, in one pass over the whole document
/// (`$` is written `$$`), and only then are plinth's own interpolations put in: the secret
/// variables of each service's `environment`, read from `.env`. No field can be forgotten, and
/// no text from the spec can become an interpolation.
fn compose_yaml(
    file: &File,
    required: &BTreeMap<String, BTreeMap<String, Vec<Piece>>>,
) -> Result<String, EmitError> {
    let mut doc = serde_json::to_value(file)
        .map_err(|e| EmitError(format!("compose serialization failed: {e}")))?;
    literal_dollars(&mut doc);
    for (service, vars) in required {
        for (key, pieces) in vars {
            if let Some(slot) = doc
                .get_mut("services")
                .and_then(|s| s.get_mut(service))
                .and_then(|s| s.get_mut("environment"))
                .and_then(|e| e.get_mut(key))
            {
                let value: String = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => t.replace('$', "$$"),
                        Piece::Var(var) => format!("${{{var}:?set it in .env}}"),
                    })
                    .collect();
                *slot = serde_json::Value::String(value);
            }
        }
    }
    to_yaml(&[doc])
}

/// Escapes `$` as `$$` in every string value of a document (keys are not interpolated).
fn literal_dollars(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        serde_json::Value::Array(items) => items.iter_mut().for_each(literal_dollars),
        serde_json::Value::Object(map) => map.values_mut().for_each(literal_dollars),
        _ => {}
    }
}

/// Millicores as Compose's decimal `cpus`.
fn cpus(milli: i64) -> String {
    let whole = milli / 1000;
    let frac = milli % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// Bytes with the largest of Compose's binary units that divides them exactly.
fn memory(bytes: i128) -> String {
    for (unit, f) in [("g", 1i128 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes % f == 0 {
            return format!("{}{unit}", bytes / f);
        }
    }
    format!("{bytes}b")
}

/// One `.env` variable per secret reference of the environment, so every service that reads
/// a secret gets the same value. A name that two references would share
/// ([`naming::compose_variable`]) is qualified by the secret
/// ([`naming::compose_qualified_variable`]); should that still clash, the later reference is
/// numbered.
fn variables(env: &Environment) -> BTreeMap<SecretRef, String> {
    let refs: BTreeSet<&SecretRef> = env
        .workloads
        .iter()
        .flat_map(|w| w.secrets.values())
        .collect();
    let mut uses: BTreeMap<String, usize> = BTreeMap::new();
    for r in &refs {
        *uses.entry(naming::compose_variable(r)).or_default() += 1;
    }
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for r in refs {
        let short = naming::compose_variable(r);
        let base = if uses[&short] > 1 {
            naming::compose_qualified_variable(r)
        } else {
            short
        };
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        out.insert(r.clone(), name);
    }
    out
}

/// `.env.example`: every variable the Compose file reads, without a value, each with the
/// secret reference it stands for.
fn env_example(
    platform: &ir::Platform,
    vars: &BTreeMap<SecretRef, String>,
    grafana: bool,
) -> String {
    let mut text = hash_banner(platform);
    text.push_str(
        "# Copy this file to .env beside compose.yaml and give every variable a value.\n\
         # docker compose refuses to start while one is missing or empty.\n",
    );
    let mut by_name: Vec<(&String, &SecretRef)> = vars.iter().map(|(r, v)| (v, r)).collect();
    by_name.sort();
    for (var, r) in by_name {
        text.push_str(&format!(
            "\n# secret `{}`, key `{}`\n{var}=\n",
            r.secret, r.key
        ));
    }
    if grafana {
        text.push_str(&format!(
            "\n# the password of Grafana's `admin` user\n{}=\n",
            naming::GRAFANA_ADMIN_PASSWORD_VARIABLE
        ));
    }
    text
}

// ----------------------------------------------------------------------------- notes

/// What the Compose file cannot express, collected per feature and reported once each.
#[derive(Default)]
struct Notes {
    autoscaled: Vec<String>,
    budgets: Vec<String>,
    vpa: Vec<String>,
    liveness: Vec<String>,
    schedules: Vec<String>,
    read_replicas: Vec<String>,
    backups: Vec<String>,
    pooling: Vec<String>,
    /// Readers of a Secret that CloudNativePG creates in a cluster: `secret (readers)`.
    operator_secrets: Vec<String>,
    shared_volumes: Vec<String>,
    unpublished: Vec<String>,
    remapped: Vec<String>,
    /// Dependency → the workloads that wait for it without a health check.
    without_health: BTreeMap<String, Vec<String>>,
    waits_for_job: Vec<String>,
    managed_dependency: Vec<String>,
    managed: Vec<String>,
    renamed_tools: Vec<String>,
    node_groups: Vec<String>,
    quota: Vec<String>,
    drains: Vec<String>,
    pull_secrets: Vec<String>,
    init: Vec<String>,
    single_node: Vec<String>,
    /// Replicated Redis stores, which run one Redis without Sentinel.
    no_failover: Vec<String>,
    network_policies: bool,
    plain_http: bool,
    /// Whether the environment's edge is the Gateway API, which Traefik stands in for.
    gateway_api: bool,
    /// Whether the platform has a mesh, which Compose does not run.
    mesh: bool,
    receivers_offline: bool,
    /// Workloads with pod annotations, which Compose containers do not carry.
    annotations: Vec<String>,
    /// The platform's labels, which Compose containers do not carry.
    labels: bool,
    /// The environment whose Prometheus and Alertmanager files are mounted.
    monitoring: Option<String>,
}

impl Notes {
    fn per_workload(&mut self, w: &Workload, replicas: u32) {
        if !w.annotations.is_empty() {
            self.annotations.push(w.name.clone());
        }
        if w.disruption_budget.is_some() {
            self.budgets.push(w.name.clone());
        }
        if w.vpa.is_some() {
            self.vpa.push(w.name.clone());
        }
        if w.probes.liveness.is_some() {
            self.liveness.push(w.name.clone());
        }
        if let Some(s) = &w.schedule {
            self.schedules.push(format!("{} ({s})", w.name));
        }
        if let Role::DataStore(info) = &w.role {
            if info.read_replicas > 0 {
                self.read_replicas
                    .push(format!("{} ({})", w.name, info.read_replicas));
            }
            if info.backup.is_some() {
                self.backups.push(w.name.clone());
            }
            if info.pooling.is_some() {
                self.pooling.push(w.name.clone());
            }
        }
        if replicas > 1 && persistent(w).is_some() {
            self.shared_volumes.push(w.name.clone());
        }
        if !w.ports.is_empty() {
            self.network_policies = true;
        }
        if let Some(p) = &w.placement {
            self.node_groups.push(format!("{} ({})", w.name, p.group));
        }
        if w.shutdown.drain_s.is_some() {
            self.drains.push(w.name.clone());
        }
        if !w.image_pull_secrets.is_empty() {
            self.pull_secrets.push(w.name.clone());
        }
        if !w.init.is_empty() {
            self.init.push(w.name.clone());
        }
    }

    fn whole_platform(&mut self, env: &Environment) {
        if env.quota.is_some() {
            self.quota.push(env.name.clone());
        }
        self.managed = env.managed_stores.iter().map(|m| m.name.clone()).collect();
        // Where a cloud runs the PostgreSQL stores, the operator writes `<store>-app`; here a
        // reference to it is one more `.env` variable, for the single container.
        for store in env
            .workloads
            .iter()
            .filter(|w| matches!(&w.role, Role::DataStore(info) if info.engine == "postgres"))
        {
            let secret = naming::cnpg_app_secret(&store.name);
            let readers: Vec<&str> = env
                .workloads
                .iter()
                .filter(|w| w.secrets.values().any(|r| r.secret == secret))
                .map(|w| w.name.as_str())
                .collect();
            if !readers.is_empty() {
                self.operator_secrets
                    .push(format!("`{secret}` ({})", readers.join(", ")));
            }
        }
    }

    fn into_notes(self) -> Vec<Note> {
        let mut out = Vec::new();
        let mut add = |items: &[String], text: &str| {
            if !items.is_empty() {
                out.push(note(format!("{text}: {}", items.join(", "))));
            }
        };
        add(
            &self.autoscaled,
            "autoscaling is not expressible in Compose; these run their minimum replica count",
        );
        add(
            &self.budgets,
            "disruption budgets are not expressible in Compose",
        );
        add(
            &self.vpa,
            "vertical autoscaling is not expressible in Compose",
        );
        add(
            &self.liveness,
            "liveness probes do not restart containers in Compose (Docker marks them unhealthy only)",
        );
        add(
            &self.schedules,
            "Compose has no schedules; these jobs run on demand with `docker compose --profile jobs run NAME`",
        );
        add(
            &self.read_replicas,
            "read replicas are not run by Compose; only the primary runs",
        );
        add(&self.backups, "backups are not run by Compose");
        add(
            &self.pooling,
            "connection pooling (PgBouncer) is not run by Compose; clients connect to the PostgreSQL container directly",
        );
        add(
            &self.operator_secrets,
            "CloudNativePG writes these connection Secrets in a cluster; in Compose their keys are `.env` variables to point at the PostgreSQL container",
        );
        add(
            &self.quota,
            "a namespace quota is not expressible in Compose; each service keeps its own limits",
        );
        add(
            &self.node_groups,
            "node groups do not apply on one machine; these run beside the others",
        );
        add(
            &self.drains,
            "Compose has no preStop hook, so `shutdown.drain` does not apply; `shutdown.grace` is the stop grace period",
        );
        add(
            &self.init,
            "init containers are not run by Compose; run their commands with `docker compose run` or as a `kind = \"job\"` service",
        );
        add(
            &self.pull_secrets,
            "image pull secrets are not expressible in Compose; log in with `docker login` to pull these",
        );
        add(
            &self.single_node,
            "clustered stores run as one node in Compose",
        );
        add(
            &self.no_failover,
            "Redis replication and Sentinel failover are not run by Compose; one Redis runs, on its own volume",
        );
        add(
            &self.shared_volumes,
            "replicas of these share one named volume in Compose",
        );
        add(
            &self.unpublished,
            "ports of services with more than one replica are not published on the host",
        );
        add(
            &self.remapped,
            "host ports taken by another service are published on the next free port",
        );
        let without: Vec<String> = self
            .without_health
            .iter()
            .map(|(d, by)| format!("{d} (needed by {})", by.join(", ")))
            .collect();
        add(
            &without,
            "no health check Compose can run (an HTTP or TCP probe needs a client in the image: \
             set `compose.healthcheck` to \"wget\", \"curl\" or a command), so dependents only \
             wait for these to start",
        );
        add(
            &self.waits_for_job,
            "dependencies on cron jobs are optional in Compose, as jobs run on demand",
        );
        add(&self.managed, "managed data stores are not run by Compose");
        add(
            &self.managed_dependency,
            "dependencies on managed data stores are not expressible in Compose",
        );
        add(&self.renamed_tools, "tool services renamed");
        add(
            &self.annotations,
            "pod annotations are Kubernetes metadata, not given to Compose containers",
        );
        if self.labels {
            out.push(note(
                "`platform.labels` are Kubernetes metadata, not given to Compose containers"
                    .to_owned(),
            ));
        }
        out.push(note(
            "CPU requests are not expressible in Compose: Docker reserves memory only \
             (`deploy.resources.reservations.memory`, a soft limit) outside Swarm; the CPU \
             limits apply"
                .to_owned(),
        ));
        if self.network_policies {
            out.push(note(
                "network policies are not expressible in Compose: every service can reach \
                 every other on the project network"
                    .to_owned(),
            ));
        }
        if self.plain_http {
            out.push(note(format!(
                "TLS is not terminated locally: Traefik serves the ingress hosts over HTTP on \
                 {HOST_IP}:{TRAEFIK_PORT}"
            )));
        }
        if self.gateway_api {
            out.push(note(
                "the Gateway API is not modelled locally: Traefik routes each exposed service's \
                 host and path instead of the Gateway's listeners and the HTTPRoutes"
                    .to_owned(),
            ));
        }
        if self.mesh {
            out.push(note(
                "the Istio mesh is not modelled locally: services call each other directly, \
                 without mutual TLS, authorization policies, circuit breaking, timeouts or retries"
                    .to_owned(),
            ));
        }
        if let Some(env) = self.monitoring {
            out.push(note(format!(
                "Prometheus and Alertmanager mount {}, {} and {}: build the prometheus and \
                 alertmanager targets into the same output folder",
                naming::prometheus_config_file(&env),
                naming::prometheus_compose_rules_file(&env),
                naming::alertmanager_config_file(&env)
            )));
        }
        if self.receivers_offline {
            out.push(note(
                "Alertmanager runs without receiver credentials locally: alerts show in its UI \
                 but no notification is sent"
                    .to_owned(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::go_string;

    /// A Traefik rule argument stays one Go string literal whatever it holds: `check` rejects
    /// such paths and hosts already (E195), and this keeps the rule sound without it.
    #[test]
    fn rule_arguments_cannot_close_their_quotes() {
        assert_eq!(go_string("/api"), "`/api`");
        assert_eq!(go_string("/a`) || Host(`evil"), "\"/a`) || Host(`evil\"");
        assert_eq!(go_string("a\"b\\c`"), "\"a\\\"b\\\\c`\"");
        assert_eq!(go_string("x\ry"), "\"x\\u000dy\"");
    }
}
