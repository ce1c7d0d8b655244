//! The regime detector in a running swarm, as the targets state it
//! (storm node-rounds detected at every strength, PreStorm before Storm on a
//! rising storm, no Storm after warm-up without a storm), and no false bans
//! over a long lossy, stormy run.
//!
//! Each scenario is 20 nodes on a full mesh with SmoothSine data (noise σ
//! 0.1); a row's `storm`/`prestorm` count the nodes in that regime at the
//! end of the round, so a "storm node-round" is one node at one round end.

use std::path::Path;

use node_core::node::Node;
use node_core::regime::Regime;
use sim::runner;
use sim::scenario::Scenario;
use sim::world::World;

const NODES: u32 = 20;

/// Builds and runs `text` (a scenario) with node-core's `Node`.
fn run(text: &str, seed: u64) -> World<Node> {
    let scenario = Scenario::parse(Path::new("test.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let mut world = World::new(&scenario, seed, |init| {
        runner::node_core_runtime(&scenario, init)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    world.run(&mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    world
}

fn scenario(rounds: u32, loss: f64, storms: &str) -> String {
    format!(
        "name = \"regime\"\nnodes = {NODES}\n\
         [run]\nrounds = {rounds}\n\
         [radio]\ntopology = \"full_mesh\"\nloss_probability = {loss}\n\
         [dataset]\nkind = \"smooth_sine\"\nnoise_std = 0.1\n{storms}"
    )
}

fn storm(start_s: u32, end_s: u32, std: f64) -> String {
    format!(
        "[[dataset.storms]]\nstart_s = {start_s}\nend_s = {end_s}\nnode_range = [0, {NODES}]\nnoise_std = {std}\n"
    )
}

/// A storm over every node from 300 s to 900 s (rounds 31–90): at least
/// 95 % of its node-rounds are Storm once two rounds of detection delay
/// have passed, at every strength from 0.3 to 3.0; and before it, after
/// warm-up, no node is in Storm.
#[test]
fn storms_of_every_strength_are_detected() {
    for std in [0.3, 0.5, 1.0, 1.5, 2.0, 3.0] {
        let world = run(&scenario(100, 0.05, &storm(300, 900, std)), 1);
        let rows = world.rows();
        let in_storm: u32 = rows[32..90].iter().map(|r| r.storm).sum();
        let share = f64::from(in_storm) / f64::from(NODES * 58);
        assert!(
            share >= 0.95,
            "σ {std}: {:.1} % of storm node-rounds detected",
            100.0 * share
        );
        let before: u32 = rows[15..30].iter().map(|r| r.storm).sum();
        assert_eq!(before, 0, "σ {std}: Storm before the storm");
    }
}

/// A storm whose noise rises linearly, σ 0.1 → 1.0 over 300 s in steps
/// of 10 s: nodes pass through PreStorm before they reach Storm.
#[test]
fn prestorm_precedes_storm_on_a_rising_storm() {
    let steps: String = (1..=30)
        .map(|i| storm(300 + 10 * (i - 1), 900, 0.1 + 0.03 * f64::from(i)))
        .collect();
    let world = run(&scenario(100, 0.05, &steps), 1);
    for (id, node) in world.nodes().iter().enumerate() {
        let moves = node.detector().counters().transitions_by_kind;
        let (calm, pre, storm) = (
            Regime::Calm.index(),
            Regime::PreStorm.index(),
            Regime::Storm.index(),
        );
        assert!(
            moves[pre][storm] >= 1,
            "node {id} never went PreStorm → Storm: {moves:?}"
        );
        assert_eq!(
            moves[calm][storm], 0,
            "node {id} skipped PreStorm: {moves:?}"
        );
    }
}

/// 300 rounds without a storm, with 20 % loss: no Storm node-round after
/// warm-up, and no honest node bans another.
#[test]
fn no_storm_and_no_ban_without_cause() {
    let world = run(&scenario(300, 0.2, ""), 3);
    let late_storms: u32 = world.rows()[10..].iter().map(|r| r.storm).sum();
    assert_eq!(late_storms, 0, "Storm node-rounds in a storm-free run");
    for (id, node) in world.nodes().iter().enumerate() {
        assert_eq!(
            node.reputation().banned_count(),
            0,
            "node {id} banned an honest peer"
        );
    }
}

/// Loss and storms together over 300 rounds: still no false ban.
#[test]
fn no_false_ban_through_storms_and_loss() {
    let storms = format!("{}{}", storm(500, 900, 1.0), storm(1500, 2200, 2.0));
    let world = run(&scenario(300, 0.2, &storms), 4);
    for (id, node) in world.nodes().iter().enumerate() {
        assert_eq!(
            node.reputation().banned_count(),
            0,
            "node {id} banned an honest peer"
        );
    }
}
