//! The paper's synthetic consensus task through node-core's `Node`: the
//! wrapper sets truth + noise, the swarm's `drift` falls as it aggregates,
//! runs repeat byte for byte, `drift` is empty without `[consensus]`, and
//! `raas reproduce` measures convergence-rate's paper setup.

mod common;

use std::path::Path;

use common::*;
use node_core::runtime::Runtime;
use sim::consensus::ConsensusNode;
use sim::fixed;
use sim::scenario::Scenario;
use sim::world::NodeInit;

/// `nodes` nodes on a lossless full mesh playing the consensus task with
/// truth `truth` (TOML) and noise σ `noise`.
fn consensus_scenario(nodes: u32, rounds: u32, truth: &str, noise: f64) -> String {
    format!(
        r#"name = "consensus-test"
seed = 3
nodes = {nodes}

[run]
rounds = {rounds}
round_period_ms = 10000
sample_period_ms = 10000
heldout_samples = 0

[radio]
topology = "full_mesh"

[consensus]
truth = {truth}
noise_std = {noise}

[node]
window_len = 9
gate = "always"
aggregate_mix = [1.0, 1.0, 1.0]
delta = false
inbox_max = 64
delta_tracked_peers = 64

[node.aggregation]
# The plain trimmed mean: every node's aggregate of the same inputs is the
# same (the default weighted rule weighs a node's own model by its own
# reputation, so aggregates differ slightly from node to node).
rule = "trimmed_mean"

[node.reputation]
max_peers = 64
"#
    )
}

fn parse(text: &str) -> Scenario {
    Scenario::parse(Path::new("consensus.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn init(id: u32, seed: u64, n: u32) -> NodeInit {
    NodeInit {
        id,
        seed,
        swarm_size: n,
        degree: n - 1,
    }
}

#[test]
fn the_wrapper_sets_truth_plus_noise_from_the_nodes_own_stream() {
    let truth = "[0.5, -0.25, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]";
    let scenario = parse(&consensus_scenario(200, 5, truth, 0.05));
    let want = [0.5, -0.25, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0];
    let nodes: Vec<ConsensusNode> = (0..200)
        .map(|id| ConsensusNode::new(&scenario, &init(id, 3, 200)).unwrap())
        .collect();
    // Noise per coordinate over 200 nodes: mean ≈ 0, sd ≈ 0.05.
    let mut residuals = Vec::new();
    for node in &nodes {
        let w = node.weights();
        assert_eq!(w.len(), 10);
        for (x, t) in w.iter().zip(want) {
            residuals.push(fixed::to_f64(*x) - t);
        }
    }
    let n = residuals.len() as f64;
    let mean = residuals.iter().sum::<f64>() / n;
    let sd = (residuals
        .iter()
        .map(|r| (r - mean) * (r - mean))
        .sum::<f64>()
        / n)
        .sqrt();
    assert!(mean.abs() < 0.005, "mean {mean}");
    assert!((sd - 0.05).abs() < 0.004, "sd {sd}");
    assert!(residuals.iter().all(|r| r.abs() < 0.3), "a > 6σ draw");
    // Per (seed, node): the same node draws the same, another node not.
    let again = ConsensusNode::new(&scenario, &init(7, 3, 200)).unwrap();
    assert_eq!(again.weights(), nodes[7].weights());
    assert_ne!(nodes[8].weights(), nodes[7].weights());
    let other_seed = ConsensusNode::new(&scenario, &init(7, 4, 200)).unwrap();
    assert_ne!(other_seed.weights(), nodes[7].weights());
}

#[test]
fn a_wrong_truth_list_is_a_located_error() {
    let text = consensus_scenario(4, 5, "[0.0, 1.0]", 0.05);
    let e = Scenario::parse(Path::new("c.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("consensus.truth") && e.contains("10 values"),
        "{e}"
    );
    let line = text.lines().position(|l| l.starts_with("truth")).unwrap() + 1;
    assert!(e.contains(&format!("c.toml:{line}:")), "{e}");
    let text = consensus_scenario(4, 5, "9.0", 0.05);
    let e = Scenario::parse(Path::new("c.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("weight_limit"), "{e}");
}

#[test]
fn the_swarm_drift_falls_below_0_005_on_a_small_full_mesh() {
    let tmp = tempfile::tempdir().unwrap();
    // 30 nodes, σ 0.02: one node's draw is ≈ 0.02 off, the trimmed mean of
    // 30 draws ≈ 0.004.
    let path = write_scenario(
        tmp.path(),
        "c.toml",
        &consensus_scenario(30, 20, "0.25", 0.02),
    );
    let out = tmp.path().join("out");
    run_ok(tmp.path(), &path, &out, &[]);
    let table = rounds(&out);
    let drift = table.floats("drift");
    assert_eq!(drift.len(), 20);
    // Row 1: each node's own draw, no aggregate yet.
    assert!(drift[0] > 0.015 && drift[0] < 0.025, "{drift:?}");
    // Rows 2…: the round's aggregate, the same at every node on a lossless
    // full mesh of ≤ 65 nodes.
    let mut later = drift[1..].to_vec();
    later.sort_by(f64::total_cmp);
    assert!(later[later.len() / 2] < 0.005, "{drift:?}");
    assert!(later.iter().all(|d| *d < 0.01), "{drift:?}");
    let distance = table.floats("consensus_distance");
    assert!(distance[1..].iter().all(|d| *d == 0.0), "{distance:?}");
    // Nothing is learnt from samples.
    assert!(table.column("rmse_online").iter().all(|c| *c == "NaN"));
    let s = summary(&out);
    assert_eq!(s["runtime"], sim::consensus::RUNTIME, "{s}");
}

#[test]
fn consensus_runs_repeat_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_scenario(
        tmp.path(),
        "c.toml",
        &consensus_scenario(12, 15, "0.0", 0.05),
    );
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(tmp.path(), &path, &a, &[]);
    run_ok(tmp.path(), &path, &b, &[]);
    assert_eq!(read(&a, "rounds.csv"), read(&b, "rounds.csv"));
    assert_eq!(read(&a, "summary.json"), read(&b, "summary.json"));
    // Another seed draws other noise.
    let c = tmp.path().join("c");
    run_ok(tmp.path(), &path, &c, &["--seed", "4"]);
    assert_ne!(rounds(&a).column("drift"), rounds(&c).column("drift"));
}

#[test]
fn drift_is_empty_without_a_consensus_section() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(tmp.path(), &small_scenario(), &out, &[]);
    let table = rounds(&out);
    assert!(table.header.iter().any(|h| h == "drift"));
    assert!(table.column("drift").iter().all(|c| c.is_empty()));
}

#[test]
fn reproduce_measures_convergence_rate_in_the_paper_setup() {
    let tmp = tempfile::tempdir().unwrap();
    let papers = tmp.path().join("paper");
    std::fs::create_dir_all(&papers).unwrap();
    let base = std::fs::read_to_string(small_scenario()).unwrap();
    let claim = format!(
        "{base}\n[claim]\nid = \"convergence-rate\"\npaper_value = \"181 to 2 rounds\"\nevidence = \"toy\"\n\
         paper_setup = \"drift below 0.005\"\nmetric = \"rounds to consensus\"\nmeasure = \"convergence_rate\"\n\
         sizes = [4]\npaper_sizes = [5, 40]\npaper_rounds = [181.2, 12.7]\n"
    );
    write_scenario(&papers, "convergence-rate.toml", &claim);
    let mut reports = Vec::new();
    for jobs in ["1", "2"] {
        let out = tmp.path().join(format!("out-{jobs}"));
        let r = reproduce(tmp.path(), &papers, &out, jobs);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        reports.push(read(&out, "REPRODUCTION.md"));
        let run = out.join("convergence-rate/consensus-nodes-40/seed-2");
        let drift = rounds(&run).floats("drift");
        assert_eq!(drift.len(), 200);
        // The run is the paper's setup: d = 10, truth 0, full mesh.
        let resolved = String::from_utf8(read(&run, "scenario.toml")).unwrap();
        for key in [
            "window_len = 9",
            "topology = \"full_mesh\"",
            "gate = \"always\"",
            "[consensus]",
        ] {
            assert!(resolved.contains(key), "{key} missing:\n{resolved}");
        }
    }
    assert_eq!(reports[0], reports[1], "the report depends on --jobs");
    let text = String::from_utf8(reports.remove(0)).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("| convergence-rate |"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("first aggregation round with drift < 0.005")
            && row.contains("5 (200 rounds): ")
            && row.contains("(paper 181.2)")
            && row.contains("40 (200 rounds): ")
            && row.contains("(paper 12.7)")
            && row.contains("rounds to consensus by size — 4: "),
        "{row}"
    );
}
