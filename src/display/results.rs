//! Results in evcxr: the metrics table of a run, one model's metrics and per-class scores, and
//! report tables, as text and as HTML from the report's table partial.

use std::fmt;

use super::protocol::{EvcxrDisplay, MimeBundle};
use super::text::table_text;
use crate::report::result_tables::{
    ColumnSet, metrics_table as build_metrics_table, per_class_table,
};
use crate::report::{Chart, Table, table_html};
use crate::results::{ModelResult, ResultsTable};

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&table_text(self))
    }
}

impl EvcxrDisplay for Table {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", table_html(self))
    }
}

/// Every model of `results` in insertion order with the compact metrics columns (see
/// [`ColumnSet::Compact`]): accuracy, macro precision / recall / F1, macro AUC (higher is
/// better), training time, inference time per video and model size (lower is better),
/// parameters and test videos.
pub fn metrics_table(results: &ResultsTable) -> Table {
    let models: Vec<&ModelResult> = results.models.iter().collect();
    build_metrics_table("Test-set metrics", &models, ColumnSet::Compact)
}

/// A grouped bar chart of accuracy, macro precision, recall and F1 per model.
pub fn metrics_chart(results: &ResultsTable) -> Chart {
    let mut c = Chart::bar(
        "Test-set metrics per model",
        "model",
        "score",
        results.models.iter().map(|m| m.name.clone()).collect(),
    );
    type Get = fn(&ModelResult) -> f64;
    let metrics: [(&str, Get); 4] = [
        ("accuracy", |m| m.metrics.accuracy),
        ("precision", |m| m.metrics.precision),
        ("recall", |m| m.metrics.recall),
        ("F1", |m| m.metrics.f1),
    ];
    for (name, get) in metrics {
        c.add_series(name, results.models.iter().map(get).collect());
    }
    c
}

impl fmt::Display for ResultsTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.models.is_empty() {
            return f.write_str("ResultsTable: no models yet (add one with `results.push(model)`)");
        }
        f.write_str(&table_text(&metrics_table(self)))
    }
}

impl EvcxrDisplay for ResultsTable {
    fn mime_bundle(&self) -> MimeBundle {
        let b = MimeBundle::text(self.to_string());
        if self.models.is_empty() {
            return b;
        }
        b.with("text/html", table_html(&metrics_table(self)))
    }
}

impl fmt::Display for ModelResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metrics;
        write!(
            f,
            "{}: accuracy {:.3}, precision {:.3}, recall {:.3}, F1 {:.3}, macro AUC {}",
            self.name,
            m.accuracy,
            m.precision,
            m.recall,
            m.f1,
            m.macro_auc.map_or("—".to_string(), |a| format!("{a:.3}"))
        )?;
        write!(
            f,
            "\n  {} test videos, trained in {:.2} s, {:.3} ms per video (classifier only)",
            self.protocol.n_videos,
            self.efficiency.train_time_s,
            self.efficiency.infer_time_s_per_video * 1e3
        )?;
        if let Some(best) = &self.details.classical.best_params {
            write!(
                f,
                "\n  best parameters: {}",
                serde_json::Value::Object(best.clone())
            )?;
        }
        write!(f, "\n{}", table_text(&per_class_table(self, &[])))
    }
}

impl EvcxrDisplay for ModelResult {
    fn mime_bundle(&self) -> MimeBundle {
        let html = format!(
            "{}\n{}",
            table_html(&build_metrics_table(
                &self.name,
                &[self],
                ColumnSet::Compact
            )),
            table_html(&per_class_table(self, &[]))
        );
        MimeBundle::text(self.to_string()).with("text/html", html)
    }
}
