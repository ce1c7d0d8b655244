//! The node phase of a window: one contiguous range of nodes handling
//! their own events.
//!
//! A [`Part`] owns, for the duration of one window, the runtimes, slots
//! and energy pools of nodes `first..first + len` and one [`ChunkOut`]; it
//! reads everything else through [`Shared`]. Nothing it does is visible to
//! another part before the merge (`super::window`): frames it sends and
//! events at or after the window's end are buffered in its `ChunkOut` in
//! the node's push order; follow-ups inside the window (a wake-up, a
//! resume, the next sample) go to the node's own [`NodeOrder`].
//!
//! The `[faults]` hooks and the node factory ([`Hooks`]) are lent only to a
//! world that runs its windows on one part (see `super` for when): they
//! hold shared mutable state (one RNG per run, outage records).

use node_core::node::AggregationScratch;
use node_core::runtime::{Destination, FrameKind, NodeId, RejectReason, Runtime};
use node_core::time::Instant;

use super::order::{Next, NodeOrder};
use super::{Input, NOT_ARMED, NodeEvent, NodeInit, Rebuild, RunData, Slot, TX_PER_INPUT_MAX};
use super::{WorldError, window::WinEvent};
use crate::energy::{EnergyTotals, Pool, PoolParams};
use crate::engine::EngineError;
use crate::faults::Faults;
use crate::inflight::InFlight;
use crate::radio::counters::PerKind;
use crate::radio::topology::Topology;

/// What every part reads during a window (never written while parts run).
pub(super) struct Shared<'a> {
    pub data: &'a RunData,
    pub inflight: &'a InFlight,
    pub params: &'a PoolParams,
    /// Whether samples are scored (`false` for the consensus task).
    pub learns: bool,
    pub sample_period_us: u64,
    pub end_us: u64,
    /// The window's end: events before it are handled in this window.
    pub window_end_us: u64,
    /// Most window-local follow-ups one part may handle (the run's
    /// remaining event budget: a node re-arming itself forever stops).
    pub local_events_max: u64,
    pub max_events: u64,
}

/// What only a one-part world lends its node phase (`crate::faults`).
pub(super) struct Hooks<'a, 'r, R> {
    pub faults: &'a mut Faults,
    pub rebuild: &'a mut Rebuild<'r, R>,
    pub topology: &'a Topology,
    pub seed: u64,
    pub swarm_size: u32,
}

/// A frame sent during a window, put on the air at the merge.
#[derive(Clone, Copy, Debug)]
pub(super) struct TxRecord {
    pub sender: NodeId,
    pub at_us: u64,
    /// Offset of the payload in [`ChunkOut::bytes`].
    pub start: usize,
    pub len: u32,
    pub kind: FrameKind,
    pub destination: Destination,
}

/// One part's outputs and sums, reused from window to window.
pub(super) struct ChunkOut {
    /// The window's events of this part's nodes, in pop order until
    /// [`Part::run`] sorts them by node (filled by the pop, `super::window`).
    pub events: Vec<WinEvent>,
    pub frames: Vec<TxRecord>,
    pub bytes: Vec<u8>,
    /// Events at or after the window's end, in push order.
    pub futures: Vec<(u64, NodeEvent)>,
    pub order: NodeOrder<Input>,
    tx_buf: Vec<u8>,
    /// The aggregation's working space, lent to every node of the part at
    /// its wake (node-core keeps nothing in it between calls, so nodes
    /// need not each keep ~1 KB of buffers that are dead between rounds).
    scratch: AggregationScratch,
    pub rejected: [u64; RejectReason::ALL.len()],
    pub model_updates_accepted: u64,
    /// Frames a powered node of this part took in, by kind, and their bytes
    /// (the radio's receive counters, added at the merge).
    pub frames_received: PerKind,
    pub bytes_received: PerKind,
    pub energy: EnergyTotals,
    /// Window-local follow-ups handled (counted into the event budget).
    pub local_events: u64,
    pub error: Option<WorldError>,
}

impl ChunkOut {
    /// Empty outputs for frames of at most `mtu_bytes`.
    pub fn new(mtu_bytes: usize) -> ChunkOut {
        ChunkOut {
            events: Vec::new(),
            frames: Vec::new(),
            bytes: Vec::new(),
            futures: Vec::new(),
            order: NodeOrder::default(),
            tx_buf: vec![0; mtu_bytes],
            scratch: AggregationScratch::new(),
            rejected: [0; RejectReason::ALL.len()],
            model_updates_accepted: 0,
            frames_received: PerKind::default(),
            bytes_received: PerKind::default(),
            energy: EnergyTotals::default(),
            local_events: 0,
            error: None,
        }
    }

    /// Forgets the previous window's outputs (keeps every buffer's
    /// capacity; `events` is the pop's to clear).
    pub fn reset(&mut self) {
        self.frames.clear();
        self.bytes.clear();
        self.futures.clear();
        self.rejected = [0; RejectReason::ALL.len()];
        self.model_updates_accepted = 0;
        self.frames_received = PerKind::default();
        self.bytes_received = PerKind::default();
        self.energy = EnergyTotals::default();
        self.local_events = 0;
        self.error = None;
    }
}

/// Nodes `first..first + nodes.len()` during one window.
pub(super) struct Part<'a, 'h, 'r, R> {
    pub first: NodeId,
    pub nodes: &'a mut [R],
    pub slots: &'a mut [Slot],
    pub pools: &'a mut [Pool],
    pub out: &'a mut ChunkOut,
    pub hooks: Option<&'h mut Hooks<'a, 'r, R>>,
}

impl<R: Runtime> Part<'_, '_, '_, R> {
    /// Handles the events of this part's nodes, `events` in pop order
    /// (each node's in `(time, sequence)` order): sorts them by node (each
    /// node keeps its order), then runs node after node in id order. Stops
    /// at the first error (kept in `out.error`).
    pub fn run(&mut self, sh: &Shared<'_>) {
        self.out.reset();
        let mut events = std::mem::take(&mut self.out.events);
        events.sort_unstable_by_key(WinEvent::key);
        let mut rest = &events[..];
        while let Some(first) = rest.first() {
            let node = first.node;
            let len = rest.iter().take_while(|e| e.node == node).count();
            let (mine, tail) = rest.split_at(len);
            if let Err(e) = self.run_node(sh, node, mine) {
                self.out.error = Some(e);
                break;
            }
            rest = tail;
        }
        self.out.events = events; // the merge releases their frames
    }

    /// One node's events and the follow-ups they schedule inside the
    /// window, merged in `(time, sequence)` order ([`NodeOrder`]).
    fn run_node(
        &mut self,
        sh: &Shared<'_>,
        node: NodeId,
        events: &[WinEvent],
    ) -> Result<(), WorldError> {
        self.out.order.clear();
        let mut i = 0;
        while let Some(next) = self.out.order.next(events.get(i).map(|e| e.time_us)) {
            match next {
                Next::Window => {
                    let e = events[i];
                    self.dispatch(sh, node, e.time_us, e.input)?;
                    i += 1;
                }
                Next::Local(time_us, input) => {
                    self.out.local_events += 1;
                    if self.out.local_events > sh.local_events_max {
                        return Err(WorldError::Engine(EngineError::EventBudgetExceeded {
                            max_events: sh.max_events,
                            now_us: time_us,
                        }));
                    }
                    self.dispatch(sh, node, time_us, input)?;
                }
            }
        }
        Ok(())
    }

    /// Handles one event.
    fn dispatch(
        &mut self,
        sh: &Shared<'_>,
        node: NodeId,
        now_us: u64,
        input: Input,
    ) -> Result<(), WorldError> {
        if self.hooks.as_ref().is_some_and(|h| h.faults.active()) {
            self.reboot_if_due(sh, node, now_us)?; // faults hook
        }
        match input {
            Input::Sample => self.on_sample(sh, node, now_us)?,
            Input::Wake => self.on_wake(sh, node, now_us)?,
            Input::Deliver(frame) => return self.on_deliver(sh, node, frame, now_us),
            Input::Resume => {
                if self.power_check(sh, node, now_us) {
                    self.rearm(sh, node, now_us);
                }
            }
        }
        Ok(())
    }

    /// Schedules `input` for `node` at `at_us`: inside the window into the
    /// node's own order, else into the part's future events.
    fn schedule(&mut self, sh: &Shared<'_>, at_us: u64, node: NodeId, input: Input) {
        if at_us < sh.window_end_us {
            self.out.order.insert(at_us, input);
        } else {
            self.out.futures.push((at_us, NodeEvent { node, input }));
        }
    }

    fn index(&self, node: NodeId) -> usize {
        debug_assert!(node >= self.first && ((node - self.first) as usize) < self.nodes.len());
        (node - self.first) as usize
    }

    /// The time `node` reads at true time `now_us` (faults hook).
    fn local(&self, node: NodeId, now_us: u64) -> Instant {
        match &self.hooks {
            Some(h) => h.faults.local(node, now_us),
            None => Instant::from_micros(now_us),
        }
    }

    fn on_sample(&mut self, sh: &Shared<'_>, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        let next = now_us + sh.sample_period_us;
        if next < sh.end_us {
            self.schedule(sh, next, node, Input::Sample);
        }
        if !self.power_check(sh, node, now_us) {
            return Ok(());
        }
        let i = self.index(node);
        let sample = sh.data.dataset.sample(node, now_us / sh.sample_period_us);
        let now = self.local(node, now_us);
        let level = sh.params.level_fraction(&self.pools[i]);
        let runtime = &mut self.nodes[i];
        runtime.handle_energy(now, level);
        runtime.handle_sample(now, sample.observed);
        if sh.learns {
            // The consensus task learns nothing from samples: no errors.
            let telemetry = runtime.telemetry();
            let slot = &mut self.slots[i];
            slot.errors.add(i64::from(telemetry.last_error.to_bits()));
            let clean_error =
                i64::from(sample.clean.to_bits()) - i64::from(telemetry.last_prediction.to_bits());
            slot.errors_clean.add(clean_error);
        }
        self.after_input(sh, node, now_us)
    }

    fn on_wake(&mut self, sh: &Shared<'_>, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        let i = self.index(node);
        if self.slots[i].armed_wake_us != now_us {
            return Ok(()); // superseded by a later poll_at
        }
        self.slots[i].armed_wake_us = NOT_ARMED;
        if !self.power_check(sh, node, now_us) {
            return Ok(());
        }
        let now = self.local(node, now_us);
        self.nodes[i].handle_wake_lent(now, &mut self.out.scratch);
        self.after_input(sh, node, now_us)
    }

    fn on_deliver(
        &mut self,
        sh: &Shared<'_>,
        node: NodeId,
        frame: crate::inflight::FrameRef,
        now_us: u64,
    ) -> Result<(), WorldError> {
        if !self.power_check(sh, node, now_us) {
            return Ok(()); // released at the merge, not counted
        }
        let i = self.index(node);
        let bytes = sh.inflight.bytes(frame);
        let kind = sh.inflight.kind(frame);
        self.out.frames_received[kind.index()] += 1;
        self.out.bytes_received[kind.index()] += bytes.len() as u64;
        let now = self.local(node, now_us);
        let result = match self.hooks.as_deref_mut() {
            Some(h) => {
                // faults hook: the copy may be corrupted on the way in.
                if h.faults.corrupt(node, bytes) {
                    let result = self.nodes[i].handle_frame(now, h.faults.corrupted());
                    h.faults.corrupted_result(result);
                    result
                } else {
                    self.nodes[i].handle_frame(now, bytes)
                }
            }
            None => self.nodes[i].handle_frame(now, bytes),
        };
        match result {
            Err(e) => self.out.rejected[e.reason().index()] += 1,
            Ok(()) if kind == FrameKind::ModelUpdate => self.out.model_updates_accepted += 1,
            Ok(()) => {}
        }
        self.after_input(sh, node, now_us)
    }

    /// Brings the pool up to `now`; returns whether the node is powered.
    pub fn power_check(&mut self, sh: &Shared<'_>, node: NodeId, now_us: u64) -> bool {
        let i = self.index(node);
        sh.params
            .advance(&mut self.pools[i], &mut self.out.energy, now_us);
        let powered = self.pools[i].is_on();
        let Some(h) = self.hooks.as_deref_mut() else {
            self.slots[i].on = powered;
            return powered;
        };
        let on = powered && h.faults.up(node, now_us);
        self.slots[i].on = on;
        if h.faults.active() {
            // faults hook: RAM loss on power loss, resume with RAM kept.
            if !powered {
                h.faults.power_lost(node, now_us);
            } else if on {
                h.faults.running(node, now_us);
            }
        }
        on
    }

    fn after_input(
        &mut self,
        sh: &Shared<'_>,
        node: NodeId,
        now_us: u64,
    ) -> Result<(), WorldError> {
        self.drain_transmits(node, now_us)?;
        let i = self.index(node);
        let used = self.nodes[i].telemetry().energy_used_uj;
        let slot = &mut self.slots[i];
        let delta = used.saturating_sub(slot.energy_seen_uj);
        slot.energy_seen_uj = used;
        let pool = &mut self.pools[i];
        sh.params.charge(pool, &mut self.out.energy, delta);
        if !pool.is_on() {
            self.slots[i].on = false;
            if let Some(h) = self.hooks.as_deref_mut() {
                h.faults.power_lost(node, now_us); // faults hook
            }
            if let Some(at) = sh.params.next_resume_at(&self.pools[i]) {
                self.schedule(sh, at.max(now_us), node, Input::Resume);
            }
            return Ok(());
        }
        self.rearm(sh, node, now_us);
        Ok(())
    }

    /// Copies every frame the node has to send into the part's outputs.
    fn drain_transmits(&mut self, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        let now = self.local(node, now_us);
        let i = self.index(node);
        let out = &mut *self.out;
        for _ in 0..TX_PER_INPUT_MAX {
            let Some(tx) = self.nodes[i].poll_transmit(now, &mut out.tx_buf) else {
                return Ok(());
            };
            if tx.len > out.tx_buf.len() {
                return Err(WorldError::Runtime(format!(
                    "node {node} reported a {}-byte frame",
                    tx.len
                )));
            }
            out.frames.push(TxRecord {
                sender: node,
                at_us: now_us,
                start: out.bytes.len(),
                len: tx.len as u32,
                kind: tx.kind,
                destination: tx.destination,
            });
            out.bytes.extend_from_slice(&out.tx_buf[..tx.len]);
        }
        Err(WorldError::Runtime(format!(
            "node {node} emitted more than {TX_PER_INPUT_MAX} frames for one input"
        )))
    }

    /// Schedules the wake-up the node asks for, if it changed.
    pub fn rearm(&mut self, sh: &Shared<'_>, node: NodeId, now_us: u64) {
        let i = self.index(node);
        let Some(at) = self.nodes[i].poll_at() else {
            return;
        };
        let at_us = match &self.hooks {
            Some(h) => h.faults.true_at(node, at),
            None => at.as_micros(),
        }
        .max(now_us);
        let slot = &mut self.slots[i];
        if at_us != slot.armed_wake_us && at_us < sh.end_us {
            slot.armed_wake_us = at_us;
            self.schedule(sh, at_us, node, Input::Wake);
        }
    }

    /// Rebuilds and restores `node` if it lost its RAM and may run again
    /// (faults hook; a no-op without hooks).
    pub fn reboot_if_due(
        &mut self,
        sh: &Shared<'_>,
        node: NodeId,
        now_us: u64,
    ) -> Result<(), WorldError> {
        let i = self.index(node);
        let Some(h) = self.hooks.as_deref_mut() else {
            return Ok(());
        };
        if !h.faults.reboot_due(node, now_us) {
            return Ok(());
        }
        sh.params
            .advance(&mut self.pools[i], &mut self.out.energy, now_us);
        if !self.pools[i].is_on() {
            return Ok(());
        }
        let degree = h.topology.degree(node);
        let init = NodeInit {
            id: node,
            seed: h.seed,
            swarm_size: h.swarm_size,
            degree: u32::try_from(degree).unwrap_or(u32::MAX),
        };
        let mut fresh = (h.rebuild)(&init)
            .map_err(|e| WorldError::Runtime(format!("node {node}: reboot: {e}")))?;
        h.faults.reboot(node, now_us, &mut fresh);
        self.nodes[i] = fresh;
        let slot = &mut self.slots[i];
        slot.energy_seen_uj = self.nodes[i].telemetry().energy_used_uj;
        slot.armed_wake_us = NOT_ARMED;
        self.rearm(sh, node, now_us);
        Ok(())
    }
}
