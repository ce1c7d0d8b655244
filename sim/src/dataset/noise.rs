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
//!
//! Random access is the hot path (one sample per event), so [`centred_at`]
//! computes the single ChaCha8 block that holds words `2k, 2k + 1` (block
//! `⌊2k / 16⌋`, words `2k mod 16` and the next) with a scalar ChaCha8
//! ([`chacha8_block`]) instead of building a generator, which would compute
//! four blocks to use two words. The block function is the standard one
//! (RFC 7539's layout with a 64-bit block counter in words 12–13 and the
//! 64-bit stream number, 0, in words 14–15, as `rand_chacha` uses); a test
//! checks it word for word against `rand_chacha` at many positions.

use node_core::rng::{Purpose, stream, stream_key};
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

/// The centred sum of sample `index` of `node`'s noise stream: the same
/// value as [`next_centred`] on [`noise_stream`]`(seed, node, index)`,
/// computing only the one ChaCha8 block that holds it.
pub fn centred_at(seed: u64, node: u32, index: u64) -> i32 {
    let key = stream_key(seed, node, Purpose::DataNoise);
    // Words 2·index and 2·index + 1: the same block, as 16 is even.
    let word = u128::from(index) * WORDS_PER_SAMPLE;
    // The generator's block counter is 64 bits and wraps (rand_chacha
    // ignores the upper bits of a word position): truncation intended.
    let block = (word / 16) as u64;
    let offset = (word % 16) as usize;
    let out = chacha8_block(&key, block);
    centred_sum(out[offset], out[offset + 1])
}

/// One ChaCha8 block (8 rounds) of key `key` at 64-bit block counter
/// `block`, stream number 0: the 16 output words in order.
pub fn chacha8_block(key: &[u8; 32], block: u64) -> [u32; 16] {
    let mut input = [0_u32; 16];
    input[0] = 0x6170_7865;
    input[1] = 0x3320_646e;
    input[2] = 0x7962_2d32;
    input[3] = 0x6b20_6574;
    for (slot, chunk) in input[4..12].iter_mut().zip(key.chunks_exact(4)) {
        *slot = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    // Truncations intended: the counter's low and high words.
    input[12] = block as u32;
    input[13] = (block >> 32) as u32;
    let mut x = input;
    for _ in 0..4 {
        quarter_round(&mut x, 0, 4, 8, 12);
        quarter_round(&mut x, 1, 5, 9, 13);
        quarter_round(&mut x, 2, 6, 10, 14);
        quarter_round(&mut x, 3, 7, 11, 15);
        quarter_round(&mut x, 0, 5, 10, 15);
        quarter_round(&mut x, 1, 6, 11, 12);
        quarter_round(&mut x, 2, 7, 8, 13);
        quarter_round(&mut x, 3, 4, 9, 14);
    }
    for (word, start) in x.iter_mut().zip(input) {
        *word = word.wrapping_add(start);
    }
    x
}

#[inline(always)]
fn quarter_round(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
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
    fn single_block_matches_rand_chacha_word_for_word() {
        for (seed, node) in [(0_u64, 0_u32), (1, 7), (u64::MAX, u32::MAX), (42, 9_999)] {
            let key = stream_key(seed, node, Purpose::DataNoise);
            for block in [
                0_u64,
                1,
                2,
                3,
                4,
                5,
                63,
                1 << 20,
                (1 << 32) - 1,
                1 << 32,
                u64::MAX,
            ] {
                let mut rng = stream(seed, node, Purpose::DataNoise);
                rng.set_word_pos(u128::from(block) * 16);
                let expected: Vec<u32> = (0..16).map(|_| rng.next_u32()).collect();
                assert_eq!(
                    chacha8_block(&key, block).to_vec(),
                    expected,
                    "block {block}"
                );
            }
        }
    }

    #[test]
    fn centred_at_matches_the_positioned_stream() {
        for seed in [0_u64, 3, u64::MAX] {
            for node in [0_u32, 1, 12_345] {
                let indices = (0..100).chain([1 << 40, u64::MAX / 2, u64::MAX]);
                for index in indices {
                    let mut rng = noise_stream(seed, node, index);
                    assert_eq!(
                        centred_at(seed, node, index),
                        next_centred(&mut rng),
                        "{index}"
                    );
                }
            }
        }
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
