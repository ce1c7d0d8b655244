//! [`RamFlash`]: an in-memory [`Flash`] with fault hooks, for tests and the
//! simulator.
//!
//! It behaves like NOR flash (erase sets `0xFF`, programming ANDs) and adds:
//!
//! * a power-cut hook, [`RamFlash::cut_after_bytes`]: the next `n` bytes
//!   changed by `write` or `erase` land, the operation in progress stops
//!   there and returns [`StoreError::PowerCut`]. An erase changes the
//!   slot's bytes one at a time from offset 0 upwards, and each counts
//!   against the budget, so a cut can land mid-erase too. The hook fires
//!   once and disarms (the host "reboots" and the medium works again);
//! * [`RamFlash::corrupt`], which XORs a byte (bit rot, a stray write);
//! * wear counters ([`RamFlash::erases`], [`RamFlash::bytes_programmed`]).

use alloc::vec;
use alloc::vec::Vec;

use super::{Flash, Slot, StoreError};

/// An in-memory NOR-flash medium. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RamFlash {
    slot_len: usize,
    slot_count: u8,
    /// `slot_count * slot_len` bytes, slot after slot.
    bytes: Vec<u8>,
    /// Bytes still allowed to change before the armed power cut.
    cut_budget: Option<usize>,
    erases: Vec<u32>,
    bytes_programmed: u64,
}

impl RamFlash {
    /// `slot_count` erased slots of `slot_len` bytes each.
    pub fn new(slot_count: u8, slot_len: usize) -> RamFlash {
        let total = usize::from(slot_count) * slot_len;
        RamFlash {
            slot_len,
            slot_count,
            bytes: vec![0xFF; total],
            cut_budget: None,
            erases: vec![0; usize::from(slot_count)],
            bytes_programmed: 0,
        }
    }

    /// Number of slots.
    pub fn slot_count(&self) -> u8 {
        self.slot_count
    }

    /// Arms a power cut: after `n` more bytes are changed by `write` or
    /// `erase`, the operation in progress stops and reports
    /// [`StoreError::PowerCut`]. `n = 0` cuts before the next byte.
    pub fn cut_after_bytes(&mut self, n: usize) {
        self.cut_budget = Some(n);
    }

    /// Disarms a pending power cut.
    pub fn disarm_cut(&mut self) {
        self.cut_budget = None;
    }

    /// `true` while a power cut is armed and has not fired yet.
    pub fn cut_armed(&self) -> bool {
        self.cut_budget.is_some()
    }

    /// XORs the byte at `offset` of `slot` with `mask` (a no-op for mask 0).
    pub fn corrupt(&mut self, slot: Slot, offset: usize, mask: u8) -> Result<(), StoreError> {
        let index = self.index(slot, offset, 1)?;
        self.bytes[index] ^= mask;
        Ok(())
    }

    /// The raw bytes of `slot`, or `None` for a slot that does not exist.
    pub fn slot_bytes(&self, slot: Slot) -> Option<&[u8]> {
        let start = self.index(slot, 0, self.slot_len).ok()?;
        self.bytes.get(start..start + self.slot_len)
    }

    /// Erases of `slot` so far (completed or cut), or 0 for no such slot.
    pub fn erases(&self, slot: Slot) -> u32 {
        self.erases.get(usize::from(slot)).copied().unwrap_or(0)
    }

    /// Bytes programmed by `write` so far, over all slots.
    pub fn bytes_programmed(&self) -> u64 {
        self.bytes_programmed
    }

    /// Index into `bytes` of `offset` in `slot`, checking that `len` bytes
    /// from there stay inside the slot.
    fn index(&self, slot: Slot, offset: usize, len: usize) -> Result<usize, StoreError> {
        let in_bounds = slot < self.slot_count
            && offset
                .checked_add(len)
                .is_some_and(|end| end <= self.slot_len);
        if !in_bounds {
            return Err(StoreError::OutOfBounds { slot, offset, len });
        }
        Ok(usize::from(slot) * self.slot_len + offset)
    }

    /// How many of `wanted` byte changes may land before the cut, and
    /// whether the cut fires during them. Consumes the budget.
    fn take_budget(&mut self, wanted: usize) -> (usize, bool) {
        match self.cut_budget {
            None => (wanted, false),
            Some(budget) if budget >= wanted => {
                self.cut_budget = Some(budget - wanted);
                (wanted, false)
            }
            Some(budget) => {
                self.cut_budget = None;
                (budget, true)
            }
        }
    }
}

impl Flash for RamFlash {
    fn slot_len(&self) -> usize {
        self.slot_len
    }

    fn read(&self, slot: Slot, offset: usize, buf: &mut [u8]) -> Result<(), StoreError> {
        let start = self.index(slot, offset, buf.len())?;
        buf.copy_from_slice(&self.bytes[start..start + buf.len()]);
        Ok(())
    }

    fn write(&mut self, slot: Slot, offset: usize, bytes: &[u8]) -> Result<(), StoreError> {
        let start = self.index(slot, offset, bytes.len())?;
        let (landed, cut) = self.take_budget(bytes.len());
        for (stored, new) in self.bytes[start..start + landed].iter_mut().zip(bytes) {
            *stored &= *new;
        }
        self.bytes_programmed += landed as u64;
        if cut {
            return Err(StoreError::PowerCut);
        }
        Ok(())
    }

    fn erase(&mut self, slot: Slot) -> Result<(), StoreError> {
        let start = self.index(slot, 0, self.slot_len)?;
        let (landed, cut) = self.take_budget(self.slot_len);
        self.bytes[start..start + landed].fill(0xFF);
        self.erases[usize::from(slot)] += 1;
        if cut {
            return Err(StoreError::PowerCut);
        }
        Ok(())
    }
}
