//! Report pieces built from model results, for any model, classical or deep: the unified comparison
//! table (the notebook's In[16]), efficiency charts (In[17]), confusion matrices, one-vs-rest ROC
//! curves, training curves and the evaluation protocols.

use serde::Deserialize;

use super::model::{Cell, Chart, ChartKind, Column, Plot, PlotKind, Series, Table};
use crate::metrics::{RocCurve, roc_curve};
use crate::results::{ModelKind, ModelResult};

/// Export name of the comparison table (`comparison.csv`, `comparison.json` beside the page).
pub const COMPARISON_EXPORT: &str = "comparison";

/// Values spanning more than this ratio get a log axis.
pub const LOG_SPAN: f64 = 100.0;

/// Columns of the comparison table, in order. The first is the model name; numbers are stored at
/// full precision in the units the header names.
pub fn comparison_columns() -> Vec<Column> {
    // Times span microseconds to hours: about four significant digits rather than fixed decimals.
    let general = |c: Column| Column { digits: None, ..c };
    vec![
        Column::text("model"),
        Column::text("kind"),
        Column::higher("accuracy", 3),
        Column::higher("precision", 3),
        Column::higher("recall", 3),
        Column::higher("F1", 3),
        Column::higher("macro AUC", 3),
        general(Column::lower("train (s)", 3)),
        general(Column::lower("classifier (ms / video)", 3)),
        Column::lower("end to end (s / video)", 3),
        Column::lower("size (MB)", 3),
        Column::lower("GPU peak (MB)", 1),
        Column::lower("peak RSS (MB)", 1),
        Column::num("params", 0),
        Column::num("trainable", 0),
        Column::text("params are"),
        Column::text("split"),
        Column::num("videos", 0),
        Column::text("frames / clips per video"),
    ]
}

fn opt(x: Option<f64>) -> Cell {
    x.map_or(Cell::Missing, Cell::num)
}

fn count(x: Option<u64>) -> Cell {
    x.map_or(Cell::Missing, |p| {
        i64::try_from(p).map_or(Cell::Num(p as f64), Cell::Int)
    })
}

/// Models sorted by descending accuracy (ties keep the given order), as the notebook sorts.
pub fn sorted_by_accuracy<'a>(models: &[&'a ModelResult]) -> Vec<&'a ModelResult> {
    let mut v = models.to_vec();
    v.sort_by(|a, b| b.metrics.accuracy.total_cmp(&a.metrics.accuracy));
    v
}

/// The unified comparison table: every model with quality, time, size, memory and parameters,
/// sorted by accuracy; each highlighted column marks its best value (higher accuracy, lower time,
/// size and memory). Memory goes to "GPU peak" or "peak RSS" by the model's `memory_kind`, so
/// different measurements are never ranked against each other.
///
/// ```
/// use vidcompare::report::compare::comparison_table;
/// let t = comparison_table(&[]);
/// assert_eq!(t.columns[2].name, "accuracy");
/// assert!(t.rows.is_empty());
/// ```
pub fn comparison_table(models: &[&ModelResult]) -> Table {
    let mut t = Table::new(
        "Unified comparison (sorted by accuracy; click a header to sort)",
        comparison_columns(),
    );
    for m in sorted_by_accuracy(models) {
        let e = &m.efficiency;
        let kind = e.memory_kind.as_deref().unwrap_or("");
        let (gpu, rss) = if kind.eq_ignore_ascii_case("GPU peak") {
            (e.memory_mb, None)
        } else if kind.eq_ignore_ascii_case("peak RSS") {
            (None, e.memory_mb)
        } else {
            (None, None)
        };
        t.rows.push(vec![
            Cell::Text(m.name.clone()),
            Cell::Text(
                match m.kind {
                    ModelKind::Classical => "classical",
                    ModelKind::Deep => "deep",
                }
                .into(),
            ),
            Cell::num(m.metrics.accuracy),
            Cell::num(m.metrics.precision),
            Cell::num(m.metrics.recall),
            Cell::num(m.metrics.f1),
            opt(m.metrics.macro_auc),
            Cell::num(e.train_time_s),
            Cell::num(e.infer_time_s_per_video * 1e3),
            opt(e.infer_time_s_per_video_e2e),
            opt(e.model_size_mb),
            opt(gpu),
            opt(rss),
            count(e.params),
            count(e.params_trainable),
            e.params_meaning.clone().map_or(Cell::Missing, Cell::Text),
            Cell::Text(m.protocol.split.clone()),
            Cell::from(m.protocol.n_videos),
            Cell::Text(m.protocol.frames_per_video.clone()),
        ]);
    }
    t
}

/// Markdown stating every model's evaluation protocol (split, test videos, frames or clips per
/// video, input) and how its scores and costs were measured.
pub fn protocol_markdown(models: &[&ModelResult]) -> String {
    let mut s = String::from(
        "**Evaluation protocol.** Every metric is computed on the split named per model, over all of its \
         videos; precision, recall and F1 are macro averages over classes, the AUC is the macro \
         one-vs-rest ROC AUC of the class scores. Training time includes the grid search for the \
         classical models. *Classifier* inference times the classifier alone on precomputed inputs \
         (the notebook's column), per video; *end to end* adds decoding, sampling and feature \
         extraction or preprocessing. Size is the saved classifier file in MiB. Memory is the GPU's \
         peak allocation for models run on a GPU and the process's peak resident set size \
         otherwise. *Params* counts what the model stores (weights, support vectors, tree nodes \
         or training samples, as *params are* says); *trainable* counts the weights fine-tuned.\n\n",
    );
    // Models evaluated the same way share one line.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for m in sorted_by_accuracy(models) {
        let p = &m.protocol;
        let dash = |t: &str| {
            if t.is_empty() {
                "—".to_string()
            } else {
                t.to_string()
            }
        };
        let key = format!(
            "{} split, {} videos, {} per video; input {}",
            p.split,
            p.n_videos,
            dash(&p.frames_per_video),
            dash(&p.input)
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, names)) => names.push(&m.name),
            None => groups.push((key, vec![&m.name])),
        }
    }
    for (key, names) in groups {
        let names: Vec<String> = names.iter().map(|n| format!("**{n}**")).collect();
        s.push_str(&format!("- {}: {key}.\n", names.join(", ")));
    }
    s.push_str("\nClass scores behind the AUC and ROC curves:\n\n");
    let mut kinds: Vec<(&str, Vec<&str>)> = Vec::new();
    for m in sorted_by_accuracy(models) {
        match kinds.iter_mut().find(|(k, _)| *k == m.score_kind) {
            Some((_, names)) => names.push(&m.name),
            None => kinds.push((&m.score_kind, vec![&m.name])),
        }
    }
    for (kind, names) in kinds {
        let names: Vec<String> = names.iter().map(|n| format!("**{n}**")).collect();
        s.push_str(&format!("- {}: {kind}.\n", names.join(", ")));
    }
    s
}

/// Whether positive values span more than [`LOG_SPAN`] (so a log axis reads better).
pub fn spans_orders(values: &[f64]) -> bool {
    let pos: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pos.iter().copied().fold(0.0, f64::max);
    !pos.is_empty() && hi / lo > LOG_SPAN
}

fn bar(title: &str, y_label: &str, names: &[String], series: Vec<(&str, Vec<f64>)>) -> Chart {
    let mut c = Chart::bar(title, "", y_label, names.to_vec());
    let all: Vec<f64> = series.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    c.log_y = spans_orders(&all);
    if c.log_y {
        c.y_label = format!("{y_label}, log scale");
    }
    for (name, values) in series {
        c.add_series(name, values);
    }
    c
}

/// The efficiency charts, one bar per model in accuracy order: inference time per video
/// (classifier only and end to end), model size, memory (GPU peak and peak RSS as separate series)
/// and training time. A chart whose values span more than two orders of magnitude uses a log axis.
/// Charts with no value at all are left out.
pub fn efficiency_charts(models: &[&ModelResult]) -> Vec<Chart> {
    let sorted = sorted_by_accuracy(models);
    let names: Vec<String> = sorted.iter().map(|m| m.name.clone()).collect();
    let get = |f: &dyn Fn(&ModelResult) -> Option<f64>| -> Vec<f64> {
        sorted.iter().map(|m| f(m).unwrap_or(f64::NAN)).collect()
    };
    let mem = |kind: &'static str| {
        move |m: &ModelResult| {
            m.efficiency
                .memory_kind
                .as_deref()
                .filter(|k| k.eq_ignore_ascii_case(kind))
                .and(m.efficiency.memory_mb)
        }
    };
    let charts = vec![
        bar(
            "Inference time per video",
            "seconds per video",
            &names,
            vec![
                (
                    "classifier only",
                    get(&|m| Some(m.efficiency.infer_time_s_per_video)),
                ),
                (
                    "end to end",
                    get(&|m| m.efficiency.infer_time_s_per_video_e2e),
                ),
            ],
        ),
        bar(
            "Model size",
            "MB",
            &names,
            vec![("saved model", get(&|m| m.efficiency.model_size_mb))],
        ),
        bar(
            "Memory",
            "MB",
            &names,
            vec![
                ("GPU peak", get(&mem("GPU peak"))),
                ("peak RSS", get(&mem("peak RSS"))),
            ],
        ),
        bar(
            "Training time",
            "seconds",
            &names,
            vec![("training", get(&|m| Some(m.efficiency.train_time_s)))],
        ),
    ];
    charts
        .into_iter()
        .map(|mut c| {
            c.series.retain(|s| s.values.iter().any(|v| v.is_finite()));
            // One series has no legend: name it on the axis.
            if let [only] = c.series.as_slice() {
                c.y_label = format!("{} — {}", only.name, c.y_label);
            }
            c
        })
        .filter(|c| !c.series.is_empty())
        .collect()
}

fn class_name(names: &[String], i: usize) -> String {
    names.get(i).cloned().unwrap_or_else(|| format!("C{i}"))
}

/// The model's confusion matrix on its test split as a heatmap (rows true, columns predicted).
pub fn confusion_chart(m: &ModelResult, class_names: &[String]) -> Chart {
    let n = m.metrics.confusion.len();
    Chart {
        kind: ChartKind::Heatmap,
        title: format!("{} — confusion matrix ({})", m.name, m.protocol.split),
        x_label: "predicted".into(),
        y_label: "true".into(),
        categories: (0..n).map(|i| class_name(class_names, i)).collect(),
        series: m
            .metrics
            .confusion
            .iter()
            .enumerate()
            .map(|(i, row)| Series {
                name: class_name(class_names, i),
                values: row.iter().map(|&c| c as f64).collect(),
            })
            .collect(),
        log_y: false,
    }
}

/// One-vs-rest ROC curves of a model, one line per class with its AUC in the legend, and the
/// chance diagonal. Curves come from the model's metrics, or are computed from its `scores` and
/// `y_true` when the metrics carry none; a class without both positives and negatives has no
/// curve.
pub fn roc_plot(m: &ModelResult, class_names: &[String]) -> Plot {
    let mut p = Plot::new(
        PlotKind::Line,
        format!("{} — ROC, one vs rest ({})", m.name, m.protocol.split),
        "false positive rate",
        "true positive rate",
    );
    p.diagonal = true;
    p.x_range = Some([-0.02, 1.02]);
    p.y_range = Some([-0.02, 1.02]);
    let n_classes = m
        .scores
        .first()
        .map_or(0, Vec::len)
        .max(m.metrics.confusion.len());
    let curves: Vec<RocCurve> = if m.metrics.roc.is_empty() {
        (0..n_classes)
            .filter_map(|c| {
                let y: Vec<bool> = m.y_true.iter().map(|&t| t == c).collect();
                let s: Vec<f64> = m
                    .scores
                    .iter()
                    .map(|r| r.get(c).copied().unwrap_or(f64::NAN))
                    .collect();
                let (fpr, tpr, _) = roc_curve(&y, &s).ok()?;
                let auc = crate::metrics::auc_trapezoid(&fpr, &tpr).ok();
                Some(RocCurve {
                    class: c,
                    fpr,
                    tpr,
                    auc,
                })
            })
            .collect()
    } else {
        m.metrics.roc.clone()
    };
    for RocCurve {
        class,
        fpr,
        tpr,
        auc,
    } in curves
    {
        if fpr.is_empty() {
            continue;
        }
        let name = match auc {
            Some(a) => format!("{} (AUC {a:.3})", class_name(class_names, class)),
            None => class_name(class_names, class),
        };
        p.add(name, fpr, tpr);
    }
    p.caption = match m.metrics.macro_auc {
        Some(a) => format!(
            "Macro one-vs-rest AUC {a:.3} over {} {} videos; scores: {}.",
            m.protocol.n_videos, m.protocol.split, m.score_kind
        ),
        None => format!(
            "No macro AUC: some class lacks positives or negatives among the {} {} videos.",
            m.protocol.n_videos, m.protocol.split
        ),
    };
    p
}

/// One epoch of training, as deep models record it in `details.training_curves`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EpochRow {
    /// 1-based epoch; the row's position when absent.
    #[serde(default)]
    pub epoch: Option<f64>,
    /// Mean training loss.
    #[serde(default)]
    pub train_loss: Option<f64>,
    /// Validation loss.
    #[serde(default)]
    pub val_loss: Option<f64>,
    /// Training accuracy.
    #[serde(default)]
    pub train_acc: Option<f64>,
    /// Validation accuracy.
    #[serde(default)]
    pub val_acc: Option<f64>,
}

/// Read training curves from a model's `details.training_curves`: either an array of per-epoch
/// objects `{epoch, train_loss, val_loss, train_acc, val_acc}` or an object of arrays
/// `{train_loss: [...], val_loss: [...], ...}`. `None` when there are none.
pub fn training_curves(m: &ModelResult) -> Option<Vec<EpochRow>> {
    let v = m.details.get("training_curves")?;
    if let Ok(rows) = serde_json::from_value::<Vec<EpochRow>>(v.clone()) {
        return (!rows.is_empty()).then_some(rows);
    }
    let obj = v.as_object()?;
    let col = |k: &str| -> Vec<Option<f64>> {
        obj.get(k)
            .and_then(|a| a.as_array())
            .map(|a| a.iter().map(|x| x.as_f64()).collect())
            .unwrap_or_default()
    };
    let cols = [
        col("epoch"),
        col("train_loss"),
        col("val_loss"),
        col("train_acc"),
        col("val_acc"),
    ];
    let n = cols.iter().map(Vec::len).max().unwrap_or(0);
    if n == 0 {
        return None;
    }
    let at = |c: &Vec<Option<f64>>, i: usize| c.get(i).copied().flatten();
    Some(
        (0..n)
            .map(|i| EpochRow {
                epoch: at(&cols[0], i),
                train_loss: at(&cols[1], i),
                val_loss: at(&cols[2], i),
                train_acc: at(&cols[3], i),
                val_acc: at(&cols[4], i),
            })
            .collect(),
    )
}

/// Loss and accuracy per epoch as two line plots (training and validation in each).
pub fn training_curve_plots(model_name: &str, epochs: &[EpochRow]) -> Vec<Plot> {
    let x: Vec<f64> = epochs
        .iter()
        .enumerate()
        .map(|(i, e)| e.epoch.unwrap_or((i + 1) as f64))
        .collect();
    let col = |f: fn(&EpochRow) -> Option<f64>| -> Vec<f64> {
        epochs.iter().map(|e| f(e).unwrap_or(f64::NAN)).collect()
    };
    let mut loss = Plot::lines(format!("{model_name} — loss per epoch"), "epoch", "loss");
    let mut acc = Plot::lines(
        format!("{model_name} — accuracy per epoch"),
        "epoch",
        "accuracy",
    );
    acc.y_range = Some([0.0, 1.05]);
    for (plot, a, b) in [
        (&mut loss, col(|e| e.train_loss), col(|e| e.val_loss)),
        (&mut acc, col(|e| e.train_acc), col(|e| e.val_acc)),
    ] {
        if a.iter().any(|v| v.is_finite()) {
            plot.add("train", x.clone(), a);
        }
        if b.iter().any(|v| v.is_finite()) {
            plot.add("validation", x.clone(), b);
        }
    }
    [loss, acc]
        .into_iter()
        .filter(|p| !p.series.is_empty())
        .collect()
}
