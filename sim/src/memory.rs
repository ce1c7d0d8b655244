//! Will a run fit in memory? An estimate made before anything is built, so
//! that `raas validate` and `raas run` refuse a run that cannot fit instead
//! of aborting on an allocation failure minutes into it.
//!
//! ## The estimate
//!
//! `bytes = worlds · nodes · (node + bookkeeping(degree)) + rows + base`
//!
//! * `worlds`: the main run plus one per baseline (each is a whole world;
//!   they run at the same time);
//! * `node`: one node runtime, `size_of` plus the heap it owns, measured by
//!   building node 0 (through [`crate::alloc_count`] when the binary counts
//!   its allocations, else `size_of` only);
//! * `bookkeeping(degree)`: the simulator's per-node state: the world's slot
//!   (64 B), energy pools (44 B), radio streams
//!   (2 · `size_of::<WordStream>()`), the adjacency list
//!   (`4 · degree` B), the sine (12 B), pending events
//!   (`(degree + 4)` events of 32 B, doubled for the queue's growth) and one
//!   frame in flight (`mtu + 48` B), the window buffers of the event loop
//!   (`crate::world`: up to `(degree + 4)` popped events of 32 B, one frame
//!   copied out by its part, `mtu + 48` B, and one held-out score, 24 B),
//!   and the held-out cache when it is used (`crate::metrics::heldout`, 4 B
//!   per held-out value);
//! * `rows`: the metrics rows, `rounds · 1 KB`; `base`: 64 MiB for the
//!   binary, the topology build and the allocator's slack.
//!
//! `raas bench` prints the measured bytes per node beside this estimate
//! (docs/performance.md); the estimate is meant to be an upper bound within
//! a factor of about 1.5.
//!
//! The memory available is `MemAvailable` of `/proc/meminfo`, or the
//! environment variable [`LIMIT_ENV`] (bytes) when set, so tests can ask for
//! a small limit deterministically.

use std::fmt;

use crate::radio::word_stream::WordStream;

use crate::radio::topology::TopologyKind;
use crate::scenario::Scenario;
use crate::world::NodeInit;

/// Environment variable overriding the memory available, in bytes.
pub const LIMIT_ENV: &str = "RAAS_MEMORY_LIMIT_BYTES";

/// Process base: binary, topology build, allocator slack.
const BASE_BYTES: u64 = 64 << 20;
/// One metrics row and its share of the output.
const ROW_BYTES: u64 = 1024;
/// Upper bound of one queued event (time, sequence, event).
const EVENT_BYTES: u64 = 32;
/// Events pending per node besides one delivery per neighbour: sample,
/// wake, resume and slack.
const EVENTS_EXTRA: u64 = 4;

/// A run's memory estimate, in parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Nodes per world.
    pub nodes: u64,
    /// Worlds run at once (main run + baselines).
    pub worlds: u64,
    /// Mean radio degree assumed.
    pub degree: u64,
    /// One node runtime (`size_of` + heap), bytes.
    pub node_bytes: u64,
    /// The simulator's state per node, bytes.
    pub bookkeeping_bytes: u64,
    /// Everything, bytes.
    pub total_bytes: u64,
}

impl Estimate {
    /// The estimate for `scenario` with `baselines` extra worlds and node
    /// runtimes of `node_bytes` each.
    pub fn new(scenario: &Scenario, baselines: usize, node_bytes: u64) -> Estimate {
        let nodes = u64::from(scenario.nodes);
        let degree = mean_degree(scenario);
        let heldout_per_node = crate::metrics::heldout::cache_bytes(
            nodes,
            usize::from(scenario.node.window_len),
            scenario.run.heldout_samples as usize,
        ) / nodes.max(1);
        let bookkeeping_bytes =
            bookkeeping_bytes(degree, u64::from(scenario.radio.mtu_bytes)) + heldout_per_node;
        let worlds = 1 + baselines as u64;
        let per_world = nodes.saturating_mul(node_bytes.saturating_add(bookkeeping_bytes));
        let total_bytes = worlds
            .saturating_mul(per_world)
            .saturating_add(u64::from(scenario.run.rounds).saturating_mul(ROW_BYTES))
            .saturating_add(BASE_BYTES);
        Estimate {
            nodes,
            worlds,
            degree,
            node_bytes,
            bookkeeping_bytes,
            total_bytes,
        }
    }

    /// Bytes per node (node runtime + bookkeeping) of one world.
    pub fn per_node_bytes(&self) -> u64 {
        self.node_bytes + self.bookkeeping_bytes
    }

    /// The most nodes that fit in `available` bytes with the same
    /// per-node cost.
    pub fn nodes_fitting(&self, available: u64) -> u64 {
        let per_node = self.worlds * self.per_node_bytes();
        // What does not grow with nodes: the rows and the base.
        let fixed = self
            .total_bytes
            .saturating_sub(self.nodes.saturating_mul(per_node));
        available.saturating_sub(fixed) / per_node.max(1)
    }
}

/// The simulator's bytes per node for a radio `degree` and `mtu` (see the
/// module docs for the parts).
pub fn bookkeeping_bytes(degree: u64, mtu: u64) -> u64 {
    let slot = 64;
    let energy = 44;
    let radio = 2 * std::mem::size_of::<WordStream>() as u64;
    let adjacency = 4 * degree + 8;
    let sine = 12;
    let events = 2 * (degree + EVENTS_EXTRA) * EVENT_BYTES;
    let inflight = mtu + 48;
    let window = (degree + EVENTS_EXTRA) * EVENT_BYTES + mtu + 48 + 24;
    slot + energy + radio + adjacency + sine + events + inflight + window
}

/// The mean number of radio neighbours of `scenario`'s topology.
pub fn mean_degree(scenario: &Scenario) -> u64 {
    let n = u64::from(scenario.nodes);
    let others = n.saturating_sub(1);
    match scenario.radio.topology {
        TopologyKind::FullMesh => others,
        TopologyKind::Grid => u64::from(scenario.radio.k).min(others),
        TopologyKind::RandomGeometric => {
            let r = scenario.radio.range;
            let expected = (n as f64 * std::f64::consts::PI * r * r).ceil() as u64;
            expected.min(others)
        }
    }
}

/// Where the limit came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitSource {
    /// `MemAvailable` of `/proc/meminfo`.
    MemAvailable,
    /// The [`LIMIT_ENV`] environment variable.
    Env,
}

/// The memory a run may use, bytes, and where that figure comes from;
/// `None` when neither source gives one (then nothing is refused).
pub fn available() -> Option<(u64, LimitSource)> {
    if let Ok(text) = std::env::var(LIMIT_ENV) {
        return text.trim().parse().ok().map(|b| (b, LimitSource::Env));
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_available(&meminfo).map(|b| (b, LimitSource::MemAvailable))
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A run that does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooBig {
    /// The estimate.
    pub estimate: Estimate,
    /// The memory available, bytes.
    pub available_bytes: u64,
    /// Where that figure comes from.
    pub source: LimitSource,
}

impl fmt::Display for TooBig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.estimate;
        let source = match self.source {
            LimitSource::MemAvailable => "MemAvailable in /proc/meminfo".to_string(),
            LimitSource::Env => LIMIT_ENV.to_string(),
        };
        write!(
            f,
            "the run needs about {:.2} GB ({} world(s) × {} nodes × {} B per node: {} B node \
             runtime + {} B simulator state at degree {}, plus rounds and a 64 MiB base), but \
             only {:.2} GB are available ({source}). Lower `nodes` to at most {}",
            gb(e.total_bytes),
            e.worlds,
            e.nodes,
            e.per_node_bytes(),
            e.node_bytes,
            e.bookkeeping_bytes,
            e.degree,
            gb(self.available_bytes),
            e.nodes_fitting(self.available_bytes),
        )?;
        if e.worlds > 1 {
            write!(f, ", run fewer baselines")?;
        }
        write!(f, ", or free memory")
    }
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

/// Refuses `estimate` if it exceeds the memory [`available`].
pub fn check(estimate: Estimate) -> Result<(), TooBig> {
    match available() {
        Some((available_bytes, source)) if estimate.total_bytes > available_bytes => Err(TooBig {
            estimate,
            available_bytes,
            source,
        }),
        _ => Ok(()),
    }
}

/// The estimate for `scenario` whose node runtimes `make` builds: node 0
/// is built once and measured ([`measure_bytes`]); a node that cannot be
/// built counts `size_of::<R>()` (the run reports that error itself).
pub fn estimate_with<R>(
    scenario: &Scenario,
    baselines: usize,
    seed: u64,
    make: &impl Fn(&Scenario, &NodeInit) -> Result<R, String>,
) -> Estimate {
    let init = NodeInit {
        id: 0,
        seed,
        swarm_size: scenario.nodes,
        degree: u32::try_from(mean_degree(scenario)).unwrap_or(u32::MAX),
    };
    let node_bytes =
        measure_bytes(|| make(scenario, &init)).unwrap_or(std::mem::size_of::<R>() as u64);
    Estimate::new(scenario, baselines, node_bytes)
}

/// Heap plus `size_of` of a value built by `build`, measured with the
/// counting allocator when installed, else `size_of::<T>()`.
pub fn measure_bytes<T, E>(build: impl FnOnce() -> Result<T, E>) -> Result<u64, E> {
    let before = crate::alloc_count::live_bytes();
    let value = build()?;
    let after = crate::alloc_count::live_bytes();
    let heap = if crate::alloc_count::installed() {
        after.saturating_sub(before) as u64
    } else {
        0
    };
    drop(value);
    Ok(std::mem::size_of::<T>() as u64 + heap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_parses() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n";
        assert_eq!(parse_meminfo_available(text), Some(1_024_000));
        assert_eq!(parse_meminfo_available("MemTotal: 5 kB\n"), None);
    }

    #[test]
    fn estimate_grows_with_nodes_degree_and_worlds() {
        let small = bookkeeping_bytes(8, 250);
        assert!(bookkeeping_bytes(64, 250) > small);
        // The simulator's state at degree 8 stays within a few kilobytes.
        assert!((1000..4096).contains(&small), "{small}");
        let text = "name = \"x\"\nnodes = 1000\n[radio]\ntopology = \"grid\"\nk = 8\n";
        let mut s = Scenario::parse(std::path::Path::new("x.toml"), text).unwrap();
        let a = Estimate::new(&s, 0, 1000);
        assert_eq!(a.degree, 8);
        s.nodes = 2000;
        let b = Estimate::new(&s, 0, 1000);
        let c = Estimate::new(&s, 1, 1000);
        assert!(b.total_bytes > a.total_bytes && c.total_bytes > b.total_bytes);
        assert_eq!(c.worlds, 2);
        assert_eq!(b.nodes_fitting(b.total_bytes), 2000);
        assert_eq!(b.nodes_fitting(b.total_bytes - 1), 1999);
    }
}
