//! Issue 21 through the binary, Redis failover: an in-cluster Redis of more than one replica
//! runs as a primary and replicas with a Sentinel beside each (quorum a majority), configured
//! at start into an emptyDir, its Service `<store>` leading through HAProxy to whichever node
//! is primary; the password is only ever a Secret reference; the NetworkPolicies open
//! replication and Sentinel between the Redis pods and nothing else new; the PodMonitor labels
//! the exporter's series with the store; two nodes are warning W030; Compose runs one Redis
//! and says so. The spec is the fixture `redis-sentinel.toml`.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::*;

/// The fixture: `cache` with three replicas, a password and a backup; `api` binds its `uri`,
/// `fanout` its `host` and `password`; production and staging (scale 0.5) have a cloud, dev
/// is local.
fn fixture() -> String {
    std::fs::read_to_string(root().join("compiler/tests/fixtures/valid/redis-sentinel.toml"))
        .unwrap()
}

/// Builds `text` as `spec.toml` in a fresh folder with `targets`; returns the folder and the
/// build's stderr.
fn build(name: &str, text: &str, targets: &[&str]) -> (TempDir, String) {
    let dir = TempDir::new(name);
    std::fs::write(dir.join("spec.toml"), text).unwrap();
    let mut args = vec!["build", "spec.toml", "--out", "out"];
    for t in targets {
        args.extend(["--target", t]);
    }
    let out = plinth_run(&dir.0, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (dir, stderr)
}

/// Every object of `k8s/<env>/`.
fn objects(out: &Path, env: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("k8s").join(env))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            serde_saphyr::from_multiple::<Value>(&std::fs::read_to_string(f).unwrap()).unwrap()
        })
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn container<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// The ports (as numbers) of the rules of `rules` that admit `peer` (a JSON subset).
fn ports_for(rules: &Value, side: &str, peer: &Value) -> Vec<i64> {
    let mut ports: Vec<i64> = rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r[side].as_array().is_some_and(|ps| ps.contains(peer)))
        .flat_map(|r| r["ports"].as_array().cloned().unwrap_or_default())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    ports.sort_unstable();
    ports
}

fn pods(instance: &str, name: &str) -> Value {
    json!({ "podSelector": { "matchLabels": {
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/name": name,
    } } })
}

#[test]
fn each_redis_node_runs_a_sentinel_configured_at_start() {
    let (dir, _) = build("rha-nodes", &fixture(), &["k8s"]);
    let objs = objects(&dir.join("out"), "production");
    let set = find(&objs, "StatefulSet", "cache");
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(set["spec"]["serviceName"], "cache-nodes");
    let pod = &set["spec"]["template"]["spec"];
    let names: Vec<&str> = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cache", "sentinel", "exporter"]);
    let redis = container(&pod["containers"], "cache");
    assert_eq!(
        redis["command"],
        json!(["redis-server", "/conf/redis.conf"])
    );
    assert_eq!(
        redis["args"],
        json!(["--appendonly", "yes", "--dir", "/data"])
    );
    let sentinel = container(&pod["containers"], "sentinel");
    assert_eq!(
        sentinel["command"],
        json!(["redis-server", "/conf/sentinel.conf", "--sentinel"])
    );
    assert_eq!(sentinel["ports"][0]["containerPort"], 26379);
    assert_eq!(
        sentinel["image"], redis["image"],
        "Sentinel ships with Redis"
    );
    let init = container(&pod["initContainers"], "config");
    let script = init["command"][2].as_str().unwrap();
    // A new store's first pod is the primary; a restarted pod asks the others' Sentinels.
    assert!(script.contains("sentinel get-master-addr-by-name cache"));
    assert!(script.contains("primary=\"cache-0.cache-nodes.chat.svc.cluster.local\""));
    assert!(script.contains("echo \"sentinel monitor cache $primary 6379 2\""));
    assert!(script.contains("echo \"replicaof $primary 6379\""));
    assert!(script.contains("sentinel resolve-hostnames yes"));
    // The configuration lives in an emptyDir that Redis, Sentinel and the init container
    // mount, so Sentinel may rewrite it under the read-only root filesystem.
    let conf = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "conf")
        .expect("a conf volume");
    assert!(conf["emptyDir"].is_object());
    for c in [redis, sentinel, init] {
        assert!(
            c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "conf" && m["mountPath"] == "/conf"),
            "{}",
            c["name"]
        );
    }
    // Secure defaults on every container, the proxy's included.
    let proxy = find(&objs, "Deployment", "cache-proxy");
    let proxy_pod = &proxy["spec"]["template"]["spec"];
    let all = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["initContainers"].as_array().unwrap())
        .chain(proxy_pod["containers"].as_array().unwrap());
    for c in all {
        let s = &c["securityContext"];
        let what = c["name"].as_str().unwrap();
        assert_eq!(s["readOnlyRootFilesystem"], true, "{what}");
        assert_eq!(s["runAsNonRoot"], true, "{what}");
        assert_eq!(s["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(s["capabilities"]["drop"], json!(["ALL"]), "{what}");
        assert_eq!(s["seccompProfile"]["type"], "RuntimeDefault", "{what}");
        assert!(c["resources"]["limits"]["memory"].is_string(), "{what}");
        assert!(c["resources"]["limits"]["cpu"].is_string(), "{what}");
        assert!(
            c["image"]
                .as_str()
                .unwrap()
                .rsplit_once(':')
                .is_some_and(|(_, tag)| tag != "latest" && !tag.is_empty()),
            "{what}: a pinned image"
        );
        if what != "config" {
            assert!(c["readinessProbe"].is_object(), "{what}");
            assert!(c["livenessProbe"].is_object(), "{what}");
        }
    }
}

#[test]
fn the_stores_service_leads_to_the_primary_through_haproxy() {
    let (dir, _) = build("rha-proxy", &fixture(), &["k8s", "prometheus"]);
    let objs = objects(&dir.join("out"), "production");
    let service = find(&objs, "Service", "cache");
    assert!(
        service["spec"]["clusterIP"].is_null(),
        "a virtual address, not the pods'"
    );
    assert_eq!(
        service["spec"]["selector"],
        json!({ "app.kubernetes.io/instance": "chat-cache-proxy", "app.kubernetes.io/name": "cache" })
    );
    let nodes = find(&objs, "Service", "cache-nodes");
    assert_eq!(nodes["spec"]["clusterIP"], "None");
    assert_eq!(nodes["spec"]["publishNotReadyAddresses"], true);
    assert_eq!(
        nodes["spec"]["selector"],
        find(&objs, "StatefulSet", "cache")["spec"]["selector"]["matchLabels"]
    );
    let proxy = find(&objs, "Deployment", "cache-proxy");
    assert_eq!(proxy["spec"]["replicas"], 2);
    assert_eq!(
        proxy["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"],
        "chat-cache-proxy"
    );
    let cfg = find(&objs, "ConfigMap", "cache-proxy")["data"]["haproxy.cfg"]
        .as_str()
        .unwrap();
    assert!(cfg.contains("tcp-check expect string role:master"));
    assert!(cfg.contains("on-marked-down shutdown-sessions"));
    for i in 0..3 {
        assert!(
            cfg.contains(&format!(
                "server cache-{i} cache-{i}.cache-nodes.chat.svc.cluster.local:6379\n"
            )),
            "{cfg}"
        );
    }
    assert_eq!(
        find(&objs, "PodDisruptionBudget", "cache-proxy")["spec"]["minAvailable"],
        1
    );
    // The bindings keep naming `cache`, which now is the primary wherever it runs.
    let api = find(&objs, "Deployment", "api");
    let env = &api["spec"]["template"]["spec"]["containers"][0]["env"];
    let url = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "REDIS_URL")
        .unwrap();
    assert_eq!(url["value"], "redis://:$(PLINTH_CACHE_PASSWORD)@cache:6379");
    // The exporter's series carry the store's name as `service`, which the alerts select.
    let monitor = find(&objs, "PodMonitor", "cache");
    assert_eq!(
        monitor["spec"]["podMetricsEndpoints"][0]["relabelings"],
        json!([{ "action": "replace", "targetLabel": "service", "replacement": "cache" }])
    );
    assert!(!objs
        .iter()
        .any(|o| o["kind"] == "ServiceMonitor" && o["metadata"]["name"] == "cache"));
    let rules = std::fs::read_to_string(dir.join("out/prometheus/production/rules.yaml")).unwrap();
    assert!(
        rules.contains("redis_memory_used_bytes{namespace=\"chat\",service=\"cache\"}"),
        "{rules}"
    );
    // Failover needs replicas in sync: the primary's count of them, which redis_exporter
    // exports, below the two it should have.
    assert!(
        rules.contains("max(redis_connected_slaves{namespace=\"chat\",service=\"cache\"}) < 2"),
        "{rules}"
    );
}

#[test]
fn the_compose_prometheus_does_not_watch_replicas_compose_does_not_run() {
    let spec = fixture().replace(
        "[environments.dev]\nlocal = true\n",
        "[environments.dev]\nlocal = true\ncompose = { monitoring = true }\n",
    );
    let (dir, stderr) = build("rha-compose-rules", &spec, &["prometheus"]);
    assert!(
        stderr.contains("alert `RedisReplicasDetached` of `cache` is not generated: Docker Compose runs one node of `cache`"),
        "{stderr}"
    );
    let dev = std::fs::read_to_string(dir.join("out/prometheus/dev/local-rules.yaml")).unwrap();
    assert!(dev.contains("ScrapeTargetDown"), "{dev}");
    assert!(!dev.contains("RedisReplicasDetached"), "{dev}");
    let prod = std::fs::read_to_string(dir.join("out/prometheus/production/rules.yaml")).unwrap();
    assert!(prod.contains("RedisReplicasDetached"));
}

#[test]
fn the_password_is_only_ever_a_secret_reference() {
    let (dir, _) = build("rha-secret", &fixture(), &["k8s", "helm"]);
    let out = dir.join("out");
    let objs = objects(&out, "production");
    assert!(
        !objs.iter().any(|o| o["kind"] == "Secret"),
        "no Secret is generated"
    );
    let set = find(&objs, "StatefulSet", "cache");
    let proxy = find(&objs, "Deployment", "cache-proxy");
    let pod = &set["spec"]["template"]["spec"];
    let containers = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pod["initContainers"].as_array().unwrap())
        .chain(
            proxy["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap(),
        );
    let mut readers = Vec::new();
    for c in containers {
        for e in c["env"].as_array().into_iter().flatten() {
            if e["name"] == "REDISCLI_AUTH" {
                assert!(e["value"].is_null(), "{}: a value", c["name"]);
                assert_eq!(
                    e["valueFrom"]["secretKeyRef"],
                    json!({ "name": "cache-credentials", "key": "password", "optional": false })
                );
                readers.push(c["name"].as_str().unwrap().to_owned());
            }
        }
    }
    readers.sort();
    assert_eq!(readers, ["cache", "config", "haproxy", "sentinel"]);
    // Written into the configuration at run time, from the variable, for Redis and Sentinel
    // alike; HAProxy's checks authenticate from the same variable.
    let script = container(&pod["initContainers"], "config")["command"][2]
        .as_str()
        .unwrap();
    for line in [
        "echo \"requirepass $(quoted \"$REDISCLI_AUTH\")\"",
        "echo \"masterauth $(quoted \"$REDISCLI_AUTH\")\"",
        "echo \"sentinel auth-pass cache $(quoted \"$REDISCLI_AUTH\")\"",
    ] {
        assert!(script.contains(line), "{line}");
    }
    assert_eq!(
        script.matches("requirepass").count(),
        2,
        "Redis and Sentinel"
    );
    let cfg = find(&objs, "ConfigMap", "cache-proxy")["data"]["haproxy.cfg"]
        .as_str()
        .unwrap();
    assert!(cfg.contains("tcp-check send \"AUTH ${REDISCLI_AUTH}\"\\r\\n"));
    // Every Secret the new containers read has its ExternalSecret where there is a cloud.
    let es = find(&objs, "ExternalSecret", "cache-credentials");
    assert_eq!(es["spec"]["target"]["name"], "cache-credentials");
    // The chart carries the same references, never a value.
    let values = std::fs::read_to_string(out.join("helm/chat/values-production.yaml")).unwrap();
    assert!(values.contains("redisFailover"));
    assert!(!values.contains("requirepass \""));
}

#[test]
fn network_policies_open_replication_and_sentinel_between_redis_pods_only() {
    let (dir, _) = build("rha-policy", &fixture(), &["k8s"]);
    let objs = objects(&dir.join("out"), "production");
    let own = pods("chat-cache", "cache");
    let proxy = pods("chat-cache-proxy", "cache");
    let api = pods("chat-api", "api");
    let backup = pods("chat-cache-backup", "cache-backup");
    let store = &find(&objs, "NetworkPolicy", "cache")["spec"];
    assert_eq!(ports_for(&store["ingress"], "from", &own), [6379, 26379]);
    assert_eq!(ports_for(&store["egress"], "to", &own), [6379, 26379]);
    assert_eq!(ports_for(&store["ingress"], "from", &proxy), [6379]);
    // Clients keep what they had (Redis and its exporter), and no one else gets Sentinel.
    assert_eq!(ports_for(&store["ingress"], "from", &api), [6379, 9121]);
    for rule in store["ingress"].as_array().unwrap() {
        let sentinel = rule["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["port"] == 26379);
        if sentinel {
            assert_eq!(rule["from"], json!([own]), "Sentinel is for the Redis pods");
        }
    }
    let front = &find(&objs, "NetworkPolicy", "cache-proxy")["spec"];
    assert_eq!(
        front["podSelector"]["matchLabels"],
        proxy["podSelector"]["matchLabels"]
    );
    assert_eq!(ports_for(&front["ingress"], "from", &api), [6379]);
    assert_eq!(
        ports_for(&front["ingress"], "from", &pods("chat-fanout", "fanout")),
        [6379]
    );
    assert_eq!(ports_for(&front["ingress"], "from", &backup), [6379]);
    assert_eq!(
        front["egress"],
        json!([{
            "ports": [{ "port": 6379, "protocol": "TCP" }],
            "to": [own],
        }])
    );
    // The clients and the backup job reach the proxy besides the Redis pods.
    let client = &find(&objs, "NetworkPolicy", "api")["spec"];
    assert_eq!(ports_for(&client["egress"], "to", &proxy), [6379, 9121]);
    let job = &find(&objs, "NetworkPolicy", "cache-backup")["spec"];
    assert!(ports_for(&job["egress"], "to", &proxy).contains(&6379));
}

/// A count the environment writes for the store itself is not scaled by its
/// `replica_scale`: three written in staging run three there, with no warning.
#[test]
fn a_count_written_by_the_environment_is_not_scaled() {
    let text = format!(
        "{}\n[environments.staging.datastores.cache]\nreplicas = 3\n",
        fixture()
    );
    let (dir, stderr) = build("rha-own", &text, &["k8s"]);
    assert!(!stderr.contains("W030"), "{stderr}");
    let staging = objects(&dir.join("out"), "staging");
    assert_eq!(
        find(&staging, "StatefulSet", "cache")["spec"]["replicas"],
        3
    );
}

#[test]
fn two_nodes_warn_and_one_node_stays_as_it_was() {
    let (dir, stderr) = build("rha-two", &fixture(), &["k8s"]);
    assert!(stderr.contains("W030"), "{stderr}");
    assert!(
        stderr.contains("Redis runs two nodes in `staging`"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("W030").count(), 1, "{stderr}");
    let staging = objects(&dir.join("out"), "staging");
    let set = find(&staging, "StatefulSet", "cache");
    assert_eq!(set["spec"]["replicas"], 2);
    assert!(
        find(&staging, "ConfigMap", "cache-proxy")["data"]["haproxy.cfg"]
            .as_str()
            .unwrap()
            .contains("cache-1.cache-nodes")
    );

    let single = fixture().replace("replicas = 3", "replicas = 1");
    let (dir, stderr) = build("rha-one", &single, &["k8s"]);
    assert!(!stderr.contains("W030"), "{stderr}");
    let objs = objects(&dir.join("out"), "production");
    let set = find(&objs, "StatefulSet", "cache");
    assert_eq!(set["spec"]["serviceName"], "cache");
    assert!(set["spec"]["template"]["spec"]["initContainers"].is_null());
    assert_eq!(
        set["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "Redis and its exporter"
    );
    assert_eq!(find(&objs, "Service", "cache")["spec"]["clusterIP"], "None");
    assert!(!objs.iter().any(|o| o["metadata"]["name"] == "cache-proxy"));
}

#[test]
fn compose_runs_one_redis_and_says_so() {
    let (dir, stderr) = build("rha-compose", &fixture(), &["compose"]);
    assert!(
        stderr.contains(
            "Redis replication and Sentinel failover are not run by Compose; one Redis runs, on its own volume: cache (3 in Kubernetes)"
        ),
        "{stderr}"
    );
    let compose: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("out/compose/compose.yaml")).unwrap(),
    )
    .unwrap();
    let cache = &compose["services"]["cache"];
    assert!(
        cache["deploy"]["replicas"].is_null() || cache["deploy"]["replicas"] == 1,
        "{cache}"
    );
    assert!(!compose["services"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.contains("sentinel") || k.contains("proxy")));
}
