//! [`Attacker`]: an honest runtime whose outgoing model updates are
//! rewritten by a Byzantine behaviour.
//!
//! ## What it does, per input
//!
//! * `handle_sample`: forwarded; a `label_flip` attacker forwards
//!   `(−1)^t · m · x_t` instead of sample `x_t` (`t` counts its samples)
//!   once attacking: its node trains on poisoned data and gossips the
//!   result honestly. A plain `−m·x` would poison nothing here: a linear
//!   autoregressive predictor fits `−x` (and `m·x`) with the same
//!   coefficients, whereas alternating signs move every frequency `f` to
//!   `π − f`, a different signal with different coefficients.
//! * `handle_frame`: forwarded; attackers that need what they hear
//!   (`mimic`, `alie`, `ipm`, `slander`, `cartel`, see
//!   [`AttackKind::observes`]) first decode the model updates into their
//!   own peer table (`gossip::delta::PeerModels`, keyframes and deltas as a
//!   receiving node decodes them); the cartel also adds them to its shared
//!   pool. Fragments are not observed (at the default 250 B MTU model
//!   updates are never fragmented).
//! * `poll_transmit`: the node's frame is taken into a scratch buffer of
//!   `wire::MAX_FRAME_LEN` bytes (so the node never fragments), parsed,
//!   and a model update is re-encoded with the attack's words `a` by the
//!   attacker's own [`PublicModel`]: a delta against its own last keyframe
//!   when the node's delta rules say so, else a full update. The frame is
//!   emitted with a correct CRC and cut to the host's MTU. While honest
//!   (before `start_round`, or in an on-off attacker's honest blocks)
//!   `a = w`, the node's model, and the bytes are exactly the node's: the
//!   attacker's public model receives the same calls as the node's. A
//!   sybil then sends one full update per extra identity, a slanderer one
//!   reputation report. Other frames are forwarded unchanged.
//!
//! Energy: the node pays for its own frame as an honest node would; the
//! sybil's and the slanderer's extra frames cost the attacker nothing (an
//! adversary is not bound by our energy model).
//!
//! ## Allocation
//!
//! Every buffer is allocated at construction; no input allocates.

use node_core::gossip::delta::{DeltaConfig, PeerModels, PublicModel};
use node_core::node::{AggregationScratch, NodeConfig};
use node_core::q::Q;
use node_core::reputation::ReputationTable;
use node_core::rng::{Purpose, stream};
use node_core::runtime::{
    Destination, FrameKind, NodeId, Runtime, RxError, SnapshotError, Telemetry, Transmit,
};
use node_core::time::Instant;
use node_core::wire::{
    self, BoundedVec, Encoding, FrameRepr, Message, ModelUpdateRepr, ReputationEntry,
    ReputationReportRepr, Words,
};
use rand_chacha::ChaCha8Rng;

use super::pool::SharedPool;
use super::{AttackKind, Role};
use crate::dataset::noise::{self, NoiseScale};
use crate::fixed;

/// An honest runtime `R` with a Byzantine [`Role`]; see the module docs.
pub struct Attacker<R> {
    inner: R,
    role: Role,
    id: NodeId,
    delta: DeltaConfig,
    encoding: Encoding,
    period_us: u64,
    offset_us: u64,
    /// The attacker's own encoder: what receivers hold of it.
    public: PublicModel,
    /// What it heard (observing attacks only).
    heard: Option<PeerModels>,
    /// The cartel's shared pool (cartel only).
    pool: Option<SharedPool>,
    /// The first peer heard, whose update a mimic copies, and that copy.
    mimic_target: Option<NodeId>,
    mimic_copy: Vec<Q>,
    rng: ChaCha8Rng,
    noise: NoiseScale,
    /// The node's frame, taken before rewriting.
    scratch: Vec<u8>,
    /// The frame being sent, cut to the MTU piece by piece.
    outbox: Vec<u8>,
    outbox_len: usize,
    outbox_next: u8,
    outbox_kind: FrameKind,
    frame_id: u16,
    /// The words of the current update (the attack's).
    words: Vec<Q>,
    /// Per-word statistics over what it heard.
    mean: Vec<f64>,
    std: Vec<f64>,
    /// The update that follows-up frames (sybils, reports) describe.
    last: Option<FrameRepr>,
    /// Sybil identities still to send for the current update.
    sybils_pending: u32,
    report_pending: bool,
    /// Samples handled (label flip's `t`).
    samples: u64,
}

impl<R: Runtime> Attacker<R> {
    /// Wraps `inner`, node `id` built from `config`, in `role`; `pool` is
    /// the world's cartel pool (used by cartel members only).
    pub fn new(
        inner: R,
        role: Role,
        id: NodeId,
        seed: u64,
        config: &NodeConfig,
        pool: Option<SharedPool>,
    ) -> Attacker<R> {
        let dim = inner.weights().len();
        assert!(dim > 0 && dim <= wire::MAX_DIM, "model dimension {dim}");
        let heard = role.attack.observes().then(|| {
            PeerModels::new(
                usize::from(config.delta.tracked_peers),
                dim,
                config.delta.encoding,
            )
        });
        let noise = if role.attack == AttackKind::Noise {
            NoiseScale::from_std(role.magnitude)
        } else {
            NoiseScale::default()
        };
        Attacker {
            role,
            id,
            delta: config.delta,
            encoding: config.encoding,
            period_us: config.round_period.as_micros(),
            offset_us: config.round_offset.as_micros(),
            public: PublicModel::new(dim),
            heard,
            pool: pool.filter(|_| role.attack == AttackKind::Cartel),
            mimic_target: None,
            mimic_copy: vec![Q::ZERO; dim],
            rng: stream(seed, id, Purpose::Adversary),
            noise,
            scratch: vec![0; wire::MAX_FRAME_LEN],
            outbox: vec![0; wire::MAX_FRAME_LEN],
            outbox_len: 0,
            outbox_next: 0,
            outbox_kind: FrameKind::ModelUpdate,
            frame_id: 0,
            words: vec![Q::ZERO; dim],
            mean: vec![0.0; dim],
            std: vec![0.0; dim],
            last: None,
            sybils_pending: 0,
            report_pending: false,
            samples: 0,
            inner,
        }
    }

    /// The wrapped honest runtime.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The node's round at `now`: round `k` begins at `k·P + offset`.
    fn round_at(&self, now: Instant) -> u32 {
        let t = now.as_micros();
        if t < self.offset_us + self.period_us {
            return 0;
        }
        u32::try_from((t - self.offset_us) / self.period_us).unwrap_or(u32::MAX)
    }

    /// Whether the attack is on in `round`.
    fn active(&self, round: u32) -> bool {
        if round < self.role.start_round {
            return false;
        }
        if self.role.attack == AttackKind::OnOff {
            let block = (round - self.role.start_round) / self.role.period_rounds.max(1);
            return block % 2 == 1;
        }
        true
    }

    /// Decodes a received model update into the attacker's own tables.
    fn observe(&mut self, frame: &[u8]) {
        let Some(heard) = self.heard.as_mut() else {
            return;
        };
        let Ok(parsed) = FrameRepr::parse(frame) else {
            return;
        };
        let Message::ModelUpdate(update) = &parsed.message else {
            return;
        };
        let words = update.words.as_slice();
        if parsed.sender == self.id || words.len() != self.words.len() {
            return;
        }
        let Ok(model) = heard.apply(
            parsed.sender,
            parsed.round,
            update.delta,
            update.base_round,
            words,
        ) else {
            return;
        };
        if self.mimic_target.is_none() {
            self.mimic_target = Some(parsed.sender);
        }
        if self.mimic_target == Some(parsed.sender) {
            self.mimic_copy.copy_from_slice(model);
        }
        if let Some(pool) = &self.pool {
            let mut values = [0.0_f64; wire::MAX_DIM];
            let values = &mut values[..model.len()];
            for (v, w) in values.iter_mut().zip(model) {
                *v = fixed::to_f64(*w);
            }
            pool.lock()
                .expect("cartel pool poisoned")
                .add(parsed.round, values);
        }
    }

    /// Per-word mean and standard deviation over the updates heard since
    /// the last broadcast and the attacker's own honest model `own`.
    fn heard_stats(&mut self, own: &[Q]) {
        let mut count = 1.0;
        for (m, (s, w)) in self.mean.iter_mut().zip(self.std.iter_mut().zip(own)) {
            *m = fixed::to_f64(*w);
            *s = *m * *m;
        }
        if let Some(heard) = &self.heard {
            for (_, model) in heard.heard() {
                count += 1.0;
                for (m, (s, w)) in self.mean.iter_mut().zip(self.std.iter_mut().zip(model)) {
                    let x = fixed::to_f64(*w);
                    *m += x;
                    *s += x * x;
                }
            }
        }
        for (m, s) in self.mean.iter_mut().zip(self.std.iter_mut()) {
            *m /= count;
            *s = (*s / count - *m * *m).max(0.0).sqrt();
        }
    }

    /// Sets `self.words` to the attack's model for `round`, given the
    /// node's honest model `own` (honest while inactive).
    fn craft(&mut self, round: u32, own: &[Q]) {
        let m = self.role.magnitude;
        let active = self.active(round);
        let by_value = |f: &dyn Fn(f64, usize) -> f64, words: &mut [Q]| {
            for (i, (w, o)) in words.iter_mut().zip(own).enumerate() {
                *w = fixed::from_f64(f(fixed::to_f64(*o), i));
            }
        };
        self.words.copy_from_slice(own);
        if !active {
            return;
        }
        match self.role.attack {
            AttackKind::Bias | AttackKind::OnOff | AttackKind::Sybil => {
                by_value(&|x, _| x + m, &mut self.words);
            }
            AttackKind::SignFlip => by_value(&|x, _| -m * x, &mut self.words),
            AttackKind::Noise => {
                for w in self.words.iter_mut() {
                    let raw = self.noise.apply(noise::next_centred(&mut self.rng));
                    *w = Q::from_bits(w.to_bits().saturating_add(raw));
                }
            }
            AttackKind::Inf => self.words.fill(Q::MAX),
            AttackKind::Mimic => {
                if self.mimic_target.is_some() {
                    self.words.copy_from_slice(&self.mimic_copy);
                }
            }
            AttackKind::LabelFlip | AttackKind::Slander => {}
            AttackKind::Alie => {
                self.heard_stats(own);
                let (mean, std) = (&self.mean, &self.std);
                by_value(&|_, i| mean[i] - m * std[i], &mut self.words);
            }
            AttackKind::Ipm => {
                self.heard_stats(own);
                let mean = &self.mean;
                by_value(&|_, i| -m * mean[i], &mut self.words);
            }
            AttackKind::Cartel => {
                let pooled = self.pool.as_ref().is_some_and(|pool| {
                    let pool = pool.lock().expect("cartel pool poisoned");
                    pool.stats(round.wrapping_sub(1), &mut self.mean, &mut self.std)
                });
                if pooled {
                    let (mean, std) = (&self.mean, &self.std);
                    by_value(&|_, i| mean[i] + m * std[i], &mut self.words);
                }
            }
        }
    }

    /// Rewrites the node's model-update frame into the outbox.
    fn rewrite(&mut self, parsed: &FrameRepr, update: &ModelUpdateRepr) -> Option<usize> {
        let own: &[Q] = self.inner.weights();
        let mut honest = [Q::ZERO; wire::MAX_DIM];
        let honest = &mut honest[..own.len()];
        honest.copy_from_slice(own);
        self.craft(parsed.round, honest);
        if let Some(heard) = self.heard.as_mut() {
            heard.clear_heard();
        }
        let out = self
            .public
            .next(&self.delta, self.encoding, &self.words, parsed.round);
        let frame = FrameRepr {
            sender: parsed.sender,
            round: parsed.round,
            message: Message::ModelUpdate(ModelUpdateRepr {
                encoding: out.encoding,
                delta: out.delta,
                base_round: out.base_round,
                words: out.words,
                ..*update
            }),
        };
        let active = self.active(parsed.round);
        self.sybils_pending = if active { self.role.identities } else { 0 };
        self.report_pending = active && self.role.attack == AttackKind::Slander;
        self.last = Some(frame);
        frame.emit(&mut self.outbox).ok()
    }

    /// The next follow-up frame (a sybil's update, a slanderer's report)
    /// into the outbox, if one is pending.
    fn follow_up(&mut self) -> Option<(usize, FrameKind)> {
        let last = self.last?;
        let Message::ModelUpdate(update) = last.message else {
            return None;
        };
        if self.sybils_pending > 0 {
            let index = self.role.identities - self.sybils_pending;
            self.sybils_pending -= 1;
            // Fake identities send full updates: no keyframe to track.
            let words = Words::from_slice(&self.words)?;
            let frame = FrameRepr {
                sender: self.role.sybil_base + index,
                round: last.round,
                message: Message::ModelUpdate(ModelUpdateRepr {
                    encoding: Encoding::Raw,
                    delta: false,
                    base_round: last.round,
                    words,
                    ..update
                }),
            };
            return Some((frame.emit(&mut self.outbox).ok()?, FrameKind::ModelUpdate));
        }
        if self.report_pending {
            self.report_pending = false;
            let mut entries = BoundedVec::new();
            for &peer in self.heard.as_ref()?.peers() {
                let entry = ReputationEntry {
                    subject: peer,
                    score: Q::ZERO,
                };
                if entries.push(entry).is_err() {
                    break;
                }
            }
            let frame = FrameRepr {
                sender: self.id,
                round: last.round,
                message: Message::ReputationReport(ReputationReportRepr { entries }),
            };
            return Some((
                frame.emit(&mut self.outbox).ok()?,
                FrameKind::ReputationReport,
            ));
        }
        None
    }

    /// Takes the node's next frame into the outbox, rewritten if it is a
    /// model update; `None` when the node has nothing to send.
    fn take_inner(&mut self, now: Instant) -> Option<(usize, FrameKind)> {
        let tx = self.inner.poll_transmit(now, &mut self.scratch)?;
        let bytes = &self.scratch[..tx.len];
        if let Ok(parsed) = FrameRepr::parse(bytes)
            && let Message::ModelUpdate(update) = parsed.message
            && update.words.len() == self.words.len()
            && let Some(len) = self.rewrite(&parsed, &update)
        {
            return Some((len, FrameKind::ModelUpdate));
        }
        // Not a whole model update of ours: sent as the node wrote it.
        self.outbox[..tx.len].copy_from_slice(&self.scratch[..tx.len]);
        Some((tx.len, tx.kind))
    }

    /// The next piece of the outbox frame, cut to `buf.len()` (the MTU).
    fn emit_piece(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        let len = wire::next_fragment(
            &self.outbox,
            &mut self.outbox_len,
            &mut self.outbox_next,
            self.frame_id,
            buf,
        )?;
        Some(Transmit {
            len,
            kind: self.outbox_kind,
            destination: Destination::Broadcast,
        })
    }
}

impl<R: Runtime> Runtime for Attacker<R> {
    fn handle_sample(&mut self, now: Instant, sample: Q) {
        let t = self.samples;
        self.samples += 1;
        let sample = if self.role.attack == AttackKind::LabelFlip && self.active(self.round_at(now))
        {
            let sign = if t % 2 == 1 { -1.0 } else { 1.0 };
            fixed::from_f64(sign * self.role.magnitude * fixed::to_f64(sample))
        } else {
            sample
        };
        self.inner.handle_sample(now, sample);
    }

    fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), RxError> {
        self.observe(frame);
        self.inner.handle_frame(now, frame)
    }

    fn handle_wake(&mut self, now: Instant) {
        self.inner.handle_wake(now);
    }

    fn handle_wake_lent(&mut self, now: Instant, scratch: &mut AggregationScratch) {
        self.inner.handle_wake_lent(now, scratch);
    }

    fn handle_energy(&mut self, now: Instant, level: Q) {
        self.inner.handle_energy(now, level);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.outbox_len == 0 {
            let (len, kind) = match self.follow_up() {
                Some(next) => next,
                None => {
                    self.last = None;
                    self.take_inner(now)?
                }
            };
            self.outbox_len = len;
            self.outbox_kind = kind;
            self.outbox_next = 0;
            self.frame_id = self.frame_id.wrapping_add(1);
        }
        self.emit_piece(buf)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.inner.poll_at()
    }

    fn telemetry(&self) -> Telemetry {
        self.inner.telemetry()
    }

    fn weights(&self) -> &[Q] {
        self.inner.weights()
    }

    fn snapshot(&self, buf: &mut [u8]) -> Result<usize, SnapshotError> {
        self.inner.snapshot(buf)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.inner.restore(bytes)
    }

    fn reputation_table(&self) -> Option<&ReputationTable> {
        self.inner.reputation_table()
    }
}
