//! Krum and Multi-Krum (Blanchard et al., "Machine Learning with
//! Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017;
//! docs/paper.md §6).
//!
//! `D_ij = Σ_k (x_ik − x_jk)²` exactly on raw bits (`u128`, units 2^-32);
//! `score_i = Σ` of the `k` smallest `D_ij` over `j ≠ i`, where `k` is the
//! paper's `n − f − 2` ([`KrumNeighbours::Paper`], default) or ByzFL's
//! `n − f − 1` ([`KrumNeighbours::ByzFl`]). The `m` contributions with the
//! lowest `(score, peer)` are selected (ties → lowest peer id) and averaged
//! exactly. Requires `n ≥ 2f + 3` (both neighbour counts: it is the paper's
//! condition for its guarantee) and `m ≤ n − f`.
//!
//! Fixed-point error: the selection is exact (integer distances); the mean
//! of the selected models is rounded once per coordinate (≤ 1/2 ulp =
//! 2^-17).

use super::vector::{fill_distances, pair};
use super::{
    AggregateError, Contribution, KrumConfig, KrumNeighbours, Scratch, Status, round_div, share_of,
    sort_cost,
};
use crate::q::Q;

/// Krum / Multi-Krum with `f` already resolved. Returns the rule's ops:
/// `d` per pair distance, a row sort and `k` additions per score, the score
/// sort, `m·d` additions and `d` divisions for the mean.
pub(super) fn krum(
    config: &KrumConfig,
    f: usize,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<u64, AggregateError> {
    let n = contributions.len();
    if (n as u64) < 2 * f as u64 + 3 {
        return Err(AggregateError::KrumCondition { n, f: f as u32 });
    }
    let m = config.m as usize;
    if m > n - f {
        return Err(AggregateError::KrumSelection {
            m: config.m,
            n,
            f: f as u32,
        });
    }
    fill_distances(n, |i| contributions[i].weights, &mut scratch.distances);
    scratch.capped.clear();
    scratch.capped.resize(n, true);
    let closest = score_candidates(contributions, f, config.neighbours, scratch);
    scratch.scores.sort_unstable();
    mean_of_selected(contributions, scratch, m, out);
    let dim = out.len() as u64;
    let pairs = (n * (n - 1) / 2) as u64;
    let scoring = n as u64 * (sort_cost(n - 1) + closest as u64);
    Ok(pairs * dim + scoring + sort_cost(n) + (m as u64 + 1) * dim)
}

/// Fills `scratch.scores` with `(score, peer, index)` of every contribution
/// whose candidate flag (kept in `scratch.capped`) is set, each score summing its `k`
/// smallest distances to the other candidates, `k = neighbours.count(r, f)`
/// for `r` candidates, at least 1 (below 1 only in Bulyan's last two
/// selections, see its module docs) and at most `r − 1`. Uses
/// `scratch.distances` (from [`fill_distances`]). Returns `k`.
pub(super) fn score_candidates(
    contributions: &[Contribution<'_>],
    f: usize,
    neighbours: KrumNeighbours,
    scratch: &mut Scratch,
) -> usize {
    let n = contributions.len();
    assert_eq!(scratch.capped.len(), n);
    let r = scratch.capped.iter().filter(|&&c| c).count();
    assert!(r >= 2);
    let closest = neighbours.count(r, f).clamp(1, r as i64 - 1) as usize;
    scratch.scores.clear();
    for (i, c) in contributions.iter().enumerate() {
        if !scratch.capped[i] {
            continue;
        }
        scratch.row.clear();
        for j in 0..n {
            if j != i && scratch.capped[j] {
                scratch.row.push(pair(&scratch.distances, n, i, j));
            }
        }
        scratch.row.sort_unstable();
        let score: u128 = scratch.row[..closest].iter().sum();
        scratch.scores.push((score, c.peer, i as u32));
    }
    closest
}

/// Writes the exact mean of the `m` best-scored contributions and marks
/// usage: selected → used, share `1/m`; others → not selected.
pub(super) fn mean_of_selected(
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    m: usize,
    out: &mut [Q],
) {
    let selected = &scratch.scores[..m];
    for (k, slot) in out.iter_mut().enumerate() {
        let sum: i64 = selected
            .iter()
            .map(|&(_, _, i)| i64::from(contributions[i as usize].weights[k].to_bits()))
            .sum();
        *slot = round_div(i128::from(sum), m as i128);
    }
    for u in scratch.usage.iter_mut() {
        u.status = Status::NotSelected;
    }
    let share = share_of(1, m as u128);
    for &(_, _, i) in selected {
        let u = &mut scratch.usage[i as usize];
        u.status = Status::Used;
        u.coords_kept = out.len() as u32;
        u.share = share;
    }
}
