//! The AWS facts `check` holds specs to (`stdlib/aws/`) are AWS's own: the region list and
//! the instance types equal what botocore, the data behind AWS's SDKs, says. botocore is
//! installed into the tools venv by `scripts/install-tools` (pinned); without it this test
//! says so and passes, and CI always has it.
//!
//! To update the lists, bump botocore in scripts/install-tools and
//! scripts/tools-constraints/venv.txt, run this test, and replace the files with the lists
//! it prints.

mod common;

use std::process::Command;

use common::*;

/// What botocore says, as `region` and `type` lines, or `None` without botocore.
fn botocore() -> Option<(Vec<String>, Vec<String>)> {
    let tools = std::env::var_os("PLINTH_TOOLS").map_or_else(|| root().join(".tools"), Into::into);
    let python = std::path::Path::new(&tools).join("venv/bin/python");
    let script = r#"
import botocore.loaders, botocore.session
s = botocore.session.get_session()
aws = [p for p in s.get_data('endpoints')['partitions'] if p['partition'] == 'aws'][0]
for r in sorted(aws['regions']): print('region', r)
model = botocore.loaders.create_loader().load_service_model('ec2', 'service-2', '2016-11-15')
for t in sorted(model['shapes']['InstanceType']['enum']): print('type', t)
"#;
    let out = Command::new(python).args(["-c", script]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let pick = |kind: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(kind))
            .map(|l| l.trim().to_owned())
            .collect::<Vec<_>>()
    };
    Some((pick("region "), pick("type ")))
}

#[test]
fn aws_lists_are_botocores() {
    let Some((regions, types)) = botocore() else {
        eprintln!("botocore not installed (scripts/install-tools): the AWS lists are not compared");
        return;
    };
    let ours: Vec<&str> = plinth::stdlib::aws_regions().collect();
    assert_eq!(
        ours, regions,
        "stdlib/aws/regions.txt differs from botocore"
    );
    let ours: Vec<&str> = plinth::stdlib::aws_instance_types().collect();
    assert_eq!(
        ours, types,
        "stdlib/aws/instance-types.txt differs from botocore"
    );
}

/// The Availability Zone list names its sources, holds `region count` lines of regions the
/// region list has, in order, and only counts other than the default three.
#[test]
fn availability_zone_list_names_its_source_and_is_well_formed() {
    let text = std::fs::read_to_string(root().join("stdlib/aws/availability-zones.txt")).unwrap();
    assert!(text.contains("docs.aws.amazon.com") && text.contains("getmoto/moto"));
    let lines: Vec<&str> = plinth::stdlib::aws_availability_zone_lines().collect();
    assert!(!lines.is_empty());
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "keep the list sorted");
    for line in lines {
        let (region, count) = line.split_once(' ').expect("`region count`");
        let count: u32 = count.parse().expect("a count");
        assert!(
            plinth::stdlib::aws_regions().any(|r| r == region),
            "{region} is not in regions.txt"
        );
        assert_ne!(count, 3, "{region}: three is the default, leave it out");
        assert_eq!(plinth::stdlib::aws_availability_zones(region), Some(count));
    }
    assert_eq!(plinth::stdlib::aws_availability_zones("eu-west-1"), Some(3));
    assert_eq!(plinth::stdlib::aws_availability_zones("eu-west-9"), None);
}
