//! The report document: a title, run metadata, sections of blocks (Markdown, tables, charts,
//! plots, images), saved as `results.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::chart::{Chart, PLOT_FENCE, Plot};
use super::findings::KeyFindings;
use super::image::ImageItem;
use super::meta::RunMeta;
use super::table::Table;
use crate::error::{Error, IoContext, Result};
use crate::util::fs::write_atomic;

/// The `schema_version` written at the top of `results.json`; bump it when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole report: a title, how the run was made, the script's sections in order, and warnings.
///
/// Saved as `results.json` (see [`Report::save_json`]) and rendered to one HTML file (see
/// [`Report::render_html`]); charts are drawn at render time from the data kept here, so rendering
/// saved results reproduces the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Page title and `<h1>`.
    pub title: String,
    /// The headline of the run, shown right after the title: generated sentences linked to what
    /// backs them, and each family's best models (see [`Report::set_key_findings`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_findings: Option<KeyFindings>,
    /// Provenance of the run (date, version, commit, machine, config).
    #[serde(default)]
    pub meta: RunMeta,
    /// Sections in the order the script first opened them.
    #[serde(default)]
    pub sections: Vec<Section>,
    /// Things the reader should know (skipped videos, fallbacks); shown in a box at the top.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Tables that [`Report::write`] also saves beside the page as CSV and JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<TableExport>,
}

/// A table saved beside the page as `{name}.csv` and `{name}.json` (full-precision numbers), and
/// linked from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableExport {
    /// File stem: `a-z`, `0-9`, `-`, `_` (see [`is_valid_export_name`]).
    pub name: String,
    /// Id of the section holding the table.
    pub section: String,
    /// Index of the table among the section's blocks.
    pub block: usize,
}

/// One section of the page: `<section id="{id}">` with a heading and its blocks in order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Section {
    /// HTML id, `[a-z0-9-]+`; the table of contents links to `#id`.
    pub id: String,
    /// Heading shown on the page and in the table of contents.
    pub title: String,
    /// Content, in the order it was added.
    #[serde(default)]
    pub blocks: Vec<Block>,
}

/// One piece of section content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// CommonMark prose (tables and strikethrough on); raw HTML in it is shown as text.
    Markdown {
        /// The Markdown source.
        text: String,
    },
    /// A table of numbers and text with direction-aware highlighting of the best values.
    Table(Table),
    /// A bar or line chart, drawn as inline SVG at render time.
    Chart(Chart),
    /// A plot over numeric axes (scatter, lines with bands), drawn as inline SVG at render time.
    Plot(Plot),
    /// A captioned grid of images embedded as `data:` URIs.
    Images {
        /// Caption of the whole grid.
        caption: String,
        /// The images, in order.
        items: Vec<ImageItem>,
    },
}

/// Whether `name` can name an exported table's files: non-empty, only `a-z`, `0-9`, `-`, `_`, and
/// not `results` or `index` (the report's own files).
pub fn is_valid_export_name(name: &str) -> bool {
    !name.is_empty()
        && !matches!(name, "results" | "index" | "models")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `id` can be a section id: non-empty, only `a-z`, `0-9` and `-`.
pub fn is_valid_section_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>, meta: RunMeta) -> Report {
        Report {
            title: title.into(),
            key_findings: None,
            meta,
            sections: Vec::new(),
            warnings: Vec::new(),
            exports: Vec::new(),
        }
    }

    /// Append `table` to section `section_id` (which must exist) and export it as `name`.csv and
    /// `name`.json beside the page.
    ///
    /// ```
    /// use vidcompare::report::{Column, Report, RunMeta, Table};
    /// let mut r = Report::new("t", RunMeta::default());
    /// r.section("comparison", "Comparison").unwrap();
    /// r.add_exported_table("comparison", Table::new("all", vec![Column::text("model")]), "comparison").unwrap();
    /// assert_eq!(r.exported_tables().count(), 1);
    /// ```
    pub fn add_exported_table(&mut self, section_id: &str, table: Table, name: &str) -> Result<()> {
        if !is_valid_export_name(name) {
            return Err(Error::Report(format!(
                "export name `{name}` must use only a-z, 0-9, '-' and '_' (and not results, index or models)"
            )));
        }
        if self.exports.iter().any(|e| e.name == name) {
            return Err(Error::Report(format!(
                "a table is already exported as `{name}`"
            )));
        }
        let section = self
            .sections
            .iter_mut()
            .find(|s| s.id == section_id)
            .ok_or_else(|| Error::Report(format!("no section `{section_id}`")))?;
        section.table(table);
        let block = section.blocks.len() - 1;
        self.exports.push(TableExport {
            name: name.to_string(),
            section: section_id.to_string(),
            block,
        });
        Ok(())
    }

    /// The exported tables with their export names, in the order they were exported.
    pub fn exported_tables(&self) -> impl Iterator<Item = (&str, &Table)> {
        self.exports.iter().filter_map(|e| {
            let s = self.sections.iter().find(|s| s.id == e.section)?;
            match s.blocks.get(e.block) {
                Some(Block::Table(t)) => Some((e.name.as_str(), t)),
                _ => None,
            }
        })
    }

    /// The section with this id, created at the end if new (so sections keep the script's order).
    ///
    /// An existing section keeps its first title; pass `""` to look one up. Ids must match
    /// `[a-z0-9-]+` because they become HTML ids and URL fragments.
    ///
    /// ```
    /// use vidcompare::report::{Report, RunMeta};
    /// let mut r = Report::new("demo", RunMeta::default());
    /// r.section("results", "Results").unwrap().markdown("**done**");
    /// r.section("results", "").unwrap().markdown("more");
    /// assert_eq!(r.sections.len(), 1);
    /// assert!(r.section("Bad Id", "x").is_err());
    /// ```
    pub fn section(&mut self, id: &str, title: &str) -> Result<&mut Section> {
        if !is_valid_section_id(id) {
            return Err(Error::Report(format!(
                "section id `{id}` must be non-empty and use only a-z, 0-9 and '-'"
            )));
        }
        let index = match self.sections.iter().position(|s| s.id == id) {
            Some(i) => {
                if self.sections[i].title.is_empty() {
                    self.sections[i].title = title.to_string();
                }
                i
            }
            None => {
                self.sections.push(Section {
                    id: id.to_string(),
                    title: title.to_string(),
                    blocks: Vec::new(),
                });
                self.sections.len() - 1
            }
        };
        Ok(&mut self.sections[index])
    }

    /// The JSON text of `results.json`: `{"schema_version": 1, "title": ..., ...}`.
    pub fn to_json(&self) -> Result<String> {
        #[derive(Serialize)]
        struct File<'a> {
            schema_version: u32,
            #[serde(flatten)]
            report: &'a Report,
        }
        serde_json::to_string_pretty(&File {
            schema_version: SCHEMA_VERSION,
            report: self,
        })
        .map_err(|e| Error::Report(format!("cannot serialise the report: {e}")))
    }

    /// Parse the text of a `results.json`; `origin` names it in errors (a path, or `<string>`).
    pub fn from_json(text: &str, origin: &str) -> Result<Report> {
        // Parsing Report directly (it ignores unknown keys) keeps serde_json's exact line and
        // column for type errors; a flattened wrapper would buffer and report the object's end.
        let mut report: Report = serde_json::from_str(text).map_err(|e| {
            Error::Report(format!(
                "{origin}:{}:{}: not a vidcompare results file: {e}",
                e.line(),
                e.column()
            ))
        })?;
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<u64>,
        }
        let version: Version = serde_json::from_str(text)
            .map_err(|e| Error::Report(format!("{origin}:{}:{}: {e}", e.line(), e.column())))?;
        match version.schema_version {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {
                report.lift_legacy_plots();
                Ok(report)
            }
            Some(v) => Err(Error::Report(format!(
                "{origin}: schema_version {v} is not supported (this vidcompare reads {SCHEMA_VERSION})"
            ))),
            None => Err(Error::Report(format!(
                "{origin}: no `schema_version`; not a vidcompare results file"
            ))),
        }
    }

    /// Files written before plots were blocks of their own kept each plot as a Markdown block
    /// holding a [`PLOT_FENCE`] code block; make those plot blocks again (a fence that does not
    /// hold a valid plot stays Markdown and renders as a note).
    fn lift_legacy_plots(&mut self) {
        for b in self.sections.iter_mut().flat_map(|s| s.blocks.iter_mut()) {
            if matches!(b, Block::Markdown { text } if text.contains(PLOT_FENCE))
                && let Some(p) = Plot::from_block(b)
            {
                *b = Block::Plot(p);
            }
        }
    }

    /// Write `results.json` atomically (temporary file in the same folder, then rename), so a crash
    /// never leaves a half-written file where a good one was.
    pub fn save_json(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_json()?.as_bytes())
    }

    /// Read a file written by [`Report::save_json`]; errors name the path, and line and column for
    /// malformed JSON.
    pub fn load_json(path: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(path).at(path)?;
        Report::from_json(&text, &path.display().to_string())
    }

    /// Check what the type system cannot: ids, row widths, chart series lengths.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.sections {
            if !is_valid_section_id(&s.id) {
                return Err(Error::Report(format!(
                    "section id `{}` must be non-empty and use only a-z, 0-9 and '-'",
                    s.id
                )));
            }
            if !seen.insert(s.id.as_str()) {
                return Err(Error::Report(format!(
                    "section id `{}` appears twice",
                    s.id
                )));
            }
            for b in &s.blocks {
                match b {
                    Block::Table(t) => t.validate().map_err(|e| in_section(&s.id, e))?,
                    Block::Chart(c) => c.validate().map_err(|e| in_section(&s.id, e))?,
                    Block::Plot(p) => p.validate().map_err(|e| in_section(&s.id, e))?,
                    Block::Markdown { .. } | Block::Images { .. } => {}
                }
            }
        }
        if let Some(t) = self.key_findings.as_ref().and_then(|k| k.table.as_ref()) {
            t.validate().map_err(|e| in_section("key findings", e))?;
        }
        let mut names = std::collections::HashSet::new();
        for e in &self.exports {
            if !is_valid_export_name(&e.name) || !names.insert(e.name.as_str()) {
                return Err(Error::Report(format!(
                    "export name `{}` is invalid or used twice",
                    e.name
                )));
            }
            let block = self
                .sections
                .iter()
                .find(|s| s.id == e.section)
                .and_then(|s| s.blocks.get(e.block));
            if !matches!(block, Some(Block::Table(_))) {
                return Err(Error::Report(format!(
                    "export `{}` names block {} of section `{}`, which is not a table",
                    e.name, e.block, e.section
                )));
            }
        }
        Ok(())
    }
}

fn in_section(id: &str, e: Error) -> Error {
    match e {
        Error::Report(m) => Error::Report(format!("section `{id}`: {m}")),
        other => other,
    }
}

impl Section {
    /// Append Markdown prose.
    pub fn markdown(&mut self, md: &str) -> &mut Self {
        self.blocks.push(Block::Markdown {
            text: md.to_string(),
        });
        self
    }

    /// Append a table.
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.blocks.push(Block::Table(t));
        self
    }

    /// Append a chart.
    pub fn chart(&mut self, c: Chart) -> &mut Self {
        self.blocks.push(Block::Chart(c));
        self
    }

    /// Append a numeric [`Plot`], checked first (see [`Plot::validate`]).
    pub fn plot(&mut self, p: &Plot) -> Result<&mut Self> {
        p.validate()?;
        self.blocks.push(Block::Plot(p.clone()));
        Ok(self)
    }

    /// Append a captioned image grid.
    pub fn images(&mut self, caption: &str, items: Vec<ImageItem>) -> &mut Self {
        self.blocks.push(Block::Images {
            caption: caption.to_string(),
            items,
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_ids_are_validated_and_order_kept() {
        let mut r = Report::new("t", RunMeta::default());
        r.section("b", "B").unwrap();
        r.section("a-1", "A").unwrap();
        r.section("b", "other").unwrap().markdown("x");
        let ids: Vec<_> = r
            .sections
            .iter()
            .map(|s| (s.id.as_str(), s.title.as_str()))
            .collect();
        assert_eq!(ids, vec![("b", "B"), ("a-1", "A")]);
        assert_eq!(r.sections[0].blocks.len(), 1);
        for bad in ["", "A", "a b", "a_b", "<x>", "é"] {
            assert!(
                matches!(r.section(bad, "x"), Err(Error::Report(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn schema_version_is_required_and_checked() {
        let r = Report::new("t", RunMeta::default());
        let json = r.to_json().unwrap();
        assert!(json.contains("\"schema_version\": 1"));
        assert_eq!(Report::from_json(&json, "x.json").unwrap(), r);
        let newer = json.replace("\"schema_version\": 1", "\"schema_version\": 2");
        let err = Report::from_json(&newer, "x.json").unwrap_err().to_string();
        assert!(
            err.contains("x.json") && err.contains("schema_version 2"),
            "{err}"
        );
        let none = json.replace("\"schema_version\": 1,", "");
        assert!(Report::from_json(&none, "x.json").is_err());
    }

    /// A `results.json` written when plots were Markdown fences loads with plot blocks; a fence
    /// that holds no valid plot stays Markdown.
    #[test]
    fn fenced_plots_of_old_files_become_plot_blocks() {
        let mut p = Plot::lines("Learning curve", "training videos", "accuracy");
        p.add("Classical-RF", vec![3.0, 9.0], vec![0.4, 0.7]);
        let fence = format!(
            "```{PLOT_FENCE}\n{}\n```\n",
            serde_json::to_string(&p).unwrap()
        );
        let broken = format!("```{PLOT_FENCE}\n{{\"kind\": \"pie\"}}\n```\n");
        let mut r = Report::new("t", RunMeta::default());
        r.section("lc", "LC")
            .unwrap()
            .markdown(&fence)
            .markdown(&broken);
        let back = Report::from_json(&r.to_json().unwrap(), "old.json").unwrap();
        assert_eq!(back.sections[0].blocks[0], Block::Plot(p));
        assert!(matches!(&back.sections[0].blocks[1], Block::Markdown { text } if *text == broken));
    }
}
