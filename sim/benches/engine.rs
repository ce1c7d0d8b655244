//! The event queue alone: a steady state of `pending` events where every
//! pop schedules one event a random delay later (the hold model), with
//! bursts of ties like a swarm's samples. Run: `cargo bench -p sim --bench
//! engine` (add `-- --quick` for a fast pass).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sim::engine::EventQueue;

const HOLDS: u64 = 100_000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue_hold");
    group.sample_size(10);
    group.throughput(Throughput::Elements(HOLDS));
    for pending in [10_000_u64, 100_000, 1_000_000] {
        group.bench_with_input(BenchmarkId::from_parameter(pending), &pending, |b, &n| {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let mut queue = EventQueue::new(u64::MAX);
            for i in 0..n {
                // Ties: a tenth of the events share each millisecond.
                queue.push((i / 10) * 1_000, i as u32);
            }
            b.iter(|| {
                for _ in 0..HOLDS {
                    let (t, e) = queue.pop().unwrap().unwrap();
                    let delay = 1_000 + u64::from(rng.next_u32() % 10_000_000);
                    queue.push(t + delay, e);
                }
                black_box(queue.now_us())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
