//! Cost of every aggregator (issue #18) at 8, 32 and 128 contributions of
//! the default model dimension, and of each pre-aggregator followed by the
//! trimmed mean. f is ⌈n/10⌉ as a count (1, 3, 12).
//! Run: `cargo bench -p node-core --bench aggregate`
//! (quick: `-- --warm-up-time 0.5 --measurement-time 1`).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use node_core::aggregate::{
    BulyanConfig, Center, CenteredClippingConfig, Context, Contribution, Faults,
    GeometricMedianConfig, KrumConfig, MeamedConfig, MonnaConfig, Pipeline, PreAggregator, Rule,
    Scratch, TrimConfig, WeightedConfig, WeightedTrimConfig,
};
use node_core::model::LinearNeuronConfig;
use node_core::q::{self, Q};

/// The named aggregators for `n` contributions.
fn aggregators(n: usize) -> Vec<(&'static str, Pipeline)> {
    let f = Faults::Count(n.div_ceil(10) as u32);
    let trim = Rule::TrimmedMean(TrimConfig::default());
    let pre = |step: PreAggregator| Pipeline::new(&[step], trim).unwrap();
    vec![
        ("mean", Rule::Mean.into()),
        ("trimmed_mean", trim.into()),
        ("median", Rule::Median.into()),
        (
            "krum",
            Rule::Krum(KrumConfig {
                f,
                ..KrumConfig::default()
            })
            .into(),
        ),
        (
            "multi_krum_m3",
            Rule::Krum(KrumConfig {
                f,
                m: 3,
                ..KrumConfig::default()
            })
            .into(),
        ),
        (
            "reputation_weighted",
            Rule::ReputationWeighted(WeightedConfig::default()).into(),
        ),
        (
            "weighted_trimmed_mean",
            Rule::WeightedTrimmedMean(WeightedTrimConfig::default()).into(),
        ),
        (
            "bulyan",
            Rule::Bulyan(BulyanConfig {
                f,
                ..BulyanConfig::default()
            })
            .into(),
        ),
        (
            "geometric_median_t8",
            Rule::GeometricMedian(GeometricMedianConfig::default()).into(),
        ),
        (
            "centered_clipping_own_l3",
            Rule::CenteredClipping(CenteredClippingConfig::default()).into(),
        ),
        (
            "centered_clipping_median_l3",
            Rule::CenteredClipping(CenteredClippingConfig {
                center: Center::Median,
                ..CenteredClippingConfig::default()
            })
            .into(),
        ),
        ("meamed", Rule::Meamed(MeamedConfig { f }).into()),
        ("monna", Rule::Monna(MonnaConfig { f }).into()),
        (
            "nnm+trimmed_mean",
            pre(PreAggregator::NearestNeighbourMixing(f)),
        ),
        (
            "bucketing_s2+trimmed_mean",
            pre(PreAggregator::Bucketing { size: 2 }),
        ),
        (
            "clipping+trimmed_mean",
            pre(PreAggregator::Clipping { norm: q::ONE }),
        ),
    ]
}

fn aggregation(c: &mut Criterion) {
    let dim = usize::from(LinearNeuronConfig::default().window_len) + 1;
    let mut group = c.benchmark_group("aggregate");
    group.sample_size(10);
    for n in [8_usize, 32, 128] {
        let models: Vec<Vec<Q>> = (0..n as i32)
            .map(|i| {
                (0..dim as i32)
                    .map(|k| q::ratio((i * 37 + k * 11) % 97 - 48, 64))
                    .collect()
            })
            .collect();
        let contributions: Vec<Contribution<'_>> = models
            .iter()
            .enumerate()
            .map(|(i, w)| Contribution {
                peer: i as u32,
                weights: w,
                reputation: q::ratio(50 + (i as i32 * 7) % 50, 100),
            })
            .collect();
        let context = Context {
            own: Some(0),
            seed: 7,
        };
        let mut scratch = Scratch::with_capacity(n);
        let mut out = vec![Q::ZERO; dim];
        for (name, pipeline) in aggregators(n) {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| {
                    pipeline
                        .aggregate_with(&context, black_box(&contributions), &mut scratch, &mut out)
                        .unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, aggregation);
criterion_main!(benches);
