//! How sure the comparison is: stratified bootstrap intervals per model and paired tests per pair.
//!
//! With a few dozen test videos one video moves accuracy by several points, so every number the
//! report ranks on comes with an interval, and two models are only called different when the data
//! say so.
//!
//! - **Per model:** accuracy and macro F1 with a percentile bootstrap interval (95 %, 2,000
//!   resamples by default). Resampling is *stratified*: each resample draws, with replacement, as
//!   many videos from each true class as the test set has, so every class keeps its size and macro
//!   F1 is defined on every resample.
//! - **Per pair on the same test videos:** the exact McNemar test on the videos where exactly one
//!   model is right, and a paired bootstrap interval of the accuracy difference A - B that uses the
//!   same resamples for both models (so what the two models share cancels out).
//!
//! Resample generation ([`Resamples::stratified`]) is separate from the statistics over given
//! index sets ([`accuracy_values`], [`macro_f1_values`], [`accuracy_diff_values`]), so the
//! statistics are tested against NumPy / scikit-learn over the very same index sets. Percentiles
//! are NumPy's default (`np.percentile(values, q)`, `linear`), operation for operation, and the
//! McNemar p-value is `statsmodels.stats.contingency_tables.mcnemar(table, exact=True).pvalue`.
//!
//! ```
//! use vidcompare::uncertainty::{compare_pair, Bootstrap, TestPredictions};
//! let videos: Vec<String> = (0..6).map(|i| format!("v{i}.mp4")).collect();
//! let y_true = [0, 0, 0, 1, 1, 1];
//! let a = TestPredictions { model: "svm", videos: &videos, y_true: &y_true, y_pred: &[0, 0, 0, 1, 1, 1] };
//! let b = TestPredictions { model: "knn", videos: &videos, y_true: &y_true, y_pred: &[0, 0, 1, 1, 1, 0] };
//! let cmp = compare_pair(&a, &b, &Bootstrap::default()).unwrap();
//! assert_eq!((cmp.b_only, cmp.c_only), (2, 0));
//! assert_eq!(cmp.mcnemar_p, 0.5); // 2 * P(X <= 0), X ~ Binomial(2, 1/2)
//! ```

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::metrics::np_sum;
use crate::{Error, Result};

/// Resamples per bootstrap unless told otherwise.
pub const DEFAULT_RESAMPLES: usize = 2_000;
/// Coverage of the intervals unless told otherwise.
pub const DEFAULT_LEVEL: f64 = 0.95;
/// Seed of the resamples unless told otherwise (the run's default `seed`).
pub const DEFAULT_SEED: u64 = 42;

/// How to bootstrap: number of resamples, interval coverage and seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Number of resamples (default [`DEFAULT_RESAMPLES`]).
    pub resamples: usize,
    /// Coverage of the percentile interval, in (0, 1) (default [`DEFAULT_LEVEL`]).
    pub level: f64,
    /// Seed of the ChaCha8 stream the resamples are drawn from (default [`DEFAULT_SEED`]).
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: DEFAULT_RESAMPLES,
            level: DEFAULT_LEVEL,
            seed: DEFAULT_SEED,
        }
    }
}

/// A percentile bootstrap interval and how it was made.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end: the `100 (1 - level) / 2` percentile of the resampled statistic.
    pub low: f64,
    /// Upper end: the `100 (1 + level) / 2` percentile of the resampled statistic.
    pub high: f64,
    /// Nominal coverage, e.g. 0.95.
    pub level: f64,
    /// Number of resamples the percentiles were taken over.
    pub resamples: usize,
    /// Seed of the resamples; `None` when the index sets came from elsewhere
    /// ([`Resamples::from_sets`]).
    pub seed: Option<u64>,
}

impl Interval {
    /// The interval of `values` (one statistic per resample) at coverage `level`: NumPy's
    /// `np.percentile(values, [100 (1 - level) / 2, 100 (1 + level) / 2])`.
    pub fn from_values(
        values: &[f64],
        level: f64,
        resamples: usize,
        seed: Option<u64>,
    ) -> Result<Interval> {
        let (low, high) = percentile_interval(values, level)?;
        Ok(Interval {
            low,
            high,
            level,
            resamples,
            seed,
        })
    }

    /// True when `x` lies in `[low, high]`.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Bootstrap resample index sets over a test set of `n` videos: each set holds `n` indices into
/// the test set (drawn with replacement).
#[derive(Debug, Clone, PartialEq)]
pub struct Resamples {
    n: usize,
    seed: Option<u64>,
    // All sets back to back, `n` indices each; u32 keeps 2,000 resamples of a few thousand videos
    // small, and test sets of 4 billion videos are not a concern.
    indices: Vec<u32>,
}

impl Resamples {
    /// `resamples` stratified resamples of the test set whose true labels are `y_true`: each set
    /// draws, for every true class in ascending order, as many indices as the class has videos,
    /// uniformly with replacement from that class's videos. The draws come from one ChaCha8 stream
    /// seeded with `seed` (as `u32` ranges, so the sets are the same on every platform).
    ///
    /// ```
    /// use vidcompare::uncertainty::Resamples;
    /// let r = Resamples::stratified(&[1, 0, 1, 1], 3, 7).unwrap();
    /// assert_eq!((r.len(), r.n()), (3, 4));
    /// // Class 0 (index 1) keeps its one video; class 1 draws three of indices 0, 2, 3.
    /// for set in r.iter() {
    ///     assert_eq!(set[0], 1);
    ///     assert!(set[1..].iter().all(|&i| [0, 2, 3].contains(&i)));
    /// }
    /// ```
    pub fn stratified(y_true: &[usize], resamples: usize, seed: u64) -> Result<Resamples> {
        let n = y_true.len();
        if n == 0 {
            return Err(Error::InvalidArgument(
                "bootstrap: the test set is empty".into(),
            ));
        }
        if resamples == 0 {
            return Err(Error::InvalidArgument(
                "bootstrap: at least one resample is needed".into(),
            ));
        }
        if u32::try_from(n).is_err() {
            return Err(Error::InvalidArgument(format!(
                "bootstrap: {n} test videos is more than this module indexes (u32)"
            )));
        }
        let mut by_class: Vec<(usize, Vec<u32>)> = Vec::new();
        {
            let mut slot: HashMap<usize, usize> = HashMap::new();
            for (i, &c) in y_true.iter().enumerate() {
                let s = *slot.entry(c).or_insert_with(|| {
                    by_class.push((c, Vec::new()));
                    by_class.len() - 1
                });
                by_class[s].1.push(i as u32);
            }
        }
        by_class.sort_by_key(|(c, _)| *c);

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut indices = Vec::with_capacity(resamples * n);
        for _ in 0..resamples {
            for (_, members) in &by_class {
                let m = members.len() as u32;
                for _ in 0..m {
                    indices.push(members[rng.gen_range(0..m) as usize]);
                }
            }
        }
        Ok(Resamples {
            n,
            seed: Some(seed),
            indices,
        })
    }

    /// Index sets made elsewhere (e.g. by NumPy), each of `n` indices below `n`.
    pub fn from_sets(n: usize, sets: &[Vec<usize>]) -> Result<Resamples> {
        if n == 0 || sets.is_empty() {
            return Err(Error::InvalidArgument(
                "bootstrap: need a non-empty test set and at least one index set".into(),
            ));
        }
        if u32::try_from(n).is_err() {
            return Err(Error::InvalidArgument(format!(
                "bootstrap: {n} test videos is more than this module indexes (u32)"
            )));
        }
        let mut indices = Vec::with_capacity(sets.len() * n);
        for (r, set) in sets.iter().enumerate() {
            if set.len() != n {
                return Err(Error::InvalidArgument(format!(
                    "bootstrap: index set {r} has {} indices, expected {n}",
                    set.len()
                )));
            }
            if let Some(&bad) = set.iter().find(|&&i| i >= n) {
                return Err(Error::InvalidArgument(format!(
                    "bootstrap: index set {r} holds index {bad}, but the test set has {n} videos"
                )));
            }
            indices.extend(set.iter().map(|&i| i as u32));
        }
        Ok(Resamples {
            n,
            seed: None,
            indices,
        })
    }

    /// Number of resamples.
    pub fn len(&self) -> usize {
        self.indices.len() / self.n
    }

    /// True when there is no resample (never, for a value built by this module's constructors).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Number of videos in the test set (and indices per set).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The seed the sets were drawn with; `None` for [`Resamples::from_sets`].
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Index set `r` (`r < len()`).
    pub fn set(&self, r: usize) -> &[u32] {
        &self.indices[r * self.n..(r + 1) * self.n]
    }

    /// The index sets in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.indices.chunks_exact(self.n)
    }
}

/// Accuracy on every resample: `np.mean(y_true[idx] == y_pred[idx])` for each index set `idx`.
pub fn accuracy_values(
    y_true: &[usize],
    y_pred: &[usize],
    resamples: &Resamples,
) -> Result<Vec<f64>> {
    check_predictions("y_pred", y_true, y_pred, resamples)?;
    let correct: Vec<bool> = y_true.iter().zip(y_pred).map(|(t, p)| t == p).collect();
    Ok(correct_counts(&correct, resamples)
        .into_iter()
        .map(|k| k as f64 / resamples.n as f64)
        .collect())
}

/// Accuracy difference A - B on every resample, both models over the same index set:
/// `np.mean(y_true[idx] == a[idx]) - np.mean(y_true[idx] == b[idx])`.
pub fn accuracy_diff_values(
    y_true: &[usize],
    pred_a: &[usize],
    pred_b: &[usize],
    resamples: &Resamples,
) -> Result<Vec<f64>> {
    let acc_a = accuracy_values(y_true, pred_a, resamples)?;
    let acc_b = accuracy_values(y_true, pred_b, resamples)?;
    // Subtracting the two accuracies (rather than dividing the count difference) is NumPy's order
    // of operations, so the values agree bit for bit.
    Ok(acc_a.iter().zip(&acc_b).map(|(a, b)| a - b).collect())
}

/// The classes macro F1 averages over on the whole test set: those in `y_true` or `y_pred`,
/// ascending (scikit-learn's choice without `labels=`, and [`crate::metrics`]'s).
pub fn macro_labels(y_true: &[usize], y_pred: &[usize]) -> Vec<usize> {
    let mut labels: Vec<usize> = y_true.iter().chain(y_pred).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    labels
}

/// Macro F1 over the classes `labels` on every resample:
/// `f1_score(y_true[idx], y_pred[idx], labels=labels, average='macro', zero_division=0)`.
///
/// Pass the whole test set's [`macro_labels`], so that every resample averages over the same
/// classes as the point estimate (a class only predicted counts 0 whether or not a resample draws
/// it); with the full index set the value is then exactly scikit-learn's `f1_score(y_true, y_pred,
/// average='macro', zero_division=0)` and [`crate::metrics::precision_recall_f1`]'s `f1`.
pub fn macro_f1_values(
    y_true: &[usize],
    y_pred: &[usize],
    labels: &[usize],
    resamples: &Resamples,
) -> Result<Vec<f64>> {
    check_predictions("y_pred", y_true, y_pred, resamples)?;
    if labels.is_empty() {
        return Err(Error::InvalidArgument(
            "macro F1: no class to average over".into(),
        ));
    }
    let k = labels.len();
    let slot_of: HashMap<usize, u32> = labels
        .iter()
        .enumerate()
        .map(|(s, &c)| (c, s as u32))
        .collect();
    if slot_of.len() != k {
        return Err(Error::InvalidArgument(format!(
            "macro F1: the class list {labels:?} repeats a class"
        )));
    }
    // Classes outside `labels` count for none of them, as with scikit-learn's `labels=`.
    const NONE: u32 = u32::MAX;
    let slot = |c: &usize| slot_of.get(c).copied().unwrap_or(NONE);
    let t_slot: Vec<u32> = y_true.iter().map(slot).collect();
    let p_slot: Vec<u32> = y_pred.iter().map(slot).collect();

    let mut tp = vec![0u32; k];
    let mut true_sum = vec![0u32; k];
    let mut pred_sum = vec![0u32; k];
    let mut f1 = vec![0f64; k];
    let mut out = Vec::with_capacity(resamples.len());
    for set in resamples.iter() {
        tp.fill(0);
        true_sum.fill(0);
        pred_sum.fill(0);
        for &i in set {
            let (t, p) = (t_slot[i as usize], p_slot[i as usize]);
            if t != NONE {
                true_sum[t as usize] += 1;
                if t == p {
                    tp[t as usize] += 1;
                }
            }
            if p != NONE {
                pred_sum[p as usize] += 1;
            }
        }
        for s in 0..k {
            // scikit-learn: (1 + b²) tp / (b² true_sum + pred_sum), b = 1, 0 where the sum is 0.
            let denom = 1.0 * true_sum[s] as f64 + pred_sum[s] as f64;
            f1[s] = if denom == 0.0 {
                0.0
            } else {
                2.0 * tp[s] as f64 / denom
            };
        }
        out.push(np_sum(&f1) / k as f64);
    }
    Ok(out)
}

/// NumPy's `np.percentile(values, q)` with the default `linear` method, `0 <= q <= 100`,
/// reproduced operation for operation (virtual index `(n - 1) q / 100`, then NumPy's `_lerp`).
///
/// ```
/// use vidcompare::uncertainty::percentile;
/// assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 50.0).unwrap(), 2.5);
/// assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 2.5).unwrap(), 1.075);
/// ```
pub fn percentile(values: &[f64], q: f64) -> Result<f64> {
    let sorted = sorted_finite(values)?;
    percentile_sorted(&sorted, q)
}

/// The percentile interval of coverage `level` in (0, 1): `np.percentile(values, [lo, hi])` with
/// `lo = (100 - 100 level) / 2` and `hi = 100 - lo` (2.5 and 97.5 exactly for 0.95).
pub fn percentile_interval(values: &[f64], level: f64) -> Result<(f64, f64)> {
    check_level(level)?;
    let sorted = sorted_finite(values)?;
    // 100 * 0.95 rounds to exactly 95, whereas (1 - 0.95) / 2 * 100 would be 2.5000000000000044.
    let lo = (100.0 - 100.0 * level) / 2.0;
    let hi = 100.0 - lo;
    Ok((
        percentile_sorted(&sorted, lo)?,
        percentile_sorted(&sorted, hi)?,
    ))
}

/// Exact two-sided McNemar p-value from the two disagreement counts `b` and `c`:
/// `min(1, 2 P(X <= min(b, c)))` with `X ~ Binomial(b + c, 1/2)`, as statsmodels'
/// `mcnemar([[a, b], [c, d]], exact=True).pvalue`; 1 when `b + c = 0`.
///
/// ```
/// use vidcompare::uncertainty::mcnemar_exact;
/// assert_eq!(mcnemar_exact(0, 5), 0.0625); // 2 / 2^5
/// assert_eq!(mcnemar_exact(3, 3), 1.0);
/// ```
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let k = b.min(c);
    let n = b + c;
    (2.0 * binom_cdf_half(k, n)).min(1.0)
}

/// One model's accuracy and macro F1 on its test set, each with its bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIntervals {
    /// Accuracy on the whole test set.
    pub accuracy: f64,
    /// Stratified bootstrap percentile interval of the accuracy.
    pub accuracy_interval: Interval,
    /// Macro F1 on the whole test set (over [`macro_labels`]), as [`crate::metrics`] reports it.
    pub macro_f1: f64,
    /// Stratified bootstrap percentile interval of the macro F1, over the same classes.
    pub macro_f1_interval: Interval,
}

/// Accuracy and macro F1 of one model with their stratified bootstrap intervals.
pub fn model_intervals(
    y_true: &[usize],
    y_pred: &[usize],
    bootstrap: &Bootstrap,
) -> Result<ModelIntervals> {
    check_level(bootstrap.level)?;
    let resamples = Resamples::stratified(y_true, bootstrap.resamples, bootstrap.seed)?;
    model_intervals_over(y_true, y_pred, &resamples, bootstrap.level)
}

/// [`model_intervals`] over given resamples (e.g. ones shared by every model on this test set).
pub fn model_intervals_over(
    y_true: &[usize],
    y_pred: &[usize],
    resamples: &Resamples,
    level: f64,
) -> Result<ModelIntervals> {
    let labels = macro_labels(y_true, y_pred);
    let full = Resamples::from_sets(y_true.len(), &[(0..y_true.len()).collect()])?;
    let accuracy = accuracy_values(y_true, y_pred, &full)?[0];
    let macro_f1 = macro_f1_values(y_true, y_pred, &labels, &full)?[0];
    let acc = accuracy_values(y_true, y_pred, resamples)?;
    let f1 = macro_f1_values(y_true, y_pred, &labels, resamples)?;
    Ok(ModelIntervals {
        accuracy,
        accuracy_interval: Interval::from_values(&acc, level, resamples.len(), resamples.seed)?,
        macro_f1,
        macro_f1_interval: Interval::from_values(&f1, level, resamples.len(), resamples.seed)?,
    })
}

/// One model's predictions on its test set, as the paired comparison needs them.
#[derive(Debug, Clone, Copy)]
pub struct TestPredictions<'a> {
    /// The model's name, as the report shows it.
    pub model: &'a str,
    /// The test videos (ids or paths as listed in the split), one per prediction; two models are
    /// compared only when these are the same videos (in any order).
    pub videos: &'a [String],
    /// True class of each video.
    pub y_true: &'a [usize],
    /// Predicted class of each video.
    pub y_pred: &'a [usize],
}

/// Two models compared on the same test videos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// Name of model A.
    pub a: String,
    /// Name of model B.
    pub b: String,
    /// Number of test videos both were evaluated on.
    pub n: usize,
    /// Videos A classified right and B wrong (McNemar's `b`).
    pub b_only: usize,
    /// Videos A classified wrong and B right (McNemar's `c`).
    pub c_only: usize,
    /// Exact two-sided McNemar p-value on `b_only` and `c_only` ([`mcnemar_exact`]).
    pub mcnemar_p: f64,
    /// Accuracy of A minus accuracy of B on the whole test set.
    pub diff: f64,
    /// Paired stratified bootstrap percentile interval of `diff` (same resamples for A and B).
    pub diff_interval: Interval,
}

/// Significance level of the exact McNemar test in [`PairedComparison::differs`].
pub const MCNEMAR_ALPHA: f64 = 0.05;

impl PairedComparison {
    /// True when the interval of the accuracy difference excludes 0. Necessary before the report
    /// may say one model is more accurate than the other on these videos; see [`Self::differs`].
    pub fn distinguishable(&self) -> bool {
        self.diff_interval.low > 0.0 || self.diff_interval.high < 0.0
    }

    /// What the report requires to call one model more accurate than the other on these videos:
    /// the paired bootstrap interval excludes 0 *and* the exact McNemar test rejects equal error
    /// rates at [`MCNEMAR_ALPHA`]. On a few dozen videos a percentile bootstrap interval is too
    /// narrow (a model that is right or wrong on every resample gives an interval of width 0), so
    /// the exact test guards it.
    pub fn differs(&self) -> bool {
        self.distinguishable() && self.mcnemar_p < MCNEMAR_ALPHA
    }
}

/// McNemar test and paired bootstrap interval of the accuracy difference A - B. Refuses models
/// evaluated on different test videos, or that disagree on a video's true class.
pub fn compare_pair(
    a: &TestPredictions,
    b: &TestPredictions,
    bootstrap: &Bootstrap,
) -> Result<PairedComparison> {
    let mut all = compare_all(&[*a, *b], bootstrap)?;
    Ok(all.remove(0))
}

/// Every pair `(i, j)`, `i < j`, of `models` (in that order), all evaluated on the same test
/// videos. The resamples are drawn once, stratified by the true classes of `models[0]`'s video
/// order, and shared by all pairs.
pub fn compare_all(
    models: &[TestPredictions],
    bootstrap: &Bootstrap,
) -> Result<Vec<PairedComparison>> {
    check_level(bootstrap.level)?;
    let Some(first) = models.first() else {
        return Ok(Vec::new());
    };
    let y_true = first.y_true;
    // Every model's predictions in the first model's video order.
    let preds: Vec<Vec<usize>> = models
        .iter()
        .map(|m| aligned_predictions(first, m))
        .collect::<Result<_>>()?;
    let resamples = Resamples::stratified(y_true, bootstrap.resamples, bootstrap.seed)?;
    compare_aligned(models, y_true, &preds, &resamples, bootstrap.level)
}

/// [`compare_pair`] over given resamples (of the test set in `a`'s video order), e.g. NumPy's.
pub fn compare_pair_over(
    a: &TestPredictions,
    b: &TestPredictions,
    resamples: &Resamples,
    level: f64,
) -> Result<PairedComparison> {
    check_level(level)?;
    let models = [*a, *b];
    let preds = vec![aligned_predictions(a, a)?, aligned_predictions(a, b)?];
    let mut all = compare_aligned(&models, a.y_true, &preds, resamples, level)?;
    Ok(all.remove(0))
}

fn compare_aligned(
    models: &[TestPredictions],
    y_true: &[usize],
    preds: &[Vec<usize>],
    resamples: &Resamples,
    level: f64,
) -> Result<Vec<PairedComparison>> {
    let n = y_true.len();
    if resamples.n != n {
        return Err(Error::InvalidArgument(format!(
            "bootstrap: the resamples index {} videos, the test set has {n}",
            resamples.n
        )));
    }
    // Per-resample accuracy of each model once; a pair's differences are then one subtraction.
    let acc: Vec<Vec<f64>> = preds
        .iter()
        .map(|p| accuracy_values(y_true, p, resamples))
        .collect::<Result<_>>()?;
    let full_acc: Vec<f64> = preds
        .iter()
        .map(|p| y_true.iter().zip(p).filter(|(t, q)| t == q).count() as f64 / n as f64)
        .collect();
    let mut out = Vec::with_capacity(models.len() * models.len().saturating_sub(1) / 2);
    let mut diffs = vec![0f64; resamples.len()];
    for i in 0..models.len() {
        for j in i + 1..models.len() {
            let (mut b_only, mut c_only) = (0, 0);
            for ((t, pa), pb) in y_true.iter().zip(&preds[i]).zip(&preds[j]) {
                match (pa == t, pb == t) {
                    (true, false) => b_only += 1,
                    (false, true) => c_only += 1,
                    _ => {}
                }
            }
            for (d, (x, y)) in diffs.iter_mut().zip(acc[i].iter().zip(&acc[j])) {
                *d = x - y;
            }
            out.push(PairedComparison {
                a: models[i].model.to_string(),
                b: models[j].model.to_string(),
                n,
                b_only,
                c_only,
                mcnemar_p: mcnemar_exact(b_only, c_only),
                diff: full_acc[i] - full_acc[j],
                diff_interval: Interval::from_values(
                    &diffs,
                    level,
                    resamples.len(),
                    resamples.seed,
                )?,
            });
        }
    }
    Ok(out)
}

/// `m`'s predictions reordered to `reference`'s video order, after checking that both were
/// evaluated on the same videos with the same true classes.
fn aligned_predictions(reference: &TestPredictions, m: &TestPredictions) -> Result<Vec<usize>> {
    for p in [reference, m] {
        if p.videos.len() != p.y_true.len() || p.y_pred.len() != p.y_true.len() {
            return Err(Error::InvalidArgument(format!(
                "model {}: {} test videos, {} true labels, {} predictions",
                p.model,
                p.videos.len(),
                p.y_true.len(),
                p.y_pred.len()
            )));
        }
    }
    let different = |detail: String| {
        Error::InvalidArgument(format!(
            "models {} and {} were not evaluated on the same test videos ({detail}); \
             a paired comparison needs the same videos",
            reference.model, m.model
        ))
    };
    if reference.videos == m.videos {
        if let Some(i) = (0..m.y_true.len()).find(|&i| reference.y_true[i] != m.y_true[i]) {
            return Err(different(format!(
                "{} has true class {} for one and {} for the other",
                m.videos[i], reference.y_true[i], m.y_true[i]
            )));
        }
        return Ok(m.y_pred.to_vec());
    }
    if reference.videos.len() != m.videos.len() {
        return Err(different(format!(
            "{} videos against {}",
            reference.videos.len(),
            m.videos.len()
        )));
    }
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(m.videos.len());
    for (i, v) in m.videos.iter().enumerate() {
        if position.insert(v.as_str(), i).is_some() {
            return Err(Error::InvalidArgument(format!(
                "model {}: test video {v} is listed twice",
                m.model
            )));
        }
    }
    let mut seen = vec![false; m.videos.len()];
    let mut aligned = Vec::with_capacity(m.videos.len());
    for (i, v) in reference.videos.iter().enumerate() {
        let Some(&j) = position.get(v.as_str()) else {
            return Err(different(format!("{v} is only in {}'s", reference.model)));
        };
        if seen[j] {
            return Err(Error::InvalidArgument(format!(
                "model {}: test video {v} is listed twice",
                reference.model
            )));
        }
        seen[j] = true;
        if reference.y_true[i] != m.y_true[j] {
            return Err(different(format!(
                "{v} has true class {} for one and {} for the other",
                reference.y_true[i], m.y_true[j]
            )));
        }
        aligned.push(m.y_pred[j]);
    }
    Ok(aligned)
}

fn check_predictions(
    what: &str,
    y_true: &[usize],
    y_pred: &[usize],
    resamples: &Resamples,
) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::InvalidArgument(format!(
            "bootstrap: {} true labels but {} entries in {what}",
            y_true.len(),
            y_pred.len()
        )));
    }
    if y_true.len() != resamples.n {
        return Err(Error::InvalidArgument(format!(
            "bootstrap: the resamples index {} videos, the test set has {}",
            resamples.n,
            y_true.len()
        )));
    }
    Ok(())
}

fn check_level(level: f64) -> Result<()> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::InvalidArgument(format!(
            "bootstrap: interval level {level} is not in (0, 1)"
        )));
    }
    Ok(())
}

/// Number of correct predictions in each index set.
fn correct_counts(correct: &[bool], resamples: &Resamples) -> Vec<usize> {
    resamples
        .iter()
        .map(|set| set.iter().filter(|&&i| correct[i as usize]).count())
        .collect()
}

fn sorted_finite(values: &[f64]) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(Error::InvalidArgument("percentile of no values".into()));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "percentile: value {i} is {}",
            values[i]
        )));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(sorted)
}

/// NumPy's `linear` quantile of an ascending, finite, non-empty slice (see `_quantile` and
/// `_lerp` in numpy/lib/_function_base_impl.py).
fn percentile_sorted(sorted: &[f64], q: f64) -> Result<f64> {
    if !(0.0..=100.0).contains(&q) {
        return Err(Error::InvalidArgument(format!(
            "percentile {q} is not in [0, 100]"
        )));
    }
    let n = sorted.len();
    let virtual_index = (n - 1) as f64 * (q / 100.0);
    if virtual_index >= (n - 1) as f64 {
        return Ok(sorted[n - 1]);
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let (a, b) = (sorted[prev as usize], sorted[prev as usize + 1]);
    let diff = b - a;
    // NumPy interpolates from the nearer end, which keeps the result within [a, b].
    Ok(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

/// `P(X <= k)` for `X ~ Binomial(n, 1/2)` and `k <= n / 2`.
///
/// The terms `C(n, i) / 2^n` grow with `i` up to `n / 2`, so they are summed relative to the
/// largest, `C(n, k) / 2^n`, which is built as a product with its power of two kept apart: no
/// intermediate overflows, and the result is accurate to a few hundred ulps even for thousands of
/// videos (where `2^-n` alone would underflow).
fn binom_cdf_half(k: usize, n: usize) -> f64 {
    debug_assert!(2 * k <= n);
    if n == 0 {
        return 1.0;
    }
    // Sum of C(n, i) / C(n, k), i = 0..=k, smallest terms first.
    let mut rel = Vec::with_capacity(k + 1);
    let mut t = 1.0f64;
    rel.push(t);
    for i in (1..=k).rev() {
        t *= i as f64 / (n - i + 1) as f64;
        rel.push(t);
    }
    let sum: f64 = rel.iter().rev().sum();

    // C(n, k) = prod_{j=1..k} (n - k + j) / j, as mantissa * 2^exp.
    const BIG: f64 = pow2(256);
    let mut mantissa = sum;
    let mut exp: i64 = -(n as i64);
    for j in 1..=k {
        mantissa *= (n - k + j) as f64 / j as f64;
        if mantissa >= BIG {
            mantissa /= BIG;
            exp += 256;
        }
    }
    // Scaling by powers of two is exact until the result itself is subnormal.
    while exp < -512 {
        mantissa *= pow2(-512);
        exp += 512;
    }
    while exp > 512 {
        mantissa *= pow2(512);
        exp -= 512;
    }
    mantissa * pow2(exp as i32)
}

/// `2^e` for `-1022 <= e <= 1023`, exactly (built from its bit pattern).
const fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}
