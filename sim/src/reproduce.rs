//! `raas reproduce`: every paper claim of `scenarios/paper/` measured over
//! seeds, judged, and written to `results/paper/REPRODUCTION.md`.
//!
//! ## Order and determinism
//!
//! Claim scenarios are read in file-name order; a claim's runs execute in
//! parallel on a rayon pool of `--jobs` threads, but their figures are
//! gathered in seed order and claims are measured one after the other, so
//! `REPRODUCTION.md` and every run directory are byte-identical for any
//! `--jobs`. Wall times go to `results/paper/timing.json` only.
//!
//! A claim names its measurement in its `[claim]` table ([`claim`]); the
//! procedures are in [`measure`] (and [`hysteresis`] for the paper's
//! scripted regime experiment); [`report`] makes the table.

pub mod byzantine;
pub mod claim;
pub mod hysteresis;
pub mod measure;
pub mod memory;
pub mod persistence;
pub mod report;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant as WallClock;

use crate::scenario::{Scenario, ScenarioError};
use claim::ClaimConfig;
use report::Row;

/// How to reproduce.
#[derive(Clone, Debug)]
pub struct ReproduceOptions {
    /// Seeds `1..=seeds` per claim.
    pub seeds: u64,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    /// Only these claim ids (all when empty).
    pub only: Vec<String>,
    /// Where the paper scenarios are.
    pub scenarios: PathBuf,
    /// Where results go.
    pub out: PathBuf,
}

impl Default for ReproduceOptions {
    fn default() -> Self {
        ReproduceOptions {
            seeds: 5,
            jobs: None,
            only: Vec::new(),
            scenarios: PathBuf::from("scenarios/paper"),
            out: PathBuf::from("results/paper"),
        }
    }
}

/// Why reproduction stopped; [`ReproduceError::exit_code`] maps it.
#[derive(Debug)]
pub enum ReproduceError {
    /// A paper scenario is malformed (exit 2).
    Scenario(ScenarioError),
    /// A paper scenario lacks a `[claim]` or its id is not its file stem (exit 2).
    Claim(PathBuf, String),
    /// `--only` names a claim that does not exist (exit 2).
    UnknownClaim(String, Vec<String>),
    /// A run failed (exit 1).
    Run(PathBuf, String),
    /// Reading or writing a file failed (exit 1).
    Io(PathBuf, std::io::Error),
}

impl ReproduceError {
    /// 2 for bad input, 1 for a failure while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReproduceError::Scenario(_)
            | ReproduceError::Claim(..)
            | ReproduceError::UnknownClaim(..) => 2,
            ReproduceError::Run(..) | ReproduceError::Io(..) => 1,
        }
    }
}

impl fmt::Display for ReproduceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReproduceError::Scenario(e) => write!(f, "{e}"),
            ReproduceError::Claim(path, m) => write!(f, "{}: [claim]: {m}", path.display()),
            ReproduceError::UnknownClaim(id, known) => {
                write!(f, "--only {id}: no such claim; known: {}", known.join(", "))
            }
            ReproduceError::Run(path, m) => write!(f, "{}: {m}", path.display()),
            ReproduceError::Io(path, e) => write!(f, "{}: {e}", path.display()),
        }
    }
}

impl std::error::Error for ReproduceError {}

/// One loaded paper scenario.
struct Paper {
    path: PathBuf,
    text: String,
    scenario: Scenario,
    claim: ClaimConfig,
}

/// What a finished reproduction produced.
#[derive(Debug)]
pub struct Outcome {
    /// One row per claim, in file-name order.
    pub rows: Vec<Row>,
    /// The report's path.
    pub report: PathBuf,
    /// Wall-clock seconds.
    pub wall_s: f64,
}

/// Loads every paper scenario (sorted by file name) and keeps `only`.
fn load(options: &ReproduceOptions) -> Result<Vec<Paper>, ReproduceError> {
    let dir = &options.scenarios;
    let entries = std::fs::read_dir(dir).map_err(|e| ReproduceError::Io(dir.clone(), e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut papers = Vec::new();
    for path in paths {
        let text =
            std::fs::read_to_string(&path).map_err(|e| ReproduceError::Io(path.clone(), e))?;
        let scenario = Scenario::parse(&path, &text).map_err(ReproduceError::Scenario)?;
        let claim = scenario.claim.clone().ok_or_else(|| {
            ReproduceError::Claim(path.clone(), "missing: a paper scenario needs one".into())
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if claim.id != stem {
            let m = format!("id {:?} must equal the file name {stem:?}", claim.id);
            return Err(ReproduceError::Claim(path.clone(), m));
        }
        papers.push(Paper {
            path,
            text,
            scenario,
            claim,
        });
    }
    let known: Vec<String> = papers.iter().map(|p| p.claim.id.clone()).collect();
    for id in &options.only {
        if !known.contains(id) {
            return Err(ReproduceError::UnknownClaim(id.clone(), known.clone()));
        }
    }
    papers.retain(|p| options.only.is_empty() || options.only.contains(&p.claim.id));
    Ok(papers)
}

/// Runs the suite. `progress(done, total)` is called after every run.
pub fn reproduce(
    options: &ReproduceOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Outcome, ReproduceError> {
    let started = WallClock::now();
    let papers = load(options)?;
    let total: u64 = papers
        .iter()
        .map(|p| measure::runs_needed(&p.claim, options.seeds))
        .sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    let tick = || {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(n, total);
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = options.jobs {
        pool = pool.num_threads(jobs);
    }
    let pool = pool
        .build()
        .map_err(|e| ReproduceError::Run(options.out.clone(), e.to_string()))?;
    let rows = pool.install(|| -> Result<Vec<Row>, ReproduceError> {
        papers
            .iter()
            .map(|p| {
                measure::measure(&measure::Context {
                    path: &p.path,
                    text: &p.text,
                    scenario: &p.scenario,
                    claim: &p.claim,
                    seeds: options.seeds,
                    out: options.out.join(&p.claim.id),
                    tick: &tick,
                })
            })
            .collect()
    })?;
    for p in &papers {
        plot_claim(&options.out.join(&p.claim.id))?;
    }
    let report = write_report(&options.out, &rows, options.seeds, options.only.is_empty())?;
    let wall_s = started.elapsed().as_secs_f64();
    write_timing(&options.out, wall_s, options.seeds)?;
    Ok(Outcome {
        rows,
        report,
        wall_s,
    })
}

/// Draws the plots of every set of seed runs under a claim's directory
/// (`<claim>/seed-*` and one level of variants, `<claim>/<variant>/seed-*`)
/// into the directory holding the seeds.
fn plot_claim(dir: &Path) -> Result<(), ReproduceError> {
    let mut sets = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut variants: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir() && !is_seed_dir(p))
            .collect();
        variants.sort();
        sets.extend(variants);
    }
    for set in sets {
        let has_seeds = std::fs::read_dir(&set)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .any(|e| is_seed_dir(&e.path()))
            })
            .unwrap_or(false);
        if has_seeds {
            crate::plot::plot_dir(&set, None)
                .map_err(|e| ReproduceError::Run(set.clone(), e.to_string()))?;
        }
    }
    Ok(())
}

fn is_seed_dir(path: &Path) -> bool {
    path.is_dir()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seed-"))
}

/// Writes `REPRODUCTION.md` (or `REPRODUCTION-partial.md` for `--only`, so
/// a partial run never replaces the full report).
fn write_report(
    out: &Path,
    rows: &[Row],
    seeds: u64,
    complete: bool,
) -> Result<PathBuf, ReproduceError> {
    std::fs::create_dir_all(out).map_err(|e| ReproduceError::Io(out.to_path_buf(), e))?;
    let name = if complete {
        "REPRODUCTION.md"
    } else {
        "REPRODUCTION-partial.md"
    };
    let path = out.join(name);
    crate::output::write_bytes_atomically(&path, report::markdown(rows, seeds).as_bytes())
        .map_err(|e| ReproduceError::Io(path.clone(), e))?;
    Ok(path)
}

fn write_timing(out: &Path, wall_s: f64, seeds: u64) -> Result<(), ReproduceError> {
    let path = out.join("timing.json");
    let json = serde_json::json!({
        "wall_s": wall_s,
        "seeds": seeds,
        "note": "wall-clock measurement: machine-dependent, not part of the results",
    });
    let bytes = serde_json::to_vec_pretty(&json).expect("json serializes");
    crate::output::write_bytes_atomically(&path, &bytes).map_err(|e| ReproduceError::Io(path, e))
}
