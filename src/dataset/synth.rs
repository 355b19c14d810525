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

use std::f64::consts::{PI, TAU};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::splits::{CLASSES_FILE, Dataset, SPLITS_DIR, SplitName};
use crate::error::{Error, IoContext, Result};
use crate::video::Frame;
use crate::video::encode::{Codec, VideoWriter};

/// The demo classes' names, indexed by label (written to `classes.txt`).
pub const CLASS_NAMES: [&str; 3] = ["left-right", "up-down", "circle"];

/// How the object moves: the class of a demo video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Motion {
    /// Oscillates horizontally; label 0.
    LeftRight,
    /// Oscillates vertically; label 1.
    UpDown,
    /// Goes round a circle; label 2.
    Circle,
}

impl Motion {
    /// All classes, in label order.
    pub const ALL: [Motion; 3] = [Motion::LeftRight, Motion::UpDown, Motion::Circle];

    /// The class label (0, 1, 2).
    pub const fn label(self) -> usize {
        match self {
            Motion::LeftRight => 0,
            Motion::UpDown => 1,
            Motion::Circle => 2,
        }
    }

    /// The class name as written in `classes.txt`.
    pub const fn name(self) -> &'static str {
        CLASS_NAMES[self.label()]
    }
}

/// How many demo videos to make; all sizes have the same three classes.
///
/// Videos per class as (train / val / test), for the `classical` and `deep` roots:
///
/// | size     | classical      | deep            | videos in all |
/// |----------|----------------|-----------------|---------------|
/// | `small`  | 6 / 2 / 3      | 12 / 3 / 3      | 33 + 54 = 87  |
/// | `medium` | 18 / 6 / 9     | 36 / 9 / 9      | 99 + 162      |
/// | `large`  | 60 / 20 / 30   | 120 / 30 / 30   | 330 + 540     |
///
/// `small` (the default) is sized so that generating it and running the whole comparison on it
/// takes minutes on a laptop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DemoSize {
    /// 87 videos; the default.
    #[default]
    Small,
    /// About 3x small.
    Medium,
    /// About 10x small.
    Large,
}

impl DemoSize {
    /// All sizes, smallest first.
    pub const ALL: [DemoSize; 3] = [DemoSize::Small, DemoSize::Medium, DemoSize::Large];

    /// `"small"`, `"medium"` or `"large"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DemoSize::Small => "small",
            DemoSize::Medium => "medium",
            DemoSize::Large => "large",
        }
    }

    /// Videos per class in the `classical` root.
    pub const fn classical_counts(self) -> DemoCounts {
        match self {
            DemoSize::Small => DemoCounts::new(6, 2, 3),
            DemoSize::Medium => DemoCounts::new(18, 6, 9),
            DemoSize::Large => DemoCounts::new(60, 20, 30),
        }
    }

    /// Videos per class in the `deep` root.
    pub const fn deep_counts(self) -> DemoCounts {
        match self {
            DemoSize::Small => DemoCounts::new(12, 3, 3),
            DemoSize::Medium => DemoCounts::new(36, 9, 9),
            DemoSize::Large => DemoCounts::new(120, 30, 30),
        }
    }
}

impl fmt::Display for DemoSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DemoSize {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "small" => Ok(DemoSize::Small),
            "medium" => Ok(DemoSize::Medium),
            "large" => Ok(DemoSize::Large),
            other => Err(Error::InvalidArgument(format!(
                "unknown demo size `{other}` (expected small, medium or large)"
            ))),
        }
    }
}

/// Videos per class in each split of one demo root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DemoCounts {
    /// Training videos per class.
    pub train: usize,
    /// Validation videos per class.
    pub val: usize,
    /// Test videos per class.
    pub test: usize,
}

impl DemoCounts {
    /// Counts per class for (train, val, test).
    pub const fn new(train: usize, val: usize, test: usize) -> DemoCounts {
        DemoCounts { train, val, test }
    }

    /// Videos per class in split `s`.
    pub const fn get(&self, s: SplitName) -> usize {
        match s {
            SplitName::Train => self.train,
            SplitName::Val => self.val,
            SplitName::Test => self.test,
        }
    }

    /// Videos in the whole root (all splits, all classes).
    pub const fn total(&self) -> usize {
        (self.train + self.val + self.test) * CLASS_NAMES.len()
    }
}

/// The ranges a root's videos draw their format from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRanges {
    /// Frame sizes (width, height) to choose from, uniformly; all even (YUV 4:2:0 needs it) and
    /// at least 32x32.
    pub sizes: Vec<(u32, u32)>,
    /// Frame rate range, inclusive.
    pub fps: (u32, u32),
    /// Duration range in seconds; the frame count is the duration times the frame rate, rounded.
    pub duration_s: (f64, f64),
}

impl VideoRanges {
    /// The `classical` root's videos: 160x120 to 320x240 (mostly 4:3, a few 16:9 and square),
    /// 15 to 30 fps, 2 to 6 s.
    pub fn classical() -> VideoRanges {
        VideoRanges {
            sizes: vec![
                (160, 120),
                (192, 144),
                (224, 168),
                (256, 192),
                (288, 216),
                (320, 240),
                (256, 144),
                (320, 180),
                (240, 240),
            ],
            fps: (15, 30),
            duration_s: (2.0, 6.0),
        }
    }

    /// The `deep` root's videos: smaller frames (160x120 to 224x168, a few 16:9 and square), since
    /// the deep models resize to 112 or 224 anyway; 15 to 30 fps, 2 to 6 s.
    pub fn deep() -> VideoRanges {
        VideoRanges {
            sizes: vec![
                (160, 120),
                (176, 132),
                (192, 144),
                (208, 156),
                (224, 168),
                (192, 108),
                (224, 126),
                (176, 176),
            ],
            fps: (15, 30),
            duration_s: (2.0, 6.0),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.sizes.is_empty() {
            return Err(Error::InvalidArgument(
                "demo video sizes: none given".into(),
            ));
        }
        if let Some(&(w, h)) = self
            .sizes
            .iter()
            .find(|&&(w, h)| w % 2 != 0 || h % 2 != 0 || w < 32 || h < 32)
        {
            return Err(Error::InvalidArgument(format!(
                "demo video size {w}x{h}: sizes must be even and at least 32x32"
            )));
        }
        let (f0, f1) = self.fps;
        if f0 == 0 || f0 > f1 {
            return Err(Error::InvalidArgument(format!(
                "demo fps range {f0}..={f1} is empty or starts at 0"
            )));
        }
        let (d0, d1) = self.duration_s;
        if !(d0.is_finite() && d1.is_finite() && 0.0 < d0 && d0 <= d1) {
            return Err(Error::InvalidArgument(format!(
                "demo duration range {d0}..{d1} s is not a positive interval"
            )));
        }
        Ok(())
    }
}

/// An RGB colour.
pub type Rgb = [u8; 3];

/// An outline: used for the object and the distractors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Axis-aligned rectangle filling its box.
    Rect,
    /// Ellipse inscribed in its box.
    Ellipse,
}

/// The pattern painted on the moving object.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Texture {
    /// Checkerboard of square cells of `cell` pixels in colours 0 and 1.
    Checker { cell: u32 },
    /// Parallel stripes `period` pixels wide (one colour each), at `angle` radians.
    Stripes { period: f64, angle: f64 },
    /// Colour 0 with `count` round blobs of colours 1 and 2 (placed from the texture seed).
    Blobs { count: u32 },
}

/// The moving object's appearance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Outline.
    pub shape: Shape,
    /// Pattern.
    pub texture: Texture,
    /// The pattern's colours.
    pub colors: [Rgb; 3],
    /// Seed for the pattern's random parts (blob placement).
    pub texture_seed: u64,
}

/// Where the object's centre is at each frame.
///
/// With the phase `θ(t) = phase + direction · (ω t + wobble · sin(wobble_omega · t + wobble_phase))`
/// (`t` in frames), the centre is
///
/// - left-right: `(cx + A sin θ, cy)`
/// - up-down: `(cx, cy + A sin θ)`
/// - circle: `(cx + A cos θ, cy + A sin θ)`; in image coordinates (y down) `direction = +1` is
///   clockwise.
///
/// The wobble term varies the speed within a clip; it is bounded so that θ never reverses
/// (`wobble · wobble_omega ≤ ω / 2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectorySpec {
    /// Which formula.
    pub motion: Motion,
    /// Centre of the motion (cx, cy), in pixels.
    pub center: (f64, f64),
    /// Amplitude or radius `A`, in pixels.
    pub amplitude: f64,
    /// Mean angular speed ω, radians per frame.
    pub omega: f64,
    /// Phase at frame 0, radians.
    pub phase: f64,
    /// +1 or -1: which way the object starts (and, for circles, cw or ccw).
    pub direction: f64,
    /// Depth of the speed modulation, radians.
    pub wobble: f64,
    /// Angular frequency of the speed modulation, radians per frame.
    pub wobble_omega: f64,
    /// Phase of the speed modulation, radians.
    pub wobble_phase: f64,
}

impl TrajectorySpec {
    /// The phase θ at frame `t` (fractional frames allowed).
    pub fn angle(&self, t: f64) -> f64 {
        self.phase
            + self.direction
                * (self.omega * t + self.wobble * (self.wobble_omega * t + self.wobble_phase).sin())
    }

    /// The object's centre (x, y) in pixels at frame `t`.
    pub fn position(&self, t: f64) -> (f64, f64) {
        let th = self.angle(t);
        let (cx, cy) = self.center;
        let a = self.amplitude;
        match self.motion {
            Motion::LeftRight => (cx + a * th.sin(), cy),
            Motion::UpDown => (cx, cy + a * th.sin()),
            Motion::Circle => (cx + a * th.cos(), cy + a * th.sin()),
        }
    }
}

/// The cluttered background: a gradient, a coarse noise texture and random shapes, larger than
/// the frame so that it can drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackgroundSpec {
    /// Gradient end colours.
    pub colors: [Rgb; 2],
    /// Gradient direction, radians.
    pub gradient_angle: f64,
    /// Cell size of the coarse value-noise texture, pixels.
    pub noise_cell: u32,
    /// Value-noise amplitude, grey levels.
    pub noise_amplitude: f64,
    /// Number of random clutter shapes.
    pub n_shapes: u32,
    /// Drift velocity (dx, dy) in pixels per frame; the visible window moves this way.
    pub drift: (f64, f64),
    /// Seed for the shapes and the noise texture.
    pub seed: u64,
}

/// A distractor shape that random-walks across the frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistractorSpec {
    /// Outline.
    pub shape: Shape,
    /// Fill colour.
    pub color: Rgb,
    /// Box size (width, height), pixels.
    pub size: (u32, u32),
    /// Centre at frame 0.
    pub start: (f64, f64),
    /// Standard deviation of the per-frame velocity change, pixels per frame.
    pub step: f64,
    /// Seed for the walk.
    pub seed: u64,
}

/// Everything needed to render one demo video; drawn by [`VideoSpec::random`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSpec {
    /// Frame width, pixels (even).
    pub width: u32,
    /// Frame height, pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Number of frames.
    pub n_frames: usize,
    /// The moving object.
    pub object: ObjectSpec,
    /// Its motion (this holds the class).
    pub trajectory: TrajectorySpec,
    /// The background.
    pub background: BackgroundSpec,
    /// 1 to 3 random-walking shapes.
    pub distractors: Vec<DistractorSpec>,
    /// Per-pixel noise: each channel gets a triangular-distributed offset in `[-noise, noise]`.
    pub noise: f64,
    /// Seed for the per-pixel noise.
    pub noise_seed: u64,
}

impl VideoSpec {
    /// Draw a video's parameters from `seed`, for class `motion`, within `ranges`.
    ///
    /// Every random draw is made in the same order whatever the class, and the class is used
    /// only to choose the trajectory formula: the same seed with two classes gives two videos
    /// identical except for how the object moves.
    pub fn random(seed: u64, motion: Motion, ranges: &VideoRanges) -> VideoSpec {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sizes = if ranges.sizes.is_empty() {
            &[(160, 120)][..]
        } else {
            &ranges.sizes[..]
        };
        let (width, height) = sizes[rng.gen_range(0..sizes.len())];
        let (f0, f1) = (ranges.fps.0.max(1), ranges.fps.1.max(ranges.fps.0.max(1)));
        let fps = rng.gen_range(f0..=f1);
        let (d0, d1) = ranges.duration_s;
        let duration = if d1 > d0 { rng.gen_range(d0..=d1) } else { d0 };
        let n_frames = ((duration * fps as f64).round() as usize).max(2);
        let (w, h) = (width as f64, height as f64);
        let short = w.min(h);

        // Object: 15-30% of the short side, aspect 0.7-1.4.
        let side = rng.gen_range(0.15..0.30) * short;
        let aspect: f64 = rng.gen_range(0.7..1.4);
        let ow = (side * aspect.sqrt()).round().max(4.0) as u32;
        let oh = (side / aspect.sqrt()).round().max(4.0) as u32;
        let shape = if rng.gen_bool(0.5) {
            Shape::Rect
        } else {
            Shape::Ellipse
        };
        let texture = match rng.gen_range(0..3) {
            0 => Texture::Checker {
                cell: rng.gen_range(2..=6),
            },
            1 => Texture::Stripes {
                period: rng.gen_range(3.0..8.0),
                angle: rng.gen_range(0.0..PI),
            },
            _ => Texture::Blobs {
                count: rng.gen_range(4..=10),
            },
        };
        let colors = [vivid(&mut rng), vivid(&mut rng), vivid(&mut rng)];
        let object = ObjectSpec {
            width: ow,
            height: oh,
            shape,
            texture,
            colors,
            texture_seed: rng.r#gen(),
        };

        // Trajectory: centre within 8% of the frame centre; amplitude so the object stays inside
        // on both axes whatever the class (the same bound for all classes keeps speeds alike).
        let off_x = rng.gen_range(-0.08..0.08) * w;
        let off_y = rng.gen_range(-0.08..0.08) * h;
        let margin = 2.0;
        let room_x = w / 2.0 - ow as f64 / 2.0 - off_x.abs() - margin;
        let room_y = h / 2.0 - oh as f64 / 2.0 - off_y.abs() - margin;
        let amplitude = rng.gen_range(0.55..0.95) * room_x.min(room_y).max(1.0);
        let period_s = rng.gen_range(0.8..2.5);
        let omega = TAU / (period_s * fps as f64);
        let ratio = rng.gen_range(0.2..0.6);
        let depth = rng.gen_range(0.0..0.5);
        let trajectory = TrajectorySpec {
            motion,
            center: (w / 2.0 + off_x, h / 2.0 + off_y),
            amplitude,
            omega,
            phase: rng.gen_range(0.0..TAU),
            direction: if rng.gen_bool(0.5) { 1.0 } else { -1.0 },
            wobble: depth / ratio,
            wobble_omega: ratio * omega,
            wobble_phase: rng.gen_range(0.0..TAU),
        };

        let drift_speed = rng.gen_range(0.05..0.4);
        let drift_angle: f64 = rng.gen_range(0.0..TAU);
        let background = BackgroundSpec {
            colors: [muted(&mut rng), muted(&mut rng)],
            gradient_angle: rng.gen_range(0.0..TAU),
            noise_cell: rng.gen_range(8..=32),
            noise_amplitude: rng.gen_range(5.0..30.0),
            n_shapes: rng.gen_range(15..=40),
            drift: (
                drift_speed * drift_angle.cos(),
                drift_speed * drift_angle.sin(),
            ),
            seed: rng.r#gen(),
        };

        let n_distractors = rng.gen_range(1..=3);
        let distractors = (0..n_distractors)
            .map(|_| {
                let s = rng.gen_range(0.06..0.14) * short;
                let a: f64 = rng.gen_range(0.7..1.4);
                DistractorSpec {
                    shape: if rng.gen_bool(0.5) {
                        Shape::Rect
                    } else {
                        Shape::Ellipse
                    },
                    color: vivid(&mut rng),
                    size: (
                        (s * a.sqrt()).round().max(3.0) as u32,
                        (s / a.sqrt()).round().max(3.0) as u32,
                    ),
                    start: (rng.gen_range(0.1..0.9) * w, rng.gen_range(0.1..0.9) * h),
                    step: rng.gen_range(0.1..0.5),
                    seed: rng.r#gen(),
                }
            })
            .collect();

        VideoSpec {
            width,
            height,
            fps,
            n_frames,
            object,
            trajectory,
            background,
            distractors,
            noise: rng.gen_range(1.0..12.0),
            noise_seed: rng.r#gen(),
        }
    }

    /// The class of this video.
    pub fn motion(&self) -> Motion {
        self.trajectory.motion
    }

    /// The object's centre (x, y) at frame `t`; the rendered object is centred here to the
    /// nearest pixel.
    pub fn object_center(&self, t: usize) -> (f64, f64) {
        self.trajectory.position(t as f64)
    }

    /// Precompute what every frame shares (background, sprites, distractor walks).
    pub fn renderer(&self) -> Renderer<'_> {
        Renderer::new(self)
    }
}

/// Render frame `t` of `spec`. Convenient for one frame; to render a whole video use
/// [`VideoSpec::renderer`], which builds the background once.
pub fn render_frame(spec: &VideoSpec, t: usize) -> Frame {
    spec.renderer().frame(t)
}

/// A shape's pixels: RGB plus a 0/255 coverage mask.
struct Sprite {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    mask: Vec<bool>,
}

/// Renders a [`VideoSpec`]'s frames; holds the precomputed background and sprites.
pub struct Renderer<'a> {
    spec: &'a VideoSpec,
    background: Vec<u8>,
    bg_width: usize,
    bg_height: usize,
    /// Background window origin at frame 0.
    bg_origin: (f64, f64),
    object: Sprite,
    distractors: Vec<(Sprite, Vec<(f64, f64)>)>,
}

impl<'a> Renderer<'a> {
    fn new(spec: &'a VideoSpec) -> Renderer<'a> {
        let n = spec.n_frames.max(1);
        let (dx, dy) = spec.background.drift;
        // Room for the whole drift plus one pixel for bilinear interpolation.
        let pad_x = (dx.abs() * (n - 1) as f64).ceil() as usize + 2;
        let pad_y = (dy.abs() * (n - 1) as f64).ceil() as usize + 2;
        let bg_width = spec.width as usize + pad_x;
        let bg_height = spec.height as usize + pad_y;
        let bg_origin = (
            if dx >= 0.0 { 0.0 } else { (pad_x - 2) as f64 },
            if dy >= 0.0 { 0.0 } else { (pad_y - 2) as f64 },
        );
        let background = build_background(&spec.background, bg_width, bg_height);
        let object = object_sprite(&spec.object);
        let distractors = spec
            .distractors
            .iter()
            .map(|d| {
                let sprite = solid_sprite(d.shape, d.size, d.color);
                (sprite, random_walk(d, spec.width, spec.height, n))
            })
            .collect();
        Renderer {
            spec,
            background,
            bg_width,
            bg_height,
            bg_origin,
            object,
            distractors,
        }
    }

    /// Render frame `t`; `t` past the last frame is treated as the last frame.
    pub fn frame(&self, t: usize) -> Frame {
        let spec = self.spec;
        let t = t.min(spec.n_frames.saturating_sub(1));
        let (w, h) = (spec.width as usize, spec.height as usize);
        let mut buf = vec![0u8; w * h * 3];
        self.draw_background(t, &mut buf);
        for (sprite, path) in &self.distractors {
            blit(&mut buf, w, h, sprite, path[t.min(path.len() - 1)]);
        }
        blit(&mut buf, w, h, &self.object, spec.object_center(t));
        add_noise(&mut buf, spec.noise, spec.noise_seed, t as u64);
        Frame::from_raw(spec.width, spec.height, buf).expect("buffer is width*height*3")
    }

    fn draw_background(&self, t: usize, buf: &mut [u8]) {
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let (dx, dy) = self.spec.background.drift;
        let ox = (self.bg_origin.0 + dx * t as f64).clamp(0.0, (self.bg_width - w - 1) as f64);
        let oy = (self.bg_origin.1 + dy * t as f64).clamp(0.0, (self.bg_height - h - 1) as f64);
        let (ix, iy) = (ox.floor() as usize, oy.floor() as usize);
        // Every pixel shares the same sub-pixel offset, so the bilinear weights are computed once
        // (8-bit fixed point, summing to 65536).
        let fx = ((ox - ix as f64) * 256.0).round() as u32;
        let fy = ((oy - iy as f64) * 256.0).round() as u32;
        let w00 = (256 - fx) * (256 - fy);
        let w01 = fx * (256 - fy);
        let w10 = (256 - fx) * fy;
        let w11 = fx * fy;
        let stride = self.bg_width * 3;
        for y in 0..h {
            let r0 = (iy + y) * stride + ix * 3;
            let r1 = r0 + stride;
            let out = &mut buf[y * w * 3..(y + 1) * w * 3];
            for (i, o) in out.iter_mut().enumerate() {
                let v = w00 * self.background[r0 + i] as u32
                    + w01 * self.background[r0 + i + 3] as u32
                    + w10 * self.background[r1 + i] as u32
                    + w11 * self.background[r1 + i + 3] as u32;
                *o = ((v + 32768) >> 16) as u8;
            }
        }
    }
}

/// Paste `sprite` centred at `center` (rounded to the nearest pixel), clipped to the frame.
fn blit(buf: &mut [u8], w: usize, h: usize, sprite: &Sprite, center: (f64, f64)) {
    let x0 = (center.0 - sprite.width as f64 / 2.0).round() as i64;
    let y0 = (center.1 - sprite.height as f64 / 2.0).round() as i64;
    for sy in 0..sprite.height {
        let y = y0 + sy as i64;
        if y < 0 || y >= h as i64 {
            continue;
        }
        for sx in 0..sprite.width {
            let x = x0 + sx as i64;
            if x < 0 || x >= w as i64 || !sprite.mask[sy * sprite.width + sx] {
                continue;
            }
            let s = (sy * sprite.width + sx) * 3;
            let d = (y as usize * w + x as usize) * 3;
            buf[d..d + 3].copy_from_slice(&sprite.rgb[s..s + 3]);
        }
    }
}

/// Per-pixel triangular noise in `[-amp, amp]` from a counter-based hash, so each frame's noise
/// depends only on (seed, t) and costs one hash per pixel.
fn add_noise(buf: &mut [u8], amp: f64, seed: u64, t: u64) {
    if amp <= 0.0 {
        return;
    }
    let scale = (amp * 256.0 / 255.0).round() as i32; // noise = (a + b - 255) * scale / 256
    let frame_key = splitmix64(seed ^ splitmix64(t.wrapping_add(1)));
    for (i, px) in buf.chunks_exact_mut(3).enumerate() {
        let r = splitmix64(frame_key.wrapping_add(i as u64));
        for (c, v) in px.iter_mut().enumerate() {
            let a = (r >> (16 * c)) as u8 as i32;
            let b = (r >> (16 * c + 8)) as u8 as i32;
            // Round to nearest (a bare shift floors, biasing the noise by -0.5).
            let n = ((a + b - 255) * scale + 128) >> 8;
            *v = (*v as i32 + n).clamp(0, 255) as u8;
        }
    }
}

fn shape_mask(shape: Shape, w: usize, h: usize) -> Vec<bool> {
    let mut mask = vec![true; w * h];
    if shape == Shape::Ellipse {
        let (rx, ry) = (w as f64 / 2.0, h as f64 / 2.0);
        for y in 0..h {
            for x in 0..w {
                let u = (x as f64 + 0.5 - rx) / rx;
                let v = (y as f64 + 0.5 - ry) / ry;
                mask[y * w + x] = u * u + v * v <= 1.0;
            }
        }
    }
    mask
}

fn object_sprite(o: &ObjectSpec) -> Sprite {
    let (w, h) = (o.width as usize, o.height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    if w == 0 || h == 0 {
        return Sprite {
            width: w,
            height: h,
            rgb,
            mask: Vec::new(),
        };
    }
    let put = |rgb: &mut [u8], x: usize, y: usize, c: Rgb| {
        rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
    };
    match o.texture {
        Texture::Checker { cell } => {
            let cell = cell.max(1) as usize;
            for y in 0..h {
                for x in 0..w {
                    put(&mut rgb, x, y, o.colors[(x / cell + y / cell) % 2]);
                }
            }
        }
        Texture::Stripes { period, angle } => {
            let (c, s) = (angle.cos(), angle.sin());
            let period = period.max(1.0);
            for y in 0..h {
                for x in 0..w {
                    let u = (x as f64 * c + y as f64 * s) / period;
                    put(
                        &mut rgb,
                        x,
                        y,
                        o.colors[(u.floor() as i64).rem_euclid(2) as usize],
                    );
                }
            }
        }
        Texture::Blobs { count } => {
            for y in 0..h {
                for x in 0..w {
                    put(&mut rgb, x, y, o.colors[0]);
                }
            }
            let mut rng = ChaCha8Rng::seed_from_u64(o.texture_seed);
            let short = w.min(h) as f64;
            for k in 0..count {
                let (cx, cy) = (rng.gen_range(0.0..w as f64), rng.gen_range(0.0..h as f64));
                let r = rng.gen_range(0.12..0.3) * short;
                let color = o.colors[1 + (k as usize % 2)];
                fill_disc(&mut rgb, w, h, (cx, cy), r, color);
            }
        }
    }
    Sprite {
        width: w,
        height: h,
        rgb,
        mask: shape_mask(o.shape, w, h),
    }
}

fn solid_sprite(shape: Shape, size: (u32, u32), color: Rgb) -> Sprite {
    let (w, h) = (size.0 as usize, size.1 as usize);
    Sprite {
        width: w,
        height: h,
        rgb: color.repeat(w * h),
        mask: shape_mask(shape, w, h),
    }
}

fn fill_disc(rgb: &mut [u8], w: usize, h: usize, c: (f64, f64), r: f64, color: Rgb) {
    let y0 = (c.1 - r).floor().max(0.0) as usize;
    let y1 = ((c.1 + r).ceil() as usize).min(h);
    let x0 = (c.0 - r).floor().max(0.0) as usize;
    let x1 = ((c.0 + r).ceil() as usize).min(w);
    for y in y0..y1 {
        for x in x0..x1 {
            let (u, v) = (x as f64 + 0.5 - c.0, y as f64 + 0.5 - c.1);
            if u * u + v * v <= r * r {
                rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&color);
            }
        }
    }
}

/// A smooth random walk: the velocity gets a random kick each frame and decays, and the walk
/// bounces off the frame edges so the shape stays visible.
fn random_walk(d: &DistractorSpec, width: u32, height: u32, n: usize) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(d.seed);
    let (w, h) = (width as f64, height as f64);
    let (lo_x, hi_x) = (0.0, w);
    let (lo_y, hi_y) = (0.0, h);
    let (mut x, mut y) = d.start;
    let (mut vx, mut vy) = (0.0f64, 0.0f64);
    let mut path = Vec::with_capacity(n);
    for _ in 0..n {
        path.push((x, y));
        vx = 0.85 * vx + d.step * gaussish(&mut rng);
        vy = 0.85 * vy + d.step * gaussish(&mut rng);
        x += vx;
        y += vy;
        if x < lo_x || x > hi_x {
            vx = -vx;
            x = if x < lo_x {
                2.0 * lo_x - x
            } else {
                2.0 * hi_x - x
            }
            .clamp(lo_x, hi_x);
        }
        if y < lo_y || y > hi_y {
            vy = -vy;
            y = if y < lo_y {
                2.0 * lo_y - y
            } else {
                2.0 * hi_y - y
            }
            .clamp(lo_y, hi_y);
        }
    }
    path
}

/// Approximately standard normal (sum of three uniforms, variance 1).
fn gaussish(rng: &mut ChaCha8Rng) -> f64 {
    let s: f64 = (0..3).map(|_| rng.gen_range(-1.0..1.0)).sum();
    s
}

fn build_background(spec: &BackgroundSpec, bw: usize, bh: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut img = vec![0u8; bw * bh * 3];

    // Coarse value noise: random grey offsets on a grid, bilinearly interpolated.
    let cell = spec.noise_cell.max(2) as usize;
    let (gw, gh) = (bw / cell + 2, bh / cell + 2);
    let grid: Vec<f64> = (0..gw * gh)
        .map(|_| rng.gen_range(-1.0..1.0) * spec.noise_amplitude)
        .collect();
    let (gc, gs) = (spec.gradient_angle.cos(), spec.gradient_angle.sin());
    let extent = (bw as f64 * gc.abs() + bh as f64 * gs.abs()).max(1.0);
    let [c0, c1] = spec.colors;
    for y in 0..bh {
        let gy = y / cell;
        let fy = (y % cell) as f64 / cell as f64;
        for x in 0..bw {
            let gx = x / cell;
            let fx = (x % cell) as f64 / cell as f64;
            let n = grid[gy * gw + gx] * (1.0 - fx) * (1.0 - fy)
                + grid[gy * gw + gx + 1] * fx * (1.0 - fy)
                + grid[(gy + 1) * gw + gx] * (1.0 - fx) * fy
                + grid[(gy + 1) * gw + gx + 1] * fx * fy;
            // Project onto the gradient direction, 0..1 across the image.
            let u = ((x as f64 - bw as f64 / 2.0) * gc + (y as f64 - bh as f64 / 2.0) * gs)
                / extent
                + 0.5;
            let p = (y * bw + x) * 3;
            for c in 0..3 {
                let v = c0[c] as f64 * (1.0 - u) + c1[c] as f64 * u + n;
                img[p + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    // Clutter: translucent rectangles, ellipses and bars in muted colours.
    let short = bw.min(bh) as f64;
    for _ in 0..spec.n_shapes {
        let color = muted(&mut rng);
        let alpha = rng.gen_range(0.35..0.9);
        let kind = rng.gen_range(0..3);
        let (cx, cy) = (rng.gen_range(0.0..bw as f64), rng.gen_range(0.0..bh as f64));
        let (sw, sh) = match kind {
            // Bars: long and thin, horizontal or vertical with equal odds.
            2 => {
                let long = rng.gen_range(0.2..0.6) * short;
                let thin = rng.gen_range(2.0..6.0);
                if rng.gen_bool(0.5) {
                    (long, thin)
                } else {
                    (thin, long)
                }
            }
            _ => (
                rng.gen_range(0.04..0.25) * short,
                rng.gen_range(0.04..0.25) * short,
            ),
        };
        let x0 = (cx - sw / 2.0).floor().max(0.0) as usize;
        let x1 = ((cx + sw / 2.0).ceil() as usize).min(bw);
        let y0 = (cy - sh / 2.0).floor().max(0.0) as usize;
        let y1 = ((cy + sh / 2.0).ceil() as usize).min(bh);
        for y in y0..y1 {
            for x in x0..x1 {
                if kind == 1 {
                    let u = (x as f64 + 0.5 - cx) / (sw / 2.0);
                    let v = (y as f64 + 0.5 - cy) / (sh / 2.0);
                    if u * u + v * v > 1.0 {
                        continue;
                    }
                }
                let p = (y * bw + x) * 3;
                for c in 0..3 {
                    let v = img[p + c] as f64 * (1.0 - alpha) + color[c] as f64 * alpha;
                    img[p + c] = v.round() as u8;
                }
            }
        }
    }
    img
}

/// HSV (h in degrees, s and v in 0..1) to RGB.
fn hsv(h: f64, s: f64, v: f64) -> Rgb {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    let to = |f: f64| ((f + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to(r), to(g), to(b)]
}

/// A saturated colour, for the object and distractors.
fn vivid(rng: &mut ChaCha8Rng) -> Rgb {
    hsv(
        rng.gen_range(0.0..360.0),
        rng.gen_range(0.5..1.0),
        rng.gen_range(0.45..1.0),
    )
}

/// A greyish colour, for the background, so the object stands out without being the only
/// colourful thing (the distractors are vivid too).
fn muted(rng: &mut ChaCha8Rng) -> Rgb {
    hsv(
        rng.gen_range(0.0..360.0),
        rng.gen_range(0.05..0.45),
        rng.gen_range(0.2..0.85),
    )
}

/// SplitMix64's output function: a fast, well-mixed 64-bit hash.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a hash of the root name that, unlike std's hasher, is stable across Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The seed of video `index` of the root named `root_name`.
pub fn video_seed(seed: u64, root_name: &str, index: usize) -> u64 {
    splitmix64(splitmix64(seed ^ fnv1a(root_name.as_bytes())) ^ index as u64)
}

/// What [`generate`] made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    /// For each root: (name, path, number of videos), `classical` then `deep`.
    pub roots: Vec<(String, PathBuf, usize)>,
    /// Names of the roots that were already complete with the same seed and size, and were kept
    /// as they were instead of being generated again.
    pub reused: Vec<String>,
}

/// The parameters a demo root was generated with, saved as `demo.json`; a root whose `demo.json`
/// matches is reused instead of generated again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Manifest {
    generator: String,
    format: u32,
    seed: u64,
    counts: DemoCounts,
    ranges: VideoRanges,
}

/// Bump when the generator's output changes for the same parameters, so old roots are remade.
const FORMAT: u32 = 1;
const MANIFEST_FILE: &str = "demo.json";
const README_FILE: &str = "README.txt";
const README_MARK: &str = "This dataset was generated by vidcompare";

/// Write the demo data into `dir`: two roots, as the notebook has, `dir/classical` (for the
/// classical pipeline) and `dir/deep` (larger, smaller frames, for the deep models). See
/// [`DemoSize`] for the counts and [`generate_root_with`] for each root's layout.
///
/// A root that already holds a complete demo dataset made with the same seed and size (its
/// `demo.json` records them) is reused as it is, so running this twice is quick. A root made with
/// other parameters is replaced; a non-empty folder that is not a demo root is refused.
pub fn generate(dir: &Path, size: DemoSize, seed: u64, progress: bool) -> Result<DemoSummary> {
    fs::create_dir_all(dir).at(dir)?;
    let mut summary = DemoSummary {
        roots: Vec::new(),
        reused: Vec::new(),
    };
    let plans = [
        (
            "classical",
            size.classical_counts(),
            VideoRanges::classical(),
        ),
        ("deep", size.deep_counts(), VideoRanges::deep()),
    ];
    for (name, counts, ranges) in plans {
        let root = dir.join(name);
        let (videos, reused) =
            generate_root_impl(&root, counts, &ranges, seed, progress, Some(size))?;
        if reused {
            summary.reused.push(name.to_string());
        }
        summary.roots.push((name.to_string(), root, videos));
    }
    Ok(summary)
}

/// Write one demo root with the `classical` frame sizes; see [`generate_root_with`].
pub fn generate_root(root: &Path, counts: DemoCounts, seed: u64, progress: bool) -> Result<usize> {
    generate_root_with(root, counts, &VideoRanges::classical(), seed, progress)
}

/// Write one demo root and return its number of videos:
///
/// ```text
/// ROOT/videos/<class>/<split>_<NNN>.mp4   H.264 (else MPEG-4) videos
/// ROOT/splits/{train,val,test}.txt       `videos/<class>/<split>_<NNN>.mp4 <label>` lines
/// ROOT/classes.txt                       left-right, up-down, circle
/// ROOT/README.txt                        what this is and how it was made
/// ROOT/demo.json                         the parameters (seed, counts, ranges)
/// ```
///
/// Video `i` (counting train, then val, then test; classes in label order within each split) is
/// drawn from [`video_seed`]`(seed, root folder name, i)`, so the output does not depend on how
/// rayon schedules the work. Each video is written under a temporary name and renamed when
/// complete, and the split files and `demo.json` are written last, so an interrupted run never
/// leaves a split file naming a half-written video. Reuse and replacement work as in
/// [`generate`].
pub fn generate_root_with(
    root: &Path,
    counts: DemoCounts,
    ranges: &VideoRanges,
    seed: u64,
    progress: bool,
) -> Result<usize> {
    generate_root_impl(root, counts, ranges, seed, progress, None).map(|(n, _)| n)
}

/// One video to make.
struct Job {
    index: usize,
    split: SplitName,
    motion: Motion,
    rel_path: String,
}

fn generate_root_impl(
    root: &Path,
    counts: DemoCounts,
    ranges: &VideoRanges,
    seed: u64,
    progress: bool,
    size: Option<DemoSize>,
) -> Result<(usize, bool)> {
    ranges.validate()?;
    if counts.train == 0 || counts.val == 0 || counts.test == 0 {
        return Err(Error::InvalidArgument(format!(
            "demo counts {}/{}/{} (train/val/test per class): every split needs at least one video",
            counts.train, counts.val, counts.test
        )));
    }
    let manifest = Manifest {
        generator: "vidcompare demo-data".into(),
        format: FORMAT,
        seed,
        counts,
        ranges: ranges.clone(),
    };
    if is_complete(root, &manifest) {
        return Ok((counts.total(), true));
    }
    prepare_root(root)?;
    // The README goes first: it marks the folder as a demo root should this run be interrupted.
    write_atomic(&root.join(README_FILE), &readme(&manifest, size))?;

    let root_name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut jobs = Vec::with_capacity(counts.total());
    for split in SplitName::ALL {
        for motion in Motion::ALL {
            for k in 0..counts.get(split) {
                jobs.push(Job {
                    index: jobs.len(),
                    split,
                    motion,
                    rel_path: format!("videos/{}/{}_{k:03}.mp4", motion.name(), split.as_str()),
                });
            }
        }
    }
    for motion in Motion::ALL {
        let d = root.join("videos").join(motion.name());
        fs::create_dir_all(&d).at(&d)?;
    }

    let bar = if progress {
        let bar = ProgressBar::new(jobs.len() as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} videos ({elapsed}, ~{eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(root_name.clone());
        bar
    } else {
        ProgressBar::hidden()
    };
    jobs.par_iter().try_for_each(|job| {
        let spec = VideoSpec::random(video_seed(seed, &root_name, job.index), job.motion, ranges);
        write_video(&root.join(&job.rel_path), &spec)?;
        bar.inc(1);
        Ok::<(), Error>(())
    })?;
    bar.finish();

    write_atomic(&root.join(CLASSES_FILE), &(CLASS_NAMES.join("\n") + "\n"))?;
    let splits_dir = root.join(SPLITS_DIR);
    fs::create_dir_all(&splits_dir).at(&splits_dir)?;
    for split in SplitName::ALL {
        let text: String = jobs
            .iter()
            .filter(|j| j.split == split)
            .map(|j| format!("{} {}\n", j.rel_path, j.motion.label()))
            .collect();
        write_atomic(&splits_dir.join(split.file_name()), &text)?;
    }
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::InvalidArgument(format!("demo manifest: {e}")))?;
    write_atomic(&root.join(MANIFEST_FILE), &(json + "\n"))?;
    Ok((jobs.len(), false))
}

fn readme(m: &Manifest, size: Option<DemoSize>) -> String {
    let c = m.counts;
    let size_line = match size {
        Some(s) => format!(
            "Size: {s} (`vidcompare demo-data DIR --size {s} --seed {}`)\n",
            m.seed
        ),
        None => String::new(),
    };
    let sizes: Vec<String> = m
        .ranges
        .sizes
        .iter()
        .map(|(w, h)| format!("{w}x{h}"))
        .collect();
    format!(
        "{README_MARK} (`vidcompare demo-data`); it is synthetic.\n\
         \n\
         Seed: {seed}\n\
         {size_line}\
         Videos: {total} ({train} train, {val} val, {test} test per class)\n\
         Frame sizes: {sizes}; {f0}-{f1} fps; {d0}-{d1} s\n\
         \n\
         Three classes differ only by how a textured object moves: left-right (horizontal\n\
         oscillation), up-down (vertical oscillation) and circle (clockwise or counter-clockwise).\n\
         Object size, shape, texture and colours, the cluttered background (which drifts slowly),\n\
         1-3 random-walking distractor shapes, pixel noise, frame size, frame rate and duration are\n\
         drawn from the same distributions for every class, so only motion tells them apart.\n\
         \n\
         Layout: videos/<class>/<split>_NNN.mp4; splits/{{train,val,test}}.txt with one\n\
         `path label` line per video; classes.txt names labels 0, 1, 2; demo.json records the\n\
         parameters. Running the generator again with the same seed and size reuses this folder;\n\
         the same seed always gives the same videos.\n",
        seed = m.seed,
        total = c.total(),
        train = c.train,
        val = c.val,
        test = c.test,
        sizes = sizes.join(", "),
        f0 = m.ranges.fps.0,
        f1 = m.ranges.fps.1,
        d0 = m.ranges.duration_s.0,
        d1 = m.ranges.duration_s.1,
    )
}

/// Whether `root` already holds a complete demo dataset made with `manifest`'s parameters.
fn is_complete(root: &Path, manifest: &Manifest) -> bool {
    let Ok(text) = fs::read_to_string(root.join(MANIFEST_FILE)) else {
        return false;
    };
    let Ok(found) = serde_json::from_str::<Manifest>(&text) else {
        return false;
    };
    // Loading checks every listed video still exists (a cheap stat each).
    found == *manifest
        && root.join(SPLITS_DIR).join("train.txt").is_file()
        && Dataset::load(root).is_ok_and(|d| d.n_classes() == CLASS_NAMES.len())
}

/// Make `root` ready for a fresh dataset: create it, or clear an earlier demo dataset from it.
/// Refuses a non-empty folder that is not a demo root, so a mistyped path cannot lose files.
fn prepare_root(root: &Path) -> Result<()> {
    if !root.exists() {
        return fs::create_dir_all(root).at(root);
    }
    if !root.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "{} exists and is not a directory",
            root.display()
        )));
    }
    let ours = root.join(MANIFEST_FILE).is_file()
        || fs::read_to_string(root.join(README_FILE)).is_ok_and(|t| t.starts_with(README_MARK));
    let empty = fs::read_dir(root).at(root)?.next().is_none();
    if !ours && !empty {
        return Err(Error::InvalidArgument(format!(
            "{} is not empty and is not a vidcompare demo dataset (no {MANIFEST_FILE}); \
             choose an empty or new folder",
            root.display()
        )));
    }
    // Splits and manifest go first: from here on the root is visibly incomplete.
    for file in [MANIFEST_FILE, CLASSES_FILE, README_FILE] {
        remove_if_present(&root.join(file))?;
    }
    for split in SplitName::ALL {
        remove_if_present(&root.join(SPLITS_DIR).join(split.file_name()))?;
    }
    let videos = root.join("videos");
    if videos.exists() {
        fs::remove_dir_all(&videos).at(&videos)?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Write a small text file under a temporary name, then rename it into place.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = temp_name(path);
    fs::write(&tmp, text).at(&tmp)?;
    fs::rename(&tmp, path).at(path)
}

/// `dir/.name.part.ext`: hidden, and keeps the extension the encoder picks the container from.
fn temp_name(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!(".{stem}.part.{}", ext.to_string_lossy()),
        None => format!(".{stem}.part"),
    };
    path.with_file_name(name)
}

/// Render and encode one video to `path` (through a temporary file).
fn write_video(path: &Path, spec: &VideoSpec) -> Result<()> {
    let tmp = temp_name(path);
    let renderer = spec.renderer();
    let mut writer = VideoWriter::create(&tmp, spec.width, spec.height, spec.fps, Codec::Auto)?;
    for t in 0..spec.n_frames {
        writer.write(&renderer.frame(t))?;
    }
    writer.finish()?;
    fs::rename(&tmp, path).at(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traj(motion: Motion, direction: f64) -> TrajectorySpec {
        TrajectorySpec {
            motion,
            center: (50.0, 40.0),
            amplitude: 10.0,
            omega: PI / 2.0,
            phase: 0.0,
            direction,
            wobble: 0.0,
            wobble_omega: 0.0,
            wobble_phase: 0.0,
        }
    }

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
    }

    #[test]
    fn trajectory_formulas_by_hand() {
        // Quarter turns: sin = 0, 1, 0, -1 and cos = 1, 0, -1, 0.
        let lr = traj(Motion::LeftRight, 1.0);
        let ud = traj(Motion::UpDown, 1.0);
        let cw = traj(Motion::Circle, 1.0);
        let ccw = traj(Motion::Circle, -1.0);
        let want_lr = [(50.0, 40.0), (60.0, 40.0), (50.0, 40.0), (40.0, 40.0)];
        let want_ud = [(50.0, 40.0), (50.0, 50.0), (50.0, 40.0), (50.0, 30.0)];
        // y grows downwards, so right -> down -> left -> up is clockwise on screen.
        let want_cw = [(60.0, 40.0), (50.0, 50.0), (40.0, 40.0), (50.0, 30.0)];
        let want_ccw = [(60.0, 40.0), (50.0, 30.0), (40.0, 40.0), (50.0, 50.0)];
        for t in 0..4 {
            assert!(close(lr.position(t as f64), want_lr[t]), "lr t={t}");
            assert!(close(ud.position(t as f64), want_ud[t]), "ud t={t}");
            assert!(close(cw.position(t as f64), want_cw[t]), "cw t={t}");
            assert!(close(ccw.position(t as f64), want_ccw[t]), "ccw t={t}");
        }
        // Reversed start direction: left first.
        assert!(close(
            traj(Motion::LeftRight, -1.0).position(1.0),
            (40.0, 40.0)
        ));
    }

    #[test]
    fn wobble_never_reverses_the_motion() {
        for seed in 0..200 {
            let s = VideoSpec::random(seed, Motion::Circle, &VideoRanges::classical());
            let tr = &s.trajectory;
            let mut prev = tr.angle(0.0) * tr.direction;
            for k in 1..=s.n_frames * 4 {
                let a = tr.angle(k as f64 / 4.0) * tr.direction;
                assert!(
                    a > prev,
                    "seed {seed}: angle went back at t={}",
                    k as f64 / 4.0
                );
                prev = a;
            }
        }
    }

    fn range(xs: impl Iterator<Item = f64> + Clone) -> f64 {
        let max = xs.clone().fold(f64::MIN, f64::max);
        let min = xs.fold(f64::MAX, f64::min);
        max - min
    }

    #[test]
    fn each_class_moves_as_its_name_says() {
        for ranges in [VideoRanges::classical(), VideoRanges::deep()] {
            for seed in 0..100 {
                for motion in Motion::ALL {
                    let s = VideoSpec::random(seed, motion, &ranges);
                    let a = s.trajectory.amplitude;
                    let (cx, cy) = s.trajectory.center;
                    let pts: Vec<(f64, f64)> =
                        (0..s.n_frames).map(|t| s.object_center(t)).collect();
                    let xr = range(pts.iter().map(|p| p.0));
                    let yr = range(pts.iter().map(|p| p.1));
                    // The speed wobble can shrink the swept angle to half of omega * n_frames
                    // (>= 0.8 turns), i.e. >= 2.5 rad: a sine over that spans >= 0.68 A.
                    match motion {
                        Motion::LeftRight => {
                            assert!(pts.iter().all(|p| p.1 == cy), "seed {seed}");
                            assert!(xr > 0.6 * a, "seed {seed}: x range {xr} vs A {a}");
                        }
                        Motion::UpDown => {
                            assert!(pts.iter().all(|p| p.0 == cx), "seed {seed}");
                            assert!(yr > 0.6 * a, "seed {seed}: y range {yr} vs A {a}");
                        }
                        Motion::Circle => {
                            for p in &pts {
                                let r = ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt();
                                assert!((r - a).abs() < 1e-9, "seed {seed}: radius {r} vs {a}");
                            }
                            assert!(xr > 0.6 * a && yr > 0.6 * a, "seed {seed}");
                        }
                    }
                    assert!(a >= 4.0, "seed {seed}: amplitude {a} too small to see");
                    // The whole object stays inside the frame.
                    let (hw, hh) = (s.object.width as f64 / 2.0, s.object.height as f64 / 2.0);
                    for p in &pts {
                        assert!(p.0 - hw >= 0.0 && p.0 + hw <= s.width as f64, "seed {seed}");
                        assert!(
                            p.1 - hh >= 0.0 && p.1 + hh <= s.height as f64,
                            "seed {seed}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn formats_are_within_ranges() {
        let ranges = VideoRanges::classical();
        let mut fps_seen = std::collections::BTreeSet::new();
        for seed in 0..300 {
            let s = VideoSpec::random(seed, Motion::UpDown, &ranges);
            assert!(ranges.sizes.contains(&(s.width, s.height)));
            assert!((15..=30).contains(&s.fps));
            let secs = s.n_frames as f64 / s.fps as f64;
            assert!(
                (2.0 - 0.5 / 15.0..=6.0 + 0.5 / 15.0).contains(&secs),
                "{secs}"
            );
            assert!((1..=3).contains(&s.distractors.len()));
            fps_seen.insert(s.fps);
        }
        assert!(fps_seen.len() > 10, "frame rates barely vary: {fps_seen:?}");
    }

    #[test]
    fn class_changes_only_the_trajectory_formula() {
        for seed in [0, 1, 7, 12345] {
            let lr = VideoSpec::random(seed, Motion::LeftRight, &VideoRanges::deep());
            for motion in [Motion::UpDown, Motion::Circle] {
                let mut other = VideoSpec::random(seed, motion, &VideoRanges::deep());
                assert_eq!(other.motion(), motion);
                other.trajectory.motion = Motion::LeftRight;
                assert_eq!(other, lr);
            }
        }
    }

    #[test]
    fn no_static_cue_in_mean_position() {
        // Averaged over many clips, the object's mean position (as a fraction of the frame) is
        // the frame centre for every class.
        for motion in Motion::ALL {
            let (mut sx, mut sy, n) = (0.0, 0.0, 300);
            for seed in 0..n {
                let s = VideoSpec::random(seed, motion, &VideoRanges::classical());
                let (mx, my) = (0..s.n_frames)
                    .map(|t| s.object_center(t))
                    .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
                sx += mx / s.n_frames as f64 / s.width as f64;
                sy += my / s.n_frames as f64 / s.height as f64;
            }
            let (mx, my) = (sx / n as f64, sy / n as f64);
            assert!(
                (mx - 0.5).abs() < 0.02 && (my - 0.5).abs() < 0.02,
                "{motion:?}: {mx} {my}"
            );
        }
    }

    #[test]
    fn same_seed_same_video_other_seed_differs() {
        let r = VideoRanges::deep();
        let a = VideoSpec::random(42, Motion::Circle, &r);
        let b = VideoSpec::random(42, Motion::Circle, &r);
        let c = VideoSpec::random(43, Motion::Circle, &r);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let last = a.n_frames - 1;
        for t in [0, 1, last] {
            assert_eq!(render_frame(&a, t), render_frame(&b, t));
        }
        assert_ne!(render_frame(&a, 0), render_frame(&c, 0));
        // The renderer's frames are the one-shot frames.
        assert_eq!(a.renderer().frame(last), render_frame(&a, last));
    }

    /// A clean copy of `s` (no noise, no distractors) and the same without the object, so their
    /// difference is exactly the object.
    fn clean_pair(s: &VideoSpec) -> (VideoSpec, VideoSpec) {
        let mut with = s.clone();
        with.noise = 0.0;
        with.distractors.clear();
        let mut without = with.clone();
        without.object.width = 0;
        without.object.height = 0;
        (with, without)
    }

    fn object_centroid(with: &Frame, without: &Frame) -> (f64, f64, usize) {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0);
        for (x, y, p) in with.enumerate_pixels() {
            if p != without.get_pixel(x, y) {
                sx += x as f64 + 0.5;
                sy += y as f64 + 0.5;
                n += 1;
            }
        }
        (sx / n as f64, sy / n as f64, n)
    }

    #[test]
    fn rendered_object_follows_the_trajectory() {
        for (seed, motion) in [
            (3, Motion::LeftRight),
            (4, Motion::UpDown),
            (5, Motion::Circle),
        ] {
            let s = VideoSpec::random(seed, motion, &VideoRanges::deep());
            let (with, without) = clean_pair(&s);
            let (rw, ro) = (with.renderer(), without.renderer());
            let mut centres = Vec::new();
            for t in (0..s.n_frames).step_by(3) {
                let (cx, cy, n) = object_centroid(&rw.frame(t), &ro.frame(t));
                let area = (s.object.width * s.object.height) as f64;
                // An ellipse covers pi/4 of its box; a few pixels may match the background.
                assert!(
                    n as f64 > 0.6 * area,
                    "seed {seed} t {t}: {n} object pixels of {area}"
                );
                let want = s.object_center(t);
                assert!(
                    (cx - want.0).abs() <= 1.5 && (cy - want.1).abs() <= 1.5,
                    "seed {seed} t {t}: rendered ({cx:.1}, {cy:.1}) vs spec {want:?}"
                );
                centres.push((cx, cy));
            }
            let xr = range(centres.iter().map(|p| p.0));
            let yr = range(centres.iter().map(|p| p.1));
            match motion {
                Motion::LeftRight => assert!(yr <= 1.5 && xr > 5.0, "{xr} {yr}"),
                Motion::UpDown => assert!(xr <= 1.5 && yr > 5.0, "{xr} {yr}"),
                Motion::Circle => assert!(xr > 5.0 && yr > 5.0, "{xr} {yr}"),
            }
        }
    }

    #[test]
    fn noise_is_bounded_and_centred() {
        let mut s = VideoSpec::random(9, Motion::UpDown, &VideoRanges::deep());
        s.noise = 8.0;
        let mut clean = s.clone();
        clean.noise = 0.0;
        let (a, b) = (render_frame(&s, 2), render_frame(&clean, 2));
        let (mut sum, mut n, mut max) = (0i64, 0i64, 0i32);
        for (p, q) in a.as_raw().iter().zip(b.as_raw()) {
            // Skip clipped values so the mean is not biased by saturation.
            if (10..=245).contains(q) {
                let d = *p as i32 - *q as i32;
                sum += d as i64;
                n += 1;
                max = max.max(d.abs());
            }
        }
        let mean = sum as f64 / n as f64;
        assert!(max <= 8, "noise {max} beyond amplitude 8");
        assert!(max >= 6, "noise never reaches near its amplitude: {max}");
        assert!(mean.abs() < 0.2, "noise mean {mean}");
        // Each frame gets fresh noise.
        assert_ne!(render_frame(&s, 2), render_frame(&s, 3));
    }

    #[test]
    fn background_drifts() {
        let mut s = VideoSpec::random(11, Motion::Circle, &VideoRanges::classical());
        s.background.drift = (0.5, -0.25);
        s.n_frames = 40;
        let (_, bg) = clean_pair(&s);
        let r = bg.renderer();
        let (f0, f8) = (r.frame(0), r.frame(8));
        // After 8 frames the view has moved (+4, -2): frame 8 at (x, y) shows frame 0 at
        // (x + 4, y - 2).
        let (w, h) = (s.width, s.height);
        let (mut same, mut moved, mut n) = (0u64, 0u64, 0u64);
        for y in 4..h - 4 {
            for x in 4..w - 8 {
                for c in 0..3 {
                    let v = f8.get_pixel(x, y)[c] as i64;
                    moved += (v - f0.get_pixel(x + 4, y - 2)[c] as i64).unsigned_abs();
                    same += (v - f0.get_pixel(x, y)[c] as i64).unsigned_abs();
                    n += 1;
                }
            }
        }
        assert_eq!(moved, 0, "shifted background differs");
        assert!(same > n / 4, "background did not move");
    }

    #[test]
    fn distractors_walk_inside_the_frame() {
        let s = VideoSpec::random(21, Motion::LeftRight, &VideoRanges::classical());
        for d in &s.distractors {
            let path = random_walk(d, s.width, s.height, 500);
            assert_eq!(path[0], d.start);
            assert!(
                path.iter().all(|p| (0.0..=s.width as f64).contains(&p.0)
                    && (0.0..=s.height as f64).contains(&p.1))
            );
            assert!(range(path.iter().map(|p| p.0)) > 2.0);
        }
    }

    #[test]
    fn sizes_and_seeds() {
        assert_eq!("Medium".parse::<DemoSize>().unwrap(), DemoSize::Medium);
        assert!("huge".parse::<DemoSize>().is_err());
        assert_eq!(DemoSize::default(), DemoSize::Small);
        assert_eq!(DemoSize::Small.classical_counts().total(), 33);
        assert_eq!(DemoSize::Small.deep_counts().total(), 54);
        assert_eq!(DemoSize::Large.to_string(), "large");
        let seeds: std::collections::HashSet<u64> = (0..1000)
            .flat_map(|i| [video_seed(1, "classical", i), video_seed(1, "deep", i)])
            .collect();
        assert_eq!(seeds.len(), 2000);
        assert_ne!(video_seed(1, "deep", 0), video_seed(2, "deep", 0));
    }

    #[test]
    fn hsv_primaries() {
        assert_eq!(hsv(0.0, 1.0, 1.0), [255, 0, 0]);
        assert_eq!(hsv(120.0, 1.0, 1.0), [0, 255, 0]);
        assert_eq!(hsv(240.0, 1.0, 1.0), [0, 0, 255]);
        assert_eq!(hsv(60.0, 0.5, 1.0), [255, 255, 128]);
        assert_eq!(hsv(200.0, 0.0, 0.5), [128, 128, 128]);
    }
}
