//! Report charts and plots in evcxr: SVG in Jupyter, a summary of the data as text.

use std::fmt;

use super::protocol::{EvcxrDisplay, MimeBundle};
use super::text::aligned;
use crate::report::{Cell, Chart, ChartKind, Plot, PlotKind, render_plot_svg, render_svg};

impl fmt::Display for Chart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ChartKind::Bar => "bar chart",
            ChartKind::Line => "line chart",
            ChartKind::Heatmap => "heatmap",
        };
        write!(f, "{} ({kind}", self.title)?;
        labels(f, &self.x_label, &self.y_label, self.log_y)?;
        if self.series.is_empty() {
            return Ok(());
        }
        f.write_str("\n")?;
        let mut header = vec![String::new()];
        header.extend(self.categories.iter().cloned());
        let body: Vec<Vec<String>> = self
            .series
            .iter()
            .map(|s| {
                let mut r = vec![s.name.clone()];
                r.extend(s.values.iter().map(|&v| Cell::num(v).display(None)));
                r
            })
            .collect();
        let mut numeric = vec![true; header.len()];
        numeric[0] = false;
        f.write_str(&aligned(&header, &body, &numeric))
    }
}

/// `; x: .., y: ..`, `, log y` and the closing parenthesis of a chart's or plot's first line.
fn labels(f: &mut fmt::Formatter<'_>, x: &str, y: &str, log_y: bool) -> fmt::Result {
    if !x.is_empty() || !y.is_empty() {
        write!(f, "; x: {x}, y: {y}")?;
    }
    if log_y {
        f.write_str(", log y")?;
    }
    f.write_str(")")
}

impl fmt::Display for Plot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PlotKind::Scatter => "scatter plot",
            PlotKind::Line => "line chart over x",
        };
        write!(f, "{} ({kind}", self.title)?;
        labels(f, &self.x_label, &self.y_label, self.log_y)?;
        let range = |v: &[f64]| {
            let lo = v
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::INFINITY, f64::min);
            let hi = v
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            if lo <= hi {
                format!(
                    "[{}, {}]",
                    Cell::num(lo).display(None),
                    Cell::num(hi).display(None)
                )
            } else {
                "[]".to_string()
            }
        };
        for s in &self.series {
            write!(
                f,
                "\n  {}: {} points, x in {}, y in {}",
                s.name,
                s.x.len(),
                range(&s.x),
                range(&s.y)
            )?;
        }
        Ok(())
    }
}

/// A bundle of the text and the SVG, or of the text and why it could not be drawn.
fn svg_bundle(text: String, svg: crate::Result<String>) -> MimeBundle {
    match svg {
        Ok(svg) => MimeBundle::text(text).with("image/svg+xml", svg),
        Err(e) => MimeBundle::text(format!("{text}\n(cannot draw: {e})")),
    }
}

impl EvcxrDisplay for Chart {
    fn mime_bundle(&self) -> MimeBundle {
        svg_bundle(self.to_string(), render_svg(self))
    }
}

impl EvcxrDisplay for Plot {
    fn mime_bundle(&self) -> MimeBundle {
        svg_bundle(self.to_string(), render_plot_svg(self))
    }
}
