//! One scenario run, from file to result files: load → build → simulate →
//! write `rounds.csv`, `summary.json` and `timing.json`.
//!
//! The run directory is created only once the scenario has been loaded and
//! the world built, so bad input never leaves a directory behind; each file
//! is written atomically (see `output`). `summary.json` holds only results
//! that are a function of (scenario, seed), so it is byte-identical across
//! runs; wall time and event rates go to `timing.json`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant as WallClock;

use serde::Serialize;

use crate::metrics::{self, Convergence, RoundRow};
use crate::output;
use crate::scenario::{Scenario, ScenarioError};
use crate::world::{NodeInit, Progress, World, WorldError};
use node_core::node::Node;
use node_core::runtime::Runtime;
use node_core::time::Duration;

/// How to run a scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's `seed`.
    pub seed: Option<u64>,
    /// Output directory; default `<results_root>/<name>/seed-<seed>/`.
    pub out: Option<PathBuf>,
    /// Root of the default output layout (`results`).
    pub results_root: PathBuf,
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Directory holding the result files.
    pub dir: PathBuf,
    /// The seed used.
    pub seed: u64,
    /// The final metrics row.
    pub last: RoundRow,
    /// Wall-clock seconds of the simulation proper.
    pub wall_s: f64,
    /// Events dispatched.
    pub events: u64,
}

/// Why a run failed; [`RunError::exit_code`] maps it to the CLI's codes.
#[derive(Debug)]
pub enum RunError {
    /// The scenario file is missing or wrong (exit 2).
    Scenario(ScenarioError),
    /// The scenario could not be turned into a world, or hit its event
    /// budget (exit 2).
    World(PathBuf, WorldError),
    /// Writing results failed (exit 1).
    Io(PathBuf, std::io::Error),
}

impl RunError {
    /// 2 for bad input, 1 for an internal failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Scenario(_) => 2,
            RunError::World(_, WorldError::Runtime(_)) => 1,
            RunError::World(..) => 2,
            RunError::Io(..) => 1,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Scenario(e) => write!(f, "{e}"),
            RunError::World(path, e) => write!(f, "{}: {e}", path.display()),
            RunError::Io(path, e) => write!(f, "{}: cannot write results: {e}", path.display()),
        }
    }
}

impl std::error::Error for RunError {}

/// The deterministic summary of a run (`summary.json`).
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// FNV-1a 64 of the scenario file's bytes, hex.
    pub scenario_hash: String,
    /// The seed used.
    pub seed: u64,
    /// Where the seed came from: `scenario` or `--seed`.
    pub seed_source: &'static str,
    /// Version of the `sim` crate that produced the run.
    pub raas_version: &'static str,
    /// The node runtime simulated.
    pub runtime: &'static str,
    /// Swarm size.
    pub nodes: u32,
    /// Rounds simulated.
    pub rounds: u32,
    /// Events dispatched.
    pub events: u64,
    /// The first round's metrics.
    pub first_round: &'a RoundRow,
    /// The last round's metrics.
    pub final_round: &'a RoundRow,
    /// When the run converged (see `docs/metrics.md`).
    pub convergence: Convergence,
    /// Model-update bytes sent per node per round, averaged over the run.
    pub model_bytes_per_node_round: f64,
}

#[derive(Serialize)]
struct Timing<'a> {
    scenario: &'a str,
    seed: u64,
    wall_s: f64,
    events: u64,
    events_per_s: f64,
    note: &'static str,
}

/// The name `summary.json` gives the default runtime.
pub const NODE_RUNTIME: &str = "node-core Node";

/// Builds node-core's [`Node`] for one node of `scenario` (the default
/// runtime of `raas run`).
pub fn node_core_runtime(scenario: &Scenario, init: &NodeInit) -> Result<Node, String> {
    let round_period = Duration::from_micros(scenario.run.round_period_us());
    Node::new(scenario.node.to_core(init, round_period)).map_err(|e| e.to_string())
}

/// Loads, runs and writes one scenario with node-core's [`Node`];
/// `progress` is called every round.
pub fn run_file(
    path: &Path,
    options: &RunOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    run_file_with(path, options, NODE_RUNTIME, node_core_runtime, progress)
}

/// Loads, runs and writes one scenario with any node runtime: `make`
/// builds the runtime of each node from the scenario and the node's
/// [`NodeInit`], and `runtime` names it in `summary.json`. The radio,
/// energy, data, metrics and outputs are the same as for `raas run`; the
/// scenario's `[node]` section is whatever `make` makes of it.
pub fn run_file_with<R: Runtime>(
    path: &Path,
    options: &RunOptions,
    runtime: &'static str,
    make: impl Fn(&Scenario, &NodeInit) -> Result<R, String>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    // Read once: the same bytes are parsed and hashed into the summary.
    let text = std::fs::read_to_string(path).map_err(|source| {
        RunError::Scenario(ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })
    })?;
    let scenario = Scenario::parse(path, &text).map_err(RunError::Scenario)?;
    let seed = options.seed.unwrap_or(scenario.seed);
    let world_error = |e| RunError::World(path.to_path_buf(), e);
    let mut world =
        World::new(&scenario, seed, |init| make(&scenario, init)).map_err(world_error)?;
    let started = WallClock::now();
    world.run(progress).map_err(world_error)?;
    let wall_s = started.elapsed().as_secs_f64();
    let dir = options
        .out
        .clone()
        .unwrap_or_else(|| output::run_dir(&options.results_root, &scenario.name, seed));
    let summary = Summary {
        scenario: &scenario.name,
        scenario_hash: format!("fnv1a64:{:016x}", fnv1a64(text.as_bytes())),
        seed,
        seed_source: if options.seed.is_some() {
            "--seed"
        } else {
            "scenario"
        },
        raas_version: env!("CARGO_PKG_VERSION"),
        runtime,
        nodes: scenario.nodes,
        rounds: scenario.run.rounds,
        events: world.events(),
        first_round: world.rows().first().expect("at least one round"),
        final_round: world.rows().last().expect("at least one round"),
        convergence: metrics::convergence(
            world.rows(),
            scenario.run.convergence_epsilon,
            scenario.run.convergence_rmse_tolerance,
        ),
        model_bytes_per_node_round: world.rows().last().map_or(0.0, |r| {
            r.tx_bytes_model_update as f64 / f64::from(scenario.nodes) / f64::from(r.round)
        }),
    };
    write_results(&dir, world.rows(), &summary, wall_s)?;
    Ok(RunOutcome {
        dir,
        seed,
        last: world.rows().last().cloned().unwrap_or_default(),
        wall_s,
        events: world.events(),
    })
}

fn write_results(
    dir: &Path,
    rows: &[RoundRow],
    summary: &Summary<'_>,
    wall_s: f64,
) -> Result<(), RunError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| RunError::Io(p, e)
    };
    if dir.exists() && !dir.is_dir() {
        let e =
            std::io::Error::other("exists and is not a directory (--out must name a directory)");
        return Err(RunError::Io(dir.to_path_buf(), e));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    output::remove_stale_temporaries(dir).map_err(io(dir))?;
    let csv_path = dir.join("rounds.csv");
    output::write_atomically(&csv_path, |w| write_csv(w, rows)).map_err(io(&csv_path))?;
    let json = serde_json::to_vec_pretty(summary).expect("summary serializes");
    let summary_path = dir.join("summary.json");
    output::write_bytes_atomically(&summary_path, &json).map_err(io(&summary_path))?;
    let timing = Timing {
        scenario: summary.scenario,
        seed: summary.seed,
        wall_s,
        events: summary.events,
        events_per_s: summary.events as f64 / wall_s.max(1e-9),
        note: "wall-clock measurements: machine-dependent, not part of the results",
    };
    let timing_path = dir.join("timing.json");
    let json = serde_json::to_vec_pretty(&timing).expect("timing serializes");
    output::write_bytes_atomically(&timing_path, &json).map_err(io(&timing_path))
}

fn write_csv(w: &mut dyn std::io::Write, rows: &[RoundRow]) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(w);
    for row in rows {
        writer.serialize(row).map_err(std::io::Error::other)?;
    }
    writer.flush()
}

/// FNV-1a 64-bit hash (identifies scenario files; not cryptographic): the
/// same hasher as node-core's determinism digest.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hasher = node_core::digest::Fnv64::new();
    hasher.write_bytes(bytes);
    hasher.finish()
}
