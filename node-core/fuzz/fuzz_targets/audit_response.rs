//! Any bytes → the AuditResponse payload parser must not panic; whatever
//! parses must re-emit to the same bytes, and replaying a parsed record
//! with the auditor's `recompute::verify` (default model, against a zero
//! received update, full and delta) must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::audit::recompute::{self, Claim, Received};
use node_core::model::LinearNeuronConfig;
use node_core::q::Q;
use node_core::wire::response::{MAX_LEN, Packet, Repr};
use node_core::wire::Encoding;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let Ok(repr) = Repr::parse(&packet) else {
        return;
    };
    let mut buf = [0u8; MAX_LEN];
    let len = repr.buffer_len();
    assert_eq!(len, data.len());
    repr.emit(&mut Packet::new_unchecked(&mut buf[..len]));
    assert_eq!(&buf[..len], data, "encoding is canonical");
    let claim = Claim {
        base: repr.base.as_slice(),
        history: repr.history.as_slice(),
        samples: repr.samples.as_slice(),
        steps: repr.steps.as_slice(),
    };
    let zero = [Q::ZERO; 9];
    let table = [Q::from_bits(6_554); 4];
    for delta in [false, true] {
        let received = Received {
            words: &zero,
            keyframe: &zero,
            delta,
            encoding: Encoding::Bfp8,
        };
        let _ = recompute::verify(LinearNeuronConfig::default(), &table, &claim, &received);
    }
});
