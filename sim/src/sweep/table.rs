//! The tidy sweep CSV (one row per run) and `raas merge` of shard CSVs.
//!
//! Columns: `run_index` (the run's place in canonical order), `point` (its
//! directory name), one column per grid key named by its dotted path (in
//! written order), `seed`, then [`FIGURES`] from the run's `summary.json`,
//! each cell the JSON number's text, empty when the value is `null` or
//! absent.
//!
//! Ordering contract: rows are sorted by `run_index`, so a sweep's CSV is
//! the same bytes whatever `--jobs`, and the merge of its shards (rows
//! re-sorted by `run_index`, cells copied verbatim) is the same bytes as
//! the unsharded CSV.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::output;

/// The figures copied from `summary.json`: column name and JSON path.
pub const FIGURES: [(&str, &[&str]); 15] = [
    ("rmse_online", &["final", "rmse_online"]),
    ("rmse_clean", &["final", "rmse_clean"]),
    ("rmse_heldout", &["final", "rmse_heldout"]),
    ("consensus_distance", &["final", "consensus_distance"]),
    ("swarm_rmse", &["comparison", "swarm_rmse"]),
    ("isolated_rmse", &["comparison", "isolated_rmse"]),
    ("central_ls_rmse", &["comparison", "central_ls_rmse"]),
    (
        "gain_over_isolated_pct",
        &["comparison", "gain_over_isolated_pct"],
    ),
    (
        "excess_over_central_pct",
        &["comparison", "excess_over_central_pct"],
    ),
    (
        "rounds_to_within_5pct_of_central",
        &["comparison", "rounds_to_within_5pct_of_central"],
    ),
    (
        "model_bytes_per_node_round",
        &["model_bytes_per_node_round"],
    ),
    ("honest_drift_pct", &["adversary", "honest_drift_pct"]),
    ("attackers", &["adversary", "attackers"]),
    ("attackers_detected", &["adversary", "detected_final"]),
    (
        "detection_round_mean",
        &["adversary", "detection_round_mean"],
    ),
];

/// Name of the first column.
pub const RUN_INDEX: &str = "run_index";

/// The CSV header for grid `keys`.
pub fn header(keys: &[String]) -> Vec<String> {
    let mut header = vec![RUN_INDEX.to_string(), "point".to_string()];
    header.extend(keys.iter().cloned());
    header.push("seed".to_string());
    header.extend(FIGURES.iter().map(|(name, _)| name.to_string()));
    header
}

/// The figure cells of a run from its parsed `summary.json`.
pub fn figures(summary: &serde_json::Value) -> Vec<String> {
    FIGURES
        .iter()
        .map(|(_, path)| {
            let value = path.iter().try_fold(summary, |v, k| v.get(k));
            match value {
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            }
        })
        .collect()
}

/// Writes `header` and `rows` to `path` atomically.
pub fn write(path: &Path, header: &[String], rows: &[Vec<String>]) -> std::io::Result<()> {
    output::write_atomically(path, |w| {
        let mut writer = csv::Writer::from_writer(w);
        writer.write_record(header).map_err(std::io::Error::other)?;
        for row in rows {
            writer.write_record(row).map_err(std::io::Error::other)?;
        }
        writer.flush()
    })
}

/// Why shard CSVs could not be merged (exit 2, except [`MergeError::Write`]).
#[derive(Debug)]
pub enum MergeError {
    /// A shard could not be read or is not a well-formed CSV.
    Read(PathBuf, String),
    /// A shard's header differs from the first shard's.
    Header {
        /// The shard.
        path: PathBuf,
        /// The first shard's header.
        expected: String,
        /// This shard's.
        found: String,
    },
    /// A `run_index` cell is not a number.
    BadIndex(PathBuf, usize, String),
    /// The same run in two rows.
    Duplicate(usize, PathBuf, PathBuf),
    /// Runs absent from every shard.
    Missing(Vec<usize>),
    /// The `sweep-shard-I-of-N.csv` names do not cover every shard once,
    /// or a row is in the wrong shard.
    Shards(String),
    /// Writing the merged CSV failed (exit 1).
    Write(PathBuf, std::io::Error),
}

impl MergeError {
    /// 2 for bad input, 1 when writing failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            MergeError::Write(..) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Read(path, e) => {
                write!(f, "{}: cannot read shard CSV: {e}", path.display())
            }
            MergeError::Header {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: header differs from the first shard's (shards of different sweeps?)\n  \
                 expected: {expected}\n  found:    {found}",
                path.display()
            ),
            MergeError::BadIndex(path, line, cell) => write!(
                f,
                "{}:{line}: expected a run number in `{RUN_INDEX}`, found {cell:?}",
                path.display()
            ),
            MergeError::Duplicate(run, a, b) => write!(
                f,
                "run {run} appears twice: in {} and in {} (a shard given twice?)",
                a.display(),
                b.display()
            ),
            MergeError::Missing(runs) => {
                let shown: Vec<String> = runs.iter().take(20).map(ToString::to_string).collect();
                write!(
                    f,
                    "{} run(s) missing from the shards: {}{} (a shard not given, or not finished?)",
                    runs.len(),
                    shown.join(", "),
                    if runs.len() > 20 { ", …" } else { "" }
                )
            }
            MergeError::Shards(message) => f.write_str(message),
            MergeError::Write(path, e) => write!(f, "{}: cannot write: {e}", path.display()),
        }
    }
}

impl std::error::Error for MergeError {}

/// `sweep-shard-I-of-N.csv` → (I, N).
pub fn shard_of_file_name(path: &Path) -> Option<(usize, usize)> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("sweep-shard-")?.strip_suffix(".csv")?;
    let (i, n) = rest.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// What `raas merge` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// Rows written.
    pub rows: usize,
    /// Shards read.
    pub shards: usize,
}

/// Merges shard CSVs into `out` (see the module docs). Refuses differing
/// headers, a run in two rows, gaps in the run numbers and, when every
/// input is named `sweep-shard-I-of-N.csv`, a missing or repeated shard
/// or a row in the wrong shard.
pub fn merge(out: &Path, inputs: &[PathBuf]) -> Result<Merged, MergeError> {
    let named: Option<Vec<(usize, usize)>> = inputs.iter().map(|p| shard_of_file_name(p)).collect();
    if let Some(named) = &named {
        check_shard_names(inputs, named)?;
    }
    let mut header: Option<(PathBuf, Vec<String>)> = None;
    let mut rows: Vec<(usize, usize, Vec<String>)> = Vec::new();
    for (input, path) in inputs.iter().enumerate() {
        let read_error = |e: &dyn fmt::Display| MergeError::Read(path.clone(), e.to_string());
        let mut reader = csv::Reader::from_path(path).map_err(|e| read_error(&e))?;
        let this: Vec<String> = reader
            .headers()
            .map_err(|e| read_error(&e))?
            .iter()
            .map(str::to_string)
            .collect();
        if this.first().map(String::as_str) != Some(RUN_INDEX) {
            return Err(read_error(&format_args!(
                "expected a sweep CSV whose first column is `{RUN_INDEX}`"
            )));
        }
        match &header {
            None => header = Some((path.clone(), this)),
            Some((_, first)) if *first != this => {
                return Err(MergeError::Header {
                    path: path.clone(),
                    expected: first.join(","),
                    found: this.join(","),
                });
            }
            Some(_) => {}
        }
        for record in reader.records() {
            let record = record.map_err(|e| read_error(&e))?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            let cell = &record[0];
            let run: usize = cell
                .parse()
                .map_err(|_| MergeError::BadIndex(path.clone(), line, cell.to_string()))?;
            if let Some((i, n)) = named.as_ref().map(|n| n[input])
                && run % n != i
            {
                return Err(MergeError::Shards(format!(
                    "{}:{line}: run {run} does not belong to shard {i}/{n}",
                    path.display()
                )));
            }
            rows.push((run, input, record.iter().map(str::to_string).collect()));
        }
    }
    let (_, header) = header.expect("at least one input");
    rows.sort_by_key(|(run, _, _)| *run);
    if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(MergeError::Duplicate(
            w[0].0,
            inputs[w[0].1].clone(),
            inputs[w[1].1].clone(),
        ));
    }
    let missing: Vec<usize> = {
        let mut present = rows.iter().map(|(run, _, _)| *run).peekable();
        let end = rows.last().map_or(0, |(run, _, _)| run + 1);
        (0..end)
            .filter(|&r| {
                if present.peek() == Some(&r) {
                    present.next();
                    false
                } else {
                    true
                }
            })
            .collect()
    };
    if !missing.is_empty() {
        return Err(MergeError::Missing(missing));
    }
    let count = rows.len();
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, _, r)| r).collect();
    write(out, &header, &rows).map_err(|e| MergeError::Write(out.to_path_buf(), e))?;
    Ok(Merged {
        rows: count,
        shards: inputs.len(),
    })
}

fn check_shard_names(inputs: &[PathBuf], named: &[(usize, usize)]) -> Result<(), MergeError> {
    let n = named[0].1;
    if let Some(k) = named.iter().position(|&(i, m)| m != n || i >= n) {
        return Err(MergeError::Shards(format!(
            "{}: shard {}/{} does not fit {} (the first input's count of shards)",
            inputs[k].display(),
            named[k].0,
            named[k].1,
            n
        )));
    }
    let mut seen = vec![None; n];
    for (k, &(i, _)) in named.iter().enumerate() {
        if let Some(earlier) = seen[i].replace(k) {
            return Err(MergeError::Shards(format!(
                "shard {i}/{n} given twice: {} and {}",
                inputs[earlier].display(),
                inputs[k].display()
            )));
        }
    }
    let absent: Vec<String> = (0..n)
        .filter(|&i| seen[i].is_none())
        .map(|i| format!("sweep-shard-{i}-of-{n}.csv"))
        .collect();
    if !absent.is_empty() {
        return Err(MergeError::Shards(format!(
            "missing shard file(s): {} (did those array tasks fail or not run?)",
            absent.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names() {
        assert_eq!(
            shard_of_file_name(Path::new("x/sweep-shard-1-of-4.csv")),
            Some((1, 4))
        );
        assert_eq!(shard_of_file_name(Path::new("sweep.csv")), None);
    }

    #[test]
    fn null_and_absent_figures_are_empty_cells() {
        let summary = serde_json::json!({
            "final": {"rmse_online": 0.25, "rmse_heldout": null},
            "comparison": {"rounds_to_within_5pct_of_central": 12},
        });
        let cells = figures(&summary);
        assert_eq!(cells[0], "0.25");
        assert_eq!(cells[1], "");
        assert_eq!(cells[2], "");
        assert_eq!(cells[9], "12");
    }
}
