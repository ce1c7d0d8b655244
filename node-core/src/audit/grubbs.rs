//! Grubbs' outlier test (Grubbs 1969, *Technometrics* 11(1)) in fixed
//! point, on one scalar per peer per round.
//!
//! ## The test
//!
//! For `n` values `x₁…xₙ` with mean `x̄` and sample standard deviation
//! `s` (divisor `n − 1`), the statistic of the **largest** value is
//!
//! `G = (x_max − x̄) / s`
//!
//! and `x_max` is an outlier at level α when `G > G_crit(n, α)` with
//!
//! `G_crit(n, α) = (n − 1)/√n · √( t² / (n − 2 + t²) )`,
//! `t` the upper `α/n` quantile of Student's t with `n − 2` degrees of freedom.
//!
//! This is the **one-sided** (maximum) test: the values a node feeds it are
//! distances from the round's aggregate ([`rms_distance_raw`]), so only a
//! value that is too *large* is suspect; a peer too close to the aggregate
//! is not what the test is for. (The two-sided test would use `α/(2n)`.)
//! α is fixed at 0.01, the level the paper's README names.
//!
//! ## Integers only
//!
//! With `S = Σxᵢ` and `dᵢ = n·xᵢ − S` (exact in `i128`), `x_max − x̄ =
//! d_max/n` and `Σ(xᵢ − x̄)² = Σdᵢ²/n²`, so
//!
//! `G > G_crit  ⇔  d_max² · (n − 1) · 2³² > G_raw² · Σdᵢ²`
//!
//! with `G_raw = G_crit · 2¹⁶` from [`G_CRIT_ONE_SIDED_1PCT`]: no division,
//! no square root, no rounding in the decision. Inputs are clamped to
//! `0..=2³²`, which bounds every product below `2¹²⁰`.
//!
//! [`outliers`] applies the test repeatedly (the generalised, iterative
//! form): flag the largest value if it is an outlier, remove it, test the
//! rest, while at least [`N_MIN`] values remain.
//!
//! ## The table
//!
//! [`G_CRIT_ONE_SIDED_1PCT`] holds `round(G_crit(n, 0.01) · 2¹⁶)` for `n =
//! 3..=64` (64 = the largest inbox). It was computed offline from the
//! formula above; the test `table_is_the_formula` recomputes every entry
//! in `f64` (Student's t by the regularized incomplete beta function and
//! bisection) and `table_matches_published_values` checks it against the
//! one-sided 1 % column of Grubbs (1969) / ASTM E178, Table 1, to within
//! 10⁻³. Run `cargo test -p node-core grubbs -- --nocapture` to print it.

use crate::q::{self, Q};

/// Fewest values the test runs on (`n − 2 ≥ 1` degree of freedom).
pub const N_MIN: usize = 3;

/// Most values the table covers (the largest inbox, `node::INBOX_MAX`).
pub const N_MAX: usize = 64;

/// `G_crit(n, 0.01)` of the one-sided test as Q16.16 raw bits, for `n =
/// 3..=64` at index `n − 3` (module docs; the test recomputes them).
pub const G_CRIT_ONE_SIDED_1PCT: [i32; N_MAX - N_MIN + 1] = [
    75670, 97812, 114613, 127418, 137449, 145545, 152250, 157924, 162810, 167079, 170854, 174226,
    177265, 180025, 182547, 184865, 187007, 188994, 190846, 192578, 194203, 195732, 197175, 198540,
    199834, 201064, 202235, 203351, 204419, 205440, 206418, 207358, 208260, 209129, 209965, 210772,
    211550, 212303, 213030, 213735, 214417, 215079, 215721, 216344, 216949, 217538, 218111, 218669,
    219212, 219742, 220258, 220762, 221254, 221734, 222203, 222661, 223110, 223548, 223978, 224398,
    224810, 225213,
];

/// The critical value `G_crit(n, 0.01)`, or `None` outside `3..=64`.
pub fn critical(n: usize) -> Option<Q> {
    if !(N_MIN..=N_MAX).contains(&n) {
        return None;
    }
    Some(q::from_raw(G_CRIT_ONE_SIDED_1PCT[n - N_MIN]))
}

/// Largest input value (larger ones are clamped): keeps every product of
/// the test below `2¹²⁰`.
pub const VALUE_MAX: i64 = 1 << 32;

/// The index of the largest of the `values` whose `skip` flag is false,
/// if the one-sided Grubbs test at α = 0.01 calls it an outlier among
/// them (module docs). `None` with fewer than [`N_MIN`] or more than
/// [`N_MAX`] candidates, or when they are all equal. Negative values count
/// as 0, values above [`VALUE_MAX`] as `VALUE_MAX`.
pub fn max_outlier(values: &[i64], skip: &[bool]) -> Option<usize> {
    assert_eq!(values.len(), skip.len());
    let clamp = |x: i64| x.clamp(0, VALUE_MAX);
    let candidates = || {
        values
            .iter()
            .zip(skip)
            .enumerate()
            .filter(|(_, (_, s))| !**s)
            .map(move |(i, (x, _))| (i, i128::from(clamp(*x))))
    };
    let n = candidates().count();
    let g_raw = critical(n)?;
    let n_i = n as i128;
    let sum: i128 = candidates().map(|(_, x)| x).sum();
    // First index of the maximum: deterministic on ties.
    let (index, max) = candidates().fold((usize::MAX, -1_i128), |best, (i, x)| {
        if x > best.1 { (i, x) } else { best }
    });
    let dev_max = n_i * max - sum;
    if dev_max <= 0 {
        return None; // all equal
    }
    let sum_sq: u128 = candidates()
        .map(|(_, x)| (n_i * x - sum).unsigned_abs().pow(2))
        .sum();
    let g_sq = (g_raw.to_bits().unsigned_abs() as u128).pow(2);
    let lhs = (dev_max.unsigned_abs().pow(2) * (n as u128 - 1)) << 32;
    let rhs = g_sq * sum_sq;
    (lhs > rhs).then_some(index)
}

/// Iterative Grubbs: flags (in `flags`, which must start all false) the
/// values that [`max_outlier`] finds one after another, removing each
/// before the next test. Returns how many were flagged; at most
/// `values.len() − N_MIN + 1` tests run.
pub fn outliers(values: &[i64], flags: &mut [bool]) -> usize {
    assert_eq!(values.len(), flags.len());
    assert!(flags.iter().all(|f| !*f), "flags must start cleared");
    let mut flagged = 0;
    for _ in 0..values.len().saturating_sub(N_MIN - 1) {
        match max_outlier(values, flags) {
            Some(index) => {
                flags[index] = true;
                flagged += 1;
            }
            None => break,
        }
    }
    flagged
}

/// `round(√(Σ(uₖ − aₖ)² / d))` in raw Q16.16 units (floor of the integer
/// square root): the RMS distance of a peer's update from the round's
/// aggregate, the value each peer contributes to the test. Precondition:
/// equal, non-empty lengths.
pub fn rms_distance_raw(update: &[Q], aggregate: &[Q]) -> i64 {
    assert_eq!(update.len(), aggregate.len());
    assert!(!update.is_empty());
    let sum_sq: u128 = update
        .iter()
        .zip(aggregate)
        .map(|(u, a)| {
            let d = i64::from(u.to_bits()) - i64::from(a.to_bits());
            u128::from(d.unsigned_abs()).pow(2)
        })
        .sum();
    let mean_sq = sum_sq / update.len() as u128;
    let mean_sq = u64::try_from(mean_sq).unwrap_or(u64::MAX);
    // ≤ 2³² − 1: fits i64.
    q::isqrt_u64(mean_sq) as i64
}

#[cfg(test)]
#[allow(clippy::float_arithmetic)] // the offline generator of the table
mod tests {
    extern crate std;

    use super::*;
    use crate::rng::{self, Purpose};
    use rand_chacha::rand_core::Rng;
    use std::vec::Vec;

    /// ln Γ(x), Lanczos (g = 7, 9 terms), |error| < 1e−13 for x > 0.
    fn ln_gamma(x: f64) -> f64 {
        const C: [f64; 9] = [
            0.999_999_999_999_809_9,
            676.520_368_121_885_1,
            -1_259.139_216_722_402_8,
            771.323_428_777_653_1,
            -176.615_029_162_140_6,
            12.507_343_278_686_905,
            -0.138_571_095_265_720_12,
            9.984_369_578_019_572e-6,
            1.505_632_735_149_311_6e-7,
        ];
        let x = x - 1.0;
        let mut a = C[0];
        let t = x + 7.5;
        for (i, c) in C.iter().enumerate().skip(1) {
            a += c / (x + i as f64);
        }
        0.5 * (2.0 * core::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
    }

    /// Continued fraction of the incomplete beta (modified Lentz).
    fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
        let tiny = 1e-300;
        let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
        let mut c = 1.0;
        let mut d = 1.0 - qab * x / qap;
        d = 1.0 / if d.abs() < tiny { tiny } else { d };
        let mut h = d;
        for m in 1..400 {
            let m = f64::from(m);
            let m2 = 2.0 * m;
            for aa in [
                m * (b - m) * x / ((qam + m2) * (a + m2)),
                -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            ] {
                d = 1.0 + aa * d;
                d = 1.0 / if d.abs() < tiny { tiny } else { d };
                c = 1.0 + aa / c;
                c = if c.abs() < tiny { tiny } else { c };
                h *= d * c;
            }
            if (d * c - 1.0).abs() < 1e-16 {
                break;
            }
        }
        h
    }

    /// Regularized incomplete beta I_x(a, b).
    fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x >= 1.0 {
            return 1.0;
        }
        let front =
            (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
        if x < (a + 1.0) / (a + b + 2.0) {
            front * beta_cf(a, b, x) / a
        } else {
            1.0 - front * beta_cf(b, a, 1.0 - x) / b
        }
    }

    /// Upper `p` quantile of Student's t with `nu` degrees of freedom:
    /// `P(T > t) = ½ · I_{ν/(ν+t²)}(ν/2, ½)`, solved by bisection.
    fn t_upper(p: f64, nu: f64) -> f64 {
        let tail = |t: f64| 0.5 * beta_inc(nu / 2.0, 0.5, nu / (nu + t * t));
        let (mut lo, mut hi) = (0.0_f64, 1e6_f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if tail(mid) > p { lo = mid } else { hi = mid }
        }
        0.5 * (lo + hi)
    }

    /// The offline generator: `G_crit(n, α)` of the one-sided test.
    fn g_crit(n: usize, alpha: f64) -> f64 {
        let nf = n as f64;
        let t = t_upper(alpha / nf, nf - 2.0);
        (nf - 1.0) / nf.sqrt() * (t * t / (nf - 2.0 + t * t)).sqrt()
    }

    #[test]
    fn table_is_the_formula() {
        let generated: Vec<i32> = (N_MIN..=N_MAX)
            .map(|n| (g_crit(n, 0.01) * 65_536.0).round() as i32)
            .collect();
        std::println!("G_CRIT_ONE_SIDED_1PCT = {generated:?}");
        for (n, (table, formula)) in (N_MIN..).zip(G_CRIT_ONE_SIDED_1PCT.iter().zip(&generated)) {
            assert!(
                (table - formula).abs() <= 1,
                "n = {n}: {table} vs {formula}"
            );
        }
        // The critical value never exceeds its bound (n − 1)/√n.
        for n in N_MIN..=N_MAX {
            let bound = (n as f64 - 1.0) / (n as f64).sqrt();
            assert!(f64::from(critical(n).unwrap().to_bits()) / 65_536.0 <= bound + 1e-4);
        }
        assert_eq!(critical(2), None);
        assert_eq!(critical(65), None);
    }

    #[test]
    fn table_matches_published_values() {
        // Grubbs (1969) Table 1 / ASTM E178 Table 1, one-sided, 1 %.
        let published: [(usize, f64); 29] = [
            (3, 1.155),
            (4, 1.492),
            (5, 1.749),
            (6, 1.944),
            (7, 2.097),
            (8, 2.221),
            (9, 2.323),
            (10, 2.410),
            (11, 2.485),
            (12, 2.550),
            (13, 2.607),
            (14, 2.659),
            (15, 2.705),
            (16, 2.747),
            (17, 2.785),
            (18, 2.821),
            (19, 2.854),
            (20, 2.884),
            (21, 2.912),
            (22, 2.939),
            (23, 2.963),
            (24, 2.987),
            (25, 3.009),
            (30, 3.103),
            (35, 3.178),
            (40, 3.240),
            (45, 3.292),
            (50, 3.336),
            (60, 3.411),
        ];
        for (n, value) in published {
            let table = f64::from(critical(n).unwrap().to_bits()) / 65_536.0;
            assert!((table - value).abs() <= 1e-3, "n = {n}: {table} vs {value}");
        }
        // The generator at α/2 gives the two-sided 1 % column too (n = 10:
        // 2.482, n = 20: 3.001): the t quantile is right on both sides.
        let two_sided = |n: usize| g_crit(n, 0.005); // α/(2n) = 0.005/n
        assert!((two_sided(10) - 2.482).abs() < 1e-3, "{}", two_sided(10));
        assert!((two_sided(20) - 3.001).abs() < 1e-3, "{}", two_sided(20));
    }

    /// `n` distances around 1.0 (raw 65 536) with ±`spread` uniform noise.
    fn clean(n: usize, spread: i64, seed: u64) -> Vec<i64> {
        let mut rng = rng::stream(seed, 0, Purpose::Audit);
        (0..n)
            .map(|_| 65_536 + (i64::from(rng.next_u32() % (2 * spread as u32 + 1)) - spread))
            .collect()
    }

    #[test]
    fn flags_a_planted_outlier_only() {
        for n in [5, 10, 32, 64] {
            let mut values = clean(n, 6_000, n as u64);
            // Clean data: nothing flagged (uniform noise has light tails).
            let mut flags = vec_false(n);
            assert_eq!(outliers(&values, &mut flags), 0, "n = {n}");
            // Planted: one value 10 noise widths out.
            values[n / 2] = 65_536 + 60_000;
            let mut flags = vec_false(n);
            assert_eq!(outliers(&values, &mut flags), 1, "n = {n}");
            assert!(flags[n / 2]);
        }
    }

    #[test]
    fn false_alarm_rate_on_normal_data_is_about_alpha() {
        // Approximately normal distances (sum of 12 uniforms): the test
        // should fire on about 1 % of clean rounds. 2 000 rounds of 20.
        let mut rng = rng::stream(11, 0, Purpose::Audit);
        let mut fired = 0;
        for _ in 0..2_000 {
            let values: Vec<i64> = (0..20)
                .map(|_| {
                    (0..12)
                        .map(|_| i64::from(rng.next_u32() >> 16))
                        .sum::<i64>()
                })
                .collect();
            let skip = vec_false(20);
            fired += usize::from(max_outlier(&values, &skip).is_some());
        }
        // Binomial(2000, 0.01): mean 20, sd 4.4; the 12-uniform sum has
        // slightly lighter tails than a normal, so fewer is expected.
        assert!((5..=35).contains(&fired), "{fired} of 2000");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(max_outlier(&[1, 2], &[false, false]), None);
        assert_eq!(max_outlier(&[7; 10], &[false; 10]), None);
        // Three values: G_crit(3) = 1.1546 ≈ its bound 1.1547, so only an
        // extreme third value is flagged: (0, 0, 1) gives G = 1.1547.
        assert_eq!(max_outlier(&[0, 0, 1 << 20], &[false; 3]), Some(2));
        // Skipped values do not count: with one skipped only two remain.
        assert_eq!(max_outlier(&[0, 0, 1 << 20], &[true, false, false]), None);
        // Huge and negative values are clamped, never overflow.
        let wild = [i64::MAX, i64::MIN, 0, 3, -5, i64::MAX];
        let _ = outliers(&wild, &mut vec_false(6));
        assert_eq!(rms_distance_raw(&[q::ONE; 4], &[q::ZERO; 4]), 65_536);
        let far = [Q::MAX; 3];
        let near = [Q::MIN; 3];
        assert_eq!(rms_distance_raw(&far, &near), (1_i64 << 32) - 1);
    }

    fn vec_false(n: usize) -> Vec<bool> {
        std::vec![false; n]
    }
}
