//! The measurement procedures of `raas reproduce`, one per
//! [`Measure`]: each turns a paper scenario into a [`Row`] of the report.
//!
//! Simulation runs go to `<out>/<claim id>/[<variant>/]seed-<n>/` through
//! the ordinary runner, so every figure can be traced to a run directory
//! holding its `rounds.csv` and `summary.json`. Runs of one claim execute in
//! parallel on the caller's rayon pool; results are gathered in seed order,
//! so rows do not depend on the thread count.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::ReproduceError;
use super::claim::{ClaimConfig, Measure};
use super::report::{self, Row, Verdict};
use crate::baseline::fedavg;
use crate::runner::{self, RunOptions};
use crate::scenario::Scenario;

/// What a measurement is given.
pub struct Context<'a> {
    /// The paper scenario's file.
    pub path: &'a Path,
    /// Its text, for variants.
    pub text: &'a str,
    /// The parsed scenario.
    pub scenario: &'a Scenario,
    /// Its `[claim]`.
    pub claim: &'a ClaimConfig,
    /// Seeds `1..=seeds`.
    pub seeds: u64,
    /// Where this claim's runs go.
    pub out: PathBuf,
    /// Called once per finished run (progress).
    pub tick: &'a (dyn Fn() + Sync),
}

/// Runs that one claim needs (for the progress bar's length).
pub fn runs_needed(claim: &ClaimConfig, seeds: u64) -> u64 {
    match claim.measure {
        Measure::Convergence => seeds,
        Measure::BytesPerDay | Measure::BytesToTarget => 2 * seeds,
        Measure::ConvergenceRate | Measure::Scale => seeds * claim.sizes.len() as u64,
        Measure::RegimeAccuracy => 2 * seeds,
        Measure::Hysteresis | Measure::Determinism | Measure::Pending => 0,
    }
}

/// Measures one claim.
pub fn measure(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    match cx.claim.measure {
        Measure::Convergence => convergence(cx),
        Measure::ConvergenceRate => convergence_rate(cx),
        Measure::Scale => scale(cx),
        Measure::BytesPerDay => bytes_per_day(cx),
        Measure::BytesToTarget => bytes_to_target(cx),
        Measure::Hysteresis => Ok(super::hysteresis::row(cx.claim, cx.seeds)),
        Measure::RegimeAccuracy => regime_accuracy(cx),
        Measure::Determinism => Ok(determinism(cx.claim)),
        Measure::Pending => Ok(Row::pending(cx.claim)),
    }
}

/// The figures read back from one run's `summary.json`.
#[derive(Clone, Debug)]
pub struct RunFigures {
    /// `convergence.consensus_round`.
    pub consensus_round: Option<f64>,
    /// `convergence.learning_round`.
    pub learning_round: Option<f64>,
    /// `final.rmse_heldout`.
    pub rmse_heldout: f64,
    /// `model_bytes_per_node_round`.
    pub model_bytes_per_node_round: f64,
    /// `rounds.csv`'s node-rounds per regime `[calm, prestorm, storm]`,
    /// row by row.
    pub regimes: Vec<[u32; 3]>,
    /// `comparison.rounds_to_within_5pct_of_central`.
    pub rounds_to_5pct: Option<u64>,
    /// `rounds.csv`'s cumulative `tx_bytes_model_update`, row by row.
    pub model_bytes: Vec<u64>,
}

impl RunFigures {
    /// Model-update bytes on the air until the held-out error settled
    /// within 5 % of the central optimum, or `None` if it never did.
    pub fn bytes_to_target(&self) -> Option<u64> {
        let round = usize::try_from(self.rounds_to_5pct?).ok()?;
        self.model_bytes.get(round.checked_sub(1)?).copied()
    }
}

/// Runs `path` for seeds `1..=seeds` into `out/seed-<n>/`, in parallel.
fn run_seeds(
    path: &Path,
    out: &Path,
    seeds: u64,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<RunFigures>, ReproduceError> {
    run_seeds_with(path, out, seeds, tick, Runtime::Node)
}

/// Which node runtime a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runtime {
    /// node-core's gossiping `Node`.
    Node,
    /// The federated-averaging baseline.
    FedAvg,
}

fn run_seeds_with(
    path: &Path,
    out: &Path,
    seeds: u64,
    tick: &(dyn Fn() + Sync),
    runtime: Runtime,
) -> Result<Vec<RunFigures>, ReproduceError> {
    (1..=seeds)
        .into_par_iter()
        .map(|seed| {
            let dir = out.join(format!("seed-{seed}"));
            // reproduce owns results/paper/: a changed paper scenario
            // replaces its earlier runs.
            let options = RunOptions {
                seed: Some(seed),
                out: Some(dir.clone()),
                force: true,
                ..RunOptions::default()
            };
            let result = match runtime {
                Runtime::Node => runner::run_file(path, &options, &mut |_| {}),
                Runtime::FedAvg => runner::run_file_with(
                    path,
                    &options,
                    fedavg::RUNTIME,
                    fedavg::FedAvgNode::new,
                    &mut |_| {},
                ),
            };
            let outcome =
                result.map_err(|e| ReproduceError::Run(path.to_path_buf(), e.to_string()))?;
            tick();
            let figures = read_figures(&outcome.dir)?;
            Ok(figures)
        })
        .collect()
}

fn read_figures(dir: &Path) -> Result<RunFigures, ReproduceError> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ReproduceError::Io(path.clone(), e))?;
    let summary: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ReproduceError::Run(path.clone(), e.to_string()))?;
    let csv_path = dir.join("rounds.csv");
    let mut reader = csv::Reader::from_path(&csv_path)
        .map_err(|e| ReproduceError::Run(csv_path.clone(), e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| ReproduceError::Run(csv_path.clone(), e.to_string()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let columns = [column("calm"), column("prestorm"), column("storm")];
    let bytes_column = column("tx_bytes_model_update");
    let mut regimes = Vec::new();
    let mut model_bytes = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReproduceError::Run(csv_path.clone(), e.to_string()))?;
        let count = |c: Option<usize>| c.and_then(|i| record[i].parse().ok()).unwrap_or(0);
        regimes.push(columns.map(count));
        let bytes = bytes_column
            .and_then(|i| record[i].parse().ok())
            .unwrap_or(0);
        model_bytes.push(bytes);
    }
    Ok(RunFigures {
        consensus_round: summary["convergence"]["consensus_round"].as_f64(),
        learning_round: summary["convergence"]["learning_round"].as_f64(),
        rmse_heldout: summary["final"]["rmse_heldout"]
            .as_f64()
            .unwrap_or(f64::NAN),
        model_bytes_per_node_round: summary["model_bytes_per_node_round"]
            .as_f64()
            .unwrap_or(f64::NAN),
        regimes,
        rounds_to_5pct: summary["comparison"]["rounds_to_within_5pct_of_central"].as_u64(),
        model_bytes,
    })
}

/// Writes a variant of the paper scenario with `edit` applied to its TOML
/// table into `dir/scenario.toml` and returns that path.
fn variant(
    cx: &Context<'_>,
    dir: &Path,
    edit: impl FnOnce(&mut toml::Table),
) -> Result<PathBuf, ReproduceError> {
    let mut table: toml::Table = toml::from_str(cx.text)
        .map_err(|e| ReproduceError::Run(cx.path.to_path_buf(), e.to_string()))?;
    edit(&mut table);
    let text = toml::to_string(&table).expect("a TOML table serializes");
    std::fs::create_dir_all(dir).map_err(|e| ReproduceError::Io(dir.to_path_buf(), e))?;
    let path = dir.join("scenario.toml");
    crate::output::write_bytes_atomically(&path, text.as_bytes())
        .map_err(|e| ReproduceError::Io(path.clone(), e))?;
    Ok(path)
}

fn set(table: &mut toml::Table, section: Option<&str>, key: &str, value: toml::Value) {
    let target = match section {
        None => table,
        Some(name) => table
            .entry(name)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("scenario sections are tables"),
    };
    target.insert(key.to_string(), value);
}

/// Mean and sample standard deviation.
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// "m ± s" of the seeds that have a value, and how many never did.
fn rounds_text(values: &[Option<f64>]) -> String {
    let have: Vec<f64> = values.iter().flatten().copied().collect();
    let never = values.len() - have.len();
    if have.is_empty() {
        return format!("never (0 of {} seeds)", values.len());
    }
    let (m, s) = mean_sd(&have);
    if never == 0 {
        format!("{m:.1} ± {s:.1}")
    } else {
        format!("{m:.1} ± {s:.1} ({never} of {} seeds never)", values.len())
    }
}

fn convergence(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let runs = run_seeds(cx.path, &cx.out, cx.seeds, cx.tick)?;
    let consensus: Vec<Option<f64>> = runs.iter().map(|r| r.consensus_round).collect();
    let learning: Vec<Option<f64>> = runs.iter().map(|r| r.learning_round).collect();
    let system = format!(
        "consensus at round {}; held-out error within 5 % of the central optimum from round {} ({} nodes, {} seeds)",
        rounds_text(&consensus),
        rounds_text(&learning),
        cx.scenario.nodes,
        cx.seeds
    );
    let all: Option<Vec<f64>> = consensus.iter().copied().collect();
    let row = Row::new(cx.claim).system(system);
    Ok(match all {
        Some(values) => report::judge(row, cx.claim, mean_sd(&values).0, "mean consensus round"),
        None => row.verdict(
            Verdict::Differs,
            "some seeds never reach consensus by the rule".to_string(),
        ),
    })
}

fn convergence_rate(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let mut parts = Vec::new();
    let mut means = Vec::new();
    for &nodes in &cx.claim.sizes {
        let dir = cx.out.join(format!("nodes-{nodes}"));
        let path = variant(cx, &dir, |t| set(t, None, "nodes", i64::from(nodes).into()))?;
        let runs = run_seeds(&path, &dir, cx.seeds, cx.tick)?;
        let consensus: Vec<Option<f64>> = runs.iter().map(|r| r.consensus_round).collect();
        parts.push(format!("{nodes}: {}", rounds_text(&consensus)));
        let have: Vec<f64> = consensus.iter().flatten().copied().collect();
        means.push((!have.is_empty()).then(|| mean_sd(&have).0));
    }
    let falling = means
        .windows(2)
        .all(|w| matches!((w[0], w[1]), (Some(a), Some(b)) if b <= a));
    let row = Row::new(cx.claim).system(format!(
        "rounds to consensus by size — {}",
        parts.join("; ")
    ));
    Ok(if falling {
        row.verdict(Verdict::Holds, "rounds fall as the swarm grows".to_string())
    } else {
        row.verdict(
            Verdict::Differs,
            "rounds to consensus do not fall with swarm size: gossip over a k-nearest grid needs more hops as it grows, unlike the paper's central aggregate".to_string(),
        )
    })
}

fn scale(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let mut errors = Vec::new();
    for &nodes in &cx.claim.sizes[..2] {
        let dir = cx.out.join(format!("nodes-{nodes}"));
        let path = variant(cx, &dir, |t| set(t, None, "nodes", i64::from(nodes).into()))?;
        let runs = run_seeds(&path, &dir, cx.seeds, cx.tick)?;
        let values: Vec<f64> = runs.iter().map(|r| r.rmse_heldout).collect();
        errors.push(mean_sd(&values));
    }
    let (small, large) = (errors[0], errors[1]);
    let ratio = large.0 / small.0;
    let (n_small, n_large) = (cx.claim.sizes[0], cx.claim.sizes[1]);
    let row = Row::new(cx.claim).system(format!(
        "{n_large} nodes completed every seed; held-out RMSE {:.4} ± {:.4} against {:.4} ± {:.4} at {n_small} nodes ({:+.1} %)",
        large.0,
        large.1,
        small.0,
        small.1,
        100.0 * (ratio - 1.0)
    ));
    Ok(if ratio <= 1.05 {
        row.verdict(
            Verdict::Holds,
            format!(
                "the {n_large}-node swarm completes and learns within 5 % of the {n_small}-node one"
            ),
        )
    } else {
        row.verdict(
            Verdict::Differs,
            format!("the {n_large}-node swarm completes but learns more than 5 % worse"),
        )
    })
}

/// The swarm's runs and the federated baseline's on the same scenario, the
/// latter on a full-mesh radio (the server must reach every client).
fn swarm_and_fedavg(
    cx: &Context<'_>,
) -> Result<(Vec<RunFigures>, Vec<RunFigures>), ReproduceError> {
    let swarm = run_seeds(cx.path, &cx.out.join("swarm"), cx.seeds, cx.tick)?;
    let dir = cx.out.join("fedavg");
    let path = variant(cx, &dir, |t| {
        if let Some(radio) = t.get_mut("radio").and_then(|r| r.as_table_mut()) {
            radio.remove("k");
            radio.remove("range");
        }
        set(t, Some("radio"), "topology", "full_mesh".into());
    })?;
    let fedavg = run_seeds_with(&path, &dir, cx.seeds, cx.tick, Runtime::FedAvg)?;
    Ok((swarm, fedavg))
}

/// kB of model updates per node per simulated day over a whole run.
fn kb_per_node_day(cx: &Context<'_>, runs: &[RunFigures]) -> (f64, f64) {
    let rounds_per_day = 86_400_000.0 / cx.scenario.run.round_period_ms as f64;
    let values: Vec<f64> = runs
        .iter()
        .map(|r| r.model_bytes_per_node_round * rounds_per_day / 1_000.0)
        .collect();
    mean_sd(&values)
}

fn bytes_per_day(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let (swarm, fedavg) = swarm_and_fedavg(cx)?;
    let (ours, ours_sd) = kb_per_node_day(cx, &swarm);
    let (fl, fl_sd) = kb_per_node_day(cx, &fedavg);
    let ratios: Vec<f64> = swarm
        .iter()
        .zip(&fedavg)
        .map(|(s, f)| f.model_bytes_per_node_round / s.model_bytes_per_node_round)
        .collect();
    let (ratio, ratio_sd) = mean_sd(&ratios);
    let row = Row::new(cx.claim).system(format!(
        "model updates per node per simulated day (one round per {} s, the same {}-word model): gossip {ours:.1} ± {ours_sd:.1} kB, federated averaging {fl:.1} ± {fl_sd:.1} kB; FL / gossip = {ratio:.2} ± {ratio_sd:.2}",
        cx.scenario.run.round_period_ms / 1_000,
        cx.scenario.node.window_len + 1,
    ));
    Ok(report::judge(
        row,
        cx.claim,
        ratio,
        "FL bytes over gossip bytes per day",
    ))
}

fn bytes_to_target(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let (swarm, fedavg) = swarm_and_fedavg(cx)?;
    let text = |runs: &[RunFigures]| {
        let reached: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.bytes_to_target())
            .map(|b| b as f64 / 1_000.0)
            .collect();
        let rounds: Vec<Option<f64>> = runs
            .iter()
            .map(|r| r.rounds_to_5pct.map(|n| n as f64))
            .collect();
        if reached.is_empty() {
            return "never reached".to_string();
        }
        let (m, s) = mean_sd(&reached);
        format!("{m:.1} ± {s:.1} kB by round {}", rounds_text(&rounds))
    };
    let ratios: Vec<f64> = swarm
        .iter()
        .zip(&fedavg)
        .filter_map(|(s, f)| Some(f.bytes_to_target()? as f64 / s.bytes_to_target()? as f64))
        .collect();
    let row = Row::new(cx.claim).system(format!(
        "model-update bytes on the air until the held-out error stays within 5 % of the central optimum: gossip {}, federated averaging {}",
        text(&swarm),
        text(&fedavg)
    ));
    if ratios.len() < swarm.len() {
        return Ok(row.verdict(
            Verdict::CannotReproduce,
            "in some seeds one of the two never reached the target".to_string(),
        ));
    }
    let (ratio, ratio_sd) = mean_sd(&ratios);
    let row = Row {
        system: format!("{}; FL / gossip = {ratio:.2} ± {ratio_sd:.2}", row.system),
        ..row
    };
    Ok(report::judge(
        row,
        cx.claim,
        ratio,
        "FL bytes over gossip bytes to the target",
    ))
}

fn regime_accuracy(cx: &Context<'_>) -> Result<Row, ReproduceError> {
    let storm = cx
        .scenario
        .dataset
        .storms()
        .first()
        .ok_or_else(|| ReproduceError::Claim(cx.path.to_path_buf(), "needs a storm".into()))?;
    let round_s = cx.scenario.run.round_period_ms as f64 / 1_000.0;
    let storm_rounds = (storm.start_s / round_s, storm.end_s / round_s);
    let mut parts = Vec::new();
    let mut shares = Vec::new();
    for (label, base) in [("with hysteresis", 3_i64), ("without", 1)] {
        let dir = cx.out.join(format!("hysteresis-{base}"));
        let path = variant(cx, &dir, |t| {
            set(t, Some("node"), "hysteresis_base", base.into());
        })?;
        let runs = run_seeds(&path, &dir, cx.seeds, cx.tick)?;
        let accuracy: Vec<f64> = runs
            .iter()
            .map(|r| regime_match(&r.regimes, storm_rounds))
            .collect();
        let (m, s) = mean_sd(&accuracy);
        parts.push(format!("{label} {:.1} ± {:.1} %", 100.0 * m, 100.0 * s));
        shares.push(m);
    }
    let row = Row::new(cx.claim).system(format!(
        "node-rounds whose regime matches the storm schedule (Storm inside it, Calm outside): {}",
        parts.join(", ")
    ));
    Ok(report::judge(
        row,
        cx.claim,
        100.0 * shares[0],
        "accuracy with hysteresis (%)",
    ))
}

/// Share of node-rounds in the regime the storm schedule says: Storm for
/// rounds ending inside `(start, end]` storm rounds, Calm otherwise.
fn regime_match(regimes: &[[u32; 3]], storm_rounds: (f64, f64)) -> f64 {
    let mut right = 0_u64;
    let mut total = 0_u64;
    for (i, [calm, prestorm, storm]) in regimes.iter().enumerate() {
        let round = (i + 1) as f64;
        let in_storm = round > storm_rounds.0 && round <= storm_rounds.1;
        right += u64::from(if in_storm { *storm } else { *calm });
        total += u64::from(calm + prestorm + storm);
    }
    right as f64 / total.max(1) as f64
}

fn determinism(claim: &ClaimConfig) -> Row {
    let here = node_core::digest::canonical_digest();
    let pinned = node_core::digest::CANONICAL_DIGEST;
    let row = Row::new(claim).system(format!(
        "node-core's canonical digest here: {here:#018x} (pinned {pinned:#018x}); CI recomputes it on x86_64, riscv32imac bare-metal under QEMU and wasm32-wasip1 under Node.js"
    ));
    if here != pinned {
        return row.verdict(
            Verdict::Differs,
            "the digest computed here differs from the pinned one".to_string(),
        );
    }
    row.verdict(
        Verdict::CannotReproduce,
        "bit-identical on the three architectures CI runs; ARM is not checked yet (the paper checked none)".to_string(),
    )
}
