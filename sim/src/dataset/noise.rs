//! Approximately Gaussian sensor noise from a node's `DataNoise` stream,
//! in integer arithmetic only.
//!
//! Sample `k` of node `i` reads words `2k` and `2k + 1` of the ChaCha stream
//! `stream(seed, i, DataNoise)` (random access through `set_word_pos`), splits
//! them into four 16-bit uniforms `u_j ∈ [0, 65535]` and forms the centred
//! Irwin–Hall sum `c = 2 Σ u_j − 4 · 65535`. `c` has mean 0 and variance
//! `4 (2^32 − 1) / 3` exactly, is bounded by `±√12 ≈ ±3.46` standard
//! deviations and has excess kurtosis −0.3 (Irwin–Hall, n = 4). Because the
//! noise of sample `k` depends only on `(seed, node, k)`, samples can be
//! asked in any order and no draw in one node shifts another.

use node_core::rng::{Purpose, stream};
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;

/// Stream words consumed per sample (one [`next_centred`]).
pub const WORDS_PER_SAMPLE: u128 = 2;

/// Variance of the centred sum `c`: `4 (2^32 − 1) / 3` (an exact integer).
const CENTRED_VARIANCE: f64 = 5_726_623_060.0;

/// Turns a centred Irwin–Hall sum into Q16.16 noise of a configured
/// standard deviation: `noise_raw = round(c · mult / 2^32)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct NoiseScale {
    mult_q32: i64,
}

impl NoiseScale {
    /// The scale for a standard deviation `std` (value units, `≥ 0`,
    /// validated `≤ 100`). Computed once with IEEE-exact operations
    /// (`*`, `/`, `sqrt`, `round` are correctly rounded everywhere).
    pub fn from_std(std: f64) -> NoiseScale {
        let mult = (std * 65_536.0 * 4_294_967_296.0 / CENTRED_VARIANCE.sqrt()).round();
        // Saturating float → int cast; NaN maps to 0.
        NoiseScale {
            mult_q32: mult as i64,
        }
    }

    /// `true` if this scale always gives zero noise.
    pub fn is_zero(self) -> bool {
        self.mult_q32 == 0
    }

    /// Noise in Q16.16 raw bits for a centred sum `c`.
    pub fn apply(self, centred: i32) -> i32 {
        let product = i128::from(centred) * i128::from(self.mult_q32);
        let half = 1_i128 << 31;
        let rounded = if product >= 0 {
            (product + half) >> 32
        } else {
            -((-product + half) >> 32)
        };
        rounded.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }
}

/// The centred Irwin–Hall sum of the four 16-bit halves of `w0`, `w1`.
pub fn centred_sum(w0: u32, w1: u32) -> i32 {
    let sum = (w0 & 0xFFFF) + (w0 >> 16) + (w1 & 0xFFFF) + (w1 >> 16);
    // sum ≤ 4 · 65535 < 2^19: both casts are exact.
    2 * sum as i32 - 4 * 65_535
}

/// A node's noise stream positioned at sample `index`.
pub fn noise_stream(seed: u64, node: u32, index: u64) -> ChaCha8Rng {
    let mut rng = stream(seed, node, Purpose::DataNoise);
    rng.set_word_pos(u128::from(index) * WORDS_PER_SAMPLE);
    rng
}

/// The next centred sum from a positioned noise stream.
pub fn next_centred(rng: &mut ChaCha8Rng) -> i32 {
    let w0 = rng.next_u32();
    let w1 = rng.next_u32();
    centred_sum(w0, w1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centred_sum_spans_symmetric_range() {
        assert_eq!(centred_sum(0, 0), -262_140);
        assert_eq!(centred_sum(u32::MAX, u32::MAX), 262_140);
        assert_eq!(centred_sum(0xFFFF_0000, 0xFFFF_0000), 0);
    }

    #[test]
    fn scale_maps_one_std_of_the_sum_to_the_configured_std() {
        let scale = NoiseScale::from_std(0.5);
        let one_sigma = CENTRED_VARIANCE.sqrt().round() as i32;
        let got = f64::from(scale.apply(one_sigma)) / 65_536.0;
        assert!((got - 0.5).abs() < 2e-5, "{got}");
        assert_eq!(scale.apply(-one_sigma), -scale.apply(one_sigma));
        assert!(NoiseScale::from_std(0.0).is_zero());
    }

    #[test]
    fn random_access_matches_sequential_reading() {
        let mut seq = noise_stream(9, 4, 0);
        let sequential: Vec<i32> = (0..40).map(|_| next_centred(&mut seq)).collect();
        for (k, expected) in sequential.iter().enumerate() {
            let mut rng = noise_stream(9, 4, k as u64);
            assert_eq!(next_centred(&mut rng), *expected, "sample {k}");
        }
    }
}
