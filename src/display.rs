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
//! | [`ResultsTable`], [`ModelResult`], report [`Table`], [`Dataset`] | `text/html` table (the report's table partial) |
//! | [`ConfusionMatrix`] | `text/html` table shaded by row share, and the `image/svg+xml` heatmap |
//! | report [`Chart`] | `image/svg+xml` |
//! | [`FrameStrip`], a [`Frame`] | `image/png` (base64) |
//! | report [`Plot`] | `image/svg+xml` |
//! | report [`Section`], [`Report`] | `text/html` (the page's own block partials) |
//!
//! The [`EvcxrDisplay`] trait carries `evcxr_display`; `use vidcompare::prelude::*;` brings it into
//! scope, which is all evcxr needs to find it. Outside evcxr, [`EvcxrDisplay::mime_bundle`] gives
//! the same blocks as data.
//!
//! When the environment variable `VIDCOMPARE_DISPLAY_LOG` names a file, every block sent is also
//! appended to it, exactly as written to stdout (the evcxr REPL swallows the non-text blocks; the
//! log shows what Jupyter would have received).
//!
//! - [`protocol`] — [`MimeBundle`], the evcxr block format, [`EvcxrDisplay`].
//! - [`text`] — tables as aligned plain text.
//! - [`results`] — results, model results and report tables.
//! - [`confusion`] — [`ConfusionMatrix`].
//! - [`charts`] — report charts and plots.
//! - [`frames`] — [`FrameStrip`] and single frames.
//! - [`dataset`] — datasets.
//! - [`document`] — report sections and whole reports.

pub mod charts;
pub mod confusion;
pub mod dataset;
pub mod document;
pub mod frames;
pub mod protocol;
pub mod results;
pub mod text;

pub use self::confusion::{ConfusionMatrix, confusion};
pub use self::dataset::dataset_table;
pub use self::document::section_html;
pub use self::frames::FrameStrip;
pub use self::protocol::{DISPLAY_LOG_ENV, EvcxrDisplay, MimeBundle, parse_evcxr_blocks, send};
pub use self::results::{metrics_chart, metrics_table};
pub use crate::report::{escape_html, table_html};

#[cfg(doc)]
use std::fmt;

#[cfg(doc)]
use crate::{
    dataset::Dataset,
    report::{Chart, Plot, Report, Section, Table},
    results::{ModelResult, ResultsTable},
    video::Frame,
};
