//! Reputation-weighted mean with capped influence (docs/paper.md §5, §6).
//!
//! 1. Gate: contributions with `rep < min_reputation` are excluded.
//! 2. Weight `w_i = rep_i^e`, or `0.8·rep_i^e` for the paper's weight cap
//!    ([`influence_weight`], Q16.16), and cap `c_i` on the normalized share
//!    ([`influence_cap`]: `0.8·rep³` by default, `min(rep³, 0.8)`, or none;
//!    see [`crate::reputation::InfluenceCap`]).
//! 3. Water-filling, in exact integers with shares in units of 2^-32: the
//!    uncapped peers split the mass not held by capped peers in proportion
//!    to their weights, `s_i = (1 − Σ_capped c_j) · w_i / Σ_uncapped w_j`
//!    (floored); every peer whose `s_i > c_i` is fixed at `c_i`; repeat until
//!    no new peer is capped (at most `n + 1` passes: each pass but the last
//!    caps at least one more). Capping all violators of a pass at once is
//!    exact: capping raises the level `λ = free mass / free weight`, so a
//!    violator stays a violator.
//! 4. If every peer with weight is capped, which happens only when the caps
//!    sum below 1 (infeasible), the shares are the caps renormalized:
//!    `s_i = c_i / Σ c_j`. When `Σ c_i ≥ 1` (feasible) every final share
//!    respects its cap, up to the final normalization by `Σ s_i` (floors
//!    lose at most `n` units of 2^-32).
//! 5. `out_k = Σ s_i x_ik / Σ s_i`, exact in `i128`, rounded once.

use super::{AggregateError, Contribution, Scratch, Status, WeightedConfig, round_div, share_of};
use crate::q::{FRAC_BITS, Q};
use crate::reputation::{influence_cap, influence_weight};

/// 1.0 in share units (2^-32).
const UNIT: u64 = 1 << 32;

/// The reputation-weighted mean. Returns `(ops, capped count)`.
pub(super) fn weighted(
    config: &WeightedConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<(u64, u32), AggregateError> {
    let n = contributions.len();
    let (share_ops, total) = shares(config, contributions, scratch)?;
    for (k, slot) in out.iter_mut().enumerate() {
        let mut num: i128 = 0;
        for (c, &s) in contributions.iter().zip(scratch.shares.iter()) {
            num += i128::from(s) * i128::from(c.weights[k].to_bits());
        }
        *slot = round_div(num, i128::from(total));
    }
    let capped = finish_usage(scratch, out.len(), total);
    let ops = share_ops + (n as u64 + 1) * out.len() as u64;
    Ok((ops, capped))
}

/// Steps 1–4 of the module docs: fills `scratch.shares` (2^-32 units) and
/// `scratch.capped`, marks gated contributions. Returns `(ops, Σ shares)`
/// with `Σ shares > 0`, or [`AggregateError::NoWeight`]. Writes no output.
pub(super) fn shares(
    config: &WeightedConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
) -> Result<(u64, u64), AggregateError> {
    let n = contributions.len();
    let (load_ops, eligible) = load_weights(config, contributions, scratch);
    if scratch.weights.iter().all(|&w| w == 0) {
        return Err(AggregateError::NoWeight { eligible });
    }
    let passes = water_fill(scratch);
    let total: u64 = scratch.shares.iter().sum();
    if total == 0 {
        return Err(AggregateError::NoWeight { eligible });
    }
    assert_eq!(scratch.shares.len(), n);
    Ok((load_ops + passes * 2 * n as u64, total))
}

/// Fills `weights` (raw Q16.16 of [`influence_weight`]) and `caps` (2^-32
/// units); marks gated contributions. Returns `(ops, eligible count)`.
fn load_weights(
    config: &WeightedConfig,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
) -> (u64, usize) {
    scratch.weights.clear();
    scratch.caps.clear();
    let power_ops = ((config.exponent.to_bits() + 0xFFFF) >> FRAC_BITS) as u64;
    let mut ops = 0_u64;
    let mut eligible = 0_usize;
    for (i, c) in contributions.iter().enumerate() {
        ops += 1; // the gate comparison
        if c.reputation < config.min_reputation {
            scratch.usage[i].status = Status::Gated;
            scratch.weights.push(0);
            scratch.caps.push(0);
            continue;
        }
        eligible += 1;
        ops += power_ops + 3; // rep^e, then rep³ for the cap
        let weight = influence_weight(c.reputation, config.exponent, config.cap).to_bits();
        let cap = influence_cap(c.reputation, config.cap).to_bits();
        assert!(weight >= 0 && cap >= 0);
        scratch.weights.push(weight as u64);
        scratch.caps.push((cap as u64) << FRAC_BITS);
    }
    (ops, eligible)
}

/// Water-filling (module docs, steps 3–4) from `weights`/`caps` into
/// `shares`/`capped`. Returns the passes made.
fn water_fill(scratch: &mut Scratch) -> u64 {
    let n = scratch.weights.len();
    scratch.capped.clear();
    scratch.capped.resize(n, false);
    scratch.shares.clear();
    scratch.shares.resize(n, 0);
    let (weights, caps) = (&scratch.weights, &scratch.caps);
    let (shares, capped) = (&mut scratch.shares, &mut scratch.capped);
    for pass in 1..=n as u64 + 1 {
        let mut held_by_caps = 0_u64;
        let mut free_weight = 0_u64;
        for i in 0..n {
            if capped[i] {
                held_by_caps += caps[i];
            } else {
                free_weight += weights[i];
            }
        }
        if free_weight == 0 {
            // Every peer with weight is capped: the caps, renormalized later.
            for i in 0..n {
                shares[i] = if capped[i] { caps[i] } else { 0 };
            }
            return pass;
        }
        let free_mass = u128::from(UNIT.saturating_sub(held_by_caps));
        let mut newly_capped = false;
        for i in 0..n {
            if capped[i] {
                shares[i] = caps[i];
                continue;
            }
            let share = free_mass * u128::from(weights[i]) / u128::from(free_weight);
            shares[i] = share as u64;
            if shares[i] > caps[i] {
                capped[i] = true;
                newly_capped = true;
            }
        }
        if !newly_capped {
            return pass;
        }
    }
    unreachable!("water-filling caps one more peer per pass, so it ends within n + 1 passes");
}

/// Statuses and shares; returns how many peers are capped.
fn finish_usage(scratch: &mut Scratch, dim: usize, total: u64) -> u32 {
    let mut capped = 0_u32;
    for (i, u) in scratch.usage.iter_mut().enumerate() {
        let s = scratch.shares[i];
        capped += u32::from(scratch.capped[i]);
        u.share = share_of(u128::from(s), u128::from(total));
        if u.status == Status::Gated {
            continue;
        }
        if s == 0 {
            u.status = Status::ZeroWeight;
        } else {
            u.status = Status::Used;
            u.coords_kept = dim as u32;
        }
    }
    capped
}
