//! k-nearest-neighbours classifier as scikit-learn's `KNeighborsClassifier` (brute force).
//!
//! - Distances are computed directly, `sqrt(sum (a - b)^2)` or `sum |a - b|` (not through
//!   scikit-learn's `|a|^2 - 2 a.b + |b|^2` shortcut, whose cancellation errors are larger).
//! - Neighbours at equal distance are taken in training-row order (a stable order). scikit-learn's
//!   brute-force search uses `argpartition`, which is not stable, and its tree searches have their
//!   own order, so on exact distance ties the chosen neighbours may differ from scikit-learn's.
//! - `distance` weights are `1 / d`; when a query has neighbours at distance 0, those get weight 1
//!   and the others 0 (scikit-learn's `_get_weights`).
//! - Probabilities are the weighted class votes divided by their sum, accumulated nearest first;
//!   the prediction is the first class with the highest probability.

use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_prediction_input, check_training_input, four_sums};
use crate::error::{Error, Result};

/// How neighbours' votes are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KnnWeights {
    /// Every neighbour counts 1.
    Uniform,
    /// A neighbour counts `1 / distance`.
    Distance,
}

/// The distance between feature vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KnnMetric {
    /// L2.
    Euclidean,
    /// L1.
    Manhattan,
}

impl KnnWeights {
    /// scikit-learn's name.
    pub fn name(self) -> &'static str {
        match self {
            KnnWeights::Uniform => "uniform",
            KnnWeights::Distance => "distance",
        }
    }
}

impl KnnMetric {
    /// scikit-learn's name.
    pub fn name(self) -> &'static str {
        match self {
            KnnMetric::Euclidean => "euclidean",
            KnnMetric::Manhattan => "manhattan",
        }
    }

    /// The distance, summed with [`four_sums`] for speed.
    fn distance(self, a: &[f64], b: &[f64]) -> f64 {
        match self {
            KnnMetric::Euclidean => four_sums(a, b, |x, y| (x - y) * (x - y)).sqrt(),
            KnnMetric::Manhattan => four_sums(a, b, |x, y| (x - y).abs()),
        }
    }
}

/// Hyper-parameters of [`KnnParams::fit_knn`], validated at construction.
///
/// Defaults (scikit-learn's): 5 neighbours, uniform weights, euclidean (minkowski p = 2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnnParams {
    n_neighbors: usize,
    weights: KnnWeights,
    metric: KnnMetric,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams {
            n_neighbors: 5,
            weights: KnnWeights::Uniform,
            metric: KnnMetric::Euclidean,
        }
    }
}

impl KnnParams {
    /// Checks `n_neighbors >= 1`.
    ///
    /// ```
    /// use vidcompare::classical::models::knn::{KnnMetric, KnnParams, KnnWeights};
    /// assert!(KnnParams::new(5, KnnWeights::Distance, KnnMetric::Manhattan).is_ok());
    /// assert!(KnnParams::new(0, KnnWeights::Uniform, KnnMetric::Euclidean).is_err());
    /// ```
    pub fn new(n_neighbors: usize, weights: KnnWeights, metric: KnnMetric) -> Result<Self> {
        if n_neighbors < 1 {
            return Err(Error::InvalidArgument(
                "knn: n_neighbors must be >= 1, got 0".into(),
            ));
        }
        Ok(KnnParams {
            n_neighbors,
            weights,
            metric,
        })
    }

    /// The number of neighbours.
    pub fn n_neighbors(&self) -> usize {
        self.n_neighbors
    }

    /// The parameters keyed like scikit-learn's (`metric`, `n_neighbors`, `weights`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "metric": self.metric.name(),
            "n_neighbors": self.n_neighbors,
            "weights": self.weights.name(),
        })
    }

    /// Stores the training set. Fails when there are fewer training rows than `n_neighbors`
    /// (scikit-learn fails later, at prediction).
    pub fn fit_knn(&self, x: &Array2<f64>, y: &[usize], n_classes: usize) -> Result<FittedKnn> {
        check_training_input("knn", x, y, n_classes)?;
        if self.n_neighbors > x.nrows() {
            return Err(Error::InvalidArgument(format!(
                "knn: n_neighbors = {} exceeds the {} training samples",
                self.n_neighbors,
                x.nrows()
            )));
        }
        Ok(FittedKnn {
            n_neighbors: self.n_neighbors,
            weights: self.weights,
            metric: self.metric,
            n_classes,
            x: x.as_standard_layout().into_owned(),
            y: y.to_vec(),
        })
    }
}

/// A fitted kNN classifier: the stored training set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedKnn {
    n_neighbors: usize,
    weights: KnnWeights,
    metric: KnnMetric,
    n_classes: usize,
    x: Array2<f64>,
    y: Vec<usize>,
}

impl FittedKnn {
    /// Stored numbers: the training matrix.
    pub fn n_params(&self) -> (u64, &'static str) {
        (self.x.len() as u64, "stored samples")
    }

    /// The `n_neighbors` nearest training rows of each query, nearest first (equal distances in
    /// training-row order), with their distances.
    pub fn try_kneighbors(&self, x: &Array2<f64>) -> Result<Vec<Vec<(usize, f64)>>> {
        check_prediction_input("knn", x, self.x.ncols())?;
        let k = self.n_neighbors;
        let train = self.x.as_slice().expect("stored in standard layout");
        let d = self.x.ncols();
        Ok((0..x.nrows())
            .into_par_iter()
            .map(|r| {
                let query: Vec<f64> = x.row(r).to_vec();
                let mut dist: Vec<(f64, usize)> = train
                    .chunks_exact(d.max(1))
                    .enumerate()
                    .map(|(i, row)| (self.metric.distance(&query, row), i))
                    .collect();
                let by_distance_then_row =
                    |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if k < dist.len() {
                    dist.select_nth_unstable_by(k - 1, by_distance_then_row);
                    dist.truncate(k);
                }
                dist.sort_unstable_by(by_distance_then_row);
                dist.into_iter().map(|(dd, i)| (i, dd)).collect()
            })
            .collect())
    }

    /// Weighted vote fractions, `n_classes` wide; rows sum to 1.
    pub fn try_predict_proba(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        let neighbours = self.try_kneighbors(x)?;
        let k = self.n_classes;
        let mut out = Array2::zeros((x.nrows(), k));
        for (r, nb) in neighbours.iter().enumerate() {
            let weights: Vec<f64> = match self.weights {
                KnnWeights::Uniform => vec![1.0; nb.len()],
                KnnWeights::Distance => {
                    if nb.iter().any(|&(_, d)| d == 0.0) {
                        nb.iter()
                            .map(|&(_, d)| if d == 0.0 { 1.0 } else { 0.0 })
                            .collect()
                    } else {
                        nb.iter().map(|&(_, d)| 1.0 / d).collect()
                    }
                }
            };
            for (&(i, _), w) in nb.iter().zip(&weights) {
                out[[r, self.y[i]]] += w;
            }
            let mut total = 0.0;
            for c in 0..k {
                total += out[[r, c]];
            }
            if total == 0.0 {
                total = 1.0;
            }
            for c in 0..k {
                out[[r, c]] /= total;
            }
        }
        Ok(out)
    }

    /// The class with the highest weighted vote, the lowest class on ties.
    pub fn try_predict(&self, x: &Array2<f64>) -> Result<Vec<usize>> {
        let proba = self.try_predict_proba(x)?;
        Ok(proba
            .rows()
            .into_iter()
            .map(|row| {
                let mut best = 0;
                for c in 1..row.len() {
                    if row[c] > row[best] {
                        best = c;
                    }
                }
                best
            })
            .collect())
    }
}
