//! Baseline runs: the same scenario and seed with one thing changed,
//! written beside the main run (`<run dir>/baseline-<name>/`).
//!
//! `isolated` turns the radio off by losing every delivery
//! (`radio.loss_probability = 1`): the nodes run the very same runtime,
//! gate and transmissions (and pay for them), but nothing arrives, so each
//! learns alone. Every loss is still drawn from the receiver's stream, as
//! at any other probability, so no other random stream moves.
//!
//! `attack_free` removes the `[adversary]` section: the same swarm with
//! every node honest, against which `summary.json` `adversary` measures
//! the honest nodes' drift. A run with attackers always runs it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// A baseline run (`[run] baselines`, `raas run --baseline`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The same nodes with the radio off: every delivery lost.
    Isolated,
    /// The same swarm without the `[adversary]` section: every node honest.
    AttackFree,
}

impl Baseline {
    /// Every baseline.
    pub const ALL: [Baseline; 2] = [Baseline::Isolated, Baseline::AttackFree];

    /// Its name in scenarios, on the command line and in directory names.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Isolated => "isolated",
            Baseline::AttackFree => "attack_free",
        }
    }

    /// Its directory under the main run's: `baseline-<name>`.
    pub fn dir_name(self) -> String {
        format!("baseline-{}", self.name())
    }

    /// The scenario of this baseline of `main`.
    pub fn scenario(self, main: &Scenario) -> Scenario {
        let mut scenario = main.clone();
        match self {
            Baseline::Isolated => scenario.radio.loss_probability = 1.0,
            Baseline::AttackFree => scenario.adversary = None,
        }
        scenario
    }
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The baselines of a run: the scenario's and the command line's, each
/// once, in [`Baseline::ALL`] order.
pub fn merge(scenario: &[Baseline], command_line: &[Baseline]) -> Vec<Baseline> {
    let mut all: Vec<Baseline> = scenario.iter().chain(command_line).copied().collect();
    all.sort();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_each_baseline_once() {
        use Baseline::Isolated;
        assert_eq!(merge(&[Isolated], &[Isolated, Isolated]), [Isolated]);
        assert_eq!(merge(&[], &[]), []);
        assert_eq!(Isolated.dir_name(), "baseline-isolated");
    }

    #[test]
    fn isolated_changes_only_the_loss_probability() {
        let text = "name = \"x\"\nnodes = 3\n[radio]\nloss_probability = 0.1\n";
        let main = Scenario::parse(std::path::Path::new("x.toml"), text).unwrap();
        let mut isolated = Baseline::Isolated.scenario(&main);
        assert_eq!(isolated.radio.loss_probability, 1.0);
        isolated.radio.loss_probability = 0.1;
        assert_eq!(isolated, main);
    }
}
