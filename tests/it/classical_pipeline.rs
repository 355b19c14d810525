//! The classical pipeline end to end on feature matrices with a known answer: preprocessing fitted
//! on train only, family weights, grid search, evaluation, and saved pipelines that reload.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use vidcompare::classical::pca::PcaComponents;
use vidcompare::classical::pipeline::{
    ClassicalPipeline, CvPreprocess, PrepOptions, Preprocessor, Training, prepare,
    train_and_evaluate,
};
use vidcompare::features::extract::{FeatureMatrix, FeatureOptions};
use vidcompare::features::layout::{Family, Labels, Layout, Segment};

/// 3 classes told apart only by the two "motion" columns; 40 "colour" columns are noise.
fn matrix(n_per_class: usize, seed: u64) -> FeatureMatrix {
    let mut layout = Layout::new();
    layout.push(Segment::new(Family::Color, "noise", Labels::Count(40)));
    layout.push(Segment::new(Family::Motion, "signal", Labels::Count(2)));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = 3 * n_per_class;
    let mut x = Array2::<f32>::zeros((n, 42));
    let mut y = Vec::new();
    for i in 0..n {
        let c = i % 3;
        y.push(c);
        for j in 0..40 {
            x[[i, j]] = rng.r#gen::<f32>() * 10.0;
        }
        let centres = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)];
        x[[i, 40]] = centres[c].0 + 0.05 * rng.r#gen::<f32>();
        x[[i, 41]] = centres[c].1 + 0.05 * rng.r#gen::<f32>();
    }
    let mut m = feature_matrix(x, y, layout);
    m.seconds = vec![0.5; n];
    m.n_frames = vec![4; n];
    m
}

/// A feature matrix of hand-made rows, for videos `v<i>.mp4` that do not exist.
fn feature_matrix(x: Array2<f32>, y: Vec<usize>, layout: Layout) -> FeatureMatrix {
    let n = x.nrows();
    FeatureMatrix {
        x,
        y,
        paths: (0..n).map(|i| PathBuf::from(format!("v{i}.mp4"))).collect(),
        layout: Arc::new(layout),
        options: FeatureOptions::default(),
        seconds: vec![0.0; n],
        n_frames: vec![1; n],
        skipped: Vec::new(),
        warnings: Vec::new(),
        cache_hits: 0,
        not_cached: Vec::new(),
    }
}

#[test]
fn family_weights_decide_what_pca_sees() {
    let tr = matrix(8, 1);
    let x = tr.x.mapv(f64::from);
    // Unweighted: 40 noise columns dominate the leading components.
    let opts = PrepOptions {
        pca: PcaComponents::Count(2),
        family_weights: vec![],
        ..PrepOptions::default()
    };
    let (p, _) = Preprocessor::fit(&x, &tr.layout, &opts).unwrap();
    let motion_share = |p: &Preprocessor| {
        let c = p.pca.components();
        let first = c.row(0);
        let m: f64 = first.iter().skip(first.len() - 2).map(|v| v * v).sum();
        m / first.iter().map(|v| v * v).sum::<f64>()
    };
    assert!(motion_share(&p) < 0.5);
    // Dropping colour leaves only the two motion columns.
    let opts = PrepOptions {
        pca: PcaComponents::Count(2),
        family_weights: vec![(Family::Color, 0.0)],
        ..PrepOptions::default()
    };
    let (p, xp) = Preprocessor::fit(&x, &tr.layout, &opts).unwrap();
    assert_eq!(p.pca.n_features(), 2);
    assert_eq!(xp.ncols(), 2);
    assert!((motion_share(&p) - 1.0).abs() < 1e-12);
    // Removing every family is refused.
    let opts = PrepOptions {
        pca: PcaComponents::Count(2),
        family_weights: vec![(Family::Color, 0.0), (Family::Motion, 0.0)],
        ..PrepOptions::default()
    };
    assert!(Preprocessor::fit(&x, &tr.layout, &opts).is_err());
}

#[test]
fn grid_search_evaluate_save_and_reload() {
    let (tr, va, te) = (matrix(8, 1), matrix(2, 2), matrix(4, 3));
    let opts = PrepOptions {
        pca: PcaComponents::Fraction(0.95),
        family_weights: vec![(Family::Motion, 30.0)],
        ..PrepOptions::default()
    };
    let data = prepare(&tr, &va, &te, &FeatureOptions::default(), &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let grid = vec![
        ("n_neighbors", vec![json!(1), json!(3)]),
        ("weights", vec![json!("uniform")]),
        ("metric", vec![json!("euclidean")]),
    ];
    let run = train_and_evaluate(
        &data,
        &Training {
            kind: "knn",
            grid: &grid,
            class_names: &classes,
            seed: 7,
            model_dir: dir.path(),
            name_suffix: "",
        },
    )
    .unwrap();
    let r = &run.result;
    assert_eq!(r.name, "Classical-kNN");
    // The motion columns separate the classes perfectly once weighted up.
    assert_eq!(r.metrics.accuracy, 1.0);
    assert_eq!(
        r.metrics.confusion,
        vec![vec![4, 0, 0], vec![0, 4, 0], vec![0, 0, 4]]
    );
    assert_eq!(r.details.classical.grid_search.len(), 2);
    assert_eq!(r.protocol.n_videos, 12);
    let e = &r.efficiency;
    // Size and parameters are those of what classifies a new video: the whole pipeline file,
    // and the classifier's stored samples plus the preprocessor's learned values (a median per
    // input column; a mean and a divisor per kept column; PCA's mean and k axes over the columns
    // with a non-zero weight).
    let saved = dir.path().join("classical-knn.pipeline");
    let len = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    let prep_files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "vcprep"))
        .collect();
    assert_eq!(prep_files.len(), 1);
    assert_eq!(e.model_size_bytes, Some(len(&saved) + len(&prep_files[0])));
    let knn = (24 * data.x_train.ncols()) as u64;
    let kept = data.prep.weights.len();
    let pca_in = data.prep.weights.iter().filter(|w| **w != 0.0).count();
    let k = data.prep.pca.n_components();
    let prep = data.dim_in + 2 * kept + pca_in + k * pca_in;
    assert_eq!(e.params, Some(knn + prep as u64));
    assert_eq!(r.details.classical.classifier_params, Some(knn));
    assert_eq!(
        e.params_meaning.as_deref(),
        Some("stored samples + imputer, scaler and PCA")
    );
    assert!(r.details.classical.classifier_bytes.unwrap() < e.model_size_bytes.unwrap());
    // End to end is timed from the video files, which these hand-made features have none of:
    // not measured, and the note says why (the run goes on).
    assert_eq!(e.infer_time_s_per_video_e2e, None);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("end-to-end latency not measured") && n.contains("v0.mp4")),
        "{:?}",
        r.notes
    );

    let p = ClassicalPipeline::load(&saved).unwrap();
    assert_eq!(p, run.pipeline);
    let (pred, proba) = p.predict_features(&te.x.mapv(f64::from)).unwrap();
    assert_eq!(pred, r.y_pred);
    assert_eq!(proba.nrows(), 12);

    // A second model on the same features shares the preprocessor file.
    let grid = vec![("n_neighbors", vec![json!(5)])];
    train_and_evaluate(
        &data,
        &Training {
            kind: "knn",
            grid: &grid,
            class_names: &classes,
            seed: 7,
            model_dir: dir.path(),
            name_suffix: " (b)",
        },
    )
    .unwrap();
    let preps: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".vcprep"))
        .collect();
    assert_eq!(preps.len(), 1);
    assert!(ClassicalPipeline::load(&dir.path().join("classical-knn-b.pipeline")).is_ok());

    // A damaged file is detected, not trusted.
    let mut bytes = std::fs::read(&saved).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&saved, &bytes).unwrap();
    let err = ClassicalPipeline::load(&saved).unwrap_err().to_string();
    assert!(err.contains("damaged"), "{err}");

    // A missing preprocessor file is an error naming it.
    std::fs::remove_file(preps[0].path()).unwrap();
    let err = ClassicalPipeline::load(&dir.path().join("classical-knn-b.pipeline"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(".vcprep"), "{err}");
}

#[test]
fn an_empty_split_is_a_clear_error() {
    let (tr, va) = (matrix(4, 1), matrix(1, 2));
    let mut te = matrix(1, 3);
    te.x = Array2::zeros((0, 42));
    te.y.clear();
    let err = prepare(
        &tr,
        &va,
        &te,
        &FeatureOptions::default(),
        &PrepOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("test split has no usable video"), "{err}");
}

/// The grid search's fold scores against scikit-learn's `GridSearchCV` over the same data, both
/// ways of preprocessing the folds (`tools/fixtures_cv_preprocess.py`): `per_fold` against a
/// `Pipeline(SimpleImputer, StandardScaler, PCA(0.95), kNN)` searched as one estimator, `outside`
/// against the preprocessing fitted once and the kNN searched on its output (the notebook's).
#[test]
fn cv_preprocess_matches_scikit_learn_both_ways() {
    let f = crate::common::fixture_json("classical/cv_preprocess.json");
    let rows = f["x"].as_array().unwrap();
    let (n, d) = (rows.len(), rows[0].as_array().unwrap().len());
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        rows[i][j].as_f64().map_or(f32::NAN, |v| v as f32)
    });
    let y: Vec<usize> = f["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut layout = Layout::new();
    layout.push(Segment::new(Family::Color, "x", Labels::Count(d)));
    let m = feature_matrix(x, y, layout);
    let ks: Vec<serde_json::Value> = f["n_neighbors"].as_array().unwrap().clone();
    let grid = vec![
        ("n_neighbors", ks.clone()),
        ("weights", vec![json!("uniform")]),
        ("metric", vec![json!("euclidean")]),
    ];
    let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut scores = Vec::new();
    for (way, cv) in [
        ("per_fold", CvPreprocess::PerFold),
        ("outside", CvPreprocess::Outside),
    ] {
        let opts = PrepOptions {
            pca: PcaComponents::Fraction(0.95),
            family_weights: vec![],
            cv_preprocess: cv,
        };
        let data = prepare(&m, &m, &m, &FeatureOptions::default(), &opts).unwrap();
        assert_eq!(data.cv_folds.is_some(), cv == CvPreprocess::PerFold);
        let dir = tempfile::tempdir().unwrap();
        let run = train_and_evaluate(
            &data,
            &Training {
                kind: "knn",
                grid: &grid,
                class_names: &classes,
                seed: 0,
                model_dir: dir.path(),
                name_suffix: "",
            },
        )
        .unwrap();
        let search = &run.result.details.classical;
        assert_eq!(search.cv_preprocess.as_deref(), Some(way));
        let want = &f[way];
        for (c, row) in search.grid_search.iter().enumerate() {
            let theirs: Vec<f64> = want["split_scores"][c]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let ours: Vec<f64> = row.fold_scores.iter().map(|s| s.unwrap()).collect();
            assert_eq!(ours, theirs, "{way}, n_neighbors={}", ks[c]);
        }
        assert_eq!(
            search.best_index,
            Some(want["best_index"].as_u64().unwrap() as usize),
            "{way}"
        );
        scores.push(
            search
                .grid_search
                .iter()
                .map(|r| r.fold_scores.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_ne!(scores[0], scores[1], "the two ways differ on these data");
}
