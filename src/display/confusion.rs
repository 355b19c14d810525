//! A model's confusion matrix: a grid of counts as text, a table shaded by row share as HTML, and
//! the report's heatmap.

use std::fmt::{self, Write as _};

use super::protocol::{EvcxrDisplay, MimeBundle};
use super::text::aligned;
use crate::report::compare::{class_name, confusion_heatmap};
use crate::report::{Chart, escape_html, render_svg};
use crate::results::ModelResult;

/// A model's confusion matrix on the test split with the class names: `counts[true][predicted]`.
///
/// Shows as an HTML table shaded by each row's share (and the SVG heatmap) in Jupyter, as a grid
/// of counts in the REPL; [`ConfusionMatrix::chart`] is the heatmap for a report section.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    /// The model's name.
    pub model: String,
    /// One name per class, in label order.
    pub class_names: Vec<String>,
    /// `counts[true][predicted]`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// The confusion matrix of `result`, its classes named by `class_names` (missing names become
    /// `C<i>`).
    pub fn of(result: &ModelResult, class_names: &[String]) -> ConfusionMatrix {
        let counts = result.metrics.confusion.clone();
        ConfusionMatrix {
            model: result.name.clone(),
            class_names: (0..counts.len())
                .map(|i| class_name(class_names, i))
                .collect(),
            counts,
        }
    }

    /// Fraction of the samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..self.counts.len())
            .map(|i| self.counts[i].get(i).copied().unwrap_or(0))
            .sum();
        if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        }
    }

    /// The matrix as a heatmap chart (rows: true class, columns: predicted), as the report draws
    /// confusion matrices.
    pub fn chart(&self) -> Chart {
        confusion_heatmap(
            format!("{} — confusion matrix (test)", self.model),
            self.class_names.clone(),
            &self.counts,
        )
    }

    fn html(&self) -> String {
        let mut h = format!(
            "<table class=\"vidcompare\" style=\"border-collapse:collapse;font-size:0.9em\">\n\
             <caption style=\"caption-side:top;text-align:left;font-weight:bold;padding:4px 0\">{} — confusion matrix (rows: true, columns: predicted)</caption>\n<thead><tr><th></th>",
            escape_html(&self.model)
        );
        for name in &self.class_names {
            let _ = write!(
                h,
                "<th style=\"padding:3px 8px\">{}</th>",
                escape_html(name)
            );
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for (i, row) in self.counts.iter().enumerate() {
            let total: usize = row.iter().sum();
            let _ = write!(
                h,
                "<tr><th style=\"padding:3px 8px;text-align:left\">{}</th>",
                escape_html(&self.class_names[i])
            );
            for (j, &c) in row.iter().enumerate() {
                let share = if total == 0 {
                    0.0
                } else {
                    c as f64 / total as f64
                };
                let (r, g, b) = if i == j { (0, 114, 178) } else { (213, 94, 0) };
                let _ = write!(
                    h,
                    "<td style=\"padding:3px 8px;text-align:right;background:rgba({r},{g},{b},{:.2})\">{c}</td>",
                    0.08 + 0.6 * share
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>");
        h
    }
}

/// The confusion matrix of `result` with its classes named (see [`ConfusionMatrix::of`]).
pub fn confusion(result: &ModelResult, class_names: &[String]) -> ConfusionMatrix {
    ConfusionMatrix::of(result, class_names)
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: confusion matrix (rows: true class, columns: predicted), accuracy {:.3}",
            self.model,
            self.accuracy()
        )?;
        let mut header = vec!["true \\ predicted".to_string()];
        header.extend(self.class_names.iter().cloned());
        let body: Vec<Vec<String>> = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut r = vec![self.class_names[i].clone()];
                r.extend(row.iter().map(usize::to_string));
                r
            })
            .collect();
        let mut numeric = vec![true; header.len()];
        numeric[0] = false;
        f.write_str(&aligned(&header, &body, &numeric))
    }
}

impl EvcxrDisplay for ConfusionMatrix {
    fn mime_bundle(&self) -> MimeBundle {
        let b = MimeBundle::text(self.to_string()).with("text/html", self.html());
        match render_svg(&self.chart()) {
            Ok(svg) => b.with("image/svg+xml", svg),
            Err(_) => b,
        }
    }
}
