//! The canonical determinism digests.
//!
//! Two digests are pinned and compared across architectures:
//!
//! * the **predictor digest** ([`canonical_digest`], [`CANONICAL_DIGEST`]),
//!   this module: the model and the regime detector alone, a small run that
//!   changes only when the arithmetic of those two changes;
//! * the **whole-node digest** ([`swarm::swarm_digest`],
//!   [`swarm::SWARM_DIGEST`]): a few full [`crate::node::Node`]s exchanging
//!   real frames on a perfect radio, with a liar that gets banned, deltas,
//!   fragments and every regime; it changes whenever node behaviour does.
//!
//! Each is pinned by a host test and recomputed on x86_64, riscv32imac
//! (bare metal under QEMU, `node-core/qemu-riscv`), Cortex-M4F (bare metal
//! under QEMU, `node-core/qemu-arm`) and wasm32-wasip1 (Node.js,
//! `node-core/wasi-digest`); docs/cross-arch.md. Any difference in integer
//! or Q16.16 arithmetic, in the RNG streams or in the order of operations
//! changes them.
//!
//! The predictor run ([`digest_run`]): a few nodes, each a [`LinearNeuron`] feeding an
//! [`EntropySignal`] and a [`RegimeDetector`], forecast a sine built with
//! integer arithmetic plus uniform noise from `rng::stream(seed, node,
//! DataNoise)`, with a noise burst in the middle so that every regime and
//! the per-regime step size (α_calm / α_prestorm / α_storm, docs/paper.md §1.1)
//! are exercised; during the detector's warm-up the model learns at
//! α_storm. Every prediction and regime, then every node's final
//! state, is hashed with [`Fnv64`].

use crate::model::{LinearNeuron, LinearNeuronConfig, Predictor};
use crate::q::{self, Q};
use crate::regime::{
    DetectorConfig, EntropyConfig, EntropySignal, Regime, RegimeCounters, RegimeDetector,
};
use crate::rng::{self, Purpose};

pub mod swarm;

/// 64-bit FNV-1a (Fowler–Noll–Vo), a tiny non-cryptographic hash for
/// digests and checksums of deterministic state. Not collision resistant
/// against an adversary: never use it to authenticate anything.
///
/// Multi-byte integers are hashed as their little-endian bytes, so a value
/// hashes the same on every architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64 {
    state: u64,
}

impl Fnv64 {
    /// The FNV-1a 64-bit offset basis.
    pub const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    /// The FNV 64-bit prime.
    pub const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// A hasher at the offset basis (the hash of no bytes).
    pub const fn new() -> Self {
        Fnv64 {
            state: Self::OFFSET_BASIS,
        }
    }

    /// Hashes `bytes` in order.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.state ^= u64::from(*byte);
            self.state = self.state.wrapping_mul(Self::PRIME);
        }
    }

    /// Hashes one byte.
    pub fn write_u8(&mut self, value: u8) {
        self.write_bytes(&[value]);
    }

    /// Hashes a `u32` as 4 little-endian bytes.
    pub fn write_u32(&mut self, value: u32) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Hashes an `i32` as 4 little-endian bytes.
    pub fn write_i32(&mut self, value: i32) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Hashes a `u64` as 8 little-endian bytes.
    pub fn write_u64(&mut self, value: u64) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Hashes a Q16.16 value as its raw `i32` bits.
    pub fn write_q(&mut self, value: Q) {
        self.write_i32(value.to_bits());
    }

    /// The hash of everything written so far.
    pub const fn finish(&self) -> u64 {
        self.state
    }
}

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64::new()
    }
}

/// Parameters of a digest run; [`Default`] is the canonical run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestParams {
    /// Seed of every RNG stream. Canonical: 42.
    pub seed: u64,
    /// Independent nodes, `1..=16`. Canonical: 4.
    pub nodes: u32,
    /// Samples per node, `1..=10_000`. Canonical: 400.
    pub samples: u32,
    /// Period of the sine in samples, even, `4..=1024`. Canonical: 32.
    pub period_samples: u32,
}

impl Default for DigestParams {
    fn default() -> Self {
        DigestParams {
            seed: 42,
            nodes: 4,
            samples: 400,
            period_samples: 32,
        }
    }
}

/// The value [`canonical_digest`] must return on every architecture. Pinned
/// by a host test and checked bare-metal on riscv32imac under QEMU
/// (`node-core/qemu-riscv`) and on wasm32-wasip1 (`node-core/wasi-digest`). An intended change of arithmetic or of the
/// canonical run updates it in the same commit, saying why.
pub const CANONICAL_DIGEST: u64 = 0xd24d_dd1c_3354_73fe;

/// The digest of the canonical run, [`DigestParams::default`]. Must equal
/// [`CANONICAL_DIGEST`] on every architecture.
pub fn canonical_digest() -> u64 {
    digest_run(&DigestParams::default())
}

/// The digest of the run described by `params` (see the module docs).
///
/// # Panics
///
/// If a parameter is outside its documented range: this is a test fixture,
/// and a silently clamped parameter would hide a mistake.
pub fn digest_run(params: &DigestParams) -> u64 {
    simulate(params).0
}

/// Runs every node; returns the digest and the summed regime counters.
fn simulate(params: &DigestParams) -> (u64, RegimeCounters) {
    assert!((1..=16).contains(&params.nodes), "nodes must be in 1..=16");
    assert!(
        (1..=10_000).contains(&params.samples),
        "samples out of range"
    );
    let period = params.period_samples;
    assert!(
        (4..=1024).contains(&period) && period.is_multiple_of(2),
        "bad period"
    );
    let mut hasher = Fnv64::new();
    let mut total = RegimeCounters::default();
    for node in 0..params.nodes {
        let counters = run_node(params, node, &mut hasher);
        total.transitions += counters.transitions;
        for (sum, count) in total
            .transitions_by_kind
            .iter_mut()
            .flatten()
            .zip(counters.transitions_by_kind.iter().flatten())
        {
            *sum += count;
        }
        for (sum, count) in total
            .samples_by_regime
            .iter_mut()
            .zip(counters.samples_by_regime)
        {
            *sum += count;
        }
    }
    (hasher.finish(), total)
}

/// One node's run: forecast, observe, entropy, regime, step size; hashes
/// each step and the final state.
fn run_node(params: &DigestParams, node: u32, hasher: &mut Fnv64) -> RegimeCounters {
    let mut entropy = EntropySignal::new(EntropyConfig::default()).expect("valid default");
    let mut detector = RegimeDetector::new(DetectorConfig::default()).expect("valid default");
    let mut neuron = LinearNeuron::new(LinearNeuronConfig {
        step_size: step_size_for(&detector),
        ..LinearNeuronConfig::default()
    })
    .expect("default neuron config is valid");
    let mut noise = rng::stream(params.seed, node, Purpose::DataNoise);
    let phase = node * params.period_samples / params.nodes;
    for step in 0..params.samples {
        let clean = sine(step + phase, params.period_samples);
        let amplitude = noise_amplitude(step, params.samples);
        let draw = rng::below(&mut noise, amplitude.unsigned_abs() * 2 + 1);
        // draw ≤ 2 · 2^16: lossless.
        let sample = clean.saturating_add(q::from_raw(draw as i32 - amplitude));
        hasher.write_q(neuron.predict());
        let error = neuron.observe(sample);
        let regime = detector.update(entropy.update(error));
        neuron
            .set_step_size(step_size_for(&detector))
            .expect("regime step sizes are in (0, 2)");
        hasher.write_u8(regime as u8);
    }
    hash_final_state(hasher, &neuron, &entropy, &detector);
    *detector.counters()
}

fn hash_final_state(
    hasher: &mut Fnv64,
    neuron: &LinearNeuron,
    entropy: &EntropySignal,
    detector: &RegimeDetector,
) {
    for weight in neuron.weights() {
        hasher.write_q(*weight);
    }
    let reading = entropy.reading();
    hasher.write_q(reading.raw);
    hasher.write_q(reading.smoothed);
    hasher.write_q(reading.derivative);
    hasher.write_u8(detector.regime() as u8);
    let counters = detector.counters();
    hasher.write_u32(counters.transitions);
    for count in counters.transitions_by_kind.iter().flatten() {
        hasher.write_u32(*count);
    }
    for count in counters.samples_by_regime {
        hasher.write_u64(count);
    }
}

/// The paper's per-regime learning rates α (docs/paper.md §1.1; PreStorm 0.05
/// from the seed code's Alert rate), and α_storm while the detector warms
/// up: a cold model learns fast, so that the run leaves its warm-up with a
/// trained model instead of starting in Storm.
fn step_size_for(detector: &RegimeDetector) -> Q {
    if detector.warming_up() {
        return q::ratio(1, 5);
    }
    match detector.regime() {
        Regime::Calm => q::ratio(1, 100),
        Regime::PreStorm => q::ratio(1, 20),
        Regime::Storm => q::ratio(1, 5),
    }
}

/// Raw half-width of the uniform noise: ±1/16 normally, ±1 during a burst
/// from 40 % to 65 % of the run.
pub(crate) fn noise_amplitude(step: u32, samples: u32) -> i32 {
    let in_burst = step >= samples * 2 / 5 && step < samples * 13 / 20;
    if in_burst { 1 << 16 } else { 1 << 12 }
}

/// `sin(2π · step / period)` by Bhaskara I's rational approximation,
/// `sin(πu) ≈ 16u(1−u) / (5 − 4u(1−u))` for `u ∈ [0, 1]` (absolute error
/// < 0.002), in integers: no π, no floats. Precondition: `period` even,
/// `4..=1024`.
pub(crate) fn sine(step: u32, period: u32) -> Q {
    debug_assert!(period.is_multiple_of(2) && (4..=1024).contains(&period));
    let half = period / 2;
    let k = step % period;
    let (u, negative) = if k < half {
        (k, false)
    } else {
        (k - half, true)
    };
    // u ≤ half ≤ 512: every product below fits an i32.
    let p = (u * (half - u)) as i32;
    let half = half as i32;
    let value = q::ratio(16 * p, 5 * half * half - 4 * p);
    if negative { -value } else { value }
}

#[cfg(test)]
#[allow(clippy::float_arithmetic)] // host tests compare against floats
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn fnv64_matches_reference_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        let hash = |bytes: &[u8]| {
            let mut h = Fnv64::new();
            h.write_bytes(bytes);
            h.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
        let mut h = Fnv64::default();
        h.write_u32(0x7261_626f); // "obar" little-endian after "fo"
        let mut reference = Fnv64::new();
        reference.write_bytes(b"obar");
        assert_eq!(h, reference);
    }

    #[test]
    fn canonical_digest_is_pinned() {
        // The same value must come out on x86_64, RISC-V
        // (riscv32imac-unknown-none-elf under QEMU) and WASM. If this fails
        // after an intended change of arithmetic or of the run, update the
        // constant in the same commit and say why.
        assert_eq!(canonical_digest(), CANONICAL_DIGEST);
        assert_eq!(CANONICAL_DIGEST, 0xd24d_dd1c_3354_73fe);
    }

    #[test]
    fn canonical_run_visits_every_regime() {
        let (_, counters) = simulate(&DigestParams::default());
        std::println!("canonical run: {counters:?}");
        assert!(counters.samples_by_regime.iter().all(|count| *count > 0));
        assert_eq!(counters.samples_by_regime.iter().sum::<u64>(), 4 * 400);
    }

    #[test]
    fn digest_depends_on_every_parameter() {
        let base = DigestParams::default();
        let digest = digest_run(&base);
        assert_eq!(digest, digest_run(&base));
        for changed in [
            DigestParams { seed: 43, ..base },
            DigestParams { nodes: 3, ..base },
            DigestParams {
                samples: 399,
                ..base
            },
            DigestParams {
                period_samples: 30,
                ..base
            },
        ] {
            assert_ne!(digest_run(&changed), digest);
        }
    }

    #[test]
    fn integer_sine_is_close_to_sine() {
        for period in [4_u32, 32, 1024] {
            for step in 0..period {
                let exact =
                    (2.0 * core::f64::consts::PI * f64::from(step) / f64::from(period)).sin();
                let got = f64::from(sine(step, period).to_bits()) / 65536.0;
                assert!(
                    (got - exact).abs() < 0.002,
                    "{step}/{period}: {got} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn canonical_run_is_fast() {
        let start = std::time::Instant::now();
        canonical_digest();
        let elapsed = start.elapsed();
        std::println!("canonical digest in {elapsed:?}");
        assert!(elapsed < std::time::Duration::from_millis(50));
    }
}
