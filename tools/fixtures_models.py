#!/usr/bin/env python3
"""Reference fixtures for tests/classical_models.rs (SVM, random forest, kNN vs scikit-learn).

Writes tests/fixtures/classical/models_{svm,forest,knn}.json. Run from the repository root:

    python3 tools/fixtures_models.py

Needs numpy, scipy and scikit-learn. Every dataset is generated here from fixed seeds and stored
in the JSON, so the Rust tests never need Python.
"""

import json
import os
import warnings

import numpy as np
import scipy.optimize
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

OUT = os.path.join("tests", "fixtures", "classical")

# SVC(probability=True) is deprecated in 1.9, but it is what the notebook ran.
warnings.filterwarnings("ignore", category=FutureWarning)


def r(a):
    """Arrays to nested lists; float64 survives JSON exactly with repr-based dumps."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return a.tolist()
    return a.astype(int).tolist()


def blobs(rng, n_per_class, centres, scale):
    xs, ys = [], []
    for c, centre in enumerate(centres):
        xs.append(rng.normal(centre, scale, size=(n_per_class, len(centre))))
        ys.append(np.full(n_per_class, c))
    x = np.round(np.vstack(xs), 4)
    y = np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]


def data(a):
    """Inputs are rounded to 4 decimals before any fitting: exact, and short in JSON."""
    return np.round(a, 4)


# ----------------------------------------------------------------------------------------- SVM


def multiclass_probability_ref(r_mat):
    """numpy transcription of libsvm's multiclass_probability (Wu, Lin & Weng 2004, method 2)."""
    k = r_mat.shape[0]
    p = np.full(k, 1.0 / k)
    q = np.zeros((k, k))
    for t in range(k):
        for j in range(t):
            q[t, t] += r_mat[j, t] * r_mat[j, t]
            q[t, j] = q[j, t]
        for j in range(t + 1, k):
            q[t, t] += r_mat[j, t] * r_mat[j, t]
            q[t, j] = -r_mat[j, t] * r_mat[t, j]
    eps = 0.005 / k
    qp = np.zeros(k)
    for _ in range(max(100, k)):
        pqp = 0.0
        for t in range(k):
            qp[t] = 0.0
            for j in range(k):
                qp[t] += q[t, j] * p[j]
            pqp += p[t] * qp[t]
        max_error = 0.0
        for t in range(k):
            err = abs(qp[t] - pqp)
            if err > max_error:
                max_error = err
        if max_error < eps:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t, t]
            p[t] += diff
            pqp = (pqp + diff * (diff * q[t, t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            for j in range(k):
                qp[j] = (qp[j] + diff * q[t, j]) / (1 + diff)
                p[j] /= 1 + diff
    return p, q


def coupling_exact(q):
    """The exact minimiser of p^T Q p subject to sum(p) = 1 (the KKT linear system)."""
    k = q.shape[0]
    a = np.zeros((k + 1, k + 1))
    a[:k, :k] = 2 * q
    a[:k, k] = 1
    a[k, :k] = 1
    b = np.zeros(k + 1)
    b[k] = 1
    return np.linalg.solve(a, b)[:k]


def platt_reference(dec, positive):
    """Platt's regularised-target objective minimised by scipy (independent of libsvm's Newton)."""
    prior1 = positive.sum()
    prior0 = len(positive) - prior1
    t = np.where(positive, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))

    def f(ab):
        z = dec * ab[0] + ab[1]
        # -[t log p + (1 - t) log(1 - p)] with p = 1 / (1 + exp(z)), z = A f + B
        return np.sum(np.logaddexp(0.0, z) - (1.0 - t) * z)

    res = scipy.optimize.minimize(
        f, x0=[0.0, np.log((prior0 + 1.0) / (prior1 + 1.0))], method="BFGS", tol=1e-12
    )
    return res.x


def proba_envelope(params, x, y, x_test, **extra):
    """sklearn's own spread of predict_proba over 30 random_states (its Platt CV split)."""
    probas = np.array(
        [
            SVC(probability=True, random_state=s, **extra, **params).fit(x, y).predict_proba(x_test)
            for s in range(30)
        ]
    )
    # Compared with tolerances of 0.01 and more: 6 decimals are plenty.
    return {
        "proba_min": r(np.round(probas.min(axis=0), 6)),
        "proba_max": r(np.round(probas.max(axis=0), 6)),
        "proba_mean": r(np.round(probas.mean(axis=0), 6)),
    }


def svm_fixture():
    rng = np.random.default_rng(7)
    out = {"sklearn_version": sklearn.__version__}

    # Binary, separable-ish: two Gaussian blobs in 4-D.
    x, y = blobs(rng, 30, [[0, 0, 0, 0], [2.0, 1.5, -1.0, 0.5]], 0.9)
    x_test = data(rng.normal(1.0, 1.5, size=(25, 4)))
    binary = {"x": r(x), "y": r(y), "x_test": r(x_test), "cases": []}
    for params in [
        {"C": 1.0, "kernel": "linear", "gamma": "scale"},
        {"C": 0.1, "kernel": "linear", "gamma": "scale"},
        {"C": 1.0, "kernel": "rbf", "gamma": "scale"},
        {"C": 10.0, "kernel": "rbf", "gamma": 0.1},
    ]:
        clf = SVC(probability=True, random_state=0, **params).fit(x, y)
        gamma = clf._gamma
        binary["cases"].append(
            {
                "params": params,
                "gamma": float(gamma),
                "decision_function": r(clf.decision_function(x_test)),
                "predict": r(clf.predict(x_test)),
                "predict_proba": r(clf.predict_proba(x_test)),
                "n_support": r(clf.n_support_),
                "support": r(clf.support_),
                "intercept": r(clf.intercept_),
                "prob_a": r(clf.probA_),
                "prob_b": r(clf.probB_),
                **proba_envelope(params, x, y, x_test),
            }
        )
    out["binary"] = binary

    # Three classes in 5-D with some overlap.
    x, y = blobs(
        rng, 25, [[0, 0, 0, 0, 0], [2, 2, 0, 0, 1], [0, 2, 2, -1, 0]], 1.0
    )
    x_test = data(rng.normal(0.8, 1.6, size=(40, 5)))
    multi = {"x": r(x), "y": r(y), "x_test": r(x_test), "cases": []}
    for params in [
        {"C": 1.0, "kernel": "linear", "gamma": "scale"},
        {"C": 1.0, "kernel": "rbf", "gamma": "scale"},
        {"C": 10.0, "kernel": "rbf", "gamma": 0.01},
    ]:
        clf = SVC(probability=True, random_state=0, decision_function_shape="ovo", **params)
        clf.fit(x, y)
        multi["cases"].append(
            {
                "params": params,
                "decision_function_ovo": r(clf.decision_function(x_test)),
                "predict": r(clf.predict(x_test)),
                "predict_proba": r(clf.predict_proba(x_test)),
                "n_support": r(clf.n_support_),
                "prob_a": r(clf.probA_),
                "prob_b": r(clf.probB_),
                **proba_envelope(params, x, y, x_test, decision_function_shape="ovo"),
            }
        )
    out["multiclass"] = multi

    # Pairwise coupling on random pairwise matrices, k = 2..6.
    coupling = []
    for k in [2, 3, 4, 5, 6]:
        for _ in range(3):
            r_mat = np.zeros((k, k))
            for i in range(k):
                for j in range(i + 1, k):
                    v = float(np.clip(rng.uniform(0.02, 0.98), 1e-7, 1 - 1e-7))
                    r_mat[i, j] = v
                    r_mat[j, i] = 1 - v
            p, q = multiclass_probability_ref(r_mat)
            coupling.append({"r": r(r_mat), "p": r(p), "p_exact": r(coupling_exact(q))})
    out["coupling"] = coupling

    # Platt sigmoid fits on synthetic decision values.
    platt = []
    for n, shift in [(50, 1.0), (120, 0.3), (80, 2.5)]:
        positive = rng.uniform(size=n) < 0.45
        dec = np.where(positive, shift, -shift) + rng.normal(0, 1.0, size=n)
        a, b = platt_reference(dec, positive)
        platt.append({"dec": r(dec), "positive": positive.tolist(), "a": float(a), "b": float(b)})
    out["platt"] = platt
    return out


# --------------------------------------------------------------------------------------- forest


def tree_is_tie_free(x, y, **kw):
    """A tree that is the same for 40 splitter seeds has no feature ties to resolve randomly."""
    trees = [DecisionTreeClassifier(random_state=s, **kw).fit(x, y).tree_ for s in range(40)]
    ref = trees[0]
    for t in trees[1:]:
        if not (
            np.array_equal(t.feature, ref.feature)
            and np.array_equal(t.threshold, ref.threshold)
            and np.array_equal(t.children_left, ref.children_left)
        ):
            return False
    return True


def tree_case(x, y, x_test, **kw):
    assert tree_is_tie_free(x, y, **kw), "dataset has tied splits; pick another seed"
    clf = DecisionTreeClassifier(random_state=0, **kw).fit(x, y)
    t = clf.tree_
    return {
        "params": dict(kw),
        "feature": r(t.feature),
        "threshold": r(t.threshold),
        "children_left": r(t.children_left),
        "children_right": r(t.children_right),
        "predict_proba": r(clf.predict_proba(x_test)),
        "feature_importances": r(clf.feature_importances_),
    }


def forest_fixture():
    out = {"sklearn_version": sklearn.__version__}
    trees = []

    # 1-D, full depth: no feature ties are possible.
    rng = np.random.default_rng(11)
    x = data(rng.uniform(-3, 3, size=(60, 1)))
    y = ((np.sin(2 * x[:, 0]) + rng.normal(0, 0.4, 60)) > 0).astype(int) + (x[:, 0] > 2)
    x_test = data(rng.uniform(-3.5, 3.5, size=(40, 1)))
    trees.append({"x": r(x), "y": r(y), "x_test": r(x_test), **tree_case(x, y, x_test)})

    # 4-D, 3 classes, depth-limited so that the tree is tie-free.
    for seed in range(100, 200):
        rng = np.random.default_rng(seed)
        x = data(rng.normal(size=(120, 4)))
        score = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + rng.normal(0, 0.5, 120)
        y = np.digitize(score, [-0.8, 0.8])
        x_test = data(rng.normal(size=(50, 4)))
        if tree_is_tie_free(x, y, max_depth=4, min_samples_split=5):
            case = tree_case(x, y, x_test, max_depth=4, min_samples_split=5)
            trees.append({"x": r(x), "y": r(y), "x_test": r(x_test), "seed": seed, **case})
            break
    else:
        raise SystemExit("no tie-free dataset found")

    # Values that collide in float32 and within 1e-7: thresholds must follow float32 semantics.
    x = np.array([[0.1], [0.1 + 1e-9], [0.3], [0.3 + 5e-8], [0.7], [1.0], [1.0 + 1e-7 / 3]])
    y = np.array([0, 1, 0, 1, 1, 0, 1])
    x_test = np.array([[0.1], [0.2], [0.3], [0.5], [0.9], [1.0], [2.0]])
    trees.append({"x": r(x), "y": r(y), "x_test": r(x_test), **tree_case(x, y, x_test)})

    # Weighted samples (bootstrap counts): weights change impurities and leaf fractions.
    kw = {"max_depth": 3}
    for seed in range(5, 100):
        rng = np.random.default_rng(seed)
        x = data(rng.normal(size=(40, 2)))
        y = (x[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
        w = rng.integers(0, 4, size=40).astype(float)
        x_test = data(rng.normal(size=(30, 2)))
        ref = DecisionTreeClassifier(random_state=0, **kw).fit(x, y, sample_weight=w).tree_
        if all(
            np.array_equal(
                DecisionTreeClassifier(random_state=s, **kw)
                .fit(x, y, sample_weight=w)
                .tree_.threshold,
                ref.threshold,
            )
            for s in range(40)
        ):
            break
    else:
        raise SystemExit("no tie-free weighted dataset found")
    clf = DecisionTreeClassifier(random_state=0, **kw).fit(x, y, sample_weight=w)
    t = clf.tree_
    trees.append(
        {
            "x": r(x),
            "y": r(y),
            "x_test": r(x_test),
            "sample_weight": r(w),
            "params": kw,
            "feature": r(t.feature),
            "threshold": r(t.threshold),
            "children_left": r(t.children_left),
            "children_right": r(t.children_right),
            "predict_proba": r(clf.predict_proba(x_test)),
            "feature_importances": r(clf.feature_importances_),
        }
    )
    out["trees"] = trees

    # Forest where only feature 0 carries the label.
    rng = np.random.default_rng(3)
    x = data(rng.normal(size=(300, 6)))
    y = np.digitize(x[:, 0] + 0.2 * rng.normal(size=300), [-0.5, 0.6])
    x_test = data(rng.normal(size=(100, 6)))
    y_test = np.digitize(x_test[:, 0], [-0.5, 0.6])
    rf = RandomForestClassifier(n_estimators=200, random_state=0).fit(x, y)
    out["forest"] = {
        "x": r(x),
        "y": r(y),
        "x_test": r(x_test),
        "y_test": r(y_test),
        "n_estimators": 200,
        "feature_importances": r(rf.feature_importances_),
        "predict_proba": r(rf.predict_proba(x_test)),
        "accuracy": float((rf.predict(x_test) == y_test).mean()),
    }
    return out


# ------------------------------------------------------------------------------------------ kNN


def knn_fixture():
    rng = np.random.default_rng(21)
    x = data(rng.normal(size=(60, 5)))
    y = np.digitize(x[:, 0] + 0.7 * x[:, 1] + 0.5 * rng.normal(size=60), [-0.6, 0.5])
    x_test = data(rng.normal(size=(30, 5)))
    # Exact-duplicate queries exercise the zero-distance rule of 'distance' weights.
    x_test[3] = x[7]
    x_test[11] = x[42]
    cases = []
    for metric in ["euclidean", "manhattan"]:
        for weights in ["uniform", "distance"]:
            for k in [1, 3, 5, 15]:
                clf = KNeighborsClassifier(n_neighbors=k, weights=weights, metric=metric)
                clf.fit(x, y)
                ind = clf.kneighbors(x_test, return_distance=False)
                cases.append(
                    {
                        "params": {"n_neighbors": k, "weights": weights, "metric": metric},
                        "predict": r(clf.predict(x_test)),
                        "predict_proba": r(clf.predict_proba(x_test)),
                        "neighbors": r(ind),
                    }
                )
    return {"sklearn_version": sklearn.__version__, "x": r(x), "y": r(y), "x_test": r(x_test),
            "cases": cases}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, build in [("svm", svm_fixture), ("forest", forest_fixture), ("knn", knn_fixture)]:
        path = os.path.join(OUT, f"models_{name}.json")
        with open(path, "w") as f:
            json.dump(build(), f, separators=(",", ":"))
        print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
