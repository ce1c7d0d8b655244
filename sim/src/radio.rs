//! The shared medium: who hears a frame, whether it arrives, and when.
//!
//! A transmission is one frame put on the air by one sender. A broadcast
//! reaches every neighbour in the [`topology`]; a unicast reaches one
//! neighbour. Each receiver independently loses the frame with
//! `loss_probability` (drawn from *its own* `RadioLoss` stream) and otherwise
//! gets it after `airtime + latency_base_us + jitter`, jitter uniform in
//! `[0, latency_jitter_us]` drawn from *its own* `RadioJitter` stream.
//!
//! Known simplification: there is no collision, contention, carrier-sense or
//! half-duplex model. Transmissions never interfere, and a node can send
//! and receive any number of frames at once; airtime only adds delay.
//!
//! Nothing is allocated per transmission: deliveries are handed to a
//! caller-supplied closure, and all state lives in per-node `Vec`s.

pub mod counters;
pub mod topology;
pub mod word_stream;

use std::fmt;

use node_core::rng::{Purpose, below, chance};
use node_core::runtime::{Destination, FrameKind, NodeId};
use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};
use counters::{Counters, PerKind, RadioTotals};
use topology::{Topology, TopologyError, TopologyKind, TopologySpec};
use word_stream::WordStream;

/// Largest accepted `grid` `k`.
pub const MAX_K: u32 = 1024;
/// Largest accepted latency base or jitter (one hour), in µs.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Largest accepted MTU, in bytes.
pub const MAX_MTU_BYTES: u32 = 65_535;

/// The `[radio]` section of a scenario.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadioConfig {
    /// Topology kind. Default `full_mesh`.
    pub topology: TopologyKind,
    /// `grid` only: nearest neighbours each node links to. Default 8.
    pub k: u32,
    /// `random_geometric` only: link range in unit-square side lengths.
    /// Default 0.1.
    pub range: f64,
    /// Probability that one receiver loses one frame. Default 0.0.
    pub loss_probability: f64,
    /// Fixed propagation and processing delay per delivery. Default 1000 µs.
    pub latency_base_us: u64,
    /// Extra uniform delay in `[0, latency_jitter_us]` per delivery.
    /// Default 500 µs.
    pub latency_jitter_us: u64,
    /// Largest payload per frame. Default 250 B (ESP-NOW v1; Wi-Fi is 1500).
    pub mtu_bytes: u32,
    /// Link bit rate used for airtime. Default 1 000 000 bit/s (ESP-NOW's
    /// default 1 Mbit/s rate).
    pub bitrate_bps: u64,
    /// PHY/MAC header and preamble bytes added to each frame's airtime (not
    /// to the MTU nor to byte counters). Default 0: airtime counts payload
    /// only.
    pub per_frame_overhead_bytes: u32,
}

impl Default for RadioConfig {
    fn default() -> RadioConfig {
        RadioConfig {
            topology: TopologyKind::FullMesh,
            k: 8,
            range: 0.1,
            loss_probability: 0.0,
            latency_base_us: 1_000,
            latency_jitter_us: 500,
            mtu_bytes: 250,
            bitrate_bps: 1_000_000,
            per_frame_overhead_bytes: 0,
        }
    }
}

impl Validate for RadioConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("k", self.k, 1, MAX_K);
        let range_ok = self.range.is_finite() && self.range > 0.0 && self.range <= 2_f64.sqrt();
        v.require(range_ok, "range", "a finite number in (0, √2]", self.range);
        v.probability("loss_probability", self.loss_probability);
        v.range("latency_base_us", self.latency_base_us, 0, MAX_LATENCY_US);
        v.range(
            "latency_jitter_us",
            self.latency_jitter_us,
            0,
            MAX_LATENCY_US,
        );
        // node-core cannot frame anything below its MIN_MTU (it would send nothing).
        v.range(
            "mtu_bytes",
            self.mtu_bytes,
            node_core::wire::MIN_MTU as u32,
            MAX_MTU_BYTES,
        );
        v.range("bitrate_bps", self.bitrate_bps, 1, 1_000_000_000_000);
        v.range(
            "per_frame_overhead_bytes",
            self.per_frame_overhead_bytes,
            0,
            MAX_MTU_BYTES,
        );
    }
}

impl RadioConfig {
    /// The topology these keys describe.
    pub fn topology_spec(&self) -> TopologySpec {
        match self.topology {
            TopologyKind::FullMesh => TopologySpec::FullMesh,
            TopologyKind::Grid => TopologySpec::Grid { k: self.k },
            TopologyKind::RandomGeometric => TopologySpec::RandomGeometric { range: self.range },
        }
    }

    /// Airtime of a `len_bytes` payload:
    /// `ceil((len + overhead) · 8 · 10^6 / bitrate)` µs.
    pub fn airtime_us(&self, len_bytes: u32) -> u64 {
        let bits = (u64::from(len_bytes) + u64::from(self.per_frame_overhead_bytes)) * 8;
        (bits * 1_000_000).div_ceil(self.bitrate_bps.max(1))
    }

    /// `loss_probability` as a threshold on a uniform `u32` draw.
    fn loss_threshold(&self) -> u64 {
        (self.loss_probability.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64
    }
}

/// Why a radio could not be built.
#[derive(Clone, Debug, PartialEq)]
pub enum RadioError {
    /// The configuration breaks a rule; each violation says which.
    Invalid(Vec<crate::validate::Violation>),
    /// The topology could not be built.
    Topology(TopologyError),
}

impl fmt::Display for RadioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RadioError::Invalid(violations) => {
                crate::validate::write_violations(f, "radio", violations)
            }
            RadioError::Topology(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RadioError {}

/// Why a frame was refused before transmission (nothing is sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransmitError {
    /// The payload exceeds the MTU.
    OverMtu {
        /// Payload length.
        len_bytes: u32,
        /// The radio's MTU.
        mtu_bytes: u32,
    },
    /// The sender id is not a node of this radio.
    UnknownSender {
        /// The offending id.
        sender: NodeId,
    },
}

impl fmt::Display for TransmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransmitError::OverMtu {
                len_bytes,
                mtu_bytes,
            } => write!(f, "frame of {len_bytes} B exceeds the {mtu_bytes} B MTU"),
            TransmitError::UnknownSender { sender } => write!(f, "unknown sender node {sender}"),
        }
    }
}

impl std::error::Error for TransmitError {}

/// One frame arriving at one receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Who gets the frame.
    pub receiver: NodeId,
    /// When it arrives, in µs of simulated time.
    pub at_us: u64,
}

/// What became of one transmission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxReport {
    /// Time on air, µs (for the sender's energy accounting).
    pub airtime_us: u64,
    /// Deliveries handed to the closure.
    pub delivered: u64,
    /// Receivers whose copy the channel dropped.
    pub lost: u64,
    /// A unicast to a node that is not a neighbour (sent, but nobody hears).
    pub undeliverable: bool,
}

/// The radio medium of one run.
#[derive(Debug)]
pub struct Radio {
    topology: Topology,
    channel: Channel,
}

/// Everything but the topology, so a broadcast can borrow both at once.
#[derive(Debug)]
struct Channel {
    config: RadioConfig,
    loss_threshold: u64,
    seed: u64,
    /// Per receiver, its `RadioLoss` and `RadioJitter` streams (72 B each,
    /// [`word_stream`]).
    loss_rng: Vec<WordStream>,
    jitter_rng: Vec<WordStream>,
    counters: Counters,
}

impl Radio {
    /// Validates `config` and builds the radio for nodes `0..n`.
    pub fn new(config: &RadioConfig, n: u32, seed: u64) -> Result<Radio, RadioError> {
        let mut v = Validator::new();
        config.validate(&mut v);
        let violations = v.into_violations();
        if !violations.is_empty() {
            return Err(RadioError::Invalid(violations));
        }
        let topology =
            Topology::build(config.topology_spec(), n, seed).map_err(RadioError::Topology)?;
        let channel = Channel {
            config: config.clone(),
            loss_threshold: config.loss_threshold(),
            seed,
            loss_rng: vec![WordStream::new(); n as usize],
            jitter_rng: vec![WordStream::new(); n as usize],
            counters: Counters::new(),
        };
        Ok(Radio { topology, channel })
    }

    /// The configuration in force.
    pub fn config(&self) -> &RadioConfig {
        &self.channel.config
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Swarm-wide totals.
    pub fn totals(&self) -> &RadioTotals {
        self.channel.counters.totals()
    }

    /// Puts one frame on the air at `now_us` and hands each surviving copy
    /// to `deliver`, in increasing receiver id order. The sender is charged
    /// one frame and `len_bytes` whatever the destination. Receive counters
    /// are *not* updated here: call [`Radio::record_receive`] when the world
    /// actually hands the frame to a powered receiver.
    pub fn transmit(
        &mut self,
        now_us: u64,
        sender: NodeId,
        len_bytes: u32,
        kind: FrameKind,
        destination: Destination,
        deliver: &mut impl FnMut(Delivery),
    ) -> Result<TxReport, TransmitError> {
        let ch = &mut self.channel;
        if sender >= self.topology.len() {
            return Err(TransmitError::UnknownSender { sender });
        }
        if len_bytes > ch.config.mtu_bytes {
            ch.counters.over_mtu(kind);
            return Err(TransmitError::OverMtu {
                len_bytes,
                mtu_bytes: ch.config.mtu_bytes,
            });
        }
        ch.counters.sent(len_bytes, kind);
        let sent_at = now_us.saturating_add(ch.config.airtime_us(len_bytes));
        let mut report = TxReport {
            airtime_us: ch.config.airtime_us(len_bytes),
            ..TxReport::default()
        };
        match destination {
            Destination::Broadcast => {
                // Full-mesh broadcasts touch every node: O(n) by nature.
                for receiver in self.topology.neighbours(sender) {
                    ch.reach(receiver, sent_at, kind, &mut report, deliver);
                }
            }
            Destination::Unicast(receiver) => {
                if self.topology.is_neighbour(sender, receiver) {
                    ch.reach(receiver, sent_at, kind, &mut report, deliver);
                } else {
                    ch.counters.undeliverable(kind);
                    report.undeliverable = true;
                }
            }
        }
        Ok(report)
    }

    /// Counts frames the world handed to powered receivers, by kind, and
    /// their payload bytes (a window part's sums).
    pub fn add_received(&mut self, frames: &PerKind, bytes: &PerKind) {
        self.channel.counters.add_received(frames, bytes);
    }

    /// Counts a frame the world handed to a powered `receiver`.
    pub fn record_receive(&mut self, receiver: NodeId, len_bytes: u32, kind: FrameKind) {
        debug_assert!(
            receiver < self.topology.len(),
            "unknown receiver {receiver}"
        );
        self.channel.counters.received(len_bytes, kind);
    }
}

impl Channel {
    /// One receiver's copy: loss draw, then jitter draw if it survives.
    fn reach(
        &mut self,
        receiver: NodeId,
        sent_at: u64,
        kind: FrameKind,
        report: &mut TxReport,
        deliver: &mut impl FnMut(Delivery),
    ) {
        let r = receiver as usize;
        // Always one loss draw per copy, even at p = 0 or 1: runs that
        // differ only in loss probability see the same uniform draws.
        let mut loss = self.loss_rng[r].reader(self.seed, receiver, Purpose::RadioLoss);
        if chance(&mut loss, self.loss_threshold) {
            self.counters.lost(kind);
            report.lost += 1;
            return;
        }
        // Validation bounds the jitter far below u32::MAX.
        let bound = self.config.latency_jitter_us as u32 + 1;
        let mut jitter_rng = self.jitter_rng[r].reader(self.seed, receiver, Purpose::RadioJitter);
        let jitter = u64::from(below(&mut jitter_rng, bound));
        let at_us = sent_at
            .saturating_add(self.config.latency_base_us)
            .saturating_add(jitter);
        report.delivered += 1;
        deliver(Delivery { receiver, at_us });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radio(n: u32, f: impl FnOnce(&mut RadioConfig)) -> Radio {
        let mut c = RadioConfig::default();
        f(&mut c);
        Radio::new(&c, n, 42).unwrap()
    }

    fn broadcast_all(r: &mut Radio, rounds: u32, len: u32) -> Vec<Delivery> {
        let mut got = Vec::new();
        for round in 0..rounds {
            let now = u64::from(round) * 10_000;
            for s in 0..r.topology().len() {
                let kind = FrameKind::ModelUpdate;
                r.transmit(now, s, len, kind, Destination::Broadcast, &mut |d| {
                    got.push(d)
                })
                .unwrap();
            }
        }
        got
    }

    #[test]
    fn loss_zero_delivers_all_and_one_delivers_none() {
        let mut r = radio(10, |_| {});
        assert_eq!(broadcast_all(&mut r, 5, 10).len(), 5 * 10 * 9);
        let mut r = radio(10, |c| c.loss_probability = 1.0);
        assert!(broadcast_all(&mut r, 5, 10).is_empty());
        assert_eq!(r.totals().frames_lost[0], 5 * 10 * 9);
        assert_eq!(r.totals().frames_sent[0], 50);
    }

    #[test]
    fn loss_rate_matches_probability() {
        // 20 nodes × 19 receivers × 100 rounds = 38,000 copies; σ of the
        // loss count is ≈ 89, so ±1.5 % (570) is > 6σ, and the seed is fixed.
        let mut r = radio(20, |c| c.loss_probability = 0.3);
        let copies = 20 * 19 * 100_u64;
        let delivered = broadcast_all(&mut r, 100, 10).len() as u64;
        let lost = r.totals().frames_lost[0];
        assert_eq!(lost + delivered, copies);
        let rate = lost as f64 / copies as f64;
        assert!((rate - 0.3).abs() < 0.015, "loss rate {rate}");
    }

    #[test]
    fn latency_stays_within_bounds_and_jitter_spreads() {
        let mut r = radio(8, |c| {
            c.latency_base_us = 2_000;
            c.latency_jitter_us = 300;
            c.bitrate_bps = 250_000;
            c.per_frame_overhead_bytes = 3;
        });
        // (100 + 3) B · 8 = 824 bit at 250 kbit/s = 3296 µs.
        assert_eq!(r.config().airtime_us(100), 3_296);
        let got = broadcast_all(&mut r, 20, 100);
        let (mut lo, mut hi) = (u64::MAX, 0);
        for (i, d) in got.iter().enumerate() {
            let now = (i as u64 / (8 * 7)) * 10_000;
            let delay = d.at_us - now;
            assert!((3_296 + 2_000..=3_296 + 2_300).contains(&delay), "{delay}");
            lo = lo.min(delay);
            hi = hi.max(delay);
        }
        assert!(hi - lo > 200, "jitter should spread: {lo}..{hi}");
    }

    #[test]
    fn airtime_rounds_up() {
        let c = RadioConfig::default();
        assert_eq!(c.airtime_us(250), 2_000);
        let c = RadioConfig {
            bitrate_bps: 3,
            ..RadioConfig::default()
        };
        assert_eq!(c.airtime_us(1), 2_666_667);
    }

    #[test]
    fn byte_counters_are_exact() {
        let mut r = radio(4, |_| {});
        let mut none = |_| {};
        let hb = FrameKind::Heartbeat;
        r.transmit(0, 1, 7, hb, Destination::Broadcast, &mut none)
            .unwrap();
        r.transmit(
            0,
            1,
            200,
            FrameKind::Proof,
            Destination::Unicast(2),
            &mut none,
        )
        .unwrap();
        r.record_receive(2, 200, FrameKind::Proof);
        r.record_receive(3, 7, hb);
        let t = r.totals();
        assert_eq!(t.frames_sent[hb.index()], 1);
        assert_eq!(t.bytes_sent[hb.index()], 7);
        assert_eq!(t.bytes_sent[FrameKind::Proof.index()], 200);
        assert_eq!(t.bytes_received[FrameKind::Proof.index()], 200);
        assert_eq!(t.frames_received[hb.index()], 1);
        assert_eq!(r.totals().bytes_sent.iter().sum::<u64>(), 207);
        assert_eq!(r.totals().bytes_received.iter().sum::<u64>(), 207);
    }

    #[test]
    fn over_mtu_is_refused_and_counted() {
        let mut r = radio(3, |c| c.mtu_bytes = 100);
        let mut got = 0;
        let k = FrameKind::ModelUpdate;
        let err = r.transmit(0, 0, 101, k, Destination::Broadcast, &mut |_| got += 1);
        assert_eq!(
            err,
            Err(TransmitError::OverMtu {
                len_bytes: 101,
                mtu_bytes: 100
            })
        );
        assert_eq!(got, 0);
        assert_eq!(r.totals().frames_over_mtu[k.index()], 1);
        assert_eq!(r.totals().frames_sent[k.index()], 0);
        assert!(
            r.transmit(0, 0, 100, k, Destination::Broadcast, &mut |_| {})
                .is_ok()
        );
        let unknown = r.transmit(0, 3, 1, k, Destination::Broadcast, &mut |_| {});
        assert_eq!(unknown, Err(TransmitError::UnknownSender { sender: 3 }));
    }

    #[test]
    fn unicast_to_non_neighbour_is_undeliverable() {
        let mut r = radio(9, |c| {
            c.topology = TopologyKind::Grid;
            c.k = 4;
        });
        let mut got = Vec::new();
        let k = FrameKind::AuditChallenge;
        // 5 is not among 0's neighbours on the 3 × 3 grid with k = 4.
        let rep = r.transmit(0, 0, 10, k, Destination::Unicast(5), &mut |d| got.push(d));
        assert!(rep.unwrap().undeliverable && got.is_empty());
        assert_eq!(r.totals().frames_undeliverable[k.index()], 1);
        assert_eq!(r.totals().frames_sent[k.index()], 1);
        let rep = r.transmit(0, 0, 10, k, Destination::Unicast(4), &mut |d| got.push(d));
        assert_eq!(rep.unwrap().delivered, 1);
        assert_eq!(got[0].receiver, 4);
    }

    #[test]
    fn same_seed_same_deliveries_other_seed_differs() {
        let cfg = RadioConfig {
            loss_probability: 0.2,
            ..RadioConfig::default()
        };
        let run = |seed| {
            let mut r = Radio::new(&cfg, 12, seed).unwrap();
            broadcast_all(&mut r, 10, 50)
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn validation_reports_every_bad_key() {
        let c = RadioConfig {
            k: 0,
            range: -1.0,
            loss_probability: 1.5,
            mtu_bytes: 0,
            bitrate_bps: 0,
            latency_jitter_us: u64::MAX,
            ..RadioConfig::default()
        };
        let Err(RadioError::Invalid(v)) = Radio::new(&c, 4, 0) else {
            panic!("must be invalid")
        };
        let keys: Vec<&str> = v.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "k",
                "range",
                "loss_probability",
                "latency_jitter_us",
                "mtu_bytes",
                "bitrate_bps"
            ]
        );
    }

    #[test]
    fn toml_keys_parse_and_unknown_keys_fail() {
        let c: RadioConfig =
            toml::from_str("topology = \"random_geometric\"\nrange = 0.2\nmtu_bytes = 1500")
                .unwrap();
        assert_eq!(
            c.topology_spec(),
            TopologySpec::RandomGeometric { range: 0.2 }
        );
        assert_eq!(c.mtu_bytes, 1500);
        assert!(toml::from_str::<RadioConfig>("mtu = 3").is_err());
    }
}
