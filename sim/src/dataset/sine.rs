//! Integer sine of a phase given as a `u32` fraction of a turn.
//!
//! No libm: `sin` is evaluated from its Taylor polynomial in `i64`
//! arithmetic, so it is bit-identical on every machine. The phase
//! `p ∈ [0, 2^32)` stands for the angle `2π · p / 2^32`. The top two bits
//! select the quadrant; the low 30 bits give `x ∈ [0, 1]` (Q2.30) and
//! `sin(π/2 · x) = Σ c_k x^k` over odd `k ≤ 13`, evaluated by Horner's rule.
//!
//! Error bound ([`SIN_MAX_ERROR`]): the Taylor remainder is below the first
//! omitted term, `(π/2)^15 / 15! < 7e-10` (alternating, decreasing series);
//! the seven coefficients are rounded to 2^-31 (`< 3.3e-9` together) and the
//! six Horner truncations add at most 2^-30 each (`< 5.6e-9`), so the total
//! is `< 9.6e-9`. The stated bound `2^-26 ≈ 1.49e-8` covers that with a
//! margin and is checked against `f64::sin` by a test. It is 1/1024 of a
//! Q16.16 ulp, so `amplitude · sin` rounded to Q16.16 is within
//! `½ ulp + amplitude · 2^-26` of the exact value.

/// Fractional bits of [`sin_q30`]'s result.
pub const SIN_FRAC_BITS: u32 = 30;

/// Proven worst-case absolute error of [`sin_q30`] (value units): `2^-26`.
pub const SIN_MAX_ERROR: f64 = 1.0 / 67_108_864.0;

/// `round((-1)^n (π/2)^(2n+1) / (2n+1)! · 2^30)` for `n = 0..=6`, highest
/// degree first (Horner order).
const COEFFS_Q30: [i64; 7] = [
    61,
    -3_864,
    172_272,
    -5_026_995,
    85_569_306,
    -693_598_668,
    1_686_629_713,
];

/// `1.0` in Q2.30.
const ONE_Q30: i64 = 1 << SIN_FRAC_BITS;

/// `sin(2π · phase / 2^32)` in Q2.30 (`value = result / 2^30`), with
/// absolute error ≤ [`SIN_MAX_ERROR`]. Result in `[-2^30, 2^30]`.
pub fn sin_q30(phase: u32) -> i32 {
    let quadrant = phase >> SIN_FRAC_BITS;
    let frac = i64::from(phase & (u32::MAX >> 2));
    // sin is symmetric about the quadrant ends: quadrants 1 and 3 run backwards.
    let x = if quadrant & 1 == 0 {
        frac
    } else {
        ONE_Q30 - frac
    };
    let magnitude = quarter_sine(x);
    // |magnitude| ≤ 2^30 + tiny: the cast cannot truncate.
    let magnitude = magnitude.clamp(0, ONE_Q30) as i32;
    if quadrant >= 2 { -magnitude } else { magnitude }
}

/// `sin(π/2 · x)` for `x ∈ [0, 1]`, both Q2.30.
fn quarter_sine(x: i64) -> i64 {
    let x2 = (x * x) >> SIN_FRAC_BITS;
    let mut acc = COEFFS_Q30[0];
    for c in &COEFFS_Q30[1..] {
        acc = c + ((acc * x2) >> SIN_FRAC_BITS);
    }
    (acc * x) >> SIN_FRAC_BITS
}

/// `round(amplitude · sin)` for a Q16.16 `amplitude_raw` and a Q2.30
/// `sin_q30`, as Q16.16 raw bits (rounded half away from zero, saturated).
pub fn scale_q16(amplitude_raw: i32, sin_q30: i32) -> i32 {
    let product = i64::from(amplitude_raw) * i64::from(sin_q30);
    let half = 1_i64 << (SIN_FRAC_BITS - 1);
    let rounded = if product >= 0 {
        (product + half) >> SIN_FRAC_BITS
    } else {
        -((-product + half) >> SIN_FRAC_BITS)
    };
    rounded.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(phase: u32) -> f64 {
        (std::f64::consts::TAU * f64::from(phase) / 4_294_967_296.0).sin()
    }

    #[test]
    fn coefficients_match_their_definition() {
        let half_pi = std::f64::consts::FRAC_PI_2;
        for (n, c) in COEFFS_Q30.iter().rev().enumerate() {
            let k = 2 * n as i32 + 1;
            let factorial: f64 = (1..=k).map(f64::from).product();
            let exact = half_pi.powi(k) / factorial * if n % 2 == 0 { 1.0 } else { -1.0 };
            assert_eq!(*c, (exact * f64::from(1 << 30)).round() as i64, "c{k}");
        }
    }

    #[test]
    fn within_stated_error_against_f64_sin() {
        let special = [
            0,
            1,
            1 << 30,
            (1 << 30) - 1,
            (1 << 30) + 1,
            1 << 31,
            3 << 30,
            u32::MAX,
        ];
        let sweep = (0..=u32::MAX).step_by(4_099);
        let mut worst = 0.0_f64;
        for phase in sweep.chain(special) {
            let got = f64::from(sin_q30(phase)) / f64::from(1 << 30);
            let err = (got - reference(phase)).abs();
            worst = worst.max(err);
            assert!(err <= SIN_MAX_ERROR, "phase {phase}: err {err}");
        }
        assert!(worst > 0.0, "the comparison must exercise rounding");
    }

    #[test]
    fn exact_at_quadrant_ends() {
        assert_eq!(sin_q30(0), 0);
        assert_eq!(sin_q30(1 << 31), 0);
        // The peaks are within the truncation error (a few 2^-30 units).
        assert!((sin_q30(1 << 30) - (1 << 30)).abs() <= 8);
        assert_eq!(sin_q30(3 << 30), -sin_q30(1 << 30));
    }

    #[test]
    fn scaling_rounds_to_nearest() {
        let one = 1 << 16;
        assert_eq!(scale_q16(one, 1 << 30), one);
        assert_eq!(scale_q16(one, -(1 << 29)), -(one / 2));
        assert_eq!(scale_q16(3, 1 << 29), 2); // 1.5 → 2
        assert_eq!(scale_q16(-3, 1 << 29), -2);
    }
}
