//! Any bytes → `bfp::decode` must not panic, for either mantissa width
//! (BFP-8 and BFP-16 read the same input); whatever decodes must re-encode
//! to the same bytes (the decoder accepts canonical blocks only) and be a
//! fixed point of `bfp::quantize`. The first byte picks the dimension
//! (0..=MAX_DIM).
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::wire::MAX_DIM;
use node_core::wire::bfp::{self, MantissaWidth};

fn check(width: MantissaWidth, dim: usize, bytes: &[u8]) {
    let mut words = [0i32; MAX_DIM];
    let Ok(len) = bfp::decode(width, bytes, &mut words[..dim]) else {
        return;
    };
    assert_eq!(len, width.encoded_len(dim));
    let mut again = [0u8; MantissaWidth::Bits16.encoded_len(MAX_DIM)];
    assert_eq!(bfp::encode(width, &words[..dim], &mut again), Ok(len));
    assert_eq!(&again[..len], &bytes[..len]);
    let mut quantized = words;
    bfp::quantize(width, &mut quantized[..dim]);
    assert_eq!(quantized, words, "decoded words are fixed points");
}

fuzz_target!(|data: &[u8]| {
    let Some((&dim, bytes)) = data.split_first() else {
        return;
    };
    let dim = usize::from(dim) % (MAX_DIM + 1);
    check(MantissaWidth::Bits8, dim, bytes);
    check(MantissaWidth::Bits16, dim, bytes);
});
