//! The federated-averaging baseline (`sim::baseline::fedavg`): every client
//! uploads its full model each round and the server broadcasts one average,
//! so a round costs exactly one frame per node; and it learns (it beats
//! the persistence forecast on the test fixture).

mod common;

use std::path::PathBuf;

use common::*;
use sim::baseline::fedavg::{self, FedAvgNode};
use sim::runner::{self, RunOptions};

#[test]
fn one_frame_per_node_per_round_and_it_learns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fl");
    let options = RunOptions {
        seed: Some(1),
        out: Some(out.clone()),
        results_root: PathBuf::from("unused"),
        ..RunOptions::default()
    };
    let outcome = runner::run_file_with(
        &small_scenario(),
        &options,
        fedavg::RUNTIME,
        FedAvgNode::new,
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // 30 rounds of 10 s: boundaries at 10, 20, …, 290 s; 9 uplinks and one
    // downlink each, every one a full 9-word model (28 + 36 bytes).
    let boundaries = (SMALL_ROUNDS - 1) as u64;
    assert_eq!(outcome.last.tx_frames_model_update, boundaries * 10);
    assert_eq!(outcome.last.tx_bytes_model_update, boundaries * 10 * 64);
    let s = summary(&out);
    assert_eq!(s["runtime"], fedavg::RUNTIME);
    // Averaging every node's model every round undoes each NLMS learner's
    // tracking of its own signal (docs/learning.md), so on this clean data
    // FedAvg ends well above the central optimum (+39 % at seed 1); it
    // must still beat the persistence forecast.
    let fl = s["comparison"]["swarm_rmse"].as_f64().unwrap();
    let persistence = s["references"]["heldout"]["persistence"].as_f64().unwrap();
    assert!(
        fl < persistence,
        "FedAvg {fl:.4} against persistence {persistence:.4}"
    );
}
