//! The Rhai host: error positions, config overrides, imports, limits, and the report it builds.

use std::fs;
use std::path::Path;

use vidcompare::Error;
use vidcompare::config::Config;
use vidcompare::report::Block;
use vidcompare::script::{RunOptions, run_script};

fn opts(overrides: &[&str]) -> RunOptions {
    RunOptions {
        config: Config::with_overrides(overrides).unwrap(),
        progress: false,
        write_report: false,
        ..RunOptions::default()
    }
}

fn script_error(dir: &Path, main: &str, o: RunOptions) -> String {
    match run_script(&dir.join(main), o) {
        Err(Error::Script(msg)) => msg,
        Err(e) => panic!("expected a script error, got {e}"),
        Ok(_) => panic!("expected the script to fail"),
    }
}

#[test]
fn runtime_error_in_imported_module_names_file_line_column_and_source() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sections")).unwrap();
    fs::write(
        dir.path().join("main.rhai"),
        "import \"sections/intro\" as intro;\n\nintro::run(1);\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("sections/intro.rhai"),
        "// intro\nfn run(x) {\n    let y = x + 1;\n    let z = y.no_such_method();\n}\n",
    )
    .unwrap();
    let msg = script_error(dir.path(), "main.rhai", opts(&[]));
    let want = format!("{}:4:15", dir.path().join("sections/intro.rhai").display());
    assert!(msg.contains(&want), "{msg}\n(wanted {want})");
    assert!(msg.contains("let z = y.no_such_method();"), "{msg}");
    assert!(msg.contains("no_such_method"), "{msg}");
    // The call chain leads back to the main script's line 3.
    let main_loc = format!("{}:3:", dir.path().join("main.rhai").display());
    assert!(msg.contains(&main_loc), "{msg}");
    // The caret sits under column 15.
    let caret = msg.lines().find(|l| l.trim_end().ends_with('^')).unwrap();
    let src = msg
        .lines()
        .find(|l| l.contains("no_such_method();"))
        .unwrap();
    let col_in_src = src.find("let z").unwrap() + "let z = y.".len();
    assert_eq!(caret.find('^').unwrap(), col_in_src, "{msg}");
}

#[test]
fn syntax_error_reports_its_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bad.rhai"),
        "let a = 1;\nlet b = 2;\nlet c = ;\n",
    )
    .unwrap();
    let msg = script_error(dir.path(), "bad.rhai", opts(&[]));
    assert!(
        msg.contains(&format!("{}:3:", dir.path().join("bad.rhai").display())),
        "{msg}"
    );
    assert!(msg.contains("let c = ;"), "{msg}");
}

#[test]
fn unknown_function_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("s.rhai"),
        "report::section(\"dataset\", \"Data\");\nreport::tabel(\"t\", [\"a\"], [[1]]);\n",
    )
    .unwrap();
    let msg = script_error(dir.path(), "s.rhai", opts(&[]));
    assert!(msg.contains("s.rhai:2:"), "{msg}");
    assert!(msg.contains("did you mean `report::table`"), "{msg}");
}

#[test]
fn unknown_config_key_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("s.rhai"),
        "let c = config();\nprint(c.sed);\n",
    )
    .unwrap();
    let msg = script_error(dir.path(), "s.rhai", opts(&[]));
    assert!(msg.contains("s.rhai:2:"), "{msg}");
    assert!(msg.contains("did you mean `seed`"), "{msg}");
}

#[test]
fn set_overrides_reach_the_script_and_the_report_metadata() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("s.rhai"),
        r#"
let c = config();
report::section("dataset", "Data");
report::markdown(`seed=${c.seed} w=${c.resize_w} sampling=${c["classical_sampling"]}`);
"#,
    )
    .unwrap();
    let out = run_script(
        &dir.path().join("s.rhai"),
        opts(&["seed=7", "resize_w=160", "classical_sampling=dense"]),
    )
    .unwrap();
    let s = &out.report.sections[0];
    assert_eq!(s.id, "dataset");
    match &s.blocks[0] {
        Block::Markdown { text } => assert_eq!(text, "seed=7 w=160 sampling=dense"),
        b => panic!("unexpected block {b:?}"),
    }
    assert_eq!(out.report.meta.seed, Some(7));
    assert!(
        out.report
            .meta
            .config
            .contains(&("resize_w".to_string(), "160".to_string()))
    );
}

#[test]
fn runaway_script_is_stopped_by_the_operation_limit() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("loop.rhai"),
        "let i = 0;\nloop { i += 1; }\n",
    )
    .unwrap();
    let mut o = opts(&[]);
    o.max_operations = Some(10_000);
    let msg = script_error(dir.path(), "loop.rhai", o);
    assert!(msg.contains("Too many operations"), "{msg}");
}

#[test]
fn content_before_any_section_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("s.rhai"), "report::markdown(\"hi\");\n").unwrap();
    let msg = script_error(dir.path(), "s.rhai", opts(&[]));
    assert!(msg.contains("report::section(id, title)"), "{msg}");
}

#[test]
fn tables_and_charts_are_checked_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    fs::write(
        dir.path().join("s.rhai"),
        r#"
report::section("comparison", "Comparison");
report::table("scores", ["model", #{name: "accuracy", better: "higher", digits: 3}, #{name: "seconds", better: "lower"}],
    [["a", 0.5, 2.0], ["b", 0.75, 3.5], ["c", (), 1.0]]);
report::bar_chart(#{ title: "t", x_label: "model", y_label: "s", categories: ["a", "b"],
    series: [#{ name: "time", values: [1, 2.5] }] });
"#,
    )
    .unwrap();
    let mut o = opts(&[&format!("report_dir={}", reports.display()), "run_name=t1"]);
    o.write_report = true;
    let out = run_script(&dir.path().join("s.rhai"), o).unwrap();
    let index = out.index_html.unwrap();
    assert_eq!(index, reports.join("t1").join("index.html"));
    let html = fs::read_to_string(&index).unwrap();
    assert!(html.contains("id=\"comparison\""));
    assert!(html.contains("<svg"));
    assert!(reports.join("t1/results.json").is_file());

    fs::write(
        dir.path().join("bad.rhai"),
        "report::section(\"x\", \"X\");\nreport::table(\"t\", [\"a\", \"b\"], [[1, 2], [3]]);\n",
    )
    .unwrap();
    let msg = script_error(dir.path(), "bad.rhai", opts(&[]));
    assert!(
        msg.contains("bad.rhai:2:") && msg.contains("row 1 has 1 cells"),
        "{msg}"
    );
}

#[test]
fn runaway_script_is_stopped_by_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("loop.rhai"),
        "let i = 0;\nloop { i += 1; }\n",
    )
    .unwrap();
    let mut o = opts(&[]);
    o.max_seconds = Some(0.2);
    let t = std::time::Instant::now();
    let msg = script_error(dir.path(), "loop.rhai", o);
    assert!(msg.contains("time limit of 0.2 s"), "{msg}");
    assert!(msg.contains("loop.rhai:2:"), "{msg}");
    assert!(t.elapsed().as_secs_f64() < 10.0);
}
