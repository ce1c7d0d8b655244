//! `[claim]`: what a paper scenario (`scenarios/paper/<id>.toml`) claims
//! and how `raas reproduce` measures it.
//!
//! Every paper scenario is an ordinary scenario plus this table. `measure`
//! names the procedure of [`super::measure`] that produces the row; a claim
//! whose measurement needs a part of RaaS not built yet names it in
//! `needs`, and its row says so instead of a number. `docs/claims.md`
//! describes each claim, its evidence and both of its measures.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// The kind of evidence behind a figure in the paper's own repository.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A test of the real Rust crate.
    Rust,
    /// A small numpy/Python script.
    Toy,
    /// Arithmetic on assumed constants.
    Arith,
    /// Stated with no script, test or data.
    None,
}

impl Evidence {
    /// The word used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Evidence::Rust => "rust",
            Evidence::Toy => "toy",
            Evidence::Arith => "arith",
            Evidence::None => "none",
        }
    }
}

/// How a claim is measured (the procedures of [`super::measure`]).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Rounds until consensus (with exchanged updates) and until the
    /// held-out error stays within 5 % of the central optimum.
    Convergence,
    /// [`Measure::Convergence`] over several swarm sizes (`[claim] sizes`);
    /// with `paper_sizes`, also the paper's synthetic consensus task at
    /// those sizes: rounds until drift < 0.005.
    ConvergenceRate,
    /// The scenario at `[claim] sizes[1]` nodes against `sizes[0]`: it
    /// completes, and its held-out error relative to the smaller run's.
    Scale,
    /// Model-update bytes per node per simulated day, ours and the
    /// federated baseline's (`crate::baseline::fedavg`) on the same data.
    BytesPerDay,
    /// Model-update bytes on the air until the held-out error settles
    /// within 5 % of the central optimum: the federated baseline's over ours.
    BytesToTarget,
    /// The paper's scripted 500-round entropy through our regime detector,
    /// false transitions with and without hysteresis.
    Hysteresis,
    /// Share of node-rounds whose regime matches the storm schedule.
    RegimeAccuracy,
    /// Held-out error after each power cut with RAM loss (the scenario's
    /// `[faults]`) against before it, with and without the flash store.
    Persistence,
    /// Per-node state bytes at the end of the run (`size_of` + heap).
    Memory,
    /// The canonical node-core digest recomputed here; the architectures
    /// CI checks.
    Determinism,
    /// Honest drift with 30 % bias attackers, paper setup and system
    /// (`super::byzantine`, as are the variants below).
    ByzantineDrift,
    /// The weighted trimmed mean's drift against the trimmed mean's at
    /// `[claim] sizes`.
    ByzantineScale,
    /// Every attack at 10, 20 and 30 %.
    AttackTaxonomy,
    /// The largest honest drift over every attack at 30 %.
    MaxDrift,
    /// Every aggregation rule on the same attacked runs.
    Baselines,
    /// The defences removed one by one.
    Ablation,
    /// A cartel against real audits: detection, false positives, bytes.
    CartelDetection,
    /// Rounds until every sybil identity is detected.
    Sybil,
    /// Aggregation work of the adaptive aggregator against the trimmed mean.
    AdaptiveAggregation,
    /// The influence Gini over `[claim] sizes` × reputation exponents.
    AdaptiveExponent,
    /// Not measurable yet: `needs` says what is missing.
    Pending,
}

/// The `[claim]` table of a paper scenario.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClaimConfig {
    /// The claim's id (the file's stem), e.g. `convergence`.
    pub id: String,
    /// The paper's figure, as the paper states it.
    pub paper_value: String,
    /// The kind of evidence behind it in the paper's repository.
    pub evidence: Evidence,
    /// What the paper's own setup measured (one line).
    pub paper_setup: String,
    /// What our system measure is (one line).
    pub metric: String,
    /// The procedure that measures it.
    pub measure: Measure,
    /// The paper's number the verdict compares with, when there is one.
    #[serde(default)]
    pub paper_number: Option<f64>,
    /// Whether the claim holds when the measurement is at most (`true`) or
    /// at least (`false`) `paper_number`. Default at most.
    #[serde(default = "at_most")]
    pub holds_if_at_most: bool,
    /// Swarm sizes for [`Measure::ConvergenceRate`] and [`Measure::Scale`].
    #[serde(default)]
    pub sizes: Vec<u32>,
    /// [`Measure::ConvergenceRate`]'s paper-setup measurement: the swarm
    /// sizes (honest nodes) the paper's synthetic consensus task is run at
    /// (`crate::consensus`); empty: no paper-setup measurement.
    #[serde(default)]
    pub paper_sizes: Vec<u32>,
    /// The paper's figure at each of `paper_sizes` (rounds to drift
    /// < 0.005), shown beside ours; empty or as long as `paper_sizes`.
    #[serde(default)]
    pub paper_rounds: Vec<f64>,
    /// For [`Measure::Pending`]: the capability the measurement needs.
    #[serde(default)]
    pub needs: String,
    /// For [`Measure::BytesToTarget`]: the same measurement on other
    /// data (the scenario with `[dataset]` and `[run] rounds` replaced),
    /// each reported beside the scenario's own.
    #[serde(default)]
    pub datasets: Vec<DatasetVariant>,
}

/// `[[claim.datasets]]`: one more dataset a measurement is repeated on.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetVariant {
    /// Its name in the report, e.g. `ECG5000`.
    pub label: String,
    /// The `[dataset]` table that replaces the scenario's (validated like
    /// a written one when the variant is built).
    pub dataset: toml::Table,
    /// `[run] rounds` for this dataset, when it differs.
    #[serde(default)]
    pub rounds: Option<u32>,
}

fn at_most() -> bool {
    true
}

impl Validate for ClaimConfig {
    fn validate(&self, v: &mut Validator) {
        v.require(
            !self.id.is_empty(),
            "id",
            "the claim's id, e.g. \"convergence\"",
            "\"\"",
        );
        let needs_ok = (self.measure == Measure::Pending) != self.needs.trim().is_empty();
        v.require(
            needs_ok,
            "needs",
            "the missing capability when measure = \"pending\", and nothing otherwise",
            format_args!("{:?}", self.needs),
        );
        let sizes_needed = match self.measure {
            Measure::ConvergenceRate => 1,
            Measure::Scale => 2,
            Measure::ByzantineScale | Measure::AdaptiveExponent => 1,
            _ => 0,
        };
        v.require(
            self.paper_sizes.iter().all(|n| *n >= 2)
                && (self.paper_sizes.is_empty() || self.measure == Measure::ConvergenceRate),
            "paper_sizes",
            "swarm sizes of 2 nodes or more, with measure = \"convergence_rate\" only",
            format_args!("{:?}", self.paper_sizes),
        );
        v.require(
            self.paper_rounds.is_empty() || self.paper_rounds.len() == self.paper_sizes.len(),
            "paper_rounds",
            format_args!(
                "none, or one figure per `paper_sizes` entry ({})",
                self.paper_sizes.len()
            ),
            format_args!("{} figures", self.paper_rounds.len()),
        );
        v.require(
            self.sizes.len() >= sizes_needed && self.sizes.iter().all(|n| *n >= 2),
            "sizes",
            format_args!("at least {sizes_needed} swarm sizes of 2 nodes or more"),
            format_args!("{:?}", self.sizes),
        );
    }
}
