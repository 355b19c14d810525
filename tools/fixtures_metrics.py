#!/usr/bin/env python3
"""Reference numbers for src/metrics.rs from scikit-learn.

Writes tests/fixtures/classical/metrics_cases.json (evaluate-style cases: labels, predictions,
scores and everything sklearn says about them) and tests/fixtures/classical/metrics_roc.json (raw
binary roc_curve / auc cases). Run from the repository root:

    python3 tools/fixtures_metrics.py

Infinite thresholds are not representable in JSON: the leading +inf threshold is dropped and the
Rust test checks it separately. NaN (sklearn's value for undefined rates / AUCs) is written as null.
"""

import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    auc,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

OUT_DIR = os.path.join("tests", "fixtures", "classical")
warnings.filterwarnings("ignore")  # UndefinedMetricWarning is expected in the edge cases


def multiclass_auc_ovr(y_true, y_score, n_classes):
    """Verbatim from the notebook (In[4])."""
    y_bin = label_binarize(y_true, classes=np.arange(n_classes))
    aucs = []
    for c in range(n_classes):
        fpr, tpr, _ = roc_curve(y_bin[:, c], y_score[:, c])
        aucs.append(auc(fpr, tpr))
    return float(np.mean(aucs)), aucs


def nan_to_none(x):
    x = float(x)
    return None if math.isnan(x) else x


def floats(a):
    return [nan_to_none(v) for v in np.asarray(a, dtype=float)]


def expected(y_true, y_pred, scores, n_classes):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    scores = np.asarray(scores, dtype=float)
    prec, rec, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    # Per class over every class 0..n-1 (absent ones get 0 through zero_division).
    pc_p, pc_r, pc_f, pc_s = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n_classes), average=None, zero_division=0
    )
    roc = []
    for c in range(n_classes):
        yb = (y_true == c).astype(int)
        if 0 < yb.sum() < len(yb):
            fpr, tpr, thr = roc_curve(yb, scores[:, c])
            assert np.isinf(thr[0])
            roc.append(
                {
                    "fpr": floats(fpr),
                    "tpr": floats(tpr),
                    "thresholds_after_inf": floats(thr[1:]),
                    "auc": float(auc(fpr, tpr)),
                }
            )
        else:
            roc.append(None)
    defined = [r["auc"] for r in roc if r is not None]
    if n_classes > 2:
        notebook_macro, _ = multiclass_auc_ovr(y_true, scores, n_classes)
        notebook_macro = nan_to_none(notebook_macro)
        notebook_raises = False
    else:
        # label_binarize gives one column for two classes, so y_bin[:, 1] raises IndexError.
        try:
            multiclass_auc_ovr(y_true, scores, n_classes)
            notebook_raises = False
        except IndexError:
            notebook_raises = True
        notebook_macro = None
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(prec),
        "recall": float(rec),
        "f1": float(f1),
        "macro_labels": sorted(int(v) for v in set(y_true) | set(y_pred)),
        "confusion": confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).tolist(),
        "per_class_precision": floats(pc_p),
        "per_class_recall": floats(pc_r),
        "per_class_f1": floats(pc_f),
        "support": [int(s) for s in pc_s],
        "roc": roc,
        "macro_auc_defined": float(np.mean(defined)) if defined else None,
        "notebook_macro_auc": notebook_macro,
        "notebook_nan": notebook_macro is None and not notebook_raises,
        "notebook_raises": notebook_raises,
    }


def case(name, y_true, y_pred, scores, n_classes):
    # Six decimals keep the fixture small; sklearn sees exactly the values written.
    scores = np.round(np.asarray(scores, dtype=float), 6)
    return {
        "name": name,
        "n_classes": int(n_classes),
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "scores": np.asarray(scores, dtype=float).tolist(),
        "expected": expected(y_true, y_pred, scores, n_classes),
    }


def random_scores(rng, n, k, decimals=None):
    s = rng.dirichlet(np.ones(k), size=n)
    if decimals is not None:
        s = np.round(s, decimals)
    return s


def noisy_predictions(rng, y_true, scores, k, p_correct):
    """Mostly-right predictions; scores nudged toward the prediction so AUCs are interesting."""
    y_pred = np.where(rng.random(len(y_true)) < p_correct, y_true, rng.integers(0, k, len(y_true)))
    return y_pred


def evaluate_cases():
    rng = np.random.default_rng(20240611)
    cases = []

    for i in range(8):
        k = int(rng.integers(3, 6))
        n = int(rng.integers(10, 61))
        y_true = rng.integers(0, k, n)
        scores = random_scores(rng, n, k)
        # Make scores informative: add weight on the true class, renormalise.
        scores[np.arange(n), y_true] += rng.random(n)
        scores /= scores.sum(axis=1, keepdims=True)
        y_pred = noisy_predictions(rng, y_true, scores, k, 0.6)
        cases.append(case(f"random_{i}", y_true, y_pred, scores, k))

    # Ties: scores rounded to one decimal, so many equal values per column.
    for i in range(4):
        k = int(rng.integers(3, 6))
        n = int(rng.integers(20, 61))
        y_true = rng.integers(0, k, n)
        scores = random_scores(rng, n, k, decimals=1)
        y_pred = scores.argmax(axis=1)
        cases.append(case(f"ties_{i}", y_true, y_pred, scores, k))

    # A class never predicted (class 3 of 4 is present in y_true).
    n, k = 30, 4
    y_true = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    y_pred = np.where(y_true == 3, 0, y_true)
    y_pred = np.where(rng.random(n) < 0.2, rng.integers(0, 3, n), y_pred)
    cases.append(case("never_predicted", y_true, y_pred, random_scores(rng, n, k), k))

    # A class absent from the test set but predicted: it counts in the macro mean with recall 0.
    n, k = 25, 4
    y_true = rng.integers(0, 3, n)
    y_pred = y_true.copy()
    y_pred[[2, 7, 11]] = 3
    cases.append(case("absent_but_predicted", y_true, y_pred, random_scores(rng, n, k), k))

    # A class absent from both test set and predictions: excluded from the macro mean.
    n, k = 25, 5
    y_true = rng.choice([0, 1, 3, 4], n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.choice([0, 1, 3, 4], n))
    cases.append(case("absent_from_both", y_true, y_pred, random_scores(rng, n, k), k))

    # Perfect predictions with scores peaked on the truth.
    n, k = 20, 3
    y_true = rng.integers(0, k, n)
    scores = random_scores(rng, n, k) * 0.2
    scores[np.arange(n), y_true] += 0.8
    cases.append(case("perfect", y_true, y_true, scores, k))

    # All wrong, scores peaked on the (wrong) predictions.
    n, k = 20, 3
    y_true = rng.integers(0, k, n)
    y_pred = (y_true + 1 + rng.integers(0, k - 1, n)) % k
    scores = random_scores(rng, n, k) * 0.2
    scores[np.arange(n), y_pred] += 0.8
    cases.append(case("all_wrong", y_true, y_pred, scores, k))

    # Binary.
    for i in range(2):
        n, k = int(rng.integers(10, 41)), 2
        y_true = rng.integers(0, 2, n)
        scores = random_scores(rng, n, k, decimals=1 if i == 1 else None)
        y_pred = scores.argmax(axis=1)
        cases.append(case(f"binary_{i}", y_true, y_pred, scores, k))

    # More samples than the 128-element pairwise-summation block, to pin the summation order.
    n, k = 200, 5
    y_true = rng.integers(0, k, n)
    scores = random_scores(rng, n, k)
    y_pred = noisy_predictions(rng, y_true, scores, k, 0.5)
    cases.append(case("large", y_true, y_pred, scores, k))
    return cases


def roc_cases():
    rng = np.random.default_rng(7)
    out = []

    def add(name, y, s):
        y = np.asarray(y, dtype=bool)
        s = np.asarray(s, dtype=float)
        fpr, tpr, thr = roc_curve(y.astype(int), s)
        entry = {
            "name": name,
            "y": [bool(v) for v in y],
            "scores": s.tolist(),
            "fpr": floats(fpr),
            "tpr": floats(tpr),
            "thresholds_after_inf": floats(thr[1:]),
        }
        try:
            entry["auc"] = nan_to_none(auc(fpr, tpr))
        except ValueError:
            entry["auc"] = None
        out.append(entry)

    for i in range(6):
        n = int(rng.integers(5, 80))
        y = rng.random(n) < 0.4
        y[0], y[1] = True, False
        add(f"random_{i}", y, rng.random(n))
    for i in range(4):
        n = int(rng.integers(5, 80))
        y = rng.random(n) < 0.5
        y[0], y[1] = True, False
        add(f"ties_{i}", y, np.round(rng.random(n), 1))
    add("all_tied", [True, False, True, False, False], [0.5] * 5)
    add("no_positives", [False, False, False, False], [0.3, 0.1, 0.3, 0.9])
    add("no_negatives", [True, True, True], [0.3, 0.1, 0.9])
    add("sklearn_doc", [False, False, True, True], [0.1, 0.4, 0.35, 0.8])
    return out


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    meta = {"sklearn": sklearn.__version__, "numpy": np.__version__}
    with open(os.path.join(OUT_DIR, "metrics_cases.json"), "w") as f:
        json.dump({"meta": meta, "cases": evaluate_cases()}, f, allow_nan=False)
    with open(os.path.join(OUT_DIR, "metrics_roc.json"), "w") as f:
        json.dump({"meta": meta, "cases": roc_cases()}, f, allow_nan=False)


if __name__ == "__main__":
    main()
