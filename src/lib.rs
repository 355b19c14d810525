//! # vidcompare
//!
//! Compare classical and deep-learning video classification, the way the seed research notebook
//! does, from editable Rhai scripts over one Rust library, with a self-contained HTML report.
//!
//! The data flows one way:
//!
//! ```text
//! splits/*.txt -> dataset -> video (decode, sample, resize) -> features / deep
//!              -> metrics + efficiency -> results (JSON) -> report (HTML)
//! ```
//!
//! - [`dataset`]: `ROOT/splits/{train,val,test}.txt` reading and validation; the demo-data generator.
//! - [`video`]: FFmpeg decoding, exact metadata, the notebook's sampling strategies, INTER_AREA resize,
//!   encoding.
//! - [`report`]: the report document (sections of prose, tables, charts, images), saved as JSON and
//!   rendered to one HTML file.
//! - [`script`]: the Rhai host that exposes all of the above to experiment scripts.
//! - [`config`]: the run's settings, named after the notebook's constants.
//! - [`util`]: CSV records, atomic writes, the checksummed content cache and the progress bar that
//!   every area shares.

pub mod analysis;
pub mod classical;
pub mod config;
pub mod dataset;
pub mod deep;
pub mod display;
pub mod error;
pub mod features;
pub mod interrupt;
pub mod latency;
pub mod memory;
pub mod metrics;
pub mod prelude;
pub mod report;
pub mod results;
pub mod script;
pub mod settings;
pub mod shard;
pub mod uncertainty;
pub mod util;
pub mod video;

pub use error::{Error, Result};
