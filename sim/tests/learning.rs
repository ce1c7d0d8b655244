//! Learning smoke test: ten full-mesh nodes gossiping on SmoothSine learn
//! (the prediction error falls) and agree (their weights converge).
//!
//! Bounds measured on `tests/fixtures/smoothsine-10-short.toml` (10 nodes,
//! full mesh, 2 % loss, noise σ 0.05, 30 rounds) for seeds 1–20:
//! - mean `rmse_online` of the last 5 rounds / that of round 1: 0.07–0.11
//!   (seed 1: 0.098); asserted ≤ 0.5.
//! - consensus_distance of the last round: 0.0029–0.0063 (seed 1: 0.0051);
//!   asserted ≤ 0.02. Without gossip (every frame lost) the nodes learn
//!   alike too, so the consensus rule also needs accepted updates
//!   (`consensus_needs_gossip`).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use sim::runner::{self, RunOptions};

/// Largest accepted (mean RMSE of the last 5 rounds) / (RMSE of round 1).
const RMSE_RATIO_MAX: f64 = 0.5;
/// Largest accepted consensus distance in the last round.
const CONSENSUS_MAX: f64 = 0.02;

fn run(scenario: &Path, out: &Path, seed: u64) -> Table {
    let options = RunOptions {
        seed: Some(seed),
        out: Some(out.to_path_buf()),
        results_root: PathBuf::from("unused"),
        ..RunOptions::default()
    };
    runner::run_file(scenario, &options, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"));
    rounds(out)
}

#[test]
fn gossiping_swarm_learns_and_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    for seed in [1, 2, 3] {
        let table = run(&small_scenario(), &tmp.path().join(seed.to_string()), seed);
        let rmse = table.floats("rmse_online");
        assert_eq!(rmse.len(), SMALL_ROUNDS);
        let first = rmse[0];
        let last5 = rmse[rmse.len() - 5..].iter().sum::<f64>() / 5.0;
        assert!(
            last5 <= RMSE_RATIO_MAX * first,
            "seed {seed}: mean RMSE of the last 5 rounds {last5:.4} > {RMSE_RATIO_MAX} × first {first:.4}; {rmse:?}"
        );
        let consensus = *table.floats("consensus_distance").last().unwrap();
        assert!(
            consensus <= CONSENSUS_MAX,
            "seed {seed}: final consensus distance {consensus:.5} > {CONSENSUS_MAX}"
        );
        let worst = *table.floats("consensus_distance_max").last().unwrap();
        assert!(worst >= consensus, "max {worst} < mean {consensus}");
        // The swarm did gossip.
        let updates: u64 = table
            .column("tx_frames_model_update")
            .last()
            .unwrap()
            .parse()
            .unwrap();
        assert!(updates > 0, "seed {seed}: no model update sent");
    }
}

/// Nodes that hear nothing may still learn alike (they see similar data),
/// so a small consensus distance alone proves nothing: the consensus rule
/// of `summary.json` also needs accepted updates in every round, and the
/// isolated run must never meet it while the gossiping swarm does.
#[test]
fn consensus_needs_gossip() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(small_scenario()).unwrap();
    let isolated = text.replace("loss_probability = 0.02", "loss_probability = 1.0");
    assert_ne!(isolated, text, "fixture changed: update this test");
    let scenario = tmp.path().join("isolated.toml");
    std::fs::write(&scenario, isolated).unwrap();
    let out = tmp.path().join("out");
    let table = run(&scenario, &out, SMALL_SEED);
    assert_eq!(table.column("rx_frames").last(), Some(&"0"));
    let iso = summary(&out);
    assert!(iso["convergence"]["consensus_round"].is_null(), "{iso}");
    let swarm_out = tmp.path().join("swarm");
    run(&small_scenario(), &swarm_out, SMALL_SEED);
    let swarm = summary(&swarm_out);
    assert!(swarm["convergence"]["consensus_round"].is_u64(), "{swarm}");
}
