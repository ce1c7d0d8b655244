//! Generating samples must not allocate (10^6 nodes, every event asks one).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use sim::dataset::smooth_sine::SmoothSineConfig;
use sim::dataset::storm::StormConfig;
use sim::dataset::{Dataset, DatasetConfig, Sample, Setup};

/// Counts allocations made by this test binary.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn sampling_allocates_nothing() {
    let positions: Vec<(f64, f64)> = (0..64).map(|i| (f64::from(i) / 64.0, 0.5)).collect();
    let storm = StormConfig {
        end_s: 50.0,
        region: Some([0.0, 0.0, 0.5, 1.0]),
        ..StormConfig::default()
    };
    let config = DatasetConfig::SmoothSine(SmoothSineConfig {
        storms: vec![storm],
        ..SmoothSineConfig::default()
    });
    let setup = Setup {
        nodes: 64,
        seed: 1,
        sample_period_us: 1_000_000,
        positions: &positions,
        base_dir: Path::new("."),
    };
    let dataset = Dataset::new(&config, &setup).unwrap();
    let mut out = [Sample::default(); 32];
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut checksum = 0_i64;
    for node in 0..64 {
        for k in 0..100 {
            checksum += i64::from(dataset.sample(node, k).observed.to_bits());
        }
        dataset.fill(node, 100, &mut out);
        checksum += i64::from(out[31].observed.to_bits());
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "sampling allocated (checksum {checksum})"
    );
}
