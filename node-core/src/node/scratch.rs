//! `AggregationScratch`: the buffers one aggregation needs, which a host
//! may lend to its nodes.
//!
//! A node aggregates once a round, at the end of its collection window
//! (`handle_wake` at `aggregate_at`; no other entry point aggregates). The
//! aggregation needs working space — the rule's [`Scratch`] (sorted
//! columns, usage records, Krum's distance table, the weighted rules'
//! shares, the pipeline's pre-aggregated vectors) and the aggregate itself
//! before it is mixed into the model — about 900 B for the default rule at
//! 9 contributions, and all of it is dead between aggregations.
//!
//! ## Two ways to provide it
//!
//! * **Own** (`Runtime::handle_wake`): the node allocates one
//!   `AggregationScratch` on its first aggregation and keeps it (boxed:
//!   8 B inline until then). The firmware, with one node, does this.
//! * **Lent** (`Node::handle_wake_lent`, `Runtime::handle_wake_lent`): the
//!   host passes a scratch for the duration of the call; the node keeps
//!   nothing of it. A simulator with 10^6 nodes keeps one per thread
//!   instead of one per node. A node that is only ever woken with a lent
//!   scratch never allocates its own.
//!
//! ## Contract
//!
//! The contents are garbage on entry: every buffer is cleared or fully
//! overwritten before it is read (the aggregation rules' contract, and the
//! aggregate vector is reset to the model's dimension before each call), so
//! the outputs are bit-identical whichever scratch — fresh, owned, or last
//! used by another node with another rule and dimension — is passed
//! (`node::tests::lent_scratch_is_bit_identical_to_own`). Buffers only
//! grow, to the largest aggregation seen, so a warmed-up scratch makes no
//! allocation.

use alloc::vec::Vec;

use crate::aggregate::Scratch;
use crate::q::{self, Q};

/// Working space of one aggregation; see the module docs.
#[derive(Debug, Default)]
pub struct AggregationScratch {
    /// The rule's buffers.
    pub(super) rule: Scratch,
    /// The aggregate (the model's dimension while in use).
    pub(super) aggregate: Vec<Q>,
}

impl AggregationScratch {
    /// Empty buffers (they grow on the first aggregation).
    pub fn new() -> AggregationScratch {
        AggregationScratch::default()
    }

    /// Heap bytes the buffers own (not the struct itself).
    pub fn heap_bytes(&self) -> usize {
        self.rule.heap_bytes() + crate::heap::of_vec(&self.aggregate)
    }

    /// The aggregate buffer reset to `dim` zero words: whatever a previous
    /// call (of any node) left is gone before the rule writes it.
    pub(super) fn reset_aggregate(&mut self, dim: usize) {
        self.aggregate.clear();
        self.aggregate.resize(dim, q::ZERO);
        assert_eq!(self.aggregate.len(), dim);
    }
}
