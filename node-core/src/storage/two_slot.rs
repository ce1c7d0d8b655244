//! [`TwoSlotStore`]: the newest snapshot in one of two alternately written
//! slots. The record format and the power-cut argument are in the parent
//! module's docs.

use super::{
    COMMIT, Corruption, FORMAT_VERSION, Flash, HEADER_LEN, Loaded, MAGIC, RECORD_OVERHEAD, Slot,
    SlotState, StateStore, StoreError, encode_header, record_len, sequence_newer, slot_crc,
};
use crate::wire::crc::Crc32;

/// The two slots a [`TwoSlotStore`] uses on its medium.
const SLOTS: [Slot; 2] = [0, 1];

/// A power-cut-safe store of the newest snapshot in slots 0 and 1 of a
/// [`Flash`]. Holds no state besides the medium: every save and load scans
/// both slots, so bytes changed behind its back (corruption, another boot)
/// are always seen.
#[derive(Debug)]
pub struct TwoSlotStore<F: Flash> {
    flash: F,
}

impl<F: Flash> TwoSlotStore<F> {
    /// A store on `flash`, which must have slots 0 and 1 of at least
    /// [`RECORD_OVERHEAD`] bytes each.
    pub fn new(flash: F) -> Result<TwoSlotStore<F>, StoreError> {
        let slot_len = flash.slot_len();
        if slot_len <= RECORD_OVERHEAD || u32::try_from(slot_len).is_err() {
            return Err(StoreError::SlotTooSmall { slot_len });
        }
        // Probe both slots exist (a zero-length read still checks the slot).
        for slot in SLOTS {
            flash.read(slot, 0, &mut [])?;
        }
        Ok(TwoSlotStore { flash })
    }

    /// The largest snapshot one slot holds, in bytes.
    pub fn capacity(&self) -> usize {
        self.flash.slot_len() - RECORD_OVERHEAD
    }

    /// The medium, read-only.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// The medium, for fault injection (tests, simulator).
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// Gives the medium back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// What each of the two slots holds, with the reason a slot is refused.
    pub fn scan(&self) -> Result<[SlotState; 2], StoreError> {
        Ok([self.slot_state(0)?, self.slot_state(1)?])
    }

    /// The slot holding the newest complete record, with its sequence and
    /// length, if any. Ties (impossible unless bytes were copied between
    /// slots) go to slot 0 so the choice is deterministic.
    pub fn newest(&self) -> Result<Option<(Slot, u32, usize)>, StoreError> {
        let states = self.scan()?;
        let mut best: Option<(Slot, u32, usize)> = None;
        for (slot, state) in SLOTS.into_iter().zip(states) {
            if let SlotState::Valid { sequence, len } = state {
                let newer = match best {
                    None => true,
                    Some((_, best_sequence, _)) => sequence_newer(sequence, best_sequence),
                };
                if newer {
                    best = Some((slot, sequence, len));
                }
            }
        }
        Ok(best)
    }

    /// Reads and checks one slot's record.
    fn slot_state(&self, slot: Slot) -> Result<SlotState, StoreError> {
        let mut header = [0u8; HEADER_LEN];
        self.flash.read(slot, 0, &mut header)?;
        if header.iter().all(|&b| b == 0xFF) {
            return Ok(SlotState::Empty);
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        if word(0) != MAGIC {
            return Ok(SlotState::Corrupt(Corruption::BadMagic));
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        let reserved = u16::from_le_bytes([header[6], header[7]]);
        if version != FORMAT_VERSION || reserved != 0 {
            return Ok(SlotState::Corrupt(Corruption::BadVersion));
        }
        let sequence = word(8);
        let len = word(12) as usize;
        if len > self.capacity() {
            return Ok(SlotState::Corrupt(Corruption::BadLength));
        }
        let mut trailer = [0u8; 8];
        self.flash.read(slot, HEADER_LEN + len, &mut trailer)?;
        let stored_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let commit = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        if commit != COMMIT {
            return Ok(SlotState::Corrupt(Corruption::Uncommitted));
        }
        if slot_crc(&self.flash, slot, HEADER_LEN + len)? != stored_crc {
            return Ok(SlotState::Corrupt(Corruption::BadChecksum));
        }
        Ok(SlotState::Valid { sequence, len })
    }
}

impl<F: Flash> StateStore for TwoSlotStore<F> {
    fn save(&mut self, snapshot: &[u8]) -> Result<(), StoreError> {
        let capacity = self.capacity();
        if snapshot.len() > capacity {
            return Err(StoreError::TooLarge {
                len: snapshot.len(),
                capacity,
            });
        }
        // Never touch the slot holding the newest complete record.
        let (target, sequence) = match self.newest()? {
            Some((slot, sequence, _)) => (1 - slot, sequence.wrapping_add(1)),
            None => (0, 0),
        };
        // `capacity` fits u32 (checked in `new`), so the length does too.
        let len = snapshot.len() as u32;
        let header = encode_header(sequence, len);
        let mut crc = Crc32::new();
        crc.update(&header);
        crc.update(snapshot);
        let crc = crc.finish();

        self.flash.erase(target)?;
        self.flash.write(target, 0, &header)?;
        self.flash.write(target, HEADER_LEN, snapshot)?;
        self.flash
            .write(target, HEADER_LEN + snapshot.len(), &crc.to_le_bytes())?;
        // The commit word last: only now does the record count.
        self.flash.write(
            target,
            HEADER_LEN + snapshot.len() + 4,
            &COMMIT.to_le_bytes(),
        )?;

        let expected = SlotState::Valid {
            sequence,
            len: snapshot.len(),
        };
        if self.slot_state(target)? != expected {
            return Err(StoreError::VerifyFailed);
        }
        debug_assert_eq!(self.newest()?.map(|(slot, _, _)| slot), Some(target));
        debug_assert!(record_len(snapshot.len()) <= self.flash.slot_len());
        Ok(())
    }

    fn load(&self, buf: &mut [u8]) -> Result<Option<Loaded>, StoreError> {
        let Some((slot, sequence, len)) = self.newest()? else {
            return Ok(None);
        };
        let Some(body) = buf.get_mut(..len) else {
            return Err(StoreError::BufferTooSmall { needed: len });
        };
        self.flash.read(slot, HEADER_LEN, body)?;
        // Check what was actually copied, not only what the scan read.
        let mut stored_crc = [0u8; 4];
        self.flash.read(slot, HEADER_LEN + len, &mut stored_crc)?;
        let mut crc = Crc32::new();
        crc.update(&encode_header(sequence, len as u32));
        crc.update(body);
        if crc.finish() != u32::from_le_bytes(stored_crc) {
            return Err(StoreError::VerifyFailed);
        }
        Ok(Some(Loaded {
            len,
            sequence,
            slot,
        }))
    }
}
