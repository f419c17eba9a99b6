//! Facts the cloud enforces, checked before `terraform apply`: region names and instance
//! types, against the lists of `stdlib/aws/` (AWS's own data, from botocore), and the EKS
//! version against the dated EKS release calendar there. A name missing from them is a
//! warning rather than an error: AWS opens regions and launches instance types after a plinth
//! is built, and a warning can be allowed (`[[allow]]`) until the lists catch up, while a typo
//! still shows with the nearest name.

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
        if let Some(version) = cloud.cluster.as_ref().and_then(|c| c.version.as_ref()) {
            unsupported_eks_version(version, &mut found);
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

/// W007 `eks-version-unsupported` for an EKS version out of standard support on the dated
/// calendar of `stdlib/aws/eks-versions.txt`, or older than every version on it.
///
/// Why: a version past standard support costs extra per cluster hour (extended support), and
/// past extended support EKS creates no cluster at it and upgrades existing ones itself, under
/// the workloads. It is a warning, judged at the calendar's review date rather than today, so
/// that `check` gives the same answer every day; a version newer than the calendar is not
/// flagged (EKS releases versions after a plinth is built).
///
/// Example: `version = "1.30"`.
fn unsupported_eks_version(version: &Sp<String>, out: &mut Vec<Diagnostic>) {
    let Some(minor) = stdlib::eks_minor(&version.value) else {
        return;
    };
    let as_of = stdlib::eks_versions_as_of();
    let calendar: Vec<stdlib::EksVersion> = stdlib::eks_versions().collect();
    let (Some(oldest), Some(newest)) = (calendar.first(), calendar.last()) else {
        return;
    };
    let message = match calendar.iter().find(|v| v.minor == minor) {
        Some(v) if v.standard_ends >= as_of => return,
        Some(v) if v.extended_ends >= as_of => format!(
            "EKS {} left standard support on {} (extended support, at extra cost, until {})",
            v.version, v.standard_ends, v.extended_ends
        ),
        Some(v) => format!(
            "EKS {} left standard support on {} and extended support on {}",
            v.version, v.standard_ends, v.extended_ends
        ),
        None if minor < oldest.minor => format!(
            "EKS {} is older than every version on the EKS calendar (the oldest is {}) and out of support",
            version.value, oldest.version
        ),
        None => return,
    };
    // The oldest version still in standard support: the shortest upgrade path.
    let target = calendar
        .iter()
        .find(|v| v.standard_ends >= as_of)
        .unwrap_or(newest)
        .version;
    out.push(
        Diagnostic::new(
            Code::EksVersionUnsupported,
            message,
            version.span.clone(),
            "out of standard support",
        )
        .help(format!(
            "upgrade to `{target}` or newer (the calendar in stdlib/aws/eks-versions.txt is as of {as_of}); upgrades go one minor version at a time"
        )),
    );
}
