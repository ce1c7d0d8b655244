//! Any bytes → `FrameRepr::parse` must not panic; whatever parses must
//! re-emit to the same bytes and re-parse equal. The input is tried as is
//! and again with its CRC trailer fixed up, so the fuzzer reaches the
//! payload parsers without having to forge a CRC-32.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::wire::{CRC_LEN, FrameRepr, MAX_FRAME_LEN, crc};

fn check(bytes: &[u8]) {
    let Ok(repr) = FrameRepr::parse(bytes) else {
        return;
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = repr.emit(&mut buf).expect("a parsed frame re-emits");
    assert_eq!(&buf[..len], bytes, "encoding is canonical");
    assert_eq!(FrameRepr::parse(&buf[..len]), Ok(repr));
    assert_eq!(repr.buffer_len(), len);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() < CRC_LEN || data.len() > 2 * MAX_FRAME_LEN {
        return;
    }
    let mut fixed = data.to_vec();
    let body = fixed.len() - CRC_LEN;
    let sum = crc::checksum(&fixed[..body]);
    fixed[body..].copy_from_slice(&sum.to_le_bytes());
    check(&fixed);
});
