//! Figures over windows of rows: trailing means, settled tails and the
//! final window of `summary.json`.
//!
//! Ordering contract: every mean is a sum in row order divided by a count,
//! so the figures depend only on the rows, never on how they were computed.

use std::fmt;

use serde::Serialize;

use super::{Metric, RoundRow, Yardstick};

/// Rounds averaged by [`FinalWindow`].
pub const FINAL_WINDOW_ROUNDS: usize = 10;

/// Rounds of the trailing means that the convergence and comparison rules
/// compare: one round's RMSE over a few thousand noisy samples moves by a
/// few percent on its own, which a 5 % rule would otherwise measure.
pub const SMOOTHING_ROUNDS: usize = 5;

/// For each value, the mean of the [`SMOOTHING_ROUNDS`] values ending at
/// it; NaN while the window is incomplete (the first
/// `SMOOTHING_ROUNDS − 1` values) or when a value in it is NaN.
pub fn trailing_means(values: &[f64]) -> Vec<f64> {
    (0..values.len())
        .map(|i| {
            if i + 1 < SMOOTHING_ROUNDS {
                return f64::NAN;
            }
            let window = &values[i + 1 - SMOOTHING_ROUNDS..=i];
            window.iter().sum::<f64>() / SMOOTHING_ROUNDS as f64
        })
        .collect()
}

/// `rounds[i]` for the first `i` from which `ok(i)` holds for every index
/// to the end; `None` when it fails on the last one (or there are none).
pub fn settled_from(rounds: &[u32], ok: impl Fn(usize) -> bool) -> Option<u32> {
    let tail = (0..rounds.len()).rev().take_while(|&i| ok(i)).count();
    (tail > 0).then(|| rounds[rounds.len() - tail])
}

/// The rounds the yardstick's metric is scored at, and its values there.
fn scored(rows: &[RoundRow], yardstick: &Yardstick) -> (Vec<u32>, Vec<f64>) {
    let every = yardstick.every_rounds.max(1);
    rows.iter()
        .filter(|r| r.round.is_multiple_of(every))
        .map(|r| (r.round, yardstick.metric.of(r)))
        .unzip()
}

/// The first scored round from which the trailing mean of the
/// yardstick's metric over its last [`SMOOTHING_ROUNDS`] scored rounds
/// stays in `[low, high]` at every scored round to the end of the run (a
/// NaN never does).
pub fn first_round_within(
    rows: &[RoundRow],
    yardstick: &Yardstick,
    low: f64,
    high: f64,
) -> Option<u32> {
    let (rounds, values) = scored(rows, yardstick);
    let means = trailing_means(&values);
    settled_from(&rounds, |i| means[i] >= low && means[i] <= high)
}

/// The headline figures of a run: means over its last rounds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FinalWindow {
    /// Rounds averaged ([`FINAL_WINDOW_ROUNDS`], fewer in a shorter run).
    pub window_rounds: usize,
    /// First round of the window.
    pub first_round: u32,
    /// Last round of the window.
    pub last_round: u32,
    /// Mean `rmse_online` over the window.
    pub rmse_online: f64,
    /// Mean `rmse_clean` over the window.
    pub rmse_clean: f64,
    /// Mean `rmse_heldout` over the window.
    pub rmse_heldout: f64,
    /// Mean `consensus_distance` over the window.
    pub consensus_distance: f64,
}

impl FinalWindow {
    /// The means over the last [`FINAL_WINDOW_ROUNDS`] of `rows`, each over
    /// the rows where the column is a number (NaN if none is).
    pub fn of(rows: &[RoundRow]) -> FinalWindow {
        let window = &rows[rows.len().saturating_sub(FINAL_WINDOW_ROUNDS)..];
        let mean = |value: fn(&RoundRow) -> f64| finite_mean(window.iter().map(value));
        FinalWindow {
            window_rounds: window.len(),
            first_round: window.first().map_or(0, |r| r.round),
            last_round: window.last().map_or(0, |r| r.round),
            rmse_online: mean(|r| r.rmse_online),
            rmse_clean: mean(|r| r.rmse_clean),
            rmse_heldout: mean(|r| r.rmse_heldout),
            consensus_distance: mean(|r| r.consensus_distance),
        }
    }

    /// The window's value of `metric`.
    pub fn of_metric(&self, metric: Metric) -> f64 {
        match metric {
            Metric::RmseOnline => self.rmse_online,
            Metric::RmseHeldout => self.rmse_heldout,
        }
    }
}

/// The mean of `value` over the last [`FINAL_WINDOW_ROUNDS`] of `rows`
/// where it is finite (the rule of [`FinalWindow`]), `None` if it never is.
pub fn final_mean(rows: &[RoundRow], value: impl Fn(&RoundRow) -> f64) -> Option<f64> {
    let window = &rows[rows.len().saturating_sub(FINAL_WINDOW_ROUNDS)..];
    Some(finite_mean(window.iter().map(value))).filter(|m| m.is_finite())
}

/// Mean of the finite values, in order; NaN when there are none.
fn finite_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values
        .filter(|v| v.is_finite())
        .fold((0.0, 0_u32), |(s, n), v| (s + v, n + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / f64::from(count)
    }
}

impl fmt::Display for FinalWindow {
    /// `final (rounds 91–100): rmse_online 0.1234, rmse_clean …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "final (mean of rounds {}–{}): rmse_online {:.4}, rmse_clean {:.4}, \
             rmse_heldout {:.4}, consensus_distance {:.4}",
            self.first_round,
            self.last_round,
            self.rmse_online,
            self.rmse_clean,
            self.rmse_heldout,
            self.consensus_distance
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(heldout: &[f64]) -> Vec<RoundRow> {
        (1..)
            .zip(heldout)
            .map(|(round, &rmse_heldout)| RoundRow {
                round,
                rmse_heldout,
                rmse_online: 2.0 * rmse_heldout,
                ..RoundRow::default()
            })
            .collect()
    }

    #[test]
    fn trailing_means_need_a_full_window() {
        let m = trailing_means(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(m[..4].iter().all(|x| x.is_nan()), "{m:?}");
        assert_eq!(&m[4..], [3.0, 4.0]);
        assert!(trailing_means(&[1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0])[5].is_nan());
    }

    #[test]
    fn settled_tail_starts_after_the_last_failure() {
        let rounds = [1, 2, 3, 4, 5, 6];
        assert_eq!(settled_from(&rounds, |i| i != 2), Some(4));
        assert_eq!(settled_from(&rounds, |_| true), Some(1));
        assert_eq!(settled_from(&rounds, |i| i != 5), None);
        assert_eq!(settled_from(&[], |_| true), None);
    }

    #[test]
    fn sparse_scoring_uses_only_the_scored_rounds() {
        // Scored every 2nd round: rounds 2, 4, … hold 1.0, the others NaN.
        let values: Vec<f64> = (1..=20)
            .map(|r| if r % 2 == 0 { 1.0 } else { f64::NAN })
            .collect();
        let r = rows(&values);
        let every = |every_rounds| Yardstick {
            metric: Metric::RmseHeldout,
            every_rounds,
            central_rmse: 1.0,
        };
        // Five scored rounds make the first window: rounds 2, 4, …, 10.
        assert_eq!(first_round_within(&r, &every(2), 0.9, 1.1), Some(10));
        // Scored every round, the NaN rows never settle.
        assert_eq!(first_round_within(&r, &every(1), 0.9, 1.1), None);
    }

    #[test]
    fn final_window_is_the_last_ten_rounds_skipping_nan() {
        let mut values: Vec<f64> = (1..=12).map(f64::from).collect();
        values[11] = f64::NAN;
        let w = FinalWindow::of(&rows(&values));
        assert_eq!((w.window_rounds, w.first_round, w.last_round), (10, 3, 12));
        // Rounds 3..=11 (12 is NaN): mean 7.
        assert_eq!(w.rmse_heldout, 7.0);
        assert_eq!(w.of_metric(Metric::RmseOnline), 14.0);
        let short = FinalWindow::of(&rows(&[1.0, 3.0]));
        assert_eq!((short.window_rounds, short.rmse_heldout), (2, 2.0));
        assert!(FinalWindow::of(&rows(&[f64::NAN])).rmse_heldout.is_nan());
    }
}
