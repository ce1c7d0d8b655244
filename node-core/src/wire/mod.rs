//! Every frame on the air: versioned binary encoding, checksums,
//! fragmentation to the MTU and reassembly (issue #4).
//!
//! The layout follows `smoltcp`: for each message a [`Packet`]-style view
//! over a byte buffer (`new_unchecked`, `new_checked` validating lengths,
//! getters, setters when the buffer is mutable) and a `Repr` — the parsed,
//! validated, high-level form — with `parse`, `buffer_len` and `emit`.
//! The view struct and its two constructors come from one macro (private
//! module `view`); each module writes its length check and accessors.
//! `docs/wire-format.md` has every byte layout as a table.
//!
//! [`Packet`]: ModelUpdatePacket
//!
//! ## Frame
//!
//! All integers are little-endian. Every frame is
//!
//! ```text
//! 0        1      2        6       10           12            12+len
//! ┌────────┬──────┬────────┬───────┬────────────┬─────────────┬──────────┐
//! │version │ kind │ sender │ round │ payload_len│ payload ... │ CRC-32   │
//! │ u8 = 1 │  u8  │  u32   │  u32  │    u16     │ len bytes   │ u32 LE   │
//! └────────┴──────┴────────┴───────┴────────────┴─────────────┴──────────┘
//! ```
//!
//! `kind` is a [`FrameKind`] code (1..=6) or [`FRAGMENT_KIND`] (`0x80`).
//! The CRC-32 (IEEE 802.3, [`crc`]) covers the header and the payload. The
//! buffer must be exactly `12 + payload_len + 4` bytes: trailing bytes are
//! rejected, so a frame has one encoding and `emit(parse(b)) == b`.
//!
//! ## Decoding rules
//!
//! Decoders never panic and never allocate, on any input: variable parts
//! parse into fixed-capacity arrays ([`BoundedVec`]) bounded by
//! [`MAX_DIM`], [`MAX_REPORT_ENTRIES`] and [`MAX_PROOF_LEN`]. Checks run in
//! this order, each with its [`RxError`]:
//!
//! 1. fewer than 12 bytes → `Truncated`;
//! 2. version ≠ 1 → `BadVersion` (before anything else, since another
//!    version may lay out the rest differently);
//! 3. `payload_len` above [`MAX_PAYLOAD_LEN`] → `Malformed`; buffer shorter
//!    than `12 + payload_len + 4` → `Truncated`; longer → `Malformed`;
//! 4. CRC mismatch → `BadChecksum` (so a corrupted kind byte reads as a
//!    checksum failure, not as an unknown kind);
//! 5. unknown kind → `BadKind`;
//! 6. payload shorter than its own fields declare → `Truncated`, longer or
//!    any field out of range (dimension, count, enum byte, reserved flag
//!    bit, non-canonical BFP block) → `Malformed`.
//!
//! ## Fragmentation
//!
//! A frame longer than the link MTU is cut by a [`Fragmenter`] into at
//! most [`MAX_FRAGMENTS`] FRAGMENT frames (kind `0x80`, each with its own
//! CRC) and rebuilt by a [`Reassembler`] with a bounded number of slots,
//! a timeout and drop counters. See [`fragment`] and [`reassembly`].

use core::fmt;

use crate::q::Q;
use crate::regime::Regime;

pub mod bfp;
pub mod challenge;
pub mod crc;
pub mod fragment;
pub mod frame;
pub mod heartbeat;
pub mod proof;
pub mod reassembly;
pub mod report;
pub mod response;
pub mod update;
mod view;

pub use crate::runtime::{FrameKind, NodeId, RxError};
pub use challenge::{Packet as AuditChallengePacket, Repr as AuditChallengeRepr};
pub use fragment::{Fragmenter, Packet as FragmentPacket, Repr as FragmentRepr, next_fragment};
pub use frame::{Frame, FrameRepr, Message};
pub use heartbeat::{Packet as HeartbeatPacket, Repr as HeartbeatRepr};
pub use proof::{Packet as ProofPacket, Repr as ProofRepr};
pub use reassembly::{Reassembler, ReassemblyStats};
pub use report::{Packet as ReputationReportPacket, Repr as ReputationReportRepr, ReputationEntry};
pub use response::{Packet as AuditResponsePacket, Repr as AuditResponseRepr};
pub use update::{Encoding, Packet as ModelUpdatePacket, Repr as ModelUpdateRepr};

/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;

/// The header `kind` byte of a FRAGMENT frame.
pub const FRAGMENT_KIND: u8 = 0x80;

/// Bytes of the common header.
pub const HEADER_LEN: usize = 12;

/// Bytes of the CRC-32 trailer.
pub const CRC_LEN: usize = 4;

/// Header plus trailer: what every frame costs beyond its payload.
pub const FRAME_OVERHEAD: usize = HEADER_LEN + CRC_LEN;

/// Largest model dimension a frame carries (words per update or audit
/// response).
pub const MAX_DIM: usize = 64;

/// Largest number of entries in a reputation report.
pub const MAX_REPORT_ENTRIES: usize = 32;

/// Largest proof body in bytes.
pub const MAX_PROOF_LEN: usize = 256;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// Largest payload of any message (an audit response at its
/// [`response::MAX_LEN`] budget).
pub const MAX_PAYLOAD_LEN: usize = max(
    max(update::MAX_LEN, report::MAX_LEN),
    max(
        max(challenge::LEN, response::MAX_LEN),
        max(proof::MAX_LEN, heartbeat::LEN),
    ),
);

/// Largest encoded frame (not fragment) in bytes: the reassembly slot size.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN + CRC_LEN;

/// ESP-NOW's MTU (bytes of one ESP-NOW payload).
pub const MTU_ESPNOW: usize = 250;

/// Wi-Fi / Ethernet MTU.
pub const MTU_WIFI: usize = 1500;

/// Most fragments one frame is cut into (the `count` field's bound).
pub const MAX_FRAGMENTS: usize = 16;

/// Smallest MTU the [`Fragmenter`] accepts: the largest frame must fit in
/// [`MAX_FRAGMENTS`] fragments of `MIN_MTU − fragment::OVERHEAD` bytes.
pub const MIN_MTU: usize = 40;

const _: () = assert!(MAX_FRAME_LEN.div_ceil(MIN_MTU - fragment::OVERHEAD) <= MAX_FRAGMENTS);
const _: () = assert!(MAX_PAYLOAD_LEN <= u16::MAX as usize);
const _: () = assert!(MAX_DIM <= u8::MAX as usize);
const _: () = assert!(MAX_REPORT_ENTRIES <= u8::MAX as usize);

/// Why a frame could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The output buffer is too small; this many bytes are needed.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// A field of the `Repr` is out of its allowed range (for example a
    /// model update with no words).
    Invalid,
    /// The MTU is below [`MIN_MTU`].
    MtuTooSmall,
    /// The frame to fragment is shorter than a header or longer than
    /// [`MAX_FRAME_LEN`].
    FrameLength,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            EmitError::Invalid => f.write_str("field out of range"),
            EmitError::MtuTooSmall => f.write_str("MTU below the minimum"),
            EmitError::FrameLength => f.write_str("frame length out of range"),
        }
    }
}

/// A vector of at most `N` items stored inline: what decoders parse
/// variable-length fields into, so they never allocate. Invariant:
/// `len ≤ N`; equality and `Debug` see only the first `len` items.
#[derive(Clone, Copy)]
pub struct BoundedVec<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> BoundedVec<T, N> {
    /// The capacity, `N`.
    pub const CAPACITY: usize = N;

    /// An empty vector.
    pub fn new() -> Self {
        BoundedVec {
            items: [T::default(); N],
            len: 0,
        }
    }

    /// A copy of `items`, or `None` when it holds more than `N` items.
    pub fn from_slice(items: &[T]) -> Option<Self> {
        let mut vec = Self::new();
        let target = vec.items.get_mut(..items.len())?;
        target.copy_from_slice(items);
        vec.len = items.len();
        Some(vec)
    }

    /// Appends `item`, or hands it back when full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        let slot = self.items.get_mut(self.len).ok_or(item)?;
        *slot = item;
        self.len += 1;
        Ok(())
    }

    /// Number of items.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no items.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }

    /// The items, mutably (the length is fixed).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

impl<T: Copy + Default, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for BoundedVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Default + Eq, const N: usize> Eq for BoundedVec<T, N> {}

impl<T: Copy + Default + fmt::Debug, const N: usize> fmt::Debug for BoundedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Up to [`MAX_DIM`] Q16.16 words: a model, a delta or an audited update.
pub type Words = BoundedVec<Q, MAX_DIM>;

/// The [`Regime`] with wire code `code` (its `u8` discriminant), if any.
pub(crate) const fn regime_from_code(code: u8) -> Option<Regime> {
    match code {
        0 => Some(Regime::Calm),
        1 => Some(Regime::PreStorm),
        2 => Some(Regime::Storm),
        _ => None,
    }
}

/// Little-endian field access shared by the packet views. Callers have
/// checked the buffer length, so the indexing cannot fail.
pub(crate) mod field {
    pub fn u16_at(data: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([data[at], data[at + 1]])
    }

    pub fn u32_at(data: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
    }

    pub fn i32_at(data: &[u8], at: usize) -> i32 {
        u32_at(data, at) as i32
    }

    pub fn set_u16(data: &mut [u8], at: usize, value: u16) {
        data[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    pub fn set_u32(data: &mut [u8], at: usize, value: u32) {
        data[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn set_i32(data: &mut [u8], at: usize, value: i32) {
        set_u32(data, at, value as u32);
    }
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(MAX_PAYLOAD_LEN, 304);
        assert_eq!(MAX_FRAME_LEN, 320);
        assert_eq!(FRAME_OVERHEAD, 16);
    }

    #[test]
    fn regime_codes_match_discriminants() {
        for regime in [Regime::Calm, Regime::PreStorm, Regime::Storm] {
            assert_eq!(regime_from_code(regime as u8), Some(regime));
        }
        assert_eq!(regime_from_code(3), None);
    }

    #[test]
    fn bounded_vec() {
        let mut vec: BoundedVec<u8, 2> = BoundedVec::new();
        assert!(vec.is_empty());
        assert_eq!(vec.push(1), Ok(()));
        assert_eq!(vec.push(2), Ok(()));
        assert_eq!(vec.push(3), Err(3));
        assert_eq!(vec.as_slice(), &[1, 2]);
        assert!(BoundedVec::<u8, 2>::from_slice(&[1, 2, 3]).is_none());
        assert_eq!(BoundedVec::<u8, 2>::from_slice(&[1, 2]), Some(vec));
    }
}
