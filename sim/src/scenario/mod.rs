//! The TOML scenario: schema, defaults, validation with located errors.
//!
//! A scenario file describes one experiment: the swarm size, how long it
//! runs, the radio, energy and data models, and the node parameters. Every
//! key, its unit, default and range is documented in `docs/scenarios.md`.
//! Unknown keys are errors (`deny_unknown_fields`), so a typo never silently
//! falls back to a default.
//!
//! Loading is three steps, each with errors located at file, line, column
//! and key: read the file; parse and deserialize it (syntax, types, unknown
//! and missing keys); validate ranges and consistency (every violated rule
//! is reported, not only the first).

mod error;
pub mod locate;
pub mod overrides;
pub mod preset;

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::de::DeTable;

pub use error::{Located, Problem, ScenarioError};
pub use overrides::Override;

use crate::adversary::AdversaryConfig;
use crate::baseline::isolated::Baseline;
use crate::consensus::ConsensusConfig;
use crate::dataset::DatasetConfig;
use crate::energy::EnergyConfig;
use crate::faults::FaultsConfig;
use crate::metrics::window::FINAL_WINDOW_ROUNDS;
use crate::node_config::NodeConfig;
use crate::radio::RadioConfig;
use crate::reproduce::claim::ClaimConfig;
use crate::validate::{Validate, Validator, Violation};

/// Largest swarm a scenario may declare.
pub const NODES_MAX: u32 = 10_000_000;

/// Largest `run.heldout_samples`.
pub const HELDOUT_SAMPLES_MAX: u32 = 65_536;

/// One experiment, as written in a scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short identifier; names the results directory. Letters, digits, `-`,
    /// `_` and `.` only.
    pub name: String,
    /// Free text shown by `raas list`.
    #[serde(default)]
    pub description: String,
    /// Master seed of every random stream (overridden by `--seed`).
    #[serde(default)]
    pub seed: u64,
    /// Number of nodes.
    pub nodes: u32,
    /// Duration and timing.
    #[serde(default)]
    pub run: RunConfig,
    /// Radio model.
    #[serde(default)]
    pub radio: RadioConfig,
    /// Energy model.
    #[serde(default)]
    pub energy: EnergyConfig,
    /// Sensor data.
    #[serde(default)]
    pub dataset: DatasetConfig,
    /// Node runtime parameters.
    #[serde(default)]
    pub node: NodeConfig,
    /// The paper's synthetic consensus task in place of learning from the
    /// dataset (`crate::consensus`). Absent elsewhere.
    #[serde(default)]
    pub consensus: Option<ConsensusConfig>,
    /// What a paper scenario claims (`scenarios/paper/`; see
    /// `crate::reproduce`). Absent elsewhere.
    #[serde(default)]
    pub claim: Option<ClaimConfig>,
    /// Faults injected into the run (`crate::faults`). Absent: none.
    #[serde(default)]
    pub faults: Option<FaultsConfig>,
    /// Byzantine nodes (`crate::adversary`, docs/adversary.md). Absent:
    /// every node is honest.
    #[serde(default)]
    pub adversary: Option<AdversaryConfig>,
}

/// `[run]`: how long the simulation runs and how time is sliced.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Gossip rounds to simulate; one CSV row per round.
    pub rounds: u32,
    /// Length of a gossip round, ms.
    pub round_period_ms: u64,
    /// Interval between two sensor samples of a node, ms.
    pub sample_period_ms: u64,
    /// Upper bound on dispatched events; reaching it is an error.
    pub max_events: u64,
    /// Consensus-distance bound of the convergence rule (`summary.json`).
    pub convergence_epsilon: f64,
    /// Relative half-width of the convergence rule's band around the
    /// central least-squares optimum.
    pub convergence_rmse_tolerance: f64,
    /// Held-out predictions scored per node and round (`rmse_heldout`);
    /// 0 disables held-out data.
    pub heldout_samples: u32,
    /// Held-out data is scored at rounds that are multiples of this.
    pub heldout_every: u32,
    /// Baseline runs made beside this one.
    pub baselines: Vec<Baseline>,
    /// Node ids run as a bare-metal riscv32imac program under QEMU instead
    /// of in this process (`crate::emulated`).
    pub emulated_nodes: Vec<u32>,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            rounds: 100,
            round_period_ms: 10_000,
            sample_period_ms: 1_000,
            max_events: 10_000_000_000,
            convergence_epsilon: 0.02,
            convergence_rmse_tolerance: 0.05,
            heldout_samples: 256,
            heldout_every: 1,
            baselines: Vec::new(),
            emulated_nodes: Vec::new(),
        }
    }
}

impl RunConfig {
    /// Round length in µs.
    pub fn round_period_us(&self) -> u64 {
        self.round_period_ms * 1_000
    }

    /// Sample interval in µs.
    pub fn sample_period_us(&self) -> u64 {
        self.sample_period_ms * 1_000
    }

    /// Simulated duration in µs.
    pub fn duration_us(&self) -> u64 {
        u64::from(self.rounds) * self.round_period_us()
    }

    /// Samples offered to each node: indices `k` with
    /// `k · sample_period < duration`.
    pub fn samples_per_node(&self) -> u64 {
        self.duration_us().div_ceil(self.sample_period_us().max(1))
    }
}

impl Validate for RunConfig {
    fn validate(&self, v: &mut Validator) {
        v.range("rounds", self.rounds, 1, 1_000_000);
        v.range("sample_period_ms", self.sample_period_ms, 1, 86_400_000);
        v.range("round_period_ms", self.round_period_ms, 1, 86_400_000);
        v.require_between(
            self.round_period_ms >= self.sample_period_ms,
            "run.round_period_ms",
            "run.sample_period_ms",
            format_args!(
                "at least `run.sample_period_ms` ({})",
                self.sample_period_ms
            ),
            self.round_period_ms,
        );
        v.range("max_events", self.max_events, 1, u64::MAX);
        v.positive("convergence_epsilon", self.convergence_epsilon);
        v.non_negative(
            "convergence_rmse_tolerance",
            self.convergence_rmse_tolerance,
        );
        v.range(
            "heldout_samples",
            self.heldout_samples,
            0,
            HELDOUT_SAMPLES_MAX,
        );
        v.range(
            "heldout_every",
            self.heldout_every,
            1,
            FINAL_WINDOW_ROUNDS as u32,
        );
        let mut names: Vec<&str> = self.baselines.iter().map(|b| b.name()).collect();
        names.sort_unstable();
        let duplicated = names.windows(2).find(|w| w[0] == w[1]);
        v.require(
            duplicated.is_none(),
            "baselines",
            "each baseline at most once",
            format_args!("{:?} twice", duplicated.map_or("", |w| w[0])),
        );
    }
}

impl Validate for Scenario {
    fn validate(&self, v: &mut Validator) {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 100
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !self.name.starts_with('.');
        v.require(
            name_ok,
            "name",
            "1 to 100 characters of letters, digits, `-`, `_` or `.`, not starting with `.`",
            format_args!("{:?}", self.name),
        );
        v.range("nodes", self.nodes, 1, NODES_MAX);
        v.section("run", |v| self.run.validate(v));
        v.section("radio", |v| self.radio.validate(v));
        v.section("energy", |v| self.energy.validate(v));
        v.section("dataset", |v| self.dataset.validate(v));
        v.section("node", |v| self.node.validate(v));
        if let Some(consensus) = &self.consensus {
            v.section("consensus", |v| consensus.validate(v));
            consensus.validate_against(self, v);
        }
        if let Some(claim) = &self.claim {
            v.section("claim", |v| claim.validate(v));
        }
        if let Some(faults) = &self.faults {
            v.section("faults", |v| faults.validate(v));
            faults.validate_against(self.nodes, self.run.round_period_ms, v);
        }
        if let Some(adversary) = &self.adversary {
            v.section("adversary", |v| adversary.validate(v));
            adversary.validate_against(self, v);
        }
        v.require_between(
            self.node.collect_window_ms < self.run.round_period_ms,
            "node.collect_window_ms",
            "run.round_period_ms",
            format_args!(
                "less than `run.round_period_ms` ({})",
                self.run.round_period_ms
            ),
            self.node.collect_window_ms,
        );
        if self.node.audit.enabled {
            v.require_between(
                self.node.audit.deadline_ms <= self.run.round_period_ms,
                "node.audit.deadline_ms",
                "run.round_period_ms",
                format_args!(
                    "at most `run.round_period_ms` ({}): a node keeps what it \
                     must answer with only until its next broadcast",
                    self.run.round_period_ms
                ),
                self.node.audit.deadline_ms,
            );
        }
        for (i, storm) in self.dataset.storms().iter().enumerate() {
            let ids = storm
                .nodes
                .iter()
                .flatten()
                .copied()
                .chain(storm.node_range.iter().map(|r| r[1].saturating_sub(1)));
            if let Some(max_id) = ids.max() {
                v.require(
                    max_id < self.nodes,
                    &format!("dataset.storms[{i}]"),
                    format_args!("node ids below `nodes` ({})", self.nodes),
                    max_id,
                );
            }
        }
        self.validate_emulated_nodes(v);
        let latency_max_us = self.radio.latency_base_us + self.radio.latency_jitter_us;
        v.require_between(
            self.node.collect_window_ms * 1_000 > latency_max_us,
            "node.collect_window_ms",
            "radio.latency_base_us",
            format_args!("more than the radio's largest latency ({latency_max_us} µs)"),
            self.node.collect_window_ms,
        );
    }
}

/// Most nodes one run may emulate (each is a QEMU process).
pub const EMULATED_NODES_MAX: usize = 8;

impl Scenario {
    /// `[run] emulated_nodes`: ids below `nodes`, each once, at most
    /// [`EMULATED_NODES_MAX`], and not with `[consensus]` (whose host sets
    /// the model from outside, which the link does not carry).
    fn validate_emulated_nodes(&self, v: &mut Validator) {
        let ids = &self.run.emulated_nodes;
        v.require(
            ids.len() <= EMULATED_NODES_MAX,
            "run.emulated_nodes",
            format_args!("at most {EMULATED_NODES_MAX} node ids"),
            ids.len(),
        );
        if let Some(id) = ids.iter().find(|id| **id >= self.nodes) {
            v.require(
                false,
                "run.emulated_nodes",
                format_args!("node ids below `nodes` ({})", self.nodes),
                id,
            );
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
            v.require(
                false,
                "run.emulated_nodes",
                "each node id at most once",
                pair[0],
            );
        }
        v.require(
            ids.is_empty() || self.consensus.is_none(),
            "run.emulated_nodes",
            "no emulated nodes in a `[consensus]` scenario",
            format_args!("{ids:?}"),
        );
    }

    /// Reads, parses and validates the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse(path, &text)
    }

    /// Parses and validates scenario `text`; `path` is used in errors only.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        parse_located_with(path, text, preset::apply)
    }

    /// Like [`Scenario::load`], with `--set` overrides applied.
    pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::parse_with(path, &text, overrides)
    }

    /// Like [`Scenario::parse`], with `--set` overrides applied to the
    /// parsed table (in order) before the preset and the typed parse, so
    /// an override is checked exactly like a key written in the file.
    /// Problems in an override name the `--set` argument; problems in the
    /// file keep their line and column.
    pub fn parse_with(
        path: &Path,
        text: &str,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        if overrides.is_empty() {
            return Scenario::parse(path, text);
        }
        let doc = DeTable::parse(text).map_err(|e| parse_error(path, text, None, &e))?;
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| parse_error(path, text, Some(doc.get_ref()), &e))?;
        for o in overrides {
            o.apply(&mut table)
                .map_err(|message| ScenarioError::Overridden {
                    path: path.to_path_buf(),
                    problems: vec![Problem::Set {
                        arg: o.arg.clone(),
                        key: Some(o.key.clone()),
                        message,
                    }],
                })?;
        }
        let merged = toml::to_string(&table).map_err(|e| ScenarioError::Overridden {
            path: path.to_path_buf(),
            problems: vec![Problem::Set {
                arg: overrides.last().map(|o| o.arg.clone()).unwrap_or_default(),
                key: None,
                message: format!("cannot be written as TOML: {e}"),
            }],
        })?;
        Scenario::parse(path, &merged).map_err(|e| attribute(e, text, doc.get_ref(), overrides))
    }

    /// The scenario as TOML with every key written (defaults filled in, a
    /// preset's keys merged, `preset` itself kept as a record):
    /// [`Scenario::parse`] reads it back to an equal scenario.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

/// Re-attributes the problems found in the merged document of
/// [`Scenario::parse_with`]: a key an override wrote (or lies below) is
/// the override's problem; any other is located again in the file.
fn attribute(
    e: ScenarioError,
    text: &str,
    doc: &DeTable<'_>,
    overrides: &[Override],
) -> ScenarioError {
    let (path, problems) = match e {
        ScenarioError::Parse { path, problem } => (path, vec![problem]),
        ScenarioError::Invalid { path, problems } => (path, problems),
        other => return other,
    };
    let problems = problems
        .into_iter()
        .map(|p| {
            let span = p.key.as_deref().and_then(|k| locate::span_of(doc, k));
            // A key the override wrote, or, for a key the file does not
            // write (a default) in a rule between two keys, the override
            // of the other key the message names.
            let by = p
                .key
                .as_deref()
                .and_then(|k| overrides.iter().rev().find(|o| o.covers(k)))
                .or_else(|| {
                    let names = |o: &&Override| p.message.contains(&format!("`{}`", o.key));
                    span.is_none()
                        .then(|| overrides.iter().rev().find(names))
                        .flatten()
                });
            if let Some(o) = by {
                return Problem::Set {
                    arg: o.arg.clone(),
                    key: p.key,
                    message: p.message,
                };
            }
            let offset = span.map_or(0, |s| s.start);
            let (line, column) = locate::line_column(text, offset);
            Problem::File(Located {
                line,
                column,
                key: p.key,
                message: p.message,
            })
        })
        .collect();
    ScenarioError::Overridden { path, problems }
}

/// Parses and validates any `T` with errors located in `text`.
pub fn parse_located<T>(path: &Path, text: &str) -> Result<T, ScenarioError>
where
    T: for<'de> Deserialize<'de> + Validate,
{
    parse_located_with(path, text, |_| false)
}

/// Like [`parse_located`], but `expand` may rewrite the parsed document
/// (e.g. merge a preset's keys) before it is deserialized again and
/// validated; it returns whether it changed anything. Type errors are
/// located in `text` first, so a rewrite only ever sees a well-typed file.
pub fn parse_located_with<T>(
    path: &Path,
    text: &str,
    expand: fn(&mut toml::Table) -> bool,
) -> Result<T, ScenarioError>
where
    T: for<'de> Deserialize<'de> + Validate,
{
    if is_blank(text) {
        return Err(ScenarioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let doc = DeTable::parse(text).map_err(|e| parse_error(path, text, None, &e))?;
    let mut value: T =
        toml::from_str(text).map_err(|e| parse_error(path, text, Some(doc.get_ref()), &e))?;
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| parse_error(path, text, Some(doc.get_ref()), &e))?;
    if expand(&mut table) {
        value = T::deserialize(toml::Value::Table(table))
            .map_err(|e| parse_error(path, text, Some(doc.get_ref()), &e))?;
    }
    let mut validator = Validator::new();
    value.validate(&mut validator);
    let violations = validator.into_violations();
    if violations.is_empty() {
        return Ok(value);
    }
    let mut problems: Vec<Located> = violations
        .into_iter()
        .map(|v| locate_violation(text, doc.get_ref(), v))
        .collect();
    problems.sort_by_key(|p| (p.line, p.column));
    Err(ScenarioError::Invalid {
        path: path.to_path_buf(),
        problems,
    })
}

/// Whether `span` (from [`locate::span_of`]) is the value of `key` itself
/// rather than of an ancestor.
fn written_at(doc: &DeTable<'_>, key: &str, span: &std::ops::Range<usize>) -> bool {
    locate::path_at(doc, span.start).is_some_and(|p| p == key)
}

fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#'))
}

pub(crate) fn parse_error(
    path: &Path,
    text: &str,
    doc: Option<&DeTable<'_>>,
    e: &toml::de::Error,
) -> ScenarioError {
    let span = e.span();
    let offset = span.as_ref().map_or(0, |s| s.start);
    let (line, column) = locate::line_column(text, offset);
    // A span over the whole document (e.g. a missing top-level key) names
    // no key; the message does.
    // toml reports a missing top-level key with an empty span at 0.
    let whole_text =
        |s: &std::ops::Range<usize>| s.start == 0 && s.end + 1 >= text.trim_end().len();
    let pointed = span
        .as_ref()
        .is_some_and(|s| !s.is_empty() && !whole_text(s));
    let key = if pointed {
        doc.and_then(|d| locate::path_at(d, offset))
    } else {
        None
    };
    let message = e.message().trim().replace('\n', " ");
    ScenarioError::Parse {
        path: path.to_path_buf(),
        problem: Located {
            line,
            column,
            key,
            message,
        },
    }
}

fn locate_violation(text: &str, doc: &DeTable<'_>, v: Violation) -> Located {
    // The key's own value if written; else, for a rule between two keys,
    // the other one; else the nearest written ancestor section.
    let exact = |key: &str| locate::span_of(doc, key).filter(|s| written_at(doc, key, s));
    let span = exact(&v.key)
        .or_else(|| v.related.as_deref().and_then(exact))
        .or_else(|| locate::span_of(doc, &v.key));
    let offset = span.map_or(0, |s| s.start);
    let (line, column) = locate::line_column(text, offset);
    Located {
        line,
        column,
        key: Some(v.key),
        message: format!("expected {}, found {}", v.expected, v.found),
    }
}
