//! Per-node and swarm-wide frame and byte accounting, by frame kind.
//!
//! One [`NodeCounters`] per node, stored contiguously in a `Vec`, plus
//! running [`RadioTotals`] so metrics never sum over 10^6 nodes.

use node_core::runtime::{FrameKind, NodeId};

/// Number of frame kinds (length of every per-kind array).
pub const KINDS: usize = FrameKind::ALL.len();

/// One counter per [`FrameKind`], indexed by [`FrameKind::index`].
pub type PerKind = [u64; KINDS];

/// A node's radio counters (payload bytes; PHY/MAC overhead is not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Transmissions started by this node (a broadcast counts once).
    pub frames_sent: PerKind,
    /// Payload bytes of those transmissions.
    pub bytes_sent: PerKind,
    /// Frames this node actually took in ([`super::Radio::record_receive`]).
    pub frames_received: PerKind,
    /// Payload bytes of those frames.
    pub bytes_received: PerKind,
    /// Frames addressed or broadcast to this node that the channel dropped.
    pub frames_lost: PerKind,
}

/// Swarm-wide totals, kept up to date on every count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RadioTotals {
    /// Sum of [`NodeCounters::frames_sent`].
    pub frames_sent: PerKind,
    /// Sum of [`NodeCounters::bytes_sent`].
    pub bytes_sent: PerKind,
    /// Sum of [`NodeCounters::frames_received`].
    pub frames_received: PerKind,
    /// Sum of [`NodeCounters::bytes_received`].
    pub bytes_received: PerKind,
    /// Sum of [`NodeCounters::frames_lost`].
    pub frames_lost: PerKind,
    /// Unicasts whose destination was not a neighbour of the sender.
    pub frames_undeliverable: PerKind,
    /// Frames refused before transmission for exceeding the MTU.
    pub frames_over_mtu: PerKind,
}

/// All counters of a radio.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    nodes: Vec<NodeCounters>,
    totals: RadioTotals,
}

impl Counters {
    /// Zeroed counters for `n` nodes.
    pub fn new(n: u32) -> Counters {
        Counters {
            nodes: vec![NodeCounters::default(); n as usize],
            totals: RadioTotals::default(),
        }
    }

    /// The counters of `node`.
    pub fn node(&self, node: NodeId) -> &NodeCounters {
        &self.nodes[node as usize]
    }

    /// Swarm-wide totals.
    pub fn totals(&self) -> &RadioTotals {
        &self.totals
    }

    /// Counts one transmission of `len` payload bytes by `node`.
    pub fn sent(&mut self, node: NodeId, len: u32, kind: FrameKind) {
        let (k, c) = (kind.index(), &mut self.nodes[node as usize]);
        c.frames_sent[k] += 1;
        c.bytes_sent[k] += u64::from(len);
        self.totals.frames_sent[k] += 1;
        self.totals.bytes_sent[k] += u64::from(len);
    }

    /// Counts one frame of `len` payload bytes taken in by `node`.
    pub fn received(&mut self, node: NodeId, len: u32, kind: FrameKind) {
        let (k, c) = (kind.index(), &mut self.nodes[node as usize]);
        c.frames_received[k] += 1;
        c.bytes_received[k] += u64::from(len);
        self.totals.frames_received[k] += 1;
        self.totals.bytes_received[k] += u64::from(len);
    }

    /// Counts one frame to `node` dropped by the channel.
    pub fn lost(&mut self, node: NodeId, kind: FrameKind) {
        self.nodes[node as usize].frames_lost[kind.index()] += 1;
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
