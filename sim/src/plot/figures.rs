//! The plots of a run (or of several seeds of one scenario), built from
//! its files: learning curves beside the baselines and the references,
//! consensus distance, regime counts, model-update bytes per node.
//!
//! The learning curves take their curves from [`learning_sources`]: the
//! swarm, then every baseline the run lists (`summary.json` `baselines`),
//! each labelled by [`baseline_label`]. A further baseline (e.g. federated
//! learning) that writes `baseline-<name>/rounds.csv` and lists itself in
//! `baselines` appears as one more curve; giving it a nicer label is one
//! more entry in [`BASELINE_LABELS`].

use plotters::style::RGBColor;

use super::error::PlotError;
use super::figure::{Curve, Figure, HLine, LegendAt};
use super::run::{ReferenceLines, Run};
use super::table::Table;

/// Legend labels of the known baselines, by `baseline-<name>/` name.
pub const BASELINE_LABELS: &[(&str, &str)] = &[("isolated", "isolated nodes (radio off)")];

/// Line colours, in curve order (swarm first).
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 115, 0),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];
const CENTRAL: RGBColor = RGBColor(0, 0, 0);
const PERSISTENCE: RGBColor = RGBColor(200, 30, 30);

/// The legend label of baseline `name`.
pub fn baseline_label(name: &str) -> String {
    BASELINE_LABELS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(
            || format!("baseline {name}"),
            |(_, label)| label.to_string(),
        )
}

/// Which rows a curve reads: the main run, or one of its baselines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The swarm (`rounds.csv`).
    Swarm,
    /// `baseline-<name>/rounds.csv`.
    Baseline(String),
}

/// The labelled sources of the learning curves of `runs`: the swarm, then
/// each baseline of the first run, in the order `summary.json` lists them.
pub fn learning_sources(runs: &[Run]) -> Vec<(String, Source)> {
    let mut sources = vec![("swarm (gossip)".to_string(), Source::Swarm)];
    if let Some(first) = runs.first() {
        for (name, _) in &first.baselines {
            sources.push((baseline_label(name), Source::Baseline(name.clone())));
        }
    }
    sources
}

fn table<'a>(run: &'a Run, source: &Source) -> Option<&'a Table> {
    match source {
        Source::Swarm => Some(&run.rounds),
        Source::Baseline(name) => run
            .baselines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t),
    }
}

/// `(round, f(row))` of one table; `f` receives the listed columns.
fn series(
    table: &Table,
    columns: &[&str],
    f: impl Fn(&[f64]) -> f64,
) -> Result<Vec<(f64, f64)>, PlotError> {
    let rounds = table.floats("round")?;
    let columns = columns
        .iter()
        .map(|c| table.floats(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut cells = vec![0.0; columns.len()];
    Ok(rounds
        .iter()
        .enumerate()
        .map(|(i, &round)| {
            for (cell, column) in cells.iter_mut().zip(&columns) {
                *cell = column[i];
            }
            (round, f(&cells))
        })
        .collect())
}

/// One curve over every run that has `source`.
fn curve(
    runs: &[Run],
    label: String,
    color: RGBColor,
    source: &Source,
    columns: &[&str],
    f: impl Fn(&Run, &[f64]) -> f64,
) -> Result<Option<Curve>, PlotError> {
    let mut seeds = Vec::new();
    for run in runs {
        if let Some(t) = table(run, source) {
            seeds.push(series(t, columns, |cells| f(run, cells))?);
        }
    }
    Ok((!seeds.is_empty()).then_some(Curve {
        label,
        color,
        width: Curve::WIDTH,
        seeds,
    }))
}

/// The metric the learning curves show: `rmse_heldout` when every run has
/// held-out figures, else `rmse_online` (the rule of `summary.json`
/// `comparison.metric`).
pub fn learning_metric(runs: &[Run]) -> Result<&'static str, PlotError> {
    for run in runs {
        if !run
            .rounds
            .floats("rmse_heldout")?
            .iter()
            .any(|v| v.is_finite())
        {
            return Ok("rmse_online");
        }
    }
    Ok("rmse_heldout")
}

fn seeds_note(runs: &[Run]) -> String {
    match runs.len() {
        1 => String::new(),
        n => format!(" ({n} seeds)"),
    }
}

/// Held-out (or online) RMSE per round of the swarm and its baselines, with
/// the central least-squares optimum and persistence as lines.
pub fn learning_curve(runs: &[Run]) -> Result<Figure, PlotError> {
    let metric = learning_metric(runs)?;
    let (what, data) = if metric == "rmse_heldout" {
        ("held-out RMSE", "held-out")
    } else {
        ("online RMSE (training stream)", "online")
    };
    let mut curves = Vec::new();
    for (i, (label, source)) in learning_sources(runs).into_iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if let Some(c) = curve(runs, label, color, &source, &[metric], |_, v| v[0])? {
            curves.push(c);
        }
    }
    let references: Vec<ReferenceLines> = runs
        .iter()
        .filter_map(|r| r.references)
        .map(|(heldout, online)| {
            if metric == "rmse_heldout" {
                heldout
            } else {
                online
            }
        })
        .collect();
    let mut hlines = Vec::new();
    if !references.is_empty() {
        let mean = |f: fn(&ReferenceLines) -> f64| {
            references.iter().map(f).sum::<f64>() / references.len() as f64
        };
        let of = if references.len() > 1 {
            format!(", mean of {} seeds", references.len())
        } else {
            String::new()
        };
        hlines.push(HLine {
            label: format!("central least-squares optimum ({data}{of})"),
            color: CENTRAL,
            y: mean(|r| r.central_ls),
        });
        hlines.push(HLine {
            label: format!("persistence x(t-1) ({data}{of})"),
            color: PERSISTENCE,
            y: mean(|r| r.persistence),
        });
    }
    Ok(Figure {
        stem: "learning-curve".into(),
        title: format!("{}: {what} per round{}", runs[0].scenario, seeds_note(runs)),
        x_label: "round".into(),
        y_label: format!("{what} (data units)"),
        curves,
        hlines,
        legend: LegendAt::UpperRight,
    })
}

/// Mean and largest consensus distance of the swarm; the baselines' mean
/// beside it.
pub fn consensus(runs: &[Run]) -> Result<Figure, PlotError> {
    let mut curves = Vec::new();
    let swarm = Source::Swarm;
    if let Some(c) = curve(
        runs,
        "swarm: mean distance to the mean weights".into(),
        PALETTE[0],
        &swarm,
        &["consensus_distance"],
        |_, v| v[0],
    )? {
        curves.push(c);
    }
    if let Some(c) = curve(
        runs,
        "swarm: largest distance".into(),
        RGBColor(120, 170, 220),
        &swarm,
        &["consensus_distance_max"],
        |_, v| v[0],
    )? {
        curves.push(c);
    }
    for (i, (label, source)) in learning_sources(runs).into_iter().enumerate().skip(1) {
        let color = PALETTE[i % PALETTE.len()];
        let label = format!("{label}: mean distance");
        if let Some(c) = curve(
            runs,
            label,
            color,
            &source,
            &["consensus_distance"],
            |_, v| v[0],
        )? {
            curves.push(c);
        }
    }
    Ok(Figure {
        stem: "consensus".into(),
        title: format!(
            "{}: consensus distance per round{}",
            runs[0].scenario,
            seeds_note(runs)
        ),
        x_label: "round".into(),
        y_label: "L2 distance to the mean weight vector (weight units)".into(),
        curves,
        hlines: Vec::new(),
        legend: LegendAt::UpperRight,
    })
}

/// Honest nodes in each regime at the end of every round (the swarm).
pub fn regimes(runs: &[Run]) -> Result<Figure, PlotError> {
    let mut curves = Vec::new();
    // Often two counts coincide (0 prestorm, 0 storm): each is drawn
    // narrower than the one under it, so both stay visible.
    let regimes = [
        ("calm", RGBColor(44, 160, 44), 7),
        ("prestorm", RGBColor(230, 115, 0), 5),
        ("storm", RGBColor(200, 30, 30), 2),
    ];
    for (column, color, width) in regimes {
        if let Some(mut c) = curve(
            runs,
            column.into(),
            color,
            &Source::Swarm,
            &[column],
            |_, v| v[0],
        )? {
            c.width = width;
            curves.push(c);
        }
    }
    Ok(Figure {
        stem: "regimes".into(),
        title: format!(
            "{}: nodes per detected regime{}",
            runs[0].scenario,
            seeds_note(runs)
        ),
        x_label: "round".into(),
        y_label: "honest nodes (count)".into(),
        curves,
        hlines: Vec::new(),
        legend: LegendAt::MiddleRight,
    })
}

/// Cumulative model-update bytes sent per node, the swarm and its
/// baselines.
pub fn model_bytes(runs: &[Run]) -> Result<Figure, PlotError> {
    let mut curves = Vec::new();
    for (i, (label, source)) in learning_sources(runs).into_iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        if let Some(c) = curve(
            runs,
            label,
            color,
            &source,
            &["tx_bytes_model_update"],
            |run, v| v[0] / run.nodes,
        )? {
            curves.push(c);
        }
    }
    Ok(Figure {
        stem: "model-bytes".into(),
        title: format!(
            "{}: model-update bytes sent per node{}",
            runs[0].scenario,
            seeds_note(runs)
        ),
        x_label: "round".into(),
        y_label: "model-update bytes sent per node, cumulative (bytes)".into(),
        curves,
        hlines: Vec::new(),
        legend: LegendAt::UpperLeft,
    })
}

/// Every plot of `runs` (one run, or the seeds of one scenario).
pub fn all(runs: &[Run]) -> Result<Vec<Figure>, PlotError> {
    Ok(vec![
        learning_curve(runs)?,
        consensus(runs)?,
        regimes(runs)?,
        model_bytes(runs)?,
    ])
}
