//! Deep models on candle: the notebook's EfficientNet-B0 with temporal pooling and R3D-18.

pub(crate) mod batch_stats;
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

/// The largest absolute difference between two tensors of the same shape (f32), for the unit
/// tests that compare a kernel with another path.
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("difference")
}
