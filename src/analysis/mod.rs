//! Analyses over finished models: t-SNE views, feature importance, learning curves, and the
//! generated strengths-and-limitations sentences.

pub mod importance;
pub mod insights;
pub mod learning;
pub mod tsne;
