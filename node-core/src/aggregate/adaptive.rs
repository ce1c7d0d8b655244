//! Adaptive aggregation: trimmed mean while the swarm is young, the
//! reputation-weighted mean once it is mature (docs/paper.md §6).
//!
//! The paper defines "mature" as "more than 30 rounds post-convergence" but
//! never defines convergence; the seed code uses a ban count instead. Both
//! are offered ([`Maturity`]):
//!
//! * **`Convergence` (default).** Round `r` is *converged* when the L∞ change
//!   of the aggregate from round `r−1`, `max_k |out_k(r) − out_k(r−1)|`, is
//!   at most `ε` (default 0.01, the paper's audit tolerance, docs/paper.md §7).
//!   The swarm is *mature* once `mature_rounds` (default 30) consecutive
//!   rounds are converged, and stays mature while rounds keep converging.
//!   A single round whose change exceeds `ε` resets the count: the swarm is
//!   young again (from the next round on) and must converge for
//!   `mature_rounds` more rounds. A reputation collapse (e.g. a cartel
//!   building trust, then attacking) is caught by the same test: once its
//!   weight moves the model by more than ε, the next round is trimmed
//!   again. The first round never counts as converged.
//! * **`SeedBanCount` (the seed code's `is_cold_start`).** Young ("cold
//!   start") iff `banned < min_banned` (3) or `banned / peers > max rate`
//!   (1 %), from the [`SwarmStatus`] the caller sets. Note (docs/paper.md §6):
//!   this can never be mature in a 25 %-Byzantine swarm: before 3 bans it is
//!   young by the count, after them the ban rate is far above 1 %; and it
//!   needs at least 300 peers for 3 bans to be ≤ 1 %.
//!
//! Work saved: each round adds the ops actually spent, and the ops the
//! trimmed mean would have cost on the same input
//! ([`super::trimmed_mean_ops`]); their difference is the saving the paper
//! claims as "13.8 %" without measuring it (docs/paper.md §6).

use alloc::vec::Vec;

use super::{
    AggregateError, AggregateStats, Aggregator, ConfigError, Context, Contribution, MAX_DIM, Rule,
    Scratch, TrimConfig, WeightedConfig, trimmed_mean_ops,
};
use crate::q::{self, Q, ZERO};

/// When the swarm counts as mature (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maturity {
    /// Mature after `mature_rounds` consecutive rounds with L∞ change ≤ ε.
    Convergence {
        /// ε: the largest L∞ change of a converged round. Default 0.01.
        epsilon: Q,
        /// Consecutive converged rounds needed. Default 30.
        mature_rounds: u32,
    },
    /// The seed code's rule: young iff `banned < min_banned` or
    /// `banned · 10 000 > max_ban_rate_bp · peers`.
    SeedBanCount {
        /// Default 3.
        min_banned: u32,
        /// Default 100 bp (1 %).
        max_ban_rate_bp: u32,
    },
}

impl Default for Maturity {
    fn default() -> Self {
        Maturity::Convergence {
            epsilon: q::ratio(1, 100),
            mature_rounds: 30,
        }
    }
}

impl Maturity {
    /// The seed code's rule with its constants (3 bans, 1 %).
    pub const SEED: Maturity = Maturity::SeedBanCount {
        min_banned: 3,
        max_ban_rate_bp: 100,
    };
}

/// Configuration of an [`AdaptiveAggregator`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdaptiveConfig {
    /// The young-phase rule. Default β = 0.2.
    pub trim: TrimConfig,
    /// The mature-phase rule. Default `rep³`, cap `0.8·rep³`, no gate.
    pub weighted: WeightedConfig,
    /// The maturity test. Default [`Maturity::Convergence`] (ε 0.01, 30).
    pub maturity: Maturity,
}

impl AdaptiveConfig {
    /// Checks every part.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.trim.validate()?;
        self.weighted.validate()?;
        if let Maturity::Convergence {
            epsilon,
            mature_rounds,
        } = self.maturity
        {
            if epsilon < ZERO {
                return Err(ConfigError::EpsilonNegative);
            }
            if mature_rounds == 0 {
                return Err(ConfigError::MatureRoundsZero);
            }
        }
        Ok(())
    }
}

/// The swarm's phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Trimmed mean.
    #[default]
    Young,
    /// Reputation-weighted mean.
    Mature,
}

/// Peer counts for [`Maturity::SeedBanCount`], set by the caller from its
/// reputation table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwarmStatus {
    /// Peers known (banned included).
    pub peers: u32,
    /// Peers banned.
    pub banned: u32,
}

/// Cumulative counters of an [`AdaptiveAggregator`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdaptiveStats {
    /// Successful rounds.
    pub rounds: u64,
    /// Rounds aggregated by the trimmed mean.
    pub rounds_young: u64,
    /// Rounds aggregated by the reputation-weighted mean.
    pub rounds_mature: u64,
    /// Phase changes (either way).
    pub switches: u32,
    /// Ops spent.
    pub ops_spent: u64,
    /// Ops the trimmed mean would have spent on the same rounds.
    pub ops_trimmed_baseline: u64,
}

impl AdaptiveStats {
    /// Ops not spent thanks to the mature phase (0 if it cost more).
    pub fn ops_saved(&self) -> u64 {
        self.ops_trimmed_baseline.saturating_sub(self.ops_spent)
    }
}

/// The stateful adaptive aggregator (module docs). Holds the previous
/// aggregate (allocated once at construction).
#[derive(Clone, Debug)]
pub struct AdaptiveAggregator {
    config: AdaptiveConfig,
    phase: Phase,
    /// Consecutive converged rounds.
    streak: u32,
    previous: Vec<Q>,
    has_previous: bool,
    last_change: Option<Q>,
    swarm: SwarmStatus,
    stats: AdaptiveStats,
}

impl AdaptiveAggregator {
    /// Heap bytes the aggregator owns (the previous aggregate).
    pub fn heap_bytes(&self) -> usize {
        crate::heap::of_vec(&self.previous)
    }

    /// A young aggregator for models of dimension `dim`.
    pub fn new(config: AdaptiveConfig, dim: usize) -> Result<AdaptiveAggregator, ConfigError> {
        config.validate()?;
        if dim == 0 || dim > MAX_DIM {
            return Err(ConfigError::DimensionOutOfRange { dim });
        }
        Ok(AdaptiveAggregator {
            config,
            phase: Phase::Young,
            streak: 0,
            previous: alloc::vec![ZERO; dim],
            has_previous: false,
            last_change: None,
            swarm: SwarmStatus::default(),
            stats: AdaptiveStats::default(),
        })
    }

    /// The phase the next round will use (for [`Maturity::SeedBanCount`]:
    /// given the current [`SwarmStatus`]).
    pub fn phase(&self) -> Phase {
        match self.config.maturity {
            Maturity::Convergence { .. } => self.phase,
            Maturity::SeedBanCount {
                min_banned,
                max_ban_rate_bp,
            } => {
                let SwarmStatus { peers, banned } = self.swarm;
                let rate_too_high =
                    u64::from(banned) * 10_000 > u64::from(max_ban_rate_bp) * u64::from(peers);
                if banned < min_banned || rate_too_high {
                    Phase::Young
                } else {
                    Phase::Mature
                }
            }
        }
    }

    /// Consecutive converged rounds so far.
    pub fn converged_streak(&self) -> u32 {
        self.streak
    }

    /// The L∞ change of the last round's aggregate, if there were two rounds.
    pub fn last_change(&self) -> Option<Q> {
        self.last_change
    }

    /// Cumulative counters.
    pub fn stats(&self) -> &AdaptiveStats {
        &self.stats
    }

    /// Updates the peer counts used by [`Maturity::SeedBanCount`].
    pub fn set_swarm_status(&mut self, status: SwarmStatus) {
        self.swarm = status;
    }

    /// Aggregates one round by the current phase's rule, then updates the
    /// convergence state from the new aggregate. On error nothing changes.
    pub fn aggregate(
        &mut self,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        if out.len() != self.previous.len() {
            return Err(AggregateError::OutputDimension {
                expected: self.previous.len(),
                found: out.len(),
            });
        }
        let phase = self.phase();
        let rule = match phase {
            Phase::Young => Rule::TrimmedMean(self.config.trim),
            Phase::Mature => Rule::ReputationWeighted(self.config.weighted),
        };
        let stats = rule.aggregate(contributions, scratch, out)?;
        let n = contributions.len();
        self.stats.rounds += 1;
        match phase {
            Phase::Young => self.stats.rounds_young += 1,
            Phase::Mature => self.stats.rounds_mature += 1,
        }
        self.stats.ops_spent += stats.ops;
        self.stats.ops_trimmed_baseline += trimmed_mean_ops(n, out.len(), self.config.trim.trim(n));
        self.track_convergence(out);
        if self.phase() != phase {
            self.stats.switches += 1;
        }
        Ok(stats)
    }

    /// L∞ change, streak and phase update; remembers `out`.
    fn track_convergence(&mut self, out: &[Q]) {
        let change = self
            .has_previous
            .then(|| linf_distance(out, &self.previous));
        self.previous.copy_from_slice(out);
        self.has_previous = true;
        self.last_change = change;
        let Maturity::Convergence {
            epsilon,
            mature_rounds,
        } = self.config.maturity
        else {
            return;
        };
        match change {
            Some(c) if c <= epsilon => self.streak = self.streak.saturating_add(1),
            _ => self.streak = 0,
        }
        self.phase = if self.streak >= mature_rounds {
            Phase::Mature
        } else {
            Phase::Young
        };
    }
}

impl Aggregator for AdaptiveAggregator {
    /// The context is not used: both phases' rules need no own model.
    fn aggregate_with(
        &mut self,
        _context: &Context,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        AdaptiveAggregator::aggregate(self, contributions, scratch, out)
    }
}

/// `max_k |a_k − b_k|`, saturated to Q16.16.
fn linf_distance(a: &[Q], b: &[Q]) -> Q {
    assert_eq!(a.len(), b.len());
    let max = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| (i64::from(x.to_bits()) - i64::from(y.to_bits())).unsigned_abs())
        .max()
        .unwrap_or(0);
    Q::from_bits(max.min(i32::MAX as u64) as i32)
}
