//! Weighted trimmed mean (docs/paper.md §6: the seed code's
//! `WeightedTrimmedMean`, "same trim, then a reputation-weighted mean of the
//! kept values"; §III-E trims among the peers the reputation gate admits).
//!
//! 1. **Shares**, exactly as the reputation-weighted mean computes them
//!    ([`super::weighted`], steps 1–4): the gate `rep ≥ min_reputation`,
//!    weights `w_i = rep_i^e` (or `0.8·rep_i^e`), the share cap, and
//!    water-filling over all `n` contributions, giving `s_i` in units of
//!    2^-32. No share anywhere: [`AggregateError::NoWeight`].
//! 2. **Trim**, per coordinate `k`, among the `n_e` contributions that pass
//!    the gate (gated ones take no part, as in §III-E): sort by
//!    `(value, peer)` and drop `t = ⌊β·n_e⌋` from each end.
//! 3. **Weighted mean of the kept values**:
//!    `out_k = Σ_kept s_i·x_ik / Σ_kept s_i`, exact in `i128`, rounded once.
//!    The shares are those of step 1, renormalized over each coordinate's
//!    kept values, so the cap bounds each peer's share of the whole round.
//!
//! Fallbacks, both deterministic and counted in the usage:
//! * `2t ≥ n_e` (only for β = 0.5 and even `n_e`): nothing would remain, so
//!   `t = 0` and the result is the reputation-weighted mean of the gated-in
//!   contributions (the seed code's fallback to the weighted mean).
//! * The kept values of a coordinate all have share 0 (reputations whose
//!   `rep^e` rounds to 0): that coordinate is the plain mean of its kept
//!   values. The output then still lies within the kept values, which is
//!   the trim's guarantee (attackers ≤ t cannot move it out of the honest
//!   range), whatever the weights.
//!
//! Ops: the share computation's, then per coordinate `n_e·⌈log₂ n_e⌉`
//! comparisons, one multiply-add and one share division per kept value,
//! and one output division.

use super::{
    AggregateError, Contribution, Scratch, Status, WeightedTrimConfig, round_div, share_of,
    sort_cost, weighted,
};
use crate::q::{FRAC_BITS, Q};

/// The weighted trimmed mean. Returns `(ops, values trimmed, capped count)`.
pub(super) fn weighted_trimmed_mean(
    config: &WeightedTrimConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<(u64, u64, u32), AggregateError> {
    let n = contributions.len();
    let dim = out.len();
    let (share_ops, total) = weighted::shares(&config.weighted, contributions, scratch)?;
    assert!(total > 0);
    let eligible = scratch
        .usage
        .iter()
        .filter(|u| u.status != Status::Gated)
        .count();
    // `shares` fails unless some contribution passed the gate.
    assert!(eligible > 0 && eligible <= n);
    let mut trim = config.trim.trim(eligible);
    if 2 * trim >= eligible {
        trim = 0;
    }
    let kept = eligible - 2 * trim;
    scratch.influence.clear();
    scratch.influence.resize(n, 0);
    let mut ops = share_ops;
    for (k, slot) in out.iter_mut().enumerate() {
        scratch.column.clear();
        for (i, c) in contributions.iter().enumerate() {
            if scratch.usage[i].status != Status::Gated {
                scratch
                    .column
                    .push((c.weights[k].to_bits(), c.peer, i as u32));
            }
        }
        assert_eq!(scratch.column.len(), eligible);
        scratch.column.sort_unstable();
        let middle = &scratch.column[trim..eligible - trim];
        let mut num: i128 = 0;
        let mut den: u128 = 0;
        for &(value, _, index) in middle {
            let s = scratch.shares[index as usize];
            num += i128::from(s) * i128::from(value);
            den += u128::from(s);
        }
        ops += sort_cost(eligible) + 2 * kept as u64 + 1;
        if den > 0 {
            *slot = round_div(num, den as i128);
            for &(_, _, index) in middle {
                let s = scratch.shares[index as usize];
                if s > 0 {
                    let i = index as usize;
                    scratch.usage[i].coords_kept += 1;
                    let share = share_of(u128::from(s), den);
                    scratch.influence[i] += u64::from(share.to_bits().unsigned_abs());
                }
            }
        } else {
            // Every kept value has share 0: their plain mean (module docs).
            let sum: i64 = middle.iter().map(|&(v, _, _)| i64::from(v)).sum();
            *slot = round_div(i128::from(sum), kept as i128);
            let share = share_of(1, kept as u128);
            for &(_, _, index) in middle {
                let i = index as usize;
                scratch.usage[i].coords_kept += 1;
                scratch.influence[i] += u64::from(share.to_bits().unsigned_abs());
            }
            ops += kept as u64 + 1;
        }
    }
    let capped = finish_usage(scratch, dim);
    Ok((ops, (2 * trim * dim) as u64, capped))
}

/// Statuses and shares (the mean over coordinates of each contribution's
/// normalized weight, truncated); returns how many peers are capped.
fn finish_usage(scratch: &mut Scratch, dim: usize) -> u32 {
    let mut capped = 0_u32;
    for (i, u) in scratch.usage.iter_mut().enumerate() {
        capped += u32::from(scratch.capped[i]);
        assert!(u.coords_kept as usize <= dim);
        let mean = scratch.influence[i] / dim as u64;
        assert!(mean <= 1 << FRAC_BITS);
        u.share = Q::from_bits(mean as i32);
        u.status = match u.status {
            Status::Gated => Status::Gated,
            _ if u.coords_kept > 0 => Status::Used,
            _ if scratch.shares[i] == 0 => Status::ZeroWeight,
            _ => Status::Trimmed,
        };
    }
    capped
}
