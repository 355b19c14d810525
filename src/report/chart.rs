//! Charts over named categories (bars, lines, heatmaps) and plots over numeric axes (scatter,
//! lines with bands), kept as data and drawn at render time.

use serde::{Deserialize, Serialize, Serializer};

use super::document::Block;
#[cfg(doc)]
use super::document::Section;
use crate::error::{Error, Result};

/// A bar or line chart over named categories.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Chart {
    /// Bar (grouped when several series) or line.
    pub kind: ChartKind,
    /// Drawn above the plot.
    pub title: String,
    /// Label under the x axis.
    #[serde(default)]
    pub x_label: String,
    /// Label beside the y axis.
    #[serde(default)]
    pub y_label: String,
    /// The x positions, in order (model names, training-set sizes, ...).
    pub categories: Vec<String>,
    /// One value per category per series.
    pub series: Vec<Series>,
    /// Logarithmic y axis; values <= 0 are left out (and the chart says how many).
    #[serde(default)]
    pub log_y: bool,
}

/// The kind of chart.
// Not `Copy`: the script bindings call `.clone()` on it, which clippy would flag on a Copy type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Bars, grouped side by side when there are several series.
    Bar,
    /// Lines with markers, one per series.
    Line,
    /// A matrix of cells (rows = series, columns = categories) shaded by value, with the value
    /// written in each cell: confusion matrices.
    Heatmap,
}

/// The Markdown fence info string that marked a [`Plot`] inside a Markdown block, before plots
/// were blocks of their own; still read from old `results.json` files and drawn in Markdown.
pub const PLOT_FENCE: &str = "vidcompare-plot";

/// A chart over numeric axes: points (t-SNE maps) or lines with optional shaded bands (learning,
/// ROC and training curves).
///
/// A plot is a block of its own in the report ([`Block::Plot`], see [`Section::plot`]); rendering
/// draws it as an SVG chart with its data table, so plots, like charts, are drawn from the saved
/// data at render time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plot {
    /// Points or lines.
    pub kind: PlotKind,
    /// Drawn above the plot.
    pub title: String,
    /// Label under the x axis.
    #[serde(default)]
    pub x_label: String,
    /// Label beside the y axis.
    #[serde(default)]
    pub y_label: String,
    /// The series, each drawn in its own colour and marker shape.
    #[serde(default)]
    pub series: Vec<XySeries>,
    /// Logarithmic y axis; values <= 0 are left out (and the plot says how many).
    #[serde(default, skip_serializing_if = "is_false")]
    pub log_y: bool,
    /// Fixed x range `[lo, hi]`; from the data when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_range: Option<[f64; 2]>,
    /// Fixed y range `[lo, hi]`; from the data when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_range: Option<[f64; 2]>,
    /// Draw the dashed `y = x` line (chance level of a ROC curve).
    #[serde(default, skip_serializing_if = "is_false")]
    pub diagonal: bool,
    /// Shown under the plot as plain text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub caption: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a [`Plot`] draws.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PlotKind {
    /// Markers at (x, y), one colour and shape per series.
    Scatter,
    /// Lines with markers, and the series' bands shaded under them.
    Line,
}

/// One named series of a [`Plot`]. Missing values are NaN in memory and `null` in JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct XySeries {
    /// Legend entry.
    pub name: String,
    /// x of each point.
    #[serde(with = "nan_as_null")]
    pub x: Vec<f64>,
    /// y of each point.
    #[serde(with = "nan_as_null")]
    pub y: Vec<f64>,
    /// Lower edge of a shaded band at each x (e.g. mean - std over seeds); empty for no band.
    #[serde(default, with = "nan_as_null", skip_serializing_if = "Vec::is_empty")]
    pub lo: Vec<f64>,
    /// Upper edge of the band; empty for no band.
    #[serde(default, with = "nan_as_null", skip_serializing_if = "Vec::is_empty")]
    pub hi: Vec<f64>,
    /// A label per point (e.g. the video), listed in the chart's data table; empty for none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// One named series of a chart. A missing value is NaN in memory and `null` in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// One value per category.
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

impl Chart {
    /// A bar chart over `categories` with no series yet.
    pub fn bar(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        categories: Vec<String>,
    ) -> Chart {
        Chart {
            kind: ChartKind::Bar,
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            categories,
            series: Vec::new(),
            log_y: false,
        }
    }

    /// A line chart over `categories` with no series yet.
    pub fn line(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        categories: Vec<String>,
    ) -> Chart {
        Chart {
            kind: ChartKind::Line,
            ..Chart::bar(title, x_label, y_label, categories)
        }
    }

    /// Append a series (one value per category; NaN for a missing one).
    pub fn add_series(&mut self, name: impl Into<String>, values: Vec<f64>) -> &mut Self {
        self.series.push(Series {
            name: name.into(),
            values,
        });
        self
    }

    /// Every series has one value per category.
    pub fn validate(&self) -> Result<()> {
        for s in &self.series {
            if s.values.len() != self.categories.len() {
                return Err(Error::Report(format!(
                    "chart `{}`: series `{}` has {} values for {} categories",
                    self.title,
                    s.name,
                    s.values.len(),
                    self.categories.len()
                )));
            }
        }
        Ok(())
    }
}

impl Plot {
    /// An empty plot of `kind`.
    pub fn new(
        kind: PlotKind,
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Plot {
        Plot {
            kind,
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            log_y: false,
            x_range: None,
            y_range: None,
            diagonal: false,
            caption: String::new(),
        }
    }

    /// An empty scatter plot.
    pub fn scatter(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Plot {
        Plot::new(PlotKind::Scatter, title, x_label, y_label)
    }

    /// An empty line plot.
    pub fn lines(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Plot {
        Plot::new(PlotKind::Line, title, x_label, y_label)
    }

    /// Append a series (`x` and `y` of equal length; NaN for a missing point) and return it for
    /// adding a band or labels.
    pub fn add(&mut self, name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> &mut XySeries {
        self.series.push(XySeries {
            name: name.into(),
            x,
            y,
            ..XySeries::default()
        });
        let last = self.series.len() - 1;
        &mut self.series[last]
    }

    /// Whether the page shows the plot at half width: scatter plots and ROC curves (with the
    /// diagonal) are square and come one per model.
    pub fn is_compact(&self) -> bool {
        self.kind == PlotKind::Scatter || self.diagonal
    }

    /// Every series has as many y (and band and label) entries as x; fixed ranges are finite and
    /// increasing.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Report(format!("plot `{}`: {m}", self.title)));
        for p in &self.series {
            let n = p.x.len();
            if p.y.len() != n {
                return bad(format!(
                    "series `{}` has {n} x and {} y values",
                    p.name,
                    p.y.len()
                ));
            }
            for (what, v) in [
                ("lo", p.lo.len()),
                ("hi", p.hi.len()),
                ("labels", p.labels.len()),
            ] {
                if v != 0 && v != n {
                    return bad(format!(
                        "series `{}` has {v} `{what}` values for {n} points",
                        p.name
                    ));
                }
            }
        }
        for (axis, r) in [("x", self.x_range), ("y", self.y_range)] {
            if let Some([lo, hi]) = r
                && !(lo.is_finite() && hi.is_finite() && lo < hi)
            {
                return bad(format!(
                    "{axis}_range [{lo}, {hi}] must be finite and increasing"
                ));
            }
        }
        Ok(())
    }

    /// The plot a block holds: a [`Block::Plot`], or a Markdown block holding one fenced code
    /// block tagged [`PLOT_FENCE`] with the plot as JSON (how `results.json` files written before
    /// plots were blocks of their own kept them).
    ///
    /// ```
    /// use vidcompare::report::{Block, Plot};
    /// let mut p = Plot::lines("Learning curve", "training videos", "accuracy");
    /// p.add("Classical-RF", vec![3.0, 9.0], vec![0.4, 0.7]);
    /// assert_eq!(Plot::from_block(&Block::Plot(p.clone())), Some(p.clone()));
    /// let json = serde_json::to_string(&p).unwrap();
    /// let old = Block::Markdown { text: format!("```vidcompare-plot\n{json}\n```\n") };
    /// assert_eq!(Plot::from_block(&old), Some(p));
    /// ```
    pub fn from_block(block: &Block) -> Option<Plot> {
        match block {
            Block::Plot(p) => Some(p.clone()),
            Block::Markdown { text } => {
                let body = text
                    .trim()
                    .strip_prefix("```")?
                    .strip_prefix(PLOT_FENCE)?
                    .strip_suffix("```")?;
                serde_json::from_str(body.trim()).ok()
            }
            _ => None,
        }
    }
}

/// Serde for `Vec<f64>` that writes non-finite values as `null` and reads `null` back as NaN.
mod nan_as_null {
    use super::*;

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| v.is_finite().then_some(*v)))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Vec<f64>, D::Error> {
        let values: Vec<Option<f64>> = Deserialize::deserialize(d)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_nan_round_trips_through_null() {
        let s = Series {
            name: "a".into(),
            values: vec![1.0, f64::NAN],
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"name":"a","values":[1.0,null]}"#);
        let back: Series = serde_json::from_str(&json).unwrap();
        assert_eq!(back.values[0], 1.0);
        assert!(back.values[1].is_nan());
    }
}
