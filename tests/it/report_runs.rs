//! Runs, plural: `reports/index.html` lists every run folder, and `vidcompare diff` compares two
//! runs (settings that differ, metric changes, the paired test on shared test videos). The runs
//! here are written by hand so that every expected number is known: the exact McNemar p-values are
//! binomial tail sums computed by hand (see [`two_runs`]).

use std::fs;
use std::path::Path;

use crate::common::vidcompare_cmd;
use vidcompare::metrics::evaluate;
use vidcompare::report::runs::{RunRecord, changed_settings, diff_runs, index_report, write_index};
use vidcompare::report::{Block, Cell, DatasetMeta, Report, RunMeta};
use vidcompare::results::{Efficiency, ModelKind, ModelResult, Protocol, ResultsTable};

const VIDEOS: [&str; 10] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"];
const Y_TRUE: [usize; 10] = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];

fn model(name: &str, kind: ModelKind, right: &[bool], videos: &[&str], e2e: f64) -> ModelResult {
    let y_pred: Vec<usize> = Y_TRUE
        .iter()
        .zip(right)
        .map(|(&y, &r)| if r { y } else { 1 - y })
        .collect();
    let scores: Vec<Vec<f64>> = y_pred
        .iter()
        .map(|&p| {
            if p == 0 {
                vec![0.9, 0.1]
            } else {
                vec![0.1, 0.9]
            }
        })
        .collect();
    ModelResult {
        name: name.into(),
        kind,
        metrics: evaluate(&Y_TRUE, &y_pred, &scores, 2).unwrap(),
        efficiency: Efficiency {
            train_time_s: 2.0,
            infer_time_s_per_video_e2e: Some(e2e),
            // 100 MB plus one per video it gets right: run B's SVM (10 right) 6 more than A's (4).
            memory_mb: Some(100.0 + right.iter().filter(|r| **r).count() as f64),
            memory_kind: Some("heap peak".into()),
            ..Efficiency::default()
        },
        protocol: Protocol {
            split: "test".into(),
            n_videos: 10,
            test_videos: videos.iter().map(|v| v.to_string()).collect(),
            ..Protocol::default()
        },
        y_true: Y_TRUE.to_vec(),
        y_pred,
        scores,
        test_paths: videos.iter().map(|v| format!("videos/{v}.mp4")).collect(),
        score_kind: "softmax".into(),
        details: Default::default(),
        artifacts: Vec::new(),
        notes: Vec::new(),
    }
}

fn meta(date: &str, seed: &str, extra: &[(&str, &str)]) -> RunMeta {
    let mut config: Vec<(String, String)> = vidcompare::config::Config::default()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in extra.iter().chain([("seed", seed)].iter()) {
        let slot = config.iter_mut().find(|(key, _)| key == k).unwrap();
        slot.1 = v.to_string();
    }
    RunMeta {
        date: date.into(),
        script: Some("scripts/comparative_analysis.rhai".into()),
        seed: seed.parse().ok(),
        config,
        datasets: vec![DatasetMeta {
            name: "classical".into(),
            root: "data/demo/classical".into(),
            videos: 30,
            classes: 2,
            links: Vec::new(),
        }],
        duration_s: Some(61.0),
        ..RunMeta::default()
    }
}

fn write_run(dir: &Path, meta: RunMeta, models: Vec<ModelResult>) {
    fs::create_dir_all(dir).unwrap();
    Report::new("vidcompare: comparative_analysis", meta)
        .save_json(&dir.join("results.json"))
        .unwrap();
    ResultsTable { models }
        .save_json(dir.join("models.json"))
        .unwrap();
}

/// Run A: SVM right on 4 of 10, R3D right on 5. Run B (seed 7, 12 epochs): SVM right on all 10
/// (6 videos right only in B: McNemar exact p = 2 x 0.5^6 = 0.03125), R3D right on 6 (2 right only
/// in B, 1 only in A: p = min(1, 2 x P(X <= 1)) = min(1, 2 x 4/8) = 1), kNN only in B.
fn two_runs(root: &Path) {
    let four: Vec<bool> = (0..10).map(|i| i < 4).collect();
    let five: Vec<bool> = (0..10).map(|i| i < 5).collect();
    // Right on 1..=6 (not 0): videos 5 and 6 right only in B, video 0 only in A.
    let six: Vec<bool> = (0..10).map(|i| (1..=6).contains(&i)).collect();
    write_run(
        &root.join("seed42"),
        meta("2026-12-01T10:00:00+00:00", "42", &[]),
        vec![
            model("Classical-SVM", ModelKind::Classical, &four, &VIDEOS, 0.2),
            model("Deep-3D-R3D18", ModelKind::Deep, &five, &VIDEOS, 0.5),
        ],
    );
    write_run(
        &root.join("seed7"),
        meta("2026-12-02T10:00:00+00:00", "7", &[("epochs", "12")]),
        vec![
            model(
                "Classical-SVM",
                ModelKind::Classical,
                &[true; 10],
                &VIDEOS,
                0.25,
            ),
            model("Deep-3D-R3D18", ModelKind::Deep, &six, &VIDEOS, 0.5),
            model("Classical-kNN", ModelKind::Classical, &five, &VIDEOS, 0.1),
        ],
    );
}

#[test]
fn changed_settings_are_the_ones_that_differ_from_the_defaults() {
    let m = meta(
        "d",
        "7",
        &[
            ("epochs", "12"),
            ("run_name", "x"),
            ("report_dir", "elsewhere"),
        ],
    );
    // Where output goes is not a setting of the experiment.
    assert_eq!(
        changed_settings(&m),
        vec![
            ("epochs".to_string(), "12".to_string()),
            ("seed".to_string(), "7".to_string())
        ]
    );
    assert!(changed_settings(&meta("d", "42", &[])).is_empty());
}

#[test]
fn the_index_lists_every_run_newest_first_with_its_best_models() {
    let dir = tempfile::tempdir().unwrap();
    two_runs(dir.path());
    fs::create_dir_all(dir.path().join("broken")).unwrap();
    fs::write(dir.path().join("broken/results.json"), "{ not json").unwrap();

    let report = index_report(dir.path()).unwrap();
    let Block::Table(t) = &report.sections[0].blocks[1] else {
        panic!("no table")
    };
    assert_eq!(t.rows.len(), 2);
    // Newest first: seed7 ran on 2026-12-02.
    assert_eq!(t.rows[0][0], Cell::link("seed7", "seed7/index.html"));
    assert_eq!(t.rows[1][0], Cell::link("seed42", "seed42/index.html"));
    let col = |name: &str| t.columns.iter().position(|c| c.name == name).unwrap();
    assert_eq!(
        t.rows[0][col("settings changed from the defaults")],
        Cell::Text("epochs=12, seed=7".into())
    );
    assert_eq!(
        t.rows[1][col("settings changed from the defaults")],
        Cell::Text("none".into())
    );
    assert_eq!(
        t.rows[0][col("best classical (accuracy)")],
        Cell::Text("Classical-SVM 1.000".into())
    );
    assert_eq!(
        t.rows[1][col("best deep (accuracy)")],
        Cell::Text("Deep-3D-R3D18 0.500".into())
    );
    // The unreadable run is named, not dropped.
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("broken"),
        "{:?}",
        report.warnings
    );

    let page = write_index(dir.path(), None).unwrap();
    let html = fs::read_to_string(page).unwrap();
    assert!(html.contains("<a href=\"seed7&#x2f;index.html\">seed7</a>"));
    assert!(
        !html.contains("Run metadata"),
        "the index has no run of its own"
    );
}

#[test]
fn diff_reports_settings_metric_changes_and_the_paired_test() {
    let dir = tempfile::tempdir().unwrap();
    two_runs(dir.path());
    let a = RunRecord::load(&dir.path().join("seed42")).unwrap();
    let b = RunRecord::load(&dir.path().join("seed7/results.json")).unwrap();
    let d = diff_runs(&a, &b);
    assert_eq!(
        d.settings,
        vec![
            ("epochs".to_string(), "0".to_string(), "12".to_string()),
            ("seed".to_string(), "42".to_string(), "7".to_string())
        ]
    );
    assert_eq!(d.models.len(), 2);
    let svm = &d.models[0];
    assert_eq!(svm.name, "Classical-SVM");
    let acc = &svm.metrics[0];
    assert_eq!((acc.a, acc.b), (Some(0.4), Some(1.0)));
    assert!((acc.change().unwrap() - 0.6).abs() < 1e-12);
    let p = svm.paired.as_ref().unwrap();
    assert_eq!((p.b_only, p.c_only), (6, 0));
    assert!((p.mcnemar_p - 0.03125).abs() < 1e-12, "{}", p.mcnemar_p);
    assert!(p.differs());
    let r3d = d.models[1].paired.as_ref().unwrap();
    assert_eq!((r3d.b_only, r3d.c_only), (2, 1));
    // Exact two-sided p for 2 vs 1 of 3: min(1, 2 x P(X <= 1)) = min(1, 2 x 4/8) = 1.
    assert!((r3d.mcnemar_p - 1.0).abs() < 1e-12);
    assert!(!r3d.differs());
    assert_eq!(
        d.only_in_one,
        vec![("Classical-kNN".to_string(), "seed7".to_string())]
    );

    // Memory measured the same way (both heap peaks here) is compared; a heap peak against a
    // resident-set peak is not.
    let mem = svm.metrics.last().unwrap();
    assert_eq!(mem.metric, "peak memory (MB, heap peak)");
    assert!((mem.change().unwrap() - 6.0).abs() < 1e-9, "{mem:?}");
    let mut b_rss = b.clone();
    b_rss.models[0].efficiency.memory_kind = Some("peak RSS".into());
    let mixed = diff_runs(&a, &b_rss);
    let mem = mixed.models[0].metrics.last().unwrap();
    assert_eq!(mem.metric, "peak memory (MB, measured differently)");
    assert_eq!(mem.change(), None);

    let text = d.to_string();
    assert!(text.contains("epochs  0 -> 12"), "{text}");
    assert!(text.contains("Classical-SVM: accuracy better"), "{text}");
    assert!(
        text.contains("Deep-3D-R3D18: accuracy not distinguishable on these 10 videos"),
        "{text}"
    );
}

#[test]
fn diff_refuses_a_paired_test_on_different_videos() {
    let dir = tempfile::tempdir().unwrap();
    let right: Vec<bool> = (0..10).map(|i| i < 7).collect();
    let other: Vec<&str> = VIDEOS
        .iter()
        .map(|v| if *v == "k9" { "z9" } else { v })
        .collect();
    write_run(
        &dir.path().join("a"),
        meta("2026-12-01", "42", &[]),
        vec![model(
            "Classical-RF",
            ModelKind::Classical,
            &right,
            &VIDEOS,
            0.2,
        )],
    );
    write_run(
        &dir.path().join("b"),
        meta("2026-12-02", "42", &[]),
        vec![model(
            "Classical-RF",
            ModelKind::Classical,
            &right,
            &other,
            0.2,
        )],
    );
    let d = diff_runs(
        &RunRecord::load(&dir.path().join("a")).unwrap(),
        &RunRecord::load(&dir.path().join("b")).unwrap(),
    );
    assert!(!d.models[0].same_videos);
    assert!(d.models[0].paired.is_none());
    assert!(
        d.to_string()
            .contains("different test videos: no paired test")
    );
}

#[test]
fn diff_command_prints_the_table_and_writes_the_page() {
    let dir = tempfile::tempdir().unwrap();
    two_runs(dir.path());
    let out = vidcompare_cmd()
        .args(["diff"])
        .arg(dir.path().join("seed42"))
        .arg(dir.path().join("seed7"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("  seed    42 -> 7\n"), "{stdout}");
    let page = dir.path().join("diff-seed42-vs-seed7.html");
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.contains("Settings that differ"));
    assert!(html.contains("Classical-kNN</code> is only in run seed7"));

    // A folder that is not a run is a clear error naming it.
    let out = vidcompare_cmd()
        .args(["diff"])
        .arg(dir.path())
        .arg(dir.path().join("seed7"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a run folder"), "{stderr}");
}
