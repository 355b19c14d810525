//! The report document: sections of blocks (Markdown, tables, charts, images), saved as JSON.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize, Serializer};

use super::meta::RunMeta;
use crate::error::{Error, IoContext, Result};

/// The `schema_version` written at the top of `results.json`; bump it when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole report: a title, how the run was made, the script's sections in order, and warnings.
///
/// Saved as `results.json` (see [`Report::save_json`]) and rendered to one HTML file (see
/// [`Report::render_html`]); charts are drawn at render time from the data kept here, so rendering
/// saved results reproduces the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Page title and `<h1>`.
    pub title: String,
    /// Provenance of the run (date, version, commit, machine, config).
    #[serde(default)]
    pub meta: RunMeta,
    /// Sections in the order the script first opened them.
    #[serde(default)]
    pub sections: Vec<Section>,
    /// Things the reader should know (skipped videos, fallbacks); shown in a box at the top.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Tables that [`Report::write`] also saves beside the page as CSV and JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<TableExport>,
}

/// A table saved beside the page as `{name}.csv` and `{name}.json` (full-precision numbers), and
/// linked from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableExport {
    /// File stem: `a-z`, `0-9`, `-`, `_` (see [`is_valid_export_name`]).
    pub name: String,
    /// Id of the section holding the table.
    pub section: String,
    /// Index of the table among the section's blocks.
    pub block: usize,
}

/// One section of the page: `<section id="{id}">` with a heading and its blocks in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Section {
    /// HTML id, `[a-z0-9-]+`; the table of contents links to `#id`.
    pub id: String,
    /// Heading shown on the page and in the table of contents.
    pub title: String,
    /// Content, in the order it was added.
    #[serde(default)]
    pub blocks: Vec<Block>,
}

/// One piece of section content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// CommonMark prose (tables and strikethrough on); raw HTML in it is shown as text.
    Markdown {
        /// The Markdown source.
        text: String,
    },
    /// A table of numbers and text with direction-aware highlighting of the best values.
    Table(Table),
    /// A bar or line chart, drawn as inline SVG at render time.
    Chart(Chart),
    /// A captioned grid of images embedded as `data:` URIs.
    Images {
        /// Caption of the whole grid.
        caption: String,
        /// The images, in order.
        items: Vec<ImageItem>,
    },
}

/// A table: columns (with number format and which direction is better) and rows of cells.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// Shown above the table.
    pub caption: String,
    /// Column headers and formats.
    pub columns: Vec<Column>,
    /// Rows; each must have one cell per column.
    #[serde(default)]
    pub rows: Vec<Vec<Cell>>,
}

/// A table column: its header, whether higher or lower values are better, and decimal places.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Column {
    /// Header text.
    pub name: String,
    /// Which direction is better; `None` means no highlighting.
    #[serde(default)]
    pub better: Option<Better>,
    /// Decimal places for non-integer numbers; `None` picks about four significant digits.
    #[serde(default)]
    pub digits: Option<usize>,
}

/// Which direction of a metric is better.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Larger is better (accuracy, F1).
    Higher,
    /// Smaller is better (time, memory, loss).
    Lower,
}

/// One table cell. In JSON: a number, a string, or `null` for [`Cell::Missing`].
///
/// Non-finite numbers have no JSON form, so the constructors ([`Cell::num`], `From<f64>`) turn them
/// into `Missing`; a `Num(NaN)` built by hand is written as `null` and reads back as `Missing`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Cell {
    /// An integer (counts, sizes); shown without decimals.
    Int(i64),
    /// A real number, shown with the column's `digits`.
    Num(f64),
    /// Free text.
    Text(String),
    /// No value; shown as "—".
    Missing,
}

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

/// The Markdown fence info string that marks a [`Plot`] inside a Markdown block.
pub const PLOT_FENCE: &str = "vidcompare-plot";

/// A chart over numeric axes: points (t-SNE maps) or lines with optional shaded bands (learning,
/// ROC and training curves).
///
/// A plot is kept in the report as a Markdown block holding one fenced code block whose info string
/// is [`PLOT_FENCE`] and whose body is the plot as JSON (see [`Section::plot`]); rendering turns
/// the fence into an SVG chart and its data table, so plots, like charts, are drawn from the saved
/// data at render time, and any Markdown renderer of the report (the evcxr display too) shows them.
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

/// One embedded image: base64 data plus its size and caption.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageItem {
    /// Shown under the image and used as its alt text.
    pub caption: String,
    /// `image/png` or `image/jpeg` (also accepted at render time: gif, webp).
    pub mime: String,
    /// The encoded file, standard base64 alphabet.
    pub data_base64: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}

/// Frames up to this many pixels are stored as lossless PNG; larger ones as JPEG (quality 85),
/// because camera frames compress several times better as JPEG and the HTML file carries them all.
const PNG_MAX_PIXELS: u64 = 256 * 256;

/// Encode a frame for the report: PNG up to 256x256 pixels, JPEG quality 85 above, then base64.
///
/// ```
/// let frame = image::RgbImage::from_pixel(8, 4, image::Rgb([255, 0, 0]));
/// let item = vidcompare::report::image_item(&frame, "red").unwrap();
/// assert_eq!((item.mime.as_str(), item.width, item.height), ("image/png", 8, 4));
/// ```
pub fn image_item(frame: &image::RgbImage, caption: &str) -> Result<ImageItem> {
    let (width, height) = frame.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::Report(format!(
            "image `{caption}` is empty ({width}x{height})"
        )));
    }
    let mut bytes = Vec::new();
    let mime = if u64::from(width) * u64::from(height) <= PNG_MAX_PIXELS {
        frame
            .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))
            .map_err(|e| Error::Report(format!("image `{caption}`: PNG encoding failed: {e}")))?;
        "image/png"
    } else {
        frame
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut bytes, 85,
            ))
            .map_err(|e| Error::Report(format!("image `{caption}`: JPEG encoding failed: {e}")))?;
        "image/jpeg"
    };
    Ok(ImageItem {
        caption: caption.to_string(),
        mime: mime.to_string(),
        data_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        width,
        height,
    })
}

/// Whether `name` can name an exported table's files: non-empty, only `a-z`, `0-9`, `-`, `_`, and
/// not `results` or `index` (the report's own files).
pub fn is_valid_export_name(name: &str) -> bool {
    !name.is_empty()
        && !matches!(name, "results" | "index" | "models")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `id` can be a section id: non-empty, only `a-z`, `0-9` and `-`.
pub fn is_valid_section_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>, meta: RunMeta) -> Report {
        Report {
            title: title.into(),
            meta,
            sections: Vec::new(),
            warnings: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// Append `table` to section `section_id` (which must exist) and export it as `name`.csv and
    /// `name`.json beside the page.
    ///
    /// ```
    /// use vidcompare::report::{Column, Report, RunMeta, Table};
    /// let mut r = Report::new("t", RunMeta::default());
    /// r.section("comparison", "Comparison").unwrap();
    /// r.add_exported_table("comparison", Table::new("all", vec![Column::text("model")]), "comparison").unwrap();
    /// assert_eq!(r.exported_tables().count(), 1);
    /// ```
    pub fn add_exported_table(&mut self, section_id: &str, table: Table, name: &str) -> Result<()> {
        if !is_valid_export_name(name) {
            return Err(Error::Report(format!(
                "export name `{name}` must use only a-z, 0-9, '-' and '_' (and not results, index or models)"
            )));
        }
        if self.exports.iter().any(|e| e.name == name) {
            return Err(Error::Report(format!(
                "a table is already exported as `{name}`"
            )));
        }
        let section = self
            .sections
            .iter_mut()
            .find(|s| s.id == section_id)
            .ok_or_else(|| Error::Report(format!("no section `{section_id}`")))?;
        section.table(table);
        let block = section.blocks.len() - 1;
        self.exports.push(TableExport {
            name: name.to_string(),
            section: section_id.to_string(),
            block,
        });
        Ok(())
    }

    /// The exported tables with their export names, in the order they were exported.
    pub fn exported_tables(&self) -> impl Iterator<Item = (&str, &Table)> {
        self.exports.iter().filter_map(|e| {
            let s = self.sections.iter().find(|s| s.id == e.section)?;
            match s.blocks.get(e.block) {
                Some(Block::Table(t)) => Some((e.name.as_str(), t)),
                _ => None,
            }
        })
    }

    /// The section with this id, created at the end if new (so sections keep the script's order).
    ///
    /// An existing section keeps its first title; pass `""` to look one up. Ids must match
    /// `[a-z0-9-]+` because they become HTML ids and URL fragments.
    ///
    /// ```
    /// use vidcompare::report::{Report, RunMeta};
    /// let mut r = Report::new("demo", RunMeta::default());
    /// r.section("results", "Results").unwrap().markdown("**done**");
    /// r.section("results", "").unwrap().markdown("more");
    /// assert_eq!(r.sections.len(), 1);
    /// assert!(r.section("Bad Id", "x").is_err());
    /// ```
    pub fn section(&mut self, id: &str, title: &str) -> Result<&mut Section> {
        if !is_valid_section_id(id) {
            return Err(Error::Report(format!(
                "section id `{id}` must be non-empty and use only a-z, 0-9 and '-'"
            )));
        }
        let index = match self.sections.iter().position(|s| s.id == id) {
            Some(i) => {
                if self.sections[i].title.is_empty() {
                    self.sections[i].title = title.to_string();
                }
                i
            }
            None => {
                self.sections.push(Section {
                    id: id.to_string(),
                    title: title.to_string(),
                    blocks: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        Ok(&mut self.sections[index])
    }

    /// The JSON text of `results.json`: `{"schema_version": 1, "title": ..., ...}`.
    pub fn to_json(&self) -> Result<String> {
        #[derive(Serialize)]
        struct File<'a> {
            schema_version: u32,
            #[serde(flatten)]
            report: &'a Report,
        }
        serde_json::to_string_pretty(&File {
            schema_version: SCHEMA_VERSION,
            report: self,
        })
        .map_err(|e| Error::Report(format!("cannot serialise the report: {e}")))
    }

    /// Parse the text of a `results.json`; `origin` names it in errors (a path, or `<string>`).
    pub fn from_json(text: &str, origin: &str) -> Result<Report> {
        // Parsing Report directly (it ignores unknown keys) keeps serde_json's exact line and
        // column for type errors; a flattened wrapper would buffer and report the object's end.
        let report: Report = serde_json::from_str(text).map_err(|e| {
            Error::Report(format!(
                "{origin}:{}:{}: not a vidcompare results file: {e}",
                e.line(),
                e.column()
            ))
        })?;
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<u64>,
        }
        let version: Version = serde_json::from_str(text)
            .map_err(|e| Error::Report(format!("{origin}:{}:{}: {e}", e.line(), e.column())))?;
        match version.schema_version {
            Some(v) if v == u64::from(SCHEMA_VERSION) => Ok(report),
            Some(v) => Err(Error::Report(format!(
                "{origin}: schema_version {v} is not supported (this vidcompare reads {SCHEMA_VERSION})"
            ))),
            None => Err(Error::Report(format!(
                "{origin}: no `schema_version`; not a vidcompare results file"
            ))),
        }
    }

    /// Write `results.json` atomically (temporary file in the same folder, then rename), so a crash
    /// never leaves a half-written file where a good one was.
    pub fn save_json(&self, path: &Path) -> Result<()> {
        crate::util::fs::write_atomic(path, self.to_json()?.as_bytes())
    }

    /// Read a file written by [`Report::save_json`]; errors name the path, and line and column for
    /// malformed JSON.
    pub fn load_json(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path).at(path)?;
        Report::from_json(&text, &path.display().to_string())
    }

    /// Check what the type system cannot: ids, row widths, chart series lengths.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.sections {
            if !is_valid_section_id(&s.id) {
                return Err(Error::Report(format!(
                    "section id `{}` must be non-empty and use only a-z, 0-9 and '-'",
                    s.id
                )));
            }
            if !seen.insert(s.id.as_str()) {
                return Err(Error::Report(format!(
                    "section id `{}` appears twice",
                    s.id
                )));
            }
            for b in &s.blocks {
                if let Some(p) = Plot::from_block(b) {
                    p.validate().map_err(|e| in_section(&s.id, e))?;
                }
                match b {
                    Block::Table(t) => t.validate().map_err(|e| in_section(&s.id, e))?,
                    Block::Chart(c) => c.validate().map_err(|e| in_section(&s.id, e))?,
                    Block::Markdown { .. } | Block::Images { .. } => {}
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for e in &self.exports {
            if !is_valid_export_name(&e.name) || !names.insert(e.name.as_str()) {
                return Err(Error::Report(format!(
                    "export name `{}` is invalid or used twice",
                    e.name
                )));
            }
            let block = self
                .sections
                .iter()
                .find(|s| s.id == e.section)
                .and_then(|s| s.blocks.get(e.block));
            if !matches!(block, Some(Block::Table(_))) {
                return Err(Error::Report(format!(
                    "export `{}` names block {} of section `{}`, which is not a table",
                    e.name, e.block, e.section
                )));
            }
        }
        Ok(())
    }
}

fn in_section(id: &str, e: Error) -> Error {
    match e {
        Error::Report(m) => Error::Report(format!("section `{id}`: {m}")),
        other => other,
    }
}

impl Section {
    /// Append Markdown prose.
    pub fn markdown(&mut self, md: &str) -> &mut Self {
        self.blocks.push(Block::Markdown {
            text: md.to_string(),
        });
        self
    }

    /// Append a table.
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.blocks.push(Block::Table(t));
        self
    }

    /// Append a chart.
    pub fn chart(&mut self, c: Chart) -> &mut Self {
        self.blocks.push(Block::Chart(c));
        self
    }

    /// Append a numeric [`Plot`] (kept as a Markdown block; see [`Plot::to_markdown`]).
    pub fn plot(&mut self, p: &Plot) -> Result<&mut Self> {
        let text = p.to_markdown()?;
        self.blocks.push(Block::Markdown { text });
        Ok(self)
    }

    /// Append a captioned image grid.
    pub fn images(&mut self, caption: &str, items: Vec<ImageItem>) -> &mut Self {
        self.blocks.push(Block::Images {
            caption: caption.to_string(),
            items,
        });
        self
    }
}

impl Table {
    /// A table with these columns and no rows yet.
    pub fn new(caption: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            caption: caption.into(),
            columns,
            rows: Vec::new(),
        }
    }

    /// Append a row; it must have one cell per column.
    pub fn add_row(&mut self, cells: Vec<Cell>) -> Result<&mut Self> {
        if cells.len() != self.columns.len() {
            return Err(Error::Report(format!(
                "table `{}`: a row has {} cells but there are {} columns",
                self.caption,
                cells.len(),
                self.columns.len()
            )));
        }
        self.rows.push(cells);
        Ok(self)
    }

    /// The table as CSV (RFC 4180): a header of column names, then one line per row with numbers
    /// at full precision (shortest round-trip form), text quoted when needed, missing cells empty.
    ///
    /// ```
    /// use vidcompare::report::{Cell, Column, Table};
    /// let mut t = Table::new("t", vec![Column::text("model"), Column::higher("accuracy", 3)]);
    /// t.add_row(vec!["RF, motion+".into(), Cell::Num(0.8888888888888888)]).unwrap();
    /// t.add_row(vec!["kNN".into(), Cell::Missing]).unwrap();
    /// assert_eq!(t.to_csv(), "model,accuracy\r\n\"RF, motion+\",0.8888888888888888\r\nkNN,\r\n");
    /// ```
    pub fn to_csv(&self) -> String {
        fn field(s: &str) -> String {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| field(&c.name)).collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::Int(i) => i.to_string(),
                    Cell::Num(x) if x.is_finite() => x.to_string(),
                    Cell::Num(_) | Cell::Missing => String::new(),
                    Cell::Text(t) => field(t),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The table as a JSON document: its caption, its columns (name, better, digits) and one
    /// object per row keyed by column name, numbers at full precision and missing cells `null`.
    pub fn to_export_json(&self) -> Result<String> {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
            .rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .zip(row)
                    .map(|(col, cell)| {
                        let v = serde_json::to_value(cell).unwrap_or(serde_json::Value::Null);
                        (col.name.clone(), v)
                    })
                    .collect()
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "caption": self.caption,
            "columns": self.columns,
            "rows": rows,
        }))
        .map_err(|e| Error::Report(format!("table `{}`: {e}", self.caption)))
    }

    /// Every row has one cell per column.
    pub fn validate(&self) -> Result<()> {
        for (i, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(Error::Report(format!(
                    "table `{}`: row {i} has {} cells but there are {} columns",
                    self.caption,
                    row.len(),
                    self.columns.len()
                )));
            }
        }
        Ok(())
    }

    /// The rows holding the best value of column `col` (all of them when tied), by the column's
    /// [`Better`] direction; empty when the column has no direction or no numbers.
    ///
    /// Text and missing cells are ignored. With `digits` set, values are compared as displayed, so
    /// two cells that read the same are both highlighted.
    ///
    /// ```
    /// use vidcompare::report::{Cell, Column, Table};
    /// let mut t = Table::new("t", vec![Column::text("model"), Column::lower("time", 1)]);
    /// t.add_row(vec!["a".into(), Cell::Num(2.04)]).unwrap();
    /// t.add_row(vec!["b".into(), Cell::Num(2.01)]).unwrap();
    /// t.add_row(vec!["c".into(), Cell::Missing]).unwrap();
    /// assert_eq!(t.best_rows(1), vec![0, 1]); // both read "2.0"
    /// ```
    pub fn best_rows(&self, col: usize) -> Vec<usize> {
        let Some(column) = self.columns.get(col) else {
            return Vec::new();
        };
        let Some(better) = column.better else {
            return Vec::new();
        };
        let key = |cell: &Cell| -> Option<f64> {
            let x = match cell {
                Cell::Int(i) => *i as f64,
                Cell::Num(x) if x.is_finite() => *x,
                _ => return None,
            };
            match (cell, column.digits) {
                (Cell::Num(_), Some(d)) => format!("{x:.d$}").parse().ok(),
                _ => Some(x),
            }
        };
        let values: Vec<(usize, f64)> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| row.get(col).and_then(key).map(|v| (i, v)))
            .collect();
        let best = values.iter().map(|&(_, v)| v).reduce(|a, b| match better {
            Better::Higher => a.max(b),
            Better::Lower => a.min(b),
        });
        match best {
            Some(best) => values
                .into_iter()
                .filter(|&(_, v)| v == best)
                .map(|(i, _)| i)
                .collect(),
            None => Vec::new(),
        }
    }
}

impl Column {
    /// A text column (left-aligned, never highlighted).
    pub fn text(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            better: None,
            digits: None,
        }
    }

    /// A number column with `digits` decimals and no highlighting.
    pub fn num(name: impl Into<String>, digits: usize) -> Column {
        Column {
            name: name.into(),
            better: None,
            digits: Some(digits),
        }
    }

    /// A number column whose largest value is highlighted (accuracy, F1).
    pub fn higher(name: impl Into<String>, digits: usize) -> Column {
        Column {
            better: Some(Better::Higher),
            ..Column::num(name, digits)
        }
    }

    /// A number column whose smallest value is highlighted (time, memory).
    pub fn lower(name: impl Into<String>, digits: usize) -> Column {
        Column {
            better: Some(Better::Lower),
            ..Column::num(name, digits)
        }
    }

    /// Whether the column holds numbers (so it is right-aligned).
    pub fn is_numeric(&self) -> bool {
        self.digits.is_some() || self.better.is_some()
    }
}

impl Cell {
    /// A number cell; NaN and infinities become [`Cell::Missing`] because JSON cannot hold them.
    pub fn num(x: f64) -> Cell {
        if x.is_finite() {
            Cell::Num(x)
        } else {
            Cell::Missing
        }
    }

    /// The cell as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Num(x) if x.is_finite() => Some(*x),
            _ => None,
        }
    }

    /// The cell as shown: integers plain, reals with `digits` decimals (about four significant
    /// digits when `None`), text as is, missing as "—".
    pub fn display(&self, digits: Option<usize>) -> String {
        match self {
            Cell::Int(i) => i.to_string(),
            Cell::Num(x) if !x.is_finite() => "—".to_string(),
            Cell::Num(x) => match digits {
                Some(d) => format!("{x:.d$}"),
                None => format_general(*x),
            },
            Cell::Text(s) => s.clone(),
            Cell::Missing => "—".to_string(),
        }
    }
}

/// About four significant digits, trailing zeros trimmed; scientific (`2.5e-5`) outside 1e-3..1e6.
pub(crate) fn format_general(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{x:.3e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl From<f64> for Cell {
    fn from(x: f64) -> Cell {
        Cell::num(x)
    }
}

impl From<f32> for Cell {
    fn from(x: f32) -> Cell {
        Cell::num(f64::from(x))
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Cell {
        Cell::Int(i)
    }
}

impl From<i32> for Cell {
    fn from(i: i32) -> Cell {
        Cell::Int(i64::from(i))
    }
}

impl From<usize> for Cell {
    fn from(i: usize) -> Cell {
        i64::try_from(i).map_or(Cell::Num(i as f64), Cell::Int)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Missing, Into::into)
    }
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
            if let Some([lo, hi]) = r {
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return bad(format!(
                        "{axis}_range [{lo}, {hi}] must be finite and increasing"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The Markdown that holds this plot in a report: one fenced block tagged [`PLOT_FENCE`] with
    /// the plot as JSON.
    pub fn to_markdown(&self) -> Result<String> {
        self.validate()?;
        let json = serde_json::to_string(self)
            .map_err(|e| Error::Report(format!("plot `{}`: {e}", self.title)))?;
        // JSON strings escape newlines, so the body is one line and cannot close the fence.
        Ok(format!("```{PLOT_FENCE}\n{json}\n```\n"))
    }

    /// The plot held by a Markdown block made by [`Plot::to_markdown`], if that is what it is.
    ///
    /// ```
    /// use vidcompare::report::{Block, Plot};
    /// let mut p = Plot::lines("Learning curve", "training videos", "accuracy");
    /// p.add("Classical-RF", vec![3.0, 9.0], vec![0.4, 0.7]);
    /// let block = Block::Markdown { text: p.to_markdown().unwrap() };
    /// assert_eq!(Plot::from_block(&block), Some(p));
    /// ```
    pub fn from_block(block: &Block) -> Option<Plot> {
        let Block::Markdown { text } = block else {
            return None;
        };
        let body = text
            .trim()
            .strip_prefix("```")?
            .strip_prefix(PLOT_FENCE)?
            .strip_suffix("```")?;
        serde_json::from_str(body.trim()).ok()
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

    fn table(better: Better, cells: Vec<Cell>) -> Table {
        let col = Column {
            name: "m".into(),
            better: Some(better),
            digits: Some(3),
        };
        let mut t = Table::new("t", vec![col]);
        for c in cells {
            t.add_row(vec![c]).unwrap();
        }
        t
    }

    #[test]
    fn best_rows_higher_with_ties_and_missing() {
        let t = table(
            Better::Higher,
            vec![
                Cell::Num(0.5),
                Cell::Missing,
                Cell::Num(0.9),
                Cell::Text("n/a".into()),
                Cell::Num(0.9),
                Cell::Int(0),
            ],
        );
        assert_eq!(t.best_rows(0), vec![2, 4]);
    }

    #[test]
    fn best_rows_lower_mixes_ints_and_reals() {
        let t = table(
            Better::Lower,
            vec![Cell::Int(3), Cell::Num(2.5), Cell::Missing, Cell::Int(7)],
        );
        assert_eq!(t.best_rows(0), vec![1]);
    }

    #[test]
    fn best_rows_empty_without_direction_or_numbers() {
        let mut t = Table::new("t", vec![Column::num("x", 2), Column::higher("y", 2)]);
        t.add_row(vec![Cell::Num(1.0), Cell::Missing]).unwrap();
        assert!(t.best_rows(0).is_empty());
        assert!(t.best_rows(1).is_empty());
        assert!(t.best_rows(5).is_empty());
    }

    #[test]
    fn nan_cells_become_missing_and_json_stays_valid() {
        assert_eq!(Cell::from(f64::NAN), Cell::Missing);
        assert_eq!(Cell::from(f64::INFINITY), Cell::Missing);
        let json = serde_json::to_string(&vec![Cell::Num(f64::NAN), Cell::Int(2)]).unwrap();
        assert_eq!(json, "[null,2]");
        let cells: Vec<Cell> = serde_json::from_str("[null, 2, 2.5, \"x\"]").unwrap();
        assert_eq!(
            cells,
            vec![
                Cell::Missing,
                Cell::Int(2),
                Cell::Num(2.5),
                Cell::Text("x".into())
            ]
        );
    }

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

    #[test]
    fn cell_display() {
        assert_eq!(Cell::Num(0.123456).display(Some(2)), "0.12");
        assert_eq!(Cell::Num(2.5).display(Some(0)), "2");
        assert_eq!(Cell::Int(42).display(Some(3)), "42");
        assert_eq!(Cell::Missing.display(Some(3)), "—");
        assert_eq!(Cell::Num(0.123456).display(None), "0.1235");
        assert_eq!(Cell::Num(1234.5678).display(None), "1235");
        assert_eq!(Cell::Num(2.5e-5).display(None), "2.5e-5");
        assert_eq!(Cell::Num(-1.23456e7).display(None), "-1.235e7");
    }

    #[test]
    fn section_ids_are_validated_and_order_kept() {
        let mut r = Report::new("t", RunMeta::default());
        r.section("b", "B").unwrap();
        r.section("a-1", "A").unwrap();
        r.section("b", "other").unwrap().markdown("x");
        let ids: Vec<_> = r
            .sections
            .iter()
            .map(|s| (s.id.as_str(), s.title.as_str()))
            .collect();
        assert_eq!(ids, vec![("b", "B"), ("a-1", "A")]);
        assert_eq!(r.sections[0].blocks.len(), 1);
        for bad in ["", "A", "a b", "a_b", "<x>", "é"] {
            assert!(
                matches!(r.section(bad, "x"), Err(Error::Report(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn row_width_is_checked() {
        let mut t = Table::new("t", vec![Column::text("a"), Column::text("b")]);
        assert!(t.add_row(vec!["x".into()]).is_err());
        t.rows.push(vec!["x".into()]);
        let err = t.validate().unwrap_err().to_string();
        assert!(
            err.contains("row 0 has 1 cells but there are 2 columns"),
            "{err}"
        );
    }

    #[test]
    fn schema_version_is_required_and_checked() {
        let r = Report::new("t", RunMeta::default());
        let json = r.to_json().unwrap();
        assert!(json.contains("\"schema_version\": 1"));
        assert_eq!(Report::from_json(&json, "x.json").unwrap(), r);
        let newer = json.replace("\"schema_version\": 1", "\"schema_version\": 2");
        let err = Report::from_json(&newer, "x.json").unwrap_err().to_string();
        assert!(
            err.contains("x.json") && err.contains("schema_version 2"),
            "{err}"
        );
        let none = json.replace("\"schema_version\": 1,", "");
        assert!(Report::from_json(&none, "x.json").is_err());
    }

    #[test]
    fn image_item_picks_png_for_small_and_jpeg_for_large() {
        let small = image::RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3]));
        let item = image_item(&small, "s").unwrap();
        assert_eq!(item.mime, "image/png");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&item.data_base64)
            .unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoded = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(decoded, small);

        let large = image::RgbImage::from_pixel(320, 240, image::Rgb([9, 9, 9]));
        let item = image_item(&large, "l").unwrap();
        assert_eq!(item.mime, "image/jpeg");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&item.data_base64)
            .unwrap();
        assert_eq!(&bytes[..2], b"\xff\xd8");

        assert!(image_item(&image::RgbImage::new(0, 4), "e").is_err());
    }
}
