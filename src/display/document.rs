//! Report sections and whole reports in evcxr: HTML from the page's own block partials, and an
//! outline as text.

use std::fmt::{self, Write as _};

use super::protocol::{EvcxrDisplay, MimeBundle};
use super::text::table_text;
use crate::report::render::block_html;
use crate::report::{Block, Report, Section, escape_html};

fn block_text(b: &Block) -> String {
    match b {
        Block::Markdown { text } => text.trim().to_string(),
        Block::Table(t) => table_text(t),
        Block::Chart(c) => c.to_string(),
        Block::Plot(p) => p.to_string(),
        Block::Images { caption, items } => format!("[{} images: {caption}]", items.len()),
    }
}

/// A report section as an HTML fragment: heading and blocks, each from the page's block partial
/// (charts and plots as inline SVG, tables styled inline).
pub fn section_html(s: &Section) -> String {
    let mut h = format!(
        "<section id=\"{}\"><h3>{}</h3>\n",
        escape_html(&s.id),
        escape_html(&s.title)
    );
    for b in &s.blocks {
        match block_html(b) {
            Ok(html) => h.push_str(&html),
            Err(e) => {
                let _ = write!(h, "<p>{}</p>", escape_html(&e.to_string()));
            }
        }
        h.push('\n');
    }
    h.push_str("</section>");
    h
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "## {} (#{})", self.title, self.id)?;
        for b in &self.blocks {
            write!(f, "\n\n{}", block_text(b))?;
        }
        Ok(())
    }
}

impl EvcxrDisplay for Section {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.to_string()).with("text/html", section_html(self))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Report \"{}\": {} section{}",
            self.title,
            self.sections.len(),
            if self.sections.len() == 1 { "" } else { "s" }
        )?;
        for s in &self.sections {
            write!(f, "\n  #{}  {} ({} blocks)", s.id, s.title, s.blocks.len())?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning: {w}")?;
        }
        Ok(())
    }
}

impl EvcxrDisplay for Report {
    fn mime_bundle(&self) -> MimeBundle {
        let mut h = format!("<h2>{}</h2>\n", escape_html(&self.title));
        if !self.warnings.is_empty() {
            h.push_str("<ul>");
            for w in &self.warnings {
                let _ = write!(h, "<li>{}</li>", escape_html(w));
            }
            h.push_str("</ul>\n");
        }
        for s in &self.sections {
            h.push_str(&section_html(s));
            h.push('\n');
        }
        MimeBundle::text(self.to_string()).with("text/html", h)
    }
}
