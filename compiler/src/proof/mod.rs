//! The proof phase: after the targets are emitted, it reads the generated files (paths and
//! bytes) and proves, per environment, that every reference they make resolves to something
//! the same output creates or installs.
//!
//! It reads the emitted files and never the IR: the point is to catch an emitter's mistake,
//! which a check over the model the emitters read could never see. The spec is used only to
//! point a finding at the spec line that caused it ([`locate`]), and for the Secrets it
//! declares provided from outside the platform.
//!
//! One function per family, each over one environment's [`Artifacts`]: Kubernetes references
//! (`refs.rs`), what the cluster must provide (`cluster.rs`: Secrets, CRDs, storage, metrics
//! APIs, NetworkPolicy enforcement), the series alert rules and dashboard panels read
//! (`series.rs`), reachability
//! under the NetworkPolicies (`network.rs`), certificate issuers (`issuers.rs`), the CDN's
//! origin and certificate (`edge.rs`) and alert routing (`routing.rs`). A family whose
//! files a build did not make is skipped, and a [`Note`] says so.

mod cluster;
mod edge;
mod index;
mod issuers;
mod locate;
mod mesh;
mod network;
mod operators;
mod refs;
mod routing;
mod series;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diag::{Code, Diagnostic};
use crate::emit::{Note, OutputFile, Target};
use crate::spec::Spec;
use index::Index;

pub use locate::Locate;

/// The annotation that carries a workload's declared dependencies into the output: a naming
/// convention shared with the emitters, not a view of the IR.
pub(crate) use crate::ir::naming::DEPENDS_ON;

/// One Kubernetes object of the output.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, empty for cluster-scoped objects.
    pub namespace: String,
    /// The whole document.
    pub doc: Value,
}

impl Object {
    /// The API group: what comes before the `/` of `apiVersion`, empty for the core group.
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The workload the object belongs to: its `app.kubernetes.io/name` label, or its name.
    pub fn owner(&self) -> &str {
        self.doc
            .pointer("/metadata/labels/app.kubernetes.io~1name")
            .and_then(Value::as_str)
            .unwrap_or(&self.name)
    }

    /// The pod template of a workload object, if it is one.
    pub fn pod_template(&self) -> Option<&Value> {
        match self.kind.as_str() {
            // An Argo Rollouts `Rollout` holds its pod template where a Deployment does.
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "Rollout" => {
                self.doc.pointer("/spec/template")
            }
            "CronJob" => self.doc.pointer("/spec/jobTemplate/spec/template"),
            // An operator's pod (see `operators`): the pod is its own template.
            "Pod" => Some(&self.doc),
            _ => None,
        }
    }
}

/// A Terraform block of the output: its type, labels and body as JSON.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// `resource`, `module`, `data`…
    pub ident: String,
    /// The block's labels (`helm_release`, `platform`).
    pub labels: Vec<String>,
    /// The body, as JSON (expressions as hcl-rs serializes them).
    pub body: Value,
}

impl Block {
    /// The Terraform address of a resource or module block: `helm_release.platform`.
    pub fn address(&self) -> String {
        match self.ident.as_str() {
            "module" => format!("module.{}", self.labels.join(".")),
            _ => self.labels.join("."),
        }
    }
}

/// One rule of a generated rules file.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The alert name, for an alerting rule.
    pub alert: Option<String>,
    /// The recorded series, for a recording rule.
    pub record: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// The rule's static labels.
    pub labels: BTreeMap<String, String>,
}

/// What the proof knows about one environment: the parsed generated files, `None` for a
/// target the build did not make.
#[derive(Debug, Default)]
pub(crate) struct Artifacts {
    /// The environment.
    pub env: String,
    /// The k8s target's objects.
    pub objects: Option<Vec<Object>>,
    /// The Terraform root module's blocks; `Some(empty)` for an environment without a cloud.
    pub terraform: Option<Vec<Block>>,
    /// The Prometheus rules.
    pub rules: Option<Vec<Rule>>,
    /// The Alertmanager configuration.
    pub alertmanager: Option<Value>,
    /// The Secrets the upstream charts' values files of the environment mount
    /// (kube-prometheus-stack's Alertmanager).
    pub upstream: Option<BTreeSet<String>>,
    /// external-dns's values (its chart's values file), when the Helm target was built and
    /// the environment installs it.
    pub external_dns: Option<ExternalDnsValues>,
}

/// What the proof reads of external-dns's values: where it takes names from, which
/// domains it may change and which resources it reads.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ExternalDnsValues {
    /// Its sources (`gateway-httproute`, `ingress`…); the chart's `service` and `ingress`
    /// when the values leave them out.
    pub sources: Vec<String>,
    /// The domains it may change.
    pub domain_filters: Vec<String>,
    /// The annotation selector of the resources it reads; empty is none, as in the chart.
    pub annotation_filter: Option<String>,
}

impl Default for ExternalDnsValues {
    fn default() -> Self {
        Self {
            sources: vec!["service".to_owned(), "ingress".to_owned()],
            domain_filters: Vec::new(),
            annotation_filter: None,
        }
    }
}

/// A finding before it is pointed at the spec: what is wrong and which workload (or only
/// which environment) it is about.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    /// The code.
    pub code: Code,
    /// The headline.
    pub message: String,
    /// The workload or data store of the spec that caused it, when one did.
    pub workload: Option<String>,
    /// How to fix it.
    pub help: String,
}

impl Finding {
    /// A finding about a workload.
    pub fn on(code: Code, workload: &str, message: String, help: impl Into<String>) -> Self {
        Self {
            code,
            message,
            workload: Some(workload.to_owned()),
            help: help.into(),
        }
    }

    /// A finding about the environment as a whole.
    pub fn env(code: Code, message: String, help: impl Into<String>) -> Self {
        Self {
            code,
            message,
            workload: None,
            help: help.into(),
        }
    }
}

/// What the proof found: diagnostics (warnings, by code) and notes on what it skipped.
#[derive(Debug, Default)]
pub struct Proof {
    /// The findings, one diagnostic each.
    pub diagnostics: Vec<Diagnostic>,
    /// What could not be proven, and why.
    pub notes: Vec<Note>,
    /// The files the proof parsed, held to be freed or leaked by the caller.
    pub read: Read,
}

/// The generated files as the proof parsed them. Nothing reads them after the proof; they are
/// kept so that a caller about to exit can leak them (`Compilation::leak`): freeing the
/// parsed documents of a 1,000-service build cost about a tenth of the build.
#[derive(Debug, Default)]
pub struct Read(#[allow(dead_code)] Vec<Artifacts>);

/// Proves every environment of `files`, the output of a build of `built`. `spec` is only
/// read to point findings at the line that caused them, and for its external Secrets.
pub fn run(files: &[OutputFile], built: &[Target], spec: &Spec) -> Proof {
    let locate = Locate::new(spec);
    // The one fact the proof takes from the spec: which Secrets it declares provided from
    // outside the platform (`secrets.NAME.source = "external"`), prerequisites by design.
    let external: BTreeSet<String> = spec
        .secrets
        .iter()
        .filter(|(_, d)| d.source.value == crate::spec::SecretSource::External)
        .map(|(name, _)| name.value.clone())
        .collect();
    // And which ClusterIssuer it names that plinth does not generate: a prerequisite of
    // the cluster (`platform.tls_issuer` other than the default), like an external Secret.
    let external_issuer = spec
        .platform
        .tls_issuer
        .as_ref()
        .map(|i| i.value.as_str())
        .filter(|i| *i != crate::ir::TLS_ISSUER);
    let mut proof = Proof::default();
    let mut found = Found::default();
    let (all, unreadable) = gather(files, built);
    if all.is_empty() && !files.is_empty() {
        // A build of only the Helm chart, Compose or the docs: nothing the proof reads.
        proof.notes.push(Note {
            target: built.first().copied().unwrap_or(Target::K8s),
            message: "the proof read nothing: it reads the k8s, terraform, prometheus and alertmanager targets, and none of them was built; build them too, or run `plinth check`, to prove the output".to_owned(),
        });
    }
    for (path, why) in unreadable {
        proof.diagnostics.push(
            Diagnostic::global(
                Code::Internal,
                format!("internal error: the proof cannot read the generated file `{path}`: {why}"),
            )
            .help("this is a bug in plinth; please report it with the spec"),
        );
    }
    // The environments are independent: each is proven on its own thread. The results come
    // back in the order of the environments.
    let slots: Vec<std::sync::Mutex<Option<Artifacts>>> = all
        .into_iter()
        .map(|a| std::sync::Mutex::new(Some(a)))
        .collect();
    let queue: Vec<usize> = (0..slots.len()).collect();
    let proven = crate::in_parallel(&queue, |i| {
        let artifacts = slots[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        let mut findings = Vec::new();
        let mut skipped = Vec::new();
        prove(
            &artifacts,
            &external,
            external_issuer,
            &mut findings,
            &mut skipped,
        );
        let no_cloud = artifacts.objects.is_some()
            && artifacts
                .terraform
                .as_ref()
                .is_some_and(|tf| !builds_cluster(tf));
        (artifacts, findings, skipped, no_cloud)
    });
    for (artifacts, findings, skipped, no_cloud) in proven {
        let env = artifacts.env.clone();
        proof.read.0.push(artifacts);
        for f in findings {
            let (span, label) = locate.span(f.workload.as_deref(), &env);
            found.add(f, span, label, &env);
        }
        for (target, families) in group(skipped) {
            proof.notes.push(Note {
                target,
                message: format!(
                    "environment `{env}`: the proof skipped {} (the {} target was not built)",
                    families.join(", "),
                    target.name()
                ),
            });
        }
        if no_cloud {
            proof.notes.push(Note {
                target: Target::Terraform,
                message: format!(
                    "environment `{env}` has no cloud: the proof assumes its cluster provides the Secrets its pods read, CRDs, storage, metrics APIs and the monitoring stack"
                ),
            });
        }
    }
    proof.diagnostics.extend(found.diagnostics());
    proof
}

/// The findings of every environment, the same finding at the same spec line once, with
/// the environments that have it: a Secret nothing creates is usually missing from every
/// environment, and three copies of it would bury the other findings.
#[derive(Default)]
struct Found {
    /// Each finding, where it points, and its environments, in the order first found.
    list: Vec<(Finding, crate::source::Span, &'static str, Vec<String>)>,
    /// The position in `list` of each finding by code, message and place.
    at: BTreeMap<(Code, String, crate::source::SourceId, usize, usize), usize>,
}

impl Found {
    /// Records finding `f` of environment `env`, pointing at `span`.
    fn add(&mut self, f: Finding, span: crate::source::Span, label: &'static str, env: &str) {
        let key = (
            f.code,
            f.message.clone(),
            span.source,
            span.range.start,
            span.range.end,
        );
        match self.at.get(&key) {
            Some(&i) => {
                let envs = &mut self.list[i].3;
                if !envs.iter().any(|e| e == env) {
                    envs.push(env.to_owned());
                }
            }
            None => {
                self.at.insert(key, self.list.len());
                self.list.push((f, span, label, vec![env.to_owned()]));
            }
        }
    }

    /// One diagnostic per finding, its headline naming its environments.
    fn diagnostics(self) -> Vec<Diagnostic> {
        self.list
            .into_iter()
            .map(|(f, span, label, envs)| {
                let names: Vec<String> = envs.iter().map(|e| format!("`{e}`")).collect();
                let which = match names.as_slice() {
                    [one] => format!("environment {one}"),
                    many => format!("environments {}", many.join(", ")),
                };
                let message = format!("{} ({which})", f.message);
                Diagnostic::new(f.code, message, span, label).help(f.help)
            })
            .collect()
    }
}

/// Runs every family whose files `a` has, and records the ones it skipped with the target
/// that would have made their files.
fn prove(
    a: &Artifacts,
    external: &BTreeSet<String>,
    external_issuer: Option<&str>,
    out: &mut Vec<Finding>,
    skipped: &mut Vec<(Target, &'static str)>,
) {
    let index = a.objects.as_deref().map(Index::new);
    match (&a.objects, &index) {
        (Some(objects), Some(index)) => {
            refs::named_ports(objects, index, out);
            refs::selectors(objects, index, out);
            refs::ingress_backends(objects, index, out);
            refs::route_backends(objects, index, out);
            refs::route_parents(objects, out);
            refs::scale_targets(objects, out);
            network::reachability(objects, index, out);
            match &a.terraform {
                Some(tf) if builds_cluster(tf) => {
                    cluster::secrets(objects, a.upstream.as_ref(), tf, external, out);
                    cluster::custom_resources(objects, tf, out);
                    cluster::storage(objects, tf, out);
                    cluster::autoscaling_metrics(objects, tf, out);
                    cluster::network_policy_enforcement(objects, tf, out);
                    issuers::unissued_certificates(objects, external_issuer, out);
                    issuers::uncovered_hosts(objects, external_issuer, out);
                    issuers::unreachable_solver_zones(objects, tf, out);
                    edge::unreachable_cdn_origins(objects, tf, a.external_dns.as_ref(), out);
                }
                Some(_) => {}
                None => skipped.extend(
                    [
                        "secrets",
                        "custom resources",
                        "storage",
                        "autoscaling metrics",
                        "network policy enforcement",
                        "certificate issuers",
                        "the CDN's origin and certificate",
                    ]
                    .map(|f| (Target::Terraform, f)),
                ),
            }
            if a.upstream.is_none() && a.terraform.as_ref().is_none_or(|tf| builds_cluster(tf)) {
                skipped.push((Target::Helm, "secrets of upstream chart values"));
            }
        }
        _ => skipped.extend(
            [
                "Kubernetes references",
                "secrets",
                "custom resources",
                "storage",
                "autoscaling metrics",
                "reachability",
            ]
            .map(|f| (Target::K8s, f)),
        ),
    }
    match &a.rules {
        Some(rules) => {
            match &index {
                Some(index) => {
                    series::unproduced_series(a, index, rules, out);
                    series::unproduced_panel_series(a, index, rules, out);
                }
                None => skipped.push((Target::K8s, "the series alert rules read")),
            }
            match &a.alertmanager {
                Some(am) => routing::unrouted_alerts(rules, am, out),
                None => skipped.push((Target::Alertmanager, "alert routing")),
            }
        }
        None => skipped.extend([
            (Target::Prometheus, "the series alert rules read"),
            (Target::Prometheus, "alert routing"),
        ]),
    }
}

/// Whether an environment's Terraform is a cloud's (it configures the AWS provider), whose
/// cluster the output builds, so that what the cluster must provide is the output's to
/// install. An environment without a cloud has no Terraform, or one that changes only its
/// Cloudflare zone (the Cloudflare provider alone). The provider rather than the EKS module:
/// an output that lost its cluster module must still be proven, and fail.
pub(crate) fn builds_cluster(tf: &[Block]) -> bool {
    tf.iter()
        .any(|b| b.ident == "provider" && b.labels.first().is_some_and(|l| l == "aws"))
}

/// Skipped families by the target that was missing, each family once.
fn group(skipped: Vec<(Target, &'static str)>) -> BTreeMap<Target, Vec<&'static str>> {
    let mut by: BTreeMap<Target, Vec<&'static str>> = BTreeMap::new();
    for (t, f) in skipped {
        let list = by.entry(t).or_default();
        if !list.contains(&f) {
            list.push(f);
        }
    }
    by
}

/// One generated file the proof reads, parsed.
enum Parsed {
    /// A k8s manifest file's objects.
    Manifests(Vec<Object>),
    /// A Terraform file's blocks.
    Terraform(Vec<Block>),
    /// A Prometheus rules file.
    Rules(Vec<Rule>),
    /// An Alertmanager configuration.
    Alertmanager(Option<Value>),
    /// The Secrets an upstream chart's values file mounts.
    Upstream(BTreeSet<String>),
    /// external-dns's values file.
    ExternalDns(ExternalDnsValues),
    /// A file that did not parse: its path and why. A bug in plinth, whose emitters write
    /// these files, so reported as an internal error rather than proven without it.
    Unreadable(String, String),
}

/// The environment a file belongs to and the file parsed, or `None` for a file the proof
/// does not read. Paths are `<target>/<env>/<file>`, but for the Helm target's upstream
/// values, `helm/values-<chart>-<env>.yaml`, whose environment is one of `envs`.
fn parse(f: &OutputFile, envs: &BTreeSet<&str>) -> Option<(String, Parsed)> {
    if let Some(rest) = f.path.strip_prefix("helm/values-") {
        let stem = rest.strip_suffix(".yaml").filter(|s| !s.contains('/'))?;
        // The longest environment name that ends the stem: `values-<chart>-<env>.yaml`.
        let env = envs
            .iter()
            .filter(|e| stem.ends_with(&format!("-{e}")))
            .max_by_key(|e| e.len())?;
        let parsed = if stem == format!("external-dns-{env}") {
            document(&f.contents).map(Parsed::ExternalDns)
        } else {
            upstream_secrets(&f.contents).map(Parsed::Upstream)
        };
        return Some((env.to_string(), unreadable(parsed, f)));
    }
    let mut parts = f.path.splitn(3, '/');
    let (target, env, file) = (parts.next()?, parts.next()?, parts.next()?);
    let parsed = match target {
        "k8s" if file.ends_with(".yaml") => objects_of(&f.contents).map(Parsed::Manifests),
        "terraform" if file.ends_with(".tf") => blocks_of(&f.contents).map(Parsed::Terraform),
        "prometheus" if file == "rules.yaml" => rules_of(&f.contents).map(Parsed::Rules),
        "alertmanager" if file == "alertmanager.yaml" => {
            yaml(&f.contents).map(|docs| Parsed::Alertmanager(docs.into_iter().next()))
        }
        _ => return None,
    };
    Some((env.to_owned(), unreadable(parsed, f)))
}

/// A parse result, its error as [`Parsed::Unreadable`].
fn unreadable(parsed: Result<Parsed, String>, f: &OutputFile) -> Parsed {
    parsed.unwrap_or_else(|e| Parsed::Unreadable(f.path.clone(), e))
}

/// Parses the files the proof reads on [`crate::threads`] threads (parsing is most of the
/// proof's time), the largest first so that the threads finish together, and returns them
/// in the order of their paths: `compile` hands the files over in the order the targets
/// wrote them, and the order of the objects is the order of the findings on one spec line.
fn parse_all(files: &[OutputFile], envs: &BTreeSet<&str>) -> Vec<(String, Parsed)> {
    let mut by_path: Vec<usize> = (0..files.len()).collect();
    by_path.sort_by(|&a, &b| files[a].path.cmp(&files[b].path));
    let mut queue: Vec<usize> = (0..files.len()).collect();
    queue.sort_by_key(|&k| std::cmp::Reverse(files[by_path[k]].contents.len()));
    crate::in_parallel(&queue, |k| parse(&files[by_path[k]], envs))
        .into_iter()
        .flatten()
        .collect()
}

/// The environments of `files` and what each holds, parsed; and the files that did not
/// parse, with why.
fn gather(files: &[OutputFile], built: &[Target]) -> (Vec<Artifacts>, Vec<(String, String)>) {
    let names: BTreeSet<&str> = files
        .iter()
        .filter(|f| !f.path.starts_with("helm/"))
        .filter_map(|f| {
            f.path
                .split('/')
                .nth(1)
                .filter(|_| f.path.matches('/').count() >= 2)
        })
        .collect();
    let mut envs: BTreeMap<String, Artifacts> = BTreeMap::new();
    let mut upstream: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut external_dns: BTreeMap<String, ExternalDnsValues> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (env, parsed) in parse_all(files, &names) {
        match parsed {
            Parsed::Upstream(secrets) => {
                upstream.entry(env).or_default().extend(secrets);
                continue;
            }
            Parsed::ExternalDns(values) => {
                external_dns.insert(env, values);
                continue;
            }
            Parsed::Unreadable(path, why) => {
                unreadable.push((path, why));
                continue;
            }
            _ => {}
        }
        let a = entry(&mut envs, &env);
        match parsed {
            Parsed::Manifests(o) => a.objects.get_or_insert_with(Vec::new).extend(o),
            Parsed::Terraform(b) => a.terraform.get_or_insert_with(Vec::new).extend(b),
            Parsed::Rules(r) => a.rules = Some(r),
            Parsed::Alertmanager(v) => a.alertmanager = v,
            Parsed::Upstream(_) | Parsed::ExternalDns(_) | Parsed::Unreadable(..) => {}
        }
    }
    for a in envs.values_mut() {
        // A built target that wrote nothing for the environment has nothing to say about
        // it: Terraform only writes environments with a cloud, so none means no cloud.
        if built.contains(&Target::Terraform) && a.terraform.is_none() {
            a.terraform = Some(Vec::new());
        }
        if built.contains(&Target::K8s) && a.objects.is_none() {
            a.objects = Some(Vec::new());
        }
        if let Some(objects) = &mut a.objects {
            let operated = operators::operator_pods(objects);
            objects.extend(operated);
        }
        if built.contains(&Target::Helm) {
            a.upstream = Some(upstream.remove(&a.env).unwrap_or_default());
            a.external_dns = external_dns.remove(&a.env);
        }
    }
    (envs.into_values().collect(), unreadable)
}

/// The artifacts of `env` in `envs`, made empty on first use.
fn entry<'a>(envs: &'a mut BTreeMap<String, Artifacts>, env: &str) -> &'a mut Artifacts {
    envs.entry(env.to_owned()).or_insert_with(|| Artifacts {
        env: env.to_owned(),
        ..Artifacts::default()
    })
}

/// The part of an upstream chart's values the proof reads: kube-prometheus-stack's
/// `alertmanager.alertmanagerSpec.secrets`. Typed, so the rest of the file (every alert rule,
/// again) is skipped rather than built into values.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(default)]
struct UpstreamValues {
    alertmanager: Option<UpstreamAlertmanager>,
}

/// `alertmanager` of [`UpstreamValues`].
#[derive(serde::Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct UpstreamAlertmanager {
    alertmanager_spec: Option<UpstreamAlertmanagerSpec>,
}

/// `alertmanager.alertmanagerSpec` of [`UpstreamValues`].
#[derive(serde::Deserialize, Default, Debug)]
#[serde(default)]
struct UpstreamAlertmanagerSpec {
    secrets: Vec<String>,
}

/// The Secrets an upstream values file mounts.
fn upstream_secrets(text: &str) -> Result<BTreeSet<String>, String> {
    let values: UpstreamValues = document(text)?;
    Ok(values
        .alertmanager
        .and_then(|a| a.alertmanager_spec)
        .map(|s| s.secrets.into_iter().collect())
        .unwrap_or_default())
}

/// One document of generated YAML, typed: read with libyaml (`serde_norway`), which reads
/// plinth's output about 2.5 times as fast as serde-saphyr, the library that wrote it. The
/// two agreeing on every generated file of every example is a test (`reader_agrees`).
fn document<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

/// The documents of a YAML stream, empty ones left out.
fn yaml(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let Strict(value) = serde::Deserialize::deserialize(doc).map_err(|e| e.to_string())?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// A document read into a [`Value`] that refuses a key repeated in one mapping, as the API
/// server's strict decoding does: `Value`'s own reading keeps the last silently, and a
/// repeated key is an emitter's mistake the proof must report, not read past.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

/// The visitor of [`Strict`]: [`Value`]'s, but for maps.
struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// The Kubernetes objects of one manifest file.
fn objects_of(text: &str) -> Result<Vec<Object>, String> {
    Ok(yaml(text)?
        .into_iter()
        .filter_map(|doc| {
            let s = |p: &str| doc.pointer(p).and_then(Value::as_str).map(str::to_owned);
            Some(Object {
                api_version: s("/apiVersion")?,
                kind: s("/kind")?,
                name: s("/metadata/name")?,
                namespace: s("/metadata/namespace").unwrap_or_default(),
                doc,
            })
        })
        .collect())
}

/// A Prometheus rules file, as far as the proof reads it.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(default)]
struct RulesFile {
    groups: Vec<RuleGroup>,
}

/// A rule group of [`RulesFile`].
#[derive(serde::Deserialize, Default, Debug)]
#[serde(default)]
struct RuleGroup {
    rules: Vec<RuleDoc>,
}

/// A rule of [`RuleGroup`].
#[derive(serde::Deserialize, Default, Debug)]
#[serde(default)]
struct RuleDoc {
    alert: Option<String>,
    record: Option<String>,
    expr: String,
    labels: BTreeMap<String, String>,
}

/// The rules of a Prometheus rules file.
fn rules_of(text: &str) -> Result<Vec<Rule>, String> {
    let file: RulesFile = document(text)?;
    Ok(file
        .groups
        .into_iter()
        .flat_map(|g| g.rules)
        .map(|r| Rule {
            alert: r.alert,
            record: r.record,
            expr: r.expr,
            labels: r.labels,
        })
        .collect())
}

/// The blocks of one Terraform file, with their bodies as JSON.
fn blocks_of(text: &str) -> Result<Vec<Block>, String> {
    let body = hcl::parse(text).map_err(|e| e.to_string())?;
    body.blocks()
        .map(|b| {
            let value: Value = hcl::from_body(b.body().clone()).map_err(|e| e.to_string())?;
            Ok(Block {
                ident: b.identifier().to_owned(),
                labels: b.labels().iter().map(|l| l.as_str().to_owned()).collect(),
                body: value,
            })
        })
        .collect()
}

/// The strings of a YAML or JSON list; anything else as empty.
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A YAML mapping of strings (labels, selectors) as a map; anything else as empty.
pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// Whether a label selector (`matchLabels` and `matchExpressions`, or a Service's plain map
/// when `plain`) selects `labels`. An empty selector selects everything, as in Kubernetes.
pub(crate) fn selects(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    // Straight over the selector's map: this runs for every pair of pods a policy may
    // admit, where a map built per call was most of the reachability family's time.
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let all = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| match v.as_str() {
            Some(v) => labels.get(k).is_some_and(|has| has == v),
            // Not a string: left out, as `string_map` leaves it out.
            None => true,
        });
    if !all {
        return false;
    }
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    expressions.into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let has = labels.get(key);
        match e.get("operator").and_then(Value::as_str) {
            Some("In") => has.is_some_and(|v| values.contains(&v.as_str())),
            Some("NotIn") => !has.is_some_and(|v| values.contains(&v.as_str())),
            Some("Exists") => has.is_some(),
            Some("DoesNotExist") => has.is_none(),
            _ => false,
        }
    })
}

/// The labels of an object's pod template.
pub(crate) fn template_labels(template: &Value) -> BTreeMap<String, String> {
    string_map(template.pointer("/metadata/labels"))
}

/// Every container of a pod template, init containers first.
pub(crate) fn containers(template: &Value) -> impl Iterator<Item = &Value> {
    ["/spec/initContainers", "/spec/containers"]
        .into_iter()
        .filter_map(|p| template.pointer(p).and_then(Value::as_array))
        .flatten()
}

#[cfg(test)]
mod tests;
