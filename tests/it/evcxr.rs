//! Interactive use: the display protocol of the session's types (checked here directly), and the
//! README's evcxr session (`examples/evcxr/session.evcxr`) driven through `evcxr_repl` on tiny demo
//! data, its output checked.
//!
//! The session test needs `evcxr_repl` (`tools/install-evcxr.sh` installs it). It fails when the
//! program is missing; `VIDCOMPARE_SKIP_EVCXR=1` skips it explicitly. evcxr builds vidcompare
//! and its dependencies in its own folder; the test keeps that folder in
//! `target/tmp/evcxr-session` (or `$VIDCOMPARE_EVCXR_TMPDIR`) so that only the first run pays
//! for the cold build.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tempfile::TempDir;
use vidcompare::dataset::synth::{DemoCounts, VideoRanges, generate_root_with};
use vidcompare::display::parse_evcxr_blocks;
use vidcompare::metrics::evaluate;
use vidcompare::prelude::*;
use vidcompare::results::{Efficiency, Protocol};

// ---------------------------------------------------------------------------------------------
// Display of the session's types

/// A model result whose metrics come from hand-made labels: 6 test videos, 3 classes,
/// y_true 0 0 1 1 2 2, y_pred 0 1 1 1 2 0, so accuracy 4/6 and the confusion matrix
/// [[1,1,0],[0,2,0],[1,0,1]].
fn model(name: &str, y_pred: &[usize]) -> ModelResult {
    let y_true = vec![0, 0, 1, 1, 2, 2];
    let scores: Vec<Vec<f64>> = y_pred
        .iter()
        .map(|&p| (0..3).map(|c| if c == p { 0.8 } else { 0.1 }).collect())
        .collect();
    let metrics = evaluate(&y_true, y_pred, &scores, 3).unwrap();
    ModelResult {
        name: name.into(),
        kind: ModelKind::Classical,
        metrics,
        efficiency: Efficiency {
            train_time_s: 1.5,
            infer_time_s_per_video: 0.002,
            ..Efficiency::default()
        },
        protocol: Protocol {
            split: "test".into(),
            n_videos: 6,
            frames_per_video: "2".into(),
            input: "test".into(),
            ..Default::default()
        },
        y_true,
        y_pred: y_pred.to_vec(),
        scores,
        test_paths: Vec::new(),
        score_kind: "test".into(),
        details: Default::default(),
        artifacts: Vec::new(),
        notes: Vec::new(),
    }
}

fn classes() -> Vec<String> {
    ["left-right", "up-down", "circle"]
        .map(String::from)
        .to_vec()
}

/// The one block of `mime` in `bundle`'s wire form, parsed back.
fn block(bundle: &MimeBundle, mime: &str) -> String {
    let blocks = parse_evcxr_blocks(&bundle.to_evcxr()).unwrap();
    let found: Vec<&(String, String)> = blocks.iter().filter(|(m, _)| m == mime).collect();
    assert_eq!(found.len(), 1, "one {mime} block expected in {blocks:?}");
    found[0].1.clone()
}

#[test]
fn results_table_text_and_html_show_the_metrics() {
    let mut results = ResultsTable::new();
    results.push(model("Classical-SVM", &[0, 1, 1, 1, 2, 0])); // 4 of 6 right
    results.push(model("Classical-kNN", &[0, 0, 1, 1, 2, 0])); // 5 of 6 right
    let text = results.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let svm = lines
        .iter()
        .find(|l| l.starts_with("Classical-SVM"))
        .unwrap();
    let knn = lines
        .iter()
        .find(|l| l.starts_with("Classical-kNN"))
        .unwrap();
    // Accuracy is the first number; 4/6 and 5/6 at 3 decimals; the better one is starred.
    assert_eq!(svm.split_whitespace().nth(1), Some("0.667"), "{text}");
    assert_eq!(knn.split_whitespace().nth(1), Some("0.833*"), "{text}");
    // Macro recall of the SVM by hand: (1/2 + 2/2 + 1/2) / 3 = 0.667.
    assert_eq!(svm.split_whitespace().nth(3), Some("0.667"), "{text}");

    let b = results.mime_bundle();
    assert_eq!(b.mime_types(), ["text/plain", "text/html"]);
    assert_eq!(block(&b, "text/plain"), text);
    let html = block(&b, "text/html");
    assert!(
        html.starts_with("<table") && html.ends_with("</table>"),
        "{html}"
    );
    assert_eq!(html.matches("<tr>").count(), 3, "header + 2 models");
    // The best accuracy cell is highlighted; the other is not.
    assert!(
        html.contains(";font-weight:bold;background:#e3f4e8\">0.833</td>"),
        "{html}"
    );
    assert!(html.contains("text-align:right\">0.667</td>"), "{html}");
}

#[test]
fn empty_results_table_says_how_to_fill_it() {
    let b = ResultsTable::new().mime_bundle();
    assert_eq!(b.mime_types(), ["text/plain"]);
    assert!(block(&b, "text/plain").contains("results.push(model)"));
}

#[test]
fn model_result_shows_its_metrics_and_per_class_scores() {
    let m = model("Classical-SVM", &[0, 1, 1, 1, 2, 0]);
    let text = m.to_string();
    assert!(
        text.starts_with("Classical-SVM: accuracy 0.667, precision "),
        "{text}"
    );
    // Per class: class 1 has precision 2/3, recall 1, support 2.
    let row = text.lines().find(|l| l.starts_with("class 1")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2..5], ["0.667", "1.000", "0.800"], "{row}");
    assert_eq!(cells.last(), Some(&"2"));
    let html = block(&m.mime_bundle(), "text/html");
    assert_eq!(html.matches("<table").count(), 2, "metrics + per class");
}

#[test]
fn confusion_matrix_counts_in_text_html_and_svg() {
    let m = model("Classical-SVM", &[0, 1, 1, 1, 2, 0]);
    let cm = confusion(&m, &classes());
    assert_eq!(cm.counts, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]]);
    assert!((cm.accuracy() - 4.0 / 6.0).abs() < 1e-12);
    let text = cm.to_string();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(3)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["left-right", "1", "1", "0"], "{text}");
    assert_eq!(rows[1], ["up-down", "0", "2", "0"], "{text}");
    assert_eq!(rows[2], ["circle", "1", "0", "1"], "{text}");
    let b = cm.mime_bundle();
    assert_eq!(b.mime_types(), ["text/plain", "text/html", "image/svg+xml"]);
    let html = block(&b, "text/html");
    assert!(
        html.starts_with("<table") && html.contains("<th style=\"padding:3px 8px\">circle</th>")
    );
    let svg = block(&b, "image/svg+xml");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // The heatmap is the report's confusion chart: rows are the true classes.
    let chart = cm.chart();
    assert_eq!(chart.kind, ChartKind::Heatmap);
    assert_eq!(chart.series[2].values, vec![1.0, 0.0, 1.0]);
}

#[test]
fn chart_is_svg_and_lists_its_values_as_text() {
    let mut results = ResultsTable::new();
    results.push(model("A", &[0, 1, 1, 1, 2, 0]));
    results.push(model("B", &[0, 0, 1, 1, 2, 2]));
    let chart = metrics_chart(&results);
    let b = chart.mime_bundle();
    assert_eq!(b.mime_types(), ["text/plain", "image/svg+xml"]);
    let svg = block(&b, "image/svg+xml");
    assert!(svg.starts_with("<svg") && svg.contains("Test-set metrics per model"));
    let text = block(&b, "text/plain");
    let acc = text.lines().find(|l| l.starts_with("accuracy")).unwrap();
    assert_eq!(
        acc.split_whitespace().collect::<Vec<_>>(),
        ["accuracy", "0.6667", "1"]
    );
}

#[test]
fn frames_are_png_side_by_side() {
    let red = Frame::from_pixel(5, 3, image::Rgb([255, 0, 0]));
    let blue = Frame::from_pixel(4, 2, image::Rgb([0, 0, 255]));
    let strip = FrameStrip::new(vec![red.clone(), blue]);
    let b = strip.mime_bundle();
    assert_eq!(b.mime_types(), ["text/plain", "image/png"]);
    let png = base64::engine::general_purpose::STANDARD
        .decode(block(&b, "image/png"))
        .unwrap();
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    // 5 + 4 px gap + 4 wide, as tall as the taller frame; white between and below.
    assert_eq!(img.dimensions(), (13, 3));
    assert_eq!(img.get_pixel(4, 2).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(6, 0).0, [255, 255, 255]);
    assert_eq!(img.get_pixel(9, 1).0, [0, 0, 255]);
    assert_eq!(img.get_pixel(9, 2).0, [255, 255, 255]);
    assert!(block(&b, "text/plain").starts_with("2 frames"));
    assert!(
        strip
            .frame(2)
            .unwrap_err()
            .to_string()
            .contains("strip of 2 frames")
    );

    // A single frame shows as itself.
    let one = red.mime_bundle();
    let png = base64::engine::general_purpose::STANDARD
        .decode(block(&one, "image/png"))
        .unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img, red);
    assert!(block(&one, "text/plain").contains("mean RGB (255.0, 0.0, 0.0)"));
}

#[test]
fn report_sections_render_their_blocks() {
    let mut results = ResultsTable::new();
    results.push(model("Classical-SVM", &[0, 1, 1, 1, 2, 0]));
    let mut report = Report::new("Session", RunMeta::default());
    report
        .section("classical", "2. Classical models")
        .unwrap()
        .markdown("Some **bold** <b>prose</b>.")
        .table(metrics_table(&results))
        .chart(metrics_chart(&results))
        .images(
            "frames",
            FrameStrip::new(vec![Frame::new(4, 4)]).images().unwrap(),
        );
    let section = &report.sections[0];
    let html = block(&section.mime_bundle(), "text/html");
    assert!(html.starts_with("<section id=\"classical\"><h3>2. Classical models</h3>"));
    assert!(
        html.contains("<strong>bold</strong> &lt;b&gt;prose&lt;/b&gt;"),
        "{html}"
    );
    assert!(html.contains("<table") && html.contains("<svg"));
    assert!(html.contains("<img src=\"data:image/png;base64,"));
    let text = section.to_string();
    assert!(text.starts_with("## 2. Classical models (#classical)"));
    assert!(text.contains("[1 images: frames]"));
    let r = report.mime_bundle();
    assert!(block(&r, "text/plain").contains("#classical  2. Classical models (4 blocks)"));
}

#[test]
fn open_dataset_errors_say_what_to_do() {
    let dir = TempDir::new().unwrap();
    let e = open_dataset(dir.path()).unwrap_err().to_string();
    assert!(e.contains("splits directory not found"), "{e}");
    assert!(e.contains("demo_data("), "{e}");
    std::fs::create_dir_all(dir.path().join("classical/splits")).unwrap();
    let e = open_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("open `") && e.contains("classical` instead"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// The session through evcxr_repl

const SKIP_ENV: &str = "VIDCOMPARE_SKIP_EVCXR";

/// The evcxr REPL on PATH or in cargo's bin folder.
fn find_evcxr() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    // `cargo install evcxr_repl` installs the REPL as `evcxr`.
    dirs.iter()
        .flat_map(|d| [d.join("evcxr"), d.join("evcxr_repl")])
        .find(|p| p.is_file())
}

/// The session's cells (blank-line separated), comment-only cells dropped, each as one input line
/// with its inner newlines as U+2028 (how `evcxr_repl --disable-readline` reads multi-line input),
/// the `:dep` path made absolute.
fn session_input(crate_dir: &Path) -> (String, usize) {
    let text = std::fs::read_to_string(crate_dir.join("examples/evcxr/session.evcxr")).unwrap();
    let dep = format!("path = {:?}", crate_dir.display().to_string());
    let mut input = String::new();
    let mut n = 0;
    for cell in text.split("\n\n") {
        let code: Vec<&str> = cell
            .lines()
            .filter(|l| !l.trim_start().starts_with("//") && !l.trim().is_empty())
            .collect();
        if code.is_empty() {
            continue;
        }
        let cell = code.join("\u{2028}").replace("path = \".\"", &dep);
        input.push_str(&cell);
        input.push('\n');
        n += 1;
    }
    (input, n)
}

/// A line of REPL output without the `>> ` prompts (coloured or not) printed before it.
fn strip_prompts(mut line: &str) -> &str {
    loop {
        if let Some(rest) = line.strip_prefix("\x1b[33m>> \x1b[0m") {
            line = rest;
        } else if let Some(rest) = line.strip_prefix(">> ") {
            line = rest;
        } else {
            return line;
        }
    }
}

/// Tiny demo root: 4 train, 1 val, 2 test videos per class, 128x96 at 15 fps for 2 s.
fn tiny_demo(root: &Path) {
    let ranges = VideoRanges {
        sizes: vec![(128, 96)],
        fps: (15, 15),
        duration_s: (2.0, 2.0),
    };
    generate_root_with(root, DemoCounts::new(4, 1, 2), &ranges, 11, false).unwrap();
}

#[test]
fn evcxr_session_runs_end_to_end() {
    if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
        eprintln!("skipped: {SKIP_ENV}=1");
        return;
    }
    let Some(evcxr) = find_evcxr() else {
        panic!(
            "evcxr_repl is not installed: run tools/install-evcxr.sh (or `make test`, which \
             runs it), or set {SKIP_ENV}=1 to skip this test"
        );
    };
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = TempDir::new().unwrap();
    tiny_demo(&work.path().join("data/demo/classical"));
    let (input, n_cells) = session_input(crate_dir);
    let evcxr_dir = std::env::var_os("VIDCOMPARE_EVCXR_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("evcxr-session"));
    std::fs::create_dir_all(&evcxr_dir).unwrap();
    let cold = !evcxr_dir.join("target").is_dir();
    let log = work.path().join("display.log");

    let started = Instant::now();
    let mut child = Command::new(&evcxr)
        .arg("--disable-readline")
        .current_dir(work.path())
        .env("EVCXR_TMPDIR", &evcxr_dir)
        .env("VIDCOMPARE_DISPLAY_LOG", &log)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Each line of output with the seconds since start, from both streams.
    let (tx, rx) = mpsc::channel::<(f64, bool, String)>();
    for (is_err, stream) in [
        (
            false,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (true, Box::new(child.stderr.take().unwrap())),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let line = strip_prompts(&line).to_string();
                let _ = tx.send((started.elapsed().as_secs_f64(), is_err, line));
            }
        });
    }
    drop(tx);
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    } // closed: evcxr_repl exits after the last cell

    let limit = Duration::from_secs(
        std::env::var("VIDCOMPARE_EVCXR_TIMEOUT_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2400),
    );
    let mut lines: Vec<(f64, bool, String)> = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(l) => {
                eprintln!("[{:7.1}s] {}{}", l.0, if l.1 { "! " } else { "" }, l.2);
                lines.push(l);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("evcxr_repl did not finish the session within {limit:?}");
        }
    }
    let status = child.wait().unwrap();
    let total = started.elapsed().as_secs_f64();
    let stdout: String = lines
        .iter()
        .filter(|l| !l.1)
        .map(|l| format!("{}\n", l.2))
        .collect();
    let all: String = lines.iter().map(|l| format!("{}\n", l.2)).collect();
    assert!(status.success(), "evcxr_repl exited with {status}");

    // The first code cell after `:dep` builds vidcompare: the first output after it is the
    // dataset table, so its time is the build (cold or warm) plus loading the dataset.
    let first_table = lines
        .iter()
        .find(|l| l.2.contains("3 classes, 21 videos"))
        .map(|l| l.0);
    eprintln!(
        "evcxr session: {n_cells} cells, {} build, first result after {:.1} s, total {total:.1} s",
        if cold { "cold" } else { "warm" },
        first_table.unwrap_or(f64::NAN)
    );

    // No cell failed to compile or returned an error.
    assert!(!all.contains("error["), "a cell failed to compile:\n{all}");
    assert!(first_table.is_some(), "no dataset table:\n{all}");
    assert!(
        all.contains("hint: this folder holds dataset roots; open `data/demo/classical` instead"),
        "the hint is missing:\n{all}"
    );
    // The dataset table: 4 / 1 / 2 videos of each class.
    for (split, n, total) in [("train", 4, 12), ("val", 1, 3), ("test", 2, 6)] {
        let row: Vec<String> = vec![
            split.to_string(),
            n.to_string(),
            n.to_string(),
            n.to_string(),
        ];
        let found = stdout.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() == 5 && cells[..4] == row[..] && cells[4] == total.to_string()
        });
        assert!(found, "no {split} row in the dataset table:\n{stdout}");
    }
    // 4 frames scaled to 96 pixels high (128x96 source): one strip, then one frame.
    assert!(stdout.contains("4 frames of 128x96 from "), "{stdout}");
    assert!(stdout.contains("frame 128x96, mean RGB ("), "{stdout}");
    // Features of 12 / 3 / 6 videos.
    assert!(stdout.contains("Features (motion+, 320x240)"), "{stdout}");

    // The SVM's printed accuracy agrees with its printed confusion matrix and with the report.
    let acc_line = stdout
        .lines()
        .find(|l| l.starts_with("Classical-SVM: accuracy "))
        .unwrap_or_else(|| panic!("no SVM metrics:\n{stdout}"));
    let printed: f64 = acc_line["Classical-SVM: accuracy ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cm_start = stdout
        .lines()
        .position(|l| l.starts_with("Classical-SVM: confusion matrix"))
        .unwrap_or_else(|| panic!("no confusion matrix:\n{stdout}"));
    let cm: Vec<Vec<usize>> = stdout
        .lines()
        .skip(cm_start + 3)
        .take(3)
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|c| c.parse().unwrap())
                .collect()
        })
        .collect();
    let n: usize = cm.iter().flatten().sum();
    let right: usize = (0..3).map(|i| cm[i][i]).sum();
    assert_eq!(n, 6, "6 test videos in the confusion matrix {cm:?}");
    assert!(
        (printed - right as f64 / 6.0).abs() < 5e-4,
        "{printed} vs {cm:?}"
    );
    for name in ["Classical-RF", "Classical-kNN"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} missing from the results table:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("Test-set metrics per model (bar chart"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Report \"Interactive session\": 2 sections"),
        "{stdout}"
    );

    // What Jupyter would have received: well-formed blocks of each kind.
    let sent = std::fs::read_to_string(&log).unwrap();
    let blocks = parse_evcxr_blocks(&sent).unwrap();
    let of = |mime: &str| -> Vec<&String> {
        blocks
            .iter()
            .filter(|(m, _)| m == mime)
            .map(|(_, c)| c)
            .collect()
    };
    assert!(of("text/html").iter().any(|h| h.contains("<table")));
    assert!(
        of("text/html")
            .iter()
            .any(|h| h.contains("confusion matrix"))
    );
    assert!(of("image/svg+xml").iter().all(|s| s.starts_with("<svg")));
    assert_eq!(
        of("image/svg+xml").len(),
        2,
        "confusion heatmap + metrics chart"
    );
    let pngs = of("image/png");
    assert_eq!(pngs.len(), 2, "the strip and the single frame");
    for p in pngs {
        let bytes = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
    let strip = image::load_from_memory(
        &base64::engine::general_purpose::STANDARD
            .decode(of("image/png")[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!((strip.width(), strip.height()), (4 * 128 + 3 * 4, 96));

    // The report on disk holds the same accuracy.
    let page = work.path().join("reports/session/index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("id=\"classical\"") && html.contains("<svg"));
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("reports/session/results.json")).unwrap(),
    )
    .unwrap();
    let table = saved["sections"][1]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "table")
        .unwrap();
    let svm_row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "Classical-SVM")
        .unwrap();
    assert!((svm_row[1].as_f64().unwrap() - right as f64 / 6.0).abs() < 1e-12);
}
