//! Every robust rule and pre-aggregator of `[node.aggregation]` runs the
//! small scenario end to end: the node aggregates (ops are charged), the
//! run is byte-for-byte repeatable, and a rule whose `n`/`f` condition
//! cannot hold in a 10-node full mesh skips its rounds instead of falling
//! back to another rule.

mod common;

use std::path::Path;

use common::*;
use sim::runner::{self, RunOptions, RunOutcome};
use sim::scenario::Override;

fn run(out: &Path, sets: &[&str]) -> RunOutcome {
    let options = RunOptions {
        out: Some(out.to_path_buf()),
        results_root: out.join("unused"),
        overrides: sets
            .iter()
            .map(|s| s.parse::<Override>().unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        ..RunOptions::default()
    };
    runner::run_file(&small_scenario(), &options, &mut |_| {})
        .unwrap_or_else(|e| panic!("{sets:?}: {e}"))
}

#[test]
fn each_robust_aggregator_runs_and_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 10] = [
        &["node.aggregation.rule=bulyan"],
        &["node.aggregation.rule=geometric_median"],
        &["node.aggregation.rule=centered_clipping"],
        &[
            "node.aggregation.rule=centered_clipping",
            "node.aggregation.cc_center=median",
        ],
        &[
            "node.aggregation.rule=meamed",
            "node.aggregation.f_fraction=0.2",
        ],
        &["node.aggregation.rule=monna"],
        &[
            "node.aggregation.rule=krum",
            "node.aggregation.krum_neighbours=byzfl",
        ],
        &["node.aggregation.pre=[\"nnm\"]"],
        &[
            "node.aggregation.pre=[\"bucketing\"]",
            "node.aggregation.rule=median",
        ],
        &[
            "node.aggregation.pre=[\"clipping\",\"bucketing\",\"nnm\"]",
            "node.aggregation.rule=monna",
        ],
    ];
    for (i, sets) in cases.iter().enumerate() {
        let a = run(&dir.path().join(format!("{i}-a")), sets);
        assert!(a.last.aggregation_ops > 0, "{sets:?}: no aggregation");
        let b = run(&dir.path().join(format!("{i}-b")), sets);
        for name in ["rounds.csv", "summary.json"] {
            assert_eq!(read(&a.dir, name), read(&b.dir, name), "{sets:?}: {name}");
        }
    }
}

#[test]
fn bulyan_with_too_large_f_skips_rather_than_falls_back() {
    // 10 nodes: an inbox of at most 9 + the own model = 10 < 4·2 + 3.
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["node.aggregation.rule=bulyan", "node.aggregation.krum_f=2"],
    );
    assert_eq!(out.last.aggregation_ops, 0, "a round was aggregated");
}
