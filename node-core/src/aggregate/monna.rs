//! MoNNA, the mean of the node's nearest neighbours (Farhadkhani,
//! Guerraoui, Gupta, Hoang, Pinot and Stephan, "Robust Collaborative
//! Learning with Linear Gradient Overhead", ICML 2023, §3).
//!
//! With `x_own` the node's own model ([`super::Context::own`]), the output
//! is the exact mean of the `n − f` contributions nearest to it in L2
//! distance, the own model included (distance 0):
//!
//! `out = (1 / (n − f)) · Σ_{i ∈ N} x_i`, `N` = the `n − f` indices with the
//! smallest `(‖x_i − x_own‖², peer)`.
//!
//! MoNNA is meant for peer-to-peer learning: an honest node trusts its own
//! model and lets in only the peers closest to it, so `f` Byzantine peers
//! can move it by at most the distance of its `(n − f)`-th nearest honest
//! peer. Condition: `n ≥ 2f + 1` (an honest majority, the paper's
//! setting), else [`AggregateError::MajorityCondition`]; the own model must
//! be among the contributions ([`AggregateError::NoOwnModel`],
//! [`AggregateError::OwnNotFound`]).
//!
//! Fixed-point error: selection exact (integer squared distances); the
//! mean is rounded once per coordinate (≤ 1/2 ulp = 2^-17).

use super::krum::mean_of_selected;
use super::vector::squared_distance;
use super::{AggregateError, Contribution, Faults, Scratch, require_majority, sort_cost};
use crate::q::Q;

/// MoNNA parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonnaConfig {
    /// Byzantine contributions tolerated; the `n − f` nearest are averaged.
    /// Default 1.
    pub f: Faults,
}

/// MoNNA with `f` resolved around the contribution at index `own`.
/// Returns the ops: `n·d` squared differences, a sort, `(n − f)·d`
/// additions and `d` divisions.
pub(super) fn monna(
    f: usize,
    own: usize,
    contributions: &[Contribution<'_>],
    scratch: &mut Scratch,
    out: &mut [Q],
) -> Result<u64, AggregateError> {
    let n = contributions.len();
    require_majority("monna", n, f)?;
    let keep = n - f;
    let center = contributions[own].weights;
    scratch.scores.clear();
    scratch.scores.extend(
        contributions
            .iter()
            .enumerate()
            .map(|(i, c)| (squared_distance(center, c.weights), c.peer, i as u32)),
    );
    scratch.scores.sort_unstable();
    mean_of_selected(contributions, scratch, keep, out);
    let (n, d) = (n as u64, out.len() as u64);
    Ok(n * d + sort_cost(n as usize) + (keep as u64 + 1) * d)
}
