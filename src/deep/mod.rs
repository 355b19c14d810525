//! Deep models on candle: the notebook's EfficientNet-B0 with temporal pooling and R3D-18.

pub mod conv3d;
pub mod data;
pub mod device;
pub mod device_memory;
pub mod efficientnet;
pub mod kernel_bench;
pub mod models;
pub mod nn;
pub mod ops;
pub mod pipeline;
pub mod r3d;
pub mod temporal;
pub mod train;
pub mod weights;
