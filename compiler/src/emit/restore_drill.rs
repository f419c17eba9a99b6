//! Restore drills (`backup.verify`) of the PostgreSQL stores CloudNativePG runs.
//!
//! A backup is only as good as the last restore from it, so on the `verify` schedule a
//! CronJob `<store>-verify` creates a scratch `Cluster` `<store>-verify` of one instance
//! bootstrapped with `recovery` from the store's barman-cloud `ObjectStore` (its latest base
//! backup and the archived WAL after it), waits until the operator reports it `Ready` (the
//! restore replayed and PostgreSQL accepts connections), and deletes it whatever happened.
//! A restore that fails or does not finish in time fails the Job, which the backup alerts
//! report (`RestoreDrillFailed`).
//!
//! Why a scratch `Cluster` through the operator and not a restore script: it is the very
//! path a real recovery takes (the same operator, plugin, image, IAM role and bucket), so a
//! drill that passes proves the recovery a team would run, with nothing plinth wrote between
//! the backups and the database. The scratch cluster runs as the store's backup
//! ServiceAccount (`<store>-cnpg`), whose IAM role may read the bucket, and does not archive
//! WAL, so it never writes into the store's backups. Its manifest is a ConfigMap the job
//! applies; the job's own ServiceAccount may only manage `Cluster` objects in the namespace.
//!
//! The k8s target serializes these specs and the Helm chart renders them from its values.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ConfigMapVolumeSource, Container, DownwardAPIProjection,
    DownwardAPIVolumeFile, EmptyDirVolumeSource, EnvVar, KeyToPath, ObjectFieldSelector, PodSpec,
    PodTemplateSpec, ProjectedVolumeSource, ServiceAccountTokenProjection, Volume, VolumeMount,
    VolumeProjection,
};
use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicySpec};
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{json, Value as Json};

use super::{backups, cnpg};
use crate::ir::{self, naming, Environment, Workload};

/// kubectl with a shell, pinned: the drill applies, waits for and deletes the scratch cluster.
pub(crate) const KUBECTL_IMAGE: &str = "docker.io/alpine/k8s:1.34.1";

/// How long the restore may take before the drill fails.
const TIMEOUT: &str = "6h";

/// Key of the scratch cluster's manifest in the drill's ConfigMap.
pub(crate) const MANIFEST_KEY: &str = "cluster.yaml";

/// The name of the external cluster the scratch cluster recovers from.
const ORIGIN: &str = "origin";

/// The drill's schedule for store `w` in `env`, when it has one: a store the operator runs,
/// with backups and `verify`.
pub(crate) fn schedule<'a>(env: &Environment, w: &'a Workload) -> Option<&'a str> {
    if !cnpg::operated(env, w) {
        return None;
    }
    cnpg::backup(w)?.verify.as_deref()
}

/// The labels of the drill's objects and pods: the store's, with the drill's identity.
pub(crate) fn labels(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> BTreeMap<String, String> {
    let mut labels = naming::workload_labels(&platform.name, env, w);
    labels.extend(naming::restore_drill_selector_labels(
        &platform.name,
        &w.name,
    ));
    labels.insert(
        "app.kubernetes.io/component".to_owned(),
        "restore-drill".to_owned(),
    );
    labels
}

/// The scratch cluster: the store's `Cluster` as one instance named `<store>-verify`,
/// bootstrapped by recovery from the store's `ObjectStore`, with no WAL archiving, no extra
/// Service and the store's backup ServiceAccount.
pub(crate) fn scratch_cluster(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    resources: Json,
) -> Json {
    let name = naming::restore_drill(&w.name);
    let mut scratch = w.clone();
    scratch.name.clone_from(&name);
    if let ir::Role::DataStore(info) = &mut scratch.role {
        info.read_replicas = 0;
        info.pooling = None;
        info.backup = None;
    }
    let mut spec = cnpg::cluster_spec(platform, env, &scratch, resources);
    if let Some(m) = spec.as_object_mut() {
        m.remove("managed");
        m.remove("topologySpreadConstraints");
    }
    spec["instances"] = json!(1);
    spec["enablePDB"] = json!(false);
    spec["serviceAccountName"] = json!(naming::cnpg_service_account(&w.name));
    spec["bootstrap"] = json!({ "recovery": { "source": ORIGIN } });
    spec["externalClusters"] = json!([{
        "name": ORIGIN,
        "plugin": {
            "name": cnpg::BARMAN_PLUGIN,
            "parameters": {
                "barmanObjectName": naming::cnpg_object_store(&w.name),
                "serverName": w.name,
            },
        },
    }]);
    json!({
        "apiVersion": cnpg::API_VERSION,
        "kind": "Cluster",
        "metadata": ObjectMeta {
            name: Some(name),
            namespace: Some(env.namespace.clone()),
            labels: Some(labels(platform, env, w)),
            ..Default::default()
        },
        "spec": spec,
    })
}

/// The scratch cluster's manifest as YAML, the ConfigMap's [`MANIFEST_KEY`].
pub(crate) fn manifest(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
    resources: Json,
) -> String {
    super::yaml::to_yaml(&[scratch_cluster(platform, env, w, resources)]).unwrap_or_default()
}

/// What the drill's ServiceAccount may do: manage `Cluster` objects of the namespace, no
/// more (kubectl `apply` reads and patches, `wait` watches).
pub(crate) fn role_rules() -> Vec<PolicyRule> {
    vec![PolicyRule {
        api_groups: Some(vec!["postgresql.cnpg.io".to_owned()]),
        resources: Some(vec!["clusters".to_owned()]),
        verbs: ["get", "list", "watch", "create", "patch", "delete"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ..Default::default()
    }]
}

/// The drill's CronJob spec: delete a leftover scratch cluster, apply the manifest, wait for
/// `Ready`, and delete it on the way out; one run at a time, not retried (a drill that
/// failed has said what it had to say).
pub(crate) fn cron_job_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> CronJobSpec {
    let job = naming::restore_drill(&w.name);
    let script = format!(
        "set -eu; trap 'kubectl delete cluster {job} --ignore-not-found --wait=false' EXIT; \
         kubectl delete cluster {job} --ignore-not-found --wait=true; \
         kubectl apply -f /drill/{MANIFEST_KEY}; \
         kubectl wait --for=condition=Ready cluster/{job} --timeout={TIMEOUT}"
    );
    let security = backups::container_security(&w.security);
    let container = Container {
        name: job.clone(),
        image: Some(KUBECTL_IMAGE.to_owned()),
        image_pull_policy: Some("Always".to_owned()),
        command: Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), script]),
        env: Some(vec![EnvVar {
            name: "HOME".to_owned(),
            value: Some("/tmp".to_owned()),
            ..Default::default()
        }]),
        resources: Some(backups::resources()),
        security_context: Some(security),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "drill".to_owned(),
                mount_path: "/drill".to_owned(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..Default::default()
            },
            VolumeMount {
                name: "kube-api-access".to_owned(),
                mount_path: "/var/run/secrets/kubernetes.io/serviceaccount".to_owned(),
                read_only: Some(true),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let pod = PodSpec {
        service_account_name: Some(job.clone()),
        // kubectl calls the Kubernetes API with the account's token, which only this
        // container mounts ([`token_volume`]), not every container the pod might get.
        automount_service_account_token: Some(false),
        restart_policy: Some("Never".to_owned()),
        security_context: Some(backups::pod_security(&w.security)),
        containers: vec![container],
        volumes: Some(vec![
            Volume {
                name: "drill".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: job.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
            token_volume(),
        ]),
        ..Default::default()
    };
    CronJobSpec {
        schedule: schedule(env, w).unwrap_or_default().to_owned(),
        concurrency_policy: Some("Forbid".to_owned()),
        successful_jobs_history_limit: Some(3),
        failed_jobs_history_limit: Some(3),
        job_template: JobTemplateSpec {
            spec: Some(JobSpec {
                backoff_limit: Some(0),
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

/// The account's credentials as the automatic mount would give them (a token of at most an
/// hour, the cluster's CA, the namespace), mounted explicitly into the one container that
/// calls the API.
fn token_volume() -> Volume {
    Volume {
        name: "kube-api-access".to_owned(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".to_owned(),
                        expiration_seconds: Some(3600),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".to_owned(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".to_owned(),
                            path: "ca.crt".to_owned(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".to_owned(),
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.namespace".to_owned(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The drill job's policy: out to the Kubernetes API only, nothing in.
pub(crate) fn job_policy_spec(
    platform: &ir::Platform,
    env: &Environment,
    w: &Workload,
) -> NetworkPolicySpec {
    NetworkPolicySpec {
        pod_selector: Some(LabelSelector {
            match_labels: Some(naming::restore_drill_selector_labels(
                &platform.name,
                &w.name,
            )),
            ..Default::default()
        }),
        policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
        ingress: None,
        egress: Some(vec![cnpg::api_server(env)]),
    }
}

/// The scratch cluster's policy: that of a backed-up cluster of its name with no clients
/// (the operator, its own instances, the Kubernetes API, and HTTPS to read the bucket).
pub(crate) fn cluster_policy_spec(env: &Environment, w: &Workload) -> NetworkPolicySpec {
    let mut scratch = w.clone();
    scratch.name = naming::restore_drill(&w.name);
    if let ir::Role::DataStore(info) = &mut scratch.role {
        info.pooling = None;
    }
    let clients: [NetworkPolicyPeer; 0] = [];
    cnpg::policy_spec(env, &scratch, &clients)
}
