#!/usr/bin/env python3
"""Reference fixtures for src/analysis: scikit-learn's permutation importance and stratified
subset sizes.

Writes tests/fixtures/analysis/{permutation.json,stratified.json}. Seeded and deterministic.

permutation.json: a small 3-class problem, a fitted LogisticRegression (its coefficients, so the
Rust test predicts with the same linear model), scikit-learn's permutation_importance result, and
the row permutations scikit-learn applied to each column in each repeat, relative to the original
column (scikit-learn shuffles the already-shuffled column again each repeat, so the permutation of
repeat r is the composition of the first r shuffles). The script checks that applying those
permutations by hand gives scikit-learn's numbers exactly before writing them.

stratified.json: per-class training counts of train_test_split(train_size=fraction, stratify=y)
over 40 random states for several class-count / fraction cases: scikit-learn breaks ties between
equal remainders at random, so every allocation it produced is listed; a case it rejects (a split
with fewer videos than classes on either side) is marked as such.
"""

import json
import os

import numpy as np
import sklearn
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "analysis")


def predict(coef, intercept, X):
    return np.argmax(X @ coef.T + intercept, axis=1)


def permutation_fixture():
    rng = np.random.RandomState(7)
    n, d, k = 30, 5, 3
    y = np.repeat(np.arange(k), n // k)
    X = rng.normal(size=(n, d))
    # Column 0 carries the class strongly, column 1 weakly, the rest are noise.
    X[:, 0] += 2.5 * y
    X[:, 1] += 0.8 * (y == 1)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    n_repeats, random_state = 6, 11
    res = permutation_importance(clf, X, y, n_repeats=n_repeats, random_state=random_state)

    # Replay scikit-learn's random draws to recover the permutations it applied.
    seed = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max + 1)
    perms = []
    for col in range(d):
        rs = np.random.RandomState(seed)
        idx = np.arange(n)
        eff = np.arange(n)
        mine = []
        for _ in range(n_repeats):
            rs.shuffle(idx)
            eff = eff[idx]
            mine.append(eff.tolist())
        perms.append(mine)

    coef, intercept = clf.coef_, clf.intercept_
    base = np.mean(predict(coef, intercept, X) == y)
    assert base == clf.score(X, y)
    check = np.zeros((d, n_repeats))
    for col in range(d):
        for r in range(n_repeats):
            Xp = X.copy()
            Xp[:, col] = X[perms[col][r], col]
            check[col, r] = base - np.mean(predict(coef, intercept, Xp) == y)
    assert np.array_equal(check, res.importances), (check, res.importances)

    return {
        "sklearn_version": sklearn.__version__,
        "X": X.tolist(),
        "y": y.tolist(),
        "coef": coef.tolist(),
        "intercept": intercept.tolist(),
        "n_repeats": n_repeats,
        "baseline": float(base),
        "permutations": perms,
        "importances": res.importances.tolist(),
        "importances_mean": res.importances_mean.tolist(),
        "importances_std": res.importances_std.tolist(),
    }


def stratified_fixture():
    cases = [
        ([6, 6, 6], [0.1, 0.25, 0.5, 0.75]),
        ([12, 12, 12], [0.1, 0.25, 0.5, 0.75]),
        ([10, 5, 3], [0.1, 0.25, 0.5, 0.75]),
        ([7, 4, 4, 2], [0.25, 0.5, 0.75]),
        ([20, 1, 9], [0.2, 0.5, 0.9]),
        ([3, 3, 3], [0.1, 0.5]),
        ([92, 92, 93], [0.1, 0.25, 0.5, 0.75]),
    ]
    out = []
    for counts, fractions in cases:
        y = np.repeat(np.arange(len(counts)), counts)
        for f in fractions:
            seen = set()
            error = None
            for rs in range(40):
                try:
                    tr, _ = train_test_split(
                        np.arange(len(y)), train_size=f, stratify=y, random_state=rs
                    )
                except ValueError as e:
                    error = str(e)
                    break
                seen.add(tuple(int(c) for c in np.bincount(y[tr], minlength=len(counts))))
            out.append(
                {
                    "class_counts": counts,
                    "fraction": f,
                    "n_train": int(np.floor(f * len(y))),
                    "sklearn_counts": sorted(list(s) for s in seen),
                    "sklearn_error": error,
                }
            )
    return {"sklearn_version": sklearn.__version__, "cases": out}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in [
        ("permutation.json", permutation_fixture()),
        ("stratified.json", stratified_fixture()),
    ]:
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(OUT, name))


if __name__ == "__main__":
    main()
