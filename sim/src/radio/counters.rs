//! Swarm-wide frame and byte accounting, by frame kind.
//!
//! Running [`RadioTotals`] only, so metrics never sum over 10^6 nodes. Per-node
//! counters (240 B a node: five per-kind `u64` arrays) were kept until no
//! output used them; a node's own traffic is in its runtime's telemetry.

use node_core::runtime::FrameKind;

/// Number of frame kinds (length of every per-kind array).
pub const KINDS: usize = FrameKind::ALL.len();

/// One counter per [`FrameKind`], indexed by [`FrameKind::index`].
pub type PerKind = [u64; KINDS];

/// Swarm-wide totals, kept up to date on every count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RadioTotals {
    /// Transmissions started (a broadcast counts once).
    pub frames_sent: PerKind,
    /// Payload bytes of those transmissions (PHY/MAC overhead not counted).
    pub bytes_sent: PerKind,
    /// Frames nodes actually took in ([`super::Radio::record_receive`]).
    pub frames_received: PerKind,
    /// Payload bytes of those frames.
    pub bytes_received: PerKind,
    /// Copies addressed or broadcast to a node that the channel dropped.
    pub frames_lost: PerKind,
    /// Unicasts whose destination was not a neighbour of the sender.
    pub frames_undeliverable: PerKind,
    /// Frames refused before transmission for exceeding the MTU.
    pub frames_over_mtu: PerKind,
}

/// All counters of a radio.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    totals: RadioTotals,
}

impl Counters {
    /// Zeroed counters.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// Swarm-wide totals.
    pub fn totals(&self) -> &RadioTotals {
        &self.totals
    }

    /// Counts one transmission of `len` payload bytes.
    pub fn sent(&mut self, len: u32, kind: FrameKind) {
        let k = kind.index();
        self.totals.frames_sent[k] += 1;
        self.totals.bytes_sent[k] += u64::from(len);
    }

    /// Counts one frame of `len` payload bytes taken in by a node.
    pub fn received(&mut self, len: u32, kind: FrameKind) {
        let k = kind.index();
        self.totals.frames_received[k] += 1;
        self.totals.bytes_received[k] += u64::from(len);
    }

    /// Counts `frames` taken in by nodes, by kind, and their `bytes`.
    pub fn add_received(&mut self, frames: &PerKind, bytes: &PerKind) {
        for k in 0..KINDS {
            self.totals.frames_received[k] += frames[k];
            self.totals.bytes_received[k] += bytes[k];
        }
    }

    /// Counts one copy dropped by the channel.
    pub fn lost(&mut self, kind: FrameKind) {
        self.totals.frames_lost[kind.index()] += 1;
    }

    /// Counts one unicast to a non-neighbour.
    pub fn undeliverable(&mut self, kind: FrameKind) {
        self.totals.frames_undeliverable[kind.index()] += 1;
    }

    /// Counts one frame refused for exceeding the MTU.
    pub fn over_mtu(&mut self, kind: FrameKind) {
        self.totals.frames_over_mtu[kind.index()] += 1;
    }
}
