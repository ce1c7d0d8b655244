//! What one plot shows, independent of how it is drawn: a title, axis
//! labels, labelled curves (each with one series per seed) and labelled
//! horizontal reference lines. Several seeds of a curve are drawn as their
//! mean with a min–max band; the legend says so.

use plotters::style::RGBColor;

/// Where the legend box goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegendAt {
    /// Top right corner (curves that fall).
    UpperRight,
    /// Top left corner (curves that rise).
    UpperLeft,
    /// Middle of the right edge.
    MiddleRight,
}

/// One labelled curve: the points `(x, y)` of each seed (NaN `y`: not
/// defined there, skipped).
#[derive(Clone, Debug)]
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// Line colour (the band is the same colour, translucent).
    pub color: RGBColor,
    /// Line width in pixels ([`Curve::WIDTH`]; wider for a curve drawn
    /// under another that may coincide with it).
    pub width: u32,
    /// One series per seed.
    pub seeds: Vec<Vec<(f64, f64)>>,
}

/// A horizontal line at a constant `y` (a reference figure).
#[derive(Clone, Debug)]
pub struct HLine {
    /// Legend label.
    pub label: String,
    /// Line colour (drawn dashed).
    pub color: RGBColor,
    /// Its height.
    pub y: f64,
}

/// One plot.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File name without extension (`learning-curve` →
    /// `learning-curve.png`, `learning-curve.svg`).
    pub stem: String,
    /// Title above the plot.
    pub title: String,
    /// x-axis label, with its unit.
    pub x_label: String,
    /// y-axis label, with its unit.
    pub y_label: String,
    /// The curves, drawn in order (the first on the bottom).
    pub curves: Vec<Curve>,
    /// Reference lines.
    pub hlines: Vec<HLine>,
    /// Legend position.
    pub legend: LegendAt,
}

/// A curve summarised over its seeds at each `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// `(x, mean)` over the seeds that have a number at `x`.
    pub mean: Vec<(f64, f64)>,
    /// `(x, min, max)`; `None` with a single seed.
    pub band: Option<Vec<(f64, f64, f64)>>,
}

impl Curve {
    /// The usual line width.
    pub const WIDTH: u32 = 3;

    /// The mean and min–max band over seeds at every `x` where at least
    /// one seed has a number, in increasing `x`.
    pub fn aggregate(&self) -> Aggregate {
        let mut points: Vec<(f64, f64)> = self
            .seeds
            .iter()
            .flatten()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        // Stable sort on x: the values at one x stay in seed order, so
        // the sums (and the output bytes) do not depend on anything else.
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut mean = Vec::new();
        let mut band = Vec::new();
        for group in points.chunk_by(|a, b| a.0 == b.0) {
            let x = group[0].0;
            let sum: f64 = group.iter().map(|p| p.1).sum();
            let lo = group.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            let hi = group.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            mean.push((x, sum / group.len() as f64));
            band.push((x, lo, hi));
        }
        Aggregate {
            mean,
            band: (self.seeds.len() > 1).then_some(band),
        }
    }

    /// The legend label of the line (with the seed count when there are
    /// several) and of the band.
    pub fn labels(&self) -> (String, String) {
        let n = self.seeds.len();
        if n > 1 {
            (
                format!("{}, mean of {n} seeds", self.label),
                format!("{}, min–max over {n} seeds", self.label),
            )
        } else {
            (self.label.clone(), String::new())
        }
    }
}

impl Figure {
    /// The x range covered by the curves, and the y range from 0 (or the
    /// lowest value, if negative) to the highest value of curves and lines,
    /// padded a little on both sides so that a curve along 0 or along the
    /// top is not hidden by the frame; a degenerate range is widened so an
    /// axis exists.
    pub fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let xs = self
            .curves
            .iter()
            .flat_map(|c| c.seeds.iter().flatten().map(|p| p.0))
            .filter(|x| x.is_finite());
        let ys = self
            .curves
            .iter()
            .flat_map(|c| c.seeds.iter().flatten().map(|p| p.1))
            .chain(self.hlines.iter().map(|h| h.y))
            .filter(|y| y.is_finite());
        let (x0, x1) = min_max(xs).unwrap_or((0.0, 1.0));
        let (y0, y1) = min_max(ys).unwrap_or((0.0, 1.0));
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let y0 = y0.min(0.0);
        let y1 = if y1 > y0 { y1 } else { y0 + 1.0 };
        let pad = 0.03 * (y1 - y0);
        let (y0, y1) = (y0 - pad, y1 + 2.0 * pad);
        ((x0, x1), (y0, y1))
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(seeds: Vec<Vec<(f64, f64)>>) -> Curve {
        Curve {
            label: "swarm".into(),
            color: RGBColor(0, 0, 0),
            width: Curve::WIDTH,
            seeds,
        }
    }

    #[test]
    fn one_seed_has_no_band_and_skips_nan() {
        let a = curve(vec![vec![(1.0, 2.0), (2.0, f64::NAN), (3.0, 1.0)]]).aggregate();
        assert_eq!(a.mean, vec![(1.0, 2.0), (3.0, 1.0)]);
        assert_eq!(a.band, None);
    }

    #[test]
    fn seeds_give_mean_and_min_max_band() {
        let c = curve(vec![
            vec![(1.0, 1.0), (2.0, 4.0)],
            vec![(1.0, 3.0), (2.0, f64::NAN)],
        ]);
        let a = c.aggregate();
        assert_eq!(a.mean, vec![(1.0, 2.0), (2.0, 4.0)]);
        assert_eq!(a.band, Some(vec![(1.0, 1.0, 3.0), (2.0, 4.0, 4.0)]));
        let (line, band) = c.labels();
        assert_eq!(line, "swarm, mean of 2 seeds");
        assert_eq!(band, "swarm, min–max over 2 seeds");
    }

    #[test]
    fn ranges_include_reference_lines_and_zero() {
        let f = Figure {
            stem: "f".into(),
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            curves: vec![curve(vec![vec![(1.0, 2.0), (5.0, 3.0)]])],
            hlines: vec![HLine {
                label: "ref".into(),
                color: RGBColor(0, 0, 0),
                y: 10.0,
            }],
            legend: LegendAt::UpperRight,
        };
        let ((x0, x1), (y0, y1)) = f.ranges();
        assert_eq!((x0, x1), (1.0, 5.0));
        assert!(y0 < 0.0 && y0 > -0.5, "{y0}");
        assert!(y1 > 10.0 && y1 < 11.0, "{y1}");
    }
}
