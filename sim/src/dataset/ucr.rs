//! `kind = "ucr"`: recorded series from the UCR Time Series Classification
//! Archive (Dau et al. 2019), e.g. ECG5000 or Wafer.
//!
//! File format (UCR 2018 `.tsv`): one series per line, tab-separated, the
//! class label first, then the samples. Blank lines, `\r\n` line ends and
//! whitespace around fields are tolerated; every series must have the same
//! length; values must be finite. Values are converted once, at load time,
//! to Q16.16 (`Q::saturating_from_num`: the decimal parse is correctly
//! rounded and the conversion rounds to nearest, so this is deterministic).
//!
//! Assignment: node `i` plays the series `(i · stride + j) mod count` for
//! `j = 0 … series_per_node − 1`, concatenated into one stream of
//! `series_per_node · length` samples that repeats from its start.

use std::fmt;
use std::path::{Path, PathBuf};

use node_core::q::Q;
use serde::{Deserialize, Serialize};

use super::storm::{MAX_NOISE_STD, StormConfig};
use crate::validate::{Validate, Validator};

/// Where to get the files, shown when one is missing.
pub const WHERE_TO_GET: &str = "copy it from the UCR Time Series Classification Archive \
(https://www.cs.ucr.edu/~eamonn/time_series_data_2018/) into the data directory; \
datasets/README.md lists the expected file names and sha256 sums";

/// Largest `series_per_node` accepted.
pub const MAX_SERIES_PER_NODE: u32 = 1_000_000;

/// `[dataset]` keys of `kind = "ucr"`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UcrConfig {
    /// File name under `data_dir`, e.g. `ECG5000/ECG5000_TRAIN.tsv`.
    /// Default empty: must be set.
    pub path: String,
    /// Data directory, relative to the base directory the simulator is
    /// given (an absolute path is used as is). Default `datasets`.
    pub data_dir: String,
    /// Series concatenated into each node's stream. Default 1.
    pub series_per_node: u32,
    /// Node `i` starts at series `i · stride` (mod count). Default 1.
    pub stride: u32,
    /// Standard deviation of additive noise on top of the recording
    /// (value units). Default 0 (the recording as is).
    pub noise_std: f64,
    /// Noise storms. Default: none.
    pub storms: Vec<StormConfig>,
    /// Held-out file under `data_dir` (e.g. `ECG5000/ECG5000_TEST.tsv`),
    /// assigned to nodes by the same rule as `path`; no node trains on it.
    /// Default unset: no held-out data.
    pub heldout_path: Option<String>,
}

impl Default for UcrConfig {
    fn default() -> Self {
        UcrConfig {
            path: String::new(),
            data_dir: "datasets".to_string(),
            series_per_node: 1,
            stride: 1,
            noise_std: 0.0,
            storms: Vec::new(),
            heldout_path: None,
        }
    }
}

impl Validate for UcrConfig {
    fn validate(&self, v: &mut Validator) {
        v.require(
            !self.path.trim().is_empty(),
            "path",
            "a UCR .tsv file under data_dir, e.g. \"ECG5000/ECG5000_TRAIN.tsv\"",
            "\"\"",
        );
        v.require(
            !self.data_dir.trim().is_empty(),
            "data_dir",
            "a directory, e.g. \"datasets\"",
            "\"\"",
        );
        v.range(
            "series_per_node",
            self.series_per_node,
            1,
            MAX_SERIES_PER_NODE,
        );
        v.range("noise_std", self.noise_std, 0.0, MAX_NOISE_STD);
        if let Some(heldout) = &self.heldout_path {
            v.require(
                !heldout.trim().is_empty(),
                "heldout_path",
                "a UCR .tsv file under data_dir, e.g. \"ECG5000/ECG5000_TEST.tsv\"",
                "\"\"",
            );
            v.require(
                heldout.trim() != self.path.trim(),
                "heldout_path",
                "a file other than `path` (the nodes train on `path`)",
                format_args!("{heldout:?}"),
            );
        }
    }
}

impl UcrConfig {
    /// The file this config reads: `base/data_dir/path`.
    pub fn file(&self, base: &Path) -> PathBuf {
        base.join(&self.data_dir).join(&self.path)
    }

    /// The held-out file, `base/data_dir/heldout_path`, if set.
    pub fn heldout_file(&self, base: &Path) -> Option<PathBuf> {
        let name = self.heldout_path.as_ref()?;
        Some(base.join(&self.data_dir).join(name))
    }
}

/// Why a UCR file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UcrError {
    /// The file does not exist.
    Missing {
        /// The path tried.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    Io {
        /// The path tried.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A field is not what the format requires.
    Parse {
        /// File name (or a label for in-memory text).
        source: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (characters) of the field.
        column: usize,
        /// What the field must be.
        expected: &'static str,
        /// The field as written.
        found: String,
    },
    /// A line has a different number of samples than the first series.
    Ragged {
        /// File name.
        source: String,
        /// 1-based line.
        line: usize,
        /// Samples per series, from the first series.
        expected: usize,
        /// Samples on this line.
        found: usize,
    },
    /// The file holds no series.
    Empty {
        /// File name.
        source: String,
    },
}

impl fmt::Display for UcrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UcrError::Missing { path } => write!(
                f,
                "{}: dataset file not found; {WHERE_TO_GET}",
                path.display()
            ),
            UcrError::Io { path, message } => {
                write!(f, "{}: cannot read: {message}", path.display())
            }
            UcrError::Parse {
                source,
                line,
                column,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{source}:{line}:{column}: expected {expected}, found `{found}`"
                )
            }
            UcrError::Ragged {
                source,
                line,
                expected,
                found,
            } => write!(
                f,
                "{source}:{line}: expected {expected} samples (as in the first series), found {found}"
            ),
            UcrError::Empty { source } => {
                write!(f, "{source}: no series (expected one series per line)")
            }
        }
    }
}

impl std::error::Error for UcrError {}

/// A loaded UCR file: equal-length series as Q16.16, with their labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UcrTable {
    labels: Vec<i32>,
    values: Vec<Q>,
    length: usize,
}

impl UcrTable {
    /// Reads and parses the UCR file at `path`.
    pub fn load(path: &Path) -> Result<UcrTable, UcrError> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => UcrError::Missing {
                path: path.to_path_buf(),
            },
            _ => UcrError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        })?;
        UcrTable::parse(&text, &path.display().to_string())
    }

    /// Parses UCR TSV text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<UcrTable, UcrError> {
        let mut table = UcrTable {
            labels: Vec::new(),
            values: Vec::new(),
            length: 0,
        };
        for (number, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                table.push_line(line, number + 1, source)?;
            }
        }
        if table.labels.is_empty() {
            return Err(UcrError::Empty {
                source: source.to_string(),
            });
        }
        Ok(table)
    }

    /// Parses one non-blank line into a label and a series.
    fn push_line(&mut self, line: &str, number: usize, source: &str) -> Result<(), UcrError> {
        let before = self.values.len();
        let mut offset = 0;
        for (field_no, field) in line.trim_end().split('\t').enumerate() {
            let at = Field {
                text: field,
                line,
                offset,
                number,
                source,
            };
            if field_no == 0 {
                self.labels.push(at.label()?);
            } else {
                self.values.push(Q::saturating_from_num(at.number()?));
            }
            offset += field.len() + 1;
        }
        let found = self.values.len() - before;
        if self.labels.len() == 1 {
            self.length = found;
        }
        if found != self.length || found == 0 {
            return Err(UcrError::Ragged {
                source: source.to_string(),
                line: number,
                expected: self.length.max(1),
                found,
            });
        }
        Ok(())
    }

    /// Number of series.
    pub fn count(&self) -> usize {
        self.labels.len()
    }

    /// Samples per series.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Series `i` (panics if `i ≥ count`).
    pub fn series(&self, i: usize) -> &[Q] {
        &self.values[i * self.length..(i + 1) * self.length]
    }

    /// Class label of series `i` (panics if `i ≥ count`).
    pub fn label(&self, i: usize) -> i32 {
        self.labels[i]
    }
}

/// One field of a line, for parsing with a precise error position.
struct Field<'a> {
    text: &'a str,
    line: &'a str,
    offset: usize,
    number: usize,
    source: &'a str,
}

impl Field<'_> {
    fn error(&self, expected: &'static str) -> UcrError {
        UcrError::Parse {
            source: self.source.to_string(),
            line: self.number,
            column: self.line[..self.offset].chars().count() + 1,
            expected,
            found: self.text.chars().take(40).collect(),
        }
    }

    fn number(&self) -> Result<f64, UcrError> {
        match self.text.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(self.error("a finite decimal number (sample value)")),
        }
    }

    fn label(&self) -> Result<i32, UcrError> {
        let expected = "an integer class label (e.g. 1 or -1)";
        let x = self
            .text
            .trim()
            .parse::<f64>()
            .map_err(|_| self.error(expected))?;
        let integral = x.is_finite() && x.fract() == 0.0 && x.abs() <= f64::from(i32::MAX);
        if integral {
            Ok(x as i32)
        } else {
            Err(self.error(expected))
        }
    }
}

/// A node → series mapping over a shared table (no per-node state).
#[derive(Clone, Debug)]
pub struct UcrStreams {
    table: std::sync::Arc<UcrTable>,
    series_per_node: u64,
    stride: u64,
}

impl UcrStreams {
    /// Streams over `table` as `config` assigns them.
    pub fn new(table: std::sync::Arc<UcrTable>, config: &UcrConfig) -> UcrStreams {
        UcrStreams {
            table,
            series_per_node: u64::from(config.series_per_node.max(1)),
            stride: u64::from(config.stride),
        }
    }

    /// Which series and which sample of it node `node` plays at `index`.
    pub fn locate(&self, node: u32, index: u64) -> (usize, usize) {
        let length = self.table.length() as u64;
        let within = index % (self.series_per_node * length);
        let j = within / length;
        let count = self.table.count() as u64;
        let series = (u64::from(node) * self.stride % count + j) % count;
        (series as usize, (within % length) as usize)
    }

    /// The recorded value node `node` plays at `index`.
    pub fn value(&self, node: u32, index: u64) -> Q {
        let (series, t) = self.locate(node, index);
        self.table.series(series)[t]
    }

    /// The shared table.
    pub fn table(&self) -> &UcrTable {
        &self.table
    }
}
