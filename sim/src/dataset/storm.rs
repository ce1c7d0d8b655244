//! Noise storms: windows of time and groups of nodes where sensor noise is
//! stronger (`[[dataset.storms]]`).
//!
//! A storm covers the samples taken at `start_s ≤ t < end_s`, where sample
//! `k` is taken at `t = k · sample_period_us` (so the window becomes the
//! sample-index range `ceil(start/period) ≤ k < ceil(end/period)`, in
//! integer microseconds). Inside a storm the storm's `noise_std`
//! **replaces** the dataset's base `noise_std`; where storms overlap, the
//! largest `noise_std` among them applies. The same noise draw is scaled
//! either way, so a storm changes no random stream.

use serde::{Deserialize, Serialize};

use super::DatasetError;
use super::noise::NoiseScale;
use crate::validate::{Validate, Validator};

/// Largest noise standard deviation accepted anywhere in `[dataset]`.
pub const MAX_NOISE_STD: f64 = 100.0;

/// Largest storm time accepted, in seconds (about 31.7 years).
pub const MAX_TIME_S: f64 = 1.0e9;

/// One `[[dataset.storms]]` entry. Exactly one of `nodes`, `node_range`
/// and `region` picks the nodes it covers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StormConfig {
    /// Start of the storm, inclusive, in simulated seconds. Default 0.
    pub start_s: f64,
    /// End of the storm, exclusive, in simulated seconds; must exceed
    /// `start_s`. Default 0 (so it must be set).
    pub end_s: f64,
    /// Explicit node ids covered. Default: unset.
    pub nodes: Option<Vec<u32>>,
    /// Half-open node-id range `[first, end)` covered. Default: unset.
    pub node_range: Option<[u32; 2]>,
    /// Rectangle `[x0, y0, x1, y1]` in the unit square; covers nodes whose
    /// radio position lies inside, edges included. Default: unset.
    pub region: Option<[f64; 4]>,
    /// Noise standard deviation inside the storm (value units), replacing
    /// the base `noise_std`. Default 0.5.
    pub noise_std: f64,
}

impl Default for StormConfig {
    fn default() -> Self {
        StormConfig {
            start_s: 0.0,
            end_s: 0.0,
            nodes: None,
            node_range: None,
            region: None,
            noise_std: 0.5,
        }
    }
}

impl Validate for StormConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("start_s", self.start_s, 0.0, MAX_TIME_S);
        v.range("end_s", self.end_s, 0.0, MAX_TIME_S);
        v.require(
            self.end_s > self.start_s,
            "end_s",
            format_args!("a time after start_s = {}", self.start_s),
            self.end_s,
        );
        v.range("noise_std", self.noise_std, 0.0, MAX_NOISE_STD);
        self.validate_selector(v);
    }
}

impl StormConfig {
    /// Exactly one selector, and each selector well formed.
    fn validate_selector(&self, v: &mut Validator) {
        let given: Vec<&str> = [
            ("nodes", self.nodes.is_some()),
            ("node_range", self.node_range.is_some()),
            ("region", self.region.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| *name)
        .collect();
        let expected = "exactly one of `nodes`, `node_range`, `region`";
        let found = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(", ")
        };
        v.require(
            given.len() == 1,
            given.first().copied().unwrap_or("nodes"),
            expected,
            found,
        );
        if let Some(nodes) = &self.nodes {
            v.require(
                !nodes.is_empty(),
                "nodes",
                "a non-empty list of node ids",
                "[]",
            );
        }
        if let Some(range) = self.node_range {
            v.node_range(range);
        }
        if let Some(region) = self.region {
            validate_region(v, region);
        }
    }
}

/// `[x0, y0, x1, y1]` inside the unit square with `x0 < x1`, `y0 < y1`.
fn validate_region(v: &mut Validator, [x0, y0, x1, y1]: [f64; 4]) {
    let inside = [x0, y0, x1, y1].iter().all(|c| (0.0..=1.0).contains(c));
    let found = format_args!("[{x0}, {y0}, {x1}, {y1}]");
    v.require(
        inside,
        "region",
        "corners inside the unit square [0, 1]²",
        found,
    );
    v.require(
        x0 < x1 && y0 < y1,
        "region",
        "[x0, y0, x1, y1] with x0 < x1 and y0 < y1",
        found,
    );
}

/// Which nodes a built storm covers.
#[derive(Clone, Debug)]
enum Members {
    /// Node ids in `[first, end)`.
    Range(u32, u32),
    /// One bit per node id.
    Bits(Vec<u64>),
}

impl Members {
    fn contains(&self, node: u32) -> bool {
        match self {
            Members::Range(first, end) => (*first..*end).contains(&node),
            Members::Bits(bits) => bits
                .get((node / 64) as usize)
                .is_some_and(|word| word >> (node % 64) & 1 == 1),
        }
    }
}

/// A storm ready for per-sample lookups.
#[derive(Clone, Debug)]
pub struct Storm {
    first_index: u64,
    end_index: u64,
    members: Members,
    scale: NoiseScale,
}

impl Storm {
    /// Builds storm number `id` of `config` for `nodes` nodes at the given
    /// positions (needed only by `region`), sampled every `sample_period_us`.
    pub fn new(
        id: usize,
        config: &StormConfig,
        nodes: u32,
        positions: &[(f64, f64)],
        sample_period_us: u64,
    ) -> Result<Storm, DatasetError> {
        let members = members(id, config, nodes, positions)?;
        Ok(Storm {
            first_index: first_sample_at(config.start_s, sample_period_us),
            end_index: first_sample_at(config.end_s, sample_period_us),
            members,
            scale: NoiseScale::from_std(config.noise_std),
        })
    }

    /// The storm's noise scale if it covers sample `index` of `node`.
    pub fn scale_at(&self, node: u32, index: u64) -> Option<NoiseScale> {
        let active = (self.first_index..self.end_index).contains(&index);
        (active && self.members.contains(node)).then_some(self.scale)
    }

    /// The sample-index window `[first, end)` the storm covers.
    pub fn window(&self) -> (u64, u64) {
        (self.first_index, self.end_index)
    }
}

/// Index of the first sample taken at or after `time_s`.
fn first_sample_at(time_s: f64, sample_period_us: u64) -> u64 {
    // Validated finite and in [0, 1e9] s, so the microsecond count fits u64.
    let time_us = (time_s * 1.0e6).round() as u64;
    time_us.div_ceil(sample_period_us.max(1))
}

fn members(
    id: usize,
    config: &StormConfig,
    nodes: u32,
    positions: &[(f64, f64)],
) -> Result<Members, DatasetError> {
    if let Some([first, end]) = config.node_range {
        if end > nodes {
            return Err(DatasetError::StormNode {
                storm: id,
                node: end - 1,
                nodes,
            });
        }
        return Ok(Members::Range(first, end));
    }
    let mut bits = vec![0_u64; nodes.div_ceil(64) as usize];
    if let Some(list) = &config.nodes {
        for &node in list {
            if node >= nodes {
                return Err(DatasetError::StormNode {
                    storm: id,
                    node,
                    nodes,
                });
            }
            bits[(node / 64) as usize] |= 1 << (node % 64);
        }
    } else if let Some([x0, y0, x1, y1]) = config.region {
        if positions.len() != nodes as usize {
            return Err(DatasetError::Positions {
                storm: id,
                nodes,
                found: positions.len(),
            });
        }
        for (node, &(x, y)) in positions.iter().enumerate() {
            if (x0..=x1).contains(&x) && (y0..=y1).contains(&y) {
                bits[node / 64] |= 1 << (node % 64);
            }
        }
    }
    Ok(Members::Bits(bits))
}
