//! The `[faults]` section of a scenario: what goes wrong, when, to whom.
//!
//! Every key, unit, default and range is in `docs/scenarios.md`
//! (`[faults]`); the model behind them is in `docs/faults.md`.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Largest number of `[[faults.brownout]]` + `[[faults.crash]]` +
/// `[[faults.partition]]` entries (each is checked against every event or
/// delivery it may touch, so the list is kept short).
pub const SCHEDULES_MAX: usize = 16;

/// Largest number of scheduled outages over the whole run (entries ×
/// nodes × `count`): they are queued as events when the world is built.
pub const OUTAGES_MAX: u64 = 1_000_000;

/// Largest `drift.ppm_max`: 10 % keeps every node's clock within a factor
/// 1.1 of true time, so the conversions stay exact in `i128`.
pub const PPM_MAX: u32 = 100_000;

/// Largest `corruption.bits` flipped in one frame.
pub const CORRUPT_BITS_MAX: u32 = 64;

/// What a node keeps when it loses power (an energy brownout or a
/// scheduled `[[faults.brownout]]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RamOnPowerLoss {
    /// RAM is lost: the node is rebuilt from its configuration and
    /// restored from its flash store when power returns (real hardware:
    /// an ESP32-C6 brownout reset clears SRAM). The default.
    #[default]
    Lost,
    /// RAM survives (the simulator's behaviour without `[faults]`): the
    /// node simply pauses.
    Kept,
}

/// What survives a RAM loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// A two-slot flash store per node, written every
    /// `snapshot_every_rounds` rounds. The default.
    #[default]
    Flash,
    /// Nothing: every reboot is a cold start (the ablation).
    None,
}

/// The `[faults]` section.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    /// What a power loss does to RAM. Default `lost`.
    pub ram_on_power_loss: RamOnPowerLoss,
    /// What survives a RAM loss. Default `flash`.
    pub persistence: Persistence,
    /// The host snapshots every powered node at the end of every this many
    /// rounds. Default 1.
    pub snapshot_every_rounds: u32,
    /// A snapshot write lasts this long; a power cut or crash inside tears
    /// it. Default 20 ms.
    pub snapshot_write_ms: u64,
    /// A rebooted node has recovered once its held-out RMSE is at most
    /// `(1 + recover_tolerance)` times its last one before the fault.
    /// Default 0.05.
    pub recover_tolerance: f64,
    /// Scheduled power cuts.
    pub brownout: Vec<OutageConfig>,
    /// Scheduled crashes (a reset: RAM is always lost).
    pub crash: Vec<OutageConfig>,
    /// Radio partitions and their heal.
    pub partition: Vec<PartitionConfig>,
    /// Bit flips in delivered frames; absent = none.
    pub corruption: Option<CorruptionConfig>,
    /// Per-node clock drift; absent = none.
    pub drift: Option<DriftConfig>,
}

impl Default for FaultsConfig {
    fn default() -> FaultsConfig {
        FaultsConfig {
            ram_on_power_loss: RamOnPowerLoss::Lost,
            persistence: Persistence::Flash,
            snapshot_every_rounds: 1,
            snapshot_write_ms: 20,
            recover_tolerance: 0.05,
            brownout: Vec::new(),
            crash: Vec::new(),
            partition: Vec::new(),
            corruption: None,
            drift: None,
        }
    }
}

/// One `[[faults.brownout]]` or `[[faults.crash]]` schedule: `count` cuts
/// of the chosen nodes, the `i`-th at
/// `(at_round + i · every_rounds) · round_period + U[0, jitter_ms]`, each
/// followed by `down_ms` without power (brownout) or running code (crash).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutageConfig {
    /// Round boundary of the first cut (≥ 1).
    pub at_round: u32,
    /// Rounds between two cuts of the same node; 0 with `count = 1`.
    #[serde(default)]
    pub every_rounds: u32,
    /// Cuts per node. Default 1.
    #[serde(default = "one")]
    pub count: u32,
    /// Time without power or code after each cut, ms.
    pub down_ms: u64,
    /// Each cut is later by a uniform draw in `[0, jitter_ms]` ms (µs
    /// resolution), per node and cut, from the node's faults stream.
    #[serde(default)]
    pub jitter_ms: u64,
    /// The nodes hit; absent = every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<u32>>,
}

fn one() -> u32 {
    1
}

/// One `[[faults.partition]]`: from `at_round · round_period` until
/// `heal_round · round_period`, frames sent between nodes of different
/// groups are dropped.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    /// Round boundary the partition starts at.
    pub at_round: u32,
    /// Round boundary it heals at (> `at_round`).
    pub heal_round: u32,
    /// Half-open node-id ranges `[start, end)`, one per group, disjoint;
    /// nodes in none of them form one more group.
    pub groups: Vec<[u32; 2]>,
}

/// `[faults.corruption]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorruptionConfig {
    /// Probability that one delivered copy of a frame is corrupted.
    pub probability: f64,
    /// Bits flipped in a corrupted copy (distinct positions). Default 1.
    #[serde(default = "one")]
    pub bits: u32,
}

/// `[faults.drift]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Each node's clock rate error is drawn uniformly in
    /// `[-ppm_max, ppm_max]` parts per million.
    pub ppm_max: u32,
}

impl Validate for FaultsConfig {
    fn validate(&self, v: &mut Validator) {
        v.range(
            "snapshot_every_rounds",
            self.snapshot_every_rounds,
            1,
            1_000_000,
        );
        v.range("snapshot_write_ms", self.snapshot_write_ms, 0, 3_600_000);
        let t = self.recover_tolerance;
        v.require(
            t.is_finite() && (0.0..=100.0).contains(&t),
            "recover_tolerance",
            "a finite number in [0, 100]",
            t,
        );
        let schedules = self.brownout.len() + self.crash.len() + self.partition.len();
        v.require(
            schedules <= SCHEDULES_MAX,
            "partition",
            format_args!("at most {SCHEDULES_MAX} brownout, crash and partition entries in all"),
            schedules,
        );
        for (name, list) in [("brownout", &self.brownout), ("crash", &self.crash)] {
            for (i, o) in list.iter().enumerate() {
                v.section(&format!("{name}[{i}]"), |v| o.validate(v));
            }
        }
        for (i, p) in self.partition.iter().enumerate() {
            v.section(&format!("partition[{i}]"), |v| p.validate(v));
        }
        if let Some(c) = &self.corruption {
            v.section("corruption", |v| {
                v.probability("probability", c.probability);
                v.range("bits", c.bits, 1, CORRUPT_BITS_MAX);
            });
        }
        if let Some(d) = &self.drift {
            v.section("drift", |v| v.range("ppm_max", d.ppm_max, 0, PPM_MAX));
        }
    }
}

impl Validate for OutageConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("at_round", self.at_round, 1, 1_000_000);
        v.range("count", self.count, 1, 1_000_000);
        v.require(
            self.count == 1 || self.every_rounds >= 1,
            "every_rounds",
            "at least 1 when `count` > 1",
            self.every_rounds,
        );
        v.range("down_ms", self.down_ms, 1, 86_400_000);
        v.range("jitter_ms", self.jitter_ms, 0, 3_600_000);
        if let Some(nodes) = &self.nodes {
            let mut sorted = nodes.clone();
            sorted.sort_unstable();
            let dup = sorted.windows(2).find(|w| w[0] == w[1]);
            v.require(
                !nodes.is_empty() && dup.is_none(),
                "nodes",
                "a non-empty list of distinct node ids",
                format_args!("{nodes:?}"),
            );
        }
    }
}

impl Validate for PartitionConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("at_round", self.at_round, 0, 1_000_000);
        v.require(
            self.heal_round > self.at_round,
            "heal_round",
            format_args!("a round after `at_round` ({})", self.at_round),
            self.heal_round,
        );
        let mut ranges = self.groups.clone();
        ranges.sort_unstable();
        let ok = !ranges.is_empty()
            && ranges.iter().all(|r| r[0] < r[1])
            && ranges.windows(2).all(|w| w[0][1] <= w[1][0]);
        v.require(
            ok,
            "groups",
            "a non-empty list of disjoint, non-empty ranges [start, end)",
            format_args!("{:?}", self.groups),
        );
    }
}

impl FaultsConfig {
    /// Checks against the rest of the scenario: node ids below `nodes`,
    /// the snapshot write shorter than a round, and the total of scheduled
    /// outages.
    pub fn validate_against(&self, nodes: u32, round_period_ms: u64, v: &mut Validator) {
        v.require_between(
            self.snapshot_write_ms < round_period_ms,
            "faults.snapshot_write_ms",
            "run.round_period_ms",
            format_args!("less than `run.round_period_ms` ({round_period_ms})"),
            self.snapshot_write_ms,
        );
        let mut total: u64 = 0;
        for (name, list) in [("brownout", &self.brownout), ("crash", &self.crash)] {
            for (i, o) in list.iter().enumerate() {
                let key = format!("faults.{name}[{i}].nodes");
                if let Some(max) = o.nodes.iter().flatten().max() {
                    v.require_between(
                        *max < nodes,
                        &key,
                        "nodes",
                        format_args!("node ids below `nodes` ({nodes})"),
                        max,
                    );
                }
                let hit = o
                    .nodes
                    .as_ref()
                    .map_or(u64::from(nodes), |n| n.len() as u64);
                total = total.saturating_add(hit.saturating_mul(u64::from(o.count)));
            }
        }
        v.require_between(
            total <= OUTAGES_MAX,
            "faults",
            "nodes",
            format_args!("at most {OUTAGES_MAX} scheduled outages (nodes hit × count, summed)"),
            total,
        );
        for (i, p) in self.partition.iter().enumerate() {
            if let Some(end) = p.groups.iter().map(|r| r[1]).max() {
                v.require_between(
                    end <= nodes,
                    &format!("faults.partition[{i}].groups"),
                    "nodes",
                    format_args!("ranges ending at or below `nodes` ({nodes})"),
                    end,
                );
            }
        }
    }
}
