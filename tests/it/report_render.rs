//! The report end to end: JSON round trip, HTML structure and safety, highlighting, charts, templates.

use std::path::Path;

use vidcompare::Error;
use vidcompare::report::ProductCounts;
use vidcompare::report::{
    Block, Cell, Chart, ChartKind, Column, DatasetMeta, ImageItem, Report, RunMeta, Table,
    image_item, render_svg,
};

fn meta() -> RunMeta {
    RunMeta {
        date: "2025-03-01T10:20:30+01:00".into(),
        version: "0.1.0".into(),
        git_commit: Some("abc1234".into()),
        script: Some("scripts/comparative_analysis.rhai".into()),
        seed: Some(42),
        config: vec![
            ("frames".into(), "16".into()),
            ("sampling".into(), "uniform".into()),
        ],
        datasets: vec![DatasetMeta {
            name: "demo".into(),
            root: "data/demo".into(),
            videos: 60,
            classes: 3,
            links: vec!["videos -> /store/demo (symbolic link)".into()],
        }],
        cpu: "Test CPU (2 logical cores)".into(),
        gpu: None,
        os: "Linux".into(),
        duration_s: Some(125.0),
        command_line: "vidcompare run scripts/comparative_analysis.rhai".into(),
        products: Some(ProductCounts {
            reused: 54,
            computed: 6,
        }),
    }
}

/// Accuracy (higher is better) and time (lower is better) with ties, text and missing values.
fn comparison_table() -> Table {
    let mut t = Table::new(
        "Test set",
        vec![
            Column::text("model"),
            Column::higher("accuracy", 3),
            Column::lower("train time (s)", 1),
            Column::num("params", 0),
        ],
    );
    let rows: Vec<Vec<Cell>> = vec![
        vec![
            "Classical-SVM".into(),
            0.612.into(),
            3.26.into(),
            Cell::Int(1200),
        ],
        vec![
            "Classical-RF".into(),
            0.9.into(),
            Cell::Missing,
            Cell::Int(5000),
        ],
        vec![
            "Classical-kNN".into(),
            0.8999.into(),
            1.5.into(),
            Cell::Missing,
        ],
        vec![
            "Deep-3D-R3D18".into(),
            0.9.into(),
            812.0.into(),
            Cell::Int(33_000_000),
        ],
        vec![
            "Deep-broken".into(),
            Cell::Missing,
            f64::NAN.into(),
            Cell::Text("n/a".into()),
        ],
    ];
    for r in rows {
        t.add_row(r).unwrap();
    }
    t
}

fn sample_report() -> Report {
    let mut r = Report::new("Classical vs deep <demo>", meta());
    r.warnings
        .push("skipped data/demo/bad.mp4: no frame could be decoded".into());
    r.section("overview", "Overview")
        .unwrap()
        .markdown("We compare **classical** and *deep* models.\n\n<script>alert(1)</script>");
    r.section("results", "Results")
        .unwrap()
        .table(comparison_table())
        .chart({
            let mut c = Chart::bar(
                "Test accuracy",
                "model",
                "accuracy",
                vec!["SVM".into(), "RF".into(), "kNN".into(), "R3D".into()],
            );
            c.add_series("validation", vec![0.58, 0.85, 0.86, 0.88]);
            c.add_series("test", vec![0.61, 0.9, 0.8999, 0.9]);
            c
        });
    let frame = image::RgbImage::from_fn(32, 24, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 10) as u8, 128])
    });
    r.section("frames", "Sample frames").unwrap().images(
        "Uniform sampling, 2 frames",
        vec![
            image_item(&frame, "frame 0").unwrap(),
            image_item(&frame, "frame <8>").unwrap(),
        ],
    );
    r.section("curves", "Learning curves").unwrap().chart({
        let mut c = Chart::line(
            "Loss",
            "epoch",
            "loss",
            (1..=6).map(|e| e.to_string()).collect(),
        );
        c.add_series("train", vec![1e3, 10.0, 0.5, 1e-2, 1e-3, 1e-4]);
        c.add_series("val", vec![2e2, 20.0, f64::NAN, 0.05, 0.0, 2e-3]);
        c.log_y = true;
        c
    });
    r
}

/// The `<td>` elements of the first `<table class="data` in `html`, row by row.
fn first_table_cells(html: &str) -> Vec<Vec<String>> {
    let start = html.find("<table class=\"data").expect("a data table");
    let end = start + html[start..].find("</table>").unwrap();
    let body = &html[start..end];
    let body = &body[body.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|td| td[..td.find("</td>").unwrap()].to_string())
                .collect()
        })
        .collect()
}

#[test]
fn json_round_trip_is_equal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let report = sample_report();
    report.save_json(&path).unwrap();
    let back = Report::load_json(&path).unwrap();
    // NaN cells become Missing at construction, and chart NaNs compare unequal, so compare the
    // parts without NaN directly and the chart through its JSON.
    assert_eq!(back.title, report.title);
    assert_eq!(back.meta, report.meta);
    assert_eq!(back.warnings, report.warnings);
    assert_eq!(back.sections[..3], report.sections[..3]);
    assert_eq!(
        serde_json::to_string(&back.sections[3]).unwrap(),
        serde_json::to_string(&report.sections[3]).unwrap()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["sections"][1]["blocks"][0]["type"], "table");
    assert_eq!(
        v["sections"][1]["blocks"][0]["rows"][4][2],
        serde_json::Value::Null
    );
    assert_eq!(
        v["sections"][1]["blocks"][0]["columns"][1]["better"],
        "higher"
    );
    assert_eq!(
        v["sections"][3]["blocks"][0]["series"][1]["values"][2],
        serde_json::Value::Null
    );
    // No temporary file is left behind by the atomic write.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("results.json")]);
}

#[test]
fn round_trip_without_nan_is_exact() {
    let mut r = Report::new("t", meta());
    r.section("a", "A")
        .unwrap()
        .table(comparison_table())
        .markdown("x");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    r.save_json(&path).unwrap();
    assert_eq!(Report::load_json(&path).unwrap(), r);
}

#[test]
fn broken_json_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, "{\n  \"schema_version\": 1,\n  \"title\": \"x\",\n  \"sections\": [\n    {\"id\": 5}\n  ]\n}\n").unwrap();
    let err = Report::load_json(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Report(_)), "{err:?}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(":5:"), "line 5 expected: {msg}");

    std::fs::write(&path, "{\n  \"schema_version\": 1,\n  \"title\": \"x\",\n").unwrap();
    let msg = Report::load_json(&path).unwrap_err().to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains(":4:"),
        "{msg}"
    );

    let missing = dir.path().join("nope.json");
    let err = Report::load_json(&missing).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("nope.json"),
        "{err}"
    );
}

#[test]
fn sections_and_toc_in_order() {
    let html = sample_report().render_html(None).unwrap();
    let ids = ["overview", "results", "frames", "curves"];
    let mut last = 0;
    for id in ids {
        let at = html
            .find(&format!("<section id=\"{id}\">"))
            .unwrap_or_else(|| panic!("{id}"));
        assert!(at > last, "section {id} out of order");
        last = at;
    }
    let toc = &html[html.find("id=\"vc_toc\"").unwrap()..html.find("</nav>").unwrap()];
    let mut last = 0;
    for id in ids {
        let at = toc
            .find(&format!("<a href=\"#{id}\">"))
            .unwrap_or_else(|| panic!("toc {id}"));
        assert!(at >= last);
        last = at;
    }
    assert_eq!(html.matches("<section").count(), 4);
    assert_eq!(
        html.matches("<section").count(),
        html.matches("</section>").count()
    );
    assert_eq!(
        html.matches("<figure").count(),
        html.matches("</figure>").count()
    );
    assert_eq!(
        html.matches("<table").count(),
        html.matches("</table>").count()
    );
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn header_footer_and_warnings() {
    let html = sample_report().render_html(None).unwrap();
    assert!(html.contains("<title>Classical vs deep &lt;demo&gt;</title>"));
    for needle in [
        "2025-03-01T10:20:30+01:00",
        "<code>abc1234</code>",
        "scripts&#x2f;comparative_analysis.rhai",
        "<td>42</td>",
        "<strong>demo</strong>",
        "60 videos, 3 classes",
        "reached through <code>videos -&gt; &#x2f;store&#x2f;demo (symbolic link)</code>",
        "Test CPU (2 logical cores)",
        "2 min 05 s",
        "reused from the cache: 54, computed by this run: 6",
        "<code>frames</code> = <code>16</code>",
        "class=\"warnings\"",
        "skipped data&#x2f;demo&#x2f;bad.mp4",
        "generated by vidcompare ",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    let quiet = Report::new("q", RunMeta::default())
        .render_html(None)
        .unwrap();
    assert!(!quiet.contains("class=\"warnings\""));
    assert!(quiet.contains(&format!(
        "generated by vidcompare {}",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn markdown_rendered_and_script_escaped() {
    let mut r = sample_report();
    let mut t = Table::new("<script>alert(2)</script>", vec![Column::text("<b>x</b>")]);
    t.add_row(vec!["<script>alert(3)</script>".into()]).unwrap();
    r.section("evil", "<script>alert(4)</script>")
        .unwrap()
        .table(t)
        .markdown("<section>x</section>");
    let html = r.render_html(None).unwrap();
    assert!(html.contains("<strong>classical</strong>") && html.contains("<em>deep</em>"));
    for n in 1..=4 {
        assert!(
            !html.contains(&format!("<script>alert({n})")),
            "alert({n}) not escaped"
        );
        assert!(
            html.contains(&format!("&lt;script&gt;alert({n})")),
            "alert({n}) missing"
        );
    }
    assert!(!html.contains("<b>x</b>"));
    // The page's only script is the inline table sorter.
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(
        html.matches("<section").count(),
        html.matches("</section>").count()
    );
}

#[test]
fn best_cells_highlighted_by_direction() {
    let t = comparison_table();
    // Hand-computed from comparison_table(): accuracy at 3 digits reads 0.612, 0.900, 0.900
    // (0.8999 rounds up), 0.900, — so rows 1, 2, 3 tie; time reads 3.3, —, 1.5, 812.0, — so
    // row 2 alone; params has no direction.
    assert_eq!(t.best_rows(1), vec![1, 2, 3]);
    assert_eq!(t.best_rows(2), vec![2]);
    assert!(t.best_rows(3).is_empty());

    let mut r = Report::new("t", RunMeta::default());
    r.section("s", "S").unwrap().table(t);
    let html = r.render_html(None).unwrap();
    let cells = first_table_cells(&html);
    let best = |row: usize, col: usize| cells[row][col].starts_with(" class=\"best\"");
    let expected = [
        [false, false, false, false],
        [false, true, false, false],
        [false, true, true, false],
        [false, true, false, false],
        [false, false, false, false],
    ];
    for (r, row) in expected.iter().enumerate() {
        for (c, &want) in row.iter().enumerate() {
            assert_eq!(best(r, c), want, "row {r} col {c}: {:?}", cells[r][c]);
        }
    }
    assert_eq!(cells[0][1], " data-sort=\"0.612\">0.612");
    assert_eq!(cells[0][2], " data-sort=\"3.26\">3.3");
    assert_eq!(cells[2][1], " class=\"best\" data-sort=\"0.8999\">0.900");
    assert_eq!(cells[1][2], " class=\"missing\">—");
    assert_eq!(cells[4][2], " class=\"missing\">—");
    assert_eq!(cells[4][3], ">n&#x2f;a");
    assert_eq!(cells[3][3], " data-sort=\"33000000.0\">33000000");
    assert!(
        html.contains("class=\"legend\""),
        "legend explains the highlight"
    );
    assert!(html.contains("accuracy <span class=\"dir\">↑</span>"));
    assert!(html.contains("train time (s) <span class=\"dir\">↓</span>"));
}

#[test]
fn no_legend_without_direction() {
    let mut t = Table::new("plain", vec![Column::text("a"), Column::num("b", 2)]);
    t.add_row(vec!["x".into(), 1.0.into()]).unwrap();
    let mut r = Report::new("t", RunMeta::default());
    r.section("s", "S").unwrap().table(t);
    let html = r.render_html(None).unwrap();
    assert!(!html.contains("class=\"legend\""));
    assert!(!html.contains("class=\"best\""));
}

/// Text content of every `<text>` element of an SVG.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .map(|t| {
            let t = &t[t.find('>').unwrap() + 1..];
            t[..t.find("</text>").unwrap()].trim().to_string()
        })
        .collect()
}

#[test]
fn bar_chart_svg_has_text_labels_and_legend() {
    let r = sample_report();
    let Block::Chart(chart) = &r.sections[1].blocks[1] else {
        panic!()
    };
    let svg = render_svg(chart).unwrap();
    assert!(svg.starts_with("<svg ") && svg.contains("viewBox=\"0 0 720 "));
    let texts = svg_texts(&svg);
    for label in [
        "Test accuracy",
        "model",
        "accuracy",
        "SVM",
        "RF",
        "kNN",
        "R3D",
        "validation",
        "test",
    ] {
        assert!(
            texts.iter().any(|t| t == label),
            "no <text> {label:?} in {texts:?}"
        );
    }
    // Two series of four bars, in Okabe-Ito blue and orange.
    assert_eq!(
        svg.matches("fill=\"#0072B2\"").count(),
        4 + 1,
        "4 bars + legend swatch"
    );
    assert_eq!(svg.matches("fill=\"#E69F00\"").count(), 4 + 1);
    // A linear bar axis starts at zero.
    assert!(texts.iter().any(|t| t == "0"), "{texts:?}");
}

#[test]
fn log_chart_spanning_seven_decades() {
    let r = sample_report();
    let Block::Chart(chart) = &r.sections[3].blocks[0] else {
        panic!()
    };
    assert_eq!(chart.kind, ChartKind::Line);
    let svg = render_svg(chart).unwrap();
    let texts = svg_texts(&svg);
    // Every decade from 1e-4 to 1e3 is labelled.
    for label in ["10⁻⁴", "0.001", "0.01", "0.1", "1", "10", "100", "1000"] {
        assert!(
            texts.iter().any(|t| t == label),
            "no tick {label:?} in {texts:?}"
        );
    }
    // The 0.0 value cannot go on a log axis; the chart says so instead of failing.
    assert!(
        texts.iter().any(|t| t.contains("1 value ≤ 0 not shown")),
        "{texts:?}"
    );
    assert!(!svg.contains("NaN") && !svg.contains("inf"));

    // Nothing positive at all still renders.
    let mut c = Chart::line("empty", "x", "y", vec!["a".into()]);
    c.add_series("s", vec![-1.0]);
    c.log_y = true;
    let texts = svg_texts(&render_svg(&c).unwrap());
    assert!(texts.iter().any(|t| t == "no data to plot"), "{texts:?}");
}

#[test]
fn many_long_categories_are_rotated_not_overlapping() {
    let cats: Vec<String> = (0..14)
        .map(|i| format!("Deep-2D-EffNetB0-attention-{i:02}"))
        .collect();
    let mut c = Chart::bar("wide", "model", "acc", cats);
    c.add_series("a", (0..14).map(|i| i as f64 / 14.0).collect());
    let svg = render_svg(&c).unwrap();
    assert!(svg.contains("rotate(270"), "long labels rotate");
    assert!(
        svg.contains("Deep-2D-Eff…attention-07"),
        "and are shortened in the middle"
    );
}

#[test]
fn chart_with_wrong_series_length_is_an_error() {
    let mut c = Chart::bar("bad", "", "", vec!["a".into(), "b".into()]);
    c.add_series("s", vec![1.0]);
    let err = render_svg(&c).unwrap_err().to_string();
    assert!(
        err.contains("series `s` has 1 values for 2 categories"),
        "{err}"
    );
    let mut r = Report::new("t", RunMeta::default());
    r.section("s", "S").unwrap().chart(c);
    assert!(
        r.render_html(None)
            .unwrap_err()
            .to_string()
            .contains("section `s`")
    );
}

#[test]
fn self_contained_no_external_urls() {
    let mut r = sample_report();
    r.section("links", "Links").unwrap().markdown(
        "[paper](https://example.org/paper) ![remote](http://example.org/x.png) [local](#results)",
    );
    let html = r.render_html(None).unwrap();
    for attr in ["src=", "href="] {
        for quote in ["\"", "'", ""] {
            for scheme in ["http:", "https:", "//"] {
                let bad = format!("{attr}{quote}{scheme}");
                assert!(!html.to_ascii_lowercase().contains(&bad), "found {bad}");
            }
        }
    }
    assert!(!html.contains("@import") && !html.contains("url("));
    assert!(
        html.contains("paper ⟨https:&#x2f;&#x2f;example.org&#x2f;paper⟩")
            || html.contains("paper ⟨https://example.org/paper⟩")
    );
    assert!(html.contains("<a href=\"#results\">local</a>"));
    // The SVG namespace is the only http URL, and it is an identifier, not a resource.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    let svg_ns = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    let shown = html.matches("⟨http").count();
    assert_eq!(urls, svg_ns + shown);
}

#[test]
fn images_are_embedded_as_data_uris() {
    let html = sample_report().render_html(None).unwrap();
    assert_eq!(
        html.matches("<img src=\"data:image/png;base64,iVBORw0KGgo")
            .count(),
        2
    );
    assert!(html.contains("width=\"32\" height=\"24\" alt=\"frame &lt;8&gt;\""));
    assert!(html.contains("<figcaption>Uniform sampling, 2 frames</figcaption>"));

    let mut r = Report::new("t", RunMeta::default());
    let bad = ImageItem {
        caption: "x".into(),
        mime: "text/html".into(),
        data_base64: "PHNjcmlwdD4=".into(),
        width: 1,
        height: 1,
    };
    r.section("s", "S").unwrap().images("bad", vec![bad]);
    let err = r.render_html(None).unwrap_err().to_string();
    assert!(err.contains("text/html"), "{err}");
}

#[test]
fn templates_dir_overrides_embedded_copy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("report.html.j2"),
        "<html><body>CUSTOM {{ title }}{% for s in sections %} [{{ s.id }}]{% endfor %}\
         {% include \"partials/meta.html.j2\" %}</body></html>",
    )
    .unwrap();
    let r = sample_report();
    let html = r.render_html(Some(dir.path())).unwrap();
    assert!(html.starts_with("<html><body>CUSTOM Classical vs deep &lt;demo&gt; [overview] [results] [frames] [curves]"), "{html}");
    // The partial not in the folder came from the embedded copy.
    assert!(html.contains("class=\"meta\""));

    // A folder that does not exist falls back to the embedded templates.
    let html = r
        .render_html(Some(Path::new("/nonexistent/templates")))
        .unwrap();
    assert!(html.contains("<section id=\"overview\">"));

    // A template error names the template and line.
    std::fs::write(dir.path().join("report.html.j2"), "line one\n{% if %}\n").unwrap();
    let err = r.render_html(Some(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains("report.html.j2") && err.contains(":2"),
        "{err}"
    );
}

#[test]
fn embedded_templates_match_the_templates_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let r = sample_report();
    assert_eq!(
        r.render_html(Some(&root)).unwrap(),
        r.render_html(None).unwrap()
    );
}

#[test]
fn write_creates_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports").join("run-1");
    let r = sample_report();
    let index = r.write(&out, None).unwrap();
    assert_eq!(index, out.join("index.html"));
    let html = std::fs::read_to_string(&index).unwrap();
    assert_eq!(html, r.render_html(None).unwrap());
    let back = Report::load_json(&out.join("results.json")).unwrap();
    assert_eq!(
        back.render_html(None).unwrap(),
        html,
        "render from saved results reproduces the page"
    );
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            std::ffi::OsString::from("index.html"),
            "results.json".into()
        ]
    );
    if let Ok(dir) = std::env::var("VIDCOMPARE_REPORT_PREVIEW") {
        r.write(Path::new(&dir), None).unwrap();
    }
}

#[test]
fn invalid_ids_in_loaded_json_are_rejected_at_render() {
    let mut r = Report::new("t", RunMeta::default());
    r.section("ok", "OK").unwrap();
    r.sections[0].id = "bad id\"><script>".into();
    assert!(matches!(r.render_html(None), Err(Error::Report(_))));
    r.sections[0].id = "ok".into();
    r.sections.push(r.sections[0].clone());
    let err = r.render_html(None).unwrap_err().to_string();
    assert!(err.contains("appears twice"), "{err}");
}

/// A long table with a summary is collapsed behind <details> with its caption and summary in
/// view; an exported table's box carries the id the key findings link to; the key findings sit
/// between the title and the run metadata, their Markdown inline and their links as given.
#[test]
fn key_findings_collapsed_tables_and_anchors() {
    let mut r = Report::new("Findings", meta());
    let mut long = Table::new(
        "Classical-SVM: grid search",
        vec![Column::text("parameters")],
    );
    long.add_row(vec!["C=1".into()]).unwrap();
    long.summary = Some("2 candidates; chosen: C=1".into());
    r.section("classical", "Classical").unwrap().table(long);
    r.section("comparison", "Comparison").unwrap();
    r.add_exported_table("comparison", comparison_table(), "comparison")
        .unwrap();
    r.key_findings = Some(vidcompare::report::KeyFindings {
        sentences: vec![vidcompare::report::Finding {
            text: "**RF** is best <b>now</b>.".into(),
            href: Some("#table-comparison".into()),
            label: "comparison table".into(),
        }],
        table: Some(comparison_table()),
    });
    let html = r.render_html(None).unwrap();
    assert!(
        html.contains(
            "<details class=\"table\">\n<summary><span class=\"caption\">Classical-SVM: grid search</span> \
             <span class=\"headline\">2 candidates; chosen: C=1</span></summary>"
        ),
        "{html}"
    );
    assert!(html.contains("<figure class=\"table\" id=\"table-comparison\">"));
    assert!(
        html.contains(
            "<li><strong>RF</strong> is best &lt;b&gt;now&lt;&#x2f;b&gt;. <a class=\"backing\" \
         href=\"#table-comparison\">comparison table&nbsp;→</a></li>"
        ) || html.contains(
            "<li><strong>RF</strong> is best &lt;b&gt;now&lt;/b&gt;. <a class=\"backing\" \
         href=\"#table-comparison\">comparison table&nbsp;→</a></li>"
        ),
        "{html}"
    );
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} not in {html}"));
    assert!(at("<h1>") < at("id=\"vc_findings\""));
    assert!(at("id=\"vc_findings\"") < at("class=\"run-meta\""));
    assert!(at("class=\"run-meta\"") < at("<section id=\"classical\""));
    // The findings round-trip through results.json.
    let back = Report::from_json(&r.to_json().unwrap(), "x.json").unwrap();
    assert_eq!(back, r);
}
