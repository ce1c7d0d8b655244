//! AuditResponse: the audited node's answer to a challenge — everything
//! its broadcast model was computed from, so the auditor can recompute it
//! bit for bit ([`crate::audit`]).
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 16 | nonce | the challenge's nonce |
//! | 16 | 1 | status | 0 record, 1 no record of that round, 2 unauditable (sample buffer overflowed) |
//! | 17 | 1 | dim | base words `b`, `0..=MAX_DIM` |
//! | 18 | 1 | history_len | history samples `h`, `0..=MAX_HISTORY` |
//! | 19 | 1 | sample_count | samples `s`, `0..=MAX_SAMPLES` |
//! | 20 | 4·b | base | the weights training started from, Q16.16 |
//! | 20+4b | 4·h | history | the predictor's lag window then, oldest first, Q16.16 |
//! | 20+4b+4h | 4·s | samples | the samples trained on since, in order, Q16.16 |
//! | 20+4(b+h+s) | ⌈s/4⌉ | steps | 2-bit step code per sample: sample `i` in bits `2(i mod 4)..` of byte `⌊i/4⌋`; unused bits 0 |
//!
//! A status other than "record" carries no words (all three counts 0).
//! The whole payload is at most [`MAX_LEN`] bytes, so that the largest
//! frame still fits [`super::MAX_FRAGMENTS`] fragments at the smallest MTU;
//! a node whose record would be longer answers "unauditable".

use super::challenge::NONCE_LEN;
use super::field;
use super::view::{exact_len, packet_view};
use super::{BoundedVec, EmitError, MAX_DIM, RxError, Words};
use crate::q::Q;

/// Bytes before the words.
pub const FIXED_LEN: usize = NONCE_LEN + 4;

/// Most history samples (the predictor's largest window,
/// [`crate::model::WINDOW_LEN_MAX`]).
pub const MAX_HISTORY: usize = crate::model::WINDOW_LEN_MAX;

/// Most samples a record carries (the audit sample buffer's capacity).
pub const MAX_SAMPLES: usize = 32;

/// Largest payload: `MAX_FRAME_LEN` = 320 B = 16 fragments of the
/// smallest MTU's 20-byte chunks.
pub const MAX_LEN: usize = 304;

/// Highest step code.
pub const STEP_CODE_MAX: u8 = 3;

/// History samples as carried.
pub type History = BoundedVec<Q, MAX_HISTORY>;

/// Samples as carried.
pub type Samples = BoundedVec<Q, MAX_SAMPLES>;

/// Step codes as carried (each `0..=STEP_CODE_MAX`).
pub type Steps = BoundedVec<u8, MAX_SAMPLES>;

/// What a response says about the challenged round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// The record follows.
    #[default]
    Record = 0,
    /// The node holds no record of that round (it did not broadcast then,
    /// or has broadcast since).
    NoRecord = 1,
    /// More samples arrived in the round than the record holds, or the
    /// record would not fit [`MAX_LEN`].
    Unauditable = 2,
}

impl Status {
    const fn from_code(code: u8) -> Option<Status> {
        match code {
            0 => Some(Status::Record),
            1 => Some(Status::NoRecord),
            2 => Some(Status::Unauditable),
            _ => None,
        }
    }
}

mod offset {
    pub const STATUS: usize = super::NONCE_LEN;
    pub const DIM: usize = STATUS + 1;
    pub const HISTORY_LEN: usize = DIM + 1;
    pub const SAMPLE_COUNT: usize = HISTORY_LEN + 1;
}

/// Payload bytes for the given counts.
pub const fn len_for(dim: usize, history: usize, samples: usize) -> usize {
    FIXED_LEN + 4 * (dim + history + samples) + samples.div_ceil(4)
}

packet_view! {
    /// A view of an AuditResponse payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks each count against its bound, the total against [`MAX_LEN`]
    /// and that the buffer holds exactly what the counts declare.
    pub fn check_len(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN {
            return Err(RxError::Truncated);
        }
        let (dim, history, samples) = self.counts();
        if dim > MAX_DIM || history > MAX_HISTORY || samples > MAX_SAMPLES {
            return Err(RxError::Malformed);
        }
        let expected = len_for(dim, history, samples);
        if expected > MAX_LEN {
            return Err(RxError::Malformed);
        }
        exact_len(len, expected)
    }

    /// The echoed nonce.
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&self.buffer.as_ref()[..NONCE_LEN]);
        nonce
    }

    /// The status code.
    pub fn status_code(&self) -> u8 {
        self.buffer.as_ref()[offset::STATUS]
    }

    /// `(dim, history_len, sample_count)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        let data = self.buffer.as_ref();
        (
            usize::from(data[offset::DIM]),
            usize::from(data[offset::HISTORY_LEN]),
            usize::from(data[offset::SAMPLE_COUNT]),
        )
    }

    /// Word `index` of the concatenated base ‖ history ‖ samples, raw bits.
    pub fn word_raw(&self, index: usize) -> i32 {
        field::i32_at(self.buffer.as_ref(), FIXED_LEN + 4 * index)
    }

    /// The step code of sample `index`.
    pub fn step_code(&self, index: usize) -> u8 {
        let (dim, history, samples) = self.counts();
        let at = FIXED_LEN + 4 * (dim + history + samples) + index / 4;
        (self.buffer.as_ref()[at] >> (2 * (index % 4))) & 0b11
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the nonce.
    pub fn set_nonce(&mut self, nonce: &[u8; NONCE_LEN]) {
        self.buffer.as_mut()[..NONCE_LEN].copy_from_slice(nonce);
    }

    /// Sets the status code.
    pub fn set_status_code(&mut self, code: u8) {
        self.buffer.as_mut()[offset::STATUS] = code;
    }

    /// Sets the three counts.
    pub fn set_counts(&mut self, dim: u8, history: u8, samples: u8) {
        let data = self.buffer.as_mut();
        data[offset::DIM] = dim;
        data[offset::HISTORY_LEN] = history;
        data[offset::SAMPLE_COUNT] = samples;
    }

    /// Sets word `index` of base ‖ history ‖ samples (raw bits).
    pub fn set_word_raw(&mut self, index: usize, raw: i32) {
        field::set_i32(self.buffer.as_mut(), FIXED_LEN + 4 * index, raw);
    }

    /// The packed step-code bytes (after the words).
    pub fn steps_bytes_mut(&mut self) -> &mut [u8] {
        let (dim, history, samples) = self.counts();
        let at = FIXED_LEN + 4 * (dim + history + samples);
        &mut self.buffer.as_mut()[at..]
    }
}

/// A parsed AuditResponse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repr {
    /// The challenge's nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Whether a record follows.
    pub status: Status,
    /// The weights training started from (after the node's previous
    /// aggregation, or at boot).
    pub base: Words,
    /// The predictor's lag window at that point, oldest first.
    pub history: History,
    /// The samples trained on since, in order.
    pub samples: Samples,
    /// The step code each sample was trained with (one per sample).
    pub steps: Steps,
}

impl Repr {
    /// A response without a record.
    pub fn without_record(nonce: [u8; NONCE_LEN], status: Status) -> Repr {
        debug_assert!(status != Status::Record);
        Repr {
            nonce,
            status,
            ..Repr::default()
        }
    }

    /// Parses a checked packet: status, then every word and step code
    /// (a code's unused high bits must be 0, a status without a record
    /// must carry no words).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, RxError> {
        packet.check_len()?;
        let status = Status::from_code(packet.status_code()).ok_or(RxError::Malformed)?;
        let (dim, history_len, sample_count) = packet.counts();
        if status != Status::Record && dim + history_len + sample_count != 0 {
            return Err(RxError::Malformed);
        }
        let mut repr = Repr {
            nonce: packet.nonce(),
            status,
            ..Repr::default()
        };
        let word = |i: usize| Q::from_bits(packet.word_raw(i));
        for i in 0..dim {
            repr.base.push(word(i)).map_err(|_| RxError::Malformed)?;
        }
        for i in dim..dim + history_len {
            repr.history.push(word(i)).map_err(|_| RxError::Malformed)?;
        }
        for i in dim + history_len..dim + history_len + sample_count {
            repr.samples.push(word(i)).map_err(|_| RxError::Malformed)?;
        }
        for i in 0..sample_count {
            repr.steps
                .push(packet.step_code(i))
                .map_err(|_| RxError::Malformed)?;
        }
        // Canonical: the last byte's unused code slots are zero.
        let steps_start = FIXED_LEN + 4 * (dim + history_len + sample_count);
        let packed = &packet.buffer.as_ref()[steps_start..];
        if sample_count % 4 != 0
            && let Some(last) = packed.last()
            && last >> (2 * (sample_count % 4)) != 0
        {
            return Err(RxError::Malformed);
        }
        Ok(repr)
    }

    /// Payload bytes.
    pub fn buffer_len(&self) -> usize {
        len_for(self.base.len(), self.history.len(), self.samples.len())
    }

    /// [`EmitError::Invalid`] when the response cannot be encoded: a step
    /// code per sample each `≤ STEP_CODE_MAX`, no words without a record,
    /// at most [`MAX_LEN`] bytes.
    pub fn validate(&self) -> Result<(), EmitError> {
        let words = self.base.len() + self.history.len() + self.samples.len();
        let consistent = self.steps.len() == self.samples.len()
            && self.steps.as_slice().iter().all(|c| *c <= STEP_CODE_MAX)
            && (self.status == Status::Record || words == 0)
            && self.buffer_len() <= MAX_LEN;
        if !consistent {
            return Err(EmitError::Invalid);
        }
        Ok(())
    }

    /// Writes the response into `packet`, exactly [`Repr::buffer_len`]
    /// long. Precondition: [`Repr::validate`] passed.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        debug_assert!(self.validate().is_ok());
        packet.set_nonce(&self.nonce);
        packet.set_status_code(self.status as u8);
        // Bounded by MAX_DIM, MAX_HISTORY, MAX_SAMPLES (≤ 255 each).
        packet.set_counts(
            self.base.len() as u8,
            self.history.len() as u8,
            self.samples.len() as u8,
        );
        let words = self
            .base
            .as_slice()
            .iter()
            .chain(self.history.as_slice())
            .chain(self.samples.as_slice());
        for (index, word) in words.enumerate() {
            packet.set_word_raw(index, word.to_bits());
        }
        let packed = packet.steps_bytes_mut();
        packed.fill(0);
        for (i, code) in self.steps.as_slice().iter().enumerate() {
            packed[i / 4] |= (code & 0b11) << (2 * (i % 4));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dim: usize, history: usize, samples: usize) -> Repr {
        let mut repr = Repr {
            nonce: [0xA5; NONCE_LEN],
            ..Repr::default()
        };
        for i in 0..dim {
            repr.base.push(Q::from_bits(i as i32 * -31_337)).unwrap();
        }
        for i in 0..history {
            repr.history.push(Q::from_bits(i as i32 * 977 + 1)).unwrap();
        }
        for i in 0..samples {
            repr.samples
                .push(Q::from_bits(-(i as i32) * 4_099))
                .unwrap();
            repr.steps.push((i % 4) as u8).unwrap();
        }
        repr
    }

    fn round_trip(repr: &Repr) -> Vec<u8> {
        let len = repr.buffer_len();
        let mut buf = vec![0u8; len];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(
            Repr::parse(&Packet::new_checked(&buf[..]).unwrap()),
            Ok(*repr)
        );
        buf
    }

    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn round_trips_and_bounds() {
        for (dim, history, samples) in [(0, 0, 0), (9, 8, 10), (1, 0, 1), (9, 8, 32), (33, 32, 5)] {
            let repr = record(dim, history, samples);
            assert!(repr.validate().is_ok());
            let buf = round_trip(&repr);
            assert_eq!(buf.len(), len_for(dim, history, samples));
            assert_eq!(buf[offset::DIM], dim as u8);
        }
        // The default node (dim 9, window 8, 10 samples a round).
        assert_eq!(len_for(9, 8, 10), 131);
        for status in [Status::NoRecord, Status::Unauditable] {
            let buf = round_trip(&Repr::without_record([3; NONCE_LEN], status));
            assert_eq!(buf.len(), FIXED_LEN);
        }
        // Too long for MAX_LEN, a step code out of range, steps ≠ samples.
        assert_eq!(record(33, 32, 6).validate(), Err(EmitError::Invalid));
        let mut bad = record(9, 8, 3);
        bad.steps.as_mut_slice()[1] = 4;
        assert_eq!(bad.validate(), Err(EmitError::Invalid));
        let mut bad = record(9, 8, 3);
        bad.steps = Steps::new();
        assert_eq!(bad.validate(), Err(EmitError::Invalid));
        let mut bad = record(9, 0, 0);
        bad.status = Status::NoRecord;
        assert_eq!(bad.validate(), Err(EmitError::Invalid));
    }

    #[test]
    fn malformed_inputs_are_refused() {
        let good = round_trip(&record(9, 8, 10));
        let parse = |b: &[u8]| Packet::new_checked(b).and_then(|p| Repr::parse(&p));
        assert_eq!(parse(&good[..FIXED_LEN - 1]), Err(RxError::Truncated));
        assert_eq!(parse(&good[..good.len() - 1]), Err(RxError::Truncated));
        let mut long = good.clone();
        long.push(0);
        assert_eq!(parse(&long), Err(RxError::Malformed));
        // Unknown status; words without a record.
        let mut b = good.clone();
        b[offset::STATUS] = 3;
        assert_eq!(parse(&b), Err(RxError::Malformed));
        b[offset::STATUS] = 1;
        assert_eq!(parse(&b), Err(RxError::Malformed));
        // A nonzero unused step slot (10 samples: 2 slots of the last byte).
        let mut b = good.clone();
        *b.last_mut().unwrap() |= 0b1000_0000;
        assert_eq!(parse(&b), Err(RxError::Malformed));
        // Counts above their bounds or above MAX_LEN in total.
        let mut b = vec![0u8; MAX_LEN];
        b[offset::SAMPLE_COUNT] = MAX_SAMPLES as u8 + 1;
        assert_eq!(parse(&b), Err(RxError::Malformed));
        b[offset::SAMPLE_COUNT] = 0;
        b[offset::HISTORY_LEN] = MAX_HISTORY as u8 + 1;
        assert_eq!(parse(&b), Err(RxError::Malformed));
        b[offset::HISTORY_LEN] = 0;
        b[offset::DIM] = MAX_DIM as u8 + 1;
        assert_eq!(parse(&b), Err(RxError::Malformed));
        b[offset::DIM] = MAX_DIM as u8;
        b[offset::HISTORY_LEN] = 32;
        assert_eq!(parse(&b), Err(RxError::Malformed));
    }

    /// The fuzz seeds are valid inputs of the current format.
    #[test]
    fn fuzz_seeds_parse() {
        let frame = include_bytes!("../../fuzz/seeds/frame_parse/3-audit_response");
        let parsed = crate::wire::FrameRepr::parse(frame).unwrap();
        let crate::wire::Message::AuditResponse(repr) = parsed.message else {
            panic!("not a response: {parsed:?}");
        };
        assert_eq!(
            (repr.base.len(), repr.history.len(), repr.samples.len()),
            (9, 8, 10)
        );
        let payload = include_bytes!("../../fuzz/seeds/audit_response/default-record");
        assert_eq!(
            Repr::parse(&Packet::new_checked(&payload[..]).unwrap()),
            Ok(repr)
        );
        let none = include_bytes!("../../fuzz/seeds/audit_response/no-record");
        let none = Repr::parse(&Packet::new_checked(&none[..]).unwrap()).unwrap();
        assert_eq!(none.status, Status::NoRecord);
    }
}
