//! One scenario run, from file to result files: load → build → simulate
//! (the main run, its baselines and the references, in parallel) → write
//! `rounds.csv`, `summary.json` and `timing.json`, and each baseline's
//! `rounds.csv` and `summary.json` under `baseline-<name>/`.
//!
//! The run directory is created only once the scenario has been loaded and
//! the worlds built, so bad input never leaves a directory behind; each file
//! is written atomically (see `output`). `summary.json` holds only results
//! that are a function of (scenario, seed, baselines), so it is
//! byte-identical across runs; wall time and event rates go to
//! `timing.json`.
//!
//! Ordering contract: the main run, each baseline and the references each
//! compute on one thread in a fixed order (the references in fixed node
//! blocks), so running them in parallel changes no output bit.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant as WallClock;

use serde::Serialize;

use crate::baseline::comparison::Comparison;
use crate::baseline::isolated::{self, Baseline};
use crate::baseline::reference::{self, References};
use crate::metrics::RoundRow;
use crate::metrics::window::FinalWindow;
use crate::output;
use crate::scenario::{Scenario, ScenarioError};
use crate::summary::{self, Context, HeldOutInfo, Identity, Summary};
use crate::world::{NodeInit, Progress, RunData, World, WorldError};
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
    /// Baselines to run besides the scenario's own `run.baselines`.
    pub baselines: Vec<Baseline>,
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
    /// Means over the last rounds (`summary.json` `final`).
    pub final_window: FinalWindow,
    /// The run beside its references (`summary.json` `comparison`).
    pub comparison: Comparison,
    /// The baselines that ran beside it.
    pub baselines: Vec<Baseline>,
    /// Wall-clock seconds of the simulation proper (main run, baselines
    /// and references together).
    pub wall_s: f64,
    /// Events dispatched by the main run.
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
    /// The same, in a baseline run.
    Baseline(PathBuf, Baseline, WorldError),
    /// Writing results failed (exit 1).
    Io(PathBuf, std::io::Error),
}

impl RunError {
    /// 2 for bad input, 1 for an internal failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Scenario(_) => 2,
            RunError::World(_, WorldError::Runtime(_)) => 1,
            RunError::Baseline(_, _, WorldError::Runtime(_)) => 1,
            RunError::World(..) | RunError::Baseline(..) => 2,
            RunError::Io(..) => 1,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Scenario(e) => write!(f, "{e}"),
            RunError::World(path, e) => write!(f, "{}: {e}", path.display()),
            RunError::Baseline(path, baseline, e) => {
                write!(f, "{}: baseline {baseline}: {e}", path.display())
            }
            RunError::Io(path, e) => write!(f, "{}: cannot write results: {e}", path.display()),
        }
    }
}

impl std::error::Error for RunError {}

#[derive(Serialize)]
struct Timing<'a> {
    scenario: &'a str,
    seed: u64,
    wall_s: f64,
    events: u64,
    events_per_s: f64,
    main_wall_s: f64,
    baselines_wall_s: f64,
    references_wall_s: f64,
    note: &'static str,
}

/// Wall-clock seconds of the parts of a run.
#[derive(Clone, Copy, Debug, Default)]
struct WallTimes {
    total_s: f64,
    main_s: f64,
    baselines_s: f64,
    references_s: f64,
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
/// scenario's `[node]` section is whatever `make` makes of it. Baselines
/// run the same runtime.
pub fn run_file_with<R: Runtime + Send>(
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
    run_text_with(path, &text, options, runtime, make, progress)
}

/// Runs scenario `text` with node-core's [`Node`] as if it had been read
/// from `path` (which only names it in errors): `summary.json`'s
/// `scenario_hash` is the hash of `text`. `raas sweep` runs each grid
/// point this way.
pub fn run_text(
    path: &Path,
    text: &str,
    options: &RunOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    run_text_with(
        path,
        text,
        options,
        NODE_RUNTIME,
        node_core_runtime,
        progress,
    )
}

/// [`run_file_with`] on scenario `text` already read (see [`run_text`]).
pub fn run_text_with<R: Runtime + Send>(
    path: &Path,
    text: &str,
    options: &RunOptions,
    runtime: &'static str,
    make: impl Fn(&Scenario, &NodeInit) -> Result<R, String>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    let scenario = Scenario::parse(path, text).map_err(RunError::Scenario)?;
    let seed = options.seed.unwrap_or(scenario.seed);
    let baselines = isolated::merge(&scenario.run.baselines, &options.baselines);
    let world_error = |e| RunError::World(path.to_path_buf(), e);
    let mut main =
        World::new(&scenario, seed, |init| make(&scenario, init)).map_err(world_error)?;
    let mut others = Vec::with_capacity(baselines.len());
    for &baseline in &baselines {
        let variant = baseline.scenario(&scenario);
        let data = Arc::clone(main.data());
        let world = World::with_data(&variant, seed, data, |init| make(&variant, init))
            .map_err(|e| RunError::Baseline(path.to_path_buf(), baseline, e))?;
        others.push((baseline, world));
    }
    let (references, wall) = simulate(path, &scenario, &mut main, &mut others, progress)?;
    let dir = options
        .out
        .clone()
        .unwrap_or_else(|| output::run_dir(&options.results_root, &scenario.name, seed));
    let identity = Identity {
        scenario: &scenario,
        scenario_hash: format!("fnv1a64:{:016x}", fnv1a64(text.as_bytes())),
        seed,
        seed_source: if options.seed.is_some() {
            "--seed"
        } else {
            "scenario"
        },
        runtime,
    };
    let heldout = HeldOutInfo::of(main.data());
    let context = Context {
        identity: &identity,
        heldout: &heldout,
        references: &references,
    };
    for (baseline, world) in &others {
        let summary = summary::summarize(
            context,
            world.rows(),
            world.events(),
            Some(*baseline),
            &[],
            None,
        );
        write_rows_and_summary(&dir.join(baseline.dir_name()), world.rows(), &summary)?;
    }
    let isolated = others
        .iter()
        .find(|(b, _)| *b == Baseline::Isolated)
        .map(|(_, w)| w.rows());
    let summary = summary::summarize(
        context,
        main.rows(),
        main.events(),
        None,
        &baselines,
        isolated,
    );
    write_results(&dir, main.rows(), &summary, wall)?;
    Ok(RunOutcome {
        dir,
        seed,
        last: main.rows().last().cloned().unwrap_or_default(),
        final_window: summary.final_window,
        comparison: summary.comparison,
        baselines: baselines.clone(),
        wall_s: wall.total_s,
        events: main.events(),
    })
}

/// Runs the main world on this thread (reporting `progress`) while the
/// baselines and the references run on rayon's pool.
fn simulate<R: Runtime + Send>(
    path: &Path,
    scenario: &Scenario,
    main: &mut World<R>,
    others: &mut [(Baseline, World<R>)],
    progress: &mut dyn FnMut(&Progress),
) -> Result<(References, WallTimes), RunError> {
    let data: Arc<RunData> = Arc::clone(main.data());
    let started = WallClock::now();
    let mut wall = WallTimes::default();
    let mut references = None;
    let mut baseline_results: Vec<Result<(), WorldError>> = Vec::new();
    let main_result = rayon::in_place_scope(|s| {
        s.spawn(|_| {
            let t = WallClock::now();
            references = Some(reference::references(&data, scenario.nodes));
            wall.references_s = t.elapsed().as_secs_f64();
        });
        s.spawn(|_| {
            let t = WallClock::now();
            baseline_results = others.iter_mut().map(|(_, w)| w.run(&mut |_| {})).collect();
            wall.baselines_s = t.elapsed().as_secs_f64();
        });
        let t = WallClock::now();
        let result = main.run(progress);
        wall.main_s = t.elapsed().as_secs_f64();
        result
    });
    main_result.map_err(|e| RunError::World(path.to_path_buf(), e))?;
    for ((baseline, _), result) in others.iter().zip(baseline_results) {
        result.map_err(|e| RunError::Baseline(path.to_path_buf(), *baseline, e))?;
    }
    wall.total_s = started.elapsed().as_secs_f64();
    Ok((references.expect("the references task ran"), wall))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError {
    let path = path.to_path_buf();
    move |e| RunError::Io(path, e)
}

/// Creates `dir` (refusing a file in its place) and writes `rounds.csv` and
/// `summary.json` into it.
fn write_rows_and_summary(
    dir: &Path,
    rows: &[RoundRow],
    summary: &Summary<'_>,
) -> Result<(), RunError> {
    if dir.exists() && !dir.is_dir() {
        let e =
            std::io::Error::other("exists and is not a directory (--out must name a directory)");
        return Err(RunError::Io(dir.to_path_buf(), e));
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    output::remove_stale_temporaries(dir).map_err(io_error(dir))?;
    let csv_path = dir.join("rounds.csv");
    output::write_atomically(&csv_path, |w| write_csv(w, rows)).map_err(io_error(&csv_path))?;
    let json = serde_json::to_vec_pretty(summary).expect("summary serializes");
    let summary_path = dir.join("summary.json");
    output::write_bytes_atomically(&summary_path, &json).map_err(io_error(&summary_path))
}

fn write_results(
    dir: &Path,
    rows: &[RoundRow],
    summary: &Summary<'_>,
    wall: WallTimes,
) -> Result<(), RunError> {
    write_rows_and_summary(dir, rows, summary)?;
    let timing = Timing {
        scenario: summary.scenario,
        seed: summary.seed,
        wall_s: wall.total_s,
        events: summary.events,
        events_per_s: summary.events as f64 / wall.main_s.max(1e-9),
        main_wall_s: wall.main_s,
        baselines_wall_s: wall.baselines_s,
        references_wall_s: wall.references_s,
        note: "wall-clock measurements: machine-dependent, not part of the results",
    };
    let timing_path = dir.join("timing.json");
    let json = serde_json::to_vec_pretty(&timing).expect("timing serializes");
    output::write_bytes_atomically(&timing_path, &json).map_err(io_error(&timing_path))
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
