//! `[node] preset`: a named set of `[node]` keys applied beneath the file's
//! own, so that one line selects a whole family of rules and any key the
//! file writes still wins.
//!
//! Only `preset = "paper"` exists: every rule as the paper states it where
//! our defaults differ (its step sizes per regime, adopting the aggregate
//! every round, no warm-up, its PreStorm derivative threshold, its
//! per-round gossip gate, its weighted trimmed mean over peers above the
//! ban threshold with the influence cap on the weight). `docs/scenarios.md` lists the keys and says why each default
//! differs. A preset is applied before validation, so a preset key that
//! clashes with another key of the file is reported like any other rule.

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// The presets `[node] preset` accepts.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The paper's rules (module docs).
    Paper,
}

impl Preset {
    /// The preset's `[node]` keys, as TOML text.
    pub const fn node_keys(self) -> &'static str {
        match self {
            Preset::Paper => PAPER_NODE_KEYS,
        }
    }
}

/// `preset = "paper"`: the paper's rules where our defaults differ.
const PAPER_NODE_KEYS: &str = r#"
adaptive_step_size = true
step_sizes = [0.01, 0.05, 0.2]
aggregate_mix = [1.0, 1.0, 1.0]
regime_warmup_samples = 0
prestorm_derivative = 0.1
gate = "paper"
gossip_cost = 1.5
storm_gossip = "always"

[aggregation]
rule = "weighted_trimmed_mean"
cap = "paper_weight"
min_reputation = 0.2
"#;

/// If `scenario` names a preset under `[node]`, merges the preset's keys
/// beneath the file's own (recursively for sub-tables) and returns `true`.
/// A scenario without a preset is left untouched.
pub fn apply(scenario: &mut Table) -> bool {
    let Some(Value::Table(node)) = scenario.get_mut("node") else {
        return false;
    };
    let Some(preset) = node.get("preset").cloned() else {
        return false;
    };
    let Ok(preset) = Preset::deserialize(preset) else {
        return false; // the typed parse reports the bad value, located
    };
    let keys: Table = toml::from_str(preset.node_keys()).expect("preset TOML is valid");
    merge_beneath(node, keys);
    true
}

/// Inserts every key of `below` that `top` lacks; merges sub-tables.
fn merge_beneath(top: &mut Table, below: Table) {
    for (key, value) in below {
        match (top.get_mut(&key), value) {
            (Some(Value::Table(top_sub)), Value::Table(below_sub)) => {
                merge_beneath(top_sub, below_sub);
            }
            (Some(_), _) => {}
            (None, value) => {
                top.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_keys_go_beneath_the_files_own() {
        let mut t: Table =
            toml::from_str("name = \"x\"\n[node]\npreset = \"paper\"\ngossip_cost = 3.0\n")
                .unwrap();
        assert!(apply(&mut t));
        let node = t["node"].as_table().unwrap();
        assert_eq!(node["gate"].as_str(), Some("paper"));
        // The file's own key wins.
        assert_eq!(node["gossip_cost"].as_float(), Some(3.0));
    }

    #[test]
    fn no_preset_no_change() {
        let text = "name = \"x\"\n[node]\ngate = \"always\"\n";
        let mut t: Table = toml::from_str(text).unwrap();
        let before = t.clone();
        assert!(!apply(&mut t));
        assert_eq!(t, before);
    }

    #[test]
    fn a_scenario_with_the_paper_preset_loads_the_papers_rules() {
        use crate::node_config::GateKind;
        use crate::scenario::Scenario;
        use std::path::Path;
        let text = "name = \"x\"\nnodes = 4\n[node]\npreset = \"paper\"\n";
        let s = Scenario::parse(Path::new("x.toml"), text).unwrap();
        assert_eq!(s.node.gate, GateKind::Paper);
        assert_eq!(s.node.step_sizes, [0.01, 0.05, 0.2]);
        let bad = "name = \"x\"\nnodes = 4\n[node]\npreset = \"papers\"\n";
        let e = Scenario::parse(Path::new("x.toml"), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml:4") && e.contains("preset"), "{e}");
    }

    #[test]
    fn every_preset_parses() {
        let keys: Table = toml::from_str(Preset::Paper.node_keys()).unwrap();
        assert!(!keys.is_empty());
    }
}
