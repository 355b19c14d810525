//! Permutation importance against scikit-learn's `permutation_importance` (same model, same row
//! permutations, from tools/fixtures_analysis.py) and on cases with a known answer; feature groups
//! from a named layout.

use crate::common::fixture_json;
use ndarray::{Array2, array};
use serde_json::Value;
use vidcompare::analysis::importance::{
    FeatureGroup, groups_by_family, groups_by_feature, permutation_importance,
    permutation_importance_with, single_columns,
};
use vidcompare::features::layout::{Family, Labels, Layout, Segment};
use vidcompare::report::analysis::{
    component_importance_chart, importance_chart, importance_table,
};

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

#[test]
fn matches_scikit_learn_with_its_permutations() {
    let f = fixture_json("analysis/permutation.json");
    let x = matrix(&f["X"]);
    let y: Vec<usize> = serde_json::from_value(f["y"].clone()).unwrap();
    let coef = matrix(&f["coef"]);
    let intercept: Vec<f64> = serde_json::from_value(f["intercept"].clone()).unwrap();
    // The fitted logistic regression's decision: argmax of X coefᵀ + intercept.
    let predict = |x: &Array2<f64>| -> vidcompare::Result<Vec<usize>> {
        let z = x.dot(&coef.t());
        Ok(z.rows()
            .into_iter()
            .map(|r| {
                (0..r.len())
                    .max_by(|&a, &b| (r[a] + intercept[a]).total_cmp(&(r[b] + intercept[b])))
                    .unwrap()
            })
            .collect())
    };
    let perms: Vec<Vec<Vec<usize>>> = serde_json::from_value(f["permutations"].clone()).unwrap();
    let groups = single_columns(x.ncols(), None);
    let imp = permutation_importance_with(predict, &x, &y, &groups, &perms).unwrap();
    assert_eq!(imp.baseline, f["baseline"].as_f64().unwrap());
    let want: Vec<Vec<f64>> = serde_json::from_value(f["importances"].clone()).unwrap();
    let mean: Vec<f64> = serde_json::from_value(f["importances_mean"].clone()).unwrap();
    let std: Vec<f64> = serde_json::from_value(f["importances_std"].clone()).unwrap();
    for (j, g) in imp.groups.iter().enumerate() {
        assert_eq!(g.name, j.to_string());
        for (a, b) in g.repeats.iter().zip(&want[j]) {
            assert!((a - b).abs() < 1e-12, "column {j}: {a} vs {b}");
        }
        assert!((g.mean - mean[j]).abs() < 1e-12, "mean {j}");
        assert!((g.std - std[j]).abs() < 1e-12, "std {j}");
    }
    // The informative column matters most, by far.
    assert!(imp.groups[0].mean > 0.3);
}

#[test]
fn a_model_that_reads_one_column_gives_zero_to_the_others() {
    // Labels are the sign of column 1; the model looks only at column 1.
    let x = Array2::from_shape_fn((20, 4), |(i, j)| {
        if j == 1 {
            if i % 2 == 0 {
                -1.0 - i as f64
            } else {
                1.0 + i as f64
            }
        } else {
            ((i * 7 + j * 3) % 5) as f64
        }
    });
    let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
    let predict = |x: &Array2<f64>| -> vidcompare::Result<Vec<usize>> {
        Ok(x.column(1).iter().map(|&v| usize::from(v > 0.0)).collect())
    };
    let groups = vec![
        FeatureGroup {
            name: "noise a".into(),
            columns: vec![0, 2],
        },
        FeatureGroup {
            name: "signal".into(),
            columns: vec![1],
        },
        FeatureGroup {
            name: "noise b".into(),
            columns: vec![3],
        },
    ];
    let imp = permutation_importance(predict, &x, &y, &groups, 8, 3).unwrap();
    assert_eq!(imp.baseline, 1.0);
    assert_eq!(imp.groups[0].mean, 0.0);
    assert_eq!(imp.groups[2].mean, 0.0);
    assert_eq!(imp.groups[0].std, 0.0);
    // Shuffling the signal leaves about half the labels right: a drop near 0.5.
    assert!(
        imp.groups[1].mean > 0.2 && imp.groups[1].mean <= 1.0,
        "{}",
        imp.groups[1].mean
    );
    // Seeded: the same seed gives the same numbers, another seed other permutations.
    let again = permutation_importance(predict, &x, &y, &groups, 8, 3).unwrap();
    assert_eq!(again, imp);
    let other = permutation_importance(predict, &x, &y, &groups, 8, 4).unwrap();
    assert_ne!(other.groups[1].repeats, imp.groups[1].repeats);
    // Sorted chart and table, largest first.
    let chart = importance_chart(&imp, "t", 2);
    assert_eq!(chart.categories[0], "signal");
    assert_eq!(chart.categories.len(), 2);
    let table = importance_table(&imp, "t");
    assert_eq!(
        table.rows[0][0],
        vidcompare::report::Cell::Text("signal".into())
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let x = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let y = vec![0, 1, 0];
    let predict = |x: &Array2<f64>| -> vidcompare::Result<Vec<usize>> { Ok(vec![0; x.nrows()]) };
    let out_of_range = vec![FeatureGroup {
        name: "g".into(),
        columns: vec![5],
    }];
    let err = permutation_importance(predict, &x, &y, &out_of_range, 2, 0).unwrap_err();
    assert!(err.to_string().contains("column 5"), "{err}");
    let groups = single_columns(2, Some(&["a".to_string(), "b".to_string()]));
    assert!(permutation_importance(predict, &x, &y[..2], &groups, 2, 0).is_err());
    assert!(permutation_importance(predict, &x, &y, &groups, 0, 0).is_err());
    let not_a_perm = vec![vec![vec![0, 0, 1]], vec![vec![0, 1, 2]]];
    assert!(permutation_importance_with(predict, &x, &y, &groups, &not_a_perm).is_err());
}

#[test]
fn groups_follow_the_named_layout() {
    let per_frame = {
        let mut l = Layout::new();
        l.push(Segment::named(Family::Color, "avg", &["R", "G", "B"]));
        l.push(Segment::new(Family::Shape, "hog", Labels::Count(4)));
        l
    };
    let mut layout = Layout::new();
    layout.extend(&per_frame.with_stat("mean"));
    layout.extend(&per_frame.with_stat("std"));
    layout.push(Segment::named(
        Family::Motion,
        "lk",
        &["mag_mean", "mag_std"],
    ));
    // 3 + 4 + 3 + 4 + 2 = 16 columns.
    let fam = groups_by_family(&layout);
    let names: Vec<&str> = fam.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["color", "shape", "motion"]);
    assert_eq!(fam[0].columns, vec![0, 1, 2, 7, 8, 9]);
    assert_eq!(fam[1].columns, vec![3, 4, 5, 6, 10, 11, 12, 13]);
    assert_eq!(fam[2].columns, vec![14, 15]);
    let feat = groups_by_feature(&layout);
    let names: Vec<&str> = feat.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["color/avg", "shape/hog", "motion/lk"]);
    assert_eq!(feat[1].columns.len(), 8);
    // Every column is in exactly one group either way.
    for groups in [&fam, &feat] {
        let mut all: Vec<usize> = groups.iter().flat_map(|g| g.columns.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..16).collect::<Vec<_>>());
    }
}

#[test]
fn component_chart_lists_the_largest_first() {
    let c = component_importance_chart("RF", &[0.1, 0.5, 0.05, 0.35], 3);
    assert_eq!(c.categories, ["PC2", "PC4", "PC1"]);
    assert_eq!(c.series[0].values, vec![0.5, 0.35, 0.1]);
}

#[test]
fn pipeline_shortcut_equals_running_the_whole_pipeline() {
    use vidcompare::analysis::importance::pipeline_permutation_importance;
    use vidcompare::classical::models::ModelSpec;
    use vidcompare::classical::pca::PcaComponents;
    use vidcompare::classical::pipeline::{PrepOptions, Preprocessor};

    // 24 videos, 3 classes; colour (4 columns, one always NaN so the imputer drops it), shape (5,
    // weighted 0.5), texture (3, weight 0: removed before PCA), motion (4, carries the class).
    let mut layout = Layout::new();
    layout.push(Segment::new(Family::Color, "c", Labels::Count(4)));
    layout.push(Segment::new(Family::Shape, "s", Labels::Count(5)));
    layout.push(Segment::new(Family::Texture, "t", Labels::Count(3)));
    layout.push(Segment::new(Family::Motion, "m", Labels::Count(4)));
    let noise = |i: usize, j: usize| ((i * 37 + j * 11) % 17) as f64 / 17.0;
    let make = |n: usize, shift: usize| {
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let x = Array2::from_shape_fn((n, 16), |(i, j)| {
            let i2 = i + shift;
            match j {
                3 => f64::NAN,
                1 if i2.is_multiple_of(5) => f64::NAN,
                12..=15 => 3.0 * (y[i] as f64) * ((j - 11) as f64) + noise(i2, j),
                _ => noise(i2, j) * 2.0,
            }
        });
        (x, y)
    };
    let (xtr, ytr) = make(24, 0);
    let (xte, yte) = make(15, 3);
    let opts = PrepOptions {
        pca: PcaComponents::Count(5),
        family_weights: vec![(Family::Shape, 0.5), (Family::Texture, 0.0)],
        ..PrepOptions::default()
    };
    let (prep, xp) = Preprocessor::fit(&xtr, &layout, &opts).unwrap();
    for (kind, params) in [
        ("rf", serde_json::json!({"n_estimators": 30})),
        ("knn", serde_json::json!({"n_neighbors": 3})),
    ] {
        let model = ModelSpec::from_params(kind, &params)
            .unwrap()
            .fit_model(&xp, &ytr, 3, 0)
            .unwrap();
        let whole = |x: &Array2<f64>| -> vidcompare::Result<Vec<usize>> {
            model.try_predict(&prep.transform(x)?)
        };
        for groups in [groups_by_family(&layout), single_columns(16, None)] {
            let slow = permutation_importance(whole, &xte, &yte, &groups, 5, 9).unwrap();
            let fast =
                pipeline_permutation_importance(&prep, &model, &xte, &yte, &groups, 5, 9).unwrap();
            assert_eq!(fast.baseline, slow.baseline, "{kind}");
            for (f, s) in fast.groups.iter().zip(&slow.groups) {
                assert_eq!(f.name, s.name);
                assert_eq!(f.repeats, s.repeats, "{kind}, group {}", f.name);
            }
        }
        // Motion carries the class; texture never reaches the model (weight 0).
        let fam = pipeline_permutation_importance(
            &prep,
            &model,
            &xte,
            &yte,
            &groups_by_family(&layout),
            5,
            9,
        )
        .unwrap();
        let get = |n: &str| fam.groups.iter().find(|g| g.name == n).unwrap().mean;
        assert_eq!(get("texture"), 0.0, "{kind}");
        assert!(get("motion") > 0.3, "{kind}: {}", get("motion"));
    }
}
