//! One import for interactive work (the evcxr REPL, Jupyter) and short programs:
//! `use vidcompare::prelude::*;`.
//!
//! It brings the library's main types (datasets, frames, feature options, results, the report
//! model), the [`EvcxrDisplay`] trait that makes them show as tables, charts and images in
//! Jupyter, and a few builders that read like the notebook's cells:
//!
//! ```no_run
//! use vidcompare::prelude::*;
//! # fn main() -> vidcompare::Result<()> {
//! let ds = open_dataset("data/demo/classical")?;          // validated splits; shows a table
//! let clip = frames(&ds.train[0].path).count(4).height(120).read()?;  // shows as one image
//! let feats = features(&ds).enhance(false).per_class(4).run()?;     // train / val / test
//! let models = classical(&feats).pca(0.95);
//! let svm = models.train("svm")?;                            // grid search, test metrics
//! let mut results = ResultsTable::new();
//! results.push(svm.clone());
//! let cm = confusion(&svm, &ds.class_names);                 // shows as a shaded table
//! let chart = metrics_chart(&results);                       // shows as SVG
//! let mut report = Report::new("Session", RunMeta::collect());
//! report.section("classical", "Classical models")?
//!     .table(metrics_table(&results))
//!     .chart(chart)
//!     .chart(cm.chart());
//! let page = report.save("reports/session")?;                // results.json + index.html
//! # Ok(()) }
//! ```
//!
//! Every builder has the defaults of `vidcompare run` (the notebook's settings, see
//! `vidcompare config`), so numbers computed here match the script's.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

pub use std::path::{Path, PathBuf};

pub use crate::classical::pca::PcaComponents;
pub use crate::classical::pipeline::{ClassicalPipeline, Prepared};
pub use crate::config::Config;
pub use crate::dataset::synth::CLASS_NAMES as DEMO_CLASS_NAMES;
pub use crate::dataset::{Dataset, DemoSize, Sample, SplitName};
pub use crate::display::{
    ConfusionMatrix, EvcxrDisplay, FrameStrip, MimeBundle, confusion, dataset_table, metrics_chart,
    metrics_table, table_html,
};
pub use crate::error::{Error, Result};
pub use crate::features::extract::{FeatureMatrix, FeatureOptions, FeatureSet};
pub use crate::features::layout::Family;
pub use crate::metrics::Metrics;
pub use crate::report::{
    Better, Cell, Chart, ChartKind, Column, Report, RunMeta, Section, Table, image_item,
};
pub use crate::results::{ModelKind, ModelResult, ResultsTable};
pub use crate::video::{Frame, Sampling, VideoInfo, probe};

use crate::classical::models::canonical_kind;
use crate::classical::pipeline::{PrepOptions, Training, prepare, train_and_evaluate};
use crate::features::cache::FeatureCache;
use crate::features::extract::try_extract_samples;
use crate::video::decode_sampled;

// ---------------------------------------------------------------------------------------------
// Data

/// Open and validate the dataset at `root` (`root/splits/{train,val,test}.txt`), like
/// `dataset::load` in a script. Every problem is listed; when `root` is not a dataset at all the
/// error also says how to make the demo data, or which sub-folder to open.
pub fn open_dataset(root: impl AsRef<Path>) -> Result<Dataset> {
    let root = root.as_ref();
    Dataset::load(root).map_err(|e| match e {
        Error::Dataset(mut problems) => {
            let missing = problems
                .iter_mut()
                .find(|p| p.message.starts_with("splits directory not found"));
            if let (Some(p), Some(hint)) = (missing, dataset_hint(root)) {
                p.message = format!("{}\n    {hint}", p.message);
            }
            Error::Dataset(problems)
        }
        other => other,
    })
}

/// What to do when `root` has no `splits/` folder.
fn dataset_hint(root: &Path) -> Option<String> {
    if root.join("splits").is_dir() {
        return None;
    }
    let roots: Vec<String> = ["classical", "deep"]
        .iter()
        .filter(|n| root.join(n).join("splits").is_dir())
        .map(|n| format!("`{}`", root.join(n).display()))
        .collect();
    Some(if roots.is_empty() {
        format!(
            "hint: no dataset here. Make the demo data with `demo_data(\"{}\")?` (or \
             `vidcompare demo-data {}` in a shell) and open its `classical` folder, or lay out \
             your own as README.md \"Your own dataset\" describes",
            root.display(),
            root.display()
        )
    } else {
        format!(
            "hint: this folder holds dataset roots; open {} instead",
            roots.join(" or ")
        )
    })
}

/// Where [`demo_data`] put the two demo roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoRoots {
    /// The small root for the classical pipeline: open it with [`open_dataset`].
    pub classical: PathBuf,
    /// The larger root for the deep models.
    pub deep: PathBuf,
    /// Total number of videos in both roots.
    pub videos: usize,
}

impl std::fmt::Display for DemoRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "demo data ({} videos): classical = {}, deep = {}",
            self.videos,
            self.classical.display(),
            self.deep.display()
        )
    }
}

impl EvcxrDisplay for DemoRoots {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string())
    }
}

/// Write the small demo dataset into `dir` (as `vidcompare demo-data DIR`, seed 42), or reuse it
/// when it is already there; about a minute the first time on two cores.
pub fn demo_data(dir: impl AsRef<Path>) -> Result<DemoRoots> {
    let s = crate::dataset::generate(dir.as_ref(), DemoSize::Small, 42, true)?;
    let find = |name: &str| {
        s.roots
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, p, _)| p.clone())
            .unwrap_or_else(|| dir.as_ref().join(name))
    };
    Ok(DemoRoots {
        classical: find("classical"),
        deep: find("deep"),
        videos: s.roots.iter().map(|(_, _, n)| n).sum(),
    })
}

// ---------------------------------------------------------------------------------------------
// Frames

/// Start reading frames from the video at `path`: `frames(p).count(4).height(120).read()?`.
pub fn frames(path: impl AsRef<Path>) -> FrameReader {
    FrameReader {
        path: path.as_ref().to_path_buf(),
        sampling: Sampling::Linspace { n: 6 },
        size: FrameSize::Height(120),
        seed: 42,
    }
}

/// How [`FrameReader`] sizes frames.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FrameSize {
    Native,
    Exact(u32, u32),
    Height(u32),
}

/// Builder for [`frames`]: which frames, at what size. Defaults: 6 evenly spaced frames, scaled
/// to 120 pixels high keeping the aspect ratio (INTER_AREA, as the pipelines resize).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameReader {
    path: PathBuf,
    sampling: Sampling,
    size: FrameSize,
    seed: u64,
}

impl FrameReader {
    /// `n` evenly spaced frames, first and last included (the deep models' `uniform`).
    pub fn count(mut self, n: usize) -> Self {
        self.sampling = Sampling::Linspace { n };
        self
    }

    /// Any sampling strategy, e.g. `Sampling::Uniform { target_fps: 1.0 }` (the classical one).
    pub fn sampling(mut self, s: Sampling) -> Self {
        self.sampling = s;
        self
    }

    /// Resize every frame to exactly `width` x `height`.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = FrameSize::Exact(width, height);
        self
    }

    /// Scale to `height` pixels high, keeping the aspect ratio.
    pub fn height(mut self, height: u32) -> Self {
        self.size = FrameSize::Height(height);
        self
    }

    /// Keep the video's own frame size.
    pub fn native_size(mut self) -> Self {
        self.size = FrameSize::Native;
        self
    }

    /// Seed of the random samplings.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Decode the frames.
    pub fn read(self) -> Result<FrameStrip> {
        let size = match self.size {
            FrameSize::Native => None,
            FrameSize::Exact(w, h) => Some((w, h)),
            FrameSize::Height(h) => {
                let info = probe(&self.path)?;
                let w = (f64::from(info.width) * f64::from(h) / f64::from(info.height.max(1)))
                    .round()
                    .max(1.0) as u32;
                Some((w, h))
            }
        };
        if let Some((w, h)) = size
            && (w == 0 || h == 0)
        {
            return Err(Error::InvalidArgument(format!(
                "frame size {w}x{h}: width and height must be at least 1"
            )));
        }
        let d = decode_sampled(&self.path, &self.sampling, size, self.seed)?;
        for w in &d.warnings {
            eprintln!("warning: {}: {w}", self.path.display());
        }
        let (labels, frames) = d
            .frames
            .into_iter()
            .map(|(i, f)| (format!("frame {i}"), f))
            .unzip();
        Ok(FrameStrip {
            frames,
            labels,
            source: Some(self.path),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Features

/// Start a feature extraction over the three splits of `ds`:
/// `features(&ds).enhance(false).run()?`. Defaults are `vidcompare run`'s (see [`Extraction`]).
pub fn features(ds: &Dataset) -> Extraction {
    Extraction {
        dataset: ds.clone(),
        options: FeatureOptions::default(),
        cache: Some(PathBuf::from("cache").join("features")),
        per_class: None,
        progress: true,
    }
}

/// Builder for [`features`]. Defaults: the configuration defaults (`motion+` features, 1 frame
/// per second, 320x240, enhancement on, seed 42), the cache in `cache/features` (shared with
/// `vidcompare run`), every video, a progress bar.
#[derive(Debug, Clone)]
pub struct Extraction {
    dataset: Dataset,
    options: FeatureOptions,
    cache: Option<PathBuf>,
    per_class: Option<usize>,
    progress: bool,
}

impl Extraction {
    /// `FeatureSet::Notebook` (the notebook's vector) or `FeatureSet::MotionPlus` (the default).
    pub fn set(mut self, set: FeatureSet) -> Self {
        self.options.set = set;
        self
    }

    /// Only these families, e.g. `&[Family::Motion, Family::Color]`.
    pub fn families(mut self, families: &[Family]) -> Self {
        self.options.families = families.to_vec();
        self
    }

    /// Denoise + sharpen each frame first (on by default; off is about 10x faster).
    pub fn enhance(mut self, on: bool) -> Self {
        self.options.enhance = on;
        self
    }

    /// Frame size the per-frame features see (default 320x240).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.options.width = width;
        self.options.height = height;
        self
    }

    /// Which frames feed the per-frame features (default: 1 frame per second).
    pub fn sampling(mut self, s: Sampling) -> Self {
        self.options.sampling = s;
        self
    }

    /// Seed for random sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = seed;
        self
    }

    /// All options at once (e.g. `FeatureOptions::from_config(&cfg)?`).
    pub fn options(mut self, options: FeatureOptions) -> Self {
        self.options = options;
        self
    }

    /// Cache feature vectors in `dir` (default `cache/features`).
    pub fn cache(mut self, dir: impl AsRef<Path>) -> Self {
        self.cache = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Do not read or write the cache.
    pub fn no_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Use at most the first `n` videos of each class in each split: a quick look at a few
    /// videos before the whole dataset.
    pub fn per_class(mut self, n: usize) -> Self {
        self.per_class = Some(n);
        self
    }

    /// No progress bar.
    pub fn quiet(mut self) -> Self {
        self.progress = false;
        self
    }

    fn samples(&self, split: SplitName) -> Vec<Sample> {
        let all = self.dataset.split(split);
        match self.per_class {
            None => all.to_vec(),
            Some(n) => {
                let mut seen = vec![0usize; self.dataset.n_classes()];
                all.iter()
                    .filter(|s| match seen.get_mut(s.label) {
                        Some(k) if *k < n => {
                            *k += 1;
                            true
                        }
                        _ => false,
                    })
                    .cloned()
                    .collect()
            }
        }
    }

    /// Extract the three splits (in parallel per video, through the cache). Videos that fail are
    /// listed in each split's `skipped`, never dropped silently; Ctrl-C stops between videos.
    pub fn run(self) -> Result<SplitFeatures> {
        if self.per_class == Some(0) {
            return Err(Error::InvalidArgument(
                "per_class(0) leaves no video: use at least 1 (3 or more for the grid search's 3 folds)"
                    .into(),
            ));
        }
        if self.options.families.is_empty() {
            return Err(Error::InvalidArgument(
                "no feature family selected: pass some of Family::Color, Texture, Shape, Motion"
                    .into(),
            ));
        }
        let cache = self.cache.as_ref().map(FeatureCache::new);
        let mut out = Vec::with_capacity(3);
        for split in SplitName::ALL {
            let samples = self.samples(split);
            out.push(try_extract_samples(
                &samples,
                &self.options,
                cache.as_ref(),
                self.progress,
            )?);
        }
        let test = out.pop().expect("three splits");
        let val = out.pop().expect("three splits");
        let train = out.pop().expect("three splits");
        Ok(SplitFeatures {
            train,
            val,
            test,
            options: self.options,
            class_names: self.dataset.class_names.clone(),
        })
    }
}

/// Feature matrices of the three splits, with the options that made them.
#[derive(Debug, Clone)]
pub struct SplitFeatures {
    /// Training split.
    pub train: FeatureMatrix,
    /// Validation split.
    pub val: FeatureMatrix,
    /// Test split.
    pub test: FeatureMatrix,
    /// How the vectors were computed.
    pub options: FeatureOptions,
    /// The dataset's class names, in label order.
    pub class_names: Vec<String>,
}

impl SplitFeatures {
    /// The matrix of one split.
    pub fn split(&self, s: SplitName) -> &FeatureMatrix {
        match s {
            SplitName::Train => &self.train,
            SplitName::Val => &self.val,
            SplitName::Test => &self.test,
        }
    }

    /// Vector length.
    pub fn dim(&self) -> usize {
        self.train.dim()
    }

    /// One row per split: videos, dimensions, skipped, cache hits, extraction seconds per video.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "Features ({}, {}x{}{}): {} dimensions",
                self.options.set.as_str(),
                self.options.width,
                self.options.height,
                if self.options.enhance {
                    ", enhanced"
                } else {
                    ""
                },
                self.dim()
            ),
            vec![
                Column::text("split"),
                Column::num("videos", 0),
                Column::num("skipped", 0),
                Column::num("cache hits", 0),
                Column::num("s / video", 3),
            ],
        );
        for s in SplitName::ALL {
            let m = self.split(s);
            let mean = if m.seconds.is_empty() {
                f64::NAN
            } else {
                m.seconds.iter().sum::<f64>() / m.seconds.len() as f64
            };
            t.rows.push(vec![
                Cell::Text(s.to_string()),
                Cell::Int(m.n_videos() as i64),
                Cell::Int(m.skipped.len() as i64),
                Cell::Int(m.cache_hits as i64),
                Cell::num(mean),
            ]);
        }
        t
    }
}

impl std::fmt::Display for SplitFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.table())?;
        let fams: Vec<String> = self
            .train
            .layout
            .family_sizes()
            .iter()
            .map(|(fam, n)| format!("{fam} {n}"))
            .collect();
        write!(f, "\nfamilies: {}", fams.join(", "))?;
        for s in SplitName::ALL {
            for sk in &self.split(s).skipped {
                write!(f, "\nskipped ({s}): {}: {}", sk.path.display(), sk.reason)?;
            }
        }
        Ok(())
    }
}

impl EvcxrDisplay for SplitFeatures {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", table_html(&self.table()))
    }
}

// ---------------------------------------------------------------------------------------------
// Classical models

/// Start the classical pipeline on extracted features: `classical(&feats).pca(0.95).train("svm")?`.
/// See [`ClassicalModels`] for the options.
pub fn classical(feats: &SplitFeatures) -> ClassicalModels {
    ClassicalModels {
        features: Arc::new(feats.clone()),
        prep: PrepOptions::default(),
        grids: Vec::new(),
        seed: 42,
        model_dir: PathBuf::from("models"),
        suffix: String::new(),
        prepared: OnceLock::new(),
    }
}

/// Builder for [`classical`]: median imputation, standardisation, optional family weights and PCA
/// fitted on train (once, on the first `train`), then grid-searched SVM / RF / kNN evaluated on
/// test. Defaults: PCA keeping 95 % of the variance, no weights, the notebook's grids, seed 42,
/// models saved under `models/`.
#[derive(Debug, Clone)]
pub struct ClassicalModels {
    features: Arc<SplitFeatures>,
    prep: PrepOptions,
    grids: Vec<(String, String, Vec<Value>)>,
    seed: u64,
    model_dir: PathBuf,
    suffix: String,
    prepared: OnceLock<Arc<Prepared>>,
}

impl ClassicalModels {
    /// PCA keeping this fraction of the variance, strictly between 0 and 1 (checked by
    /// [`crate::settings::pca_fraction`] when the data is prepared).
    pub fn pca(mut self, fraction: f64) -> Self {
        self.prep.pca = PcaComponents::Fraction(fraction);
        self.prepared = OnceLock::new();
        self
    }

    /// PCA keeping exactly `n` components.
    pub fn pca_components(mut self, n: usize) -> Self {
        self.prep.pca = PcaComponents::Count(n);
        self.prepared = OnceLock::new();
        self
    }

    /// Multiply a family's standardised columns by `weight` before PCA (0 drops the family).
    pub fn weight(mut self, family: Family, weight: f64) -> Self {
        self.prep.family_weights.retain(|(f, _)| *f != family);
        self.prep.family_weights.push((family, weight));
        self.prepared = OnceLock::new();
        self
    }

    /// Weight the motion family so that it carries as much variance as all the appearance
    /// families together (what the script does for `motion+` with `motion_weight = 0`):
    /// [`crate::settings::motion_weight`].
    pub fn balance_motion(self) -> Self {
        let sizes = self.features.train.layout.family_sizes();
        match crate::settings::motion_weight(0.0, &sizes) {
            Some(w) => self.weight(Family::Motion, w),
            None => self,
        }
    }

    /// Replace one parameter's values in a model's grid, e.g. `.grid("svm", "C", [1.0, 10.0])`
    /// or `.grid("rf", "n_estimators", [100])` (scikit-learn names).
    pub fn grid<V: Into<Value>>(
        mut self,
        kind: &str,
        param: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.grids.push((
            kind.to_string(),
            param.to_string(),
            values.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Seed of the classifiers and of the cross-validation (default 42).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Where each model and its whole pipeline are saved (default `models/`).
    pub fn models_in(mut self, dir: impl AsRef<Path>) -> Self {
        self.model_dir = dir.as_ref().to_path_buf();
        self
    }

    /// Appended to the model names, e.g. `" (motion+)"`.
    pub fn suffix(mut self, suffix: &str) -> Self {
        self.suffix = suffix.to_string();
        self
    }

    /// The prepared (imputed, scaled, PCA-projected) splits, fitted on the first call.
    pub fn prepared(&self) -> Result<Arc<Prepared>> {
        if let Some(p) = self.prepared.get() {
            return Ok(p.clone());
        }
        let prep = crate::settings::prep_options(self.prep.pca, &self.prep.family_weights)?;
        let f = &self.features;
        let p = Arc::new(prepare(&f.train, &f.val, &f.test, &f.options, &prep)?);
        Ok(self.prepared.get_or_init(|| p).clone())
    }

    /// The grid for `kind`: the notebook's, with this builder's overrides.
    pub fn grid_for(&self, kind: &str) -> Result<Vec<(String, Vec<Value>)>> {
        let kind = canonical_kind(kind)?;
        let mut given = Vec::new();
        for (k, param, values) in &self.grids {
            if canonical_kind(k)? == kind {
                given.push((param.clone(), values.clone()));
            }
        }
        crate::settings::grid(kind, given)
    }

    /// Grid-search `kind` (`"svm"`, `"rf"` or `"knn"`) with stratified 3-fold cross-validation on
    /// train, refit the best, evaluate on test and save it; the result shows its metrics.
    pub fn train(&self, kind: &str) -> Result<ModelResult> {
        let grid = self.grid_for(kind)?;
        let data = self.prepared()?;
        let grid_ref: Vec<(&str, Vec<Value>)> =
            grid.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let run = train_and_evaluate(
            &data,
            &Training {
                kind,
                grid: &grid_ref,
                class_names: &self.features.class_names,
                seed: self.seed,
                model_dir: &self.model_dir,
                name_suffix: &self.suffix,
            },
        )?;
        Ok(run.result)
    }

    /// Train SVM, Random Forest and kNN, in that order, into one table.
    pub fn train_all(&self) -> Result<ResultsTable> {
        let mut t = ResultsTable::new();
        for kind in ["svm", "rf", "knn"] {
            t.push(self.train(kind)?);
        }
        Ok(t)
    }
}

// ---------------------------------------------------------------------------------------------
// Reports

/// Saving a report from a session.
pub trait ReportExt {
    /// Write `results.json` and `index.html` into `dir` (created if needed) with the built-in
    /// templates, and return the page's path.
    fn save(&self, dir: impl AsRef<Path>) -> Result<PathBuf>;
}

impl ReportExt for Report {
    fn save(&self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        self.write(dir.as_ref(), None)
    }
}
