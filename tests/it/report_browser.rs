//! The notebook script end to end into a report, then that report in headless Chromium.
//!
//! One run of `scripts/comparative_analysis.rhai` on a small generated dataset is shared by the
//! tests: every section must be filled from that run (the comparison table's numbers equal the
//! saved `models.json`, its CSV and JSON copies sit beside the page, each section has its charts),
//! and the page must load from `file://` with no console message and no network request, show every
//! section, sort its comparison table in the browser, and give a full-page screenshot.
//!
//! Chromium is Debian's `chromium` package (`tools/install-deps.sh` installs it); without it the
//! browser tests fail and say so, unless `VIDCOMPARE_SKIP_BROWSER=1` is set.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use vidcompare::config::Config;
use vidcompare::dataset::synth::{DemoCounts, generate_root};
use vidcompare::report::{Block, Plot, Report};
use vidcompare::results::ResultsTable;
use vidcompare::script::{RunOptions, run_script};

/// The sections this milestone fills, beside `dataset` and `classical`.
const SECTION_IDS: &[&str] = &[
    "dataset",
    "classical",
    "comparison",
    "efficiency",
    "learning-curves",
    "strengths-limitations",
    "representations",
];

/// Run the notebook script once on a generated dataset; returns the report folder.
fn report_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("data");
        // Two test videos per class: six test points, enough for a guarded t-SNE.
        generate_root(
            &root,
            DemoCounts {
                train: 3,
                val: 1,
                test: 2,
            },
            5,
            false,
        )
        .unwrap();
        let mut config = Config::default();
        let r = root.display().to_string();
        for (k, v) in [
            ("data_root_classical", r.as_str()),
            ("data_root_deep", r.as_str()),
            ("report_dir", &base.join("reports").display().to_string()),
            ("run_name", "e2e"),
            ("cache_dir", &base.join("cache").display().to_string()),
            ("enhance", "false"),
            ("resize_w", "160"),
            ("resize_h", "120"),
        ] {
            config.set(k, v).unwrap();
        }
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/comparative_analysis.rhai");
        let out = run_script(
            &script,
            RunOptions {
                config,
                progress: false,
                ..RunOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("the notebook script failed:\n{e}"));
        out.index_html.unwrap().parent().unwrap().to_path_buf()
    })
}

fn load() -> (Report, ResultsTable) {
    let dir = report_dir();
    (
        Report::load_json(&dir.join("results.json")).unwrap(),
        ResultsTable::load_json(dir.join("models.json")).unwrap(),
    )
}

fn section<'a>(r: &'a Report, id: &str) -> &'a vidcompare::report::Section {
    r.sections
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no section `{id}`"))
}

fn plots(s: &vidcompare::report::Section) -> Vec<Plot> {
    s.blocks.iter().filter_map(Plot::from_block).collect()
}

fn charts(s: &vidcompare::report::Section) -> Vec<&vidcompare::report::Chart> {
    s.blocks
        .iter()
        .filter_map(|b| match b {
            Block::Chart(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn tables(s: &vidcompare::report::Section) -> Vec<&vidcompare::report::Table> {
    s.blocks
        .iter()
        .filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn comparison_table_equals_the_saved_results() {
    let (report, results) = load();
    // Six classical models and the four deep ones.
    let n = results.models.len();
    let classical = results
        .models
        .iter()
        .filter(|m| m.kind == vidcompare::results::ModelKind::Classical)
        .count();
    assert_eq!((classical, n), (6, 10));
    let comparison = section(&report, "comparison");
    let table = tables(comparison)[0];
    assert_eq!(table.rows.len(), n);
    let col = |name: &str| table.columns.iter().position(|c| c.name == name).unwrap();
    let mut previous = f64::INFINITY;
    for row in &table.rows {
        let vidcompare::report::Cell::Text(name) = &row[0] else {
            panic!("model name")
        };
        let m = results.get(name).unwrap();
        let num = |c: &str| row[col(c)].as_f64();
        let acc = num("accuracy").unwrap();
        assert!(acc <= previous, "sorted by accuracy");
        previous = acc;
        assert_eq!(acc, m.metrics.accuracy, "{name}");
        assert_eq!(num("precision"), Some(m.metrics.precision), "{name}");
        assert_eq!(num("recall"), Some(m.metrics.recall), "{name}");
        assert_eq!(num("F1"), Some(m.metrics.f1), "{name}");
        assert_eq!(num("macro AUC"), m.metrics.macro_auc, "{name}");
        assert_eq!(num("train (s)"), Some(m.efficiency.train_time_s), "{name}");
        assert_eq!(
            num("classifier (ms / video)"),
            Some(m.efficiency.infer_time_s_per_video * 1e3),
            "{name}"
        );
        assert_eq!(
            num("end to end (s / video)"),
            m.efficiency.infer_time_s_per_video_e2e
        );
        assert_eq!(
            num("throughput (videos / s)"),
            m.efficiency.throughput_videos_per_s
        );
        assert!(
            m.efficiency.throughput_videos_per_s.unwrap() > 0.0,
            "{name}"
        );
        assert_eq!(num("size (MB)"), m.efficiency.model_size_mb);
        // The run's binary counts its allocations: every model's memory is its own heap peak.
        assert_eq!(
            m.efficiency.memory_kind.as_deref(),
            Some("heap peak"),
            "{name}"
        );
        assert_eq!(num("heap peak (MB)"), m.efficiency.memory_mb, "{name}");
        assert!(m.efficiency.memory_mb.unwrap() > 0.0, "{name}");
        assert_eq!(num("params"), m.efficiency.params.map(|p| p as f64));
        assert_eq!(num("videos"), Some(m.protocol.n_videos as f64));
        assert_eq!(m.protocol.n_videos, 6);
    }
    // The CSV and JSON copies beside the page hold the same numbers.
    let dir = report_dir();
    let csv = std::fs::read_to_string(dir.join("comparison.csv")).unwrap();
    assert_eq!(csv.trim_end().split("\r\n").count(), n + 1);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("comparison.json")).unwrap())
            .unwrap();
    for row in json["rows"].as_array().unwrap() {
        let m = results.get(row["model"].as_str().unwrap()).unwrap();
        assert_eq!(row["accuracy"].as_f64(), Some(m.metrics.accuracy));
        assert_eq!(row["train (s)"].as_f64(), Some(m.efficiency.train_time_s));
    }
    // Confusion matrix and ROC curves for every model.
    let names: Vec<String> = charts(comparison).iter().map(|c| c.title.clone()).collect();
    let rocs = plots(comparison);
    for m in &results.models {
        assert!(
            names
                .iter()
                .any(|t| t.starts_with(&format!("{} — confusion", m.name)))
        );
        assert!(
            rocs.iter()
                .any(|p| p.title.starts_with(&format!("{} — ROC", m.name)))
        );
    }
}

#[test]
fn deep_section_and_paired_comparisons_are_filled_from_the_run() {
    let (report, results) = load();
    let deep_names = [
        "Deep-2D-Avg",
        "Deep-2D-Max",
        "Deep-2D-Attn",
        "Deep-3D-R3D18",
    ];
    let deep = section(&report, "deep");
    let t = tables(deep)[0];
    let rows: Vec<String> = t.rows.iter().map(|r| r[0].display(None)).collect();
    for name in deep_names {
        assert!(rows.contains(&name.to_string()), "{name} not in {rows:?}");
        let titles: Vec<String> = charts(deep).iter().map(|c| c.title.clone()).collect();
        assert!(
            titles.contains(&format!("{name} — confusion matrix (test)")),
            "{titles:?}"
        );
        let curves: Vec<String> = plots(deep).iter().map(|p| p.title.clone()).collect();
        for what in ["loss", "accuracy"] {
            assert!(
                curves.contains(&format!("{name} — {what} per epoch")),
                "{curves:?}"
            );
        }
    }
    // One root for both families here, so one test set: every pair of the ten models is
    // compared, and the disagreement counts are those of the saved predictions.
    let pairs = tables(section(&report, "comparison"))[1];
    assert!(pairs.caption.starts_with("Paired comparisons"));
    assert_eq!(pairs.rows.len(), 45);
    let col = |name: &str| pairs.columns.iter().position(|c| c.name == name).unwrap();
    for row in &pairs.rows {
        let (a, b) = (
            results.get(&row[0].display(None)).unwrap(),
            results.get(&row[1].display(None)).unwrap(),
        );
        // The same files by content (the two families list them by other paths).
        let keys = |m: &vidcompare::results::ModelResult| {
            let mut k = m.protocol.test_videos.clone();
            k.sort();
            k
        };
        assert_eq!(keys(a).len(), 6);
        assert_eq!(keys(a), keys(b));
        // Right or wrong per video, by content key.
        let right =
            |m: &vidcompare::results::ModelResult| -> std::collections::HashMap<String, bool> {
                (0..m.y_true.len())
                    .map(|i| {
                        (
                            m.protocol.test_videos[i].clone(),
                            m.y_pred[i] == m.y_true[i],
                        )
                    })
                    .collect()
            };
        let only = |x: &vidcompare::results::ModelResult, y: &vidcompare::results::ModelResult| {
            let (rx, ry) = (right(x), right(y));
            rx.iter().filter(|(k, r)| **r && !ry[*k]).count() as f64
        };
        assert_eq!(row[col("only A right")].as_f64(), Some(only(a, b)));
        assert_eq!(row[col("only B right")].as_f64(), Some(only(b, a)));
        let diff = row[col("accuracy A - B")].as_f64().unwrap();
        assert!((diff - (a.metrics.accuracy - b.metrics.accuracy)).abs() < 1e-12);
    }
}

#[test]
fn every_section_is_filled_from_the_run() {
    let (report, results) = load();
    let ids: Vec<&str> = report.sections.iter().map(|s| s.id.as_str()).collect();
    for id in SECTION_IDS {
        assert!(ids.contains(id), "section {id} missing from {ids:?}");
    }
    // Efficiency: time, size, memory and training time, one bar per model.
    let eff = charts(section(&report, "efficiency"));
    assert_eq!(eff.len(), 4);
    assert!(
        eff.iter()
            .all(|c| c.categories.len() == results.models.len())
    );
    // Learning curves: accuracy, F1 and time for both feature sets, 5 fractions x 3 seeds.
    let lc = section(&report, "learning-curves");
    let lc_plots = plots(lc);
    assert_eq!(lc_plots.len(), 3);
    let names: Vec<&str> = lc_plots[0].series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names[..2], ["Classical-RF", "Classical-RF (motion+)"]);
    // 9 training videos: floor(0.1 * 9) = 0 -> one per class; then 2, 4, 6, 9.
    assert_eq!(lc_plots[0].series[0].x, vec![3.0, 3.0, 4.0, 6.0, 9.0]);
    // Five fractions per curve; three seeds for the classical ones, so a band.
    assert_eq!(tables(lc)[0].rows.len(), 5 * names.len());
    assert_eq!(lc_plots[0].series[0].lo.len(), 5);
    // Strengths and limitations quote this run's best model and its accuracy.
    let best = results.sorted_by_accuracy()[0];
    let text: String = section(&report, "strengths-limitations")
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Markdown { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        text.contains(&format!("**{}**", best.name))
            && text.contains(&format!("{:.3}", best.metrics.accuracy)),
        "{text}"
    );
    assert!(text.contains("With 6 test videos, one video moves accuracy by 16.7 points"));
    // Representations: PCA importance, permutation importance by family and feature, t-SNE maps.
    let rep = section(&report, "representations");
    let titles: Vec<&str> = charts(rep).iter().map(|c| c.title.as_str()).collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("importance of PCA components"))
    );
    assert!(
        titles
            .iter()
            .any(|t| t.contains("permutation importance by feature family"))
    );
    assert!(
        titles
            .iter()
            .any(|t| t.contains("permutation importance by feature"))
    );
    let maps: Vec<Plot> = plots(rep)
        .into_iter()
        .filter(|p| p.title.starts_with("Classical"))
        .collect();
    assert!(
        maps[2].caption.contains("t-SNE of 18 points"),
        "{}",
        maps[2].caption
    );
    assert_eq!(
        maps.len(),
        4,
        "test-split and all-split maps of both feature sets"
    );
    assert!(
        maps.iter()
            .all(|p| p.series.len() == 3 && !p.caption.is_empty())
    );
    assert!(
        maps[0].caption.contains("t-SNE of 6 points"),
        "{}",
        maps[0].caption
    );
    // The family importance table lists the four families of the motion+ pipeline.
    let fam = tables(rep)
        .into_iter()
        .find(|t| {
            t.caption
                .contains("Classical-RF (motion+) — permutation importance by feature family")
        })
        .unwrap();
    assert_eq!(fam.rows.len(), 4);
}

/// The key findings are this run's: the best model of each family with its accuracy, the paired
/// verdict between the two (one test set here), each linked to what backs it.
#[test]
fn key_findings_quote_the_run() {
    let (report, results) = load();
    let k = report.key_findings.as_ref().expect("key findings");
    assert!((3..=6).contains(&k.sentences.len()), "{:#?}", k.sentences);
    let sorted = results.sorted_by_accuracy();
    let best = |kind| *sorted.iter().find(|m| m.kind == kind).unwrap();
    let (c, d) = (
        best(vidcompare::results::ModelKind::Classical),
        best(vidcompare::results::ModelKind::Deep),
    );
    for (i, m) in [c, d].into_iter().enumerate() {
        let s = &k.sentences[i];
        assert!(
            s.text.contains(&format!("**{}**", m.name))
                && s.text
                    .contains(&format!("accuracy {:.3} (95 % CI", m.metrics.accuracy)),
            "{}",
            s.text
        );
        assert_eq!(s.href.as_deref(), Some("#table-comparison"));
    }
    // Six test videos both: the verdict of the paired comparisons table, in its words.
    let pairs = tables(section(&report, "comparison"))[1];
    let verdict = pairs
        .rows
        .iter()
        .find(|r| {
            let (a, b) = (r[0].display(None), r[1].display(None));
            (a == c.name && b == d.name) || (a == d.name && b == c.name)
        })
        .map(|r| r[8].display(None))
        .unwrap();
    let third = &k.sentences[2];
    assert_eq!(third.href.as_deref(), Some("#table-pairs"));
    assert_eq!(
        third.text.contains("not distinguishable"),
        verdict == "not distinguishable",
        "{verdict}: {}",
        third.text
    );
    // The table of the families' bests.
    let t = k.table.as_ref().unwrap();
    let names: Vec<String> = t.rows.iter().map(|r| r[0].display(None)).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&c.name) && names.contains(&d.name),
        "{names:?}"
    );
}

// ---- Chromium -------------------------------------------------------------------------------

/// The Chromium binary, or `None` when the browser tests are skipped on purpose.
fn chromium() -> Option<PathBuf> {
    if std::env::var("VIDCOMPARE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("VIDCOMPARE_SKIP_BROWSER=1: browser checks skipped");
        return None;
    }
    let path = std::env::var_os("VIDCOMPARE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "{} not found: run tools/install-deps.sh to install Debian's chromium package \
         (or set VIDCOMPARE_SKIP_BROWSER=1 to skip the browser checks)",
        path.display()
    );
    Some(path)
}

/// What one headless Chromium run showed.
struct BrowserRun {
    stdout: String,
    /// Console messages of the page (Chromium's `CONSOLE` log lines).
    console: Vec<String>,
    /// URLs the page itself requested through the network stack (file and data URLs excluded).
    network: Vec<String>,
}

fn run_chromium(chromium: &Path, work: &Path, page: &Path, extra: &[String]) -> BrowserRun {
    let profile = tempfile::tempdir().unwrap();
    let netlog = work.join(format!(
        "netlog-{}.json",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--log-net-log={}", netlog.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("chromium starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    BrowserRun {
        stdout,
        console,
        network: page_requests(&netlog),
    }
}

/// URLs of requests the page made, from Chromium's NetLog: `URL_REQUEST_START_JOB` events whose
/// initiator is an origin (the browser's own background requests have "not an origin"), other
/// than file and data URLs.
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).unwrap_or_default();
    // Chromium may stop before closing the JSON; close it so it parses.
    let log: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .unwrap_or_else(|e| panic!("NetLog {} unreadable: {e}", netlog.display()));
    let Some(start) = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64() else {
        panic!("NetLog without event types");
    };
    log["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["type"].as_u64() == Some(start))
                .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
                .filter_map(|e| e["params"]["url"].as_str())
                .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A copy of the page with a script that records the page height and, after clicking the
/// comparison table's accuracy header, the accuracy column's order.
fn instrumented_copy(index: &Path) -> PathBuf {
    let html = std::fs::read_to_string(index).unwrap();
    let probe = r#"<script>
(function () {
  var t = document.querySelector('#comparison table.sortable');
  var heads = t.tHead.rows[0].cells, col = -1;
  for (var i = 0; i < heads.length; i++) { if (col < 0 && heads[i].textContent.indexOf('accuracy') === 0) { col = i; } }
  heads[col].click();
  var order = Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[col].getAttribute('data-sort'); });
  document.body.setAttribute('data-sorted', order.join(' '));
  document.body.setAttribute('data-height', document.documentElement.scrollHeight);
})();
</script>
</body>"#;
    let copy = index.with_file_name("probe.html");
    std::fs::write(&copy, html.replacen("</body>", probe, 1)).unwrap();
    copy
}

fn attribute(dom: &str, name: &str) -> String {
    let key = format!("{name}=\"");
    let start = dom
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in the DOM"))
        + key.len();
    dom[start..].split('"').next().unwrap().to_string()
}

#[test]
fn report_loads_offline_without_errors_and_is_screenshotted() {
    let Some(chromium) = chromium() else { return };
    let dir = report_dir();
    let index = dir.join("index.html");
    let work = dir.join("browser");
    std::fs::create_dir_all(&work).unwrap();

    // The page itself: no console message, no network request, every section in the DOM.
    let run = run_chromium(&chromium, &work, &index, &["--dump-dom".into()]);
    assert!(run.console.is_empty(), "console: {:#?}", run.console);
    assert!(
        run.network.is_empty(),
        "network requests: {:#?}",
        run.network
    );
    for id in SECTION_IDS {
        assert!(
            run.stdout.contains(&format!("<section id=\"{id}\"")),
            "section {id} not in the DOM"
        );
        assert!(
            run.stdout.contains(&format!("<a href=\"#{id}\"")),
            "{id} not in the contents"
        );
    }
    assert!(run.stdout.contains("<svg"), "charts in the DOM");
    // The page opens on its key findings, then the run metadata, then the sections; every
    // finding links to something on the page.
    let at = |needle: &str| {
        run.stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in the DOM"))
    };
    assert!(at("<h1>") < at("<section id=\"vc_findings\""));
    assert!(at("<section id=\"vc_findings\"") < at("<details class=\"run-meta\""));
    assert!(at("<details class=\"run-meta\"") < at("<section id=\"dataset\""));
    let links: Vec<&str> = run
        .stdout
        .split("<a class=\"backing\" href=\"#")
        .skip(1)
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert!((3..=6).contains(&links.len()), "{links:?}");
    for id in links {
        assert!(
            run.stdout.contains(&format!(" id=\"{id}\"")),
            "#{id} not on the page"
        );
    }

    // Sorting in the browser: one click on "accuracy" sorts the comparison ascending.
    let probe = instrumented_copy(&index);
    let run = run_chromium(
        &chromium,
        &work,
        &probe,
        &["--dump-dom".into(), "--window-size=1280,900".into()],
    );
    assert!(run.console.is_empty(), "console: {:#?}", run.console);
    let sorted: Vec<f64> = attribute(&run.stdout, "data-sorted")
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(sorted.len(), load().1.models.len());
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "{sorted:?}");
    let height: u32 = attribute(&run.stdout, "data-height").parse().unwrap();
    assert!(height > 2000, "page height {height}");

    // A full-page screenshot.
    let shot = work.join("report.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &chromium,
        &work,
        &index,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size=1280,{height}"),
        ],
    );
    let png = image::open(&shot).unwrap_or_else(|e| panic!("screenshot {}: {e}", shot.display()));
    assert_eq!((png.width(), png.height()), (1280, height));
    eprintln!("screenshot: {}", shot.display());
}

// ---- Layout: nothing wider than the page, no chart title clipped --------------------------------

/// What `layout_probe.js` found on a page shown `width` CSS pixels wide.
#[derive(Debug, serde::Deserialize)]
struct Layout {
    viewport: u32,
    scroll_width: u32,
    charts: usize,
    wide: Vec<String>,
    titles: Vec<String>,
    clipped: Vec<String>,
    sticky: Vec<String>,
    scrolled: usize,
}

/// Show `page` (a file beside which the probe copy is written) `width` pixels wide and run
/// `layout_probe.js` in it. Headless Chromium's window is at least 500 pixels wide, so the page is
/// shown in a frame of that width inside a frame page, to which the probe posts its findings.
fn layout_at(chromium: &Path, page: &Path, width: u32) -> Layout {
    let dir = page.parent().unwrap();
    let stem = page.file_stem().unwrap().to_string_lossy().to_string();
    let probe = dir.join(format!("{stem}-layout-probe.html"));
    let html = std::fs::read_to_string(page).unwrap();
    let script = format!(
        "<script>\n{}</script>\n</body>",
        include_str!("layout_probe.js")
    );
    assert!(
        html.contains("</body>"),
        "{} has no </body>",
        page.display()
    );
    std::fs::write(&probe, html.replacen("</body>", &script, 1)).unwrap();
    let frame = dir.join(format!("{stem}-frame-{width}.html"));
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\"><pre id=\"vc-layout-probe\">no answer</pre>\
             <script>window.addEventListener(\"message\", function (e) {{ \
             document.getElementById(\"vc-layout-probe\").textContent = e.data; }});</script>\
             <iframe src=\"{}\" width=\"{width}\" height=\"844\" style=\"border:0;display:block\"></iframe>\
             </body></html>",
            probe.file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    let run = run_chromium(
        chromium,
        dir,
        &frame,
        &[
            "--dump-dom".into(),
            "--window-size=1400,900".into(),
            // Let the frame load and post its message before the DOM is dumped.
            "--virtual-time-budget=10000".into(),
        ],
    );
    assert!(run.console.is_empty(), "console: {:#?}", run.console);
    let start = run
        .stdout
        .find("<pre id=\"vc-layout-probe\">")
        .unwrap_or_else(|| panic!("no probe output in {}", run.stdout))
        + "<pre id=\"vc-layout-probe\">".len();
    let text = &run.stdout[start..];
    let text = &text[..text.find("</pre>").unwrap()];
    let json = text
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe output `{json}`: {e}"))
}

/// At a desktop width and a phone's, no element reaches past the page's edges unless it scrolls
/// inside its own box (the wide tables), every chart title is whole and inside its SVG, and a
/// table scrolled all the way right keeps its model column in view.
#[test]
fn report_fits_the_page_at_1400_and_390_px() {
    let Some(chromium) = chromium() else { return };
    let index = report_dir().join("index.html");
    let n_charts = std::fs::read_to_string(&index)
        .unwrap()
        .matches("<figure class=\"chart")
        .count();
    assert!(n_charts > 20, "{n_charts} charts");
    for width in [1400, 390] {
        let l = layout_at(&chromium, &index, width);
        assert_eq!(l.viewport, width, "{l:?}");
        assert_eq!(l.scroll_width, width, "the page scrolls sideways: {l:?}");
        assert_eq!(l.charts, n_charts, "{l:?}");
        assert!(l.wide.is_empty(), "wider than {width} px: {:#?}", l.wide);
        assert!(l.titles.is_empty(), "at {width} px: {:#?}", l.titles);
        assert!(l.clipped.is_empty(), "at {width} px: {:#?}", l.clipped);
        assert!(l.sticky.is_empty(), "at {width} px: {:#?}", l.sticky);
        // On a phone the comparison tables are wider than the page: the sticky column was tried.
        if width == 390 {
            assert!(l.scrolled >= 3, "{} tables scrolled at 390 px", l.scrolled);
        }
    }
}

/// The probe sees what it must: an element wider than the page outside a scrolling box, and a
/// chart title outside its SVG or cut short; a wide element inside a scrolling box is fine.
#[test]
fn the_layout_checks_catch_wide_elements_and_clipped_titles() {
    let Some(chromium) = chromium() else { return };
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser_control");
    std::fs::create_dir_all(&work).unwrap();
    let page = work.join("layout.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body style=\"margin:0\">\
         <div id=\"too-wide\" style=\"width:600px;height:10px\"></div>\
         <div style=\"overflow-x:auto\"><div id=\"scrolls\" style=\"width:2000px;height:10px\"></div></div>\
         <p style=\"width:300px\">a_checkpoint_name_with_no_break_opportunity_in_it_at_all.safetensors</p>\
         <pre style=\"overflow-x:auto\">a_checkpoint_name_with_no_break_opportunity_in_a_scrolling_box.safetensors</pre>\
         <figure class=\"chart\"><svg role=\"img\" aria-label=\"A long title — clipped\" width=\"120\" height=\"60\" \
         viewBox=\"0 0 120 60\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text class=\"chart-title\" x=\"60\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">A long title — clipped</text>\
         </svg></figure>\
         <figure class=\"chart\"><svg role=\"img\" aria-label=\"Cut short\" width=\"200\" height=\"60\" \
         viewBox=\"0 0 200 60\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text class=\"chart-title\" x=\"10\" y=\"20\" font-size=\"15\">Cut</text></svg></figure>\
         <div style=\"overflow-x:auto;width:200px\"><table class=\"data\" id=\"no-sticky\">\
         <tr><td>model</td><td style=\"min-width:900px\">accuracy</td></tr></table></div>\
         </body></html>",
    )
    .unwrap();
    let l = layout_at(&chromium, &page, 390);
    assert_eq!(l.viewport, 390);
    assert_eq!(l.charts, 2);
    assert!(
        l.wide.len() == 2
            && l.wide[0].starts_with("div#too-wide")
            && l.wide[1].starts_with("text `a_checkpoint_name_with_no_break_opportunity_in_it"),
        "{:#?}",
        l.wide
    );
    assert!(
        l.titles
            .iter()
            .any(|t| t.starts_with("`A long title — clipped` [")),
        "{:#?}",
        l.titles
    );
    assert!(
        l.titles
            .iter()
            .any(|t| t.contains("`Cut` are not the title `Cut short`")),
        "{:#?}",
        l.titles
    );
    assert_eq!(l.clipped.len(), 1, "{:#?}", l.clipped);
    // A wide table without the sticky first column: scrolled right, its model cell leaves the box.
    assert_eq!(l.scrolled, 1);
    assert!(
        l.sticky.len() == 1 && l.sticky[0].starts_with("td `model`"),
        "{:#?}",
        l.sticky
    );
}

#[test]
fn the_checks_catch_console_errors_and_network_requests() {
    let Some(chromium) = chromium() else { return };
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser_control");
    std::fs::create_dir_all(&work).unwrap();
    let page = work.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"http://example.invalid/x.png\">\
         <script>console.error('boom'); undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let run = run_chromium(&chromium, &work, &page, &["--dump-dom".into()]);
    assert_eq!(run.network, ["http://example.invalid/x.png"]);
    assert!(
        run.console.iter().any(|l| l.contains("boom")),
        "{:#?}",
        run.console
    );
    assert!(
        run.console.iter().any(|l| l.contains("undefinedFunction")),
        "{:#?}",
        run.console
    );
}
