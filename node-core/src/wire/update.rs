//! ModelUpdate ("GhostUpdate"): a sender's model weights, or a delta
//! against an agreed base model, raw or BFP-16/BFP-8 compressed.
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 1 | regime | sender's [`Regime`] (0 Calm, 1 PreStorm, 2 Storm) |
//! | 1 | 1 | encoding | [`Encoding`]: 0 raw Q16.16, 1 BFP-16, 2 BFP-8 |
//! | 2 | 1 | flags | bit 0 [`FLAG_DELTA`]; bits 1..=7 reserved, must be 0 |
//! | 3 | 1 | dim | words, `1..=MAX_DIM` |
//! | 4 | 4 | base_round | round of the keyframe a delta applies to |
//! | 8 | 4 | residual | sender's recent prediction RMSE, Q16.16 |
//! | 12 | … | words | raw: `dim × i32`; BFP: [`MantissaWidth::encoded_len`]`(dim)` bytes |
//!
//! Sizes for `dim = 9` (the default model): payload 48 / 31 / 22 bytes,
//! frame 64 / 47 / 38 bytes for raw / BFP-16 / BFP-8.

use super::bfp::{self, MantissaWidth};
use super::field;
use super::view::{exact_len, packet_view};
use super::{EmitError, MAX_DIM, RxError, Words, regime_from_code};
use crate::q::Q;
use crate::regime::Regime;

/// `flags` bit 0: the words are a delta against the model of `base_round`.
pub const FLAG_DELTA: u8 = 0x01;

/// Bytes before the words.
pub const FIXED_LEN: usize = 12;

/// Largest payload (raw encoding, [`MAX_DIM`] words).
pub const MAX_LEN: usize = FIXED_LEN + 4 * MAX_DIM;

mod offset {
    pub const REGIME: usize = 0;
    pub const ENCODING: usize = 1;
    pub const FLAGS: usize = 2;
    pub const DIM: usize = 3;
    pub const BASE_ROUND: usize = 4;
    pub const RESIDUAL: usize = 8;
    pub const WORDS: usize = 12;
}

/// How the words are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// `dim` little-endian `i32` Q16.16 words, exact.
    #[default]
    Raw = 0,
    /// Block floating point with 16-bit mantissas, lossy with a stated
    /// bound (see [`bfp`]).
    Bfp16 = 1,
    /// Block floating point with 8-bit mantissas: half the bytes of
    /// [`Encoding::Bfp16`], the same bound `2^(e−1)` per word with a
    /// coarser exponent (see [`bfp`]).
    Bfp8 = 2,
}

impl Encoding {
    /// The encoding with wire code `code`, if any.
    pub const fn from_code(code: u8) -> Option<Encoding> {
        match code {
            0 => Some(Encoding::Raw),
            1 => Some(Encoding::Bfp16),
            2 => Some(Encoding::Bfp8),
            _ => None,
        }
    }

    /// The mantissa width of a block floating point encoding, `None` for
    /// [`Encoding::Raw`].
    pub const fn mantissa_width(self) -> Option<MantissaWidth> {
        match self {
            Encoding::Raw => None,
            Encoding::Bfp16 => Some(MantissaWidth::Bits16),
            Encoding::Bfp8 => Some(MantissaWidth::Bits8),
        }
    }

    /// Bytes `dim` words take in this encoding.
    pub const fn words_len(self, dim: usize) -> usize {
        match self.mantissa_width() {
            None => 4 * dim,
            Some(width) => width.encoded_len(dim),
        }
    }
}

packet_view! {
    /// A view of a ModelUpdate payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the fields the length depends on (encoding, dim) and that
    /// the buffer is exactly as long as they imply.
    pub fn check_len(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN {
            return Err(RxError::Truncated);
        }
        let encoding = Encoding::from_code(self.encoding_code()).ok_or(RxError::Malformed)?;
        let dim = usize::from(self.dim());
        if dim == 0 || dim > MAX_DIM {
            return Err(RxError::Malformed);
        }
        exact_len(len, FIXED_LEN + encoding.words_len(dim))
    }

    /// The regime byte.
    pub fn regime_code(&self) -> u8 {
        self.buffer.as_ref()[offset::REGIME]
    }

    /// The encoding byte.
    pub fn encoding_code(&self) -> u8 {
        self.buffer.as_ref()[offset::ENCODING]
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[offset::FLAGS]
    }

    /// The number of words.
    pub fn dim(&self) -> u8 {
        self.buffer.as_ref()[offset::DIM]
    }

    /// The round of the base model a delta applies to.
    pub fn base_round(&self) -> u32 {
        field::u32_at(self.buffer.as_ref(), offset::BASE_ROUND)
    }

    /// The residual, Q16.16 raw bits.
    pub fn residual_raw(&self) -> i32 {
        field::i32_at(self.buffer.as_ref(), offset::RESIDUAL)
    }

    /// The encoded words.
    pub fn words_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[offset::WORDS..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the regime byte.
    pub fn set_regime_code(&mut self, code: u8) {
        self.buffer.as_mut()[offset::REGIME] = code;
    }

    /// Sets the encoding byte.
    pub fn set_encoding_code(&mut self, code: u8) {
        self.buffer.as_mut()[offset::ENCODING] = code;
    }

    /// Sets the flags byte.
    pub fn set_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[offset::FLAGS] = flags;
    }

    /// Sets the number of words.
    pub fn set_dim(&mut self, dim: u8) {
        self.buffer.as_mut()[offset::DIM] = dim;
    }

    /// Sets the base round.
    pub fn set_base_round(&mut self, round: u32) {
        field::set_u32(self.buffer.as_mut(), offset::BASE_ROUND, round);
    }

    /// Sets the residual (Q16.16 raw bits).
    pub fn set_residual_raw(&mut self, raw: i32) {
        field::set_i32(self.buffer.as_mut(), offset::RESIDUAL, raw);
    }

    /// The encoded words, mutably.
    pub fn words_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[offset::WORDS..]
    }
}

/// A parsed ModelUpdate.
///
/// With a BFP encoding, `emit` is lossy: `parse(emit(r)) == r` only when
/// the words are already representable (see [`bfp::quantize_for`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The sender's regime.
    pub regime: Regime,
    /// How the words travel.
    pub encoding: Encoding,
    /// Whether the words are a delta against the model of `base_round`.
    pub delta: bool,
    /// Round of the sender's keyframe a delta applies to (meaningful when
    /// `delta`; see [`crate::gossip::delta`]).
    pub base_round: u32,
    /// The sender's recent prediction RMSE.
    pub residual: Q,
    /// The weights or delta, `1..=MAX_DIM` of them.
    pub words: Words,
}

impl Repr {
    /// Parses a checked packet: regime, reserved flags and the words.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        let regime = regime_from_code(packet.regime_code()).ok_or(RxError::Malformed)?;
        let encoding = Encoding::from_code(packet.encoding_code()).ok_or(RxError::Malformed)?;
        if packet.flags() & !FLAG_DELTA != 0 {
            return Err(RxError::Malformed);
        }
        let dim = usize::from(packet.dim());
        let mut raw = [0i32; MAX_DIM];
        let raw = &mut raw[..dim];
        decode_words(encoding, packet.words_bytes(), raw)?;
        let mut words = Words::new();
        for &word in raw.iter() {
            words
                .push(Q::from_bits(word))
                .map_err(|_| RxError::Malformed)?;
        }
        Ok(Repr {
            regime,
            encoding,
            delta: packet.flags() & FLAG_DELTA != 0,
            base_round: packet.base_round(),
            residual: Q::from_bits(packet.residual_raw()),
            words,
        })
    }

    /// Payload bytes of the encoded update.
    pub fn buffer_len(&self) -> usize {
        FIXED_LEN + self.encoding.words_len(self.words.len())
    }

    /// [`EmitError::Invalid`] when there are no words (the only state the
    /// type allows that the wire does not).
    pub fn validate(&self) -> Result<(), EmitError> {
        if self.words.is_empty() {
            return Err(EmitError::Invalid);
        }
        Ok(())
    }

    /// Writes the update into `packet`, exactly [`Repr::buffer_len`] long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        debug_assert!(self.validate().is_ok());
        let dim = self.words.len();
        packet.set_regime_code(self.regime as u8);
        packet.set_encoding_code(self.encoding as u8);
        packet.set_flags(if self.delta { FLAG_DELTA } else { 0 });
        packet.set_dim(dim as u8);
        packet.set_base_round(self.base_round);
        packet.set_residual_raw(self.residual.to_bits());
        let mut raw = [0i32; MAX_DIM];
        for (slot, word) in raw.iter_mut().zip(self.words.as_slice()) {
            *slot = word.to_bits();
        }
        encode_words(self.encoding, &raw[..dim], packet.words_bytes_mut());
    }
}

/// Decodes `raw.len()` words; `bytes` is exactly their encoded length.
fn decode_words(encoding: Encoding, bytes: &[u8], raw: &mut [i32]) -> Result<(), RxError> {
    match encoding.mantissa_width() {
        None => {
            for (index, word) in raw.iter_mut().enumerate() {
                *word = field::i32_at(bytes, 4 * index);
            }
        }
        Some(width) => {
            bfp::decode(width, bytes, raw)?;
        }
    }
    Ok(())
}

/// Encodes `raw` into `bytes`, which is exactly their encoded length.
fn encode_words(encoding: Encoding, raw: &[i32], bytes: &mut [u8]) {
    debug_assert_eq!(bytes.len(), encoding.words_len(raw.len()));
    match encoding.mantissa_width() {
        None => {
            for (index, &word) in raw.iter().enumerate() {
                field::set_i32(bytes, 4 * index, word);
            }
        }
        Some(width) => {
            let written = bfp::encode(width, raw, bytes);
            debug_assert_eq!(written, Ok(bytes.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;

    fn sample(encoding: Encoding, dim: usize) -> Repr {
        let mut words = Words::new();
        for i in 0..dim {
            let raw = (i as i32 - 4) * 0x1_2345;
            words.push(Q::from_bits(raw)).unwrap();
        }
        let mut raw = [0i32; MAX_DIM];
        for (r, w) in raw.iter_mut().zip(words.as_slice()) {
            *r = w.to_bits();
        }
        bfp::quantize_for(encoding, &mut raw[..dim]);
        for (w, r) in words.as_mut_slice().iter_mut().zip(raw) {
            *w = Q::from_bits(r);
        }
        Repr {
            regime: Regime::PreStorm,
            encoding,
            delta: true,
            base_round: 41,
            residual: q::ratio(1, 3),
            words,
        }
    }

    fn round_trip(repr: &Repr) -> ([u8; MAX_LEN], usize) {
        let len = repr.buffer_len();
        let mut buf = [0u8; MAX_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..len]));
        let packet = Packet::new_checked(&buf[..len]).unwrap();
        assert_eq!(Repr::parse(&packet), Ok(*repr));
        (buf, len)
    }

    #[test]
    fn sizes_for_dim_9() {
        assert_eq!(sample(Encoding::Raw, 9).buffer_len(), 12 + 36);
        assert_eq!(sample(Encoding::Bfp16, 9).buffer_len(), 12 + 19);
        assert_eq!(sample(Encoding::Bfp8, 9).buffer_len(), 12 + 10);
        // Frames add 16 bytes: 64, 47 and 38.
        assert_eq!(MAX_LEN, 268);
    }

    #[test]
    fn codes_round_trip() {
        for encoding in [Encoding::Raw, Encoding::Bfp16, Encoding::Bfp8] {
            assert_eq!(Encoding::from_code(encoding as u8), Some(encoding));
        }
        assert_eq!(Encoding::from_code(3), None);
    }

    #[test]
    fn round_trips() {
        for dim in [1, 9, 16, 17, 64] {
            for encoding in [Encoding::Raw, Encoding::Bfp16, Encoding::Bfp8] {
                round_trip(&sample(encoding, dim));
            }
        }
    }

    #[test]
    fn bfp8_layout_and_strictness() {
        let repr = sample(Encoding::Bfp8, 2);
        let (good, len) = round_trip(&repr);
        assert_eq!(len, FIXED_LEN + 3);
        assert_eq!(good[offset::ENCODING], 2);
        // Words -4·0x12345 and -3·0x12345: M = 298260 has 19 bits, e = 12,
        // mantissas round(-298260 / 4096) = -73 and round(-223695 / 4096) = -55.
        assert_eq!(&good[FIXED_LEN..len], &[12, (-73i8) as u8, (-55i8) as u8]);
        let parse = |bytes: &[u8]| Packet::new_checked(bytes).and_then(|p| Repr::parse(&p));
        let mut bad = good;
        bad[FIXED_LEN] = 26; // exponent above 25
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        let mut bad = good;
        bad[FIXED_LEN + 1] = 63; // non-canonical: e > 0 but every |m| < 64
        bad[FIXED_LEN + 2] = (-63i8) as u8;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        let mut bad = good;
        bad[FIXED_LEN + 1] = 0x80; // mantissa -128
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        assert_eq!(parse(&good[..len - 1]), Err(RxError::Truncated));
    }

    #[test]
    fn layout() {
        let (buf, _) = round_trip(&sample(Encoding::Raw, 1));
        assert_eq!(&buf[..4], &[1, 0, FLAG_DELTA, 1]);
        assert_eq!(&buf[4..8], &41u32.to_le_bytes());
        assert_eq!(&buf[8..12], &q::ratio(1, 3).to_bits().to_le_bytes());
        assert_eq!(&buf[12..16], &(-4 * 0x1_2345i32).to_le_bytes());
    }

    #[test]
    fn rejects_out_of_range_fields() {
        let repr = sample(Encoding::Raw, 2);
        let (good, len) = round_trip(&repr);
        let parse = |bytes: &[u8]| Packet::new_checked(bytes).and_then(|p| Repr::parse(&p));
        let mut bad = good;
        bad[offset::REGIME] = 3;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        let mut bad = good;
        bad[offset::ENCODING] = 3;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        let mut bad = good;
        bad[offset::FLAGS] = 0x02;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        let mut bad = good;
        bad[offset::DIM] = 0;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        bad[offset::DIM] = MAX_DIM as u8 + 1;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        bad[offset::DIM] = 3;
        assert_eq!(parse(&bad[..len]), Err(RxError::Truncated));
        bad[offset::DIM] = 1;
        assert_eq!(parse(&bad[..len]), Err(RxError::Malformed));
        assert_eq!(parse(&good[..FIXED_LEN - 1]), Err(RxError::Truncated));
    }
}
