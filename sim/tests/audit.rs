//! `[node.audit]` through the simulator: audit frames go on the simulated
//! radio (counted as `tx_bytes_audit`), honest nodes never fail an audit,
//! audits off send nothing, and bad keys are refused with their name.
//!
//! The `measure_audit_bytes` test prints the audit traffic of the
//! `smoothsine-10` example at the default 3 % share (run with
//! `--nocapture`).

use std::path::Path;

use node_core::node::Node;
use sim::runner;
use sim::scenario::Scenario;
use sim::world::World;

const SCENARIO: &str = r#"
name = "audit-10"
seed = 1
nodes = 10

[run]
rounds = 60
round_period_ms = 10000
sample_period_ms = 1000

[radio]
topology = "full_mesh"
loss_probability = 0.02
mtu_bytes = 250

[dataset]
kind = "smooth_sine"
noise_std = 0.05
"#;

fn run(extra: &str) -> World<Node> {
    let text = format!("{SCENARIO}{extra}");
    let scenario =
        Scenario::parse(Path::new("audit.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let mut world = World::new(&scenario, scenario.seed, |init| {
        runner::node_core_runtime(&scenario, init)
    })
    .unwrap();
    world.run(&mut |_| {}).unwrap();
    world
}

#[test]
fn honest_swarm_passes_every_audit_and_pays_in_audit_bytes() {
    let world = run("\n[node.audit]\nenabled = true\nshare = 0.25\n");
    let last = world.rows().last().unwrap();
    assert!(last.tx_bytes_audit > 0 && last.tx_frames_audit > 0);
    let (mut passed, mut failed, mut sent) = (0, 0, 0);
    for node in world.nodes() {
        let c = node.audit_counters();
        passed += c.passed;
        failed += c.failed;
        sent += c.challenges_sent + c.responses_sent;
        assert_eq!(node.reputation().banned_count(), 0);
    }
    assert_eq!(failed, 0);
    assert!(passed > 100, "{passed}");
    // Every challenge and answer crossed the simulated radio.
    assert_eq!(u64::from(sent), last.tx_frames_audit);
}

#[test]
fn audits_off_send_nothing() {
    let world = run("");
    assert_eq!(world.rows().last().unwrap().tx_bytes_audit, 0);
    for node in world.nodes() {
        assert_eq!(*node.audit_counters(), Default::default());
    }
}

#[test]
fn measure_audit_bytes() {
    let off = run("");
    let on = run("\n[node.audit]\nenabled = true\n");
    let (a, b) = (off.rows().last().unwrap(), on.rows().last().unwrap());
    let rounds = on.rows().len() as f64;
    let challenges: u32 = on
        .nodes()
        .iter()
        .map(|n| n.audit_counters().challenges_sent)
        .sum();
    let passed: u32 = on.nodes().iter().map(|n| n.audit_counters().passed).sum();
    let failed: u32 = on.nodes().iter().map(|n| n.audit_counters().failed).sum();
    let updates = b.tx_bytes_model_update as f64;
    println!(
        "10 nodes, 60 rounds, share 3 %: {challenges} challenges, {passed} passed, {failed} failed; \
         audit {} B ({:.1} B/round, {:.2} % of model-update bytes {}); total bytes off {} on {}",
        b.tx_bytes_audit,
        b.tx_bytes_audit as f64 / rounds,
        100.0 * b.tx_bytes_audit as f64 / updates,
        b.tx_bytes_model_update,
        a.tx_bytes,
        b.tx_bytes,
    );
    assert_eq!(failed, 0);
    assert!(challenges > 0);
}

#[test]
fn bad_audit_keys_are_named() {
    for (extra, key) in [
        (
            "\n[node.audit]\nenabled = true\ndeadline_ms = 20000\n",
            "node.audit.deadline_ms",
        ),
        ("\n[node.audit]\nshare = 1.5\n", "node.audit.share"),
        (
            "\n[node.audit]\nmax_outstanding = 9\n",
            "node.audit.max_outstanding",
        ),
        (
            "\n[node.audit]\nfailures_to_ban = 0\n",
            "node.audit.failures_to_ban",
        ),
    ] {
        let text = format!("{SCENARIO}{extra}");
        let err = Scenario::parse(Path::new("audit.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

/// A node that loses its RAM and reboots from its flash snapshot answers
/// the audits of its next updates from the restored model: brownouts with
/// restores (some tearing a write) cause no failed audit.
#[test]
fn restored_nodes_still_pass_their_audits() {
    let text = format!(
        "{SCENARIO}\n[node.audit]\nenabled = true\nshare = 0.5\n\n[faults]\n\
         ram_on_power_loss = \"lost\"\npersistence = \"flash\"\nsnapshot_every_rounds = 1\n\
         snapshot_write_ms = 20\n\n[[faults.brownout]]\nat_round = 5\nevery_rounds = 10\n\
         count = 5\ndown_ms = 5000\njitter_ms = 40\n"
    );
    let scenario =
        Scenario::parse(Path::new("audit.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let make = |init: &sim::world::NodeInit| runner::node_core_runtime(&scenario, init);
    let mut world = World::new(&scenario, scenario.seed, make).unwrap();
    world.run_with(&mut |_| {}, &mut |init| make(init)).unwrap();
    let (mut passed, mut failed) = (0, 0);
    for node in world.nodes() {
        passed += node.audit_counters().passed;
        failed += node.audit_counters().failed;
        assert_eq!(node.reputation().banned_count(), 0);
    }
    assert_eq!(failed, 0);
    assert!(passed > 50, "{passed}");
}
