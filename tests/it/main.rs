//! The integration tests, one binary so that the crate is linked once: `cargo test --test it`
//! runs them all, `cargo test --test it deep_r3d::` one area.

mod analysis_importance;
mod analysis_insights;
mod analysis_learning;
mod analysis_tsne;
mod classical_models;
mod classical_pipeline;
mod classical_prep;
mod cli;
mod common;
mod dataset_splits;
mod deep_effnet;
mod deep_frozen_bn;
mod deep_pipeline;
mod deep_r3d;
mod deep_train;
mod demo_data;
mod evcxr;
mod features_color;
mod features_enhance;
mod features_motion;
mod features_shape;
mod features_texture;
mod fuzz;
mod memory;
mod metrics;
mod report_browser;
mod report_comparison;
mod report_render;
mod report_runs;
mod robustness;
mod script;
mod slurm;
mod uncertainty;
mod video_io;

/// Allocations counted as in the `vidcompare` binary, so that heap figures can be checked here.
#[global_allocator]
static ALLOC: vidcompare::memory::CountingAlloc = vidcompare::memory::CountingAlloc;
