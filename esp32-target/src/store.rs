//! Node state on flash: node-core's power-cut-safe
//! [`TwoSlotStore`](node_core::storage::TwoSlotStore) on two 4 KiB sectors
//! of the `raas` data partition (partitions.csv), one sector per slot.
//!
//! [`FlashSlots`] implements node-core's [`Flash`] medium: slot `s` is the
//! sector at `partition offset + s · 4096`, with NOR semantics (erase sets
//! `0xFF`, programming clears bits). The ESP32-C6's flash programs 4-byte
//! words at 4-byte offsets, while the store writes records of any length;
//! [`FlashSlots`] pads the partial words at either end of a write with
//! `0xFF`, which programming leaves unchanged, so the store sees
//! byte-granular NOR flash. The record format and the power-cut argument
//! are node-core's (docs/persistence.md); this module adds only the medium
//! and the host's error reporting.
//!
//! esp-storage driver errors map to `StoreError::Device(code)` with
//! [`device_code`]'s numbering.

use core::cell::RefCell;
use core::fmt;

use esp_bootloader_esp_idf::partitions::{self, PARTITION_TABLE_MAX_LEN};
use esp_hal::peripherals::FLASH;
use esp_storage::{FlashStorage, FlashStorageError};
use node_core::storage::{Flash, Loaded, Slot, StateStore, StoreError, TwoSlotStore};

/// Bytes per slot: one flash sector.
pub const SLOT_LEN: usize = FlashStorage::SECTOR_SIZE as usize;
/// Slots on the medium.
pub const SLOTS: u8 = 2;
/// Label of the data partition holding the slots.
pub const PARTITION_LABEL: &str = "raas";
/// Flash program granularity (bytes).
const WORD: usize = FlashStorage::WORD_SIZE as usize;

/// Why the store could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The partition table could not be read.
    PartitionTable,
    /// No `raas` data partition of two aligned sectors.
    NoPartition,
    /// node-core refused the medium.
    Store(StoreError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::PartitionTable => f.write_str("cannot read the partition table"),
            OpenError::NoPartition => write!(
                f,
                "no sector-aligned data partition `{PARTITION_LABEL}` of at least {} bytes \
                 (flash with --partition-table partitions.csv)",
                usize::from(SLOTS) * SLOT_LEN
            ),
            OpenError::Store(e) => write!(f, "state store: {e}"),
        }
    }
}

/// The esp-storage error as a `StoreError::Device` code: 1 I/O error,
/// 2 timeout, 3 cannot unlock, 4 misaligned, 5 out of bounds,
/// 6 unsupported, 1000 + n for the driver's code n, 999 anything newer.
pub fn device_code(e: FlashStorageError) -> u32 {
    match e {
        FlashStorageError::IoError => 1,
        FlashStorageError::IoTimeout => 2,
        FlashStorageError::CantUnlock => 3,
        FlashStorageError::NotAligned => 4,
        FlashStorageError::OutOfBounds => 5,
        FlashStorageError::NotSupported => 6,
        FlashStorageError::Other(code) => 1_000_u32.wrapping_add(code as u32),
        _ => 999,
    }
}

/// Two flash sectors of the `raas` partition as node-core's [`Flash`].
pub struct FlashSlots<'d> {
    /// `RefCell`: esp-storage reads through `&mut`, [`Flash::read`] through `&`.
    flash: RefCell<FlashStorage<'d>>,
    /// Absolute flash address of slot 0.
    base: u32,
}

impl<'d> FlashSlots<'d> {
    /// Finds the `raas` partition and claims its first two sectors.
    pub fn new(flash: FLASH<'d>) -> Result<FlashSlots<'d>, OpenError> {
        let mut storage = FlashStorage::new(flash);
        let mut table = [0u8; PARTITION_TABLE_MAX_LEN];
        let pt = partitions::read_partition_table(&mut storage, &mut table)
            .map_err(|_| OpenError::PartitionTable)?;
        let entry = pt
            .iter()
            .find(|p| p.label_as_str() == PARTITION_LABEL)
            .ok_or(OpenError::NoPartition)?;
        let needed = u32::from(SLOTS) * FlashStorage::SECTOR_SIZE;
        let aligned = entry.offset() % FlashStorage::SECTOR_SIZE == 0;
        if entry.len() < needed || !aligned {
            return Err(OpenError::NoPartition);
        }
        Ok(FlashSlots {
            flash: RefCell::new(storage),
            base: entry.offset(),
        })
    }

    /// Absolute address of `offset` in `slot`, after bounds checks.
    fn address(&self, slot: Slot, offset: usize, len: usize) -> Result<u32, StoreError> {
        let out = StoreError::OutOfBounds { slot, offset, len };
        let end = offset.checked_add(len).ok_or(out)?;
        if slot >= SLOTS || end > SLOT_LEN {
            return Err(out);
        }
        Ok(self.base + u32::from(slot) * FlashStorage::SECTOR_SIZE + offset as u32)
    }
}

impl Flash for FlashSlots<'_> {
    fn slot_len(&self) -> usize {
        SLOT_LEN
    }

    fn read(&self, slot: Slot, offset: usize, buf: &mut [u8]) -> Result<(), StoreError> {
        let address = self.address(slot, offset, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        self.flash
            .borrow_mut()
            .read_nor(address, buf)
            .map_err(|e| StoreError::Device(device_code(e)))
    }

    /// One 4-byte word at a time; partial words at either end are padded
    /// with `0xFF`. Bounded: at most `bytes.len() / 4 + 2` words.
    fn write(&mut self, slot: Slot, offset: usize, bytes: &[u8]) -> Result<(), StoreError> {
        let address = self.address(slot, offset, bytes.len())?;
        let flash = self.flash.get_mut();
        let lead = address as usize % WORD;
        let mut word_address = address - lead as u32;
        let mut start = lead;
        let mut consumed = 0;
        while consumed < bytes.len() {
            let mut word = [0xFF_u8; WORD];
            let take = (WORD - start).min(bytes.len() - consumed);
            word[start..start + take].copy_from_slice(&bytes[consumed..consumed + take]);
            flash
                .write_nor(word_address, &word)
                .map_err(|e| StoreError::Device(device_code(e)))?;
            consumed += take;
            word_address += WORD as u32;
            start = 0;
        }
        Ok(())
    }

    fn erase(&mut self, slot: Slot) -> Result<(), StoreError> {
        let start = self.address(slot, 0, SLOT_LEN)?;
        self.flash
            .get_mut()
            .erase(start, start + FlashStorage::SECTOR_SIZE)
            .map_err(|e| StoreError::Device(device_code(e)))
    }
}

/// The host's persistence: node-core's two-slot store on [`FlashSlots`],
/// or the reason there is none (the node then runs without persistence).
pub struct Store<'d> {
    inner: Result<TwoSlotStore<FlashSlots<'d>>, OpenError>,
}

impl<'d> Store<'d> {
    /// Opens the store; a missing partition disables persistence (see
    /// [`Store::status`]) but never stops the node.
    pub fn new(flash: FLASH<'d>) -> Store<'d> {
        let inner = FlashSlots::new(flash)
            .and_then(|slots| TwoSlotStore::new(slots).map_err(OpenError::Store));
        Store { inner }
    }

    /// Whether the store opened, and if not why.
    pub fn status(&self) -> Result<(), OpenError> {
        self.inner.as_ref().map(|_| ()).map_err(|e| *e)
    }

    /// Largest snapshot a slot holds (0 without a store).
    pub fn capacity(&self) -> usize {
        self.inner.as_ref().map_or(0, TwoSlotStore::capacity)
    }

    /// Stores `snapshot` as the newest (durable on `Ok`).
    pub fn save(&mut self, snapshot: &[u8]) -> Result<(), Error> {
        let store = self.inner.as_mut().map_err(|e| Error::Open(*e))?;
        store.save(snapshot).map_err(Error::Store)
    }

    /// Copies the newest complete snapshot into `buf`, or `None`.
    pub fn load(&self, buf: &mut [u8]) -> Result<Option<Loaded>, Error> {
        let store = self.inner.as_ref().map_err(|e| Error::Open(*e))?;
        store.load(buf).map_err(Error::Store)
    }
}

/// Why a save or load failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// There is no store (see [`OpenError`]).
    Open(OpenError),
    /// node-core's store failed.
    Store(StoreError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open(e) => write!(f, "{e}"),
            Error::Store(e) => write!(f, "{e}"),
        }
    }
}
