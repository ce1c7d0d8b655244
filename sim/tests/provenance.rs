//! Results record what made them: the resolved scenario, `--set`
//! overrides, the commit of the binary; and a run never silently replaces
//! the results of a different one.

mod common;

use std::path::Path;

use common::*;
use sim::scenario::Scenario;

fn run_args(tmp: &Path, out: &Path, extra: &[&str]) -> Raas {
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        small_scenario().into(),
        "-q".into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(Into::into));
    raas_in(tmp, args)
}

#[test]
fn the_resolved_scenario_reads_back_to_the_scenario_that_ran() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = run_args(tmp.path(), &out, &["--baseline", "isolated"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let resolved = out.join("scenario.toml");
    assert_eq!(
        Scenario::load(&resolved).unwrap(),
        Scenario::load(&small_scenario()).unwrap()
    );
    // The baseline's is its own variant: the radio off.
    let baseline = Scenario::load(&out.join("baseline-isolated/scenario.toml")).unwrap();
    assert_eq!(baseline.radio.loss_probability, 1.0);
    assert_eq!(
        entries(&out.join("baseline-isolated")),
        ["rounds.csv", "scenario.toml", "summary.json"]
    );
    // Running the resolved file repeats the run bit for bit.
    let again = tmp.path().join("again");
    let r = raas_in(
        tmp.path(),
        [
            "run".as_ref(),
            resolved.as_os_str(),
            "-q".as_ref(),
            "--out".as_ref(),
            again.as_os_str(),
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(read(&again, "rounds.csv"), read(&out, "rounds.csv"));
}

#[test]
fn set_changes_the_run_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    let set = tmp.path().join("set");
    assert_eq!(run_args(tmp.path(), &plain, &[]).code, Some(0));
    let args = [
        "--set",
        "nodes=4",
        "--set",
        "radio.loss_probability=0.25",
        "--set",
        "node.step_sizes=[0.05,0.1,0.2]",
    ];
    let r = run_args(tmp.path(), &set, &args);
    assert_eq!(r.code, Some(0), "{r:?}");
    let s = summary(&set);
    assert_eq!(s["nodes"], 4);
    assert_eq!(
        s["overrides"],
        serde_json::json!([
            "nodes=4",
            "radio.loss_probability=0.25",
            "node.step_sizes=[0.05,0.1,0.2]"
        ])
    );
    assert_eq!(summary(&plain)["overrides"], serde_json::json!([]));
    assert_ne!(s["scenario_hash"], summary(&plain)["scenario_hash"]);
    let resolved = Scenario::load(&set.join("scenario.toml")).unwrap();
    assert_eq!(resolved.nodes, 4);
    assert_eq!(resolved.radio.loss_probability, 0.25);
    assert_eq!(resolved.node.step_sizes, [0.05, 0.1, 0.2]);
    // Deterministic with the overrides too.
    let twice = tmp.path().join("twice");
    assert_eq!(run_args(tmp.path(), &twice, &args).code, Some(0));
    for name in ["rounds.csv", "summary.json", "scenario.toml"] {
        assert_eq!(read(&set, name), read(&twice, name), "{name}");
    }
}

#[test]
fn bad_set_arguments_exit_2_naming_the_argument_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cases: [(&str, &[&str]); 6] = [
        ("radio.no_such_key=1", &["no_such_key", "unknown field"]),
        (
            "radio.loss_probability=1.5",
            &["radio.loss_probability", "probability"],
        ),
        ("nodes=many", &["`nodes`", "expected u32"]),
        ("nodes.x=1", &["`nodes`", "not a table"]),
        (
            "run.round_period_ms=1",
            &["run.round_period_ms", "at least"],
        ),
        ("no_equals_sign", &["KEY=VALUE"]),
    ];
    for (arg, needles) in cases {
        let r = run_args(tmp.path(), &out, &["--set", arg]);
        assert_eq!(r.code, Some(2), "--set {arg}: {r:?}");
        assert!(r.stderr.contains(arg), "--set {arg}: {}", r.stderr);
        for needle in needles {
            assert!(
                r.stderr.contains(needle),
                "--set {arg}: {needle:?} in {}",
                r.stderr
            );
        }
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    assert_eq!(
        entries(tmp.path()),
        Vec::<String>::new(),
        "something was written"
    );
}

#[test]
fn validate_takes_set_too() {
    let tmp = tempfile::tempdir().unwrap();
    let file = small_scenario();
    let file = file.to_str().unwrap();
    let r = raas_in(tmp.path(), ["validate", file, "--set", "nodes=7"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("7 nodes"), "{}", r.stdout);
    let r = raas_in(tmp.path(), ["validate", file, "--set", "energy.capacity=1"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("--set energy.capacity=1"), "{}", r.stderr);
}

#[test]
fn a_different_run_is_not_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(
        run_args(tmp.path(), &out, &["--baseline", "isolated"]).code,
        Some(0)
    );
    let before = read(&out, "summary.json");
    // The same scenario and seed again: allowed, and the same bytes.
    assert_eq!(
        run_args(tmp.path(), &out, &["--baseline", "isolated"]).code,
        Some(0)
    );
    assert_eq!(read(&out, "summary.json"), before);
    // Another seed, or an override: refused, nothing touched.
    for extra in [&["--seed", "5"][..], &["--set", "nodes=3"]] {
        let r = run_args(tmp.path(), &out, extra);
        assert_eq!(r.code, Some(2), "{extra:?}: {r:?}");
        for needle in ["different run", "--force", "--out", "seed 1"] {
            assert!(r.stderr.contains(needle), "{needle:?} in {}", r.stderr);
        }
        assert_eq!(read(&out, "summary.json"), before);
    }
    // A summary.json that is not ours is refused too.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("summary.json"), b"{ not json").unwrap();
    let r = run_args(tmp.path(), &foreign, &[]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(!foreign.join("rounds.csv").exists());
    // --force overwrites, and clears the baseline this run does not make.
    let r = run_args(tmp.path(), &out, &["--seed", "5", "--force"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(summary(&out)["seed"], 5);
    assert_eq!(entries(&out), RESULT_FILES);
}

#[test]
fn timing_names_the_commit_of_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(run_args(tmp.path(), &out, &[]).code, Some(0));
    // Kept out of summary.json, which must not change with the commit.
    assert!(summary(&out).get("git_commit").is_none());
    let s: serde_json::Value =
        serde_json::from_slice(&read(&out, "timing.json")).expect("timing.json is JSON");
    let commit = s["git_commit"].as_str().expect("git_commit is a string");
    let is_hex = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(is_hex || commit == "unknown", "{commit:?}");
    assert!(
        s["git_dirty"].is_boolean() || s["git_dirty"].is_null(),
        "{s}"
    );
    assert_eq!(commit, sim::summary::git_commit());
}
