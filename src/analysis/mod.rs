//! Analyses over finished models: t-SNE views, feature importance, learning curves, which models
//! may be compared and how sure each comparison is, and the generated strengths-and-limitations
//! sentences.

pub mod findings;
pub mod importance;
pub mod insights;
pub mod learning;
pub mod paired;
pub mod tsne;
