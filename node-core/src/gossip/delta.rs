//! Delta updates: send the change against the model sender and receivers
//! agree on, when that is smaller than the model itself.
//!
//! "The last agreed model" needs care in a decentralized swarm: a receiver
//! does not know the sender's aggregate. The agreement kept here is the
//! sender's *public model*, the copy of its weights that it and every
//! receiver hold identically (the public estimate of CHOCO-style compressed
//! gossip, Koloskova et al. 2019):
//!
//! * a **full** update sets the public model to the words sent (after the
//!   encoding's quantization, so both sides hold the same bits);
//! * a **delta** update sends `current − public` quantized by the delta
//!   encoding, tagged with `base_round`, the round of the update it builds
//!   on; sender and receivers add the same quantized words, so their copies
//!   stay bit-identical and the quantization error is not lost but carried
//!   into the next delta (error feedback);
//! * a receiver applies a delta only when its copy of the sender is at
//!   `base_round`; after a lost frame it refuses the sender's deltas until
//!   the next full update, which the sender sends at least every
//!   `keyframe_rounds` broadcasts.
//!
//! A delta is sent only when its encoding is smaller than the full
//! update's (the paper's "when that is smaller"); with raw Q16.16 full
//! updates and 8-bit block floating point deltas, a 9-word model travels in
//! 38 bytes instead of 64.

use alloc::vec;
use alloc::vec::Vec;

use crate::q::{self, Q};
use crate::runtime::NodeId;
use crate::wire::{self, Encoding, Words};

/// Delta-update parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeltaConfig {
    /// Whether deltas are sent at all. Default true (the paper's rule).
    pub enabled: bool,
    /// Encoding of delta words. Default 8-bit block floating point.
    pub encoding: Encoding,
    /// A full update at least every this many broadcasts, `1..=1000`, so
    /// receivers that lost a frame resynchronise. Default 10.
    pub keyframe_rounds: u16,
    /// Senders whose latest model a receiver keeps, `1..=64`. Default 32.
    /// The round's inbox is drawn from this table, so it also bounds the
    /// senders heard in one round (more are dropped and counted).
    pub tracked_peers: u8,
}

impl Default for DeltaConfig {
    fn default() -> DeltaConfig {
        DeltaConfig {
            enabled: true,
            encoding: Encoding::Bfp8,
            keyframe_rounds: 10,
            tracked_peers: 32,
        }
    }
}

/// What to put in the next model update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// Whether the words are a delta.
    pub delta: bool,
    /// The round of the update a delta builds on (`round` for a full one).
    pub base_round: u32,
    /// Encoding of the words.
    pub encoding: Encoding,
    /// The words, already quantized by `encoding`.
    pub words: Words,
}

/// Rounds `raw` words to what `encoding` carries, exactly as the receiver
/// will decode them.
pub fn quantize(encoding: Encoding, raw: &mut [i32]) {
    wire::bfp::quantize_for(encoding, raw);
}

/// The sender's side: its public model and when the last full update went.
#[derive(Clone, Debug)]
pub struct PublicModel {
    words: Vec<Q>,
    round: Option<u32>,
    since_keyframe: u16,
}

impl PublicModel {
    /// No update sent yet (`dim` words).
    pub fn new(dim: usize) -> PublicModel {
        PublicModel {
            words: vec![q::ZERO; dim],
            round: None,
            since_keyframe: 0,
        }
    }

    /// The next update for the model `current` in `round`: a delta when
    /// one builds on an earlier update, no keyframe is due and it encodes
    /// smaller than a full update in `full_encoding`; else a full update.
    /// Updates the public model as every receiver of the update will.
    pub fn next(
        &mut self,
        config: &DeltaConfig,
        full_encoding: Encoding,
        current: &[Q],
        round: u32,
    ) -> Option<Outgoing> {
        assert_eq!(current.len(), self.words.len(), "model dimension changed");
        let dim = current.len();
        let smaller = config.encoding.words_len(dim) < full_encoding.words_len(dim);
        let keyframe_due = self.since_keyframe + 1 >= config.keyframe_rounds;
        match self.round {
            Some(base_round) if config.enabled && smaller && !keyframe_due => {
                let mut raw = [0_i32; wire::MAX_DIM];
                let raw = &mut raw[..dim];
                for ((d, c), p) in raw.iter_mut().zip(current).zip(&self.words) {
                    *d = c.to_bits().saturating_sub(p.to_bits());
                }
                quantize(config.encoding, raw);
                add_raw(&mut self.words, raw.iter().copied());
                self.round = Some(round);
                self.since_keyframe += 1;
                let words = words_of(raw)?;
                Some(Outgoing {
                    delta: true,
                    base_round,
                    encoding: config.encoding,
                    words,
                })
            }
            _ => {
                let mut raw = [0_i32; wire::MAX_DIM];
                let raw = &mut raw[..dim];
                for (r, c) in raw.iter_mut().zip(current) {
                    *r = c.to_bits();
                }
                quantize(full_encoding, raw);
                for (p, r) in self.words.iter_mut().zip(raw.iter()) {
                    *p = Q::from_bits(*r);
                }
                self.round = Some(round);
                self.since_keyframe = 0;
                let words = words_of(raw)?;
                Some(Outgoing {
                    delta: false,
                    base_round: round,
                    encoding: full_encoding,
                    words,
                })
            }
        }
    }

    /// The public model (what receivers hold).
    pub fn words(&self) -> &[Q] {
        &self.words
    }
}

fn words_of(raw: &[i32]) -> Option<Words> {
    let mut words = Words::new();
    for r in raw {
        words.push(Q::from_bits(*r)).ok()?;
    }
    Some(words)
}

/// `target += delta` on raw bits, saturating: how sender and receivers
/// apply the same quantized delta to their copies of a public model.
fn add_raw(target: &mut [Q], delta: impl IntoIterator<Item = i32>) {
    for (t, d) in target.iter_mut().zip(delta) {
        *t = Q::from_bits(t.to_bits().saturating_add(d));
    }
}

/// Why a received update could not be turned into a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaError {
    /// A delta whose base this receiver does not hold (a frame was lost,
    /// or the sender is not tracked): wait for the next full update.
    MissingBase,
    /// A new sender, and every tracked sender was heard this round: none
    /// can be evicted before the round's aggregation.
    Full,
}

/// The receiver's side: each tracked sender's latest public model, and
/// which senders were heard since the last aggregation (the round's inbox:
/// the node aggregates these models in place, no copy).
#[derive(Clone, Debug)]
pub struct PeerModels {
    peers: Vec<NodeId>,
    rounds: Vec<u32>,
    last_used: Vec<u32>,
    heard: Vec<bool>,
    words: Vec<Q>,
    dim: usize,
    capacity: usize,
}

impl PeerModels {
    /// Room for `capacity` senders of `dim` words, allocated once.
    pub fn new(capacity: usize, dim: usize) -> PeerModels {
        PeerModels {
            peers: Vec::with_capacity(capacity),
            rounds: Vec::with_capacity(capacity),
            last_used: Vec::with_capacity(capacity),
            heard: Vec::with_capacity(capacity),
            words: vec![q::ZERO; capacity * dim],
            dim,
            capacity,
        }
    }

    /// Applies an update from `sender`, sent in the sender's `round`, marks
    /// the sender heard, and returns its model. `now_round` orders
    /// evictions: the least recently updated sender not heard since the
    /// last [`PeerModels::clear_heard`] goes first, ties by lower id.
    pub fn apply(
        &mut self,
        sender: NodeId,
        round: u32,
        delta: bool,
        base_round: u32,
        words: &[Q],
        now_round: u32,
    ) -> Result<&[Q], DeltaError> {
        debug_assert_eq!(words.len(), self.dim);
        let slot = match (self.peers.iter().position(|p| *p == sender), delta) {
            (Some(slot), true) if self.rounds[slot] == base_round => {
                let model = &mut self.words[slot * self.dim..(slot + 1) * self.dim];
                add_raw(model, words.iter().map(|d| d.to_bits()));
                slot
            }
            (_, true) => return Err(DeltaError::MissingBase),
            (found, false) => {
                let slot = match found {
                    Some(slot) => slot,
                    None => self.claim(sender).ok_or(DeltaError::Full)?,
                };
                self.words[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(words);
                slot
            }
        };
        self.rounds[slot] = round;
        self.last_used[slot] = now_round;
        self.heard[slot] = true;
        Ok(&self.words[slot * self.dim..(slot + 1) * self.dim])
    }

    /// A slot for a new sender: a free one, else the least recently used
    /// one not heard this round; `None` when every slot was heard.
    fn claim(&mut self, sender: NodeId) -> Option<usize> {
        if self.peers.len() < self.capacity {
            self.peers.push(sender);
            self.rounds.push(0);
            self.last_used.push(0);
            self.heard.push(false);
            return Some(self.peers.len() - 1);
        }
        let victim = (0..self.peers.len())
            .filter(|&i| !self.heard[i])
            .min_by_key(|&i| (self.last_used[i], self.peers[i]))?;
        self.peers[victim] = sender;
        Some(victim)
    }

    /// The senders heard since the last [`PeerModels::clear_heard`] and
    /// their models, in slot order (deterministic).
    pub fn heard(&self) -> impl Iterator<Item = (NodeId, &[Q])> {
        (0..self.peers.len())
            .filter(|&i| self.heard[i])
            .map(|i| (self.peers[i], &self.words[i * self.dim..(i + 1) * self.dim]))
    }

    /// Senders heard since the last [`PeerModels::clear_heard`].
    pub fn heard_len(&self) -> usize {
        self.heard.iter().filter(|h| **h).count()
    }

    /// Starts a new round's inbox (the models stay).
    pub fn clear_heard(&mut self) {
        self.heard.iter_mut().for_each(|h| *h = false);
    }

    /// Senders tracked.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no sender is tracked.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(values: &[i32]) -> Vec<Q> {
        values.iter().map(|v| Q::from_bits(*v)).collect()
    }

    #[test]
    fn receivers_track_the_sender_bit_for_bit() {
        let config = DeltaConfig::default();
        let mut sender = PublicModel::new(3);
        let mut receiver = PeerModels::new(4, 3);
        let mut current = model(&[65_536, -30_000, 1_234]);
        for round in 1..=25_u32 {
            // The model drifts a little each round.
            for (i, w) in current.iter_mut().enumerate() {
                *w = Q::from_bits(w.to_bits() + (round as i32 * 37 + i as i32 * 11) % 200 - 90);
            }
            let out = sender
                .next(&config, Encoding::Raw, &current, round)
                .unwrap();
            // Every 10th broadcast is full; the others are deltas.
            assert_eq!(out.delta, round % 10 != 1, "round {round}");
            let got = receiver
                .apply(
                    7,
                    round,
                    out.delta,
                    out.base_round,
                    out.words.as_slice(),
                    round,
                )
                .unwrap();
            assert_eq!(got, sender.words());
            // Error feedback: the public model stays within the 8-bit
            // quantum of the current one.
            for (p, c) in sender.words().iter().zip(&current) {
                assert!((p.to_bits() - c.to_bits()).abs() < 256, "{p} vs {c}");
            }
        }
    }

    #[test]
    fn a_lost_update_is_refused_until_the_next_keyframe() {
        let config = DeltaConfig {
            keyframe_rounds: 4,
            ..DeltaConfig::default()
        };
        let mut sender = PublicModel::new(2);
        let mut receiver = PeerModels::new(2, 2);
        let current = model(&[100, 200]);
        let mut outcomes = Vec::new();
        for round in 1..=8 {
            let out = sender
                .next(&config, Encoding::Raw, &current, round)
                .unwrap();
            if round == 2 {
                continue; // lost on the air
            }
            let r = receiver.apply(
                3,
                round,
                out.delta,
                out.base_round,
                out.words.as_slice(),
                round,
            );
            outcomes.push((round, out.delta, r.is_ok()));
        }
        assert_eq!(
            outcomes,
            [
                (1, false, true),
                (3, true, false),
                (4, true, false),
                (5, false, true),
                (6, true, true),
                (7, true, true),
                (8, true, true)
            ]
        );
    }

    #[test]
    fn no_delta_when_it_is_not_smaller_or_disabled() {
        let current = model(&[1, 2, 3]);
        let mut sender = PublicModel::new(3);
        let same = DeltaConfig {
            encoding: Encoding::Raw,
            ..DeltaConfig::default()
        };
        for round in 1..5 {
            assert!(
                !sender
                    .next(&same, Encoding::Raw, &current, round)
                    .unwrap()
                    .delta
            );
        }
        let off = DeltaConfig {
            enabled: false,
            ..DeltaConfig::default()
        };
        for round in 5..9 {
            assert!(
                !sender
                    .next(&off, Encoding::Raw, &current, round)
                    .unwrap()
                    .delta
            );
        }
    }

    #[test]
    fn least_recently_used_sender_is_evicted_but_never_one_heard() {
        let mut receiver = PeerModels::new(2, 1);
        let w = model(&[5]);
        receiver.apply(1, 1, false, 1, &w, 1).unwrap();
        receiver.apply(2, 1, false, 1, &w, 2).unwrap();
        receiver.apply(1, 2, true, 1, &w, 3).unwrap();
        // Both tracked senders were heard this round: no room for a third.
        assert_eq!(receiver.apply(3, 1, false, 1, &w, 4), Err(DeltaError::Full));
        assert_eq!(receiver.heard_len(), 2);
        let heard: Vec<NodeId> = receiver.heard().map(|(p, _)| p).collect();
        assert_eq!(heard, [1, 2]);
        receiver.clear_heard();
        assert_eq!(receiver.heard_len(), 0);
        receiver.apply(3, 1, false, 1, &w, 4).unwrap(); // evicts 2
        assert_eq!(
            receiver.apply(2, 2, true, 1, &w, 5),
            Err(DeltaError::MissingBase)
        );
        assert_eq!(
            receiver.apply(1, 3, true, 2, &w, 6).unwrap(),
            &model(&[15])[..]
        );
        assert_eq!(receiver.len(), 2);
    }
}
