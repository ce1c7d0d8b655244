//! The isolated baseline and the references: asked for by the scenario or
//! the CLI, written beside the main run, bit-for-bit reproducible whatever
//! the thread count, and compared in `summary.json`.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use common::*;

const BASELINE_DIR: &str = "baseline-isolated";
const DETERMINISTIC: [&str; 3] = ["rounds.csv", "scenario.toml", "summary.json"];

/// Hashes of the deterministic files of a run and of its baseline.
fn hashes(out: &Path) -> Vec<u64> {
    [out.to_path_buf(), out.join(BASELINE_DIR)]
        .iter()
        .flat_map(|dir| DETERMINISTIC.map(|name| fnv1a64(&read(dir, name))))
        .collect()
}

fn run_with_threads(cwd: &Path, out: &Path, threads: &str) {
    let args: [OsString; 7] = [
        "run".into(),
        small_scenario().into(),
        "--quiet".into(),
        "--out".into(),
        out.into(),
        "--baseline".into(),
        "isolated".into(),
    ];
    let r = raas_with_env(cwd, &args, &[("RAYON_NUM_THREADS", threads)]);
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn baseline_and_references_are_identical_across_runs_and_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = [("a", "1"), ("b", "2"), ("c", "4")];
    for (dir, threads) in runs {
        run_with_threads(tmp.path(), &tmp.path().join(dir), threads);
    }
    let first = hashes(&tmp.path().join("a"));
    assert_eq!(first.len(), 6);
    for (dir, _) in &runs[1..] {
        assert_eq!(hashes(&tmp.path().join(dir)), first, "run {dir}");
    }
    // The baseline is not a copy of the main run.
    assert_ne!(
        first[0],
        first[DETERMINISTIC.len()],
        "isolated rounds.csv equals the main run's"
    );
    let summary = summary(&tmp.path().join("a"));
    for side in ["online", "heldout"] {
        for reference in ["persistence", "local_ls", "central_ls"] {
            let value = &summary["references"][side][reference];
            assert!(
                value.as_f64().is_some_and(|v| v > 0.0),
                "references.{side}.{reference} = {value}"
            );
        }
    }
}

/// Checks a run directory holding the isolated baseline.
fn check_isolated(out: &Path) {
    assert_eq!(
        entries(out),
        [
            BASELINE_DIR,
            "rounds.csv",
            "scenario.toml",
            "summary.json",
            "timing.json"
        ]
    );
    let baseline = out.join(BASELINE_DIR);
    assert_eq!(entries(&baseline), DETERMINISTIC);
    let main = summary(out);
    assert_eq!(main["baselines"], serde_json::json!(["isolated"]));
    assert!(main["baseline"].is_null());
    let comparison = &main["comparison"];
    assert_eq!(comparison["metric"], "rmse_heldout");
    for field in [
        "isolated_rmse",
        "gain_over_isolated_pct",
        "isolated_excess_over_central_pct",
        "excess_over_central_pct",
    ] {
        assert!(
            comparison[field].is_f64(),
            "comparison.{field}: {comparison}"
        );
    }
    let iso_rmse = comparison["isolated_rmse"].as_f64().unwrap();
    let swarm_rmse = comparison["swarm_rmse"].as_f64().unwrap();
    let gain = comparison["gain_over_isolated_pct"].as_f64().unwrap();
    assert!((gain - 100.0 * (iso_rmse - swarm_rmse) / iso_rmse).abs() < 1e-9);
    // The baseline's own files: nothing arrives, so no consensus.
    let iso = summary(&baseline);
    assert_eq!(iso["baseline"], "isolated");
    assert!(iso["convergence"]["consensus_round"].is_null(), "{iso}");
    assert_eq!(iso["references"], main["references"]);
    assert_eq!(iso["final"]["rmse_heldout"].as_f64(), Some(iso_rmse));
    let table = rounds(&baseline);
    assert!(table.column("rx_frames").iter().all(|c| *c == "0"));
    assert!(table.floats("tx_frames").last().is_some_and(|t| *t > 0.0));
    assert!(
        table
            .column("rx_model_updates_accepted")
            .iter()
            .all(|c| *c == "0")
    );
}

#[test]
fn isolated_baseline_is_written_when_asked_by_scenario_or_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let by_flag = tmp.path().join("flag");
    run_ok(
        tmp.path(),
        &small_scenario(),
        &by_flag,
        &["--baseline", "isolated"],
    );
    check_isolated(&by_flag);
    let text = small_with("[run]", "baselines = [\"isolated\"]");
    let scenario = write_scenario(tmp.path(), "with-baseline.toml", &text);
    let by_scenario = tmp.path().join("scenario");
    // Both ways at once name it once.
    run_ok(
        tmp.path(),
        &scenario,
        &by_scenario,
        &["--baseline", "isolated"],
    );
    check_isolated(&by_scenario);
    // `baselines` changes the file, not the simulation.
    for dir in [PathBuf::new(), PathBuf::from(BASELINE_DIR)] {
        assert_eq!(
            read(&by_flag.join(&dir), "rounds.csv"),
            read(&by_scenario.join(&dir), "rounds.csv"),
            "{}",
            dir.display()
        );
    }
}

#[test]
fn without_baseline_the_comparison_has_no_isolated_side() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(tmp.path(), &small_scenario(), &out, &[]);
    assert!(!out.join(BASELINE_DIR).exists());
    let comparison = summary(&out)["comparison"].clone();
    assert!(comparison["isolated_rmse"].is_null(), "{comparison}");
    assert!(comparison["gain_over_isolated_pct"].is_null());
    assert!(comparison["excess_over_central_pct"].is_f64());
}
