//! The engine overhead ratio's denominator: the node-core work of a run
//! called directly in a loop, with no event queue, no radio model, no
//! energy model and no metrics.
//!
//! For every sample instant `t = k · sample_period` (in order): every node
//! whose `poll_at` is due gets `handle_wake_lent(t)` (repeated while wakes fall
//! due, at most [`WAKE_PASSES_MAX`] passes), then every node gets
//! `handle_energy(t, 1)` and `handle_sample(t, observed)` from the run's own
//! dataset; after each input the node's transmissions are drained into one
//! flat buffer, and after each pass every frame is handed to every
//! neighbour of its sender with `handle_frame(t, bytes)` — no loss, no
//! latency. It is the same per-node work as a run (the same samples, one
//! `handle_frame` per neighbour per broadcast, the same wakes), a little
//! more of it (no frame is lost), done at the same instants but without
//! anything that decides *when*: that is what the ratio charges to the
//! engine.

use std::time::Instant as WallClock;

use node_core::node::{AggregationScratch, Node};
use node_core::q;
use node_core::runtime::{Destination, Runtime};
use node_core::time::Instant;

use crate::radio::Radio;
use crate::runner::node_core_runtime;
use crate::scenario::Scenario;
use crate::world::{NodeInit, RunData};

/// Most wake passes at one instant.
pub const WAKE_PASSES_MAX: u32 = 4;
/// Most frames one node may emit for one input (as the world).
const TX_PER_INPUT_MAX: u32 = crate::world::TX_PER_INPUT_MAX;

/// What the direct loop did.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectOutcome {
    /// Wall-clock seconds of the loop (not of building the nodes).
    pub wall_s: f64,
    /// CPU seconds of the loop's thread.
    pub cpu_s: f64,
    /// Inputs handed to nodes (samples, wakes, frames).
    pub inputs: u64,
}

/// Frames emitted during one pass: (sender, destination, start, len) into `bytes`.
#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    frames: Vec<(u32, Destination, usize, usize)>,
}

/// Runs `scenario`'s node work directly (see the module docs).
pub fn run(scenario: &Scenario, seed: u64) -> Result<DirectOutcome, String> {
    let n = scenario.nodes;
    let radio = Radio::new(&scenario.radio, n, seed).map_err(|e| e.to_string())?;
    let topology = radio.topology();
    let data = RunData::build(scenario, topology, seed).map_err(|e| e.to_string())?;
    let mut nodes: Vec<Node> = (0..n)
        .map(|id| {
            let degree = u32::try_from(topology.degree(id)).unwrap_or(u32::MAX);
            let init = NodeInit {
                id,
                seed,
                swarm_size: n,
                degree,
            };
            node_core_runtime(scenario, &init)
        })
        .collect::<Result<_, _>>()?;
    let mut tx_buf = vec![0_u8; scenario.radio.mtu_bytes as usize];
    let mut outbox = Outbox::default();
    let mut inputs = 0_u64;
    // Lent like the world lends it (one per part), so both loops keep the
    // same node state.
    let mut scratch = AggregationScratch::new();
    let sample_period_us = scenario.run.sample_period_us();
    let started = WallClock::now();
    let cpu_started = super::thread_cpu_s();
    for k in 0..scenario.run.samples_per_node() {
        let t = k * sample_period_us;
        let now = Instant::from_micros(t);
        for _ in 0..WAKE_PASSES_MAX {
            let mut woke = false;
            for (id, node) in (0..).zip(nodes.iter_mut()) {
                if node.poll_at().is_some_and(|at| at.as_micros() <= t) {
                    node.handle_wake_lent(now, &mut scratch);
                    drain(node, id, now, &mut tx_buf, &mut outbox)?;
                    inputs += 1;
                    woke = true;
                }
            }
            inputs += deliver(&mut nodes, &radio, now, &mut outbox);
            if !woke {
                break;
            }
        }
        for (id, node) in (0..).zip(nodes.iter_mut()) {
            node.handle_energy(now, q::ONE);
            node.handle_sample(now, data.dataset.sample(id, k).observed);
            drain(node, id, now, &mut tx_buf, &mut outbox)?;
            inputs += 1;
        }
        inputs += deliver(&mut nodes, &radio, now, &mut outbox);
    }
    Ok(DirectOutcome {
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: super::thread_cpu_s() - cpu_started,
        inputs,
    })
}

fn drain(
    node: &mut Node,
    id: u32,
    now: Instant,
    tx_buf: &mut [u8],
    outbox: &mut Outbox,
) -> Result<(), String> {
    for _ in 0..TX_PER_INPUT_MAX {
        let Some(tx) = node.poll_transmit(now, tx_buf) else {
            return Ok(());
        };
        let start = outbox.bytes.len();
        outbox.bytes.extend_from_slice(&tx_buf[..tx.len]);
        outbox.frames.push((id, tx.destination, start, tx.len));
    }
    Err(format!(
        "node {id} emitted more than {TX_PER_INPUT_MAX} frames"
    ))
}

/// Hands every frame of `outbox` to its receivers; returns the frames handed.
fn deliver(nodes: &mut [Node], radio: &Radio, now: Instant, outbox: &mut Outbox) -> u64 {
    let mut handed = 0;
    for &(sender, destination, start, len) in &outbox.frames {
        let bytes = &outbox.bytes[start..start + len];
        match destination {
            Destination::Broadcast => {
                for receiver in radio.topology().neighbours(sender) {
                    // Rejections are part of the node's work, not errors here.
                    let _ = nodes[receiver as usize].handle_frame(now, bytes);
                    handed += 1;
                }
            }
            Destination::Unicast(receiver) => {
                if radio.topology().is_neighbour(sender, receiver) {
                    let _ = nodes[receiver as usize].handle_frame(now, bytes);
                    handed += 1;
                }
            }
        }
    }
    outbox.frames.clear();
    outbox.bytes.clear();
    handed
}
