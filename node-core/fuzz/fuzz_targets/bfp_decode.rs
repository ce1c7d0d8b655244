//! Any bytes → `bfp::decode` must not panic; whatever decodes must
//! re-encode to the same bytes (the decoder accepts canonical blocks only).
//! The first byte picks the dimension (0..=MAX_DIM).
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::wire::{MAX_DIM, bfp};

fuzz_target!(|data: &[u8]| {
    let Some((&dim, bytes)) = data.split_first() else {
        return;
    };
    let dim = usize::from(dim) % (MAX_DIM + 1);
    let mut words = [0i32; MAX_DIM];
    let Ok(len) = bfp::decode(bytes, &mut words[..dim]) else {
        return;
    };
    assert_eq!(len, bfp::encoded_len(dim));
    let mut again = [0u8; bfp::encoded_len(MAX_DIM)];
    assert_eq!(bfp::encode(&words[..dim], &mut again), Ok(len));
    assert_eq!(&again[..len], &bytes[..len]);
    let mut quantized = words;
    bfp::quantize(&mut quantized[..dim]);
    assert_eq!(quantized, words, "decoded words are fixed points");
});
