//! Classification metrics that reproduce scikit-learn's numbers (and the notebook's use of them) exactly.
//!
//! Everything here mirrors one scikit-learn (1.9) function, including its edge cases:
//!
//! - [`accuracy`] is `accuracy_score`.
//! - [`confusion_matrix`] is `confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))`.
//! - [`precision_recall_f1`] is `precision_recall_fscore_support(average='macro', zero_division=0)`
//!   called *without* `labels=`, as the notebook does: the macro mean runs over the classes that
//!   occur in `y_true` or `y_pred`, so a class absent from both is left out of the mean, while a
//!   class that is predicted but never true counts (with recall 0).
//! - [`roc_curve`] is `roc_curve(..., drop_intermediate=True)`; the first threshold is `+inf`.
//! - [`auc_trapezoid`] is `auc(x, y)` (NumPy's trapezoid rule, summed the way NumPy sums).
//! - [`roc_auc_ovr`] is the notebook's `multiclass_auc_ovr` (one-vs-rest ROC per class, then the mean).
//!
//! Sums and means use NumPy's pairwise summation, so results agree with scikit-learn to the last bit
//! rather than only to rounding.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Precision, recall, F1, support and (when [`evaluate`] filled it in) one-vs-rest ROC AUC of one class.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassReport {
    /// `tp / (tp + fp)`, 0 when the class is never predicted (scikit-learn's `zero_division=0`).
    pub precision: f64,
    /// `tp / (tp + fn)`, 0 when the class never occurs in `y_true`.
    pub recall: f64,
    /// `2 tp / (2 tp + fp + fn)`, 0 when the class is neither true nor predicted.
    pub f1: f64,
    /// Number of samples whose true label is this class.
    pub support: usize,
    /// One-vs-rest ROC AUC of this class; `None` when the class has no positive or no negative
    /// sample in `y_true` (scikit-learn would give `nan`).
    pub auc: Option<f64>,
}

/// Per-class and macro-averaged precision, recall and F1, as scikit-learn computes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrecisionRecallF1 {
    /// One report per class `0..n_classes`, including classes absent from both label vectors
    /// (those have every score 0 and support 0). `auc` is `None` here.
    pub per_class: Vec<ClassReport>,
    /// Macro precision: the mean of per-class precision over [`Self::macro_labels`].
    pub precision: f64,
    /// Macro recall: the mean of per-class recall over [`Self::macro_labels`].
    pub recall: f64,
    /// Macro F1: the mean of per-class F1 over [`Self::macro_labels`] (not the harmonic mean of
    /// macro precision and macro recall).
    pub f1: f64,
    /// The classes the macro means run over: those occurring in `y_true` or `y_pred`, ascending.
    pub macro_labels: Vec<usize>,
}

/// One class's one-vs-rest ROC curve, as plotted and integrated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RocCurve {
    /// The positive class.
    pub class: usize,
    /// False-positive rates, starting at 0. Empty when the curve is undefined (`auc` is `None`).
    pub fpr: Vec<f64>,
    /// True-positive rates, starting at 0. Empty when the curve is undefined (`auc` is `None`).
    pub tpr: Vec<f64>,
    /// Area under the curve; `None` when `y_true` has no sample of this class or only this class.
    pub auc: Option<f64>,
}

/// The notebook's `multiclass_auc_ovr`, with undefined classes made explicit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OvrAuc {
    /// Mean AUC over the classes whose AUC is defined. When every class is defined this is exactly
    /// the notebook's `np.mean(aucs)`; `None` when no class is defined.
    pub macro_auc: Option<f64>,
    /// AUC per class `0..n_classes`; `None` where the class has no positive or no negative sample.
    pub per_class: Vec<Option<f64>>,
    /// The ROC curve per class `0..n_classes`.
    pub curves: Vec<RocCurve>,
    /// True when the notebook would have printed `nan` for the macro AUC: scikit-learn's `roc_curve`
    /// returns a `nan` rate for a class with no positives (or no negatives), and `np.mean` spreads it.
    pub notebook_nan: bool,
}

/// Everything the report shows about one model's predictions on the test set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    /// Fraction of test samples predicted correctly.
    pub accuracy: f64,
    /// Macro precision (scikit-learn, `zero_division=0`, no `labels=`).
    pub precision: f64,
    /// Macro recall (scikit-learn, `zero_division=0`, no `labels=`).
    pub recall: f64,
    /// Macro F1 (mean of per-class F1).
    pub f1: f64,
    /// Mean one-vs-rest ROC AUC over the classes where it is defined (see [`OvrAuc::macro_auc`]).
    pub macro_auc: Option<f64>,
    /// True when the notebook's `multiclass_auc_ovr` would have returned `nan` for these labels.
    pub auc_notebook_nan: bool,
    /// The classes the macro precision/recall/F1 average over (present in `y_true` or `y_pred`).
    pub macro_labels: Vec<usize>,
    /// Per-class precision, recall, F1, support and AUC, for every class `0..n_classes`.
    pub per_class: Vec<ClassReport>,
    /// `confusion[true][predicted]` counts, `n_classes x n_classes`.
    pub confusion: Vec<Vec<usize>>,
    /// One-vs-rest ROC curve per class.
    pub roc: Vec<RocCurve>,
    /// Number of test samples.
    pub n_samples: usize,
}

/// Fraction of positions where `y_pred` equals `y_true` (`sklearn.metrics.accuracy_score`).
///
/// ```
/// let acc = vidcompare::metrics::accuracy(&[0, 1, 2, 2], &[0, 2, 2, 2]).unwrap();
/// assert_eq!(acc, 0.75);
/// ```
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_pair(y_true, y_pred)?;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    // Counts of ones are exact in f64, so pairwise summation would give the same value.
    Ok(correct as f64 / y_true.len() as f64)
}

/// Confusion matrix with rows = true class and columns = predicted class, over classes
/// `0..n_classes` (scikit-learn's `confusion_matrix(..., labels=np.arange(n_classes))`).
///
/// ```
/// let cm = vidcompare::metrics::confusion_matrix(&[0, 1, 1], &[0, 0, 1], 3).unwrap();
/// assert_eq!(cm, vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 0, 0]]);
/// ```
pub fn confusion_matrix(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
) -> Result<Vec<Vec<usize>>> {
    check_pair(y_true, y_pred)?;
    check_labels("y_true", y_true, n_classes)?;
    check_labels("y_pred", y_pred, n_classes)?;
    let mut cm = vec![vec![0usize; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        cm[t][p] += 1;
    }
    Ok(cm)
}

/// Per-class and macro precision, recall and F1, exactly as
/// `precision_recall_fscore_support(y_true, y_pred, average='macro', zero_division=0)`.
///
/// The macro means run over the classes present in `y_true ∪ y_pred` (scikit-learn's behaviour
/// without `labels=`); `per_class` still lists every class `0..n_classes`.
///
/// ```
/// use vidcompare::metrics::precision_recall_f1;
/// // Class 2 never occurs, so the macro mean is over classes 0 and 1 only.
/// let prf = precision_recall_f1(&[0, 0, 1, 1], &[0, 1, 1, 1], 3).unwrap();
/// assert_eq!(prf.macro_labels, vec![0, 1]);
/// assert_eq!(prf.recall, (0.5 + 1.0) / 2.0);
/// ```
pub fn precision_recall_f1(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
) -> Result<PrecisionRecallF1> {
    let cm = confusion_matrix(y_true, y_pred, n_classes)?;
    let mut per_class = Vec::with_capacity(n_classes);
    let mut macro_labels = Vec::new();
    for c in 0..n_classes {
        let tp = cm[c][c];
        let true_sum: usize = cm[c].iter().sum();
        let pred_sum: usize = cm.iter().map(|row| row[c]).sum();
        if true_sum > 0 || pred_sum > 0 {
            macro_labels.push(c);
        }
        let precision = zero_div(tp as f64, pred_sum as f64);
        let recall = zero_div(tp as f64, true_sum as f64);
        // scikit-learn computes F-beta from counts: (1 + b²) tp / (b² true_sum + pred_sum), b = 1.
        let f1 = zero_div(2.0 * tp as f64, 1.0 * true_sum as f64 + pred_sum as f64);
        per_class.push(ClassReport {
            precision,
            recall,
            f1,
            support: true_sum,
            auc: None,
        });
    }
    let mean_of = |f: fn(&ClassReport) -> f64| {
        let values: Vec<f64> = macro_labels.iter().map(|&c| f(&per_class[c])).collect();
        np_mean(&values)
    };
    let precision = mean_of(|r| r.precision);
    let recall = mean_of(|r| r.recall);
    let f1 = mean_of(|r| r.f1);
    Ok(PrecisionRecallF1 {
        per_class,
        precision,
        recall,
        f1,
        macro_labels,
    })
}

/// ROC curve of binary labels against scores: `sklearn.metrics.roc_curve(y_bin, scores)` with its
/// defaults (`drop_intermediate=True`). Returns `(fpr, tpr, thresholds)`.
///
/// Tied scores form one threshold. The first point is `(0, 0)` at threshold `+inf`. As in
/// scikit-learn, `fpr` is all `NaN` when there is no negative sample and `tpr` is all `NaN` when
/// there is no positive sample.
///
/// ```
/// use vidcompare::metrics::roc_curve;
/// let (fpr, tpr, thr) = roc_curve(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
/// assert_eq!(fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
/// assert_eq!(tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
/// assert_eq!(thr, vec![f64::INFINITY, 0.8, 0.4, 0.35, 0.1]);
/// ```
#[allow(clippy::type_complexity)]
pub fn roc_curve(y_bin: &[bool], scores: &[f64]) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    if y_bin.len() != scores.len() {
        return Err(Error::InvalidArgument(format!(
            "roc_curve: {} labels but {} scores",
            y_bin.len(),
            scores.len()
        )));
    }
    if y_bin.is_empty() {
        return Err(Error::InvalidArgument("roc_curve: no samples".into()));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "roc_curve: score {i} is {} (scores must be finite)",
            scores[i]
        )));
    }

    // Stable descending sort, as scikit-learn's `argsort(stable=True, descending=True)`.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let sorted: Vec<f64> = order.iter().map(|&i| scores[i]).collect();

    // One threshold at the last sample of each run of equal scores.
    let mut fps = Vec::new();
    let mut tps = Vec::new();
    let mut thresholds = Vec::new();
    let mut cum_tp = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        if y_bin[i] {
            cum_tp += 1.0;
        }
        let last_of_run = k + 1 == sorted.len() || sorted[k] != sorted[k + 1];
        if last_of_run {
            tps.push(cum_tp);
            fps.push(1.0 + k as f64 - cum_tp);
            thresholds.push(sorted[k]);
        }
    }

    // Drop points collinear with their neighbours (the second difference is zero in both rates).
    if fps.len() > 2 {
        let m = fps.len();
        let keep: Vec<usize> = (0..m)
            .filter(|&i| {
                i == 0
                    || i == m - 1
                    || (fps[i + 1] - fps[i]) - (fps[i] - fps[i - 1]) != 0.0
                    || (tps[i + 1] - tps[i]) - (tps[i] - tps[i - 1]) != 0.0
            })
            .collect();
        fps = keep.iter().map(|&i| fps[i]).collect();
        tps = keep.iter().map(|&i| tps[i]).collect();
        thresholds = keep.iter().map(|&i| thresholds[i]).collect();
    }

    fps.insert(0, 0.0);
    tps.insert(0, 0.0);
    thresholds.insert(0, f64::INFINITY);
    let rates = |counts: &[f64]| -> Vec<f64> {
        let total = counts[counts.len() - 1];
        if total <= 0.0 {
            vec![f64::NAN; counts.len()]
        } else {
            counts.iter().map(|c| c / total).collect()
        }
    };
    Ok((rates(&fps), rates(&tps), thresholds))
}

/// Area under a curve by the trapezoid rule (`sklearn.metrics.auc`). `x` must be monotonic
/// (increasing or decreasing) and have at least two points.
///
/// ```
/// let a = vidcompare::metrics::auc_trapezoid(&[0.0, 0.5, 1.0], &[0.0, 1.0, 1.0]).unwrap();
/// assert_eq!(a, 0.75);
/// ```
pub fn auc_trapezoid(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() {
        return Err(Error::InvalidArgument(format!(
            "auc: {} x values but {} y values",
            x.len(),
            y.len()
        )));
    }
    if x.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "auc: at least 2 points are needed, got {}",
            x.len()
        )));
    }
    let dx: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    // NaN differences compare false both ways, so (as in scikit-learn) they count as increasing.
    let mut direction = 1.0;
    if dx.iter().any(|&d| d < 0.0) {
        if dx.iter().all(|&d| d <= 0.0) {
            direction = -1.0;
        } else {
            return Err(Error::InvalidArgument(
                "auc: x is neither increasing nor decreasing".into(),
            ));
        }
    }
    // numpy.trapezoid: sum(d * (y[1:] + y[:-1]) / 2.0), in that operation order.
    let terms: Vec<f64> = dx
        .iter()
        .zip(y.windows(2))
        .map(|(d, w)| d * (w[1] + w[0]) / 2.0)
        .collect();
    Ok(direction * np_sum(&terms))
}

/// One-vs-rest ROC AUC per class and its mean: the notebook's `multiclass_auc_ovr(y_true, y_score,
/// n_classes)`, which runs `roc_curve(y_true == c, y_score[:, c])` and `auc` for every class.
///
/// `scores` has one row per sample and one column per class. A class with no positive (or no
/// negative) sample in `y_true` has an undefined AUC: it is `None` here, the macro mean runs over
/// the defined classes, and [`OvrAuc::notebook_nan`] records that the notebook would print `nan`.
/// For `n_classes == 2` the notebook itself fails (`label_binarize` returns a single column); this
/// function computes both classes' curves the same way as for more classes.
pub fn roc_auc_ovr(y_true: &[usize], scores: &[Vec<f64>], n_classes: usize) -> Result<OvrAuc> {
    check_scores(y_true.len(), scores, n_classes)?;
    check_labels("y_true", y_true, n_classes)?;
    let mut per_class = Vec::with_capacity(n_classes);
    let mut curves = Vec::with_capacity(n_classes);
    for c in 0..n_classes {
        let y_bin: Vec<bool> = y_true.iter().map(|&t| t == c).collect();
        let positives = y_bin.iter().filter(|&&b| b).count();
        let defined = positives > 0 && positives < y_bin.len();
        let curve = if defined {
            let column: Vec<f64> = scores.iter().map(|row| row[c]).collect();
            let (fpr, tpr, _) = roc_curve(&y_bin, &column)?;
            let auc = auc_trapezoid(&fpr, &tpr)?;
            RocCurve {
                class: c,
                fpr,
                tpr,
                auc: Some(auc),
            }
        } else {
            RocCurve {
                class: c,
                fpr: Vec::new(),
                tpr: Vec::new(),
                auc: None,
            }
        };
        per_class.push(curve.auc);
        curves.push(curve);
    }
    let defined: Vec<f64> = per_class.iter().flatten().copied().collect();
    let macro_auc = (!defined.is_empty()).then(|| np_mean(&defined));
    Ok(OvrAuc {
        macro_auc,
        notebook_nan: defined.len() < n_classes,
        per_class,
        curves,
    })
}

/// All metrics of one model's test-set predictions: accuracy, macro P/R/F1, confusion matrix and
/// one-vs-rest ROC (the notebook's `eval_classifier`).
///
/// `scores[i][c]` is the model's score for sample `i` and class `c` (probabilities, vote fractions,
/// softmax outputs: any score where higher means more likely).
///
/// ```
/// use vidcompare::metrics::evaluate;
/// let scores = vec![vec![0.9, 0.1], vec![0.4, 0.6], vec![0.2, 0.8]];
/// let m = evaluate(&[0, 0, 1], &[0, 1, 1], &scores, 2).unwrap();
/// assert_eq!(m.accuracy, 2.0 / 3.0);
/// assert_eq!(m.confusion, vec![vec![1, 1], vec![0, 1]]);
/// assert_eq!(m.macro_auc, Some(1.0));
/// ```
pub fn evaluate(
    y_true: &[usize],
    y_pred: &[usize],
    scores: &[Vec<f64>],
    n_classes: usize,
) -> Result<Metrics> {
    check_pair(y_true, y_pred)?;
    check_scores(y_true.len(), scores, n_classes)?;
    let confusion = confusion_matrix(y_true, y_pred, n_classes)?;
    let prf = precision_recall_f1(y_true, y_pred, n_classes)?;
    let ovr = roc_auc_ovr(y_true, scores, n_classes)?;
    let mut per_class = prf.per_class;
    for (report, auc) in per_class.iter_mut().zip(&ovr.per_class) {
        report.auc = *auc;
    }
    Ok(Metrics {
        accuracy: accuracy(y_true, y_pred)?,
        precision: prf.precision,
        recall: prf.recall,
        f1: prf.f1,
        macro_auc: ovr.macro_auc,
        auc_notebook_nan: ovr.notebook_nan,
        macro_labels: prf.macro_labels,
        per_class,
        confusion,
        roc: ovr.curves,
        n_samples: y_true.len(),
    })
}

/// scikit-learn's `_prf_divide` with `zero_division=0`.
fn zero_div(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

/// `np.mean` of a 1-D float64 array: pairwise sum divided by the length (`NaN` when empty).
fn np_mean(values: &[f64]) -> f64 {
    np_sum(values) / values.len() as f64
}

/// `np.add.reduce` of a contiguous 1-D float64 array, i.e. NumPy's pairwise summation, so that
/// means and areas match NumPy bit for bit rather than to rounding (also used by
/// [`crate::uncertainty`] for its macro means).
pub(crate) fn np_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        let mut res = 0.0;
        for v in values {
            res += v;
        }
        res
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&values[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += values[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for v in &values[i..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        np_sum(&values[..n2]) + np_sum(&values[n2..])
    }
}

fn check_pair(y_true: &[usize], y_pred: &[usize]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::InvalidArgument(format!(
            "{} true labels but {} predictions",
            y_true.len(),
            y_pred.len()
        )));
    }
    if y_true.is_empty() {
        return Err(Error::InvalidArgument(
            "no samples to evaluate (empty label vectors)".into(),
        ));
    }
    Ok(())
}

fn check_labels(what: &str, labels: &[usize], n_classes: usize) -> Result<()> {
    if let Some(i) = labels.iter().position(|&l| l >= n_classes) {
        return Err(Error::InvalidArgument(format!(
            "{what}[{i}] = {} is not a class (n_classes = {n_classes})",
            labels[i]
        )));
    }
    Ok(())
}

fn check_scores(n: usize, scores: &[Vec<f64>], n_classes: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidArgument(
            "no samples to evaluate (empty label vectors)".into(),
        ));
    }
    if scores.len() != n {
        return Err(Error::InvalidArgument(format!(
            "{n} labels but {} score rows",
            scores.len()
        )));
    }
    for (i, row) in scores.iter().enumerate() {
        if row.len() != n_classes {
            return Err(Error::InvalidArgument(format!(
                "score row {i} has {} values, expected one per class ({n_classes})",
                row.len()
            )));
        }
        if let Some(c) = row.iter().position(|s| !s.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "score [{i}][{c}] is {} (scores must be finite)",
                row[c]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: 3 classes, 6 samples.
    ///
    /// y_true = [0, 0, 1, 1, 2, 2], y_pred = [0, 1, 1, 1, 0, 2]
    /// confusion: [[1,1,0],[0,2,0],[1,0,1]]
    /// class 0: tp 1, pred 2, true 2 -> P 1/2, R 1/2, F1 2/4
    /// class 1: tp 2, pred 3, true 2 -> P 2/3, R 1,   F1 4/5
    /// class 2: tp 1, pred 1, true 2 -> P 1,   R 1/2, F1 2/3
    #[test]
    fn hand_computed_three_classes() {
        let y_true = [0, 0, 1, 1, 2, 2];
        let y_pred = [0, 1, 1, 1, 0, 2];
        // Class-0 column: positives 0.9, 0.3; negatives 0.1, 0.2, 0.8, 0.3.
        // Class-1 column: positives 0.8, 0.7; negatives 0.05, 0.6, 0.1, 0.2 (separated).
        // Class-2 column: positives 0.1, 0.5; negatives 0.05, 0.1, 0.1, 0.1 (a tie group).
        let scores = vec![
            vec![0.9, 0.05, 0.05],
            vec![0.3, 0.6, 0.1],
            vec![0.1, 0.8, 0.1],
            vec![0.2, 0.7, 0.1],
            vec![0.8, 0.1, 0.1],
            vec![0.3, 0.2, 0.5],
        ];
        let m = evaluate(&y_true, &y_pred, &scores, 3).unwrap();
        assert_eq!(m.accuracy, 4.0 / 6.0);
        assert_eq!(
            m.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]]
        );
        let p = [0.5, 2.0 / 3.0, 1.0];
        let r = [0.5, 1.0, 0.5];
        let f = [0.5, 0.8, 2.0 / 3.0];
        for c in 0..3 {
            assert!((m.per_class[c].precision - p[c]).abs() < 1e-15);
            assert!((m.per_class[c].recall - r[c]).abs() < 1e-15);
            assert!((m.per_class[c].f1 - f[c]).abs() < 1e-15);
            assert_eq!(m.per_class[c].support, 2);
        }
        assert!((m.precision - (0.5 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-15);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.f1 - (0.5 + 0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
        // Class 0, descending: 0.9(+) 0.8(-) 0.3(+,-) 0.2(-) 0.1(-); counts (fp, tp) at each
        // threshold (0,1) (1,1) (2,2) (3,2) (4,2); (3,2) is collinear and dropped.
        // Trapezoids: 0 + .25*.5 + .25*.75 + .5*1 = 0.8125 (6.5 of 8 pairs ranked right).
        assert_eq!(m.roc[0].fpr, vec![0.0, 0.0, 0.25, 0.5, 1.0]);
        assert_eq!(m.roc[0].tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
        assert_eq!(m.per_class[0].auc, Some(0.8125));
        assert_eq!(m.per_class[1].auc, Some(1.0));
        // Class 2: 0.5(+) then the 0.1 tie (1+, 3-) then 0.05(-): points (0,0) (0,.5) (.75,1) (1,1).
        assert_eq!(m.roc[2].fpr, vec![0.0, 0.0, 0.75, 1.0]);
        assert_eq!(m.roc[2].tpr, vec![0.0, 0.5, 1.0, 1.0]);
        assert_eq!(m.per_class[2].auc, Some(0.8125));
        assert_eq!(m.macro_auc, Some((0.8125 + 1.0 + 0.8125) / 3.0));
        assert!(!m.auc_notebook_nan);
        assert_eq!(m.n_samples, 6);
    }

    #[test]
    fn macro_skips_classes_absent_from_both_but_keeps_predicted_ones() {
        // Class 3 is predicted but never true; class 2 never appears at all.
        let prf = precision_recall_f1(&[0, 0, 1, 1], &[0, 3, 1, 1], 4).unwrap();
        assert_eq!(prf.macro_labels, vec![0, 1, 3]);
        // Recall: class 0 1/2, class 1 1, class 3 0 (zero_division) -> 1.5 / 3.
        assert_eq!(prf.recall, 0.5);
        // Precision: class 0 1, class 1 1, class 3 0 -> 2 / 3.
        assert_eq!(prf.precision, 2.0 / 3.0);
        // F1: class 0 2/3, class 1 1, class 3 0.
        assert!((prf.f1 - (2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-15);
        assert_eq!(prf.per_class[2].support, 0);
        assert_eq!(prf.per_class[2].f1, 0.0);
    }

    #[test]
    fn roc_with_ties_groups_them() {
        // Scores with a tie between a positive and a negative make a diagonal step.
        let (fpr, tpr, thr) =
            roc_curve(&[true, false, true, false], &[0.5, 0.5, 0.9, 0.1]).unwrap();
        assert_eq!(thr, vec![f64::INFINITY, 0.9, 0.5, 0.1]);
        assert_eq!(fpr, vec![0.0, 0.0, 0.5, 1.0]);
        assert_eq!(tpr, vec![0.0, 0.5, 1.0, 1.0]);
        assert_eq!(auc_trapezoid(&fpr, &tpr).unwrap(), 0.875);
    }

    #[test]
    fn roc_without_positives_is_nan_like_sklearn() {
        let (fpr, tpr, _) = roc_curve(&[false, false, false], &[0.1, 0.2, 0.3]).unwrap();
        assert!(tpr.iter().all(|t| t.is_nan()));
        assert!(fpr.iter().all(|f| f.is_finite()));
    }

    #[test]
    fn class_absent_from_test_set_has_no_auc() {
        let scores = vec![
            vec![0.7, 0.2, 0.1],
            vec![0.2, 0.7, 0.1],
            vec![0.6, 0.3, 0.1],
        ];
        let ovr = roc_auc_ovr(&[0, 1, 0], &scores, 3).unwrap();
        assert_eq!(ovr.per_class, vec![Some(1.0), Some(1.0), None]);
        assert_eq!(ovr.macro_auc, Some(1.0));
        assert!(ovr.notebook_nan);
        assert!(ovr.curves[2].fpr.is_empty());
    }

    #[test]
    fn auc_accepts_decreasing_x_and_rejects_non_monotonic() {
        assert_eq!(auc_trapezoid(&[1.0, 0.0], &[1.0, 1.0]).unwrap(), 1.0);
        assert!(auc_trapezoid(&[0.0, 1.0, 0.5], &[0.0, 1.0, 1.0]).is_err());
        assert!(auc_trapezoid(&[0.0], &[0.0]).is_err());
        assert!(auc_trapezoid(&[0.0, 1.0], &[0.0]).is_err());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let s2 = vec![vec![0.5, 0.5]; 2];
        assert!(matches!(
            accuracy(&[0], &[0, 1]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(accuracy(&[], &[]), Err(Error::InvalidArgument(_))));
        assert!(matches!(
            confusion_matrix(&[0, 2], &[0, 1], 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            evaluate(&[0, 1], &[0, 1], &s2[..1], 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            evaluate(&[0, 1], &[0, 1], &[vec![1.0], vec![0.0]], 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            evaluate(&[0, 1], &[0, 1], &[vec![f64::NAN, 0.0], vec![0.0, 1.0]], 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            evaluate(&[0, 1], &[0, 5], &s2, 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            evaluate(&[], &[], &[], 2),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            roc_curve(&[true], &[0.1, 0.2]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            roc_curve(&[true], &[f64::INFINITY]),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn pairwise_sum_matches_plain_sum_on_exact_values() {
        // Integers are exact in f64, so any summation order must agree; this exercises every branch.
        for n in [0usize, 3, 8, 13, 128, 129, 1000] {
            let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(np_sum(&v), (n * n.saturating_sub(1) / 2) as f64, "n = {n}");
        }
    }
}
