//! Rendering a [`Report`] to one self-contained HTML file with minijinja templates.
//!
//! Rust prepares a view of the report that templates can print directly (Markdown already turned
//! into safe HTML, charts into SVG, table cells formatted and marked best), and the templates
//! decide the page. Templates come from a folder when one is given, so editing them needs no
//! rebuild, else from copies compiled into the binary.

use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use super::chart::{ChartKind, PLOT_FENCE, Plot};
use super::document::{Block, Report};
use super::image::ImageItem;
use super::svg::{render_plot_svg, render_svg, series_color_hex};
use super::table::{Better, Cell, Table, format_general};
use crate::error::{Error, IoContext, Result};
use crate::util::fs::write_atomic;

/// The page template every render starts from.
pub const MAIN_TEMPLATE: &str = "report.html.j2";

/// Templates compiled into the binary, by the names templates use to include each other.
pub const EMBEDDED_TEMPLATES: &[(&str, &str)] = &[
    (
        MAIN_TEMPLATE,
        include_str!("../../templates/report.html.j2"),
    ),
    (
        "partials/style.css.j2",
        include_str!("../../templates/partials/style.css.j2"),
    ),
    (
        "partials/meta.html.j2",
        include_str!("../../templates/partials/meta.html.j2"),
    ),
    (
        "partials/block.html.j2",
        include_str!("../../templates/partials/block.html.j2"),
    ),
    (
        "partials/table.html.j2",
        include_str!("../../templates/partials/table.html.j2"),
    ),
    (
        "partials/chart.html.j2",
        include_str!("../../templates/partials/chart.html.j2"),
    ),
    (
        "partials/images.html.j2",
        include_str!("../../templates/partials/images.html.j2"),
    ),
    (
        "partials/sort.js.j2",
        include_str!("../../templates/partials/sort.js.j2"),
    ),
];

/// Image types a report may embed; anything else would not display, or could carry script.
const IMAGE_MIMES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

impl Report {
    /// Render the report to one HTML page with no external resources.
    ///
    /// Templates are read from `templates_dir` when it is given and exists (a template missing
    /// there falls back to the embedded copy, so a folder may override only `report.html.j2`).
    ///
    /// ```
    /// use vidcompare::report::{Report, RunMeta};
    /// let mut r = Report::new("Demo", RunMeta::default());
    /// r.section("intro", "Introduction").unwrap().markdown("Hello **world**");
    /// let html = r.render_html(None).unwrap();
    /// assert!(html.contains(r#"<section id="intro""#) && html.contains("<strong>world</strong>"));
    /// ```
    pub fn render_html(&self, templates_dir: Option<&Path>) -> Result<String> {
        self.validate()?;
        let view = PageView::new(self)?;
        let dir = templates_dir.filter(|d| d.is_dir()).map(Path::to_path_buf);
        let env = environment(dir.clone());
        let where_ = match &dir {
            Some(d) => format!(" (templates from {})", d.display()),
            None => String::new(),
        };
        let template = env
            .get_template(MAIN_TEMPLATE)
            .map_err(|e| template_error(e, &where_))?;
        template
            .render(minijinja::Value::from(minijinja::value::Serde(&view)))
            .map_err(|e| template_error(e, &where_))
    }

    /// Write `results.json`, `index.html` and the CSV and JSON files of every exported table (see
    /// [`Report::add_exported_table`]) into `out_dir` (created if needed), each atomically, and return the path
    /// of `index.html`.
    ///
    /// The JSON is written first, so a template error still leaves the run's results on disk.
    pub fn write(&self, out_dir: &Path, templates_dir: Option<&Path>) -> Result<PathBuf> {
        std::fs::create_dir_all(out_dir).at(out_dir)?;
        let json = out_dir.join("results.json");
        self.save_json(&json)?;
        let html = self.render_html(templates_dir).map_err(|e| match e {
            Error::Report(m) => Error::Report(format!("{m} ({} was saved)", json.display())),
            other => other,
        })?;
        for (name, table) in self.exported_tables() {
            write_atomic(
                &out_dir.join(format!("{name}.csv")),
                table.to_csv().as_bytes(),
            )?;
            write_atomic(
                &out_dir.join(format!("{name}.json")),
                table.to_export_json()?.as_bytes(),
            )?;
        }
        let index = out_dir.join("index.html");
        write_atomic(&index, html.as_bytes())?;
        Ok(index)
    }
}

fn template_error(e: minijinja::Error, where_: &str) -> Error {
    // minijinja's message already names the template and line: "syntax error: ... (in x.j2:2)".
    Error::Report(format!("template {e}{where_}"))
}

/// A minijinja environment that loads templates from `dir` first, then from the embedded copies.
fn environment(dir: Option<PathBuf>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_loader(move |name| {
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(minijinja::Error::new(
                ErrorKind::TemplateNotFound,
                format!("template name `{name}` must be a relative path inside the folder"),
            ));
        }
        if let Some(dir) = &dir {
            let path = dir.join(name);
            if path.is_file() {
                return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!("cannot read {}: {e}", path.display()),
                    )
                });
            }
        }
        Ok(EMBEDDED_TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, src)| src.to_string()))
    });
    env.add_filter("duration", |s: f64| format_duration(s));
    env
}

/// `3725.4` -> `1 h 02 min 05 s`; under a minute with one decimal.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "—".to_string();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

/// Render CommonMark (with tables and strikethrough) to HTML that is safe to embed.
///
/// Script prose is untrusted: raw HTML is shown as text, links to other sites become plain text
/// with the address in brackets (the page loads and links nothing outside itself), links with
/// other schemes (`javascript:`) lose their target, and images other than embedded PNG, JPEG,
/// GIF or WebP become their alt text. Headings move down two levels so `#` sits under the
/// section's `<h2>`.
///
/// ```
/// let html = vidcompare::report::markdown_to_html("**hi** <script>alert(1)</script>");
/// assert_eq!(html, "<p><strong>hi</strong> &lt;script&gt;alert(1)&lt;/script&gt;</p>\n");
/// ```
pub fn markdown_to_html(md: &str) -> String {
    enum Wrap {
        Keep,
        /// Show the inner text, then this suffix.
        Unwrap(String),
    }
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut stack: Vec<Wrap> = Vec::new();
    let mut events = Vec::new();
    // The JSON body of a plot fence being read (how plots were kept before they were blocks).
    let mut plot_body: Option<String> = None;
    for event in Parser::new_ext(md, options) {
        if let Some(body) = plot_body.as_mut() {
            match event {
                Event::Text(t) => body.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let html = fenced_plot_html(plot_body.take().unwrap_or_default().trim());
                    events.push(Event::Html(CowStr::from(html)));
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(ref info)))
                if info.trim() == PLOT_FENCE =>
            {
                plot_body = Some(String::new());
            }
            Event::Html(s) | Event::InlineHtml(s) => events.push(Event::Text(s)),
            Event::Start(Tag::HtmlBlock) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => events.push(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => events.push(Event::Start(Tag::Heading {
                level: demote(level),
                id,
                classes,
                attrs,
            })),
            Event::End(TagEnd::Heading(level)) => {
                events.push(Event::End(TagEnd::Heading(demote(level))))
            }
            Event::Start(tag @ (Tag::Link { .. } | Tag::Image { .. })) => {
                let (Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) = &tag else {
                    continue;
                };
                let url = dest_url.to_string();
                let image = matches!(tag, Tag::Image { .. });
                if image && !is_embedded_image(&url) {
                    // Only embedded images show; any other becomes its alt text.
                    events.push(Event::Text(CowStr::from("[image: ")));
                    let shown = match link_action(&url) {
                        LinkAction::External => format!("] ⟨{url}⟩"),
                        _ => "]".to_string(),
                    };
                    stack.push(Wrap::Unwrap(shown));
                    continue;
                }
                match if image {
                    LinkAction::Keep
                } else {
                    link_action(&url)
                } {
                    LinkAction::Keep => {
                        stack.push(Wrap::Keep);
                        events.push(Event::Start(tag));
                    }
                    LinkAction::External => stack.push(Wrap::Unwrap(format!(" ⟨{url}⟩"))),
                    LinkAction::Drop => stack.push(Wrap::Unwrap(String::new())),
                }
            }
            Event::End(end @ (TagEnd::Link | TagEnd::Image)) => match stack.pop() {
                Some(Wrap::Unwrap(suffix)) => {
                    if !suffix.is_empty() {
                        events.push(Event::Text(CowStr::from(suffix)));
                    }
                }
                _ => events.push(Event::End(end)),
            },
            other => events.push(other),
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html
}

/// One paragraph of Markdown as inline HTML: [`markdown_to_html`] without the `<p>` around it.
fn inline_markdown(md: &str) -> String {
    let html = markdown_to_html(md);
    let t = html.trim_end();
    match t.strip_prefix("<p>").and_then(|r| r.strip_suffix("</p>")) {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => html,
    }
}

/// Escape text for HTML element content and attribute values, exactly as the templates'
/// auto-escaping does (`&`, `<`, `>`, `"`, `'` and `/`), so hand-built and template HTML agree.
///
/// ```
/// assert_eq!(vidcompare::report::escape_html("<a href='x'>&"), "&lt;a href=&#x27;x&#x27;&gt;&amp;");
/// ```
pub fn escape_html(s: &str) -> String {
    minijinja::HtmlEscape(s).to_string()
}

/// One block as HTML from the page's own partials (`partials/block.html.j2`), outside any page:
/// what the evcxr display shows. Tables are styled inline, since no page stylesheet is there.
pub fn block_html(block: &Block) -> Result<String> {
    let env = environment(None);
    let view = block_view(block, None)?;
    let html = env
        .get_template("partials/block.html.j2")
        .and_then(|t| t.render(minijinja::context! { block => minijinja::Value::from(minijinja::value::Serde(&view)), inline => true }))
        .map_err(|e| template_error(e, ""))?;
    Ok(html.trim().to_string())
}

/// A table as a bare, inline-styled HTML `<table>` from `partials/table.html.j2` (see
/// [`block_html`]).
pub fn table_html(t: &Table) -> String {
    let view = BlockView::Table(table_view(t, None));
    environment(None)
        .get_template("partials/table.html.j2")
        .and_then(|tpl| tpl.render(minijinja::context! { block => minijinja::Value::from(minijinja::value::Serde(&view)), inline => true }))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|e| format!("<p>{}</p>", escape_html(&e.to_string())))
}

/// A plot fence's JSON (Markdown written before plots were blocks) as a figure; see [`plot_html`].
fn fenced_plot_html(json: &str) -> String {
    match serde_json::from_str::<Plot>(json) {
        Ok(p) => plot_html(&p),
        Err(e) => plot_error(&e.to_string()),
    }
}

fn plot_error(e: &str) -> String {
    format!(
        "<p class=\"plot-error\">This plot could not be drawn: {}</p>\n",
        escape_html(e)
    )
}

/// A plot as a figure: the SVG, the caption, and a sortable table of its points. A plot that
/// cannot be drawn is shown as an error note, never as raw HTML.
fn plot_html(plot: &Plot) -> String {
    let drawn = plot
        .validate()
        .and_then(|_| render_plot_svg(plot))
        .map_err(|e| e.to_string());
    let svg = match drawn {
        Ok(svg) => svg,
        Err(e) => return plot_error(&e),
    };
    let class = if plot.is_compact() {
        "chart plot compact"
    } else {
        "chart plot"
    };
    let mut h = format!("<figure class=\"{class}\">\n{svg}\n");
    if !plot.caption.is_empty() {
        h.push_str(&format!(
            "<figcaption class=\"caption\">{}</figcaption>\n",
            escape_html(&plot.caption)
        ));
    }
    let has_band = plot.series.iter().any(|s| !s.lo.is_empty());
    let has_labels = plot.series.iter().any(|s| !s.labels.is_empty());
    h.push_str("<details class=\"chart-data\">\n<summary>Data</summary>\n<div class=\"scroll\">\n<table class=\"data sortable\">\n<thead>\n<tr><th scope=\"col\">series</th>");
    for name in [plot.x_label.as_str(), plot.y_label.as_str()] {
        let name = if name.is_empty() { "value" } else { name };
        h.push_str(&format!(
            "<th scope=\"col\" class=\"num\">{}</th>",
            escape_html(name)
        ));
    }
    if has_band {
        h.push_str("<th scope=\"col\" class=\"num\">band low</th><th scope=\"col\" class=\"num\">band high</th>");
    }
    if has_labels {
        h.push_str("<th scope=\"col\">point</th>");
    }
    h.push_str("</tr>\n</thead>\n<tbody>\n");
    let cell = |v: Option<&f64>| match v.copied().filter(|v| v.is_finite()) {
        Some(v) => format!("<td data-sort=\"{v}\">{}</td>", format_general(v)),
        None => "<td class=\"missing\">—</td>".to_string(),
    };
    for (si, s) in plot.series.iter().enumerate() {
        for i in 0..s.x.len() {
            h.push_str(&format!(
                "<tr><th scope=\"row\"><span class=\"swatch\" style=\"background: {}\"></span>{}</th>{}{}",
                series_color_hex(si),
                escape_html(&s.name),
                cell(s.x.get(i)),
                cell(s.y.get(i))
            ));
            if has_band {
                h.push_str(&cell(s.lo.get(i)));
                h.push_str(&cell(s.hi.get(i)));
            }
            if has_labels {
                h.push_str(&format!(
                    "<td>{}</td>",
                    escape_html(s.labels.get(i).map_or("", String::as_str))
                ));
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</tbody>\n</table>\n</div>\n</details>\n</figure>\n");
    h
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

enum LinkAction {
    Keep,
    External,
    Drop,
}

/// In-page (`#id`), relative and `mailto:` links stay; http(s) ones are shown, not linked; any
/// other scheme is dropped.
fn link_action(url: &str) -> LinkAction {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("//") {
        return LinkAction::External;
    }
    if lower.starts_with("mailto:") {
        return LinkAction::Keep;
    }
    // A scheme is whatever precedes the first ':' before any '/', '?' or '#'.
    let head = lower.split(['/', '?', '#']).next().unwrap_or("");
    if head.contains(':') || lower.chars().any(char::is_control) {
        LinkAction::Drop
    } else {
        LinkAction::Keep
    }
}

fn is_embedded_image(url: &str) -> bool {
    IMAGE_MIMES
        .iter()
        .any(|m| url.starts_with(&format!("data:{m};base64,")))
}

/// Everything the page template sees.
#[derive(Serialize)]
struct PageView<'a> {
    /// The report as saved, for templates that want a field the view does not prepare.
    report: &'a Report,
    title: &'a str,
    /// The key findings: sentences as safe HTML with their links, and the table of the best.
    findings: Option<FindingsView<'a>>,
    sections: Vec<SectionView<'a>>,
    warnings: &'a [String],
    /// The vidcompare that rendered the page (the run's own version is in `report.meta`).
    generator_version: &'static str,
}

#[derive(Serialize)]
struct FindingsView<'a> {
    sentences: Vec<FindingView<'a>>,
    /// A table block (`type: "table"`), printed with the table partial.
    table: Option<BlockView<'a>>,
}

#[derive(Serialize)]
struct FindingView<'a> {
    /// The sentence as inline HTML (no enclosing paragraph).
    html: String,
    href: Option<&'a str>,
    label: &'a str,
}

#[derive(Serialize)]
struct SectionView<'a> {
    id: &'a str,
    title: &'a str,
    blocks: Vec<BlockView<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockView<'a> {
    Markdown {
        html: String,
    },
    Table(TableView<'a>),
    Plot {
        html: String,
    },
    Chart {
        title: &'a str,
        x_label: &'a str,
        svg: String,
        /// Heatmaps sit two to a row.
        compact: bool,
        categories: &'a [String],
        series: Vec<SeriesView<'a>>,
    },
    Images {
        caption: &'a str,
        items: Vec<ImageView<'a>>,
    },
}

#[derive(Serialize)]
struct TableView<'a> {
    caption: &'a str,
    /// File stem of the CSV and JSON copies written beside the page, if any.
    export: Option<&'a str>,
    /// Many columns: smaller type and wrapping headers.
    wide: bool,
    columns: Vec<ColumnView<'a>>,
    rows: Vec<Vec<CellView>>,
    /// Whether any column is highlighted, so the legend is shown only where it means something.
    has_best: bool,
    /// A long table's headline: the table is shown collapsed behind it.
    summary: Option<&'a str>,
}

#[derive(Serialize)]
struct ColumnView<'a> {
    name: &'a str,
    numeric: bool,
    /// `higher` or `lower`, or empty.
    better: &'static str,
    arrow: &'static str,
}

#[derive(Serialize)]
struct CellView {
    text: String,
    /// Where a link cell points (a relative path).
    href: Option<String>,
    numeric: bool,
    missing: bool,
    best: bool,
    /// Raw value for the optional sort script; `None` for text.
    sort: Option<f64>,
}

#[derive(Serialize)]
struct SeriesView<'a> {
    name: &'a str,
    color: String,
    values: Vec<PointView>,
}

#[derive(Serialize)]
struct PointView {
    text: String,
    /// `None` for a missing value.
    sort: Option<f64>,
}

#[derive(Serialize)]
struct ImageView<'a> {
    caption: &'a str,
    /// A complete `data:` URI built from a checked MIME type and base64 alphabet, so the template
    /// may print it unescaped.
    src: String,
    width: u32,
    height: u32,
}

impl<'a> PageView<'a> {
    fn new(report: &'a Report) -> Result<Self> {
        let sections = report
            .sections
            .iter()
            .map(|s| {
                let blocks = s
                    .blocks
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let export = report
                            .exports
                            .iter()
                            .find(|e| e.section == s.id && e.block == i)
                            .map(|e| e.name.as_str());
                        block_view(b, export).map_err(|e| in_section(&s.id, e))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(SectionView {
                    id: &s.id,
                    title: &s.title,
                    blocks,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let findings = report.key_findings.as_ref().map(|k| FindingsView {
            sentences: k
                .sentences
                .iter()
                .map(|f| FindingView {
                    html: inline_markdown(&f.text),
                    href: f.href.as_deref(),
                    label: &f.label,
                })
                .collect(),
            table: k
                .table
                .as_ref()
                .map(|t| BlockView::Table(table_view(t, None))),
        });
        Ok(PageView {
            report,
            title: &report.title,
            findings,
            sections,
            warnings: &report.warnings,
            generator_version: env!("CARGO_PKG_VERSION"),
        })
    }
}

fn in_section(id: &str, e: Error) -> Error {
    match e {
        Error::Report(m) => Error::Report(format!("section `{id}`: {m}")),
        other => other,
    }
}

fn block_view<'a>(block: &'a Block, export: Option<&'a str>) -> Result<BlockView<'a>> {
    Ok(match block {
        Block::Markdown { text } => BlockView::Markdown {
            html: markdown_to_html(text),
        },
        Block::Table(t) => BlockView::Table(table_view(t, export)),
        Block::Chart(c) => BlockView::Chart {
            title: &c.title,
            x_label: &c.x_label,
            svg: render_svg(c)?,
            compact: c.kind == ChartKind::Heatmap,
            categories: &c.categories,
            series: c
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| SeriesView {
                    name: &s.name,
                    color: series_color_hex(i),
                    values: s.values.iter().map(|&v| point(v)).collect(),
                })
                .collect(),
        },
        Block::Plot(p) => BlockView::Plot { html: plot_html(p) },
        Block::Images { caption, items } => BlockView::Images {
            caption,
            items: items.iter().map(image_view).collect::<Result<Vec<_>>>()?,
        },
    })
}

fn point(v: f64) -> PointView {
    PointView {
        text: if v.is_finite() {
            format_general(v)
        } else {
            "—".to_string()
        },
        sort: v.is_finite().then_some(v),
    }
}

fn table_view<'a>(t: &'a Table, export: Option<&'a str>) -> TableView<'a> {
    let best: Vec<Vec<usize>> = (0..t.columns.len()).map(|c| t.best_rows(c)).collect();
    let columns = t
        .columns
        .iter()
        .map(|c| ColumnView {
            name: &c.name,
            numeric: c.is_numeric(),
            better: match c.better {
                Some(Better::Higher) => "higher",
                Some(Better::Lower) => "lower",
                None => "",
            },
            arrow: match c.better {
                Some(Better::Higher) => "↑",
                Some(Better::Lower) => "↓",
                None => "",
            },
        })
        .collect();
    let rows = t
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .zip(&t.columns)
                .enumerate()
                .map(|(c, (cell, col))| CellView {
                    text: cell.display(col.digits),
                    href: match cell {
                        Cell::Link { href, .. } => Some(href.clone()),
                        _ => None,
                    },
                    numeric: cell.as_f64().is_some()
                        || (col.is_numeric() && !matches!(cell, Cell::Text(_) | Cell::Link { .. })),
                    missing: cell.as_f64().is_none()
                        && !matches!(cell, Cell::Text(_) | Cell::Link { .. }),
                    best: best[c].contains(&r),
                    sort: cell.as_f64(),
                })
                .collect()
        })
        .collect();
    TableView {
        caption: &t.caption,
        export,
        wide: t.columns.len() > 10,
        columns,
        rows,
        has_best: best.iter().any(|b| !b.is_empty()),
        summary: t.summary.as_deref(),
    }
}

fn image_view(item: &ImageItem) -> Result<ImageView<'_>> {
    if !IMAGE_MIMES.contains(&item.mime.as_str()) {
        return Err(Error::Report(format!(
            "image `{}`: type `{}` cannot be embedded (use one of {})",
            item.caption,
            item.mime,
            IMAGE_MIMES.join(", ")
        )));
    }
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if item.data_base64.is_empty() || !item.data_base64.bytes().all(is_b64) {
        return Err(Error::Report(format!(
            "image `{}`: data_base64 is not base64",
            item.caption
        )));
    }
    Ok(ImageView {
        caption: &item.caption,
        src: format!("data:{};base64,{}", item.mime, item.data_base64),
        width: item.width,
        height: item.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_escaped() {
        let html = markdown_to_html("<script>alert(1)</script>\n\ntext <img src=x onerror=y>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn links_and_images_stay_inside_the_page() {
        let html = markdown_to_html(
            "[paper](https://example.org/p) [bad](javascript:alert(1)) [sec](#results) \
             ![cat](http://example.org/c.png) ![dot](data:image/png;base64,iVBORw0KGgo=)",
        );
        assert!(html.contains("paper ⟨https://example.org/p⟩"), "{html}");
        assert!(!html.contains("href=\"http"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains(r##"<a href="#results">sec</a>"##), "{html}");
        assert!(
            html.contains("[image: cat] ⟨http://example.org/c.png⟩"),
            "{html}"
        );
        assert!(!html.contains("src=\"http"), "{html}");
        assert!(
            html.contains(r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot""#),
            "{html}"
        );
    }

    #[test]
    fn gfm_tables_strikethrough_and_demoted_headings() {
        let html = markdown_to_html("# Top\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n~~old~~");
        assert!(html.contains("<h3>Top</h3>"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<td style=\"text-align: right\">2</td>"),
            "{html}"
        );
        assert!(html.contains("<del>old</del>"), "{html}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(5.24), "5.2 s");
        assert_eq!(format_duration(65.0), "1 min 05 s");
        assert_eq!(format_duration(3725.4), "1 h 02 min 05 s");
        assert_eq!(format_duration(f64::NAN), "—");
    }

    #[test]
    fn link_schemes() {
        assert!(matches!(link_action("#x"), LinkAction::Keep));
        assert!(matches!(link_action("notes/a.html"), LinkAction::Keep));
        assert!(matches!(link_action("mailto:a@b.c"), LinkAction::Keep));
        assert!(matches!(link_action("HTTPS://x"), LinkAction::External));
        assert!(matches!(link_action("//cdn.x/y.js"), LinkAction::External));
        assert!(matches!(
            link_action(" JavaScript:alert(1)"),
            LinkAction::Drop
        ));
        assert!(matches!(
            link_action("data:text/html,<b>"),
            LinkAction::Drop
        ));
    }
}
