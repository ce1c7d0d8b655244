//! `raas plot`: plots regenerated from result files, without running
//! anything.
//!
//! Input: a run directory (`rounds.csv`, `summary.json`, maybe
//! `baseline-<name>/`), or a directory of runs of one scenario
//! (`<dir>/seed-*/`), whose seeds are drawn as a mean with a min–max band.
//! Output: `learning-curve`, `consensus`, `regimes` and `model-bytes`, each
//! as `.png` and `.svg`, next to the data (or into another directory), each
//! written atomically. The same files give byte-identical plots.
//!
//! Or a sweep CSV (one row per run): a metric against a parameter column,
//! see [`sweep`], or over a grid of two parameter columns as a heatmap,
//! see [`heatmap`].
//!
//! One concept per file: [`table`] reads CSV columns by name, [`run`] a
//! run's files, [`figures`] turns runs into [`figure::Figure`]s (what is
//! drawn), [`render`] draws them, [`error`] says what went wrong.

pub mod error;
pub mod figure;
pub mod figures;
pub mod heatmap;
pub mod render;
pub mod run;
pub mod sweep;
pub mod table;

use std::path::{Path, PathBuf};

use crate::output;
pub use error::PlotError;
use render::Drawable;
use run::Run;

/// The metric a sweep plot shows when none is named.
pub const DEFAULT_SWEEP_METRIC: &str = "rmse_heldout";

/// What `raas plot` was asked: `input` is a run directory, a directory of
/// runs, or (with `x`) a sweep CSV; `metrics` are the sweep's plotted
/// columns (default [`DEFAULT_SWEEP_METRIC`]); with `y` too, a heatmap
/// over the grid of `x` and `y`.
pub fn plot_input(
    input: &Path,
    out: Option<&Path>,
    x: Option<&str>,
    y: Option<&str>,
    metrics: &[String],
) -> Result<Vec<PathBuf>, PlotError> {
    if y.is_some() && x.is_none() {
        return Err(PlotError::Usage(
            "--y needs --x: a heatmap is drawn over the grid of --x KEY and --y KEY2".into(),
        ));
    }
    let is_file = input.is_file();
    match (is_file, x) {
        (true, Some(x)) => {
            let default = [DEFAULT_SWEEP_METRIC.to_string()];
            let metrics = if metrics.is_empty() {
                &default[..]
            } else {
                metrics
            };
            let dir = input.parent().filter(|p| !p.as_os_str().is_empty());
            let out = out.or(dir).unwrap_or(Path::new("."));
            match y {
                Some(y) => plot_heatmaps(input, x, y, metrics, out),
                None => plot_sweep(input, x, metrics, out),
            }
        }
        (true, None) => Err(PlotError::Usage(format!(
            "{} is a file: to plot a sweep CSV name its parameter column with --x KEY;              to plot a run give its directory",
            input.display()
        ))),
        (false, Some(_)) => Err(PlotError::Usage(
            "--x, --y and --metric are for a sweep CSV, not a run directory".into(),
        )),
        (false, None) if !metrics.is_empty() => Err(PlotError::Usage(
            "--metric is for a sweep CSV, not a run directory".into(),
        )),
        (false, None) => plot_dir(input, out),
    }
}

/// Plots each of `metrics` against column `x` of the sweep CSV `csv` into
/// `out` (`sweep-<metric>-vs-<x>.png`/`.svg`); returns the files written.
pub fn plot_sweep(
    csv: &Path,
    x: &str,
    metrics: &[String],
    out: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let table = sweep::read(csv)?;
    write_figures(&sweep::figures(&table, x, metrics)?, out)
}

/// Draws a heatmap of each of `metrics` over the grid of columns `x` and
/// `y` of the sweep CSV `csv` into `out`
/// (`sweep-<metric>-by-<x>-and-<y>.png`/`.svg`); returns the files written.
pub fn plot_heatmaps(
    csv: &Path,
    x: &str,
    y: &str,
    metrics: &[String],
    out: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let table = sweep::read(csv)?;
    write_figures(&heatmap::heatmaps(&table, x, y, metrics)?, out)
}

/// Plots the run(s) of `input` (a run directory or a directory of
/// `seed-*/` runs) into `out`, by default `input` itself; returns the
/// files written.
pub fn plot_dir(input: &Path, out: Option<&Path>) -> Result<Vec<PathBuf>, PlotError> {
    let dirs = run::find_runs(input)?;
    plot_runs(&dirs, out.unwrap_or(input))
}

/// Plots the given run directories (the seeds of one scenario; one
/// directory for a single run) into `out`; returns the files written
/// (`.png` and `.svg` of each plot, in a fixed order).
pub fn plot_runs(dirs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let runs = dirs
        .iter()
        .map(|d| Run::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = runs.first() else {
        return Err(PlotError::Usage("no run directory to plot".into()));
    };
    if let Some(other) = runs.iter().find(|r| r.scenario != first.scenario) {
        return Err(PlotError::Usage(format!(
            "{} is scenario `{}` but {} is `{}`: plot one scenario's seeds together",
            first.dir.display(),
            first.scenario,
            other.dir.display(),
            other.scenario
        )));
    }
    write_figures(&figures::all(&runs)?, out)
}

/// Draws each figure and writes `<out>/<stem>.png` and `<out>/<stem>.svg`
/// atomically, creating `out` if needed; returns the files written.
pub fn write_figures(figures: &[impl Drawable], out: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |e| PlotError::Write(path, e)
    };
    if out.exists() && !out.is_dir() {
        let e = std::io::Error::other("exists and is not a directory");
        return Err(PlotError::Write(out.to_path_buf(), e));
    }
    std::fs::create_dir_all(out).map_err(write_error(out))?;
    output::remove_stale_temporaries(out).map_err(write_error(out))?;
    let mut written = Vec::new();
    for figure in figures {
        let png_path = out.join(format!("{}.png", figure.stem()));
        let png = render::png(figure).map_err(|e| PlotError::Render(png_path.clone(), e))?;
        output::write_bytes_atomically(&png_path, &png).map_err(write_error(&png_path))?;
        written.push(png_path);
        let svg_path = out.join(format!("{}.svg", figure.stem()));
        let svg = render::svg(figure).map_err(|e| PlotError::Render(svg_path.clone(), e))?;
        output::write_bytes_atomically(&svg_path, svg.as_bytes())
            .map_err(write_error(&svg_path))?;
        written.push(svg_path);
    }
    Ok(written)
}
