//! The AWS lowering: one environment's cloud side as a Terraform root module.
//!
//! Network and cluster come from the `terraform-aws-modules` registry modules (`vpc`, `eks`
//! with the cluster's EKS add-ons, `iam` for IRSA roles), pinned to exact versions whose
//! declared inputs a test checks every call against. Managed data stores, the encryption key,
//! the CDN, the in-cluster core objects (the platform's namespace with its Pod Security
//! labels, the default StorageClass, through the kubernetes provider) and the Helm releases
//! are plain resources, so that checkov, which does not download modules, evaluates every
//! one of them.
//!
//! Security defaults: one customer-managed KMS key per environment (rotated, with an explicit
//! policy) encrypts the databases, caches, buckets, log groups and the RDS master password;
//! data stores sit in their own subnets behind security groups that admit only the cluster's
//! nodes; no secret value is written anywhere (RDS manages its master password in Secrets
//! Manager, the ElastiCache auth token is read from a Secrets Manager secret named after the
//! spec's secret reference, and the `<store>-connection` secret of a managed store that
//! services bind gets its endpoints, and Redis's URL with that token, at apply time); logs go
//! to KMS-encrypted CloudWatch log groups kept a year.

use std::collections::BTreeMap;

use hcl::expr::{BinaryOperator, Expression, ForExpr, Traversal};
use hcl::{Block, Body, Identifier};

use super::addons;
use super::{
    a, b, block, call, doc, doc_with_locals, obj, op, r, s, strings, template, Item, Module, Part,
    Skip,
};
use crate::emit::helm::upstream;
use crate::emit::k8s;
use crate::ir::{self, naming, Cloud, Environment, ManagedStore};

// Pins. Every module argument plinth passes is checked against the variables the pinned
// version declares (compiler/tests/terraform_modules.rs, with the lists in
// compiler/tests/data/terraform-modules/), so moving a module pin means storing its lists.

/// Terraform versions the module is written for: 1.11 is the first with write-only
/// arguments, through which a generated database password reaches RDS without entering the
/// state (the eks 21 and iam 6 modules accept 1.5.7 and later).
pub(super) const TERRAFORM_VERSION: &str = ">= 1.11";
/// Random provider, for an ephemeral generated password: 3.7 is the first with the
/// ephemeral `random_password`.
const RANDOM_PROVIDER: &str = "~> 3.7";
/// AWS provider: 6.28 is the oldest the pinned eks, vpc and iam modules accept.
const AWS_PROVIDER: &str = "~> 6.28";
/// Helm provider: the 3.x series, whose `kubernetes` and `exec` are object attributes.
const HELM_PROVIDER: &str = "~> 3.1";
/// Kubernetes provider, for the core objects Terraform creates in the cluster (namespaces,
/// the default StorageClass): the 3.x series and its `_v1` resources.
const KUBERNETES_PROVIDER: &str = "~> 3.2";
/// `terraform-aws-modules/vpc/aws`.
const VPC_MODULE: &str = "6.6.0";
/// `terraform-aws-modules/eks/aws` (v21 names: `name`, `kubernetes_version`, `addons`, …).
const EKS_MODULE: &str = "21.19.0";
/// `terraform-aws-modules/iam/aws`, submodule `iam-role-for-service-accounts`, for IRSA roles.
const IAM_MODULE: &str = "6.5.0";
/// `prometheus-community/kube-prometheus-stack`.
const KUBE_PROMETHEUS_STACK: &str = "88.5.3";
/// `grafana-community/loki`, the open-source Loki chart since March 2026 (`grafana/loki-stack`
/// and Promtail are deprecated).
const LOKI: &str = "18.11.0";
/// `grafana/alloy`, which ships the pods' logs to Loki in place of Promtail.
const ALLOY: &str = "1.11.1";
/// `autoscaler/cluster-autoscaler` (cluster-autoscaler 1.35, the default cluster version).
const CLUSTER_AUTOSCALER: &str = "9.59.0";
/// Days CloudWatch keeps logs: a year, the usual audit requirement.
const LOG_RETENTION_DAYS: u32 = 365;
/// Namespace of the log stack, as 000 installs it.
const LOGS_NAMESPACE: &str = naming::LOGS_NAMESPACE;
/// Namespace of cluster add-ons.
const SYSTEM_NAMESPACE: &str = "kube-system";
/// Service account of the cluster autoscaler.
const AUTOSCALER_SA: &str = "cluster-autoscaler";
/// Service account of the EBS CSI controller.
const EBS_CSI_SA: &str = "ebs-csi-controller-sa";
/// The default StorageClass Terraform creates when pods claim volumes.
const STORAGE_CLASS: &str = "gp3";

/// Lowers one environment.
pub fn lower(platform: &ir::Platform, env: &Environment, cloud: &Cloud) -> Module {
    let ctx = Ctx::new(platform, env, cloud);
    let mut module = Module::default();
    module.files.push(("versions.tf", ctx.versions()));
    module.files.push(("providers.tf", ctx.providers()));
    module.files.push(("main.tf", ctx.main()));
    if !env.managed_stores.is_empty() {
        module.files.push(("datastores.tf", ctx.datastores()));
    }
    if ctx.cdn() {
        module.files.push(("cdn.tf", ctx.cdn_doc()));
    }
    if ctx.backed_up_stores().next().is_some() {
        module.files.push(("backups.tf", ctx.backups()));
    }
    if let Some(dns) = &cloud.dns {
        let routes: Vec<&ir::Ingress> = env
            .workloads
            .iter()
            .filter_map(|w| w.ingress.as_ref())
            .collect();
        module
            .files
            .push(("dns.tf", super::dns::lower(dns, &ctx.name, &routes)));
        if dns.health_checks.is_some() {
            if routes.is_empty() {
                module.notes.push(
                    "`dns.health_checks` is set but no service has a route host: no health check generated".into(),
                );
            } else {
                // Nothing of the platform reads CloudWatch: its alerts go through
                // Alertmanager, which has no CloudWatch source, and an SNS topic would need
                // a subscriber the spec cannot name. Say so rather than fake a destination.
                let n = super::dns::checked_hosts(routes.iter().copied()).len();
                module.notes.push(format!(
                    "the CloudWatch alarms of the {n} Route 53 health check{} (us-east-1) have no action: add your SNS topic to their `alarm_actions`, or watch them in the CloudWatch console",
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
    }
    module.files.push(("kubernetes.tf", ctx.kubernetes()));
    let addons = addons::lower(platform, env, &ctx.name);
    module.notes.extend(addons.notes);
    module
        .files
        .push(("helm.tf", ctx.helm(&addons.before_platform)));
    if !addons.blocks.is_empty() {
        module.files.push(("addons.tf", doc(addons.blocks)));
    }
    module.files.push(("variables.tf", ctx.variables()));
    module.files.push(("outputs.tf", ctx.outputs()));
    if ctx.needs_log_bucket() {
        let skip = |resource: &str, check, reason| Skip {
            resource: resource.to_owned(),
            check,
            reason,
        };
        module.skips.extend([
            skip(
                "aws_s3_bucket.logs",
                "CKV_AWS_18",
                "this is the access log bucket; logging its own access would log the log writes",
            ),
            skip(
                "aws_s3_bucket.logs",
                "CKV_AWS_145",
                "S3 server access log delivery supports only SSE-S3 (AES256) on the target bucket",
            ),
        ]);
        if ctx.cdn() {
            module.skips.extend([
                skip("aws_s3_bucket_ownership_controls.logs", "CKV2_AWS_65", "CloudFront standard logs are delivered through a bucket ACL grant, which needs ACLs enabled on this log-only bucket"),
                skip("aws_cloudfront_distribution.cdn", "CKV2_AWS_46", "the only bucket this distribution references is its log bucket; its origin is the ingress, not S3"),
            ]);
        }
    }
    if ctx.cdn() {
        if ctx.acme_through_cdn() {
            module.skips.push(Skip {
                resource: "aws_cloudfront_distribution.cdn".into(),
                check: "CKV_AWS_34",
                reason: "only /.well-known/acme-challenge/* is served over plain HTTP, uncached: Let's Encrypt asks HTTP-01 challenges there; every other path redirects to HTTPS",
            });
        }
        for (i, rule) in cloud.cdn_cache.iter().enumerate() {
            if rule.browser_ttl_seconds.is_some() {
                module.skips.push(Skip {
                    resource: format!("aws_cloudfront_response_headers_policy.cdn_rule_{}", i + 1),
                    check: "CKV_AWS_259",
                    reason: "its Strict-Transport-Security is the managed SecurityHeadersPolicy's, which every other path of the host sends; includeSubDomains and preload commit the whole domain, which the spec does not ask for",
                });
            }
        }
    }
    if ctx.cdn() && env.cdn_origin().is_none() {
        module.notes.push(format!(
            "the CDN of `{}` has no Route 53 zone to validate its certificate in and point its hosts from (`[environments.{}.dns]`): `var.cdn_certificate_arn` and `var.cdn_origin_domain` must be given, and the hosts' records pointed at `cdn_domain_name` by hand",
            env.name, env.name
        ));
    }
    if cloud.cdn && ctx.hosts.is_empty() {
        module
            .notes
            .push("`cloud.cdn` is on but no service has an ingress host: no CDN generated".into());
    }
    for st in &env.managed_stores {
        let connection = naming::store_connection_secret(&st.name);
        if ctx.connection_read(&connection) {
            module.skips.push(Skip {
                resource: format!(
                    "aws_secretsmanager_secret.{}",
                    naming::tf_ident(&connection)
                ),
                check: "CKV2_AWS_57",
                reason: "holds a managed store's endpoints (and Redis's URL with the spec's own auth token), which Terraform rewrites on every apply; there is no credential of its own to rotate",
            });
        }
        if ctx.generates_password(st) {
            module.skips.push(Skip {
                resource: format!(
                    "aws_secretsmanager_secret.{}",
                    naming::tf_ident(&naming::managed_password_secret(&st.name))
                ),
                check: "CKV2_AWS_57",
                reason: "rotated by raising the store's password_version variable, at a time chosen for the restart of the services that read it: a rotation Lambda would change the password under running pods",
            });
        }
        if !crate::units::has_managed_offering(&st.engine) {
            module.notes.push(format!(
                "managed data store `{}`: engine `{}` has no AWS lowering",
                st.name, st.engine
            ));
        }
    }
    module
}

/// What every part of the lowering needs.
struct Ctx<'a> {
    platform: &'a ir::Platform,
    env: &'a Environment,
    cloud: &'a Cloud,
    /// `<platform>-<env>`: cluster, VPC and key names.
    name: String,
    /// Public hosts of the environment's routes (redirecting ones too), sorted.
    hosts: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn new(platform: &'a ir::Platform, env: &'a Environment, cloud: &'a Cloud) -> Self {
        let hosts = env.public_hosts();
        Ctx {
            platform,
            env,
            cloud,
            name: naming::cloud_name(&platform.name, &env.name),
            hosts,
        }
    }

    fn cdn(&self) -> bool {
        self.cloud.cdn && !self.hosts.is_empty()
    }

    /// Whether HTTP-01 challenges pass through the CDN over plain HTTP: when it fronts the
    /// hosts and DNS-01 does not answer them all (`dns.certificates`).
    fn acme_through_cdn(&self) -> bool {
        self.env.cdn_origin().is_some()
            && self
                .cloud
                .dns
                .as_ref()
                .is_none_or(|d| d.certificates.is_none())
    }

    fn stores(&self, engine: &str) -> impl Iterator<Item = &'a ManagedStore> + '_ {
        let engine = engine.to_owned();
        self.env
            .managed_stores
            .iter()
            .filter(move |s| s.engine == engine)
    }

    /// Whether the monitoring stack's Prometheus or Alertmanager claims a volume.
    fn monitoring_claims_volumes(&self) -> bool {
        let o = &self.env.observability;
        o.storage_bytes.is_some() || o.alertmanager.storage_bytes.is_some()
    }

    /// Whether pods claim persistent volumes (a store's data, a backup job's dumps, Loki's
    /// chunks, Prometheus's metrics when `observability.storage` is set, Alertmanager's
    /// state when `observability.alertmanager.storage` is), which on EKS need the EBS CSI
    /// driver and a default StorageClass.
    fn needs_volumes(&self) -> bool {
        upstream::wants_loki(self.env)
            || (upstream::wants_prometheus(self.env) && self.monitoring_claims_volumes())
            || self
                .env
                .workloads
                .iter()
                .any(|w| w.storage.is_some() || k8s::backup_plan(self.env, w).is_some())
    }

    /// Whether a node group can grow or shrink, which needs the cluster autoscaler.
    fn needs_autoscaler(&self) -> bool {
        self.cloud.cluster.node_groups.iter().any(|g| g.min < g.max)
    }

    fn store_id(&self, st: &ManagedStore) -> String {
        naming::cloud_store_name(&self.platform.name, &self.env.name, &st.name)
    }

    // ----------------------------------------------------------------- versions.tf

    fn versions(&self) -> Body {
        let state = &self.cloud.state;
        let provider =
            |source: &str, version: &str| obj([("source", s(source)), ("version", s(version))]);
        doc([block(
            "terraform",
            [],
            [
                a("required_version", s(TERRAFORM_VERSION)),
                b(block(
                    "required_providers",
                    [],
                    [
                        a("aws", provider("hashicorp/aws", AWS_PROVIDER)),
                        a("helm", provider("hashicorp/helm", HELM_PROVIDER)),
                        a(
                            "kubernetes",
                            provider("hashicorp/kubernetes", KUBERNETES_PROVIDER),
                        ),
                    ]
                    .into_iter()
                    .chain(self.cloudflare_token().map(|_| {
                        a(
                            "cloudflare",
                            provider(
                                "cloudflare/cloudflare",
                                super::cloudflare::CLOUDFLARE_PROVIDER,
                            ),
                        )
                    }))
                    .chain(
                        self.env
                            .managed_stores
                            .iter()
                            .any(|st| self.generates_password(st))
                            .then(|| a("random", provider("hashicorp/random", RANDOM_PROVIDER))),
                    ),
                )),
                b(block(
                    "backend",
                    ["s3"],
                    [
                        a("bucket", s(&state.bucket)),
                        a("key", s(&state.key)),
                        a("region", s(&self.cloud.region)),
                        a("dynamodb_table", s(&state.lock_table)),
                        a("encrypt", true),
                    ],
                )),
            ],
        )])
    }

    // ---------------------------------------------------------------- providers.tf

    fn providers(&self) -> Body {
        let tags = || b(block("default_tags", [], [a("tags", r("local.tags"))]));
        let mut blocks = vec![block(
            "provider",
            ["aws"],
            [a("region", r("var.region")), tags()],
        )];
        let dns_east = self
            .cloud
            .dns
            .as_ref()
            .is_some_and(super::dns::needs_us_east_1);
        if self.cdn() || dns_east {
            // CloudFront's WAF ACL, certificate and logs, a DNSSEC signing key and Route 53's
            // health-check metrics live in us-east-1 whatever the region. Declared whenever
            // they are generated: `var.region` may be us-east-1 or not at apply time.
            blocks.push(block(
                "provider",
                ["aws"],
                [
                    a("alias", s("us_east_1")),
                    a("region", s("us-east-1")),
                    tags(),
                ],
            ));
        }
        if let Some(token) = self.cloudflare_token() {
            blocks.extend(super::cloudflare::provider(
                token,
                &self.platform.name,
                &self.env.name,
            ));
        }
        // Both providers reach the cluster the same way: its endpoint and CA from the eks
        // module, and a short-lived token from the AWS CLI, never a stored credential.
        let connection = [
            ("host", r("module.eks.cluster_endpoint")),
            (
                "cluster_ca_certificate",
                call(
                    "base64decode",
                    [r("module.eks.cluster_certificate_authority_data")],
                ),
            ),
        ];
        let exec = [
            ("api_version", s("client.authentication.k8s.io/v1beta1")),
            ("command", s("aws")),
            (
                "args",
                Expression::Array(vec![
                    s("eks"),
                    s("get-token"),
                    s("--cluster-name"),
                    r("module.eks.cluster_name"),
                    s("--region"),
                    r("var.region"),
                ]),
            ),
        ];
        // Helm provider 3.x takes the connection as object attributes.
        blocks.push(block(
            "provider",
            ["helm"],
            [a(
                "kubernetes",
                obj(connection
                    .clone()
                    .into_iter()
                    .chain([("exec", obj(exec.clone()))])),
            )],
        ));
        // The kubernetes provider 3.x keeps the 2.x block syntax for `exec`.
        blocks.push(block(
            "provider",
            ["kubernetes"],
            connection.into_iter().map(|(k, v)| a(k, v)).chain([b(block(
                "exec",
                [],
                exec.into_iter().map(|(k, v)| a(k, v)),
            ))]),
        ));
        doc(blocks)
    }

    // --------------------------------------------------------------------- main.tf

    fn main(&self) -> Body {
        let tags = naming::cloud_tags(&self.platform.name, self.env);
        let mut locals = vec![a("tags", obj(tags.iter().map(|(k, v)| (k.as_str(), s(v)))))];
        let mut blocks = vec![block("data", ["aws_caller_identity", "current"], [])];
        blocks.extend(self.kms_key(
            &mut locals,
            "main",
            None,
            &self.name,
            &format!("{}: data stores, logs and secrets", self.name),
        ));
        if self.needs_log_bucket() {
            blocks.extend(self.log_bucket(&mut locals));
        }
        blocks.push(self.vpc());
        blocks.push(self.eks());
        if self.needs_volumes() {
            // Volumes are encrypted with the environment's key (the StorageClass's
            // `kmsKeyId`): the role may use it and create grants for EC2. The key policy lets
            // IAM policies grant this (its account statement); naming the role in the key
            // policy instead would be a cycle, since the cluster's log group uses the key.
            blocks.push(irsa(
                "ebs_csi_irsa",
                &format!("{}-ebs-csi", self.name),
                [
                    a("attach_ebs_csi_policy", true),
                    a(
                        "ebs_csi_kms_cmk_arns",
                        Expression::Array(vec![r("aws_kms_key.main.arn")]),
                    ),
                ],
                SYSTEM_NAMESPACE,
                EBS_CSI_SA,
            ));
        }
        if self.needs_autoscaler() {
            blocks.push(irsa(
                "cluster_autoscaler_irsa",
                &format!("{}-cluster-autoscaler", self.name),
                [
                    a("attach_cluster_autoscaler_policy", true),
                    a(
                        "cluster_autoscaler_cluster_names",
                        Expression::Array(vec![r("module.eks.cluster_name")]),
                    ),
                ],
                SYSTEM_NAMESPACE,
                AUTOSCALER_SA,
            ));
        }
        doc_with_locals(locals, blocks)
    }

    /// A customer-managed key and its alias. `provider` selects an aliased provider; the
    /// policy lets the account administer the key through IAM and CloudWatch Logs of the
    /// key's region encrypt log groups with it.
    fn kms_key(
        &self,
        locals: &mut Vec<Item>,
        label: &str,
        provider: Option<(&str, &str)>,
        alias: &str,
        description: &str,
    ) -> Vec<Block> {
        let region = match provider {
            Some((_, region)) => s(region),
            None => r("var.region"),
        };
        let account = r("data.aws_caller_identity.current.account_id");
        let arn = |service: &str, resource: Vec<Part>| {
            let mut parts = vec![Part::Lit(format!("arn:aws:{service}:"))];
            parts.extend(resource);
            template(parts)
        };
        let root = arn(
            "iam",
            vec![
                Part::Lit(":".into()),
                Part::Expr(account.clone()),
                Part::Lit(":root".into()),
            ],
        );
        let logs_principal = template([
            Part::Lit("logs.".into()),
            Part::Expr(region.clone()),
            Part::Lit(".amazonaws.com".into()),
        ]);
        let log_groups = arn(
            "logs",
            vec![
                Part::Expr(region),
                Part::Lit(":".into()),
                Part::Expr(account),
                Part::Lit(":log-group:*".into()),
            ],
        );
        let policy = obj([
            ("Version", s("2012-10-17")),
            (
                "Statement",
                Expression::Array(vec![
                    obj([
                        ("Sid", s("AccountAdministersTheKeyThroughIam")),
                        ("Effect", s("Allow")),
                        ("Principal", obj([("AWS", root)])),
                        ("Action", s("kms:*")),
                        ("Resource", s("*")),
                    ]),
                    obj([
                        ("Sid", s("CloudWatchLogsEncryptLogGroups")),
                        ("Effect", s("Allow")),
                        ("Principal", obj([("Service", logs_principal)])),
                        (
                            "Action",
                            strings([
                                "kms:Decrypt*",
                                "kms:Describe*",
                                "kms:Encrypt*",
                                "kms:GenerateDataKey*",
                                "kms:ReEncrypt*",
                            ]),
                        ),
                        ("Resource", s("*")),
                        (
                            "Condition",
                            obj([(
                                "ArnLike",
                                obj([("kms:EncryptionContext:aws:logs:arn", log_groups)]),
                            )]),
                        ),
                    ]),
                ]),
            ),
        ]);
        let provider_attr = || provider.map(|(p, _)| a("provider", r(p)));
        let mut key_body: Vec<Item> = provider_attr().into_iter().collect();
        let local = format!("{label}_key_policy");
        key_body.extend([
            a("description", s(description)),
            a("enable_key_rotation", true),
            a("deletion_window_in_days", 30),
            a("policy", call("jsonencode", [r(&format!("local.{local}"))])),
        ]);
        locals.push(a(local, policy));
        let mut alias_body: Vec<Item> = provider_attr().into_iter().collect();
        alias_body.extend([
            a("name", s(format!("alias/{alias}"))),
            a("target_key_id", r(&format!("aws_kms_key.{label}.key_id"))),
        ]);
        vec![
            block("resource", ["aws_kms_key", label], key_body),
            block("resource", ["aws_kms_alias", label], alias_body),
        ]
    }

    fn vpc(&self) -> Block {
        // Subnets are carved from the VPC range: a /20 (for a /16) per zone for the nodes,
        // and /24s from the top of the range for load balancers and data stores, so any
        // number of zones up to eight fits without overlap.
        let subnets = |newbits: u32, base: u32| {
            let index = if base == 0 {
                r("k")
            } else {
                op(Expression::from(base), BinaryOperator::Plus, r("k"))
            };
            Expression::from(
                ForExpr::new(
                    Identifier::unchecked("v"),
                    r("var.availability_zones"),
                    call(
                        "cidrsubnet",
                        [r("var.vpc_cidr"), Expression::from(newbits), index],
                    ),
                )
                .with_key_var(Identifier::unchecked("k")),
            )
        };
        let mut body = vec![
            a("source", s("terraform-aws-modules/vpc/aws")),
            a("version", s(VPC_MODULE)),
            a("name", s(&self.name)),
            a("cidr", r("var.vpc_cidr")),
            a("azs", r("var.availability_zones")),
            a("private_subnets", subnets(4, 0)),
            a("public_subnets", subnets(8, 224)),
        ];
        if self.stores("postgres").next().is_some() {
            body.push(a("database_subnets", subnets(8, 232)));
        }
        if self.stores("redis").next().is_some() {
            body.push(a("elasticache_subnets", subnets(8, 240)));
        }
        body.extend([
            // A NAT gateway per zone, so losing a zone does not cut the others off.
            a("enable_nat_gateway", true),
            a("one_nat_gateway_per_az", true),
            a("enable_dns_hostnames", true),
            a("enable_dns_support", true),
            a("enable_flow_log", true),
            a("create_flow_log_cloudwatch_log_group", true),
            a("create_flow_log_cloudwatch_iam_role", true),
            a("flow_log_max_aggregation_interval", 60),
            a(
                "flow_log_cloudwatch_log_group_kms_key_id",
                r("aws_kms_key.main.arn"),
            ),
            a(
                "flow_log_cloudwatch_log_group_retention_in_days",
                LOG_RETENTION_DAYS,
            ),
            // Tags by which the AWS load balancer integration finds the subnets.
            a(
                "public_subnet_tags",
                obj([("kubernetes.io/role/elb", Expression::from(1))]),
            ),
            a(
                "private_subnet_tags",
                obj([("kubernetes.io/role/internal-elb", Expression::from(1))]),
            ),
        ]);
        block("module", ["vpc"], body)
    }

    fn eks(&self) -> Block {
        // EKS add-ons, each at the newest version for the cluster's Kubernetes version (the
        // module's `most_recent` default). The VPC CNI comes before the nodes, so they join
        // with networking ready, and enforces NetworkPolicies: every environment has them
        // (the namespace's default-deny and DNS policies), and without an enforcing CNI
        // Kubernetes accepts them and ignores them.
        let mut addons = vec![
            ("coredns", obj::<&str>([])),
            ("kube-proxy", obj::<&str>([])),
            (
                "vpc-cni",
                obj([
                    ("before_compute", Expression::from(true)),
                    (
                        "configuration_values",
                        call("jsonencode", [obj([("enableNetworkPolicy", s("true"))])]),
                    ),
                ]),
            ),
        ];
        if self.needs_volumes() {
            addons.push((
                "aws-ebs-csi-driver",
                obj([("service_account_role_arn", r("module.ebs_csi_irsa.arn"))]),
            ));
        }
        addons.sort_by(|x, y| x.0.cmp(y.0));
        block(
            "module",
            ["eks"],
            [
                a("source", s("terraform-aws-modules/eks/aws")),
                a("version", s(EKS_MODULE)),
                a("name", s(&self.name)),
                a("kubernetes_version", r("var.cluster_version")),
                a("vpc_id", r("module.vpc.vpc_id")),
                a("subnet_ids", r("module.vpc.private_subnets")),
                a("control_plane_subnet_ids", r("module.vpc.private_subnets")),
                // The API is private unless the deployment lists networks that may reach it.
                a("endpoint_private_access", true),
                a(
                    "endpoint_public_access",
                    op(
                        call("length", [r("var.cluster_endpoint_public_access_cidrs")]),
                        BinaryOperator::Greater,
                        Expression::from(0),
                    ),
                ),
                a(
                    "endpoint_public_access_cidrs",
                    r("var.cluster_endpoint_public_access_cidrs"),
                ),
                a(
                    "enabled_log_types",
                    strings([
                        "api",
                        "audit",
                        "authenticator",
                        "controllerManager",
                        "scheduler",
                    ]),
                ),
                a("cloudwatch_log_group_kms_key_id", r("aws_kms_key.main.arn")),
                a("cloudwatch_log_group_retention_in_days", LOG_RETENTION_DAYS),
                // Kubernetes Secrets are envelope-encrypted with a key the module creates.
                a("create_kms_key", true),
                a(
                    "encryption_config",
                    obj([("resources", strings(["secrets"]))]),
                ),
                a("enable_irsa", true),
                a("enable_cluster_creator_admin_permissions", true),
                a("addons", obj(addons)),
                a("eks_managed_node_groups", r("var.node_groups")),
            ],
        )
    }

    // --------------------------------------------------------------- datastores.tf

    fn datastores(&self) -> Body {
        let mut locals = Vec::new();
        let mut blocks = Vec::new();
        if self.stores("postgres").next().is_some() {
            blocks.push(monitoring_role(&mut locals, &self.name));
            blocks.push(block(
                "resource",
                ["aws_iam_role_policy_attachment", "rds_monitoring"],
                [
                    a("role", r("aws_iam_role.rds_monitoring.name")),
                    a(
                        "policy_arn",
                        s("arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"),
                    ),
                ],
            ));
        }
        for st in &self.env.managed_stores {
            match st.engine.as_str() {
                "postgres" => blocks.extend(self.postgres(st)),
                "redis" => blocks.extend(self.redis(st)),
                "object-storage" => blocks.extend(self.bucket(&mut locals, st)),
                _ => {}
            }
        }
        for w in self.bucket_clients() {
            blocks.extend(self.bucket_access(w));
        }
        doc_with_locals(locals, blocks)
    }

    /// The workloads that bind a managed bucket, which reach it with an IAM role of their
    /// own.
    fn bucket_clients(&self) -> impl Iterator<Item = &ir::Workload> {
        self.env.workloads.iter().filter(|w| !w.buckets.is_empty())
    }

    /// The Terraform name of the ServiceAccount workload `w` reaches its buckets as.
    fn bucket_account_id(w: &ir::Workload) -> String {
        format!("{}_s3", naming::tf_ident(&w.name))
    }

    /// How workload `w` reaches the managed buckets it binds: an IAM role (IRSA) that may read,
    /// write, list and delete objects of those buckets only and use the environment's key
    /// (their encryption), and the workload's ServiceAccount annotated with it.
    ///
    /// Why a role and no keys: an access key is a long-lived secret to store, rotate and leak,
    /// while the role's credentials are short-lived and issued to the pod alone, and the AWS
    /// SDKs find them by themselves. Why the ServiceAccount is Terraform's here, as it is for
    /// the backups: its annotation holds the role's ARN, which holds the AWS account, known
    /// only at apply time; the k8s and Helm outputs leave it out and name it.
    fn bucket_access(&self, w: &ir::Workload) -> Vec<Block> {
        let id = Self::bucket_account_id(w);
        let mut resources = Vec::new();
        for bucket in &w.buckets {
            let arn = r(&format!("aws_s3_bucket.{}.arn", naming::tf_ident(bucket)));
            resources.push(arn.clone());
            resources.push(template([Part::Expr(arn), Part::Lit("/*".into())]));
        }
        let role = crate::units::bucket_role(&self.name, &w.name);
        vec![
            irsa(
                &format!("{id}_irsa"),
                &role,
                [
                    a("create_inline_policy", true),
                    a(
                        "inline_policy_permissions",
                        obj([
                            (
                                "Buckets",
                                obj([
                                    (
                                        "actions",
                                        strings([
                                            "s3:GetObject",
                                            "s3:PutObject",
                                            "s3:DeleteObject",
                                            "s3:ListBucket",
                                            "s3:GetBucketLocation",
                                        ]),
                                    ),
                                    ("resources", Expression::Array(resources)),
                                ]),
                            ),
                            (
                                "Key",
                                obj([
                                    ("actions", strings(["kms:Decrypt", "kms:GenerateDataKey"])),
                                    (
                                        "resources",
                                        Expression::Array(vec![r("aws_kms_key.main.arn")]),
                                    ),
                                ]),
                            ),
                        ]),
                    ),
                ],
                &self.env.namespace,
                &naming::service_account(w),
            ),
            block(
                "resource",
                ["kubernetes_service_account_v1", &id],
                [
                    b(block(
                        "metadata",
                        [],
                        [
                            a("name", s(naming::service_account(w))),
                            a("namespace", s(&self.env.namespace)),
                            a(
                                "annotations",
                                obj([(
                                    "eks.amazonaws.com/role-arn",
                                    r(&format!("module.{id}_irsa.arn")),
                                )]),
                            ),
                        ],
                    )),
                    a(
                        "automount_service_account_token",
                        w.security.service_account_token,
                    ),
                    a(
                        "depends_on",
                        Expression::Array(vec![r("kubernetes_namespace_v1.platform")]),
                    ),
                ],
            ),
        ]
    }

    /// A security group admitting the cluster's nodes on the store's ports, and nothing out.
    fn security_group(&self, st: &ManagedStore, what: &str) -> Block {
        let mut body = vec![
            a("name", s(self.store_id(st))),
            a(
                "description",
                s(format!("{what} {}: clients in the cluster only", st.name)),
            ),
            a("vpc_id", r("module.vpc.vpc_id")),
        ];
        for p in &st.ports {
            body.push(b(block(
                "ingress",
                [],
                [
                    a(
                        "description",
                        s(format!("{what} from the cluster nodes ({})", p.name)),
                    ),
                    a("from_port", p.port),
                    a("to_port", p.port),
                    a("protocol", s("tcp")),
                    a(
                        "security_groups",
                        Expression::Array(vec![r("module.eks.node_security_group_id")]),
                    ),
                ],
            )));
        }
        block(
            "resource",
            ["aws_security_group", &naming::tf_ident(&st.name)],
            body,
        )
    }

    fn postgres(&self, st: &ManagedStore) -> Vec<Block> {
        let id = naming::tf_ident(&st.name);
        let major = st.version.split('.').next().unwrap_or_default().to_owned();
        let port = st.ports.first().map_or(5432, |p| p.port);
        let retention = retention_days(st, ir::MANAGED_BACKUP_RETENTION_DAYS);
        let mut blocks = vec![self.security_group(st, "PostgreSQL")];
        let param = |name: &str, value: &str| {
            b(block(
                "parameter",
                [],
                [a("name", s(name)), a("value", s(value))],
            ))
        };
        let mut group = vec![
            a("name", s(self.store_id(st))),
            a("family", s(format!("postgres{major}"))),
            a(
                "description",
                s(format!(
                    "{}: TLS only, DDL and slow queries logged",
                    st.name
                )),
            ),
            // Clients must use TLS (encryption in transit).
            param("rds.force_ssl", "1"),
        ];
        // plinth's logging defaults, unless the spec sets them itself.
        for (name, value) in [
            ("log_statement", "ddl"),
            ("log_min_duration_statement", "1000"),
        ] {
            if !st.parameters.contains_key(name) {
                group.push(param(name, value));
            }
        }
        // The spec's parameters. Some take effect only after a restart (static ones such as
        // `max_connections`), which RDS refuses to apply immediately; every one is therefore
        // applied at the next reboot or maintenance window, the one method RDS accepts for
        // all of them.
        for (name, value) in &st.parameters {
            group.push(b(block(
                "parameter",
                [],
                [
                    a("name", s(name)),
                    a("value", s(value)),
                    a("apply_method", s("pending-reboot")),
                ],
            )));
        }
        blocks.push(block("resource", ["aws_db_parameter_group", &id], group));
        // RDS creates these on first export; creating them first sets encryption and
        // retention.
        for log in ["postgresql", "upgrade"] {
            blocks.push(log_group(
                &format!("{id}_{log}"),
                &format!("/aws/rds/instance/{}/{log}", self.store_id(st)),
            ));
        }
        // Settings shared by the primary and its read replicas.
        let common = |primary: bool| {
            let mut body = vec![
                a(
                    "instance_class",
                    s(instance_class(st, ir::RDS_INSTANCE_CLASS)),
                ),
                a("storage_encrypted", true),
                a("kms_key_id", r("aws_kms_key.main.arn")),
                a("multi_az", st.multi_az),
                a(
                    "vpc_security_group_ids",
                    Expression::Array(vec![r(&format!("aws_security_group.{id}.id"))]),
                ),
                a(
                    "parameter_group_name",
                    r(&format!("aws_db_parameter_group.{id}.name")),
                ),
                a("port", port),
                a("publicly_accessible", false),
                a("iam_database_authentication_enabled", true),
                a("ca_cert_identifier", s("rds-ca-rsa2048-g1")),
                a("auto_minor_version_upgrade", true),
                a("copy_tags_to_snapshot", true),
                a("backup_retention_period", retention),
                a("deletion_protection", st.deletion_protection),
                a("monitoring_interval", 60),
                a("monitoring_role_arn", r("aws_iam_role.rds_monitoring.arn")),
                a("performance_insights_enabled", true),
                a("performance_insights_kms_key_id", r("aws_kms_key.main.arn")),
                a("performance_insights_retention_period", 7),
                a(
                    "enabled_cloudwatch_logs_exports",
                    strings(["postgresql", "upgrade"]),
                ),
            ];
            if primary {
                body.extend([
                    a("skip_final_snapshot", false),
                    a(
                        "final_snapshot_identifier",
                        s(format!("{}-final", self.store_id(st))),
                    ),
                ]);
            } else {
                // A read replica has no final snapshot of its own: the primary's covers it.
                body.push(a("skip_final_snapshot", true));
            }
            body.push(a(
                "depends_on",
                Expression::Array(vec![
                    r(&format!("aws_cloudwatch_log_group.{id}_postgresql")),
                    r(&format!("aws_cloudwatch_log_group.{id}_upgrade")),
                ]),
            ));
            body
        };
        let mut primary = vec![
            a("identifier", s(self.store_id(st))),
            a("engine", s("postgres")),
            // The major version: minor versions are upgraded automatically.
            a("engine_version", s(&major)),
            a("allocated_storage", gib(st.storage)),
            a("storage_type", s("gp3")),
            a("db_name", s(naming::sql_ident(&st.database))),
            a("username", s(naming::sql_ident(&st.username))),
        ];
        if self.generates_password(st) {
            let pw = naming::tf_ident(&naming::managed_password_secret(&st.name));
            primary.extend([
                // Read back from the secret Terraform wrote, so the instance and the secret
                // hold the same password even when an apply stopped between them.
                a(
                    "password_wo",
                    Expression::from(Traversal::new(
                        call(
                            "jsondecode",
                            [r(&format!(
                                "ephemeral.aws_secretsmanager_secret_version.{pw}.secret_string"
                            ))],
                        ),
                        [hcl::expr::TraversalOperator::Index(s("password"))],
                    )),
                ),
                a(
                    "password_wo_version",
                    r(&format!(
                        "aws_secretsmanager_secret_version.{pw}.secret_string_wo_version"
                    )),
                ),
            ]);
            blocks.extend(self.generated_password(st));
        } else {
            primary.extend([
                // RDS generates the password and keeps it in Secrets Manager.
                a("manage_master_user_password", true),
                a("master_user_secret_kms_key_id", r("aws_kms_key.main.arn")),
            ]);
        }
        primary.extend([a(
            "db_subnet_group_name",
            r("module.vpc.database_subnet_group_name"),
        )]);
        if let Some(window) = st.backup.as_ref().and_then(|b| backup_window(b, 60)) {
            primary.push(a("backup_window", s(window)));
        }
        primary.extend(common(true));
        blocks.push(block("resource", ["aws_db_instance", &id], primary));
        if st.read_replicas > 0 {
            let mut replica = vec![
                a("count", st.read_replicas),
                a(
                    "identifier",
                    template([
                        Part::Lit(format!("{}-replica-", self.store_id(st))),
                        Part::Expr(op(
                            r("count.index"),
                            BinaryOperator::Plus,
                            Expression::from(1),
                        )),
                    ]),
                ),
                a(
                    "replicate_source_db",
                    r(&format!("aws_db_instance.{id}.identifier")),
                ),
            ];
            replica.extend(common(false));
            blocks.push(block(
                "resource",
                ["aws_db_instance", &format!("{id}_replica")],
                replica,
            ));
        }
        let primary = r(&format!("aws_db_instance.{id}.address"));
        let read = if st.read_replicas > 0 {
            r(&format!("aws_db_instance.{id}_replica.0.address"))
        } else {
            primary.clone()
        };
        blocks.extend(self.connection_secret(
            st,
            "host and read replica host",
            vec![("host", primary), ("read-host", read)],
        ));
        blocks
    }

    /// The Cloudflare API token of the environment's zone, when Cloudflare serves it.
    fn cloudflare_token(&self) -> Option<&ir::SecretRef> {
        self.cloud.dns.as_ref()?.provider.cloudflare_token()
    }

    /// Whether a workload of the environment reads the Secret `name` (a managed store's
    /// connection secret, written only for services that bind it).
    fn connection_read(&self, name: &str) -> bool {
        self.env
            .workloads
            .iter()
            .any(|w| w.secrets.values().any(|r| r.secret == name))
    }

    /// Whether Terraform generates managed PostgreSQL store `st`'s master password, rather
    /// than RDS: when a service of the environment binds it (`password`, `uri`, `read-uri`
    /// read the Secret `<store>-password`).
    ///
    /// Why not RDS's own: RDS keeps its managed password in a secret whose name
    /// (`rds!db-<uuid>`) is known only after apply, so no generated manifest could name it,
    /// and rotates it every seven days under pods that read it once at start. Terraform's
    /// password has a fixed secret name the ExternalSecret reads, and changes only when
    /// `var.<store>_password_version` does.
    fn generates_password(&self, st: &ManagedStore) -> bool {
        st.engine == "postgres" && self.connection_read(&naming::managed_password_secret(&st.name))
    }

    /// The master password of managed PostgreSQL store `st`, generated by Terraform and
    /// kept in the Secrets Manager secret `<platform>/<env>/<store>-password` (KMS-encrypted
    /// with the environment's key), where the readers' ExternalSecret finds it.
    ///
    /// The password never reaches state or plan: an ephemeral `random_password` (letters and
    /// digits, so a URL holds it unescaped) is written through the write-only
    /// `secret_string_wo`, read back by an ephemeral `aws_secretsmanager_secret_version`, and
    /// passed to the instance's write-only `password_wo`. Both are sent only when
    /// `var.<store>_password_version` changes, which is how the password is rotated.
    fn generated_password(&self, st: &ManagedStore) -> Vec<Block> {
        let name = naming::managed_password_secret(&st.name);
        let id = naming::tf_ident(&name);
        vec![
            block(
                "ephemeral",
                ["random_password", &id],
                [a("length", 40), a("special", false)],
            ),
            self.cloud_secret(
                &id,
                &name,
                format!(
                    "{}: master password, for the services that bind it",
                    st.name
                ),
            ),
            block(
                "resource",
                ["aws_secretsmanager_secret_version", &id],
                [
                    a(
                        "secret_id",
                        r(&format!("aws_secretsmanager_secret.{id}.id")),
                    ),
                    a(
                        "secret_string_wo",
                        call(
                            "jsonencode",
                            [obj([(
                                "password",
                                r(&format!("ephemeral.random_password.{id}.result")),
                            )])],
                        ),
                    ),
                    a(
                        "secret_string_wo_version",
                        r(&format!("var.{}", password_version_variable(st))),
                    ),
                ],
            ),
            block(
                "ephemeral",
                ["aws_secretsmanager_secret_version", &id],
                [a(
                    "secret_id",
                    r(&format!("aws_secretsmanager_secret_version.{id}.secret_id")),
                )],
            ),
        ]
    }

    /// The Secrets Manager secret `<platform>/<env>/<name>` that Terraform writes for the
    /// services of the environment, labelled `id`, encrypted with the environment's key.
    fn cloud_secret(&self, id: &str, name: &str, description: String) -> Block {
        block(
            "resource",
            ["aws_secretsmanager_secret", id],
            [
                a(
                    "name",
                    s(naming::cloud_secret_name(
                        &self.platform.name,
                        &self.env.name,
                        name,
                    )),
                ),
                a("description", s(description)),
                a("kms_key_id", r("aws_kms_key.main.arn")),
            ],
        )
    }

    /// The Secrets Manager secret `<platform>/<env>/<store>-connection` with a managed
    /// store's connection details, when a service binds them (the ExternalSecret of its
    /// readers copies it into the namespace): values only Terraform knows, such as the
    /// endpoint, written at apply time and encrypted with the environment's key.
    fn connection_secret(
        &self,
        st: &ManagedStore,
        what: &str,
        fields: Vec<(&str, Expression)>,
    ) -> Vec<Block> {
        let name = naming::store_connection_secret(&st.name);
        if !self.connection_read(&name) {
            return Vec::new();
        }
        let id = naming::tf_ident(&name);
        vec![
            self.cloud_secret(
                &id,
                &name,
                format!("{}: {what}, for the services that bind them", st.name),
            ),
            block(
                "resource",
                ["aws_secretsmanager_secret_version", &id],
                [
                    a(
                        "secret_id",
                        r(&format!("aws_secretsmanager_secret.{id}.id")),
                    ),
                    a("secret_string", call("jsonencode", [obj(fields)])),
                ],
            ),
        ]
    }

    fn redis(&self, st: &ManagedStore) -> Vec<Block> {
        let id = naming::tf_ident(&st.name);
        let nodes = st.replicas.max(1) + st.read_replicas;
        let port = st.ports.first().map_or(6379, |p| p.port);
        let secret = format!("{id}_auth");
        let mut blocks = vec![
            // The auth token is read at apply time; its value is never in a generated file.
            block(
                "data",
                ["aws_secretsmanager_secret_version", &secret],
                [a(
                    "secret_id",
                    s(naming::cloud_secret_name(
                        &self.platform.name,
                        &self.env.name,
                        &st.auth.secret,
                    )),
                )],
            ),
            self.security_group(st, "Redis"),
        ];
        let token = Expression::from(Traversal::new(
            call(
                "jsondecode",
                [r(&format!(
                    "data.aws_secretsmanager_secret_version.{secret}.secret_string"
                ))],
            ),
            [hcl::expr::TraversalOperator::Index(s(&st.auth.key))],
        ));
        let mut body = vec![
            a("replication_group_id", s(self.store_id(st))),
            a(
                "description",
                s(format!(
                    "{} of {} {}",
                    st.name, self.platform.name, self.env.name
                )),
            ),
            a("engine", s("redis")),
            a("engine_version", s(&st.version)),
            a("node_type", s(instance_class(st, ir::CACHE_NODE_TYPE))),
            a("num_cache_clusters", nodes),
            a("port", port),
            a(
                "subnet_group_name",
                r("module.vpc.elasticache_subnet_group_name"),
            ),
            a(
                "security_group_ids",
                Expression::Array(vec![r(&format!("aws_security_group.{id}.id"))]),
            ),
            // Failover needs a replica to promote.
            a("automatic_failover_enabled", nodes > 1),
            a("multi_az_enabled", st.multi_az && nodes > 1),
            a("at_rest_encryption_enabled", true),
            a("kms_key_id", r("aws_kms_key.main.arn")),
            a("transit_encryption_enabled", true),
            a("auth_token", token.clone()),
            a("auto_minor_version_upgrade", true),
            a(
                "snapshot_retention_limit",
                retention_days(st, ir::MANAGED_BACKUP_RETENTION_DAYS),
            ),
        ];
        if let Some(window) = st.backup.as_ref().and_then(|b| backup_window(b, 60)) {
            body.push(a("snapshot_window", s(window)));
        }
        blocks.push(block(
            "resource",
            ["aws_elasticache_replication_group", &id],
            body,
        ));
        // The URL carries the token Terraform already reads for the group, so it changes
        // when the token does (on the apply that sets the new token).
        let primary = r(&format!(
            "aws_elasticache_replication_group.{id}.primary_endpoint_address"
        ));
        let uri = template([
            Part::Lit("rediss://:".into()),
            Part::Expr(call("urlencode", [token])),
            Part::Lit("@".into()),
            Part::Expr(primary.clone()),
            Part::Lit(format!(":{port}")),
        ]);
        blocks.extend(self.connection_secret(
            st,
            "primary endpoint and URL with its auth token",
            vec![("host", primary), ("uri", uri)],
        ));
        blocks
    }

    /// An S3 bucket for object storage: versioned, KMS-encrypted, private, TLS only, with
    /// access logs, and old versions expired after the backup retention.
    fn bucket(&self, locals: &mut Vec<Item>, st: &ManagedStore) -> Vec<Block> {
        let id = naming::tf_ident(&st.name);
        let mut blocks = self.bucket_common(locals, &id, &self.store_id(st), false);
        blocks.push(block(
            "resource",
            ["aws_s3_bucket_logging", &id],
            [
                a("bucket", r(&format!("aws_s3_bucket.{id}.id"))),
                a("target_bucket", r("aws_s3_bucket.logs.id")),
                a("target_prefix", s(format!("s3/{}/", st.name))),
            ],
        ));
        // Replaced object versions are the bucket's backups: they are kept as long as the
        // spec's backup retention says.
        let keep = st
            .backup
            .as_ref()
            .map_or(ir::MANAGED_BACKUP_RETENTION_DAYS, |b| {
                ((b.retention_ms / 86_400_000) as u32).max(1)
            });
        blocks.push(lifecycle(&id, keep, false));
        blocks
    }

    /// Resources every bucket has. The log bucket (`for_logs`) differs where log delivery
    /// requires it: S3 server access logs accept only SSE-S3 encryption and are written by
    /// the `logging.s3.amazonaws.com` service, and CloudFront writes its logs through an
    /// ACL grant, which needs ACLs enabled.
    fn bucket_common(
        &self,
        locals: &mut Vec<Item>,
        id: &str,
        name: &str,
        for_logs: bool,
    ) -> Vec<Block> {
        let bucket = r(&format!("aws_s3_bucket.{id}.id"));
        let arn = r(&format!("aws_s3_bucket.{id}.arn"));
        let objects = template([Part::Expr(arn.clone()), Part::Lit("/*".into())]);
        let encryption = if for_logs {
            vec![a("sse_algorithm", s("AES256"))]
        } else {
            vec![
                a("sse_algorithm", s("aws:kms")),
                a("kms_master_key_id", r("aws_kms_key.main.arn")),
            ]
        };
        let ownership = if for_logs && self.cdn() {
            "BucketOwnerPreferred"
        } else {
            "BucketOwnerEnforced"
        };
        let mut statements = vec![obj([
            ("Sid", s("DenyInsecureTransport")),
            ("Effect", s("Deny")),
            ("Principal", s("*")),
            ("Action", s("s3:*")),
            (
                "Resource",
                Expression::Array(vec![arn.clone(), objects.clone()]),
            ),
            (
                "Condition",
                obj([("Bool", obj([("aws:SecureTransport", s("false"))]))]),
            ),
        ])];
        if for_logs {
            statements.push(obj([
                ("Sid", s("S3ServerAccessLogDelivery")),
                ("Effect", s("Allow")),
                (
                    "Principal",
                    obj([("Service", s("logging.s3.amazonaws.com"))]),
                ),
                ("Action", s("s3:PutObject")),
                ("Resource", objects),
                (
                    "Condition",
                    obj([(
                        "StringEquals",
                        obj([(
                            "aws:SourceAccount",
                            r("data.aws_caller_identity.current.account_id"),
                        )]),
                    )]),
                ),
            ]));
        }
        let policy = format!("{id}_bucket_policy");
        locals.push(a(
            policy.clone(),
            obj([
                ("Version", s("2012-10-17")),
                ("Statement", Expression::Array(statements)),
            ]),
        ));
        vec![
            block("resource", ["aws_s3_bucket", id], [a("bucket", s(name))]),
            block(
                "resource",
                ["aws_s3_bucket_versioning", id],
                [
                    a("bucket", bucket.clone()),
                    b(block(
                        "versioning_configuration",
                        [],
                        [a("status", s("Enabled"))],
                    )),
                ],
            ),
            block(
                "resource",
                ["aws_s3_bucket_server_side_encryption_configuration", id],
                [
                    a("bucket", bucket.clone()),
                    b(block(
                        "rule",
                        [],
                        [
                            b(block(
                                "apply_server_side_encryption_by_default",
                                [],
                                encryption,
                            )),
                            a("bucket_key_enabled", !for_logs),
                        ],
                    )),
                ],
            ),
            block(
                "resource",
                ["aws_s3_bucket_public_access_block", id],
                [
                    a("bucket", bucket.clone()),
                    a("block_public_acls", true),
                    a("block_public_policy", true),
                    a("ignore_public_acls", true),
                    a("restrict_public_buckets", true),
                ],
            ),
            block(
                "resource",
                ["aws_s3_bucket_ownership_controls", id],
                [
                    a("bucket", bucket.clone()),
                    b(block("rule", [], [a("object_ownership", s(ownership))])),
                ],
            ),
            block(
                "resource",
                ["aws_s3_bucket_policy", id],
                [
                    a("bucket", bucket.clone()),
                    a(
                        "policy",
                        call("jsonencode", [r(&format!("local.{policy}"))]),
                    ),
                ],
            ),
            // Object events go to EventBridge, where consumers can subscribe.
            block(
                "resource",
                ["aws_s3_bucket_notification", id],
                [a("bucket", bucket), a("eventbridge", true)],
            ),
        ]
    }

    /// The bucket receiving S3 access logs and CloudFront logs.
    fn log_bucket(&self, locals: &mut Vec<Item>) -> Vec<Block> {
        let mut blocks =
            self.bucket_common(locals, "logs", &naming::cloud_log_bucket(&self.name), true);
        blocks.push(lifecycle("logs", LOG_RETENTION_DAYS, false));
        blocks
    }

    /// Whether a bucket for access logs is needed: buckets and the CDN log to it.
    fn needs_log_bucket(&self) -> bool {
        self.cdn()
            || self.stores("object-storage").next().is_some()
            || self.backed_up_stores().next().is_some()
    }

    // ---------------------------------------------------------------------- cdn.tf

    fn cdn_doc(&self) -> Body {
        let east = || a("provider", r("aws.us_east_1"));
        let mut locals = Vec::new();
        let mut blocks = self.kms_key(
            &mut locals,
            "edge",
            Some(("aws.us_east_1", "us-east-1")),
            &format!("{}-edge", self.name),
            &format!("{}: CDN firewall logs", self.name),
        );
        let waf_logs = format!("aws-waf-logs-{}", self.name);
        blocks.push(block(
            "resource",
            ["aws_cloudwatch_log_group", "waf"],
            [
                east(),
                a("name", s(&waf_logs)),
                a("retention_in_days", LOG_RETENTION_DAYS),
                a("kms_key_id", r("aws_kms_key.edge.arn")),
            ],
        ));
        let visibility = |metric: &str| {
            b(block(
                "visibility_config",
                [],
                [
                    a("cloudwatch_metrics_enabled", true),
                    a("metric_name", s(metric)),
                    a("sampled_requests_enabled", true),
                ],
            ))
        };
        let mut acl = vec![
            east(),
            a("name", s(&self.name)),
            a(
                "description",
                s(format!(
                    "{}: AWS managed protections in front of the CDN",
                    self.name
                )),
            ),
            a("scope", s("CLOUDFRONT")),
            b(block("default_action", [], [b(block("allow", [], []))])),
        ];
        // AWS managed rule groups: the common rule set, known bad inputs (which blocks the
        // Log4j JNDI lookups), the IP reputation list and anonymizers (VPNs, Tor). Requests
        // from hosting providers are only counted: webhooks and API clients run there.
        for (priority, group) in [
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesAnonymousIpList",
        ]
        .iter()
        .enumerate()
        {
            let mut statement = vec![a("name", s(*group)), a("vendor_name", s("AWS"))];
            if *group == "AWSManagedRulesAnonymousIpList" {
                statement.push(b(block(
                    "rule_action_override",
                    [],
                    [
                        a("name", s("HostingProviderIPList")),
                        b(block("action_to_use", [], [b(block("count", [], []))])),
                    ],
                )));
            }
            acl.push(b(block(
                "rule",
                [],
                [
                    a("name", s(*group)),
                    a("priority", priority as u32 + 1),
                    b(block("override_action", [], [b(block("none", [], []))])),
                    b(block(
                        "statement",
                        [],
                        [b(block("managed_rule_group_statement", [], statement))],
                    )),
                    visibility(group),
                ],
            )));
        }
        acl.push(visibility(&naming::tf_ident(&self.name)));
        blocks.push(block("resource", ["aws_wafv2_web_acl", "cdn"], acl));
        blocks.push(block(
            "resource",
            ["aws_wafv2_web_acl_logging_configuration", "cdn"],
            [
                east(),
                a("resource_arn", r("aws_wafv2_web_acl.cdn.arn")),
                a(
                    "log_destination_configs",
                    Expression::Array(vec![r("aws_cloudwatch_log_group.waf.arn")]),
                ),
            ],
        ));
        // Responses are cached only as the origin's Cache-Control allows, keyed by host,
        // query string, cookies and Authorization, so a page is never served to the wrong
        // user.
        blocks.push(block(
            "resource",
            ["aws_cloudfront_cache_policy", "cdn"],
            [
                a("name", s(&self.name)),
                a(
                    "comment",
                    s("cache what the origin marks cacheable, per host, user and query"),
                ),
                a("min_ttl", 0),
                a("default_ttl", 0),
                a("max_ttl", 31_536_000),
                b(super::cdn::cache_key("all", &["Authorization", "Host"])),
            ],
        ));
        blocks.push(block(
            "data",
            ["aws_cloudfront_origin_request_policy", "all_viewer"],
            [a("name", s("Managed-AllViewer"))],
        ));
        blocks.push(block(
            "data",
            ["aws_cloudfront_response_headers_policy", "security_headers"],
            [a("name", s("Managed-SecurityHeadersPolicy"))],
        ));
        let origin = "ingress";
        // The origin and certificate come from this output when the CDN fronts a Route 53
        // zone; otherwise they are inputs (`variables.tf`).
        let fronted = self.env.cdn_origin();
        let (origin_domain, certificate_arn) = match &fronted {
            Some(name) => (
                s(name),
                r("aws_acm_certificate_validation.cdn.certificate_arn"),
            ),
            None => (r("var.cdn_origin_domain"), r("var.cdn_certificate_arn")),
        };
        let acme = fronted.as_ref().filter(|_| self.acme_through_cdn());
        blocks.extend(super::cdn::rule_policies(&self.name, &self.cloud.cdn_cache));
        if fronted.is_some() {
            blocks.extend(super::cdn::certificate(&self.hosts));
            blocks.extend(super::cdn::alias_records(&self.hosts));
            if acme.is_some() {
                blocks.push(super::cdn::caching_disabled());
            }
        }
        blocks.push(block(
            "resource",
            ["aws_cloudfront_distribution", "cdn"],
            [
                a("enabled", true),
                a("is_ipv6_enabled", true),
                a("http_version", s("http2and3")),
                a(
                    "comment",
                    s(format!("{} {}", self.platform.name, self.env.name)),
                ),
                a("aliases", strings(&self.hosts)),
                a("price_class", s("PriceClass_All")),
                a("web_acl_id", r("aws_wafv2_web_acl.cdn.arn")),
                b(block(
                    "origin",
                    [],
                    [
                        a("origin_id", s(origin)),
                        a("domain_name", origin_domain),
                        b(block(
                            "custom_origin_config",
                            [],
                            [
                                a("http_port", 80),
                                a("https_port", 443),
                                a("origin_protocol_policy", s("https-only")),
                                a("origin_ssl_protocols", strings(["TLSv1.2"])),
                            ],
                        )),
                    ],
                )),
            ]
            .into_iter()
            .chain(acme.map(|d| b(super::cdn::acme_origin(d))))
            .chain([b(block(
                "default_cache_behavior",
                [],
                super::cdn::behaviour(
                    origin,
                    "aws_cloudfront_cache_policy.cdn.id",
                    "data.aws_cloudfront_response_headers_policy.security_headers.id",
                ),
            ))])
            .chain(acme.map(|_| b(super::cdn::acme_behaviour())))
            .chain(
                super::cdn::rule_behaviours(origin, &self.cloud.cdn_cache)
                    .into_iter()
                    .map(b),
            )
            .chain([
                b(block(
                    "logging_config",
                    [],
                    [
                        a("bucket", r("aws_s3_bucket.logs.bucket_domain_name")),
                        a("prefix", s("cloudfront/")),
                        a("include_cookies", false),
                    ],
                )),
                b(block(
                    "restrictions",
                    [],
                    [b(block(
                        "geo_restriction",
                        [],
                        [a("restriction_type", s("none"))],
                    ))],
                )),
                b(block(
                    "viewer_certificate",
                    [],
                    [
                        a("acm_certificate_arn", certificate_arn),
                        a("ssl_support_method", s("sni-only")),
                        a("minimum_protocol_version", s("TLSv1.2_2021")),
                    ],
                )),
            ]),
        ));
        doc_with_locals(locals, blocks)
    }

    // --------------------------------------------------------------- kubernetes.tf

    /// The core objects Terraform creates in the cluster before any release: the platform's
    /// namespace, with the labels of the k8s target's Namespace (Pod Security enforcement
    /// included, which `helm_release.create_namespace` would leave out), and, when pods claim
    /// volumes, the default StorageClass. Core kinds only, so the plan never needs a CRD that
    /// a release installs during the same apply.
    fn kubernetes(&self) -> Body {
        let labels = naming::namespace_labels(&self.platform.name, self.env);
        let mut blocks = vec![block(
            "resource",
            ["kubernetes_namespace_v1", "platform"],
            [b(block(
                "metadata",
                [],
                [
                    a("name", s(&self.env.namespace)),
                    a(
                        "labels",
                        obj(labels.iter().map(|(k, v)| (k.as_str(), s(v)))),
                    ),
                ],
            ))],
        )];
        if self.needs_volumes() {
            // EKS has no default StorageClass since Kubernetes 1.30, and the EBS CSI
            // add-on's optional one is unencrypted: claims without a class would stay
            // pending. Volumes are gp3, encrypted with the environment's key, created in the
            // zone of the pod that first uses them, and may grow.
            blocks.push(block(
                "resource",
                ["kubernetes_storage_class_v1", STORAGE_CLASS],
                [
                    b(block(
                        "metadata",
                        [],
                        [
                            a("name", s(STORAGE_CLASS)),
                            a(
                                "annotations",
                                obj([("storageclass.kubernetes.io/is-default-class", s("true"))]),
                            ),
                        ],
                    )),
                    a("storage_provisioner", s("ebs.csi.aws.com")),
                    a("volume_binding_mode", s("WaitForFirstConsumer")),
                    a("allow_volume_expansion", true),
                    a("reclaim_policy", s("Delete")),
                    a(
                        "parameters",
                        obj([
                            ("type", s("gp3")),
                            ("encrypted", s("true")),
                            ("kmsKeyId", r("aws_kms_key.main.arn")),
                            ("csi.storage.k8s.io/fstype", s("ext4")),
                        ]),
                    ),
                    // The driver that provisions the volumes is an add-on of the cluster.
                    a("depends_on", Expression::Array(vec![r("module.eks")])),
                ],
            ));
        }
        doc(blocks)
    }

    // ------------------------------------------------------------------ backups.tf

    /// The in-cluster stores whose backups leave the cluster: the PostgreSQL stores the
    /// CloudNativePG operator runs with backups, and the stores a backup job dumps
    /// (`emit::backups`).
    fn backed_up_stores(&self) -> impl Iterator<Item = &'a ir::Workload> + '_ {
        let env = self.env;
        env.workloads.iter().filter(move |w| {
            (crate::emit::cnpg::operated(env, w) && crate::emit::cnpg::backup(w).is_some())
                || crate::emit::backups::offsite(env, w)
        })
    }

    /// The Terraform name of the ServiceAccount store `w`'s backups run as.
    fn backup_account_id(&self, w: &ir::Workload) -> String {
        let suffix = if crate::emit::cnpg::operated(self.env, w) {
            "cnpg"
        } else {
            "backup"
        };
        format!("{}_{suffix}", naming::tf_ident(&w.name))
    }

    /// Where each backed-up store's backups go: an S3 bucket like every other (versioned,
    /// KMS-encrypted, private, TLS only, access logged) whose objects expire after the backup
    /// retention, an IAM role (IRSA) that may use only that bucket and the environment's
    /// key, and the ServiceAccount with that role that the `Cluster` or the backup CronJob
    /// names. A CloudNativePG cluster reads, lists and deletes (the plugin restores, and
    /// enforces the retention itself); a backup job may only write, so a compromised job
    /// cannot read or destroy the backups it made.
    ///
    /// Why the ServiceAccount is Terraform's: the IRSA annotation holds the role's ARN, which
    /// contains the AWS account, known only at apply time; the generated manifests then only
    /// name the account (`serviceAccountName`), the same in the k8s and Helm outputs.
    fn backups(&self) -> Body {
        let mut locals = Vec::new();
        let mut blocks = Vec::new();
        for w in self.backed_up_stores() {
            let operated = crate::emit::cnpg::operated(self.env, w);
            let id = format!("{}_backups", naming::tf_ident(&w.name));
            let bucket = naming::backup_bucket(&self.platform.name, &self.env.name, &w.name);
            blocks.extend(self.bucket_common(&mut locals, &id, &bucket, false));
            // Access to the backups is logged like every other bucket's (CKV_AWS_18).
            blocks.push(block(
                "resource",
                ["aws_s3_bucket_logging", &id],
                [
                    a("bucket", r(&format!("aws_s3_bucket.{id}.id"))),
                    a("target_bucket", r("aws_s3_bucket.logs.id")),
                    a("target_prefix", s(format!("s3/{}-backups/", w.name))),
                ],
            ));
            let keep = crate::emit::cnpg::backup(w)
                .map_or(ir::MANAGED_BACKUP_RETENTION_DAYS, |b| {
                    (b.retention_ms.div_ceil(86_400_000) as u32).max(1)
                });
            blocks.push(lifecycle(&id, keep, !operated));
            let arn = r(&format!("aws_s3_bucket.{id}.arn"));
            let sa_id = self.backup_account_id(w);
            let (sa, s3_actions) = if operated {
                (
                    naming::cnpg_service_account(&w.name),
                    strings([
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:ListBucket",
                        "s3:GetBucketLocation",
                    ]),
                )
            } else {
                (
                    naming::backup_service_account(&w.name),
                    strings(["s3:PutObject"]),
                )
            };
            let role = format!("{}-{}-backups", self.name, w.name);
            blocks.push(irsa(
                &format!("{id}_irsa"),
                &role,
                [
                    a("create_inline_policy", true),
                    a(
                        "inline_policy_permissions",
                        obj([
                            (
                                "Bucket",
                                obj([
                                    ("actions", s3_actions),
                                    (
                                        "resources",
                                        Expression::Array(vec![
                                            arn.clone(),
                                            template([Part::Expr(arn), Part::Lit("/*".into())]),
                                        ]),
                                    ),
                                ]),
                            ),
                            (
                                "Key",
                                obj([
                                    ("actions", strings(["kms:Decrypt", "kms:GenerateDataKey"])),
                                    (
                                        "resources",
                                        Expression::Array(vec![r("aws_kms_key.main.arn")]),
                                    ),
                                ]),
                            ),
                        ]),
                    ),
                ],
                &self.env.namespace,
                &sa,
            ));
            blocks.push(block(
                "resource",
                ["kubernetes_service_account_v1", &sa_id],
                [
                    b(block(
                        "metadata",
                        [],
                        [
                            a("name", s(&sa)),
                            a("namespace", s(&self.env.namespace)),
                            a(
                                "annotations",
                                obj([(
                                    "eks.amazonaws.com/role-arn",
                                    r(&format!("module.{id}_irsa.arn")),
                                )]),
                            ),
                        ],
                    )),
                    // The instance manager reads its own objects through the API; a backup
                    // job calls only S3, with the token the IRSA webhook projects.
                    a("automount_service_account_token", operated),
                    a(
                        "depends_on",
                        Expression::Array(vec![r("kubernetes_namespace_v1.platform")]),
                    ),
                ],
            ));
        }
        doc_with_locals(locals, blocks)
    }

    // --------------------------------------------------------------------- helm.tf

    fn helm(&self, addons: &[Expression]) -> Body {
        let mut locals: Vec<Item> = Vec::new();
        let mut blocks = Vec::new();
        let yaml = |local: &str| {
            Expression::Array(vec![call("yamlencode", [r(&format!("local.{local}"))])])
        };
        if self.needs_autoscaler() {
            locals.push(a(
                "cluster_autoscaler_values",
                obj([
                    (
                        "autoDiscovery",
                        obj([("clusterName", r("module.eks.cluster_name"))]),
                    ),
                    ("awsRegion", r("var.region")),
                    (
                        "rbac",
                        obj([(
                            "serviceAccount",
                            obj([
                                ("name", s(AUTOSCALER_SA)),
                                (
                                    "annotations",
                                    obj([(
                                        "eks.amazonaws.com/role-arn",
                                        r("module.cluster_autoscaler_irsa.arn"),
                                    )]),
                                ),
                            ]),
                        )]),
                    ),
                ]),
            ));
            blocks.push(block(
                "resource",
                ["helm_release", "cluster_autoscaler"],
                [
                    a("name", s("cluster-autoscaler")),
                    a("repository", s("https://kubernetes.github.io/autoscaler")),
                    a("chart", s("cluster-autoscaler")),
                    a("version", s(CLUSTER_AUTOSCALER)),
                    a("namespace", s(SYSTEM_NAMESPACE)),
                    a("values", yaml("cluster_autoscaler_values")),
                    // Its values name the cluster (`module.eks.cluster_name`), which orders
                    // it after the cluster itself but not after the node groups its pod runs
                    // on and whose Auto Scaling groups it discovers; like every other release
                    // it waits for the whole module (and is removed before it).
                    a("depends_on", Expression::Array(vec![r("module.eks")])),
                ],
            ));
        }
        let from_here = |path: String| {
            template([
                Part::Expr(r("path.module")),
                Part::Lit(format!("/{}", naming::from_terraform_dir(&path))),
            ])
        };
        // An upstream chart's values: the file the Helm target writes for it.
        let values_file = |chart: &str| {
            Expression::Array(vec![call(
                "file",
                [from_here(naming::helm_upstream_values_file(
                    chart,
                    &self.env.name,
                ))],
            )])
        };
        let mut platform_deps = vec![r("module.eks"), r("kubernetes_namespace_v1.platform")];
        platform_deps.extend(addons.iter().cloned());
        if self.needs_volumes() {
            // A claim made before a default StorageClass exists keeps no class.
            platform_deps.push(r(&format!("kubernetes_storage_class_v1.{STORAGE_CLASS}")));
        }
        for w in self.bucket_clients() {
            // A workload binding a managed bucket runs as Terraform's ServiceAccount.
            platform_deps.push(r(&format!(
                "kubernetes_service_account_v1.{}",
                Self::bucket_account_id(w)
            )));
        }
        for w in self.backed_up_stores() {
            // The Cluster or backup job names its ServiceAccount, which must exist with its
            // role first.
            platform_deps.push(r(&format!(
                "kubernetes_service_account_v1.{}",
                self.backup_account_id(w)
            )));
        }
        if upstream::wants_prometheus(self.env) {
            let mut prometheus_deps = vec![r("module.eks")];
            if self.monitoring_claims_volumes() {
                // Prometheus's and Alertmanager's volume claims need the default
                // StorageClass to get one.
                prometheus_deps.push(r(&format!("kubernetes_storage_class_v1.{STORAGE_CLASS}")));
            }
            // The values file the Helm target writes for the chart (scrape settings, the
            // generated rules, the Alertmanager configuration, Grafana's data sources), so a
            // release by Terraform and one by hand are the same.
            blocks.push(block(
                "resource",
                ["helm_release", "kube_prometheus_stack"],
                [
                    a("name", s(naming::KUBE_PROMETHEUS_STACK_RELEASE)),
                    a(
                        "repository",
                        s("https://prometheus-community.github.io/helm-charts"),
                    ),
                    a("chart", s("kube-prometheus-stack")),
                    a("version", s(KUBE_PROMETHEUS_STACK)),
                    a(
                        "namespace",
                        s(self.env.cluster.monitoring_namespace.as_str()),
                    ),
                    a("create_namespace", true),
                    a("values", values_file("kube-prometheus-stack")),
                    a("depends_on", Expression::Array(prometheus_deps)),
                ],
            ));
            platform_deps.push(r("helm_release.kube_prometheus_stack"));
        }
        if upstream::wants_loki(self.env) {
            // Loki keeps its data on a volume of the default StorageClass, which
            // `needs_volumes` makes whenever logs go to Loki.
            let loki_deps = vec![
                r("module.eks"),
                r(&format!("kubernetes_storage_class_v1.{STORAGE_CLASS}")),
            ];
            blocks.push(block(
                "resource",
                ["helm_release", "loki"],
                [
                    a("name", s(naming::LOKI_RELEASE)),
                    a(
                        "repository",
                        s("https://grafana-community.github.io/helm-charts"),
                    ),
                    a("chart", s("loki")),
                    a("version", s(LOKI)),
                    a("namespace", s(LOGS_NAMESPACE)),
                    a("create_namespace", true),
                    a("values", values_file("loki")),
                    a("depends_on", Expression::Array(loki_deps)),
                ],
            ));
            blocks.push(block(
                "resource",
                ["helm_release", "alloy"],
                [
                    a("name", s(naming::ALLOY_RELEASE)),
                    a("repository", s("https://grafana.github.io/helm-charts")),
                    a("chart", s("alloy")),
                    a("version", s(ALLOY)),
                    a("namespace", s(LOGS_NAMESPACE)),
                    a("create_namespace", true),
                    a("values", values_file("alloy")),
                    a(
                        "depends_on",
                        Expression::Array(vec![r("helm_release.loki")]),
                    ),
                ],
            ));
        }
        for st in &self.env.managed_stores {
            let id = naming::tf_ident(&st.name);
            match st.engine.as_str() {
                "postgres" => platform_deps.push(r(&format!("aws_db_instance.{id}"))),
                "redis" => {
                    platform_deps.push(r(&format!("aws_elasticache_replication_group.{id}")))
                }
                "object-storage" => platform_deps.push(r(&format!("aws_s3_bucket.{id}"))),
                _ => {}
            }
        }
        blocks.push(block(
            "resource",
            ["helm_release", "platform"],
            [
                a("name", s(&self.platform.name)),
                a(
                    "chart",
                    from_here(naming::helm_chart_dir(&self.platform.name)),
                ),
                // Terraform creates the namespace, with its Pod Security labels (depends_on).
                a("namespace", s(&self.env.namespace)),
                a("create_namespace", false),
                a(
                    "values",
                    Expression::Array(vec![call(
                        "file",
                        [from_here(naming::helm_values_file(
                            &self.platform.name,
                            &self.env.name,
                        ))],
                    )]),
                ),
                a("depends_on", Expression::Array(platform_deps)),
            ],
        ));
        let mut all = vec![block("locals", [], locals)];
        all.extend(blocks);
        doc(all)
    }

    // ---------------------------------------------------------------- variables.tf

    fn variables(&self) -> Body {
        let zones: Vec<String> = (0..self.cloud.network.azs)
            .map(|i| format!("{}{}", self.cloud.region, zone_letter(i)))
            .collect();
        let groups: BTreeMap<&str, Expression> = self
            .cloud
            .cluster
            .node_groups
            .iter()
            .map(|g| {
                (
                    g.name.as_str(),
                    obj([
                        ("instance_types", strings(&g.instance_types)),
                        (
                            "capacity_type",
                            s(if g.spot { "SPOT" } else { "ON_DEMAND" }),
                        ),
                        ("min_size", Expression::from(g.min)),
                        ("max_size", Expression::from(g.max)),
                        ("desired_size", Expression::from(g.desired)),
                        // Workloads select a group by this label; a dedicated group's
                        // taint keeps every other workload off it.
                        ("labels", obj([(naming::NODE_GROUP_LABEL, s(&g.name))])),
                        (
                            "taints",
                            obj(g.dedicated.then(|| {
                                (
                                    "dedicated",
                                    obj([
                                        ("key", s(naming::NODE_GROUP_LABEL)),
                                        ("value", s(&g.name)),
                                        ("effect", s("NO_SCHEDULE")),
                                    ]),
                                )
                            })),
                        ),
                    ]),
                )
            })
            .collect();
        let mut blocks = vec![
            variable(
                "region",
                r("string"),
                "AWS region of the environment",
                Some(s(&self.cloud.region)),
            ),
            variable(
                "availability_zones",
                call("list", [r("string")]),
                "Availability zones to spread subnets and nodes over; zone letters differ between accounts",
                Some(strings(&zones)),
            ),
            variable(
                "vpc_cidr",
                r("string"),
                "Address range of the VPC",
                Some(s(&self.cloud.network.cidr)),
            ),
            variable(
                "cluster_version",
                r("string"),
                "Kubernetes version of the EKS cluster",
                Some(s(&self.cloud.cluster.version)),
            ),
            variable(
                "node_groups",
                call(
                    "map",
                    [call(
                        "object",
                        [obj([
                            ("instance_types", call("list", [r("string")])),
                            ("capacity_type", r("string")),
                            ("min_size", r("number")),
                            ("max_size", r("number")),
                            ("desired_size", r("number")),
                            ("labels", call("map", [r("string")])),
                            (
                                "taints",
                                call(
                                    "map",
                                    [call(
                                        "object",
                                        [obj([
                                            ("key", r("string")),
                                            ("value", r("string")),
                                            ("effect", r("string")),
                                        ])],
                                    )],
                                ),
                            ),
                        ])],
                    )],
                ),
                "EKS managed node groups, by name",
                Some(obj(groups)),
            ),
            variable(
                "cluster_endpoint_public_access_cidrs",
                call("list", [r("string")]),
                "Networks that may reach the Kubernetes API from outside the VPC (e.g. CI runners); empty keeps the API private",
                Some(Expression::Array(vec![])),
            ),
        ];
        for st in &self.env.managed_stores {
            if self.generates_password(st) {
                blocks.push(variable(
                    &password_version_variable(st),
                    r("number"),
                    &format!(
                        "Version of {}'s master password: raise it to generate and set a new one",
                        st.name
                    ),
                    Some(Expression::from(1)),
                ));
            }
        }
        if self.cdn() && self.env.cdn_origin().is_none() {
            blocks.push(variable(
                "cdn_origin_domain",
                r("string"),
                "DNS name of the ingress controller's load balancer, which the CDN forwards to",
                None,
            ));
            blocks.push(variable(
                "cdn_certificate_arn",
                r("string"),
                &format!(
                    "ARN of an ACM certificate in us-east-1 covering {}",
                    self.hosts.join(", ")
                ),
                None,
            ));
        }
        doc(blocks)
    }

    // ------------------------------------------------------------------ outputs.tf

    fn outputs(&self) -> Body {
        let mut blocks = vec![
            output(
                "cluster_name",
                "EKS cluster name",
                r("module.eks.cluster_name"),
            ),
            output(
                "cluster_endpoint",
                "Kubernetes API endpoint",
                r("module.eks.cluster_endpoint"),
            ),
            output("vpc_id", "VPC id", r("module.vpc.vpc_id")),
        ];
        for st in &self.env.managed_stores {
            let id = naming::tf_ident(&st.name);
            match st.engine.as_str() {
                "postgres" => {
                    blocks.push(output(
                        &format!("{id}_endpoint"),
                        &format!("{}: primary host name", st.name),
                        r(&format!("aws_db_instance.{id}.address")),
                    ));
                    blocks.push(output(
                        &format!("{id}_port"),
                        &format!("{}: port", st.name),
                        r(&format!("aws_db_instance.{id}.port")),
                    ));
                    blocks.push(output(
                        &format!("{id}_master_user_secret_arn"),
                        &format!(
                            "{}: Secrets Manager secret holding the master credentials",
                            st.name
                        ),
                        if self.generates_password(st) {
                            r(&format!(
                                "aws_secretsmanager_secret.{}.arn",
                                naming::tf_ident(&naming::managed_password_secret(&st.name))
                            ))
                        } else {
                            r(&format!(
                                "aws_db_instance.{id}.master_user_secret.0.secret_arn"
                            ))
                        },
                    ));
                    if st.read_replicas > 0 {
                        blocks.push(output(
                            &format!("{id}_replica_endpoints"),
                            &format!("{}: read replica host names", st.name),
                            Expression::from(
                                Traversal::builder(r(&format!("aws_db_instance.{id}_replica")))
                                    .full_splat()
                                    .attr("address")
                                    .build(),
                            ),
                        ));
                    }
                }
                "redis" => {
                    blocks.push(output(
                        &format!("{id}_primary_endpoint"),
                        &format!("{}: primary endpoint (TLS)", st.name),
                        r(&format!(
                            "aws_elasticache_replication_group.{id}.primary_endpoint_address"
                        )),
                    ));
                    blocks.push(output(
                        &format!("{id}_reader_endpoint"),
                        &format!("{}: reader endpoint (TLS)", st.name),
                        r(&format!(
                            "aws_elasticache_replication_group.{id}.reader_endpoint_address"
                        )),
                    ));
                }
                "object-storage" => {
                    blocks.push(output(
                        &format!("{id}_bucket"),
                        &format!("{}: bucket name", st.name),
                        r(&format!("aws_s3_bucket.{id}.id")),
                    ));
                    blocks.push(output(
                        &format!("{id}_bucket_endpoint"),
                        &format!("{}: regional bucket endpoint", st.name),
                        r(&format!("aws_s3_bucket.{id}.bucket_regional_domain_name")),
                    ));
                }
                _ => {}
            }
        }
        if let Some(dns) = &self.cloud.dns {
            blocks.extend(super::dns::outputs(dns));
        }
        if self.cdn() {
            blocks.push(output(
                "cdn_domain_name",
                "CloudFront domain to point the public host names at",
                r("aws_cloudfront_distribution.cdn.domain_name"),
            ));
        }
        doc(blocks)
    }
}

/// An IAM role for a Kubernetes service account (IRSA), through the iam module's
/// `iam-role-for-service-accounts`: `policy` holds its inputs that grant permissions
/// (`attach_*_policy` and their resource lists), and the role trusts only `service_account`
/// of `namespace` on the cluster's OIDC provider. Its ARN is the module's output `arn`.
pub(super) fn irsa(
    label: &str,
    role_name: &str,
    policy: impl IntoIterator<Item = Item>,
    namespace: &str,
    service_account: &str,
) -> Block {
    let mut body = vec![
        a(
            "source",
            s("terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"),
        ),
        a("version", s(IAM_MODULE)),
        a("name", s(role_name)),
        // The exact name: with a prefix, AWS allows only 38 characters, and the role names of
        // long platform and environment names would be refused at apply time.
        a("use_name_prefix", false),
    ];
    body.extend(policy);
    body.push(a(
        "oidc_providers",
        obj([(
            "main",
            obj([
                ("provider_arn", r("module.eks.oidc_provider_arn")),
                (
                    "namespace_service_accounts",
                    strings([format!("{namespace}:{service_account}")]),
                ),
            ]),
        )]),
    ));
    block("module", [label], body)
}

/// The role RDS enhanced monitoring publishes metrics with.
fn monitoring_role(locals: &mut Vec<Item>, name: &str) -> Block {
    let assume = obj([
        ("Version", s("2012-10-17")),
        (
            "Statement",
            Expression::Array(vec![obj([
                ("Effect", s("Allow")),
                (
                    "Principal",
                    obj([("Service", s("monitoring.rds.amazonaws.com"))]),
                ),
                ("Action", s("sts:AssumeRole")),
            ])]),
        ),
    ]);
    locals.push(a("rds_monitoring_assume_role", assume));
    block(
        "resource",
        ["aws_iam_role", "rds_monitoring"],
        [
            a("name", s(format!("{name}-rds-monitoring"))),
            a(
                "assume_role_policy",
                call("jsonencode", [r("local.rds_monitoring_assume_role")]),
            ),
        ],
    )
}

/// A KMS-encrypted log group kept a year.
fn log_group(label: &str, name: &str) -> Block {
    block(
        "resource",
        ["aws_cloudwatch_log_group", label],
        [
            a("name", s(name)),
            a("retention_in_days", LOG_RETENTION_DAYS),
            a("kms_key_id", r("aws_kms_key.main.arn")),
        ],
    )
}

/// Lifecycle of a versioned bucket: unfinished uploads are aborted after a week and
/// replaced versions expire after `keep_days`; with `dumps` (a backup job writes every run
/// under new keys, which never become old versions) the objects themselves expire too.
fn lifecycle(id: &str, keep_days: u32, dumps: bool) -> Block {
    let mut rule = vec![
        a("id", s("expire-old-versions")),
        a("status", s("Enabled")),
        b(block("filter", [], [])),
        b(block(
            "abort_incomplete_multipart_upload",
            [],
            [a("days_after_initiation", 7)],
        )),
    ];
    if dumps {
        rule.push(b(block("expiration", [], [a("days", keep_days)])));
    }
    rule.push(b(block(
        "noncurrent_version_expiration",
        [],
        [a("noncurrent_days", keep_days)],
    )));
    block(
        "resource",
        ["aws_s3_bucket_lifecycle_configuration", id],
        [
            a("bucket", r(&format!("aws_s3_bucket.{id}.id"))),
            b(block("rule", [], rule)),
            a(
                "depends_on",
                Expression::Array(vec![r(&format!("aws_s3_bucket_versioning.{id}"))]),
            ),
        ],
    )
}

/// The variable whose change makes Terraform generate and set a new master password for
/// managed PostgreSQL store `st`: `<store>_password_version`.
fn password_version_variable(st: &ManagedStore) -> String {
    format!("{}_password_version", naming::tf_ident(&st.name))
}

fn variable(name: &str, ty: Expression, description: &str, default: Option<Expression>) -> Block {
    let mut body = vec![a("description", s(description)), a("type", ty)];
    if let Some(d) = default {
        body.push(a("default", d));
    }
    block("variable", [name], body)
}

fn output(name: &str, description: &str, value: Expression) -> Block {
    block(
        "output",
        [name],
        [a("description", s(description)), a("value", value)],
    )
}

fn instance_class(st: &ManagedStore, default: &str) -> String {
    st.instance_class
        .clone()
        .unwrap_or_else(|| default.to_owned())
}

/// Backup retention in whole days, within the 1..=35 days AWS accepts.
fn retention_days(st: &ManagedStore, default: u32) -> u32 {
    st.backup.as_ref().map_or(default, |b| {
        ((b.retention_ms / 86_400_000) as u32).clamp(1, 35)
    })
}

/// The `hh:mm-hh:mm` UTC window starting at a daily backup schedule (`M H * * *`), lasting
/// `minutes`; `None` for other schedules, which leave the window to AWS.
fn backup_window(backup: &ir::Backup, minutes: u32) -> Option<String> {
    let schedule = backup.schedule.as_ref()?;
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    let [minute, hour, "*", "*", "*"] = fields.as_slice() else {
        return None;
    };
    let start = hour.parse::<u32>().ok()? * 60 + minute.parse::<u32>().ok()?;
    if start >= 24 * 60 {
        return None;
    }
    let end = (start + minutes) % (24 * 60);
    Some(format!(
        "{:02}:{:02}-{:02}:{:02}",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    ))
}

/// Whole GiB, rounded up.
fn gib(bytes: i128) -> u32 {
    u32::try_from((bytes + (1 << 30) - 1) >> 30).unwrap_or(u32::MAX)
}

fn zone_letter(i: u32) -> char {
    char::from(b'a' + (i % 26) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_schedules_become_backup_windows() {
        let b = |schedule: &str| ir::Backup {
            schedule: Some(schedule.to_owned()),
            retention_ms: 0,
            continuous: false,
            verify: None,
        };
        assert_eq!(
            backup_window(&b("0 3 * * *"), 60).as_deref(),
            Some("03:00-04:00")
        );
        assert_eq!(
            backup_window(&b("30 23 * * *"), 60).as_deref(),
            Some("23:30-00:30")
        );
        assert_eq!(backup_window(&b("0 */6 * * *"), 60), None);
        assert_eq!(backup_window(&b("0 3 * * 1"), 60), None);
    }

    #[test]
    fn storage_rounds_up_to_whole_gib() {
        assert_eq!(gib(100 << 30), 100);
        assert_eq!(gib((10 << 30) + 1), 11);
    }
}
