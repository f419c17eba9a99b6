//! The stdlib: data store presets written in the spec's own TOML, and the templates of the
//! generic Helm application chart, embedded in the binary.
//!
//! Each preset is registered under the pseudo-path `<stdlib>/NAME.toml` and goes through the
//! same loader as a user file, so a mistake in a preset renders like any other diagnostic.

/// Every preset: its name and its text.
pub const PRESETS: &[(&str, &str)] = &[
    ("minio", include_str!("../../stdlib/minio.toml")),
    ("postgres", include_str!("../../stdlib/postgres.toml")),
    ("qdrant", include_str!("../../stdlib/qdrant.toml")),
    ("redis", include_str!("../../stdlib/redis.toml")),
];

/// The text of the preset called `name`.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The pseudo-path a preset is shown under in diagnostics.
pub fn path(name: &str) -> String {
    format!("<stdlib>/{name}.toml")
}

/// The names of all presets, for did-you-mean.
pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|(n, _)| *n)
}

/// Facts about AWS that `check` holds a spec to, as lists AWS's own SDK data gives
/// (`stdlib/aws/`; `compiler/tests/aws_facts.rs` compares them with botocore's).
const AWS_REGIONS: &str = include_str!("../../stdlib/aws/regions.txt");
const AWS_INSTANCE_TYPES: &str = include_str!("../../stdlib/aws/instance-types.txt");
/// Availability Zones per region where a new account does not get exactly three (AWS's
/// documentation and EC2's answer as moto records it; the file names both).
const AWS_AVAILABILITY_ZONES: &str = include_str!("../../stdlib/aws/availability-zones.txt");
/// The EKS release calendar, reviewed on a stated date (not from botocore: the SDK does not
/// carry support dates).
const EKS_VERSIONS: &str = include_str!("../../stdlib/aws/eks-versions.txt");

/// The lines of a list file that are not comments.
fn entries(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
}

/// The regions of AWS's standard partition.
pub fn aws_regions() -> impl Iterator<Item = &'static str> {
    entries(AWS_REGIONS)
}

/// How many Availability Zones a new AWS account can use in `region`: the count listed in
/// `stdlib/aws/availability-zones.txt`, otherwise three (every AWS region has at least three),
/// or `None` for a region that is not in the region list.
pub fn aws_availability_zones(region: &str) -> Option<u32> {
    if !aws_regions().any(|r| r == region) {
        return None;
    }
    Some(
        entries(AWS_AVAILABILITY_ZONES)
            .filter_map(|l| l.split_once(' '))
            .find(|(r, _)| *r == region)
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(3),
    )
}

/// The regions and counts listed in `stdlib/aws/availability-zones.txt`, for its tests.
pub fn aws_availability_zone_lines() -> impl Iterator<Item = &'static str> {
    entries(AWS_AVAILABILITY_ZONES)
}

/// Every EC2 instance type.
pub fn aws_instance_types() -> impl Iterator<Item = &'static str> {
    entries(AWS_INSTANCE_TYPES)
}

/// An EKS Kubernetes version and the ISO dates (`YYYY-MM-DD`) its support ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EksVersion {
    /// The version, `1.35`.
    pub version: &'static str,
    /// The minor number, for ordering (`35`).
    pub minor: u32,
    /// The last day of standard support.
    pub standard_ends: &'static str,
    /// The last day of extended support, after which EKS upgrades the cluster itself.
    pub extended_ends: &'static str,
}

/// The date the EKS calendar was last reviewed, which versions are judged at.
pub fn eks_versions_as_of() -> &'static str {
    entries(EKS_VERSIONS)
        .find_map(|l| l.strip_prefix("as-of "))
        .unwrap_or_default()
}

/// The EKS versions of the calendar, oldest first.
pub fn eks_versions() -> impl Iterator<Item = EksVersion> {
    entries(EKS_VERSIONS).filter_map(|l| {
        let mut fields = l.split_whitespace();
        let version = fields.next()?;
        let minor = eks_minor(version)?;
        Some(EksVersion {
            version,
            minor,
            standard_ends: fields.next()?,
            extended_ends: fields.next()?,
        })
    })
}

/// The minor number of a `1.N` Kubernetes version.
pub fn eks_minor(version: &str) -> Option<u32> {
    version.strip_prefix("1.")?.parse().ok()
}

/// The templates of the generic application chart, by path relative to the chart folder.
/// They are Go templates for Helm, copied into every generated chart unchanged (after the
/// banner); the values plinth writes beside them drive them.
pub const HELM_APP_CHART: &[(&str, &str)] = &[
    (
        "templates/_helpers.tpl",
        include_str!("../../stdlib/helm/app-chart/templates/_helpers.tpl"),
    ),
    (
        "templates/backup.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/backup.yaml"),
    ),
    (
        "templates/cluster-issuer.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/cluster-issuer.yaml"),
    ),
    (
        "templates/configmap.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/configmap.yaml"),
    ),
    (
        "templates/cronjob.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/cronjob.yaml"),
    ),
    (
        "templates/dashboards.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/dashboards.yaml"),
    ),
    (
        "templates/deployment.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/deployment.yaml"),
    ),
    (
        "templates/external-secrets.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/external-secrets.yaml"),
    ),
    (
        "templates/gateway.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/gateway.yaml"),
    ),
    (
        "templates/hpa.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/hpa.yaml"),
    ),
    (
        "templates/ingress.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/ingress.yaml"),
    ),
    (
        "templates/job.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/job.yaml"),
    ),
    (
        "templates/mesh.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/mesh.yaml"),
    ),
    (
        "templates/networkpolicy-baseline.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/networkpolicy-baseline.yaml"),
    ),
    (
        "templates/networkpolicy.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/networkpolicy.yaml"),
    ),
    (
        "templates/pdb.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/pdb.yaml"),
    ),
    (
        "templates/postgres-cluster.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/postgres-cluster.yaml"),
    ),
    (
        "templates/redis-failover.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/redis-failover.yaml"),
    ),
    (
        "templates/resourcequota.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/resourcequota.yaml"),
    ),
    (
        "templates/rollout.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/rollout.yaml"),
    ),
    (
        "templates/service.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/service.yaml"),
    ),
    (
        "templates/serviceaccount.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/serviceaccount.yaml"),
    ),
    (
        "templates/servicemonitor.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/servicemonitor.yaml"),
    ),
    (
        "templates/statefulset.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/statefulset.yaml"),
    ),
    (
        "templates/vpa.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/vpa.yaml"),
    ),
];

#[cfg(test)]
mod tests {
    /// The region list says where it comes from, so that whoever updates it checks the same
    /// page, and every entry is sorted, unique and shaped like a region code (a suggestion
    /// plinth would itself reject would be worse than none).
    #[test]
    fn aws_region_list_names_its_source_and_is_well_formed() {
        assert!(
            super::AWS_REGIONS.contains("Source: botocore"),
            "stdlib/aws/regions.txt must name its source"
        );
        let regions: Vec<&str> = super::aws_regions().collect();
        assert!(regions.len() > 30, "{regions:?}");
        assert!(regions.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        for r in regions {
            assert!(crate::units::is_region_code(r), "{r}");
        }
    }

    /// The EKS calendar names its source and review date, lists each version once in order
    /// with well-formed dates, and plinth's default version is in standard support on it.
    #[test]
    fn eks_calendar_is_well_formed_and_the_default_is_supported() {
        assert!(super::EKS_VERSIONS.contains("Source: "));
        let as_of = super::eks_versions_as_of();
        let date = |d: &str| {
            d.len() == 10
                && d.split('-').map(str::len).eq([4, 2, 2])
                && d[..4].parse::<u32>().is_ok()
        };
        assert!(date(as_of), "as-of {as_of}");
        let versions: Vec<super::EksVersion> = super::eks_versions().collect();
        assert_eq!(
            versions.len(),
            super::entries(super::EKS_VERSIONS).count() - 1,
            "every line but as-of is a version"
        );
        assert!(versions.windows(2).all(|w| w[0].minor + 1 == w[1].minor));
        for v in &versions {
            assert!(date(v.standard_ends) && date(v.extended_ends), "{v:?}");
            assert!(v.standard_ends < v.extended_ends, "{v:?}");
        }
        let default = versions
            .iter()
            .find(|v| v.version == crate::ir::CLUSTER_VERSION)
            .expect("the default cluster version is on the calendar");
        assert!(
            default.standard_ends >= as_of,
            "{default:?} is out of standard support"
        );
    }
}
