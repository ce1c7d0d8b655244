//! A sequence of fragments built from arbitrary bytes → the `Reassembler`
//! must not panic, its counters must stay consistent and every completed
//! frame must fit `MAX_FRAME_LEN`.
//!
//! Each record is `[mode, sender, frame_id, index, count, step_ms, len,
//! chunk[len]]`. Mode bit 0 set: a FRAGMENT frame with a valid CRC is
//! built from the fields (small ranges, so slots collide); clear: the
//! chunk bytes are pushed raw.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::time::{Duration, Instant};
use node_core::wire::{FragmentRepr, MAX_FRAME_LEN, MTU_WIFI, Reassembler};

const RECORD_HEADER: usize = 7;

fuzz_target!(|data: &[u8]| {
    let mut reassembler = Reassembler::new(3, Duration::from_millis(500));
    let mut now = Instant::ZERO;
    let mut rest = data;
    let mut buf = [0u8; MTU_WIFI];
    while rest.len() >= RECORD_HEADER {
        let (head, tail) = rest.split_at(RECORD_HEADER);
        let len = usize::from(head[6]).min(tail.len());
        let (chunk, tail) = tail.split_at(len);
        rest = tail;
        now += Duration::from_millis(u64::from(head[5]) * 4);
        let repr = FragmentRepr {
            sender: u32::from(head[1] % 3),
            round: 0,
            frame_id: u16::from(head[2] % 3),
            index: head[3] % 18,
            count: head[4] % 18,
            chunk,
        };
        let bytes = match (head[0] & 1 == 1).then(|| repr.emit(&mut buf)) {
            Some(Ok(n)) => &buf[..n],
            _ => chunk,
        };
        if let Ok(Some(frame)) = reassembler.push(now, bytes) {
            assert!(frame.len() <= MAX_FRAME_LEN);
        }
        let stats = reassembler.stats();
        let used = stats.frames_completed + stats.frames_dropped() + reassembler.in_flight() as u32;
        assert!(used <= stats.accepted(), "{stats:?}");
        assert!(reassembler.in_flight() <= 3);
    }
});
