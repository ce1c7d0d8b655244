//! Bulyan (El Mhamdi, Guerraoui and Rouault, "The Hidden Vulnerability of
//! Distributed Learning in Byzantium", ICML 2018, §4).
//!
//! 1. **Selection.** `θ = n − 2f` times: score the remaining candidates by
//!    Krum (each score sums the `k` smallest squared distances to the other
//!    remaining candidates) and move the lowest `(score, peer)` into the
//!    selection `S`.
//! 2. **Aggregation.** `β = θ − 2f`; per coordinate `k`, the mean of the `β`
//!    values of `S` closest to their median (the rule of [`super::meamed`]
//!    applied to `S` with `β` kept).
//!
//! Condition: `n ≥ 4f + 3` (the paper's), else
//! [`AggregateError::BulyanCondition`] — never a fallback to Krum or the
//! median. Then `β ≥ 3`.
//!
//! Neighbours per Krum score with `r` candidates left: `k = r − f − 2`
//! ([`KrumNeighbours::Paper`], default) or `r − f − 1`
//! ([`KrumNeighbours::ByzFl`]). The selection runs down to `r = 2f + 1`
//! candidates, where the paper's count is `f − 1`; for `f = 1` it reaches 0
//! in the last step, and `k` is then taken as 1 (the paper leaves this case
//! undefined; a zero-neighbour score would tie every candidate and pick by
//! peer id). The clamp is part of the rule's definition here, not a
//! fallback: the `n`/`f` condition is always checked first.
//!
//! Fixed-point error: selection exact (integer distances); one rounding per
//! output coordinate (≤ 1/2 ulp = 2^-17). The median of each coordinate
//! of `S` lies within the honest values' range (at most `f` of the
//! `θ ≥ 2f + 3` selected are Byzantine); when every Byzantine value of a
//! coordinate is farther from that median than every honest one (e.g. far
//! outliers), the `β ≤ θ − f` kept values are all honest and the output
//! lies within the honest range. Close-in Byzantine values can be kept and
//! pull the mean by at most their distance to the median, which is bounded
//! by the honest spread (the guarantee El Mhamdi et al. prove in norm).

use super::coordinate::{finish_usage, mark_kept, sort_column_of};
use super::krum::score_candidates;
use super::meamed::window_around_median;
use super::vector::fill_distances;
use super::{
    AggregateError, Contribution, Faults, KrumNeighbours, Scratch, Status, round_div, sort_cost,
};
use crate::q::Q;

/// Bulyan parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulyanConfig {
    /// Byzantine contributions tolerated. Requires `n ≥ 4f + 3`. Default 1.
    pub f: Faults,
    /// Neighbours per Krum score in the selection. Default the paper's.
    pub neighbours: KrumNeighbours,
}

impl BulyanConfig {
    /// Checks `f`.
    pub fn validate(&self) -> Result<(), super::ConfigError> {
        self.f.validate()
    }
}

/// Bulyan with `f` resolved. Returns `(ops, values trimmed)`.
pub(super) fn bulyan(
    config: &BulyanConfig,
    f: usize,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<(u64, u64), AggregateError> {
    let n = contributions.len();
    if (n as u64) < 4 * f as u64 + 3 {
        return Err(AggregateError::BulyanCondition { n, f: f as u32 });
    }
    let theta = n - 2 * f;
    let beta = theta - 2 * f;
    assert!(beta >= 3);
    let dim = out.len();
    let mut ops = (n * (n - 1) / 2 * dim) as u64;
    fill_distances(n, |i| contributions[i].weights, &mut scratch.distances);
    scratch.capped.clear();
    scratch.capped.resize(n, true);
    scratch.order.clear();
    for step in 0..theta {
        let r = n - step;
        if r == 1 {
            // f = 0 selects everyone: the last candidate needs no score
            // (a Krum score needs another candidate to measure against).
            let last = scratch.capped.iter().position(|&c| c);
            let last = last.expect("theta ≤ n leaves a candidate at every step");
            scratch.capped[last] = false;
            scratch.order.push(last as _);
            ops += r as u64;
            continue;
        }
        let closest = score_candidates(contributions, f, config.neighbours, scratch);
        let &(_, _, best) = scratch.scores.iter().min().expect("r ≥ 2 candidates");
        scratch.capped[best as usize] = false;
        scratch.order.push(best);
        ops += r as u64 * (sort_cost(r - 1) + closest as u64 + 1);
    }
    for (k, slot) in out.iter_mut().enumerate() {
        sort_column_of(contributions, &scratch.order, k, &mut scratch.column);
        let (lo, hi) = window_around_median(&scratch.column, beta);
        let kept = &scratch.column[lo..hi];
        let sum: i64 = kept.iter().map(|&(v, _, _)| i64::from(v)).sum();
        *slot = round_div(i128::from(sum), beta as i128);
        mark_kept(kept, &mut scratch.usage);
    }
    finish_usage(&mut scratch.usage, dim, beta);
    for (i, u) in scratch.usage.iter_mut().enumerate() {
        if scratch.capped[i] {
            u.status = Status::NotSelected;
        }
    }
    ops += dim as u64 * (sort_cost(theta) + 2 * beta as u64 + 1);
    Ok((ops, (dim * (n - beta)) as u64))
}
