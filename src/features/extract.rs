//! Video-level feature extraction (notebook `extract_video_features` and `build_Xy`): decode the
//! sampled frames, resize, enhance, compute per-frame features, their temporal statistics and the
//! motion block, with a content-addressed cache and every video's failure reported, not dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::GrayImage;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cache::{Entry, FeatureCache};
use super::layout::{Family, Labels, Layout, Segment};
use super::temporal::{frame_to_frame_variation, nan_to_num, temporal_stats};
use super::{color, convert, motion, shape, texture};
use crate::config::Config;
use crate::dataset::Sample;
use crate::error::{Error, Result, VideoErrorKind};
use crate::video::decode::decode_sampled_many;
use crate::video::enhance::{EnhanceParams, enhance};
use crate::video::{Frame, Sampling};

/// Bump when any feature's arithmetic changes, so caches built by older code are not reused.
pub const FEATURES_VERSION: u32 = 1;

/// Which vector to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureSet {
    /// The notebook's vector: per-frame colour/texture/shape statistics + frame variation, frame
    /// differences, sparse LK and Horn-Schunck on the first sampled frames.
    Notebook,
    /// `Notebook` plus whole-clip motion from consecutive decoded frames (see
    /// [`motion::motion_plus_features`]).
    MotionPlus,
}

impl FeatureSet {
    pub fn parse(s: &str) -> Result<FeatureSet> {
        match s {
            "notebook" => Ok(FeatureSet::Notebook),
            "motion+" | "motion_plus" => Ok(FeatureSet::MotionPlus),
            _ => Err(Error::Config(format!(
                "feature_set `{s}`: expected notebook or motion+"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FeatureSet::Notebook => "notebook",
            FeatureSet::MotionPlus => "motion+",
        }
    }
}

/// Horn-Schunck block of the notebook layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HornSchunck {
    /// Real dense flow between the first two sampled frames.
    Real,
    /// The notebook's zeros (same length), to compare numbers with the notebook's.
    Placeholder,
}

/// Everything that decides a video's feature vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureOptions {
    pub set: FeatureSet,
    pub families: Vec<Family>,
    /// Classical frame size (the notebook's RESIZE_W x RESIZE_H).
    pub width: u32,
    pub height: u32,
    pub sampling: Sampling,
    pub enhance: bool,
    pub seed: u64,
    pub horn_schunck: HornSchunck,
    /// Frame size for the whole-clip motion block.
    pub motion_size: (u32, u32),
    /// At most this many consecutive frames feed the whole-clip motion block.
    pub motion_max_frames: usize,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions::from_config(&Config::default()).expect("defaults are valid")
    }
}

impl FeatureOptions {
    /// Options from the run configuration (`resize_w`, `resize_h`, `classical_sampling`,
    /// `fast_mode`, `seed`, `feature_set`, `feature_families`, `enhance`, `horn_schunck`).
    pub fn from_config(cfg: &Config) -> Result<FeatureOptions> {
        let families = parse_families(cfg.str("feature_families")?)?;
        Ok(FeatureOptions {
            set: FeatureSet::parse(cfg.str("feature_set")?)?,
            families,
            width: cfg.int("resize_w")? as u32,
            height: cfg.int("resize_h")? as u32,
            sampling: Sampling::parse_classical(
                cfg.str("classical_sampling")?,
                cfg.bool("fast_mode")?,
            )?,
            enhance: cfg.bool("enhance")?,
            seed: cfg.int("seed")? as u64,
            horn_schunck: match cfg.str("horn_schunck")? {
                "placeholder" => HornSchunck::Placeholder,
                _ => HornSchunck::Real,
            },
            motion_size: (96, 72),
            motion_max_frames: 300,
        })
    }

    pub fn has(&self, f: Family) -> bool {
        self.families.contains(&f)
    }

    /// A fingerprint of everything that changes the vector (part of the cache key).
    pub fn fingerprint(&self) -> String {
        format!(
            "v{FEATURES_VERSION}|{}",
            serde_json::to_string(self).expect("options serialise")
        )
    }

    /// The per-frame part of the layout.
    pub fn frame_layout(&self) -> Layout {
        let mut l = Layout::new();
        if self.has(Family::Color) {
            for s in color_segments() {
                l.push(s);
            }
        }
        if self.has(Family::Texture) {
            for s in texture_segments() {
                l.push(s);
            }
        }
        if self.has(Family::Shape) {
            l.push(Segment::new(Family::Shape, "edge_hist", Labels::Count(16)));
            l.push(Segment::named(
                Family::Shape,
                "contours",
                &[
                    "count",
                    "area_mean",
                    "area_var",
                    "perimeter_mean",
                    "perimeter_var",
                    "area_sum",
                ],
            ));
            l.push(Segment::new(
                Family::Shape,
                "hog",
                Labels::Count(shape::hog_len(self.width, self.height)),
            ));
        }
        l
    }

    /// The layout of the whole video vector.
    pub fn layout(&self) -> Layout {
        let frame = self.frame_layout();
        let mut l = Layout::new();
        for stat in ["mean", "std", "min", "max"] {
            l.extend(&frame.with_stat(stat));
        }
        if self.has(Family::Motion) {
            let stats4 = ["mean", "std", "min", "max"];
            l.push(Segment::named(Family::Motion, "frame_variation", &stats4));
            let mut fd: Vec<String> = [
                "mag_mean", "mag_std", "mag_min", "mag_max", "mag_p25", "mag_p50", "mag_p75",
                "n_frames",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            fd.extend((0..16).map(|i| format!("hist{i}")));
            l.push(Segment::new(
                Family::Motion,
                "frame_diff",
                Labels::Names(fd),
            ));
            l.push(Segment::named(
                Family::Motion,
                "lk",
                &[
                    "mag_mean",
                    "mag_std",
                    "mag_min",
                    "mag_max",
                    "cos_mean",
                    "sin_mean",
                    "n_good",
                    "mag_median",
                    "mag_p75",
                    "mag_p25",
                ],
            ));
            l.push(Segment::new(
                Family::Motion,
                "horn_schunck",
                Labels::Names(horn_schunck_names()),
            ));
            if self.set == FeatureSet::MotionPlus {
                l.push(Segment::new(
                    Family::Motion,
                    "clip",
                    Labels::Names(motion::motion_plus_names()),
                ));
            }
        }
        l
    }
}

/// Names of the 38 Horn-Schunck values (see [`motion::flow_summary`]).
fn horn_schunck_names() -> Vec<String> {
    let mut v: Vec<String> = ["mag_mean", "mag_std", "mag_median", "mag_max"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend((0..16).map(|i| format!("mag_hist{i}")));
    v.extend((0..16).map(|i| format!("ang_hist{i}")));
    v.push("u_mean".into());
    v.push("v_mean".into());
    v
}

fn parse_families(s: &str) -> Result<Vec<Family>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let f = Family::parse(part).ok_or_else(|| {
            Error::Config(format!(
                "feature_families: unknown family `{}` (color, texture, shape, motion)",
                part.trim()
            ))
        })?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    if out.is_empty() {
        return Err(Error::Config(
            "feature_families: name at least one family".into(),
        ));
    }
    out.sort();
    Ok(out)
}

fn color_segments() -> Vec<Segment> {
    let hist = |chans: [&str; 3]| {
        Labels::Names(
            chans
                .iter()
                .flat_map(|c| (0..16).map(move |b| format!("{c}{b}")))
                .collect(),
        )
    };
    let moments: Vec<String> = ["R", "G", "B"]
        .iter()
        .flat_map(|c| ["mean", "var", "skew"].map(|m| format!("{c}_{m}")))
        .collect();
    vec![
        Segment::new(Family::Color, "rgb_hist", hist(["R", "G", "B"])),
        Segment::new(Family::Color, "hsv_hist", hist(["H", "S", "V"])),
        Segment::new(Family::Color, "moments", Labels::Names(moments)),
        Segment::named(Family::Color, "avg", &["R", "G", "B"]),
    ]
}

fn texture_segments() -> Vec<Segment> {
    let mut glcm = Vec::with_capacity(48);
    for p in [
        "contrast",
        "dissimilarity",
        "homogeneity",
        "energy",
        "correlation",
        "ASM",
    ] {
        for d in [1, 2] {
            for a in [0, 45, 90, 135] {
                glcm.push(format!("{p}_d{d}_a{a}"));
            }
        }
    }
    let mut gabor = Vec::with_capacity(12);
    for f in ["0.2", "0.4"] {
        for t in [0, 45, 90] {
            for s in ["mean", "var"] {
                gabor.push(format!("f{f}_t{t}_{s}"));
            }
        }
    }
    vec![
        Segment::new(Family::Texture, "glcm", Labels::Names(glcm)),
        Segment::new(Family::Texture, "lbp", Labels::Count(32)),
        Segment::new(Family::Texture, "gabor", Labels::Names(gabor)),
    ]
}

/// Per-frame features of one (already resized and enhanced) frame, and its grey image.
pub fn frame_features(frame: &Frame, opts: &FeatureOptions) -> (Vec<f32>, GrayImage) {
    let gray = convert::to_gray(frame);
    let mut v = Vec::new();
    if opts.has(Family::Color) {
        let hsv = convert::to_hsv(frame);
        v.extend(color::color_features(frame, &hsv));
    }
    if opts.has(Family::Texture) {
        v.extend(texture::glcm_features(&gray));
        v.extend(texture::lbp_hist(&gray));
        v.extend(texture::gabor_features(&gray));
    }
    if opts.has(Family::Shape) {
        v.extend(shape::shape_features(&gray));
    }
    (v, gray)
}

/// One video's vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFeatures {
    pub values: Vec<f32>,
    /// Sampled frames the per-frame features came from.
    pub n_frames: usize,
    /// Wall-clock seconds of the extraction (decode included).
    pub seconds: f64,
    /// Non-fatal problems (e.g. a truncated stream that still gave frames).
    pub warnings: Vec<String>,
}

/// The sampled frames the notebook's motion features look at: frame differences over the first
/// ten, Lucas-Kanade and Horn-Schunck over the first two.
const MOTION_FRAMES: usize = 10;

/// Extract the feature vector of the video at `path`.
pub fn extract_video(path: &Path, opts: &FeatureOptions) -> Result<VideoFeatures> {
    let started = Instant::now();
    // With the whole-clip motion block, one pass over the file serves both the sampled frames
    // and the first consecutive frames at the motion size.
    let wants_clip = opts.has(Family::Motion) && opts.set == FeatureSet::MotionPlus;
    let mut requests = vec![(opts.sampling, Some((opts.width, opts.height)))];
    if wants_clip {
        requests.push((
            Sampling::Dense {
                max_frames: opts.motion_max_frames,
            },
            Some(opts.motion_size),
        ));
    }
    let mut decoded = decode_sampled_many(path, &requests, opts.seed)?.into_iter();
    let (decoded, clip) = (
        decoded.next().expect("one result per request"),
        decoded.next(),
    );
    let mut warnings = decoded.warnings;
    let fps = decoded.info.fps;
    let frames: Vec<Frame> = decoded.frames.into_iter().map(|(_, f)| f).collect();
    let n_frames = frames.len();
    if n_frames == 0 {
        return Err(Error::video(path, VideoErrorKind::NoFrames));
    }
    // Each frame is enhanced, described and dropped in one step, so a long video never holds a
    // second, enhanced copy of all its frames; only the grey images the motion features read (the
    // first MOTION_FRAMES) are kept.
    let enhance_params = opts.enhance.then(EnhanceParams::default);
    let per: Vec<(Vec<f32>, Option<GrayImage>)> = frames
        .into_par_iter()
        .enumerate()
        .map(|(i, f)| {
            let f = match &enhance_params {
                Some(p) => enhance(&f, p),
                None => f,
            };
            let (row, gray) = frame_features(&f, opts);
            (row, (i < MOTION_FRAMES).then_some(gray))
        })
        .collect();
    let (rows, grays): (Vec<Vec<f32>>, Vec<Option<GrayImage>>) = per.into_iter().unzip();
    let grays: Vec<GrayImage> = grays.into_iter().flatten().collect();

    let mut v = temporal_stats(&rows);
    if opts.has(Family::Motion) {
        v.extend(frame_to_frame_variation(&rows));
        let subset = &grays[..];
        v.extend(motion::frame_diff_features(subset, 16));
        // The notebook's sparse LK and Horn-Schunck look at the first two sampled frames only.
        let pair = &subset[..subset.len().min(2)];
        v.extend(motion::lucas_kanade_sparse(pair, 200));
        match opts.horn_schunck {
            HornSchunck::Real => v.extend(motion::horn_schunck_features(pair, 16, 16)),
            HornSchunck::Placeholder => v.extend(motion::notebook_horn_schunck_placeholder()),
        }
        if let Some(clip) = clip {
            warnings.extend(clip.warnings);
            let clip_grays: Vec<GrayImage> = clip
                .frames
                .iter()
                .map(|(_, f)| convert::to_gray(f))
                .collect();
            v.extend(motion::motion_plus_features(
                &clip_grays,
                fps.unwrap_or(25.0),
            ));
        }
    }
    nan_to_num(&mut v);
    Ok(VideoFeatures {
        values: v,
        n_frames,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

/// A video that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedVideo {
    pub path: PathBuf,
    pub reason: String,
}

/// The feature matrix of a list of videos (notebook `build_Xy`), rows in input order minus the
/// skipped videos.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    pub x: Array2<f32>,
    pub y: Vec<usize>,
    pub paths: Vec<PathBuf>,
    pub layout: Arc<Layout>,
    /// The options the rows were extracted with: what a saved pipeline must extract again from a
    /// new video.
    pub options: FeatureOptions,
    /// Extraction seconds per row (from the cache entry when it was a cache hit).
    pub seconds: Vec<f64>,
    pub n_frames: Vec<usize>,
    pub skipped: Vec<SkippedVideo>,
    pub warnings: Vec<String>,
    pub cache_hits: usize,
    /// Videos whose features were computed but could not be written to the cache (each also has
    /// a [`NOT_CACHED`] warning).
    pub not_cached: Vec<PathBuf>,
}

impl FeatureMatrix {
    pub fn n_videos(&self) -> usize {
        self.x.nrows()
    }

    pub fn dim(&self) -> usize {
        self.x.ncols()
    }
}

/// Extract features for every sample, in parallel, through the cache when one is given. Videos
/// that fail are listed in [`FeatureMatrix::skipped`] (and on stderr), never silently dropped.
///
/// After an interrupt ([`crate::interrupt::interrupted`]) the videos not yet started are listed
/// as skipped; [`try_extract_samples`] turns that into an error instead.
pub fn extract_samples(
    samples: &[Sample],
    opts: &FeatureOptions,
    cache: Option<&FeatureCache>,
    progress: bool,
) -> FeatureMatrix {
    extract_impl(samples, opts, cache, progress).0
}

/// [`extract_samples`], stopping at the next video boundary after an interrupt (Ctrl-C) with the
/// error of [`crate::interrupt::interrupted_error`]. Videos finished before the interrupt are in
/// the cache, so running again resumes where this stopped.
pub fn try_extract_samples(
    samples: &[Sample],
    opts: &FeatureOptions,
    cache: Option<&FeatureCache>,
    progress: bool,
) -> Result<FeatureMatrix> {
    match extract_impl(samples, opts, cache, progress) {
        (_, true) => Err(crate::interrupt::interrupted_error()),
        (m, false) => Ok(m),
    }
}

/// The matrix, and whether an interrupt left some videos unstarted.
fn extract_impl(
    samples: &[Sample],
    opts: &FeatureOptions,
    cache: Option<&FeatureCache>,
    progress: bool,
) -> (FeatureMatrix, bool) {
    let layout = Arc::new(opts.layout());
    let fingerprint = opts.fingerprint();
    let bar = crate::util::progress::bar(progress, samples.len(), "features", "videos");
    let results: Vec<(Result<Extracted>, &Sample)> = samples
        .par_iter()
        .map(|s| {
            // Checked between videos: a video already started finishes and reaches the cache.
            if crate::interrupt::interrupted() {
                return (Err(crate::interrupt::interrupted_error()), s);
            }
            let r = one(s, opts, cache, &fingerprint);
            bar.inc(1);
            (r, s)
        })
        .collect();
    bar.finish_and_clear();
    let not_started = results
        .iter()
        .filter(|(r, _)| {
            r.as_ref()
                .is_err_and(crate::interrupt::is_interrupted_error)
        })
        .count();
    let stopped = not_started > 0;

    let dim = layout.len();
    let mut data = Vec::with_capacity(samples.len() * dim);
    let mut m = FeatureMatrix {
        x: Array2::zeros((0, dim)),
        y: Vec::new(),
        paths: Vec::new(),
        layout,
        options: opts.clone(),
        seconds: Vec::new(),
        n_frames: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        cache_hits: 0,
        not_cached: Vec::new(),
    };
    for (r, s) in results {
        match r {
            Ok((e, origin, warnings)) if e.values.len() == dim => {
                data.extend_from_slice(&e.values);
                m.y.push(s.label);
                m.paths.push(s.path.clone());
                m.seconds.push(e.seconds);
                m.n_frames.push(e.n_frames as usize);
                match origin {
                    Origin::Cache => m.cache_hits += 1,
                    Origin::NotCached => m.not_cached.push(s.path.clone()),
                    Origin::Computed => {}
                }
                m.warnings.extend(
                    warnings
                        .into_iter()
                        .map(|w| format!("{}: {w}", s.path.display())),
                );
            }
            Ok((e, _, _)) => m.skipped.push(SkippedVideo {
                path: s.path.clone(),
                reason: format!(
                    "internal: vector of {} values, layout has {dim}",
                    e.values.len()
                ),
            }),
            Err(e) => m.skipped.push(SkippedVideo {
                path: s.path.clone(),
                reason: strip_path(&e.to_string(), &s.path),
            }),
        }
    }
    if stopped {
        eprintln!(
            "interrupt: stopped with {not_started} of {} video(s) not started",
            samples.len()
        );
    } else {
        for sk in &m.skipped {
            eprintln!("warning: {}: skipped: {}", sk.path.display(), sk.reason);
        }
        // A damaged video that still gave frames (e.g. a truncated file) is used, but said so.
        for w in &m.warnings {
            eprintln!("warning: {w}");
        }
    }
    m.x = Array2::from_shape_vec((m.y.len(), dim), data).expect("rows have the layout's length");
    (m, stopped)
}

/// `msg` without a leading `"<path>: "` (the reason of a skipped video, its path said apart).
pub(crate) fn strip_path(msg: &str, path: &Path) -> String {
    let p = format!("{}: ", path.display());
    msg.strip_prefix(&p).unwrap_or(msg).to_string()
}

/// The warning of a video whose product could not be written to the cache (disk full, a
/// read-only cache): the run uses it all the same.
pub const NOT_CACHED: &str = "computed but not cached";

/// Where a video's product came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Origin {
    /// Read from the cache.
    Cache,
    /// Computed (and written to the cache, when there is one).
    Computed,
    /// Computed, but the cache write failed.
    NotCached,
}

/// One video's cache entry, where it came from, and its warnings.
type Extracted = (Entry, Origin, Vec<String>);

fn one(
    s: &Sample,
    opts: &FeatureOptions,
    cache: Option<&FeatureCache>,
    fingerprint: &str,
) -> Result<Extracted> {
    let key = match cache {
        Some(_) => Some(FeatureCache::key(&s.path, fingerprint)?),
        None => None,
    };
    if let (Some(c), Some(k)) = (cache, &key)
        && let Some(e) = c.get(k)
    {
        return Ok((e, Origin::Cache, Vec::new()));
    }
    let f = extract_video(&s.path, opts)?;
    let e = Entry {
        values: f.values,
        n_frames: f.n_frames as u32,
        seconds: f.seconds,
    };
    let mut warnings = f.warnings;
    let mut origin = Origin::Computed;
    if let (Some(c), Some(k)) = (cache, &key)
        && let Err(err) = c.put(k, &e)
    {
        // The values are good; only the next run loses them.
        warnings.push(format!("{NOT_CACHED} ({err})"));
        origin = Origin::NotCached;
    }
    Ok((e, origin, warnings))
}
