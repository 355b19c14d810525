//! Runs, plural: the index of every run under a report folder (`reports/index.html`, rewritten
//! after each run) and the comparison of two runs (`vidcompare diff RUN_A RUN_B`).
//!
//! A run is a folder holding the `results.json` a run writes (and `models.json` when it trained
//! models). Both pages are ordinary [`Report`]s rendered by the one HTML renderer; the diff is also
//! printed as text.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analysis::insights::p_value;
use crate::analysis::paired::{test_set_id, video_ids};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::results::{ModelKind, ModelResult, ResultsTable};
use crate::uncertainty::{Bootstrap, PairedComparison, TestPredictions, compare_pair};

use super::{Cell, Column, Report, RunMeta, Table};

/// File name of the runs index, written in the report folder (beside the run folders).
pub const INDEX_FILE: &str = "index.html";

/// One run as saved on disk.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The run's folder.
    pub dir: PathBuf,
    /// The folder's name (the run's `run_name`).
    pub name: String,
    /// The saved report (`results.json`).
    pub report: Report,
    /// Its models (`models.json`; empty when the run trained none).
    pub models: Vec<ModelResult>,
}

impl RunRecord {
    /// Load the run in `path`: a run folder, or the `results.json` inside one.
    pub fn load(path: &Path) -> Result<RunRecord> {
        let dir = if path.file_name().is_some_and(|n| n == "results.json") {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            path.to_path_buf()
        };
        let results = dir.join("results.json");
        if !results.is_file() {
            return Err(Error::InvalidArgument(format!(
                "{}: not a run folder (no results.json; give the folder `vidcompare run` wrote, \
                 report_dir/run_name)",
                dir.display()
            )));
        }
        let report = Report::load_json(&results)?;
        let models_path = dir.join("models.json");
        let models = if models_path.is_file() {
            ResultsTable::load_json(&models_path)?.models
        } else {
            Vec::new()
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        Ok(RunRecord {
            dir,
            name,
            report,
            models,
        })
    }

    /// The settings of this run that differ from the defaults, as `(key, value)` in key order.
    /// The paths that name where results and caches go (`report_dir`, `run_name`, `cache_dir`)
    /// are left out: they do not change what is computed.
    pub fn changed_settings(&self) -> Vec<(String, String)> {
        changed_settings(&self.report.meta)
    }

    /// The most accurate model of each family (classical first), ties to the first listed.
    pub fn best_per_family(&self) -> Vec<&ModelResult> {
        [ModelKind::Classical, ModelKind::Deep]
            .into_iter()
            .filter_map(|kind| {
                self.models.iter().filter(|m| m.kind == kind).fold(
                    None,
                    |best: Option<&ModelResult>, m| match best {
                        Some(b) if b.metrics.accuracy >= m.metrics.accuracy => Some(b),
                        _ => Some(m),
                    },
                )
            })
            .collect()
    }
}

/// Keys that say where output goes, not what is computed.
const LOCATION_KEYS: &[&str] = &["report_dir", "run_name", "cache_dir"];

/// The entries of `meta.config` whose value differs from [`Config::default`]'s, in key order.
/// A key the current version does not know (an older or newer run) is listed too.
pub fn changed_settings(meta: &RunMeta) -> Vec<(String, String)> {
    let defaults = Config::default();
    let mut changed: Vec<(String, String)> = meta
        .config
        .iter()
        .filter(|(k, _)| !LOCATION_KEYS.contains(&k.as_str()))
        .filter(|(k, v)| defaults.get(k).map(|d| d.to_string() != *v).unwrap_or(true))
        .cloned()
        .collect();
    changed.sort();
    changed
}

/// Every run folder directly under `report_dir` (those holding a `results.json`), newest first,
/// and a message for each one that could not be read (listed on the index, never dropped).
pub fn list_runs(report_dir: &Path) -> Result<(Vec<RunRecord>, Vec<String>)> {
    let mut runs = Vec::new();
    let mut problems = Vec::new();
    let entries = std::fs::read_dir(report_dir).map_err(|e| Error::io(report_dir, e))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("results.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        match RunRecord::load(&dir) {
            Ok(r) => runs.push(r),
            Err(e) => problems.push(format!("{}: not listed: {e}", dir.display())),
        }
    }
    runs.sort_by(|a, b| {
        b.report
            .meta
            .date
            .cmp(&a.report.meta.date)
            .then(a.name.cmp(&b.name))
    });
    Ok((runs, problems))
}

/// The accuracy of a family's best model as "Name 0.889" in `runs`' index.
fn best_cell(run: &RunRecord, kind: ModelKind) -> Cell {
    match run.best_per_family().into_iter().find(|m| m.kind == kind) {
        Some(m) => Cell::Text(format!("{} {:.3}", m.name, m.metrics.accuracy)),
        None => Cell::Missing,
    }
}

/// The runs table of the index: one row per run.
pub fn runs_table(runs: &[RunRecord]) -> Table {
    let mut t = Table::new(
        format!(
            "{} run{}, newest first",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        ),
        vec![
            Column::text("run"),
            Column::text("date"),
            Column::text("script"),
            Column::text("datasets"),
            Column::num("seed", 0),
            Column::text("settings changed from the defaults"),
            Column::text("best classical (accuracy)"),
            Column::text("best deep (accuracy)"),
            Column::num("duration (s)", 0),
        ],
    );
    for r in runs {
        let m = &r.report.meta;
        let datasets: Vec<String> = m
            .datasets
            .iter()
            .map(|d| format!("{} ({} videos)", d.name, d.videos))
            .collect();
        let changed: Vec<String> = r
            .changed_settings()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        t.rows.push(vec![
            Cell::link(&r.name, format!("{}/index.html", r.name)),
            Cell::Text(m.date.clone()),
            m.script.clone().map_or(Cell::Missing, Cell::Text),
            if datasets.is_empty() {
                Cell::Missing
            } else {
                Cell::Text(datasets.join(", "))
            },
            m.seed.map_or(Cell::Missing, |s| Cell::Int(s as i64)),
            Cell::Text(if changed.is_empty() {
                "none".to_string()
            } else {
                changed.join(", ")
            }),
            best_cell(r, ModelKind::Classical),
            best_cell(r, ModelKind::Deep),
            m.duration_s.map_or(Cell::Missing, Cell::num),
        ]);
    }
    t
}

/// The index page of `report_dir`: the runs table, and the runs that could not be read.
pub fn index_report(report_dir: &Path) -> Result<Report> {
    let (runs, problems) = list_runs(report_dir)?;
    let mut report = Report::new("vidcompare runs", RunMeta::default());
    report.warnings = problems;
    report
        .section("runs", "Runs")?
        .markdown(
            "Every run saved in this folder (one folder per `run_name`). Compare two with \
             `vidcompare diff RUN_A RUN_B`.",
        )
        .table(runs_table(&runs));
    Ok(report)
}

/// Rewrite `report_dir/index.html` from the runs found there; returns its path.
pub fn write_index(report_dir: &Path, templates_dir: Option<&Path>) -> Result<PathBuf> {
    let report = index_report(report_dir)?;
    let html = report.render_html(templates_dir)?;
    let path = report_dir.join(INDEX_FILE);
    crate::util::fs::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// One metric of one model in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    pub metric: &'static str,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// Whether a larger value is better (accuracy) or worse (time, size, memory).
    pub higher_is_better: bool,
    /// False when the two values measure different things (then no change is given).
    pub comparable: bool,
}

impl MetricChange {
    /// `b - a`, when both are known and measure the same thing.
    pub fn change(&self) -> Option<f64> {
        if !self.comparable {
            return None;
        }
        Some(self.b? - self.a?)
    }
}

/// A model present in both runs.
#[derive(Debug, Clone)]
pub struct ModelChange {
    pub name: String,
    pub metrics: Vec<MetricChange>,
    /// The paired test of run B's model against run A's (`a` = run B), when both were evaluated on
    /// the same test videos; `None` otherwise (see [`Self::same_videos`]).
    pub paired: Option<PairedComparison>,
    /// Whether both runs evaluated it on the same test videos.
    pub same_videos: bool,
}

/// What differs between two runs.
#[derive(Debug, Clone)]
pub struct RunDiff {
    pub a: String,
    pub b: String,
    /// `(key, value in A, value in B)` for every setting (and the script, seed, commit and
    /// datasets) that differs; "—" where one run lacks it.
    pub settings: Vec<(String, String, String)>,
    /// Models in both runs, in run A's order.
    pub models: Vec<ModelChange>,
    /// Models in only one run: `(name, run name)`.
    pub only_in_one: Vec<(String, String)>,
}

fn metric_changes(a: &ModelResult, b: &ModelResult) -> Vec<MetricChange> {
    let row = |metric, f: &dyn Fn(&ModelResult) -> Option<f64>, higher_is_better| MetricChange {
        metric,
        a: f(a),
        b: f(b),
        higher_is_better,
        comparable: true,
    };
    vec![
        row("accuracy", &|m| Some(m.metrics.accuracy), true),
        row("macro precision", &|m| Some(m.metrics.precision), true),
        row("macro recall", &|m| Some(m.metrics.recall), true),
        row("macro F1", &|m| Some(m.metrics.f1), true),
        row("macro ROC-AUC", &|m| m.metrics.macro_auc, true),
        row(
            "training time (s)",
            &|m| Some(m.efficiency.train_time_s),
            false,
        ),
        row(
            "inference end to end (s/video)",
            &|m| m.efficiency.infer_time_s_per_video_e2e,
            false,
        ),
        row("size (MB)", &|m| m.efficiency.model_size_mb, false),
        memory_change(a, b),
    ]
}

/// Peak memory in both runs, compared only when both measured it the same way (`memory_kind`):
/// a heap peak and a resident-set peak are different quantities, so their change is not given.
fn memory_change(a: &ModelResult, b: &ModelResult) -> MetricChange {
    let (ka, kb) = (&a.efficiency.memory_kind, &b.efficiency.memory_kind);
    let same = ka == kb;
    MetricChange {
        metric: if !same {
            "peak memory (MB, measured differently)"
        } else if ka.as_deref() == Some(crate::memory::HEAP_PEAK) {
            "peak memory (MB, heap peak)"
        } else {
            "peak memory (MB, peak RSS)"
        },
        a: a.efficiency.memory_mb,
        b: b.efficiency.memory_mb,
        higher_is_better: false,
        comparable: same,
    }
}

/// The settings rows of a diff: every config key, then script, seed, commit and datasets.
fn settings_changes(a: &RunMeta, b: &RunMeta) -> Vec<(String, String, String)> {
    let dash = || "—".to_string();
    let mut keys: Vec<&String> = a.config.iter().chain(&b.config).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let value = |m: &RunMeta, k: &str| {
        m.config
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let mut out: Vec<(String, String, String)> = keys
        .into_iter()
        .filter(|k| !LOCATION_KEYS.contains(&k.as_str()))
        .filter_map(|k| {
            let (va, vb) = (value(a, k), value(b, k));
            (va != vb).then(|| (k.clone(), va.unwrap_or_else(dash), vb.unwrap_or_else(dash)))
        })
        .collect();
    let datasets = |m: &RunMeta| {
        m.datasets
            .iter()
            .map(|d| format!("{} ({})", d.root, d.videos))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let extra = [
        ("script", a.script.clone(), b.script.clone()),
        ("git commit", a.git_commit.clone(), b.git_commit.clone()),
        ("datasets", Some(datasets(a)), Some(datasets(b))),
    ];
    for (k, va, vb) in extra {
        if va != vb {
            out.push((
                k.to_string(),
                va.unwrap_or_else(dash),
                vb.unwrap_or_else(dash),
            ));
        }
    }
    out
}

/// Compare run `b` with run `a`: settings that differ, and every model in both with the change
/// of each metric and, on the same test videos, the paired test (McNemar exact and the paired
/// bootstrap interval of the accuracy change, 2,000 resamples, 95 %, seed 42).
pub fn diff_runs(a: &RunRecord, b: &RunRecord) -> RunDiff {
    let mut models = Vec::new();
    let mut only_in_one = Vec::new();
    for ma in &a.models {
        let Some(mb) = b.models.iter().find(|m| m.name == ma.name) else {
            only_in_one.push((ma.name.clone(), a.name.clone()));
            continue;
        };
        // The same test set: the same videos (by content) with the same classes.
        let same_videos = !ma.y_true.is_empty() && test_set_id(ma) == test_set_id(mb);
        let paired = if same_videos {
            let name_b = format!("{} ({})", mb.name, b.name);
            let name_a = format!("{} ({})", ma.name, a.name);
            compare_pair(
                &TestPredictions {
                    model: &name_b,
                    videos: video_ids(mb),
                    y_true: &mb.y_true,
                    y_pred: &mb.y_pred,
                },
                &TestPredictions {
                    model: &name_a,
                    videos: video_ids(ma),
                    y_true: &ma.y_true,
                    y_pred: &ma.y_pred,
                },
                &Bootstrap::default(),
            )
            .ok()
        } else {
            None
        };
        models.push(ModelChange {
            name: ma.name.clone(),
            metrics: metric_changes(ma, mb),
            paired,
            same_videos,
        });
    }
    for mb in &b.models {
        if !a.models.iter().any(|m| m.name == mb.name) {
            only_in_one.push((mb.name.clone(), b.name.clone()));
        }
    }
    RunDiff {
        a: a.name.clone(),
        b: b.name.clone(),
        settings: settings_changes(&a.report.meta, &b.report.meta),
        models,
        only_in_one,
    }
}

/// The verdict on a model's accuracy change in words.
fn verdict(m: &ModelChange) -> String {
    match &m.paired {
        Some(p) if p.differs() => format!(
            "{} (paired: {} vs {} videos right only in one run, p {})",
            if p.diff > 0.0 { "better" } else { "worse" },
            p.b_only,
            p.c_only,
            p_value(p.mcnemar_p)
        ),
        Some(p) => format!(
            "not distinguishable on these {} videos (change {:+.3}, 95 % CI [{:+.3}, {:+.3}], p {})",
            p.n,
            p.diff,
            p.diff_interval.low,
            p.diff_interval.high,
            p_value(p.mcnemar_p)
        ),
        None if m.same_videos => "no paired test (no predictions saved)".to_string(),
        None => "different test videos: no paired test".to_string(),
    }
}

impl RunDiff {
    /// The settings that differ as a table.
    pub fn settings_table(&self) -> Table {
        let mut t = Table::new(
            "Settings that differ",
            vec![
                Column::text("setting"),
                Column::text(format!("A: {}", self.a)),
                Column::text(format!("B: {}", self.b)),
            ],
        );
        for (k, a, b) in &self.settings {
            t.rows.push(vec![
                Cell::Text(k.clone()),
                Cell::Text(a.clone()),
                Cell::Text(b.clone()),
            ]);
        }
        t
    }

    /// Every model in both runs and metric, with the change B - A, as a table.
    pub fn metrics_table(&self) -> Table {
        let mut t = Table::new(
            format!(
                "Models in both runs: change = B ({}) - A ({})",
                self.b, self.a
            ),
            vec![
                Column::text("model"),
                Column::text("metric"),
                Column::num("A", 3),
                Column::num("B", 3),
                Column::num("change", 3),
                Column::text("accuracy change, paired"),
            ],
        );
        for m in &self.models {
            for (i, c) in m.metrics.iter().enumerate() {
                t.rows.push(vec![
                    Cell::Text(m.name.clone()),
                    Cell::Text(c.metric.to_string()),
                    c.a.map_or(Cell::Missing, Cell::num),
                    c.b.map_or(Cell::Missing, Cell::num),
                    c.change().map_or(Cell::Missing, Cell::num),
                    if i == 0 {
                        Cell::Text(verdict(m))
                    } else {
                        Cell::Text(String::new())
                    },
                ]);
            }
        }
        t
    }

    /// The diff as an HTML page's document.
    pub fn report(&self) -> Result<Report> {
        let mut report = Report::new(
            format!("vidcompare diff: {} vs {}", self.a, self.b),
            RunMeta::default(),
        );
        let settings = if self.settings.is_empty() {
            "The two runs used the same settings.".to_string()
        } else {
            format!("{} setting(s) differ.", self.settings.len())
        };
        report
            .section("settings", "Settings")?
            .markdown(&settings)
            .table(self.settings_table());
        let mut text = String::from(
            "A model's accuracy is called better or worse only when the paired bootstrap interval \
             of the change excludes 0 and the exact McNemar test gives p < 0.05 on the same test \
             videos.",
        );
        for (name, run) in &self.only_in_one {
            let _ = write!(text, "\n\n`{name}` is only in run {run}.");
        }
        report
            .section("models", "Models")?
            .markdown(&text)
            .table(self.metrics_table());
        Ok(report)
    }
}

impl std::fmt::Display for RunDiff {
    /// The diff as text: settings, then one block per model.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "A = {}, B = {}", self.a, self.b)?;
        if self.settings.is_empty() {
            writeln!(f, "settings: the same")?;
        } else {
            let w = self.settings.iter().map(|s| s.0.len()).max().unwrap_or(0);
            writeln!(f, "settings that differ (A -> B):")?;
            for (k, a, b) in &self.settings {
                writeln!(f, "  {k:<w$}  {a} -> {b}")?;
            }
        }
        for m in &self.models {
            writeln!(f, "\n{}: accuracy {}", m.name, verdict(m))?;
            for c in &m.metrics {
                let show = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.3}"));
                let change = c.change().map_or("—".to_string(), |v| format!("{v:+.3}"));
                writeln!(
                    f,
                    "  {:<38} {:>10} {:>10} {:>10}",
                    c.metric,
                    show(c.a),
                    show(c.b),
                    change
                )?;
            }
        }
        for (name, run) in &self.only_in_one {
            writeln!(f, "\n{name}: only in {run}")?;
        }
        Ok(())
    }
}
