//! Tests of the dataset module (sim/src/dataset/*).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;

const ULP: f64 = 1.0 / 65_536.0;

fn to_f64(q: Q) -> f64 {
    f64::from(q.to_bits()) * ULP
}

fn setup(nodes: u32, seed: u64, positions: &[(f64, f64)]) -> Setup<'_> {
    Setup {
        nodes,
        seed,
        sample_period_us: 1_000_000,
        positions,
        base_dir: Path::new("."),
    }
}

fn sine(config: SmoothSineConfig, nodes: u32, seed: u64) -> Dataset {
    Dataset::new(&DatasetConfig::SmoothSine(config), &setup(nodes, seed, &[])).unwrap()
}

fn parse(toml_text: &str) -> Result<DatasetConfig, toml::de::Error> {
    #[derive(Deserialize)]
    struct Doc {
        dataset: DatasetConfig,
    }
    toml::from_str::<Doc>(toml_text).map(|d| d.dataset)
}

fn violation_keys(config: &DatasetConfig) -> Vec<String> {
    let mut v = Validator::new();
    v.section("dataset", |v| config.validate(v));
    v.into_violations().into_iter().map(|x| x.key).collect()
}

/// Sample standard deviation of observed − clean.
fn noise_std_of(samples: &[Sample]) -> f64 {
    let n = samples.len() as f64;
    let residuals: Vec<f64> = samples
        .iter()
        .map(|s| to_f64(s.observed) - to_f64(s.clean))
        .collect();
    let mean = residuals.iter().sum::<f64>() / n;
    (residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

#[test]
fn same_seed_same_samples_different_seed_differs() {
    let run = |seed| {
        let d = sine(SmoothSineConfig::default(), 8, seed);
        (0..8)
            .flat_map(|n| (0..1000).map(move |k| (n, k)))
            .map(|(n, k)| d.sample(n, k))
            .collect::<Vec<_>>()
    };
    let a = run(42);
    assert_eq!(a, run(42));
    let b = run(43);
    assert_ne!(a, b);
    assert!(a.iter().zip(&b).filter(|(x, y)| x != y).count() > 7_000);
}

#[test]
fn fill_matches_sample_and_order_does_not_matter() {
    let d = sine(SmoothSineConfig::default(), 3, 5);
    let mut out = [Sample::default(); 300];
    d.fill(2, 1_000, &mut out);
    for (i, s) in out.iter().enumerate().rev() {
        assert_eq!(*s, d.sample(2, 1_000 + i as u64));
    }
}

#[test]
fn pinned_first_samples() {
    // Changing these values changes every run: do it only on purpose.
    let d = sine(SmoothSineConfig::default(), 2, 1);
    let got: Vec<i32> = (0..4).map(|k| d.sample(1, k).observed.to_bits()).collect();
    let again: Vec<i32> = (0..4)
        .map(|k| {
            sine(SmoothSineConfig::default(), 2, 1)
                .sample(1, k)
                .observed
                .to_bits()
        })
        .collect();
    assert_eq!(got, again);
    let p = d.sine_params(0).unwrap();
    assert_eq!(std::mem::size_of_val(&p), 12);
}

#[test]
fn clean_sine_matches_its_parameters() {
    let d = sine(SmoothSineConfig::default(), 16, 7);
    for node in 0..16 {
        let p = d.sine_params(node).unwrap();
        for k in [0_u64, 1, 17, 1_000, 123_456_789] {
            let turns =
                f64::from(p.phase.wrapping_add(p.step.wrapping_mul(k as u32))) / 4_294_967_296.0;
            let amplitude = f64::from(p.amplitude_raw) * ULP;
            let exact = amplitude * (std::f64::consts::TAU * turns).sin();
            let bound = amplitude * sine::SIN_MAX_ERROR + ULP / 2.0;
            assert!(
                (to_f64(d.clean(node, k)) - exact).abs() <= bound + 1e-12,
                "node {node} k {k}"
            );
        }
    }
}

#[test]
fn per_node_parameters_stay_within_their_spread() {
    let config = SmoothSineConfig {
        amplitude: 2.0,
        amplitude_spread: 0.25,
        period_samples: 40.0,
        period_spread: 0.5,
        phase_spread: 0.25,
        ..SmoothSineConfig::default()
    };
    let d = sine(config, 2_000, 3);
    let (mut a_lo, mut a_hi, mut p_lo, mut p_hi, mut ph_hi) =
        (f64::MAX, 0.0_f64, f64::MAX, 0.0_f64, 0_u32);
    for node in 0..2_000 {
        let p = d.sine_params(node).unwrap();
        let a = f64::from(p.amplitude_raw) * ULP;
        a_lo = a_lo.min(a);
        a_hi = a_hi.max(a);
        p_lo = p_lo.min(p.period_samples());
        p_hi = p_hi.max(p.period_samples());
        ph_hi = ph_hi.max(p.phase);
    }
    assert!(
        a_lo >= 1.5 - ULP && a_hi <= 2.5 + ULP,
        "amplitude {a_lo}..{a_hi}"
    );
    assert!(a_lo < 1.55 && a_hi > 2.45, "amplitude spread not covered");
    assert!(
        p_lo >= 20.0 - 1e-6 && p_hi <= 60.0 + 1e-6,
        "period {p_lo}..{p_hi}"
    );
    assert!(p_lo < 21.0 && p_hi > 59.0, "period spread not covered");
    assert!(
        ph_hi < 1 << 30 && ph_hi > (1 << 30) - (1 << 24),
        "phase max {ph_hi}"
    );
}

#[test]
fn zero_spread_gives_identical_nodes() {
    let config = SmoothSineConfig {
        amplitude_spread: 0.0,
        period_spread: 0.0,
        phase_spread: 0.0,
        ..SmoothSineConfig::default()
    };
    let d = sine(config, 4, 9);
    let p = d.sine_params(0).unwrap();
    assert_eq!(
        p,
        SineParams {
            amplitude_raw: 65_536,
            phase: 0,
            step: 1 << 26
        }
    );
    assert_eq!(d.sine_params(3), Some(p));
}

#[test]
fn noise_std_and_mean_match_the_configuration() {
    for std in [0.05, 0.5] {
        let d = sine(
            SmoothSineConfig {
                noise_std: std,
                ..SmoothSineConfig::default()
            },
            4,
            11,
        );
        let mut all = Vec::new();
        let mut out = vec![Sample::default(); 25_000];
        for node in 0..4 {
            d.fill(node, 0, &mut out);
            all.extend_from_slice(&out);
        }
        let got = noise_std_of(&all);
        // Relative standard error ≈ 1/√(2·10^5) ≈ 0.2%; the tolerance is 10×.
        assert!((got / std - 1.0).abs() < 0.02, "std {std}: measured {got}");
        let mean: f64 = all
            .iter()
            .map(|s| to_f64(s.observed) - to_f64(s.clean))
            .sum::<f64>()
            / all.len() as f64;
        assert!(mean.abs() < 0.01 * std, "mean {mean}");
        let max = all
            .iter()
            .map(|s| (to_f64(s.observed) - to_f64(s.clean)).abs())
            .fold(0.0, f64::max);
        assert!(max <= 3.47 * std, "Irwin–Hall bound: {max}");
    }
}

#[test]
fn zero_noise_gives_clean_samples() {
    let d = sine(
        SmoothSineConfig {
            noise_std: 0.0,
            ..SmoothSineConfig::default()
        },
        2,
        1,
    );
    assert!((0..100).all(|k| d.sample(1, k).observed == d.sample(1, k).clean));
}

fn grid_positions(side: u32) -> Vec<(f64, f64)> {
    (0..side * side)
        .map(|i| {
            (
                (f64::from(i % side) + 0.5) / f64::from(side),
                (f64::from(i / side) + 0.5) / f64::from(side),
            )
        })
        .collect()
}

#[test]
fn storms_raise_noise_only_inside_window_and_region() {
    let positions = grid_positions(10);
    let storm = StormConfig {
        start_s: 100.0,
        end_s: 200.5, // samples 100..=200 at 1 s per sample
        region: Some([0.0, 0.0, 0.5, 0.5]),
        noise_std: 0.5,
        ..StormConfig::default()
    };
    let calm_config = SmoothSineConfig::default();
    let stormy_config = SmoothSineConfig {
        storms: vec![storm],
        ..SmoothSineConfig::default()
    };
    let make = |c: &SmoothSineConfig| {
        Dataset::new(
            &DatasetConfig::SmoothSine(c.clone()),
            &setup(100, 2, &positions),
        )
        .unwrap()
    };
    let (calm, stormy) = (make(&calm_config), make(&stormy_config));
    let mut inside = Vec::new();
    for node in 0..100 {
        let (x, y) = positions[node as usize];
        let in_region = x <= 0.5 && y <= 0.5;
        for k in 0..300 {
            let (a, b) = (calm.sample(node, k), stormy.sample(node, k));
            if in_region && (100..=200).contains(&k) {
                inside.push(b);
            } else {
                assert_eq!(a, b, "node {node} k {k}: storm leaked");
            }
        }
    }
    assert_eq!(inside.len(), 25 * 101);
    let got = noise_std_of(&inside);
    assert!((got / 0.5 - 1.0).abs() < 0.06, "storm std {got}");
}

#[test]
fn storm_node_selectors_and_overlap_take_the_largest() {
    let storms = vec![
        StormConfig {
            start_s: 0.0,
            end_s: 10.0,
            nodes: Some(vec![1, 3]),
            noise_std: 0.2,
            ..StormConfig::default()
        },
        StormConfig {
            start_s: 5.0,
            end_s: 20.0,
            node_range: Some([3, 5]),
            noise_std: 0.9,
            ..StormConfig::default()
        },
    ];
    let base = SmoothSineConfig {
        noise_std: 0.1,
        storms: vec![],
        ..SmoothSineConfig::default()
    };
    let calm = sine(base.clone(), 6, 4);
    let stormy = sine(SmoothSineConfig { storms, ..base }, 6, 4);
    let ratio = |node, k| {
        let (a, b) = (calm.sample(node, k), stormy.sample(node, k));
        let (na, nb) = (
            a.observed.to_bits() - a.clean.to_bits(),
            b.observed.to_bits() - b.clean.to_bits(),
        );
        if na == 0 {
            None
        } else {
            Some(f64::from(nb) / f64::from(na))
        }
    };
    let near = |r: Option<f64>, want: f64| r.is_none_or(|r| (r - want).abs() < 0.05);
    assert!(near(ratio(1, 2), 2.0));
    assert!(near(ratio(1, 12), 1.0));
    assert!(near(ratio(3, 2), 2.0));
    assert!(near(ratio(3, 7), 9.0)); // both storms: the larger wins
    assert!(near(ratio(4, 15), 9.0));
    assert!(near(ratio(5, 7), 1.0));
    assert!(near(ratio(0, 7), 1.0));
}

#[test]
fn storm_errors_at_construction() {
    let bad_node = StormConfig {
        end_s: 1.0,
        nodes: Some(vec![6]),
        ..StormConfig::default()
    };
    let c = DatasetConfig::SmoothSine(SmoothSineConfig {
        storms: vec![bad_node],
        ..SmoothSineConfig::default()
    });
    let err = Dataset::new(&c, &setup(6, 1, &[])).unwrap_err();
    assert_eq!(
        err,
        DatasetError::StormNode {
            storm: 0,
            node: 6,
            nodes: 6
        }
    );
    let region = StormConfig {
        end_s: 1.0,
        region: Some([0.0, 0.0, 1.0, 1.0]),
        ..StormConfig::default()
    };
    let c = DatasetConfig::SmoothSine(SmoothSineConfig {
        storms: vec![region],
        ..SmoothSineConfig::default()
    });
    let err = Dataset::new(&c, &setup(6, 1, &[])).unwrap_err();
    assert!(err.to_string().contains("storms[0].region"), "{err}");
}

#[test]
fn storm_window_follows_the_sample_period() {
    let c = StormConfig {
        start_s: 0.25,
        end_s: 1.0,
        node_range: Some([0, 1]),
        ..StormConfig::default()
    };
    // 100 ms per sample: samples at 0.3 s … 0.9 s are inside (indices 3..10).
    assert_eq!(
        storm::Storm::new(0, &c, 1, &[], 100_000).unwrap().window(),
        (3, 10)
    );
    let c = StormConfig { start_s: 0.2, ..c };
    assert_eq!(
        storm::Storm::new(0, &c, 1, &[], 100_000).unwrap().window(),
        (2, 10)
    );
}

#[test]
fn toml_kind_tag_defaults_and_unknown_keys() {
    let c = parse("[dataset]\nkind = \"smooth_sine\"\nperiod_samples = 32\n").unwrap();
    assert_eq!(
        c,
        DatasetConfig::SmoothSine(SmoothSineConfig {
            period_samples: 32.0,
            ..SmoothSineConfig::default()
        })
    );
    let c = parse("[dataset]\nkind = \"ucr\"\npath = \"Wafer/Wafer_TRAIN.tsv\"\n").unwrap();
    assert_eq!(
        c,
        DatasetConfig::Ucr(UcrConfig {
            path: "Wafer/Wafer_TRAIN.tsv".into(),
            ..UcrConfig::default()
        })
    );
    let e = parse("[dataset]\nkind = \"smooth_sine\"\namplitdue = 2.0\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `amplitdue`"), "{e}");
    let e = parse("[dataset]\nkind = \"ucr\"\npath = \"x\"\nperiod_samples = 3\n").unwrap_err();
    assert!(
        e.to_string().contains("unknown field `period_samples`"),
        "{e}"
    );
    let e = parse("[dataset]\nkind = \"sawtooth\"\n").unwrap_err();
    assert!(e.to_string().contains("unknown variant `sawtooth`"), "{e}");
    let e = parse("[dataset]\nnoise_std = 0.1\n").unwrap_err();
    assert!(e.to_string().contains("missing field `kind`"), "{e}");
}

#[test]
fn toml_storms_parse_and_reject_unknown_keys() {
    let text = "[dataset]\nkind = \"smooth_sine\"\n\n[[dataset.storms]]\nstart_s = 10\nend_s = 20\nregion = [0.1, 0.1, 0.4, 0.5]\nnoise_std = 0.3\n\n[[dataset.storms]]\nend_s = 5.0\nnodes = [1, 2]\n";
    let c = parse(text).unwrap();
    assert_eq!(c.storms().len(), 2);
    assert_eq!(c.storms()[0].region, Some([0.1, 0.1, 0.4, 0.5]));
    assert_eq!(c.storms()[1].nodes, Some(vec![1, 2]));
    assert!(violation_keys(&c).is_empty());
    let e = parse("[dataset]\nkind = \"ucr\"\npath = \"x\"\n[[dataset.storms]]\nend_s = 1\nnode_range = [0, 2]\nstd = 1\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `std`"), "{e}");
}

#[test]
fn validation_names_the_offending_keys() {
    assert!(violation_keys(&DatasetConfig::default()).is_empty());
    let bad = SmoothSineConfig {
        amplitude: 0.0,
        amplitude_spread: 1.5,
        period_samples: 1.0,
        period_spread: 0.0,
        phase_spread: -0.1,
        noise_std: f64::NAN,
        storms: vec![],
    };
    let keys = violation_keys(&DatasetConfig::SmoothSine(bad));
    let want = [
        "amplitude",
        "amplitude_spread",
        "period_samples",
        "period_spread",
        "phase_spread",
        "noise_std",
    ];
    assert_eq!(keys, want.map(|k| format!("dataset.{k}")));
    let nyquist = SmoothSineConfig {
        period_samples: 3.0,
        period_spread: 0.5,
        ..SmoothSineConfig::default()
    };
    assert_eq!(
        violation_keys(&DatasetConfig::SmoothSine(nyquist)),
        ["dataset.period_spread"]
    );
}

#[test]
fn storm_validation_rules() {
    let storms = vec![
        StormConfig {
            start_s: 5.0,
            end_s: 5.0,
            nodes: Some(vec![0]),
            ..StormConfig::default()
        },
        StormConfig {
            end_s: 1.0,
            ..StormConfig::default()
        },
        StormConfig {
            end_s: 1.0,
            nodes: Some(vec![]),
            region: Some([0.0, 0.0, 1.0, 1.0]),
            ..StormConfig::default()
        },
        StormConfig {
            end_s: 1.0,
            region: Some([0.5, 0.0, 1.2, 1.0]),
            noise_std: -1.0,
            ..StormConfig::default()
        },
        StormConfig {
            end_s: 1.0,
            region: Some([0.5, 0.5, 0.4, 1.0]),
            ..StormConfig::default()
        },
        StormConfig {
            end_s: 1.0,
            node_range: Some([3, 3]),
            ..StormConfig::default()
        },
        StormConfig {
            start_s: -1.0,
            end_s: 1.0,
            node_range: Some([0, 3]),
            ..StormConfig::default()
        },
    ];
    let c = DatasetConfig::Ucr(UcrConfig {
        path: "x.tsv".into(),
        storms,
        ..UcrConfig::default()
    });
    let keys = violation_keys(&c);
    let want = [
        "storms[0].end_s",
        "storms[1].nodes",
        "storms[2].nodes",
        "storms[2].nodes",
        "storms[3].noise_std",
        "storms[3].region",
        "storms[4].region",
        "storms[5].node_range",
        "storms[6].start_s",
    ];
    assert_eq!(keys, want.map(|k| format!("dataset.{k}")));
    let mut v = Validator::new();
    c.validate(&mut v);
    let found = v.into_violations();
    assert_eq!(
        found[2].expected,
        "exactly one of `nodes`, `node_range`, `region`"
    );
    assert_eq!(found[2].found, "nodes, region");
}

#[test]
fn ucr_validation_rules() {
    let bad = UcrConfig {
        path: " ".into(),
        data_dir: String::new(),
        series_per_node: 0,
        noise_std: 101.0,
        ..UcrConfig::default()
    };
    let keys = violation_keys(&DatasetConfig::Ucr(bad));
    let want = ["path", "data_dir", "series_per_node", "noise_std"];
    assert_eq!(keys, want.map(|k| format!("dataset.{k}")));
}

// ---- UCR parsing -------------------------------------------------------

#[test]
fn ucr_parses_labels_and_values_tolerating_whitespace() {
    let text = "1\t0.5\t-1.25\t2\n\n-1\t1e-1\t0\t-0.0  \t\r\n 2 \t 3\t4\t5\t\n";
    let t = UcrTable::parse(text, "inline").unwrap();
    assert_eq!((t.count(), t.length()), (3, 3));
    assert_eq!([t.label(0), t.label(1), t.label(2)], [1, -1, 2]);
    assert_eq!(
        t.series(0),
        [Q::from_num(0.5), Q::from_num(-1.25), Q::from_num(2)]
    );
    assert_eq!(t.series(1)[0], Q::saturating_from_num(0.1));
    let t = UcrTable::parse("1.0000000e+00\t1\n", "x").unwrap();
    assert_eq!(t.label(0), 1);
}

#[test]
fn ucr_parse_errors_name_line_column_and_expectation() {
    let e = UcrTable::parse("1\t0.5\t0.25\n2\t0.1\tabc\n", "f.tsv").unwrap_err();
    assert_eq!(
        e,
        UcrError::Parse {
            source: "f.tsv".into(),
            line: 2,
            column: 7,
            expected: "a finite decimal number (sample value)",
            found: "abc".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "f.tsv:2:7: expected a finite decimal number (sample value), found `abc`"
    );
    let e = UcrTable::parse("x\t1\n", "f").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("f:1:1: expected an integer class label"),
        "{e}"
    );
    let e = UcrTable::parse("1.5\t1\n", "f").unwrap_err();
    assert!(e.to_string().contains("class label"), "{e}");
    let e = UcrTable::parse("1\t1\tNaN\n", "f").unwrap_err();
    assert!(e.to_string().starts_with("f:1:5:"), "{e}");
    let e = UcrTable::parse("1\t1\t\t2\n", "f").unwrap_err();
    assert!(e.to_string().starts_with("f:1:5: expected a finite"), "{e}");
    let e = UcrTable::parse("1,0.5,0.3\n", "f").unwrap_err();
    assert!(e.to_string().contains("class label"), "{e}");
    let e = UcrTable::parse("1\t1\t2\n1\t1\n", "f").unwrap_err();
    assert_eq!(
        e.to_string(),
        "f:2: expected 2 samples (as in the first series), found 1"
    );
    assert_eq!(
        UcrTable::parse("\n  \n", "f").unwrap_err(),
        UcrError::Empty { source: "f".into() }
    );
}

#[test]
fn ucr_missing_file_says_where_to_get_it() {
    let c = DatasetConfig::Ucr(UcrConfig {
        path: "Nope/Nope_TRAIN.tsv".into(),
        ..UcrConfig::default()
    });
    let err = Dataset::new(&c, &setup(2, 1, &[])).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DatasetError::Ucr(UcrError::Missing { .. })));
    assert!(
        text.contains("datasets/Nope/Nope_TRAIN.tsv") && text.contains("datasets/README.md"),
        "{text}"
    );
}

#[test]
fn ucr_assignment_concatenates_series_with_stride() {
    let text = "0\t0\t1\n1\t10\t11\n2\t20\t21\n";
    let table = Arc::new(UcrTable::parse(text, "inline").unwrap());
    let config = UcrConfig {
        path: "inline".into(),
        series_per_node: 2,
        stride: 2,
        ..UcrConfig::default()
    };
    let d =
        Dataset::with_table(&DatasetConfig::Ucr(config), &setup(3, 1, &[]), Some(table)).unwrap();
    let stream = |node| {
        (0..6)
            .map(|k| d.sample(node, k).observed.to_num::<i32>())
            .collect::<Vec<_>>()
    };
    // node 0: series 0, 1; node 1: series 2, 0; node 2: series 1 (4 mod 3), 2.
    assert_eq!(stream(0), [0, 1, 10, 11, 0, 1]);
    assert_eq!(stream(1), [20, 21, 0, 1, 20, 21]);
    assert_eq!(stream(2), [10, 11, 20, 21, 10, 11]);
}

// ---- real UCR files (from ../shared/datasets when present) ------------

fn shared_file(relative: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("../shared/datasets").join(relative);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} missing (see datasets/README.md)",
            path.display()
        );
        None
    }
}

#[test]
fn real_ecg5000_and_wafer_load_with_expected_shapes() {
    let files = [
        ("ECG5000/ECG5000_TRAIN.tsv", 500, 140),
        ("Wafer/Wafer_TRAIN.tsv", 1_000, 152),
    ];
    for (relative, count, length) in files {
        let Some(path) = shared_file(relative) else {
            continue;
        };
        let t = UcrTable::load(&path).unwrap();
        assert_eq!((t.count(), t.length()), (count, length), "{relative}");
        let mean = (0..count)
            .map(|i| t.series(i).iter().map(|q| to_f64(*q)).sum::<f64>())
            .sum::<f64>()
            / (count * length) as f64;
        assert!(
            mean.abs() < 0.01,
            "{relative}: z-normalised series have mean ≈ 0, got {mean}"
        );
    }
}

#[test]
fn real_ucr_dataset_through_the_config() {
    let Some(path) = shared_file("Wafer/Wafer_TRAIN.tsv") else {
        return;
    };
    let base = path.parent().unwrap().parent().unwrap();
    let config = UcrConfig {
        path: "Wafer/Wafer_TRAIN.tsv".into(),
        data_dir: ".".into(),
        noise_std: 0.05,
        ..UcrConfig::default()
    };
    let s = Setup {
        base_dir: base,
        ..setup(10, 3, &[])
    };
    let d = Dataset::new(&DatasetConfig::Ucr(config), &s).unwrap();
    let table = UcrTable::load(&path).unwrap();
    assert_eq!(d.sample(7, 0).clean, table.series(7)[0]);
    assert_eq!(d.sample(7, 152).clean, table.series(7)[0]);
    assert_ne!(d.sample(7, 0).observed, d.sample(7, 0).clean);
}
