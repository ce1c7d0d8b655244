//! The whole-node determinism digest: a few full [`Node`]s on a perfect
//! radio.
//!
//! The predictor digest of the parent module covers the model and the
//! regime detector; this one covers everything a [`Node`] does behind the
//! [`Runtime`] trait: the wire format (emit, fragmentation, reassembly,
//! parse), delta updates against keyframes, the utility gate, aggregation,
//! reputations and bans, the energy meter and the round clock.
//!
//! ## The run ([`swarm_run`])
//!
//! `nodes` nodes with [`NodeConfig::default`] (only `id`, `seed`,
//! `swarm_size` set) sample once a second for `rounds` rounds of 10 s.
//! Node `i`'s sample at second `s` is the integer sine of the predictor
//! digest, phase-shifted per node, plus uniform noise from
//! `rng::stream(seed, i, DataNoise)`: ±1/16 normally, ±1 during a burst
//! from 40 % to 65 % of the run, so that Calm, PreStorm and Storm all
//! occur. The battery level handed to `handle_energy` falls linearly from
//! 1 to 1/2 over the run.
//!
//! The last node is a scripted liar: after each of its samples the harness
//! overwrites its model with garbage ([`garbage_word`]: ±3.5, the sign
//! alternating by word and by second), so its broadcasts disagree with
//! every aggregate and its peers ban it.
//!
//! The radio is perfect: every frame a node emits through `poll_transmit`
//! (at most [`SwarmParams::mtu`] bytes, so full updates are fragmented) is
//! delivered, in emission order, to every other node by `handle_frame` at
//! the same instant. Nodes are woken exactly at their `poll_at`.
//!
//! ## Ordering contract
//!
//! Within second `s` (instant `t = s` s): every node in id order gets
//! `handle_energy` then `handle_sample` (then, for the liar, the garbage
//! model); then, until the next second, the earliest `poll_at` over all
//! nodes is served, every node due at that instant woken in id order.
//! After every `handle_*` call the node's `poll_transmit` is drained into a
//! FIFO, and the FIFO is delivered before the next instant is served. After
//! each round's last second (`s % 10 == 9`) every node's state is hashed in
//! id order (`hash_node`): weights, telemetry, protocol counters,
//! self-reputation, `poll_at`, and every reputation entry.

use alloc::vec;
use alloc::vec::Vec;

use super::{Fnv64, noise_amplitude, sine};
use crate::node::{AggregationScratch, Node, NodeConfig};
use crate::q::{self, Q};
use crate::rng::{self, Purpose};
use crate::runtime::{NodeId, Runtime};
use crate::time::{Duration, Instant};

/// Parameters of a swarm digest run; [`Default`] is the canonical run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwarmParams {
    /// Seed of every RNG stream. Canonical: 42.
    pub seed: u64,
    /// Nodes, `3..=8`; the last one is the liar. Canonical: 5.
    pub nodes: u32,
    /// Rounds of 10 one-second samples, `1..=1000`. Canonical: 60.
    pub rounds: u32,
    /// Largest frame on the radio, `40..=1500` bytes. Canonical: 40, so
    /// that full updates travel as fragments (checked by a test).
    pub mtu: u32,
    /// Period of the sine in samples, even, `4..=1024`. Canonical: 32.
    pub period_samples: u32,
}

impl Default for SwarmParams {
    fn default() -> Self {
        SwarmParams {
            seed: 42,
            nodes: 5,
            rounds: 60,
            mtu: 40,
            period_samples: 32,
        }
    }
}

/// What a swarm run did, summed over the honest nodes, so that a test can
/// check that the digest covers what it claims to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwarmReport {
    /// The digest.
    pub digest: u64,
    /// Samples spent in Calm, PreStorm, Storm.
    pub samples_by_regime: [u64; 3],
    /// Honest nodes that banned the liar.
    pub liar_banned_by: u32,
    /// Honest nodes that banned an honest peer.
    pub honest_bans: u32,
    /// Updates sent as deltas.
    pub deltas_sent: u32,
    /// Model updates accepted into an inbox.
    pub updates_accepted: u32,
    /// Updates refused (the banned liar's, among others).
    pub updates_refused: u32,
    /// Aggregation rounds completed.
    pub rounds: u32,
    /// Frames put on the radio by every node (fragments counted singly).
    pub frames_sent: u32,
    /// Rounds in which a node (the liar too) broadcast an update.
    pub broadcasts: u32,
    /// Frames rejected by a receiver's `handle_frame`.
    pub frames_rejected: u32,
}

/// Samples per round (the default 10 s round, one sample a second).
const SAMPLES_PER_ROUND: u32 = 10;

/// Frames in flight at one instant: every node's fragments (≤ 4 each).
const QUEUE_MAX: usize = 64;

/// The frames emitted at one instant, delivered in FIFO order. Storage is
/// allocated once.
struct Air {
    bytes: Vec<u8>,
    /// (sender index, length) per queued frame.
    frames: Vec<(usize, usize)>,
    mtu: usize,
    sent: u32,
}

impl Air {
    fn new(mtu: usize) -> Air {
        Air {
            bytes: vec![0; QUEUE_MAX * mtu],
            frames: Vec::with_capacity(QUEUE_MAX),
            mtu,
            sent: 0,
        }
    }

    /// Drains `node`'s `poll_transmit` into the queue.
    fn drain(&mut self, sender: usize, node: &mut Node, now: Instant) {
        // Bounded: a node's outbox holds one frame of at most 4 fragments.
        for _ in 0..=QUEUE_MAX {
            let slot = self.frames.len();
            assert!(slot < QUEUE_MAX, "radio queue overflow");
            let buf = &mut self.bytes[slot * self.mtu..(slot + 1) * self.mtu];
            let Some(tx) = node.poll_transmit(now, buf) else {
                return;
            };
            assert!(tx.len <= self.mtu);
            self.frames.push((sender, tx.len));
            self.sent += 1;
        }
        panic!("poll_transmit never returned None");
    }

    /// Delivers every queued frame to every node but its sender.
    fn deliver(&mut self, nodes: &mut [Node], now: Instant) {
        for (slot, &(sender, len)) in self.frames.iter().enumerate() {
            let frame = &self.bytes[slot * self.mtu..slot * self.mtu + len];
            for (index, node) in nodes.iter_mut().enumerate() {
                if index != sender {
                    // A refusal (the banned liar) is normal operation.
                    let _ = node.handle_frame(now, frame);
                    // Nodes do not transmit on reception; checked here.
                    let mut probe = [0_u8; 0];
                    assert!(node.poll_transmit(now, &mut probe).is_none());
                }
            }
        }
        self.frames.clear();
    }
}

/// The value [`swarm_digest`] must return on every architecture.
///
/// Node behaviour changes often (aggregators, audits, snapshots): when a
/// change of behaviour is intended, run `cargo test -p node-core --lib
/// swarm_digest_is_pinned -- --nocapture`, which prints the new value, and
/// paste it here in the same commit, saying why it changed
/// (docs/cross-arch.md).
pub const SWARM_DIGEST: u64 = 0xc854_d954_9971_188e;

/// The digest of the canonical swarm run, [`SwarmParams::default`].
pub fn swarm_digest() -> u64 {
    swarm_run(&SwarmParams::default()).digest
}

/// Runs the swarm described by `params` (see the module docs).
///
/// # Panics
///
/// If a parameter is outside its documented range (this is a test
/// fixture: a silently clamped parameter would hide a mistake).
pub fn swarm_run(params: &SwarmParams) -> SwarmReport {
    run(params, None).0
}

/// [`swarm_run`], waking every node with `lent` as its aggregation scratch
/// (one for the whole swarm) when given; also returns the nodes.
fn run(
    params: &SwarmParams,
    mut lent: Option<&mut AggregationScratch>,
) -> (SwarmReport, Vec<Node>) {
    assert!((3..=8).contains(&params.nodes), "nodes must be in 3..=8");
    assert!((1..=1000).contains(&params.rounds), "rounds out of range");
    assert!((40..=1500).contains(&params.mtu), "mtu out of range");
    let period = params.period_samples;
    assert!((4..=1024).contains(&period) && period.is_multiple_of(2));
    let mut nodes: Vec<Node> = (0..params.nodes)
        .map(|id| {
            Node::new(NodeConfig {
                id,
                seed: params.seed,
                swarm_size: params.nodes,
                ..NodeConfig::default()
            })
            .expect("the default node configuration is valid")
        })
        .collect();
    let liar = nodes.len() - 1;
    let mut noise: Vec<_> = (0..params.nodes)
        .map(|id| rng::stream(params.seed, id, Purpose::DataNoise))
        .collect();
    let mut air = Air::new(params.mtu as usize);
    let mut hasher = Fnv64::new();
    let mut garbage = vec![q::ZERO; nodes[liar].weights().len()];
    let samples = params.rounds * SAMPLES_PER_ROUND;
    for second in 0..samples {
        let now = Instant::from_secs(u64::from(second));
        // Battery from 1 down to 1/2 over the run.
        let level = q::ONE - q::ratio(second as i32, 2 * samples as i32);
        for (index, node) in nodes.iter_mut().enumerate() {
            let id = index as u32;
            let clean = sine(second + id * period / params.nodes, period);
            let amplitude = noise_amplitude(second, samples);
            let draw = rng::below(&mut noise[index], amplitude.unsigned_abs() * 2 + 1);
            // draw ≤ 2 · 2^16: lossless.
            let sample = clean.saturating_add(q::from_raw(draw as i32 - amplitude));
            node.handle_energy(now, level);
            air.drain(index, node, now);
            node.handle_sample(now, sample);
            air.drain(index, node, now);
            if index == liar {
                for (k, word) in garbage.iter_mut().enumerate() {
                    *word = garbage_word(k as u32, second);
                }
                node.set_local_model(&garbage)
                    .expect("garbage within the weight limit");
            }
        }
        air.deliver(&mut nodes, now);
        let until = now + Duration::from_secs(1);
        serve_wakes(&mut nodes, &mut air, until, lent.as_deref_mut());
        if second % SAMPLES_PER_ROUND == SAMPLES_PER_ROUND - 1 {
            for node in &nodes {
                hash_node(&mut hasher, node);
            }
        }
    }
    (report(&nodes, liar, &air, hasher.finish()), nodes)
}

/// Wakes nodes at their `poll_at`, earliest first, until `until`
/// (exclusive), delivering their frames after each instant.
fn serve_wakes(
    nodes: &mut [Node],
    air: &mut Air,
    until: Instant,
    mut lent: Option<&mut AggregationScratch>,
) {
    // Bounded: each node asks for at most two instants a round (boundary,
    // aggregation), so a second holds at most two per node.
    for _ in 0..=2 * nodes.len() {
        let Some(next) = nodes.iter().filter_map(|n| n.poll_at()).min() else {
            return;
        };
        if next >= until {
            return;
        }
        for (index, node) in nodes.iter_mut().enumerate() {
            if node.poll_at().is_some_and(|at| at <= next) {
                match lent.as_deref_mut() {
                    Some(scratch) => node.handle_wake_lent(next, scratch),
                    None => node.handle_wake(next),
                }
                air.drain(index, node, next);
            }
        }
        air.deliver(nodes, next);
    }
    panic!("more wakes in one second than the round clock allows");
}

/// Word `k` of the liar's model at second `second`: ±3.5 (inside the
/// default weight limit of 4), the sign alternating by word and second.
pub fn garbage_word(k: u32, second: u32) -> Q {
    let magnitude = q::ratio(7, 2);
    if (k + second).is_multiple_of(2) {
        magnitude
    } else {
        -magnitude
    }
}

/// Hashes everything observable of one node (module docs).
fn hash_node(hasher: &mut Fnv64, node: &Node) {
    for weight in node.weights() {
        hasher.write_q(*weight);
    }
    let t = node.telemetry();
    hasher.write_q(t.last_prediction);
    hasher.write_q(t.last_error);
    hasher.write_u64(t.samples);
    hasher.write_u8(t.regime as u8);
    hasher.write_q(t.entropy);
    hasher.write_u64(t.energy_used_uj);
    hasher.write_u32(t.rounds);
    hasher.write_u32(t.frames_rejected);
    hasher.write_u64(t.aggregation_ops);
    let c = node.counters();
    for count in [
        c.updates_accepted,
        c.updates_dropped_full,
        c.updates_refused,
        c.delta_base_missing,
        c.deltas_sent,
        c.broadcasts,
        c.silent_rounds,
        c.aggregation_skipped,
        c.reputation_refused,
    ] {
        hasher.write_u32(count);
    }
    hasher.write_u64(c.aggregation_ops);
    hasher.write_q(node.self_reputation());
    hasher.write_u64(node.poll_at().map_or(u64::MAX, Instant::as_micros));
    for entry in node.reputation().entries() {
        hasher.write_u32(entry.peer);
        hasher.write_q(entry.score);
        hasher.write_u32(entry.last_seen);
        hasher.write_u32(entry.strikes);
        hasher.write_u8(u8::from(entry.banned));
    }
}

fn report(nodes: &[Node], liar: usize, air: &Air, digest: u64) -> SwarmReport {
    let mut report = SwarmReport {
        digest,
        frames_sent: air.sent,
        ..SwarmReport::default()
    };
    let liar_id = liar as NodeId;
    report.broadcasts = nodes.iter().map(|n| n.counters().broadcasts).sum();
    for node in &nodes[..liar] {
        let counters = node.detector().counters();
        for (sum, count) in report
            .samples_by_regime
            .iter_mut()
            .zip(counters.samples_by_regime)
        {
            *sum += count;
        }
        let reputation = node.reputation();
        report.liar_banned_by += u32::from(reputation.is_banned(liar_id));
        report.honest_bans += (0..liar_id)
            .filter(|peer| reputation.is_banned(*peer))
            .count() as u32;
        let c = node.counters();
        report.deltas_sent += c.deltas_sent;
        report.updates_accepted += c.updates_accepted;
        report.updates_refused += c.updates_refused;
        let t = node.telemetry();
        report.rounds += t.rounds;
        report.frames_rejected += t.frames_rejected;
    }
    report
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn swarm_digest_is_pinned() {
        let digest = swarm_digest();
        // Printed so that an intended change of node behaviour is a
        // one-line update of SWARM_DIGEST (docs/cross-arch.md).
        std::println!("swarm digest: {digest:#018x} (SWARM_DIGEST = {SWARM_DIGEST:#018x})");
        assert_eq!(
            digest, SWARM_DIGEST,
            "the whole-node digest changed: if node behaviour changed on purpose, set \
             SWARM_DIGEST in node-core/src/digest/swarm.rs to {digest:#018x} and say why"
        );
    }

    /// One scratch lent to every node of the canonical run gives the same
    /// digest and, node by node, the same weights, telemetry, counters and
    /// reputations, bit for bit, as every node's own scratch; and the
    /// nodes keep none of it.
    #[test]
    fn lent_scratch_gives_the_same_swarm() {
        let params = SwarmParams::default();
        let (own_report, own) = run(&params, None);
        let mut scratch = AggregationScratch::new();
        let (lent_report, lent) = run(&params, Some(&mut scratch));
        assert_eq!(lent_report, own_report);
        assert_eq!(lent_report.digest, SWARM_DIGEST);
        assert!(scratch.heap_bytes() > 0, "the lent scratch was used");
        for (a, b) in own.iter().zip(&lent) {
            assert_eq!(a.weights(), b.weights());
            assert_eq!(a.telemetry(), b.telemetry());
            assert_eq!(a.counters(), b.counters());
            assert_eq!(a.self_reputation(), b.self_reputation());
            assert!(a.reputation().entries().eq(b.reputation().entries()));
            assert!(a.counters().aggregation_ops > 0);
            // The own scratch is the only difference in state.
            assert_eq!(b.own_scratch_bytes(), 0);
            assert!(a.own_scratch_bytes() > 0);
            assert_eq!(a.state_bytes() - b.state_bytes(), a.own_scratch_bytes());
        }
    }

    #[test]
    fn swarm_run_covers_regimes_bans_and_deltas() {
        let params = SwarmParams::default();
        let report = swarm_run(&params);
        std::println!("canonical swarm run: {report:?}");
        let honest = params.nodes - 1;
        assert!(
            report.samples_by_regime.iter().all(|n| *n > 0),
            "a regime was never visited: {report:?}"
        );
        let samples = u64::from(honest * params.rounds * SAMPLES_PER_ROUND);
        assert_eq!(report.samples_by_regime.iter().sum::<u64>(), samples);
        assert_eq!(report.liar_banned_by, honest, "{report:?}");
        assert_eq!(report.honest_bans, 0, "{report:?}");
        assert!(report.deltas_sent > 0, "{report:?}");
        assert!(report.updates_accepted > 0, "{report:?}");
        assert!(report.updates_refused > 0, "the banned liar is refused");
        assert_eq!(report.frames_rejected, report.updates_refused);
        // Every honest node closes a round at every boundary but the
        // last (its aggregation falls after the run).
        assert_eq!(report.rounds, honest * (params.rounds - 1));
        // More frames than updates: full updates crossed as fragments.
        assert!(report.frames_sent > report.broadcasts, "{report:?}");
    }

    #[test]
    fn swarm_digest_depends_on_every_parameter() {
        let base = SwarmParams {
            rounds: 8,
            ..SwarmParams::default()
        };
        let digest = swarm_run(&base).digest;
        assert_eq!(digest, swarm_run(&base).digest);
        for changed in [
            SwarmParams { seed: 43, ..base },
            SwarmParams { nodes: 4, ..base },
            SwarmParams { rounds: 9, ..base },
            SwarmParams { mtu: 250, ..base },
            SwarmParams {
                period_samples: 30,
                ..base
            },
        ] {
            assert_ne!(swarm_run(&changed).digest, digest, "{changed:?}");
        }
    }
}
