//! Report pieces built from model results: the unified comparison table (sorted, direction-aware
//! best values, numbers equal to the results, exported beside the page as CSV and JSON), the
//! efficiency charts (log axes where values span orders of magnitude), ROC and training-curve
//! plots, and plots kept in Markdown fences through save, load and render.

use vidcompare::analysis::paired::test_set_id;
use vidcompare::metrics::evaluate;
use vidcompare::report::compare::{
    auc_coverage, comparison_columns, comparison_table, confusion_chart, efficiency_charts,
    paired_table, protocol_markdown, roc_plot, training_curve_plots,
};
use vidcompare::report::{
    Block, Cell, Plot, PlotKind, Report, RunMeta, markdown_to_html, render_plot_svg,
};
use vidcompare::results::{Efficiency, ModelKind, ModelResult, Protocol};

fn model(name: &str, kind: ModelKind, y_pred: Vec<usize>, e: Efficiency) -> ModelResult {
    let y_true = vec![0, 0, 1, 1, 2, 2];
    // Scores that rank the true class first except where the prediction is wrong.
    let scores: Vec<Vec<f64>> = y_pred
        .iter()
        .map(|&p| {
            let mut s = vec![0.1, 0.1, 0.1];
            s[p] = 0.8;
            s
        })
        .collect();
    ModelResult {
        name: name.into(),
        kind,
        metrics: evaluate(&y_true, &y_pred, &scores, 3).unwrap(),
        efficiency: e,
        protocol: Protocol {
            split: "test".into(),
            n_videos: 6,
            frames_per_video: if kind == ModelKind::Deep {
                "1 clip x 16 frames"
            } else {
                "4.6 sampled frames"
            }
            .into(),
            input: "x".into(),
            ..Default::default()
        },
        y_true,
        y_pred,
        scores,
        test_paths: (0..6).map(|i| format!("v{i}.mp4")).collect(),
        score_kind: "softmax".into(),
        details: Default::default(),
        artifacts: Vec::new(),
        notes: Vec::new(),
    }
}

fn models() -> Vec<ModelResult> {
    let mut rf = Efficiency {
        train_time_s: 0.08,
        infer_time_s_per_video: 4e-6,
        infer_time_s_per_video_e2e: Some(0.65),
        params: Some(1522),
        params_meaning: Some("tree nodes".into()),
        memory_mb: Some(240.5),
        memory_kind: Some("peak RSS".into()),
        ..Efficiency::default()
    };
    rf.set_model_size(108_000);
    let mut deep = Efficiency {
        train_time_s: 2075.3,
        infer_time_s_per_video: 1.25,
        infer_time_s_per_video_e2e: Some(1.31),
        params: Some(33_168_000),
        params_trainable: Some(33_168_000),
        params_meaning: Some("weights".into()),
        memory_mb: Some(958.6),
        memory_kind: Some("GPU peak".into()),
        ..Efficiency::default()
    };
    deep.set_model_size(132_676_000);
    let mut knn = Efficiency {
        train_time_s: 0.0005,
        infer_time_s_per_video: 3e-6,
        infer_time_s_per_video_e2e: None,
        memory_mb: Some(230.0),
        memory_kind: Some("peak RSS".into()),
        ..Efficiency::default()
    };
    knn.set_model_size(2700);
    vec![
        model(
            "Classical-RF",
            ModelKind::Classical,
            vec![0, 0, 1, 1, 2, 0],
            rf,
        ),
        model(
            "Deep-3D-R3D18",
            ModelKind::Deep,
            vec![0, 0, 1, 1, 2, 2],
            deep,
        ),
        model(
            "Classical-kNN",
            ModelKind::Classical,
            vec![0, 1, 1, 0, 2, 0],
            knn,
        ),
    ]
}

fn col(name: &str) -> usize {
    comparison_columns()
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

#[test]
fn comparison_table_is_sorted_and_holds_the_results_numbers() {
    let ms = models();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let t = comparison_table(&refs);
    let names: Vec<&Cell> = t.rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        names,
        [
            &Cell::Text("Deep-3D-R3D18".into()),
            &Cell::Text("Classical-RF".into()),
            &Cell::Text("Classical-kNN".into())
        ]
    );
    for row in &t.rows {
        let Cell::Text(name) = &row[0] else { panic!() };
        let m = ms.iter().find(|m| &m.name == name).unwrap();
        let num = |c: &str| row[col(c)].as_f64();
        assert_eq!(num("accuracy"), Some(m.metrics.accuracy));
        assert_eq!(num("precision"), Some(m.metrics.precision));
        assert_eq!(num("recall"), Some(m.metrics.recall));
        assert_eq!(num("F1"), Some(m.metrics.f1));
        assert_eq!(num("macro AUC"), m.metrics.macro_auc);
        assert_eq!(num("train (s)"), Some(m.efficiency.train_time_s));
        assert_eq!(
            num("classifier (ms / video)"),
            Some(m.efficiency.infer_time_s_per_video * 1e3)
        );
        assert_eq!(
            num("end to end (s / video)"),
            m.efficiency.infer_time_s_per_video_e2e
        );
        assert_eq!(num("size (MB)"), m.efficiency.model_size_mb);
        assert_eq!(num("params"), m.efficiency.params.map(|p| p as f64));
        assert_eq!(num("videos"), Some(6.0));
        // Memory lands in the column of its kind only.
        let (gpu, rss) = (num("GPU peak (MB)"), num("peak RSS (MB)"));
        match m.efficiency.memory_kind.as_deref() {
            Some("GPU peak") => assert_eq!((gpu, rss), (m.efficiency.memory_mb, None)),
            _ => assert_eq!((gpu, rss), (None, m.efficiency.memory_mb)),
        }
    }
    // Best values by direction: highest accuracy (deep), lowest classifier time (kNN), lowest
    // training time (kNN), smallest model (kNN), lowest RSS (kNN), the only GPU value (deep).
    assert_eq!(t.best_rows(col("accuracy")), vec![0]);
    assert_eq!(t.best_rows(col("classifier (ms / video)")), vec![2]);
    assert_eq!(t.best_rows(col("train (s)")), vec![2]);
    assert_eq!(t.best_rows(col("size (MB)")), vec![2]);
    assert_eq!(t.best_rows(col("peak RSS (MB)")), vec![2]);
    assert_eq!(t.best_rows(col("GPU peak (MB)")), vec![0]);
    assert_eq!(t.best_rows(col("end to end (s / video)")), vec![1]);
    assert!(
        t.best_rows(col("params")).is_empty(),
        "parameter counts are not ranked"
    );

    let md = protocol_markdown(&refs);
    let set = test_set_id(&ms[0]);
    assert_eq!(set.len(), 8);
    assert!(
        md.contains(&format!(
            "- **Deep-3D-R3D18**: test split, 6 videos (test set #{set}), 1 clip x 16 frames per video"
        )),
        "{md}"
    );
    assert!(md.contains(&format!("- **Classical-RF**, **Classical-kNN**: test split, 6 videos (test set #{set}), 4.6 sampled frames per video")), "{md}");

    // Intervals: the deep model is right on all 6 videos, so every resample gives 1.
    let deep = &t.rows[0];
    assert_eq!(
        deep[col("accuracy 95 % CI")],
        Cell::Text("1.000–1.000".into())
    );
    assert_eq!(deep[col("F1 95 % CI")], Cell::Text("1.000–1.000".into()));
    assert_eq!(deep[col("test set")], Cell::Text(format!("#{set}")));
    assert!(t.groups.is_empty(), "one test set: one group");
}

#[test]
fn models_on_other_test_videos_are_ranked_apart() {
    let mut ms = models();
    // The kNN evaluated on other files (the same labels and predictions).
    ms[2].test_paths = (0..6).map(|i| format!("other/v{i}.mp4")).collect();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let t = comparison_table(&refs);
    let names: Vec<String> = t.rows.iter().map(|r| r[0].display(None)).collect();
    assert_eq!(names, ["Deep-3D-R3D18", "Classical-RF", "Classical-kNN"]);
    assert_eq!(t.groups, vec![0, 0, 1]);
    assert!(t.caption.contains("2 different test sets"), "{}", t.caption);
    // Alone in its group, the kNN (3/6) holds its group's best accuracy too.
    assert_eq!(t.best_rows(col("accuracy")), vec![0, 2]);
    assert_ne!(t.rows[0][col("test set")], t.rows[2][col("test set")]);
    // Content keys, when recorded, decide over paths: the same keys are the same test set.
    for m in &mut ms {
        m.protocol.test_videos = (0..6).map(|i| format!("key{i}")).collect();
    }
    let refs: Vec<&ModelResult> = ms.iter().collect();
    assert!(comparison_table(&refs).groups.is_empty());

    // Pairs only within a test set.
    ms[2].protocol.test_videos[0] = "another".into();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let pairs = paired_table(&refs).unwrap();
    assert_eq!(pairs.rows.len(), 1);
    assert_eq!(pairs.rows[0][0], Cell::Text("Deep-3D-R3D18".into()));
    assert_eq!(pairs.rows[0][1], Cell::Text("Classical-RF".into()));
}

#[test]
fn macro_auc_says_which_classes_it_averaged() {
    let ms = models();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    // Every class has positives and negatives among the 6 test videos: nothing to say.
    assert_eq!(auc_coverage(&refs), "");
    // A test set without class 2 (labels 0 0 1 1 1 0): its AUC is undefined.
    let y_true = vec![0, 0, 1, 1, 1, 0];
    let y_pred = vec![0, 0, 1, 1, 2, 0];
    let scores: Vec<Vec<f64>> = y_pred
        .iter()
        .map(|&p| {
            let mut s = vec![0.1, 0.1, 0.1];
            s[p] = 0.8;
            s
        })
        .collect();
    let mut m = ms[0].clone();
    m.metrics = evaluate(&y_true, &y_pred, &scores, 3).unwrap();
    let text = auc_coverage(&[&m]);
    assert!(
        text.contains("- **Classical-RF**: macro AUC over classes 0, 1 only; class 2 (0 test videos) has no one-vs-rest AUC"),
        "{text}"
    );
    assert!(text.contains("would raise"), "{text}");
    assert!(protocol_markdown(&[&m]).contains(&text));
}

#[test]
fn paired_table_counts_disagreements_and_says_what_may_be_said() {
    let ms = models();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let t = paired_table(&refs).unwrap();
    let c = |name: &str| t.columns.iter().position(|c| c.name == name).unwrap();
    // Sorted by accuracy: deep (6/6), RF (5/6), kNN (3/6); three pairs.
    let rows: Vec<(String, String)> = t
        .rows
        .iter()
        .map(|r| (r[0].display(None), r[1].display(None)))
        .collect();
    assert_eq!(
        rows,
        [
            ("Deep-3D-R3D18".to_string(), "Classical-RF".to_string()),
            ("Deep-3D-R3D18".into(), "Classical-kNN".into()),
            ("Classical-RF".into(), "Classical-kNN".into()),
        ]
    );
    // Deep against RF: RF is wrong on video 5 only. McNemar exact: b = 1, c = 0, p = 2 * 0.5 = 1.
    let r = &t.rows[0];
    assert_eq!(r[c("only A right")], Cell::Int(1));
    assert_eq!(r[c("only B right")], Cell::Int(0));
    assert_eq!(r[c("McNemar p")].as_f64(), Some(1.0));
    assert!((r[c("accuracy A - B")].as_f64().unwrap() - 1.0 / 6.0).abs() < 1e-12);
    // Its one discordant video is one of the 2 of class 2: a stratified resample leaves it out
    // with probability (1/2)^2 = 25 %, far above 2.5 %, so the interval holds 0.
    assert_eq!(
        r[c("on these videos")],
        Cell::Text("not distinguishable".into())
    );
    // Deep against kNN (wrong on videos 1, 3 and 5): b = 3, c = 0, p = 2 * (1/2)^3 = 0.25.
    let r = &t.rows[1];
    assert_eq!(r[c("only A right")], Cell::Int(3));
    assert_eq!(r[c("McNemar p")].as_f64(), Some(0.25));
    // RF against kNN: RF is right where kNN is wrong on videos 1 and 3, never the other way:
    // b = 2, c = 0, p = 2 * (1/2)^2 = 0.5.
    let r = &t.rows[2];
    assert_eq!(r[c("McNemar p")].as_f64(), Some(0.5));
    assert_eq!(
        (r[c("only A right")].clone(), r[c("only B right")].clone()),
        (Cell::Int(2), Cell::Int(0))
    );
}

#[test]
fn exported_table_is_written_beside_the_page_and_linked() {
    let ms = models();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let mut r = Report::new("t", RunMeta::default());
    r.section("comparison", "4. Unified comparison").unwrap();
    r.add_exported_table("comparison", comparison_table(&refs), "comparison")
        .unwrap();
    assert!(
        r.add_exported_table("comparison", comparison_table(&refs), "comparison")
            .is_err()
    );
    assert!(
        r.add_exported_table("comparison", comparison_table(&refs), "results")
            .is_err()
    );
    assert!(
        r.add_exported_table("nope", comparison_table(&refs), "x")
            .is_err()
    );
    let dir = tempfile::tempdir().unwrap();
    let index = r.write(dir.path(), None).unwrap();
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        html.contains(r#"<a href="comparison.csv">comparison.csv</a>"#),
        "link to the CSV"
    );
    assert!(html.contains(r#"<table class="data sortable wide">"#));

    // CSV: the header, then each row with full-precision numbers that parse back exactly.
    let csv = std::fs::read_to_string(dir.path().join("comparison.csv")).unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("model,kind,accuracy,accuracy 95 % CI,precision,recall,F1,F1 95 % CI,macro AUC,train (s),classifier (ms / video),end to end (s / video),throughput (videos / s),size (MB)"));
    let rf: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(rf[0], "Classical-RF");
    let m = &ms[0];
    assert_eq!(rf[2].parse::<f64>().unwrap(), m.metrics.accuracy);
    assert_eq!(rf[4].parse::<f64>().unwrap(), m.metrics.precision);
    assert_eq!(rf[9].parse::<f64>().unwrap(), 0.08);
    // JSON: rows keyed by column name, equal to the results.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("comparison.json")).unwrap())
            .unwrap();
    let row = &json["rows"][0];
    assert_eq!(row["model"], "Deep-3D-R3D18");
    assert_eq!(row["accuracy"].as_f64(), Some(1.0));
    assert_eq!(row["GPU peak (MB)"].as_f64(), Some(958.6));
    assert!(row["peak RSS (MB)"].is_null());
    assert_eq!(json["columns"][2]["better"], "higher");

    // The saved report remembers the export, so `vidcompare render` writes it again.
    let back = Report::load_json(&dir.path().join("results.json")).unwrap();
    assert_eq!(back.exported_tables().count(), 1);
}

#[test]
fn efficiency_charts_use_log_axes_across_orders_of_magnitude() {
    let ms = models();
    let refs: Vec<&ModelResult> = ms.iter().collect();
    let charts = efficiency_charts(&refs);
    let titles: Vec<&str> = charts.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Inference time per video",
            "Model size",
            "Memory",
            "Training time"
        ]
    );
    // 3e-6 s to 1.31 s; 0.0026 MB to 126 MB; 0.0005 s to 2075 s: log. Memory 230-959 MB: linear.
    assert!(charts[0].log_y && charts[1].log_y && charts[3].log_y);
    assert!(!charts[2].log_y);
    assert_eq!(
        charts[0].categories,
        ["Deep-3D-R3D18", "Classical-RF", "Classical-kNN"]
    );
    assert_eq!(charts[0].series[0].values, vec![1.25, 4e-6, 3e-6]);
    assert!(
        charts[0].series[1].values[2].is_nan(),
        "kNN has no end-to-end time"
    );
    let mem: Vec<&str> = charts[2].series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(mem, ["GPU peak", "peak RSS"]);
    // The rendered log chart labels decades.
    let svg = vidcompare::report::render_svg(&charts[3]).unwrap();
    // 0.0005 s to 2075 s: whole decades from 10⁻⁴ to 10000.
    assert!(
        svg.contains(">\n10⁻⁴\n<") && svg.contains(">\n10000\n<"),
        "decade ticks: {svg}"
    );
}

#[test]
fn roc_plot_from_metrics_or_from_scores() {
    let ms = models();
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let p = roc_plot(&ms[0], &names);
    assert_eq!(p.kind, PlotKind::Line);
    assert!(p.diagonal && p.is_compact());
    assert_eq!(p.series.len(), 3);
    let auc0 = ms[0].metrics.roc[0].auc.unwrap();
    assert_eq!(p.series[0].name, format!("a (AUC {auc0:.3})"));
    assert_eq!(p.series[0].x, ms[0].metrics.roc[0].fpr);
    // Without stored curves they are computed from the scores: the same curves.
    let mut bare = ms[0].clone();
    bare.metrics.roc.clear();
    let q = roc_plot(&bare, &names);
    assert_eq!(q.series, p.series);
    let svg = render_plot_svg(&p).unwrap();
    assert!(svg.contains("false positive rate"));
    // Three class curves (and their three legend keys) in width 2, the dashed diagonal as many
    // short grey segments.
    assert_eq!(svg.matches(r#"stroke-width="2" points"#).count(), 6);
    assert!(
        svg.matches(r##"stroke="#555555" stroke-width="1""##)
            .count()
            > 40
    );

    let cm = confusion_chart(&ms[0], &names);
    assert_eq!(cm.series[2].values, vec![1.0, 0.0, 1.0]);
}

/// Model details as a saved `models.json` holds them.
fn details(json: serde_json::Value) -> vidcompare::results::ModelDetails {
    serde_json::from_value(json).unwrap()
}

#[test]
fn training_curves_in_either_shape() {
    let mut m = models().remove(1);
    m.details = details(serde_json::json!({"training_curves": [
        {"epoch": 1, "train_loss": 1.1, "val_loss": 1.0, "train_acc": 0.4, "val_acc": 0.5},
        {"epoch": 2, "train_loss": 0.7, "val_loss": 0.8, "train_acc": 0.7, "val_acc": 0.6}
    ]}));
    let rows = m.training_curves().unwrap();
    let plots = training_curve_plots(&m.name, rows);
    assert_eq!(plots.len(), 2);
    assert_eq!(plots[0].series[0].name, "train");
    assert_eq!(plots[0].series[1].y, vec![1.0, 0.8]);
    assert_eq!(plots[1].series[0].y, vec![0.4, 0.7]);
    m.details = details(serde_json::json!({"training_curves": {
        "train_loss": [1.1, 0.7], "val_loss": [1.0, 0.8], "train_acc": [0.4, 0.7], "val_acc": [0.5, 0.6]
    }}));
    let cols = training_curve_plots(&m.name, m.training_curves().unwrap());
    assert_eq!(cols, plots);
    m.details = details(serde_json::json!({}));
    assert!(m.training_curves().is_none());
}

#[test]
fn plots_survive_save_load_and_render() {
    let mut p = Plot::lines("Learning curve: accuracy", "training videos", "accuracy");
    let s = p.add("Classical-RF", vec![3.0, 9.0, 18.0], vec![0.3, 0.5, 0.8]);
    s.lo = vec![0.2, 0.4, 0.7];
    s.hi = vec![0.4, 0.6, 0.9];
    p.add("x<script>", vec![3.0, f64::NAN], vec![0.1, 0.2]);
    p.caption = "Mean over 3 seeds <b>".into();
    let mut r = Report::new("t", RunMeta::default());
    r.section("learning-curves", "6").unwrap().plot(&p).unwrap();
    let json = r.to_json().unwrap();
    let back = Report::from_json(&json, "x").unwrap();
    let got = Plot::from_block(&back.sections[0].blocks[0]).unwrap();
    assert_eq!(got.series[0], p.series[0]);
    assert!(got.series[1].x[1].is_nan(), "NaN survives as null");
    let html = back.render_html(None).unwrap();
    assert!(html.contains(r#"<figure class="chart plot">"#));
    assert!(html.contains("Learning curve: accuracy"));
    assert!(html.contains("<th scope=\"col\" class=\"num\">band low</th>"));
    assert!(
        html.contains("x&lt;script&gt;") && !html.contains("x<script>"),
        "names escaped"
    );
    assert!(html.contains("Mean over 3 seeds &lt;b&gt;"));
    assert!(
        !html.contains("vidcompare-plot"),
        "the fence is rendered, not shown"
    );
    // Inconsistent plots are refused when added, and a broken fence renders as a note.
    let mut bad = Plot::scatter("bad", "", "");
    bad.add("s", vec![1.0], vec![]);
    assert!(
        r.section("learning-curves", "")
            .unwrap()
            .plot(&bad)
            .is_err()
    );
    let note = markdown_to_html("```vidcompare-plot\n{\"kind\": \"pie\"}\n```\n");
    assert!(
        note.contains("plot-error") && note.contains("could not be drawn"),
        "{note}"
    );
    let evil = markdown_to_html("```vidcompare-plot\n<img src=x onerror=alert(1)>\n```\n");
    assert!(!evil.contains("<img"), "{evil}");
    assert!(matches!(back.sections[0].blocks[0], Block::Plot(_)));
}

#[test]
fn log_plot_notes_values_it_cannot_show() {
    let mut p = Plot::lines("t", "n", "seconds");
    p.add("a", vec![1.0, 2.0, 3.0], vec![0.001, 0.0, 10.0]);
    p.log_y = true;
    let svg = render_plot_svg(&p).unwrap();
    assert!(
        svg.contains("1 value ≤ 0 not shown on the log scale"),
        "{svg}"
    );
}
