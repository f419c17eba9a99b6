//! Data stores the cloud runs (`mode = "managed"`): a setting only the in-cluster workload
//! reads is warning W042 where it is written for the managed service, and the build summary
//! says that no generated alert watches such a store.

mod support;

use support::*;

/// `cloud-managed.toml`: PostgreSQL, Redis and object storage in the cluster in staging and
/// managed in production.
fn fixture() -> String {
    std::fs::read_to_string(root().join("compiler/tests/fixtures/valid/cloud-managed.toml"))
        .unwrap()
}

/// The W042 diagnostics of `text`, as (message, the text its label covers).
fn ignored(text: &str) -> Vec<(String, String)> {
    let c = plinth::compile("spec.toml", text, &plinth::Options::default());
    assert!(!c.diagnostics.has_errors(), "{:?}", c.diagnostics.0);
    c.diagnostics
        .0
        .iter()
        .filter(|d| d.code.id() == "W042")
        .map(|d| {
            let span = &d.primary.as_ref().unwrap().span;
            (d.message.clone(), text[span.range.clone()].to_owned())
        })
        .collect()
}

#[test]
fn settings_written_for_a_managed_store_are_reported_at_the_setting() {
    let text = fixture().replace(
        "[environments.production.datastores.db]\nmode = \"managed\"\n",
        "[environments.production.datastores.db]\nmode = \"managed\"\n\
         resources = { limits = { cpu = \"2\" } }\nreplicas = 2\n\
         thresholds = { db_connections = { warning = 70, critical = 90 } }\n\
         env = { POSTGRES_DB = \"shop\", TZ = \"UTC\" }\n",
    );
    let found = ignored(&text);
    let keys: Vec<&str> = found.iter().map(|(_, span)| span.as_str()).collect();
    // In the order of the spec, each at the value that is not read.
    assert_eq!(keys, ["\"2\"", "2", "db_connections", "TZ"], "{found:?}");
    assert!(
        found[3]
            .0
            .contains("`env` of `db` has no effect in `production`"),
        "{found:?}"
    );
}

#[test]
fn the_definition_for_the_clusters_environments_is_not_reported() {
    // The base definition's storage, backup and variables serve staging, where the stores
    // run in the cluster; production's override only switches the mode.
    assert_eq!(ignored(&fixture()), []);
}

#[test]
fn a_store_managed_everywhere_reports_its_own_definition_once() {
    let text = fixture()
        .replace(
            "[datastores.cache]\npreset = \"redis\"\n",
            "[datastores.cache]\npreset = \"redis\"\nmode = \"managed\"\nstorage = { size = \"10Gi\" }\n",
        );
    let found = ignored(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "\"10Gi\"");
    assert!(
        found[0]
            .0
            .contains("`storage.size` of `cache` has no effect,"),
        "{found:?}"
    );
}

#[test]
fn the_build_says_no_alert_watches_a_managed_store() {
    let c = plinth::compile("spec.toml", &fixture(), &plinth::Options::default());
    let notes: Vec<&str> = c.notes.iter().map(|n| n.message.as_str()).collect();
    for (store, service) in [("db", "RDS"), ("cache", "ElastiCache")] {
        let expected = format!("no alert watches `{store}` in `production`, which {service} runs");
        assert!(
            notes.iter().any(|n| n.starts_with(&expected)),
            "{expected}: {notes:#?}"
        );
    }
    assert!(
        !notes
            .iter()
            .any(|n| n.contains("watches `db` in `staging`")),
        "{notes:#?}"
    );
}
