//! Frames for the deep models: decode, resize, sample, enhance (the notebook's `FrameDataset2D` /
//! `ClipDataset3D`), cache the preprocessed frames, and turn them into normalised tensors.
//!
//! The notebook reads at most 400 frames, resizes each to IMG_SIZE x IMG_SIZE with area
//! interpolation, samples (uniform = `np.linspace(0, n - 1, T, dtype=int)`, random = sorted
//! distinct frames from a generator seeded with SEED), then enhances the sampled frames. We decode
//! only the sampled frames, which gives the same pixels. Preprocessed frames are cached on disk
//! (content-addressed by the video's bytes and the settings, with a checksum) so a second model,
//! a second epoch or a second run never decodes again.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Sample;
use crate::features::extract::{NOT_CACHED, Origin, SkippedVideo};
use crate::util::cache::{BlobCache, Reader, file_key};
use crate::util::progress;
use crate::video::decode::{decode_indices, probe};
use crate::video::enhance::{EnhanceParams, enhance};
use crate::video::sample::Sampling;
use crate::{Error, Result};

/// The notebook reads at most this many frames of a video (`load_video_cv2(max_frames=400)`).
pub const MAX_READ_FRAMES: usize = 400;

/// Largest frame side and frame count we accept: beyond them a clip would not fit in memory.
pub const MAX_SIZE: u32 = 1024;
/// See [`MAX_SIZE`].
pub const MAX_FRAMES: usize = 512;

/// Input normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Norm {
    /// ImageNet statistics (torchvision's 2D models; the notebook uses them for R3D-18 too).
    ImageNet,
    /// Kinetics-400 statistics (torchvision's video models, R3D-18).
    Kinetics,
}

impl Norm {
    /// Per-channel (R, G, B) mean.
    pub fn mean(self) -> [f32; 3] {
        match self {
            Norm::ImageNet => [0.485, 0.456, 0.406],
            Norm::Kinetics => [0.43216, 0.394666, 0.37645],
        }
    }

    /// Per-channel (R, G, B) standard deviation.
    pub fn std(self) -> [f32; 3] {
        match self {
            Norm::ImageNet => [0.229, 0.224, 0.225],
            Norm::Kinetics => [0.22803, 0.22145, 0.216989],
        }
    }

    /// "ImageNet" or "Kinetics-400".
    pub fn label(self) -> &'static str {
        match self {
            Norm::ImageNet => "ImageNet",
            Norm::Kinetics => "Kinetics-400",
        }
    }
}

/// How the deep models take frames from a video: `deep_sampling`, the notebook's
/// DEEP_SAMPLING. Parsed once, where the settings are resolved ([`FromStr`]); saved as its
/// name, so the frame-cache keys and saved settings of earlier runs stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeepSampling {
    /// `np.linspace(0, n - 1, T, dtype=int)` ([`Sampling::Linspace`]).
    Uniform,
    /// `T` distinct frames, sorted, from a generator seeded with the run's seed
    /// ([`Sampling::RandomN`]).
    Random,
}

impl DeepSampling {
    /// "uniform" or "random".
    pub fn name(self) -> &'static str {
        match self {
            DeepSampling::Uniform => "uniform",
            DeepSampling::Random => "random",
        }
    }

    /// The frame-index strategy that takes `frames` frames.
    pub fn sampling(self, frames: usize) -> Sampling {
        match self {
            DeepSampling::Uniform => Sampling::Linspace { n: frames },
            DeepSampling::Random => Sampling::RandomN { n: frames },
        }
    }
}

impl fmt::Display for DeepSampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeepSampling {
    type Err = Error;

    fn from_str(s: &str) -> Result<DeepSampling> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uniform" => Ok(DeepSampling::Uniform),
            "random" => Ok(DeepSampling::Random),
            other => Err(Error::Config(format!(
                "deep_sampling = `{other}`: expected uniform or random"
            ))),
        }
    }
}

impl TryFrom<String> for DeepSampling {
    type Error = Error;

    fn try_from(s: String) -> Result<DeepSampling> {
        s.parse()
    }
}

impl From<DeepSampling> for String {
    fn from(s: DeepSampling) -> String {
        s.name().to_string()
    }
}

/// How frames are taken from a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipSpec {
    /// Square frame side (IMG_SIZE).
    pub size: u32,
    /// Frames per video (2D `num_frames`) or per clip (3D `clip_len`).
    pub frames: usize,
    /// Uniform or random (the notebook's DEEP_SAMPLING).
    pub sampling: DeepSampling,
    /// Apply the notebook's `enhance_frame` to the sampled frames.
    pub enhance: bool,
    /// Seed of random sampling.
    pub seed: u64,
}

impl ClipSpec {
    /// Check sizes before anything is allocated.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 || self.size > MAX_SIZE {
            return Err(Error::Config(format!(
                "img_size = {}: must be between 1 and {MAX_SIZE}",
                self.size
            )));
        }
        if self.frames == 0 || self.frames > MAX_FRAMES {
            return Err(Error::Config(format!(
                "{} frames per clip: must be between 1 and {MAX_FRAMES}",
                self.frames
            )));
        }
        Ok(())
    }

    /// What changes the cached frames (part of the cache key).
    pub fn fingerprint(&self) -> String {
        format!(
            "deep-frames-v1|{}",
            serde_json::to_string(self).expect("spec serialises")
        )
    }

    /// "8 frames, 112x112, uniform, enhanced".
    pub fn describe(&self) -> String {
        format!(
            "{} frames, {}x{} px, {} sampling{}",
            self.frames,
            self.size,
            self.size,
            self.sampling,
            if self.enhance { ", enhanced" } else { "" }
        )
    }
}

/// The preprocessed frames of one video.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Frames in time order (RGB, `size x size`). A random sample of a video shorter than the
    /// clip has fewer frames, as the notebook's.
    pub frames: Vec<RgbImage>,
    /// Seconds that decoding and preprocessing took when the clip was first made (kept through
    /// the cache, so end-to-end inference times stay truthful).
    pub seconds: f64,
}

/// Decode, resize, sample and enhance one video.
pub fn load_clip(path: &Path, spec: &ClipSpec) -> Result<(Clip, Vec<String>)> {
    spec.validate()?;
    let started = Instant::now();
    let info = probe(path)?;
    let n = info.frame_count.min(MAX_READ_FRAMES);
    if n == 0 {
        return Err(Error::video(path, crate::error::VideoErrorKind::NoFrames));
    }
    let indices = spec
        .sampling
        .sampling(spec.frames)
        .indices(n, info.fps, spec.seed);
    let mut unique = indices.clone();
    unique.dedup();
    let decoded = decode_indices(path, &unique, Some((spec.size, spec.size)))?;
    let mut warnings = decoded.warnings;
    if decoded.frames.len() < unique.len() {
        warnings.push(format!(
            "{} of {} sampled frames decoded",
            decoded.frames.len(),
            unique.len()
        ));
    }
    let params = EnhanceParams::default();
    let prepared: Vec<(usize, RgbImage)> = decoded
        .frames
        .par_iter()
        .map(|(i, f)| {
            let f = if spec.enhance {
                enhance(f, &params)
            } else {
                f.clone()
            };
            (*i, f)
        })
        .collect();
    // Expand repeated indices (linspace on a short video); a frame that did not decode is left
    // out, as OpenCV's reader would have stopped before it.
    let frames: Vec<RgbImage> = indices
        .iter()
        .filter_map(|idx| {
            prepared
                .binary_search_by_key(idx, |(i, _)| *i)
                .ok()
                .map(|k| prepared[k].1.clone())
        })
        .collect();
    Ok((
        Clip {
            frames,
            seconds: started.elapsed().as_secs_f64(),
        },
        warnings,
    ))
}

/// The payload encoding (`n u32 | width u32 | height u32 | seconds f64 | n x RGB frames`,
/// little-endian); the same bytes as before the cache was shared, so existing entries stay valid.
const MAGIC: [u8; 4] = *b"VCB1";

/// On-disk cache of preprocessed clips (the shared [`BlobCache`]: content-addressed, atomic,
/// checksummed writes; safe to delete).
#[derive(Debug, Clone)]
pub struct ClipCache {
    blobs: BlobCache,
}

impl ClipCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> ClipCache {
        ClipCache {
            blobs: BlobCache::new(dir, MAGIC, "vcb"),
        }
    }

    /// The clip under `key`, or None when absent or corrupt (a corrupt file is removed).
    pub fn get(&self, key: &str) -> Option<Clip> {
        self.blobs.get_with(key, decode_clip)
    }

    /// Store `clip` under `key`, atomically.
    pub fn put(&self, key: &str, clip: &Clip) -> Result<()> {
        self.blobs.put(key, &encode_clip(clip))
    }
}

fn encode_clip(c: &Clip) -> Vec<u8> {
    let (w, h) = c.frames.first().map(|f| f.dimensions()).unwrap_or((0, 0));
    let mut b = Vec::with_capacity(20 + c.frames.len() * (w * h * 3) as usize);
    b.extend_from_slice(&(c.frames.len() as u32).to_le_bytes());
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&c.seconds.to_le_bytes());
    for f in &c.frames {
        b.extend_from_slice(f.as_raw());
    }
    b
}

fn decode_clip(payload: &[u8]) -> Option<Clip> {
    let mut r = Reader::new(payload);
    let n = r.u32()? as usize;
    let w = r.u32()?;
    let h = r.u32()?;
    let seconds = r.f64()?;
    let frame = (w as usize).checked_mul(h as usize)?.checked_mul(3)?;
    let data = r.rest();
    if data.len() != frame.checked_mul(n)? {
        return None;
    }
    let frames = data
        .chunks_exact(frame.max(1))
        .take(n)
        .map(|c| RgbImage::from_raw(w, h, c.to_vec()))
        .collect::<Option<Vec<_>>>()?;
    Some(Clip { frames, seconds })
}

/// The clips of one split: the usable videos in split order, and the ones left out.
#[derive(Debug, Clone, Default)]
pub struct ClipSet {
    /// One clip per usable video.
    pub clips: Vec<Arc<Clip>>,
    /// Their labels.
    pub labels: Vec<usize>,
    /// Their paths as written in the split file.
    pub paths: Vec<String>,
    /// Their files (the paths joined onto the dataset root).
    pub files: Vec<PathBuf>,
    /// Videos that could not be used, with the reason.
    pub skipped: Vec<SkippedVideo>,
    /// Decoder warnings of usable videos ("path: message").
    pub warnings: Vec<String>,
    /// How many clips came from the cache.
    pub cache_hits: usize,
    /// Videos whose clips were decoded but could not be written to the cache (each also has a
    /// [`NOT_CACHED`](crate::features::extract::NOT_CACHED) warning).
    pub not_cached: Vec<PathBuf>,
}

impl ClipSet {
    /// Number of usable videos.
    pub fn len(&self) -> usize {
        self.clips.len()
    }

    /// True when no video is usable.
    pub fn is_empty(&self) -> bool {
        self.clips.is_empty()
    }
}

/// Load the clips of `samples` in parallel, from `cache` when possible. A video that cannot be
/// decoded is listed in [`ClipSet::skipped`] with its reason and the rest go on. After Ctrl-C the
/// videos not yet started give [`crate::interrupt::interrupted_error`]; finished ones are cached.
pub fn load_clips(
    samples: &[Sample],
    spec: &ClipSpec,
    cache: Option<&ClipCache>,
    label: &str,
    progress: bool,
) -> Result<ClipSet> {
    spec.validate()?;
    let fingerprint = spec.fingerprint();
    let bar = progress::bar(progress, samples.len(), label, "videos");
    type One = Result<(Clip, Vec<String>, Origin)>;
    let results: Vec<One> = samples
        .par_iter()
        .map(|s| {
            if crate::interrupt::interrupted() {
                return Err(crate::interrupt::interrupted_error());
            }
            let r = (|| {
                let key = file_key(&s.path, &fingerprint)?;
                if let Some(c) = cache.and_then(|c| c.get(&key)) {
                    return Ok((c, Vec::new(), Origin::Cache));
                }
                let (clip, mut warnings) = load_clip(&s.path, spec)?;
                if clip.frames.is_empty() {
                    return Err(Error::video(
                        &s.path,
                        crate::error::VideoErrorKind::NoFrames,
                    ));
                }
                let mut origin = Origin::Computed;
                if let Some(c) = cache
                    && let Err(err) = c.put(&key, &clip)
                {
                    warnings.push(format!("{NOT_CACHED} ({err})"));
                    origin = Origin::NotCached;
                }
                Ok((clip, warnings, origin))
            })();
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut set = ClipSet::default();
    for (s, r) in samples.iter().zip(results) {
        match r {
            Ok((clip, warnings, origin)) => {
                set.clips.push(Arc::new(clip));
                set.labels.push(s.label);
                set.paths.push(s.rel_path.clone());
                set.files.push(s.path.clone());
                set.warnings
                    .extend(warnings.into_iter().map(|w| format!("{}: {w}", s.rel_path)));
                match origin {
                    Origin::Cache => set.cache_hits += 1,
                    Origin::NotCached => set.not_cached.push(s.path.clone()),
                    Origin::Computed => {}
                }
            }
            Err(e) if crate::interrupt::is_interrupted_error(&e) => return Err(e),
            Err(e) => set.skipped.push(SkippedVideo {
                path: s.path.clone(),
                reason: e.to_string(),
            }),
        }
    }
    Ok(set)
}

/// Frames as a normalised `(T, 3, S, S)` tensor (the 2D models' input, one video).
pub fn frames_tensor(clip: &Clip, norm: Norm, device: &Device) -> Result<Tensor> {
    let (w, h) = clip
        .frames
        .first()
        .map(|f| f.dimensions())
        .ok_or_else(|| Error::Data("a clip with no frames has no tensor".into()))?;
    let (mean, std) = (norm.mean(), norm.std());
    let plane = (w * h) as usize;
    let mut data = vec![0f32; clip.frames.len() * 3 * plane];
    for (t, f) in clip.frames.iter().enumerate() {
        let base = t * 3 * plane;
        for (i, px) in f.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                data[base + c * plane + i] = (px[c] as f32 / 255.0 - mean[c]) / std[c];
            }
        }
    }
    Ok(Tensor::from_vec(
        data,
        (clip.frames.len(), 3, h as usize, w as usize),
        device,
    )?)
}

/// Frames as a normalised `(3, T, S, S)` tensor (R3D-18's input, one clip).
pub fn clip_tensor(clip: &Clip, norm: Norm, device: &Device) -> Result<Tensor> {
    Ok(frames_tensor(clip, norm, device)?
        .permute((1, 0, 2, 3))?
        .contiguous()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_to_tensor_then_normalize() {
        // torchvision: ToTensor divides by 255, Normalize subtracts mean and divides by std.
        let mut f = RgbImage::new(2, 1);
        f.put_pixel(0, 0, image::Rgb([255, 0, 128]));
        f.put_pixel(1, 0, image::Rgb([10, 20, 30]));
        let clip = Clip {
            frames: vec![f],
            seconds: 0.0,
        };
        let t = frames_tensor(&clip, Norm::ImageNet, &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 3, 1, 2]);
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want = [
            (1.0 - 0.485) / 0.229,
            (10.0 / 255.0 - 0.485) / 0.229,
            (0.0 - 0.456) / 0.224,
            (20.0 / 255.0 - 0.456) / 0.224,
            (128.0 / 255.0 - 0.406) / 0.225,
            (30.0 / 255.0 - 0.406) / 0.225,
        ];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let c = clip_tensor(&clip, Norm::Kinetics, &Device::Cpu).unwrap();
        assert_eq!(c.dims(), &[3, 1, 1, 2]);
    }

    #[test]
    fn cache_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ClipCache::new(dir.path());
        let mut f = RgbImage::new(3, 2);
        f.put_pixel(2, 1, image::Rgb([1, 2, 3]));
        let clip = Clip {
            frames: vec![f.clone(), f],
            seconds: 0.5,
        };
        let key = "cd".repeat(16);
        cache.put(&key, &clip).unwrap();
        assert_eq!(cache.get(&key), Some(clip));
        let p = cache.blobs.entry_path(&key).unwrap();
        let mut b = std::fs::read(&p).unwrap();
        b[30] ^= 1;
        std::fs::write(&p, b).unwrap();
        assert_eq!(cache.get(&key), None);
        assert!(!p.exists(), "a corrupt entry is removed");
    }

    #[test]
    fn deep_sampling_parses_once_and_saves_as_its_name() {
        assert_eq!(
            " Uniform".parse::<DeepSampling>().unwrap(),
            DeepSampling::Uniform
        );
        assert_eq!(
            "random".parse::<DeepSampling>().unwrap(),
            DeepSampling::Random
        );
        let err = "dense".parse::<DeepSampling>().unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("`dense`")),
            "{err}"
        );
        // The cache key of a spec is its JSON: the sampling must stay the plain name it was
        // as a string, or every cached clip of earlier runs would be recomputed.
        let spec = ClipSpec {
            size: 112,
            frames: 8,
            sampling: DeepSampling::Random,
            enhance: true,
            seed: 3,
        };
        assert_eq!(
            spec.fingerprint(),
            r#"deep-frames-v1|{"size":112,"frames":8,"sampling":"random","enhance":true,"seed":3}"#
        );
        let back: ClipSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
        assert!(serde_json::from_str::<DeepSampling>("\"dense\"").is_err());
    }

    #[test]
    fn absurd_sizes_are_refused_before_decoding() {
        let spec = ClipSpec {
            size: 100_000,
            frames: 8,
            sampling: DeepSampling::Uniform,
            enhance: false,
            seed: 1,
        };
        let err = load_clip(Path::new("missing.mp4"), &spec).unwrap_err();
        assert!(err.to_string().contains("img_size"), "{err}");
        let spec = ClipSpec {
            size: 112,
            frames: 1_000_000,
            ..spec
        };
        assert!(spec.validate().unwrap_err().to_string().contains("frames"));
    }
}
