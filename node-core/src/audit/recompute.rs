//! The auditor's check: replay the audited node's training from what its
//! response claims, quantize the result as the update travelled, and
//! compare bit for bit with the update the auditor received.
//!
//! ## Why bit-exact comparison is sound
//!
//! Training is a pure function of (base weights, lag window, samples,
//! step size per sample) and the swarm-wide model configuration: the
//! replay below runs the very [`LinearNeuron::observe`] the node ran
//! (no copy of the arithmetic), so an honest node's answer reproduces its
//! model to the last bit, and the wire quantization
//! ([`delta::full_words`], [`delta::delta_words`]) is the sender's own code
//! too. There is no tolerance to tune: any difference is a failure, and an
//! honest node can only fail if auditor and auditee run different model
//! configurations (which this module cannot detect; see docs/audit.md).

use crate::gossip::delta;
use crate::model::{self, InitialWeights, LinearNeuron, LinearNeuronConfig, Predictor};
use crate::q::Q;
use crate::wire::{self, Encoding};

/// What the audited node claims its update was computed from (the
/// record of an AuditResponse).
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// Weights training started from.
    pub base: &'a [Q],
    /// The lag window then, oldest first.
    pub history: &'a [Q],
    /// Samples trained on, in order.
    pub samples: &'a [Q],
    /// Step code per sample (index into the step table).
    pub steps: &'a [u8],
}

/// The update as the auditor received and kept it.
#[derive(Clone, Copy, Debug)]
pub struct Received<'a> {
    /// The public model it decoded to (`P`).
    pub words: &'a [Q],
    /// The keyframe a delta was added to (`K`; ignored for a full update).
    pub keyframe: &'a [Q],
    /// Whether the update was a delta.
    pub delta: bool,
    /// The encoding of its words.
    pub encoding: Encoding,
}

/// Why an audit failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The base has the wrong dimension or a word beyond the weight limit.
    BadBase,
    /// The history is longer than the window.
    BadHistory,
    /// Steps and samples differ in number, or a code is beyond the table.
    BadSteps,
    /// The replayed update differs from the one received.
    Mismatch,
}

/// Replays `claim` with the swarm's `model` configuration and step `table`
/// and checks it reproduces `received`. `Ok(())` is a passed audit.
pub fn verify(
    model: LinearNeuronConfig,
    table: &[Q; 4],
    claim: &Claim<'_>,
    received: &Received<'_>,
) -> Result<(), Failure> {
    let neuron = replay(model, table, claim)?;
    let weights = neuron.weights();
    let dim = weights.len();
    if received.words.len() != dim || received.keyframe.len() != dim {
        return Err(Failure::Mismatch);
    }
    let mut public = [0_i32; wire::MAX_DIM];
    let public = &mut public[..dim];
    if received.delta {
        let mut d = [0_i32; wire::MAX_DIM];
        let d = &mut d[..dim];
        // An overflowing delta is one an honest sender would not have sent.
        if !delta::delta_words(received.encoding, weights, received.keyframe, d, public) {
            return Err(Failure::Mismatch);
        }
    } else {
        delta::full_words(received.encoding, weights, public);
    }
    let same = public
        .iter()
        .zip(received.words)
        .all(|(p, r)| *p == r.to_bits());
    if same { Ok(()) } else { Err(Failure::Mismatch) }
}

/// The neuron after training on `claim`: `LinearNeuron::observe` per
/// sample at its claimed step, from the claimed base and window.
pub fn replay(
    model: LinearNeuronConfig,
    table: &[Q; 4],
    claim: &Claim<'_>,
) -> Result<LinearNeuron, Failure> {
    if claim.steps.len() != claim.samples.len() {
        return Err(Failure::BadSteps);
    }
    let config = LinearNeuronConfig {
        initial_weights: InitialWeights::Zeros,
        ..model
    };
    let mut neuron = LinearNeuron::new(config).map_err(|_| Failure::BadBase)?;
    neuron.set_weights(claim.base).map_err(|e| match e {
        model::ModelError::DimensionMismatch { .. }
        | model::ModelError::WeightOutOfRange { .. } => Failure::BadBase,
    })?;
    neuron
        .restore_history(claim.history)
        .map_err(|_| Failure::BadHistory)?;
    for (sample, code) in claim.samples.iter().zip(claim.steps) {
        let step = *table.get(usize::from(*code)).ok_or(Failure::BadSteps)?;
        neuron.set_step_size(step).map_err(|_| Failure::BadSteps)?;
        neuron.observe(*sample);
    }
    Ok(neuron)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::delta::{DeltaConfig, PublicModel};
    use crate::q;
    use alloc::vec::Vec;

    fn table() -> [Q; 4] {
        [
            q::ratio(5, 100),
            q::ratio(1, 10),
            q::ratio(2, 10),
            q::ratio(2, 10),
        ]
    }

    fn samples(n: usize, phase: i32) -> Vec<Q> {
        (0..n as i32)
            .map(|t| q::from_raw(((t * 7 + phase) % 23 - 11) * 5_000))
            .collect()
    }

    /// A node trains; its sender side emits two updates (full, then a
    /// delta); the auditor replays each from the claim and passes; a
    /// tampered word or sample fails.
    #[test]
    fn honest_replay_passes_and_tampering_fails() {
        let config = LinearNeuronConfig::default();
        let mut node = LinearNeuron::new(config).unwrap();
        let mut public = PublicModel::new(node.dim());
        let delta_config = DeltaConfig::default();
        let before = samples(20, 3);
        for s in &before {
            node.observe(*s);
        }
        for (round, encoding) in [(1_u32, Encoding::Raw), (2, Encoding::Bfp16)] {
            let base = node.weights().to_vec();
            let mut history = [q::ZERO; 32];
            let history_len = node.history_into(&mut history);
            let round_samples = samples(10, round as i32);
            let codes: Vec<u8> = (0..10).map(|i| (i % 4) as u8).collect();
            for (s, c) in round_samples.iter().zip(&codes) {
                node.set_step_size(table()[usize::from(*c)]).unwrap();
                node.observe(*s);
            }
            let keyframe_before = public.keyframe().map(|(_, k)| k.to_vec());
            let out = public.next(&delta_config, encoding, node.weights(), round);
            assert_eq!(out.delta, round == 2);
            let keyframe = keyframe_before.unwrap_or_else(|| public.words().to_vec());
            let claim = Claim {
                base: &base,
                history: &history[..history_len],
                samples: &round_samples,
                steps: &codes,
            };
            let received = Received {
                words: public.words(),
                keyframe: &keyframe,
                delta: out.delta,
                encoding: out.encoding,
            };
            assert_eq!(verify(config, &table(), &claim, &received), Ok(()));
            // One raw unit off in the received update: caught.
            let mut tampered = public.words().to_vec();
            tampered[3] = Q::from_bits(tampered[3].to_bits() + 1);
            let forged = Received {
                words: &tampered,
                ..received
            };
            assert_eq!(
                verify(config, &table(), &claim, &forged),
                Err(Failure::Mismatch)
            );
            // A different claimed step: caught (the steps differ here).
            let mut other = codes.clone();
            other[9] = 0;
            let wrong = Claim {
                steps: &other,
                ..claim
            };
            assert_eq!(
                verify(config, &table(), &wrong, &received),
                Err(Failure::Mismatch)
            );
        }
    }

    #[test]
    fn malformed_claims_fail() {
        let config = LinearNeuronConfig::default();
        let base = [q::ZERO; 9];
        let received = Received {
            words: &base,
            keyframe: &base,
            delta: false,
            encoding: Encoding::Raw,
        };
        let ok = Claim {
            base: &base,
            history: &[],
            samples: &[],
            steps: &[],
        };
        assert_eq!(verify(config, &table(), &ok, &received), Ok(()));
        let short = Claim {
            base: &base[..8],
            ..ok
        };
        assert_eq!(
            verify(config, &table(), &short, &received),
            Err(Failure::BadBase)
        );
        let big = [q::from_int(5); 9];
        let out_of_range = Claim { base: &big, ..ok };
        assert_eq!(
            verify(config, &table(), &out_of_range, &received),
            Err(Failure::BadBase)
        );
        let long = [q::ZERO; 9];
        let history = Claim {
            history: &long,
            ..ok
        };
        assert_eq!(
            verify(config, &table(), &history, &received),
            Err(Failure::BadHistory)
        );
        let one = [q::ONE];
        let missing = Claim {
            samples: &one,
            ..ok
        };
        assert_eq!(
            verify(config, &table(), &missing, &received),
            Err(Failure::BadSteps)
        );
        let code = [4_u8];
        let beyond = Claim {
            samples: &one,
            steps: &code,
            ..ok
        };
        assert_eq!(
            verify(config, &table(), &beyond, &received),
            Err(Failure::BadSteps)
        );
    }
}
