//! BFP-16 and BFP-8: block floating point compression of Q16.16 words
//! (docs/paper.md §2), one implementation for both mantissa widths.
//!
//! Words are cut into blocks of up to [`BLOCK_WORDS`] (16); the last block
//! holds the remainder. Each block is written as one exponent byte `e`
//! (`i8`, always in `0..=`[`MantissaWidth::exponent_max`]) followed by one
//! mantissa `m` per word, of the block's [`MantissaWidth`]. A word decodes
//! to `m · 2^e` **Q16.16 raw units** (the exponent scales the raw `i32`
//! bits, not the real value).
//!
//! | width | mantissa | `p` | `m` | `e` | bytes for `dim` words |
//! |---|---|---|---|---|---|
//! | [`MantissaWidth::Bits16`] (BFP-16) | `i16` LE | 15 | `±32767` | `0..=17` | `⌈dim/16⌉ + 2·dim` |
//! | [`MantissaWidth::Bits8`] (BFP-8) | `i8` | 7 | `±127` | `0..=25` | `⌈dim/16⌉ + dim` |
//!
//! `p` is the number of magnitude bits of a mantissa (its width less the
//! sign); `e` never exceeds `32 − p`, enough for `|i32::MIN| = 2^31`.
//!
//! ## Encoding rule
//!
//! With `M = max |raw|` over the block (as an unsigned magnitude, so
//! `i32::MIN` is `2^31`):
//!
//! * `e = max(0, bitlen(M) − p)`, the paper's rule: the largest magnitude
//!   keeps `p` significant bits;
//! * if `round(M / 2^e)` would be `2^p` (only when `M` sits just under a
//!   power of two), `e` is raised by one. The paper's rule saturates the
//!   mantissa instead, which breaks the error bound by up to `2^e − 1`
//!   units; bumping the exponent keeps the bound for every word;
//! * `m = round(raw / 2^e)`, rounding half away from zero (then clamped to
//!   `±(2^p − 1)`, which never bites given the rule above).
//!
//! **Error bound** (both widths): `|decode(encode(raw)) − raw| ≤ 2^(e−1)`
//! raw units per word for `e ≥ 1`, and `0` for `e = 0` ([`max_error_raw`]).
//! A block is exact when its magnitudes fit in `p` bits: `|raw| < 2^15`
//! (`|x| < 0.5`) for BFP-16, `|raw| < 2^7` (`|x| < 2^−9`) for BFP-8.
//! Relative to the block's largest magnitude the error is at most `2^−p`.
//!
//! ## Strict decoding
//!
//! The encoder's output is canonical and the decoder accepts nothing else,
//! so `encode(decode(bytes)) == bytes` for every accepted input. A block is
//! rejected ([`RxError::Malformed`]) when its exponent is outside
//! `0..=32 − p`, a mantissa is `−2^p` (`−32768`, `−128`), the exponent is
//! not the smallest one possible (`e > 0` but every `|m| < 2^(p−1)`, i.e.
//! `16384` or `64`), or a value `m · 2^e` does not fit an `i32`. The single
//! exception is `m · 2^e = 2^31` (`e = 32 − p`, `m = 2^(p−1)`), what the
//! encoder writes for values within `2^(e−1)` of `i32::MAX` (`2^16` for
//! BFP-16, `2^24` for BFP-8): it reads as `i32::MAX`, which is nearer to
//! the value than `2^31`, so inside the bound.

use super::{EmitError, Encoding};
use crate::runtime::RxError;

/// Words per block (the last block may be shorter), for both widths.
pub const BLOCK_WORDS: usize = 16;

/// The mantissa width of a block floating point encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MantissaWidth {
    /// BFP-8: one `i8` mantissa per word, `±127`.
    Bits8,
    /// BFP-16: one `i16` little-endian mantissa per word, `±32767`.
    Bits16,
}

impl MantissaWidth {
    /// Bytes per mantissa: 1 or 2.
    pub const fn bytes(self) -> usize {
        match self {
            MantissaWidth::Bits8 => 1,
            MantissaWidth::Bits16 => 2,
        }
    }

    /// Magnitude bits `p` of a mantissa (the width less the sign): 7 or 15.
    pub const fn magnitude_bits(self) -> u32 {
        8 * self.bytes() as u32 - 1
    }

    /// Largest mantissa magnitude, `2^p − 1`: 127 or 32767.
    pub const fn mantissa_max(self) -> i32 {
        (1 << self.magnitude_bits()) - 1
    }

    /// Largest exponent the encoder emits, `32 − p` (`2^31` needs 32
    /// bits): 25 or 17.
    pub const fn exponent_max(self) -> u8 {
        (32 - self.magnitude_bits()) as u8
    }

    /// Smallest `max |m|` of a block with `e > 0`, `2^(p−1)` (the canonical
    /// form keeps the top mantissa bit set).
    const fn canonical_min(self) -> u32 {
        1 << (self.magnitude_bits() - 1)
    }

    /// Bytes `dim` words take: one exponent per block plus
    /// [`MantissaWidth::bytes`] per word.
    pub const fn encoded_len(self, dim: usize) -> usize {
        dim.div_ceil(BLOCK_WORDS) + self.bytes() * dim
    }

    /// The mantissa at the front of `bytes`, which holds at least one.
    fn read(self, bytes: &[u8]) -> i32 {
        match self {
            MantissaWidth::Bits8 => i32::from(bytes[0] as i8),
            MantissaWidth::Bits16 => i32::from(i16::from_le_bytes([bytes[0], bytes[1]])),
        }
    }

    /// Writes mantissa `m` (in range) at the front of `out`.
    fn write(self, m: i32, out: &mut [u8]) {
        match self {
            MantissaWidth::Bits8 => out[0] = (m as i8) as u8,
            MantissaWidth::Bits16 => out[..2].copy_from_slice(&(m as i16).to_le_bytes()),
        }
    }
}

/// Worst-case absolute error in raw Q16.16 units of a word in a block with
/// exponent `exponent`: `2^(e−1)`, or 0 when `e = 0` (either width).
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
pub fn block_exponent(width: MantissaWidth, block: &[i32]) -> u8 {
    debug_assert!(block.len() <= BLOCK_WORDS);
    let mut magnitude_max: u32 = 0;
    for &raw in block {
        magnitude_max = magnitude_max.max(raw.unsigned_abs());
    }
    let bit_len = 32 - magnitude_max.leading_zeros();
    let mantissa_max = width.mantissa_max() as u32;
    let mut exponent = bit_len.saturating_sub(width.magnitude_bits()) as u8;
    if round_shift(magnitude_max, exponent) > mantissa_max {
        exponent += 1;
    }
    debug_assert!(exponent <= width.exponent_max());
    debug_assert!(round_shift(magnitude_max, exponent) <= mantissa_max);
    exponent
}

/// The mantissa of `raw` under `exponent`.
fn mantissa(width: MantissaWidth, raw: i32, exponent: u8) -> i32 {
    let magnitude = round_shift(raw.unsigned_abs(), exponent).min(width.mantissa_max() as u32);
    let magnitude = magnitude as i32;
    if raw < 0 { -magnitude } else { magnitude }
}

/// Compresses `words` (Q16.16 raw bits) into `out`, returning the number
/// of bytes written, `width.`[`encoded_len`](MantissaWidth::encoded_len)`(words.len())`.
pub fn encode(width: MantissaWidth, words: &[i32], out: &mut [u8]) -> Result<usize, EmitError> {
    let needed = width.encoded_len(words.len());
    if out.len() < needed {
        return Err(EmitError::BufferTooSmall { needed });
    }
    let mut offset = 0;
    for block in words.chunks(BLOCK_WORDS) {
        let exponent = block_exponent(width, block);
        out[offset] = exponent;
        offset += 1;
        for &raw in block {
            width.write(mantissa(width, raw, exponent), &mut out[offset..]);
            offset += width.bytes();
        }
    }
    debug_assert_eq!(offset, needed);
    Ok(offset)
}

/// Decompresses `out.len()` words from the front of `bytes` into `out`
/// (Q16.16 raw bits), returning the number of bytes read. Never panics and
/// never allocates; rejects non-canonical input (see the module docs).
pub fn decode(width: MantissaWidth, bytes: &[u8], out: &mut [i32]) -> Result<usize, RxError> {
    let needed = width.encoded_len(out.len());
    if bytes.len() < needed {
        return Err(RxError::Truncated);
    }
    let mut offset = 0;
    for block in out.chunks_mut(BLOCK_WORDS) {
        offset += decode_block(width, &bytes[offset..], block)?;
    }
    debug_assert_eq!(offset, needed);
    Ok(offset)
}

/// Decodes one block of `block.len()` words; `bytes` is long enough.
fn decode_block(width: MantissaWidth, bytes: &[u8], block: &mut [i32]) -> Result<usize, RxError> {
    let exponent = bytes[0] as i8;
    if !(0..=width.exponent_max() as i8).contains(&exponent) {
        return Err(RxError::Malformed);
    }
    let mut magnitude_max: u32 = 0;
    let mut offset = 1;
    for word in block.iter_mut() {
        let m = width.read(&bytes[offset..]);
        offset += width.bytes();
        if m < -width.mantissa_max() {
            return Err(RxError::Malformed);
        }
        magnitude_max = magnitude_max.max(m.unsigned_abs());
        *word = scale(m, exponent as u8).ok_or(RxError::Malformed)?;
    }
    if exponent > 0 && magnitude_max < width.canonical_min() {
        return Err(RxError::Malformed);
    }
    Ok(offset)
}

/// `m · 2^exponent` as an `i32`: `None` when out of range, except that
/// `+2^31` (only reachable as `m = 2^(p−1), e = 32 − p`, the encoding of
/// values just below `i32::MAX`) saturates to `i32::MAX`.
fn scale(m: i32, exponent: u8) -> Option<i32> {
    let value = i64::from(m) << exponent;
    if value == 1i64 << 31 {
        return Some(i32::MAX);
    }
    i32::try_from(value).ok()
}

/// Replaces each word by what a receiver decodes after [`encode`] with
/// `width`, so a sender can keep the exact model its peers will see:
/// `quantize(w, x)` equals `decode(w, encode(w, x))` word for word.
pub fn quantize(width: MantissaWidth, words: &mut [i32]) {
    for block in words.chunks_mut(BLOCK_WORDS) {
        let exponent = block_exponent(width, block);
        for raw in block.iter_mut() {
            let value = scale(mantissa(width, *raw, exponent), exponent);
            debug_assert!(value.is_some(), "the encoder only emits decodable blocks");
            *raw = value.unwrap_or(*raw);
        }
    }
}

/// [`quantize`] for the words of an update in `encoding`: BFP encodings
/// round to what they carry, [`Encoding::Raw`] is exact and leaves the
/// words unchanged.
pub fn quantize_for(encoding: Encoding, words: &mut [i32]) {
    if let Some(width) = encoding.mantissa_width() {
        quantize(width, words);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WIDTHS: [MantissaWidth; 2] = [MantissaWidth::Bits8, MantissaWidth::Bits16];
    const CAPACITY: usize = MantissaWidth::Bits16.encoded_len(64);

    fn round_trip(width: MantissaWidth, words: &[i32]) -> [i32; 64] {
        let mut bytes = [0u8; CAPACITY];
        let len = encode(width, words, &mut bytes).unwrap();
        assert_eq!(len, width.encoded_len(words.len()));
        let mut out = [0i32; 64];
        assert_eq!(
            decode(width, &bytes[..len], &mut out[..words.len()]),
            Ok(len)
        );
        out
    }

    fn assert_within_bound(width: MantissaWidth, words: &[i32]) {
        let out = round_trip(width, words);
        for (index, block) in words.chunks(BLOCK_WORDS).enumerate() {
            let bound = i64::from(max_error_raw(block_exponent(width, block)));
            for (offset, &raw) in block.iter().enumerate() {
                let got = out[index * BLOCK_WORDS + offset];
                let error = (i64::from(got) - i64::from(raw)).abs();
                assert!(
                    error <= bound,
                    "{width:?}: raw {raw} got {got} bound {bound}"
                );
            }
        }
    }

    #[test]
    fn sizes() {
        // (dim, BFP-8 bytes, BFP-16 bytes)
        let table = [
            (0, 0, 0),
            (1, 2, 3),
            (8, 9, 17), // PAPER §2: 8 dims = 17 B in BFP-16
            (9, 10, 19),
            (16, 17, 33),
            (17, 19, 36),
            (64, 68, 132),
        ];
        for (dim, bfp8, bfp16) in table {
            assert_eq!(MantissaWidth::Bits8.encoded_len(dim), bfp8, "dim {dim}");
            assert_eq!(MantissaWidth::Bits16.encoded_len(dim), bfp16, "dim {dim}");
        }
        assert_eq!(MantissaWidth::Bits8.exponent_max(), 25);
        assert_eq!(MantissaWidth::Bits16.exponent_max(), 17);
        assert_eq!(MantissaWidth::Bits8.mantissa_max(), i32::from(i8::MAX));
        assert_eq!(MantissaWidth::Bits16.mantissa_max(), i32::from(i16::MAX));
    }

    #[test]
    fn small_blocks_are_exact() {
        for width in WIDTHS {
            let max = width.mantissa_max();
            let words = [0, 1, -1, max, -max, max / 3];
            assert_eq!(block_exponent(width, &words), 0);
            assert_eq!(&round_trip(width, &words)[..6], &words);
            assert_eq!(round_trip(width, &[-max - 1])[0], -max - 1);
            assert_eq!(block_exponent(width, &[-max - 1]), 1);
        }
    }

    #[test]
    fn extremes_and_power_of_two_edges() {
        for width in WIDTHS {
            let p = width.magnitude_bits();
            assert_eq!(block_exponent(width, &[i32::MIN]), width.exponent_max());
            assert_eq!(block_exponent(width, &[i32::MAX]), width.exponent_max());
            assert_within_bound(width, &[i32::MIN, i32::MAX, 0, -1, 1]);
            for e in 1..u32::from(width.exponent_max()) {
                // Just under a power of two: the paper's rule would saturate.
                let edge = ((1i64 << (p + e)) - 1) as i32;
                assert_within_bound(width, &[edge, -edge, edge / 3]);
                assert_within_bound(width, &[1 << (p - 1 + e), -(1 << (p - 1 + e))]);
                assert_eq!(block_exponent(width, &[edge]), e as u8 + 1);
            }
        }
    }

    #[test]
    fn rejects_bad_exponent_and_mantissa() {
        use MantissaWidth::{Bits8, Bits16};
        let malformed = Err(RxError::Malformed);
        // (width, one-word block, expected)
        let cases: [(MantissaWidth, &[u8], Result<i32, RxError>); 22] = [
            // exponent out of range, negative exponent
            (Bits16, &[18, 0x00, 0x40], malformed),
            (Bits16, &[0xFF, 0x00, 0x40], malformed),
            (Bits8, &[26, 0x40], malformed),
            (Bits8, &[0xFF, 0x40], malformed),
            // mantissa -2^p
            (Bits16, &[0, 0x00, 0x80], malformed),
            (Bits8, &[0, 0x80], malformed),
            // non-canonical: e = 1 but |m| < 2^(p-1)
            (Bits16, &[1, 0xFF, 0x3F], malformed),
            (Bits8, &[1, 0x3F], malformed),
            (Bits8, &[1, 0xC1], malformed),
            (Bits16, &[1, 0x00, 0x40], Ok(32_768)),
            (Bits8, &[1, 0x40], Ok(128)),
            (Bits8, &[1, 0xC0], Ok(-128)),
            (Bits8, &[0, 0x81], Ok(-127)),
            // e = 32 - p, m = 2^(p-1) is 2^31: saturates to i32::MAX
            (Bits16, &[17, 0x00, 0x40], Ok(i32::MAX)),
            (Bits8, &[25, 0x40], Ok(i32::MAX)),
            // larger mantissas at the top exponent do not fit an i32
            (Bits16, &[17, 0x01, 0x40], malformed),
            (Bits8, &[25, 0x41], malformed),
            (Bits8, &[25, 0x7F], malformed),
            (Bits8, &[25, 0xBF], malformed),
            (Bits16, &[17, 0x00, 0xC0], Ok(i32::MIN)),
            (Bits8, &[25, 0xC0], Ok(i32::MIN)),
            (Bits8, &[24, 0x7F], Ok(127 << 24)),
        ];
        for (width, bytes, expected) in cases {
            let mut out = [0i32; 1];
            let got = decode(width, bytes, &mut out).map(|len| {
                assert_eq!(len, bytes.len());
                out[0]
            });
            assert_eq!(got, expected, "{width:?} {bytes:02x?}");
        }
        for width in WIDTHS {
            let mut out = [0i32; 17];
            // truncated
            let short = [0u8; CAPACITY];
            let needed = width.encoded_len(17);
            assert_eq!(
                decode(width, &short[..needed - 1], &mut out),
                Err(RxError::Truncated)
            );
            // a non-canonical second block is caught too
            let mut bytes = [0u8; CAPACITY];
            assert_eq!(encode(width, &[0; 17], &mut bytes), Ok(needed));
            bytes[width.encoded_len(16)] = 1;
            assert_eq!(
                decode(width, &bytes[..needed], &mut out),
                Err(RxError::Malformed)
            );
            assert_eq!(
                encode(width, &[1, 2], &mut [0u8; 2]),
                Err(EmitError::BufferTooSmall {
                    needed: width.encoded_len(2)
                })
            );
        }
    }

    #[test]
    fn quantize_for_follows_the_encoding() {
        let words = [1 << 20, -3, 12_345_678, 7];
        for (encoding, width) in [
            (Encoding::Bfp8, MantissaWidth::Bits8),
            (Encoding::Bfp16, MantissaWidth::Bits16),
        ] {
            let mut quantized = words;
            quantize_for(encoding, &mut quantized);
            assert_eq!(&round_trip(width, &words)[..4], &quantized);
        }
        let mut raw = words;
        quantize_for(Encoding::Raw, &mut raw);
        assert_eq!(raw, words);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn error_bound_holds(words in proptest::collection::vec(any::<i32>(), 1..=64)) {
            for width in WIDTHS {
                assert_within_bound(width, &words);
            }
        }

        #[test]
        fn error_bound_holds_for_small_values(
            words in proptest::collection::vec(-(1i32 << 20)..(1i32 << 20), 1..=64),
        ) {
            for width in WIDTHS {
                assert_within_bound(width, &words);
            }
        }

        #[test]
        fn quantize_matches_round_trip(words in proptest::collection::vec(any::<i32>(), 1..=64)) {
            for width in WIDTHS {
                let mut quantized = words.clone();
                quantize(width, &mut quantized);
                prop_assert_eq!(&round_trip(width, &words)[..words.len()], &quantized[..]);
                // Quantized words are fixed points of the codec.
                prop_assert_eq!(&round_trip(width, &quantized)[..words.len()], &quantized[..]);
            }
        }

        #[test]
        fn decode_never_panics_and_is_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..=140),
            dim in 0usize..=64,
        ) {
            for width in WIDTHS {
                let mut out = [0i32; 64];
                if let Ok(len) = decode(width, &bytes, &mut out[..dim]) {
                    let mut again = [0u8; CAPACITY];
                    prop_assert_eq!(encode(width, &out[..dim], &mut again), Ok(len));
                    prop_assert_eq!(&again[..len], &bytes[..len]);
                }
            }
        }
    }
}
