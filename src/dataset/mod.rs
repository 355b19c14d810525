//! Datasets laid out as `ROOT/splits/{train,val,test}.txt`, and the built-in demo data.

pub mod check;
pub mod splits;
pub mod summary;
pub mod synth;

pub use splits::{Dataset, Link, Sample, SplitName};
pub use synth::{DemoCounts, DemoSize, DemoSummary, generate};
