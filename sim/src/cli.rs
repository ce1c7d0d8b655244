//! The `raas` command line: argument parsing and dispatch only; the work is
//! done by `runner`, `scenario` and friends.
//!
//! Exit codes: 0 success; 2 bad input (scenario errors, unusable arguments);
//! 1 internal failure (I/O while writing results, a runtime breaking its
//! contract).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant as WallClock};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::baseline::isolated::Baseline;
use crate::reproduce::ReproduceOptions;
use crate::reproduce::report::Verdict;
use crate::runner::{self, RunOptions, RunOutcome};
use crate::scenario::{Override, Scenario};
use crate::sweep::{self, Shard, Sweep, SweepOptions, SweepOutcome};
use crate::world::Progress;

/// Exit code for bad input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for an internal failure.
pub const EXIT_INTERNAL: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "raas",
    version,
    about = "Deterministic simulator of RaaS swarms: node-core nodes learning a shared predictor by gossip",
    long_about = "raas runs seeded discrete-event simulations of sensor swarms whose nodes run the \
node-core runtime (Q16.16 fixed point, sans-IO). The same scenario file and seed always give \
byte-identical results.\n\nScenario keys are documented in docs/scenarios.md; result columns in \
docs/metrics.md.",
    after_help = "Exit codes: 0 ok, 2 bad input (scenario or arguments), 1 internal failure.\n\
Examples:\n  raas run scenarios/examples/smoothsine-10.toml\n  raas run scenarios/examples/smoothsine-1000.toml --seed 7 --out /tmp/run\n  raas run scenarios/examples/smoothsine-100.toml --baseline isolated\n  raas run scenarios/examples/smoothsine-10.toml --set nodes=50 --set radio.loss_probability=0.2\n  raas validate scenarios/examples/*.toml\n  raas list\n  raas plot results/smoothsine-100/seed-1\n  raas reproduce --seeds 5\n  raas sweep scenarios/sweeps/loss-x-gossip-cost.toml --jobs 2\n  raas merge merged.csv results/sweeps/NAME/sweep-shard-*.csv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one scenario and write scenario.toml, rounds.csv, summary.json and timing.json.
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate(ValidateArgs),
    /// List the scenarios under a directory.
    List(ListArgs),
    /// Measure every paper claim of scenarios/paper/ over seeds and write
    /// results/paper/REPRODUCTION.md (claim, paper value, measurements,
    /// verdict, reason).
    Reproduce(ReproduceArgs),
    /// Draw PNG and SVG plots from the result files of runs (nothing is rerun).
    Plot(PlotArgs),
    /// Run a scenario over a grid of key values × seeds (docs/sweeps.md);
    /// resumable, shardable; writes a tidy CSV of the runs.
    Sweep(SweepArgs),
    /// Combine the CSVs of `raas sweep --shard` runs into the unsharded
    /// sweep's CSV (same bytes).
    Merge(MergeArgs),
    /// Measure the simulator's speed and memory over scenarios/bench/
    /// (docs/performance.md): wall time, events/s, peak RSS, bytes per
    /// node, engine overhead ratio; prints a table and writes JSON.
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Args)]
struct ReproduceArgs {
    /// Seeds 1..=N for every claim.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// Worker threads for the runs [default: all cores]; results do not
    /// depend on it.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Only this claim (repeatable); writes REPRODUCTION-partial.md.
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    /// Directory of the paper scenarios.
    #[arg(long, value_name = "DIR", default_value = "scenarios/paper")]
    scenarios: PathBuf,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "results/paper")]
    out: PathBuf,
    /// No progress bar and no summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// The sweep file: a scenario plus a `[sweep]` table.
    sweep: PathBuf,
    /// Output directory [default: <results>/sweeps/<scenario name>/].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Root of the default output layout.
    #[arg(long, value_name = "DIR", default_value = "results")]
    results: PathBuf,
    /// Runs made at once (threads of the sweep's own pool) [default: one
    /// per core].
    #[arg(long, short, value_name = "J", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Only the runs whose index is I mod N (0-based; on Slurm:
    /// `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT` with
    /// `--array=0-(N-1)`); writes sweep-shard-I-of-N.csv.
    #[arg(long, value_name = "I/N", value_parser = clap::builder::ValueParser::new(Shard::from_str))]
    shard: Option<Shard>,
    /// Also run this baseline beside every run (repeatable).
    #[arg(long, value_enum, value_name = "NAME")]
    baseline: Vec<Baseline>,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The merged CSV to write.
    out: PathBuf,
    /// The shards' CSVs (sweep-shard-I-of-N.csv), every shard once.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Seed of every random stream; overrides the scenario's `seed`. The seed
    /// used is written into every output.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Output directory [default: <results>/<scenario name>/seed-<seed>/].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Root of the default output layout.
    #[arg(long, value_name = "DIR", default_value = "results")]
    results: PathBuf,
    /// Also run this baseline (repeatable; merged with the scenario's
    /// `run.baselines`), written to <out>/baseline-<name>/. `isolated`: the
    /// same scenario and seed with every delivery lost.
    #[arg(long, value_enum, value_name = "NAME")]
    baseline: Vec<Baseline>,
    /// Override a scenario key (repeatable), e.g. `--set nodes=50`,
    /// `--set node.step_sizes=[0.05,0.1,0.2]`. VALUE is a TOML value, else
    /// a bare string; checked like a key written in the file, recorded in
    /// scenario.toml and summary.json.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Override>,
    /// Overwrite the results of a different run (another scenario, seed or
    /// --set) found in the output directory.
    #[arg(long)]
    force: bool,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    quiet: bool,
    /// Threads for the main run's node phase [default: all cores]. The
    /// outputs are the same bytes for every count. Scenarios with an
    /// `[adversary]` or `[faults]` section or emulated nodes run on one
    /// thread (their nodes share state); baselines run on one thread each.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Override a scenario key before checking (repeatable), as `raas run --set`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<Override>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Directory searched recursively for *.toml scenarios.
    #[arg(default_value = "scenarios")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// A run directory (rounds.csv, summary.json), a directory of runs of
    /// one scenario (seed-*/), drawn as a mean with a min–max band, or a
    /// sweep CSV (with --x).
    input: PathBuf,
    /// Where to write the plots [default: INPUT, or the sweep CSV's
    /// directory].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Sweep CSV: the parameter column (dotted key path) on the x axis.
    #[arg(long, value_name = "KEY")]
    x: Option<String>,
    /// Sweep CSV: a second parameter column; with --x, draws each metric
    /// as a heatmap over the x × y grid (mean over seeds per cell).
    #[arg(long, value_name = "KEY2")]
    y: Option<String>,
    /// Sweep CSV: a figure column to plot against --x (repeatable)
    /// [default: rmse_heldout].
    #[arg(long, value_name = "COL")]
    metric: Vec<String>,
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate(args) => validate(&args.files, &args.set),
        Command::List(args) => list(&args.dir),
        Command::Reproduce(args) => reproduce(args),
        Command::Plot(args) => plot(&args),
        Command::Sweep(args) => run_sweep(args),
        Command::Merge(args) => merge(&args.out, &args.shards),
        Command::Bench(args) => crate::bench::main(&args),
    };
    ExitCode::from(code)
}

fn run(args: RunArgs) -> u8 {
    let options = RunOptions {
        seed: args.seed,
        out: args.out,
        results_root: args.results,
        baselines: args.baseline,
        overrides: args.set,
        force: args.force,
        threads: args
            .threads
            .map_or_else(crate::runner::all_cores, usize::from),
    };
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = run_progress_bar(show);
    let started = WallClock::now();
    let mut on_progress = |p: &Progress| {
        // Per mille of the run's simulated time, so the bar (and its ETA)
        // moves within a round on large runs (`Progress` comes every
        // `world::PROGRESS_EVENTS` events as well as at round ends).
        bar.set_length(1000);
        bar.set_position(p.now_us.saturating_mul(1000) / p.end_us.max(1));
        let wall = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "round {}/{} · sim {:.0} s · {:.2} M events · {:.2} M events/s",
            p.round,
            p.rounds,
            p.now_us as f64 / 1e6,
            p.events as f64 / 1e6,
            p.events as f64 / wall / 1e6
        ));
    };
    let result = runner::run_file(&args.scenario, &options, &mut on_progress);
    bar.finish_and_clear();
    match result {
        Ok(outcome) => {
            if !args.quiet {
                eprintln!("{}", summary_lines(&outcome));
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// What a finished run prints: where, how long, and the final-window and
/// comparison figures of `summary.json` (formatted from the same structs).
fn summary_lines(outcome: &RunOutcome) -> String {
    let baselines: Vec<&str> = outcome.baselines.iter().map(|b| b.name()).collect();
    let with = if baselines.is_empty() {
        String::new()
    } else {
        format!(" (+ baseline {})", baselines.join(", "))
    };
    format!(
        "{}: seed {}, {} rounds, {} events in {:.2} s{with}\n  {}\n  {}",
        outcome.dir.display(),
        outcome.seed,
        outcome.last.round,
        outcome.events,
        outcome.wall_s,
        outcome.final_window,
        outcome.comparison
    )
}

fn run_sweep(args: SweepArgs) -> u8 {
    let options = SweepOptions {
        out: args.out,
        results_root: args.results,
        jobs: args.jobs.map(usize::from),
        shard: args.shard,
        baselines: args.baseline,
    };
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = progress_bar(show, "run");
    let on_start = |owned: usize| bar.set_length(owned as u64);
    let on_run = |_skipped: bool| bar.inc(1);
    let result = sweep::run_file(&args.sweep, &options, &on_start, &on_run);
    bar.finish_and_clear();
    match result {
        Ok(outcome) => {
            if !args.quiet {
                eprintln!("{}", sweep_summary_line(&outcome, args.shard));
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// What a finished sweep prints; `ran` and `skipped` tell what resuming
/// reused.
fn sweep_summary_line(outcome: &SweepOutcome, shard: Option<Shard>) -> String {
    let shard = shard.map_or(String::new(), |s| {
        format!(" (shard {}/{})", s.index, s.count)
    });
    format!(
        "{}: {} points × {} seeds; {} runs{shard}: {} ran, {} skipped (complete) in {:.2} s",
        outcome.csv.display(),
        outcome.points,
        outcome.seeds,
        outcome.owned,
        outcome.ran,
        outcome.skipped,
        outcome.wall_s
    )
}

fn merge(out: &Path, shards: &[PathBuf]) -> u8 {
    match sweep::merge(out, shards) {
        Ok(merged) => {
            eprintln!(
                "{}: {} runs from {} shard CSVs",
                out.display(),
                merged.rows,
                merged.shards
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn progress_bar(show: bool, unit: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{bar:30}}] {unit} {{pos}}/{{len}} · {{msg}}"
    ))
    .expect("valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The bar of `raas run`: simulated-time progress in per mille, with the
/// elapsed time and an ETA.
fn run_progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] ETA {eta_precise} · {msg}")
            .expect("valid template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn reproduce(args: ReproduceArgs) -> u8 {
    let options = ReproduceOptions {
        seeds: args.seeds,
        jobs: args.jobs.map(|j| j as usize),
        only: args.only,
        scenarios: args.scenarios,
        out: args.out,
    };
    let bar = progress_bar(!args.quiet && std::io::stderr().is_terminal(), "run");
    bar.set_message("runs of the paper scenarios");
    let on_progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let result = crate::reproduce::reproduce(&options, &on_progress);
    bar.finish_and_clear();
    match result {
        Ok(outcome) => {
            if !args.quiet {
                let count = |v| outcome.rows.iter().filter(|r| r.verdict == v).count();
                eprintln!(
                    "{}: {} claims in {:.1} s: {} hold, {} differ, {} cannot be reproduced yet",
                    outcome.report.display(),
                    outcome.rows.len(),
                    outcome.wall_s,
                    count(Verdict::Holds),
                    count(Verdict::Differs),
                    count(Verdict::CannotReproduce)
                );
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn plot(args: &PlotArgs) -> u8 {
    match crate::plot::plot_input(
        &args.input,
        args.out.as_deref(),
        args.x.as_deref(),
        args.y.as_deref(),
        &args.metric,
    ) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn validate(files: &[PathBuf], overrides: &[Override]) -> u8 {
    let mut code = 0;
    for file in files {
        if Sweep::is_sweep_file(file) {
            match Sweep::load(file) {
                Ok(s) => println!(
                    "{}: ok (sweep: {} points × {} seeds)",
                    file.display(),
                    s.points.len(),
                    s.seeds.len()
                ),
                Err(e) => {
                    eprintln!("{e}");
                    code = EXIT_BAD_INPUT;
                }
            }
            continue;
        }
        match Scenario::load_with(file, overrides) {
            Ok(s) => {
                // The run's own runtime is not known here: estimate with node-core's Node.
                let seed = s.seed;
                let estimate =
                    crate::memory::estimate_with(&s, 0, seed, &runner::node_core_runtime);
                match crate::memory::check(estimate) {
                    Ok(()) => println!(
                        "{}: ok ({} nodes, {} rounds)",
                        file.display(),
                        s.nodes,
                        s.run.rounds
                    ),
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        code = EXIT_BAD_INPUT;
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}

fn list(dir: &Path) -> u8 {
    let mut files = Vec::new();
    if let Err(e) = collect_toml(dir, &mut files, 0) {
        eprintln!("error: {}: {e}", dir.display());
        return EXIT_BAD_INPUT;
    }
    files.sort();
    for file in &files {
        if Sweep::is_sweep_file(file) {
            match Sweep::load(file) {
                Ok(s) => println!(
                    "{:<48} {:>8} points {:>5} seeds  sweep: {}",
                    file.display(),
                    s.points.len(),
                    s.seeds.len(),
                    s.points[0].scenario.description
                ),
                Err(_) => println!(
                    "{:<48} INVALID (run `raas validate {}`)",
                    file.display(),
                    file.display()
                ),
            }
            continue;
        }
        match Scenario::load(file) {
            Ok(s) => println!(
                "{:<48} {:>8} nodes {:>6} rounds  {}",
                file.display(),
                s.nodes,
                s.run.rounds,
                s.description
            ),
            Err(_) => println!(
                "{:<48} INVALID (run `raas validate {}`)",
                file.display(),
                file.display()
            ),
        }
    }
    0
}

const LIST_DEPTH_MAX: usize = 8;

fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> std::io::Result<()> {
    if depth > LIST_DEPTH_MAX {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_toml(&path, out, depth + 1)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
