//! A metric over a two-parameter grid, from a sweep CSV: one heatmap per
//! metric, the distinct values of the `x` and `y` columns (sorted
//! numerically) as categorical cells, each cell the mean of the metric over
//! the seeds run there. What is drawn, not how ([`super::render`] draws).

use std::collections::BTreeMap;

use super::error::PlotError;
use super::sweep::file_safe;
use super::table::Table;

/// One heatmap.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// File name without extension.
    pub stem: String,
    /// Title above the plot.
    pub title: String,
    /// x-axis label (the first key).
    pub x_label: String,
    /// y-axis label (the second key).
    pub y_label: String,
    /// The caption of the colour scale.
    pub scale_label: String,
    /// The distinct x values, increasing.
    pub xs: Vec<f64>,
    /// The distinct y values, increasing.
    pub ys: Vec<f64>,
    /// `cells[j][i]`: the mean at `(xs[i], ys[j])`; `None` where no run
    /// has a number.
    pub cells: Vec<Vec<Option<f64>>>,
}

impl Heatmap {
    /// The smallest and largest cell value; `None` when every cell is
    /// empty.
    pub fn range(&self) -> Option<(f64, f64)> {
        self.cells.iter().flatten().flatten().fold(None, |acc, &v| {
            Some(acc.map_or((v, v), |(lo, hi): (f64, f64)| (lo.min(v), hi.max(v))))
        })
    }
}

/// One heatmap per metric: the mean of `metric` over seeds in each cell of
/// the grid spanned by the numeric columns `x` and `y`.
///
/// A third varying grid key is refused rather than averaged over: two rows
/// with the same `x`, `y` and `seed`, or (with a `point` column, the grid
/// point's id) two points in one cell.
pub fn heatmaps(
    table: &Table,
    x: &str,
    y: &str,
    metrics: &[String],
) -> Result<Vec<Heatmap>, PlotError> {
    if x == y {
        return Err(PlotError::Usage(format!(
            "--x and --y both name `{x}`: a heatmap needs two different grid keys"
        )));
    }
    let file = table.file();
    let xs = keys(table, x)?;
    let ys = keys(table, y)?;
    let seeds: Vec<&str> = if table.has("seed") {
        table.text("seed")?
    } else {
        vec![""; table.len()]
    };
    let points: Option<Vec<&str>> = if table.has("point") {
        Some(table.text("point")?)
    } else {
        None
    };
    // Which rows fall in each cell, refusing a third varying key.
    let mut rows_of: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    let x_values = distinct(&xs);
    let y_values = distinct(&ys);
    for row in 0..table.len() {
        let i = position(&x_values, xs[row]);
        let j = position(&y_values, ys[row]);
        let rows = rows_of.entry((i, j)).or_default();
        let third = |other: usize, detail: String| {
            Err(PlotError::Usage(format!(
                "{}: rows {} and {} have {x} = {}, {y} = {} and {detail}: a third grid key \
                 varies too; plot a two-parameter sweep (or a slice of the grid)",
                file.display(),
                other + 1,
                row + 1,
                xs[row],
                ys[row],
            )))
        };
        if let Some(&other) = rows.iter().find(|&&r| seeds[r] == seeds[row]) {
            let detail = if seeds[row].is_empty() {
                "no seed".to_string()
            } else {
                format!("seed {}", seeds[row])
            };
            return third(other, detail);
        }
        if let Some(points) = &points
            && let Some(&other) = rows.iter().find(|&&r| points[r] != points[row])
        {
            let detail = format!("points {:?} and {:?}", points[other], points[row]);
            return third(other, detail);
        }
        rows.push(row);
    }
    let mut distinct_seeds = seeds.clone();
    distinct_seeds.sort_unstable();
    distinct_seeds.dedup();
    let n_seeds = distinct_seeds.len();
    let name = file
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let over = if n_seeds > 1 {
        format!(", mean over {n_seeds} seeds")
    } else {
        String::new()
    };
    let mut out = Vec::new();
    for metric in metrics {
        let values = table.floats(metric)?;
        let cells = (0..y_values.len())
            .map(|j| {
                (0..x_values.len())
                    .map(|i| {
                        let rows = rows_of.get(&(i, j))?;
                        // Rows in file order: the same CSV gives the same sums.
                        let finite: Vec<f64> = rows
                            .iter()
                            .map(|&r| values[r])
                            .filter(|v| v.is_finite())
                            .collect();
                        (!finite.is_empty())
                            .then(|| finite.iter().sum::<f64>() / finite.len() as f64)
                    })
                    .collect()
            })
            .collect();
        out.push(Heatmap {
            stem: format!(
                "sweep-{}-by-{}-and-{}",
                file_safe(metric),
                file_safe(x),
                file_safe(y)
            ),
            title: format!("{name}: {metric}{over}"),
            x_label: x.to_string(),
            y_label: y.to_string(),
            scale_label: if n_seeds > 1 {
                format!("{metric} (mean of {n_seeds} seeds)")
            } else {
                metric.to_string()
            },
            xs: x_values.clone(),
            ys: y_values.clone(),
            cells,
        });
    }
    Ok(out)
}

/// The numbers of a grid key column; a cell without a number is refused.
fn keys(table: &Table, column: &str) -> Result<Vec<f64>, PlotError> {
    let values = table.floats(column)?;
    let text = table.text(column)?;
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(PlotError::BadValue {
            file: table.file().to_path_buf(),
            column: column.to_string(),
            row: row + 1,
            value: text[row].to_string(),
        }),
        None => Ok(values),
    }
}

fn distinct(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn position(sorted: &[f64], v: f64) -> usize {
    sorted
        .iter()
        .position(|&s| s == v)
        .expect("every value is among the distinct values")
}

/// `v` with 3 significant digits (4 from 1000 to 9999), without trailing
/// zeros; far from 1 in scientific notation.
pub fn cell_text(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e4).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn table(text: &str) -> Table {
        Table::parse(Path::new("grid.csv"), text.as_bytes()).unwrap()
    }

    #[test]
    fn cells_are_means_over_seeds_and_missing_cells_are_empty() {
        let t = table(
            "point,b,a,seed,m\np1,10,0.5,1,1\np1,10,0.5,2,3\np2,10,0.1,1,5\np3,20,0.1,1,NaN\n",
        );
        let h = &heatmaps(&t, "a", "b", &["m".into()]).unwrap()[0];
        assert_eq!(h.stem, "sweep-m-by-a-and-b");
        assert_eq!(h.title, "grid: m, mean over 2 seeds");
        assert_eq!(h.xs, vec![0.1, 0.5]);
        assert_eq!(h.ys, vec![10.0, 20.0]);
        assert_eq!(h.cells, vec![vec![Some(5.0), Some(2.0)], vec![None, None]]);
        assert_eq!(h.range(), Some((2.0, 5.0)));
    }

    #[test]
    fn a_third_varying_key_is_refused() {
        let t = table("a,b,c,seed,m\n1,1,1,1,0\n1,1,2,1,0\n");
        let e = heatmaps(&t, "a", "b", &["m".into()]).unwrap_err();
        assert!(e.to_string().contains("a third grid key varies"), "{e}");
        assert!(e.to_string().contains("rows 1 and 2"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let t = table("point,a,b,seed,m\nc=1,1,1,1,0\nc=2,1,1,2,0\n");
        let e = heatmaps(&t, "a", "b", &["m".into()]).unwrap_err();
        assert!(e.to_string().contains("\"c=1\" and \"c=2\""), "{e}");
    }

    #[test]
    fn key_columns_must_be_numbers() {
        let t = table("a,b,m\n1,,0\n");
        let e = heatmaps(&t, "a", "b", &["m".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "grid.csv: row 1, column `b`: \"\" is not a number"
        );
        let e = heatmaps(&t, "a", "a", &["m".into()]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn cell_text_has_three_or_four_significant_digits() {
        assert_eq!(cell_text(0.0), "0");
        assert_eq!(cell_text(0.065), "0.065");
        assert_eq!(cell_text(0.0654321), "0.0654");
        assert_eq!(cell_text(12.345), "12.3");
        assert_eq!(cell_text(-3.5), "-3.5");
        assert_eq!(cell_text(1234.6), "1235");
        assert_eq!(cell_text(2.0), "2");
        assert_eq!(cell_text(123456.0), "1.23e5");
    }
}
