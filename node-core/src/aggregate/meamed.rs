//! Meamed, the mean around the median (Xie, Koyejo and Gupta, "Generalized
//! Byzantine-tolerant SGD", 2018, §3 "Mean-around-Median").
//!
//! Per coordinate `k`, with `med_k` the coordinate-wise median of the `n`
//! values (even `n`: the mean of the two middle values), the output is the
//! mean of the `n − f` values closest to `med_k`:
//!
//! `out_k = (1 / (n − f)) · Σ_{i ∈ N_k} x_ik`, `N_k` = the `n − f` indices
//! with the smallest `|x_ik − med_k|`.
//!
//! In the column sorted by `(value, peer)` those values form a contiguous
//! window around the median; it is grown from the middle one value at a
//! time, taking the closer end (equal distances → the lower value, then
//! the lower peer id through the sort), so the result does not depend on
//! input order. Distances are compared as `|2·x − 2·med|` on raw bits, so
//! the median is never rounded.
//!
//! Condition: `n ≥ 2f + 1` (an honest majority), else
//! [`AggregateError::MajorityCondition`]. Then the median lies within the
//! honest values' range, and when every Byzantine value of a coordinate is
//! farther from the median than every honest one (far outliers), the
//! `n − f` kept values are all honest and the output lies within the
//! honest range. A Byzantine value closer to the median than some honest
//! one can be kept; it then lies within the median's distance to that
//! honest value.
//!
//! Fixed-point error: selection exact; one rounding per coordinate
//! (≤ 1/2 ulp = 2^-17).

use super::coordinate::{finish_usage, mark_kept, sort_column};
use super::{
    AggregateError, Contribution, Faults, Scratch, require_majority, round_div, sort_cost,
};
use crate::q::Q;
use crate::runtime::NodeId;

/// Meamed parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeamedConfig {
    /// Byzantine contributions tolerated; `n − f` values are kept per
    /// coordinate. Default 1.
    pub f: Faults,
}

/// Meamed with `f` resolved. Returns `(ops, values trimmed)`: per
/// coordinate a sort, `n − f` window steps and additions, one division.
pub(super) fn meamed(
    f: usize,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<(u64, u64), AggregateError> {
    let n = contributions.len();
    require_majority("meamed", n, f)?;
    let keep = n - f;
    for (k, slot) in out.iter_mut().enumerate() {
        sort_column(contributions, k, &mut scratch.column);
        let (lo, hi) = window_around_median(&scratch.column, keep);
        let kept = &scratch.column[lo..hi];
        let sum: i64 = kept.iter().map(|&(v, _, _)| i64::from(v)).sum();
        *slot = round_div(i128::from(sum), keep as i128);
        mark_kept(kept, &mut scratch.usage);
    }
    finish_usage(&mut scratch.usage, out.len(), keep);
    let dim = out.len() as u64;
    Ok((dim * (sort_cost(n) + 2 * keep as u64 + 1), dim * f as u64))
}

/// The window `[lo, hi)` of the `keep` entries of the sorted `column`
/// closest to its median (module docs). Precondition `1 ≤ keep ≤ len`.
pub(super) fn window_around_median(column: &[(i32, NodeId, u32)], keep: usize) -> (usize, usize) {
    let n = column.len();
    assert!(keep >= 1 && keep <= n);
    let value = |i: usize| i64::from(column[i].0);
    let median2 = if n % 2 == 1 {
        2 * value(n / 2)
    } else {
        value(n / 2 - 1) + value(n / 2)
    };
    let distance = |i: usize| (2 * value(i) - median2).unsigned_abs();
    // Window [lo, hi) grows from empty at the middle; `lo` steps down, `hi` up.
    let mut lo = n.div_ceil(2);
    let mut hi = lo;
    for _ in 0..keep {
        let take_left = match (lo > 0, hi < n) {
            (true, true) => distance(lo - 1) <= distance(hi),
            (true, false) => true,
            (false, true) => false,
            (false, false) => unreachable!("keep ≤ n"),
        };
        if take_left {
            lo -= 1;
        } else {
            hi += 1;
        }
    }
    assert_eq!(hi - lo, keep);
    (lo, hi)
}
