//! The `vidcompare` binary end to end: the notebook script on generated data, and clean failures.

use std::fs;
use std::path::Path;
use std::process::Output;

use vidcompare::dataset::synth::{DemoCounts, generate_root};

use crate::common::vidcompare_cmd;

fn vidcompare(args: &[&str]) -> Output {
    vidcompare_cmd().args(args).output().expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn notebook_script_renders_its_sections_from_generated_data() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("demo/classical");
    // Three training videos per class: the grid search needs stratified 3-fold CV.
    let counts = DemoCounts {
        train: 3,
        val: 1,
        test: 1,
    };
    generate_root(&root, counts, 3, false).unwrap();
    let reports = tmp.path().join("reports");
    let r = root.display().to_string();
    let out = vidcompare(&[
        "run",
        "scripts/comparative_analysis.rhai",
        "--quiet",
        "--set",
        &format!("data_root_classical={r}"),
        "--set",
        &format!("data_root_deep={r}"),
        "--set",
        &format!("report_dir={}", reports.display()),
        "--set",
        "run_name=e2e",
        "--set",
        &format!("cache_dir={}", tmp.path().join("cache").display()),
        // Small frames and no enhancement keep the test quick; the arithmetic is the same.
        "--set",
        "enhance=false",
        "--set",
        "resize_w=160",
        "--set",
        "resize_h=120",
    ]);
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    let index = reports.join("e2e/index.html");
    assert!(text(&out.stdout).contains(&format!("report: {}", index.display())));
    let html = fs::read_to_string(&index).unwrap();
    assert!(html.contains("id=\"dataset\""));
    assert!(html.contains("Dataset summary per split"));
    assert!(html.contains("<svg"));
    assert!(html.contains("data:image/"));
    for class in ["left-right", "up-down", "circle"] {
        assert!(html.contains(class), "class {class} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(reports.join("e2e/results.json")).unwrap())
            .unwrap();
    assert_eq!(json["sections"][0]["id"], "dataset");
    // 3 classes x (1 train + 1 val + 1 test) = 9 listed and readable videos per root.
    let table = json["sections"][0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "table")
        .unwrap();
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "2 roots x 3 splits");
    for row in rows {
        let per_class = if row[1] == "train" { 3 } else { 1 };
        assert_eq!(row[2], 3 * per_class, "videos per split: {row}");
        assert_eq!(row[3], 3 * per_class, "readable per split: {row}");
        assert_eq!(row[4], 3, "classes per split: {row}");
    }

    // The classical section: six models (3 classifiers x 2 feature sets) on 3 test videos, then
    // the deep section's four.
    assert_eq!(json["sections"][1]["id"], "classical");
    assert!(html.contains("id=\"classical\""));
    assert!(html.contains("confusion matrix"));
    let models: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(reports.join("e2e/models.json")).unwrap())
            .unwrap();
    let models = models["models"].as_array().unwrap();
    assert_eq!(models.len(), 10);
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    for deep in [
        "Deep-2D-Avg",
        "Deep-2D-Max",
        "Deep-2D-Attn",
        "Deep-3D-R3D18",
    ] {
        assert!(names.contains(&deep), "{deep} missing from {names:?}");
    }
    assert!(html.contains("id=\"deep\""));
    for m in models {
        assert_eq!(m["protocol"]["n_videos"], 3);
        let acc = m["metrics"]["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }

    // A saved pipeline of either feature set classifies a video from the command line: each
    // extracts the features it was trained on.
    let video = root.join("videos/circle/test_000.mp4");
    for pipeline in ["classical-rf-motion.pipeline", "classical-rf.pipeline"] {
        let out = vidcompare(&[
            "predict",
            &reports
                .join("e2e/models")
                .join(pipeline)
                .display()
                .to_string(),
            &video.display().to_string(),
        ]);
        assert!(
            out.status.success(),
            "{pipeline}: stderr:\n{}",
            text(&out.stderr)
        );
        let line = text(&out.stdout);
        assert!(
            line.contains("circle=") && line.contains("up-down="),
            "{line}"
        );
    }
    // Every model's end-to-end latency was measured from the files.
    for m in models {
        assert!(
            m["efficiency"]["infer_time_s_per_video_e2e"]
                .as_f64()
                .unwrap()
                > 0.0,
            "{}",
            m["name"]
        );
        assert_eq!(m["efficiency"]["latency_videos"], 3);
    }
}

#[test]
fn bad_split_file_fails_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("splits")).unwrap();
    fs::write(root.join("a.mp4"), b"").unwrap();
    fs::write(root.join("splits/train.txt"), "a.mp4 0\nb.mp4 zero\n").unwrap();
    fs::write(root.join("splits/val.txt"), "a.mp4 0\n").unwrap();
    fs::write(root.join("splits/test.txt"), "a.mp4 0\n").unwrap();
    let out = vidcompare(&[
        "run",
        "scripts/comparative_analysis.rhai",
        "--quiet",
        "--set",
        &format!("data_root_classical={}", root.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:2:",
            Path::new(root).join("splits/train.txt").display()
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_set_key_and_missing_video_fail_cleanly() {
    let out = vidcompare(&["run", "scripts/comparative_analysis.rhai", "--set", "sed=1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("did you mean `seed`"), "{err}");

    let out = vidcompare(&["inspect", "no/such/video.mp4"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no/such/video.mp4") && !err.contains("panicked"),
        "{err}"
    );
}

/// `vidcompare bench kernels` on the CPU (the dry run of its GPU use): every depthwise check
/// against the torch fixtures and the float64 reference, and the whole networks, on both kernel
/// paths, with what really ran recorded; then a missing fixture folder is a clear error.
#[test]
fn bench_kernels_checks_both_paths_against_torch_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("kernels.json");
    // One repetition of every workload at small sizes.
    let small = [
        "bench",
        "kernels",
        "--device",
        "cpu",
        "--reps",
        "1",
        "--size",
        "32",
        "--frames",
        "2",
        "--clips",
        "1",
        "--clip-len",
        "4",
    ];
    let mut args = small.to_vec();
    args.extend(["--json", json.to_str().unwrap()]);
    let out = vidcompare(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    let fixture: Vec<_> = checks
        .iter()
        .filter(|c| c["reference"] == "torch fixture")
        .collect();
    // x 3 tensors (y, dx, dw) x 2 paths: 2 depthwise cases, at least 5 conv3d cases
    let count = |prefix: &str| {
        fixture
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    assert_eq!(count("depthwise"), 12);
    assert!(count("conv3d channels-last") >= 30);
    assert_eq!(fixture.len(), count("depthwise") + count("conv3d"));
    for c in &fixture {
        let want = if c["path"] == "fast" {
            "cpu kernel"
        } else {
            "generic tensor ops"
        };
        assert_eq!(c["ran"], want, "{c}");
        // the torch fixture tests' tolerances: deep_effnet.rs and deep_r3d.rs
        let tol = if c["name"].as_str().unwrap().starts_with("depthwise") {
            1e-5
        } else {
            1e-4
        };
        assert!(c["error"].as_f64().unwrap() <= tol, "{c}");
    }
    for name in ["EfficientNet-B0 features", "R3D-18 embedding"] {
        assert_eq!(
            checks
                .iter()
                .filter(|c| c["name"].as_str().unwrap().starts_with(name))
                .count(),
            2,
            "{name} on both paths"
        );
    }
    let timings = report["timings"].as_array().unwrap();
    assert!(
        timings
            .iter()
            .any(|t| t["name"] == "EfficientNet-B0 whole, 2 x 32 px" && t["path"] == "generic"),
        "{timings:?}"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("all checks passed"), "{stdout}");

    // --only: just the workloads named (on every path), the checks all the same; a text that
    // names no workload is an error listing them.
    let only_json = tmp.path().join("only.json");
    let mut args = small.to_vec();
    args.extend([
        "--only",
        "R3D-18 whole",
        "--only",
        "EfficientNet-B0 whole",
        "--json",
        only_json.to_str().unwrap(),
    ]);
    let out = vidcompare(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let only: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&only_json).unwrap()).unwrap();
    let mut timed: Vec<(String, String)> = only["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    timed.sort();
    let pair = |n: &str, p: &str| (n.to_string(), p.to_string());
    assert_eq!(
        timed,
        [
            pair("EfficientNet-B0 whole, 2 x 32 px", "fast"),
            pair("EfficientNet-B0 whole, 2 x 32 px", "generic"),
            pair("R3D-18 whole, 1 x 4 frames x 32 px", "fast"),
        ]
    );
    assert_eq!(only["checks"].as_array().unwrap().len(), checks.len());
    let mut args = small.to_vec();
    args.extend(["--only", "R3D-18 whole", "--only", "ResNet-50"]);
    let out = vidcompare(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("--only \"ResNet-50\"")
            && err.contains("\n  R3D-18 layer4 + pool, 1 x 4 frames x 32 px\n")
            && err.matches("EfficientNet-B0 whole, 2 x 32 px").count() == 1,
        "{err}"
    );

    let missing = tmp.path().join("no-fixtures");
    let out = vidcompare(&[
        "bench",
        "kernels",
        "--reps",
        "0",
        "--fixtures",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("effnet_depthwise.safetensors"), "{err}");
}
