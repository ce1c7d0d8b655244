//! `raas sweep` and `raas merge`: grid order and point ids, byte-identical
//! CSVs for any `--jobs`, shards merged into the unsharded CSV, resuming,
//! and located errors for bad sweep files.

mod common;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::*;

const GRID: &str = "[sweep]\nseeds = [1, 2]\n\n[sweep.grid]\n\
                    \"radio.loss_probability\" = [0.0, 0.3]\n\"node.gossip_cost\" = [2.0, 8.0]\n";

/// The 2 × 2 points, in canonical order (first key slowest).
const POINTS: [&str; 4] = [
    "radio.loss_probability=0.0,node.gossip_cost=2.0",
    "radio.loss_probability=0.0,node.gossip_cost=8.0",
    "radio.loss_probability=0.3,node.gossip_cost=2.0",
    "radio.loss_probability=0.3,node.gossip_cost=8.0",
];

/// The small test scenario cut to 12 rounds, plus `sweep`.
fn sweep_text(sweep: &str) -> String {
    let text = std::fs::read_to_string(small_scenario()).expect("the fixture reads");
    assert!(text.contains("rounds = 30"));
    format!(
        "{}\n{sweep}",
        text.replacen("rounds = 30", "rounds = 12", 1)
    )
}

fn write_sweep(dir: &Path, sweep: &str) -> PathBuf {
    write_scenario(dir, "sweep.toml", &sweep_text(sweep))
}

/// Runs `raas sweep FILE --out OUT ARGS…` (not quiet: stderr has the
/// summary line) and requires success.
fn sweep_ok(dir: &Path, file: &Path, out: &Path, args: &[&str]) -> Raas {
    let mut all = vec![
        "sweep".to_string(),
        file.display().to_string(),
        "--out".to_string(),
        out.display().to_string(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let r = raas_in(dir, &all);
    assert_eq!(r.code, Some(0), "raas {all:?}: {r:?}");
    r
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn grid_points_in_written_order_with_readable_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_sweep(tmp.path(), GRID);
    let out = tmp.path().join("out");
    let r = sweep_ok(tmp.path(), &file, &out, &["--jobs", "2"]);
    assert!(
        r.stderr
            .contains("4 points × 2 seeds; 8 runs: 8 ran, 0 skipped"),
        "{}",
        r.stderr
    );
    assert_eq!(entries(&out), ["runs", "sweep.csv"]);
    let mut sorted = POINTS.to_vec();
    sorted.sort();
    assert_eq!(entries(&out.join("runs")), sorted);
    for point in POINTS {
        let seeds = entries(&out.join("runs").join(point));
        assert_eq!(seeds, ["seed-1", "seed-2"], "{point}");
    }
    // The grid value is set in the run's scenario, and the scenario text
    // kept beside it hashes to the summary's `scenario_hash`.
    let run = out.join("runs").join(POINTS[2]).join("seed-2");
    let s = summary(&run);
    assert_eq!(s["seed"], 2);
    let text = read(&run, "scenario.toml");
    assert_eq!(
        s["scenario_hash"],
        format!("fnv1a64:{:016x}", fnv1a64(&text))
    );
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("loss_probability = 0.3"), "{text}");
    assert!(text.contains("gossip_cost = 2.0"), "{text}");
    assert!(!text.contains("sweep"), "{text}");

    let csv = csv_table(&out.join("sweep.csv"));
    assert_eq!(
        csv.header[..5],
        [
            "run_index",
            "point",
            "radio.loss_probability",
            "node.gossip_cost",
            "seed"
        ]
    );
    assert_eq!(csv.header.len(), 5 + 15, "{:?}", csv.header);
    assert_eq!(
        csv.column("run_index"),
        ["0", "1", "2", "3", "4", "5", "6", "7"]
    );
    let expected_points: Vec<&str> = POINTS.iter().flat_map(|p| [*p, *p]).collect();
    assert_eq!(csv.column("point"), expected_points);
    assert_eq!(csv.column("seed"), ["1", "2", "1", "2", "1", "2", "1", "2"]);
    assert_eq!(
        csv.column("radio.loss_probability"),
        ["0.0", "0.0", "0.0", "0.0", "0.3", "0.3", "0.3", "0.3"]
    );
    assert_eq!(
        csv.column("node.gossip_cost"),
        ["2.0", "2.0", "8.0", "8.0", "2.0", "2.0", "8.0", "8.0"]
    );
    // Figures come from each run's summary.json; no isolated baseline ran,
    // so its columns are empty.
    let row5 = &csv.rows[5];
    let s = summary(&out.join("runs").join(POINTS[2]).join("seed-2"));
    assert_eq!(row5["rmse_online"], s["final"]["rmse_online"].to_string());
    assert_eq!(
        row5["swarm_rmse"],
        s["comparison"]["swarm_rmse"].to_string()
    );
    assert_eq!(row5["isolated_rmse"], "");
    assert_eq!(row5["gain_over_isolated_pct"], "");
    // Loss changes the results: the grid value reached the simulation.
    assert_ne!(csv.rows[0]["rmse_online"], csv.rows[4]["rmse_online"]);
}

#[test]
fn csv_is_byte_identical_for_any_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_sweep(tmp.path(), GRID);
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    sweep_ok(tmp.path(), &file, &one, &["--jobs", "1", "--quiet"]);
    sweep_ok(tmp.path(), &file, &two, &["--jobs", "2", "--quiet"]);
    assert_eq!(read(&one, "sweep.csv"), read(&two, "sweep.csv"));
    for point in POINTS {
        for seed in ["seed-1", "seed-2"] {
            let a = one.join("runs").join(point).join(seed);
            let b = two.join("runs").join(point).join(seed);
            assert_eq!(read(&a, "summary.json"), read(&b, "summary.json"));
        }
    }
}

#[test]
fn shards_merge_into_the_unsharded_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_sweep(tmp.path(), GRID);
    let whole = tmp.path().join("whole");
    let shards = tmp.path().join("shards");
    sweep_ok(tmp.path(), &file, &whole, &["--quiet"]);
    let r0 = sweep_ok(
        tmp.path(),
        &file,
        &shards,
        &["--shard", "0/2", "--jobs", "1"],
    );
    assert!(r0.stderr.contains("4 ran"), "{}", r0.stderr);
    let r1 = sweep_ok(
        tmp.path(),
        &file,
        &shards,
        &["--shard", "1/2", "--jobs", "2"],
    );
    assert!(r1.stderr.contains("4 ran"), "{}", r1.stderr);
    let s0 = shards.join("sweep-shard-0-of-2.csv");
    let s1 = shards.join("sweep-shard-1-of-2.csv");
    assert_eq!(
        csv_table(&s0).column("run_index"),
        ["0", "2", "4", "6"],
        "shard 0 owns the even runs"
    );
    let merged = tmp.path().join("merged.csv");
    // Order of the arguments does not matter.
    let r = raas_in(
        tmp.path(),
        [
            "merge".as_ref(),
            merged.as_os_str(),
            s1.as_os_str(),
            s0.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        std::fs::read(&merged).unwrap(),
        read(&whole, "sweep.csv"),
        "merged shards differ from the unsharded sweep.csv"
    );

    // A missing shard, a shard twice and a foreign CSV are refused.
    let bad = tmp.path().join("bad.csv");
    let r = raas_in(
        tmp.path(),
        ["merge".as_ref(), bad.as_os_str(), s0.as_os_str()],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("sweep-shard-1-of-2.csv"), "{}", r.stderr);
    let r = raas_in(
        tmp.path(),
        [
            "merge".as_ref(),
            bad.as_os_str(),
            s0.as_os_str(),
            s0.as_os_str(),
            s1.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("twice"), "{}", r.stderr);
    let copy = tmp.path().join("copy.csv");
    std::fs::copy(whole.join("sweep.csv"), &copy).unwrap();
    let r = raas_in(
        tmp.path(),
        [
            "merge".as_ref(),
            bad.as_os_str(),
            copy.as_os_str(),
            s0.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("appears twice"), "{}", r.stderr);
    let other = write_scenario(tmp.path(), "other.csv", "run_index,point,x,seed\n0,a,1,1\n");
    let r = raas_in(
        tmp.path(),
        [
            "merge".as_ref(),
            bad.as_os_str(),
            copy.as_os_str(),
            other.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("header differs"), "{}", r.stderr);
    assert!(!bad.exists(), "a refused merge wrote its output");
}

#[test]
fn resume_redoes_only_incomplete_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_sweep(tmp.path(), GRID);
    let out = tmp.path().join("out");
    sweep_ok(tmp.path(), &file, &out, &["--quiet"]);
    let csv_before = read(&out, "sweep.csv");
    let runs: Vec<PathBuf> = POINTS
        .iter()
        .flat_map(|p| ["seed-1", "seed-2"].map(|s| out.join("runs").join(p).join(s)))
        .collect();
    let before: Vec<SystemTime> = runs
        .iter()
        .map(|r| mtime(&r.join("summary.json")))
        .collect();
    // An interrupted run (no summary.json) and one of another scenario
    // (different hash) are redone; the rest are skipped.
    std::fs::remove_file(runs[3].join("summary.json")).unwrap();
    let tampered = String::from_utf8(read(&runs[6], "summary.json"))
        .unwrap()
        .replacen(
            "\"scenario_hash\": \"fnv1a64:",
            "\"scenario_hash\": \"fnv1a64:0",
            1,
        );
    std::fs::write(runs[6].join("summary.json"), tampered).unwrap();
    let tampered_at = mtime(&runs[6].join("summary.json"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = sweep_ok(tmp.path(), &file, &out, &["--jobs", "2"]);
    assert!(
        r.stderr.contains("8 runs: 2 ran, 6 skipped"),
        "{}",
        r.stderr
    );
    for (i, run) in runs.iter().enumerate() {
        let now = mtime(&run.join("summary.json"));
        match i {
            3 => assert!(now > before[3]),
            6 => assert!(
                now > tampered_at,
                "the run with another hash was not redone"
            ),
            _ => assert_eq!(now, before[i], "run {i} was redone"),
        }
    }
    assert_eq!(read(&out, "sweep.csv"), csv_before);
    // Asking for a baseline the finished runs lack redoes them all.
    let r = sweep_ok(tmp.path(), &file, &out, &["--baseline", "isolated"]);
    assert!(r.stderr.contains("8 ran, 0 skipped"), "{}", r.stderr);
    let csv = csv_table(&out.join("sweep.csv"));
    assert!(csv.column("isolated_rmse").iter().all(|c| !c.is_empty()));
}

#[test]
fn bad_sweep_files_give_located_errors_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let base_lines = sweep_text("").lines().count();
    let cases: [(&str, usize, &[&str]); 5] = [
        (
            "[sweep]\nseeds = 2\n[sweep.grid]\n\"radio.los_probability\" = [0.1]\n",
            4,
            &["key `radio.los_probability`", "unknown field", "0.1"],
        ),
        (
            "[sweep]\nseeds = 2\n[sweep.grid]\n\"radio.loss_probability\" = []\n",
            4,
            &["sweep.grid.radio.loss_probability", "non-empty list"],
        ),
        (
            "[sweep]\nseeds = []\n",
            2,
            &["key `sweep.seeds`", "non-empty list of seeds"],
        ),
        (
            "[sweep]\nseeds = 1\n[sweep.grid]\n\"radio.loss_probability\" = [0.1, 2.5]\n",
            4,
            &["key `radio.loss_probability`", "2.5"],
        ),
        (
            "[sweep]\nseeds = 1\n[sweep.grid]\n\"nodes\" = [\"ten\"]\n",
            4,
            &["key `nodes`", "ten"],
        ),
    ];
    for (sweep, line, needles) in cases {
        let file = write_sweep(tmp.path(), sweep);
        let out = tmp.path().join("never");
        let r = raas_in(
            tmp.path(),
            [
                "sweep".as_ref(),
                file.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
        );
        assert_eq!(r.code, Some(2), "{sweep}: {r:?}");
        // The fixture's text and a blank line (`base_lines`), then the
        // sweep table.
        let at = format!("sweep.toml:{}:", base_lines + line);
        assert!(
            r.stderr.contains(&at),
            "{sweep}: expected {at}: {}",
            r.stderr
        );
        for needle in needles {
            assert!(
                r.stderr.contains(needle),
                "{sweep}: {needle:?}: {}",
                r.stderr
            );
        }
        assert!(!out.exists(), "bad input left {}", out.display());
    }
    let r = raas_in(tmp.path(), ["sweep", "sweep.toml", "--shard", "2/2"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("0 ≤ I < N"), "{}", r.stderr);
}

/// A CSV file: header and rows.
fn csv_table(path: &Path) -> Table {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(path, dir.path().join("rounds.csv")).unwrap();
    rounds(dir.path())
}

#[test]
fn list_and_validate_know_sweep_files() {
    let root = workspace_root();
    let r = raas_in(
        &root,
        ["validate", "scenarios/sweeps/loss-x-gossip-cost.toml"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout.contains("ok (sweep: 6 points × 3 seeds)"),
        "{}",
        r.stdout
    );
    let r = raas_in(&root, ["list", "scenarios/sweeps"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(!r.stdout.contains("INVALID"), "{}", r.stdout);
    assert!(r.stdout.contains("sparse-topology.toml"), "{}", r.stdout);
    let tmp = tempfile::tempdir().unwrap();
    let file = write_sweep(tmp.path(), "[sweep]\nseeds = []\n");
    let r = raas_in(tmp.path(), ["validate".as_ref(), file.as_os_str()]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("key `sweep.seeds`"), "{}", r.stderr);
}
