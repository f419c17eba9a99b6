//! `dns.tf`: an environment's public DNS (`[environments.NAME.dns]`). The hosted zone is
//! looked up, never created: its name servers are delegated at the registrar, and a zone
//! that Terraform created (and could destroy) would take the domain's mail and verification
//! records with it. The records the spec lists are Route 53 record sets; the route hosts'
//! records are external-dns's ([`crate::emit::addons`]), which the checker keeps apart
//! (E209).

use std::collections::BTreeMap;

use hcl::Block;

use super::{a, block, r, s, strings, Item};
use crate::ir::Dns;

/// The Terraform label of the zone's data source, which external-dns's IAM role names too.
pub(super) const ZONE: &str = "main";

/// Longest character-string in a TXT record (RFC 1035); a longer value, such as a DKIM key,
/// is split into several, which Route 53 takes as `"first""second"` inside the value.
const TXT_CHUNK: usize = 255;

/// The zone's data source and one record set per listed record.
pub(super) fn lower(dns: &Dns) -> Vec<Block> {
    let mut blocks = vec![block(
        "data",
        ["aws_route53_zone", ZONE],
        [a("name", s(&dns.zone)), a("private_zone", false)],
    )];
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    for record in &dns.records {
        let label = unique(label(&record.name, &dns.zone, record.kind), &mut used);
        let values: Vec<String> = record
            .values
            .iter()
            .map(|v| match record.kind {
                "TXT" => txt(v),
                _ => v.clone(),
            })
            .collect();
        let body: Vec<Item> = vec![
            a(
                "zone_id",
                r(&format!("data.aws_route53_zone.{ZONE}.zone_id")),
            ),
            a("name", s(&record.name)),
            a("type", s(record.kind)),
            a("ttl", record.ttl_seconds),
            a("records", strings(values)),
        ];
        blocks.push(block("resource", ["aws_route53_record", &label], body));
    }
    blocks
}

/// A resource label for a record: its type and its name relative to the zone (`apex` for
/// the zone itself), in the characters a Terraform identifier allows.
fn label(name: &str, zone: &str, kind: &str) -> String {
    let relative = name
        .strip_suffix(zone)
        .map(|n| n.trim_end_matches('.'))
        .filter(|n| !n.is_empty())
        .unwrap_or("apex");
    let safe: String = relative
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}_{}", kind.to_ascii_lowercase(), safe.trim_matches('_'))
}

/// `label`, numbered from its second use on, so that names differing only in characters an
/// identifier cannot hold (`a-b`, `a.b`) still get distinct labels, in the spec's order.
fn unique(label: String, used: &mut BTreeMap<String, usize>) -> String {
    let n = used.entry(label.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        label
    } else {
        format!("{label}_{n}")
    }
}

/// A TXT value as Route 53 takes it: as written when it fits one character-string, else
/// split every 255 characters with `""` between the pieces.
fn txt(value: &str) -> String {
    if value.len() <= TXT_CHUNK {
        return value.to_owned();
    }
    // The checker admits printable ASCII only, so every character is one byte.
    value
        .as_bytes()
        .chunks(TXT_CHUNK)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_identifiers_and_unique() {
        let mut used = BTreeMap::new();
        assert_eq!(label("codepal.com", "codepal.com", "MX"), "mx_apex");
        assert_eq!(
            label("_dmarc.codepal.com", "codepal.com", "TXT"),
            "txt_dmarc"
        );
        assert_eq!(unique("a_b".into(), &mut used), "a_b");
        assert_eq!(unique("a_b".into(), &mut used), "a_b_2");
    }

    #[test]
    fn long_txt_values_are_split_into_character_strings() {
        let key = "k".repeat(300);
        let split = txt(&key);
        assert_eq!(split, format!("{}\"\"{}", "k".repeat(255), "k".repeat(45)));
        assert_eq!(txt("v=spf1 -all"), "v=spf1 -all");
    }
}
