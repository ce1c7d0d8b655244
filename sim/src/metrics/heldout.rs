//! `rmse_heldout`: how well the nodes' current weights predict data they
//! never trained on.
//!
//! At a round end the world hands every honest node's weights to a
//! [`HeldOutProbe`], in node-id order. For each node the probe takes the
//! node's held-out series from its cache (Q16.16, 4 B per value, filled the
//! first time the node is scored) when the whole swarm's series fit in
//! [`CACHE_BYTES_MAX`], and otherwise regenerates it into one reusable
//! buffer, so memory stays bounded at any swarm size; either way the values
//! are bit-identical (`HeldOut::fill` is `to_f64` of `HeldOut::fill_q`).
//! Regenerating costs ~260 noise draws and sines per node per scored
//! round, more than the node's own work in a round, which is why the cache
//! exists; above the budget, `run.heldout_every` scores less often. The
//! probe converts the Q16.16
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

/// Most bytes of held-out series a probe caches (all nodes or none).
pub const CACHE_BYTES_MAX: u64 = 128 << 20;

/// The bytes a probe's cache takes for `nodes` nodes scored on
/// `heldout_samples` predictions of `window_len` lags (0 above
/// [`CACHE_BYTES_MAX`]: then nothing is cached).
pub fn cache_bytes(nodes: u64, window_len: usize, heldout_samples: usize) -> u64 {
    let values = (heldout_samples + window_len) as u64;
    let bytes = nodes.saturating_mul(values).saturating_mul(4);
    if bytes <= CACHE_BYTES_MAX { bytes } else { 0 }
}

/// Held-out series kept between rounds (see the module docs).
#[derive(Clone, Debug, Default)]
struct Cache {
    values: Vec<Q>,
    filled: Vec<bool>,
}

/// Accumulates held-out errors of weight vectors over one round.
#[derive(Clone, Debug)]
pub struct HeldOutProbe {
    cache: Option<Cache>,
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
            cache: None,
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
        self.load_series(heldout, dataset, node);
        let sse = ar::one_step_sse(&self.weights, &self.series);
        let count = (self.series.len() + 1 - self.weights.len()) as u64;
        self.sse += sse;
        self.count += count;
        (sse / count.max(1) as f64).sqrt()
    }

    /// Puts node `node`'s held-out series into `self.series`, from the
    /// cache when the swarm's series fit in it.
    fn load_series(&mut self, heldout: &HeldOut, dataset: &Dataset, node: u32) {
        let len = self.series.len();
        let nodes = dataset.nodes() as usize;
        if self.cache.is_none() && cache_bytes(nodes as u64, 0, len) > 0 {
            self.cache = Some(Cache {
                values: vec![Q::ZERO; nodes * len],
                filled: vec![false; nodes],
            });
        }
        let Some(cache) = self.cache.as_mut() else {
            heldout.fill(dataset, node, &mut self.series);
            return;
        };
        let i = node as usize;
        let values = &mut cache.values[i * len..(i + 1) * len];
        if !cache.filled[i] {
            heldout.fill_q(dataset, node, values);
            cache.filled[i] = true;
        }
        for (slot, value) in self.series.iter_mut().zip(values.iter()) {
            *slot = fixed::to_f64(*value);
        }
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
