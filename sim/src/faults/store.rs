//! A node's flash store as the host sees it: node-core's power-cut-safe
//! [`TwoSlotStore`] on a [`RamFlash`], plus time — a save lasts from the
//! instant it starts to `snapshot_write_ms` later, and a power cut inside
//! that span tears it with the medium's power-cut hook.
//!
//! ## Time
//!
//! [`FlashStore::begin_write`] keeps the snapshot bytes as the write in
//! progress; the save reaches the medium when the write's end is reached
//! (lazily: the next call at or after `end_us` performs it, uncut). A
//! [`FlashStore::power_cut`] at an instant before the end performs the
//! save with [`RamFlash::cut_after_bytes`] armed at byte `b`, chosen by
//! the caller from the seed among every byte the save changes (the target
//! slot's erase, then the record): the save stops there, and node-core's
//! record format guarantees the previous newest snapshot still loads.
//!
//! ## Size
//!
//! The medium is allocated at the first write: two slots of the
//! snapshot's record length rounded up to 256 bytes. A later, larger
//! snapshot (a node's snapshot grows as it meets peers) gets a larger
//! medium holding the newest snapshot of the old one: the host's flash is
//! modelled as large enough, up to [`SNAPSHOT_MAX_BYTES`]. Per node that
//! is two slots plus the write in progress: about three snapshots.

use node_core::storage::{RamFlash, StateStore, StoreError, TwoSlotStore, record_len};

/// Slots are allocated in multiples of this many bytes.
const SLOT_ROUND_BYTES: usize = 256;

/// Largest snapshot stored.
pub const SNAPSHOT_MAX_BYTES: usize = 1 << 20;

/// What a power cut did to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutOutcome {
    /// No write was in progress.
    Idle,
    /// A write was torn after this many changed bytes of its save (the
    /// slot's erase counts first).
    Torn {
        /// Bytes changed before the cut.
        at_byte: u32,
    },
}

/// The store of one node.
#[derive(Debug, Default)]
pub struct FlashStore {
    store: Option<TwoSlotStore<RamFlash>>,
    pending: Vec<u8>,
    pending_end_us: Option<u64>,
}

impl FlashStore {
    /// An erased store (no medium yet).
    pub fn new() -> FlashStore {
        FlashStore::default()
    }

    /// Starts writing `data` as the next snapshot, from `start_us` to
    /// `end_us` (`≥ start_us`; equal completes at once). A write still in
    /// progress completes first. Refuses a snapshot larger than the slots.
    pub fn begin_write(
        &mut self,
        data: &[u8],
        start_us: u64,
        end_us: u64,
    ) -> Result<(), StoreError> {
        assert!(end_us >= start_us, "a write ends after it starts");
        self.settle(start_us)?;
        if self
            .store
            .as_ref()
            .is_none_or(|s| data.len() > s.capacity())
        {
            self.grow(data.len())?;
        }
        self.pending.clear();
        self.pending.extend_from_slice(data);
        self.pending_end_us = Some(end_us);
        self.settle(start_us)
    }

    /// Power is lost at `now_us`: a write in progress is torn at byte
    /// `draw % bytes_changed_by_the_save`; otherwise nothing happens (a
    /// write that ended by `now_us` is committed first).
    pub fn power_cut(&mut self, now_us: u64, draw: u32) -> CutOutcome {
        // A save that fails uncut (impossible on a RamFlash in bounds)
        // leaves the previous snapshot, like a cut.
        let _ = self.settle(now_us);
        let (Some(_), Some(store)) = (self.pending_end_us.take(), &mut self.store) else {
            return CutOutcome::Idle;
        };
        let changed =
            store.flash().slot_bytes(0).map_or(0, <[u8]>::len) + record_len(self.pending.len());
        let at = draw as usize % changed;
        store.flash_mut().cut_after_bytes(at);
        let result = store.save(&self.pending);
        store.flash_mut().disarm_cut();
        debug_assert_eq!(
            result,
            Err(StoreError::PowerCut),
            "a cut inside the save stops it"
        );
        CutOutcome::Torn { at_byte: at as u32 }
    }

    /// Copies the newest complete snapshot at `now_us` (a write that ended
    /// by then counts) into `buf` (grown as needed) and returns its length,
    /// or `None` when there is none.
    pub fn read(&mut self, now_us: u64, buf: &mut Vec<u8>) -> Option<usize> {
        let _ = self.settle(now_us);
        let store = self.store.as_ref()?;
        buf.resize(buf.len().max(store.capacity()), 0);
        store.load(buf).ok().flatten().map(|loaded| loaded.len)
    }

    /// Whether a write is in progress at `now_us`.
    pub fn writing(&mut self, now_us: u64) -> bool {
        let _ = self.settle(now_us);
        self.pending_end_us.is_some()
    }

    /// A medium whose slots hold `len`-byte snapshots, holding the newest
    /// snapshot of the old one (if any).
    fn grow(&mut self, len: usize) -> Result<(), StoreError> {
        if len > SNAPSHOT_MAX_BYTES {
            return Err(StoreError::TooLarge {
                len,
                capacity: SNAPSHOT_MAX_BYTES,
            });
        }
        let slot_len = record_len(len).div_ceil(SLOT_ROUND_BYTES) * SLOT_ROUND_BYTES;
        let mut grown = TwoSlotStore::new(RamFlash::new(2, slot_len))?;
        if let Some(old) = &self.store {
            let mut buf = vec![0; old.capacity()];
            if let Some(loaded) = old.load(&mut buf)? {
                grown.save(&buf[..loaded.len])?;
            }
        }
        self.store = Some(grown);
        Ok(())
    }

    fn settle(&mut self, now_us: u64) -> Result<(), StoreError> {
        match (self.pending_end_us, &mut self.store) {
            (Some(end), Some(store)) if now_us >= end => {
                self.pending_end_us = None;
                store.save(&self.pending)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &mut FlashStore, now: u64) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        s.read(now, &mut buf).map(|len| buf[..len].to_vec())
    }

    #[test]
    fn empty_store_reads_nothing() {
        assert_eq!(read(&mut FlashStore::new(), 0), None);
    }

    #[test]
    fn a_finished_write_is_read_back_and_the_newest_wins() {
        let mut s = FlashStore::new();
        s.begin_write(b"one", 0, 10).unwrap();
        assert!(s.writing(5));
        assert_eq!(read(&mut s, 5), None, "not finished yet");
        assert_eq!(read(&mut s, 10).as_deref(), Some(&b"one"[..]));
        s.begin_write(b"two!", 20, 20).unwrap();
        assert_eq!(read(&mut s, 20).as_deref(), Some(&b"two!"[..]));
        s.begin_write(b"three", 30, 40).unwrap();
        assert_eq!(read(&mut s, 45).as_deref(), Some(&b"three"[..]));
    }

    #[test]
    fn a_cut_mid_write_tears_it_at_every_byte_and_the_previous_survives() {
        // Erase (256 bytes) then a 29-byte record.
        for draw in 0..(256 + 29) as u32 {
            let mut s = FlashStore::new();
            s.begin_write(b"first", 0, 0).unwrap();
            s.begin_write(b"secnd", 100, 200).unwrap();
            assert_eq!(s.power_cut(150, draw), CutOutcome::Torn { at_byte: draw });
            assert_eq!(
                read(&mut s, 300).as_deref(),
                Some(&b"first"[..]),
                "cut at byte {draw}"
            );
            // The next write goes over the torn slot and succeeds.
            s.begin_write(b"third", 400, 410).unwrap();
            assert_eq!(read(&mut s, 410).as_deref(), Some(&b"third"[..]));
            // The one after that is cut: `third` survives.
            s.begin_write(b"forth", 500, 600).unwrap();
            assert!(matches!(s.power_cut(599, draw), CutOutcome::Torn { .. }));
            assert_eq!(read(&mut s, 700).as_deref(), Some(&b"third"[..]));
        }
    }

    #[test]
    fn a_cut_after_the_write_ended_tears_nothing() {
        let mut s = FlashStore::new();
        s.begin_write(b"done", 0, 10).unwrap();
        assert_eq!(s.power_cut(10, 3), CutOutcome::Idle);
        assert_eq!(read(&mut s, 11).as_deref(), Some(&b"done"[..]));
    }

    #[test]
    fn the_first_write_torn_leaves_nothing() {
        let mut s = FlashStore::new();
        s.begin_write(b"only", 0, 10).unwrap();
        assert!(matches!(s.power_cut(1, 9), CutOutcome::Torn { .. }));
        assert_eq!(read(&mut s, 20), None);
    }

    #[test]
    fn a_larger_snapshot_grows_the_medium_and_a_cut_keeps_the_old_one() {
        let mut s = FlashStore::new();
        s.begin_write(&[1; 10], 0, 0).unwrap();
        s.begin_write(&[2; 300], 1, 5).unwrap();
        assert!(matches!(s.power_cut(2, 400), CutOutcome::Torn { .. }));
        assert_eq!(read(&mut s, 3), Some(vec![1; 10]));
        s.begin_write(&[3; 300], 10, 10).unwrap();
        assert_eq!(read(&mut s, 10), Some(vec![3; 300]));
        let huge = vec![4; SNAPSHOT_MAX_BYTES + 1];
        assert!(matches!(
            s.begin_write(&huge, 11, 11),
            Err(StoreError::TooLarge { .. })
        ));
    }
}
