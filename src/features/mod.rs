//! Classical video features: per-frame colour, texture and shape descriptors, motion between
//! frames, and their temporal statistics, laid out and named as the seed notebook's vector.

pub mod bench;
pub mod cache;
pub mod color;
pub mod convert;
pub mod extract;
pub mod layout;
pub mod motion;
pub mod shape;
pub mod temporal;
pub mod texture;
