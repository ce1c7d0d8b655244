//! How a run stands beside its references (`summary.json` `comparison`).
//!
//! A run is judged on one learning column, its *metric*: `rmse_heldout`
//! against the central least-squares optimum on the held-out data when the
//! run has held-out data, else `rmse_online` against the central optimum on
//! the training pairs ([`yardstick`]). The figures use the final window's
//! mean of that column (`metrics::window::FinalWindow`):
//!
//! * `gain_over_isolated_pct = 100 · (isolated − swarm) / isolated`;
//! * `excess_over_central_pct = 100 · (swarm − central) / central`, and the
//!   same for the isolated baseline;
//! * `rounds_to_within_5pct_of_central`: the first round from which the
//!   trailing mean of the metric stays `≤ 1.05 · central` to the end.
//!
//! Ordering contract: a function of the rows and references only.

use std::fmt;

use serde::Serialize;

use super::reference::References;
use crate::metrics::window::{FinalWindow, first_round_within};
use crate::metrics::{Metric, RoundRow, Yardstick};

/// The margin over the central optimum of `rounds_to_within_5pct_of_central`.
pub const WITHIN_CENTRAL: f64 = 0.05;

/// A run beside its references and, when it ran, its isolated baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The column compared.
    pub metric: Metric,
    /// Rounds of the final window the RMSEs are averaged over.
    pub window_rounds: usize,
    /// The run's final-window RMSE.
    pub swarm_rmse: f64,
    /// The isolated baseline's, if it ran.
    pub isolated_rmse: Option<f64>,
    /// The central least-squares optimum's on the same data.
    pub central_ls_rmse: f64,
    /// `100 · (isolated − swarm) / isolated`.
    pub gain_over_isolated_pct: Option<f64>,
    /// `100 · (swarm − central) / central`.
    pub excess_over_central_pct: f64,
    /// `100 · (isolated − central) / central`.
    pub isolated_excess_over_central_pct: Option<f64>,
    /// First round from which the trailing mean stays `≤ 1.05 · central`.
    pub rounds_to_within_5pct_of_central: Option<u32>,
    /// The same for the isolated baseline.
    pub isolated_rounds_to_within_5pct_of_central: Option<u32>,
}

/// What a run is judged on: `rmse_heldout` (scored every
/// `heldout_every_rounds`) against the central optimum on the held-out
/// data when `references` has it, else `rmse_online` (every round) against
/// the central optimum on the training pairs.
pub fn yardstick(references: &References, heldout_every_rounds: u32) -> Yardstick {
    if references.heldout.central_ls.is_finite() {
        Yardstick {
            metric: Metric::RmseHeldout,
            every_rounds: heldout_every_rounds,
            central_rmse: references.heldout.central_ls,
        }
    } else {
        Yardstick {
            metric: Metric::RmseOnline,
            every_rounds: 1,
            central_rmse: references.online.central_ls,
        }
    }
}

/// Compares `swarm` (and `isolated`, if it ran) with the yardstick's
/// central optimum.
pub fn compare(
    yardstick: &Yardstick,
    swarm: &[RoundRow],
    isolated: Option<&[RoundRow]>,
) -> Comparison {
    let (metric, central) = (yardstick.metric, yardstick.central_rmse);
    let window = FinalWindow::of(swarm);
    let swarm_rmse = window.of_metric(metric);
    let isolated_rmse = isolated.map(|rows| FinalWindow::of(rows).of_metric(metric));
    let excess = |rmse: f64| 100.0 * (rmse - central) / central;
    let within = |rows: &[RoundRow]| {
        first_round_within(
            rows,
            yardstick,
            f64::NEG_INFINITY,
            (1.0 + WITHIN_CENTRAL) * central,
        )
    };
    Comparison {
        metric,
        window_rounds: window.window_rounds,
        swarm_rmse,
        isolated_rmse,
        central_ls_rmse: central,
        gain_over_isolated_pct: isolated_rmse.map(|iso| 100.0 * (iso - swarm_rmse) / iso),
        excess_over_central_pct: excess(swarm_rmse),
        isolated_excess_over_central_pct: isolated_rmse.map(excess),
        rounds_to_within_5pct_of_central: within(swarm),
        isolated_rounds_to_within_5pct_of_central: isolated.and_then(within),
    }
}

impl fmt::Display for Comparison {
    /// `rmse_heldout vs central LS 0.1000: swarm +5.0 %, isolated +20.0 %
    /// (gain over isolated 12.5 %)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vs central LS {:.4}: swarm {:.4} ({:+.1} %)",
            self.metric.name(),
            self.central_ls_rmse,
            self.swarm_rmse,
            self.excess_over_central_pct
        )?;
        if let (Some(iso), Some(excess), Some(gain)) = (
            self.isolated_rmse,
            self.isolated_excess_over_central_pct,
            self.gain_over_isolated_pct,
        ) {
            write!(
                f,
                ", isolated {iso:.4} ({excess:+.1} %), gain over isolated {gain:.1} %"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[f64]) -> Vec<RoundRow> {
        (1..)
            .zip(values)
            .map(|(round, &rmse_heldout)| RoundRow {
                round,
                rmse_heldout,
                ..RoundRow::default()
            })
            .collect()
    }

    #[test]
    fn figures_follow_their_formulas() {
        let swarm = rows(&[0.5; 12]);
        let mut iso_values = vec![0.8; 12];
        iso_values[..2].fill(2.0);
        let iso = rows(&iso_values);
        let at = |central_rmse| Yardstick {
            metric: Metric::RmseHeldout,
            every_rounds: 1,
            central_rmse,
        };
        let c = compare(&at(0.4), &swarm, Some(&iso));
        assert_eq!(c.window_rounds, 10);
        assert!((c.gain_over_isolated_pct.unwrap() - 37.5).abs() < 1e-9);
        assert!((c.excess_over_central_pct - 25.0).abs() < 1e-9);
        assert!((c.isolated_excess_over_central_pct.unwrap() - 100.0).abs() < 1e-9);
        // Never within 5 % of 0.4; within 5 % of 0.49 from the first full
        // trailing window.
        assert_eq!(c.rounds_to_within_5pct_of_central, None);
        let close = compare(&at(0.49), &swarm, None);
        assert_eq!(close.rounds_to_within_5pct_of_central, Some(5));
        assert_eq!(close.gain_over_isolated_pct, None);
        assert!(
            close.to_string().contains("swarm 0.5000 (+2.0 %)"),
            "{close}"
        );
        assert!(c.to_string().contains("gain over isolated 37.5 %"), "{c}");
    }
}
