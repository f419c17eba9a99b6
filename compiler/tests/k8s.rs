//! The Kubernetes target, feature by feature: each test compiles a small spec through the
//! public API, parses the manifests back and asserts the fields that matter.

use serde_json::Value;

/// Compiles `spec` and returns every object of environment `env`, in file order.
fn objects(spec: &str, env: &str) -> Vec<Value> {
    let c = plinth::compile("spec.toml", spec, &plinth::Options::default());
    assert!(
        !c.diagnostics.has_errors(),
        "{}",
        plinth::cli::render::human(&c.sources, &c.diagnostics.0, false, 100)
    );
    c.files
        .iter()
        .filter(|f| f.path.starts_with(&format!("k8s/{env}/")))
        .flat_map(|f| {
            serde_saphyr::from_multiple::<Value>(&f.contents).expect("generated YAML parses")
        })
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn has(objs: &[Value], kind: &str, name: &str) -> bool {
    objs.iter()
        .any(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

const BASE: &str = r#"
version = 1
[platform]
name = "acme"
domain = "acme.dev"
team = "core"
[alerting]
default_receiver = "ops"
receivers.ops = { type = "webhook", url = { secret = "ops", key = "url" } }
"#;

fn spec(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

const API: &str = r#"
[services.api]
image = "ghcr.io/acme/api:1.2.3"
ports = [{ name = "http", port = 8080 }, { name = "metrics", port = 9090 }]
resources = { requests = { cpu = "200m", memory = "256Mi" }, limits = { cpu = "500m", memory = "512Mi" } }
probes.readiness = { path = "/ready", port = "http", initial_delay = "5s", period = "5s" }
probes.liveness = { path = "/health", port = "http", initial_delay = "30s" }
rollout = { max_surge = 1, max_unavailable = 0 }
env = { LOG_LEVEL = "info" }
secrets = { SENTRY_DSN = { secret = "sentry", key = "dsn" } }
config_files = [{ path = "/etc/api/config.yaml", content = "mode: strict\n" }]
metrics = { path = "/metrics", port = "metrics", interval = "15s" }
ingress = { host = "api.{domain}", path = "/" }
depends_on = ["db"]
egress = [{ cidr = "0.0.0.0/0", ports = [443] }]
autoscaling = { min = 2, max = 10, cpu = 70, memory = 80, metrics = [{ name = "http_requests_per_second", target = "100" }], scale_up = { stabilization = "60s", policies = [{ type = "percent", value = 100, period = "15s" }] }, scale_down = { stabilization = "300s", policies = [{ type = "pods", value = 2, period = "60s" }] } }

[datastores.db]
preset = "postgres"
version = "16.4"
storage = { size = "100Gi" }
vertical_autoscaling = "auto"
"#;

#[test]
fn namespace_with_restricted_pod_security_and_default_deny() {
    let objs = objects(&spec(API), "default");
    let ns = find(&objs, "Namespace", "acme");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let deny = find(&objs, "NetworkPolicy", "default-deny");
    assert_eq!(deny["spec"]["podSelector"], serde_json::json!({}));
    assert_eq!(
        deny["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let dns = find(&objs, "NetworkPolicy", "allow-dns");
    assert_eq!(dns["spec"]["egress"][0]["ports"][0]["port"], 53);
}

#[test]
fn service_account_per_workload_without_token() {
    let objs = objects(&spec(API), "default");
    let sa = find(&objs, "ServiceAccount", "api");
    assert_eq!(sa["automountServiceAccountToken"], false);
    let pod = &find(&objs, "Deployment", "api")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "api");
    assert_eq!(pod["automountServiceAccountToken"], false);
}

#[test]
fn deployment_with_rollout_probes_resources_env_and_secret_refs() {
    let objs = objects(&spec(API), "default");
    let d = find(&objs, "Deployment", "api");
    assert!(
        d["spec"].get("replicas").is_none(),
        "an HPA owns the replica count"
    );
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 1);
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "ghcr.io/acme/api:1.2.3");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(c["readinessProbe"]["initialDelaySeconds"], 5);
    assert_eq!(c["livenessProbe"]["initialDelaySeconds"], 30);
    assert_eq!(c["resources"]["requests"]["cpu"], "200m");
    assert_eq!(c["resources"]["limits"]["memory"], "512Mi");
    let env = c["env"].as_array().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"] == "LOG_LEVEL" && e["value"] == "info"));
    let dsn = env.iter().find(|e| e["name"] == "SENTRY_DSN").unwrap();
    assert_eq!(dsn["valueFrom"]["secretKeyRef"]["name"], "sentry");
    assert_eq!(dsn["valueFrom"]["secretKeyRef"]["key"], "dsn");
    assert!(
        dsn.get("value").is_none(),
        "secrets are references, never values"
    );
}

#[test]
fn config_files_become_a_configmap_mounted_read_only() {
    let objs = objects(&spec(API), "default");
    let cm = find(&objs, "ConfigMap", "api-config");
    assert_eq!(cm["data"]["etc_api_config.yaml"], "mode: strict\n");
    let c = &find(&objs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0];
    let m = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/etc/api/config.yaml")
        .unwrap();
    assert_eq!(m["readOnly"], true);
    assert_eq!(m["subPath"], "etc_api_config.yaml");
}

#[test]
fn secure_pod_defaults() {
    let objs = objects(&spec(API), "default");
    for (kind, name) in [("Deployment", "api"), ("StatefulSet", "db")] {
        let pod = &find(&objs, kind, name)["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() >= 10000);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &pod["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert!(c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/tmp"));
        assert!(c["resources"]["limits"]["cpu"].is_string());
    }
}

#[test]
fn security_opt_out_is_explicit_and_warned() {
    let text = spec(
        r#"
[services.legacy]
image = "ghcr.io/acme/legacy:2.0.0"
kind = "worker"
probes.readiness = { command = ["true"] }
security = { read_only_root_filesystem = false }
"#,
    );
    let c = plinth::compile("spec.toml", &text, &plinth::Options::default());
    assert!(c.diagnostics.0.iter().any(|d| d.code.id() == "W002"));
    let objs = objects(&text, "default");
    let c = &find(&objs, "Deployment", "legacy")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], false);
    assert_eq!(
        c["securityContext"]["runAsNonRoot"], true,
        "only the one default is relaxed"
    );
}

#[test]
fn service_and_ingress_with_tls() {
    let objs = objects(&spec(API), "default");
    let svc = find(&objs, "Service", "api");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
    let ing = find(&objs, "Ingress", "api");
    assert_eq!(ing["spec"]["ingressClassName"], "traefik");
    assert_eq!(ing["spec"]["rules"][0]["host"], "api.acme.dev");
    assert_eq!(ing["spec"]["tls"][0]["hosts"][0], "api.acme.dev");
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
}

#[test]
fn ingress_class_and_issuer_are_configurable() {
    let text = spec(API).replace(
        "team = \"core\"",
        "team = \"core\"\ningress_class = \"istio\"\ntls_issuer = \"internal-ca\"",
    );
    let objs = objects(&text, "default");
    let ing = find(&objs, "Ingress", "api");
    assert_eq!(ing["spec"]["ingressClassName"], "istio");
    assert_eq!(
        ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
        "internal-ca"
    );
}

#[test]
fn hpa_with_resource_and_pod_metrics_and_behavior() {
    let objs = objects(&spec(API), "default");
    let hpa = find(&objs, "HorizontalPodAutoscaler", "api");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    let metrics = hpa["spec"]["metrics"].as_array().unwrap();
    assert_eq!(metrics[0]["resource"]["name"], "cpu");
    assert_eq!(metrics[0]["resource"]["target"]["averageUtilization"], 70);
    assert_eq!(metrics[1]["resource"]["target"]["averageUtilization"], 80);
    assert_eq!(
        metrics[2]["pods"]["metric"]["name"],
        "http_requests_per_second"
    );
    assert_eq!(metrics[2]["pods"]["target"]["averageValue"], "100");
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
        60
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["policies"][0]["type"],
        "Percent"
    );
    assert_eq!(
        hpa["spec"]["behavior"]["scaleDown"]["policies"][0]["periodSeconds"],
        60
    );
}

#[test]
fn pdb_for_multi_replica_workloads_only() {
    let objs = objects(&spec(API), "default");
    assert_eq!(
        find(&objs, "PodDisruptionBudget", "api")["spec"]["maxUnavailable"],
        1
    );
    assert!(
        !has(&objs, "PodDisruptionBudget", "db"),
        "a single replica gets no budget"
    );
}

#[test]
fn statefulset_with_volume_claim_templates_and_headless_service() {
    let text = spec(
        r#"
[services.pbml]
kind = "stateful"
image = "ghcr.io/acme/pbml:3.0.0"
replicas = 3
ports = [{ name = "http", port = 8080 }]
probes.readiness = { path = "/ready", port = "http" }
storage = { size = "100Gi", path = "/var/lib/pbml" }
"#,
    );
    let objs = objects(&text, "default");
    let sts = find(&objs, "StatefulSet", "pbml");
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["serviceName"], "pbml");
    let vct = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(vct["spec"]["resources"]["requests"]["storage"], "100Gi");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert!(c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "data" && m["mountPath"] == "/var/lib/pbml"));
    assert_eq!(find(&objs, "Service", "pbml")["spec"]["clusterIP"], "None");
    assert!(has(&objs, "PodDisruptionBudget", "pbml"));
}

#[test]
fn cron_job_with_schedule_and_no_budget() {
    let text = spec(
        r#"
[services.report]
kind = "cron"
image = "ghcr.io/acme/report:1.0.0"
schedule = "0 3 * * *"
"#,
    );
    let objs = objects(&text, "default");
    let cj = find(&objs, "CronJob", "report");
    assert_eq!(cj["spec"]["schedule"], "0 3 * * *");
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    assert!(!has(&objs, "PodDisruptionBudget", "report"));
}

#[test]
fn network_policies_allow_exactly_the_declared_edges() {
    let objs = objects(&spec(API), "default");
    let api = find(&objs, "NetworkPolicy", "api");
    let ingress = api["spec"]["ingress"].as_array().unwrap();
    // From the ingress controller to the ingress port, from Prometheus to the metrics port.
    assert!(ingress
        .iter()
        .any(
            |r| r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                == "traefik"
                && r["ports"][0]["port"] == 8080
        ));
    assert!(ingress
        .iter()
        .any(
            |r| r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                == "monitoring"
                && r["ports"][0]["port"] == 9090
        ));
    let egress = api["spec"]["egress"].as_array().unwrap();
    // To its dependency's pods on their port, and to the declared external destination.
    assert!(egress
        .iter()
        .any(
            |r| r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "db"
                && r["ports"][0]["port"] == 5432
        ));
    assert!(egress
        .iter()
        .any(|r| r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0" && r["ports"][0]["port"] == 443));
    // The database accepts connections only from its dependents.
    let db = find(&objs, "NetworkPolicy", "db");
    assert_eq!(
        db["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "api"
    );
    assert_eq!(db["spec"]["ingress"].as_array().unwrap().len(), 1);
}

#[test]
fn vertical_pod_autoscaler_when_asked() {
    let objs = objects(&spec(API), "default");
    let vpa = find(&objs, "VerticalPodAutoscaler", "db");
    assert_eq!(vpa["apiVersion"], "autoscaling.k8s.io/v1");
    assert_eq!(vpa["spec"]["targetRef"]["kind"], "StatefulSet");
    assert_eq!(vpa["spec"]["updatePolicy"]["updateMode"], "Auto");
    assert!(!has(&objs, "VerticalPodAutoscaler", "api"));
}

#[test]
fn in_cluster_data_store_from_preset() {
    let objs = objects(&spec(API), "default");
    let sts = find(&objs, "StatefulSet", "db");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "docker.io/library/postgres:16.4");
    assert_eq!(c["readinessProbe"]["exec"]["command"][0], "pg_isready");
    let pw = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POSTGRES_PASSWORD")
        .unwrap();
    assert_eq!(pw["valueFrom"]["secretKeyRef"]["name"], "db-credentials");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "100Gi"
    );
    assert_eq!(
        find(&objs, "Service", "db")["spec"]["ports"][0]["port"],
        5432
    );
}

#[test]
fn recommended_labels_and_stable_selectors() {
    let objs = objects(&spec(API), "default");
    let d = find(&objs, "Deployment", "api");
    let labels = &d["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/name"], "api");
    assert_eq!(labels["app.kubernetes.io/instance"], "acme-api");
    assert_eq!(labels["app.kubernetes.io/component"], "service");
    assert_eq!(labels["app.kubernetes.io/part-of"], "acme");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "plinth");
    // The selector depends only on names: changing the image or team must not change it.
    let changed = spec(API)
        .replace("api:1.2.3", "api:1.3.0")
        .replace("team = \"core\"", "team = \"edge\"");
    let d2 = find(&objects(&changed, "default"), "Deployment", "api").clone();
    assert_eq!(d["spec"]["selector"], d2["spec"]["selector"]);
}

#[test]
fn metrics_endpoint_scrape_annotations_and_service_monitor() {
    let objs = objects(&spec(API), "default");
    let tpl = &find(&objs, "Deployment", "api")["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(tpl["prometheus.io/scrape"], "true");
    assert_eq!(tpl["prometheus.io/port"], "9090");
    let sm = find(&objs, "ServiceMonitor", "api");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["interval"], "15s");
}

#[test]
fn topology_spread_for_replicated_workloads() {
    let objs = objects(&spec(API), "default");
    let pod = &find(&objs, "Deployment", "api")["spec"]["template"]["spec"];
    let keys: Vec<&str> = pod["topologySpreadConstraints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topologyKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    );
    assert!(find(&objs, "StatefulSet", "db")["spec"]["template"]["spec"]
        .get("topologySpreadConstraints")
        .is_none());
}

#[test]
fn environment_scaling_and_overrides() {
    let text = spec(&format!(
        "{API}\n[environments.staging]\nresource_scale = 0.5\nreplica_scale = 0.5\n[environments.production.services.api]\nautoscaling = {{ min = 4, max = 20 }}\n"
    ));
    let staging = objects(&text, "staging");
    let c = &find(&staging, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["resources"]["requests"]["cpu"], "100m");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(
        find(&staging, "HorizontalPodAutoscaler", "api")["spec"]["maxReplicas"],
        5
    );
    let prod = objects(&text, "production");
    let hpa = find(&prod, "HorizontalPodAutoscaler", "api");
    assert_eq!(hpa["spec"]["minReplicas"], 4);
    assert_eq!(hpa["spec"]["maxReplicas"], 20);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70,
        "unset override fields keep the base"
    );
}

/// An environment's scale factors scale what the lower layers define, never what the
/// environment writes for the workload itself: its own bounds and amounts are what it runs.
#[test]
fn environment_overrides_are_not_scaled_again() {
    let text = spec(&format!(
        "{API}\n[datastores.cache]\npreset = \"redis\"\nreplicas = 3\n\
         [environments.staging]\nresource_scale = 0.5\nreplica_scale = 0.5\n\
         [environments.staging.services.api]\nautoscaling = {{ max = 8 }}\n\
         resources = {{ limits = {{ cpu = \"2\" }} }}\n\
         [environments.staging.datastores.cache]\nreplicas = 3\n"
    ));
    let staging = objects(&text, "staging");
    let hpa = find(&staging, "HorizontalPodAutoscaler", "api");
    assert_eq!(
        hpa["spec"]["maxReplicas"], 8,
        "the environment's own maximum"
    );
    assert_eq!(
        hpa["spec"]["minReplicas"], 1,
        "the spec's minimum of 2, scaled"
    );
    let c = &find(&staging, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["limits"]["cpu"], "2",
        "the environment's own limit"
    );
    assert_eq!(
        c["resources"]["requests"]["cpu"], "100m",
        "the spec's request, scaled"
    );
    assert_eq!(
        c["resources"]["limits"]["memory"], "256Mi",
        "the spec's limit, scaled"
    );
    assert_eq!(
        find(&staging, "StatefulSet", "cache")["spec"]["replicas"],
        3,
        "the environment's own replica count"
    );
}

#[test]
fn read_replicas_of_in_cluster_stores_are_reported_not_dropped() {
    let text = spec("[datastores.db]\npreset = \"postgres\"\nread_replicas = 2\n");
    let c = plinth::compile("spec.toml", &text, &plinth::Options::default());
    assert!(
        c.notes.iter().any(|n| n.message.contains("read replicas")),
        "{:?}",
        c.notes
    );
}

/// Continuous archiving asked for beside a schedule, where no operator runs the store: the
/// dumps are made, and the note says the archiving is not, rather than dropping it.
#[test]
fn continuous_archiving_without_an_operator_is_noted() {
    let text = spec(
        "[datastores.db]\npreset = \"postgres\"\nbackup = { schedule = \"0 2 * * *\", continuous = true }\n",
    );
    let c = plinth::compile("spec.toml", &text, &plinth::Options::default());
    assert!(
        c.notes.iter().any(|n| n
            .message
            .contains("backups of in-cluster `db` stay in the cluster")
            && n.message
                .contains("continuous archiving (`continuous = true`) is not generated")),
        "{:#?}",
        c.notes
    );
}

#[test]
fn backup_cron_job_for_in_cluster_postgres() {
    let text = spec("[datastores.db]\npreset = \"postgres\"\nbackup = { schedule = \"0 2 * * *\", retention = \"30d\" }\n");
    let objs = objects(&text, "default");
    let job = find(&objs, "CronJob", "db-backup");
    assert_eq!(job["spec"]["schedule"], "0 2 * * *");
    let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let script = c["command"][2].as_str().unwrap();
    assert!(
        script.starts_with("pg_dump") && script.contains("-mtime +30"),
        "{script}"
    );
    let pw = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PGPASSWORD")
        .unwrap();
    assert_eq!(pw["valueFrom"]["secretKeyRef"]["name"], "db-credentials");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "db-backups"
    );
    assert!(has(&objs, "PersistentVolumeClaim", "db-backups"));
    // The job may reach the database, and the database admits the job.
    let egress = find(&objs, "NetworkPolicy", "db-backup");
    assert_eq!(egress["spec"]["egress"][0]["ports"][0]["port"], 5432);
    let db = find(&objs, "NetworkPolicy", "db");
    let from = db["spec"]["ingress"][0]["from"].as_array().unwrap();
    assert!(from
        .iter()
        .any(|p| p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "db-backup"));
}

#[test]
fn backups_that_cannot_be_generated_are_reported() {
    let text = spec(
        "[datastores.vectors]\npreset = \"qdrant\"\nbackup = { schedule = \"0 */6 * * *\" }\n",
    );
    let c = plinth::compile("spec.toml", &text, &plinth::Options::default());
    assert!(
        c.notes.iter().any(|n| n
            .message
            .contains("backups of in-cluster `vectors` are not generated")),
        "{:?}",
        c.notes
    );
}

/// Qdrant runs under the read-only root filesystem: its snapshots go on the store's volume and
/// its start-up marker on an emptyDir, both through the environment variables Qdrant reads;
/// MinIO's metrics endpoint answers the scrape (public metrics) instead of 403.
#[test]
fn qdrant_and_minio_run_read_only_and_answer_the_scrape() {
    let objs = objects(
        &spec(
            "[datastores.vectors]\npreset = \"qdrant\"\n\n[datastores.media]\npreset = \"minio\"\n",
        ),
        "default",
    );
    let env_of = |name: &str| -> Vec<(String, String)> {
        let set = find(&objs, "StatefulSet", name);
        let c = &set["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| {
                Some((
                    e["name"].as_str()?.to_owned(),
                    e["value"].as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    let qdrant = env_of("vectors");
    assert!(qdrant.contains(&(
        "QDRANT__STORAGE__SNAPSHOTS_PATH".into(),
        "/qdrant/storage/snapshots".into()
    )));
    assert!(qdrant.contains(&(
        "QDRANT_INIT_FILE_PATH".into(),
        "/qdrant/init/.qdrant-initialized".into()
    )));
    let set = find(&objs, "StatefulSet", "vectors");
    let mounts = set["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap();
    for path in ["/qdrant/storage", "/qdrant/init"] {
        assert!(
            mounts.iter().any(|m| m["mountPath"] == path),
            "{path} is not writable"
        );
    }
    assert!(env_of("media").contains(&("MINIO_PROMETHEUS_AUTH_TYPE".into(), "public".into())));
}

/// The MinIO preset runs an image MinIO published. Its images are tagged with the git tag
/// (`RELEASE.2024-10-13T13-34-11Z`, not the `…-45Z` the preset once named, which no registry
/// has), and the last one is `RELEASE.2025-09-07T16-13-09Z`: later releases are source only.
#[test]
fn minio_runs_the_last_image_minio_published() {
    let objs = objects(&spec("[datastores.media]\npreset = \"minio\"\n"), "default");
    let set = find(&objs, "StatefulSet", "media");
    assert_eq!(
        set["spec"]["template"]["spec"]["containers"][0]["image"],
        "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
    );
}

/// A Redis whose password secret a client reads requires that password: the server starts
/// with `--requirepass` from the variable `redis-cli` (the probes) reads too, both from the
/// secret, never a value; a Redis nobody gave a password runs as the preset says.
#[test]
fn redis_requires_the_password_its_clients_are_given() {
    let client = r#"
[services.worker]
image = "ghcr.io/acme/worker:1.0.0"
kind = "worker"
depends_on = ["cache"]
secrets = { REDIS_PASSWORD = { secret = "cache-credentials", key = "password" } }

[datastores.cache]
preset = "redis"
"#;
    let objs = objects(&spec(client), "default");
    let set = find(&objs, "StatefulSet", "cache");
    let c = &set["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"][0], "sh");
    let script = c["command"][2].as_str().unwrap();
    assert!(
        script.contains("redis-server \"$@\" --requirepass \"$REDISCLI_AUTH\""),
        "{script}"
    );
    assert_eq!(c["args"][0], "--appendonly");
    let env = c["env"].as_array().unwrap();
    let auth = env
        .iter()
        .find(|e| e["name"] == "REDISCLI_AUTH")
        .expect("REDISCLI_AUTH");
    assert_eq!(
        auth["valueFrom"]["secretKeyRef"]["name"],
        "cache-credentials"
    );
    assert_eq!(auth["valueFrom"]["secretKeyRef"]["key"], "password");
    assert!(auth.get("value").is_none());

    let objs = objects(&spec("[datastores.cache]\npreset = \"redis\"\n"), "default");
    let c = &find(&objs, "StatefulSet", "cache")["spec"]["template"]["spec"]["containers"][0];
    assert!(c.get("command").is_none(), "{c}");
}

/// A Qdrant with an API key is scraped with that key as a bearer token (from its Secret):
/// otherwise every scrape is refused and the target-down alert fires for a healthy store.
/// The Compose Prometheus, which has no secrets, leaves it out and says so.
#[test]
fn qdrant_with_an_api_key_is_scraped_with_the_key() {
    let text = spec(
        "[datastores.vectors]\npreset = \"qdrant\"\nsecrets = { QDRANT__SERVICE__API_KEY = { secret = \"vectors-key\", key = \"api-key\" } }\n",
    );
    let objs = objects(&text, "default");
    let sm = find(&objs, "ServiceMonitor", "vectors");
    let auth = &sm["spec"]["endpoints"][0]["authorization"];
    assert_eq!(auth["type"], "Bearer");
    assert_eq!(auth["credentials"]["name"], "vectors-key");
    assert_eq!(auth["credentials"]["key"], "api-key");
    let local = format!("{text}\n[environments.dev]\nlocal = true\n");
    let c = plinth::compile("spec.toml", &local, &plinth::Options::default());
    let config = c
        .files
        .iter()
        .find(|f| f.path == "prometheus/dev/prometheus.yml")
        .expect("the Compose Prometheus configuration");
    assert!(
        !config.contents.contains("job_name: vectors"),
        "{}",
        config.contents
    );
    assert!(c
        .notes
        .iter()
        .any(|n| n.message.contains("`vectors` requires a token")));
    // Without a key there is nothing to send.
    let objs = objects(
        &spec("[datastores.vectors]\npreset = \"qdrant\"\n"),
        "default",
    );
    let sm = find(&objs, "ServiceMonitor", "vectors");
    assert!(sm["spec"]["endpoints"][0].get("authorization").is_none());
}

/// Qdrant with three replicas is one distributed cluster: the first pod starts it on its
/// stable name, the others join through the first, peers talk on 6335, and the network
/// policy opens that port between the store's own pods only. Compose runs one node.
#[test]
fn qdrant_replicas_form_one_cluster() {
    let text = spec("[datastores.vectors]\npreset = \"qdrant\"\nreplicas = 3\n");
    let objs = objects(&text, "default");
    let set = find(&objs, "StatefulSet", "vectors");
    let c = &set["spec"]["template"]["spec"]["containers"][0];
    let script = c["command"][2].as_str().unwrap();
    assert!(
        script
            .contains("vectors-0) exec ./entrypoint.sh --uri \"http://${HOSTNAME}.vectors:6335\""),
        "{script}"
    );
    assert!(
        script.contains("--bootstrap \"http://vectors-0.vectors:6335\""),
        "{script}"
    );
    let env = c["env"].as_array().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"] == "QDRANT__CLUSTER__ENABLED" && e["value"] == "true"));
    assert!(c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["containerPort"] == 6335));
    // A joining node is Ready only once the leader reaches it at `vectors-N.vectors`, so that
    // name must resolve before the pod is Ready, or the cluster never forms.
    let service = find(&objs, "Service", "vectors");
    assert_eq!(service["spec"]["clusterIP"], "None");
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    let policy = find(&objs, "NetworkPolicy", "vectors");
    let own = |rules: &Value, dir: &str| {
        rules.as_array().unwrap().iter().any(|r| {
            r[dir][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "vectors"
                && r["ports"][0]["port"] == 6335
                && r["ports"].as_array().unwrap().len() == 1
        })
    };
    assert!(own(&policy["spec"]["ingress"], "from"));
    assert!(own(&policy["spec"]["egress"], "to"));

    // One replica: a single node, no peer port.
    let objs = objects(
        &spec("[datastores.vectors]\npreset = \"qdrant\"\n"),
        "default",
    );
    let c = &find(&objs, "StatefulSet", "vectors")["spec"]["template"]["spec"]["containers"][0];
    assert!(c.get("command").is_none());
    // A single node's clients must not be sent to it before it is Ready.
    assert!(find(&objs, "Service", "vectors")["spec"]
        .get("publishNotReadyAddresses")
        .is_none());

    // Compose runs one node of the cluster, and says so.
    let local = format!("{text}\n[environments.dev]\nlocal = true\n");
    let c = plinth::compile("spec.toml", &local, &plinth::Options::default());
    assert!(c
        .notes
        .iter()
        .any(|n| n.message.contains("clustered stores run as one node")
            && n.message.contains("vectors (3 in Kubernetes)")));
}

/// Clients of a clustered store reach its client ports only, never the peer port.
#[test]
fn clients_of_a_clustered_store_do_not_reach_its_peer_port() {
    let text = spec(
        "[services.search]\nimage = \"ghcr.io/acme/search:1.0.0\"\nkind = \"worker\"\ndepends_on = [\"vectors\"]\n\n[datastores.vectors]\npreset = \"qdrant\"\nreplicas = 3\n",
    );
    let objs = objects(&text, "default");
    let ports = |rule: &Value| -> Vec<i64> {
        rule["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_i64().unwrap())
            .collect()
    };
    let client = find(&objs, "NetworkPolicy", "search");
    assert_eq!(ports(&client["spec"]["egress"][0]), [6333, 6334]);
    let store = find(&objs, "NetworkPolicy", "vectors");
    let from_clients = store["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "search")
        .expect("the client is admitted");
    assert_eq!(ports(from_clients), [6333, 6334]);
}

/// An in-cluster Redis gets redis_exporter beside it in its pod, published by its Service and
/// scraped as the store itself, so the Redis alerts read series that exist; the exporter
/// authenticates with the password Redis requires. Compose runs it in Redis's network.
#[test]
fn redis_is_scraped_through_its_exporter() {
    let client = r#"
[services.worker]
image = "ghcr.io/acme/worker:1.0.0"
kind = "worker"
depends_on = ["cache"]
secrets = { REDIS_PASSWORD = { secret = "cache-credentials", key = "password" } }

[datastores.cache]
preset = "redis"
"#;
    let text = spec(client);
    let objs = objects(&text, "default");
    let pod = &find(&objs, "StatefulSet", "cache")["spec"]["template"]["spec"];
    let exporter = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "exporter")
        .expect("an exporter container");
    assert!(exporter["image"]
        .as_str()
        .unwrap()
        .starts_with("docker.io/oliver006/redis_exporter:v"));
    assert_eq!(exporter["ports"][0]["containerPort"], 9121);
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(exporter[probe]["httpGet"]["path"], "/health", "{probe}");
        assert_eq!(exporter[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    assert_eq!(exporter["securityContext"]["readOnlyRootFilesystem"], true);
    let env = exporter["env"].as_array().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"] == "REDIS_ADDR" && e["value"] == "redis://localhost:6379"));
    let password = env.iter().find(|e| e["name"] == "REDIS_PASSWORD").unwrap();
    assert_eq!(
        password["valueFrom"]["secretKeyRef"]["name"],
        "cache-credentials"
    );
    let svc = find(&objs, "Service", "cache");
    assert!(svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "metrics" && p["port"] == 9121));
    let sm = find(&objs, "ServiceMonitor", "cache");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    let policy = find(&objs, "NetworkPolicy", "cache");
    assert!(policy["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| {
            r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                == "monitoring"
                && r["ports"][0]["port"] == 9121
        }));

    let local = format!("{text}\n[environments.dev]\nlocal = true\n");
    let c = plinth::compile("spec.toml", &local, &plinth::Options::default());
    let compose = &c
        .files
        .iter()
        .find(|f| f.path == "compose/compose.yaml")
        .expect("compose file")
        .contents;
    let doc: Value = serde_saphyr::from_str(compose).unwrap();
    let exporter = &doc["services"]["cache-exporter"];
    assert_eq!(exporter["network_mode"], "service:cache");
    assert_eq!(exporter["read_only"], true);
    assert!(exporter["environment"]["REDIS_PASSWORD"]
        .as_str()
        .unwrap()
        .starts_with("${"));
}
