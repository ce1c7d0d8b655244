//! `kind = "smooth_sine"`: one sine per node, with per-node amplitude,
//! period and phase spread around configured means.
//!
//! Each node draws its parameters once, at construction, from its `Init`
//! stream (ChaCha nonce [`PARAMS_NONCE`], so they never coincide with
//! draws other models make from stream 0 of the same key): three `u32`
//! words, in order amplitude, period, phase. All arithmetic is integer:
//!
//! - amplitude `A_i = A · (1 + s_A · d)`, `d = w / 2^31 − 1 ∈ [−1, 1)`;
//! - period `P_i = P · (1 + s_P · d)` samples, kept as a phase step of
//!   `round(2^32 / P_i)` turn/2^32 per sample (≤ 2^31 since `P_i ≥ 2`);
//! - start phase `φ_i = w · s_φ` turn/2^32, uniform in `[0, s_φ)` turns.
//!
//! The clean value of sample `k` is `A_i · sin(2π (φ_i + k · step_i) / 2^32)`
//! (phase arithmetic wraps modulo one turn).

use node_core::q::Q;
use node_core::rng::{Purpose, stream};
use rand_core::Rng;
use serde::{Deserialize, Serialize};

use super::sine::{scale_q16, sin_q30};
use super::storm::{MAX_NOISE_STD, StormConfig};
use crate::validate::{Validate, Validator};

/// ChaCha nonce (`set_stream`) of the per-node parameter draws on the
/// node's `Init` key: the bytes `"dataset\0"` little-endian.
pub const PARAMS_NONCE: u64 = u64::from_le_bytes(*b"dataset\0");

/// Largest `amplitude` accepted (Q16.16 headroom for noise and spread).
pub const MAX_AMPLITUDE: f64 = 1_000.0;

/// Largest `period_samples` accepted (2^24).
pub const MAX_PERIOD_SAMPLES: f64 = 16_777_216.0;

/// `[dataset]` keys of `kind = "smooth_sine"`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmoothSineConfig {
    /// Mean amplitude (z-normalised value units). Default 1.0.
    pub amplitude: f64,
    /// Relative half-width of the uniform amplitude spread: each node's
    /// amplitude is in `amplitude · [1 − s, 1 + s]`. Default 0.1.
    pub amplitude_spread: f64,
    /// Mean period, in samples (may be fractional). Default 64.
    pub period_samples: f64,
    /// Relative half-width of the uniform period spread. Default 0.1.
    pub period_spread: f64,
    /// Width of the uniform start-phase spread, in turns: phases are in
    /// `[0, phase_spread)`; 1.0 = fully random, 0 = all in phase. Default 1.0.
    pub phase_spread: f64,
    /// Standard deviation of the additive sensor noise (value units).
    /// Default 0.05.
    pub noise_std: f64,
    /// Noise storms. Default: none.
    pub storms: Vec<StormConfig>,
}

impl Default for SmoothSineConfig {
    fn default() -> Self {
        SmoothSineConfig {
            amplitude: 1.0,
            amplitude_spread: 0.1,
            period_samples: 64.0,
            period_spread: 0.1,
            phase_spread: 1.0,
            noise_std: 0.05,
            storms: Vec::new(),
        }
    }
}

impl Validate for SmoothSineConfig {
    fn validate(&self, v: &mut Validator) {
        v.require(
            self.amplitude > 0.0 && self.amplitude <= MAX_AMPLITUDE,
            "amplitude",
            format_args!("a number in (0, {MAX_AMPLITUDE}]"),
            self.amplitude,
        );
        v.range("amplitude_spread", self.amplitude_spread, 0.0, 1.0);
        v.range(
            "period_samples",
            self.period_samples,
            2.0,
            MAX_PERIOD_SAMPLES,
        );
        v.range("period_spread", self.period_spread, 0.0, 0.99);
        let shortest = self.period_samples * (1.0 - self.period_spread);
        v.require(
            shortest >= 2.0 || shortest.is_nan(), // NaN is reported by the range checks
            "period_spread",
            "period_samples · (1 − period_spread) ≥ 2 (Nyquist: at least 2 samples per period)",
            format_args!("{} (shortest period {shortest})", self.period_spread),
        );
        v.range("phase_spread", self.phase_spread, 0.0, 1.0);
        v.range("noise_std", self.noise_std, 0.0, MAX_NOISE_STD);
    }
}

/// One node's drawn sine: 12 bytes, stored contiguously for all nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SineParams {
    /// Amplitude, Q16.16 raw bits.
    pub amplitude_raw: i32,
    /// Phase at sample 0, in turn/2^32.
    pub phase: u32,
    /// Phase advance per sample, in turn/2^32 (`2^32 / period`).
    pub step: u32,
}

impl SineParams {
    /// The clean value of sample `index`.
    pub fn value(&self, index: u64) -> Q {
        // Only index mod 2^32 matters: step · index wraps modulo a turn.
        let phase = self
            .phase
            .wrapping_add(self.step.wrapping_mul(index as u32));
        Q::from_bits(scale_q16(self.amplitude_raw, sin_q30(phase)))
    }

    /// The period in samples (for reports and tests; not on the sample path).
    pub fn period_samples(&self) -> f64 {
        4_294_967_296.0 / f64::from(self.step)
    }
}

/// Quantities of a validated [`SmoothSineConfig`] in integer form.
struct Means {
    amplitude_raw: i64,
    amplitude_spread_q32: i64,
    period_q32: i64,
    period_spread_q32: i64,
    phase_spread_q32: u64,
}

impl Means {
    fn new(c: &SmoothSineConfig) -> Means {
        let q32 = 4_294_967_296.0;
        // Validated ranges keep every product below 2^63; the casts saturate anyway.
        Means {
            amplitude_raw: Q::saturating_from_num(c.amplitude).to_bits().into(),
            amplitude_spread_q32: (c.amplitude_spread * q32).round() as i64,
            period_q32: (c.period_samples * q32).round() as i64,
            period_spread_q32: (c.period_spread * q32).round() as i64,
            phase_spread_q32: (c.phase_spread * q32).round() as u64,
        }
    }
}

/// `base · (1 + spread · d)` with `spread` in Q32 and `d = w / 2^31 − 1`.
fn spread(base: i64, spread_q32: i64, w: u32) -> i64 {
    let d = i128::from(w) - (1 << 31); // d · 2^31
    let delta = (i128::from(base) * i128::from(spread_q32) * d) >> 63;
    base + delta as i64
}

/// Draws every node's parameters for `seed`.
pub fn draw_params(config: &SmoothSineConfig, nodes: u32, seed: u64) -> Vec<SineParams> {
    let means = Means::new(config);
    (0..nodes)
        .map(|node| draw_node(&means, node, seed))
        .collect()
}

fn draw_node(m: &Means, node: u32, seed: u64) -> SineParams {
    let mut rng = stream(seed, node, Purpose::Init);
    rng.set_stream(PARAMS_NONCE);
    let amplitude = spread(m.amplitude_raw, m.amplitude_spread_q32, rng.next_u32());
    let period_q32 = spread(m.period_q32, m.period_spread_q32, rng.next_u32());
    // step = round(2^64 / period_q32); period ≥ 2 keeps it ≤ 2^31.
    let period = period_q32.max(2 << 32) as u128;
    let step = ((1_u128 << 64) + period / 2) / period;
    let phase = (u64::from(rng.next_u32()) * m.phase_spread_q32) >> 32;
    SineParams {
        amplitude_raw: amplitude.clamp(0, i64::from(i32::MAX)) as i32,
        phase: phase as u32,
        step: step as u32,
    }
}
