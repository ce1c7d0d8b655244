//! Every scenario key is documented: each field of the configuration
//! structs (read from their source) appears as `key` in docs/scenarios.md.

use std::path::Path;

fn fields_of(source: &str, name: &str) -> Vec<String> {
    let start = source
        .find(&format!("pub struct {name} {{"))
        .unwrap_or_else(|| panic!("struct {name} not found"));
    let body = &source[start..];
    let body = &body[..body.find("\n}").expect("struct closes")];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(f, _)| f.trim().to_string()))
        .collect()
}

#[test]
fn every_key_of_every_section_is_in_the_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/scenarios.md")).unwrap();
    let sections = [
        ("src/scenario/mod.rs", "RunConfig"),
        ("src/node_config.rs", "NodeConfig"),
        ("src/node_config.rs", "AuditSettings"),
        ("src/aggregation_config.rs", "AggregationConfig"),
        ("src/aggregation_config.rs", "ReputationConfig"),
        ("src/radio.rs", "RadioConfig"),
        ("src/energy.rs", "EnergyConfig"),
        ("src/consensus.rs", "ConsensusConfig"),
        ("src/reproduce/claim.rs", "ClaimConfig"),
        ("src/faults/config.rs", "FaultsConfig"),
        ("src/faults/config.rs", "OutageConfig"),
        ("src/faults/config.rs", "PartitionConfig"),
        ("src/faults/config.rs", "CorruptionConfig"),
        ("src/adversary/mod.rs", "AdversaryConfig"),
        ("src/adversary/mod.rs", "GroupConfig"),
    ];
    let mut missing = Vec::new();
    for (file, name) in sections {
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        let fields = fields_of(&source, name);
        assert!(fields.len() >= 2, "{name}: parsed only {fields:?}");
        for field in fields {
            if !doc.contains(&format!("`{field}`")) {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented scenario keys: {missing:?}"
    );
}
