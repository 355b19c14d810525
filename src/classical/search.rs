//! Model selection the way scikit-learn's `GridSearchCV(cv=3)` does it: stratified folds, a parameter grid, ranking, refit.
//!
//! The pieces mirror scikit-learn exactly where the notebook's numbers depend on them:
//!
//! - [`stratified_kfold`] reproduces `StratifiedKFold(n_splits=k, shuffle=False)` fold by fold
//!   (classes encoded by order of first appearance, round-robin allocation over the sorted codes,
//!   each class's samples given fold ids in blocks, in sample order);
//! - [`param_grid`] reproduces `list(ParameterGrid(grid))` (keys sorted, last key varies fastest);
//! - [`GridSearch::run`] scores each candidate by fold accuracy, ranks by mean with
//!   `rankdata(-means, method="min")`, picks the lowest index among rank 1 and refits it on all data.

use std::time::Instant;

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A classifier configuration that can be trained; one grid point of a search.
///
/// The models module implements this for SVM, Random Forest and kNN; a search only needs `fit`.
pub trait Estimator: Send + Sync {
    /// Trains on `x` (rows = samples) with labels `y` in `0..n_classes`. `n_classes` is the number of
    /// classes of the whole problem, so score vectors keep that width even when a training fold
    /// lacks a class; `seed` makes any randomness reproducible.
    fn fit(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        seed: u64,
    ) -> Result<Box<dyn Fitted>>;

    /// The hyper-parameters, as a JSON object keyed like scikit-learn's parameter names.
    fn describe(&self) -> serde_json::Value;
}

/// A trained classifier.
pub trait Fitted: Send + Sync {
    /// The predicted class of each row of `x`.
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<usize>>;

    /// One score vector of length `n_classes` per row of `x` (probabilities, or softmaxed
    /// decision values), used for ROC AUC.
    fn scores(&self, x: &Array2<f64>) -> Result<Vec<Vec<f64>>>;
}

/// The folds of scikit-learn's `StratifiedKFold(n_splits=k, shuffle=False).split(X, y)`, as
/// `(train, test)` index lists, both ascending, in fold order.
///
/// Errors when `k < 2`, when there are fewer than `k` samples, or when every class has fewer than
/// `k` members (the cases where scikit-learn raises). When only some classes are that small,
/// scikit-learn merely warns; [`stratification_warning`] gives that message.
pub fn stratified_kfold(y: &[usize], k: usize) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    if k < 2 {
        return Err(Error::InvalidArgument(format!(
            "stratified k-fold needs at least 2 folds, got k={k}"
        )));
    }
    if k > y.len() {
        return Err(Error::InvalidArgument(format!(
            "cannot have number of splits k={k} greater than the number of samples: n_samples={}",
            y.len()
        )));
    }
    let (codes, counts) = encode_by_first_appearance(y);
    if counts.iter().all(|&c| c < k) {
        return Err(Error::InvalidArgument(format!(
            "k={k} folds cannot be greater than the number of members in each class \
             (class sizes {counts:?})"
        )));
    }
    let n_classes = counts.len();

    // allocation[f][c]: how many members of class c fold f tests. scikit-learn deals the sorted
    // class codes round-robin over the folds; sorted codes are runs of each class, so position p
    // of the sorted vector holds class c for p in [start_c, start_c + count_c).
    let mut allocation = vec![vec![0usize; n_classes]; k];
    let mut position = 0usize;
    for (c, &count) in counts.iter().enumerate() {
        for p in position..position + count {
            allocation[p % k][c] += 1;
        }
        position += count;
    }

    // Each class's samples, in sample order, take fold ids 0,0,..,1,1,.. in allocation-sized blocks.
    let mut next_fold = vec![0usize; n_classes];
    let mut used_in_fold = vec![0usize; n_classes];
    let mut test_fold = vec![0usize; y.len()];
    for (i, &c) in codes.iter().enumerate() {
        while used_in_fold[c] == allocation[next_fold[c]][c] {
            next_fold[c] += 1;
            used_in_fold[c] = 0;
        }
        test_fold[i] = next_fold[c];
        used_in_fold[c] += 1;
    }

    Ok((0..k)
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..y.len()).partition(|&i| test_fold[i] == f);
            (train, test)
        })
        .collect())
}

/// scikit-learn's `UserWarning` for [`stratified_kfold`]: `Some(message)` when the least populated
/// class has fewer than `k` members (but the split is still possible), else `None`.
pub fn stratification_warning(y: &[usize], k: usize) -> Option<String> {
    let (_, counts) = encode_by_first_appearance(y);
    let min = *counts.iter().min()?;
    (k > min).then(|| {
        format!("the least populated class in y has only {min} members, which is less than k={k}")
    })
}

/// Class codes in order of first appearance (scikit-learn encodes this way so that fold contents
/// do not depend on the label values), and the member count of each code.
fn encode_by_first_appearance(y: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut code_of = std::collections::HashMap::new();
    let mut counts = Vec::new();
    let codes = y
        .iter()
        .map(|&label| {
            let code = *code_of.entry(label).or_insert_with(|| {
                counts.push(0);
                counts.len() - 1
            });
            counts[code] += 1;
            code
        })
        .collect();
    (codes, counts)
}

/// Expands a parameter grid exactly like `list(sklearn.model_selection.ParameterGrid(grid))`: keys
/// sorted, the cartesian product taken with the last sorted key varying fastest.
///
/// A key given twice keeps its last values, as a Python dict literal would. A key with no values
/// gives an empty grid; no keys at all gives one empty parameter set.
pub fn param_grid(
    grid: &[(&str, Vec<serde_json::Value>)],
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut items: std::collections::BTreeMap<&str, &[serde_json::Value]> =
        std::collections::BTreeMap::new();
    for (key, values) in grid {
        items.insert(key, values);
    }
    let items: Vec<(&str, &[serde_json::Value])> = items.into_iter().collect();
    let mut out = vec![serde_json::Map::new()];
    for (key, values) in items {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut point = prefix.clone();
                    point.insert(key.to_string(), v.clone());
                    point
                })
            })
            .collect();
    }
    out
}

/// A `GridSearchCV(estimator, grid, cv=k)` with accuracy scoring, folds run in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridSearch {
    /// Number of stratified folds (the notebook uses 3).
    pub k: usize,
    /// Seed given to every fit, as scikit-learn clones the estimator with the same `random_state`
    /// for each fold and for the refit.
    pub seed: u64,
}

/// One candidate's line of `cv_results_`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRow {
    /// The candidate's [`Estimator::describe`].
    pub params: serde_json::Value,
    /// Test-fold accuracy per fold (`split{i}_test_score`); NaN (null in JSON) where the fit failed.
    #[serde(with = "crate::classical::preprocess::nan_as_null::vec")]
    pub fold_scores: Vec<f64>,
    /// Mean of the fold accuracies (`mean_test_score`); NaN if any fold failed.
    #[serde(with = "crate::classical::preprocess::nan_as_null::scalar")]
    pub mean: f64,
    /// Population standard deviation of the fold accuracies (`std_test_score`).
    #[serde(with = "crate::classical::preprocess::nan_as_null::scalar")]
    pub std: f64,
    /// `rank_test_score`: 1 + the number of candidates with a strictly higher mean; failed
    /// candidates tie for last.
    pub rank: usize,
    /// Mean training time per fold in seconds (`mean_fit_time`).
    pub fit_seconds: f64,
    /// Why a fit failed, if one did (scikit-learn's `error_score=nan` keeps searching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of [`GridSearch::run`].
#[derive(Serialize)]
pub struct SearchResult {
    /// One row per candidate, in grid order.
    pub rows: Vec<CandidateRow>,
    /// `best_index_`: the first candidate (in grid order) with rank 1.
    pub best_index: usize,
    /// `best_estimator_`: the best candidate refitted on all the data.
    #[serde(skip)]
    pub best: Box<dyn Fitted>,
    /// Wall-clock seconds for the whole search, refit included.
    pub total_seconds: f64,
    /// Warnings scikit-learn would have printed (small classes, failed fits).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for SearchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchResult")
            .field("rows", &self.rows)
            .field("best_index", &self.best_index)
            .field("total_seconds", &self.total_seconds)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// One cross-validation fold as matrices: the rows a candidate is fitted on and the held-out
/// rows it is scored on.
#[derive(Debug, Clone)]
pub struct Fold {
    /// Training rows of the fold.
    pub x_train: Array2<f64>,
    /// Their labels.
    pub y_train: Vec<usize>,
    /// Held-out rows.
    pub x_test: Array2<f64>,
    /// Their labels.
    pub y_test: Vec<usize>,
}

impl GridSearch {
    /// Cross-validates every candidate on the same stratified folds of `(x, y)`, ranks them by mean
    /// fold accuracy and refits the best on all of `x`.
    ///
    /// Errors on mismatched or empty inputs, labels outside `0..n_classes`, impossible folds, when
    /// every candidate fails, or when the refit fails.
    pub fn run(
        &self,
        candidates: &[Box<dyn Estimator>],
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
    ) -> Result<SearchResult> {
        self.check(candidates, x, y, n_classes)?;
        let folds: Vec<Fold> = stratified_kfold(y, self.k)?
            .into_iter()
            .map(|(train, test)| Fold {
                x_train: x.select(Axis(0), &train),
                y_train: train.iter().map(|&i| y[i]).collect(),
                x_test: x.select(Axis(0), &test),
                y_test: test.iter().map(|&i| y[i]).collect(),
            })
            .collect();
        self.run_on_folds(candidates, &folds, x, y, n_classes)
    }

    /// [`GridSearch::run`] on folds given as matrices, e.g. each preprocessed by a transform
    /// fitted on its own training rows (scikit-learn's `Pipeline` inside `GridSearchCV`); the
    /// best candidate is refitted on `(x, y)`. The stratification warning is that of `y`'s
    /// `self.k` folds.
    pub fn run_on_folds(
        &self,
        candidates: &[Box<dyn Estimator>],
        folds: &[Fold],
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
    ) -> Result<SearchResult> {
        let started = Instant::now();
        self.check(candidates, x, y, n_classes)?;
        if folds.is_empty() {
            return Err(Error::InvalidArgument(
                "grid search needs at least one fold".into(),
            ));
        }
        let mut warnings: Vec<String> = stratification_warning(y, self.k).into_iter().collect();

        // Every (candidate, fold) fit is independent; rayon spreads them over the cores while the
        // result order stays candidate-major, fold-minor.
        let jobs: Vec<(usize, usize)> = (0..candidates.len())
            .flat_map(|c| (0..folds.len()).map(move |f| (c, f)))
            .collect();
        let outcomes: Vec<(Result<f64>, f64)> = jobs
            .par_iter()
            .map(|&(c, f)| {
                let fold = &folds[f];
                let t0 = Instant::now();
                let fitted = candidates[c].fit(&fold.x_train, &fold.y_train, n_classes, self.seed);
                let fit_seconds = t0.elapsed().as_secs_f64();
                let score = fitted.and_then(|model| {
                    let predicted = model.predict(&fold.x_test)?;
                    let correct = fold
                        .y_test
                        .iter()
                        .zip(&predicted)
                        .filter(|&(t, p)| t == p)
                        .count();
                    Ok(correct as f64 / fold.y_test.len() as f64)
                });
                (score, fit_seconds)
            })
            .collect();

        let mut rows = Vec::with_capacity(candidates.len());
        for (c, chunk) in outcomes.chunks(folds.len()).enumerate() {
            let mut error = None;
            let fold_scores: Vec<f64> = chunk
                .iter()
                .map(|(score, _)| match score {
                    Ok(s) => *s,
                    Err(e) => {
                        error.get_or_insert_with(|| e.to_string());
                        f64::NAN
                    }
                })
                .collect();
            let (mean, std) = mean_and_std(&fold_scores);
            let fit_seconds = chunk.iter().map(|(_, t)| t).sum::<f64>() / chunk.len() as f64;
            if let Some(e) = &error {
                warnings.push(format!(
                    "candidate {c} ({}) failed: {e}",
                    candidates[c].describe()
                ));
            }
            rows.push(CandidateRow {
                params: candidates[c].describe(),
                fold_scores,
                mean,
                std,
                rank: 0,
                fit_seconds,
                error,
            });
        }
        if rows.iter().all(|r| r.mean.is_nan()) {
            let first = rows.iter().find_map(|r| r.error.clone());
            return Err(Error::InvalidArgument(format!(
                "grid search: every candidate failed to fit (first error: {})",
                first.unwrap_or_else(|| "non-finite scores".into())
            )));
        }
        let means: Vec<f64> = rows.iter().map(|r| r.mean).collect();
        for (row, rank) in rows.iter_mut().zip(rank_min(&means)) {
            row.rank = rank;
        }
        let best_index = rows
            .iter()
            .position(|r| r.rank == 1)
            .expect("rank 1 exists when some mean is finite");
        let best = candidates[best_index].fit(x, y, n_classes, self.seed)?;
        Ok(SearchResult {
            rows,
            best_index,
            best,
            total_seconds: started.elapsed().as_secs_f64(),
            warnings,
        })
    }

    fn check(
        &self,
        candidates: &[Box<dyn Estimator>],
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
    ) -> Result<()> {
        if candidates.is_empty() {
            return Err(Error::InvalidArgument(
                "grid search needs at least one candidate".into(),
            ));
        }
        if x.nrows() != y.len() {
            return Err(Error::InvalidArgument(format!(
                "grid search: x has {} rows but y has {} labels",
                x.nrows(),
                y.len()
            )));
        }
        if let Some(&bad) = y.iter().find(|&&label| label >= n_classes) {
            return Err(Error::InvalidArgument(format!(
                "grid search: label {bad} is outside 0..{n_classes}"
            )));
        }
        Ok(())
    }
}

/// Mean and population standard deviation, summed left to right like numpy does for so few
/// values, so that exact ties between candidates stay ties.
fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().fold(0.0, |acc, v| acc + v) / n;
    let var = values
        .iter()
        .fold(0.0, |acc, v| acc + (v - mean) * (v - mean))
        / n;
    (mean, var.sqrt())
}

/// `scipy.stats.rankdata(-means, method="min")` after scikit-learn replaces NaN means by
/// `nanmin - 1`, i.e. failed candidates tie for last place.
fn rank_min(means: &[f64]) -> Vec<usize> {
    let floor = means
        .iter()
        .copied()
        .filter(|m| !m.is_nan())
        .fold(f64::INFINITY, f64::min)
        - 1.0;
    let value = |m: f64| if m.is_nan() { floor } else { m };
    means
        .iter()
        .map(|&m| 1 + means.iter().filter(|&&o| value(o) > value(m)).count())
        .collect()
}
