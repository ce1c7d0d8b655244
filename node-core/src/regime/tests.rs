//! Host tests of the entropy signal and the regime detector. Synthetic
//! errors are Gaussian (Box–Muller over the crate's seeded ChaCha streams),
//! so every number printed here is reproducible.

#![allow(clippy::float_arithmetic)] // host tests compare against floats

extern crate std;

use super::*;
use crate::rng::{self, Purpose};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::Rng;
use std::vec::Vec;

const ULP: f64 = 1.0 / 65536.0;

fn to_f64(x: Q) -> f64 {
    f64::from(x.to_bits()) / 65536.0
}

fn signal() -> EntropySignal {
    EntropySignal::new(EntropyConfig::default()).unwrap()
}

/// The centre of bin `bin` under the default width 1/16.
fn bin_centre(bin: i32) -> Q {
    q::ratio(2 * bin + 1, 32)
}

/// A standard normal draw (Box–Muller, cosine branch).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    // u1 in (0, 1], so ln u1 is finite.
    let u1 = (f64::from(rng.next_u32()) + 1.0) / 4_294_967_296.0;
    let u2 = f64::from(rng.next_u32()) / 4_294_967_296.0;
    (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()
}

/// One run of signal and detector over Gaussian errors whose standard
/// deviation at sample `t` is `sigma(t)`; the regime and reading after
/// every sample.
fn run(
    seed: u64,
    samples: usize,
    detector_config: DetectorConfig,
    sigma: impl Fn(usize) -> f64,
) -> Vec<(Regime, EntropyReading)> {
    let mut rng = rng::stream(seed, 0, Purpose::DataNoise);
    let mut s = signal();
    let mut d = RegimeDetector::new(detector_config).unwrap();
    (0..samples)
        .map(|t| {
            let reading = s.update(Q::from_num(gaussian(&mut rng) * sigma(t)));
            (d.update(reading), reading)
        })
        .collect()
}

#[test]
fn tables_are_c_ln_c_and_ln_n_rounded() {
    assert_eq!(C_LN_C_Q16[0], 0);
    assert_eq!(LN_Q16[0], 0);
    for c in 1..=ENTROPY_WINDOW_MAX {
        let c_f64 = c as f64;
        let c_ln_c = c_f64 * c_f64.ln() * 65536.0;
        let ln = c_f64.ln() * 65536.0;
        assert!(
            (f64::from(C_LN_C_Q16[c]) - c_ln_c).abs() <= 0.5,
            "c ln c at {c}"
        );
        assert!((f64::from(LN_Q16[c]) - ln).abs() <= 0.5, "ln at {c}");
    }
}

#[test]
fn entropy_of_known_histograms() {
    // One bin: exactly 0 at every fill level and after eviction.
    let mut s = signal();
    for _ in 0..80 {
        assert_eq!(s.update(q::ratio(1, 50)).raw, q::ZERO);
    }
    // Two bins, 32 each: ln 2.
    let mut s = signal();
    for i in 0..64 {
        s.update(bin_centre(i % 2 * 5));
    }
    assert!((to_f64(s.reading().raw) - 2.0_f64.ln()).abs() <= 2.0 * ULP);
    // 32 bins twice: ln 32.
    let mut s = signal();
    for i in 0..64 {
        s.update(bin_centre(i % 32 - 16));
    }
    assert!((to_f64(s.reading().raw) - 32.0_f64.ln()).abs() <= 2.0 * ULP);
    // Every error in its own bin, however far apart: ln 64, the maximum.
    let mut s = signal();
    for i in 0..64 {
        s.update(bin_centre((i - 32) * 37));
    }
    assert!((to_f64(s.reading().raw) - 64.0_f64.ln()).abs() <= 2.0 * ULP);
    // Warm-up: 3 distinct errors of 3 seen, ln 3.
    let mut s = signal();
    for i in 0..3 {
        s.update(bin_centre(i));
    }
    assert!((to_f64(s.reading().raw) - 3.0_f64.ln()).abs() <= 2.0 * ULP);
}

/// The incremental sum against `−Σ p ln p` in f64 on random histograms of
/// every shape, through eviction: within 2 ulp. (`push_error` also checks
/// `S` against its `O(n²)` recomputation after every update.)
#[test]
fn incremental_entropy_matches_direct_computation() {
    let mut rng = rng::stream(3, 0, Purpose::DataNoise);
    for window_len in [1_u8, 2, 7, 64] {
        let mut s = EntropySignal::new(EntropyConfig {
            window_len,
            ..EntropyConfig::default()
        })
        .unwrap();
        let mut recent: Vec<i16> = Vec::new();
        for t in 0..3_000 {
            // Spread changes every 100 samples: one bin to hundreds.
            let spread = [0.01, 0.1, 1.0, 30.0][t / 100 % 4];
            let error = Q::from_num(gaussian(&mut rng) * spread);
            recent.push(s.bin_of(error));
            if recent.len() > usize::from(window_len) {
                recent.remove(0);
            }
            let raw = to_f64(s.update(error).raw);
            let n = recent.len() as f64;
            let mut expected = 0.0;
            for (position, bin) in recent.iter().enumerate() {
                if !recent[..position].contains(bin) {
                    let p = recent.iter().filter(|b| *b == bin).count() as f64 / n;
                    expected -= p * p.ln();
                }
            }
            assert!((raw - expected).abs() <= 2.0 * ULP, "W {window_len} t {t}");
        }
    }
}

#[test]
fn window_evicts_old_errors() {
    let mut s = signal();
    for i in 0..64 {
        s.update(bin_centre(i % 32));
    }
    assert!(s.reading().raw > q::ratio(34, 10));
    for _ in 0..64 {
        s.update(q::ZERO);
    }
    assert_eq!(s.reading().raw, q::ZERO);
}

#[test]
fn bins_are_the_floor_of_error_over_width() {
    let s = signal();
    assert_eq!(s.bin_of(q::ZERO), 0);
    assert_eq!(s.bin_of(q::from_raw(-1)), -1);
    assert_eq!(s.bin_of(q::ratio(1, 16) - q::from_raw(1)), 0);
    assert_eq!(s.bin_of(q::ratio(1, 16)), 1);
    assert_eq!(s.bin_of(-q::ratio(1, 16)), -1);
    assert_eq!(s.bin_of(-q::ONE), -16);
    assert_eq!(s.bin_of(q::from_int(5)), 80);
    assert_eq!(s.bin_of(q::from_int(2047)), 32752);
    // Only beyond ±32768 Δ do bins saturate.
    assert_eq!(s.bin_of(Q::MAX), i16::MAX);
    assert_eq!(s.bin_of(Q::MIN), i16::MIN);
    let fine = EntropySignal::new(EntropyConfig {
        bin_width: q::from_raw(1),
        ..EntropyConfig::default()
    })
    .unwrap();
    assert_eq!(fine.bin_of(q::from_raw(-7)), -7);
    assert_eq!(fine.bin_of(q::ONE), i16::MAX);
}

/// The smoothing and the derivative against an f64 model of the same
/// recurrences for several horizons: smoothed = mean of the last up to 3
/// raw values (≤ 1 ulp), derivative = smoothed − baseline, baseline += that
/// / h (each truncation loses < 1 ulp, and the EMA forgets them at rate
/// 1/h: ≤ h + 2 ulp). With h = 1 it is the per-sample difference exactly.
#[test]
fn smoothing_is_a_three_point_mean_and_derivative_against_an_ema() {
    let mut rng = rng::stream(4, 0, Purpose::DataNoise);
    for horizon in [1_u8, 4, 16, 255] {
        let mut s = EntropySignal::new(EntropyConfig {
            derivative_horizon_samples: horizon,
            ..EntropyConfig::default()
        })
        .unwrap();
        let mut raws: Vec<f64> = Vec::new();
        let mut baseline = 0.0;
        let mut previous_smoothed = 0.0;
        for k in 0..500 {
            let raw = q::from_raw(rng::below(&mut rng, 4 << 16) as i32);
            s.push_raw(raw);
            let reading = s.reading();
            raws.push(to_f64(raw));
            let tail = &raws[raws.len().saturating_sub(3)..];
            let mean = tail.iter().sum::<f64>() / tail.len() as f64;
            let smoothed = to_f64(reading.smoothed);
            assert!((smoothed - mean).abs() <= ULP);
            if k == 0 {
                baseline = mean;
            }
            let derivative = mean - baseline;
            baseline += derivative / f64::from(horizon);
            let tolerance = (f64::from(horizon) + 2.0) * ULP;
            assert!((to_f64(reading.derivative) - derivative).abs() <= tolerance);
            if horizon == 1 && k > 0 {
                assert_eq!(to_f64(reading.derivative), smoothed - previous_smoothed);
            }
            previous_smoothed = smoothed;
        }
    }
}

/// The derivative's documented responses: a ramp of slope `s` settles at
/// `s·h`; a step `ΔH` shows (once the 3-point mean has taken it) about
/// `ΔH` and then decays by `1 − 1/h` per sample.
#[test]
fn derivative_settles_at_slope_times_horizon_and_decays_after_a_step() {
    let mut s = signal();
    let slope = 1.0 / 256.0;
    for k in 0..300 {
        s.push_raw(q::from_raw(k * 256));
    }
    let settled = to_f64(s.reading().derivative);
    assert!((settled - slope * 16.0).abs() < 0.002, "ramp: {settled}");
    let mut s = signal();
    for _ in 0..100 {
        s.push_raw(q::ONE);
    }
    assert_eq!(s.reading().derivative, q::ZERO);
    let mut after_step = Vec::new();
    for _ in 0..40 {
        s.push_raw(q::from_int(2));
        after_step.push(to_f64(s.reading().derivative));
    }
    // Smoothed: 4/3, 5/3, 2; the peak is near ΔH = 1.
    let peak = after_step.iter().cloned().fold(0.0, f64::max);
    assert!((0.85..=1.0).contains(&peak), "peak {peak}");
    // After 16 more samples, one time constant: about e^-1 of the peak.
    let later = after_step[2 + 16] / after_step[2];
    assert!((later - (15.0_f64 / 16.0).powi(16)).abs() < 0.01, "{later}");
}

/// (a) Mean raw entropy over 4,000 samples (after a 64-sample fill) for
/// Gaussian errors of standard deviation σ: strictly increasing over the
/// whole range. Today's clamped 32-bin histogram fell from σ 0.5 on (3.11
/// at 0.5, 2.82 at 1, 2.03 at 2, 1.71 at 3). The table is in the docs of
/// [`EntropyConfig::bin_width`].
#[test]
fn entropy_rises_with_error_spread_at_every_level() {
    let sigmas = [0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0];
    let mut rng = rng::stream(11, 0, Purpose::DataNoise);
    let mut means = Vec::new();
    for sigma in sigmas {
        let mut s = signal();
        for _ in 0..64 {
            s.update(Q::from_num(gaussian(&mut rng) * sigma));
        }
        let mut sum = 0.0;
        for _ in 0..4_000 {
            sum += to_f64(s.update(Q::from_num(gaussian(&mut rng) * sigma)).raw);
        }
        means.push(sum / 4_000.0);
    }
    std::println!("| σ | {} |", joined(&sigmas, 2));
    std::println!("| mean H | {} |", joined(&means, 2));
    assert!(means.windows(2).all(|w| w[0] < w[1]), "{means:?}");
    assert!(means[1] < 2.1, "a tracking predictor stays far from Storm");
    assert!(means[3] > 2.6, "errors of σ 0.3 are Storm");
    assert!(means[8] < 64.0_f64.ln());
}

/// `values` as a Markdown table row body, `decimals` places each.
fn joined(values: &[f64], decimals: usize) -> std::string::String {
    let cells: Vec<_> = values
        .iter()
        .map(|v| std::format!("{v:.decimals$}"))
        .collect();
    cells.join(" | ")
}

/// Seeds per scenario below: independent runs, like the nodes of a swarm.
const RUNS: u64 = 20;

/// (b) 500 samples at σ 0.1, then 500 at σ `s`. Counted over all runs
/// (the "storm node-rounds detected"): every run reaches Storm
/// within [`DETECTION_DELAY_MAX`] samples of the storm's start; from there
/// to the end it is in Storm for ≥ 95 % of the samples; and ≥ 95 % of the
/// storm's rounds of 10 samples but the first 2 end in Storm. Today's
/// clamped histogram detected 23 % of the samples at σ 1.5 and none at
/// σ ≥ 2.
#[test]
fn storms_are_detected_at_every_noise_level() {
    const DETECTION_DELAY_MAX: usize = 60;
    let storm_sigmas = [0.3, 0.5, 1.0, 1.5, 2.0, 3.0];
    let mut table = [[0.0; 6]; 4];
    for (column, storm_sigma) in storm_sigmas.into_iter().enumerate() {
        let mut delays = Vec::new();
        let (mut storm_samples, mut samples) = (0, 0);
        let (mut storm_rounds, mut rounds) = (0, 0);
        for seed in 0..RUNS {
            let sigma = |t| if t < 500 { 0.1 } else { storm_sigma };
            let regimes: Vec<Regime> = run(1_000 + seed, 1_000, DetectorConfig::default(), sigma)
                .into_iter()
                .map(|(regime, _)| regime)
                .collect();
            assert!(!regimes[..500].contains(&Regime::Storm), "no Storm before");
            let storm = &regimes[500..];
            let delay = storm.iter().position(|r| *r == Regime::Storm).unwrap();
            assert!(delay <= DETECTION_DELAY_MAX, "σ {storm_sigma}: {delay}");
            delays.push(delay as f64);
            storm_samples += storm[delay..]
                .iter()
                .filter(|r| **r == Regime::Storm)
                .count();
            samples += storm.len() - delay;
            for round in storm.chunks(10).skip(2) {
                storm_rounds += usize::from(round[9] == Regime::Storm);
                rounds += 1;
            }
        }
        let sample_share = storm_samples as f64 / samples as f64;
        let round_share = storm_rounds as f64 / rounds as f64;
        assert!(sample_share >= 0.95, "σ {storm_sigma}: {sample_share}");
        assert!(round_share >= 0.95, "σ {storm_sigma}: {round_share}");
        table[0][column] = delays.iter().sum::<f64>() / delays.len() as f64;
        table[1][column] = delays.iter().cloned().fold(0.0, f64::max);
        table[2][column] = 100.0 * sample_share;
        table[3][column] = 100.0 * round_share;
    }
    std::println!("| storm σ | {} |", joined(&storm_sigmas, 1));
    for (label, row) in ["mean delay", "max delay", "% samples", "% rounds"]
        .iter()
        .zip(table)
    {
        std::println!("| {label} | {} |", joined(&row, 1));
    }
}

/// The regimes of a run at σ 0.1 for 500 samples, then rising linearly to
/// σ 1.0 over 300 samples, then 200 more at 1.0.
fn ramped_storm(seed: u64) -> Vec<Regime> {
    let sigma = |t: usize| match t {
        0..500 => 0.1,
        500..800 => 0.1 + 0.9 * (t - 500) as f64 / 300.0,
        _ => 1.0,
    };
    run(seed, 1_000, DetectorConfig::default(), sigma)
        .into_iter()
        .map(|(regime, _)| regime)
        .collect()
}

/// (c) A storm that builds up is announced: in every run the first regime
/// other than Calm during the ramp is PreStorm, and Storm follows. With
/// today's per-sample derivative PreStorm never came: Calm went straight
/// to Storm.
#[test]
fn a_ramped_storm_is_announced_by_prestorm() {
    let mut leads = Vec::new();
    for seed in 0..RUNS {
        let regimes = ramped_storm(2_000 + seed);
        assert_eq!(regimes[499], Regime::Calm, "seed {seed}");
        let ramp = &regimes[500..];
        let first = ramp.iter().position(|r| *r != Regime::Calm).unwrap();
        assert_eq!(ramp[first], Regime::PreStorm, "seed {seed}");
        let storm = ramp.iter().position(|r| *r == Regime::Storm).unwrap();
        leads.push((storm - first) as f64);
    }
    let mean = leads.iter().sum::<f64>() / leads.len() as f64;
    let min = leads.iter().cloned().fold(f64::MAX, f64::min);
    std::println!("PreStorm ahead of Storm: mean {mean:.1}, min {min} samples");
}

/// (d) Long calm runs never indicate Storm after the warm-up, and PreStorm
/// false alarms stay rare: below 0.1 % of the samples (0.1 as the PreStorm
/// threshold gave ≈ 1 %; see [`DetectorConfig::prestorm_derivative_nats`]).
#[test]
fn calm_data_never_storms() {
    for sigma in [0.05, 0.1] {
        let mut prestorm = 0;
        let mut episodes = 0;
        let mut samples = 0;
        for seed in 0..3 {
            let regimes: Vec<Regime> =
                run(3_000 + seed, 20_000, DetectorConfig::default(), |_| sigma)
                    .into_iter()
                    .map(|(regime, _)| regime)
                    .collect();
            let after_warmup = &regimes[128..];
            assert!(!after_warmup.contains(&Regime::Storm), "σ {sigma}");
            prestorm += after_warmup
                .iter()
                .filter(|r| **r == Regime::PreStorm)
                .count();
            episodes += after_warmup
                .windows(2)
                .filter(|w| w[0] != Regime::PreStorm && w[1] == Regime::PreStorm)
                .count();
            samples += after_warmup.len();
        }
        let share = prestorm as f64 / samples as f64;
        std::println!(
            "σ {sigma}: PreStorm {:.3} % of samples, {episodes} episodes in {samples}",
            100.0 * share
        );
        assert!(share < 0.001, "σ {sigma}: {share}");
    }
}

/// (e) A cold model's error starts as large as the signal and decays as it
/// learns (σ = 0.97^t + 0.1): the warm-up keeps it from ever reading as a
/// Storm. Without a warm-up every run started in Storm.
#[test]
fn cold_start_never_storms_thanks_to_warmup() {
    let cold = |t: usize| 0.97_f64.powi(t as i32) + 0.1;
    for seed in 0..RUNS {
        let regimes = run(4_000 + seed, 1_000, DetectorConfig::default(), cold);
        assert!(
            regimes.iter().all(|(r, _)| *r != Regime::Storm),
            "seed {seed}"
        );
    }
    // The same errors without the warm-up: Storm.
    let bare = DetectorConfig {
        warmup_samples: 0,
        ..DetectorConfig::default()
    };
    let regimes = run(4_000, 1_000, bare, cold);
    assert!(regimes.iter().any(|(r, _)| *r == Regime::Storm));
}

/// (f) One wild error (5.0, eighty bins out) among calm errors of σ 0.1
/// only adds one singleton bin: the entropy moves by < 0.1 nats, and the
/// detector never leaves Calm for Storm.
#[test]
fn a_single_spike_never_storms() {
    for seed in 0..RUNS {
        let mut rng = rng::stream(5_000 + seed, 0, Purpose::DataNoise);
        let mut s = signal();
        let mut d = RegimeDetector::new(DetectorConfig::default()).unwrap();
        let mut before = q::ZERO;
        for t in 0..1_000 {
            let spike = t % 250 == 200;
            let error = if spike {
                q::from_int(5)
            } else {
                Q::from_num(gaussian(&mut rng) * 0.1)
            };
            let reading = s.update(error);
            if spike {
                let jump = to_f64(reading.raw) - to_f64(before);
                assert!(jump < 0.1, "seed {seed} t {t}: {jump}");
            }
            before = reading.raw;
            assert_ne!(d.update(reading), Regime::Storm, "seed {seed} t {t}");
        }
    }
}

/// The paper's order: from Calm, a Storm-level entropy is confirmed as
/// PreStorm first (2 updates), then as Storm (3 more); the seed code's
/// direct jump takes 3.
#[test]
fn escalation_from_calm_passes_through_prestorm() {
    let mut paper = RegimeDetector::new(DetectorConfig {
        warmup_samples: 0,
        ..DetectorConfig::default()
    })
    .unwrap();
    let path: Vec<Regime> = (0..5)
        .map(|_| paper.update(reading_for(Regime::Storm)))
        .collect();
    use Regime::{Calm, PreStorm, Storm};
    assert_eq!(path, [Calm, PreStorm, PreStorm, PreStorm, Storm]);
    let mut direct = RegimeDetector::new(DetectorConfig {
        warmup_samples: 0,
        escalation: Escalation::Direct,
        ..DetectorConfig::default()
    })
    .unwrap();
    let path: Vec<Regime> = (0..3)
        .map(|_| direct.update(reading_for(Regime::Storm)))
        .collect();
    assert_eq!(path, [Calm, Calm, Storm]);
}

#[test]
fn warmup_holds_calm_then_confirms_afresh() {
    let mut d = RegimeDetector::new(DetectorConfig {
        warmup_samples: 5,
        escalation: Escalation::Direct,
        ..DetectorConfig::default()
    })
    .unwrap();
    for k in 0..5 {
        assert!(d.warming_up(), "{k}");
        assert_eq!(d.update(reading_for(Regime::Storm)), Regime::Calm);
        assert_eq!(d.indicated(), Regime::Storm);
        assert_eq!(d.pending(), (Regime::Calm, 0));
    }
    assert!(!d.warming_up());
    assert_eq!(d.counters().samples_by_regime, [5, 0, 0]);
    // Calm → Storm needs its 3 confirmations after the warm-up.
    assert_eq!(d.update(reading_for(Regime::Storm)), Regime::Calm);
    assert_eq!(d.update(reading_for(Regime::Storm)), Regime::Calm);
    assert_eq!(d.update(reading_for(Regime::Storm)), Regime::Storm);
    assert_eq!(d.counters().samples_by_regime, [7, 0, 1]);
    let none = RegimeDetector::new(DetectorConfig {
        warmup_samples: 0,
        ..DetectorConfig::default()
    })
    .unwrap();
    assert!(!none.warming_up());
}
fn reading_for(regime: Regime) -> EntropyReading {
    let (raw, derivative) = match regime {
        Regime::Calm => (q::ratio(1, 2), q::ZERO),
        Regime::PreStorm => (q::ONE, q::ratio(1, 2)),
        Regime::Storm => (q::from_int(3), q::ZERO),
    };
    EntropyReading {
        raw,
        smoothed: raw,
        derivative,
    }
}

fn detector(confirmations: Confirmations) -> RegimeDetector {
    RegimeDetector::new(DetectorConfig {
        confirmations,
        warmup_samples: 0,
        escalation: Escalation::Direct,
        ..DetectorConfig::default()
    })
    .unwrap()
}

/// Drives `d` into `target` by repeating its indication.
fn drive(d: &mut RegimeDetector, target: Regime) {
    for _ in 0..10 {
        if d.regime() == target {
            return;
        }
        d.update(reading_for(target));
    }
    assert_eq!(d.regime(), target);
}

#[test]
fn every_transition_needs_its_confirmations() {
    use Regime::*;
    let table: [(Confirmations, Regime, Regime, u8); 12] = [
        (Confirmations::default(), Calm, PreStorm, 2),
        (Confirmations::default(), PreStorm, Storm, 3),
        (Confirmations::default(), Calm, Storm, 3),
        (Confirmations::default(), Storm, Calm, 5),
        (Confirmations::default(), Storm, PreStorm, 3),
        (Confirmations::default(), PreStorm, Calm, 2),
        (Confirmations::asymmetric(4, 7), Calm, PreStorm, 4),
        (Confirmations::asymmetric(4, 7), PreStorm, Storm, 4),
        (Confirmations::asymmetric(4, 7), Calm, Storm, 4),
        (Confirmations::asymmetric(4, 7), Storm, Calm, 7),
        (Confirmations::asymmetric(4, 7), Storm, PreStorm, 7),
        (Confirmations::asymmetric(4, 7), PreStorm, Calm, 7),
    ];
    for (confirmations, from, to, needed) in table {
        let mut d = detector(confirmations);
        drive(&mut d, from);
        let before = *d.counters();
        for k in 1..needed {
            assert_eq!(d.update(reading_for(to)), from, "{from:?}->{to:?} at {k}");
            assert_eq!(d.pending(), (to, k));
        }
        assert_eq!(d.update(reading_for(to)), to, "{from:?}->{to:?}");
        assert_eq!(d.pending(), (to, 0));
        let after = d.counters();
        assert_eq!(after.transitions, before.transitions + 1);
        let kind = after.transitions_by_kind[from.index()][to.index()];
        assert_eq!(
            kind,
            before.transitions_by_kind[from.index()][to.index()] + 1
        );
    }
}

#[test]
fn any_other_indication_restarts_the_count() {
    use Regime::*;
    let mut d = detector(Confirmations::default());
    // Storm twice, then Calm (the current regime) resets: still Calm.
    for indication in [Storm, Storm, Calm, Storm, Storm] {
        assert_eq!(d.update(reading_for(indication)), Calm);
    }
    // Storm twice, then PreStorm once (a different candidate) resets.
    let mut d = detector(Confirmations::default());
    for indication in [Storm, Storm, PreStorm, Storm, Storm] {
        assert_eq!(d.update(reading_for(indication)), Calm);
    }
    assert_eq!(d.pending(), (Storm, 2));
    assert_eq!(d.update(reading_for(Storm)), Storm);
}

#[test]
fn hysteresis_suppresses_a_one_sample_spike() {
    use Regime::*;
    let spike = [Calm, Calm, Storm, Calm, Calm];
    let mut with = detector(Confirmations::default());
    let mut without = detector(Confirmations::uniform(1));
    let got_with: Vec<Regime> = spike.iter().map(|r| with.update(reading_for(*r))).collect();
    let got_without: Vec<Regime> = spike
        .iter()
        .map(|r| without.update(reading_for(*r)))
        .collect();
    assert_eq!(got_with, [Calm; 5]);
    assert_eq!(got_without, [Calm, Calm, Storm, Calm, Calm]);
    assert_eq!(with.counters().transitions, 0);
    assert_eq!(without.counters().transitions, 2);
    assert_eq!(without.counters().samples_by_regime, [4, 0, 1]);
}

#[test]
fn indication_rules_follow_the_default_thresholds() {
    let d = detector(Confirmations::default());
    let at = |raw: (i32, i32), derivative: (i32, i32)| {
        d.indicate(EntropyReading {
            raw: q::ratio(raw.0, raw.1),
            smoothed: q::ZERO,
            derivative: q::ratio(derivative.0, derivative.1),
        })
    };
    assert_eq!(at((5, 2), (0, 1)), Regime::Calm); // H = 2.5 is not above
    assert_eq!(at((26, 10), (0, 1)), Regime::Storm);
    assert_eq!(at((26, 10), (1, 1)), Regime::Storm); // Storm wins
    assert_eq!(at((1, 1), (15, 100)), Regime::Calm); // dH = 0.15 is not above
    assert_eq!(at((1, 1), (16, 100)), Regime::PreStorm);
    assert_eq!(at((1, 1), (-1, 1)), Regime::Calm);
}

#[test]
fn paper_storm_exit_is_sticky_until_low_and_flat() {
    use Regime::*;
    let mut d = RegimeDetector::new(DetectorConfig {
        storm_exit: StormExit::paper(),
        warmup_samples: 0,
        ..DetectorConfig::default()
    })
    .unwrap();
    drive(&mut d, Storm);
    // H = 2.0 indicates Calm in the seed rule, not under the paper's.
    let middling = EntropyReading {
        raw: q::from_int(2),
        smoothed: q::from_int(2),
        derivative: q::ZERO,
    };
    for _ in 0..10 {
        assert_eq!(d.update(middling), Storm);
        assert_eq!(d.update(reading_for(PreStorm)), Storm);
    }
    let low_but_rising = EntropyReading {
        derivative: q::ratio(1, 10),
        ..reading_for(Calm)
    };
    for _ in 0..10 {
        assert_eq!(d.update(low_but_rising), Storm);
    }
    for _ in 0..4 {
        assert_eq!(d.update(reading_for(Calm)), Storm);
    }
    assert_eq!(d.update(reading_for(Calm)), Calm);
}

#[test]
fn counters_add_up() {
    let mut d = detector(Confirmations::default());
    let mut s = signal();
    let mut rng = rng::stream(5, 0, Purpose::DataNoise);
    for t in 0..600_u32 {
        let amplitude: u32 = if (200..400).contains(&t) {
            1 << 16
        } else {
            1 << 12
        };
        let error = q::from_raw(rng::below(&mut rng, 2 * amplitude) as i32 - amplitude as i32);
        d.update(s.update(error));
    }
    let c = d.counters();
    assert_eq!(c.samples_by_regime.iter().sum::<u64>(), 600);
    let by_kind: u32 = c.transitions_by_kind.iter().flatten().sum();
    assert_eq!(by_kind, c.transitions);
    assert!(c.samples_by_regime[Regime::Storm.index()] > 100);
    assert!(
        c.transitions_by_kind
            .iter()
            .enumerate()
            .all(|(i, row)| row[i] == 0)
    );
}

#[test]
fn configs_are_validated() {
    let bad_entropy = |config| EntropySignal::new(config).unwrap_err();
    let base = EntropyConfig::default();
    assert_eq!(
        bad_entropy(EntropyConfig {
            window_len: 65,
            ..base
        }),
        ConfigError::WindowLenOutOfRange
    );
    assert_eq!(
        bad_entropy(EntropyConfig {
            bin_width: q::ZERO,
            ..base
        }),
        ConfigError::BinWidthNotPositive
    );
    assert_eq!(
        bad_entropy(EntropyConfig {
            bin_width: -q::ONE,
            ..base
        }),
        ConfigError::BinWidthNotPositive
    );
    assert_eq!(
        bad_entropy(EntropyConfig {
            derivative_horizon_samples: 0,
            ..base
        }),
        ConfigError::DerivativeHorizonZero
    );
    assert!(
        EntropySignal::new(EntropyConfig {
            window_len: 1,
            bin_width: q::from_raw(1),
            derivative_horizon_samples: 255,
        })
        .is_ok()
    );
    let bad = |config| RegimeDetector::new(config).unwrap_err();
    let base = DetectorConfig::default();
    let zero = Confirmations {
        storm_to_calm: 0,
        ..Confirmations::default()
    };
    assert_eq!(
        bad(DetectorConfig {
            confirmations: zero,
            ..base
        }),
        ConfigError::ConfirmationsZero
    );
    assert_eq!(
        bad(DetectorConfig {
            prestorm_derivative_nats: q::ZERO,
            ..base
        }),
        ConfigError::PreStormDerivativeNotPositive
    );
    let exit = StormExit::Thresholds {
        entropy_below_nats: q::from_int(3),
        derivative_below_nats: q::ZERO,
    };
    assert_eq!(
        bad(DetectorConfig {
            storm_exit: exit,
            ..base
        }),
        ConfigError::StormExitOutOfRange
    );
    assert_eq!(Confirmations::from_base(1), Confirmations::uniform(1));
    assert_eq!(Confirmations::from_base(255).storm_to_calm, 255);
}

#[test]
fn state_is_small() {
    std::println!(
        "EntropySignal {} B, RegimeDetector {} B",
        core::mem::size_of::<EntropySignal>(),
        core::mem::size_of::<RegimeDetector>()
    );
    // Measured 172 and 104 bytes on x86_64.
    assert!(core::mem::size_of::<EntropySignal>() <= 176);
    assert!(core::mem::size_of::<RegimeDetector>() <= 104);
}
