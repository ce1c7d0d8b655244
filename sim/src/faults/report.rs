//! What the faults did: one [`OutageRecord`] per outage (`faults.csv`) and
//! the run's [`FaultsReport`] (`summary.json` `faults`). Columns and
//! fields are documented in `docs/metrics.md`.

use serde::Serialize;

/// What took a node down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageKind {
    /// Its energy pool emptied (`[energy]`).
    Energy,
    /// A scheduled `[[faults.brownout]]`.
    Brownout,
    /// A scheduled `[[faults.crash]]`.
    Crash,
}

/// How a node came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Boot {
    /// RAM was kept (`ram_on_power_loss = "kept"`): it resumed as it was.
    Resumed,
    /// Rebuilt and restored from its store.
    Restored,
    /// Rebuilt fresh: the store held no valid snapshot.
    FreshNoSnapshot,
    /// Rebuilt fresh: the runtime refused the snapshot (or cannot restore).
    FreshRestoreFailed,
    /// Rebuilt fresh: `persistence = "none"`.
    FreshNoPersistence,
}

/// One outage of one node (a row of `faults.csv`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutageRecord {
    /// The node.
    pub node: u32,
    /// What took it down.
    pub kind: OutageKind,
    /// When, µs of simulated time.
    pub cut_us: u64,
    /// Whether RAM was lost.
    pub ram_lost: bool,
    /// Whether the cut tore a snapshot write in progress.
    pub torn_write: bool,
    /// When it came back (`None`: not before the end).
    pub reboot_us: Option<u64>,
    /// How it came back.
    pub boot: Option<Boot>,
    /// The last round at or before the cut whose held-out RMSE of this
    /// node was scored.
    pub round_before: Option<u32>,
    /// That RMSE.
    pub rmse_before: Option<f64>,
    /// The first scored round that the node ran for entirely after coming
    /// back.
    pub round_after: Option<u32>,
    /// Its held-out RMSE in that round.
    pub rmse_after: Option<f64>,
    /// Rounds after coming back until its held-out RMSE was at most
    /// `(1 + recover_tolerance) · rmse_before` (1: the first full round);
    /// `None`: not within the run, or cut again first.
    pub rounds_to_recover: Option<u32>,
}

/// Counters of the run (`summary.json` `faults.counts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Outages from empty energy pools (of nodes that were running).
    pub outages_energy: u64,
    /// Scheduled brownouts that hit a running node.
    pub outages_brownout: u64,
    /// Scheduled crashes that hit a running node.
    pub outages_crash: u64,
    /// Outages not kept in `faults.csv` (beyond its row limit).
    pub outages_unrecorded: u64,
    /// Nodes that came back with their RAM.
    pub resumed_with_ram: u64,
    /// Nodes rebuilt and restored from their store.
    pub restores_ok: u64,
    /// Nodes rebuilt fresh, every reason.
    pub fresh_boots: u64,
    /// … because the store held no valid snapshot.
    pub fresh_no_snapshot: u64,
    /// … because the runtime refused or cannot restore the snapshot.
    pub fresh_restore_failed: u64,
    /// … because nothing persists (`persistence = "none"`).
    pub fresh_no_persistence: u64,
    /// Snapshot writes started.
    pub snapshots_started: u64,
    /// Snapshots the runtime could not write (`Runtime::snapshot` failed,
    /// e.g. unsupported).
    pub snapshots_failed: u64,
    /// Writes torn by a cut.
    pub torn_writes: u64,
    /// Torn writes after which the node still restored the previous
    /// snapshot at its next reboot.
    pub torn_writes_survived: u64,
    /// Frame copies dropped by a partition.
    pub partition_dropped: u64,
    /// Copies between different groups of some partition sent while none
    /// of the partitions separating them was in force (e.g. after a heal).
    pub partition_cross_group_sent: u64,
    /// Delivered copies corrupted.
    pub corrupted_frames: u64,
    /// Corrupted copies the node rejected with a checksum mismatch.
    pub corrupted_rejected_checksum: u64,
    /// Corrupted copies rejected for another reason (a flipped version,
    /// kind or length byte is caught before the checksum).
    pub corrupted_rejected_other: u64,
    /// Corrupted copies the node accepted (should be 0: CRC-32 detects
    /// every error of up to 3 bits in frames this short).
    pub corrupted_accepted: u64,
}

/// Mean figures over the outages that have them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RecoverySummary {
    /// Outages with both a before and an after RMSE.
    pub measured: u64,
    /// Mean held-out RMSE before (over those outages); `None` without any.
    pub rmse_before_mean: Option<f64>,
    /// Mean held-out RMSE in the first full round after.
    pub rmse_after_mean: Option<f64>,
    /// Mean of `rmse_after / rmse_before`.
    pub after_over_before_mean: Option<f64>,
    /// Outages whose node recovered within the run.
    pub recovered: u64,
    /// Mean rounds to recover over those.
    pub rounds_to_recover_mean: Option<f64>,
}

impl RecoverySummary {
    /// The summary of `records`.
    pub fn of(records: &[OutageRecord]) -> RecoverySummary {
        let mut s = RecoverySummary::default();
        let (mut before, mut after, mut ratio, mut rounds) = (0.0, 0.0, 0.0, 0.0);
        for r in records {
            if let (Some(b), Some(a)) = (r.rmse_before, r.rmse_after) {
                s.measured += 1;
                before += b;
                after += a;
                ratio += a / b;
            }
            if let Some(k) = r.rounds_to_recover {
                s.recovered += 1;
                rounds += f64::from(k);
            }
        }
        let mean = |sum: f64, n: u64| (n > 0).then(|| sum / n as f64);
        s.rmse_before_mean = mean(before, s.measured);
        s.rmse_after_mean = mean(after, s.measured);
        s.after_over_before_mean = mean(ratio, s.measured);
        s.rounds_to_recover_mean = mean(rounds, s.recovered);
        s
    }
}

/// `summary.json` `faults`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultsReport {
    /// `ram_on_power_loss` in force.
    pub ram_on_power_loss: &'static str,
    /// `persistence` in force.
    pub persistence: &'static str,
    /// The counters.
    pub counts: FaultCounts,
    /// Before/after figures over the outages.
    pub recovery: RecoverySummary,
    /// Smallest and largest drawn clock drift, ppm (`None` without drift).
    pub drift_ppm_range: Option<[i32; 2]>,
}
