//! Video input and output through the system FFmpeg libraries (ffmpeg-next).
//!
//! A frame is an [`image::RgbImage`] everywhere in vidcompare ([`Frame`]).

/// One decoded RGB frame (8 bits per channel, row-major).
pub type Frame = image::RgbImage;

pub mod decode;
pub mod encode;
pub mod enhance;
pub mod resize;
pub mod sample;

pub use decode::{Decoded, VideoInfo, decode_indices, decode_sampled, probe};
pub use encode::{Codec, VideoWriter, has_encoder};
pub use enhance::{EnhanceParams, denoise_nl_means_colored, enhance, unsharp};
pub use resize::resize_area;
pub use sample::Sampling;
