//! Bootstrap intervals, percentiles and McNemar tests against NumPy / scikit-learn / statsmodels
//! numbers made by tools/fixtures_uncertainty.py, plus hand-computed cases and generator properties.

use serde::Deserialize;
use vidcompare::Error;
use vidcompare::metrics;
use vidcompare::uncertainty::{
    Bootstrap, Interval, PairedComparison, Resamples, TestPredictions, accuracy_diff_values,
    accuracy_values, compare_all, compare_pair, compare_pair_over, macro_f1_values, macro_labels,
    mcnemar_exact, model_intervals, model_intervals_over, percentile, percentile_interval,
};

use crate::common::fixture_path;

const TOL: f64 = 1e-12;

#[derive(Deserialize)]
struct Cases<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
struct BootstrapCase {
    name: String,
    n: usize,
    y_true: Vec<usize>,
    pred_a: Vec<usize>,
    pred_b: Vec<usize>,
    sets: Vec<Vec<usize>>,
    a: ModelRef,
    b: ModelRef,
    diff: f64,
    diff_head: Vec<f64>,
    diff_interval: [f64; 2],
    b_only: usize,
    c_only: usize,
    mcnemar_p: f64,
}

#[derive(Deserialize)]
struct ModelRef {
    labels: Vec<usize>,
    accuracy: f64,
    macro_f1: f64,
    accuracy_head: Vec<f64>,
    macro_f1_head: Vec<f64>,
    accuracy_interval: [f64; 2],
    macro_f1_interval: [f64; 2],
}

#[derive(Deserialize)]
struct McNemarCase {
    b: usize,
    c: usize,
    p: f64,
    p_exact: f64,
}

#[derive(Deserialize)]
struct PercentileCase {
    values: Vec<f64>,
    q: Vec<f64>,
    p: Vec<f64>,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let path = fixture_path(&format!("uncertainty/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Cases<T> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!cases.cases.is_empty(), "{}: no cases", path.display());
    cases.cases
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL,
        "{what}: got {got:e}, reference {want:e}"
    );
}

fn assert_all_close(what: &str, got: &[f64], want: &[f64]) {
    assert!(got.len() >= want.len(), "{what}: only {} values", got.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(&format!("{what}[{i}]"), *g, *w);
    }
}

fn assert_interval(what: &str, got: &Interval, want: [f64; 2], resamples: usize) {
    assert_close(&format!("{what}.low"), got.low, want[0]);
    assert_close(&format!("{what}.high"), got.high, want[1]);
    assert_eq!(got.level, 0.95, "{what}.level");
    assert_eq!(got.resamples, resamples, "{what}.resamples");
    assert_eq!(got.seed, None, "{what}.seed (index sets from NumPy)");
}

fn videos(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("test/class/video_{i:03}.mp4"))
        .collect()
}

#[test]
fn statistics_over_numpy_index_sets_match_numpy_and_sklearn() {
    for case in load::<BootstrapCase>("bootstrap_cases.json") {
        let name = &case.name;
        assert_eq!(case.y_true.len(), case.n, "{name}");
        let r = Resamples::from_sets(case.n, &case.sets).unwrap();
        assert_eq!(r.len(), case.sets.len(), "{name}");

        for (which, pred, reference) in [("a", &case.pred_a, &case.a), ("b", &case.pred_b, &case.b)]
        {
            let what = format!("{name}/{which}");
            let labels = macro_labels(&case.y_true, pred);
            assert_eq!(labels, reference.labels, "{what}: labels");

            let acc = accuracy_values(&case.y_true, pred, &r).unwrap();
            assert_all_close(&format!("{what} accuracy"), &acc, &reference.accuracy_head);
            let f1 = macro_f1_values(&case.y_true, pred, &labels, &r).unwrap();
            assert_all_close(&format!("{what} macro F1"), &f1, &reference.macro_f1_head);

            let m = model_intervals_over(&case.y_true, pred, &r, 0.95).unwrap();
            assert_close(&format!("{what} accuracy"), m.accuracy, reference.accuracy);
            assert_close(&format!("{what} macro F1"), m.macro_f1, reference.macro_f1);
            assert_interval(
                &format!("{what} accuracy interval"),
                &m.accuracy_interval,
                reference.accuracy_interval,
                r.len(),
            );
            assert_interval(
                &format!("{what} macro F1 interval"),
                &m.macro_f1_interval,
                reference.macro_f1_interval,
                r.len(),
            );

            // The point estimates are the crate's metrics (scikit-learn's defaults) exactly.
            let n_classes = labels.last().unwrap() + 1;
            let prf = metrics::precision_recall_f1(&case.y_true, pred, n_classes).unwrap();
            assert_eq!(m.macro_f1, prf.f1, "{what}: macro F1 vs metrics");
            assert_eq!(
                m.accuracy,
                metrics::accuracy(&case.y_true, pred).unwrap(),
                "{what}: accuracy vs metrics"
            );
        }

        let diffs = accuracy_diff_values(&case.y_true, &case.pred_a, &case.pred_b, &r).unwrap();
        assert_all_close(&format!("{name} diff"), &diffs, &case.diff_head);

        let v = videos(case.n);
        let a = TestPredictions {
            model: "A",
            videos: &v,
            y_true: &case.y_true,
            y_pred: &case.pred_a,
        };
        let b = TestPredictions {
            model: "B",
            videos: &v,
            y_true: &case.y_true,
            y_pred: &case.pred_b,
        };
        let cmp = compare_pair_over(&a, &b, &r, 0.95).unwrap();
        assert_eq!((cmp.a.as_str(), cmp.b.as_str()), ("A", "B"), "{name}");
        assert_eq!(cmp.n, case.n, "{name}");
        assert_eq!(
            (cmp.b_only, cmp.c_only),
            (case.b_only, case.c_only),
            "{name}: disagreements"
        );
        assert!(
            (cmp.mcnemar_p - case.mcnemar_p).abs() <= TOL * case.mcnemar_p,
            "{name}: McNemar p {} vs statsmodels {}",
            cmp.mcnemar_p,
            case.mcnemar_p
        );
        assert_close(&format!("{name} diff"), cmp.diff, case.diff);
        assert_interval(
            &format!("{name} diff interval"),
            &cmp.diff_interval,
            case.diff_interval,
            r.len(),
        );
        let excludes_zero = case.diff_interval[0] > 0.0 || case.diff_interval[1] < 0.0;
        assert_eq!(cmp.distinguishable(), excludes_zero, "{name}");
    }
}

#[test]
fn fixture_covers_the_edge_cases() {
    // Guards against a regenerated fixture silently losing the cases the tests above rely on.
    let cases = load::<BootstrapCase>("bootstrap_cases.json");
    let find = |n: &str| {
        cases
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("case {n} missing"))
    };
    let perfect = find("perfect_vs_all_wrong_n10");
    assert_eq!(perfect.a.accuracy_interval, [1.0, 1.0]);
    assert_eq!(perfect.b.accuracy_interval, [0.0, 0.0]);
    assert_eq!(perfect.b.macro_f1_interval, [0.0, 0.0]);
    assert_eq!(perfect.diff_interval, [1.0, 1.0]);
    assert_eq!((perfect.b_only, perfect.c_only), (10, 0));
    let same = find("identical_models_n20");
    assert_eq!((same.b_only, same.c_only, same.mcnemar_p), (0, 0, 1.0));
    assert_eq!(same.diff_interval, [0.0, 0.0]);
    let tie = find("equal_disagreements_n12");
    assert_eq!((tie.b_only, tie.c_only, tie.mcnemar_p), (3, 3, 1.0));
    let single = find("unbalanced_n60_single_video_class");
    assert_eq!(single.y_true.iter().filter(|&&c| c == 4).count(), 1);
    assert_eq!(single.n, 60);
    assert_eq!(find("balanced_n9").sets.len(), 2000);
    let absent = find("predicted_class_absent_n9");
    assert!(absent.a.labels.contains(&3) && !absent.y_true.contains(&3));
}

#[test]
fn mcnemar_matches_statsmodels() {
    let cases = load::<McNemarCase>("mcnemar.json");
    assert!(cases.iter().any(|c| c.b + c.c == 0));
    assert!(cases.iter().any(|c| c.b + c.c >= 2000));
    for c in cases {
        let p = mcnemar_exact(c.b, c.c);
        assert!(
            (p - c.p).abs() <= TOL * c.p,
            "b={} c={}: {p:e} vs statsmodels {:e}",
            c.b,
            c.c,
            c.p
        );
        assert!(
            (p - c.p_exact).abs() <= TOL * c.p_exact,
            "b={} c={}: {p:e} vs exact {:e}",
            c.b,
            c.c,
            c.p_exact
        );
        assert_eq!(p, mcnemar_exact(c.c, c.b), "symmetric in b and c");
    }
}

#[test]
fn mcnemar_hand_computed() {
    // 2 * P(X <= 0), X ~ Bin(5, 1/2) = 2 / 32.
    assert_eq!(mcnemar_exact(0, 5), 0.0625);
    // 2 * (1 + 10) / 1024.
    assert_eq!(mcnemar_exact(1, 9), 22.0 / 1024.0);
    // 2 * (1 + 4 + 6) / 16 > 1 is capped at 1; b = c and b + c = 0 give 1.
    assert_eq!(mcnemar_exact(2, 2), 1.0);
    assert_eq!(mcnemar_exact(0, 0), 1.0);
    // A single disagreement can never be significant: 2 * 1/2.
    assert_eq!(mcnemar_exact(0, 1), 1.0);
    // 2 * 2^-1100 is below f64's range: 0 rather than NaN or a panic.
    assert_eq!(mcnemar_exact(0, 1100), 0.0);
}

#[test]
fn percentiles_match_numpy() {
    for (k, case) in load::<PercentileCase>("percentiles.json")
        .into_iter()
        .enumerate()
    {
        for (&q, &want) in case.q.iter().zip(&case.p) {
            let got = percentile(&case.values, q).unwrap();
            // NumPy's interpolation reproduced step by step: equal, not merely close.
            assert_eq!(got, want, "case {k} (n = {}), q = {q}", case.values.len());
        }
    }
}

#[test]
fn percentile_hand_computed() {
    let v = [4.0, 1.0, 3.0, 2.0];
    // Virtual index 3 q / 100 into 1, 2, 3, 4.
    assert_eq!(percentile(&v, 0.0).unwrap(), 1.0);
    assert_eq!(percentile(&v, 100.0).unwrap(), 4.0);
    assert_eq!(percentile(&v, 50.0).unwrap(), 2.5);
    assert_eq!(percentile(&[7.0], 2.5).unwrap(), 7.0);
    // 0.95 gives exactly the 2.5th and 97.5th: 1 + 0.075 and 4 - 0.075.
    let (lo, hi) = percentile_interval(&v, 0.95).unwrap();
    assert!((lo - 1.075).abs() < 1e-15 && (hi - 3.925).abs() < 1e-15);
    assert!(matches!(
        percentile(&v, 100.5),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        percentile(&[], 50.0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        percentile(&[1.0, f64::NAN], 50.0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        percentile_interval(&v, 1.0),
        Err(Error::InvalidArgument(_))
    ));
}

/// Counts of each class in `idx` (by `y_true`), sorted by class.
fn class_counts(y_true: &[usize], idx: impl Iterator<Item = usize>) -> Vec<(usize, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for i in idx {
        *counts.entry(y_true[i]).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[test]
fn stratified_resamples_keep_class_sizes_and_draw_within_class() {
    // Unordered, unbalanced, with a single-video class and labels that are not 0..k.
    let y_true = [5, 0, 5, 2, 0, 5, 0, 0, 9, 5, 0, 2];
    let r = Resamples::stratified(&y_true, 500, 11).unwrap();
    assert_eq!((r.len(), r.n(), r.seed()), (500, 12, Some(11)));
    let original = class_counts(&y_true, 0..y_true.len());
    let mut drawn = vec![0usize; y_true.len()];
    for set in r.iter() {
        assert_eq!(set.len(), 12);
        assert_eq!(
            class_counts(&y_true, set.iter().map(|&i| i as usize)),
            original
        );
        for &i in set {
            drawn[i as usize] += 1;
        }
    }
    // The one class-9 video is in every resample; every video is drawn sometimes (with 500
    // resamples a video is missed with probability about (1 - 1/5)^(5 * 500), i.e. never).
    assert_eq!(drawn[8], 500);
    assert!(drawn.iter().all(|&d| d > 0), "{drawn:?}");
    // With replacement: some set repeats a video of the 5-video class.
    assert!(r.iter().any(|set| {
        let mut s: Vec<u32> = set
            .iter()
            .copied()
            .filter(|&i| y_true[i as usize] == 0)
            .collect();
        s.sort_unstable();
        s.windows(2).any(|w| w[0] == w[1])
    }));
}

#[test]
fn resamples_are_seeded() {
    let y_true: Vec<usize> = (0..60).map(|i| i % 6).collect();
    let a = Resamples::stratified(&y_true, 200, 42).unwrap();
    let b = Resamples::stratified(&y_true, 200, 42).unwrap();
    let c = Resamples::stratified(&y_true, 200, 43).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.set(0), c.set(0));
    let differing = (0..200).filter(|&r| a.set(r) != c.set(r)).count();
    assert_eq!(differing, 200, "different seeds give different sets");
    // Resamples differ from one another within a seed too.
    assert_ne!(a.set(0), a.set(1));
}

#[test]
fn intervals_from_the_generator_hold_the_estimate() {
    let y_true: Vec<usize> = (0..60).map(|i| i / 10).collect();
    let mut y_pred = y_true.clone();
    for i in [3, 14, 15, 27, 38, 41, 52, 59] {
        y_pred[i] = (y_pred[i] + 1) % 6;
    }
    let m = model_intervals(&y_true, &y_pred, &Bootstrap::default()).unwrap();
    assert_eq!(m.accuracy, 52.0 / 60.0);
    assert_eq!(m.accuracy_interval.resamples, 2000);
    assert_eq!(m.accuracy_interval.seed, Some(42));
    assert_eq!(m.accuracy_interval.level, 0.95);
    assert!(m.accuracy_interval.contains(m.accuracy), "{m:?}");
    assert!(m.macro_f1_interval.contains(m.macro_f1), "{m:?}");
    // About +-2 standard errors: sqrt(0.87 * 0.13 / 60) = 0.043; stratification narrows it a bit.
    let width = m.accuracy_interval.high - m.accuracy_interval.low;
    assert!(width > 0.1 && width < 0.25, "width {width}");
    // Same seed, same interval; accuracies are multiples of 1/60.
    assert_eq!(
        m,
        model_intervals(&y_true, &y_pred, &Bootstrap::default()).unwrap()
    );
}

#[test]
fn pairs_on_different_videos_are_refused() {
    let v = videos(4);
    let mut w = v.clone();
    w[2] = "test/other/clip.mp4".into();
    let y = [0, 0, 1, 1];
    let a = TestPredictions {
        model: "svm",
        videos: &v,
        y_true: &y,
        y_pred: &[0, 0, 1, 1],
    };
    let b = TestPredictions {
        model: "r3d",
        videos: &w,
        y_true: &y,
        y_pred: &[0, 1, 1, 1],
    };
    let e = compare_pair(&a, &b, &Bootstrap::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("svm") && e.contains("r3d") && e.contains("same test videos"),
        "{e}"
    );
    assert!(e.contains("video_002"), "names the video: {e}");

    let short = TestPredictions {
        videos: &v[..3],
        y_true: &y[..3],
        y_pred: &[0, 0, 1],
        ..b
    };
    let e = compare_pair(&a, &short, &Bootstrap::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("4 videos against 3"), "{e}");

    // Same videos but a different true class for one of them.
    let relabelled = TestPredictions {
        videos: &v,
        y_true: &[0, 0, 1, 0],
        ..b
    };
    let e = compare_pair(&a, &relabelled, &Bootstrap::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("true class"), "{e}");

    let mismatched = TestPredictions {
        y_pred: &[0, 1],
        ..a
    };
    assert!(matches!(
        compare_pair(&mismatched, &a, &Bootstrap::default()),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn same_videos_in_another_order_are_paired_by_video() {
    let v = videos(6);
    let y = [0, 0, 0, 1, 1, 1];
    let a = TestPredictions {
        model: "A",
        videos: &v,
        y_true: &y,
        y_pred: &[0, 0, 0, 1, 1, 1],
    };
    let b = TestPredictions {
        model: "B",
        videos: &v,
        y_true: &y,
        y_pred: &[0, 1, 1, 1, 1, 0],
    };
    // B's lists reversed: the same evaluation.
    let rv: Vec<String> = v.iter().rev().cloned().collect();
    let ry: Vec<usize> = y.iter().rev().copied().collect();
    let rp: Vec<usize> = b.y_pred.iter().rev().copied().collect();
    let b_rev = TestPredictions {
        model: "B",
        videos: &rv,
        y_true: &ry,
        y_pred: &rp,
    };
    let cfg = Bootstrap::default();
    let direct = compare_pair(&a, &b, &cfg).unwrap();
    assert_eq!(direct, compare_pair(&a, &b_rev, &cfg).unwrap());
    assert_eq!((direct.b_only, direct.c_only), (3, 0));
    // 2 * P(X <= 0), X ~ Bin(3, 1/2) = 0.25.
    assert_eq!(direct.mcnemar_p, 0.25);
    assert_eq!(direct.diff, 1.0 - 0.5);
}

#[test]
fn distinguishable_means_the_interval_excludes_zero() {
    let mk = |low, high| PairedComparison {
        a: "A".into(),
        b: "B".into(),
        n: 30,
        b_only: 0,
        c_only: 0,
        mcnemar_p: 1.0,
        diff: 0.0,
        diff_interval: Interval {
            low,
            high,
            level: 0.95,
            resamples: 2000,
            seed: Some(42),
        },
    };
    assert!(mk(0.01, 0.2).distinguishable());
    assert!(mk(-0.2, -0.01).distinguishable());
    assert!(!mk(-0.1, 0.2).distinguishable());
    assert!(!mk(0.0, 0.2).distinguishable(), "an end at 0 holds 0");
    // Serialises with the field names the report reads.
    let json = serde_json::to_value(mk(0.01, 0.2)).unwrap();
    for key in [
        "a",
        "b",
        "n",
        "b_only",
        "c_only",
        "mcnemar_p",
        "diff",
        "diff_interval",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["diff_interval"]["seed"], 42);
}

#[test]
fn forty_five_pairs_of_sixty_videos_are_fast() {
    // Ten models on 60 videos (the demo): 45 pairs with 2,000 paired resamples, plus the ten
    // models' own intervals. Timed, not asserted (debug builds are slower); printed for the log.
    let n = 60;
    let v = videos(n);
    let y_true: Vec<usize> = (0..n).map(|i| i % 6).collect();
    let preds: Vec<Vec<usize>> = (0..10)
        .map(|m| {
            (0..n)
                .map(|i| {
                    if (i * 7 + m * 13) % 10 < m / 2 + 1 {
                        (y_true[i] + 1) % 6
                    } else {
                        y_true[i]
                    }
                })
                .collect()
        })
        .collect();
    let names: Vec<String> = (0..10).map(|m| format!("model{m}")).collect();
    let models: Vec<TestPredictions> = (0..10)
        .map(|m| TestPredictions {
            model: &names[m],
            videos: &v,
            y_true: &y_true,
            y_pred: &preds[m],
        })
        .collect();
    let cfg = Bootstrap::default();
    let start = std::time::Instant::now();
    let pairs = compare_all(&models, &cfg).unwrap();
    let pairs_s = start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    for m in &models {
        model_intervals(m.y_true, m.y_pred, &cfg).unwrap();
    }
    let models_s = start.elapsed().as_secs_f64();
    println!("45 pairs: {pairs_s:.4} s; 10 models' intervals: {models_s:.4} s");
    assert_eq!(pairs.len(), 45);
    assert_eq!(
        (pairs[0].a.as_str(), pairs[0].b.as_str()),
        ("model0", "model1")
    );
    // Each pair equals the same pair compared alone (same seed, same resamples).
    let alone = compare_pair(&models[2], &models[7], &cfg).unwrap();
    let in_all = pairs
        .iter()
        .find(|p| p.a == "model2" && p.b == "model7")
        .unwrap();
    assert_eq!(&alone, in_all);
}

#[test]
fn mcnemar_equals_exact_binomial_sums_for_every_split_up_to_120() {
    // Independent reference: the tail sum in exact integers, rounded once to f64 and scaled by
    // 2^-n (exact), for every b + c = n <= 120 (all sums stay below 2^127).
    for n in 0u32..=120 {
        let mut binom = vec![1u128; n as usize + 1];
        for i in 1..=n as usize {
            binom[i] = binom[i - 1] * (n as u128 - i as u128 + 1) / i as u128;
        }
        for b in 0..=n {
            let c = n - b;
            let k = b.min(c) as usize;
            let tail: u128 = binom[..=k].iter().sum();
            let want = (2.0 * tail as f64 / 2f64.powi(n as i32)).min(1.0);
            let got = mcnemar_exact(b as usize, c as usize);
            assert!(
                (got - want).abs() <= 1e-14 * want,
                "b={b} c={c}: {got:e} vs exact {want:e}"
            );
        }
    }
}
