//! Draws a [`Figure`] or a [`Heatmap`] with plotters, to SVG text and to PNG bytes, in
//! memory (the caller writes the files atomically).
//!
//! Text is laid out and rasterised by ab_glyph with DejaVu Sans, embedded
//! in the binary by the `dejavu` crate and registered once as plotters'
//! `sans-serif`: no system font is needed, so plotting works headless. The
//! SVG names the `sans-serif` family for its `<text>` elements. Nothing
//! depends on time or environment: the same figure gives the same bytes.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform, register_font};

use super::figure::{Figure, LegendAt};
use super::heatmap::{Heatmap, cell_text};

/// Something drawn into one image: a [`Figure`] or a [`Heatmap`].
pub trait Drawable {
    /// File name without extension.
    fn stem(&self) -> &str;
    /// Draws onto the whole of `root` ([`WIDTH`] × [`HEIGHT`]).
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

impl Drawable for Figure {
    fn stem(&self) -> &str {
        &self.stem
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw(root, self)
    }
}

impl Drawable for Heatmap {
    fn stem(&self) -> &str {
        &self.stem
    }
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_heatmap(root, self)
    }
}

/// Image width in pixels (also the SVG's `width`).
pub const WIDTH: u32 = 1200;
/// Image height in pixels.
pub const HEIGHT: u32 = 750;

const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans as `sans-serif` (once per process).
pub fn register_fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bytes are a valid TTF shipped by the crate; failing here is
        // a broken build, not bad input.
        if register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_err() {
            panic!("the embedded DejaVu Sans font does not parse");
        }
        if register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_err() {
            panic!("the embedded DejaVu Sans Bold font does not parse");
        }
    });
}

/// The figure as an SVG document.
pub fn svg(figure: &impl Drawable) -> Result<String, String> {
    register_fonts();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        figure.draw_on(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

/// The figure as a PNG image (8-bit RGB, [`WIDTH`] × [`HEIGHT`]).
pub fn png(figure: &impl Drawable) -> Result<Vec<u8>, String> {
    register_fonts();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        figure.draw_on(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Plots are mostly flat colour: the strongest deflate and the Paeth
    // filter make them several times smaller (results are committed).
    encoder.set_compression(png::Compression::Best);
    encoder.set_filter(png::FilterType::Paeth);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let ((x0, x1), (y0, y1)) = figure.ranges();
    let mut chart = ChartBuilder::on(root)
        .caption(&figure.title, (FONT, 30).into_font().style(FontStyle::Bold))
        .margin(24)
        .x_label_area_size(64)
        .y_label_area_size(100)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(figure.x_label.as_str())
        .y_desc(figure.y_label.as_str())
        .axis_desc_style((FONT, 22))
        .label_style((FONT, 18))
        .x_label_formatter(&|x| tick(*x))
        .y_label_formatter(&|y| tick(*y))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)?;

    // Bands first, then the reference lines, then the curves over them (a
    // curve that reaches a reference stays visible).
    for curve in &figure.curves {
        let aggregate = curve.aggregate();
        let Some(band) = aggregate.band else { continue };
        if band.is_empty() {
            continue;
        }
        let mut outline: Vec<(f64, f64)> = band.iter().map(|&(x, _, hi)| (x, hi)).collect();
        outline.extend(band.iter().rev().map(|&(x, lo, _)| (x, lo)));
        let fill = curve.color.mix(0.22).filled();
        chart
            .draw_series(std::iter::once(Polygon::new(outline, fill)))
            .map_err(err)?
            .label(curve.labels().1)
            .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], fill));
    }
    for line in figure.hlines.iter().filter(|h| h.y.is_finite()) {
        let style = line.color.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, line.y), (x1, line.y)],
                12,
                7,
                style,
            ))
            .map_err(err)?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    for curve in &figure.curves {
        let aggregate = curve.aggregate();
        let style = curve.color.stroke_width(curve.width);
        chart
            .draw_series(LineSeries::new(aggregate.mean, style))
            .map_err(err)?
            .label(curve.labels().0)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    let position = match figure.legend {
        LegendAt::UpperRight => SeriesLabelPosition::UpperRight,
        LegendAt::UpperLeft => SeriesLabelPosition::UpperLeft,
        LegendAt::MiddleRight => SeriesLabelPosition::MiddleRight,
    };
    chart
        .configure_series_labels()
        .position(position)
        .margin(14)
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The heatmap's grid, in pixels: left, right, top, bottom.
const GRID: (i32, i32, i32, i32) = (170, 960, 80, 630);
/// The colour bar: left, right (top and bottom as the grid's).
const BAR: (i32, i32) = (1000, 1030);
/// An empty cell (no run with a number).
const EMPTY: RGBColor = RGBColor(225, 225, 225);

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    map: &Heatmap,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let centred = |size: u32| {
        (FONT, size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center))
    };
    root.fill(&WHITE).map_err(err)?;
    let title = (FONT, 30)
        .into_font()
        .style(FontStyle::Bold)
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw_text(&map.title, &title, (WIDTH as i32 / 2, 36))
        .map_err(err)?;

    let (left, right, top, bottom) = GRID;
    let (nx, ny) = (map.xs.len().max(1) as i32, map.ys.len().max(1) as i32);
    let x_edge = |i: i32| left + (right - left) * i / nx;
    // y increases upwards: row 0 at the bottom.
    let y_edge = |j: i32| bottom - (bottom - top) * j / ny;
    let range = map.range();
    // Cell text shrinks with narrow or low cells ("-0.00846" fits).
    let size = ((right - left) / nx / 5)
        .min((bottom - top) / ny / 2)
        .clamp(9, 22) as u32;
    for (j, row) in map.cells.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            let (i, j) = (i as i32, j as i32);
            let (x0, x1, y0, y1) = (x_edge(i), x_edge(i + 1), y_edge(j + 1), y_edge(j));
            let (fill, text) = match (cell, range) {
                (Some(v), Some((lo, hi))) => {
                    let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    (scale_colour(t), cell_text(*v))
                }
                _ => (EMPTY, "–".to_string()),
            };
            root.draw(&Rectangle::new([(x0, y0), (x1, y1)], fill.filled()))
                .map_err(err)?;
            root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(2)))
                .map_err(err)?;
            let ink = if cell.is_none() {
                RGBColor(110, 110, 110)
            } else {
                ink_on(fill)
            };
            root.draw_text(
                &text,
                // The dash of an empty cell is larger, to be seen.
                &centred(if cell.is_none() { 34 } else { size }).color(&ink),
                ((x0 + x1) / 2, (y0 + y1) / 2),
            )
            .map_err(err)?;
        }
    }
    root.draw(&Rectangle::new([(left, top), (right, bottom)], BLACK))
        .map_err(err)?;

    // Axes: each column and row named by its value, then the keys.
    let tick = centred(18);
    for (i, x) in map.xs.iter().enumerate() {
        let i = i as i32;
        let at = ((x_edge(i) + x_edge(i + 1)) / 2, bottom + 18);
        root.draw_text(&format!("{x}"), &tick, at).map_err(err)?;
    }
    let y_tick = (FONT, 18)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (j, y) in map.ys.iter().enumerate() {
        let j = j as i32;
        let at = (left - 10, (y_edge(j) + y_edge(j + 1)) / 2);
        root.draw_text(&format!("{y}"), &y_tick, at).map_err(err)?;
    }
    let x_desc = centred(22);
    root.draw_text(&map.x_label, &x_desc, ((left + right) / 2, bottom + 60))
        .map_err(err)?;
    let y_desc = centred(22).transform(FontTransform::Rotate270);
    root.draw_text(&map.y_label, &y_desc, (left - 95, (top + bottom) / 2))
        .map_err(err)?;

    // The colour scale: a bar from the smallest value (bottom) to the
    // largest (top), labelled with both, and its caption along it.
    let (bar_left, bar_right) = BAR;
    const STEPS: i32 = 110;
    for k in 0..STEPS {
        let y0 = bottom - (bottom - top) * (k + 1) / STEPS;
        let y1 = bottom - (bottom - top) * k / STEPS;
        let colour = scale_colour((f64::from(k) + 0.5) / f64::from(STEPS));
        root.draw(&Rectangle::new(
            [(bar_left, y0), (bar_right, y1)],
            colour.filled(),
        ))
        .map_err(err)?;
    }
    root.draw(&Rectangle::new(
        [(bar_left, top), (bar_right, bottom)],
        BLACK,
    ))
    .map_err(err)?;
    let label = (FONT, 18)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let (lo, hi) = match range {
        Some((lo, hi)) => (cell_text(lo), cell_text(hi)),
        None => ("–".to_string(), "–".to_string()),
    };
    root.draw_text(&format!("max {hi}"), &label, (bar_right + 8, top + 8))
        .map_err(err)?;
    root.draw_text(&format!("min {lo}"), &label, (bar_right + 8, bottom - 8))
        .map_err(err)?;
    let caption = centred(20).transform(FontTransform::Rotate90);
    root.draw_text(&map.scale_label, &caption, (1165, (top + bottom) / 2))
        .map_err(err)?;
    Ok(())
}

/// The colour of `t` in [0, 1] on a perceptually even dark-blue → green →
/// yellow scale (linear between five anchors).
fn scale_colour(t: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let pos = t * (ANCHORS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(ANCHORS.len() - 2);
    let f = pos - k as f64;
    let (a, b) = (ANCHORS[k], ANCHORS[k + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black on a light colour, white on a dark one.
fn ink_on(c: RGBColor) -> RGBColor {
    let luma = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if luma > 140.0 { BLACK } else { WHITE }
}

/// A tick label: short, without float noise (`0.30000000000000004`).
fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(12.0), "12");
        assert_eq!(tick(2500.4), "2500");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(3.0e6), "3.0e6");
    }

    #[test]
    fn the_colour_scale_runs_from_dark_to_light_with_readable_ink() {
        assert_eq!(scale_colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(scale_colour(1.0), RGBColor(253, 231, 37));
        assert_eq!(scale_colour(f64::NAN), scale_colour(0.5));
        assert_eq!(ink_on(scale_colour(0.0)), WHITE);
        assert_eq!(ink_on(scale_colour(1.0)), BLACK);
    }
}
