//! Per-peer reputation: scores, the update rule, sticky bans, the adaptive
//! exponent ("Rule 4") and the influence cap (docs/paper.md §5).
//!
//! ## The update rule
//!
//! Each round, the node compares every peer's update with the round's
//! aggregate and calls [`ReputationTable::observe`]. The comparison is our
//! operationalization of the paper's `PeerEval ∈ {0, 1}` ("did the broadcast
//! agree with the swarm", never implemented in the paper's code, docs/paper.md §5):
//!
//! `PeerEval = 1  ⇔  RMS(update − aggregate) ≤ τ_agree`
//!
//! evaluated exactly in integers (`Σ (u−a)² ≤ τ²·d` on raw bits), so there
//! is no square root and no rounding in the decision. The default
//! `τ_agree = 0.3` is the threshold of the paper's own simulations (docs/paper.md
//! §5: `RMSE(update, aggregate) > 0.3` is penalised): it sits at 6σ of the
//! paper's honest noise (σ = 0.05, docs/paper.md §8), so an honest peer almost
//! never fails it, and below the paper's bias attack (+0.5 per coordinate,
//! RMS 0.5), which always fails it.
//!
//! Two rules turn PeerEval into a score ([`UpdateRule`]):
//! * **EMA (default, paper §III-E)**: `R ← (1−γ)·R + γ·PeerEval`, `γ = 0.05`.
//!   From the start value 0.5 a peer that always disagrees falls below
//!   `ρ_min = 0.2` after `⌈log(0.4)/log(0.95)⌉ = 18` rounds (17.86 exactly;
//!   the Q16.16 run also gives 18, pinned by a test).
//! * **Additive (seed code)**: `+0.02` on agreement, `−0.08` on
//!   disagreement, clamped to `[0, 1]`: banned after 4 disagreements.
//!
//! ## Bans, idle decay, capacity
//!
//! A peer whose score drops strictly below `ρ_min` is banned. **Bans are
//! sticky**: a banned entry is never updated, decayed nor removed, so a
//! banned peer cannot wash its record by going quiet or by flooding the
//! table with other ids. Callers exclude banned peers from aggregation (see
//! [`crate::aggregate`]) and refuse their frames.
//!
//! Peers not observed in a round drift toward the prior (0.5) by
//! `idle_decay` per round: `R ← R + δ·(0.5 − R)`. The default δ = 0 (off)
//! follows the paper, whose core has no time decay; a positive δ forgives
//! old disagreement and forgets old trust.
//!
//! **Stable capacity.** The table holds at most `max_peers` entries
//! (default 32), allocated once: the first `max_peers` peers the node
//! hears ([`ReputationTable::admit`], or a first
//! [`ReputationTable::observe`]). A tracked peer is never evicted, so its
//! history (and its ban) lasts as long as the node; a newcomer to a full
//! table is refused ([`ReputationError::TableFull`]) and the caller refuses
//! its frames. An eviction policy (least recently seen, as before) let a
//! node with more neighbours than entries churn: an evicted peer came back
//! at 0.5, so a disagreeing peer that kept being evicted was never banned.
//! The price of stability: a tracked peer that falls silent for good keeps
//! its entry, and a banned one keeps its slot.

use alloc::vec::Vec;
use core::fmt;

use crate::codec::{Invalid, Reader, Writer};
use crate::q::{self, Acc, ONE, Q, ZERO};
use crate::runtime::NodeId;

/// Largest accepted `max_peers` (bounds the table and its loops).
pub const MAX_PEERS_LIMIT: u32 = 65_536;

/// Largest accepted reputation exponent (bounds [`rep_pow`]'s loop).
pub const MAX_EXPONENT: i32 = 16;

/// How a score reacts to one PeerEval (docs/paper.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateRule {
    /// paper §III-E: `R ← (1−γ)·R + γ·PeerEval`, `γ ∈ (0, 1]`.
    Ema {
        /// The EMA rate γ (paper: 0.05).
        gamma: Q,
    },
    /// Seed code (`reputation.rs`): `R ← clamp(R + reward)` on agreement,
    /// `R ← clamp(R − penalty)` on disagreement, clamped to `[0, 1]`.
    Additive {
        /// Added on agreement (seed code: 0.02, a valid ZKP).
        reward: Q,
        /// Subtracted on disagreement (seed code: 0.08, drift detected).
        penalty: Q,
    },
}

impl UpdateRule {
    /// The paper's EMA with γ = 0.05 (the default).
    pub const PAPER_EMA: UpdateRule = UpdateRule::Ema {
        gamma: q::ratio(5, 100),
    };

    /// The seed code's additive rule: +0.02 / −0.08.
    pub const SEED_ADDITIVE: UpdateRule = UpdateRule::Additive {
        reward: q::ratio(2, 100),
        penalty: q::ratio(8, 100),
    };
}

/// Configuration of a [`ReputationTable`]; every field documents its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReputationConfig {
    /// Table capacity in peers. Default 32. Range `1..=MAX_PEERS_LIMIT`.
    pub max_peers: u32,
    /// Score update rule. Default [`UpdateRule::PAPER_EMA`].
    pub rule: UpdateRule,
    /// Score of a newly seen peer, and the prior idle decay pulls toward.
    /// Default 0.5 (paper §III-E).
    pub initial: Q,
    /// `ρ_min`: a score strictly below this bans the peer. Default 0.2.
    pub ban_threshold: Q,
    /// `τ_agree`: largest RMS distance to the aggregate that counts as
    /// agreement (PeerEval = 1). Default 0.3 (see the module docs).
    pub agree_rms: Q,
    /// `δ`: per-round pull of idle peers toward `initial`, in `[0, 1]`.
    /// Default 0 (off).
    pub idle_decay: Q,
}

impl Default for ReputationConfig {
    fn default() -> Self {
        ReputationConfig {
            max_peers: 32,
            rule: UpdateRule::PAPER_EMA,
            initial: q::ratio(1, 2),
            ban_threshold: q::ratio(1, 5),
            agree_rms: q::ratio(3, 10),
            idle_decay: ZERO,
        }
    }
}

impl ReputationConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), ReputationError> {
        if self.max_peers == 0 || self.max_peers > MAX_PEERS_LIMIT {
            return Err(ReputationError::MaxPeersOutOfRange {
                max_peers: self.max_peers,
            });
        }
        let unit = |x: Q| (ZERO..=ONE).contains(&x);
        let rule_ok = match self.rule {
            UpdateRule::Ema { gamma } => gamma > ZERO && gamma <= ONE,
            UpdateRule::Additive { reward, penalty } => unit(reward) && unit(penalty),
        };
        let checks = [
            ("rule", rule_ok),
            ("initial", unit(self.initial)),
            ("ban_threshold", unit(self.ban_threshold)),
            ("agree_rms", self.agree_rms >= ZERO),
            ("idle_decay", unit(self.idle_decay)),
        ];
        for (name, ok) in checks {
            if !ok {
                return Err(ReputationError::ParameterOutOfRange { name });
            }
        }
        Ok(())
    }
}

/// Why a reputation operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReputationError {
    /// `max_peers` is 0 or above [`MAX_PEERS_LIMIT`].
    MaxPeersOutOfRange {
        /// The rejected value.
        max_peers: u32,
    },
    /// A configuration parameter is outside its documented range.
    ParameterOutOfRange {
        /// The field's name.
        name: &'static str,
    },
    /// The update and the aggregate have different lengths, or are empty.
    DimensionMismatch {
        /// Length of the peer's update.
        update: usize,
        /// Length of the aggregate.
        aggregate: usize,
    },
    /// The table is full (tracked peers are never evicted); the new peer
    /// was not recorded.
    TableFull {
        /// The peer that could not be added.
        peer: NodeId,
    },
    /// `end_round` was called with a round not after the last closed one.
    RoundNotIncreasing {
        /// The last closed round.
        last: u32,
        /// The round given.
        given: u32,
    },
}

impl fmt::Display for ReputationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReputationError::MaxPeersOutOfRange { max_peers } => write!(
                f,
                "max_peers {max_peers} out of range 1..={MAX_PEERS_LIMIT}"
            ),
            ReputationError::ParameterOutOfRange { name } => {
                write!(f, "reputation parameter `{name}` out of range")
            }
            ReputationError::DimensionMismatch { update, aggregate } => write!(
                f,
                "update has {update} weights, aggregate {aggregate} (must be equal and non-zero)"
            ),
            ReputationError::TableFull { peer } => {
                write!(f, "reputation table full; peer {peer} not tracked")
            }
            ReputationError::RoundNotIncreasing { last, given } => {
                write!(f, "round {given} is not after the last closed round {last}")
            }
        }
    }
}

/// One peer's record. Read-only outside this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The peer.
    pub peer: NodeId,
    /// Its score in `[0, 1]`.
    pub score: Q,
    /// The last round in which it was observed (for an entry first seen in
    /// the round still open: that round's number, provisionally).
    pub last_seen: u32,
    /// Disagreements (PeerEval = 0) counted so far.
    pub strikes: u32,
    /// Banned (sticky, see the module docs).
    pub banned: bool,
    /// Observed since the last `end_round`.
    seen: bool,
}

/// What one [`ReputationTable::observe`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// PeerEval: the update agreed with the aggregate (RMS ≤ τ_agree).
    pub agreed: bool,
    /// The peer's score afterwards.
    pub score: Q,
    /// The peer is banned (now or before).
    pub banned: bool,
    /// This observation banned it.
    pub newly_banned: bool,
}

/// The per-peer reputation table (docs/paper.md §5): fixed capacity, the first
/// `max_peers` peers heard, never evicted (module docs); entries kept sorted
/// by peer id (binary search, deterministic iteration), no allocation after
/// construction.
#[derive(Clone, Debug)]
pub struct ReputationTable {
    config: ReputationConfig,
    entries: Vec<Entry>,
    /// The round currently open (observations belong to it).
    open_round: u32,
    /// The last round closed by `end_round`, if any.
    last_closed: Option<u32>,
}

impl ReputationTable {
    /// Heap bytes the table owns (its entries).
    pub fn heap_bytes(&self) -> usize {
        crate::heap::of_vec(&self.entries)
    }

    /// An empty table; allocates its `max_peers` entries once.
    pub fn new(config: ReputationConfig) -> Result<ReputationTable, ReputationError> {
        config.validate()?;
        Ok(ReputationTable {
            config,
            entries: Vec::with_capacity(config.max_peers as usize),
            open_round: 0,
            last_closed: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ReputationConfig {
        &self.config
    }

    /// The score of `peer`, or `None` if it is not in the table.
    pub fn score(&self, peer: NodeId) -> Option<Q> {
        self.find(peer).ok().map(|i| self.entries[i].score)
    }

    /// Whether `peer` is banned (unknown peers are not).
    pub fn is_banned(&self, peer: NodeId) -> bool {
        self.find(peer).is_ok_and(|i| self.entries[i].banned)
    }

    /// Entries in increasing peer-id order.
    pub fn entries(&self) -> core::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Number of peers in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `max_peers` peers are tracked (newcomers are refused).
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.config.max_peers as usize
    }

    /// Whether `peer` is tracked or would be on [`ReputationTable::admit`]
    /// (the table has room). Lets a caller check several tables before
    /// admitting a peer to any of them.
    pub fn admits(&self, peer: NodeId) -> bool {
        !self.is_full() || self.find(peer).is_ok()
    }

    /// Tracks `peer` from now on (score `initial`, not yet observed) if it
    /// is new and the table has room; a tracked peer is left unchanged.
    /// Call it when a peer is first heard, so that the table holds the
    /// first `max_peers` peers heard. Fails with
    /// [`ReputationError::TableFull`] for a newcomer to a full table.
    pub fn admit(&mut self, peer: NodeId) -> Result<(), ReputationError> {
        let index = self.find_or_insert(peer, false)?;
        assert_eq!(self.entries[index].peer, peer);
        Ok(())
    }

    /// Number of banned peers in the table.
    pub fn banned_count(&self) -> u32 {
        let count = self.entries.iter().filter(|e| e.banned).count();
        count as u32
    }

    /// Records one PeerEval of `peer`: compares its `update` with the round's
    /// `aggregate` (RMS ≤ τ_agree, see [`rms_within`]) and applies the
    /// update rule. Call it once per peer per round; each call counts.
    /// A banned peer's record does not change.
    pub fn observe(
        &mut self,
        peer: NodeId,
        update: &[Q],
        aggregate: &[Q],
    ) -> Result<Observation, ReputationError> {
        if update.len() != aggregate.len() || update.is_empty() {
            return Err(ReputationError::DimensionMismatch {
                update: update.len(),
                aggregate: aggregate.len(),
            });
        }
        let agreed = rms_within(update, aggregate, self.config.agree_rms);
        let index = self.find_or_insert(peer, true)?;
        let config = self.config;
        let entry = &mut self.entries[index];
        entry.seen = true;
        let was_banned = entry.banned;
        if !was_banned {
            entry.score = apply_rule(config.rule, entry.score, agreed);
            if !agreed {
                entry.strikes = entry.strikes.saturating_add(1);
            }
            entry.banned = entry.score < config.ban_threshold;
        }
        assert!(entry.score >= ZERO && entry.score <= ONE);
        Ok(Observation {
            agreed,
            score: entry.score,
            banned: entry.banned,
            newly_banned: entry.banned && !was_banned,
        })
    }

    /// Lowers `peer`'s score by `penalty` (clamped at 0), outside the
    /// per-round rule: the consequence of a failed audit
    /// ([`crate::audit`]). Bans the peer when `ban` is set or its score
    /// falls below `ban_threshold`; counts a strike. A banned peer's
    /// record does not change. Tracks a new peer if the table has room
    /// (fails with [`ReputationError::TableFull`] otherwise).
    pub fn penalize(
        &mut self,
        peer: NodeId,
        penalty: Q,
        ban: bool,
    ) -> Result<Observation, ReputationError> {
        let index = self.find_or_insert(peer, false)?;
        let threshold = self.config.ban_threshold;
        let entry = &mut self.entries[index];
        let was_banned = entry.banned;
        if !was_banned {
            entry.score = q::clamp(entry.score.saturating_sub(penalty), ZERO, ONE);
            entry.strikes = entry.strikes.saturating_add(1);
            entry.banned = ban || entry.score < threshold;
        }
        Ok(Observation {
            agreed: false,
            score: entry.score,
            banned: entry.banned,
            newly_banned: entry.banned && !was_banned,
        })
    }

    /// Closes `round`: peers observed since the last call get
    /// `last_seen = round`; the others (not banned) decay toward the prior by
    /// `idle_decay` (one step per call). Rounds must increase.
    pub fn end_round(&mut self, round: u32) -> Result<(), ReputationError> {
        if let Some(last) = self.last_closed
            && round <= last
        {
            return Err(ReputationError::RoundNotIncreasing { last, given: round });
        }
        let (prior, decay) = (self.config.initial, self.config.idle_decay);
        for entry in self.entries.iter_mut() {
            if entry.seen {
                entry.last_seen = round;
                entry.seen = false;
            } else if !entry.banned && decay > ZERO {
                let pull = q::mul(decay, prior - entry.score);
                entry.score = q::clamp(entry.score + pull, ZERO, ONE);
            }
        }
        self.last_closed = Some(round);
        self.open_round = round.saturating_add(1);
        Ok(())
    }

    fn find(&self, peer: NodeId) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&peer, |e| e.peer)
    }

    /// The index of `peer`'s entry, inserting it at `initial` (with its
    /// `seen` flag) if it is new and the table has room. Never evicts.
    fn find_or_insert(&mut self, peer: NodeId, seen: bool) -> Result<usize, ReputationError> {
        let slot = match self.find(peer) {
            Ok(index) => return Ok(index),
            Err(slot) => slot,
        };
        if self.is_full() {
            return Err(ReputationError::TableFull { peer });
        }
        let entry = Entry {
            peer,
            score: self.config.initial,
            last_seen: self.open_round,
            strikes: 0,
            banned: false,
            seen,
        };
        // Allocated once at construction: inserting never reallocates.
        assert!(self.entries.len() < self.entries.capacity());
        self.entries.insert(slot, entry);
        assert!(self.entries.len() <= self.config.max_peers as usize);
        debug_assert!(self.entries.windows(2).all(|w| w[0].peer < w[1].peer));
        Ok(slot)
    }
}

/// One application of `rule` to `score` (docs/paper.md §5). Public so that a
/// node can score itself by the rule its peers apply to it.
pub fn apply_rule(rule: UpdateRule, score: Q, agreed: bool) -> Q {
    match rule {
        UpdateRule::Ema { gamma } => {
            let eval = if agreed { ONE } else { ZERO };
            let mut acc = Acc::new();
            acc.mac(ONE - gamma, score);
            acc.mac(gamma, eval);
            q::clamp(acc.finish(), ZERO, ONE)
        }
        UpdateRule::Additive { reward, penalty } => {
            let next = if agreed {
                score.saturating_add(reward)
            } else {
                score.saturating_sub(penalty)
            };
            q::clamp(next, ZERO, ONE)
        }
    }
}

/// Whether `RMS(update − aggregate) ≤ tau`, decided exactly on raw bits:
/// `Σ (u_k − a_k)² ≤ τ² · d` in `u128` (no square root, no rounding).
/// Precondition: equal, non-zero lengths.
pub fn rms_within(update: &[Q], aggregate: &[Q], tau: Q) -> bool {
    assert_eq!(update.len(), aggregate.len());
    assert!(!update.is_empty());
    let mut sum_sq: u128 = 0;
    for (u, a) in update.iter().zip(aggregate.iter()) {
        let diff = i64::from(u.to_bits()) - i64::from(a.to_bits());
        sum_sq += u128::from(diff.unsigned_abs()).pow(2);
    }
    let tau_raw = u128::from(tau.to_bits().max(0).unsigned_abs());
    sum_sq <= tau_raw * tau_raw * update.len() as u128
}

/// The adaptive reputation exponent ("Rule 4", docs/paper.md §5,
/// `docs/adaptive/META_TUNING.md`): 2.0 for fewer than 20 nodes, 3.0 for
/// 20 to 50 nodes inclusive, 3.5 above 50.
pub const fn adaptive_exponent(swarm_size: u32) -> Q {
    if swarm_size < 20 {
        q::from_int(2)
    } else if swarm_size <= 50 {
        q::from_int(3)
    } else {
        q::ratio(7, 2)
    }
}

/// `rep^e` for `rep ∈ [0, 1]`, `e ∈ [0, MAX_EXPONENT]` (the reputation
/// weight of docs/paper.md §5). Split `e = k + φ` (`k` integer, `φ ∈ [0, 1)`):
/// `rep^k` by `k` repeated [`q::mul`] (each ≤ ½ ulp; factors ≤ 1 do not
/// amplify earlier errors, so ≤ k/2 ulp), times
/// * nothing when `φ = 0` (exact to k/2 ulp),
/// * [`q::sqrt`]`(rep)` when `φ = ½` (≤ k/2 + 2 ulp),
/// * `exp(φ · ln rep)` otherwise (≤ k/2 + 6 ulp; `ln` ≤ 2 ulp scaled by
///   `φ < 1`, one `mul`, then `exp` ≤ 2 ulp + 2^-24).
///
/// Bounds are checked against a floating-point reference by a host test. `0^0 = 1`, `0^e = 0`.
pub fn rep_pow(rep: Q, e: Q) -> Q {
    assert!(rep >= ZERO && rep <= ONE, "rep_pow: rep outside [0, 1]");
    assert!(
        e >= ZERO && e <= q::from_int(MAX_EXPONENT),
        "rep_pow: bad exponent"
    );
    if e == ZERO {
        return ONE;
    }
    if rep == ZERO {
        return ZERO;
    }
    let k = e.to_bits() >> q::FRAC_BITS;
    let phi = Q::from_bits(e.to_bits() & 0xFFFF);
    let mut power = ONE;
    for _ in 0..k {
        power = q::mul(power, rep);
    }
    let fractional = if phi == ZERO {
        ONE
    } else if phi == q::ratio(1, 2) {
        q::sqrt(rep)
    } else {
        q::exp(q::mul(phi, q::ln(rep)))
    };
    let result = q::mul(power, fractional.min(ONE));
    assert!(result >= ZERO && result <= ONE);
    result
}

/// How a peer's influence is capped (docs/paper.md §5, MISMATCH): the seed
/// code, the paper's text and its appendix disagree, so each reading is
/// offered. With weight `w = rep^e` and normalized share `s = w / Σ w`:
///
/// | variant | rule | at rep 0.9, e = 2 |
/// |---|---|---|
/// | `PaperScaledCube` | share `s ≤ 0.8·rep³` (water-filled) | cap 0.583 |
/// | `SeedMinCube` | share `s ≤ min(rep³, 0.8)` (water-filled) | cap 0.729 |
/// | `PaperScaledWeight` | weight `w = 0.8·rep^e`, shares uncapped | weight 0.648 |
/// | `Uncapped` | `w = rep^e`, shares uncapped | weight 0.81 |
///
/// `PaperScaledWeight` is "rep³ × 0.8" read literally as the weight (the
/// paper's text, with the configured exponent in place of 3). Its factor
/// 0.8 is common to every peer, so after normalization its shares equal
/// `Uncapped`'s (to rounding): it bounds a weight, not a share. The two
/// share caps use the cube whatever `e` is (the seed code's constant): with
/// `e = 3` the caps are proportional to the weights, so `PaperScaledCube`
/// either caps nobody or everybody, and then the renormalized caps are the
/// uncapped shares again; it changes the result only for `e ≠ 3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InfluenceCap {
    /// The README's rule as a share cap: share ≤ `0.8 · rep³` (default).
    #[default]
    PaperScaledCube,
    /// The seed code's `influence_weight` as a share cap:
    /// share ≤ `min(rep³, 0.8)`.
    SeedMinCube,
    /// The paper's text on the weight: `w = 0.8 · rep^e`, no share cap.
    PaperScaledWeight,
    /// No cap (share ≤ 1).
    Uncapped,
}

/// `0.8` as Q16.16 (`52428/2^16`, as in the seed code).
const CAP_SCALE: Q = q::ratio(4, 5);

/// The cap on a peer's normalized share for reputation `rep ∈ [0, 1]`
/// (docs/paper.md §5): `0.8·rep³`, `min(rep³, 0.8)`, or 1 (no share cap) for
/// the two rules that do not cap shares.
pub fn influence_cap(rep: Q, cap: InfluenceCap) -> Q {
    match cap {
        InfluenceCap::PaperScaledCube => q::mul(CAP_SCALE, rep_pow(rep, q::from_int(3))),
        InfluenceCap::SeedMinCube => rep_pow(rep, q::from_int(3)).min(CAP_SCALE),
        InfluenceCap::PaperScaledWeight | InfluenceCap::Uncapped => ONE,
    }
}

/// The (unnormalized) aggregation weight of a peer with reputation
/// `rep ∈ [0, 1]` under exponent `e ∈ [0, MAX_EXPONENT]` (docs/paper.md §5):
/// `0.8 · rep^e` for [`InfluenceCap::PaperScaledWeight`], else `rep^e`
/// ([`rep_pow`]; `e = 0` gives every peer weight 1, or 0.8).
pub fn influence_weight(rep: Q, exponent: Q, cap: InfluenceCap) -> Q {
    let weight = rep_pow(rep, exponent);
    let weight = match cap {
        InfluenceCap::PaperScaledWeight => q::mul(CAP_SCALE, weight),
        InfluenceCap::PaperScaledCube | InfluenceCap::SeedMinCube | InfluenceCap::Uncapped => {
            weight
        }
    };
    assert!(weight >= ZERO && weight <= ONE);
    weight
}

/// Bytes of one entry in a snapshot: peer, score, last seen, strikes, banned.
pub(crate) const ENTRY_STATE_LEN: usize = 17;

/// Persistent state for node snapshots (docs/persistence.md): the last
/// closed round and every entry (scores, strikes, bans),
/// `9 + 17·len` bytes. The `seen` flags are not stored: they are only set
/// between an aggregation's observations and its `end_round`, never
/// between two host calls.
impl ReputationTable {
    /// Appends the last closed round, the entry count and the entries.
    pub(crate) fn encode_state(&self, w: &mut Writer<'_>) {
        w.bool(self.last_closed.is_some());
        w.u32(self.last_closed.unwrap_or(0));
        // len ≤ max_peers ≤ MAX_PEERS_LIMIT: fits u32.
        w.u32(self.entries.len() as u32);
        for entry in &self.entries {
            debug_assert!(!entry.seen, "snapshot between two host calls");
            w.u32(entry.peer);
            w.q(entry.score);
            w.u32(entry.last_seen);
            w.u32(entry.strikes);
            w.bool(entry.banned);
        }
    }

    /// Replaces the table with what [`ReputationTable::encode_state`]
    /// wrote: at most `max_peers` entries in strictly increasing peer
    /// order, scores in `[0, 1]`. Reuses the allocation (never grows it).
    /// On error `self` may be partly overwritten: decode into a copy made
    /// with [`ReputationTable::new`].
    pub(crate) fn decode_state(&mut self, r: &mut Reader<'_>) -> Result<(), Invalid> {
        let closed = r.bool()?;
        let last = r.u32()?;
        if !closed && last != 0 {
            return Err(Invalid);
        }
        let count = r.u32()? as usize;
        if count > self.config.max_peers as usize
            || count > self.entries.capacity()
            || r.remaining() < count.saturating_mul(ENTRY_STATE_LEN)
        {
            return Err(Invalid);
        }
        self.entries.clear();
        // Bounded by max_peers (checked above).
        for _ in 0..count {
            let entry = Entry {
                peer: r.u32()?,
                score: r.q_in(ZERO, ONE)?,
                last_seen: r.u32()?,
                strikes: r.u32()?,
                banned: r.bool()?,
                seen: false,
            };
            if self.entries.last().is_some_and(|e| e.peer >= entry.peer) {
                return Err(Invalid);
            }
            self.entries.push(entry);
        }
        self.last_closed = closed.then_some(last);
        self.open_round = self.last_closed.map_or(0, |round| round.saturating_add(1));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::float_arithmetic)] // host-side reference checks only
mod tests {
    use super::*;
    use alloc::vec;

    const ULP: f64 = 1.0 / 65536.0;

    fn to_f64(x: Q) -> f64 {
        f64::from(x.to_bits()) / 65536.0
    }

    fn table(config: ReputationConfig) -> ReputationTable {
        ReputationTable::new(config).unwrap()
    }

    /// Rounds of disagreement from the start value until the ban.
    fn rounds_to_ban(config: ReputationConfig) -> u32 {
        let mut t = table(config);
        let far = [Q::from_num(5)];
        let zero = [ZERO];
        for round in 1..=1000 {
            let obs = t.observe(7, &far, &zero).unwrap();
            assert!(!obs.agreed);
            if obs.banned {
                assert!(obs.newly_banned);
                return round;
            }
        }
        panic!("never banned");
    }

    #[test]
    fn ema_ban_time_matches_the_paper() {
        // Continuous: 0.5·0.95^k < 0.2 ⇔ k > ln 0.4 / ln 0.95 = 17.86 → 18.
        // Q16.16: γ = 3276/65536 = 0.049988 (0.05 is not representable),
        // 1 − γ = 0.950012; ln 0.4 / ln 0.950012 = 17.87, and the per-step
        // rounding (≤ ½ ulp, 18 steps) cannot cross the 0.2 boundary:
        // after 17 steps the score is 0.2092, after 18 0.1987.
        assert_eq!(rounds_to_ban(ReputationConfig::default()), 18);
        let mut t = table(ReputationConfig::default());
        for _ in 0..17 {
            t.observe(1, &[ONE], &[ZERO]).unwrap();
        }
        let s = to_f64(t.score(1).unwrap());
        assert!((s - 0.5 * 0.950_012_f64.powi(17)).abs() < 10.0 * ULP, "{s}");
        assert!(!t.is_banned(1));
        assert_eq!(t.entries().next().unwrap().strikes, 17);
    }

    #[test]
    fn ema_agreement_moves_toward_one() {
        let mut t = table(ReputationConfig::default());
        let obs = t.observe(3, &[ONE], &[ONE]).unwrap();
        assert!(obs.agreed);
        // 0.95·0.5 + 0.05 = 0.525 (to rounding of γ).
        assert!((to_f64(obs.score) - 0.525).abs() < 2.0 * ULP);
        for _ in 0..500 {
            t.observe(3, &[ONE], &[ONE]).unwrap();
        }
        assert!(t.score(3).unwrap() > q::ratio(99, 100));
        assert!(t.score(3).unwrap() <= ONE);
    }

    #[test]
    fn additive_rule_numbers() {
        let config = ReputationConfig {
            rule: UpdateRule::SEED_ADDITIVE,
            ..ReputationConfig::default()
        };
        // 0.5 → 0.42 → 0.34 → 0.26 → 0.18 < 0.2: banned at the 4th.
        assert_eq!(rounds_to_ban(config), 4);
        let mut t = table(config);
        // 0.02 is 1310 raw: 32768 + 25·1310 = 65518 < 65536, the 26th clamps.
        for i in 1..=26 {
            let obs = t.observe(9, &[ZERO], &[ZERO]).unwrap();
            assert_eq!(obs.score.to_bits(), (32_768 + i * 1_310).min(65_536));
        }
        assert_eq!(t.score(9), Some(ONE));
        let obs = t.observe(9, &[ONE], &[ZERO]).unwrap();
        assert_eq!(obs.score.to_bits(), 65_536 - 5_242);
    }

    #[test]
    fn bans_are_sticky() {
        let config = ReputationConfig {
            rule: UpdateRule::SEED_ADDITIVE,
            idle_decay: q::ratio(1, 2),
            ..ReputationConfig::default()
        };
        let mut t = table(config);
        for _ in 0..4 {
            t.observe(2, &[ONE], &[ZERO]).unwrap();
        }
        assert!(t.is_banned(2));
        let frozen = t.score(2);
        for round in 0..10 {
            let obs = t.observe(2, &[ZERO], &[ZERO]).unwrap();
            assert!(obs.agreed && obs.banned && !obs.newly_banned);
            t.end_round(round).unwrap();
        }
        assert_eq!(t.score(2), frozen);
    }

    #[test]
    fn agreement_threshold_is_exact_rms() {
        let tau = q::ratio(3, 10);
        let aggregate = [ZERO; 4];
        // RMS of [τ, τ, τ, τ] is exactly τ: agrees; one ulp more does not.
        assert!(rms_within(&[tau; 4], &aggregate, tau));
        let over = [tau, tau, tau, tau + Q::DELTA];
        assert!(!rms_within(&over, &aggregate, tau));
        // RMS of [2τ, 0, 0, 0] is τ as well.
        assert!(rms_within(&[tau * 2, ZERO, ZERO, ZERO], &aggregate, tau));
        let mut t = table(ReputationConfig::default());
        assert_eq!(
            t.observe(1, &[ONE], &[ONE, ONE]),
            Err(ReputationError::DimensionMismatch {
                update: 1,
                aggregate: 2
            })
        );
    }

    #[test]
    fn idle_decay_pulls_toward_prior() {
        let config = ReputationConfig {
            idle_decay: q::ratio(1, 2),
            ..ReputationConfig::default()
        };
        let mut t = table(config);
        t.observe(5, &[ONE], &[ZERO]).unwrap(); // 0.475
        t.observe(6, &[ZERO], &[ZERO]).unwrap(); // 0.525
        t.end_round(0).unwrap();
        t.end_round(1).unwrap(); // both idle in round 1: halfway back
        let (s5, s6) = (to_f64(t.score(5).unwrap()), to_f64(t.score(6).unwrap()));
        assert!((s5 - 0.4875).abs() < 3.0 * ULP, "{s5}");
        assert!((s6 - 0.5125).abs() < 3.0 * ULP, "{s6}");
        assert_eq!(
            t.end_round(1),
            Err(ReputationError::RoundNotIncreasing { last: 1, given: 1 })
        );
        // Default: off.
        let mut t = table(ReputationConfig::default());
        t.observe(5, &[ONE], &[ZERO]).unwrap();
        let before = t.score(5);
        t.end_round(0).unwrap();
        t.end_round(1).unwrap();
        assert_eq!(t.score(5), before);
    }

    /// Agree with every second observation (so scores move), by peer id.
    fn observe_pattern(t: &mut ReputationTable, peer: NodeId, round: u32) -> Observation {
        let update = if (peer + round).is_multiple_of(2) {
            ZERO
        } else {
            ONE
        };
        t.observe(peer, &[update], &[ZERO]).unwrap()
    }

    #[test]
    fn the_first_peers_heard_are_tracked_for_good() {
        let config = ReputationConfig {
            max_peers: 4,
            ..ReputationConfig::default()
        };
        let mut t = table(config);
        let mut reference = table(ReputationConfig::default());
        let mut refused = 0_u32;
        // 100 rounds of 3× as many senders as entries; the first four heard
        // (ids 30, 10, 20, 70, in that order) are tracked.
        let senders: [NodeId; 12] = [30, 10, 20, 70, 5, 60, 40, 90, 11, 50, 80, 1];
        for round in 0..100 {
            for &peer in &senders {
                match t.admit(peer) {
                    Ok(()) => {
                        let obs = observe_pattern(&mut t, peer, round);
                        let expected = observe_pattern(&mut reference, peer, round);
                        assert_eq!(obs, expected, "peer {peer} round {round}");
                    }
                    Err(e) => {
                        assert_eq!(e, ReputationError::TableFull { peer });
                        assert_eq!(t.observe(peer, &[ZERO], &[ZERO]), Err(e));
                        refused += 1;
                    }
                }
            }
            t.end_round(round).unwrap();
            reference.end_round(round).unwrap();
        }
        let tracked: Vec<NodeId> = t.entries().map(|e| e.peer).collect();
        assert_eq!(tracked, vec![10, 20, 30, 70]);
        assert_eq!(refused, 8 * 100);
        // No churn: each tracked peer's score is its full 100-round history,
        // the same as in an unbounded table.
        for peer in [10, 20, 30, 70] {
            assert_eq!(t.score(peer), reference.score(peer));
            assert_ne!(t.score(peer), Some(config.initial));
        }
        assert!(t.is_full() && t.admits(10) && !t.admits(11));
    }

    #[test]
    fn a_ban_survives_a_flood_of_other_ids() {
        let config = ReputationConfig {
            max_peers: 3,
            ..ReputationConfig::default()
        };
        let mut t = table(config);
        for _ in 0..rounds_to_ban(config) {
            t.observe(7, &[ONE], &[ZERO]).unwrap();
        }
        assert!(t.is_banned(7));
        let frozen = t.score(7);
        for peer in 100..2_100 {
            let _ = t.admit(peer);
            let _ = t.observe(peer, &[ZERO], &[ZERO]);
        }
        assert!(t.is_banned(7));
        assert_eq!(t.score(7), frozen);
        assert!(frozen < Some(config.ban_threshold));
        assert_eq!(t.len(), 3);
        // Admitting it again changes nothing.
        t.admit(7).unwrap();
        assert_eq!(t.score(7), frozen);
        assert!(t.is_banned(7));
    }

    #[test]
    fn admit_tracks_without_observing() {
        let config = ReputationConfig {
            max_peers: 2,
            idle_decay: q::ratio(1, 2),
            ..ReputationConfig::default()
        };
        let mut t = table(config);
        t.admit(9).unwrap();
        assert_eq!(t.score(9), Some(config.initial));
        assert_eq!(t.entries().next().unwrap().strikes, 0);
        t.admit(9).unwrap();
        t.observe(3, &[ONE], &[ZERO]).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.admit(4), Err(ReputationError::TableFull { peer: 4 }));
        t.end_round(0).unwrap();
        // Idle decay toward the prior leaves the admitted peer at the prior.
        assert_eq!(t.score(9), Some(config.initial));
    }

    #[test]
    fn exponent_table_edges() {
        assert_eq!(adaptive_exponent(0), Q::from_num(2));
        assert_eq!(adaptive_exponent(19), Q::from_num(2));
        assert_eq!(adaptive_exponent(20), Q::from_num(3));
        assert_eq!(adaptive_exponent(50), Q::from_num(3));
        assert_eq!(adaptive_exponent(51), Q::from_num(3.5));
        assert_eq!(adaptive_exponent(u32::MAX), Q::from_num(3.5));
    }

    #[test]
    fn rep_pow_within_stated_bounds() {
        let exponents: [f64; 11] = [0.0, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 3.3, 4.75, 16.0];
        for raw in (0..=65_536).step_by(97).chain([1, 65_535, 65_536]) {
            let rep = Q::from_bits(raw);
            for &e in &exponents {
                let eq = Q::from_num(e);
                let k = e.floor();
                let phi = e - k;
                let bound = if phi == 0.0 {
                    k / 2.0
                } else if phi == 0.5 {
                    k / 2.0 + 2.0
                } else {
                    k / 2.0 + 6.0
                } * ULP;
                let exact = to_f64(rep).powf(to_f64(eq));
                let got = to_f64(rep_pow(rep, eq));
                assert!(
                    (got - exact).abs() <= bound + 1e-12,
                    "{raw}^{e}: {got} vs {exact}"
                );
            }
        }
        assert_eq!(rep_pow(ZERO, ZERO), ONE);
        assert_eq!(rep_pow(ONE, Q::from_num(3.5)), ONE);
    }

    #[test]
    fn influence_caps() {
        let r = Q::from_num(0.9);
        // docs/paper.md §5: seed min(rep³, 0.8) gives 0.729 at 0.9; paper 0.583.
        let seed = to_f64(influence_cap(r, InfluenceCap::SeedMinCube));
        let paper = to_f64(influence_cap(r, InfluenceCap::PaperScaledCube));
        assert!((seed - 0.729).abs() < 1e-3, "{seed}");
        assert!((paper - 0.5832).abs() < 1e-3, "{paper}");
        assert_eq!(
            influence_cap(ONE, InfluenceCap::SeedMinCube).to_bits(),
            52_428
        );
        assert_eq!(influence_cap(ZERO, InfluenceCap::Uncapped), ONE);
        assert_eq!(influence_cap(r, InfluenceCap::PaperScaledWeight), ONE);
        // The paper's text on the weight: 0.8·0.9² = 0.648 with e = 2,
        // 0.8·0.9³ = 0.5832 with e = 3; the other rules weigh rep^e.
        let two = q::from_int(2);
        let weight = to_f64(influence_weight(r, two, InfluenceCap::PaperScaledWeight));
        assert!((weight - 0.648).abs() < 1e-3, "{weight}");
        let plain = to_f64(influence_weight(r, two, InfluenceCap::SeedMinCube));
        assert!((plain - 0.81).abs() < 1e-3, "{plain}");
        assert_eq!(
            influence_weight(r, ZERO, InfluenceCap::PaperScaledWeight).to_bits(),
            52_428
        );
        assert_eq!(influence_weight(ZERO, ZERO, InfluenceCap::Uncapped), ONE);
    }

    #[test]
    fn config_is_validated() {
        let bad = ReputationConfig {
            max_peers: 0,
            ..ReputationConfig::default()
        };
        assert!(matches!(
            ReputationTable::new(bad),
            Err(ReputationError::MaxPeersOutOfRange { max_peers: 0 })
        ));
        let bad = ReputationConfig {
            rule: UpdateRule::Ema { gamma: ZERO },
            ..ReputationConfig::default()
        };
        assert_eq!(
            bad.validate(),
            Err(ReputationError::ParameterOutOfRange { name: "rule" })
        );
        let text = alloc::format!("{}", ReputationError::TableFull { peer: 4 });
        assert!(text.contains("peer 4"));
    }

    #[test]
    fn penalties_lower_the_score_and_ban() {
        let mut table = ReputationTable::new(ReputationConfig::default()).unwrap();
        let initial = table.config().initial;
        let hit = table.penalize(3, q::ratio(15, 100), false).unwrap();
        assert_eq!(hit.score, initial - q::ratio(15, 100));
        assert!(!hit.banned && !hit.agreed);
        let second = table.penalize(3, q::ratio(15, 100), true).unwrap();
        assert!(second.newly_banned && table.is_banned(3));
        // Sticky: further penalties change nothing.
        let third = table.penalize(3, q::ONE, false).unwrap();
        assert!(!third.newly_banned);
        assert_eq!(third.score, second.score);
        // Falling below the threshold bans without the flag.
        let low = table.penalize(4, q::ratio(45, 100), false).unwrap();
        assert!(low.newly_banned);
        assert_eq!(table.entries().find(|e| e.peer == 4).unwrap().strikes, 1);
    }
}
