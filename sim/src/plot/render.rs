//! Draws a [`Figure`] with plotters, to SVG text and to PNG bytes, in
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
use plotters::style::{FontStyle, register_font};

use super::figure::{Figure, LegendAt};

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
pub fn svg(figure: &Figure) -> Result<String, String> {
    register_fonts();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, figure)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(text)
}

/// The figure as a PNG image (8-bit RGB, [`WIDTH`] × [`HEIGHT`]).
pub fn png(figure: &Figure) -> Result<Vec<u8>, String> {
    register_fonts();
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, figure)?;
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
}
