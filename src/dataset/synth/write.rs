//! Writing demo roots to disk: the size presets, the folder layout, split files, manifest and
//! README, parallel rendering and encoding, and reuse of a root already made with the same seed.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::spec::{CLASS_NAMES, Motion, VideoRanges, VideoSpec, video_seed};
use crate::dataset::splits::{CLASSES_FILE, Dataset, SPLITS_DIR, SplitName};
use crate::error::{Error, IoContext, Result};
use crate::util::fs::{write_atomic, write_atomic_with};
use crate::util::progress;
use crate::video::encode::{Codec, VideoWriter};

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

    /// Case-insensitive, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self> {
        let name = s.trim().to_ascii_lowercase();
        DemoSize::ALL
            .into_iter()
            .find(|size| size.as_str() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown demo size `{name}` (expected small, medium or large)"
                ))
            })
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
    /// The sibling root whose test videos this root's test split holds (copied, byte for byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    test_from: Option<String>,
}

/// Bump when the generator's output changes for the same parameters, so old roots are remade.
/// 2: the `deep` root's test split holds the `classical` root's test videos.
const FORMAT: u32 = 2;
const MANIFEST_FILE: &str = "demo.json";
const README_FILE: &str = "README.txt";
const README_MARK: &str = "This dataset was generated by vidcompare";

/// Write the demo data into `dir`: two roots, as the notebook has, `dir/classical` (for the
/// classical pipeline) and `dir/deep` (larger, smaller frames, for the deep models). See
/// [`DemoSize`] for the counts and [`generate_root_with`] for each root's layout.
///
/// The two roots share one test split: `deep`'s test videos are copies of `classical`'s (same
/// paths under each root, same bytes, same labels), so every model, classical or deep, is
/// evaluated on the same videos and the report can rank them together.
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
            None,
        ),
        (
            "deep",
            size.deep_counts(),
            VideoRanges::deep(),
            Some("classical"),
        ),
    ];
    for (name, counts, ranges, test_from) in plans {
        let root = dir.join(name);
        let shared = test_from.map(|from| SharedTest {
            name: from.to_string(),
            root: dir.join(from),
        });
        let (videos, reused) = generate_root_impl(
            &root,
            counts,
            &ranges,
            seed,
            progress,
            Some(size),
            shared.as_ref(),
        )?;
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
    generate_root_impl(root, counts, ranges, seed, progress, None, None).map(|(n, _)| n)
}

/// A sibling root whose test videos a root copies instead of rendering its own.
struct SharedTest {
    /// Its folder name, recorded in `demo.json`.
    name: String,
    /// Its path; its test split must already be written, with as many videos per class.
    root: PathBuf,
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
    shared_test: Option<&SharedTest>,
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
        test_from: shared_test.map(|t| t.name.clone()),
    };
    if is_complete(root, &manifest) {
        return Ok((counts.total(), true));
    }
    if let Some(shared) = shared_test {
        let theirs = fs::read_to_string(shared.root.join(MANIFEST_FILE))
            .ok()
            .and_then(|t| serde_json::from_str::<Manifest>(&t).ok());
        match theirs {
            Some(m) if m.counts.test == counts.test => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{}: the test videos to share must come from a demo root with {} test videos \
                     per class",
                    shared.root.display(),
                    counts.test
                )));
            }
        }
    }
    prepare_root(root)?;
    // The README goes first: it marks the folder as a demo root should this run be interrupted.
    write_atomic(&root.join(README_FILE), readme(&manifest, size).as_bytes())?;

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

    let bar = progress::bar(progress, jobs.len(), root_name.clone(), "videos");
    jobs.par_iter().try_for_each(|job| {
        let path = root.join(&job.rel_path);
        match shared_test {
            Some(shared) if job.split == SplitName::Test => {
                let from = shared.root.join(&job.rel_path);
                let bytes = fs::read(&from).at(&from)?;
                write_atomic(&path, &bytes)?;
            }
            _ => {
                let seed = video_seed(seed, &root_name, job.index);
                write_video(&path, &VideoSpec::random(seed, job.motion, ranges))?;
            }
        }
        bar.inc(1);
        Ok::<(), Error>(())
    })?;
    bar.finish();

    write_atomic(
        &root.join(CLASSES_FILE),
        (CLASS_NAMES.join("\n") + "\n").as_bytes(),
    )?;
    let splits_dir = root.join(SPLITS_DIR);
    fs::create_dir_all(&splits_dir).at(&splits_dir)?;
    for split in SplitName::ALL {
        let text: String = jobs
            .iter()
            .filter(|j| j.split == split)
            .map(|j| format!("{} {}\n", j.rel_path, j.motion.label()))
            .collect();
        write_atomic(&splits_dir.join(split.file_name()), text.as_bytes())?;
    }
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::InvalidArgument(format!("demo manifest: {e}")))?;
    write_atomic(&root.join(MANIFEST_FILE), (json + "\n").as_bytes())?;
    Ok((jobs.len(), false))
}

fn readme(m: &Manifest, size: Option<DemoSize>) -> String {
    let c = m.counts;
    let shared_line = match &m.test_from {
        Some(from) => format!(
            "The test split holds copies of the `{from}` root's test videos (same paths, same\n\
             bytes, same labels, the `{from}` frame sizes), so models trained on either root are tested\n\
             on the same videos.\n"
        ),
        None => String::new(),
    };
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
         {shared_line}\
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

/// Render and encode one video to `path` (through a temporary file).
fn write_video(path: &Path, spec: &VideoSpec) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let renderer = spec.renderer();
        let mut writer = VideoWriter::create(tmp, spec.width, spec.height, spec.fps, Codec::Auto)?;
        for t in 0..spec.n_frames {
            writer.write(&renderer.frame(t))?;
        }
        writer.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_can_hold_a_siblings_test_videos() {
        let dir = tempfile::tempdir().unwrap();
        let tiny = VideoRanges {
            sizes: vec![(64, 48)],
            fps: (15, 15),
            duration_s: (1.0, 1.0),
        };
        let counts = DemoCounts::new(1, 1, 2);
        let (a, b) = (dir.path().join("classical"), dir.path().join("deep"));
        generate_root_impl(&a, counts, &tiny, 5, false, None, None).unwrap();
        let shared = SharedTest {
            name: "classical".into(),
            root: a.clone(),
        };
        let deep_counts = DemoCounts::new(2, 1, 2);
        generate_root_impl(&b, deep_counts, &tiny, 5, false, None, Some(&shared)).unwrap();
        let (da, db) = (Dataset::load(&a).unwrap(), Dataset::load(&b).unwrap());
        assert_eq!(db.test.len(), 6);
        for (x, y) in da.test.iter().zip(&db.test) {
            assert_eq!((&x.rel_path, x.label), (&y.rel_path, y.label));
            assert_eq!(fs::read(&x.path).unwrap(), fs::read(&y.path).unwrap());
        }
        // Train videos are the root's own (another root name, other seeds).
        assert_ne!(
            fs::read(&da.train[0].path).unwrap(),
            fs::read(&db.train[0].path).unwrap()
        );
        let manifest = fs::read_to_string(b.join(MANIFEST_FILE)).unwrap();
        assert!(
            manifest.contains("\"test_from\": \"classical\""),
            "{manifest}"
        );
        assert!(
            fs::read_to_string(b.join(README_FILE))
                .unwrap()
                .contains("copies of the `classical` root's test videos")
        );
        // A sibling with another number of test videos is refused, naming it.
        let c = dir.path().join("other");
        let err = generate_root_impl(
            &c,
            DemoCounts::new(1, 1, 3),
            &tiny,
            5,
            false,
            None,
            Some(&shared),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("classical") && err.contains("3 test videos"),
            "{err}"
        );
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
}
