//! Q16.16 fixed-point arithmetic: the only number type of node-core.
//!
//! [`Q`] is `fixed::types::I16F16`: an `i32` with 16 fractional bits, so a
//! value is `raw / 2^16`, its range is `[-32768, 32768 - 2^-16]` and one
//! *ulp* (unit in the last place) is `2^-16 ≈ 1.53e-5`. The paper defines the
//! encoding as `floor(x · 2^16)` (docs/paper.md §2).
//!
//! The functions here are what the runtime needs beyond `fixed`'s own
//! operators, each with a stated worst-case error proved by a host test
//! against a double-precision float reference:
//!
//! | function | error bound (absolute) |
//! |---|---|
//! | [`Acc`] (multiply-accumulate) | exact until the final rounding: ≤ ½ ulp, then saturation |
//! | [`div`] | ≤ 1 ulp (truncation toward zero), saturating |
//! | [`sqrt`] | ≤ 1 ulp (floor of the exact root) |
//! | [`ln`] | ≤ 2 ulp |
//! | [`exp`] | ≤ 2 ulp + 2^-24 · exp(x) |
//!
//! Everything is integer arithmetic on `i32`/`i64`, hence bit-identical on
//! every architecture.

pub use fixed::types::I16F16;

/// The Q16.16 number type used everywhere in node-core.
pub type Q = I16F16;

/// Number of fractional bits of [`Q`].
pub const FRAC_BITS: u32 = 16;

/// `1.0` in Q16.16.
pub const ONE: Q = Q::ONE;

/// `0.0` in Q16.16.
pub const ZERO: Q = Q::ZERO;

/// ln 2 in Q32.32 (`round(ln 2 · 2^32)`).
const LN2_Q32: i64 = 2_977_044_472;

/// Builds a [`Q`] from its raw `i32` bits (`value = raw / 2^16`).
pub const fn from_raw(raw: i32) -> Q {
    Q::from_bits(raw)
}

/// Builds a [`Q`] from the rational `num / den`, truncated toward zero and
/// saturated. Handy for constants written as ratios (`ratio(1, 100)` = 0.01).
/// A zero `den` saturates by the sign of `num` (0 for `num == 0`).
pub const fn ratio(num: i32, den: i32) -> Q {
    if den == 0 {
        return if num > 0 {
            Q::MAX
        } else if num < 0 {
            Q::MIN
        } else {
            Q::ZERO
        };
    }
    let wide = ((num as i64) << FRAC_BITS) / den as i64;
    Q::from_bits(saturate_i64(wide))
}

/// Builds a [`Q`] from an integer, saturating.
pub const fn from_int(value: i32) -> Q {
    Q::from_bits(saturate_i64((value as i64) << FRAC_BITS))
}

const fn saturate_i64(value: i64) -> i32 {
    if value > i32::MAX as i64 {
        i32::MAX
    } else if value < i32::MIN as i64 {
        i32::MIN
    } else {
        value as i32
    }
}

/// Multiplies two Q16.16 values, rounding to nearest and saturating.
/// Error ≤ ½ ulp.
pub const fn mul(a: Q, b: Q) -> Q {
    let product = a.to_bits() as i64 * b.to_bits() as i64;
    Q::from_bits(saturate_i64(round_shift(product, FRAC_BITS)))
}

/// Arithmetic right shift rounding half away from zero.
const fn round_shift(value: i64, shift: u32) -> i64 {
    if shift == 0 {
        return value;
    }
    let half = 1_i64 << (shift - 1);
    if value >= 0 {
        (value + half) >> shift
    } else {
        -((-value + half) >> shift)
    }
}

/// A wide multiply-accumulate register for dot products.
///
/// Each product of two Q16.16 values is exact in Q32.32 (`i64`); products are
/// summed with saturating `i64` addition, and only [`Acc::finish`] rounds
/// (to nearest) and saturates to Q16.16. The result is therefore exact to
/// ½ ulp as long as no partial sum leaves ±2^31 in value (±2^63 raw); past
/// that the register sticks at the `i64` bound and the result saturates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Acc {
    raw_q32: i64,
}

impl Acc {
    /// An empty accumulator (value 0).
    pub const fn new() -> Acc {
        Acc { raw_q32: 0 }
    }

    /// Adds `a · b`.
    pub fn mac(&mut self, a: Q, b: Q) {
        let product = i64::from(a.to_bits()) * i64::from(b.to_bits());
        self.raw_q32 = self.raw_q32.saturating_add(product);
    }

    /// Adds `a` (exactly).
    pub fn add(&mut self, a: Q) {
        self.raw_q32 = self
            .raw_q32
            .saturating_add(i64::from(a.to_bits()) << FRAC_BITS);
    }

    /// The raw Q32.32 sum.
    pub const fn raw_q32(&self) -> i64 {
        self.raw_q32
    }

    /// Rounds the sum to nearest Q16.16 and saturates.
    pub const fn finish(&self) -> Q {
        Q::from_bits(saturate_i64(round_shift(self.raw_q32, FRAC_BITS)))
    }
}

/// Dot product of two equally long slices through [`Acc`]; extra elements of
/// the longer slice are ignored. Error ≤ ½ ulp (see [`Acc`]).
pub fn dot(a: &[Q], b: &[Q]) -> Q {
    let mut acc = Acc::new();
    for (x, y) in a.iter().zip(b.iter()) {
        acc.mac(*x, *y);
    }
    acc.finish()
}

/// Divides `a / b`, truncating toward zero and saturating. Error ≤ 1 ulp.
/// Division by zero saturates by the sign of `a` (and gives 0 for `a == 0`).
pub const fn div(a: Q, b: Q) -> Q {
    let b_raw = b.to_bits() as i64;
    if b_raw == 0 {
        return ratio(a.to_bits(), 0);
    }
    let wide = ((a.to_bits() as i64) << FRAC_BITS) / b_raw;
    Q::from_bits(saturate_i64(wide))
}

/// Floor of the square root of a `u64`, exact, in at most 64 iterations.
pub const fn isqrt_u64(value: u64) -> u64 {
    if value < 2 {
        return value;
    }
    // Digit-by-digit (binary restoring) method: 32 iterations of 2 bits.
    let mut rem = value;
    let mut root = 0_u64;
    let mut bit = 1_u64 << 62;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// Floor of the square root of a `u128`, exact, by the same digit-by-digit
/// method as [`isqrt_u64`] (at most 64 iterations of 2 bits). The exact
/// distances of the vector rules need it (`aggregate::vector`); the
/// per-sample path keeps [`isqrt_u64`], since `u128` arithmetic costs about
/// 3.7× the instructions on riscv32imac (796 against 2,984 retired per call
/// on `q::sqrt`'s inputs, measured under QEMU with `-icount shift=0`).
pub fn isqrt_u128(x: u128) -> u128 {
    if x < 2 {
        return x;
    }
    let mut rem = x;
    let mut root = 0_u128;
    let mut bit = 1_u128 << 126;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    debug_assert!(root * root <= x && (root + 1).checked_mul(root + 1).is_none_or(|s| s > x));
    root
}

/// Square root, the floor of the exact root of the Q16.16 value: error
/// < 1 ulp. Negative input is treated as 0 (precondition: `x ≥ 0`).
pub const fn sqrt(x: Q) -> Q {
    let raw = x.to_bits();
    if raw <= 0 {
        return Q::ZERO;
    }
    // sqrt(raw / 2^16) · 2^16 = sqrt(raw · 2^16).
    let root = isqrt_u64((raw as u64) << FRAC_BITS);
    Q::from_bits(root as i32)
}

/// Natural logarithm. Error ≤ 2 ulp over the whole positive range
/// `[2^-16, 32768)`. `ln(x)` for `x ≤ 0` saturates to `Q::MIN` (−∞).
///
/// Method: `x = 2^k · m` with `m ∈ [1, 2)`, then `ln m = 2·atanh(s)` with
/// `s = (m − 1)/(m + 1) ∈ [0, 1/3)`, summed to `s^15/15` in Q32.32
/// (truncation error < 2^-29), plus `k · ln 2`.
pub fn ln(x: Q) -> Q {
    let raw = x.to_bits();
    if raw <= 0 {
        return Q::MIN;
    }
    // raw = 2^e · m_q, e = position of the top bit; value exponent k = e - 16.
    let top_bit = 31 - raw.leading_zeros() as i64;
    let k = top_bit - i64::from(FRAC_BITS);
    // m in Q32.32, in [1, 2).
    let m_q32: i64 = (i64::from(raw) << 32) >> top_bit;
    let one_q32 = 1_i64 << 32;
    let s = ((i128::from(m_q32 - one_q32) << 32) / i128::from(m_q32 + one_q32)) as i64; // Q32.32, < 1/3
    let s2 = (s * s) >> 32;
    let mut term = s;
    let mut sum = 0_i64;
    let mut n = 1_i64;
    // Bounded: 8 odd terms s, s^3/3, …, s^15/15.
    while n <= 15 {
        sum += term / n;
        term = (term * s2) >> 32;
        n += 2;
    }
    let ln_q32 = 2 * sum + k * LN2_Q32;
    Q::from_bits(saturate_i64(round_shift(ln_q32, 16)))
}

/// Natural exponential. Error ≤ 2 ulp + 2^-24·exp(x); saturates to `Q::MAX`
/// above `ln(32768) ≈ 10.397` and rounds to 0 below about −11.1.
///
/// Method: `x = k · ln 2 + r` with `r ∈ [0, ln 2)`, `exp(r)` by its Taylor
/// series to `r^12/12!` in Q32.32 (truncation error < 2^-33), then a shift
/// by `k` with rounding.
pub fn exp(x: Q) -> Q {
    let x_q32 = i64::from(x.to_bits()) << 16;
    let k = x_q32.div_euclid(LN2_Q32);
    let r = x_q32 - k * LN2_Q32; // [0, ln 2) in Q32.32
    let mut term = 1_i64 << 32;
    let mut sum = term;
    let mut n = 1_i64;
    // Bounded: 12 Taylor terms.
    while n <= 12 {
        term = ((i128::from(term) * i128::from(r)) >> 32) as i64 / n;
        sum += term;
        n += 1;
    }
    // value = sum · 2^k, sum in Q32.32 → Q16.16 needs a shift of 16 − k.
    let shift = 16 - k;
    let result = if shift <= 0 {
        if shift < -32 || sum > (i64::MAX >> (-shift)) {
            i64::MAX
        } else {
            sum << (-shift)
        }
    } else if shift >= 63 {
        0
    } else {
        round_shift(sum, shift as u32)
    };
    Q::from_bits(saturate_i64(result))
}

/// Absolute value, saturating (`|Q::MIN|` gives `Q::MAX`).
pub const fn abs(x: Q) -> Q {
    Q::from_bits(x.to_bits().saturating_abs())
}

/// Clamps `x` into `[lo, hi]` (precondition `lo ≤ hi`).
pub fn clamp(x: Q, lo: Q, hi: Q) -> Q {
    debug_assert!(lo <= hi);
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[cfg(test)]
#[allow(clippy::float_arithmetic)] // floats are the reference the bounds are checked against
mod tests {
    use super::*;

    const ULP: f64 = 1.0 / 65536.0;

    fn to_f64(q: Q) -> f64 {
        f64::from(q.to_bits()) / 65536.0
    }

    /// Raw values covering the whole range: every raw value below 2^16,
    /// then a stride that visits every binade, plus the extremes.
    fn positive_raws() -> impl Iterator<Item = i32> {
        (1..=65_536)
            .chain((65_536..i32::MAX).step_by(9_973))
            .chain([i32::MAX])
    }

    #[test]
    fn mul_and_acc_are_exact_to_half_ulp() {
        let values = [
            -32768.0, -3.25, -1.0, -0.000_1, 0.0, 0.5, 1.0, 7.125, 181.0, 32767.9,
        ];
        for &a in &values {
            for &b in &values {
                let (qa, qb) = (Q::from_num(a), Q::from_num(b));
                let exact = to_f64(qa) * to_f64(qb);
                let got = to_f64(mul(qa, qb));
                let clamped = exact.clamp(to_f64(Q::MIN), to_f64(Q::MAX));
                assert!((got - clamped).abs() <= ULP / 2.0 + 1e-12, "{a}*{b}");
                if qa == Q::MIN {
                    continue; // its negation saturates: the identity below does not hold
                }
                let mut acc = Acc::new();
                acc.mac(qa, qb);
                acc.mac(qa, qb);
                acc.mac(qa.saturating_neg(), qb);
                assert!((to_f64(acc.finish()) - clamped).abs() <= ULP / 2.0 + 1e-12);
            }
        }
    }

    #[test]
    fn acc_saturates_at_the_end_only() {
        let big = Q::from_num(30000);
        let mut acc = Acc::new();
        acc.mac(big, big); // 9e8: far above Q16.16, fine in the register
        acc.mac(-big, big);
        acc.add(Q::from_num(1.5));
        assert_eq!(acc.finish(), Q::from_num(1.5));
        let mut acc = Acc::new();
        acc.mac(big, big);
        assert_eq!(acc.finish(), Q::MAX);
        assert_eq!(dot(&[big, -big], &[big, big]), Q::ZERO);
    }

    #[test]
    fn div_within_one_ulp() {
        let dens = [
            -1000.5, -3.0, -0.001, 0.000_1, 0.25, 1.0, 3.0, 77.7, 32767.0,
        ];
        for raw in (i32::MIN..i32::MAX).step_by(1_000_003) {
            let a = Q::from_bits(raw);
            for &d in &dens {
                let b = Q::from_num(d);
                let exact = (to_f64(a) / to_f64(b)).clamp(to_f64(Q::MIN), to_f64(Q::MAX));
                let got = to_f64(div(a, b));
                assert!(
                    (got - exact).abs() <= ULP,
                    "{}/{}: {got} vs {exact}",
                    to_f64(a),
                    d
                );
            }
        }
        assert_eq!(div(ONE, ZERO), Q::MAX);
        assert_eq!(div(-ONE, ZERO), Q::MIN);
        assert_eq!(div(ZERO, ZERO), ZERO);
    }

    #[test]
    fn sqrt_is_floor_of_exact_root() {
        for raw in positive_raws() {
            let x = Q::from_bits(raw);
            let exact = to_f64(x).sqrt();
            let got = to_f64(sqrt(x));
            assert!(
                got <= exact + 1e-12 && exact - got < ULP,
                "sqrt({raw}): {got} vs {exact}"
            );
        }
        assert_eq!(sqrt(Q::from_num(-4)), ZERO);
        assert_eq!(sqrt(Q::from_num(4)), Q::from_num(2));
    }

    #[test]
    fn isqrt_exact_on_edges() {
        for v in [0_u64, 1, 2, 3, 4, 15, 16, 17, u64::from(u32::MAX), u64::MAX] {
            let r = isqrt_u64(v);
            assert!(u128::from(r) * u128::from(r) <= u128::from(v));
            assert!(u128::from(r + 1) * u128::from(r + 1) > u128::from(v));
        }
    }

    #[test]
    fn isqrt_u128_is_exact_and_agrees_with_isqrt_u64() {
        let exact =
            |v: u128, r: u128| r * r <= v && (r + 1).checked_mul(r + 1).is_none_or(|s| s > v);
        let squares = [1_u128, 2, 3, u128::from(u32::MAX), u128::from(u64::MAX)]
            .into_iter()
            .flat_map(|k| [k * k - 1, k * k, k * k + 1]);
        let edges = [
            0_u128,
            2,
            3,
            15,
            16,
            17,
            (1 << 126) - 1,
            1 << 126,
            u128::MAX,
        ];
        for v in edges.into_iter().chain(squares) {
            assert!(exact(v, isqrt_u128(v)), "isqrt_u128({v})");
        }
        // Both roots over the u64 range: every value below 2^16, a stride
        // across the upper bit lengths, and the top.
        let mut v = 0_u64;
        let stride = (u64::MAX / 100_003) | 1;
        let samples = (0..100_003_u64).map(|_| {
            v = v.wrapping_add(stride);
            v
        });
        let small = 0..1_u64 << 16;
        for v in small
            .chain(samples)
            .chain([u64::from(u32::MAX), u64::MAX - 1, u64::MAX])
        {
            let r = isqrt_u64(v);
            assert_eq!(u128::from(r), isqrt_u128(u128::from(v)), "isqrt({v})");
            assert!(exact(u128::from(v), u128::from(r)), "isqrt_u64({v})");
        }
    }

    #[test]
    fn ln_within_two_ulp_over_whole_range() {
        let mut worst = 0.0_f64;
        for raw in positive_raws() {
            let x = Q::from_bits(raw);
            let exact = to_f64(x).ln();
            let err = (to_f64(ln(x)) - exact).abs();
            worst = worst.max(err);
            assert!(err <= 2.0 * ULP, "ln({raw}): err {err}");
        }
        assert!(worst > 0.0);
        assert_eq!(ln(ZERO), Q::MIN);
        assert_eq!(ln(Q::from_num(-1)), Q::MIN);
        assert_eq!(ln(ONE), ZERO);
    }

    #[test]
    fn exp_within_bound_over_whole_range() {
        // Whole input range: below −11.1 the result is 0, above 10.4 it saturates.
        for raw in (i32::MIN..i32::MAX).step_by(7_919) {
            let x = Q::from_bits(raw);
            let exact = to_f64(x).exp().min(to_f64(Q::MAX));
            let got = to_f64(exp(x));
            let bound = 2.0 * ULP + exact * 2f64.powi(-24);
            assert!(
                (got - exact).abs() <= bound,
                "exp({}): {got} vs {exact}",
                to_f64(x)
            );
        }
        assert_eq!(exp(ZERO), ONE);
        assert_eq!(exp(Q::MAX), Q::MAX);
        assert_eq!(exp(Q::MIN), ZERO);
    }

    #[test]
    fn ratio_and_constants() {
        assert_eq!(ratio(1, 2), Q::from_num(0.5));
        assert_eq!(ratio(-3, 4), Q::from_num(-0.75));
        assert_eq!(ratio(1, 0), Q::MAX);
        assert_eq!(from_int(40_000), Q::MAX);
        assert_eq!(from_raw(65_536), ONE);
        assert_eq!(abs(Q::MIN), Q::MAX);
        assert_eq!(clamp(Q::from_num(3), ZERO, ONE), ONE);
    }
}
