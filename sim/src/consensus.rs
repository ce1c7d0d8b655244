//! The paper's synthetic consensus task (docs/paper.md §8), through the
//! real node runtime: `[consensus]` in a scenario, and [`ConsensusNode`],
//! the runtime that plays it.
//!
//! The paper's Byzantine and convergence-rate experiments have no data:
//! the truth is a d-dimensional vector (zero, d = 10), every round each
//! honest node submits truth + N(0, σ = 0.05) per coordinate, an aggregator
//! combines the submissions, and "drift" is the RMSE of the aggregate
//! against the truth. Here the submissions are node-core [`Node`]s' local
//! models: [`ConsensusNode`] wraps a `Node` and, at each of the node's round
//! boundaries, replaces its model with truth + fresh noise
//! ([`Node::set_local_model`]) before the broadcast is encoded; the node
//! then gossips it on the simulated radio, aggregates what it hears with
//! its configured rule and reputation, and adopts the aggregate (with
//! `node.aggregate_mix`). The world scores every honest node's weights
//! against the truth in `rounds.csv`'s `drift` column.
//!
//! ## Why a `[consensus]` section and not a dataset kind
//!
//! The task replaces what the node learns, not what it senses: the node's
//! model dimension is `node.window_len + 1` (so d = 10 is
//! `window_len = 9`), sensor samples are ignored, and a dataset kind would
//! have to invent samples, held-out data and least-squares references that
//! mean nothing. The world keeps its `[dataset]` (whatever it is) to drive
//! sample events; [`ConsensusNode`] does not learn from them.
//!
//! ## Noise
//!
//! Draw `k` of node `i` (`k = 0` at construction, `k ≥ 1` at the boundary
//! `k · round_period + round_offset`) reads words `2·d·k …` of the ChaCha
//! stream `stream(seed, i, ConsensusNoise)`: per coordinate the dataset's
//! approximately Gaussian noise ([`noise::next_centred`], a centred sum of
//! four uniforms, scaled by [`NoiseScale`] to `noise_std`), in integer
//! arithmetic only, so a draw is bit-identical on every machine like every
//! other sample of the simulator. The value is `truth_j` (converted with
//! [`fixed::from_f64`], floor to Q16.16) plus that noise, clamped to the
//! node's `±weight_limit`. A draw depends only on (seed, node, k), so it is
//! the same whatever else the run does.

use node_core::model::ModelError;
use node_core::node::{AggregationScratch, Node};
use node_core::q::Q;
use node_core::rng::{Purpose, stream};
use node_core::runtime::{Runtime, RxError, SnapshotError, Telemetry, Transmit};
use node_core::time::Instant;
use serde::{Deserialize, Serialize};

use crate::dataset::noise::{self, NoiseScale};
use crate::fixed;
use crate::runner;
use crate::scenario::Scenario;
use crate::validate::{Validate, Validator};
use crate::world::NodeInit;

/// The name `summary.json` gives this runtime.
pub const RUNTIME: &str = "node-core Node on the synthetic consensus task";

/// Stream words one coordinate of one draw consumes (two `u64`).
const WORDS_PER_COORDINATE: u128 = noise::WORDS_PER_SAMPLE;

/// The truth vector: one value for every coordinate, or one per coordinate.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Truth {
    /// Every coordinate has this value.
    Value(f64),
    /// Coordinate `j` has value `j` (length `node.window_len + 1`).
    List(Vec<f64>),
}

impl Default for Truth {
    fn default() -> Truth {
        Truth::Value(0.0)
    }
}

impl Truth {
    /// The truth as a vector of `dim` values (a list is returned as is).
    pub fn vector(&self, dim: usize) -> Vec<f64> {
        match self {
            Truth::Value(v) => vec![*v; dim],
            Truth::List(values) => values.clone(),
        }
    }

    fn values(&self) -> &[f64] {
        match self {
            Truth::Value(v) => std::slice::from_ref(v),
            Truth::List(values) => values,
        }
    }
}

/// `[consensus]`: the paper's synthetic consensus task (see the module
/// docs). Absent: the nodes learn from the dataset as usual.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// The truth: a value for every coordinate, or a list of
    /// `node.window_len + 1` values.
    pub truth: Truth,
    /// Standard deviation of the Gaussian noise each node adds to the
    /// truth at every round boundary (value units).
    pub noise_std: f64,
}

impl Default for ConsensusConfig {
    /// The paper's: truth 0, σ 0.05.
    fn default() -> ConsensusConfig {
        ConsensusConfig {
            truth: Truth::default(),
            noise_std: 0.05,
        }
    }
}

impl Validate for ConsensusConfig {
    fn validate(&self, v: &mut Validator) {
        v.require(
            self.noise_std.is_finite() && (0.0..=100.0).contains(&self.noise_std),
            "noise_std",
            "a value in [0, 100]",
            self.noise_std,
        );
        let values = self.truth.values();
        v.require(
            !values.is_empty() && values.iter().all(|x| x.is_finite() && x.abs() <= 32_000.0),
            "truth",
            "a finite value in [-32000, 32000], or a non-empty list of them",
            format_args!("{values:?}"),
        );
    }
}

impl ConsensusConfig {
    /// Checks against the rest of `scenario` (its `[node]`): the truth
    /// list's length is the model dimension and the truth lies within the
    /// weight limit. Reported under `consensus.truth`.
    pub fn validate_against(&self, scenario: &Scenario, v: &mut Validator) {
        let dim = usize::from(scenario.node.window_len) + 1;
        if let Truth::List(values) = &self.truth {
            v.require_between(
                values.len() == dim,
                "consensus.truth",
                "node.window_len",
                format_args!(
                    "{dim} values (the model dimension, `node.window_len` + 1 = {} + 1)",
                    scenario.node.window_len
                ),
                format_args!("{} values", values.len()),
            );
        }
        let limit = scenario.node.weight_limit;
        v.require_between(
            self.truth.values().iter().all(|x| x.abs() <= limit),
            "consensus.truth",
            "node.weight_limit",
            format_args!("values within `node.weight_limit` (±{limit})"),
            format_args!("{:?}", self.truth.values()),
        );
    }
}

/// A node-core [`Node`] whose local model is set to truth + noise at every
/// round boundary; every other input and output is the node's own.
pub struct ConsensusNode {
    node: Node,
    truth: Vec<Q>,
    scale: NoiseScale,
    seed: u64,
    id: u32,
    period_us: u64,
    offset_us: u64,
    /// The boundary the next draw is for, µs.
    next_boundary_us: u64,
    /// The drawn model (allocated once).
    draw: Vec<Q>,
    limit: Q,
}

impl ConsensusNode {
    /// Wraps `node` (id `init.id` of a run with seed `init.seed`) and sets
    /// its model to draw 0.
    pub fn wrap(node: Node, config: &ConsensusConfig, init: &NodeInit) -> ConsensusNode {
        let dim = node.weights().len();
        let core = node.config();
        let period_us = core.round_period.as_micros();
        let offset_us = core.round_offset.as_micros();
        let limit = core.model.weight_limit;
        let mut wrapped = ConsensusNode {
            truth: config
                .truth
                .vector(dim)
                .into_iter()
                .map(fixed::from_f64)
                .collect(),
            scale: NoiseScale::from_std(config.noise_std),
            seed: init.seed,
            id: init.id,
            period_us,
            offset_us,
            next_boundary_us: offset_us + period_us,
            draw: vec![Q::ZERO; dim],
            limit,
            node,
        };
        wrapped
            .set_draw(0)
            .expect("a clamped draw of the model's dimension");
        wrapped
    }

    /// Node `init.id` of `scenario`: node-core's [`Node`] as `raas run`
    /// builds it, wrapped. Errors when the scenario has no `[consensus]`.
    pub fn new(scenario: &Scenario, init: &NodeInit) -> Result<ConsensusNode, String> {
        let config = scenario
            .consensus
            .as_ref()
            .ok_or("the consensus runtime needs a [consensus] section")?;
        let node = runner::node_core_runtime(scenario, init)?;
        if let Truth::List(values) = &config.truth
            && values.len() != node.weights().len()
        {
            return Err(format!(
                "consensus.truth has {} values, the model {}",
                values.len(),
                node.weights().len()
            ));
        }
        Ok(ConsensusNode::wrap(node, config, init))
    }

    /// The wrapped node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Draw `k` of this node: truth + noise, in Q16.16, clamped.
    fn set_draw(&mut self, k: u64) -> Result<(), ModelError> {
        let mut rng = stream(self.seed, self.id, Purpose::ConsensusNoise);
        let dim = self.draw.len() as u128;
        rng.set_word_pos(u128::from(k) * dim * WORDS_PER_COORDINATE);
        for (slot, truth) in self.draw.iter_mut().zip(&self.truth) {
            let noise_raw = self.scale.apply(noise::next_centred(&mut rng));
            let value = Q::from_bits(truth.to_bits().saturating_add(noise_raw));
            *slot = value.clamp(-self.limit, self.limit);
        }
        self.node.set_local_model(&self.draw)
    }

    /// After the node's wake-up: if it crossed a round boundary (the node
    /// began a round and, when its gate allows, queued its broadcast),
    /// sets the model to the boundary's draw before `poll_transmit`
    /// encodes it.
    fn after_wake(&mut self, now: Instant) {
        let now_us = now.as_micros();
        if now_us < self.next_boundary_us {
            return;
        }
        let k = (now_us - self.offset_us) / self.period_us;
        self.set_draw(k)
            .expect("a clamped draw of the model's dimension");
        self.next_boundary_us = self.offset_us + (k + 1) * self.period_us;
    }
}

impl Runtime for ConsensusNode {
    /// Ignored: the node does not learn from samples in this task (its
    /// model would drift from the aggregate between boundaries).
    fn handle_sample(&mut self, _now: Instant, _sample: Q) {}

    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        self.node.handle_frame(now, frame)
    }

    /// Forwards the wake-up; if it crossed a round boundary (the node
    /// began a round and, when its gate allows, queued its broadcast),
    /// sets the model to the boundary's draw before `poll_transmit`
    /// encodes it. Setting it after the node's own handling means a late
    /// wake that also closes the previous round's aggregation cannot
    /// overwrite the draw.
    fn handle_wake(&mut self, now: Instant) {
        self.node.handle_wake(now);
        self.after_wake(now);
    }

    /// [`ConsensusNode::handle_wake`] with the node's aggregation scratch
    /// lent by the host.
    fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        self.node.handle_wake_lent(now, scratch);
        self.after_wake(now);
    }

    fn handle_energy(&mut self, now: Instant, level: Q) {
        self.node.handle_energy(now, level);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.node.poll_transmit(now, buf)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.node.poll_at()
    }

    fn telemetry(&self) -> Telemetry {
        self.node.telemetry()
    }

    fn weights(&self) -> &[Q] {
        self.node.weights()
    }

    fn snapshot(&self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        self.node.snapshot(buf)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.node.restore(bytes)
    }

    fn reputation_table(&self) -> Option<&node_core::reputation::ReputationTable> {
        self.node.reputation_table()
    }

    /// The wrapped node's state (the drawn model is the host's task).
    fn state_bytes(&self) -> Option<usize> {
        Some(self.node.state_bytes())
    }
}

/// Root mean square of `weights − truth` over every coordinate of every
/// vector in `weights` (back to back, `truth.len()` each), or `None` when
/// there is none.
pub fn drift(weights: &[f64], truth: &[f64]) -> Option<f64> {
    if truth.is_empty() || weights.is_empty() {
        return None;
    }
    assert_eq!(weights.len() % truth.len(), 0, "ragged weight vectors");
    let sum: f64 = weights
        .chunks_exact(truth.len())
        .flat_map(|w| w.iter().zip(truth).map(|(x, t)| (x - t) * (x - t)))
        .sum();
    Some((sum / weights.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_the_rms_over_nodes_and_coordinates() {
        // Two nodes of d = 2 against truth (1, 0): errors 1, 0, 0, −1.
        let d = drift(&[2.0, 0.0, 1.0, -1.0], &[1.0, 0.0]).unwrap();
        assert!((d - 0.5_f64.sqrt()).abs() < 1e-15, "{d}");
        assert_eq!(drift(&[], &[1.0]), None);
        assert_eq!(Truth::Value(0.5).vector(3), vec![0.5; 3]);
    }
}
