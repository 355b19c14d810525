#!/usr/bin/env python3
"""Make the scikit-learn reference fixtures for src/classical/{preprocess,pca,search}.rs.

The notebook (cells In[7] prep_and_pca and In[9] train_classical_models) uses
SimpleImputer(strategy='median') -> StandardScaler() -> PCA(n_components=0.95), then
GridSearchCV(..., cv=3) over three parameter grids. Every expected number below comes from
scikit-learn itself. Run from the repository root:

    pip install numpy scikit-learn
    python3 tools/fixtures_prep.py

Writes into tests/fixtures/classical/ (every file starts with `prep_`):

- prep_impute_scale.json   SimpleImputer(median) statistics and outputs (train and test, with an
                           all-NaN column that gets dropped), StandardScaler mean_/var_/scale_ and
                           outputs on the imputed data and, NaN-aware, on the raw data.
- prep_pca.json            PCA(n_components=..., svd_solver='auto') on several matrices: the kept
                           count, explained variance (ratio), singular values, fit_transform of the
                           training rows and transform of held-out rows. The 30 x 500 case is not
                           stored: both sides generate it with splitmix64 (see `splitmix_matrix`).
- prep_folds.json          StratifiedKFold(n_splits=k) test folds for several label vectors, and
                           whether scikit-learn warns or raises.
- prep_grids.json          list(ParameterGrid(grid)) for the notebook's SVM, RF and kNN grids.
- prep_search.json         GridSearchCV over a nearest-centroid classifier with a feature weight
                           parameter: per-candidate split scores, mean, std, rank, best_index_ and
                           the refitted best estimator's predictions.

NaN is written as JSON null. Inputs are seeded, so reruns write the same files.
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler

OUT = os.path.join("tests", "fixtures", "classical")
MASK64 = (1 << 64) - 1


def splitmix_matrix(seed, rows, cols):
    """Uniform [-1, 1) values from splitmix64, row-major; mirrored in tests/classical_prep.rs."""
    state = seed & MASK64
    out = np.empty(rows * cols)
    for i in range(rows * cols):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z = z ^ (z >> 31)
        out[i] = (z >> 11) * (1.0 / (1 << 53)) * 2.0 - 1.0
    return out.reshape(rows, cols)


def clean(value):
    """numpy -> plain JSON values, NaN -> None."""
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write(name, payload):
    payload = {"sklearn_version": sklearn.__version__, **payload}
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(clean(payload), f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes")


def impute_scale():
    rng = np.random.default_rng(7)
    train = rng.normal(size=(15, 7)) * [1, 2, 0.5, 1, 0, 1, 3] + [0, 5, -1, 0, 3.7, 0, 10]
    train[[1, 4, 9], 1] = np.nan  # 12 observed: even count, median of two middles
    train[[0, 2, 3, 5], 2] = np.nan  # 11 observed: odd count
    train[:, 3] = np.nan  # never observed: dropped
    train[:, 4] = 3.7  # constant: scale 1
    # Near-constant around a large mean: var below scikit-learn's round-off bound, so scale 1.
    train[:, 5] = 1e6 + np.array([0, 1, -1, 2, 0, -2, 1, 0, 0, 1, -1, 0, 2, 0, 1]) * 2.0**-33
    test = rng.normal(size=(6, 7)) + [0, 5, -1, 0, 3.7, 0, 10]
    test[0, 0] = np.nan
    test[2, 1] = np.nan
    test[[3, 4], 2] = np.nan
    test[1, 3] = 1.5
    test[5, 6] = np.nan  # missing only in the test split

    imputer = SimpleImputer(strategy="median")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Skipping features without any observed values"
        train_imp = imputer.fit_transform(train)
        test_imp = imputer.transform(test)
    # The imputer returns a Fortran-ordered array when it drops a column, and numpy then sums
    # each column pairwise instead of row after row; a C-ordered copy keeps the reference sums in
    # the order the Rust scaler (and scikit-learn on the notebook's C-ordered data) uses.
    train_imp = np.ascontiguousarray(train_imp)
    test_imp = np.ascontiguousarray(test_imp)
    scaler = StandardScaler().fit(train_imp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mean of empty slice on the all-NaN column
        raw_scaler = StandardScaler().fit(train)
        raw_test = raw_scaler.transform(test)
    write(
        "prep_impute_scale.json",
        {
            "train": train,
            "test": test,
            "imputer_statistics": imputer.statistics_,
            "imputed_train": train_imp,
            "imputed_test": test_imp,
            "scaler_mean": scaler.mean_,
            "scaler_var": scaler.var_,
            "scaler_scale": scaler.scale_,
            "scaled_train": scaler.transform(train_imp),
            "scaled_test": scaler.transform(test_imp),
            "raw_scaler_mean": raw_scaler.mean_,
            "raw_scaler_var": raw_scaler.var_,
            "raw_scaler_scale": raw_scaler.scale_,
            "raw_scaled_test": raw_test,
        },
    )


def pca_case(name, train, test, n_components, store_inputs=True, generator=None):
    pca = PCA(n_components=n_components, random_state=42)
    fitted = pca.fit_transform(train)
    case = {
        "name": name,
        "n_components": n_components,
        "solver": pca._fit_svd_solver,
        "k": int(pca.n_components_),
        "explained_variance": pca.explained_variance_,
        "explained_variance_ratio": pca.explained_variance_ratio_,
        "singular_values": pca.singular_values_,
        "fit_transform": fitted,
        "transform_test": pca.transform(test),
    }
    if store_inputs:
        case["train"] = train
        case["test"] = test
    else:
        case["generator"] = generator
    return case


def pca_fixtures():
    cases = []
    # (a) wide random data, generated on both sides.
    gen = {"seed": 20240601, "train_rows": 30, "test_rows": 8, "cols": 500}
    both = splitmix_matrix(gen["seed"], gen["train_rows"] + gen["test_rows"], gen["cols"])
    both[:, :50] *= 4.0  # uneven variances so 0.95 keeps fewer than all components
    both += np.linspace(-3, 3, gen["cols"])
    train, test = both[: gen["train_rows"]], both[gen["train_rows"] :]
    cases.append(pca_case("random_30x500", train, test, 0.95, False, gen))
    cases.append(pca_case("random_30x500_count5", train, test, 5, False, gen))

    rng = np.random.default_rng(11)
    # (b) more samples than features.
    mix = rng.normal(size=(8, 8)) * np.linspace(3, 0.2, 8)[:, None]
    tall = rng.normal(size=(12, 8)) @ mix + 2.0
    tall_test = rng.normal(size=(4, 8)) @ mix + 2.0
    cases.append(pca_case("tall_12x8", tall, tall_test, 0.95))
    cases.append(pca_case("tall_12x8_count8", tall, tall_test, 8))
    # n >= 10 d: scikit-learn's covariance_eigh solver.
    skinny = rng.normal(size=(60, 4)) @ rng.normal(size=(4, 4)) + [1, -2, 0, 5]
    skinny_test = rng.normal(size=(5, 4))
    cases.append(pca_case("skinny_60x4", skinny, skinny_test, 0.95))

    # (c) rank 3 in 40 dimensions, wide and tall.
    low = rng.normal(size=(20, 3)) * [5, 2, 1] @ rng.normal(size=(3, 40)) + 1.0
    low_test = rng.normal(size=(5, 3)) @ rng.normal(size=(3, 40))
    cases.append(pca_case("rank3_20x40", low, low_test, 0.95))
    cases.append(pca_case("rank3_20x40_count3", low, low_test, 3))
    low_tall = rng.normal(size=(30, 2)) * [3, 1] @ rng.normal(size=(2, 6)) - 4.0
    low_tall_test = rng.normal(size=(4, 6))
    cases.append(pca_case("rank2_30x6", low_tall, low_tall_test, 0.99))
    write("prep_pca.json", {"cases": cases})


def folds_fixtures():
    rng = np.random.default_rng(5)
    vectors = [
        ("balanced", np.repeat([0, 1, 2], 6)),
        ("interleaved", np.tile([0, 1, 2], 7)),
        ("imbalanced", np.array([0] * 11 + [1] * 5 + [2] * 3)),
        ("unsorted_labels", np.array([2, 2, 0, 1, 2, 0, 0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2])),
        ("shuffled", rng.integers(0, 4, size=40)),
        ("sparse_ids", np.array([7, 3, 7, 7, 3, 9, 9, 3, 7, 9, 9, 3, 7])),
        ("small_class", np.array([0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 1])),
        ("binary", np.array([1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1])),
        ("too_small", np.array([0, 1, 2, 0, 1, 2])),
    ]
    out = []
    for name, y in vectors:
        for k in (3, 5):
            entry = {"name": name, "y": y, "k": k}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    entry["test_folds"] = [
                        test for _, test in StratifiedKFold(n_splits=k).split(np.zeros(len(y)), y)
                    ]
                    entry["error"] = False
                except ValueError:
                    entry["error"] = True
            entry["warns"] = any("least populated" in str(w.message) for w in caught)
            out.append(entry)
    write("prep_folds.json", {"vectors": out})


def grid_fixtures():
    # Exactly as written in the notebook's train_classical_models (dict order preserved).
    grids = {
        "svm": {"C": [0.1, 1, 10], "kernel": ["linear", "rbf"], "gamma": ["scale", 0.01, 0.001]},
        "rf": {"n_estimators": [200, 400], "max_depth": [None, 20, 40], "min_samples_split": [2, 5]},
        "knn": {
            "n_neighbors": [3, 5, 7, 9, 11, 15],
            "weights": ["uniform", "distance"],
            "metric": ["euclidean", "manhattan"],
        },
    }
    out = {
        name: {"grid": [[k, v] for k, v in grid.items()], "expanded": list(ParameterGrid(grid))}
        for name, grid in grids.items()
    }
    write("prep_grids.json", {"grids": out})


class WeightedNearestCentroid(ClassifierMixin, BaseEstimator):
    """NearestCentroid (euclidean) on the features multiplied by (1, weight)."""

    def __init__(self, weight=1.0):
        self.weight = weight

    def _scaled(self, X):
        return np.asarray(X) * np.array([1.0, self.weight])

    def fit(self, X, y):
        self.inner_ = NearestCentroid().fit(self._scaled(X), y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X):
        return self.inner_.predict(self._scaled(X))


def search_fixtures():
    rng = np.random.default_rng(3)
    y = rng.permutation(np.array([0] * 12 + [1] * 10 + [2] * 8))
    centres = np.array([[0.0, 0.0], [1.5, 0.4], [0.3, 1.6]])
    x = centres[y] + rng.normal(scale=0.9, size=(len(y), 2))
    # Duplicate weights make exact ties; the first of them must win if they are best.
    weights = [1.0, 0.0, 3.0, 0.25, 1.0, 0.0]
    gs = GridSearchCV(WeightedNearestCentroid(), {"weight": weights}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weight 0 makes a feature constant within classes
        gs.fit(x, y)
    res = gs.cv_results_
    write(
        "prep_search.json",
        {
            "x": x,
            "y": y,
            "weights": weights,
            "split_scores": np.stack([res[f"split{i}_test_score"] for i in range(3)], axis=1),
            "mean": res["mean_test_score"],
            "std": res["std_test_score"],
            "rank": res["rank_test_score"],
            "best_index": int(gs.best_index_),
            "best_predictions": gs.predict(x),
        },
    )


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    impute_scale()
    pca_fixtures()
    folds_fixtures()
    grid_fixtures()
    search_fixtures()
