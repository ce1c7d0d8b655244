//! Windows: the node events of `[T, window_end)` handled in parallel, then
//! merged in node-id order (the ordering contract is in `super`'s docs).
//!
//! A window is popped from the queue straight into the reusable event
//! buffer of the [`Part`] that owns each event's node (contiguous node-id
//! ranges); each part sorts its own by `(node, pop position)`, so each
//! node's events keep their `(time, sequence)` order. The parts run on the world's thread pool (`rayon::join` halves the
//! ranges recursively: no allocation), or on the calling thread when the
//! world has one part. The merge then, on one thread and in node-id order:
//!
//! 1. releases the frames delivered in the window (the parts counted
//!    those a powered node took in);
//! 2. puts every frame the parts sent on the air — each node's in its
//!    send order, nodes in id order — so every receiver's loss and jitter
//!    streams are drawn in that canonical order, and pushes the Deliver
//!    events (after the `[faults]` partition check);
//! 3. pushes the parts' events at or after the window's end, in the same
//!    node-id-then-push order;
//! 4. adds the parts' counters.
//!
//! Nothing in this order depends on how many parts or threads there are,
//! so outputs are byte-identical for every thread count.

use node_core::runtime::{NodeId, Runtime};

use super::part::{ChunkOut, Part, Shared};
use super::{Input, NodeEvent, Rebuild, Slot, World, WorldError};
use crate::energy::Pool;
use crate::radio::Delivery;

/// One popped node event of a window: 24 bytes (a window at 10^6 nodes
/// holds millions of them).
#[derive(Clone, Copy, Debug)]
pub(super) struct WinEvent {
    pub time_us: u64,
    pub node: NodeId,
    /// Position in pop order (the sort key after the node).
    pub pos: u32,
    pub input: Input,
}

const _: () = assert!(std::mem::size_of::<WinEvent>() == 24);

impl WinEvent {
    /// The order of a part's events: by node, then pop position.
    pub fn key(&self) -> u64 {
        (u64::from(self.node) << 32) | u64::from(self.pos)
    }
}

/// Counters of the windows of a run, for `raas bench`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Windows handled.
    pub windows: u64,
    /// Node events handled in windows (popped and window-local).
    pub events: u64,
}

impl<R: Runtime + Send> World<R> {
    /// Handles the window starting at `start_us` (the earliest pending node
    /// event), ending at `start_us + lookahead` or at the next global event.
    pub(super) fn run_window(
        &mut self,
        start_us: u64,
        next_global_us: Option<u64>,
        rebuild: &mut Rebuild<'_, R>,
    ) -> Result<(), WorldError> {
        let end_us = start_us
            .saturating_add(self.lookahead_us.max(1))
            .min(next_global_us.unwrap_or(u64::MAX));
        debug_assert!(end_us > start_us);
        for out in &mut self.outs {
            out.events.clear();
        }
        let chunk = self.nodes.len().div_ceil(self.outs.len()).max(1);
        let mut pos: u32 = 0;
        while let Some((time_us, event)) =
            self.queue.pop_before(end_us).map_err(WorldError::Engine)?
        {
            self.outs[event.node as usize / chunk]
                .events
                .push(WinEvent {
                    time_us,
                    node: event.node,
                    pos,
                    input: event.input,
                });
            pos = pos
                .checked_add(1)
                .expect("fewer than 2^32 events per window");
        }
        self.run_parts(end_us, rebuild);
        self.merge(start_us, end_us)
    }

    /// The node phase: every part handles its nodes' events.
    fn run_parts(&mut self, end_us: u64, rebuild: &mut Rebuild<'_, R>) {
        let max_events = self.max_events;
        let budget = max_events.saturating_sub(self.queue.dispatched());
        if self.outs.len() == 1 {
            // An error stays in the part's output for the merge.
            self.on_whole_part(end_us, budget, rebuild, |part, sh| part.run(sh));
            return;
        }
        let (params, pools) = self.energy.split_mut();
        let sh = Shared {
            data: &self.data,
            inflight: &self.inflight,
            params,
            learns: self.truth.is_none(),
            sample_period_us: self.sample_period_us,
            end_us: self.end_us,
            window_end_us: end_us,
            local_events_max: budget,
            max_events,
        };
        let chunk = self.nodes.len().div_ceil(self.outs.len()).max(1);
        let ranges = Ranges {
            first: 0,
            chunk,
            nodes: &mut self.nodes,
            slots: &mut self.slots,
            pools,
            outs: &mut self.outs,
        };
        match &self.pool {
            Some(pool) => pool.install(|| ranges.run(&sh)),
            None => ranges.run(&sh),
        }
    }

    /// The sequential merge (see the module docs).
    fn merge(&mut self, start_us: u64, end_us: u64) -> Result<(), WorldError> {
        if let Some(e) = self.outs.iter_mut().find_map(|o| o.error.take()) {
            return Err(e); // the lowest part's first error: the same for any split
        }
        let mut popped = 0;
        for out in &self.outs {
            popped += out.events.len() as u64;
            for e in &out.events {
                if let Input::Deliver(frame) = e.input {
                    self.inflight.delivered(frame);
                }
            }
            self.radio
                .add_received(&out.frames_received, &out.bytes_received);
        }
        let outs = std::mem::take(&mut self.outs); // moved, not copied
        let sent = outs
            .iter()
            .try_for_each(|out| self.transmit_all(out, end_us));
        self.outs = outs;
        sent?;
        let mut local_events = 0;
        for out in &mut self.outs {
            for &(at_us, event) in &out.futures {
                self.queue.push(at_us, event);
            }
            for (sum, n) in self.rejected.iter_mut().zip(out.rejected) {
                *sum += n;
            }
            self.model_updates_accepted += out.model_updates_accepted;
            self.energy.add_totals(&out.energy);
            local_events += out.local_events;
        }
        self.stats.windows += 1;
        self.stats.events += popped + local_events;
        self.queue
            .note_dispatched(local_events, start_us)
            .map_err(WorldError::Engine)
    }

    /// Puts `out`'s frames on the air, in send order.
    fn transmit_all(&mut self, out: &ChunkOut, end_us: u64) -> Result<(), WorldError> {
        let lookahead_us = self.lookahead_us;
        for tx in &out.frames {
            let bytes = &out.bytes[tx.start..tx.start + tx.len as usize];
            let frame = self.inflight.store(bytes, tx.kind);
            let (queue, inflight, faults) = (&mut self.queue, &mut self.inflight, &mut self.faults);
            let mut deliver = |d: Delivery| {
                // The lookahead: nothing sent in a window lands inside it.
                debug_assert!(
                    lookahead_us == 0 || d.at_us >= end_us,
                    "delivery inside its window"
                );
                if faults.partitioned(tx.at_us, tx.sender, d.receiver) {
                    return; // faults hook
                }
                inflight.retain(frame);
                let input = Input::Deliver(frame);
                queue.push(
                    d.at_us,
                    NodeEvent {
                        node: d.receiver,
                        input,
                    },
                );
            };
            self.radio
                .transmit(
                    tx.at_us,
                    tx.sender,
                    tx.len,
                    tx.kind,
                    tx.destination,
                    &mut deliver,
                )
                .map_err(|e| WorldError::Runtime(format!("node {}: {e}", tx.sender)))?;
            self.inflight.release_if_unused(frame);
        }
        Ok(())
    }
}

/// Contiguous node ranges of `chunk` ids, one per output, with the window
/// events of those nodes (grouped by range, not yet sorted by node).
struct Ranges<'a, R> {
    first: usize,
    chunk: usize,
    nodes: &'a mut [R],
    slots: &'a mut [Slot],
    pools: &'a mut [Pool],
    outs: &'a mut [ChunkOut],
}

impl<R: Runtime + Send> Ranges<'_, R> {
    /// Runs every range: halves recursively, the halves in parallel.
    fn run(self, sh: &Shared<'_>) {
        if self.outs.len() == 1 {
            let mut part = Part {
                first: self.first as NodeId,
                nodes: self.nodes,
                slots: self.slots,
                pools: self.pools,
                out: &mut self.outs[0],
                hooks: None,
            };
            part.run(sh);
            return;
        }
        let half = self.outs.len() / 2;
        let k = (half * self.chunk).min(self.nodes.len());
        let split = self.first + k;
        let (nodes_a, nodes_b) = self.nodes.split_at_mut(k);
        let (slots_a, slots_b) = self.slots.split_at_mut(k);
        let (pools_a, pools_b) = self.pools.split_at_mut(k);
        let (outs_a, outs_b) = self.outs.split_at_mut(half);
        let a = Ranges {
            first: self.first,
            chunk: self.chunk,
            nodes: nodes_a,
            slots: slots_a,
            pools: pools_a,
            outs: outs_a,
        };
        let b = Ranges {
            first: split,
            chunk: self.chunk,
            nodes: nodes_b,
            slots: slots_b,
            pools: pools_b,
            outs: outs_b,
        };
        rayon::join(|| a.run(sh), || b.run(sh));
    }
}
