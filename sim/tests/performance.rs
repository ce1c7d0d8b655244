//! Issue #18: a run that cannot fit in memory is refused before anything is
//! built (deterministically, through `RAAS_MEMORY_LIMIT_BYTES`), and
//! `raas bench` measures a case end to end.

mod common;

use common::*;

const EXAMPLE: &str = "scenarios/examples/smoothsine-1000.toml";
const LIMIT: &str = "RAAS_MEMORY_LIMIT_BYTES";

#[test]
fn ten_million_nodes_are_refused_with_the_estimate_and_what_to_change() {
    let root = workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_arg = out.to_str().unwrap();
    let validate = ["validate", EXAMPLE, "--set", "nodes=10000000"];
    let run = [
        "run",
        EXAMPLE,
        "--set",
        "nodes=10000000",
        "--quiet",
        "--out",
        out_arg,
    ];
    for args in [&validate[..], &run[..]] {
        let r = raas_with_env(&root, args, &[(LIMIT, "1000000000")]);
        assert_eq!(r.code, Some(2), "raas {args:?}: {r:?}");
        for needle in [
            "needs about",
            "10000000 nodes",
            "1.00 GB are available (RAAS_MEMORY_LIMIT_BYTES)",
            "Lower `nodes` to at most",
        ] {
            assert!(
                r.stderr.contains(needle),
                "{needle:?} missing: {}",
                r.stderr
            );
        }
        assert!(!r.stdout.contains(": ok"), "{}", r.stdout);
    }
    assert!(!out.exists(), "a refused run leaves no directory behind");
}

#[test]
fn the_limit_decides_and_small_runs_pass() {
    let root = workspace_root();
    let big = ["validate", EXAMPLE, "--set", "nodes=10000000"];
    let r = raas_with_env(&root, big, &[(LIMIT, "1000000000000")]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("ok (10000000 nodes"), "{}", r.stdout);
    // The example itself (1,000 nodes) fits in 1 GB; 10^6 nodes do not.
    let r = raas_with_env(&root, ["validate", EXAMPLE], &[(LIMIT, "1000000000")]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let million = ["validate", EXAMPLE, "--set", "nodes=1000000"];
    let r = raas_with_env(&root, million, &[(LIMIT, "1000000000")]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn bench_measures_a_small_case_and_writes_json() {
    let root = workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench.json");
    let args = [
        "bench",
        "--nodes",
        "40",
        "--rounds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let r = raas_in(&root, args);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("overhead"), "{}", r.stdout);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let case = &json["cases"][0];
    assert_eq!(case["nodes"], 40);
    assert_eq!(case["rounds"], 2);
    assert!(case["events"].as_u64().unwrap() > 40 * 2 * 10);
    // The binary counts its allocations, so a node's heap is included.
    let node_bytes = case["node_bytes"].as_u64().unwrap();
    assert!(node_bytes > 1000, "node bytes {node_bytes}");
    assert!(case["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(case["overhead_ratio"].as_f64().unwrap() > 0.0);
    assert!(json["machine"]["cpus"].as_u64().unwrap() >= 1);
    let r = raas_in(&root, ["bench", "--scenarios", "no/such/dir"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("no/such/dir"), "{}", r.stderr);
}
