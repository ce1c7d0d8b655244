//! `summary.json`: the deterministic summary of a run, built from its rows,
//! its references and, when they ran, its baselines' rows.
//!
//! Everything here is a function of (scenario file, seed, baselines): no
//! wall-clock value enters, so the file is byte-identical across runs.
//! Ordering contract: figures over rows are computed in row order
//! (`metrics::window`), references in node-id blocks (`baseline::reference`).

use serde::Serialize;

use crate::baseline::comparison::{self, Comparison};
use crate::baseline::isolated::Baseline;
use crate::baseline::reference::References;
use crate::metrics::RoundRow;
use crate::metrics::convergence::{self, Convergence, Rule};
use crate::metrics::window::FinalWindow;
use crate::scenario::Scenario;
use crate::world::RunData;

/// Where the held-out data comes from, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeldOutInfo {
    /// Predictions scored per node and round (0 without held-out data).
    pub samples_per_node: usize,
    /// Values before the first prediction (its history): `window_len`.
    pub history_samples: usize,
    /// Scored at rounds that are multiples of this (`run.heldout_every`).
    pub every_rounds: u32,
    /// What is held out, when there is held-out data.
    pub source: Option<&'static str>,
    /// Why there is none, when there is not.
    pub unavailable: Option<String>,
}

impl HeldOutInfo {
    /// The held-out side of `data`.
    pub fn of(data: &RunData) -> HeldOutInfo {
        HeldOutInfo {
            samples_per_node: data.heldout_samples,
            history_samples: data.window_len,
            every_rounds: data.heldout_every,
            source: data.heldout().map(|h| h.describe()),
            unavailable: data.heldout.as_ref().err().map(ToString::to_string),
        }
    }
}

/// The commit the binary was built from (40 hex digits), or `"unknown"`
/// when it was not built from a git checkout (see `sim/build.rs`).
pub fn git_commit() -> &'static str {
    option_env!("RAAS_GIT_COMMIT").unwrap_or("unknown")
}

/// Whether the checkout had uncommitted changes when the binary was built;
/// `None` when unknown.
pub fn git_dirty() -> Option<bool> {
    match option_env!("RAAS_GIT_DIRTY") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// What identifies a run in its summary (shared by the main run and its
/// baselines).
#[derive(Clone, Debug)]
pub struct Identity<'a> {
    /// The scenario as parsed (the main run's).
    pub scenario: &'a Scenario,
    /// `fnv1a64:<hex>` of the scenario file (and the `--set` overrides).
    pub scenario_hash: String,
    /// The `--set` arguments, as given, in order.
    pub overrides: Vec<String>,
    /// The seed used.
    pub seed: u64,
    /// `scenario` or `--seed`.
    pub seed_source: &'static str,
    /// The node runtime's name.
    pub runtime: &'static str,
}

/// The deterministic summary of a run (`summary.json`).
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// FNV-1a 64 of the scenario file's bytes (followed by the overrides
    /// when there are any), hex.
    pub scenario_hash: &'a str,
    /// The `--set key=value` overrides, as given, in order.
    pub overrides: &'a [String],
    /// The seed used.
    pub seed: u64,
    /// Where the seed came from: `scenario` or `--seed`.
    pub seed_source: &'static str,
    /// Version of the `sim` crate that produced the run.
    pub raas_version: &'static str,
    /// The node runtime simulated.
    pub runtime: &'static str,
    /// Which baseline this run is; `None` for the main run.
    pub baseline: Option<Baseline>,
    /// The baselines run beside the main run (empty in a baseline's own).
    pub baselines: &'a [Baseline],
    /// Swarm size.
    pub nodes: u32,
    /// Rounds simulated.
    pub rounds: u32,
    /// Events dispatched.
    pub events: u64,
    /// The first round's metrics.
    pub first_round: &'a RoundRow,
    /// The last round's metrics.
    pub final_round: &'a RoundRow,
    /// Means over the last rounds.
    #[serde(rename = "final")]
    pub final_window: FinalWindow,
    /// The held-out data.
    pub heldout: &'a HeldOutInfo,
    /// Persistence and least-squares references on the same data.
    pub references: &'a References,
    /// This run beside its references (and the isolated baseline).
    pub comparison: Comparison,
    /// When the run converged (learning and consensus).
    pub convergence: Convergence,
    /// Round boundaries within the run (broadcast opportunities per node).
    pub broadcast_boundaries: u64,
    /// Model-update bytes sent per node per round boundary; `None` when
    /// no boundary fell within the run.
    pub model_bytes_per_node_round: Option<f64>,
    /// The Gini coefficient of aggregation influence over honest nodes at
    /// the end of the run (`crate::metrics::influence`); `None` when it is
    /// undefined (fewer than two honest nodes with influence). Set by the
    /// runner.
    pub influence_gini: Option<f64>,
    /// Node memory at the end of the run over the honest nodes whose
    /// runtime reports it (`Runtime::state_bytes`; absent when none does;
    /// set by the runner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_state_bytes: Option<NodeStateBytes>,
    /// What `[faults]` did (absent without the section; set by the runner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<crate::faults::report::FaultsReport>,
    /// The attack's effect and detection (`[adversary]` runs only; set by
    /// the runner, which holds the attack-free run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adversary: Option<crate::adversary::detection::AdversaryReport>,
}

/// Per-node state bytes at the end of a run: `size_of` of the node plus
/// the heap it owns (the aggregation scratch, lent by the world, is not the node's), from capacities.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NodeStateBytes {
    /// Nodes measured (the honest ones that report it).
    pub nodes: u32,
    /// Mean over them.
    pub mean: f64,
    /// Largest.
    pub max: u64,
    /// The configuration the nodes share (one allocation per run, or per
    /// peer-table size; not in `mean`/`max`); `None` when the runtime is
    /// not node-core's.
    pub shared_config: Option<u64>,
}

impl NodeStateBytes {
    /// Over the nodes of `nodes` for which `honest(id)` holds, in node
    /// order; `None` when none reports its state.
    pub fn of<R: node_core::runtime::Runtime>(
        nodes: &[R],
        honest: impl Fn(u32) -> bool,
        shared_config: Option<u64>,
    ) -> Option<NodeStateBytes> {
        let (mut count, mut sum, mut max) = (0_u32, 0_u64, 0_u64);
        for (id, node) in (0_u32..).zip(nodes) {
            if let Some(bytes) = node.state_bytes().filter(|_| honest(id)) {
                count += 1;
                sum += bytes as u64;
                max = max.max(bytes as u64);
            }
        }
        (count > 0).then(|| NodeStateBytes {
            nodes: count,
            mean: sum as f64 / f64::from(count),
            max,
            shared_config,
        })
    }
}

/// The shared inputs of [`summarize`].
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The run's identity.
    pub identity: &'a Identity<'a>,
    /// Held-out data.
    pub heldout: &'a HeldOutInfo,
    /// References.
    pub references: &'a References,
}

/// The summary of one run: `rows` and `events` are its own, `baseline`
/// says which baseline it is (`None`: the main run, whose `baselines`
/// ran beside it), `isolated` the isolated baseline's rows if it ran.
pub fn summarize<'a>(
    context: Context<'a>,
    rows: &'a [RoundRow],
    events: u64,
    baseline: Option<Baseline>,
    baselines: &'a [Baseline],
    isolated: Option<&[RoundRow]>,
) -> Summary<'a> {
    let scenario = context.identity.scenario;
    let yardstick = comparison::yardstick(context.references, scenario.run.heldout_every);
    let rule = Rule {
        epsilon: scenario.run.convergence_epsilon,
        rmse_tolerance: scenario.run.convergence_rmse_tolerance,
    };
    let last = rows.last().expect("at least one round");
    let boundaries = broadcast_boundaries(scenario);
    Summary {
        scenario: &scenario.name,
        scenario_hash: &context.identity.scenario_hash,
        overrides: &context.identity.overrides,
        seed: context.identity.seed,
        seed_source: context.identity.seed_source,
        raas_version: env!("CARGO_PKG_VERSION"),
        runtime: context.identity.runtime,
        baseline,
        baselines,
        nodes: scenario.nodes,
        rounds: scenario.run.rounds,
        events,
        first_round: rows.first().expect("at least one round"),
        final_round: last,
        final_window: FinalWindow::of(rows),
        heldout: context.heldout,
        references: context.references,
        comparison: comparison::compare(&yardstick, rows, isolated),
        convergence: convergence::convergence(rows, &yardstick, rule),
        broadcast_boundaries: boundaries,
        model_bytes_per_node_round: (boundaries > 0).then(|| {
            last.tx_bytes_model_update as f64 / f64::from(scenario.nodes) / boundaries as f64
        }),
        influence_gini: None,
        node_state_bytes: None,
        faults: None,
        adversary: None,
    }
}

/// Round boundaries of node-core's schedule within the run: instants
/// `k · round_period + round_offset`, `k ≥ 1`, strictly before the end
/// `rounds · round_period` (the world arms no wake-up at the end, and the
/// last row is recorded before any node event of that instant). With no
/// offset that is `rounds − 1`: a run of R rounds broadcasts R − 1 times.
pub fn broadcast_boundaries(scenario: &Scenario) -> u64 {
    let period_us = scenario.run.round_period_us();
    let end_us = scenario.run.duration_us();
    let offset_us = scenario.node.round_offset_ms * 1_000;
    if offset_us >= end_us {
        return 0;
    }
    (end_us - offset_us).div_ceil(period_us) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(rounds: u32, offset_ms: u64) -> Scenario {
        let text = format!(
            "name = \"x\"\nnodes = 2\n[run]\nrounds = {rounds}\nround_period_ms = 1000\n\
             sample_period_ms = 100\n[node]\nround_offset_ms = {offset_ms}\n\
             collect_window_ms = 100\n"
        );
        Scenario::parse(std::path::Path::new("x.toml"), &text).unwrap()
    }

    #[test]
    fn boundaries_strictly_inside_the_run() {
        // Boundaries at 1 s, 2 s, … ; the run of 10 rounds ends at 10 s.
        assert_eq!(broadcast_boundaries(&scenario(10, 0)), 9);
        // At 1.5 s … 9.5 s.
        assert_eq!(broadcast_boundaries(&scenario(10, 500)), 9);
        // At 2 s … 9 s.
        assert_eq!(broadcast_boundaries(&scenario(10, 1_000)), 8);
        assert_eq!(broadcast_boundaries(&scenario(1, 0)), 0);
        assert_eq!(broadcast_boundaries(&scenario(2, 5_000)), 0);
    }
}
