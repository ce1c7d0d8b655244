//! Costs of node-core's hot paths on the host: one sample step, one
//! aggregation, one frame parse, and the fixed-point kernels under them.
//! Run: `cargo bench -p node-core` (add `-- --quick` for a fast pass).
//! Instruction counts, stable on noisy machines, come from
//! `valgrind --tool=callgrind` on the bench binary.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use node_core::aggregate::{Contribution, KrumConfig, Rule, Scratch, TrimConfig};
use node_core::node::{Node, NodeConfig};
use node_core::q::{self, Q};
use node_core::runtime::Runtime;
use node_core::time::Instant;
use node_core::wire::{self, FrameRepr, Message, ModelUpdateRepr};

fn kernels(c: &mut Criterion) {
    let a: Vec<Q> = (0..9).map(|i| q::ratio(i, 7)).collect();
    c.bench_function("q/dot_9", |b| {
        b.iter(|| q::dot(black_box(&a), black_box(&a)))
    });
    c.bench_function("q/ln", |b| b.iter(|| q::ln(black_box(q::ratio(7, 3)))));
    c.bench_function("q/exp", |b| b.iter(|| q::exp(black_box(q::ratio(-7, 3)))));
    c.bench_function("q/sqrt", |b| b.iter(|| q::sqrt(black_box(q::ratio(7, 3)))));
}

fn sample_step(c: &mut Criterion) {
    let mut node = Node::new(NodeConfig::default()).unwrap();
    let mut t = 0_u64;
    c.bench_function("node/handle_sample", |b| {
        b.iter(|| {
            t += 1;
            let x = q::ratio((t % 64) as i32 - 32, 32);
            node.handle_sample(Instant::from_secs(t), black_box(x));
        })
    });
}

fn aggregation(c: &mut Criterion) {
    let models: Vec<Vec<Q>> = (0..9)
        .map(|i| (0..9).map(|k| q::ratio(i * 3 + k, 50)).collect())
        .collect();
    let contributions: Vec<Contribution<'_>> = models
        .iter()
        .enumerate()
        .map(|(i, w)| Contribution {
            peer: i as u32,
            weights: w,
            reputation: q::ratio(1, 2),
        })
        .collect();
    let mut scratch = Scratch::new();
    let mut out = vec![Q::ZERO; 9];
    for (name, rule) in [
        ("aggregate/mean_9x9", Rule::Mean),
        (
            "aggregate/trimmed_mean_9x9",
            Rule::TrimmedMean(TrimConfig::default()),
        ),
        ("aggregate/median_9x9", Rule::Median),
        ("aggregate/krum_9x9", Rule::Krum(KrumConfig::default())),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                rule.aggregate(black_box(&contributions), &mut scratch, &mut out)
                    .unwrap()
            })
        });
    }
}

fn wire_parse(c: &mut Criterion) {
    let words: Vec<Q> = (0..9).map(|k| q::ratio(k, 9)).collect();
    let frame = FrameRepr {
        sender: 7,
        round: 3,
        message: Message::ModelUpdate(ModelUpdateRepr {
            words: wire::Words::from_slice(&words).unwrap(),
            ..ModelUpdateRepr::default()
        }),
    };
    let mut buf = [0_u8; 256];
    let len = frame.emit(&mut buf).unwrap();
    c.bench_function("wire/parse_update_9", |b| {
        b.iter(|| FrameRepr::parse(black_box(&buf[..len])).unwrap())
    });
    c.bench_function("wire/emit_update_9", |b| {
        b.iter(|| frame.emit(black_box(&mut buf)).unwrap())
    });
}

criterion_group!(benches, kernels, sample_step, aggregation, wire_parse);
criterion_main!(benches);
