//! The demo-data generator behind `vidcompare demo-data DIR`: labelled videos whose classes differ
//! only by motion.
//!
//! Each video shows one textured object moving along its class's trajectory over a cluttered,
//! slowly drifting background, with distractor shapes that random-walk and per-pixel noise:
//!
//! | label | class name   | object centre over time                                   |
//! |-------|--------------|-----------------------------------------------------------|
//! | 0     | `left-right` | horizontal oscillation, vertical position constant        |
//! | 1     | `up-down`    | vertical oscillation, horizontal position constant        |
//! | 2     | `circle`     | a circle (clockwise or counter-clockwise) of fixed radius |
//!
//! Everything else — frame size, frame rate, duration, the object's size, shape, texture and
//! colours, the background, the distractors, the noise, and the trajectory's centre, amplitude,
//! speed, phase and direction — is drawn from the same distribution for every class. In fact
//! [`VideoSpec::random`] draws all of it from the seed alone and uses the class only to pick the
//! trajectory formula, so a single frame carries no class cue beyond where the object happens to
//! be, and the object's mean position over a clip is near the frame centre for every class.
//!
//! Generation is deterministic: a video's seed is derived from (seed, root folder name, video
//! index), videos are rendered in parallel (rayon) but never share a random stream, and the
//! encoder is bit-exact, so the same seed gives the same files byte for byte.
//!
//! The code is in three parts: `spec` (what a video is, drawn from a seed), `render` (its
//! frames) and `write` (roots on disk). Everything public is re-exported here.

mod render;
mod spec;
mod write;

pub use render::{Renderer, render_frame};
pub use spec::{
    BackgroundSpec, CLASS_NAMES, DistractorSpec, Motion, ObjectSpec, Rgb, Shape, Texture,
    TrajectorySpec, VideoRanges, VideoSpec, video_seed,
};
pub use write::{DemoCounts, DemoSize, DemoSummary, generate, generate_root, generate_root_with};
