//! Report pieces built from model results, for any model, classical or deep: the unified comparison
//! table (the notebook's In[16]), efficiency charts (In[17]), confusion matrices, one-vs-rest ROC
//! curves, training curves and the evaluation protocols.

use super::chart::{Chart, ChartKind, Plot, PlotKind, Series};
use super::result_tables::{ColumnSet, memory_of, metrics_columns, metrics_table};
use super::table::{Cell, Column, Table};
use crate::analysis::paired::{Comparisons, test_set_id, test_sets};
use crate::results::{EpochRow, ModelResult, sort_by_accuracy};

/// Export name of the comparison table (`comparison.csv`, `comparison.json` beside the page).
pub const COMPARISON_EXPORT: &str = "comparison";

/// Title of the efficiency chart of inference time per video (classifier only and end to end).
pub const LATENCY_CHART: &str = "Inference time per video";

/// Values spanning more than this ratio get a log axis.
pub const LOG_SPAN: f64 = 100.0;

/// Columns of the comparison table, in order: the [`ColumnSet::Full`] metrics columns.
pub fn comparison_columns() -> Vec<Column> {
    metrics_columns(ColumnSet::Full)
}

/// The unified comparison table: every model with quality (accuracy and macro F1 with their 95 %
/// stratified bootstrap intervals), time, size, memory, parameters and test set, sorted by
/// accuracy; each highlighted column marks its best value (higher accuracy, lower time, size and
/// memory). Models evaluated on different test videos are never ranked against each other: the
/// rows are grouped by test set (the set of the most accurate model first), each sorted by
/// accuracy, and the best values are marked within each group. Memory goes to "GPU peak" or
/// "peak RSS" by the model's `memory_kind`, so different measurements are never ranked against
/// each other.
///
/// ```
/// use vidcompare::report::compare::comparison_table;
/// let t = comparison_table(&[]);
/// assert_eq!(t.columns[2].name, "accuracy");
/// assert!(t.rows.is_empty());
/// ```
pub fn comparison_table(models: &[&ModelResult]) -> Table {
    let n_sets = test_sets(models).len();
    let caption = if n_sets > 1 {
        format!(
            "Unified comparison on {n_sets} different test sets: ranked within each test set, \
             never across (sorted by accuracy; click a header to sort)"
        )
    } else {
        "Unified comparison (sorted by accuracy; click a header to sort)".to_string()
    };
    grouped_metrics_table(&caption, models, ColumnSet::Full)
}

/// A metrics table of `models` with the columns of `set`, grouped by test set (the set of the
/// most accurate model first), each group sorted by accuracy and its best values marked within
/// the group only.
pub fn grouped_metrics_table(caption: &str, models: &[&ModelResult], set: ColumnSet) -> Table {
    let sets = test_sets(&sort_by_accuracy(models));
    let ordered: Vec<&ModelResult> = sets.iter().flat_map(|s| s.models.clone()).collect();
    let mut t = metrics_table(caption, &ordered, set);
    if sets.len() > 1 {
        t.groups = sets
            .iter()
            .enumerate()
            .flat_map(|(g, s)| std::iter::repeat_n(g, s.models.len()))
            .collect();
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
         classical models. *End to end* is the time from a video file to its class (decoding, \
         sampling, feature extraction or preprocessing, classifier or network), measured the same \
         way for every model: one video at a time with all cores, no cache, median over up to 10 \
         test videos after a warm-up video. *Classifier* times the classifier alone on \
         precomputed inputs (the notebook's column; for a deep model whose frozen trunk was \
         cached, the tail after it), per video, and is compared only within a family. Size is what it takes to classify a new video, in MiB: a \
         classical model's whole saved pipeline (imputer, scaler, PCA and classifier), a deep \
         model's checkpoint. Memory is each \
         model's own peak resident set size on the host: the process's peak is reset before the \
         model trains and read after it is evaluated (GPU memory is not read). *Params* counts \
         what the model stores (weights, support vectors, tree nodes or training samples, as \
         *params are* says, plus the preprocessor's medians, means, divisors and PCA axes for a \
         classical model); *trainable* counts the weights fine-tuned.\n\n\
         **How sure.** The *95 % CI* columns are stratified percentile bootstrap intervals (2,000 \
         resamples of the test videos, each class keeping its size; seed 42). Models are ranked \
         against each other only when they were evaluated on the same test videos (the same files \
         by content, with the same classes): the *test set* column names each set. Each pair on \
         the same test set is compared below by the exact McNemar test on the videos only one of \
         the two classifies right, and a paired bootstrap interval of their accuracy difference \
         (the same resamples for both). One is called more accurate only when that interval \
         excludes 0 and the McNemar test gives p < 0.05; otherwise the two are not \
         distinguishable on these videos.\n\n",
    );
    // Models evaluated the same way share one line.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for m in sort_by_accuracy(models) {
        let p = &m.protocol;
        let dash = |t: &str| {
            if t.is_empty() {
                "—".to_string()
            } else {
                t.to_string()
            }
        };
        let key = format!(
            "{} split, {} videos (test set #{}), {} per video; input {}",
            p.split,
            p.n_videos,
            test_set_id(m),
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
    for m in sort_by_accuracy(models) {
        match kinds.iter_mut().find(|(k, _)| *k == m.score_kind) {
            Some((_, names)) => names.push(&m.name),
            None => kinds.push((&m.score_kind, vec![&m.name])),
        }
    }
    for (kind, names) in kinds {
        let names: Vec<String> = names.iter().map(|n| format!("**{n}**")).collect();
        s.push_str(&format!("- {}: {kind}.\n", names.join(", ")));
    }
    s.push_str(&auc_coverage(models));
    s
}

/// Which classes each macro AUC averages over, when that is not all of them: a class without a
/// positive (or without a negative) test video has no one-vs-rest AUC, the macro mean runs over
/// the others, and scikit-learn's `roc_auc_score(multi_class="ovr")` would raise instead (the
/// notebook's own function would print `nan`). Empty when every model's AUC covers every class.
pub fn auc_coverage(models: &[&ModelResult]) -> String {
    let mut lines = Vec::new();
    for m in sort_by_accuracy(models) {
        let per_class = &m.metrics.per_class;
        let over: Vec<usize> = (0..per_class.len())
            .filter(|&c| per_class[c].auc.is_some())
            .collect();
        if over.len() == per_class.len() {
            continue;
        }
        let missing: Vec<String> = (0..per_class.len())
            .filter(|c| !over.contains(c))
            .map(|c| format!("{c} ({} test videos)", per_class[c].support))
            .collect();
        let over: Vec<String> = over.iter().map(|c| c.to_string()).collect();
        lines.push(format!(
            "- **{}**: macro AUC over classes {} only; class {} has no one-vs-rest AUC on this \
             test set, where scikit-learn's `roc_auc_score` would raise and the notebook would \
             print nan.\n",
            m.name,
            if over.is_empty() {
                "none".to_string()
            } else {
                over.join(", ")
            },
            missing.join(", ")
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "\nMacro AUC where not every class has one:\n\n{}",
        lines.concat()
    )
}

/// Export name of the paired comparisons (`pairs.csv`, `pairs.json` beside the page).
pub const PAIRS_EXPORT: &str = "pairs";

/// Every pair of models evaluated on the same test videos: how many videos only one of them
/// classifies right, the exact McNemar p-value, the accuracy difference with its paired 95 %
/// bootstrap interval, and what may be said. Pairs follow the comparison table's order (within
/// each test set, the more accurate model first); `None` when no two models share a test set.
pub fn paired_table(models: &[&ModelResult]) -> Option<Table> {
    let cmp = Comparisons::new(models);
    let mut t = Table::new(
        "Paired comparisons on the same test videos (exact McNemar test; paired bootstrap 95 % \
         interval of the accuracy difference A - B)",
        vec![
            Column::text("model A"),
            Column::text("model B"),
            Column::num("videos", 0),
            Column::num("only A right", 0),
            Column::num("only B right", 0),
            Column::num("McNemar p", 3),
            Column::num("accuracy A - B", 3),
            Column::text("95 % CI"),
            Column::text("on these videos"),
        ],
    );
    for set in test_sets(&sort_by_accuracy(models)) {
        for (i, a) in set.models.iter().enumerate() {
            for b in &set.models[i + 1..] {
                let Some(c) = cmp.get(&a.name, &b.name) else {
                    continue;
                };
                let verdict = if !c.differs() {
                    "not distinguishable".to_string()
                } else if c.diff > 0.0 {
                    "A more accurate".to_string()
                } else {
                    "B more accurate".to_string()
                };
                t.rows.push(vec![
                    Cell::Text(c.a.clone()),
                    Cell::Text(c.b.clone()),
                    Cell::from(c.n),
                    Cell::from(c.b_only),
                    Cell::from(c.c_only),
                    Cell::num(c.mcnemar_p),
                    Cell::num(c.diff),
                    Cell::Text(format!(
                        "{:.3}–{:.3}",
                        c.diff_interval.low, c.diff_interval.high
                    )),
                    Cell::Text(verdict),
                ]);
            }
        }
    }
    let resolved: Vec<String> = t
        .rows
        .iter()
        .filter_map(|r| match (&r[0], &r[1], &r[8]) {
            (Cell::Text(a), Cell::Text(b), Cell::Text(v)) if v != "not distinguishable" => {
                Some(if v.starts_with('A') {
                    format!("{a} > {b}")
                } else {
                    format!("{b} > {a}")
                })
            }
            _ => None,
        })
        .collect();
    if t.rows.len() > LONG_TABLE {
        t.summary = Some(match resolved.len() {
            0 => format!(
                "{} pairs; none distinguishable on these videos",
                t.rows.len()
            ),
            n if n <= 3 => format!(
                "{} pairs; distinguishable: {}",
                t.rows.len(),
                resolved.join("; ")
            ),
            n => format!(
                "{} pairs; {n} distinguishable, {} not",
                t.rows.len(),
                t.rows.len() - n
            ),
        });
    }
    (!t.rows.is_empty()).then_some(t)
}

/// Tables with more rows than this are shown collapsed, their headline in the summary.
pub const LONG_TABLE: usize = 12;

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
    let sorted = sort_by_accuracy(models);
    let names: Vec<String> = sorted.iter().map(|m| m.name.clone()).collect();
    let get = |f: &dyn Fn(&ModelResult) -> Option<f64>| -> Vec<f64> {
        sorted.iter().map(|m| f(m).unwrap_or(f64::NAN)).collect()
    };
    let charts = vec![
        bar(
            LATENCY_CHART,
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
                ("GPU peak", get(&|m| memory_of(m, crate::memory::GPU_PEAK))),
                (
                    crate::memory::HEAP_PEAK,
                    get(&|m| memory_of(m, crate::memory::HEAP_PEAK)),
                ),
                ("peak RSS", get(&|m| memory_of(m, crate::memory::PEAK_RSS))),
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

/// The name of class `i`, or `C<i>` when `names` has none for it.
pub fn class_name(names: &[String], i: usize) -> String {
    names.get(i).cloned().unwrap_or_else(|| format!("C{i}"))
}

/// The model's confusion matrix on its test split as a heatmap (rows true, columns predicted).
pub fn confusion_chart(m: &ModelResult, class_names: &[String]) -> Chart {
    let n = m.metrics.confusion.len();
    confusion_heatmap(
        format!("{} — confusion matrix ({})", m.name, m.protocol.split),
        (0..n).map(|i| class_name(class_names, i)).collect(),
        &m.metrics.confusion,
    )
}

/// Counts `counts[true][predicted]` as a heatmap chart, one row (series) per true class.
pub fn confusion_heatmap(title: String, class_names: Vec<String>, counts: &[Vec<usize>]) -> Chart {
    let series = counts
        .iter()
        .zip(&class_names)
        .map(|(row, name)| Series {
            name: name.clone(),
            values: row.iter().map(|&c| c as f64).collect(),
        })
        .collect();
    Chart {
        kind: ChartKind::Heatmap,
        title,
        x_label: "predicted".into(),
        y_label: "true".into(),
        categories: class_names,
        series,
        log_y: false,
    }
}

/// One-vs-rest ROC curves of a model, one line per class with its AUC in the legend, and the
/// chance diagonal, from [`ModelResult::roc_curves`] (computed with the other metrics); a class
/// without both positives and negatives has no curve.
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
    for c in m.roc_curves().iter().filter(|c| !c.fpr.is_empty()) {
        let name = match c.auc {
            Some(a) => format!("{} (AUC {a:.3})", class_name(class_names, c.class)),
            None => class_name(class_names, c.class),
        };
        p.add(name, c.fpr.clone(), c.tpr.clone());
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
