//! The evcxr display protocol: a value's representations by MIME type, written to stdout as
//! `EVCXR_BEGIN_CONTENT <mime>` ... `EVCXR_END_CONTENT` blocks (and read back for checks).

use std::io::Write as _;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Environment variable naming a file that receives a copy of every block sent to evcxr.
pub const DISPLAY_LOG_ENV: &str = "VIDCOMPARE_DISPLAY_LOG";

const BEGIN: &str = "EVCXR_BEGIN_CONTENT";
const END: &str = "EVCXR_END_CONTENT";

/// The representations of one value, by MIME type, in the order they are sent (`text/plain`
/// first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MimeBundle {
    parts: Vec<(String, String)>,
}

impl MimeBundle {
    /// A bundle with only a `text/plain` representation.
    pub fn text(text: impl Into<String>) -> MimeBundle {
        MimeBundle {
            parts: vec![("text/plain".to_string(), text.into())],
        }
    }

    /// Add (or replace) the representation for `mime`.
    pub fn with(mut self, mime: &str, content: impl Into<String>) -> MimeBundle {
        let content = content.into();
        match self.parts.iter_mut().find(|(m, _)| m == mime) {
            Some(slot) => slot.1 = content,
            None => self.parts.push((mime.to_string(), content)),
        }
        self
    }

    /// The content for `mime`, if the bundle has it.
    pub fn get(&self, mime: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(m, _)| m == mime)
            .map(|(_, c)| c.as_str())
    }

    /// The MIME types present, in sending order.
    pub fn mime_types(&self) -> Vec<&str> {
        self.parts.iter().map(|(m, _)| m.as_str()).collect()
    }

    /// The blocks as evcxr reads them from stdout. Lines of the content that would end a block
    /// early or open a new one are defused (a zero-width space is inserted in the marker).
    pub fn to_evcxr(&self) -> String {
        let mut out = String::new();
        for (mime, content) in &self.parts {
            out.push_str(BEGIN);
            out.push(' ');
            out.push_str(mime);
            out.push('\n');
            for line in content.lines() {
                if line.contains(BEGIN) || line.trim_end() == END {
                    out.push_str(&line.replace("EVCXR_", "EVCXR\u{200B}_"));
                } else {
                    out.push_str(line);
                }
                out.push('\n');
            }
            out.push_str(END);
            out.push('\n');
        }
        out
    }
}

/// Split evcxr display output back into `(mime type, content)` blocks, in order. Lines outside
/// blocks are ignored; an unterminated block is an error. The inverse of
/// [`MimeBundle::to_evcxr`], used to check what was sent.
pub fn parse_evcxr_blocks(output: &str) -> Result<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in output.lines() {
        match &mut current {
            None => {
                if let Some(rest) = line.strip_prefix(BEGIN) {
                    let mime = rest.trim();
                    if mime.is_empty() || mime.contains(' ') {
                        return Err(Error::InvalidArgument(format!(
                            "malformed block header `{line}`: expected `{BEGIN} <mime type>`"
                        )));
                    }
                    current = Some((mime.to_string(), Vec::new()));
                }
            }
            Some((mime, lines)) => {
                if line == END {
                    blocks.push((std::mem::take(mime), lines.join("\n")));
                    current = None;
                } else if line.starts_with(BEGIN) {
                    return Err(Error::InvalidArgument(format!(
                        "block `{mime}` is not closed before the next one starts"
                    )));
                } else {
                    lines.push(line);
                }
            }
        }
    }
    match current {
        Some((mime, _)) => Err(Error::InvalidArgument(format!(
            "block `{mime}` has no {END} line"
        ))),
        None => Ok(blocks),
    }
}

/// Rich display in evcxr: implemented by every type a session shows.
///
/// Bring it into scope with `use vidcompare::prelude::*;` and evcxr calls
/// [`evcxr_display`](EvcxrDisplay::evcxr_display) on a cell's last expression.
pub trait EvcxrDisplay {
    /// Every representation of the value (`text/plain` always, plus HTML, SVG or PNG).
    fn mime_bundle(&self) -> MimeBundle;

    /// Print the [`mime_bundle`](EvcxrDisplay::mime_bundle) in evcxr's block format on stdout
    /// (and append it to the `VIDCOMPARE_DISPLAY_LOG` file when that variable is set).
    fn evcxr_display(&self) {
        send(&self.mime_bundle());
    }
}

/// Write a bundle to stdout in evcxr's format, and to the log file when one is configured.
pub fn send(bundle: &MimeBundle) {
    let wire = bundle.to_evcxr();
    let mut out = std::io::stdout().lock();
    // A closed stdout leaves nothing to show the value on; there is nobody to report to either.
    let _ = out.write_all(wire.as_bytes());
    let _ = out.flush();
    if let Some(path) = std::env::var_os(DISPLAY_LOG_ENV) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(wire.as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "warning: {DISPLAY_LOG_ENV}={}: cannot append: {e}",
                PathBuf::from(path).display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_markers_are_defused() {
        let b = MimeBundle::text("a\nEVCXR_END_CONTENT\nb")
            .with("text/html", "<p>EVCXR_BEGIN_CONTENT text/plain</p>");
        let wire = b.to_evcxr();
        let blocks = parse_evcxr_blocks(&wire).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "text/plain");
        assert_eq!(blocks[0].1, "a\nEVCXR\u{200B}_END_CONTENT\nb");
        assert_eq!(blocks[1].0, "text/html");
        assert!(!blocks[1].1.contains("EVCXR_BEGIN_CONTENT"));
    }

    #[test]
    fn unterminated_block_is_an_error() {
        assert!(parse_evcxr_blocks("EVCXR_BEGIN_CONTENT text/plain\nhello\n").is_err());
        assert!(parse_evcxr_blocks("EVCXR_BEGIN_CONTENT\nx\nEVCXR_END_CONTENT\n").is_err());
    }
}
