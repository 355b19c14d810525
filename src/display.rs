//! Showing vidcompare's values in [evcxr](https://github.com/evcxr/evcxr): rich output (HTML
//! tables, SVG charts, PNG frames) in Jupyter, readable text in the REPL.
//!
//! evcxr shows the last expression of a cell by calling a method named `evcxr_display` on it, and
//! reads what that method prints to stdout as blocks
//!
//! ```text
//! EVCXR_BEGIN_CONTENT text/html
//! <table>...</table>
//! EVCXR_END_CONTENT
//! ```
//!
//! one per MIME type. Jupyter shows the richest block it understands; the REPL prints the
//! `text/plain` one. Every type here therefore sends a `text/plain` block (its [`fmt::Display`])
//! and, where it has one, a rich block:
//!
//! | value | rich block |
//! |---|---|
//! | [`ResultsTable`], [`ModelResult`], report [`Table`], [`Dataset`] | `text/html` table |
//! | [`ConfusionMatrix`] | `text/html` table shaded by row share, and the `image/svg+xml` heatmap |
//! | report [`Chart`] | `image/svg+xml` |
//! | [`FrameStrip`], a [`Frame`] | `image/png` (base64) |
//! | report [`Section`], [`Report`] | `text/html` (Markdown, tables, charts, images) |
//!
//! The [`EvcxrDisplay`] trait carries `evcxr_display`; `use vidcompare::prelude::*;` brings it into
//! scope, which is all evcxr needs to find it. Outside evcxr, [`EvcxrDisplay::mime_bundle`] gives
//! the same blocks as data.
//!
//! When the environment variable `VIDCOMPARE_DISPLAY_LOG` names a file, every block sent is also
//! appended to it, exactly as written to stdout (the evcxr REPL swallows the non-text blocks; the
//! log shows what Jupyter would have received).

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::PathBuf;

use base64::Engine as _;

use crate::dataset::{Dataset, SplitName};
use crate::error::{Error, Result};
use crate::report::{
    Better, Block, Cell, Chart, ChartKind, Column, ImageItem, Report, Section, Series, Table,
    image_item, markdown_to_html, render_svg,
};
use crate::results::{ModelResult, ResultsTable};
use crate::video::Frame;

/// Environment variable naming a file that receives a copy of every block sent to evcxr.
pub const DISPLAY_LOG_ENV: &str = "VIDCOMPARE_DISPLAY_LOG";

const BEGIN: &str = "EVCXR_BEGIN_CONTENT";
const END: &str = "EVCXR_END_CONTENT";

/// The representations of one value, by MIME type, in the order they are sent (`text/plain`
/// first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimeBundle {
    parts: Vec<(String, String)>,
}

impl MimeBundle {
    /// A bundle with only a `text/plain` representation.
    pub fn text(text: impl Into<String>) -> MimeBundle {
        MimeBundle {
            parts: vec![("text/plain".to_string(), text.into())],
        }
    }

    /// Add (or replace) the representation for `mime`.
    pub fn with(mut self, mime: &str, content: impl Into<String>) -> MimeBundle {
        let content = content.into();
        match self.parts.iter_mut().find(|(m, _)| m == mime) {
            Some(slot) => slot.1 = content,
            None => self.parts.push((mime.to_string(), content)),
        }
        self
    }

    /// The content for `mime`, if the bundle has it.
    pub fn get(&self, mime: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(m, _)| m == mime)
            .map(|(_, c)| c.as_str())
    }

    /// The MIME types present, in sending order.
    pub fn mime_types(&self) -> Vec<&str> {
        self.parts.iter().map(|(m, _)| m.as_str()).collect()
    }

    /// The blocks as evcxr reads them from stdout. Lines of the content that would end a block
    /// early or open a new one are defused (a zero-width space is inserted in the marker).
    pub fn to_evcxr(&self) -> String {
        let mut out = String::new();
        for (mime, content) in &self.parts {
            out.push_str(BEGIN);
            out.push(' ');
            out.push_str(mime);
            out.push('\n');
            for line in content.lines() {
                if line.contains(BEGIN) || line.trim_end() == END {
                    out.push_str(&line.replace("EVCXR_", "EVCXR\u{200B}_"));
                } else {
                    out.push_str(line);
                }
                out.push('\n');
            }
            out.push_str(END);
            out.push('\n');
        }
        out
    }
}

/// Split evcxr display output back into `(mime type, content)` blocks, in order. Lines outside
/// blocks are ignored; an unterminated block is an error. The inverse of
/// [`MimeBundle::to_evcxr`], used to check what was sent.
pub fn parse_evcxr_blocks(output: &str) -> Result<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in output.lines() {
        match &mut current {
            None => {
                if let Some(rest) = line.strip_prefix(BEGIN) {
                    let mime = rest.trim();
                    if mime.is_empty() || mime.contains(' ') {
                        return Err(Error::InvalidArgument(format!(
                            "malformed block header `{line}`: expected `{BEGIN} <mime type>`"
                        )));
                    }
                    current = Some((mime.to_string(), Vec::new()));
                }
            }
            Some((mime, lines)) => {
                if line == END {
                    blocks.push((std::mem::take(mime), lines.join("\n")));
                    current = None;
                } else if line.starts_with(BEGIN) {
                    return Err(Error::InvalidArgument(format!(
                        "block `{mime}` is not closed before the next one starts"
                    )));
                } else {
                    lines.push(line);
                }
            }
        }
    }
    match current {
        Some((mime, _)) => Err(Error::InvalidArgument(format!(
            "block `{mime}` has no {END} line"
        ))),
        None => Ok(blocks),
    }
}

/// Rich display in evcxr: implemented by every type a session shows.
///
/// Bring it into scope with `use vidcompare::prelude::*;` and evcxr calls
/// [`evcxr_display`](EvcxrDisplay::evcxr_display) on a cell's last expression.
pub trait EvcxrDisplay {
    /// Every representation of the value (`text/plain` always, plus HTML, SVG or PNG).
    fn mime_bundle(&self) -> MimeBundle;

    /// Print the [`mime_bundle`](EvcxrDisplay::mime_bundle) in evcxr's block format on stdout
    /// (and append it to the `VIDCOMPARE_DISPLAY_LOG` file when that variable is set).
    fn evcxr_display(&self) {
        send(&self.mime_bundle());
    }
}

/// Write a bundle to stdout in evcxr's format, and to the log file when one is configured.
pub fn send(bundle: &MimeBundle) {
    let wire = bundle.to_evcxr();
    let mut out = std::io::stdout().lock();
    // A closed stdout leaves nothing to show the value on; there is nobody to report to either.
    let _ = out.write_all(wire.as_bytes());
    let _ = out.flush();
    if let Some(path) = std::env::var_os(DISPLAY_LOG_ENV) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(wire.as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "warning: {DISPLAY_LOG_ENV}={}: cannot append: {e}",
                PathBuf::from(path).display()
            );
        }
    }
}

/// Escape text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tables

/// A report [`Table`] as an HTML `<table>`: caption, header, numbers right-aligned with the
/// column's decimals, the best value of each "higher/lower is better" column in bold on green.
pub fn table_html(t: &Table) -> String {
    let best: Vec<Vec<usize>> = (0..t.columns.len()).map(|c| t.best_rows(c)).collect();
    let mut h = String::from(
        "<table class=\"vidcompare\" style=\"border-collapse:collapse;font-size:0.9em\">\n",
    );
    if !t.caption.is_empty() {
        let _ = writeln!(
            h,
            "<caption style=\"caption-side:top;text-align:left;font-weight:bold;padding:4px 0\">{}</caption>",
            escape_html(&t.caption)
        );
    }
    h.push_str("<thead><tr>");
    for c in &t.columns {
        let arrow = match c.better {
            Some(Better::Higher) => " ↑",
            Some(Better::Lower) => " ↓",
            None => "",
        };
        let _ = write!(
            h,
            "<th style=\"border-bottom:2px solid #444;padding:3px 8px;text-align:{}\">{}{arrow}</th>",
            if c.is_numeric() { "right" } else { "left" },
            escape_html(&c.name)
        );
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (r, row) in t.rows.iter().enumerate() {
        h.push_str("<tr>");
        for (c, cell) in row.iter().enumerate() {
            let column = t.columns.get(c);
            let digits = column.and_then(|c| c.digits);
            let numeric = matches!(cell, Cell::Int(_) | Cell::Num(_))
                || column.is_some_and(Column::is_numeric);
            let is_best = best.get(c).is_some_and(|b| b.contains(&r));
            let _ = write!(
                h,
                "<td style=\"border-bottom:1px solid #ddd;padding:3px 8px;text-align:{}{}\">{}</td>",
                if numeric { "right" } else { "left" },
                if is_best {
                    ";font-weight:bold;background:#e3f4e8"
                } else {
                    ""
                },
                escape_html(&cell.display(digits))
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>");
    h
}

/// A table as aligned text: caption, header, a rule, rows; the best value of each ranked column
/// is marked with `*`.
fn table_text(t: &Table) -> String {
    let best: Vec<Vec<usize>> = (0..t.columns.len()).map(|c| t.best_rows(c)).collect();
    let header: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let body: Vec<Vec<String>> = t
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(|(c, cell)| {
                    let digits = t.columns.get(c).and_then(|c| c.digits);
                    let mark = if best.get(c).is_some_and(|b| b.contains(&r)) {
                        "*"
                    } else {
                        ""
                    };
                    format!("{}{mark}", cell.display(digits))
                })
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = t
        .columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            col.is_numeric()
                || t.rows
                    .iter()
                    .any(|r| matches!(r.get(c), Some(Cell::Int(_) | Cell::Num(_))))
        })
        .collect();
    let mut out = String::new();
    if !t.caption.is_empty() {
        out.push_str(&t.caption);
        out.push('\n');
    }
    out.push_str(&aligned(&header, &body, &numeric));
    if best.iter().any(|b| !b.is_empty()) {
        out.push_str("\n(* best)");
    }
    out
}

/// Columns padded to their widest cell (counted in characters), numbers right-aligned.
fn aligned(header: &[String], body: &[Vec<String>], numeric: &[bool]) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in body {
        for (c, cell) in row.iter().enumerate().take(n) {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (c, cell) in cells.iter().enumerate().take(n) {
            if c > 0 {
                s.push_str("  ");
            }
            let pad = widths[c].saturating_sub(cell.chars().count());
            if numeric.get(c).copied().unwrap_or(false) {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header);
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * n.saturating_sub(1)));
    for row in body {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&table_text(self))
    }
}

impl EvcxrDisplay for Table {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", table_html(self))
    }
}

/// The notebook's unified comparison table for every model of `results`, in insertion order:
/// accuracy, macro precision / recall / F1, macro AUC (higher is better), training time, inference
/// time per video and model size (lower is better), parameters and test videos.
pub fn metrics_table(results: &ResultsTable) -> Table {
    let models: Vec<&ModelResult> = results.models.iter().collect();
    metrics_table_of("Test-set metrics", &models)
}

fn metrics_table_of(caption: &str, models: &[&ModelResult]) -> Table {
    let columns = vec![
        Column::text("model"),
        Column::higher("accuracy", 3),
        Column::higher("precision", 3),
        Column::higher("recall", 3),
        Column::higher("F1", 3),
        Column::higher("macro AUC", 3),
        Column::lower("train (s)", 3),
        Column::lower("infer / video (ms)", 3),
        Column::lower("size (MB)", 3),
        Column::text("params"),
        Column::num("test videos", 0),
    ];
    let rows = models
        .iter()
        .map(|m| {
            let e = &m.efficiency;
            vec![
                Cell::Text(m.name.clone()),
                Cell::num(m.metrics.accuracy),
                Cell::num(m.metrics.precision),
                Cell::num(m.metrics.recall),
                Cell::num(m.metrics.f1),
                m.metrics.macro_auc.map_or(Cell::Missing, Cell::num),
                Cell::num(e.train_time_s),
                Cell::num(e.infer_time_s_per_video * 1e3),
                e.model_size_mb.map_or(Cell::Missing, Cell::num),
                e.params
                    .map_or(Cell::Missing, |p| Cell::Text(p.to_string())),
                Cell::Int(m.protocol.n_videos as i64),
            ]
        })
        .collect();
    let mut t = Table::new(caption, columns);
    t.rows = rows;
    t
}

/// A grouped bar chart of accuracy, macro precision, recall and F1 per model.
pub fn metrics_chart(results: &ResultsTable) -> Chart {
    let mut c = Chart::bar(
        "Test-set metrics per model",
        "model",
        "score",
        results.models.iter().map(|m| m.name.clone()).collect(),
    );
    type Get = fn(&ModelResult) -> f64;
    let metrics: [(&str, Get); 4] = [
        ("accuracy", |m| m.metrics.accuracy),
        ("precision", |m| m.metrics.precision),
        ("recall", |m| m.metrics.recall),
        ("F1", |m| m.metrics.f1),
    ];
    for (name, get) in metrics {
        c.add_series(name, results.models.iter().map(get).collect());
    }
    c
}

impl fmt::Display for ResultsTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.models.is_empty() {
            return f.write_str("ResultsTable: no models yet (add one with `results.push(model)`)");
        }
        f.write_str(&table_text(&metrics_table(self)))
    }
}

impl EvcxrDisplay for ResultsTable {
    fn mime_bundle(&self) -> MimeBundle {
        let b = MimeBundle::text(self.to_string());
        if self.models.is_empty() {
            return b;
        }
        b.with("text/html", table_html(&metrics_table(self)))
    }
}

/// Per-class precision, recall, F1, support and AUC of one model.
fn per_class_table(m: &ModelResult, class_names: Option<&[String]>) -> Table {
    let rows = m
        .metrics
        .per_class
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = class_names
                .and_then(|n| n.get(i).cloned())
                .unwrap_or_else(|| format!("class {i}"));
            vec![
                Cell::Text(name),
                Cell::num(c.precision),
                Cell::num(c.recall),
                Cell::num(c.f1),
                c.auc.map_or(Cell::Missing, Cell::num),
                Cell::Int(c.support as i64),
            ]
        })
        .collect();
    let mut t = Table::new(
        format!("{}: per class", m.name),
        vec![
            Column::text("class"),
            Column::num("precision", 3),
            Column::num("recall", 3),
            Column::num("F1", 3),
            Column::num("AUC", 3),
            Column::num("support", 0),
        ],
    );
    t.rows = rows;
    t
}

impl fmt::Display for ModelResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metrics;
        write!(
            f,
            "{}: accuracy {:.3}, precision {:.3}, recall {:.3}, F1 {:.3}, macro AUC {}",
            self.name,
            m.accuracy,
            m.precision,
            m.recall,
            m.f1,
            m.macro_auc.map_or("—".to_string(), |a| format!("{a:.3}"))
        )?;
        write!(
            f,
            "\n  {} test videos, trained in {:.2} s, {:.3} ms per video (classifier only)",
            self.protocol.n_videos,
            self.efficiency.train_time_s,
            self.efficiency.infer_time_s_per_video * 1e3
        )?;
        if let Some(best) = self.details.get("best_params").filter(|v| !v.is_null()) {
            write!(f, "\n  best parameters: {best}")?;
        }
        write!(f, "\n{}", table_text(&per_class_table(self, None)))
    }
}

impl EvcxrDisplay for ModelResult {
    fn mime_bundle(&self) -> MimeBundle {
        let html = format!(
            "{}\n{}",
            table_html(&metrics_table_of(&self.name, &[self])),
            table_html(&per_class_table(self, None))
        );
        MimeBundle::text(self.to_string()).with("text/html", html)
    }
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

/// A model's confusion matrix on the test split with the class names: `counts[true][predicted]`.
///
/// Shows as an HTML table shaded by each row's share (and the SVG heatmap) in Jupyter, as a grid
/// of counts in the REPL; [`ConfusionMatrix::chart`] is the heatmap for a report section.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    /// The model's name.
    pub model: String,
    /// One name per class, in label order.
    pub class_names: Vec<String>,
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// The confusion matrix of `result`, its classes named by `class_names` (missing names become
    /// `C<i>`).
    pub fn of(result: &ModelResult, class_names: &[String]) -> ConfusionMatrix {
        let counts = result.metrics.confusion.clone();
        ConfusionMatrix {
            model: result.name.clone(),
            class_names: (0..counts.len())
                .map(|i| {
                    class_names
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("C{i}"))
                })
                .collect(),
            counts,
        }
    }

    /// Fraction of the samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..self.counts.len())
            .map(|i| self.counts[i].get(i).copied().unwrap_or(0))
            .sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }

    /// The matrix as a heatmap chart (rows: true class, columns: predicted), as the report draws
    /// confusion matrices.
    pub fn chart(&self) -> Chart {
        let mut c = Chart::bar(
            format!("{} — confusion matrix (test)", self.model),
            "predicted",
            "true",
            self.class_names.clone(),
        );
        c.kind = ChartKind::Heatmap;
        c.series = self
            .counts
            .iter()
            .zip(&self.class_names)
            .map(|(row, name)| Series {
                name: name.clone(),
                values: row.iter().map(|&c| c as f64).collect(),
            })
            .collect();
        c
    }

    fn html(&self) -> String {
        let mut h = format!(
            "<table class=\"vidcompare\" style=\"border-collapse:collapse;font-size:0.9em\">\n\
             <caption style=\"caption-side:top;text-align:left;font-weight:bold;padding:4px 0\">{} — confusion matrix (rows: true, columns: predicted)</caption>\n<thead><tr><th></th>",
            escape_html(&self.model)
        );
        for name in &self.class_names {
            let _ = write!(
                h,
                "<th style=\"padding:3px 8px\">{}</th>",
                escape_html(name)
            );
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for (i, row) in self.counts.iter().enumerate() {
            let total: usize = row.iter().sum();
            let _ = write!(
                h,
                "<tr><th style=\"padding:3px 8px;text-align:left\">{}</th>",
                escape_html(&self.class_names[i])
            );
            for (j, &c) in row.iter().enumerate() {
                let share = if total == 0 {
                    0.0
                } else {
                    c as f64 / total as f64
                };
                let (r, g, b) = if i == j { (0, 114, 178) } else { (213, 94, 0) };
                let _ = write!(
                    h,
                    "<td style=\"padding:3px 8px;text-align:right;background:rgba({r},{g},{b},{:.2})\">{c}</td>",
                    0.08 + 0.6 * share
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>");
        h
    }
}

/// The confusion matrix of `result` with its classes named (see [`ConfusionMatrix::of`]).
pub fn confusion(result: &ModelResult, class_names: &[String]) -> ConfusionMatrix {
    ConfusionMatrix::of(result, class_names)
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: confusion matrix (rows: true class, columns: predicted), accuracy {:.3}",
            self.model,
            self.accuracy()
        )?;
        let mut header = vec!["true \\ predicted".to_string()];
        header.extend(self.class_names.iter().cloned());
        let body: Vec<Vec<String>> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut r = vec![self.class_names[i].clone()];
                r.extend(row.iter().map(usize::to_string));
                r
            })
            .collect();
        let mut numeric = vec![true; header.len()];
        numeric[0] = false;
        f.write_str(&aligned(&header, &body, &numeric))
    }
}

impl EvcxrDisplay for ConfusionMatrix {
    fn mime_bundle(&self) -> MimeBundle {
        let b = MimeBundle::text(self.to_string()).with("text/html", self.html());
        match render_svg(&self.chart()) {
            Ok(svg) => b.with("image/svg+xml", svg),
            Err(_) => b,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Charts

impl fmt::Display for Chart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By name, so that chart kinds added later read sensibly too.
        let kind = match format!("{:?}", self.kind).as_str() {
            "Bar" => "bar chart".to_string(),
            "Line" => "line chart".to_string(),
            "Heatmap" => "heatmap".to_string(),
            "XyLine" => "line chart over x".to_string(),
            other => format!("{} chart", other.to_lowercase()),
        };
        write!(f, "{} ({kind}", self.title)?;
        if !self.x_label.is_empty() || !self.y_label.is_empty() {
            write!(f, "; x: {}, y: {}", self.x_label, self.y_label)?;
        }
        if self.log_y {
            f.write_str(", log y")?;
        }
        f.write_str(")")?;
        // Numeric charts (scatter, x-y lines) keep their data in `points`: a range summary per
        // series. Read through serde so this works whatever else a chart carries.
        let json = serde_json::to_value(self).unwrap_or_default();
        for p in json["points"].as_array().into_iter().flatten() {
            let nums = |key: &str| -> Vec<f64> {
                p[key]
                    .as_array()
                    .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                    .unwrap_or_default()
            };
            let range = |v: &[f64]| {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
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
            let (x, y) = (nums("x"), nums("y"));
            write!(
                f,
                "\n  {}: {} points, x in {}, y in {}",
                p["name"].as_str().unwrap_or(""),
                p["x"].as_array().map_or(0, Vec::len),
                range(&x),
                range(&y)
            )?;
        }
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

impl EvcxrDisplay for Chart {
    fn mime_bundle(&self) -> MimeBundle {
        let b = MimeBundle::text(self.to_string());
        match render_svg(self) {
            Ok(svg) => b.with("image/svg+xml", svg),
            Err(e) => MimeBundle::text(format!("{self}\n(cannot draw: {e})")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Frames

/// A row of frames (from one video, or any frames) shown as one PNG image: what
/// [`crate::prelude::frames`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStrip {
    /// The frames, in order.
    pub frames: Vec<Frame>,
    /// One label per frame (e.g. `frame 42`); may be empty.
    pub labels: Vec<String>,
    /// Where the frames came from, if from a file.
    pub source: Option<PathBuf>,
}

/// Pixels between frames in a strip.
const GAP: u32 = 4;
/// Frames per row of a strip's image.
const PER_ROW: usize = 8;

impl FrameStrip {
    /// A strip of `frames` with no labels.
    pub fn new(frames: Vec<Frame>) -> FrameStrip {
        FrameStrip {
            frames,
            labels: Vec::new(),
            source: None,
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the strip holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frame `i`, or an error saying how many there are.
    pub fn frame(&self, i: usize) -> Result<&Frame> {
        self.frames.get(i).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "frame {i} asked of a strip of {} frames (indices 0..{})",
                self.frames.len(),
                self.frames.len()
            ))
        })
    }

    /// The frames side by side (up to 8 per row) on white with 4-pixel gaps, top-aligned.
    pub fn montage(&self) -> Frame {
        if self.frames.is_empty() {
            return Frame::from_pixel(1, 1, image::Rgb([255, 255, 255]));
        }
        let rows: Vec<&[Frame]> = self.frames.chunks(PER_ROW).collect();
        let row_w = |r: &[Frame]| -> u32 {
            r.iter().map(|f| f.width()).sum::<u32>() + GAP * (r.len() as u32 - 1)
        };
        let row_h = |r: &[Frame]| -> u32 { r.iter().map(|f| f.height()).max().unwrap_or(0) };
        let width = rows.iter().map(|r| row_w(r)).max().unwrap_or(1).max(1);
        let height = rows.iter().map(|r| row_h(r)).sum::<u32>() + GAP * (rows.len() as u32 - 1);
        let mut out = Frame::from_pixel(width, height.max(1), image::Rgb([255, 255, 255]));
        let mut y = 0;
        for r in rows {
            let mut x = 0;
            for f in r {
                image::imageops::replace(&mut out, f, i64::from(x), i64::from(y));
                x += f.width() + GAP;
            }
            y += row_h(r) + GAP;
        }
        out
    }

    /// The montage as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        png_bytes(&self.montage())
    }

    /// The frames as report images (PNG or JPEG by size, as the report stores frames), captioned
    /// with their labels, for `section.images("caption", strip.images()?)`.
    pub fn images(&self) -> Result<Vec<ImageItem>> {
        self.frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let label = self
                    .labels
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("frame {i}"));
                image_item(f, &label)
            })
            .collect()
    }
}

fn png_bytes(frame: &Frame) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    frame
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))
        .map_err(|e| Error::Report(format!("PNG encoding failed: {e}")))?;
    Ok(bytes)
}

fn png_bundle(text: String, frame: &Frame) -> MimeBundle {
    match png_bytes(frame) {
        Ok(png) => MimeBundle::text(text).with(
            "image/png",
            base64::engine::general_purpose::STANDARD.encode(png),
        ),
        Err(e) => MimeBundle::text(format!("{text}\n({e})")),
    }
}

impl fmt::Display for FrameStrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.frames.len();
        write!(f, "{n} frame{}", if n == 1 { "" } else { "s" })?;
        if let Some(first) = self.frames.first() {
            if self
                .frames
                .iter()
                .all(|x| x.dimensions() == first.dimensions())
            {
                write!(f, " of {}x{}", first.width(), first.height())?;
            }
        }
        if let Some(src) = &self.source {
            write!(f, " from {}", src.display())?;
        }
        if !self.labels.is_empty() {
            write!(f, " ({})", self.labels.join(", "))?;
        }
        Ok(())
    }
}

impl EvcxrDisplay for FrameStrip {
    fn mime_bundle(&self) -> MimeBundle {
        let montage = self.montage();
        png_bundle(
            format!(
                "{self}\n[{}x{} image: shown in Jupyter; `strip.to_png()?` gives the PNG bytes]",
                montage.width(),
                montage.height()
            ),
            &montage,
        )
    }
}

impl EvcxrDisplay for Frame {
    fn mime_bundle(&self) -> MimeBundle {
        let (w, h) = self.dimensions();
        let mean = if w == 0 || h == 0 {
            [0.0; 3]
        } else {
            let mut sum = [0u64; 3];
            for p in self.pixels() {
                for (s, v) in sum.iter_mut().zip(p.0) {
                    *s += u64::from(v);
                }
            }
            sum.map(|s| s as f64 / (u64::from(w) * u64::from(h)) as f64)
        };
        png_bundle(
            format!(
                "frame {w}x{h}, mean RGB ({:.1}, {:.1}, {:.1}) [image: shown in Jupyter]",
                mean[0], mean[1], mean[2]
            ),
            self,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Datasets

/// Split sizes per class as a table: one row per split, one column per class, and the total.
pub fn dataset_table(ds: &Dataset) -> Table {
    let mut columns = vec![Column::text("split")];
    columns.extend(ds.class_names.iter().map(|c| Column::num(c.clone(), 0)));
    columns.push(Column::num("videos", 0));
    let rows = SplitName::ALL
        .iter()
        .map(|&s| {
            let counts = ds.class_counts(s);
            let mut row = vec![Cell::Text(s.to_string())];
            row.extend(counts.iter().map(|&c| Cell::Int(c as i64)));
            row.push(Cell::Int(ds.split(s).len() as i64));
            row
        })
        .collect();
    let mut t = Table::new(
        format!(
            "{}: {} classes, {} videos",
            ds.root.display(),
            ds.n_classes(),
            ds.train.len() + ds.val.len() + ds.test.len()
        ),
        columns,
    );
    t.rows = rows;
    t
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&table_text(&dataset_table(self)))
    }
}

impl EvcxrDisplay for Dataset {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", table_html(&dataset_table(self)))
    }
}

// ---------------------------------------------------------------------------------------------
// Report sections

fn block_html(b: &Block) -> String {
    match b {
        Block::Markdown { text } => markdown_to_html(text),
        Block::Table(t) => table_html(t),
        Block::Chart(c) => match render_svg(c) {
            Ok(svg) => format!("<div style=\"max-width:760px\">{svg}</div>"),
            Err(e) => format!("<p>{}</p>", escape_html(&e.to_string())),
        },
        Block::Images { caption, items } => {
            let mut h = String::from("<figure style=\"margin:0\">");
            for it in items {
                let _ = write!(
                    h,
                    "<img src=\"data:{};base64,{}\" alt=\"{}\" title=\"{}\" style=\"margin:2px\">",
                    escape_html(&it.mime),
                    it.data_base64,
                    escape_html(&it.caption),
                    escape_html(&it.caption)
                );
            }
            let _ = write!(
                h,
                "<figcaption>{}</figcaption></figure>",
                escape_html(caption)
            );
            h
        }
    }
}

fn block_text(b: &Block) -> String {
    match b {
        Block::Markdown { text } => text.trim().to_string(),
        Block::Table(t) => table_text(t),
        Block::Chart(c) => c.to_string(),
        Block::Images { caption, items } => format!("[{} images: {caption}]", items.len()),
    }
}

/// A report section as an HTML fragment: heading and blocks, charts as inline SVG.
pub fn section_html(s: &Section) -> String {
    let mut h = format!(
        "<section id=\"{}\"><h3>{}</h3>\n",
        escape_html(&s.id),
        escape_html(&s.title)
    );
    for b in &s.blocks {
        h.push_str(&block_html(b));
        h.push('\n');
    }
    h.push_str("</section>");
    h
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "## {} (#{})", self.title, self.id)?;
        for b in &self.blocks {
            write!(f, "\n\n{}", block_text(b))?;
        }
        Ok(())
    }
}

impl EvcxrDisplay for Section {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", section_html(self))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Report \"{}\": {} section{}",
            self.title,
            self.sections.len(),
            if self.sections.len() == 1 { "" } else { "s" }
        )?;
        for s in &self.sections {
            write!(f, "\n  #{}  {} ({} blocks)", s.id, s.title, s.blocks.len())?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning: {w}")?;
        }
        Ok(())
    }
}

impl EvcxrDisplay for Report {
    fn mime_bundle(&self) -> MimeBundle {
        let mut h = format!("<h2>{}</h2>\n", escape_html(&self.title));
        if !self.warnings.is_empty() {
            h.push_str("<ul>");
            for w in &self.warnings {
                let _ = write!(h, "<li>{}</li>", escape_html(w));
            }
            h.push_str("</ul>\n");
        }
        for s in &self.sections {
            h.push_str(&section_html(s));
            h.push('\n');
        }
        MimeBundle::text(self.to_string()).with("text/html", h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_markers_are_defused() {
        let b = MimeBundle::text("a\nEVCXR_END_CONTENT\nb")
            .with("text/html", "<p>EVCXR_BEGIN_CONTENT text/plain</p>");
        let wire = b.to_evcxr();
        let blocks = parse_evcxr_blocks(&wire).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "text/plain");
        assert_eq!(blocks[0].1, "a\nEVCXR\u{200B}_END_CONTENT\nb");
        assert_eq!(blocks[1].0, "text/html");
        assert!(!blocks[1].1.contains("EVCXR_BEGIN_CONTENT"));
    }

    #[test]
    fn unterminated_block_is_an_error() {
        assert!(parse_evcxr_blocks("EVCXR_BEGIN_CONTENT text/plain\nhello\n").is_err());
        assert!(parse_evcxr_blocks("EVCXR_BEGIN_CONTENT\nx\nEVCXR_END_CONTENT\n").is_err());
    }

    #[test]
    fn escape() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
