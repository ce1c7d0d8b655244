//! Entropy signal and the Calm → PreStorm → Storm regime machine.
//!
//! docs/paper.md §3: the node watches the entropy of its recent prediction error,
//! smoothed by a 3-point moving average, and its derivative; high entropy
//! means Storm (full coordination), rising entropy PreStorm, otherwise Calm.
//! Asymmetric hysteresis keeps one noisy sample from flipping the regime.
//!
//! The paper never says over which distribution `−Σ p ln p` is taken. Here
//! it is the histogram of the last `W` signed prediction errors binned at a
//! fixed width `Δ` with no range limit ([`EntropySignal`]). For errors of
//! spread σ that is the differential entropy of the error minus `ln Δ`
//! (`≈ 1.419 + ln(σ/Δ)` for Gaussian errors), so it rises with the error
//! spread at every noise level, up to `ln W` when every error has its own
//! bin: the predictor no longer tracks the signal.
//!
//! The two halves are separate so that a host can also feed the
//! [`RegimeDetector`] a scripted entropy (the paper's hysteresis experiment,
//! §9) without a predictor.

use core::fmt;

use crate::codec::{Invalid, Reader, Writer};
use crate::q::{self, Q};
use crate::wire::regime_from_code;

/// The swarm's operating regime (docs/paper.md §3).
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

/// Largest error window `W` of an [`EntropySignal`] (bounds its state, the
/// per-sample scan of the window and the `c ln c` table).
pub const ENTROPY_WINDOW_MAX: usize = 64;

/// Length of the moving average over raw entropy (docs/paper.md §3: 3-point).
pub const SMOOTHING_LEN: usize = 3;

/// `c · ln c` for `c = 0..=64` in Q16.16 bits, rounded to nearest
/// (`0 · ln 0 = 0`): the terms of `S = Σ c ln c` over the histogram's bin
/// counts `c ≤ W ≤ 64`. A const table so that no sample pays a logarithm;
/// a host test recomputes every entry in `f64`.
const C_LN_C_Q16: [i32; ENTROPY_WINDOW_MAX + 1] = [
    0, 0, 90852, 215996, 363409, 527381, 704548, 892690, //
    1090226, 1295976, 1509022, 1728633, 1954210, 2185255, 2421346, 2662122, //
    2907270, 3156517, 3409621, 3666368, 3926566, 4190042, 4456640, 4726218, //
    4998646, 5273806, 5551588, 5831891, 6114622, 6399694, 6687026, 6976543, //
    7268175, 7561855, 7857521, 8155115, 8454582, 8755869, 9058928, 9363712, //
    9670176, 9978279, 10287980, 10599242, 10912029, 11226304, 11542037, 11859194, //
    12177745, 12497662, 12818917, 13141482, 13465333, 13790444, 14116791, 14444352, //
    14773105, 15103028, 15434101, 15766304, 16099618, 16434024, 16769505, 17106042, //
    17443620,
];

/// `ln n` for `n = 1..=64` in Q16.16 bits, rounded to nearest; entry 0 is
/// unused (0). The `ln n` of `H = ln n − S/n` for a window of `n` errors.
const LN_Q16: [i32; ENTROPY_WINDOW_MAX + 1] = [
    0, 0, 45426, 71999, 90852, 105476, 117425, 127527, //
    136278, 143997, 150902, 157148, 162851, 168097, 172953, 177475, //
    181704, 185677, 189423, 192967, 196328, 199526, 202575, 205488, //
    208277, 210952, 213523, 215996, 218379, 220679, 222901, 225050, //
    227130, 229147, 231104, 233003, 234849, 236645, 238393, 240095, //
    241754, 243373, 244952, 246494, 248001, 249473, 250914, 252323, //
    253703, 255054, 256378, 257676, 258949, 260197, 261422, 262625, //
    263805, 264965, 266105, 267225, 268327, 269410, 270476, 271524, //
    272557,
];

/// Why an [`EntropyConfig`] or a [`DetectorConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The error window must be in `1..=ENTROPY_WINDOW_MAX`.
    WindowLenOutOfRange,
    /// The histogram's bin width must be positive.
    BinWidthNotPositive,
    /// The derivative's horizon must be at least one sample.
    DerivativeHorizonZero,
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
            ConfigError::BinWidthNotPositive => "entropy bin width must be > 0",
            ConfigError::DerivativeHorizonZero => "entropy derivative horizon must be >= 1",
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
    /// Default 64: the entropy of `W` errors tops out at `ln W` (4.16 for
    /// 64), which must sit well above the Storm threshold 2.5.
    pub window_len: u8,
    /// `Δ`: width of the histogram's bins, data units, `> 0`. Bin of an
    /// error `e`: `⌊e / Δ⌋`, with no range limit (saturated to `i16`, i.e.
    /// `±32768 Δ`), so the entropy keeps rising with the error spread
    /// instead of piling large errors into edge bins. Default 1/16.
    ///
    /// For Gaussian errors of standard deviation σ the entropy is about
    /// `1.419 + ln(σ/Δ)` (differential entropy minus `ln Δ`), less the
    /// plug-in estimator's bias for `W` samples, and tends to `ln W` once
    /// most errors have a bin of their own. Measured mean raw entropy with
    /// the defaults (`entropy_rises_with_error_spread_at_every_level`):
    ///
    /// | σ | 0.05 | 0.1 | 0.2 | 0.3 | 0.5 | 1.0 | 1.5 | 2.0 | 3.0 |
    /// |---|---|---|---|---|---|---|---|---|---|
    /// | mean H | 1.22 | 1.83 | 2.44 | 2.76 | 3.14 | 3.54 | 3.72 | 3.81 | 3.93 |
    ///
    /// So the Storm threshold 2.5 sits at σ ≈ 0.22, 2.2 times the error of
    /// a predictor tracking z-normalized data to σ 0.1 (1.83), and every
    /// larger error keeps reading as Storm (the old ±1 histogram with 32
    /// bins fell from 3.11 at σ 0.5 to 1.71 at σ 3). The width sets where
    /// the scale sits, not its shape: halving Δ adds ln 2 to every value
    /// below the `ln W` ceiling.
    pub bin_width: Q,
    /// `h`: horizon of the derivative, samples, `1..=255`. The derivative
    /// is the smoothed entropy minus its exponential moving average of
    /// rate `1/h`; on a ramp of slope `s` nats/sample it settles at `s·h`,
    /// on a step `ΔH` it starts at `ΔH` and decays with time constant `h`.
    /// Default 16: the scale of a gossip round (10 samples) rather than of
    /// one sample; `h = 1` is the per-sample difference, which is always
    /// tiny because one sample moves a 64-error window very little.
    pub derivative_horizon_samples: u8,
}

impl Default for EntropyConfig {
    fn default() -> Self {
        EntropyConfig {
            window_len: 64,
            bin_width: q::ratio(1, 16),
            derivative_horizon_samples: 16,
        }
    }
}

impl EntropyConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window_len == 0 || usize::from(self.window_len) > ENTROPY_WINDOW_MAX {
            return Err(ConfigError::WindowLenOutOfRange);
        }
        if self.bin_width <= q::ZERO {
            return Err(ConfigError::BinWidthNotPositive);
        }
        if self.derivative_horizon_samples == 0 {
            return Err(ConfigError::DerivativeHorizonZero);
        }
        Ok(())
    }
}

/// One update of the entropy signal, in nats (docs/paper.md §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntropyReading {
    /// Shannon entropy of the error histogram now.
    pub raw: Q,
    /// Mean of the last up to 3 raw values.
    pub smoothed: Q,
    /// `smoothed` minus its moving average over the derivative horizon
    /// (0 on the first update); see
    /// [`EntropyConfig::derivative_horizon_samples`].
    pub derivative: Q,
}

/// Shannon entropy of the histogram of the last `W` prediction errors, with
/// its 3-point moving average and derivative (docs/paper.md §3).
///
/// With `n ≤ W` errors and bin counts `c`, `H = ln n − S/n` with
/// `S = Σ c ln c` (the same as `−Σ p ln p` with `p = c/n`). `S` is kept
/// incrementally: when an error enters a bin of count `c`,
/// `S += T[c+1] − T[c]`, when one leaves, the reverse, with `T[c] = c ln c`
/// from a const table. A bin's count is found by scanning the ring of bin
/// indices (≤ 64 compares), so there are no per-bin counters and no range
/// limit on the bins. Per update: one `i32` division for the bin, one scan,
/// one `i32` division for `S/n`; no logarithm. Every term is an exact
/// integer, so `S` never drifts: it always equals the sum of table entries
/// over the current counts (checked in tests). `H` is within 1.5 ulp of
/// the exact entropy of the histogram. State: 172 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntropySignal {
    /// Bin index of each error in the window, a ring; valid in `..len`.
    bin_ring: [i16; ENTROPY_WINDOW_MAX],
    /// `S = Σ c ln c` over the window's bins, Q16.16 bits, in
    /// `0..=C_LN_C_Q16[len]`.
    c_ln_c_sum: i32,
    bin_width: Q,
    /// EMA of `smoothed` (rate `1 / derivative_horizon`).
    baseline: Q,
    raw_ring: [Q; SMOOTHING_LEN],
    reading: EntropyReading,
    next: u8,
    len: u8,
    window_len: u8,
    derivative_horizon: u8,
    raw_next: u8,
    raw_len: u8,
}

impl EntropySignal {
    /// An empty signal (reading all zero).
    pub fn new(config: EntropyConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(EntropySignal {
            bin_ring: [0; ENTROPY_WINDOW_MAX],
            c_ln_c_sum: 0,
            bin_width: config.bin_width,
            baseline: q::ZERO,
            raw_ring: [q::ZERO; SMOOTHING_LEN],
            reading: EntropyReading::default(),
            next: 0,
            len: 0,
            window_len: config.window_len,
            derivative_horizon: config.derivative_horizon_samples,
            raw_next: 0,
            raw_len: 0,
        })
    }

    /// The latest reading.
    pub fn reading(&self) -> EntropyReading {
        self.reading
    }

    /// The bin of `error`: `⌊error / Δ⌋`, saturated to `i16` (so only
    /// errors beyond `±32768 Δ`, 2048 at the default width, share an edge
    /// bin).
    pub fn bin_of(&self, error: Q) -> i16 {
        let width = self.bin_width.to_bits();
        assert!(width > 0, "validated: bin width > 0");
        // width > 0, so no i32::MIN / −1 overflow; div_euclid floors.
        let index = error.to_bits().div_euclid(width);
        // Clamped into i16: lossless.
        index.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
    }

    /// Adds one signed prediction error and returns the new reading.
    pub fn update(&mut self, error: Q) -> EntropyReading {
        self.push_error(error);
        let raw = self.histogram_entropy();
        self.push_raw(raw);
        if self.len < self.window_len {
            // While the window fills, the plug-in entropy rises only because
            // it sees more errors: no trend to detect, so the derivative's
            // baseline follows (else a cold start reads as a rising storm).
            self.baseline = self.reading.smoothed;
            self.reading.derivative = q::ZERO;
        }
        self.reading
    }

    /// Puts `error`'s bin into the ring (evicting the oldest when full) and
    /// updates `S` by the table differences of the two bins that changed.
    fn push_error(&mut self, error: Q) {
        let bin = self.bin_of(error);
        let next = usize::from(self.next);
        let len = usize::from(self.len);
        let full = self.len == self.window_len;
        assert!(len <= usize::from(self.window_len) && next < usize::from(self.window_len));
        // Filling, the ring is valid in ..len and next == len; full, the
        // slot about to be overwritten holds the oldest error.
        assert!(full || next == len);
        let evicted = self.bin_ring[next];
        // Counts, before this update, of the entering and (when full) the
        // leaving bin, in one scan.
        // u16 lanes, like the i16 indices, so that the scan vectorizes.
        let mut entering_count: u16 = 0;
        let mut leaving_count: u16 = 0;
        for index in &self.bin_ring[..len] {
            entering_count += u16::from(*index == bin);
            leaving_count += u16::from(*index == evicted);
        }
        let entering_count = usize::from(entering_count);
        let leaving_count = usize::from(leaving_count);
        assert!(entering_count <= len);
        if !full {
            self.c_ln_c_sum += C_LN_C_Q16[entering_count + 1] - C_LN_C_Q16[entering_count];
            self.len += 1;
        } else if evicted != bin {
            assert!(leaving_count >= 1, "the evicted error is in the window");
            self.c_ln_c_sum += C_LN_C_Q16[entering_count + 1] - C_LN_C_Q16[entering_count];
            self.c_ln_c_sum -= C_LN_C_Q16[leaving_count] - C_LN_C_Q16[leaving_count - 1];
        }
        self.bin_ring[next] = bin;
        // < window_len ≤ 64: lossless.
        self.next = ((next + 1) % usize::from(self.window_len)) as u8;
        // S ranges from 0 (every error in its own bin) to n ln n (one bin).
        assert!(
            (0..=C_LN_C_Q16[usize::from(self.len)]).contains(&self.c_ln_c_sum),
            "entropy sum out of range"
        );
        #[cfg(test)]
        assert_eq!(self.c_ln_c_sum, self.c_ln_c_sum_recomputed());
    }

    /// `ln n − S/n`, `S/n` rounded to nearest, floored at 0 against
    /// rounding. Error ≤ 1.5 ulp: ½ from `ln n`, ≤ ½ from the table entries
    /// in `S` (at most `n` of them, each ≤ ½ off, divided by `n`), ½ from
    /// the division. With the tables as they are, a window of `n` equal
    /// errors reads exactly 0 for every `n` (tested).
    fn histogram_entropy(&self) -> Q {
        let n = usize::from(self.len);
        assert!((1..=ENTROPY_WINDOW_MAX).contains(&n));
        // n ≤ 64: lossless; S ≤ 64 ln 64 · 2^16 < 2^25, no overflow.
        let n = n as i32;
        let mean_c_ln_c = (self.c_ln_c_sum + n / 2) / n;
        q::from_raw((LN_Q16[n as usize] - mean_c_ln_c).max(0))
    }

    /// `S` from scratch, `O(n²)`: each bin counted at its first occurrence
    /// in the ring (the invariant `push_error` keeps).
    #[cfg(test)]
    fn c_ln_c_sum_recomputed(&self) -> i32 {
        let window = &self.bin_ring[..usize::from(self.len)];
        let mut sum = 0;
        let mut total = 0;
        for (position, index) in window.iter().enumerate() {
            if window[..position].contains(index) {
                continue;
            }
            let count = window.iter().filter(|other| *other == index).count();
            total += count;
            sum += C_LN_C_Q16[count];
        }
        assert_eq!(total, window.len(), "bin counts sum to n");
        sum
    }

    /// Pushes `raw` into the 3-point average, then moves the derivative's
    /// baseline: `derivative = smoothed − baseline`, then
    /// `baseline += derivative / h` (an EMA of rate `1/h`, truncated toward
    /// zero, so it may stop up to `h − 1` ulp short of a constant input).
    fn push_raw(&mut self, raw: Q) {
        let first = self.raw_len == 0;
        self.raw_ring[usize::from(self.raw_next)] = raw;
        // Both < SMOOTHING_LEN = 3: lossless.
        self.raw_next = ((usize::from(self.raw_next) + 1) % SMOOTHING_LEN) as u8;
        self.raw_len = (usize::from(self.raw_len) + 1).min(SMOOTHING_LEN) as u8;
        // Each raw ≤ ln 64 < 5 nats, so the sum of 3 fits an i32 easily.
        let mut sum: i32 = 0;
        for value in self.raw_ring.iter().take(usize::from(self.raw_len)) {
            assert!(value.to_bits() >= 0);
            sum += value.to_bits();
        }
        let smoothed = q::from_raw(sum / i32::from(self.raw_len));
        if first {
            self.baseline = smoothed;
        }
        let derivative = smoothed - self.baseline;
        self.baseline += q::from_raw(derivative.to_bits() / i32::from(self.derivative_horizon));
        self.reading = EntropyReading {
            raw,
            smoothed,
            derivative,
        };
    }
}

/// Confirmations each transition needs: the indicated regime must repeat
/// this many updates in a row before the detector moves (docs/paper.md §3,
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
    /// The paper's rule (docs/paper.md §3; only in its TLA+ spec, not its code):
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

/// How the detector escalates out of Calm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Escalation {
    /// The paper's stated order (§3: Calm → PreStorm on a rising entropy,
    /// PreStorm → Storm on a high one): from Calm, an entropy above the
    /// Storm threshold indicates PreStorm, so every storm is announced by
    /// PreStorm for at least `calm_to_prestorm` updates. Default.
    ///
    /// Why: on real prediction errors the calm entropy sits close below the
    /// Storm threshold (≈ 0.35 nats on 100-node SmoothSine with σ 0.1
    /// noise), so most rising storms cross it before the derivative has been
    /// confirmed. Measured in the simulator (20 nodes, storms rising from σ
    /// 0.1 to 1.0 over 150–1,000 s, derivative horizon 16–255 samples,
    /// thresholds 0.15–0.3): with [`Escalation::Direct`] 0–18 of 20–27 node
    /// storms went through PreStorm, at best 78 %.
    #[default]
    ThroughPreStorm,
    /// The seed code: Calm → Storm directly when the Storm threshold is
    /// crossed and confirmed `calm_to_storm` times.
    Direct,
}

/// Configuration of a [`RegimeDetector`]; see [`Default`] for the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Storm is indicated when the raw entropy exceeds this. Default 2.5,
    /// the paper's H_thresh (§1.1). With the default histogram that is
    /// errors of σ ≳ 0.22 (table at [`EntropyConfig::bin_width`]): a jump
    /// from σ 0.1 to 0.3 is Storm after 35 samples on average (44 at
    /// most), to σ ≥ 1 after 16–18 (`storms_are_detected_at_every_noise_level`),
    /// and 20,000 calm samples at σ 0.1 never indicate it.
    pub storm_entropy_nats: Q,
    /// PreStorm is indicated when the smoothed entropy's derivative exceeds
    /// this. Default 0.15: the smallest of 0.1, 0.15, …, 0.3 (paper's
    /// dH_thresh 0.1, seed code 0.3) with about one false alarm per 10,000
    /// calm samples, with the default derivative horizon 16. Measured over
    /// 5 × 20,000 samples of Gaussian errors, and 40 storms ramping from
    /// σ 0.1 to 1.0 over 300 samples:
    ///
    /// | threshold | 0.1 | 0.12 | 0.14 | **0.15** | 0.17 | 0.2 | 0.3 |
    /// |---|---|---|---|---|---|---|---|
    /// | PreStorm share, calm σ 0.1 | 1.07 % | 0.33 % | 0.09 % | 0.05 % | 0.01 % | 0 | 0 |
    /// | false episodes / 10,000, σ 0.1 | 17.7 | 5.9 | 1.6 | 1.1 | 0.3 | 0 | 0 |
    /// | ramps announced by PreStorm | 38/40 | 40/40 | 40/40 | 40/40 | 38/40 | 30/40 | 0/40 |
    /// | mean lead on Storm, samples | 43 | 40 | 33 | 30 | 26 | 21 | – |
    ///
    /// (σ 0.05 gives slightly fewer false alarms than σ 0.1; at 0.1 two
    /// ramps were missed because a false PreStorm was under way.) A step (a
    /// storm that starts at once) is faster than the derivative and may go
    /// straight to Storm, as it should.
    pub prestorm_derivative_nats: Q,
    /// Confirmations per transition. Default [`Confirmations::from_base`]`(3)`.
    pub confirmations: Confirmations,
    /// Whether Calm may jump straight to Storm. Default
    /// [`Escalation::ThroughPreStorm`], the paper's stated order.
    pub escalation: Escalation,
    /// How Storm is left. Default [`StormExit::Indicated`] (seed code).
    pub storm_exit: StormExit,
    /// Updates after construction during which the detector stays in Calm
    /// whatever it is fed (readings, indications and counters still run;
    /// see [`RegimeDetector::warming_up`]); 0 = none. Default 128.
    ///
    /// A cold model (zero weights) predicts nothing, so its error is the
    /// signal itself: as large and as spread as the data, an entropy well
    /// above the Storm threshold that says nothing about the data's
    /// regime. Without a warm-up every run started in Storm. The warm-up
    /// must cover the model's convergence and then one full error window
    /// (64) to flush the cold errors out of the histogram: for errors
    /// decaying as σ = 0.97^t + 0.1 (`cold_start_never_storms_thanks_to_warmup`),
    /// 100 samples still let 8 of 10 runs into Storm for 6–20 samples, 128
    /// (two windows) none of 20.
    pub warmup_samples: u16,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            storm_entropy_nats: q::ratio(5, 2),
            prestorm_derivative_nats: q::ratio(15, 100),
            confirmations: Confirmations::default(),
            escalation: Escalation::ThroughPreStorm,
            storm_exit: StormExit::Indicated,
            warmup_samples: 128,
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
/// (docs/paper.md §3, `regime_detector.rs::update` of the seed code).
///
/// Each update indicates Storm if the raw entropy exceeds the Storm
/// threshold, else PreStorm if the derivative exceeds the PreStorm
/// threshold, else Calm. The detector moves to the indicated regime once it
/// has been indicated [`Confirmations::between`] times in a row; any other
/// indication (including the current regime) restarts the count. For the
/// first [`DetectorConfig::warmup_samples`] updates it stays in Calm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegimeDetector {
    config: DetectorConfig,
    regime: Regime,
    /// The regime being confirmed (equal to `regime` when none).
    candidate: Regime,
    /// Consecutive indications of `candidate`.
    streak: u8,
    indicated: Regime,
    /// Updates left before the regime may leave Calm.
    warmup_left: u16,
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
            warmup_left: config.warmup_samples,
            counters: RegimeCounters::default(),
        })
    }

    /// True until [`DetectorConfig::warmup_samples`] updates have been fed:
    /// the regime is held in Calm meanwhile. A node uses it to train a cold
    /// model with a fast step size.
    pub fn warming_up(&self) -> bool {
        self.warmup_left > 0
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
        if self.warmup_left > 0 {
            // Held in Calm; confirmations start afresh after the warm-up.
            assert!(self.regime == Regime::Calm && self.streak == 0);
            self.warmup_left -= 1;
        } else {
            self.confirm(self.indicated);
        }
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
            match (self.regime, self.config.escalation) {
                (Regime::Calm, Escalation::ThroughPreStorm) => Regime::PreStorm,
                _ => Regime::Storm,
            }
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

/// The largest raw entropy a window can read, `ln 64` nats: the bound every
/// restored entropy value is checked against.
const ENTROPY_MAX: Q = q::from_raw(LN_Q16[ENTROPY_WINDOW_MAX]);

/// Persistent state for node snapshots (docs/persistence.md): the error
/// window's bins, the 3-point ring, the derivative's baseline and the last
/// reading, `16 + 12 + 2·window_len` bytes. `S = Σ c ln c` is not stored:
/// it is recomputed from the bins, so it cannot disagree with them.
impl EntropySignal {
    /// Appends the cursors, baseline, reading, raw ring and bins.
    pub(crate) fn encode_state(&self, w: &mut Writer<'_>) {
        for cursor in [self.next, self.len, self.raw_next, self.raw_len] {
            w.u8(cursor);
        }
        w.q(self.baseline);
        w.q(self.reading.raw);
        w.q(self.reading.smoothed);
        w.q(self.reading.derivative);
        for raw in self.raw_ring {
            w.q(raw);
        }
        for bin in &self.bin_ring[..usize::from(self.window_len)] {
            w.i16(*bin);
        }
    }

    /// Reads what [`EntropySignal::encode_state`] wrote, checking the ring
    /// cursors against each other and this signal's window, every entropy
    /// value within `[0, ln 64]` (the derivative within `±ln 64`) and unused
    /// slots zero. On error `self` may be partly overwritten.
    pub(crate) fn decode_state(&mut self, r: &mut Reader<'_>) -> Result<(), Invalid> {
        let window_len = self.window_len;
        let next = r.u8()?;
        let len = r.u8_at_most(window_len)?;
        let raw_next = r.u8()?;
        let raw_len = r.u8_at_most(SMOOTHING_LEN as u8)?;
        let filling = len < window_len;
        let raw_filling = usize::from(raw_len) < SMOOTHING_LEN;
        // Both rings gain one entry per update: their fill levels agree.
        let consistent = next < window_len
            && (!filling || next == len)
            && usize::from(raw_next) < SMOOTHING_LEN
            && (!raw_filling || raw_next == raw_len)
            && (!filling || raw_len == len.min(SMOOTHING_LEN as u8))
            && (!raw_filling || len == raw_len.min(window_len));
        if !consistent {
            return Err(Invalid);
        }
        let nats = |r: &mut Reader<'_>| r.q_in(q::ZERO, ENTROPY_MAX);
        self.baseline = nats(r)?;
        self.reading = EntropyReading {
            raw: nats(r)?,
            smoothed: nats(r)?,
            derivative: r.q_in(-ENTROPY_MAX, ENTROPY_MAX)?,
        };
        for (slot, raw) in self.raw_ring.iter_mut().enumerate() {
            *raw = nats(r)?;
            if slot >= usize::from(raw_len) && *raw != q::ZERO {
                return Err(Invalid);
            }
        }
        for (slot, bin) in self.bin_ring[..usize::from(window_len)]
            .iter_mut()
            .enumerate()
        {
            *bin = r.i16()?;
            if slot >= usize::from(len) && *bin != 0 {
                return Err(Invalid);
            }
        }
        (self.next, self.len, self.raw_next, self.raw_len) = (next, len, raw_next, raw_len);
        self.c_ln_c_sum = c_ln_c_sum_of(&self.bin_ring[..usize::from(len)]);
        Ok(())
    }
}

/// `S = Σ c ln c` over the bin counts of `window` from scratch, `O(n²)`
/// (n ≤ 64): each bin counted at its first occurrence.
fn c_ln_c_sum_of(window: &[i16]) -> i32 {
    assert!(window.len() <= ENTROPY_WINDOW_MAX);
    let mut sum = 0;
    for (position, index) in window.iter().enumerate() {
        if window[..position].contains(index) {
            continue;
        }
        let count = window.iter().filter(|other| *other == index).count();
        sum += C_LN_C_Q16[count];
    }
    sum
}

/// Persistent state for node snapshots: regime, pending confirmation,
/// last indication and warm-up left, 6 bytes. The counters describe this
/// boot and are not persisted.
impl RegimeDetector {
    /// Appends regime, candidate, indicated, streak and warm-up left.
    pub(crate) fn encode_state(&self, w: &mut Writer<'_>) {
        w.u8(self.regime as u8);
        w.u8(self.candidate as u8);
        w.u8(self.indicated as u8);
        w.u8(self.streak);
        w.u16(self.warmup_left);
    }

    /// Reads what [`RegimeDetector::encode_state`] wrote, checking the
    /// hysteresis invariants `update` relies on: Calm with no streak while
    /// warming up, warm-up left at most the configured one, and a pending
    /// candidate's streak in `1..needed`. On error `self` may be partly
    /// overwritten.
    pub(crate) fn decode_state(&mut self, r: &mut Reader<'_>) -> Result<(), Invalid> {
        let regime = |r: &mut Reader<'_>| regime_from_code(r.u8()?).ok_or(Invalid);
        let current = regime(r)?;
        let candidate = regime(r)?;
        let indicated = regime(r)?;
        let streak = r.u8()?;
        let warmup_left = r.u16()?;
        let streak_ok = if candidate == current {
            streak == 0
        } else {
            streak >= 1 && streak < self.config.confirmations.between(current, candidate)
        };
        let warmup_ok = warmup_left <= self.config.warmup_samples
            && (warmup_left == 0 || (current == Regime::Calm && candidate == Regime::Calm));
        if !streak_ok || !warmup_ok {
            return Err(Invalid);
        }
        self.regime = current;
        self.candidate = candidate;
        self.indicated = indicated;
        self.streak = streak;
        self.warmup_left = warmup_left;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
