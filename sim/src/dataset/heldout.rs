//! Held-out data: per node, samples that no node ever trains on, behind
//! `rmse_heldout` and the held-out references (`crate::baseline`).
//!
//! Value `k` of node `i`'s held-out series is a pure function of
//! (config, seed, i, k), computed in integer arithmetic like the training
//! samples, so it is regenerated whenever it is needed instead of stored:
//!
//! - `smooth_sine`: node `i`'s own clean sine at sample index
//!   [`SINE_START_INDEX`]` + k`, a fixed start far beyond any run, so the
//!   held-out series does not depend on the run's length. A sine's phase
//!   depends only on the index modulo 2^32, so the start's low 32 bits set
//!   the held-out phase apart from the run's first samples; the shape of a
//!   sine is the same everywhere, so what is held out is the noise.
//! - `ucr`: the series of the held-out file (`heldout_path`) that the
//!   training assignment rule gives node `i` (series `(i · stride + j) mod
//!   count`, `j < series_per_node`), from its first sample.
//!
//! plus the dataset's base noise (`noise_std`; storms never apply) from a
//! stream of its own: the node's `DataNoise` ChaCha key with stream id
//! [`NOISE_NONCE`] instead of 0, read from word 0. Held-out noise therefore
//! never repeats a training draw.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use node_core::q::Q;
use node_core::rng::{Purpose, stream};
use rand_chacha::ChaCha8Rng;

use super::noise::{NoiseScale, next_centred};
use super::ucr::{UcrStreams, UcrTable};
use super::{Dataset, DatasetConfig, DatasetError};
use crate::fixed;

/// First sample index of a `smooth_sine` held-out series: 2^40 +
/// `0x9E37_79B9`. It is fixed, so the held-out series does not depend on
/// the run's length, and beyond the sample indices of the runs one
/// simulates. A sine's phase depends on the index modulo 2^32 only, so
/// what sets the held-out values apart from the training samples is the
/// phase offset of `0x9E37_79B9` samples (2^32 / golden ratio) and the
/// noise.
pub const SINE_START_INDEX: u64 = (1 << 40) + 0x9E37_79B9;

/// ChaCha stream id of held-out noise on a node's `DataNoise` key: the
/// bytes `"heldout\0"` little-endian (training noise uses stream id 0).
pub const NOISE_NONCE: u64 = u64::from_le_bytes(*b"heldout\0");

/// Why a run has no held-out data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoHeldOut {
    /// `run.heldout_samples = 0`.
    Disabled,
    /// `kind = "ucr"` without `heldout_path`.
    NoHeldOutFile,
}

impl fmt::Display for NoHeldOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoHeldOut::Disabled => f.write_str("run.heldout_samples = 0 disables held-out data"),
            NoHeldOut::NoHeldOutFile => f.write_str(
                "dataset.heldout_path is not set: a UCR run has held-out data only from a \
                 file no node trains on (e.g. \"ECG5000/ECG5000_TEST.tsv\")",
            ),
        }
    }
}

#[derive(Clone, Debug)]
enum Source {
    Sine,
    Ucr(UcrStreams),
}

/// The held-out data of a run (see the module docs).
#[derive(Clone, Debug)]
pub struct HeldOut {
    source: Source,
    noise: NoiseScale,
    seed: u64,
}

impl HeldOut {
    /// The held-out data of `config` for `seed`, loading the UCR held-out
    /// file from `base_dir`; `Ok(Err(_))` says why there is none.
    pub fn new(
        config: &DatasetConfig,
        base_dir: &Path,
        seed: u64,
    ) -> Result<Result<HeldOut, NoHeldOut>, DatasetError> {
        let source = match config {
            DatasetConfig::SmoothSine(_) => Source::Sine,
            DatasetConfig::Ucr(c) => match c.heldout_file(base_dir) {
                None => return Ok(Err(NoHeldOut::NoHeldOutFile)),
                Some(file) => Source::Ucr(UcrStreams::new(Arc::new(UcrTable::load(&file)?), c)),
            },
        };
        Ok(Ok(HeldOut {
            source,
            noise: NoiseScale::from_std(config.noise_std()),
            seed,
        }))
    }

    /// Values `0 .. out.len()` of node `node`'s held-out series, in data
    /// units. Allocates nothing; `dataset` must be the run's (it holds the
    /// sines). Panics if `node` is out of range.
    pub fn fill(&self, dataset: &Dataset, node: u32, out: &mut [f64]) {
        let mut rng = noise_stream(self.seed, node);
        self.for_each(dataset, node, out.len(), &mut rng, |k, value| {
            out[k] = fixed::to_f64(value);
        });
    }

    /// The same values as [`HeldOut::fill`] in Q16.16 (`fill` is exactly
    /// `fixed::to_f64` of these), for a cache at half the bytes.
    pub fn fill_q(&self, dataset: &Dataset, node: u32, out: &mut [Q]) {
        let mut rng = noise_stream(self.seed, node);
        self.for_each(dataset, node, out.len(), &mut rng, |k, value| {
            out[k] = value;
        });
    }

    /// Calls `visit(k, value)` for values `0..len` in order.
    fn for_each(
        &self,
        dataset: &Dataset,
        node: u32,
        len: usize,
        rng: &mut ChaCha8Rng,
        mut visit: impl FnMut(usize, Q),
    ) {
        let noisy = |clean: Q, rng: &mut ChaCha8Rng| {
            let noise = self.noise.apply(next_centred(rng));
            Q::from_bits(clean.to_bits().saturating_add(noise))
        };
        match &self.source {
            Source::Sine => {
                let sine = dataset.sine_params(node).expect("a smooth_sine dataset");
                for (k, index) in (0..len).zip(SINE_START_INDEX..) {
                    visit(k, noisy(sine.value(index), rng));
                }
            }
            Source::Ucr(streams) => {
                for (k, index) in (0..len).zip(0_u64..) {
                    visit(k, noisy(streams.value(node, index), rng));
                }
            }
        }
    }

    /// One line on where the held-out data comes from, for `summary.json`.
    pub fn describe(&self) -> &'static str {
        match self.source {
            Source::Sine => {
                "each node's own sine from sample index 2^40 + 0x9E3779B9, plus base noise \
                 from a separate stream (no storms)"
            }
            Source::Ucr(_) => {
                "series of dataset.heldout_path by the training assignment rule, plus base \
                 noise from a separate stream (no storms)"
            }
        }
    }
}

/// Node `node`'s held-out noise stream, at word 0.
fn noise_stream(seed: u64, node: u32) -> ChaCha8Rng {
    let mut rng = stream(seed, node, Purpose::DataNoise);
    rng.set_stream(NOISE_NONCE);
    rng.set_word_pos(0);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Setup;
    use crate::dataset::smooth_sine::SmoothSineConfig;
    use crate::dataset::storm::StormConfig;
    use crate::dataset::ucr::UcrConfig;

    fn setup(base_dir: &Path) -> Setup<'_> {
        Setup {
            nodes: 4,
            seed: 9,
            sample_period_us: 1_000_000,
            positions: &[],
            base_dir,
        }
    }

    fn sine(noise_std: f64, storms: Vec<StormConfig>) -> (Dataset, HeldOut) {
        let config = DatasetConfig::SmoothSine(SmoothSineConfig {
            noise_std,
            storms,
            ..SmoothSineConfig::default()
        });
        let dataset = Dataset::new(&config, &setup(Path::new("."))).unwrap();
        let heldout = HeldOut::new(&config, Path::new("."), 9).unwrap().unwrap();
        (dataset, heldout)
    }

    fn series(d: &Dataset, h: &HeldOut, node: u32, len: usize) -> Vec<f64> {
        let mut out = vec![0.0; len];
        h.fill(d, node, &mut out);
        out
    }

    #[test]
    fn sine_heldout_is_the_far_signal_plus_fresh_base_noise() {
        let storm = StormConfig {
            end_s: 1e9,
            node_range: Some([0, 4]),
            noise_std: 5.0,
            ..StormConfig::default()
        };
        let (d, h) = sine(0.1, vec![storm]);
        let values = series(&d, &h, 2, 4_000);
        // A prefix is the same whatever the length asked for.
        assert_eq!(series(&d, &h, 2, 10), values[..10]);
        let residuals: Vec<f64> = (0..)
            .zip(&values)
            .map(|(k, v)| v - fixed::to_f64(d.clean(2, SINE_START_INDEX + k)))
            .collect();
        let std = (residuals.iter().map(|r| r * r).sum::<f64>() / 4_000.0).sqrt();
        // Base noise (0.1), not the storm's (5.0).
        assert!((std - 0.1).abs() < 0.01, "{std}");
        // Not the training noise of the same indices, nor another node's.
        let training: Vec<f64> = (0..10)
            .map(|k| d.sample(2, SINE_START_INDEX + k))
            .map(|s| fixed::to_f64(s.observed))
            .collect();
        assert_ne!(values[..10], training[..]);
        assert_ne!(series(&d, &h, 3, 10), values[..10]);
    }

    #[test]
    fn noiseless_sine_heldout_is_the_clean_signal() {
        let (d, h) = sine(0.0, Vec::new());
        let values = series(&d, &h, 1, 5);
        for (k, v) in (0..).zip(values) {
            assert_eq!(v, fixed::to_f64(d.clean(1, SINE_START_INDEX + k)));
        }
    }

    #[test]
    fn ucr_heldout_plays_the_heldout_file_by_the_training_rule() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train.tsv"), "0\t1\t2\n1\t3\t4\n").unwrap();
        std::fs::write(
            dir.path().join("test.tsv"),
            "0\t10\t11\n1\t20\t21\n2\t30\t31\n",
        )
        .unwrap();
        let mut ucr = UcrConfig {
            path: "train.tsv".into(),
            data_dir: ".".into(),
            stride: 2,
            ..UcrConfig::default()
        };
        let config = DatasetConfig::Ucr(ucr.clone());
        let base = dir.path();
        assert_eq!(
            HeldOut::new(&config, base, 9).unwrap().unwrap_err(),
            NoHeldOut::NoHeldOutFile
        );
        ucr.heldout_path = Some("test.tsv".into());
        let config = DatasetConfig::Ucr(ucr);
        let d = Dataset::new(&config, &setup(base)).unwrap();
        let h = HeldOut::new(&config, base, 9).unwrap().unwrap();
        // Node 1 → series 2 (1 · 2 mod 3), repeating.
        assert_eq!(series(&d, &h, 1, 4), [30.0, 31.0, 30.0, 31.0]);
        assert_eq!(series(&d, &h, 0, 2), [10.0, 11.0]);
        ucr_missing_heldout_file_is_an_error(base);
    }

    fn ucr_missing_heldout_file_is_an_error(base: &Path) {
        let config = DatasetConfig::Ucr(UcrConfig {
            path: "train.tsv".into(),
            data_dir: ".".into(),
            heldout_path: Some("nope.tsv".into()),
            ..UcrConfig::default()
        });
        let e = HeldOut::new(&config, base, 9).unwrap_err();
        assert!(e.to_string().contains("nope.tsv"), "{e}");
    }
}
