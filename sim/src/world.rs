//! The world: N node runtimes and the models around them, driven by events.
//!
//! ## What happens, in order
//!
//! Three kinds of node events exist, all ordered by the engine's
//! `(time, sequence)` contract:
//!
//! * **Sample** — every `run.sample_period` each node takes sample `k`
//!   (time `k · period`): the world charges harvest and drain up to now,
//!   tells the node its battery level, hands it the dataset's observed value,
//!   and records its prediction's error against the observed value and
//!   against the clean signal.
//! * **Deliver** — a frame arrives from the radio: the node parses it (and
//!   may reject it; rejections are counted by [`RejectReason`]).
//! * **Wake** — the instant the node asked for with `poll_at`.
//!
//! After every input the world drains `poll_transmit` (at most
//! [`TX_PER_INPUT_MAX`] frames), hands each frame to the radio (which
//! schedules one Deliver per receiver), charges the node's newly accounted
//! energy to its pool, and re-arms its wake-up. A node whose pool empties
//! browns out: it takes no samples, frames or wake-ups until the pool has
//! recharged to `energy.resume_fraction` (its RAM state is kept — unless a
//! `[faults]` section says RAM is lost, see below).
//!
//! With a `[faults]` section, a few marked "faults hook" calls hand control
//! to `crate::faults` (scheduled cuts and their end as `Fault` events, the
//! reboot of a node that lost its RAM before any of its events, the
//! snapshot after each row, partition drops when deliveries are scheduled,
//! corruption when a copy is delivered, and each node's drifting clock for
//! every `now` and `poll_at`); its module docs give the ordering contract.
//! Without the section every hook is a no-op.
//!
//! A **RoundEnd** event at every `r · run.round_period` records one metrics
//! row. It is scheduled by the previous RoundEnd, so it fires before any node
//! event of the same instant: row `r` covers samples in `[(r−1)·P, r·P)`.
//! At rounds that are multiples of `run.heldout_every` the row also scores
//! every honest node's current weights on its held-out data
//! (`metrics::heldout`), in node-id order. With a `[consensus]` section the
//! row's `drift` scores the same weights against its truth vector
//! (`crate::consensus`): since row `r` fires before the node events of
//! `r·P`, these are the models adopted at the aggregation of the round
//! whose boundary was `(r−1)·P` (the initial draw in row 1).
//!
//! Node state lives in contiguous vectors indexed by node id; the event loop
//! allocates nothing per event at steady state. The data ([`RunData`]) is
//! read-only and may be shared with other worlds of the same scenario and
//! seed (the baselines).

mod data;

pub use data::RunData;

use std::fmt;
use std::sync::Arc;

use node_core::regime::Regime;
use node_core::runtime::{FrameKind, NodeId, RejectReason, Runtime};

use crate::adversary::detection::Detection;
use crate::consensus;
use crate::energy::EnergyPools;
use crate::engine::{EngineError, EventQueue};
use crate::faults::{FaultEvent, Faults};
use crate::fixed;
use crate::inflight::{FrameRef, InFlight};
use crate::metrics::heldout::HeldOutProbe;
use crate::metrics::{self, ErrorAccumulator, RoundRow};
use crate::radio::{Delivery, Radio};
use crate::scenario::Scenario;

/// Most frames a node may emit in answer to one input; more is a runtime
/// bug and stops the run.
pub const TX_PER_INPUT_MAX: u32 = 64;

const NOT_ARMED: u64 = u64::MAX;

/// What a node runtime is told when it is created.
#[derive(Clone, Copy, Debug)]
pub struct NodeInit {
    /// The node's id, `0..nodes`.
    pub id: NodeId,
    /// The run's master seed (derive streams with `node_core::rng`).
    pub seed: u64,
    /// Number of nodes in the swarm.
    pub swarm_size: u32,
    /// Number of radio neighbours.
    pub degree: u32,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Sample(NodeId),
    Wake(NodeId),
    Deliver { node: NodeId, frame: FrameRef },
    Resume(NodeId),
    RoundEnd(u32),
    Fault(FaultEvent),
}

impl Event {
    /// The node a node event is about (faults hook: reboots come first).
    fn node(self) -> Option<NodeId> {
        match self {
            Event::Sample(n) | Event::Wake(n) | Event::Resume(n) => Some(n),
            Event::Deliver { node, .. } => Some(node),
            Event::Fault(f) => Some(f.node()),
            Event::RoundEnd(_) => None,
        }
    }
}

/// Rebuilds a node's runtime from its configuration (a reboot after RAM
/// loss, `crate::faults`).
pub type Rebuild<'a, R> = dyn FnMut(&NodeInit) -> Result<R, String> + 'a;

/// Why a world could not be built or run.
#[derive(Debug)]
pub enum WorldError {
    /// A model could not be built from the scenario (e.g. dataset missing).
    Build(String),
    /// The engine stopped (event budget).
    Engine(EngineError),
    /// A node broke the runtime contract (e.g. a frame above the MTU).
    Runtime(String),
}

impl fmt::Display for WorldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorldError::Build(m) => write!(f, "cannot build the world: {m}"),
            WorldError::Engine(e) => write!(f, "{e}"),
            WorldError::Runtime(m) => write!(f, "node runtime contract violated: {m}"),
        }
    }
}

impl std::error::Error for WorldError {}

/// Events between two mid-round [`Progress`] reports (large runs take
/// seconds per round).
pub const PROGRESS_EVENTS: u64 = 1 << 20;

/// Progress of a run, reported at every round end and every
/// [`PROGRESS_EVENTS`] events.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Rounds completed.
    pub round: u32,
    /// Rounds in the run.
    pub rounds: u32,
    /// Simulated time, µs.
    pub now_us: u64,
    /// Events dispatched so far.
    pub events: u64,
    /// Simulated time at the end of the run, µs.
    pub end_us: u64,
}

/// Per-node bookkeeping of the world (not node state).
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    armed_wake_us: u64,
    energy_seen_uj: u64,
    on: bool,
    honest: bool,
    errors: ErrorAccumulator,
    errors_clean: ErrorAccumulator,
}

/// The simulated swarm.
pub struct World<R: Runtime> {
    nodes: Vec<R>,
    slots: Vec<Slot>,
    queue: EventQueue<Event>,
    radio: Radio,
    energy: EnergyPools,
    data: Arc<RunData>,
    probe: HeldOutProbe,
    inflight: InFlight,
    tx_buf: Vec<u8>,
    rows: Vec<RoundRow>,
    /// The `[consensus]` truth, one value per weight, if any (`drift`).
    truth: Option<Vec<f64>>,
    /// The attackers and their detection state, if any (`[adversary]`).
    adversary: Option<Detection>,
    scenario_name: String,
    seed: u64,
    rejected: [u64; RejectReason::ALL.len()],
    model_updates_accepted: u64,
    /// `[faults]` (inactive without the section).
    faults: Faults,
    rounds: u32,
    round_period_us: u64,
    sample_period_us: u64,
    end_us: u64,
}

impl<R: Runtime> World<R> {
    /// Builds the world of `scenario` with master `seed`, creating each node
    /// with `make`.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        make: impl FnMut(&NodeInit) -> Result<R, String>,
    ) -> Result<World<R>, WorldError> {
        let radio = build_radio(scenario, seed)?;
        let data = Arc::new(RunData::build(scenario, radio.topology(), seed)?);
        World::assemble(scenario, seed, radio, data, make)
    }

    /// Like [`World::new`], on `data` already built for the same dataset,
    /// nodes and seed (e.g. by the main run, for a baseline).
    pub fn with_data(
        scenario: &Scenario,
        seed: u64,
        data: Arc<RunData>,
        make: impl FnMut(&NodeInit) -> Result<R, String>,
    ) -> Result<World<R>, WorldError> {
        if data.dataset.nodes() != scenario.nodes {
            return Err(WorldError::Build(format!(
                "shared data is for {} nodes, the scenario has {}",
                data.dataset.nodes(),
                scenario.nodes
            )));
        }
        let radio = build_radio(scenario, seed)?;
        World::assemble(scenario, seed, radio, data, make)
    }

    fn assemble(
        scenario: &Scenario,
        seed: u64,
        radio: Radio,
        data: Arc<RunData>,
        mut make: impl FnMut(&NodeInit) -> Result<R, String>,
    ) -> Result<World<R>, WorldError> {
        let n = scenario.nodes;
        let energy =
            EnergyPools::new(&scenario.energy, n).map_err(|e| WorldError::Build(e.to_string()))?;
        let run = &scenario.run;
        let topology = radio.topology();
        let nodes: Vec<R> = (0..n)
            .map(|id| {
                let degree = u32::try_from(topology.degree(id)).unwrap_or(u32::MAX);
                make(&NodeInit {
                    id,
                    seed,
                    swarm_size: n,
                    degree,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| WorldError::Build(format!("node runtime: {e}")))?;
        let slot = Slot {
            armed_wake_us: NOT_ARMED,
            on: true,
            honest: true,
            ..Slot::default()
        };
        let mut world = World {
            nodes,
            slots: vec![slot; n as usize],
            queue: EventQueue::new(run.max_events),
            tx_buf: vec![0; scenario.radio.mtu_bytes as usize],
            radio,
            energy,
            probe: HeldOutProbe::new(data.window_len, data.heldout_samples),
            data,
            inflight: InFlight::new(),
            rows: Vec::with_capacity(run.rounds as usize),
            truth: scenario
                .consensus
                .as_ref()
                .map(|c| c.truth.vector(usize::from(scenario.node.window_len) + 1)),
            adversary: None,
            scenario_name: scenario.name.clone(),
            seed,
            rejected: [0; RejectReason::ALL.len()],
            model_updates_accepted: 0,
            faults: Faults::new(scenario.faults.as_ref(), n, seed, run.round_period_us()),
            rounds: run.rounds,
            round_period_us: run.round_period_us(),
            sample_period_us: run.sample_period_us(),
            end_us: run.duration_us(),
        };
        world.schedule_start();
        Ok(world)
    }

    fn schedule_start(&mut self) {
        self.queue.reserve(self.nodes.len() * 2 + 1);
        self.queue.push(self.round_period_us, Event::RoundEnd(1));
        for id in 0..self.nodes.len() as NodeId {
            self.queue.push(0, Event::Sample(id));
        }
        let queue = &mut self.queue;
        self.faults
            .schedule(self.end_us, |at, e| queue.push(at, Event::Fault(e)));
    }

    /// Marks the attackers of `detection` not honest (they leave every
    /// honest metric) and measures their detection in every row from now
    /// on (`crate::adversary::detection`). Call it before [`World::run`].
    pub fn set_adversary(&mut self, detection: Detection) {
        for (id, slot) in (0..).zip(self.slots.iter_mut()) {
            slot.honest = detection.is_honest(id);
        }
        self.adversary = Some(detection);
    }

    /// Leaves `ids` out of every honest metric, as if they were attackers
    /// (the attack-free twin of a run with attackers scores the same
    /// honest nodes as the run it is compared with).
    pub fn exclude_from_metrics(&mut self, ids: impl IntoIterator<Item = NodeId>) {
        for id in ids {
            if let Some(slot) = self.slots.get_mut(id as usize) {
                slot.honest = false;
            }
        }
    }

    /// The attackers' detection state, if the world has attackers.
    pub fn adversary(&self) -> Option<&Detection> {
        self.adversary.as_ref()
    }

    /// Runs to the end, calling `progress` after every round. A scenario
    /// whose `[faults]` can make a node lose its RAM needs
    /// [`World::run_with`] instead (the world must rebuild nodes).
    pub fn run(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<(), WorldError> {
        self.run_with(progress, &mut |_| {
            Err("this world was run without a node factory (World::run_with)".to_string())
        })
    }

    /// Like [`World::run`], rebuilding a node with `rebuild` when it
    /// reboots after losing its RAM (`crate::faults`).
    pub fn run_with(
        &mut self,
        progress: &mut dyn FnMut(&Progress),
        rebuild: &mut Rebuild<'_, R>,
    ) -> Result<(), WorldError> {
        let mut round_done = 0;
        while let Some((now_us, event)) = self.queue.pop().map_err(WorldError::Engine)? {
            if let Some(node) = event.node().filter(|_| self.faults.active()) {
                self.reboot_if_due(node, now_us, rebuild)?; // faults hook
            }
            if self.queue.dispatched().is_multiple_of(PROGRESS_EVENTS) {
                progress(&Progress {
                    round: round_done,
                    rounds: self.rounds,
                    now_us,
                    events: self.queue.dispatched(),
                    end_us: self.end_us,
                });
            }
            match event {
                Event::Fault(f) => self.on_fault(f, now_us),
                Event::Sample(node) => self.on_sample(node, now_us)?,
                Event::Wake(node) => self.on_wake(node, now_us)?,
                Event::Deliver { node, frame } => self.on_deliver(node, frame, now_us)?,
                Event::Resume(node) => self.on_resume(node, now_us)?,
                Event::RoundEnd(round) => {
                    self.on_round_end(round, now_us);
                    round_done = round;
                    progress(&Progress {
                        round,
                        rounds: self.rounds,
                        now_us,
                        events: self.queue.dispatched(),
                        end_us: self.end_us,
                    });
                    if round == self.rounds {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn on_sample(&mut self, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        let next = now_us + self.sample_period_us;
        if next < self.end_us {
            self.queue.push(next, Event::Sample(node));
        }
        if !self.power_check(node, now_us) {
            return Ok(());
        }
        let index = now_us / self.sample_period_us;
        let sample = self.data.dataset.sample(node, index);
        let now = self.faults.local(node, now_us);
        let level = self.energy.level_fraction(node);
        let runtime = &mut self.nodes[node as usize];
        runtime.handle_energy(now, level);
        runtime.handle_sample(now, sample.observed);
        if self.truth.is_some() {
            // The consensus task learns nothing from samples: no errors.
            return self.after_input(node, now_us);
        }
        let telemetry = runtime.telemetry();
        let slot = &mut self.slots[node as usize];
        slot.errors.add(i64::from(telemetry.last_error.to_bits()));
        let clean_error =
            i64::from(sample.clean.to_bits()) - i64::from(telemetry.last_prediction.to_bits());
        slot.errors_clean.add(clean_error);
        self.after_input(node, now_us)
    }

    fn on_wake(&mut self, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        let slot = &mut self.slots[node as usize];
        if slot.armed_wake_us != now_us {
            return Ok(()); // superseded by a later poll_at
        }
        slot.armed_wake_us = NOT_ARMED;
        if !self.power_check(node, now_us) {
            return Ok(());
        }
        let now = self.faults.local(node, now_us);
        self.nodes[node as usize].handle_wake(now);
        self.after_input(node, now_us)
    }

    fn on_deliver(&mut self, node: NodeId, frame: FrameRef, now_us: u64) -> Result<(), WorldError> {
        if !self.power_check(node, now_us) {
            self.inflight.delivered(frame);
            return Ok(());
        }
        let bytes = self.inflight.bytes(frame);
        let len = bytes.len() as u32;
        let kind = self.inflight.kind(frame);
        let now = self.faults.local(node, now_us);
        let corrupted = self.faults.corrupt(node, bytes); // faults hook
        let bytes = if corrupted {
            self.faults.corrupted()
        } else {
            bytes
        };
        let result = self.nodes[node as usize].handle_frame(now, bytes);
        if corrupted {
            self.faults.corrupted_result(result);
        }
        self.inflight.delivered(frame);
        self.radio.record_receive(node, len, kind);
        match result {
            Err(e) => self.rejected[e.reason().index()] += 1,
            Ok(()) if kind == FrameKind::ModelUpdate => self.model_updates_accepted += 1,
            Ok(()) => {}
        }
        self.after_input(node, now_us)
    }

    fn on_resume(&mut self, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        if self.power_check(node, now_us) {
            self.rearm(node, now_us);
        }
        Ok(())
    }

    /// Brings the pool up to `now`; returns whether the node is powered.
    fn power_check(&mut self, node: NodeId, now_us: u64) -> bool {
        self.energy.advance(node, now_us);
        let powered = self.energy.is_on(node);
        let on = powered && self.faults.up(node, now_us);
        self.slots[node as usize].on = on;
        if self.faults.active() {
            // faults hook: RAM loss on power loss, resume with RAM kept.
            if !powered {
                self.faults.power_lost(node, now_us);
            } else if on {
                self.faults.running(node, now_us);
            }
        }
        on
    }

    fn after_input(&mut self, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        self.drain_transmits(node, now_us)?;
        let used = self.nodes[node as usize].telemetry().energy_used_uj;
        let slot = &mut self.slots[node as usize];
        let delta = used.saturating_sub(slot.energy_seen_uj);
        slot.energy_seen_uj = used;
        self.energy.charge(node, delta);
        if !self.energy.is_on(node) {
            self.slots[node as usize].on = false;
            self.faults.power_lost(node, now_us); // faults hook
            if let Some(at) = self.energy.next_resume_at(node) {
                self.queue.push(at.max(now_us), Event::Resume(node));
            }
            return Ok(());
        }
        self.rearm(node, now_us);
        Ok(())
    }

    fn drain_transmits(&mut self, node: NodeId, now_us: u64) -> Result<(), WorldError> {
        let now = self.faults.local(node, now_us);
        for _ in 0..TX_PER_INPUT_MAX {
            let runtime = &mut self.nodes[node as usize];
            let Some(tx) = runtime.poll_transmit(now, &mut self.tx_buf) else {
                return Ok(());
            };
            if tx.len > self.tx_buf.len() {
                return Err(WorldError::Runtime(format!(
                    "node {node} reported a {}-byte frame",
                    tx.len
                )));
            }
            let frame = self.inflight.store(&self.tx_buf[..tx.len], tx.kind);
            let (queue, inflight) = (&mut self.queue, &mut self.inflight);
            let faults = &mut self.faults;
            let mut deliver = |d: Delivery| {
                if faults.partitioned(now_us, node, d.receiver) {
                    return; // faults hook
                }
                inflight.retain(frame);
                queue.push(
                    d.at_us,
                    Event::Deliver {
                        node: d.receiver,
                        frame,
                    },
                );
            };
            self.radio
                .transmit(
                    now_us,
                    node,
                    tx.len as u32,
                    tx.kind,
                    tx.destination,
                    &mut deliver,
                )
                .map_err(|e| WorldError::Runtime(format!("node {node}: {e}")))?;
            self.inflight.release_if_unused(frame);
        }
        Err(WorldError::Runtime(format!(
            "node {node} emitted more than {TX_PER_INPUT_MAX} frames for one input"
        )))
    }

    fn rearm(&mut self, node: NodeId, now_us: u64) {
        let Some(at) = self.nodes[node as usize].poll_at() else {
            return;
        };
        let at_us = self.faults.true_at(node, at).max(now_us);
        let slot = &mut self.slots[node as usize];
        if at_us != slot.armed_wake_us && at_us < self.end_us {
            slot.armed_wake_us = at_us;
            self.queue.push(at_us, Event::Wake(node));
        }
    }

    fn on_round_end(&mut self, round: u32, now_us: u64) {
        if round < self.rounds {
            self.queue
                .push(now_us + self.round_period_us, Event::RoundEnd(round + 1));
        }
        let row = self.measure(round, now_us);
        self.rows.push(row);
        if self.faults.active() {
            self.snapshot_round(round, now_us); // faults hook
        }
    }

    fn measure(&mut self, round: u32, now_us: u64) -> RoundRow {
        let mut row = RoundRow {
            scenario: self.scenario_name.clone(),
            seed: self.seed,
            round,
            time_s: now_us as f64 / 1e6,
            ..RoundRow::default()
        };
        self.measure_nodes(&mut row, round, now_us);
        if let Some(detection) = self.adversary.as_mut() {
            detection.measure(round, &self.nodes, &mut row);
        }
        let totals = self.radio.totals();
        row.set_kind_counters(&totals.frames_sent, &totals.bytes_sent);
        row.rx_frames = totals.frames_received.iter().sum();
        row.rx_model_updates_accepted = self.model_updates_accepted;
        row.lost_frames = totals.frames_lost.iter().sum();
        row.set_rejected(&self.rejected);
        let energy = self.energy.totals();
        row.energy_spent_j = energy.spent_uj as f64 / 1e6;
        row.energy_drain_j = energy.drained_uj as f64 / 1e6;
        row.energy_harvested_j = energy.harvested_uj as f64 / 1e6;
        row.brownouts = energy.brownouts;
        row.events = self.queue.dispatched();
        row
    }

    /// The per-node columns: errors, held-out score (at scored rounds),
    /// consensus, regimes.
    fn measure_nodes(&mut self, row: &mut RoundRow, round: u32, now_us: u64) {
        let mut errors = ErrorAccumulator::default();
        let mut errors_clean = ErrorAccumulator::default();
        let dim = self.nodes.first().map_or(0, |n| n.weights().len());
        let mut weights = Vec::with_capacity(dim * self.nodes.len());
        let scored = round.is_multiple_of(self.data.heldout_every.max(1));
        let heldout = self.data.heldout().filter(|_| scored);
        self.probe.clear();
        for (id, (runtime, slot)) in (0..).zip(self.nodes.iter().zip(self.slots.iter_mut())) {
            row.nodes_on += u32::from(slot.on);
            if !slot.honest {
                continue;
            }
            row.honest_nodes += 1;
            errors.merge(&slot.errors);
            errors_clean.merge(&slot.errors_clean);
            slot.errors = ErrorAccumulator::default();
            slot.errors_clean = ErrorAccumulator::default();
            weights.extend(runtime.weights().iter().map(|w| fixed::to_f64(*w)));
            if let Some(h) = heldout {
                let rmse = self.probe.add(h, &self.data.dataset, id, runtime.weights());
                if self.faults.active() {
                    self.faults.scored(id, round, now_us, rmse); // faults hook
                }
            }
            let telemetry = runtime.telemetry();
            row.aggregation_ops += telemetry.aggregation_ops;
            match telemetry.regime {
                Regime::Calm => row.calm += 1,
                Regime::PreStorm => row.prestorm += 1,
                Regime::Storm => row.storm += 1,
            }
        }
        row.rmse_online = errors.rmse();
        row.rmse_clean = errors_clean.rmse();
        row.rmse_heldout = self.probe.rmse();
        row.samples = errors.count();
        (row.consensus_distance, row.consensus_distance_max) =
            metrics::consensus_distance(&weights, dim);
        row.drift = self
            .truth
            .as_deref()
            .filter(|t| t.len() == dim)
            .map(|t| consensus::drift(&weights, t).unwrap_or(f64::NAN));
    }

    /// The metrics rows recorded so far.
    pub fn rows(&self) -> &[RoundRow] {
        &self.rows
    }

    /// The node runtimes, by id.
    pub fn nodes(&self) -> &[R] {
        &self.nodes
    }

    /// Events dispatched so far.
    pub fn events(&self) -> u64 {
        self.queue.dispatched()
    }

    /// The faults of the run (counters, outage records).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The run's data, to share with a baseline world or the references.
    pub fn data(&self) -> &Arc<RunData> {
        &self.data
    }
}

fn build_radio(scenario: &Scenario, seed: u64) -> Result<Radio, WorldError> {
    Radio::new(&scenario.radio, scenario.nodes, seed).map_err(|e| WorldError::Build(e.to_string()))
}

/// The `[faults]` hooks that need the world (see `crate::faults`).
impl<R: Runtime> World<R> {
    fn on_fault(&mut self, event: FaultEvent, now_us: u64) {
        match event {
            FaultEvent::Cut { node, schedule } => {
                let until = self.faults.cut(node, schedule, now_us);
                self.slots[node as usize].on = false;
                if until < self.end_us {
                    self.queue.push(until, Event::Fault(FaultEvent::Up(node)));
                }
            }
            FaultEvent::Up(node) => {
                if self.power_check(node, now_us) {
                    self.rearm(node, now_us);
                }
            }
        }
    }

    /// Rebuilds and restores `node` if it lost its RAM and may run again.
    fn reboot_if_due(
        &mut self,
        node: NodeId,
        now_us: u64,
        rebuild: &mut Rebuild<'_, R>,
    ) -> Result<(), WorldError> {
        if !self.faults.reboot_due(node, now_us) {
            return Ok(());
        }
        self.energy.advance(node, now_us);
        if !self.energy.is_on(node) {
            return Ok(());
        }
        let degree = self.radio.topology().degree(node);
        let init = NodeInit {
            id: node,
            seed: self.seed,
            swarm_size: self.nodes.len() as u32,
            degree: u32::try_from(degree).unwrap_or(u32::MAX),
        };
        let mut fresh =
            rebuild(&init).map_err(|e| WorldError::Runtime(format!("node {node}: reboot: {e}")))?;
        self.faults.reboot(node, now_us, &mut fresh);
        self.nodes[node as usize] = fresh;
        let slot = &mut self.slots[node as usize];
        slot.energy_seen_uj = self.nodes[node as usize].telemetry().energy_used_uj;
        slot.armed_wake_us = NOT_ARMED;
        self.rearm(node, now_us);
        Ok(())
    }

    /// Snapshots every running node at the end of `round` (the policy in
    /// `crate::faults` decides whether this round writes).
    fn snapshot_round(&mut self, round: u32, now_us: u64) {
        for (id, (runtime, slot)) in (0..).zip(self.nodes.iter().zip(&self.slots)) {
            if slot.on {
                self.faults.snapshot(id, round, now_us, runtime);
            }
        }
    }
}
