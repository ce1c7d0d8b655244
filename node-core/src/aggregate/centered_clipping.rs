//! Centered clipping (Karimireddy, He and Jaggi, "Learning from History for
//! Byzantine Robust Optimization", ICML 2021, Algorithm 2 / eq. (CC)).
//!
//! From a center `v_0`, `L` iterations of
//!
//! `v ← v + (1/n) Σ_i (x_i − v) · min(1, τ / ‖x_i − v‖)`
//!
//! i.e. each contribution's offset from the current center is clipped to
//! L2 norm `τ` and the mean clipped offset is added. A Byzantine
//! contribution moves the center by at most `τ/n` per iteration however
//! far it lies.
//!
//! **The center in a peer-to-peer node.** Karimireddy et al. center on the
//! server's previous aggregate (its momentum). A RaaS node has no server;
//! its counterpart is the node's own current model — last round's aggregate
//! plus the node's own training, and trusted by the node by construction —
//! so [`Center::Own`] (default) starts from the contribution whose peer id
//! is [`super::Context::own`]. A host aggregating without an own model (or
//! distrusting it) can choose [`Center::Median`], the coordinate-wise
//! median, which is within the honest range under an honest majority but
//! costs a sort per coordinate.
//!
//! No `n`/`f` condition: the guarantee (Karimireddy et al., Thm. IV) is
//! stated for a Byzantine fraction below about 0.1 and a radius tuned to
//! the honest spread; neither is checkable from one round's models.
//!
//! Fixed point. Distances are exact roots floored to raw units (< 2^-16
//! low), clip factors are `⌊τ_raw · 2^32 / d_raw⌋ / 2^32` (truncated,
//! relative error ≤ 2^-32 · d_raw / τ_raw), the sum of clipped offsets is
//! an exact `i128` and each coordinate is rounded once per iteration
//! (≤ 1/2 ulp). A clipped offset's norm is at most `τ · d / ⌊d⌋ ≤ τ + τ/d`
//! raw units. Each iteration is a convex combination of the center and
//! the inputs, so the output stays within the range of the center and the
//! inputs, per coordinate, up to the roundings.

use super::coordinate;
use super::vector::distance_raw;
use super::{ConfigError, Contribution, MAX_ITERATIONS, Scratch, Status, round_div_wide, share_of};
use crate::q::{self, Q};

/// Where centered clipping starts (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Center {
    /// The node's own model ([`super::Context::own`]). Default.
    #[default]
    Own,
    /// The coordinate-wise median of the contributions.
    Median,
}

/// Centered clipping parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CenteredClippingConfig {
    /// Clipping radius τ > 0 (L2 norm, model units). Default 1.
    pub radius: Q,
    /// Iterations `L`, `1..=MAX_ITERATIONS`. Default 3 (Karimireddy et al.
    /// use 1 with momentum; without momentum more iterations let the
    /// center travel further toward the honest cluster).
    pub iterations: u32,
    /// The starting center. Default the node's own model.
    pub center: Center,
}

impl Default for CenteredClippingConfig {
    fn default() -> Self {
        CenteredClippingConfig {
            radius: q::ONE,
            iterations: 3,
            center: Center::Own,
        }
    }
}

impl CenteredClippingConfig {
    /// Checks τ and the iteration count.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.radius <= q::ZERO {
            return Err(ConfigError::RadiusNotPositive);
        }
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return Err(ConfigError::IterationsOutOfRange {
                iterations: self.iterations,
            });
        }
        Ok(())
    }
}

/// Centered clipping from `own` (its index) or, if `None`, the coordinate
/// median. Returns `(ops, contributions clipped in the last iteration)`.
/// Ops: the median's if used, then per iteration `n·d` squared differences,
/// `n` roots and `n` factor divisions, `n·d` multiply-adds, `d` divisions.
pub(super) fn centered_clipping(
    config: &CenteredClippingConfig,
    own: Option<usize>,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> (u64, u32) {
    let n = contributions.len();
    let dim = out.len();
    let mut ops = 0;
    match own {
        Some(i) => out.copy_from_slice(contributions[i].weights),
        None => ops += coordinate::median(contributions, scratch, out).0,
    }
    let tau = u128::from(config.radius.to_bits() as u32);
    let one = 1_u128 << 32;
    let den = (n as i128) << 32;
    let mut clipped = 0;
    for _ in 0..config.iterations {
        scratch.row.clear();
        clipped = 0;
        for c in contributions {
            let d = u128::from(distance_raw(out, c.weights));
            let factor = if d <= tau { one } else { (tau << 32) / d };
            clipped += u32::from(d > tau);
            scratch.row.push(factor);
        }
        for (k, slot) in out.iter_mut().enumerate() {
            let center = i64::from(slot.to_bits());
            let sum: i128 = contributions
                .iter()
                .zip(scratch.row.iter())
                .map(|(c, &w)| w as i128 * i128::from(i64::from(c.weights[k].to_bits()) - center))
                .sum();
            let moved = i128::from(center) + round_div_wide(sum, den);
            *slot = Q::from_bits(moved.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32);
        }
    }
    for (u, &w) in scratch.usage.iter_mut().zip(scratch.row.iter()) {
        u.status = Status::Used;
        u.coords_kept = dim as u32;
        u.share = share_of(w, one * n as u128);
    }
    let (n, d, l) = (n as u64, dim as u64, u64::from(config.iterations));
    (ops + l * (2 * n * d + 2 * n + d), clipped)
}
