//! The notebook's three classical classifiers (SVM, Random Forest, kNN), built from JSON grid points.
//!
//! Each model has a validated parameter struct implementing [`Estimator`] and a fitted struct
//! implementing [`Fitted`] that owns its data and serialises (serde / bincode). [`ModelSpec`] and
//! [`FittedModel`] wrap the three so a caller can keep the concrete, saveable fitted model,
//! its parameter count and (for the forest) its feature importances.
//!
//! ```
//! use ndarray::array;
//! use vidcompare::classical::models::ModelSpec;
//! let spec = ModelSpec::from_params("knn", &serde_json::json!({"n_neighbors": 1})).unwrap();
//! let x = array![[0.0, 0.0], [1.0, 1.0]];
//! let model = spec.fit_model(&x, &[0, 1], 2, 42).unwrap();
//! assert_eq!(model.try_predict(&array![[0.9, 0.8]]).unwrap(), vec![1]);
//! assert_eq!(model.n_params(), (4, "stored samples"));
//! ```

pub mod forest;
pub mod knn;
pub mod svm;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::classical::search::{Estimator, Fitted};
use crate::error::{Error, Result};

pub use forest::{DecisionTree, FittedForest, ForestParams, MaxFeatures, TreeNode, TreeParams};
pub use knn::{FittedKnn, KnnMetric, KnnParams, KnnWeights};
pub use svm::{FittedSvm, Gamma, Kernel, SvmParams};

/// The model kinds, by their canonical names.
pub const KINDS: [&str; 3] = ["svm", "rf", "knn"];

/// The canonical kind (`svm`, `rf`, `knn`) for a name, case-insensitive; also accepts `svc`,
/// `random_forest`, `randomforest`, `forest`, `k-nn`, `kneighbors`.
pub fn canonical_kind(kind: &str) -> Result<&'static str> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "svm" | "svc" => Ok("svm"),
        "rf" | "random_forest" | "randomforest" | "forest" => Ok("rf"),
        "knn" | "k-nn" | "kneighbors" => Ok("knn"),
        other => Err(Error::InvalidArgument(format!(
            "unknown classical model kind '{other}' (expected svm, rf or knn)"
        ))),
    }
}

/// The notebook's `GridSearchCV` grid for a kind (scikit-learn parameter names, JSON values,
/// `None` as `null`); empty for an unknown kind.
pub fn notebook_grid(kind: &str) -> Vec<(&'static str, Vec<Value>)> {
    use serde_json::json;
    match canonical_kind(kind) {
        Ok("svm") => vec![
            ("C", vec![json!(0.1), json!(1.0), json!(10.0)]),
            ("kernel", vec![json!("linear"), json!("rbf")]),
            ("gamma", vec![json!("scale"), json!(0.01), json!(0.001)]),
        ],
        Ok("rf") => vec![
            ("n_estimators", vec![json!(200), json!(400)]),
            ("max_depth", vec![Value::Null, json!(20), json!(40)]),
            ("min_samples_split", vec![json!(2), json!(5)]),
        ],
        Ok("knn") => vec![
            (
                "n_neighbors",
                [3, 5, 7, 9, 11, 15].iter().map(|&k| json!(k)).collect(),
            ),
            ("weights", vec![json!("uniform"), json!("distance")]),
            ("metric", vec![json!("euclidean"), json!("manhattan")]),
        ],
        _ => Vec::new(),
    }
}

/// A boxed estimator for a kind and a JSON object of scikit-learn-named parameters (missing keys
/// take scikit-learn's defaults; unknown keys and bad values are errors).
pub fn from_params(kind: &str, params: &Value) -> Result<Box<dyn Estimator>> {
    Ok(Box::new(ModelSpec::from_params(kind, params)?))
}

/// One of the three classifiers with validated parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ModelSpec {
    /// `SVC(C, kernel, gamma, probability=True)`.
    Svm(SvmParams),
    /// `RandomForestClassifier(n_estimators, max_depth, min_samples_split)`.
    Forest(ForestParams),
    /// `KNeighborsClassifier(n_neighbors, weights, metric)`.
    Knn(KnnParams),
}

impl ModelSpec {
    /// Parses and validates parameters for a kind (see [`from_params`]).
    ///
    /// Keys: svm `C` (> 0), `kernel` (`linear` | `rbf`), `gamma` (`scale` | > 0); rf
    /// `n_estimators` (>= 1), `max_depth` (null | >= 1), `min_samples_split` (>= 2),
    /// `max_features` (`sqrt` | null for all | count), `bootstrap` (bool); knn `n_neighbors` (>= 1),
    /// `weights` (`uniform` | `distance`), `metric` (`euclidean` | `manhattan`).
    pub fn from_params(kind: &str, params: &Value) -> Result<Self> {
        let kind = canonical_kind(kind)?;
        let empty = serde_json::Map::new();
        let map = match params {
            Value::Object(m) => m,
            Value::Null => &empty,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "{kind}: parameters must be a JSON object, got {other}"
                )));
            }
        };
        let allowed: &[&str] = match kind {
            "svm" => &["C", "kernel", "gamma"],
            "rf" => &[
                "n_estimators",
                "max_depth",
                "min_samples_split",
                "max_features",
                "bootstrap",
            ],
            _ => &["n_neighbors", "weights", "metric"],
        };
        if let Some(bad) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(Error::InvalidArgument(format!(
                "{kind}: unknown parameter '{bad}' (accepted: {})",
                allowed.join(", ")
            )));
        }
        match kind {
            "svm" => {
                let c = match map.get("C") {
                    None => 1.0,
                    Some(v) => v
                        .as_f64()
                        .ok_or_else(|| bad_value(kind, "C", v, "a number > 0"))?,
                };
                let kernel = match map.get("kernel").map(|v| (v, v.as_str())) {
                    None => Kernel::Rbf,
                    Some((_, Some("linear"))) => Kernel::Linear,
                    Some((_, Some("rbf"))) => Kernel::Rbf,
                    Some((v, _)) => return Err(bad_value(kind, "kernel", v, "'linear' or 'rbf'")),
                };
                let gamma = match map.get("gamma") {
                    None => Gamma::Scale,
                    Some(Value::String(s)) if s == "scale" => Gamma::Scale,
                    Some(v) => Gamma::Value(
                        v.as_f64()
                            .ok_or_else(|| bad_value(kind, "gamma", v, "'scale' or > 0"))?,
                    ),
                };
                Ok(ModelSpec::Svm(SvmParams::new(c, kernel, gamma)?))
            }
            "rf" => {
                let n_estimators = match map.get("n_estimators") {
                    None => 100,
                    Some(v) => as_count(kind, "n_estimators", v)?,
                };
                let max_depth = match map.get("max_depth") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(as_count(kind, "max_depth", v)?),
                };
                let min_samples_split = match map.get("min_samples_split") {
                    None => 2,
                    Some(v) => as_count(kind, "min_samples_split", v)?,
                };
                let mut p = ForestParams::new(n_estimators, max_depth, min_samples_split)?;
                match map.get("max_features") {
                    None => {}
                    Some(Value::String(s)) if s == "sqrt" => {}
                    Some(Value::Null) => p = p.with_max_features(MaxFeatures::All)?,
                    Some(v) => {
                        p = p.with_max_features(MaxFeatures::Count(as_count(
                            kind,
                            "max_features",
                            v,
                        )?))?
                    }
                }
                match map.get("bootstrap") {
                    None => {}
                    Some(Value::Bool(b)) => p = p.with_bootstrap(*b),
                    Some(v) => return Err(bad_value(kind, "bootstrap", v, "true or false")),
                }
                Ok(ModelSpec::Forest(p))
            }
            _ => {
                let n_neighbors = match map.get("n_neighbors") {
                    None => 5,
                    Some(v) => as_count(kind, "n_neighbors", v)?,
                };
                let weights = match map.get("weights").map(|v| (v, v.as_str())) {
                    None => KnnWeights::Uniform,
                    Some((_, Some("uniform"))) => KnnWeights::Uniform,
                    Some((_, Some("distance"))) => KnnWeights::Distance,
                    Some((v, _)) => {
                        return Err(bad_value(kind, "weights", v, "'uniform' or 'distance'"));
                    }
                };
                let metric = match map.get("metric").map(|v| (v, v.as_str())) {
                    None => KnnMetric::Euclidean,
                    Some((_, Some("euclidean"))) => KnnMetric::Euclidean,
                    Some((_, Some("manhattan"))) => KnnMetric::Manhattan,
                    Some((v, _)) => {
                        return Err(bad_value(kind, "metric", v, "'euclidean' or 'manhattan'"));
                    }
                };
                Ok(ModelSpec::Knn(KnnParams::new(
                    n_neighbors,
                    weights,
                    metric,
                )?))
            }
        }
    }

    /// The parameters keyed like scikit-learn's.
    pub fn to_json(&self) -> Value {
        match self {
            ModelSpec::Svm(p) => p.to_json(),
            ModelSpec::Forest(p) => p.to_json(),
            ModelSpec::Knn(p) => p.to_json(),
        }
    }

    /// The canonical kind name (`svm`, `rf`, `knn`).
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Svm(_) => "svm",
            ModelSpec::Forest(_) => "rf",
            ModelSpec::Knn(_) => "knn",
        }
    }

    /// Trains and returns the concrete fitted model (kept serialisable, unlike `Box<dyn Fitted>`).
    pub fn fit_model(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        seed: u64,
    ) -> Result<FittedModel> {
        Ok(match self {
            ModelSpec::Svm(p) => FittedModel::Svm(p.fit_svm(x, y, n_classes, seed)?),
            ModelSpec::Forest(p) => FittedModel::Forest(p.fit_forest(x, y, n_classes, seed)?),
            ModelSpec::Knn(p) => FittedModel::Knn(p.fit_knn(x, y, n_classes)?),
        })
    }
}

/// A trained classifier of any of the three kinds; serialises and reloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FittedModel {
    /// A one-vs-one SVM with Platt probabilities.
    Svm(FittedSvm),
    /// A random forest.
    Forest(FittedForest),
    /// A kNN classifier.
    Knn(FittedKnn),
}

impl FittedModel {
    /// The canonical kind name (`svm`, `rf`, `knn`).
    pub fn kind(&self) -> &'static str {
        match self {
            FittedModel::Svm(_) => "svm",
            FittedModel::Forest(_) => "rf",
            FittedModel::Knn(_) => "knn",
        }
    }

    /// Stored numbers and what they are: SVM `(n_sv * d + dual coefficients + 3 per pair,
    /// "support vectors")`, forest `(total tree nodes, "tree nodes")`, kNN
    /// `(n_samples * d, "stored samples")`.
    pub fn n_params(&self) -> (u64, &'static str) {
        match self {
            FittedModel::Svm(m) => m.n_params(),
            FittedModel::Forest(m) => m.n_params(),
            FittedModel::Knn(m) => m.n_params(),
        }
    }

    /// The forest's normalised mean-decrease-in-impurity importances; `None` for SVM and kNN.
    pub fn feature_importances(&self) -> Option<&[f64]> {
        match self {
            FittedModel::Forest(m) => Some(m.feature_importances()),
            _ => None,
        }
    }

    /// Predicted classes, or an error when `x` has the wrong number of columns.
    pub fn try_predict(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
        match self {
            FittedModel::Svm(m) => m.try_predict(x),
            FittedModel::Forest(m) => m.try_predict(x),
            FittedModel::Knn(m) => m.try_predict(x),
        }
    }

    /// Class probabilities (`n_classes` wide), or an error when `x` has the wrong number of columns.
    pub fn try_predict_proba(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        match self {
            FittedModel::Svm(m) => m.try_predict_proba(x),
            FittedModel::Forest(m) => m.try_predict_proba(x),
            FittedModel::Knn(m) => m.try_predict_proba(x),
        }
    }
}

/// [`Estimator`] for a parameter struct: `fit` trains the concrete model with `$fit` and boxes it,
/// `describe` is the struct's `to_json`. Written once here rather than once per model.
macro_rules! estimator {
    ($params:ty, |$p:ident, $x:ident, $y:ident, $k:ident, $seed:ident| $fit:expr) => {
        impl Estimator for $params {
            fn fit(
                &self,
                $x: &Array2<f64>,
                $y: &[usize],
                $k: usize,
                $seed: u64,
            ) -> Result<Box<dyn Fitted>> {
                let $p = self;
                Ok(Box::new($fit?))
            }

            fn describe(&self) -> Value {
                self.to_json()
            }
        }
    };
}

estimator!(ModelSpec, |p, x, y, k, seed| p.fit_model(x, y, k, seed));
estimator!(SvmParams, |p, x, y, k, seed| p.fit_svm(x, y, k, seed));
estimator!(ForestParams, |p, x, y, k, seed| p.fit_forest(x, y, k, seed));
estimator!(KnnParams, |p, x, y, k, _seed| p.fit_knn(x, y, k));

/// [`Fitted`] for a fitted model through its `try_predict` / `try_predict_proba`, which error when
/// `x` has a different number of columns than the training matrix.
macro_rules! fitted {
    ($($model:ty),*) => {$(
        impl Fitted for $model {
            fn predict(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
                self.try_predict(x)
            }

            fn scores(&self, x: &Array2<f64>) -> Result<Vec<Vec<f64>>> {
                let proba = self.try_predict_proba(x)?;
                Ok(proba.rows().into_iter().map(|r| r.to_vec()).collect())
            }
        }
    )*};
}

fitted!(FittedModel, FittedSvm, FittedForest, FittedKnn);

fn bad_value(kind: &str, key: &str, value: &Value, expected: &str) -> Error {
    Error::InvalidArgument(format!("{kind}: {key} must be {expected}, got {value}"))
}

/// A non-negative whole number from JSON (integers, or floats with no fractional part as Rhai
/// and JSON round-trips may produce); range checks are the constructors'.
fn as_count(kind: &str, key: &str, value: &Value) -> Result<usize> {
    if let Some(u) = value.as_u64() {
        return usize::try_from(u).map_err(|_| bad_value(kind, key, value, "a whole number"));
    }
    match value.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u32::MAX as f64 => Ok(f as usize),
        _ => Err(bad_value(kind, key, value, "a non-negative whole number")),
    }
}

/// Shared training-input checks: matching lengths, at least one row and column, labels below
/// `n_classes`, finite features.
pub(crate) fn check_training_input(
    model: &str,
    x: &Array2<f64>,
    y: &[usize],
    n_classes: usize,
) -> Result<()> {
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return Err(Error::InvalidArgument(format!(
            "{model}: the training matrix is empty ({n} rows x {d} columns)"
        )));
    }
    if y.len() != n {
        return Err(Error::InvalidArgument(format!(
            "{model}: {n} training rows but {} labels",
            y.len()
        )));
    }
    if let Some((row, &label)) = y.iter().enumerate().find(|&(_, &l)| l >= n_classes) {
        return Err(Error::InvalidArgument(format!(
            "{model}: label {label} at row {row} is not below n_classes = {n_classes}"
        )));
    }
    if let Some(((row, col), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "{model}: feature value {v} at row {row}, column {col} is not finite"
        )));
    }
    Ok(())
}

/// Shared prediction-input check: the training width.
pub(crate) fn check_prediction_input(
    model: &str,
    x: &Array2<f64>,
    n_features: usize,
) -> Result<()> {
    if x.ncols() != n_features {
        return Err(Error::InvalidArgument(format!(
            "{model}: expected {n_features} feature columns, got {}",
            x.ncols()
        )));
    }
    Ok(())
}

/// `sum term(a_i, b_i)` with four running sums: the compiler may not reassociate floating-point
/// addition, so a single sum is bound by the adder's latency. Rounding differs from an
/// index-order sum at the 1e-16 level.
#[inline(always)]
pub(crate) fn four_sums(a: &[f64], b: &[f64], term: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for t in 0..4 {
            acc[t] += term(x[t], y[t]);
        }
    }
    let mut tail = 0.0;
    for (&x, &y) in ra.iter().zip(rb) {
        tail += term(x, y);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
