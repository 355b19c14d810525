//! Data efficiency: stratified training subsets, learning curves over training fractions (the
//! notebook's section 6), summarised per model and fraction for the report to draw.
//!
//! The notebook takes `train_rows[:n]`, which can leave whole classes out of a small subset. Here a
//! subset of a fraction keeps the class proportions of the training split as scikit-learn's
//! `train_test_split(stratify=y)` allocates them, and always at least one video of every class.
//! Subsets of one seed are **nested**: each class's videos are put in one seeded random order and a
//! subset takes the first `k` of each class, so a larger fraction adds videos to a smaller one.

use std::time::Instant;

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::classical::models::ModelSpec;
use crate::classical::pipeline::{PrepOptions, Preprocessor};
use crate::error::{Error, Result};
use crate::features::layout::Layout;
use crate::metrics::{accuracy, precision_recall_f1};

/// The notebook's training fractions.
pub const NOTEBOOK_FRACTIONS: [f64; 5] = [0.1, 0.25, 0.5, 0.75, 1.0];

/// One point of a learning curve: a model trained on a fraction of the training split with one
/// seed, evaluated on the whole test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningRow {
    /// Model name, e.g. `Classical-RF`, `Deep-3D-R3D18`.
    pub model: String,
    /// The requested fraction of the training split.
    pub fraction: f64,
    /// Training videos actually used.
    pub n_train: usize,
    /// Seed of the subset (and of the model).
    pub seed: u64,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test macro F1.
    pub f1: f64,
    /// Training time in seconds.
    pub train_time_s: f64,
}

/// Videos per class in a stratified subset of `fraction` of a split with these class counts.
///
/// As scikit-learn's `StratifiedShuffleSplit` / `train_test_split(train_size=fraction,
/// stratify=y)`: `n = floor(fraction * total)` videos, shared by floor of the proportional share,
/// the rest one each to the classes with the largest remainders (scikit-learn breaks ties at random,
/// this picks the lower class index). Two differences, both so that no class goes missing: `n` is
/// at least the number of classes present, and a present class left at zero takes one video from
/// the class with the most. Classes with a count of zero stay at zero.
///
/// ```
/// use vidcompare::analysis::learning::stratified_counts;
/// assert_eq!(stratified_counts(&[6, 6, 6], 0.5), vec![3, 3, 3]);
/// assert_eq!(stratified_counts(&[10, 5, 3], 0.5), vec![5, 3, 1]); // 9 = floor(0.5 * 18)
/// assert_eq!(stratified_counts(&[6, 6, 6], 0.1), vec![1, 1, 1]);  // floor(1.8) = 1 < 3 classes
/// ```
pub fn stratified_counts(class_counts: &[usize], fraction: f64) -> Vec<usize> {
    let total: usize = class_counts.iter().sum();
    let present = class_counts.iter().filter(|&&c| c > 0).count();
    if total == 0 {
        return vec![0; class_counts.len()];
    }
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        1.0
    };
    // scikit-learn floors the same f64 product (0.7 * 10 = 6.999999999999999 gives 6), so do too.
    let n = ((fraction * total as f64).floor() as usize).clamp(present, total);
    let exact: Vec<f64> = class_counts
        .iter()
        .map(|&c| c as f64 * n as f64 / total as f64)
        .collect();
    let mut counts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut need = n - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..class_counts.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &c in &order {
        if need == 0 {
            break;
        }
        if counts[c] < class_counts[c] {
            counts[c] += 1;
            need -= 1;
        }
    }
    // Keep every present class: move one video from the fullest class to each empty one.
    for c in 0..class_counts.len() {
        if class_counts[c] > 0 && counts[c] == 0 {
            counts[c] = 1;
            if let Some(donor) = (0..counts.len())
                .filter(|&d| counts[d] > 1)
                .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
            {
                counts[donor] -= 1;
            }
        }
    }
    counts
}

/// Row indices (ascending) of a stratified subset of `fraction` of the videos labelled `y`, for
/// `seed`: [`stratified_counts`] videos of each class, the first ones of that class in an order
/// shuffled once per seed, so subsets of one seed are nested and the same seed gives the same
/// subset.
///
/// ```
/// use vidcompare::analysis::learning::stratified_subset;
/// let y = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2];
/// let half = stratified_subset(&y, 0.5, 7);
/// assert_eq!(half.len(), 6);
/// let quarter = stratified_subset(&y, 0.25, 7);
/// assert!(quarter.iter().all(|i| half.contains(i)));
/// assert_eq!(stratified_subset(&y, 1.0, 7), (0..12).collect::<Vec<_>>());
/// ```
pub fn stratified_subset(y: &[usize], fraction: f64, seed: u64) -> Vec<usize> {
    let n_classes = y.iter().max().map_or(0, |m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &c) in y.iter().enumerate() {
        by_class[c].push(i);
    }
    let counts = stratified_counts(&by_class.iter().map(Vec::len).collect::<Vec<_>>(), fraction);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (members, &k) in by_class.iter_mut().zip(&counts) {
        members.shuffle(&mut rng);
        out.extend_from_slice(&members[..k]);
    }
    out.sort_unstable();
    out
}

/// What [`classical_learning_curve`] trains.
#[derive(Debug, Clone)]
pub struct ClassicalCurve<'a> {
    /// Name of the curve's model in the rows, e.g. `Classical-RF`.
    pub name: &'a str,
    /// The classifier with fixed parameters (the notebook: a 200-tree random forest, no search).
    pub spec: ModelSpec,
    /// Imputation, scaling, weights and PCA, refitted on every subset.
    pub prep: PrepOptions,
    /// Number of classes.
    pub n_classes: usize,
    /// Fractions of the training split.
    pub fractions: &'a [f64],
    /// One curve per seed (the subsets' and the classifier's).
    pub seeds: &'a [u64],
}

/// The notebook's `learning_curve_classical_rf`, stratified and over several seeds: for every seed
/// and fraction, fit the preprocessing and the classifier on a stratified subset of the training
/// rows and evaluate on every test row. `train_time_s` times the classifier's fit only, as the
/// notebook does (`rf.fit`).
pub fn classical_learning_curve(
    x_train: &Array2<f64>,
    y_train: &[usize],
    layout: &Layout,
    x_test: &Array2<f64>,
    y_test: &[usize],
    curve: &ClassicalCurve<'_>,
) -> Result<Vec<LearningRow>> {
    if x_train.nrows() != y_train.len() || x_test.nrows() != y_test.len() {
        return Err(Error::InvalidArgument(format!(
            "learning curve `{}`: {} training rows for {} labels, {} test rows for {} labels",
            curve.name,
            x_train.nrows(),
            y_train.len(),
            x_test.nrows(),
            y_test.len()
        )));
    }
    if y_test.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "learning curve `{}`: the test split is empty",
            curve.name
        )));
    }
    for &f in curve.fractions {
        if !(f > 0.0 && f <= 1.0) {
            return Err(Error::InvalidArgument(format!(
                "learning curve `{}`: fraction {f} is not in (0, 1]",
                curve.name
            )));
        }
    }
    let mut rows = Vec::new();
    for &seed in curve.seeds {
        for &fraction in curve.fractions {
            if crate::interrupt::interrupted() {
                return Err(crate::interrupt::interrupted_error());
            }
            let idx = stratified_subset(y_train, fraction, seed);
            let x = x_train.select(Axis(0), &idx);
            let y: Vec<usize> = idx.iter().map(|&i| y_train[i]).collect();
            let (prep, xp) = Preprocessor::fit(&x, layout, &curve.prep)?;
            let t = Instant::now();
            let model = curve.spec.fit_model(&xp, &y, curve.n_classes, seed)?;
            let train_time_s = t.elapsed().as_secs_f64();
            let pred = model.try_predict(&prep.transform(x_test)?)?;
            rows.push(LearningRow {
                model: curve.name.to_string(),
                fraction,
                n_train: idx.len(),
                seed,
                accuracy: accuracy(y_test, &pred)?,
                f1: precision_recall_f1(y_test, &pred, curve.n_classes)?.f1,
                train_time_s,
            });
        }
    }
    Ok(rows)
}

/// Mean and spread of one model at one fraction over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearningPoint {
    /// Model name.
    pub model: String,
    /// Training fraction.
    pub fraction: f64,
    /// Mean training videos over the seeds (the same for every seed with stratified subsets).
    pub n_train: f64,
    /// Seeds averaged.
    pub n_seeds: usize,
    /// Mean accuracy and its population standard deviation over the seeds.
    pub accuracy: (f64, f64),
    /// Mean macro F1 and its standard deviation.
    pub f1: (f64, f64),
    /// Mean training time and its standard deviation.
    pub train_time_s: (f64, f64),
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

/// Group rows by model (in first-seen order) and fraction (ascending), averaging over seeds.
pub fn summarize(rows: &[LearningRow]) -> Vec<LearningPoint> {
    let mut models: Vec<&str> = Vec::new();
    for r in rows {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let mut out = Vec::new();
    for m in models {
        let mut fractions: Vec<f64> = rows
            .iter()
            .filter(|r| r.model == m)
            .map(|r| r.fraction)
            .collect();
        fractions.sort_by(f64::total_cmp);
        fractions.dedup();
        for f in fractions {
            let group: Vec<&LearningRow> = rows
                .iter()
                .filter(|r| r.model == m && r.fraction == f)
                .collect();
            let col =
                |g: fn(&LearningRow) -> f64| -> Vec<f64> { group.iter().map(|r| g(r)).collect() };
            out.push(LearningPoint {
                model: m.to_string(),
                fraction: f,
                n_train: mean_std(&col(|r| r.n_train as f64)).0,
                n_seeds: group.len(),
                accuracy: mean_std(&col(|r| r.accuracy)),
                f1: mean_std(&col(|r| r.f1)),
                train_time_s: mean_std(&col(|r| r.train_time_s)),
            });
        }
    }
    out
}
