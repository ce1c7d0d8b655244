//! The world: N node runtimes and the models around them, driven by events.
//!
//! ## What happens to a node
//!
//! Four kinds of node events exist:
//!
//! * **Sample** — every `run.sample_period` each node takes sample `k`
//!   (time `k · period`): the world charges harvest and drain up to now,
//!   tells the node its battery level, hands it the dataset's observed value,
//!   and records its prediction's error against the observed value and
//!   against the clean signal.
//! * **Deliver** — a frame arrives from the radio: the node parses it (and
//!   may reject it; rejections are counted by [`RejectReason`]).
//! * **Wake** — the instant the node asked for with `poll_at`.
//! * **Resume** — a browned-out node's pool has recharged.
//!
//! After every input the world drains `poll_transmit` (at most
//! [`TX_PER_INPUT_MAX`] frames), charges the node's newly accounted energy
//! to its pool, and re-arms its wake-up. A node whose pool empties browns
//! out: it takes no samples, frames or wake-ups until the pool has
//! recharged to `energy.resume_fraction` (its RAM state is kept — unless a
//! `[faults]` section says RAM is lost, see below).
//!
//! Two kinds of **global** events exist: a **RoundEnd** at every
//! `r · run.round_period` records one metrics row, and `[faults]` events
//! (scheduled cuts and their end).
//!
//! ## Ordering contract: windows
//!
//! Node events live in one queue, global events in another, both in the
//! engine's `(time, sequence)` order (`crate::engine`). Let `L` be the
//! radio's minimum latency, `airtime(0 B) + radio.latency_base_us` (the
//! lookahead): a frame sent at `t` arrives at `≥ t + L`. The loop repeats:
//!
//! 1. If the earliest global event is at or before the earliest node event,
//!    it is handled alone (so a RoundEnd fires before every node event of
//!    its instant: row `r` covers samples in `[(r−1)·P, r·P)`).
//! 2. Otherwise, with `T` the earliest node time, the **window** is `[T,
//!    min(T + L, next global time))` (`[T, T + 1)` if `L = 0`). Every node
//!    event before its end is popped; each node handles its own events in
//!    `(time, sequence)` order, together with the follow-ups it schedules
//!    inside the window (at equal time after the popped ones, among
//!    themselves in scheduling order: `order`). A node touches only its own
//!    runtime, slot and energy pool; frames it reads are read-only; what it
//!    sends and what it schedules at or after the window's end is buffered.
//! 3. The **merge**, on one thread in node-id order (`window`): the frames
//!    delivered in the window are released; every frame sent is put on the
//!    air — nodes in id order, each node's frames in send order — so each
//!    receiver's loss and jitter streams are drawn in that order and the
//!    Deliver events get their sequence numbers in it; then the buffered
//!    future events are pushed in the same order. Since `L ≥ 1` µs, no
//!    frame sent in a window arrives inside it (a `debug_assert!`).
//!
//! Consequences: deliveries to one receiver at the same microsecond come
//! in window order, then sender-id order; nothing depends on the number of threads, which
//! only decides how many node ranges ("parts") handle step 2 at once
//! ([`World::set_threads`]). A world whose nodes share state — an
//! `[adversary]` section (attackers read their neighbours and share a
//! cartel pool), `[faults]` (one fault state with its own random streams),
//! emulated nodes — runs step 2 as one part on the calling thread: the
//! same algorithm and bytes, one thread.
//!
//! With a `[faults]` section, a few marked "faults hook" calls hand control
//! to `crate::faults` (cuts and their end as global events, the reboot of a
//! node that lost its RAM before any of its events, the snapshot after each
//! row, partition drops when the merge schedules deliveries, corruption
//! when a copy is delivered, and each node's drifting clock for every `now`
//! and `poll_at`); its module docs give the ordering contract. Without the
//! section every hook is a no-op.
//!
//! ## Metrics
//!
//! A RoundEnd is scheduled by the previous one. At rounds that are
//! multiples of `run.heldout_every` the row also scores every honest node's
//! current weights on its held-out data (`metrics::heldout`; computed per
//! node on the world's threads, summed in node-id order: `scoring`). With
//! a `[consensus]` section the row's `drift` scores the same weights
//! against its truth vector (`crate::consensus`): since row `r` fires
//! before the node events of `r·P`, these are the models adopted at the
//! aggregation of the round whose boundary was `(r−1)·P` (the initial draw
//! in row 1).
//!
//! Node state lives in contiguous vectors indexed by node id; the event loop
//! allocates nothing per event at steady state (window and part buffers
//! are reused). The data ([`RunData`]) is read-only and may be shared with
//! other worlds of the same scenario and seed (the baselines).

mod data;
mod order;
mod part;
mod scoring;
mod window;

pub use data::RunData;
pub use window::WindowStats;

use std::fmt;
use std::sync::Arc;

use node_core::regime::Regime;
use node_core::runtime::{NodeId, RejectReason, Runtime};

use crate::adversary::detection::Detection;
use crate::consensus;
use crate::energy::EnergyPools;
use crate::engine::{EngineError, EventQueue};
use crate::faults::{FaultEvent, Faults};
use crate::fixed;
use crate::inflight::{FrameRef, InFlight};
use crate::metrics::heldout::HeldOutProbe;
use crate::metrics::{self, ErrorAccumulator, RoundRow};
use crate::radio::Radio;
use crate::scenario::Scenario;
use part::{ChunkOut, Hooks, Part, Shared};

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

/// What happens to one node.
#[derive(Clone, Copy, Debug)]
enum Input {
    Sample,
    Wake,
    Deliver(FrameRef),
    Resume,
}

/// A node event: handled in a window, in parallel with other nodes'.
#[derive(Clone, Copy, Debug)]
struct NodeEvent {
    node: NodeId,
    input: Input,
}

/// A global event: handled alone, between windows.
#[derive(Clone, Copy, Debug)]
enum GlobalEvent {
    RoundEnd(u32),
    Fault(FaultEvent),
}

/// Parts per thread in a parallel world: more parts than threads lets
/// rayon balance a window whose events crowd into a few id ranges (a
/// regional storm). Outputs do not depend on it.
const PARTS_PER_THREAD: usize = 4;

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
    /// Node events, `(time, sequence)` order.
    queue: EventQueue<NodeEvent>,
    /// Round ends and `[faults]` events (they fire before the node events
    /// of their instant).
    globals: EventQueue<GlobalEvent>,
    radio: Radio,
    energy: EnergyPools,
    data: Arc<RunData>,
    probe: HeldOutProbe,
    inflight: InFlight,
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
    max_events: u64,
    mtu_bytes: usize,
    /// The radio's minimum latency (lookahead), µs.
    lookahead_us: u64,
    /// One output buffer per part (one part: the node phase runs on the
    /// calling thread with the faults hooks).
    outs: Vec<ChunkOut>,
    pool: Option<rayon::ThreadPool>,
    threads_requested: usize,
    /// Why this world runs its node phase on one thread, if it must.
    serial: Option<&'static str>,
    stats: WindowStats,
    /// Per node, its held-out score of the round (parallel scoring).
    scores: Vec<crate::metrics::heldout::Score>,
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
        let mtu_bytes = scenario.radio.mtu_bytes as usize;
        let mut world = World {
            nodes,
            slots: vec![slot; n as usize],
            queue: EventQueue::new(run.max_events),
            globals: EventQueue::new(u64::MAX),
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
            max_events: run.max_events,
            mtu_bytes,
            lookahead_us: lookahead_us(scenario),
            outs: vec![ChunkOut::new(mtu_bytes)],
            pool: None,
            threads_requested: 1,
            serial: serial_reason(scenario),
            stats: WindowStats::default(),
            scores: Vec::new(),
        };
        world.schedule_start();
        Ok(world)
    }

    fn schedule_start(&mut self) {
        self.queue.reserve(self.nodes.len() * 2 + 1);
        self.globals
            .push(self.round_period_us, GlobalEvent::RoundEnd(1));
        for node in 0..self.nodes.len() as NodeId {
            let input = Input::Sample;
            self.queue.push(0, NodeEvent { node, input });
        }
        let globals = &mut self.globals;
        self.faults
            .schedule(self.end_us, |at, e| globals.push(at, GlobalEvent::Fault(e)));
    }

    /// Runs the node phase of every window on `threads` threads (a rayon
    /// pool of its own; 0 and 1 mean the calling thread). Outputs are the
    /// same bytes for every count. A world whose scenario has an
    /// `[adversary]` or `[faults]` section or emulated nodes runs on one
    /// thread whatever is asked ([`World::serial_reason`]); the threads
    /// used are returned.
    pub fn set_threads(&mut self, threads: usize) -> Result<usize, WorldError> {
        self.threads_requested = threads.max(1);
        self.configure_parts()
    }

    /// Why this world runs on one thread whatever `set_threads` asks, if
    /// it does.
    pub fn serial_reason(&self) -> Option<&'static str> {
        self.serial
    }

    /// The counters of the windows handled so far.
    pub fn window_stats(&self) -> WindowStats {
        self.stats
    }

    fn configure_parts(&mut self) -> Result<usize, WorldError> {
        let threads = if self.serial.is_some() {
            1
        } else {
            self.threads_requested
        };
        self.pool = if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("raas-world-{i}"))
                .build()
                .map_err(|e| WorldError::Build(format!("cannot start {threads} threads: {e}")))?;
            Some(pool)
        } else {
            None
        };
        let parts = if threads > 1 {
            threads * PARTS_PER_THREAD
        } else {
            1
        };
        self.outs = (0..parts).map(|_| ChunkOut::new(self.mtu_bytes)).collect();
        Ok(threads)
    }

    /// Marks the attackers of `detection` not honest (they leave every
    /// honest metric) and measures their detection in every row from now
    /// on (`crate::adversary::detection`). Call it before [`World::run`].
    pub fn set_adversary(&mut self, detection: Detection) {
        for (id, slot) in (0..).zip(self.slots.iter_mut()) {
            slot.honest = detection.is_honest(id);
        }
        self.adversary = Some(detection);
        // Attackers read their neighbours and share a cartel pool.
        self.serial.get_or_insert("[adversary]");
        self.pool = None;
        self.outs.truncate(1);
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

    /// The metrics rows recorded so far.
    pub fn rows(&self) -> &[RoundRow] {
        &self.rows
    }
}

impl<R: Runtime + Send> World<R> {
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
        let mut reported = self.queue.dispatched() / PROGRESS_EVENTS;
        // Bounded: every pass handles at least one event, and the queue
        // stops at the event budget.
        loop {
            let next_global = self.globals.next_time_us();
            match (next_global, self.queue.next_time_us()) {
                (None, None) => break,
                (Some(g), n) if n.is_none_or(|n| g <= n) => {
                    let (now_us, event) = self.pop_global(g)?;
                    match event {
                        GlobalEvent::Fault(f) => self.on_fault(f, now_us, rebuild)?,
                        GlobalEvent::RoundEnd(round) => {
                            self.on_round_end(round, now_us);
                            round_done = round;
                            progress(&self.progress(round, now_us));
                            if round == self.rounds {
                                break;
                            }
                        }
                    }
                }
                (_, Some(n)) => self.run_window(n, next_global, rebuild)?,
                (Some(_), None) => unreachable!("handled by the first arm"),
            }
            let mark = self.queue.dispatched() / PROGRESS_EVENTS;
            if mark > reported {
                reported = mark;
                progress(&self.progress(round_done, self.queue.now_us()));
            }
        }
        Ok(())
    }

    /// Pops the global event at `at_us`, counting it in the event budget.
    fn pop_global(&mut self, at_us: u64) -> Result<(u64, GlobalEvent), WorldError> {
        let popped = self.globals.pop().map_err(WorldError::Engine)?;
        let (now_us, event) = popped.expect("a global event is pending");
        debug_assert_eq!(now_us, at_us);
        self.queue
            .note_dispatched(1, now_us)
            .map_err(WorldError::Engine)?;
        Ok((now_us, event))
    }

    fn progress(&self, round: u32, now_us: u64) -> Progress {
        Progress {
            round,
            rounds: self.rounds,
            now_us,
            events: self.queue.dispatched(),
            end_us: self.end_us,
        }
    }

    fn on_round_end(&mut self, round: u32, now_us: u64) {
        if round < self.rounds {
            let next = GlobalEvent::RoundEnd(round + 1);
            self.globals.push(now_us + self.round_period_us, next);
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
        let data = Arc::clone(&self.data);
        let heldout = data.heldout().filter(|_| scored);
        self.probe.clear();
        let parallel = heldout.is_some_and(|h| self.score_heldout(&data, h));
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
                let rmse = if parallel {
                    self.probe.add_score(self.scores[id as usize])
                } else {
                    self.probe.add(h, &self.data.dataset, id, runtime.weights())
                };
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
}

fn build_radio(scenario: &Scenario, seed: u64) -> Result<Radio, WorldError> {
    Radio::new(&scenario.radio, scenario.nodes, seed).map_err(|e| WorldError::Build(e.to_string()))
}

/// The radio's minimum latency: a frame sent at `t` is delivered at `t +
/// airtime + latency_base + jitter ≥ t + airtime(0 B) + latency_base`
/// (`airtime(0 B)` is the per-frame overhead's airtime: a runtime may send
/// an empty payload). This is the windows' lookahead.
fn lookahead_us(scenario: &Scenario) -> u64 {
    let radio = &scenario.radio;
    radio.airtime_us(0).saturating_add(radio.latency_base_us)
}

/// Why a world of `scenario` must run its node phase on one thread: a
/// node's handling touches state shared with other nodes.
fn serial_reason(scenario: &Scenario) -> Option<&'static str> {
    if scenario.adversary.is_some() {
        // Attackers read their neighbours' models and share a cartel pool.
        Some("[adversary]")
    } else if scenario.faults.is_some() {
        // One Faults state: corruption draws, outage records.
        Some("[faults]")
    } else if !scenario.run.emulated_nodes.is_empty() {
        // Nodes in QEMU processes driven over pipes.
        Some("[run] emulated_nodes")
    } else {
        None
    }
}

/// The `[faults]` hooks that need the world (see `crate::faults`).
impl<R: Runtime + Send> World<R> {
    /// A scheduled cut or the end of one. The node's reboot comes first,
    /// as before any of its events.
    fn on_fault(
        &mut self,
        event: FaultEvent,
        now_us: u64,
        rebuild: &mut Rebuild<'_, R>,
    ) -> Result<(), WorldError> {
        self.with_whole_part(now_us, rebuild, |part, sh| {
            part.reboot_if_due(sh, event.node(), now_us)?;
            if let FaultEvent::Up(node) = event
                && part.power_check(sh, node, now_us)
            {
                part.rearm(sh, node, now_us);
            }
            Ok(())
        })?;
        if let FaultEvent::Cut { node, schedule } = event {
            let until = self.faults.cut(node, schedule, now_us);
            self.slots[node as usize].on = false;
            if until < self.end_us {
                let up = GlobalEvent::Fault(FaultEvent::Up(node));
                self.globals.push(until, up);
            }
        }
        Ok(())
    }

    /// Runs `f` on one part holding every node, outside any window (all it
    /// schedules is pushed to the queue), then adds its counters.
    fn with_whole_part(
        &mut self,
        now_us: u64,
        rebuild: &mut Rebuild<'_, R>,
        f: impl FnOnce(&mut Part<'_, '_, '_, R>, &Shared<'_>) -> Result<(), WorldError>,
    ) -> Result<(), WorldError> {
        self.outs[0].reset();
        self.on_whole_part(now_us, 0, rebuild, f)?;
        let out = &self.outs[0];
        debug_assert!(out.frames.is_empty() && out.order.is_empty());
        for &(at_us, event) in &out.futures {
            self.queue.push(at_us, event);
        }
        self.energy.add_totals(&out.energy);
        Ok(())
    }

    /// Runs `f` on one part holding every node, with the `[faults]` hooks
    /// and the node factory lent (a world of one part), for a window ending
    /// at `window_end_us` with `local_events_max` follow-ups allowed.
    fn on_whole_part<T>(
        &mut self,
        window_end_us: u64,
        local_events_max: u64,
        rebuild: &mut Rebuild<'_, R>,
        f: impl FnOnce(&mut Part<'_, '_, '_, R>, &Shared<'_>) -> T,
    ) -> T {
        let (params, pools) = self.energy.split_mut();
        let sh = Shared {
            data: &self.data,
            inflight: &self.inflight,
            params,
            learns: self.truth.is_none(),
            sample_period_us: self.sample_period_us,
            end_us: self.end_us,
            window_end_us,
            local_events_max,
            max_events: self.max_events,
        };
        let mut hooks = Hooks {
            faults: &mut self.faults,
            rebuild,
            topology: self.radio.topology(),
            seed: self.seed,
            swarm_size: self.nodes.len() as u32,
        };
        let mut part = Part {
            first: 0,
            nodes: &mut self.nodes,
            slots: &mut self.slots,
            pools,
            out: &mut self.outs[0],
            hooks: Some(&mut hooks),
        };
        f(&mut part, &sh)
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
