//! Off-cluster backups of the in-cluster data stores that CloudNativePG does not run: Redis,
//! Qdrant and MinIO, in an environment with a cloud.
//!
//! Each backed-up store gets a CronJob `<store>-backup` on the spec's `schedule`. Its pod dumps
//! the store into a scratch volume with the engine's own tool (an init container), then copies
//! the dump into the store's S3 bucket `<platform>-<env>-<store>-backups` (the main
//! container, the AWS CLI), under a folder named after the time of the run. The bucket, its
//! lifecycle (objects expire after `retention`) and the IRSA role of the job's ServiceAccount
//! `<store>-backup` are the Terraform target's (`backups.tf`), as they are for CloudNativePG.
//! Why two containers: no single pinned image has both the store's client and the AWS CLI,
//! and an init container that fails stops the upload, so a failed dump never overwrites
//! anything and the Job fails (which the backup alerts see).
//!
//! The k8s target serializes these specs and the Helm chart renders them from its values, so
//! both give the same objects. An environment without a cloud keeps the in-namespace dump
//! of `k8s::backup_plan` where there is one, and says what it does not give.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, PodSecurityContext,
    PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::ir::{self, naming, Environment, Kind, Workload};
use crate::units::format_bytes;

/// The AWS CLI, pinned: it copies the dump into the bucket with the pod's IRSA credentials.
pub(crate) const AWS_CLI_IMAGE: &str = "docker.io/amazon/aws-cli:2.32.8";

/// curl, pinned: Qdrant's image has no HTTP client, and its snapshots are taken over HTTP.
pub(crate) const CURL_IMAGE: &str = "docker.io/curlimages/curl:8.11.1";

/// The MinIO client, pinned: `mc mirror` copies every bucket of the server.
pub(crate) const MC_IMAGE: &str = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z";

/// Where the dump is written and read from, the scratch volume shared by both containers.
const SCRATCH: &str = "/backup";

/// HTTPS, the port of S3 and STS (the IRSA token exchange).
const HTTPS: u16 = 443;

/// What an engine's dump runs: the image and the shell script.
struct Dump {
    image: String,
    script: String,
}

/// Whether `w` is backed up off the cluster in `env`: a data store with a backup schedule,
/// not run by CloudNativePG (which archives on its own), of an engine plinth can dump, in an
/// environment whose Terraform makes the bucket.
pub(crate) fn offsite(env: &Environment, w: &Workload) -> bool {
    env.cloud.is_some() && !super::cnpg::operated(env, w) && schedule(w).is_some() && dumpable(w)
}

/// Whether plinth knows how to dump `w`'s engine to a file.
pub(crate) fn dumpable(w: &Workload) -> bool {
    matches!(w.engine(), Some("redis" | "qdrant" | "object-storage"))
}

/// The backup schedule of `w`, if it has one.
fn schedule(w: &Workload) -> Option<&str> {
    match &w.role {
        ir::Role::DataStore(info) => info.backup.as_ref()?.schedule.as_deref(),
        ir::Role::Service => None,
    }
}

/// The port of `w` its clients use (its first).
fn port(w: &Workload) -> u16 {
    w.ports.first().map_or(0, |p| p.port)
}

/// The engine's dump into [`SCRATCH`].
///
/// Redis: `redis-cli --rdb` asks the server for an RDB snapshot over the replication
/// protocol, authenticated through `REDISCLI_AUTH`, the variable the server's own password
/// comes from. Qdrant: a snapshot of every collection, taken on every node (in distributed
/// mode a collection snapshot holds only the shards of the node it is taken on, and full
/// storage snapshots are refused), downloaded, then deleted from the node so the store's
/// volume does not fill up; the API key, when the store has one, goes in the `api-key`
/// header. MinIO: `mc mirror` of every bucket with the root credentials.
fn dump(w: &Workload) -> Dump {
    let name = &w.name;
    let port = port(w);
    match w.engine() {
        Some("redis") => Dump {
            image: w.image.clone(),
            script: format!("redis-cli -h {name} -p {port} --rdb {SCRATCH}/dump.rdb"),
        },
        Some("qdrant") => {
            // A StatefulSet's pods have stable names under its headless Service.
            let hosts: Vec<String> = if w.kind == Kind::Stateful {
                (0..w.max_replicas())
                    .map(|i| format!("{name}-{i}.{name}"))
                    .collect()
            } else {
                vec![name.clone()]
            };
            Dump {
                image: CURL_IMAGE.to_owned(),
                script: format!(
                    "set -eu; for host in {hosts}; do \
                     base=\"http://$host:{port}\"; mkdir -p \"{SCRATCH}/$host\"; \
                     for c in $(curl -fsS -H \"api-key: ${{QDRANT_API_KEY:-}}\" \"$base/collections\" | grep -o '\"name\":\"[^\"]*\"' | cut -d'\"' -f4); do \
                     s=$(curl -fsS -X POST -H \"api-key: ${{QDRANT_API_KEY:-}}\" \"$base/collections/$c/snapshots?wait=true\" | grep -o '\"name\":\"[^\"]*\"' | cut -d'\"' -f4); \
                     curl -fsS -H \"api-key: ${{QDRANT_API_KEY:-}}\" -o \"{SCRATCH}/$host/$c.snapshot\" \"$base/collections/$c/snapshots/$s\"; \
                     curl -fsS -X DELETE -H \"api-key: ${{QDRANT_API_KEY:-}}\" \"$base/collections/$c/snapshots/$s\" >/dev/null; \
                     done; done",
                    hosts = hosts.join(" ")
                ),
            }
        }
        _ => Dump {
            image: MC_IMAGE.to_owned(),
            script: format!(
                "set -eu; mc alias set store http://{name}:{port} \"$MINIO_ROOT_USER\" \"$MINIO_ROOT_PASSWORD\" >/dev/null; mc mirror --overwrite store {SCRATCH}/buckets"
            ),
        },
    }
}

/// The dump's plain environment and secret references: the store's own credentials, under
/// the variables its tool reads, and a writable home for tools that keep a configuration.
fn dump_env(w: &Workload) -> (BTreeMap<String, String>, BTreeMap<String, ir::SecretRef>) {
    let mut plain = BTreeMap::from([("HOME".to_owned(), "/tmp".to_owned())]);
    let mut secrets = BTreeMap::new();
    let mut copy = |from: &str, to: &str| {
        if let Some(r) = w.secrets.get(from) {
            secrets.insert(to.to_owned(), r.clone());
        }
    };
    match w.engine() {
        Some("redis") => copy("REDISCLI_AUTH", "REDISCLI_AUTH"),
        Some("qdrant") => copy("QDRANT__SERVICE__API_KEY", "QDRANT_API_KEY"),
        _ => {
            copy("MINIO_ROOT_USER", "MINIO_ROOT_USER");
            copy("MINIO_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD");
            plain.insert("MC_CONFIG_DIR".to_owned(), "/tmp/mc".to_owned());
        }
    }
    (plain, secrets)
}

/// Plain variables then secret references, sorted by name as every container's are.
fn env_vars(
    plain: BTreeMap<String, String>,
    secrets: BTreeMap<String, ir::SecretRef>,
) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = plain
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..Default::default()
        })
        .collect();
    vars.extend(secrets.into_iter().map(|(name, r)| EnvVar {
        name,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: r.secret,
                key: r.key,
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }));
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    vars
}

/// Requests and limits of each backup container: a dump and a copy are I/O bound, and the
/// store's own resources (sized for its data in memory) would reserve far too much.
pub(crate) fn resources() -> ResourceRequirements {
    let q = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])
    };
    ResourceRequirements {
        requests: Some(q("100m", "128Mi")),
        limits: Some(q("1", "512Mi")),
        ..Default::default()
    }
}

/// The restricted security context of every backup container, whatever the store was
/// allowed: the job needs no root, no capability and no write outside its volumes.
pub(crate) fn container_security(s: &ir::Security) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(s.run_as_user.max(1)),
        run_as_group: Some(s.run_as_user.max(1)),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Default::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pod-level half of [`container_security`].
pub(crate) fn pod_security(s: &ir::Security) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(s.run_as_user.max(1)),
        run_as_group: Some(s.run_as_user.max(1)),
        fs_group: Some(s.run_as_user.max(1)),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The labels of the backup job's objects and pods: the store's, with the backup job's
/// identity and component.
pub(crate) fn labels(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> BTreeMap<String, String> {
    let mut labels = naming::workload_labels(&platform.name, env, w);
    labels.extend(naming::backup_selector_labels(&platform.name, &w.name));
    labels.insert(
        "app.kubernetes.io/component".to_owned(),
        "backup".to_owned(),
    );
    labels
}

/// The annotations of the CronJob: it depends on the store it dumps, which the closure
/// proof's reachability reads.
pub(crate) fn annotations(w: &Workload) -> BTreeMap<String, String> {
    BTreeMap::from([(naming::DEPENDS_ON.to_owned(), w.name.clone())])
}

/// The CronJob's spec: the dump, then the copy to `s3://<bucket>/<UTC time>/`, on the
/// spec's schedule, never two at once, retried twice; finished Jobs are kept (three
/// successful, three failed) so their status stays readable to kube-state-metrics.
pub(crate) fn cron_job_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> CronJobSpec {
    let job = naming::backup_job(&w.name);
    let bucket = naming::backup_bucket(&platform.name, &env.name, &w.name);
    let dump = dump(w);
    let (plain, secrets) = dump_env(w);
    let mounts = || {
        Some(vec![
            VolumeMount {
                name: "backup".to_owned(),
                mount_path: SCRATCH.to_owned(),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..Default::default()
            },
        ])
    };
    let security = container_security(&w.security);
    let dump_container = Container {
        name: "dump".to_owned(),
        image: Some(dump.image),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), dump.script]),
        env: Some(env_vars(plain, secrets)),
        resources: Some(resources()),
        security_context: Some(security.clone()),
        volume_mounts: mounts(),
        ..Default::default()
    };
    let upload = Container {
        name: job.clone(),
        image: Some(AWS_CLI_IMAGE.to_owned()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            format!(
                "set -eu; aws s3 cp --recursive --only-show-errors {SCRATCH} \"s3://{bucket}/$(date -u +%Y%m%dT%H%M%SZ)/\""
            ),
        ]),
        env: Some(env_vars(
            BTreeMap::from([("HOME".to_owned(), "/tmp".to_owned())]),
            BTreeMap::new(),
        )),
        resources: Some(resources()),
        security_context: Some(security),
        volume_mounts: mounts(),
        ..Default::default()
    };
    // The dump cannot be larger than the store's volume.
    let size = w.storage.as_ref().map_or(ir::STORAGE, |s| s.size);
    let pod = PodSpec {
        service_account_name: Some(naming::backup_service_account(&w.name)),
        // The IRSA webhook projects its own token; the Kubernetes API is not called.
        automount_service_account_token: Some(false),
        restart_policy: Some("Never".to_owned()),
        security_context: Some(pod_security(&w.security)),
        init_containers: Some(vec![dump_container]),
        containers: vec![upload],
        volumes: Some(vec![
            Volume {
                name: "backup".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource {
                    size_limit: Some(Quantity(format_bytes(size))),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    CronJobSpec {
        schedule: schedule(w).unwrap_or_default().to_owned(),
        concurrency_policy: Some("Forbid".to_owned()),
        successful_jobs_history_limit: Some(3),
        failed_jobs_history_limit: Some(3),
        job_template: JobTemplateSpec {
            spec: Some(JobSpec {
                backoff_limit: Some(2),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(platform, env, w)),
                        ..Default::default()
                    }),
                    spec: Some(pod),
                },
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The backup pods' NetworkPolicy: out to the store's ports and to HTTPS anywhere (S3 and
/// STS answer on public addresses AWS does not keep stable), nothing in. The store's own
/// policy admits the backup pods (`k8s::network_policy`).
pub(crate) fn policy_spec(platform: &ir::Platform, w: &Workload) -> NetworkPolicySpec {
    let tcp = |port: u16| NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    };
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector {
            match_labels: Some(naming::backup_selector_labels(&platform.name, &w.name)),
            ..Default::default()
        }),
        policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
        ingress: None,
        egress: Some(vec![
            NetworkPolicyEgressRule {
                to: Some(
                    std::iter::once(NetworkPolicyPeer {
                        pod_selector: Some(LabelSelector {
                            match_labels: Some(naming::selector_labels(&platform.name, w)),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    // A replicated Redis's Service, which the dump connects to, leads to its
                    // proxy.
                    .chain(
                        super::redis_ha::sentinel(w)
                            .map(|_| super::redis_ha::proxy_peer(platform, w)),
                    )
                    .collect(),
                ),
                ports: Some(w.service_ports().map(|p| tcp(p.port)).collect()),
            },
            NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: "0.0.0.0/0".to_owned(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ports: Some(vec![tcp(HTTPS)]),
            },
        ]),
    }
}
