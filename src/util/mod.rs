//! Small pieces every layer uses, with no knowledge of videos or models: CSV records ([`csv`]),
//! atomic file writes ([`fs`]), the checksummed content-addressed blob cache ([`cache`]) and the
//! progress bar ([`progress`]).

pub mod cache;
pub mod csv;
pub mod fs;
pub mod progress;
pub(crate) mod simd;

pub use cache::BlobCache;
pub use fs::{write_atomic, write_atomic_with};
