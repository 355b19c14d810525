//! What a model run records beyond its metrics: grid search, training curves, attention, embeddings.
//!
//! Saved inside `models.json` as the flat `details` object it always was (`grid_search`,
//! `training_curves`, `attention`, ...): every field has a default, so files written before the
//! types existed (a `null` details, a missing key, training curves as columns) still load.

use serde::{Deserialize, Deserializer, Serialize};

/// Hyper-parameters of one classifier configuration, by name (`{"C": 10.0, "kernel": "rbf"}`).
pub type Params = serde_json::Map<String, serde_json::Value>;

/// The extras of one model run. A classical run fills [`ClassicalDetails`], a deep one
/// [`DeepDetails`]; in JSON both are written flat in one object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ModelDetails {
    /// Grid search, preprocessing and timings of a classical pipeline.
    #[serde(flatten)]
    pub classical: ClassicalDetails,
    /// Training history, weights and per-video outputs of a deep model.
    #[serde(flatten)]
    pub deep: DeepDetails,
}

/// What a classical pipeline records: its grid search and preprocessing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClassicalDetails {
    /// Every grid-search candidate in grid order (scikit-learn's `cv_results_`).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub grid_search: Vec<GridRow>,
    /// Index of the chosen candidate in [`Self::grid_search`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_index: Option<usize>,
    /// The chosen candidate's parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_params: Option<Params>,
    /// Cross-validation folds of the search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv_folds: Option<usize>,
    /// Where the search's folds fitted the imputer, scaler and PCA: `per_fold` or `outside`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv_preprocess: Option<String>,
    /// Wall-clock seconds of the whole search, refit included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_seconds: Option<f64>,
    /// PCA components kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pca_components: Option<usize>,
    /// Seconds to fit imputer, scaler and PCA on train.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preprocess_fit_seconds: Option<f64>,
    /// Feature dimension before PCA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim_in: Option<usize>,
    /// The 20 most important PCA components of a random forest (mean decrease in impurity).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pca_importances_top20: Vec<ComponentImportance>,
    /// Mean feature-extraction seconds per test video (decoding included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_seconds_per_video: Option<f64>,
    /// Preprocessing seconds per video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preprocess_seconds_per_video: Option<f64>,
    /// Size of the saved pipeline file in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_bytes: Option<u64>,
    /// Size of the classifier's own file in bytes (without the preprocessor); the model size
    /// the report compares is the whole pipeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier_bytes: Option<u64>,
    /// Learned values of the classifier alone (the efficiency's count adds the preprocessor's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier_params: Option<u64>,
    /// Warnings scikit-learn would have printed during the search.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub warnings: Vec<String>,
}

/// One grid-search candidate: its parameters and cross-validation scores.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct GridRow {
    /// The candidate's parameters.
    pub params: Params,
    /// Test-fold accuracy per fold; `None` (null) where the fit failed.
    pub fold_scores: Vec<Option<f64>>,
    /// Mean of the fold accuracies; `None` if a fold failed.
    pub mean: Option<f64>,
    /// Population standard deviation of the fold accuracies.
    pub std: Option<f64>,
    /// 1 + the number of candidates with a strictly higher mean.
    pub rank: Option<i64>,
    /// Mean training seconds per fold.
    pub fit_seconds: Option<f64>,
    /// Why a fit failed, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One PCA component's importance.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ComponentImportance {
    /// 0-based component index.
    pub component: usize,
    /// Its importance.
    pub importance: f64,
}

/// What a deep model records: training history, where its weights came from, per-video outputs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DeepDetails {
    /// Loss and accuracy per epoch. Read either as an array of per-epoch objects or as an object
    /// of columns (`{"train_loss": [...], ...}`).
    #[serde(
        deserialize_with = "epochs_in_either_shape",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub training_curves: Vec<EpochRow>,
    /// Epoch whose weights were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_epoch: Option<usize>,
    /// Validation accuracy of that epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_val_acc: Option<f64>,
    /// Whether early stopping ended training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<bool>,
    /// Whether the weights came from a finished checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<bool>,
    /// Whether no pretrained weights were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trained_from_scratch: Option<bool>,
    /// Where the pretrained weights came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights_source: Option<String>,
    /// Parameters taken from the weights file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_loaded: Option<usize>,
    /// Parameters initialised from the seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_initialised: Option<usize>,
    /// Size of the weights in MiB as float32.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_mb_fp32: Option<f64>,
    /// The device it ran on, e.g. `cpu (16 threads)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The deep settings the run used, as `deep` writes them (it reads them back to rebuild the
    /// model's inputs); kept as JSON here because `results` sits below `deep`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
    /// Per test video: the pooled embedding and the logits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Embeddings>,
    /// Attention weights over the sampled frames per test video (attention pooling only).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attention: Vec<FrameWeights>,
    /// Videos that could not be used; written (even empty) for every deep model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Vec<SkippedVideo>>,
    /// Mean decoding and preprocessing seconds per test video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_preprocess_s_per_video: Option<f64>,
}

/// One epoch of training. Every number is optional: older files may lack some.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EpochRow {
    /// 1-based epoch; the row's position when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<f64>,
    /// Learning rate during the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Mean training loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_loss: Option<f64>,
    /// Training accuracy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_acc: Option<f64>,
    /// Validation loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f64>,
    /// Seconds of the training pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_seconds: Option<f64>,
    /// Seconds of the validation pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_seconds: Option<f64>,
}

/// A deep model's per-video outputs on the test split, in `test_paths` order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Embeddings {
    /// The pooled video embedding that feeds the head.
    pub pooled: Vec<Vec<f32>>,
    /// The logits.
    pub logits: Vec<Vec<f32>>,
}

/// Attention weights of one test video over its sampled frames.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FrameWeights {
    /// The video, as in `test_paths`.
    pub path: String,
    /// One weight per sampled frame; they sum to 1.
    pub weights: Vec<f32>,
}

/// A video a deep model could not use, and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SkippedVideo {
    /// The video's path.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// `null` reads as the type's default (older files wrote `null` for "none").
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Training curves as an array of per-epoch objects, or as an object of equally long columns.
fn epochs_in_either_shape<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EpochRow>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Rows(Vec<EpochRow>),
        Columns(Columns),
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Columns {
        epoch: Vec<Option<f64>>,
        lr: Vec<Option<f64>>,
        train_loss: Vec<Option<f64>>,
        train_acc: Vec<Option<f64>>,
        val_loss: Vec<Option<f64>>,
        val_acc: Vec<Option<f64>>,
        train_seconds: Vec<Option<f64>>,
        val_seconds: Vec<Option<f64>>,
    }
    Ok(match Option::<Shape>::deserialize(d)? {
        None => Vec::new(),
        Some(Shape::Rows(rows)) => rows,
        Some(Shape::Columns(c)) => {
            let cols = [
                &c.epoch,
                &c.lr,
                &c.train_loss,
                &c.train_acc,
                &c.val_loss,
                &c.val_acc,
                &c.train_seconds,
                &c.val_seconds,
            ];
            let n = cols.iter().map(|c| c.len()).max().unwrap_or(0);
            let at = |c: &Vec<Option<f64>>, i: usize| c.get(i).copied().flatten();
            (0..n)
                .map(|i| EpochRow {
                    epoch: at(&c.epoch, i),
                    lr: at(&c.lr, i),
                    train_loss: at(&c.train_loss, i),
                    train_acc: at(&c.train_acc, i),
                    val_loss: at(&c.val_loss, i),
                    val_acc: at(&c.val_acc, i),
                    train_seconds: at(&c.train_seconds, i),
                    val_seconds: at(&c.val_seconds, i),
                })
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_details_shapes_load() {
        let d: ModelDetails = serde_json::from_str(
            r#"{"grid_search": [{"params": {"C": 1.0}, "fold_scores": [0.5, null], "mean": null,
                "std": null, "rank": 2, "fit_seconds": 0.1}],
                "best_index": 0, "pca_importances_top20": null, "unknown_key": 3,
                "training_curves": {"train_loss": [1.0, 0.5], "val_acc": [0.4]}}"#,
        )
        .unwrap();
        assert_eq!(
            d.classical.grid_search[0].fold_scores,
            vec![Some(0.5), None]
        );
        assert_eq!(d.classical.grid_search[0].rank, Some(2));
        assert_eq!(d.classical.best_index, Some(0));
        assert!(d.classical.pca_importances_top20.is_empty());
        assert_eq!(d.deep.training_curves.len(), 2);
        assert_eq!(d.deep.training_curves[1].train_loss, Some(0.5));
        assert_eq!(d.deep.training_curves[1].val_acc, None);
        // Written back flat, and read again unchanged.
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["grid_search"].is_array() && json.get("classical").is_none());
        assert_eq!(serde_json::from_value::<ModelDetails>(json).unwrap(), d);
    }
}
