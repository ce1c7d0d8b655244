//! [`Node`]'s persistent state: [`Runtime::snapshot`](crate::runtime::Runtime::snapshot)
//! and [`Runtime::restore`](crate::runtime::Runtime::restore) (issue #16).
//!
//! A host saves a snapshot (into a [`crate::storage::StateStore`]) whenever
//! its policy says, and after a reboot builds a node from the *same*
//! [`NodeConfig`] and restores the newest snapshot into it. The byte tables
//! are in docs/persistence.md.
//!
//! ## What is persisted
//!
//! The learned and slowly earned state: the model weights and NLMS input
//! window, the entropy signal (error bins, 3-point ring, derivative
//! baseline, last reading), the regime detector (regime, pending
//! confirmation and its streak, warm-up left), the reputation table
//! (scores, strikes, bans, last closed round), the ids of the tracked
//! senders (slot order), the gossip gate's credit, the self-reputation,
//! the warm-up-step flag, the round counter, the round clock
//! (`next_round_at`, a pending aggregation instant), the residual EMA, the
//! last battery level, the fragment id counter and the last prediction and
//! error.
//!
//! ## What is not, and why
//!
//! * **Peer models and keyframes, and the own keyframe.** Up to
//!   `tracked_peers × dim × 4` bytes (1.1 KiB by default), and stale after
//!   any downtime. A restored node forgets its own keyframe, so its next
//!   broadcast is a full keyframe: a peer that holds a newer base of the
//!   same round number (sent after this snapshot, before the cut) can never
//!   add a delta to the wrong base. Deltas from peers are refused
//!   (`MissingBase`) until each peer's next keyframe.
//! * **The round's inbox, the outbox, the reassembler.** Frames in flight
//!   belong to the time before the cut.
//! * **Counters and telemetry totals** ([`super::NodeCounters`], energy
//!   used, samples, rejected frames, regime transition counts). They
//!   describe one boot; the host keeps lifetime totals.
//! * **The adaptive aggregator's maturity** (with
//!   [`super::AggregationConfig::Adaptive`]): it restarts young, i.e. with
//!   the robust rule, until it sees convergence again.
//! * **The configuration.** It is the host's (firmware constants, scenario
//!   file). The snapshot records only what fixes its layout — node id,
//!   model dimension, window lengths — and `restore` checks every value
//!   against the configuration of the node it restores into (weights within
//!   its limit, warm-up within its length, table sizes within capacity).
//!
//! ## Size
//!
//! `314 + 17·r + 4·p` bytes for the default configuration, with `r` peers
//! in the reputation table and `p` tracked senders: 314 bytes for a node
//! that heard nobody, 986 bytes with both tables full (32 + 32). Pinned by
//! `snapshot_size_of_the_default_config`.
//!
//! ## Validation
//!
//! `restore` never panics and leaves the node unchanged on any error
//! ([`SnapshotError::Invalid`]): the checksum, the header, every length,
//! every enum byte, every range and every invariant the node's code
//! asserts are checked while decoding into staged copies; only a fully
//! valid snapshot is committed.
//!
//! ## Clocks
//!
//! The round clock is stored as instants of the host's clock, so a host
//! whose clock runs on across the cut (the simulator) resumes exactly. A
//! host whose clock restarts at boot (firmware) calls
//! [`Node::realign_clock`] right after `restore`.

use crate::codec::{Invalid, Reader, Writer};
use crate::gossip::Gate;
use crate::model::{LinearNeuron, Predictor};
use crate::q::{self, Q};
use crate::regime::{EntropySignal, RegimeDetector};
use crate::reputation::{self, ReputationTable};
use crate::runtime::{NodeId, SnapshotError};
use crate::time::Instant;
use crate::wire::crc;

use super::{AggregationConfig, INBOX_MAX, Node, NodeAggregator, NodeConfig};

/// The snapshot's magic number, "RNOD" in little-endian bytes.
pub const MAGIC: u32 = u32::from_le_bytes(*b"RNOD");

/// The snapshot format version.
pub const VERSION: u8 = 1;

/// Bytes of the header: magic, version, dim, model window, entropy
/// window, node id, body length.
pub const HEADER_LEN: usize = 16;

/// Bytes of the node's scalar section.
const SCALARS_LEN: usize = 48;

/// Bytes of the CRC-32 trailer.
const CRC_LEN: usize = 4;

/// The node's own scalars, staged while decoding.
struct Scalars {
    round: u32,
    next_round_at: Instant,
    aggregate_at: Option<Instant>,
    frame_id: u16,
    residual_sq: Q,
    energy_level: Q,
    self_reputation: Q,
    warmup_step: bool,
    last_prediction: Q,
    last_error: Q,
    gate: Gate,
}

/// Everything `restore` commits, decoded and checked.
struct Staged {
    scalars: Scalars,
    model: LinearNeuron,
    entropy: EntropySignal,
    detector: RegimeDetector,
    reputation: ReputationTable,
    peers: [NodeId; INBOX_MAX],
    peer_count: usize,
}

impl Node {
    /// Bytes [`Runtime::snapshot`](crate::runtime::Runtime::snapshot) writes
    /// now (it grows with the peer tables).
    pub fn snapshot_len(&self) -> usize {
        fixed_len(&self.config)
            + reputation_len(self.reputation.len())
            + 1
            + 4 * self.peer_models.len()
    }

    /// The largest snapshot a node of `config` writes (both peer tables
    /// full): the flash slot size a host must reserve, plus
    /// [`crate::storage::RECORD_OVERHEAD`].
    pub fn snapshot_len_max(config: &NodeConfig) -> usize {
        let peers = config.reputation.max_peers as usize;
        fixed_len(config) + reputation_len(peers) + 1 + 4 * usize::from(config.delta.tracked_peers)
    }

    /// Whether a round's collection window is open: models heard at its
    /// boundary wait in the inbox for the aggregation, and a snapshot taken
    /// now would not keep them (module docs). Hosts save when this is
    /// `false`, e.g. right after the aggregation wake.
    pub fn round_in_progress(&self) -> bool {
        self.aggregate_at.get().is_some()
    }

    /// Moves the round clock onto this boot's clock: the next round starts
    /// at the first boundary of the `round_offset + k·round_period` grid
    /// after `now`, and a pending aggregation runs at `now`. For hosts whose
    /// clock restarts at boot, right after `restore`; a host whose clock
    /// runs on (the simulator) need not call it.
    pub fn realign_clock(&mut self, now: Instant) {
        let origin = Instant::ZERO + self.config.round_offset;
        let first = origin + self.config.round_period;
        self.next_round_at = if now < first {
            first
        } else {
            origin.next_boundary_after(now, self.config.round_period)
        };
        if self.aggregate_at.get().is_some() {
            self.aggregate_at = super::Deadline::from(Some(now));
        }
    }
}

/// Header, scalars, model, entropy, detector and CRC: what does not depend
/// on the tables.
fn fixed_len(config: &NodeConfig) -> usize {
    let window = usize::from(config.model.window_len);
    let model = 2 + 4 * (window + 1) + 4 * window;
    let entropy = 4 + 16 + 12 + 2 * usize::from(config.entropy.window_len);
    let detector = 6;
    HEADER_LEN + SCALARS_LEN + model + entropy + detector + CRC_LEN
}

fn reputation_len(entries: usize) -> usize {
    9 + reputation::ENTRY_STATE_LEN * entries
}

/// Writes `node`'s snapshot into `buf`.
pub(super) fn write(node: &Node, buf: &mut [u8]) -> Result<usize, SnapshotError> {
    let needed = node.snapshot_len();
    if buf.len() < needed {
        return Err(SnapshotError::BufferTooSmall { needed });
    }
    let mut w = Writer::new(&mut buf[..needed]);
    write_header(node, &mut w, needed);
    write_scalars(node, &mut w);
    node.model.encode_state(&mut w);
    node.entropy.encode_state(&mut w);
    node.detector.encode_state(&mut w);
    node.reputation.encode_state(&mut w);
    // tracked_peers ≤ 64 (validated at construction): fits u8.
    w.u8(node.peer_models.len() as u8);
    for peer in node.peer_models.peers() {
        w.u32(*peer);
    }
    let checksum = crc::checksum(w.written());
    w.u32(checksum);
    assert!(
        !w.overflowed() && w.len() == needed,
        "snapshot_len is exact"
    );
    Ok(needed)
}

fn write_header(node: &Node, w: &mut Writer<'_>, total: usize) {
    w.u32(MAGIC);
    w.u8(VERSION);
    // dim ≤ 33, windows ≤ 64: fit u8.
    w.u8(node.model.dim() as u8);
    w.u8(node.config.model.window_len);
    w.u8(node.config.entropy.window_len);
    w.u32(node.identity.id);
    // A node's snapshot is far below 4 GiB.
    w.u32((total - HEADER_LEN - CRC_LEN) as u32);
}

fn write_scalars(node: &Node, w: &mut Writer<'_>) {
    let start = w.len();
    w.u32(node.round);
    w.u64(node.next_round_at.as_micros());
    w.bool(node.aggregate_at.get().is_some());
    w.u64(node.aggregate_at.get().map_or(0, Instant::as_micros));
    w.u16(node.frame_id);
    w.q(node.residual_sq);
    w.q(node.energy_level);
    w.q(node.self_reputation);
    w.bool(node.warmup_step);
    w.q(node.observed.last_prediction);
    w.q(node.observed.last_error);
    w.q(node.gate.credit());
    debug_assert_eq!(w.len() - start, SCALARS_LEN);
}

/// Restores `bytes` into `node`, or leaves it unchanged.
pub(super) fn restore(node: &mut Node, bytes: &[u8]) -> Result<(), SnapshotError> {
    let staged = decode(node, bytes).map_err(|Invalid| SnapshotError::Invalid)?;
    commit(node, staged);
    Ok(())
}

fn decode(node: &Node, bytes: &[u8]) -> Result<Staged, Invalid> {
    let body = check_frame(node, bytes)?;
    let mut r = Reader::new(body);
    let scalars = read_scalars(node, &mut r)?;
    let mut model = node.model.clone();
    model.decode_state(&mut r)?;
    let mut entropy = node.entropy.clone();
    entropy.decode_state(&mut r)?;
    let mut detector = node.detector.clone();
    detector.decode_state(&mut r)?;
    // A fresh table: its allocation is exactly `max_peers` (one allocation
    // per restore, never per event).
    let mut reputation = ReputationTable::new(node.config.reputation).map_err(|_| Invalid)?;
    reputation.decode_state(&mut r)?;
    let mut peers = [0; INBOX_MAX];
    let peer_count = usize::from(r.u8_at_most(node.config.delta.tracked_peers)?);
    for i in 0..peer_count {
        let peer = r.u32()?;
        // Distinct, never this node, and admitted to both tables together.
        if peers[..i].contains(&peer)
            || peer == node.identity.id
            || reputation.score(peer).is_none()
        {
            return Err(Invalid);
        }
        peers[i] = peer;
    }
    if r.remaining() != 0 {
        return Err(Invalid);
    }
    // The warm-up step ends only after the detector's warm-up.
    if !scalars.warmup_step && detector.warming_up() {
        return Err(Invalid);
    }
    Ok(Staged {
        scalars,
        model,
        entropy,
        detector,
        reputation,
        peers,
        peer_count,
    })
}

/// Checks checksum and header; returns the body.
fn check_frame<'a>(node: &Node, bytes: &'a [u8]) -> Result<&'a [u8], Invalid> {
    if bytes.len() < HEADER_LEN + CRC_LEN {
        return Err(Invalid);
    }
    let (covered, trailer) = bytes.split_at(bytes.len() - CRC_LEN);
    let mut r = Reader::new(trailer);
    if r.u32()? != crc::checksum(covered) {
        return Err(Invalid);
    }
    let mut r = Reader::new(covered);
    let header_ok = r.u32()? == MAGIC
        && r.u8()? == VERSION
        && usize::from(r.u8()?) == node.model.dim()
        && r.u8()? == node.config.model.window_len
        && r.u8()? == node.config.entropy.window_len
        && r.u32()? == node.identity.id
        && r.u32()? as usize == covered.len() - HEADER_LEN;
    if !header_ok {
        return Err(Invalid);
    }
    r.take(covered.len() - HEADER_LEN)
}

fn read_scalars(node: &Node, r: &mut Reader<'_>) -> Result<Scalars, Invalid> {
    let config = &node.config;
    let round = r.u32()?;
    let next_round_at = Instant::from_micros(r.u64()?);
    let pending = r.bool()?;
    let aggregate_raw = r.u64()?;
    let scalars = Scalars {
        round,
        next_round_at,
        aggregate_at: pending.then_some(Instant::from_micros(aggregate_raw)),
        frame_id: r.u16()?,
        residual_sq: r.q_in(q::ZERO, Q::MAX)?,
        energy_level: r.q_in(q::ZERO, q::ONE)?,
        self_reputation: r.q_in(q::ZERO, q::ONE)?,
        warmup_step: r.bool()?,
        last_prediction: r.q()?,
        last_error: r.q()?,
        gate: Gate::with_credit(r.q()?).ok_or(Invalid)?,
    };
    if !pending && aggregate_raw != 0 {
        return Err(Invalid);
    }
    // The round clock lies on the grid `offset + k·period`, k ≥ 1; a
    // pending aggregation follows a round start (round ≥ 1) by the
    // collection window and precedes the next boundary's.
    let origin = Instant::ZERO + config.round_offset;
    let first = origin + config.round_period;
    let period_us = config.round_period.as_micros();
    let on_grid = next_round_at >= first
        && (next_round_at - origin)
            .as_micros()
            .is_multiple_of(period_us)
        && next_round_at < Instant::from_micros(u64::MAX);
    let aggregate_ok = scalars.aggregate_at.is_none_or(|at| {
        round >= 1
            && at >= first + config.collect_window
            && at < next_round_at + config.collect_window
            && at < Instant::from_micros(u64::MAX)
    });
    if !on_grid || !aggregate_ok {
        return Err(Invalid);
    }
    Ok(scalars)
}

/// Replaces the persistent state of `node` with `staged` and clears what is
/// not persisted (module docs). Cannot fail: everything was checked.
fn commit(node: &mut Node, staged: Staged) {
    let Staged {
        scalars,
        model,
        entropy,
        detector,
        reputation,
        peers,
        peer_count,
    } = staged;
    node.model = model;
    node.entropy = entropy;
    node.detector = detector;
    node.reputation = reputation;
    node.gate = scalars.gate;
    node.peer_models
        .retrack(&peers[..peer_count])
        .expect("peer ids checked while decoding");
    node.public.forget_keyframe();
    node.reassembler = None;
    node.outbox_len = 0;
    node.outbox_next = 0;
    node.pending_update = false;
    if let AggregationConfig::Adaptive(_) = node.config.aggregation {
        node.aggregator = NodeAggregator::new(node.config.aggregation, node.model.dim())
            .expect("aggregation config validated at construction");
    }
    node.round = scalars.round;
    node.next_round_at = scalars.next_round_at;
    node.aggregate_at = super::Deadline::from(scalars.aggregate_at);
    node.frame_id = scalars.frame_id;
    node.residual_sq = scalars.residual_sq;
    node.energy_level = scalars.energy_level;
    node.self_reputation = scalars.self_reputation;
    node.warmup_step = scalars.warmup_step;
    node.observed.last_prediction = scalars.last_prediction;
    node.observed.last_error = scalars.last_error;
    node.apply_step_size()
        .expect("per-regime step sizes validated at construction");
    // The audit record's base is the model the next update is trained
    // from: the restored one, not whatever the node held before.
    node.audit_rebase();
}

#[cfg(test)]
mod tests;
