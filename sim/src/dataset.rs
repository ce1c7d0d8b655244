//! Sensor data for every node: synthetic sines or recorded UCR series, plus
//! noise and noise storms (`[dataset]` in a scenario).
//!
//! The world asks [`Dataset::sample`] for sample `k` of node `i` whenever
//! that node senses; the answer is a pure function of (config, seed, node,
//! k), computed in integer arithmetic (no libm), so it is bit-identical on
//! every machine and independent of the order samples are asked in. Sample
//! `k` is taken at simulated time `k · sample_period_us`.
//!
//! - signal: [`smooth_sine`] (per-node sine drawn from the node's `Init`
//!   stream) or [`ucr`] (recorded series, e.g. ECG5000, Wafer);
//! - noise: approximately Gaussian ([`noise`]), from the node's `DataNoise`
//!   stream, standard deviation `noise_std`, or a storm's ([`storm`]);
//! - held-out data ([`heldout`]): per node, values no node trains on.
//!
//! Memory: 12 bytes per node for sines (none for UCR beyond the shared
//! table) plus one bit per node per `nodes`/`region` storm; generating a
//! sample allocates nothing.

pub mod heldout;
pub mod noise;
pub mod sine;
pub mod smooth_sine;
pub mod storm;
pub mod ucr;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use node_core::q::Q;
use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator, Violation};
use noise::NoiseScale;
use smooth_sine::{SineParams, SmoothSineConfig};
use storm::{Storm, StormConfig};
use ucr::{UcrConfig, UcrError, UcrStreams, UcrTable};

/// The `[dataset]` section, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatasetConfig {
    /// `kind = "smooth_sine"`: synthetic per-node sines.
    SmoothSine(SmoothSineConfig),
    /// `kind = "ucr"`: series from a UCR archive file.
    Ucr(UcrConfig),
}

impl Default for DatasetConfig {
    /// `kind = "smooth_sine"` with its defaults.
    fn default() -> Self {
        DatasetConfig::SmoothSine(SmoothSineConfig::default())
    }
}

impl DatasetConfig {
    /// The storms of whichever kind this is.
    pub fn storms(&self) -> &[StormConfig] {
        match self {
            DatasetConfig::SmoothSine(c) => &c.storms,
            DatasetConfig::Ucr(c) => &c.storms,
        }
    }

    /// The base noise standard deviation (value units).
    pub fn noise_std(&self) -> f64 {
        match self {
            DatasetConfig::SmoothSine(c) => c.noise_std,
            DatasetConfig::Ucr(c) => c.noise_std,
        }
    }
}

impl Validate for DatasetConfig {
    fn validate(&self, v: &mut Validator) {
        match self {
            DatasetConfig::SmoothSine(c) => c.validate(v),
            DatasetConfig::Ucr(c) => c.validate(v),
        }
        for (i, storm) in self.storms().iter().enumerate() {
            v.section(&format!("storms[{i}]"), |v| storm.validate(v));
        }
    }
}

/// What the world provides to build a [`Dataset`].
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    /// Number of nodes; ids are `0..nodes`.
    pub nodes: u32,
    /// The run's seed.
    pub seed: u64,
    /// Time between two samples of a node, in microseconds (> 0); converts
    /// storm times to sample indices.
    pub sample_period_us: u64,
    /// Node positions in the unit square, indexed by node id; may be empty
    /// unless a storm uses `region`.
    pub positions: &'a [(f64, f64)],
    /// Directory that a UCR `data_dir` is relative to (typically the
    /// directory `raas` runs in).
    pub base_dir: &'a Path,
}

/// Why a [`Dataset`] could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetError {
    /// The configuration breaks range or consistency rules (keys relative
    /// to `[dataset]`).
    Invalid(Vec<Violation>),
    /// The UCR file is missing or malformed.
    Ucr(UcrError),
    /// A storm names a node id that does not exist.
    StormNode {
        /// Index of the storm in `storms`.
        storm: usize,
        /// The offending id.
        node: u32,
        /// Number of nodes.
        nodes: u32,
    },
    /// A storm uses `region` but positions are missing or miscounted.
    Positions {
        /// Index of the storm in `storms`.
        storm: usize,
        /// Number of nodes.
        nodes: u32,
        /// Number of positions given.
        found: usize,
    },
    /// `sample_period_us` is zero.
    SamplePeriod,
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetError::Invalid(violations) => {
                crate::validate::write_violations(f, "dataset", violations)
            }
            DatasetError::Ucr(e) => e.fmt(f),
            DatasetError::StormNode { storm, node, nodes } => write!(
                f,
                "dataset.storms[{storm}]: node {node} does not exist (expected an id below {nodes})"
            ),
            DatasetError::Positions {
                storm,
                nodes,
                found,
            } => write!(
                f,
                "dataset.storms[{storm}].region: needs one position per node ({nodes}), got {found}"
            ),
            DatasetError::SamplePeriod => write!(f, "dataset: sample period must be > 0 µs"),
        }
    }
}

impl std::error::Error for DatasetError {}

impl From<UcrError> for DatasetError {
    fn from(e: UcrError) -> Self {
        DatasetError::Ucr(e)
    }
}

/// One sensor reading, as Q16.16.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// What the node's sensor reports: clean value plus noise.
    pub observed: Q,
    /// The noiseless signal, for reference (RMSE against truth).
    pub clean: Q,
}

/// The signal part of a dataset.
#[derive(Clone, Debug)]
enum Signal {
    SmoothSine(Vec<SineParams>),
    Ucr(UcrStreams),
}

/// The data source of a run: per (node, sample index), a [`Sample`].
#[derive(Clone, Debug)]
pub struct Dataset {
    signal: Signal,
    base_noise: NoiseScale,
    storms: Vec<Storm>,
    seed: u64,
    nodes: u32,
}

impl Dataset {
    /// Builds the dataset: validates `config`, draws per-node parameters,
    /// and for `kind = "ucr"` loads `base_dir/data_dir/path`.
    pub fn new(config: &DatasetConfig, setup: &Setup<'_>) -> Result<Dataset, DatasetError> {
        let table = match config {
            DatasetConfig::Ucr(c) => {
                check(config)?;
                Some(Arc::new(UcrTable::load(&c.file(setup.base_dir))?))
            }
            DatasetConfig::SmoothSine(_) => None,
        };
        Dataset::with_table(config, setup, table)
    }

    /// Like [`Dataset::new`], but with an already loaded UCR table (shared
    /// across the runs of a sweep). `table` is required for `kind = "ucr"`
    /// and ignored otherwise; if it is `None` the file is loaded.
    pub fn with_table(
        config: &DatasetConfig,
        setup: &Setup<'_>,
        table: Option<Arc<UcrTable>>,
    ) -> Result<Dataset, DatasetError> {
        check(config)?;
        if setup.sample_period_us == 0 {
            return Err(DatasetError::SamplePeriod);
        }
        let signal = match (config, table) {
            (DatasetConfig::SmoothSine(c), _) => {
                Signal::SmoothSine(smooth_sine::draw_params(c, setup.nodes, setup.seed))
            }
            (DatasetConfig::Ucr(c), Some(t)) => Signal::Ucr(UcrStreams::new(t, c)),
            (DatasetConfig::Ucr(c), None) => {
                let t = Arc::new(UcrTable::load(&c.file(setup.base_dir))?);
                Signal::Ucr(UcrStreams::new(t, c))
            }
        };
        Ok(Dataset {
            signal,
            base_noise: NoiseScale::from_std(config.noise_std()),
            storms: build_storms(config.storms(), setup)?,
            seed: setup.seed,
            nodes: setup.nodes,
        })
    }

    /// Sample `index` of `node` (taken at `index · sample_period_us`).
    /// Allocates nothing. Panics if `node ≥ nodes()`.
    pub fn sample(&self, node: u32, index: u64) -> Sample {
        let scale = self.noise_scale(node, index);
        let noise_raw = if scale.is_zero() {
            0
        } else {
            scale.apply(noise::centred_at(self.seed, node, index))
        };
        self.combine(self.clean(node, index), noise_raw)
    }

    /// Samples `first, first + 1, …` of `node` into `out`: the same values
    /// as [`Dataset::sample`], faster for runs of consecutive samples (one
    /// noise stream set-up for the whole run).
    pub fn fill(&self, node: u32, first: u64, out: &mut [Sample]) {
        let mut rng = noise::noise_stream(self.seed, node, first);
        for (index, slot) in (first..).zip(out.iter_mut()) {
            let centred = noise::next_centred(&mut rng);
            let noise_raw = self.noise_scale(node, index).apply(centred);
            *slot = self.combine(self.clean(node, index), noise_raw);
        }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// Node `node`'s drawn sine, for `kind = "smooth_sine"`.
    pub fn sine_params(&self, node: u32) -> Option<SineParams> {
        match &self.signal {
            Signal::SmoothSine(params) => params.get(node as usize).copied(),
            Signal::Ucr(_) => None,
        }
    }

    /// The noiseless value of sample `index` of `node`.
    pub fn clean(&self, node: u32, index: u64) -> Q {
        assert!(
            node < self.nodes,
            "node {node} out of range (nodes = {})",
            self.nodes
        );
        match &self.signal {
            Signal::SmoothSine(params) => params[node as usize].value(index),
            Signal::Ucr(streams) => streams.value(node, index),
        }
    }

    /// The noise scale at (node, index): the largest covering storm's, else the base.
    fn noise_scale(&self, node: u32, index: u64) -> NoiseScale {
        self.storms
            .iter()
            .filter_map(|s| s.scale_at(node, index))
            .max()
            .unwrap_or(self.base_noise)
    }

    fn combine(&self, clean: Q, noise_raw: i32) -> Sample {
        Sample {
            observed: Q::from_bits(clean.to_bits().saturating_add(noise_raw)),
            clean,
        }
    }
}

/// Runs validation, turning violations into an error.
fn check(config: &DatasetConfig) -> Result<(), DatasetError> {
    let mut v = Validator::new();
    config.validate(&mut v);
    let violations = v.into_violations();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DatasetError::Invalid(violations))
    }
}

fn build_storms(configs: &[StormConfig], setup: &Setup<'_>) -> Result<Vec<Storm>, DatasetError> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| Storm::new(i, c, setup.nodes, setup.positions, setup.sample_period_us))
        .collect()
}

#[cfg(test)]
mod tests;
