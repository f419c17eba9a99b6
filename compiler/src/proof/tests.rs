//! One test per family: the proof of an example's output, then of the same output with one
//! generated object broken (or, for a gap the examples have today, mended) on purpose.

use super::run;
use crate::diag::{Code, Diagnostic};
use crate::emit::{OutputFile, Target};
use crate::source::Sources;

/// The output of `examples/codepal.toml` (an EKS environment `production` with managed
/// stores, and `staging` with in-cluster ones) and its parsed spec.
fn codepal() -> (Vec<OutputFile>, crate::spec::Spec) {
    compiled(include_str!("../../../examples/codepal.toml"))
}

/// The output of the spec `text` and the spec, parsed.
fn compiled(text: &str) -> (Vec<OutputFile>, crate::spec::Spec) {
    let c = crate::compile("codepal.toml", text, &crate::Options::default());
    assert!(!c.files.is_empty());
    let mut sources = Sources::new();
    let id = sources.add("codepal.toml", text);
    let spec = crate::spec::load_recovering(&sources, id).0.unwrap();
    (c.files, spec)
}

/// The proof's findings of `code` over `files`.
fn findings(files: &[OutputFile], spec: &crate::spec::Spec, code: Code) -> Vec<Diagnostic> {
    let proof = run(files, Target::ALL, spec);
    proof
        .diagnostics
        .into_iter()
        .filter(|d| d.code == code)
        .collect()
}

/// `files` with `from` replaced by `to` in the file at `path`, which must contain it.
fn edit(files: &[OutputFile], path: &str, from: &str, to: &str) -> Vec<OutputFile> {
    let mut files = files.to_vec();
    let f = files.iter_mut().find(|f| f.path == path).expect(path);
    assert!(f.contents.contains(from), "{path} has no {from:?}");
    f.contents = f.contents.replacen(from, to, 1);
    files
}

/// The findings of `code` about the environment of the output file at `path`.
fn in_env(
    files: &[OutputFile],
    spec: &crate::spec::Spec,
    code: Code,
    path: &str,
) -> Vec<Diagnostic> {
    let env = path.split('/').nth(1).unwrap();
    let mut found = findings(files, spec, code);
    found.retain(|d| {
        let (_, which) = d.message.rsplit_once(" (environment").unwrap();
        which.contains(&format!("`{env}`"))
    });
    found
}

/// The proof's internal errors over `files`: generated files it could not read.
fn internal_errors(files: &[OutputFile], spec: &crate::spec::Spec) -> Vec<Diagnostic> {
    run(files, Target::ALL, spec)
        .diagnostics
        .into_iter()
        .filter(|d| d.code == Code::Internal)
        .collect()
}

/// Asserts that the unbroken output has no finding of `code` and the broken one has.
fn breaks(code: Code, path: &str, from: &str, to: &str) -> Vec<Diagnostic> {
    breaks_in(codepal(), code, path, from, to)
}

/// [`breaks`] over another example's output.
fn breaks_in(
    (files, spec): (Vec<OutputFile>, crate::spec::Spec),
    code: Code,
    path: &str,
    from: &str,
    to: &str,
) -> Vec<Diagnostic> {
    assert_eq!(
        in_env(&files, &spec, code, path),
        Vec::new(),
        "unbroken output"
    );
    let found = in_env(&edit(&files, path, from, to), &spec, code, path);
    assert!(!found.is_empty(), "no {code:?} after breaking {path}");
    found
}

#[test]
fn references_dangling_ports_selectors_backends_and_targets() {
    let found = breaks(
        Code::DanglingPort,
        "k8s/staging/auth-service.yaml",
        "targetPort: http",
        "targetPort: htp",
    );
    assert!(
        found[0]
            .message
            .contains("Service `auth-service` targets port `htp`"),
        "{found:?}"
    );
    breaks(
        Code::SelectsNothing,
        "k8s/staging/auth-service.yaml",
        "maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/instance: codepal-auth-service",
        "maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/instance: codepal-auth",
    );
    let found = breaks(
        Code::MissingBackend,
        "k8s/production/api-gateway.yaml",
        "    backendRefs:\n    - name: api-gateway\n",
        "    backendRefs:\n    - name: gateway\n",
    );
    assert!(
        found[0]
            .message
            .starts_with("HTTPRoute `api-gateway` routes to Service `gateway`"),
        "{found:?}"
    );
    let found = breaks(
        Code::DanglingPort,
        "k8s/production/api-gateway.yaml",
        "    - name: api-gateway\n      port: 8080",
        "    - name: api-gateway\n      port: 8081",
    );
    assert!(
        found[0].message.starts_with(
            "HTTPRoute `api-gateway` routes to a port Service `api-gateway` does not have"
        ),
        "{found:?}"
    );
    // A route on another host's listener, on a listener the Gateway lacks, or on a Gateway
    // the output does not create is served by no listener.
    let found = breaks(
        Code::DetachedRoute,
        "k8s/production/api-gateway.yaml",
        "sectionName: https-api-codepal-com",
        "sectionName: https-app-codepal-com",
    );
    assert!(
        found[0].message.starts_with(
            "HTTPRoute `api-gateway` attaches to listener `https-app-codepal-com` of Gateway `codepal`, which serves `app.codepal.com`"
        ),
        "{found:?}"
    );
    breaks(
        Code::DetachedRoute,
        "k8s/production/api-gateway.yaml",
        "sectionName: https-api-codepal-com",
        "sectionName: https-api",
    );
    breaks(
        Code::DetachedRoute,
        "k8s/production/api-gateway.yaml",
        "  - name: codepal\n    sectionName",
        "  - name: codepal-edge\n    sectionName",
    );
    breaks(
        Code::MissingScaleTarget,
        "k8s/production/api-gateway.yaml",
        "    kind: Deployment\n    name: api-gateway",
        "    kind: Deployment\n    name: gateway",
    );
}

#[test]
fn secrets_need_a_producer() {
    let found = breaks(
        Code::UnproducedSecret,
        "k8s/staging/external-secrets.yaml",
        "  target:\n    name: codepal-auth\n",
        "  target:\n    name: codepal-auth-copy\n",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .starts_with("Deployment `auth-service` reads Secret `codepal-auth`")),
        "{found:?}"
    );
}

#[test]
fn a_secret_the_spec_declares_external_needs_no_producer() {
    let text = format!(
        "{}\n[secrets.codepal-auth]\nsource = \"external\"\n",
        include_str!("../../../examples/codepal.toml")
    );
    let (files, spec) = compiled(&text);
    assert!(
        !files
            .iter()
            .any(|f| f.contents.contains("  target:\n    name: codepal-auth\n")),
        "no ExternalSecret is generated for a secret declared external"
    );
    assert_eq!(findings(&files, &spec, Code::UnproducedSecret), Vec::new());
    // The same output proven against the example itself, which declares nothing.
    let (_, undeclared) = codepal();
    assert!(!findings(&files, &undeclared, Code::UnproducedSecret).is_empty());
}

#[test]
fn custom_resources_need_their_crds_installed_first() {
    // The platform's release waits for kube-prometheus-stack (the ServiceMonitor CRD) both
    // directly and through cert-manager's release, which waits for it too for its own
    // ServiceMonitor: with both edges gone, the platform's ServiceMonitors may come first.
    let (files, spec) = codepal();
    let helm = "terraform/production/helm.tf";
    assert_eq!(
        in_env(&files, &spec, Code::CrdInstalledLate, helm),
        Vec::new(),
        "unbroken output"
    );
    let direct = edit(&files, helm, "helm_release.kube_prometheus_stack,", "");
    assert_eq!(
        in_env(&direct, &spec, Code::CrdInstalledLate, helm),
        Vec::new(),
        "ordered through cert-manager"
    );
    let found = in_env(
        &edit(
            &direct,
            "terraform/production/addons.tf",
            "helm_release.envoy_gateway, helm_release.kube_prometheus_stack]",
            "helm_release.envoy_gateway]",
        ),
        &spec,
        Code::CrdInstalledLate,
        helm,
    );
    assert!(
        !found.is_empty() && found[0].message.contains("ServiceMonitor"),
        "{found:?}"
    );
    let found = breaks(
        Code::UninstalledCrd,
        "terraform/production/addons.tf",
        "chart            = \"vpa\"",
        "chart            = \"goldilocks\"",
    );
    assert!(
        found[0].message.contains("VerticalPodAutoscaler"),
        "{found:?}"
    );
}

#[test]
fn storage_needs_a_class_and_the_csi_driver() {
    breaks(
        Code::NoStorageClass,
        "terraform/staging/kubernetes.tf",
        "\"storageclass.kubernetes.io/is-default-class\" = \"true\"",
        "\"storageclass.kubernetes.io/is-default-class\" = \"false\"",
    );
    breaks(
        Code::NoEbsCsiDriver,
        "terraform/staging/main.tf",
        "aws-ebs-csi-driver = {",
        "aws-ebs-csi-drive = {",
    );
}

#[test]
fn autoscalers_need_a_metrics_source_and_policies_an_enforcer() {
    let found = breaks(
        Code::NoMetricsServer,
        "terraform/production/addons.tf",
        "chart      = \"metrics-server\"",
        "chart      = \"metrics-exporter\"",
    );
    assert!(found
        .iter()
        .all(|d| d.message.contains("HorizontalPodAutoscaler")));
    breaks(
        Code::UnenforcedNetworkPolicy,
        "terraform/production/main.tf",
        "      configuration_values = jsonencode({ enableNetworkPolicy = \"true\" })\n",
        "",
    );
}

#[test]
fn alert_rules_read_produced_series() {
    let (files, spec) = codepal();
    let about = |files: &[OutputFile], what: &str| {
        findings(files, &spec, Code::UnproducedSeries)
            .into_iter()
            .filter(|d| d.message.contains(what) && d.message.contains("`staging`"))
            .count()
    };
    // The example's rules all read produced series (an alert without a producer is not
    // generated); breaking the one ServiceMonitor of a service leaves its alerts without one.
    assert_eq!(about(&files, ""), 0);
    let broken = edit(
        &files,
        "k8s/staging/auth-service.yaml",
        "kind: ServiceMonitor",
        "kind: ServiceMonitorGone",
    );
    assert!(about(&broken, "nothing scrapes `auth-service`") > 0);
}

#[test]
fn dashboard_panels_read_produced_series() {
    let (files, spec) = codepal();
    let panels = |files: &[OutputFile], what: &str| {
        findings(files, &spec, Code::UnproducedSeries)
            .into_iter()
            .filter(|d| d.message.starts_with("panel `") && d.message.contains(what))
            .count()
    };
    // Every panel of the example's dashboards reads produced series; without the
    // ServiceMonitor of a service, its request panels read series nothing scrapes.
    assert!(files
        .iter()
        .any(|f| f.path == "k8s/staging/dashboards.yaml"));
    assert_eq!(panels(&files, ""), 0);
    let broken = edit(
        &files,
        "k8s/staging/auth-service.yaml",
        "kind: ServiceMonitor",
        "kind: ServiceMonitorGone",
    );
    let found = panels(&broken, "nothing scrapes `auth-service`");
    assert!(found > 0);
    // A dashboard with a field of an unexpected type is still read: its panels are proven.
    let odd = edit(
        &broken,
        "k8s/staging/dashboards.yaml",
        "\"title\": \"codepal / staging: service auth-service\",",
        "\"title\": 7,",
    );
    assert_eq!(panels(&odd, "nothing scrapes `auth-service`"), found);
}

#[test]
fn reachability_equals_the_dependency_graph() {
    breaks(
        Code::DependencyBlocked,
        "k8s/staging/auth-service.yaml",
        "  - ports:\n    - port: 5432",
        "  - ports:\n    - port: 5433",
    );
    // auth-service may call every pod on any port, and ai-service admits everyone: a path
    // auth-service does not declare.
    let (files, spec) = codepal();
    let path = "k8s/staging/auth-service.yaml";
    assert_eq!(
        in_env(&files, &spec, Code::UndeclaredPath, path),
        Vec::new()
    );
    // The egress to the PostgreSQL instances (CloudNativePG's pods, by the operator's label).
    let egress = "  - ports:\n    - port: 5432\n      protocol: TCP\n    to:\n    - podSelector:\n        matchLabels:\n          cnpg.io/cluster: postgres\n";
    let broken = edit(&files, path, egress, "  - to:\n    - podSelector: {}\n");
    let broken = edit(
        &broken,
        "k8s/staging/ai-service.yaml",
        "  ingress:\n  - from:\n",
        "  ingress:\n  - {}\n  - from:\n",
    );
    let found = in_env(&broken, &spec, Code::UndeclaredPath, path);
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|d| d
            .message
            .contains("let `auth-service` reach `ai-service` on port 8080")),
        "{found:?}"
    );
}

/// An egress rule to all addresses reaches every pod on the ports it admits: on the
/// callee's port the path is found, on another port (443, as the data stores' backups to
/// object storage have it) there is none. The rule's ports narrow the pods the proof pairs the
/// caller with, and must not hide a path.
#[test]
fn an_egress_rule_to_all_addresses_opens_paths_on_its_ports_only() {
    let (files, spec) = codepal();
    let path = "k8s/staging/auth-service.yaml";
    let egress = "  - ports:\n    - port: 5432\n      protocol: TCP\n    to:\n    - podSelector:\n        matchLabels:\n          cnpg.io/cluster: postgres\n";
    let everyone = edit(
        &files,
        "k8s/staging/ai-service.yaml",
        "  ingress:\n  - from:\n",
        "  ingress:\n  - {}\n  - from:\n",
    );
    let internet = |port: u16| {
        edit(
            &everyone,
            path,
            egress,
            &format!("  - ports:\n    - port: {port}\n      protocol: TCP\n    to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n"),
        )
    };
    let found = in_env(&internet(8080), &spec, Code::UndeclaredPath, path);
    assert!(
        found.iter().any(|d| d
            .message
            .contains("let `auth-service` reach `ai-service` on port 8080")),
        "{found:?}"
    );
    let found = in_env(&internet(443), &spec, Code::UndeclaredPath, path);
    assert!(
        !found.iter().any(|d| d.message.contains("`ai-service`")),
        "{found:?}"
    );
}

#[test]
fn every_alert_reaches_a_receiver() {
    let found = breaks(
        Code::UnroutedAlert,
        "alertmanager/production/alertmanager.yaml",
        "- name: pagerduty-devops\n  pagerduty_configs:",
        "- name: pagerduty-devops\n  muted_configs: []\n  pagerduty:",
    );
    assert!(
        found
            .iter()
            .all(|d| d.message.contains("severity `critical`")),
        "{found:?}"
    );
}

#[test]
fn a_generated_file_that_does_not_parse_is_an_internal_error() {
    let (files, spec) = codepal();
    assert_eq!(internal_errors(&files, &spec), Vec::new());
    let broken = edit(
        &files,
        "k8s/staging/auth-service.yaml",
        "kind: Service\n",
        "kind: [Service\n",
    );
    let internal = internal_errors(&broken, &spec);
    assert_eq!(internal.len(), 1, "{internal:?}");
    assert!(internal[0]
        .message
        .contains("`k8s/staging/auth-service.yaml`"));
}

#[test]
fn pods_an_operator_creates_are_found_by_their_selectors() {
    // CloudNativePG's instances are no pod template of the output; the PodMonitor and the
    // pooler's Service find them through the operator's labels, until the `Cluster` is gone.
    let found = breaks(
        Code::SelectsNothing,
        "k8s/staging/postgres.yaml",
        "kind: Cluster\n",
        "kind: ClusterGone\n",
    );
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("PodMonitor `postgres`")),
        "{found:?}"
    );
}

#[test]
fn the_secret_an_operator_creates_has_a_producer() {
    // A service binding CloudNativePG's `postgres-app` Secret (CodePal's services bind their
    // DATABASE_URL in staging) is proven, since the `Cluster` creates it; without the
    // `Cluster`, nothing does.
    let (reads_app, spec) = codepal();
    let path = "k8s/staging/auth-service.yaml";
    assert!(
        reads_app
            .iter()
            .any(|f| f.path == path && f.contents.contains("name: postgres-app\n")),
        "{path} no longer reads postgres-app"
    );
    assert!(
        in_env(&reads_app, &spec, Code::UnproducedSecret, path).is_empty(),
        "{:?}",
        in_env(&reads_app, &spec, Code::UnproducedSecret, path)
    );
    let no_cluster = edit(
        &reads_app,
        "k8s/staging/postgres.yaml",
        "kind: Cluster\n",
        "kind: ClusterGone\n",
    );
    let found = in_env(&no_cluster, &spec, Code::UnproducedSecret, path);
    assert!(
        found.iter().any(|d| d.message.contains("`postgres-app`")),
        "{found:?}"
    );
}

#[test]
fn gateway_certificates_come_from_the_issuer_annotation() {
    // Without the annotation cert-manager issues nothing for the listeners, and the proxy
    // has no certificate to serve.
    let found = breaks(
        Code::UnproducedSecret,
        "k8s/staging/gateway.yaml",
        "    cert-manager.io/cluster-issuer: letsencrypt\n",
        "    example.com/unrelated: letsencrypt\n",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .starts_with("Gateway `codepal` reads Secret `api-staging-codepal-com-tls`")),
        "{found:?}"
    );
}

#[test]
fn gateway_api_crds_come_from_the_envoy_gateway_release() {
    let found = breaks(
        Code::UninstalledCrd,
        "terraform/production/addons.tf",
        "chart            = \"gateway-helm\"",
        "chart            = \"some-other-chart\"",
    );
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("API group `gateway.networking.k8s.io`")),
        "{found:?}"
    );
}

#[test]
fn the_gateway_proxies_reach_every_route_backend() {
    let found = breaks(
        Code::DependencyBlocked,
        "k8s/production/api-gateway.yaml",
        "          kubernetes.io/metadata.name: envoy-gateway-system\n",
        "          kubernetes.io/metadata.name: traefik\n",
    );
    assert!(
        found.iter().any(|d| d.message.starts_with(
            "HTTPRoute `api-gateway` sends the Gateway's traffic to `api-gateway` on port 8080, and the NetworkPolicies block it"
        )),
        "{found:?}"
    );
}

/// The output of `examples/devmentor.toml` (its services in an Istio mesh behind Istio's
/// gateway) and its parsed spec.
fn devmentor() -> (Vec<OutputFile>, crate::spec::Spec) {
    compiled(include_str!("../../../examples/devmentor.toml"))
}

#[test]
fn authorization_policies_equal_the_network_policy_graph() {
    let (files, spec) = devmentor();
    assert!(findings(&files, &spec, Code::AuthorizationMismatch).is_empty());
    let qwen = "k8s/production/qwen.yaml";
    // An identity the NetworkPolicies keep out: `auth-service` does not depend on `qwen`.
    let admitted = edit(
        &files,
        qwen,
        "        - cluster.local/ns/devmentor-app/sa/ai-gateway\n",
        "        - cluster.local/ns/devmentor-app/sa/ai-gateway\n        - cluster.local/ns/devmentor-app/sa/auth-service\n",
    );
    let found = findings(&admitted, &spec, Code::AuthorizationMismatch);
    assert!(
        found.iter().any(|d| d.message.starts_with(
            "the AuthorizationPolicy of `qwen` admits `auth-service`'s identity on port 8080, which the NetworkPolicies do not let reach it"
        )),
        "{found:?}"
    );
    // A declared dependent whose identity the policy no longer admits.
    let denied = edit(
        &files,
        qwen,
        "        - cluster.local/ns/devmentor-app/sa/ai-gateway\n",
        "        - cluster.local/ns/devmentor-app/sa/someone-else\n",
    );
    let found = findings(&denied, &spec, Code::AuthorizationMismatch);
    assert!(
        found.iter().any(|d| d.message.starts_with(
            "the NetworkPolicies let `ai-gateway` reach `qwen` on port 8080, and its AuthorizationPolicy denies `ai-gateway`'s identity there"
        )),
        "{found:?}"
    );
    // The gateway's identity, on an exposed service.
    let gateway = edit(
        &files,
        "k8s/production/api-gateway.yaml",
        "        - cluster.local/ns/devmentor-app/sa/devmentor-istio\n",
        "        - cluster.local/ns/devmentor-app/sa/devmentor-envoy\n",
    );
    let found = findings(&gateway, &spec, Code::AuthorizationMismatch);
    assert!(
        found.iter().any(|d| d
            .message
            .contains("`gateway devmentor` reach `api-gateway` on port 8080")),
        "{found:?}"
    );
    // A meshed workload with no policy at all is open to the whole mesh.
    let none = edit(
        &files,
        qwen,
        "kind: AuthorizationPolicy",
        "kind: AuthorizationPolicyGone",
    );
    let found = findings(&none, &spec, Code::AuthorizationMismatch);
    assert!(
        found.iter().any(|d| d
            .message
            .starts_with("`qwen` runs in the mesh with no AuthorizationPolicy")),
        "{found:?}"
    );
}

#[test]
fn istio_gateway_proxies_reach_every_route_backend_through_their_own_policy() {
    let (files, spec) = devmentor();
    assert!(findings(&files, &spec, Code::DependencyBlocked).is_empty());
    // The proxies run in the namespace under its default deny: without their own egress to
    // a backend, the route's traffic stops at them.
    let broken = edit(
        &files,
        "k8s/production/gateway.yaml",
        "          app.kubernetes.io/instance: devmentor-api-gateway\n",
        "          app.kubernetes.io/instance: devmentor-nothing\n",
    );
    let found = findings(&broken, &spec, Code::DependencyBlocked);
    assert!(
        found.iter().any(|d| d.message.starts_with(
            "HTTPRoute `api-gateway` sends the Gateway's traffic to `api-gateway` on port 8080, and the NetworkPolicies block it"
        )),
        "{found:?}"
    );
}

#[test]
fn mesh_crds_come_from_istio_base() {
    let found = breaks_in(
        devmentor(),
        Code::UninstalledCrd,
        "terraform/production/addons.tf",
        "chart            = \"base\"",
        "chart            = \"some-other-chart\"",
    );
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("API group `security.istio.io`")),
        "{found:?}"
    );
}

#[test]
fn certificates_come_from_an_issuer_of_the_output() {
    // The Gateway asks for a ClusterIssuer the output does not create: cert-manager would
    // accept its Certificates and never issue them.
    let found = breaks(
        Code::UnissuedCertificate,
        "k8s/staging/gateway.yaml",
        "    cert-manager.io/cluster-issuer: letsencrypt\n",
        "    cert-manager.io/cluster-issuer: lets-encrypt\n",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .starts_with("Gateway `codepal` asks ClusterIssuer `lets-encrypt`")),
        "{found:?}"
    );
    // The same name, declared by the spec as the cluster's own issuer, is a prerequisite.
    let (files, _) = codepal();
    let text = include_str!("../../../examples/codepal.toml").replacen(
        "[platform]\n",
        "[platform]\ntls_issuer = \"lets-encrypt\"\n",
        1,
    );
    let (_, external) = compiled(&text);
    let broken = edit(
        &files,
        "k8s/staging/gateway.yaml",
        "    cert-manager.io/cluster-issuer: letsencrypt\n",
        "    cert-manager.io/cluster-issuer: lets-encrypt\n",
    );
    assert_eq!(
        in_env(
            &broken,
            &external,
            Code::UnissuedCertificate,
            "k8s/staging/gateway.yaml"
        ),
        Vec::new()
    );
}
#[test]
fn clients_of_a_replicated_redis_must_reach_its_proxy() {
    // The store's Service leads to HAProxy's pods, which the clients' egress and the proxy's
    // ingress must admit; the Redis pods admit the proxy.
    let (files, spec) = compiled(include_str!(
        "../../tests/fixtures/valid/redis-sentinel.toml"
    ));
    let path = "k8s/production/api.yaml";
    for code in [Code::DependencyBlocked, Code::UndeclaredPath] {
        assert_eq!(in_env(&files, &spec, code, path), Vec::new(), "{code:?}");
    }
    let broken = edit(
        &files,
        path,
        "app.kubernetes.io/instance: chat-cache-proxy",
        "app.kubernetes.io/instance: chat-cache-elsewhere",
    );
    let found = in_env(&broken, &spec, Code::DependencyBlocked, path);
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("`api` depends on `cache`")),
        "{found:?}"
    );
}

#[test]
fn the_wildcard_certificate_covers_every_host_it_serves() {
    // CodePal's production serves app, api and www from one Certificate for codepal.com and
    // *.codepal.com; narrowed to the apex, it no longer covers them.
    let found = breaks(
        Code::UnissuedCertificate,
        "k8s/production/gateway.yaml",
        "- \"*.codepal.com\"\n",
        "- \"*.eu.codepal.com\"\n",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .contains("serves `api.codepal.com` the Secret `wildcard-codepal-com-tls`")),
        "{found:?}"
    );
}

#[test]
fn the_wildcard_certificate_names_an_issuer_that_exists() {
    let found = breaks(
        Code::UnissuedCertificate,
        "k8s/production/gateway.yaml",
        "    name: letsencrypt\n",
        "    name: lets-encrypt\n",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .contains("Certificate `wildcard-codepal-com-tls` asks ClusterIssuer `lets-encrypt`")),
        "{found:?}"
    );
}

#[test]
fn the_cdn_reaches_an_origin_a_route_publishes() {
    // CodePal's production CloudFront reaches the cluster at origin-production.codepal.com,
    // which the routes' external-dns annotation publishes; a distribution pointed elsewhere
    // would answer every request with a 502.
    let found = breaks(
        Code::UnreachableCdnOrigin,
        "terraform/production/cdn.tf",
        "domain_name = \"origin-production.codepal.com\"",
        "domain_name = \"origin-prod.codepal.com\"",
    );
    assert!(
        found.iter().any(|d| d.message.contains(
            "reaches its origin at `origin-prod.codepal.com`, but no route of the output has external-dns publish it"
        )),
        "{found:?}"
    );
}

#[test]
fn the_cdn_origin_is_published_only_through_a_listener_that_allows_it() {
    // With every route but the ones on host listeners renamed away from the origin, only
    // routes whose listeners allow `app.codepal.com` and the like name it: external-dns
    // publishes nothing for it.
    let (files, spec) = codepal();
    let path = "k8s/production/gateway.yaml";
    assert_eq!(
        in_env(&files, &spec, Code::UnreachableCdnOrigin, path),
        Vec::new()
    );
    let mut broken = files.clone();
    for f in broken
        .iter_mut()
        .filter(|f| f.path.starts_with("k8s/production/"))
    {
        // The redirect routes (on the HTTP listener, without a host name) lose the origin.
        if f.path == path {
            f.contents = f.contents.replace(
                "external-dns.alpha.kubernetes.io/hostname: origin-production.codepal.com",
                "external-dns.alpha.kubernetes.io/hostname: elsewhere.codepal.com",
            );
        }
    }
    let found = in_env(&broken, &spec, Code::UnreachableCdnOrigin, path);
    assert!(
        found
            .iter()
            .any(|d| d.message.contains("`origin-production.codepal.com`")),
        "{found:?}"
    );
}

#[test]
fn the_cdn_certificate_covers_every_host() {
    let found = breaks(
        Code::UnreachableCdnOrigin,
        "terraform/production/cdn.tf",
        "subject_alternative_names = [\"app.codepal.com\", \"www.codepal.com\"]",
        "subject_alternative_names = [\"app.codepal.com\"]",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .contains("serves `www.codepal.com`, which its certificate does not cover")),
        "{found:?}"
    );
}

#[test]
fn a_dns01_solver_needs_a_zone_it_may_change() {
    // CodePal's production proves codepal.com through DNS-01 with cert-manager's IAM role;
    // without the role, or with the zone looked up under another name, nothing issues.
    let found = breaks(
        Code::UnissuedCertificate,
        "terraform/production/addons.tf",
        "name  = \"serviceAccount.annotations.eks\\\\.amazonaws\\\\.com/role-arn\"",
        "name  = \"serviceAccount.annotations.team\"",
    );
    assert!(
        found.iter().any(|d| d.message.contains(
            "ClusterIssuer `letsencrypt` proves hosts of `codepal.com` through DNS-01, but cert-manager has no IAM role to change it with"
        )),
        "{found:?}"
    );
    let found = breaks(
        Code::UnissuedCertificate,
        "terraform/production/dns.tf",
        "name         = \"codepal.com\"",
        "name         = \"codepal.dev\"",
    );
    assert!(
        found.iter().any(|d| d
            .message
            .contains("the Terraform looks up no such Route 53 zone")),
        "{found:?}"
    );
}

#[test]
fn a_cloudflare_dns01_solver_needs_its_zone_looked_up() {
    let (files, spec) = compiled(&include_str!("../../../examples/devmentor.toml").replacen(
        "proxy = {",
        "certificates = { wildcard = true }\nproxy = {",
        1,
    ));
    let path = "terraform/production/dns.tf";
    assert_eq!(
        in_env(&files, &spec, Code::UnissuedCertificate, path),
        Vec::new()
    );
    let broken = edit(
        &files,
        path,
        "name = \"devmentor.io\"",
        "name = \"devmentor.dev\"",
    );
    let found = in_env(&broken, &spec, Code::UnissuedCertificate, path);
    assert!(
        found.iter().any(|d| d
            .message
            .contains("the Terraform looks up no such Cloudflare zone")),
        "{found:?}"
    );
}

#[test]
fn the_cdn_origin_is_published_only_by_what_external_dns_reads() {
    // external-dns's values (the Helm target's file for its release) decide which routes it
    // reads and which domains it may change.
    let (files, spec) = codepal();
    let path = "helm/values-external-dns-production.yaml";
    let code = Code::UnreachableCdnOrigin;
    assert_eq!(findings(&files, &spec, code), Vec::new());
    for (from, to, why) in [
        (
            "gateway-hostname-source=annotation-only",
            "gateway-hostname-source=defined-hosts-only",
            "no route of the output has external-dns publish it",
        ),
        (
            "domainFilters:\n- codepal.com\n",
            "domainFilters:\n- codepal.dev\n",
            "external-dns may not change its domain",
        ),
        (
            "- gateway-httproute\n",
            "- ingress\n",
            "no route of the output has external-dns publish it",
        ),
    ] {
        let found = findings(&edit(&files, path, from, to), &spec, code);
        assert!(
            found
                .iter()
                .any(|d| d.message.contains(why)
                    && d.message.ends_with("(environment `production`)")),
            "{to}: {found:?}"
        );
    }
}

#[test]
fn a_terraform_of_a_cloudflare_zone_alone_builds_no_cluster() {
    // The tutoring marketplace's production has no cloud: its Terraform changes only its
    // Cloudflare zone, and the proof leaves the cluster's side to the cluster. CodePal's
    // configures AWS, whose cluster the output builds, even should its EKS module be lost.
    let blocks = |files: &[OutputFile], env: &str| -> Vec<super::Block> {
        files
            .iter()
            .filter(|f| f.path.starts_with(&format!("terraform/{env}/")))
            .flat_map(|f| super::blocks_of(&f.contents).unwrap())
            .collect()
    };
    let (files, _) = compiled(include_str!("../../../examples/tutoring-marketplace.toml"));
    let zone = blocks(&files, "production");
    assert!(!zone.is_empty());
    assert!(!super::builds_cluster(&zone));
    let (files, _) = codepal();
    let mut cloud = blocks(&files, "production");
    assert!(super::builds_cluster(&cloud));
    cloud.retain(|b| !(b.ident == "module" && b.labels == ["eks"]));
    assert!(super::builds_cluster(&cloud));
}

/// The proof reads the generated YAML with libyaml (`serde_norway`), not with serde-saphyr,
/// which wrote it (`document` says why). Every file the proof reads, of every example's
/// output and of a small synthetic platform's, must read the same with both: the same
/// documents, values and key order, and the same typed rules and chart values.
#[test]
fn reader_agrees() {
    let synthetic = crate::synth::spec(12);
    let specs = [
        include_str!("../../../examples/codepal.toml"),
        include_str!("../../../examples/devmentor.toml"),
        include_str!("../../../examples/learning-assistant.toml"),
        include_str!("../../../examples/tutoring-marketplace.toml"),
        synthetic.as_str(),
    ];
    let saphyr = || {
        let mut options = serde_saphyr::Options::default();
        options.budget = None;
        options
    };
    let (mut read, mut typed) = (0, 0);
    for text in specs {
        let (files, _) = compiled(text);
        for f in &files {
            let proof_reads = (f.path.starts_with("k8s/") && f.path.ends_with(".yaml"))
                || f.path.starts_with("helm/values-")
                || f.path.ends_with("/rules.yaml")
                || f.path.ends_with("/alertmanager.yaml");
            if !proof_reads {
                continue;
            }
            let written: Vec<serde_json::Value> =
                serde_saphyr::from_multiple_with_options(&f.contents, saphyr()).unwrap();
            let written: Vec<serde_json::Value> =
                written.into_iter().filter(|d| !d.is_null()).collect();
            let proof = super::yaml(&f.contents).unwrap();
            assert_eq!(proof, written, "{}", f.path);
            // Key order too, which `==` on maps does not compare.
            assert_eq!(
                serde_json::to_string(&proof).unwrap(),
                serde_json::to_string(&written).unwrap(),
                "{}",
                f.path
            );
            read += 1;
            // The typed reads, which skip what they do not name.
            let same = |a: String, b: String| assert_eq!(a, b, "{} (typed)", f.path);
            if f.path.ends_with("/rules.yaml") {
                let a: super::RulesFile = super::document(&f.contents).unwrap();
                let b: super::RulesFile =
                    serde_saphyr::from_str_with_options(&f.contents, saphyr()).unwrap();
                same(format!("{a:?}"), format!("{b:?}"));
                typed += 1;
            } else if f.path.starts_with("helm/values-") {
                let a: super::UpstreamValues = super::document(&f.contents).unwrap();
                let b: super::UpstreamValues =
                    serde_saphyr::from_str_with_options(&f.contents, saphyr()).unwrap();
                same(format!("{a:?}"), format!("{b:?}"));
                let a: super::ExternalDnsValues = super::document(&f.contents).unwrap();
                let b: super::ExternalDnsValues =
                    serde_saphyr::from_str_with_options(&f.contents, saphyr()).unwrap();
                same(format!("{a:?}"), format!("{b:?}"));
                typed += 1;
            }
        }
    }
    assert!(read > 100, "only {read} files compared");
    assert!(typed > 10, "only {typed} typed files compared");
}

/// A key repeated in one mapping of a generated file is an emitter's mistake: the proof
/// reports the file as unreadable, as the API server's strict decoding would refuse it,
/// rather than read the last value.
#[test]
fn a_generated_file_with_a_repeated_key_is_an_internal_error() {
    assert!(super::yaml("a: 1\nb:\n  c: 2\n  c: 3\n").is_err());
    let (files, spec) = codepal();
    let broken = edit(
        &files,
        "k8s/staging/auth-service.yaml",
        "kind: Service\n",
        "kind: Service\nkind: Service\n",
    );
    let internal = internal_errors(&broken, &spec);
    assert_eq!(internal.len(), 1, "{internal:?}");
    assert!(internal[0].message.contains("duplicate key `kind`"));
}

/// The files come to the proof in the order the targets wrote them; its findings must not
/// depend on that order: several findings on one spec line are listed in the order of the
/// files' paths, as before the files were parsed on two threads.
#[test]
fn findings_do_not_depend_on_the_order_of_the_files() {
    let (files, spec) = codepal();
    let path = "k8s/staging/auth-service.yaml";
    // auth-service may call every pod, and two services admit everyone: two undeclared
    // paths from the same workload, so two findings on its line.
    let egress = "  - ports:\n    - port: 5432\n      protocol: TCP\n    to:\n    - podSelector:\n        matchLabels:\n          cnpg.io/cluster: postgres\n";
    let mut broken = edit(&files, path, egress, "  - to:\n    - podSelector: {}\n");
    for callee in ["ai-service", "api-gateway"] {
        broken = edit(
            &broken,
            &format!("k8s/staging/{callee}.yaml"),
            "  ingress:\n  - from:\n",
            "  ingress:\n  - {}\n  - from:\n",
        );
    }
    let sorted = run(&broken, Target::ALL, &spec).diagnostics;
    assert!(
        sorted
            .iter()
            .filter(|d| d.code == Code::UndeclaredPath)
            .count()
            >= 2,
        "{sorted:?}"
    );
    let mut reversed = broken.clone();
    reversed.reverse();
    let unsorted = run(&reversed, Target::ALL, &spec).diagnostics;
    let messages = |d: &[Diagnostic]| d.iter().map(|d| d.message.clone()).collect::<Vec<_>>();
    assert_eq!(messages(&unsorted), messages(&sorted));
}

/// A quoted scalar that looks like another type stays a string, and a plain one is typed
/// (YAML 1.2): the distinction the proof's reader must keep.
#[test]
fn reader_keeps_quoted_scalars_strings() {
    let docs =
        super::yaml("a: \"8080\"\nb: 8080\nc: 'true'\nd: true\ne: ~\n---\n---\nf: x\n").unwrap();
    assert_eq!(
        docs,
        vec![
            serde_json::json!({"a": "8080", "b": 8080, "c": "true", "d": true, "e": null}),
            serde_json::json!({"f": "x"}),
        ]
    );
}
