//! The result files of one run as the plots read them: `rounds.csv`,
//! `summary.json` (optional: scenario name, node count, references,
//! baselines) and each baseline's `rounds.csv`; and where the runs of an
//! input directory are.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::PlotError;
use super::table::Table;

/// The central least-squares optimum and persistence on one kind of data
/// (`summary.json` `references.heldout` or `.online`); NaN when unknown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceLines {
    /// `central_ls`.
    pub central_ls: f64,
    /// `persistence`.
    pub persistence: f64,
}

/// One run directory, read.
#[derive(Clone, Debug)]
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// Scenario name (`summary.json`, else the `scenario` column).
    pub scenario: String,
    /// Nodes in the swarm (`summary.json` `nodes`, else the largest
    /// `honest_nodes`).
    pub nodes: f64,
    /// The main run's `rounds.csv`.
    pub rounds: Table,
    /// `references.heldout` and `references.online`, when `summary.json`
    /// exists.
    pub references: Option<(ReferenceLines, ReferenceLines)>,
    /// Each baseline that belongs to the run (`summary.json` `baselines`,
    /// else every `baseline-*/` present), by name, with its `rounds.csv`.
    pub baselines: Vec<(String, Table)>,
}

impl Run {
    /// Reads the run in `dir`.
    pub fn read(dir: &Path) -> Result<Run, PlotError> {
        let rounds = Table::read(&dir.join("rounds.csv"))?;
        let summary_path = dir.join("summary.json");
        let summary = if summary_path.is_file() {
            let bytes = std::fs::read(&summary_path)
                .map_err(|e| PlotError::Read(summary_path.clone(), e))?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| PlotError::Summary(summary_path.clone(), e.to_string()))?;
            Some(value)
        } else {
            None
        };
        let scenario = match summary.as_ref().and_then(|s| s["scenario"].as_str()) {
            Some(name) => name.to_string(),
            None if rounds.has("scenario") => rounds.text("scenario")?[0].to_string(),
            None => dir_name(dir),
        };
        let nodes = match summary.as_ref().and_then(|s| s["nodes"].as_f64()) {
            Some(n) => n,
            None => rounds
                .floats("honest_nodes")?
                .into_iter()
                .fold(f64::NAN, f64::max),
        };
        let references = match &summary {
            Some(s) => Some((
                reference_lines(&summary_path, &s["references"]["heldout"])?,
                reference_lines(&summary_path, &s["references"]["online"])?,
            )),
            None => None,
        };
        let names = match &summary {
            Some(s) => listed_baselines(&summary_path, s)?,
            None => present_baselines(dir)?,
        };
        let baselines = names
            .into_iter()
            .map(|name| {
                let table = Table::read(&dir.join(format!("baseline-{name}")).join("rounds.csv"))?;
                Ok((name, table))
            })
            .collect::<Result<Vec<_>, PlotError>>()?;
        Ok(Run {
            dir: dir.to_path_buf(),
            scenario,
            nodes,
            rounds,
            references,
            baselines,
        })
    }
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn reference_lines(file: &Path, figures: &Value) -> Result<ReferenceLines, PlotError> {
    if !figures.is_object() {
        return Err(PlotError::Summary(
            file.to_path_buf(),
            "no `references.heldout` / `references.online` object".into(),
        ));
    }
    // `null` is how summary.json writes NaN.
    let figure = |key: &str| figures[key].as_f64().unwrap_or(f64::NAN);
    Ok(ReferenceLines {
        central_ls: figure("central_ls"),
        persistence: figure("persistence"),
    })
}

fn listed_baselines(file: &Path, summary: &Value) -> Result<Vec<String>, PlotError> {
    let Some(list) = summary["baselines"].as_array() else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|b| {
            b.as_str().map(str::to_string).ok_or_else(|| {
                PlotError::Summary(file.to_path_buf(), "`baselines` holds a non-string".into())
            })
        })
        .collect()
}

fn present_baselines(dir: &Path) -> Result<Vec<String>, PlotError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| PlotError::Read(dir.to_path_buf(), e))? {
        let path = entry
            .map_err(|e| PlotError::Read(dir.to_path_buf(), e))?
            .path();
        let name = dir_name(&path);
        if let Some(baseline) = name.strip_prefix("baseline-")
            && path.join("rounds.csv").is_file()
        {
            names.push(baseline.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The run directories of `path`: `path` itself when it holds
/// `rounds.csv`, else its `seed-*/` subdirectories that do, in seed order.
pub fn find_runs(path: &Path) -> Result<Vec<PathBuf>, PlotError> {
    if !path.exists() {
        return Err(PlotError::NotFound(path.to_path_buf()));
    }
    if path.join("rounds.csv").is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(PlotError::NoRuns(path.to_path_buf()));
    }
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| PlotError::Read(path.to_path_buf(), e))? {
        let dir = entry
            .map_err(|e| PlotError::Read(path.to_path_buf(), e))?
            .path();
        let name = dir_name(&dir);
        if let Some(seed) = name.strip_prefix("seed-")
            && dir.join("rounds.csv").is_file()
        {
            // Numeric seeds first in numeric order, then any others by name.
            seeds.push((seed.parse::<u64>().ok(), name.clone(), dir));
        }
    }
    if seeds.is_empty() {
        return Err(PlotError::NoRuns(path.to_path_buf()));
    }
    seeds.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    Ok(seeds.into_iter().map(|(_, _, dir)| dir).collect())
}
