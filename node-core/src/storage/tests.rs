//! Tests of the two-slot store on [`RamFlash`]: round trips, alternation,
//! a power cut at every byte of a save, corruption of every byte of a
//! record, sequence wraparound and every error path.

use alloc::format;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;

const SLOT_LEN: usize = 256;

fn store() -> TwoSlotStore<RamFlash> {
    TwoSlotStore::new(RamFlash::new(2, SLOT_LEN)).expect("valid medium")
}

fn body(tag: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| tag.wrapping_mul(31).wrapping_add(i as u8))
        .collect()
}

fn load_vec(store: &TwoSlotStore<RamFlash>) -> Option<(Vec<u8>, Loaded)> {
    let mut buf = [0u8; SLOT_LEN];
    let loaded = store
        .load(&mut buf)
        .expect("load does not fail on RamFlash")?;
    Some((buf[..loaded.len].to_vec(), loaded))
}

/// Writes a complete record straight onto the medium (for wraparound tests).
fn put_record(flash: &mut RamFlash, slot: Slot, sequence: u32, body: &[u8]) {
    let header = encode_header(sequence, body.len() as u32);
    let mut crc = Crc32::new();
    crc.update(&header);
    crc.update(body);
    flash.erase(slot).unwrap();
    flash.write(slot, 0, &header).unwrap();
    flash.write(slot, HEADER_LEN, body).unwrap();
    let at = HEADER_LEN + body.len();
    flash.write(slot, at, &crc.finish().to_le_bytes()).unwrap();
    flash.write(slot, at + 4, &COMMIT.to_le_bytes()).unwrap();
}

#[test]
fn empty_store_loads_nothing() {
    let store = store();
    assert_eq!(load_vec(&store), None);
    assert_eq!(store.scan(), Ok([SlotState::Empty, SlotState::Empty]));
    assert_eq!(store.capacity(), SLOT_LEN - RECORD_OVERHEAD);
}

#[test]
fn saves_alternate_slots_with_increasing_sequence() {
    let mut store = store();
    for i in 0..6u8 {
        let snapshot = body(i, 10 + usize::from(i) * 20);
        store.save(&snapshot).unwrap();
        let (bytes, loaded) = load_vec(&store).unwrap();
        assert_eq!(bytes, snapshot);
        assert_eq!(loaded.sequence, u32::from(i));
        assert_eq!(loaded.slot, i % 2);
        assert_eq!(loaded.len, snapshot.len());
    }
    assert_eq!(store.flash().erases(0), 3);
    assert_eq!(store.flash().erases(1), 3);
    // Both slots hold complete records, one step apart.
    let states = store.scan().unwrap();
    assert!(matches!(states[0], SlotState::Valid { sequence: 4, .. }));
    assert!(matches!(states[1], SlotState::Valid { sequence: 5, .. }));
}

#[test]
fn empty_and_full_snapshots_round_trip() {
    let mut store = store();
    store.save(&[]).unwrap();
    assert_eq!(load_vec(&store).unwrap().0, Vec::<u8>::new());
    let full = body(9, store.capacity());
    store.save(&full).unwrap();
    assert_eq!(load_vec(&store).unwrap().0, full);
    assert_eq!(
        store.save(&body(1, store.capacity() + 1)),
        Err(StoreError::TooLarge {
            len: store.capacity() + 1,
            capacity: store.capacity()
        })
    );
    assert_eq!(
        load_vec(&store).unwrap().0,
        full,
        "a refused save changes nothing"
    );
}

/// Bytes a save of `len` changes on RamFlash: the whole slot erased, then
/// the record programmed.
fn save_cost(len: usize) -> usize {
    SLOT_LEN + record_len(len)
}

/// From `base`, a save of `next` cut after every possible byte count: the
/// store must load `previous` (the newest complete snapshot before it)
/// until the very last byte of the commit word lands, then `next`; and a
/// later uncut save must always succeed.
fn cut_everywhere(base: &TwoSlotStore<RamFlash>, previous: Option<&[u8]>, next: &[u8]) {
    let mut torn_seen = false;
    for n in 0..=save_cost(next.len()) {
        let mut store = TwoSlotStore::new(base.flash().clone()).unwrap();
        store.flash_mut().cut_after_bytes(n);
        let result = store.save(next);
        let loaded = load_vec(&store).map(|(bytes, _)| bytes);
        if n < save_cost(next.len()) {
            assert_eq!(result, Err(StoreError::PowerCut), "cut after {n} bytes");
            assert_eq!(loaded.as_deref(), previous, "cut after {n} bytes");
            let states = store.scan().unwrap();
            torn_seen |= states.contains(&SlotState::Corrupt(Corruption::Uncommitted));
        } else {
            assert_eq!(result, Ok(()));
            assert_eq!(loaded.as_deref(), Some(next));
        }
        // After the "reboot" (power back, no cut armed) the store works.
        store.flash_mut().disarm_cut();
        let after = body(0xEE, 7);
        store.save(&after).unwrap();
        assert_eq!(load_vec(&store).unwrap().0, after);
    }
    assert!(torn_seen, "some cut must leave an uncommitted record");
}

#[test]
fn power_cut_at_every_byte_of_the_first_save_boots_fresh() {
    cut_everywhere(&store(), None, &body(1, 100));
}

#[test]
fn power_cut_at_every_byte_keeps_the_last_complete_snapshot() {
    // Overwrite a longer, a shorter and an equally long older record, so
    // the stale commit word of the overwritten record sits before, after
    // and exactly where the new one goes.
    for (old_len, new_len) in [(150, 60), (60, 150), (90, 90), (0, 200)] {
        let mut base = store();
        let old = body(1, old_len);
        let newest = body(2, 80);
        base.save(&old).unwrap(); // slot 0, overwritten by the cut save
        base.save(&newest).unwrap(); // slot 1, must survive
        cut_everywhere(&base, Some(&newest), &body(3, new_len));
    }
}

#[test]
fn cut_save_leaves_newest_slot_untouched() {
    let mut base = store();
    base.save(&body(1, 40)).unwrap();
    base.save(&body(2, 40)).unwrap();
    let before = base.flash().slot_bytes(1).unwrap().to_vec();
    for n in 0..save_cost(40) {
        let mut store = TwoSlotStore::new(base.flash().clone()).unwrap();
        store.flash_mut().cut_after_bytes(n);
        let _ = store.save(&body(3, 40));
        assert_eq!(store.flash().slot_bytes(1).unwrap(), &before[..]);
    }
}

#[test]
fn corrupting_any_byte_of_the_newest_record_falls_back() {
    let mut base = store();
    let older = body(1, 50);
    let newest = body(2, 70);
    base.save(&older).unwrap();
    base.save(&newest).unwrap();
    for offset in 0..record_len(newest.len()) {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut store = TwoSlotStore::new(base.flash().clone()).unwrap();
            store.flash_mut().corrupt(1, offset, mask).unwrap();
            let state = store.scan().unwrap()[1];
            assert!(
                matches!(state, SlotState::Corrupt(_)),
                "offset {offset} mask {mask:#x}: {state}"
            );
            assert_eq!(load_vec(&store).unwrap().0, older, "offset {offset}");
        }
    }
    // Bytes past the record are not part of it.
    let mut store = TwoSlotStore::new(base.flash().clone()).unwrap();
    store
        .flash_mut()
        .corrupt(1, record_len(newest.len()), 0xFF)
        .unwrap();
    assert_eq!(load_vec(&store).unwrap().0, newest);
}

#[test]
fn corruption_reasons_are_reported() {
    let mut base = store();
    base.save(&body(1, 20)).unwrap();
    let cases = [
        (0usize, Corruption::BadMagic),
        (4, Corruption::BadVersion),
        (6, Corruption::BadVersion),
        (15, Corruption::BadLength),
        (HEADER_LEN + 20 + 4, Corruption::Uncommitted),
        (HEADER_LEN + 3, Corruption::BadChecksum),
        (9, Corruption::BadChecksum),
        (HEADER_LEN + 20, Corruption::BadChecksum),
    ];
    for (offset, expected) in cases {
        let mut store = TwoSlotStore::new(base.flash().clone()).unwrap();
        store.flash_mut().corrupt(0, offset, 0x40).unwrap();
        assert_eq!(
            store.scan().unwrap(),
            [SlotState::Corrupt(expected), SlotState::Empty],
            "offset {offset}"
        );
        assert_eq!(
            load_vec(&store),
            None,
            "one bad slot and one empty: boot fresh"
        );
        assert!(!format!("{}", store.scan().unwrap()[0]).is_empty());
    }
}

#[test]
fn both_slots_corrupt_boots_fresh_and_says_why() {
    let mut store = store();
    store.save(&body(1, 30)).unwrap();
    store.save(&body(2, 30)).unwrap();
    store.flash_mut().corrupt(0, 0, 0x01).unwrap();
    store.flash_mut().corrupt(1, HEADER_LEN + 5, 0x01).unwrap();
    assert_eq!(load_vec(&store), None);
    assert_eq!(
        store.scan().unwrap(),
        [
            SlotState::Corrupt(Corruption::BadMagic),
            SlotState::Corrupt(Corruption::BadChecksum)
        ]
    );
    // The next save starts afresh in slot 0 and is loadable.
    store.save(&body(3, 30)).unwrap();
    let (bytes, loaded) = load_vec(&store).unwrap();
    assert_eq!(bytes, body(3, 30));
    assert_eq!((loaded.slot, loaded.sequence), (0, 0));
}

#[test]
fn sequence_wraps_around() {
    assert!(sequence_newer(1, 0));
    assert!(!sequence_newer(0, 1));
    assert!(!sequence_newer(7, 7));
    assert!(sequence_newer(0, u32::MAX));
    assert!(!sequence_newer(u32::MAX, 0));
    assert!(sequence_newer(u32::MAX, u32::MAX - 1));

    let mut flash = RamFlash::new(2, SLOT_LEN);
    put_record(&mut flash, 0, u32::MAX - 1, &body(1, 10));
    put_record(&mut flash, 1, u32::MAX, &body(2, 10));
    let mut store = TwoSlotStore::new(flash).unwrap();
    assert_eq!(load_vec(&store).unwrap().1.sequence, u32::MAX);
    store.save(&body(3, 10)).unwrap();
    let (bytes, loaded) = load_vec(&store).unwrap();
    assert_eq!((loaded.slot, loaded.sequence), (0, 0));
    assert_eq!(bytes, body(3, 10));
    store.save(&body(4, 10)).unwrap();
    let (bytes, loaded) = load_vec(&store).unwrap();
    assert_eq!((loaded.slot, loaded.sequence), (1, 1));
    assert_eq!(bytes, body(4, 10));
}

#[test]
fn error_paths() {
    assert_eq!(
        TwoSlotStore::new(RamFlash::new(2, RECORD_OVERHEAD)).err(),
        Some(StoreError::SlotTooSmall {
            slot_len: RECORD_OVERHEAD
        })
    );
    assert_eq!(
        TwoSlotStore::new(RamFlash::new(1, SLOT_LEN)).err(),
        Some(StoreError::OutOfBounds {
            slot: 1,
            offset: 0,
            len: 0
        })
    );
    let mut store = store();
    store.save(&body(1, 40)).unwrap();
    let mut small = [0u8; 39];
    assert_eq!(
        store.load(&mut small),
        Err(StoreError::BufferTooSmall { needed: 40 })
    );
    let mut flash = RamFlash::new(2, 8);
    assert!(flash.write(0, 4, &[0; 5]).is_err());
    assert!(flash.write(2, 0, &[0]).is_err());
    assert!(flash.read(0, usize::MAX, &mut [0; 2]).is_err());
    assert!(flash.erase(5).is_err());
    assert!(flash.corrupt(0, 8, 1).is_err());
    for error in [
        StoreError::OutOfBounds {
            slot: 1,
            offset: 2,
            len: 3,
        },
        StoreError::PowerCut,
        StoreError::Device(7),
        StoreError::TooLarge {
            len: 9,
            capacity: 8,
        },
        StoreError::SlotTooSmall { slot_len: 3 },
        StoreError::BufferTooSmall { needed: 4 },
        StoreError::VerifyFailed,
    ] {
        assert!(!format!("{error}").is_empty());
    }
}

#[test]
fn ram_flash_is_nor_flash() {
    let mut flash = RamFlash::new(2, 8);
    flash.write(0, 0, &[0xF0, 0x0F]).unwrap();
    flash.write(0, 0, &[0x3C, 0xFF]).unwrap();
    assert_eq!(&flash.slot_bytes(0).unwrap()[..3], &[0x30, 0x0F, 0xFF]);
    flash.erase(0).unwrap();
    assert_eq!(flash.slot_bytes(0).unwrap(), &[0xFF; 8]);
    assert_eq!(flash.bytes_programmed(), 4);
    // A cut mid-write lands a prefix, reports it, then disarms.
    flash.cut_after_bytes(3);
    assert_eq!(flash.write(1, 0, &[0; 8]), Err(StoreError::PowerCut));
    assert_eq!(
        flash.slot_bytes(1).unwrap(),
        &[0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert!(!flash.cut_armed());
    // A cut mid-erase erases from offset 0 upwards.
    flash.cut_after_bytes(2);
    assert_eq!(flash.erase(1), Err(StoreError::PowerCut));
    assert_eq!(&flash.slot_bytes(1).unwrap()[..4], &[0xFF, 0xFF, 0, 0xFF]);
}

/// One step of a random save history.
#[derive(Clone, Debug)]
enum Step {
    Save { tag: u8, len: usize },
    CutSave { tag: u8, len: usize, after: usize },
}

fn step() -> impl Strategy<Value = Step> {
    let len = 0..(SLOT_LEN - RECORD_OVERHEAD);
    prop_oneof![
        (any::<u8>(), len.clone()).prop_map(|(tag, len)| Step::Save { tag, len }),
        (any::<u8>(), len, 0..(2 * SLOT_LEN)).prop_map(|(tag, len, after)| Step::CutSave {
            tag,
            len,
            after
        }),
    ]
}

proptest! {
    /// Any history of saves, some cut at arbitrary bytes: the store always
    /// loads the newest save that returned `Ok` (a model of one variable).
    #[test]
    fn random_cut_history_loads_newest_complete(steps in proptest::collection::vec(step(), 1..24)) {
        let mut store = store();
        let mut model: Option<Vec<u8>> = None;
        for step in steps {
            let (tag, len, cut) = match step {
                Step::Save { tag, len } => (tag, len, None),
                Step::CutSave { tag, len, after } => (tag, len, Some(after)),
            };
            let snapshot = body(tag, len);
            if let Some(after) = cut {
                store.flash_mut().cut_after_bytes(after);
            }
            match store.save(&snapshot) {
                Ok(()) => model = Some(snapshot),
                Err(error) => prop_assert_eq!(error, StoreError::PowerCut),
            }
            store.flash_mut().disarm_cut();
            prop_assert_eq!(load_vec(&store).map(|(bytes, _)| bytes), model.clone());
        }
    }
}
