//! The host event loop: drives `node_core::node::Node` through the sans-IO
//! `Runtime` contract (node-core/src/runtime.rs) with the board's clock,
//! sensor, radio, store and sleep.
//!
//! ## One pass of the loop, in order
//!
//! 1. `now` from [`Clock::now`] (never decreases).
//! 2. **Frames**: up to `rx_burst_max` queued ESP-NOW packets, each passed
//!    to `handle_frame(now, bytes)`. A packet heard at a phase that shows a
//!    peer's round boundary leads this board's first moves the clock
//!    forward ([`Clock::align_forward`]) before the node sees it.
//! 3. **Sample**: when `next_sample_at` is due, one temperature sample to
//!    `handle_sample(now, x)`; the next is due one `sample_period` later
//!    (missed periods are skipped, not replayed).
//! 4. **Wake**: when `poll_at() <= now`, `handle_wake(now)`.
//! 5. After *every* `handle_*` call, `poll_transmit(now, buf)` with a
//!    250-byte buffer is drained until `None` (bounded by
//!    `MAX_FRAGMENTS + 1` calls) and each fragment is broadcast.
//! 6. **Report** on a new round or regime; **save** a snapshot every
//!    `save_every_rounds` rounds.
//! 7. **Wait** until `min(poll_at, next_sample_at)`: inside a listening
//!    window (around each round boundary, and for the first
//!    `boot_listen_rounds` rounds) the core stays awake polling the radio;
//!    outside it the chip light-sleeps until the deadline or the next
//!    window, whichever is first.
//!
//! Battery: the board is USB-powered and has no fuel gauge, so the host
//! reports a full battery once at boot (`handle_energy(now, 1)`).
//!
//! Memory: `Node::new` allocates its tables once; after that the loop
//! allocates nothing of its own (fixed 250-byte tx/rx buffers; the
//! snapshot buffer is allocated once here). esp-radio boxes each received
//! packet until it is copied (see `radio`).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use esp_println::println;
use node_core::node::{ConfigError, Node, NodeConfig};
use node_core::q;
use node_core::regime::Regime;
use node_core::runtime::{RejectReason, Runtime};
use node_core::time::{Duration, Instant};
use node_core::wire::MAX_FRAGMENTS;

use crate::clock::Clock;
use crate::radio::{MTU, Radio};
use crate::sensor::Sensor;
use crate::sleep::Sleeper;
use crate::store::Store;

/// The run seed every board shares; node-core keys its random streams by
/// (seed, node id, purpose), so boards differ by id only.
pub const RUN_SEED: u64 = 0x5241_4153_4553_5033; // "RAASESP3"

/// Host settings (node-core's own settings are `node`).
#[derive(Clone, Debug)]
pub struct Config {
    /// The node's configuration; `id` is replaced by one derived from the
    /// board's factory MAC address. Default: node-core's defaults (10 s
    /// rounds, 500 ms collection window) for a swarm of 8.
    pub node: NodeConfig,
    /// Time between temperature samples. Default 1 s.
    pub sample_period: Duration,
    /// Listening starts this long before each round boundary (to hear peers
    /// that lead slightly and align to them). Default 500 ms.
    pub listen_before: Duration,
    /// Listening ends this long after the node's collection window closes.
    /// Default 100 ms.
    pub listen_after: Duration,
    /// Rounds listened through without sleeping after boot, so a newcomer
    /// hears the swarm whatever its phase and adopts it. Default 2.
    pub boot_listen_rounds: u32,
    /// Phases this close to a boundary count as aligned. Default 50 ms.
    pub align_tolerance: Duration,
    /// A snapshot is saved every this many rounds (flash wear: two sectors
    /// of 10^5 erase cycles last ~3.8 years at one save per 10 min).
    /// Default 60 (10 min at 10 s rounds).
    pub save_every_rounds: u32,
    /// Packets handed to the node per loop pass, at most. Default 32.
    pub rx_burst_max: u32,
    /// Busy-wait step while listening (µs). Default 1000.
    pub listen_poll_us: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            node: NodeConfig {
                seed: RUN_SEED,
                swarm_size: 8,
                ..NodeConfig::default()
            },
            sample_period: Duration::from_secs(1),
            listen_before: Duration::from_millis(500),
            listen_after: Duration::from_millis(100),
            boot_listen_rounds: 2,
            align_tolerance: Duration::from_millis(50),
            save_every_rounds: 60,
            rx_burst_max: 32,
            listen_poll_us: 1_000,
        }
    }
}

/// Why the host could not start.
#[derive(Debug)]
pub enum Error {
    /// node-core refused the configuration.
    Node(ConfigError),
    /// `sample_period` is zero.
    SamplePeriodZero,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Node(e) => write!(f, "node configuration: {e}"),
            Error::SamplePeriodZero => f.write_str("sample period must be > 0"),
        }
    }
}

/// Frame counters the host keeps (the radio keeps its own).
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    /// Fragments the node produced and the radio accepted.
    frames_tx: u32,
    /// Packets handed to the node.
    frames_rx: u32,
    /// Of those, rejected, by node-core's four groups.
    rejected: [u32; 4],
    /// Clock alignments to a peer's phase.
    alignments: u32,
}

/// The board's node host.
pub struct Host<'d> {
    node: Node,
    config: Config,
    clock: Clock,
    sensor: Sensor<'d>,
    radio: Radio<'d>,
    store: Store<'d>,
    sleeper: Sleeper<'d>,
    next_sample_at: Instant,
    boot_listen_until: Instant,
    tx: [u8; MTU],
    rx: [u8; MTU],
    snapshot: Vec<u8>,
    counters: Counters,
    reported_round: u32,
    reported_regime: Regime,
    saved_round: u32,
}

impl<'d> Host<'d> {
    /// Builds the node (id from the factory MAC), restores its snapshot if
    /// the store holds one, and reports a full battery.
    pub fn new(
        mut config: Config,
        sensor: Sensor<'d>,
        radio: Radio<'d>,
        store: Store<'d>,
        sleeper: Sleeper<'d>,
    ) -> Result<Host<'d>, Error> {
        if config.sample_period == Duration::ZERO {
            return Err(Error::SamplePeriodZero);
        }
        config.node.id = node_id_from_mac();
        let heap_before = esp_alloc::HEAP.used();
        let node = Node::new(config.node.clone()).map_err(Error::Node)?;
        let heap_node = esp_alloc::HEAP.used().saturating_sub(heap_before);
        let snapshot_len = Node::snapshot_len_max(&config.node);
        let boot_listen =
            config.node.round_period.as_micros() * u64::from(config.boot_listen_rounds);
        let mut host = Host {
            node,
            clock: Clock::new(),
            sensor,
            radio,
            store,
            sleeper,
            next_sample_at: Instant::ZERO,
            boot_listen_until: Instant::from_micros(boot_listen),
            tx: [0; MTU],
            rx: [0; MTU],
            snapshot: vec![0; snapshot_len],
            counters: Counters::default(),
            reported_round: 0,
            reported_regime: Regime::Calm,
            saved_round: 0,
            config,
        };
        println!(
            "raas: node id {:#010x}, {} B heap for the node, {} B heap used in total",
            host.config.node.id,
            heap_node,
            esp_alloc::HEAP.used()
        );
        match host.store.status() {
            Ok(()) => println!(
                "raas: state store: 2 x {} B flash sectors, {} B per snapshot, node needs <= {} B",
                crate::store::SLOT_LEN,
                host.store.capacity(),
                snapshot_len
            ),
            Err(e) => println!("raas: state store disabled: {e}"),
        }
        host.restore();
        let now = host.clock.now();
        host.node.handle_energy(now, q::ONE);
        host.drain(now);
        Ok(host)
    }

    /// Runs the loop forever (see the module docs for one pass).
    pub fn run(&mut self) -> ! {
        loop {
            let now = self.clock.now();
            self.receive(now);
            let now = self.clock.now();
            if now >= self.next_sample_at {
                let sample = self.sensor.sample();
                self.node.handle_sample(now, sample);
                self.drain(now);
                self.next_sample_at = self
                    .next_sample_at
                    .next_boundary_after(now, self.config.sample_period);
            }
            if self.node.poll_at().is_some_and(|at| at <= now) {
                self.node.handle_wake(now);
                self.drain(now);
            }
            self.report(now);
            self.save();
            self.wait();
        }
    }

    /// Hands up to `rx_burst_max` queued packets to the node.
    fn receive(&mut self, mut now: Instant) {
        for _ in 0..self.config.rx_burst_max {
            let Some(len) = self.radio.receive(&mut self.rx) else {
                return;
            };
            if len == 0 {
                continue;
            }
            let node_config = self.node.config();
            let newcomer = now < self.boot_listen_until;
            if let Some(shift) = self.clock.align_forward(
                now,
                node_config.round_period,
                node_config.round_offset,
                self.config.align_tolerance,
                newcomer,
            ) {
                self.counters.alignments += 1;
                println!(
                    "raas: aligned to a peer's round phase: +{} ms (total {} ms)",
                    shift.as_micros() / 1_000,
                    self.clock.shift_us() / 1_000
                );
                now = self.clock.now();
            }
            self.counters.frames_rx += 1;
            if let Err(e) = self.node.handle_frame(now, &self.rx[..len]) {
                self.counters.rejected[e.reason().index()] += 1;
            }
            self.drain(now);
        }
    }

    /// Drains `poll_transmit` and broadcasts each fragment. Bounded: a
    /// frame is at most `MAX_FRAGMENTS` fragments, plus the final `None`.
    fn drain(&mut self, now: Instant) {
        for _ in 0..=MAX_FRAGMENTS {
            let Some(transmit) = self.node.poll_transmit(now, &mut self.tx) else {
                return;
            };
            match self.radio.broadcast(&self.tx[..transmit.len]) {
                Ok(()) => self.counters.frames_tx += 1,
                Err(e) => println!("raas: broadcast failed: {e}"),
            }
        }
        println!("raas: more than {MAX_FRAGMENTS} fragments queued; the rest waits a pass");
    }

    /// Logs a line per completed round and per regime change.
    fn report(&mut self, now: Instant) {
        let t = self.node.telemetry();
        if t.regime != self.reported_regime {
            println!(
                "raas: t={} ms regime {:?} -> {:?} (entropy {})",
                now.as_micros() / 1_000,
                self.reported_regime,
                t.regime,
                t.entropy
            );
            self.reported_regime = t.regime;
        }
        if t.rounds == self.reported_round {
            return;
        }
        self.reported_round = t.rounds;
        let c = self.node.counters();
        let radio = self.radio.counters();
        let sleep = self.sleeper.counters();
        println!(
            "raas: t={} ms round {} {:?} samples {} err {} | tx {} rx {} rejected \
             {}/{}/{}/{} | bcast {} silent {} accepted {} | send_failed {} | sleeps {} \
             slept {} ms | aligned {}",
            now.as_micros() / 1_000,
            t.rounds,
            t.regime,
            t.samples,
            t.last_error,
            self.counters.frames_tx,
            self.counters.frames_rx,
            self.counters.rejected[RejectReason::Malformed.index()],
            self.counters.rejected[RejectReason::MissingBase.index()],
            self.counters.rejected[RejectReason::UnknownSender.index()],
            self.counters.rejected[RejectReason::Banned.index()],
            c.broadcasts,
            c.silent_rounds,
            c.updates_accepted,
            radio.send_failed,
            sleep.sleeps,
            sleep.slept_us / 1_000,
            self.counters.alignments,
        );
    }

    /// Every `save_every_rounds` rounds, between rounds (after the
    /// aggregation wake: `round_in_progress()` is false, so no inbox is
    /// lost), snapshot the node into the store.
    fn save(&mut self) {
        let round = self.node.telemetry().rounds;
        let every = self.config.save_every_rounds.max(1);
        if round == self.saved_round
            || !round.is_multiple_of(every)
            || self.node.round_in_progress()
        {
            return;
        }
        self.saved_round = round;
        let result = match self.node.snapshot(&mut self.snapshot) {
            Ok(len) => self.store.save(&self.snapshot[..len]).map(|()| len),
            Err(e) => {
                println!("raas: round {round}: snapshot failed: {e}");
                return;
            }
        };
        match result {
            Ok(len) => println!("raas: round {round}: saved a {len}-byte snapshot"),
            Err(e) => println!("raas: round {round}: snapshot not saved: {e}"),
        }
    }

    /// Restores the newest snapshot at boot, if the store has one, and
    /// moves its round clock onto this boot's clock (which restarted at 0).
    fn restore(&mut self) {
        let loaded = match self.store.load(&mut self.snapshot) {
            Ok(Some(loaded)) => loaded,
            Ok(None) => {
                println!("raas: no snapshot stored; starting fresh");
                return;
            }
            Err(e) => {
                println!("raas: no snapshot loaded ({e}); starting fresh");
                return;
            }
        };
        // `restore` leaves the node unchanged when it refuses the bytes.
        match self.node.restore(&self.snapshot[..loaded.len]) {
            Ok(()) => {
                let now = self.clock.now();
                self.node.realign_clock(now);
                println!(
                    "raas: restored snapshot #{} ({} bytes, slot {})",
                    loaded.sequence, loaded.len, loaded.slot
                );
            }
            Err(e) => println!("raas: snapshot refused ({e}); starting fresh"),
        }
    }

    /// Waits until the next deadline: awake and polling the radio inside a
    /// listening window, in light sleep outside it.
    fn wait(&mut self) {
        let now = self.clock.now();
        let mut deadline = self.next_sample_at;
        if let Some(at) = self.node.poll_at() {
            deadline = deadline.min(at);
        }
        if deadline <= now {
            return;
        }
        match self.next_listen(now) {
            None => {
                esp_hal::delay::Delay::new().delay_micros(self.config.listen_poll_us);
            }
            Some(listen_at) => {
                let wake_at = deadline.min(listen_at);
                self.sleeper.sleep_until(self.clock.to_hardware(wake_at));
            }
        }
    }

    /// `None` while inside a listening window, else when the next starts:
    /// `[boundary − listen_before, boundary + collect_window + listen_after]`
    /// around every round boundary, and all of the boot-listen period.
    fn next_listen(&self, now: Instant) -> Option<Instant> {
        if now < self.boot_listen_until {
            return None;
        }
        let c = self.node.config();
        let period_us = c.round_period.as_micros();
        let offset_us = c.round_offset.as_micros();
        let before_us = self.config.listen_before.as_micros();
        let after_us = c.collect_window.as_micros() + self.config.listen_after.as_micros();
        let now_us = now.as_micros();
        // Phase of `now` after the latest boundary (before the first: period − distance).
        let phase_us = (now_us + period_us - offset_us % period_us) % period_us;
        if phase_us <= after_us || phase_us + before_us >= period_us {
            return None;
        }
        Some(Instant::from_micros(
            now_us + (period_us - phase_us - before_us),
        ))
    }
}

/// A node id from the low four bytes of the factory MAC address: unique per
/// board and stable across reboots and reflashes.
fn node_id_from_mac() -> u32 {
    let mac = esp_hal::efuse::base_mac_address();
    let b = mac.as_bytes();
    u32::from_be_bytes([b[2], b[3], b[4], b[5]])
}
