//! The node's side of stochastic audits ([`crate::audit`]): the hooks
//! `Node` calls at each step of its life, the open audits, the queued
//! answers and the frames they put on the air.
//!
//! ## Hooks, in the order a round runs them
//!
//! | when | hook | does |
//! |---|---|---|
//! | before each training step (`handle_sample`) | `audit_on_sample` | records the sample and its step code |
//! | update encoded (`poll_transmit`) | `audit_on_broadcast` | freezes the record with the round |
//! | update accepted (`handle_frame`) | `audit_on_update` | notes the sender's round, delta flag, encoding |
//! | aggregation, before mixing | `audit_grubbs` | Grubbs on the inbox's distances to the aggregate |
//! | end of aggregation (`end_round`) | `audit_end_round` | opens challenges, rebases the record |
//! | challenge / response received | `audit_on_challenge` / `audit_on_response` | queues an answer / gives a verdict |
//! | every wake | `audit_expire` | open audits past their deadline become unanswered |
//! | outbox empty (`poll_transmit`) | `poll_audit_transmit` | emits challenges, then answers, fragmented to the MTU |
//!
//! With audits disabled `Node::audit` is `None` and every hook returns at
//! once: the node behaves bit for bit as without this module.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use rand_chacha::rand_core::Rng;

use super::{ConfigError, INBOX_MAX, Node, NodeConfig};
use crate::aggregate::Contribution;
use crate::audit::recompute::{self, Claim, Received};
use crate::audit::record::TrainingRecord;
use crate::audit::{self, AuditConfig, AuditCounters, PeerAuditStats, grubbs};
use crate::q::Q;
use crate::rng::{self, Purpose};
use crate::runtime::{Destination, FrameKind, NodeId, Transmit};
use crate::time::Instant;
use crate::wire::challenge::NONCE_LEN;
use crate::wire::response::Status;
use crate::wire::{
    self, AuditChallengeRepr, AuditResponseRepr, Encoding, FrameRepr, Message, ModelUpdateRepr,
};

/// One peer's audit history and its last update's shape.
#[derive(Clone, Copy, Debug)]
struct PeerEntry {
    stats: PeerAuditStats,
    last_round: u32,
    last_delta: bool,
    last_encoding: Encoding,
    flagged: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    /// Opened, challenge not yet on the air.
    Pending,
    /// Challenge sent; answers accepted until `deadline`.
    Sent {
        deadline: Instant,
    },
}

/// One open audit. Its copy of the received update is in `slot_words`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    state: SlotState,
    target: NodeId,
    round: u32,
    nonce: [u8; NONCE_LEN],
    delta: bool,
    encoding: Encoding,
}

const FREE: Slot = Slot {
    state: SlotState::Free,
    target: 0,
    round: 0,
    nonce: [0; NONCE_LEN],
    delta: false,
    encoding: Encoding::Raw,
};

/// A challenge to answer.
#[derive(Clone, Copy, Debug)]
struct PendingResponse {
    auditor: NodeId,
    round: u32,
    nonce: [u8; NONCE_LEN],
}

/// Everything a node keeps for audits; allocated once, only when enabled.
pub(super) struct AuditState {
    config: AuditConfig,
    /// Step size per step code (shared by the swarm's configuration).
    table: [Q; 4],
    dim: usize,
    live: TrainingRecord,
    frozen: TrainingRecord,
    /// At most `delta.tracked_peers` entries, in the order first heard.
    peers: Vec<PeerEntry>,
    peers_max: usize,
    slots: Vec<Slot>,
    /// Per slot: the received public model `P`, then its keyframe `K`.
    slot_words: Vec<Q>,
    responses: Vec<PendingResponse>,
    out: Vec<u8>,
    out_len: usize,
    out_next: u8,
    out_kind: FrameKind,
    out_destination: Destination,
    /// Challenges, responses, verdicts, Grubbs flags: kept here rather
    /// than in [`super::NodeCounters`], so a node with audits off does not
    /// carry 52 bytes of zeros.
    counters: AuditCounters,
}

/// What [`Node::audit_counters`] reports with audits off.
static AUDITS_OFF: AuditCounters = AuditCounters {
    challenges_sent: 0,
    challenges_received: 0,
    challenges_dropped: 0,
    responses_sent: 0,
    passed: 0,
    failed: 0,
    unanswered: 0,
    unauditable: 0,
    skipped_full: 0,
    bans: 0,
    grubbs_rounds: 0,
    grubbs_flags: 0,
    records_overflowed: 0,
};

impl AuditState {
    /// `None` when audits are off; validates the audit section. Boxed, so
    /// that a node with audits off pays one pointer for it, not the state.
    pub(super) fn new(
        config: &NodeConfig,
        dim: usize,
    ) -> Result<Option<Box<AuditState>>, ConfigError> {
        let audit = config.audit;
        if !audit.enabled {
            return Ok(None);
        }
        audit
            .validate(config.round_period)
            .map_err(ConfigError::Audit)?;
        let outstanding = usize::from(audit.max_outstanding);
        let peers_max = usize::from(config.delta.tracked_peers);
        Ok(Some(Box::new(AuditState {
            config: audit,
            table: audit::step_table(
                config.step_size_by_regime,
                config.warmup_step_size,
                config.model.step_size,
            ),
            dim,
            live: TrainingRecord::new(dim),
            frozen: TrainingRecord::new(dim),
            peers: Vec::with_capacity(peers_max),
            peers_max,
            slots: vec![FREE; outstanding],
            slot_words: vec![Q::ZERO; outstanding * 2 * dim],
            responses: Vec::with_capacity(audit::RESPONSES_MAX),
            out: vec![0; wire::MAX_FRAME_LEN],
            out_len: 0,
            out_next: 0,
            out_kind: FrameKind::AuditChallenge,
            out_destination: Destination::Broadcast,
            counters: AuditCounters::default(),
        })))
    }

    /// Heap bytes the state owns, its own box excluded.
    pub(super) fn heap_bytes(&self) -> usize {
        use crate::heap::of_vec;
        self.live.heap_bytes()
            + self.frozen.heap_bytes()
            + of_vec(&self.peers)
            + of_vec(&self.slots)
            + of_vec(&self.slot_words)
            + of_vec(&self.responses)
            + of_vec(&self.out)
    }

    fn peer_mut(&mut self, peer: NodeId) -> Option<&mut PeerEntry> {
        self.peers.iter_mut().find(|p| p.stats.peer == peer)
    }

    fn has_open_audit(&self, peer: NodeId) -> bool {
        self.slots
            .iter()
            .any(|s| s.state != SlotState::Free && s.target == peer)
    }
}

impl Node {
    /// The node's audit counters (all zero with audits off).
    pub fn audit_counters(&self) -> &AuditCounters {
        self.audit.as_ref().map_or(&AUDITS_OFF, |a| &a.counters)
    }

    /// What this node knows of `peer`'s audits, or `None` (audits off,
    /// or `peer` never heard).
    pub fn audit_peer(&self, peer: NodeId) -> Option<PeerAuditStats> {
        let audit = self.audit.as_ref()?;
        audit
            .peers
            .iter()
            .find(|p| p.stats.peer == peer)
            .map(|p| p.stats)
    }

    /// Every peer's audit record, in the order first heard (empty with
    /// audits off).
    pub fn audit_peers(&self) -> impl Iterator<Item = PeerAuditStats> + '_ {
        self.audit
            .iter()
            .flat_map(|a| a.peers.iter().map(|p| p.stats))
    }

    /// Before each training step: record the sample and its step code.
    pub(super) fn audit_on_sample(&mut self, sample: Q) {
        if let Some(audit) = self.audit.as_mut() {
            let code = audit::step_code(&audit.table, self.model.step_size());
            audit.live.push(sample, code);
        }
    }

    /// The round's update was encoded: freeze what it was computed from.
    pub(super) fn audit_on_broadcast(&mut self) {
        if let Some(audit) = self.audit.as_mut() {
            audit.live.freeze_into(&mut audit.frozen, self.round);
            if audit.live.overflowed() {
                audit.counters.records_overflowed += 1;
            }
        }
    }

    /// Rebase the record on the current model (aggregation, external set).
    pub(super) fn audit_rebase(&mut self) {
        if let Some(audit) = self.audit.as_mut() {
            audit.live.rebase(&self.model);
        }
    }

    /// An update from `sender` of its `round` was accepted.
    pub(super) fn audit_on_update(&mut self, sender: NodeId, round: u32, update: &ModelUpdateRepr) {
        let Some(audit) = self.audit.as_mut() else {
            return;
        };
        if audit.peer_mut(sender).is_none() && audit.peers.len() < audit.peers_max {
            audit.peers.push(PeerEntry {
                stats: PeerAuditStats {
                    peer: sender,
                    ..PeerAuditStats::default()
                },
                last_round: round,
                last_delta: false,
                last_encoding: Encoding::Raw,
                flagged: false,
            });
        }
        if let Some(entry) = audit.peer_mut(sender) {
            entry.last_round = round;
            entry.last_delta = update.delta;
            entry.last_encoding = update.encoding;
        }
    }

    /// Open audits past their deadline become unanswered.
    pub(super) fn audit_expire(&mut self, now: Instant) {
        let Some(audit) = self.audit.as_mut() else {
            return;
        };
        for slot in audit.slots.iter_mut() {
            if let SlotState::Sent { deadline } = slot.state
                && now >= deadline
            {
                slot.state = SlotState::Free;
                audit.counters.unanswered += 1;
                let target = slot.target;
                if let Some(entry) = audit.peers.iter_mut().find(|p| p.stats.peer == target) {
                    entry.stats.unanswered = entry.stats.unanswered.saturating_add(1);
                }
            }
        }
    }

    /// A challenge from `auditor`: queue the answer if it is for us.
    pub(super) fn audit_on_challenge(&mut self, auditor: NodeId, challenge: &AuditChallengeRepr) {
        let Some(audit) = self.audit.as_mut() else {
            return;
        };
        if challenge.target != self.identity.id {
            return;
        }
        audit.counters.challenges_received += 1;
        if audit.responses.len() >= audit::RESPONSES_MAX {
            audit.counters.challenges_dropped += 1;
            return;
        }
        audit.responses.push(PendingResponse {
            auditor,
            round: challenge.audit_round,
            nonce: challenge.nonce,
        });
    }

    /// A response from `from`: the verdict of the audit it answers.
    pub(super) fn audit_on_response(
        &mut self,
        now: Instant,
        from: NodeId,
        response: &AuditResponseRepr,
    ) {
        let Some(audit) = self.audit.as_mut() else {
            return;
        };
        let Some(index) = audit.slots.iter().position(|s| {
            matches!(s.state, SlotState::Sent { deadline } if now < deadline)
                && s.target == from
                && s.nonce == response.nonce
        }) else {
            return; // not ours, late, or a replay: ignored
        };
        let slot = audit.slots[index];
        audit.slots[index].state = SlotState::Free;
        let dim = audit.dim;
        let words = &audit.slot_words[index * 2 * dim..(index + 1) * 2 * dim];
        let verdict = match response.status {
            Status::Record => {
                let claim = Claim {
                    base: response.base.as_slice(),
                    history: response.history.as_slice(),
                    samples: response.samples.as_slice(),
                    steps: response.steps.as_slice(),
                };
                let received = Received {
                    words: &words[..dim],
                    keyframe: &words[dim..],
                    delta: slot.delta,
                    encoding: slot.encoding,
                };
                Some(recompute::verify(self.config.model, &audit.table, &claim, &received).is_ok())
            }
            Status::NoRecord | Status::Unauditable => None,
        };
        let counters = &mut audit.counters;
        let Some(entry) = audit.peers.iter_mut().find(|p| p.stats.peer == from) else {
            return;
        };
        let stats = &mut entry.stats;
        match verdict {
            None => {
                counters.unauditable += 1;
                stats.unauditable = stats.unauditable.saturating_add(1);
            }
            Some(true) => {
                counters.passed += 1;
                stats.passed = stats.passed.saturating_add(1);
            }
            Some(false) => {
                counters.failed += 1;
                stats.failed = stats.failed.saturating_add(1);
                let ban = stats.failed >= u16::from(audit.config.failures_to_ban);
                match self
                    .reputation
                    .penalize(from, audit.config.failure_penalty, ban)
                {
                    Ok(observation) if observation.newly_banned => counters.bans += 1,
                    Ok(_) => {}
                    Err(_) => self.counters.reputation_refused += 1,
                }
            }
        }
    }

    /// End of aggregation: open this round's audits, then rebase the
    /// record on the aggregated model. Call before the inbox is cleared.
    pub(super) fn audit_end_round(&mut self) {
        let Some(audit) = self.audit.as_mut() else {
            return;
        };
        let mut rng = rng::stream(self.identity.seed, self.identity.id, Purpose::Audit);
        rng.set_stream(u64::from(self.round));
        // The round's senders, in inbox order, with one draw each.
        let mut heard = [(0 as NodeId, false); INBOX_MAX];
        let mut count = 0;
        let share = audit.config.share_per_2_32();
        for (peer, _) in self.peer_models.heard().take(INBOX_MAX) {
            heard[count] = (peer, rng::chance(&mut rng, share));
            count += 1;
        }
        // Grubbs-flagged senders first, then the drawn ones.
        for flagged_pass in [true, false] {
            for &(peer, drawn) in &heard[..count] {
                let Some(entry) = audit.peers.iter().find(|p| p.stats.peer == peer).copied() else {
                    continue;
                };
                let wanted = if flagged_pass {
                    entry.flagged
                } else {
                    drawn && !entry.flagged
                };
                if !wanted || self.reputation.is_banned(peer) || audit.has_open_audit(peer) {
                    continue;
                }
                let Some(index) = audit.slots.iter().position(|s| s.state == SlotState::Free)
                else {
                    audit.counters.skipped_full += 1;
                    continue;
                };
                let dim = audit.dim;
                let (model, keyframe) =
                    audit.slot_words[index * 2 * dim..(index + 1) * 2 * dim].split_at_mut(dim);
                if self
                    .peer_models
                    .model_and_keyframe(peer, model, keyframe)
                    .is_none()
                {
                    continue;
                }
                let mut nonce = [0_u8; NONCE_LEN];
                rng.fill_bytes(&mut nonce);
                audit.slots[index] = Slot {
                    state: SlotState::Pending,
                    target: peer,
                    round: entry.last_round,
                    nonce,
                    delta: entry.last_delta,
                    encoding: entry.last_encoding,
                };
            }
        }
        audit.peers.iter_mut().for_each(|p| p.flagged = false);
        audit.live.rebase(&self.model);
    }

    /// Challenges first, then answers, each fragmented to `buf`'s MTU.
    pub(super) fn poll_audit_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let audit = self.audit.as_mut()?;
        if audit.out_len == 0 {
            let (message, kind, destination) = next_audit_message(audit, now)?;
            let frame = FrameRepr {
                sender: self.identity.id,
                round: self.round,
                message,
            };
            audit.out_len = frame.emit(&mut audit.out).ok()?;
            audit.out_next = 0;
            audit.out_kind = kind;
            audit.out_destination = destination;
            self.frame_id = self.frame_id.wrapping_add(1);
        }
        let len = wire::next_fragment(
            &audit.out,
            &mut audit.out_len,
            &mut audit.out_next,
            self.frame_id,
            buf,
        )?;
        self.meter
            .spend_bytes(len, self.config.costs.tx_uj_per_byte);
        Some(Transmit {
            len,
            kind: audit.out_kind,
            destination: audit.out_destination,
        })
    }
}

/// The next audit frame to send: a pending challenge (now marked sent,
/// its deadline running from `now`), else the oldest queued answer.
fn next_audit_message(
    audit: &mut AuditState,
    now: Instant,
) -> Option<(Message, FrameKind, Destination)> {
    if let Some(slot) = audit
        .slots
        .iter_mut()
        .find(|s| s.state == SlotState::Pending)
    {
        slot.state = SlotState::Sent {
            deadline: now + audit.config.deadline,
        };
        audit.counters.challenges_sent += 1;
        let challenge = AuditChallengeRepr {
            target: slot.target,
            audit_round: slot.round,
            nonce: slot.nonce,
        };
        return Some((
            Message::AuditChallenge(challenge),
            FrameKind::AuditChallenge,
            Destination::Unicast(slot.target),
        ));
    }
    if audit.responses.is_empty() {
        return None;
    }
    // At most RESPONSES_MAX entries: the shift is bounded.
    let pending = audit.responses.remove(0);
    audit.counters.responses_sent += 1;
    let response = audit.frozen.response(pending.nonce, pending.round);
    Some((
        Message::AuditResponse(response),
        FrameKind::AuditResponse,
        Destination::Unicast(pending.auditor),
    ))
}

/// Grubbs' test on the round's inbox (`peers`, the aggregated
/// contributions without the own model) against `aggregate`: flags the
/// outliers for audit priority. Runs only with audits and Grubbs on and
/// 3..=64 peers.
pub(super) fn audit_grubbs(
    audit: &mut Option<Box<AuditState>>,
    peers: &[Contribution<'_>],
    aggregate: &[Q],
) {
    let Some(audit) = audit.as_mut() else {
        return;
    };
    let n = peers.len();
    if !audit.config.grubbs || !(grubbs::N_MIN..=grubbs::N_MAX).contains(&n) {
        return;
    }
    let mut distances = [0_i64; grubbs::N_MAX];
    for (d, c) in distances.iter_mut().zip(peers) {
        *d = grubbs::rms_distance_raw(c.weights, aggregate);
    }
    let mut flags = [false; grubbs::N_MAX];
    audit.counters.grubbs_rounds += 1;
    grubbs::outliers(&distances[..n], &mut flags[..n]);
    for (c, _) in peers.iter().zip(&flags[..n]).filter(|(_, f)| **f) {
        audit.counters.grubbs_flags += 1;
        if let Some(entry) = audit.peer_mut(c.peer) {
            entry.flagged = true;
            entry.stats.grubbs_flags = entry.stats.grubbs_flags.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::GateMode;
    use crate::q;
    use crate::runtime::Runtime;
    use crate::time::Duration;
    use alloc::collections::VecDeque;
    use alloc::vec::Vec;

    /// What the test host does to a frame in flight: `None` drops it.
    type Tamper = dyn Fn(NodeId, &mut Vec<u8>) -> Option<()>;

    /// `n` nodes on a full mesh with instant links, per-copy loss
    /// `loss_per_2_32` (from a seeded stream), unicast honoured, and a
    /// hook that may rewrite or drop each transmitted frame.
    struct Mesh {
        nodes: Vec<Node>,
        now: Instant,
        loss: rand_chacha::ChaCha8Rng,
        loss_per_2_32: u64,
    }

    impl Mesh {
        fn new(n: u32, loss_percent: u64, tweak: impl Fn(&mut NodeConfig)) -> Mesh {
            let nodes = (0..n)
                .map(|id| {
                    let mut c = NodeConfig {
                        id,
                        seed: 5,
                        swarm_size: n,
                        ..NodeConfig::default()
                    };
                    c.audit.enabled = true;
                    tweak(&mut c);
                    Node::new(c).unwrap()
                })
                .collect();
            Mesh {
                nodes,
                now: Instant::ZERO,
                loss: rng::stream(5, u32::MAX, Purpose::RadioLoss),
                loss_per_2_32: (loss_percent << 32) / 100,
            }
        }

        /// Drains `from`'s transmissions into `queue` (after `tamper`).
        fn drain(
            &mut self,
            from: usize,
            tamper: &Tamper,
            queue: &mut VecDeque<(usize, Transmit, Vec<u8>)>,
        ) {
            let mut buf = vec![0_u8; wire::MTU_ESPNOW];
            for _ in 0..64 {
                let Some(tx) = self.nodes[from].poll_transmit(self.now, &mut buf) else {
                    return;
                };
                let mut frame = buf[..tx.len].to_vec();
                if tamper(from as NodeId, &mut frame).is_some() {
                    queue.push_back((from, tx, frame));
                }
            }
            panic!("node {from} emitted too many frames");
        }

        /// Delivers everything queued (and what it provokes) until quiet.
        fn deliver(&mut self, tamper: &Tamper, queue: &mut VecDeque<(usize, Transmit, Vec<u8>)>) {
            for _ in 0..10_000 {
                let Some((from, tx, frame)) = queue.pop_front() else {
                    return;
                };
                for to in 0..self.nodes.len() {
                    let addressed = match tx.destination {
                        Destination::Broadcast => to != from,
                        Destination::Unicast(id) => id as usize == to,
                    };
                    if !addressed || rng::chance(&mut self.loss, self.loss_per_2_32) {
                        continue;
                    }
                    let _ = self.nodes[to].handle_frame(self.now, &frame);
                    self.drain(to, tamper, queue);
                }
            }
            panic!("frames never quieted down");
        }

        /// One second: every node samples, then the wakes of this second
        /// (boundary, aggregation 500 ms later) run with their frames.
        fn step(&mut self, tamper: &Tamper) {
            let t = self.now.as_micros() / 1_000_000;
            let mut queue = VecDeque::new();
            for id in 0..self.nodes.len() {
                let sample = signal(id as u32, t);
                self.nodes[id].handle_sample(self.now, sample);
                self.drain(id, tamper, &mut queue);
            }
            self.deliver(tamper, &mut queue);
            let start = self.now;
            for at in [start, start + Duration::from_millis(500)] {
                self.now = at;
                for id in 0..self.nodes.len() {
                    if self.nodes[id].poll_at().is_some_and(|p| p <= at) {
                        self.nodes[id].handle_wake(at);
                        self.drain(id, tamper, &mut queue);
                    }
                }
                self.deliver(tamper, &mut queue);
            }
            self.now = start + Duration::from_secs(1);
        }

        fn run(&mut self, seconds: u32, tamper: &Tamper) {
            for _ in 0..seconds {
                self.step(tamper);
            }
        }
    }

    /// Per-node sine (period 32 s, phase by id) plus a small per-node
    /// deterministic ripple, so that models differ between nodes.
    fn signal(id: u32, t: u64) -> Q {
        let table = [0, 12785, 25080, 36410, 46341, 54491, 60547, 64277, 65536];
        let i = ((t + u64::from(id) * 3) % 32) as usize;
        let raw = match i {
            0..=8 => table[i],
            9..=16 => table[16 - i],
            17..=24 => -table[i - 16],
            _ => -table[32 - i],
        };
        let ripple = ((t * 7919 + u64::from(id) * 104_729) % 2_001) as i32 - 1_000;
        q::from_raw(raw + ripple)
    }

    fn pass_through(_: NodeId, _: &mut Vec<u8>) -> Option<()> {
        Some(())
    }

    /// Adds `bias_raw` to every word of `who`'s model updates (re-quantized
    /// to the frame's encoding so the frame stays valid).
    fn biased(who: NodeId, bias_raw: i32) -> impl Fn(NodeId, &mut Vec<u8>) -> Option<()> {
        move |from, frame| {
            if from != who {
                return Some(());
            }
            let Ok(mut parsed) = FrameRepr::parse(frame) else {
                return Some(());
            };
            if let Message::ModelUpdate(update) = &mut parsed.message {
                let mut raw: Vec<i32> = update
                    .words
                    .as_slice()
                    .iter()
                    .map(|w| w.to_bits().saturating_add(bias_raw))
                    .collect();
                wire::bfp::quantize_for(update.encoding, &mut raw);
                for (w, r) in update.words.as_mut_slice().iter_mut().zip(&raw) {
                    *w = Q::from_bits(*r);
                }
                let mut buf = vec![0_u8; wire::MAX_FRAME_LEN];
                let len = parsed.emit(&mut buf).unwrap();
                *frame = buf[..len].to_vec();
            }
            Some(())
        }
    }

    fn totals(nodes: &[Node]) -> AuditCounters {
        let mut sum = AuditCounters::default();
        for node in nodes {
            let c = node.audit_counters();
            sum.challenges_sent += c.challenges_sent;
            sum.responses_sent += c.responses_sent;
            sum.passed += c.passed;
            sum.failed += c.failed;
            sum.unanswered += c.unanswered;
            sum.unauditable += c.unauditable;
            sum.bans += c.bans;
            sum.grubbs_flags += c.grubbs_flags;
            sum.records_overflowed += c.records_overflowed;
        }
        sum
    }

    /// Honest nodes, 20 % loss per copy, every received update audited,
    /// default deltas (BFP-8) and regime steps: not one audit fails.
    #[test]
    fn honest_nodes_always_pass_even_with_loss() {
        let mut mesh = Mesh::new(6, 20, |c| {
            c.gossip.mode = GateMode::Always;
            c.audit.share = q::ONE;
            c.audit.max_outstanding = 8;
        });
        mesh.run(400, &pass_through);
        let sum = totals(&mesh.nodes);
        assert_eq!(sum.failed, 0, "{sum:?}");
        assert_eq!(sum.bans, 0);
        // 39 rounds × 6 nodes × ~4 heard peers (of 5, 20 % lost) are
        // challenged; 36 % of audits lose the challenge or the answer.
        assert!(sum.passed > 400, "{sum:?}");
        // Loss takes challenges or answers: unanswered, never failed.
        assert!(sum.unanswered > 50, "{sum:?}");
        assert_eq!(sum.records_overflowed, 0);
        for node in &mesh.nodes {
            assert_eq!(node.reputation().banned_count(), 0);
            // Deltas and full updates were both audited.
            assert!(node.counters().deltas_sent > 0);
        }
    }

    /// The same with raw full updates, fixed step, BFP-16 deltas and the
    /// default 3 % share: passes only, and roughly 3 % challenged.
    #[test]
    fn honest_nodes_pass_in_other_configurations() {
        let mut mesh = Mesh::new(5, 5, |c| {
            c.gossip.mode = GateMode::Always;
            c.step_size_by_regime = None;
            c.delta.encoding = Encoding::Bfp16;
            c.encoding = Encoding::Bfp16;
        });
        mesh.run(1_000, &pass_through);
        let sum = totals(&mesh.nodes);
        assert_eq!(sum.failed, 0, "{sum:?}");
        let accepted: u32 = mesh
            .nodes
            .iter()
            .map(|n| n.counters().updates_accepted)
            .sum();
        // 3 % of the accepted updates, within a wide binomial margin.
        let expected = accepted * 3 / 100;
        assert!(
            sum.challenges_sent > expected / 2 && sum.challenges_sent < expected * 2,
            "{} challenges for {accepted} updates",
            sum.challenges_sent
        );
        assert!(sum.passed > 0);
    }

    /// A node whose updates are changed after training (by a single raw
    /// unit on raw words) fails every audit and is banned after two;
    /// honest nodes never fail.
    #[test]
    fn a_tampered_update_fails_and_is_banned() {
        let mut mesh = Mesh::new(5, 0, |c| {
            c.gossip.mode = GateMode::Always;
            c.delta.enabled = false;
            c.audit.share = q::ratio(1, 2);
        });
        mesh.run(200, &biased(4, 1));
        for honest in &mesh.nodes[..4] {
            let stats = honest.audit_peer(4).expect("node 4 heard");
            assert!(stats.failed >= 2, "{stats:?}");
            assert_eq!(stats.passed, 0, "{stats:?}");
            assert!(honest.reputation().is_banned(4));
            assert_eq!(honest.audit_counters().bans, 1);
            for peer in 0..4 {
                if let Some(s) = honest.audit_peer(peer) {
                    assert_eq!(s.failed, 0, "honest {peer} failed: {s:?}");
                }
            }
        }
        // The tampered node itself sees only honest peers.
        assert_eq!(mesh.nodes[4].audit_counters().failed, 0);
    }

    /// With deltas (BFP-8) and a bias large enough to survive
    /// quantization, the rewrite is caught too; Grubbs flags the node.
    #[test]
    fn a_biased_delta_sender_fails_and_grubbs_flags_it() {
        let mut mesh = Mesh::new(8, 0, |c| {
            c.gossip.mode = GateMode::Always;
        });
        mesh.run(300, &biased(7, 3_277)); // +0.05 per word
        for honest in &mesh.nodes[..7] {
            let stats = honest.audit_peer(7).unwrap();
            assert!(stats.failed >= 2, "{stats:?}");
            assert!(stats.grubbs_flags > 0, "{stats:?}");
            assert!(honest.reputation().is_banned(7));
            for peer in 0..7 {
                if let Some(s) = honest.audit_peer(peer) {
                    assert_eq!(s.failed, 0, "{s:?}");
                }
            }
        }
    }

    /// Challenges whose answers never arrive are unanswered: counted,
    /// never failed, never banned, reputation untouched by the audit.
    #[test]
    fn unanswered_audits_are_counted_not_punished() {
        let drop_answers = |_: NodeId, frame: &mut Vec<u8>| {
            (frame.get(1) != Some(&(FrameKind::AuditResponse as u8))).then_some(())
        };
        let mut mesh = Mesh::new(4, 0, |c| {
            c.gossip.mode = GateMode::Always;
            c.audit.share = q::ONE;
        });
        mesh.run(120, &drop_answers);
        let sum = totals(&mesh.nodes);
        assert!(sum.unanswered > 20, "{sum:?}");
        assert_eq!(sum.passed + sum.failed + sum.bans, 0, "{sum:?}");
        assert!(sum.responses_sent > 0);
        for node in &mesh.nodes {
            assert_eq!(node.reputation().banned_count(), 0);
        }
    }

    /// Audits off: no audit frame, and the weights are those of a node
    /// without the audit module at all (the canonical digest pins that).
    /// Audits on, honest swarm: the learned models are unchanged too.
    #[test]
    fn audits_do_not_change_honest_learning() {
        let weights = |enabled: bool| {
            let mut mesh = Mesh::new(4, 0, |c| {
                c.gossip.mode = GateMode::Always;
                c.audit.enabled = enabled;
                c.audit.share = q::ONE;
                c.costs.tx_uj_per_byte = 0; // energy must not differ
                c.costs.rx_uj_per_byte = 0;
            });
            mesh.run(100, &pass_through);
            assert_eq!(totals(&mesh.nodes).challenges_sent > 0, enabled);
            mesh.nodes
                .iter()
                .flat_map(|n| n.weights().to_vec())
                .collect::<Vec<Q>>()
        };
        assert_eq!(weights(false), weights(true));
    }

    #[test]
    fn bad_audit_config_is_refused() {
        let config = NodeConfig {
            audit: AuditConfig {
                enabled: true,
                deadline: Duration::from_secs(11),
                ..AuditConfig::default()
            },
            ..NodeConfig::default()
        };
        assert_eq!(
            Node::new(config).err(),
            Some(ConfigError::Audit(
                audit::AuditConfigError::DeadlineOutOfRange
            ))
        );
    }
}
