//! What a demo video is: the classes, the format ranges, and every random parameter of one video
//! ([`VideoSpec::random`]), drawn from a seed alone; also the seed derivation and colour draws.

use std::f64::consts::{PI, TAU};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::render::Renderer;
use crate::error::{Error, Result};

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

    pub(super) fn validate(&self) -> Result<()> {
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
pub(super) fn muted(rng: &mut ChaCha8Rng) -> Rgb {
    hsv(
        rng.gen_range(0.0..360.0),
        rng.gen_range(0.05..0.45),
        rng.gen_range(0.2..0.85),
    )
}

/// SplitMix64's output function: a fast, well-mixed 64-bit hash.
pub(super) fn splitmix64(x: u64) -> u64 {
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

#[cfg(test)]
pub(super) mod tests {
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

    /// Spread (max - min) of the values; shared with the render tests.
    pub(in crate::dataset::synth) fn range(xs: impl Iterator<Item = f64> + Clone) -> f64 {
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
    fn hsv_primaries() {
        assert_eq!(hsv(0.0, 1.0, 1.0), [255, 0, 0]);
        assert_eq!(hsv(120.0, 1.0, 1.0), [0, 255, 0]);
        assert_eq!(hsv(240.0, 1.0, 1.0), [0, 0, 255]);
        assert_eq!(hsv(60.0, 0.5, 1.0), [255, 255, 128]);
        assert_eq!(hsv(200.0, 0.0, 0.5), [128, 128, 128]);
    }
}
