//! The sans-IO interface between a node runtime and its host.
//!
//! A host — the `sim` discrete-event simulator or the ESP32-C6 firmware —
//! owns every side effect: the clock, the sensor, the radio, the battery and
//! the flash. It drives a [`Runtime`] with inputs (`handle_*`) and drains its
//! outputs (`poll_*`), exactly as `smoltcp` drives an interface:
//!
//! ```text
//!  host                                   Runtime
//!  ────                                   ───────
//!  sample ready        ── handle_sample(now, x) ──▶  predict, train, regime
//!  frame received      ── handle_frame(now, bytes) ─▶ parse, verify, queue
//!  timer fired         ── handle_wake(now) ────────▶  round end: aggregate, gossip
//!  battery reading     ── handle_energy(now, level) ▶ gate costs, power mode
//!  after any input     ◀─ poll_transmit(now, buf) ──  frames to put on the air
//!                      ◀─ poll_at() ───────────────   next instant to wake it
//! ```
//!
//! ## Ordering contract
//!
//! * `now` never decreases from one call to the next; a runtime may
//!   `debug_assert!` it.
//! * After every `handle_*` call the host drains `poll_transmit` until it
//!   returns `None`, then reads `poll_at` and arranges a `handle_wake` at
//!   that instant (an earlier wake is harmless: the runtime re-arms).
//! * `handle_frame` never panics on any input: malformed, truncated or
//!   corrupt frames are rejected with a [`RxError`] and counted.
//! * The runtime reads no clock and draws randomness only from streams the
//!   host seeded at construction, so the same inputs give the same outputs
//!   bit for bit.
//!
//! The trait is what makes the simulator's node pluggable: a researcher can
//! implement it for their own algorithm and reuse the radio, energy,
//! adversary and report machinery unchanged.

use core::fmt;

use crate::node::AggregationScratch;
use crate::q::Q;
use crate::regime::Regime;
use crate::reputation::ReputationTable;
use crate::time::Instant;

/// Identifier of a node in the swarm (dense, `0..n` in the simulator).
pub type NodeId = u32;

/// What kind of frame is on the air; the simulator counts bytes and frames
/// per kind. The discriminant is the frame's type byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// A model update ("GhostUpdate" in the paper): weights or a delta.
    ModelUpdate = 1,
    /// A reputation report about a peer.
    ReputationReport = 2,
    /// An audit challenge.
    AuditChallenge = 3,
    /// An audit response.
    AuditResponse = 4,
    /// A zero-knowledge proof.
    Proof = 5,
    /// A heartbeat (liveness only).
    Heartbeat = 6,
}

impl FrameKind {
    /// Every kind, in wire-code order (for tables and CSV columns).
    pub const ALL: [FrameKind; 6] = [
        FrameKind::ModelUpdate,
        FrameKind::ReputationReport,
        FrameKind::AuditChallenge,
        FrameKind::AuditResponse,
        FrameKind::Proof,
        FrameKind::Heartbeat,
    ];

    /// The kind with wire code `code`, if any.
    pub const fn from_code(code: u8) -> Option<FrameKind> {
        match code {
            1 => Some(FrameKind::ModelUpdate),
            2 => Some(FrameKind::ReputationReport),
            3 => Some(FrameKind::AuditChallenge),
            4 => Some(FrameKind::AuditResponse),
            5 => Some(FrameKind::Proof),
            6 => Some(FrameKind::Heartbeat),
            _ => None,
        }
    }

    /// Dense index `0..ALL.len()`, for per-kind counter arrays.
    pub const fn index(self) -> usize {
        self as usize - 1
    }

    /// A short snake_case name, used for CSV columns.
    pub const fn name(self) -> &'static str {
        match self {
            FrameKind::ModelUpdate => "model_update",
            FrameKind::ReputationReport => "reputation_report",
            FrameKind::AuditChallenge => "audit_challenge",
            FrameKind::AuditResponse => "audit_response",
            FrameKind::Proof => "proof",
            FrameKind::Heartbeat => "heartbeat",
        }
    }
}

/// Where a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Every neighbour in radio range (one transmission).
    Broadcast,
    /// One peer.
    Unicast(NodeId),
}

/// A frame the runtime wrote into the host's buffer, to be transmitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes written at the start of the buffer.
    pub len: usize,
    /// The frame's kind, for accounting.
    pub kind: FrameKind,
    /// Its destination.
    pub destination: Destination,
}

/// Why a received frame was rejected. Rejection is normal operation on a
/// lossy, adversarial medium: it is counted, never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// Shorter than its header or its declared length.
    Truncated,
    /// Unknown protocol version byte.
    BadVersion,
    /// Unknown frame type byte.
    BadKind,
    /// Checksum mismatch.
    BadChecksum,
    /// A field is out of its allowed range (length, dimension, …).
    Malformed,
    /// Well-formed, from a sender this node has banned.
    Banned,
    /// Well-formed, from a sender this node does not track (its peer
    /// tables are full), or this node's own id.
    UnknownSender,
    /// A delta update whose base this node does not hold (a lost frame).
    MissingBase,
    /// Well-formed but not acceptable now for another reason (inbox full, …).
    Refused,
}

/// The four groups the simulator counts rejected frames in
/// (`rejected_*` columns of `rounds.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// Not a valid frame: truncated, bad version, kind, checksum or field.
    Malformed,
    /// A delta whose base the receiver does not hold.
    MissingBase,
    /// An unknown or untracked sender, or anything else refused.
    UnknownSender,
    /// A banned sender.
    Banned,
}

impl RejectReason {
    /// Every reason, in column order.
    pub const ALL: [RejectReason; 4] = [
        RejectReason::Malformed,
        RejectReason::MissingBase,
        RejectReason::UnknownSender,
        RejectReason::Banned,
    ];

    /// Dense index `0..4`, for counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl RxError {
    /// The group this rejection is counted in.
    pub const fn reason(self) -> RejectReason {
        match self {
            RxError::Truncated
            | RxError::BadVersion
            | RxError::BadKind
            | RxError::BadChecksum
            | RxError::Malformed => RejectReason::Malformed,
            RxError::MissingBase => RejectReason::MissingBase,
            RxError::Banned => RejectReason::Banned,
            RxError::UnknownSender | RxError::Refused => RejectReason::UnknownSender,
        }
    }
}

impl fmt::Display for RxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RxError::Truncated => "frame truncated",
            RxError::BadVersion => "unknown protocol version",
            RxError::BadKind => "unknown frame kind",
            RxError::BadChecksum => "checksum mismatch",
            RxError::Malformed => "malformed field",
            RxError::Banned => "sender banned",
            RxError::UnknownSender => "sender unknown or untracked",
            RxError::MissingBase => "delta base missing",
            RxError::Refused => "frame refused",
        };
        f.write_str(text)
    }
}

/// Why a snapshot could not be written or restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// The output buffer is too small; the snapshot needs this many bytes.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// The bytes are not a snapshot of this runtime (magic, version,
    /// length or checksum mismatch).
    Invalid,
    /// This runtime does not persist state.
    Unsupported,
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::BufferTooSmall { needed } => {
                write!(f, "snapshot buffer too small: {needed} bytes needed")
            }
            SnapshotError::Invalid => f.write_str("invalid snapshot"),
            SnapshotError::Unsupported => f.write_str("snapshots unsupported"),
        }
    }
}

/// What a host may observe of a runtime, for metrics. Cheap to copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Telemetry {
    /// The prediction made for the latest sample, before training on it.
    pub last_prediction: Q,
    /// The latest sample minus its prediction.
    pub last_error: Q,
    /// Samples handled since construction.
    pub samples: u64,
    /// Current regime.
    pub regime: Regime,
    /// Latest raw entropy of the prediction error.
    pub entropy: Q,
    /// Energy the node accounted for its own work since construction (µJ):
    /// compute, transmissions and receptions. The host charges its battery.
    pub energy_used_uj: u64,
    /// Aggregation rounds completed.
    pub rounds: u32,
    /// Frames rejected by `handle_frame` since construction.
    pub frames_rejected: u32,
    /// Elementary aggregation operations (comparisons and multiply-adds,
    /// by the cost model of [`crate::aggregate`]) since construction.
    pub aggregation_ops: u64,
}

/// The sans-IO node runtime driven by a host. See the module docs for the
/// ordering contract.
pub trait Runtime {
    /// A new sensor sample `sample` taken at `now`.
    fn handle_sample(&mut self, now: Instant, sample: Q);

    /// A frame received at `now`. Never panics; malformed input is rejected.
    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError>;

    /// The wake-up the runtime asked for with [`Runtime::poll_at`].
    fn handle_wake(&mut self, now: Instant);

    /// [`Runtime::handle_wake`] with the aggregation's working space lent
    /// by the host for this call (garbage on entry; the runtime keeps
    /// nothing of it), so that a host of many runtimes keeps one scratch
    /// per thread instead of one per runtime. Outputs must be identical to
    /// `handle_wake`'s. The default ignores the scratch.
    fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        let _ = scratch;
        self.handle_wake(now);
    }

    /// The battery's state of charge at `now`, as a fraction in `[0, 1]`.
    fn handle_energy(&mut self, now: Instant, level: Q);

    /// Writes the next frame to transmit into `buf` (at most `buf.len()`
    /// bytes, the host's MTU) and describes it, or returns `None` when there
    /// is nothing to send.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit>;

    /// The next instant the runtime must be woken, if any.
    fn poll_at(&self) -> Option<Instant>;

    /// A snapshot of the counters and signals a host may report.
    fn telemetry(&self) -> Telemetry;

    /// The current model weights (what the swarm agrees on).
    fn weights(&self) -> &[Q];

    /// Serialises the persistent state into `buf`, returning its length.
    /// By default a runtime keeps no persistent state:
    /// [`SnapshotError::Unsupported`].
    fn snapshot(&self, _buf: &mut [u8]) -> Result<usize, SnapshotError> {
        Err(SnapshotError::Unsupported)
    }

    /// Restores persistent state written by [`Runtime::snapshot`]. By
    /// default [`SnapshotError::Unsupported`].
    fn restore(&mut self, _bytes: &[u8]) -> Result<(), SnapshotError> {
        Err(SnapshotError::Unsupported)
    }

    /// The runtime's per-peer reputation table, for hosts that report on
    /// it (the simulator's adversary metrics: who detected and banned
    /// whom). Read-only; by default `None`, a runtime without one.
    fn reputation_table(&self) -> Option<&ReputationTable> {
        None
    }

    /// Bytes of the runtime's state: `size_of` plus the heap it owns,
    /// computed from capacities (deterministic, no allocator), for hosts
    /// that report node memory (the simulator's `node_state_bytes`).
    /// Read-only; by default `None`, a runtime that does not say.
    fn state_bytes(&self) -> Option<usize> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_kind_codes_round_trip() {
        for (i, kind) in FrameKind::ALL.iter().enumerate() {
            assert_eq!(FrameKind::from_code(*kind as u8), Some(*kind));
            assert_eq!(kind.index(), i);
        }
        assert_eq!(FrameKind::from_code(0), None);
        assert_eq!(FrameKind::from_code(7), None);
    }
}
