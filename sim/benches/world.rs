//! Whole-run cost of the simulator: the 100-node example scenario (grid
//! k = 8, 100 rounds, ~196 k events) from parsed scenario to metrics rows.
//! Run: `cargo bench -p sim` (add `-- --quick` for a fast pass); divide the
//! events (`summary.json`) by the time for events/s.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use sim::runner::node_core_runtime;
use sim::scenario::Scenario;
use sim::world::World;

fn hundred_nodes(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/examples/smoothsine-100.toml");
    let scenario = Scenario::load(&path).unwrap();
    let mut group = c.benchmark_group("world");
    group.sample_size(10);
    group.bench_function("smoothsine-100", |b| {
        b.iter(|| {
            let mut world =
                World::new(&scenario, 1, |init| node_core_runtime(&scenario, init)).unwrap();
            world.run(&mut |_| {}).unwrap();
            black_box(world.events())
        })
    });
    group.finish();
}

/// Rounds of the bench scenario at 10^4 nodes (each 10 s: 10 samples per
/// node, one update broadcast to 8 neighbours, aggregation): two rounds,
/// so divide by 2 for one; the world is built outside the timing.
fn one_round_ten_thousand(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench/bench-1e4.toml");
    let mut scenario = Scenario::load(&path).unwrap();
    scenario.run.rounds = 2;
    let mut group = c.benchmark_group("world");
    group.sample_size(10);
    group.bench_function("two-rounds-10000", |b| {
        b.iter_batched(
            || World::new(&scenario, 1, |init| node_core_runtime(&scenario, init)).unwrap(),
            |mut world| {
                world.run(&mut |_| {}).unwrap();
                black_box(world.events())
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, hundred_nodes, one_round_ten_thousand);
criterion_main!(benches);
