//! Federated averaging over a star: the bandwidth baseline the paper's
//! compression and bytes-per-day claims compare gossip with.
//!
//! Node 0 is the server (a sink that also senses); every other node is a
//! client. Each runs node-core's NLMS predictor with the scenario's `[node]`
//! model settings and the step sizes a gossiping node uses on calm data:
//! `warmup_step_size` for the first `regime_warmup_samples` samples, then
//! the Calm step (or `step_size` when `adaptive_step_size` is off), so the
//! two differ only in how models are combined. Per round, as
//! federated-learning frameworks do:
//!
//! 1. at each round boundary `k · P` every client sends its full model to
//!    the server (unicast), every word as 4 bytes (the size of a 32-bit
//!    float; here the exact Q16.16 word), in node-core's model-update frame;
//! 2. `collect_window` later the server averages its own model with every
//!    client model received this round (plain mean, computed exactly in
//!    i64) and broadcasts the average;
//! 3. a client adopts the server's model when it arrives, then trains on
//!    its own samples until the next boundary.
//!
//! The radio, its loss and latency, and the byte accounting are the
//! simulator's, unchanged; a lost uplink leaves that client out of the
//! round's average, a lost downlink leaves it on its own model for a round.
//! The scenario should give the server a link to every client (a
//! `full_mesh` radio: clients hear each other's uplinks and ignore them).
//!
//! This module is a [`Runtime`], so it runs through
//! [`crate::runner::run_file_with`] like any node runtime; `raas reproduce`
//! uses it for the bandwidth claims.

use node_core::model::{LinearNeuron, LinearNeuronConfig, Predictor};
use node_core::power::EnergyMeter;
use node_core::q::Q;
use node_core::regime::Regime;
use node_core::runtime::{Destination, FrameKind, NodeId, Runtime, RxError, Telemetry, Transmit};
use node_core::time::{Duration, Instant};
use node_core::wire::{Encoding, FrameRepr, Message, ModelUpdateRepr, Words};

use crate::scenario::Scenario;
use crate::world::NodeInit;

/// The server's node id.
pub const SERVER: NodeId = 0;

/// The name `summary.json` gives this runtime.
pub const RUNTIME: &str = "federated averaging (star, server = node 0)";

/// One node of the federated baseline.
pub struct FedAvgNode {
    id: NodeId,
    model: LinearNeuron,
    round_period: Duration,
    collect_window: Duration,
    next_round_at: Instant,
    aggregate_at: Option<Instant>,
    round: u32,
    /// Server: Σ of the client models received this round, exact.
    sum: Vec<i64>,
    /// Server: how many models are in `sum`.
    received: u32,
    /// A frame waiting for `poll_transmit`, and where it goes.
    outbox: Option<(Vec<u8>, Destination)>,
    /// Step size after the warm-up, and samples left in the warm-up.
    calm_step: Q,
    warmup_left: u32,
    meter: EnergyMeter,
    tx_uj_per_byte: u32,
    rx_uj_per_byte: u32,
    telemetry: Telemetry,
}

impl FedAvgNode {
    /// Node `init.id` of `scenario`'s federated baseline.
    pub fn new(scenario: &Scenario, init: &NodeInit) -> Result<FedAvgNode, String> {
        let round_period = Duration::from_micros(scenario.run.round_period_us());
        let core = scenario.node.to_core(init, round_period);
        let (calm_step, warmup_step, warmup_left) = match core.step_size_by_regime {
            Some(steps) => (
                steps[Regime::Calm.index()],
                core.warmup_step_size,
                u32::from(core.detector.warmup_samples),
            ),
            None => (core.model.step_size, core.model.step_size, 0),
        };
        let model = LinearNeuron::new(LinearNeuronConfig {
            step_size: if warmup_left > 0 {
                warmup_step
            } else {
                calm_step
            },
            ..core.model
        })
        .map_err(|e| e.to_string())?;
        let dim = model.dim();
        Ok(FedAvgNode {
            id: init.id,
            model,
            round_period,
            collect_window: core.collect_window,
            next_round_at: Instant::ZERO + core.round_offset + round_period,
            aggregate_at: None,
            round: 0,
            sum: vec![0; dim],
            received: 0,
            outbox: None,
            calm_step,
            warmup_left,
            meter: EnergyMeter::default(),
            tx_uj_per_byte: core.costs.tx_uj_per_byte,
            rx_uj_per_byte: core.costs.rx_uj_per_byte,
            telemetry: Telemetry::default(),
        })
    }

    fn is_server(&self) -> bool {
        self.id == SERVER
    }

    /// Queues the model as a full, raw model-update frame to `to`.
    fn queue_model(&mut self, to: Destination) {
        let Some(words) = Words::from_slice(self.model.weights()) else {
            return; // a dimension above the wire's limit: nothing to send
        };
        let frame = FrameRepr {
            sender: self.id,
            round: self.round,
            message: Message::ModelUpdate(ModelUpdateRepr {
                regime: Regime::Calm,
                encoding: Encoding::Raw,
                delta: false,
                base_round: 0,
                residual: Q::ZERO,
                words,
            }),
        };
        let mut bytes = vec![0; 64 + 4 * self.model.dim()];
        if let Ok(len) = frame.emit(&mut bytes) {
            bytes.truncate(len);
            self.outbox = Some((bytes, to));
        }
    }

    /// Server, end of the collection window: average and broadcast.
    fn aggregate(&mut self) {
        self.aggregate_at = None;
        let count = i64::from(self.received) + 1;
        let averaged: Vec<Q> = self
            .sum
            .iter()
            .zip(self.model.weights())
            .map(|(sum, own)| {
                let total = sum + i64::from(own.to_bits());
                // The mean of i32 values fits an i32; round half away from 0.
                let mean = (2 * total + total.signum() * count) / (2 * count);
                Q::from_bits(mean as i32)
            })
            .collect();
        let limit = self.model.weight_limit();
        let clamped: Vec<Q> = averaged.iter().map(|w| (*w).clamp(-limit, limit)).collect();
        self.model
            .set_weights(&clamped)
            .expect("a clamped mean of the model's dimension");
        self.sum.iter_mut().for_each(|s| *s = 0);
        self.received = 0;
        self.queue_model(Destination::Broadcast);
    }

    fn accept(&mut self, frame: &FrameRepr) -> Result<(), RxError> {
        let Message::ModelUpdate(update) = &frame.message else {
            return Err(RxError::Refused);
        };
        let words = update.words.as_slice();
        if words.len() != self.model.dim() || update.delta {
            return Err(RxError::Malformed);
        }
        if self.is_server() {
            if frame.sender == SERVER || self.aggregate_at.is_none() {
                return Err(RxError::Refused); // late for this round
            }
            for (sum, w) in self.sum.iter_mut().zip(words) {
                *sum += i64::from(w.to_bits());
            }
            self.received += 1;
            Ok(())
        } else if frame.sender == SERVER {
            self.model
                .set_weights(words)
                .map_err(|_| RxError::Malformed)
        } else {
            Err(RxError::UnknownSender) // another client's uplink
        }
    }
}

impl Runtime for FedAvgNode {
    fn handle_sample(&mut self, _now: Instant, sample: Q) {
        self.telemetry.last_prediction = self.model.predict();
        self.telemetry.last_error = self.model.observe(sample);
        self.telemetry.samples += 1;
        if self.warmup_left > 0 {
            self.warmup_left -= 1;
            if self.warmup_left == 0 {
                self.model
                    .set_step_size(self.calm_step)
                    .expect("the node's Calm step size is validated");
            }
        }
    }

    fn handle_frame(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RxError> {
        self.meter.spend_bytes(frame.len(), self.rx_uj_per_byte);
        let result = FrameRepr::parse(frame).and_then(|f| self.accept(&f));
        if result.is_err() {
            self.telemetry.frames_rejected += 1;
        }
        result
    }

    fn handle_wake(&mut self, now: Instant) {
        if self.aggregate_at.is_some_and(|at| now >= at) {
            self.aggregate();
        }
        if now < self.next_round_at {
            return;
        }
        self.round = self.round.wrapping_add(1);
        self.telemetry.rounds = self.round;
        if self.is_server() {
            self.aggregate_at = Some(now + self.collect_window);
        } else {
            self.queue_model(Destination::Unicast(SERVER));
        }
        self.next_round_at = self
            .next_round_at
            .next_boundary_after(now, self.round_period);
    }

    fn handle_energy(&mut self, _now: Instant, _level: Q) {}

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (bytes, destination) = self.outbox.take()?;
        if bytes.len() > buf.len() {
            return None; // above the MTU: the baseline does not fragment
        }
        buf[..bytes.len()].copy_from_slice(&bytes);
        self.meter.spend_bytes(bytes.len(), self.tx_uj_per_byte);
        Some(Transmit {
            len: bytes.len(),
            kind: FrameKind::ModelUpdate,
            destination,
        })
    }

    fn poll_at(&self) -> Option<Instant> {
        Some(match self.aggregate_at {
            Some(at) => at.min(self.next_round_at),
            None => self.next_round_at,
        })
    }

    fn telemetry(&self) -> Telemetry {
        Telemetry {
            energy_used_uj: self.meter.used_uj(),
            ..self.telemetry
        }
    }

    fn weights(&self) -> &[Q] {
        self.model.weights()
    }
}
