//! Hard references on the run's own data, computed by the simulator in
//! `f64`: the persistence forecast and the least-squares optima of the
//! nodes' predictor form (AR(`window_len`) + bias, [`super::ar`]).
//!
//! * **Training data**: every node's observed samples (noise and storms
//!   included) at sample indices `0 .. training_samples`, the samples the
//!   run offers each node whether or not it was powered, regenerated from
//!   the dataset (a pure function of node and index; nothing is stored
//!   during the run). Pairs start at index `window_len`, so every
//!   regression has a full history.
//! * **local_ls**: per node, the ridge least-squares fit on that node's
//!   training pairs; **central_ls**: one fit on the pairs of every node
//!   pooled (the central optimum: what one learner holding all the data
//!   would fit). Ridge: `(Σx̃x̃ᵀ/m + λI) w = Σx̃y/m` with λ =
//!   [`RIDGE_LAMBDA`], solved by Cholesky.
//! * **online** figures are on the training pairs (for LS in-sample: the
//!   fit's own data); **heldout** figures on each node's held-out series
//!   (`crate::dataset::heldout`), scored on the same predictions as
//!   `rmse_heldout`. Every figure is the square root of the mean over nodes
//!   of each node's MSE (every node has the same number of predictions).
//!
//! All nodes are pooled: every node is honest until adversaries exist.
//!
//! Ordering contract: nodes are processed in blocks of [`BLOCK_NODES`]
//! ids, possibly in parallel; each block sums in node-id order and blocks
//! are combined in block order, so the figures are the same bits whatever
//! the thread count.

use rayon::prelude::*;
use serde::Serialize;

use super::ar::{self, LagWindow, NormalEquations};
use crate::dataset::Sample;
use crate::fixed;
use crate::world::RunData;

/// Ridge λ of every least-squares fit, on the mean normal equations (data
/// are z-normalised, so of unit scale): small enough to leave a
/// well-conditioned fit unchanged to ~1e-6, large enough to make the
/// rank-deficient normal equations of a noiseless sine solvable.
pub const RIDGE_LAMBDA: f64 = 1e-6;

/// Node ids per block of the parallel passes (fixed: the summation order
/// must not depend on the thread count).
pub const BLOCK_NODES: u32 = 256;

/// Training samples generated at a time.
const CHUNK_SAMPLES: usize = 1_024;

/// One reference RMSE per predictor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// `x̂(t) = x(t−1)`.
    pub persistence: f64,
    /// Each node's own least-squares fit.
    pub local_ls: f64,
    /// The pooled (central) least-squares fit.
    pub central_ls: f64,
}

/// The references of a run (`summary.json` `references`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct References {
    /// How the least-squares fits are made.
    pub method: &'static str,
    /// Ridge λ.
    pub ridge_lambda: f64,
    /// AR order of the predictor fitted.
    pub window_len: usize,
    /// Training sample indices per node (`0 .. training_samples_per_node`).
    pub training_samples_per_node: u64,
    /// Nodes whose pairs are pooled for `central_ls`.
    pub pooled_nodes: u32,
    /// How per-node errors are combined.
    pub aggregation: &'static str,
    /// On the training pairs (least squares: in-sample).
    pub online: Figures,
    /// On the held-out data (NaN without any).
    pub heldout: Figures,
}

/// Sums of one block of nodes from the first pass.
#[derive(Clone, Debug)]
struct Block {
    pooled: NormalEquations,
    online_local_sse: f64,
    online_persistence_sse: f64,
    online_count: u64,
    heldout_local_sse: f64,
    heldout_persistence_sse: f64,
}

/// Buffers of one block, reused across its nodes.
struct Scratch {
    samples: Vec<Sample>,
    series: Vec<f64>,
    node: NormalEquations,
}

/// Computes the references of `data` for `nodes` nodes.
pub fn references(data: &RunData, nodes: u32) -> References {
    let blocks = nodes.div_ceil(BLOCK_NODES);
    let first: Vec<Block> = (0..blocks)
        .into_par_iter()
        .map(|b| first_pass(data, block_range(b, nodes)))
        .collect();
    let mut total = first[0].clone();
    for block in &first[1..] {
        total.add(block);
    }
    let central = total
        .pooled
        .solve(RIDGE_LAMBDA)
        .unwrap_or_else(|_| nan_weights(data));
    let heldout_central_sse: f64 = if data.heldout().is_some() {
        let sums: Vec<f64> = (0..blocks)
            .into_par_iter()
            .map(|b| central_pass(data, block_range(b, nodes), &central))
            .collect();
        sums.iter().sum()
    } else {
        f64::NAN
    };
    let online_count = total.online_count as f64;
    let heldout_count = (nodes as usize * data.heldout_samples) as f64;
    let rms = |sse: f64, count: f64| (sse / count).sqrt();
    References {
        method: "ridge least squares of x̂(t) = Σ w[k−1]·x(t−k) + w[n] on observed training \
                 samples, Cholesky",
        ridge_lambda: RIDGE_LAMBDA,
        window_len: data.window_len,
        training_samples_per_node: data.training_samples,
        pooled_nodes: nodes,
        aggregation: "square root of the mean over nodes of each node's MSE",
        online: Figures {
            persistence: rms(total.online_persistence_sse, online_count),
            local_ls: rms(total.online_local_sse, online_count),
            central_ls: total.pooled.mse(&central).sqrt(),
        },
        heldout: Figures {
            persistence: rms(total.heldout_persistence_sse, heldout_count),
            local_ls: rms(total.heldout_local_sse, heldout_count),
            central_ls: rms(heldout_central_sse, heldout_count),
        },
    }
}

fn block_range(block: u32, nodes: u32) -> std::ops::Range<u32> {
    block * BLOCK_NODES..((block + 1) * BLOCK_NODES).min(nodes)
}

fn nan_weights(data: &RunData) -> Vec<f64> {
    vec![f64::NAN; data.window_len + 1]
}

impl Block {
    fn new(dim: usize) -> Block {
        Block {
            pooled: NormalEquations::new(dim),
            online_local_sse: 0.0,
            online_persistence_sse: 0.0,
            online_count: 0,
            heldout_local_sse: 0.0,
            heldout_persistence_sse: 0.0,
        }
    }

    fn add(&mut self, other: &Block) {
        self.pooled.merge(&other.pooled);
        self.online_local_sse += other.online_local_sse;
        self.online_persistence_sse += other.online_persistence_sse;
        self.online_count += other.online_count;
        self.heldout_local_sse += other.heldout_local_sse;
        self.heldout_persistence_sse += other.heldout_persistence_sse;
    }
}

impl Scratch {
    fn new(data: &RunData) -> Scratch {
        Scratch {
            samples: vec![Sample::default(); CHUNK_SAMPLES],
            series: vec![0.0; data.heldout_samples + data.window_len],
            node: NormalEquations::new(data.window_len + 1),
        }
    }
}

/// Per node: local fit, persistence, and its pairs into the pool.
fn first_pass(data: &RunData, ids: std::ops::Range<u32>) -> Block {
    let mut block = Block::new(data.window_len + 1);
    let mut scratch = Scratch::new(data);
    for node in ids {
        scratch.node.clear();
        block.online_persistence_sse += fit_training(data, node, &mut scratch);
        let fit = &scratch.node;
        let local = fit
            .solve(RIDGE_LAMBDA)
            .unwrap_or_else(|_| nan_weights(data));
        block.online_local_sse += fit.mse(&local) * fit.count() as f64;
        block.online_count += fit.count();
        block.pooled.merge(fit);
        if let Some(heldout) = data.heldout() {
            heldout.fill(&data.dataset, node, &mut scratch.series);
            block.heldout_local_sse += ar::one_step_sse(&local, &scratch.series);
            block.heldout_persistence_sse += ar::persistence_sse(&scratch.series, data.window_len);
        }
    }
    block
}

/// Streams node `node`'s training samples into `scratch.node`; returns
/// the persistence forecast's squared errors on the same pairs.
fn fit_training(data: &RunData, node: u32, scratch: &mut Scratch) -> f64 {
    let mut lags = LagWindow::new(data.window_len);
    let mut persistence_sse = 0.0;
    let mut first = 0;
    while first < data.training_samples {
        let len = (data.training_samples - first).min(CHUNK_SAMPLES as u64) as usize;
        let chunk = &mut scratch.samples[..len];
        data.dataset.fill(node, first, chunk);
        for sample in chunk.iter() {
            let y = fixed::to_f64(sample.observed);
            if lags.is_full() {
                scratch.node.add(lags.regressors(), y);
                persistence_sse += (y - lags.last()) * (y - lags.last());
            }
            lags.push(y);
        }
        first += len as u64;
    }
    persistence_sse
}

/// Squared held-out errors of the central fit over the block's nodes.
fn central_pass(data: &RunData, ids: std::ops::Range<u32>, central: &[f64]) -> f64 {
    let Some(heldout) = data.heldout() else {
        return f64::NAN;
    };
    let mut series = vec![0.0; data.heldout_samples + data.window_len];
    let mut sse = 0.0;
    for node in ids {
        heldout.fill(&data.dataset, node, &mut series);
        sse += ar::one_step_sse(central, &series);
    }
    sse
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::topology::Topology;
    use crate::scenario::Scenario;

    fn data(nodes: u32, dataset: &str) -> RunData {
        let text = format!("name = \"r\"\nnodes = {nodes}\n[run]\nrounds = 10\n{dataset}");
        let scenario = Scenario::parse(std::path::Path::new("r.toml"), &text).unwrap();
        let topology = Topology::build(scenario.radio.topology_spec(), nodes, 5).unwrap();
        RunData::build(&scenario, &topology, 5).unwrap()
    }

    fn in_pool(threads: usize, data: &RunData, nodes: u32) -> References {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| references(data, nodes))
    }

    #[test]
    fn same_bits_whatever_the_thread_count() {
        // 600 nodes: two full blocks and a partial one.
        let d = data(600, "");
        let one = in_pool(1, &d, 600);
        let three = in_pool(3, &d, 600);
        let bits = |r: &References| {
            [r.online, r.heldout]
                .map(|f| [f.persistence, f.local_ls, f.central_ls].map(f64::to_bits))
        };
        assert_eq!(bits(&one), bits(&three));
        assert_eq!(one.training_samples_per_node, 100);
        assert_eq!(one.pooled_nodes, 600);
    }

    #[test]
    fn fits_beat_persistence_and_in_sample_local_beats_central() {
        let r = references(&data(20, ""), 20);
        let (online, heldout) = (r.online, r.heldout);
        assert!(online.local_ls <= online.central_ls, "{online:?}");
        assert!(online.central_ls < online.persistence, "{online:?}");
        assert!(heldout.central_ls < heldout.persistence, "{heldout:?}");
        // Noise std 0.05 bounds every one-step error from below.
        assert!(heldout.central_ls > 0.04, "{heldout:?}");
    }

    #[test]
    fn without_heldout_data_heldout_figures_are_nan() {
        let d = data(4, "heldout_samples = 0\n");
        let r = references(&d, 4);
        assert!(r.heldout.central_ls.is_nan() && r.heldout.persistence.is_nan());
        assert!(r.online.central_ls.is_finite());
    }
}
