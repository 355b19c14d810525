//! Metrics against scikit-learn reference numbers made by tools/fixtures_metrics.py.

use serde::Deserialize;
use vidcompare::metrics::{auc_trapezoid, evaluate, precision_recall_f1, roc_auc_ovr, roc_curve};

const TOL: f64 = 1e-9;

#[derive(Deserialize)]
struct CasesFile {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    n_classes: usize,
    y_true: Vec<usize>,
    y_pred: Vec<usize>,
    scores: Vec<Vec<f64>>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    accuracy: f64,
    precision: f64,
    recall: f64,
    f1: f64,
    macro_labels: Vec<usize>,
    confusion: Vec<Vec<usize>>,
    per_class_precision: Vec<f64>,
    per_class_recall: Vec<f64>,
    per_class_f1: Vec<f64>,
    support: Vec<usize>,
    roc: Vec<Option<ExpectedRoc>>,
    macro_auc_defined: Option<f64>,
    notebook_macro_auc: Option<f64>,
    notebook_nan: bool,
    notebook_raises: bool,
}

#[derive(Deserialize)]
struct ExpectedRoc {
    fpr: Vec<f64>,
    tpr: Vec<f64>,
    thresholds_after_inf: Vec<f64>,
    auc: f64,
}

#[derive(Deserialize)]
struct RocFile {
    cases: Vec<RocCase>,
}

#[derive(Deserialize)]
struct RocCase {
    name: String,
    y: Vec<bool>,
    scores: Vec<f64>,
    /// `None` entries are sklearn's NaN.
    fpr: Vec<Option<f64>>,
    tpr: Vec<Option<f64>>,
    thresholds_after_inf: Vec<f64>,
    auc: Option<f64>,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = format!(
        "{}/tests/fixtures/classical/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL
}

fn assert_all_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w), "{what}[{i}]: got {g}, sklearn {w}");
    }
}

#[test]
fn evaluate_matches_sklearn() {
    let file: CasesFile = load("metrics_cases.json");
    assert!(file.cases.len() >= 20);
    for case in &file.cases {
        let name = &case.name;
        let e = &case.expected;
        let m = evaluate(&case.y_true, &case.y_pred, &case.scores, case.n_classes)
            .unwrap_or_else(|err| panic!("{name}: {err}"));

        assert!(close(m.accuracy, e.accuracy), "{name}: accuracy");
        assert!(
            close(m.precision, e.precision),
            "{name}: precision {} vs {}",
            m.precision,
            e.precision
        );
        assert!(
            close(m.recall, e.recall),
            "{name}: recall {} vs {}",
            m.recall,
            e.recall
        );
        assert!(close(m.f1, e.f1), "{name}: f1 {} vs {}", m.f1, e.f1);
        assert_eq!(m.macro_labels, e.macro_labels, "{name}: macro labels");
        assert_eq!(m.confusion, e.confusion, "{name}: confusion");
        assert_eq!(m.n_samples, case.y_true.len());

        let col = |f: fn(&vidcompare::metrics::ClassReport) -> f64| -> Vec<f64> {
            m.per_class.iter().map(f).collect()
        };
        assert_all_close(
            &format!("{name} precision"),
            &col(|r| r.precision),
            &e.per_class_precision,
        );
        assert_all_close(
            &format!("{name} recall"),
            &col(|r| r.recall),
            &e.per_class_recall,
        );
        assert_all_close(&format!("{name} f1"), &col(|r| r.f1), &e.per_class_f1);
        let support: Vec<usize> = m.per_class.iter().map(|r| r.support).collect();
        assert_eq!(support, e.support, "{name}: support");

        for (c, want) in e.roc.iter().enumerate() {
            let curve = &m.roc[c];
            assert_eq!(curve.class, c);
            match want {
                Some(want) => {
                    assert_all_close(&format!("{name} fpr[{c}]"), &curve.fpr, &want.fpr);
                    assert_all_close(&format!("{name} tpr[{c}]"), &curve.tpr, &want.tpr);
                    let auc = curve
                        .auc
                        .unwrap_or_else(|| panic!("{name}: class {c} auc None"));
                    assert!(
                        close(auc, want.auc),
                        "{name}: auc[{c}] {auc} vs {}",
                        want.auc
                    );
                    assert_eq!(m.per_class[c].auc, curve.auc);

                    // Thresholds come from roc_curve itself (evaluate does not keep them).
                    let y_bin: Vec<bool> = case.y_true.iter().map(|&t| t == c).collect();
                    let column: Vec<f64> = case.scores.iter().map(|r| r[c]).collect();
                    let (_, _, thr) = roc_curve(&y_bin, &column).unwrap();
                    assert_eq!(thr[0], f64::INFINITY);
                    assert_all_close(
                        &format!("{name} thr[{c}]"),
                        &thr[1..],
                        &want.thresholds_after_inf,
                    );
                }
                None => {
                    assert_eq!(curve.auc, None, "{name}: class {c} should be undefined");
                    assert!(curve.fpr.is_empty() && curve.tpr.is_empty());
                }
            }
        }

        match (m.macro_auc, e.macro_auc_defined) {
            (Some(g), Some(w)) => assert!(close(g, w), "{name}: macro auc {g} vs {w}"),
            (g, w) => assert_eq!(g, w, "{name}: macro auc"),
        }
        assert_eq!(
            m.auc_notebook_nan, e.notebook_nan,
            "{name}: notebook nan flag"
        );
        if let Some(nb) = e.notebook_macro_auc {
            // Where the notebook gives a number it is ours exactly.
            assert!(
                close(m.macro_auc.unwrap(), nb),
                "{name}: notebook macro auc"
            );
        }
        if e.notebook_raises {
            assert_eq!(
                case.n_classes, 2,
                "{name}: only the binary case makes the notebook raise"
            );
        }
    }
}

#[test]
fn fixture_covers_the_edge_cases() {
    let file: CasesFile = load("metrics_cases.json");
    let get = |n: &str| file.cases.iter().find(|c| c.name == n).unwrap();

    // Absent from y_true but predicted: in the macro mean (with recall 0), AUC undefined.
    let c = get("absent_but_predicted");
    assert!(c.expected.macro_labels.contains(&3));
    assert!(c.expected.roc[3].is_none() && c.expected.notebook_nan);

    // Absent from both: left out of the macro mean.
    let c = get("absent_from_both");
    assert!(!c.expected.macro_labels.contains(&2));
    let prf = precision_recall_f1(&c.y_true, &c.y_pred, c.n_classes).unwrap();
    assert_eq!(prf.macro_labels, vec![0, 1, 3, 4]);
    // Averaging over all five classes instead would pull the means down by a factor 4/5.
    assert!(close(prf.recall, c.expected.recall));

    let c = get("never_predicted");
    assert!(!c.y_pred.contains(&3) && c.y_true.contains(&3));
    assert_eq!(c.expected.per_class_precision[3], 0.0);

    let c = get("perfect");
    assert_eq!(c.expected.accuracy, 1.0);
    let c = get("all_wrong");
    assert_eq!(c.expected.accuracy, 0.0);
    let m = evaluate(&c.y_true, &c.y_pred, &c.scores, c.n_classes).unwrap();
    assert_eq!(
        (m.accuracy, m.precision, m.recall, m.f1),
        (0.0, 0.0, 0.0, 0.0)
    );
}

#[test]
fn roc_curve_and_auc_match_sklearn() {
    let file: RocFile = load("metrics_roc.json");
    for case in &file.cases {
        let name = &case.name;
        let (fpr, tpr, thr) = roc_curve(&case.y, &case.scores).unwrap();
        assert_eq!(thr[0], f64::INFINITY, "{name}");
        assert_all_close(
            &format!("{name} thresholds"),
            &thr[1..],
            &case.thresholds_after_inf,
        );
        for (what, got, want) in [("fpr", &fpr, &case.fpr), ("tpr", &tpr, &case.tpr)] {
            assert_eq!(got.len(), want.len(), "{name} {what} length");
            for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                match w {
                    Some(w) => assert!(close(*g, *w), "{name} {what}[{i}]: {g} vs {w}"),
                    None => assert!(g.is_nan(), "{name} {what}[{i}]: {g} should be NaN"),
                }
            }
        }
        let area = auc_trapezoid(&fpr, &tpr).unwrap();
        match case.auc {
            Some(w) => assert!(close(area, w), "{name}: auc {area} vs {w}"),
            None => assert!(area.is_nan(), "{name}: auc should be NaN, got {area}"),
        }
    }
}

#[test]
fn binary_ovr_curves_are_complementary() {
    // With scores summing to one, class 0's ranking is class 1's reversed: equal AUCs.
    let y = [0, 1, 1, 0, 1, 0, 0];
    let p1 = [0.2, 0.9, 0.6, 0.6, 0.4, 0.1, 0.3];
    let scores: Vec<Vec<f64>> = p1.iter().map(|&p| vec![1.0 - p, p]).collect();
    let ovr = roc_auc_ovr(&y, &scores, 2).unwrap();
    let (a0, a1) = (ovr.per_class[0].unwrap(), ovr.per_class[1].unwrap());
    assert!(close(a0, a1));
    // 12 positive/negative pairs: 0.9 and 0.6 beat all four negatives except the 0.6 tie (half);
    // 0.4 beats 0.2, 0.1, 0.3 -> 4 + 3.5 + 3 = 10.5 of 12.
    assert!(close(a1, 10.5 / 12.0), "{a1}");
    assert!(!ovr.notebook_nan);
}
