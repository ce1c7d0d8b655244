//! Stochastic audits that actually check (issue #16): challenge a share
//! of the updates a node receives, have the sender answer with what its
//! model was computed from, recompute it bit for bit, and flag statistical
//! outliers with Grubbs' test to audit them first.
//!
//! ## The protocol, in the order it runs
//!
//! 1. **Record** ([`record`]). Every node keeps the inputs of its current
//!    round's training (base weights after its last aggregation, the
//!    predictor's lag window then, the samples since and the step code of
//!    each) and, at each broadcast, freezes a copy stamped with the round.
//! 2. **Grubbs** ([`grubbs`]). At each aggregation the auditor computes
//!    every inbox peer's RMS distance from the round's aggregate and runs
//!    the one-sided Grubbs test at α = 0.01 (iteratively). A flagged peer
//!    is counted and gets audit priority this round; its reputation is
//!    not touched by the flag itself (below).
//! 3. **Challenge.** Right after that aggregation the auditor picks which
//!    of the round's updates to audit: the Grubbs-flagged senders first,
//!    then each other sender with probability `share` (default 3 %), one
//!    draw per sender in inbox order from the ChaCha stream
//!    `rng::stream(seed, id, Audit)` set to stream number `round` (so the
//!    choice depends on the seed, the node and the round only). At most
//!    `max_outstanding` audits are open at once. The auditor copies the
//!    update it received (the public model `P` and keyframe `K`) into the
//!    audit slot and sends an AuditChallenge (target, the sender's round,
//!    a 16-byte nonce from the same stream) by unicast.
//! 4. **Response.** The challenged node answers by unicast with its frozen
//!    record if the round matches ("no record" if it has broadcast since
//!    or never did, "unauditable" if the round's samples overflowed the
//!    buffer or the record does not fit the wire).
//! 5. **Verdict** ([`recompute`]). The auditor replays training with its
//!    own model configuration (the swarm's), quantizes as the update
//!    travelled and compares with `P` bit for bit: equal passes, anything
//!    else fails. An audit without a response `deadline` after its
//!    challenge went on the air is *unanswered*.
//!
//! ## Consequences
//!
//! * **Failed**: the peer's reputation drops by `failure_penalty` (default
//!   0.15, the seed code's penalty for a failed proof), and after
//!   `failures_to_ban` failures (default 2, the paper's "ban after 2
//!   failures") it is banned. No time window: an honest node never fails
//!   a recomputation, so there is nothing for a window to forgive.
//! * **Unanswered** and **no record / unauditable** answers are counted
//!   per peer and in total, and never penalised: radio loss makes honest
//!   nodes miss challenges, and a penalty would ban honest nodes behind
//!   bad links. The price: a cheater can dodge by staying silent; the
//!   counters make that visible (docs/audit.md).
//! * **Grubbs flag**: audit priority only. A distance outlier is often an
//!   honest node with unusual local data; the reputation rule already
//!   scores distance from the aggregate, and penalising the flag too would
//!   punish the same observation twice. Priority turns the statistical
//!   suspicion into a check with a definite answer.
//!
//! What an audit proves and what it does not is in docs/audit.md.

pub mod grubbs;
pub mod recompute;
pub mod record;

use core::fmt;

use crate::q::{self, Q};
use crate::time::Duration;

/// Most audits a node may have open at once (bounds `max_outstanding`).
pub const OUTSTANDING_MAX: usize = 8;

/// Most challenges a node queues answers to at once; more are dropped
/// (counted).
pub const RESPONSES_MAX: usize = 4;

/// Audit parameters (a section of [`crate::node::NodeConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Whether the node audits, answers challenges and runs Grubbs.
    /// Default **false**: audits add radio traffic and energy, so turning
    /// them on changes every existing run; scenarios opt in.
    pub enabled: bool,
    /// Probability that a received update is challenged, `[0, 1]`.
    /// Default 0.03 (the README's "3 % of updates per round").
    pub share: Q,
    /// How long after its challenge is sent an answer is accepted; must be
    /// positive and at most the round period (the audited node keeps its
    /// record only until its next broadcast). Default 5 s.
    pub deadline: Duration,
    /// Failed audits after which the peer is banned, `1..=255`. Default 2.
    pub failures_to_ban: u8,
    /// Reputation lost per failed audit, `[0, 1]`. Default 0.15.
    pub failure_penalty: Q,
    /// Whether Grubbs' test (α = 0.01, one-sided) flags peers for audit
    /// priority. Default true.
    pub grubbs: bool,
    /// Most audits open at once, `1..=OUTSTANDING_MAX`. Default 4.
    pub max_outstanding: u8,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            enabled: false,
            share: q::ratio(3, 100),
            deadline: Duration::from_secs(5),
            failures_to_ban: 2,
            failure_penalty: q::ratio(15, 100),
            grubbs: true,
            max_outstanding: 4,
        }
    }
}

/// Why an [`AuditConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditConfigError {
    /// `share` outside `[0, 1]`.
    ShareOutOfRange,
    /// `deadline` zero or longer than the round.
    DeadlineOutOfRange,
    /// `failures_to_ban` is 0.
    FailuresToBanZero,
    /// `failure_penalty` outside `[0, 1]`.
    PenaltyOutOfRange,
    /// `max_outstanding` outside `1..=OUTSTANDING_MAX`.
    OutstandingOutOfRange,
}

impl fmt::Display for AuditConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditConfigError::ShareOutOfRange => f.write_str("share must be in [0, 1]"),
            AuditConfigError::DeadlineOutOfRange => {
                f.write_str("deadline must be > 0 and at most the round period")
            }
            AuditConfigError::FailuresToBanZero => f.write_str("failures_to_ban must be >= 1"),
            AuditConfigError::PenaltyOutOfRange => f.write_str("failure_penalty must be in [0, 1]"),
            AuditConfigError::OutstandingOutOfRange => {
                write!(f, "max_outstanding must be in 1..={OUTSTANDING_MAX}")
            }
        }
    }
}

impl AuditConfig {
    /// Checks every field against its documented range, the deadline
    /// against `round_period`.
    pub fn validate(&self, round_period: Duration) -> Result<(), AuditConfigError> {
        if self.share < q::ZERO || self.share > q::ONE {
            return Err(AuditConfigError::ShareOutOfRange);
        }
        if self.deadline == Duration::ZERO || self.deadline > round_period {
            return Err(AuditConfigError::DeadlineOutOfRange);
        }
        if self.failures_to_ban == 0 {
            return Err(AuditConfigError::FailuresToBanZero);
        }
        if self.failure_penalty < q::ZERO || self.failure_penalty > q::ONE {
            return Err(AuditConfigError::PenaltyOutOfRange);
        }
        if self.max_outstanding == 0 || usize::from(self.max_outstanding) > OUTSTANDING_MAX {
            return Err(AuditConfigError::OutstandingOutOfRange);
        }
        Ok(())
    }

    /// `share` as a numerator over 2³² for [`crate::rng::chance`].
    pub fn share_per_2_32(&self) -> u64 {
        // share ∈ [0, 1]: raw bits ∈ [0, 2¹⁶], times 2¹⁶ ≤ 2³².
        u64::from(self.share.to_bits().unsigned_abs()) << 16
    }
}

/// A node's audit counters (all cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditCounters {
    /// Challenges this node sent.
    pub challenges_sent: u32,
    /// Challenges addressed to this node that it received.
    pub challenges_received: u32,
    /// Of those, dropped because [`RESPONSES_MAX`] answers were queued.
    pub challenges_dropped: u32,
    /// Responses this node sent (any status).
    pub responses_sent: u32,
    /// Audits whose recomputation matched.
    pub passed: u32,
    /// Audits whose recomputation did not match (or whose record was
    /// malformed).
    pub failed: u32,
    /// Audits without an answer by the deadline.
    pub unanswered: u32,
    /// Audits answered "no record" or "unauditable".
    pub unauditable: u32,
    /// Audits wanted but not opened because `max_outstanding` were open.
    pub skipped_full: u32,
    /// Peers this node banned because of failed audits.
    pub bans: u32,
    /// Rounds in which Grubbs' test ran (3 or more peers aggregated).
    pub grubbs_rounds: u32,
    /// Peers flagged by Grubbs' test (one per peer per round).
    pub grubbs_flags: u32,
    /// Own broadcast rounds whose record overflowed (unauditable).
    pub records_overflowed: u32,
}

/// What one node knows of one peer's audits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerAuditStats {
    /// The peer.
    pub peer: crate::runtime::NodeId,
    /// Audits of it that passed.
    pub passed: u16,
    /// Audits of it that failed.
    pub failed: u16,
    /// Audits of it left unanswered.
    pub unanswered: u16,
    /// Audits of it answered "no record" or "unauditable".
    pub unauditable: u16,
    /// Times Grubbs' test flagged it.
    pub grubbs_flags: u16,
}

/// The step size of each step code `[Calm, PreStorm, Storm, warm-up]`:
/// the node's per-regime steps and its warm-up step, or the fixed model
/// step four times when steps do not follow the regime. Auditor and
/// auditee share it through the swarm's configuration.
pub fn step_table(by_regime: Option<[Q; 3]>, warmup: Q, fixed: Q) -> [Q; 4] {
    match by_regime {
        Some([calm, prestorm, storm]) => [calm, prestorm, storm, warmup],
        None => [fixed; 4],
    }
}

/// The first code whose step is `step` (equal steps are interchangeable:
/// the arithmetic is the same), or `None`.
pub fn step_code(table: &[Q; 4], step: Q) -> Option<u8> {
    // ≤ 3: the cast is lossless.
    table.iter().position(|s| *s == step).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_validated() {
        let round = Duration::from_secs(10);
        let good = AuditConfig::default();
        assert_eq!(good.validate(round), Ok(()));
        let bad = |c: AuditConfig| c.validate(round).unwrap_err();
        assert_eq!(
            bad(AuditConfig {
                share: q::ratio(11, 10),
                ..good
            }),
            AuditConfigError::ShareOutOfRange
        );
        assert_eq!(
            bad(AuditConfig {
                deadline: Duration::ZERO,
                ..good
            }),
            AuditConfigError::DeadlineOutOfRange
        );
        assert_eq!(
            bad(AuditConfig {
                deadline: Duration::from_secs(11),
                ..good
            }),
            AuditConfigError::DeadlineOutOfRange
        );
        assert_eq!(
            bad(AuditConfig {
                failures_to_ban: 0,
                ..good
            }),
            AuditConfigError::FailuresToBanZero
        );
        assert_eq!(
            bad(AuditConfig {
                failure_penalty: -q::ONE,
                ..good
            }),
            AuditConfigError::PenaltyOutOfRange
        );
        assert_eq!(
            bad(AuditConfig {
                max_outstanding: 9,
                ..good
            }),
            AuditConfigError::OutstandingOutOfRange
        );
        assert!(!alloc::format!("{}", AuditConfigError::OutstandingOutOfRange).is_empty());
        assert_eq!(
            AuditConfig {
                share: q::ONE,
                ..good
            }
            .share_per_2_32(),
            1 << 32
        );
    }

    #[test]
    fn step_codes() {
        let table = step_table(
            Some([q::ratio(1, 20), q::ratio(1, 10), q::ratio(1, 5)]),
            q::ratio(1, 5),
            q::ONE,
        );
        assert_eq!(step_code(&table, q::ratio(1, 10)), Some(1));
        assert_eq!(step_code(&table, q::ratio(1, 5)), Some(2));
        assert_eq!(step_code(&table, q::ratio(1, 3)), None);
        let fixed = step_table(None, q::ratio(1, 5), q::ratio(1, 10));
        assert_eq!(step_code(&fixed, q::ratio(1, 10)), Some(0));
    }
}
