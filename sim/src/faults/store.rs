//! A node's flash store as the host sees it: two slots, each holding one
//! checksummed snapshot record, written alternately, with a power-cut hook
//! that tears the write in progress.
//!
//! ## Record and slots
//!
//! A record is `magic "RSNP" · seq u32 · len u32 · crc u32 · data[len]`
//! (little endian), the CRC-32 (node-core's `wire::crc`) over
//! `seq · len · data`. A write goes to the slot *not* holding the newest
//! valid record, so the newest complete snapshot survives any interrupted
//! write; a read returns the valid record with the highest `seq`.
//!
//! ## Writes take time; a cut tears them
//!
//! [`FlashStore::begin_write`] starts a write lasting from `start_us` to
//! `end_us`; it completes lazily (the next call at or after `end_us`
//! commits it). [`FlashStore::power_cut`] at an instant inside the write
//! tears it at byte `b` (chosen by the caller from the seed): the target
//! slot then holds the new record's bytes `[0, b)` followed by erased
//! flash (`0xFF`, the slot was erased before programming), whose CRC does
//! not match, so the read falls back to the other slot.
//!
//! Interim: this is the simulator's own model of the two-slot store. It is
//! meant to be replaced by node-core's `storage::TwoSlotStore` over a RAM
//! flash once that lands; the interface the world uses (`begin_write`,
//! `power_cut`, `read`) stays.

use node_core::wire::crc::Crc32;

const MAGIC: [u8; 4] = *b"RSNP";
const HEADER_LEN: usize = 16;
const ERASED: u8 = 0xFF;

/// A write in progress.
#[derive(Clone, Debug)]
struct Pending {
    slot: usize,
    end_us: u64,
}

/// What a power cut did to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutOutcome {
    /// No write was in progress.
    Idle,
    /// A write was torn after this many bytes of its record.
    Torn {
        /// Bytes of the record written before the cut.
        at_byte: u32,
    },
}

/// The two-slot store of one node.
#[derive(Clone, Debug, Default)]
pub struct FlashStore {
    slots: [Vec<u8>; 2],
    image: Vec<u8>,
    pending: Option<Pending>,
    seq: u32,
}

impl FlashStore {
    /// An erased store.
    pub fn new() -> FlashStore {
        FlashStore::default()
    }

    /// Starts writing `data` as the next record, from `start_us` to
    /// `end_us` (`end_us ≥ start_us`; equal completes at once). A write
    /// still in progress is completed first (the host never starts a
    /// write before the previous one's end).
    pub fn begin_write(&mut self, data: &[u8], start_us: u64, end_us: u64) {
        assert!(end_us >= start_us, "a write ends after it starts");
        self.settle(start_us);
        self.seq = self.seq.wrapping_add(1);
        let len = u32::try_from(data.len()).expect("a snapshot fits in u32");
        self.image.clear();
        self.image.extend_from_slice(&MAGIC);
        self.image.extend_from_slice(&self.seq.to_le_bytes());
        self.image.extend_from_slice(&len.to_le_bytes());
        let mut crc = Crc32::new();
        crc.update(&self.seq.to_le_bytes());
        crc.update(&len.to_le_bytes());
        crc.update(data);
        self.image.extend_from_slice(&crc.finish().to_le_bytes());
        self.image.extend_from_slice(data);
        let slot = match self.newest() {
            Some((i, _)) => 1 - i,
            None => 0,
        };
        self.pending = Some(Pending { slot, end_us });
        self.settle(start_us);
    }

    /// Power is lost at `now_us`: a write in progress is torn at byte
    /// `draw % record_len`; otherwise nothing happens (a write that ended
    /// by `now_us` is committed).
    pub fn power_cut(&mut self, now_us: u64, draw: u32) -> CutOutcome {
        self.settle(now_us);
        let Some(p) = self.pending.take() else {
            return CutOutcome::Idle;
        };
        let len = self.image.len();
        let at = draw as usize % len;
        let slot = &mut self.slots[p.slot];
        slot.clear();
        slot.extend_from_slice(&self.image[..at]);
        slot.resize(len, ERASED);
        debug_assert!(Self::parse(slot).is_none(), "a torn record never parses");
        CutOutcome::Torn { at_byte: at as u32 }
    }

    /// The newest valid snapshot at `now_us` (a write that ended by then
    /// counts), or `None` when no slot holds one.
    pub fn read(&mut self, now_us: u64) -> Option<&[u8]> {
        self.settle(now_us);
        let (i, _) = self.newest()?;
        Self::parse(&self.slots[i]).map(|(_, data)| data)
    }

    /// Whether a write is in progress at `now_us`.
    pub fn writing(&mut self, now_us: u64) -> bool {
        self.settle(now_us);
        self.pending.is_some()
    }

    fn settle(&mut self, now_us: u64) {
        if let Some(p) = &self.pending
            && now_us >= p.end_us
        {
            let slot = &mut self.slots[p.slot];
            slot.clear();
            slot.extend_from_slice(&self.image);
            self.pending = None;
        }
    }

    /// The slot holding the valid record with the highest sequence number
    /// (wrapping comparison), and that number.
    fn newest(&self) -> Option<(usize, u32)> {
        let a = Self::parse(&self.slots[0]).map(|(s, _)| s);
        let b = Self::parse(&self.slots[1]).map(|(s, _)| s);
        match (a, b) {
            (Some(x), Some(y)) if (y.wrapping_sub(x) as i32) > 0 => Some((1, y)),
            (Some(x), _) => Some((0, x)),
            (None, Some(y)) => Some((1, y)),
            (None, None) => None,
        }
    }

    /// `(seq, data)` of a valid record; `None` for anything else (erased,
    /// torn, corrupt). Never panics.
    fn parse(bytes: &[u8]) -> Option<(u32, &[u8])> {
        let header = bytes.get(..HEADER_LEN)?;
        if header[..4] != MAGIC {
            return None;
        }
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let (seq, len, crc) = (word(4), word(8), word(12));
        let data = bytes.get(HEADER_LEN..HEADER_LEN.checked_add(len as usize)?)?;
        let mut check = Crc32::new();
        check.update(&seq.to_le_bytes());
        check.update(&len.to_le_bytes());
        check.update(data);
        (check.finish() == crc).then_some((seq, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_store_reads_nothing() {
        assert_eq!(FlashStore::new().read(0), None);
    }

    #[test]
    fn a_finished_write_is_read_back_and_the_newest_wins() {
        let mut s = FlashStore::new();
        s.begin_write(b"one", 0, 10);
        assert!(s.writing(5));
        assert_eq!(s.read(5), None, "not finished yet");
        assert_eq!(s.read(10), Some(&b"one"[..]));
        s.begin_write(b"two!", 20, 20);
        assert_eq!(s.read(20), Some(&b"two!"[..]));
        s.begin_write(b"three", 30, 40);
        assert_eq!(s.read(45), Some(&b"three"[..]));
    }

    #[test]
    fn a_cut_mid_write_tears_it_at_every_byte_and_the_previous_survives() {
        let record_len = HEADER_LEN + 5;
        for draw in 0..record_len as u32 {
            let mut s = FlashStore::new();
            s.begin_write(b"first", 0, 0);
            s.begin_write(b"secnd", 100, 200);
            assert_eq!(s.power_cut(150, draw), CutOutcome::Torn { at_byte: draw });
            assert_eq!(s.read(300), Some(&b"first"[..]), "cut at byte {draw}");
            // The next write goes over the torn slot and succeeds.
            s.begin_write(b"third", 400, 410);
            assert_eq!(s.read(410), Some(&b"third"[..]));
            // And the one after that replaces `first`, keeping `third`.
            s.begin_write(b"fourth", 500, 600);
            assert_eq!(s.power_cut(599, 7), CutOutcome::Torn { at_byte: 7 });
            assert_eq!(s.read(700), Some(&b"third"[..]));
        }
    }

    #[test]
    fn a_cut_after_the_write_ended_tears_nothing() {
        let mut s = FlashStore::new();
        s.begin_write(b"done", 0, 10);
        assert_eq!(s.power_cut(10, 3), CutOutcome::Idle);
        assert_eq!(s.read(11), Some(&b"done"[..]));
    }

    #[test]
    fn the_first_write_torn_leaves_nothing() {
        let mut s = FlashStore::new();
        s.begin_write(b"only", 0, 10);
        assert!(matches!(s.power_cut(1, 9), CutOutcome::Torn { .. }));
        assert_eq!(s.read(20), None);
    }
}
