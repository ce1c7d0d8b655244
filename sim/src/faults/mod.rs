//! Faults that stack in one scenario (`[faults]`), deterministic from the
//! seed: power loss with RAM loss at any instant (including in the middle
//! of a snapshot write), crashes and restarts, radio partitions and their
//! heal, bit flips in delivered frames, and per-node clock drift.
//!
//! The world owns one [`Faults`] and calls it at a few fixed points
//! (`crate::world` marks each call "faults hook"); without a `[faults]`
//! section every hook is a no-op, draws nothing and schedules nothing, so
//! a run is bit-identical to one without this module.
//!
//! ## Ordering contract
//!
//! * Scheduled cuts (`[[faults.brownout]]`, `[[faults.crash]]`) are queued
//!   as global events when the world is built, after the first round end,
//!   in (entry, node, cut) order; the end of each outage is queued by its
//!   cut. Global events fire before the node events of their instant
//!   (`crate::world`, "Ordering contract: windows"), and a world with
//!   `[faults]` handles its node events on one thread.
//! * At a round end `r` with `r % snapshot_every_rounds == 0` the host
//!   snapshots every running node, in node-id order, after the row is
//!   recorded; each write lasts `snapshot_write_ms`.
//! * Before any event of a node is handled, a node whose RAM was lost and
//!   which has power and is not down is rebuilt from its configuration
//!   (the world's node factory) and restored from its store.
//! * Random draws come from the node's `Faults` ChaCha stream
//!   `(seed, node, Faults)`, one ChaCha stream id per use: 0 cut jitter
//!   (word `2·(entry·2³² + cut)`), 1 drift, 2 the byte a cut tears a write
//!   at (word `2·k` for the node's `k`-th torn write), 3 corruption (one
//!   draw per delivered copy, then the bit positions of a corrupted one).
//!   No draw depends on another node or on the order of other events.
//!
//! The model, its simplifications and the metrics are in `docs/faults.md`.

pub mod clock;
pub mod config;
pub mod report;
pub mod store;

use node_core::rng::{Purpose, below, chance, stream};
use node_core::runtime::{NodeId, Runtime, RxError};
use node_core::time::Instant;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;

use clock::Clock;
pub use config::FaultsConfig;
use config::{Persistence, RamOnPowerLoss};
use report::{Boot, FaultCounts, FaultsReport, OutageKind, OutageRecord, RecoverySummary};
use store::{CutOutcome, FlashStore, SNAPSHOT_MAX_BYTES};

/// Most rows kept in `faults.csv`; later outages are only counted.
pub const RECORDS_MAX: usize = 1_000_000;

/// Initial size of the snapshot buffer; grown once if a runtime asks.
const SNAPSHOT_BUF_BYTES: usize = 4096;

const JITTER_STREAM: u64 = 0;
const DRIFT_STREAM: u64 = 1;
const TEAR_STREAM: u64 = 2;
const CORRUPT_STREAM: u64 = 3;

const NO_RECORD: u32 = u32::MAX;

/// A fault event the world queues and hands back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultEvent {
    /// Scheduled cut of `node` by entry `schedule` (brownouts first, then
    /// crashes, in file order).
    Cut {
        /// The node.
        node: NodeId,
        /// Index into brownouts ++ crashes.
        schedule: u16,
    },
    /// A scheduled outage of `node` may be over.
    Up(NodeId),
}

impl FaultEvent {
    /// The node the event is about.
    pub fn node(self) -> NodeId {
        match self {
            FaultEvent::Cut { node, .. } | FaultEvent::Up(node) => node,
        }
    }
}

/// Per-node fault state (a few words).
#[derive(Clone, Copy, Debug)]
struct NodeState {
    down_until_us: u64,
    /// Powered and running (not lost RAM, not down).
    alive: bool,
    needs_reboot: bool,
    torn_pending: bool,
    tears: u32,
    open: u32,
    last_rmse: f64,
    last_round: u32,
    clock: Clock,
}

struct Partition {
    start_us: u64,
    heal_us: u64,
    /// Group of each node (nodes in no range: `groups.len()`).
    group: Vec<u16>,
}

/// The faults of one run.
pub struct Faults {
    config: Option<FaultsConfig>,
    seed: u64,
    round_period_us: u64,
    write_us: u64,
    nodes: Vec<NodeState>,
    stores: Vec<FlashStore>,
    partitions: Vec<Partition>,
    corrupt_threshold: u64,
    corrupt_rng: Vec<ChaCha8Rng>,
    corrupt_buf: Vec<u8>,
    snapshot_buf: Vec<u8>,
    load_buf: Vec<u8>,
    records: Vec<OutageRecord>,
    counts: FaultCounts,
}

impl Faults {
    /// The faults of `config` (none when `None`) for `nodes` nodes.
    pub fn new(
        config: Option<&FaultsConfig>,
        nodes: u32,
        seed: u64,
        round_period_us: u64,
    ) -> Faults {
        let n = nodes as usize;
        let drift = config.and_then(|c| c.drift.as_ref());
        let state = |id: u32| NodeState {
            down_until_us: 0,
            alive: true,
            needs_reboot: false,
            torn_pending: false,
            tears: 0,
            open: NO_RECORD,
            last_rmse: f64::NAN,
            last_round: 0,
            clock: drift.map_or(Clock::default(), |d| {
                Clock::new(draw_ppm(seed, id, d.ppm_max))
            }),
        };
        let mut faults = Faults {
            config: config.cloned(),
            seed,
            round_period_us,
            write_us: config.map_or(0, |c| c.snapshot_write_ms * 1000),
            nodes: if config.is_some() {
                (0..nodes).map(state).collect()
            } else {
                Vec::new()
            },
            stores: Vec::new(),
            partitions: Vec::new(),
            corrupt_threshold: 0,
            corrupt_rng: Vec::new(),
            corrupt_buf: Vec::new(),
            snapshot_buf: Vec::new(),
            load_buf: Vec::new(),
            records: Vec::new(),
            counts: FaultCounts::default(),
        };
        let Some(c) = config else {
            return faults;
        };
        if c.persistence == Persistence::Flash {
            faults.stores = (0..n).map(|_| FlashStore::new()).collect();
            faults.snapshot_buf = vec![0; SNAPSHOT_BUF_BYTES];
        }
        faults.partitions = c
            .partition
            .iter()
            .map(|p| {
                let mut group = vec![p.groups.len() as u16; n];
                for (g, r) in p.groups.iter().enumerate() {
                    for id in r[0]..r[1].min(nodes) {
                        group[id as usize] = g as u16;
                    }
                }
                Partition {
                    start_us: u64::from(p.at_round) * round_period_us,
                    heal_us: u64::from(p.heal_round) * round_period_us,
                    group,
                }
            })
            .collect();
        if let Some(k) = &c.corruption {
            faults.corrupt_threshold = (k.probability * 4_294_967_296.0).round() as u64;
            faults.corrupt_rng = (0..nodes)
                .map(|id| {
                    let mut rng = stream(seed, id, Purpose::Faults);
                    rng.set_stream(CORRUPT_STREAM);
                    rng
                })
                .collect();
        }
        faults
    }

    /// Whether a `[faults]` section is in force.
    pub fn active(&self) -> bool {
        self.config.is_some()
    }

    /// Whether a node can ever need rebuilding (the world then needs a
    /// node factory).
    pub fn rebuilds(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| !c.crash.is_empty() || c.ram_on_power_loss == RamOnPowerLoss::Lost)
    }

    /// Calls `push(at_us, event)` for every scheduled cut before `end_us`
    /// (see the module's ordering contract).
    pub fn schedule(&self, end_us: u64, mut push: impl FnMut(u64, FaultEvent)) {
        let Some(c) = &self.config else { return };
        let n = self.nodes.len() as u32;
        for (s, o) in c.brownout.iter().chain(&c.crash).enumerate() {
            let all: Vec<u32>;
            let ids: &[u32] = match &o.nodes {
                Some(ids) => ids,
                None => {
                    all = (0..n).collect();
                    &all
                }
            };
            for &node in ids.iter().filter(|&&id| id < n) {
                let mut rng = stream(self.seed, node, Purpose::Faults);
                rng.set_stream(JITTER_STREAM);
                rng.set_word_pos(2 * ((s as u128) << 32));
                for i in 0..o.count {
                    let round = u64::from(o.at_round) + u64::from(i) * u64::from(o.every_rounds);
                    let jitter = u64::from(below(&mut rng, (o.jitter_ms * 1000) as u32 + 1));
                    let at = round * self.round_period_us + jitter;
                    if at < end_us {
                        push(
                            at,
                            FaultEvent::Cut {
                                node,
                                schedule: s as u16,
                            },
                        );
                    }
                }
            }
        }
    }

    /// The time node `node` reads at true time `now_us` (faults hook).
    pub fn local(&self, node: NodeId, now_us: u64) -> Instant {
        match self.nodes.get(node as usize) {
            Some(s) => Instant::from_micros(s.clock.local(now_us)),
            None => Instant::from_micros(now_us),
        }
    }

    /// The true instant node `node`'s clock reads `at` (faults hook).
    pub fn true_at(&self, node: NodeId, at: Instant) -> u64 {
        match self.nodes.get(node as usize) {
            Some(s) => s.clock.true_at(at.as_micros()),
            None => at.as_micros(),
        }
    }

    /// Whether `node` is not held down by a scheduled outage at `now_us`.
    pub fn up(&self, node: NodeId, now_us: u64) -> bool {
        self.nodes
            .get(node as usize)
            .is_none_or(|s| now_us >= s.down_until_us)
    }

    /// Whether `node` lost its RAM and may be rebooted at `now_us` (if it
    /// has power).
    pub fn reboot_due(&self, node: NodeId, now_us: u64) -> bool {
        self.nodes
            .get(node as usize)
            .is_some_and(|s| s.needs_reboot && now_us >= s.down_until_us)
    }

    /// `node` runs at `now_us` (it has power and is up; faults hook): a
    /// node that had paused with its RAM kept is counted as resumed.
    pub fn running(&mut self, node: NodeId, now_us: u64) {
        if let Some(s) = self.nodes.get_mut(node as usize)
            && !s.alive
            && !s.needs_reboot
        {
            s.alive = true;
            self.counts.resumed_with_ram += 1;
            let open = s.open;
            self.close_boot(open, Some(now_us), Boot::Resumed);
        }
    }

    /// `node`'s energy pool emptied (detected at `now_us`): the RAM is lost
    /// or kept by `ram_on_power_loss`.
    pub fn power_lost(&mut self, node: NodeId, now_us: u64) {
        let Some(c) = &self.config else { return };
        let lost = c.ram_on_power_loss == RamOnPowerLoss::Lost;
        if !self.nodes[node as usize].alive {
            return;
        }
        self.counts.outages_energy += 1;
        self.outage(node, now_us, OutageKind::Energy, lost);
    }

    /// A scheduled cut (faults hook): returns when the outage ends, for
    /// the world to queue [`FaultEvent::Up`].
    pub fn cut(&mut self, node: NodeId, schedule: u16, now_us: u64) -> u64 {
        let c = self.config.as_ref().expect("cuts exist only with [faults]");
        let brownouts = c.brownout.len();
        let s = usize::from(schedule);
        let (kind, o) = if s < brownouts {
            (OutageKind::Brownout, &c.brownout[s])
        } else {
            (OutageKind::Crash, &c.crash[s - brownouts])
        };
        let lost = kind == OutageKind::Crash || c.ram_on_power_loss == RamOnPowerLoss::Lost;
        let until = now_us + o.down_ms * 1000;
        let state = &mut self.nodes[node as usize];
        state.down_until_us = state.down_until_us.max(until);
        if state.alive {
            match kind {
                OutageKind::Crash => self.counts.outages_crash += 1,
                _ => self.counts.outages_brownout += 1,
            }
            self.outage(node, now_us, kind, lost);
        }
        until
    }

    fn outage(&mut self, node: NodeId, now_us: u64, kind: OutageKind, ram_lost: bool) {
        let i = node as usize;
        let mut torn = false;
        if ram_lost && let Some(store) = self.stores.get_mut(i) {
            let k = self.nodes[i].tears;
            let mut rng = stream(self.seed, node, Purpose::Faults);
            rng.set_stream(TEAR_STREAM);
            rng.set_word_pos(2 * u128::from(k));
            if let CutOutcome::Torn { .. } = store.power_cut(now_us, rng.next_u32()) {
                torn = true;
                self.nodes[i].tears += 1;
                self.nodes[i].torn_pending = true;
                self.counts.torn_writes += 1;
            }
        }
        let s = &mut self.nodes[i];
        s.alive = false;
        s.needs_reboot |= ram_lost;
        let (round_before, rmse_before) = if s.last_round > 0 {
            (Some(s.last_round), Some(s.last_rmse))
        } else {
            (None, None)
        };
        let record = OutageRecord {
            node,
            kind,
            cut_us: now_us,
            ram_lost,
            torn_write: torn,
            reboot_us: None,
            boot: None,
            round_before,
            rmse_before,
            round_after: None,
            rmse_after: None,
            rounds_to_recover: None,
        };
        s.open = if self.records.len() < RECORDS_MAX {
            self.records.push(record);
            (self.records.len() - 1) as u32
        } else {
            self.counts.outages_unrecorded += 1;
            NO_RECORD
        };
    }

    /// Rebuilds are due: restores `fresh` (just built from the node's
    /// configuration) from `node`'s store at `now_us` (faults hook).
    pub fn reboot<R: Runtime>(&mut self, node: NodeId, now_us: u64, fresh: &mut R) {
        let i = node as usize;
        let boot = match self.stores.get_mut(i) {
            None => Boot::FreshNoPersistence,
            Some(store) => match store.read(now_us, &mut self.load_buf) {
                None => Boot::FreshNoSnapshot,
                Some(len) => match fresh.restore(&self.load_buf[..len]) {
                    Ok(()) => Boot::Restored,
                    Err(_) => Boot::FreshRestoreFailed,
                },
            },
        };
        match boot {
            Boot::Restored => self.counts.restores_ok += 1,
            Boot::FreshNoSnapshot => self.counts.fresh_no_snapshot += 1,
            Boot::FreshRestoreFailed => self.counts.fresh_restore_failed += 1,
            Boot::FreshNoPersistence => self.counts.fresh_no_persistence += 1,
            Boot::Resumed => {}
        }
        if boot != Boot::Restored {
            self.counts.fresh_boots += 1;
        }
        let s = &mut self.nodes[i];
        if s.torn_pending && boot == Boot::Restored {
            self.counts.torn_writes_survived += 1;
        }
        s.torn_pending = false;
        s.needs_reboot = false;
        s.alive = true;
        let open = s.open;
        self.close_boot(open, Some(now_us), boot);
    }

    fn close_boot(&mut self, open: u32, at_us: Option<u64>, boot: Boot) {
        if let Some(r) = self.records.get_mut(open as usize)
            && r.boot.is_none()
        {
            r.boot = Some(boot);
            r.reboot_us = at_us;
        }
    }

    /// At the end of round `round` (`now_us`): snapshots `runtime` (node
    /// `node`, running) if the policy says so (faults hook).
    pub fn snapshot<R: Runtime>(&mut self, node: NodeId, round: u32, now_us: u64, runtime: &R) {
        let Some(c) = &self.config else { return };
        if !round.is_multiple_of(c.snapshot_every_rounds) {
            return;
        }
        let i = node as usize;
        if self.stores.is_empty() || !self.nodes[i].alive || now_us < self.nodes[i].down_until_us {
            return;
        }
        let mut result = runtime.snapshot(&mut self.snapshot_buf);
        if let Err(node_core::runtime::SnapshotError::BufferTooSmall { needed }) = result
            && needed <= SNAPSHOT_MAX_BYTES
        {
            self.snapshot_buf.resize(needed, 0);
            result = runtime.snapshot(&mut self.snapshot_buf);
        }
        match result {
            Ok(len) if len <= self.snapshot_buf.len() => {
                let bytes = &self.snapshot_buf[..len];
                match self.stores[i].begin_write(bytes, now_us, now_us + self.write_us) {
                    Ok(()) => self.counts.snapshots_started += 1,
                    Err(_) => self.counts.snapshots_failed += 1,
                }
            }
            _ => self.counts.snapshots_failed += 1,
        }
    }

    /// A held-out RMSE of `node` scored at round `round` ending `now_us`
    /// (faults hook): before/after figures of its outages.
    pub fn scored(&mut self, node: NodeId, round: u32, now_us: u64, rmse: f64) {
        let Some(c) = &self.config else { return };
        let tolerance = c.recover_tolerance;
        let s = &mut self.nodes[node as usize];
        let round_start_us = now_us.saturating_sub(self.round_period_us);
        if s.alive {
            s.last_rmse = rmse;
            s.last_round = round;
        }
        let Some(r) = self.records.get_mut(s.open as usize) else {
            return;
        };
        let back = r.reboot_us.is_some_and(|at| round_start_us >= at);
        if !back || !s.alive {
            return;
        }
        if r.rmse_after.is_none() {
            r.rmse_after = Some(rmse);
            r.round_after = Some(round);
        }
        let first = r.round_after.unwrap_or(round);
        match r.rmse_before {
            Some(before) if rmse <= before * (1.0 + tolerance) => {
                r.rounds_to_recover = Some(round - first + 1);
                s.open = NO_RECORD;
            }
            None => s.open = NO_RECORD,
            Some(_) => {}
        }
    }

    /// Whether a copy from `sender` to `receiver` sent at `now_us` is
    /// dropped by a partition (faults hook).
    pub fn partitioned(&mut self, now_us: u64, sender: NodeId, receiver: NodeId) -> bool {
        let mut cross = false;
        for p in &self.partitions {
            if p.group[sender as usize] != p.group[receiver as usize] {
                if (p.start_us..p.heal_us).contains(&now_us) {
                    self.counts.partition_dropped += 1;
                    return true;
                }
                cross = true;
            }
        }
        if cross {
            self.counts.partition_cross_group_sent += 1;
        }
        false
    }

    /// Whether the copy of `frame` delivered to `receiver` is corrupted;
    /// if so the corrupted bytes are in [`Faults::corrupted`] (faults
    /// hook).
    pub fn corrupt(&mut self, receiver: NodeId, frame: &[u8]) -> bool {
        let Some(rng) = self.corrupt_rng.get_mut(receiver as usize) else {
            return false;
        };
        if !chance(rng, self.corrupt_threshold) || frame.is_empty() {
            return false;
        }
        let bits = self
            .config
            .as_ref()
            .and_then(|c| c.corruption.as_ref())
            .map_or(1, |k| k.bits);
        self.corrupt_buf.clear();
        self.corrupt_buf.extend_from_slice(frame);
        let total = (frame.len() as u32).saturating_mul(8);
        let bits = bits.min(total);
        let mut flipped = 0;
        // Distinct positions: redraw a position already flipped (bounded).
        for _ in 0..bits * 8 {
            if flipped == bits {
                break;
            }
            let pos = below(rng, total) as usize;
            let (byte, mask) = (pos / 8, 1_u8 << (pos % 8));
            if (self.corrupt_buf[byte] ^ frame[byte]) & mask == 0 {
                self.corrupt_buf[byte] ^= mask;
                flipped += 1;
            }
        }
        self.counts.corrupted_frames += 1;
        true
    }

    /// The bytes of the last corrupted copy.
    pub fn corrupted(&self) -> &[u8] {
        &self.corrupt_buf
    }

    /// What the node made of a corrupted copy (faults hook).
    pub fn corrupted_result(&mut self, result: Result<(), RxError>) {
        match result {
            Ok(()) => self.counts.corrupted_accepted += 1,
            Err(RxError::BadChecksum) => self.counts.corrupted_rejected_checksum += 1,
            Err(_) => self.counts.corrupted_rejected_other += 1,
        }
    }

    /// One record per outage, in the order they happened.
    pub fn records(&self) -> &[OutageRecord] {
        &self.records
    }

    /// The counters so far.
    pub fn counts(&self) -> &FaultCounts {
        &self.counts
    }

    /// Each node's clock drift, ppm (empty without `[faults]`).
    pub fn drift_ppm(&self) -> Vec<i32> {
        self.nodes.iter().map(|s| s.clock.ppm()).collect()
    }

    /// `summary.json`'s `faults`, or `None` without a `[faults]` section.
    pub fn report(&self) -> Option<FaultsReport> {
        let c = self.config.as_ref()?;
        let drift = c.drift.as_ref().map(|_| {
            let ppm = self.drift_ppm();
            [
                ppm.iter().copied().min().unwrap_or(0),
                ppm.iter().copied().max().unwrap_or(0),
            ]
        });
        Some(FaultsReport {
            ram_on_power_loss: match c.ram_on_power_loss {
                RamOnPowerLoss::Lost => "lost",
                RamOnPowerLoss::Kept => "kept",
            },
            persistence: match c.persistence {
                Persistence::Flash => "flash",
                Persistence::None => "none",
            },
            counts: self.counts,
            recovery: RecoverySummary::of(&self.records),
            drift_ppm_range: drift,
        })
    }
}

/// Node `id`'s drift, uniform in `[-ppm_max, ppm_max]`.
fn draw_ppm(seed: u64, id: u32, ppm_max: u32) -> i32 {
    let mut rng = stream(seed, id, Purpose::Faults);
    rng.set_stream(DRIFT_STREAM);
    let span = 2 * ppm_max + 1;
    below(&mut rng, span) as i32 - ppm_max as i32
}
