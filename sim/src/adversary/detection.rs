//! What the honest nodes' reputation tables say about the attackers, per
//! round: detection, bans and false positives (`rounds.csv` columns and
//! `summary.json` `adversary`, docs/metrics.md).
//!
//! Definitions, at the end of each round (when the row is taken), over the
//! honest nodes' tables ([`Runtime::reputation_table`]) in node-id order:
//!
//! * an honest node **tracks** a peer when its table has an entry for it
//!   (it heard the peer: trackers are radio neighbours). A sybil's fake
//!   identities count for the attacker that emits them: each (honest
//!   node, identity) entry is one tracking;
//! * an attacker is **detected** when a strict majority of its trackings
//!   score it below `adversary.detect_reputation`; its *detection round* is
//!   the first round this holds;
//! * an attacker is **banned** when at least one tracking is banned; its
//!   *ban round* the first round this holds; `banned_by` counts the
//!   banning trackings;
//! * a **false positive** is an honest node banned by an honest node
//!   (`false_positive_nodes` such nodes, `false_positive_bans` such pairs).
//!
//! Cost per round: one pass over every honest table (at most `max_peers`
//! entries each), `O(n · max_peers)`; buffers allocated once.

use node_core::q::Q;
use node_core::runtime::{NodeId, Runtime};
use serde::Serialize;

use super::{AttackKind, Plan};
use crate::fixed;
use crate::metrics::RoundRow;

const HONEST: u32 = u32::MAX;

/// One attacker's record over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttackerRecord {
    /// Node id.
    pub id: NodeId,
    /// Index of its group.
    pub group: u16,
    /// Its attack's name.
    pub attack: &'static str,
    /// First round it was detected, if ever.
    pub first_detected_round: Option<u32>,
    /// First round an honest node banned it, if ever.
    pub first_banned_round: Option<u32>,
    /// Honest trackings banning it at the end of the run.
    pub banned_by: u32,
    /// Honest trackings of it at the end of the run.
    pub tracked_by: u32,
}

/// The per-round detection state of one world.
#[derive(Clone, Debug)]
pub struct Detection {
    /// Per node id: index into `records`, or `HONEST`.
    index_of: Vec<u32>,
    /// Fake sybil ids `[first, end)` and their owner's record index.
    sybil_ranges: Vec<(NodeId, NodeId, u32)>,
    threshold: Q,
    records: Vec<AttackerRecord>,
    tracked: Vec<u32>,
    low: Vec<u32>,
    banned: Vec<u32>,
    marked: Vec<bool>,
}

impl Detection {
    /// The detection state of `plan`'s attackers.
    pub fn new(plan: &Plan) -> Detection {
        let n = plan.roles().len();
        let mut index_of = vec![HONEST; n];
        let mut records = Vec::new();
        let mut sybil_ranges = Vec::new();
        for (id, role) in (0..).zip(plan.roles()) {
            let Some(role) = role else { continue };
            let index = records.len() as u32;
            index_of[id as usize] = index;
            if role.identities > 0 {
                sybil_ranges.push((role.sybil_base, role.sybil_base + role.identities, index));
            }
            records.push(AttackerRecord {
                id,
                group: role.group,
                attack: role.attack.name(),
                ..AttackerRecord::default()
            });
        }
        let count = records.len();
        Detection {
            index_of,
            sybil_ranges,
            threshold: fixed::from_f64(plan.detect_reputation()),
            records,
            tracked: vec![0; count],
            low: vec![0; count],
            banned: vec![0; count],
            marked: vec![false; n],
        }
    }

    /// Whether node `id` is honest.
    pub fn is_honest(&self, id: NodeId) -> bool {
        self.index_of.get(id as usize).is_none_or(|i| *i == HONEST)
    }

    /// The attackers' records (in id order).
    pub fn records(&self) -> &[AttackerRecord] {
        &self.records
    }

    /// The record index of `peer` (an attacker or a sybil identity).
    fn attacker_of(&self, peer: NodeId) -> Option<usize> {
        if let Some(&i) = self.index_of.get(peer as usize) {
            return (i != HONEST).then_some(i as usize);
        }
        self.sybil_ranges
            .iter()
            .find(|(first, end, _)| (*first..*end).contains(&peer))
            .map(|(_, _, i)| *i as usize)
    }

    /// Fills the adversary columns of `row` (round `round`) from the
    /// honest nodes among `nodes`.
    pub fn measure<R: Runtime>(&mut self, round: u32, nodes: &[R], row: &mut RoundRow) {
        self.tracked.fill(0);
        self.low.fill(0);
        self.banned.fill(0);
        self.marked.fill(false);
        let mut false_positive_bans = 0_u64;
        for (id, node) in (0..).zip(nodes) {
            if !self.is_honest(id) {
                continue;
            }
            let Some(table) = node.reputation_table() else {
                continue;
            };
            for entry in table.entries() {
                match self.attacker_of(entry.peer) {
                    Some(a) => {
                        self.tracked[a] += 1;
                        self.low[a] += u32::from(entry.score < self.threshold);
                        self.banned[a] += u32::from(entry.banned);
                    }
                    None if entry.banned && (entry.peer as usize) < self.marked.len() => {
                        false_positive_bans += 1;
                        self.marked[entry.peer as usize] = true;
                    }
                    None => {}
                }
            }
        }
        row.attackers = self.records.len() as u32;
        for (a, record) in self.records.iter_mut().enumerate() {
            let detected = 2 * self.low[a] > self.tracked[a];
            if detected {
                row.attackers_detected += 1;
                record.first_detected_round.get_or_insert(round);
            }
            if self.banned[a] > 0 {
                row.attackers_banned += 1;
                record.first_banned_round.get_or_insert(round);
            }
            row.attacker_bans += u64::from(self.banned[a]);
            record.banned_by = self.banned[a];
            record.tracked_by = self.tracked[a];
        }
        row.false_positive_nodes = self.marked.iter().filter(|m| **m).count() as u32;
        row.false_positive_bans = false_positive_bans;
    }
}

/// `summary.json` `adversary`: the attack's effect and its detection.
#[derive(Clone, Debug, Serialize)]
pub struct AdversaryReport {
    /// Attackers per group: attack name and count, in group order.
    pub groups: Vec<(&'static str, u32)>,
    /// Attackers in the run.
    pub attackers: u32,
    /// `adversary.detect_reputation`.
    pub detect_reputation: f64,
    /// The column compared: `drift` with `[consensus]`, else
    /// `rmse_heldout` when there is held-out data, else `rmse_online`.
    pub metric: &'static str,
    /// Its final-window mean over the honest nodes of this run.
    pub attacked: Option<f64>,
    /// The same in the attack-free run (same scenario and seed, no
    /// `[adversary]`; `baseline-attack_free/`).
    pub attack_free: Option<f64>,
    /// `100 · (attacked − attack_free) / attack_free`.
    pub honest_drift_pct: Option<f64>,
    /// Attackers detected in the last round.
    pub detected_final: u32,
    /// Attackers banned by at least one honest node in the last round.
    pub banned_final: u32,
    /// Mean over the detected attackers of their first detection round.
    pub detection_round_mean: Option<f64>,
    /// The largest first detection round (all detected: when the last one
    /// was); `None` unless every attacker was detected.
    pub all_detected_round: Option<u32>,
    /// Honest nodes banned by an honest node, last round.
    pub false_positive_nodes_final: u32,
    /// Audit (challenge and response) bytes sent per round, whole run.
    pub audit_bytes_per_round: f64,
    /// Reputation-report bytes sent per round, whole run.
    pub report_bytes_per_round: f64,
    /// Every attacker.
    pub per_attacker: Vec<AttackerRecord>,
}

impl AdversaryReport {
    /// The report of a run with `detection`'s attackers, its `rows` and
    /// the attack-free run's `free` rows (`plan` names the groups).
    pub fn new(
        plan: &Plan,
        groups: &[AttackKind],
        detection: &Detection,
        rows: &[RoundRow],
        free: Option<&[RoundRow]>,
        metric: &'static str,
    ) -> AdversaryReport {
        let of = |r: &RoundRow| match metric {
            "drift" => r.drift.unwrap_or(f64::NAN),
            "rmse_heldout" => r.rmse_heldout,
            _ => r.rmse_online,
        };
        let attacked = crate::metrics::window::final_mean(rows, of);
        let attack_free = free.and_then(|f| crate::metrics::window::final_mean(f, of));
        let honest_drift_pct = match (attacked, attack_free) {
            (Some(a), Some(f)) if f > 0.0 => Some(100.0 * (a - f) / f),
            _ => None,
        };
        let records = detection.records();
        let detected: Vec<u32> = records
            .iter()
            .filter_map(|r| r.first_detected_round)
            .collect();
        let last = rows.last().cloned().unwrap_or_default();
        let rounds = rows.len().max(1) as f64;
        AdversaryReport {
            groups: groups
                .iter()
                .enumerate()
                .map(|(g, attack)| {
                    let count = records.iter().filter(|r| usize::from(r.group) == g).count();
                    (attack.name(), count as u32)
                })
                .collect(),
            attackers: records.len() as u32,
            detect_reputation: plan.detect_reputation(),
            metric,
            attacked,
            attack_free,
            honest_drift_pct,
            detected_final: last.attackers_detected,
            banned_final: last.attackers_banned,
            detection_round_mean: (!detected.is_empty()).then(|| {
                detected.iter().map(|r| f64::from(*r)).sum::<f64>() / detected.len() as f64
            }),
            all_detected_round: (detected.len() == records.len() && !records.is_empty())
                .then(|| detected.iter().copied().max().unwrap_or(0)),
            false_positive_nodes_final: last.false_positive_nodes,
            audit_bytes_per_round: last.tx_bytes_audit as f64 / rounds,
            report_bytes_per_round: last.tx_bytes_reputation_report as f64 / rounds,
            per_attacker: records.to_vec(),
        }
    }
}
