//! The paper's hysteresis experiment (docs/paper.md §9) through node-core's
//! regime detector: a scripted 500-round entropy signal, false transitions
//! counted by the paper's rule, with and without hysteresis.
//!
//! The signal: Calm rounds 0–100, PreStorm 100–150, Storm 150–200, Calm
//! 200–350, PreStorm 350–400, Storm 400–450, Calm 450–500; entropy = base
//! (0.5 / 1.2 / 2.5 by regime) + N(0, 0.5), plus U(1, 3) with probability
//! 5 %, floored at 0. The detector is configured as the paper's script:
//! Storm above 2.0, PreStorm on a per-update derivative above 0.3 of the
//! 3-point mean, direct Calm → Storm, hysteresis base 3 (or none), no
//! warm-up. A "false transition" is any regime change on a round where the
//! true regime does not change, so a correct but late detection counts too.
//! The noise comes from a ChaCha8 stream per seed (not the paper's numpy
//! stream), so the counts vary by seed around the paper's.

use node_core::q::Q;
use node_core::regime::{
    Confirmations, DetectorConfig, EntropyReading, Escalation, Regime, RegimeDetector, StormExit,
};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use super::claim::ClaimConfig;
use super::measure::mean_sd;
use super::report::{self, Row};
use crate::fixed;

/// Rounds of the scripted signal.
pub const ROUNDS: usize = 500;

/// The true regime of round `t`.
fn truth(t: usize) -> Regime {
    match t {
        100..150 | 350..400 => Regime::PreStorm,
        150..200 | 400..450 => Regime::Storm,
        _ => Regime::Calm,
    }
}

/// One run's counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counts {
    /// Regime changes on rounds whose truth does not change.
    pub false_transitions: u32,
    /// Rounds whose regime equals the truth, as a share.
    pub accuracy: f64,
    /// Rounds spent in PreStorm.
    pub prestorm_rounds: u32,
}

/// Runs the scripted signal of `seed` through a detector with `confirmations`.
pub fn run(seed: u64, confirmations: Confirmations) -> Counts {
    let signal = scripted_entropy(seed);
    let config = DetectorConfig {
        storm_entropy_nats: fixed::from_f64(2.0),
        prestorm_derivative_nats: fixed::from_f64(0.3),
        confirmations,
        escalation: Escalation::Direct,
        storm_exit: StormExit::Indicated,
        warmup_samples: 0,
    };
    let mut detector = RegimeDetector::new(config).expect("the paper's thresholds are valid");
    let (mut ring, mut previous_smoothed) = (Vec::with_capacity(3), None::<f64>);
    let mut counts = Counts {
        false_transitions: 0,
        accuracy: 0.0,
        prestorm_rounds: 0,
    };
    let mut right = 0;
    let mut before = Regime::Calm;
    for (t, raw) in signal.iter().enumerate() {
        if ring.len() == 3 {
            ring.remove(0);
        }
        ring.push(*raw);
        let smoothed = ring.iter().sum::<f64>() / ring.len() as f64;
        let derivative = previous_smoothed.map_or(0.0, |p| smoothed - p);
        previous_smoothed = Some(smoothed);
        let reading = EntropyReading {
            raw: q(*raw),
            smoothed: q(smoothed),
            derivative: q(derivative),
        };
        let now = detector.update(reading);
        let truth_changed = t > 0 && truth(t) != truth(t - 1);
        if now != before && !truth_changed {
            counts.false_transitions += 1;
        }
        right += u32::from(now == truth(t));
        counts.prestorm_rounds += u32::from(now == Regime::PreStorm);
        before = now;
    }
    counts.accuracy = f64::from(right) / ROUNDS as f64;
    counts
}

fn q(value: f64) -> Q {
    fixed::from_f64(value)
}

/// The scripted entropy of `seed` (module docs).
fn scripted_entropy(seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1_u64 << 53) as f64;
    (0..ROUNDS)
        .map(|t| {
            let base = match truth(t) {
                Regime::Calm => 0.5,
                Regime::PreStorm => 1.2,
                Regime::Storm => 2.5,
            };
            // Box–Muller from two uniforms in (0, 1].
            let (u1, u2) = (1.0 - uniform(), uniform());
            let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let spike = if uniform() < 0.05 {
                1.0 + 2.0 * uniform()
            } else {
                0.0
            };
            (base + 0.5 * normal + spike).max(0.0)
        })
        .collect()
}

/// The report row: reduction of false transitions over seeds `1..=seeds`.
pub fn row(claim: &ClaimConfig, seeds: u64) -> Row {
    let seeds: Vec<u64> = (1..=seeds).collect();
    let with: Vec<Counts> = seeds
        .iter()
        .map(|s| run(*s, Confirmations::from_base(3)))
        .collect();
    let without: Vec<Counts> = seeds
        .iter()
        .map(|s| run(*s, Confirmations::uniform(1)))
        .collect();
    let stat = |c: &[Counts], f: fn(&Counts) -> f64| mean_sd(&c.iter().map(f).collect::<Vec<_>>());
    let reduction: Vec<f64> = with
        .iter()
        .zip(&without)
        .map(|(w, o)| {
            100.0 * (1.0 - f64::from(w.false_transitions) / f64::from(o.false_transitions.max(1)))
        })
        .collect();
    let (red_m, red_s) = mean_sd(&reduction);
    let (fw, _) = stat(&with, |c| f64::from(c.false_transitions));
    let (fo, _) = stat(&without, |c| f64::from(c.false_transitions));
    let (aw, _) = stat(&with, |c| c.accuracy);
    let (ao, _) = stat(&without, |c| c.accuracy);
    let (pw, _) = stat(&with, |c| f64::from(c.prestorm_rounds));
    let paper_setup = format!(
        "false transitions {fo:.1} → {fw:.1} ({red_m:.1} ± {red_s:.1} % fewer); accuracy against the truth {:.1} % → {:.1} %; PreStorm rounds with hysteresis {pw:.1} of 100",
        100.0 * ao,
        100.0 * aw
    );
    let row = Row::new(claim).paper_setup(paper_setup);
    report::judge(row, claim, red_m, "reduction of false transitions (%)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_cuts_false_transitions_and_runs_are_reproducible() {
        let with = run(1, Confirmations::from_base(3));
        let without = run(1, Confirmations::uniform(1));
        assert!(
            with.false_transitions < without.false_transitions / 4,
            "{with:?} {without:?}"
        );
        assert_eq!(run(1, Confirmations::from_base(3)), with);
        assert_ne!(run(2, Confirmations::uniform(1)), without);
    }

    #[test]
    fn truth_schedule_matches_the_script() {
        let storm = (0..ROUNDS).filter(|t| truth(*t) == Regime::Storm).count();
        let prestorm = (0..ROUNDS)
            .filter(|t| truth(*t) == Regime::PreStorm)
            .count();
        assert_eq!((storm, prestorm), (100, 100));
    }
}
