//! A metric against a swept parameter, from a sweep CSV (one row per run:
//! one column per grid key, named by its dotted key path, `seed`, then
//! figures such as `rmse_heldout` or `gain_over_isolated_pct`). The CSV's
//! columns are named by the caller, so nothing here depends on how the
//! sweep was produced. Several seeds per parameter value are drawn as the
//! mean with a min–max band.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::style::RGBColor;

use super::error::PlotError;
use super::figure::{Curve, Figure, LegendAt};
use super::table::Table;

/// One figure per metric: `metric` against the numeric column `x`.
///
/// Rows are grouped into one series per `seed` value (all rows form one
/// series without a `seed` column). Two rows with the same seed and `x`
/// mean that another grid key varies too: that is refused rather than
/// averaged over silently.
pub fn figures(table: &Table, x: &str, metrics: &[String]) -> Result<Vec<Figure>, PlotError> {
    let xs = table.floats(x)?;
    let seeds: Vec<String> = if table.has("seed") {
        table
            .text("seed")?
            .into_iter()
            .map(str::to_string)
            .collect()
    } else {
        vec![String::new(); table.len()]
    };
    let name = table
        .file()
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let mut figures = Vec::new();
    for metric in metrics {
        let ys = table.floats(metric)?;
        let mut by_seed: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for ((seed, &xv), &yv) in seeds.iter().zip(&xs).zip(&ys) {
            let series = by_seed.entry(seed.as_str()).or_default();
            if series.iter().any(|p| p.0 == xv) {
                return Err(PlotError::Usage(format!(
                    "{}: several rows with seed {seed:?} and {x} = {xv}: another grid key varies \
                     too; plot a one-parameter sweep (or a slice of the grid)",
                    table.file().display()
                )));
            }
            series.push((xv, yv));
        }
        let mut seeds: Vec<Vec<(f64, f64)>> = by_seed.into_values().collect();
        for s in &mut seeds {
            s.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        figures.push(Figure {
            stem: format!("sweep-{}-vs-{}", file_safe(metric), file_safe(x)),
            title: format!("{name}: {metric} against {x}"),
            x_label: x.to_string(),
            y_label: metric.to_string(),
            curves: vec![Curve {
                label: metric.to_string(),
                color: RGBColor(31, 119, 180),
                width: Curve::WIDTH,
                seeds,
            }],
            hlines: Vec::new(),
            legend: LegendAt::UpperRight,
        });
    }
    Ok(figures)
}

/// `name` with every character but ASCII letters, digits, `-` and `_`
/// replaced by `_` (dotted key paths become file names).
pub(crate) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Reads the sweep CSV at `path`.
pub fn read(path: &Path) -> Result<Table, PlotError> {
    Table::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        Table::parse(Path::new("sweep.csv"), text.as_bytes()).unwrap()
    }

    #[test]
    fn seeds_become_series_in_x_order() {
        let t = table("radio.loss_probability,seed,rmse\n0.5,1,3\n0.1,1,1\n0.1,2,2\n0.5,2,4\n");
        let f = figures(&t, "radio.loss_probability", &["rmse".into()]).unwrap();
        assert_eq!(f[0].stem, "sweep-rmse-vs-radio_loss_probability");
        assert_eq!(f[0].title, "sweep: rmse against radio.loss_probability");
        let a = f[0].curves[0].aggregate();
        assert_eq!(a.mean, vec![(0.1, 1.5), (0.5, 3.5)]);
        assert_eq!(a.band, Some(vec![(0.1, 1.0, 2.0), (0.5, 3.0, 4.0)]));
    }

    #[test]
    fn a_second_varying_key_is_refused() {
        let t = table("a,b,seed,m\n1,1,1,0\n1,2,1,0\n");
        let e = figures(&t, "a", &["m".into()]).unwrap_err();
        assert!(e.to_string().contains("another grid key varies"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = figures(&t, "zz", &["m".into()]).unwrap_err();
        assert_eq!(e.to_string(), "sweep.csv: no column `zz`");
    }
}
