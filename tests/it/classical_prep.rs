//! Imputation, scaling, PCA, stratified folds, parameter grids and grid search against scikit-learn fixtures (tools/fixtures_prep.py).

use crate::common::fixture_json;
use ndarray::{Array2, Axis};
use serde_json::Value;
use vidcompare::Result;
use vidcompare::classical::pca::{Pca, PcaComponents};
use vidcompare::classical::preprocess::{MedianImputer, StandardScaler};
use vidcompare::classical::search::{
    Estimator, Fitted, GridSearch, param_grid, stratification_warning, stratified_kfold,
};

/// A JSON number, or NaN for null.
fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn vector(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().expect("array").iter().map(vector).collect();
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).expect("rectangular")
}

fn labels(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("label") as usize)
        .collect()
}

/// Element-wise closeness: NaN only where NaN is expected, else `|a - e| <= tol * max(|e|, floor)`.
fn assert_close(actual: &[f64], expected: &[f64], tol: f64, floor: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        if e.is_nan() {
            assert!(a.is_nan(), "{what}[{i}]: expected NaN, got {a}");
        } else {
            let bound = tol * e.abs().max(floor);
            assert!(
                (a - e).abs() <= bound,
                "{what}[{i}]: {a} vs {e} (bound {bound:e})"
            );
        }
    }
}

fn assert_matrix_close(actual: &Array2<f64>, expected: &Array2<f64>, tol: f64, what: &str) {
    assert_eq!(actual.dim(), expected.dim(), "{what}: shape");
    // Relative to each column's magnitude: values near zero carry no relative precision.
    for (j, (a, e)) in actual
        .columns()
        .into_iter()
        .zip(expected.columns())
        .enumerate()
    {
        let scale = e
            .iter()
            .fold(0.0f64, |m, v| if v.is_nan() { m } else { m.max(v.abs()) });
        assert_close(
            &a.to_vec(),
            &e.to_vec(),
            tol,
            scale.max(1e-300),
            &format!("{what} col {j}"),
        );
    }
}

// ---------------------------------------------------------------- imputation and scaling

#[test]
fn median_imputer_matches_simple_imputer() {
    let f = fixture_json("classical/prep_impute_scale.json");
    let train = matrix(&f["train"]);
    let imputer = MedianImputer::fit(&train).unwrap();
    let expected_stats = vector(&f["imputer_statistics"]);
    let stats: Vec<f64> = imputer
        .medians()
        .iter()
        .map(|m| m.unwrap_or(f64::NAN))
        .collect();
    assert_close(&stats, &expected_stats, 1e-15, 1e-300, "statistics_");
    assert_eq!(
        imputer.keep_mask(),
        &[true, true, true, false, true, true, true]
    );
    assert_eq!((imputer.n_features_in(), imputer.n_features_out()), (7, 6));

    let out_train = imputer.transform(&train).unwrap();
    assert_matrix_close(
        &out_train,
        &matrix(&f["imputed_train"]),
        1e-15,
        "imputed train",
    );
    let test = matrix(&f["test"]);
    let out_test = imputer.transform_owned(test.clone()).unwrap();
    assert_matrix_close(
        &out_test,
        &matrix(&f["imputed_test"]),
        1e-15,
        "imputed test",
    );
}

#[test]
fn median_imputer_fills_in_place_without_empty_columns() {
    let x = Array2::from_shape_vec(
        (4, 2),
        vec![1.0, f64::NAN, 5.0, 2.0, f64::NAN, 4.0, 3.0, 9.0],
    )
    .unwrap();
    let imputer = MedianImputer::fit(&x).unwrap();
    // Column 0: median of {1, 5, 3} = 3; column 1: median of {2, 4, 9} = 4.
    assert_eq!(imputer.medians(), vec![Some(3.0), Some(4.0)]);
    let filled = imputer.transform_owned(x).unwrap();
    assert_eq!(
        filled.as_slice().unwrap(),
        &[1.0, 4.0, 5.0, 2.0, 3.0, 4.0, 3.0, 9.0]
    );
}

#[test]
fn standard_scaler_matches_sklearn() {
    let f = fixture_json("classical/prep_impute_scale.json");
    let train = matrix(&f["imputed_train"]);
    let scaler = StandardScaler::fit(&train).unwrap();
    assert_close(
        scaler.mean(),
        &vector(&f["scaler_mean"]),
        1e-14,
        1e-300,
        "mean_",
    );
    assert_close(
        scaler.var(),
        &vector(&f["scaler_var"]),
        1e-12,
        1e-300,
        "var_",
    );
    // The constant and the near-constant (1e6 ± 2^-32) columns both get scale 1.
    let expected_scale = vector(&f["scaler_scale"]);
    assert_eq!((expected_scale[3], expected_scale[4]), (1.0, 1.0));
    assert_close(scaler.scale(), &expected_scale, 1e-12, 1e-300, "scale_");
    let scaled = scaler.transform(&train).unwrap();
    assert_matrix_close(&scaled, &matrix(&f["scaled_train"]), 1e-10, "scaled train");
    let test = matrix(&f["imputed_test"]);
    let scaled = scaler.transform_owned(test).unwrap();
    assert_matrix_close(&scaled, &matrix(&f["scaled_test"]), 1e-10, "scaled test");
}

#[test]
fn standard_scaler_ignores_nan_like_sklearn() {
    let f = fixture_json("classical/prep_impute_scale.json");
    let scaler = StandardScaler::fit(&matrix(&f["train"])).unwrap();
    assert_close(
        scaler.mean(),
        &vector(&f["raw_scaler_mean"]),
        1e-14,
        1e-300,
        "mean_",
    );
    assert_close(
        scaler.var(),
        &vector(&f["raw_scaler_var"]),
        1e-12,
        1e-300,
        "var_",
    );
    assert_close(
        scaler.scale(),
        &vector(&f["raw_scaler_scale"]),
        1e-12,
        1e-300,
        "scale_",
    );
    let out = scaler.transform(&matrix(&f["test"])).unwrap();
    assert_matrix_close(&out, &matrix(&f["raw_scaled_test"]), 1e-10, "scaled test");

    // NaN statistics survive a JSON round trip (as null) and a bincode one.
    let json = serde_json::to_string(&scaler).unwrap();
    let back: StandardScaler = serde_json::from_str(&json).unwrap();
    assert_close(back.scale(), scaler.scale(), 0.0, 0.0, "json round trip");
    let bytes = bincode::serialize(&scaler).unwrap();
    let back: StandardScaler = bincode::deserialize(&bytes).unwrap();
    assert_close(back.var(), scaler.var(), 0.0, 0.0, "bincode round trip");
}

#[test]
fn preprocessing_rejects_bad_input() {
    let x = Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 3.0, f64::INFINITY]).unwrap();
    let err = MedianImputer::fit(&x).unwrap_err().to_string();
    assert!(err.contains("infinity at row 1, column 1"), "{err}");
    assert!(StandardScaler::fit(&x).is_err());
    assert!(MedianImputer::fit(&Array2::zeros((0, 3))).is_err());
    let ok = Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let imputer = MedianImputer::fit(&ok).unwrap();
    let err = imputer
        .transform(&Array2::zeros((2, 3)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fitted on 2 features but the input has 3"),
        "{err}"
    );
    let scaler = StandardScaler::fit(&ok).unwrap();
    assert!(scaler.transform(&Array2::zeros((1, 1))).is_err());
}

// ---------------------------------------------------------------- PCA

/// The splitmix64 matrix of tools/fixtures_prep.py: uniform [-1, 1), row-major.
fn splitmix_matrix(seed: u64, rows: usize, cols: usize) -> Array2<f64> {
    let mut state = seed;
    Array2::from_shape_fn((rows, cols), |_| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

/// The inputs of a PCA fixture case, stored or regenerated.
fn pca_inputs(case: &Value) -> (Array2<f64>, Array2<f64>) {
    let Some(g) = case.get("generator") else {
        return (matrix(&case["train"]), matrix(&case["test"]));
    };
    let (train_rows, test_rows) = (
        g["train_rows"].as_u64().unwrap(),
        g["test_rows"].as_u64().unwrap(),
    );
    let cols = g["cols"].as_u64().unwrap() as usize;
    let mut both = splitmix_matrix(
        g["seed"].as_u64().unwrap(),
        (train_rows + test_rows) as usize,
        cols,
    );
    both.slice_mut(ndarray::s![.., ..50])
        .mapv_inplace(|v| v * 4.0);
    // np.linspace(-3, 3, cols): i * step + start, with the last value set to stop.
    let step = 6.0 / (cols - 1) as f64;
    for (j, mut column) in both.axis_iter_mut(Axis(1)).enumerate() {
        let offset = if j == cols - 1 {
            3.0
        } else {
            j as f64 * step - 3.0
        };
        column += offset;
    }
    let train = both
        .slice(ndarray::s![..train_rows as usize, ..])
        .to_owned();
    let test = both
        .slice(ndarray::s![train_rows as usize.., ..])
        .to_owned();
    (train, test)
}

fn pca_spec(case: &Value) -> PcaComponents {
    let v = &case["n_components"];
    match v.as_u64() {
        Some(k) => PcaComponents::Count(k as usize),
        None => PcaComponents::Fraction(v.as_f64().unwrap()),
    }
}

#[test]
fn pca_matches_sklearn_on_every_case() {
    let f = fixture_json("classical/prep_pca.json");
    for case in f["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (train, test) = pca_inputs(case);
        let (pca, projected) = Pca::fit_transform(&train, pca_spec(case)).unwrap();
        assert_eq!(
            pca.n_components() as u64,
            case["k"].as_u64().unwrap(),
            "{name}: k"
        );
        // Eigen-solvers (like LAPACK's SVD) resolve each variance to about eps times the largest
        // one, so the tolerance is relative to the leading value, not to each tiny trailing one.
        for (what, actual, key) in [
            (
                "ratio",
                pca.explained_variance_ratio(),
                "explained_variance_ratio",
            ),
            ("variance", pca.explained_variance(), "explained_variance"),
            ("singular values", pca.singular_values(), "singular_values"),
        ] {
            let expected = vector(&case[key]);
            assert_close(
                actual,
                &expected,
                1e-8,
                expected[0],
                &format!("{name}: {what}"),
            );
        }
        let expected = matrix(&case["fit_transform"]);
        assert_matrix_close(
            &projected,
            &expected,
            1e-8,
            &format!("{name}: fit_transform"),
        );
        assert_matrix_close(
            &pca.transform(&train).unwrap(),
            &expected,
            1e-8,
            &format!("{name}: transform(train)"),
        );
        let expected = matrix(&case["transform_test"]);
        assert_matrix_close(
            &pca.transform(&test).unwrap(),
            &expected,
            1e-8,
            &format!("{name}: transform(test)"),
        );
    }
}

#[test]
fn pca_beyond_the_rank_completes_an_orthonormal_basis() {
    let f = fixture_json("classical/prep_pca.json");
    let case = f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rank3_20x40_count3")
        .unwrap();
    let (train, _) = pca_inputs(case);
    let (pca, projected) = Pca::fit_transform(&train, PcaComponents::Count(6)).unwrap();
    let v = pca.components();
    let gram = v.dot(&v.t());
    for ((i, j), &g) in gram.indexed_iter() {
        let want = if i == j { 1.0 } else { 0.0 };
        assert!((g - want).abs() < 1e-10, "VVᵀ[{i},{j}] = {g}");
    }
    // The three real axes match scikit-learn; training rows have nothing along the others.
    let expected = matrix(&case["fit_transform"]);
    let real = projected.slice(ndarray::s![.., ..3]).to_owned();
    assert_matrix_close(&real, &expected, 1e-8, "rank-3 part");
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for v in projected.slice(ndarray::s![.., 3..]).iter() {
        assert!(v.abs() < 1e-9 * scale, "null-space projection {v}");
    }
    for v in pca
        .transform(&train)
        .unwrap()
        .slice(ndarray::s![.., 3..])
        .iter()
    {
        assert!(v.abs() < 1e-9 * scale, "null-space transform {v}");
    }
}

#[test]
fn pca_rejects_bad_arguments_and_round_trips() {
    let x = splitmix_matrix(1, 6, 4);
    for spec in [
        PcaComponents::Fraction(1.0),
        PcaComponents::Fraction(0.0),
        PcaComponents::Count(0),
        PcaComponents::Count(5),
    ] {
        assert!(Pca::fit(&x, spec).is_err(), "{spec:?}");
    }
    assert!(Pca::fit(&splitmix_matrix(1, 1, 4), PcaComponents::Count(1)).is_err());
    let mut bad = x.clone();
    bad[[2, 3]] = f64::NAN;
    let err = Pca::fit(&bad, PcaComponents::Count(2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 2, column 3"), "{err}");

    let pca = Pca::fit(&x, PcaComponents::Count(3)).unwrap();
    assert!(pca.transform(&splitmix_matrix(2, 3, 5)).is_err());
    let bytes = bincode::serialize(&pca).unwrap();
    let back: Pca = bincode::deserialize(&bytes).unwrap();
    assert_eq!(back, pca);
}

// ---------------------------------------------------------------- stratified folds

#[test]
fn stratified_kfold_matches_sklearn() {
    let f = fixture_json("classical/prep_folds.json");
    for entry in f["vectors"].as_array().unwrap() {
        let (name, k) = (
            entry["name"].as_str().unwrap(),
            entry["k"].as_u64().unwrap() as usize,
        );
        let y = labels(&entry["y"]);
        let result = stratified_kfold(&y, k);
        if entry["error"].as_bool().unwrap() {
            let err = result.expect_err(name).to_string();
            assert!(
                err.contains("number of members in each class"),
                "{name}: {err}"
            );
            continue;
        }
        let folds = result.unwrap_or_else(|e| panic!("{name} k={k}: {e}"));
        let expected: Vec<Vec<usize>> = entry["test_folds"]
            .as_array()
            .unwrap()
            .iter()
            .map(labels)
            .collect();
        assert_eq!(folds.len(), k);
        for (f, ((train, test), want)) in folds.iter().zip(&expected).enumerate() {
            assert_eq!(test, want, "{name} k={k} fold {f}");
            let complement: Vec<usize> = (0..y.len()).filter(|i| !want.contains(i)).collect();
            assert_eq!(train, &complement, "{name} k={k} fold {f} train");
        }
        let warns = entry["warns"].as_bool().unwrap();
        assert_eq!(
            stratification_warning(&y, k).is_some(),
            warns,
            "{name} k={k} warning"
        );
    }
}

#[test]
fn stratified_kfold_rejects_impossible_splits() {
    assert!(stratified_kfold(&[0, 1, 0, 1], 1).is_err());
    let err = stratified_kfold(&[0, 0], 3).unwrap_err().to_string();
    assert!(err.contains("n_samples=2"), "{err}");
}

// ---------------------------------------------------------------- parameter grids

#[test]
fn param_grid_matches_sklearn_order_for_the_notebook_grids() {
    let f = fixture_json("classical/prep_grids.json");
    for name in ["svm", "rf", "knn"] {
        let g = &f["grids"][name];
        let grid: Vec<(String, Vec<Value>)> = g["grid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| {
                (
                    kv[0].as_str().unwrap().to_string(),
                    kv[1].as_array().unwrap().clone(),
                )
            })
            .collect();
        let borrowed: Vec<(&str, Vec<Value>)> =
            grid.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let expanded: Vec<Value> = param_grid(&borrowed)
            .into_iter()
            .map(Value::Object)
            .collect();
        let expected = g["expanded"].as_array().unwrap();
        assert_eq!(&expanded, expected, "{name}");
    }
    assert_eq!(param_grid(&[]), vec![serde_json::Map::new()]);
    assert!(param_grid(&[("a", vec![Value::from(1)]), ("b", vec![])]).is_empty());
}

// ---------------------------------------------------------------- grid search

/// Euclidean nearest centroid on the features scaled by (1, weight), the fixture's estimator.
struct WeightedNearestCentroid {
    weight: f64,
}

struct Centroids {
    weight: f64,
    centroids: Vec<Option<[f64; 2]>>,
}

impl Estimator for WeightedNearestCentroid {
    fn fit(
        &self,
        x: &Array2<f64>,
        y: &[usize],
        n_classes: usize,
        _seed: u64,
    ) -> Result<Box<dyn Fitted>> {
        let mut sums = vec![[0.0, 0.0, 0.0]; n_classes];
        for (row, &c) in x.rows().into_iter().zip(y) {
            sums[c][0] += row[0];
            sums[c][1] += row[1] * self.weight;
            sums[c][2] += 1.0;
        }
        let centroids = sums
            .iter()
            .map(|s| (s[2] > 0.0).then(|| [s[0] / s[2], s[1] / s[2]]))
            .collect();
        Ok(Box::new(Centroids {
            weight: self.weight,
            centroids,
        }))
    }

    fn describe(&self) -> Value {
        serde_json::json!({ "weight": self.weight })
    }
}

impl Fitted for Centroids {
    fn predict(&self, x: &Array2<f64>) -> vidcompare::Result<Vec<usize>> {
        Ok(x.rows()
            .into_iter()
            .map(|row| {
                let p = [row[0], row[1] * self.weight];
                let mut best = (usize::MAX, f64::INFINITY);
                for (c, centroid) in self.centroids.iter().enumerate() {
                    if let Some(m) = centroid {
                        let d = (p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2);
                        if d < best.1 {
                            best = (c, d);
                        }
                    }
                }
                best.0
            })
            .collect())
    }

    fn scores(&self, x: &Array2<f64>) -> vidcompare::Result<Vec<Vec<f64>>> {
        let n_classes = self.centroids.len();
        Ok(self
            .predict(x)?
            .into_iter()
            .map(|c| {
                (0..n_classes)
                    .map(|k| f64::from(u8::from(k == c)))
                    .collect()
            })
            .collect())
    }
}

/// An estimator whose fit always fails, for sklearn's `error_score=nan` behaviour.
struct Broken;

impl Estimator for Broken {
    fn fit(&self, _: &Array2<f64>, _: &[usize], _: usize, _: u64) -> Result<Box<dyn Fitted>> {
        Err(vidcompare::Error::InvalidArgument(
            "broken on purpose".into(),
        ))
    }

    fn describe(&self) -> Value {
        serde_json::json!({ "broken": true })
    }
}

#[test]
fn grid_search_matches_grid_search_cv() {
    let f = fixture_json("classical/prep_search.json");
    let x = matrix(&f["x"]);
    let y = labels(&f["y"]);
    let candidates: Vec<Box<dyn Estimator>> = vector(&f["weights"])
        .into_iter()
        .map(|weight| Box::new(WeightedNearestCentroid { weight }) as Box<dyn Estimator>)
        .collect();
    let result = GridSearch { k: 3, seed: 42 }
        .run(&candidates, &x, &y, 3)
        .unwrap();
    let split = matrix(&f["split_scores"]);
    let (mean, std, rank) = (vector(&f["mean"]), vector(&f["std"]), labels(&f["rank"]));
    for (i, row) in result.rows.iter().enumerate() {
        assert_eq!(
            row.fold_scores,
            split.row(i).to_vec(),
            "candidate {i} fold scores"
        );
        // Bit-exact, so ties between candidates break exactly as in scikit-learn.
        assert_eq!(row.mean, mean[i], "candidate {i} mean");
        assert!((row.std - std[i]).abs() < 1e-15, "candidate {i} std");
        assert_eq!(row.rank, rank[i], "candidate {i} rank");
        assert_eq!(
            row.params,
            serde_json::json!({ "weight": vector(&f["weights"])[i] })
        );
        assert!(row.error.is_none());
    }
    // Candidates 0 and 4 (both weight 1) tie for rank 1: the first wins.
    assert_eq!(
        result.best_index,
        f["best_index"].as_u64().unwrap() as usize
    );
    assert_eq!((result.rows[0].rank, result.rows[4].rank), (1, 1));
    assert_eq!(
        result.best.predict(&x).unwrap(),
        labels(&f["best_predictions"])
    );
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["best_index"], 0);
}

#[test]
fn grid_search_ranks_failed_candidates_last() {
    let f = fixture_json("classical/prep_search.json");
    let x = matrix(&f["x"]);
    let y = labels(&f["y"]);
    let candidates: Vec<Box<dyn Estimator>> = vec![
        Box::new(Broken),
        Box::new(WeightedNearestCentroid { weight: 0.0 }),
        Box::new(WeightedNearestCentroid { weight: 1.0 }),
    ];
    let result = GridSearch { k: 3, seed: 0 }
        .run(&candidates, &x, &y, 3)
        .unwrap();
    assert!(result.rows[0].mean.is_nan());
    assert_eq!(
        result.rows[0].error.as_deref(),
        Some("invalid argument: broken on purpose")
    );
    // Means 0.6333 (weight 0) and 0.7 (weight 1): ranks 2 and 1; the failure ties for last (3).
    assert_eq!(
        result.rows.iter().map(|r| r.rank).collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(result.best_index, 2);
    assert_eq!(result.warnings.len(), 1);
    let json = serde_json::to_value(&result.rows[0]).unwrap();
    assert_eq!(json["mean"], Value::Null);

    let all_broken: Vec<Box<dyn Estimator>> = vec![Box::new(Broken)];
    let err = GridSearch { k: 3, seed: 0 }
        .run(&all_broken, &x, &y, 3)
        .unwrap_err()
        .to_string();
    assert!(err.contains("every candidate failed"), "{err}");
    let err = GridSearch { k: 3, seed: 0 }
        .run(&candidates, &x, &y[1..], 3)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows"), "{err}");
}
