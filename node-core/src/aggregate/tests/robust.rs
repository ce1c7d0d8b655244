//! Tests of the robust-aggregation family: Krum's neighbour count, Bulyan,
//! geometric median, centered clipping, Meamed, MoNNA and the
//! pre-aggregators (hand-computed cases, conditions, permutation
//! invariance, honest range).

use super::*;

fn ones(values: &[f64]) -> Vec<Owned> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| owned(i as NodeId, &[v], 1.0))
        .collect()
}

fn run_with(
    aggregator: Pipeline,
    own: Option<NodeId>,
    seed: u64,
    input: &[Owned],
) -> Result<Outcome, AggregateError> {
    let dim = input.first().map_or(1, |o| o.weights.len());
    let mut out = vec![ZERO; dim];
    let mut scratch = Scratch::new();
    let context = Context { own, seed };
    let stats = aggregator.aggregate_with(&context, &view(input), &mut scratch, &mut out)?;
    Ok((out, stats, scratch.usage().to_vec()))
}

fn close(x: Q, expected: f64) -> bool {
    (to_f64(x) - expected).abs() <= 1.0 / 65536.0
}

const F1: Faults = Faults::Count(1);

fn bulyan() -> Rule {
    Rule::Bulyan(BulyanConfig::default())
}

fn cc(radius: f64, iterations: u32, center: Center) -> Rule {
    Rule::CenteredClipping(CenteredClippingConfig {
        radius: Q::from_num(radius),
        iterations,
        center,
    })
}

#[test]
fn krum_neighbour_count_paper_and_byzfl_differ() {
    // 1-D values 0, 1, 2, 10, 11 (n = 5, f = 1). Paper k = 2: scores
    // 5, 2, 5, 65, 82 → value 1. ByzFL k = 3: 105, 83, 69, 146, 182 → 2.
    let input = ones(&[0.0, 1.0, 2.0, 10.0, 11.0]);
    let paper = run(Rule::Krum(KrumConfig::default()), &input).unwrap().0;
    assert_eq!(paper[0], q::from_int(1));
    let byzfl = Rule::Krum(KrumConfig {
        neighbours: KrumNeighbours::ByzFl,
        ..KrumConfig::default()
    });
    assert_eq!(run(byzfl, &input).unwrap().0[0], q::from_int(2));
    // Both keep the paper's condition n ≥ 2f + 3.
    assert_eq!(
        run(byzfl, &input[..4]).unwrap_err(),
        AggregateError::KrumCondition { n: 4, f: 1 }
    );
}

#[test]
fn faults_as_a_fraction_follow_n() {
    let f = Faults::FractionBp(2_500);
    assert_eq!((f.resolve(3), f.resolve(4), f.resolve(11)), (0, 1, 2));
    assert_eq!(
        Faults::FractionBp(5_001).validate(),
        Err(ConfigError::FaultFractionOutOfRange { bp: 5_001 })
    );
    // Krum with f = ⌊0.25·n⌋: n = 7 → f = 1 (7 ≥ 5), n = 8 → f = 2 (8 ≥ 7).
    let rule = Rule::Krum(KrumConfig {
        f,
        ..KrumConfig::default()
    });
    assert!(run(rule, &ones(&[0.0; 7])).is_ok());
    let bad = Rule::Krum(KrumConfig {
        f: Faults::FractionBp(5_000),
        ..KrumConfig::default()
    });
    assert_eq!(
        run(bad, &ones(&[0.0; 8])).unwrap_err(),
        AggregateError::KrumCondition { n: 8, f: 4 }
    );
}

#[test]
fn bulyan_by_hand() {
    // n = 7, f = 1: θ = 5, β = 3. Selection (paper k = r − 3, at least 1):
    // 2 (score 10, ties 3 → lower id), 3, then 1 (tie with 4 at 10), 4,
    // then 0 (tie with 5 at 25). S = {0..4}, median 2, kept 1, 2, 3 → 2.
    let input = ones(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 100.0]);
    let (out, stats, usage) = run(bulyan(), &input).unwrap();
    assert_eq!(out[0], q::from_int(2));
    let statuses: Vec<Status> = usage.iter().map(|u| u.status).collect();
    use Status::*;
    assert_eq!(
        statuses,
        [Trimmed, Used, Used, Used, Trimmed, NotSelected, NotSelected]
    );
    assert_eq!((stats.used, stats.trimmed, stats.not_selected), (3, 2, 2));
    assert_eq!(stats.values_trimmed, 4);
    assert_eq!(usage[2].share, q::ratio(1, 3));
    // The outlier with the lowest peer id: the last selection (r = 3,
    // paper count 0) would pick it by id without the floor k = 1; with it,
    // value 0 wins (score 25 against 95²) and the output stays 2.
    let shifted = ones(&[100.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let (out, _, usage) = run(bulyan(), &shifted).unwrap();
    assert_eq!(out[0], q::from_int(2));
    assert_eq!(usage[0].status, Status::NotSelected);
}

#[test]
fn bulyan_with_f_zero_selects_everyone_and_does_not_panic() {
    // f = 0 (e.g. a small inbox with f as a fraction): θ = n, β = n, so
    // Bulyan is the plain mean; its last selection has one candidate left.
    let zero = Rule::Bulyan(BulyanConfig {
        f: Faults::Count(0),
        ..BulyanConfig::default()
    });
    for n in 3..8 {
        let values: Vec<f64> = (0..n).map(f64::from).collect();
        let (out, stats, _) = run(zero, &ones(&values)).unwrap();
        assert!(close(out[0], f64::from(n - 1) / 2.0), "n = {n}");
        assert_eq!(stats.used, n as u32);
    }
    let fraction = Rule::Bulyan(BulyanConfig {
        f: Faults::FractionBp(3_000),
        ..BulyanConfig::default()
    });
    assert!(run(fraction, &ones(&[0.0, 1.0, 2.0])).is_ok());
}

#[test]
fn bulyan_refuses_below_4f_plus_3() {
    let input = ones(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(
        run(bulyan(), &input).unwrap_err(),
        AggregateError::BulyanCondition { n: 6, f: 1 }
    );
    let f2 = Rule::Bulyan(BulyanConfig {
        f: Faults::Count(2),
        ..BulyanConfig::default()
    });
    assert_eq!(
        run(f2, &ones(&[0.0; 10])).unwrap_err(),
        AggregateError::BulyanCondition { n: 10, f: 2 }
    );
    assert!(run(f2, &ones(&[0.0; 11])).is_ok());
}

#[test]
fn meamed_by_hand() {
    // Sorted 0, 1, 2, 3, 10; median 2; the 4 closest: 2, 1 (tie with 3 →
    // lower value), 3, 0 → 1.5.
    let (out, stats, usage) = run(
        Rule::Meamed(MeamedConfig { f: F1 }),
        &ones(&[0.0, 1.0, 2.0, 10.0, 3.0]),
    )
    .unwrap();
    assert_eq!(out[0], q::ratio(3, 2));
    assert_eq!(usage[3].status, Status::Trimmed);
    assert_eq!(stats.values_trimmed, 1);
    // Even n: 0, 4, 5, 100; median 4.5; closest 3: 4, 5, 0 → 3.
    let even = run(
        Rule::Meamed(MeamedConfig { f: F1 }),
        &ones(&[100.0, 4.0, 0.0, 5.0]),
    )
    .unwrap();
    assert_eq!(even.0[0], q::from_int(3));
    // A tie at the window's edge: 0..=6, f = 3, median 3, keep 4: 3, 2
    // (tie with 4 → lower value), 4, 1 (tie with 5) → 2.5.
    let edge = run(
        Rule::Meamed(MeamedConfig {
            f: Faults::Count(3),
        }),
        &ones(&[6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]),
    )
    .unwrap();
    assert_eq!(edge.0[0], q::ratio(5, 2));
    assert_eq!(
        run(
            Rule::Meamed(MeamedConfig {
                f: Faults::Count(2)
            }),
            &ones(&[0.0; 4])
        )
        .unwrap_err(),
        AggregateError::MajorityCondition {
            rule: "meamed",
            n: 4,
            f: 2
        }
    );
}

#[test]
fn monna_averages_the_own_models_nearest() {
    // Own (0, 0); others (1, 0), (0, 2), (10, 10), (3, 0). f = 1: the 4
    // nearest are own, (1, 0), (0, 2), (3, 0) → (1, 0.5).
    let input = vec![
        owned(7, &[0.0, 0.0], 1.0),
        owned(1, &[1.0, 0.0], 0.5),
        owned(2, &[0.0, 2.0], 0.5),
        owned(3, &[10.0, 10.0], 0.5),
        owned(4, &[3.0, 0.0], 0.5),
    ];
    let rule = Pipeline::from(Rule::Monna(MonnaConfig { f: F1 }));
    let (out, stats, usage) = run_with(rule, Some(7), 0, &input).unwrap();
    assert_eq!(out, [q::ONE, q::ratio(1, 2)]);
    assert_eq!(usage[3].status, Status::NotSelected);
    assert_eq!(stats.used, 4);
    assert_eq!(
        run(Rule::Monna(MonnaConfig { f: F1 }), &input).unwrap_err(),
        AggregateError::NoOwnModel { rule: "monna" }
    );
    assert_eq!(
        run_with(rule, Some(99), 0, &input).unwrap_err(),
        AggregateError::OwnNotFound { peer: 99 }
    );
    let f2 = Pipeline::from(Rule::Monna(MonnaConfig {
        f: Faults::Count(2),
    }));
    assert_eq!(
        run_with(f2, Some(7), 0, &input[..3]).unwrap_err(),
        AggregateError::MajorityCondition {
            rule: "monna",
            n: 3,
            f: 2
        }
    );
}

#[test]
fn centered_clipping_by_hand() {
    // Own 0, others 0.5 and 10, τ = 1. L = 1: offsets 0, 0.5, 10 → 1:
    // v = 1.5/3 = 0.5. L = 2: offsets −0.5, 0, 9.5 → 1: v = 0.5 + 0.5/3.
    let input = ones(&[0.0, 0.5, 10.0]);
    let one = Pipeline::from(cc(1.0, 1, Center::Own));
    let (out, stats, _) = run_with(one, Some(0), 0, &input).unwrap();
    assert_eq!(out[0], q::ratio(1, 2));
    assert_eq!(stats.capped, 1);
    let two = Pipeline::from(cc(1.0, 2, Center::Own));
    assert!(close(
        run_with(two, Some(0), 0, &input).unwrap().0[0],
        0.5 + 0.5 / 3.0
    ));
    // The median center (0.5) needs no own model and gives L = 1's step.
    let median = cc(1.0, 1, Center::Median);
    assert!(close(run(median, &input).unwrap().0[0], 0.5 + 0.5 / 3.0));
    assert_eq!(
        run(cc(1.0, 1, Center::Own), &input).unwrap_err(),
        AggregateError::NoOwnModel {
            rule: "centered clipping"
        }
    );
    assert_eq!(
        run(cc(0.0, 1, Center::Own), &input).unwrap_err(),
        AggregateError::Config(ConfigError::RadiusNotPositive)
    );
    assert_eq!(
        run(cc(1.0, 65, Center::Own), &input).unwrap_err(),
        AggregateError::Config(ConfigError::IterationsOutOfRange { iterations: 65 })
    );
}

/// The same smoothed Weiszfeld in `f64`.
fn weiszfeld_reference(input: &[Owned], iterations: u32, nu: f64) -> Vec<f64> {
    let rows: Vec<Vec<f64>> = input
        .iter()
        .map(|o| o.weights.iter().map(|&w| to_f64(w)).collect())
        .collect();
    let dim = rows[0].len();
    let n = rows.len() as f64;
    let mut z: Vec<f64> = (0..dim)
        .map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / n)
        .collect();
    for _ in 0..iterations {
        let betas: Vec<f64> = rows
            .iter()
            .map(|r| {
                let d = r
                    .iter()
                    .zip(&z)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                1.0 / d.max(nu)
            })
            .collect();
        let total: f64 = betas.iter().sum();
        z = (0..dim)
            .map(|k| rows.iter().zip(&betas).map(|(r, b)| b * r[k]).sum::<f64>() / total)
            .collect();
    }
    z
}

#[test]
fn geometric_median_matches_a_float_reference_and_resists_outliers() {
    let mut input: Vec<Owned> = (0..6)
        .map(|i| {
            owned(
                i,
                &[1.0 + 0.1 * f64::from(i), 1.0 - 0.05 * f64::from(i)],
                1.0,
            )
        })
        .collect();
    input.push(owned(10, &[1000.0, -1000.0], 1.0));
    input.push(owned(11, &[-900.0, 800.0], 1.0));
    let config = GeometricMedianConfig::default();
    let (out, _, _) = run(Rule::GeometricMedian(config), &input).unwrap();
    let reference = weiszfeld_reference(&input, config.iterations, 1.0 / 1024.0);
    for (x, r) in out.iter().zip(&reference) {
        assert!((to_f64(*x) - r).abs() < 1e-3, "{out:?} vs {reference:?}");
    }
    // Within the honest cluster's box, unlike the mean (≈ 13, −25).
    assert!((1.0..=1.5).contains(&to_f64(out[0])), "{out:?}");
    assert!((0.75..=1.0).contains(&to_f64(out[1])), "{out:?}");
    // 1-D: the geometric median is the median; 64 steps get close.
    let long = GeometricMedianConfig {
        iterations: 64,
        ..config
    };
    let line = run(
        Rule::GeometricMedian(long),
        &ones(&[0.0, 1.0, 2.0, 3.0, 100.0]),
    )
    .unwrap();
    assert!((to_f64(line.0[0]) - 2.0).abs() < 0.01, "{:?}", line.0);
    assert_eq!(
        run(
            Rule::GeometricMedian(GeometricMedianConfig {
                smoothing: ZERO,
                ..config
            }),
            &input
        )
        .unwrap_err(),
        AggregateError::Config(ConfigError::SmoothingNotPositive)
    );
}

#[test]
fn static_clipping_scales_long_vectors_only() {
    let input = vec![owned(1, &[3.0, 4.0], 1.0), owned(2, &[0.3, 0.4], 1.0)];
    let clip = Pipeline::new(&[PreAggregator::Clipping { norm: q::ONE }], Rule::Mean).unwrap();
    // (0.6, 0.8) and (0.3, 0.4) → mean (0.45, 0.6).
    let (out, _, _) = run_with(clip, None, 0, &input).unwrap();
    assert!(close(out[0], 0.45) && close(out[1], 0.6), "{out:?}");
    assert_eq!(
        Pipeline::new(&[PreAggregator::Clipping { norm: ZERO }], Rule::Mean),
        Err(ConfigError::ClipNormNotPositive)
    );
}

#[test]
fn nearest_neighbour_mixing_by_hand() {
    // f = 1: 0 → mean{0, 1, 2} = 1, 1 → 1, 2 → 1, 100 → mean{100, 2, 1}.
    let input = ones(&[0.0, 1.0, 2.0, 100.0]);
    let nnm = [PreAggregator::NearestNeighbourMixing(F1)];
    let mean = Pipeline::new(&nnm, Rule::Mean).unwrap();
    let (out, _, _) = run_with(mean, None, 0, &input).unwrap();
    assert!(close(out[0], (3.0 + 103.0 / 3.0) / 4.0), "{out:?}");
    let median = Pipeline::new(&nnm, Rule::Median).unwrap();
    assert_eq!(run_with(median, None, 0, &input).unwrap().0[0], q::ONE);
    let too_many = [PreAggregator::NearestNeighbourMixing(Faults::Count(2))];
    assert_eq!(
        run_with(
            Pipeline::new(&too_many, Rule::Mean).unwrap(),
            None,
            0,
            &input
        )
        .unwrap_err(),
        AggregateError::MajorityCondition {
            rule: "nearest-neighbour mixing",
            n: 4,
            f: 2
        }
    );
}

#[test]
fn bucketing_follows_the_seeded_shuffle() {
    let input = ones(&[0.0, 1.0, 2.0, 3.0, 4.0]);
    let buckets = [PreAggregator::Bucketing { size: 2 }];
    // Size 2 then the median: the expected buckets from the documented key.
    for seed in [0_u64, 1, 42, u64::MAX] {
        let mut order: Vec<(u64, NodeId)> = (0..5)
            .map(|p: NodeId| (vector::mix64(seed ^ vector::mix64(u64::from(p))), p))
            .collect();
        order.sort_unstable();
        let mut means: Vec<f64> = order
            .chunks(2)
            .map(|b| b.iter().map(|&(_, p)| f64::from(p)).sum::<f64>() / b.len() as f64)
            .collect();
        means.sort_by(f64::total_cmp);
        let pipeline = Pipeline::new(&buckets, Rule::Median).unwrap();
        let (out, stats, usage) = run_with(pipeline, None, seed, &input).unwrap();
        assert_eq!(stats.n, 3);
        assert!(close(out[0], means[1]), "seed {seed}: {out:?} vs {means:?}");
        let mut ids: Vec<NodeId> = usage.iter().map(|u| u.peer).collect();
        ids.sort_unstable();
        let mut firsts: Vec<NodeId> = order
            .chunks(2)
            .map(|b| b.iter().map(|&(_, p)| p).min().unwrap())
            .collect();
        firsts.sort_unstable();
        assert_eq!(ids, firsts);
    }
    // Size 1 is the identity; size ≥ n is one bucket (the mean).
    let one = Pipeline::new(&[PreAggregator::Bucketing { size: 1 }], Rule::Median).unwrap();
    assert_eq!(run_with(one, None, 9, &input).unwrap().0[0], q::from_int(2));
    let all = Pipeline::new(&[PreAggregator::Bucketing { size: 5 }], Rule::Median).unwrap();
    assert_eq!(run_with(all, None, 9, &input).unwrap().0[0], q::from_int(2));
    // The own model is tracked into its bucket.
    let monna = Pipeline::new(&buckets, Rule::Monna(MonnaConfig { f: F1 })).unwrap();
    assert!(run_with(monna, Some(3), 5, &input).is_ok());
    assert_eq!(
        Pipeline::new(&[PreAggregator::Bucketing { size: 0 }], Rule::Mean),
        Err(ConfigError::BucketSizeZero)
    );
    let four = [PreAggregator::Bucketing { size: 1 }; 4];
    assert_eq!(
        Pipeline::new(&four, Rule::Mean),
        Err(ConfigError::TooManyPreAggregators { count: 4 })
    );
}

#[test]
fn an_empty_pipeline_is_its_rule() {
    let input = ones(&[0.0, 1.0, 2.0, 3.0, 50.0]);
    for rule in all_rules() {
        let direct = run(rule, &input);
        let piped = run_with(Pipeline::from(rule), None, 3, &input);
        assert_eq!(direct, piped, "{rule:?}");
    }
}

/// Every new rule and a pipeline of each pre-aggregator, as pipelines.
fn robust_aggregators() -> Vec<Pipeline> {
    let mut list: Vec<Pipeline> = [
        Rule::Krum(KrumConfig {
            neighbours: KrumNeighbours::ByzFl,
            ..KrumConfig::default()
        }),
        bulyan(),
        Rule::GeometricMedian(GeometricMedianConfig::default()),
        cc(0.5, 3, Center::Own),
        cc(0.5, 2, Center::Median),
        Rule::Meamed(MeamedConfig { f: F1 }),
        Rule::Monna(MonnaConfig {
            f: Faults::FractionBp(3_000),
        }),
    ]
    .into_iter()
    .map(Pipeline::from)
    .collect();
    for pre in [
        PreAggregator::NearestNeighbourMixing(F1),
        PreAggregator::Bucketing { size: 2 },
        PreAggregator::Clipping {
            norm: q::from_int(3),
        },
    ] {
        list.push(Pipeline::new(&[pre], TRIM).unwrap());
    }
    list.push(
        Pipeline::new(
            &[
                PreAggregator::Clipping {
                    norm: q::from_int(100),
                },
                PreAggregator::Bucketing { size: 2 },
                PreAggregator::NearestNeighbourMixing(F1),
            ],
            Rule::Monna(MonnaConfig { f: F1 }),
        )
        .unwrap(),
    );
    list
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn robust_aggregators_are_permutation_invariant(
        (input, shuffled) in arb_input(5..12, 1..4, -(1 << 24)..=(1 << 24))
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        seed in any::<u64>(),
    ) {
        let own = Some(input[0].peer);
        for pipeline in robust_aggregators() {
            let a = run_with(pipeline, own, seed, &input);
            let b = run_with(pipeline, own, seed, &shuffled);
            match (a, b) {
                (Ok((oa, sa, ua)), Ok((ob, sb, ub))) => {
                    prop_assert_eq!(oa, ob, "{:?}", pipeline);
                    prop_assert_eq!(sa, sb);
                    prop_assert_eq!(sorted_usage(ua), sorted_usage(ub));
                }
                (a, b) => prop_assert_eq!(a.err(), b.err()),
            }
        }
    }

    #[test]
    fn robust_aggregators_keep_identical_vectors(
        input in arb_input(7..12, 1..4, -(1 << 28)..=(1 << 28)),
        seed in any::<u64>(),
    ) {
        let weights = input[0].weights.clone();
        let same: Vec<Owned> = input
            .iter()
            .map(|o| Owned { peer: o.peer, weights: weights.clone(), rep: o.rep })
            .collect();
        for pipeline in robust_aggregators() {
            // Clipping to norm 3 changes long vectors: compare with it applied.
            let expected = match pipeline.pre().first() {
                Some(PreAggregator::Clipping { .. }) => continue,
                _ => weights.clone(),
            };
            let out = run_with(pipeline, Some(input[0].peer), seed, &same).unwrap().0;
            prop_assert_eq!(&out, &expected, "{:?}", pipeline);
        }
    }

    #[test]
    fn far_outliers_leave_bulyan_meamed_and_monna_in_the_honest_range(
        honest in arb_input(7..12, 1..4, -200_000..=200_000),
        f in 1_u32..3,
        sign in prop_oneof![Just(1_i32), Just(-1)],
    ) {
        // n = honest + f with f outliers ≥ 1 000 away (honest values are
        // within ±3.1): farther from every median than every honest value.
        let dim = honest[0].weights.len();
        let mut input = honest.clone();
        for j in 0..f {
            let peer = honest.iter().map(|o| o.peer).max().unwrap().wrapping_add(1 + j);
            prop_assume!(input.iter().all(|o| o.peer != peer));
            input.push(Owned { peer, weights: vec![q::from_int(sign * (1_000 + j as i32)); dim], rep: ONE });
        }
        let faults = Faults::Count(f);
        let mut rules = vec![
            Rule::Meamed(MeamedConfig { f: faults }),
            Rule::Monna(MonnaConfig { f: faults }),
        ];
        if input.len() >= 4 * f as usize + 3 {
            rules.push(Rule::Bulyan(BulyanConfig { f: faults, ..BulyanConfig::default() }));
        }
        for rule in rules {
            let out = run_with(Pipeline::from(rule), Some(honest[0].peer), 0, &input).unwrap().0;
            for (k, &v) in out.iter().enumerate() {
                let (lo, hi) = honest_range(&honest, k);
                prop_assert!(lo <= v && v <= hi, "{:?}: {} outside [{}, {}]", rule, v, lo, hi);
            }
        }
    }

    #[test]
    fn centered_clipping_moves_at_most_f_tau_over_n_per_step_outside_the_honest_range(
        honest in arb_input(4..10, 1..4, -200_000..=200_000),
        f in 1_u32..3,
        iterations in 1_u32..5,
    ) {
        let dim = honest[0].weights.len();
        let mut input = honest.clone();
        for j in 0..f {
            let peer = honest.iter().map(|o| o.peer).max().unwrap().wrapping_add(1 + j);
            prop_assume!(input.iter().all(|o| o.peer != peer));
            input.push(Owned { peer, weights: vec![q::from_int(5_000); dim], rep: ONE });
        }
        let tau = 0.5;
        let rule = cc(tau, iterations, Center::Own);
        let out = run_with(Pipeline::from(rule), Some(honest[0].peer), 0, &input).unwrap().0;
        let slack = f64::from(iterations) * f64::from(f) * tau / input.len() as f64 + 1e-3;
        for (k, &v) in out.iter().enumerate() {
            let (lo, hi) = honest_range(&honest, k);
            prop_assert!(to_f64(v) >= to_f64(lo) - slack && to_f64(v) <= to_f64(hi) + slack,
                "{} outside [{}, {}] ± {}", v, lo, hi, slack);
        }
    }

    #[test]
    fn geometric_median_stays_near_the_honest_points(
        honest in arb_input(5..10, 1..4, -200_000..=200_000),
        f in 1_usize..3,
    ) {
        // Breakdown bound (Lopuhaä and Rousseeuw 1991, Minsker 2015): with
        // α = f/n < 1/2, ‖GM − z‖ ≤ (2(1 − α)/(1 − 2α))·max_honest ‖x_i − z‖
        // for any z; checked at z = the honest mean, plus 1e-3 slack for the
        // finite iterations and fixed point.
        prop_assume!(2 * f < honest.len());
        let dim = honest[0].weights.len();
        let mut input = honest.clone();
        for j in 0..f {
            let peer = honest.iter().map(|o| o.peer).max().unwrap().wrapping_add(1 + j as u32);
            prop_assume!(input.iter().all(|o| o.peer != peer));
            input.push(Owned { peer, weights: vec![q::from_int(3_000); dim], rep: ONE });
        }
        let out = run(Rule::GeometricMedian(GeometricMedianConfig::default()), &input).unwrap().0;
        let center: Vec<f64> = (0..dim)
            .map(|k| honest.iter().map(|o| to_f64(o.weights[k])).sum::<f64>() / honest.len() as f64)
            .collect();
        let dist = |w: &[Q]| w.iter().zip(&center).map(|(a, c)| (to_f64(*a) - c).powi(2)).sum::<f64>().sqrt();
        let radius = honest.iter().map(|o| dist(&o.weights)).fold(0.0, f64::max);
        let alpha = f as f64 / input.len() as f64;
        let bound = 2.0 * (1.0 - alpha) / (1.0 - 2.0 * alpha) * radius + 1e-3;
        prop_assert!(dist(&out) <= bound, "{} > {}", dist(&out), bound);
    }
}
