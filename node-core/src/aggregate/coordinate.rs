//! Coordinate-wise rules: mean, trimmed mean, median (docs/paper.md §6).

use alloc::vec::Vec;

use super::{
    AggregateError, Contribution, Scratch, Status, TrimConfig, Usage, round_div, share_of,
    sort_cost,
};
use crate::q::{Acc, FRAC_BITS, Q};
use crate::runtime::NodeId;

/// Mean: `out_k = Σ_i x_ik / n`, summed exactly in [`Acc`] and divided once
/// (round to nearest). Returns the rule's ops (`n·d` additions, `d`
/// divisions).
pub(super) fn mean(
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> u64 {
    let n = contributions.len();
    let den = (n as i128) << FRAC_BITS;
    for (k, slot) in out.iter_mut().enumerate() {
        let mut acc = Acc::new();
        for c in contributions {
            acc.add(c.weights[k]);
        }
        *slot = round_div(i128::from(acc.raw_q32()), den);
    }
    let share = share_of(1, n as u128);
    for u in scratch.usage.iter_mut() {
        u.coords_kept = out.len() as u32;
        u.share = share;
    }
    (n as u64 + 1) * out.len() as u64
}

/// The full ops of [`super::Rule::TrimmedMean`] on `n` contributions of
/// dimension `dim` trimming `trim` per side, validation included:
/// `n⌈log₂n⌉ + d·(n⌈log₂n⌉ + (n − 2t) + 1)`. [`super::AdaptiveAggregator`]
/// uses it to count the work it saves.
pub fn trimmed_mean_ops(n: usize, dim: usize, trim: usize) -> u64 {
    let kept = n.saturating_sub(2 * trim) as u64;
    sort_cost(n) + dim as u64 * (sort_cost(n) + kept + 1)
}

/// Trimmed mean: per coordinate, sort by `(value, peer)`, drop `t = ⌊β·n⌋`
/// from each end, `out_k` = exact mean of the `n − 2t` others.
/// Returns `(ops, values trimmed)`.
pub(super) fn trimmed_mean(
    config: &TrimConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<(u64, u64), AggregateError> {
    let n = contributions.len();
    let trim = config.trim(n);
    if 2 * trim >= n {
        return Err(AggregateError::TooFewForTrim { n, trim });
    }
    let kept = n - 2 * trim;
    for (k, slot) in out.iter_mut().enumerate() {
        sort_column(contributions, k, &mut scratch.column);
        let middle = &scratch.column[trim..n - trim];
        let sum: i64 = middle.iter().map(|&(v, _, _)| i64::from(v)).sum();
        *slot = round_div(i128::from(sum), kept as i128);
        mark_kept(middle, &mut scratch.usage);
    }
    finish_usage(&mut scratch.usage, out.len(), kept);
    let ops = trimmed_mean_ops(n, out.len(), trim) - sort_cost(n);
    Ok((ops, (2 * trim * out.len()) as u64))
}

/// Median: per coordinate, sort by `(value, peer)`; odd `n`: the middle
/// value; even `n`: the mean of the two middle values, rounded to nearest
/// (half away from zero), which stays between them.
/// Returns `(ops, values trimmed)`.
pub(super) fn median(
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> (u64, u64) {
    let n = contributions.len();
    let (lo, hi) = if n % 2 == 1 {
        (n / 2, n / 2 + 1)
    } else {
        (n / 2 - 1, n / 2 + 1)
    };
    let kept = hi - lo;
    for (k, slot) in out.iter_mut().enumerate() {
        sort_column(contributions, k, &mut scratch.column);
        let middle = &scratch.column[lo..hi];
        let sum: i64 = middle.iter().map(|&(v, _, _)| i64::from(v)).sum();
        *slot = round_div(i128::from(sum), kept as i128);
        mark_kept(middle, &mut scratch.usage);
    }
    finish_usage(&mut scratch.usage, out.len(), kept);
    let dim = out.len() as u64;
    (
        dim * (sort_cost(n) + kept as u64 + 1),
        dim * (n - kept) as u64,
    )
}

/// Fills `column` with coordinate `k` as `(raw value, peer, index)` and
/// sorts it: ties on value go to the lower peer id. Allocates only if
/// `column` never held `n` entries before.
pub(super) fn sort_column(
    contributions: &[Contribution<'_>],
    k: usize,
    column: &mut Vec<(i32, NodeId, u32)>,
) {
    column.clear();
    column.extend(
        contributions
            .iter()
            .enumerate()
            .map(|(i, c)| (c.weights[k].to_bits(), c.peer, i as u32)),
    );
    column.sort_unstable();
}

/// [`sort_column`] over the contributions at `indices` only.
pub(super) fn sort_column_of(
    contributions: &[Contribution<'_>],
    indices: &[u32],
    k: usize,
    column: &mut Vec<(i32, NodeId, u32)>,
) {
    column.clear();
    column.extend(indices.iter().map(|&i| {
        let c = &contributions[i as usize];
        (c.weights[k].to_bits(), c.peer, i)
    }));
    column.sort_unstable();
}

pub(super) fn mark_kept(middle: &[(i32, NodeId, u32)], usage: &mut [Usage]) {
    for &(_, _, index) in middle {
        usage[index as usize].coords_kept += 1;
    }
}

/// Status and share from `coords_kept`: each kept value weighs `1/kept` in
/// its coordinate, so the share is `coords_kept / (d · kept)`.
pub(super) fn finish_usage(usage: &mut [Usage], dim: usize, kept: usize) {
    let den = (dim * kept) as u128;
    for u in usage.iter_mut() {
        assert!(u.coords_kept as usize <= dim);
        u.status = if u.coords_kept == 0 {
            Status::Trimmed
        } else {
            Status::Used
        };
        u.share = share_of(u128::from(u.coords_kept), den);
    }
}
