//! BFP-16: block floating point compression of Q16.16 words (PAPER.md §2).
//!
//! Words are cut into blocks of up to [`BLOCK_WORDS`] (16); the last block
//! holds the remainder. Each block is written as one exponent byte `e`
//! (`i8`, always in `0..=EXPONENT_MAX`) followed by one `i16` little-endian
//! mantissa `m` per word. A word decodes to `m · 2^e` **Q16.16 raw units**
//! (the exponent scales the raw `i32` bits, not the real value).
//!
//! ## Encoding rule
//!
//! With `M = max |raw|` over the block (as an unsigned magnitude, so
//! `i32::MIN` is `2^31`):
//!
//! * `e = max(0, bitlen(M) − 15)`, the paper's rule: the largest magnitude
//!   keeps 15 significant bits;
//! * if `round(M / 2^e)` would be `32768` (only when `M` sits just under a
//!   power of two), `e` is raised by one. The paper's rule saturates the
//!   mantissa instead, which breaks the error bound by up to `2^e − 1`
//!   units; bumping the exponent keeps the bound for every word;
//! * `m = round(raw / 2^e)`, rounding half away from zero (then clamped to
//!   `±32767`, which never bites given the rule above).
//!
//! **Error bound:** `|decode(encode(raw)) − raw| ≤ 2^(e−1)` raw units per
//! word for `e ≥ 1`, and `0` for `e = 0` (every block whose magnitudes fit
//! in 15 bits, i.e. `|x| < 0.5` in Q16.16, is exact).
//!
//! ## Strict decoding
//!
//! The encoder's output is canonical and the decoder accepts nothing else,
//! so `encode(decode(bytes)) == bytes` for every accepted input. A block is
//! rejected ([`RxError::Malformed`]) when its exponent is outside
//! `0..=EXPONENT_MAX`, a mantissa is `−32768`, the exponent is not the
//! smallest one possible (`e > 0` but every `|m| < 16384`), or a value
//! `m · 2^e` does not fit an `i32`. The single exception is `m · 2^e =
//! 2^31` (`e = 17`, `m = 16384`), what the encoder writes for values within
//! `2^16` of `i32::MAX`: it reads as `i32::MAX` (error ≤ 1, inside the
//! bound).

use super::EmitError;
use crate::runtime::RxError;

/// Words per block (the last block may be shorter).
pub const BLOCK_WORDS: usize = 16;

/// Largest mantissa magnitude.
pub const MANTISSA_MAX: i32 = 32_767;

/// Largest exponent the encoder emits: `2^31` needs 32 bits, `32 − 15`.
pub const EXPONENT_MAX: u8 = 17;

/// Smallest `max |m|` of a block with `e > 0` (the canonical form keeps the
/// top mantissa bit set).
const MANTISSA_CANONICAL_MIN: u32 = 16_384;

/// Bytes BFP-16 takes for `dim` words: one exponent per block plus two
/// bytes per word.
pub const fn encoded_len(dim: usize) -> usize {
    dim.div_ceil(BLOCK_WORDS) + 2 * dim
}

/// Worst-case absolute error in raw Q16.16 units of a word in a block with
/// exponent `exponent`: `2^(e−1)`, or 0 when `e = 0`.
pub const fn max_error_raw(exponent: u8) -> u32 {
    if exponent == 0 {
        0
    } else {
        1u32 << (exponent - 1)
    }
}

/// `|raw| / 2^exponent` rounded half away from zero, as a magnitude.
const fn round_shift(magnitude: u32, exponent: u8) -> u32 {
    if exponent == 0 {
        return magnitude;
    }
    let half = 1u64 << (exponent - 1);
    ((magnitude as u64 + half) >> exponent) as u32
}

/// The exponent the encoder picks for `block` (see the module docs).
pub fn block_exponent(block: &[i32]) -> u8 {
    debug_assert!(block.len() <= BLOCK_WORDS);
    let mut magnitude_max: u32 = 0;
    for &raw in block {
        magnitude_max = magnitude_max.max(raw.unsigned_abs());
    }
    let bit_len = 32 - magnitude_max.leading_zeros();
    let mut exponent = bit_len.saturating_sub(15) as u8;
    if round_shift(magnitude_max, exponent) > MANTISSA_MAX as u32 {
        exponent += 1;
    }
    debug_assert!(exponent <= EXPONENT_MAX);
    debug_assert!(round_shift(magnitude_max, exponent) <= MANTISSA_MAX as u32);
    exponent
}

/// The mantissa of `raw` under `exponent`.
fn mantissa(raw: i32, exponent: u8) -> i16 {
    let magnitude = round_shift(raw.unsigned_abs(), exponent).min(MANTISSA_MAX as u32) as i32;
    let signed = if raw < 0 { -magnitude } else { magnitude };
    signed as i16
}

/// Compresses `words` (Q16.16 raw bits) into `out`, returning the number
/// of bytes written, [`encoded_len`]`(words.len())`.
pub fn encode(words: &[i32], out: &mut [u8]) -> Result<usize, EmitError> {
    let needed = encoded_len(words.len());
    if out.len() < needed {
        return Err(EmitError::BufferTooSmall { needed });
    }
    let mut offset = 0;
    for block in words.chunks(BLOCK_WORDS) {
        let exponent = block_exponent(block);
        out[offset] = exponent;
        offset += 1;
        for &raw in block {
            let bytes = mantissa(raw, exponent).to_le_bytes();
            out[offset..offset + 2].copy_from_slice(&bytes);
            offset += 2;
        }
    }
    debug_assert_eq!(offset, needed);
    Ok(offset)
}

/// Decompresses `out.len()` words from the front of `bytes` into `out`
/// (Q16.16 raw bits), returning the number of bytes read. Never panics and
/// never allocates; rejects non-canonical input (see the module docs).
pub fn decode(bytes: &[u8], out: &mut [i32]) -> Result<usize, RxError> {
    if bytes.len() < encoded_len(out.len()) {
        return Err(RxError::Truncated);
    }
    let mut offset = 0;
    for block in out.chunks_mut(BLOCK_WORDS) {
        offset += decode_block(&bytes[offset..], block)?;
    }
    debug_assert_eq!(offset, encoded_len(out.len()));
    Ok(offset)
}

/// Decodes one block of `block.len()` words; `bytes` is long enough.
fn decode_block(bytes: &[u8], block: &mut [i32]) -> Result<usize, RxError> {
    let exponent = bytes[0] as i8;
    if !(0..=EXPONENT_MAX as i8).contains(&exponent) {
        return Err(RxError::Malformed);
    }
    let mut magnitude_max: u32 = 0;
    for (index, word) in block.iter_mut().enumerate() {
        let at = 1 + 2 * index;
        let m = i16::from_le_bytes([bytes[at], bytes[at + 1]]);
        if m == i16::MIN {
            return Err(RxError::Malformed);
        }
        magnitude_max = magnitude_max.max(m.unsigned_abs().into());
        *word = scale(m, exponent as u8).ok_or(RxError::Malformed)?;
    }
    if exponent > 0 && magnitude_max < MANTISSA_CANONICAL_MIN {
        return Err(RxError::Malformed);
    }
    Ok(1 + 2 * block.len())
}

/// `m · 2^exponent` as an `i32`: `None` when out of range, except that
/// `+2^31` (only reachable as `m = 16384, e = 17`, the encoding of values
/// within `2^16` of `i32::MAX`) saturates to `i32::MAX`.
fn scale(m: i16, exponent: u8) -> Option<i32> {
    let value = i64::from(m) << exponent;
    if value == 1i64 << 31 {
        return Some(i32::MAX);
    }
    i32::try_from(value).ok()
}

/// Replaces each word by what a receiver decodes after BFP-16, so a sender
/// can keep the exact model its peers will see.
pub fn quantize(words: &mut [i32]) {
    for block in words.chunks_mut(BLOCK_WORDS) {
        let exponent = block_exponent(block);
        for raw in block.iter_mut() {
            let value = scale(mantissa(*raw, exponent), exponent);
            debug_assert!(value.is_some(), "the encoder only emits decodable blocks");
            *raw = value.unwrap_or(*raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CAPACITY: usize = encoded_len(64);

    fn round_trip(words: &[i32]) -> [i32; 64] {
        let mut bytes = [0u8; CAPACITY];
        let len = encode(words, &mut bytes).unwrap();
        assert_eq!(len, encoded_len(words.len()));
        let mut out = [0i32; 64];
        assert_eq!(decode(&bytes[..len], &mut out[..words.len()]), Ok(len));
        out
    }

    fn assert_within_bound(words: &[i32]) {
        let out = round_trip(words);
        for (index, block) in words.chunks(BLOCK_WORDS).enumerate() {
            let bound = i64::from(max_error_raw(block_exponent(block)));
            for (offset, &raw) in block.iter().enumerate() {
                let got = out[index * BLOCK_WORDS + offset];
                let error = (i64::from(got) - i64::from(raw)).abs();
                assert!(error <= bound, "raw {raw} got {got} bound {bound}");
            }
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(encoded_len(0), 0);
        assert_eq!(encoded_len(1), 3);
        assert_eq!(encoded_len(8), 17); // PAPER §2: 8 dims = 17 B
        assert_eq!(encoded_len(9), 19);
        assert_eq!(encoded_len(16), 33);
        assert_eq!(encoded_len(17), 36);
        assert_eq!(encoded_len(64), 132);
    }

    #[test]
    fn small_blocks_are_exact() {
        let words = [0, 1, -1, 32_767, -32_767, 12_345];
        assert_eq!(block_exponent(&words), 0);
        assert_eq!(&round_trip(&words)[..6], &words);
        assert_eq!(round_trip(&[-32_768])[0], -32_768);
        assert_eq!(block_exponent(&[-32_768]), 1);
    }

    #[test]
    fn extremes_and_power_of_two_edges() {
        assert_eq!(block_exponent(&[i32::MIN]), 17);
        assert_eq!(block_exponent(&[i32::MAX]), 17);
        assert_within_bound(&[i32::MIN, i32::MAX, 0, -1, 1]);
        for e in 1..=16u32 {
            // Just under a power of two: the paper's rule would saturate.
            let edge = ((1i64 << (15 + e)) - 1) as i32;
            assert_within_bound(&[edge, -edge, edge / 3]);
            assert_within_bound(&[1 << (14 + e), -(1 << (14 + e))]);
        }
    }

    #[test]
    fn rejects_bad_exponent_and_mantissa() {
        let mut out = [0i32; 1];
        // exponent out of range, negative exponent
        assert_eq!(decode(&[18, 0, 0x40], &mut out), Err(RxError::Malformed));
        assert_eq!(decode(&[0xFF, 0, 0x40], &mut out), Err(RxError::Malformed));
        // mantissa -32768
        assert_eq!(decode(&[0, 0x00, 0x80], &mut out), Err(RxError::Malformed));
        // non-canonical: e = 1 but |m| < 16384
        assert_eq!(decode(&[1, 0xFF, 0x3F], &mut out), Err(RxError::Malformed));
        assert_eq!(decode(&[1, 0x00, 0x40], &mut out), Ok(3));
        assert_eq!(out[0], 32_768);
        // e = 17, m = 16384 is 2^31: saturates to i32::MAX
        assert_eq!(decode(&[17, 0x00, 0x40], &mut out), Ok(3));
        assert_eq!(out[0], i32::MAX);
        // e = 17, m = 16385 does not fit an i32
        assert_eq!(decode(&[17, 0x01, 0x40], &mut out), Err(RxError::Malformed));
        assert_eq!(decode(&[17, 0x00, 0xC0], &mut out), Ok(3));
        assert_eq!(out[0], i32::MIN);
        // truncated
        assert_eq!(decode(&[0, 0], &mut out), Err(RxError::Truncated));
        assert_eq!(
            encode(&[1, 2], &mut [0u8; 4]),
            Err(EmitError::BufferTooSmall { needed: 5 })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn error_bound_holds(words in proptest::collection::vec(any::<i32>(), 1..=64)) {
            assert_within_bound(&words);
        }

        #[test]
        fn error_bound_holds_for_small_values(
            words in proptest::collection::vec(-(1i32 << 20)..(1i32 << 20), 1..=64),
        ) {
            assert_within_bound(&words);
        }

        #[test]
        fn quantize_matches_round_trip(words in proptest::collection::vec(any::<i32>(), 1..=64)) {
            let mut quantized = words.clone();
            quantize(&mut quantized);
            prop_assert_eq!(&round_trip(&words)[..words.len()], &quantized[..]);
            // Quantized words are fixed points of the codec.
            prop_assert_eq!(&round_trip(&quantized)[..words.len()], &quantized[..]);
        }

        #[test]
        fn decode_never_panics_and_is_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..=140),
            dim in 0usize..=64,
        ) {
            let mut out = [0i32; 64];
            if let Ok(len) = decode(&bytes, &mut out[..dim]) {
                let mut again = [0u8; CAPACITY];
                prop_assert_eq!(encode(&out[..dim], &mut again), Ok(len));
                prop_assert_eq!(&again[..len], &bytes[..len]);
            }
        }
    }
}
