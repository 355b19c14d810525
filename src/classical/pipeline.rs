//! The notebook's classical pipeline end to end (In[7] `prep_and_pca` + In[9]
//! `train_classical_models`): impute, scale, optional family weights, PCA — all fitted on the
//! training split — then a grid-searched classifier, evaluated on the test split into a
//! [`ModelResult`], and saved as one reloadable [`ClassicalPipeline`] file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::models::{FittedModel, ModelSpec, canonical_kind, from_params};
use super::pca::{Pca, PcaComponents};
use super::preprocess::{MedianImputer, StandardScaler};
use super::search::{Estimator, Fold, GridSearch, param_grid, stratified_kfold};
use crate::error::{Error, IoContext, Result};
use crate::features::extract::{FeatureMatrix, FeatureOptions, extract_video};
use crate::features::layout::{Family, Layout};
use crate::latency::LATENCY_VIDEOS;
use crate::metrics::evaluate;
use crate::results::{
    Artifact, ClassicalDetails, ComponentImportance, Efficiency, GridRow, ModelDetails, ModelKind,
    ModelResult, Protocol, video_keys,
};

/// How features are prepared before the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepOptions {
    /// PCA on the standardised features (the notebook: 95 % of the variance).
    pub pca: PcaComponents,
    /// Multiply a family's standardised columns by this weight before PCA (0 drops the family).
    /// Families not listed keep weight 1. After standardisation every column has unit variance,
    /// so without weights the 163,752 per-frame dimensions drown the few hundred motion ones.
    pub family_weights: Vec<(Family, f64)>,
    /// Where the grid search's cross-validation fits the preprocessing.
    #[serde(default)]
    pub cv_preprocess: CvPreprocess,
}

impl Default for PrepOptions {
    fn default() -> Self {
        PrepOptions {
            pca: PcaComponents::Fraction(0.95),
            family_weights: Vec::new(),
            cv_preprocess: CvPreprocess::default(),
        }
    }
}

/// Where the grid search's cross-validation fits the imputer, scaler and PCA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CvPreprocess {
    /// Refit them on each fold's training rows and transform its held-out rows with them, as
    /// scikit-learn's `Pipeline` inside `GridSearchCV` does: the held-out fold never shapes the
    /// features it is scored on, so the CV scores are not optimistic.
    #[default]
    PerFold,
    /// Fit them once on the whole training split before the folds, as the notebook does (the
    /// held-out fold leaks into the PCA axes and the scaling: optimistic CV scores).
    Outside,
}

impl CvPreprocess {
    /// `per_fold` or `outside` (the config's spelling).
    pub fn parse(s: &str) -> Result<CvPreprocess> {
        match s.trim() {
            "per_fold" => Ok(CvPreprocess::PerFold),
            "outside" => Ok(CvPreprocess::Outside),
            other => Err(Error::InvalidArgument(format!(
                "cv_preprocess `{other}`: expected per_fold or outside"
            ))),
        }
    }

    /// The config's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CvPreprocess::PerFold => "per_fold",
            CvPreprocess::Outside => "outside",
        }
    }
}

/// Folds of the grid search's stratified cross-validation (the notebook's `cv=3`).
pub const CV_FOLDS: usize = 3;

/// The fitted feature transform: imputer, scaler, column weights and PCA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    pub imputer: MedianImputer,
    pub scaler: StandardScaler,
    /// Weight per column after imputation (columns with weight 0 are removed before PCA).
    pub weights: Vec<f64>,
    pub pca: Pca,
}

impl Preprocessor {
    /// Fit on the training matrix; returns the transform and the training data in PCA space.
    pub fn fit(
        x: &Array2<f64>,
        layout: &Layout,
        opts: &PrepOptions,
    ) -> Result<(Self, Array2<f64>)> {
        let imputer = MedianImputer::fit(x)?;
        let xi = imputer.transform(x)?;
        let scaler = StandardScaler::fit(&xi)?;
        let xs = scaler.transform_owned(xi)?;
        let families = layout.families();
        let weights: Vec<f64> = families
            .iter()
            .zip(imputer.keep_mask())
            .filter(|(_, keep)| **keep)
            .map(|(f, _)| {
                opts.family_weights
                    .iter()
                    .find(|(g, _)| g == f)
                    .map_or(1.0, |(_, w)| *w)
            })
            .collect();
        if weights.iter().all(|w| *w == 0.0) {
            return Err(Error::InvalidArgument(
                "family weights remove every feature".into(),
            ));
        }
        let xw = apply_weights(xs, &weights);
        let (pca, xp) = Pca::fit_transform(&xw, opts.pca)?;
        Ok((
            Preprocessor {
                imputer,
                scaler,
                weights,
                pca,
            },
            xp,
        ))
    }

    /// Learned values the transform stores: the imputer's medians, the scaler's means and
    /// divisors, and PCA's mean and axes (the column weights are settings, not learned).
    pub fn n_params(&self) -> u64 {
        self.imputer.n_params() + self.scaler.n_params() + self.pca.n_params()
    }

    /// Apply the fitted transform to new rows.
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        let xi = self.imputer.transform(x)?;
        let xs = self.scaler.transform_owned(xi)?;
        self.pca.transform(&apply_weights(xs, &self.weights))
    }
}

/// Scale columns by their weight and drop the zero-weight ones.
fn apply_weights(mut x: Array2<f64>, weights: &[f64]) -> Array2<f64> {
    if weights.iter().all(|w| *w == 1.0) {
        return x;
    }
    for (mut col, w) in x.columns_mut().into_iter().zip(weights) {
        col *= *w;
    }
    let keep: Vec<usize> = (0..weights.len()).filter(|&j| weights[j] != 0.0).collect();
    if keep.len() == weights.len() {
        x
    } else {
        x.select(ndarray::Axis(1), &keep)
    }
}

/// Train, validation and test data after preprocessing, as the notebook's `Xtr_p, Xva_p, Xte_p`.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub prep: Arc<Preprocessor>,
    pub x_train: Array2<f64>,
    pub x_val: Array2<f64>,
    pub x_test: Array2<f64>,
    pub y_train: Vec<usize>,
    pub y_val: Vec<usize>,
    pub y_test: Vec<usize>,
    pub test_paths: Vec<PathBuf>,
    /// Content key of each test video ([`video_keys`]), computed once for every model trained on
    /// these features; empty when a test file could not be read again.
    pub test_videos: Vec<String>,
    /// Feature-extraction seconds per test video (for end-to-end latency).
    pub test_feature_seconds: Vec<f64>,
    /// Mean frames per test video the features came from.
    pub test_frames_mean: f64,
    pub layout: Arc<Layout>,
    pub options: FeatureOptions,
    /// Input dimensionality before PCA.
    pub dim_in: usize,
    /// Seconds spent fitting the preprocessor.
    pub fit_seconds: f64,
    /// How the grid search's folds were preprocessed.
    pub cv_preprocess: CvPreprocess,
    /// With [`CvPreprocess::PerFold`]: each fold's training and held-out rows, preprocessed by
    /// a preprocessor fitted on that fold's training rows alone.
    pub cv_folds: Option<Arc<Vec<Fold>>>,
}

fn to_f64(m: &FeatureMatrix) -> Array2<f64> {
    m.x.mapv(f64::from)
}

/// Fit the preprocessor on `train` and transform all three splits.
pub fn prepare(
    train: &FeatureMatrix,
    val: &FeatureMatrix,
    test: &FeatureMatrix,
    options: &FeatureOptions,
    opts: &PrepOptions,
) -> Result<Prepared> {
    for (name, m) in [("train", train), ("val", val), ("test", test)] {
        if m.n_videos() == 0 {
            return Err(Error::InvalidArgument(format!(
                "the {name} split has no usable video ({} skipped)",
                m.skipped.len()
            )));
        }
    }
    let t = Instant::now();
    let raw_train = to_f64(train);
    let (prep, x_train) = Preprocessor::fit(&raw_train, &train.layout, opts)?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let cv_folds = match opts.cv_preprocess {
        CvPreprocess::Outside => None,
        CvPreprocess::PerFold => Some(Arc::new(fold_data(
            &raw_train,
            &train.y,
            &train.layout,
            opts,
        )?)),
    };
    let x_val = prep.transform(&to_f64(val))?;
    let x_test = prep.transform(&to_f64(test))?;
    Ok(Prepared {
        prep: Arc::new(prep),
        x_train,
        x_val,
        x_test,
        y_train: train.y.clone(),
        y_val: val.y.clone(),
        y_test: test.y.clone(),
        test_paths: test.paths.clone(),
        test_videos: video_keys(&test.paths).unwrap_or_default(),
        test_feature_seconds: test.seconds.clone(),
        test_frames_mean: test.n_frames.iter().sum::<usize>() as f64 / test.n_videos() as f64,
        layout: train.layout.clone(),
        options: options.clone(),
        dim_in: train.dim(),
        fit_seconds,
        cv_preprocess: opts.cv_preprocess,
        cv_folds,
    })
}

/// The grid search's folds of the raw training rows, each preprocessed by a preprocessor fitted
/// on its training rows alone (imputer, scaler, weights and PCA, as for the whole split).
fn fold_data(
    raw: &Array2<f64>,
    y: &[usize],
    layout: &Layout,
    opts: &PrepOptions,
) -> Result<Vec<Fold>> {
    stratified_kfold(y, CV_FOLDS)?
        .into_iter()
        .map(|(train, test)| {
            let (prep, x_train) = Preprocessor::fit(&raw.select(Axis(0), &train), layout, opts)?;
            let x_test = prep.transform(&raw.select(Axis(0), &test))?;
            Ok(Fold {
                x_train,
                y_train: train.iter().map(|&i| y[i]).collect(),
                x_test,
                y_test: test.iter().map(|&i| y[i]).collect(),
            })
        })
        .collect()
}

/// A whole classical model: features options, preprocessor and classifier, saved as one file and
/// used by `vidcompare predict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicalPipeline {
    pub name: String,
    pub class_names: Vec<String>,
    pub features: FeatureOptions,
    pub prep: Preprocessor,
    pub model: FittedModel,
    pub params: Value,
}

const MAGIC: &[u8; 8] = b"VCPIPE01";

/// What a pipeline file holds: everything but the preprocessor, which lives in a
/// content-addressed file beside it (`prep-<hash>.vcprep`) so that the models trained on the same
/// features share one copy (the scaler and PCA of a 163,828-dimensional vector are ~30 MB).
#[derive(Serialize, Deserialize)]
struct SavedPipeline {
    name: String,
    class_names: Vec<String>,
    features: FeatureOptions,
    prep_file: String,
    model: FittedModel,
    params: Value,
}

impl ClassicalPipeline {
    /// Save atomically (temp file + rename), with checksums so a damaged file is detected; the
    /// preprocessor goes to a shared content-addressed file in the same folder. Returns the bytes
    /// written or already present (pipeline file + preprocessor file).
    pub fn save(&self, path: &Path) -> Result<u64> {
        let ser = |what: &str, e: rmp_serde::encode::Error| {
            Error::InvalidArgument(format!("serialising the {what}: {e}"))
        };
        let prep = rmp_serde::to_vec_named(&self.prep).map_err(|e| ser("preprocessor", e))?;
        let prep_file = format!("prep-{:016x}.vcprep", xxhash_rust::xxh3::xxh3_64(&prep));
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let prep_path = dir.join(&prep_file);
        let prep_bytes = match std::fs::metadata(&prep_path) {
            Ok(m) if is_checked_file(&prep_path) => m.len(),
            _ => write_checked(&prep_path, &prep)?,
        };
        let saved = SavedPipeline {
            name: self.name.clone(),
            class_names: self.class_names.clone(),
            features: self.features.clone(),
            prep_file,
            model: self.model.clone(),
            params: self.params.clone(),
        };
        let body = rmp_serde::to_vec_named(&saved).map_err(|e| ser("pipeline", e))?;
        Ok(write_checked(path, &body)? + prep_bytes)
    }

    /// Load a pipeline and the preprocessor file it names (in the same folder).
    pub fn load(path: &Path) -> Result<ClassicalPipeline> {
        let not_ours = |e: rmp_serde::decode::Error, p: &Path| {
            Error::InvalidArgument(format!("{}: not a vidcompare pipeline ({e})", p.display()))
        };
        let body = read_checked(path)?;
        let saved: SavedPipeline = rmp_serde::from_slice(&body).map_err(|e| not_ours(e, path))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let prep_path = dir.join(&saved.prep_file);
        let prep = rmp_serde::from_slice(&read_checked(&prep_path)?)
            .map_err(|e| not_ours(e, &prep_path))?;
        Ok(ClassicalPipeline {
            name: saved.name,
            class_names: saved.class_names,
            features: saved.features,
            prep,
            model: saved.model,
            params: saved.params,
        })
    }

    /// Class predictions and probabilities for already-extracted feature rows.
    pub fn predict_features(&self, x: &Array2<f64>) -> Result<(Vec<usize>, Array2<f64>)> {
        let xp = self.prep.transform(x)?;
        Ok((
            self.model.try_predict(&xp)?,
            self.model.try_predict_proba(&xp)?,
        ))
    }

    /// Extract features from a video and classify it.
    pub fn predict_video(&self, video: &Path) -> Result<(usize, Vec<f64>)> {
        let f = extract_video(video, &self.features)?;
        let x = Array2::from_shape_vec((1, f.values.len()), f.values)
            .expect("one row")
            .mapv(f64::from);
        let (p, proba) = self.predict_features(&x)?;
        Ok((p[0], proba.row(0).to_vec()))
    }
}

fn write_checked(path: &Path, body: &[u8]) -> Result<u64> {
    // Written piece by piece: no second copy of the body in memory (a preprocessor is tens of
    // MB, and a model's memory figure would count the copy).
    let sum = xxhash_rust::xxh3::xxh3_64(body).to_le_bytes();
    crate::util::fs::write_atomic_with(path, |tmp| {
        let mut f = std::fs::File::create(tmp).at(path)?;
        for part in [&MAGIC[..], body, &sum[..]] {
            f.write_all(part).at(path)?;
        }
        Ok(())
    })?;
    Ok((MAGIC.len() + body.len() + sum.len()) as u64)
}

/// Whether `path` is a whole checked file (magic, body, checksum), read in chunks so that
/// verifying a large one does not hold it in memory.
fn is_checked_file(path: &Path) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len() as usize) else {
        return false;
    };
    let mut magic = [0u8; 8];
    if len < 16 || f.read_exact(&mut magic).is_err() || &magic[..] != MAGIC {
        return false;
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut left = len - 16;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len());
        if f.read_exact(&mut buf[..n]).is_err() {
            return false;
        }
        hasher.update(&buf[..n]);
        left -= n;
    }
    let mut sum = [0u8; 8];
    f.read_exact(&mut sum).is_ok() && hasher.digest().to_le_bytes() == sum
}

fn read_checked(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).at(path)?;
    let bad = || {
        Error::InvalidArgument(format!(
            "{}: not a vidcompare model file, or damaged (checksum mismatch)",
            path.display()
        ))
    };
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad());
    }
    let (body, sum) = bytes[8..].split_at(bytes.len() - 16);
    if xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() != sum {
        return Err(bad());
    }
    Ok(body.to_vec())
}

/// Notebook model names: `svm` -> `Classical-SVM`, `rf` -> `Classical-RF`, `knn` -> `Classical-kNN`.
pub fn model_name(kind: &str) -> Result<String> {
    Ok(match canonical_kind(kind)? {
        "svm" => "Classical-SVM",
        "rf" => "Classical-RF",
        _ => "Classical-kNN",
    }
    .to_string())
}

/// Everything a classical model run produced.
#[derive(Debug, Clone)]
pub struct ClassicalRun {
    pub result: ModelResult,
    pub pipeline: ClassicalPipeline,
}

/// What to train in [`train_and_evaluate`].
#[derive(Debug, Clone, Copy)]
pub struct Training<'a> {
    /// `svm`, `rf` or `knn`.
    pub kind: &'a str,
    /// The parameter grid (see [`super::models::notebook_grid`]).
    pub grid: &'a [(&'a str, Vec<Value>)],
    /// Class names; their number is the number of classes.
    pub class_names: &'a [String],
    pub seed: u64,
    /// Where the classifier and the whole pipeline are saved.
    pub model_dir: &'a Path,
    /// Appended to the notebook model name, e.g. ` (motion+)`.
    pub name_suffix: &'a str,
}

/// Grid-search `kind` on the training split (stratified 3-fold CV, GridSearchCV semantics), refit
/// the best, evaluate on the test split, save the classifier and the whole pipeline under
/// `model_dir`, and fill a [`ModelResult`].
pub fn train_and_evaluate(data: &Prepared, t: &Training<'_>) -> Result<ClassicalRun> {
    let Training {
        kind,
        grid,
        class_names,
        seed,
        model_dir,
        name_suffix,
    } = *t;
    let n_classes = class_names.len();
    let kind = canonical_kind(kind)?;
    let name = format!("{}{name_suffix}", model_name(kind)?);
    let candidates: Vec<Box<dyn Estimator>> = param_grid(grid)
        .into_iter()
        .map(|p| from_params(kind, &Value::Object(p)))
        .collect::<Result<_>>()?;

    // This model's own peak memory: the process peak is reset here, so models run before it
    // do not count.
    let memory = crate::memory::StageMemory::start();
    let t = Instant::now();
    let grid = GridSearch { k: CV_FOLDS, seed };
    let search = match &data.cv_folds {
        Some(folds) => {
            grid.run_on_folds(&candidates, folds, &data.x_train, &data.y_train, n_classes)?
        }
        None => grid.run(&candidates, &data.x_train, &data.y_train, n_classes)?,
    };
    let best_params = search.rows[search.best_index].params.clone();
    let spec = ModelSpec::from_params(kind, &best_params)?;
    let model = spec.fit_model(&data.x_train, &data.y_train, n_classes, seed)?;
    let train_time_s = t.elapsed().as_secs_f64();

    // Classifier-only latency, as the notebook times `best.predict(X_test)`.
    let n_test = data.y_test.len();
    let t = Instant::now();
    let y_pred = model.try_predict(&data.x_test)?;
    let predict_s = t.elapsed().as_secs_f64();
    let proba = model.try_predict_proba(&data.x_test)?;
    let scores: Vec<Vec<f64>> = proba.rows().into_iter().map(|r| r.to_vec()).collect();
    let metrics = evaluate(&data.y_test, &y_pred, &scores, n_classes)?;

    let slug = slug(&name);
    let model_path = model_dir.join(format!("{slug}.model"));
    let model_bytes = write_checked(
        &model_path,
        &rmp_serde::to_vec_named(&model)
            .map_err(|e| Error::InvalidArgument(format!("serialising {name}: {e}")))?,
    )?;
    let pipeline = ClassicalPipeline {
        name: name.clone(),
        class_names: class_names.to_vec(),
        features: data.options.clone(),
        prep: (*data.prep).clone(),
        model: model.clone(),
        params: best_params.clone(),
    };
    let pipeline_path = model_dir.join(format!("{slug}.pipeline"));
    let pipeline_bytes = pipeline.save(&pipeline_path)?;

    // End to end per video, measured as for every model: from the file, one video at a time.
    let latency = crate::latency::measure(&data.test_paths, LATENCY_VIDEOS, |v| {
        pipeline.predict_video(v).map(|_| ())
    });
    // Throughput: the whole test split from its files at once, videos in parallel.
    let throughput = crate::latency::throughput(&data.test_paths, |all| {
        use rayon::prelude::*;
        all.par_iter()
            .try_for_each(|v| pipeline.predict_video(v).map(|_| ()))
    });
    // The feature and preprocessing shares of it, for the report's breakdown.
    let t = Instant::now();
    let _ = data.prep.transform(&Array2::zeros((1, data.dim_in)))?;
    let prep_s = t.elapsed().as_secs_f64();
    let feat_s = data.test_feature_seconds.iter().sum::<f64>() / n_test.max(1) as f64;
    let per_video = predict_s / n_test.max(1) as f64;

    // What it takes to classify a new video, counted as for a deep model's checkpoint: the
    // classifier and the preprocessor it cannot classify without.
    let (params, meaning) = model.n_params();
    let stage_memory = memory.finish();
    let mut efficiency = Efficiency {
        train_time_s,
        infer_time_s_per_video: per_video,
        infer_time_s_per_video_e2e: latency.as_ref().ok().copied().flatten().map(|l| l.median_s),
        latency_videos: latency.as_ref().ok().copied().flatten().map(|l| l.videos),
        throughput_videos_per_s: throughput.as_ref().ok().copied().flatten(),
        params: Some(params + data.prep.n_params()),
        params_meaning: Some(format!("{meaning} + imputer, scaler and PCA")),
        memory_mb: stage_memory.map(|m| m.reported().0),
        memory_start_mb: stage_memory.map(|m| m.reported().1),
        memory_kind: stage_memory.map(|m| m.reported().2.to_string()),
        rss_peak_mb: stage_memory.map(|m| m.peak),
        ..Efficiency::default()
    };
    efficiency.set_model_size(pipeline_bytes);

    let importances = model
        .feature_importances()
        .map(|imp| {
            let mut idx: Vec<usize> = (0..imp.len()).collect();
            idx.sort_by(|&a, &b| imp[b].total_cmp(&imp[a]).then(a.cmp(&b)));
            idx.iter()
                .take(20)
                .map(|&i| ComponentImportance {
                    component: i,
                    importance: imp[i],
                })
                .collect()
        })
        .unwrap_or_default();
    let finite = |x: f64| x.is_finite().then_some(x);
    let details = ModelDetails {
        classical: ClassicalDetails {
            grid_search: search
                .rows
                .iter()
                .map(|r| GridRow {
                    params: r.params.as_object().cloned().unwrap_or_default(),
                    fold_scores: r.fold_scores.iter().map(|&x| finite(x)).collect(),
                    mean: finite(r.mean),
                    std: finite(r.std),
                    rank: Some(r.rank as i64),
                    fit_seconds: Some(r.fit_seconds),
                    error: r.error.clone(),
                })
                .collect(),
            best_index: Some(search.best_index),
            best_params: best_params.as_object().cloned(),
            cv_folds: Some(CV_FOLDS),
            cv_preprocess: Some(data.cv_preprocess.as_str().to_string()),
            search_seconds: Some(search.total_seconds),
            pca_components: Some(data.prep.pca.n_components()),
            preprocess_fit_seconds: Some(data.fit_seconds),
            dim_in: Some(data.dim_in),
            pca_importances_top20: importances,
            feature_seconds_per_video: Some(feat_s),
            preprocess_seconds_per_video: Some(prep_s),
            pipeline_bytes: Some(pipeline_bytes),
            classifier_bytes: Some(model_bytes),
            classifier_params: Some(params),
            warnings: search.warnings.clone(),
        },
        ..ModelDetails::default()
    };
    let mut notes = Vec::new();
    if let Err(e) = &throughput {
        notes.push(format!("{name}: throughput not measured: {e}"));
    }
    if let Err(e) = &latency {
        notes.push(format!("{name}: end-to-end latency not measured: {e}"));
    }
    let agree = scores
        .iter()
        .zip(&y_pred)
        .filter(|(s, p)| {
            let argmax = s
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            argmax == Some(**p)
        })
        .count();
    if agree * 2 < n_test {
        notes.push(format!(
            "{name}: the class scores used for ROC-AUC disagree with the predictions on {} of {n_test} \
             test videos. For the SVM these are Platt-scaled probabilities fitted by an internal \
             5-fold cross-validation, which is unreliable on small training sets; scikit-learn's \
             SVC(probability=True) behaves the same way (checked on these features), so the AUC \
             is reported as the notebook would compute it.",
            n_test - agree
        ));
    }
    let result = ModelResult {
        name: name.clone(),
        kind: ModelKind::Classical,
        metrics,
        efficiency,
        protocol: Protocol {
            split: "test".into(),
            n_videos: n_test,
            frames_per_video: format!(
                "{:.1} sampled frames ({})",
                data.test_frames_mean,
                sampling_text(&data.options)
            ),
            input: format!(
                "{}x{}{}, {} features -> {} PCA components",
                data.options.width,
                data.options.height,
                if data.options.enhance {
                    ", enhanced"
                } else {
                    ""
                },
                data.dim_in,
                data.prep.pca.n_components()
            ),
            test_videos: data.test_videos.clone(),
        },
        y_true: data.y_test.clone(),
        y_pred,
        scores,
        test_paths: data
            .test_paths
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        score_kind: match kind {
            "svm" => "Platt-scaled probabilities (pairwise coupling), as SVC(probability=True)",
            "rf" => "mean of the trees' leaf class fractions (predict_proba)",
            _ => "neighbour weight fractions (predict_proba)",
        }
        .into(),
        details,
        artifacts: vec![
            Artifact::from_file("classifier", &model_path)?,
            Artifact::from_file("pipeline", &pipeline_path)?,
        ],
        notes,
    };
    Ok(ClassicalRun { result, pipeline })
}

/// `Classical-RF (motion+)` -> `classical-rf-motion`: a file name from a model name.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn sampling_text(o: &FeatureOptions) -> String {
    use crate::video::Sampling;
    match &o.sampling {
        Sampling::Uniform { target_fps } => format!("uniform, {target_fps} fps"),
        Sampling::Random { k } => format!("random {k}"),
        Sampling::Dense { max_frames } => format!("dense, first {max_frames}"),
        Sampling::Linspace { n } => format!("{n} evenly spaced"),
        Sampling::RandomN { n } => format!("random {n}"),
    }
}
