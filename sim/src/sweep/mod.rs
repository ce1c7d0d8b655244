//! `raas sweep`: a scenario run over a grid of key values × seeds, in
//! parallel, resumable, shardable across cluster array tasks; and `raas
//! merge` of the shards' CSVs. The file format and layout are documented
//! in `docs/sweeps.md`.
//!
//! Layout: `<out>/runs/<point id>/seed-<n>/` holds each run's usual
//! result files plus `scenario.toml`, the point's scenario text (`raas run`
//! on it with `--seed n` reproduces the run, with the same
//! `scenario_hash`); `<out>/sweep.csv` (or `sweep-shard-I-of-N.csv`) the
//! runs of this invocation, one row each.
//!
//! Ordering contract: runs have a canonical order (`spec`); shard `i/n`
//! owns the runs whose index is `i` mod `n`; each run is computed on its
//! own (the runner's contract) whatever thread picks it; the CSV is built
//! after every run has finished, from the runs' `summary.json` files read
//! in canonical order. So the CSV is the same bytes for any `--jobs`,
//! whether runs were made now or resumed, and the shards' rows together
//! are the unsharded CSV's rows.

pub mod spec;
pub mod table;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant as WallClock;

use rayon::prelude::*;

use crate::baseline::isolated::{self, Baseline};
use crate::runner::{self, RunError, RunOptions};
use crate::scenario::ScenarioError;
pub use spec::{Point, RunRef, Sweep};
pub use table::{MergeError, Merged, merge};

/// `--shard i/n`: this invocation owns the runs with index ≡ i (mod n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index, `< count`.
    pub index: usize,
    /// Number of shards, ≥ 1.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let expected = "expected I/N with 0 ≤ I < N (0-based, e.g. \
                        $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-(N-1))";
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{expected}, found {s:?}"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("{expected}, found {s:?}"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("{expected}, found {s:?}"))?;
        if count == 0 || index >= count {
            return Err(format!("{expected}, found {s:?}"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether run `index` belongs to this shard.
    pub fn owns(self, index: usize) -> bool {
        index % self.count == self.index
    }

    /// The CSV this shard writes.
    pub fn csv_name(self) -> String {
        format!("sweep-shard-{}-of-{}.csv", self.index, self.count)
    }
}

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Output directory; default `<results_root>/sweeps/<name>/`.
    pub out: Option<PathBuf>,
    /// Root of the default layout (`results`).
    pub results_root: PathBuf,
    /// Threads of the sweep's own pool; `None`: one per core.
    pub jobs: Option<usize>,
    /// Only the runs of this shard.
    pub shard: Option<Shard>,
    /// Baselines run beside every run (merged with `run.baselines`).
    pub baselines: Vec<Baseline>,
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// The CSV written.
    pub csv: PathBuf,
    /// Grid points.
    pub points: usize,
    /// Seeds per point.
    pub seeds: usize,
    /// Runs owned by this invocation.
    pub owned: usize,
    /// Runs simulated now.
    pub ran: usize,
    /// Runs skipped: a complete result for the same scenario and seed was
    /// already there.
    pub skipped: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

/// Why a sweep failed.
#[derive(Debug)]
pub enum SweepError {
    /// The sweep file is missing or wrong (exit 2).
    Scenario(ScenarioError),
    /// A run failed (its own exit code); the first failing run in canonical
    /// order is reported.
    Run {
        /// The point's id.
        point: String,
        /// The seed.
        seed: u64,
        /// Why.
        error: RunError,
    },
    /// The thread pool could not start, or a result could not be read back
    /// or written (exit 1).
    Io(PathBuf, String),
}

impl SweepError {
    /// 2 for bad input, 1 for an internal failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            SweepError::Scenario(_) => 2,
            SweepError::Run { error, .. } => error.exit_code(),
            SweepError::Io(..) => 1,
        }
    }
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::Scenario(e) => write!(f, "{e}"),
            SweepError::Run { point, seed, error } => {
                write!(f, "point `{point}`, seed {seed}: {error}")
            }
            SweepError::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for SweepError {}

/// The directory of one run below the sweep's output directory.
pub fn run_dir(out: &Path, point: &Point, seed: u64) -> PathBuf {
    out.join("runs")
        .join(&point.id)
        .join(format!("seed-{seed}"))
}

/// The output directory of `sweep` under `options`.
pub fn out_dir(sweep: &Sweep, options: &SweepOptions) -> PathBuf {
    options
        .out
        .clone()
        .unwrap_or_else(|| options.results_root.join("sweeps").join(&sweep.name))
}

/// Loads the sweep file and runs the runs this invocation owns (skipping
/// complete ones), then writes its CSV. `on_run` is called after each run
/// (made or skipped) with the number owned and whether it was skipped.
pub fn run_file(
    path: &Path,
    options: &SweepOptions,
    on_start: &(dyn Fn(usize) + Sync),
    on_run: &(dyn Fn(bool) + Sync),
) -> Result<SweepOutcome, SweepError> {
    let started = WallClock::now();
    let sweep = Sweep::load(path).map_err(SweepError::Scenario)?;
    let out = out_dir(&sweep, options);
    let owned: Vec<RunRef> = sweep
        .runs()
        .into_iter()
        .filter(|r| options.shard.is_none_or(|s| s.owns(r.index)))
        .collect();
    on_start(owned.len());
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = options.jobs {
        pool = pool.num_threads(jobs);
    }
    let pool = pool
        .thread_name(|i| format!("raas-sweep-{i}"))
        .build()
        .map_err(|e| SweepError::Io(out.clone(), format!("cannot start threads: {e}")))?;
    let results: Vec<Result<bool, SweepError>> = pool.install(|| {
        owned
            .par_iter()
            .map(|run| {
                let result = run_one(&sweep, &out, run, &options.baselines);
                if let Ok(skipped) = result {
                    on_run(skipped);
                }
                result
            })
            .collect()
    });
    let mut skipped = 0;
    for result in results {
        skipped += usize::from(result?);
    }
    let rows = owned
        .iter()
        .map(|run| csv_row(&sweep, &out, run))
        .collect::<Result<Vec<_>, _>>()?;
    let csv = out.join(
        options
            .shard
            .map_or_else(|| "sweep.csv".to_string(), Shard::csv_name),
    );
    table::write(&csv, &table::header(&sweep.keys), &rows)
        .map_err(|e| SweepError::Io(csv.clone(), format!("cannot write: {e}")))?;
    Ok(SweepOutcome {
        csv,
        points: sweep.points.len(),
        seeds: sweep.seeds.len(),
        owned: owned.len(),
        ran: owned.len() - skipped,
        skipped,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Makes one run unless it is complete already; `Ok(true)` when skipped.
fn run_one(
    sweep: &Sweep,
    out: &Path,
    run: &RunRef,
    extra: &[Baseline],
) -> Result<bool, SweepError> {
    let point = &sweep.points[run.point];
    let dir = run_dir(out, point, run.seed);
    let baselines = isolated::merge(&point.scenario.run.baselines, extra);
    if is_complete(&dir, point, run.seed, &baselines) {
        return Ok(true);
    }
    let options = RunOptions {
        seed: Some(run.seed),
        out: Some(dir.clone()),
        results_root: PathBuf::new(),
        baselines: extra.to_vec(),
        // The sweep owns its run directories: an incomplete or outdated run
        // is redone in place.
        force: true,
        ..RunOptions::default()
    };
    let fail = |error| SweepError::Run {
        point: point.id.clone(),
        seed: run.seed,
        error,
    };
    runner::run_text(&sweep.path, &point.text, &options, &mut |_| {}).map_err(fail)?;
    let scenario_path = dir.join("scenario.toml");
    crate::output::write_bytes_atomically(&scenario_path, point.text.as_bytes())
        .map_err(|e| fail(RunError::Io(scenario_path, e)))?;
    Ok(false)
}

/// Whether `dir` holds a complete `summary.json` (written atomically, so
/// present means complete) of this point's scenario text, seed and
/// baselines.
pub fn is_complete(dir: &Path, point: &Point, seed: u64, baselines: &[Baseline]) -> bool {
    let Ok(bytes) = std::fs::read(dir.join("summary.json")) else {
        return false;
    };
    let Ok(summary) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    let hash = format!("fnv1a64:{:016x}", runner::fnv1a64(point.text.as_bytes()));
    let names: Vec<serde_json::Value> = baselines.iter().map(|b| b.name().into()).collect();
    summary.get("scenario_hash").and_then(|h| h.as_str()) == Some(hash.as_str())
        && summary.get("seed").and_then(|s| s.as_u64()) == Some(seed)
        && summary.get("baselines").and_then(|b| b.as_array()) == Some(&names)
}

/// The CSV row of a finished run, from its `summary.json`.
fn csv_row(sweep: &Sweep, out: &Path, run: &RunRef) -> Result<Vec<String>, SweepError> {
    let point = &sweep.points[run.point];
    let path = run_dir(out, point, run.seed).join("summary.json");
    let read_error =
        |e: &dyn fmt::Display| SweepError::Io(path.clone(), format!("cannot read back: {e}"));
    let bytes = std::fs::read(&path).map_err(|e| read_error(&e))?;
    let summary: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| read_error(&e))?;
    let mut row = vec![run.index.to_string(), point.id.clone()];
    row.extend(point.values.iter().cloned());
    row.push(run.seed.to_string());
    row.extend(table::figures(&summary));
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_syntax() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "1", "-1/2", "a/b", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let s = Shard { index: 1, count: 3 };
        let owned: Vec<usize> = (0..8).filter(|&i| s.owns(i)).collect();
        assert_eq!(owned, [1, 4, 7]);
        assert_eq!(s.csv_name(), "sweep-shard-1-of-3.csv");
    }
}
