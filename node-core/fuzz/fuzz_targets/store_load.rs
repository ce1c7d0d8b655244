//! Any flash contents → `TwoSlotStore::scan`/`load` must not panic, and a
//! loaded snapshot must be the body of a slot that scans as valid. Then a
//! save on top must succeed and load back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::storage::{Flash, RamFlash, SlotState, StateStore, TwoSlotStore};

const SLOT_LEN: usize = 128;

fuzz_target!(|data: &[u8]| {
    let mut flash = RamFlash::new(2, SLOT_LEN);
    for (slot, chunk) in data.chunks(SLOT_LEN).take(2).enumerate() {
        flash.write(slot as u8, 0, chunk).expect("in bounds");
    }
    let mut store = TwoSlotStore::new(flash).expect("slots large enough");
    let states = store.scan().expect("RamFlash reads never fail");
    let mut buf = [0u8; SLOT_LEN];
    if let Some(loaded) = store.load(&mut buf).expect("reads never fail") {
        assert!(matches!(
            states[usize::from(loaded.slot)],
            SlotState::Valid { sequence, len } if sequence == loaded.sequence && len == loaded.len
        ));
    }
    let body = &data[..data.len().min(store.capacity())];
    store.save(body).expect("save on any contents");
    let loaded = store.load(&mut buf).expect("reads").expect("just saved");
    assert_eq!(&buf[..loaded.len], body);
});
