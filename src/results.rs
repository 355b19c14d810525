//! The one result type every model (classical or deep) ends in, and the table of them saved as JSON.
//!
//! The report reads a [`ResultsTable`]; it never computes a metric. Sizes and memory are in MiB
//! (bytes / 1024²), the notebook's "MB".

use std::borrow::Cow;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::IoContext;
use crate::metrics::{Metrics, RocCurve, roc_auc_ovr};
use crate::{Error, Result};

mod details;

pub use details::{
    ClassicalDetails, ComponentImportance, DeepDetails, Embeddings, EpochRow, FrameWeights,
    GridRow, ModelDetails, Params, SkippedVideo,
};

/// Whether a model is a classical (hand-crafted features + classifier) or a deep one.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ModelKind {
    /// Hand-crafted features, PCA and a scikit-learn-style classifier.
    Classical,
    /// A neural network trained end to end (or fine-tuned).
    Deep,
}

/// A file a model run produced (saved model, plot, log), with its size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Artifact {
    /// What the file is, e.g. "saved model".
    pub name: String,
    /// Where it is, as given when it was recorded.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Artifact {
    /// Record an existing file, reading its size from disk.
    pub fn from_file(name: impl Into<String>, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = fs::metadata(path).at(path)?.len();
        Ok(Artifact {
            name: name.into(),
            path: path.display().to_string(),
            bytes,
        })
    }
}

/// Cost of a model: time, size, parameters and memory.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Efficiency {
    /// Wall-clock training time in seconds (for grid searches, the whole search).
    pub train_time_s: f64,
    /// Classifier-only inference time per test video, in seconds (the notebook's column).
    pub infer_time_s_per_video: f64,
    /// End-to-end inference time per video: decoding, features or preprocessing, and classifier,
    /// from the file, one video at a time with all cores, median over test videos after a warm-up
    /// ([`crate::latency`]); the same measure for every model. (Files written before it estimated
    /// this from times taken while several videos ran at once.)
    #[serde(default)]
    pub infer_time_s_per_video_e2e: Option<f64>,
    /// How many test videos the end-to-end median was taken over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_videos: Option<usize>,
    /// Videos per second over the whole test split from the files, all cores, no cache
    /// ([`crate::latency::throughput`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_videos_per_s: Option<f64>,
    /// Size of the saved model file in bytes.
    #[serde(default)]
    pub model_size_bytes: Option<u64>,
    /// Size of the saved model in MiB (the notebook's `model_size_mb`).
    #[serde(default)]
    pub model_size_mb: Option<f64>,
    /// Number of parameters; what they are is in [`Self::params_meaning`].
    #[serde(default)]
    pub params: Option<u64>,
    /// Number of trainable parameters (deep models with frozen layers).
    #[serde(default)]
    pub params_trainable: Option<u64>,
    /// What `params` counts: "weights", "support vectors", "tree nodes", "stored samples".
    #[serde(default)]
    pub params_meaning: Option<String>,
    /// Peak memory in MiB; what kind is in [`Self::memory_kind`].
    #[serde(default)]
    pub memory_mb: Option<f64>,
    /// "GPU peak" or "peak RSS".
    #[serde(default)]
    pub memory_kind: Option<String>,
    /// Memory in MiB when the model's training started, measured as `memory_kind` says (what
    /// earlier stages left alive: loaded data, caches). For "peak RSS", `memory_mb` minus this is
    /// what the model itself added; a "heap peak" `memory_mb` is already the model's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_start_mb: Option<f64>,
    /// The process's peak resident set in MiB during the model's training and evaluation
    /// (reset at its start), kept beside a heap figure for reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_peak_mb: Option<f64>,
}

impl Efficiency {
    /// Set the saved-model size from a byte count, in bytes and in MiB (as the notebook's
    /// `sizeof_file_mb`: bytes / 1024²).
    pub fn set_model_size(&mut self, bytes: u64) {
        self.model_size_bytes = Some(bytes);
        self.model_size_mb = Some(bytes as f64 / (1024.0 * 1024.0));
    }
}

/// How a model was evaluated, shown beside its numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Protocol {
    /// The split evaluated on, e.g. "test".
    pub split: String,
    /// Number of videos in that split.
    pub n_videos: usize,
    /// Frames used per video, e.g. "1 fps (uniform)", "8 frames", "1 clip x 16 frames".
    pub frames_per_video: String,
    /// Input resolution and preprocessing, e.g. "320x240, enhanced".
    pub input: String,
    /// The exact test videos, one content key per prediction (in `test_paths` order): a hash of
    /// the file's bytes ([`video_keys`]), so two models are paired on the same files whatever
    /// paths their splits list them under. Empty in result files written before it was recorded,
    /// and when a test file could not be read again after evaluation (pairing then goes by path).
    #[serde(default)]
    pub test_videos: Vec<String>,
}

/// The content key of each video file (a 128-bit hash of its bytes, as 32 hex digits), read in
/// parallel: what [`Protocol::test_videos`] records.
pub fn video_keys<P: AsRef<std::path::Path> + Sync>(paths: &[P]) -> crate::Result<Vec<String>> {
    use rayon::prelude::*;
    paths
        .par_iter()
        .map(|p| crate::util::cache::file_key(p.as_ref(), ""))
        .collect()
}

/// Everything one model run produced: metrics, cost, protocol, raw predictions and extras.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelResult {
    /// The notebook's name, e.g. "Classical-SVM", "Deep-3D-R3D18".
    pub name: String,
    /// Classical or deep.
    pub kind: ModelKind,
    /// Test-set metrics.
    pub metrics: Metrics,
    /// Time, size, parameters, memory.
    pub efficiency: Efficiency,
    /// How it was evaluated.
    pub protocol: Protocol,
    /// True labels of the test videos, in `test_paths` order.
    pub y_true: Vec<usize>,
    /// Predicted labels.
    pub y_pred: Vec<usize>,
    /// Class scores per test video (`n_videos x n_classes`).
    pub scores: Vec<Vec<f64>>,
    /// Test video paths, as listed in the split file.
    pub test_paths: Vec<String>,
    /// How the class scores were obtained: "Platt-scaled probabilities", "vote fractions", "softmax".
    pub score_kind: String,
    /// Model-specific extras: grid search, training curves, attention, embeddings.
    #[serde(default, deserialize_with = "details::null_as_default")]
    pub details: ModelDetails,
    /// Files the run produced.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Remarks for the report (e.g. "the notebook would print nan for the macro AUC").
    #[serde(default)]
    pub notes: Vec<String>,
}

impl ModelResult {
    /// The one-vs-rest ROC curve of each class, as [`crate::metrics::evaluate`] computed them with
    /// the other metrics. A result recorded without curves (they were optional in early files)
    /// gets them from its scores by the same function; a class without both positives and
    /// negatives has an empty curve.
    pub fn roc_curves(&self) -> Cow<'_, [RocCurve]> {
        if !self.metrics.roc.is_empty() {
            return Cow::Borrowed(&self.metrics.roc);
        }
        let n_classes = self.scores.first().map_or(0, Vec::len);
        Cow::Owned(
            roc_auc_ovr(&self.y_true, &self.scores, n_classes)
                .map(|ovr| ovr.curves)
                .unwrap_or_default(),
        )
    }

    /// Loss and accuracy per epoch, for models trained in epochs; `None` otherwise.
    pub fn training_curves(&self) -> Option<&[EpochRow]> {
        let rows = &self.details.deep.training_curves;
        (!rows.is_empty()).then_some(rows.as_slice())
    }
}

/// Models by descending accuracy, ties in the given order: how the notebook sorts its tables.
///
/// ```
/// # use vidcompare::results::sort_by_accuracy;
/// assert!(sort_by_accuracy(&[]).is_empty());
/// ```
pub fn sort_by_accuracy<'a>(models: &[&'a ModelResult]) -> Vec<&'a ModelResult> {
    let mut sorted = models.to_vec();
    sorted.sort_by(|a, b| b.metrics.accuracy.total_cmp(&a.metrics.accuracy));
    sorted
}

/// One row of the unified comparison table (the notebook's `In[16]` columns).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SummaryRow {
    /// Model name.
    pub model: String,
    /// Classical or deep.
    pub kind: ModelKind,
    /// Accuracy.
    pub accuracy: f64,
    /// Macro precision.
    pub precision: f64,
    /// Macro recall.
    pub recall: f64,
    /// Macro F1.
    pub f1: f64,
    /// Macro one-vs-rest ROC AUC (over the classes where it is defined).
    pub macro_auc: Option<f64>,
    /// Training time, seconds.
    pub train_time_s: f64,
    /// Classifier-only inference time per video, seconds.
    pub infer_time_s_per_video: f64,
    /// End-to-end inference time per video, seconds.
    pub infer_time_s_per_video_e2e: Option<f64>,
    /// Saved model size, MiB.
    pub model_size_mb: Option<f64>,
    /// Peak memory, MiB.
    pub memory_mb: Option<f64>,
    /// "GPU peak" or "peak RSS".
    pub memory_kind: Option<String>,
    /// Parameter count.
    pub params: Option<u64>,
    /// What the parameter count counts.
    pub params_meaning: Option<String>,
}

/// All model results of a run, in the order they were added.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResultsTable {
    /// The models, in insertion order.
    pub models: Vec<ModelResult>,
}

impl ResultsTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a model. A model with the same name is replaced in place (a rerun supersedes the earlier
    /// result, keeping its position) and returned.
    pub fn push(&mut self, result: ModelResult) -> Option<ModelResult> {
        match self.models.iter_mut().find(|m| m.name == result.name) {
            Some(slot) => Some(std::mem::replace(slot, result)),
            None => {
                self.models.push(result);
                None
            }
        }
    }

    /// The GPU the run's deep models ran on, as they recorded their device
    /// (`cuda:0 (NVIDIA H200, 139.8 GiB)`); `None` when every model ran on the CPU.
    pub fn gpu_used(&self) -> Option<String> {
        self.models
            .iter()
            .filter_map(|m| m.details.deep.device.as_deref())
            .find(|d| d.starts_with("cuda"))
            .map(str::to_string)
    }

    /// The model called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ModelResult> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The models by descending accuracy (the notebook sorts its table so); ties keep insertion order.
    pub fn sorted_by_accuracy(&self) -> Vec<&ModelResult> {
        sort_by_accuracy(&self.models.iter().collect::<Vec<_>>())
    }

    /// One row per model, in insertion order, with the unified comparison table's columns.
    pub fn summary_rows(&self) -> Vec<SummaryRow> {
        self.models
            .iter()
            .map(|m| SummaryRow {
                model: m.name.clone(),
                kind: m.kind,
                accuracy: m.metrics.accuracy,
                precision: m.metrics.precision,
                recall: m.metrics.recall,
                f1: m.metrics.f1,
                macro_auc: m.metrics.macro_auc,
                train_time_s: m.efficiency.train_time_s,
                infer_time_s_per_video: m.efficiency.infer_time_s_per_video,
                infer_time_s_per_video_e2e: m.efficiency.infer_time_s_per_video_e2e,
                model_size_mb: m.efficiency.model_size_mb,
                memory_mb: m.efficiency.memory_mb,
                memory_kind: m.efficiency.memory_kind.clone(),
                params: m.efficiency.params,
                params_meaning: m.efficiency.params_meaning.clone(),
            })
            .collect()
    }

    /// Write the table as pretty JSON, atomically: to a temporary file beside `path`, then renamed
    /// over it, so a reader never sees a half-written file. Missing parent folders are created.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| {
            // Only non-string map keys or a failing Serialize impl can get here; none exist in
            // these types, but the JSON values in `details` (parameters, settings) are
            // caller-supplied.
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        json.push(b'\n');
        crate::util::fs::write_atomic(path, &json)
    }

    /// Read a table written by [`Self::save_json`]. A malformed file gives an error naming the path
    /// and the line and column where parsing stopped.
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).at(path)?;
        serde_json::from_str(&text).map_err(|e| {
            let message = format!("line {}, column {}: {e}", e.line(), e.column());
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, message),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::evaluate;

    fn model(name: &str, kind: ModelKind, y_pred: Vec<usize>) -> ModelResult {
        let y_true = vec![0, 0, 1, 1, 2];
        let scores: Vec<Vec<f64>> = y_pred
            .iter()
            .map(|&p| {
                let mut row = vec![0.1; 3];
                row[p] = 0.8;
                row
            })
            .collect();
        let metrics = evaluate(&y_true, &y_pred, &scores, 3).unwrap();
        let mut efficiency = Efficiency {
            train_time_s: 4.5,
            infer_time_s_per_video: 1.9e-5,
            params: Some(42),
            params_meaning: Some("support vectors".into()),
            memory_mb: Some(12.25),
            memory_kind: Some("peak RSS".into()),
            ..Efficiency::default()
        };
        efficiency.set_model_size(21_555);
        ModelResult {
            name: name.into(),
            kind,
            metrics,
            efficiency,
            protocol: Protocol {
                split: "test".into(),
                n_videos: 5,
                frames_per_video: "1 fps (uniform)".into(),
                input: "320x240, enhanced".into(),
                ..Default::default()
            },
            y_true,
            y_pred,
            scores,
            test_paths: (0..5).map(|i| format!("videos/v{i}.mp4")).collect(),
            score_kind: "Platt-scaled probabilities".into(),
            details: ModelDetails {
                classical: ClassicalDetails {
                    best_params: serde_json::json!({"C": 10.0, "kernel": "rbf"})
                        .as_object()
                        .cloned(),
                    ..ClassicalDetails::default()
                },
                ..ModelDetails::default()
            },
            artifacts: vec![Artifact {
                name: "saved model".into(),
                path: "cache/svm.bin".into(),
                bytes: 21_555,
            }],
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn the_gpu_is_the_device_a_deep_model_ran_on() {
        let on = |name: &str, device: Option<&str>| {
            let mut m = model(name, ModelKind::Deep, vec![0, 0, 1, 1, 2]);
            m.details.deep.device = device.map(str::to_string);
            m
        };
        let mut t = ResultsTable::new();
        t.push(on("Classical-SVM", None));
        t.push(on("Deep-2D-Avg", Some("cpu (2 threads)")));
        assert_eq!(t.gpu_used(), None);
        t.push(on("Deep-3D-R3D18", Some("cuda:0 (NVIDIA H200, 139.8 GiB)")));
        assert_eq!(
            t.gpu_used().as_deref(),
            Some("cuda:0 (NVIDIA H200, 139.8 GiB)")
        );
    }

    fn table() -> ResultsTable {
        let mut t = ResultsTable::new();
        t.push(model(
            "Classical-SVM",
            ModelKind::Classical,
            vec![0, 1, 1, 1, 2],
        )); // 0.8
        t.push(model(
            "Classical-kNN",
            ModelKind::Classical,
            vec![0, 1, 0, 1, 0],
        )); // 0.4
        t.push(model("Deep-3D-R3D18", ModelKind::Deep, vec![0, 0, 1, 1, 2])); // 1.0
        t
    }

    #[test]
    fn json_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/results.json");
        let t = table();
        t.save_json(&path).unwrap();
        let back = ResultsTable::load_json(&path).unwrap();
        assert_eq!(back, t);
        // No temporary file is left beside the result.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("results.json")]);
    }

    #[test]
    fn sorted_by_accuracy_descends() {
        let t = table();
        let names: Vec<&str> = t
            .sorted_by_accuracy()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["Deep-3D-R3D18", "Classical-SVM", "Classical-kNN"]);
    }

    #[test]
    fn push_replaces_same_name_in_place() {
        let mut t = table();
        let old = t.push(model(
            "Classical-SVM",
            ModelKind::Classical,
            vec![0, 0, 1, 1, 2],
        ));
        assert_eq!(old.unwrap().metrics.accuracy, 0.8);
        assert_eq!(t.models.len(), 3);
        assert_eq!(t.models[0].name, "Classical-SVM");
        assert_eq!(t.get("Classical-SVM").unwrap().metrics.accuracy, 1.0);
        assert!(t.get("Classical-RF").is_none());
    }

    #[test]
    fn summary_rows_carry_the_table_columns() {
        let rows = table().summary_rows();
        assert_eq!(rows.len(), 3);
        let svm = &rows[0];
        assert_eq!(svm.model, "Classical-SVM");
        assert_eq!(svm.kind, ModelKind::Classical);
        assert_eq!(svm.accuracy, 0.8);
        // SVM predictions [0,1,1,1,2] vs [0,0,1,1,2]: P = (1 + 2/3 + 1)/3, R = (1/2 + 1 + 1)/3.
        assert!((svm.precision - (1.0 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-15);
        assert!((svm.recall - 2.5 / 3.0).abs() < 1e-15);
        assert_eq!(svm.train_time_s, 4.5);
        assert_eq!(svm.infer_time_s_per_video, 1.9e-5);
        assert_eq!(svm.infer_time_s_per_video_e2e, None);
        assert_eq!(svm.model_size_mb, Some(21_555.0 / 1_048_576.0));
        assert_eq!(svm.memory_mb, Some(12.25));
        assert_eq!(svm.params, Some(42));
        assert_eq!(rows[2].model, "Deep-3D-R3D18");
        assert_eq!(rows[2].macro_auc, Some(1.0));
    }

    /// A `models.json` as written before `details` was typed: one model with `details: null`, one
    /// with the classical keys (a `null` importance list among them), one with the deep keys.
    #[test]
    fn models_json_in_the_old_shape_loads() {
        let mut old = serde_json::to_value(table()).unwrap();
        old["models"][0]["details"] = serde_json::Value::Null;
        old["models"][1]["details"] = serde_json::json!({
            "grid_search": [
                {"params": {"n_neighbors": 3}, "fold_scores": [0.5, 1.0, null], "mean": null,
                 "std": null, "rank": 2, "fit_seconds": 0.001},
                {"params": {"n_neighbors": 5}, "fold_scores": [0.5, 1.0, 1.0], "mean": 0.8333,
                 "std": 0.2357, "rank": 1, "fit_seconds": 0.002}
            ],
            "best_index": 1, "best_params": {"n_neighbors": 5}, "cv_folds": 3,
            "pca_importances_top20": null, "warnings": [], "dim_in": 120
        });
        old["models"][2]["details"] = serde_json::json!({
            "training_curves": [
                {"epoch": 1, "lr": 0.001, "train_loss": 1.1, "train_acc": 0.4, "val_loss": 1.0,
                 "val_acc": 0.5, "train_seconds": 2.0, "val_seconds": 0.5}
            ],
            "best_epoch": 1, "trained_from_scratch": true, "weights_source": null,
            "settings": {"kind": "Attn"}, "embeddings": {"pooled": [[0.5, 1.5]], "logits": [[1.0]]},
            "attention": [{"path": "videos/v0.mp4", "weights": [0.25, 0.75]}], "skipped": []
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        fs::write(&path, serde_json::to_string_pretty(&old).unwrap()).unwrap();
        let t = ResultsTable::load_json(&path).unwrap();

        assert_eq!(t.models[0].details, ModelDetails::default());
        let knn = &t.models[1].details.classical;
        assert_eq!(knn.grid_search.len(), 2);
        assert_eq!(
            knn.grid_search[0].fold_scores,
            vec![Some(0.5), Some(1.0), None]
        );
        assert_eq!(knn.grid_search[0].mean, None);
        assert_eq!(knn.grid_search[1].mean, Some(0.8333));
        assert_eq!(knn.best_index, Some(1));
        assert_eq!(knn.best_params.as_ref().unwrap()["n_neighbors"], 5);
        assert_eq!(knn.dim_in, Some(120));
        assert!(knn.pca_importances_top20.is_empty());
        let deep = &t.models[2];
        let curves = deep.training_curves().unwrap();
        assert_eq!(curves[0].epoch, Some(1.0));
        assert_eq!(curves[0].val_acc, Some(0.5));
        assert_eq!(deep.details.deep.trained_from_scratch, Some(true));
        assert_eq!(deep.details.deep.weights_source, None);
        assert_eq!(deep.details.deep.attention[0].weights, vec![0.25, 0.75]);
        assert_eq!(
            deep.details.deep.embeddings.as_ref().unwrap().pooled,
            vec![vec![0.5, 1.5]]
        );
        assert_eq!(deep.details.deep.skipped.as_deref(), Some(&[][..]));
        assert!(t.models[0].training_curves().is_none());

        // Saved again and reloaded, nothing changes.
        t.save_json(&path).unwrap();
        assert_eq!(ResultsTable::load_json(&path).unwrap(), t);
    }

    #[test]
    fn roc_curves_come_from_the_metrics_or_the_scores() {
        let m = table().models.remove(0);
        let stored = m.roc_curves().into_owned();
        assert_eq!(stored, m.metrics.roc);
        let mut bare = m.clone();
        bare.metrics.roc.clear();
        assert_eq!(bare.roc_curves().into_owned(), stored);
    }

    #[test]
    fn load_errors_name_path_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        fs::write(&path, "{\n  \"models\": [\n    {\"name\": 3}\n  ]\n}\n").unwrap();
        let msg = ResultsTable::load_json(&path).unwrap_err().to_string();
        assert!(msg.contains("bad.json"), "{msg}");
        assert!(msg.contains("line 3, column"), "{msg}");

        let missing = dir.path().join("missing.json");
        let msg = ResultsTable::load_json(&missing).unwrap_err().to_string();
        assert!(msg.contains("missing.json"), "{msg}");
    }
}
