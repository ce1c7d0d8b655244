//! One scenario run, from file to result files: load (applying `--set`
//! overrides) → check the output directory → build → simulate (the main
//! run, its baselines and the references, in parallel) → write
//! `scenario.toml` (the resolved scenario), `rounds.csv`, `summary.json`
//! and `timing.json`, and each baseline's `scenario.toml`, `rounds.csv` and
//! `summary.json` under `baseline-<name>/`.
//!
//! The output directory is checked before anything runs: it must be (or be
//! creatable as) a writable directory, and it must not hold the results of
//! a different run (another scenario hash, seed or overrides) unless
//! `force` is set. It is created only once the scenario has been loaded and
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

use crate::adversary::attacker::Attacker;
use crate::adversary::detection::{AdversaryReport, Detection};
use crate::adversary::pool::{CartelPool, SharedPool};
use crate::adversary::{AttackKind, Plan};
use crate::baseline::comparison::Comparison;
use crate::baseline::isolated::{self, Baseline};
use crate::baseline::reference::{self, References};
use crate::consensus::{self, ConsensusNode};
use crate::faults::Faults;
use crate::metrics::RoundRow;
use crate::metrics::window::FinalWindow;
use crate::output;
use crate::scenario::{Override, Scenario, ScenarioError};
use crate::summary::{self, Context, HeldOutInfo, Identity, Summary};
use crate::swarm_node::SwarmNode;
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
    /// `--set key=value` overrides, applied in order.
    pub overrides: Vec<Override>,
    /// Overwrite the results of a different run in the output directory.
    pub force: bool,
    /// Threads for the main world's node phase (`World::set_threads`; 0
    /// and 1: one). Outputs do not depend on it. `raas run` uses every
    /// core; `raas sweep` and `raas reproduce` leave it at one, since they
    /// already run several worlds at once (`--jobs`).
    pub threads: usize,
}

/// The cores available to this process (1 if unknown): `raas run`'s
/// default `--threads`.
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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
    /// The output directory cannot hold results (exit 2): a file, under a
    /// file, or not writable.
    Out(PathBuf, String),
    /// The output directory holds the results of a different run and
    /// `force` is not set (exit 2).
    Occupied {
        /// The output directory.
        dir: PathBuf,
        /// The run whose results are there.
        there: String,
        /// This run.
        this: String,
    },
    /// The resolved scenario could not be written as TOML (exit 1).
    Resolve(PathBuf, toml::ser::Error),
    /// Writing results failed (exit 1).
    Io(PathBuf, std::io::Error),
    /// The run cannot fit in the memory available (exit 2; see `memory`).
    Memory(PathBuf, Box<crate::memory::TooBig>),
}

impl RunError {
    /// 2 for bad input, 1 for an internal failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Scenario(_) => 2,
            RunError::World(_, WorldError::Runtime(_)) => 1,
            RunError::Baseline(_, _, WorldError::Runtime(_)) => 1,
            RunError::World(..) | RunError::Baseline(..) => 2,
            RunError::Out(..) | RunError::Occupied { .. } | RunError::Memory(..) => 2,
            RunError::Resolve(..) | RunError::Io(..) => 1,
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
            RunError::Out(dir, problem) => {
                write!(f, "output directory {}: {problem}", dir.display())
            }
            RunError::Occupied { dir, there, this } => write!(
                f,
                "output directory {} holds the results of a different run ({there}); \
                 this run is {this}. Pass --force to overwrite them, or choose another --out",
                dir.display()
            ),
            RunError::Resolve(path, e) => {
                write!(
                    f,
                    "{}: cannot write the resolved scenario: {e}",
                    path.display()
                )
            }
            RunError::Io(path, e) => write!(f, "{}: cannot write results: {e}", path.display()),
            RunError::Memory(path, e) => write!(f, "{}: {e}", path.display()),
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
    /// Threads of the main world's node phase (`--threads`; 1 for a
    /// scenario that must run on one thread).
    main_threads: usize,
    /// The commit the binary was built from, or `"unknown"` (kept out of
    /// `summary.json` so that committed results regenerate byte for byte
    /// from a later commit whose code makes the same numbers).
    git_commit: &'static str,
    /// Whether that checkout had uncommitted changes; `None` when unknown.
    git_dirty: Option<bool>,
    note: &'static str,
}

/// Wall-clock seconds of the parts of a run.
#[derive(Clone, Copy, Debug, Default)]
struct WallTimes {
    total_s: f64,
    main_s: f64,
    baselines_s: f64,
    references_s: f64,
    main_threads: usize,
}

/// The name `summary.json` gives the default runtime.
pub const NODE_RUNTIME: &str = "node-core Node";

/// Builds node-core's [`Node`] for one node of `scenario` (the default
/// runtime of `raas run`).
pub fn node_core_runtime(scenario: &Scenario, init: &NodeInit) -> Result<Node, String> {
    let round_period = Duration::from_micros(scenario.run.round_period_us());
    // One configuration per run (per radio degree), shared by its nodes.
    let (shared, identity) = scenario.node.to_shared_core(init, round_period);
    Node::with_shared(shared, identity).map_err(|e| e.to_string())
}

/// Loads, runs and writes one scenario with node-core's [`Node`] (wrapped
/// in [`ConsensusNode`] when the scenario has a `[consensus]` section);
/// `progress` is called every round.
pub fn run_file(
    path: &Path,
    options: &RunOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        RunError::Scenario(ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })
    })?;
    run_text(path, &text, options, progress)
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
    make: impl Fn(&Scenario, &NodeInit) -> Result<R, String> + Sync,
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

/// Runs scenario `text` with node-core's [`Node`] (wrapped in
/// [`ConsensusNode`] when the scenario has a `[consensus]` section) as if
/// it had been read from `path` (which only names it in errors):
/// `summary.json`'s `scenario_hash` is the hash of `text`. `raas sweep`
/// runs each grid point this way.
pub fn run_text(
    path: &Path,
    text: &str,
    options: &RunOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    // A scenario that does not parse takes the default path, which reports
    // the error.
    let parsed = Scenario::parse_with(path, text, &options.overrides).ok();
    let consensus = parsed.as_ref().is_some_and(|s| s.consensus.is_some());
    if parsed.is_some_and(|s| !s.run.emulated_nodes.is_empty()) {
        // Some nodes in QEMU ([run] emulated_nodes, docs/cross-arch.md).
        return run_text_with(
            path,
            text,
            options,
            NODE_RUNTIME,
            crate::emulated::local_or_emulated_runtime,
            progress,
        );
    }
    if consensus {
        return run_text_with(
            path,
            text,
            options,
            consensus::RUNTIME,
            ConsensusNode::new,
            progress,
        );
    }
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
    make: impl Fn(&Scenario, &NodeInit) -> Result<R, String> + Sync,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, RunError> {
    let scenario =
        Scenario::parse_with(path, text, &options.overrides).map_err(RunError::Scenario)?;
    let seed = options.seed.unwrap_or(scenario.seed);
    let mut baselines = isolated::merge(&scenario.run.baselines, &options.baselines);
    if scenario
        .adversary
        .as_ref()
        .is_some_and(|a| !a.groups.is_empty())
    {
        // The attack-free twin the honest drift is measured against.
        baselines = isolated::merge(&baselines, &[Baseline::AttackFree]);
    }
    let dir = options
        .out
        .clone()
        .unwrap_or_else(|| output::run_dir(&options.results_root, &scenario.name, seed));
    let overrides: Vec<String> = options.overrides.iter().map(|o| o.arg.clone()).collect();
    let identity = Identity {
        scenario: &scenario,
        scenario_hash: scenario_hash(text, &overrides),
        overrides,
        seed,
        seed_source: if options.seed.is_some() {
            "--seed"
        } else {
            "scenario"
        },
        runtime,
    };
    output::check_output_dir(&dir).map_err(|problem| RunError::Out(dir.clone(), problem))?;
    let previous = check_occupant(&dir, &identity, options.force)?;
    let resolved = resolved_toml(&scenario, &identity, None)
        .map_err(|e| RunError::Resolve(path.to_path_buf(), e))?;
    check_memory(path, &scenario, baselines.len(), seed, &make)?;
    let world_error = |e| RunError::World(path.to_path_buf(), e);
    let builder = NodeBuilder::new(scenario.clone(), seed, &make).map_err(world_error)?;
    let plan = &builder.plan;
    let mut main = builder.world(None).map_err(world_error)?;
    let main_threads = main.set_threads(options.threads).map_err(world_error)?;
    let mut others = Vec::with_capacity(baselines.len());
    for &baseline in &baselines {
        let variant = baseline.scenario(&scenario);
        let data = Arc::clone(main.data());
        let baseline_error = |e| RunError::Baseline(path.to_path_buf(), baseline, e);
        let variant_builder = NodeBuilder::new(variant, seed, &make).map_err(baseline_error)?;
        let mut world = variant_builder.world(Some(data)).map_err(baseline_error)?;
        if baseline == Baseline::AttackFree {
            // Drift is measured on the same honest nodes in both runs.
            world.exclude_from_metrics((0..).zip(plan.roles()).filter_map(|(id, r)| r.map(|_| id)));
        }
        others.push((baseline, world, variant_builder));
    }
    let mut resolved_baselines = Vec::with_capacity(others.len());
    for &baseline in &baselines {
        let variant = baseline.scenario(&scenario);
        let text = resolved_toml(&variant, &identity, Some(baseline))
            .map_err(|e| RunError::Resolve(path.to_path_buf(), e))?;
        resolved_baselines.push(text);
    }
    let (references, mut wall) =
        simulate(path, &scenario, &mut main, &builder, &mut others, progress)?;
    wall.main_threads = main_threads;
    let heldout = HeldOutInfo::of(main.data());
    let context = Context {
        identity: &identity,
        heldout: &heldout,
        references: &references,
    };
    for ((baseline, world, _), resolved) in others.iter().zip(&resolved_baselines) {
        let mut summary = summary::summarize(
            context,
            world.rows(),
            world.events(),
            Some(*baseline),
            &[],
            None,
        );
        summary.faults = world.faults().report();
        let files = Files {
            resolved,
            rows: world.rows(),
            summary: &summary,
            faults: world.faults(),
        };
        write_rows_and_summary(&dir.join(baseline.dir_name()), &files)?;
    }
    let isolated = others
        .iter()
        .find(|(b, _, _)| *b == Baseline::Isolated)
        .map(|(_, w, _)| w.rows());
    let mut summary = summary::summarize(
        context,
        main.rows(),
        main.events(),
        None,
        &baselines,
        isolated,
    );
    summary.faults = main.faults().report();
    summary.influence_gini = influence_gini(&scenario, &main);
    summary.node_state_bytes = summary::NodeStateBytes::of(
        main.nodes(),
        |id| main.adversary().is_none_or(|d| d.is_honest(id)),
        (runtime == NODE_RUNTIME || runtime == consensus::RUNTIME)
            .then(|| Node::config_bytes() as u64),
    );
    if let Some(detection) = main.adversary() {
        let free = others
            .iter()
            .find(|(b, _, _)| *b == Baseline::AttackFree)
            .map(|(_, w, _)| w.rows());
        let groups: Vec<AttackKind> = scenario
            .adversary
            .iter()
            .flat_map(|a| a.groups.iter().map(|g| g.attack))
            .collect();
        let metric = if scenario.consensus.is_some() {
            "drift"
        } else {
            summary.comparison.metric.name()
        };
        summary.adversary = Some(AdversaryReport::new(
            plan,
            &groups,
            detection,
            main.rows(),
            free,
            metric,
        ));
    }
    let files = Files {
        resolved: &resolved,
        rows: main.rows(),
        summary: &summary,
        faults: main.faults(),
    };
    write_results(&dir, &files, wall)?;
    if previous {
        remove_stale_baselines(&dir, &baselines).map_err(io_error(&dir))?;
    }
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

/// Builds the nodes of one world: each by `make`, the attackers of `plan`
/// wrapped in an [`Attacker`] sharing the world's cartel pool. The world
/// calls it again for a node that reboots after losing its RAM
/// (`crate::faults`), so a rebooted attacker is still an attacker.
pub struct NodeBuilder<'a, R> {
    scenario: Scenario,
    seed: u64,
    plan: Plan,
    pool: SharedPool,
    round_period: Duration,
    make: &'a (dyn Fn(&Scenario, &NodeInit) -> Result<R, String> + Sync),
}

impl<'a, R: Runtime> NodeBuilder<'a, R> {
    fn new(
        scenario: Scenario,
        seed: u64,
        make: &'a (dyn Fn(&Scenario, &NodeInit) -> Result<R, String> + Sync),
    ) -> Result<NodeBuilder<'a, R>, WorldError> {
        let plan = Plan::new(&scenario, seed).map_err(WorldError::Build)?;
        Ok(NodeBuilder {
            pool: CartelPool::shared(usize::from(scenario.node.window_len) + 1),
            round_period: Duration::from_micros(scenario.run.round_period_us()),
            scenario,
            seed,
            plan,
            make,
        })
    }

    /// Node `init.id` of this world.
    fn build(&self, init: &NodeInit) -> Result<SwarmNode<R>, String> {
        let inner = (self.make)(&self.scenario, init)?;
        Ok(match self.plan.role(init.id) {
            None => SwarmNode::Honest(inner),
            Some(role) => {
                let config = self.scenario.node.to_core(init, self.round_period);
                let attacker = Attacker::new(
                    inner,
                    *role,
                    init.id,
                    self.seed,
                    &config,
                    Some(Arc::clone(&self.pool)),
                );
                SwarmNode::Byzantine(Box::new(attacker))
            }
        })
    }

    /// The world of this builder's scenario, on shared `data` when given.
    fn world(&self, data: Option<Arc<RunData>>) -> Result<World<SwarmNode<R>>, WorldError> {
        let build = |init: &NodeInit| self.build(init);
        let mut world = match data {
            None => World::new(&self.scenario, self.seed, build)?,
            Some(data) => World::with_data(&self.scenario, self.seed, data, build)?,
        };
        if self.plan.attackers() > 0 {
            world.set_adversary(Detection::new(&self.plan));
        }
        Ok(world)
    }
}

/// The influence Gini of `world`'s honest nodes (`crate::metrics::influence`)
/// with the weights of `scenario`'s aggregation rule (equal weights for a
/// rule that does not weigh by reputation).
fn influence_gini<R: Runtime>(scenario: &Scenario, world: &World<SwarmNode<R>>) -> Option<f64> {
    use node_core::aggregate::Rule;
    use node_core::node::AggregationConfig as Core;
    let weighted = |rule: Rule| match rule {
        Rule::ReputationWeighted(w) => Some(w),
        Rule::WeightedTrimmedMean(c) => Some(c.weighted),
        _ => None,
    };
    let config = match scenario.node.aggregation.to_core(scenario.nodes) {
        Core::Rule(rule) => weighted(rule),
        Core::Pipeline(pipeline) => weighted(pipeline.rule()),
        Core::Adaptive(adaptive) => Some(adaptive.weighted),
    };
    let (exponent, cap) = config.map_or(
        (
            node_core::q::ZERO,
            node_core::reputation::InfluenceCap::Uncapped,
        ),
        |w| (w.exponent, w.cap),
    );
    let tables: Vec<_> = world.nodes().iter().map(|n| n.reputation_table()).collect();
    let honest = |id| world.adversary().is_none_or(|d| d.is_honest(id));
    crate::metrics::influence::influence_gini(&tables, honest, exponent, cap)
}

/// A baseline's world and the builder of its nodes.
type BaselineRun<'a, R> = (Baseline, World<SwarmNode<R>>, NodeBuilder<'a, R>);

/// Refuses a run whose memory estimate exceeds the memory available
/// (`crate::memory`), before anything large is built.
fn check_memory<R>(
    path: &Path,
    scenario: &Scenario,
    baselines: usize,
    seed: u64,
    make: &impl Fn(&Scenario, &NodeInit) -> Result<R, String>,
) -> Result<(), RunError> {
    let estimate = crate::memory::estimate_with(scenario, baselines, seed, make);
    crate::memory::check(estimate).map_err(|e| RunError::Memory(path.to_path_buf(), Box::new(e)))
}

/// Runs the main world on this thread (reporting `progress`) while the
/// baselines and the references run on rayon's pool.
fn simulate<R: Runtime + Send>(
    path: &Path,
    scenario: &Scenario,
    main: &mut World<SwarmNode<R>>,
    main_builder: &NodeBuilder<'_, R>,
    others: &mut [BaselineRun<'_, R>],
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
            baseline_results = others
                .iter_mut()
                .map(|(_, w, build)| w.run_with(&mut |_| {}, &mut |init| build.build(init)))
                .collect();
            wall.baselines_s = t.elapsed().as_secs_f64();
        });
        let t = WallClock::now();
        let result = main.run_with(progress, &mut |init| main_builder.build(init));
        wall.main_s = t.elapsed().as_secs_f64();
        result
    });
    main_result.map_err(|e| RunError::World(path.to_path_buf(), e))?;
    for ((baseline, _, _), result) in others.iter().zip(baseline_results) {
        result.map_err(|e| RunError::Baseline(path.to_path_buf(), *baseline, e))?;
    }
    wall.total_s = started.elapsed().as_secs_f64();
    Ok((references.expect("the references task ran"), wall))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError {
    let path = path.to_path_buf();
    move |e| RunError::Io(path, e)
}

/// The deterministic files of one run directory.
struct Files<'a> {
    resolved: &'a str,
    rows: &'a [RoundRow],
    summary: &'a Summary<'a>,
    /// `faults.csv` is written when `[faults]` is in force.
    faults: &'a Faults,
}

/// `scenario_hash`: FNV-1a 64 of the file's bytes; with overrides, of the
/// file's bytes followed, for each `--set` argument in order, by a NUL
/// byte and the argument as given.
pub fn scenario_hash(text: &str, overrides: &[String]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for arg in overrides {
        bytes.push(0);
        bytes.extend_from_slice(arg.as_bytes());
    }
    format!("fnv1a64:{:016x}", fnv1a64(&bytes))
}

/// The text of `scenario.toml`: a comment saying what it is and how the
/// run used it, then every key of `scenario`.
fn resolved_toml(
    scenario: &Scenario,
    identity: &Identity<'_>,
    baseline: Option<Baseline>,
) -> Result<String, toml::ser::Error> {
    let body = scenario.to_toml()?;
    let mut head = format!(
        "# The scenario as raas {} understood it: every key with the value the run\n\
         # used (defaults filled in, the [node] preset merged, --set overrides applied).\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(baseline) = baseline {
        head.push_str(&format!(
            "# Baseline `{baseline}` of the main run in the directory above.\n"
        ));
    }
    for arg in &identity.overrides {
        head.push_str(&format!("# --set {arg}\n"));
    }
    head.push_str(&format!(
        "# Seed used: {} (from {}); `raas run scenario.toml --seed {}` repeats the run.\n\n",
        identity.seed, identity.seed_source, identity.seed
    ));
    Ok(head + &body)
}

/// Whether `dir` holds the results of an earlier run that this one may
/// replace: `Ok(false)` when it holds none, `Ok(true)` when it holds this
/// very run (same scenario hash, seed and overrides) or `force` is set,
/// and [`RunError::Occupied`] otherwise.
fn check_occupant(dir: &Path, identity: &Identity<'_>, force: bool) -> Result<bool, RunError> {
    let path = dir.join("summary.json");
    if !path.is_file() {
        return Ok(false);
    }
    if force {
        return Ok(true);
    }
    let this = describe(
        &identity.scenario.name,
        &identity.scenario_hash,
        &identity.seed.to_string(),
        &identity.overrides,
    );
    let there = match std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    {
        Some(v) => {
            let text = |key: &str| match &v[key] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "?".to_string(),
                other => other.to_string(),
            };
            let overrides: Vec<String> = v["overrides"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().unwrap_or("?").to_string())
                        .collect()
                })
                .unwrap_or_default();
            let same = text("scenario_hash") == identity.scenario_hash
                && v["seed"].as_u64() == Some(identity.seed)
                && overrides == identity.overrides;
            if same {
                return Ok(true);
            }
            describe(
                &text("scenario"),
                &text("scenario_hash"),
                &text("seed"),
                &overrides,
            )
        }
        None => "a summary.json that is not a raas summary".to_string(),
    };
    Err(RunError::Occupied {
        dir: dir.to_path_buf(),
        there,
        this,
    })
}

fn describe(name: &str, hash: &str, seed: &str, overrides: &[String]) -> String {
    let mut text = format!("scenario `{name}` {hash}, seed {seed}");
    if overrides.is_empty() {
        text.push_str(", no --set");
    }
    for arg in overrides {
        text.push_str(&format!(", --set {arg}"));
    }
    text
}

/// Removes the `baseline-<name>/` directories of an earlier run that this
/// run did not write, so a run directory never shows a baseline of
/// another run.
fn remove_stale_baselines(dir: &Path, baselines: &[Baseline]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = baselines.iter().any(|b| b.dir_name() == name);
        if name.starts_with("baseline-") && !ours && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Creates `dir` (refusing a file in its place) and writes
/// `scenario.toml`, `rounds.csv` and `summary.json` into it.
fn write_rows_and_summary(dir: &Path, files: &Files<'_>) -> Result<(), RunError> {
    if dir.exists() && !dir.is_dir() {
        let e =
            std::io::Error::other("exists and is not a directory (--out must name a directory)");
        return Err(RunError::Io(dir.to_path_buf(), e));
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    output::remove_stale_temporaries(dir).map_err(io_error(dir))?;
    let scenario_path = dir.join("scenario.toml");
    output::write_bytes_atomically(&scenario_path, files.resolved.as_bytes())
        .map_err(io_error(&scenario_path))?;
    let csv_path = dir.join("rounds.csv");
    output::write_atomically(&csv_path, |w| write_csv(w, files.rows))
        .map_err(io_error(&csv_path))?;
    let faults_path = dir.join("faults.csv");
    if files.faults.active() {
        output::write_atomically(&faults_path, |w| write_csv(w, files.faults.records()))
            .map_err(io_error(&faults_path))?;
    } else if faults_path.is_file() {
        std::fs::remove_file(&faults_path).map_err(io_error(&faults_path))?;
    }
    let json = serde_json::to_vec_pretty(files.summary).expect("summary serializes");
    let summary_path = dir.join("summary.json");
    output::write_bytes_atomically(&summary_path, &json).map_err(io_error(&summary_path))
}

fn write_results(dir: &Path, files: &Files<'_>, wall: WallTimes) -> Result<(), RunError> {
    write_rows_and_summary(dir, files)?;
    let summary = files.summary;
    let timing = Timing {
        scenario: summary.scenario,
        seed: summary.seed,
        wall_s: wall.total_s,
        events: summary.events,
        events_per_s: summary.events as f64 / wall.main_s.max(1e-9),
        main_wall_s: wall.main_s,
        baselines_wall_s: wall.baselines_s,
        references_wall_s: wall.references_s,
        main_threads: wall.main_threads,
        git_commit: crate::summary::git_commit(),
        git_dirty: crate::summary::git_dirty(),
        note: "wall-clock measurements and the build that made the run: not part of the deterministic results",
    };
    let timing_path = dir.join("timing.json");
    let json = serde_json::to_vec_pretty(&timing).expect("timing serializes");
    output::write_bytes_atomically(&timing_path, &json).map_err(io_error(&timing_path))
}

fn write_csv<T: Serialize>(w: &mut dyn std::io::Write, rows: &[T]) -> std::io::Result<()> {
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
