//! Steady-state aggregation allocates nothing (the `Scratch` contract).
//!
//! A counting global allocator wraps the system one and counts only the
//! allocations of the thread that set `COUNTING` (the test harness's own
//! threads allocate now and then while a slow round runs).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use node_core::aggregate::{
    AdaptiveAggregator, AdaptiveConfig, BulyanConfig, Center, CenteredClippingConfig, Context,
    Contribution, Faults, GeometricMedianConfig, KrumConfig, MeamedConfig, MonnaConfig, Pipeline,
    PreAggregator, Rule, Scratch, TrimConfig, WeightedConfig, WeightedTrimConfig,
};
use node_core::q::{self, Q};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call unchanged to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_rounds_allocate_nothing() {
    let models: Vec<Vec<Q>> = (0..16)
        .map(|i| (0..9).map(|k| q::ratio(i * 7 + k, 50)).collect())
        .collect();
    let contributions: Vec<Contribution<'_>> = models
        .iter()
        .enumerate()
        .map(|(i, w)| Contribution {
            peer: 100 - i as u32,
            weights: w,
            reputation: q::ratio(40 + i as i32 * 3, 100),
        })
        .collect();
    let rules = [
        Rule::Mean,
        Rule::TrimmedMean(TrimConfig::default()),
        Rule::Median,
        Rule::Krum(KrumConfig {
            f: Faults::Count(3),
            m: 4,
            ..KrumConfig::default()
        }),
        Rule::ReputationWeighted(WeightedConfig::default()),
        Rule::WeightedTrimmedMean(WeightedTrimConfig::default()),
        Rule::Bulyan(BulyanConfig {
            f: Faults::Count(3),
            ..BulyanConfig::default()
        }),
        Rule::GeometricMedian(GeometricMedianConfig::default()),
        Rule::CenteredClipping(CenteredClippingConfig::default()),
        Rule::CenteredClipping(CenteredClippingConfig {
            center: Center::Median,
            ..CenteredClippingConfig::default()
        }),
        Rule::Meamed(MeamedConfig {
            f: Faults::FractionBp(2_000),
        }),
        Rule::Monna(MonnaConfig::default()),
    ];
    let trim = Rule::TrimmedMean(TrimConfig::default());
    let pipelines = [
        Pipeline::new(
            &[PreAggregator::NearestNeighbourMixing(Faults::Count(3))],
            trim,
        )
        .unwrap(),
        Pipeline::new(&[PreAggregator::Bucketing { size: 2 }], trim).unwrap(),
        Pipeline::new(&[PreAggregator::Clipping { norm: q::ONE }], trim).unwrap(),
        Pipeline::new(
            &[
                PreAggregator::Clipping { norm: q::ONE },
                PreAggregator::NearestNeighbourMixing(Faults::Count(1)),
                PreAggregator::Bucketing { size: 2 },
            ],
            Rule::Monna(MonnaConfig::default()),
        )
        .unwrap(),
    ];
    let mut seed = 0_u64;
    let mut scratch = Scratch::new();
    let mut adaptive = AdaptiveAggregator::new(AdaptiveConfig::default(), 9).unwrap();
    let mut out = [q::ZERO; 9];
    let mut round = |scratch: &mut Scratch, out: &mut [Q]| {
        seed += 1;
        let context = Context {
            own: Some(contributions[3].peer),
            seed,
        };
        for rule in &rules {
            rule.aggregate_with(&context, &contributions, scratch, out)
                .unwrap();
        }
        for pipeline in &pipelines {
            pipeline
                .aggregate_with(&context, &contributions, scratch, out)
                .unwrap();
        }
        adaptive.aggregate(&contributions, scratch, out).unwrap();
    };
    COUNTING.with(|c| c.set(true));
    round(&mut scratch, &mut out); // warm-up: buffers grow once
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(before > 0, "the counting allocator is not installed");
    for _ in 0..40 {
        round(&mut scratch, &mut out);
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
}
