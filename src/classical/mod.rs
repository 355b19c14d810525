//! The classical pipeline after features: median imputation, standardisation and PCA fitted on the
//! training split, grid-searched SVM / Random Forest / kNN, and saved, reloadable pipelines.

pub mod models;
pub mod pca;
pub mod pipeline;
pub mod preprocess;
pub mod search;
