//! Pre-aggregators and the [`Pipeline`] that composes them with any
//! [`Rule`].
//!
//! A pre-aggregator maps the round's `n` vectors to `n'` new ones; a
//! pipeline applies up to [`MAX_PRE`] of them in order, then its rule.
//!
//! | [`PreAggregator`] | maps | condition |
//! |---|---|---|
//! | `NearestNeighbourMixing` (Allouah et al., "Fixing by Mixing", AISTATS 2023) | each `x_i` → exact mean of its `n − f` nearest vectors by `(‖x_j − x_i‖², peer)`, itself included | `n ≥ 2f + 1` |
//! | `Bucketing` (Karimireddy, He and Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing", ICLR 2022) | shuffle, then the exact mean of each bucket of `s` consecutive vectors (`⌈n/s⌉` buckets, the last may be smaller) | `s ≥ 1` |
//! | `Clipping` (static clipping) | `x_i → x_i · min(1, C / ‖x_i‖)` | `C > 0` |
//!
//! **Identity of derived vectors.** Mixed and clipped vectors keep their
//! sender's peer id and reputation. A bucket takes the lowest peer id of
//! its members (unique: buckets are disjoint) and the mean of their
//! reputations (truncated). [`super::Context::own`] follows the node's own
//! model: after bucketing it names the own model's bucket, so MoNNA and
//! centered clipping centre on the bucket holding the own model.
//! [`super::Scratch::usage`] describes the rule's inputs, i.e. the derived
//! vectors.
//!
//! **The shuffle** is deterministic and seeded by the caller
//! ([`super::Context::seed`]): vectors are ordered by
//! `(mix64(seed ⊕ mix64(peer)), peer)` with SplitMix64's finalizer `mix64`,
//! so the buckets depend on the seed and the peer ids only — not on input
//! order, and on no hidden random state.
//!
//! **`f` after pre-aggregation.** Every [`super::Faults`] (the rule's and
//! NNM's) is resolved against the inbox size `n` before pre-aggregation:
//! `f` Byzantine senders corrupt at most `f` mixed vectors or buckets.
//!
//! Fixed-point error: NNM and bucketing round each output coordinate once
//! (≤ 1/2 ulp = 2^-17); clipping scales by `⌊C_raw · 2^32 / ⌊‖x‖⌋⌋ / 2^32`
//! and rounds once, so a clipped norm is at most `C · ‖x‖/⌊‖x‖⌋ + √d/2`
//! raw units (≤ C + 2^-16 + √d·2^-17). Each stage's output lies within its
//! inputs' per-coordinate range up to that rounding (NNM, bucketing) or
//! between 0 and the input (clipping).

use alloc::vec::Vec;

use super::vector::{fill_distances, mix64, pair, squared_norm};
use super::{
    AggregateError, AggregateStats, Aggregator, ConfigError, Context, Contribution, Faults,
    MAX_PRE, Rule, Scratch, prepare, require_majority, round_div, sort_cost,
};
use crate::q::{self, Q};
use crate::runtime::NodeId;

/// A pre-aggregation step (module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreAggregator {
    /// Nearest-neighbour mixing with `f` Byzantine tolerated.
    NearestNeighbourMixing(Faults),
    /// Seeded shuffle, then means of buckets of `size`.
    Bucketing {
        /// Bucket size `s ≥ 1`.
        size: u32,
    },
    /// Static clipping of each vector's L2 norm to `norm`.
    Clipping {
        /// The largest norm `C > 0`.
        norm: Q,
    },
}

impl PreAggregator {
    /// Checks the step's parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            PreAggregator::NearestNeighbourMixing(f) => f.validate(),
            PreAggregator::Bucketing { size: 0 } => Err(ConfigError::BucketSizeZero),
            PreAggregator::Bucketing { .. } => Ok(()),
            PreAggregator::Clipping { norm } if norm <= q::ZERO => {
                Err(ConfigError::ClipNormNotPositive)
            }
            PreAggregator::Clipping { .. } => Ok(()),
        }
    }
}

/// Up to [`MAX_PRE`] pre-aggregators, then a rule. A pipeline without
/// pre-aggregators behaves exactly as its rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pre: [PreAggregator; MAX_PRE],
    pre_len: u8,
    rule: Rule,
}

impl From<Rule> for Pipeline {
    fn from(rule: Rule) -> Pipeline {
        Pipeline {
            pre: [PreAggregator::Bucketing { size: 1 }; MAX_PRE],
            pre_len: 0,
            rule,
        }
    }
}

impl Pipeline {
    /// A validated pipeline: `pre` in order, then `rule`.
    pub fn new(pre: &[PreAggregator], rule: Rule) -> Result<Pipeline, ConfigError> {
        if pre.len() > MAX_PRE {
            return Err(ConfigError::TooManyPreAggregators { count: pre.len() });
        }
        let mut pipeline = Pipeline::from(rule);
        pipeline.pre[..pre.len()].copy_from_slice(pre);
        pipeline.pre_len = pre.len() as u8;
        pipeline.validate()?;
        Ok(pipeline)
    }

    /// The pre-aggregators, in order.
    pub fn pre(&self) -> &[PreAggregator] {
        &self.pre[..usize::from(self.pre_len)]
    }

    /// The final rule.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// Checks every step.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for step in self.pre() {
            step.validate()?;
        }
        self.rule.validate()
    }

    /// Pre-aggregates, then aggregates by the rule (module docs). On error
    /// `out` is unchanged. `ops` adds every stage's cost (module docs of
    /// each stage function).
    pub fn aggregate_with(
        &self,
        context: &Context,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        self.validate().map_err(AggregateError::Config)?;
        if self.pre_len == 0 {
            return self
                .rule
                .aggregate_with(context, contributions, scratch, out);
        }
        let validation_ops = prepare(contributions, out.len(), scratch)?;
        // Allocated on the first pre-aggregating call only.
        let mut pre = scratch.pre.take().unwrap_or_default();
        let result = self.run(context, contributions, &mut pre, scratch, out);
        scratch.pre = Some(pre);
        let mut stats = result?;
        stats.ops += validation_ops;
        Ok(stats)
    }

    fn run(
        &self,
        context: &Context,
        contributions: &[Contribution<'_>],
        pre: &mut PreBuffers,
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        let n = contributions.len();
        let dim = out.len();
        pre.data.clear();
        pre.meta.clear();
        for c in contributions {
            pre.data.extend_from_slice(c.weights);
            pre.meta.push((c.peer, c.reputation));
        }
        let mut own = context.own;
        let mut ops = 0;
        for step in self.pre() {
            ops += match *step {
                PreAggregator::NearestNeighbourMixing(faults) => {
                    nearest_neighbour_mixing(faults.resolve(n), dim, pre, scratch)?
                }
                PreAggregator::Bucketing { size } => {
                    let (cost, bucket_of_own) =
                        bucketing(size as usize, context.seed, own, dim, pre, scratch);
                    own = bucket_of_own;
                    cost
                }
                PreAggregator::Clipping { norm } => clipping(norm, dim, pre),
            };
        }
        let mut list = recycle(core::mem::take(&mut pre.list));
        list.extend(pre.meta.iter().zip(pre.data.chunks_exact(dim)).map(
            |(&(peer, reputation), weights)| Contribution {
                peer,
                weights,
                reputation,
            },
        ));
        let derived = Context {
            own,
            seed: context.seed,
        };
        let result = self.rule.apply(&derived, &list, n, scratch, out);
        pre.list = recycle(list);
        let mut stats = result?;
        stats.ops += ops;
        Ok(stats)
    }
}

impl Aggregator for Pipeline {
    fn aggregate_with(
        &mut self,
        context: &Context,
        contributions: &[Contribution<'_>],
        scratch: &mut Scratch,
        out: &mut [Q],
    ) -> Result<AggregateStats, AggregateError> {
        Pipeline::aggregate_with(self, context, contributions, scratch, out)
    }
}

/// The pipeline's buffers: the current vectors (flat, `n'·d`) with their
/// `(peer, reputation)`, the next stage's, and the storage of the final
/// rule's contribution list.
#[derive(Clone, Debug, Default)]
pub(super) struct PreBuffers {
    data: Vec<Q>,
    meta: Vec<(NodeId, Q)>,
    next_data: Vec<Q>,
    next_meta: Vec<(NodeId, Q)>,
    list: Vec<Contribution<'static>>,
}

impl PreBuffers {
    /// Heap bytes of the five buffers.
    pub(super) fn heap_bytes(&self) -> usize {
        use crate::heap::of_vec;
        of_vec(&self.data)
            + of_vec(&self.meta)
            + of_vec(&self.next_data)
            + of_vec(&self.next_meta)
            + of_vec(&self.list)
    }

    /// Makes the next stage's vectors current.
    fn swap(&mut self) {
        core::mem::swap(&mut self.data, &mut self.next_data);
        core::mem::swap(&mut self.meta, &mut self.next_meta);
    }
}

/// An emptied list with another lifetime, keeping its allocation: the
/// standard library collects a `Vec`'s `into_iter().map(..)` in place when
/// the element layouts match, and these differ only in lifetime. (The
/// no-allocation test holds this to account.)
fn recycle<'a, 'b>(mut list: Vec<Contribution<'a>>) -> Vec<Contribution<'b>> {
    list.clear();
    list.into_iter()
        .map(|_| -> Contribution<'b> { unreachable!("the list is empty") })
        .collect()
}

/// NNM (module table). Ops: `d` per pair distance, per vector a sort of
/// `n` distances, `(n − f)·d` additions and `d` divisions.
fn nearest_neighbour_mixing(
    f: usize,
    dim: usize,
    pre: &mut PreBuffers,
    scratch: &mut Scratch,
) -> Result<u64, AggregateError> {
    let n = pre.meta.len();
    require_majority("nearest-neighbour mixing", n, f)?;
    let keep = n - f;
    let data = &pre.data;
    fill_distances(n, |i| &data[i * dim..(i + 1) * dim], &mut scratch.distances);
    pre.next_data.clear();
    pre.next_meta.clear();
    for i in 0..n {
        scratch.scores.clear();
        scratch
            .scores
            .extend((0..n).map(|j| (pair(&scratch.distances, n, i, j), pre.meta[j].0, j as u32)));
        scratch.scores.sort_unstable();
        for k in 0..dim {
            let sum: i64 = scratch.scores[..keep]
                .iter()
                .map(|&(_, _, j)| i64::from(data[j as usize * dim + k].to_bits()))
                .sum();
            pre.next_data.push(round_div(i128::from(sum), keep as i128));
        }
        pre.next_meta.push(pre.meta[i]);
    }
    pre.swap();
    let (n, d) = (n as u64, dim as u64);
    Ok(n * (n - 1) / 2 * d + n * (sort_cost(n as usize) + (keep as u64 + 1) * d))
}

/// Bucketing (module table). Returns `(ops, the own model's bucket id)`.
/// Ops: `n` keys, their sort, `n·d` additions, `d` divisions per bucket.
fn bucketing(
    size: usize,
    seed: u64,
    own: Option<NodeId>,
    dim: usize,
    pre: &mut PreBuffers,
    scratch: &mut Scratch,
) -> (u64, Option<NodeId>) {
    assert!(size >= 1);
    let n = pre.meta.len();
    scratch.scores.clear();
    scratch
        .scores
        .extend(pre.meta.iter().enumerate().map(|(i, &(peer, _))| {
            let key = mix64(seed ^ mix64(u64::from(peer)));
            (u128::from(key), peer, i as u32)
        }));
    scratch.scores.sort_unstable();
    pre.next_data.clear();
    pre.next_meta.clear();
    let mut own_bucket = None;
    for bucket in scratch.scores.chunks(size) {
        let count = bucket.len() as i128;
        for k in 0..dim {
            let sum: i64 = bucket
                .iter()
                .map(|&(_, _, i)| i64::from(pre.data[i as usize * dim + k].to_bits()))
                .sum();
            pre.next_data.push(round_div(i128::from(sum), count));
        }
        let id = bucket
            .iter()
            .map(|&(_, peer, _)| peer)
            .min()
            .expect("non-empty");
        let reputation: i64 = bucket
            .iter()
            .map(|&(_, _, i)| i64::from(pre.meta[i as usize].1.to_bits()))
            .sum();
        pre.next_meta
            .push((id, q::from_raw((reputation / bucket.len() as i64) as i32)));
        if bucket.iter().any(|&(_, peer, _)| Some(peer) == own) {
            own_bucket = Some(id);
        }
    }
    pre.swap();
    let own_after = own.map(|peer| own_bucket.unwrap_or(peer));
    let buckets = n.div_ceil(size) as u64;
    let (n, d) = (n as u64, dim as u64);
    (n + sort_cost(n as usize) + n * d + buckets * d, own_after)
}

/// Static clipping in place (module table). Ops: `n·d` squares, `n` roots
/// and factor divisions, `n·d` multiplies.
fn clipping(norm: Q, dim: usize, pre: &mut PreBuffers) -> u64 {
    let limit = u128::from(norm.to_bits() as u32);
    let n = pre.meta.len();
    for row in pre.data.chunks_exact_mut(dim) {
        let length = q::isqrt_u128(squared_norm(row));
        if length <= limit {
            continue;
        }
        let factor = (limit << 32) / length;
        for x in row.iter_mut() {
            let scaled = factor as i128 * i128::from(x.to_bits());
            *x = round_div(scaled, 1_i128 << 32);
        }
    }
    let (n, d) = (n as u64, dim as u64);
    2 * n * d + 2 * n
}
