//! Geometric median by the smoothed Weiszfeld algorithm (Pillutla, Kakade
//! and Harchaoui, "Robust Aggregation for Federated Learning", IEEE TSP
//! 2022, Algorithm 2 / "RFA").
//!
//! The geometric median minimizes `g(z) = Σ_i ‖z − x_i‖`. Its ν-smoothed
//! version replaces each term `r = ‖z − x_i‖` by `r` if `r ≥ ν` and by
//! `r²/(2ν) + ν/2` otherwise, so `g ≤ g_ν ≤ g + nν/2`. Starting from the
//! exact mean, each of `T` iterations is one smoothed Weiszfeld step
//!
//! `β_i = 1 / max(ν, ‖z − x_i‖)`, `z ← Σ_i β_i x_i / Σ_i β_i`,
//!
//! which never increases `g_ν` (it minimizes a quadratic majorizer of
//! `g_ν`) and converges at rate `O(1/T)` in `g_ν` (Pillutla et al., §III).
//! A fixed `T` keeps the work bounded;
//! Pillutla et al. report 2–3 iterations to be enough in practice.
//!
//! Fixed point. Distances are exact roots floored to raw units (error < 1
//! raw unit = 2^-16), weights are `⌊2^64 / max(ν_raw, d_raw)⌋` (relative
//! error ≤ 2^-24 while distances stay below 2^24 in Q16.16), the weighted
//! sums are exact `i128`s and each coordinate is rounded once per iteration
//! (≤ 1/2 ulp). So each computed iterate is within about 2^-17 per
//! coordinate of the exact smoothed step from the same point, and every
//! iterate — the output included — is a convex combination of the inputs
//! up to that rounding: each output coordinate lies within the inputs'
//! range of that coordinate. No bound on the distance to the exact
//! geometric median after `T` steps is claimed beyond the `O(1/T)` rate.
//!
//! Robustness: the geometric median has breakdown point 1/2; it needs no
//! `f` and has no `n`/`f` condition to check.

use super::vector::distance_raw;
use super::{ConfigError, Contribution, MAX_ITERATIONS, Scratch, round_div, share_of};
use crate::q::{self, FRAC_BITS, Q};

/// Geometric median parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeometricMedianConfig {
    /// Weiszfeld iterations `T`, `1..=MAX_ITERATIONS`. Default 8.
    pub iterations: u32,
    /// Smoothing ν > 0. Default 2^-10 ≈ 0.001 (small against the spread of
    /// honest models, so the result is close to the unsmoothed median).
    pub smoothing: Q,
}

impl Default for GeometricMedianConfig {
    fn default() -> Self {
        GeometricMedianConfig {
            iterations: 8,
            smoothing: q::from_raw(1 << (FRAC_BITS - 10)),
        }
    }
}

impl GeometricMedianConfig {
    /// Checks the iteration count and ν.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return Err(ConfigError::IterationsOutOfRange {
                iterations: self.iterations,
            });
        }
        if self.smoothing <= q::ZERO {
            return Err(ConfigError::SmoothingNotPositive);
        }
        Ok(())
    }
}

/// The smoothed Weiszfeld geometric median into `out`. Returns the ops:
/// the initial mean (`(n + 1)·d`), then per iteration `n·d` squared
/// differences, `n` roots and `n` weight divisions, `n·d` multiply-adds and
/// `d` divisions.
pub(super) fn geometric_median(
    config: &GeometricMedianConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> u64 {
    let n = contributions.len();
    let dim = out.len();
    for (k, slot) in out.iter_mut().enumerate() {
        let sum: i64 = contributions
            .iter()
            .map(|c| i64::from(c.weights[k].to_bits()))
            .sum();
        *slot = round_div(i128::from(sum), n as i128);
    }
    let nu = config.smoothing.to_bits() as u64;
    for _ in 0..config.iterations {
        scratch.row.clear();
        for c in contributions {
            let d = distance_raw(out, c.weights).max(nu);
            scratch.row.push((1_u128 << 64) / u128::from(d));
        }
        let total: u128 = scratch.row.iter().sum();
        for (k, slot) in out.iter_mut().enumerate() {
            let sum: i128 = contributions
                .iter()
                .zip(scratch.row.iter())
                .map(|(c, &w)| w as i128 * i128::from(c.weights[k].to_bits()))
                .sum();
            *slot = round_div(sum, total as i128);
        }
    }
    let total: u128 = scratch.row.iter().sum();
    for (u, &w) in scratch.usage.iter_mut().zip(scratch.row.iter()) {
        u.coords_kept = dim as u32;
        u.share = share_of(w, total);
    }
    let (n, d, t) = (n as u64, dim as u64, u64::from(config.iterations));
    (n + 1) * d + t * (2 * n * d + 2 * n + d)
}
