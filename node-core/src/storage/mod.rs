//! State that survives brownouts: a flash medium ([`Flash`]), a
//! power-cut-safe store of the newest snapshot on it ([`StateStore`],
//! [`TwoSlotStore`]) and an in-memory medium with fault hooks for tests and
//! the simulator ([`RamFlash`]).
//!
//! The node never touches flash itself (sans-IO): the host — the simulator
//! or the firmware — takes a [`crate::runtime::Runtime::snapshot`], hands
//! the bytes to a [`StateStore`], and after a reboot loads them back and
//! calls [`crate::runtime::Runtime::restore`]. When to save is the host's
//! policy (docs/persistence.md suggests one).
//!
//! ## The medium
//!
//! A [`Flash`] is a fixed number of slots of [`Flash::slot_len`] bytes each,
//! with NOR-flash semantics: [`Flash::erase`] sets every byte of a slot to
//! `0xFF`, [`Flash::write`] can only clear bits (programming ANDs the new
//! bytes into the old ones), so a slot must be erased before it is
//! rewritten. Every operation is fallible ([`StoreError`]); none panics.
//!
//! ## The record
//!
//! [`TwoSlotStore`] writes one record per save, alternately into slot 0 and
//! slot 1, always into the slot that does *not* hold the newest complete
//! record. All integers are little-endian:
//!
//! ```text
//! offset     size  field
//! 0          4     magic            "RSNP" = 0x504E_5352
//! 4          2     format version   1
//! 6          2     reserved         0
//! 8          4     sequence         previous newest + 1 (wrapping)
//! 12         4     body length L    ≤ slot_len − 24
//! 16         L     body             the runtime's snapshot bytes
//! 16+L       4     CRC-32           IEEE 802.3 over bytes 0 .. 16+L
//! 20+L       4     commit word      "DONE" = 0x454E_4F44, written LAST
//! ```
//!
//! ## Ordering contract (the power-cut argument)
//!
//! A save is: (1) erase the target slot, (2) program bytes `0 .. 20+L`,
//! (3) program the 4-byte commit word, (4) read the slot back and verify it.
//! The slot holding the newest complete record is never erased or written.
//! A power cut at any byte of (1)–(3) therefore leaves that record intact,
//! and the target slot in one of these states:
//!
//! * unchanged (cut before the first byte): it still holds an *older*
//!   record, and the loader prefers the newer one by sequence number;
//! * partly erased, or erased with a partial new record: the commit word at
//!   the position its header names is not `DONE` (erased bytes are `0xFF`,
//!   a partly programmed word has some bytes still `0xFF`), or the header or
//!   CRC no longer matches — the slot is reported [`SlotState::Corrupt`] and
//!   ignored;
//! * complete: the commit word is the last byte written, so a slot whose
//!   commit word reads `DONE` and whose CRC matches is a finished save.
//!
//! Loading picks the valid slot with the newer sequence number, comparing
//! with serial-number arithmetic (RFC 1982: `a` is newer than `b` when
//! `a.wrapping_sub(b)` as `i32` is positive). The two valid records of a
//! store always differ by exactly one sequence step, so the comparison is
//! correct across the `u32::MAX → 0` wrap; the wrap itself is tested. (At
//! one save per minute the counter would take 8,000 years to wrap, and each
//! slot would see 2^31 erases, far past any flash's 10^5-cycle endurance.)
//!
//! If neither slot is valid, [`StateStore::load`] returns `Ok(None)` and the
//! node boots fresh; [`TwoSlotStore::scan`] says why each slot was refused.

use core::fmt;

use crate::wire::crc::Crc32;

mod ram;
mod two_slot;

pub use ram::RamFlash;
pub use two_slot::TwoSlotStore;

/// Index of a slot on a [`Flash`] medium.
pub type Slot = u8;

/// A flash medium: a fixed number of slots of [`Flash::slot_len`] bytes,
/// NOR semantics (erase to `0xFF`, program clears bits). See the module docs.
pub trait Flash {
    /// Bytes in each slot.
    fn slot_len(&self) -> usize;

    /// Reads `buf.len()` bytes of `slot` starting at `offset`.
    fn read(&self, slot: Slot, offset: usize, buf: &mut [u8]) -> Result<(), StoreError>;

    /// Programs `bytes` into `slot` at `offset` (each stored byte becomes
    /// `old & new`). A power cut may stop it partway: then it returns an
    /// error and any prefix of `bytes` may have been programmed.
    fn write(&mut self, slot: Slot, offset: usize, bytes: &[u8]) -> Result<(), StoreError>;

    /// Sets every byte of `slot` to `0xFF`. A power cut may stop it partway.
    fn erase(&mut self, slot: Slot) -> Result<(), StoreError>;
}

/// Keeps the newest complete snapshot across power cuts.
pub trait StateStore {
    /// Stores `snapshot` as the newest. On `Ok` it is durable; on `Err` the
    /// previous newest snapshot is still loadable.
    fn save(&mut self, snapshot: &[u8]) -> Result<(), StoreError>;

    /// Copies the newest complete snapshot into the start of `buf` and
    /// describes it, or returns `Ok(None)` when there is none (boot fresh).
    fn load(&self, buf: &mut [u8]) -> Result<Option<Loaded>, StoreError>;
}

/// The snapshot [`StateStore::load`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// Bytes of the snapshot written at the start of the caller's buffer.
    pub len: usize,
    /// Its sequence number (one more per save, wrapping).
    pub sequence: u32,
    /// The slot it came from.
    pub slot: Slot,
}

/// What a slot holds, as [`TwoSlotStore::scan`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Erased: the header reads all `0xFF` (never written, or erased and
    /// cut before the first byte of the new record).
    Empty,
    /// A complete record.
    Valid {
        /// Its sequence number.
        sequence: u32,
        /// Its body length in bytes.
        len: usize,
    },
    /// Something was written but is not a complete record; it is ignored.
    Corrupt(Corruption),
}

/// Why a slot's contents were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The magic number is wrong.
    BadMagic,
    /// Unknown format version, or a reserved field is not zero.
    BadVersion,
    /// The body length does not fit the slot.
    BadLength,
    /// The commit word is missing: the save was cut before it finished.
    Uncommitted,
    /// The CRC-32 does not match the header and body.
    BadChecksum,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Corruption::BadMagic => "bad magic number",
            Corruption::BadVersion => "unknown format version",
            Corruption::BadLength => "body length does not fit the slot",
            Corruption::Uncommitted => "commit word missing (save cut short)",
            Corruption::BadChecksum => "CRC-32 mismatch",
        })
    }
}

impl fmt::Display for SlotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotState::Empty => f.write_str("empty"),
            SlotState::Valid { sequence, len } => {
                write!(f, "valid (sequence {sequence}, {len} bytes)")
            }
            SlotState::Corrupt(why) => write!(f, "corrupt: {why}"),
        }
    }
}

/// Why a flash operation or a store operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The access falls outside the medium: no such slot, or `offset + len`
    /// beyond the slot.
    OutOfBounds {
        /// The slot addressed.
        slot: Slot,
        /// First byte addressed.
        offset: usize,
        /// Bytes addressed.
        len: usize,
    },
    /// Power was lost during a write or erase; it stopped partway.
    PowerCut,
    /// The flash driver failed with this device-specific code.
    Device(u32),
    /// The snapshot does not fit one slot.
    TooLarge {
        /// Snapshot bytes.
        len: usize,
        /// Largest snapshot a slot holds ([`TwoSlotStore::capacity`]).
        capacity: usize,
    },
    /// The slots are smaller than one record's overhead.
    SlotTooSmall {
        /// The medium's slot length.
        slot_len: usize,
    },
    /// The caller's buffer is too small for the stored snapshot.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// The record read back after a save is not the one written.
    VerifyFailed,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::OutOfBounds { slot, offset, len } => write!(
                f,
                "flash access out of bounds: slot {slot}, offset {offset}, {len} bytes"
            ),
            StoreError::PowerCut => f.write_str("power cut during a flash write or erase"),
            StoreError::Device(code) => write!(f, "flash device error {code}"),
            StoreError::TooLarge { len, capacity } => write!(
                f,
                "snapshot of {len} bytes does not fit a slot (capacity {capacity} bytes)"
            ),
            StoreError::SlotTooSmall { slot_len } => write!(
                f,
                "flash slot of {slot_len} bytes is smaller than the {RECORD_OVERHEAD}-byte record overhead"
            ),
            StoreError::BufferTooSmall { needed } => {
                write!(f, "load buffer too small: {needed} bytes needed")
            }
            StoreError::VerifyFailed => f.write_str("read-back after save did not verify"),
        }
    }
}

/// The record's magic number, "RSNP" in little-endian bytes.
pub const MAGIC: u32 = u32::from_le_bytes(*b"RSNP");

/// The record format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The commit word, "DONE"; programmed last. Neither `0xFFFF_FFFF` (erased)
/// nor zero, so neither an erased nor a zeroed word reads as committed.
pub const COMMIT: u32 = u32::from_le_bytes(*b"DONE");

/// Bytes of the record header (magic, version, reserved, sequence, length).
pub const HEADER_LEN: usize = 16;

/// Bytes of the trailer (CRC-32 then commit word).
pub const TRAILER_LEN: usize = 8;

/// Bytes a record needs beyond its body.
pub const RECORD_OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;

/// Bytes a record of a `body_len`-byte snapshot occupies in its slot.
pub const fn record_len(body_len: usize) -> usize {
    body_len + RECORD_OVERHEAD
}

/// The 16-byte record header for `sequence` and `body_len`.
fn encode_header(sequence: u32, body_len: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[6..8].copy_from_slice(&0u16.to_le_bytes());
    header[8..12].copy_from_slice(&sequence.to_le_bytes());
    header[12..16].copy_from_slice(&body_len.to_le_bytes());
    header
}

/// `true` when sequence `a` is newer than `b` (RFC 1982 serial arithmetic).
pub const fn sequence_newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// CRC-32 of `len` bytes of `slot` from offset 0, read in small chunks so
/// no buffer of the record's size is needed.
fn slot_crc<F: Flash>(flash: &F, slot: Slot, len: usize) -> Result<u32, StoreError> {
    const CHUNK: usize = 64;
    let mut chunk = [0u8; CHUNK];
    let mut crc = Crc32::new();
    let mut offset = 0usize;
    // Bounded: `len / CHUNK + 1` iterations.
    while offset < len {
        let take = CHUNK.min(len - offset);
        flash.read(slot, offset, &mut chunk[..take])?;
        crc.update(&chunk[..take]);
        offset += take;
    }
    Ok(crc.finish())
}

#[cfg(test)]
mod tests;
