//! Any bytes → the emulated-node link's decoders (`node_core::remote`) must
//! not panic; a configuration that decodes must re-encode to the same bytes
//! (the encoding has one form per value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::remote::{self, Reader, Writer};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = remote::decode_config(data) {
        let mut again = [0u8; remote::CONFIG_MAX];
        let mut w = Writer::new(&mut again);
        remote::encode_config(&mut w, &config).expect("a decoded config re-encodes");
        let len = w.len();
        assert_eq!(&again[..len], data);
    }
    let _ = remote::decode_telemetry(&mut Reader::new(data));
    if let Some(header) = data.first_chunk::<{ remote::HEADER_LEN }>() {
        let _ = remote::parse_header(*header);
    }
    if let Some(code) = data.first() {
        let _ = remote::rx_error_from_code(*code);
    }
});
