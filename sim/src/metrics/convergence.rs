//! When a run converged: two rules that a run cannot meet by its own
//! ending.
//!
//! * **Learning** converged at the first round from which, to the end of
//!   the run, the [`SMOOTHING_ROUNDS`]-round trailing mean of the learning
//!   metric (`rmse_heldout`, or `rmse_online` when no held-out data exists)
//!   stays within `±rmse_tolerance` (relative) of the central least-squares
//!   optimum on the same data. The reference is a constant of the data, not
//!   of the run's last rounds, and the band is two-sided, so a swarm that
//!   settles above the optimum — or below it, which on held-out data means
//!   something else than learning the shared model — has not converged.
//!   A run that had settled by round 100 gives the same round whether it is
//!   run for 100 or 300 rounds.
//! * **Consensus** was reached at the first round from which, to the end,
//!   `consensus_distance ≤ epsilon` and at least one model update was
//!   accepted in every round. Nodes that exchange nothing (the isolated
//!   baseline) never reach consensus, however alike they happen to learn.
//!
//! Ordering contract: rows are scanned in round order; the result is a
//! function of the rows and the rule's parameters only.

use serde::Serialize;

use super::window::{SMOOTHING_ROUNDS, first_round_within, settled_from};
use super::{Metric, RoundRow, Yardstick};

/// The parameters of the rules (`[run]` `convergence_*` keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// Consensus-distance bound.
    pub epsilon: f64,
    /// Relative half-width of the band around the central optimum.
    pub rmse_tolerance: f64,
}

/// The outcome of both rules, with what they were applied to
/// (`summary.json` `convergence`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Convergence {
    /// The learning column the rule follows.
    pub metric: Metric,
    /// It is scored every this many rounds; the trailing mean and the
    /// settled tail are over the scored rounds.
    pub scored_every_rounds: u32,
    /// Where the reference value comes from in `summary.json`.
    pub reference: &'static str,
    /// The central least-squares optimum's RMSE on the metric's data.
    pub reference_rmse: f64,
    /// Rounds of the trailing mean.
    pub smoothing_rounds: usize,
    /// Relative half-width of the band around `reference_rmse`.
    pub rmse_tolerance: f64,
    /// First round of learning convergence, `None` if never.
    pub learning_round: Option<u32>,
    /// Consensus-distance bound.
    pub epsilon: f64,
    /// First round of consensus, `None` if never.
    pub consensus_round: Option<u32>,
}

/// Applies both rules to `rows`, the learning rule to the yardstick's
/// metric against its central optimum.
pub fn convergence(rows: &[RoundRow], yardstick: &Yardstick, rule: Rule) -> Convergence {
    let reference_rmse = yardstick.central_rmse;
    let band = rule.rmse_tolerance * reference_rmse;
    Convergence {
        metric: yardstick.metric,
        scored_every_rounds: yardstick.every_rounds,
        reference: yardstick.metric.central_reference(),
        reference_rmse,
        smoothing_rounds: SMOOTHING_ROUNDS,
        rmse_tolerance: rule.rmse_tolerance,
        learning_round: first_round_within(
            rows,
            yardstick,
            reference_rmse - band,
            reference_rmse + band,
        ),
        epsilon: rule.epsilon,
        consensus_round: consensus_round(rows, rule.epsilon),
    }
}

/// First round from which every round is within `epsilon` and accepted
/// at least one model update.
fn consensus_round(rows: &[RoundRow], epsilon: f64) -> Option<u32> {
    let rounds: Vec<u32> = rows.iter().map(|r| r.round).collect();
    settled_from(&rounds, |i| {
        let before = if i == 0 {
            0
        } else {
            rows[i - 1].rx_model_updates_accepted
        };
        rows[i].consensus_distance <= epsilon && rows[i].rx_model_updates_accepted > before
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        epsilon: 0.02,
        rmse_tolerance: 0.05,
    };
    const CENTRAL: f64 = 0.1;
    const HELDOUT: Yardstick = Yardstick {
        metric: Metric::RmseHeldout,
        every_rounds: 1,
        central_rmse: CENTRAL,
    };

    /// `rounds` rows whose held-out RMSE decays from 1.0 towards
    /// `settled` (within 1 % of it from round 40), whose consensus distance
    /// falls below 0.02 at round 30, and which accept 5 updates per round
    /// when `gossip`.
    fn run(rounds: u32, settled: f64, gossip: bool) -> Vec<RoundRow> {
        (1..=rounds)
            .map(|round| {
                let t = f64::from(round);
                RoundRow {
                    round,
                    rmse_heldout: settled + (1.0 - settled) * (-t / 6.0).exp(),
                    consensus_distance: if round >= 30 { 0.01 } else { 0.5 },
                    rx_model_updates_accepted: if gossip { 5 * u64::from(round) } else { 0 },
                    ..RoundRow::default()
                }
            })
            .collect()
    }

    fn learning(rows: &[RoundRow]) -> Option<u32> {
        convergence(rows, &HELDOUT, RULE).learning_round
    }

    #[test]
    fn learning_band_is_two_sided() {
        assert!(learning(&run(100, CENTRAL * 1.03, true)).is_some());
        assert!(learning(&run(100, CENTRAL * 0.97, true)).is_some());
        // Overshoot: settled 10 % above the central optimum.
        assert_eq!(learning(&run(100, CENTRAL * 1.10, true)), None);
        // Undershoot: settled 10 % below it.
        assert_eq!(learning(&run(100, CENTRAL * 0.90, true)), None);
    }

    #[test]
    fn converged_round_does_not_depend_on_the_run_length() {
        let long = run(300, CENTRAL, true);
        let a = convergence(&long[..100], &HELDOUT, RULE);
        let b = convergence(&long, &HELDOUT, RULE);
        assert!(a.learning_round.is_some_and(|r| r > 5 && r < 100), "{a:?}");
        assert_eq!(a.learning_round, b.learning_round);
        assert_eq!(a.consensus_round, Some(30));
        assert_eq!(a.consensus_round, b.consensus_round);
    }

    #[test]
    fn a_late_excursion_delays_convergence_past_it() {
        let mut rows = run(100, CENTRAL, true);
        rows[80].rmse_heldout = 0.5;
        // The excursion is in the trailing windows of rounds 81–85.
        assert_eq!(learning(&rows), Some(86));
        rows[99].rmse_heldout = f64::NAN;
        assert_eq!(learning(&rows), None);
    }

    #[test]
    fn isolated_nodes_never_reach_consensus() {
        let isolated = run(100, CENTRAL, false);
        let c = convergence(&isolated, &HELDOUT, RULE);
        assert_eq!(c.consensus_round, None);
        // ... though they may well learn.
        assert!(c.learning_round.is_some());
        // One silent round late in a gossiping run delays consensus past it.
        let mut rows = run(100, CENTRAL, true);
        for row in &mut rows[60..] {
            row.rx_model_updates_accepted -= 5;
        }
        assert_eq!(convergence(&rows, &HELDOUT, RULE).consensus_round, Some(62));
    }
}
