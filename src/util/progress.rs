//! The one progress-bar look: `   features [=====>    ] 12/40 videos 00:03 (eta 00:07)`.
//!
//! indicatif draws only when stderr is a terminal, so scripts, tests and CI logs stay clean; a
//! hidden bar costs nothing, so callers tick it unconditionally.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps counted in `unit` ("videos", "batches") and labelled `prefix`, or a hidden
/// one when `visible` is false. A message set with `set_message` shows after the times.
pub fn bar(visible: bool, len: usize, prefix: impl Into<String>, unit: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len as u64);
    // The unit goes into the template text, so braces in it would be read as placeholders.
    let unit = unit.replace(['{', '}'], "");
    let template = format!(
        "{{prefix:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed}} (eta {{eta}}) {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_prefix(prefix.into());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_visible_bars_count() {
        let hidden = bar(false, 3, "x", "videos");
        assert!(hidden.is_hidden());
        let b = bar(true, 3, "features", "vid{eos}");
        b.inc(2);
        assert_eq!((b.position(), b.length()), (2, Some(3)));
        assert_eq!(b.prefix(), "features");
    }
}
