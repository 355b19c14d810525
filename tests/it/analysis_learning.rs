//! Stratified learning-curve subsets against scikit-learn's `train_test_split(stratify=y)`
//! (tools/fixtures_analysis.py), nesting and determinism, and a classical learning curve on
//! separable data.

use ndarray::Array2;
use serde_json::Value;
use vidcompare::analysis::learning::{
    ClassicalCurve, LearningRow, NOTEBOOK_FRACTIONS, classical_learning_curve, stratified_counts,
    stratified_subset, summarize,
};
use vidcompare::classical::models::ModelSpec;
use vidcompare::classical::pca::PcaComponents;
use vidcompare::classical::pipeline::PrepOptions;
use vidcompare::features::layout::{Family, Labels, Layout, Segment};
use vidcompare::report::PlotKind;
use vidcompare::report::analysis::learning_curve_plots;

#[test]
fn counts_are_those_scikit_learn_gives_and_keep_every_class() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/analysis/stratified.json"
    ))
    .unwrap();
    let f: Value = serde_json::from_str(&text).unwrap();
    let mut compared = 0;
    for case in f["cases"].as_array().unwrap() {
        let counts: Vec<usize> = serde_json::from_value(case["class_counts"].clone()).unwrap();
        let fraction = case["fraction"].as_f64().unwrap();
        let n_train = case["n_train"].as_u64().unwrap() as usize;
        let ours = stratified_counts(&counts, fraction);
        let what = format!("{counts:?} at {fraction}: ours {ours:?}");
        // Every class keeps at least one video, never more than it has.
        assert!(
            ours.iter().zip(&counts).all(|(o, c)| *o >= 1 && o <= c),
            "{what}"
        );
        let sklearn: Vec<Vec<usize>> =
            serde_json::from_value(case["sklearn_counts"].clone()).unwrap();
        let keeps_all = sklearn.iter().all(|s| s.iter().all(|&c| c > 0));
        if !sklearn.is_empty() && keeps_all {
            assert!(sklearn.contains(&ours), "{what}, scikit-learn {sklearn:?}");
            compared += 1;
        } else {
            // scikit-learn refuses the split or drops a class: we take floor(f * n) videos, but
            // never fewer than one per class.
            assert_eq!(
                ours.iter().sum::<usize>(),
                n_train.max(counts.len()),
                "{what}"
            );
        }
    }
    assert!(compared >= 15, "only {compared} cases compared");
}

#[test]
fn subsets_are_nested_deterministic_and_stratified() {
    // 277 training videos in three classes, as the notebook's deep root.
    let y: Vec<usize> = (0..277).map(|i| i % 3).collect();
    for seed in [0, 42] {
        let mut previous: Vec<usize> = Vec::new();
        for &f in &NOTEBOOK_FRACTIONS {
            let s = stratified_subset(&y, f, seed);
            assert_eq!(s, stratified_subset(&y, f, seed), "deterministic");
            assert!(s.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            assert!(previous.iter().all(|i| s.contains(i)), "nested at {f}");
            let per_class: Vec<usize> = (0..3)
                .map(|c| s.iter().filter(|&&i| y[i] == c).count())
                .collect();
            assert_eq!(per_class, stratified_counts(&[93, 92, 92], f));
            previous = s;
        }
        assert_eq!(previous.len(), 277);
    }
    // The notebook's sizes: int(277 * f) = 27, 69, 138, 207, 277.
    let sizes: Vec<usize> = NOTEBOOK_FRACTIONS
        .iter()
        .map(|&f| stratified_subset(&y, f, 1).len())
        .collect();
    assert_eq!(sizes, [27, 69, 138, 207, 277]);
    assert_ne!(stratified_subset(&y, 0.1, 1), stratified_subset(&y, 0.1, 2));
}

fn layout(d: usize) -> Layout {
    let mut l = Layout::new();
    l.push(Segment::new(Family::Color, "x", Labels::Count(d)));
    l
}

#[test]
fn classical_curve_learns_separable_classes() {
    // Three well-separated classes in 6 dimensions, 8 training and 4 test videos per class.
    let make = |n: usize, offset: usize| {
        let y: Vec<usize> = (0..3 * n).map(|i| i % 3).collect();
        let x = Array2::from_shape_fn((3 * n, 6), |(i, j)| {
            let c = (i % 3) as f64;
            let jitter = (((i + offset) * 31 + j * 17) % 13) as f64 / 13.0 - 0.5;
            if j == (i % 3) {
                10.0 + jitter
            } else {
                c * 0.1 + jitter
            }
        });
        (x, y)
    };
    let (xtr, ytr) = make(8, 0);
    let (xte, yte) = make(4, 5);
    let spec = ModelSpec::from_params("rf", &serde_json::json!({"n_estimators": 25})).unwrap();
    let fractions = [0.25, 0.5, 1.0];
    let rows = classical_learning_curve(
        &xtr,
        &ytr,
        &layout(6),
        &xte,
        &yte,
        &ClassicalCurve {
            name: "Classical-RF",
            spec,
            prep: PrepOptions {
                pca: PcaComponents::Fraction(0.95),
                family_weights: Vec::new(),
                ..PrepOptions::default()
            },
            n_classes: 3,
            fractions: &fractions,
            seeds: &[1, 2],
        },
    )
    .unwrap();
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert_eq!(r.model, "Classical-RF");
        assert_eq!(
            r.n_train,
            stratified_counts(&[8, 8, 8], r.fraction)
                .iter()
                .sum::<usize>()
        );
        assert!(r.train_time_s >= 0.0);
    }
    let full: Vec<&LearningRow> = rows.iter().filter(|r| r.fraction == 1.0).collect();
    assert!(
        full.iter().all(|r| r.accuracy == 1.0 && r.f1 == 1.0),
        "{full:?}"
    );

    let points = summarize(&rows);
    assert_eq!(points.len(), 3);
    assert_eq!(points[0].n_seeds, 2);
    let plots = learning_curve_plots(&rows);
    assert_eq!(plots.len(), 3);
    assert!(plots.iter().all(|p| p.kind == PlotKind::Line));
    // Two seeds: a band around the mean.
    assert_eq!(plots[0].series[0].lo.len(), 3);
    assert_eq!(plots[0].series[0].x, vec![6.0, 12.0, 24.0]);

    let bad = classical_learning_curve(
        &xtr,
        &ytr,
        &layout(6),
        &xte,
        &yte,
        &ClassicalCurve {
            name: "x",
            spec: ModelSpec::from_params("rf", &serde_json::json!({})).unwrap(),
            prep: PrepOptions::default(),
            n_classes: 3,
            fractions: &[1.5],
            seeds: &[1],
        },
    );
    assert!(bad.unwrap_err().to_string().contains("fraction 1.5"));
}

#[test]
fn summary_is_the_mean_and_population_std_over_seeds() {
    let row = |seed, acc, t| LearningRow {
        model: "m".into(),
        fraction: 0.5,
        n_train: 10,
        seed,
        accuracy: acc,
        f1: acc,
        train_time_s: t,
    };
    let p = summarize(&[row(1, 0.5, 1.0), row(2, 0.7, 3.0), row(3, 0.9, 200.0)]);
    assert_eq!(p.len(), 1);
    assert!((p[0].accuracy.0 - 0.7).abs() < 1e-15);
    // sqrt(((-0.2)² + 0 + 0.2²) / 3)
    assert!((p[0].accuracy.1 - (0.08f64 / 3.0).sqrt()).abs() < 1e-15);
    // Times from 1 s to 200 s span over two orders of magnitude, but the mean does not: linear.
    let plots = learning_curve_plots(&[row(1, 0.5, 0.01), row(1, 0.5, 0.01)]);
    assert!(!plots[2].log_y);
    let mut spread = vec![row(1, 0.5, 0.01)];
    spread.push(LearningRow {
        fraction: 1.0,
        n_train: 20,
        train_time_s: 5.0,
        ..row(1, 0.5, 0.0)
    });
    assert!(learning_curve_plots(&spread)[2].log_y);
}
