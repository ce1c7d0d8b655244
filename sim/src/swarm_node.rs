//! [`SwarmNode`]: the node a world simulates, honest or Byzantine.
//!
//! Every scenario runs its nodes as `SwarmNode<R>`: `R` is the honest
//! runtime (node-core's `Node`, the consensus task's `ConsensusNode`, or a
//! custom runtime of `runner::run_file_with`), and the nodes the
//! `[adversary]` plan names are that same runtime wrapped in an
//! [`Attacker`]. Dispatch is a `match` per call (no virtual call, no
//! allocation); the attacker is boxed so an honest node pays only the
//! enum's tag beside its runtime. Both variants are deterministic: the
//! attacker draws only from its seeded `Adversary` stream.

use node_core::node::AggregationScratch;
use node_core::q::Q;
use node_core::reputation::ReputationTable;
use node_core::runtime::{Runtime, RxError, SnapshotError, Telemetry, Transmit};
use node_core::time::Instant;

use crate::adversary::attacker::Attacker;

/// An honest runtime, or the same runtime wrapped by an attacker.
pub enum SwarmNode<R> {
    /// Follows the protocol.
    Honest(R),
    /// Rewrites what it sends ([`Attacker`]).
    Byzantine(Box<Attacker<R>>),
}

impl<R: Runtime> SwarmNode<R> {
    /// Whether this node follows the protocol.
    pub fn is_honest(&self) -> bool {
        matches!(self, SwarmNode::Honest(_))
    }

    /// The honest runtime (the attacker's wrapped one).
    pub fn runtime(&self) -> &R {
        match self {
            SwarmNode::Honest(r) => r,
            SwarmNode::Byzantine(a) => a.inner(),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $node:ident => $call:expr) => {
        match $self {
            SwarmNode::Honest($node) => $call,
            SwarmNode::Byzantine($node) => $call,
        }
    };
}

impl<R: Runtime> Runtime for SwarmNode<R> {
    fn handle_sample(&mut self, now: Instant, sample: Q) {
        dispatch!(self, n => n.handle_sample(now, sample))
    }

    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        dispatch!(self, n => n.handle_frame(now, frame))
    }

    fn handle_wake(&mut self, now: Instant) {
        dispatch!(self, n => n.handle_wake(now))
    }

    fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        dispatch!(self, n => n.handle_wake_lent(now, scratch))
    }

    fn handle_energy(&mut self, now: Instant, level: Q) {
        dispatch!(self, n => n.handle_energy(now, level))
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        dispatch!(self, n => n.poll_transmit(now, buf))
    }

    fn poll_at(&self) -> Option<Instant> {
        dispatch!(self, n => n.poll_at())
    }

    fn telemetry(&self) -> Telemetry {
        dispatch!(self, n => n.telemetry())
    }

    fn weights(&self) -> &[Q] {
        dispatch!(self, n => n.weights())
    }

    fn snapshot(&self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        dispatch!(self, n => n.snapshot(buf))
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        dispatch!(self, n => n.restore(bytes))
    }

    fn reputation_table(&self) -> Option<&ReputationTable> {
        dispatch!(self, n => n.reputation_table())
    }

    fn state_bytes(&self) -> Option<usize> {
        dispatch!(self, n => n.state_bytes())
    }
}
