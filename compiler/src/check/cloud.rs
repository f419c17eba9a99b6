//! Facts the cloud enforces, checked before `terraform apply`: region names and instance
//! types, against the lists of `stdlib/aws/` (AWS's own data, from botocore). A name missing
//! from them is a warning rather than an error: AWS opens regions and launches instance
//! types after a plinth is built, and a warning can be allowed (`[[allow]]`) until the lists
//! catch up, while a typo still shows with the nearest name.

use super::Ctx;
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::spec::{Provider, Sp};
use crate::{stdlib, units};

pub(super) fn run(ctx: &mut Ctx) {
    let mut found = Vec::new();
    for view in ctx.views {
        let Some(cloud) = &view.cloud else { continue };
        if cloud
            .provider
            .as_ref()
            .is_some_and(|p| p.value != Provider::Aws)
        {
            continue;
        }
        // A region not shaped like one is E200 (`fields::malformed_region`).
        if let Some(region) = cloud
            .region
            .as_ref()
            .filter(|r| units::is_region_code(&r.value))
        {
            unknown_region(region, &mut found);
        }
        for group in cloud.cluster.iter().flat_map(|c| c.node_groups.values()) {
            for t in group.instance_types.iter().flatten() {
                unknown_instance_type(t, &mut found);
            }
        }
    }
    for d in found {
        ctx.report(d);
    }
}

/// W005 `unknown-aws-name` for a region shaped like one that AWS does not have.
///
/// Why: Terraform only finds out when the provider first calls AWS, after the plan has been
/// reviewed; `eu-west-4` should be flagged where it was written. The list is AWS's own
/// (botocore's endpoint data, `stdlib/aws/regions.txt`).
///
/// Example: `region = "eu-west-4"`.
fn unknown_region(region: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if stdlib::aws_regions().any(|r| r == region.value) {
        return;
    }
    let d = Diagnostic::new(
        Code::UnknownAwsName,
        format!("`{}` is not an AWS region", region.value),
        region.span.clone(),
        "no such region",
    );
    out.push(match did_you_mean(&region.value, stdlib::aws_regions()) {
        Some(near) => d.help(format!("did you mean `{near}`?")),
        None => d.help("use a region name such as `us-east-1` or `eu-west-1`"),
    });
}

/// W005 `unknown-aws-name` for an EC2 instance type AWS does not have.
///
/// Why: EKS rejects a node group with an unknown instance type at apply time, after the
/// network and the cluster were already created; a typo should show where it was written. The list is AWS's own (botocore's EC2
/// model, `stdlib/aws/instance-types.txt`).
///
/// Example: `instance_types = ["m6i.larg"]`.
fn unknown_instance_type(t: &Sp<String>, out: &mut Vec<Diagnostic>) {
    if stdlib::aws_instance_types().any(|i| i == t.value) {
        return;
    }
    let d = Diagnostic::new(
        Code::UnknownAwsName,
        format!("`{}` is not an EC2 instance type", t.value),
        t.span.clone(),
        "no such instance type",
    );
    out.push(match did_you_mean(&t.value, stdlib::aws_instance_types()) {
        Some(near) => d.help(format!("did you mean `{near}`?")),
        None => d.help("use an instance type such as `m6i.large`"),
    });
}
