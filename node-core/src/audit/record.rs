//! The audited side: what a node keeps so that it can answer a challenge
//! about its last broadcast.
//!
//! A node's broadcast model is `train(base, window, samples, steps)`:
//! the weights right after its previous aggregation (or at boot, or the
//! last [`crate::node::Node::set_local_model`]), the predictor's lag window
//! at that moment, and each sample taken since with the step size it was
//! trained at. A [`TrainingRecord`] collects exactly that:
//!
//! * [`TrainingRecord::rebase`] at every aggregation (the node's
//!   `end_round`), at boot and when the model is set from outside;
//! * [`TrainingRecord::push`] before every training step;
//! * at each broadcast the live record is copied into a frozen one
//!   stamped with the round ([`TrainingRecord::freeze_into`]): challenges
//!   arrive after the node's next aggregation has already rebased the live
//!   record, and the frozen copy lives until the next broadcast.
//!
//! The sample buffer holds [`MAX_SAMPLES`] samples; a record that saw more
//! is *overflowed* and its round is unauditable (answered as such and
//! counted). With the default 1 s samples and 10 s rounds a round has 10.

use alloc::vec;
use alloc::vec::Vec;

use crate::model::{LinearNeuron, Predictor, WINDOW_LEN_MAX};
use crate::q::{self, Q};
use crate::wire::challenge::NONCE_LEN;
use crate::wire::response::{self, MAX_SAMPLES, Status};
use crate::wire::{AuditResponseRepr, BoundedVec, Words};

/// One round's training record (module docs). All buffers are allocated
/// by [`TrainingRecord::new`]; nothing allocates afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainingRecord {
    base: Vec<Q>,
    history: [Q; WINDOW_LEN_MAX],
    history_len: u8,
    samples: Vec<Q>,
    steps: Vec<u8>,
    overflowed: bool,
    /// The broadcast round of a frozen record; `None` for the live one
    /// and before the first broadcast.
    round: Option<u32>,
}

impl TrainingRecord {
    /// Heap bytes the record owns (base, samples, step codes).
    pub fn heap_bytes(&self) -> usize {
        use crate::heap::of_vec;
        of_vec(&self.base) + of_vec(&self.samples) + of_vec(&self.steps)
    }

    /// An empty record for a model of `dim` weights.
    pub fn new(dim: usize) -> TrainingRecord {
        TrainingRecord {
            base: vec![q::ZERO; dim],
            history: [q::ZERO; WINDOW_LEN_MAX],
            history_len: 0,
            samples: Vec::with_capacity(MAX_SAMPLES),
            steps: Vec::with_capacity(MAX_SAMPLES),
            overflowed: false,
            round: None,
        }
    }

    /// Starts a new record from the model as it is now.
    pub fn rebase(&mut self, model: &LinearNeuron) {
        self.base.copy_from_slice(model.weights());
        // ≤ WINDOW_LEN_MAX = 32: the cast is lossless.
        self.history_len = model.history_into(&mut self.history) as u8;
        self.samples.clear();
        self.steps.clear();
        self.overflowed = false;
    }

    /// Records one sample and the step code it is about to be trained
    /// with (`None`: a step the table does not hold, which makes the round
    /// unauditable). Beyond [`MAX_SAMPLES`] the record overflows.
    pub fn push(&mut self, sample: Q, code: Option<u8>) {
        match code {
            Some(code) if self.samples.len() < MAX_SAMPLES => {
                self.samples.push(sample);
                self.steps.push(code);
            }
            _ => self.overflowed = true,
        }
        debug_assert!(self.samples.len() <= MAX_SAMPLES);
    }

    /// Whether more samples arrived than the record holds.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Copies this record into `frozen`, stamped with the broadcast
    /// `round` (no allocation: same capacities).
    pub fn freeze_into(&self, frozen: &mut TrainingRecord, round: u32) {
        frozen.base.copy_from_slice(&self.base);
        frozen.history = self.history;
        frozen.history_len = self.history_len;
        frozen.samples.clear();
        frozen.samples.extend_from_slice(&self.samples);
        frozen.steps.clear();
        frozen.steps.extend_from_slice(&self.steps);
        frozen.overflowed = self.overflowed;
        frozen.round = Some(round);
    }

    /// The answer to a challenge of `round` with `nonce`: the record when
    /// this frozen record is of that round and fits the wire, otherwise
    /// "no record" or "unauditable".
    pub fn response(&self, nonce: [u8; NONCE_LEN], round: u32) -> AuditResponseRepr {
        if self.round != Some(round) {
            return AuditResponseRepr::without_record(nonce, Status::NoRecord);
        }
        let history = &self.history[..usize::from(self.history_len)];
        let len = response::len_for(self.base.len(), history.len(), self.samples.len());
        if self.overflowed || len > response::MAX_LEN {
            return AuditResponseRepr::without_record(nonce, Status::Unauditable);
        }
        // Bounded by MAX_DIM, MAX_HISTORY and MAX_SAMPLES: from_slice succeeds.
        let repr = AuditResponseRepr {
            nonce,
            status: Status::Record,
            base: Words::from_slice(&self.base).expect("dim ≤ MAX_DIM"),
            history: BoundedVec::from_slice(history).expect("window ≤ MAX_HISTORY"),
            samples: BoundedVec::from_slice(&self.samples).expect("≤ MAX_SAMPLES"),
            steps: BoundedVec::from_slice(&self.steps).expect("≤ MAX_SAMPLES"),
        };
        debug_assert!(repr.validate().is_ok());
        repr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LinearNeuronConfig, Predictor};

    #[test]
    fn records_freeze_and_answer() {
        let mut model = LinearNeuron::new(LinearNeuronConfig::default()).unwrap();
        for i in 0..12 {
            model.observe(q::from_raw(i * 3_000));
        }
        let mut live = TrainingRecord::new(model.dim());
        let mut frozen = TrainingRecord::new(model.dim());
        live.rebase(&model);
        for i in 0..10 {
            live.push(q::from_raw(i), Some(1));
        }
        live.freeze_into(&mut frozen, 5);
        let answer = frozen.response([1; NONCE_LEN], 5);
        assert_eq!(answer.status, Status::Record);
        assert_eq!(answer.base.as_slice(), model.weights());
        assert_eq!(answer.history.len(), 8);
        assert_eq!(answer.samples.len(), 10);
        assert_eq!(answer.buffer_len(), 131);
        assert_eq!(frozen.response([1; NONCE_LEN], 4).status, Status::NoRecord);
        assert_eq!(live.response([1; NONCE_LEN], 5).status, Status::NoRecord);
        // Overflow: 33 samples, or a step the table lacks.
        for _ in 0..23 {
            live.push(q::ONE, Some(0));
        }
        assert!(live.overflowed());
        live.freeze_into(&mut frozen, 6);
        assert_eq!(
            frozen.response([1; NONCE_LEN], 6).status,
            Status::Unauditable
        );
        live.rebase(&model);
        assert!(!live.overflowed());
        live.push(q::ONE, None);
        assert!(live.overflowed());
    }
}
