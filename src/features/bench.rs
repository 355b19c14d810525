//! Stage timing of the classical extraction on a dataset, side by side with the seed notebook's
//! own Python functions when `python3` has them: the table behind `cargo bench --bench features`
//! and `vidcompare bench features`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image::GrayImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::extract::{FeatureOptions, FeatureSet, HornSchunck, extract_video};
use super::{color, convert, motion, shape, texture};
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::video::decode_sampled;
use crate::video::enhance::{EnhanceParams, enhance};

/// The notebook side, run as a script (embedded so an installed binary has it too).
const NOTEBOOK_SCRIPT: &str = include_str!("../../tools/bench_notebook.py");

/// Our stages, in the order of the table.
pub const STAGES: [&str; 9] = [
    "decode+resize",
    "enhance",
    "color",
    "glcm",
    "lbp",
    "gabor",
    "canny+contours",
    "hog",
    "motion",
];

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// At most this many videos of the dataset (train, then val, then test).
    pub n_videos: usize,
    /// Threads for the "as run" pass (videos and frames in parallel, as the program extracts).
    /// The stage pass is always single-threaded so stages compare fairly.
    pub threads: usize,
    /// Run the notebook's functions too when `python3` with numpy, scipy, OpenCV and
    /// scikit-image is on the path.
    pub notebook: bool,
    /// Enhance frames (the notebook's NL-means + unsharp mask) on both sides.
    pub enhance: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            n_videos: 9,
            threads: 2,
            notebook: true,
            enhance: true,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub name: String,
    /// Our seconds over all the videos, single-threaded.
    pub ours_s: f64,
    /// The notebook's seconds on the same videos, when it ran.
    pub notebook_s: Option<f64>,
}

/// The measured table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchTable {
    pub root: PathBuf,
    pub videos: usize,
    /// Sampled frames over all videos.
    pub frames: usize,
    pub width: u32,
    pub height: u32,
    pub enhance: bool,
    /// Threads of the "as run" pass.
    pub threads: usize,
    pub stages: Vec<StageTime>,
    /// Seconds of `extract_video` over all videos on `threads` threads, the notebook's vector
    /// (Horn-Schunck's zero placeholder, as the notebook computes it).
    pub as_run_s: f64,
    /// The same with our default real Horn-Schunck flow between the first two sampled frames
    /// (`horn_schunck=real`), work the notebook does not do.
    pub as_run_real_hs_s: f64,
    /// The notebook's whole time over all videos, when it ran.
    pub notebook_total_s: Option<f64>,
    /// Why the notebook side did not run, when it did not.
    pub notebook_skipped: Option<String>,
}

impl BenchTable {
    /// Sum of our stages: one video's extraction single-threaded, times the videos.
    pub fn ours_single_s(&self) -> f64 {
        self.stages.iter().map(|s| s.ours_s).sum()
    }

    fn per_video(&self, s: f64) -> f64 {
        s / self.videos.max(1) as f64
    }

    /// Notebook time over ours single-threaded, and over ours as run.
    pub fn ratios(&self) -> Option<(f64, f64)> {
        let nb = self.notebook_total_s?;
        Some((
            nb / self.ours_single_s().max(1e-12),
            nb / self.as_run_s.max(1e-12),
        ))
    }

    /// The table as text (what the bench and the subcommand print).
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "classical features on {} videos of {} ({} sampled frames at {}x{}, enhance {}), \
             the notebook's vector",
            self.videos,
            self.root.display(),
            self.frames,
            self.width,
            self.height,
            if self.enhance { "on" } else { "off" }
        );
        let _ = writeln!(
            o,
            "\n{:<16} {:>12} {:>12} {:>8}",
            "stage", "ours (s)", "notebook (s)", "ratio"
        );
        for s in &self.stages {
            let _ = writeln!(
                o,
                "{:<16} {:>12.3} {:>12} {:>8}",
                s.name,
                s.ours_s,
                s.notebook_s
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or("-".into()),
                s.notebook_s
                    .map(|x| format!("{:.1}x", x / s.ours_s.max(1e-9)))
                    .unwrap_or("-".into())
            );
        }
        let _ = writeln!(o, "{:<16} {:>12.3}", "sum of stages", self.ours_single_s());
        let _ = writeln!(
            o,
            "\nper video: ours {:.3} s single-threaded, {:.3} s as run ({} threads; {:.3} s with \
             our real Horn-Schunck flow, the notebook's being zeros)",
            self.per_video(self.ours_single_s()),
            self.per_video(self.as_run_s),
            self.threads,
            self.per_video(self.as_run_real_hs_s)
        );
        match (self.notebook_total_s, self.ratios()) {
            (Some(nb), Some((single, run))) => {
                let _ = writeln!(
                    o,
                    "per video: notebook {:.3} s  ->  {single:.1}x faster single-threaded, \
                     {run:.1}x as run",
                    self.per_video(nb)
                );
            }
            _ => {
                let why = self.notebook_skipped.as_deref().unwrap_or("not requested");
                let _ = writeln!(o, "notebook side skipped: {why}");
            }
        }
        o
    }
}

/// [`bench_features_with`] with `n_videos` and `threads`, the notebook side when available.
pub fn bench_features(root: &Path, n_videos: usize, threads: usize) -> Result<BenchTable> {
    bench_features_with(
        root,
        &BenchOptions {
            n_videos,
            threads,
            ..BenchOptions::default()
        },
    )
}

/// Time our extraction stage by stage (single-threaded), then as the program runs it on
/// `threads` threads, then the notebook's functions on the same videos when `python3` can run
/// them. Errors: the dataset does not load or has no video, a video does not decode.
pub fn bench_features_with(root: &Path, o: &BenchOptions) -> Result<BenchTable> {
    let ds = Dataset::load(root)?;
    let videos: Vec<PathBuf> = ds
        .all()
        .map(|(_, s)| s.path.clone())
        .take(o.n_videos)
        .collect();
    if videos.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{}: no videos to time",
            root.display()
        )));
    }
    // The notebook's vector: its Horn-Schunck block is a zero placeholder.
    let opts = FeatureOptions {
        set: FeatureSet::Notebook,
        enhance: o.enhance,
        horn_schunck: HornSchunck::Placeholder,
        ..FeatureOptions::default()
    };
    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| Error::InvalidArgument(format!("thread pool: {e}")))
    };
    let (ours, frames) = pool(1)?.install(|| rust_stages(&videos, &opts))?;
    let as_run = |opts: &FeatureOptions| -> Result<f64> {
        let t = Instant::now();
        pool(o.threads)?.install(|| {
            videos
                .par_iter()
                .try_for_each(|v| extract_video(v, opts).map(|_| ()))
        })?;
        Ok(t.elapsed().as_secs_f64())
    };
    let as_run_s = as_run(&opts)?;
    let as_run_real_hs_s = as_run(&FeatureOptions {
        horn_schunck: HornSchunck::Real,
        ..opts.clone()
    })?;

    let (nb_total, nb_stages, skipped) = if o.notebook {
        match python_stages(&videos, o.enhance) {
            Ok((t, s)) => (Some(t), Some(s), None),
            Err(why) => (None, None, Some(why)),
        }
    } else {
        (None, None, None)
    };
    let stages = STAGES
        .iter()
        .map(|&name| StageTime {
            name: name.to_string(),
            ours_s: ours.get(name).copied().unwrap_or(0.0),
            notebook_s: nb_stages
                .as_ref()
                .map(|p| p.get(name).copied().unwrap_or(0.0)),
        })
        .collect();
    Ok(BenchTable {
        root: root.to_path_buf(),
        videos: videos.len(),
        frames,
        width: opts.width,
        height: opts.height,
        enhance: o.enhance,
        threads: o.threads,
        stages,
        as_run_s,
        as_run_real_hs_s,
        notebook_total_s: nb_total,
        notebook_skipped: skipped,
    })
}

/// Seconds per stage over all videos, and the number of sampled frames.
fn rust_stages(
    videos: &[PathBuf],
    opts: &FeatureOptions,
) -> Result<(BTreeMap<&'static str, f64>, usize)> {
    let mut t: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut add =
        |k: &'static str, s: Instant| *t.entry(k).or_default() += s.elapsed().as_secs_f64();
    let p = EnhanceParams::default();
    let mut n = 0;
    for v in videos {
        let s = Instant::now();
        let d = decode_sampled(
            v,
            &opts.sampling,
            Some((opts.width, opts.height)),
            opts.seed,
        )?;
        add("decode+resize", s);
        let mut grays: Vec<GrayImage> = Vec::new();
        for (_, f) in d.frames {
            n += 1;
            let f = if opts.enhance {
                let s = Instant::now();
                let f = enhance(&f, &p);
                add("enhance", s);
                f
            } else {
                f
            };
            let s = Instant::now();
            let g = convert::to_gray(&f);
            let hsv = convert::to_hsv(&f);
            std::hint::black_box(color::color_features(&f, &hsv));
            add("color", s);
            let s = Instant::now();
            std::hint::black_box(texture::glcm_features(&g));
            add("glcm", s);
            let s = Instant::now();
            std::hint::black_box(texture::lbp_hist(&g));
            add("lbp", s);
            let s = Instant::now();
            std::hint::black_box(texture::gabor_features(&g));
            add("gabor", s);
            let s = Instant::now();
            let e = shape::canny(&g, 80.0, 160.0);
            std::hint::black_box(shape::edge_histogram(&e, 16));
            std::hint::black_box(shape::contour_features(&e));
            add("canny+contours", s);
            let s = Instant::now();
            std::hint::black_box(shape::hog(&g));
            add("hog", s);
            grays.push(g);
        }
        // The notebook's motion block: frame differences over the first ten sampled frames, and
        // sparse Lucas-Kanade between the first two.
        let s = Instant::now();
        let sub = &grays[..grays.len().min(10)];
        std::hint::black_box(motion::frame_diff_features(sub, 16));
        if sub.len() >= 2 {
            std::hint::black_box(motion::lucas_kanade_sparse(&sub[..2], 200));
        }
        add("motion", s);
    }
    Ok((t, n))
}

/// The notebook's total and per-stage seconds from `tools/bench_notebook.py`, or why it could
/// not run.
fn python_stages(
    videos: &[PathBuf],
    enhance: bool,
) -> std::result::Result<(f64, BTreeMap<String, f64>), String> {
    let script = std::env::temp_dir().join(format!(
        "vidcompare-bench-notebook-{}.py",
        std::process::id()
    ));
    std::fs::write(&script, NOTEBOOK_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    let mut cmd = Command::new("python3");
    cmd.arg(&script);
    if !enhance {
        cmd.arg("--no-enhance");
    }
    let out = cmd.args(videos).output();
    let _ = std::fs::remove_file(&script);
    let out = out.map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("python3 failed")
            .to_string());
    }
    let j: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("notebook script output: {e}"))?;
    let mut stages: BTreeMap<String, f64> = j["stages_s"]
        .as_object()
        .ok_or("notebook script output has no stages_s")?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
        .collect();
    // The notebook decodes every frame then resizes the sampled ones; we fuse the two.
    let dr = stages.remove("decode").unwrap_or(0.0) + stages.remove("resize").unwrap_or(0.0);
    stages.insert("decode+resize".into(), dr);
    let total = j["total_s"]
        .as_f64()
        .ok_or("notebook script output has no total_s")?;
    Ok((total, stages))
}
