//! Reassembly of FRAGMENT frames into the frames they were cut from.
//!
//! ## Rules and bounds
//!
//! * **Slots.** At most `slot_count ≤ MAX_SLOTS` frames are rebuilt at
//!   once, each in a buffer of [`MAX_FRAME_LEN`] bytes allocated once by
//!   [`Reassembler::new`]; nothing allocates afterwards.
//! * **Key.** A slot belongs to `(sender, frame_id)` from the fragment's
//!   header. Sender ids are not authenticated at this layer: the rebuilt
//!   frame is checked again by its own CRC and parser.
//! * **Timeout.** A slot whose first fragment arrived at `t` is dropped at
//!   the first call with `now − t ≥ timeout` (counted as timed out);
//!   [`Reassembler::poll_at`] says when that is.
//! * **Full.** A fragment of a new frame when every slot is busy evicts the
//!   slot with the oldest first fragment (ties: lowest slot), counted as
//!   evicted.
//! * **Placement.** Non-last fragments carry exactly `C` bytes, learned from
//!   the first non-last fragment; fragment `i` goes to offset `i·C`. A last
//!   fragment that arrives before `C` is known waits at the tail of the
//!   buffer and is moved when `C` is learned.
//! * **Rejection.** A fragment is *corrupt* (counted, returned as an error,
//!   the slot kept) when it fails its frame checks (version, length, CRC,
//!   kind) or disagrees with its slot (`count`, chunk length, total above
//!   [`MAX_FRAME_LEN`]). A fragment whose index was already received is a
//!   *duplicate* (counted, ignored, `Ok(None)`).
//! * **Completion.** When every index is in, the frame is returned as a
//!   slice of the slot's buffer (valid until the next call) and the slot is
//!   freed. A late duplicate of a completed frame opens a new slot that
//!   later times out or is evicted.

use alloc::vec;
use alloc::vec::Vec;

use super::fragment::Repr as FragmentRepr;
use super::{MAX_FRAGMENTS, MAX_FRAME_LEN, NodeId, RxError};
use crate::time::{Duration, Instant};

/// Most slots a reassembler may be configured with.
pub const MAX_SLOTS: usize = 16;

/// A reasonable default: four frames in flight.
pub const DEFAULT_SLOTS: usize = 4;

/// A reasonable default timeout: two seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters of a [`Reassembler`]. Invariant: `frames_completed +
/// frames_dropped() + in_flight ≤ accepted()`, since every frame started
/// with at least one accepted fragment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Every fragment offered to [`Reassembler::push`].
    pub fragments_received: u32,
    /// Frames rebuilt and returned.
    pub frames_completed: u32,
    /// Partial frames evicted to make room for a new one.
    pub frames_evicted: u32,
    /// Partial frames dropped because their timeout passed.
    pub frames_timed_out: u32,
    /// Fragments whose index had already been received.
    pub duplicate_fragments: u32,
    /// Fragments rejected: bad frame checks or inconsistent with their slot.
    pub corrupt_fragments: u32,
}

impl ReassemblyStats {
    /// Partial frames lost (evicted or timed out).
    pub const fn frames_dropped(&self) -> u32 {
        self.frames_evicted.saturating_add(self.frames_timed_out)
    }

    /// Fragments stored in a slot (neither corrupt nor duplicate).
    pub const fn accepted(&self) -> u32 {
        self.fragments_received
            .saturating_sub(self.duplicate_fragments)
            .saturating_sub(self.corrupt_fragments)
    }
}

/// One frame being rebuilt.
#[derive(Clone, Copy, Debug)]
struct Slot {
    sender: NodeId,
    frame_id: u16,
    count: u8,
    /// Bytes of every non-last chunk; 0 until a non-last fragment arrives.
    chunk_len: usize,
    /// Bytes of the last chunk; 0 until it arrives.
    last_len: usize,
    /// Bit `i` set when fragment `i` is in.
    received_mask: u32,
    started: Instant,
}

impl Slot {
    fn is_complete(&self) -> bool {
        self.received_mask == (1u32 << self.count) - 1
    }

    fn total_len(&self) -> usize {
        (usize::from(self.count) - 1) * self.chunk_len + self.last_len
    }
}

/// Rebuilds frames from FRAGMENT frames with bounded memory.
#[derive(Clone, Debug)]
pub struct Reassembler {
    slots: Vec<Option<Slot>>,
    /// `slots.len() × MAX_FRAME_LEN` bytes, slot `i` at `i·MAX_FRAME_LEN`.
    buffers: Vec<u8>,
    timeout: Duration,
    stats: ReassemblyStats,
}

impl Reassembler {
    /// Heap bytes the reassembler owns (slots and buffers).
    pub fn heap_bytes(&self) -> usize {
        crate::heap::of_vec(&self.slots) + crate::heap::of_vec(&self.buffers)
    }

    /// A reassembler of `slot_count` slots dropping partial frames after
    /// `timeout`. Allocates `slot_count × MAX_FRAME_LEN` bytes, once.
    ///
    /// # Panics
    ///
    /// When `slot_count` is not in `1..=MAX_SLOTS` (a configuration error).
    pub fn new(slot_count: usize, timeout: Duration) -> Reassembler {
        assert!(
            (1..=MAX_SLOTS).contains(&slot_count),
            "slot_count out of range"
        );
        Reassembler {
            slots: vec![None; slot_count],
            buffers: vec![0u8; slot_count * MAX_FRAME_LEN],
            timeout,
            stats: ReassemblyStats::default(),
        }
    }

    /// The counters.
    pub const fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Frames partially received.
    pub fn in_flight(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }

    /// When the oldest partial frame times out, if any.
    pub fn poll_at(&self) -> Option<Instant> {
        let oldest = self.slots.iter().flatten().map(|slot| slot.started).min()?;
        Some(oldest + self.timeout)
    }

    /// Drops every partial frame whose timeout has passed at `now`.
    pub fn expire(&mut self, now: Instant) {
        for slot in self.slots.iter_mut() {
            let expired = slot.is_some_and(|s| now.saturating_since(s.started) >= self.timeout);
            if expired {
                *slot = None;
                self.stats.frames_timed_out = self.stats.frames_timed_out.saturating_add(1);
            }
        }
    }

    /// Takes one received FRAGMENT frame at `now`. Returns the rebuilt
    /// frame when this fragment completes it, `None` while incomplete or
    /// for a duplicate, and an error for a corrupt fragment. Never panics.
    pub fn push(&mut self, now: Instant, bytes: &[u8]) -> Result<Option<&[u8]>, RxError> {
        self.stats.fragments_received = self.stats.fragments_received.saturating_add(1);
        self.expire(now);
        let fragment = FragmentRepr::parse(bytes).inspect_err(|_| self.count_corrupt())?;
        let index = self.slot_for(now, &fragment);
        let slot = self.slots[index]
            .as_mut()
            .expect("slot_for returns a used slot");
        if slot.count != fragment.count {
            self.count_corrupt();
            return Err(RxError::Malformed);
        }
        if slot.received_mask & (1u32 << fragment.index) != 0 {
            self.stats.duplicate_fragments = self.stats.duplicate_fragments.saturating_add(1);
            return Ok(None);
        }
        let start = index * MAX_FRAME_LEN;
        let buffer = &mut self.buffers[start..start + MAX_FRAME_LEN];
        if let Err(error) = place(slot, buffer, &fragment) {
            self.count_corrupt();
            return Err(error);
        }
        if !slot.is_complete() {
            return Ok(None);
        }
        let total = slot.total_len();
        debug_assert!(total <= MAX_FRAME_LEN);
        self.slots[index] = None;
        self.stats.frames_completed = self.stats.frames_completed.saturating_add(1);
        Ok(Some(&self.buffers[start..start + total]))
    }

    fn count_corrupt(&mut self) {
        self.stats.corrupt_fragments = self.stats.corrupt_fragments.saturating_add(1);
    }

    /// The slot of `(sender, frame_id)`, claiming a free one or evicting
    /// the oldest when there is none.
    fn slot_for(&mut self, now: Instant, fragment: &FragmentRepr<'_>) -> usize {
        let key = (fragment.sender, fragment.frame_id);
        let found = self
            .slots
            .iter()
            .position(|slot| slot.is_some_and(|s| (s.sender, s.frame_id) == key));
        if let Some(index) = found {
            return index;
        }
        let index = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.stats.frames_evicted = self.stats.frames_evicted.saturating_add(1);
                self.oldest_slot()
            }
        };
        self.slots[index] = Some(Slot {
            sender: fragment.sender,
            frame_id: fragment.frame_id,
            count: fragment.count,
            chunk_len: 0,
            last_len: 0,
            received_mask: 0,
            started: now,
        });
        index
    }

    fn oldest_slot(&self) -> usize {
        let mut oldest = 0;
        for (index, slot) in self.slots.iter().enumerate() {
            let (Some(slot), Some(best)) = (slot, &self.slots[oldest]) else {
                continue;
            };
            if slot.started < best.started {
                oldest = index;
            }
        }
        oldest
    }
}

/// Stores `fragment`'s chunk in `buffer` (one slot's [`MAX_FRAME_LEN`]
/// bytes) and marks it received, or rejects it as inconsistent with the
/// fragments already in. `fragment` passed its own range checks.
fn place(slot: &mut Slot, buffer: &mut [u8], fragment: &FragmentRepr<'_>) -> Result<(), RxError> {
    debug_assert!(usize::from(slot.count) <= MAX_FRAGMENTS);
    debug_assert!(fragment.index < slot.count);
    let len = fragment.chunk.len();
    let last_index = usize::from(slot.count) - 1;
    let offset = if fragment.is_last() {
        let offset = last_offset(slot, len)?;
        slot.last_len = len;
        offset
    } else {
        learn_chunk_len(slot, buffer, len)?;
        usize::from(fragment.index) * slot.chunk_len
    };
    debug_assert!(offset + len <= MAX_FRAME_LEN);
    debug_assert!(fragment.is_last() || usize::from(fragment.index) < last_index);
    buffer[offset..offset + len].copy_from_slice(fragment.chunk);
    slot.received_mask |= 1u32 << fragment.index;
    Ok(())
}

/// Where the last chunk of `len` bytes goes: its final place when `C` is
/// known (or there is one fragment), else the tail of the buffer.
fn last_offset(slot: &Slot, len: usize) -> Result<usize, RxError> {
    let last_index = usize::from(slot.count) - 1;
    if last_index == 0 {
        return Ok(0);
    }
    if slot.chunk_len == 0 {
        return Ok(MAX_FRAME_LEN - len);
    }
    let offset = last_index * slot.chunk_len;
    if len > slot.chunk_len || offset + len > MAX_FRAME_LEN {
        return Err(RxError::Malformed);
    }
    Ok(offset)
}

/// Checks a non-last chunk of `len` bytes against `C`, learning `C` (and
/// moving a waiting last chunk to its place) when it is not known yet.
fn learn_chunk_len(slot: &mut Slot, buffer: &mut [u8], len: usize) -> Result<(), RxError> {
    if slot.chunk_len != 0 {
        return if len == slot.chunk_len {
            Ok(())
        } else {
            Err(RxError::Malformed)
        };
    }
    let last_index = usize::from(slot.count) - 1;
    let total = last_index * len + slot.last_len.max(1);
    if total > MAX_FRAME_LEN || slot.last_len > len {
        return Err(RxError::Malformed);
    }
    slot.chunk_len = len;
    if slot.last_len != 0 {
        let waiting = MAX_FRAME_LEN - slot.last_len;
        buffer.copy_within(waiting..MAX_FRAME_LEN, last_index * len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_support::{arb_frame_repr, sample_frames};
    use crate::wire::{Fragmenter, FrameRepr, MIN_MTU, MTU_ESPNOW};
    use proptest::prelude::*;

    const T0: Instant = Instant::from_millis(1_000);

    /// The fragments of `repr` at `mtu`, as (bytes, len) pairs.
    fn pieces(repr: &FrameRepr, mtu: usize, frame_id: u16) -> Vec<([u8; MTU_ESPNOW], usize)> {
        let mut frame = [0u8; MAX_FRAME_LEN];
        let len = repr.emit(&mut frame).unwrap();
        let mut fragmenter = Fragmenter::new(&frame[..len], mtu, frame_id).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; MTU_ESPNOW];
        while let Some(n) = fragmenter.emit_next(&mut buf[..mtu]).unwrap() {
            out.push((buf, n));
        }
        out
    }

    /// The largest sample frame, which fragments at every MTU below its length.
    fn big() -> FrameRepr {
        *sample_frames()
            .iter()
            .max_by_key(|f| f.buffer_len())
            .unwrap()
    }

    fn assert_consistent(r: &Reassembler) {
        let s = r.stats();
        let used = s.frames_completed as usize + s.frames_dropped() as usize + r.in_flight();
        assert!(used <= s.accepted() as usize, "{s:?}");
    }

    #[test]
    fn in_order_and_reversed() {
        for mtu in [MIN_MTU, 64, 100, MTU_ESPNOW] {
            let all = pieces(&big(), mtu, 5);
            assert!(all.len() > 1);
            for reversed in [false, true] {
                let mut r = Reassembler::new(DEFAULT_SLOTS, DEFAULT_TIMEOUT);
                let mut order: Vec<_> = all.iter().collect();
                if reversed {
                    order.reverse();
                }
                let (last, rest) = order.split_last().unwrap();
                for (bytes, n) in rest {
                    assert_eq!(r.push(T0, &bytes[..*n]), Ok(None));
                }
                let frame = r.push(T0, &last.0[..last.1]).unwrap().unwrap();
                assert_eq!(FrameRepr::parse(frame), Ok(big()));
                assert_eq!(r.in_flight(), 0);
                assert_eq!(r.stats().frames_completed, 1);
            }
        }
    }

    #[test]
    fn duplicates_and_corruption_are_counted() {
        let all = pieces(&big(), 100, 1);
        let mut r = Reassembler::new(1, DEFAULT_TIMEOUT);
        assert_eq!(r.push(T0, &all[0].0[..all[0].1]), Ok(None));
        assert_eq!(r.push(T0, &all[0].0[..all[0].1]), Ok(None));
        let mut bad = all[1];
        bad.0[20] ^= 0x10;
        assert_eq!(r.push(T0, &bad.0[..bad.1]), Err(RxError::BadChecksum));
        assert_eq!(r.push(T0, &[]), Err(RxError::Truncated));
        let s = r.stats();
        assert_eq!((s.duplicate_fragments, s.corrupt_fragments), (1, 2));
        assert_eq!(s.fragments_received, 4);
        for (bytes, n) in &all[1..all.len() - 1] {
            assert_eq!(r.push(T0, &bytes[..*n]), Ok(None));
        }
        let (bytes, n) = all[all.len() - 1];
        assert!(r.push(T0, &bytes[..n]).unwrap().is_some());
        assert_consistent(&r);
    }

    #[test]
    fn inconsistent_fragments_are_corrupt() {
        // Same (sender, frame_id), different cut: count and chunk disagree.
        let a = pieces(&big(), 100, 9);
        let b = pieces(&big(), 64, 9);
        let mut r = Reassembler::new(2, DEFAULT_TIMEOUT);
        assert_eq!(r.push(T0, &a[0].0[..a[0].1]), Ok(None));
        assert_eq!(r.push(T0, &b[1].0[..b[1].1]), Err(RxError::Malformed));
        assert_eq!(r.stats().corrupt_fragments, 1);
        assert_eq!(r.in_flight(), 1);
    }

    #[test]
    fn timeout_and_eviction() {
        let timeout = Duration::from_millis(500);
        let mut r = Reassembler::new(2, timeout);
        let first: Vec<_> = (0..3u16).map(|id| pieces(&big(), 100, id)).collect();
        assert_eq!(r.push(T0, &first[0][0].0[..first[0][0].1]), Ok(None));
        let t1 = T0 + Duration::from_millis(10);
        assert_eq!(r.push(t1, &first[1][0].0[..first[1][0].1]), Ok(None));
        assert_eq!(r.poll_at(), Some(T0 + timeout));
        // Full: frame 2 evicts frame 0, the oldest.
        assert_eq!(r.push(t1, &first[2][0].0[..first[2][0].1]), Ok(None));
        assert_eq!(r.stats().frames_evicted, 1);
        assert_eq!(r.poll_at(), Some(t1 + timeout));
        // Both remaining slots time out.
        r.expire(t1 + timeout);
        assert_eq!(r.stats().frames_timed_out, 2);
        assert_eq!(r.in_flight(), 0);
        assert_eq!(r.poll_at(), None);
        assert_consistent(&r);
    }

    #[test]
    #[should_panic(expected = "slot_count")]
    fn zero_slots_is_a_configuration_error() {
        let _ = Reassembler::new(0, DEFAULT_TIMEOUT);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Random frames and MTUs through a lossy, duplicating, reordering
        /// channel: whatever completes is the original frame.
        #[test]
        fn round_trip_through_a_bad_channel(
            repr in arb_frame_repr(),
            mtu in MIN_MTU..=MTU_ESPNOW,
            ops in proptest::collection::vec((any::<u8>(), 0u8..10), 1..40),
        ) {
            let all = pieces(&repr, mtu, 77);
            let mut r = Reassembler::new(2, DEFAULT_TIMEOUT);
            let mut completed = 0;
            for (pick, action) in ops {
                let (bytes, n) = &all[usize::from(pick) % all.len()];
                if action == 0 {
                    continue; // lost
                }
                if all.len() == 1 {
                    prop_assert_eq!(r.push(T0, &bytes[..*n]), Err(RxError::BadKind));
                    continue;
                }
                if let Some(frame) = r.push(T0, &bytes[..*n]).unwrap() {
                    prop_assert_eq!(FrameRepr::parse(frame), Ok(repr));
                    completed += 1;
                }
            }
            // Every fragment in order completes it (after whatever came before).
            if all.len() > 1 {
                let mut done = false;
                for (bytes, n) in &all {
                    if let Some(frame) = r.push(T0, &bytes[..*n]).unwrap() {
                        prop_assert_eq!(FrameRepr::parse(frame), Ok(repr));
                        done = true;
                    }
                }
                prop_assert!(done);
                prop_assert_eq!(r.stats().frames_completed, completed + 1);
            }
            assert_consistent(&r);
        }

        /// Arbitrary bytes and fragments with random headers never panic
        /// and keep the counters consistent.
        #[test]
        fn garbage_never_panics(
            frames in proptest::collection::vec(
                (any::<u16>(), any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..120), 0u64..3_000),
                1..40,
            ),
        ) {
            let mut r = Reassembler::new(3, DEFAULT_TIMEOUT);
            let mut now = T0;
            for (frame_id, index, count, chunk, step_ms) in frames {
                now += Duration::from_millis(step_ms);
                let repr = FragmentRepr {
                    sender: u32::from(frame_id % 3),
                    round: 0,
                    frame_id: frame_id % 4,
                    index: index % 5,
                    count: count % 5,
                    chunk: &chunk,
                };
                let mut buf = [0u8; 200];
                let n = match repr.emit(&mut buf) {
                    Ok(n) => n,
                    Err(_) => {
                        // Not a valid fragment: offer the raw bytes.
                        buf[..chunk.len()].copy_from_slice(&chunk);
                        chunk.len()
                    }
                };
                let _ = r.push(now, &buf[..n]);
                assert_consistent(&r);
            }
        }
    }
}
