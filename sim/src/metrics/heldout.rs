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
    scratch: Scratch,
    sse: f64,
    count: u64,
    misfit: bool,
}

/// The buffers one scoring thread works in.
#[derive(Clone, Debug)]
pub struct Scratch {
    series: Vec<f64>,
    weights: Vec<f64>,
}

/// One node's score: the sum of its squared one-step errors and their
/// number; `None` for weights that do not fit the probe.
pub type Score = Option<(f64, u64)>;

/// One node's cached held-out series and whether it is filled yet.
pub type CachedSeries<'a> = (&'a mut [Q], &'a mut bool);

impl HeldOutProbe {
    /// A probe for predictors of `window_len` lags scored on
    /// `heldout_samples` predictions per node (the series holds
    /// `window_len` more values, the first predictions' history).
    pub fn new(window_len: usize, heldout_samples: usize) -> HeldOutProbe {
        HeldOutProbe {
            cache: None,
            scratch: Scratch {
                series: vec![0.0; heldout_samples + window_len],
                weights: vec![0.0; window_len + 1],
            },
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
        let len = self.scratch.series.len();
        let nodes = dataset.nodes() as usize;
        let cached = cache_of(&mut self.cache, nodes, len).map(|(values, filled)| {
            let i = node as usize;
            (&mut values[i * len..(i + 1) * len], &mut filled[i])
        });
        let score = score(heldout, dataset, node, weights, cached, &mut self.scratch);
        self.add_score(score)
    }

    /// Adds a node's [`score`] (computed elsewhere, e.g. on another
    /// thread) and returns that node's RMSE. Scores must be added in
    /// node-id order (the ordering contract).
    pub fn add_score(&mut self, score: Score) -> f64 {
        let Some((sse, count)) = score else {
            self.misfit = true;
            return f64::NAN;
        };
        self.sse += sse;
        self.count += count;
        (sse / count.max(1) as f64).sqrt()
    }

    /// Buffers for one more scoring thread.
    pub fn scratch(&self) -> Scratch {
        self.scratch.clone()
    }

    /// The cache of every node's series (`series_len` values per node) and
    /// their filled flags, created on first use; `None` when the swarm's
    /// series do not fit [`CACHE_BYTES_MAX`].
    pub fn cache_parts(&mut self, dataset: &Dataset) -> Option<(&mut [Q], &mut [bool])> {
        let len = self.scratch.series.len();
        cache_of(&mut self.cache, dataset.nodes() as usize, len)
    }

    /// Values per node's series.
    pub fn series_len(&self) -> usize {
        self.scratch.series.len()
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
/// The cache of `nodes` series of `len` values, created on first use if it
/// fits [`CACHE_BYTES_MAX`].
fn cache_of(
    cache: &mut Option<Cache>,
    nodes: usize,
    len: usize,
) -> Option<(&mut [Q], &mut [bool])> {
    if cache.is_none() && cache_bytes(nodes as u64, 0, len) > 0 {
        *cache = Some(Cache {
            values: vec![Q::ZERO; nodes * len],
            filled: vec![false; nodes],
        });
    }
    let cache = cache.as_mut()?;
    Some((&mut cache.values, &mut cache.filled))
}

/// Scores node `node`'s `weights` on its held-out series, taken from
/// `cached` (filled on first use) or regenerated into `scratch`. The
/// arithmetic is the same wherever it runs, so a score computed on another
/// thread is the same bits.
pub fn score(
    heldout: &HeldOut,
    dataset: &Dataset,
    node: u32,
    weights: &[Q],
    cached: Option<CachedSeries<'_>>,
    scratch: &mut Scratch,
) -> Score {
    if weights.len() != scratch.weights.len() {
        return None;
    }
    for (w, q) in scratch.weights.iter_mut().zip(weights) {
        *w = fixed::to_f64(*q);
    }
    match cached {
        None => heldout.fill(dataset, node, &mut scratch.series),
        Some((values, filled)) => {
            if !*filled {
                heldout.fill_q(dataset, node, values);
                *filled = true;
            }
            for (slot, value) in scratch.series.iter_mut().zip(values.iter()) {
                *slot = fixed::to_f64(*value);
            }
        }
    }
    let sse = ar::one_step_sse(&scratch.weights, &scratch.series);
    let count = (scratch.series.len() + 1 - scratch.weights.len()) as u64;
    Some((sse, count))
}
