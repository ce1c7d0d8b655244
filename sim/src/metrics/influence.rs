//! How evenly honest nodes shape each other's aggregates: the Gini
//! coefficient of aggregation influence (the paper's adaptive-exponent
//! claim, docs/claims.md).
//!
//! At the end of a run, honest observer `i` weighs each peer `j` it tracks
//! and has not banned by `w_ij = influence_weight(rep_ij, e, cap)` (node-core
//! `reputation`, the weight of the reputation-weighted rules; `e = 0`, equal
//! weights, for rules that do not weigh by reputation) and its own model by
//! the weight of reputation 1, as node-core's `Node` aggregates. The share
//! of `j` in `i`'s aggregate is `s_ij = w_ij / (w_i,self + Σ_k w_ik)` (the
//! share caps' water-filling is left out), and `j`'s influence is
//! `I_j = Σ_i s_ij` over honest observers. The figure is the Gini
//! coefficient of `I` over honest nodes, `Σ_a Σ_b |I_a − I_b| / (2 n² Ī)`:
//! 0 when every honest node counts the same, towards 1 when a few dominate.

use node_core::q::{self, Q};
use node_core::reputation::{InfluenceCap, ReputationTable, influence_weight};
use node_core::runtime::NodeId;

use crate::fixed;

/// The Gini coefficient of `values` (NaN-free, non-negative); `None` for
/// fewer than two values or a zero sum.
pub fn gini(values: &[f64]) -> Option<f64> {
    let n = values.len();
    let sum: f64 = values.iter().sum();
    if n < 2 || sum <= 0.0 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Σ_a Σ_b |x_a − x_b| = 2 Σ_k (2k − n + 1) x_(k) over the sorted values.
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(k, x)| (2.0 * k as f64 - n as f64 + 1.0) * x)
        .sum();
    Some(weighted / (n as f64 * sum))
}

/// The influence Gini of a swarm (module docs): `tables[i]` is node `i`'s
/// reputation table (`None` for a runtime without one), `honest(i)` whether
/// node `i` is honest.
pub fn influence_gini(
    tables: &[Option<&ReputationTable>],
    honest: impl Fn(NodeId) -> bool,
    exponent: Q,
    cap: InfluenceCap,
) -> Option<f64> {
    let mut influence = vec![0.0_f64; tables.len()];
    let own = fixed::to_f64(influence_weight(q::ONE, exponent, cap));
    for (i, table) in (0..).zip(tables) {
        let Some(table) = table.filter(|_| honest(i)) else {
            continue;
        };
        let weight = |score: Q| fixed::to_f64(influence_weight(score, exponent, cap));
        let counted = || {
            table
                .entries()
                .filter(|e| !e.banned && (e.peer as usize) < tables.len())
        };
        let total = own + counted().map(|e| weight(e.score)).sum::<f64>();
        for entry in counted().filter(|e| honest(e.peer)) {
            influence[entry.peer as usize] += weight(entry.score) / total;
        }
    }
    let honest_influence: Vec<f64> = (0..)
        .zip(&influence)
        .filter(|(id, _)| honest(*id))
        .map(|(_, v)| *v)
        .collect();
    gini(&honest_influence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_of_equal_values_is_zero_and_of_one_holder_is_near_one() {
        assert_eq!(gini(&[1.0, 1.0, 1.0, 1.0]), Some(0.0));
        let g = gini(&[0.0, 0.0, 0.0, 4.0]).unwrap();
        assert!((g - 0.75).abs() < 1e-12, "{g}");
        assert!((gini(&[1.0, 3.0]).unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(gini(&[5.0]), None);
        assert_eq!(gini(&[0.0, 0.0]), None);
    }
}
