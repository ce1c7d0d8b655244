//! A node in QEMU changes nothing: a small swarm's `rounds.csv` is byte
//! for byte the same whether node 3 runs in this process or as the
//! bare-metal riscv32imac program `node-core/qemu-node` under
//! `qemu-system-riscv32` (`[run] emulated_nodes = [3]`, docs/cross-arch.md).
//!
//! Skipped, with the reason printed, only when `qemu-system-riscv32` is not
//! installed; when the `CI` environment variable is set a missing QEMU
//! fails the test instead (CI installs it). The node program is (re)built
//! here with cargo, so it always matches the node-core under test.

use std::path::{Path, PathBuf};
use std::process::Command;

use sim::emulated::{self, LocalOrEmulated};
use sim::runner::{self, RunOptions};
use sim::scenario::Scenario;
use sim::world::World;

/// Six nodes on a lossy full mesh with a 64-byte MTU (full updates travel
/// as fragments), 30 rounds of 10 s.
const SCENARIO: &str = r#"
name = "emulated-node"
seed = 3
nodes = 6

[run]
rounds = 30
heldout_samples = 32
EMULATED

[radio]
topology = "full_mesh"
loss_probability = 0.05
mtu_bytes = 64

[dataset]
kind = "smooth_sine"
noise_std = 0.05
"#;

fn scenario_text(emulated: &str) -> String {
    SCENARIO.replace("EMULATED", emulated)
}

/// Whether QEMU is there; fails under CI when it is not.
fn qemu_available() -> bool {
    let found = Command::new(emulated::QEMU)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {} is not installed: the emulated-node check cannot run",
            emulated::QEMU
        );
        println!(
            "SKIPPED: {} not installed; the emulated-node check did not run",
            emulated::QEMU
        );
    }
    found
}

/// Builds `node-core/qemu-node` (a no-op when fresh); returns the program.
fn build_program() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node-core/qemu-node");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--target-dir", "target"])
        .current_dir(&dir)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building node-core/qemu-node failed");
    let program = emulated::default_program();
    assert!(program.is_file(), "{} not built", program.display());
    program
}

fn rounds_csv(text: &str, out: &Path) -> Vec<u8> {
    let options = RunOptions {
        out: Some(out.to_path_buf()),
        ..RunOptions::default()
    };
    let path = Path::new("emulated-node.toml");
    runner::run_text(path, text, &options, &mut |_| {}).expect("the run succeeds");
    std::fs::read(out.join("rounds.csv")).expect("rounds.csv written")
}

#[test]
fn rounds_csv_is_identical_with_node_3_in_qemu() {
    if !qemu_available() {
        return;
    }
    build_program();
    let dir = tempfile::tempdir().unwrap();
    let local = rounds_csv(&scenario_text(""), &dir.path().join("local"));
    let started = std::time::Instant::now();
    let emulated = rounds_csv(
        &scenario_text("emulated_nodes = [3]"),
        &dir.path().join("emulated"),
    );
    println!("emulated run: {:.1} s", started.elapsed().as_secs_f64());
    assert!(local.len() > 1_000, "a real rounds.csv");
    assert!(
        local == emulated,
        "rounds.csv differs with node 3 in QEMU:\n{}\n---\n{}",
        String::from_utf8_lossy(&local),
        String::from_utf8_lossy(&emulated)
    );
}

#[test]
fn emulated_node_reports_its_instructions() {
    if !qemu_available() {
        return;
    }
    build_program();
    let text = scenario_text("emulated_nodes = [3]");
    let scenario = Scenario::parse_with(Path::new("emulated-node.toml"), &text, &[]).unwrap();
    let mut world = World::new(&scenario, scenario.seed, |init| {
        emulated::local_or_emulated_runtime(&scenario, init)
    })
    .unwrap();
    world.run(&mut |_| {}).unwrap();
    let emulated: Vec<_> = world
        .nodes()
        .iter()
        .enumerate()
        .filter_map(|(id, node)| match node {
            LocalOrEmulated::Emulated(n) => Some((id, n)),
            LocalOrEmulated::Local(_) => None,
        })
        .collect();
    assert_eq!(emulated.len(), 1);
    let (id, node) = emulated[0];
    assert_eq!(id, 3);
    let rounds = u64::from(scenario.run.rounds);
    println!(
        "emulated node 3: {} guest instructions in {rounds} rounds = {} per round \
         (riscv32imac, instret under -icount shift=0), {} QEMU round trips",
        node.instructions(),
        node.instructions() / rounds,
        node.requests()
    );
    assert!(node.instructions() > 0);
    assert!(node.requests() > rounds * 10, "every sample is a request");
}

#[test]
fn a_missing_program_or_an_uncarried_setting_is_a_clear_error() {
    let text = scenario_text("emulated_nodes = [3]");
    let scenario = Scenario::parse_with(Path::new("emulated-node.toml"), &text, &[]).unwrap();
    let init = sim::world::NodeInit {
        id: 3,
        seed: 3,
        swarm_size: 6,
        degree: 5,
    };
    let config = scenario
        .node
        .to_core(&init, node_core::time::Duration::from_secs(10));
    let missing = Path::new("/nonexistent/node-core-qemu-node");
    let err = emulated::EmulatedNode::spawn(missing, &config)
        .err()
        .expect("no program");
    let text = err.to_string();
    assert!(text.contains("is not built"), "{text}");
    assert!(text.contains("cargo build --release"), "{text}");
    let adaptive = node_core::node::NodeConfig {
        aggregation: node_core::node::AggregationConfig::Adaptive(Default::default()),
        ..config
    };
    let err = emulated::EmulatedNode::spawn(missing, &adaptive)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("adaptive aggregator"), "{err}");
}

#[test]
fn emulated_node_ids_are_validated() {
    for (value, expected) in [
        ("[6]", "node ids below `nodes` (6)"),
        ("[1, 1]", "each node id at most once"),
    ] {
        let text = scenario_text(&format!("emulated_nodes = {value}"));
        let err = Scenario::parse_with(Path::new("bad.toml"), &text, &[]).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains("emulated_nodes"), "{message}");
        assert!(message.contains(expected), "{message}");
    }
}
