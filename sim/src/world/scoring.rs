//! Held-out scoring on the world's thread pool.
//!
//! At a scored round end every honest node's weights are scored on its
//! held-out series (`crate::metrics::heldout`). Each score depends only on
//! the node's weights and data, so a parallel world computes them on its
//! pool — contiguous node ranges, each with its own scratch buffers and its
//! own slice of the series cache — into one score per node; the round's
//! sums are then added in node-id order by `measure_nodes`, the same
//! additions in the same order as one thread makes, so `rmse_heldout` is
//! the same bits for every thread count.

use node_core::q::Q;
use node_core::runtime::Runtime;
use rayon::prelude::*;

use super::{RunData, Slot, World};
use crate::dataset::heldout::HeldOut;
use crate::metrics::heldout::{Score, Scratch, score};

/// One range of nodes to score.
struct Task<'a, R> {
    first: u32,
    nodes: &'a mut [R],
    slots: &'a [Slot],
    scores: &'a mut [Score],
    cache: Option<(&'a mut [Q], &'a mut [bool])>,
    scratch: Scratch,
}

impl<R: Runtime + Send> World<R> {
    /// Scores every honest node into `self.scores` on the pool; returns
    /// `false` (nothing scored) for a world without a pool.
    pub(super) fn score_heldout(&mut self, data: &RunData, heldout: &HeldOut) -> bool {
        let Some(pool) = &self.pool else {
            return false;
        };
        let n = self.nodes.len();
        self.scores.clear();
        self.scores.resize(n, None);
        let len = self.probe.series_len();
        let chunk = n.div_ceil(self.outs.len()).max(1);
        let template = self.probe.scratch();
        let mut cache = self.probe.cache_parts(&data.dataset);
        let (mut nodes, mut slots) = (&mut self.nodes[..], &self.slots[..]);
        let mut scores = &mut self.scores[..];
        let mut tasks = Vec::with_capacity(self.outs.len());
        while !nodes.is_empty() {
            let k = chunk.min(nodes.len());
            let (nodes_a, nodes_b) = std::mem::take(&mut nodes).split_at_mut(k);
            let (scores_a, scores_b) = std::mem::take(&mut scores).split_at_mut(k);
            let (slots_a, slots_b) = slots.split_at(k);
            let (cache_a, cache_b) = match cache {
                Some((values, filled)) => {
                    let (va, vb) = values.split_at_mut(k * len);
                    let (fa, fb) = filled.split_at_mut(k);
                    (Some((va, fa)), Some((vb, fb)))
                }
                None => (None, None),
            };
            tasks.push(Task {
                first: (n - nodes_b.len() - k) as u32,
                nodes: nodes_a,
                slots: slots_a,
                scores: scores_a,
                cache: cache_a,
                scratch: template.clone(),
            });
            (nodes, slots, scores, cache) = (nodes_b, slots_b, scores_b, cache_b);
        }
        let dataset = &data.dataset;
        pool.install(|| {
            tasks
                .into_par_iter()
                .for_each(|t| t.run(heldout, dataset, len))
        });
        true
    }
}

impl<R: Runtime> Task<'_, R> {
    fn run(mut self, heldout: &HeldOut, dataset: &crate::dataset::Dataset, len: usize) {
        for (i, (runtime, slot)) in self.nodes.iter().zip(self.slots).enumerate() {
            if !slot.honest {
                continue;
            }
            let cached = self
                .cache
                .as_mut()
                .map(|(values, filled)| (&mut values[i * len..(i + 1) * len], &mut filled[i]));
            let node = self.first + i as u32;
            self.scores[i] = score(
                heldout,
                dataset,
                node,
                runtime.weights(),
                cached,
                &mut self.scratch,
            );
        }
    }
}
