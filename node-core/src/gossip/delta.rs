//! Delta updates: send the change against the sender's last keyframe, when
//! that is smaller than the model itself.
//!
//! "The last agreed model" needs care in a decentralized swarm: a receiver
//! does not know the sender's aggregate, and any frame may be lost. The
//! agreement kept here is the sender's **keyframe**, the last full update
//! it sent, which it and every receiver that got it hold identically:
//!
//! * a **full** update (keyframe) carries the model quantized by the full
//!   encoding; sender and receivers set both the keyframe `K` and the
//!   sender's *public model* `P` (what receivers aggregate) to those words;
//! * a **delta** update carries `d = Q(w − K)`, the difference between the
//!   sender's current model `w` and its keyframe, quantized by the delta
//!   encoding `Q`, with `base_round` = the keyframe's round; sender and
//!   receivers set `P = K + d` (exact `i32` sums, so the copies stay
//!   bit-identical; the sender sends a keyframe instead when a sum would
//!   overflow);
//! * a receiver applies a delta when it holds the keyframe of `base_round`.
//!   Every delta is against the same keyframe, so a lost delta costs only
//!   that update, and a lost keyframe costs the deltas until the next one,
//!   which the sender sends at least every `keyframe_rounds` broadcasts.
//!   (Deltas against the previous public model, as before, made one lost
//!   frame cost every update until the next keyframe: 5 % link loss refused
//!   19.6 % of updates.)
//!
//! **Quantization error.** `P − w = Q(w − K) − (w − K)`: the error of one
//! quantization of the whole drift since the keyframe, at most `2^(e−1)`
//! raw units per word, `e` the BFP exponent of that drift's block
//! (`wire::bfp`; at most `2^−7` of the block's largest drift for BFP-8). It
//! does not accumulate across deltas, because each delta re-quantizes
//! `w − K` from scratch and so re-sends the previous deltas' error; the
//! error feedback chained deltas needed is implicit, and nothing is kept
//! for it. The price: the error scales with the drift since the keyframe
//! rather than with one round's change.
//!
//! **Receiver memory.** Per tracked sender: its id, its keyframe round and
//! a flags byte (9 B), its public model `P` (`4·dim` B, aggregated in place)
//! and the last delta applied, packed in this node's delta encoding
//! (`⌈dim/16⌉ + dim` B for BFP-8). `K` itself is not stored: it is
//! `P − d` (exact, wrapping `i32` arithmetic), recomputed when the next
//! delta arrives. At `dim = 9` with BFP-8 deltas: 9 + 36 + 10 = 55 B per
//! sender (49 B before; storing `K` in full would be 81 B). A delta whose
//! words this node's delta encoding cannot hold exactly (a sender with a
//! wider delta encoding) is refused.
//!
//! **Stable table.** A receiver tracks at most `tracked_peers` senders: the
//! first it hears, never evicted (as the reputation table,
//! [`crate::reputation`]), so a delta base is never lost to churn. A new
//! sender to a full table is refused.
//!
//! A delta is sent only when its encoding is smaller than the full
//! update's (the paper's "when that is smaller"); with raw Q16.16 full
//! updates and 8-bit block floating point deltas, a 9-word model travels in
//! 38 bytes instead of 64.

use alloc::boxed::Box;
use alloc::vec;

use crate::q::{self, Q};
use crate::runtime::NodeId;
use crate::wire::{self, Encoding, Words};

/// Delta-update parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeltaConfig {
    /// Whether deltas are sent at all. Default true (the paper's rule).
    pub enabled: bool,
    /// Encoding of delta words; also how a receiver stores the last delta
    /// of each sender. Default 8-bit block floating point.
    pub encoding: Encoding,
    /// A full update (keyframe) at least every this many broadcasts,
    /// `1..=1000`, so receivers that lost a keyframe resynchronise.
    /// Default 10.
    pub keyframe_rounds: u16,
    /// Senders a receiver tracks (their keyframe and latest model),
    /// `1..=64`: the first heard, never evicted. Default 32. The round's
    /// inbox is drawn from this table, so it also bounds the senders heard
    /// in one round.
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
    /// The round of the keyframe a delta builds on (`round` for a full one).
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

/// The sender's side: its keyframe, its public model and when the last
/// keyframe went.
#[derive(Clone, Debug)]
pub struct PublicModel {
    /// The keyframe `K`, then the public model `P` (`dim` words each): one
    /// allocation instead of two `Vec`s.
    keyframe_and_words: Box<[Q]>,
    keyframe_round: Option<u32>,
    since_keyframe: u16,
}

impl PublicModel {
    /// Heap bytes this model owns (keyframe and words).
    pub fn heap_bytes(&self) -> usize {
        crate::heap::of_slice(&self.keyframe_and_words[..])
    }

    /// `(K, P)`.
    fn split_mut(&mut self) -> (&mut [Q], &mut [Q]) {
        let dim = self.keyframe_and_words.len() / 2;
        self.keyframe_and_words.split_at_mut(dim)
    }

    /// No update sent yet (`dim` words, `1..=wire::MAX_DIM`).
    pub fn new(dim: usize) -> PublicModel {
        assert!(dim > 0 && dim <= wire::MAX_DIM);
        PublicModel {
            keyframe_and_words: vec![q::ZERO; 2 * dim].into_boxed_slice(),
            keyframe_round: None,
            since_keyframe: 0,
        }
    }

    /// The next update for the model `current` in `round`: a delta
    /// against the last keyframe when there is one, no keyframe is due, the
    /// delta encodes smaller than a full update in `full_encoding` and
    /// `K + d` does not overflow; else a full update, the new keyframe.
    /// Updates the public model as every receiver of the update will.
    pub fn next(
        &mut self,
        config: &DeltaConfig,
        full_encoding: Encoding,
        current: &[Q],
        round: u32,
    ) -> Outgoing {
        assert_eq!(current.len(), self.words().len(), "model dimension changed");
        let dim = current.len();
        let smaller = config.encoding.words_len(dim) < full_encoding.words_len(dim);
        let keyframe_due = self.since_keyframe.saturating_add(1) >= config.keyframe_rounds;
        if let Some(base_round) = self.keyframe_round
            && config.enabled
            && smaller
            && !keyframe_due
            && let Some(words) = self.delta(config.encoding, current)
        {
            self.since_keyframe += 1;
            return Outgoing {
                delta: true,
                base_round,
                encoding: config.encoding,
                words,
            };
        }
        let mut raw = [0_i32; wire::MAX_DIM];
        let raw = &mut raw[..dim];
        full_words(full_encoding, current, raw);
        let words = words_of(raw);
        let (keyframe, public) = self.split_mut();
        keyframe.copy_from_slice(words.as_slice());
        public.copy_from_slice(words.as_slice());
        self.keyframe_round = Some(round);
        self.since_keyframe = 0;
        Outgoing {
            delta: false,
            base_round: round,
            encoding: full_encoding,
            words,
        }
    }

    /// `d = Q(current − K)` and `P = K + d`, or `None` (nothing changed)
    /// when a word of `K + d` overflows `i32`.
    fn delta(&mut self, encoding: Encoding, current: &[Q]) -> Option<Words> {
        let dim = current.len();
        let mut raw = [0_i32; wire::MAX_DIM];
        let raw = &mut raw[..dim];
        let mut public = [0_i32; wire::MAX_DIM];
        let public = &mut public[..dim];
        let (keyframe, words) = self.split_mut();
        if !delta_words(encoding, current, keyframe, raw, public) {
            return None;
        }
        for (p, &v) in words.iter_mut().zip(public.iter()) {
            *p = Q::from_bits(v);
        }
        Some(words_of(raw))
    }

    /// The public model (what receivers hold).
    pub fn words(&self) -> &[Q] {
        let dim = self.keyframe_and_words.len() / 2;
        &self.keyframe_and_words[dim..]
    }

    /// The last keyframe sent, and its round (`None` before the first).
    pub fn keyframe(&self) -> Option<(u32, &[Q])> {
        let dim = self.keyframe_and_words.len() / 2;
        let keyframe = &self.keyframe_and_words[..dim];
        self.keyframe_round.map(|round| (round, keyframe))
    }
}

/// The words of a full update of `current` in `encoding` (raw bits into
/// `out`): `current` quantized as the receiver will decode it. The one
/// definition the sender and an auditor ([`crate::audit`]) share.
pub fn full_words(encoding: Encoding, current: &[Q], out: &mut [i32]) {
    assert_eq!(current.len(), out.len());
    for (r, c) in out.iter_mut().zip(current) {
        *r = c.to_bits();
    }
    quantize(encoding, out);
}

/// A delta of `current` against `keyframe` in `encoding`: writes `d =
/// Q(current − K)` (saturating differences) into `delta` and the public
/// model `P = K + d` into `public` (raw bits), or returns `false` when a
/// word of `K + d` overflows `i32` (the sender then sends a keyframe). The
/// one definition the sender and an auditor ([`crate::audit`]) share.
pub fn delta_words(
    encoding: Encoding,
    current: &[Q],
    keyframe: &[Q],
    delta: &mut [i32],
    public: &mut [i32],
) -> bool {
    assert!(current.len() == keyframe.len() && delta.len() == current.len());
    assert_eq!(public.len(), current.len());
    for ((d, c), k) in delta.iter_mut().zip(current).zip(keyframe) {
        *d = c.to_bits().saturating_sub(k.to_bits());
    }
    quantize(encoding, delta);
    for ((p, k), d) in public.iter_mut().zip(keyframe).zip(delta.iter()) {
        match k.to_bits().checked_add(*d) {
            Some(sum) => *p = sum,
            None => return false,
        }
    }
    true
}

/// `raw` (at most `wire::MAX_DIM` words, checked by the callers) as words.
fn words_of(raw: &[i32]) -> Words {
    let mut words = Words::new();
    for r in raw {
        let pushed = words.push(Q::from_bits(*r));
        assert!(pushed.is_ok(), "dimension above wire::MAX_DIM");
    }
    words
}

/// Packs `raw` into `out` (exactly `encoding.words_len(raw.len())` bytes)
/// if `encoding` holds every word exactly; `false` (nothing written)
/// otherwise. Raw words are little-endian `i32`s, BFP blocks as on the wire.
fn pack(encoding: Encoding, raw: &[i32], out: &mut [u8]) -> bool {
    assert_eq!(out.len(), encoding.words_len(raw.len()));
    let mut check = [0_i32; wire::MAX_DIM];
    let check = &mut check[..raw.len()];
    check.copy_from_slice(raw);
    quantize(encoding, check);
    if check != raw {
        return false;
    }
    match encoding.mantissa_width() {
        None => {
            for (chunk, word) in out.chunks_exact_mut(4).zip(raw) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
        }
        Some(width) => {
            let written = wire::bfp::encode(width, raw, out);
            assert_eq!(written, Ok(out.len()));
        }
    }
    true
}

/// Unpacks what [`pack`] wrote (all-zero bytes are the zero delta).
fn unpack(encoding: Encoding, bytes: &[u8], out: &mut [i32]) {
    assert_eq!(bytes.len(), encoding.words_len(out.len()));
    match encoding.mantissa_width() {
        None => {
            for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *word = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
        }
        Some(width) => {
            let read = wire::bfp::decode(width, bytes, out);
            assert_eq!(read, Ok(bytes.len()), "packed deltas are canonical");
        }
    }
}

/// Why a received update could not be turned into a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaError {
    /// A delta whose keyframe this receiver does not hold (the keyframe
    /// was lost, or the sender's first frame here was a delta): wait for
    /// the next keyframe.
    MissingBase,
    /// A new sender, and the table already tracks `tracked_peers` senders
    /// (tracked senders are never evicted).
    Full,
    /// A delta this node's delta encoding cannot store exactly (the
    /// sender uses a wider delta encoding).
    Unstorable,
}

/// The receiver's side: each tracked sender's keyframe round, public model
/// and last delta (module docs), and which senders were heard since the
/// last aggregation (the round's inbox: the node aggregates these models
/// in place, no copy). Slots are given in the order senders are first
/// heard and never taken back.
#[derive(Clone, Debug)]
pub struct PeerModels {
    /// `capacity` sender ids (the first `len` tracked), then `capacity`
    /// keyframe rounds: one allocation instead of two `Vec`s.
    ids_and_rounds: Box<[u32]>,
    /// `capacity × dim` public models.
    models: Box<[Q]>,
    /// `capacity` slot flags ([`HEARD`], [`KEYED`]; zero past `len`), then
    /// `capacity × encoding.words_len(dim)` last deltas packed in
    /// `encoding`.
    flags_and_deltas: Box<[u8]>,
    /// Slots tracked, `0..=capacity`.
    len: u8,
    /// Slots, `1..=255` (a node's is `tracked_peers ≤ INBOX_MAX`).
    capacity: u8,
    /// Words per model, `1..=wire::MAX_DIM` (64).
    dim: u8,
    encoding: Encoding,
}

/// Slot flag: heard since the last [`PeerModels::clear_heard`].
const HEARD: u8 = 1;
/// Slot flag: holds a keyframe (its round in `keyframe_rounds`).
const KEYED: u8 = 2;

impl PeerModels {
    /// Heap bytes the table owns (every slot's columns).
    pub fn heap_bytes(&self) -> usize {
        use crate::heap::of_slice;
        of_slice(&self.ids_and_rounds[..])
            + of_slice(&self.models[..])
            + of_slice(&self.flags_and_deltas[..])
    }

    /// Room for `capacity` senders of `dim` words (`1..=wire::MAX_DIM`),
    /// storing deltas in `encoding`; allocated once.
    ///
    /// # Panics
    ///
    /// If `capacity` is not in `1..=255` or `dim` not in
    /// `1..=wire::MAX_DIM` (the node validates both first).
    pub fn new(capacity: usize, dim: usize, encoding: Encoding) -> PeerModels {
        assert!(dim > 0 && dim <= wire::MAX_DIM);
        assert!(capacity > 0 && capacity <= usize::from(u8::MAX));
        const { assert!(wire::MAX_DIM <= u8::MAX as usize) };
        let delta_len = encoding.words_len(dim);
        PeerModels {
            ids_and_rounds: vec![0; 2 * capacity].into_boxed_slice(),
            models: vec![q::ZERO; capacity * dim].into_boxed_slice(),
            flags_and_deltas: vec![0; capacity + capacity * delta_len].into_boxed_slice(),
            len: 0,
            capacity: capacity as u8,
            dim: dim as u8,
            encoding,
        }
    }

    /// Words per model.
    fn dim(&self) -> usize {
        usize::from(self.dim)
    }

    /// Slots.
    fn capacity(&self) -> usize {
        usize::from(self.capacity)
    }

    /// Slot `slot`'s public model.
    fn model(&self, slot: usize) -> &[Q] {
        &self.models[slot * self.dim()..(slot + 1) * self.dim()]
    }

    /// Slot flags of the tracked senders.
    fn flags(&self) -> &[u8] {
        &self.flags_and_deltas[..usize::from(self.len)]
    }

    /// Slot `slot`'s keyframe round.
    fn keyframe_round(&self, slot: usize) -> u32 {
        self.ids_and_rounds[self.capacity() + slot]
    }

    /// Slot `slot`'s packed last delta.
    fn delta(&self, slot: usize) -> &[u8] {
        let delta_len = self.encoding.words_len(self.dim());
        let start = self.capacity() + slot * delta_len;
        &self.flags_and_deltas[start..start + delta_len]
    }

    /// Whether `sender` is tracked or would be (the table has room). Lets
    /// a caller check several tables before admitting a sender to any.
    pub fn admits(&self, sender: NodeId) -> bool {
        self.len() < self.capacity() || self.slot_of(sender).is_some()
    }

    /// Applies an update from `sender`, sent in the sender's `round`: a
    /// full update becomes its keyframe and public model; a delta is added
    /// to the keyframe of `base_round` if this receiver holds it. A new
    /// sender takes a free slot (even if its update then fails, so the
    /// table holds the first senders heard). Marks the sender heard on
    /// success and returns its public model.
    pub fn apply(
        &mut self,
        sender: NodeId,
        round: u32,
        delta: bool,
        base_round: u32,
        words: &[Q],
    ) -> Result<&[Q], DeltaError> {
        assert_eq!(words.len(), self.dim());
        let slot = match self.slot_of(sender) {
            Some(slot) => slot,
            None => self.claim(sender).ok_or(DeltaError::Full)?,
        };
        let (dim, delta_len, capacity) = (
            self.dim(),
            self.encoding.words_len(self.dim()),
            self.capacity(),
        );
        if delta && (self.flags()[slot] & KEYED == 0 || self.keyframe_round(slot) != base_round) {
            return Err(DeltaError::MissingBase);
        }
        let model = &mut self.models[slot * dim..(slot + 1) * dim];
        let (flags, deltas) = self.flags_and_deltas.split_at_mut(capacity);
        let stored = &mut deltas[slot * delta_len..(slot + 1) * delta_len];
        if delta {
            let mut raw = [0_i32; wire::MAX_DIM];
            let raw = &mut raw[..dim];
            for (r, w) in raw.iter_mut().zip(words) {
                *r = w.to_bits();
            }
            let mut last = [0_i32; wire::MAX_DIM];
            let last = &mut last[..dim];
            unpack(self.encoding, stored, last);
            if !pack(self.encoding, raw, stored) {
                return Err(DeltaError::Unstorable);
            }
            // P = (P_old − d_old) + d = K + d, wrapping so it is exact.
            for ((p, l), d) in model.iter_mut().zip(last.iter()).zip(raw.iter()) {
                let keyframe = p.to_bits().wrapping_sub(*l);
                *p = Q::from_bits(keyframe.wrapping_add(*d));
            }
        } else {
            model.copy_from_slice(words);
            stored.fill(0);
            flags[slot] |= KEYED;
            self.ids_and_rounds[capacity + slot] = round;
        }
        flags[slot] |= HEARD;
        Ok(self.model(slot))
    }

    fn slot_of(&self, sender: NodeId) -> Option<usize> {
        self.peers().iter().position(|p| *p == sender)
    }

    /// A free slot for a new sender, or `None` when the table is full.
    fn claim(&mut self, sender: NodeId) -> Option<usize> {
        let slot = self.len();
        if slot >= self.capacity() {
            return None;
        }
        // Slots past `len` are zero (construction, `retrack`).
        assert_eq!(self.flags_and_deltas[slot], 0);
        self.ids_and_rounds[slot] = sender;
        self.ids_and_rounds[self.capacity() + slot] = 0;
        self.len += 1;
        assert!(self.len <= self.capacity);
        Some(slot)
    }

    /// The senders heard since the last [`PeerModels::clear_heard`] and
    /// their models, in slot order (deterministic).
    pub fn heard(&self) -> impl Iterator<Item = (NodeId, &[Q])> {
        (0..self.len())
            .filter(|&i| self.flags()[i] & HEARD != 0)
            .map(|i| (self.peers()[i], self.model(i)))
    }

    /// The public model `P` held of `sender` and its keyframe `K = P − d`
    /// (`d` the last delta applied, zero after a full update), written
    /// into `model` and `keyframe` (`dim` words each); `None` when
    /// `sender` is not tracked or holds no keyframe. What an auditor
    /// compares a recomputed update with ([`crate::audit`]).
    pub fn model_and_keyframe(
        &self,
        sender: NodeId,
        model: &mut [Q],
        keyframe: &mut [Q],
    ) -> Option<()> {
        let slot = self.slot_of(sender)?;
        if self.flags()[slot] & KEYED == 0 {
            return None;
        }
        let dim = self.dim();
        assert!(model.len() == dim && keyframe.len() == dim);
        let public = self.model(slot);
        let mut last = [0_i32; wire::MAX_DIM];
        let last = &mut last[..dim];
        unpack(self.encoding, self.delta(slot), last);
        for ((k, p), d) in keyframe.iter_mut().zip(public).zip(last.iter()) {
            *k = Q::from_bits(p.to_bits().wrapping_sub(*d));
        }
        model.copy_from_slice(public);
        Some(())
    }

    /// Senders heard since the last [`PeerModels::clear_heard`].
    pub fn heard_len(&self) -> usize {
        self.flags().iter().filter(|f| **f & HEARD != 0).count()
    }

    /// Starts a new round's inbox (the models stay).
    pub fn clear_heard(&mut self) {
        let len = self.len();
        self.flags_and_deltas[..len]
            .iter_mut()
            .for_each(|f| *f &= !HEARD);
    }

    /// Senders tracked, in the order first heard.
    pub fn peers(&self) -> &[NodeId] {
        &self.ids_and_rounds[..self.len()]
    }

    /// Senders tracked.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no sender is tracked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Restore support (docs/persistence.md): a restored node forgets every
/// keyframe — its own and its peers' — because the ones it saved may be
/// older than what its peers now hold.
impl PublicModel {
    /// Forgets the last keyframe, so the next update is a full keyframe
    /// (as for a node that never sent one).
    pub fn forget_keyframe(&mut self) {
        self.keyframe_and_words.fill(q::ZERO);
        self.keyframe_round = None;
        self.since_keyframe = 0;
    }
}

impl PeerModels {
    /// Empties the table and re-tracks `peers` in this order, each without
    /// a keyframe and not heard: slot order (the aggregation order) and the
    /// stable set of tracked senders survive a restore, the stale models
    /// do not (a delta from one of them is refused as `MissingBase` until
    /// its next keyframe). Refuses more peers than the capacity or a
    /// repeated peer, leaving the table unchanged.
    pub fn retrack(&mut self, peers: &[NodeId]) -> Result<(), DeltaError> {
        if peers.len() > self.capacity() {
            return Err(DeltaError::Full);
        }
        for (i, peer) in peers.iter().enumerate() {
            if peers[..i].contains(peer) {
                return Err(DeltaError::Unstorable);
            }
        }
        self.len = 0;
        self.ids_and_rounds.fill(0);
        self.models.fill(q::ZERO);
        self.flags_and_deltas.fill(0);
        for peer in peers {
            self.claim(*peer).expect("capacity checked above");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::bfp::{self, MantissaWidth};
    use alloc::vec::Vec;

    fn model(values: &[i32]) -> Vec<Q> {
        values.iter().map(|v| Q::from_bits(*v)).collect()
    }

    /// The model drifts a little each round.
    fn drift(current: &mut [Q], round: u32) {
        for (i, w) in current.iter_mut().enumerate() {
            let step = (round as i32 * 37 + i as i32 * 11) % 200 - 90;
            *w = Q::from_bits(w.to_bits() + step);
        }
    }

    /// Receives `out` from sender 7.
    fn receive(
        receiver: &mut PeerModels,
        round: u32,
        out: &Outgoing,
    ) -> Result<Vec<Q>, DeltaError> {
        receiver
            .apply(7, round, out.delta, out.base_round, out.words.as_slice())
            .map(<[Q]>::to_vec)
    }

    #[test]
    fn receivers_track_the_sender_bit_for_bit() {
        let config = DeltaConfig::default();
        let mut sender = PublicModel::new(3);
        let mut receiver = PeerModels::new(4, 3, config.encoding);
        let mut current = model(&[65_536, -30_000, 1_234]);
        for round in 1..=25_u32 {
            drift(&mut current, round);
            let out = sender.next(&config, Encoding::Raw, &current, round);
            // Every 10th broadcast is full; the others are deltas against it.
            assert_eq!(out.delta, round % 10 != 1, "round {round}");
            let (keyframe_round, keyframe) = sender.keyframe().unwrap();
            assert_eq!(out.base_round, keyframe_round);
            assert_eq!(keyframe_round, round - (round - 1) % 10);
            assert_eq!(receive(&mut receiver, round, &out).unwrap(), sender.words());
            // One quantization of the drift since the keyframe: within
            // 2^(e−1) of the current model, e the drift block's exponent.
            let drift: Vec<i32> = current
                .iter()
                .zip(keyframe)
                .map(|(c, k)| c.to_bits() - k.to_bits())
                .collect();
            let bound = bfp::max_error_raw(bfp::block_exponent(MantissaWidth::Bits8, &drift));
            for (p, c) in sender.words().iter().zip(&current) {
                assert!(
                    (p.to_bits() - c.to_bits()).unsigned_abs() <= bound,
                    "{p} vs {c}"
                );
            }
        }
    }

    #[test]
    fn a_lost_delta_costs_only_itself() {
        let config = DeltaConfig::default();
        let mut sender = PublicModel::new(9);
        let mut receiver = PeerModels::new(2, 9, config.encoding);
        let mut current = model(&[40_000, -7, 3, 90_000, -65_536, 12, 0, 5_000, -300]);
        let (mut deltas, mut accepted) = (0, 0);
        for round in 1..=40_u32 {
            drift(&mut current, round);
            let out = sender.next(&config, Encoding::Raw, &current, round);
            if out.delta {
                deltas += 1;
                if deltas % 2 == 0 {
                    continue; // every second delta is lost on the air
                }
            }
            // Every other update is accepted and gives the exact public model.
            assert_eq!(
                receive(&mut receiver, round, &out),
                Ok(sender.words().to_vec()),
                "round {round}"
            );
            accepted += 1;
        }
        // 4 keyframes, 36 deltas of which 18 lost.
        assert_eq!((deltas, accepted), (36, 22));
    }

    #[test]
    fn a_lost_keyframe_costs_until_the_next_one() {
        let config = DeltaConfig {
            keyframe_rounds: 4,
            ..DeltaConfig::default()
        };
        let mut sender = PublicModel::new(2);
        let mut receiver = PeerModels::new(2, 2, config.encoding);
        let mut current = model(&[100, 200]);
        let mut outcomes = Vec::new();
        for round in 1..=10 {
            drift(&mut current, round);
            let out = sender.next(&config, Encoding::Raw, &current, round);
            if round == 3 || round == 5 {
                continue; // a delta, then a keyframe, lost on the air
            }
            let r = receive(&mut receiver, round, &out);
            if let Ok(words) = &r {
                assert_eq!(words, sender.words());
            }
            outcomes.push((round, out.delta, r.map(|_| ())));
        }
        let missing = Err(DeltaError::MissingBase);
        assert_eq!(
            outcomes,
            [
                (1, false, Ok(())),
                (2, true, Ok(())),
                (4, true, Ok(())),
                (6, true, missing),
                (7, true, missing),
                (8, true, missing),
                (9, false, Ok(())),
                (10, true, Ok(())),
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
            assert!(!sender.next(&same, Encoding::Raw, &current, round).delta);
        }
        let off = DeltaConfig {
            enabled: false,
            ..DeltaConfig::default()
        };
        for round in 5..9 {
            assert!(!sender.next(&off, Encoding::Raw, &current, round).delta);
        }
    }

    #[test]
    fn a_keyframe_replaces_a_delta_that_would_overflow() {
        let config = DeltaConfig::default();
        let mut sender = PublicModel::new(2);
        let near_max = i32::MAX - 5_000;
        sender.next(&config, Encoding::Raw, &model(&[0, near_max]), 1);
        // The drift block [1_000_000, 5_000] has BFP-8 exponent 13: 5_000
        // rounds up to 8_192, and K + 8_192 would overflow.
        let current = model(&[1_000_000, i32::MAX]);
        let out = sender.next(&config, Encoding::Raw, &current, 2);
        assert!(!out.delta);
        assert_eq!(sender.words(), &current[..]);
        // Without the overflow, the same drift goes as a delta.
        let mut sender = PublicModel::new(2);
        sender.next(&config, Encoding::Raw, &model(&[0, 0]), 1);
        assert!(
            sender
                .next(&config, Encoding::Raw, &model(&[1_000_000, 5_000]), 2)
                .delta
        );
    }

    #[test]
    fn the_first_senders_are_tracked_for_good() {
        let mut receiver = PeerModels::new(2, 1, Encoding::Bfp8);
        let w = model(&[5]);
        receiver.apply(1, 1, false, 1, &w).unwrap();
        // A first delta claims the slot too (the sender was heard).
        assert_eq!(
            receiver.apply(2, 1, true, 0, &w),
            Err(DeltaError::MissingBase)
        );
        assert_eq!(receiver.heard_len(), 1);
        assert!(receiver.admits(2) && !receiver.admits(3));
        assert_eq!(receiver.apply(3, 1, false, 1, &w), Err(DeltaError::Full));
        // Rounds later, with 1 and 2 silent, 3 is still refused.
        for _ in 0..5 {
            receiver.clear_heard();
            assert_eq!(receiver.apply(3, 9, false, 9, &w), Err(DeltaError::Full));
        }
        assert_eq!(receiver.peers(), &[1, 2]);
        receiver.apply(2, 9, false, 9, &w).unwrap();
        assert_eq!(
            receiver.apply(2, 10, true, 9, &w).unwrap(),
            &model(&[10])[..]
        );
        let heard: Vec<NodeId> = receiver.heard().map(|(p, _)| p).collect();
        assert_eq!(heard, [2]);
    }

    #[test]
    fn a_delta_this_node_cannot_store_is_refused() {
        let mut receiver = PeerModels::new(1, 2, Encoding::Bfp8);
        receiver
            .apply(4, 1, false, 1, &model(&[1_000, 2_000]))
            .unwrap();
        receiver.apply(4, 2, true, 1, &model(&[127, 3])).unwrap();
        // 129 and 3 in one block need 8 magnitude bits (a BFP-16 delta).
        assert_eq!(
            receiver.apply(4, 3, true, 1, &model(&[129, 3])),
            Err(DeltaError::Unstorable)
        );
        // Unchanged, and the keyframe is still recovered exactly.
        assert_eq!(
            receiver.apply(4, 4, true, 1, &model(&[-64, 0])).unwrap(),
            &model(&[936, 2_000])[..]
        );
    }

    #[test]
    fn packing_round_trips_and_zero_bytes_are_the_zero_delta() {
        for encoding in [Encoding::Raw, Encoding::Bfp16, Encoding::Bfp8] {
            let mut raw = [123_456, -7, 0, 99, -1_000_000];
            quantize(encoding, &mut raw);
            let mut bytes = vec![0_u8; encoding.words_len(raw.len())];
            let mut back = [1_i32; 5];
            unpack(encoding, &bytes, &mut back);
            assert_eq!(back, [0; 5]);
            assert!(pack(encoding, &raw, &mut bytes));
            unpack(encoding, &bytes, &mut back);
            assert_eq!(back, raw);
        }
    }
}
