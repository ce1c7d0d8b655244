//! The resolved scenario (`scenario.toml` of every run directory) reads
//! back to the very scenario that ran, and `--set` overrides are checked
//! like keys written in the file.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use sim::scenario::{Override, Scenario};

/// Every example scenario and every test fixture.
fn scenario_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        workspace_root().join("scenarios").join("examples"),
        crate_dir().join("tests").join("fixtures"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    files
}

fn round_trip(path: &Path, scenario: &Scenario) {
    let text = scenario.to_toml().unwrap();
    let back = Scenario::parse(Path::new("resolved.toml"), &text).unwrap_or_else(|e| {
        panic!(
            "{}: resolved text does not parse: {e}\n{text}",
            path.display()
        )
    });
    assert_eq!(&back, scenario, "{}:\n{text}", path.display());
    // Stable: resolving the resolved scenario changes nothing.
    assert_eq!(back.to_toml().unwrap(), text, "{}", path.display());
}

#[test]
fn every_example_and_fixture_round_trips_through_its_resolved_toml() {
    for path in scenario_files() {
        let scenario = Scenario::load(&path).unwrap();
        round_trip(&path, &scenario);
    }
}

#[test]
fn presets_storms_harvest_and_ucr_round_trip_with_defaults_written() {
    let text = r#"
name = "rt"
nodes = 8
[node]
preset = "paper"
[energy.harvest]
kind = "solar"
peak_power_mw = 5.0
[dataset]
kind = "smooth_sine"
[[dataset.storms]]
start_s = 10.5
end_s = 20.25
node_range = [0, 4]
noise_std = 0.3
"#;
    let scenario = Scenario::parse(Path::new("rt.toml"), text).unwrap();
    round_trip(Path::new("rt.toml"), &scenario);
    let resolved = scenario.to_toml().unwrap();
    // Defaults and the preset's keys are written out.
    for needle in [
        "loss_probability = 0.0",
        "preset = \"paper\"",
        "gate = \"paper\"",
        "daylight_fraction = 0.5",
        "rule = \"weighted_trimmed_mean\"",
    ] {
        assert!(resolved.contains(needle), "{needle:?} missing:\n{resolved}");
    }
    let ucr = "name = \"u\"\nnodes = 2\n[dataset]\nkind = \"ucr\"\npath = \"A/B.tsv\"\nheldout_path = \"A/C.tsv\"\n";
    let scenario = Scenario::parse(Path::new("u.toml"), ucr).unwrap();
    round_trip(Path::new("u.toml"), &scenario);
}

#[test]
fn overrides_round_trip_too() {
    let sets: Vec<Override> = [
        "nodes=5",
        "radio.loss_probability=0.25",
        "node.step_sizes=[0.05,0.1,0.2]",
        "node.gate=always",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    let scenario = Scenario::load_with(&small_scenario(), &sets).unwrap();
    assert_eq!(scenario.nodes, 5);
    assert_eq!(scenario.radio.loss_probability, 0.25);
    assert_eq!(scenario.node.step_sizes, [0.05, 0.1, 0.2]);
    round_trip(&small_scenario(), &scenario);
}
