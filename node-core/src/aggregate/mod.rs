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
//! | `Bulyan` | `θ = n − 2f` recursive Krum selections, then per coordinate the mean of the `θ − 2f` selected values closest to their median; `n ≥ 4f + 3` |
//! | `GeometricMedian` | `T` smoothed Weiszfeld steps `z ← Σ β_i x_i / Σ β_i`, `β_i = 1/max(ν, ‖z − x_i‖)`, from the mean |
//! | `CenteredClipping` | `L` steps `v ← v + (1/n) Σ (x_i − v)·min(1, τ/‖x_i − v‖)` from the own model or the coordinate median |
//! | `Meamed` | per coordinate the mean of the `n − f` values closest to the median; `n ≥ 2f + 1` |
//! | `Monna` | mean of the `n − f` contributions nearest the node's own model; `n ≥ 2f + 1` |
//!
//! A [`Pipeline`] runs up to [`MAX_PRE`] [`PreAggregator`]s (nearest-
//! neighbour mixing, seeded bucketing, static clipping) before any rule.
//! `f` is a [`Faults`]: a fixed count or a fraction of the inbox. Rules
//! that need the node's own model or a seed get them from a [`Context`]
//! ([`Rule::aggregate_with`]). Every rule refuses, with its own
//! [`AggregateError`], an input that fails its `n`/`f` condition: no rule
//! falls back to another. Each module states its formula, source and
//! fixed-point error bound; docs/aggregation.md sums them up.
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
mod bulyan;
mod centered_clipping;
mod coordinate;
mod geometric_median;
mod krum;
mod lazy_vec;
use lazy_vec::LazyVec;
mod meamed;
mod monna;
mod pipeline;
#[cfg(test)]
mod tests;
mod vector;
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
pub use bulyan::BulyanConfig;
pub use centered_clipping::{Center, CenteredClippingConfig};
pub use coordinate::trimmed_mean_ops;
pub use geometric_median::GeometricMedianConfig;
pub use meamed::MeamedConfig;
pub use monna::MonnaConfig;
pub use pipeline::{Pipeline, PreAggregator};

/// Largest number of contributions one call accepts (bounds every loop and
/// the Krum distance table: `n(n−1)/2` `u128`s, 8 MiB at this limit).
pub const MAX_CONTRIBUTIONS: usize = 1024;

/// Largest model dimension accepted.
pub const MAX_DIM: usize = 65_536;

/// Largest iteration count of the iterative rules (geometric median,
/// centered clipping): bounds their loops.
pub const MAX_ITERATIONS: u32 = 64;

/// Largest number of pre-aggregators in one [`Pipeline`].
pub const MAX_PRE: usize = 3;

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

/// How many of a round's `n` contributions the rule assumes Byzantine.
///
/// In a gossip swarm neither the number of Byzantine peers nor the inbox
/// size is known in advance, so `f` can follow the inbox:
/// [`Faults::FractionBp`] gives `f = ⌊bp·n / 10 000⌋` of each call's `n`.
/// Default [`Faults::Count`]`(1)` (the Krum default the project always had).
/// After a pre-aggregator ([`Pipeline`]) `f` is resolved on the inbox size
/// before pre-aggregation: `f` Byzantine senders corrupt at most `f`
/// derived vectors (mixed vectors or buckets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    /// A fixed count `f`.
    Count(u32),
    /// `f = ⌊bp·n / 10 000⌋`, `bp` in `0..=5 000` (at most half).
    FractionBp(u32),
}

impl Default for Faults {
    fn default() -> Self {
        Faults::Count(1)
    }
}

impl Faults {
    /// Checks a fraction is at most 5 000 bp.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Faults::FractionBp(bp) if bp > 5_000 => {
                Err(ConfigError::FaultFractionOutOfRange { bp })
            }
            _ => Ok(()),
        }
    }

    /// `f` for a call with `n` contributions.
    pub fn resolve(&self, n: usize) -> usize {
        match *self {
            Faults::Count(f) => f as usize,
            Faults::FractionBp(bp) => ((n as u64 * u64::from(bp)) / 10_000) as usize,
        }
    }
}

/// How many neighbours a Krum score sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KrumNeighbours {
    /// `n − f − 2`, the Krum paper's (Blanchard et al. 2017, §4). Default.
    #[default]
    Paper,
    /// `n − f − 1`, as the ByzFL library computes it (its score slices the
    /// sorted distance row `[1 .. n − f]`, skipping the zero self-distance).
    ByzFl,
}

impl KrumNeighbours {
    /// Neighbours summed among `r` candidates when `f` are Byzantine
    /// (may be ≤ 0 as an `i64`; callers check their condition first).
    pub fn count(&self, r: usize, f: usize) -> i64 {
        let base = r as i64 - f as i64;
        match self {
            KrumNeighbours::Paper => base - 2,
            KrumNeighbours::ByzFl => base - 1,
        }
    }
}

/// Krum / Multi-Krum parameters (Blanchard et al. 2017; docs/paper.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KrumConfig {
    /// `f`: the number of Byzantine peers tolerated. Requires
    /// `n ≥ 2f + 3`. Default 1.
    pub f: Faults,
    /// `m`: how many lowest-scoring models are averaged; 1 is Krum, more is
    /// Multi-Krum. Range `1..=n−f` (checked per call). Default 1.
    pub m: u32,
    /// Neighbours per score: `n − f − 2` (default) or ByzFL's `n − f − 1`.
    pub neighbours: KrumNeighbours,
}

impl Default for KrumConfig {
    fn default() -> Self {
        KrumConfig {
            f: Faults::Count(1),
            m: 1,
            neighbours: KrumNeighbours::Paper,
        }
    }
}

impl KrumConfig {
    /// A validated configuration with the paper's neighbour count.
    pub fn new(f: Faults, m: u32) -> Result<KrumConfig, ConfigError> {
        let config = KrumConfig {
            f,
            m,
            neighbours: KrumNeighbours::Paper,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks `m ≥ 1` and `f`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.m == 0 {
            return Err(ConfigError::MultiKrumZero);
        }
        self.f.validate()
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
    /// Bulyan: recursive Krum selection, then a per-coordinate mean around
    /// the median (El Mhamdi et al. 2018).
    Bulyan(BulyanConfig),
    /// Smoothed Weiszfeld geometric median (Pillutla et al. 2022).
    GeometricMedian(GeometricMedianConfig),
    /// Centered clipping (Karimireddy et al. 2021).
    CenteredClipping(CenteredClippingConfig),
    /// Per coordinate, the mean of the `n − f` values closest to the median
    /// (Xie et al. 2018).
    Meamed(MeamedConfig),
    /// Mean of the `n − f` nearest neighbours of the node's own model
    /// (Farhadkhani et al. 2023). Needs [`Context::own`].
    Monna(MonnaConfig),
}

/// What a caller tells an aggregator about the round besides the models.
///
/// Rules that need the node's own model ([`Rule::Monna`],
/// [`Rule::CenteredClipping`] centred on [`Center::Own`]) find it as the
/// contribution whose peer id is `own`, and fail with
/// [`AggregateError::NoOwnModel`] / [`AggregateError::OwnNotFound`]
/// otherwise. [`PreAggregator::Bucketing`] shuffles with `seed` (a node
/// passes a hash of its run seed, its id and the round), so the shuffle is
/// reproducible and there is no hidden randomness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The peer id of the node's own model among the contributions, if any.
    pub own: Option<NodeId>,
    /// The seed of any shuffle.
    pub seed: u64,
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
            Rule::Bulyan(c) => c.validate(),
            Rule::GeometricMedian(c) => c.validate(),
            Rule::CenteredClipping(c) => c.validate(),
            Rule::Meamed(c) => c.f.validate(),
            Rule::Monna(c) => c.f.validate(),
        }
    }

    /// Aggregates `contributions` into `out` by this rule, without a
    /// [`Context`] (no own model, seed 0). See the module docs for the
    /// contracts; on error `out` is unchanged.
    pub fn aggregate(
        &self,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        self.aggregate_with(&Context::default(), contributions, scratch, out)
    }

    /// Aggregates `contributions` into `out` by this rule, with the round's
    /// [`Context`]. On error `out` is unchanged.
    pub fn aggregate_with(
        &self,
        context: &Context,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        self.validate().map_err(AggregateError::Config)?;
        self.apply(context, contributions, contributions.len(), scratch, out)
    }

    /// Validates the input and runs the rule; `f_basis` is the `n` that
    /// [`Faults`] resolve against (the inbox size, before any
    /// pre-aggregation).
    fn apply(
        &self,
        context: &Context,
        contributions: &[Contribution<'_>],
        f_basis: usize,
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
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
            Rule::Krum(c) => {
                let f = c.f.resolve(f_basis);
                (krum::krum(c, f, contributions, scratch, out)?, 0, 0)
            }
            Rule::ReputationWeighted(c) => {
                let (ops, capped) = weighted::weighted(c, contributions, scratch, out)?;
                (ops, 0, capped)
            }
            Rule::WeightedTrimmedMean(c) => {
                weighted_trimmed::weighted_trimmed_mean(c, contributions, scratch, out)?
            }
            Rule::Bulyan(c) => {
                let f = c.f.resolve(f_basis);
                let (ops, trimmed) = bulyan::bulyan(c, f, contributions, scratch, out)?;
                (ops, trimmed, 0)
            }
            Rule::GeometricMedian(c) => (
                geometric_median::geometric_median(c, contributions, scratch, out),
                0,
                0,
            ),
            Rule::CenteredClipping(c) => {
                let own = match c.center {
                    Center::Own => Some(own_index("centered clipping", context, contributions)?),
                    Center::Median => None,
                };
                let (ops, clipped) =
                    centered_clipping::centered_clipping(c, own, contributions, scratch, out);
                (ops, 0, clipped)
            }
            Rule::Meamed(c) => {
                let f = c.f.resolve(f_basis);
                let (ops, trimmed) = meamed::meamed(f, contributions, scratch, out)?;
                (ops, trimmed, 0)
            }
            Rule::Monna(c) => {
                let f = c.f.resolve(f_basis);
                let own = own_index("monna", context, contributions)?;
                (monna::monna(f, own, contributions, scratch, out)?, 0, 0)
            }
        };
        let mut stats = AggregateStats::from_usage(&scratch.usage);
        stats.ops = validation_ops + rule_ops;
        stats.values_trimmed = values_trimmed;
        stats.capped = capped;
        Ok(stats)
    }
}

/// The index of the node's own model ([`Context::own`]) among
/// `contributions`, for a rule that needs it.
fn own_index(
    rule: &'static str,
    context: &Context,
    contributions: &[Contribution<'_>],
) -> Result<usize, AggregateError> {
    let own = context.own.ok_or(AggregateError::NoOwnModel { rule })?;
    contributions
        .iter()
        .position(|c| c.peer == own)
        .ok_or(AggregateError::OwnNotFound { peer: own })
}

/// Anything that turns contributions into an aggregate: the stateless
/// [`Rule`]s, [`Pipeline`]s and the stateful [`AdaptiveAggregator`].
pub trait Aggregator {
    /// Aggregates `contributions` into `out` with the round's [`Context`]
    /// (see [`Rule::aggregate_with`]).
    fn aggregate_with(
        &mut self,
        context: &Context,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError>;

    /// Aggregates without a context (no own model, seed 0).
    fn aggregate(
        &mut self,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        self.aggregate_with(&Context::default(), contributions, scratch, out)
    }
}

impl Aggregator for Rule {
    fn aggregate_with(
        &mut self,
        context: &Context,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        Rule::aggregate_with(self, context, contributions, scratch, out)
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
    /// A fraction of Byzantine contributions must be at most 5 000 bp.
    FaultFractionOutOfRange {
        /// The rejected fraction in basis points.
        bp: u32,
    },
    /// An iteration count must be in `1..=MAX_ITERATIONS`.
    IterationsOutOfRange {
        /// The rejected count.
        iterations: u32,
    },
    /// The geometric median's smoothing ν must be positive.
    SmoothingNotPositive,
    /// Centered clipping's radius τ must be positive.
    RadiusNotPositive,
    /// A bucket must hold at least one contribution.
    BucketSizeZero,
    /// The static clipping norm C must be positive.
    ClipNormNotPositive,
    /// A pipeline holds at most [`MAX_PRE`] pre-aggregators.
    TooManyPreAggregators {
        /// The number given.
        count: usize,
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
            ConfigError::FaultFractionOutOfRange { bp } => {
                write!(f, "byzantine fraction {bp} bp above 5000 bp (0.5)")
            }
            ConfigError::IterationsOutOfRange { iterations } => {
                write!(f, "iterations {iterations} outside 1..={MAX_ITERATIONS}")
            }
            ConfigError::SmoothingNotPositive => {
                f.write_str("geometric median smoothing must be positive")
            }
            ConfigError::RadiusNotPositive => {
                f.write_str("centered clipping radius must be positive")
            }
            ConfigError::BucketSizeZero => f.write_str("bucket size must be at least 1"),
            ConfigError::ClipNormNotPositive => f.write_str("clipping norm must be positive"),
            ConfigError::TooManyPreAggregators { count } => {
                write!(f, "{count} pre-aggregators, at most {MAX_PRE}")
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
    /// Bulyan needs `n ≥ 4f + 3` (El Mhamdi et al. 2018, §4).
    BulyanCondition {
        /// Contributions given.
        n: usize,
        /// Tolerated Byzantine peers.
        f: u32,
    },
    /// Meamed, MoNNA and nearest-neighbour mixing need an honest majority,
    /// `n ≥ 2f + 1`.
    MajorityCondition {
        /// The rule or pre-aggregator.
        rule: &'static str,
        /// Contributions given.
        n: usize,
        /// Tolerated Byzantine peers.
        f: u32,
    },
    /// The rule needs the node's own model but [`Context::own`] is `None`.
    NoOwnModel {
        /// The rule.
        rule: &'static str,
    },
    /// [`Context::own`] names a peer that is not among the contributions.
    OwnNotFound {
        /// The missing peer.
        peer: NodeId,
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
            AggregateError::BulyanCondition { n, f: byz } => {
                write!(f, "bulyan needs n >= 4f + 3, got n = {n}, f = {byz}")
            }
            AggregateError::MajorityCondition { rule, n, f: byz } => {
                write!(f, "{rule} needs n >= 2f + 1, got n = {n}, f = {byz}")
            }
            AggregateError::NoOwnModel { rule } => {
                write!(
                    f,
                    "{rule} needs the node's own model (context.own is unset)"
                )
            }
            AggregateError::OwnNotFound { peer } => {
                write!(f, "own model of peer {peer} is not among the contributions")
            }
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
    /// share hit its cap. Centered clipping: contributions clipped in the
    /// last iteration.
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
    /// Contribution indices sorted by peer id (validation); Bulyan: then
    /// the selected indices in selection order.
    order: Vec<u32>,
    /// Per contribution, input order.
    usage: Vec<Usage>,
    /// One coordinate: `(raw value, peer, index)`.
    column: Vec<(i32, NodeId, u32)>,
    /// Krum: pairwise squared distances, upper triangle.
    distances: LazyVec<u128>,
    /// Krum: one row of distances.
    row: LazyVec<u128>,
    /// Krum: `(score, peer, index)`.
    scores: LazyVec<(u128, NodeId, u32)>,
    /// Reputation-weighted: weights, caps and shares in units of 2^-32.
    weights: LazyVec<u64>,
    caps: LazyVec<u64>,
    shares: LazyVec<u64>,
    capped: LazyVec<bool>,
    /// Weighted trimmed mean: per contribution, the sum over coordinates of
    /// its normalized weight (raw Q16.16).
    influence: LazyVec<u64>,
    /// Pipeline: the pre-aggregated vectors, boxed so that a node that
    /// never pre-aggregates pays one pointer for them. (The newer rules
    /// reuse the buffers above — Bulyan its selection in `order` and its
    /// candidates in `capped`, the geometric median and centered clipping
    /// their weights in `row`, bucketing its keys in `scores` — to keep
    /// per-node state small.)
    pre: Option<alloc::boxed::Box<pipeline::PreBuffers>>,
}

impl Scratch {
    /// Heap bytes the buffers own (they grow to the largest call seen).
    pub fn heap_bytes(&self) -> usize {
        use crate::heap::of_vec;
        of_vec(&self.order)
            + of_vec(&self.usage)
            + of_vec(&self.column)
            + self.distances.heap_bytes()
            + self.row.heap_bytes()
            + self.scores.heap_bytes()
            + self.weights.heap_bytes()
            + self.caps.heap_bytes()
            + self.shares.heap_bytes()
            + self.capped.heap_bytes()
            + self.influence.heap_bytes()
            + self.pre.as_ref().map_or(0, |pre| {
                core::mem::size_of::<pipeline::PreBuffers>() + pre.heap_bytes()
            })
    }

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
            distances: LazyVec::with_capacity(n * n.saturating_sub(1) / 2),
            row: LazyVec::with_capacity(n),
            scores: LazyVec::with_capacity(n),
            weights: LazyVec::with_capacity(n),
            caps: LazyVec::with_capacity(n),
            shares: LazyVec::with_capacity(n),
            capped: LazyVec::with_capacity(n),
            influence: LazyVec::with_capacity(n),
            pre: None,
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

/// `n ≥ 2f + 1`, the honest majority Meamed, MoNNA and nearest-neighbour
/// mixing need; else [`AggregateError::MajorityCondition`] naming `rule`.
pub(crate) fn require_majority(
    rule: &'static str,
    n: usize,
    f: usize,
) -> Result<(), AggregateError> {
    if (n as u64) < 2 * f as u64 + 1 {
        return Err(AggregateError::MajorityCondition {
            rule,
            n,
            f: f as u32,
        });
    }
    Ok(())
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
    let raw = round_div_wide(num, den).clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    Q::from_bits(raw as i32)
}

/// `num / den` rounded to nearest (half away from zero), unsaturated.
/// Precondition `den > 0`.
pub(crate) fn round_div_wide(num: i128, den: i128) -> i128 {
    assert!(den > 0);
    let half = den / 2;
    if num >= 0 {
        (num + half) / den
    } else {
        -((-num + half) / den)
    }
}

/// `num / den` as a Q16.16 fraction, truncated (for shares).
pub(crate) fn share_of(num: u128, den: u128) -> Q {
    assert!(den > 0 && num <= den);
    let raw = (num << q::FRAC_BITS) / den;
    Q::from_bits(raw as i32)
}
