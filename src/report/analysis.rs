//! Report pieces drawn from the rows `analysis` returns: permutation and PCA-component importance,
//! learning curves, t-SNE maps. `analysis` measures; this file alone turns its rows into tables,
//! charts and plots.

use super::chart::{Chart, Plot, PlotKind};
use super::compare::spans_orders;
use super::table::{Cell, Column, Table};
use crate::analysis::importance::{PermutationImportance, top_components};
use crate::analysis::learning::{LearningPoint, LearningRow, summarize};
use crate::analysis::tsne::TsneView;

/// A bar chart of the mean decrease per group (largest first, at most `top`); the spread over
/// repeats is in [`importance_table`].
pub fn importance_chart(imp: &PermutationImportance, title: &str, top: usize) -> Chart {
    let mut order = imp.ranked();
    order.truncate(top.max(1));
    let mut c = Chart::bar(
        title,
        "",
        "mean accuracy decrease",
        order.iter().map(|g| g.name.clone()).collect(),
    );
    c.add_series("mean decrease", order.iter().map(|g| g.mean).collect());
    c
}

/// A table of every group: columns, mean and standard deviation of the accuracy decrease,
/// sorted by mean decrease.
pub fn importance_table(imp: &PermutationImportance, caption: &str) -> Table {
    let mut t = Table::new(
        caption,
        vec![
            Column::text("features"),
            Column::num("columns", 0),
            Column::higher("mean accuracy decrease", 3),
            Column::num("std", 3),
        ],
    );
    for g in imp.ranked() {
        t.rows.push(vec![
            Cell::Text(g.name.clone()),
            Cell::from(g.n_columns),
            Cell::num(g.mean),
            Cell::num(g.std),
        ]);
    }
    if t.rows.len() > super::compare::LONG_TABLE {
        t.summary = imp.ranked().first().map(|g| {
            format!(
                "{} rows; most important: {} (accuracy drops by {:.3})",
                t.rows.len(),
                g.name,
                g.mean
            )
        });
    }
    t
}

/// A bar chart of a random forest's mean-decrease-in-impurity importance of its input columns (PCA
/// components, as the notebook plots), the `top` largest, labelled `PC1`, `PC2`, ...
pub fn component_importance_chart(title: &str, importances: &[f64], top: usize) -> Chart {
    component_chart(title, &top_components(importances, top))
}

/// A bar chart of `(component, importance)` pairs in the order given, labelled `PC1`, `PC2`, ...
pub fn component_chart(title: &str, components: &[(usize, f64)]) -> Chart {
    let mut c = Chart::bar(
        title,
        "PCA component",
        "MDI importance",
        components
            .iter()
            .map(|(i, _)| format!("PC{}", i + 1))
            .collect(),
    );
    c.add_series("importance", components.iter().map(|(_, v)| *v).collect());
    c
}

/// The learning-curve plots: accuracy and macro F1 against the number of training videos, and
/// training time (log scale when it spans more than two orders of magnitude), one line per model
/// with a band of ± one standard deviation over seeds where there are several.
pub fn learning_curve_plots(rows: &[LearningRow]) -> Vec<Plot> {
    let points = summarize(rows);
    let mut models: Vec<&str> = Vec::new();
    for p in &points {
        if !models.contains(&p.model.as_str()) {
            models.push(&p.model);
        }
    }
    let seeds = points.iter().map(|p| p.n_seeds).max().unwrap_or(1);
    let band_note = if seeds > 1 {
        format!(" Lines are means over {seeds} seeds; bands show ± one standard deviation.")
    } else {
        String::new()
    };
    let make = |title: &str, y_label: &str, get: fn(&LearningPoint) -> (f64, f64)| {
        let mut plot = Plot::new(PlotKind::Line, title, "training videos", y_label);
        for m in &models {
            let mine: Vec<&LearningPoint> = points.iter().filter(|p| p.model == *m).collect();
            let s = plot.add(
                *m,
                mine.iter().map(|p| p.n_train).collect(),
                mine.iter().map(|p| get(p).0).collect(),
            );
            if mine.iter().any(|p| p.n_seeds > 1) {
                s.lo = mine.iter().map(|p| get(p).0 - get(p).1).collect();
                s.hi = mine.iter().map(|p| get(p).0 + get(p).1).collect();
            }
        }
        plot
    };
    let mut acc = make("Learning curve: accuracy", "test accuracy", |p| p.accuracy);
    acc.y_range = Some([0.0, 1.05]);
    acc.caption = format!("Test accuracy against the number of training videos.{band_note}");
    let mut f1 = make("Learning curve: macro F1", "test macro F1", |p| p.f1);
    f1.y_range = Some([0.0, 1.05]);
    f1.caption = format!("Test macro F1 against the number of training videos.{band_note}");
    let mut time = make("Training time", "training time (s)", |p| p.train_time_s);
    let times: Vec<f64> = points.iter().map(|p| p.train_time_s.0).collect();
    time.log_y = spans_orders(&times);
    time.caption = format!(
        "Training time against the number of training videos{}.",
        if time.log_y {
            " (log scale: the times span more than two orders of magnitude)"
        } else {
            ""
        }
    );
    vec![acc, f1, time]
}

/// Learning-curve points as a table: mean and spread over seeds per model and fraction.
pub fn learning_table(rows: &[LearningRow]) -> Table {
    let mut t = Table::new(
        "Learning curves (test split; mean ± std over seeds)",
        vec![
            Column::text("model"),
            Column::num("fraction", 2),
            Column::num("training videos", 1),
            Column::num("seeds", 0),
            Column::higher("accuracy", 3),
            Column::num("accuracy std", 3),
            Column::higher("macro F1", 3),
            Column::num("F1 std", 3),
            Column::lower("train (s)", 4),
        ],
    );
    for p in summarize(rows) {
        t.rows.push(vec![
            Cell::Text(p.model.clone()),
            Cell::num(p.fraction),
            Cell::num(p.n_train),
            Cell::from(p.n_seeds),
            Cell::num(p.accuracy.0),
            Cell::num(p.accuracy.1),
            Cell::num(p.f1.0),
            Cell::num(p.f1.1),
            Cell::num(p.train_time_s.0),
        ]);
    }
    t
}

/// A t-SNE (or PCA) map as a scatter plot, one series per class, captioned with how well the
/// classes separate.
pub fn tsne_plot(view: &TsneView) -> Plot {
    let mut plot = Plot::scatter(
        view.title.clone(),
        view.axes[0].clone(),
        view.axes[1].clone(),
    );
    for c in &view.classes {
        let s = plot.add(c.name.clone(), c.x.clone(), c.y.clone());
        s.labels = c.labels.clone();
    }
    plot.caption = view.caption.clone();
    plot
}
