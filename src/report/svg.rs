//! Charts as inline SVG: grouped bars and lines with markers, drawn with plotters' SVG backend.
//!
//! plotters is built without font features, so it measures text only roughly and writes every
//! label as an SVG `<text>` element that the browser lays out. Category labels, the legend and the
//! x-axis label are placed here rather than by plotters' mesh, so long model names can be rotated
//! or thinned instead of overlapping, and the legend never covers data.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{Chart, ChartKind, Plot, PlotKind};
use super::render::escape_html;
use super::table::trim_zeros;
use crate::error::{Error, Result};

/// Width of every chart in SVG user units; the page scales it to the column width.
pub const WIDTH: u32 = 720;
/// Height of a chart whose category labels fit horizontally; rotated labels add to it.
pub const BASE_HEIGHT: u32 = 360;

/// Okabe-Ito colours, ordered so the first few are the most distinct for every colour vision
/// (yellow last: it is faint on white).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
const FONT: &str = "sans-serif";
/// Rough average glyph width of a 12 px sans-serif font, for layout only.
const CHAR_W: f64 = 6.6;
const LABEL_PX: f64 = 12.0;
/// Rotated labels longer than this are cut with an ellipsis; the full name is in the data table.
const MAX_LABEL_CHARS: usize = 24;
const LEFT_AREA: u32 = 64;
const MARGIN: u32 = 12;

/// The colour of series `i`.
pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The colour of series `i` as `#rrggbb`, for HTML legends and tables.
pub fn series_color_hex(i: usize) -> String {
    let RGBColor(r, g, b) = series_color(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A text style whose SVG `font-size` is `px` (plotters writes the size divided by 1.24).
fn font(px: f64) -> TextStyle<'static> {
    (FONT, px * 1.24).into_font().color(&TEXT)
}

fn draw_err(title: &str, e: impl std::fmt::Display) -> Error {
    Error::Report(format!("chart `{title}`: drawing failed: {e}"))
}

/// Draw `chart` as a standalone SVG document (`viewBox` set, so it scales with CSS
/// `width: 100%; height: auto`).
///
/// Missing (NaN) values are skipped; with `log_y`, values <= 0 are skipped too and a note in the
/// corner says how many. A chart with nothing to plot still renders, saying so.
///
/// ```
/// use vidcompare::report::{Chart, render_svg};
/// let mut c = Chart::bar("Accuracy", "model", "accuracy", vec!["SVM".into(), "R3D".into()]);
/// c.add_series("test", vec![0.61, 0.83]);
/// let svg = render_svg(&c).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("font-weight=\"bold\" fill=\"#222222\">Accuracy</text>"));
/// ```
pub fn render_svg(chart: &Chart) -> Result<String> {
    chart.validate()?;
    if chart.kind == ChartKind::Heatmap {
        return Ok(add_accessibility(&heatmap_svg(chart), &chart.title));
    }
    let layout = Layout::new(chart);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, layout.height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(&chart.title, e))?;
        draw(chart, &layout, &root).map_err(|e| draw_err(&chart.title, e))?;
        root.present().map_err(|e| draw_err(&chart.title, e))?;
    }
    Ok(add_accessibility(
        &with_title(&svg, &layout.title),
        &chart.title,
    ))
}

/// Width of a compact (square) chart: ROC curves and t-SNE maps, two to a row on the page.
pub const COMPACT_WIDTH: u32 = 480;
/// Height of a compact chart before its legend.
pub const COMPACT_HEIGHT: u32 = 420;

/// Legend rows for `names` within `max_w`: `(series index, x offset)` per entry.
fn legend_rows(names: &[&str], max_w: f64) -> Vec<Vec<(usize, i32)>> {
    let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
    let mut x = 0.0;
    let mut row = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let w = 26.0 + name.chars().count() as f64 * CHAR_W + 18.0;
        if x + w > max_w && !row.is_empty() {
            rows.push(std::mem::take(&mut row));
            x = 0.0;
        }
        row.push((i, x as i32));
        x += w;
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows
}

/// A positive range widened to whole decades, so the first and last ticks are labelled (and by
/// a hair more, so float error in plotters' decade walk keeps both end ticks).
fn whole_decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo * (1.0 - 1e-9), hi * (1.0 + 1e-9))
}

/// The numeric range of one axis: `fixed` when given, else the finite data padded by 5 % (whole
/// decades on a log axis, positive values only). Returns `(lo, hi, values left out)`.
fn numeric_range(values: &[f64], fixed: Option<[f64; 2]>, log: bool) -> (f64, f64, usize) {
    let dropped = if log {
        values
            .iter()
            .filter(|v| v.is_finite() && **v <= 0.0)
            .count()
    } else {
        0
    };
    if let Some([lo, hi]) = fixed {
        return (lo, hi, dropped);
    }
    let finite = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && (!log || *v > 0.0));
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if lo > hi {
        return if log {
            (0.1, 10.0, dropped)
        } else {
            (0.0, 1.0, dropped)
        };
    }
    if log {
        let (lo, hi) = whole_decades(lo, hi);
        return (lo, hi, dropped);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.05
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - pad, hi + pad, dropped)
}

/// Draw a [`Plot`] (points or lines over numeric axes) as a standalone SVG document.
///
/// Missing (NaN) points are skipped and break a line; with `log_y`, values <= 0 are skipped too
/// and a note says how many. Compact plots (see [`Plot::is_compact`]) are square and narrower.
///
/// ```
/// use vidcompare::report::{Plot, render_plot_svg};
/// let mut p = Plot::lines("ROC", "false positive rate", "true positive rate");
/// p.add("class 0", vec![0.0, 0.5, 1.0], vec![0.0, 0.9, 1.0]);
/// p.diagonal = true;
/// let svg = render_plot_svg(&p).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("ROC"));
/// ```
pub fn render_plot_svg(plot: &Plot) -> Result<String> {
    plot.validate()?;
    let chart = plot;
    let compact = plot.is_compact();
    let width = if compact { COMPACT_WIDTH } else { WIDTH };
    let names: Vec<&str> = chart.series.iter().map(|p| p.name.as_str()).collect();
    let legend = if names.len() > 1 || (names.len() == 1 && !names[0].is_empty()) {
        legend_rows(&names, f64::from(width - 2 * MARGIN))
    } else {
        Vec::new()
    };
    let title = Title::fit(&chart.title, f64::from(width - 2 * MARGIN), 15.0);
    let title_h = title.height();
    let legend_h = legend.len() as u32 * 20;
    // The plot keeps its height when the title takes more than the one line it was sized for.
    let height =
        if compact { COMPACT_HEIGHT } else { BASE_HEIGHT } + legend_h + title_h.saturating_sub(32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(&chart.title, e))?;
        draw_xy(chart, &root, width, title_h, &legend).map_err(|e| draw_err(&chart.title, e))?;
        root.present().map_err(|e| draw_err(&chart.title, e))?;
    }
    let svg = add_accessibility(&with_title(&svg, &title), &chart.title);
    Ok(if compact {
        // The page scales charts to the column; a square one is kept at its own size.
        svg.replacen("<svg ", &format!("<svg style=\"max-width:{width}px\" "), 1)
    } else {
        svg
    })
}

fn draw_xy(
    chart: &Plot,
    root: &Root<'_>,
    width: u32,
    title_h: u32,
    legend: &[Vec<(usize, i32)>],
) -> Result<(), Box<dyn std::error::Error>> {
    let w = width as i32;
    for (r, row) in legend.iter().enumerate() {
        let y = title_h as i32 + r as i32 * 20 + 8;
        for &(i, x) in row {
            let x = x + MARGIN as i32;
            draw_legend_key(root, i, (x, y), chart.kind == PlotKind::Line)?;
            draw_legend_name(root, &chart.series[i].name, (x, y))?;
        }
    }
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|p| p.x.iter().copied())
        .collect();
    let ys: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|p| p.y.iter().chain(&p.lo).chain(&p.hi).copied())
        .collect();
    let (x_lo, x_hi, _) = numeric_range(&xs, chart.x_range, false);
    let (y_lo, y_hi, _) = numeric_range(&ys, chart.y_range, chart.log_y);
    // Only points count as left out; a band edge below zero is just clipped.
    let dropped = if chart.log_y {
        chart
            .series
            .iter()
            .flat_map(|p| &p.y)
            .filter(|v| v.is_finite() && **v <= 0.0)
            .count()
    } else {
        0
    };
    let (_, area) = root.split_vertically(title_h + legend.len() as u32 * 20);
    if chart.log_y {
        plot_xy(chart, &area, x_lo..x_hi, (y_lo..y_hi).log_scale(), true)?;
    } else {
        plot_xy(chart, &area, x_lo..x_hi, y_lo..y_hi, false)?;
    }
    let h = root.dim_in_pixel().1 as i32;
    let has_data = chart.series.iter().any(|p| {
        p.x.iter()
            .zip(&p.y)
            .any(|(x, y)| x.is_finite() && y.is_finite())
    });
    draw_notes(root, (w, h), title_h as i32, has_data, dropped)
}

/// A legend key at `(x, y)`: series `i`'s marker, on a short line of its colour for lines.
fn draw_legend_key(
    root: &Root<'_>,
    i: usize,
    (x, y): (i32, i32),
    line: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    if line {
        root.draw(&PathElement::new(
            vec![(x, y), (x + 18, y)],
            series_color(i).stroke_width(2),
        ))?;
    }
    draw_marker(root, i, (x + 9, y))?;
    Ok(())
}

/// A legend entry's name, after the key drawn at `(x, y)`.
fn draw_legend_name(
    root: &Root<'_>,
    name: &str,
    (x, y): (i32, i32),
) -> Result<(), Box<dyn std::error::Error>> {
    root.draw(&Text::new(
        name.to_string(),
        (x + 24, y),
        font(12.0).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}

/// Average advance of a bold sans-serif glyph in ems, rounded up for the widest common fonts
/// (DejaVu Sans Bold averages about 0.63 on model names), so a fitted title stays inside its SVG.
const TITLE_EM: f64 = 0.68;
/// A title is made smaller, down to this size, before it takes a third line.
const TITLE_MIN_PX: f64 = 12.0;
/// Space above the first line of a title.
const TITLE_TOP: f64 = 8.0;

/// A chart title fitted to its SVG: bold, left-aligned at the margin, in as few lines as fit
/// (breaking first after an em dash, `Model — what`, then between words, and inside a word only
/// when one word is wider than the chart), smaller before it takes a third line. Drawn as SVG
/// `<text class="chart-title">` elements, one per line.
#[derive(Debug, Clone, PartialEq)]
struct Title {
    lines: Vec<String>,
    px: f64,
}

impl Title {
    /// Fit `title` into `width` user units, starting at `px`.
    fn fit(title: &str, width: f64, px: f64) -> Title {
        let title = title.trim();
        if title.is_empty() {
            return Title {
                lines: Vec::new(),
                px,
            };
        }
        let mut size = px;
        loop {
            let max = ((width / (size * TITLE_EM)).floor() as usize).max(4);
            let lines = wrap(title, max);
            if lines.len() <= 2 || size <= TITLE_MIN_PX {
                return Title { lines, px: size };
            }
            size -= 1.0;
        }
    }

    /// Height taken at the top of the chart, the space below the last line included.
    fn height(&self) -> u32 {
        if self.lines.is_empty() {
            return 8;
        }
        (TITLE_TOP + self.lines.len() as f64 * self.px * 1.25 + 6.0).ceil() as u32
    }

    /// The `<text>` elements, left-aligned at `x`.
    fn svg(&self, x: f64) -> String {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                format!(
                    "<text class=\"chart-title\" x=\"{x}\" y=\"{:.1}\" font-family=\"{FONT}\" \
                     font-size=\"{}\" font-weight=\"bold\" fill=\"#222222\">{}</text>\n",
                    TITLE_TOP + self.px * (0.95 + 1.25 * i as f64),
                    self.px,
                    escape_html(line)
                )
            })
            .collect()
    }
}

/// `text` in lines of at most `max` characters: one line when it fits; else broken after each
/// ` — ` first, then between words, and a word longer than a line in pieces.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    if len(text) <= max {
        return vec![text.to_string()];
    }
    let parts: Vec<String> = {
        let pieces: Vec<&str> = text.split(" — ").collect();
        let n = pieces.len();
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                if i + 1 < n {
                    format!("{p} —")
                } else {
                    p.to_string()
                }
            })
            .collect()
    };
    let mut lines = Vec::new();
    for part in parts {
        let mut line = String::new();
        for word in part.split(' ').filter(|w| !w.is_empty()) {
            let mut word = word.to_string();
            while len(&word) > max {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let head: String = word.chars().take(max).collect();
                word = word.chars().skip(max).collect();
                lines.push(head);
            }
            if line.is_empty() {
                line = word;
            } else if len(&line) + 1 + len(&word) <= max {
                line.push(' ');
                line.push_str(&word);
            } else {
                lines.push(std::mem::replace(&mut line, word));
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// `svg` with `title` drawn at the top-left margin (inserted before the closing tag, over the
/// space the layout kept free for it).
fn with_title(svg: &str, title: &Title) -> String {
    match svg.rfind("</svg>") {
        Some(end) => format!(
            "{}{}{}",
            &svg[..end],
            title.svg(f64::from(MARGIN)),
            &svg[end..]
        ),
        None => svg.to_string(),
    }
}

/// "no data to plot" in the middle of an empty chart, and how many values a log axis left out.
fn draw_notes(
    root: &Root<'_>,
    (w, h): (i32, i32),
    title_h: i32,
    has_data: bool,
    dropped: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    if !has_data {
        root.draw(&Text::new(
            "no data to plot",
            (w / 2, (title_h + h) / 2),
            font(14.0)
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
    }
    if dropped > 0 {
        let s = if dropped == 1 { "" } else { "s" };
        root.draw(&Text::new(
            format!("{dropped} value{s} ≤ 0 not shown on the log scale"),
            (w - MARGIN as i32, h - 4),
            font(11.0)
                .color(&MUTED)
                .pos(Pos::new(HPos::Right, VPos::Bottom)),
        ))?;
    }
    Ok(())
}

fn plot_xy<Y>(
    chart: &Plot,
    area: &Root<'_>,
    x_spec: std::ops::Range<f64>,
    y_spec: Y,
    log: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let (x_lo, x_hi) = (x_spec.start, x_spec.end);
    let mut ctx = ChartBuilder::on(area)
        .margin_left(MARGIN)
        .margin_right(MARGIN + 8)
        .margin_top(6)
        .margin_bottom(6)
        .x_label_area_size(44)
        .y_label_area_size(LEFT_AREA)
        .build_cartesian_2d(x_spec, y_spec)?;
    let y_tick: &dyn Fn(&f64) -> String = if log {
        &|v| tick_log(*v)
    } else {
        &|v| tick_linear(*v)
    };
    // Counts on the x axis (epochs, training videos): label whole numbers only, and ask for no
    // more labels than there are whole numbers in the range.
    let whole_x = !chart.series.is_empty()
        && chart
            .series
            .iter()
            .all(|s| s.x.iter().all(|x| x.fract() == 0.0));
    let x_labels = if whole_x {
        ((x_hi.floor() - x_lo.ceil()) as usize + 1).clamp(2, 7)
    } else {
        7
    };
    let x_tick = |v: &f64| {
        if whole_x && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            tick_linear(*v)
        }
    };
    ctx.configure_mesh()
        .x_labels(x_labels)
        .y_labels(7)
        .max_light_lines(0)
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .x_label_formatter(&x_tick)
        .y_label_formatter(y_tick)
        .x_label_style(font(11.0))
        .y_label_style(font(11.0))
        .x_desc(chart.x_label.clone())
        .y_desc(chart.y_label.clone())
        .axis_desc_style(font(12.0))
        .draw()?;
    let (y_lo, y_hi) = {
        let r = ctx.y_range();
        (r.start, r.end)
    };
    if chart.diagonal {
        let a = x_lo.max(y_lo);
        let b = x_hi.min(y_hi);
        if a < b {
            ctx.draw_series(std::iter::once(DashedPathElement::new(
                vec![(a, a), (b, b)],
                5,
                4,
                MUTED.stroke_width(1),
            )))?;
        }
    }
    let ok = |v: f64| v.is_finite() && (!log || v > 0.0);
    for (si, p) in chart.series.iter().enumerate() {
        let color = series_color(si);
        // The band (mean ± spread) under its line, where every edge is drawable.
        if !p.lo.is_empty() && !p.hi.is_empty() {
            let pts: Vec<(f64, f64, f64)> = (0..p.x.len())
                .filter(|&i| p.x[i].is_finite() && ok(p.lo[i]) && ok(p.hi[i]))
                .map(|i| (p.x[i], p.lo[i], p.hi[i]))
                .collect();
            if pts.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = pts.iter().map(|&(x, _, hi)| (x, hi)).collect();
                poly.extend(pts.iter().rev().map(|&(x, lo, _)| (x, lo)));
                ctx.draw_series(std::iter::once(Polygon::new(
                    poly,
                    color.mix(0.18).filled(),
                )))?;
            }
        }
        if chart.kind == PlotKind::Line {
            let mut run: Vec<(f64, f64)> = Vec::new();
            let pts = p.x.iter().copied().zip(p.y.iter().copied());
            for (x, y) in pts.chain(std::iter::once((f64::NAN, f64::NAN))) {
                if x.is_finite() && ok(y) {
                    run.push((x, y));
                } else if !run.is_empty() {
                    ctx.draw_series(LineSeries::new(run.drain(..), color.stroke_width(2)))?;
                }
            }
        }
        // A ROC curve has many points; markers would hide its steps.
        let markers = chart.kind == PlotKind::Scatter || p.x.len() <= 40 && !chart.diagonal;
        if markers {
            for (&x, &y) in p.x.iter().zip(&p.y) {
                if x.is_finite() && ok(y) {
                    draw_marker(ctx.plotting_area(), si, (x, y))?;
                }
            }
        }
    }
    Ok(())
}

/// Give the `<svg>` element an accessible name (the title) and an image role.
fn add_accessibility(svg: &str, title: &str) -> String {
    let label: String = title
        .chars()
        .map(|c| match c {
            '"' => "&quot;".to_string(),
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            c => c.to_string(),
        })
        .collect();
    match svg.strip_prefix("<svg ") {
        Some(rest) => format!("<svg role=\"img\" aria-label=\"{label}\" {rest}"),
        None => svg.to_string(),
    }
}

/// Where things go, decided before drawing so the SVG can grow for rotated labels.
struct Layout {
    height: u32,
    title: Title,
    title_h: u32,
    legend_rows: Vec<Vec<(usize, i32)>>,
    legend_h: u32,
    labels: Vec<String>,
    rotate: bool,
    label_step: usize,
    label_area: u32,
}

impl Layout {
    fn new(chart: &Chart) -> Layout {
        let n = chart.categories.len().max(1);
        let plot_w = f64::from(WIDTH - LEFT_AREA - 2 * MARGIN);
        let slot = plot_w / n as f64;
        let text_w = |s: &str| s.chars().count() as f64 * CHAR_W;
        let widest = chart
            .categories
            .iter()
            .map(|c| text_w(c))
            .fold(0.0, f64::max);
        // Every bar needs its name, so long names turn vertical; a line's x axis is an ordered
        // scale, where labelling every k-th point reads better than a wall of vertical numbers.
        let short = widest <= 8.0 * CHAR_W;
        let rotate = widest > slot * 0.9 && !(chart.kind == ChartKind::Line && short);
        let labels: Vec<String> = chart
            .categories
            .iter()
            .map(|c| {
                if rotate {
                    shorten(c, MAX_LABEL_CHARS)
                } else {
                    c.clone()
                }
            })
            .collect();
        // Rotated labels stand side by side one line-height apart; horizontal ones need their width.
        let needed = if rotate { LABEL_PX * 1.4 } else { widest + 8.0 };
        let label_step = ((needed / slot).ceil() as usize).max(1);
        let label_h = if rotate {
            labels.iter().map(|l| text_w(l)).fold(0.0, f64::max).ceil() as u32 + 10
        } else {
            LABEL_PX as u32 + 10
        };
        let x_desc_h = if chart.x_label.is_empty() { 4 } else { 22 };
        let label_area = label_h + x_desc_h;

        let title = Title::fit(&chart.title, f64::from(WIDTH - 2 * MARGIN), 16.0);
        let title_h = title.height();
        let mut legend_rows: Vec<Vec<(usize, i32)>> = Vec::new();
        if chart.series.len() > 1 {
            let max_w = f64::from(WIDTH - 2 * MARGIN);
            let mut x = 0.0;
            let mut row = Vec::new();
            for (i, s) in chart.series.iter().enumerate() {
                let w = 26.0 + text_w(&s.name) + 18.0;
                if x + w > max_w && !row.is_empty() {
                    legend_rows.push(std::mem::take(&mut row));
                    x = 0.0;
                }
                row.push((i, x as i32));
                x += w;
            }
            legend_rows.push(row);
        }
        let legend_h = legend_rows.len() as u32 * 20;
        let extra = label_area.saturating_sub(LABEL_PX as u32 + 10 + 22);
        Layout {
            height: BASE_HEIGHT + extra + legend_h.saturating_sub(20) + title_h.saturating_sub(34),
            title,
            title_h,
            legend_rows,
            legend_h,
            labels,
            rotate,
            label_step,
            label_area,
        }
    }
}

/// `s` cut to `max` characters with an ellipsis in the middle: model names often share a prefix
/// (`Deep-2D-EffNetB0-avg`, `Deep-2D-EffNetB0-attn`) and differ at the end.
fn shorten(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Tick label for a linear axis: up to six significant digits, no float noise.
fn tick_linear(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".to_string();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return trim_zeros(&format!("{v:.5e}"));
    }
    trim_zeros(&format!("{v:.6}"))
}

/// Tick label for a log axis: only powers of ten are labelled, as decimals near 1 and as
/// `10ⁿ` beyond.
fn tick_log(v: f64) -> String {
    let e = v.log10();
    if (e - e.round()).abs() > 1e-6 {
        return String::new();
    }
    let e = e.round() as i32;
    if (-3..=4).contains(&e) {
        tick_linear(10f64.powi(e))
    } else {
        let sup: String = e
            .to_string()
            .chars()
            .map(|c| match c {
                '-' => '⁻',
                d => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][d as usize - '0' as usize],
            })
            .collect();
        format!("10{sup}")
    }
}

/// The y range to show and how many values had to be left out.
fn y_range(chart: &Chart) -> (f64, f64, usize) {
    let values = chart.series.iter().flat_map(|s| s.values.iter().copied());
    let mut dropped = 0;
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in values {
        if !v.is_finite() {
            continue;
        }
        if chart.log_y && v <= 0.0 {
            dropped += 1;
            continue;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return if chart.log_y {
            (0.1, 10.0, dropped)
        } else {
            (0.0, 1.0, dropped)
        };
    }
    if chart.log_y {
        let (lo, hi) = whole_decades(lo, hi);
        return (lo, hi, dropped);
    }
    let (mut lo, mut hi) = match chart.kind {
        // Bars start at zero: a bar's length is its value.
        ChartKind::Bar | ChartKind::Heatmap => (lo.min(0.0), hi.max(0.0)),
        ChartKind::Line => (lo, hi),
    };
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.06
    } else {
        lo.abs().max(1.0) * 0.1
    };
    if chart.kind == ChartKind::Line || hi > 0.0 {
        hi += pad;
    }
    if chart.kind == ChartKind::Line || lo < 0.0 {
        lo -= pad;
    }
    (lo, hi, dropped)
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(chart: &Chart, layout: &Layout, root: &Root<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let w = WIDTH as i32;
    draw_legend(chart, layout, root)?;

    let (lo, hi, dropped) = y_range(chart);
    let has_data = chart.series.iter().any(|s| {
        s.values
            .iter()
            .any(|v| v.is_finite() && (!chart.log_y || *v > 0.0))
    });
    let (_, plot_area) = root.split_vertically(layout.title_h + layout.legend_h);
    if chart.log_y {
        plot(
            chart,
            layout,
            &plot_area,
            root,
            (lo..hi).log_scale(),
            lo,
            true,
        )?;
    } else {
        plot(
            chart,
            layout,
            &plot_area,
            root,
            lo..hi,
            lo.max(0.0).min(hi),
            false,
        )?;
    }
    let h = layout.height as i32;
    draw_notes(root, (w, h), layout.title_h as i32, has_data, dropped)
}

fn draw_legend(
    chart: &Chart,
    layout: &Layout,
    root: &Root<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    for (r, row) in layout.legend_rows.iter().enumerate() {
        let y = layout.title_h as i32 + r as i32 * 20 + 8;
        for &(i, x) in row {
            let x = x + MARGIN as i32;
            let color = series_color(i);
            match chart.kind {
                ChartKind::Bar | ChartKind::Heatmap => {
                    root.draw(&Rectangle::new(
                        [(x, y - 6), (x + 18, y + 6)],
                        color.filled(),
                    ))?;
                }
                ChartKind::Line => draw_legend_key(root, i, (x, y), true)?,
            }
            draw_legend_name(root, &chart.series[i].name, (x, y))?;
        }
    }
    Ok(())
}

/// Series `i`'s marker: the shape changes with the index as well as the colour, so lines stay
/// distinguishable in greyscale print and past the eighth colour.
fn draw_marker<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    i: usize,
    at: CT::From,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    CT::From: Clone,
{
    let style = series_color(i).filled();
    match (i + i / PALETTE.len()) % 4 {
        0 => area.draw(&Circle::new(at, 4, style)),
        1 => area.draw(&TriangleMarker::new(at, 5, style)),
        2 => area.draw(&(EmptyElement::at(at) + Rectangle::new([(-4, -4), (4, 4)], style))),
        _ => area
            .draw(&(EmptyElement::at(at) + Cross::new((0, 0), 4, series_color(i).stroke_width(2)))),
    }
}

/// Draw axes, grid, data and category labels. `base` is where bars start (0, or the bottom of a
/// log axis).
fn plot<Y>(
    chart: &Chart,
    layout: &Layout,
    area: &Root<'_>,
    root: &Root<'_>,
    y_spec: Y,
    base: f64,
    log: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let n = chart.categories.len().max(1);
    let mut ctx = ChartBuilder::on(area)
        .margin_left(MARGIN)
        .margin_right(MARGIN + 4)
        .margin_top(6)
        .margin_bottom(4)
        .x_label_area_size(layout.label_area)
        .y_label_area_size(LEFT_AREA)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y_spec)?;

    // Counts on the y axis (videos per class, support): whole numbers only, and no more labels
    // than there are whole numbers in the range, as for count x axes.
    let whole_y = !log
        && chart
            .series
            .iter()
            .flat_map(|s| &s.values)
            .filter(|v| v.is_finite())
            .all(|v| v.fract() == 0.0);
    let (y_lo, y_hi) = (
        ctx.plotting_area().get_y_range().start,
        ctx.plotting_area().get_y_range().end,
    );
    let y_labels = if whole_y {
        ((y_hi.floor() - y_lo.ceil()).max(0.0) as usize + 1).clamp(2, 8)
    } else {
        8
    };
    let tick = |v: &f64| {
        if log {
            tick_log(*v)
        } else if whole_y && (v - v.round()).abs() > 1e-9 {
            String::new()
        } else {
            tick_linear(*v)
        }
    };
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(y_labels)
        .max_light_lines(0)
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(MUTED.stroke_width(1))
        .y_label_formatter(&tick)
        .y_label_style(font(11.0))
        .y_desc(chart.y_label.clone())
        .axis_desc_style(font(12.0))
        .draw()?;

    let k = chart.series.len().max(1);
    let finite = |v: f64| v.is_finite() && (!log || v > 0.0);
    match chart.kind {
        ChartKind::Bar | ChartKind::Heatmap => {
            let group = 0.8;
            let bar = group / k as f64;
            for (si, s) in chart.series.iter().enumerate() {
                let color = series_color(si);
                ctx.draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| finite(**v))
                        .map(|(ci, &v)| {
                            let x0 = ci as f64 - group / 2.0 + si as f64 * bar;
                            Rectangle::new([(x0, base), (x0 + bar * 0.92, v)], color.filled())
                        }),
                )?;
            }
        }
        ChartKind::Line => {
            for (si, s) in chart.series.iter().enumerate() {
                let color = series_color(si);
                // A missing value breaks the line rather than bridging the gap.
                let mut run: Vec<(f64, f64)> = Vec::new();
                let points = s
                    .values
                    .iter()
                    .copied()
                    .enumerate()
                    .map(|(i, v)| (i as f64, v));
                for (x, v) in points.chain(std::iter::once((f64::NAN, f64::NAN))) {
                    if finite(v) {
                        run.push((x, v));
                    } else if !run.is_empty() {
                        ctx.draw_series(LineSeries::new(run.drain(..), color.stroke_width(2)))?;
                    }
                }
                for (ci, &v) in s.values.iter().enumerate() {
                    if finite(v) {
                        draw_marker(ctx.plotting_area(), si, (ci as f64, v))?;
                    }
                }
            }
        }
    }

    // Category labels under their slots, in root pixel coordinates.
    let (y_lo, _) = {
        let r = ctx.y_range();
        (r.start, r.end)
    };
    for (ci, label) in layout.labels.iter().enumerate() {
        if ci % layout.label_step != 0 {
            continue;
        }
        let (px, py) = ctx.backend_coord(&(ci as f64, y_lo));
        let style = if layout.rotate {
            font(LABEL_PX)
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            font(LABEL_PX).pos(Pos::new(HPos::Center, VPos::Top))
        };
        let y = py + 6;
        root.draw(&Text::new(label.clone(), (px, y), style))?;
        root.draw(&PathElement::new(
            vec![(px, py), (px, py + 4)],
            MUTED.stroke_width(1),
        ))?;
    }
    if !chart.x_label.is_empty() {
        let (x0, y0) = ctx.backend_coord(&(-0.5, y_lo));
        let (x1, _) = ctx.backend_coord(&(n as f64 - 0.5, y_lo));
        root.draw(&Text::new(
            chart.x_label.clone(),
            ((x0 + x1) / 2, y0 + layout.label_area as i32 - 4),
            font(12.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))?;
    }
    Ok(())
}

/// A heatmap drawn directly as SVG cells: rows are the series (e.g. true classes), columns the
/// categories (predicted classes); shade grows with the value relative to the row's total, and
/// each cell shows its value.
fn heatmap_svg(chart: &Chart) -> String {
    let (cols, rows) = (chart.categories.len(), chart.series.len());
    let cell = (360 / cols.max(rows).max(1)).clamp(28, 72) as f64;
    let label_w = chart
        .series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(1) as f64
        * 7.5
        + 16.0;
    let left = label_w + 24.0;
    // Wide enough for a short title on one line; a longer one wraps (see [`Title`]).
    let w = (left + cell * cols as f64 + 20.0).max(300.0);
    let title = Title::fit(&chart.title, w - f64::from(2 * MARGIN), 15.0);
    let top = f64::from(title.height()) + 10.0;
    let h = top + cell * rows as f64 + 56.0;
    let mut s = format!(
        "<svg width=\"{w}\" height=\"{h}\" style=\"max-width:{w}px\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n{}",
        title.svg(f64::from(MARGIN))
    );
    for (r, series) in chart.series.iter().enumerate() {
        let total: f64 = series.values.iter().filter(|v| v.is_finite()).sum();
        let y = top + cell * r as f64;
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-family=\"sans-serif\" font-size=\"12\">{}</text>\n",
            left - 6.0,
            y + cell / 2.0 + 4.0,
            escape_html(&series.name)
        ));
        for (c, v) in series.values.iter().enumerate() {
            let x = left + cell * c as f64;
            let frac = if total > 0.0 && v.is_finite() {
                v / total
            } else {
                0.0
            };
            // White to the report's blue (#0072B2), by the share of the row.
            let mix = |to: f64| (255.0 + (to - 255.0) * frac).round() as u8;
            let (cr, cg, cb) = (mix(0.0), mix(114.0), mix(178.0));
            let ink = if frac > 0.55 { "#ffffff" } else { "#1a1a1a" };
            let text = if v.is_finite() {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            } else {
                "—".into()
            };
            s.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"rgb({cr},{cg},{cb})\" stroke=\"#d0d4da\"/>\n\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"13\" fill=\"{ink}\">{text}</text>\n",
                x + cell / 2.0,
                y + cell / 2.0 + 4.5
            ));
        }
    }
    for (c, name) in chart.categories.iter().enumerate() {
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"12\">{}</text>\n",
            left + cell * c as f64 + cell / 2.0,
            top + cell * rows as f64 + 16.0,
            escape_html(name)
        ));
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"12\">{}</text>\n\
         <text x=\"12\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"12\" transform=\"rotate(-90 12 {})\">{}</text>\n</svg>\n",
        left + cell * cols as f64 / 2.0,
        top + cell * rows as f64 + 38.0,
        escape_html(&chart.x_label),
        top + cell * rows as f64 / 2.0,
        top + cell * rows as f64 / 2.0,
        escape_html(&chart.y_label)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A confusion matrix's title is wider than its small SVG: it wraps after the em dash, each
    /// line fits the width at the title's glyph width, and together the lines are the title.
    #[test]
    fn long_titles_wrap_to_fit() {
        let t = "Classical-SVM (motion+) — confusion matrix (test)";
        // 276 units at 15 px and 0.68 em: 27 characters a line.
        let fit = Title::fit(t, 276.0, 15.0);
        assert_eq!(fit.px, 15.0);
        assert_eq!(
            fit.lines,
            ["Classical-SVM (motion+) —", "confusion matrix (test)"]
        );
        // Narrower: three lines at 15 px would be needed, so the font shrinks first.
        let narrow = Title::fit(t, 200.0, 15.0);
        assert!(narrow.px < 15.0, "{narrow:?}");
        for f in [&fit, &narrow] {
            let max =
                (f64::from(if f.px == 15.0 { 276 } else { 200 }) / (f.px * TITLE_EM)) as usize;
            assert!(f.lines.iter().all(|l| l.chars().count() <= max), "{f:?}");
            assert_eq!(f.lines.join(" "), t);
        }
        // One line when it fits; a word longer than a line is cut into pieces.
        assert_eq!(Title::fit("Accuracy", 696.0, 16.0).lines, ["Accuracy"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert!(Title::fit("", 100.0, 15.0).lines.is_empty());
        // The heatmap draws it left-aligned inside the margins, one <text> per line.
        let c = super::super::compare::confusion_heatmap(
            t.to_string(),
            vec!["a".into(), "b".into()],
            &[vec![1, 0], vec![0, 1]],
        );
        let svg = render_svg(&c).unwrap();
        assert_eq!(
            svg.matches("class=\"chart-title\" x=\"12\"").count(),
            2,
            "{svg}"
        );
        assert!(svg.contains(">confusion matrix (test)</text>"), "{svg}");
    }

    #[test]
    fn ticks_are_clean() {
        assert_eq!(tick_linear(0.30000000000000004), "0.3");
        assert_eq!(tick_linear(1.25), "1.25");
        assert_eq!(tick_linear(12000.0), "12000");
        assert_eq!(tick_linear(2_500_000.0), "2.5e6");
        assert_eq!(tick_linear(0.0001), "1e-4");
        assert_eq!(tick_log(1e-4), "10⁻⁴");
        assert_eq!(tick_log(1e-3), "0.001");
        assert_eq!(tick_log(1000.0), "1000");
        assert_eq!(tick_log(1e6), "10⁶");
        assert_eq!(tick_log(2e-4), "");
    }

    #[test]
    fn count_axes_label_whole_numbers_only() {
        let mut plot = Plot::lines("loss per epoch", "epoch", "loss");
        plot.add("train", vec![1.0, 2.0, 3.0], vec![1.0, 0.7, 0.6]);
        let svg = render_plot_svg(&plot).unwrap();
        let labels = |v: &str| svg.contains(&format!(">\n{v}\n</text>"));
        assert!(labels("1") && labels("2") && labels("3"), "{svg}");
        for fraction in ["1.2", "1.4", "1.5", "1.6", "1.8", "2.5"] {
            assert!(!labels(fraction), "epoch tick {fraction}");
        }
    }

    #[test]
    fn count_bars_label_whole_numbers_only() {
        let mut c = Chart::bar(
            "videos per class",
            "",
            "videos",
            vec!["a".into(), "b".into()],
        );
        c.add_series("train", vec![3.0, 2.0]);
        let svg = render_svg(&c).unwrap();
        let labels = |v: &str| svg.contains(&format!(">\n{v}\n</text>"));
        assert!(
            labels("0") && labels("1") && labels("2") && labels("3"),
            "{svg}"
        );
        for fraction in ["0.5", "1.5", "2.5"] {
            assert!(!labels(fraction), "count tick {fraction}: {svg}");
        }
        // Fractions keep their ticks.
        let mut c = Chart::bar("accuracy", "", "", vec!["a".into(), "b".into()]);
        c.add_series("s", vec![0.5, 1.0]);
        let svg = render_svg(&c).unwrap();
        assert!(svg.contains(">\n0.2\n</text>"), "{svg}");
    }

    #[test]
    fn bar_range_starts_at_zero_and_log_range_is_whole_decades() {
        let mut c = Chart::bar("t", "", "", vec!["a".into(), "b".into()]);
        c.add_series("s", vec![0.5, 1.0]);
        let (lo, hi, _) = y_range(&c);
        assert_eq!(lo, 0.0);
        assert!(hi > 1.0 && hi < 1.1);
        c.log_y = true;
        c.series[0].values = vec![3e-4, -1.0];
        c.add_series("t", vec![f64::NAN, 250.0]);
        let (lo, hi, dropped) = y_range(&c);
        assert!(
            (lo - 1e-4).abs() < 1e-12 && (hi - 1e3).abs() < 1e-5,
            "{lo} {hi}"
        );
        assert_eq!(dropped, 1);
    }

    #[test]
    fn long_labels_rotate_and_shorten() {
        let cats: Vec<String> = (0..12)
            .map(|i| format!("Deep-3D-R3D18-with-a-very-long-name-{i}"))
            .collect();
        let c = Chart::bar("t", "model", "acc", cats);
        let l = Layout::new(&c);
        assert!(l.rotate);
        assert!(
            l.labels
                .iter()
                .all(|s| s.chars().count() <= MAX_LABEL_CHARS)
        );
        assert!(l.height > BASE_HEIGHT);
        assert_eq!(l.labels[3], "Deep-3D-R3D…-long-name-3");
        let short = Chart::bar("t", "", "", vec!["a".into(), "b".into()]);
        assert!(!Layout::new(&short).rotate);
        // Many short x values on a line chart are thinned, not rotated.
        let epochs = Chart::line(
            "t",
            "",
            "",
            (1..=40).map(|i| (i * 25).to_string()).collect(),
        );
        let l = Layout::new(&epochs);
        assert!(!l.rotate && l.label_step > 1);
    }
}
