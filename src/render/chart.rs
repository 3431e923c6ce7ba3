//! Charts drawn as images: what a taste profile leans towards, and learning curves.
//!
//! [`taste_chart`] draws one horizontal bar per style axis, to the right of a zero line for
//! what a profile leans towards and to the left for what it leans away from; `/profile show`
//! uses it. [`line_chart`] draws series of points with a legend, such as held-out accuracy
//! against votes for `tastebud eval`.
//!
//! `plotters` lays the charts out and draws them on an in-memory RGB buffer, through
//! `Canvas`, which draws the text itself: in Noto Sans, embedded in the binary, so charts
//! look the same everywhere and need no system fonts.

use std::ops::Range;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::RgbImage;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

use crate::render::RenderError;

/// Colour of bars for weights above zero (Okabe–Ito blue).
pub const POSITIVE: [u8; 3] = [0, 114, 178];
/// Colour of bars for weights below zero (Okabe–Ito vermillion).
pub const NEGATIVE: [u8; 3] = [213, 94, 0];
/// Colour of the zero line of a taste chart.
pub const ZERO_LINE: [u8; 3] = [40, 40, 40];
/// Colours of line-chart series, in order (Okabe–Ito, which stays apart for colour-blind eyes);
/// a chart with more series cycles through them.
pub const SERIES_COLOURS: [[u8; 3]; 6] = [
    [0, 114, 178],
    [213, 94, 0],
    [0, 158, 115],
    [204, 121, 167],
    [86, 180, 233],
    [230, 159, 0],
];

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 800;
/// Height of a line chart, in pixels.
pub const LINE_HEIGHT: u32 = 500;

/// Height of a taste chart with `bars` bars: the title and margins, then 40 pixels a bar.
pub fn taste_chart_height(bars: usize) -> u32 {
    70 + 40 * bars as u32
}

/// Width of the taste chart's label column, in pixels.
const LABEL_AREA: u32 = 230;

/// The font family chart text asks for; `Canvas` draws every family with the embedded font.
const FONT: &str = "sans-serif";

/// One line of a line chart: a name for the legend, its (x, y) points, and optionally an
/// uncertainty band around it: `(x, low, high)`, drawn as a light shade of its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

impl Series {
    /// A series without a band.
    pub fn new(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            points,
            band: Vec::new(),
        }
    }
}

/// What a line chart shows besides its series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineOptions {
    /// Where the y axis starts when every value lies between it and 1 (0.5: chance, for an
    /// accuracy); `None` starts shares at 0.
    pub y_from: Option<f64>,
    /// Horizontal reference lines, `(legend, y)`, drawn in grey (a rater's ceiling).
    pub guides: Vec<(String, f64)>,
}

/// Colour of reference lines.
pub const GUIDE: [u8; 3] = [110, 110, 110];

/// Size of a chart's title in pixels, and the smallest it shrinks to before it is shortened.
const TITLE_SIZE: f64 = 26.0;
const TITLE_MIN_SIZE: f64 = 18.0;

/// How the x axis of a line chart is spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Logarithmic; points with x ≤ 0 cannot be placed and are left out.
    Log,
}

/// A horizontal bar chart of a profile's leanings, one bar per `(label, weight)` in the order
/// given (first at the top), each labelled with its weight. Weights that are NaN or infinite
/// are left out; with nothing left to draw this is an error.
pub fn taste_chart(title: &str, axes: &[(String, f64)]) -> Result<RgbImage, RenderError> {
    let bars: Vec<(&str, f64)> = axes
        .iter()
        .filter(|(_, weight)| weight.is_finite())
        .map(|(label, weight)| (label.as_str(), *weight))
        .collect();
    if bars.is_empty() {
        return Err(RenderError::BadRequest(
            "a taste chart needs at least one axis with a finite weight".into(),
        ));
    }
    let rows = bars.len();
    let height = taste_chart_height(rows);
    // Room beside the longest bar for its value label.
    let largest = bars.iter().map(|(_, w)| w.abs()).fold(0.0, f64::max);
    let extent = if largest > 0.0 { largest * 1.25 } else { 1.0 };

    draw(WIDTH, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 26))
            .margin(14)
            .margin_top(8)
            .y_label_area_size(LABEL_AREA)
            .build_cartesian_2d(-extent..extent, 0.0..rows as f64)
            .map_err(draw_error)?;

        // Row labels, right-aligned in the label area beside their bars (bar i is row
        // rows - 1 - i from the bottom, so the first bar is at the top).
        let label_style = (FONT, 19)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, (label, _)) in bars.iter().enumerate() {
            let row = (rows - 1 - i) as f64;
            let (left, y) = chart.backend_coord(&(-extent, row + 0.5));
            root.draw(&Text::new(
                shorten(label, 24),
                (left - 12, y),
                label_style.clone(),
            ))
            .map_err(draw_error)?;
        }

        let rectangles = bars.iter().enumerate().map(|(i, &(_, weight))| {
            let row = (rows - 1 - i) as f64;
            let colour = if weight >= 0.0 { POSITIVE } else { NEGATIVE };
            Rectangle::new(
                [(0.0, row + 0.18), (weight, row + 0.82)],
                rgb(colour).filled(),
            )
        });
        chart.draw_series(rectangles).map_err(draw_error)?;

        let gap = extent * 0.012;
        let values = bars.iter().enumerate().map(|(i, &(_, weight))| {
            let row = (rows - 1 - i) as f64;
            let (x, anchor) = if weight >= 0.0 {
                (weight + gap, HPos::Left)
            } else {
                (weight - gap, HPos::Right)
            };
            let style = (FONT, 17)
                .into_font()
                .color(&RGBColor(70, 70, 70))
                .pos(Pos::new(anchor, VPos::Center));
            // A true minus sign, as wide as the plus.
            let value = format!("{weight:+.2}").replace('-', "\u{2212}");
            Text::new(value, (x, row + 0.5), style)
        });
        chart.draw_series(values).map_err(draw_error)?;

        let zero = rgb(ZERO_LINE);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (0.0, rows as f64)],
                zero.stroke_width(2),
            )))
            .map_err(draw_error)?;
        Ok(())
    })
}

/// A line chart of `series` with a legend, `x_label` under the x axis and `y_label` beside
/// the y axis. Points with a NaN or infinite coordinate (or x ≤ 0 on a log scale) are left
/// out, and so are series left with no points; with nothing left to draw this is an error.
/// The y axis runs from 0 to 1 when every value lies there (accuracies, win rates), and
/// around the data otherwise. On a log scale the largest x has a tick of its own. A title too
/// wide for the chart is set smaller, and if need be shortened in the middle.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_scale: Scale,
    series: &[Series],
) -> Result<RgbImage, RenderError> {
    line_chart_with(
        title,
        x_label,
        y_label,
        x_scale,
        series,
        &LineOptions::default(),
    )
}

/// [`line_chart`] with bands, a y axis from `options.y_from` and reference lines.
pub fn line_chart_with(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_scale: Scale,
    series: &[Series],
    options: &LineOptions,
) -> Result<RgbImage, RenderError> {
    let placeable = |x: f64| x.is_finite() && (x_scale == Scale::Linear || x > 0.0);
    let drawn: Vec<Drawn<'_>> = series
        .iter()
        .map(|s| {
            let points = s
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| placeable(x) && y.is_finite())
                .collect::<Vec<_>>();
            let band = s
                .band
                .iter()
                .copied()
                .filter(|&(x, lo, hi)| placeable(x) && lo.is_finite() && hi.is_finite())
                .collect::<Vec<_>>();
            (s.name.as_str(), points, band)
        })
        .filter(|(_, points, _)| !points.is_empty())
        .collect();
    if drawn.is_empty() {
        return Err(RenderError::BadRequest(
            "a line chart needs at least one point with finite coordinates".into(),
        ));
    }
    let all = || {
        drawn
            .iter()
            .flat_map(|(_, points, _)| points.iter().copied())
    };
    let (x_min, x_max) = min_max(all().map(|(x, _)| x));
    let ys = all()
        .map(|(_, y)| y)
        .chain(
            drawn
                .iter()
                .flat_map(|(_, _, band)| band.iter().flat_map(|b| [b.1, b.2])),
        )
        .chain(options.guides.iter().map(|g| g.1).filter(|y| y.is_finite()));
    let (y_min, y_max) = min_max(ys);
    let y_range = if y_min >= 0.0 && y_max <= 1.0 {
        match options.y_from {
            Some(from) if (0.0..1.0).contains(&from) && y_min >= from => from..1.0,
            _ => 0.0..1.0,
        }
    } else {
        padded(y_min, y_max)
    };
    let guides: Vec<(String, f64)> = options
        .guides
        .iter()
        .filter(|g| g.1.is_finite())
        .cloned()
        .collect();
    let (title, title_size) = fit_title(title)?;
    let labels = Labels {
        title: &title,
        title_size,
        x: x_label,
        y: y_label,
        guides: &guides,
    };
    draw(WIDTH, LINE_HEIGHT, |root| match x_scale {
        Scale::Linear => plot_lines(root, &labels, padded(x_min, x_max), y_range, &drawn),
        Scale::Log => {
            let (low, high) = if x_min < x_max {
                (x_min, x_max)
            } else {
                (x_min / 2.0, x_max * 2.0)
            };
            let mut ticks = log_ticks(low, high);
            if !ticks.iter().any(|t| (t / x_max - 1.0).abs() < 1e-9) {
                ticks.push(x_max);
                ticks.sort_by(f64::total_cmp);
            }
            let x_range = (low..high).log_scale().with_key_points(ticks);
            plot_lines(root, &labels, x_range, y_range, &drawn)
        }
    })
}

/// A series as drawn: its name, the points that can be placed, and its band.
type Drawn<'a> = (&'a str, Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

struct Labels<'a> {
    title: &'a str,
    title_size: f64,
    x: &'a str,
    y: &'a str,
    guides: &'a [(String, f64)],
}

/// The width in pixels of `text` set in the chart font at `size`.
fn text_width(font: &FontRef<'_>, text: &str, size: f64) -> f32 {
    let font = font.as_scaled(PxScale::from(size as f32));
    let mut width = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(previous) = previous {
            width += font.kern(previous, id);
        }
        width += font.h_advance(id);
        previous = Some(id);
    }
    width
}

/// A title that fits across a chart: at [`TITLE_SIZE`] if it can, else smaller down to
/// [`TITLE_MIN_SIZE`], else at that size with its middle replaced by an ellipsis.
fn fit_title(title: &str) -> Result<(String, f64), RenderError> {
    let font = FontRef::try_from_slice(ttf_noto_sans::REGULAR)
        .map_err(|e| RenderError::Backend(format!("the embedded chart font is unreadable: {e}")))?;
    let room = (WIDTH - 40) as f32;
    let mut size = TITLE_SIZE;
    while size > TITLE_MIN_SIZE && text_width(&font, title, size) > room {
        size -= 1.0;
    }
    if text_width(&font, title, size) <= room {
        return Ok((title.to_string(), size));
    }
    let chars: Vec<char> = title.chars().collect();
    for keep in (2..chars.len()).rev() {
        let head = keep * 3 / 5;
        let tail = keep - head;
        let short: String = chars[..head]
            .iter()
            .chain(std::iter::once(&'…'))
            .chain(&chars[chars.len() - tail..])
            .collect();
        if text_width(&font, &short, size) <= room {
            return Ok((short, size));
        }
    }
    Ok(("…".to_string(), size))
}

/// Draws the axes, lines, points and legend of a line chart over any x coordinate.
fn plot_lines<X>(
    root: &DrawingArea<Canvas<'_>, Shift>,
    labels: &Labels<'_>,
    x_range: X,
    y_range: Range<f64>,
    series: &[Drawn<'_>],
) -> Result<(), RenderError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(labels.title, (FONT, labels.title_size))
        .margin(16)
        .margin_top(8)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range, y_range)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(labels.x)
        .y_desc(labels.y)
        .x_label_formatter(&|x| number(*x))
        .y_label_formatter(&|y| number(*y))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .max_light_lines(1)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(draw_error)?;

    // Bands first, under every line; a band of one point is an error bar.
    for (i, (_, _, band)) in series.iter().enumerate() {
        let colour = rgb(SERIES_COLOURS[i % SERIES_COLOURS.len()]);
        if let [(x, lo, hi)] = band.as_slice() {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*x, *lo), (*x, *hi)],
                    colour.mix(0.5).stroke_width(2),
                )))
                .map_err(draw_error)?;
            continue;
        }
        if band.len() < 2 {
            continue;
        }
        let outline: Vec<(f64, f64)> = band
            .iter()
            .map(|&(x, _, hi)| (x, hi))
            .chain(band.iter().rev().map(|&(x, lo, _)| (x, lo)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                colour.mix(0.18).filled(),
            )))
            .map_err(draw_error)?;
    }
    for (name, y) in labels.guides {
        let guide = rgb(GUIDE);
        let (x0, x1) = (chart.x_range().start, chart.x_range().end);
        chart
            .draw_series(LineSeries::new([(x0, *y), (x1, *y)], guide.stroke_width(2)))
            .map_err(draw_error)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], guide.stroke_width(2))
            });
    }
    for (i, (name, points, _)) in series.iter().enumerate() {
        let colour = rgb(SERIES_COLOURS[i % SERIES_COLOURS.len()]);
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(3),
            ))
            .map_err(draw_error)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&point| Circle::new(point, 4, colour.filled())),
            )
            .map_err(draw_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .margin(12)
        .label_font((FONT, 17))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// Runs `paint` on a white `width` × `height` canvas and returns the pixels.
fn draw(
    width: u32,
    height: u32,
    paint: impl FnOnce(&DrawingArea<Canvas<'_>, Shift>) -> Result<(), RenderError>,
) -> Result<RgbImage, RenderError> {
    let font = FontRef::try_from_slice(ttf_noto_sans::REGULAR)
        .map_err(|e| RenderError::Backend(format!("the embedded chart font is unreadable: {e}")))?;
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let canvas = Canvas {
            pixels: BitMapBackend::with_buffer(&mut buffer, (width, height)),
            font,
        };
        let root = canvas.into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        paint(&root)?;
        root.present().map_err(draw_error)?;
    }
    RgbImage::from_raw(width, height, buffer)
        .ok_or_else(|| RenderError::Backend("the chart buffer has the wrong size".into()))
}

/// A bitmap backend whose text is laid out and rasterised here, with the embedded font.
///
/// plotters' own `ab_glyph` text drawing leaves out each glyph's left side bearing, so narrow
/// letters (i, l, t) drift out of their words; its other text paths need fontconfig. Drawing
/// text here keeps both problems out; shapes go to the bitmap backend unchanged.
struct Canvas<'a> {
    pixels: BitMapBackend<'a>,
    font: FontRef<'static>,
}

impl Canvas<'_> {
    /// The glyphs of `text` at `size` pixels, positioned with the top of the line at y = 0,
    /// and the line's width and height.
    fn layout(&self, text: &str, size: f64) -> (Vec<ab_glyph::Glyph>, f32, f32) {
        let font = self.font.as_scaled(PxScale::from(size as f32));
        let mut glyphs = Vec::with_capacity(text.len());
        let mut x = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(previous) = previous {
                x += font.kern(previous, id);
            }
            glyphs.push(id.with_scale_and_position(font.scale(), point(x, font.ascent())));
            x += font.h_advance(id);
            previous = Some(id);
        }
        (glyphs, x, font.height())
    }
}

type CanvasError = DrawingErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

impl DrawingBackend for Canvas<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.pixels.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), CanvasError> {
        self.pixels.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), CanvasError> {
        self.pixels.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), CanvasError> {
        self.pixels.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), CanvasError> {
        self.pixels.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), CanvasError> {
        self.pixels.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), CanvasError> {
        self.pixels.draw_path(path, style)
    }

    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), CanvasError> {
        self.pixels.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vertices: I,
        style: &S,
    ) -> Result<(), CanvasError> {
        self.pixels.fill_polygon(vertices, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), CanvasError> {
        self.pixels.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: plotters_backend::BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), CanvasError> {
        let (_, width, height) = self.layout(text, style.size());
        Ok((width.ceil() as u32, height.ceil() as u32))
    }

    fn draw_text<S: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), CanvasError> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (glyphs, width, height) = self.layout(text, style.size());
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        }
        .round() as i32;
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        }
        .round() as i32;
        let rotation = style.transform();
        for glyph in glyphs {
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue; // a space, or a character the font lacks
            };
            let bounds = outline.px_bounds();
            let (left, top) = (bounds.min.x as i32 + dx, bounds.min.y as i32 + dy);
            let mut result = Ok(());
            let pixels = &mut self.pixels;
            outline.draw(|x, y, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (x, y) = rotation.transform(left + x as i32, top + y as i32);
                let ink = BackendColor {
                    alpha: color.alpha * f64::from(coverage.min(1.0)),
                    rgb: color.rgb,
                };
                result = pixels.draw_pixel((pos.0 + x, pos.1 + y), ink);
            });
            result?;
        }
        Ok(())
    }
}

fn draw_error<E: std::fmt::Display>(error: E) -> RenderError {
    RenderError::Backend(format!("cannot draw the chart: {error}"))
}

fn rgb([r, g, b]: [u8; 3]) -> RGBColor {
    RGBColor(r, g, b)
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
        (low.min(v), high.max(v))
    })
}

/// `low..high` widened by 5% each side, or by 1 when it is a single value.
fn padded(low: f64, high: f64) -> Range<f64> {
    if low < high {
        let pad = (high - low) * 0.05;
        low - pad..high + pad
    } else {
        low - 1.0..high + 1.0
    }
}

/// Ticks for a log axis over `low..=high`: 1, 2, 5 times powers of ten, or every whole
/// multiple of a power of ten when that gives too few, or the two ends when nothing else fits.
fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    let within = |multipliers: &[f64]| {
        let first = low.log10().floor() as i32;
        let last = high.log10().ceil() as i32;
        (first..=last)
            .flat_map(|power| multipliers.iter().map(move |m| m * 10f64.powi(power)))
            .filter(|&tick| tick >= low * (1.0 - 1e-9) && tick <= high * (1.0 + 1e-9))
            .collect::<Vec<_>>()
    };
    let coarse = within(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 3 {
        return coarse;
    }
    let fine = within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if fine.len() >= 2 {
        fine
    } else {
        vec![low, high]
    }
}

/// A tick label: whole numbers without decimals, others with at most three significant
/// decimals and no trailing zeros.
fn number(value: f64) -> String {
    if value == value.round() && value.abs() < 1e9 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `label` cut to `max` characters, with an ellipsis when cut.
fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut short: String = label.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn axes(items: &[(&str, f64)]) -> Vec<(String, f64)> {
        items.iter().map(|(l, w)| (l.to_string(), *w)).collect()
    }

    /// Every pixel of exactly `colour`, as (x, y).
    fn pixels_of(image: &RgbImage, colour: [u8; 3]) -> Vec<(u32, u32)> {
        image
            .enumerate_pixels()
            .filter(|(_, _, p)| **p == Rgb(colour))
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    /// The rows (y) holding `colour`, grouped into runs of consecutive rows, as (first, last).
    fn bands(image: &RgbImage, colour: [u8; 3]) -> Vec<(u32, u32)> {
        let mut rows: Vec<u32> = pixels_of(image, colour).iter().map(|p| p.1).collect();
        rows.sort_unstable();
        rows.dedup();
        let mut bands: Vec<(u32, u32)> = Vec::new();
        for y in rows {
            match bands.last_mut() {
                Some(band) if band.1 + 1 == y => band.1 = y,
                _ => bands.push((y, y)),
            }
        }
        bands
    }

    /// The leftmost and rightmost x of `colour` within rows `band`.
    fn extent_in(image: &RgbImage, colour: [u8; 3], band: (u32, u32)) -> (u32, u32) {
        let xs: Vec<u32> = pixels_of(image, colour)
            .into_iter()
            .filter(|&(_, y)| y >= band.0 && y <= band.1)
            .map(|(x, _)| x)
            .collect();
        (
            *xs.iter().min().expect("some pixels"),
            *xs.iter().max().expect("some pixels"),
        )
    }

    /// The column holding the most zero-line pixels.
    fn zero_column(image: &RgbImage) -> u32 {
        let mut counts = vec![0usize; image.width() as usize];
        for (x, _) in pixels_of(image, ZERO_LINE) {
            counts[x as usize] += 1;
        }
        let (x, count) = counts
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .expect("columns");
        assert!(*count > 50, "no zero line found");
        x as u32
    }

    #[test]
    fn a_taste_chart_is_800_wide_and_40_pixels_taller_per_axis() {
        for n in [1, 3, 12] {
            let items: Vec<(String, f64)> = (0..n).map(|i| (format!("axis {i}"), 0.1)).collect();
            let chart = taste_chart("taste", &items).expect("drawn");
            assert_eq!(chart.dimensions(), (800, 70 + 40 * n as u32));
            assert_eq!(chart.height(), taste_chart_height(n));
        }
    }

    #[test]
    fn bars_lie_on_the_side_of_their_sign_in_the_order_given() {
        let chart = taste_chart(
            "What you like",
            &axes(&[("brighter", 0.8), ("warmer", -0.5), ("busier", 0.3)]),
        )
        .expect("drawn");
        let zero = zero_column(&chart);
        let positive = pixels_of(&chart, POSITIVE);
        let negative = pixels_of(&chart, NEGATIVE);
        assert!(
            positive.iter().all(|&(x, _)| x > zero),
            "a blue pixel left of zero"
        );
        assert!(
            negative.iter().all(|&(x, _)| x < zero),
            "an orange pixel right of zero"
        );

        // Two positive bars and one negative bar, the negative one between them.
        let up = bands(&chart, POSITIVE);
        let down = bands(&chart, NEGATIVE);
        assert_eq!(up.len(), 2, "{up:?}");
        assert_eq!(down.len(), 1, "{down:?}");
        assert!(up[0].1 < down[0].0 && down[0].1 < up[1].0);

        // Bar lengths follow the weights: 0.8 against 0.3, and 0.5 to the left.
        let length = |colour, band| {
            let (left, right) = extent_in(&chart, colour, band);
            f64::from(right - left + 1)
        };
        let (brighter, busier, warmer) = (
            length(POSITIVE, up[0]),
            length(POSITIVE, up[1]),
            length(NEGATIVE, down[0]),
        );
        assert!(
            (brighter / busier - 0.8 / 0.3).abs() < 0.15,
            "{brighter} / {busier}"
        );
        assert!(
            (warmer / busier - 0.5 / 0.3).abs() < 0.15,
            "{warmer} / {busier}"
        );
        // Each bar starts at the zero line (drawn over the bars' ends, 2 to 3 pixels wide).
        assert!(extent_in(&chart, POSITIVE, up[0]).0 <= zero + 4);
        assert!(extent_in(&chart, NEGATIVE, down[0]).1 + 4 >= zero);
    }

    #[test]
    fn chart_text_is_drawn() {
        let chart = taste_chart("What you like", &axes(&[("brighter", 0.8)])).expect("drawn");
        // The title: dark ink near the top centre.
        let ink = (300..500)
            .flat_map(|x| (0..40).map(move |y| (x, y)))
            .filter(|&(x, y)| chart.get_pixel(x, y).0.iter().all(|&c| c < 100))
            .count();
        assert!(
            ink > 100,
            "only {ink} dark pixels where the title should be"
        );
        // The label: dark ink left of the plot.
        let label_ink = (0..240)
            .flat_map(|x| (40..100).map(move |y| (x, y)))
            .filter(|&(x, y)| chart.get_pixel(x, y).0.iter().all(|&c| c < 100))
            .count();
        assert!(
            label_ink > 50,
            "only {label_ink} dark pixels where the label should be"
        );
    }

    #[test]
    fn a_taste_chart_needs_a_finite_weight() {
        assert!(matches!(
            taste_chart("empty", &[]),
            Err(RenderError::BadRequest(_))
        ));
        assert!(matches!(
            taste_chart("nan", &axes(&[("a", f64::NAN), ("b", f64::INFINITY)])),
            Err(RenderError::BadRequest(_))
        ));
        // NaN axes are left out; the rest is drawn.
        let chart = taste_chart("some", &axes(&[("a", f64::NAN), ("b", -0.5)])).expect("drawn");
        assert_eq!(chart.height(), taste_chart_height(1));
        assert!(pixels_of(&chart, POSITIVE).is_empty());
        assert!(!pixels_of(&chart, NEGATIVE).is_empty());
        // All zero: no bars, but a chart.
        let flat = taste_chart("flat", &axes(&[("a", 0.0)])).expect("drawn");
        assert!(pixels_of(&flat, POSITIVE).is_empty() && pixels_of(&flat, NEGATIVE).is_empty());
    }

    /// The mean y of the pixels of `colour` in column `x`.
    fn mean_y_at(image: &RgbImage, colour: [u8; 3], x: u32) -> f64 {
        let ys: Vec<f64> = (0..image.height())
            .filter(|&y| image.get_pixel(x, y).0 == colour)
            .map(f64::from)
            .collect();
        assert!(!ys.is_empty(), "no pixel of {colour:?} in column {x}");
        ys.iter().sum::<f64>() / ys.len() as f64
    }

    fn rising_and_falling() -> Vec<Series> {
        let xs = [10.0, 20.0, 50.0, 100.0, 200.0];
        vec![
            Series {
                name: "up".into(),
                points: xs.iter().map(|&x| (x, 0.4 + x / 500.0)).collect(),
                band: vec![],
            },
            Series {
                name: "down".into(),
                points: xs.iter().map(|&x| (x, 0.9 - x / 500.0)).collect(),
                band: vec![],
            },
        ]
    }

    #[test]
    fn each_series_is_drawn_in_its_colour_going_its_way() {
        for scale in [Scale::Linear, Scale::Log] {
            let chart = line_chart(
                "accuracy",
                "votes",
                "accuracy",
                scale,
                &rising_and_falling(),
            )
            .expect("drawn");
            assert_eq!(chart.dimensions(), (WIDTH, LINE_HEIGHT));
            let (up, down) = (SERIES_COLOURS[0], SERIES_COLOURS[1]);
            // Screen y grows downwards: a rising line is higher (smaller y) further right.
            // Columns at 30% and 60% of the width stay clear of the legend (lower right).
            let (left, right) = (WIDTH * 3 / 10, WIDTH * 6 / 10);
            assert!(
                mean_y_at(&chart, up, right) < mean_y_at(&chart, up, left),
                "{scale:?}: the rising series does not rise"
            );
            assert!(
                mean_y_at(&chart, down, right) > mean_y_at(&chart, down, left),
                "{scale:?}: the falling series does not fall"
            );
        }
    }

    #[test]
    fn points_that_cannot_be_placed_are_left_out() {
        let mut series = rising_and_falling();
        series[0].points.push((f64::NAN, 0.5));
        series[0].points.push((30.0, f64::INFINITY));
        series[1].points = vec![(f64::NAN, 0.1), (0.0, 0.5), (-3.0, 0.2)];
        let linear = line_chart("t", "x", "y", Scale::Linear, &series).expect("drawn");
        assert!(!pixels_of(&linear, SERIES_COLOURS[0]).is_empty());
        assert!(!pixels_of(&linear, SERIES_COLOURS[1]).is_empty());
        // On a log scale x ≤ 0 cannot be placed either, which leaves the second series empty:
        // it is left out, legend included.
        let log = line_chart("t", "x", "y", Scale::Log, &series).expect("drawn");
        assert!(!pixels_of(&log, SERIES_COLOURS[0]).is_empty());
        assert!(pixels_of(&log, SERIES_COLOURS[1]).is_empty());
    }

    #[test]
    fn a_line_chart_needs_a_point() {
        let nothing = |series: &[Series], scale| {
            matches!(
                line_chart("t", "x", "y", scale, series),
                Err(RenderError::BadRequest(_))
            )
        };
        assert!(nothing(&[], Scale::Linear));
        let empty = Series {
            name: "none".into(),
            points: vec![],
            band: vec![],
        };
        assert!(nothing(std::slice::from_ref(&empty), Scale::Linear));
        let unplaceable = Series {
            name: "nan".into(),
            points: vec![(f64::NAN, 1.0), (0.0, 0.5)],
            band: vec![],
        };
        assert!(nothing(std::slice::from_ref(&unplaceable), Scale::Log));
        // A single point is a chart.
        let one = Series {
            name: "one".into(),
            points: vec![(5.0, 0.5)],
            band: vec![],
        };
        for scale in [Scale::Linear, Scale::Log] {
            let chart = line_chart("t", "x", "y", scale, std::slice::from_ref(&one));
            assert!(chart.is_ok(), "{scale:?}");
        }
    }

    #[test]
    fn values_outside_zero_to_one_get_their_own_axis() {
        let series = [Series {
            name: "loss".into(),
            points: vec![(1.0, 3.0), (2.0, -1.0), (3.0, 7.5)],
            band: vec![],
        }];
        let chart = line_chart("loss", "step", "loss", Scale::Linear, &series).expect("drawn");
        assert!(!pixels_of(&chart, SERIES_COLOURS[0]).is_empty());
    }

    #[test]
    fn log_ticks_are_round_numbers_in_range() {
        assert_eq!(log_ticks(10.0, 400.0), vec![10.0, 20.0, 50.0, 100.0, 200.0]);
        assert_eq!(log_ticks(3.0, 40.0), vec![5.0, 10.0, 20.0]);
        assert_eq!(log_ticks(10.0, 35.0), vec![10.0, 20.0, 30.0]);
        assert_eq!(log_ticks(10.0, 15.0), vec![10.0, 15.0]);
    }

    #[test]
    fn tick_labels_and_long_names_are_tidy() {
        assert_eq!(number(100.0), "100");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(0.125), "0.125");
        assert_eq!(number(0.30000000000000004), "0.3");
        assert_eq!(shorten("brighter", 24), "brighter");
        assert_eq!(shorten("a very long axis name indeed", 10), "a very lo…");
    }

    #[test]
    fn long_titles_are_set_smaller_then_shortened_in_the_middle() {
        let (short, size) = fit_title("Held-out accuracy: builtin:moody on 7").unwrap();
        assert_eq!(
            (short.as_str(), size),
            ("Held-out accuracy: builtin:moody on 7", TITLE_SIZE)
        );
        let long = format!(
            "Held-out accuracy: python3 {}rater.py warm --seed 11 on 7",
            "x".repeat(120)
        );
        let (fitted, size) = fit_title(&long).unwrap();
        assert_eq!(size, TITLE_MIN_SIZE);
        assert!(fitted.starts_with("Held-out accuracy: python3"), "{fitted}");
        assert!(fitted.ends_with("on 7") && fitted.contains('…'), "{fitted}");
        let font = FontRef::try_from_slice(ttf_noto_sans::REGULAR).unwrap();
        assert!(text_width(&font, &fitted, size) <= (WIDTH - 40) as f32);
    }

    #[test]
    fn accuracy_can_start_at_chance_with_a_band_and_a_ceiling() {
        let flat = |band: bool| Series {
            name: "flat".into(),
            points: vec![(10.0, 0.75), (200.0, 0.75)],
            band: if band {
                vec![(10.0, 0.7, 0.8), (200.0, 0.7, 0.8)]
            } else {
                vec![]
            },
        };
        let column = WIDTH / 2;
        let from_zero = line_chart("t", "votes", "accuracy", Scale::Log, &[flat(false)]).unwrap();
        let options = LineOptions {
            y_from: Some(0.5),
            guides: vec![("ceiling".into(), 0.9)],
        };
        let from_half = line_chart_with(
            "t",
            "votes",
            "accuracy",
            Scale::Log,
            &[flat(true)],
            &options,
        )
        .unwrap();
        // 0.75 is three quarters up an axis from 0, half way up one from 0.5.
        assert!(
            mean_y_at(&from_half, SERIES_COLOURS[0], column)
                > mean_y_at(&from_zero, SERIES_COLOURS[0], column) + 50.0
        );
        // The ceiling is drawn above the line, and the band shades around it.
        assert!(
            mean_y_at(&from_half, GUIDE, column) < mean_y_at(&from_half, SERIES_COLOURS[0], column)
        );
        let line_y = mean_y_at(&from_half, SERIES_COLOURS[0], column) as u32;
        let shaded = from_half.get_pixel(column, line_y - 12).0;
        assert!(
            shaded != [255, 255, 255] && shaded != SERIES_COLOURS[0],
            "{shaded:?}"
        );
        // Data below the start of the axis keep it at 0.
        let low = Series::new("low", vec![(1.0, 0.3), (2.0, 0.6)]);
        assert!(line_chart_with("t", "x", "y", Scale::Linear, &[low], &options).is_ok());
    }
}
