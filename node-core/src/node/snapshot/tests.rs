//! Snapshot/restore of a [`Node`]: exact continuation, the forced keyframe,
//! validation of every byte, and a node saved through a [`TwoSlotStore`]
//! cut at every byte.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::aggregate::Rule;
use crate::gossip::GateMode;
use crate::node::NodeConfig;
use crate::runtime::Runtime;
use crate::storage::{RamFlash, StateStore, TwoSlotStore};
use crate::time::Duration;
use crate::wire::{FrameRepr, MTU_ESPNOW, Message};

const NODES: u32 = 4;

fn config(id: NodeId, tweak: &dyn Fn(&mut NodeConfig)) -> NodeConfig {
    let mut c = NodeConfig {
        id,
        seed: 11,
        swarm_size: NODES,
        ..NodeConfig::default()
    };
    tweak(&mut c);
    c
}

/// A sine of period 32 samples plus node-dependent noise, loud in
/// `40..80 s` (so the regime leaves Calm) — integer math only.
fn signal(node: u32, t: u64) -> Q {
    let table = [0, 12785, 25080, 36410, 46341, 54491, 60547, 64277, 65536];
    let i = (t % 32) as usize;
    let sine = match i {
        0..=8 => table[i],
        9..=16 => table[16 - i],
        17..=24 => -table[i - 16],
        _ => -table[32 - i],
    };
    let mut x = (u64::from(node) << 32 | t).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    let noise = (x % 8192) as i32 - 4096;
    let loud = if (40..80).contains(&t) { 40 } else { 1 };
    Q::from_bits(sine + noise * loud)
}

/// What a node did at one event: frames sent and observable state.
#[derive(Debug, PartialEq)]
struct Observed {
    frames: Vec<Vec<u8>>,
    weights: Vec<Q>,
    prediction: Q,
    error: Q,
    regime: crate::regime::Regime,
    entropy: Q,
    rounds: u32,
    poll_at: Option<Instant>,
    self_reputation: Q,
    snapshot: Vec<u8>,
}

fn observe(node: &Node, frames: Vec<Vec<u8>>) -> Observed {
    let t = node.telemetry();
    let mut snapshot = vec![0; node.snapshot_len()];
    let len = node.snapshot(&mut snapshot).unwrap();
    assert_eq!(len, snapshot.len());
    Observed {
        frames,
        weights: node.weights().to_vec(),
        prediction: t.last_prediction,
        error: t.last_error,
        regime: t.regime,
        entropy: t.entropy,
        rounds: t.rounds,
        poll_at: node.poll_at(),
        self_reputation: node.self_reputation(),
        snapshot,
    }
}

/// Runs `NODES` nodes on a lossless full mesh for `seconds`, one sample
/// per second, rounds of 10 s with the aggregation 500 ms after each
/// boundary. At event `restore_at` (an index into the event sequence),
/// node 0 is snapshotted and replaced by a fresh node restored from it.
/// Returns node 0's observations at every event.
fn run(seconds: u64, restore_at: Option<usize>, tweak: &dyn Fn(&mut NodeConfig)) -> Vec<Observed> {
    let mut nodes: Vec<Node> = (0..NODES)
        .map(|id| Node::new(config(id, tweak)).unwrap())
        .collect();
    let mut observed = Vec::new();
    let mut event = 0usize;
    for second in 0..seconds {
        let now = Instant::from_secs(second);
        for (id, node) in nodes.iter_mut().enumerate() {
            node.handle_sample(now, signal(id as u32, second));
        }
        for at in [now, now + Duration::from_millis(500)] {
            if restore_at == Some(event) {
                let mut bytes = vec![0; Node::snapshot_len_max(nodes[0].config())];
                let len = nodes[0].snapshot(&mut bytes).unwrap();
                let mut fresh = Node::new(config(0, tweak)).unwrap();
                fresh.restore(&bytes[..len]).unwrap();
                nodes[0] = fresh;
            }
            let mut frames: Vec<(usize, Vec<u8>)> = Vec::new();
            for (id, node) in nodes.iter_mut().enumerate() {
                if node.poll_at().is_some_and(|p| p <= at) {
                    node.handle_wake(at);
                }
                let mut buf = [0u8; MTU_ESPNOW];
                while let Some(tx) = node.poll_transmit(at, &mut buf) {
                    frames.push((id, buf[..tx.len].to_vec()));
                }
            }
            for (from, frame) in &frames {
                for (id, node) in nodes.iter_mut().enumerate() {
                    if id != *from {
                        let _ = node.handle_frame(at, frame);
                    }
                }
            }
            let own = frames
                .iter()
                .filter(|(from, _)| *from == 0)
                .map(|(_, f)| f.clone())
                .collect();
            observed.push(observe(&nodes[0], own));
            event += 1;
        }
    }
    observed
}

fn full_updates(c: &mut NodeConfig) {
    c.delta.enabled = false;
}

#[test]
fn snapshot_size_of_the_default_config() {
    let node = Node::new(NodeConfig::default()).unwrap();
    assert_eq!(node.snapshot_len(), 314);
    assert_eq!(Node::snapshot_len_max(&NodeConfig::default()), 986);
    let mut buf = [0u8; 986];
    assert_eq!(node.snapshot(&mut buf), Ok(314));
    assert_eq!(
        node.snapshot(&mut buf[..313]),
        Err(SnapshotError::BufferTooSmall { needed: 314 })
    );
}

#[test]
fn restored_node_continues_bit_for_bit() {
    // 240 s = 480 events (event 2s is second s before its wake, 2s + 1 is
    // s + 0.5). Restore between rounds — before a boundary's wake (100,
    // 140, 160), between samples (3, 163, 443), during the detector's
    // warm-up and in the loud stretch — where the round's inbox is empty.
    // Inside a collection window, see `restore_inside_a_collection_window_
    // loses_that_rounds_inbox`.
    let reference = run(240, None, &full_updates);
    assert!(
        reference
            .iter()
            .any(|o| o.regime != crate::regime::Regime::Calm),
        "the signal must leave Calm for the test to cover the detector"
    );
    for restore_at in [3, 40, 100, 140, 160, 163, 300, 443] {
        let restored = run(240, Some(restore_at), &full_updates);
        for (event, (a, b)) in reference.iter().zip(&restored).enumerate() {
            assert_eq!(
                a, b,
                "restore at event {restore_at}, differs at event {event}"
            );
        }
    }
}

#[test]
fn restore_inside_a_collection_window_loses_that_rounds_inbox() {
    // Event 101 is 50.5 s: the models heard at the 50 s boundary wait in
    // the inbox, which is not persisted. The restored node closes the round
    // without them — same round count, different weights — and says so
    // beforehand through `round_in_progress`.
    let reference = run(60, None, &full_updates);
    let restored = run(60, Some(101), &full_updates);
    assert_eq!(reference[100], restored[100]);
    let (a, b) = (&reference[101], &restored[101]);
    assert_eq!(a.rounds, b.rounds);
    assert_ne!(a.weights, b.weights, "the inbox was lost");
    let mut node = Node::new(config(0, &full_updates)).unwrap();
    node.restore(&reference[100].snapshot).unwrap();
    assert!(node.round_in_progress());
    node.restore(&reference[101].snapshot).unwrap();
    assert!(!node.round_in_progress());
}

#[test]
fn restored_node_sends_a_full_keyframe_first() {
    // Deltas on (the default): the original sends a delta where the
    // restored node must send a full keyframe.
    let tweak = |c: &mut NodeConfig| c.gossip.mode = GateMode::Always;
    let reference = run(60, None, &tweak);
    let restore_at = 2 * 25; // second 25, before the boundary at 30 s
    let restored = run(60, Some(restore_at), &tweak);
    let first_update = |observed: &[Observed]| -> (bool, u32) {
        let frame = observed[restore_at..]
            .iter()
            .find_map(|o| o.frames.first().cloned())
            .expect("an update after the restore");
        match FrameRepr::parse(&frame).unwrap().message {
            Message::ModelUpdate(update) => (update.delta, update.base_round),
            other => panic!("unexpected {other:?}"),
        }
    };
    let (reference_delta, _) = first_update(&reference);
    let (restored_delta, base_round) = first_update(&restored);
    assert!(reference_delta, "the original would have sent a delta");
    assert!(!restored_delta, "the restored node sends a keyframe");
    assert_eq!(base_round, 3);
    // Up to its first broadcast the restored node is the original.
    assert_eq!(
        reference[restore_at].snapshot,
        restored[restore_at].snapshot
    );
}

fn trained_snapshot() -> (NodeConfig, Vec<u8>) {
    // A node that has heard peers, so the tables are non-empty.
    let observed = run(50, None, &|c| c.gossip.mode = GateMode::Always);
    let bytes = observed.last().unwrap().snapshot.clone();
    (config(0, &|c| c.gossip.mode = GateMode::Always), bytes)
}

#[test]
fn trained_snapshot_has_the_documented_size() {
    let (config, bytes) = trained_snapshot();
    let node = Node::new(config).unwrap();
    // 3 peers in both tables: 314 + 17·3 + 4·3.
    assert_eq!(bytes.len(), 314 + 17 * 3 + 4 * 3);
    let mut restored = Node::new(node.config().clone()).unwrap();
    restored.restore(&bytes).unwrap();
    assert_eq!(restored.reputation().len(), 3);
}

/// `restore` of `bytes` either fails leaving the node unchanged, or
/// succeeds; either way the node keeps running without a panic.
fn restore_and_run(config: &NodeConfig, bytes: &[u8]) -> bool {
    let mut node = Node::new(config.clone()).unwrap();
    let before = observe(&node, Vec::new());
    let ok = match node.restore(bytes) {
        Ok(()) => true,
        Err(error) => {
            assert_eq!(error, SnapshotError::Invalid);
            assert_eq!(observe(&node, Vec::new()), before, "unchanged on error");
            false
        }
    };
    let mut buf = [0u8; MTU_ESPNOW];
    for second in 0..25u64 {
        let now = Instant::from_secs(10_000 + second);
        node.handle_sample(now, signal(0, second));
        node.handle_wake(now);
        while node.poll_transmit(now, &mut buf).is_some() {}
        node.handle_wake(now + Duration::from_millis(500));
    }
    ok
}

/// Overwrites `bytes[offset]` with `value` and fixes the CRC, so the
/// mutation reaches the field checks.
fn mutate(bytes: &[u8], offset: usize, value: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[offset] = value;
    let end = out.len() - 4;
    let checksum = crc::checksum(&out[..end]);
    out[end..].copy_from_slice(&checksum.to_le_bytes());
    out
}

#[test]
fn every_corrupted_byte_is_refused_or_harmless() {
    let (config, bytes) = trained_snapshot();
    assert!(restore_and_run(&config, &bytes));
    let end = bytes.len() - 4;
    for offset in 0..bytes.len() {
        // Without fixing the CRC: always refused.
        let mut flipped = bytes.clone();
        flipped[offset] ^= 0x10;
        assert!(!restore_and_run(&config, &flipped), "offset {offset}");
    }
    let mut accepted = 0;
    for offset in 0..end {
        for value in [0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, bytes[offset] ^ 0x01] {
            accepted += usize::from(restore_and_run(&config, &mutate(&bytes, offset, value)));
        }
    }
    // Many words (weights, samples, ids) accept any value in range.
    assert!(accepted > 0);
    for len in 0..bytes.len() {
        assert!(!restore_and_run(&config, &bytes[..len]), "prefix {len}");
    }
}

#[test]
fn header_mismatches_are_refused() {
    let (config, bytes) = trained_snapshot();
    let refused = |tweak: &dyn Fn(&mut NodeConfig)| {
        let mut c = config.clone();
        tweak(&mut c);
        let mut node = Node::new(c).unwrap();
        node.restore(&bytes) == Err(SnapshotError::Invalid)
    };
    assert!(refused(&|c| c.id = 1));
    assert!(refused(&|c| c.model.window_len = 4));
    assert!(refused(&|c| c.entropy.window_len = 32));
    // Tables smaller than the snapshot's, a tighter weight limit.
    assert!(refused(&|c| c.reputation.max_peers = 2));
    assert!(refused(&|c| c.delta.tracked_peers = 2));
    assert!(refused(&|c| c.model.weight_limit = q::ratio(1, 1000)));
    // A different gossip rule is not part of the layout: accepted.
    assert!(!refused(
        &|c| c.aggregation = AggregationConfig::Rule(Rule::Mean)
    ));
}

#[test]
fn realign_clock_moves_onto_the_grid() {
    let (config, bytes) = trained_snapshot();
    let mut node = Node::new(config).unwrap();
    node.restore(&bytes).unwrap();
    assert!(node.poll_at().unwrap() > Instant::from_secs(40));
    // A firmware host whose clock restarted: at 3 s of this boot.
    node.realign_clock(Instant::from_secs(3));
    assert_eq!(node.poll_at(), Some(Instant::from_secs(10)));
    node.realign_clock(Instant::from_secs(25));
    assert_eq!(node.poll_at(), Some(Instant::from_secs(30)));
}

#[test]
fn node_snapshot_survives_a_power_cut_at_every_byte() {
    // The first snapshot is saved whole; the save of the second is cut
    // after every byte: a restore always sees the first or the second,
    // never anything else, and restores it.
    let early = run(20, None, &|_| {});
    let late = run(60, None, &|_| {});
    let first = &early.last().unwrap().snapshot;
    let second = &late.last().unwrap().snapshot;
    assert_ne!(first, second);
    let slot_len = Node::snapshot_len_max(&NodeConfig::default()) + crate::storage::RECORD_OVERHEAD;
    let mut base = TwoSlotStore::new(RamFlash::new(2, slot_len)).unwrap();
    base.save(first).unwrap();
    let cost = slot_len + crate::storage::record_len(second.len());
    for n in 0..=cost {
        let mut store = TwoSlotStore::new(base.flash().clone()).unwrap();
        store.flash_mut().cut_after_bytes(n);
        let saved = store.save(second).is_ok();
        let mut buf = vec![0u8; slot_len];
        let loaded = store.load(&mut buf).unwrap().expect("a snapshot survives");
        let bytes = &buf[..loaded.len];
        assert_eq!(
            bytes,
            if saved { &second[..] } else { &first[..] },
            "cut after {n}"
        );
        let mut node = Node::new(config(0, &|_| {})).unwrap();
        node.restore(bytes).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Arbitrary bytes: refused without a panic, node unchanged.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let config = NodeConfig::default();
        restore_and_run(&config, &bytes);
    }

    /// A valid snapshot with up to 4 random bytes changed and the CRC fixed.
    #[test]
    fn mutated_snapshots_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
    ) {
        let (config, bytes) = trained_snapshot();
        let mut mutated = bytes.clone();
        for (index, value) in edits {
            let offset = index.index(bytes.len() - 4);
            mutated = mutate(&mutated, offset, value);
        }
        restore_and_run(&config, &mutated);
    }
}
