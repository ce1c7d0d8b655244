//! Per-round metrics: the rows of `rounds.csv` and the figures of the
//! summary drawn from them.
//!
//! One [`RoundRow`] is recorded at the end of every gossip round `r`
//! (simulated time `r · round_period`), covering the samples taken in
//! `[(r−1)·P, r·P)`. Counters (frames, bytes, energy) are cumulative since
//! the start of the run, so a row alone gives totals and the difference of
//! two rows gives a rate. Columns are documented in `docs/metrics.md`.
//!
//! Ordering contract: metrics are computed in `f64` from the nodes' Q16.16
//! values, always in node-id order (never in hash order), and the figures
//! over rows ([`convergence`], [`window`]) in row order, so they are
//! identical on every run whatever the thread count.

pub mod convergence;
pub mod heldout;
pub mod influence;
pub mod window;

use node_core::runtime::{FrameKind, RejectReason};

use crate::radio::counters::PerKind;
use serde::Serialize;

/// One row of `rounds.csv`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoundRow {
    /// Scenario name (constant per file; eases merging runs).
    pub scenario: String,
    /// Seed of the run (constant per file).
    pub seed: u64,
    /// Round number, 1-based.
    pub round: u32,
    /// Simulated time at the end of the round, s.
    pub time_s: f64,
    /// Honest nodes in the swarm.
    pub honest_nodes: u32,
    /// Nodes powered on at the end of the round.
    pub nodes_on: u32,
    /// Root mean square one-step prediction error of honest nodes over the
    /// round's samples: observed sample minus the prediction made before it.
    pub rmse_online: f64,
    /// The same predictions against the noiseless signal.
    pub rmse_clean: f64,
    /// Root mean square one-step error of honest nodes' current weights on
    /// their held-out data (NaN when held-out data is disabled).
    pub rmse_heldout: f64,
    /// Samples behind `rmse_online` and `rmse_clean`.
    pub samples: u64,
    /// Mean L2 distance of honest nodes' weight vectors to their mean.
    pub consensus_distance: f64,
    /// Largest L2 distance of an honest node's weights to the honest mean.
    pub consensus_distance_max: f64,
    /// Root mean square, over honest nodes and weight coordinates, of the
    /// weights against the `[consensus]` truth; `None` (an empty cell)
    /// without a `[consensus]` section.
    pub drift: Option<f64>,
    /// Honest nodes in Calm at the end of the round.
    pub calm: u32,
    /// Honest nodes in PreStorm.
    pub prestorm: u32,
    /// Honest nodes in Storm.
    pub storm: u32,
    /// Frames transmitted, all kinds (cumulative).
    pub tx_frames: u64,
    /// Bytes transmitted, all kinds (cumulative).
    pub tx_bytes: u64,
    /// Frames delivered to a powered node (cumulative).
    pub rx_frames: u64,
    /// Model-update frames delivered to a powered node and not rejected
    /// (cumulative).
    pub rx_model_updates_accepted: u64,
    /// Frame deliveries lost on links (cumulative).
    pub lost_frames: u64,
    /// Frames rejected by receiving nodes, every reason (cumulative).
    pub rejected_frames: u64,
    /// Rejected as not a valid frame (cumulative).
    pub rejected_malformed: u64,
    /// Rejected as a delta whose base the receiver lacks (cumulative).
    pub rejected_missing_base: u64,
    /// Rejected as from an unknown or untracked sender, or refused
    /// (cumulative).
    pub rejected_unknown_sender: u64,
    /// Rejected as from a banned sender (cumulative).
    pub rejected_banned: u64,
    /// Model-update frames transmitted (cumulative).
    pub tx_frames_model_update: u64,
    /// Model-update bytes transmitted (cumulative).
    pub tx_bytes_model_update: u64,
    /// Reputation-report frames transmitted (cumulative).
    pub tx_frames_reputation_report: u64,
    /// Reputation-report bytes transmitted (cumulative).
    pub tx_bytes_reputation_report: u64,
    /// Audit challenge and response frames transmitted (cumulative).
    pub tx_frames_audit: u64,
    /// Audit challenge and response bytes transmitted (cumulative).
    pub tx_bytes_audit: u64,
    /// Proof frames transmitted (cumulative).
    pub tx_frames_proof: u64,
    /// Proof bytes transmitted (cumulative).
    pub tx_bytes_proof: u64,
    /// Heartbeat frames transmitted (cumulative).
    pub tx_frames_heartbeat: u64,
    /// Heartbeat bytes transmitted (cumulative).
    pub tx_bytes_heartbeat: u64,
    /// Elementary aggregation operations of honest nodes (cumulative).
    pub aggregation_ops: u64,
    /// Energy the nodes accounted for their own work, J (cumulative).
    pub energy_spent_j: f64,
    /// Energy drawn by the baseline drain, J (cumulative).
    pub energy_drain_j: f64,
    /// Energy harvested, J (cumulative).
    pub energy_harvested_j: f64,
    /// Brownouts (cumulative).
    pub brownouts: u64,
    /// Events dispatched (cumulative).
    pub events: u64,
    /// Byzantine nodes (`[adversary]`; 0 without).
    pub attackers: u32,
    /// Attackers a strict majority of their honest trackers score below
    /// `adversary.detect_reputation` (`adversary::detection`).
    pub attackers_detected: u32,
    /// Attackers banned by at least one honest node.
    pub attackers_banned: u32,
    /// (honest node, attacker identity) ban pairs.
    pub attacker_bans: u64,
    /// Honest nodes banned by at least one honest node.
    pub false_positive_nodes: u32,
    /// (honest node, honest node) ban pairs.
    pub false_positive_bans: u64,
}

impl RoundRow {
    /// Fills the per-kind byte and frame columns from cumulative counters.
    pub fn set_kind_counters(&mut self, frames: &PerKind, bytes: &PerKind) {
        let at = |k: FrameKind| k.index();
        self.tx_frames = frames.iter().sum();
        self.tx_bytes = bytes.iter().sum();
        self.tx_frames_model_update = frames[at(FrameKind::ModelUpdate)];
        self.tx_bytes_model_update = bytes[at(FrameKind::ModelUpdate)];
        self.tx_frames_reputation_report = frames[at(FrameKind::ReputationReport)];
        self.tx_bytes_reputation_report = bytes[at(FrameKind::ReputationReport)];
        let audit = [at(FrameKind::AuditChallenge), at(FrameKind::AuditResponse)];
        self.tx_frames_audit = audit.iter().map(|&i| frames[i]).sum();
        self.tx_bytes_audit = audit.iter().map(|&i| bytes[i]).sum();
        self.tx_frames_proof = frames[at(FrameKind::Proof)];
        self.tx_bytes_proof = bytes[at(FrameKind::Proof)];
        self.tx_frames_heartbeat = frames[at(FrameKind::Heartbeat)];
        self.tx_bytes_heartbeat = bytes[at(FrameKind::Heartbeat)];
    }

    /// Fills `rejected_frames` and its split by reason from cumulative
    /// counters indexed by [`RejectReason::index`].
    pub fn set_rejected(&mut self, by_reason: &[u64; RejectReason::ALL.len()]) {
        let at = |r: RejectReason| by_reason[r.index()];
        self.rejected_frames = by_reason.iter().sum();
        self.rejected_malformed = at(RejectReason::Malformed);
        self.rejected_missing_base = at(RejectReason::MissingBase);
        self.rejected_unknown_sender = at(RejectReason::UnknownSender);
        self.rejected_banned = at(RejectReason::Banned);
    }
}

/// A learning column of [`RoundRow`] that figures over rows are about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `rmse_online`: one-step error on the training stream.
    RmseOnline,
    /// `rmse_heldout`: one-step error of the current weights on held-out data.
    RmseHeldout,
}

impl Metric {
    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::RmseOnline => "rmse_online",
            Metric::RmseHeldout => "rmse_heldout",
        }
    }

    /// The column's value in `row`.
    pub fn of(self, row: &RoundRow) -> f64 {
        match self {
            Metric::RmseOnline => row.rmse_online,
            Metric::RmseHeldout => row.rmse_heldout,
        }
    }

    /// The `summary.json` path of the central least-squares optimum on the
    /// same data as this column.
    pub fn central_reference(self) -> &'static str {
        match self {
            Metric::RmseOnline => "references.online.central_ls",
            Metric::RmseHeldout => "references.heldout.central_ls",
        }
    }
}

/// What a run is judged on: a learning column, the rounds it is scored
/// at (`round % every_rounds == 0`; other rows hold NaN), and the central
/// least-squares optimum's RMSE on the same data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Yardstick {
    /// The column.
    pub metric: Metric,
    /// It is scored every this many rounds (1: every round).
    pub every_rounds: u32,
    /// The central optimum's RMSE on the column's data.
    pub central_rmse: f64,
}

/// Accumulates one honest node's squared prediction errors over a round, in
/// exact integer arithmetic (Q16.16 error squared is Q32.32; an error is
/// a difference of two Q16.16 values, so it is kept in `i64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorAccumulator {
    sum_sq_q32: u128,
    count: u64,
}

impl ErrorAccumulator {
    /// Adds one error (raw Q16.16 bits).
    pub fn add(&mut self, error_raw_q16: i64) {
        let e = i128::from(error_raw_q16);
        self.sum_sq_q32 += (e * e) as u128;
        self.count += 1;
    }

    /// Merges another accumulator.
    pub fn merge(&mut self, other: &ErrorAccumulator) {
        self.sum_sq_q32 += other.sum_sq_q32;
        self.count += other.count;
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Root mean square error, or NaN with no samples.
    pub fn rmse(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let mean_sq = self.sum_sq_q32 as f64 / self.count as f64 / 4_294_967_296.0;
        mean_sq.sqrt()
    }
}

/// Mean and max L2 distance of `vectors` to their mean (`dim` each).
/// `vectors` holds the vectors back to back; an empty set gives (0, 0).
pub fn consensus_distance(vectors: &[f64], dim: usize) -> (f64, f64) {
    if dim == 0 || vectors.is_empty() {
        return (0.0, 0.0);
    }
    assert_eq!(vectors.len() % dim, 0, "ragged weight vectors");
    let count = vectors.len() / dim;
    let mut mean = vec![0.0; dim];
    for v in vectors.chunks_exact(dim) {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= count as f64);
    let mut total = 0.0;
    let mut worst: f64 = 0.0;
    for v in vectors.chunks_exact(dim) {
        let d = v
            .iter()
            .zip(&mean)
            .map(|(x, m)| (x - m) * (x - m))
            .sum::<f64>()
            .sqrt();
        total += d;
        worst = worst.max(d);
    }
    (total / count as f64, worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_lands_in_its_columns() {
        // Kind i sent 10^i frames and 2·10^i bytes: each column shows which.
        let frames: PerKind = core::array::from_fn(|i| 10_u64.pow(i as u32));
        let bytes: PerKind = frames.map(|f| 2 * f);
        let mut row = RoundRow::default();
        row.set_kind_counters(&frames, &bytes);
        assert_eq!((row.tx_frames, row.tx_bytes), (111_111, 222_222));
        assert_eq!(
            (row.tx_frames_model_update, row.tx_bytes_model_update),
            (1, 2)
        );
        assert_eq!(
            (
                row.tx_frames_reputation_report,
                row.tx_bytes_reputation_report
            ),
            (10, 20)
        );
        assert_eq!((row.tx_frames_audit, row.tx_bytes_audit), (1_100, 2_200));
        assert_eq!((row.tx_frames_proof, row.tx_bytes_proof), (10_000, 20_000));
        assert_eq!(
            (row.tx_frames_heartbeat, row.tx_bytes_heartbeat),
            (100_000, 200_000)
        );
    }

    #[test]
    fn rmse_is_exact_for_known_errors() {
        let mut acc = ErrorAccumulator::default();
        acc.add(3 << 16);
        acc.add(-(4 << 16));
        assert_eq!(acc.count(), 2);
        assert!((acc.rmse() - (12.5_f64).sqrt()).abs() < 1e-12);
        // A difference of two extreme Q16.16 values does not overflow.
        let mut wide = ErrorAccumulator::default();
        wide.add(i64::from(i32::MAX) - i64::from(i32::MIN));
        assert_eq!(wide.rmse(), 4_294_967_295.0 / 65_536.0);
        assert!(ErrorAccumulator::default().rmse().is_nan());
    }

    #[test]
    fn every_reject_reason_lands_in_its_column() {
        let mut row = RoundRow::default();
        row.set_rejected(&[1, 20, 300, 4_000]);
        assert_eq!(row.rejected_frames, 4_321);
        assert_eq!(
            (
                row.rejected_malformed,
                row.rejected_missing_base,
                row.rejected_unknown_sender,
                row.rejected_banned
            ),
            (1, 20, 300, 4_000)
        );
    }

    #[test]
    fn consensus_distance_of_two_points() {
        let (mean, max) = consensus_distance(&[0.0, 0.0, 2.0, 0.0], 2);
        assert!((mean - 1.0).abs() < 1e-12 && (max - 1.0).abs() < 1e-12);
        assert_eq!(consensus_distance(&[], 3), (0.0, 0.0));
    }
}
