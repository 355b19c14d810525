//! The key findings block at the top of the page: the sentences of
//! [`crate::analysis::findings`], each linked to the table or section that backs it, and a table
//! of each family's best models.

use serde::{Deserialize, Serialize};

use super::compare::{COMPARISON_EXPORT, LATENCY_CHART, PAIRS_EXPORT, grouped_metrics_table};
use super::document::{Block, Report};
use super::result_tables::ColumnSet;
use super::table::{Cell, Table};
use crate::analysis::findings::{Backing, key_findings};
use crate::analysis::paired::test_sets;
use crate::results::{ModelKind, ModelResult, ResultsTable, sort_by_accuracy};

/// The key findings shown right after the title.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct KeyFindings {
    /// Three to six sentences, in order.
    pub sentences: Vec<Finding>,
    /// Each family's most accurate model (one per test set), with the headline columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
}

/// One key finding and where the page backs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    /// The sentence (Markdown).
    pub text: String,
    /// In-page link to what backs it (`#table-comparison`, `#efficiency`), if the page has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// The link's text (`comparison table`, `5. Efficiency`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
}

/// The HTML id of an exported table's figure: `table-{name}`.
pub fn table_anchor(export: &str) -> String {
    format!("table-{export}")
}

impl Report {
    /// Write the key findings of `results` (see [`key_findings`]) into the report, each linked to
    /// what backs it in this page: the comparison or paired-comparison table when the report
    /// exports them, the section holding the efficiency charts for costs (else the comparison
    /// table). No results: no key findings.
    pub fn set_key_findings(&mut self, results: &ResultsTable) {
        let found = key_findings(results);
        if found.is_empty() {
            self.key_findings = None;
            return;
        }
        let exported = |name: &str| {
            self.exports
                .iter()
                .any(|e| e.name == name)
                .then(|| format!("#{}", table_anchor(name)))
        };
        let comparison = exported(COMPARISON_EXPORT).map(|h| (h, "comparison table".to_string()));
        let pairs = exported(PAIRS_EXPORT).map(|h| (h, "paired comparisons".to_string()));
        let costs = self
            .sections
            .iter()
            .find(|s| {
                s.blocks
                    .iter()
                    .any(|b| matches!(b, Block::Chart(c) if c.title == LATENCY_CHART))
            })
            .map(|s| {
                let label = if s.title.is_empty() { &s.id } else { &s.title };
                (format!("#{}", s.id), label.clone())
            });
        let sentences = found
            .into_iter()
            .map(|f| {
                let link = match f.backing {
                    Backing::Comparison => comparison.clone(),
                    Backing::Pairs => pairs.clone().or_else(|| comparison.clone()),
                    Backing::Costs => costs.clone().or_else(|| comparison.clone()),
                };
                let (href, label) = link.map_or((None, String::new()), |(h, l)| (Some(h), l));
                Finding {
                    text: f.text,
                    href,
                    label,
                }
            })
            .collect();
        let models: Vec<&ModelResult> = results.models.iter().collect();
        let bests: Vec<&ModelResult> = [ModelKind::Classical, ModelKind::Deep]
            .into_iter()
            .flat_map(|k| {
                let family: Vec<&ModelResult> = sort_by_accuracy(&models)
                    .into_iter()
                    .filter(|m| m.kind == k)
                    .collect();
                test_sets(&family)
                    .into_iter()
                    .map(|s| s.models[0])
                    .collect::<Vec<_>>()
            })
            .collect();
        let table = grouped_metrics_table(
            "The most accurate model of each family (every model is in the unified comparison)",
            &bests,
            ColumnSet::Headline,
        );
        self.key_findings = Some(KeyFindings {
            sentences,
            table: Some(without_empty_columns(table)),
        });
    }
}

/// `t` without the columns no row has a value in (a CPU run has no GPU memory), so the headline
/// table stays narrow.
fn without_empty_columns(mut t: Table) -> Table {
    let keep: Vec<bool> = (0..t.columns.len())
        .map(|c| t.rows.iter().any(|r| !matches!(r[c], Cell::Missing)))
        .collect();
    let mut i = 0;
    t.columns.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    for row in &mut t.rows {
        let mut i = 0;
        row.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
    t
}
