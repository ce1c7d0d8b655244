//! Does gossip earn its keep? Runs every learning example over several
//! seeds, each beside the same nodes with the radio off, and prints one
//! table of held-out RMSE (swarm, isolated, persistence, per-node and
//! central least-squares optima) and the learning targets with a verdict.
//!
//! ```sh
//! cargo run --release -p sim --example learning_targets            # 5 seeds
//! cargo run --release -p sim --example learning_targets -- --seeds 2 --jobs 2
//! ```
//!
//! Run from the workspace root (scenario and dataset paths are relative to
//! it). Runs go to `results/learning/<scenario>/seed-<n>/`; the report is
//! printed and written to `results/learning/TARGETS.md`. ECG5000 is skipped,
//! saying so, when its files are missing (see `datasets/README.md`).
//!
//! Every figure is the mean over the final window of `summary.json`
//! (`final`, 10 rounds) or read from `rounds.csv`; nothing is tuned per seed.
//! The runs are independent, so `--jobs` changes wall time only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sim::baseline::isolated::Baseline;
use sim::reproduce::measure;
use sim::runner::{self, RunOptions};

/// The examples the report runs, in report order.
const SCENARIOS: [&str; 7] = [
    "smoothsine-10",
    "smoothsine-100",
    "smoothsine-1000",
    "smoothsine-noisy",
    "smoothsine-sparse",
    "smoothsine-diverse",
    "ecg5000-100",
];

/// One finished run: held-out figures of the swarm and its references,
/// and the per-round held-out errors of the swarm and the isolated run.
#[derive(Clone, Debug)]
struct Run {
    swarm: f64,
    isolated: f64,
    persistence: f64,
    local_ls: f64,
    central_ls: f64,
    rounds_swarm: Option<u64>,
    rounds_isolated: Option<u64>,
    bytes_per_node_round: f64,
    curve_swarm: Vec<f64>,
    curve_isolated: Vec<f64>,
}

fn main() {
    let (seeds, jobs) = parse_args();
    if let Some(jobs) = jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .expect("the global pool is set once");
    }
    let root = PathBuf::from("results/learning");
    let mut report = String::new();
    let _ = writeln!(
        report,
        "# Learning targets: held-out RMSE, mean ± sd over {seeds} seeds (final 10 rounds)\n"
    );
    let _ = writeln!(
        report,
        "| scenario | swarm | isolated | persistence | local LS | central LS | swarm excess | isolated excess | rounds to 5 % (swarm / isolated) | model B/node/round |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for name in SCENARIOS {
        let path = PathBuf::from(format!("scenarios/examples/{name}.toml"));
        match run_seeds(&path, &root.join(name), seeds) {
            Ok(runs) => {
                let _ = writeln!(report, "{}", table_row(name, &runs));
                results.push((name, runs));
            }
            Err(e) => {
                let _ = writeln!(report, "| {name} | skipped: {e} |||||||||");
            }
        }
    }
    let _ = writeln!(report, "\n## Targets\n");
    for (name, runs) in &results {
        for line in targets(name, runs) {
            let _ = writeln!(report, "- {line}");
        }
    }
    print!("{report}");
    std::fs::create_dir_all(&root).expect("results/learning can be created");
    sim::output::write_bytes_atomically(&root.join("TARGETS.md"), report.as_bytes())
        .expect("TARGETS.md can be written");
}

/// `--seeds N` (default 5) and `--jobs J` (default: all cores).
fn parse_args() -> (u64, Option<usize>) {
    let mut seeds = 5;
    let mut jobs = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .unwrap_or_else(|| {
                    eprintln!("{arg} needs a positive integer ({what})");
                    std::process::exit(2)
                })
        };
        match arg.as_str() {
            "--seeds" => seeds = value("number of seeds") as u64,
            "--jobs" => jobs = Some(value("worker threads")),
            _ => {
                eprintln!("usage: learning_targets [--seeds N] [--jobs J]");
                std::process::exit(2)
            }
        }
    }
    (seeds, jobs)
}

/// Runs `path` for seeds `1..=seeds` with the isolated baseline, in parallel.
fn run_seeds(path: &Path, out: &Path, seeds: u64) -> Result<Vec<Run>, String> {
    (1..=seeds)
        .into_par_iter()
        .map(|seed| {
            let dir = out.join(format!("seed-{seed}"));
            let options = RunOptions {
                seed: Some(seed),
                out: Some(dir.clone()),
                baselines: vec![Baseline::Isolated],
                // This example owns results/learning/ and regenerates it
                // after the example scenarios change.
                force: true,
                ..RunOptions::default()
            };
            runner::run_file(path, &options, &mut |_| {}).map_err(|e| e.to_string())?;
            read_run(&dir)
        })
        .collect()
}

fn read_run(dir: &Path) -> Result<Run, String> {
    let text = std::fs::read_to_string(dir.join("summary.json")).map_err(|e| e.to_string())?;
    let summary: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let c = &summary["comparison"];
    let heldout = &summary["references"]["heldout"];
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    Ok(Run {
        swarm: number(&c["swarm_rmse"]),
        isolated: number(&c["isolated_rmse"]),
        persistence: number(&heldout["persistence"]),
        local_ls: number(&heldout["local_ls"]),
        central_ls: number(&c["central_ls_rmse"]),
        rounds_swarm: c["rounds_to_within_5pct_of_central"].as_u64(),
        rounds_isolated: c["isolated_rounds_to_within_5pct_of_central"].as_u64(),
        bytes_per_node_round: number(&summary["model_bytes_per_node_round"]),
        curve_swarm: heldout_curve(&dir.join("rounds.csv"))?,
        curve_isolated: heldout_curve(&dir.join("baseline-isolated").join("rounds.csv"))?,
    })
}

/// The `rmse_heldout` column of a `rounds.csv`, in round order.
fn heldout_curve(path: &Path) -> Result<Vec<f64>, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = headers
        .iter()
        .position(|h| h == "rmse_heldout")
        .ok_or_else(|| format!("{}: no rmse_heldout column", path.display()))?;
    reader
        .records()
        .map(|r| {
            let record = r.map_err(|e| e.to_string())?;
            Ok(record[column].parse::<f64>().unwrap_or(f64::NAN))
        })
        .collect()
}

fn cell(runs: &[Run], f: fn(&Run) -> f64) -> String {
    let (mean, sd) = measure::mean_sd(&runs.iter().map(f).collect::<Vec<_>>());
    format!("{mean:.4} ± {sd:.4}")
}

fn pct(runs: &[Run], f: fn(&Run) -> f64) -> String {
    let (mean, sd) = measure::mean_sd(
        &runs
            .iter()
            .map(|r| 100.0 * (f(r) / r.central_ls - 1.0))
            .collect::<Vec<_>>(),
    );
    format!("{mean:+.1} ± {sd:.1} %")
}

fn rounds(runs: &[Run], f: fn(&Run) -> Option<u64>) -> String {
    let list: Vec<String> = runs
        .iter()
        .map(|r| f(r).map_or("never".to_string(), |n| n.to_string()))
        .collect();
    list.join(", ")
}

fn table_row(name: &str, runs: &[Run]) -> String {
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {:.1} |",
        cell(runs, |r| r.swarm),
        cell(runs, |r| r.isolated),
        cell(runs, |r| r.persistence),
        cell(runs, |r| r.local_ls),
        cell(runs, |r| r.central_ls),
        pct(runs, |r| r.swarm),
        pct(runs, |r| r.isolated),
        rounds(runs, |r| r.rounds_swarm),
        rounds(runs, |r| r.rounds_isolated),
        measure::mean_sd(
            &runs
                .iter()
                .map(|r| r.bytes_per_node_round)
                .collect::<Vec<_>>()
        )
        .0,
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**not met**" }
}

/// The issue's targets that apply to `name`, each with its measurement.
fn targets(name: &str, runs: &[Run]) -> Vec<String> {
    match name {
        "smoothsine-100" => {
            let at_50: Vec<f64> = runs
                .iter()
                .map(|r| trailing_mean(&r.curve_swarm, 50) / r.central_ls - 1.0)
                .collect();
            let worst_50 = at_50.iter().cloned().fold(f64::MIN, f64::max);
            let (behind, worst) = behind_isolated(runs, 20);
            vec![
                format!(
                    "{name}: swarm within 2 % of the central optimum by round 50 (5-round mean at round 50): worst seed {:+.2} % — {}",
                    100.0 * worst_50,
                    verdict(worst_50 <= 0.02)
                ),
                format!(
                    "{name}: swarm no worse than isolated at any round after 20: {behind} of {} seed-rounds worse, by at most {:+.2} % — {}",
                    runs.iter()
                        .map(|r| r.curve_swarm.len().saturating_sub(20))
                        .sum::<usize>(),
                    100.0 * worst,
                    verdict(behind == 0)
                ),
            ]
        }
        "smoothsine-sparse" | "smoothsine-noisy" => {
            let ratios: Vec<f64> = runs
                .iter()
                .map(|r| (r.swarm / r.central_ls - 1.0) / (r.isolated / r.central_ls - 1.0))
                .collect();
            let worst = ratios.iter().cloned().fold(f64::MIN, f64::max);
            vec![format!(
                "{name}: swarm's excess over the central optimum at most a third of isolated's: worst seed ratio {worst:.2} — {}",
                verdict(worst <= 1.0 / 3.0)
            )]
        }
        "ecg5000-100" => {
            let beats = runs.iter().all(|r| r.swarm < r.persistence);
            let worst = runs
                .iter()
                .map(|r| r.swarm / r.central_ls - 1.0)
                .fold(f64::MIN, f64::max);
            vec![format!(
                "{name}: swarm better than persistence in every seed ({}) and within 5 % of the central optimum (worst seed {:+.2} %) — {}",
                if beats { "yes" } else { "no" },
                100.0 * worst,
                verdict(beats && worst <= 0.05)
            )]
        }
        _ => Vec::new(),
    }
}

/// Mean of the 5 rounds ending at `round` (1-based).
fn trailing_mean(curve: &[f64], round: usize) -> f64 {
    let window = &curve[round.saturating_sub(5)..round.min(curve.len())];
    window.iter().sum::<f64>() / window.len() as f64
}

/// Seed-rounds after `after` where the swarm's held-out RMSE exceeds the
/// isolated run's, and the largest relative excess.
fn behind_isolated(runs: &[Run], after: usize) -> (usize, f64) {
    let mut count = 0;
    let mut worst = f64::MIN;
    for r in runs {
        for (s, i) in r.curve_swarm.iter().zip(&r.curve_isolated).skip(after) {
            worst = worst.max(s / i - 1.0);
            count += usize::from(s > i);
        }
    }
    (count, worst)
}
