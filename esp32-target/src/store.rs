//! Node state on flash: two 4 KiB sectors of the `raas` data partition
//! (partitions.csv), one per slot.
//!
//! [`FlashSlots`] is the medium: slot `s` is the sector at
//! `partition offset + s · 4096`, with NOR semantics (erase sets `0xFF`,
//! programming clears bits). The ESP32-C6's flash programs 4-byte words at
//! 4-byte offsets; [`FlashSlots::write`] accepts any offset and length by
//! padding the partial words at either end with `0xFF`, which programming
//! leaves unchanged, so a byte-granular writer sees byte-granular NOR flash.
//!
//! STAND-IN (until node-core's `storage` module lands): [`Store`] keeps the
//! medium but does not persist anything yet — `save` reports
//! [`StoreError::NotPersisted`] and `load` finds nothing, so the node boots
//! fresh. The two-slot record format and power-cut argument belong to
//! `node_core::storage::TwoSlotStore`, which this module will wrap.

use core::cell::RefCell;
use core::fmt;

use esp_bootloader_esp_idf::partitions::{self, PARTITION_TABLE_MAX_LEN};
use esp_hal::peripherals::FLASH;
use esp_storage::{FlashStorage, FlashStorageError};

/// Bytes per slot: one flash sector.
pub const SLOT_LEN: usize = FlashStorage::SECTOR_SIZE as usize;
/// Slots on the medium.
pub const SLOTS: u8 = 2;
/// Label of the data partition holding the slots.
pub const PARTITION_LABEL: &str = "raas";
/// Flash program granularity (bytes).
const WORD: usize = FlashStorage::WORD_SIZE as usize;

/// Why a flash operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The partition table could not be read.
    PartitionTable,
    /// No `raas` data partition, or it is smaller than two sectors.
    NoPartition,
    /// A slot index outside `0..SLOTS`.
    BadSlot,
    /// `offset + len` runs past the end of the slot.
    OutOfBounds,
    /// The flash driver reported an error.
    Flash(FlashStorageError),
    /// The medium works but nothing is persisted yet (see module docs).
    NotPersisted,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::PartitionTable => f.write_str("cannot read the partition table"),
            StoreError::NoPartition => write!(
                f,
                "no data partition labelled `{PARTITION_LABEL}` of at least {} bytes \
                 (flash with --partition-table partitions.csv)",
                usize::from(SLOTS) * SLOT_LEN
            ),
            StoreError::BadSlot => write!(f, "slot index outside 0..{SLOTS}"),
            StoreError::OutOfBounds => write!(f, "access past the end of a {SLOT_LEN}-byte slot"),
            StoreError::Flash(e) => write!(f, "flash driver: {e:?}"),
            StoreError::NotPersisted => {
                f.write_str("state store not wired to node-core's TwoSlotStore yet")
            }
        }
    }
}

/// Two flash sectors of the `raas` partition as a two-slot NOR medium.
pub struct FlashSlots<'d> {
    /// `RefCell`: esp-storage reads through `&mut`, the medium reads through `&`.
    flash: RefCell<FlashStorage<'d>>,
    /// Absolute flash address of slot 0.
    base: u32,
}

impl<'d> FlashSlots<'d> {
    /// Finds the `raas` partition and claims its first two sectors.
    pub fn new(flash: FLASH<'d>) -> Result<FlashSlots<'d>, StoreError> {
        let mut storage = FlashStorage::new(flash);
        let mut table = [0u8; PARTITION_TABLE_MAX_LEN];
        let pt = partitions::read_partition_table(&mut storage, &mut table)
            .map_err(|_| StoreError::PartitionTable)?;
        let entry = pt
            .iter()
            .find(|p| p.label_as_str() == PARTITION_LABEL)
            .ok_or(StoreError::NoPartition)?;
        let needed = u32::from(SLOTS) * FlashStorage::SECTOR_SIZE;
        let aligned = entry.offset() % FlashStorage::SECTOR_SIZE == 0;
        if entry.len() < needed || !aligned {
            return Err(StoreError::NoPartition);
        }
        Ok(FlashSlots {
            flash: RefCell::new(storage),
            base: entry.offset(),
        })
    }

    /// Bytes in each slot.
    pub fn slot_len(&self) -> usize {
        SLOT_LEN
    }

    /// Absolute address of `offset` in `slot`, after bounds checks.
    fn address(&self, slot: u8, offset: usize, len: usize) -> Result<u32, StoreError> {
        if slot >= SLOTS {
            return Err(StoreError::BadSlot);
        }
        let end = offset.checked_add(len).ok_or(StoreError::OutOfBounds)?;
        if end > SLOT_LEN {
            return Err(StoreError::OutOfBounds);
        }
        Ok(self.base + u32::from(slot) * FlashStorage::SECTOR_SIZE + offset as u32)
    }

    /// Reads `buf.len()` bytes of `slot` from `offset`.
    pub fn read(&self, slot: u8, offset: usize, buf: &mut [u8]) -> Result<(), StoreError> {
        let address = self.address(slot, offset, buf.len())?;
        self.flash
            .borrow_mut()
            .read_nor(address, buf)
            .map_err(StoreError::Flash)
    }

    /// Programs `bytes` at `offset` of `slot` (each byte becomes
    /// `old & new`), one 4-byte word at a time; partial words at either end
    /// are padded with `0xFF`. Bounded: `bytes.len() / 4 + 2` words.
    pub fn write(&mut self, slot: u8, offset: usize, bytes: &[u8]) -> Result<(), StoreError> {
        let address = self.address(slot, offset, bytes.len())?;
        let flash = self.flash.get_mut();
        let lead = address as usize % WORD;
        let mut word_address = address - lead as u32;
        let mut consumed = 0;
        let mut first = true;
        while consumed < bytes.len() {
            let mut word = [0xFF_u8; WORD];
            let start = if first { lead } else { 0 };
            let take = (WORD - start).min(bytes.len() - consumed);
            word[start..start + take].copy_from_slice(&bytes[consumed..consumed + take]);
            flash
                .write_nor(word_address, &word)
                .map_err(StoreError::Flash)?;
            consumed += take;
            word_address += WORD as u32;
            first = false;
        }
        Ok(())
    }

    /// Erases `slot` (its sector reads `0xFF` afterwards).
    pub fn erase(&mut self, slot: u8) -> Result<(), StoreError> {
        let start = self.address(slot, 0, SLOT_LEN)?;
        self.flash
            .get_mut()
            .erase(start, start + FlashStorage::SECTOR_SIZE)
            .map_err(StoreError::Flash)
    }
}

/// The host's view of persistence: save the newest snapshot, load it back.
pub struct Store<'d> {
    medium: Result<FlashSlots<'d>, StoreError>,
}

impl<'d> Store<'d> {
    /// Opens the medium; a missing partition disables persistence (the
    /// reason is reported by [`Store::status`]) but never stops the node.
    pub fn new(flash: FLASH<'d>) -> Store<'d> {
        Store {
            medium: FlashSlots::new(flash),
        }
    }

    /// Whether the medium opened, and if not why.
    pub fn status(&self) -> Result<(), StoreError> {
        self.medium.as_ref().map(|_| ()).map_err(|e| *e)
    }

    /// Stores `snapshot` as the newest. STAND-IN: not persisted yet.
    pub fn save(&mut self, _snapshot: &[u8]) -> Result<(), StoreError> {
        self.status()?;
        Err(StoreError::NotPersisted)
    }

    /// Copies the newest snapshot into `buf`, or `None`. STAND-IN: none.
    pub fn load(&self, _buf: &mut [u8]) -> Result<Option<usize>, StoreError> {
        self.status()?;
        Ok(None)
    }
}
