#![allow(clippy::float_arithmetic)] // host-side reference checks only

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::reputation::influence_cap;

/// An owned contribution for tests.
#[derive(Clone, Debug)]
struct Owned {
    peer: NodeId,
    weights: Vec<Q>,
    rep: Q,
}

fn owned(peer: NodeId, weights: &[f64], rep: f64) -> Owned {
    Owned {
        peer,
        weights: weights.iter().map(|&w| Q::from_num(w)).collect(),
        rep: Q::from_num(rep),
    }
}

fn view(owned: &[Owned]) -> Vec<Contribution<'_>> {
    owned
        .iter()
        .map(|o| Contribution {
            peer: o.peer,
            weights: &o.weights,
            reputation: o.rep,
        })
        .collect()
}

type Outcome = (Vec<Q>, AggregateStats, Vec<Usage>);

fn run(rule: Rule, input: &[Owned]) -> Result<Outcome, AggregateError> {
    let dim = input.first().map_or(1, |o| o.weights.len());
    let mut out = vec![ZERO; dim];
    let mut scratch = Scratch::new();
    let stats = rule.aggregate(&view(input), &mut scratch, &mut out)?;
    Ok((out, stats, scratch.usage().to_vec()))
}

fn to_f64(x: Q) -> f64 {
    f64::from(x.to_bits()) / 65536.0
}

const TRIM: Rule = Rule::TrimmedMean(TrimConfig { beta_bp: 2_000 });

fn weighted_rule() -> Rule {
    Rule::ReputationWeighted(WeightedConfig::default())
}

fn weighted_trimmed_rule() -> Rule {
    Rule::WeightedTrimmedMean(WeightedTrimConfig::default())
}

fn all_rules() -> [Rule; 9] {
    [
        Rule::Mean,
        TRIM,
        Rule::Median,
        Rule::Krum(KrumConfig::default()),
        Rule::Krum(KrumConfig {
            f: Faults::Count(1),
            m: 3,
            ..KrumConfig::default()
        }),
        weighted_rule(),
        Rule::ReputationWeighted(WeightedConfig {
            exponent: Q::from_num(3.5),
            cap: InfluenceCap::SeedMinCube,
            min_reputation: Q::from_num(0.2),
        }),
        weighted_trimmed_rule(),
        Rule::WeightedTrimmedMean(WeightedTrimConfig {
            trim: TrimConfig { beta_bp: 3_000 },
            weighted: WeightedConfig {
                exponent: Q::from_num(2),
                cap: InfluenceCap::PaperScaledWeight,
                min_reputation: Q::from_num(0.2),
            },
        }),
    ]
}

#[test]
fn mean_is_exact_with_one_rounding() {
    let input = [
        owned(1, &[1.0], 1.0),
        owned(2, &[2.0], 1.0),
        owned(3, &[4.0], 1.0),
    ];
    let (out, stats, usage) = run(Rule::Mean, &input).unwrap();
    // 7/3 · 65536 = 152917.33 → 152917.
    assert_eq!(out[0].to_bits(), 152_917);
    assert_eq!(stats.used, 3);
    assert_eq!(usage[0].share, q::ratio(1, 3));
    // Validation 3·2 + (3 additions + 1 division) · 1 coordinate.
    assert_eq!(stats.ops, 6 + 4);
}

#[test]
fn trimmed_mean_drops_both_ends() {
    let input: Vec<Owned> = [0.0, 1.0, 2.0, 3.0, 100.0]
        .iter()
        .enumerate()
        .map(|(i, &v)| owned(i as NodeId, &[v, -v], 1.0))
        .collect();
    let (out, stats, usage) = run(TRIM, &input).unwrap();
    assert_eq!(out, vec![Q::from_num(2), Q::from_num(-2)]);
    assert_eq!((stats.used, stats.trimmed, stats.values_trimmed), (3, 2, 4));
    assert_eq!(usage[0].status, Status::Trimmed);
    assert_eq!(usage[4].status, Status::Trimmed);
    assert_eq!(usage[2].coords_kept, 2);
    assert_eq!(usage[2].share, q::ratio(1, 3));
    assert_eq!(stats.ops, trimmed_mean_ops(5, 2, 1));
    let beta_half = Rule::TrimmedMean(TrimConfig::new(5_000).unwrap());
    assert_eq!(
        run(beta_half, &input[..4]).unwrap_err(),
        AggregateError::TooFewForTrim { n: 4, trim: 2 }
    );
    assert_eq!(run(beta_half, &input).unwrap().0[0], Q::from_num(2));
    assert_eq!(
        TrimConfig::new(5_001),
        Err(ConfigError::BetaOutOfRange { beta_bp: 5_001 })
    );
}

#[test]
fn trimmed_mean_ties_go_to_lower_peer() {
    // Two equal lowest values: the trimmed one is the lower peer id.
    let input = [
        owned(9, &[1.0], 1.0),
        owned(4, &[1.0], 1.0),
        owned(5, &[2.0], 1.0),
        owned(6, &[3.0], 1.0),
        owned(7, &[9.0], 1.0),
    ];
    let (_, _, usage) = run(TRIM, &input).unwrap();
    assert_eq!(usage[1].status, Status::Trimmed); // peer 4
    assert_eq!(usage[0].status, Status::Used); // peer 9
}

#[test]
fn median_odd_and_even() {
    let input: Vec<Owned> = [5.0, -1.0, 3.0, 8.0]
        .iter()
        .enumerate()
        .map(|(i, &v)| owned(i as NodeId, &[v], 1.0))
        .collect();
    assert_eq!(run(Rule::Median, &input[..3]).unwrap().0[0], Q::from_num(3));
    let (out, stats, _) = run(Rule::Median, &input).unwrap();
    assert_eq!(out[0], Q::from_num(4)); // (3 + 5) / 2
    assert_eq!((stats.used, stats.trimmed), (2, 2));
    // Half an ulp rounds away from zero.
    let odd = [
        Owned {
            peer: 1,
            weights: vec![Q::from_bits(1)],
            rep: ONE,
        },
        Owned {
            peer: 2,
            weights: vec![Q::from_bits(2)],
            rep: ONE,
        },
    ];
    assert_eq!(run(Rule::Median, &odd).unwrap().0[0].to_bits(), 2);
}

#[test]
fn krum_rejects_the_outlier_and_checks_its_condition() {
    let mut input: Vec<Owned> = (0..4)
        .map(|i| owned(i, &[0.1 * f64::from(i), 1.0], 1.0))
        .collect();
    input.push(owned(99, &[100.0, -100.0], 1.0));
    let (_, stats, usage) = run(Rule::Krum(KrumConfig::default()), &input).unwrap();
    assert_eq!((stats.used, stats.not_selected), (1, 4));
    assert_eq!(usage[4].status, Status::NotSelected);
    let multi = Rule::Krum(KrumConfig::new(Faults::Count(1), 4).unwrap());
    let (out, _, usage) = run(multi, &input).unwrap();
    assert_eq!(usage[4].status, Status::NotSelected);
    assert!((to_f64(out[0]) - 0.15).abs() < 1e-4);
    assert_eq!(
        run(Rule::Krum(KrumConfig::default()), &input[..4]).unwrap_err(),
        AggregateError::KrumCondition { n: 4, f: 1 }
    );
    assert_eq!(
        run(
            Rule::Krum(KrumConfig {
                f: Faults::Count(1),
                m: 5,
                ..KrumConfig::default()
            }),
            &input
        )
        .unwrap_err(),
        AggregateError::KrumSelection { m: 5, n: 5, f: 1 }
    );
    assert_eq!(
        KrumConfig::new(Faults::Count(1), 0),
        Err(ConfigError::MultiKrumZero)
    );
}

#[test]
fn krum_ties_select_lowest_peer() {
    let input: Vec<Owned> = [30, 10, 20, 40, 50]
        .iter()
        .map(|&p| owned(p, &[1.0], 1.0))
        .collect();
    let (_, _, usage) = run(Rule::Krum(KrumConfig::default()), &input).unwrap();
    let selected: Vec<NodeId> = usage
        .iter()
        .filter(|u| u.status == Status::Used)
        .map(|u| u.peer)
        .collect();
    assert_eq!(selected, vec![10]);
}

#[test]
fn weighted_shares_follow_reputation_and_caps() {
    // e = 3: weights 1, 1/8, 1/8 → shares 0.8, 0.1, 0.1, exactly at the
    // paper caps 0.8·rep³ = 0.8, 0.1, 0.1.
    let input = [
        owned(1, &[1.0], 1.0),
        owned(2, &[0.0], 0.5),
        owned(3, &[0.0], 0.5),
    ];
    let (out, stats, usage) = run(weighted_rule(), &input).unwrap();
    assert!((to_f64(out[0]) - 0.8).abs() < 1e-4, "{}", out[0]);
    assert!((to_f64(usage[1].share) - 0.1).abs() < 1e-4);
    assert!(stats.capped <= 1);
    // Uncapped with e = 2: weights 1, 1/4, 1/4 → 2/3.
    let e2 = Rule::ReputationWeighted(WeightedConfig {
        exponent: Q::from_num(2),
        cap: InfluenceCap::Uncapped,
        min_reputation: ZERO,
    });
    assert!((to_f64(run(e2, &input).unwrap().0[0]) - 2.0 / 3.0).abs() < 1e-4);
    // Capped with e = 2: shares 2/3, 1/6, 1/6; peers 2 and 3 exceed their
    // 0.1 caps and are held there; peer 1 takes the remaining 0.8 (its cap).
    let e2_capped = Rule::ReputationWeighted(WeightedConfig {
        cap: InfluenceCap::PaperScaledCube,
        ..WeightedConfig::new(Q::from_num(2), InfluenceCap::Uncapped, ZERO).unwrap()
    });
    let (out, stats, _) = run(e2_capped, &input).unwrap();
    assert!((to_f64(out[0]) - 0.8).abs() < 1e-4);
    assert_eq!(stats.capped, 2);
}

#[test]
fn weighted_infeasible_caps_are_renormalized() {
    // Paper caps 0.8·0.5³ = 0.1 each: sum 0.2 < 1 → both capped, shares 1/2.
    let input = [owned(1, &[1.0], 0.5), owned(2, &[3.0], 0.5)];
    let (out, stats, usage) = run(weighted_rule(), &input).unwrap();
    assert_eq!(out[0], Q::from_num(2));
    assert_eq!(stats.capped, 2);
    assert_eq!(usage[0].share, q::ratio(1, 2));
}

#[test]
fn weighted_gate_and_zero_weight() {
    let gated = Rule::ReputationWeighted(WeightedConfig {
        min_reputation: Q::from_num(0.3),
        ..WeightedConfig::default()
    });
    let input = [
        owned(1, &[1.0], 0.9),
        owned(2, &[50.0], 0.25),
        owned(3, &[7.0], 0.0),
    ];
    let (out, stats, usage) = run(gated, &input).unwrap();
    assert_eq!(out[0], ONE);
    assert_eq!(usage[1].status, Status::Gated);
    assert_eq!(usage[2].status, Status::Gated);
    assert_eq!((stats.used, stats.gated), (1, 2));
    let (_, _, usage) = run(weighted_rule(), &input).unwrap();
    assert_eq!(usage[2].status, Status::ZeroWeight);
    assert_eq!(
        run(gated, &input[1..]).unwrap_err(),
        AggregateError::NoWeight { eligible: 0 }
    );
    assert!(matches!(
        WeightedConfig::new(Q::from_num(17), InfluenceCap::Uncapped, ZERO),
        Err(ConfigError::ExponentOutOfRange { .. })
    ));
}

fn weighted_trimmed_with(beta_bp: u32, weighted: WeightedConfig) -> Rule {
    Rule::WeightedTrimmedMean(WeightedTrimConfig {
        trim: TrimConfig { beta_bp },
        weighted,
    })
}

#[test]
fn weighted_trimmed_mean_by_hand() {
    // e = 3, uncapped: weights 1, 1, 1, 1/8, 1 for values 0, 1, 2, 3, 100.
    // β = 0.2, n = 5: t = 1 drops 0 and 100; kept 1, 2, 3 with weights
    // 1, 1, 1/8: (1 + 2 + 3/8) / (2 + 1/8) = 27/17 = 1.588235…
    // Shares in 2^-32 units: ⌊2^48/270336⌋ = 1041204192 and
    // ⌊2^45/270336⌋ = 130150524; the exact quotient is 104086.59 raw → 104087.
    let uncapped = WeightedConfig {
        cap: InfluenceCap::Uncapped,
        ..WeightedConfig::default()
    };
    let rule = weighted_trimmed_with(2_000, uncapped);
    let reps = [1.0, 1.0, 1.0, 0.5, 1.0];
    let input: Vec<Owned> = [0.0, 1.0, 2.0, 3.0, 100.0]
        .iter()
        .zip(reps)
        .enumerate()
        .map(|(i, (&v, rep))| owned(i as NodeId, &[v], rep))
        .collect();
    let (out, stats, usage) = run(rule, &input).unwrap();
    assert_eq!(out[0].to_bits(), 104_087);
    assert_eq!((stats.used, stats.trimmed, stats.values_trimmed), (3, 2, 2));
    assert_eq!(usage[0].status, Status::Trimmed);
    assert_eq!(usage[4].status, Status::Trimmed);
    // Shares of the kept values: 8/17, 8/17, 1/17.
    assert!((to_f64(usage[1].share) - 8.0 / 17.0).abs() < 1e-4);
    assert!((to_f64(usage[3].share) - 1.0 / 17.0).abs() < 1e-4);
    // The unweighted trimmed mean would give 2, the weighted mean 24.6.
    assert_eq!(run(TRIM, &input).unwrap().0[0], Q::from_num(2));
    // Two coordinates trim independently: the second is mirrored, so
    // 0 is kept there with weight 1 and 3 is dropped.
    let two: Vec<Owned> = input
        .iter()
        .map(|o| Owned {
            weights: vec![o.weights[0], -o.weights[0]],
            ..o.clone()
        })
        .collect();
    let (out, stats, _) = run(rule, &two).unwrap();
    assert_eq!(out[0].to_bits(), 104_087);
    assert_eq!(out[1].to_bits(), -104_087);
    assert_eq!(stats.values_trimmed, 4);
}

#[test]
fn weighted_trimmed_mean_gates_before_trimming() {
    // Gate 0.3 removes peer 2 (value 50) before the trim: n_e = 4,
    // t = ⌊0.8⌋ = 0, equal weights 0.9³ → (1 + 2 + 3 + 4)/4 = 2.5. Trimming
    // among all five instead would drop 1 and 50 and give 3.
    let gated = WeightedConfig {
        min_reputation: Q::from_num(0.3),
        cap: InfluenceCap::Uncapped,
        ..WeightedConfig::default()
    };
    let input = [
        owned(1, &[1.0], 0.9),
        owned(2, &[50.0], 0.25),
        owned(3, &[2.0], 0.9),
        owned(4, &[3.0], 0.9),
        owned(5, &[4.0], 0.9),
    ];
    let (out, stats, usage) = run(weighted_trimmed_with(2_000, gated), &input).unwrap();
    assert_eq!(out[0], Q::from_num(2.5));
    assert_eq!(usage[1].status, Status::Gated);
    assert_eq!((stats.used, stats.gated, stats.values_trimmed), (4, 1, 0));
}

#[test]
fn weighted_trimmed_mean_fallbacks() {
    // β = 0.5 with n = 4: t = 2 leaves nothing, so nothing is trimmed and
    // the result is the reputation-weighted mean, bit for bit.
    let input = [
        owned(1, &[1.0, -3.0], 0.9),
        owned(2, &[2.0, 0.5], 0.6),
        owned(3, &[7.0, 0.25], 0.7),
        owned(4, &[-4.0, 9.0], 1.0),
    ];
    let config = WeightedConfig::default();
    let (out, stats, _) = run(weighted_trimmed_with(5_000, config), &input).unwrap();
    let (weighted_out, _, _) = run(Rule::ReputationWeighted(config), &input).unwrap();
    assert_eq!(out, weighted_out);
    assert_eq!(stats.values_trimmed, 0);
    // Kept values all of weight 0 (reputation 0): their plain mean, 2;
    // the weighted mean of everything would be 50 (peers 0 and 4 only).
    let zero_kept: Vec<Owned> = [(0.0, 1.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (100.0, 1.0)]
        .iter()
        .enumerate()
        .map(|(i, &(v, rep))| owned(i as NodeId, &[v], rep))
        .collect();
    let (out, _, usage) = run(weighted_trimmed_rule(), &zero_kept).unwrap();
    assert_eq!(out[0], Q::from_num(2));
    assert_eq!(usage[2].status, Status::Used);
    assert_eq!(usage[2].share, q::ratio(1, 3));
    assert_eq!(usage[4].status, Status::Trimmed);
    // No weight anywhere: an error, as for the weighted mean.
    let nothing: Vec<Owned> = (0..5).map(|i| owned(i, &[1.0], 0.0)).collect();
    assert_eq!(
        run(weighted_trimmed_rule(), &nothing).unwrap_err(),
        AggregateError::NoWeight { eligible: 5 }
    );
}

#[test]
fn the_three_influence_caps_differ_at_rep_0_9() {
    // e = 2 (Rule 4 below 20 nodes). Peer 1 (rep 0.9) says 1, peers 2 and
    // 3 (rep 0.6) say 0; weights 0.81, 0.36, 0.36.
    // * share ≤ 0.8·rep³: caps 0.5832, 0.1728, 0.1728; 2 and 3 are capped,
    //   then 1 (0.6544 > 0.5832): all capped, Σ 0.9288 < 1, renormalized:
    //   0.5832 / 0.9288 = 0.6279.
    // * share ≤ min(rep³, 0.8): caps 0.729, 0.216, 0.216; 2 and 3 capped,
    //   1 takes 1 − 0.432 = 0.568.
    // * weight 0.8·rep²: 0.648, 0.288, 0.288, no share cap: 0.81/1.53 =
    //   0.5294, as uncapped (the common 0.8 cancels).
    let input = [
        owned(1, &[1.0], 0.9),
        owned(2, &[0.0], 0.6),
        owned(3, &[0.0], 0.6),
    ];
    let with_cap = |cap| {
        let rule = Rule::ReputationWeighted(WeightedConfig {
            exponent: Q::from_num(2),
            cap,
            min_reputation: ZERO,
        });
        to_f64(run(rule, &input).unwrap().0[0])
    };
    let share_cap = with_cap(InfluenceCap::PaperScaledCube);
    let seed_cap = with_cap(InfluenceCap::SeedMinCube);
    let weight_cap = with_cap(InfluenceCap::PaperScaledWeight);
    let uncapped = with_cap(InfluenceCap::Uncapped);
    // Q16.16 reputations: 0.9 and 0.6 are 58982 and 39321 raw.
    assert!((share_cap - 0.5832 / 0.9288).abs() < 1e-3, "{share_cap}");
    assert!((seed_cap - 0.568).abs() < 1e-3, "{seed_cap}");
    assert!((weight_cap - 0.81 / 1.53).abs() < 1e-3, "{weight_cap}");
    assert!((weight_cap - uncapped).abs() < 3.0 / 65536.0);
    assert!(share_cap - seed_cap > 0.05 && seed_cap - weight_cap > 0.03);
}

#[test]
fn bad_input_is_rejected_and_out_untouched() {
    let mut scratch = Scratch::new();
    let sentinel = [Q::from_num(42); 2];
    let a = [ONE, ONE];
    let short = [ONE];
    let cases: [(Vec<Contribution<'_>>, AggregateError); 4] = [
        (vec![], AggregateError::Empty),
        (
            vec![
                Contribution {
                    peer: 1,
                    weights: &a,
                    reputation: ONE,
                },
                Contribution {
                    peer: 2,
                    weights: &short,
                    reputation: ONE,
                },
            ],
            AggregateError::DimensionMismatch {
                peer: 2,
                expected: 2,
                found: 1,
            },
        ),
        (
            vec![
                Contribution {
                    peer: 3,
                    weights: &a,
                    reputation: ONE,
                },
                Contribution {
                    peer: 3,
                    weights: &a,
                    reputation: ONE,
                },
            ],
            AggregateError::DuplicatePeer { peer: 3 },
        ),
        (
            vec![Contribution {
                peer: 4,
                weights: &a,
                reputation: Q::from_num(1.5),
            }],
            AggregateError::ReputationOutOfRange { peer: 4 },
        ),
    ];
    for (input, expected) in cases {
        for rule in all_rules() {
            let mut out = sentinel;
            assert_eq!(
                rule.aggregate(&input, &mut scratch, &mut out),
                Err(expected)
            );
            assert_eq!(out, sentinel);
        }
    }
    let mut empty: [Q; 0] = [];
    let one = [Contribution {
        peer: 1,
        weights: &[],
        reputation: ONE,
    }];
    assert_eq!(
        Rule::Mean.aggregate(&one, &mut scratch, &mut empty),
        Err(AggregateError::DimensionOutOfRange { dim: 0 })
    );
    let text = alloc::format!("{}", AggregateError::KrumCondition { n: 4, f: 1 });
    assert!(text.contains("2f + 3"));
}

#[test]
fn scratch_does_not_grow_at_steady_state() {
    let input: Vec<Owned> = (0..12)
        .map(|i| owned(i, &[f64::from(i), 1.0, -2.0], 0.5 + 0.04 * f64::from(i)))
        .collect();
    let contributions = view(&input);
    let mut scratch = Scratch::with_capacity(12);
    let mut out = [ZERO; 3];
    let snapshot = |s: &Scratch| {
        (
            s.order.as_ptr(),
            s.usage.as_ptr(),
            s.column.as_ptr(),
            s.distances.as_ptr(),
            s.row.as_ptr(),
            s.scores.as_ptr(),
            s.weights.as_ptr(),
            s.shares.as_ptr(),
            s.influence.as_ptr(),
        )
    };
    let before = snapshot(&scratch);
    for _ in 0..3 {
        for rule in all_rules() {
            rule.aggregate(&contributions, &mut scratch, &mut out)
                .unwrap();
        }
    }
    assert_eq!(snapshot(&scratch), before);
}

fn converging_input(value: f64) -> Vec<Owned> {
    (0..10)
        .map(|i| owned(i, &[value, value + 0.001 * f64::from(i), 0.5, -0.5], 0.9))
        .collect()
}

#[test]
fn adaptive_matures_after_streak_and_falls_back() {
    let mut agg = AdaptiveAggregator::new(AdaptiveConfig::default(), 4).unwrap();
    let mut scratch = Scratch::new();
    let mut out = [ZERO; 4];
    let input = converging_input(1.0);
    let contributions = view(&input);
    // Round 1 has no predecessor; rounds 2..=31 change by 0: 30 converged.
    for round in 1..=31 {
        assert_eq!(agg.phase(), Phase::Young, "round {round}");
        agg.aggregate(&contributions, &mut scratch, &mut out)
            .unwrap();
    }
    assert_eq!(agg.converged_streak(), 30);
    assert_eq!(agg.phase(), Phase::Mature);
    agg.aggregate(&contributions, &mut scratch, &mut out)
        .unwrap();
    assert_eq!(agg.stats().rounds_mature, 1);
    assert!(agg.stats().ops_saved() > 0);
    // A jump above ε: young again from the next round.
    let jumped = converging_input(1.5);
    agg.aggregate(&view(&jumped), &mut scratch, &mut out)
        .unwrap();
    assert_eq!(agg.phase(), Phase::Young);
    assert_eq!(agg.converged_streak(), 0);
    let stats = agg.stats();
    assert_eq!(
        (stats.rounds, stats.rounds_young, stats.rounds_mature),
        (33, 31, 2)
    );
    assert_eq!(stats.switches, 2);
    let mut wrong = [ZERO; 3];
    assert_eq!(
        agg.aggregate(&contributions, &mut scratch, &mut wrong),
        Err(AggregateError::OutputDimension {
            expected: 4,
            found: 3
        })
    );
}

#[test]
fn adaptive_seed_rule_needs_few_bans_in_a_huge_swarm() {
    let config = AdaptiveConfig {
        maturity: Maturity::SEED,
        ..AdaptiveConfig::default()
    };
    let mut agg = AdaptiveAggregator::new(config, 4).unwrap();
    let cases = [
        (100, 0, Phase::Young),
        (100, 2, Phase::Young),
        (100, 3, Phase::Young), // 3 % > 1 %
        (300, 3, Phase::Mature),
        (1000, 10, Phase::Mature),
        (1000, 11, Phase::Young),
        (100, 25, Phase::Young), // a 25 %-Byzantine swarm, all banned: never mature
    ];
    for (peers, banned, phase) in cases {
        agg.set_swarm_status(SwarmStatus { peers, banned });
        assert_eq!(agg.phase(), phase, "{peers} peers, {banned} banned");
    }
    let bad = AdaptiveConfig {
        maturity: Maturity::Convergence {
            epsilon: ZERO,
            mature_rounds: 0,
        },
        ..AdaptiveConfig::default()
    };
    assert_eq!(
        AdaptiveAggregator::new(bad, 4).unwrap_err(),
        ConfigError::MatureRoundsZero
    );
}

// ---------------------------------------------------------------- proptests

/// `n` contributions with distinct peers, values of the given raw range.
fn arb_input(
    n: core::ops::Range<usize>,
    dim: core::ops::Range<usize>,
    raw: core::ops::RangeInclusive<i32>,
) -> impl Strategy<Value = Vec<Owned>> {
    (n, dim).prop_flat_map(move |(n, dim)| {
        let peers = prop::collection::btree_set(any::<u32>(), n);
        let rows =
            prop::collection::vec((prop::collection::vec(raw.clone(), dim), 0..=65_536_i32), n);
        (peers, rows).prop_map(|(peers, rows)| {
            peers
                .into_iter()
                .zip(rows)
                .map(|(peer, (w, rep))| Owned {
                    peer,
                    weights: w.into_iter().map(Q::from_bits).collect(),
                    rep: Q::from_bits(rep),
                })
                .collect()
        })
    })
}

fn sorted_usage(mut usage: Vec<Usage>) -> Vec<Usage> {
    usage.sort_by_key(|u| u.peer);
    usage
}

/// Per coordinate honest `[min, max]`.
fn honest_range(honest: &[Owned], k: usize) -> (Q, Q) {
    let values = honest.iter().map(|o| o.weights[k]);
    (values.clone().min().unwrap(), values.max().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_rule_is_permutation_invariant(
        (input, shuffled) in arb_input(5..11, 1..4, i32::MIN..=i32::MAX)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        for rule in all_rules() {
            let a = run(rule, &input);
            let b = run(rule, &shuffled);
            match (a, b) {
                (Ok((oa, sa, ua)), Ok((ob, sb, ub))) => {
                    prop_assert_eq!(oa, ob);
                    prop_assert_eq!(sa, sb);
                    prop_assert_eq!(sorted_usage(ua), sorted_usage(ub));
                }
                (a, b) => prop_assert_eq!(a.err(), b.err()),
            }
        }
    }

    #[test]
    fn identical_vectors_aggregate_to_themselves(
        input in arb_input(5..11, 1..4, i32::MIN..=i32::MAX)
    ) {
        let weights = input[0].weights.clone();
        let same: Vec<Owned> = input
            .iter()
            .map(|o| Owned { peer: o.peer, weights: weights.clone(), rep: o.rep.max(q::ratio(1, 4)) })
            .collect();
        for rule in all_rules() {
            prop_assert_eq!(&run(rule, &same).unwrap().0, &weights, "{:?}", rule);
        }
    }

    #[test]
    fn trimmed_mean_and_median_stay_in_honest_range(
        honest in arb_input(3..12, 1..4, -200_000..=200_000),
        attackers in prop::collection::vec(prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()], 0..6),
    ) {
        let n_total = honest.len() + attackers.len();
        let trim = TrimConfig::default().trim(n_total);
        let dim = honest[0].weights.len();
        let mut input = honest.clone();
        for (j, &raw) in attackers.iter().enumerate() {
            let peer = honest.iter().map(|o| o.peer).max().unwrap_or(0).wrapping_add(1 + j as u32);
            prop_assume!(input.iter().all(|o| o.peer != peer));
            input.push(Owned { peer, weights: vec![Q::from_bits(raw); dim], rep: ONE });
        }
        if attackers.len() <= trim {
            let out = run(TRIM, &input).unwrap().0;
            for (k, &v) in out.iter().enumerate() {
                let (lo, hi) = honest_range(&honest, k);
                prop_assert!(lo <= v && v <= hi, "trimmed {v} outside [{lo}, {hi}]");
            }
        }
        if 2 * attackers.len() < n_total {
            let out = run(Rule::Median, &input).unwrap().0;
            for (k, &v) in out.iter().enumerate() {
                let (lo, hi) = honest_range(&honest, k);
                prop_assert!(lo <= v && v <= hi, "median {v} outside [{lo}, {hi}]");
            }
        }
    }

    #[test]
    fn weighted_trimmed_mean_stays_in_honest_range(
        honest in arb_input(3..12, 1..4, -200_000..=200_000),
        attackers in prop::collection::vec(prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()], 0..6),
        rule in prop_oneof![Just(weighted_trimmed_rule()), Just(weighted_trimmed_with(3_000, WeightedConfig {
            exponent: Q::from_num(3.5),
            cap: InfluenceCap::SeedMinCube,
            min_reputation: ZERO,
        }))],
    ) {
        let Rule::WeightedTrimmedMean(config) = rule else { unreachable!() };
        let n_total = honest.len() + attackers.len();
        let dim = honest[0].weights.len();
        let mut input = honest.clone();
        for (j, &raw) in attackers.iter().enumerate() {
            let peer = honest.iter().map(|o| o.peer).max().unwrap_or(0).wrapping_add(1 + j as u32);
            prop_assume!(input.iter().all(|o| o.peer != peer));
            // Attackers at full reputation: the largest weight there is.
            input.push(Owned { peer, weights: vec![Q::from_bits(raw); dim], rep: ONE });
        }
        prop_assume!(attackers.len() <= config.trim.trim(n_total));
        match run(rule, &input) {
            Ok((out, _, _)) => {
                for (k, &v) in out.iter().enumerate() {
                    let (lo, hi) = honest_range(&honest, k);
                    prop_assert!(lo <= v && v <= hi, "weighted trimmed {v} outside [{lo}, {hi}]");
                }
            }
            Err(e) => prop_assert!(matches!(e, AggregateError::NoWeight { .. }), "{e:?}"),
        }
    }

    #[test]
    fn krum_selects_an_honest_vector(
        honest in arb_input(5..10, 1..4, -65_536..=65_536),
        f in 0_u32..3,
        shift in prop_oneof![Just(1_000_i32), Just(-1_000)],
    ) {
        // n = honest + f attackers ≥ 2f + 3 because honest ≥ 5 > f + 3.
        let dim = honest[0].weights.len();
        let mut input = honest.clone();
        for j in 0..f {
            let peer = honest.iter().map(|o| o.peer).min().unwrap().wrapping_sub(1 + j);
            prop_assume!(input.iter().all(|o| o.peer != peer));
            let value = q::from_int(shift + j as i32);
            input.push(Owned { peer, weights: vec![value; dim], rep: ONE });
        }
        let m = 1 + f % 2;
        let (_, _, usage) = run(Rule::Krum(KrumConfig { f: Faults::Count(f), m, ..KrumConfig::default() }), &input).unwrap();
        for u in usage.iter().filter(|u| u.status == Status::Used) {
            prop_assert!(honest.iter().any(|o| o.peer == u.peer), "attacker {} selected", u.peer);
        }
    }

    #[test]
    fn weighted_shares_respect_feasible_caps(
        input in arb_input(2..12, 1..3, -65_536..=65_536),
        seed_cap in any::<bool>(),
        exponent in prop_oneof![Just(2.0), Just(3.0), Just(3.5)],
    ) {
        let cap = if seed_cap { InfluenceCap::SeedMinCube } else { InfluenceCap::PaperScaledCube };
        let caps: Vec<Q> = input.iter().map(|o| influence_cap(o.rep, cap)).collect();
        let cap_sum: i64 = caps.iter().map(|c| i64::from(c.to_bits())).sum();
        let rule = Rule::ReputationWeighted(WeightedConfig {
            exponent: Q::from_num(exponent),
            cap,
            min_reputation: ZERO,
        });
        let Ok((_, _, usage)) = run(rule, &input) else { return Ok(()) };
        let total: i64 = usage.iter().map(|u| i64::from(u.share.to_bits())).sum();
        prop_assert!((65_536 - input.len() as i64..=65_536).contains(&total));
        if cap_sum >= 65_536 + input.len() as i64 {
            for (u, c) in usage.iter().zip(caps.iter()) {
                prop_assert!(u.share.to_bits() <= c.to_bits() + 1, "share {} > cap {}", u.share, c);
            }
        }
    }
}

mod robust;
