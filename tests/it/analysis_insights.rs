//! Strengths-and-limitations sentences from a hand-made results table: every number in the text is
//! checked against the table it came from.

use vidcompare::analysis::insights::{
    duration, insights, p_value, points, ratio, sig3, to_markdown,
};
use vidcompare::analysis::learning::LearningRow;
use vidcompare::metrics::evaluate;
use vidcompare::results::{Efficiency, ModelKind, ModelResult, Protocol, ResultsTable};
use vidcompare::uncertainty::{Bootstrap, PairedComparison, TestPredictions, compare_pair};

/// A model on 10 test videos (classes 0/1) with `correct` of them right.
fn model(name: &str, kind: ModelKind, correct: usize, e: Efficiency) -> ModelResult {
    model_on(10, name, kind, correct, e)
}

/// A model on `n` test videos (classes 0/1 alternating), right on the first `correct`.
fn model_on(n: usize, name: &str, kind: ModelKind, correct: usize, e: Efficiency) -> ModelResult {
    let y_true: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let y_pred: Vec<usize> = y_true
        .iter()
        .enumerate()
        .map(|(i, &t)| if i < correct { t } else { 1 - t })
        .collect();
    let scores: Vec<Vec<f64>> = y_pred
        .iter()
        .map(|&p| {
            if p == 0 {
                vec![0.8, 0.2]
            } else {
                vec![0.3, 0.7]
            }
        })
        .collect();
    ModelResult {
        name: name.into(),
        kind,
        metrics: evaluate(&y_true, &y_pred, &scores, 2).unwrap(),
        efficiency: e,
        protocol: Protocol {
            split: "test".into(),
            n_videos: n,
            frames_per_video: "8 frames".into(),
            input: "224".into(),
            ..Default::default()
        },
        y_true,
        y_pred,
        scores,
        test_paths: (0..n).map(|i| format!("v{i}")).collect(),
        score_kind: "softmax".into(),
        details: Default::default(),
        artifacts: Vec::new(),
        notes: Vec::new(),
    }
}

fn eff(train: f64, clf: f64, e2e: Option<f64>, size: f64, mem: (f64, &str)) -> Efficiency {
    Efficiency {
        train_time_s: train,
        infer_time_s_per_video: clf,
        infer_time_s_per_video_e2e: e2e,
        model_size_mb: Some(size),
        memory_mb: Some(mem.0),
        memory_kind: Some(mem.1.into()),
        ..Efficiency::default()
    }
}

fn table() -> ResultsTable {
    let mut t = ResultsTable::new();
    // Classical-RF: 6/10, classifier 0.004 ms, end to end 0.65 s, 0.1 MB, trains in 0.08 s.
    t.push(model(
        "Classical-RF",
        ModelKind::Classical,
        6,
        eff(0.08, 4e-6, Some(0.65), 0.1, (240.0, "peak RSS")),
    ));
    // Classical-RF (motion+): 8/10.
    t.push(model(
        "Classical-RF (motion+)",
        ModelKind::Classical,
        8,
        eff(0.09, 5e-6, Some(1.1), 0.12, (260.0, "peak RSS")),
    ));
    // Deep-3D-R3D18: 10/10, 1.8 s per video, 126.5 MB, 2075 s of training.
    t.push(model(
        "Deep-3D-R3D18",
        ModelKind::Deep,
        10,
        eff(2075.0, 1.8, Some(1.8), 126.5, (958.6, "GPU peak")),
    ));
    t
}

fn texts(t: &ResultsTable, rows: &[LearningRow]) -> Vec<String> {
    insights(t, rows).into_iter().map(|i| i.text).collect()
}

fn find<'a>(all: &'a [String], needle: &str) -> &'a str {
    all.iter()
        .find(|s| s.contains(needle))
        .unwrap_or_else(|| panic!("no sentence with `{needle}` in {all:#?}"))
}

/// The paired comparison of `a` against `b` in `t`, from the statistics module directly.
fn pair(t: &ResultsTable, a: &str, b: &str) -> PairedComparison {
    let p = |name: &str| {
        let m = t.get(name).unwrap();
        TestPredictions {
            model: &m.name,
            videos: &m.test_paths,
            y_true: &m.y_true,
            y_pred: &m.y_pred,
        }
    };
    compare_pair(&p(a), &p(b), &Bootstrap::default()).unwrap()
}

#[test]
fn models_on_other_test_videos_are_never_compared() {
    let mut t = table();
    // The deep model evaluated on other files.
    for (i, p) in t.models[2].test_paths.iter_mut().enumerate() {
        *p = format!("deep/v{i}");
    }
    let all = texts(&t, &[]);
    let sets = find(&all, "different test sets");
    assert!(
        sets.starts_with("The models were evaluated on 2 different test sets"),
        "{sets}"
    );
    // No sentence names models of both sets.
    for s in &all {
        let deep = s.contains("Deep-3D-R3D18");
        let classical = s.contains("Classical-RF");
        assert!(!(deep && classical) || s == sets, "{s}");
    }
    assert!(
        find(&all, "evaluated on different test videos")
            .contains("does not compare the two families")
    );
    // Within the classical set: 8/10 against 6/10, sentences prefixed with their set.
    let rf = find(&all, "least accurate");
    assert!(rf.starts_with("On test set #"), "{rf}");
    assert!(
        rf.contains("**Classical-RF**, reaches 0.600: 20.0 points below the best"),
        "{rf}"
    );
}

#[test]
fn a_difference_the_data_resolve_is_a_ranking() {
    // 40 videos: A right on all, B wrong on the last 16 (8 per class). McNemar on 16 against 0:
    // p = 2 (1/2)^16 = 3.05e-5; a resample misses all 8 of a class with probability
    // (12/20)^20 = 3.7e-5: the interval excludes 0.
    let mut t = ResultsTable::new();
    let e = || eff(1.0, 1e-3, Some(0.5), 1.0, (1.0, "peak RSS"));
    t.push(model_on(40, "A", ModelKind::Classical, 40, e()));
    t.push(model_on(40, "B", ModelKind::Classical, 24, e()));
    let c = pair(&t, "A", "B");
    assert_eq!((c.b_only, c.c_only), (16, 0));
    assert_eq!(c.mcnemar_p, 2.0 * 0.5f64.powi(16));
    assert!(c.differs());
    let all = texts(&t, &[]);
    let best = find(&all, "most accurate model:");
    assert!(
        best.starts_with("**A** is the most accurate model: accuracy 1.000 (95 % CI 1.000–1.000)"),
        "{best}"
    );
    let worst = find(&all, "least accurate");
    assert!(
        worst.contains(&format!(
            "**B**, reaches 0.600: 40.0 points below the best (95 % CI of the difference {:+.1} to \
             {:+.1} points, McNemar p < 0.001).",
            c.diff_interval.low * 100.0,
            c.diff_interval.high * 100.0
        )),
        "{worst}"
    );
    assert!(
        !all.iter().any(|s| s.contains("not distinguishable")),
        "{all:#?}"
    );
}

#[test]
fn formatting_helpers() {
    assert_eq!(points(0.9, 0.45), "45.0");
    assert_eq!(points(0.45, 0.9), "45.0");
    assert_eq!(ratio(1.8, 4e-6), "450000x");
    assert_eq!(ratio(3.0, 1.0), "3.0x");
    assert_eq!(p_value(0.125), "= 0.125");
    assert_eq!(p_value(0.0312), "= 0.0312");
    assert_eq!(p_value(3.05e-5), "< 0.001");
    assert_eq!(duration(4e-6), "4.00 µs");
    assert_eq!(duration(0.65), "650 ms");
    assert_eq!(duration(2075.0), "34.6 min");
    assert_eq!(sig3(0.00259), "0.00259");
}

#[test]
fn sentences_carry_the_table_numbers() {
    let all = texts(&table(), &[]);
    // Accuracy. 10/10 against 8/10: the two videos they disagree on are one of each class's
    // five, which a stratified resample leaves out with probability (4/5)^5 each, 10.7 %
    // together: the paired interval holds 0. 10/10 against 6/10: the interval excludes 0 (below)
    // but the exact McNemar test on 4 against 0 gives p = 2 (1/2)^4 = 0.125. Neither is called
    // less accurate than the best.
    let best = find(&all, "highest accuracy");
    assert!(
        best.contains("**Deep-3D-R3D18** has the highest accuracy, 1.000 (95 % CI 1.000–1.000)"),
        "{best}"
    );
    assert!(best.contains("on 10 test videos"), "{best}");
    assert!(
        best.contains(
            "not distinguishable from **Classical-RF (motion+)** and **Classical-RF** (for each,"
        ),
        "{best}"
    );
    assert!(!all.iter().any(|s| s.contains("most accurate model:")));
    let worst = find(&all, "least accurate");
    assert!(
        worst.contains("**Classical-RF**") && worst.contains("0.600: 40.0 points"),
        "{worst}"
    );
    // Classifier-only times are compared within the best model's family only: the deep model is
    // the only one of its family, so no classifier-only sentence.
    assert!(
        !all.iter().any(|s| s.contains("classifier only:")),
        "{all:#?}"
    );
    // End to end: 1.8 / 0.65 = 2.8x, and the accuracy difference is not established.
    let e2e = find(&all, "end to end, decoding");
    assert!(
        e2e.contains("2.8x faster") && e2e.contains("650 ms vs 1.80 s"),
        "{e2e}"
    );
    assert!(
        e2e.contains("and not distinguishable in accuracy on these 10 videos (0.600 vs 1.000)"),
        "{e2e}"
    );
    // The smallest classifier share of end-to-end time: 5e-6 / 1.1 = 0.000455 % (RF: 0.000615 %).
    let share = find(&all, "dominate its latency");
    assert!(
        share.contains("**Classical-RF (motion+)**") && share.contains("(0.000455 %)"),
        "{share}"
    );
    // Size: 126.5 / 0.1 = 1265x.
    let size = find(&all, "smallest saved model");
    assert!(
        size.contains("(0.100 MB), 1265x smaller than **Deep-3D-R3D18** (126 MB)"),
        "{size}"
    );
    // Training: 2075 / 0.08 = 25938x.
    let train = find(&all, "longer to train");
    assert!(
        train.contains("25938x") && train.contains("34.6 min vs 80.0 ms"),
        "{train}"
    );
    // Deep against classical: 100 against 80, not distinguishable (as above; McNemar on 2
    // against 0: p = 2 (1/2)^2 = 0.5); 1.8 / 1.1 = 1.6x slower end to end.
    let vs = find(&all, "best deep model");
    let c = pair(&table(), "Deep-3D-R3D18", "Classical-RF (motion+)");
    assert!(!c.distinguishable() && !c.differs());
    assert_eq!(c.mcnemar_p, 0.5);
    assert!(
        vs.contains(&format!(
            "The best deep model, **Deep-3D-R3D18** (1.000), and the best classical model, \
             **Classical-RF (motion+)** (0.800), are not distinguishable in accuracy on these 10 \
             videos (+20.0 points, 95 % CI {:+.1} to {:+.1}, McNemar p = 0.500); \
             **Deep-3D-R3D18** is 1.6x slower per video (end to end: 1.80 s vs 1.10 s).",
            c.diff_interval.low * 100.0,
            c.diff_interval.high * 100.0
        )),
        "{vs}"
    );
    assert!(!vs.contains("more accurate"), "{vs}");
    // Feature set pair: 0.6 -> 0.8.
    let fs = find(&all, "motion+ features");
    assert!(
        fs.contains("raise its accuracy by 20.0 points (0.600 -> 0.800"),
        "{fs}"
    );
    assert!(
        fs.contains("a change not distinguishable from 0 on these 10 videos"),
        "{fs}"
    );
    // 10/10 against 6/10: four discordant videos, two per class; a resample misses both of a
    // class with probability (3/5)^5 = 7.8 %, both classes 0.6 % < 2.5 %: the interval excludes
    // 0, but McNemar's p = 0.125 does not reject.
    let c = pair(&table(), "Deep-3D-R3D18", "Classical-RF");
    assert!(c.distinguishable() && !c.differs());
    assert_eq!(c.mcnemar_p, 0.125);
    assert!(
        worst.contains(&format!(
            "40.0 points below the best, a difference not distinguishable from 0 on these 10 \
             videos (+40.0 points, 95 % CI {:+.1} to {:+.1}, McNemar p = 0.125).",
            c.diff_interval.low * 100.0,
            c.diff_interval.high * 100.0
        )),
        "{worst}"
    );
    // Test-set size: one of 10 videos is 10 points.
    assert!(
        find(&all, "one video moves accuracy")
            .contains("With 10 test videos, one video moves accuracy by 10.0 points")
    );
    // Mixed memory measurements are flagged.
    assert!(find(&all, "Memory is measured as").contains("GPU peak and peak RSS"));
}

#[test]
fn learning_curves_and_missing_families_are_described() {
    let row = |model: &str, fraction: f64, n: usize, seed: u64, acc: f64| LearningRow {
        model: model.into(),
        fraction,
        n_train: n,
        seed,
        accuracy: acc,
        f1: acc,
        train_time_s: 0.1,
    };
    let rows = vec![
        row("Classical-RF", 0.1, 3, 1, 0.3),
        row("Classical-RF", 0.1, 3, 2, 0.5),
        row("Classical-RF", 1.0, 18, 1, 0.8),
        row("Classical-RF", 1.0, 18, 2, 0.8),
        row("Deep-2D-Max", 0.1, 27, 1, 0.6),
        row("Deep-2D-Max", 1.0, 277, 1, 0.9),
    ];
    let mut classical_only = table();
    classical_only
        .models
        .retain(|m| m.kind == ModelKind::Classical);
    let all = texts(&classical_only, &rows);
    // Mean of seeds: (0.3 + 0.5) / 2 = 0.4 with 3 videos, 0.8 with 18: 50 %.
    let rf = find(&all, "**Classical-RF** reaches accuracy");
    assert!(
        rf.contains("0.400 with 3 training videos (10 % of the split, mean of 2 seeds), against 0.800 with all 18 (50 %)"),
        "{rf}"
    );
    let deep = find(&all, "**Deep-2D-Max** reaches accuracy");
    assert!(
        deep.contains("0.600 with 27 training videos") && deep.contains("(67 %)"),
        "{deep}"
    );
    assert!(find(&all, "fewest training videos").contains("**Deep-2D-Max**"));
    assert!(find(&all, "No deep model ran").contains("2 classical models"));
    // The same memory measure everywhere: what it includes is explained instead.
    assert!(find(&all, "peak resident set size").contains("feature extraction"));

    let md = to_markdown(&insights(&classical_only, &rows));
    assert!(md.starts_with("**Accuracy**\n\n- "), "{md}");
    assert!(md.contains("**Data efficiency**") && md.contains("**Caveats**"));
    assert!(texts(&ResultsTable::new(), &[])[0].contains("No model"));
}

#[test]
fn ties_and_a_model_best_at_everything() {
    let mut t = ResultsTable::new();
    t.push(model(
        "A",
        ModelKind::Classical,
        9,
        eff(1.0, 1e-3, None, 1.0, (1.0, "peak RSS")),
    ));
    t.push(model(
        "B",
        ModelKind::Classical,
        9,
        eff(2.0, 2e-3, None, 2.0, (1.0, "peak RSS")),
    ));
    let all = texts(&t, &[]);
    assert!(
        find(&all, "tie for the best accuracy")
            .contains("**A** and **B** tie for the best accuracy, 0.900")
    );
    assert!(find(&all, "both the most accurate").contains("**A**"));
}
