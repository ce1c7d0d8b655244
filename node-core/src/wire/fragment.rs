//! FRAGMENT frames and the [`Fragmenter`] that cuts a frame to the MTU.
//!
//! A frame longer than the MTU travels as `count ≤ MAX_FRAGMENTS` FRAGMENT
//! frames. Each is a complete frame (header with kind [`FRAGMENT_KIND`],
//! the original frame's sender and round; own CRC-32) whose payload is:
//!
//! | offset | size | field | meaning |
//! |---|---|---|---|
//! | 0 | 2 | frame_id | sender-chosen id, the same in every fragment of a frame |
//! | 2 | 1 | index | `0..count` |
//! | 3 | 1 | count | fragments of this frame, `1..=16` |
//! | 4 | ≥ 1 | chunk | bytes `index · C ..` of the original encoded frame |
//!
//! Every fragment but the last carries exactly `C = MTU − OVERHEAD` bytes;
//! the last carries the remaining `1..=C`. The receiver learns `C` from
//! any non-last fragment (see [`super::reassembly`]). A frame that fits the
//! MTU is sent as is, unfragmented.

use super::field;
use super::view::packet_view;
use super::{
    CRC_LEN, EmitError, FRAGMENT_KIND, Frame, HEADER_LEN, MAX_FRAGMENTS, MAX_FRAME_LEN, MIN_MTU,
    NodeId, RxError, VERSION,
};

/// Bytes of the fragment payload header.
pub const FIXED_LEN: usize = 4;

/// Bytes a fragment costs beyond its chunk: frame header, fragment header,
/// CRC.
pub const OVERHEAD: usize = HEADER_LEN + FIXED_LEN + CRC_LEN;

mod offset {
    pub const FRAME_ID: usize = 0;
    pub const INDEX: usize = 2;
    pub const COUNT: usize = 3;
    pub const CHUNK: usize = 4;
}

packet_view! {
    /// A view of a FRAGMENT payload.
    pub struct Packet<T: AsRef<[u8]>> { buffer: T }
    checked by check_len;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the fragment header is present and the chunk non-empty.
    pub fn check_len(&self) -> Result<(), RxError> {
        let len = self.buffer.as_ref().len();
        if len <= FIXED_LEN {
            return Err(RxError::Truncated);
        }
        Ok(())
    }

    /// The frame id.
    pub fn frame_id(&self) -> u16 {
        field::u16_at(self.buffer.as_ref(), offset::FRAME_ID)
    }

    /// This fragment's index.
    pub fn index(&self) -> u8 {
        self.buffer.as_ref()[offset::INDEX]
    }

    /// Fragments in the frame.
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[offset::COUNT]
    }

    /// The chunk of the original frame.
    pub fn chunk(&self) -> &[u8] {
        &self.buffer.as_ref()[offset::CHUNK..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the frame id.
    pub fn set_frame_id(&mut self, id: u16) {
        field::set_u16(self.buffer.as_mut(), offset::FRAME_ID, id);
    }

    /// Sets the index.
    pub fn set_index(&mut self, index: u8) {
        self.buffer.as_mut()[offset::INDEX] = index;
    }

    /// Sets the count.
    pub fn set_count(&mut self, count: u8) {
        self.buffer.as_mut()[offset::COUNT] = count;
    }

    /// The chunk, mutably.
    pub fn chunk_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[offset::CHUNK..]
    }
}

/// A parsed FRAGMENT frame, borrowing its chunk from the received bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Sender of the original frame.
    pub sender: NodeId,
    /// Round of the original frame.
    pub round: u32,
    /// The sender's id for the original frame.
    pub frame_id: u16,
    /// This fragment's position, `0..count`.
    pub index: u8,
    /// Fragments in the original frame, `1..=MAX_FRAGMENTS`.
    pub count: u8,
    /// Its bytes of the original frame.
    pub chunk: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses a whole received FRAGMENT frame: version, lengths, CRC, kind
    /// (anything else is `BadKind`), then `count ∈ 1..=16`, `index <
    /// count` and a chunk that can belong to a frame of at most
    /// [`MAX_FRAME_LEN`] bytes (all `Malformed` otherwise).
    pub fn parse(bytes: &'a [u8]) -> Result<Repr<'a>, RxError> {
        let frame = Frame::new_checked(bytes)?;
        if !frame.verify_checksum() {
            return Err(RxError::BadChecksum);
        }
        if !frame.is_fragment() {
            return Err(RxError::BadKind);
        }
        let payload = &bytes[HEADER_LEN..HEADER_LEN + usize::from(frame.payload_len())];
        let packet = Packet::new_checked(payload)?;
        let repr = Repr {
            sender: frame.sender(),
            round: frame.round(),
            frame_id: packet.frame_id(),
            index: packet.index(),
            count: packet.count(),
            chunk: &payload[offset::CHUNK..],
        };
        repr.check()?;
        Ok(repr)
    }

    /// Range checks on `count`, `index` and the chunk length.
    fn check(&self) -> Result<(), RxError> {
        let count = usize::from(self.count);
        if count == 0 || count > MAX_FRAGMENTS || self.index >= self.count {
            return Err(RxError::Malformed);
        }
        // The smallest frame this chunk can belong to: a non-last chunk of
        // length C implies (count − 1)·C + 1 bytes; a last chunk of length
        // L ≤ C implies at least count·L.
        let len = self.chunk.len();
        let smallest = if self.is_last() {
            count * len
        } else {
            (count - 1) * len + 1
        };
        if len == 0 || smallest > MAX_FRAME_LEN {
            return Err(RxError::Malformed);
        }
        Ok(())
    }

    /// Whether this is the last fragment of its frame.
    pub const fn is_last(&self) -> bool {
        self.index + 1 == self.count
    }

    /// Bytes of the encoded fragment frame.
    pub const fn buffer_len(&self) -> usize {
        OVERHEAD + self.chunk.len()
    }

    /// Encodes the fragment frame at the start of `buf`, returning its
    /// length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        if self.check().is_err() {
            return Err(EmitError::Invalid);
        }
        let len = self.buffer_len();
        let Some(bytes) = buf.get_mut(..len) else {
            return Err(EmitError::BufferTooSmall { needed: len });
        };
        let mut frame = Frame::new_unchecked(bytes);
        frame.set_version(VERSION);
        frame.set_kind_code(FRAGMENT_KIND);
        frame.set_sender(self.sender);
        frame.set_round(self.round);
        frame.set_payload_len((FIXED_LEN + self.chunk.len()) as u16);
        let mut packet = Packet::new_unchecked(frame.payload_mut());
        packet.set_frame_id(self.frame_id);
        packet.set_index(self.index);
        packet.set_count(self.count);
        packet.chunk_mut().copy_from_slice(self.chunk);
        frame.fill_checksum();
        Ok(len)
    }
}

/// Cuts one encoded frame into MTU-sized pieces, one per call, into the
/// caller's buffer; allocates nothing. A frame that fits the MTU comes out
/// unchanged as a single piece, so a sender can always loop:
///
/// ```
/// # use node_core::wire::{Fragmenter, MTU_ESPNOW, MAX_FRAME_LEN};
/// # let frame = [1u8, 6, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0];
/// let mut pieces = Fragmenter::new(&frame, MTU_ESPNOW, 7).unwrap();
/// let mut buf = [0u8; MTU_ESPNOW];
/// while let Some(len) = pieces.emit_next(&mut buf).unwrap() {
///     // radio.send(&buf[..len]);
/// #   assert!(len <= MTU_ESPNOW);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Fragmenter<'a> {
    frame: &'a [u8],
    frame_id: u16,
    chunk_len: usize,
    count: u8,
    next: u8,
}

impl<'a> Fragmenter<'a> {
    /// Prepares to send `frame` (an encoded frame, at most
    /// [`MAX_FRAME_LEN`] bytes) over a link of `mtu_bytes`, tagging its
    /// fragments with `frame_id` (the caller keeps a wrapping counter per
    /// sender so that concurrent frames differ).
    pub fn new(frame: &'a [u8], mtu_bytes: usize, frame_id: u16) -> Result<Self, EmitError> {
        if mtu_bytes < MIN_MTU {
            return Err(EmitError::MtuTooSmall);
        }
        if frame.len() < HEADER_LEN + CRC_LEN || frame.len() > MAX_FRAME_LEN {
            return Err(EmitError::FrameLength);
        }
        let (chunk_len, count) = if frame.len() <= mtu_bytes {
            (frame.len(), 1)
        } else {
            let chunk_len = mtu_bytes - OVERHEAD;
            (chunk_len, frame.len().div_ceil(chunk_len))
        };
        assert!(count <= MAX_FRAGMENTS, "MIN_MTU guarantees the bound");
        Ok(Fragmenter {
            frame,
            frame_id,
            chunk_len,
            count: count as u8,
            next: 0,
        })
    }

    /// Pieces this frame is sent as (1 when it fits the MTU).
    pub const fn count(&self) -> u8 {
        self.count
    }

    /// Whether the frame is cut into FRAGMENT frames.
    pub const fn is_fragmented(&self) -> bool {
        self.count > 1
    }

    /// Pieces not yet emitted.
    pub const fn remaining(&self) -> u8 {
        self.count - self.next
    }

    /// Writes the next piece at the start of `buf` and returns its length,
    /// or `None` when every piece has been written. A too-small `buf` is an
    /// error and does not advance.
    pub fn emit_next(&mut self, buf: &mut [u8]) -> Result<Option<usize>, EmitError> {
        if self.next >= self.count {
            return Ok(None);
        }
        let len = if self.is_fragmented() {
            self.emit_fragment(buf)?
        } else {
            let target = buf
                .get_mut(..self.frame.len())
                .ok_or(EmitError::BufferTooSmall {
                    needed: self.frame.len(),
                })?;
            target.copy_from_slice(self.frame);
            self.frame.len()
        };
        self.next += 1;
        Ok(Some(len))
    }

    fn emit_fragment(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let start = usize::from(self.next) * self.chunk_len;
        let end = (start + self.chunk_len).min(self.frame.len());
        debug_assert!(start < end);
        let repr = Repr {
            sender: Frame::new_unchecked(self.frame).sender(),
            round: Frame::new_unchecked(self.frame).round(),
            frame_id: self.frame_id,
            index: self.next,
            count: self.count,
            chunk: &self.frame[start..end],
        };
        repr.emit(buf)
    }
}

/// Writes the next fragment of the queued frame `out[..*out_len]` (fragment
/// `*next`, to `buf`'s MTU) into `buf` and returns its length, advancing
/// `*next` and clearing `*out_len` after the last one. Bounded: at most
/// [`super::MAX_FRAGMENTS`] pieces; earlier ones are re-emitted into `buf` and
/// overwritten, which keeps the node free of a per-frame cursor object.
/// Shared by `Node`'s model-update and audit outboxes and by hosts that
/// queue frames of their own (the simulator's attackers).
pub fn next_fragment(
    out: &[u8],
    out_len: &mut usize,
    next: &mut u8,
    frame_id: u16,
    buf: &mut [u8],
) -> Option<usize> {
    let mut pieces = Fragmenter::new(&out[..*out_len], buf.len(), frame_id).ok()?;
    let mut len = 0;
    for _ in 0..=*next {
        len = pieces.emit_next(buf).ok()??;
    }
    *next += 1;
    if pieces.remaining() == 0 {
        *out_len = 0;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MTU_ESPNOW;

    /// Bytes with a header naming sender 9, round 4 (the rest is noise:
    /// the fragmenter does not parse what it cuts).
    fn fake_frame() -> [u8; MAX_FRAME_LEN] {
        let mut frame: [u8; MAX_FRAME_LEN] = core::array::from_fn(|i| (i * 13 + 1) as u8);
        frame[..HEADER_LEN].copy_from_slice(&[1, 1, 9, 0, 0, 0, 4, 0, 0, 0, 0, 0]);
        frame
    }

    #[test]
    fn small_frames_pass_through() {
        let frame = fake_frame();
        let mut pieces = Fragmenter::new(&frame[..64], MTU_ESPNOW, 1).unwrap();
        assert_eq!(pieces.count(), 1);
        assert!(!pieces.is_fragmented());
        let mut buf = [0u8; MTU_ESPNOW];
        assert_eq!(pieces.emit_next(&mut buf), Ok(Some(64)));
        assert_eq!(&buf[..64], &frame[..64]);
        assert_eq!(pieces.emit_next(&mut buf), Ok(None));
    }

    #[test]
    fn large_frames_are_cut() {
        let frame = fake_frame();
        let mtu = MTU_ESPNOW;
        let mut pieces = Fragmenter::new(&frame, mtu, 0xBEEF).unwrap();
        assert_eq!(pieces.count(), 2);
        let mut buf = [0u8; MTU_ESPNOW];
        let mut rebuilt = [0u8; MAX_FRAME_LEN];
        let mut at = 0;
        for index in 0..2u8 {
            let len = pieces.emit_next(&mut buf).unwrap().unwrap();
            assert!(len <= mtu);
            let repr = Repr::parse(&buf[..len]).unwrap();
            assert_eq!((repr.sender, repr.round), (9, 4));
            assert_eq!((repr.frame_id, repr.index, repr.count), (0xBEEF, index, 2));
            rebuilt[at..at + repr.chunk.len()].copy_from_slice(repr.chunk);
            at += repr.chunk.len();
        }
        assert_eq!(pieces.emit_next(&mut buf), Ok(None));
        assert_eq!(at, MAX_FRAME_LEN);
        assert_eq!(rebuilt, frame);
    }

    #[test]
    fn bounds() {
        let frame = fake_frame();
        assert_eq!(
            Fragmenter::new(&frame, MIN_MTU - 1, 0).err(),
            Some(EmitError::MtuTooSmall)
        );
        let pieces = Fragmenter::new(&frame, MIN_MTU, 0).unwrap();
        assert!(usize::from(pieces.count()) <= MAX_FRAGMENTS);
        assert_eq!(
            Fragmenter::new(&frame[..15], MIN_MTU, 0).err(),
            Some(EmitError::FrameLength)
        );
        let mut pieces = Fragmenter::new(&frame, MIN_MTU, 0).unwrap();
        let mut small = [0u8; MIN_MTU - 1];
        assert_eq!(
            pieces.emit_next(&mut small),
            Err(EmitError::BufferTooSmall { needed: MIN_MTU })
        );
        assert_eq!(pieces.remaining(), pieces.count());
    }

    #[test]
    fn parse_rejects_bad_fragments() {
        let chunk = [7u8; 20];
        let good = Repr {
            sender: 1,
            round: 2,
            frame_id: 3,
            index: 0,
            count: 2,
            chunk: &chunk,
        };
        let mut buf = [0u8; 64];
        let len = good.emit(&mut buf).unwrap();
        assert_eq!(Repr::parse(&buf[..len]), Ok(good));
        for (index, count) in [(0u8, 0u8), (2, 2), (0, 17)] {
            let bad = Repr {
                index,
                count,
                ..good
            };
            assert_eq!(bad.emit(&mut buf), Err(EmitError::Invalid));
            let mut raw = [0u8; 64];
            good.emit(&mut raw).unwrap();
            raw[HEADER_LEN + 2] = index;
            raw[HEADER_LEN + 3] = count;
            Frame::new_unchecked(&mut raw[..len]).fill_checksum();
            assert_eq!(Repr::parse(&raw[..len]), Err(RxError::Malformed));
        }
        // A chunk too long for any frame of MAX_FRAME_LEN bytes.
        let long = [0u8; 170];
        let bad = Repr {
            count: 3,
            chunk: &long[..],
            ..good
        };
        assert!(Repr::parse(&buf[..len]).is_ok());
        assert_eq!(bad.emit(&mut [0u8; 220]), Err(EmitError::Invalid));
        // Not a fragment.
        buf[1] = 1;
        Frame::new_unchecked(&mut buf[..len]).fill_checksum();
        assert_eq!(Repr::parse(&buf[..len]), Err(RxError::BadKind));
    }
}
