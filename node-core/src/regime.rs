//! Entropy signal and the Calm → PreStorm → Storm regime machine.
//!
//! PAPER.md §3: the node watches the entropy of its recent prediction error,
//! smoothed by a 3-point moving average, and its derivative; high entropy
//! means Storm (full coordination), rising entropy PreStorm, otherwise Calm.
//! Asymmetric hysteresis keeps one noisy sample from flipping the regime.
//!
//! The paper never says over which distribution `−Σ p ln p` is taken. Here
//! it is the histogram of the last `W` signed prediction errors
//! ([`EntropySignal`]), so it rises when errors become both larger and more
//! spread out: the predictor no longer tracks the signal.
//!
//! The two halves are separate so that a host can also feed the
//! [`RegimeDetector`] a scripted entropy (the paper's hysteresis experiment,
//! §9) without a predictor.

use core::fmt;

use crate::q::{self, Acc, Q};

/// The swarm's operating regime (PAPER.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Regime {
    /// Quiet: utility-gated gossip, long sleeps.
    #[default]
    Calm = 0,
    /// Rising entropy: broadcast when energy allows.
    PreStorm = 1,
    /// High entropy: full coordination.
    Storm = 2,
}

impl Regime {
    /// Every regime, in escalation order (for tables and counter arrays).
    pub const ALL: [Regime; 3] = [Regime::Calm, Regime::PreStorm, Regime::Storm];

    /// Dense index `0..3`, for per-regime counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Largest error window `W` of an [`EntropySignal`] (bounds its state and
/// keeps every bin count in a `u8`).
pub const ENTROPY_WINDOW_MAX: usize = 64;

/// Largest bin count `B` of an [`EntropySignal`] (bounds the per-sample
/// entropy loop).
pub const ENTROPY_BINS_MAX: usize = 64;

/// Length of the moving average over raw entropy (PAPER.md §3: 3-point).
pub const SMOOTHING_LEN: usize = 3;

/// Why an [`EntropyConfig`] or a [`DetectorConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The error window must be in `1..=ENTROPY_WINDOW_MAX`.
    WindowLenOutOfRange,
    /// The bin count must be in `2..=ENTROPY_BINS_MAX`.
    BinsOutOfRange,
    /// The histogram's error range must be positive.
    ErrorRangeNotPositive,
    /// The Storm entropy threshold must be positive.
    StormEntropyNotPositive,
    /// The PreStorm derivative threshold must be positive.
    PreStormDerivativeNotPositive,
    /// Every transition needs at least one confirmation.
    ConfirmationsZero,
    /// The Storm exit entropy must be in `(0, storm_entropy_nats]`.
    StormExitOutOfRange,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ConfigError::WindowLenOutOfRange => "entropy window must be in 1..=64",
            ConfigError::BinsOutOfRange => "entropy bins must be in 2..=64",
            ConfigError::ErrorRangeNotPositive => "entropy error range must be > 0",
            ConfigError::StormEntropyNotPositive => "storm entropy threshold must be > 0",
            ConfigError::PreStormDerivativeNotPositive => {
                "prestorm derivative threshold must be > 0"
            }
            ConfigError::ConfirmationsZero => "every transition needs >= 1 confirmation",
            ConfigError::StormExitOutOfRange => {
                "storm exit entropy must be in (0, storm threshold]"
            }
        };
        f.write_str(text)
    }
}

/// Configuration of an [`EntropySignal`]; see [`Default`] for the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntropyConfig {
    /// `W`: how many recent errors the histogram holds, `1..=64`.
    /// Default 64 (see [`EntropyConfig::bins`]).
    pub window_len: u8,
    /// `B`: equal-width bins over `[-error_range, +error_range]`, `2..=64`.
    /// Default 32. The plug-in entropy of `W` samples in `B` bins tops out
    /// near `ln B − (B−1)/(2W)`; with `W = 32, B = 16` that is ≈ 2.54, so
    /// the paper's Storm threshold 2.5 (§1.1) would be crossed only by
    /// fluctuation. Measured mean raw entropy for Gaussian errors of
    /// standard deviation σ (`entropy_grows_with_error_spread`):
    ///
    /// | σ | 0.05 | 0.1 | 0.2 | 0.3 | 0.6 | 1.0 |
    /// |---|---|---|---|---|---|---|
    /// | W 32, B 16 | 0.73 | 1.16 | 1.73 | 2.06 | 2.44 | 2.31 |
    /// | **W 64, B 32** | 1.28 | 1.78 | 2.37 | 2.73 | 3.09 | 2.78 |
    ///
    /// With the defaults, Storm (H > 2.5) means errors of σ ≳ 0.25 on
    /// z-normalized data, and a jump from σ 0.05 to 0.5 crosses 2.5 after
    /// ≈ 35 samples (60 for W 32, B 16).
    pub bins: u8,
    /// Half-width of the histogram; errors beyond it count in the edge bins.
    /// Default 1.0, one standard deviation of z-normalized data: a
    /// predictor that has lost the signal makes errors of that size.
    pub error_range: Q,
}

impl Default for EntropyConfig {
    fn default() -> Self {
        EntropyConfig {
            window_len: 64,
            bins: 32,
            error_range: q::ONE,
        }
    }
}

impl EntropyConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window_len == 0 || usize::from(self.window_len) > ENTROPY_WINDOW_MAX {
            return Err(ConfigError::WindowLenOutOfRange);
        }
        if self.bins < 2 || usize::from(self.bins) > ENTROPY_BINS_MAX {
            return Err(ConfigError::BinsOutOfRange);
        }
        if self.error_range <= q::ZERO {
            return Err(ConfigError::ErrorRangeNotPositive);
        }
        Ok(())
    }
}

/// One update of the entropy signal, in nats (PAPER.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntropyReading {
    /// Shannon entropy of the error histogram now.
    pub raw: Q,
    /// Mean of the last up to 3 raw values.
    pub smoothed: Q,
    /// `smoothed` now minus `smoothed` before this update (0 on the first).
    pub derivative: Q,
}

/// Shannon entropy of the histogram of the last `W` prediction errors, with
/// its 3-point moving average and derivative (PAPER.md §3).
///
/// With `n ≤ W` errors and bin counts `c`, `H = ln n − (1/n) Σ c ln c`
/// (the same as `−Σ p ln p` with `p = c/n`), recomputed from the `B` counts
/// on each update with [`q::ln`] and an exact [`Acc`] sum. State: 164 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntropySignal {
    /// Bin index of each error in the window, a ring.
    bin_ring: [u8; ENTROPY_WINDOW_MAX],
    /// Errors per bin; sums to `len`.
    counts: [u8; ENTROPY_BINS_MAX],
    next: u8,
    len: u8,
    window_len: u8,
    bins: u8,
    error_range: Q,
    raw_ring: [Q; SMOOTHING_LEN],
    raw_next: u8,
    raw_len: u8,
    reading: EntropyReading,
}

impl EntropySignal {
    /// An empty signal (reading all zero).
    pub fn new(config: EntropyConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(EntropySignal {
            bin_ring: [0; ENTROPY_WINDOW_MAX],
            counts: [0; ENTROPY_BINS_MAX],
            next: 0,
            len: 0,
            window_len: config.window_len,
            bins: config.bins,
            error_range: config.error_range,
            raw_ring: [q::ZERO; SMOOTHING_LEN],
            raw_next: 0,
            raw_len: 0,
            reading: EntropyReading::default(),
        })
    }

    /// The latest reading.
    pub fn reading(&self) -> EntropyReading {
        self.reading
    }

    /// The bin `0..B` of `error`: equal widths over `[-R, R]`, values
    /// beyond clamped to the edge bins, `+R` itself in the last bin.
    pub fn bin_of(&self, error: Q) -> u8 {
        let range = i64::from(self.error_range.to_bits());
        debug_assert!(range > 0);
        let bins = i64::from(self.bins);
        let clamped = i64::from(error.to_bits()).clamp(-range, range);
        let index = ((clamped + range) * bins / (2 * range)).min(bins - 1);
        debug_assert!((0..bins).contains(&index));
        // 0 ≤ index < bins ≤ 64: lossless.
        index as u8
    }

    /// Adds one signed prediction error and returns the new reading.
    pub fn update(&mut self, error: Q) -> EntropyReading {
        self.push_error(error);
        let raw = self.histogram_entropy();
        self.push_raw(raw);
        self.reading
    }

    fn push_error(&mut self, error: Q) {
        let bin = self.bin_of(error);
        let next = usize::from(self.next);
        if self.len == self.window_len {
            let evicted = usize::from(self.bin_ring[next]);
            assert!(self.counts[evicted] > 0, "entropy histogram out of sync");
            self.counts[evicted] -= 1;
        } else {
            self.len += 1;
        }
        self.bin_ring[next] = bin;
        self.counts[usize::from(bin)] += 1;
        // < window_len ≤ 64: lossless.
        self.next = ((next + 1) % usize::from(self.window_len)) as u8;
        debug_assert_eq!(
            self.counts.iter().map(|c| u32::from(*c)).sum::<u32>(),
            u32::from(self.len)
        );
    }

    /// `ln n − (1/n) Σ c ln c`, floored at 0 against rounding.
    fn histogram_entropy(&self) -> Q {
        assert!(self.len > 0);
        let mut sum = Acc::new();
        for count in self.counts.iter().take(usize::from(self.bins)) {
            if *count > 1 {
                let count = q::from_int(i32::from(*count));
                sum.mac(count, q::ln(count));
            }
        }
        let n = q::from_int(i32::from(self.len));
        let entropy = q::ln(n).saturating_sub(q::div(sum.finish(), n));
        entropy.max(q::ZERO)
    }

    fn push_raw(&mut self, raw: Q) {
        let had_previous = self.raw_len > 0;
        let previous = self.reading.smoothed;
        self.raw_ring[usize::from(self.raw_next)] = raw;
        // Both < SMOOTHING_LEN = 3: lossless.
        self.raw_next = ((usize::from(self.raw_next) + 1) % SMOOTHING_LEN) as u8;
        self.raw_len = (usize::from(self.raw_len) + 1).min(SMOOTHING_LEN) as u8;
        let mut sum = Acc::new();
        for value in self.raw_ring.iter().take(usize::from(self.raw_len)) {
            sum.add(*value);
        }
        let smoothed = q::div(sum.finish(), q::from_int(i32::from(self.raw_len)));
        let derivative = if had_previous {
            smoothed.saturating_sub(previous)
        } else {
            q::ZERO
        };
        self.reading = EntropyReading {
            raw,
            smoothed,
            derivative,
        };
    }
}

/// Confirmations each transition needs: the indicated regime must repeat
/// this many updates in a row before the detector moves (PAPER.md §3,
/// hysteresis). 1 means no hysteresis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirmations {
    /// Calm → PreStorm (seed: ⌊2·base/3⌋).
    pub calm_to_prestorm: u8,
    /// PreStorm → Storm (seed: base). The paper says 5; the seed code uses
    /// base = 3, which is kept as the default.
    pub prestorm_to_storm: u8,
    /// Calm → Storm (seed: base).
    pub calm_to_storm: u8,
    /// Storm → Calm (seed: ⌊5·base/3⌋).
    pub storm_to_calm: u8,
    /// Storm → PreStorm (seed: base).
    pub storm_to_prestorm: u8,
    /// PreStorm → Calm, the false-alarm path (seed: ⌊2·base/3⌋).
    pub prestorm_to_calm: u8,
}

impl Default for Confirmations {
    /// The seed code's table with base 3: 2, 3, 3, 5, 3, 2.
    fn default() -> Self {
        Confirmations::from_base(3)
    }
}

impl Confirmations {
    /// The seed code's table (`set_hysteresis_rounds(base)`), each entry at
    /// least 1 as there: base 3 gives C→P 2, P→S 3, C→S 3, S→C 5, S→P 3,
    /// P→C 2.
    pub const fn from_base(base: u8) -> Self {
        let two_thirds = at_least_one(base as u32 * 2 / 3);
        Confirmations {
            calm_to_prestorm: two_thirds,
            prestorm_to_storm: at_least_one(base as u32),
            calm_to_storm: at_least_one(base as u32),
            storm_to_calm: at_least_one(base as u32 * 5 / 3),
            storm_to_prestorm: at_least_one(base as u32),
            prestorm_to_calm: two_thirds,
        }
    }

    /// `escalate` confirmations for every move up (C→P, P→S, C→S) and
    /// `relax` for every move down (S→C, S→P, P→C): the issue's
    /// "N to escalate, M to relax".
    pub const fn asymmetric(escalate: u8, relax: u8) -> Self {
        Confirmations {
            calm_to_prestorm: escalate,
            prestorm_to_storm: escalate,
            calm_to_storm: escalate,
            storm_to_calm: relax,
            storm_to_prestorm: relax,
            prestorm_to_calm: relax,
        }
    }

    /// The same count for every transition; `uniform(1)` disables hysteresis.
    pub const fn uniform(count: u8) -> Self {
        Confirmations::asymmetric(count, count)
    }

    /// Confirmations needed to move `from → to` (0 when `from == to`).
    pub const fn between(&self, from: Regime, to: Regime) -> u8 {
        match (from, to) {
            (Regime::Calm, Regime::PreStorm) => self.calm_to_prestorm,
            (Regime::PreStorm, Regime::Storm) => self.prestorm_to_storm,
            (Regime::Calm, Regime::Storm) => self.calm_to_storm,
            (Regime::Storm, Regime::Calm) => self.storm_to_calm,
            (Regime::Storm, Regime::PreStorm) => self.storm_to_prestorm,
            (Regime::PreStorm, Regime::Calm) => self.prestorm_to_calm,
            _ => 0,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let all = [
            self.calm_to_prestorm,
            self.prestorm_to_storm,
            self.calm_to_storm,
            self.storm_to_calm,
            self.storm_to_prestorm,
            self.prestorm_to_calm,
        ];
        if all.contains(&0) {
            return Err(ConfigError::ConfirmationsZero);
        }
        Ok(())
    }
}

const fn at_least_one(value: u32) -> u8 {
    if value == 0 {
        1
    } else if value > u8::MAX as u32 {
        u8::MAX
    } else {
        value as u8
    }
}

/// How the detector leaves Storm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StormExit {
    /// Like every other move: by the indicated regime and the confirmation
    /// table. The seed code's behaviour, hence the default.
    #[default]
    Indicated,
    /// The paper's rule (PAPER.md §3; only in its TLA+ spec, not its code):
    /// Storm is sticky and is left only for Calm, when the raw entropy is
    /// below `entropy_below_nats` and the derivative below
    /// `derivative_below_nats`, confirmed `storm_to_calm` times. Storm →
    /// PreStorm is then unreachable.
    Thresholds {
        /// Exit entropy, paper 1.5.
        entropy_below_nats: Q,
        /// Exit derivative, paper 0.05.
        derivative_below_nats: Q,
    },
}

impl StormExit {
    /// The paper's exit rule: `H < 1.5` and `dH < 0.05`.
    pub const fn paper() -> Self {
        StormExit::Thresholds {
            entropy_below_nats: q::ratio(3, 2),
            derivative_below_nats: q::ratio(1, 20),
        }
    }
}

/// Configuration of a [`RegimeDetector`]; see [`Default`] for the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Storm is indicated when the raw entropy exceeds this. Default 2.5,
    /// the paper's H_thresh (§1.1).
    pub storm_entropy_nats: Q,
    /// PreStorm is indicated when the smoothed entropy's derivative exceeds
    /// this. Default 0.1, the paper's dH_thresh; the seed code uses 0.3.
    pub prestorm_derivative_nats: Q,
    /// Confirmations per transition. Default [`Confirmations::from_base`]`(3)`.
    pub confirmations: Confirmations,
    /// How Storm is left. Default [`StormExit::Indicated`] (seed code).
    pub storm_exit: StormExit,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            storm_entropy_nats: q::ratio(5, 2),
            prestorm_derivative_nats: q::ratio(1, 10),
            confirmations: Confirmations::default(),
            storm_exit: StormExit::Indicated,
        }
    }
}

impl DetectorConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.storm_entropy_nats <= q::ZERO {
            return Err(ConfigError::StormEntropyNotPositive);
        }
        if self.prestorm_derivative_nats <= q::ZERO {
            return Err(ConfigError::PreStormDerivativeNotPositive);
        }
        self.confirmations.validate()?;
        if let StormExit::Thresholds {
            entropy_below_nats, ..
        } = self.storm_exit
            && (entropy_below_nats <= q::ZERO || entropy_below_nats > self.storm_entropy_nats)
        {
            return Err(ConfigError::StormExitOutOfRange);
        }
        Ok(())
    }
}

/// What a [`RegimeDetector`] has done since construction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegimeCounters {
    /// Regime changes, all kinds.
    pub transitions: u32,
    /// Regime changes by `[from.index()][to.index()]` (diagonal stays 0).
    pub transitions_by_kind: [[u32; 3]; 3],
    /// Updates that ended in each regime, by [`Regime::index`].
    pub samples_by_regime: [u64; 3],
}

/// The Calm → PreStorm → Storm machine with asymmetric hysteresis
/// (PAPER.md §3, `regime_detector.rs::update` of the seed code).
///
/// Each update indicates Storm if the raw entropy exceeds the Storm
/// threshold, else PreStorm if the derivative exceeds the PreStorm
/// threshold, else Calm. The detector moves to the indicated regime once it
/// has been indicated [`Confirmations::between`] times in a row; any other
/// indication (including the current regime) restarts the count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegimeDetector {
    config: DetectorConfig,
    regime: Regime,
    /// The regime being confirmed (equal to `regime` when none).
    candidate: Regime,
    /// Consecutive indications of `candidate`.
    streak: u8,
    indicated: Regime,
    counters: RegimeCounters,
}

impl RegimeDetector {
    /// A detector in Calm with zeroed counters.
    pub fn new(config: DetectorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(RegimeDetector {
            config,
            regime: Regime::Calm,
            candidate: Regime::Calm,
            streak: 0,
            indicated: Regime::Calm,
            counters: RegimeCounters::default(),
        })
    }

    /// The current (confirmed) regime.
    pub fn regime(&self) -> Regime {
        self.regime
    }

    /// The regime the latest reading indicated, before hysteresis.
    pub fn indicated(&self) -> Regime {
        self.indicated
    }

    /// The regime being confirmed and how many times in a row it was seen
    /// (`(regime(), 0)` when none).
    pub fn pending(&self) -> (Regime, u8) {
        (self.candidate, self.streak)
    }

    /// Transition and per-regime sample counters.
    pub fn counters(&self) -> &RegimeCounters {
        &self.counters
    }

    /// The configuration in force.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Feeds one entropy reading; returns the regime after it.
    pub fn update(&mut self, reading: EntropyReading) -> Regime {
        self.indicated = self.indicate(reading);
        self.confirm(self.indicated);
        let slot = &mut self.counters.samples_by_regime[self.regime.index()];
        *slot = slot.saturating_add(1);
        self.regime
    }

    fn indicate(&self, reading: EntropyReading) -> Regime {
        if let StormExit::Thresholds {
            entropy_below_nats,
            derivative_below_nats,
        } = self.config.storm_exit
            && self.regime == Regime::Storm
        {
            let calm =
                reading.raw < entropy_below_nats && reading.derivative < derivative_below_nats;
            return if calm { Regime::Calm } else { Regime::Storm };
        }
        if reading.raw > self.config.storm_entropy_nats {
            Regime::Storm
        } else if reading.derivative > self.config.prestorm_derivative_nats {
            Regime::PreStorm
        } else {
            Regime::Calm
        }
    }

    fn confirm(&mut self, indicated: Regime) {
        if indicated == self.regime {
            self.candidate = self.regime;
            self.streak = 0;
            return;
        }
        if indicated == self.candidate {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.candidate = indicated;
            self.streak = 1;
        }
        let needed = self.config.confirmations.between(self.regime, indicated);
        assert!(needed >= 1, "validated: every transition needs >= 1");
        if self.streak >= needed {
            let kind = &mut self.counters.transitions_by_kind[self.regime.index()];
            kind[indicated.index()] = kind[indicated.index()].saturating_add(1);
            self.counters.transitions = self.counters.transitions.saturating_add(1);
            self.regime = indicated;
            self.streak = 0;
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_arithmetic)] // host tests compare against floats
mod tests {
    extern crate std;

    use super::*;
    use crate::rng::{self, Purpose};
    use rand_chacha::rand_core::Rng;
    use std::vec::Vec;

    const ULP: f64 = 1.0 / 65536.0;

    fn to_f64(x: Q) -> f64 {
        f64::from(x.to_bits()) / 65536.0
    }

    fn signal() -> EntropySignal {
        EntropySignal::new(EntropyConfig::default()).unwrap()
    }

    /// The centre of bin `bin` under the default config (width 1/16).
    fn bin_centre(bin: i32) -> Q {
        q::ratio(2 * bin + 1, 32) - q::ONE
    }

    #[test]
    fn entropy_of_known_histograms() {
        let mut s = signal();
        for _ in 0..80 {
            s.update(q::ratio(1, 3));
        }
        assert_eq!(s.reading().raw, q::ZERO);
        // Two bins, 32 each: ln 2.
        let mut s = signal();
        for i in 0..64 {
            s.update(bin_centre(i % 2 * 5));
        }
        assert!((to_f64(s.reading().raw) - 2.0_f64.ln()).abs() <= 3.0 * ULP);
        // Every bin twice: ln 32, the maximum.
        let mut s = signal();
        for i in 0..64 {
            s.update(bin_centre(i % 32));
        }
        assert!((to_f64(s.reading().raw) - 32.0_f64.ln()).abs() <= 3.0 * ULP);
        // Warm-up: 3 distinct errors of 3 seen, ln 3.
        let mut s = signal();
        for i in 0..3 {
            s.update(bin_centre(i));
        }
        assert!((to_f64(s.reading().raw) - 3.0_f64.ln()).abs() <= 3.0 * ULP);
    }

    #[test]
    fn window_evicts_old_errors() {
        let mut s = signal();
        for i in 0..64 {
            s.update(bin_centre(i % 32));
        }
        assert!(s.reading().raw > q::ratio(34, 10));
        for _ in 0..64 {
            s.update(q::ZERO);
        }
        assert_eq!(s.reading().raw, q::ZERO);
    }

    #[test]
    fn bins_clamp_at_the_edges() {
        let s = signal();
        assert_eq!(s.bin_of(q::from_int(-5)), 0);
        assert_eq!(s.bin_of(-q::ONE), 0);
        assert_eq!(s.bin_of(q::ZERO), 16);
        assert_eq!(s.bin_of(q::from_raw(-1)), 15);
        assert_eq!(s.bin_of(q::ONE), 31);
        assert_eq!(s.bin_of(Q::MAX), 31);
        assert_eq!(s.bin_of(Q::MIN), 0);
    }

    #[test]
    fn smoothing_is_a_three_point_mean_and_derivative_its_step() {
        let mut s = signal();
        let errors = [0, 5, 9, 2, 14, 7, 11, 3].map(bin_centre);
        let mut raws: Vec<f64> = Vec::new();
        let mut previous = 0.0;
        for (k, error) in errors.iter().enumerate() {
            let reading = s.update(*error);
            raws.push(to_f64(reading.raw));
            let tail = &raws[raws.len().saturating_sub(3)..];
            let mean = tail.iter().sum::<f64>() / tail.len() as f64;
            assert!((to_f64(reading.smoothed) - mean).abs() <= 2.0 * ULP);
            let expected = if k == 0 { 0.0 } else { mean - previous };
            assert!((to_f64(reading.derivative) - expected).abs() <= 3.0 * ULP);
            previous = to_f64(reading.smoothed);
        }
    }

    /// Calibrates the defaults (the table on [`EntropyConfig::bins`]):
    /// approximately Gaussian errors (sum of four uniforms) of standard
    /// deviation σ, mean raw entropy over 564 updates.
    #[test]
    fn entropy_grows_with_error_spread() {
        let mut rng = rng::stream(11, 0, Purpose::DataNoise);
        let mut means = Vec::new();
        for sigma in [0.05, 0.1, 0.2, 0.3, 0.6] {
            let mut s = signal();
            let mut sum = 0.0;
            for _ in 0..564 {
                let u: f64 = (0..4)
                    .map(|_| f64::from(rng.next_u32()) / f64::from(u32::MAX) - 0.5)
                    .sum();
                let reading = s.update(Q::from_num(u * sigma * 3.0_f64.sqrt()));
                sum += to_f64(reading.raw);
            }
            means.push(sum / 564.0);
        }
        std::println!("mean entropy by sigma: {means:?}");
        assert!(means.windows(2).all(|w| w[0] < w[1]));
        assert!(means[1] < 2.0, "a tracking predictor stays far from Storm");
        assert!(means[3] > 2.6, "errors of σ 0.3 are Storm");
    }

    fn reading_for(regime: Regime) -> EntropyReading {
        let (raw, derivative) = match regime {
            Regime::Calm => (q::ratio(1, 2), q::ZERO),
            Regime::PreStorm => (q::ONE, q::ratio(1, 2)),
            Regime::Storm => (q::from_int(3), q::ZERO),
        };
        EntropyReading {
            raw,
            smoothed: raw,
            derivative,
        }
    }

    fn detector(confirmations: Confirmations) -> RegimeDetector {
        RegimeDetector::new(DetectorConfig {
            confirmations,
            ..DetectorConfig::default()
        })
        .unwrap()
    }

    /// Drives `d` into `target` by repeating its indication.
    fn drive(d: &mut RegimeDetector, target: Regime) {
        for _ in 0..10 {
            if d.regime() == target {
                return;
            }
            d.update(reading_for(target));
        }
        assert_eq!(d.regime(), target);
    }

    #[test]
    fn every_transition_needs_its_confirmations() {
        use Regime::*;
        let table: [(Confirmations, Regime, Regime, u8); 12] = [
            (Confirmations::default(), Calm, PreStorm, 2),
            (Confirmations::default(), PreStorm, Storm, 3),
            (Confirmations::default(), Calm, Storm, 3),
            (Confirmations::default(), Storm, Calm, 5),
            (Confirmations::default(), Storm, PreStorm, 3),
            (Confirmations::default(), PreStorm, Calm, 2),
            (Confirmations::asymmetric(4, 7), Calm, PreStorm, 4),
            (Confirmations::asymmetric(4, 7), PreStorm, Storm, 4),
            (Confirmations::asymmetric(4, 7), Calm, Storm, 4),
            (Confirmations::asymmetric(4, 7), Storm, Calm, 7),
            (Confirmations::asymmetric(4, 7), Storm, PreStorm, 7),
            (Confirmations::asymmetric(4, 7), PreStorm, Calm, 7),
        ];
        for (confirmations, from, to, needed) in table {
            let mut d = detector(confirmations);
            drive(&mut d, from);
            let before = *d.counters();
            for k in 1..needed {
                assert_eq!(d.update(reading_for(to)), from, "{from:?}->{to:?} at {k}");
                assert_eq!(d.pending(), (to, k));
            }
            assert_eq!(d.update(reading_for(to)), to, "{from:?}->{to:?}");
            assert_eq!(d.pending(), (to, 0));
            let after = d.counters();
            assert_eq!(after.transitions, before.transitions + 1);
            let kind = after.transitions_by_kind[from.index()][to.index()];
            assert_eq!(
                kind,
                before.transitions_by_kind[from.index()][to.index()] + 1
            );
        }
    }

    #[test]
    fn any_other_indication_restarts_the_count() {
        use Regime::*;
        let mut d = detector(Confirmations::default());
        // Storm twice, then Calm (the current regime) resets: still Calm.
        for indication in [Storm, Storm, Calm, Storm, Storm] {
            assert_eq!(d.update(reading_for(indication)), Calm);
        }
        // Storm twice, then PreStorm once (a different candidate) resets.
        let mut d = detector(Confirmations::default());
        for indication in [Storm, Storm, PreStorm, Storm, Storm] {
            assert_eq!(d.update(reading_for(indication)), Calm);
        }
        assert_eq!(d.pending(), (Storm, 2));
        assert_eq!(d.update(reading_for(Storm)), Storm);
    }

    #[test]
    fn hysteresis_suppresses_a_one_sample_spike() {
        use Regime::*;
        let spike = [Calm, Calm, Storm, Calm, Calm];
        let mut with = detector(Confirmations::default());
        let mut without = detector(Confirmations::uniform(1));
        let got_with: Vec<Regime> = spike.iter().map(|r| with.update(reading_for(*r))).collect();
        let got_without: Vec<Regime> = spike
            .iter()
            .map(|r| without.update(reading_for(*r)))
            .collect();
        assert_eq!(got_with, [Calm; 5]);
        assert_eq!(got_without, [Calm, Calm, Storm, Calm, Calm]);
        assert_eq!(with.counters().transitions, 0);
        assert_eq!(without.counters().transitions, 2);
        assert_eq!(without.counters().samples_by_regime, [4, 0, 1]);
    }

    #[test]
    fn indication_rules_follow_the_paper_thresholds() {
        let d = detector(Confirmations::default());
        let at = |raw: (i32, i32), derivative: (i32, i32)| {
            d.indicate(EntropyReading {
                raw: q::ratio(raw.0, raw.1),
                smoothed: q::ZERO,
                derivative: q::ratio(derivative.0, derivative.1),
            })
        };
        assert_eq!(at((5, 2), (0, 1)), Regime::Calm); // H = 2.5 is not above
        assert_eq!(at((26, 10), (0, 1)), Regime::Storm);
        assert_eq!(at((26, 10), (1, 1)), Regime::Storm); // Storm wins
        assert_eq!(at((1, 1), (1, 10)), Regime::Calm); // dH = 0.1 is not above
        assert_eq!(at((1, 1), (11, 100)), Regime::PreStorm);
        assert_eq!(at((1, 1), (-1, 1)), Regime::Calm);
    }

    #[test]
    fn paper_storm_exit_is_sticky_until_low_and_flat() {
        use Regime::*;
        let mut d = RegimeDetector::new(DetectorConfig {
            storm_exit: StormExit::paper(),
            ..DetectorConfig::default()
        })
        .unwrap();
        drive(&mut d, Storm);
        // H = 2.0 indicates Calm in the seed rule, not under the paper's.
        let middling = EntropyReading {
            raw: q::from_int(2),
            smoothed: q::from_int(2),
            derivative: q::ZERO,
        };
        for _ in 0..10 {
            assert_eq!(d.update(middling), Storm);
            assert_eq!(d.update(reading_for(PreStorm)), Storm);
        }
        let low_but_rising = EntropyReading {
            derivative: q::ratio(1, 10),
            ..reading_for(Calm)
        };
        for _ in 0..10 {
            assert_eq!(d.update(low_but_rising), Storm);
        }
        for _ in 0..4 {
            assert_eq!(d.update(reading_for(Calm)), Storm);
        }
        assert_eq!(d.update(reading_for(Calm)), Calm);
    }

    #[test]
    fn counters_add_up() {
        let mut d = detector(Confirmations::default());
        let mut s = signal();
        let mut rng = rng::stream(5, 0, Purpose::DataNoise);
        for t in 0..600_u32 {
            let amplitude: u32 = if (200..400).contains(&t) {
                1 << 16
            } else {
                1 << 12
            };
            let error = q::from_raw(rng::below(&mut rng, 2 * amplitude) as i32 - amplitude as i32);
            d.update(s.update(error));
        }
        let c = d.counters();
        assert_eq!(c.samples_by_regime.iter().sum::<u64>(), 600);
        let by_kind: u32 = c.transitions_by_kind.iter().flatten().sum();
        assert_eq!(by_kind, c.transitions);
        assert!(c.samples_by_regime[Regime::Storm.index()] > 100);
        assert!(
            c.transitions_by_kind
                .iter()
                .enumerate()
                .all(|(i, row)| row[i] == 0)
        );
    }

    #[test]
    fn configs_are_validated() {
        let bad_entropy = |config| EntropySignal::new(config).unwrap_err();
        let base = EntropyConfig::default();
        assert_eq!(
            bad_entropy(EntropyConfig {
                window_len: 65,
                ..base
            }),
            ConfigError::WindowLenOutOfRange
        );
        assert_eq!(
            bad_entropy(EntropyConfig { bins: 1, ..base }),
            ConfigError::BinsOutOfRange
        );
        assert_eq!(
            bad_entropy(EntropyConfig {
                error_range: q::ZERO,
                ..base
            }),
            ConfigError::ErrorRangeNotPositive
        );
        let bad = |config| RegimeDetector::new(config).unwrap_err();
        let base = DetectorConfig::default();
        let zero = Confirmations {
            storm_to_calm: 0,
            ..Confirmations::default()
        };
        assert_eq!(
            bad(DetectorConfig {
                confirmations: zero,
                ..base
            }),
            ConfigError::ConfirmationsZero
        );
        assert_eq!(
            bad(DetectorConfig {
                prestorm_derivative_nats: q::ZERO,
                ..base
            }),
            ConfigError::PreStormDerivativeNotPositive
        );
        let exit = StormExit::Thresholds {
            entropy_below_nats: q::from_int(3),
            derivative_below_nats: q::ZERO,
        };
        assert_eq!(
            bad(DetectorConfig {
                storm_exit: exit,
                ..base
            }),
            ConfigError::StormExitOutOfRange
        );
        assert_eq!(Confirmations::from_base(1), Confirmations::uniform(1));
        assert_eq!(Confirmations::from_base(255).storm_to_calm, 255);
    }

    #[test]
    fn state_is_small() {
        // Measured 164 and 96 bytes on x86_64.
        assert!(core::mem::size_of::<EntropySignal>() <= 168);
        assert!(core::mem::size_of::<RegimeDetector>() <= 104);
    }
}
