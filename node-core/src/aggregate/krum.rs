//! Krum and Multi-Krum (Blanchard et al., NeurIPS 2017; docs/paper.md §6).

use super::{
    AggregateError, Contribution, KrumConfig, Scratch, Status, round_div, share_of, sort_cost,
};
use crate::q::Q;

/// Krum / Multi-Krum.
///
/// `D_ij = Σ_k (x_ik − x_jk)²` exactly on raw bits (`u128`, units 2^-32);
/// `score_i = Σ` of the `n − f − 2` smallest `D_ij` over `j ≠ i`. The `m`
/// contributions with the lowest `(score, peer)` are selected (ties → lowest
/// peer id) and averaged exactly. Requires `n ≥ 2f + 3` and `m ≤ n − f`.
/// Returns the rule's ops: `d` per pair distance, a row sort and
/// `n − f − 2` additions per score, the score sort, `m·d` additions and
/// `d` divisions for the mean.
pub(super) fn krum(
    config: &KrumConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<u64, AggregateError> {
    let n = contributions.len();
    if (n as u64) < 2 * u64::from(config.f) + 3 {
        return Err(AggregateError::KrumCondition { n, f: config.f });
    }
    let f = config.f as usize;
    let m = config.m as usize;
    if m > n - f {
        return Err(AggregateError::KrumSelection {
            m: config.m,
            n,
            f: config.f,
        });
    }
    let closest = n - f - 2;
    assert!(closest >= 1);
    fill_distances(contributions, &mut scratch.distances);
    scratch.scores.clear();
    for (i, c) in contributions.iter().enumerate() {
        scratch.row.clear();
        scratch.row.extend(
            (0..n)
                .filter(|&j| j != i)
                .map(|j| distance(&scratch.distances, n, i, j)),
        );
        scratch.row.sort_unstable();
        let score: u128 = scratch.row[..closest].iter().sum();
        scratch.scores.push((score, c.peer, i as u32));
    }
    scratch.scores.sort_unstable();
    mean_of_selected(contributions, scratch, m, out);
    let dim = out.len() as u64;
    let pairs = (n * (n - 1) / 2) as u64;
    let scoring = n as u64 * (sort_cost(n - 1) + closest as u64);
    Ok(pairs * dim + scoring + sort_cost(n) + (m as u64 + 1) * dim)
}

/// The upper triangle of `D`, row-major: `(0,1), (0,2), …, (1,2), …`.
fn fill_distances(contributions: &[Contribution<'_>], distances: &mut alloc::vec::Vec<u128>) {
    let n = contributions.len();
    distances.clear();
    for i in 0..n {
        for j in i + 1..n {
            let a = contributions[i].weights;
            let b = contributions[j].weights;
            let d: u128 = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| {
                    let diff = i64::from(x.to_bits()) - i64::from(y.to_bits());
                    u128::from(diff.unsigned_abs()).pow(2)
                })
                .sum();
            distances.push(d);
        }
    }
    assert_eq!(distances.len(), n * (n - 1) / 2);
}

/// `D_ij` from the upper triangle (`i ≠ j`).
fn distance(distances: &[u128], n: usize, i: usize, j: usize) -> u128 {
    assert_ne!(i, j);
    let (a, b) = if i < j { (i, j) } else { (j, i) };
    // Row a starts after rows 0..a, of lengths n−1, n−2, …, n−a.
    let row_start = a * (2 * n - a - 1) / 2;
    distances[row_start + (b - a - 1)]
}

/// Writes the exact mean of the `m` best-scored contributions and marks
/// usage: selected → used, share `1/m`; others → not selected.
fn mean_of_selected(
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
