//! `[faults]`: brownouts with RAM loss (including mid-write), crashes,
//! partitions, frame corruption and clock drift, deterministic from the
//! seed; and without the section nothing changes.

use std::path::Path;

use node_core::node::Node;
use node_core::q::Q;
use node_core::runtime::{
    Destination, FrameKind, Runtime, RxError, SnapshotError, Telemetry, Transmit,
};
use node_core::time::Instant;
use sim::faults::report::{Boot, OutageRecord};
use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;
use sim::world::{NodeInit, World};

fn parse(text: &str) -> Scenario {
    Scenario::parse(Path::new("faults.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `text` with `make` (also the rebuild factory).
fn run_world<R: Runtime + Send>(
    text: &str,
    make: impl Fn(&Scenario, &NodeInit) -> R,
) -> (Scenario, World<R>) {
    let scenario = parse(text);
    let mut world = World::new(&scenario, scenario.seed, |i| Ok(make(&scenario, i))).unwrap();
    world
        .run_with(&mut |_| {}, &mut |i| Ok(make(&scenario, i)))
        .unwrap_or_else(|e| panic!("{e}"));
    (scenario, world)
}

fn node(scenario: &Scenario, init: &NodeInit) -> Node {
    runner::node_core_runtime(scenario, init).unwrap()
}

const BROWNOUT_CYCLES: &str = r#"
name = "cycles"
seed = 3
nodes = 10
[run]
rounds = 100
[faults]
persistence = "PERSISTENCE"
snapshot_write_ms = 20
[[faults.brownout]]
at_round = 15
every_rounds = 10
count = 8
down_ms = 5000
jitter_ms = 3000
"#;

fn cycles(persistence: &str) -> Vec<OutageRecord> {
    let text = BROWNOUT_CYCLES.replace("PERSISTENCE", persistence);
    let (_, world) = run_world(&text, node);
    world.faults().records().to_vec()
}

/// Mean over the swarm, per cycle, of (before, after).
fn per_cycle(records: &[OutageRecord]) -> Vec<(f64, f64)> {
    (0..8)
        .map(|c| {
            let cycle: Vec<&OutageRecord> = records[c * 10..c * 10 + 10].iter().collect();
            let mean = |f: &dyn Fn(&OutageRecord) -> f64| {
                cycle.iter().map(|r| f(r)).sum::<f64>() / cycle.len() as f64
            };
            (
                mean(&|r| r.rmse_before.unwrap()),
                mean(&|r| r.rmse_after.unwrap()),
            )
        })
        .collect()
}

#[test]
fn eight_brownout_cycles_restore_to_about_the_error_before_and_none_cold_starts() {
    let flash = cycles("flash");
    let none = cycles("none");
    for records in [&flash, &none] {
        assert_eq!(records.len(), 80, "8 cycles × 10 nodes");
        assert!(records.iter().all(|r| r.ram_lost && r.rmse_after.is_some()));
    }
    assert!(flash.iter().all(|r| r.boot == Some(Boot::Restored)));
    assert!(
        none.iter()
            .all(|r| r.boot == Some(Boot::FreshNoPersistence))
    );
    eprintln!("cycle  flash before → after   none before → after");
    let (f, n) = (per_cycle(&flash), per_cycle(&none));
    for (c, ((fb, fa), (nb, na))) in f.iter().zip(&n).enumerate() {
        eprintln!("{c:>5}  {fb:.4} → {fa:.4}        {nb:.4} → {na:.4}");
        // Restored: within 50 % of the error before, every cycle.
        assert!(fa / fb < 1.5, "cycle {c}: restored {fa} vs before {fb}");
        // Cold start: at least twice the error before, every cycle.
        assert!(na / nb > 2.0, "cycle {c}: cold {na} vs before {nb}");
    }
}

/// Counts samples; its snapshot is that count (8 bytes), so a restore says
/// exactly which snapshot came back.
#[derive(Default)]
struct Counter {
    samples: u64,
    restored: Option<u64>,
    weights: [Q; 1],
}

impl Runtime for Counter {
    fn handle_sample(&mut self, _now: Instant, _sample: Q) {
        self.samples += 1;
    }
    fn handle_frame(&mut self, _now: Instant, _frame: &[u8]) -> Result<(), RxError> {
        Ok(())
    }
    fn handle_wake(&mut self, _now: Instant) {}
    fn handle_energy(&mut self, _now: Instant, _level: Q) {}
    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<Transmit> {
        None
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn telemetry(&self) -> Telemetry {
        Telemetry::default()
    }
    fn weights(&self) -> &[Q] {
        &self.weights
    }
    fn snapshot(&self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        buf[..8].copy_from_slice(&self.samples.to_le_bytes());
        Ok(8)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| SnapshotError::Invalid)?;
        self.samples = u64::from_le_bytes(bytes);
        self.restored = Some(self.samples);
        Ok(())
    }
}

fn counter_run(write_ms: u32, jitter_ms: u32) -> World<Counter> {
    let text = format!(
        "name = \"midwrite\"\nnodes = 20\n[run]\nrounds = 12\nheldout_samples = 0\n\
         [faults]\nsnapshot_write_ms = {write_ms}\n\
         [[faults.crash]]\nat_round = 10\ndown_ms = 1000\njitter_ms = {jitter_ms}\n"
    );
    run_world(&text, |_, _| Counter::default()).1
}

#[test]
fn a_cut_mid_write_recovers_the_previous_snapshot() {
    // Snapshots at every round end (10 samples a round); the round-10
    // write lasts 50 ms and every cut lands within its first 40 ms.
    let world = counter_run(50, 40);
    let counts = world.faults().counts();
    assert_eq!(counts.torn_writes, 20, "{counts:?}");
    assert_eq!(counts.torn_writes_survived, 20);
    assert_eq!(counts.restores_ok, 20);
    for n in world.nodes() {
        assert_eq!(n.restored, Some(90), "the round-9 snapshot");
    }
    let torn: Vec<bool> = world
        .faults()
        .records()
        .iter()
        .map(|r| r.torn_write)
        .collect();
    assert_eq!(torn, vec![true; 20]);
    // A write that completes at once is never torn: the round-10 snapshot.
    let world = counter_run(0, 40);
    assert_eq!(world.faults().counts().torn_writes, 0);
    for n in world.nodes() {
        assert_eq!(n.restored, Some(100));
    }
}

#[test]
fn a_crash_with_persistence_none_boots_fresh() {
    let text = "name = \"crash\"\nnodes = 4\n[run]\nrounds = 12\nheldout_samples = 0\n\
                [faults]\npersistence = \"none\"\n\
                [[faults.crash]]\nat_round = 5\ndown_ms = 1000\nnodes = [1, 2]\n";
    let (_, world) = run_world(text, |_, _| Counter::default());
    let c = world.faults().counts();
    assert_eq!(
        (c.outages_crash, c.fresh_no_persistence, c.restores_ok),
        (2, 2, 0)
    );
    let restored: Vec<Option<u64>> = world.nodes().iter().map(|n| n.restored).collect();
    assert_eq!(restored, vec![None; 4]);
    // Nodes 1 and 2 restarted counting at 51 s (down 50.0–51.0 s).
    let samples: Vec<u64> = world.nodes().iter().map(|n| n.samples).collect();
    assert_eq!(samples, vec![120, 69, 69, 120]);
}

/// Says hello (its id) every 10 s of its own clock and records the local
/// time of every hello heard, by sender, and the local time it read.
#[derive(Default)]
struct Hello {
    id: u32,
    due: bool,
    next: u64,
    heard: Vec<(u64, u32)>,
    last_now: u64,
    wake_lateness_us: Vec<u64>,
    weights: [Q; 1],
}

impl Hello {
    fn now(&mut self, now: Instant) {
        assert!(now.as_micros() >= self.last_now, "node time went back");
        self.last_now = now.as_micros();
    }
}

impl Runtime for Hello {
    fn handle_sample(&mut self, now: Instant, _sample: Q) {
        self.now(now);
    }
    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        self.now(now);
        let id = u32::from_le_bytes(frame.try_into().map_err(|_| RxError::Malformed)?);
        self.heard.push((now.as_micros(), id));
        Ok(())
    }
    fn handle_wake(&mut self, now: Instant) {
        self.now(now);
        if now.as_micros() >= self.next {
            self.wake_lateness_us.push(now.as_micros() - self.next);
            self.due = true;
            self.next += 10_000_000;
        }
    }
    fn handle_energy(&mut self, _now: Instant, _level: Q) {}
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if !std::mem::take(&mut self.due) {
            return None;
        }
        buf[..4].copy_from_slice(&self.id.to_le_bytes());
        Some(Transmit {
            len: 4,
            kind: FrameKind::Heartbeat,
            destination: Destination::Broadcast,
        })
    }
    fn poll_at(&self) -> Option<Instant> {
        Some(Instant::from_micros(self.next))
    }
    fn telemetry(&self) -> Telemetry {
        Telemetry::default()
    }
    fn weights(&self) -> &[Q] {
        &self.weights
    }
}

fn hello(_: &Scenario, init: &NodeInit) -> Hello {
    Hello {
        id: init.id,
        next: 10_000_000,
        ..Hello::default()
    }
}

#[test]
fn a_partition_stops_cross_group_traffic_and_the_heal_restores_it() {
    let text = "name = \"split\"\nnodes = 10\n[run]\nrounds = 60\nheldout_samples = 0\n\
                [faults]\n[[faults.partition]]\nat_round = 20\nheal_round = 40\n\
                groups = [[0, 4]]\n";
    let (_, world) = run_world(text, hello);
    let group = |id: u32| u32::from(id >= 4);
    let (mut before, mut during, mut after, mut within) = (0, 0, 0, 0);
    for (id, n) in (0..).zip(world.nodes()) {
        for &(t, from) in &n.heard {
            let cross = group(from) != group(id);
            match t {
                _ if t < 200_000_000 => before += u32::from(cross),
                _ if t < 400_000_000 => {
                    during += u32::from(cross);
                    within += u32::from(!cross);
                }
                _ => after += u32::from(cross),
            }
        }
    }
    // Hellos at 10 … 590 s: 19 before, 20 during (200 … 390 s), 20 after
    // (400 … 590 s); 4 × 6 × 2 = 48 cross-group copies per hello round.
    assert_eq!((before, during, after), (19 * 48, 0, 20 * 48));
    // Inside each group traffic goes on: (4·3 + 6·5) copies per round.
    assert_eq!(within, 20 * 42);
    assert_eq!(world.faults().counts().partition_dropped, 20 * 48);
}

#[test]
fn corrupted_frames_are_rejected_by_checksum_and_counted() {
    let text = "name = \"flips\"\nnodes = 10\n[run]\nrounds = 40\n\
                [faults]\n[faults.corruption]\nprobability = 0.2\nbits = 2\n";
    let (_, world) = run_world(text, node);
    let c = *world.faults().counts();
    let last = world.rows().last().unwrap();
    eprintln!("{c:?}");
    assert!(c.corrupted_frames > 500, "{c:?}");
    assert_eq!(c.corrupted_accepted, 0, "CRC-32 catches every 2-bit error");
    assert_eq!(
        c.corrupted_rejected_checksum + c.corrupted_rejected_other,
        c.corrupted_frames
    );
    // Most flips land in the CRC-covered body; header flips are caught
    // earlier (version, kind, length).
    assert!(c.corrupted_rejected_checksum * 10 > c.corrupted_frames * 8);
    // The world's own rejection counters see them too.
    assert!(last.rejected_malformed >= c.corrupted_frames);
}

#[test]
fn drift_skews_each_nodes_clock_monotonically_and_wakes_it_on_its_own_time() {
    let text = "name = \"drift\"\nnodes = 8\n[run]\nrounds = 30\nheldout_samples = 0\n\
                [faults]\n[faults.drift]\nppm_max = 50000\n";
    let (_, world) = run_world(text, hello);
    let ppm = world.faults().drift_ppm();
    assert!(ppm.iter().any(|&p| p > 10_000) && ppm.iter().any(|&p| p < -10_000));
    for (n, &p) in world.nodes().iter().zip(&ppm) {
        // Its last sample is at true 299 s; it read local(299 s).
        let t: i64 = 299_000_000;
        let local = t + (t * i64::from(p)).div_euclid(1_000_000);
        assert!(n.last_now as i64 >= local, "ppm {p}");
        // Each wake-up came at the first true µs its clock read the asked
        // instant (a fast clock can skip one µs value).
        assert!(n.wake_lateness_us.iter().all(|&l| l <= 1), "{p}");
        // A fast clock wakes more often within the same true time.
        let expected = (300_000_000 + 300 * i64::from(p)) / 10_000_000;
        let wakes = n.wake_lateness_us.len() as i64;
        assert!(
            (wakes - expected).abs() <= 1,
            "ppm {p}: {wakes} vs {expected}"
        );
    }
}

#[test]
fn stacked_faults_are_deterministic_to_the_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("scenarios/examples/faults-stacked.toml");
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for run in ["a", "b"] {
        let options = RunOptions {
            out: Some(tmp.path().join(run)),
            overrides: vec!["run.rounds=40".parse().unwrap()],
            ..RunOptions::default()
        };
        let outcome = runner::run_file(&path, &options, &mut |_| {}).unwrap();
        let read = |f: &str| std::fs::read(outcome.dir.join(f)).unwrap();
        outputs.push([read("rounds.csv"), read("summary.json"), read("faults.csv")]);
    }
    assert!(outputs[0] == outputs[1]);
    let summary = String::from_utf8(outputs[0][1].clone()).unwrap();
    assert!(summary.contains("\"faults\""));
}

#[test]
fn a_faults_section_without_faults_changes_nothing_and_none_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = "name = \"same\"\nnodes = 10\n[run]\nrounds = 20\n";
    let mut rows = Vec::new();
    for (name, text) in [
        ("plain", plain.to_string()),
        ("empty", format!("{plain}[faults]\n")),
    ] {
        let path = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&path, &text).unwrap();
        let options = RunOptions {
            out: Some(tmp.path().join(name)),
            ..RunOptions::default()
        };
        let outcome = runner::run_file(&path, &options, &mut |_| {}).unwrap();
        rows.push(std::fs::read(outcome.dir.join("rounds.csv")).unwrap());
        let summary = std::fs::read_to_string(outcome.dir.join("summary.json")).unwrap();
        let with = name == "empty";
        assert_eq!(outcome.dir.join("faults.csv").is_file(), with);
        assert_eq!(summary.contains("\"faults\""), with);
    }
    // Snapshots only read the nodes: the same bytes.
    assert!(rows[0] == rows[1]);
}

#[test]
fn bad_faults_keys_are_located_and_named() {
    let text = "name = \"bad\"\nnodes = 4\n[faults]\n\
                [[faults.partition]]\nat_round = 5\nheal_round = 5\ngroups = [[0, 9]]\n\
                [[faults.crash]]\nat_round = 1\ndown_ms = 10\nnodes = [7]\n";
    let e = Scenario::parse(Path::new("bad.toml"), text)
        .unwrap_err()
        .to_string();
    for needle in [
        "bad.toml:6:14: key `faults.partition[0].heal_round`: expected a round after `at_round` (5), found 5",
        "bad.toml:7:10: key `faults.partition[0].groups`: expected ranges ending at or below `nodes` (4), found 9",
        "bad.toml:11:9: key `faults.crash[0].nodes`: expected node ids below `nodes` (4), found 7",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
    }
    let typo = "name = \"t\"\nnodes = 4\n[faults]\nsnapshot_evry_rounds = 2\n";
    let e = Scenario::parse(Path::new("t.toml"), typo)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.toml:4:1: key `faults.snapshot_evry_rounds`"),
        "{e}"
    );
}
