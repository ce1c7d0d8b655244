//! The `memory` claim: under 1 KB of state per node.
//!
//! The paper scenario (100 nodes on a grid of degree 8, so every node
//! tracks 8 peers, the default configuration otherwise) runs once per
//! seed; at the end of each run the runner writes `node_state_bytes` into
//! `summary.json`: per honest node, `size_of::<Node>()` plus every heap
//! byte the node owns, computed from capacities (`Node::state_bytes`,
//! checked against a counting allocator in `node-core/tests/node_memory.rs`).
//! The simulator lends each node the aggregation's working space at its
//! wake (`Node::handle_wake_lent`, one per thread), so that is in no node's
//! state; a node that keeps its own (the firmware's) holds about 1.1 KB
//! more after its first aggregation. The configuration the nodes share
//! (one allocation per run and peer-table size) is reported beside it, not
//! per node. The figure judged is the largest node of any seed.

use std::path::Path;

use super::ReproduceError;
use super::measure::{Context, run_sets};
use super::report::{self, Row};

/// `node_state_bytes` of one run's `summary.json`: `(mean, max, shared)`.
fn read_state(dir: &Path) -> Result<(f64, f64, f64), ReproduceError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ReproduceError::Io(path.clone(), e))?;
    let summary: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ReproduceError::Run(path.clone(), e.to_string()))?;
    let state = &summary["node_state_bytes"];
    let field = |name: &str| {
        state[name].as_f64().ok_or_else(|| {
            ReproduceError::Run(path.clone(), format!("no `node_state_bytes.{name}`"))
        })
    };
    Ok((field("mean")?, field("max")?, field("shared_config")?))
}

/// Measures the claim (see the module docs).
pub fn memory(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    run_sets(
        &[(cx.path.to_path_buf(), cx.out.clone())],
        cx.seeds,
        cx.tick,
    )?;
    let (mut mean_sum, mut max, mut shared) = (0.0, 0.0_f64, 0.0_f64);
    for seed in 1..=cx.seeds {
        let (mean, largest, config) = read_state(&cx.out.join(format!("seed-{seed}")))?;
        mean_sum += mean;
        max = max.max(largest);
        shared = shared.max(config);
    }
    let mean = mean_sum / cx.seeds.max(1) as f64;
    let row = Row::new(cx.claim).system(format!(
        "node state (size_of + owned heap; the aggregation scratch lent by the host) at the end \
         of the run: \
         {mean:.0} B mean, {max:.0} B largest over {} nodes × {} seeds (8 peers each); \
         plus one shared {shared:.0} B configuration per run",
        cx.scenario.nodes, cx.seeds,
    ));
    Ok(report::judge(row, cx.claim, max, "largest node state (B)"))
}
