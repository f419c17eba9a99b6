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

/// The lines of a list file that are not comments.
fn entries(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
}

/// The regions of AWS's standard partition.
pub fn aws_regions() -> impl Iterator<Item = &'static str> {
    entries(AWS_REGIONS)
}

/// Every EC2 instance type.
pub fn aws_instance_types() -> impl Iterator<Item = &'static str> {
    entries(AWS_INSTANCE_TYPES)
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
        "templates/deployment.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/deployment.yaml"),
    ),
    (
        "templates/external-secrets.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/external-secrets.yaml"),
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
        "templates/resourcequota.yaml",
        include_str!("../../stdlib/helm/app-chart/templates/resourcequota.yaml"),
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
}
