//! Within-run parallelism (`raas run --threads`, `World::set_threads`):
//! the outputs are the same bytes for every thread count, and the
//! scenarios whose nodes share state run on one thread.
//!
//! The windows' invariant (nothing sent in a window is delivered inside
//! it) is a `debug_assert!` in `sim/src/world/window.rs`, checked by every
//! run here (tests build with debug assertions); the per-node order inside
//! a window is checked against the engine by `world::order`'s unit test.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use sim::runner::{self, RunOptions};
use sim::scenario::{Override, Scenario};
use sim::world::World;

fn example(name: &str) -> PathBuf {
    workspace_root().join("scenarios/examples").join(name)
}

/// Runs `scenario` with `overrides` on `threads` threads into `out`;
/// returns the hash of rounds.csv and of summary.json.
fn run(scenario: &Path, overrides: &[&str], threads: usize, out: &Path) -> (u64, u64) {
    let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
    let options = RunOptions {
        out: Some(out.to_path_buf()),
        results_root: out.join("unused"),
        overrides,
        force: true,
        threads,
        ..RunOptions::default()
    };
    runner::run_file(scenario, &options, &mut |_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", scenario.display()));
    (
        fnv1a64(&read(out, "rounds.csv")),
        fnv1a64(&read(out, "summary.json")),
    )
}

/// The hashes for threads 1, 2, 3 and 4 (and threads 2 again: a repeated
/// same-seed run) are all equal.
fn assert_same_for_every_count(scenario: &Path, overrides: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let one = run(scenario, overrides, 1, &tmp.path().join("t1"));
    for threads in [2, 3, 4, 2] {
        let out = tmp.path().join(format!("t{threads}"));
        let got = run(scenario, overrides, threads, &out);
        assert_eq!(got, one, "{} at {threads} threads", scenario.display());
    }
}

/// How many threads a world of `scenario` uses when asked for 4.
fn threads_used(scenario: &Path, overrides: &[&str]) -> usize {
    let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
    let s = Scenario::load_with(scenario, &overrides).unwrap();
    let mut world = World::new(&s, s.seed, |init| runner::node_core_runtime(&s, init)).unwrap();
    world.set_threads(4).unwrap()
}

#[test]
fn grid_with_a_regional_storm_is_the_same_for_every_thread_count() {
    // 1,000 nodes on a k = 8 grid; the storm covers rounds 40..60.
    let scenario = example("smoothsine-1000.toml");
    let overrides = ["run.rounds=62"];
    assert_eq!(threads_used(&scenario, &overrides), 4);
    assert_same_for_every_count(&scenario, &overrides);
}

#[test]
fn grid_without_storm_is_the_same_for_every_thread_count() {
    let scenario = example("smoothsine-1000.toml");
    assert_same_for_every_count(&scenario, &["run.rounds=20", "dataset.storms=[]"]);
}

#[test]
fn full_mesh_is_the_same_for_every_thread_count() {
    // Every frame reaches every node: the receivers' streams are drawn
    // for all senders of a window, in sender-id order.
    let scenario = example("smoothsine-100.toml");
    let overrides = [
        "nodes=200",
        "radio.topology=\"full_mesh\"",
        "radio.loss_probability=0.2",
        "run.rounds=15",
    ];
    assert_same_for_every_count(&scenario, &overrides);
}

#[test]
fn zero_lookahead_runs_single_instant_windows_the_same_for_every_count() {
    // No latency and no overhead: a frame may arrive at the instant it was
    // sent; windows then hold one instant and deliveries go to the next.
    let scenario = example("smoothsine-100.toml");
    let overrides = [
        "radio.latency_base_us=0",
        "radio.per_frame_overhead_bytes=0",
        "run.rounds=10",
    ];
    assert_same_for_every_count(&scenario, &overrides);
}

#[test]
fn adversary_runs_on_one_thread_with_the_same_bytes() {
    let scenario = example("adversary-cartel.toml");
    let overrides = ["run.rounds=15"];
    assert_eq!(threads_used(&scenario, &overrides), 1);
    let tmp = tempfile::tempdir().unwrap();
    let one = run(&scenario, &overrides, 1, &tmp.path().join("t1"));
    let four = run(&scenario, &overrides, 4, &tmp.path().join("t4"));
    assert_eq!(one, four);
}

#[test]
fn faults_run_on_one_thread_with_the_same_bytes() {
    let scenario = example("faults-stacked.toml");
    let overrides = ["run.rounds=60"];
    assert_eq!(threads_used(&scenario, &overrides), 1);
    let tmp = tempfile::tempdir().unwrap();
    let one = run(&scenario, &overrides, 1, &tmp.path().join("t1"));
    let four = run(&scenario, &overrides, 4, &tmp.path().join("t4"));
    assert_eq!(one, four);
}

#[test]
fn windows_are_counted() {
    let scenario = example("smoothsine-100.toml");
    let s = Scenario::load_with(&scenario, &["run.rounds=5".parse().unwrap()]).unwrap();
    let mut world = World::new(&s, s.seed, |init| runner::node_core_runtime(&s, init)).unwrap();
    world.set_threads(2).unwrap();
    world.run(&mut |_| {}).unwrap();
    let stats = world.window_stats();
    assert!(stats.windows > 0);
    // Every node event is in some window; the rest are the round ends.
    assert_eq!(stats.events + 5, world.events());
}

#[test]
fn cli_threads_flag_gives_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_ok(tmp.path(), &small_scenario(), &a, &["--threads", "1"]);
    run_ok(tmp.path(), &small_scenario(), &b, &["--threads", "3"]);
    for name in ["rounds.csv", "summary.json"] {
        assert_eq!(read(&a, name), read(&b, name), "{name}");
    }
    let bad = raas_in(tmp.path(), ["run", "--threads", "0", "x.toml"]);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("--threads"), "{}", bad.stderr);
}
