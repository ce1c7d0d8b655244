//! `[node]`: the scenario keys of the node runtime, turned into a
//! `node_core::node::NodeConfig` per node.
//!
//! Values are written as decimals in the scenario and converted once to
//! Q16.16 by [`crate::fixed::from_f64`] (the paper's `floor(x · 2^16)`,
//! saturating: deterministic on every machine).
//! Defaults are node-core's, which are the paper's where it states a value.

use node_core::audit::AuditConfig as CoreAuditConfig;
use node_core::gossip::delta::DeltaConfig;
use node_core::gossip::{GateMode, GossipConfig, StormGossip};
use node_core::model::{InitialWeights, LinearNeuronConfig};
use node_core::node::{NodeConfig as CoreNodeConfig, NodeIdentity};
use node_core::power::EnergyCosts;
use node_core::regime::{Confirmations, DetectorConfig, EntropyConfig, Escalation, StormExit};
use node_core::reputation::ReputationConfig as CoreReputation;
use node_core::time::Duration;
use node_core::wire::update::Encoding;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::aggregation_config::{AggregationConfig, ReputationConfig};
use crate::fixed::{from_f64, to_f64};
use crate::scenario::preset::Preset;
use crate::validate::{Validate, Validator};
use crate::world::NodeInit;

/// How initial weights are chosen.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InitialWeightsKind {
    /// All zero.
    #[default]
    Zeros,
    /// Persistence forecast (lag-1 weight 1).
    LastValue,
    /// Uniform in ±`initial_amplitude`, per node from its Init stream.
    Random,
}

/// How the Storm regime is left.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StormExitKind {
    /// By indication and the confirmation table (seed code; default).
    #[default]
    Indicated,
    /// The paper's exit rule: H < 1.5 and dH < 0.05.
    Paper,
}

/// How the regime detector escalates out of Calm.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// Calm → PreStorm → Storm, the paper's stated order (default).
    #[default]
    ThroughPrestorm,
    /// Calm → Storm directly (seed code).
    Direct,
}

/// Broadcast gate (`node_core::gossip`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// Accumulated utility `H·R` against the cost `gossip_cost / battery`
    /// (default).
    #[default]
    Utility,
    /// The paper's per-round rule with its "battery above 70 %" clause.
    Paper,
    /// Broadcast every round.
    Always,
}

/// What a Storm node's gate does.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StormGossipKind {
    /// Broadcast every round (the paper's text; default).
    #[default]
    Always,
    /// The Calm rule (the paper code's "Active" state).
    Utility,
}

/// Encoding of model words on the air.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EncodingKind {
    /// 4 bytes per Q16.16 word (default).
    #[default]
    Raw,
    /// 16-bit block floating point with a shared exponent per 16 words.
    Bfp16,
    /// 8-bit block floating point with a shared exponent per 16 words.
    Bfp8,
}

impl EncodingKind {
    fn to_core(self) -> Encoding {
        match self {
            EncodingKind::Raw => Encoding::Raw,
            EncodingKind::Bfp16 => Encoding::Bfp16,
            EncodingKind::Bfp8 => Encoding::Bfp8,
        }
    }
}

/// `[node]` keys. See `docs/scenarios.md`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// A named set of keys applied beneath the file's own
    /// ([`crate::scenario::preset`]); read by the loader, kept for the record.
    pub preset: Option<Preset>,
    /// AR order of the linear neuron (samples regressed on), 1..=32.
    pub window_len: u8,
    /// NLMS step size μ when `adaptive_step_size` is false, (0, 2).
    pub step_size: f64,
    /// Step size follows the regime (`step_sizes`), as in the paper.
    pub adaptive_step_size: bool,
    /// Step sizes for Calm, PreStorm, Storm (paper: 0.01, 0.05, 0.2).
    pub step_sizes: [f64; 3],
    /// Step size while the regime detector warms up.
    pub warmup_step_size: f64,
    /// NLMS regularizer ε.
    pub regularizer: f64,
    /// Weights are clamped to ±this.
    pub weight_limit: f64,
    /// Initial weights.
    pub initial_weights: InitialWeightsKind,
    /// Half-width of random initial weights.
    pub initial_amplitude: f64,
    /// Errors in the entropy histogram window, 1..=64.
    pub entropy_window: u8,
    /// Width of the entropy histogram's bins (data units), > 0; no range
    /// limit.
    pub entropy_bin_width: f64,
    /// Horizon of the entropy derivative (samples), 1..=255.
    pub entropy_derivative_horizon: u8,
    /// Storm when the raw entropy exceeds this (nats; paper 2.5).
    pub storm_entropy: f64,
    /// PreStorm when the entropy derivative exceeds this (nats; paper 0.1,
    /// seed code 0.3, default 0.15).
    pub prestorm_derivative: f64,
    /// Samples after start during which the regime stays Calm, 0..=65535.
    pub regime_warmup_samples: u16,
    /// Hysteresis base: confirmations per transition follow the seed's
    /// table (Calm→PreStorm ⌊2b/3⌋, →Storm b, Storm→Calm ⌊5b/3⌋, …); 1 = none.
    pub hysteresis_base: u8,
    /// How Storm is left.
    pub storm_exit: StormExitKind,
    /// Whether Calm may jump straight to Storm.
    pub escalation: EscalationKind,
    /// Time from a round boundary (broadcast) to the aggregation of what
    /// arrived, ms; must exceed the radio latency and be below the round.
    pub collect_window_ms: u64,
    /// Offset of every node's round boundaries from `k · round_period`, ms.
    pub round_offset_ms: u64,
    /// Broadcast gate.
    pub gate: GateKind,
    /// What the gate does in Storm.
    pub storm_gossip: StormGossipKind,
    /// Base broadcast cost on a full battery, nats.
    pub gossip_cost: f64,
    /// The paper's efficiency bias.
    pub efficiency_bias: f64,
    /// Below this battery fraction, never broadcast (paper 0.10).
    pub energy_floor: f64,
    /// `gate = "paper"` only: above this battery fraction, Calm nodes
    /// always broadcast (paper 0.70).
    pub energy_generous: f64,
    /// PreStorm nodes broadcast above this battery fraction (paper 0.30).
    pub prestorm_energy_min: f64,
    /// Encoding of the words of a full model update.
    pub encoding: EncodingKind,
    /// Send deltas against the last keyframe when they are smaller.
    pub delta: bool,
    /// Encoding of delta words.
    pub delta_encoding: EncodingKind,
    /// A full update at least every this many broadcasts, 1..=1000.
    pub keyframe_rounds: u16,
    /// Senders whose keyframe and latest model a node keeps (delta bases
    /// and the round's inbox): the first heard, never evicted; 1..=64.
    pub delta_tracked_peers: u8,
    /// Most senders aggregated per round, 1..=64.
    pub inbox_max: u8,
    /// How far a node moves toward the round's aggregate in Calm,
    /// PreStorm, Storm, each in (0, 1].
    pub aggregate_mix: [f64; 3],
    /// Aggregation rule.
    pub aggregation: AggregationConfig,
    /// Reputation rule.
    pub reputation: ReputationConfig,
    /// Energy per sample step, µJ.
    pub sample_uj: u32,
    /// Energy per aggregation, µJ.
    pub aggregate_uj: u32,
    /// Energy per byte sent, µJ.
    pub tx_uj_per_byte: u32,
    /// Energy per byte received, µJ.
    pub rx_uj_per_byte: u32,
    /// Stochastic audits.
    pub audit: AuditSettings,
}

/// `[node.audit]` keys: stochastic audits by recomputation and Grubbs'
/// test (`node_core::audit`; docs/audit.md).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Whether nodes audit, answer challenges and run Grubbs' test.
    pub enabled: bool,
    /// Probability that a received update is challenged, [0, 1].
    pub share: f64,
    /// How long an answer is awaited, ms; at most `run.round_period_ms`.
    pub deadline_ms: u64,
    /// Failed audits after which the peer is banned, 1..=255.
    pub failures_to_ban: u8,
    /// Reputation lost per failed audit, [0, 1].
    pub failure_penalty: f64,
    /// Whether Grubbs-flagged peers are audited first.
    pub grubbs: bool,
    /// Most audits a node has open at once, 1..=8.
    pub max_outstanding: u8,
}

impl Default for AuditSettings {
    fn default() -> AuditSettings {
        let core = CoreAuditConfig::default();
        AuditSettings {
            enabled: core.enabled,
            share: to_f64(core.share),
            deadline_ms: core.deadline.as_micros() / 1_000,
            failures_to_ban: core.failures_to_ban,
            failure_penalty: to_f64(core.failure_penalty),
            grubbs: core.grubbs,
            max_outstanding: core.max_outstanding,
        }
    }
}

impl AuditSettings {
    fn to_core(self) -> CoreAuditConfig {
        CoreAuditConfig {
            enabled: self.enabled,
            share: from_f64(self.share),
            deadline: Duration::from_millis(self.deadline_ms),
            failures_to_ban: self.failures_to_ban,
            failure_penalty: from_f64(self.failure_penalty),
            grubbs: self.grubbs,
            max_outstanding: self.max_outstanding,
        }
    }
}

impl Validate for AuditSettings {
    fn validate(&self, v: &mut Validator) {
        v.probability("share", self.share);
        v.range("deadline_ms", self.deadline_ms, 1, 86_400_000);
        v.range("failures_to_ban", self.failures_to_ban, 1, 255);
        v.probability("failure_penalty", self.failure_penalty);
        v.range(
            "max_outstanding",
            self.max_outstanding,
            1,
            node_core::audit::OUTSTANDING_MAX as u8,
        );
    }
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        let core = CoreNodeConfig::default();
        let steps = core
            .step_size_by_regime
            .unwrap_or([core.model.step_size; 3]);
        let costs = core.costs;
        NodeConfig {
            preset: None,
            window_len: core.model.window_len,
            step_size: to_f64(core.model.step_size),
            adaptive_step_size: core.step_size_by_regime.is_some(),
            step_sizes: steps.map(to_f64),
            warmup_step_size: to_f64(core.warmup_step_size),
            regularizer: to_f64(core.model.regularizer),
            weight_limit: to_f64(core.model.weight_limit),
            initial_weights: InitialWeightsKind::Zeros,
            initial_amplitude: 0.1,
            entropy_window: core.entropy.window_len,
            entropy_bin_width: to_f64(core.entropy.bin_width),
            entropy_derivative_horizon: core.entropy.derivative_horizon_samples,
            storm_entropy: to_f64(core.detector.storm_entropy_nats),
            prestorm_derivative: to_f64(core.detector.prestorm_derivative_nats),
            regime_warmup_samples: core.detector.warmup_samples,
            hysteresis_base: 3,
            storm_exit: StormExitKind::Indicated,
            escalation: EscalationKind::ThroughPrestorm,
            collect_window_ms: core.collect_window.as_micros() / 1_000,
            round_offset_ms: core.round_offset.as_micros() / 1_000,
            gate: GateKind::Utility,
            storm_gossip: StormGossipKind::Always,
            gossip_cost: to_f64(core.gossip.gossip_cost),
            efficiency_bias: to_f64(core.gossip.efficiency_bias),
            energy_floor: to_f64(core.gossip.energy_floor),
            energy_generous: to_f64(core.gossip.energy_generous),
            prestorm_energy_min: to_f64(core.gossip.prestorm_energy_min),
            encoding: EncodingKind::Raw,
            delta: core.delta.enabled,
            delta_encoding: EncodingKind::Bfp8,
            keyframe_rounds: core.delta.keyframe_rounds,
            delta_tracked_peers: core.delta.tracked_peers,
            inbox_max: core.inbox_max,
            aggregate_mix: core.aggregate_mix.map(to_f64),
            aggregation: AggregationConfig::default(),
            reputation: ReputationConfig::default(),
            sample_uj: costs.sample_uj,
            aggregate_uj: costs.aggregate_uj,
            tx_uj_per_byte: costs.tx_uj_per_byte,
            rx_uj_per_byte: costs.rx_uj_per_byte,
            audit: AuditSettings::default(),
        }
    }
}

impl NodeConfig {
    /// The node-core configuration of node `init.id`.
    pub fn to_core(&self, init: &NodeInit, round_period: Duration) -> CoreNodeConfig {
        let initial_weights = match self.initial_weights {
            InitialWeightsKind::Zeros => InitialWeights::Zeros,
            InitialWeightsKind::LastValue => InitialWeights::LastValue,
            InitialWeightsKind::Random => InitialWeights::Random {
                seed: init.seed,
                node: init.id,
                amplitude: from_f64(self.initial_amplitude),
            },
        };
        CoreNodeConfig {
            id: init.id,
            seed: init.seed,
            swarm_size: init.swarm_size,
            model: LinearNeuronConfig {
                window_len: self.window_len,
                step_size: from_f64(self.step_size),
                regularizer: from_f64(self.regularizer),
                weight_limit: from_f64(self.weight_limit),
                initial_weights,
            },
            step_size_by_regime: self
                .adaptive_step_size
                .then(|| self.step_sizes.map(from_f64)),
            warmup_step_size: from_f64(self.warmup_step_size),
            entropy: EntropyConfig {
                window_len: self.entropy_window,
                bin_width: from_f64(self.entropy_bin_width),
                derivative_horizon_samples: self.entropy_derivative_horizon,
            },
            detector: DetectorConfig {
                storm_entropy_nats: from_f64(self.storm_entropy),
                prestorm_derivative_nats: from_f64(self.prestorm_derivative),
                confirmations: Confirmations::from_base(self.hysteresis_base),
                storm_exit: match self.storm_exit {
                    StormExitKind::Indicated => StormExit::Indicated,
                    StormExitKind::Paper => StormExit::paper(),
                },
                escalation: match self.escalation {
                    EscalationKind::ThroughPrestorm => Escalation::ThroughPreStorm,
                    EscalationKind::Direct => Escalation::Direct,
                },
                warmup_samples: self.regime_warmup_samples,
            },
            round_period,
            round_offset: Duration::from_millis(self.round_offset_ms),
            collect_window: Duration::from_millis(self.collect_window_ms),
            gossip: GossipConfig {
                mode: match self.gate {
                    GateKind::Utility => GateMode::Utility,
                    GateKind::Paper => GateMode::Paper,
                    GateKind::Always => GateMode::Always,
                },
                storm: match self.storm_gossip {
                    StormGossipKind::Always => StormGossip::Always,
                    StormGossipKind::Utility => StormGossip::Utility,
                },
                gossip_cost: from_f64(self.gossip_cost),
                efficiency_bias: from_f64(self.efficiency_bias),
                energy_floor: from_f64(self.energy_floor),
                energy_generous: from_f64(self.energy_generous),
                prestorm_energy_min: from_f64(self.prestorm_energy_min),
            },
            aggregation: self.aggregation.to_core(init.swarm_size),
            reputation: CoreReputation {
                max_peers: self.reputation.max_peers.min(init.degree.max(1)),
                ..self.reputation.to_core(init.swarm_size)
            },
            encoding: self.encoding.to_core(),
            delta: DeltaConfig {
                enabled: self.delta,
                encoding: self.delta_encoding.to_core(),
                keyframe_rounds: self.keyframe_rounds,
                tracked_peers: cap_to_degree(self.delta_tracked_peers, init),
            },
            inbox_max: cap_to_degree(self.inbox_max, init),
            aggregate_mix: self.aggregate_mix.map(from_f64),
            costs: EnergyCosts {
                sample_uj: self.sample_uj,
                aggregate_uj: self.aggregate_uj,
                tx_uj_per_byte: self.tx_uj_per_byte,
                rx_uj_per_byte: self.rx_uj_per_byte,
            },
            audit: self.audit.to_core(),
        }
    }
}

/// Most distinct shared configurations [`NodeConfig::to_shared_core`]
/// remembers per thread (a run has one per distinct radio degree).
const SHARED_CONFIGS_MAX: usize = 64;

thread_local! {
    /// The live shared configurations of this thread's runs: a node built
    /// with a configuration equal to one of them shares its `Arc`.
    static SHARED_CONFIGS: RefCell<Vec<Weak<CoreNodeConfig>>> = const { RefCell::new(Vec::new()) };
}

impl NodeConfig {
    /// The configuration of node `init.id` split for
    /// [`node_core::node::Node::with_shared`]: the part every node of the
    /// run has in common (identity fields zeroed, a random initial-weight
    /// stream's seed and node zeroed), shared with every live node of this
    /// thread whose part is equal, and the node's identity. Equal to
    /// [`NodeConfig::to_core`] once the identity is put back, so the node
    /// behaves the same; only its memory differs (8 bytes for the `Arc`
    /// instead of a ~300-byte copy). Nodes differ in their peer-table
    /// sizes (capped at the radio degree), so a run holds one shared
    /// configuration per distinct degree.
    pub fn to_shared_core(
        &self,
        init: &NodeInit,
        round_period: Duration,
    ) -> (Arc<CoreNodeConfig>, NodeIdentity) {
        let mut core = self.to_core(init, round_period);
        let identity = NodeIdentity::of(&core);
        core.id = 0;
        core.seed = 0;
        core.swarm_size = 0;
        if let InitialWeights::Random { seed, node, .. } = &mut core.model.initial_weights {
            *seed = 0;
            *node = 0;
        }
        let shared = SHARED_CONFIGS.with(|cell| {
            let mut configs = cell.borrow_mut();
            // Newest first: consecutive nodes usually share the latest.
            for weak in configs.iter().rev() {
                if let Some(config) = weak.upgrade().filter(|c| **c == core) {
                    return config;
                }
            }
            configs.retain(|weak| weak.strong_count() > 0);
            let config = Arc::new(core);
            if configs.len() < SHARED_CONFIGS_MAX {
                configs.push(Arc::downgrade(&config));
            }
            config
        });
        (shared, identity)
    }
}

/// Per-peer tables need no more rows than the node has radio neighbours:
/// only neighbours are ever heard. Capping them at the degree keeps node
/// memory proportional to the topology (a grid node with 8 neighbours
/// holds 8 peer models, not 32) without changing any result.
fn cap_to_degree(configured: u8, init: &NodeInit) -> u8 {
    configured.min(u8::try_from(init.degree.max(1)).unwrap_or(u8::MAX))
}

impl Validate for NodeConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("window_len", self.window_len, 1, 32);
        v.require(
            self.step_size > 0.0 && self.step_size < 2.0,
            "step_size",
            "a value in (0, 2)",
            self.step_size,
        );
        v.require(
            self.warmup_step_size > 0.0 && self.warmup_step_size < 2.0,
            "warmup_step_size",
            "a value in (0, 2)",
            self.warmup_step_size,
        );
        for (i, s) in self.step_sizes.iter().enumerate() {
            v.require(
                *s > 0.0 && *s < 2.0,
                &format!("step_sizes[{i}]"),
                "a value in (0, 2)",
                s,
            );
        }
        v.non_negative("regularizer", self.regularizer);
        v.range("weight_limit", self.weight_limit, 0.001, 32_000.0);
        v.range(
            "initial_amplitude",
            self.initial_amplitude,
            0.0,
            self.weight_limit.max(0.0),
        );
        v.range("entropy_window", self.entropy_window, 1, 64);
        v.positive("entropy_bin_width", self.entropy_bin_width);
        v.range(
            "entropy_derivative_horizon",
            self.entropy_derivative_horizon,
            1,
            255,
        );
        v.positive("storm_entropy", self.storm_entropy);
        v.positive("prestorm_derivative", self.prestorm_derivative);
        v.range("hysteresis_base", self.hysteresis_base, 1, 100);
        v.range("collect_window_ms", self.collect_window_ms, 1, 86_400_000);
        v.range("round_offset_ms", self.round_offset_ms, 0, 86_400_000);
        v.non_negative("gossip_cost", self.gossip_cost);
        v.non_negative("efficiency_bias", self.efficiency_bias);
        v.probability("energy_floor", self.energy_floor);
        v.probability("energy_generous", self.energy_generous);
        v.probability("prestorm_energy_min", self.prestorm_energy_min);
        v.range("inbox_max", self.inbox_max, 1, 64);
        for (i, mix) in self.aggregate_mix.iter().enumerate() {
            v.require(
                *mix > 0.0 && *mix <= 1.0,
                &format!("aggregate_mix[{i}]"),
                "a value in (0, 1]",
                mix,
            );
        }
        v.range("keyframe_rounds", self.keyframe_rounds, 1, 1_000);
        v.range("delta_tracked_peers", self.delta_tracked_peers, 1, 64);
        v.section("aggregation", |v| self.aggregation.validate(v));
        v.section("reputation", |v| self.reputation.validate(v));
        v.section("audit", |v| self.audit.validate(v));
        // Rules only node-core knows (e.g. the paper's Storm exit below the
        // Storm threshold, thresholds that round to zero): build one node.
        let init = NodeInit {
            id: 0,
            seed: 0,
            swarm_size: 1,
            degree: 0,
        };
        // Long enough for the collect window and the audit deadline (both
        // are checked against `run.round_period_ms` by the scenario).
        let round_period = Duration::from_millis(
            self.collect_window_ms
                .saturating_add(1)
                .max(1_000)
                .max(self.audit.deadline_ms),
        );
        if let Err(e) = node_core::node::Node::new(self.to_core(&init, round_period)) {
            v.require(false, "", "a configuration node-core accepts", e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacities(config: &NodeConfig, degree: u32) -> (u32, u8, u8) {
        let init = NodeInit {
            id: 3,
            seed: 1,
            swarm_size: 200,
            degree,
        };
        let core = config.to_core(&init, Duration::from_secs(10));
        node_core::node::Node::new(core.clone()).expect("a valid node");
        (
            core.reputation.max_peers,
            core.delta.tracked_peers,
            core.inbox_max,
        )
    }

    #[test]
    fn peer_tables_are_sized_by_the_radio_degree() {
        let defaults = NodeConfig::default();
        // min(degree, limit) for each table; degree 0 (an isolated node)
        // still gets one row, the smallest valid table.
        assert_eq!(capacities(&defaults, 0), (1, 1, 1));
        assert_eq!(capacities(&defaults, 8), (8, 8, 8));
        assert_eq!(capacities(&defaults, 32), (32, 32, 32));
        assert_eq!(capacities(&defaults, 199), (32, 32, 32));
        assert_eq!(capacities(&defaults, u32::MAX), (32, 32, 32));
        let mut small = NodeConfig::default();
        small.reputation.max_peers = 4;
        small.delta_tracked_peers = 6;
        small.inbox_max = 5;
        assert_eq!(capacities(&small, 3), (3, 3, 3));
        assert_eq!(capacities(&small, 99), (4, 6, 5));
    }
}
