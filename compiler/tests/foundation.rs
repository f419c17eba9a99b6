//! Issue 20 through the binary: what the cluster must hold before the generated objects can
//! become ready. Every Secret a generated object reads gets an ExternalSecret from the
//! environment's ClusterSecretStore (AWS Secrets Manager) where there is a cloud, none where
//! there is not, and none for a secret the spec declares external, which the build summary
//! lists instead; the default TLS issuer is generated as an ACME ClusterIssuer.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// Builds `spec` (a path relative to `dir`) with the k8s, Helm, Alertmanager and Terraform
/// targets into `dir/out`, asserting success; returns stderr (the summary).
fn build(dir: &Path, spec: &str) -> String {
    let out = plinth_run(
        dir,
        &[
            "build",
            spec,
            "--target",
            "k8s",
            "--target",
            "helm",
            "--target",
            "alertmanager",
            "--target",
            "terraform",
            "--out",
            "out",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every object of `k8s/<env>/`.
fn objects(out: &Path, env: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("k8s").join(env))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        all.extend(serde_saphyr::from_multiple::<Value>(&text).unwrap());
    }
    all
}

/// Every `secretKeyRef` (name, key) and `imagePullSecrets` name anywhere below `v`.
fn reads(v: &Value, refs: &mut BTreeSet<(String, String)>, pulls: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("secretKeyRef") {
                refs.insert((
                    r["name"].as_str().unwrap().to_owned(),
                    r["key"].as_str().unwrap().to_owned(),
                ));
            }
            if let Some(Value::Array(list)) = m.get("imagePullSecrets") {
                pulls.extend(list.iter().map(|p| p["name"].as_str().unwrap().to_owned()));
            }
            for x in m.values() {
                reads(x, refs, pulls);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| reads(x, refs, pulls)),
        _ => {}
    }
}

/// The (secret, key) pairs Alertmanager reads from mounted Secrets, from the credential file
/// paths of `alertmanager/<env>/alertmanager.yaml`.
fn alertmanager_reads(out: &Path, env: &str) -> BTreeSet<(String, String)> {
    let path = out.join(format!("alertmanager/{env}/alertmanager.yaml"));
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix("/etc/alertmanager/secrets/"))
        .map(|rest| {
            let (secret, key) = rest.split_once('/').unwrap();
            (secret.to_owned(), key.trim_matches('"').to_owned())
        })
        .collect()
}

/// The Secrets the cluster add-ons read from ExternalSecrets of the platform chart, as
/// (namespace, name, key): external-dns's Cloudflare token (its values' `env`) and
/// cert-manager's, which the ClusterIssuer's DNS-01 solver names (cert-manager's namespace
/// holds a ClusterIssuer's secrets).
fn addon_reads(out: &Path, env: &str, objs: &[Value]) -> BTreeSet<(String, String, String)> {
    let mut reads = BTreeSet::new();
    let values = out.join(format!("helm/values-external-dns-{env}.yaml"));
    if let Ok(text) = std::fs::read_to_string(values) {
        let v: Value = serde_saphyr::from_str(&text).unwrap();
        for e in v["env"].as_array().into_iter().flatten() {
            let r = &e["valueFrom"]["secretKeyRef"];
            if let (Some(n), Some(k)) = (r["name"].as_str(), r["key"].as_str()) {
                reads.insert(("external-dns".to_owned(), n.to_owned(), k.to_owned()));
            }
        }
    }
    for issuer in objs.iter().filter(|o| o["kind"] == "ClusterIssuer") {
        for s in issuer["spec"]["acme"]["solvers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let r = &s["dns01"]["cloudflare"]["apiTokenSecretRef"];
            if let (Some(n), Some(k)) = (r["name"].as_str(), r["key"].as_str()) {
                reads.insert(("cert-manager".to_owned(), n.to_owned(), k.to_owned()));
            }
        }
    }
    reads
}

/// ExternalSecrets by (namespace, name).
fn external_secrets(objs: &[Value]) -> BTreeMap<(String, String), &Value> {
    objs.iter()
        .filter(|o| o["kind"] == "ExternalSecret")
        .map(|o| {
            (
                (
                    o["metadata"]["namespace"].as_str().unwrap().to_owned(),
                    o["metadata"]["name"].as_str().unwrap().to_owned(),
                ),
                o,
            )
        })
        .collect()
}

/// Asserts that `es` creates Secret `name` with `key` from `<prefix>name` property `key`.
fn assert_provides(es: &Value, name: &str, key: &str, what: &str) {
    assert_eq!(es["apiVersion"], "external-secrets.io/v1", "{what}");
    assert_eq!(es["spec"]["target"]["name"], name, "{what}");
    assert_eq!(es["spec"]["target"]["creationPolicy"], "Owner", "{what}");
    assert_eq!(
        es["spec"]["secretStoreRef"]["kind"], "ClusterSecretStore",
        "{what}"
    );
    assert!(es["spec"]["refreshInterval"].is_string(), "{what}");
    let data = es["spec"]["data"].as_array().unwrap();
    assert!(
        data.iter().any(|d| d["secretKey"] == key
            && d["remoteRef"]["key"] == name
            && d["remoteRef"]["property"] == key),
        "{what}: no data entry for key `{key}` in {es}"
    );
}

/// Whether the environment has a cloud: it gets Terraform.
fn has_cloud(out: &Path, env: &str) -> bool {
    out.join(format!("terraform/{env}/main.tf")).exists()
}

#[test]
fn every_secret_read_in_a_cloud_environment_has_an_external_secret() {
    let mut cloud_envs = 0;
    let mut local_envs = 0;
    for example in support_examples() {
        let tmp = TempDir::new(&format!(
            "es-{}",
            example.file_stem().unwrap().to_string_lossy()
        ));
        let dir = tmp.0.clone();
        build(&dir, example.to_str().unwrap());
        let out = dir.join("out");
        let platform: String = {
            let text = std::fs::read_to_string(&example).unwrap();
            let spec: toml::Value = toml::from_str(&text).unwrap();
            spec["platform"]["name"].as_str().unwrap().to_owned()
        };
        let mut envs: Vec<String> = std::fs::read_dir(out.join("k8s"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        envs.sort();
        for env in envs {
            let what = format!("{} {env}", example.display());
            let objs = objects(&out, &env);
            let namespace = objs.iter().find(|o| o["kind"] == "Namespace").unwrap()["metadata"]
                ["name"]
                .as_str()
                .unwrap()
                .to_owned();
            let es = external_secrets(&objs);
            if !has_cloud(&out, &env) {
                local_envs += 1;
                assert!(es.is_empty(), "{what}: no cloud, yet ExternalSecrets");
                assert!(
                    !objs
                        .iter()
                        .any(|o| o["kind"] == "ClusterSecretStore" || o["kind"] == "ClusterIssuer"),
                    "{what}: no cloud, yet operator objects"
                );
                continue;
            }
            cloud_envs += 1;
            let (mut refs, mut pulls) = (BTreeSet::new(), BTreeSet::new());
            for o in &objs {
                reads(o, &mut refs, &mut pulls);
            }
            assert!(!refs.is_empty(), "{what}: the example reads no secret");
            // The CloudNativePG operator writes the application Secret of each cluster it
            // runs; nothing else may.
            let operated: BTreeSet<String> = objs
                .iter()
                .filter(|o| o["kind"] == "Cluster")
                .map(|o| format!("{}-app", o["metadata"]["name"].as_str().unwrap()))
                .collect();
            for (name, key) in &refs {
                if operated.contains(name) {
                    assert!(
                        !es.contains_key(&(namespace.clone(), name.clone())),
                        "{what}: an ExternalSecret for the operator's `{name}`"
                    );
                    continue;
                }
                let e = es
                    .get(&(namespace.clone(), name.clone()))
                    .unwrap_or_else(|| panic!("{what}: no ExternalSecret for `{name}`"));
                assert_provides(e, name, key, &what);
            }
            for name in &pulls {
                let e = es[&(namespace.clone(), name.clone())];
                assert_eq!(
                    e["spec"]["target"]["template"]["type"], "kubernetes.io/dockerconfigjson",
                    "{what}"
                );
            }
            let am = alertmanager_reads(&out, &env);
            assert!(!am.is_empty(), "{what}: the example has no receiver secret");
            for (name, key) in &am {
                let ((ns, _), e) = es
                    .iter()
                    .find(|((ns, n), _)| n == name && *ns != namespace)
                    .unwrap_or_else(|| panic!("{what}: no ExternalSecret for receiver `{name}`"));
                assert_eq!(ns, "monitoring", "{what}");
                assert_provides(e, name, key, &what);
            }
            let addons = addon_reads(&out, &env, &objs);
            for (ns, name, key) in &addons {
                let e = es
                    .get(&(ns.clone(), name.clone()))
                    .unwrap_or_else(|| panic!("{what}: no ExternalSecret for `{name}` in `{ns}`"));
                assert_provides(e, name, key, &what);
            }
            // Nothing more than what is read.
            assert_eq!(
                es.len(),
                refs.iter()
                    .map(|(n, _)| n)
                    .filter(|n| !operated.contains(*n))
                    .chain(&pulls)
                    .collect::<BTreeSet<_>>()
                    .len()
                    + am.iter().map(|(n, _)| n).collect::<BTreeSet<_>>().len()
                    + addons.len(),
                "{what}: an ExternalSecret nothing reads"
            );
            let stores: Vec<&Value> = objs
                .iter()
                .filter(|o| o["kind"] == "ClusterSecretStore")
                .collect();
            assert_eq!(stores.len(), 1, "{what}");
            let store = stores[0];
            let store_name = format!("{platform}-secrets-manager");
            assert_eq!(store["metadata"]["name"], store_name.as_str(), "{what}");
            assert!(store["metadata"].get("namespace").is_none(), "{what}");
            let aws = &store["spec"]["provider"]["aws"];
            assert_eq!(aws["service"], "SecretsManager", "{what}");
            assert_eq!(
                aws["prefix"],
                format!("{platform}/{env}/").as_str(),
                "{what}"
            );
            assert!(
                aws["region"].is_string() && aws.get("auth").is_none(),
                "{what}"
            );
            let admitted: BTreeSet<&str> = store["spec"]["conditions"][0]["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
            for ((ns, _), e) in &es {
                assert!(admitted.contains(ns.as_str()), "{what}: {ns} not admitted");
                assert_eq!(e["spec"]["secretStoreRef"]["name"], store_name.as_str());
            }
        }
    }
    assert!(cloud_envs > 0 && local_envs > 0);
}

/// The example specs.
fn support_examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    // A replicated Redis, whose Sentinel, configuration and proxy containers read its
    // password too.
    v.push(root().join("compiler/tests/fixtures/valid/redis-sentinel.toml"));
    v
}

#[test]
fn a_secret_declared_external_is_a_prerequisite_not_an_external_secret() {
    let tmp = TempDir::new("es-external");
    let dir = tmp.0.clone();
    let spec = std::fs::read_to_string(root().join("examples/codepal.toml"))
        .unwrap()
        .replace(
            "[services.auth-service]\n",
            "[services.auth-service]\nimage_pull_secrets = [\"regcred\"]\n",
        )
        + "\n[secrets.openai]\nsource = \"external\"\n\n[secrets.regcred]\nsource = \"external\"\n\n[secrets.codepal-auth]\nsource = \"store\"\n";
    std::fs::write(dir.join("platform.toml"), &spec).unwrap();
    let stderr = build(&dir, "platform.toml");
    for env in ["staging", "production"] {
        let es = external_secrets(&objects(&dir.join("out"), env))
            .into_keys()
            .map(|(_, n)| n)
            .collect::<BTreeSet<_>>();
        assert!(
            !es.contains("openai") && !es.contains("regcred"),
            "{env}: {es:?}"
        );
        assert!(es.contains("codepal-auth"), "{env}: {es:?}");
        // The bound database password: Terraform's in production; in staging the
        // CloudNativePG operator writes `postgres-app` itself, which no ExternalSecret may
        // fight it for.
        assert_eq!(
            es.contains("postgres-password"),
            env == "production",
            "{env}: {es:?}"
        );
        assert!(!es.contains("postgres-app"), "{env}: {es:?}");
        let namespace = if env == "production" {
            "codepal-prod"
        } else {
            "codepal-staging"
        };
        assert!(
            stderr.contains(&format!(
                "{env}: prerequisite: Secret `openai` in namespace `{namespace}` (keys `api-key`) is provided by other means"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "{env}: prerequisite: Secret `regcred` in namespace `{namespace}` (an image pull secret)"
            )),
            "{stderr}"
        );
    }

    // A misspelt declaration is an error with the name it meant; one for a secret read only
    // where there is no cloud is a warning.
    std::fs::write(
        dir.join("typo.toml"),
        spec.replace("[secrets.openai]", "[secrets.opneai]"),
    )
    .unwrap();
    let out = plinth_run(&dir, &["check", "typo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("E205"), "{text}");
    assert!(text.contains("did you mean `openai`?"), "{text}");

    let devmentor = std::fs::read_to_string(root().join("examples/devmentor.toml")).unwrap()
        + "\n[environments.dev.services.api-gateway.secrets]\nLOCAL_ONLY = { secret = \"local-only\", key = \"k\" }\n\n[secrets.local-only]\nsource = \"external\"\n";
    std::fs::write(dir.join("unused.toml"), devmentor).unwrap();
    let out = plinth_run(&dir, &["check", "unused.toml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("W009"), "{text}");
}

#[test]
fn the_default_tls_issuer_is_generated_and_needs_an_address() {
    let tmp = TempDir::new("issuer");
    let dir = tmp.0.clone();
    let codepal = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    std::fs::write(dir.join("platform.toml"), &codepal).unwrap();
    build(&dir, "platform.toml");
    // With a cloud the routes go through the Gateway, which names the issuer (staging's:
    // production's wildcard Certificate names it instead).
    let gateways: Vec<Value> = objects(&dir.join("out"), "staging")
        .into_iter()
        .filter(|o| o["kind"] == "Gateway")
        .collect();
    assert_eq!(gateways.len(), 1);
    let issuer_name =
        gateways[0]["metadata"]["annotations"]["cert-manager.io/cluster-issuer"].clone();
    for env in ["staging", "production"] {
        let objs = objects(&dir.join("out"), env);
        let issuer = objs
            .iter()
            .find(|o| o["kind"] == "ClusterIssuer")
            .unwrap_or_else(|| panic!("{env}: no ClusterIssuer"));
        assert_eq!(issuer["apiVersion"], "cert-manager.io/v1");
        assert_eq!(issuer["metadata"]["name"], issuer_name);
        let acme = &issuer["spec"]["acme"];
        assert_eq!(
            acme["server"],
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(acme["email"], "devops@codepal.com");
        assert!(acme["privateKeySecretRef"]["name"].is_string());
        let gateway = objs.iter().find(|o| o["kind"] == "Gateway").unwrap();
        // HTTP-01 through the Gateway is the last solver (after production's DNS-01).
        let solvers = acme["solvers"].as_array().unwrap();
        let parent = &solvers[solvers.len() - 1]["http01"]["gatewayHTTPRoute"]["parentRefs"][0];
        assert_eq!(parent["name"], gateway["metadata"]["name"]);
        assert_eq!(parent["namespace"], gateway["metadata"]["namespace"]);
    }

    // An issuer of the spec's own is a prerequisite.
    let own = codepal.replacen("[platform]\n", "[platform]\ntls_issuer = \"corp-ca\"\n", 1);
    std::fs::write(dir.join("own.toml"), own).unwrap();
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    let stderr = build(&dir, "own.toml");
    assert!(
        stderr.contains("production: prerequisite: cert-manager ClusterIssuer `corp-ca`"),
        "{stderr}"
    );
    assert!(!objects(&dir.join("out"), "production")
        .iter()
        .any(|o| o["kind"] == "ClusterIssuer"));

    // The account e-mail: `tls_email`, else an `owner` that is an address, else an error.
    let handle = codepal.replace("owner = \"devops@codepal.com\"", "owner = \"@devops\"");
    for (spec, code) in [
        (handle.clone(), "E206"),
        (
            handle.replacen("[platform]\n", "[platform]\ntls_email = \"devops\"\n", 1),
            "E207",
        ),
    ] {
        std::fs::write(dir.join("bad.toml"), spec).unwrap();
        let out = plinth_run(&dir, &["check", "bad.toml"]);
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(code) && text.contains("tls_email"), "{text}");
    }
    let fixed = handle.replacen(
        "[platform]\n",
        "[platform]\ntls_email = \"certs@codepal.com\"\n",
        1,
    );
    std::fs::write(dir.join("fixed.toml"), fixed).unwrap();
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    build(&dir, "fixed.toml");
    let objs = objects(&dir.join("out"), "production");
    let issuer = objs.iter().find(|o| o["kind"] == "ClusterIssuer").unwrap();
    assert_eq!(issuer["spec"]["acme"]["email"], "certs@codepal.com");
}

/// Declaring a secret external removes its ExternalSecret, and with it (it owns the Secret)
/// the Secret pods read: `plinth diff` flags that as destructive, once per environment.
#[test]
fn diff_flags_a_removed_external_secret_as_destructive() {
    let tmp = TempDir::new("es-diff");
    let dir = tmp.0.clone();
    let codepal = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    std::fs::write(dir.join("old.toml"), &codepal).unwrap();
    std::fs::write(
        dir.join("new.toml"),
        codepal + "\n[secrets.openai]\nsource = \"external\"\n",
    )
    .unwrap();
    let out = plinth_run(
        &dir,
        &[
            "diff", "old.toml", "new.toml", "--target", "k8s", "--format", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", head(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["destructive"], 2, "{v}");
    let text = plinth_run(
        &dir,
        &[
            "diff",
            "old.toml",
            "new.toml",
            "--target",
            "k8s",
            "--fail-on-destructive",
        ],
    );
    assert_eq!(text.status.code(), Some(1));
    let report =
        String::from_utf8_lossy(&text.stdout).into_owned() + &String::from_utf8_lossy(&text.stderr);
    assert!(report.contains("ExternalSecret"), "{report}");
    assert!(report.contains("the Secret `openai`"), "{report}");
}

/// With the generated issuer, cert-manager answers HTTP-01 challenges from a solver pod in
/// the platform's namespace; the edge's proxies (Envoy Gateway's, with a cloud) must reach it
/// through the default-deny policy, on the solver's port only. Without the issuer there is
/// no such opening.
#[test]
fn the_edge_reaches_the_acme_solver_only_with_the_generated_issuer() {
    let tmp = TempDir::new("acme-solver");
    let dir = tmp.0.clone();
    let codepal = std::fs::read_to_string(root().join("examples/codepal.toml")).unwrap();
    std::fs::write(dir.join("platform.toml"), &codepal).unwrap();
    build(&dir, "platform.toml");
    let objs = objects(&dir.join("out"), "production");
    let policy = objs
        .iter()
        .find(|o| {
            o["kind"] == "NetworkPolicy" && o["metadata"]["name"] == "allow-acme-http01-solver"
        })
        .expect("a policy for the solver pods");
    let spec = &policy["spec"];
    assert_eq!(
        spec["podSelector"]["matchLabels"]["acme.cert-manager.io/http01-solver"],
        "true"
    );
    let rule = &spec["ingress"][0];
    assert_eq!(
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "envoy-gateway-system"
    );
    assert_eq!(rule["ports"][0]["port"], 8089);
    assert_eq!(spec["ingress"].as_array().unwrap().len(), 1);

    let own = codepal.replacen("[platform]\n", "[platform]\ntls_issuer = \"corp-ca\"\n", 1);
    std::fs::write(dir.join("own.toml"), own).unwrap();
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    build(&dir, "own.toml");
    assert!(!objects(&dir.join("out"), "production")
        .iter()
        .any(|o| o["metadata"]["name"] == "allow-acme-http01-solver"));
}
