//! What a cluster must hold before the generated objects can become ready, where plinth can
//! generate it: the ExternalSecrets that create every Secret the pods and Alertmanager read,
//! their ClusterSecretStore, and cert-manager's ClusterIssuer.
//!
//! Only an environment with a cloud gets them: its Terraform installs the External Secrets
//! Operator (with an IRSA role reading `<platform>/<env>/*` in AWS Secrets Manager) and
//! cert-manager. The k8s target serializes the plans made here and the Helm target renders
//! them from values, so both read the same decisions.

use std::collections::{BTreeMap, BTreeSet};

use crate::ir::{self, naming, Environment, ReceiverKind};

/// One Kubernetes Secret that generated objects of one namespace read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SecretUse {
    /// The Secret's name, as the spec's references write it.
    pub name: String,
    /// The namespace its readers run in.
    pub namespace: String,
    /// The keys they read.
    pub keys: BTreeSet<String>,
    /// Whether it is an image pull secret (`kubernetes.io/dockerconfigjson`).
    pub docker_config: bool,
}

/// Every Secret an environment's generated objects read, by namespace and name: the
/// variables of services and data stores (their init containers and backup jobs read the
/// same references), their image pull secrets, and the credentials of Alertmanager's
/// receivers, which kube-prometheus-stack mounts from Secrets in the monitoring namespace.
/// Ingress TLS secrets are left out: cert-manager writes them; so are the Secrets of a
/// PostgreSQL store the CloudNativePG operator runs: its own credentials and the connection
/// Secret its clients read, which the operator writes (an ExternalSecret of the same name
/// would fight it for the object).
pub(crate) fn secret_uses(env: &Environment) -> Vec<SecretUse> {
    let mut uses: BTreeMap<(String, String), SecretUse> = BTreeMap::new();
    fn add<'a>(
        uses: &'a mut BTreeMap<(String, String), SecretUse>,
        namespace: &str,
        name: &str,
    ) -> &'a mut SecretUse {
        uses.entry((namespace.to_owned(), name.to_owned()))
            .or_insert_with(|| SecretUse {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                keys: BTreeSet::new(),
                docker_config: false,
            })
    }
    for w in &env.workloads {
        // The operator runs an operated store's pods with credentials it makes itself.
        if super::cnpg::operated(env, w) {
            continue;
        }
        let backup = super::k8s::backup_plan(env, w)
            .map(|p| p.secrets)
            .unwrap_or_default();
        for r in w.secrets.values().chain(backup.values()) {
            if super::cnpg::creates_secret(env, &r.secret) {
                continue;
            }
            add(&mut uses, &env.namespace, &r.secret)
                .keys
                .insert(r.key.clone());
        }
        for s in &w.image_pull_secrets {
            add(&mut uses, &env.namespace, s).docker_config = true;
        }
    }
    // The Cloudflare API token, for external-dns and, with DNS-01, for cert-manager.
    if let Some(dns) = env.cloud.as_ref().and_then(|c| c.dns.as_ref()) {
        if let Some(t) = dns.provider.cluster_token() {
            let mut namespaces = vec![super::addons::EXTERNAL_DNS_NAMESPACE];
            // cert-manager reads it only through plinth's issuer, which exists (and
            // cert-manager with it) only where a route terminates TLS.
            if dns.certificates.is_some()
                && needs_issuer(env)
                && env.cluster.tls_issuer == ir::TLS_ISSUER
            {
                namespaces.push(super::addons::CERT_MANAGER_NAMESPACE);
            }
            for ns in namespaces {
                add(&mut uses, ns, &t.secret).keys.insert(t.key.clone());
            }
        }
    }
    for r in &env.alerting.receivers {
        let reference = match &r.kind {
            ReceiverKind::Pagerduty { routing_key } => Some(routing_key),
            ReceiverKind::Slack { webhook_url, .. } => Some(webhook_url),
            ReceiverKind::Email { password, .. } => password.as_ref(),
            ReceiverKind::Webhook { url } => Some(url),
        };
        if let Some(r) = reference {
            add(&mut uses, &env.cluster.monitoring_namespace, &r.secret)
                .keys
                .insert(r.key.clone());
        }
    }
    uses.into_values().collect()
}

/// The ExternalSecrets of one environment and the store they read from.
#[derive(Clone, Debug, Default)]
pub(crate) struct SecretPlan {
    /// The ClusterSecretStore, when there is at least one ExternalSecret.
    pub store: Option<Store>,
    /// One ExternalSecret per Secret the store provides, by namespace and name.
    pub secrets: Vec<SecretUse>,
    /// Secrets the spec declares provided by other means: prerequisites.
    pub external: Vec<SecretUse>,
}

/// An environment's ClusterSecretStore: AWS Secrets Manager under the environment's prefix.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    /// Object name.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// Prefix of every remote key, `<platform>/<env>/`.
    pub prefix: String,
    /// The namespaces whose ExternalSecrets may use it: the platform's and the monitoring
    /// namespace when Alertmanager reads a secret.
    pub namespaces: Vec<String>,
}

/// What creates the Secrets of `env`: nothing for an environment without a cloud (the
/// Compose environment reads `.env`, and a cluster plinth does not build has its own way),
/// otherwise an ExternalSecret for each one the spec does not declare external.
pub(crate) fn secret_plan(platform: &ir::Platform, env: &Environment) -> SecretPlan {
    let Some(cloud) = &env.cloud else {
        return SecretPlan::default();
    };
    let (external, secrets): (Vec<SecretUse>, Vec<SecretUse>) = secret_uses(env)
        .into_iter()
        .partition(|u| env.external_secrets.contains(&u.name));
    let store = (!secrets.is_empty()).then(|| {
        let mut namespaces: BTreeSet<String> = BTreeSet::from([env.namespace.clone()]);
        namespaces.extend(secrets.iter().map(|s| s.namespace.clone()));
        Store {
            name: naming::secret_store(&platform.name),
            region: cloud.region.clone(),
            prefix: naming::cloud_secret_prefix(&platform.name, &env.name),
            namespaces: namespaces.into_iter().collect(),
        }
    });
    SecretPlan {
        store,
        secrets,
        external,
    }
}

/// The build-summary notes of a plan: one prerequisite per Secret declared external.
pub(crate) fn secret_notes(env: &Environment, plan: &SecretPlan) -> Vec<String> {
    plan.external
        .iter()
        .map(|u| {
            let what = if u.keys.is_empty() {
                "an image pull secret".to_owned()
            } else {
                format!(
                    "keys {}",
                    u.keys
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                "{}: prerequisite: Secret `{}` in namespace `{}` ({what}) is provided by other means (`secrets.{}.source = \"external\"`); plinth creates no ExternalSecret for it",
                env.name, u.name, u.namespace, u.name
            )
        })
        .collect()
}

/// The spec of one ExternalSecret: a `data` entry per key and, for an image pull secret,
/// the template that makes it a `kubernetes.io/dockerconfigjson` Secret. Each key is the
/// property of the same name of the JSON object stored at `<platform>/<env>/<secret>`; an
/// image pull secret's Docker configuration is its [`naming::DOCKER_CONFIG_PROPERTY`],
/// copied into the Secret's `.dockerconfigjson`.
pub(crate) fn external_secret_spec(store: &str, u: &SecretUse) -> serde_json::Value {
    let entry = |secret_key: &str, property: &str| {
        serde_json::json!({
            "secretKey": secret_key,
            "remoteRef": { "key": u.name, "property": property },
        })
    };
    let mut data: Vec<serde_json::Value> = u.keys.iter().map(|k| entry(k, k)).collect();
    let mut target = serde_json::json!({ "name": u.name, "creationPolicy": "Owner" });
    if u.docker_config {
        data.push(entry(
            naming::DOCKER_CONFIG_KEY,
            naming::DOCKER_CONFIG_PROPERTY,
        ));
        // A template with a type and no data only sets the Secret's type: the operator then
        // copies the fetched keys as they are (`ApplyTemplate` at external-secrets v2.9.0).
        target["template"] = serde_json::json!({ "type": "kubernetes.io/dockerconfigjson" });
    }
    serde_json::json!({
        "refreshInterval": ir::SECRET_REFRESH,
        "secretStoreRef": { "kind": "ClusterSecretStore", "name": store },
        "target": target,
        "data": data,
    })
}

/// The spec of a ClusterSecretStore. No `auth`: the operator's ServiceAccount carries the
/// IRSA role that may read the environment's prefix, and the store inherits it.
pub(crate) fn store_spec(s: &Store) -> serde_json::Value {
    serde_json::json!({
        "provider": {
            "aws": {
                "service": "SecretsManager",
                "region": s.region,
                "prefix": s.prefix,
            }
        },
        "conditions": [{ "namespaces": s.namespaces }],
    })
}

/// The ClusterIssuer an environment gets: when it has a cloud, a route terminates TLS,
/// and the issuer is plinth's default. Its account e-mail is empty when the spec gives none,
/// which `check` rejects (E206).
pub(crate) struct Issuer {
    /// Object name, the issuer the Ingresses name.
    pub name: String,
    /// ACME account e-mail.
    pub email: String,
    /// The solvers, most specific first: DNS-01 in the environment's zone when
    /// `dns.certificates` asks for it, then HTTP-01 through the environment's Gateway or
    /// temporary Ingresses of its ingress class (for any host outside the zone).
    pub solvers: Vec<serde_json::Value>,
}

/// The generated ClusterIssuer of `env`, if any (see [`Issuer`]).
pub(crate) fn issuer(platform: &ir::Platform, env: &Environment) -> Option<Issuer> {
    let default = env.cluster.tls_issuer == ir::TLS_ISSUER;
    (needs_issuer(env) && default).then(|| Issuer {
        name: env.cluster.tls_issuer.clone(),
        email: env.cluster.tls_email.clone().unwrap_or_default(),
        solvers: dns01(env)
            .into_iter()
            .chain([match super::gateway::edge(platform, env) {
                Some(e) => super::gateway::solver(&e, &env.namespace),
                None => serde_json::json!({
                    "http01": { "ingress": { "ingressClassName": env.cluster.ingress_class } }
                }),
            }])
            .collect(),
    })
}

/// The DNS-01 solver of the issuer, when the environment's `dns.certificates` asks for it,
/// for the names of its zone (cert-manager prefers the solver whose `dnsZones` match over
/// the HTTP-01 one without a selector): cert-manager writes each challenge's TXT record into
/// the Route 53 zone, with the IAM role
/// its ServiceAccount carries (IRSA, from the environment's Terraform; a ClusterIssuer may use
/// the controller's ambient credentials by default), and finds the zone by name.
///
/// Why DNS-01: a wildcard certificate can be proven only in DNS, and it needs no route from
/// the internet to the cluster, so certificates are issued before the load balancer exists.
fn dns01(env: &Environment) -> Option<serde_json::Value> {
    let cloud = env.cloud.as_ref()?;
    let dns = cloud.dns.as_ref()?;
    dns.certificates.as_ref()?;
    let provider = match dns.provider.cluster_token() {
        // The token the platform chart's ExternalSecret brings into cert-manager's namespace,
        // where a ClusterIssuer's secrets live.
        Some(t) => serde_json::json!({
            "cloudflare": { "apiTokenSecretRef": { "name": t.secret, "key": t.key } }
        }),
        None => serde_json::json!({ "route53": { "region": cloud.region } }),
    };
    Some(serde_json::json!({
        "selector": { "dnsZones": [dns.zone] },
        "dns01": provider,
    }))
}

/// Whether `env` is a cluster plinth builds (it has a cloud) with an Ingress that
/// terminates TLS, so that the issuer the Ingresses name must exist.
fn needs_issuer(env: &Environment) -> bool {
    env.cloud.is_some()
        && env
            .workloads
            .iter()
            .any(|w| w.ingress.as_ref().is_some_and(|i| i.tls))
}

/// The build-summary note of an issuer plinth does not create: one a TLS Ingress of a
/// cluster plinth deploys names, under a name of the spec's own.
pub(crate) fn issuer_note(env: &Environment) -> Option<String> {
    let default = env.cluster.tls_issuer == ir::TLS_ISSUER;
    (needs_issuer(env) && !default).then(|| {
        format!(
            "{}: prerequisite: cert-manager ClusterIssuer `{}`, which the Ingresses name, is not plinth's default and is not generated",
            env.name, env.cluster.tls_issuer
        )
    })
}

/// The spec of the ACME ClusterIssuer: Let's Encrypt production, HTTP-01 answered through
/// the platform's Gateway or the ingress class its Ingresses use.
pub(crate) fn issuer_spec(i: &Issuer) -> serde_json::Value {
    serde_json::json!({
        "acme": {
            "server": ir::ACME_SERVER,
            "email": i.email,
            "privateKeySecretRef": { "name": naming::acme_account_key(&i.name) },
            "solvers": i.solvers,
        }
    })
}
