//! Robust aggregation of peer models (docs/paper.md §6; weights from §5).
//!
//! Input: one [`Contribution`] per peer (its id, its Q16.16 weights, its
//! reputation), all of the same dimension. Output: the aggregate, written
//! into the caller's `out`, plus [`AggregateStats`]; per-contribution detail
//! ([`Usage`]: used, trimmed, selected, share) is left in the [`Scratch`].
//!
//! | [`Rule`] | formula |
//! |---|---|
//! | `Mean` | `Σ x_i / n` (exact sum, one rounding) |
//! | `TrimmedMean` | per coordinate drop `t = ⌊β·n⌋` lowest and highest, average the rest |
//! | `Median` | per coordinate middle value (even `n`: mean of the two middle values) |
//! | `Krum` | score = sum of the `n−f−2` smallest squared L2 distances; average the `m` lowest scores (`m = 1`: Krum, `m > 1`: Multi-Krum) |
//! | `ReputationWeighted` | `Σ s_i x_i` with shares `s_i ∝ rep_i^e`, each capped (water-filling) |
//! | `WeightedTrimmedMean` | per coordinate drop `t = ⌊β·n_e⌋` lowest and highest of the `n_e` gated-in values, then `Σ_kept s_i x_i / Σ_kept s_i` with the `ReputationWeighted` shares |
//!
//! [`AdaptiveAggregator`] switches from the trimmed mean to the
//! reputation-weighted mean once the swarm is mature (docs/paper.md §6).
//!
//! ## Contracts
//!
//! * **Exact and deterministic.** Sums are exact integers (`i64`/`i128` on
//!   raw bits) and each output coordinate is rounded once (to nearest, half
//!   away from zero). Every sort key ends with the peer id (values tie →
//!   lower id first; Krum score ties → lowest id), and peer ids must be
//!   unique, so the output and the stats do not depend on input order.
//! * **Errors leave `out` untouched**: all checks run before any write.
//! * **No allocation at steady state**: every buffer lives in [`Scratch`],
//!   grown only when a call needs more than any before it.
//! * **Banned peers are the caller's business**: pass only peers the
//!   reputation table has not banned (docs/paper.md §6: the seed code's
//!   aggregators do not filter either). The reputation-weighted rule also
//!   offers a `min_reputation` gate.
//!
//! ## Work count (`ops`)
//!
//! `ops` counts elementary operations by a fixed cost model, so that the
//! simulator can charge work without depending on the standard library's
//! sort algorithm or on input order: a comparison sort of `k` keys costs
//! `k·⌈log₂ k⌉` comparisons; every addition, multiply-add, squared-difference
//! term, weight power step and cap test costs 1; every output division 1.
//! Input validation (sorting peer ids to find duplicates) costs
//! `n·⌈log₂ n⌉` in every rule.

mod adaptive;
mod coordinate;
mod krum;
#[cfg(test)]
mod tests;
mod weighted;
mod weighted_trimmed;

use alloc::vec::Vec;
use core::fmt;

use crate::q::{self, ONE, Q, ZERO};
use crate::reputation::{InfluenceCap, MAX_EXPONENT};
use crate::runtime::NodeId;

pub use adaptive::{
    AdaptiveAggregator, AdaptiveConfig, AdaptiveStats, Maturity, Phase, SwarmStatus,
};
pub use coordinate::trimmed_mean_ops;

/// Largest number of contributions one call accepts (bounds every loop and
/// the Krum distance table: `n(n−1)/2` `u128`s, 8 MiB at this limit).
pub const MAX_CONTRIBUTIONS: usize = 1024;

/// Largest model dimension accepted.
pub const MAX_DIM: usize = 65_536;

/// One peer's model as input to aggregation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contribution<'a> {
    /// The sender. Must be unique within one call.
    pub peer: NodeId,
    /// Its model weights; the length must equal `out.len()`.
    pub weights: &'a [Q],
    /// Its reputation in `[0, 1]` (used by the reputation-weighted rule).
    pub reputation: Q,
}

/// Coordinate-wise trimmed mean parameters (docs/paper.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrimConfig {
    /// β in basis points (1/10 000): `t = ⌊β·n⌋ = ⌊beta_bp·n / 10 000⌋`
    /// values are dropped from each end of every coordinate. Default 2 000
    /// (β = 0.2). Range `0..=5 000`. Basis points rather than Q16.16 because
    /// 0.2 is not representable in Q16.16 and `⌊β·n⌋` must be exact
    /// (`⌊0.19999695·5⌋` would be 0). For β < 0.5, `2t < n` always holds;
    /// β = 0.5 trims to the middle value for odd `n` and fails with
    /// [`AggregateError::TooFewForTrim`] for even `n`.
    pub beta_bp: u32,
}

impl Default for TrimConfig {
    fn default() -> Self {
        TrimConfig { beta_bp: 2_000 }
    }
}

impl TrimConfig {
    /// A validated configuration.
    pub fn new(beta_bp: u32) -> Result<TrimConfig, ConfigError> {
        let config = TrimConfig { beta_bp };
        config.validate()?;
        Ok(config)
    }

    /// Checks `beta_bp ≤ 5 000`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.beta_bp > 5_000 {
            return Err(ConfigError::BetaOutOfRange {
                beta_bp: self.beta_bp,
            });
        }
        Ok(())
    }

    /// `t = ⌊β·n⌋`, the values trimmed from each end.
    pub fn trim(&self, n: usize) -> usize {
        let t = (n as u64 * u64::from(self.beta_bp)) / 10_000;
        t as usize
    }
}

/// Krum / Multi-Krum parameters (Blanchard et al. 2017; docs/paper.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KrumConfig {
    /// `f`: the number of Byzantine peers tolerated. Requires
    /// `n ≥ 2f + 3`. Default 1.
    pub f: u32,
    /// `m`: how many lowest-scoring models are averaged; 1 is Krum, more is
    /// Multi-Krum. Range `1..=n−f` (checked per call). Default 1.
    pub m: u32,
}

impl Default for KrumConfig {
    fn default() -> Self {
        KrumConfig { f: 1, m: 1 }
    }
}

impl KrumConfig {
    /// A validated configuration.
    pub fn new(f: u32, m: u32) -> Result<KrumConfig, ConfigError> {
        let config = KrumConfig { f, m };
        config.validate()?;
        Ok(config)
    }

    /// Checks `m ≥ 1`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.m == 0 {
            return Err(ConfigError::MultiKrumZero);
        }
        Ok(())
    }
}

/// Reputation-weighted mean parameters (docs/paper.md §5, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightedConfig {
    /// `e` in `w_i = rep_i^e`, in `[0, 16]`. Default 3 (the seed code's
    /// cube); see [`crate::reputation::adaptive_exponent`] for Rule 4.
    pub exponent: Q,
    /// The cap on each normalized share. Default
    /// [`InfluenceCap::PaperScaledCube`] (`0.8·rep³`).
    pub cap: InfluenceCap,
    /// Contributions with reputation strictly below this are excluded
    /// (status [`Status::Gated`]). Default 0 (no gate: the caller is
    /// expected to have removed banned peers already).
    pub min_reputation: Q,
}

impl Default for WeightedConfig {
    fn default() -> Self {
        WeightedConfig {
            exponent: q::from_int(3),
            cap: InfluenceCap::PaperScaledCube,
            min_reputation: ZERO,
        }
    }
}

impl WeightedConfig {
    /// A validated configuration.
    pub fn new(
        exponent: Q,
        cap: InfluenceCap,
        min_reputation: Q,
    ) -> Result<WeightedConfig, ConfigError> {
        let config = WeightedConfig {
            exponent,
            cap,
            min_reputation,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks `exponent ∈ [0, 16]` and `min_reputation ∈ [0, 1]`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.exponent < ZERO || self.exponent > q::from_int(MAX_EXPONENT) {
            return Err(ConfigError::ExponentOutOfRange {
                exponent: self.exponent,
            });
        }
        if self.min_reputation < ZERO || self.min_reputation > ONE {
            return Err(ConfigError::MinReputationOutOfRange {
                min_reputation: self.min_reputation,
            });
        }
        Ok(())
    }
}

/// Weighted trimmed mean parameters (docs/paper.md §6; see
/// [`Rule::WeightedTrimmedMean`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeightedTrimConfig {
    /// β: values trimmed per end and coordinate, `⌊β·n_e⌋` of the `n_e`
    /// contributions that pass the gate. Default β = 0.2. When nothing
    /// would remain (`2t ≥ n_e`) no value is trimmed.
    pub trim: TrimConfig,
    /// Weights, share cap and gate of the kept values' mean. Default
    /// `rep³`, cap `0.8·rep³`, no gate.
    pub weighted: WeightedConfig,
}

impl WeightedTrimConfig {
    /// Checks both parts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.trim.validate()?;
        self.weighted.validate()
    }
}

/// An aggregation rule (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Plain mean.
    Mean,
    /// Coordinate-wise trimmed mean.
    TrimmedMean(TrimConfig),
    /// Coordinate-wise median.
    Median,
    /// Krum (`m = 1`) or Multi-Krum (`m > 1`).
    Krum(KrumConfig),
    /// Reputation-weighted mean with capped shares.
    ReputationWeighted(WeightedConfig),
    /// Coordinate-wise trimmed mean whose kept values are averaged with the
    /// reputation-weighted mean's shares (the paper's weighted trimmed
    /// mean; module docs of `weighted_trimmed`).
    WeightedTrimmedMean(WeightedTrimConfig),
}

impl Rule {
    /// Checks the rule's configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Rule::Mean | Rule::Median => Ok(()),
            Rule::TrimmedMean(c) => c.validate(),
            Rule::Krum(c) => c.validate(),
            Rule::ReputationWeighted(c) => c.validate(),
            Rule::WeightedTrimmedMean(c) => c.validate(),
        }
    }

    /// Aggregates `contributions` into `out` by this rule. See the module
    /// docs for the contracts; on error `out` is unchanged.
    pub fn aggregate(
        &self,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        self.validate().map_err(AggregateError::Config)?;
        let validation_ops = prepare(contributions, out.len(), scratch)?;
        let (rule_ops, values_trimmed, capped) = match self {
            Rule::Mean => (coordinate::mean(contributions, scratch, out), 0, 0),
            Rule::TrimmedMean(c) => {
                let (ops, trimmed) = coordinate::trimmed_mean(c, contributions, scratch, out)?;
                (ops, trimmed, 0)
            }
            Rule::Median => {
                let (ops, trimmed) = coordinate::median(contributions, scratch, out);
                (ops, trimmed, 0)
            }
            Rule::Krum(c) => (krum::krum(c, contributions, scratch, out)?, 0, 0),
            Rule::ReputationWeighted(c) => {
                let (ops, capped) = weighted::weighted(c, contributions, scratch, out)?;
                (ops, 0, capped)
            }
            Rule::WeightedTrimmedMean(c) => {
                weighted_trimmed::weighted_trimmed_mean(c, contributions, scratch, out)?
            }
        };
        let mut stats = AggregateStats::from_usage(&scratch.usage);
        stats.ops = validation_ops + rule_ops;
        stats.values_trimmed = values_trimmed;
        stats.capped = capped;
        Ok(stats)
    }
}

/// Anything that turns contributions into an aggregate: the stateless
/// [`Rule`]s and the stateful [`AdaptiveAggregator`].
pub trait Aggregator {
    /// Aggregates `contributions` into `out` (see [`Rule::aggregate`]).
    fn aggregate(
        &mut self,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError>;
}

impl Aggregator for Rule {
    fn aggregate(
        &mut self,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        Rule::aggregate(self, contributions, scratch, out)
    }
}

/// An invalid configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// β must be at most 0.5 (5 000 bp).
    BetaOutOfRange {
        /// The rejected β in basis points.
        beta_bp: u32,
    },
    /// Multi-Krum needs `m ≥ 1`.
    MultiKrumZero,
    /// The reputation exponent must be in `[0, 16]`.
    ExponentOutOfRange {
        /// The rejected exponent.
        exponent: Q,
    },
    /// `min_reputation` must be in `[0, 1]`.
    MinReputationOutOfRange {
        /// The rejected gate.
        min_reputation: Q,
    },
    /// The convergence threshold ε must be non-negative.
    EpsilonNegative,
    /// `mature_rounds` must be at least 1.
    MatureRoundsZero,
    /// The model dimension must be in `1..=MAX_DIM`.
    DimensionOutOfRange {
        /// The rejected dimension.
        dim: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BetaOutOfRange { beta_bp } => {
                write!(f, "trim fraction {beta_bp} bp above 5000 bp (0.5)")
            }
            ConfigError::MultiKrumZero => f.write_str("multi-krum m must be at least 1"),
            ConfigError::ExponentOutOfRange { exponent } => {
                write!(f, "reputation exponent {exponent} outside [0, 16]")
            }
            ConfigError::MinReputationOutOfRange { min_reputation } => {
                write!(f, "min_reputation {min_reputation} outside [0, 1]")
            }
            ConfigError::EpsilonNegative => f.write_str("convergence epsilon is negative"),
            ConfigError::MatureRoundsZero => f.write_str("mature_rounds must be at least 1"),
            ConfigError::DimensionOutOfRange { dim } => {
                write!(f, "model dimension {dim} outside 1..={MAX_DIM}")
            }
        }
    }
}

/// Why an aggregation failed. `out` is unchanged in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateError {
    /// No contributions.
    Empty,
    /// More than [`MAX_CONTRIBUTIONS`] contributions.
    TooMany {
        /// Contributions given.
        n: usize,
        /// The limit.
        max: usize,
    },
    /// `out.len()` is 0 or above [`MAX_DIM`].
    DimensionOutOfRange {
        /// The output length.
        dim: usize,
    },
    /// `out.len()` differs from the dimension a stateful aggregator was
    /// built for.
    OutputDimension {
        /// The aggregator's dimension.
        expected: usize,
        /// `out.len()`.
        found: usize,
    },
    /// A contribution's length differs from `out.len()`.
    DimensionMismatch {
        /// The offending peer.
        peer: NodeId,
        /// `out.len()`.
        expected: usize,
        /// Its length.
        found: usize,
    },
    /// Two contributions carry the same peer id (the lowest such id).
    DuplicatePeer {
        /// The repeated id.
        peer: NodeId,
    },
    /// A reputation outside `[0, 1]`.
    ReputationOutOfRange {
        /// The offending peer.
        peer: NodeId,
    },
    /// Trimmed mean: `2·trim ≥ n` would leave nothing to average. No
    /// fallback is taken: the caller decides (fewer-peer rounds are better
    /// skipped or aggregated by the median than silently untrimmed).
    TooFewForTrim {
        /// Contributions given.
        n: usize,
        /// `⌊β·n⌋`.
        trim: usize,
    },
    /// Krum needs `n ≥ 2f + 3`.
    KrumCondition {
        /// Contributions given.
        n: usize,
        /// Tolerated Byzantine peers.
        f: u32,
    },
    /// Multi-Krum needs `m ≤ n − f`.
    KrumSelection {
        /// Models to average.
        m: u32,
        /// Contributions given.
        n: usize,
        /// Tolerated Byzantine peers.
        f: u32,
    },
    /// Reputation-weighted: every contribution was gated out or has zero
    /// weight (or zero cap).
    NoWeight {
        /// Contributions that passed the gate.
        eligible: usize,
    },
    /// The rule's configuration is invalid.
    Config(ConfigError),
}

impl fmt::Display for AggregateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggregateError::Empty => f.write_str("no contributions to aggregate"),
            AggregateError::TooMany { n, max } => {
                write!(f, "{n} contributions exceed the limit of {max}")
            }
            AggregateError::DimensionOutOfRange { dim } => {
                write!(f, "output dimension {dim} outside 1..={MAX_DIM}")
            }
            AggregateError::OutputDimension { expected, found } => {
                write!(
                    f,
                    "output has {found} coordinates, aggregator built for {expected}"
                )
            }
            AggregateError::DimensionMismatch {
                peer,
                expected,
                found,
            } => write!(f, "peer {peer} sent {found} weights, expected {expected}"),
            AggregateError::DuplicatePeer { peer } => {
                write!(f, "peer {peer} contributed more than once")
            }
            AggregateError::ReputationOutOfRange { peer } => {
                write!(f, "peer {peer} has a reputation outside [0, 1]")
            }
            AggregateError::TooFewForTrim { n, trim } => write!(
                f,
                "trimmed mean of {n} contributions trims {trim} per side: nothing left"
            ),
            AggregateError::KrumCondition { n, f: byz } => {
                write!(f, "krum needs n >= 2f + 3, got n = {n}, f = {byz}")
            }
            AggregateError::KrumSelection { m, n, f: byz } => {
                write!(
                    f,
                    "multi-krum needs m <= n - f, got m = {m}, n = {n}, f = {byz}"
                )
            }
            AggregateError::NoWeight { eligible } => write!(
                f,
                "no reputation weight to aggregate ({eligible} contributions passed the gate)"
            ),
            AggregateError::Config(e) => write!(f, "invalid aggregation config: {e}"),
        }
    }
}

/// What happened to one contribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Entered the output in at least one coordinate (Krum: selected).
    #[default]
    Used,
    /// Trimmed mean / median / weighted trimmed mean: trimmed (not a
    /// middle value) in every coordinate.
    Trimmed,
    /// Krum: not among the `m` lowest scores.
    NotSelected,
    /// Reputation-weighted / weighted trimmed mean: below `min_reputation`.
    Gated,
    /// Reputation-weighted / weighted trimmed mean: passed the gate but its
    /// share is zero (reputation 0, or a cap that rounds to 0) and it
    /// entered no coordinate.
    ZeroWeight,
}

/// One contribution's fate, in input order in [`Scratch::usage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The peer.
    pub peer: NodeId,
    /// Its status.
    pub status: Status,
    /// Coordinates in which its value entered the output.
    pub coords_kept: u32,
    /// Its normalized influence on the output, averaged over coordinates
    /// (truncated to Q16.16): `1/n` for the mean, `kept/(d·(n−2t))` for the
    /// trimmed mean, `kept/(d·k)` for the median (`k` middle values), `1/m`
    /// if Krum selected it, `s_i` for the reputation-weighted mean, the mean
    /// over coordinates of `s_i / Σ_kept s_j` (each truncated) for the
    /// weighted trimmed mean.
    pub share: Q,
}

/// Counters of one aggregation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggregateStats {
    /// Contributions given.
    pub n: u32,
    /// Contributions with [`Status::Used`].
    pub used: u32,
    /// Contributions with [`Status::Trimmed`].
    pub trimmed: u32,
    /// Contributions with [`Status::NotSelected`].
    pub not_selected: u32,
    /// Contributions with [`Status::Gated`] or [`Status::ZeroWeight`].
    pub gated: u32,
    /// Reputation-weighted / weighted trimmed mean: contributions whose
    /// share hit its cap.
    pub capped: u32,
    /// Coordinate values dropped by trimming (`2t·d` for the trimmed means).
    pub values_trimmed: u64,
    /// Elementary operations by the cost model of the module docs.
    pub ops: u64,
}

impl AggregateStats {
    fn from_usage(usage: &[Usage]) -> AggregateStats {
        let mut stats = AggregateStats {
            n: usage.len() as u32,
            ..AggregateStats::default()
        };
        for u in usage {
            match u.status {
                Status::Used => stats.used += 1,
                Status::Trimmed => stats.trimmed += 1,
                Status::NotSelected => stats.not_selected += 1,
                Status::Gated | Status::ZeroWeight => stats.gated += 1,
            }
        }
        stats
    }
}

/// Reusable buffers for aggregation: create once per node, pass to every
/// call. Buffers grow to the largest call seen and are never shrunk, so a
/// round at steady state allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    /// Contribution indices sorted by peer id.
    order: Vec<u32>,
    /// Per contribution, input order.
    usage: Vec<Usage>,
    /// One coordinate: `(raw value, peer, index)`.
    column: Vec<(i32, NodeId, u32)>,
    /// Krum: pairwise squared distances, upper triangle.
    distances: Vec<u128>,
    /// Krum: one row of distances.
    row: Vec<u128>,
    /// Krum: `(score, peer, index)`.
    scores: Vec<(u128, NodeId, u32)>,
    /// Reputation-weighted: weights, caps and shares in units of 2^-32.
    weights: Vec<u64>,
    caps: Vec<u64>,
    shares: Vec<u64>,
    capped: Vec<bool>,
    /// Weighted trimmed mean: per contribution, the sum over coordinates of
    /// its normalized weight (raw Q16.16).
    influence: Vec<u64>,
}

impl Scratch {
    /// Empty buffers (they grow on first use).
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// Buffers pre-sized for `n` contributions, Krum included, so that even
    /// the first call allocates nothing.
    pub fn with_capacity(n: usize) -> Scratch {
        let n = n.min(MAX_CONTRIBUTIONS);
        Scratch {
            order: Vec::with_capacity(n),
            usage: Vec::with_capacity(n),
            column: Vec::with_capacity(n),
            distances: Vec::with_capacity(n * n.saturating_sub(1) / 2),
            row: Vec::with_capacity(n),
            scores: Vec::with_capacity(n),
            weights: Vec::with_capacity(n),
            caps: Vec::with_capacity(n),
            shares: Vec::with_capacity(n),
            capped: Vec::with_capacity(n),
            influence: Vec::with_capacity(n),
        }
    }

    /// The fate of each contribution of the last successful call, in input
    /// order (unspecified after an error).
    pub fn usage(&self) -> &[Usage] {
        &self.usage
    }
}

/// Validates the input and fills `scratch.order` and `scratch.usage`.
/// Returns the validation's ops.
fn prepare(
    contributions: &[Contribution<'_>],
    dim: usize,
    scratch: &mut Scratch,
) -> Result<u64, AggregateError> {
    let n = contributions.len();
    if n == 0 {
        return Err(AggregateError::Empty);
    }
    if n > MAX_CONTRIBUTIONS {
        return Err(AggregateError::TooMany {
            n,
            max: MAX_CONTRIBUTIONS,
        });
    }
    if dim == 0 || dim > MAX_DIM {
        return Err(AggregateError::DimensionOutOfRange { dim });
    }
    for c in contributions {
        if c.weights.len() != dim {
            return Err(AggregateError::DimensionMismatch {
                peer: c.peer,
                expected: dim,
                found: c.weights.len(),
            });
        }
        if c.reputation < ZERO || c.reputation > ONE {
            return Err(AggregateError::ReputationOutOfRange { peer: c.peer });
        }
    }
    scratch.order.clear();
    scratch.order.extend(0..n as u32);
    scratch
        .order
        .sort_unstable_by_key(|&i| contributions[i as usize].peer);
    for pair in scratch.order.windows(2) {
        let peer = contributions[pair[0] as usize].peer;
        if peer == contributions[pair[1] as usize].peer {
            return Err(AggregateError::DuplicatePeer { peer });
        }
    }
    scratch.usage.clear();
    scratch.usage.extend(contributions.iter().map(|c| Usage {
        peer: c.peer,
        ..Usage::default()
    }));
    Ok(sort_cost(n))
}

/// The cost model's price of sorting `k` keys: `k·⌈log₂ k⌉` comparisons.
pub(crate) fn sort_cost(k: usize) -> u64 {
    if k < 2 {
        return 0;
    }
    let ceil_log2 = u64::from(usize::BITS - (k - 1).leading_zeros());
    k as u64 * ceil_log2
}

/// `num / den` rounded to nearest (half away from zero) as a raw Q16.16
/// value, saturated. Precondition `den > 0`.
pub(crate) fn round_div(num: i128, den: i128) -> Q {
    assert!(den > 0);
    let half = den / 2;
    let quotient = if num >= 0 {
        (num + half) / den
    } else {
        -((-num + half) / den)
    };
    let raw = quotient.clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    Q::from_bits(raw as i32)
}

/// `num / den` as a Q16.16 fraction, truncated (for shares).
pub(crate) fn share_of(num: u128, den: u128) -> Q {
    assert!(den > 0 && num <= den);
    let raw = (num << q::FRAC_BITS) / den;
    Q::from_bits(raw as i32)
}
