//! Predictors: the [`Predictor`] trait and the NLMS [`LinearNeuron`].
//!
//! A node forecasts its next sensor sample from its own recent history; the
//! swarm agrees on the forecaster's weights by gossip (docs/paper.md §2: the
//! "gene" is the weight vector). The prediction error also feeds the
//! entropy signal of the regime detector ([`crate::regime`]).
//!
//! ## Ordering
//!
//! For every sample the host calls, in this order:
//!
//! ```text
//! let prediction = model.predict();  // forecast from history (pure)
//! let error = model.observe(sample); // = sample − prediction; train, then
//!                                    //   push the sample into the history
//! ```
//!
//! [`Predictor::predict`] is pure, so calling it zero or many times changes
//! nothing; [`Predictor::observe`] recomputes the same prediction itself.

use alloc::boxed::Box;
use core::fmt;

use crate::codec::{Invalid, Reader, Writer};
use crate::q::{self, Acc, Q};
use crate::rng::{self, Purpose};

/// Largest history window of a [`LinearNeuron`]. Bounds its state to
/// `33 + 32` Q16.16 words (260 B), well inside the < 1 KB node budget
/// (docs/paper.md §16).
pub const WINDOW_LEN_MAX: usize = 32;

/// Largest weight vector of a [`LinearNeuron`]: the lag weights plus a bias.
pub const DIM_MAX: usize = WINDOW_LEN_MAX + 1;

/// A one-step-ahead forecaster of a scalar Q16.16 series whose parameters
/// are a flat vector of Q16.16 words, so that peers can exchange and
/// aggregate them (DESIGN.md, `model`). See the module docs for the call
/// order.
pub trait Predictor {
    /// Number of weights (the length of [`Predictor::weights`]).
    fn dim(&self) -> usize;

    /// The forecast of the next sample from the internal history. Pure.
    fn predict(&self) -> Q;

    /// Takes the observed `sample`: trains on the error against the forecast
    /// [`Predictor::predict`] would give now, then appends the sample to the
    /// history. Returns the signed error `sample − prediction`.
    fn observe(&mut self, sample: Q) -> Q;

    /// The weights, in the implementation's documented order (export).
    fn weights(&self) -> &[Q];

    /// Replaces the weights (import, e.g. the swarm's aggregate). The slice
    /// must have exactly [`Predictor::dim`] words; the history is kept.
    fn set_weights(&mut self, weights: &[Q]) -> Result<(), ModelError>;
}

/// Why weights were refused by [`Predictor::set_weights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// The slice length differs from the model's dimension.
    DimensionMismatch {
        /// The model's dimension.
        expected: usize,
        /// The slice's length.
        got: usize,
    },
    /// A weight lies outside the model's clamp range `[-limit, limit]`.
    WeightOutOfRange {
        /// Index of the first offending weight.
        index: usize,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::DimensionMismatch { expected, got } => {
                write!(f, "weight vector has {got} words, model expects {expected}")
            }
            ModelError::WeightOutOfRange { index } => {
                write!(f, "weight {index} is outside the clamp range")
            }
        }
    }
}

/// Why a [`LinearNeuronConfig`] (or a new step size) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `window_len` must be in `1..=WINDOW_LEN_MAX`.
    WindowLenOutOfRange {
        /// The refused value.
        window_len: u8,
    },
    /// The NLMS step size μ must be in `(0, 2)`, the stability range of
    /// normalized LMS.
    StepSizeOutOfRange,
    /// The regularizer ε must be non-negative.
    RegularizerNegative,
    /// The weight clamp limit must be positive.
    WeightLimitNotPositive,
    /// Random initial weights need an amplitude in `[0, weight_limit]`.
    InitialAmplitudeOutOfRange,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::WindowLenOutOfRange { window_len } => {
                write!(f, "window_len {window_len} is outside 1..={WINDOW_LEN_MAX}")
            }
            ConfigError::StepSizeOutOfRange => f.write_str("step size must be in (0, 2)"),
            ConfigError::RegularizerNegative => f.write_str("regularizer must be >= 0"),
            ConfigError::WeightLimitNotPositive => f.write_str("weight limit must be > 0"),
            ConfigError::InitialAmplitudeOutOfRange => {
                f.write_str("initial weight amplitude must be in [0, weight_limit]")
            }
        }
    }
}

/// How a [`LinearNeuron`] starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InitialWeights {
    /// All weights zero: the forecast is 0 until training moves it.
    #[default]
    Zeros,
    /// Lag-1 weight 1, others 0: the persistence forecast `x̂(t) = x(t−1)`.
    LastValue,
    /// Each weight uniform in `[-amplitude, amplitude]` (integer draw on
    /// the raw bits) from the stream `rng::stream(seed, node, Init)`, so
    /// that nodes start apart yet reproducibly (DESIGN.md, principle 2).
    Random {
        /// The run's seed.
        seed: u64,
        /// The node id keying the stream.
        node: u32,
        /// Half-width of the range; at most the weight limit.
        amplitude: Q,
    },
}

/// Configuration of a [`LinearNeuron`]; see [`Default`] for the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearNeuronConfig {
    /// Number of past samples regressed on (the AR order), `1..=32`.
    /// Default 8, the lag count of the seed's `LinearNeuron` (docs/paper.md §1.1).
    pub window_len: u8,
    /// NLMS step size μ in `(0, 2)`. Default 0.1: it lies between the
    /// paper's α_calm = 0.01 and α_storm = 0.2 (§1.1); NLMS misadjustment is
    /// about μ/(2−μ) ≈ 5 % of the noise power and its time constant about
    /// `dim/μ` ≈ 90 samples. A node changes it per regime with
    /// [`LinearNeuron::set_step_size`].
    pub step_size: Q,
    /// NLMS regularizer ε added to `‖x‖²`. Default 1/64. The bias input 1
    /// already keeps the denominator ≥ 1, so ε only adds damping.
    pub regularizer: Q,
    /// Weights are clamped to `[-weight_limit, weight_limit]` after each
    /// update. Default 4 (the seed clamps to ±2 on u8 data; z-normalized
    /// AR coefficients of smooth signals reach about ±3).
    pub weight_limit: Q,
    /// Initial weights. Default [`InitialWeights::Zeros`].
    pub initial_weights: InitialWeights,
}

impl Default for LinearNeuronConfig {
    fn default() -> Self {
        LinearNeuronConfig {
            window_len: 8,
            step_size: q::ratio(1, 10),
            regularizer: q::ratio(1, 64),
            weight_limit: q::from_int(4),
            initial_weights: InitialWeights::Zeros,
        }
    }
}

impl LinearNeuronConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let window_len = usize::from(self.window_len);
        if window_len == 0 || window_len > WINDOW_LEN_MAX {
            return Err(ConfigError::WindowLenOutOfRange {
                window_len: self.window_len,
            });
        }
        check_step_size(self.step_size)?;
        if self.regularizer < q::ZERO {
            return Err(ConfigError::RegularizerNegative);
        }
        if self.weight_limit <= q::ZERO {
            return Err(ConfigError::WeightLimitNotPositive);
        }
        if let InitialWeights::Random { amplitude, .. } = self.initial_weights
            && (amplitude < q::ZERO || amplitude > self.weight_limit)
        {
            return Err(ConfigError::InitialAmplitudeOutOfRange);
        }
        Ok(())
    }
}

fn check_step_size(step_size: Q) -> Result<(), ConfigError> {
    if step_size <= q::ZERO || step_size >= q::from_int(2) {
        return Err(ConfigError::StepSizeOutOfRange);
    }
    Ok(())
}

/// Linear autoregressive forecaster trained by normalized LMS in Q16.16.
///
/// With the augmented input `x̃ = (x(t−1), …, x(t−n), 1)` the forecast is
/// `x̂(t) = w · x̃` and, once the window is full, each observation updates
/// `w ← clamp(w + μ · e · x̃ / (ε + ‖x̃‖²))` with `e = x(t) − x̂(t)`
/// (NLMS, Haykin, *Adaptive Filter Theory*, §6; the paper's LinearNeuron,
/// docs/paper.md §1.2, with a true per-lag gradient instead of the seed's shared
/// delta). Dot products go through [`Acc`] (exact until one rounding), the
/// normalization through [`q::div`].
///
/// Weight order (export/import): `weights[k]` multiplies the sample of lag
/// `k + 1` for `k < n`, and `weights[n]` is the bias; `dim = n + 1`.
///
/// State: one boxed slice of `dim + window_len` words, the weights then
/// the input window (sized by the configuration, allocated once at
/// construction; nothing allocates afterwards), plus 20 bytes inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinearNeuron {
    /// `weights[..dim]` then `history[..window_len]`.
    words: Box<[Q]>,
    /// Slot of `history` the next sample is written to.
    history_next: u8,
    /// Samples in `history`, saturating at `window_len`.
    history_len: u8,
    window_len: u8,
    step_size: Q,
    regularizer: Q,
    weight_limit: Q,
}

impl LinearNeuron {
    /// A neuron with empty history and the configured initial weights.
    pub fn new(config: LinearNeuronConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let window_len = usize::from(config.window_len);
        let mut neuron = LinearNeuron {
            words: alloc::vec![q::ZERO; 2 * window_len + 1].into_boxed_slice(),
            history_next: 0,
            history_len: 0,
            window_len: config.window_len,
            step_size: config.step_size,
            regularizer: config.regularizer,
            weight_limit: config.weight_limit,
        };
        neuron.init_weights(config.initial_weights);
        Ok(neuron)
    }

    fn init_weights(&mut self, initial: InitialWeights) {
        let dim = self.dim();
        match initial {
            InitialWeights::Zeros => {}
            InitialWeights::LastValue => self.words[0] = q::ONE,
            InitialWeights::Random {
                seed,
                node,
                amplitude,
            } => {
                let mut stream = rng::stream(seed, node, Purpose::Init);
                let amplitude_raw = amplitude.to_bits();
                debug_assert!(amplitude_raw >= 0);
                // Non-negative and ≤ weight_limit (validated), so 2a + 1 fits u32.
                let span = amplitude_raw.unsigned_abs() * 2 + 1;
                for weight in self.words.iter_mut().take(dim) {
                    let draw = rng::below(&mut stream, span);
                    // draw ≤ 2a < 2^31: the cast is lossless.
                    *weight = q::from_raw(draw as i32 - amplitude_raw);
                }
            }
        }
    }

    /// The current NLMS step size μ.
    pub fn step_size(&self) -> Q {
        self.step_size
    }

    /// Sets the NLMS step size μ, e.g. α_calm = 0.01 or α_storm = 0.2 when
    /// the regime changes (docs/paper.md §1.1). Refuses μ outside `(0, 2)`.
    pub fn set_step_size(&mut self, step_size: Q) -> Result<(), ConfigError> {
        check_step_size(step_size)?;
        self.step_size = step_size;
        Ok(())
    }

    /// The clamp limit of every weight.
    pub fn weight_limit(&self) -> Q {
        self.weight_limit
    }

    /// Heap bytes this neuron owns (its word slice).
    pub fn heap_bytes(&self) -> usize {
        crate::heap::of_slice(&self.words)
    }

    fn weights_mut(&mut self) -> &mut [Q] {
        let dim = self.dim();
        &mut self.words[..dim]
    }

    fn history(&self) -> &[Q] {
        &self.words[self.dim()..]
    }

    fn history_mut(&mut self) -> &mut [Q] {
        let dim = self.dim();
        &mut self.words[dim..]
    }

    /// The sample of lag `lag` (1 = the latest), 0 before it was seen.
    fn lagged(&self, lag: usize) -> Q {
        let window_len = usize::from(self.window_len);
        debug_assert!(lag >= 1 && lag <= window_len);
        let index = (usize::from(self.history_next) + window_len - lag) % window_len;
        self.history()[index]
    }

    fn push(&mut self, sample: Q) {
        let window_len = usize::from(self.window_len);
        let next = usize::from(self.history_next);
        debug_assert!(next < window_len);
        self.history_mut()[next] = sample;
        // Both values are < window_len ≤ 32: the casts are lossless.
        self.history_next = ((next + 1) % window_len) as u8;
        self.history_len = (usize::from(self.history_len) + 1).min(window_len) as u8;
    }

    /// One NLMS step on the current history for error `error`.
    fn train(&mut self, error: Q) {
        let window_len = usize::from(self.window_len);
        let mut norm = Acc::new();
        for lag in 1..=window_len {
            let x = self.lagged(lag);
            norm.mac(x, x);
        }
        norm.add(q::ONE); // the bias input
        norm.add(self.regularizer);
        let denominator = norm.finish();
        debug_assert!(denominator >= q::ONE);
        let gain = q::div(error, denominator);
        for lag in 1..=window_len {
            let delta = q::mul(self.step_size, q::mul(gain, self.lagged(lag)));
            self.nudge(lag - 1, delta);
        }
        self.nudge(window_len, q::mul(self.step_size, gain));
    }

    /// Writes the samples of the history window, oldest first, into
    /// `out` (at least `window_len` words) and returns how many: at most
    /// `window_len`, fewer while the window fills. With
    /// [`LinearNeuron::restore_history`] this lets an auditor replay the
    /// node's training bit for bit ([`crate::audit`]).
    pub fn history_into(&self, out: &mut [Q]) -> usize {
        let len = usize::from(self.history_len);
        assert!(
            out.len() >= len,
            "history_into: output shorter than the history"
        );
        for (i, slot) in out.iter_mut().take(len).enumerate() {
            *slot = self.lagged(len - i);
        }
        len
    }

    /// Replaces the history window with `samples`, oldest first (what
    /// [`LinearNeuron::history_into`] wrote): afterwards every lag, the
    /// fill level and therefore `predict` and `observe` behave exactly as
    /// in the neuron the samples were taken from. Refuses more than
    /// `window_len` samples; the weights are kept.
    pub fn restore_history(&mut self, samples: &[Q]) -> Result<(), ModelError> {
        let window_len = usize::from(self.window_len);
        if samples.len() > window_len {
            return Err(ModelError::DimensionMismatch {
                expected: window_len,
                got: samples.len(),
            });
        }
        self.history_mut().fill(q::ZERO);
        self.history_next = 0;
        self.history_len = 0;
        for sample in samples {
            self.push(*sample);
        }
        Ok(())
    }

    fn nudge(&mut self, index: usize, delta: Q) {
        let limit = self.weight_limit;
        let moved = self.words[index].saturating_add(delta);
        self.words[index] = q::clamp(moved, -limit, limit);
    }
}

impl Predictor for LinearNeuron {
    fn dim(&self) -> usize {
        usize::from(self.window_len) + 1
    }

    fn predict(&self) -> Q {
        let window_len = usize::from(self.window_len);
        let mut acc = Acc::new();
        for lag in 1..=window_len {
            acc.mac(self.words[lag - 1], self.lagged(lag));
        }
        acc.add(self.words[window_len]);
        acc.finish()
    }

    /// Trains only once the window is full, so that every update regresses
    /// on real samples, never on the zero padding of a fresh history.
    fn observe(&mut self, sample: Q) -> Q {
        let error = sample.saturating_sub(self.predict());
        if self.history_len == self.window_len {
            self.train(error);
        }
        self.push(sample);
        error
    }

    fn weights(&self) -> &[Q] {
        &self.words[..self.dim()]
    }

    /// Also refuses any weight outside `[-weight_limit, weight_limit]`:
    /// the clamp is an invariant, not a best effort.
    fn set_weights(&mut self, weights: &[Q]) -> Result<(), ModelError> {
        let dim = self.dim();
        if weights.len() != dim {
            return Err(ModelError::DimensionMismatch {
                expected: dim,
                got: weights.len(),
            });
        }
        let limit = self.weight_limit;
        if let Some(index) = weights.iter().position(|w| *w < -limit || *w > limit) {
            return Err(ModelError::WeightOutOfRange { index });
        }
        self.weights_mut().copy_from_slice(weights);
        Ok(())
    }
}

/// Persistent state for node snapshots (docs/persistence.md): the weights
/// and the NLMS input window, `2 + 4·dim + 4·window_len` bytes. The step
/// size, regularizer and limits come from the configuration, not the
/// snapshot.
impl LinearNeuron {
    /// Appends the history cursor, the `dim` weights and the
    /// `window_len` history words.
    pub(crate) fn encode_state(&self, w: &mut Writer<'_>) {
        w.u8(self.history_next);
        w.u8(self.history_len);
        for weight in self.weights() {
            w.q(*weight);
        }
        for sample in self.history() {
            w.q(*sample);
        }
    }

    /// Reads what [`LinearNeuron::encode_state`] wrote, for this neuron's
    /// configuration: every weight within `±weight_limit`, the ring cursor
    /// consistent (`history_next == history_len` until the window is full,
    /// unused slots zero). On error `self` may be partly overwritten:
    /// decode into a copy.
    pub(crate) fn decode_state(&mut self, r: &mut Reader<'_>) -> Result<(), Invalid> {
        let window_len = self.window_len;
        let next = r.u8()?;
        let len = r.u8_at_most(window_len)?;
        if next >= window_len || (len < window_len && next != len) {
            return Err(Invalid);
        }
        let limit = self.weight_limit;
        for weight in self.weights_mut() {
            *weight = r.q_in(-limit, limit)?;
        }
        for (slot, sample) in self.history_mut().iter_mut().enumerate() {
            *sample = r.q()?;
            if slot >= usize::from(len) && *sample != q::ZERO {
                return Err(Invalid);
            }
        }
        self.history_next = next;
        self.history_len = len;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::float_arithmetic)] // host tests measure RMSE with floats
mod tests {
    extern crate std;

    use super::*;
    use rand_chacha::rand_core::Rng;
    use std::vec::Vec;

    fn to_f64(x: Q) -> f64 {
        f64::from(x.to_bits()) / 65536.0
    }

    /// Noisy sine, period 32 samples, amplitude 1, noise uniform in ±0.1
    /// from a fixed-seed DataNoise stream.
    fn noisy_sine(count: usize) -> Vec<Q> {
        let mut noise = rng::stream(7, 0, Purpose::DataNoise);
        (0..count)
            .map(|t| {
                let clean = (2.0 * core::f64::consts::PI * t as f64 / 32.0).sin();
                let u = f64::from(noise.next_u32()) / f64::from(u32::MAX);
                Q::from_num(clean + 0.2 * (u - 0.5))
            })
            .collect()
    }

    /// RMSE of one-step forecasts over `samples[skip..]`, training on all.
    fn run(neuron: &mut LinearNeuron, samples: &[Q], skip: usize) -> f64 {
        let mut sum_sq = 0.0;
        for (t, sample) in samples.iter().enumerate() {
            let error = neuron.observe(*sample);
            if t >= skip {
                sum_sq += to_f64(error).powi(2);
            }
        }
        (sum_sq / (samples.len() - skip) as f64).sqrt()
    }

    #[test]
    fn nlms_learns_noisy_sine() {
        let samples = noisy_sine(3_000);
        let config = LinearNeuronConfig::default();
        let mut trained = LinearNeuron::new(config).unwrap();
        let rmse_trained = run(&mut trained, &samples, 2_500);
        // The untrained (zero-weight) forecast is 0: its RMSE is the RMS of
        // the signal itself, about 0.71.
        let rmse_untrained = (samples[2_500..]
            .iter()
            .map(|s| to_f64(*s).powi(2))
            .sum::<f64>()
            / 500.0)
            .sqrt();
        std::println!("rmse trained {rmse_trained:.4} untrained {rmse_untrained:.4}");
        assert!(rmse_untrained > 0.65);
        assert!(rmse_trained < RMSE_BOUND, "{rmse_trained}");
        assert!(rmse_trained < rmse_untrained / 5.0);
    }

    /// Measured 0.0732 (printed by `nlms_learns_noisy_sine`). The noise
    /// alone has RMS 0.2/√12 = 0.0577, and an AR forecaster passes it on
    /// amplified by √(1 + ‖w‖²) ≈ 1.2, so ~0.07 is the floor.
    const RMSE_BOUND: f64 = 0.085;

    #[test]
    fn training_is_bit_reproducible() {
        let samples = noisy_sine(1_000);
        let config = LinearNeuronConfig {
            initial_weights: InitialWeights::Random {
                seed: 3,
                node: 1,
                amplitude: q::ratio(1, 2),
            },
            ..LinearNeuronConfig::default()
        };
        let mut a = LinearNeuron::new(config).unwrap();
        let mut b = LinearNeuron::new(config).unwrap();
        run(&mut a, &samples, 0);
        run(&mut b, &samples, 0);
        assert_eq!(a.weights(), b.weights());
        assert_eq!(a, b);
        assert_ne!(a.weights(), &[q::ZERO; 9][..]);
    }

    #[test]
    fn set_weights_checks_dimension_and_range() {
        let mut neuron = LinearNeuron::new(LinearNeuronConfig::default()).unwrap();
        assert_eq!(neuron.dim(), 9);
        assert_eq!(
            neuron.set_weights(&[q::ONE; 8]),
            Err(ModelError::DimensionMismatch {
                expected: 9,
                got: 8
            })
        );
        assert_eq!(
            neuron.set_weights(&[q::ONE; 10]),
            Err(ModelError::DimensionMismatch {
                expected: 9,
                got: 10
            })
        );
        let mut too_big = [q::ZERO; 9];
        too_big[4] = q::from_int(5);
        assert_eq!(
            neuron.set_weights(&too_big),
            Err(ModelError::WeightOutOfRange { index: 4 })
        );
        let good = [q::ratio(1, 4); 9];
        neuron.set_weights(&good).unwrap();
        assert_eq!(neuron.weights(), &good[..]);
    }

    #[test]
    fn weights_stay_inside_clamp() {
        // Wild, huge input with a tight limit and the largest stable step.
        let config = LinearNeuronConfig {
            weight_limit: q::ratio(1, 2),
            step_size: q::ratio(19, 10),
            ..LinearNeuronConfig::default()
        };
        let mut neuron = LinearNeuron::new(config).unwrap();
        let mut noise = rng::stream(9, 0, Purpose::DataNoise);
        let mut hit_limit = false;
        for _ in 0..2_000 {
            let sample = q::from_raw((noise.next_u32() >> 8) as i32 - (1 << 23));
            neuron.observe(sample);
            for w in neuron.weights() {
                assert!(*w >= -config.weight_limit && *w <= config.weight_limit);
                hit_limit |= w.abs() == config.weight_limit;
            }
        }
        assert!(hit_limit);
    }

    #[test]
    fn persistence_start_and_predict_is_pure() {
        let config = LinearNeuronConfig {
            initial_weights: InitialWeights::LastValue,
            ..LinearNeuronConfig::default()
        };
        let mut neuron = LinearNeuron::new(config).unwrap();
        neuron.observe(q::ratio(3, 4));
        assert_eq!(neuron.predict(), q::ratio(3, 4));
        assert_eq!(neuron.predict(), neuron.predict());
        let before = neuron.clone();
        let _ = neuron.predict();
        assert_eq!(neuron, before);
    }

    #[test]
    fn config_is_validated() {
        let bad = |config: LinearNeuronConfig| LinearNeuron::new(config).unwrap_err();
        let base = LinearNeuronConfig::default();
        assert_eq!(
            bad(LinearNeuronConfig {
                window_len: 0,
                ..base
            }),
            ConfigError::WindowLenOutOfRange { window_len: 0 }
        );
        assert_eq!(
            bad(LinearNeuronConfig {
                window_len: 33,
                ..base
            }),
            ConfigError::WindowLenOutOfRange { window_len: 33 }
        );
        assert_eq!(
            bad(LinearNeuronConfig {
                step_size: q::from_int(2),
                ..base
            }),
            ConfigError::StepSizeOutOfRange
        );
        assert_eq!(
            bad(LinearNeuronConfig {
                regularizer: -q::ONE,
                ..base
            }),
            ConfigError::RegularizerNegative
        );
        assert_eq!(
            bad(LinearNeuronConfig {
                weight_limit: q::ZERO,
                ..base
            }),
            ConfigError::WeightLimitNotPositive
        );
        let mut neuron = LinearNeuron::new(base).unwrap();
        assert_eq!(
            neuron.set_step_size(q::ZERO),
            Err(ConfigError::StepSizeOutOfRange)
        );
        neuron.set_step_size(q::ratio(1, 100)).unwrap();
        assert_eq!(neuron.step_size(), q::ratio(1, 100));
        assert!(!alloc::format!("{}", ConfigError::StepSizeOutOfRange).is_empty());
    }

    fn neuron_with_step(step_size: Q) -> LinearNeuron {
        LinearNeuron::new(LinearNeuronConfig {
            step_size,
            ..LinearNeuronConfig::default()
        })
        .unwrap()
    }

    /// Convergence speed (measured RMSE per 250-sample block, block 2 =
    /// samples 250..500): μ = 0.1 → 0.0750, μ = 0.05 → 0.0754,
    /// μ = 0.2 → 0.0781, α_calm μ = 0.01 → 0.276 (it needs ~1,250 samples).
    #[test]
    fn converges_within_250_samples_at_default_step() {
        let samples = noisy_sine(3_000);
        let mut fast = neuron_with_step(q::ratio(1, 10));
        run(&mut fast, &samples[..250], 0);
        assert!(run(&mut fast, &samples[250..500], 0) < RMSE_BOUND);
        let mut calm = neuron_with_step(q::ratio(1, 100));
        run(&mut calm, &samples[..250], 0);
        assert!(run(&mut calm, &samples[250..500], 0) > 0.2);
        run(&mut calm, &samples[500..2_500], 0);
        assert!(run(&mut calm, &samples[2_500..], 0) < RMSE_BOUND);
    }

    #[test]
    fn history_round_trips_into_a_fresh_neuron() {
        let samples = noisy_sine(50);
        for cut in [0, 3, 8, 9, 31] {
            let mut original = LinearNeuron::new(LinearNeuronConfig::default()).unwrap();
            run(&mut original, &samples[..cut], 0);
            let mut history = [q::ZERO; WINDOW_LEN_MAX];
            let len = original.history_into(&mut history);
            assert_eq!(len, cut.min(8));
            let mut copy = LinearNeuron::new(LinearNeuronConfig::default()).unwrap();
            copy.set_weights(original.weights()).unwrap();
            copy.restore_history(&history[..len]).unwrap();
            assert_eq!(copy.predict(), original.predict());
            // Training on the rest gives bit-identical weights.
            run(&mut original, &samples[cut..], 0);
            run(&mut copy, &samples[cut..], 0);
            assert_eq!(copy.weights(), original.weights(), "cut {cut}");
        }
        let mut neuron = LinearNeuron::new(LinearNeuronConfig::default()).unwrap();
        assert!(neuron.restore_history(&[q::ONE; 9]).is_err());
    }

    #[test]
    fn state_is_small() {
        assert!(core::mem::size_of::<LinearNeuron>() <= 280);
    }
}
