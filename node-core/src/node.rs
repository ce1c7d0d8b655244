//! `Node`: the RaaS node runtime, tying model, regime, gossip, aggregation
//! and reputation together behind the sans-IO [`Runtime`] trait.
//!
//! ## A node's life, in order
//!
//! * **Sample** (`handle_sample`): predict, observe (train by NLMS on the
//!   error), update the error entropy and the regime; in the paper's mode the
//!   step size follows the regime (α_calm 0.01, PreStorm 0.05, α_storm 0.2,
//!   docs/paper.md §1.1).
//! * **Frame** (`handle_frame`): parse (never panics); a model update from
//!   a tracked, non-banned peer (full, or a delta on the keyframe held of
//!   that sender, [`crate::gossip::delta`]) updates that sender's model in
//!   the peer-model table. The peer tables track the first peers heard and
//!   never evict them; a newcomer to a full table is refused. The senders
//!   heard since the last aggregation are the round's inbox; at most
//!   `inbox_max` of them (in table order) are aggregated, the rest counted
//!   as dropped.
//! * **Round boundary** (`handle_wake` at `k · round_period + offset`):
//!   ask the utility gate ([`crate::gossip`]) whether to broadcast, and if
//!   so queue the locally trained model for `poll_transmit`.
//! * **Aggregation** (`collect_window` later): aggregate the own model with
//!   the inbox by the configured rule, using each peer's reputation; update
//!   reputations from each peer's agreement with the aggregate; adopt the
//!   aggregate; clear the inbox. Broadcasting the trained model and
//!   aggregating one window later means every exchanged model carries its
//!   sender's training of the whole round; aggregating first and then
//!   broadcasting the aggregate would send back stale models and undo
//!   most of each round's learning.
//!
//! Every action is charged to the node's [`EnergyMeter`] with the configured
//! [`EnergyCosts`]. All state is allocated at construction; no input
//! allocates.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use core::fmt;

mod audit;
mod scratch;

pub use scratch::AggregationScratch;

use crate::aggregate::{
    self, AdaptiveAggregator, AdaptiveConfig, Aggregator, Contribution, Pipeline, Rule,
};
use crate::audit::{AuditConfig, AuditConfigError};
use crate::gossip::delta::{DeltaConfig, DeltaError, PeerModels, PublicModel};
use crate::gossip::{Gate, GateInput, GossipConfig};
use crate::model::{self, LinearNeuron, LinearNeuronConfig, Predictor};
use crate::power::{EnergyCosts, EnergyMeter};
use crate::q::{self, Q};
use crate::regime::{self, DetectorConfig, EntropyConfig, EntropySignal, RegimeDetector};
use crate::reputation::{self, ReputationConfig, ReputationTable};
use crate::runtime::{
    Destination, FrameKind, NodeId, Runtime, RxError, SnapshotError, Telemetry, Transmit,
};
use crate::time::{Duration, Instant};
use crate::wire::{self, Encoding, FrameRepr, Message, ModelUpdateRepr, Reassembler};

pub mod snapshot;

/// Largest inbox (peer updates kept per round).
pub const INBOX_MAX: usize = 64;

/// Frames a node reassembles concurrently (allocated on the first fragment).
pub const REASSEMBLY_SLOTS: usize = 2;

/// Everything a node is configured with. Defaults are the paper's where it
/// states a value (see each field).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// The run's seed (random streams are keyed by it and `id`).
    pub seed: u64,
    /// Swarm size, for the adaptive reputation exponent.
    pub swarm_size: u32,
    /// The predictor.
    pub model: LinearNeuronConfig,
    /// Step size per regime `[Calm, PreStorm, Storm]`, or `None` to keep
    /// `model.step_size` fixed. Default the paper's α: 0.01 / 0.05 / 0.2.
    pub step_size_by_regime: Option<[Q; 3]>,
    /// Step size while the regime detector warms up (with
    /// `step_size_by_regime` only). Default 0.2, the paper's α_storm: a
    /// cold model must learn fast whatever the regime steps are.
    pub warmup_step_size: Q,
    /// The error-entropy signal.
    pub entropy: EntropyConfig,
    /// The regime detector.
    pub detector: DetectorConfig,
    /// Length of a gossip round. Default 10 s.
    pub round_period: Duration,
    /// Offset of this node's round boundaries. Default 0.
    pub round_offset: Duration,
    /// Time between a round boundary (when models are broadcast) and the
    /// aggregation of what arrived; must exceed the radio's latency and be
    /// shorter than the round. Default 500 ms.
    pub collect_window: Duration,
    /// Broadcast gate.
    pub gossip: GossipConfig,
    /// Aggregation rule. Default: the paper's weighted trimmed mean
    /// (§III-E): peers below reputation 0.2 left out, then per coordinate
    /// β = 0.2 trimmed from each end (a trim fraction in place of its
    /// oracle attacker count), the kept values averaged with shares
    /// ∝ rep³ capped at 0.8·rep³, over the peers not banned. By
    /// measurement (`raas reproduce`, byzantine-drift): with 30 % of nodes
    /// adding +0.5, the plain trimmed mean leaves honest nodes ~200 % worse
    /// than the attack-free run, this rule +13 % (≈ 0 in 4 of 5 seeds, +65 %
    /// in one where two honest nodes were banned); without attackers the two
    /// learn the same (`learning_targets`).
    pub aggregation: AggregationConfig,
    /// Reputation rule.
    pub reputation: ReputationConfig,
    /// How model words of a full update travel. Default raw Q16.16.
    pub encoding: Encoding,
    /// Delta updates against the last keyframe (see [`crate::gossip::delta`]).
    pub delta: DeltaConfig,
    /// Most senders aggregated per round, `1..=64`. Default 32.
    pub inbox_max: u8,
    /// How far a node moves toward the round's aggregate, per regime
    /// `[Calm, PreStorm, Storm]`, each `β ∈ (0, 1]`: `w ← w + β·(aggregate
    /// − w)`, with the β of the detector's regime (Calm during its warm-up:
    /// whole averaging of cold models left the swarm 15 % behind isolated
    /// nodes for tens of rounds). 1 everywhere adopts the aggregate (the
    /// paper's rule).
    ///
    /// Default `[0.1, 0.5, 1]`, by measurement (held-out RMSE against the
    /// same nodes with the radio off, 2 seeds each): where local data are
    /// clean and plentiful (Calm), adopting the neighbours' average every
    /// round undoes each node's NLMS tracking of its own signal and the
    /// swarm stays up to 16–70 % behind isolated nodes for tens of rounds
    /// (`smoothsine-10`: +9.0 % at the end with β 1, +0.0 % with 0.1);
    /// where they are noisy (Storm), the average is what beats isolation
    /// (`smoothsine-noisy`: excess over the central optimum +5.0 % with
    /// β 1, +7.7 % with 0.1; isolated +8.9 %).
    pub aggregate_mix: [Q; 3],
    /// Energy per action.
    pub costs: EnergyCosts,
    /// Stochastic audits and Grubbs' test ([`crate::audit`]). Default off.
    pub audit: AuditConfig,
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        NodeConfig {
            id: 0,
            seed: 0,
            swarm_size: 1,
            model: LinearNeuronConfig::default(),
            step_size_by_regime: Some([q::ratio(5, 100), q::ratio(1, 10), q::ratio(2, 10)]),
            warmup_step_size: q::ratio(2, 10),
            entropy: EntropyConfig::default(),
            detector: DetectorConfig::default(),
            round_period: Duration::from_secs(10),
            round_offset: Duration::ZERO,
            collect_window: Duration::from_millis(500),
            gossip: GossipConfig::default(),
            aggregation: AggregationConfig::default(),
            reputation: ReputationConfig::default(),
            encoding: Encoding::Raw,
            delta: DeltaConfig::default(),
            inbox_max: 32,
            aggregate_mix: [q::ratio(1, 10), q::ratio(1, 2), q::ONE],
            costs: EnergyCosts::default(),
            audit: AuditConfig::default(),
        }
    }
}

/// What differs between the nodes of one run: the fields of
/// [`NodeConfig`] that [`Node::with_shared`] takes per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeIdentity {
    /// This node's id.
    pub id: NodeId,
    /// The run's seed.
    pub seed: u64,
    /// Swarm size.
    pub swarm_size: u32,
}

impl NodeIdentity {
    /// The identity fields of `config`.
    pub fn of(config: &NodeConfig) -> NodeIdentity {
        NodeIdentity {
            id: config.id,
            seed: config.seed,
            swarm_size: config.swarm_size,
        }
    }
}

/// Which aggregator a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregationConfig {
    /// A stateless rule.
    Rule(Rule),
    /// Trimmed mean while young, reputation-weighted once mature.
    Adaptive(AdaptiveConfig),
    /// Pre-aggregators (NNM, bucketing, clipping), then a rule.
    Pipeline(Pipeline),
}

impl Default for AggregationConfig {
    fn default() -> AggregationConfig {
        AggregationConfig::Rule(Rule::WeightedTrimmedMean(aggregate::WeightedTrimConfig {
            trim: aggregate::TrimConfig::default(),
            weighted: aggregate::WeightedConfig {
                cap: crate::reputation::InfluenceCap::PaperScaledWeight,
                min_reputation: q::ratio(1, 5),
                ..aggregate::WeightedConfig::default()
            },
        }))
    }
}

/// The aggregator. The stateful and pipelined ones are boxed so that a
/// node with a plain rule (the default) pays for the rule alone.
enum NodeAggregator {
    Rule(Rule),
    Adaptive(Box<AdaptiveAggregator>),
    Pipeline(Box<Pipeline>),
}

impl NodeAggregator {
    fn new(
        config: AggregationConfig,
        dim: usize,
    ) -> Result<NodeAggregator, aggregate::ConfigError> {
        match config {
            AggregationConfig::Rule(rule) => {
                rule.validate()?;
                Ok(NodeAggregator::Rule(rule))
            }
            AggregationConfig::Adaptive(c) => Ok(NodeAggregator::Adaptive(Box::new(
                AdaptiveAggregator::new(c, dim)?,
            ))),
            AggregationConfig::Pipeline(pipeline) => {
                pipeline.validate()?;
                Ok(NodeAggregator::Pipeline(Box::new(pipeline)))
            }
        }
    }

    /// Tells an adaptive aggregator the swarm's ban status (used by the
    /// seed code's maturity rule).
    fn set_swarm_status(&mut self, status: aggregate::SwarmStatus) {
        if let NodeAggregator::Adaptive(adaptive) = self {
            adaptive.set_swarm_status(status);
        }
    }

    fn aggregator(&mut self) -> &mut dyn Aggregator {
        match self {
            NodeAggregator::Rule(rule) => rule,
            NodeAggregator::Adaptive(adaptive) => &mut **adaptive,
            NodeAggregator::Pipeline(pipeline) => &mut **pipeline,
        }
    }
}

/// Why a [`NodeConfig`] was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// The model configuration is invalid.
    Model(model::ConfigError),
    /// The entropy or detector configuration is invalid.
    Regime(regime::ConfigError),
    /// The aggregation configuration is invalid.
    Aggregate(aggregate::ConfigError),
    /// The reputation configuration is invalid.
    Reputation(reputation::ReputationError),
    /// `round_period` is zero.
    RoundPeriodZero,
    /// `inbox_max` is outside `1..=64`.
    InboxOutOfRange,
    /// `aggregate_mix` is outside `(0, 1]`.
    MixOutOfRange,
    /// `collect_window` is zero or not shorter than the round.
    CollectWindowOutOfRange,
    /// `delta.keyframe_rounds` outside `1..=1000` or `delta.tracked_peers`
    /// outside `1..=64`.
    DeltaOutOfRange,
    /// A per-regime step size is outside the model's range.
    StepSizeOutOfRange,
    /// The audit configuration is invalid.
    Audit(AuditConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Model(e) => write!(f, "model: {e}"),
            ConfigError::Regime(e) => write!(f, "regime: {e}"),
            ConfigError::Aggregate(e) => write!(f, "aggregation: {e}"),
            ConfigError::Reputation(e) => write!(f, "reputation: {e}"),
            ConfigError::RoundPeriodZero => f.write_str("round period must be > 0"),
            ConfigError::InboxOutOfRange => f.write_str("inbox_max must be in 1..=64"),
            ConfigError::MixOutOfRange => f.write_str("aggregate_mix must be in (0, 1]"),
            ConfigError::DeltaOutOfRange => {
                f.write_str("delta keyframe_rounds must be in 1..=1000, tracked_peers in 1..=64")
            }
            ConfigError::CollectWindowOutOfRange => {
                f.write_str("collect window must be > 0 and shorter than the round")
            }
            ConfigError::StepSizeOutOfRange => f.write_str("per-regime step size out of range"),
            ConfigError::Audit(e) => write!(f, "audit: {e}"),
        }
    }
}

/// Counters of a node's protocol work (beyond [`Telemetry`]; the audit
/// counters are [`Node::audit_counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Model updates accepted into an inbox.
    pub updates_accepted: u32,
    /// Updates dropped because the inbox was full.
    pub updates_dropped_full: u32,
    /// Updates refused (banned or untracked sender, wrong dimension, delta
    /// without its base).
    pub updates_refused: u32,
    /// Of those, deltas whose base this node did not hold (a lost frame).
    pub delta_base_missing: u32,
    /// Updates sent as deltas.
    pub deltas_sent: u32,
    /// Rounds in which the node broadcast.
    pub broadcasts: u32,
    /// Rounds in which the gate kept the node silent.
    pub silent_rounds: u32,
    /// Rounds whose aggregation failed (e.g. too few for the rule) and kept
    /// the own model.
    pub aggregation_skipped: u32,
    /// Elementary aggregation operations (comparisons + multiply-adds).
    pub aggregation_ops: u64,
    /// Observations the reputation table refused (a peer it does not track;
    /// cannot happen while frames are admitted to both tables together).
    pub reputation_refused: u32,
}

/// The part of [`Telemetry`] a node stores; the rest is derived on demand
/// (regime from the detector, entropy from the signal's last reading,
/// rounds from the round counter and the open window, energy from the
/// meter, operations from the counters) rather than kept twice.
#[derive(Clone, Copy, Debug, Default)]
struct Observed {
    samples: u64,
    last_prediction: Q,
    last_error: Q,
}

/// An optional instant in 8 bytes instead of `Option<Instant>`'s 16:
/// `u64::MAX` µs (about 584,000 years) stands for none and is refused as
/// an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deadline(u64);

impl Deadline {
    const NONE: Deadline = Deadline(u64::MAX);

    fn get(self) -> Option<Instant> {
        (self != Deadline::NONE).then(|| Instant::from_micros(self.0))
    }
}

impl From<Option<Instant>> for Deadline {
    /// # Panics
    ///
    /// On `Instant::from_micros(u64::MAX)`, which cannot be represented.
    fn from(at: Option<Instant>) -> Deadline {
        at.map_or(Deadline::NONE, |at| {
            assert!(at.as_micros() < u64::MAX, "instant out of range");
            Deadline(at.as_micros())
        })
    }
}

/// The RaaS node runtime.
pub struct Node {
    /// The read-only configuration, shared by every node of a run built
    /// with [`Node::with_shared`]; its `id`, `seed` and `swarm_size` are
    /// not read (see `identity`).
    config: Arc<NodeConfig>,
    /// This node's `id`, `seed` and `swarm_size`.
    identity: NodeIdentity,
    model: LinearNeuron,
    entropy: EntropySignal,
    detector: RegimeDetector,
    reputation: ReputationTable,
    aggregator: NodeAggregator,
    /// The node's own aggregation scratch, allocated on its first
    /// aggregation without a lent one (see [`AggregationScratch`]).
    scratch: Option<Box<AggregationScratch>>,
    /// Boxed: most nodes never reassemble (frames fit the MTU).
    reassembler: Option<Box<Reassembler>>,
    /// The encoded update (fixed size: one frame of the model's dimension).
    outbox: Box<[u8]>,
    public: PublicModel,
    peer_models: PeerModels,
    /// Bytes of `outbox` still to send; at most its length, which is below
    /// 2^16 (`wire::MAX_FRAME_LEN`, checked at construction).
    outbox_len: u16,
    outbox_next: u8,
    frame_id: u16,
    energy_level: Q,
    next_round_at: Instant,
    /// When the open round's collection window closes (none between
    /// rounds).
    aggregate_at: Deadline,
    round: u32,
    pending_update: bool,
    meter: EnergyMeter,
    /// What [`Runtime::telemetry`] reports that is not derived from other
    /// state (see [`Observed`]).
    observed: Observed,
    /// Frames `handle_frame` rejected (beside `observed`, whose padding
    /// would otherwise hold it: 8 bytes less).
    frames_rejected: u32,
    counters: NodeCounters,
    residual_sq: Q,
    gate: Gate,
    /// Whether the node still learns at `warmup_step_size` (see
    /// `apply_step_size`).
    warmup_step: bool,
    /// The node's estimate of how its peers rate it: the reputation rule
    /// applied to its own model's agreement with each round's aggregate,
    /// which is exactly the test every peer applies to it.
    self_reputation: Q,
    /// Audit state (`None` with audits off, see [`crate::audit`]).
    audit: Option<Box<audit::AuditState>>,
}

impl Node {
    /// A node at time zero with the given configuration (which it owns:
    /// `Arc::new(config)`; see [`Node::with_shared`] to share one among
    /// the nodes of a run).
    pub fn new(config: NodeConfig) -> Result<Node, ConfigError> {
        let identity = NodeIdentity::of(&config);
        let model = config.model;
        Node::build(Arc::new(config), identity, model)
    }

    /// A node at time zero with the shared configuration `shared` and its
    /// own `identity`: the same node as `Node::new` of `shared` with
    /// `id`, `seed` and `swarm_size` set from `identity` and, when the
    /// initial weights are [`model::InitialWeights::Random`], their
    /// `seed` and `node` set to `identity.seed` and `identity.id`. The
    /// `id`, `seed` and `swarm_size` of `shared` are never read, so a host
    /// builds one configuration per run (or per peer-table size) and
    /// clones the `Arc` into every node: 8 bytes per node instead of a
    /// ~300-byte copy.
    pub fn with_shared(
        shared: Arc<NodeConfig>,
        identity: NodeIdentity,
    ) -> Result<Node, ConfigError> {
        let mut model = shared.model;
        if let model::InitialWeights::Random { seed, node, .. } = &mut model.initial_weights {
            *seed = identity.seed;
            *node = identity.id;
        }
        Node::build(shared, identity, model)
    }

    /// Validates `config` and builds the node; `model` is `config.model`
    /// with the identity's initial-weight stream.
    fn build(
        config: Arc<NodeConfig>,
        identity: NodeIdentity,
        model: LinearNeuronConfig,
    ) -> Result<Node, ConfigError> {
        if config.round_period == Duration::ZERO {
            return Err(ConfigError::RoundPeriodZero);
        }
        if config.collect_window == Duration::ZERO || config.collect_window >= config.round_period {
            return Err(ConfigError::CollectWindowOutOfRange);
        }
        if config
            .aggregate_mix
            .iter()
            .any(|mix| *mix <= q::ZERO || *mix > q::ONE)
        {
            return Err(ConfigError::MixOutOfRange);
        }
        if config.inbox_max == 0 || usize::from(config.inbox_max) > INBOX_MAX {
            return Err(ConfigError::InboxOutOfRange);
        }
        let delta = &config.delta;
        if delta.keyframe_rounds == 0
            || delta.keyframe_rounds > 1_000
            || delta.tracked_peers == 0
            || usize::from(delta.tracked_peers) > INBOX_MAX
        {
            return Err(ConfigError::DeltaOutOfRange);
        }
        let model = LinearNeuron::new(model).map_err(ConfigError::Model)?;
        let entropy = EntropySignal::new(config.entropy).map_err(ConfigError::Regime)?;
        let detector = RegimeDetector::new(config.detector).map_err(ConfigError::Regime)?;
        let reputation =
            ReputationTable::new(config.reputation).map_err(ConfigError::Reputation)?;
        let dim = model.dim();
        let aggregator =
            NodeAggregator::new(config.aggregation, dim).map_err(ConfigError::Aggregate)?;
        let audit = audit::AuditState::new(&config, dim)?;
        // `outbox_len` is a u16: no frame reaches 2^16 bytes.
        const { assert!(wire::MAX_FRAME_LEN <= u16::MAX as usize) };
        let mut node = Node {
            audit,
            reassembler: None,
            public: PublicModel::new(dim),
            peer_models: PeerModels::new(
                usize::from(config.delta.tracked_peers),
                dim,
                config.delta.encoding,
            ),
            outbox: vec![0; wire::update::FIXED_LEN + 4 * dim + wire::HEADER_LEN + wire::CRC_LEN]
                .into_boxed_slice(),
            outbox_len: 0,
            outbox_next: 0,
            frame_id: 0,
            energy_level: q::ONE,
            next_round_at: Instant::ZERO + config.round_offset + config.round_period,
            aggregate_at: Deadline::NONE,
            round: 0,
            pending_update: false,
            meter: EnergyMeter::default(),
            observed: Observed::default(),
            frames_rejected: 0,
            counters: NodeCounters::default(),
            residual_sq: q::ZERO,
            gate: Gate::new(),
            warmup_step: true,
            self_reputation: config.reputation.initial,
            model,
            entropy,
            detector,
            reputation,
            aggregator,
            // Allocated on the first aggregation that is not lent one, grown
            // to what the configured rule needs (Krum's distance table alone
            // would be 8 KiB at 33 contributions).
            scratch: None,
            config,
            identity,
        };
        // Every step size the node may switch to is checked now, so that a
        // regime change can never meet an invalid one.
        if let Some(steps) = node.config.step_size_by_regime {
            for step in steps.into_iter().chain([node.config.warmup_step_size]) {
                node.model
                    .set_step_size(step)
                    .map_err(|_| ConfigError::StepSizeOutOfRange)?;
            }
        }
        node.apply_step_size()?;
        node.audit_rebase();
        Ok(node)
    }

    /// Bytes of this node's state: `size_of::<Node>()` plus every heap
    /// allocation it owns, from capacities (see [`crate::heap`]), the
    /// aggregation scratch included once it has grown. The shared
    /// configuration is not included: it is one allocation per run (or
    /// per peer-table size), [`Node::config_bytes`] bytes, whichever number
    /// of nodes share it (for a node built by [`Node::new`] it is the
    /// node's own).
    pub fn state_bytes(&self) -> usize {
        use crate::heap::{of_box, of_slice};
        let aggregator = match &self.aggregator {
            NodeAggregator::Rule(_) => 0,
            NodeAggregator::Adaptive(adaptive) => {
                core::mem::size_of::<AdaptiveAggregator>() + adaptive.heap_bytes()
            }
            NodeAggregator::Pipeline(_) => core::mem::size_of::<Pipeline>(),
        };
        let heap = self.model.heap_bytes()
            + self.reputation.heap_bytes()
            + aggregator
            + self.own_scratch_bytes()
            + of_box(&self.reassembler)
            + self.reassembler.as_ref().map_or(0, |r| r.heap_bytes())
            + of_slice(&self.outbox[..])
            + self.public.heap_bytes()
            + self.peer_models.heap_bytes()
            + of_box(&self.audit)
            + self.audit.as_ref().map_or(0, |a| a.heap_bytes());
        core::mem::size_of::<Node>() + heap
    }

    /// Bytes of the node's own aggregation scratch, part of
    /// [`Node::state_bytes`]: 0 until the node first aggregates without a
    /// lent one ([`Node::handle_wake_lent`]), then the box and its buffers.
    pub fn own_scratch_bytes(&self) -> usize {
        crate::heap::of_box(&self.scratch) + self.scratch.as_ref().map_or(0, |s| s.heap_bytes())
    }

    /// Bytes of the shared configuration's allocation (the `Arc`'s two
    /// counters and the [`NodeConfig`]).
    pub fn config_bytes() -> usize {
        let counters = core::alloc::Layout::new::<[usize; 2]>();
        counters
            .extend(core::alloc::Layout::new::<NodeConfig>())
            .map_or(0, |(layout, _)| layout.pad_to_align().size())
    }

    /// The configuration. Its `id`, `seed` and `swarm_size` are this
    /// node's only for a node built by [`Node::new`]; [`Node::identity`]
    /// holds them for every node.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The shared configuration (to build more nodes on it).
    pub fn shared_config(&self) -> &Arc<NodeConfig> {
        &self.config
    }

    /// This node's `id`, `seed` and `swarm_size`.
    pub fn identity(&self) -> NodeIdentity {
        self.identity
    }

    /// Protocol counters.
    pub fn counters(&self) -> &NodeCounters {
        &self.counters
    }

    /// The reputation table.
    pub fn reputation(&self) -> &ReputationTable {
        &self.reputation
    }

    /// The regime detector (its counters record every transition).
    pub fn detector(&self) -> &RegimeDetector {
        &self.detector
    }

    /// The node's estimate of its own reputation among its peers (starts at
    /// the table's initial score; see the gossip gate).
    pub fn self_reputation(&self) -> Q {
        self.self_reputation
    }

    /// Replaces the node's local model with an externally computed weight
    /// vector, for hosts that compute the model elsewhere (the simulator's
    /// synthetic consensus task sets truth + noise before each broadcast).
    ///
    /// `weights` must have the model's dimension (`window_len + 1`) and
    /// every word must lie in `[-weight_limit, weight_limit]`; otherwise
    /// the call is refused with the [`model::ModelError`] and the model is
    /// left unchanged (no clamping: a host that wants clamped words clamps
    /// them itself, so a silent change of its vector cannot happen). Only
    /// the weights change: the predictor's input window, the regime
    /// detector, reputations, the peer tables and the delta keyframe are
    /// untouched, so the next broadcast sends these weights (as a delta on
    /// the last keyframe when deltas are on). Allocates nothing.
    pub fn set_local_model(&mut self, weights: &[Q]) -> Result<(), model::ModelError> {
        self.model.set_weights(weights)?;
        // An audit replays training from here on.
        self.audit_rebase();
        Ok(())
    }

    /// Sets the NLMS step size of the current regime; from the start until
    /// the first round end after the detector's warm-up, `warmup_step_size`:
    /// a cold model must learn fast, and its errors say nothing about the
    /// environment yet.
    fn apply_step_size(&mut self) -> Result<(), ConfigError> {
        if let Some(steps) = self.config.step_size_by_regime {
            let step = if self.warmup_step {
                self.config.warmup_step_size
            } else {
                steps[self.detector.regime().index()]
            };
            self.model
                .set_step_size(step)
                .map_err(|_| ConfigError::StepSizeOutOfRange)?;
        }
        Ok(())
    }

    /// Round boundary: ask the gate, and queue the locally trained model
    /// for broadcast; aggregation follows one collection window later.
    fn begin_round(&mut self, now: Instant) {
        self.round = self.round.wrapping_add(1);
        let input = GateInput {
            regime: self.detector.regime(),
            warming_up: self.detector.warming_up(),
            entropy: self.entropy.reading().raw,
            reputation: self.self_reputation,
            energy_level: self.energy_level,
        };
        if self.gate.decide(&self.config.gossip, &input) {
            self.pending_update = true;
            self.counters.broadcasts += 1;
        } else {
            self.counters.silent_rounds += 1;
        }
        self.aggregate_at = Deadline::from(Some(now + self.config.collect_window));
    }

    /// End of the collection window: aggregate what arrived, score peers.
    fn end_round(&mut self, lent: Option<&mut AggregationScratch>) {
        self.aggregate_at = Deadline::NONE;
        self.aggregate_inbox(lent);
        self.audit_end_round();
        self.peer_models.clear_heard();
        if self.warmup_step && !self.detector.warming_up() {
            // The warm-up step ends at an aggregation, not mid-round: the
            // aggregate of models trained at the fast step is a better
            // start for the slow steps than a model that has drifted for
            // part of a round at the fast step on local samples alone.
            self.warmup_step = false;
            self.apply_step_size()
                .expect("per-regime step sizes validated at construction");
        }
        // Rounds strictly increase, so this cannot fail.
        let _ = self.reputation.end_round(self.round);
    }

    /// Aggregates the own model with the models heard this round, in the
    /// `lent` scratch or else the node's own (allocated on first use and
    /// kept); see [`AggregationScratch`].
    fn aggregate_inbox(&mut self, lent: Option<&mut AggregationScratch>) {
        let heard = self.peer_models.heard_len();
        if heard == 0 {
            return;
        }
        match lent {
            Some(scratch) => self.aggregate_in(heard, scratch),
            None => {
                // Taken out for the call and put back: one allocation per node.
                let mut own = self.scratch.take().unwrap_or_default();
                self.aggregate_in(heard, &mut own);
                self.scratch = Some(own);
            }
        }
    }

    /// Aggregates the own model with the `heard` models of this round (at
    /// most `inbox_max`, in slot order; the rest are counted as dropped)
    /// in `scratch`, and adopts the result. Reads nothing `scratch` held
    /// before the call.
    fn aggregate_in(&mut self, heard: usize, scratch: &mut AggregationScratch) {
        let inbox_max = usize::from(self.config.inbox_max);
        self.counters.updates_dropped_full += heard.saturating_sub(inbox_max) as u32;
        self.meter.spend(u64::from(self.config.costs.aggregate_uj));
        let own = Contribution {
            peer: self.identity.id,
            weights: self.model.weights(),
            reputation: q::ONE,
        };
        // On the stack (INBOX_MAX + 1 entries of 32 B): no allocation per round.
        let mut buffer = [own; INBOX_MAX + 1];
        let mut count = 1;
        for (peer, weights) in self.peer_models.heard().take(inbox_max) {
            let reputation = self
                .reputation
                .score(peer)
                .unwrap_or(self.config.reputation.initial);
            buffer[count] = Contribution {
                peer,
                weights,
                reputation,
            };
            count += 1;
        }
        let contributions = &buffer[..count];
        self.aggregator.set_swarm_status(aggregate::SwarmStatus {
            peers: self.reputation.len() as u32,
            banned: self.reputation.banned_count(),
        });
        // The own model is contribution 0; bucketing's shuffle is seeded
        // per run, node and round.
        let context = aggregate::Context {
            own: Some(self.identity.id),
            seed: self.identity.seed ^ (u64::from(self.identity.id) << 32 | u64::from(self.round)),
        };
        scratch.reset_aggregate(self.model.dim());
        let AggregationScratch { rule, aggregate } = scratch;
        let result =
            self.aggregator
                .aggregator()
                .aggregate_with(&context, contributions, rule, aggregate);
        match result {
            Ok(stats) => {
                self.counters.aggregation_ops += stats.ops;
                for contribution in &contributions[1..] {
                    // A full table of banned peers refuses newcomers: counted, harmless.
                    if self
                        .reputation
                        .observe(contribution.peer, contribution.weights, aggregate)
                        .is_err()
                    {
                        self.counters.reputation_refused += 1;
                    }
                }
                audit::audit_grubbs(&mut self.audit, &contributions[1..], aggregate);
                let agreed = reputation::rms_within(
                    self.model.weights(),
                    aggregate,
                    self.config.reputation.agree_rms,
                );
                self.self_reputation = reputation::apply_rule(
                    self.config.reputation.rule,
                    self.self_reputation,
                    agreed,
                );
                let limit = self.model.weight_limit();
                let mix = self.config.aggregate_mix[self.detector.regime().index()];
                for (w, own) in aggregate.iter_mut().zip(self.model.weights()) {
                    let moved = own.saturating_add(q::mul(mix, w.saturating_sub(*own)));
                    *w = q::clamp(moved, -limit, limit);
                }
                self.model
                    .set_weights(aggregate)
                    .expect("clamped aggregate of the right dimension");
            }
            Err(_) => self.counters.aggregation_skipped += 1,
        }
    }

    fn accept_update(
        &mut self,
        sender: NodeId,
        round: u32,
        update: &ModelUpdateRepr,
    ) -> Result<(), RxError> {
        let words = update.words.as_slice();
        // Stable tables: the first peers heard are tracked for good, in
        // both tables at once; a newcomer to a full table is refused.
        let untracked = !self.reputation.admits(sender) || !self.peer_models.admits(sender);
        let refusal = if sender == self.identity.id {
            Some(RxError::UnknownSender)
        } else if self.reputation.is_banned(sender) {
            Some(RxError::Banned)
        } else if words.len() != self.model.dim() {
            Some(RxError::Malformed)
        } else if untracked {
            Some(RxError::UnknownSender)
        } else {
            None
        };
        if let Some(error) = refusal {
            self.counters.updates_refused += 1;
            return Err(error);
        }
        self.reputation
            .admit(sender)
            .expect("admits() checked above");
        let (delta, base) = (update.delta, update.base_round);
        match self.peer_models.apply(sender, round, delta, base, words) {
            Ok(_) => {
                self.counters.updates_accepted += 1;
                self.audit_on_update(sender, round, update);
                Ok(())
            }
            Err(DeltaError::MissingBase) => {
                self.counters.updates_refused += 1;
                self.counters.delta_base_missing += 1;
                Err(RxError::MissingBase)
            }
            Err(DeltaError::Full) => unreachable!("admits() checked above"),
            Err(DeltaError::Unstorable) => {
                self.counters.updates_refused += 1;
                Err(RxError::Refused)
            }
        }
    }

    fn accept(&mut self, now: Instant, frame: &FrameRepr) -> Result<(), RxError> {
        match &frame.message {
            Message::ModelUpdate(update) => self.accept_update(frame.sender, frame.round, update),
            Message::AuditChallenge(c) => {
                self.audit_on_challenge(frame.sender, c);
                Ok(())
            }
            Message::AuditResponse(r) => {
                self.audit_on_response(now, frame.sender, r);
                Ok(())
            }
            // Reports and proofs arrive with the integrity issues;
            // heartbeats carry nothing the node acts on yet.
            _ => Ok(()),
        }
    }

    /// Feeds a fragment to the reassembler (created on the first fragment,
    /// so nodes whose frames fit the MTU never pay its buffers).
    fn accept_fragment(&mut self, now: Instant, bytes: &[u8]) -> Result<(), RxError> {
        let reassembler = self.reassembler.get_or_insert_with(|| {
            Box::new(Reassembler::new(
                REASSEMBLY_SLOTS,
                wire::reassembly::DEFAULT_TIMEOUT,
            ))
        });
        match reassembler.push(now, bytes)? {
            Some(frame) => {
                let parsed = FrameRepr::parse(frame)?;
                self.accept(now, &parsed)
            }
            None => Ok(()),
        }
    }

    /// Encodes the pending update into the outbox.
    fn encode_update(&mut self) -> Option<usize> {
        let out = self.public.next(
            &self.config.delta,
            self.config.encoding,
            self.model.weights(),
            self.round,
        );
        self.counters.deltas_sent += u32::from(out.delta);
        self.audit_on_broadcast();
        let update = ModelUpdateRepr {
            regime: self.detector.regime(),
            encoding: out.encoding,
            delta: out.delta,
            base_round: out.base_round,
            residual: self.residual(),
            words: out.words,
        };
        let frame = FrameRepr {
            sender: self.identity.id,
            round: self.round,
            message: Message::ModelUpdate(update),
        };
        frame.emit(&mut self.outbox).ok()
    }

    /// [`Runtime::handle_wake`] with the aggregation's working space lent
    /// by the host for this call: the node keeps nothing of `scratch`
    /// (its contents are garbage on entry and on exit) and never allocates
    /// its own. Outputs are bit-identical to `handle_wake`'s; see
    /// [`AggregationScratch`]. A simulator keeps one scratch per thread
    /// and passes it to every node's wake.
    pub fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        self.wake(now, Some(scratch));
    }

    /// The wake-up: close the collection window if it ended (aggregating
    /// in `lent` or the node's own scratch), then begin a round if a
    /// boundary passed.
    fn wake(&mut self, now: Instant, mut lent: Option<&mut AggregationScratch>) {
        self.audit_expire(now);
        if self.aggregate_at.get().is_some_and(|at| now >= at) {
            self.end_round(lent.as_deref_mut());
        }
        if now < self.next_round_at {
            return;
        }
        if self.aggregate_at.get().is_some() {
            // A wake so late that the window and the next boundary passed
            // together: close the old round first.
            self.end_round(lent);
        }
        self.begin_round(now);
        // Skip boundaries a sleeping host missed (at most one round runs).
        self.next_round_at = self
            .next_round_at
            .next_boundary_after(now, self.config.round_period);
    }

    fn residual(&self) -> Q {
        q::sqrt(self.residual_sq)
    }
}

impl Runtime for Node {
    fn handle_sample(&mut self, _now: Instant, sample: Q) {
        self.audit_on_sample(sample);
        let prediction = self.model.predict();
        let error = self.model.observe(sample);
        let reading = self.entropy.update(error);
        let before = self.detector.regime();
        let regime = self.detector.update(reading);
        if regime != before {
            self.apply_step_size()
                .expect("per-regime step sizes validated at construction");
        }
        // Residual: EMA (1/16) of the squared error, for the update's residual field.
        let sq = q::mul(error, error);
        self.residual_sq += q::mul(sq - self.residual_sq, q::ratio(1, 16));
        self.meter.spend(u64::from(self.config.costs.sample_uj));
        self.observed.last_prediction = prediction;
        self.observed.last_error = error;
        self.observed.samples += 1;
    }

    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        self.meter
            .spend_bytes(frame.len(), self.config.costs.rx_uj_per_byte);
        let result = if frame.get(1) == Some(&wire::FRAGMENT_KIND) {
            self.accept_fragment(now, frame)
        } else {
            FrameRepr::parse(frame).and_then(|parsed| self.accept(now, &parsed))
        };
        if result.is_err() {
            self.frames_rejected += 1;
        }
        result
    }

    fn handle_wake(&mut self, now: Instant) {
        self.wake(now, None);
    }

    fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        Node::handle_wake_lent(self, now, scratch);
    }

    fn handle_energy(&mut self, _now: Instant, level: Q) {
        self.energy_level = q::clamp(level, q::ZERO, q::ONE);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.pending_update {
            self.pending_update = false;
            let encoded = self.encode_update()?;
            self.outbox_len = u16::try_from(encoded).expect("a frame is shorter than 2^16");
            self.outbox_next = 0;
            self.frame_id = self.frame_id.wrapping_add(1);
        }
        if self.outbox_len == 0 {
            return self.poll_audit_transmit(now, buf);
        }
        let mut outbox_len = usize::from(self.outbox_len);
        let sent = wire::next_fragment(
            &self.outbox,
            &mut outbox_len,
            &mut self.outbox_next,
            self.frame_id,
            buf,
        );
        self.outbox_len = u16::try_from(outbox_len).expect("never more than was encoded");
        let len = sent?;
        self.meter
            .spend_bytes(len, self.config.costs.tx_uj_per_byte);
        Some(Transmit {
            len,
            kind: FrameKind::ModelUpdate,
            destination: Destination::Broadcast,
        })
    }

    fn poll_at(&self) -> Option<Instant> {
        Some(match self.aggregate_at.get() {
            Some(at) => at.min(self.next_round_at),
            None => self.next_round_at,
        })
    }

    fn telemetry(&self) -> Telemetry {
        let observed = &self.observed;
        Telemetry {
            last_prediction: observed.last_prediction,
            last_error: observed.last_error,
            samples: observed.samples,
            regime: self.detector.regime(),
            entropy: self.entropy.reading().raw,
            energy_used_uj: self.meter.used_uj(),
            // A round's count rises when its aggregation window closes.
            rounds: self.round - u32::from(self.aggregate_at.get().is_some()),
            frames_rejected: self.frames_rejected,
            aggregation_ops: self.counters.aggregation_ops,
        }
    }

    fn weights(&self) -> &[Q] {
        self.model.weights()
    }

    /// See [`snapshot`]: the persistent state, `Node::snapshot_len` bytes.
    fn snapshot(&self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        snapshot::write(self, buf)
    }

    /// See [`snapshot`]: validates everything, leaves the node unchanged on
    /// error, forces a full keyframe next.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        snapshot::restore(self, bytes)
    }

    fn reputation_table(&self) -> Option<&ReputationTable> {
        Some(&self.reputation)
    }

    fn state_bytes(&self) -> Option<usize> {
        Some(Node::state_bytes(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MTU_ESPNOW;
    use alloc::vec::Vec;

    /// A tiny host: `n` nodes on a full mesh with instant, lossless links.
    struct Mesh {
        nodes: Vec<Node>,
        now: Instant,
        /// Lent to every node's wake when set (one for the whole mesh).
        lent: Option<AggregationScratch>,
    }

    impl Mesh {
        fn new(n: u32, tweak: impl Fn(&mut NodeConfig)) -> Mesh {
            let nodes = (0..n)
                .map(|id| {
                    let mut c = NodeConfig {
                        id,
                        seed: 7,
                        swarm_size: n,
                        ..NodeConfig::default()
                    };
                    tweak(&mut c);
                    Node::new(c).unwrap()
                })
                .collect();
            Mesh {
                nodes,
                now: Instant::ZERO,
                lent: None,
            }
        }

        /// One second: every node samples `signal(id, t)`, then wakes and
        /// frames are exchanged until quiet; `mtu` bounds frames.
        fn step(&mut self, signal: &dyn Fn(u32, u64) -> Q, mtu: usize) {
            let t = self.now.as_micros() / 1_000_000;
            for (id, node) in self.nodes.iter_mut().enumerate() {
                node.handle_sample(self.now, signal(id as u32, t));
            }
            // Round boundary and the aggregation 500 ms later.
            for at in [self.now, self.now + Duration::from_millis(500)] {
                let mut frames: Vec<(usize, Vec<u8>)> = Vec::new();
                for (id, node) in self.nodes.iter_mut().enumerate() {
                    if node.poll_at().is_some_and(|p| p <= at) {
                        match &mut self.lent {
                            Some(scratch) => node.handle_wake_lent(at, scratch),
                            None => node.handle_wake(at),
                        }
                    }
                    let mut buf = vec![0_u8; mtu];
                    while let Some(tx) = node.poll_transmit(at, &mut buf) {
                        assert!(tx.len <= mtu);
                        frames.push((id, buf[..tx.len].to_vec()));
                    }
                }
                for (from, frame) in &frames {
                    for (id, node) in self.nodes.iter_mut().enumerate() {
                        if id != *from {
                            // Refusals (banned sender) are part of the protocol.
                            let _ = node.handle_frame(at, frame);
                        }
                    }
                }
            }
            self.now += Duration::from_secs(1);
        }
    }

    /// A sine of period 32 samples, amplitude 1 (Q16.16 via integer math).
    fn sine(_node: u32, t: u64) -> Q {
        let table = [0, 12785, 25080, 36410, 46341, 54491, 60547, 64277, 65536];
        let i = (t % 32) as usize;
        let raw = match i {
            0..=8 => table[i],
            9..=16 => table[16 - i],
            17..=24 => -table[i - 16],
            _ => -table[32 - i],
        };
        Q::from_bits(raw)
    }

    fn spread(nodes: &[Node]) -> i64 {
        let dim = nodes[0].weights().len();
        (0..dim)
            .map(|k| {
                let col = nodes.iter().map(|n| i64::from(n.weights()[k].to_bits()));
                col.clone().max().unwrap() - col.min().unwrap()
            })
            .max()
            .unwrap()
    }

    #[test]
    fn deadline_round_trips_every_representable_instant() {
        assert_eq!(core::mem::size_of::<Deadline>(), 8);
        assert_eq!(Deadline::from(None).get(), None);
        assert_eq!(Deadline::NONE.get(), None);
        for micros in [0, 1, 10_000_000, u64::MAX - 1] {
            let at = Instant::from_micros(micros);
            assert_eq!(Deadline::from(Some(at)).get(), Some(at));
        }
    }

    /// One scratch lent in turn to nodes that each run a different rule
    /// (so it arrives holding another rule's leftovers) gives every node
    /// the same weights, telemetry, counters and reputations, bit for bit,
    /// as its own scratch; the lent nodes never allocate one.
    #[test]
    fn lent_scratch_is_bit_identical_to_own() {
        use aggregate::{
            CenteredClippingConfig, GeometricMedianConfig, KrumConfig, MonnaConfig, PreAggregator,
            TrimConfig,
        };
        let rules = [
            AggregationConfig::default(),
            AggregationConfig::Rule(Rule::Krum(KrumConfig::default())),
            AggregationConfig::Rule(Rule::GeometricMedian(GeometricMedianConfig::default())),
            AggregationConfig::Rule(Rule::CenteredClipping(CenteredClippingConfig::default())),
            AggregationConfig::Rule(Rule::Monna(MonnaConfig::default())),
            AggregationConfig::Rule(Rule::TrimmedMean(TrimConfig::default())),
            AggregationConfig::Adaptive(AdaptiveConfig::default()),
            AggregationConfig::Pipeline(
                Pipeline::new(&[PreAggregator::Bucketing { size: 2 }], Rule::Median).unwrap(),
            ),
        ];
        let tweak = |c: &mut NodeConfig| c.aggregation = rules[c.id as usize % rules.len()];
        let mut own = Mesh::new(rules.len() as u32, tweak);
        let mut lent = Mesh::new(rules.len() as u32, tweak);
        lent.lent = Some(AggregationScratch::new());
        for _ in 0..60 {
            own.step(&sine, 250);
            lent.step(&sine, 250);
        }
        for (a, b) in own.nodes.iter().zip(&lent.nodes) {
            assert!(a.counters.aggregation_ops > 0, "{:?}", a.config.aggregation);
            assert_eq!(a.weights(), b.weights());
            assert_eq!(a.telemetry(), b.telemetry());
            assert_eq!(a.counters(), b.counters());
            assert_eq!(a.self_reputation(), b.self_reputation());
            assert!(a.reputation().entries().eq(b.reputation().entries()));
            assert!(a.scratch.is_some() && b.scratch.is_none());
        }
    }

    #[test]
    fn swarm_learns_and_agrees() {
        let mut mesh = Mesh::new(5, |c| c.step_size_by_regime = None);
        for _ in 0..300 {
            mesh.step(&sine, MTU_ESPNOW);
        }
        let errors: Vec<i64> = mesh
            .nodes
            .iter()
            .map(|n| i64::from(n.telemetry().last_error.to_bits()).abs())
            .collect();
        // Noise-free sine: every node predicts within 0.02 after 300 samples.
        assert!(errors.iter().all(|e| *e < 1_311), "{errors:?}");
        // Aggregated at the last round boundary, then 4 samples of local
        // training apart: within 0.01 per weight.
        assert!(spread(&mesh.nodes) < 656, "spread {}", spread(&mesh.nodes));
        let c = mesh.nodes[0].counters();
        // Boundaries at 10 s, 20 s, …, 290 s.
        assert_eq!(c.broadcasts + c.silent_rounds, 29);
        assert!(c.updates_accepted > 0);
        assert_eq!(mesh.nodes[0].telemetry().rounds, 29);
        assert_eq!(mesh.nodes[0].telemetry().frames_rejected, 0);
        // Deltas by default; on lossless links every one finds its base.
        assert!(c.deltas_sent > 0 && c.deltas_sent < c.broadcasts, "{c:?}");
        assert_eq!(c.delta_base_missing, 0);
        let telemetry = mesh.nodes[0].telemetry();
        assert_eq!(telemetry.aggregation_ops, c.aggregation_ops);
        assert!(telemetry.aggregation_ops > 0);
    }

    #[test]
    fn runs_are_bit_identical() {
        let run = || {
            let mut mesh = Mesh::new(4, |_| {});
            for _ in 0..120 {
                mesh.step(&sine, MTU_ESPNOW);
            }
            mesh.nodes
                .iter()
                .flat_map(|n| n.weights().to_vec())
                .collect::<Vec<Q>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn fragments_cross_a_tiny_mtu() {
        let mut mesh = Mesh::new(3, |c| c.gossip.mode = crate::gossip::GateMode::Always);
        for _ in 0..40 {
            mesh.step(&sine, 40);
        }
        let c = mesh.nodes[1].counters();
        assert!(c.updates_accepted >= 6, "{c:?}");
        assert_eq!(mesh.nodes[1].telemetry().frames_rejected, 0);
    }

    #[test]
    fn attacker_is_banned_and_then_refused() {
        let mut mesh = Mesh::new(5, |c| c.gossip.mode = crate::gossip::GateMode::Always);
        let bias = Q::from_num(2);
        for _ in 0..300 {
            mesh.step(&sine, MTU_ESPNOW);
            // Node 4 is Byzantine: its weights are pushed far off each second.
            let w: Vec<Q> = mesh.nodes[4].weights().iter().map(|w| *w + bias).collect();
            let limit = mesh.nodes[4].model.weight_limit();
            let w: Vec<Q> = w.iter().map(|x| q::clamp(*x, -limit, limit)).collect();
            mesh.nodes[4].model.set_weights(&w).unwrap();
        }
        // Each node rates itself by the test its peers apply to it: the
        // honest ones agree with their aggregates, the attacker never does.
        let initial = NodeConfig::default().reputation.initial;
        assert!(mesh.nodes[4].self_reputation() < initial);
        for honest in &mesh.nodes[..4] {
            // 29 agreeing rounds of the EMA from 0.5: 1 − 0.5·0.95²⁹ ≈ 0.887.
            let own = honest.self_reputation();
            assert!(own > q::ratio(88, 100), "{own:?}");
            assert!(honest.reputation().is_banned(4), "attacker not banned");
            assert!(!honest.reputation().is_banned(1));
            assert!(honest.counters().updates_refused > 0);
        }
    }

    #[test]
    fn set_local_model_replaces_the_weights_or_refuses() {
        let mut node = Node::new(NodeConfig::default()).unwrap();
        let dim = node.weights().len();
        let wanted: Vec<Q> = (0..dim).map(|i| q::ratio(i as i32 - 3, 8)).collect();
        node.set_local_model(&wanted).unwrap();
        assert_eq!(node.weights(), &wanted[..]);
        // Wrong dimension: refused, model unchanged.
        assert_eq!(
            node.set_local_model(&wanted[1..]),
            Err(model::ModelError::DimensionMismatch {
                expected: dim,
                got: dim - 1
            })
        );
        assert_eq!(node.weights(), &wanted[..]);
        // A word beyond the weight limit (4 by default): refused, unchanged.
        let mut too_big = wanted.clone();
        too_big[2] = q::from_int(5);
        assert_eq!(
            node.set_local_model(&too_big),
            Err(model::ModelError::WeightOutOfRange { index: 2 })
        );
        assert_eq!(node.weights(), &wanted[..]);
        // The limit itself is accepted.
        let mut edge = wanted.clone();
        edge[0] = -q::from_int(4);
        node.set_local_model(&edge).unwrap();
        assert_eq!(node.weights()[0], -q::from_int(4));
    }

    #[test]
    fn the_set_model_is_what_the_node_broadcasts() {
        // Two nodes, always broadcasting, raw full updates, adopting the
        // aggregate: node 0's set model reaches node 1 and is averaged in.
        let mut mesh = Mesh::new(2, |c| {
            c.gossip.mode = crate::gossip::GateMode::Always;
            c.delta.enabled = false;
            c.aggregate_mix = [q::ONE; 3];
            c.aggregation = AggregationConfig::Rule(Rule::Mean);
        });
        let dim = mesh.nodes[0].weights().len();
        let zero = |_: u32, _: u64| q::ZERO;
        for _ in 0..10 {
            mesh.step(&zero, MTU_ESPNOW);
        }
        let a = vec![q::ratio(1, 2); dim];
        let b = vec![-q::ratio(1, 4); dim];
        mesh.nodes[0].set_local_model(&a).unwrap();
        mesh.nodes[1].set_local_model(&b).unwrap();
        // The boundary at 10 s broadcasts the set models (no sample in
        // between to train them), the aggregation at 10.5 s averages:
        // both hold (1/2 − 1/4) / 2 = 1/8 per word.
        assert_eq!(mesh.now, Instant::from_secs(10));
        for at in [mesh.now, mesh.now + Duration::from_millis(500)] {
            let mut frames: Vec<(usize, Vec<u8>)> = Vec::new();
            for (id, node) in mesh.nodes.iter_mut().enumerate() {
                node.handle_wake(at);
                let mut buf = vec![0_u8; MTU_ESPNOW];
                while let Some(tx) = node.poll_transmit(at, &mut buf) {
                    frames.push((id, buf[..tx.len].to_vec()));
                }
            }
            for (from, frame) in &frames {
                mesh.nodes[1 - from].handle_frame(at, frame).unwrap();
            }
        }
        for node in &mesh.nodes {
            assert!(
                node.weights().iter().all(|w| *w == q::ratio(1, 8)),
                "{:?}",
                node.weights()
            );
        }
    }

    #[test]
    fn garbage_is_rejected_and_counted() {
        let mut node = Node::new(NodeConfig::default()).unwrap();
        let inputs: [&[u8]; 5] = [
            &[],
            &[1],
            &[9; 40],
            &[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255],
            &[1, 0x80, 0, 0],
        ];
        for bytes in inputs {
            assert!(node.handle_frame(Instant::ZERO, bytes).is_err());
        }
        assert_eq!(node.telemetry().frames_rejected, 5);
        // Receiving costs energy even when the frame is rejected.
        assert!(node.telemetry().energy_used_uj > 0);
    }

    #[test]
    fn config_errors_are_reported() {
        let bad = NodeConfig {
            round_period: Duration::ZERO,
            ..NodeConfig::default()
        };
        assert_eq!(Node::new(bad).err(), Some(ConfigError::RoundPeriodZero));
        let bad = NodeConfig {
            collect_window: Duration::from_secs(10),
            ..NodeConfig::default()
        };
        assert_eq!(
            Node::new(bad).err(),
            Some(ConfigError::CollectWindowOutOfRange)
        );
        let bad = NodeConfig {
            inbox_max: 0,
            ..NodeConfig::default()
        };
        assert_eq!(Node::new(bad).err(), Some(ConfigError::InboxOutOfRange));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut node = Node::new(NodeConfig::default()).unwrap();
            let _ = node.handle_frame(Instant::ZERO, &bytes);
            node.handle_wake(Instant::from_secs(10));
            node.handle_wake(Instant::from_secs(11));
        }
    }
}
