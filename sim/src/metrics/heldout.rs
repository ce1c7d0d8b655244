//! `rmse_heldout`: how well the nodes' current weights predict data they
//! never trained on.
//!
//! At a round end the world hands every honest node's weights to a
//! [`HeldOutProbe`], in node-id order. For each node the probe regenerates
//! the node's held-out series into one reusable buffer (nothing is cached
//! per node, so memory does not grow with the swarm), converts the Q16.16
//! weights to `f64` and adds the squared one-step errors. The RMSE is over
//! all the nodes' predictions; every node contributes the same number, so
//! it is also the square root of the mean over nodes of each node's MSE.
//!
//! Ordering contract: errors are summed in node-id order, then in series
//! order; the result is a function of the weights and the data only.

use node_core::q::Q;

use crate::baseline::ar;
use crate::dataset::Dataset;
use crate::dataset::heldout::HeldOut;
use crate::fixed;

/// Accumulates held-out errors of weight vectors over one round.
#[derive(Clone, Debug)]
pub struct HeldOutProbe {
    series: Vec<f64>,
    weights: Vec<f64>,
    sse: f64,
    count: u64,
    misfit: bool,
}

impl HeldOutProbe {
    /// A probe for predictors of `window_len` lags scored on
    /// `heldout_samples` predictions per node (the series holds
    /// `window_len` more values, the first predictions' history).
    pub fn new(window_len: usize, heldout_samples: usize) -> HeldOutProbe {
        HeldOutProbe {
            series: vec![0.0; heldout_samples + window_len],
            weights: vec![0.0; window_len + 1],
            sse: 0.0,
            count: 0,
            misfit: false,
        }
    }

    /// Forgets the previous round.
    pub fn clear(&mut self) {
        (self.sse, self.count, self.misfit) = (0.0, 0, false);
    }

    /// Scores node `node`'s `weights` on its held-out series and returns
    /// this node's own RMSE. Weights that are not `window_len + 1` words (a
    /// runtime with another model) make the round's RMSE NaN (and the
    /// node's).
    pub fn add(&mut self, heldout: &HeldOut, dataset: &Dataset, node: u32, weights: &[Q]) -> f64 {
        if weights.len() != self.weights.len() {
            self.misfit = true;
            return f64::NAN;
        }
        for (w, q) in self.weights.iter_mut().zip(weights) {
            *w = fixed::to_f64(*q);
        }
        heldout.fill(dataset, node, &mut self.series);
        let sse = ar::one_step_sse(&self.weights, &self.series);
        let count = (self.series.len() + 1 - self.weights.len()) as u64;
        self.sse += sse;
        self.count += count;
        (sse / count.max(1) as f64).sqrt()
    }

    /// The RMSE over the nodes added since [`HeldOutProbe::clear`]; NaN
    /// if none was (or one did not fit).
    pub fn rmse(&self) -> f64 {
        if self.misfit || self.count == 0 {
            return f64::NAN;
        }
        (self.sse / self.count as f64).sqrt()
    }
}
