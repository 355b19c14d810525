//! Small pieces every layer uses: CSV records.

pub mod csv;
