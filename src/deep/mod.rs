//! Deep models on candle: the notebook's EfficientNet-B0 with temporal pooling and R3D-18.

pub mod data;
pub mod device;
pub mod nn;
pub mod train;
pub mod weights;
