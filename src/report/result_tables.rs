//! Tables of model results: the one metrics-table builder (named column sets, used by the report,
//! the Rhai `report::metrics_table` and the evcxr display), grid searches and per-class scores.

use super::table::{Cell, Column, Table};
use crate::analysis::paired::{intervals, test_set_id};
use crate::results::{ModelKind, ModelResult};

/// Which columns a metrics table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSet {
    /// The unified comparison: quality, time, size, memory, parameters and evaluation protocol.
    Full,
    /// Quality, time, size and parameters: a section's summary, an evcxr cell.
    Compact,
    /// The key findings' table: accuracy with its interval, F1, end-to-end time, size, memory
    /// and test set.
    Headline,
}

/// One column of a metrics table and how a model fills it.
struct MetricColumn {
    column: Column,
    cell: fn(&ModelResult) -> Cell,
    compact: bool,
    headline: bool,
}

impl MetricColumn {
    /// Also shown in the [`ColumnSet::Headline`] table.
    fn headline(self) -> MetricColumn {
        MetricColumn {
            headline: true,
            ..self
        }
    }
}

fn opt(x: Option<f64>) -> Cell {
    x.map_or(Cell::Missing, Cell::num)
}

fn count(x: Option<u64>) -> Cell {
    x.map_or(Cell::Missing, |p| {
        i64::try_from(p).map_or(Cell::Num(p as f64), Cell::Int)
    })
}

/// The memory of `m` if it was measured as `kind` ("GPU peak", "heap peak" or "peak RSS"), so different
/// measurements never share a column and are never ranked against each other.
pub fn memory_of(m: &ModelResult, kind: &str) -> Option<f64> {
    m.efficiency
        .memory_kind
        .as_deref()
        .filter(|k| k.eq_ignore_ascii_case(kind))
        .and(m.efficiency.memory_mb)
}

/// `low–high` with 3 decimals (one cell, no comma, so CSV readers keep it whole).
fn range(low: f64, high: f64) -> Cell {
    Cell::Text(format!("{low:.3}–{high:.3}"))
}

/// Every metrics column, in table order. Numbers are stored at full precision in the units the
/// header names.
fn catalogue() -> Vec<MetricColumn> {
    // Times span microseconds to hours: about four significant digits rather than fixed decimals.
    let general = |c: Column| Column { digits: None, ..c };
    let col = |column: Column, compact: bool, cell: fn(&ModelResult) -> Cell| MetricColumn {
        column,
        cell,
        compact,
        headline: false,
    };
    vec![
        col(Column::text("model"), true, |m| Cell::Text(m.name.clone())).headline(),
        col(Column::text("kind"), false, |m| {
            Cell::Text(
                match m.kind {
                    ModelKind::Classical => "classical",
                    ModelKind::Deep => "deep",
                }
                .into(),
            )
        })
        .headline(),
        col(Column::higher("accuracy", 3), true, |m| {
            Cell::num(m.metrics.accuracy)
        })
        .headline(),
        col(Column::text("accuracy 95 % CI"), false, |m| {
            intervals(m).map_or(Cell::Missing, |i| {
                range(i.accuracy_interval.low, i.accuracy_interval.high)
            })
        })
        .headline(),
        col(Column::higher("precision", 3), true, |m| {
            Cell::num(m.metrics.precision)
        }),
        col(Column::higher("recall", 3), true, |m| {
            Cell::num(m.metrics.recall)
        }),
        col(Column::higher("F1", 3), true, |m| Cell::num(m.metrics.f1)).headline(),
        col(Column::text("F1 95 % CI"), false, |m| {
            intervals(m).map_or(Cell::Missing, |i| {
                range(i.macro_f1_interval.low, i.macro_f1_interval.high)
            })
        }),
        col(Column::higher("macro AUC", 3), true, |m| {
            opt(m.metrics.macro_auc)
        }),
        col(general(Column::lower("train (s)", 3)), true, |m| {
            Cell::num(m.efficiency.train_time_s)
        }),
        col(
            general(Column::lower("classifier (ms / video)", 3)),
            true,
            |m| Cell::num(m.efficiency.infer_time_s_per_video * 1e3),
        ),
        col(Column::lower("end to end (s / video)", 3), true, |m| {
            opt(m.efficiency.infer_time_s_per_video_e2e)
        })
        .headline(),
        col(Column::higher("throughput (videos / s)", 2), false, |m| {
            opt(m.efficiency.throughput_videos_per_s)
        }),
        col(Column::lower("size (MB)", 3), true, |m| {
            opt(m.efficiency.model_size_mb)
        })
        .headline(),
        col(Column::lower("GPU peak (MB)", 1), false, |m| {
            opt(memory_of(m, crate::memory::GPU_PEAK))
        })
        .headline(),
        col(Column::lower("heap peak (MB)", 1), false, |m| {
            opt(memory_of(m, crate::memory::HEAP_PEAK))
        })
        .headline(),
        col(Column::lower("peak RSS (MB)", 1), false, |m| {
            opt(memory_of(m, crate::memory::PEAK_RSS))
        })
        .headline(),
        col(Column::num("params", 0), true, |m| {
            count(m.efficiency.params)
        }),
        col(Column::num("trainable", 0), false, |m| {
            count(m.efficiency.params_trainable)
        }),
        col(Column::text("params are"), false, |m| {
            m.efficiency.params_meaning.clone().into()
        }),
        col(Column::text("split"), false, |m| {
            Cell::Text(m.protocol.split.clone())
        }),
        col(Column::num("videos", 0), true, |m| {
            Cell::from(m.protocol.n_videos)
        }),
        col(Column::text("test set"), false, |m| {
            Cell::Text(format!("#{}", test_set_id(m)))
        })
        .headline(),
        col(Column::text("frames / clips per video"), false, |m| {
            Cell::Text(m.protocol.frames_per_video.clone())
        }),
    ]
}

fn selected(set: ColumnSet) -> impl Iterator<Item = MetricColumn> {
    catalogue().into_iter().filter(move |c| match set {
        ColumnSet::Full => true,
        ColumnSet::Compact => c.compact,
        ColumnSet::Headline => c.headline,
    })
}

/// The columns of a metrics table of `set`, in order.
pub fn metrics_columns(set: ColumnSet) -> Vec<Column> {
    selected(set).map(|c| c.column).collect()
}

/// A metrics table: one row per model in the order given, the columns of `set`; each
/// direction-aware column highlights its best value (higher accuracy, lower time, size and
/// memory). Sort first with [`crate::results::sort_by_accuracy`] for the notebook's order.
///
/// ```
/// use vidcompare::report::result_tables::{ColumnSet, metrics_table};
/// let t = metrics_table("none yet", &[], ColumnSet::Compact);
/// assert_eq!(t.columns[1].name, "accuracy");
/// assert!(t.rows.is_empty());
/// ```
pub fn metrics_table(caption: &str, models: &[&ModelResult], set: ColumnSet) -> Table {
    let cols: Vec<MetricColumn> = selected(set).collect();
    let mut t = Table::new(caption, cols.iter().map(|c| c.column.clone()).collect());
    t.rows = models
        .iter()
        .map(|m| cols.iter().map(|c| (c.cell)(m)).collect())
        .collect();
    t
}

/// Every grid-search candidate of a classical model with its fold scores, the chosen one marked;
/// `None` when the model has no grid search.
pub fn grid_search_table(m: &ModelResult) -> Option<Table> {
    let search = &m.details.classical;
    if search.grid_search.is_empty() {
        return None;
    }
    let best = search.best_index.unwrap_or(0);
    let mut t = Table::new(
        format!(
            "{}: grid search (stratified {}-fold CV on train; {})",
            m.name,
            search.cv_folds.unwrap_or(3),
            match search.cv_preprocess.as_deref() {
                Some("per_fold") => "imputer, scaler and PCA refitted in each fold",
                Some("outside") => {
                    "imputer, scaler and PCA fitted once on all of train, as the notebook: \
                     optimistic fold scores"
                }
                _ => "preprocessing fitted on all of train",
            }
        ),
        vec![
            Column::text("parameters"),
            Column::higher("mean CV accuracy", 3),
            Column::num("std", 3),
            Column::text("fold accuracies"),
            Column::num("rank", 0),
            Column::text("chosen"),
        ],
    );
    for (i, r) in search.grid_search.iter().enumerate() {
        let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let folds: Vec<String> = r
            .fold_scores
            .iter()
            .map(|x| x.map_or("—".into(), |x| format!("{x:.3}")))
            .collect();
        t.rows.push(vec![
            Cell::Text(params.join(", ").replace('"', "")),
            opt(r.mean),
            opt(r.std),
            Cell::Text(folds.join(" / ")),
            r.rank.map_or(Cell::Missing, Cell::Int),
            Cell::Text(if i == best {
                "✔ best".into()
            } else {
                String::new()
            }),
        ]);
    }
    t.summary = search.grid_search.get(best).map(|r| {
        let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "{} candidates; chosen: {}{}",
            search.grid_search.len(),
            params.join(", ").replace('"', ""),
            r.mean
                .map_or(String::new(), |m| format!(" (mean CV accuracy {m:.3})"))
        )
    });
    Some(t)
}

/// Per-class precision, recall, F1, AUC and support of one model; classes without a name are
/// called `class <i>`.
pub fn per_class_table(m: &ModelResult, class_names: &[String]) -> Table {
    let mut t = Table::new(
        format!("{}: per class", m.name),
        vec![
            Column::text("class"),
            Column::num("precision", 3),
            Column::num("recall", 3),
            Column::num("F1", 3),
            Column::num("AUC", 3),
            Column::num("support", 0),
        ],
    );
    for (i, c) in m.metrics.per_class.iter().enumerate() {
        let name = class_names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class {i}"));
        t.rows.push(vec![
            Cell::Text(name),
            Cell::num(c.precision),
            Cell::num(c.recall),
            Cell::num(c.f1),
            opt(c.auc),
            Cell::from(c.support),
        ]);
    }
    t
}
