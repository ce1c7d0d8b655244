//! The data of a run: what the nodes sense and what is held out from
//! them, built once per (scenario, seed) and shared read-only by the main
//! run, its baselines and the references (`crate::baseline`).
//!
//! Every value is a pure function of (scenario, seed, node, index), so
//! sharing changes nothing: a world built on shared data runs exactly as
//! one that built its own.

use std::path::Path;

use crate::dataset::heldout::{HeldOut, NoHeldOut};
use crate::dataset::{Dataset, Setup};
use crate::radio::topology::Topology;
use crate::scenario::Scenario;

use super::WorldError;

/// A run's training dataset and held-out data.
#[derive(Clone, Debug)]
pub struct RunData {
    /// What the nodes sense.
    pub dataset: Dataset,
    /// Held-out data, or why there is none.
    pub heldout: Result<HeldOut, NoHeldOut>,
    /// Predictions scored per node on held-out data (0 without any).
    pub heldout_samples: usize,
    /// Held-out data is scored at rounds that are multiples of this.
    pub heldout_every: u32,
    /// AR order of the nodes' predictor (`node.window_len`).
    pub window_len: usize,
    /// Training samples offered to each node over the run (sample
    /// indices `0..training_samples`).
    pub training_samples: u64,
}

impl RunData {
    /// The data of `scenario` for `seed`; `topology` places nodes for
    /// storms with a `region` (positions cost 16 bytes per node, so they
    /// are taken only then). UCR files are read relative to the current
    /// directory.
    pub fn build(
        scenario: &Scenario,
        topology: &Topology,
        seed: u64,
    ) -> Result<RunData, WorldError> {
        let build = |e: &dyn std::fmt::Display| WorldError::Build(e.to_string());
        let needs_positions = scenario.dataset.storms().iter().any(|s| s.region.is_some());
        let positions: Vec<(f64, f64)> = if needs_positions {
            (0..scenario.nodes)
                .map(|id| topology.position(id))
                .map(|[x, y]| (x, y))
                .collect()
        } else {
            Vec::new()
        };
        let base_dir = Path::new(".");
        let setup = Setup {
            nodes: scenario.nodes,
            seed,
            sample_period_us: scenario.run.sample_period_us(),
            positions: &positions,
            base_dir,
        };
        let dataset = Dataset::new(&scenario.dataset, &setup).map_err(|e| build(&e))?;
        let heldout = if scenario.run.heldout_samples == 0 {
            Err(NoHeldOut::Disabled)
        } else {
            HeldOut::new(&scenario.dataset, base_dir, seed).map_err(|e| build(&e))?
        };
        Ok(RunData {
            dataset,
            heldout_samples: if heldout.is_ok() {
                scenario.run.heldout_samples as usize
            } else {
                0
            },
            heldout,
            heldout_every: scenario.run.heldout_every,
            window_len: usize::from(scenario.node.window_len),
            training_samples: scenario.run.samples_per_node(),
        })
    }

    /// The held-out data, if any.
    pub fn heldout(&self) -> Option<&HeldOut> {
        self.heldout.as_ref().ok()
    }
}
