//! The report: a document of sections (prose, tables, charts, images) saved as JSON and rendered to
//! one self-contained HTML file with minijinja templates and plotters SVG charts.
//!
//! A script builds a [`Report`] section by section; [`Report::write`] saves it as `results.json`
//! (the document, with `"schema_version": 1`) and renders `index.html` from it. Because charts are
//! drawn from the saved data at render time, `vidcompare render` on an old `results.json`, perhaps
//! with edited templates, reproduces or restyles the page without rerunning anything.
//!
//! ```
//! use vidcompare::report::{Cell, Chart, Column, Report, RunMeta, Table};
//!
//! let mut report = Report::new("Comparison", RunMeta::default());
//! let mut t = Table::new("Test set", vec![Column::text("model"), Column::higher("accuracy", 3)]);
//! t.add_row(vec!["Classical-SVM".into(), Cell::num(0.612)]).unwrap();
//! t.add_row(vec!["Deep-3D-R3D18".into(), Cell::num(0.834)]).unwrap();
//! let mut chart = Chart::bar("Accuracy", "model", "accuracy",
//!                            vec!["Classical-SVM".into(), "Deep-3D-R3D18".into()]);
//! chart.add_series("test", vec![0.612, 0.834]);
//! report.section("results", "Results").unwrap()
//!     .markdown("The 3D network wins **by 22 points**.")
//!     .table(t)
//!     .chart(chart);
//! let html = report.render_html(None).unwrap();
//! assert!(html.contains(r#"<td class="best" data-sort="0.834">0.834</td>"#));
//! ```
//!
//! - [`document`] — [`Report`], its sections and blocks, JSON save/load and validation.
//! - [`table`], [`chart`], [`image`] — the block types (tables with best-value logic, charts and
//!   plots kept as data, embedded images).
//! - [`result_tables`] — the one metrics-table builder (full and compact column sets), grid-search
//!   and per-class tables of model results.
//! - [`compare`] — the comparison table, efficiency charts, confusion matrices, ROC and training
//!   curves of any model results.
//! - [`analysis`] — tables, charts and plots drawn from the rows `crate::analysis` returns.
//! - [`findings`] — the key findings right after the title, linked to what backs them.
//! - [`meta`] — [`RunMeta`], the provenance shown in the page header.
//! - [`svg`] — charts and plots drawn as SVG.
//! - [`render`] — Markdown, templates (from a folder or embedded) and the HTML page.

pub mod analysis;
pub mod chart;
pub mod compare;
pub mod document;
pub mod findings;
pub mod image;
pub mod meta;
pub mod render;
pub mod result_tables;
pub mod runs;
pub mod svg;
pub mod table;

pub use chart::{Chart, ChartKind, PLOT_FENCE, Plot, PlotKind, Series, XySeries};
pub use document::{
    Block, Report, SCHEMA_VERSION, Section, TableExport, is_valid_export_name, is_valid_section_id,
};
pub use findings::{Finding, KeyFindings};
pub use image::{ImageItem, image_item};
pub use meta::{DatasetMeta, ProductCounts, RunMeta};
pub use render::{
    EMBEDDED_TEMPLATES, MAIN_TEMPLATE, escape_html, format_duration, markdown_to_html, table_html,
};
pub use svg::{render_plot_svg, render_svg};
pub use table::{Better, Cell, Column, Table};
