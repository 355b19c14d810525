#!/usr/bin/env python3
"""Reference numbers for src/uncertainty.rs from NumPy, scikit-learn and statsmodels.

Writes tests/fixtures/uncertainty/:

- bootstrap_cases.json: test sets with y_true and two models' predictions, stratified resample index
  sets drawn by NumPy, and over exactly those index sets: per-resample accuracy, macro F1
  (f1_score(..., labels=<classes in y_true or y_pred of the whole test set>, average='macro',
  zero_division=0)) and accuracy differences (the first VALUES_HEAD of each), and
  np.percentile(values, [2.5, 97.5]) of all of them; McNemar counts and statsmodels' exact p-value.
- mcnemar.json: statsmodels' mcnemar([[a, b], [c, d]], exact=True).pvalue for many (b, c), with
  the exact rational value (Python fractions) beside it as a cross-check.
- percentiles.json: np.percentile(values, q) for random and tied values and many q.

Run from the repository root (pip install numpy scikit-learn statsmodels):

    python3 tools/fixtures_uncertainty.py
"""

import json
import math
import os
import warnings
from fractions import Fraction

import numpy as np
import sklearn
import statsmodels
from sklearn.metrics import accuracy_score, f1_score
from statsmodels.stats.contingency_tables import mcnemar

OUT_DIR = os.path.join("tests", "fixtures", "uncertainty")
VALUES_HEAD = 100


def stratified_sets(rng, y_true, resamples):
    """Each set: for every class ascending, len(class) draws with replacement from its indices."""
    classes = np.unique(y_true)
    members = [np.flatnonzero(y_true == c) for c in classes]
    sets = []
    for _ in range(resamples):
        parts = [rng.choice(m, size=len(m), replace=True) for m in members]
        sets.append(np.concatenate(parts))
    return sets


def mcnemar_p(b, c):
    # a and d (both right, both wrong) do not enter the exact test; any values do.
    return float(mcnemar([[7, b], [c, 3]], exact=True).pvalue)


def exact_p(b, c):
    n = b + c
    k = min(b, c)
    cdf = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
    return float(min(Fraction(1), 2 * cdf))


def bootstrap_case(name, y_true, pred_a, pred_b, resamples, seed):
    y_true = np.asarray(y_true)
    pred_a = np.asarray(pred_a)
    pred_b = np.asarray(pred_b)
    n = len(y_true)
    rng = np.random.default_rng(seed)
    sets = stratified_sets(rng, y_true, resamples)

    def model(pred):
        labels = np.union1d(y_true, pred)
        acc = np.array([np.mean(y_true[i] == pred[i]) for i in sets])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f1 = np.array(
                [
                    f1_score(y_true[i], pred[i], labels=labels, average="macro", zero_division=0)
                    for i in sets
                ]
            )
            f1_full = f1_score(y_true, pred, average="macro", zero_division=0)
            f1_full_labels = f1_score(
                y_true, pred, labels=labels, average="macro", zero_division=0
            )
        # The fixed class list must give scikit-learn's default on the whole test set.
        assert f1_full == f1_full_labels, (name, f1_full, f1_full_labels)
        return {
            "labels": labels.tolist(),
            "accuracy": float(accuracy_score(y_true, pred)),
            "macro_f1": float(f1_full),
            "accuracy_head": acc[:VALUES_HEAD].tolist(),
            "macro_f1_head": f1[:VALUES_HEAD].tolist(),
            "accuracy_interval": np.percentile(acc, [2.5, 97.5]).tolist(),
            "macro_f1_interval": np.percentile(f1, [2.5, 97.5]).tolist(),
        }, acc

    a, acc_a = model(pred_a)
    b, acc_b = model(pred_b)
    diff = acc_a - acc_b
    right_a = y_true == pred_a
    right_b = y_true == pred_b
    b_only = int(np.sum(right_a & ~right_b))
    c_only = int(np.sum(~right_a & right_b))
    both = int(np.sum(right_a & right_b))
    neither = int(np.sum(~right_a & ~right_b))
    p = float(mcnemar([[both, b_only], [c_only, neither]], exact=True).pvalue)
    assert p == mcnemar_p(b_only, c_only)
    return {
        "name": name,
        "n": n,
        "seed": seed,
        "y_true": y_true.tolist(),
        "pred_a": pred_a.tolist(),
        "pred_b": pred_b.tolist(),
        "sets": [s.tolist() for s in sets],
        "a": a,
        "b": b,
        "diff": float(accuracy_score(y_true, pred_a) - accuracy_score(y_true, pred_b)),
        "diff_head": diff[:VALUES_HEAD].tolist(),
        "diff_interval": np.percentile(diff, [2.5, 97.5]).tolist(),
        "b_only": b_only,
        "c_only": c_only,
        "mcnemar_p": p,
    }


def corrupt(rng, y_true, n_classes, n_wrong):
    """y_true with n_wrong randomly chosen positions set to a different class."""
    pred = np.array(y_true).copy()
    for i in rng.choice(len(pred), size=n_wrong, replace=False):
        pred[i] = (pred[i] + rng.integers(1, n_classes)) % n_classes
    return pred


def bootstrap_cases():
    rng = np.random.default_rng(2026)
    cases = []

    # n = 9, balanced: 3 classes x 3 videos, 2,000 resamples (the default count).
    y = np.repeat([0, 1, 2], 3)
    cases.append(
        bootstrap_case(
            "balanced_n9",
            y,
            [0, 0, 1, 1, 1, 1, 2, 2, 0],
            [0, 2, 2, 1, 0, 1, 2, 2, 2],
            2000,
            1,
        )
    )

    # n = 60, unbalanced 30/15/10/4/1: one class has a single test video.
    y = np.repeat([0, 1, 2, 3, 4], [30, 15, 10, 4, 1])
    pa = corrupt(rng, y, 5, 12)
    pb = corrupt(rng, y, 5, 17)
    cases.append(bootstrap_case("unbalanced_n60_single_video_class", y, pa, pb, 1000, 2))

    # n = 60, balanced 6 x 10 (the demo's shape): close models, a likely non-distinguishable pair.
    y = np.repeat(np.arange(6), 10)
    pa = corrupt(rng, y, 6, 8)
    pb = corrupt(rng, y, 6, 10)
    cases.append(bootstrap_case("balanced_n60", y, pa, pb, 1000, 3))

    # Perfect against all wrong: every resample gives 1, 0 and a difference of 1.
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    cases.append(bootstrap_case("perfect_vs_all_wrong_n10", y, y, (y + 1) % 4, 500, 4))

    # Identical predictions (b = c = 0): McNemar p = 1, the difference is 0 on every resample.
    y = np.repeat([0, 1, 2, 3], 5)
    pa = corrupt(rng, y, 4, 6)
    cases.append(bootstrap_case("identical_models_n20", y, pa, pa.copy(), 500, 5))

    # Equal disagreements (b = c = 3): McNemar p = 1, accuracy difference 0 on the whole set.
    y = np.repeat([0, 1, 2], [4, 4, 4])
    pa = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 1, 0])
    pb = np.array([0, 2, 1, 1, 1, 1, 0, 1, 2, 2, 2, 2])
    case = bootstrap_case("equal_disagreements_n12", y, pa, pb, 500, 6)
    assert case["b_only"] == case["c_only"] == 3, case
    cases.append(case)

    # A model that predicts a class absent from the test set (class 3): it enters the macro mean
    # with F1 0 on every resample, as in scikit-learn's default on the whole set.
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    pa = np.array([0, 3, 0, 1, 1, 3, 2, 2, 2])
    pb = np.array([0, 0, 1, 1, 1, 1, 2, 0, 2])
    cases.append(bootstrap_case("predicted_class_absent_n9", y, pa, pb, 2000, 7))

    # Labels that are not 0..k (classes 2, 5 and 9 only), unbalanced, small.
    y = np.array([2, 2, 5, 5, 5, 5, 9, 9, 9, 9, 9])
    pa = np.array([2, 5, 5, 5, 5, 9, 9, 9, 9, 2, 9])
    pb = np.array([2, 2, 5, 2, 5, 5, 9, 5, 9, 9, 5])
    cases.append(bootstrap_case("sparse_labels_n11", y, pa, pb, 500, 8))

    return cases


def mcnemar_cases():
    pairs = [
        (0, 0),
        (0, 1),
        (0, 5),
        (5, 0),
        (1, 1),
        (3, 3),
        (1, 9),
        (2, 9),
        (7, 12),
        (12, 7),
        (10, 11),
        (40, 80),
        (0, 60),
        (150, 210),
        (480, 520),
        (700, 800),
        (25, 975),
        (1000, 1400),
        (1500, 1501),
        (0, 1000),
        (1, 1020),
    ]
    out = []
    for b, c in pairs:
        p = mcnemar_p(b, c)
        e = exact_p(b, c)
        assert abs(p - e) <= 1e-13 * e, (b, c, p, e)
        out.append({"b": b, "c": c, "p": p, "p_exact": e})
    return out


def percentile_cases():
    rng = np.random.default_rng(99)
    qs = [0.0, 0.5, 2.5, 5.0, 25.0, 50.0, 62.5, 95.0, 97.5, 99.5, 100.0]
    out = []
    for n in [1, 2, 3, 7, 40, 1000, 2000, 2001]:
        values = rng.normal(size=n) * 3.0
        out.append({"values": values.tolist(), "q": qs, "p": np.percentile(values, qs).tolist()})
    # Many ties, as accuracies over 60 videos are (multiples of 1/60).
    values = rng.integers(40, 58, size=2000) / 60.0
    out.append({"values": values.tolist(), "q": qs, "p": np.percentile(values, qs).tolist()})
    return out


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    versions = {
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "statsmodels": statsmodels.__version__,
    }
    files = {
        "bootstrap_cases.json": {"versions": versions, "cases": bootstrap_cases()},
        "mcnemar.json": {"versions": versions, "cases": mcnemar_cases()},
        "percentiles.json": {"versions": versions, "cases": percentile_cases()},
    }
    for name, content in files.items():
        path = os.path.join(OUT_DIR, name)
        with open(path, "w") as f:
            json.dump(content, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
